// Webhook registration; see registration.h.
#include "webhook/registration.h"

#include <chrono>

#include "common/hash.h"
#include "common/logging.h"

namespace crmsync::engine {

WebhookRegistrar::WebhookRegistrar(SyncStates* store, GuardedAdapter* adapter, std::string plugin,
                                   WebhookRegistration registration, RetryPolicy policy,
                                   Clock* clock, MetricsRegistry* metrics)
    : store_(store), adapter_(adapter), plugin_(std::move(plugin)),
      registration_(std::move(registration)), policy_(policy), clock_(clock), metrics_(metrics) {}

WebhookRegistrar::~WebhookRegistrar() { Stop(); }

std::string WebhookRegistrar::Fingerprint() const {
  std::string events;
  for (const std::string& e : registration_.events) events += e + ",";
  return StableHash(registration_.url + "\n" + events + "\n" + StableHash(registration_.secret));
}

Status WebhookRegistrar::RegisterOnce(bool* skipped) {
  *skipped = false;
  const std::string fingerprint = Fingerprint();
  if (store_->WebhookRegistration(plugin_) == fingerprint) {
    *skipped = true;
    return Status::Ok();
  }
  HttpRequest request;
  Status s = adapter_->BuildWebhookRegistration(registration_, &request);
  if (!s.ok()) return s;
  HttpResponse response = adapter_->Send(request);
  s = adapter_->Classify(request, response);
  if (s.ok()) store_->SetWebhookRegistration(plugin_, fingerprint, clock_->NowMs());
  return s;
}

std::string WebhookRegistrar::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void WebhookRegistrar::Start() {
  advance_subscription_ = clock_->OnAdvance([this] { cv_.notify_all(); });
  thread_ = std::thread([this] { Loop(); });
}

void WebhookRegistrar::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  clock_->RemoveOnAdvance(advance_subscription_);
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WebhookRegistrar::Loop() {
  Poco::Logger& log = ComponentLogger("webhook");
  for (int tries = 1;; ++tries) {
    bool skipped = false;
    Status s;
    try {
      s = RegisterOnce(&skipped);
    } catch (const std::exception& e) {
      s = Status::Retryable(e.what());
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (s.ok()) {
      state_ = skipped ? "already registered" : "registered";
      log.information("webhook %s with the CRM for %s", state_, registration_.url);
      return;
    }
    state_ = "failed: " + s.ToString();
    if (!s.IsTransient() || !policy_.MayRetry(tries)) {
      log.error("ALERT: webhook registration with the CRM failed: %s", s.ToString());
      if (metrics_) {
        metrics_->GetCounter("crmsync_alerts_total", "Alerts raised, by kind.",
                             {{"kind", "webhook_registration"}, {"plugin", plugin_}})
            .Inc();
      }
      return;
    }
    const int64_t due = clock_->NowMs() + std::max(policy_.DelayMs(tries, 1.0), s.retry_after_ms());
    while (!stopping_ && clock_->NowMs() < due) {
      cv_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(due - clock_->NowMs(), 1000)));
    }
    if (stopping_) return;
  }
}

}  // namespace crmsync::engine
