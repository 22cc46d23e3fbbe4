// The outcome table in action; see job_runner.h.
#include "dispatch/job_runner.h"

#include <algorithm>

#include "common/logging.h"
#include "dispatch/job_codec.h"

namespace crmsync::engine {

// The state of one Run(): what the lease has learned so far.
struct JobRunner::Attempt {
  const LeasedJob& job;
  JobOutcome out;
  SyncJob sync;
  std::vector<StepKind> steps;
  std::optional<std::string> external_id;
  std::string sent_hash;
  bool link_changed = false;
  bool uncertain = false;
  int recreated = 0;
  int lookups = 0;
  int try_number = 0;
};

namespace {

bool IsNetworkOr5xx(const HttpResponse& r) {
  return r.error != TransportError::kNone || r.status == 408 || r.status >= 500;
}

}  // namespace

JobOutcome JobRunner::Run(const LeasedJob& job, bool is_probe) {
  Attempt a{job, {}, {}, {}, job.external_id, job.last_sent_hash};
  a.out.job_id = job.id;
  a.out.lease_token = job.lease_token;
  a.out.attempts = job.attempts;
  a.out.plan = job.plan;
  a.out.step = job.step;
  a.uncertain = job.in_doubt;
  a.try_number = job.attempts + 1;
  GuardedAdapter& adapter = *ctx_.adapter;
  Poco::Logger& log = ComponentLogger("dispatch");

  auto now = [&] { return ctx_.clock->NowMs(); };
  auto finish_link = [&] {
    if (a.link_changed) {
      a.out.update_link = true;
      a.out.external_id = a.external_id;
      a.out.sent_hash = a.sent_hash;
    }
    a.out.in_doubt = a.uncertain;
    return a.out;
  };
  auto release = [&](int64_t at_ms) {
    a.out.kind = JobOutcome::Kind::kRelease;
    a.out.available_at_ms = at_ms;
    return finish_link();
  };
  auto dead_letter = [&](const Status& s) {
    a.out.kind = JobOutcome::Kind::kDeadLetter;
    a.out.attempts = std::max(a.out.attempts, a.try_number);
    a.out.error_class = StatusCodeName(s.code());
    a.out.reason = s.message();
    log.warning("job %s (%s %s:%s) dead-lettered: %s", std::to_string(job.id),
                std::string(EventTypeName(job.type)), std::string(EntityKindName(job.kind)),
                job.entity_id, s.ToString());
    return finish_link();
  };
  auto fail = [&](const Status& s) {
    int tries_failed = a.try_number;
    a.out.attempts = tries_failed;
    if (!ctx_.policy->MayRetry(tries_failed)) return dead_letter(s);
    int64_t delay = ctx_.policy->DelayMs(tries_failed, ctx_.random ? ctx_.random() : 1.0);
    delay = std::max(delay, s.retry_after_ms());
    a.out.kind = JobOutcome::Kind::kRetry;
    a.out.available_at_ms = now() + delay;
    a.out.error_class = StatusCodeName(s.code());
    a.out.reason = s.message();
    return finish_link();
  };
  auto record = [&](const std::string& step_kind, const HttpResponse& r, const Status& s) {
    AttemptRecord rec;
    rec.attempt = a.try_number;
    rec.step = a.out.step;
    rec.step_kind = step_kind;
    rec.at_ms = now();
    rec.outcome = StatusCodeName(s.code());
    rec.http_status = r.status;
    rec.message = s.ok() ? "" : s.message();
    a.out.attempts_made.push_back(std::move(rec));
    if (ctx_.metrics) {
      ctx_.metrics
          ->GetCounter("crmsync_sync_attempts_total", "CRM calls by plugin, operation and outcome.",
                       {{"plugin", ctx_.plugin},
                        {"operation", step_kind},
                        {"outcome", StatusCodeName(s.code())}})
          .Inc();
    }
  };
  // Gate before every request: shutdown, sync disabled, breaker open, rate limit.
  // Returns 0 when the request may go, else the time to release the job until.
  auto gate = [&]() -> int64_t {
    int64_t t = now();
    if (ctx_.may_send && !ctx_.may_send()) return t;
    if (!is_probe && ctx_.breaker->state(t) != CircuitBreaker::State::kClosed) {
      return std::max(t, ctx_.breaker->open_until_ms());
    }
    int64_t wait = ctx_.limiter->TryAcquire(t);
    return wait > 0 ? t + wait : 0;
  };
  // Sends one request and classifies the answer. Feeds the circuit breaker.
  auto call = [&](const HttpRequest& request, HttpResponse* response) {
    *response = adapter.Send(request);
    Status s = adapter.Classify(request, *response);
    if (IsNetworkOr5xx(*response) && s.code() == StatusCode::kRetryable) {
      if (ctx_.breaker->RecordFailure(now())) {
        log.error("circuit breaker for plugin %s opened after repeated network/5xx failures",
                  ctx_.plugin);
      }
    } else if (response->error == TransportError::kNone) {
      ctx_.breaker->RecordSuccess();
    }
    return s;
  };
  // Looks the record up by its external reference. Sets *found_out when found.
  // Returns OK or the failing status (already classified).
  auto lookup = [&](std::optional<std::string>* found_out) -> Status {
    ++a.lookups;
    HttpRequest request;
    Status s = adapter.BuildLookup(a.sync, &request);
    if (!s.ok()) return s;
    HttpResponse response;
    s = call(request, &response);
    record("lookup", response, s);
    if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
    return adapter.ReadLookup(a.sync, response, found_out);
  };

  std::string error;
  if (!DecodeJob(job, &a.sync, &error)) return dead_letter(Status::Permanent(error));
  if (job.plan.empty()) {
    Status s = adapter.Plan(a.sync, &a.steps);
    if (!s.ok()) return s.IsTransient() ? fail(s) : dead_letter(s);
    if (a.steps.empty()) return dead_letter(Status::Permanent("the plugin planned no step"));
    a.out.plan = FormatPlan(a.steps);
    a.out.step = 0;
  } else if (!ParsePlan(job.plan, &a.steps)) {
    return dead_letter(Status::Permanent("stored plan '" + job.plan + "' is unreadable"));
  }

  while (a.out.step < static_cast<int>(a.steps.size())) {
    if (int64_t until = gate()) return release(until);
    StepKind planned = a.steps[static_cast<size_t>(a.out.step)];
    StepKind kind = planned;
    if (kind == StepKind::kCreate && a.external_id) kind = StepKind::kUpdate;
    if (kind == StepKind::kUpdate && !a.external_id) kind = StepKind::kCreate;

    if (kind == StepKind::kCreate && a.uncertain && !ctx_.capabilities.lookup_by_reference) {
      // Capabilities::lookup_by_reference: without it, an unknown-outcome create
      // goes to the dead-letter queue rather than risk a duplicate.
      return dead_letter(Status::Permanent(
          "an earlier create may have reached the CRM (outcome unknown) and the plugin "
          "cannot look records up by reference; not creating again"));
    }
    if (kind == StepKind::kCreate && a.uncertain) {
      std::optional<std::string> found;
      a.sync.external_id.reset();
      Status s = lookup(&found);
      if (!s.ok()) {
        if (s.code() == StatusCode::kRateLimited) {
          ctx_.limiter->OnRateLimited(now(), s.retry_after_ms());
          return release(now() + std::max<int64_t>(0, s.retry_after_ms()));
        }
        if (s.code() == StatusCode::kUnauthenticated) {
          ctx_.on_unauthenticated(s.message());
          return release(now());
        }
        return s.IsTransient() ? fail(s) : dead_letter(s);
      }
      a.uncertain = false;
      if (found) {
        a.external_id = found;
        a.link_changed = true;
        kind = StepKind::kUpdate;
      }
      if (int64_t until = gate()) return release(until);
    }

    a.sync.external_id = a.external_id;
    HttpRequest request;
    Status s = adapter.BuildRequest(a.sync, kind, &request);
    if (!s.ok()) return s.IsTransient() ? fail(s) : dead_letter(s);
    HttpResponse response;
    s = call(request, &response);
    record(StepKindName(kind), response, s);

    switch (s.code()) {
      case StatusCode::kOk: {
        StepResult result;
        Status read = adapter.ReadResponse(a.sync, kind, response, &result);
        if (!read.ok()) return read.IsTransient() ? fail(read) : dead_letter(read);
        if (kind == StepKind::kCreate && !result.external_id) {
          return dead_letter(Status::Permanent("the CRM's answer to a create carried no id"));
        }
        if (result.external_id && result.external_id != a.external_id) {
          a.external_id = result.external_id;
          a.link_changed = true;
        }
        if (kind == StepKind::kCreate || kind == StepKind::kUpdate) {
          a.sent_hash = StableHash(request.body);
          a.link_changed = true;
        }
        a.uncertain = false;
        ++a.out.step;
        continue;
      }
      case StatusCode::kRetryable:
      case StatusCode::kInternal:
        if (kind == StepKind::kCreate && response.request_sent && response.status == 0) {
          a.uncertain = true;  // the CRM may have created it: look it up next time
        }
        return fail(s);
      case StatusCode::kRateLimited:
        ctx_.limiter->OnRateLimited(now(), s.retry_after_ms());
        if (ctx_.metrics) {
          ctx_.metrics->GetCounter("crmsync_rate_limited_total", "429 answers from the CRM.",
                                   {{"plugin", ctx_.plugin}})
              .Inc();
        }
        return release(now() + std::max<int64_t>(0, s.retry_after_ms()));
      case StatusCode::kUnauthenticated:
        ctx_.on_unauthenticated(s.message());
        return release(now());
      case StatusCode::kNotFound:
        if (a.external_id && a.recreated == 0) {
          // The CRM no longer knows the id we hold: forget it and create again.
          ++a.recreated;
          a.external_id.reset();
          a.link_changed = true;
          if (planned != StepKind::kCreate && planned != StepKind::kUpdate) a.out.step = 0;
          continue;
        }
        return dead_letter(s);
      case StatusCode::kConflict: {
        if (!ctx_.capabilities.lookup_by_reference || a.lookups > 0) return dead_letter(s);
        std::optional<std::string> found;
        a.sync.external_id.reset();
        Status ls = lookup(&found);
        if (!ls.ok()) return ls.IsTransient() ? fail(ls) : dead_letter(ls);
        if (!found) {
          return fail(Status::Retryable("409 conflict but lookup by reference found nothing"));
        }
        a.external_id = found;
        a.link_changed = true;
        continue;  // same step, now an update of the linked record
      }
      case StatusCode::kInvalidRecord:
      case StatusCode::kPermanent:
      case StatusCode::kInvalidConfig:
        return dead_letter(s);
    }
    return dead_letter(s);
  }
  a.out.kind = JobOutcome::Kind::kDone;
  a.out.attempts = std::max(a.out.attempts, job.attempts);
  a.out.update_link = true;
  a.out.external_id = a.external_id;
  a.out.sent_hash = a.sent_hash;
  a.out.in_doubt = false;
  return a.out;
}

}  // namespace crmsync::engine
