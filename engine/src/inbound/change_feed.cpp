// Change feed and callbacks; see change_feed.h.
#include "inbound/change_feed.h"

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include <Poco/URI.h>

#include "common/json_writer.h"
#include "common/logging.h"
#include "crmsync/classify.h"

namespace crmsync::engine {

std::string ChangeJson(const ChangeRecord& c) {
  return JsonObject()
      .Int("seq", c.seq)
      .Str("at", FormatIsoMs(c.at_ms))
      .Str("entity", c.entity_kind + ":" + c.entity_id)
      .Str("source", c.source)
      .Str("deliveryId", c.delivery_id)
      .Str("crmEvent", c.crm_event)
      .Raw("fields", c.fields_json)
      .Raw("data", c.entity_json)
      .Done();
}

void AddChangeFeedRoutes(Router& router, ChangeLog* store, const std::string& token) {
  router.Add("GET", std::string(kApiV1) + "changes", [store, token](HttpContext& ctx) {
    if (!ctx.RequireBearer(token)) return;
    // A whole number in [min, max], or nullopt (std::stoll's own errors included).
    auto whole = [](const std::string& text, int64_t min, int64_t max) -> std::optional<int64_t> {
      try {
        size_t used = 0;
        int64_t value = std::stoll(text, &used);
        if (used != text.size() || value < min || value > max) return std::nullopt;
        return value;
      } catch (const std::exception&) {
        return std::nullopt;
      }
    };
    std::optional<int64_t> after =
        whole(ctx.Query("after", "0"), 0, std::numeric_limits<int64_t>::max());
    if (!after) {
      ctx.SendError(400, "after must be a change sequence number (0 or more)");
      return;
    }
    std::optional<int64_t> limit = whole(ctx.Query("limit", "100"), 1, 1000);
    if (!limit) {
      ctx.SendError(400, "limit must be a whole number from 1 to 1000");
      return;
    }
    std::vector<ChangeRecord> changes = store->Changes(*after, static_cast<int>(*limit));
    std::vector<std::string> list;
    int64_t next = *after;
    for (const ChangeRecord& c : changes) {
      list.push_back(ChangeJson(c));
      next = c.seq;
    }
    ctx.SendJson(200, JsonObject().Raw("changes", JsonArray(list)).Int("next", next).Done());
  });
}

std::unique_ptr<CallbackSender> CallbackSender::Create(const std::string& url, bool allow_insecure,
                                                       ChangeLog* store, RetryPolicy policy,
                                                       Clock* clock, MetricsRegistry* metrics,
                                                       std::string* error) {
  std::unique_ptr<CallbackSender> sender(new CallbackSender());
  std::string base;
  try {
    Poco::URI uri(url);
    if (uri.getHost().empty()) throw Poco::SyntaxException("no host");
    base = uri.getScheme() + "://" + uri.getAuthority();
    sender->path_ = uri.getPathEtc().empty() ? "/" : uri.getPathEtc();
  } catch (const Poco::Exception& e) {
    *error = "inbound.callback_url: not a URL: " + e.message();
    return nullptr;
  }
  HttpTransportOptions options;
  options.base_url = base;
  options.allow_insecure_http = allow_insecure;
  options.timeout_ms = 10000;
  Status s = HttpTransport::Create(options, &sender->transport_);
  if (!s.ok()) {
    *error = "inbound.callback_url: " + s.message();
    return nullptr;
  }
  sender->store_ = store;
  sender->policy_ = policy;
  sender->clock_ = clock;
  sender->metrics_ = metrics;
  return sender;
}

CallbackSender::~CallbackSender() { Stop(); }

void CallbackSender::Start() {
  advance_subscription_ = clock_->OnAdvance([this] { Wake(); });
  loop_.Start(std::chrono::milliseconds(500), [this] { SendDue(); },
              [](const std::string& error) {
                ComponentLogger("inbound").error("change callbacks failed: %s", error);
              });
}

void CallbackSender::Stop() {
  if (clock_ && advance_subscription_ >= 0) {
    clock_->RemoveOnAdvance(advance_subscription_);
    advance_subscription_ = -1;
  }
  loop_.Stop();
}

void CallbackSender::Wake() { loop_.Wake(); }

int CallbackSender::SendDue() {
  std::lock_guard<std::mutex> send_lock(send_mu_);
  int sent = 0;
  for (const PendingCallback& p : store_->DueCallbacks(clock_->NowMs(), 32)) {
    HttpRequest request;
    request.method = "POST";
    request.path = path_;
    request.route = "change.callback";
    request.body = ChangeJson(p.change);
    request.headers.push_back({"X-Crmsync-Change-Seq", std::to_string(p.change.seq)});
    HttpResponse response = transport_->Send(request);
    Status s = DefaultClassify(response, clock_->NowMs());
    int attempts = p.attempts + 1;
    int64_t now = clock_->NowMs();
    bool delivered = s.ok();
    bool dead = !delivered && (!s.IsTransient() || !policy_.MayRetry(attempts));
    int64_t retry_at = now + std::max(policy_.DelayMs(attempts, 1.0), s.retry_after_ms());
    store_->FinishCallback(p.change.seq, delivered, attempts, retry_at, dead,
                           delivered ? "" : s.ToString(), now);
    if (metrics_) {
      metrics_
          ->GetCounter("crmsync_change_callbacks_total", "Change-feed callbacks, by result.",
                       {{"result", delivered ? "delivered" : dead ? "dead_lettered" : "retry"}})
          .Inc();
    }
    if (dead) {
      ComponentLogger("inbound").error("change %s could not be delivered to the callback: %s",
                                       std::to_string(p.change.seq), s.ToString());
    }
    ++sent;
  }
  return sent;
}

}  // namespace crmsync::engine
