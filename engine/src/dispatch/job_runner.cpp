// The outcome table in action; see job_runner.h.
#include "dispatch/job_runner.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "common/clock.h"
#include "common/logging.h"
#include "crmsync/redact.h"
#include "dispatch/job_codec.h"

namespace crmsync::engine {
namespace {

bool IsNetworkOr5xx(const HttpResponse& r) {
  return r.error != TransportError::kNone || r.status == 408 || r.status >= 500;
}

// The link's sent hash while the entity has no CRM id and a create of it may
// have reached the CRM: a job dead-lettered in doubt passes the doubt on to the
// entity's next job, whose create then looks the record up first.
constexpr char kCreateInDoubt[] = "create-in-doubt";

// Why a job held longer than crm.retry.max_outage is dead-lettered: by a run
// of 429s (`storm`) or an open circuit breaker since `since`; `tail` says what
// ended it ("last: <the last answer>", or why it was not sent).
Status HeldPastMaxOutage(bool storm, int64_t since, const std::string& tail) {
  if (storm) {
    return Status::RateLimited("CRM unavailable since " + FormatIsoMs(since) +
                                   ": every answer a 429 for longer than "
                                   "crm.retry.max_outage; " + tail,
                               -1);
  }
  return Status::Retryable("CRM unavailable since " + FormatIsoMs(since) +
                           " (longer than crm.retry.max_outage); " + tail);
}

// Counts one 429 answer (or refused batch item) in crmsync_rate_limited_total.
void CountRateLimited(const JobRunnerContext& ctx) {
  if (!ctx.metrics) return;
  ctx.metrics->GetCounter("crmsync_rate_limited_total", "429 answers from the CRM.",
                          {{"plugin", ctx.plugin}})
      .Inc();
}

}  // namespace

// What one lease of one job has learned so far, and how it ends.
struct JobRunner::Attempt {
  Attempt(const JobRunnerContext& context, const LeasedJob& leased, bool probe)
      : ctx(context), job(leased), is_probe(probe), external_id(leased.external_id),
        sent_hash(leased.last_sent_hash),
        uncertain(leased.in_doubt ||
                  (!leased.external_id && leased.last_sent_hash == kCreateInDoubt)),
        try_number(leased.attempts + 1) {
    out.job_id = job.id;
    out.lease_token = job.lease_token;
    out.attempts = job.attempts;
    out.plan = job.plan;
    out.step = job.step;
  }

  int64_t Now() const { return ctx.clock->NowMs(); }

  JobOutcome Finish() {
    if (link_changed) {
      out.update_link = true;
      out.external_id = external_id;
      out.sent_hash = sent_hash;
    }
    out.in_doubt = uncertain;
    return out;
  }

  // Not tried, or not counted (429, 401, circuit, shutdown): run again at `at_ms`.
  JobOutcome Release(int64_t at_ms) {
    out.kind = JobOutcome::Kind::kRelease;
    out.available_at_ms = at_ms;
    return Finish();
  }

  JobOutcome DeadLetter(const Status& given) {
    // Engine-written reasons quote request paths (which may carry an e-mail or
    // a token): masked like every plugin message.
    const Status s(given.code(), MaskSensitive(given.message()), given.retry_after_ms());
    out.kind = JobOutcome::Kind::kDeadLetter;
    if (uncertain && !external_id && sent_hash != kCreateInDoubt) {
      // The doubt outlives this job: see kCreateInDoubt.
      sent_hash = kCreateInDoubt;
      link_changed = true;
    }
    out.attempts = std::max(out.attempts, try_number);
    out.error_class = StatusCodeName(s.code());
    out.reason = s.message();
    LogWith(ComponentLogger("dispatch"), Poco::Message::PRIO_WARNING,
            "dead-lettered: " + s.ToString(),
            {{"job_id", std::to_string(job.id)},
             {"event_id", job.event_id},
             {"entity", std::string(EntityKindName(job.kind)) + ":" + job.entity_id},
             {"plugin", ctx.plugin},
             {"outcome", StatusCodeName(s.code())},
             {"attempt", std::to_string(try_number)}});
    return Finish();
  }

  // A failed try: retry after the backoff, or dead-letter when retries are spent.
  JobOutcome Fail(const Status& given) {
    const Status s(given.code(), MaskSensitive(given.message()), given.retry_after_ms());
    int tries_failed = try_number;
    out.attempts = tries_failed;
    if (!ctx.policy->MayRetry(tries_failed)) return DeadLetter(s);
    int64_t delay = ctx.policy->DelayMs(tries_failed, ctx.random ? ctx.random() : 1.0);
    delay = std::max(delay, s.retry_after_ms());
    out.kind = JobOutcome::Kind::kRetry;
    out.available_at_ms = Now() + delay;
    LogWith(ComponentLogger("dispatch"), Poco::Message::PRIO_INFORMATION,
            "try failed, retry in " + std::to_string(delay) + " ms: " + s.ToString(),
            {{"job_id", std::to_string(job.id)},
             {"event_id", job.event_id},
             {"entity", std::string(EntityKindName(job.kind)) + ":" + job.entity_id},
             {"plugin", ctx.plugin},
             {"outcome", StatusCodeName(s.code())},
             {"attempt", std::to_string(tries_failed)}});
    out.error_class = StatusCodeName(s.code());
    out.reason = s.message();
    return Finish();
  }

  // Fail or dead-letter by whether a retry could help.
  JobOutcome FailOrDeadLetter(const Status& s) { return s.IsTransient() ? Fail(s) : DeadLetter(s); }

  void Record(const std::string& step_kind, const HttpResponse& r, const Status& s) {
    AttemptRecord rec;
    rec.attempt = try_number;
    rec.step = out.step;
    rec.step_kind = step_kind;
    rec.at_ms = Now();
    rec.outcome = StatusCodeName(s.code());
    rec.http_status = r.status;
    rec.message = s.ok() ? "" : MaskSensitive(s.message());
    out.attempts_made.push_back(std::move(rec));
    if (ctx.metrics) {
      ctx.metrics
          ->GetCounter("crmsync_sync_attempts_total", "CRM calls by plugin, operation and outcome.",
                       {{"plugin", ctx.plugin},
                        {"operation", step_kind},
                        {"outcome", StatusCodeName(s.code())}})
          .Inc();
    }
  }

  // Before every request: shutdown, sync disabled, breaker open, rate limit.
  // 0 when the request may go, else the time to release the job until.
  int64_t Gate() {
    int64_t t = Now();
    if (ctx.may_send && !ctx.may_send()) return t;
    if (!is_probe && ctx.breaker->state(t) != CircuitBreaker::State::kClosed) {
      return std::max(t, ctx.breaker->open_until_ms());
    }
    int64_t wait = ctx.limiter->TryAcquire(t, &ticket);
    return wait > 0 ? t + wait : 0;
  }

  // True when the CRM has been unavailable since `since` (-1: it is not) for
  // longer than crm.retry.max_outage, counted for this job from when it was
  // accepted if that is later.
  bool HeldTooLong(int64_t since) const {
    if (since < 0 || ctx.max_outage_ms <= 0) return false;
    return Now() - std::max(since, job.created_at_ms) >= ctx.max_outage_ms;
  }

  // Not sent now (Gate() said until when): released, unless the job has been
  // held longer than crm.retry.max_outage by a 429 storm or an open breaker.
  JobOutcome Wait(int64_t until) {
    if (ctx.limiter->paused_until_ms() > Now()) {
      const int64_t since = ctx.limiter->storm_since_ms();
      if (HeldTooLong(since)) {
        return DeadLetter(HeldPastMaxOutage(true, since, "not sent"));
      }
    }
    if (!is_probe && ctx.breaker->state(Now()) == CircuitBreaker::State::kOpen) {
      const int64_t since = ctx.breaker->outage_since_ms();
      if (HeldTooLong(since)) {
        return DeadLetter(
            HeldPastMaxOutage(false, since, "not sent: the circuit breaker is open"));
      }
    }
    return Release(until);
  }

  // 429 and 401/403 end the lease the same way wherever they come. The
  // limiter heard of the 429 with its answer (JobRunner::Call).
  JobOutcome RateLimited(const Status& s) {
    CountRateLimited(ctx);
    const int64_t since = ctx.limiter->storm_since_ms();
    if (HeldTooLong(since)) {
      return DeadLetter(HeldPastMaxOutage(true, since, "last: " + s.message()));
    }
    return Release(Now() + std::max<int64_t>(0, s.retry_after_ms()));
  }

  // A transient failure while the circuit breaker is open (this failure opened
  // it, a probe found the CRM still down, or the call was in flight when it
  // opened): the job is held until the next probe without spending an attempt,
  // up to crm.retry.max_outage.
  JobOutcome HoldForOutage(const Status& s) {
    const int64_t since = ctx.breaker->outage_since_ms();
    if (HeldTooLong(since)) {
      return DeadLetter(HeldPastMaxOutage(false, since, "last: " + s.message()));
    }
    const int64_t probe_at = std::max(Now(), ctx.breaker->open_until_ms());
    // A failed probe sits out the next probe: probes rotate over the held jobs,
    // so one job the CRM always refuses with a 5xx (a poison payload) cannot
    // keep the breaker open while the CRM serves every other job.
    if (is_probe) return Release(probe_at + (probe_at - Now()));
    return Release(probe_at);
  }

  // Any failed call that is not a CRM answer to act on: 429, 401/403, an
  // outage, else a failed try (transient) or a dead letter.
  JobOutcome CallFailed(const Status& s) {
    if (s.code() == StatusCode::kRateLimited) return RateLimited(s);
    if (s.code() == StatusCode::kUnauthenticated) return Unauthenticated(s);
    if (s.code() == StatusCode::kRetryable &&
        ctx.breaker->state(Now()) != CircuitBreaker::State::kClosed) {
      return HoldForOutage(s);
    }
    return FailOrDeadLetter(s);
  }
  JobOutcome Unauthenticated(const Status& s) {
    ctx.on_unauthenticated(s.message());
    return Release(Now());
  }

  const JobRunnerContext& ctx;
  const LeasedJob& job;
  bool is_probe;
  // The rate limiter's ticket for the request the last Gate() let go.
  RateTicket ticket;
  JobOutcome out;
  SyncJob sync;
  std::vector<StepKind> steps;
  std::optional<std::string> external_id;
  std::string sent_hash;
  bool link_changed = false;
  bool uncertain = false;
  // The CRM id this lease got a 2xx for (created or updated): a later step's
  // 404 is then about the endpoint, whatever a lookup (maybe behind a lagging
  // search index) would say.
  std::optional<std::string> confirmed_id;
  int recreated = 0;
  int relinked = 0;
  int conflict_lookups = 0;
  int try_number = 0;
  // The requests this lease built, by step, for shadow mode (ctx.on_built).
  std::vector<BuiltJob::Step> built;
  std::vector<int> built_at;  // The plan's step index of each of `built`.
};

Status JobRunner::Call(const RateTicket& ticket, const HttpRequest& request,
                       HttpResponse* response) const {
  auto started = std::chrono::steady_clock::now();
  *response = ctx_.adapter->Send(request);
  Status s = ctx_.adapter->Classify(request, *response);
  if (ctx_.metrics) {
    ctx_.metrics
        ->GetHistogram("crmsync_sync_duration_seconds", "Duration of CRM calls, by operation.",
                       {{"plugin", ctx_.plugin}, {"operation", request.route}})
        .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  const int64_t now = ctx_.clock->NowMs();
  if (ctx_.calls) ctx_.calls->Record(now, s.ok());
  if (response->error == TransportError::kNone && response->status > 0) {
    // One entry into the limiter per answer: its 429 window, the storm, and
    // the budget the answer states.
    RateAnswer answer;
    answer.rate_limited = s.code() == StatusCode::kRateLimited;
    answer.retry_after_ms = s.retry_after_ms();
    RateLimitBudget budget;
    std::string problem;
    if (ctx_.budget_headers && !ctx_.budget_headers->empty()) {
      if (ReadRateLimitBudget(*response, *ctx_.budget_headers, now, &budget, &problem)) {
        answer.budget = &budget;
      } else if (!problem.empty() && ctx_.on_budget_problem) {
        ctx_.on_budget_problem(problem);
      }
    }
    ctx_.limiter->OnAnswer(now, ticket, answer);
  }
  if (IsNetworkOr5xx(*response) && s.code() == StatusCode::kRetryable) {
    if (ctx_.breaker->RecordFailure(ctx_.clock->NowMs())) {
      ComponentLogger("dispatch")
          .error("circuit breaker for plugin %s opened after repeated network/5xx failures",
                 ctx_.plugin);
    }
  } else if (response->error == TransportError::kNone) {
    ctx_.breaker->RecordSuccess();
  }
  return s;
}

Status JobRunner::Lookup(Attempt& a, std::optional<std::string>* found) const {
  HttpRequest request;
  a.sync.external_id.reset();
  Status s = ctx_.adapter->BuildLookup(a.sync, &request);
  if (!s.ok()) return s;
  HttpResponse response;
  s = Call(a.ticket, request, &response);
  a.Record("lookup", response, s);
  if (!s.ok() && s.code() != StatusCode::kNotFound) {
    // A lookup that failed says nothing about the record: unknown, so retry
    // (429 and 401/403 keep their own handling). Never "not found".
    if (s.IsTransient() || s.code() == StatusCode::kRateLimited ||
        s.code() == StatusCode::kUnauthenticated) {
      return s;
    }
    return Status::Retryable("lookup by reference failed, outcome unknown: " + s.ToString());
  }
  return ctx_.adapter->ReadLookup(a.sync, response, found);
}

void JobRunner::AddAgents(SyncJob* sync, JobOutcome* out) const {
  if (!ctx_.agents) return;
  auto add = [&](const char* role, const std::optional<std::string>& dealer) {
    if (!dealer || dealer->empty()) return;
    if (std::optional<std::string> user = ctx_.agents->UserFor(*dealer)) {
      sync->related[role] = *user;
    } else {
      ctx_.agents->ReportUnmatched(
          "outbound", *dealer,
          std::string(EntityKindName(sync->entity_kind)) + ":" + sync->entity_id);
      out->notes.emplace_back("agent_unmatched",
                              "dealer " + MaskSensitive(*dealer) +
                                  " matches no active CRM user; sent without its CRM id");
    }
  };
  if (sync->assignment) {
    add("agent", sync->assignment->dealer_id);
  } else if (sync->lead) {
    add("agent", sync->lead->assigned_to_id);
  }
  if (sync->property) add("propertyAgent", sync->property->dealer_id);
}

int64_t JobRunner::RelatedWait(const LeasedJob& job, JobOutcome* out) const {
  const int64_t now = ctx_.clock->NowMs();
  std::string why;
  if (job.related_property_state == RelatedState::kPending) {
    const int64_t waited = now - job.created_at_ms;
    if (ctx_.max_outage_ms <= 0 || waited < ctx_.max_outage_ms) {
      // Look again soon while the property's create is likely just ahead,
      // less often as the wait grows (an outage can last max_outage): an
      // eighth of the time waited so far, at most kRelatedRecheckMaxMs.
      const int64_t first = std::max<int64_t>(1, ctx_.related_recheck_ms);
      return now + std::clamp<int64_t>(waited / 8, first, std::max(first, kRelatedRecheckMaxMs));
    }
    why = " is still not created in the CRM after crm.retry.max_outage";
  } else if (job.related_property_state == RelatedState::kUnsent) {
    why = " has no CRM id and no job left (dead-lettered?)";
  } else {
    return 0;
  }
  why = "property " + job.related_property_id + why + "; sent without its CRM id";
  LogWith(ComponentLogger("dispatch"), Poco::Message::PRIO_WARNING, why,
          {{"job_id", std::to_string(job.id)},
           {"entity", std::string(EntityKindName(job.kind)) + ":" + job.entity_id},
           {"plugin", ctx_.plugin}});
  out->notes.emplace_back("related_missing", why);
  return 0;
}

JobOutcome JobRunner::Run(const LeasedJob& job, bool is_probe) {
  Attempt a(ctx_, job, is_probe);
  JobOutcome out = RunSteps(job, a);
  ReportBuilt(job, a, out);
  return out;
}

void JobRunner::ReportBuilt(const LeasedJob& job, Attempt& a, const JobOutcome& out) const {
  if (!ctx_.on_built || a.built.empty()) return;
  if (out.kind != JobOutcome::Kind::kDone && out.kind != JobOutcome::Kind::kDeadLetter) return;
  BuiltJob built;
  built.job_id = job.id;
  built.job = std::move(a.sync);
  built.job.external_id = job.external_id;
  built.plan = std::move(a.steps);
  built.steps = std::move(a.built);
  built.linked_id = out.update_link ? out.external_id : job.external_id;
  ctx_.on_built(std::move(built));
}

JobOutcome JobRunner::RunSteps(const LeasedJob& job, Attempt& a) {
  GuardedAdapter& adapter = *ctx_.adapter;

  // Waiting for the related record spends no attempt and sends nothing.
  if (int64_t until = RelatedWait(job, &a.out)) return a.Release(until);
  std::string error;
  if (!DecodeJob(job, &a.sync, &error)) return a.DeadLetter(Status::Permanent(error));
  AddAgents(&a.sync, &a.out);
  if (job.plan.empty()) {
    Status s = adapter.Plan(a.sync, &a.steps);
    if (!s.ok()) return a.FailOrDeadLetter(s);
    if (a.steps.empty()) return a.DeadLetter(Status::Permanent("the plugin planned no step"));
    a.out.plan = FormatPlan(a.steps);
    a.out.step = 0;
  } else if (!ParsePlan(job.plan, &a.steps)) {
    return a.DeadLetter(Status::Permanent("stored plan '" + job.plan + "' is unreadable"));
  }

  while (a.out.step < static_cast<int>(a.steps.size())) {
    if (int64_t until = a.Gate()) return a.Wait(until);
    StepKind planned = a.steps[static_cast<size_t>(a.out.step)];
    StepKind kind = planned;
    if (kind == StepKind::kCreate && a.external_id) kind = StepKind::kUpdate;
    if (kind == StepKind::kUpdate && !a.external_id) kind = StepKind::kCreate;

    if (kind == StepKind::kCreate && a.uncertain && !ctx_.capabilities.lookup_by_reference) {
      // Capabilities::lookup_by_reference: without it, an unknown-outcome create
      // goes to the dead-letter queue rather than risk a duplicate.
      return a.DeadLetter(Status::Permanent(
          "an earlier create may have reached the CRM (outcome unknown) and the plugin "
          "cannot look records up by reference; not creating again"));
    }
    if (kind == StepKind::kCreate && a.uncertain) {
      std::optional<std::string> found;
      Status s = Lookup(a, &found);
      if (!s.ok()) return a.CallFailed(s);
      a.uncertain = false;
      if (found) {
        a.external_id = found;
        a.link_changed = true;
        kind = StepKind::kUpdate;
      }
      if (int64_t until = a.Gate()) return a.Wait(until);
    }

    a.sync.external_id = a.external_id;
    HttpRequest request;
    Status s = adapter.BuildRequest(a.sync, kind, &request);
    if (!s.ok()) return a.FailOrDeadLetter(s);
    if (ctx_.on_built) {
      // A step built again (relinked, re-created) keeps its latest request.
      while (!a.built_at.empty() && a.built_at.back() >= a.out.step) {
        a.built_at.pop_back();
        a.built.pop_back();
      }
      a.built.push_back({kind, a.sync.external_id, request});
      a.built_at.push_back(a.out.step);
    }
    HttpResponse response;
    s = Call(a.ticket, request, &response);
    a.Record(StepKindName(kind), response, s);

    switch (s.code()) {
      case StatusCode::kOk: {
        StepResult result;
        Status read = adapter.ReadResponse(a.sync, kind, response, &result);
        if (!read.ok() && kind == StepKind::kCreate) {
          // The CRM accepted a create whose answer we cannot read: it may hold
          // the record now, so it is looked up before any new create.
          a.uncertain = true;
          return a.Fail(read.IsTransient() ? read : Status::Retryable(read.message()));
        }
        if (!read.ok()) return a.FailOrDeadLetter(read);
        if (kind == StepKind::kCreate && !result.external_id) {
          // The CRM created something we cannot name: look it up before any
          // new create (a dead letter here would be replayed as a duplicate).
          a.uncertain = true;
          return a.Fail(Status::Retryable("the CRM's answer to a create carried no id"));
        }
        if (result.external_id && result.external_id != a.external_id) {
          a.external_id = result.external_id;
          a.link_changed = true;
        }
        if (kind == StepKind::kCreate || kind == StepKind::kUpdate) {
          a.sent_hash = StableHash(request.body);
          a.link_changed = true;
          a.confirmed_id = a.external_id;
        }
        a.uncertain = false;
        ++a.out.step;
        continue;
      }
      case StatusCode::kRetryable:
      case StatusCode::kInternal:
        // Sent without an answer, or a gateway gave up waiting for the CRM (504):
        // the CRM may have created it, so look it up before creating again.
        if (kind == StepKind::kCreate &&
            ((response.request_sent && response.status == 0) || response.status == 504)) {
          a.uncertain = true;
        }
        return a.CallFailed(s);
      case StatusCode::kRateLimited:
      case StatusCode::kUnauthenticated:
        return a.CallFailed(s);
      case StatusCode::kNotFound: {
        // A 404 alone never means "create again": it may be about the record
        // or about the endpoint (a CRM without deals, a token without a scope).
        // Only a lookup by reference that finds nothing is a reason to create.
        const std::string call = request.method + " " + request.path;
        if (!a.external_id) {
          return a.DeadLetter(Status(s.code(), "endpoint not found: " + call + ": " + s.message()));
        }
        if (a.confirmed_id && *a.confirmed_id == *a.external_id) {
          return a.DeadLetter(Status(s.code(), "endpoint not found: " + call + " (record " +
                                                   *a.external_id +
                                                   " written in this try): " + s.message()));
        }
        if (!ctx_.capabilities.lookup_by_reference) {
          return a.DeadLetter(Status(
              s.code(), "the CRM answered 404 to " + call +
                            " and the plugin cannot look records up by reference, so whether "
                            "the record or the endpoint is missing is unknown; not creating "
                            "again: " + s.message()));
        }
        if (int64_t until = a.Gate()) return a.Wait(until);
        std::optional<std::string> found;
        Status ls = Lookup(a, &found);
        if (!ls.ok()) return a.CallFailed(ls);
        if (found && *found == *a.external_id) {
          return a.DeadLetter(Status(s.code(), "endpoint not found: " + call + " (record " +
                                                   *found + " exists): " + s.message()));
        }
        if (found) {
          if (a.relinked > 0) {
            return a.DeadLetter(Status(s.code(), "the CRM answered 404 to " + call +
                                                     " again after relinking to " + *found +
                                                     ": " + s.message()));
          }
          // The record lives under another id (merged, re-imported): relink
          // and retry the same step.
          ++a.relinked;
          a.external_id = found;
          a.link_changed = true;
          continue;
        }
        if (a.recreated > 0) return a.DeadLetter(s);
        // Truly gone: forget the stale id and create again, as the strategy says.
        ++a.recreated;
        a.external_id.reset();
        a.link_changed = true;
        if (planned != StepKind::kCreate && planned != StepKind::kUpdate) a.out.step = 0;
        continue;
      }
      case StatusCode::kConflict: {
        if (!ctx_.capabilities.lookup_by_reference || a.conflict_lookups > 0) {
          return a.DeadLetter(s);
        }
        ++a.conflict_lookups;
        if (int64_t until = a.Gate()) return a.Wait(until);
        std::optional<std::string> found;
        Status ls = Lookup(a, &found);
        if (!ls.ok()) return a.CallFailed(ls);
        if (!found) {
          return a.Fail(Status::Retryable("409 conflict but lookup by reference found nothing"));
        }
        a.external_id = found;
        a.link_changed = true;
        continue;  // same step, now an update of the linked record
      }
      case StatusCode::kInvalidRecord:
      case StatusCode::kPermanent:
      case StatusCode::kInvalidConfig:
        return a.DeadLetter(s);
    }
    return a.DeadLetter(s);
  }
  a.out.kind = JobOutcome::Kind::kDone;
  a.out.attempts = std::max(a.out.attempts, job.attempts);
  a.out.update_link = true;
  a.out.external_id = a.external_id;
  a.out.sent_hash = a.sent_hash;
  a.out.in_doubt = false;
  return a.out;
}

std::optional<StepKind> JobRunner::BatchStep(const LeasedJob& job) const {
  // Only first tries of a single upsert go in a batch: anything that failed once,
  // is in doubt or has several steps runs alone under the full outcome table.
  if (ctx_.capabilities.max_batch_size < 2 || job.attempts > 0 || job.in_doubt || job.step > 0 ||
      (!job.external_id && job.last_sent_hash == kCreateInDoubt) ||
      job.related_property_state == RelatedState::kPending ||
      job.related_property_state == RelatedState::kUnsent) {
    return std::nullopt;
  }
  SyncJob sync;
  std::string error;
  if (!DecodeJob(job, &sync, &error)) return std::nullopt;
  std::vector<StepKind> steps;
  if (!job.plan.empty()) {
    if (!ParsePlan(job.plan, &steps)) return std::nullopt;
  } else if (!ctx_.adapter->Plan(sync, &steps).ok()) {
    return std::nullopt;
  }
  if (steps.size() != 1) return std::nullopt;
  if (steps[0] != StepKind::kCreate && steps[0] != StepKind::kUpdate) return std::nullopt;
  return job.external_id ? StepKind::kUpdate : StepKind::kCreate;
}

std::vector<JobOutcome> JobRunner::RunBatch(const std::vector<LeasedJob>& jobs, StepKind kind,
                                            bool is_probe) {
  std::vector<std::unique_ptr<Attempt>> attempts;
  std::vector<SyncJob> syncs;
  for (const LeasedJob& job : jobs) {
    attempts.push_back(std::make_unique<Attempt>(ctx_, job, is_probe));
    Attempt& a = *attempts.back();
    std::string error;
    DecodeJob(job, &a.sync, &error);  // BatchStep checked it decodes
    AddAgents(&a.sync, &a.out);
    a.steps = {kind};
    a.out.plan = FormatPlan(a.steps);
    a.out.step = 0;
    syncs.push_back(a.sync);
  }
  std::vector<JobOutcome> outcomes;
  auto all = [&](auto&& end_one) {
    outcomes.clear();
    for (auto& a : attempts) outcomes.push_back(end_one(*a));
    return outcomes;
  };
  HttpRequest request;
  Status s = ctx_.adapter->BuildBatch(syncs, kind, &request);
  if (!s.ok()) {
    // The plugin cannot batch these after all: each runs alone.
    outcomes.clear();
    for (const LeasedJob& job : jobs) outcomes.push_back(Run(job, is_probe));
    return outcomes;
  }
  if (int64_t until = attempts[0]->Gate()) {
    return all([&](Attempt& a) { return a.Wait(until); });
  }
  HttpResponse response;
  const RateTicket ticket = attempts[0]->ticket;
  s = Call(ticket, request, &response);
  const std::string step_name = std::string("batch_") + StepKindName(kind);
  for (auto& a : attempts) a->Record(step_name, response, s);
  if (s.code() == StatusCode::kRateLimited) {
    CountRateLimited(ctx_);
    const int64_t since = ctx_.limiter->storm_since_ms();
    int64_t at = attempts[0]->Now() + std::max<int64_t>(0, s.retry_after_ms());
    return all([&](Attempt& a) {
      if (!a.HeldTooLong(since)) return a.Release(at);
      return a.DeadLetter(HeldPastMaxOutage(true, since, "last: " + s.message()));
    });
  }
  if (s.code() == StatusCode::kUnauthenticated) {
    ctx_.on_unauthenticated(s.message());
    return all([&](Attempt& a) { return a.Release(a.Now()); });
  }
  std::vector<Status> statuses;
  std::vector<StepResult> results;
  Status read = s;
  if (s.ok()) read = ctx_.adapter->ReadBatch(syncs, kind, response, &statuses, &results);
  if (!read.ok() || statuses.size() != jobs.size() || results.size() != jobs.size()) {
    // The whole batch failed, or its answer is unreadable: every job counts one
    // failed try and then runs alone, where the full outcome table applies.
    bool unknown = kind == StepKind::kCreate &&
                   ((response.request_sent && response.status == 0) || response.status == 504 ||
                    s.ok());
    Status why = read.ok() ? Status::Retryable("batch answer has the wrong number of results")
                           : read;
    if (unknown && s.ok()) {
      LogWith(ComponentLogger("dispatch"), Poco::Message::PRIO_WARNING,
              "batch create answered but its answer could not be read; each of its " +
                  std::to_string(jobs.size()) +
                  " item(s) is looked up by reference before it is tried again: " +
                  why.message(),
              {{"plugin", ctx_.plugin}});
    }
    return all([&](Attempt& a) {
      a.uncertain = a.uncertain || unknown;
      const Status failed =
          why.IsTransient() ? why : Status::Retryable("batch failed: " + why.message());
      return a.CallFailed(failed);
    });
  }
  outcomes.clear();
  size_t unmatched = 0;
  for (size_t i = 0; i < attempts.size(); ++i) {
    Attempt& a = *attempts[i];
    const Status& item = statuses[i];
    if (kind == StepKind::kCreate &&
        (item.code() == StatusCode::kRetryable || item.code() == StatusCode::kInternal)) {
      // The CRM took the batch but this item has no usable result (unmatched,
      // or a per-item failure): it may have been created, so it is looked up
      // by reference before it is created again.
      a.uncertain = true;
      ++unmatched;
    }
    if (item.ok()) {
      if (kind == StepKind::kCreate && !results[i].external_id) {
        a.uncertain = true;  // created, maybe, but we cannot tell its id
        outcomes.push_back(a.Fail(Status::Retryable("batch result carried no id")));
        continue;
      }
      if (results[i].external_id) a.external_id = results[i].external_id;
      a.out.kind = JobOutcome::Kind::kDone;
      a.out.step = 1;
      a.out.update_link = true;
      a.out.external_id = a.external_id;
      a.out.sent_hash = StableHash(request.body);
      a.out.in_doubt = false;
      outcomes.push_back(a.out);
    } else if (item.code() == StatusCode::kRateLimited) {
      // An item the CRM refused with a 429 inside a batch it took: the
      // limiter hears of it as of a 429 to the batch's request (once per
      // window, whatever the number of items).
      RateAnswer limited;
      limited.rate_limited = true;
      limited.retry_after_ms = item.retry_after_ms();
      ctx_.limiter->OnAnswer(a.Now(), ticket, limited);
      outcomes.push_back(a.RateLimited(item));  // a 429 never spends an attempt
    } else if (kind == StepKind::kCreate && item.code() == StatusCode::kPermanent) {
      // A create the CRM took but whose result cannot be read (no id at the
      // pointer): in doubt, as on the single path, never a plain dead letter
      // that the entity's next job would create again.
      a.uncertain = true;
      ++unmatched;
      outcomes.push_back(a.Fail(Status::Retryable(item.message())));
    } else if (item.code() == StatusCode::kInvalidRecord || item.code() == StatusCode::kPermanent) {
      outcomes.push_back(a.DeadLetter(item));
    } else {
      // Conflicts, stale ids and transient item errors: one failed try, then
      // the job runs alone (409 lookup, 404 re-create, backoff).
      outcomes.push_back(a.Fail(item.IsTransient() ? item : Status::Retryable(item.ToString())));
    }
  }
  if (ctx_.on_built) {
    // Shadow mode compares each job's step alone (BuiltJob).
    for (size_t i = 0; i < attempts.size(); ++i) {
      attempts[i]->built.push_back({kind, jobs[i].external_id, std::nullopt});
      ReportBuilt(jobs[i], *attempts[i], outcomes[i]);
    }
  }
  if (unmatched > 0) {
    LogWith(ComponentLogger("dispatch"), Poco::Message::PRIO_WARNING,
            "batch create: " + std::to_string(unmatched) + " of " +
                std::to_string(jobs.size()) +
                " item(s) had no usable result in the CRM's answer (unmatched or failed); each "
                "is looked up by reference before it is tried again",
            {{"plugin", ctx_.plugin}});
  }
  return outcomes;
}

JobOutcome JobRunner::HoldThroughOutage(const LeasedJob& job, int64_t since_ms,
                                        int64_t release_at_ms, bool storm) {
  Attempt a(ctx_, job, false);
  if (!a.HeldTooLong(since_ms)) return a.Release(release_at_ms);
  return a.DeadLetter(HeldPastMaxOutage(
      storm, since_ms, storm ? "not sent" : "not sent: the circuit breaker is open"));
}

}  // namespace crmsync::engine
