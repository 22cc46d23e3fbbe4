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

std::string PollJson(const PollStatus& p) {
  JsonObject poll;
  poll.Bool("enabled", p.enabled);
  if (!p.enabled) return poll.Done();
  std::vector<std::string> entities;
  for (const EntityPollStatus& e : p.entities) {
    JsonObject entity;
    entity.Str("entity", e.entity).Bool("polling", e.polling);
    if (e.last_success_ms) entity.Str("lastSuccess", FormatIsoMs(e.last_success_ms));
    if (!e.last_error.empty()) {
      entity.Str("lastError", e.last_error).Str("lastErrorAt", FormatIsoMs(e.last_error_ms));
    }
    entity.Int("changes", e.changes).Int("errors", e.errors).Str("cursor", e.cursor_set ? "set" : "none");
    entities.push_back(entity.Done());
  }
  return poll.Int("intervalMs", p.interval_ms)
      .Bool("leader", p.leader)
      .Bool("paused", p.paused)
      .Raw("entities", JsonArray(entities))
      .Done();
}

// Shadow mode's figures; only "enabled" when it is off.
std::string ShadowJson(const ShadowFigures& f) {
  JsonObject shadow;
  shadow.Bool("enabled", f.enabled);
  if (!f.enabled) return shadow.Done();
  return shadow.Int("compared", f.compared)
      .Int("identical", f.identical)
      .Int("differing", f.differing)
      .Int("errors", f.errors)
      .Int("dropped", f.dropped)
      .Int("sandboxSent", f.sandbox_sent)
      .Int("queueDepth", f.queue_depth)
      .Int("queueCapacity", f.queue_capacity)
      .Done();
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
  JsonObject out;
  out.Int("workers", d.workers)
      .Bool("syncEnabled", d.sync_enabled)
      .Raw("circuit", CircuitJson(d))
      .Raw("rateLimit", RateLimitJson(d))
      .Int("jobsFinished", d.jobs_finished)
      .Raw("alerts", JsonArray(alerts))
      .Raw("inbound", JsonObject().Str("webhookRegistration", status.webhook_registration).Done())
      .Raw("poll", PollJson(status.poll))
      .Raw("reconcile", status.reconcile)
      .Raw("resync", status.resync)
      .Raw("shadow", ShadowJson(status.shadow));
  // Backfill: its own member, written by backfill/backfill_api.h.
  if (!status.backfill.empty()) out.Raw("backfill", status.backfill);
  return out.Done();
}

}  // namespace crmsync::engine
