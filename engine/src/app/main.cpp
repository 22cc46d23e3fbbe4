// crmsync's entry point: blocks the termination signals before any thread
// starts (so only the main thread's sigwait sees them), then runs the app.
#include <signal.h>

#include <iostream>

#include <Poco/Exception.h>

#include "app/application.h"
#include "app/commands.h"

int main(int argc, char** argv) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGQUIT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  crmsync::engine::CrmsyncApplication app;
  try {
    app.init(argc, argv);
  } catch (const Poco::Exception& e) {
    std::cerr << "crmsync: " << e.displayText() << "; see crmsync --help\n";
    return crmsync::engine::kExitUsage;
  }
  try {
    // Application::run() is public; ServerApplication hides it as protected.
    return static_cast<Poco::Util::Application&>(app).run();
  } catch (const std::exception& e) {
    std::cerr << "crmsync: " << e.what() << "\n";
    return crmsync::engine::kExitSoftware;
  }
}
