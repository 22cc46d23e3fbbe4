// OAuth 2.0 end to end: the real binary with generic-rest-crm and an oauth2
// mapping, against a token endpoint and a CRM on loopback run by this test.
// A CRM that refuses the (expired) access token gets one refresh and the
// lead goes through; a revoked refresh token disables sync with a reason
// naming the grant and the OAuth error, shown by GET /api/v1/admin/status.
// No token or secret reaches the engine's logs or its admin answers.
#include <doctest/doctest.h>

#include <signal.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>

#include "test_support.h"

namespace t = crmsync::testing;

namespace {

constexpr char kClientSecret[] = "ClientSecret-x7Qp";
constexpr char kRefreshToken[] = "RefreshTok-1-w3Lm";

// The token endpoint and the CRM. The endpoint issues AccessTok-<n>-q8Rv
// and rotates the refresh token, or refuses every grant with invalid_grant
// while `revoked`; the CRM refuses AccessTok-1-q8Rv (it "expired") and
// creates leads for any other token.
class OAuthCrm {
 public:
  explicit OAuthCrm(bool revoked)
      : revoked_(revoked),
        token_([this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
          Token(req, resp);
        }),
        crm_([this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
          Crm(req, resp);
        }) {}

  std::string token_url() const {
    return "http://127.0.0.1:" + std::to_string(token_.port()) + "/oauth/token";
  }
  std::string crm_url() const { return "http://127.0.0.1:" + std::to_string(crm_.port()); }
  std::vector<std::string> token_bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return token_bodies_;
  }
  // "<authorization> -> <status>" per CRM request.
  std::vector<std::string> crm_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return crm_calls_;
  }

 private:
  void Token(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    std::string body;
    Poco::StreamCopier::copyToString(req.stream(), body);
    size_t n = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      token_bodies_.push_back(body);
      n = token_bodies_.size();
    }
    resp.setContentType("application/json");
    if (revoked_) {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST);
      resp.send() << R"({"error":"invalid_grant","error_description":"Token has been revoked."})";
      return;
    }
    resp.send() << R"({"access_token":"AccessTok-)" << n << R"(-q8Rv","token_type":"Bearer",)"
                << R"("expires_in":3600,"refresh_token":"RefreshTok-)" << n + 1 << R"(-w3Lm"})";
  }

  void Crm(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    std::string body;
    Poco::StreamCopier::copyToString(req.stream(), body);
    const std::string authorization = req.get("Authorization", "");
    const bool expired = authorization == "Bearer AccessTok-1-q8Rv";
    {
      std::lock_guard<std::mutex> lock(mu_);
      crm_calls_.push_back(authorization + " -> " + (expired ? "401" : "201"));
    }
    resp.setContentType("application/json");
    if (expired) {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED);
      resp.send() << R"({"message":"access token expired"})";
      return;
    }
    resp.setStatus(Poco::Net::HTTPResponse::HTTP_CREATED);
    resp.send() << R"({"data":{"id":"crm-77"}})";
  }

  const bool revoked_;
  std::mutex mu_;
  std::vector<std::string> token_bodies_;
  std::vector<std::string> crm_calls_;
  t::LoopbackHttpServer token_;
  t::LoopbackHttpServer crm_;
};

// The engine, configured by a properties file (secrets included, as an
// operator's secret-mounted file would hold them) and an oauth2 mapping.
class OAuthEngine {
 public:
  explicit OAuthEngine(const OAuthCrm& crm) {
    t::WriteFile(dir_.File("oauth.json"), R"({
  "name": "e2e-oauth",
  "auth": {"type": "oauth2", "grant": "refresh_token", "tokenUrl": ")" +
                                              crm.token_url() + R"("},
  "statusMap": {"lead": {"NEW": "new", "CONTACTED": "contacted", "QUALIFIED": "qualified",
                         "VIEWING_SCHEDULED": "viewing", "VIEWED": "viewing",
                         "NEGOTIATING": "negotiating", "CONVERTED": "won", "LOST": "lost"}},
  "entities": {"lead": {"idPointer": "/data/id", "operations": {
    "create": {"method": "POST", "path": "/leads",
               "body": {"name": "{{name}}", "ref": "{{externalReference}}"}},
    "update": {"method": "PUT", "path": "/leads/{externalId}", "body": {"name": "{{name}}"}},
    "lookup": {"method": "GET", "path": "/leads", "query": {"ref": "{{externalReference}}"},
               "resultsPointer": "/data", "idPointer": "/id",
               "sampleAnswer": {"data": [{"id": "crm-77"}]}}}}}
})");
    t::WriteFile(dir_.File("crmsync.properties"),
                 "server.port = " + std::to_string(port) +
                     "\nstore.path = " + dir_.File("crmsync.db") +
                     "\nplugins.dir = " CRMSYNC_PLUGIN_DIR
                     "\ncrm.plugin = generic-rest-crm"
                     "\ncrm.mapping = oauth.json"
                     "\ncrm.api.url = " +
                     crm.crm_url() +
                     "\ncrm.api.key = client-77"
                     "\ncrm.api.secret = " +
                     kClientSecret + "\ncrm.generic-rest-crm.refresh_token = " + kRefreshToken +
                     "\nintake.token = intake-t\nadmin.token = admin-t\nlog.level = debug\n");
    process_ = std::make_unique<t::ChildProcess>(
        CRMSYNC_BINARY,
        std::vector<std::string>{"serve", "--config", dir_.File("crmsync.properties")});
    ready = t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; });
  }
  ~OAuthEngine() { Stop(); }

  void Stop() {
    process_->Signal(SIGTERM);
    process_->WaitExit(std::chrono::seconds(20));
  }
  int PostLead(const std::string& event_id) {
    const std::string event =
        R"({"eventId":")" + event_id +
        R"(","type":"lead.created","occurredAt":"2026-12-03T10:15:00Z","data":{"id":"42",)"
        R"("name":"Asha Rao","email":"asha@example.com","source":"website","status":"NEW"}})";
    return t::HttpCall(port, "POST", "/api/v1/events", event,
                       {{"Authorization", "Bearer intake-t"}})
        .status;
  }
  std::string AdminStatus() {
    return t::HttpCall(port, "GET", "/api/v1/admin/status", "",
                       {{"Authorization", "Bearer admin-t"}})
        .body;
  }
  std::string Logs() { return process_->Stdout() + process_->Stderr(); }
  std::string config_file() const { return dir_.File("crmsync.properties"); }

  const int port = t::FreePort();
  bool ready = false;

 private:
  t::TempDir dir_;
  std::unique_ptr<t::ChildProcess> process_;
};

// No token or secret of this test in `text`.
void CheckNoSecret(const std::string& what, const std::string& text) {
  for (const char* secret : {kClientSecret, kRefreshToken, "RefreshTok-2-w3Lm", "RefreshTok-3-w3Lm",
                             "AccessTok-1-q8Rv", "AccessTok-2-q8Rv"}) {
    CHECK_MESSAGE(text.find(secret) == std::string::npos, what << " shows " << secret);
  }
}

}  // namespace

TEST_SUITE("e2e.oauth") {
  TEST_CASE("an expired access token gets one refresh and the lead goes through") {
    OAuthCrm crm(false);
    OAuthEngine engine(crm);
    REQUIRE_MESSAGE(engine.ready, engine.Logs());
    CHECK(engine.PostLead("o1") == 202);
    REQUIRE_MESSAGE(t::WaitUntil([&] {
                      const auto calls = crm.crm_calls();
                      return calls.size() == 2;
                    }),
                    engine.Logs());
    const std::vector<std::string> calls = crm.crm_calls();
    CHECK(calls[0] == "Bearer AccessTok-1-q8Rv -> 401");
    CHECK(calls[1] == "Bearer AccessTok-2-q8Rv -> 201");
    const std::vector<std::string> grants = crm.token_bodies();
    REQUIRE(grants.size() == 2);
    CHECK(grants[0].find(std::string("refresh_token=") + kRefreshToken) != std::string::npos);
    CHECK(grants[1].find("refresh_token=RefreshTok-2-w3Lm") != std::string::npos);  // rotated
    REQUIRE(t::WaitUntil(
        [&] { return engine.AdminStatus().find("\"jobsFinished\":1") != std::string::npos; }));
    const std::string status = engine.AdminStatus();
    CHECK(status.find("\"syncEnabled\":true") != std::string::npos);
    CheckNoSecret("admin status", status);
    engine.Stop();
    CheckNoSecret("the engine's log", engine.Logs());
  }

  TEST_CASE("a revoked refresh token disables sync with the grant and OAuth error as reason") {
    OAuthCrm crm(true);
    OAuthEngine engine(crm);
    REQUIRE_MESSAGE(engine.ready, engine.Logs());
    CHECK(engine.PostLead("r1") == 202);
    // The sync section and the alert carry the reason once sync is disabled.
    REQUIRE_MESSAGE(t::WaitUntil([&] {
                      const std::string now = engine.AdminStatus();
                      return now.find("\"sync\":{\"enabled\":false") != std::string::npos &&
                             now.find("\"kind\":\"sync_disabled\"") != std::string::npos;
                    }),
                    engine.AdminStatus());
    const std::string status = engine.AdminStatus();
    CHECK_MESSAGE(
        status.find("refused the refresh_token grant: invalid_grant") != std::string::npos, status);
    CHECK(status.find("Token has been revoked.") != std::string::npos);
    CHECK(status.find("crm.generic-rest-crm.refresh_token") != std::string::npos);
    CHECK(crm.crm_calls().empty());  // The CRM never saw a request.
    CheckNoSecret("admin status", status);
    engine.Stop();
    CheckNoSecret("the engine's log", engine.Logs());
  }

  TEST_CASE("check-connection reports a revoked refresh token at the credentials stage") {
    OAuthCrm crm(true);
    OAuthEngine engine(crm);  // Writes the config; check-connection reads it.
    engine.Stop();
    t::ChildProcess check(CRMSYNC_BINARY, {"check-connection", "--config", engine.config_file()});
    REQUIRE(check.WaitExit(std::chrono::seconds(60)));
    const std::string out = check.Stdout() + check.Stderr();
    CHECK_MESSAGE(check.exit_code() == 6, out);
    CHECK(out.find("credentials") != std::string::npos);
    CHECK(out.find("invalid_grant") != std::string::npos);
    CHECK(crm.crm_calls().empty());
    CheckNoSecret("check-connection", out);
  }
}
