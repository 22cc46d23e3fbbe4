// Alerts and the health monitor; see alerts.h.
#include "ops/alerts.h"

#include <chrono>

#include <Poco/URI.h>

#include "common/json_writer.h"
#include "common/logging.h"
#include "crmsync/classify.h"

namespace crmsync::engine {

std::unique_ptr<Alerts> Alerts::Create(const std::string& webhook_url, bool allow_insecure,
                                       RetryPolicy policy, Clock* clock, MetricsRegistry* metrics,
                                       std::string* error) {
  std::unique_ptr<Alerts> alerts(new Alerts(policy));
  alerts->clock_ = clock;
  alerts->metrics_ = metrics;
  if (!webhook_url.empty()) {
    HttpTransportOptions options;
    try {
      Poco::URI uri(webhook_url);
      if (uri.getHost().empty()) throw Poco::SyntaxException("no host");
      options.base_url = uri.getScheme() + "://" + uri.getAuthority();
      alerts->path_ = uri.getPathEtc().empty() ? "/" : uri.getPathEtc();
    } catch (const Poco::Exception& e) {
      *error = "alerts.webhook_url: not a URL: " + e.message();
      return nullptr;
    }
    options.allow_insecure_http = allow_insecure;
    options.timeout_ms = 10000;
    Status s = HttpTransport::Create(options, &alerts->transport_);
    if (!s.ok()) {
      *error = "alerts.webhook_url: " + s.message();
      return nullptr;
    }
  }
  return alerts;
}

Alerts::~Alerts() { Stop(); }

void Alerts::Start() {
  if (!transport_) return;
  advance_subscription_ = clock_->OnAdvance([this] { cv_.notify_all(); });
  sender_ = std::thread([this] { SendLoop(); });
}

void Alerts::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (clock_) clock_->RemoveOnAdvance(advance_subscription_);
  cv_.notify_all();
  if (sender_.joinable()) sender_.join();
}

void Alerts::Enqueue(const std::string& state, const ActiveAlert& alert) {
  if (!transport_) return;
  std::string text = std::string(state == "firing" ? ":rotating_light: crmsync ALERT " : ":white_check_mark: crmsync resolved ") +
                     alert.kind + " (" + alert.subject + "): " + alert.message;
  Post post;
  post.body = JsonObject()
                  .Str("text", text)
                  .Str("kind", alert.kind)
                  .Str("subject", alert.subject)
                  .Str("state", state)
                  .Str("at", FormatIsoMs(clock_->NowMs()))
                  .Done();
  post.due_ms = clock_->NowMs();
  outbox_.push_back(std::move(post));
  cv_.notify_all();
}

bool Alerts::Raise(const std::string& kind, const std::string& subject, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(kind, subject);
  if (active_.count(key)) return false;
  ActiveAlert alert{kind, subject, message, clock_->NowMs()};
  active_[key] = alert;
  ComponentLogger("alerts").error("ALERT %s (%s): %s", kind, subject, message);
  if (metrics_) {
    metrics_->GetCounter("crmsync_alerts_total", "Alert episodes started, by kind.", {{"kind", kind}})
        .Inc();
  }
  Enqueue("firing", alert);
  return true;
}

bool Alerts::Resolve(const std::string& kind, const std::string& subject,
                     const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(std::make_pair(kind, subject));
  if (it == active_.end()) return false;
  ActiveAlert alert = it->second;
  alert.message = message;
  active_.erase(it);
  ComponentLogger("alerts").notice("resolved %s (%s): %s", kind, subject, message);
  Enqueue("resolved", alert);
  return true;
}

std::vector<ActiveAlert> Alerts::Active() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ActiveAlert> list;
  for (const auto& [key, alert] : active_) list.push_back(alert);
  return list;
}

int64_t Alerts::posted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return posted_;
}

int64_t Alerts::retries_scheduled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return retries_scheduled_;
}

int64_t Alerts::post_failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return post_failures_;
}

void Alerts::SendLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (outbox_.empty() || outbox_.front().due_ms > clock_->NowMs()) {
      int64_t wait = outbox_.empty() ? 1000 : std::min<int64_t>(1000, outbox_.front().due_ms - clock_->NowMs());
      cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, wait)));
      continue;
    }
    Post post = outbox_.front();
    outbox_.pop_front();
    lock.unlock();
    HttpRequest request;
    request.method = "POST";
    request.path = path_;
    request.route = "alert.webhook";
    request.body = post.body;
    Status s = DefaultClassify(transport_->Send(request), clock_->NowMs());
    lock.lock();
    if (s.ok()) {
      ++posted_;
      continue;
    }
    ++post.attempts;
    if (s.IsTransient() && policy_.MayRetry(post.attempts)) {
      post.due_ms = clock_->NowMs() + std::max(policy_.DelayMs(post.attempts, 1.0), s.retry_after_ms());
      outbox_.push_back(std::move(post));
      ++retries_scheduled_;
    } else {
      ++post_failures_;
      ComponentLogger("alerts").error("alert webhook gave up: %s", s.ToString());
    }
  }
}

HealthMonitor::~HealthMonitor() { Stop(); }

void HealthMonitor::Start() {
  advance_subscription_ = clock_->OnAdvance([this] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++generation_;
    }
    cv_.notify_all();
  });
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      // Taken before the pass: a clock advanced during Evaluate() asks for another.
      uint64_t seen = generation_;
      lock.unlock();
      try {
        Evaluate();
      } catch (const std::exception& e) {
        ComponentLogger("alerts").error("health check failed: %s", std::string(e.what()));
      }
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(thresholds_.check_interval_ms),
                   [&] { return stopping_ || generation_ != seen; });
    }
  });
}

void HealthMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  clock_->RemoveOnAdvance(advance_subscription_);
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HealthMonitor::Evaluate() {
  const std::string& plugin = probes_.plugin;
  std::string reason;
  if (probes_.sync_enabled && !probes_.sync_enabled(&reason)) {
    alerts_->Raise("sync_disabled", plugin, "sync is disabled: " + reason);
  } else if (probes_.sync_enabled) {
    alerts_->Resolve("sync_disabled", plugin, "sync enabled again");
  }
  if (probes_.circuit_open && probes_.circuit_open()) {
    alerts_->Raise("circuit_open", plugin, "the CRM keeps failing; jobs are held until a probe succeeds");
  } else if (probes_.circuit_open) {
    alerts_->Resolve("circuit_open", plugin, "the circuit closed");
  }
  if (probes_.success_ratio && probes_.calls_in_window) {
    double ratio = probes_.success_ratio();
    int64_t calls = probes_.calls_in_window();
    if (ratio >= 0 && calls >= thresholds_.min_calls && 1.0 - ratio > thresholds_.max_failure_ratio) {
      alerts_->Raise("failure_rate", plugin,
                     std::to_string(static_cast<int>((1.0 - ratio) * 100)) + "% of " +
                         std::to_string(calls) + " CRM calls failed in the window");
    } else if (ratio < 0 || 1.0 - ratio <= thresholds_.max_failure_ratio) {
      alerts_->Resolve("failure_rate", plugin, "CRM failure rate back under the threshold");
    }
  }
  if (probes_.queue_depth) {
    int64_t depth = probes_.queue_depth();
    if (depth > thresholds_.max_queue_depth) {
      alerts_->Raise("queue_depth", plugin, std::to_string(depth) + " jobs waiting (threshold " +
                                                std::to_string(thresholds_.max_queue_depth) + ")");
    } else {
      alerts_->Resolve("queue_depth", plugin, "queue depth back under the threshold");
    }
  }
  if (probes_.oldest_job_age_s) {
    int64_t age = probes_.oldest_job_age_s();
    if (age > thresholds_.max_oldest_job_age_s) {
      alerts_->Raise("oldest_job_age", plugin,
                     "the oldest unfinished job is " + std::to_string(age) + " s old (threshold " +
                         std::to_string(thresholds_.max_oldest_job_age_s) + " s)");
    } else {
      alerts_->Resolve("oldest_job_age", plugin, "oldest job age back under the threshold");
    }
  }
}

}  // namespace crmsync::engine
