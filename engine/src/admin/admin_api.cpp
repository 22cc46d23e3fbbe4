// The admin API; see admin_api.h.
#include "admin/admin_api.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <memory>
#include <regex>
#include <set>
#include <unordered_set>
#include <utility>
#include <vector>

#include <Poco/DateTime.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include "common/json_writer.h"
#include "common/logging.h"
#include "crmsync/entities.h"

namespace crmsync::engine {
namespace {

constexpr int kJobsDefaultLimit = 50;
constexpr int kJobsMaxLimit = 1000;
constexpr int kDlqDefaultLimit = 100;
constexpr int kDlqMaxLimit = 10000;
constexpr size_t kMaxReasonLength = 500;

// --- JSON out ----------------------------------------------------------------

// `text` when it parses as a JSON object, else "".
std::string ValidObjectOrEmpty(const std::string& text) {
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(text);
    if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) return text;
  } catch (const std::exception&) {
  }
  return "";
}

JsonObject DeadLetterJson(const DeadLetter& d) {
  JsonObject o;
  o.Int("id", d.id)
      .Int("jobId", d.job_id)
      .Str("plugin", d.plugin)
      .Str("eventId", d.event_id)
      .Str("eventType", d.event_type)
      .Str("entity", d.entity_kind + ":" + d.entity_id)
      .Str("errorClass", d.error_class)
      .Str("reason", d.reason)
      .Int("attempts", d.attempts)
      .Time("createdAt", d.created_ms)
      .Time("replayedAt", d.replayed_ms)
      .IntOrNull("replayJobId", d.replay_job_id);
  return o;
}

std::string AttemptJson(const AttemptRecord& a) {
  return JsonObject()
      .Int("attempt", a.attempt)
      .Int("step", a.step)
      .Str("stepKind", a.step_kind)
      .Time("at", a.at_ms)
      .Str("outcome", a.outcome)
      .IntOrNull("httpStatus", a.http_status)
      .Str("message", a.message)
      .Done();
}

std::string JobJson(const JobInfo& j) {
  return JsonObject()
      .Int("id", j.id)
      .Str("eventId", j.event_id)
      .Str("eventType", j.event_type)
      .Str("state", j.state)
      .Int("attempts", j.attempts)
      .Str("plan", j.plan)
      .Int("step", j.step)
      .Time("availableAt", j.available_at_ms)
      .Time("createdAt", j.created_ms)
      .Time("updatedAt", j.updated_ms)
      .StrOrNull("lastError", j.last_error)
      .Int("coalesced", j.coalesced)
      .Done();
}

// --- input -------------------------------------------------------------------

// "lead:42" -> ("lead", "42"); false with `*why` when malformed.
bool ParseEntityRef(const std::string& text, std::string* kind, std::string* id, std::string* why) {
  size_t colon = text.find(':');
  if (colon == std::string::npos) {
    *why = "must be kind:id (lead:42 or property:7), got '" + text + "'";
    return false;
  }
  EntityKind parsed = EntityKind::kLead;
  *kind = text.substr(0, colon);
  *id = text.substr(colon + 1);
  if (!ParseEntityKind(*kind, &parsed)) {
    *why = "kind must be lead or property, got '" + *kind + "'";
    return false;
  }
  if (id->empty() || id->size() > 128) {
    *why = "id must be 1 to 128 characters";
    return false;
  }
  for (unsigned char c : *id) {
    if (c < 0x20 || c == 0x7f) {
      *why = "id must not contain control characters";
      return false;
    }
  }
  return true;
}

// ISO 8601 date or date-time ("2026-11-23", "2026-11-23T10:15:00Z",
// "2026-11-23T10:15:00.250+05:30"); a time without zone is UTC.
bool ParseIsoTime(const std::string& text, int64_t* unix_ms) {
  static const std::regex kShape(
      R"(\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?)?)");
  if (!std::regex_match(text, kShape)) return false;
  try {
    int tzd = 0;
    Poco::DateTime parsed;
    std::string full = text;
    if (full.size() == 10) full += "T00:00:00Z";
    if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, full, parsed,
                                        tzd)) {
      return false;
    }
    parsed.makeUTC(tzd);
    *unix_ms = parsed.timestamp().epochMicroseconds() / 1000;
    return true;
  } catch (const Poco::Exception&) {
    return false;
  }
}

bool ParseInt(const std::string& text, int64_t min, int64_t max, int64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  int64_t value = std::stoll(text);
  if (value < min || value > max) return false;
  *out = value;
  return true;
}

bool ValidName(const std::string& text, size_t max_length, const char* extra_chars) {
  if (text.empty() || text.size() > max_length) return false;
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr(extra_chars, c) != nullptr;
  });
}

// The query parameters of the request; false (400 sent) when one is not in
// `allowed` or appears twice.
bool ReadQuery(HttpContext& ctx, const std::set<std::string>& allowed,
               std::vector<std::pair<std::string, std::string>>* params) {
  try {
    *params = Poco::URI(ctx.request().uri()).getQueryParameters();
  } catch (const Poco::Exception& e) {
    ctx.SendError(400, "the query string cannot be read: " + e.message());
    return false;
  }
  std::set<std::string> seen;
  for (const auto& [name, value] : *params) {
    if (allowed.count(name) == 0) {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
      ctx.SendError(400, "unknown query parameter '" + name + "'; accepted: " + list);
      return false;
    }
    if (!seen.insert(name).second) {
      ctx.SendError(400, "query parameter '" + name + "' is given more than once");
      return false;
    }
  }
  return true;
}

// Reads the dead-letter filter from the query; false (400 sent) when any part
// is malformed. `allow_limit`: limit is accepted (list, replay).
bool ReadFilter(HttpContext& ctx, bool allow_limit, int default_limit, DeadLetterFilter* f) {
  std::set<std::string> allowed = {"plugin", "errorClass", "entity",
                                   "since",  "until",      "includeReplayed"};
  if (allow_limit) allowed.insert("limit");
  std::vector<std::pair<std::string, std::string>> params;
  if (!ReadQuery(ctx, allowed, &params)) return false;
  f->limit = default_limit;
  for (const auto& [name, value] : params) {
    if (name == "plugin") {
      if (!ValidName(value, 128, "_.-")) {
        ctx.SendError(400, "plugin: must be 1 to 128 of [A-Za-z0-9_.-], got '" + value + "'");
        return false;
      }
      f->plugin = value;
    } else if (name == "errorClass") {
      if (!ValidName(value, 64, "_-")) {
        ctx.SendError(400,
                      "errorClass: must be a status name like invalid_record or "
                      "permanent, got '" +
                          value + "'");
        return false;
      }
      f->error_class = value;
    } else if (name == "entity") {
      std::string why;
      if (!ParseEntityRef(value, &f->entity_kind, &f->entity_id, &why)) {
        ctx.SendError(400, "entity: " + why);
        return false;
      }
    } else if (name == "since" || name == "until") {
      int64_t ms = 0;
      if (!ParseIsoTime(value, &ms) || ms <= 0) {
        ctx.SendError(400, name + ": must be an ISO 8601 time like 2026-11-23T10:15:00Z, got '" +
                               value + "'");
        return false;
      }
      (name == "since" ? f->since_ms : f->until_ms) = ms;
    } else if (name == "includeReplayed") {
      if (value.empty() || value == "true" || value == "1") {
        f->include_replayed = true;
      } else if (value == "false" || value == "0") {
        f->include_replayed = false;
      } else {
        ctx.SendError(400, "includeReplayed: must be true or false, got '" + value + "'");
        return false;
      }
    } else if (name == "limit") {
      int64_t limit = 0;
      if (!ParseInt(value, 1, kDlqMaxLimit, &limit)) {
        ctx.SendError(400, "limit: must be an integer from 1 to " + std::to_string(kDlqMaxLimit) +
                               ", got '" + value + "'");
        return false;
      }
      f->limit = static_cast<int>(limit);
    }
  }
  if (f->until_ms != 0 && f->until_ms <= f->since_ms) {
    ctx.SendError(400, "until: must be later than since");
    return false;
  }
  return true;
}

// A dead-letter id from a path segment; false (400 sent) when malformed.
bool ReadDeadLetterId(HttpContext& ctx, const std::string& text, int64_t* id) {
  if (!ParseInt(text, 1, INT64_MAX / 10, id)) {
    ctx.SendError(400, "dead letter id must be a positive integer, got '" + text + "'");
    return false;
  }
  return true;
}

// The optional {"reason": "..."} body of /sync/*; false (400 sent) when bad.
bool ReadReason(HttpContext& ctx, std::string* reason) {
  std::string body;
  if (!ctx.ReadBody(&body)) return false;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return true;
  Poco::JSON::Object::Ptr object;
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(body);
    if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
      object = parsed.extract<Poco::JSON::Object::Ptr>();
    }
  } catch (const std::exception&) {
    ctx.SendError(400, "body: not valid JSON; expected {\"reason\": \"...\"} or nothing");
    return false;
  }
  if (!object) {
    ctx.SendError(400, "body: must be a JSON object like {\"reason\": \"...\"}");
    return false;
  }
  if (!object->has("reason")) return true;
  Poco::Dynamic::Var value = object->get("reason");
  if (!value.isString()) {
    ctx.SendError(400, "reason: must be a string");
    return false;
  }
  std::string text = value.extract<std::string>();
  if (text.size() > kMaxReasonLength) {
    ctx.SendError(400,
                  "reason: must be at most " + std::to_string(kMaxReasonLength) + " characters");
    return false;
  }
  if (!text.empty()) *reason = text;
  return true;
}

// --- the API -----------------------------------------------------------------

class AdminApi {
 public:
  explicit AdminApi(AdminHooks hooks) : hooks_(std::move(hooks)) {}

  void Status(HttpContext& ctx) {
    if (!ctx.RequireBearer(hooks_.admin_token)) return;
    SyncState sync = hooks_.sync_states->GetSyncState(hooks_.plugin_name);
    QueueStats s = hooks_.inspection->Stats();
    int64_t age_s = 0;
    if (s.oldest_pending_created_ms > 0) {
      age_s = std::max<int64_t>(0, (NowMs() - s.oldest_pending_created_ms) / 1000);
    }
    std::string by_priority = JsonObject()
                                  .Int("high", s.ready_by_priority[0])
                                  .Int("medium", s.ready_by_priority[1])
                                  .Int("low", s.ready_by_priority[2])
                                  .Int("bulk", s.ready_by_priority[3])
                                  .Done();
    std::string queue = JsonObject()
                            .Int("ready", s.ready)
                            .Int("queued", s.queued)
                            .Int("delayed", s.delayed)
                            .Int("leased", s.leased)
                            .Int("done", s.done)
                            .Int("deadLetters", s.dead)
                            .Raw("readyByPriority", by_priority)
                            .Int("oldestPendingAgeSeconds", age_s)
                            .Int("coalescedTotal", s.coalesced_total)
                            .Int("eventsTotal", s.events_total)
                            .Int("echoSuppressedOutbound", s.echo_suppressed_outbound)
                            .Int("echoSuppressedInbound", s.echo_suppressed_inbound)
                            .Int("deliveriesPending", s.deliveries_pending)
                            .Done();
    ctx.SendJson(200, JsonObject()
                          .Str("version", CRMSYNC_VERSION)
                          .Str("plugin", hooks_.plugin_name)
                          .Raw("sync", SyncJson(sync))
                          .Raw("queue", queue)
                          .Raw("runtime", RuntimeJson())
                          .Done());
  }

  void SetSync(HttpContext& ctx, bool enabled) {
    if (!ctx.RequireBearer(hooks_.admin_token)) return;
    std::string reason = enabled ? "enabled by admin" : "disabled by admin";
    if (!ReadReason(ctx, &reason)) return;
    hooks_.sync_states->SetSyncState(hooks_.plugin_name, enabled, reason);
    ComponentLogger("admin").notice("sync for %s %s by admin: %s", hooks_.plugin_name,
                                    std::string(enabled ? "enabled" : "disabled"), reason);
    Notify();
    SyncState now = hooks_.sync_states->GetSyncState(hooks_.plugin_name);
    ctx.SendJson(200, JsonObject()
                          .Str("plugin", hooks_.plugin_name)
                          .Bool("enabled", now.enabled)
                          .Str("reason", now.reason)
                          .StrOrNull("changedAt", now.changed_at)
                          .Done());
  }

  // Pause and resume: a deliberate hold by ops, shown as such and never alerted.
  void Pause(HttpContext& ctx, bool pause) {
    if (!ctx.RequireBearer(hooks_.admin_token)) return;
    std::string reason = pause ? "maintenance" : "resumed by admin";
    if (!ReadReason(ctx, &reason)) return;
    hooks_.sync_states->SetSyncState(hooks_.plugin_name, !pause,
                               pause ? std::string(kPausedPrefix) + reason : reason);
    ComponentLogger("admin").notice("sync for %s %s by admin", hooks_.plugin_name,
                                    std::string(pause ? "paused" : "resumed"));
    Notify();
    SyncState now = hooks_.sync_states->GetSyncState(hooks_.plugin_name);
    ctx.SendJson(200, JsonObject()
                          .Str("plugin", hooks_.plugin_name)
                          .Bool("enabled", now.enabled)
                          .Bool("paused", !now.enabled && IsPausedReason(now.reason))
                          .Str("reason", now.reason)
                          .StrOrNull("changedAt", now.changed_at)
                          .Done());
  }

  // ?entity=kind:id[&limit=N] of /jobs and /audit; false (400 sent) when bad.
  struct EntityQuery {
    EntityKind kind = EntityKind::kLead;
    std::string kind_name;
    std::string id;
    int64_t limit = kJobsDefaultLimit;
  };
  bool ReadEntityQuery(HttpContext& ctx, EntityQuery* q) {
    std::vector<std::pair<std::string, std::string>> params;
    if (!ReadQuery(ctx, {"entity", "limit"}, &params)) return false;
    std::string entity = ctx.Query("entity");
    if (entity.empty()) {
      ctx.SendError(400, "entity: required, as kind:id (lead:42 or property:7)");
      return false;
    }
    std::string why;
    if (!ParseEntityRef(entity, &q->kind_name, &q->id, &why)) {
      ctx.SendError(400, "entity: " + why);
      return false;
    }
    std::string limit_text = ctx.Query("limit");
    if (!limit_text.empty() && !ParseInt(limit_text, 1, kJobsMaxLimit, &q->limit)) {
      ctx.SendError(400, "limit: must be an integer from 1 to " + std::to_string(kJobsMaxLimit) +
                             ", got '" + limit_text + "'");
      return false;
    }
    ParseEntityKind(q->kind_name, &q->kind);
    return true;
  }

  void Audit(HttpContext& ctx) {
    if (!ctx.RequireBearer(hooks_.admin_token)) return;
    EntityQuery q;
    if (!ReadEntityQuery(ctx, &q)) return;
    std::vector<std::string> rows;
    for (const AuditRecord& a : hooks_.inspection->AuditForEntity(q.kind, q.id, static_cast<int>(q.limit))) {
      rows.push_back(JsonObject()
                         .Int("id", a.id)
                         .Str("at", FormatIsoMs(a.at_ms))
                         .Int("jobId", a.job_id)
                         .Str("action", a.action)
                         .Str("detail", a.detail)
                         .Done());
    }
    ctx.SendJson(200, JsonObject()
                          .Str("entity", q.kind_name + ":" + q.id)
                          .Raw("audit", JsonArray(rows))
                          .Done());
  }

  void Jobs(HttpContext& ctx) {
    if (!ctx.RequireBearer(hooks_.admin_token)) return;
    EntityQuery q;
    if (!ReadEntityQuery(ctx, &q)) return;
    std::string mirror = "null";
    if (std::optional<std::string> row = hooks_.inspection->GetMirror(q.kind, q.id)) {
      std::string valid = ValidObjectOrEmpty(*row);
      if (!valid.empty()) mirror = valid;
    }
    std::vector<std::string> jobs;
    for (const JobInfo& j : hooks_.inspection->JobsForEntity(q.kind, q.id, static_cast<int>(q.limit))) {
      jobs.push_back(JobJson(j));
    }
    ctx.SendJson(200, JsonObject()
                          .Str("entity", q.kind_name + ":" + q.id)
                          .Raw("mirror", mirror)
                          .Raw("jobs", JsonArray(jobs))
                          .Done());
  }

  void ListDeadLetters(HttpContext& ctx) {
    if (!ctx.RequireBearer(hooks_.admin_token)) return;
    DeadLetterFilter filter;
    if (!ReadFilter(ctx, true, kDlqDefaultLimit, &filter)) return;
    std::vector<std::string> items;
    for (const DeadLetter& d : hooks_.dead_letters->ListDeadLetters(filter)) {
      items.push_back(DeadLetterJson(d).Done());
    }
    ctx.SendJson(200, JsonObject().Raw("deadLetters", JsonArray(items)).Done());
  }

  // GET /api/v1/admin/dlq/{id}
  void GetDeadLetter(HttpContext& ctx) {
    if (!ctx.RequireBearer(hooks_.admin_token)) return;
    int64_t id = 0;
    if (!ReadDeadLetterId(ctx, ctx.PathParam("id"), &id)) return;
    std::optional<DeadLetter> d = hooks_.dead_letters->GetDeadLetter(id);
    if (!d) return UnknownDeadLetter(ctx, id);
    std::vector<std::string> attempts;
    for (const AttemptRecord& a : d->history) attempts.push_back(AttemptJson(a));
    ctx.SendJson(200, DeadLetterJson(*d).Raw("attempts", JsonArray(attempts)).Done());
  }

  // POST /api/v1/admin/dlq/{id}/replay
  void ReplayOne(HttpContext& ctx) {
    if (!ctx.RequireBearer(hooks_.admin_token)) return;
    ReplayOne(ctx, ctx.PathParam("id"));
  }

  // POST /api/v1/admin/dlq/replay
  void ReplayMatching(HttpContext& ctx) {
    if (!ctx.RequireBearer(hooks_.admin_token)) return;
    ReplayMatchingFiltered(ctx);
  }

  // POST /api/v1/admin/dlq/purge
  void PurgeMatching(HttpContext& ctx) {
    if (!ctx.RequireBearer(hooks_.admin_token)) return;
    PurgeMatchingFiltered(ctx);
  }

  // DELETE /api/v1/admin/dlq/{id}
  void DeleteDeadLetter(HttpContext& ctx) {
    if (!ctx.RequireBearer(hooks_.admin_token)) return;
    int64_t id = 0;
    if (!ReadDeadLetterId(ctx, ctx.PathParam("id"), &id)) return;
    if (!hooks_.dead_letters->GetDeadLetter(id)) return UnknownDeadLetter(ctx, id);
    DeadLetterFilter filter;
    filter.id = id;
    filter.include_replayed = true;
    int64_t purged = hooks_.dead_letters->PurgeDeadLetters(filter);
    ComponentLogger("admin").notice("dead letter %s purged by admin", std::to_string(id));
    ctx.SendJson(200, JsonObject().Int("purged", purged).Done());
  }

 private:
  int64_t NowMs() const {
    return hooks_.clock ? hooks_.clock->NowMs() : SystemClock::Instance().NowMs();
  }

  void Notify() {
    if (hooks_.on_sync_changed) hooks_.on_sync_changed();
  }

  static std::string SyncJson(const SyncState& sync) {
    return JsonObject()
        .Bool("enabled", sync.enabled)
        .Str("reason", sync.reason)
        .StrOrNull("changedAt", sync.changed_at)
        .Done();
  }

  std::string RuntimeJson() {
    if (!hooks_.runtime_status) return "{}";
    try {
      return RuntimeStatusJson(hooks_.runtime_status());
    } catch (const std::exception&) {
      return JsonObject().Str("error", "runtime status unavailable").Done();
    }
  }

  static void UnknownDeadLetter(HttpContext& ctx, int64_t id) {
    ctx.SendError(404, "no dead letter with id " + std::to_string(id));
  }

  static std::string ReplayedJson(const std::vector<std::pair<int64_t, int64_t>>& pairs) {
    std::vector<std::string> items;
    for (const auto& [dead_letter_id, job_id] : pairs) {
      items.push_back(
          JsonObject().IntOrNull("deadLetterId", dead_letter_id).Int("jobId", job_id).Done());
    }
    return JsonObject().Raw("replayed", JsonArray(items)).Done();
  }

  void ReplayOne(HttpContext& ctx, const std::string& id_text) {
    int64_t id = 0;
    if (!ReadDeadLetterId(ctx, id_text, &id)) return;
    std::optional<DeadLetter> d = hooks_.dead_letters->GetDeadLetter(id);
    if (!d) return UnknownDeadLetter(ctx, id);
    auto already = [&](const DeadLetter& replayed) {
      ctx.SendError(409, "dead letter " + std::to_string(id) + " was already replayed at " +
                             FormatIsoMs(replayed.replayed_ms) + " as job " +
                             std::to_string(replayed.replay_job_id));
    };
    if (d->replayed_ms != 0) return already(*d);
    DeadLetterFilter filter;
    filter.id = id;
    filter.limit = 1;
    std::vector<int64_t> jobs = hooks_.dead_letters->ReplayDeadLetters(filter, NowMs());
    if (jobs.empty()) {
      d = hooks_.dead_letters->GetDeadLetter(id);
      if (d && d->replayed_ms != 0) return already(*d);
      if (!d) return UnknownDeadLetter(ctx, id);
      ctx.SendError(500, "dead letter " + std::to_string(id) + " could not be replayed: its job " +
                             std::to_string(d->job_id) + " is gone");
      return;
    }
    ComponentLogger("admin").notice("dead letter %s replayed by admin as job %s",
                                    std::to_string(id), std::to_string(jobs[0]));
    Notify();
    ctx.SendJson(200, ReplayedJson({{id, jobs[0]}}));
  }

  void ReplayMatchingFiltered(HttpContext& ctx) {
    DeadLetterFilter filter;
    if (!ReadFilter(ctx, true, kDlqMaxLimit, &filter)) return;
    filter.include_replayed = false;  // a replayed dead letter is never replayed twice
    std::vector<DeadLetter> targets = hooks_.dead_letters->ListDeadLetters(filter);
    std::vector<int64_t> jobs = hooks_.dead_letters->ReplayDeadLetters(filter, NowMs());
    // Pair each new job with its dead letter by reading the targets back.
    std::unordered_set<int64_t> unpaired(jobs.begin(), jobs.end());
    std::vector<std::pair<int64_t, int64_t>> pairs;
    for (const DeadLetter& t : targets) {
      if (unpaired.empty()) break;
      DeadLetterFilter one;
      one.id = t.id;
      one.include_replayed = true;
      one.limit = 1;
      std::vector<DeadLetter> now = hooks_.dead_letters->ListDeadLetters(one);
      if (!now.empty() && unpaired.erase(now[0].replay_job_id) == 1) {
        pairs.emplace_back(t.id, now[0].replay_job_id);
      }
    }
    for (int64_t job : jobs) {
      // Dead-lettered between the listing and the replay: rare, id unknown here.
      if (unpaired.count(job) != 0) pairs.emplace_back(0, job);
    }
    if (!jobs.empty()) {
      ComponentLogger("admin").notice("%s dead letter(s) replayed by admin",
                                      std::to_string(jobs.size()));
      Notify();
    }
    ctx.SendJson(200, ReplayedJson(pairs));
  }

  void PurgeMatchingFiltered(HttpContext& ctx) {
    DeadLetterFilter filter;
    if (!ReadFilter(ctx, false, kDlqDefaultLimit, &filter)) return;
    int64_t purged = hooks_.dead_letters->PurgeDeadLetters(filter);
    ComponentLogger("admin").notice("%s dead letter(s) purged by admin", std::to_string(purged));
    ctx.SendJson(200, JsonObject().Int("purged", purged).Done());
  }

  const AdminHooks hooks_;
};

}  // namespace

void AddAdminRoutes(Router& router, AdminHooks hooks) {
  auto api = std::make_shared<AdminApi>(std::move(hooks));
  const std::string admin = std::string(kApiV1) + "admin/";
  router.Add("GET", admin + "status", [api](HttpContext& ctx) { api->Status(ctx); });
  router.Add("POST", admin + "sync/enable", [api](HttpContext& ctx) { api->SetSync(ctx, true); });
  router.Add("POST", admin + "sync/disable", [api](HttpContext& ctx) { api->SetSync(ctx, false); });
  router.Add("POST", admin + "sync/pause", [api](HttpContext& ctx) { api->Pause(ctx, true); });
  router.Add("POST", admin + "sync/resume", [api](HttpContext& ctx) { api->Pause(ctx, false); });
  router.Add("GET", admin + "jobs", [api](HttpContext& ctx) { api->Jobs(ctx); });
  router.Add("GET", admin + "audit", [api](HttpContext& ctx) { api->Audit(ctx); });
  router.Add("GET", admin + "dlq", [api](HttpContext& ctx) { api->ListDeadLetters(ctx); });
  router.Add("POST", admin + "dlq/replay", [api](HttpContext& ctx) { api->ReplayMatching(ctx); });
  router.Add("POST", admin + "dlq/purge", [api](HttpContext& ctx) { api->PurgeMatching(ctx); });
  router.Add("GET", admin + "dlq/{id}", [api](HttpContext& ctx) { api->GetDeadLetter(ctx); });
  router.Add("DELETE", admin + "dlq/{id}",
             [api](HttpContext& ctx) { api->DeleteDeadLetter(ctx); });
  router.Add("POST", admin + "dlq/{id}/replay", [api](HttpContext& ctx) { api->ReplayOne(ctx); });
}

}  // namespace crmsync::engine
