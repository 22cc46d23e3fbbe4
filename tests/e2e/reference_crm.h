// tools/reference-crm as a child process for end-to-end tests: started on a
// free port (tried again on another port if the first was taken meanwhile),
// ready when GET /_state answers, stopped with SIGTERM. Needs
// CRMSYNC_REFERENCE_CRM (the binary's path) from the test's CMake target.
#ifndef CRMSYNC_TESTS_E2E_REFERENCE_CRM_H_
#define CRMSYNC_TESTS_E2E_REFERENCE_CRM_H_

#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "test_support.h"

namespace crmsync::testing {

struct ReferenceCrmProcess {
  explicit ReferenceCrmProcess(const std::vector<std::string>& extra = {}) {
    for (int attempt = 0; attempt < 3 && !ready; ++attempt) {
      port = FreePort();
      std::vector<std::string> args = {"--port", std::to_string(port)};
      args.insert(args.end(), extra.begin(), extra.end());
      process = std::make_unique<ChildProcess>(CRMSYNC_REFERENCE_CRM, args);
      ready = WaitUntil([&] {
        return process->WaitExit(std::chrono::milliseconds(0)) ||
               HttpCall(port, "GET", "/_state").status == 200;
      }) && process->exit_code() < 0;
    }
    REQUIRE_MESSAGE(ready, "reference-crm did not start: " << process->Stderr());
  }
  ~ReferenceCrmProcess() {
    process->Signal(SIGTERM);
    process->WaitExit(std::chrono::seconds(20));
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port); }

  // Every record, webhook and request count (tools/reference-crm's /_state).
  Poco::JSON::Object::Ptr State() const {
    HttpResult state = HttpCall(port, "GET", "/_state");
    REQUIRE(state.status == 200);
    return Poco::JSON::Parser().parse(state.body).extract<Poco::JSON::Object::Ptr>();
  }

  int port = 0;
  bool ready = false;
  std::unique_ptr<ChildProcess> process;
};

// reference-crm with the API key pair the tests give the engine
// (CRM_API_KEY=ref-key, CRM_API_SECRET=ref-secret); Call() sends them (the
// CRM's own /_crm and /_users routes need none and ignore them).
struct KeyedReferenceCrm : ReferenceCrmProcess {
  KeyedReferenceCrm() : ReferenceCrmProcess({"--api-key", "ref-key", "--api-secret", "ref-secret"}) {}
  HttpResult Call(const std::string& method, const std::string& path,
                  const std::string& body = "") const {
    return HttpCall(port, method, path, body,
                    {{"X-API-Key", "ref-key"}, {"X-API-Secret", "ref-secret"}});
  }
};

}  // namespace crmsync::testing

#endif  // CRMSYNC_TESTS_E2E_REFERENCE_CRM_H_
