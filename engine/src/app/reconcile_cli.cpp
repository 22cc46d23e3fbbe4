// The reconcile and resync commands; see reconcile_cli.h.
#include "app/reconcile_cli.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "app/commands.h"
#include "app/progress.h"
#include "app/service_client.h"
#include "reconcile/reconciler.h"

namespace crmsync::engine {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

// How often the command asks the service how the run stands.
constexpr std::chrono::milliseconds kPollEvery(200);
constexpr int kTimeoutS = 30;
constexpr char kJson[] = "application/json";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}


std::string Text(const Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

int64_t IntOf(const Object::Ptr& o, const std::string& key) {
  return o ? o->optValue<int64_t>(key, 0) : 0;
}

// Starts the run (or names the unfinished one) and polls it until `finished`
// says so, showing `progress` of it. The last state in `*state`.
bool Follow(ServiceClient& api, const std::string& what, const std::string& body, bool tty,
            std::ostream& err, const std::function<bool(const Object::Ptr&)>& finished,
            const std::function<void(const Object::Ptr&, ProgressBar&)>& progress,
            const std::string& unit, Object::Ptr* state, std::string* why) {
  Object::Ptr answer;
  int status = 0;
  if (!api.Call("POST", "/api/v1/" + what, body, kJson, &status, &answer, why)) return false;
  const std::string run = answer->optValue<std::string>("run", "");
  if (answer->optValue<bool>("attached", false)) {
    err << "crmsync " << what << ": re-attaching to the unfinished run " << run
        << " (it goes on as it was started)\n";
  } else {
    err << "crmsync " << what << ": run " << run << " started\n";
  }
  ProgressBar bar(err, unit, tty, NowMs);
  while (true) {
    if (!api.Call("GET", "/api/v1/" + what + "/" + run, "", kJson, &status, state, why)) {
      *why += "; run `crmsync " + what + "` again to re-attach to run " + run;
      return false;
    }
    if (finished(*state)) {
      progress(*state, bar);
      return true;
    }
    progress(*state, bar);
    std::this_thread::sleep_for(kPollEvery);
  }
}

std::string Grouped(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

void PrintReconcile(const Object::Ptr& run, std::ostream& out) {
  out << "reconcile run " << run->optValue<std::string>("run", "") << " "
      << run->optValue<std::string>("state", "") << ": " << Grouped(IntOf(run, "checked"))
      << " mirror entities checked, " << Grouped(IntOf(run, "crmCalls")) << " CRM calls\n";
  Object::Ptr counts = run->getObject("counts");
  std::vector<std::vector<std::string>> table = {{"KIND", "COUNT"}};
  for (size_t i = 0; i < kFindingKindCount; ++i) {
    table.push_back({kFindingKinds[i], Grouped(IntOf(counts, kFindingKinds[i]))});
  }
  PrintTable(table, out);
  if (!run->optValue<bool>("fieldsCompared", true)) {
    out << "fields were not compared (the plugin does not list its records):\n";
  }
  Array::Ptr notes = run->getArray("notes");
  for (size_t i = 0; notes && i < notes->size(); ++i) {
    out << "  note: " << notes->getElement<std::string>(static_cast<unsigned>(i)) << "\n";
  }
  if (run->optValue<bool>("repair", false)) {
    out << Grouped(IntOf(run, "repairsQueued"))
        << " repair job(s) queued (bulk priority; crm_owned and unknown_to_mirror are left "
           "alone)\n";
  }
  Object::Ptr rows = run->getObject("rows");
  for (size_t i = 0; rows && i < kFindingKindCount; ++i) {
    Array::Ptr list = rows->getArray(kFindingKinds[i]);
    if (!list || list->size() == 0) continue;
    out << "\n" << kFindingKinds[i] << " (" << list->size() << " of "
        << Grouped(IntOf(counts, kFindingKinds[i])) << " shown):\n";
    std::vector<std::vector<std::string>> lines = {{"ENTITY", "CRM-ID", "FIELDS", "NOTE"}};
    for (size_t r = 0; r < list->size(); ++r) {
      Object::Ptr row = list->getObject(static_cast<unsigned>(r));
      std::string fields;
      Array::Ptr diffs = row->getArray("fields");
      for (size_t f = 0; diffs && f < diffs->size(); ++f) {
        Object::Ptr d = diffs->getObject(static_cast<unsigned>(f));
        fields += std::string(f ? "; " : "") + d->optValue<std::string>("field", "") + ": " +
                  d->optValue<std::string>("mirror", "") + " -> CRM " +
                  d->optValue<std::string>("crm", "");
      }
      lines.push_back({row->optValue<std::string>("entity", ""),
                       row->optValue<std::string>("crmId", "-"), fields.empty() ? "-" : fields,
                       row->optValue<std::string>("note", "-")});
    }
    PrintTable(lines, out);
  }
}

// The kinds of finding that are drift, with their counts ("2 missing, 1
// differs"); "" when there is none. crm_owned is not: those fields are the
// CRM's to change. unknown is: the entity could not be shown to agree.
std::string DriftSummary(const Object::Ptr& counts) {
  std::string summary;
  for (size_t i = 0; i < kFindingKindCount; ++i) {
    const std::string kind = kFindingKinds[i];
    const int64_t n = IntOf(counts, kind);
    if (kind == "crm_owned" || n == 0) continue;
    summary += (summary.empty() ? "" : ", ") + Grouped(n) + " " + kind;
  }
  return summary;
}

int Usage(const std::string& command, const std::string& why, std::ostream& err) {
  err << "crmsync " << command << ": " << why << "; see crmsync --help " << command << "\n";
  return kExitUsage;
}

// The entity word after the command (lead or property, or none); false with
// `*why` on any other word, or a second one.
bool EntityWord(const std::vector<std::string>& words, std::string* entity, std::string* why) {
  entity->clear();
  for (size_t i = 1; i < words.size(); ++i) {
    if ((words[i] != "lead" && words[i] != "property") || !entity->empty()) {
      *why = entity->empty() ? "unknown word '" + words[i] + "'; the entity is lead or property"
                             : "unexpected word '" + words[i] + "' after '" + *entity + "'";
      return false;
    }
    *entity = words[i];
  }
  return true;
}

int Reconcile(ServiceClient& api, const std::vector<std::string>& words, const RunFlags& flags,
              bool json, bool tty, std::ostream& out, std::ostream& err) {
  if (flags.all || flags.no_wait) {
    return Usage("reconcile",
                 flags.all ? "--all applies to resync only" : "--no-wait applies to resync only",
                 err);
  }
  std::string entity, why;
  if (!EntityWord(words, &entity, &why)) return Usage("reconcile", why, err);
  Object body;
  if (!entity.empty()) body.set("entity", entity);
  body.set("repair", flags.repair);
  Object::Ptr state;
  bool ok = Follow(
      api, "reconcile", Text(body), tty, err,
      [](const Object::Ptr& s) { return s->optValue<std::string>("state", "") != "running"; },
      [](const Object::Ptr& s, ProgressBar& bar) {
        const int64_t total = IntOf(s, "total");
        const int64_t done = std::min(IntOf(s, "checked"), total);
        if (s->optValue<std::string>("state", "") == "running") {
          bar.Update(done, total);
        } else {
          bar.Finish(done, total);
        }
      },
      "entities", &state, &why);
  if (!ok) {
    err << "crmsync reconcile: " << why << "\n";
    return kExitProblems;
  }
  if (json) {
    out << Text(*state) << "\n";
  } else {
    PrintReconcile(state, out);
  }
  if (state->optValue<std::string>("state", "") != "done") {
    err << "crmsync reconcile: the run failed: " << state->optValue<std::string>("error", "")
        << "\n";
    return kExitProblems;
  }
  // As diff(1) does, the exit code says whether anything differs, so that a
  // script (a cron job, a switch's check) can act on it without parsing.
  const std::string drift = DriftSummary(state->getObject("counts"));
  if (!drift.empty()) {
    err << "crmsync reconcile: drift found: " << drift << "\n";
    return kExitReconcileDrift;
  }
  return kExitOk;
}

int Resync(ServiceClient& api, const std::vector<std::string>& words, const RunFlags& flags,
           bool json, bool tty, std::ostream& out, std::ostream& err) {
  if (flags.repair) return Usage("resync", "--repair applies to reconcile only", err);
  std::string entity, why;
  if (!EntityWord(words, &entity, &why)) return Usage("resync", why, err);
  if (entity.empty() == !flags.all) {
    return Usage("resync",
                 flags.all ? "--all and an entity exclude each other"
                           : "say what to send: --all (every property, then every lead), lead "
                             "or property",
                 err);
  }
  Object body;
  if (!entity.empty()) body.set("entity", entity);
  Object::Ptr state;
  // First the mirror is queued; then, unless --no-wait, its jobs are done.
  bool ok = Follow(
      api, "resync", Text(body), tty, err,
      [](const Object::Ptr& s) { return s->optValue<std::string>("state", "") != "running"; },
      [](const Object::Ptr& s, ProgressBar& bar) {
        if (s->optValue<std::string>("state", "") == "running") {
          bar.Update(IntOf(s, "walked"), IntOf(s, "total"));
        } else {
          bar.Finish(IntOf(s, "walked"), IntOf(s, "total"));
        }
      },
      "entities queued", &state, &why);
  if (ok && state->optValue<std::string>("state", "") == "done" && !flags.no_wait) {
    const std::string run = state->optValue<std::string>("run", "");
    ProgressBar bar(err, "jobs done", tty, NowMs);
    int status = 0;
    while (true) {
      if (!api.Call("GET", "/api/v1/resync/" + run, "", kJson, &status, &state, &why)) {
        why += "; run `crmsync resync` again to follow run " + run;
        ok = false;
        break;
      }
      Object::Ptr jobs = state->getObject("jobs");
      const int64_t finished = IntOf(jobs, "done") + IntOf(jobs, "dead");
      const int64_t total = finished + IntOf(jobs, "unfinished");
      if (IntOf(jobs, "unfinished") == 0) {
        bar.Finish(finished, total);
        break;
      }
      bar.Update(finished, total);
      std::this_thread::sleep_for(kPollEvery);
    }
  }
  if (!ok) {
    err << "crmsync resync: " << why << "\n";
    return kExitProblems;
  }
  Object::Ptr jobs = state->getObject("jobs");
  if (json) {
    out << Text(*state) << "\n";
  } else {
    out << "resync run " << state->optValue<std::string>("run", "") << " "
        << state->optValue<std::string>("state", "") << ": "
        << Grouped(IntOf(state, "queued")) << " entities queued; jobs: "
        << Grouped(IntOf(jobs, "done")) << " done, " << Grouped(IntOf(jobs, "unfinished"))
        << " unfinished, " << Grouped(IntOf(jobs, "dead")) << " dead-lettered\n";
  }
  if (state->optValue<std::string>("state", "") != "done") {
    err << "crmsync resync: the run failed: " << state->optValue<std::string>("error", "")
        << "\n";
    return kExitProblems;
  }
  if (IntOf(jobs, "dead") > 0) {
    err << "crmsync resync: " << IntOf(jobs, "dead")
        << " job(s) were dead-lettered; see crmsync dlq list\n";
    return kExitProblems;
  }
  return kExitOk;
}

}  // namespace

bool IsRunCommand(const std::string& command) {
  return command == "reconcile" || command == "resync";
}

const char* RunCommandsHelp() {
  return "  reconcile [lead|property] [--repair] [json]\n"
         "                 compare the CRM's records with the mirror, within the\n"
         "                 CRM's rate budget: missing, differs (platform-owned\n"
         "                 fields), crm_owned, unknown_to_mirror, broken_link,\n"
         "                 wrong_reference, unknown; --repair queues the jobs that\n"
         "                 fix what the platform owns. Runs in the service;\n"
         "                 re-attaches to an unfinished run. Exits 0 when nothing\n"
         "                 drifted (crm_owned does not count), 2 when something\n"
         "                 did (or could not be read: unknown), 1 on failure\n"
         "  resync --all|lead|property [--no-wait] [json]\n"
         "                 send the whole mirror to the CRM now configured, as\n"
         "                 creates-or-links (looked up by reference first), then\n"
         "                 wait for the jobs (not with --no-wait); safe to run again\n";
}

int RunRunCommand(const config::Settings& settings, const std::vector<std::string>& args,
                  const RunFlags& flags, bool tty, std::ostream& out, std::ostream& err) {
  // `json` anywhere asks for the run as the API has it.
  std::vector<std::string> words = args;
  const auto json_at = std::remove(words.begin(), words.end(), std::string("json"));
  const bool json = json_at != words.end();
  words.erase(json_at, words.end());
  ServiceClient api(settings, kTimeoutS);
  if (words[0] == "reconcile") return Reconcile(api, words, flags, json, tty, out, err);
  return Resync(api, words, flags, json, tty, out, err);
}

}  // namespace crmsync::engine
