// POST /api/events; see intake_handler.h.
#include "intake/intake_handler.h"

#include <memory>

#include "common/logging.h"
#include "intake/event_validator.h"

namespace crmsync::engine {
namespace {

std::string DetailsJson(const std::vector<FieldError>& errors) {
  std::string json = "[";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i) json += ",";
    json += "{\"path\":" + JsonQuote(errors[i].path) + ",\"message\":" + JsonQuote(errors[i].message) +
            "}";
  }
  return json + "]";
}

// Counters looked up once, so the hot path takes no registry lock.
struct IntakeCounters {
  explicit IntakeCounters(MetricsRegistry& m) {
    for (EventType type : AllEventTypes()) {
      accepted[static_cast<size_t>(type)] = &m.GetCounter(
          "crmsync_events_accepted_total", "Events accepted, by type.", {{"type", EventTypeName(type)}});
    }
    duplicate = &m.GetCounter("crmsync_events_duplicate_total", "Events repeated by eventId.");
    coalesced = &m.GetCounter("crmsync_jobs_coalesced_total",
                              "Events absorbed into a pending job of the same entity.");
  }
  Counter* accepted[6] = {};
  Counter* duplicate = nullptr;
  Counter* coalesced = nullptr;
};

}  // namespace

void AddIntakeRoutes(Router& router, IntakeContext ctx) {
  std::shared_ptr<IntakeCounters> counters =
      ctx.metrics ? std::make_shared<IntakeCounters>(*ctx.metrics) : nullptr;
  router.Add("POST", "/api/events", [ctx, counters](HttpContext& http) {
    MetricsRegistry* metrics = ctx.metrics;
    auto rejected = [&](const std::string& reason) {
      if (metrics) {
        metrics->GetCounter("crmsync_events_rejected_total", "Event requests refused, by reason.",
                            {{"reason", reason}})
            .Inc();
      }
    };
    if (ctx.shutting_down && ctx.shutting_down->load()) {
      rejected("shutting_down");
      http.response().set("Retry-After", "5");
      http.SendError(503, "shutting down; retry against another instance or later");
      return;
    }
    if (!http.RequireBearer(ctx.token)) {
      rejected("unauthorized");
      return;
    }
    std::string body;
    if (!http.ReadBody(&body)) {
      rejected("too_large");
      return;
    }
    ValidationResult result = ValidateEventsBody(body);
    if (!result.errors.empty()) {
      int status = result.unknown_type ? 422 : 400;
      rejected(result.unknown_type ? "unknown_type" : "invalid");
      http.SendJson(status, std::string("{\"error\":") +
                                (result.unknown_type ? "\"unknown event type\""
                                                     : "\"invalid event\"") +
                                ",\"details\":" + DetailsJson(result.errors) + "}");
      return;
    }
    std::vector<AcceptResult> accepted;
    try {
      accepted = ctx.store->Accept(result.events, ctx.clock->NowMs());
    } catch (const std::exception& e) {
      rejected("store_error");
      ComponentLogger("intake").error("could not store %s event(s): %s",
                                      std::to_string(result.events.size()), std::string(e.what()));
      http.response().set("Retry-After", "1");
      http.SendError(503, "events could not be stored durably; nothing was accepted; retry");
      return;
    }
    bool any_new = false;
    std::string list = "[";
    for (size_t i = 0; i < accepted.size(); ++i) {
      const AcceptResult& a = accepted[i];
      any_new = any_new || !a.duplicate;
      if (i) list += ",";
      list += "{\"eventId\":" + JsonQuote(a.event_id) + ",\"jobId\":" + std::to_string(a.job_id) + "}";
      if (counters) {
        if (a.duplicate) {
          counters->duplicate->Inc();
        } else {
          counters->accepted[static_cast<size_t>(result.events[i].type)]->Inc();
        }
        if (a.coalesced) counters->coalesced->Inc();
      }
    }
    list += "]";
    http.SendJson(any_new ? 202 : 200, "{\"accepted\":" + list + "}");
    if (any_new && ctx.on_accepted) ctx.on_accepted();
  });
}

}  // namespace crmsync::engine
