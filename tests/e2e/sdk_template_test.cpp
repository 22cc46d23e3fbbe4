// The adapter author's path, end to end (issue 7 "done when"): install the SDK
// from this build tree, copy sdk/template to a temporary folder, build it out
// of tree against the installed package (find_package(crmsync)), run its own
// tests, certify it with `crmsync plugin-check`, then run the installed engine
// with it and see a lead reach a small HTTP server playing the Acme CRM.
#include <doctest/doctest.h>

#include <signal.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <Poco/File.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>

#include "test_support.h"

namespace t = crmsync::testing;

namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The Acme CRM API of the template, enough of it: POST /v1/contacts creates
// (201 {"id": "c_<n>"}), PUT /v1/contacts/{id} updates; everything is recorded.
class AcmeServer {
 public:
  struct Request {
    std::string method, uri, authorization, body;
  };

  AcmeServer()
      : server_([this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
          Handle(req, resp);
        }) {}
  int port() const { return server_.port(); }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Handle(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    Request r{req.getMethod(), req.getURI(), req.get("Authorization", ""), ""};
    Poco::StreamCopier::copyToString(req.stream(), r.body);
    size_t n = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(r);
      n = requests_.size();
    }
    std::string answer;
    if (r.method == "POST" && r.uri == "/v1/contacts") {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_CREATED);
      answer = R"({"id":"c_)" + std::to_string(n) + "\"}";
    } else if (r.method == "PUT" && r.uri.rfind("/v1/contacts/", 0) == 0) {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
      answer = "{}";
    } else {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
      answer = R"({"message":"no such Acme endpoint"})";
    }
    resp.setContentType("application/json");
    resp.sendBuffer(answer.data(), answer.size());
  }

  std::mutex mu_;
  std::vector<Request> requests_;
  crmsync::testing::LoopbackHttpServer server_;  // last: stopped first
};

// Runs a build tool; REQUIREs exit 0 and shows its output otherwise.
std::string MustRun(const std::string& program, const std::vector<std::string>& args) {
  std::string output;
  int rc = t::RunCommand(program, args, &output);
  std::string line = program;
  for (const std::string& arg : args) line += " " + arg;
  INFO(line);
  REQUIRE_MESSAGE(rc == 0, output);
  return output;
}

}  // namespace

TEST_SUITE("e2e.sdk_template") {
  TEST_CASE("the template builds against the installed SDK, passes plugin-check and syncs a lead") {
    t::TempDir tmp;
    const std::string prefix = tmp.File("sdk");
    const std::string source = tmp.File("acme-crm");
    const std::string build = tmp.File("acme-crm/build");

    // 1. Install the SDK (and the engine) from this build tree.
    MustRun(CRMSYNC_CMAKE, {"--install", CRMSYNC_BINARY_DIR, "--prefix", prefix});
    const std::string engine = prefix + "/bin/crmsync";
    REQUIRE(Poco::File(prefix + "/lib/cmake/crmsync/crmsyncConfig.cmake").exists());
    REQUIRE(Poco::File(prefix + "/lib/cmake/crmsync/crmsyncConfigVersion.cmake").exists());
    REQUIRE(Poco::File(prefix + "/include/crmsync/adapter.h").exists());
    REQUIRE(Poco::File(prefix + "/lib/crmsync/plugins/mock-crm").exists());
    REQUIRE(Poco::File(engine).exists());

    // 2. Copy the template to a folder of its own, as an author would, and build it.
    Poco::File(CRMSYNC_SOURCE_DIR "/sdk/template").copyTo(source);
    if (Poco::File(build).exists()) Poco::File(build).remove(true);  // built inside the template
    MustRun(CRMSYNC_CMAKE, {"-S", source, "-B", build, "-DCMAKE_BUILD_TYPE=Debug",
                            "-DCMAKE_PREFIX_PATH=" + prefix});
    MustRun(CRMSYNC_CMAKE, {"--build", build, "-j2"});
    const std::string plugin = build + "/plugins/acme-crm";
    REQUIRE(Poco::File(plugin).exists());

    // 3. Its own tests: the mapping, without network.
    std::string tests = MustRun(CRMSYNC_CTEST, {"--test-dir", build, "--output-on-failure"});
    CHECK(Contains(tests, "100% tests passed"));

    // 4. The conformance kit certifies it.
    std::string output;
    int rc = t::RunCommand(engine,
                           {"plugin-check", plugin, "--set", "crm.api.key=acme-test-key", "--set",
                            "crm.api.url=http://127.0.0.1:1"},
                           &output);
    CHECK_MESSAGE(rc == 0, output);
    CHECK(Contains(output, "PASS  maps every event type"));
    CHECK(Contains(output, "PASS  status table complete both ways"));

    // 5. The installed engine syncs a lead through it to the Acme API.
    AcmeServer acme;
    const int port = t::FreePort();
    t::ChildProcess service(
        engine, {"serve", "--set", "server.port=" + std::to_string(port), "--set",
                 "store.path=" + tmp.File("var/crmsync.db"), "--set",
                 "plugins.dir=" + build + "/plugins", "--set", "crm.plugin=acme-crm", "--set",
                 "crm.api.url=http://127.0.0.1:" + std::to_string(acme.port()), "--set",
                 "crm.api.key=acme-test-key", "--set", "intake.token=intake-t", "--set",
                 "admin.token=admin-t", "--set", "log.level=warning"});
    REQUIRE_MESSAGE(
        t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }),
        service.Stderr());
    const std::string event =
        R"({"eventId":"evt-acme-1","type":"lead.created","occurredAt":"2026-11-23T10:15:00Z",)"
        R"("data":{"id":"lead-1","name":"Asha Rao","email":"asha@example.com","status":"NEW",)"
        R"("budgetMin":5000000}})";
    t::HttpResult accepted =
        t::HttpCall(port, "POST", "/api/v1/events", event, {{"Authorization", "Bearer intake-t"}});
    REQUIRE_MESSAGE(accepted.status == 202, accepted.body);

    REQUIRE_MESSAGE(t::WaitUntil([&] { return !acme.requests().empty(); }), service.Stderr());
    AcmeServer::Request create = acme.requests()[0];
    CHECK(create.method == "POST");
    CHECK(create.uri == "/v1/contacts");
    CHECK(create.authorization == "Bearer acme-test-key");
    CHECK(Contains(create.body, R"("ref":"lead:lead-1")"));
    CHECK(Contains(create.body, R"("name":"Asha Rao")"));
    CHECK(Contains(create.body, R"("stage":"new")"));
    CHECK(Contains(create.body, R"("budget":{"min":5000000})"));

    service.Signal(SIGTERM);
    REQUIRE(service.WaitExit(std::chrono::seconds(20)));
    CHECK(service.exit_code() == 0);
  }
}
