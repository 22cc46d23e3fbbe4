// app/reconcile_cli.h: the `reconcile` and `resync` commands, which start (or
// re-attach to) a run of the running service over its API
// (admin/reconcile_api.h), show its progress (app/progress.h) and its result.
//
//   crmsync reconcile [lead|property] [--repair] [json]
//   crmsync resync --all | lead | property [--no-wait] [json]
//
// reconcile prints the counts per kind of finding, then up to `rows` rows per
// kind (values masked), or the run's JSON with `json`. resync queues the
// mirror and then waits until its jobs are done (not with --no-wait). When a
// run is unfinished (the service restarted, a command was interrupted), the
// command re-attaches to it rather than starting another.
//
// Exit codes: 0 done (reconcile: and no drift); 2 (kExitReconcileDrift)
// reconcile done and found drift (any finding but crm_owned), as diff(1)
// exits when the files differ; 64 (kExitUsage) bad command line, naming the
// word; 1 (kExitProblems) the service unreachable (naming host:port), an
// error answer (naming the status and message), a failed run, or resync jobs
// dead-lettered.
#ifndef CRMSYNC_ENGINE_APP_RECONCILE_CLI_H_
#define CRMSYNC_ENGINE_APP_RECONCILE_CLI_H_

#include <ostream>
#include <string>
#include <vector>

#include "config/settings.h"

namespace crmsync::engine {

/// reconcile's exit code when its run is done and found drift (like
/// kExitBackfillSkipped: done, with something to look at).
constexpr int kExitReconcileDrift = 2;

/// The --flags of the two commands, as the option parser read them.
struct RunFlags {
  bool repair = false;   ///< --repair (reconcile)
  bool all = false;      ///< --all (resync)
  bool no_wait = false;  ///< --no-wait (resync)
};

/// True for "reconcile" and "resync".
bool IsRunCommand(const std::string& command);

/// Runs one of them; `args` are the free words, the command first. Progress
/// goes to `err` (a bar when `tty`), the result to `out`.
int RunRunCommand(const config::Settings& settings, const std::vector<std::string>& args,
                  const RunFlags& flags, bool tty, std::ostream& out, std::ostream& err);

/// Their help text, for `crmsync --help`.
const char* RunCommandsHelp();

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_RECONCILE_CLI_H_
