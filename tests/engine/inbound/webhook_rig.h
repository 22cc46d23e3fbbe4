// webhook_rig.h: POST /api/v1/crm/webhook served for real inside the test process:
// a SQLite file, the real mock-crm plugin behind its GuardedAdapter, the
// Router with the webhook routes (and the change feed), and an HttpServer on
// loopback. Time is a ManualClock.
//
// Test code; the rig is driven from one thread, the server runs its own.
#ifndef CRMSYNC_TESTS_ENGINE_INBOUND_WEBHOOK_RIG_H_
#define CRMSYNC_TESTS_ENGINE_INBOUND_WEBHOOK_RIG_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/strings.h"
#include "http/router.h"
#include "http/server.h"
#include "inbound/change_feed.h"
#include "inbound_fixtures.h"
#include "metrics/metrics.h"
#include "webhook/verify.h"
#include "webhook/webhook_handler.h"

namespace crmsync::engine::inbound_test {

using crmsync::testing::HttpCall;
using crmsync::testing::HttpResult;
using Headers = std::map<std::string, std::string>;

constexpr char kSharedSecret[] = "shared-secret-one";
constexpr char kSharedSecret2[] = "shared-secret-two";
constexpr char kKey1[] = "standard-key-one-0123456789";
constexpr char kKey2[] = "standard-key-two-9876543210";
constexpr char kFeedToken[] = "intake-token-for-feed";

inline std::string Whsec(const std::string& key) { return "whsec_" + Base64Encode(key); }

struct WebhookRigOptions {
  std::vector<std::string> secrets = {kSharedSecret, kSharedSecret2, Whsec(kKey1), Whsec(kKey2)};
  int64_t max_body_bytes = 4096;
  /// Where the store lives; a fresh TempDir file when empty.
  std::string db_path;
};

class WebhookRig {
 public:
  explicit WebhookRig(WebhookRigOptions options = {}) {
    db_path_ = options.db_path.empty() ? dir_.File("crmsync.db") : options.db_path;
    store_ = OpenStore(db_path_);
    plugin_ = LoadMockCrm();
    WebhookContext context;
    context.store = store_.get();
    context.adapter = &plugin_->adapter();
    context.plugin = kPlugin;
    context.clock = &clock_;
    context.metrics = &metrics_;
    std::string error;
    REQUIRE_MESSAGE(ParseWebhookSecrets(options.secrets, &context.secrets, &error), error);
    context.shutting_down = &shutting_down_;
    context.on_recorded = [this] {
      recorded_calls_.fetch_add(1);
      std::function<void()> hook;
      {
        std::lock_guard<std::mutex> lock(hook_mu_);
        hook = on_recorded_;
      }
      if (hook) hook();
    };
    auto router = std::make_shared<Router>();
    AddWebhookRoutes(*router, std::move(context));
    AddChangeFeedRoutes(*router, store_.get(), kFeedToken);
    HttpServerOptions server_options;
    server_options.port = 0;
    server_options.threads = 4;
    server_options.max_body_bytes = options.max_body_bytes;
    server_ = std::make_unique<HttpServer>(server_options, router);
    server_->Start();
  }
  ~WebhookRig() { Close(); }

  /// Stops serving and closes the store and plugin (the file stays).
  void Close() {
    if (server_) server_->Stop();
    server_.reset();
    store_.reset();
    plugin_.reset();
  }

  int port() const { return server_->port(); }
  SqliteStore& store() { return *store_; }
  LoadedPlugin& plugin() { return *plugin_; }
  ManualClock& clock() { return clock_; }
  MetricsRegistry& metrics() { return metrics_; }
  std::atomic<bool>& shutting_down() { return shutting_down_; }
  int recorded_calls() const { return recorded_calls_.load(); }
  const std::string& db_path() const { return db_path_; }
  void OnRecorded(std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(hook_mu_);
    on_recorded_ = std::move(hook);
  }

  int64_t Deliveries(const std::string& result) const {
    return metrics_.CounterValue("crmsync_webhook_deliveries_total", {{"result", result}});
  }

  HttpResult Post(const std::string& body, const Headers& headers) {
    return HttpCall(port(), "POST", "/api/v1/crm/webhook", body, headers);
  }
  /// With the shared secret and X-CRM-Event taken from `event`.
  HttpResult PostShared(const std::string& body, const std::string& event = "lead.updated",
                        Headers extra = {}) {
    extra["X-CRM-Secret"] = kSharedSecret;
    extra["X-CRM-Event"] = event;
    return Post(body, extra);
  }
  /// Signed with the Standard Webhooks scheme at the clock's now (+ `skew_s`).
  HttpResult PostSigned(const std::string& body, const std::string& id,
                        const std::string& key = kKey1, int64_t skew_s = 0) {
    return Post(body, SignedHeaders(body, id, key, clock_.NowMs() / 1000 + skew_s));
  }
  static Headers SignedHeaders(const std::string& body, const std::string& id,
                               const std::string& key, int64_t timestamp_s) {
    const std::string ts = std::to_string(timestamp_s);
    return {{"webhook-id", id},
            {"webhook-timestamp", ts},
            {"webhook-signature", StandardWebhookSignature(key, id, ts, body)},
            {"X-CRM-Event", "lead.updated"}};
  }

 private:
  crmsync::testing::TempDir dir_;
  std::string db_path_;
  ManualClock clock_{kT0};
  MetricsRegistry metrics_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<int> recorded_calls_{0};
  std::mutex hook_mu_;
  std::function<void()> on_recorded_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<LoadedPlugin> plugin_;
  std::unique_ptr<HttpServer> server_;
};

// The strategy's webhook body.
inline std::string WebhookBody(const std::string& entity_id, const std::string& data,
                               const std::string& event = "lead.updated") {
  return R"({"event":")" + event + R"(","entityId":")" + entity_id + R"(","data":)" + data + "}";
}

}  // namespace crmsync::engine::inbound_test

#endif  // CRMSYNC_TESTS_ENGINE_INBOUND_WEBHOOK_RIG_H_
