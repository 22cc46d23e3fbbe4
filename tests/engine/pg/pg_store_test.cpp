// pg_store_test.cpp: the PostgreSQL store against a real server (pg_server.h):
// opening and migrations, and the store cases of
// tests/engine/store/sqlite_store_test.cpp that do not depend on SQLite (intake,
// the queue rules of DESIGN.md §4, leases, retries, dead letters, inspection),
// run unchanged against PgStore; plus what only a shared server has: two
// stores (two engine processes) leasing from one database at once.
//
// Time is always passed in explicitly, so no test sleeps. Each case gets its
// own database.
#include <doctest/doctest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crmsync/entities.h"
#include "crmsync/entities_json.h"
#include "pg_server.h"
#include "store/pg_schema.h"
#include "store/pg_store.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::PgExec;
using crmsync::testing::PgRig;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kLeaseMs = 30'000;
const char kPlugin[] = "hubspot";

int LatestVersion() { return PgMigrations().back().version; }

std::string OpenError(const std::string& url) {
  try {
    PgOptions options;
    options.url = url;
    PgStore::Open(options);
  } catch (const StoreError& e) {
    return e.what();
  }
  return "";
}

// --- events, built with the SDK encoders as intake builds them ---------------

Lead MakeLead(const std::string& id, const std::string& name,
              LeadStatus status = LeadStatus::kContacted) {
  Lead lead;
  lead.id = id;
  lead.name = name;
  lead.email = id + "@example.com";
  lead.status = status;
  lead.budget_min = 100000;
  lead.preferred_location = {"Pune"};
  return lead;
}

IncomingEvent LeadEvent(const std::string& event_id, const Lead& lead,
                        EventType type = EventType::kLeadStatusChanged, bool coalescable = true) {
  IncomingEvent e;
  e.event_id = event_id;
  e.type = type;
  e.priority = DefaultPriority(type);
  e.occurred_at = "2024-05-01T10:00:00Z";
  e.kind = EntityKind::kLead;
  e.entity_id = lead.id;
  e.entity_json = EncodeLead(lead);
  e.coalescable = coalescable;
  return e;
}

IncomingEvent LeadEvent(const std::string& event_id, const std::string& lead_id,
                        const std::string& name, bool coalescable = true) {
  return LeadEvent(event_id, MakeLead(lead_id, name), EventType::kLeadStatusChanged, coalescable);
}

IncomingEvent PropertyEvent(const std::string& event_id, const std::string& property_id,
                            const std::string& title, bool coalescable = true) {
  Property p;
  p.id = property_id;
  p.title = title;
  p.price = 4500000;
  p.city = "Pune";
  p.status = PropertyStatus::kActive;
  IncomingEvent e;
  e.event_id = event_id;
  e.type = EventType::kPropertyUpdated;
  e.priority = DefaultPriority(e.type);
  e.occurred_at = "2024-05-01T10:00:00Z";
  e.kind = EntityKind::kProperty;
  e.entity_id = property_id;
  e.entity_json = EncodeProperty(p);
  e.coalescable = coalescable;
  return e;
}

IncomingEvent InquiryEvent(const std::string& event_id, const std::string& inquiry_id,
                           const Lead& lead) {
  Inquiry inquiry;
  inquiry.id = inquiry_id;
  inquiry.lead_id = lead.id;
  inquiry.property_id = "prop-9";
  inquiry.message = "Is it still available?";
  inquiry.lead = lead;
  IncomingEvent e;
  e.event_id = event_id;
  e.type = EventType::kInquirySubmitted;
  e.priority = DefaultPriority(e.type);
  e.occurred_at = "2024-05-01T10:00:00Z";
  e.kind = EntityKind::kLead;
  e.entity_id = lead.id;
  e.entity_json = EncodeLead(lead);
  e.inquiry_id = inquiry_id;
  e.inquiry_json = EncodeInquiry(inquiry);
  e.coalescable = false;
  return e;
}

IncomingEvent AssignEvent(const std::string& event_id, const std::string& lead_id,
                          const std::string& dealer_id) {
  DealerAssignment a;
  a.lead_id = lead_id;
  a.dealer_id = dealer_id;
  a.assigned_at = "2024-05-01T10:00:00Z";
  IncomingEvent e;
  e.event_id = event_id;
  e.type = EventType::kDealerAssigned;
  e.priority = DefaultPriority(e.type);
  e.occurred_at = "2024-05-01T10:00:00Z";
  e.kind = EntityKind::kLead;
  e.entity_id = lead_id;
  e.assignment = a;
  e.coalescable = false;
  return e;
}

// --- reading values back -----------------------------------------------------

Lead DecodeLeadOrFail(const std::string& json) {
  Lead lead;
  std::vector<FieldError> errors;
  bool ok = DecodeLead(json, "$", &lead, &errors);
  INFO("lead json: ", json);
  REQUIRE(ok);
  return lead;
}

Lead MirrorLead(Store& store, const std::string& id) {
  std::optional<std::string> json = store.GetMirror(EntityKind::kLead, id);
  REQUIRE(json.has_value());
  return DecodeLeadOrFail(*json);
}

Poco::JSON::Object::Ptr ParseObject(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

std::string Stringify(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(value, out);
  return out.str();
}

// The member `key` of the payload object, as JSON text ("" when absent).
std::string PayloadMember(const std::string& payload, const std::string& key) {
  Poco::JSON::Object::Ptr object = ParseObject(payload);
  if (!object->has(key)) return "";
  return Stringify(object->get(key));
}

Lead PayloadLead(const std::string& payload) {
  std::string json = PayloadMember(payload, "lead");
  REQUIRE_FALSE(json.empty());
  return DecodeLeadOrFail(json);
}

// --- queue helpers -------------------------------------------------------------

int64_t AcceptOne(Store& store, const IncomingEvent& e, int64_t now_ms,
                  AcceptResult* out = nullptr) {
  std::vector<AcceptResult> results = store.Accept({e}, now_ms);
  REQUIRE(results.size() == 1u);
  if (out) *out = results[0];
  return results[0].job_id;
}

std::vector<LeasedJob> LeaseAll(Store& store, int64_t now_ms) {
  return store.Lease(kPlugin, 1000, now_ms, kLeaseMs);
}

LeasedJob LeaseOnly(Store& store, int64_t now_ms) {
  std::vector<LeasedJob> jobs = store.Lease(kPlugin, 1000, now_ms, kLeaseMs);
  REQUIRE(jobs.size() == 1u);
  return jobs[0];
}

JobOutcome Outcome(const LeasedJob& job, JobOutcome::Kind kind) {
  JobOutcome o;
  o.job_id = job.id;
  o.lease_token = job.lease_token;
  o.kind = kind;
  o.attempts = job.attempts;
  o.in_doubt = job.in_doubt;  // as the worker does until a step settles it
  return o;
}

JobOutcome Done(const LeasedJob& job) {
  JobOutcome o = Outcome(job, JobOutcome::Kind::kDone);
  o.attempts = job.attempts + 1;
  o.in_doubt = false;
  return o;
}

AttemptRecord Attempt(int attempt, int64_t at_ms, const std::string& outcome, int http_status,
                      const std::string& message) {
  AttemptRecord a;
  a.attempt = attempt;
  a.step = 0;
  a.step_kind = "create";
  a.at_ms = at_ms;
  a.outcome = outcome;
  a.http_status = http_status;
  a.message = message;
  return a;
}

JobOutcome Retry(const LeasedJob& job, int64_t available_at_ms, int64_t now_ms) {
  JobOutcome o = Outcome(job, JobOutcome::Kind::kRetry);
  o.attempts = job.attempts + 1;
  o.available_at_ms = available_at_ms;
  o.plan = "create";
  o.error_class = "RETRYABLE";
  o.reason = "HTTP 503";
  o.attempts_made = {Attempt(o.attempts, now_ms, "RETRYABLE", 503, "HTTP 503")};
  return o;
}

JobOutcome Dead(const LeasedJob& job, const std::string& error_class, const std::string& reason,
                int64_t now_ms) {
  JobOutcome o = Outcome(job, JobOutcome::Kind::kDeadLetter);
  o.attempts = job.attempts + 1;
  o.plan = "create";
  o.error_class = error_class;
  o.reason = reason;
  o.attempts_made = {Attempt(o.attempts, now_ms, error_class, 422, reason)};
  return o;
}

void Complete(Store& store, const JobOutcome& outcome, int64_t now_ms) {
  store.Complete(kPlugin, {outcome}, now_ms);
}

// Leases the only ready job and dead-letters it with one attempt.
LeasedJob DeadLetterOnly(Store& store, int64_t now_ms, const std::string& error_class = "PERMANENT",
                         const std::string& reason = "422: email invalid") {
  LeasedJob job = LeaseOnly(store, now_ms);
  Complete(store, Dead(job, error_class, reason, now_ms), now_ms);
  return job;
}

std::vector<JobInfo> Jobs(Store& store, const std::string& lead_id) {
  return store.JobsForEntity(EntityKind::kLead, lead_id, 100);
}

std::string StateOf(Store& store, EntityKind kind, const std::string& entity_id, int64_t job_id) {
  for (const JobInfo& j : store.JobsForEntity(kind, entity_id, 1000)) {
    if (j.id == job_id) return j.state;
  }
  return "<missing>";
}

}  // namespace

TEST_SUITE("engine.pg") {
  // --- open --------------------------------------------------------------------

  TEST_CASE("open migrates an empty database to the latest version and describes it") {
    PgRig rig;
    CHECK(rig.store->SchemaVersion() == LatestVersion());
    CHECK(LatestVersion() == 5);
    std::string why;
    CHECK(rig.store->Check(&why));
    std::string description = rig.store->Describe();
    CHECK(description.find("postgres host=127.0.0.1") == 0);
    CHECK(description.find("SKIP LOCKED") != std::string::npos);
    // A second opening (another engine) finds the schema in place.
    auto again = rig.OpenAnother();
    CHECK(again->SchemaVersion() == LatestVersion());
    CHECK(again->owner_id() != rig.store->owner_id());
    // The same database as a postgresql:// URL.
    size_t port_at = rig.url.find("port=") + 5;
    std::string port = rig.url.substr(port_at, rig.url.find(' ', port_at) - port_at);
    std::string db = rig.url.substr(rig.url.find("dbname=") + 7);
    PgOptions as_url;
    as_url.url = "postgresql://postgres@127.0.0.1:" + port + "/" + db;
    CHECK(PgStore::Open(as_url)->SchemaVersion() == LatestVersion());
  }

  TEST_CASE("open refuses a database written by a newer schema version") {
    PgRig rig;
    rig.store.reset();
    PgExec(rig.url, "INSERT INTO schema_migrations (version, description) VALUES (99, 'future')");
    std::string error = OpenError(rig.url);
    CHECK(error.find("newer crmsync") != std::string::npos);
    CHECK(error.find("schema version 99") != std::string::npos);
    CHECK(error.find("refusing") != std::string::npos);
  }

  TEST_CASE("open refuses a database whose jobs table crmsync did not make") {
    std::string url = crmsync::testing::NewPgDatabase();
    PgExec(url, "CREATE TABLE jobs (id integer)");
    CHECK(OpenError(url).find("not made by crmsync") != std::string::npos);
  }

  TEST_CASE("open names the server when it cannot connect, never the password") {
    int port = crmsync::testing::FreePort();
    std::string error = OpenError("host=127.0.0.1 port=" + std::to_string(port) +
                                  " user=u password=hunter2 dbname=x connect_timeout=5");
    CHECK(error.find("cannot connect") != std::string::npos);
    CHECK(error.find("hunter2") == std::string::npos);
    CHECK(OpenError("").find("store.url is empty") != std::string::npos);
  }

  TEST_CASE("a migration that fails is rolled back and named") {
    PgRig rig;
    rig.store.reset();
    // Back to version 4 with migration 5's column already there: 5 fails.
    PgExec(rig.url, "DELETE FROM schema_migrations WHERE version = 5");
    std::string error = OpenError(rig.url);
    CHECK(error.find("migration 5") != std::string::npos);
    // Remove the obstacle: migration 5 applies and the data stays.
    PgExec(rig.url, "ALTER TABLE links DROP COLUMN sent_recent");
    CHECK(OpenError(rig.url).empty());
  }

  TEST_CASE("release all leases returns the leases of a store that is gone, in doubt") {
    PgRig rig;
    std::set<int64_t> leased_ids;
    {
      auto first = rig.OpenAnother();
      first->Accept({LeadEvent("e1", "lead-1", "a"), LeadEvent("e2", "lead-2", "b"),
                     PropertyEvent("e3", "prop-1", "c")},
                    kT0);
      for (const LeasedJob& j : first->Lease(kPlugin, 2, kT0, kLeaseMs)) leased_ids.insert(j.id);
      REQUIRE(leased_ids.size() == 2u);
    }
    // A new process: the leases of the old one (whose session ended) return.
    auto& store = rig.store;
    CHECK(store->Stats().leased == 2);
    // The server ends the old session a moment after its connection closes.
    int64_t released = 0;
    CHECK(crmsync::testing::WaitUntil([&] {
      released += store->ReleaseAllLeases();
      return released >= 2;
    }));
    CHECK(released == 2);
    CHECK(store->ReleaseAllLeases() == 0);
    QueueStats s = store->Stats();
    CHECK(s.leased == 0);
    CHECK(s.ready == 3);
    std::vector<LeasedJob> jobs = LeaseAll(*store, kT0 + 1);
    REQUIRE(jobs.size() == 3u);
    for (const LeasedJob& j : jobs) CHECK(j.in_doubt == (leased_ids.count(j.id) == 1));
  }

  TEST_CASE("release all leases never takes the leases of another live engine") {
    PgRig rig;
    auto other = rig.OpenAnother();
    other->Accept({LeadEvent("e1", "lead-1", "a"), LeadEvent("e2", "lead-2", "b")}, kT0);
    REQUIRE(other->Lease(kPlugin, 1, kT0, kLeaseMs).size() == 1u);
    REQUIRE(rig.store->Lease(kPlugin, 1, kT0, kLeaseMs).size() == 1u);
    CHECK(rig.store->ReleaseAllLeases() == 1);  // its own only
    CHECK(rig.store->Stats().leased == 1);
    CHECK(rig.store->Promote(kT0 + 1) == 0);  // the other's lease is live and unexpired
    other.reset();  // that engine dies: its lease comes back before expiry, in doubt
    int64_t moved = 0;
    CHECK(crmsync::testing::WaitUntil([&] {
      moved += rig.store->Promote(kT0 + 2);
      return moved >= 1;
    }));
    CHECK(moved == 1);
    std::vector<LeasedJob> jobs = LeaseAll(*rig.store, kT0 + 3);
    REQUIRE(jobs.size() == 2u);
    CHECK(std::count_if(jobs.begin(), jobs.end(), [](const LeasedJob& j) { return j.in_doubt; }) ==
          2);
  }

  TEST_CASE("two engines leasing from one database never share a job or an entity") {
    PgRig rig;
    std::vector<std::unique_ptr<PgStore>> engines;
    engines.push_back(rig.OpenAnother(4));
    engines.push_back(rig.OpenAnother(4));
    const int kLeads = 40;
    const int kPerLead = 4;
    std::vector<IncomingEvent> events;
    for (int n = 0; n < kPerLead; ++n) {
      for (int l = 0; l < kLeads; ++l) {
        std::string lead = "lead-" + std::to_string(l);
        events.push_back(LeadEvent(lead + "-" + std::to_string(n), lead, "v", false));
      }
    }
    engines[0]->Accept(events, kT0);
    // 4 threads (2 per engine) lease and complete. The job after n of a lead
    // may only be leased once the completion of job n has begun: anything else
    // means two jobs of one entity were out at once. A job leased twice is a
    // failure too.
    std::mutex mu;
    std::set<std::string> completing;  // event ids whose Complete() has begun
    std::set<int64_t> done_ids;
    std::map<std::string, std::vector<std::string>> order;  // entity -> event ids leased
    std::atomic<int> violations{0};
    std::atomic<int> completed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        PgStore& store = *engines[t % 2];
        while (completed.load() < kLeads * kPerLead) {
          std::vector<LeasedJob> jobs = store.Lease(kPlugin, 5, kT0 + 1, kLeaseMs);
          std::vector<JobOutcome> outcomes;
          {
            std::lock_guard<std::mutex> lock(mu);
            for (const LeasedJob& j : jobs) {
              if (!done_ids.insert(j.id).second) ++violations;
              int n = std::stoi(j.event_id.substr(j.event_id.rfind('-') + 1));
              if (n > 0 && !completing.count(j.entity_id + "-" + std::to_string(n - 1))) {
                ++violations;
              }
              order[j.entity_id].push_back(j.event_id);
              outcomes.push_back(Done(j));
              completing.insert(j.event_id);
            }
          }
          if (jobs.empty()) continue;
          store.Complete(kPlugin, outcomes, kT0 + 2);
          completed += static_cast<int>(jobs.size());
        }
      });
    }
    for (std::thread& th : threads) th.join();
    CHECK(violations.load() == 0);
    CHECK(completed.load() == kLeads * kPerLead);
    CHECK(done_ids.size() == static_cast<size_t>(kLeads * kPerLead));
    for (int l = 0; l < kLeads; ++l) {
      std::string lead = "lead-" + std::to_string(l);
      std::vector<std::string> expected;
      for (int n = 0; n < kPerLead; ++n) expected.push_back(lead + "-" + std::to_string(n));
      CHECK(order[lead] == expected);
    }
    QueueStats s = rig.store->Stats();
    CHECK(s.done == kLeads * kPerLead);
    CHECK(s.ready + s.queued + s.leased + s.delayed == 0);
  }

  TEST_CASE("two engines accepting events of the same entities keep one head each") {
    PgRig rig;
    auto a = rig.OpenAnother(4);
    auto b = rig.OpenAnother(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        PgStore& store = t % 2 ? *a : *b;
        for (int i = 0; i < 20; ++i) {
          std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
          store.Accept({LeadEvent(id + "-x", "lead-" + std::to_string(i % 5), id, false),
                        LeadEvent(id + "-y", "lead-" + std::to_string((i + 2) % 5), id, false)},
                       kT0 + i);
        }
      });
    }
    for (std::thread& th : threads) th.join();
    QueueStats s = rig.store->Stats();
    CHECK(s.ready == 5);  // one head per lead
    CHECK(s.queued == 4 * 20 * 2 - 5);
    CHECK(s.events_total == 160);
  }

  TEST_CASE("coalescing never absorbs into a job another engine leased meanwhile") {
    // Engine A accepts update after update of one lead while engine B leases
    // and completes: the newest state must always reach a lease, never vanish
    // into a job already handed out.
    PgRig rig;
    auto a = rig.OpenAnother(2);
    auto b = rig.OpenAnother(2);
    const int kUpdates = 150;
    std::atomic<bool> accepting{true};
    std::string last_sent;
    std::thread worker([&] {
      while (true) {
        bool was_accepting = accepting.load();
        std::vector<LeasedJob> jobs = b->Lease(kPlugin, 5, kT0 + 1, kLeaseMs);
        for (const LeasedJob& j : jobs) {
          last_sent = PayloadLead(j.payload).name.value_or("");
          b->Complete(kPlugin, {Done(j)}, kT0 + 2);
        }
        if (jobs.empty() && !was_accepting) break;
      }
    });
    for (int i = 0; i < kUpdates; ++i) {
      a->Accept({LeadEvent("u-" + std::to_string(i), "lead-1", "v" + std::to_string(i))}, kT0);
    }
    accepting = false;
    worker.join();
    CHECK(last_sent == "v" + std::to_string(kUpdates - 1));
    QueueStats s = rig.store->Stats();
    CHECK(s.ready + s.queued + s.leased + s.delayed == 0);
    CHECK(s.done + s.coalesced_total == kUpdates);
  }

  // --- ported from sqlite_store_test.cpp ----------------------------------------

  TEST_CASE("sync state defaults to enabled and can be switched back") {
    PgRig rig;
    auto& store = rig.store;
    SyncState fresh = store->GetSyncState("hubspot");
    CHECK(fresh.enabled);
    CHECK(fresh.reason.empty());
    CHECK(fresh.changed_at.empty());
    store->SetSyncState("hubspot", false, "by admin");
    CHECK_FALSE(store->GetSyncState("hubspot").enabled);
    CHECK(store->GetSyncState("other").enabled);
    store->SetSyncState("hubspot", true, "");
    CHECK(store->GetSyncState("hubspot").enabled);
    CHECK(store->GetSyncState("hubspot").reason.empty());
  }

  TEST_CASE("accept writes the mirror row and a ready job") {
    PgRig rig;
    auto& store = rig.store;
    Lead lead = MakeLead("lead-1", "Asha Rao", LeadStatus::kNew);
    AcceptResult r;
    AcceptOne(*store, LeadEvent("evt-1", lead, EventType::kLeadCreated), kT0, &r);
    CHECK(r.event_id == "evt-1");
    CHECK(r.job_id > 0);
    CHECK_FALSE(r.duplicate);
    CHECK_FALSE(r.coalesced);

    std::optional<std::string> mirror = store->GetMirror(EntityKind::kLead, "lead-1");
    REQUIRE(mirror.has_value());
    CHECK(*mirror == EncodeLead(lead));
    CHECK_FALSE(store->GetMirror(EntityKind::kProperty, "lead-1").has_value());
    CHECK_FALSE(store->GetMirror(EntityKind::kLead, "lead-2").has_value());

    QueueStats s = store->Stats();
    CHECK(s.ready == 1);
    CHECK(s.events_total == 1);
    CHECK(s.ready_by_priority[0] == 1);

    LeasedJob job = LeaseOnly(*store, kT0 + 5);
    CHECK(job.id == r.job_id);
    CHECK(job.event_id == "evt-1");
    CHECK(job.type == EventType::kLeadCreated);
    CHECK(job.kind == EntityKind::kLead);
    CHECK(job.entity_id == "lead-1");
    CHECK(job.priority == Priority::kHigh);
    CHECK(job.attempts == 0);
    CHECK(job.plan.empty());
    CHECK(job.step == 0);
    CHECK_FALSE(job.external_id.has_value());
    CHECK_FALSE(job.in_doubt);
    CHECK(job.created_at_ms == kT0);
    CHECK(EncodeLead(PayloadLead(job.payload)) == EncodeLead(lead));
    CHECK(PayloadMember(job.payload, "inquiry").empty());
  }

  TEST_CASE("a property event writes the property mirror and a property job") {
    PgRig rig;
    auto& store = rig.store;
    IncomingEvent e = PropertyEvent("p-evt", "prop-1", "Sea view 3BHK");
    AcceptOne(*store, e, kT0);
    CHECK(store->GetMirror(EntityKind::kProperty, "prop-1") ==
          std::optional<std::string>(e.entity_json));
    CHECK_FALSE(store->GetMirror(EntityKind::kLead, "prop-1").has_value());
    CHECK(store->Stats().ready_by_priority[2] == 1);
    LeasedJob job = LeaseOnly(*store, kT0);
    CHECK(job.kind == EntityKind::kProperty);
    CHECK(job.type == EventType::kPropertyUpdated);
    CHECK(job.priority == Priority::kLow);
    Property p;
    std::vector<FieldError> errors;
    REQUIRE(DecodeProperty(PayloadMember(job.payload, "property"), "$", &p, &errors));
    CHECK(EncodeProperty(p) == e.entity_json);
    CHECK(store->JobsForEntity(EntityKind::kProperty, "prop-1", 10).size() == 1u);
    CHECK(Jobs(*store, "prop-1").empty());
  }

  TEST_CASE("accepting the same event id again is a duplicate that writes nothing") {
    PgRig rig;
    auto& store = rig.store;
    AcceptResult first;
    AcceptOne(*store, LeadEvent("evt-1", "lead-1", "Asha"), kT0, &first);
    QueueStats before = store->Stats();

    // Same id, different content: the original stands.
    AcceptResult again;
    AcceptOne(*store, LeadEvent("evt-1", "lead-1", "Somebody Else"), kT0 + 10, &again);
    CHECK(again.duplicate);
    CHECK_FALSE(again.coalesced);
    CHECK(again.event_id == "evt-1");
    CHECK(again.job_id == first.job_id);
    QueueStats after = store->Stats();
    CHECK(after.events_total == before.events_total);
    CHECK(after.ready == before.ready);
    CHECK(after.queued == 0);
    CHECK(after.coalesced_total == 0);
    CHECK(MirrorLead(*store, "lead-1").name == std::optional<std::string>("Asha"));
    REQUIRE(Jobs(*store, "lead-1").size() == 1u);
    CHECK(PayloadLead(LeaseOnly(*store, kT0 + 20).payload).name ==
          std::optional<std::string>("Asha"));
  }

  TEST_CASE("a duplicate after the job finished still answers the original job") {
    PgRig rig;
    auto& store = rig.store;
    int64_t job_id = AcceptOne(*store, LeadEvent("evt-1", "lead-1", "Asha"), kT0);
    LeasedJob job = LeaseOnly(*store, kT0 + 1);
    Complete(*store, Done(job), kT0 + 2);
    AcceptResult again;
    AcceptOne(*store, LeadEvent("evt-1", "lead-1", "Asha"), kT0 + 3, &again);
    CHECK(again.duplicate);
    CHECK(again.job_id == job_id);
    CHECK(LeaseAll(*store, kT0 + 4).empty());
    CHECK(store->Stats().done == 1);
    CHECK(Jobs(*store, "lead-1").size() == 1u);
  }

  TEST_CASE("several events in one call get one job each") {
    PgRig rig;
    auto& store = rig.store;
    std::vector<IncomingEvent> events = {
        LeadEvent("e1", "lead-1", "A"),
        PropertyEvent("e2", "prop-1", "T1"),
        LeadEvent("e3", "lead-2", "B", false),
        LeadEvent("e4", "lead-2", "B2", false),  // behind e3: queued
        LeadEvent("e1", "lead-1", "A again"),    // duplicate inside the same call
    };
    std::vector<AcceptResult> r = store->Accept(events, kT0);
    REQUIRE(r.size() == 5u);
    for (size_t i = 0; i < r.size(); ++i) CHECK(r[i].event_id == events[i].event_id);
    std::set<int64_t> ids = {r[0].job_id, r[1].job_id, r[2].job_id, r[3].job_id};
    CHECK(ids.size() == 4u);
    CHECK(r[4].duplicate);
    CHECK(r[4].job_id == r[0].job_id);
    QueueStats s = store->Stats();
    CHECK(s.events_total == 4);
    CHECK(s.ready == 3);
    CHECK(s.queued == 1);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-2", r[3].job_id) == "queued");
    CHECK(MirrorLead(*store, "lead-2").name == std::optional<std::string>("B2"));
    CHECK(MirrorLead(*store, "lead-1").name == std::optional<std::string>("A"));
  }

  TEST_CASE("dealer assigned merges assignedToId into the existing lead mirror") {
    PgRig rig;
    auto& store = rig.store;
    Lead lead = MakeLead("lead-1", "Asha", LeadStatus::kQualified);
    lead.phone = "+91 98765 43210";
    lead.assigned_to_id = "dealer-old";
    AcceptOne(*store, LeadEvent("e1", lead, EventType::kLeadCreated), kT0);
    int64_t job_id = AcceptOne(*store, AssignEvent("e2", "lead-1", "dealer-42"), kT0 + 1);

    Lead merged = MirrorLead(*store, "lead-1");
    CHECK(merged.assigned_to_id == std::optional<std::string>("dealer-42"));
    CHECK(merged.name == lead.name);
    CHECK(merged.phone == lead.phone);
    CHECK(merged.email == lead.email);
    CHECK(merged.status == lead.status);
    CHECK(merged.preferred_location == lead.preferred_location);

    // The assignment's job runs after the create, and carries the merged lead.
    Complete(*store, Done(LeaseOnly(*store, kT0 + 2)), kT0 + 3);
    LeasedJob job = LeaseOnly(*store, kT0 + 4);
    CHECK(job.id == job_id);
    CHECK(job.type == EventType::kDealerAssigned);
    CHECK(job.priority == Priority::kMedium);
    Lead in_payload = PayloadLead(job.payload);
    CHECK(in_payload.assigned_to_id == std::optional<std::string>("dealer-42"));
    CHECK(in_payload.name == lead.name);
    std::string assignment_json = PayloadMember(job.payload, "assignment");
    DealerAssignment assignment;
    std::vector<FieldError> errors;
    REQUIRE(DecodeDealerAssignment(assignment_json, "$", &assignment, &errors));
    CHECK(assignment.dealer_id == "dealer-42");
    CHECK(assignment.lead_id == "lead-1");
  }

  TEST_CASE("dealer assigned without a lead mirror creates a minimal lead") {
    PgRig rig;
    auto& store = rig.store;
    AcceptOne(*store, AssignEvent("e1", "lead-7", "dealer-1"), kT0);
    Lead minimal = MirrorLead(*store, "lead-7");
    CHECK(minimal.id == "lead-7");
    CHECK(minimal.assigned_to_id == std::optional<std::string>("dealer-1"));
    CHECK_FALSE(minimal.name.has_value());
    CHECK_FALSE(minimal.status.has_value());
    LeasedJob job = LeaseOnly(*store, kT0);
    CHECK(PayloadLead(job.payload).assigned_to_id == std::optional<std::string>("dealer-1"));
    CHECK_FALSE(PayloadMember(job.payload, "assignment").empty());
  }

  TEST_CASE("inquiry submitted writes the lead mirror and carries the inquiry in the payload") {
    PgRig rig;
    auto& store = rig.store;
    Lead lead = MakeLead("lead-3", "Ravi", LeadStatus::kNew);
    IncomingEvent e = InquiryEvent("e1", "inq-1", lead);
    AcceptOne(*store, e, kT0);
    CHECK(store->GetMirror(EntityKind::kLead, "lead-3") ==
          std::optional<std::string>(EncodeLead(lead)));
    LeasedJob job = LeaseOnly(*store, kT0);
    CHECK(job.type == EventType::kInquirySubmitted);
    CHECK(job.priority == Priority::kHigh);
    CHECK(EncodeLead(PayloadLead(job.payload)) == EncodeLead(lead));
    std::string inquiry_json = PayloadMember(job.payload, "inquiry");
    Inquiry inquiry;
    std::vector<FieldError> errors;
    REQUIRE(DecodeInquiry(inquiry_json, "$", &inquiry, &errors));
    CHECK(inquiry.id == "inq-1");
    CHECK(inquiry.lead_id == "lead-3");
    CHECK(inquiry.message == std::optional<std::string>("Is it still available?"));
    CHECK(inquiry.lead.name == std::optional<std::string>("Ravi"));
  }

  TEST_CASE("a second job of an entity waits queued until the first is done") {
    PgRig rig;
    auto& store = rig.store;
    int64_t first = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1", false), kT0);
    int64_t second = AcceptOne(*store, LeadEvent("e2", "lead-1", "v2", false), kT0 + 1);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", first) == "ready");
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", second) == "queued");

    LeasedJob job = LeaseOnly(*store, kT0 + 2);
    CHECK(job.id == first);
    CHECK(LeaseAll(*store, kT0 + 3).empty());  // the second waits behind the lease
    // A retry keeps the entity's head: the second still waits.
    Complete(*store, Retry(job, kT0 + 1000, kT0 + 4), kT0 + 4);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", second) == "queued");
    CHECK(store->Promote(kT0 + 1000) == 1);
    job = LeaseOnly(*store, kT0 + 1001);
    CHECK(job.id == first);
    Complete(*store, Done(job), kT0 + 1002);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", first) == "done");
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", second) == "ready");
    LeasedJob next = LeaseOnly(*store, kT0 + 1003);
    CHECK(next.id == second);
    CHECK(PayloadLead(next.payload).name == std::optional<std::string>("v2"));
  }

  TEST_CASE("a dead-lettered head makes the next job of its entity ready") {
    PgRig rig;
    auto& store = rig.store;
    int64_t first = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1", false), kT0);
    int64_t second = AcceptOne(*store, LeadEvent("e2", "lead-1", "v2", false), kT0 + 1);
    int64_t third = AcceptOne(*store, LeadEvent("e3", "lead-1", "v3", false), kT0 + 2);
    LeasedJob job = DeadLetterOnly(*store, kT0 + 3);
    CHECK(job.id == first);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", first) == "dead");
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", second) == "ready");
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", third) == "queued");
    CHECK(LeaseOnly(*store, kT0 + 4).id == second);
  }

  TEST_CASE("lease never hands out two jobs of one entity and keeps each entity in order") {
    PgRig rig;
    auto& store = rig.store;
    // 5 leads x 6 events, interleaved, none coalescable; lease everything each round.
    std::vector<IncomingEvent> events;
    for (int n = 0; n < 6; ++n) {
      for (int l = 0; l < 5; ++l) {
        std::string lead = "lead-" + std::to_string(l);
        events.push_back(
            LeadEvent(lead + "-e" + std::to_string(n), lead, "v" + std::to_string(n), false));
      }
    }
    store->Accept(events, kT0);
    std::map<std::string, std::vector<std::string>> seen;
    int64_t now = kT0 + 1;
    for (int round = 0; round < 100; ++round) {
      std::vector<LeasedJob> jobs = LeaseAll(*store, now++);
      if (jobs.empty()) break;
      std::set<std::string> entities;
      for (const LeasedJob& j : jobs) {
        CHECK(entities.insert(j.entity_id).second);
        seen[j.entity_id].push_back(j.event_id);
      }
      CHECK(LeaseAll(*store, now++).empty());  // every head is leased
      CHECK(store->Stats().leased == static_cast<int64_t>(jobs.size()));
      std::vector<JobOutcome> outcomes;
      for (const LeasedJob& j : jobs) outcomes.push_back(Done(j));
      store->Complete(kPlugin, outcomes, now++);
    }
    REQUIRE(seen.size() == 5u);
    for (const auto& [lead, order] : seen) {
      REQUIRE(order.size() == 6u);
      for (int n = 0; n < 6; ++n) CHECK(order[n] == lead + "-e" + std::to_string(n));
    }
    QueueStats s = store->Stats();
    CHECK(s.done == 30);
    CHECK(s.ready + s.queued + s.leased + s.delayed == 0);
  }

  TEST_CASE("lease orders by priority, first in first out within a priority") {
    PgRig rig;
    auto& store = rig.store;
    auto with = [](IncomingEvent e, Priority p) {
      e.priority = p;
      return e;
    };
    int64_t low1 = AcceptOne(*store, with(PropertyEvent("l1", "prop-1", "t"), Priority::kLow), kT0);
    int64_t med1 =
        AcceptOne(*store, with(LeadEvent("m1", "lead-1", "a"), Priority::kMedium), kT0 + 1);
    int64_t high1 =
        AcceptOne(*store, with(LeadEvent("h1", "lead-2", "b"), Priority::kHigh), kT0 + 2);
    int64_t low2 =
        AcceptOne(*store, with(PropertyEvent("l2", "prop-2", "t"), Priority::kLow), kT0 + 3);
    int64_t high2 =
        AcceptOne(*store, with(LeadEvent("h2", "lead-3", "c"), Priority::kHigh), kT0 + 4);
    int64_t med2 =
        AcceptOne(*store, with(LeadEvent("m2", "lead-4", "d"), Priority::kMedium), kT0 + 5);
    QueueStats s = store->Stats();
    CHECK(s.ready_by_priority[0] == 2);
    CHECK(s.ready_by_priority[1] == 2);
    CHECK(s.ready_by_priority[2] == 2);

    std::vector<LeasedJob> two = store->Lease(kPlugin, 2, kT0 + 10, kLeaseMs);
    REQUIRE(two.size() == 2u);
    CHECK(two[0].id == high1);
    CHECK(two[1].id == high2);
    std::vector<LeasedJob> rest = LeaseAll(*store, kT0 + 11);
    REQUIRE(rest.size() == 4u);
    CHECK(rest[0].id == med1);
    CHECK(rest[1].id == med2);
    CHECK(rest[2].id == low1);
    CHECK(rest[3].id == low2);
    CHECK(store->Lease(kPlugin, 0, kT0 + 12, kLeaseMs).empty());
  }

  TEST_CASE("a coalescable update is absorbed by the pending untried job") {
    PgRig rig;
    auto& store = rig.store;
    IncomingEvent first = LeadEvent("e1", "lead-1", "v1");
    first.priority = Priority::kLow;
    int64_t job_id = AcceptOne(*store, first, kT0);
    AcceptResult r2, r3;
    AcceptOne(*store, LeadEvent("e2", "lead-1", "v2"), kT0 + 1, &r2);  // high priority
    AcceptOne(*store, LeadEvent("e3", "lead-1", "v3"), kT0 + 2, &r3);
    CHECK(r2.coalesced);
    CHECK_FALSE(r2.duplicate);
    CHECK(r2.job_id == job_id);
    CHECK(r3.coalesced);
    CHECK(r3.job_id == job_id);

    QueueStats s = store->Stats();
    CHECK(s.coalesced_total == 2);
    CHECK(s.events_total == 3);
    CHECK(s.ready == 1);
    CHECK(s.queued == 0);
    std::vector<JobInfo> jobs = Jobs(*store, "lead-1");
    REQUIRE(jobs.size() == 1u);
    CHECK(jobs[0].coalesced == 2);
    CHECK(jobs[0].event_id == "e3");
    CHECK(jobs[0].created_ms == kT0);

    // Each absorbed id is remembered: repeating it is a duplicate of the same job.
    AcceptResult dup;
    AcceptOne(*store, LeadEvent("e2", "lead-1", "v2"), kT0 + 3, &dup);
    CHECK(dup.duplicate);
    CHECK(dup.job_id == job_id);

    LeasedJob job = LeaseOnly(*store, kT0 + 4);
    CHECK(job.id == job_id);
    CHECK(job.event_id == "e3");
    CHECK(job.priority == Priority::kHigh);  // the most urgent of the absorbed events
    CHECK(PayloadLead(job.payload).name == std::optional<std::string>("v3"));
  }

  TEST_CASE("two coalescable events of one entity in one call make one job") {
    PgRig rig;
    auto& store = rig.store;
    std::vector<AcceptResult> r =
        store->Accept({LeadEvent("e1", "lead-1", "v1"), LeadEvent("e2", "lead-1", "v2"),
                       LeadEvent("e3", "lead-2", "other")},
                      kT0);
    REQUIRE(r.size() == 3u);
    CHECK_FALSE(r[0].coalesced);
    CHECK(r[1].coalesced);
    CHECK(r[1].job_id == r[0].job_id);
    CHECK(r[2].job_id != r[0].job_id);
    CHECK(store->Stats().coalesced_total == 1);
    std::vector<LeasedJob> jobs = LeaseAll(*store, kT0 + 1);
    REQUIRE(jobs.size() == 2u);
    CHECK(PayloadLead(jobs[0].payload).name == std::optional<std::string>("v2"));
  }

  TEST_CASE("coalescing absorbs into a queued job behind a leased one") {
    PgRig rig;
    auto& store = rig.store;
    int64_t head = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    LeasedJob leased = LeaseOnly(*store, kT0 + 1);
    CHECK(leased.id == head);
    AcceptResult r2, r3;
    AcceptOne(*store, LeadEvent("e2", "lead-1", "v2"), kT0 + 2, &r2);
    AcceptOne(*store, LeadEvent("e3", "lead-1", "v3"), kT0 + 3, &r3);
    CHECK_FALSE(r2.coalesced);  // the head is leased
    CHECK(r2.job_id != head);
    CHECK(r3.coalesced);
    CHECK(r3.job_id == r2.job_id);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", r2.job_id) == "queued");
    Complete(*store, Done(leased), kT0 + 4);
    LeasedJob next = LeaseOnly(*store, kT0 + 5);
    CHECK(next.id == r2.job_id);
    CHECK(PayloadLead(next.payload).name == std::optional<std::string>("v3"));
  }

  TEST_CASE("no coalescing into a leased job") {
    PgRig rig;
    auto& store = rig.store;
    int64_t head = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    LeaseOnly(*store, kT0 + 1);
    AcceptResult r;
    AcceptOne(*store, LeadEvent("e2", "lead-1", "v2"), kT0 + 2, &r);
    CHECK_FALSE(r.coalesced);
    CHECK(r.job_id != head);
    CHECK(store->Stats().coalesced_total == 0);
    CHECK(store->Stats().queued == 1);
  }

  TEST_CASE("no coalescing into a delayed job") {
    PgRig rig;
    auto& store = rig.store;
    int64_t head = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    LeasedJob job = LeaseOnly(*store, kT0 + 1);
    // A release (not an attempt) to a later time: delayed, attempts still 0.
    JobOutcome release = Outcome(job, JobOutcome::Kind::kRelease);
    release.available_at_ms = kT0 + 60'000;
    Complete(*store, release, kT0 + 2);
    REQUIRE(StateOf(*store, EntityKind::kLead, "lead-1", head) == "delayed");
    AcceptResult r;
    AcceptOne(*store, LeadEvent("e2", "lead-1", "v2"), kT0 + 3, &r);
    CHECK_FALSE(r.coalesced);
    CHECK(r.job_id != head);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", r.job_id) == "queued");
  }

  TEST_CASE("no coalescing into a job that was tried") {
    PgRig rig;
    auto& store = rig.store;
    SUBCASE("it has attempts") {
      int64_t head = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
      LeasedJob job = LeaseOnly(*store, kT0 + 1);
      Complete(*store, Retry(job, kT0 + 1, kT0 + 1), kT0 + 1);  // due at once: ready, attempts 1
      REQUIRE(StateOf(*store, EntityKind::kLead, "lead-1", head) == "ready");
      AcceptResult r;
      AcceptOne(*store, LeadEvent("e2", "lead-1", "v2"), kT0 + 2, &r);
      CHECK_FALSE(r.coalesced);
      CHECK(r.job_id != head);
    }
    SUBCASE("it has a plan") {
      int64_t head = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
      LeasedJob job = LeaseOnly(*store, kT0 + 1);
      JobOutcome release = Outcome(job, JobOutcome::Kind::kRelease);
      release.plan = "create,activity";
      release.available_at_ms = kT0;
      Complete(*store, release, kT0 + 1);
      REQUIRE(StateOf(*store, EntityKind::kLead, "lead-1", head) == "ready");
      AcceptResult r;
      AcceptOne(*store, LeadEvent("e2", "lead-1", "v2"), kT0 + 2, &r);
      CHECK_FALSE(r.coalesced);
      CHECK(r.job_id != head);
    }
    SUBCASE("it made progress") {
      int64_t head = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
      LeasedJob job = LeaseOnly(*store, kT0 + 1);
      JobOutcome release = Outcome(job, JobOutcome::Kind::kRelease);
      release.plan = "update,activity";
      release.step = 1;
      release.available_at_ms = kT0;
      Complete(*store, release, kT0 + 1);
      AcceptResult r;
      AcceptOne(*store, LeadEvent("e2", "lead-1", "v2"), kT0 + 2, &r);
      CHECK_FALSE(r.coalesced);
      CHECK(r.job_id != head);
      LeasedJob again = LeaseOnly(*store, kT0 + 3);
      CHECK(again.id == head);
      CHECK(again.plan == "update,activity");
      CHECK(again.step == 1);
      CHECK(PayloadLead(again.payload).name == std::optional<std::string>("v1"));
    }
    CHECK(store->Stats().coalesced_total == 0);
  }

  TEST_CASE("no coalescing when either side is not coalescable") {
    PgRig rig;
    auto& store = rig.store;
    SUBCASE("the pending job is not coalescable") {
      int64_t head = AcceptOne(*store, InquiryEvent("e1", "inq-1", MakeLead("lead-1", "v1")), kT0);
      AcceptResult r;
      AcceptOne(*store, LeadEvent("e2", "lead-1", "v2"), kT0 + 1, &r);
      CHECK_FALSE(r.coalesced);
      CHECK(r.job_id != head);
    }
    SUBCASE("the new event is not coalescable") {
      int64_t head = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
      AcceptResult r;
      AcceptOne(*store, AssignEvent("e2", "lead-1", "dealer-1"), kT0 + 1, &r);
      CHECK_FALSE(r.coalesced);
      CHECK(r.job_id != head);
      // The untried head keeps its own payload.
      CHECK(PayloadLead(LeaseOnly(*store, kT0 + 2).payload).name ==
            std::optional<std::string>("v1"));
    }
    CHECK(store->Stats().coalesced_total == 0);
    CHECK(store->Stats().queued == 1);
  }

  TEST_CASE("no coalescing past a newer job that is not coalescable") {
    PgRig rig;
    auto& store = rig.store;
    int64_t head = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    LeaseOnly(*store, kT0 + 1);
    int64_t older =
        AcceptOne(*store, LeadEvent("e2", "lead-1", "v2"), kT0 + 2);  // queued, coalescable
    int64_t barrier = AcceptOne(*store, AssignEvent("e3", "lead-1", "dealer-9"), kT0 + 3);
    AcceptResult r;
    AcceptOne(*store, LeadEvent("e4", "lead-1", "v4"), kT0 + 4, &r);
    CHECK_FALSE(r.coalesced);
    std::set<int64_t> ids = {head, older, barrier, r.job_id};
    CHECK(ids.size() == 4u);
    std::vector<JobInfo> jobs = Jobs(*store, "lead-1");
    REQUIRE(jobs.size() == 4u);
    CHECK(jobs[0].id == r.job_id);
    CHECK(jobs[0].state == "queued");
    for (const JobInfo& j : jobs) CHECK(j.coalesced == 0);
  }

  TEST_CASE("lease returns the link of the leasing plugin") {
    PgRig rig;
    auto& store = rig.store;
    AcceptOne(*store, LeadEvent("e1", "lead-1", "v1", false), kT0);
    AcceptOne(*store, LeadEvent("e2", "lead-1", "v2", false), kT0 + 1);
    AcceptOne(*store, LeadEvent("e3", "lead-1", "v3", false), kT0 + 2);
    LeasedJob job = LeaseOnly(*store, kT0 + 3);
    CHECK_FALSE(job.external_id.has_value());
    CHECK(job.last_sent_hash.empty());
    JobOutcome done = Done(job);
    done.update_link = true;
    done.external_id = "crm-123";
    done.sent_hash = "hash-1";
    Complete(*store, done, kT0 + 4);

    // Another plugin sees no link.
    std::vector<LeasedJob> other = store->Lease("salesforce", 10, kT0 + 5, kLeaseMs);
    REQUIRE(other.size() == 1u);
    CHECK_FALSE(other[0].external_id.has_value());
    CHECK(other[0].last_sent_hash.empty());
    JobOutcome clear = Done(other[0]);
    store->Complete("salesforce", {clear}, kT0 + 6);

    LeasedJob next = LeaseOnly(*store, kT0 + 7);
    CHECK(next.external_id == std::optional<std::string>("crm-123"));
    CHECK(next.last_sent_hash == "hash-1");

    // Clearing the link (404 on update): external id gone, hash kept as given.
    JobOutcome dropped = Outcome(next, JobOutcome::Kind::kRetry);
    dropped.update_link = true;
    dropped.external_id = std::nullopt;
    dropped.sent_hash = "";
    dropped.available_at_ms = kT0 + 8;
    Complete(*store, dropped, kT0 + 8);
    LeasedJob after = LeaseOnly(*store, kT0 + 9);
    CHECK(after.id == next.id);
    CHECK_FALSE(after.external_id.has_value());
  }

  TEST_CASE("an expired lease comes back in doubt through promote") {
    PgRig rig;
    auto& store = rig.store;
    int64_t job_id = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    LeasedJob first = LeaseOnly(*store, kT0);
    CHECK(store->NextDueMs() == kT0 + kLeaseMs);
    CHECK(store->Promote(kT0 + kLeaseMs - 1) == 0);
    CHECK(store->Stats().leased == 1);
    CHECK(LeaseAll(*store, kT0 + kLeaseMs - 1).empty());
    CHECK(store->Promote(kT0 + kLeaseMs) == 1);
    CHECK(store->Stats().ready == 1);
    CHECK(store->NextDueMs() == -1);

    LeasedJob second = LeaseOnly(*store, kT0 + kLeaseMs + 1);
    CHECK(second.id == job_id);
    CHECK(second.in_doubt);
    CHECK(second.lease_token != first.lease_token);
    CHECK(second.attempts == 0);

    // The old worker's late answer is ignored; the current one counts.
    Complete(*store, Done(first), kT0 + kLeaseMs + 2);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", job_id) == "leased");
    Complete(*store, Done(second), kT0 + kLeaseMs + 3);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", job_id) == "done");
  }

  TEST_CASE("concurrent leases never hand out a job twice or two jobs of one entity") {
    PgRig rig;
    auto& store = rig.store;
    std::vector<IncomingEvent> events;
    for (int l = 0; l < 20; ++l) {
      for (int n = 0; n < 3; ++n) {
        std::string lead = "lead-" + std::to_string(l);
        events.push_back(LeadEvent(lead + "-" + std::to_string(n), lead, "v", false));
      }
    }
    store->Accept(events, kT0);
    const int kThreads = 4;
    std::vector<std::vector<LeasedJob>> got(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 5; ++i) {
          for (LeasedJob& j : store->Lease(kPlugin, 3, kT0 + 1, kLeaseMs)) got[t].push_back(j);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    std::set<int64_t> ids;
    std::set<std::string> entities;
    size_t total = 0;
    for (const auto& list : got) {
      for (const LeasedJob& j : list) {
        ++total;
        CHECK(ids.insert(j.id).second);
        CHECK(entities.insert(j.entity_id).second);
      }
    }
    CHECK(total == 20u);  // one head per lead
    CHECK(store->Stats().leased == 20);
    CHECK(store->Stats().queued == 40);
  }

  TEST_CASE("a completion with a stale lease token is ignored") {
    PgRig rig;
    auto& store = rig.store;
    int64_t job_id = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    LeasedJob job = LeaseOnly(*store, kT0);
    for (JobOutcome::Kind kind : {JobOutcome::Kind::kDone, JobOutcome::Kind::kDeadLetter,
                                  JobOutcome::Kind::kRetry, JobOutcome::Kind::kRelease}) {
      JobOutcome o = Dead(job, "PERMANENT", "nope", kT0 + 1);
      o.kind = kind;
      o.lease_token = job.lease_token + 1000;
      o.update_link = true;
      o.external_id = "crm-stale";
      Complete(*store, o, kT0 + 1);
    }
    JobOutcome wrong_job = Done(job);
    wrong_job.job_id = job_id + 99;
    Complete(*store, wrong_job, kT0 + 1);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", job_id) == "leased");
    QueueStats s = store->Stats();
    CHECK(s.dead == 0);
    CHECK(s.leased == 1);
    CHECK(store->ListDeadLetters({}).empty());
    Complete(*store, Done(job), kT0 + 2);
    // The stale outcomes wrote no link either.
    AcceptOne(*store, LeadEvent("e2", "lead-1", "v2"), kT0 + 3);
    CHECK_FALSE(LeaseOnly(*store, kT0 + 4).external_id.has_value());
  }

  TEST_CASE("a retry at a later time delays the job until promote") {
    PgRig rig;
    auto& store = rig.store;
    int64_t job_id = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    LeasedJob job = LeaseOnly(*store, kT0);
    JobOutcome retry = Retry(job, kT0 + 2000, kT0 + 10);
    retry.plan = "update,activity";
    retry.step = 1;
    Complete(*store, retry, kT0 + 10);
    std::vector<JobInfo> jobs = Jobs(*store, "lead-1");
    REQUIRE(jobs.size() == 1u);
    CHECK(jobs[0].state == "delayed");
    CHECK(jobs[0].attempts == 1);
    CHECK(jobs[0].available_at_ms == kT0 + 2000);
    CHECK(jobs[0].last_error == "HTTP 503");
    CHECK(jobs[0].plan == "update,activity");
    CHECK(jobs[0].step == 1);
    CHECK(store->Stats().delayed == 1);
    CHECK(store->NextDueMs() == kT0 + 2000);

    CHECK(LeaseAll(*store, kT0 + 1999).empty());
    CHECK(store->Promote(kT0 + 1999) == 0);
    CHECK(LeaseAll(*store, kT0 + 1999).empty());
    CHECK(store->Promote(kT0 + 2000) == 1);
    LeasedJob again = LeaseOnly(*store, kT0 + 2000);
    CHECK(again.id == job_id);
    CHECK(again.attempts == 1);
    CHECK(again.plan == "update,activity");
    CHECK(again.step == 1);
    CHECK_FALSE(again.in_doubt);
    Complete(*store, Done(again), kT0 + 2001);
    CHECK(Jobs(*store, "lead-1")[0].last_error.empty());
  }

  TEST_CASE("next due time is the earliest delayed time or lease expiry") {
    PgRig rig;
    auto& store = rig.store;
    CHECK(store->NextDueMs() == -1);
    store->Accept({LeadEvent("e1", "lead-1", "a"), LeadEvent("e2", "lead-2", "b"),
                   LeadEvent("e3", "lead-3", "c")},
                  kT0);
    CHECK(store->NextDueMs() == -1);  // ready jobs are not "due" later
    std::vector<LeasedJob> jobs = store->Lease(kPlugin, 3, kT0, 10'000);
    REQUIRE(jobs.size() == 3u);
    CHECK(store->NextDueMs() == kT0 + 10'000);
    Complete(*store, Retry(jobs[0], kT0 + 7'000, kT0 + 1), kT0 + 1);
    CHECK(store->NextDueMs() == kT0 + 7'000);
    Complete(*store, Retry(jobs[1], kT0 + 4'000, kT0 + 2), kT0 + 2);
    CHECK(store->NextDueMs() == kT0 + 4'000);
    CHECK(store->Promote(kT0 + 4'000) == 1);
    CHECK(store->NextDueMs() == kT0 + 7'000);
    CHECK(store->Promote(kT0 + 10'000) == 2);  // one delayed, one expired lease
    CHECK(store->NextDueMs() == -1);
  }

  TEST_CASE("a release that is due makes the job ready without counting an attempt") {
    PgRig rig;
    auto& store = rig.store;
    int64_t job_id = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    LeasedJob job = LeaseOnly(*store, kT0);
    JobOutcome release = Outcome(job, JobOutcome::Kind::kRelease);
    release.available_at_ms = kT0 + 5;
    release.reason = "circuit open";
    Complete(*store, release, kT0 + 5);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", job_id) == "ready");
    CHECK(store->NextDueMs() == -1);
    LeasedJob again = LeaseOnly(*store, kT0 + 5);
    CHECK(again.id == job_id);
    CHECK(again.attempts == 0);
    CHECK(store->ListDeadLetters({}).empty());
  }

  TEST_CASE("a release to a later time delays the job without counting an attempt") {
    PgRig rig;
    auto& store = rig.store;
    int64_t job_id = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    LeasedJob job = LeaseOnly(*store, kT0);
    JobOutcome release = Outcome(job, JobOutcome::Kind::kRelease);
    release.available_at_ms = kT0 + 30'000;  // 429 Retry-After: 30
    Complete(*store, release, kT0 + 1);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", job_id) == "delayed");
    CHECK(store->NextDueMs() == kT0 + 30'000);
    CHECK(store->Promote(kT0 + 30'000) == 1);
    CHECK(LeaseOnly(*store, kT0 + 30'000).attempts == 0);
  }

  TEST_CASE("the in-doubt mark follows what the outcome records") {
    // An expired lease may have reached the CRM: the job comes back in doubt.
    // From then on the worker says in each outcome whether the doubt remains
    // (a release tried nothing; a timeout after a create adds doubt).
    PgRig rig;
    auto& store = rig.store;
    int64_t job_id = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    LeaseOnly(*store, kT0);
    REQUIRE(store->Promote(kT0 + kLeaseMs) == 1);
    int64_t now = kT0 + kLeaseMs;

    LeasedJob job = LeaseOnly(*store, now);
    REQUIRE(job.in_doubt);
    JobOutcome release = Outcome(job, JobOutcome::Kind::kRelease);  // circuit open
    release.available_at_ms = now;
    REQUIRE(release.in_doubt);
    Complete(*store, release, now);
    job = LeaseOnly(*store, ++now);
    CHECK(job.id == job_id);
    CHECK(job.in_doubt);

    JobOutcome linked = Retry(job, now, now);  // the lookup found it; a later step failed
    linked.in_doubt = false;
    linked.update_link = true;
    linked.external_id = "crm-7";
    Complete(*store, linked, now);
    job = LeaseOnly(*store, ++now);
    CHECK_FALSE(job.in_doubt);
    CHECK(job.external_id == std::optional<std::string>("crm-7"));

    JobOutcome timed_out = Retry(job, now, now);  // a create timed out after sending
    timed_out.in_doubt = true;
    Complete(*store, timed_out, now);
    job = LeaseOnly(*store, ++now);
    CHECK(job.in_doubt);
    Complete(*store, Done(job), now);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", job_id) == "done");
  }

  TEST_CASE("a dead letter keeps the error, the attempts and every attempt record") {
    PgRig rig;
    auto& store = rig.store;
    int64_t job_id = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    LeasedJob job = LeaseOnly(*store, kT0);
    Complete(*store, Retry(job, kT0 + 1000, kT0 + 1), kT0 + 1);
    store->Promote(kT0 + 1000);
    job = LeaseOnly(*store, kT0 + 1000);
    JobOutcome retry2 = Retry(job, kT0 + 3000, kT0 + 1001);
    retry2.attempts_made = {Attempt(2, kT0 + 1001, "RETRYABLE", 0, "timeout after 10000 ms")};
    Complete(*store, retry2, kT0 + 1001);
    store->Promote(kT0 + 3000);
    job = LeaseOnly(*store, kT0 + 3000);
    CHECK(job.attempts == 2);
    JobOutcome dead = Dead(job, "INVALID_RECORD", "422: email is invalid", kT0 + 3001);
    dead.attempts_made.push_back(Attempt(3, kT0 + 3002, "INVALID_RECORD", 422, "second step"));
    dead.attempts_made.back().step = 1;
    dead.attempts_made.back().step_kind = "activity";
    Complete(*store, dead, kT0 + 3003);

    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", job_id) == "dead");
    CHECK(store->Stats().dead == 1);
    std::vector<DeadLetter> list = store->ListDeadLetters({});
    REQUIRE(list.size() == 1u);
    const DeadLetter& d = list[0];
    CHECK(d.job_id == job_id);
    CHECK(d.plugin == kPlugin);
    CHECK(d.event_id == "e1");
    CHECK(d.event_type == "lead.status_changed");
    CHECK(d.entity_kind == "lead");
    CHECK(d.entity_id == "lead-1");
    CHECK(d.error_class == "INVALID_RECORD");
    CHECK(d.reason == "422: email is invalid");
    CHECK(d.attempts == 3);
    CHECK(d.created_ms == kT0 + 3003);
    CHECK(d.replayed_ms == 0);
    CHECK(d.replay_job_id == 0);
    CHECK(d.history.empty());  // only GetDeadLetter fills it

    std::optional<DeadLetter> full = store->GetDeadLetter(d.id);
    REQUIRE(full.has_value());
    CHECK(full->reason == d.reason);
    REQUIRE(full->history.size() == 4u);
    CHECK(full->history[0].attempt == 1);
    CHECK(full->history[0].http_status == 503);
    CHECK(full->history[0].at_ms == kT0 + 1);
    CHECK(full->history[1].attempt == 2);
    CHECK(full->history[1].http_status == 0);
    CHECK(full->history[1].message == "timeout after 10000 ms");
    CHECK(full->history[2].attempt == 3);
    CHECK(full->history[2].outcome == "INVALID_RECORD");
    CHECK(full->history[2].step_kind == "create");
    CHECK(full->history[3].step == 1);
    CHECK(full->history[3].step_kind == "activity");
    CHECK(full->history[3].message == "second step");
    CHECK_FALSE(store->GetDeadLetter(d.id + 100).has_value());
    CHECK(Jobs(*store, "lead-1")[0].last_error == "422: email is invalid");
  }

  TEST_CASE("dead letters are listed by filter") {
    PgRig rig;
    auto& store = rig.store;
    // Four dead letters: (plugin, class, kind, id, time).
    struct Spec {
      const char* plugin;
      const char* error_class;
      bool property;
      const char* id;
      int64_t at;
    };
    const Spec specs[] = {
        {"hubspot", "INVALID_RECORD", false, "lead-1", kT0 + 100},
        {"hubspot", "RETRYABLE", false, "lead-2", kT0 + 200},
        {"salesforce", "INVALID_RECORD", true, "prop-1", kT0 + 300},
        {"salesforce", "CONFLICT", false, "lead-1", kT0 + 400},
    };
    int n = 0;
    for (const Spec& s : specs) {
      std::string eid = "e" + std::to_string(n++);
      AcceptOne(*store, s.property ? PropertyEvent(eid, s.id, "t") : LeadEvent(eid, s.id, "x"),
                s.at);
      std::vector<LeasedJob> jobs = store->Lease(s.plugin, 1, s.at, kLeaseMs);
      REQUIRE(jobs.size() == 1u);
      store->Complete(s.plugin, {Dead(jobs[0], s.error_class, "why", s.at)}, s.at);
    }
    auto count = [&](const DeadLetterFilter& f) { return store->ListDeadLetters(f).size(); };
    DeadLetterFilter all;
    CHECK(count(all) == 4u);
    std::vector<DeadLetter> listed = store->ListDeadLetters(all);
    for (size_t i = 1; i < listed.size(); ++i) CHECK(listed[i - 1].id < listed[i].id);

    DeadLetterFilter f;
    f.plugin = "salesforce";
    CHECK(count(f) == 2u);
    f = {};
    f.error_class = "INVALID_RECORD";
    CHECK(count(f) == 2u);
    f.plugin = "hubspot";
    CHECK(count(f) == 1u);
    f = {};
    f.entity_kind = "property";
    CHECK(count(f) == 1u);
    f = {};
    f.entity_kind = "lead";
    f.entity_id = "lead-1";
    CHECK(count(f) == 2u);
    f = {};
    f.entity_id = "lead-2";
    CHECK(count(f) == 1u);
    f = {};
    f.since_ms = kT0 + 200;
    CHECK(count(f) == 3u);
    f.until_ms = kT0 + 400;  // exclusive
    CHECK(count(f) == 2u);
    f = {};
    f.until_ms = kT0 + 101;
    CHECK(count(f) == 1u);
    f = {};
    f.id = listed[2].id;
    REQUIRE(count(f) == 1u);
    CHECK(store->ListDeadLetters(f)[0].entity_id == "prop-1");
    f = {};
    f.limit = 3;
    CHECK(count(f) == 3u);
    f = {};
    f.plugin = "zoho";
    CHECK(count(f) == 0u);

    // Replayed ones are listed only when asked for.
    DeadLetterFilter one;
    one.id = listed[0].id;
    REQUIRE(store->ReplayDeadLetters(one, kT0 + 500).size() == 1u);
    CHECK(count(all) == 3u);
    DeadLetterFilter with_replayed;
    with_replayed.include_replayed = true;
    CHECK(count(with_replayed) == 4u);
  }

  TEST_CASE("replay requeues the current mirror state and keeps the history") {
    PgRig rig;
    auto& store = rig.store;
    Lead v1 = MakeLead("lead-1", "v1");
    int64_t dead_job = AcceptOne(*store, InquiryEvent("e1", "inq-1", v1), kT0);
    DeadLetterOnly(*store, kT0 + 1, "INVALID_RECORD", "422: phone is invalid");
    std::vector<DeadLetter> list = store->ListDeadLetters({});
    REQUIRE(list.size() == 1u);
    int64_t dl_id = list[0].id;

    // A newer event updates the mirror; its job goes through.
    Lead v2 = MakeLead("lead-1", "v2 fixed", LeadStatus::kQualified);
    AcceptOne(*store, LeadEvent("e2", v2), kT0 + 2);
    Complete(*store, Done(LeaseOnly(*store, kT0 + 3)), kT0 + 4);

    std::vector<int64_t> replayed = store->ReplayDeadLetters({}, kT0 + 10);
    REQUIRE(replayed.size() == 1u);
    int64_t new_job = replayed[0];
    CHECK(new_job != dead_job);
    CHECK(store->Stats().dead == 0);
    CHECK(store->ListDeadLetters({}).empty());

    std::optional<DeadLetter> d = store->GetDeadLetter(dl_id);
    REQUIRE(d.has_value());
    CHECK(d->replayed_ms == kT0 + 10);
    CHECK(d->replay_job_id == new_job);
    CHECK(d->job_id == dead_job);
    REQUIRE(d->history.size() == 1u);
    CHECK(d->history[0].message == "422: phone is invalid");

    LeasedJob job = LeaseOnly(*store, kT0 + 11);
    CHECK(job.id == new_job);
    CHECK(job.event_id == "e1");
    CHECK(job.type == EventType::kInquirySubmitted);
    CHECK(job.priority == Priority::kHigh);
    CHECK(job.attempts == 0);
    CHECK(job.plan.empty());
    CHECK(job.created_at_ms == kT0 + 10);
    Lead sent = PayloadLead(job.payload);
    CHECK(sent.name == std::optional<std::string>("v2 fixed"));
    CHECK(sent.status == std::optional<LeadStatus>(LeadStatus::kQualified));
    // The event's own extras as they were.
    Inquiry inquiry;
    std::vector<FieldError> errors;
    REQUIRE(DecodeInquiry(PayloadMember(job.payload, "inquiry"), "$", &inquiry, &errors));
    CHECK(inquiry.id == "inq-1");

    // Replaying again does nothing.
    CHECK(store->ReplayDeadLetters({}, kT0 + 12).empty());
    DeadLetterFilter by_id;
    by_id.id = dl_id;
    by_id.include_replayed = true;
    CHECK(store->ReplayDeadLetters(by_id, kT0 + 13).empty());
    CHECK(store->GetDeadLetter(dl_id)->replay_job_id == new_job);
    CHECK(Jobs(*store, "lead-1").size() == 3u);
  }

  TEST_CASE("a replayed job waits behind an active job of its entity") {
    PgRig rig;
    auto& store = rig.store;
    AcceptOne(*store, PropertyEvent("e1", "prop-1", "t1"), kT0);
    DeadLetterOnly(*store, kT0 + 1);
    int64_t active = AcceptOne(*store, PropertyEvent("e2", "prop-1", "t2"), kT0 + 2);
    LeasedJob lease = LeaseOnly(*store, kT0 + 3);
    CHECK(lease.id == active);
    std::vector<int64_t> replayed = store->ReplayDeadLetters({}, kT0 + 4);
    REQUIRE(replayed.size() == 1u);
    CHECK(StateOf(*store, EntityKind::kProperty, "prop-1", replayed[0]) == "queued");
    CHECK(LeaseAll(*store, kT0 + 5).empty());
    Complete(*store, Done(lease), kT0 + 6);
    LeasedJob job = LeaseOnly(*store, kT0 + 7);
    CHECK(job.id == replayed[0]);
    CHECK(job.kind == EntityKind::kProperty);
    Property p;
    std::vector<FieldError> errors;
    REQUIRE(DecodeProperty(PayloadMember(job.payload, "property"), "$", &p, &errors));
    CHECK(p.title == std::optional<std::string>("t2"));
  }

  TEST_CASE("concurrent replays requeue a dead letter once") {
    PgRig rig;
    auto& store = rig.store;
    const int kLetters = 3;
    for (int i = 0; i < kLetters; ++i) {
      AcceptOne(*store, LeadEvent("e" + std::to_string(i), "lead-" + std::to_string(i), "x"), kT0);
    }
    for (const LeasedJob& job : LeaseAll(*store, kT0 + 1)) {
      Complete(*store, Dead(job, "INVALID_RECORD", "r", kT0 + 1), kT0 + 1);
    }
    REQUIRE(store->Stats().dead == kLetters);

    const int kThreads = 8;
    std::atomic<int> waiting{kThreads};
    std::atomic<int64_t> total{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        waiting.fetch_sub(1);
        while (waiting.load() > 0) std::this_thread::yield();
        total += static_cast<int64_t>(store->ReplayDeadLetters({}, kT0 + 10).size());
      });
    }
    for (std::thread& t : threads) t.join();
    CHECK(total.load() == kLetters);
    for (int i = 0; i < kLetters; ++i) {
      CHECK(Jobs(*store, "lead-" + std::to_string(i)).size() == 2u);
    }
    CHECK(store->Stats().ready == kLetters);
  }

  TEST_CASE("purge deletes dead letters by id and by filter") {
    PgRig rig;
    auto& store = rig.store;
    for (int i = 0; i < 4; ++i) {
      AcceptOne(*store, LeadEvent("e" + std::to_string(i), "lead-" + std::to_string(i), "x"),
                kT0 + i);
      LeasedJob job = LeaseOnly(*store, kT0 + i);
      Complete(*store, Dead(job, i < 3 ? "INVALID_RECORD" : "CONFLICT", "r", kT0 + i), kT0 + i);
    }
    std::vector<DeadLetter> list = store->ListDeadLetters({});
    REQUIRE(list.size() == 4u);

    DeadLetterFilter by_id;
    by_id.id = list[1].id;
    CHECK(store->PurgeDeadLetters(by_id) == 1);
    CHECK(store->PurgeDeadLetters(by_id) == 0);
    CHECK_FALSE(store->GetDeadLetter(list[1].id).has_value());
    CHECK(store->Stats().dead == 3);

    DeadLetterFilter by_class;
    by_class.error_class = "INVALID_RECORD";
    CHECK(store->PurgeDeadLetters(by_class) == 2);
    std::vector<DeadLetter> left = store->ListDeadLetters({});
    REQUIRE(left.size() == 1u);
    CHECK(left[0].error_class == "CONFLICT");
    // A replayed dead letter is kept for its history unless asked for.
    REQUIRE(store->ReplayDeadLetters({}, kT0 + 100).size() == 1u);
    CHECK(store->PurgeDeadLetters({}) == 0);
    DeadLetterFilter replayed;
    replayed.include_replayed = true;
    CHECK(store->PurgeDeadLetters(replayed) == 1);
    CHECK(store->ListDeadLetters(replayed).empty());
    CHECK(store->Stats().dead == 0);
    CHECK(store->ReplayDeadLetters({}, kT0 + 101).empty());
  }

  TEST_CASE("jobs for an entity are listed newest first with their states") {
    PgRig rig;
    auto& store = rig.store;
    int64_t j1 = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1", false), kT0);
    int64_t j2 = AcceptOne(*store, LeadEvent("e2", "lead-1", "v2", false), kT0 + 1);
    int64_t j3 = AcceptOne(*store, LeadEvent("e3", "lead-1", "v3", false), kT0 + 2);
    AcceptOne(*store, LeadEvent("e4", "lead-2", "other", false), kT0 + 3);
    std::vector<LeasedJob> first = store->Lease(kPlugin, 1, kT0 + 4, kLeaseMs);
    REQUIRE(first.size() == 1u);
    CHECK(first[0].id == j1);
    Complete(*store, Done(first[0]), kT0 + 5);
    std::vector<LeasedJob> now_leased = LeaseAll(*store, kT0 + 6);
    REQUIRE(now_leased.size() == 2u);

    std::vector<JobInfo> jobs = Jobs(*store, "lead-1");
    REQUIRE(jobs.size() == 3u);
    CHECK(jobs[0].id == j3);
    CHECK(jobs[0].state == "queued");
    CHECK(jobs[0].event_id == "e3");
    CHECK(jobs[0].event_type == "lead.status_changed");
    CHECK(jobs[0].created_ms == kT0 + 2);
    CHECK(jobs[1].id == j2);
    CHECK(jobs[1].state == "leased");
    CHECK(jobs[2].id == j1);
    CHECK(jobs[2].state == "done");
    CHECK(jobs[2].attempts == 1);
    CHECK(jobs[2].updated_ms == kT0 + 5);
    std::vector<JobInfo> newest = store->JobsForEntity(EntityKind::kLead, "lead-1", 2);
    REQUIRE(newest.size() == 2u);
    CHECK(newest[0].id == j3);
    CHECK(newest[1].id == j2);
    CHECK(store->JobsForEntity(EntityKind::kLead, "nobody", 10).empty());
    CHECK(store->JobsForEntity(EntityKind::kProperty, "lead-1", 10).empty());
  }

  TEST_CASE("stats count jobs by state and ready jobs by priority") {
    PgRig rig;
    auto& store = rig.store;
    QueueStats empty = store->Stats();
    CHECK(empty.ready + empty.queued + empty.delayed + empty.leased + empty.done + empty.dead == 0);
    CHECK(empty.oldest_pending_created_ms == 0);
    CHECK(empty.events_total == 0);

    store->Accept({LeadEvent("a1", "lead-a", "x", false),  // high: done
                   LeadEvent("b1", "lead-b", "x", false),  // high: leased
                   LeadEvent("b2", "lead-b", "x", false),  // queued behind b1
                   AssignEvent("c1", "lead-c", "d"),       // medium: delayed
                   PropertyEvent("p1", "prop-1", "t"),     // low: dead
                   PropertyEvent("p2", "prop-2", "t"),     // low: ready
                   AssignEvent("d1", "lead-d", "d")},      // medium: ready
                  kT0);
    std::vector<LeasedJob> jobs = store->Lease(kPlugin, 4, kT0 + 1, kLeaseMs);
    REQUIRE(jobs.size() == 4u);  // a1, b1 (high), c1, d1 (medium)
    std::map<std::string, LeasedJob> by_event;
    for (const LeasedJob& j : jobs) by_event[j.event_id] = j;
    REQUIRE(by_event.count("a1") == 1u);
    REQUIRE(by_event.count("c1") == 1u);
    REQUIRE(by_event.count("d1") == 1u);
    std::vector<JobOutcome> outcomes = {Done(by_event["a1"]),
                                        Retry(by_event["c1"], kT0 + 9000, kT0 + 2)};
    JobOutcome release = Outcome(by_event["d1"], JobOutcome::Kind::kRelease);
    release.available_at_ms = kT0;
    outcomes.push_back(release);
    store->Complete(kPlugin, outcomes, kT0 + 2);
    std::vector<LeasedJob> next = store->Lease(kPlugin, 2, kT0 + 3, kLeaseMs);
    REQUIRE(next.size() == 2u);  // d1 (medium) before the low ones
    REQUIRE(next[0].event_id == "d1");
    REQUIRE(next[1].event_id == "p1");
    Complete(*store, Outcome(next[0], JobOutcome::Kind::kRelease), kT0 + 4);
    Complete(*store, Dead(next[1], "INVALID_RECORD", "r", kT0 + 4), kT0 + 4);

    QueueStats s = store->Stats();
    CHECK(s.done == 1);
    CHECK(s.leased == 1);
    CHECK(s.queued == 1);
    CHECK(s.delayed == 1);
    CHECK(s.dead == 1);
    CHECK(s.ready == 2);
    CHECK(s.ready_by_priority[0] == 0);
    CHECK(s.ready_by_priority[1] == 1);
    CHECK(s.ready_by_priority[2] == 1);
    CHECK(s.events_total == 7);
    CHECK(s.coalesced_total == 0);
    CHECK(s.oldest_pending_created_ms == kT0);
  }

  TEST_CASE("oldest pending time follows the oldest unfinished job") {
    PgRig rig;
    auto& store = rig.store;
    AcceptOne(*store, LeadEvent("e1", "lead-1", "x"), kT0 + 100);
    AcceptOne(*store, LeadEvent("e2", "lead-2", "x"), kT0 + 200);
    AcceptOne(*store, LeadEvent("e3", "lead-3", "x"), kT0 + 300);
    CHECK(store->Stats().oldest_pending_created_ms == kT0 + 100);
    std::vector<LeasedJob> jobs = store->Lease(kPlugin, 2, kT0 + 400, kLeaseMs);
    REQUIRE(jobs.size() == 2u);
    CHECK(store->Stats().oldest_pending_created_ms == kT0 + 100);  // leased is pending
    Complete(*store, Done(jobs[0]), kT0 + 401);
    CHECK(store->Stats().oldest_pending_created_ms == kT0 + 200);
    Complete(*store, Retry(jobs[1], kT0 + 5000, kT0 + 402), kT0 + 402);
    CHECK(store->Stats().oldest_pending_created_ms == kT0 + 200);  // delayed is pending
    Complete(*store, Dead(LeaseOnly(*store, kT0 + 403), "X", "r", kT0 + 403), kT0 + 403);
    CHECK(store->Stats().oldest_pending_created_ms == kT0 + 200);
    store->Promote(kT0 + 5000);
    Complete(*store, Done(LeaseOnly(*store, kT0 + 5000)), kT0 + 5001);
    CHECK(store->Stats().oldest_pending_created_ms == 0);
  }
}  // TEST_SUITE

}  // namespace crmsync::engine
