// webhook_plugin_verify_test.cpp: POST /api/v1/crm/webhook with a plugin that
// has a signature scheme of its own (SDK ABI 4.0, docs/design.md §5): the
// plugin is asked first and given the delivery's method, URL (crm.webhook.url's
// origin, or the Host header, plus the request's path and query) and receive
// time; OK accepts without the engine's secrets, kUnauthenticated refuses with
// its reason counted, kNotFound falls back to the engine's schemes. Served for
// real over loopback, with an in-process plugin that records what it was given.
#include <doctest/doctest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crmsync/webhook_verify.h"
#include "in_process_crm.h"
#include "webhook_rig.h"

namespace crmsync::engine {
namespace {

using namespace inbound_test;  // NOLINT

// A CRM whose VerifyWebhook answer the test sets; it records every delivery it
// is asked to verify, and maps any body to one change of lead "crm_L1".
class VerifyingCrm : public InProcessCrm {
 public:
  VerifyingCrm() : InProcessCrm("verifying-crm") {}

  Status VerifyWebhook(const WebhookDelivery& delivery) override {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(delivery);
    if (use_scheme) return VerifyWebhookWith(scheme, delivery);
    return answer;
  }
  Status ParseWebhook(const WebhookDelivery&, std::vector<InboundChange>* changes) override {
    changes->push_back(LeadChange("crm_L1", R"({"notes":"from the CRM"})"));
    return Status::Ok();
  }

  std::vector<WebhookDelivery> Seen() {
    std::lock_guard<std::mutex> lock(mu);
    return seen;
  }

  std::mutex mu;
  std::vector<WebhookDelivery> seen;
  Status answer = Status::NotFound("no scheme of its own");
  bool use_scheme = false;
  WebhookVerifier scheme;
};

constexpr char kHubSpotSecret[] = "hubspot-app-secret";

// The webhook route over a SQLite file, with VerifyingCrm and the engine's
// shared secret kSharedSecret configured.
class PluginRig {
 public:
  explicit PluginRig(const std::string& public_url = "") {
    store_ = OpenStore(dir_.File("crmsync.db"));
    WebhookContext context;
    context.store = store_.get();
    context.adapter = &guarded_;
    context.plugin = kPlugin;
    context.clock = &clock_;
    context.metrics = &metrics_;
    context.public_url = public_url;
    std::string error;
    REQUIRE_MESSAGE(ParseWebhookSecrets({kSharedSecret}, &context.secrets, &error), error);
    auto router = std::make_shared<Router>();
    AddWebhookRoutes(*router, std::move(context));
    HttpServerOptions options;
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<HttpServer>(options, router);
    server_->Start();
  }
  ~PluginRig() { server_->Stop(); }

  HttpResult Post(const std::string& path, const std::string& body, Headers headers) {
    return HttpCall(server_->port(), "POST", path, body, headers);
  }
  int64_t Deliveries(const std::string& result) const {
    return metrics_.CounterValue("crmsync_webhook_deliveries_total", {{"result", result}});
  }

  VerifyingCrm crm;
  ManualClock& clock() { return clock_; }
  SqliteStore& store() { return *store_; }

 private:
  crmsync::testing::TempDir dir_;
  ManualClock clock_{kT0};
  MetricsRegistry metrics_;
  std::unique_ptr<SqliteStore> store_;
  GuardedAdapter guarded_{&crm, "verifying-crm"};
  std::unique_ptr<HttpServer> server_;
};

constexpr char kPath[] = "/api/v1/crm/webhook";

TEST_SUITE("engine.inbound") {
  TEST_CASE("webhook plugin verify: the plugin gets method, URL from the Host header and the "
            "engine's receive time") {
    PluginRig rig;
    rig.crm.answer = Status::Ok();
    rig.clock().Advance(1234);
    HttpResult result = rig.Post(std::string(kPath) + "?portalId=62515&x=%20y", "[]",
                                 {{"Host", "crm-hooks.internal:8443"}});
    CHECK(result.status == 202);
    std::vector<WebhookDelivery> seen = rig.crm.Seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "POST");
    CHECK(seen[0].url == "http://crm-hooks.internal:8443/api/v1/crm/webhook?portalId=62515&x=%20y");
    CHECK(seen[0].received_ms == kT0 + 1234);
    CHECK(seen[0].body == "[]");
  }

  TEST_CASE("webhook plugin verify: crm.webhook.url gives the URL the CRM called, the request its query") {
    PluginRig rig("https://sync.example.com:9443/hooks/crm?ignored=1");
    rig.crm.answer = Status::Ok();
    REQUIRE(rig.Post(std::string(kPath) + "?a=1", "{}", {{"Host", "127.0.0.1"}}).status == 202);
    std::vector<WebhookDelivery> seen = rig.crm.Seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].url == "https://sync.example.com:9443/hooks/crm?a=1");
  }

  TEST_CASE("webhook plugin verify: WebhookUrl takes the public origin and path, and the Host without one") {
    CHECK(WebhookUrl("https://h.example", "ignored", "/p?q") == "https://h.example/p?q");
    // The public path is what the CRM called and signed, whatever a proxy
    // rewrote it to; the query is the request's.
    CHECK(WebhookUrl("https://h.example:8443/a/b", "", "/p") == "https://h.example:8443/a/b");
    CHECK(WebhookUrl("https://x.example/crmsync/api/v1/crm/webhook", "", "/api/v1/crm/webhook?portal=7") ==
          "https://x.example/crmsync/api/v1/crm/webhook?portal=7");
    CHECK(WebhookUrl("https://x.example/", "", "/api/v1/crm/webhook") ==
          "https://x.example/api/v1/crm/webhook");
    CHECK(WebhookUrl("http://h.example?x#y", "", "/p") == "http://h.example/p");
    CHECK(WebhookUrl("", "10.0.0.2:8080", "/p") == "http://10.0.0.2:8080/p");
    CHECK(WebhookUrl("not a url", "host", "/p") == "http://host/p");
  }

  TEST_CASE("webhook plugin verify: a plugin's OK accepts without the engine's secrets") {
    PluginRig rig;
    rig.crm.answer = Status::Ok();
    HttpResult result = rig.Post(kPath, "{}", {{"X-CRM-Delivery", "d-plugin-ok"}});
    CHECK(result.status == 202);
    CHECK(rig.Deliveries("accepted") == 1);
    std::vector<InboundDelivery> pending = rig.store().PendingDeliveries(10);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].id == "d-plugin-ok");
  }

  TEST_CASE("webhook plugin verify: a plugin's refusal is 401 even with the engine's secret, its "
            "reason counted") {
    struct Case {
      std::string message;
      std::string result;
    };
    for (const Case& c : std::vector<Case>{
             {"missing: no X-HubSpot-Signature-v3 header", "refused_missing"},
             {"bad_signature: X-HubSpot-Signature-v3 matches no secret", "refused_bad_signature"},
             {"stale: timestamp 400 s old", "refused_stale"},
             {"malformed: timestamp is not a number", "refused_malformed"},
             {"no reason given", "refused_plugin"},
             {"stalemate: not a reason", "refused_plugin"}}) {
      CAPTURE(c.message);
      PluginRig rig;
      rig.crm.answer = Status::Unauthenticated(c.message);
      HttpResult result = rig.Post(kPath, "{}", {{"X-CRM-Secret", kSharedSecret}});
      CHECK(result.status == 401);
      CHECK_FALSE(Contains(result.body, c.message));  // no detail for a forger
      CHECK(rig.Deliveries(c.result) == 1);
      CHECK(rig.store().PendingDeliveries(10).empty());
    }
    CHECK(PluginRefusalResult("bad_signature: x") == "refused_bad_signature");
    CHECK(PluginRefusalResult("") == "refused_plugin");
  }

  TEST_CASE("webhook plugin verify: kNotFound falls back to the engine's schemes") {
    PluginRig rig;  // the default answer: kNotFound
    CHECK(rig.Post(kPath, "{}", {{"X-CRM-Secret", kSharedSecret}, {"X-CRM-Delivery", "d-1"}})
              .status == 202);
    CHECK(rig.Post(kPath, "{}", {{"X-CRM-Secret", "wrong"}}).status == 401);
    CHECK(rig.Post(kPath, "{}", {}).status == 401);
    CHECK(rig.Deliveries("accepted") == 1);
    CHECK(rig.Deliveries("refused_bad_signature") == 1);
    CHECK(rig.Deliveries("refused_missing") == 1);
    CHECK(rig.crm.Seen().size() == 3);  // asked every time, first
  }

  TEST_CASE("webhook plugin verify: another code refuses, a throwing plugin is a 500") {
    PluginRig rig;
    rig.crm.answer = Status::Permanent("cannot verify");
    CHECK(rig.Post(kPath, "{}", {{"X-CRM-Secret", kSharedSecret}}).status == 401);
    CHECK(rig.Deliveries("refused_plugin") == 1);
    rig.crm.answer = Status::Internal("plugin bug");
    HttpResult result = rig.Post(kPath, "{}", {{"X-CRM-Secret", kSharedSecret}});
    CHECK(result.status == 500);
    CHECK_FALSE(Contains(result.body, "plugin bug"));
    CHECK(rig.Deliveries("verify_error") == 1);
    CHECK(rig.store().PendingDeliveries(10).empty());
  }

  TEST_CASE("webhook plugin verify: HubSpot v3 through the SDK's scheme, on the engine's clock") {
    PluginRig rig("https://sync.example.com");
    rig.crm.use_scheme = true;
    ParseWebhookScheme("hubspot-v3", &rig.crm.scheme.scheme);
    rig.crm.scheme.secrets = {kHubSpotSecret};
    const std::string body = R"([{"eventId":1,"objectId":51}])";
    const std::string url = "https://sync.example.com/api/v1/crm/webhook";
    auto signed_at = [&](int64_t ts_ms) {
      const std::string ts = std::to_string(ts_ms);
      return Headers{{"X-HubSpot-Request-Timestamp", ts},
                     {"X-HubSpot-Signature-v3", HubSpotSignatureV3(kHubSpotSecret, "POST", url,
                                                                   body, ts)}};
    };
    CHECK(rig.Post(kPath, body, signed_at(kT0)).status == 202);
    // Tampered.
    CHECK(rig.Post(kPath, body + " ", signed_at(kT0)).status == 401);
    CHECK(rig.Deliveries("refused_bad_signature") == 1);
    // Stale by the engine's clock (ten minutes on), whatever the wall clock says.
    rig.clock().Advance(10 * 60 * 1000);
    CHECK(rig.Post(kPath, body, signed_at(kT0)).status == 401);
    CHECK(rig.Deliveries("refused_stale") == 1);
  }
}

}  // namespace
}  // namespace crmsync::engine
