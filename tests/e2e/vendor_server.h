// A vendor stand-in of tests/crm-servers (salesforce.py, zoho.py,
// pipedrive.py) run as its own process for an e2e test: started on a port it
// picks (its first stdout line says which), driven through /_test/state and
// /_test/control, stopped with SIGTERM. Shared by the stand-ins' own tests
// (crm_servers_test.cpp) and the shipped mappings' lifecycle tests
// (crm_mappings_test.cpp).
#ifndef CRMSYNC_TESTS_E2E_VENDOR_SERVER_H_
#define CRMSYNC_TESTS_E2E_VENDOR_SERVER_H_

#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "test_support.h"

namespace crmsync::testing {

struct VendorServer {
  explicit VendorServer(const std::string& script, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {
        std::string(CRMSYNC_SOURCE_DIR) + "/tests/crm-servers/" + script, "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<ChildProcess>("/usr/bin/python3", args);
    const std::string prefix = "listening 127.0.0.1:";
    bool up = WaitUntil([&] {
      return process->Stdout().find('\n') != std::string::npos ||
             process->WaitExit(std::chrono::milliseconds(0));
    });
    const std::string out = process->Stdout();
    REQUIRE_MESSAGE(up, script << " did not start: " << process->Stderr());
    REQUIRE_MESSAGE(out.rfind(prefix, 0) == 0,
                    script << " printed '" << out << "' " << process->Stderr());
    port = std::stoi(out.substr(prefix.size()));
  }
  ~VendorServer() {
    process->Signal(SIGTERM);
    process->WaitExit(std::chrono::seconds(20));
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port); }
  HttpResult Call(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::map<std::string, std::string>& headers = {}) const {
    return HttpCall(port, method, path, body, headers);
  }
  Poco::JSON::Object::Ptr State() const {
    HttpResult state = Call("GET", "/_test/state");
    REQUIRE(state.status == 200);
    return Poco::JSON::Parser().parse(state.body).extract<Poco::JSON::Object::Ptr>();
  }
  void Control(const std::string& json) const {
    HttpResult r = Call("POST", "/_test/control", json);
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  Poco::JSON::Array::Ptr Records(const std::string& object) const {
    Poco::JSON::Object::Ptr records = State()->getObject("records");
    return records->has(object) ? records->getArray(object)
                                : Poco::JSON::Array::Ptr(new Poco::JSON::Array);
  }

  int port = 0;
  std::unique_ptr<ChildProcess> process;
};

}  // namespace crmsync::testing

#endif  // CRMSYNC_TESTS_E2E_VENDOR_SERVER_H_
