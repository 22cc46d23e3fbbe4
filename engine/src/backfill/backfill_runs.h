// backfill/backfill_runs.h: the service's side of a backfill (docs/design.md
// §3 "Backfill"): it imports the chunks the CLI streams, and keeps each run's
// durable offset and figures.
//
// A run is named by its id (the CLI derives one from the file). Its state is
// one JSON value in the PluginStates role, plugin "crmsync.backfill", key the
// run id, saved after the chunk's events are durable: a crash between the two
// makes the CLI send the chunk again, whose lines are then duplicates by their
// event ids (backfill:<run>:<line>) and queue nothing. The list of runs (the
// latest kMaxListedRuns) is the value of plugin "crmsync.backfill.runs", key
// "list".
//
// Thread-safe: the chunks of one run are imported one at a time (a second
// caller waits), runs apart run side by side.
#ifndef CRMSYNC_ENGINE_BACKFILL_BACKFILL_RUNS_H_
#define CRMSYNC_ENGINE_BACKFILL_BACKFILL_RUNS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backfill/backfill_lines.h"
#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/event_intake.h"
#include "store/plugin_states.h"

namespace crmsync::engine {

/// Events handed to the store in one call: the store's writer is held for
/// one call at a time, so a chunk of 1,000 lines goes in forty short writes
/// and a live event waits for about one of them. Measured (bench/backfill.sh):
/// batches of 200 tripled live intake's p99 answer time; of 100, live p50
/// went from 2 to 43 ms during a backfill; of 25, 6 to 20 ms, for 30% less
/// import rate (a commit each).
constexpr size_t kBackfillAcceptBatch = 25;
/// Most lines one request may carry.
constexpr int64_t kMaxBackfillChunkLines = 5000;
/// Bad lines a run keeps (the first ones), with their errors.
constexpr size_t kBackfillKeptBadLines = 20;
/// Runs GET /api/v1/backfill lists (the latest).
constexpr size_t kMaxListedRuns = 50;

/// One kept bad line: its first problem.
struct BackfillBadLine {
  int64_t line = 0;
  std::string path;
  std::string message;
};

/// A run's durable state.
struct BackfillRun {
  std::string run;
  std::string source;            ///< What the CLI read ("leads.ndjson", "-"); shown only.
  std::string state = "running"; ///< running, finished, stopped (--strict met a bad line).
  int64_t started_ms = 0;
  int64_t updated_ms = 0;
  int64_t finished_ms = 0;
  int64_t next_offset = 0;       ///< Lines consumed: the next chunk starts at line next_offset + 1.
  int64_t total_lines = 0;       ///< Lines of the file, when the CLI knows; 0 unknown.
  int64_t accepted = 0;          ///< Lines that made or updated a job.
  int64_t unchanged = 0;         ///< Accepted, nothing to send (older than the mirror, or the CRM's own values).
  int64_t duplicates = 0;        ///< Lines whose event id was accepted before.
  int64_t invalid = 0;
  int64_t blank = 0;
  std::vector<BackfillBadLine> bad_lines;  ///< The first kBackfillKeptBadLines.
  std::string stopped_reason;    ///< state stopped: the line and its error.
};

/// {"run", "source", "state", "startedAt", "updatedAt", "finishedAt", "nextOffset",
///  "totalLines", "accepted", "unchanged", "duplicates", "invalid", "blank",
///  "invalidLines": [{"line", "path", "message"}], "stoppedReason"}.
std::string BackfillRunJson(const BackfillRun& run);
/// Reads BackfillRunJson's text; false when it is not one.
bool ParseBackfillRun(const std::string& json, BackfillRun* run);

struct BackfillImport {
  std::string run;
  int64_t offset = 0;   ///< Lines of the file before the body's first.
  std::string body;     ///< NDJSON.
  bool strict = false;  ///< A bad line refuses the whole chunk.
  bool final = false;   ///< The body ends the file: the run is finished.
  int64_t total_lines = 0;
  std::string source;
};

struct BackfillImportResult {
  /// 200 done; 400 bad request; 409 offset is not the run's; 422 strict and
  /// a bad line; 503 the store failed (nothing of the chunk's state saved).
  int status = 200;
  std::string error;
  int64_t accepted = 0;
  int64_t unchanged = 0;
  int64_t duplicates = 0;
  std::vector<BadLine> invalid;
  int64_t next_offset = 0;
  BackfillRun run;  ///< The run's state after the call (when it exists).
};

class BackfillRuns {
 public:
  /// `lookup_first`: the CRM plugin can look records up by reference, so
  /// every backfilled create looks first (creates-or-links). `on_accepted`
  /// wakes the dispatcher; `metrics` may be null.
  BackfillRuns(PluginStates* states, EventIntake* intake, Clock* clock, bool lookup_first,
               MetricsRegistry* metrics, std::function<void()> on_accepted);

  /// Imports one chunk of run `request.run`; see BackfillImportResult.
  BackfillImportResult Import(const BackfillImport& request);

  /// The run's state, or nullopt when unknown. Throws StoreError.
  std::optional<BackfillRun> Get(const std::string& run);
  /// The latest runs, the newest first. Throws StoreError.
  std::vector<BackfillRun> List();

 private:
  std::mutex& RunMutex(const std::string& run);
  void Remember(const std::string& run, int64_t now_ms);
  void Count(const char* result, int64_t n);

  PluginStates* states_;
  EventIntake* intake_;
  Clock* clock_;
  bool lookup_first_;
  MetricsRegistry* metrics_;
  std::function<void()> on_accepted_;
  std::mutex mu_;  ///< Guards run_mutexes_ and the list of runs.
  std::map<std::string, std::unique_ptr<std::mutex>> run_mutexes_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_BACKFILL_BACKFILL_RUNS_H_
