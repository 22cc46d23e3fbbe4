// oauth_test.cpp: generic-rest-crm's token auth (oauth.h, oauth_transport.h)
// over real HTTP on loopback: a token endpoint and a CRM that check what they
// receive. The client-credentials grant and its cache, refresh before expiry
// by an injected clock, one fetch shared by concurrent callers, one renewal on
// a 401, refresh-token rotation saved through an in-memory PluginHost and used
// after a restart, the token endpoint's failures classified, apiKeyQuery, and
// no secret in any message.
#include <doctest/doctest.h>

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "crmsync/http_transport.h"
#include "crmsync/prepare.h"
#include "generic_rest_adapter.h"
#include "oauth.h"
#include "oauth_transport.h"
#include "test_support.h"
#include "unit_test_helpers.h"

namespace crmsync::genericrest {
namespace {

using crmsync::testing::LoopbackHttpServer;
using crmsync::testing::TempDir;
using crmsync::testing::WriteFile;
using testing::HasError;
using testing::ParseErrors;

constexpr char kClientId[] = "client-Id-7Qx";
constexpr char kClientSecret[] = "client-Secret-9Wz";
constexpr char kRefresh1[] = "refresh-Tok-1aB";

// Decodes application/x-www-form-urlencoded `body` into name -> value.
std::map<std::string, std::string> Form(const std::string& body) {
  std::map<std::string, std::string> out;
  auto decode = [](const std::string& text) {
    std::string value;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '+') {
        value += ' ';
      } else if (text[i] == '%' && i + 2 < text.size()) {
        value += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        value += text[i];
      }
    }
    return value;
  };
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    const std::string pair = body.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (eq != std::string::npos) out[decode(pair.substr(0, eq))] = decode(pair.substr(eq + 1));
    start = end + 1;
  }
  return out;
}

// What the token endpoint answers: status, body, extra headers.
struct TokenAnswer {
  int status = 200;
  std::string body;
  std::map<std::string, std::string> headers;
};

// A token endpoint and a CRM on loopback. The token endpoint issues at-1,
// at-2, ... (and, for the refresh_token grant, rotates refresh-Tok-<n+1>)
// unless `answer` is set; the CRM answers `crm_status(authorization)`.
class Rig {
 public:
  Rig()
      : token_server_(
            [this](Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
              Token(request, response);
            }),
        crm_server_([this](Poco::Net::HTTPServerRequest& request,
                           Poco::Net::HTTPServerResponse& response) { Crm(request, response); }) {}

  std::string token_origin() const {
    return "http://127.0.0.1:" + std::to_string(token_server_.port());
  }
  std::string token_url() const { return token_origin() + "/oauth/token"; }
  std::string crm_url() const { return "http://127.0.0.1:" + std::to_string(crm_server_.port()); }

  std::function<TokenAnswer(const std::map<std::string, std::string>& form, int n)> answer;
  std::function<int(const std::string& authorization)> crm_status = [](const std::string&) {
    return 200;
  };
  int64_t expires_in = 3600;
  bool rotate = true;
  // While set, the token endpoint holds each request until Release().
  bool hold = false;

  std::vector<std::map<std::string, std::string>> token_forms() {
    std::lock_guard<std::mutex> lock(mu_);
    return forms_;
  }
  std::vector<std::string> token_basic() {
    std::lock_guard<std::mutex> lock(mu_);
    return basic_;
  }
  std::vector<std::string> crm_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return crm_;
  }
  void WaitHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return held_ > 0; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  void Token(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    const std::string body((std::istreambuf_iterator<char>(request.stream())),
                           std::istreambuf_iterator<char>());
    const std::map<std::string, std::string> form = Form(body);
    int n = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      forms_.push_back(form);
      basic_.push_back(request.get("Authorization", ""));
      n = static_cast<int>(forms_.size());
      if (hold) {
        ++held_;
        changed_.notify_all();
        changed_.wait(lock, [&] { return released_; });
      }
    }
    TokenAnswer answer_now;
    if (answer) {
      answer_now = answer(form, n);
    } else {
      answer_now.body = "{\"access_token\":\"at-" + std::to_string(n) +
                        "\",\"token_type\":\"Bearer\",\"expires_in\":" + std::to_string(expires_in);
      if (rotate && form.count("refresh_token")) {
        answer_now.body += ",\"refresh_token\":\"refresh-Tok-" + std::to_string(n + 1) + "\"";
      }
      answer_now.body += "}";
    }
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer_now.status));
    for (const auto& [name, value] : answer_now.headers) response.set(name, value);
    response.setContentType("application/json");
    response.send() << answer_now.body;
  }

  void Crm(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    const std::string authorization = request.get("Authorization", "");
    {
      std::lock_guard<std::mutex> lock(mu_);
      crm_.push_back(request.getMethod() + " " + request.getURI() + " | " + authorization);
    }
    const int status = crm_status(authorization);
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentType("application/json");
    if (status >= 300) {
      // Quotes what it refused, credentials included, as some CRMs do.
      response.send() << "{\"message\":\"refused " << request.getURI() << " with " << authorization
                      << "\"}";
      return;
    }
    response.send() << "{\"data\":{\"id\":\"crm-1\"},\"message\":\"ok\"}";
  }

  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::map<std::string, std::string>> forms_;
  std::vector<std::string> basic_;
  std::vector<std::string> crm_;
  int held_ = 0;
  bool released_ = false;
  LoopbackHttpServer token_server_;
  LoopbackHttpServer crm_server_;
};

// An in-memory PluginHost; SaveState fails while `fail_saves` is set.
class MemoryHost final : public PluginHost {
 public:
  Status LoadState(const std::string& key, std::optional<std::string>* value) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = values_.find(key);
    *value = it == values_.end() ? std::nullopt : std::optional<std::string>(it->second);
    return Status::Ok();
  }
  Status SaveState(const std::string& key, const std::string& value) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++saves_;
    if (fail_saves) return Status::Retryable("store is read-only");
    values_[key] = value;
    return Status::Ok();
  }
  std::string Value(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return values_.count(key) ? values_[key] : "";
  }
  int saves() {
    std::lock_guard<std::mutex> lock(mu_);
    return saves_;
  }
  std::atomic<bool> fail_saves{false};

 private:
  std::mutex mu_;
  std::map<std::string, std::string> values_;
  int saves_ = 0;
};

std::unique_ptr<Transport> Http(const std::string& base_url) {
  HttpTransportOptions options;
  options.base_url = base_url;
  options.timeout_ms = 10000;
  std::unique_ptr<HttpTransport> http;
  REQUIRE(HttpTransport::Create(options, &http).ok());
  return http;
}

OAuth2Spec Spec(const Rig& rig, const std::string& grant = "client_credentials") {
  OAuth2Spec spec;
  spec.grant = grant;
  spec.token_url = rig.token_url();
  spec.scope = "crm.leads crm.deals";
  return spec;
}

OAuth2Credentials Credentials() {
  OAuth2Credentials credentials;
  credentials.client_id = kClientId;
  credentials.client_secret = kClientSecret;
  credentials.refresh_token = kRefresh1;
  return credentials;
}

// A TokenSource on the rig's endpoint and an OAuthTransport to its CRM.
struct Client {
  std::shared_ptr<TokenSource> tokens;
  std::unique_ptr<OAuthTransport> transport;
};

Client MakeClient(Rig& rig, const OAuth2Spec& spec, std::function<int64_t()> clock,
                  PluginHost* host = nullptr, OAuth2Credentials credentials = Credentials()) {
  Client client;
  client.tokens = std::make_shared<TokenSource>(spec, credentials, Http(rig.token_origin()),
                                                "/oauth/token", host, std::move(clock));
  REQUIRE(client.tokens->Load().ok());
  client.transport = std::make_unique<OAuthTransport>(Http(rig.crm_url()), client.tokens, spec);
  return client;
}

HttpRequest GetLead() {
  HttpRequest request;
  request.method = "GET";
  request.path = "/leads/7";
  request.route = "lead.lookup";
  return request;
}

// No secret of these tests in `text`.
void CheckNoSecret(const std::string& text) {
  for (const char* secret :
       {kClientId, kClientSecret, kRefresh1, "refresh-Tok-2", "at-1", "at-2", "qk-Pipe-55x"}) {
    INFO(text);
    CHECK(text.find(secret) == std::string::npos);
  }
}

// A mapping file using `auth` (JSON text), written in `dir`.
std::string MappingWith(const TempDir& dir, const std::string& auth) {
  const std::string path = dir.File("oauth.json");
  WriteFile(path, R"({
  "name": "test-oauth",
  "auth": )" + auth + R"(,
  "statusMap": {"lead": {"NEW": "new", "CONTACTED": "contacted", "QUALIFIED": "qualified",
                         "VIEWING_SCHEDULED": "viewing", "VIEWED": "viewing",
                         "NEGOTIATING": "negotiating", "CONVERTED": "won", "LOST": "lost"}},
  "entities": {"lead": {"idPointer": "/data/id", "operations": {
    "create": {"method": "POST", "path": "/leads", "body": {"name": "{{name}}"}},
    "update": {"method": "PUT", "path": "/leads/{externalId}", "body": {"name": "{{name}}"}}}}}
})");
  return path;
}

PluginConfig AdapterConfig(const Rig& rig, const std::string& mapping) {
  PluginConfig config;
  config.Set("mapping", mapping);
  config.Set("api_url", rig.crm_url());
  config.Set("api_key", kClientId);
  config.Set("api_secret", kClientSecret);
  config.Set("refresh_token", kRefresh1);
  return config;
}

// Configures `adapter` for the client_credentials grant at the rig.
void ConfigureClientCredentials(const Rig& rig, const TempDir& dir, GenericRestAdapter* adapter) {
  const std::string auth = R"({"type": "oauth2", "tokenUrl": ")" + rig.token_url() + "\"}";
  REQUIRE(adapter->Configure(AdapterConfig(rig, MappingWith(dir, auth))).ok());
}

std::string RefreshAuth(const Rig& rig) {
  return R"({"type": "oauth2", "grant": "refresh_token", "tokenUrl": ")" + rig.token_url() +
         R"(", "header": "Authorization", "prefix": "Zoho-oauthtoken"})";
}

TEST_SUITE("plugins.generic_rest") {
  TEST_CASE("oauth2: the client-credentials token is fetched once and cached") {
    Rig rig;
    int64_t now = 1'000'000;
    Client client = MakeClient(rig, Spec(rig), [&] { return now; });
    for (int i = 0; i < 3; ++i) {
      HttpResponse response = client.transport->Send(GetLead());
      CHECK(response.status == 200);
    }
    REQUIRE(rig.token_forms().size() == 1);
    const auto form = rig.token_forms()[0];
    CHECK(form.at("grant_type") == "client_credentials");
    CHECK(form.at("client_id") == kClientId);
    CHECK(form.at("client_secret") == kClientSecret);
    CHECK(form.at("scope") == "crm.leads crm.deals");
    CHECK(form.count("refresh_token") == 0);
    for (const std::string& line : rig.crm_requests()) {
      CHECK(line == "GET /leads/7 | Bearer at-1");
    }
  }

  TEST_CASE("oauth2: client authentication by HTTP Basic keeps the secret out of the body") {
    Rig rig;
    OAuth2Spec spec = Spec(rig);
    spec.client_auth = "basic";
    Client client = MakeClient(rig, spec, [] { return int64_t{0}; });
    CHECK(client.transport->Send(GetLead()).status == 200);
    REQUIRE(rig.token_forms().size() == 1);
    CHECK(rig.token_forms()[0].count("client_secret") == 0);
    // base64("client-Id-7Qx:client-Secret-9Wz")
    CHECK(rig.token_basic()[0] == "Basic Y2xpZW50LUlkLTdReDpjbGllbnQtU2VjcmV0LTlXeg==");
  }

  TEST_CASE("oauth2: a token is refreshed the margin before it expires, by the clock") {
    Rig rig;
    rig.expires_in = 3600;
    int64_t now = 5'000'000;
    Client client = MakeClient(rig, Spec(rig), [&] { return now; });  // margin 60 s
    CHECK(client.transport->Send(GetLead()).status == 200);
    now += (3600 - 60) * 1000 - 1;
    CHECK(client.transport->Send(GetLead()).status == 200);
    CHECK(rig.token_forms().size() == 1);
    now += 1;
    CHECK(client.transport->Send(GetLead()).status == 200);
    CHECK(rig.token_forms().size() == 2);
    const std::vector<std::string> crm = rig.crm_requests();
    REQUIRE(crm.size() == 3);
    CHECK(crm[1] == "GET /leads/7 | Bearer at-1");
    CHECK(crm[2] == "GET /leads/7 | Bearer at-2");
  }

  TEST_CASE("oauth2: a token shorter-lived than the margin is refreshed at half its life") {
    Rig rig;
    rig.expires_in = 30;
    int64_t now = 0;
    Client client = MakeClient(rig, Spec(rig), [&] { return now; });
    std::string token;
    HttpResponse failure;
    REQUIRE(client.tokens->Get(&token, &failure));
    now = 14'999;
    REQUIRE(client.tokens->Get(&token, &failure));
    CHECK(token == "at-1");
    now = 15'000;
    REQUIRE(client.tokens->Get(&token, &failure));
    CHECK(token == "at-2");
  }

  TEST_CASE("oauth2: concurrent callers share one token fetch") {
    Rig rig;
    rig.hold = true;
    Client client = MakeClient(rig, Spec(rig), [] { return int64_t{0}; });
    std::vector<std::string> tokens(8);
    std::vector<std::thread> threads;
    threads.emplace_back([&] {
      HttpResponse failure;
      client.tokens->Get(&tokens[0], &failure);
    });
    rig.WaitHeld();  // The first fetch is in flight; the others find it so.
    for (int i = 1; i < 8; ++i) {
      threads.emplace_back([&, i] {
        HttpResponse failure;
        client.tokens->Get(&tokens[i], &failure);
      });
    }
    rig.Release();
    for (std::thread& thread : threads) thread.join();
    CHECK(rig.token_forms().size() == 1);
    for (const std::string& token : tokens) CHECK(token == "at-1");
  }

  TEST_CASE("oauth2: a 401 renews the token once and resends the request") {
    Rig rig;
    rig.crm_status = [](const std::string& authorization) {
      return authorization == "Bearer at-1" ? 401 : 200;
    };
    Client client = MakeClient(rig, Spec(rig), [] { return int64_t{0}; });
    HttpResponse response = client.transport->Send(GetLead());
    CHECK(response.status == 200);
    CHECK(rig.token_forms().size() == 2);
    const std::vector<std::string> crm = rig.crm_requests();
    REQUIRE(crm.size() == 2);
    CHECK(crm[0] == "GET /leads/7 | Bearer at-1");
    CHECK(crm[1] == "GET /leads/7 | Bearer at-2");
    // The renewed token is cached for the next request.
    CHECK(client.transport->Send(GetLead()).status == 200);
    CHECK(rig.token_forms().size() == 2);
  }

  TEST_CASE("oauth2: a second 401 is returned as it is, and classified unauthenticated") {
    Rig rig;
    rig.crm_status = [](const std::string&) { return 401; };
    TempDir dir;
    GenericRestAdapter adapter;
    ConfigureClientCredentials(rig, dir, &adapter);
    HttpRequest request = GetLead();
    HttpResponse response = adapter.transport().Send(request);
    CHECK(response.status == 401);
    CHECK(response.Header(kTokenFailureHeader).empty());
    CHECK(response.body.find("with Bearer [token]") != std::string::npos);  // at-2 scrubbed
    CheckNoSecret(response.body);
    CHECK(rig.token_forms().size() == 2);
    CHECK(rig.crm_requests().size() == 2);
    const Status status = adapter.Classify(request, response);
    CHECK(status.code() == StatusCode::kUnauthenticated);
    CheckNoSecret(status.message());
  }

  TEST_CASE("oauth2: callers that got 401 for the same token share one renewal") {
    Rig rig;
    Client client = MakeClient(rig, Spec(rig), [] { return int64_t{0}; });
    std::string first;
    HttpResponse failure;
    REQUIRE(client.tokens->Get(&first, &failure));
    std::string renewed_a;
    std::string renewed_b;
    REQUIRE(client.tokens->Renew(first, &renewed_a, &failure));
    REQUIRE(client.tokens->Renew(first, &renewed_b, &failure));
    CHECK(renewed_a == "at-2");
    CHECK(renewed_b == "at-2");
    CHECK(rig.token_forms().size() == 2);
  }

  TEST_CASE("oauth2: a rotated refresh token is saved and used after a restart") {
    Rig rig;
    MemoryHost host;
    TempDir dir;
    const std::string mapping = MappingWith(dir, RefreshAuth(rig));
    {
      GenericRestAdapter adapter;
      adapter.Attach(&host);
      REQUIRE(adapter.Configure(AdapterConfig(rig, mapping)).ok());
      CHECK(adapter.transport().Send(GetLead()).status == 200);
    }
    REQUIRE(rig.token_forms().size() == 1);
    CHECK(rig.token_forms()[0].at("grant_type") == "refresh_token");
    CHECK(rig.token_forms()[0].at("refresh_token") == kRefresh1);
    CHECK(rig.crm_requests()[0] == "GET /leads/7 | Zoho-oauthtoken at-1");
    const std::string saved = host.Value(kRefreshTokenStateKey);
    CHECK(saved.find("refresh-Tok-2") != std::string::npos);
    CHECK(saved.find(kRefresh1) == std::string::npos);  // Only its keyed fingerprint.

    {  // A restart: a new adapter on the same host, the same configured token.
      GenericRestAdapter adapter;
      adapter.Attach(&host);
      REQUIRE(adapter.Configure(AdapterConfig(rig, mapping)).ok());
      CHECK(adapter.transport().Send(GetLead()).status == 200);
    }
    REQUIRE(rig.token_forms().size() == 2);
    CHECK(rig.token_forms()[1].at("refresh_token") == "refresh-Tok-2");

    {  // The operator configures a fresh token: it wins over the saved one.
      GenericRestAdapter adapter;
      adapter.Attach(&host);
      PluginConfig config = AdapterConfig(rig, mapping);
      config.Set("refresh_token", "refresh-Fresh-9");
      REQUIRE(adapter.Configure(config).ok());
      CHECK(adapter.transport().Send(GetLead()).status == 200);
    }
    REQUIRE(rig.token_forms().size() == 3);
    CHECK(rig.token_forms()[2].at("refresh_token") == "refresh-Fresh-9");
  }

  TEST_CASE("oauth2: a rotation the host cannot save is used and saved on a later call") {
    Rig rig;
    MemoryHost host;
    host.fail_saves = true;
    Client client = MakeClient(
        rig, Spec(rig, "refresh_token"), [] { return int64_t{0}; }, &host);
    std::string token;
    HttpResponse failure;
    REQUIRE(client.tokens->Get(&token, &failure));
    CHECK(token == "at-1");
    CHECK(client.tokens->refresh_token() == "refresh-Tok-2");
    CHECK(host.Value(kRefreshTokenStateKey).empty());
    host.fail_saves = false;
    REQUIRE(client.tokens->Get(&token, &failure));
    CHECK(host.Value(kRefreshTokenStateKey).find("refresh-Tok-2") != std::string::npos);
    CHECK(rig.token_forms().size() == 1);
  }

  TEST_CASE("oauth2: invalid_grant retries once with a token another engine saved") {
    Rig rig;
    MemoryHost host;
    // Engine A rotates kRefresh1 -> refresh-Tok-2 and saves it.
    Client a = MakeClient(
        rig, Spec(rig, "refresh_token"), [] { return int64_t{0}; }, &host);
    // Engine B started before that and still holds kRefresh1.
    Client b = MakeClient(
        rig, Spec(rig, "refresh_token"), [] { return int64_t{0}; }, &host);
    std::string token;
    HttpResponse failure;
    REQUIRE(a.tokens->Get(&token, &failure));
    rig.answer = [](const std::map<std::string, std::string>& form, int n) {
      TokenAnswer answer;
      if (form.at("refresh_token") == kRefresh1) {
        answer.status = 400;
        answer.body = R"({"error":"invalid_grant"})";
      } else {
        answer.body = "{\"access_token\":\"at-" + std::to_string(n) + "\",\"expires_in\":60}";
      }
      return answer;
    };
    REQUIRE(b.tokens->Get(&token, &failure));
    CHECK(token == "at-3");
    CHECK(rig.token_forms()[2].at("refresh_token") == "refresh-Tok-2");
  }

  TEST_CASE("oauth2: a revoked refresh token is unauthenticated, naming grant and error") {
    Rig rig;
    rig.answer = [](const std::map<std::string, std::string>&, int) {
      TokenAnswer answer;
      answer.status = 400;
      answer.body = std::string(R"({"error":"invalid_grant","error_description":"Token )") +
                    kRefresh1 + R"( has been expired or revoked."})";
      return answer;
    };
    TempDir dir;
    GenericRestAdapter adapter;
    REQUIRE(adapter.Configure(AdapterConfig(rig, MappingWith(dir, RefreshAuth(rig)))).ok());
    HttpRequest request = GetLead();
    HttpResponse response = adapter.transport().Send(request);
    CHECK(rig.crm_requests().empty());  // Nothing reached the CRM.
    CHECK_FALSE(response.request_sent);
    const Status status = adapter.Classify(request, response);
    CHECK(status.code() == StatusCode::kUnauthenticated);
    CHECK(status.message().find("refresh_token grant") != std::string::npos);
    CHECK(status.message().find("invalid_grant") != std::string::npos);
    CHECK(status.message().find("has been expired or revoked") != std::string::npos);
    CHECK(status.message().find("crm.generic-rest-crm.refresh_token") != std::string::npos);
    CheckNoSecret(status.message());
    CheckNoSecret(response.body);
  }

  TEST_CASE("oauth2: the token endpoint's other failures are classified, never a success") {
    struct Case {
      const char* name;
      int status;
      const char* body;
      std::map<std::string, std::string> headers;
      StatusCode expected;
      int64_t retry_after_ms;
      const char* fragment;
    };
    const std::vector<Case> cases = {
        {"invalid_client",
         401,
         R"({"error":"invalid_client"})",
         {},
         StatusCode::kUnauthenticated,
         -1,
         "invalid_client"},
        {"unauthorized_client",
         400,
         R"({"error":"unauthorized_client"})",
         {},
         StatusCode::kUnauthenticated,
         -1,
         "CRM_API_SECRET"},
        {"Zoho's 200 with an error",
         200,
         R"({"error":"invalid_code"})",
         {},
         StatusCode::kUnauthenticated,
         -1,
         "invalid_code"},
        {"503", 503, "busy", {{"Retry-After", "5"}}, StatusCode::kRetryable, 5000, "HTTP 503"},
        {"500", 500, R"({"error":"server_error"})", {}, StatusCode::kRetryable, -1, "server_error"},
        {"429", 429, "{}", {{"Retry-After", "7"}}, StatusCode::kRateLimited, 7000, "rate limited"},
        {"an HTML 200",
         200,
         "<html>login</html>",
         {},
         StatusCode::kRetryable,
         -1,
         "unreadable answer"},
        {"a 200 without a token",
         200,
         R"({"token_type":"Bearer"})",
         {},
         StatusCode::kRetryable,
         -1,
         "no access_token"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.name);
      Rig rig;
      rig.answer = [&c](const std::map<std::string, std::string>&, int) {
        TokenAnswer answer;
        answer.status = c.status;
        answer.body = c.body;
        answer.headers = c.headers;
        return answer;
      };
      TempDir dir;
      GenericRestAdapter adapter;
      ConfigureClientCredentials(rig, dir, &adapter);
      HttpRequest request = GetLead();
      HttpResponse response = adapter.transport().Send(request);
      CHECK(rig.crm_requests().empty());
      const Status status = adapter.Classify(request, response);
      CHECK(status.code() == c.expected);
      CHECK(status.retry_after_ms() == c.retry_after_ms);
      CHECK(status.message().find(c.fragment) != std::string::npos);
      CHECK(status.message().find("client_credentials grant") != std::string::npos);
      CheckNoSecret(status.message());
    }
  }

  TEST_CASE("oauth2: an unreachable token endpoint is retryable and nothing was sent") {
    Rig rig;
    OAuth2Spec spec = Spec(rig);
    // A token endpoint on a port nothing listens on (the discard port).
    TokenSource tokens(spec, Credentials(), Http("http://127.0.0.1:9"), "/token", nullptr,
                       [] { return int64_t{0}; });
    OAuthTransport transport(Http(rig.crm_url()),
                             std::shared_ptr<TokenSource>(&tokens, [](TokenSource*) {}), spec);
    HttpResponse response = transport.Send(GetLead());
    CHECK(response.error == TransportError::kConnect);
    CHECK_FALSE(response.request_sent);
    const std::optional<Status> status = TokenFailureStatus(response, 0);
    REQUIRE(status);
    CHECK(status->code() == StatusCode::kRetryable);
    CHECK(status->message().find("oauth2 token endpoint (client_credentials grant)") !=
          std::string::npos);
    CHECK(rig.crm_requests().empty());
  }

  TEST_CASE("oauth2: Prepare shows the token header masked and calls no token endpoint") {
    Rig rig;
    TempDir dir;
    GenericRestAdapter adapter;
    REQUIRE(adapter.Configure(AdapterConfig(rig, MappingWith(dir, RefreshAuth(rig)))).ok());
    PreparingTransport* preparing = AsPreparing(&adapter.transport());
    REQUIRE(preparing != nullptr);
    WireRequest wire;
    REQUIRE(preparing->Prepare(GetLead(), &wire).ok());
    CHECK(FindHeader(wire.headers, "Authorization") == "Zoho-oauthtoken [token]");
    CHECK(wire.url == rig.crm_url() + "/leads/7");
    CHECK(rig.token_forms().empty());
  }

  TEST_CASE("oauth2: the plugin key token_url replaces the mapping's tokenUrl per deployment") {
    Rig rig;
    TempDir dir;
    // The file names the vendor's endpoint; the deployment's is the rig's.
    const std::string mapping = MappingWith(
        dir, R"({"type": "oauth2", "tokenUrl": "https://accounts.zoho.com/oauth/v2/token"})");
    GenericRestAdapter adapter;
    PluginConfig config = AdapterConfig(rig, mapping);
    config.Set("token_url", rig.token_url());
    REQUIRE(adapter.Configure(config).ok());
    CHECK(adapter.transport().Send(GetLead()).status == 200);
    REQUIRE(rig.token_forms().size() == 1);
    CHECK(rig.token_forms()[0].at("grant_type") == "client_credentials");

    // Bad values name the key.
    config.Set("token_url", "accounts.zoho.eu/oauth/v2/token");
    Status status = GenericRestAdapter().Configure(config);
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message() ==
          "token_url: must be an absolute https:// URL (http:// only to a loopback host, or with "
          "crm.allow_insecure_http) (crm.generic-rest-crm.token_url)");
    config.Set("token_url", "http://accounts.zoho.example/oauth/v2/token");
    status = GenericRestAdapter().Configure(config);
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK_MESSAGE(status.message().rfind("token_url (crm.generic-rest-crm.token_url): ", 0) == 0,
                  status.message());
    PluginConfig plain = AdapterConfig(rig, MappingWith(dir, R"({"type": "none"})"));
    plain.Set("token_url", rig.token_url());
    status = GenericRestAdapter().Configure(plain);
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message() ==
          "token_url: only for a mapping whose auth is oauth2 (crm.generic-rest-crm.token_url; "
          "mapping 'test-oauth' has no token endpoint)");
  }

  TEST_CASE("oauth2: the mapping's auth is checked, and missing credentials are named") {
    auto errors = ParseErrors(R"({"name": "x", "auth": {"type": "oauth2", "grant": "password",
        "tokenUrl": "/token", "clientAuth": "post", "refreshMarginSeconds": -1, "scopes": "a"}})");
    CHECK(HasError(errors, "/auth/grant: must be client_credentials or refresh_token"));
    CHECK(HasError(errors, "/auth/tokenUrl: must be an absolute https:// URL"));
    CHECK(HasError(errors, "/auth/clientAuth: must be body or basic"));
    CHECK(HasError(errors, "/auth/refreshMarginSeconds: must be a whole number"));
    CHECK(HasError(errors, "/auth/scopes: unknown key; did you mean 'scope'?"));
    CHECK(HasError(ParseErrors(R"({"name": "x", "auth": {"type": "oauth2"}})"),
                   "/auth/tokenUrl: required"));
    CHECK(HasError(ParseErrors(R"({"name": "x", "auth": {"type": "oath2"}})"),
                   "did you mean 'oauth2'?"));

    Rig rig;
    TempDir dir;
    const std::string refresh = MappingWith(dir, RefreshAuth(rig));
    {
      GenericRestAdapter adapter;
      PluginConfig config = AdapterConfig(rig, refresh);
      config.Set("refresh_token", "");
      const Status status = adapter.Configure(config);
      CHECK(status.code() == StatusCode::kInvalidConfig);
      CHECK(status.message().find("refresh_token: required") != std::string::npos);
    }
    {
      GenericRestAdapter adapter;
      PluginConfig config = AdapterConfig(rig, refresh);
      config.Set("api_key", "");
      const Status status = adapter.Configure(config);
      CHECK(status.message().find("api_key: required by auth type oauth2") != std::string::npos);
      CheckNoSecret(status.message());
    }
    {
      TempDir other;
      GenericRestAdapter adapter;
      const Status status = adapter.Configure(AdapterConfig(
          rig,
          MappingWith(other, R"({"type": "oauth2", "tokenUrl": "http://auth.example.com/t"})")));
      CHECK(status.code() == StatusCode::kInvalidConfig);
      CHECK(status.message().find("mapping: /auth/tokenUrl: plain http:// is allowed only") !=
            std::string::npos);
    }
  }

  TEST_CASE("apiKeyQuery: the token is appended to every query and masked when prepared") {
    CHECK(AppendQuery("/persons", {{"api_token", "a b&c"}}) == "/persons?api_token=a%20b%26c");
    CHECK(AppendQuery("/persons?start=0", {{"api_token", "t"}}) == "/persons?start=0&api_token=t");
    CHECK(AppendQuery("/persons?", {{"api_token", "t"}}) == "/persons?api_token=t");

    Rig rig;
    TempDir dir;
    GenericRestAdapter adapter;
    PluginConfig config = AdapterConfig(
        rig, MappingWith(dir, R"({"type": "apiKeyQuery", "query": {"k": "{{secret.apiKey}}"}})"));
    config.Set("api_key", "qk-Pipe-55x");
    REQUIRE(adapter.Configure(config).ok());
    HttpRequest request = GetLead();
    request.path = "/persons/search?term=lead%3A42";
    CHECK(adapter.transport().Send(request).status == 200);
    REQUIRE(rig.crm_requests().size() == 1);
    CHECK(rig.crm_requests()[0] == "GET /persons/search?term=lead%3A42&k=qk-Pipe-55x | ");
    CHECK(request.path == "/persons/search?term=lead%3A42");  // The engine's copy stays clean.

    WireRequest wire;
    REQUIRE(AsPreparing(&adapter.transport())->Prepare(request, &wire).ok());
    CHECK(wire.url == rig.crm_url() + "/persons/search?term=lead%3A42&k=[token]");
    CheckNoSecret(wire.url);

    // A CRM that refuses the token: the classified message holds no token.
    rig.crm_status = [](const std::string&) { return 401; };
    const HttpResponse refused_answer = adapter.transport().Send(request);
    CHECK(refused_answer.body.find("k=[token]") != std::string::npos);
    const Status status = adapter.Classify(request, refused_answer);
    CHECK(status.code() == StatusCode::kUnauthenticated);
    CheckNoSecret(refused_answer.body);
    CheckNoSecret(status.message());

    GenericRestAdapter unset;
    config.Set("api_key", "");
    const Status refused = unset.Configure(config);
    CHECK(refused.code() == StatusCode::kInvalidConfig);
    CHECK(refused.message().find("api_key: required by the mapping's auth/query/k") !=
          std::string::npos);
    CHECK(HasError(ParseErrors(R"({"name": "x", "auth": {"type": "apiKeyQuery"}})"),
                   "/auth/query: required"));
  }
}

}  // namespace
}  // namespace crmsync::genericrest
