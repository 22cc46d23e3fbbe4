// Change polling; see poller.h.
#include "inbound/poller.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <exception>
#include <sstream>

#include <Poco/NumberParser.h>

#include "common/hash.h"
#include "common/logging.h"
#include "crmsync/redact.h"

namespace crmsync::engine {
namespace {

// The first backoff after a retryable failure; it doubles up to the interval.
constexpr int64_t kFirstBackoffMs = 1000;
// How often the thread looks for due entities (inbound.poll_interval_ms is at
// least this long).
constexpr std::chrono::milliseconds kTick(1000);

// Appends `piece` length-prefixed, so no two pages encode alike.
void Put(std::string* out, const std::string& piece) {
  out->append(std::to_string(piece.size())).append(":").append(piece);
}

// The delivery id of a page: the same page read from the same cursor again
// (after a crash before the cursor was saved) gets the same id.
std::string PageId(EntityKind kind, const std::string& cursor,
                   const std::vector<InboundChange>& changes) {
  std::string text;
  Put(&text, cursor);
  for (const InboundChange& c : changes) {
    Put(&text, c.crm_event);
    Put(&text, EntityKindName(c.entity_kind));
    Put(&text, c.external_id);
    Put(&text, c.fields_json);
    Put(&text, c.updated_at ? "+" + *c.updated_at : "-");
    Put(&text, std::to_string(c.event_ids.size()));
    for (const std::string& id : c.event_ids) Put(&text, id);
    Put(&text, c.fetch ? "fetch" : "");
  }
  return std::string("poll-") + EntityKindName(kind) + "-" + StableHash(text);
}

}  // namespace

bool DecidePolling(const std::string& mode, const Capabilities& capabilities,
                   const std::string& plugin, bool* poll, std::string* error) {
  if (mode == "off") {
    *poll = false;
  } else if (mode == "auto") {
    *poll = capabilities.change_polling && !capabilities.inbound_webhooks;
  } else if (mode == "on") {
    if (!capabilities.change_polling) {
      *error = "inbound.poll is \"on\" but plugin " + plugin +
               " cannot poll for changes (its capabilities say no change_polling); set "
               "inbound.poll to auto or off";
      return false;
    }
    *poll = true;
  } else {
    *error = "inbound.poll must be auto, on or off, not \"" + mode + "\"";
    return false;
  }
  return true;
}

Poller::Poller(PollerOptions options, GuardedAdapter* adapter, InboundLog* log,
               PluginStates* states, RateLimiter* limiter, Clock* clock, MetricsRegistry* metrics)
    : options_(std::move(options)),
      adapter_(adapter),
      log_(log),
      states_(states),
      limiter_(limiter),
      clock_(clock),
      metrics_(metrics) {
  for (EntityKind kind : options_.entities) {
    Entity e;
    e.kind = kind;
    e.status.entity = EntityKindName(kind);
    entities_.push_back(e);
  }
}

Poller::~Poller() { Stop(); }

void Poller::Start() {
  advance_id_ = clock_->OnAdvance([this] { loop_.Wake(); });
  loop_.Start(kTick, [this] { PollOnce(); },
              [this](const std::string& error) {
                ComponentLogger("poll").error("polling pass failed: %s", Mask(error));
              });
}

void Poller::Stop() {
  if (advance_id_ >= 0) {
    clock_->RemoveOnAdvance(advance_id_);
    advance_id_ = -1;
  }
  loop_.Stop();
}

std::string Poller::CursorKey(EntityKind kind) const {
  return options_.plugin + "." + EntityKindName(kind);
}

int64_t Poller::NextDueMs() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t next = INT64_MAX;
  for (const Entity& e : entities_) {
    if (e.status.polling) next = std::min(next, e.due_ms);
  }
  return next;
}

PollStatus Poller::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  PollStatus status;
  status.enabled = true;
  status.paused = options_.paused && options_.paused();
  status.interval_ms = options_.interval_ms;
  status.leader = leader_;
  for (const Entity& e : entities_) status.entities.push_back(e.status);
  return status;
}

std::string Poller::Mask(const std::string& text) const {
  return MaskSensitive(MaskSecrets(text, options_.secrets));
}

bool Poller::HoldLease() {
  if (options_.lease_ms <= 0) {
    std::lock_guard<std::mutex> lock(mu_);
    leader_ = true;
    return true;
  }
  const std::string key = options_.plugin + ".lease";
  const int64_t now = clock_->NowMs();
  auto owner_of = [](const std::optional<std::string>& value, int64_t* until) {
    *until = 0;
    if (!value) return std::string();
    size_t space = value->rfind(' ');
    if (space == std::string::npos) return std::string();
    *until = std::strtoll(value->c_str() + space + 1, nullptr, 10);
    return value->substr(0, space);
  };
  bool held = false;
  try {
    int64_t until = 0;
    std::string owner = owner_of(states_->LoadPluginState(kPollStatePlugin, key), &until);
    if (owner.empty() || owner == options_.owner || until <= now) {
      states_->SavePluginState(kPollStatePlugin, key,
                               options_.owner + " " + std::to_string(now + options_.lease_ms), now);
      // Read back: of two engines that both found the lease free, the one
      // whose save came last holds it.
      held = owner_of(states_->LoadPluginState(kPollStatePlugin, key), &until) == options_.owner;
    }
  } catch (const std::exception& e) {
    ComponentLogger("poll").warning("polling lease of %s not read or renewed: %s", options_.plugin,
                                    Mask(e.what()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (held != leader_) {
    ComponentLogger("poll").information(
        held ? "this engine polls %s for changes (holds the lease)"
             : "another engine polls %s for changes (holds the lease)",
        options_.plugin);
  }
  leader_ = held;
  return held;
}

int Poller::PollOnce() {
  std::lock_guard<std::mutex> pass(pass_mu_);
  const int64_t now = clock_->NowMs();
  std::vector<Entity*> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Entity& e : entities_) {
      if (e.status.polling && e.due_ms <= now) due.push_back(&e);
    }
  }
  if (due.empty()) return 0;
  // Nothing goes to the CRM while sync is disabled; what changes meanwhile is
  // read from the kept cursor once it is enabled again.
  if (options_.paused && options_.paused()) return 0;
  if (!HoldLease()) {
    // Look again an interval later: the holder may have stopped.
    std::lock_guard<std::mutex> lock(mu_);
    for (Entity* e : due) e->due_ms = now + options_.interval_ms;
    return 0;
  }
  int pages = 0;
  for (Entity* e : due) {
    int read = 0;
    Step step = Step::kMore;
    while (step == Step::kMore && read < options_.max_pages_per_pass) {
      step = ReadPage(e);
      if (step != Step::kWaiting) ++read;
    }
    if (step == Step::kMore) {
      // More pages than one pass reads: the next tick goes on.
      std::lock_guard<std::mutex> lock(mu_);
      e->due_ms = clock_->NowMs();
    }
    pages += read;
  }
  return pages;
}

void Poller::Count(const Entity& e, const char* result) {
  if (!metrics_) return;
  metrics_
      ->GetCounter("crmsync_poll_requests_total", "Change polls of the CRM, by entity and result.",
                   {{"entity", e.status.entity}, {"result", result}})
      .Inc();
}

void Poller::Fail(Entity* e, const char* result, const std::string& message, int64_t wait_ms) {
  const std::string masked = Mask(message);
  const int64_t now = clock_->NowMs();
  {
    std::lock_guard<std::mutex> lock(mu_);
    e->status.last_error = masked;
    e->status.last_error_ms = now;
    ++e->status.errors;
    e->due_ms = now + wait_ms;
  }
  Count(*e, result);
  ComponentLogger("poll").warning("polling %s changes of %s failed (%s), next try in %s ms: %s",
                                  e->status.entity, options_.plugin, std::string(result),
                                  std::to_string(wait_ms), masked);
}

Poller::Step Poller::ReadPage(Entity* e) {
  const std::string key = CursorKey(e->kind);
  // A store failure waits like a CRM that is briefly away: doubling, capped.
  auto back_off = [&](int64_t at_least) {
    e->backoff_ms = e->backoff_ms == 0 ? std::min(kFirstBackoffMs, options_.interval_ms)
                                       : std::min(e->backoff_ms * 2, options_.interval_ms);
    return std::max(e->backoff_ms, at_least);
  };
  std::string cursor;
  try {
    cursor = states_->LoadPluginState(kPollStatePlugin, key).value_or("");
  } catch (const std::exception& ex) {
    Fail(e, "store_error", std::string("reading the cursor: ") + ex.what(), back_off(0));
    return Step::kDone;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    e->status.cursor_set = !cursor.empty();
  }
  // Until a first cursor is saved, every attempt asks from the time of the
  // first one, kept durably: a CRM that fails for hours, or a crash before the
  // first cursor, must not move the start past what changed meanwhile.
  int64_t asked_at = clock_->NowMs();
  if (cursor.empty()) {
    const std::string start_key = key + ".start";
    try {
      std::optional<std::string> start = states_->LoadPluginState(kPollStatePlugin, start_key);
      int64_t kept = 0;
      if (start && Poco::NumberParser::tryParse64(*start, kept) && kept > 0) {
        asked_at = kept;
      } else {
        states_->SavePluginState(kPollStatePlugin, start_key, std::to_string(asked_at), asked_at);
      }
    } catch (const std::exception& ex) {
      Fail(e, "store_error", std::string("reading the first poll's time: ") + ex.what(),
           back_off(0));
      return Step::kDone;
    }
  }

  RateTicket ticket;
  if (limiter_) {
    int64_t wait = limiter_->TryAcquire(clock_->NowMs(), &ticket);
    if (wait > 0) {
      // The CRM's budget is spent for now: no call, the entity waits.
      std::lock_guard<std::mutex> lock(mu_);
      e->due_ms = clock_->NowMs() + wait;
      return Step::kWaiting;
    }
  }
  PollRequest request;
  request.entity_kind = e->kind;
  request.cursor = cursor;
  request.now_ms = asked_at;
  PollPage page;
  crmsync::Status s = adapter_->PollChanges(request, &page);
  const int64_t answered = clock_->NowMs();
  if (limiter_ && IsCrmAnswer(s)) limiter_->OnAnswer(answered, ticket, RateAnswerOf(s));

  if (s.code() == StatusCode::kNotFound) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      e->status.polling = false;
    }
    Count(*e, "not_found");
    ComponentLogger("poll").information(
        "plugin %s does not poll %s changes; not asked again until restart: %s", options_.plugin,
        e->status.entity, Mask(s.message()));
    return Step::kDone;
  }
  if (s.code() == StatusCode::kRetryable || s.code() == StatusCode::kRateLimited) {
    Fail(e, StatusCodeName(s.code()), s.message(), back_off(s.retry_after_ms()));
    return Step::kDone;
  }
  if (!s.ok()) {
    Fail(e, StatusCodeName(s.code()), s.message(), options_.interval_ms);
    return Step::kDone;
  }
  if (page.next_cursor.empty()) {
    Fail(e, "bad_page", "plugin " + options_.plugin +
                            " returned a page without next_cursor; the page is not recorded and "
                            "the cursor is kept",
         options_.interval_ms);
    return Step::kDone;
  }

  // Record first, then move the cursor: a crash in between reads this page
  // again, and its delivery id (or its event ids) make it apply once.
  bool recorded = false;
  if (!page.changes.empty()) {
    InboundDelivery delivery;
    delivery.id = PageId(e->kind, cursor, page.changes);
    delivery.plugin = options_.plugin;
    delivery.event = "poll";
    delivery.changes = page.changes;
    delivery.received_ms = answered;
    try {
      recorded = log_->RecordDelivery(delivery);
    } catch (const std::exception& ex) {
      Fail(e, "store_error", std::string("recording the page: ") + ex.what(), back_off(0));
      return Step::kDone;
    }
    if (recorded) {
      if (metrics_) {
        metrics_
            ->GetCounter("crmsync_poll_changes_total", "CRM changes recorded by polling, by entity.",
                         {{"entity", e->status.entity}})
            .Inc(static_cast<int64_t>(page.changes.size()));
      }
      if (on_recorded_) on_recorded_();
    } else {
      LogWith(ComponentLogger("poll"), Poco::Message::PRIO_INFORMATION,
              "page recorded before (read again after a restart): not recorded twice",
              {{"delivery_id", delivery.id}, {"entity", e->status.entity}});
    }
  }
  if (page.next_cursor != cursor) {
    try {
      states_->SavePluginState(kPollStatePlugin, key, page.next_cursor, answered);
    } catch (const std::exception& ex) {
      Fail(e, "store_error", std::string("saving the cursor: ") + ex.what(), back_off(0));
      return Step::kDone;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    e->backoff_ms = 0;
    e->status.last_success_ms = answered;
    e->status.last_error.clear();
    e->status.cursor_set = true;
    if (recorded) e->status.changes += static_cast<int64_t>(page.changes.size());
    e->due_ms = answered + options_.interval_ms;
  }
  Count(*e, "ok");
  if (!page.more) return Step::kDone;
  if (page.next_cursor == cursor) {
    Fail(e, "bad_page", "plugin " + options_.plugin +
                            " said more pages follow but kept the cursor; waiting the interval",
         options_.interval_ms);
    return Step::kDone;
  }
  return Step::kMore;
}

}  // namespace crmsync::engine
