// scale_out_test.cpp: several crmsync processes share one queue on Redis and
// one state on PostgreSQL (queue.backend=redis, store.backend=postgres), both
// real servers started by the test on loopback, in front of one CRM: the
// reference CRM (tools/reference-crm), reached through generic-rest-crm.
//
// The kill test: 3 engines, 30,000 events (500 leads, each created then sent
// 59 inquiries), posted to the three engines at once; one engine is killed
// with SIGKILL mid-run and its poster fails over to another engine, re-sending
// what was not answered. Afterwards every lead is in the CRM once, every
// inquiry is there as exactly one activity, in the order sent, and each lead's
// writes were applied in order, each once.
//
// "Once" at the CRM: requests carry an Idempotency-Key per event and step
// ("<eventId>-lead" for the lead's create or update, "<eventId>-activity"), as
// a mapping does for a CRM that honours such keys; the reference CRM answers
// a repeated key with its first answer. A request the killed engine had sent
// and its successor re-sends is therefore applied once, and the test counts
// those replays. Nothing here sleeps: every wait is a condition with a
// deadline.
#include <doctest/doctest.h>

#include <signal.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pg_server.h"
#include "redis_server.h"
#include "test_support.h"

namespace t = crmsync::testing;
using Poco::JSON::Object;

namespace {

const char kIntakeToken[] = "intake-scale";
const char kAdminToken[] = "admin-scale";

Object::Ptr Parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

// The reference mapping with an Idempotency-Key on the lead's writes and on
// activities, written to `path`.
void WriteMapping(const std::string& path) {
  std::ifstream in(CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json");
  std::stringstream text;
  text << in.rdbuf();
  Object::Ptr mapping = Parse(text.str());
  Object::Ptr ops = mapping->getObject("entities")->getObject("lead")->getObject("operations");
  auto key = [](const std::string& value) {
    Object::Ptr headers = new Object;
    headers->set("Idempotency-Key", value);
    return headers;
  };
  ops->getObject("create")->set("headers", key("{{eventId}}-lead"));
  ops->getObject("update")->set("headers", key("{{eventId}}-lead"));
  ops->getObject("activity")->set("headers", key("{{eventId}}-activity"));
  std::ostringstream out;
  mapping->stringify(out);
  t::WriteFile(path, out.str());
}

// `crmsync serve` on the shared queue and state, syncing to the reference CRM.
struct Engine {
  Engine(const std::string& pg_url, const std::string& redis_url, const std::string& prefix,
         const std::string& mapping, int crm_port) {
    t::WriteFile(dir.File("store.url"), pg_url + "\n");
    std::vector<std::string> args = {
        "serve",
        "--set", "server.port=" + std::to_string(port),
        "--set", "store.backend=postgres",
        "--set", "store.url.file=" + dir.File("store.url"),
        "--set", "store.pool_size=6",
        "--set", "queue.backend=redis",
        "--set", "queue.redis_url=" + redis_url,
        "--set", "queue.redis_prefix=" + prefix,
        "--set", "queue.reclaim_ms=2000",
        "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR,
        "--set", "crm.plugin=generic-rest-crm",
        "--set", "crm.mapping=" + mapping,
        "--set", "crm.api.url=http://127.0.0.1:" + std::to_string(crm_port),
        "--set", "crm.api.key=key-scale",
        "--set", "crm.api.secret=secret-scale",
        "--set", "crm.retry.delay=50",
        "--set", std::string("intake.token=") + kIntakeToken,
        "--set", std::string("admin.token=") + kAdminToken,
        "--set", "log.level=warning",
        "--set", "workers.count=4"};
    process = std::make_unique<t::ChildProcess>(CRMSYNC_BINARY, args);
    ready = t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; });
  }

  t::TempDir dir;
  int port = t::FreePort();
  std::unique_ptr<t::ChildProcess> process;
  bool ready = false;
};

std::string LeadJson(int lead, int version) {
  return "{\"id\":\"L" + std::to_string(lead) + "\",\"name\":\"Lead " + std::to_string(lead) +
         "\",\"email\":\"lead" + std::to_string(lead) +
         "@example.com\",\"status\":\"NEW\",\"notes\":\"v" + std::to_string(version) + "\"}";
}

// Event `n` of lead `lead`: 0 creates it, 1.. are inquiries carrying the lead.
std::string Event(int lead, int n) {
  std::string id = "s" + std::to_string(lead) + "-" + std::to_string(n);
  std::string head = "{\"eventId\":\"" + id + "\",\"occurredAt\":\"2026-11-25T10:00:00Z\",";
  if (n == 0) return head + "\"type\":\"lead.created\",\"data\":" + LeadJson(lead, 0) + "}";
  return head + "\"type\":\"inquiry.submitted\",\"data\":{\"id\":\"Q" + std::to_string(lead) +
         "-" + std::to_string(n) + "\",\"leadId\":\"L" + std::to_string(lead) +
         "\",\"propertyId\":\"P1\",\"message\":\"m" + std::to_string(n) +
         "\",\"lead\":" + LeadJson(lead, n) + "}}";
}

}  // namespace

TEST_SUITE("e2e.scale_out") {
  TEST_CASE("three engines on one Redis and PostgreSQL: 30000 events, one killed -9, each delivered once, in order") {
    const int kEngines = 3;
    const int kLeads = 500;
    const int kPerLead = 60;  // lead.created + 59 inquiries
    const int kBatch = 100;
    const int kTotal = kLeads * kPerLead;

    std::string pg_url = t::NewPgDatabase();
    std::string redis_url = t::RedisUrl();
    std::string prefix = t::NewRedisPrefix();
    t::TempDir dir;
    std::string mapping = dir.File("reference-idempotent.json");
    WriteMapping(mapping);
    int crm_port = t::FreePort();
    t::ChildProcess crm(CRMSYNC_REFERENCE_CRM, {"--port", std::to_string(crm_port), "--api-key",
                                                "key-scale", "--api-secret", "secret-scale"});
    REQUIRE(t::WaitUntil([&] { return t::HttpCall(crm_port, "GET", "/_state").status == 200; }));

    std::vector<std::unique_ptr<Engine>> engines;
    for (int i = 0; i < kEngines; ++i) {
      engines.push_back(std::make_unique<Engine>(pg_url, redis_url, prefix, mapping, crm_port));
      REQUIRE_MESSAGE(engines.back()->ready, engines.back()->process->Stderr());
    }

    // One poster per engine, each with its own leads, their events in order;
    // a batch an engine did not answer goes to the next live engine.
    const int kVictim = 1;
    std::atomic<bool> victim_dead{false};
    std::atomic<int> posted{0};
    std::atomic<int> failovers{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> posters;
    for (int p = 0; p < kEngines; ++p) {
      posters.emplace_back([&, p] {
        std::vector<std::string> events;
        for (int n = 0; n < kPerLead; ++n) {
          for (int lead = p; lead < kLeads; lead += kEngines) events.push_back(Event(lead, n));
        }
        t::EventPoster sender(engines[static_cast<size_t>(p)]->port, kIntakeToken);
        int target = p;
        for (size_t start = 0; start < events.size(); start += kBatch) {
          std::string body = "{\"events\":[";
          size_t end = std::min(events.size(), start + kBatch);
          for (size_t i = start; i < end; ++i) body += (i > start ? "," : "") + events[i];
          body += "]}";
          for (int tries = 0;; ++tries) {
            if (target == kVictim && victim_dead.load()) target = (target + 1) % kEngines;
            int status = sender.Post(engines[static_cast<size_t>(target)]->port, body);
            if (status == 202 || status == 200) break;
            if (status != 0 || tries > 50) {
              ++refused;
              return;
            }
            ++failovers;
            // Not answered: only the killed engine fails; wait for the kill to
            // be known, then send the same batch to the next engine.
            t::WaitUntil([&] { return victim_dead.load(); });
          }
          posted += static_cast<int>(end - start);
        }
      });
    }

    // Mid-run: half the events posted and the CRM busy, the victim is killed.
    REQUIRE(t::WaitUntil([&] { return posted.load() >= kTotal / 2; }, std::chrono::minutes(5)));
    REQUIRE(t::WaitUntil(
        [&] {
          Object::Ptr state = Parse(t::HttpCall(crm_port, "GET", "/_state").body);
          return state->getObject("requests")->optValue<int>("POST /api/v1/leads/{id}/activities",
                                                             0) > 1000;
        },
        std::chrono::minutes(5)));
    engines[kVictim]->process->Signal(SIGKILL);
    REQUIRE(engines[kVictim]->process->WaitExit(std::chrono::seconds(10)));
    victim_dead = true;
    for (std::thread& th : posters) th.join();
    CHECK(refused.load() == 0);
    CHECK(posted.load() == kTotal);

    // The survivors finish everything, the victim's leases and entries included.
    Engine& survivor = *engines[0];
    bool drained = t::WaitUntil([&] { return t::UnfinishedJobs(survivor.port) == 0; }, std::chrono::minutes(8));
    REQUIRE_MESSAGE(drained, "unfinished jobs: " << t::UnfinishedJobs(survivor.port));

    Object::Ptr state = Parse(t::HttpCall(crm_port, "GET", "/_state").body);
    auto leads = state->getArray("leads");
    CHECK(leads->size() == static_cast<size_t>(kLeads));
    std::map<std::string, int> seen;
    int wrong_activities = 0;
    int wrong_history = 0;
    for (size_t i = 0; i < leads->size(); ++i) {
      Object::Ptr lead = leads->getObject(static_cast<unsigned>(i));
      const std::string ref = lead->getValue<std::string>("externalReference");
      ++seen[ref];
      auto activities = lead->getArray("activities");
      std::vector<std::string> messages;
      for (size_t a = 0; a < activities->size(); ++a) {
        messages.push_back(activities->getObject(static_cast<unsigned>(a))->getValue<std::string>("message"));
      }
      std::vector<std::string> expected_messages;
      for (int n = 1; n < kPerLead; ++n) expected_messages.push_back("m" + std::to_string(n));
      if (messages != expected_messages) {
        if (++wrong_activities <= 3) MESSAGE(ref << " activities out of order or repeated");
      }
      auto history = lead->getArray("notesHistory");
      std::vector<std::string> notes;
      for (size_t h = 0; h < history->size(); ++h) notes.push_back(history->getElement<std::string>(static_cast<unsigned>(h)));
      std::vector<std::string> expected_notes;
      for (int n = 0; n < kPerLead; ++n) expected_notes.push_back("v" + std::to_string(n));
      if (notes != expected_notes) {
        if (++wrong_history <= 3) MESSAGE(ref << " writes out of order or repeated");
      }
    }
    CHECK(seen.size() == static_cast<size_t>(kLeads));  // no lead created twice
    CHECK(wrong_activities == 0);                        // each inquiry once, in order
    CHECK(wrong_history == 0);                           // each lead write once, in order
    t::HttpResult dlq = t::HttpCall(survivor.port, "GET", "/api/v1/admin/dlq", "",
                                    {{"Authorization", std::string("Bearer ") + kAdminToken}});
    CHECK(dlq.status == 200);
    CHECK(Parse(dlq.body)->getArray("deadLetters")->size() == 0);
    MESSAGE("engines: " << kEngines << ", events: " << kTotal << ", batches re-sent after the kill: "
                        << failovers.load() << ", requests the CRM answered as replays: "
                        << state->optValue<int>("idempotentReplays", 0));
  }
}
