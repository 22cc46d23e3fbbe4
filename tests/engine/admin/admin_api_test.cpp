// admin_api_test.cpp: the admin HTTP API (admin/admin_api.h) and the `crmsync
// status|sync|jobs|dlq` commands (app/admin_cli.h), in process: a SQLite store
// in a temporary file, the admin routes on a real HTTP server on loopback, and
// dead letters made the way workers make them (Accept, Lease, Complete with a
// kDeadLetter outcome and its attempts). Time comes from a ManualClock.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "admin/admin_api.h"
#include "app/admin_cli.h"
#include "app/commands.h"
#include "common/clock.h"
#include "config/settings.h"
#include "http/router.h"
#include "http/server.h"
#include "store/sqlite_store.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::FreePort;
using crmsync::testing::HttpCall;
using crmsync::testing::HttpResult;
using crmsync::testing::TempDir;
using Poco::JSON::Array;
using Poco::JSON::Object;

const char kToken[] = "admin-secret-token";
const char kPlugin[] = "mock-crm";

Object::Ptr Json(const std::string& body) {
  Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(body);
  REQUIRE(parsed.type() == typeid(Object::Ptr));
  return parsed.extract<Object::Ptr>();
}

// The "error" member of an error answer.
std::string ErrorOf(const HttpResult& r) { return Json(r.body)->getValue<std::string>("error"); }

// A store, the admin routes on a live server, and helpers that fill the queue.
class AdminFixture {
 public:
  explicit AdminFixture(bool with_runtime = true, std::string token = kToken)
      : token_(std::move(token)) {
    SqliteOptions options;
    options.path = dir_.File("crmsync.db");
    store_ = SqliteStore::Open(options);
    AdminHooks hooks;
    hooks.sync_states = store_.get();
    hooks.inspection = store_.get();
    hooks.dead_letters = store_.get();
    hooks.plugin_name = kPlugin;
    hooks.admin_token = token_;
    hooks.clock = &clock_;
    hooks.on_sync_changed = [this] { ++wakeups_; };
    if (with_runtime) {
      hooks.runtime_status = [this] {
        if (runtime_fails_.load()) throw std::runtime_error("dispatcher gone");
        RuntimeStatus status;
        status.dispatch.workers = 4;
        return status;
      };
    }
    auto router = std::make_shared<Router>();
    AddAdminRoutes(*router, std::move(hooks));
    HttpServerOptions server_options;
    server_options.host = "127.0.0.1";
    server_options.port = FreePort();
    server_options.threads = 4;
    server_ = std::make_unique<HttpServer>(server_options, router);
    server_->Start();
  }
  ~AdminFixture() { server_->Stop(); }

  int port() const { return server_->port(); }
  SqliteStore& store() { return *store_; }
  ManualClock& clock() { return clock_; }
  int wakeups() const { return wakeups_.load(); }
  void set_runtime_fails(bool fails) { runtime_fails_ = fails; }

  HttpResult Call(const std::string& method, const std::string& path,
                  const std::string& body = "") {
    return HttpCall(port(), method, path, body, {{"Authorization", "Bearer " + token_}});
  }
  HttpResult Get(const std::string& path) { return Call("GET", path); }
  HttpResult Post(const std::string& path, const std::string& body = "") {
    return Call("POST", path, body);
  }

  // Accepts one lead (or property) event and returns its job id.
  int64_t Accept(const std::string& event_id, EntityKind kind, const std::string& entity_id,
                 const std::string& name = "Asha") {
    IncomingEvent e;
    e.event_id = event_id;
    e.kind = kind;
    e.entity_id = entity_id;
    e.occurred_at = "2026-11-23T10:15:00Z";
    if (kind == EntityKind::kLead) {
      e.type = EventType::kLeadCreated;
      e.priority = Priority::kHigh;
      e.entity_json = R"({"id":")" + entity_id + R"(","name":")" + name + R"(","status":"NEW"})";
    } else {
      e.type = EventType::kPropertyCreated;
      e.priority = Priority::kLow;
      e.entity_json = R"({"id":")" + entity_id + R"(","title":"2BHK","status":"ACTIVE"})";
    }
    std::vector<AcceptResult> results = store_->Accept({e}, clock_.NowMs());
    REQUIRE(results.size() == 1);
    return results[0].job_id;
  }

  // Makes a dead letter the way a worker does: accepts an event, leases its
  // job, fails it twice and gives up. Returns the dead letter's id.
  int64_t MakeDeadLetter(const std::string& event_id, EntityKind kind, const std::string& entity_id,
                         const std::string& plugin = kPlugin,
                         const std::string& error_class = "invalid_record",
                         const std::string& reason = "email is invalid") {
    int64_t job_id = Accept(event_id, kind, entity_id);
    std::vector<LeasedJob> leased = store_->Lease(plugin, 100, clock_.NowMs(), 30'000);
    std::vector<JobOutcome> outcomes;
    bool found = false;
    for (const LeasedJob& job : leased) {
      JobOutcome o;
      o.job_id = job.id;
      o.lease_token = job.lease_token;
      if (job.id != job_id) {  // someone else's job: back to the queue untouched
        o.kind = JobOutcome::Kind::kRelease;
        o.available_at_ms = clock_.NowMs();
        outcomes.push_back(o);
        continue;
      }
      found = true;
      o.kind = JobOutcome::Kind::kDeadLetter;
      o.attempts = 2;
      o.plan = "create";
      o.step = 0;
      o.attempts_made = {
          AttemptRecord{1, 0, "create", clock_.NowMs(), "retryable", 503, "service unavailable"},
          AttemptRecord{2, 0, "create", clock_.NowMs(), error_class, 422, reason}};
      o.error_class = error_class;
      o.reason = reason;
      outcomes.push_back(o);
    }
    REQUIRE(found);
    store_->Complete(plugin, outcomes, clock_.NowMs());
    DeadLetterFilter filter;
    filter.include_replayed = true;
    filter.limit = 10000;
    for (const DeadLetter& d : store_->ListDeadLetters(filter)) {
      if (d.job_id == job_id) return d.id;
    }
    FAIL("no dead letter for job " << job_id);
    return 0;
  }

 private:
  TempDir dir_;
  std::string token_;
  ManualClock clock_;
  std::unique_ptr<SqliteStore> store_;
  std::atomic<int> wakeups_{0};
  std::atomic<bool> runtime_fails_{false};
  std::unique_ptr<HttpServer> server_;
};

// Ids of the dead letters in a list answer, in order.
std::vector<int64_t> DeadLetterIds(const HttpResult& r) {
  REQUIRE(r.status == 200);
  std::vector<int64_t> ids;
  Array::Ptr list = Json(r.body)->getArray("deadLetters");
  REQUIRE(list);
  for (size_t i = 0; i < list->size(); ++i) {
    ids.push_back(list->getObject(static_cast<unsigned>(i))->getValue<int64_t>("id"));
  }
  return ids;
}

// Settings pointing the CLI at `port` with `token`.
config::Settings CliSettings(const TempDir& dir, int port, const std::string& token = kToken) {
  config::LoadOptions load;
  load.config_file = dir.File("cli.properties");
  crmsync::testing::WriteFile(load.config_file, "# empty\n");
  load.overrides = {"server.port=" + std::to_string(port), "admin.token=" + token};
  std::vector<config::Diagnostic> diagnostics;
  return config::Settings::Load(load, &diagnostics);
}

// One CLI run, its exit code and both streams.
struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

CliRun RunCli(const config::Settings& settings, const std::vector<std::string>& args) {
  std::ostringstream out, err;
  CliRun run;
  run.code = RunAdminCommand(settings, args, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_SUITE("engine.admin") {
  // --- authentication ---------------------------------------------------------

  TEST_CASE("every admin route refuses a missing or wrong bearer token") {
    AdminFixture f;
    int64_t id = f.MakeDeadLetter("evt-1", EntityKind::kLead, "1");
    const std::vector<std::pair<std::string, std::string>> routes = {
        {"GET", "/api/v1/admin/status"},
        {"POST", "/api/v1/admin/sync/enable"},
        {"POST", "/api/v1/admin/sync/disable"},
        {"GET", "/api/v1/admin/jobs?entity=lead:1"},
        {"GET", "/api/v1/admin/dlq"},
        {"GET", "/api/v1/admin/dlq/" + std::to_string(id)},
        {"POST", "/api/v1/admin/dlq/" + std::to_string(id) + "/replay"},
        {"POST", "/api/v1/admin/dlq/replay"},
        {"DELETE", "/api/v1/admin/dlq/" + std::to_string(id)},
        {"POST", "/api/v1/admin/dlq/purge"}};
    for (const auto& [method, path] : routes) {
      CAPTURE(method);
      CAPTURE(path);
      HttpResult none = HttpCall(f.port(), method, path);
      CHECK(none.status == 401);
      CHECK(none.headers["WWW-Authenticate"] == "Bearer");
      HttpResult wrong =
          HttpCall(f.port(), method, path, "", {{"Authorization", "Bearer not-the-token"}});
      CHECK(wrong.status == 401);
      HttpResult basic =
          HttpCall(f.port(), method, path, "", {{"Authorization", std::string("Basic ") + kToken}});
      CHECK(basic.status == 401);
    }
    // Nothing happened behind the refusals.
    CHECK(f.store().GetSyncState(kPlugin).enabled);
    std::optional<DeadLetter> d = f.store().GetDeadLetter(id);
    REQUIRE(d);
    CHECK(d->replayed_ms == 0);
    CHECK(f.wakeups() == 0);
  }

  TEST_CASE("an empty admin token closes the admin API") {
    AdminFixture f(true, "");
    CHECK(
        HttpCall(f.port(), "GET", "/api/v1/admin/status", "", {{"Authorization", "Bearer "}}).status ==
        401);
    CHECK(HttpCall(f.port(), "GET", "/api/v1/admin/status").status == 401);
  }

  // --- status and sync --------------------------------------------------------

  TEST_CASE("status reports version, plugin, sync state, queue figures and runtime") {
    AdminFixture f;
    f.MakeDeadLetter("evt-dead", EntityKind::kLead, "1");
    f.Accept("evt-lead", EntityKind::kLead, "2");
    f.Accept("evt-prop", EntityKind::kProperty, "7");
    f.clock().Advance(5'000);

    HttpResult r = f.Get("/api/v1/admin/status");
    REQUIRE(r.status == 200);
    CHECK(r.headers["Content-Type"] == "application/json");
    Object::Ptr status = Json(r.body);
    CHECK(status->getValue<std::string>("version") == CRMSYNC_VERSION);
    CHECK(status->getValue<std::string>("plugin") == kPlugin);
    Object::Ptr sync = status->getObject("sync");
    REQUIRE(sync);
    CHECK(sync->getValue<bool>("enabled"));
    CHECK(sync->getValue<std::string>("reason").empty());
    CHECK(sync->isNull("changedAt"));
    Object::Ptr queue = status->getObject("queue");
    REQUIRE(queue);
    CHECK(queue->getValue<int64_t>("ready") == 2);
    CHECK(queue->getValue<int64_t>("queued") == 0);
    CHECK(queue->getValue<int64_t>("delayed") == 0);
    CHECK(queue->getValue<int64_t>("leased") == 0);
    CHECK(queue->getValue<int64_t>("done") == 0);
    CHECK(queue->getValue<int64_t>("deadLetters") == 1);
    Object::Ptr by_priority = queue->getObject("readyByPriority");
    REQUIRE(by_priority);
    CHECK(by_priority->getValue<int64_t>("high") == 1);
    CHECK(by_priority->getValue<int64_t>("medium") == 0);
    CHECK(by_priority->getValue<int64_t>("low") == 1);
    CHECK(queue->getValue<int64_t>("oldestPendingAgeSeconds") == 5);
    CHECK(queue->getValue<int64_t>("coalescedTotal") == 0);
    CHECK(queue->getValue<int64_t>("eventsTotal") == 3);
    Object::Ptr runtime = status->getObject("runtime");
    REQUIRE(runtime);
    CHECK(runtime->getValue<int>("workers") == 4);
    CHECK(runtime->getObject("circuit")->getValue<std::string>("state") == "closed");
    CHECK(runtime->getObject("inbound")->getValue<std::string>("webhookRegistration") ==
          "not configured");

    // A runtime hook that throws does not break the status.
    f.set_runtime_fails(true);
    r = f.Get("/api/v1/admin/status");
    REQUIRE(r.status == 200);
    CHECK(Json(r.body)->getObject("runtime")->getValue<std::string>("error") ==
          "runtime status unavailable");
  }

  TEST_CASE("the runtime status renders every member, in order, and leaves out what does not apply") {
    const int64_t t = 1'700'000'000'000;  // 2023-11-14T22:13:20.000Z
    RuntimeStatus status;
    status.dispatch.workers = 64;
    status.dispatch.sync_enabled = false;
    status.dispatch.jobs_finished = 12;
    CHECK(RuntimeStatusJson(status) ==
          R"({"workers":64,"syncEnabled":false,"circuit":{"state":"closed","openedTotal":0},)"
          R"("rateLimit":{"perSecond":0.000000,"rateLimitedTotal":0,"windowsTotal":0},)"
          R"("jobsFinished":12,"alerts":[],"inbound":{"webhookRegistration":"not configured"},)"
          R"("poll":{"enabled":false},"reconcile":null,"resync":null,"shadow":{"enabled":false}})");

    status.dispatch.circuit = CircuitBreaker::State::kOpen;
    status.dispatch.circuit_opened_total = 2;
    status.dispatch.probe_at_ms = t + 30'000;
    status.dispatch.rate_per_s = 2.5;
    status.dispatch.rate_limited_total = 3;
    status.dispatch.rate_windows_total = 1;
    status.dispatch.paused_until_ms = t + 5'000;
    status.dispatch.window_until_ms = t + 2'000;
    status.dispatch.budget = DispatchStatus::Budget{7, t + 60'000, true};
    status.alerts.push_back({"queue_depth", "mock-crm", "depth \"9\"\n", t});
    status.alerts.push_back({"auth", "mock-crm", "bad \xff", t + 1});
    status.webhook_registration = "registered";
    status.poll.enabled = true;
    status.poll.interval_ms = 60000;
    status.poll.leader = true;
    EntityPollStatus lead;
    lead.entity = "lead";
    lead.last_success_ms = t;
    lead.changes = 4;
    lead.cursor_set = true;
    EntityPollStatus property;
    property.entity = "property";
    property.polling = false;
    property.last_error = "no polling for property";
    property.last_error_ms = t + 1;
    property.errors = 1;
    status.poll.entities = {lead, property};
    status.shadow = ShadowFigures{true, 10, 6, 3, 1, 2, 4, 5, 1000};
    status.reconcile = R"({"run":"reconcile-1","state":"done"})";
    CHECK(RuntimeStatusJson(status) ==
          R"({"workers":64,"syncEnabled":false,)"
          R"("circuit":{"state":"open","openedTotal":2,"probeAt":"2023-11-14T22:13:50.000Z"},)"
          R"("rateLimit":{"perSecond":2.500000,"rateLimitedTotal":3,"windowsTotal":1,)"
          R"("pausedUntil":"2023-11-14T22:13:25.000Z","windowUntil":"2023-11-14T22:13:22.000Z",)"
          R"("budget":{"remaining":7,"resetAt":"2023-11-14T22:14:20.000Z","pacing":true}},)"
          R"("jobsFinished":12,"alerts":[)"
          R"({"kind":"queue_depth","subject":"mock-crm","message":"depth \"9\"\n",)"
          R"("since":"2023-11-14T22:13:20.000Z"},)"
          R"({"kind":"auth","subject":"mock-crm","message":"bad )" "\xef\xbf\xbd" R"(",)"
          R"("since":"2023-11-14T22:13:20.001Z"}],)"
          R"("inbound":{"webhookRegistration":"registered"},)"
          R"("poll":{"enabled":true,"intervalMs":60000,"leader":true,"paused":false,"entities":[)"
          R"({"entity":"lead","polling":true,"lastSuccess":"2023-11-14T22:13:20.000Z",)"
          R"("changes":4,"errors":0,"cursor":"set"},)"
          R"({"entity":"property","polling":false,"lastError":"no polling for property",)"
          R"("lastErrorAt":"2023-11-14T22:13:20.001Z","changes":0,"errors":1,"cursor":"none"}]},)"
          R"("reconcile":{"run":"reconcile-1","state":"done"},"resync":null,)"
          R"("shadow":{"enabled":true,"compared":10,"identical":6,"differing":3,"errors":1,)"
          R"("dropped":2,"sandboxSent":4,"queueDepth":5,"queueCapacity":1000}})");
  }

  TEST_CASE("status shows an empty runtime object without a runtime hook") {
    AdminFixture f(false);
    HttpResult r = f.Get("/api/v1/admin/status");
    REQUIRE(r.status == 200);
    Object::Ptr status = Json(r.body);
    REQUIRE(status->getObject("runtime"));
    CHECK(status->getObject("runtime")->size() == 0);
    CHECK(status->getObject("queue")->getValue<int64_t>("oldestPendingAgeSeconds") == 0);
  }

  TEST_CASE("sync disable and enable persist the state and wake the workers") {
    AdminFixture f;
    HttpResult r = f.Post("/api/v1/admin/sync/disable");
    REQUIRE(r.status == 200);
    Object::Ptr answer = Json(r.body);
    CHECK(answer->getValue<std::string>("plugin") == kPlugin);
    CHECK_FALSE(answer->getValue<bool>("enabled"));
    CHECK(answer->getValue<std::string>("reason") == "disabled by admin");
    CHECK_FALSE(f.store().GetSyncState(kPlugin).enabled);
    CHECK(f.store().GetSyncState(kPlugin).reason == "disabled by admin");
    CHECK(f.wakeups() == 1);

    r = f.Post("/api/v1/admin/sync/disable", R"({"reason":"CRM maintenance until 14:00"})");
    REQUIRE(r.status == 200);
    CHECK(Json(r.body)->getValue<std::string>("reason") == "CRM maintenance until 14:00");
    SyncState state = f.store().GetSyncState(kPlugin);
    CHECK_FALSE(state.enabled);
    CHECK(state.reason == "CRM maintenance until 14:00");
    CHECK_FALSE(state.changed_at.empty());

    r = f.Get("/api/v1/admin/status");
    Object::Ptr sync = Json(r.body)->getObject("sync");
    CHECK_FALSE(sync->getValue<bool>("enabled"));
    CHECK(sync->getValue<std::string>("reason") == "CRM maintenance until 14:00");
    CHECK(sync->getValue<std::string>("changedAt") == state.changed_at);

    r = f.Post("/api/v1/admin/sync/enable", R"({"reason":"maintenance over"})");
    REQUIRE(r.status == 200);
    CHECK(Json(r.body)->getValue<bool>("enabled"));
    CHECK(f.store().GetSyncState(kPlugin).enabled);
    CHECK(f.store().GetSyncState(kPlugin).reason == "maintenance over");
    CHECK(f.wakeups() == 3);

    r = f.Post("/api/v1/admin/sync/enable", "  ");
    REQUIRE(r.status == 200);
    CHECK(f.store().GetSyncState(kPlugin).reason == "enabled by admin");
    CHECK(f.wakeups() == 4);
  }

  TEST_CASE("sync with a malformed body is a 400 naming the problem and changes nothing") {
    AdminFixture f;
    struct Case {
      std::string body;
      std::string expect;
    };
    const std::vector<Case> cases = {
        {"{reason", "body"},
        {R"(["why"])", "body"},
        {R"({"reason":42})", "reason"},
        {R"({"reason":")" + std::string(501, 'x') + R"("})", "reason"}};
    for (const Case& c : cases) {
      CAPTURE(c.body);
      HttpResult r = f.Post("/api/v1/admin/sync/disable", c.body);
      CHECK(r.status == 400);
      CHECK(Contains(ErrorOf(r), c.expect));
    }
    CHECK(f.store().GetSyncState(kPlugin).enabled);
    CHECK(f.wakeups() == 0);
  }

  // --- jobs -------------------------------------------------------------------

  TEST_CASE("jobs lists the jobs of one entity newest first, with its mirror row") {
    AdminFixture f;
    int64_t first = f.Accept("evt-a", EntityKind::kLead, "42", "Asha");
    f.clock().Advance(1'000);
    int64_t second = f.Accept("evt-b", EntityKind::kLead, "42", "Asha Rao");
    f.Accept("evt-c", EntityKind::kLead, "43");

    HttpResult r = f.Get("/api/v1/admin/jobs?entity=lead:42");
    REQUIRE(r.status == 200);
    Object::Ptr answer = Json(r.body);
    CHECK(answer->getValue<std::string>("entity") == "lead:42");
    Object::Ptr mirror = answer->getObject("mirror");
    REQUIRE(mirror);
    CHECK(mirror->getValue<std::string>("name") == "Asha Rao");
    Array::Ptr jobs = answer->getArray("jobs");
    REQUIRE(jobs);
    REQUIRE(jobs->size() == 2);
    Object::Ptr newest = jobs->getObject(0);
    CHECK(newest->getValue<int64_t>("id") == second);
    CHECK(newest->getValue<std::string>("eventId") == "evt-b");
    CHECK(newest->getValue<std::string>("eventType") == "lead.created");
    CHECK(newest->getValue<std::string>("state") == "queued");
    CHECK(newest->getValue<int>("attempts") == 0);
    CHECK(newest->getValue<std::string>("plan").empty());
    CHECK(newest->getValue<int>("step") == 0);
    CHECK(newest->getValue<std::string>("createdAt") == FormatIsoMs(f.clock().NowMs()));
    CHECK(newest->getValue<std::string>("availableAt") == FormatIsoMs(f.clock().NowMs()));
    CHECK(newest->has("updatedAt"));
    CHECK(newest->isNull("lastError"));
    CHECK(newest->getValue<int>("coalesced") == 0);
    CHECK_FALSE(newest->has("payload"));
    Object::Ptr oldest = jobs->getObject(1);
    CHECK(oldest->getValue<int64_t>("id") == first);
    CHECK(oldest->getValue<std::string>("state") == "ready");
    CHECK(oldest->getValue<std::string>("createdAt") == FormatIsoMs(f.clock().NowMs() - 1'000));

    r = f.Get("/api/v1/admin/jobs?entity=lead:42&limit=1");
    REQUIRE(r.status == 200);
    CHECK(Json(r.body)->getArray("jobs")->size() == 1);

    r = f.Get("/api/v1/admin/jobs?entity=property:999");
    REQUIRE(r.status == 200);
    CHECK(Json(r.body)->isNull("mirror"));
    CHECK(Json(r.body)->getArray("jobs")->size() == 0);
  }

  TEST_CASE("jobs of a dead-lettered entity show the failure") {
    AdminFixture f;
    f.MakeDeadLetter("evt-x", EntityKind::kProperty, "7", kPlugin, "permanent", "price refused");
    HttpResult r = f.Get("/api/v1/admin/jobs?entity=property:7");
    REQUIRE(r.status == 200);
    Object::Ptr job = Json(r.body)->getArray("jobs")->getObject(0);
    CHECK(job->getValue<std::string>("state") == "dead");
    CHECK(job->getValue<int>("attempts") == 2);
    CHECK(job->getValue<std::string>("plan") == "create");
    CHECK(job->getValue<std::string>("lastError") == "price refused");
  }

  TEST_CASE("jobs with a missing or malformed entity or limit is a 400 naming it") {
    AdminFixture f;
    struct Case {
      std::string query;
      std::string expect;
    };
    const std::vector<Case> cases = {{"", "entity"},
                                     {"?entity=", "entity"},
                                     {"?entity=lead", "entity"},
                                     {"?entity=car:1", "entity"},
                                     {"?entity=lead:", "entity"},
                                     {"?entity=lead:1&limit=0", "limit"},
                                     {"?entity=lead:1&limit=abc", "limit"},
                                     {"?entity=lead:1&limit=1001", "limit"},
                                     {"?entity=lead:1&kind=lead", "kind"}};
    for (const Case& c : cases) {
      CAPTURE(c.query);
      HttpResult r = f.Get("/api/v1/admin/jobs" + c.query);
      CHECK(r.status == 400);
      CHECK(Contains(ErrorOf(r), c.expect));
    }
  }

  // --- dead letters -----------------------------------------------------------

  TEST_CASE("dlq lists dead letters without payloads and filters them") {
    AdminFixture f;
    int64_t t0 = f.clock().NowMs();
    int64_t a = f.MakeDeadLetter("evt-a", EntityKind::kLead, "1");
    f.clock().Advance(60'000);
    int64_t b = f.MakeDeadLetter("evt-b", EntityKind::kProperty, "7", kPlugin, "permanent",
                                 "price refused");
    f.clock().Advance(60'000);
    int64_t c = f.MakeDeadLetter("evt-c", EntityKind::kLead, "2", "other-crm");

    HttpResult r = f.Get("/api/v1/admin/dlq");
    CHECK(DeadLetterIds(r) == std::vector<int64_t>{a, b, c});
    Object::Ptr first = Json(r.body)->getArray("deadLetters")->getObject(0);
    CHECK(first->getValue<int64_t>("id") == a);
    CHECK(first->getValue<int64_t>("jobId") > 0);
    CHECK(first->getValue<std::string>("plugin") == kPlugin);
    CHECK(first->getValue<std::string>("eventId") == "evt-a");
    CHECK(first->getValue<std::string>("eventType") == "lead.created");
    CHECK(first->getValue<std::string>("entity") == "lead:1");
    CHECK(first->getValue<std::string>("errorClass") == "invalid_record");
    CHECK(first->getValue<std::string>("reason") == "email is invalid");
    CHECK(first->getValue<int>("attempts") == 2);
    CHECK(first->getValue<std::string>("createdAt") == FormatIsoMs(t0));
    CHECK(first->isNull("replayedAt"));
    CHECK(first->isNull("replayJobId"));
    CHECK_FALSE(Contains(r.body, "Asha"));  // the entity's data stays out
    CHECK_FALSE(Contains(r.body, "payload"));

    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?plugin=mock-crm")) == std::vector<int64_t>{a, b});
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?plugin=other-crm")) == std::vector<int64_t>{c});
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?errorClass=permanent")) == std::vector<int64_t>{b});
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?entity=lead:2")) == std::vector<int64_t>{c});
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?entity=property:7")) == std::vector<int64_t>{b});
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?entity=lead:7")).empty());
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?since=" + FormatIsoMs(t0 + 60'000))) ==
          std::vector<int64_t>{b, c});
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?until=" + FormatIsoMs(t0 + 60'000))) ==
          std::vector<int64_t>{a});
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?since=" + FormatIsoMs(t0 + 1) +
                              "&until=" + FormatIsoMs(t0 + 120'000))) == std::vector<int64_t>{b});
    // Time zones and plain dates are read as ISO 8601; t0 is 2023-11-14T22:13:20Z.
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?since=2023-11-15T03:44:20%2B05:30")) ==
          std::vector<int64_t>{b, c});
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?since=2023-11-15")).empty());
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?until=2023-11-15")).size() == 3);
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?limit=2")) == std::vector<int64_t>{a, b});
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq?plugin=mock-crm&errorClass=invalid_record&"
                              "entity=lead:1&limit=5")) == std::vector<int64_t>{a});
  }

  TEST_CASE("dlq filters that do not parse are 400s naming the parameter") {
    AdminFixture f;
    int64_t id = f.MakeDeadLetter("evt-a", EntityKind::kLead, "1");
    struct Case {
      std::string query;
      std::string expect;
    };
    const std::vector<Case> cases = {
        {"since=yesterday", "since"},
        {"since=2026-13-45T10:00:00Z", "since"},
        {"until=2026-11-23T10:00", "until"},
        {"since=2026-11-23T10:00:00Z&until=2026-11-23T09:00:00Z", "until"},
        {"entity=car:1", "entity"},
        {"entity=lead", "entity"},
        {"plugin=bad%20name", "plugin"},
        {"errorClass=no%20such%20class!", "errorClass"},
        {"includeReplayed=maybe", "includeReplayed"},
        {"limit=0", "limit"},
        {"limit=10001", "limit"},
        {"limit=ten", "limit"},
        {"errorclass=permanent", "errorclass"},
        {"plugin=a&plugin=b", "plugin"}};
    for (const Case& c : cases) {
      CAPTURE(c.query);
      for (const std::string& path :
           {std::string("/api/v1/admin/dlq?"), std::string("/api/v1/admin/dlq/replay?"),
            std::string("/api/v1/admin/dlq/purge?")}) {
        CAPTURE(path);
        HttpResult r = f.Call(path == "/api/v1/admin/dlq?" ? "GET" : "POST", path + c.query);
        CHECK(r.status == 400);
        CHECK(Contains(ErrorOf(r), c.expect));
      }
    }
    HttpResult r = f.Post("/api/v1/admin/dlq/purge?limit=5");
    CHECK(r.status == 400);
    CHECK(Contains(ErrorOf(r), "limit"));
    // None of the refused requests replayed or purged anything.
    std::optional<DeadLetter> d = f.store().GetDeadLetter(id);
    REQUIRE(d);
    CHECK(d->replayed_ms == 0);
    CHECK(f.wakeups() == 0);
  }

  TEST_CASE("dlq show returns one dead letter with every attempt") {
    AdminFixture f;
    int64_t id = f.MakeDeadLetter("evt-a", EntityKind::kLead, "1", kPlugin, "invalid_record",
                                  "email is invalid");
    HttpResult r = f.Get("/api/v1/admin/dlq/" + std::to_string(id));
    REQUIRE(r.status == 200);
    Object::Ptr d = Json(r.body);
    CHECK(d->getValue<int64_t>("id") == id);
    CHECK(d->getValue<std::string>("entity") == "lead:1");
    CHECK(d->getValue<std::string>("errorClass") == "invalid_record");
    CHECK(d->isNull("replayedAt"));
    Array::Ptr attempts = d->getArray("attempts");
    REQUIRE(attempts);
    REQUIRE(attempts->size() == 2);
    Object::Ptr a1 = attempts->getObject(0);
    CHECK(a1->getValue<int>("attempt") == 1);
    CHECK(a1->getValue<int>("step") == 0);
    CHECK(a1->getValue<std::string>("stepKind") == "create");
    CHECK(a1->getValue<std::string>("at") == FormatIsoMs(f.clock().NowMs()));
    CHECK(a1->getValue<std::string>("outcome") == "retryable");
    CHECK(a1->getValue<int>("httpStatus") == 503);
    CHECK(a1->getValue<std::string>("message") == "service unavailable");
    Object::Ptr a2 = attempts->getObject(1);
    CHECK(a2->getValue<int>("attempt") == 2);
    CHECK(a2->getValue<std::string>("outcome") == "invalid_record");
    CHECK(a2->getValue<int>("httpStatus") == 422);
    CHECK_FALSE(Contains(r.body, "Asha"));

    r = f.Get("/api/v1/admin/dlq/9999");
    CHECK(r.status == 404);
    CHECK(Contains(ErrorOf(r), "9999"));
    r = f.Get("/api/v1/admin/dlq/abc");
    CHECK(r.status == 400);
    CHECK(Contains(ErrorOf(r), "abc"));
    CHECK(f.Get("/api/v1/admin/dlq/0").status == 400);
    CHECK(f.Get("/api/v1/admin/dlq/1/extra").status == 404);
    CHECK(f.Post("/api/v1/admin/dlq/1/unknown").status == 404);
    CHECK(f.Call("DELETE", "/api/v1/admin/dlq/1/replay").status == 405);  // POST only
  }

  TEST_CASE("replaying one dead letter queues a ready job and keeps its history") {
    AdminFixture f;
    int64_t id = f.MakeDeadLetter("evt-a", EntityKind::kLead, "1");
    int64_t old_job = f.store().GetDeadLetter(id)->job_id;
    f.clock().Advance(10'000);

    HttpResult r = f.Post("/api/v1/admin/dlq/" + std::to_string(id) + "/replay");
    REQUIRE(r.status == 200);
    Array::Ptr replayed = Json(r.body)->getArray("replayed");
    REQUIRE(replayed);
    REQUIRE(replayed->size() == 1);
    CHECK(replayed->getObject(0)->getValue<int64_t>("deadLetterId") == id);
    int64_t new_job = replayed->getObject(0)->getValue<int64_t>("jobId");
    CHECK(new_job != old_job);
    CHECK(f.wakeups() == 1);

    std::vector<JobInfo> jobs = f.store().JobsForEntity(EntityKind::kLead, "1", 10);
    REQUIRE(jobs.size() == 2);
    CHECK(jobs[0].id == new_job);
    CHECK(jobs[0].state == "ready");
    CHECK(jobs[0].attempts == 0);
    CHECK(jobs[1].id == old_job);
    CHECK(jobs[1].state == "dead");
    CHECK(f.store().Stats().ready == 1);
    CHECK(f.store().Stats().dead == 0);

    std::optional<DeadLetter> d = f.store().GetDeadLetter(id);
    REQUIRE(d);
    CHECK(d->replayed_ms == f.clock().NowMs());
    CHECK(d->replay_job_id == new_job);
    CHECK(d->history.size() == 2);

    // Open ones only by default; includeReplayed shows it with its replay.
    CHECK(DeadLetterIds(f.Get("/api/v1/admin/dlq")).empty());
    r = f.Get("/api/v1/admin/dlq?includeReplayed=true");
    CHECK(DeadLetterIds(r) == std::vector<int64_t>{id});
    Object::Ptr listed = Json(r.body)->getArray("deadLetters")->getObject(0);
    CHECK(listed->getValue<std::string>("replayedAt") == FormatIsoMs(f.clock().NowMs()));
    CHECK(listed->getValue<int64_t>("replayJobId") == new_job);
    r = f.Get("/api/v1/admin/dlq/" + std::to_string(id));
    CHECK(Json(r.body)->getArray("attempts")->size() == 2);

    r = f.Post("/api/v1/admin/dlq/" + std::to_string(id) + "/replay");
    CHECK(r.status == 409);
    CHECK(Contains(ErrorOf(r), "already replayed"));
    CHECK(f.Post("/api/v1/admin/dlq/4242/replay").status == 404);
    CHECK(f.Post("/api/v1/admin/dlq/x1/replay").status == 400);
    CHECK(f.wakeups() == 1);
    CHECK(f.store().JobsForEntity(EntityKind::kLead, "1", 10).size() == 2);
  }

  TEST_CASE("replaying by filter replays the matching open dead letters") {
    AdminFixture f;
    int64_t a = f.MakeDeadLetter("evt-a", EntityKind::kLead, "1");
    int64_t b = f.MakeDeadLetter("evt-b", EntityKind::kProperty, "7", kPlugin, "permanent",
                                 "price refused");
    int64_t c = f.MakeDeadLetter("evt-c", EntityKind::kLead, "2", "other-crm");

    HttpResult r = f.Post("/api/v1/admin/dlq/replay?plugin=mock-crm&errorClass=invalid_record");
    REQUIRE(r.status == 200);
    Array::Ptr replayed = Json(r.body)->getArray("replayed");
    REQUIRE(replayed->size() == 1);
    CHECK(replayed->getObject(0)->getValue<int64_t>("deadLetterId") == a);
    CHECK(replayed->getObject(0)->getValue<int64_t>("jobId") ==
          f.store().GetDeadLetter(a)->replay_job_id);
    CHECK(f.wakeups() == 1);

    // No filter: every open dead letter, each paired with its new job.
    r = f.Post("/api/v1/admin/dlq/replay");
    REQUIRE(r.status == 200);
    replayed = Json(r.body)->getArray("replayed");
    REQUIRE(replayed->size() == 2);
    CHECK(replayed->getObject(0)->getValue<int64_t>("deadLetterId") == b);
    CHECK(replayed->getObject(0)->getValue<int64_t>("jobId") ==
          f.store().GetDeadLetter(b)->replay_job_id);
    CHECK(replayed->getObject(1)->getValue<int64_t>("deadLetterId") == c);
    CHECK(replayed->getObject(1)->getValue<int64_t>("jobId") ==
          f.store().GetDeadLetter(c)->replay_job_id);
    CHECK(f.store().Stats().ready == 3);
    CHECK(f.store().Stats().dead == 0);
    CHECK(f.wakeups() == 2);

    // Nothing left: an empty answer, and no wake-up.
    r = f.Post("/api/v1/admin/dlq/replay?includeReplayed=true");
    REQUIRE(r.status == 200);
    CHECK(Json(r.body)->getArray("replayed")->size() == 0);
    CHECK(f.wakeups() == 2);
    CHECK(f.store().Stats().ready == 3);
  }

  TEST_CASE("replaying with a limit replays the oldest matches only") {
    AdminFixture f;
    int64_t a = f.MakeDeadLetter("evt-a", EntityKind::kLead, "1");
    f.MakeDeadLetter("evt-b", EntityKind::kLead, "2");
    HttpResult r = f.Post("/api/v1/admin/dlq/replay?limit=1");
    REQUIRE(r.status == 200);
    Array::Ptr replayed = Json(r.body)->getArray("replayed");
    REQUIRE(replayed->size() == 1);
    CHECK(replayed->getObject(0)->getValue<int64_t>("deadLetterId") == a);
    CHECK(f.store().Stats().dead == 1);
  }

  TEST_CASE("purging deletes dead letters by id or by filter") {
    AdminFixture f;
    int64_t a = f.MakeDeadLetter("evt-a", EntityKind::kLead, "1");
    int64_t b = f.MakeDeadLetter("evt-b", EntityKind::kLead, "2");
    int64_t c = f.MakeDeadLetter("evt-c", EntityKind::kProperty, "7", "other-crm");
    int64_t d = f.MakeDeadLetter("evt-d", EntityKind::kLead, "3");

    HttpResult r = f.Call("DELETE", "/api/v1/admin/dlq/" + std::to_string(a));
    REQUIRE(r.status == 200);
    CHECK(Json(r.body)->getValue<int64_t>("purged") == 1);
    CHECK_FALSE(f.store().GetDeadLetter(a));
    CHECK(f.Call("DELETE", "/api/v1/admin/dlq/" + std::to_string(a)).status == 404);
    CHECK(f.Call("DELETE", "/api/v1/admin/dlq/abc").status == 400);

    r = f.Post("/api/v1/admin/dlq/purge?entity=lead:2");
    REQUIRE(r.status == 200);
    CHECK(Json(r.body)->getValue<int64_t>("purged") == 1);
    CHECK_FALSE(f.store().GetDeadLetter(b));

    // A replayed dead letter stays unless asked for; by id it can always go.
    REQUIRE(f.Post("/api/v1/admin/dlq/" + std::to_string(d) + "/replay").status == 200);
    r = f.Post("/api/v1/admin/dlq/purge");
    REQUIRE(r.status == 200);
    CHECK(Json(r.body)->getValue<int64_t>("purged") == 1);
    CHECK_FALSE(f.store().GetDeadLetter(c));
    CHECK(f.store().GetDeadLetter(d));
    r = f.Post("/api/v1/admin/dlq/purge?includeReplayed=true");
    CHECK(Json(r.body)->getValue<int64_t>("purged") == 1);
    CHECK_FALSE(f.store().GetDeadLetter(d));
    r = f.Post("/api/v1/admin/dlq/purge");
    CHECK(Json(r.body)->getValue<int64_t>("purged") == 0);
    // The jobs and their attempts are not the dead-letter queue's to delete.
    CHECK(f.store().JobsForEntity(EntityKind::kLead, "1", 10).size() == 1);
  }

  TEST_CASE("a wrong method on an admin path is a 405") {
    AdminFixture f;
    CHECK(f.Post("/api/v1/admin/status").status == 405);
    CHECK(f.Get("/api/v1/admin/sync/enable").status == 405);
    CHECK(f.Post("/api/v1/admin/dlq").status == 405);
  }

  // --- the CLI ----------------------------------------------------------------

  TEST_CASE("cli dlq list prints a table and dlq show prints keys and attempts") {
    AdminFixture f;
    TempDir dir;
    config::Settings settings = CliSettings(dir, f.port());
    int64_t a = f.MakeDeadLetter("evt-a", EntityKind::kLead, "1");
    f.MakeDeadLetter("evt-b", EntityKind::kProperty, "7", kPlugin, "permanent", "price refused");

    CliRun run = RunCli(settings, {"dlq", "list"});
    CHECK(run.code == kExitOk);
    CHECK(run.err.empty());
    CHECK(Contains(run.out, "ID"));
    CHECK(Contains(run.out, "ERROR-CLASS"));
    CHECK(Contains(run.out, "lead:1"));
    CHECK(Contains(run.out, "property:7"));
    CHECK(Contains(run.out, "price refused"));
    CHECK(Contains(run.out, "2 dead letter(s)"));

    run = RunCli(settings, {"dlq", "list", "error-class=permanent", "entity=property:7",
                            "plugin=mock-crm", "since=2020-01-01T00:00:00Z", "limit=10"});
    CHECK(run.code == kExitOk);
    CHECK_FALSE(Contains(run.out, "lead:1"));
    CHECK(Contains(run.out, "1 dead letter(s)"));

    run = RunCli(settings, {"dlq", "list", "until=2020-01-01T00:00:00+05:30"});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, "no dead letters"));

    run = RunCli(settings, {"dlq", "show", std::to_string(a)});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, "id: " + std::to_string(a) + "\n"));
    CHECK(Contains(run.out, "errorClass: invalid_record\n"));
    CHECK(Contains(run.out, "entity: lead:1\n"));
    CHECK(Contains(run.out, "replayedAt: -\n"));
    CHECK(Contains(run.out, "history:\n"));
    CHECK(Contains(run.out, "service unavailable"));
    CHECK(Contains(run.out, "503"));
  }

  TEST_CASE("cli dlq replay and purge report what they did") {
    AdminFixture f;
    TempDir dir;
    config::Settings settings = CliSettings(dir, f.port());
    int64_t a = f.MakeDeadLetter("evt-a", EntityKind::kLead, "1");
    int64_t b = f.MakeDeadLetter("evt-b", EntityKind::kLead, "2");
    int64_t c = f.MakeDeadLetter("evt-c", EntityKind::kProperty, "7", "other-crm");
    int64_t d = f.MakeDeadLetter("evt-d", EntityKind::kLead, "3");

    CliRun run = RunCli(settings, {"dlq", "replay", std::to_string(a)});
    CHECK(run.code == kExitOk);
    int64_t job = f.store().GetDeadLetter(a)->replay_job_id;
    CHECK(Contains(run.out, "dead letter " + std::to_string(a) + " -> job " + std::to_string(job)));
    CHECK(Contains(run.out, "replayed 1 dead letter(s)"));
    CHECK(f.wakeups() == 1);

    run = RunCli(settings, {"dlq", "replay", std::to_string(a)});
    CHECK(run.code == kExitProblems);
    CHECK(Contains(run.err, "409"));
    CHECK(Contains(run.err, "already replayed"));

    run = RunCli(settings, {"dlq", "replay", "plugin=other-crm"});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, "dead letter " + std::to_string(c) + " -> job"));
    CHECK(f.store().GetDeadLetter(c)->replayed_ms != 0);

    run = RunCli(settings, {"dlq", "purge", std::to_string(b)});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, "purged 1 dead letter(s)"));
    CHECK_FALSE(f.store().GetDeadLetter(b));

    run = RunCli(settings, {"dlq", "replay", "all"});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, "dead letter " + std::to_string(d) + " -> job"));
    run = RunCli(settings, {"dlq", "replay", "all"});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, "nothing to replay"));

    run = RunCli(settings, {"dlq", "purge", "entity=lead:1", "include-replayed"});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, "purged 1 dead letter(s)"));
    CHECK_FALSE(f.store().GetDeadLetter(a));
    run = RunCli(settings, {"dlq", "purge", "all", "json"});
    CHECK(run.code == kExitOk);
    CHECK(Json(run.out)->getValue<int64_t>("purged") == 0);
    run = RunCli(settings, {"dlq", "purge", "all", "include-replayed"});
    CHECK(run.code == kExitUsage);  // 'all' stands alone
    run = RunCli(settings, {"dlq", "purge", "include-replayed"});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, "purged 2 dead letter(s)"));
    CHECK(f.store().ListDeadLetters(DeadLetterFilter{}).empty());
  }

  TEST_CASE("cli sync, status and jobs") {
    AdminFixture f;
    TempDir dir;
    config::Settings settings = CliSettings(dir, f.port());
    f.Accept("evt-a", EntityKind::kLead, "42");

    CliRun run = RunCli(settings, {"sync", "disable", "reason=CRM maintenance"});
    CHECK(run.code == kExitOk);
    CHECK(run.out == "sync for mock-crm: disabled (CRM maintenance)\n");
    CHECK_FALSE(f.store().GetSyncState(kPlugin).enabled);
    CHECK(f.store().GetSyncState(kPlugin).reason == "CRM maintenance");
    CHECK(f.wakeups() == 1);

    run = RunCli(settings, {"status"});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, std::string("version: ") + CRMSYNC_VERSION + "\n"));
    CHECK(Contains(run.out, "plugin: mock-crm\n"));
    CHECK(Contains(run.out, "sync.enabled: false\n"));
    CHECK(Contains(run.out, "sync.reason: CRM maintenance\n"));
    CHECK(Contains(run.out, "queue.ready: 1\n"));
    CHECK(Contains(run.out, "queue.readyByPriority.high: 1\n"));
    CHECK(Contains(run.out, "runtime.workers: 4\n"));

    run = RunCli(settings, {"sync", "enable"});
    CHECK(run.code == kExitOk);
    CHECK(run.out == "sync for mock-crm: enabled (enabled by admin)\n");
    CHECK(f.store().GetSyncState(kPlugin).enabled);

    run = RunCli(settings, {"jobs", "lead:42"});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, "entity: lead:42\n"));
    CHECK(Contains(run.out, "mirror: {"));
    CHECK(Contains(run.out, "STATE"));
    CHECK(Contains(run.out, "evt-a"));
    CHECK(Contains(run.out, "ready"));
    CHECK(Contains(run.out, "1 job(s)"));

    run = RunCli(settings, {"jobs", "lead:404", "limit=5"});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, "mirror: none\n"));
    CHECK(Contains(run.out, "no jobs\n"));

    run = RunCli(settings, {"jobs", "car:1"});
    CHECK(run.code == kExitProblems);
    CHECK(Contains(run.err, "400"));
    CHECK(Contains(run.err, "entity"));
  }

  TEST_CASE("sync pause and resume hold sync on purpose and say so") {
    AdminFixture f;
    HttpResult r = f.Post("/api/v1/admin/sync/pause", R"({"reason":"CRM upgrade"})");
    REQUIRE(r.status == 200);
    Object::Ptr answer = Json(r.body);
    CHECK_FALSE(answer->getValue<bool>("enabled"));
    CHECK(answer->getValue<bool>("paused"));
    SyncState state = f.store().GetSyncState(kPlugin);
    CHECK_FALSE(state.enabled);
    CHECK(IsPausedReason(state.reason));
    CHECK(Contains(state.reason, "CRM upgrade"));
    CHECK(f.wakeups() == 1);
    r = f.Post("/api/v1/admin/sync/resume");
    REQUIRE(r.status == 200);
    CHECK(Json(r.body)->getValue<bool>("enabled"));
    CHECK_FALSE(Json(r.body)->getValue<bool>("paused"));
    CHECK(f.store().GetSyncState(kPlugin).enabled);
    CHECK(f.Post("/api/v1/admin/sync/pause", "{not json").status == 400);
    CHECK(f.store().GetSyncState(kPlugin).enabled);  // a bad request changes nothing
    CHECK(HttpCall(f.port(), "POST", "/api/v1/admin/sync/pause").status == 401);
  }

  TEST_CASE("audit lists an entity's trail newest first and refuses bad queries") {
    AdminFixture f;
    f.MakeDeadLetter("evt-x", EntityKind::kProperty, "7", kPlugin, "permanent", "price refused");
    HttpResult r = f.Get("/api/v1/admin/audit?entity=property:7");
    REQUIRE(r.status == 200);
    Object::Ptr answer = Json(r.body);
    CHECK(answer->getValue<std::string>("entity") == "property:7");
    Poco::JSON::Array::Ptr audit = answer->getArray("audit");
    REQUIRE(audit->size() >= 1);
    CHECK(audit->getObject(0)->getValue<std::string>("action") == "dead_lettered");
    CHECK(Contains(audit->getObject(0)->getValue<std::string>("detail"), "price refused"));
    CHECK(Json(f.Get("/api/v1/admin/audit?entity=lead:404").body)->getArray("audit")->size() == 0);
    CHECK(f.Get("/api/v1/admin/audit").status == 400);
    CHECK(Contains(f.Get("/api/v1/admin/audit?entity=car:1").body, "entity"));
    CHECK(f.Get("/api/v1/admin/audit?entity=lead:1&limit=0").status == 400);
    CHECK(f.Get("/api/v1/admin/audit?entity=lead:1&bogus=1").status == 400);
    CHECK(HttpCall(f.port(), "GET", "/api/v1/admin/audit?entity=lead:1").status == 401);

    TempDir dir;
    CliRun run = RunCli(CliSettings(dir, f.port()), {"audit", "property:7"});
    CHECK(run.code == kExitOk);
    CHECK(Contains(run.out, "dead_lettered"));
    run = RunCli(CliSettings(dir, f.port()), {"sync", "pause", "reason=upgrade"});
    CHECK(run.code == kExitOk);
    CHECK(IsPausedReason(f.store().GetSyncState(kPlugin).reason));
  }

  TEST_CASE("cli json word prints the service's answer as it came") {
    AdminFixture f;
    TempDir dir;
    config::Settings settings = CliSettings(dir, f.port());
    int64_t a = f.MakeDeadLetter("evt-a", EntityKind::kLead, "1");

    CliRun run = RunCli(settings, {"dlq", "json", "list"});
    CHECK(run.code == kExitOk);
    Array::Ptr list = Json(run.out)->getArray("deadLetters");
    REQUIRE(list);
    CHECK(list->size() == 1);
    run = RunCli(settings, {"json", "dlq", "show", std::to_string(a)});
    CHECK(run.code == kExitOk);
    CHECK(Json(run.out)->getArray("attempts")->size() == 2);
    run = RunCli(settings, {"status", "json"});
    CHECK(run.code == kExitOk);
    CHECK(Json(run.out)->getValue<std::string>("plugin") == kPlugin);
    run = RunCli(settings, {"jobs", "lead:1", "json"});
    CHECK(run.code == kExitOk);
    CHECK(Json(run.out)->getValue<std::string>("entity") == "lead:1");
    run = RunCli(settings, {"dlq", "replay", std::to_string(a), "json"});
    CHECK(run.code == kExitOk);
    CHECK(Json(run.out)->getArray("replayed")->size() == 1);
    run = RunCli(settings, {"sync", "disable", "json"});
    CHECK(run.code == kExitOk);
    CHECK_FALSE(Json(run.out)->getValue<bool>("enabled"));
  }

  TEST_CASE("cli usage errors exit 64 naming the word") {
    AdminFixture f;
    TempDir dir;
    config::Settings settings = CliSettings(dir, f.port());
    struct Case {
      std::vector<std::string> args;
      std::string expect;
    };
    const std::vector<Case> cases = {
        {{}, "no admin command"},
        {{"frobnicate"}, "frobnicate"},
        {{"status", "extra"}, "extra"},
        {{"sync"}, "enable"},
        {{"sync", "toggle"}, "toggle"},
        {{"sync", "enable", "because=yes"}, "because=yes"},
        {{"jobs"}, "entity"},
        {{"jobs", "lead:1", "kind=x"}, "kind=x"},
        {{"dlq"}, "list"},
        {{"dlq", "explode"}, "explode"},
        {{"dlq", "list", "colour=red"}, "colour=red"},
        {{"dlq", "list", "plugin="}, "plugin"},
        {{"dlq", "list", "plugin=a", "plugin=b"}, "plugin"},
        {{"dlq", "show"}, "id"},
        {{"dlq", "show", "abc"}, "abc"},
        {{"dlq", "replay"}, "all"},
        {{"dlq", "replay", "3", "4"}, "4"},
        {{"dlq", "purge"}, "all"},
        {{"dlq", "purge", "limit=3"}, "limit"},
        {{"dlq", "purge", "errorClass=permanent"}, "errorClass=permanent"}};
    for (const Case& c : cases) {
      std::string joined;
      for (const std::string& a : c.args) joined += a + " ";
      CAPTURE(joined);
      CliRun run = RunCli(settings, c.args);
      CHECK(run.code == kExitUsage);
      CHECK(Contains(run.err, c.expect));
      CHECK(run.out.empty());
    }
    CHECK(f.wakeups() == 0);
  }

  TEST_CASE("cli error answers exit 1 with the status and the service's message") {
    AdminFixture f;
    TempDir dir;
    CliRun run = RunCli(CliSettings(dir, f.port()), {"dlq", "show", "999"});
    CHECK(run.code == kExitProblems);
    CHECK(Contains(run.err, "404"));
    CHECK(Contains(run.err, "no dead letter with id 999"));

    run = RunCli(CliSettings(dir, f.port()), {"dlq", "list", "since=yesterday"});
    CHECK(run.code == kExitProblems);
    CHECK(Contains(run.err, "400"));
    CHECK(Contains(run.err, "since"));

    run = RunCli(CliSettings(dir, f.port(), "wrong-token"), {"status"});
    CHECK(run.code == kExitProblems);
    CHECK(Contains(run.err, "401"));
    CHECK(Contains(run.err, "bearer token"));
    CHECK(run.out.empty());
  }

  TEST_CASE("cli exits 1 naming host and port when the service is unreachable") {
    TempDir dir;
    int port = FreePort();
    CliRun run = RunCli(CliSettings(dir, port), {"status"});
    CHECK(run.code == kExitProblems);
    CHECK(Contains(run.err, "127.0.0.1:" + std::to_string(port)));
    CHECK(Contains(run.err, "cannot reach"));
    CHECK(run.out.empty());
  }
}

}  // namespace crmsync::engine
