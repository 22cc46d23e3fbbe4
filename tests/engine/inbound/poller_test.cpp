// poller_test.cpp: change polling (inbound/poller.h, docs/design.md §5,
// "Change polling") over an in-process CRM that serves scripted pages and a
// SQLite store on a real file: the first poll's empty cursor and clock, one
// delivery per page recorded before the cursor is saved, `more` read at once,
// a restart resuming from the saved cursor, a crash between record and save
// applying nothing twice, kNotFound, backoff, a page without next_cursor, the
// rate budget, the lease between two engines, the status (never the cursor),
// and the inbound.poll settings. Time is a ManualClock; passes run with
// PollOnce() on the test's thread.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "admin/runtime_status.h"
#include "common/clock.h"
#include "config/settings.h"
#include "crmsync/adapter.h"
#include "dispatch/rate_limiter.h"
#include "inbound/poller.h"
#include "inbound_fixtures.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"
#include "poll_fixtures.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::TempDir;
using inbound_test::Contains;
using inbound_test::kT0;
using inbound_test::OpenStore;
using namespace poll_test;  // NOLINT

// A poller over the script CRM and a store file; Restart() makes a new store
// and poller on the same file, as a new process would.
struct PollRig {
  explicit PollRig(std::vector<EntityKind> entities = {EntityKind::kLead},
                   RateLimiter* limiter = nullptr, std::vector<std::string> secrets = {})
      : entities(std::move(entities)), limiter(limiter), secrets(std::move(secrets)) {
    Restart();
  }
  void Restart() {
    poller.reset();
    states.reset();
    store.reset();
    store = OpenStore(dir.File("state.db"));
    states = std::make_unique<WatchedStates>(store.get(), store.get());
    PollerOptions options;
    options.plugin = kCrm;
    options.interval_ms = kInterval;
    options.entities = entities;
    options.secrets = secrets;
    options.paused = [this] { return sync_disabled.load(); };
    poller = std::make_unique<Poller>(options, &guarded, store.get(), states.get(), limiter, &clock,
                                      &metrics);
    poller->OnRecorded([this] { ++woken; });
  }
  std::optional<std::string> Cursor(EntityKind kind = EntityKind::kLead) {
    return store->LoadPluginState(kPollStatePlugin, poller->CursorKey(kind));
  }
  std::vector<InboundDelivery> Pending() { return store->PendingDeliveries(100); }
  int64_t Requests(const std::string& entity, const std::string& result) {
    return metrics.CounterValue("crmsync_poll_requests_total",
                                {{"entity", entity}, {"result", result}});
  }
  size_t Calls() {
    std::lock_guard<std::mutex> lock(crm.mu);
    return crm.requests.size();
  }
  PollRequest LastRequest() {
    std::lock_guard<std::mutex> lock(crm.mu);
    REQUIRE(!crm.requests.empty());
    return crm.requests.back();
  }
  void Script(std::vector<Answer> answers, EntityKind kind = EntityKind::kLead) {
    std::lock_guard<std::mutex> lock(crm.mu);
    for (Answer& a : answers) crm.scripts[kind].push_back(std::move(a));
  }

  std::vector<EntityKind> entities;
  RateLimiter* limiter;
  std::vector<std::string> secrets;
  TempDir dir;
  ManualClock clock{kT0};
  MetricsRegistry metrics;
  ScriptCrm crm;
  GuardedAdapter guarded{&crm, kCrm};
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<WatchedStates> states;
  std::unique_ptr<Poller> poller;
  int woken = 0;
  std::atomic<bool> sync_disabled{false};
};

TEST_SUITE("engine.inbound") {
  TEST_CASE("poller: the first poll asks from an empty cursor at the clock's time") {
    PollRig rig;
    rig.Script({Page({}, "c1")});
    CHECK(rig.poller->PollOnce() == 1);
    REQUIRE(rig.Calls() == 1);
    PollRequest first = rig.LastRequest();
    CHECK(first.entity_kind == EntityKind::kLead);
    CHECK(first.cursor == "");
    CHECK(first.now_ms == kT0);
    // An empty page moves the cursor but records nothing and wakes nobody.
    CHECK(rig.Cursor() == std::optional<std::string>("c1"));
    CHECK(rig.Pending().empty());
    CHECK(rig.woken == 0);
    CHECK(rig.Requests("lead", "ok") == 1);
  }

  TEST_CASE("poller: until a first cursor is saved, every attempt asks from the first one's time") {
    PollRig rig;
    rig.Script({Failed(crmsync::Status::Retryable("CRM away"))});
    rig.poller->PollOnce();
    REQUIRE(rig.Calls() == 1);
    CHECK(rig.LastRequest().now_ms == kT0);
    // Hours later, and after a restart, the start has not moved: what changed
    // meanwhile is asked for.
    rig.clock.Advance(2 * 3600 * 1000);
    rig.Restart();
    rig.Script({Page({}, "c1")});
    rig.poller->PollOnce();
    REQUIRE(rig.Calls() == 2);
    CHECK(rig.LastRequest().cursor == "");
    CHECK(rig.LastRequest().now_ms == kT0);
    CHECK(rig.Cursor() == std::optional<std::string>("c1"));
  }

  TEST_CASE("poller: each page is one delivery, recorded before its cursor is saved") {
    PollRig rig;
    rig.Script({Page({Change("crm_1", "CONTACTED", "2026-12-03T10:00:00Z"),
                      Change("crm_2", "QUALIFIED", "2026-12-03T10:00:01Z")},
                     "c1")});
    rig.poller->PollOnce();
    std::vector<InboundDelivery> pending = rig.Pending();
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].id.rfind("poll-lead-", 0) == 0);
    CHECK(pending[0].plugin == kCrm);
    CHECK(pending[0].event == "poll");
    REQUIRE(pending[0].changes.size() == 2);
    CHECK(pending[0].changes[0].external_id == "crm_1");
    CHECK(pending[0].changes[1].external_id == "crm_2");
    CHECK(pending[0].changes[1].fields_json == R"({"status":"QUALIFIED"})");
    // The delivery was pending when the cursor was saved.
    CHECK(rig.states->pending_at_save == std::vector<int>{1});
    CHECK(rig.Cursor() == std::optional<std::string>("c1"));
    CHECK(rig.woken == 1);
    CHECK(rig.metrics.CounterValue("crmsync_poll_changes_total", {{"entity", "lead"}}) == 2);

    // The next page, an interval later, asks from the saved cursor.
    rig.Script({Page({Change("crm_3", "VIEWED", "2026-12-03T10:05:00Z")}, "c2")});
    rig.clock.Advance(kInterval);
    rig.poller->PollOnce();
    CHECK(rig.LastRequest().cursor == "c1");
    pending = rig.Pending();
    REQUIRE(pending.size() == 2);
    CHECK(pending[1].changes[0].external_id == "crm_3");
    CHECK(rig.Cursor() == std::optional<std::string>("c2"));
  }

  TEST_CASE("poller: more=true reads the next page at once, the last page waits the interval") {
    PollRig rig;
    rig.Script({Page({Change("crm_1", "CONTACTED", "t1")}, "c1", true),
                Page({Change("crm_2", "CONTACTED", "t2")}, "c2", false),
                Page({}, "c3")});
    CHECK(rig.poller->PollOnce() == 2);
    REQUIRE(rig.Calls() == 2);
    CHECK(rig.LastRequest().cursor == "c1");
    CHECK(rig.Pending().size() == 2);
    CHECK(rig.poller->NextDueMs() == kT0 + kInterval);
    CHECK(rig.poller->PollOnce() == 0);
    rig.clock.Advance(kInterval - 1);
    CHECK(rig.poller->PollOnce() == 0);
    CHECK(rig.Calls() == 2);
    rig.clock.Advance(1);
    CHECK(rig.poller->PollOnce() == 1);
    CHECK(rig.LastRequest().cursor == "c2");
  }

  TEST_CASE("poller: nothing is polled while sync is disabled, and it resumes from the kept cursor") {
    PollRig rig;
    rig.Script({Page({}, "c1")});
    rig.poller->PollOnce();
    rig.sync_disabled = true;
    rig.clock.Advance(3 * kInterval);
    CHECK(rig.poller->PollOnce() == 0);
    CHECK(rig.Calls() == 1);
    CHECK(rig.poller->Status().paused);
    rig.sync_disabled = false;
    rig.Script({Page({Change("crm_9", "CONTACTED", "2026-12-03T10:00:00Z")}, "c2")});
    CHECK(rig.poller->PollOnce() == 1);
    CHECK(rig.LastRequest().cursor == "c1");
    CHECK_FALSE(rig.poller->Status().paused);
    CHECK(rig.Cursor() == std::optional<std::string>("c2"));
  }

  TEST_CASE("poller: a restart resumes from the saved cursor") {
    PollRig rig;
    rig.Script({Page({Change("crm_1", "CONTACTED", "t1")}, "c1")});
    rig.poller->PollOnce();
    rig.Restart();
    rig.Script({Page({}, "c1")});
    CHECK(rig.poller->PollOnce() == 1);  // a new process polls at once
    CHECK(rig.LastRequest().cursor == "c1");
    CHECK(rig.Pending().size() == 1);
  }

  TEST_CASE("poller: a crash between recording a page and saving its cursor applies it once") {
    PollRig rig;
    Answer page = Page({Change("crm_1", "CONTACTED", "t1"), Change("crm_2", "VIEWED", "t2")}, "c1");
    rig.Script({page});
    rig.states->fail_cursor_saves = true;
    rig.poller->PollOnce();
    CHECK(rig.Pending().size() == 1);
    CHECK(rig.Cursor() == std::nullopt);
    CHECK(rig.Requests("lead", "store_error") == 1);
    CHECK(Contains(rig.poller->Status().entities[0].last_error, "saving the cursor"));

    // The restarted engine reads the same page from the same cursor: its
    // delivery id is known, so nothing is recorded twice; now the cursor moves.
    rig.Restart();
    rig.Script({page});
    rig.poller->PollOnce();
    CHECK(rig.LastRequest().cursor == "");
    std::vector<InboundDelivery> pending = rig.Pending();
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].changes.size() == 2);
    CHECK(rig.woken == 1);  // only the first recording woke the worker
    CHECK(rig.Cursor() == std::optional<std::string>("c1"));
    CHECK(rig.metrics.CounterValue("crmsync_poll_changes_total", {{"entity", "lead"}}) == 2);
  }

  TEST_CASE("poller: kNotFound for an entity stops polling it for the run") {
    PollRig rig({EntityKind::kLead, EntityKind::kProperty});
    rig.Script({Page({}, "c1"), Page({}, "c2")});  // property has no script: kNotFound
    rig.poller->PollOnce();
    CHECK(rig.Calls() == 2);
    rig.clock.Advance(kInterval);
    rig.poller->PollOnce();
    REQUIRE(rig.Calls() == 3);
    CHECK(rig.LastRequest().entity_kind == EntityKind::kLead);
    CHECK(rig.Requests("property", "not_found") == 1);
    PollStatus status = rig.poller->Status();
    REQUIRE(status.entities.size() == 2);
    CHECK(status.entities[0].polling);
    CHECK_FALSE(status.entities[1].polling);
    CHECK(rig.Cursor(EntityKind::kProperty) == std::nullopt);
  }

  TEST_CASE("poller: retryable failures back off on the clock, doubling, and keep the cursor") {
    PollRig rig;
    rig.Script({Page({}, "c1")});
    rig.poller->PollOnce();
    rig.Script({Failed(Status::Retryable("CRM answered 503")),
                Failed(Status::Retryable("CRM answered 503")),
                Failed(Status::RateLimited("CRM answered 429", 7000)), Page({}, "c2")});
    rig.clock.Advance(kInterval);
    rig.poller->PollOnce();  // 503: 1 s
    CHECK(rig.Calls() == 2);
    rig.clock.Advance(999);
    rig.poller->PollOnce();
    CHECK(rig.Calls() == 2);
    rig.clock.Advance(1);
    rig.poller->PollOnce();  // 503 again: 2 s
    CHECK(rig.Calls() == 3);
    rig.clock.Advance(1999);
    rig.poller->PollOnce();
    CHECK(rig.Calls() == 3);
    rig.clock.Advance(1);
    rig.poller->PollOnce();  // 429 with Retry-After 7 s: more than the 4 s backoff
    CHECK(rig.Calls() == 4);
    rig.clock.Advance(6999);
    rig.poller->PollOnce();
    CHECK(rig.Calls() == 4);
    rig.clock.Advance(1);
    rig.poller->PollOnce();
    CHECK(rig.Calls() == 5);
    CHECK(rig.LastRequest().cursor == "c1");  // every retry from the kept cursor
    CHECK(rig.Cursor() == std::optional<std::string>("c2"));
    CHECK(rig.Requests("lead", "retryable") == 2);
    CHECK(rig.Requests("lead", "rate_limited") == 1);
    CHECK(rig.poller->Status().entities[0].last_error.empty());  // cleared by the success
    CHECK(rig.poller->NextDueMs() == rig.clock.NowMs() + kInterval);
  }

  TEST_CASE("poller: the backoff is capped at the interval") {
    PollRig rig;
    for (int i = 0; i < 10; ++i) rig.Script({Failed(Status::Retryable("timeout"))});
    int64_t wait = 0;
    for (int i = 0; i < 10; ++i) {
      rig.poller->PollOnce();
      wait = rig.poller->NextDueMs() - rig.clock.NowMs();
      rig.clock.Advance(wait);
    }
    CHECK(wait == kInterval);
  }

  TEST_CASE("poller: other errors wait the interval, logged masked, cursor kept") {
    PollRig rig({EntityKind::kLead}, nullptr, {"plainkey42"});
    rig.Script({Page({}, "c1"),
                Failed(Status::Unauthenticated("401 for token sk_live_abcdefghijklmnopqrstuvwx "
                                               "of ops@example.com with key plainkey42"))});
    rig.poller->PollOnce();
    rig.clock.Advance(kInterval);
    rig.poller->PollOnce();
    CHECK(rig.Requests("lead", "unauthenticated") == 1);
    EntityPollStatus status = rig.poller->Status().entities[0];
    CHECK(status.errors == 1);
    CHECK_FALSE(Contains(status.last_error, "ops@example.com"));
    CHECK_FALSE(Contains(status.last_error, "sk_live_abcdefghijklmnopqrstuvwx"));
    CHECK_FALSE(Contains(status.last_error, "plainkey42"));  // a configured secret
    CHECK(Contains(status.last_error, "401 for token"));
    CHECK(rig.poller->NextDueMs() == rig.clock.NowMs() + kInterval);
    CHECK(rig.Cursor() == std::optional<std::string>("c1"));
  }

  TEST_CASE("poller: a page without next_cursor is a plugin error: nothing recorded, cursor kept") {
    PollRig rig;
    rig.Script({Page({}, "c1"), Page({Change("crm_1", "CONTACTED", "t1")}, "")});
    rig.poller->PollOnce();
    rig.clock.Advance(kInterval);
    rig.poller->PollOnce();
    CHECK(rig.Requests("lead", "bad_page") == 1);
    CHECK(rig.Pending().empty());
    CHECK(rig.Cursor() == std::optional<std::string>("c1"));
    CHECK(Contains(rig.poller->Status().entities[0].last_error, "next_cursor"));
    CHECK(rig.poller->NextDueMs() == rig.clock.NowMs() + kInterval);
  }

  TEST_CASE("poller: more=true with an unchanged cursor is a plugin error, not a busy loop") {
    PollRig rig;
    rig.Script({Page({}, "c1"), Page({}, "c1", true), Page({}, "c1", true)});
    rig.poller->PollOnce();
    rig.clock.Advance(kInterval);
    CHECK(rig.poller->PollOnce() == 1);
    CHECK(rig.Requests("lead", "bad_page") == 1);
    CHECK(rig.poller->NextDueMs() == rig.clock.NowMs() + kInterval);
  }

  TEST_CASE("poller: each call takes a token from the rate limiter, none left means no call") {
    RateLimiter limiter(1.0);  // one request a second
    PollRig rig({EntityKind::kLead}, &limiter);
    REQUIRE(limiter.TryAcquire(kT0) == 0);  // the dispatcher took this second's token
    rig.Script({Page({}, "c1", true), Page({}, "c2", true), Page({}, "c3")});
    CHECK(rig.poller->PollOnce() == 0);
    CHECK(rig.Calls() == 0);
    int64_t due = rig.poller->NextDueMs();
    CHECK(due > kT0);
    CHECK(due <= kT0 + 1000);
    rig.clock.Advance(due - kT0);
    // One token: one page, though more pages are ready.
    CHECK(rig.poller->PollOnce() == 1);
    CHECK(rig.Calls() == 1);
    rig.clock.Advance(rig.poller->NextDueMs() - rig.clock.NowMs());
    CHECK(rig.poller->PollOnce() == 1);
    CHECK(rig.LastRequest().cursor == "c1");
  }

  TEST_CASE("poller: a 429 from polling reaches the dispatcher's limiter") {
    RateLimiter limiter(0);  // unlimited until the CRM says otherwise
    PollRig rig({EntityKind::kLead}, &limiter);
    rig.Script({Failed(Status::RateLimited("CRM answered 429", 5000))});
    rig.poller->PollOnce();
    CHECK(limiter.rate_limited_total() == 1);
    CHECK(limiter.windows_total() == 1);
  }

  TEST_CASE("poller: only the lease holder of two engines on one store polls") {
    TempDir dir;
    ManualClock clock(kT0);
    std::unique_ptr<SqliteStore> store = OpenStore(dir.File("state.db"));
    ScriptCrm crm_a, crm_b;
    GuardedAdapter a_adapter(&crm_a, kCrm), b_adapter(&crm_b, kCrm);
    crm_a.scripts[EntityKind::kLead] = {Page({}, "c1"), Page({}, "c2")};
    crm_b.scripts[EntityKind::kLead] = {Page({}, "c3")};
    Poller a(LeaseOptions("engine-a"), &a_adapter, store.get(), store.get(), nullptr, &clock, nullptr);
    Poller b(LeaseOptions("engine-b"), &b_adapter, store.get(), store.get(), nullptr, &clock, nullptr);
    CHECK(a.PollOnce() == 1);
    CHECK(b.PollOnce() == 0);
    CHECK(a.Status().leader);
    CHECK_FALSE(b.Status().leader);
    clock.Advance(kInterval);
    CHECK(a.PollOnce() == 1);  // renews
    CHECK(b.PollOnce() == 0);
    // Engine a stops; once its lease ran out, b takes over from a's cursor.
    clock.Advance(3 * kInterval);
    CHECK(b.PollOnce() == 1);
    CHECK(b.Status().leader);
    REQUIRE(crm_b.requests.size() == 1);
    CHECK(crm_b.requests[0].cursor == "c2");
  }

  TEST_CASE("poller: the admin status shows whether a cursor is kept, never the cursor") {
    PollRig rig;
    const std::string cursor = "after=42&token=eyJhbGciOiJIUzI1NiJ9.secret";
    rig.Script({Page({Change("crm_1", "CONTACTED", "t1")}, cursor)});
    rig.poller->PollOnce();
    RuntimeStatus runtime;
    runtime.poll = rig.poller->Status();
    std::string json = RuntimeStatusJson(runtime);
    CHECK_FALSE(Contains(json, "eyJhbGciOiJIUzI1NiJ9"));
    CHECK_FALSE(Contains(json, "after=42"));
    CHECK(Contains(json, R"("cursor":"set")"));
    CHECK(Contains(json, R"("enabled":true)"));
    CHECK(Contains(json, R"("intervalMs":60000)"));
    CHECK(Contains(json, R"("changes":1)"));
    CHECK(Contains(json, R"("lastSuccess":")"));
    CHECK(rig.poller->Status().entities[0].last_success_ms == kT0);

    RuntimeStatus off;
    CHECK(Contains(RuntimeStatusJson(off), R"("poll":{"enabled":false})"));
  }

  TEST_CASE("poller: its thread polls at start and wakes the inbound worker") {
    PollRig rig;
    rig.Script({Page({Change("crm_1", "CONTACTED", "t1")}, "c1")});
    std::promise<void> recorded;
    rig.poller->OnRecorded([&] { recorded.set_value(); });
    rig.poller->Start();
    REQUIRE(recorded.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    rig.poller->Stop();
    CHECK(rig.Pending().size() == 1);
    CHECK(rig.Cursor() == std::optional<std::string>("c1"));
  }

  TEST_CASE("inbound.poll: auto, on and off against the plugin's capabilities") {
    Capabilities webhooks_only;
    webhooks_only.inbound_webhooks = true;
    Capabilities polls;
    polls.change_polling = true;
    Capabilities both = polls;
    both.inbound_webhooks = true;
    bool poll = true;
    std::string error;
    CHECK(DecidePolling("auto", polls, "p", &poll, &error));
    CHECK(poll);
    CHECK(DecidePolling("auto", both, "p", &poll, &error));
    CHECK_FALSE(poll);  // webhooks come; polling only when asked (on)
    CHECK(DecidePolling("on", both, "p", &poll, &error));
    CHECK(poll);
    CHECK(DecidePolling("off", polls, "p", &poll, &error));
    CHECK_FALSE(poll);
    CHECK(DecidePolling("auto", webhooks_only, "p", &poll, &error));
    CHECK_FALSE(poll);
    CHECK(error.empty());

    CHECK_FALSE(DecidePolling("on", webhooks_only, "hubspot-crm", &poll, &error));
    CHECK(Contains(error, "inbound.poll"));
    CHECK(Contains(error, "hubspot-crm"));
    CHECK(Contains(error, "cannot poll"));
    error.clear();
    CHECK_FALSE(DecidePolling("sometimes", polls, "p", &poll, &error));
    CHECK(Contains(error, "inbound.poll"));
  }

  TEST_CASE("inbound.poll settings: defaults, and bad values name the key") {
    auto load = [](const std::vector<std::string>& overrides, std::vector<config::Diagnostic>* d) {
      config::LoadOptions options;
      options.overrides = overrides;
      return config::Settings::Load(options, d);
    };
    std::vector<config::Diagnostic> diagnostics;
    config::Settings defaults = load({}, &diagnostics);
    CHECK(defaults.GetString("inbound.poll") == "auto");
    CHECK(defaults.GetInt("inbound.poll_interval_ms") == 60000);
    for (const std::string& bad : {std::string("inbound.poll=sometimes"),
                                   std::string("inbound.poll_interval_ms=999"),
                                   std::string("inbound.poll_interval_ms=86400001")}) {
      INFO(bad);
      diagnostics.clear();
      load({bad}, &diagnostics);
      bool named = false;
      for (const config::Diagnostic& d : diagnostics) {
        named = named || (d.level == config::Diagnostic::Level::kError &&
                          Contains(d.message, bad.substr(0, bad.find('='))));
      }
      CHECK(named);
    }
  }
}

}  // namespace
}  // namespace crmsync::engine
