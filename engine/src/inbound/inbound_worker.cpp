// The inbound worker; see inbound_worker.h.
#include "inbound/inbound_worker.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <typeinfo>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "common/logging.h"

namespace crmsync::engine {

InboundWorker::InboundWorker(InboundLog* store, InboundRules rules, AgentDirectory* agents, Clock* clock,
                             MetricsRegistry* metrics)
    : store_(store), rules_(std::move(rules)), agents_(agents), clock_(clock), metrics_(metrics) {}

InboundWorker::~InboundWorker() { Stop(); }

void InboundWorker::Start() {
  // The delivery stays pending after a failed pass and is tried again on the next.
  loop_.Start(std::chrono::seconds(1), [this] { ProcessPending(); },
              [](const std::string& error) {
                ComponentLogger("inbound").error("processing deliveries failed: %s", error);
              });
}

void InboundWorker::Stop() { loop_.Stop(); }

void InboundWorker::Wake() { loop_.Wake(); }

void InboundWorker::MapAgents(InboundDelivery* delivery) {
  for (InboundChange& change : delivery->changes) {
    if (change.fields_json.find("assignedToId") == std::string::npos) continue;
    Poco::JSON::Object::Ptr fields;
    try {
      Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(change.fields_json);
      if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
        fields = parsed.extract<Poco::JSON::Object::Ptr>();
      }
    } catch (const Poco::Exception&) {
    }
    if (!fields) continue;  // not an object: the store reports the change as invalid
    if (!fields->has("assignedToId") || fields->isNull("assignedToId")) continue;
    std::string agent = fields->get("assignedToId").toString();
    std::optional<std::string> dealer = agents_ ? agents_->DealerFor(agent) : std::nullopt;
    if (dealer) {
      fields->set("assignedToId", *dealer);
    } else {
      // A CRM agent the platform does not know: never write a CRM id into the
      // platform's dealer field.
      fields->remove("assignedToId");
      if (agents_) {
        agents_->ReportUnmatched("inbound", agent, "delivery " + delivery->id);
      } else {
        ComponentLogger("inbound").warning("delivery %s: unknown CRM agent; assignment ignored",
                                           delivery->id);
      }
      if (metrics_) {
        metrics_->GetCounter("crmsync_inbound_unknown_agents_total",
                             "CRM agent ids with no platform dealer.")
            .Inc();
      }
    }
    std::ostringstream out;
    Poco::JSON::Stringifier::stringify(fields, out);
    change.fields_json = out.str();
  }
}

void InboundWorker::CountFetch(const char* result) {
  if (!metrics_) return;
  metrics_
      ->GetCounter("crmsync_inbound_fetches_total",
                   "Notification-only CRM changes fetched, by result.", {{"result", result}})
      .Inc();
}

bool InboundWorker::FetchChanges(InboundDelivery* delivery, Hold* hold, int64_t* wait_ms,
                                 bool* failed) {
  *wait_ms = 0;
  *failed = false;
  for (size_t i = 0; i < delivery->changes.size(); ++i) {
    const InboundChange& change = delivery->changes[i];
    if (!change.fetch || hold->filled.count(i) || hold->dropped.count(i)) continue;
    const std::string record = EntityKindName(change.entity_kind) + std::string(" ") +
                               change.external_id;
    InboundDrop drop;
    drop.entity_kind = change.entity_kind;
    drop.external_id = change.external_id;
    drop.action = "inbound_fetch_failed";
    if (!adapter_) {
      CountFetch("failed");
      drop.reason = "no plugin to fetch CRM record " + record + " with";
      hold->dropped[i] = std::move(drop);
      continue;
    }
    RateTicket ticket;
    if (limiter_) {
      const int64_t wait = limiter_->TryAcquire(clock_->NowMs(), &ticket);
      if (wait > 0) {
        CountFetch("budget_wait");
        *wait_ms = wait;
        return false;
      }
    }
    InboundChange filled = change;  // a failing plugin leaves the recorded change as it was
    const Status s = adapter_->FetchChange(&filled);
    // The limiter hears of every answer the CRM gave (a transport error or a
    // plugin fault is none), a 429 among them.
    if (limiter_ && IsCrmAnswer(s)) limiter_->OnAnswer(clock_->NowMs(), ticket, RateAnswerOf(s));
    // Plugin messages come through the guard's redaction (MaskSensitive).
    switch (s.code()) {
      case StatusCode::kOk:
        CountFetch("filled");
        filled.fetch = false;
        hold->filled[i] = std::move(filled);
        break;
      case StatusCode::kNotFound:
        CountFetch("gone");
        drop.action = "inbound_fetch_gone";
        drop.reason = "CRM record " + record + " is gone: " + s.message();
        hold->dropped[i] = std::move(drop);
        break;
      case StatusCode::kRetryable:
      case StatusCode::kRateLimited:
      case StatusCode::kInternal:
      case StatusCode::kUnauthenticated:
        CountFetch("retry");
        *failed = true;
        *wait_ms = std::max<int64_t>(0, s.retry_after_ms());
        LogWith(ComponentLogger("inbound"), Poco::Message::PRIO_WARNING,
                "could not fetch CRM record " + record + " (" + StatusCodeName(s.code()) +
                    "): " + s.message() + "; the delivery waits",
                {{"delivery_id", delivery->id}, {"outcome", "fetch_retry"}});
        return false;
      default:
        CountFetch("failed");
        drop.reason = "CRM record " + record + " could not be fetched (" +
                      StatusCodeName(s.code()) + "): " + s.message();
        LogWith(ComponentLogger("inbound"), Poco::Message::PRIO_ERROR, drop.reason,
                {{"delivery_id", delivery->id}, {"outcome", "fetch_failed"}});
        hold->dropped[i] = std::move(drop);
        break;
    }
  }
  std::vector<InboundChange> kept;
  for (size_t i = 0; i < delivery->changes.size(); ++i) {
    if (hold->dropped.count(i)) {
      delivery->dropped.push_back(hold->dropped[i]);
    } else {
      kept.push_back(hold->filled.count(i) ? hold->filled[i] : delivery->changes[i]);
    }
  }
  delivery->changes = std::move(kept);
  return true;
}

int InboundWorker::ProcessPending() {
  std::lock_guard<std::mutex> process_lock(process_mu_);
  constexpr int kBatch = 32;
  int processed = 0;
  while (true) {
    // Deliveries held back by a fetch stay at the head of the list: ask for as
    // many more, so they never crowd out the ones behind them.
    const int limit = kBatch + static_cast<int>(held_.size());
    std::vector<InboundDelivery> batch = store_->PendingDeliveries(limit);
    if (static_cast<int>(batch.size()) < limit) {
      // Every pending delivery is in hand: forget holds of the ones done since
      // (by another engine sharing the store).
      std::set<std::string> pending;
      for (const InboundDelivery& d : batch) pending.insert(d.id);
      for (auto it = held_.begin(); it != held_.end();) {
        it = pending.count(it->first) ? std::next(it) : held_.erase(it);
      }
    }
    if (batch.empty()) return processed;
    bool progressed = false;
    for (InboundDelivery& delivery : batch) {
      auto held = held_.find(delivery.id);
      if (held != held_.end() && clock_->NowMs() < held->second.until_ms) continue;
      Hold hold = held != held_.end() ? held->second : Hold();
      int64_t wait_ms = 0;
      bool failed = false;
      if (!FetchChanges(&delivery, &hold, &wait_ms, &failed)) {
        Hold& h = held_[delivery.id] = std::move(hold);
        if (failed) {
          ++h.failures;
          const int doublings = std::min(h.failures - 1, 20);
          wait_ms = std::max(wait_ms,
                             std::min(kFetchRetryFirstMs << doublings, kFetchRetryMaxMs));
        }
        h.until_ms = clock_->NowMs() + std::max<int64_t>(wait_ms, 1);
        continue;  // Still pending; tried again once the wait is over.
      }
      held_.erase(delivery.id);
      MapAgents(&delivery);
      std::vector<InboundResult> results = store_->ApplyDelivery(delivery, rules_, clock_->NowMs());
      if (results.size() == 1 && results[0].kind == InboundResult::Kind::kDeferred) {
        // Still pending; a later pass (at most a second away) tries again,
        // without fetching again what it fetched.
        if (!hold.filled.empty() || !hold.dropped.empty()) held_[delivery.id] = std::move(hold);
        continue;
      }
      progressed = true;
      bool changed = false;
      for (const InboundResult& r : results) {
        changed = changed || r.change_seq > 0;
        if (metrics_) {
          metrics_
              ->GetCounter("crmsync_inbound_changes_total", "CRM changes applied, by result.",
                           {{"result", InboundResultName(r.kind)}})
              .Inc();
        }
        LogWith(ComponentLogger("inbound"), Poco::Message::PRIO_INFORMATION,
                std::string("CRM change ") + InboundResultName(r.kind) +
                    (r.reason.empty() ? "" : ": " + r.reason),
                {{"delivery_id", delivery.id},
                 {"entity", r.entity_kind + ":" + r.entity_id},
                 {"outcome", InboundResultName(r.kind)}});
      }
      ++processed;
      if (changed && on_change_) on_change_();
    }
    if (!progressed) return processed;
  }
}

}  // namespace crmsync::engine
