// fault_schedule_test.cpp: randomized fault schedules, model-based, in the
// style of Jepsen (issue 14, "never a duplicate, never a silent loss").
//
// The real crmsync binary (serve, SQLite store in a temp folder,
// generic-rest-crm) syncs to the real reference-crm (tools/reference-crm) run
// with --duplicates allow: a create with a known externalReference makes a
// second record there, as in most real CRMs, so "one record per reference" is
// something the engine has to earn.
//
// A schedule is one seed: one lead (lead:fs<seed>), a short random sequence of
// events for it (lead.created, then status changes, some carrying only id and
// status, edits of name/notes/budget, inquiries, CONVERTED) and a random fault
// plan for it at the CRM (POST /_faults, one entry per CRM request about the
// lead; see reference_crm.cpp). Schedules run concurrently in rounds on one
// engine and one CRM; each lead's events are posted in order, one at a time.
// The run's seed also draws engine kills: the engine is killed with SIGKILL
// when the CRM has served a drawn number of requests in the round, and
// restarted on the same store; an event whose POST got no answer is posted
// again with the same eventId. After each round drains (the engine's admin status
// shows no unfinished job), every schedule is checked against its model:
//   - at most one CRM record carries the lead's externalReference;
//   - every event the engine accepted (2xx with a jobId) belongs to a job that
//     is done or dead-lettered with a reason;
//   - unless a job of the lead is dead-lettered, the CRM's record equals the
//     lead as the events left it (partial events change only their fields);
//   - each inquiry is at most one activity, and exactly one when its job is done;
//   - a lead whose plan holds no refusal (404, 409) is never dead-lettered:
//     every other fault is transient and the plan is shorter than the retries.
// A failure names the schedule's seed and the run's, and the environment that
// replays it. CRMSYNC_FAULT_SCHEDULES (default 1000), CRMSYNC_FAULT_SEED (the
// first schedule's seed, default 1) and CRMSYNC_FAULT_ROUND (schedules run at
// once, default 250) size the run; CRMSYNC_FAULT_REPORT=<file> writes every
// violation with its schedule there; scripts/soak.sh runs it long.
//
// Nothing sleeps to wait for work: every wait is a condition with a deadline.
#include <doctest/doctest.h>

#include <signal.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace t = crmsync::testing;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

const char kIntakeToken[] = "intake-faults";
const char kAdminToken[] = "admin-faults";
// The engine's CRM timeout, and how late a timeout_after_apply answer comes.
constexpr int kCrmTimeoutMs = 500;
constexpr int kFaultDelayMs = 800;
// Retries after the first try: more than a plan's longest run of faults, so a
// plan of transient faults alone can never use them up.
constexpr int kRetryAttempts = 10;
constexpr int kMaxPlanLength = 8;

Object::Ptr Parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoll(value, nullptr, 10) : fallback;
}

// splitmix64: the same numbers from a seed on every platform and standard
// library (std::uniform_int_distribution is not specified bit for bit).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// 0 to n-1.
  int Below(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }
  bool Chance(int percent) { return Below(100) < percent; }

 private:
  uint64_t state_;
};

// --- the model ---------------------------------------------------------------

// The lead fields the schedules change and the CRM record shows (through the
// reference mapping: status through its statusMap, budgetMax as budgetRange.max).
struct LeadModel {
  std::string name, email, status, notes;
  int64_t budget_max = 0;
};

const char* CrmStatus(const std::string& status) {
  static const std::map<std::string, const char*> kMap = {
      {"NEW", "new"},
      {"CONTACTED", "contacted"},
      {"QUALIFIED", "qualified"},
      {"VIEWING_SCHEDULED", "viewing_scheduled"},
      {"VIEWED", "viewed"},
      {"NEGOTIATING", "negotiating"},
      {"CONVERTED", "won"},
      {"LOST", "lost"}};
  auto it = kMap.find(status);
  return it == kMap.end() ? "?" : it->second;
}

struct Event {
  std::string event_id;
  std::string body;
  std::string inquiry_message;  // inquiries only
};

// One seed's lead, events, expected end state and fault plan.
struct Schedule {
  uint64_t seed = 0;
  std::string lead_id;
  std::string reference;
  std::vector<Event> events;
  std::vector<std::string> plan;
  LeadModel expected;
  bool may_dead_letter = false;  // the plan holds a refusal (404, 409)
};

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

Schedule MakeSchedule(uint64_t seed) {
  Rng rng(seed * 0x2545f4914f6cdd1dULL + 7);
  Schedule s;
  s.seed = seed;
  s.lead_id = "fs" + std::to_string(seed);
  s.reference = "lead:" + s.lead_id;
  LeadModel& m = s.expected;
  m.name = "Lead " + std::to_string(seed);
  m.email = "fs" + std::to_string(seed) + "@example.com";
  m.status = "NEW";
  m.notes = "n0";
  m.budget_max = 5000000;
  const int count = 1 + rng.Below(7);  // events after lead.created
  auto envelope = [&](int n, const std::string& type, const std::string& data) {
    Event e;
    e.event_id = "fs" + std::to_string(seed) + "-" + std::to_string(n);
    char when[32];
    std::snprintf(when, sizeof(when), "2026-11-25T10:%02d:%02dZ", n / 60, n % 60);
    e.body = "{\"eventId\":" + Quote(e.event_id) + ",\"type\":" + Quote(type) +
             ",\"occurredAt\":" + Quote(when) + ",\"data\":" + data + "}";
    return e;
  };
  s.events.push_back(envelope(
      0, "lead.created",
      "{\"id\":" + Quote(s.lead_id) + ",\"name\":" + Quote(m.name) + ",\"email\":" +
          Quote(m.email) + ",\"source\":\"website\",\"status\":\"NEW\",\"budgetMin\":1000000," +
          "\"budgetMax\":" + std::to_string(m.budget_max) + ",\"notes\":" + Quote(m.notes) + "}"));
  static const char* kStatuses[] = {
      "CONTACTED", "QUALIFIED", "VIEWING_SCHEDULED", "VIEWED", "NEGOTIATING", "CONVERTED", "LOST"};
  for (int n = 1; n <= count; ++n) {
    const int kind = rng.Below(10);
    if (kind < 4) {  // a status change carrying only id and status
      m.status = kStatuses[rng.Below(7)];
      s.events.push_back(
          envelope(n, "lead.status_changed",
                   "{\"id\":" + Quote(s.lead_id) + ",\"status\":" + Quote(m.status) + "}"));
    } else if (kind < 7) {  // an edit: status and some other fields
      std::string data = "{\"id\":" + Quote(s.lead_id);
      if (rng.Chance(50)) m.status = kStatuses[rng.Below(7)];
      data += ",\"status\":" + Quote(m.status);
      if (rng.Chance(60)) {
        m.notes = "n" + std::to_string(n);
        data += ",\"notes\":" + Quote(m.notes);
      }
      if (rng.Chance(40)) {
        m.name = "Lead " + std::to_string(seed) + " v" + std::to_string(n);
        data += ",\"name\":" + Quote(m.name);
      }
      if (rng.Chance(30)) {
        m.budget_max = 2000000 + 100000 * rng.Below(50);
        data += ",\"budgetMax\":" + std::to_string(m.budget_max);
      }
      s.events.push_back(envelope(n, "lead.status_changed", data + "}"));
    } else {  // an inquiry, maybe with new notes on the lead
      std::string lead = "{\"id\":" + Quote(s.lead_id);
      if (rng.Chance(50)) {
        m.notes = "q" + std::to_string(n);
        lead += ",\"notes\":" + Quote(m.notes);
      }
      std::string message = "m" + std::to_string(seed) + "-" + std::to_string(n);
      Event e = envelope(n, "inquiry.submitted",
                         "{\"id\":" + Quote("Q" + std::to_string(seed) + "-" + std::to_string(n)) +
                             ",\"leadId\":" + Quote(s.lead_id) +
                             ",\"propertyId\":\"P1\",\"message\":" + Quote(message) +
                             ",\"lead\":" + lead + "}}");
      e.inquiry_message = message;
      s.events.push_back(e);
    }
  }
  // The plan: half its entries are "none"; the faults weighted towards the
  // ones that test the engine's reading of answers. 429s are rare: each one
  // holds its job for the CRM's Retry-After and may cut the engine's request
  // rate for every lead (once per window), so a 429 in every few schedules
  // would make the run one of waiting on the rate limiter rather than of
  // faults.
  static const std::vector<std::pair<const char*, int>> kFaults = {{"500", 2},
                                                                   {"503", 1},
                                                                   {"404", 2},
                                                                   {"409", 1},
                                                                   {"reset_before_apply", 1},
                                                                   {"timeout_after_apply", 1},
                                                                   {"reset_after_apply", 2},
                                                                   {"lookup_bare_array", 2},
                                                                   {"lookup_other_object", 1},
                                                                   {"batch_unmatched", 2}};
  int total_weight = 0;
  for (const auto& [name, weight] : kFaults) total_weight += weight;
  const int length = rng.Below(kMaxPlanLength + 1);
  for (int i = 0; i < length; ++i) {
    std::string fault = "none";
    if (rng.Below(1000) < 5) {
      fault = "429";
    } else if (rng.Chance(50)) {
      int pick = rng.Below(total_weight);
      for (const auto& [name, weight] : kFaults) {
        if (pick < weight) {
          fault = name;
          break;
        }
        pick -= weight;
      }
    }
    s.may_dead_letter = s.may_dead_letter || fault == "404" || fault == "409";
    s.plan.push_back(fault);
  }
  return s;
}

std::string Describe(const Schedule& s) {
  std::string out = "events:";
  for (const Event& e : s.events) out += "\n    " + e.body;
  out += "\n  plan: [";
  for (size_t i = 0; i < s.plan.size(); ++i) out += (i ? "," : "") + s.plan[i];
  return out + "]";
}

// --- the processes -------------------------------------------------------------

// The reference mapping plus lead batches, and an Idempotency-Key on
// activities and deals, written to `path`. The lead's own create and update
// carry no key on purpose: with one, the CRM itself would absorb a repeated
// create, and the engine's own guard against duplicates (look up before
// creating again) would go untested.
void WriteMapping(const std::string& path) {
  Object::Ptr mapping =
      Parse(t::ReadFile(CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json"));
  Object::Ptr ops = mapping->getObject("entities")->getObject("lead")->getObject("operations");
  ops->getObject("activity")
      ->set("headers", Parse(R"({"Idempotency-Key":"{{eventId}}-activity"})"));
  ops->getObject("deal")->set("headers", Parse(R"({"Idempotency-Key":"{{eventId}}-deal"})"));
  auto batch = [&](const std::string& path_suffix, Object::Ptr item) {
    Object::Ptr op = new Object;
    op->set("method", "POST");
    op->set("path", "/api/v1/leads/batch" + path_suffix);
    op->set("maxSize", 10);
    op->set("body", Object::Ptr(new Object));
    op->set("itemsPointer", "/inputs");
    op->set("item", item);
    op->set("resultsPointer", "/results");
    op->set("matchPointer", "/externalReference");
    op->set("statusPointer", "/status");
    op->set("idPointer", "/id");
    return op;
  };
  Object::Ptr create_item = new Object(*ops->getObject("create")->getObject("body"));
  Object::Ptr update_item = new Object(*ops->getObject("update")->getObject("body"));
  update_item->set("id", "{{externalId}}");
  ops->set("batchCreate", batch("", create_item));
  ops->set("batchUpdate", batch("/update", update_item));
  std::ostringstream out;
  mapping->stringify(out);
  t::WriteFile(path, out.str());
}

// `crmsync serve` on one SQLite store, restartable on the same port and store.
class Engine {
 public:
  Engine(std::string mapping, int crm_port) : mapping_(std::move(mapping)), crm_port_(crm_port) {}

  // Starts the engine; true once it answers /healthz.
  bool Start() {
    // clang-format off
    std::vector<std::string> args = {
        "serve",
        "--set", "server.port=" + std::to_string(port_),
        "--set", "store.path=" + dir_.File("crmsync.db"),
        // A SIGKILL ends the process, not the machine: with WAL, NORMAL loses
        // nothing a process crash could take, and keeps 2 cores for the work.
        "--set", "store.synchronous=NORMAL",
        "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR,
        "--set", "crm.plugin=generic-rest-crm",
        "--set", "crm.mapping=" + mapping_,
        "--set", "crm.api.url=http://127.0.0.1:" + std::to_string(crm_port_),
        "--set", "crm.api.key=key-faults",
        "--set", "crm.api.secret=secret-faults",
        "--set", "crm.timeout=" + std::to_string(kCrmTimeoutMs),
        "--set", "crm.retry.delay=10",
        "--set", "crm.retry.attempts=" + std::to_string(kRetryAttempts),
        // A 429 cuts the request rate once per window, to 80% of what the CRM
        // took over the last second (which the posting pace keeps low) or,
        // with few answers, of this configured rate.
        "--set", "crm.rate_limit=2000",
        "--set", "circuit.failure_threshold=10",
        "--set", "circuit.open_ms=100",
        "--set", "circuit.max_open_ms=400",
        "--set", std::string("intake.token=") + kIntakeToken,
        "--set", std::string("admin.token=") + kAdminToken,
        "--set", "log.level=warning",
        "--set", "workers.count=8"};
    // clang-format on
    process_ = std::make_unique<t::ChildProcess>(CRMSYNC_BINARY, args);
    return t::WaitUntil(
               [&] {
                 return process_->WaitExit(std::chrono::milliseconds(0)) ||
                        t::HttpCall(port_, "GET", "/healthz").status == 200;
               },
               std::chrono::seconds(60)) &&
           process_->exit_code() < 0;
  }

  void Kill() {
    process_->Signal(SIGKILL);
    process_->WaitExit(std::chrono::seconds(20));
  }

  // Jobs not finished (ready, queued, delayed, leased) as the store counts
  // them now (/metrics samples its gauges on a timer); -1 when down.
  int64_t Unfinished() const {
    t::HttpResult r = Admin("/api/v1/admin/status");
    if (r.status != 200) return -1;
    Object::Ptr queue = Parse(r.body)->getObject("queue");
    int64_t n = 0;
    for (const char* state : {"ready", "queued", "delayed", "leased"}) {
      n += queue->getValue<int64_t>(state);
    }
    return n;
  }

  std::string Stderr() const { return process_ ? process_->Stderr() : ""; }
  int port() const { return port_; }

  t::HttpResult Admin(const std::string& path) const {
    return t::HttpCall(port_, "GET", path, "",
                       {{"Authorization", std::string("Bearer ") + kAdminToken}});
  }

 private:
  t::TempDir dir_;
  std::string mapping_;
  int crm_port_;
  int port_ = t::FreePort();
  std::unique_ptr<t::ChildProcess> process_;
};

// --- one round ---------------------------------------------------------------

struct Totals {
  int64_t schedules = 0, events = 0, requests = 0, kills = 0, reposts = 0, dead_letters = 0;
  std::map<std::string, int64_t> injected;
  double post_s = 0, drain_s = 0, check_s = 0;
};

// What the engine answered for each event of a schedule: its jobId (0: the
// event made no job), -1 when it refused the event, -2 when it never answered.
using Answers = std::vector<int64_t>;

// Posts `s`'s events in order, one at a time, each again until the engine
// answers (it may be down between a kill and its restart).
void PostEvents(const Engine& engine, const Schedule& s, size_t next, Answers* answers,
                std::atomic<int64_t>* reposts) {
  const Event& e = s.events[next];
  for (int tries = 0; tries < 20; ++tries) {
    t::HttpResult r = t::HttpCall(engine.port(), "POST", "/api/v1/events", e.body,
                                  {{"Authorization", std::string("Bearer ") + kIntakeToken}});
    if (r.status == 200 || r.status == 202) {
      Array::Ptr accepted = Parse(r.body)->getArray("accepted");
      (*answers)[next] = accepted->getObject(0)->getValue<int64_t>("jobId");
      return;
    }
    if (r.status != 0 && r.status != 503) {
      (*answers)[next] = -1;
      return;
    }
    ++*reposts;
    t::WaitUntil([&] { return t::HttpCall(engine.port(), "GET", "/healthz").status == 200; },
                 std::chrono::seconds(60));
  }
  (*answers)[next] = -2;
}

// The checks of one drained schedule; each violation is one line.
std::vector<std::string> Check(const Engine& engine, const Schedule& s, const Answers& answers,
                               const std::vector<Object::Ptr>& records, int64_t* dead_letters) {
  std::vector<std::string> violations;
  auto violation = [&](const std::string& what) { violations.push_back(what); };
  if (records.size() > 1) {
    violation(std::to_string(records.size()) + " CRM records carry " + s.reference);
  }
  t::HttpResult jobs_answer =
      engine.Admin("/api/v1/admin/jobs?entity=lead:" + s.lead_id + "&limit=1000");
  if (jobs_answer.status != 200) {
    violation("the admin API did not list the jobs: " + std::to_string(jobs_answer.status));
    return violations;
  }
  std::map<int64_t, std::string> job_state;
  Array::Ptr jobs = Parse(jobs_answer.body)->getArray("jobs");
  for (size_t i = 0; i < jobs->size(); ++i) {
    Object::Ptr job = jobs->getObject(static_cast<unsigned>(i));
    job_state[job->getValue<int64_t>("id")] = job->getValue<std::string>("state");
  }
  std::set<int64_t> dead;
  for (const auto& [id, state] : job_state) {
    if (state == "dead") dead.insert(id);
    if (state != "done" && state != "dead") {
      violation("job " + std::to_string(id) + " is " + state + " after the drain");
    }
  }
  // The reasons of the lead's dead letters, by job.
  std::map<int64_t, std::string> reasons;
  if (!dead.empty()) {
    ++*dead_letters;
    t::HttpResult dlq = engine.Admin("/api/v1/admin/dlq?entity=lead:" + s.lead_id + "&limit=1000");
    Array::Ptr letters = dlq.status == 200 ? Parse(dlq.body)->getArray("deadLetters") : nullptr;
    for (size_t i = 0; letters && i < letters->size(); ++i) {
      Object::Ptr letter = letters->getObject(static_cast<unsigned>(i));
      reasons[letter->getValue<int64_t>("jobId")] = letter->getValue<std::string>("reason");
    }
  }
  bool explained_dead = false;
  for (int64_t id : dead) {
    if (reasons[id].empty()) {
      violation("job " + std::to_string(id) + " is dead without a dead letter giving a reason");
    } else {
      explained_dead = true;
    }
  }
  if (!dead.empty() && !s.may_dead_letter) {
    auto first = reasons.begin();
    violation("dead-lettered though its plan holds no refusal (404/409): " +
              (first == reasons.end() ? std::string("?") : first->second));
  }
  for (size_t n = 0; n < s.events.size(); ++n) {
    if (answers[n] == -2) {
      violation("the engine never answered the POST of event " + s.events[n].event_id);
    } else if (answers[n] < 0) {
      violation("the engine refused event " + s.events[n].event_id);
    } else if (answers[n] > 0 && job_state.count(answers[n]) == 0) {
      violation("event " + s.events[n].event_id + " was accepted as job " +
                std::to_string(answers[n]) + ", which the engine does not list");
    }
  }
  // With copies the state of "the" record means nothing: the copies are the
  // violation already reported.
  if (!explained_dead && records.size() <= 1) {
    if (records.empty()) {
      violation("no CRM record for " + s.reference + " and no dead letter");
    } else {
      for (const Object::Ptr& record : records) {
        const LeadModel& m = s.expected;
        std::string got_status = record->optValue<std::string>("status", "");
        std::string got_name = record->optValue<std::string>("name", "");
        std::string got_notes = record->optValue<std::string>("notes", "");
        std::string got_email = record->optValue<std::string>("email", "");
        Object::Ptr budget = record->getObject("budgetRange");
        int64_t got_max = budget ? budget->optValue<int64_t>("max", 0) : 0;
        if (got_status != CrmStatus(m.status) || got_name != m.name || got_notes != m.notes ||
            got_email != m.email || got_max != m.budget_max) {
          violation("CRM record " + record->optValue<std::string>("id", "?") + " is {status " +
                    got_status + ", name " + got_name + ", notes " + got_notes + ", budgetMax " +
                    std::to_string(got_max) + "}, the last event left {" + CrmStatus(m.status) +
                    ", " + m.name + ", " + m.notes + ", " + std::to_string(m.budget_max) + "}");
        }
      }
    }
  }
  for (size_t n = 0; n < s.events.size(); ++n) {
    const std::string& message = s.events[n].inquiry_message;
    if (message.empty()) continue;
    int copies = 0;
    for (const Object::Ptr& record : records) {
      Array::Ptr activities = record->getArray("activities");
      for (size_t a = 0; activities && a < activities->size(); ++a) {
        Object::Ptr activity = activities->getObject(static_cast<unsigned>(a));
        if (activity->optValue<std::string>("message", "") == message) {
          ++copies;
          // An inquiry is an activity of type "inquiry", never the lead's status word.
          const std::string type = activity->optValue<std::string>("type", "");
          if (type != "inquiry") {
            violation("inquiry " + s.events[n].event_id + " is an activity of type '" + type +
                      "', not 'inquiry'");
          }
        }
      }
    }
    bool done = answers[n] > 0 && job_state[answers[n]] == "done";
    if (copies > 1 || (done && copies != 1)) {
      violation("inquiry " + s.events[n].event_id + " is " + std::to_string(copies) +
                " activities" + (done ? " (its job is done)" : ""));
    }
  }
  return violations;
}

}  // namespace

TEST_SUITE("e2e.fault_schedule") {
  TEST_CASE(
      "randomized fault schedules with engine kills: never a duplicate, never a silent loss") {
    const int64_t total = std::max<int64_t>(1, EnvInt("CRMSYNC_FAULT_SCHEDULES", 1000));
    const uint64_t first_seed = static_cast<uint64_t>(EnvInt("CRMSYNC_FAULT_SEED", 1));
    const int64_t round_size = std::max<int64_t>(1, EnvInt("CRMSYNC_FAULT_ROUND", 250));
    const uint64_t last_seed = first_seed + static_cast<uint64_t>(total) - 1;
    MESSAGE("fault schedules: seeds " << first_seed << ".." << last_seed << " (run seed "
                                      << first_seed << "), " << round_size << " at once");
    auto started = std::chrono::steady_clock::now();

    t::TempDir dir;
    std::string mapping = dir.File("reference-faults.json");
    WriteMapping(mapping);
    int crm_port = t::FreePort();
    t::ChildProcess crm(
        CRMSYNC_REFERENCE_CRM,
        {"--port", std::to_string(crm_port), "--api-key", "key-faults", "--api-secret",
         "secret-faults", "--duplicates", "allow", "--fault-delay-ms",
         std::to_string(kFaultDelayMs), "--retry-after", "0", "--threads", "64"});
    REQUIRE(t::WaitUntil([&] { return t::HttpCall(crm_port, "GET", "/_state").status == 200; }));
    Engine engine(mapping, crm_port);
    REQUIRE_MESSAGE(engine.Start(), engine.Stderr());

    Rng run_rng(first_seed ^ 0x5eed5eed5eedULL);
    // CRMSYNC_FAULT_REPORT=<file>: every violation and its schedule, for long runs.
    std::unique_ptr<std::ofstream> report;
    if (const char* path = std::getenv("CRMSYNC_FAULT_REPORT"); path != nullptr && *path != '\0') {
      report = std::make_unique<std::ofstream>(path);
    }
    Totals totals;
    std::vector<std::string> violations;
    std::set<uint64_t> failing_seeds;
    std::string first_failure;
    for (uint64_t round_first = first_seed; round_first <= last_seed;
         round_first += static_cast<uint64_t>(round_size)) {
      const uint64_t round_last =
          std::min(last_seed, round_first + static_cast<uint64_t>(round_size) - 1);
      auto round_started = std::chrono::steady_clock::now();
      std::vector<Schedule> schedules;
      for (uint64_t seed = round_first; seed <= round_last; ++seed) {
        schedules.push_back(MakeSchedule(seed));
      }
      REQUIRE(t::HttpCall(crm_port, "POST", "/_reset").status == 200);
      Object::Ptr plans = new Object;
      int64_t events = 0;
      for (const Schedule& s : schedules) {
        Array::Ptr plan = new Array;
        for (const std::string& fault : s.plan) plan->add(fault);
        plans->set(s.reference, plan);
        events += static_cast<int64_t>(s.events.size());
      }
      std::ostringstream plans_json;
      plans->stringify(plans_json);
      REQUIRE(t::HttpCall(crm_port, "POST", "/_faults", plans_json.str()).status == 200);

      // Kill points: when the CRM has served this many API requests in the
      // round (about 1.5 per event), drawn from the run's seed.
      std::vector<int64_t> kill_at;
      for (int k = 1 + run_rng.Below(3); k > 0; --k)
        kill_at.push_back(1 + run_rng.Below(static_cast<int>(3 * events / 2)));
      std::sort(kill_at.begin(), kill_at.end());
      std::atomic<bool> round_done{false};
      std::atomic<int64_t> kills{0};
      std::atomic<bool> restart_failed{false};
      auto api_requests = [&] {
        t::HttpResult r = t::HttpCall(crm_port, "GET", "/_faults");
        return r.status == 200 ? Parse(r.body)->getValue<int64_t>("apiRequests") : 0;
      };
      std::thread killer([&] {
        for (int64_t at : kill_at) {
          t::WaitUntil([&] { return round_done || api_requests() >= at; },
                       std::chrono::minutes(30));
          if (round_done) return;
          engine.Kill();
          ++kills;
          if (!engine.Start()) restart_failed = true;
        }
      });

      // Posters: each takes every kPosters-th schedule and posts one event of
      // each in turn, so a lead's events are spaced by other leads' work.
      constexpr size_t kPosters = 8;
      std::vector<Answers> answers(schedules.size());
      for (size_t i = 0; i < schedules.size(); ++i)
        answers[i].assign(schedules[i].events.size(), -2);
      std::atomic<int64_t> reposts{0};
      std::vector<std::thread> posters;
      for (size_t p = 0; p < kPosters; ++p) {
        posters.emplace_back([&, p] {
          for (size_t n = 0;; ++n) {
            bool any = false;
            for (size_t i = p; i < schedules.size(); i += kPosters) {
              if (n >= schedules[i].events.size()) continue;
              any = true;
              PostEvents(engine, schedules[i], n, &answers[i], &reposts);
            }
            if (!any) return;
          }
        });
      }
      for (std::thread& poster : posters) poster.join();
      auto posted_at = std::chrono::steady_clock::now();
      bool drained =
          t::WaitUntil([&] { return engine.Unfinished() == 0; }, std::chrono::minutes(10));
      round_done = true;
      killer.join();
      REQUIRE_MESSAGE(!restart_failed, "the engine did not restart: " << engine.Stderr());
      // A kill after the drain leaves nothing undone, but the restarted engine
      // must be up to answer the checks.
      drained = drained &&
                t::WaitUntil([&] { return engine.Unfinished() == 0; }, std::chrono::minutes(2));
      REQUIRE_MESSAGE(drained, "seeds " << round_first << ".." << round_last
                                        << ": not drained, unfinished jobs: " << engine.Unfinished()
                                        << "\n"
                                        << engine.Stderr());

      auto drained_at = std::chrono::steady_clock::now();
      Object::Ptr state = Parse(t::HttpCall(crm_port, "GET", "/_state").body);
      std::map<std::string, std::vector<Object::Ptr>> by_reference;
      Array::Ptr leads = state->getArray("leads");
      for (size_t i = 0; i < leads->size(); ++i) {
        Object::Ptr lead = leads->getObject(static_cast<unsigned>(i));
        by_reference[lead->optValue<std::string>("externalReference", "")].push_back(lead);
      }
      for (size_t i = 0; i < schedules.size(); ++i) {
        const Schedule& s = schedules[i];
        for (const std::string& what :
             Check(engine, s, answers[i], by_reference[s.reference], &totals.dead_letters)) {
          violations.push_back("seed " + std::to_string(s.seed) + ": " + what);
          if (report) *report << "seed " << s.seed << ": " << what << "\n";
          if (failing_seeds.insert(s.seed).second) {
            if (first_failure.empty())
              first_failure = "seed " + std::to_string(s.seed) + " " + Describe(s);
            if (report) *report << "seed " << s.seed << " " << Describe(s) << "\n";
          }
        }
      }
      Object::Ptr faults = Parse(t::HttpCall(crm_port, "GET", "/_faults").body);
      totals.requests += faults->getValue<int64_t>("apiRequests");
      for (const auto& [name, n] : *faults->getObject("injected")) {
        totals.injected[name] += n.convert<int64_t>();
      }
      auto checked_at = std::chrono::steady_clock::now();
      totals.post_s += std::chrono::duration<double>(posted_at - round_started).count();
      totals.drain_s += std::chrono::duration<double>(drained_at - posted_at).count();
      totals.check_s += std::chrono::duration<double>(checked_at - drained_at).count();
      totals.schedules += static_cast<int64_t>(schedules.size());
      totals.events += events;
      totals.kills += kills;
      totals.reposts += reposts;
    }

    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::string injected;
    int64_t injected_total = 0;
    for (const auto& [name, n] : totals.injected) {
      injected += " " + name + "=" + std::to_string(n);
      if (name != "skipped") injected_total += n;
    }
    MESSAGE("fault schedules: " << totals.schedules << " schedules (seeds " << first_seed << ".."
                                << last_seed << "), " << totals.events << " events, "
                                << totals.requests << " CRM requests, " << injected_total
                                << " faults injected (" << injected << " ), " << totals.kills
                                << " engine kills, " << totals.reposts << " events posted again, "
                                << totals.dead_letters << " leads dead-lettered, "
                                << failing_seeds.size() << " schedules failed, in " << seconds
                                << " s (posting " << totals.post_s << " s, draining "
                                << totals.drain_s << " s, checking " << totals.check_s << " s)");
    if (!violations.empty()) {
      std::string list;
      for (size_t i = 0; i < violations.size() && i < 30; ++i) list += "\n  " + violations[i];
      if (violations.size() > 30)
        list += "\n  ... and " + std::to_string(violations.size() - 30) + " more";
      uint64_t seed = *failing_seeds.begin();
      FAIL_CHECK(violations.size()
                 << " invariant violations in " << failing_seeds.size() << " schedules (run seed "
                 << first_seed << "):" << list << "\nfirst failing " << first_failure
                 << "\nreplay one: CRMSYNC_FAULT_SEED=" << seed
                 << " CRMSYNC_FAULT_SCHEDULES=1; the run: CRMSYNC_FAULT_SEED=" << first_seed
                 << " CRMSYNC_FAULT_SCHEDULES=" << total);
    }
  }
}
