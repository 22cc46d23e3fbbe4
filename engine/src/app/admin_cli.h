// app/admin_cli.h: the operator's subcommands `status`, `sync`, `jobs`,
// `dlq` and `shadow`, which speak to the running service's admin API (admin/admin_api.h)
// over HTTP at server.host (0.0.0.0 becomes 127.0.0.1) and server.port, with
// admin.token as the bearer token.
//
//   crmsync status
//   crmsync sync enable|disable [reason=TEXT]
//   crmsync jobs KIND:ID [limit=N]
//   crmsync dlq list [FILTER...]
//   crmsync dlq show ID
//   crmsync dlq replay ID | all | FILTER...
//   crmsync dlq purge ID | all | FILTER...
//   crmsync shadow report | reset
//
// FILTER is a key=value word (Poco's option parser would refuse unknown
// --flags): plugin=NAME, error-class=CLASS, entity=KIND:ID, since=ISO8601,
// until=ISO8601, limit=N (list and replay), and the bare word include-replayed.
// The word `json` anywhere prints the service's JSON answer as it came.
//
// Exit codes: 0 done; 64 (kExitUsage) bad command line, naming the word;
// 1 (kExitProblems) service unreachable (naming host:port) or an error answer
// (naming the status and the service's message).
//
// Called once from main's thread; keeps no state.
#ifndef CRMSYNC_ENGINE_APP_ADMIN_CLI_H_
#define CRMSYNC_ENGINE_APP_ADMIN_CLI_H_

#include <ostream>
#include <string>
#include <vector>

#include "config/settings.h"

namespace crmsync::engine {

/// True for the commands RunAdminCommand() handles (status, sync, jobs, dlq,
/// audit, shadow).
bool IsAdminCommand(const std::string& command);

/// Runs one admin command; `args` are the free command-line words, the command
/// itself first ("dlq", "list", "entity=lead:42"). Reports go to `out`, errors
/// to `err`. Returns the exit code.
int RunAdminCommand(const config::Settings& settings, const std::vector<std::string>& args,
                    std::ostream& out, std::ostream& err);

/// The help text of the admin commands, for `crmsync --help`.
const char* AdminCommandsHelp();

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_ADMIN_CLI_H_
