// conformance/report.h: the result of one conformance run: one line per check
// of the fixed battery, PASS / FAIL / SKIP with a reason, as text or JSON.
//
// Plain values; not shared between threads.
#ifndef CRMSYNC_ENGINE_CONFORMANCE_REPORT_H_
#define CRMSYNC_ENGINE_CONFORMANCE_REPORT_H_

#include <ostream>
#include <string>
#include <vector>

namespace crmsync::engine::conformance {

/// The checks, in the order they run and print. These names are stable: tests
/// and scripts match on them.
extern const char kCheckLoads[];             // "loads"
extern const char kCheckAbi[];               // "ABI"
extern const char kCheckMetadata[];          // "metadata complete"
extern const char kCheckRefusesBadConfig[];  // "configure refuses bad config"
extern const char kCheckAcceptsConfig[];     // "configure accepts given config"
extern const char kCheckMapsEvents[];        // "maps every event type"
extern const char kCheckStatusTable[];       // "status table complete both ways"
extern const char kCheckClassification[];    // "classification"
extern const char kCheckWebhooks[];          // "webhook parse and verification"
extern const char kCheckBatch[];             // "batch round trip"
extern const char kCheckNoExceptions[];      // "no exception escapes"
/// Only with `plugin-check --live`, after the battery: check-connection
/// through the plugin (connection_check.h). Not in AllCheckNames().
extern const char kCheckLive[];              // "live connection"
/// Every check name of the fixed battery, in order.
const std::vector<std::string>& AllCheckNames();

enum class Verdict { kPass, kFail, kSkip };
/// "PASS", "FAIL", "SKIP".
const char* VerdictName(Verdict verdict) noexcept;

struct CheckResult {
  std::string name;
  Verdict verdict = Verdict::kSkip;
  /// One sentence: what passed, or the first problems found, or why skipped.
  std::string reason;
};

struct Report {
  std::string target;       ///< What was asked for: a plugin name or a file path.
  std::string file;         ///< The plugin file examined.
  std::string plugin_name;  ///< From the descriptor, when readable.
  std::string plugin_version;
  std::vector<CheckResult> checks;
  /// What the configured plugin warns about (GuardedAdapter::Warnings()); a
  /// warning does not fail the check.
  std::vector<std::string> warnings;

  /// True when no check failed (skips allowed).
  bool passed() const;
  /// The result of check `name`, or nullptr.
  const CheckResult* Find(const std::string& name) const;
  /// Sets the result of check `name` (adding it when absent).
  void Set(const std::string& name, Verdict verdict, const std::string& reason);
};

/// One line per check ("PASS  loads: ..."), one per warning ("WARN  ..."), then
/// a summary line.
void PrintText(const Report& report, std::ostream& out);
/// {"plugin", "version", "file", "target", "passed", "checks": [{"name",
/// "result", "reason"}], "warnings": [...]}, on one line.
void PrintJson(const Report& report, std::ostream& out);

}  // namespace crmsync::engine::conformance

#endif  // CRMSYNC_ENGINE_CONFORMANCE_REPORT_H_
