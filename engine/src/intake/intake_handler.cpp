// POST /api/v1/events; see intake_handler.h.
#include "intake/intake_handler.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <random>

#include "common/json_writer.h"
#include "common/logging.h"
#include "intake/event_validator.h"

namespace crmsync::engine {
namespace {

std::string DetailsJson(const std::vector<FieldError>& errors) {
  std::vector<std::string> items;
  for (const FieldError& error : errors) {
    items.push_back(JsonObject().Str("path", error.path).Str("message", error.message).Done());
  }
  return JsonArray(items);
}

// Counters looked up once, so the hot path takes no registry lock.
struct IntakeCounters {
  explicit IntakeCounters(MetricsRegistry& m) {
    for (EventType type : AllEventTypes()) {
      accepted[static_cast<size_t>(type)] = &m.GetCounter(
          "crmsync_events_accepted_total", "Events accepted, by type.", {{"type", EventTypeName(type)}});
    }
    duplicate = &m.GetCounter("crmsync_events_duplicate_total", "Events repeated by eventId.");
    for (const char* reason : {"invalid", "unknown_type", "unauthorized", "too_large",
                               "shutting_down", "store_error"}) {
      m.GetCounter("crmsync_events_rejected_total", "Event requests refused, by reason.",
                   {{"reason", reason}});
    }
  }
  Counter* accepted[6] = {};
  Counter* duplicate = nullptr;
};

std::string NewRequestId() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t seed = static_cast<uint64_t>(std::random_device{}());
  char id[32];
  std::snprintf(id, sizeof(id), "r-%08llx-%llu", static_cast<unsigned long long>(seed & 0xffffffff),
                static_cast<unsigned long long>(++counter));
  return id;
}

}  // namespace

void AddIntakeRoutes(Router& router, IntakeContext ctx) {
  std::shared_ptr<IntakeCounters> counters =
      ctx.metrics ? std::make_shared<IntakeCounters>(*ctx.metrics) : nullptr;
  router.Add("POST", std::string(kApiV1) + "events", [ctx, counters](HttpContext& http) {
    MetricsRegistry* metrics = ctx.metrics;
    auto rejected = [metrics](const std::string& reason) {
      if (metrics) {
        metrics->GetCounter("crmsync_events_rejected_total", "Event requests refused, by reason.",
                            {{"reason", reason}})
            .Inc();
      }
    };
    if (ctx.shutting_down && ctx.shutting_down->load()) {
      rejected("shutting_down");
      http.SetHeader("Retry-After", "5");
      http.SendError(503, "shutting down; retry against another instance or later");
      return;
    }
    if (!http.RequireBearer(ctx.token, [&] { rejected("unauthorized"); })) return;
    // The request id ties this request's log lines together (the platform may
    // send its own); each event's id then follows it through every attempt.
    std::string request_id = http.request().header("X-Request-Id");
    if (request_id.empty() || request_id.size() > 64) request_id = NewRequestId();
    http.SetHeader("X-Request-Id", request_id);
    Poco::Logger& log = ComponentLogger("intake");
    if (http.request().too_large_limit() >= 0) {  // counted before the 413 goes
      rejected("too_large");
      LogWith(log, Poco::Message::PRIO_INFORMATION, "refused: body too large",
              {{"request_id", request_id}, {"status", "413"}});
      std::string unused;
      http.ReadBody(&unused);  // answers 413
      return;
    }
    ValidationResult result = ValidateEventsBody(http.request().body());
    if (!result.errors.empty()) {
      int status = result.unknown_type ? 422 : 400;
      rejected(result.unknown_type ? "unknown_type" : "invalid");
      LogWith(log, Poco::Message::PRIO_INFORMATION,
              "refused: " + std::to_string(result.errors.size()) + " bad field(s), first at " +
                  result.errors[0].path,
              {{"request_id", request_id}, {"status", std::to_string(status)}});
      http.SendJson(status, JsonObject()
                                .Str("error", result.unknown_type ? "unknown event type"
                                                                  : "invalid event")
                                .Raw("details", DetailsJson(result.errors))
                                .Done());
      return;
    }
    // The write is durable before the answer; the handler thread does not wait
    // for it, so many requests share one commit (group commit).
    struct Ref {
      EntityKind kind;
      EventType type;
      std::string entity_id;
    };
    std::vector<Ref> refs;
    refs.reserve(result.events.size());
    for (const IncomingEvent& e : result.events) refs.push_back({e.kind, e.type, e.entity_id});
    std::shared_ptr<HttpContext> answer = http.Defer();
    const size_t count = result.events.size();
    ctx.store->AcceptAsync(
        std::move(result.events), ctx.clock->NowMs(),
        [ctx, counters, answer, refs = std::move(refs), request_id, count, rejected](
            std::vector<AcceptResult> accepted, std::exception_ptr error) {
          Poco::Logger& log = ComponentLogger("intake");
          if (error) {
            try {
              std::rethrow_exception(error);
            } catch (const PatchConflict& e) {
              // A patch that fits the contract alone but not merged into what is
              // stored (budgetMin above the stored budgetMax): nothing was written.
              rejected("invalid");
              LogWith(log, Poco::Message::PRIO_INFORMATION, "refused: patch conflicts at " + e.path(),
                      {{"request_id", request_id}, {"status", "409"}});
              answer->SendJson(409, JsonObject()
                                        .Str("error", "event conflicts with the stored entity")
                                        .Raw("details", DetailsJson({{e.path(), e.message()}}))
                                        .Done());
            } catch (const std::exception& e) {
              rejected("store_error");
              LogWith(log, Poco::Message::PRIO_ERROR,
                      "could not store " + std::to_string(count) + " event(s): " + e.what(),
                      {{"request_id", request_id}, {"status", "503"}});
              answer->SetHeader("Retry-After", "1");
              answer->SendError(503, "events could not be stored durably; nothing was accepted; retry");
            }
            return;
          }
          bool any_new = false;
          std::vector<std::string> list;
          for (size_t i = 0; i < accepted.size(); ++i) {
            const AcceptResult& a = accepted[i];
            any_new = any_new || !a.duplicate;
            JsonObject item;
            item.Str("eventId", a.event_id).Int("jobId", a.job_id);
            // Job ids start at 1: 0 means the event made no job (it only echoed the
            // CRM, or was stale; a repeat of either is reported as an echo).
            if (a.stale) {
              item.Str("suppressed", "stale");
            } else if (a.echo_suppressed || (a.duplicate && a.job_id == 0)) {
              item.Str("suppressed", "echo");
            }
            list.push_back(item.Done());
            if (log.debug()) {
              LogWith(log, Poco::Message::PRIO_DEBUG,
                      a.duplicate         ? "repeat of an accepted event"
                      : a.stale           ? "older than every field it carries: recorded, not merged"
                      : a.echo_suppressed ? "echo of the CRM's last change: not synced"
                      : a.coalesced       ? "absorbed into a pending job"
                                          : "accepted",
                      {{"request_id", request_id},
                       {"event_id", a.event_id},
                       {"job_id", std::to_string(a.job_id)},
                       {"entity", std::string(EntityKindName(refs[i].kind)) + ":" + refs[i].entity_id}});
            }
            if (counters) {
              if (a.duplicate) {
                counters->duplicate->Inc();
              } else {
                counters->accepted[static_cast<size_t>(refs[i].type)]->Inc();
              }
            }
          }
          // The dispatcher is woken before the answer goes: whoever reads the
          // answer may rely on it.
          if (any_new && ctx.on_accepted) ctx.on_accepted();
          answer->SendJson(any_new ? 202 : 200, JsonObject().Raw("accepted", JsonArray(list)).Done());
        });
  });
}

}  // namespace crmsync::engine
