// check-connection, render and plugin-check --live, end to end: the real
// crmsync binary against software we did not write where it exists
// (json-server from npm serving the sunshine mapping's lookup, openssl
// s_server with a self-signed certificate), a port nothing listens on, a
// .invalid host name (RFC 2606: never resolves), and a small loopback server
// for the status codes json-server cannot give (401 without a bearer token,
// 503).
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include "test_support.h"

namespace t = crmsync::testing;
namespace fs = std::filesystem;
using Poco::JSON::Object;

namespace {

const std::string kBinary = CRMSYNC_BINARY;
const std::string kSunshine = CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json";
const std::string kHubspot = CRMSYNC_SOURCE_DIR "/config/crms/hubspot.json";
const std::string kNpmDir = CRMSYNC_BINARY_DIR "/live-check-test";
const std::string kJsonServerVersion = "0.17.4";
const std::string kApiKey = "key-Zq81vLm3Pw";
const std::string kApiSecret = "secret-Hx42Kd9Rt";

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Object::Ptr Parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

// One run of the binary: exit code, stdout, stderr.
struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

Run Crmsync(const std::vector<std::string>& args,
            const std::string& plugins_dir = CRMSYNC_PLUGIN_DIR) {
  t::TempDir dir;
  std::vector<std::string> all = args;
  for (const std::string& a : {std::string("--set"), "plugins.dir=" + plugins_dir,
                               std::string("--set"), "store.path=" + dir.File("crmsync.db"),
                               std::string("--set"), std::string("log.level=warning")}) {
    all.push_back(a);
  }
  t::ChildProcess child(kBinary, all);
  Run run;
  REQUIRE(child.WaitExit(std::chrono::seconds(60)));
  run.code = child.exit_code();
  run.out = child.Stdout();
  run.err = child.Stderr();
  return run;
}

// The settings for generic-rest-crm with `mapping` at `url`.
std::vector<std::string> GenericRest(const std::string& mapping, const std::string& url) {
  return {"--set", "crm.plugin=generic-rest-crm", "--set", "crm.mapping=" + mapping,
          "--set", "crm.api.url=" + url,          "--set", "crm.api.key=" + kApiKey,
          "--set", "crm.api.secret=" + kApiSecret};
}

Run CheckConnection(const std::vector<std::string>& settings) {
  std::vector<std::string> args = {"check-connection", "json"};
  args.insert(args.end(), settings.begin(), settings.end());
  return Crmsync(args);
}

// No output of a run may hold a credential.
void CheckNoSecrets(const Run& run) {
  for (const std::string& secret : {kApiKey, kApiSecret}) {
    CHECK_FALSE(Contains(run.out, secret));
    CHECK_FALSE(Contains(run.err, secret));
  }
}

// json-server (npm), installed into the build tree when missing. Tests run
// in parallel: each installs into a folder of its own and renames it into
// place, so nobody starts a half-installed copy.
std::string EnsureJsonServer(std::string* why) {
  const std::string home = kNpmDir + "/json-server-" + kJsonServerVersion;
  const std::string bin = home + "/node_modules/json-server/lib/cli/bin.js";
  if (fs::exists(bin)) return bin;
  const std::string npm = t::FindOnPath("npm");
  if (npm.empty()) {
    *why = "npm is not on PATH (it installs json-server)";
    return "";
  }
  const std::string staging = home + ".tmp." + std::to_string(::getpid());
  fs::create_directories(staging);
  std::string output;
  int rc = t::RunCommand(npm,
                         {"install", "--prefix", staging, "json-server@" + kJsonServerVersion,
                          "--no-audit", "--no-fund", "--loglevel=error"},
                         &output);
  std::error_code ec;
  if (rc == 0) fs::rename(staging, home, ec);
  fs::remove_all(staging, ec);  // Left over when another test won the rename.
  if (!fs::exists(bin)) {
    *why = "npm install json-server@" + kJsonServerVersion + " into " + staging + " failed (exit " +
           std::to_string(rc) + "):\n" + output;
    return "";
  }
  return bin;
}

// json-server on a free port serving `db` (JSON text), the sunshine
// mapping's /api/v1/* paths routed to its collections.
class JsonServer {
 public:
  explicit JsonServer(const std::string& db) {
    std::string why;
    const std::string bin = EnsureJsonServer(&why);
    REQUIRE_MESSAGE(!bin.empty(), why);
    t::WriteFile(dir_.File("db.json"), db);
    t::WriteFile(dir_.File("routes.json"), R"({"/api/v1/*": "/$1"})");
    std::vector<std::string> args = {bin, "--port", std::to_string(port_), "--host", "127.0.0.1"};
    args.push_back("--routes");
    args.push_back(dir_.File("routes.json"));
    args.push_back(dir_.File("db.json"));
    process_ = std::make_unique<t::ChildProcess>(t::FindOnPath("node"), args);
    REQUIRE_MESSAGE(t::WaitUntil([&] { return t::HttpCall(port_, "GET", "/db").status == 200; },
                                 std::chrono::seconds(30)),
                    process_->Stderr());
  }
  int port() const { return port_; }
  std::string url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }
  // json-server logs each request once answered, with the path its routes
  // rewrote ("GET /leads?... 200").
  bool Logged(const std::string& line) const {
    return t::WaitUntil([&] { return Contains(process_->Stdout(), line); });
  }

 private:
  t::TempDir dir_;
  int port_ = t::FreePort();
  std::unique_ptr<t::ChildProcess> process_;
};

// A CRM that wants "Authorization: Bearer <token>" and answers `status` with
// HubSpot's empty search result otherwise.
class BearerCrm {
 public:
  BearerCrm(std::string token, int status)
      : token_(std::move(token)),
        status_(status),
        server_([this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            paths_.push_back(req.getMethod() + " " + req.getURI());
          }
          req.stream().ignore(1 << 20);
          resp.setContentType("application/json");
          if (req.get("Authorization", "") != "Bearer " + token_) {
            resp.setStatus(Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED);
            resp.send()
                << R"({"status":"error","message":"Authentication credentials not found."})";
            return;
          }
          resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status_));
          resp.send() << (status_ == 200 ? R"({"total":0,"results":[]})"
                                         : R"({"status":"error","message":"internal error"})");
        }) {}
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::vector<std::string> paths() {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }

 private:
  std::string token_;
  int status_;
  std::mutex mu_;
  std::vector<std::string> paths_;
  t::LoopbackHttpServer server_;
};

std::string LeadEvent(const std::string& type, const std::string& status) {
  return R"({"eventId":"evt-render-1","type":")" + type +
         R"(","occurredAt":"2026-11-23T10:15:00Z","data":{"id":"42","name":"Asha Rao",)"
         R"("email":"asha@example.com","phone":"+91 98765 43210","source":"website",)"
         R"("status":")" +
         status +
         R"(","budgetMin":5000000,"budgetMax":7500000,)"
         R"("preferredLocation":["Baner","Wakad"],"notes":"Wants 3BHK"}})";
}

}  // namespace

TEST_SUITE("e2e.live") {
  TEST_CASE("check-connection: json-server answering the sunshine mapping's lookup passes") {
    JsonServer crm(R"({"leads": {"results": []}})");
    Run run = CheckConnection(GenericRest(kSunshine, crm.url()));
    CHECK_MESSAGE(run.code == 0, run.out, run.err);
    Object::Ptr report = Parse(run.out);
    CHECK(report->getValue<bool>("ok"));
    CHECK(report->getValue<std::string>("stage") == "ok");
    CHECK(report->getValue<std::string>("method") == "GET");
    CHECK(report->getValue<std::string>("url") == crm.url() + "/api/v1/leads");
    CHECK(report->getValue<int>("httpStatus") == 200);
    CheckNoSecrets(run);
    // One read-only lookup for a reference no record has, and nothing else.
    CHECK(
        crm.Logged("GET /leads?externalReference=lead%3Acrmsync-connection-check-no-such-record "));

    // The text mode says the same.
    std::vector<std::string> args = {"check-connection"};
    for (const std::string& s : GenericRest(kSunshine, crm.url())) args.push_back(s);
    Run text = Crmsync(args);
    CHECK(text.code == 0);
    CHECK(Contains(text.out, "ok: plugin generic-rest-crm"));
  }

  TEST_CASE("check-connection: an answer the mapping's pointers cannot read is unknown") {
    // json-server answers a bare array; the mapping reads /results.
    JsonServer crm(R"({"leads": []})");
    Run run = CheckConnection(GenericRest(kSunshine, crm.url()));
    CHECK(run.code == 9);
    Object::Ptr report = Parse(run.out);
    CHECK(report->getValue<std::string>("stage") == "unreadable");
    const std::string message = report->getValue<std::string>("message");
    CHECK(Contains(message, "unknown"));
    CHECK(Contains(message, "/results"));
    CHECK_FALSE(Contains(message, "not found"));
    CheckNoSecrets(run);
  }

  TEST_CASE("check-connection: a 404 names the URL path, not the secret") {
    // A CRM without the mapping's collection: json-server has no /api/v1/leads.
    JsonServer crm(R"({"contacts": []})");
    Run run = CheckConnection(GenericRest(kSunshine, crm.url()));
    CHECK(run.code == 7);
    Object::Ptr report = Parse(run.out);
    CHECK(report->getValue<std::string>("stage") == "not_found");
    CHECK(report->getValue<int>("httpStatus") == 404);
    CHECK(Contains(report->getValue<std::string>("message"), crm.url() + "/api/v1/leads"));
    CheckNoSecrets(run);
  }

  TEST_CASE("check-connection: a port nothing listens on is a refused TCP connect") {
    const std::string url = "http://127.0.0.1:" + std::to_string(t::FreePort());
    Run run = CheckConnection(GenericRest(kSunshine, url));
    CHECK(run.code == 3);
    Object::Ptr report = Parse(run.out);
    CHECK(report->getValue<std::string>("stage") == "connect");
    CHECK(Contains(report->getValue<std::string>("message"), "TCP connect failed"));
    CHECK(report->isNull("httpStatus"));
  }

  TEST_CASE("check-connection: a CRM that never answers is a timeout") {
    // The kernel completes the connection; nobody ever reads or answers.
    Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
    std::vector<std::string> settings =
        GenericRest(kSunshine, "http://127.0.0.1:" + std::to_string(silent.address().port()));
    settings.push_back("--set");
    settings.push_back("crm.timeout=300");
    Run run = CheckConnection(settings);
    CHECK(run.code == 4);
    Object::Ptr report = Parse(run.out);
    CHECK(report->getValue<std::string>("stage") == "timeout");
    CHECK(Contains(report->getValue<std::string>("message"), "timed out"));
  }

  TEST_CASE("check-connection: a host name that cannot resolve is DNS") {
    Run run = CheckConnection(GenericRest(kSunshine, "https://crm.crmsync-test.invalid"));
    CHECK(run.code == 2);
    Object::Ptr report = Parse(run.out);
    CHECK(report->getValue<std::string>("stage") == "dns");
    CHECK(Contains(report->getValue<std::string>("message"), "crm.crmsync-test.invalid"));
  }

  TEST_CASE("check-connection: HTTPS to a plain-HTTP port is a TLS failure") {
    JsonServer crm(R"({"leads": {"results": []}})");
    Run run = CheckConnection(GenericRest(kSunshine, crm.url("https")));
    CHECK(run.code == 5);
    Object::Ptr report = Parse(run.out);
    CHECK(report->getValue<std::string>("stage") == "tls");
    CHECK(Contains(report->getValue<std::string>("message"), "TLS handshake"));
  }

  TEST_CASE("check-connection: a self-signed certificate (openssl s_server) is a TLS failure") {
    const std::string openssl = t::FindOnPath("openssl");
    REQUIRE_MESSAGE(!openssl.empty(), "openssl is not on PATH");
    t::TempDir dir;
    std::string output;
    REQUIRE_MESSAGE(
        t::RunCommand(openssl,
                      {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                       "-keyout", dir.File("key.pem"), "-out", dir.File("cert.pem"), "-days", "1"},
                      &output) == 0,
        output);
    const int port = t::FreePort();
    t::ChildProcess server(
        openssl, {"s_server", "-accept", std::to_string(port), "-cert", dir.File("cert.pem"),
                  "-key", dir.File("key.pem"), "-www", "-quiet"});
    REQUIRE(t::WaitUntil([&] {
      try {
        Poco::Net::StreamSocket probe(Poco::Net::SocketAddress("127.0.0.1", port));
        return true;
      } catch (const Poco::Exception&) {
        return false;
      }
    }));
    Run run = CheckConnection(GenericRest(kSunshine, "https://127.0.0.1:" + std::to_string(port)));
    CHECK(run.code == 5);
    Object::Ptr report = Parse(run.out);
    CHECK(report->getValue<std::string>("stage") == "tls");
    CHECK(Contains(report->getValue<std::string>("message"), "certificate"));
  }

  TEST_CASE("check-connection: 401 from a CRM that wants another bearer token, and a 5xx") {
    SUBCASE("wrong token: credentials") {
      BearerCrm crm("the-right-token-Yt55", 200);
      Run run = CheckConnection(GenericRest(kHubspot, crm.url()));
      CHECK(run.code == 6);
      Object::Ptr report = Parse(run.out);
      CHECK(report->getValue<std::string>("stage") == "credentials");
      CHECK(report->getValue<int>("httpStatus") == 401);
      CHECK(Contains(report->getValue<std::string>("message"), "401"));
      CheckNoSecrets(run);
      CHECK(crm.paths().size() == 1);
    }
    SUBCASE("right token: HubSpot's search answers, ok") {
      BearerCrm crm(kApiKey, 200);
      Run run = CheckConnection(GenericRest(kHubspot, crm.url()));
      CHECK_MESSAGE(run.code == 0, run.out);
      REQUIRE(crm.paths().size() == 1);
      CHECK(crm.paths()[0] == "POST /crm/v3/objects/contacts/search");
    }
    SUBCASE("right token, 503: server error") {
      BearerCrm crm(kApiKey, 503);
      Run run = CheckConnection(GenericRest(kHubspot, crm.url()));
      CHECK(run.code == 8);
      CHECK(Parse(run.out)->getValue<std::string>("stage") == "server_error");
      CheckNoSecrets(run);
    }
  }

  TEST_CASE("check-connection: a plugin that does not load is a config error") {
    Run run = Crmsync({"check-connection", "--set", "crm.plugin=no-such-crm"});
    CHECK(run.code == 78);
    CHECK(Contains(run.err, "no-such-crm"));
  }

  TEST_CASE("render: the requests of an event, masked, with nothing sent") {
    // A port that listens but is never accepted on: a connection would queue.
    Poco::Net::ServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0));
    const std::string url = "http://127.0.0.1:" + std::to_string(listener.address().port());
    t::TempDir dir;
    const std::string event = dir.File("event.json");
    t::WriteFile(event, LeadEvent("lead.status_changed", "CONVERTED"));

    std::vector<std::string> args = {"render", event};
    for (const std::string& s : GenericRest(kSunshine, url)) args.push_back(s);
    Run run = Crmsync(args);
    CHECK_MESSAGE(run.code == 0, run.out, run.err);
    CHECK(Contains(run.out, "POST " + url + "/api/v1/leads\n"));
    CHECK(Contains(run.out, "POST " + url + "/api/v1/leads/crm-id-from-create/deals"));
    CHECK(Contains(run.out, R"("externalReference":"lead:42")"));
    CHECK(Contains(run.out, "[email]"));
    CHECK_FALSE(Contains(run.out, "asha@example.com"));
    CheckNoSecrets(run);
    // Nothing connected to the CRM's port.
    CHECK_FALSE(listener.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ));

    std::vector<std::string> json_args = {"render", event, "json"};
    for (const std::string& s : GenericRest(kSunshine, url)) json_args.push_back(s);
    Run json = Crmsync(json_args);
    CHECK_MESSAGE(json.code == 0, json.out, json.err);
    Object::Ptr report = Parse(json.out);
    auto events = report->getArray("events");
    REQUIRE(events->size() == 1);
    auto steps = events->getObject(0)->getArray("steps");
    REQUIRE(steps->size() == 2);
    CHECK(steps->getObject(0)->getValue<std::string>("step") == "create");
    CHECK(steps->getObject(1)->getValue<std::string>("step") == "deal");
    CHECK(Contains(steps->getObject(0)->getValue<std::string>("body"), "Asha Rao"));
    CHECK(report->getValue<bool>("transportPrepared"));
    // The API key the transport adds is shown, masked, and marked as its own.
    auto headers = steps->getObject(0)->getArray("headers");
    std::map<std::string, std::pair<std::string, bool>> shown;
    for (size_t i = 0; i < headers->size(); ++i) {
      Object::Ptr h = headers->getObject(i);
      shown[h->getValue<std::string>("name")] = {h->getValue<std::string>("value"),
                                                 h->getValue<bool>("addedByTransport")};
    }
    CHECK(shown["X-API-Key"] == std::make_pair(std::string("[token]"), true));
    CHECK(shown["Host"].first == "127.0.0.1:" + std::to_string(listener.address().port()));
    CHECK(shown["Content-Length"].second);
    CHECK_FALSE(listener.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ));
  }

  TEST_CASE("render: the transport's bearer token and HMAC signature are shown, masked") {
    Poco::Net::ServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0));
    const std::string url = "http://127.0.0.1:" + std::to_string(listener.address().port());
    t::TempDir dir;
    const std::string event = dir.File("event.json");
    t::WriteFile(event, LeadEvent("lead.created", "NEW"));

    // HubSpot's mapping: a bearer token the transport sends on every request.
    std::vector<std::string> args = {"render", event};
    for (const std::string& s : GenericRest(kHubspot, url)) args.push_back(s);
    Run bearer = Crmsync(args);
    CHECK_MESSAGE(bearer.code == 0, bearer.out, bearer.err);
    CHECK(Contains(bearer.out, "  Authorization: Bearer [token]   (added by the transport)\n"));
    CHECK(Contains(bearer.out, "# headers are as the plugin's transport would send them now"));
    CheckNoSecrets(bearer);

    // A mapping that signs each request with HMAC-SHA256 of CRM_API_SECRET.
    const std::string hmac = CRMSYNC_SOURCE_DIR "/tests/plugins/generic_rest/fixtures/hmac.json";
    args = {"render", event};
    for (const std::string& s : GenericRest(hmac, url + "/crm")) args.push_back(s);
    Run hmac_run = Crmsync(args);
    CHECK_MESSAGE(hmac_run.code == 0, hmac_run.out, hmac_run.err);
    CHECK(Contains(hmac_run.out, "  POST " + url + "/crm/leads\n"));
    CHECK(Contains(hmac_run.out, "  X-Signature: [token]   (added by the transport)\n"));
    CHECK(Contains(hmac_run.out, "  X-Client: [token]   (added by the transport)\n"));
    CHECK(Contains(hmac_run.out, "  Content-Type: application/json   (added by the transport)\n"));
    CheckNoSecrets(hmac_run);
    CHECK_FALSE(listener.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ));
  }

  TEST_CASE("render: credentials a plugin puts on its requests are masked (mock-crm)") {
    t::TempDir dir;
    const std::string event = dir.File("event.json");
    t::WriteFile(event, LeadEvent("lead.created", "NEW"));
    Run run = Crmsync({"render", event, "json", "--set", "crm.plugin=mock-crm", "--set",
                       "crm.api.key=" + kApiKey, "--set", "crm.api.secret=" + kApiSecret});
    CHECK_MESSAGE(run.code == 0, run.out, run.err);
    CheckNoSecrets(run);
    Object::Ptr step =
        Parse(run.out)->getArray("events")->getObject(0)->getArray("steps")->getObject(0);
    bool masked_key = false;
    auto headers = step->getArray("headers");
    for (size_t i = 0; i < headers->size(); ++i) {
      if (headers->getObject(i)->getValue<std::string>("name") == "X-API-Key") {
        masked_key = headers->getObject(i)->getValue<std::string>("value") == "[token]";
      }
    }
    CHECK(masked_key);
  }

  TEST_CASE("render: a transport that cannot prepare requests is shown as built, and said so") {
    t::TempDir dir;
    const std::string event = dir.File("event.json");
    t::WriteFile(event, LeadEvent("lead.created", "NEW"));
    // good_plugin's transport only sends, as every plugin built before ABI 2.3.
    Run run = Crmsync({"render", event, "--set", "crm.plugin=good_plugin", "--set",
                       "crm.api.url=https://crm.example.com"},
                      CRMSYNC_TEST_PLUGIN_DIR);
    CHECK_MESSAGE(run.code == 0, run.out, run.err);
    CHECK(Contains(run.out, "  POST https://crm.example.com/records/42\n"));
    CHECK(Contains(run.out, "# plugin good_plugin (ABI 4."));
    CHECK(Contains(run.out, "cannot prepare requests (crmsync/prepare.h,"));
    CHECK_FALSE(Contains(run.out, "(added by the transport)"));
    Run json = Crmsync({"render", event, "json", "--set", "crm.plugin=good_plugin"},
                       CRMSYNC_TEST_PLUGIN_DIR);
    CHECK_MESSAGE(json.code == 0, json.out, json.err);
    CHECK_FALSE(Parse(json.out)->getValue<bool>("transportPrepared"));
  }

  TEST_CASE("render: an invalid event prints the validator's errors") {
    t::TempDir dir;
    const std::string event = dir.File("event.json");
    t::WriteFile(event, R"({"eventId":"bad id!","type":"lead.created","data":{"id":"42"}})");
    Run run = Crmsync({"render", event, "--set", "crm.plugin=mock-crm"});
    CHECK(run.code == 1);
    CHECK(Contains(run.err, "$.eventId"));
    CHECK(Contains(run.err, "$.occurredAt"));

    Run json = Crmsync({"render", event, "json", "--set", "crm.plugin=mock-crm"});
    CHECK(json.code == 1);
    Object::Ptr report = Parse(json.out);
    CHECK_FALSE(report->getValue<bool>("valid"));
    CHECK(report->getArray("errors")->size() >= 2);

    Run missing = Crmsync({"render", dir.File("none.json"), "--set", "crm.plugin=mock-crm"});
    CHECK(missing.code == 1);
    CHECK(Contains(missing.err, "cannot read"));

    Run usage = Crmsync({"render"});
    CHECK(usage.code == 64);
  }

  TEST_CASE("plugin-check --live runs check-connection through a plugin file") {
    const std::string plugin = CRMSYNC_PLUGIN_DIR "/generic-rest-crm";
    SUBCASE("json-server answers: PASS") {
      JsonServer crm(R"({"leads": {"results": []}})");
      std::vector<std::string> args = {"plugin-check", plugin, "--live", "json"};
      for (const std::string& s : GenericRest(kSunshine, crm.url())) args.push_back(s);
      Run run = Crmsync(args);
      Object::Ptr report = Parse(run.out);
      auto checks = report->getArray("checks");
      std::string live;
      for (size_t i = 0; i < checks->size(); ++i) {
        if (checks->getObject(i)->getValue<std::string>("name") == "live connection") {
          live = checks->getObject(i)->getValue<std::string>("result");
        }
      }
      CHECK_MESSAGE(live == "PASS", run.out);
      CHECK(crm.Logged(
          "GET /leads?externalReference=lead%3Acrmsync-connection-check-no-such-record "));
    }
    SUBCASE("nothing listens: FAIL naming the stage") {
      const std::string url = "http://127.0.0.1:" + std::to_string(t::FreePort());
      std::vector<std::string> args = {"plugin-check", plugin, "--live"};
      for (const std::string& s : GenericRest(kSunshine, url)) args.push_back(s);
      Run run = Crmsync(args);
      CHECK(run.code == 1);
      CHECK(Contains(run.out, "FAIL  live connection: connect: TCP connect failed"));
    }
    SUBCASE("without --live no request is sent and the check is not listed") {
      const std::string url = "http://127.0.0.1:" + std::to_string(t::FreePort());
      std::vector<std::string> args = {"plugin-check", plugin};
      for (const std::string& s : GenericRest(kSunshine, url)) args.push_back(s);
      Run run = Crmsync(args);
      CHECK_FALSE(Contains(run.out, "live connection"));
    }
  }

  TEST_CASE("the help lists check-connection and render") {
    std::string output;
    CHECK(t::RunCommand(kBinary, {"--help"}, &output) == 0);
    CHECK(Contains(output, "check-connection [json]"));
    CHECK(Contains(output, "render EVENT.json [json]"));
    CHECK(Contains(output, "--live"));
    CHECK(t::RunCommand(kBinary, {"--help", "check-connection"}, &output) == 0);
    CHECK(Contains(output, "Exit 2 DNS"));
    CHECK(t::RunCommand(kBinary, {"check-connection", "--live"}, &output) == 64);
    CHECK(Contains(output, "--live applies to plugin-check only"));
  }
}
