// crmsync's entry point: blocks the termination signals before any thread
// starts (so only the main thread's sigwait sees them), sets the allocator up
// for a long-running multi-threaded server, then runs the app.
#include <malloc.h>
#include <signal.h>

#include <iostream>

#include <Poco/Exception.h>

#include "app/application.h"
#include "app/commands.h"

int main(int argc, char** argv) {
  // glibc's defaults hand freed memory back to the kernel as soon as a heap's
  // top is free (madvise/munmap), and every thread's arena does it on its own:
  // under load each store transaction and CRM call then faults its pages back
  // in, with a TLB shootdown on every core each time (perf: madvise from
  // heap_trim, smp_call_function_many_cond). Keep up to 32 MiB per arena, serve
  // blocks under 4 MiB from the heap, and cap the arenas (the work is a few
  // hot threads, not one arena per thread).
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_ARENA_MAX, 4);
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
