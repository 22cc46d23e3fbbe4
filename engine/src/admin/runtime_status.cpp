// The admin API's runtime status; see runtime_status.h.
#include "admin/runtime_status.h"

#include "common/clock.h"
#include "common/json_writer.h"

namespace crmsync::engine {
namespace {

std::string CircuitJson(const DispatchStatus& d) {
  JsonObject circuit;
  circuit.Str("state", CircuitStateName(d.circuit)).Int("openedTotal", d.circuit_opened_total);
  if (d.probe_at_ms) circuit.Str("probeAt", FormatIsoMs(*d.probe_at_ms));
  return circuit.Done();
}

std::string RateLimitJson(const DispatchStatus& d) {
  JsonObject rate;
  rate.Raw("perSecond", std::to_string(d.rate_per_s))
      .Int("rateLimitedTotal", d.rate_limited_total)
      .Int("windowsTotal", d.rate_windows_total);
  if (d.paused_until_ms) rate.Str("pausedUntil", FormatIsoMs(*d.paused_until_ms));
  if (d.window_until_ms) rate.Str("windowUntil", FormatIsoMs(*d.window_until_ms));
  if (d.budget) {
    rate.Raw("budget", JsonObject()
                           .Int("remaining", d.budget->remaining)
                           .Str("resetAt", FormatIsoMs(d.budget->reset_ms))
                           .Bool("pacing", d.budget->pacing)
                           .Done());
  }
  return rate.Done();
}

}  // namespace

std::string RuntimeStatusJson(const RuntimeStatus& status) {
  const DispatchStatus& d = status.dispatch;
  std::vector<std::string> alerts;
  for (const ActiveAlert& a : status.alerts) {
    alerts.push_back(JsonObject()
                         .Str("kind", a.kind)
                         .Str("subject", a.subject)
                         .Str("message", a.message)
                         .Str("since", FormatIsoMs(a.since_ms))
                         .Done());
  }
  return JsonObject()
      .Int("workers", d.workers)
      .Bool("syncEnabled", d.sync_enabled)
      .Raw("circuit", CircuitJson(d))
      .Raw("rateLimit", RateLimitJson(d))
      .Int("jobsFinished", d.jobs_finished)
      .Raw("alerts", JsonArray(alerts))
      .Raw("inbound", JsonObject().Str("webhookRegistration", status.webhook_registration).Done())
      .Done();
}

}  // namespace crmsync::engine
