// Backfill runs; see backfill_runs.h.
#include "backfill/backfill_runs.h"

#include <algorithm>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "common/json_writer.h"
#include "common/logging.h"
#include "crmsync/redact.h"
#include "queue/store_codec.h"
#include "store/store_error.h"

namespace crmsync::engine {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr char kStatePlugin[] = "crmsync.backfill";
constexpr char kListPlugin[] = "crmsync.backfill.runs";
constexpr char kListKey[] = "list";

int64_t IntOf(const Object& o, const char* key) {
  if (!o.has(key) || o.isNull(key)) return 0;
  try {
    return o.getValue<int64_t>(key);
  } catch (const Poco::Exception&) {
    return 0;
  }
}

std::string StrOf(const Object& o, const char* key) {
  if (!o.has(key) || o.isNull(key)) return "";
  return o.get(key).convert<std::string>();
}

std::string TextOf(const std::vector<std::string>& list) {
  std::vector<std::string> quoted;
  for (const std::string& s : list) quoted.push_back(JsonQuote(s));
  return JsonArray(quoted);
}

std::vector<std::string> ListOf(const std::string& json) {
  std::vector<std::string> list;
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(json);
    if (parsed.type() != typeid(Array::Ptr)) return list;
    Array::Ptr array = parsed.extract<Array::Ptr>();
    for (size_t i = 0; i < array->size(); ++i) list.push_back(array->getElement<std::string>(i));
  } catch (const Poco::Exception&) {
  }
  return list;
}

// "line 12: $.lead.email: must be ..." of a bad line's first problem.
std::string Describe(const BadLine& bad) {
  std::string text = "line " + std::to_string(bad.line);
  if (!bad.errors.empty()) text += ": " + bad.errors[0].path + ": " + bad.errors[0].message;
  return text;
}

}  // namespace

std::string BackfillRunJson(const BackfillRun& r) {
  std::vector<std::string> bad;
  for (const BackfillBadLine& b : r.bad_lines) {
    bad.push_back(
        JsonObject().Int("line", b.line).Str("path", b.path).Str("message", b.message).Done());
  }
  return JsonObject()
      .Str("run", r.run)
      .Str("source", r.source)
      .Str("state", r.state)
      .Time("startedAt", r.started_ms)
      .Time("updatedAt", r.updated_ms)
      .Time("finishedAt", r.finished_ms)
      .Int("nextOffset", r.next_offset)
      .Int("totalLines", r.total_lines)
      .Int("accepted", r.accepted)
      .Int("unchanged", r.unchanged)
      .Int("duplicates", r.duplicates)
      .Int("invalid", r.invalid)
      .Int("blank", r.blank)
      .Raw("invalidLines", JsonArray(bad))
      .StrOrNull("stoppedReason", r.stopped_reason)
      .Done();
}

bool ParseBackfillRun(const std::string& json, BackfillRun* run) {
  Object::Ptr o;
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(json);
    if (parsed.type() != typeid(Object::Ptr)) return false;
    o = parsed.extract<Object::Ptr>();
  } catch (const Poco::Exception&) {
    return false;
  }
  BackfillRun r;
  r.run = StrOf(*o, "run");
  if (r.run.empty()) return false;
  r.source = StrOf(*o, "source");
  r.state = StrOf(*o, "state");
  r.next_offset = IntOf(*o, "nextOffset");
  r.total_lines = IntOf(*o, "totalLines");
  r.accepted = IntOf(*o, "accepted");
  r.unchanged = IntOf(*o, "unchanged");
  r.duplicates = IntOf(*o, "duplicates");
  r.invalid = IntOf(*o, "invalid");
  r.blank = IntOf(*o, "blank");
  r.stopped_reason = StrOf(*o, "stoppedReason");
  // Written with milliseconds (FormatIsoMs), so they read back exactly.
  for (auto [key, field] : {std::pair{"startedAt", &BackfillRun::started_ms},
                            std::pair{"updatedAt", &BackfillRun::updated_ms},
                            std::pair{"finishedAt", &BackfillRun::finished_ms}}) {
    std::string text = StrOf(*o, key);
    if (!text.empty()) r.*field = IsoMs(text).value_or(0);
  }
  Array::Ptr bad = o->getArray("invalidLines");
  for (size_t i = 0; bad && i < bad->size(); ++i) {
    Object::Ptr b = bad->getObject(static_cast<unsigned>(i));
    if (b) r.bad_lines.push_back({IntOf(*b, "line"), StrOf(*b, "path"), StrOf(*b, "message")});
  }
  *run = std::move(r);
  return true;
}

BackfillRuns::BackfillRuns(PluginStates* states, EventIntake* intake, Clock* clock,
                           bool lookup_first, MetricsRegistry* metrics,
                           std::function<void()> on_accepted)
    : states_(states),
      intake_(intake),
      clock_(clock),
      lookup_first_(lookup_first),
      metrics_(metrics),
      on_accepted_(std::move(on_accepted)) {
  for (const char* result : {"accepted", "duplicate", "invalid"}) Count(result, 0);
}

std::mutex& BackfillRuns::RunMutex(const std::string& run) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<std::mutex>& m = run_mutexes_[run];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

void BackfillRuns::Count(const char* result, int64_t n) {
  if (!metrics_) return;
  metrics_
      ->GetCounter("crmsync_backfill_lines_total",
                   "Backfill lines imported, by result (accepted, duplicate, invalid).",
                   {{"result", result}})
      .Inc(static_cast<double>(n));
}

void BackfillRuns::Remember(const std::string& run, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> list = ListOf(states_->LoadPluginState(kListPlugin, kListKey).value_or("[]"));
  list.erase(std::remove(list.begin(), list.end(), run), list.end());
  list.insert(list.begin(), run);
  if (list.size() > kMaxListedRuns) list.resize(kMaxListedRuns);
  states_->SavePluginState(kListPlugin, kListKey, TextOf(list), now_ms);
}

std::optional<BackfillRun> BackfillRuns::Get(const std::string& run) {
  std::optional<std::string> stored = states_->LoadPluginState(kStatePlugin, run);
  BackfillRun parsed;
  if (!stored || !ParseBackfillRun(*stored, &parsed)) return std::nullopt;
  return parsed;
}

std::vector<BackfillRun> BackfillRuns::List() {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ids = ListOf(states_->LoadPluginState(kListPlugin, kListKey).value_or("[]"));
  }
  std::vector<BackfillRun> runs;
  for (const std::string& id : ids) {
    std::optional<BackfillRun> run = Get(id);
    if (run) runs.push_back(std::move(*run));
  }
  return runs;
}

BackfillImportResult BackfillRuns::Import(const BackfillImport& request) {
  BackfillImportResult result;
  auto refuse = [&](int status, const std::string& error) {
    result.status = status;
    result.error = error;
    return result;
  };
  if (!ValidBackfillRunId(request.run)) {
    return refuse(400, "run must be 1-64 characters of A-Z a-z 0-9 _ . -");
  }
  if (request.offset < 0) return refuse(400, "offset must be a line count >= 0");

  std::lock_guard<std::mutex> run_lock(RunMutex(request.run));
  const int64_t now_ms = clock_->NowMs();
  BackfillRun run;
  try {
    std::optional<BackfillRun> stored = Get(request.run);
    if (stored) {
      run = std::move(*stored);
    } else {
      run.run = request.run;
      run.started_ms = now_ms;
    }
  } catch (const StoreError& e) {
    return refuse(503, "the run's state cannot be read: " + MaskSensitive(e.what()));
  }
  result.next_offset = run.next_offset;
  if (request.offset != run.next_offset) {
    result.run = run;
    return refuse(409, "run " + request.run + " continues at offset " +
                           std::to_string(run.next_offset) + " (line " +
                           std::to_string(run.next_offset + 1) + "), not " +
                           std::to_string(request.offset));
  }

  BackfillLineOptions options;
  options.run = request.run;
  options.run_started_at = FormatIsoMs(run.started_ms);
  options.lookup_first = lookup_first_;
  BackfillChunk chunk = ParseBackfillChunk(request.body, request.offset + 1, options);
  if (chunk.lines > kMaxBackfillChunkLines) {
    return refuse(400, "the body holds " + std::to_string(chunk.lines) + " lines; at most " +
                           std::to_string(kMaxBackfillChunkLines) + " per request");
  }
  if (!request.source.empty()) run.source = request.source.substr(0, 200);
  if (request.total_lines > 0) run.total_lines = request.total_lines;

  if (request.strict && !chunk.invalid.empty()) {
    // Nothing of the chunk is written; the run records where it stopped.
    result.invalid = chunk.invalid;
    run.state = "stopped";
    run.stopped_reason = Describe(chunk.invalid.front());
    run.updated_ms = now_ms;
    try {
      states_->SavePluginState(kStatePlugin, run.run, BackfillRunJson(run), now_ms);
      Remember(run.run, now_ms);
    } catch (const StoreError& e) {
      ComponentLogger("backfill").warning("run %s: cannot record the stop: %s", run.run,
                                          MaskSensitive(e.what()));
    }
    result.run = run;
    return refuse(422, "--strict: " + run.stopped_reason + "; nothing of this chunk was imported");
  }

  // A few short writes rather than one long one, so intake's live events
  // wait for the store's writer at most one batch. A batch whose patch
  // conflicts with a stored entity goes again one event at a time, to name
  // the line.
  std::vector<BadLine> conflicts;
  auto tally = [&](const AcceptResult& a) {
    if (a.duplicate) {
      ++result.duplicates;
    } else if (a.stale || a.echo_suppressed) {
      ++result.unchanged;
      ++result.accepted;
    } else {
      ++result.accepted;
    }
  };
  try {
    for (size_t from = 0; from < chunk.events.size(); from += kBackfillAcceptBatch) {
      size_t to = std::min(chunk.events.size(), from + kBackfillAcceptBatch);
      std::vector<IncomingEvent> batch(chunk.events.begin() + static_cast<long>(from),
                                       chunk.events.begin() + static_cast<long>(to));
      try {
        for (const AcceptResult& a : intake_->Accept(batch, now_ms)) tally(a);
      } catch (const PatchConflict&) {
        for (size_t i = from; i < to; ++i) {
          try {
            for (const AcceptResult& a : intake_->Accept({chunk.events[i]}, now_ms)) tally(a);
          } catch (const PatchConflict& e) {
            conflicts.push_back({chunk.event_lines[i], {{e.path(), e.message()}}});
          }
        }
      }
    }
  } catch (const std::exception& e) {
    // What went in is durable and is a duplicate when the chunk comes again.
    ComponentLogger("backfill").error("run %s: cannot store the chunk at offset %s: %s", run.run,
                                      std::to_string(request.offset), MaskSensitive(e.what()));
    return refuse(503, "the chunk could not be stored; send it again: " + MaskSensitive(e.what()));
  }
  result.invalid = chunk.invalid;
  result.invalid.insert(result.invalid.end(), conflicts.begin(), conflicts.end());
  std::sort(result.invalid.begin(), result.invalid.end(),
            [](const BadLine& a, const BadLine& b) { return a.line < b.line; });

  run.next_offset = request.offset + chunk.lines;
  run.accepted += result.accepted;
  run.unchanged += result.unchanged;
  run.duplicates += result.duplicates;
  run.invalid += static_cast<int64_t>(result.invalid.size());
  run.blank += chunk.blank;
  for (const BadLine& bad : result.invalid) {
    if (run.bad_lines.size() >= kBackfillKeptBadLines) break;
    BackfillBadLine kept;
    kept.line = bad.line;
    if (!bad.errors.empty()) {
      kept.path = bad.errors[0].path;
      kept.message = bad.errors[0].message;
    }
    run.bad_lines.push_back(kept);
  }
  run.state = request.final ? "finished" : "running";
  run.stopped_reason.clear();
  run.updated_ms = now_ms;
  if (request.final) run.finished_ms = now_ms;
  try {
    const bool is_new = request.offset == 0;
    states_->SavePluginState(kStatePlugin, run.run, BackfillRunJson(run), now_ms);
    if (is_new || request.final) Remember(run.run, now_ms);
  } catch (const StoreError& e) {
    return refuse(503, std::string("the chunk was stored but the run's offset was not; send it "
                                   "again (its lines are then duplicates): ") +
                           MaskSensitive(e.what()));
  }
  Count("accepted", result.accepted);
  Count("duplicate", result.duplicates);
  Count("invalid", static_cast<int64_t>(result.invalid.size()));
  if (result.accepted > 0 && on_accepted_) on_accepted_();
  result.next_offset = run.next_offset;
  result.run = std::move(run);
  return result;
}

}  // namespace crmsync::engine
