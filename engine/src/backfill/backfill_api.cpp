// The backfill routes; see backfill_api.h.
#include "backfill/backfill_api.h"

#include <cctype>
#include <set>

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "common/json_writer.h"
#include "store/store_error.h"

namespace crmsync::engine {
namespace {

std::string BadLinesJson(const std::vector<BadLine>& lines) {
  std::vector<std::string> items;
  for (const BadLine& bad : lines) {
    std::vector<std::string> errors;
    for (const FieldError& e : bad.errors) {
      errors.push_back(JsonObject().Str("path", e.path).Str("message", e.message).Done());
    }
    items.push_back(JsonObject().Int("line", bad.line).Raw("errors", JsonArray(errors)).Done());
  }
  return JsonArray(items);
}

bool ParseCount(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 15) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  *out = std::stoll(text);
  return true;
}

bool ParseFlag(const std::string& text, bool* out) {
  if (text == "true") {
    *out = true;
  } else if (text == "false") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

void Import(const BackfillApiContext& ctx, HttpContext& http) {
  if (!http.RequireBearer(ctx.admin_token)) return;
  if (ctx.shutting_down && ctx.shutting_down->load()) {
    http.SetHeader("Retry-After", "5");
    http.SendError(503, "shutting down; run the same backfill command again to resume");
    return;
  }
  static const std::set<std::string> kAllowed = {"run", "offset", "strict", "final", "total",
                                                  "source"};
  BackfillImport request;
  bool has_run = false, has_offset = false;
  Poco::URI::QueryParameters params;
  try {
    params = Poco::URI(http.request().uri()).getQueryParameters();
  } catch (const Poco::Exception& e) {
    http.SendError(400, "the query string cannot be read: " + e.message());
    return;
  }
  std::set<std::string> seen;
  for (const auto& [name, value] : params) {
    if (!kAllowed.count(name)) {
      http.SendError(400, "unknown query parameter '" + name +
                              "'; accepted: run, offset, strict, final, total, source");
      return;
    }
    if (!seen.insert(name).second) {
      http.SendError(400, "query parameter '" + name + "' is given more than once");
      return;
    }
    if (name == "run") {
      request.run = value;
      has_run = true;
    } else if (name == "offset") {
      if (!ParseCount(value, &request.offset)) {
        http.SendError(400, "offset: must be a line count >= 0");
        return;
      }
      has_offset = true;
    } else if (name == "total") {
      if (!ParseCount(value, &request.total_lines)) {
        http.SendError(400, "total: must be a line count >= 0");
        return;
      }
    } else if (name == "strict" || name == "final") {
      if (!ParseFlag(value, name == "strict" ? &request.strict : &request.final)) {
        http.SendError(400, name + ": must be true or false");
        return;
      }
    } else if (name == "source") {
      request.source = value;
    }
  }
  if (!has_run || !has_offset) {
    http.SendError(400, std::string(has_run ? "offset" : "run") +
                            ": required (POST /api/v1/backfill?run=ID&offset=N)");
    return;
  }
  if (!http.ReadBody(&request.body)) return;  // 413 sent
  BackfillImportResult result = ctx.runs->Import(request);
  if (result.status == 200) {
    http.SendJson(200, JsonObject()
                           .Str("run", request.run)
                           .Int("accepted", result.accepted)
                           .Int("unchanged", result.unchanged)
                           .Int("duplicates", result.duplicates)
                           .Raw("invalid", BadLinesJson(result.invalid))
                           .Int("nextOffset", result.next_offset)
                           .Raw("totals", BackfillRunJson(result.run))
                           .Done());
    return;
  }
  // Every error answer has the one shape ({"error", "details"}): a 409's
  // offset is read with GET /api/v1/backfill/{run}; a 422 details the first
  // bad line, which its message names.
  JsonObject answer;
  answer.Str("error", result.error);
  if (result.status == 422 && !result.invalid.empty()) {
    std::vector<std::string> details;
    for (const FieldError& e : result.invalid.front().errors) {
      details.push_back(JsonObject().Str("path", e.path).Str("message", e.message).Done());
    }
    answer.Raw("details", JsonArray(details));
  }
  if (result.status == 503) http.SetHeader("Retry-After", "1");
  http.SendJson(result.status, answer.Done());
}

void ListRuns(const BackfillApiContext& ctx, HttpContext& http) {
  if (!http.RequireBearer(ctx.admin_token)) return;
  std::vector<std::string> runs;
  try {
    for (const BackfillRun& run : ctx.runs->List()) runs.push_back(BackfillRunJson(run));
  } catch (const StoreError& e) {
    http.SendError(503, std::string("the runs cannot be read: ") + e.what());
    return;
  }
  http.SendJson(200, JsonObject()
                         .Raw("runs", JsonArray(runs))
                         .Raw("queue", BackfillQueueJson(ctx.stats()))
                         .Done());
}

void GetRun(const BackfillApiContext& ctx, HttpContext& http) {
  if (!http.RequireBearer(ctx.admin_token)) return;
  std::string id;
  Poco::URI::decode(http.PathParam("run"), id);
  if (!ValidBackfillRunId(id)) {
    http.SendError(400, "run must be 1-64 characters of A-Z a-z 0-9 _ . -");
    return;
  }
  std::optional<BackfillRun> run;
  try {
    run = ctx.runs->Get(id);
  } catch (const StoreError& e) {
    http.SendError(503, std::string("the run cannot be read: ") + e.what());
    return;
  }
  if (!run) {
    http.SendError(404, "no backfill run '" + id + "'");
    return;
  }
  std::string json = BackfillRunJson(*run);
  json.pop_back();  // the run's members, then the queue's figures
  http.SendJson(200, json + ",\"queue\":" + BackfillQueueJson(ctx.stats()) + "}");
}

}  // namespace

std::string BackfillQueueJson(const QueueStats& s) {
  const int64_t bulk_ready = s.ready_by_priority[static_cast<int>(Priority::kBulk)];
  return JsonObject()
      .Int("bulkReady", bulk_ready)
      .Int("queued", s.queued)
      .Int("leased", s.leased)
      .Int("delayed", s.delayed)
      .Bool("synced", bulk_ready == 0 && s.queued == 0 && s.leased == 0)
      .Done();
}

std::string BackfillRuntimeJson(BackfillRuns& runs, const QueueStats& stats) {
  JsonObject out;
  try {
    std::vector<BackfillRun> list = runs.List();
    int64_t running = 0;
    for (const BackfillRun& run : list) running += run.state == "running" ? 1 : 0;
    out.Int("running", running).Raw("latest", list.empty() ? "null" : BackfillRunJson(list.front()));
  } catch (const StoreError& e) {
    out.Int("running", 0).Raw("latest", "null").Str("error", e.what());
  }
  return out.Raw("queue", BackfillQueueJson(stats)).Done();
}

void AddBackfillRoutes(Router& router, BackfillApiContext ctx) {
  const std::string base = std::string(kApiV1) + "backfill";
  router.Add("POST", base, [ctx](HttpContext& http) { Import(ctx, http); });
  router.Add("GET", base, [ctx](HttpContext& http) { ListRuns(ctx, http); });
  router.Add("GET", base + "/{run}", [ctx](HttpContext& http) { GetRun(ctx, http); });
}

}  // namespace crmsync::engine
