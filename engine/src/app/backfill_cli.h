// app/backfill_cli.h: `crmsync backfill FILE.ndjson|-` (README "Day one",
// docs/design.md §3 "Backfill"): streams a file of existing platform records,
// one {"lead": {...}} or {"property": {...}} a line, to the running service's
// POST /api/v1/backfill in chunks, which imports them as bulk jobs.
//
//   crmsync backfill FILE [--run ID] [--strict] [--no-wait]
//
// The run id defaults to one derived from the file (absolute path, size,
// mtime), so the same command after a crash or kill -9 (of this command or of
// the service) asks the service where the run stands and continues from
// there; stdin has no such id: give --run to be able to resume. A bad line is
// reported with its number and skipped; --strict stops at the first one,
// nothing of its chunk imported. Progress (lines sent of the file's lines,
// rate, ETA) goes to stderr; then, unless --no-wait, the command waits until
// the bulk jobs are synced, and prints a summary.
//
// Exit codes: 0 done, no bad line; 2 done, bad lines skipped (listed);
// 1 stopped (--strict at a bad line, the service refused or could not be
// reached: the message says why and the command to resume); 64 usage.
//
// Called once from main's thread.
#ifndef CRMSYNC_ENGINE_APP_BACKFILL_CLI_H_
#define CRMSYNC_ENGINE_APP_BACKFILL_CLI_H_

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "config/settings.h"

namespace crmsync::engine {

/// Bad lines skipped: the import is done, some lines were not imported.
constexpr int kExitBackfillSkipped = 2;
/// Lines a chunk carries at most, and its bytes at most (under the default
/// server.max_body_bytes, 1 MiB).
constexpr int64_t kBackfillChunkLines = 1000;
constexpr size_t kBackfillChunkBytes = 512 * 1024;

struct BackfillOptions {
  std::string file;     ///< A path, or "-" for stdin.
  std::string run;      ///< --run; "" derives one from the file.
  bool strict = false;  ///< --strict
  bool wait = true;     ///< false with --no-wait
};

/// The run id of a file: "f-" and a hash of its absolute path, size and
/// modification time; "" with `*why` when the file cannot be read.
std::string DefaultBackfillRun(const std::string& path, std::string* why);

/// Runs the command; `in` is read when options.file is "-". Progress and
/// errors go to `err`, the summary to `out`.
int RunBackfill(const config::Settings& settings, const BackfillOptions& options,
                std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_BACKFILL_CLI_H_
