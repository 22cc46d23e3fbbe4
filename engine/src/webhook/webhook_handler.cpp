// POST /api/v1/crm/webhook; see webhook_handler.h.
#include "webhook/webhook_handler.h"

#include <memory>

#include "common/hash.h"
#include "common/json_writer.h"
#include "common/logging.h"

namespace crmsync::engine {
namespace {

// Counters looked up once.
struct WebhookCounters {
  explicit WebhookCounters(MetricsRegistry* m) : metrics(m) {
    if (!metrics) return;
    for (const char* result :
         {"accepted", "duplicate", "ignored", "malformed", "refused_missing",
          "refused_bad_signature", "refused_stale", "refused_malformed", "refused_plugin"}) {
      metrics->GetCounter("crmsync_webhook_deliveries_total", "CRM webhook deliveries, by result.",
                          {{"result", result}});
    }
  }
  void Count(const std::string& result) {
    if (metrics) {
      metrics
          ->GetCounter("crmsync_webhook_deliveries_total", "CRM webhook deliveries, by result.",
                       {{"result", result}})
          .Inc();
    }
  }
  MetricsRegistry* metrics;
};

}  // namespace

std::string DeliveryId(const HeaderList& headers, const std::string& body, int64_t now_ms) {
  for (const char* name : {"webhook-id", "X-CRM-Delivery", "X-Request-Id"}) {
    std::string id = FindHeader(headers, name);
    if (!id.empty()) return id.substr(0, 200);
  }
  return "sha-" + StableHash(FindHeader(headers, "X-CRM-Event") + "\n" + body) + "-w" +
         std::to_string(now_ms / kHashDeliveryWindowMs);
}

std::string WebhookUrl(const std::string& public_url, const std::string& host,
                       const std::string& uri) {
  if (!public_url.empty()) {
    const size_t scheme_end = public_url.find("://");
    if (scheme_end != std::string::npos) {
      const size_t path = public_url.find_first_of("/?#", scheme_end + 3);
      const std::string origin = public_url.substr(0, path);
      // A path in the public URL is the one the CRM called, even when a proxy
      // strips a prefix before the request reaches us; the query is the
      // request's own.
      if (path != std::string::npos && public_url[path] == '/') {
        const size_t path_end = public_url.find_first_of("?#", path);
        const std::string public_path = public_url.substr(path, path_end - path);
        if (public_path != "/") {
          const size_t query = uri.find('?');
          return origin + public_path + (query == std::string::npos ? "" : uri.substr(query));
        }
      }
      return origin + uri;
    }
  }
  return "http://" + host + uri;
}

std::string PluginRefusalResult(const std::string& message) {
  for (const char* reason : {"missing", "bad_signature", "stale", "malformed"}) {
    const std::string prefix = std::string(reason) + ":";
    if (message.compare(0, prefix.size(), prefix) == 0) return "refused_" + std::string(reason);
  }
  return "refused_plugin";
}

void AddWebhookRoutes(Router& router, WebhookContext ctx) {
  auto counters = std::make_shared<WebhookCounters>(ctx.metrics);
  router.Add("POST", std::string(kApiV1) + "crm/webhook", [ctx, counters](HttpContext& http) {
    Poco::Logger& log = ComponentLogger("webhook");
    if (ctx.shutting_down && ctx.shutting_down->load()) {
      counters->Count("shutting_down");
      http.SetHeader("Retry-After", "5");
      http.SendError(503, "shutting down; retry later");
      return;
    }
    std::string body;
    if (http.request().too_large_limit() >= 0) counters->Count("too_large");  // before the 413
    if (!http.ReadBody(&body)) return;
    WebhookDelivery delivery;
    for (const auto& [name, value] : http.request().headers()) delivery.headers.push_back({name, value});
    delivery.body = body;
    delivery.method = http.request().method();
    delivery.url = WebhookUrl(ctx.public_url, http.request().header("Host"), http.request().uri());
    delivery.received_ms = ctx.clock->NowMs();

    // The reason for a refusal stays in our log and metrics; the answer helps no forger.
    auto refuse = [&](const std::string& result, const std::string& outcome) {
      counters->Count(result);
      LogWith(log, Poco::Message::PRIO_WARNING, "webhook refused",
              {{"outcome", outcome}, {"status", "401"}});
      http.SendError(401, "unauthorized");
    };
    // The plugin's own scheme first (a CRM's signature, crmsync/webhook_verify.h);
    // the engine's only when the plugin has none.
    std::string delivery_id;
    Status own = ctx.adapter->VerifyWebhook(delivery);
    if (own.code() == StatusCode::kInternal) {
      counters->Count("verify_error");
      log.error("the plugin failed to verify a webhook: %s", own.message());  // masked by the guard
      http.SendError(500, "the plugin failed to verify it");
      return;
    }
    if (own.code() == StatusCode::kNotFound) {
      WebhookCheck check = VerifyWebhook(delivery.headers, body, ctx.secrets,
                                         delivery.received_ms / 1000, ctx.tolerance_s);
      if (check.verdict != WebhookVerdict::kVerified) {
        refuse(std::string("refused_") + WebhookVerdictName(check.verdict),
               WebhookVerdictName(check.verdict));
        return;
      }
      delivery_id = check.delivery_id;
    } else if (!own.ok()) {
      const std::string result = PluginRefusalResult(own.message());
      refuse(result, result.substr(std::string("refused_").size()) + " (plugin, " +
                         StatusCodeName(own.code()) + ")");
      return;
    }
    std::vector<InboundChange> changes;
    Status parsed = ctx.adapter->ParseWebhook(delivery, &changes);
    if (!parsed.ok()) {
      counters->Count("malformed");
      http.SendError(parsed.code() == StatusCode::kInternal ? 500 : 400,
                     parsed.code() == StatusCode::kInternal ? "the plugin failed to read it"
                                                            : parsed.message());
      return;
    }
    const std::string event = FindHeader(delivery.headers, "X-CRM-Event");
    if (changes.empty()) {
      counters->Count("ignored");
      http.SendJson(202, JsonObject().Str("status", "ignored").Str("reason", "event not handled").Done());
      return;
    }
    InboundDelivery record;
    record.id = delivery_id.empty() ? DeliveryId(delivery.headers, body, delivery.received_ms)
                                    : delivery_id;
    record.plugin = ctx.plugin;
    record.event = event.empty() ? changes.front().crm_event : event;
    record.changes = std::move(changes);
    record.received_ms = delivery.received_ms;
    bool recorded = false;
    try {
      recorded = ctx.store->RecordDelivery(record);
    } catch (const std::exception& e) {
      counters->Count("store_error");
      log.error("could not record webhook delivery %s: %s", record.id, std::string(e.what()));
      http.SetHeader("Retry-After", "1");
      http.SendError(503, "not recorded; retry");
      return;
    }
    if (!recorded) {
      counters->Count("duplicate");
      http.SendJson(200, JsonObject().Str("status", "duplicate").Str("deliveryId", record.id).Done());
      return;
    }
    counters->Count("accepted");
    LogWith(log, Poco::Message::PRIO_INFORMATION, "webhook recorded",
            {{"delivery_id", record.id}, {"plugin", ctx.plugin}, {"status", "202"}});
    if (ctx.on_recorded) ctx.on_recorded();  // before the answer: its reader may rely on it
    http.SendJson(202, JsonObject().Str("status", "accepted").Str("deliveryId", record.id).Done());
  });
}

}  // namespace crmsync::engine
