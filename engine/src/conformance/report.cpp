// Conformance report and its printing; see report.h.
#include "conformance/report.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

namespace crmsync::engine::conformance {

const char kCheckLoads[] = "loads";
const char kCheckAbi[] = "ABI";
const char kCheckMetadata[] = "metadata complete";
const char kCheckRefusesBadConfig[] = "configure refuses bad config";
const char kCheckAcceptsConfig[] = "configure accepts given config";
const char kCheckMapsEvents[] = "maps every event type";
const char kCheckStatusTable[] = "status table complete both ways";
const char kCheckClassification[] = "classification";
const char kCheckWebhooks[] = "webhook parse and verification";
const char kCheckBatch[] = "batch round trip";
const char kCheckNoExceptions[] = "no exception escapes";
const char kCheckLive[] = "live connection";

const std::vector<std::string>& AllCheckNames() {
  static const std::vector<std::string> names = {
      kCheckLoads,         kCheckAbi,        kCheckMetadata,    kCheckRefusesBadConfig,
      kCheckAcceptsConfig, kCheckMapsEvents, kCheckStatusTable, kCheckClassification,
      kCheckWebhooks,      kCheckBatch,      kCheckNoExceptions};
  return names;
}

const char* VerdictName(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::kPass:
      return "PASS";
    case Verdict::kFail:
      return "FAIL";
    case Verdict::kSkip:
      return "SKIP";
  }
  return "?";
}

bool Report::passed() const {
  for (const CheckResult& check : checks) {
    if (check.verdict == Verdict::kFail) return false;
  }
  return true;
}

const CheckResult* Report::Find(const std::string& name) const {
  for (const CheckResult& check : checks) {
    if (check.name == name) return &check;
  }
  return nullptr;
}

void Report::Set(const std::string& name, Verdict verdict, const std::string& reason) {
  for (CheckResult& check : checks) {
    if (check.name == name) {
      check.verdict = verdict;
      check.reason = reason;
      return;
    }
  }
  checks.push_back(CheckResult{name, verdict, reason});
}

void PrintText(const Report& report, std::ostream& out) {
  out << "plugin-check " << report.target;
  if (!report.plugin_name.empty()) {
    out << ": " << report.plugin_name << " " << report.plugin_version;
  }
  if (!report.file.empty()) out << " (" << report.file << ")";
  out << "\n";
  int counts[3] = {0, 0, 0};
  for (const CheckResult& check : report.checks) {
    ++counts[static_cast<int>(check.verdict)];
    out << "  " << VerdictName(check.verdict) << "  " << check.name;
    if (!check.reason.empty()) {
      // A reason listing several problems has one per line: indent them under
      // their check.
      std::string reason;
      for (char c : check.reason) {
        reason += c == '\n' ? std::string("\n        ") : std::string(1, c);
      }
      out << ": " << reason;
    }
    out << "\n";
  }
  for (const std::string& warning : report.warnings) out << "  WARN  " << warning << "\n";
  out << (report.passed() ? "PASSED" : "FAILED") << ": " << counts[0] << " passed, " << counts[1]
      << " failed, " << counts[2] << " skipped\n";
}

void PrintJson(const Report& report, std::ostream& out) {
  Poco::JSON::Object json;
  json.set("target", report.target);
  json.set("file", report.file);
  json.set("plugin", report.plugin_name);
  json.set("version", report.plugin_version);
  json.set("passed", report.passed());
  Poco::JSON::Array::Ptr checks = new Poco::JSON::Array();
  for (const CheckResult& check : report.checks) {
    Poco::JSON::Object::Ptr item = new Poco::JSON::Object();
    item->set("name", check.name);
    item->set("result", std::string(VerdictName(check.verdict)));
    item->set("reason", check.reason);
    checks->add(item);
  }
  json.set("checks", checks);
  Poco::JSON::Array::Ptr warnings = new Poco::JSON::Array();
  for (const std::string& warning : report.warnings) warnings->add(warning);
  json.set("warnings", warnings);
  json.stringify(out);
  out << "\n";
}

}  // namespace crmsync::engine::conformance
