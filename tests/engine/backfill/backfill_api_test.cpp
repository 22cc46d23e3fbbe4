// backfill_api_test.cpp: POST/GET /api/v1/backfill over real HTTP on
// loopback, BackfillRuns on a real SQLite file (backfill/backfill_api.h):
// a chunk is accepted with its bad lines named, offsets are the run's, a
// chunk sent again after a lost answer or a failed save queues nothing,
// --strict writes nothing of a chunk with a bad line, and every refusal
// (auth, query, store failure, conflicts with the mirror) is named.
//
// Nothing sleeps: every request is synchronous.
#include <doctest/doctest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <atomic>
#include <memory>
#include <string>

#include "backfill/backfill_api.h"
#include "common/clock.h"
#include "http/router.h"
#include "http/server.h"
#include "metrics/metrics.h"
#include "store/sqlite_store.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::HttpCall;
using crmsync::testing::HttpResult;
using crmsync::testing::TempDir;
using Poco::JSON::Array;
using Poco::JSON::Object;

const char kToken[] = "admin-secret-token";

// The store's PluginStates, whose saves fail while `fail_saves` is set (the
// service dies between the chunk's write and its offset's).
class FlakyStates : public PluginStates {
 public:
  explicit FlakyStates(PluginStates* inner) : inner_(inner) {}
  std::optional<std::string> LoadPluginState(const std::string& plugin,
                                             const std::string& key) override {
    return inner_->LoadPluginState(plugin, key);
  }
  void SavePluginState(const std::string& plugin, const std::string& key, const std::string& value,
                       int64_t now_ms) override {
    if (fail_saves) throw StoreError("disk I/O error (test)");
    inner_->SavePluginState(plugin, key, value, now_ms);
  }
  std::atomic<bool> fail_saves{false};

 private:
  PluginStates* inner_;
};

// The store's EventIntake, whose accepts fail while `fail` is set.
class FlakyIntake : public EventIntake {
 public:
  explicit FlakyIntake(EventIntake* inner) : inner_(inner) {}
  std::vector<AcceptResult> Accept(const std::vector<IncomingEvent>& events,
                                   int64_t now_ms) override {
    ++calls;
    if (fail) throw StoreError("database is locked (test)");
    return inner_->Accept(events, now_ms);
  }
  std::atomic<bool> fail{false};
  std::atomic<int> calls{0};

 private:
  EventIntake* inner_;
};

class BackfillServer {
 public:
  BackfillServer() {
    SqliteOptions options;
    options.path = dir_.File("crmsync.db");
    store_ = SqliteStore::Open(options);
    states_ = std::make_unique<FlakyStates>(store_.get());
    intake_ = std::make_unique<FlakyIntake>(store_.get());
    runs_ = std::make_unique<BackfillRuns>(states_.get(), intake_.get(), &clock_, true, &metrics_,
                                           [this] { ++wakes_; });
    auto router = std::make_shared<Router>();
    BackfillApiContext ctx;
    ctx.runs = runs_.get();
    ctx.stats = [this] { return store_->Stats(); };
    ctx.admin_token = kToken;
    ctx.shutting_down = &shutting_down_;
    AddBackfillRoutes(*router, ctx);
    HttpServerOptions server_options;
    server_options.port = crmsync::testing::FreePort();
    server_ = std::make_unique<HttpServer>(server_options, router);
    server_->Start();
  }
  ~BackfillServer() {
    server_->Stop();
    server_.reset();
    store_.reset();
  }

  HttpResult Post(const std::string& query, const std::string& body,
                  const std::string& token = kToken) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    return HttpCall(server_->port(), "POST", "/api/v1/backfill" + query, body, headers);
  }
  HttpResult Get(const std::string& path, const std::string& token = kToken) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    return HttpCall(server_->port(), "GET", "/api/v1/backfill" + path, "", headers);
  }

  SqliteStore& store() { return *store_; }
  FlakyStates& states() { return *states_; }
  FlakyIntake& intake() { return *intake_; }
  BackfillRuns& runs() { return *runs_; }
  ManualClock& clock() { return clock_; }
  MetricsRegistry& metrics() { return metrics_; }
  std::atomic<bool>& shutting_down() { return shutting_down_; }
  int wakes() const { return wakes_.load(); }
  int64_t BulkReady() { return store_->Stats().ready_by_priority[static_cast<int>(Priority::kBulk)]; }

 private:
  TempDir dir_;
  ManualClock clock_;
  MetricsRegistry metrics_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<int> wakes_{0};
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<FlakyStates> states_;
  std::unique_ptr<FlakyIntake> intake_;
  std::unique_ptr<BackfillRuns> runs_;
  std::unique_ptr<HttpServer> server_;
};

Object::Ptr Json(const HttpResult& r) {
  Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(r.body);
  REQUIRE(parsed.type() == typeid(Object::Ptr));
  return parsed.extract<Object::Ptr>();
}

int64_t IntOf(const Object::Ptr& o, const char* key) { return o->getValue<int64_t>(key); }

std::string Lead(int n, const std::string& extra = "") {
  return "{\"lead\":{\"id\":\"L" + std::to_string(n) + "\",\"name\":\"Lead " + std::to_string(n) +
         "\"" + extra + "}}\n";
}

// Accepts a live lead.created for `id` into the store, as intake would.
void AcceptLive(SqliteStore& store, const std::string& id, const std::string& occurred_at,
                const std::string& entity_json, int64_t now_ms) {
  IncomingEvent live;
  live.event_id = "live-" + id;
  live.type = EventType::kLeadCreated;
  live.kind = EntityKind::kLead;
  live.entity_id = id;
  live.occurred_at = occurred_at;
  live.entity_json = entity_json;
  store.Accept({live}, now_ms);
}

TEST_SUITE("backfill") {
  TEST_CASE("a chunk is accepted as bulk jobs, its bad lines named, the run's offset kept") {
    BackfillServer s;
    std::string body = Lead(1) + "{\"lead\":{\"id\":\"L2\",\"email\":\"nope\"}}\n" + "\n" + Lead(3) +
                       "{\"property\":{\"id\":\"P1\",\"title\":\"2BHK\"}}\n";
    HttpResult r = s.Post("?run=r1&offset=0&total=10&source=leads.ndjson", body);
    REQUIRE(r.status == 200);
    Object::Ptr a = Json(r);
    CHECK(IntOf(a, "accepted") == 3);
    CHECK(IntOf(a, "duplicates") == 0);
    CHECK(IntOf(a, "nextOffset") == 5);
    Array::Ptr invalid = a->getArray("invalid");
    REQUIRE(invalid->size() == 1);
    CHECK(IntOf(invalid->getObject(0), "line") == 2);
    CHECK(invalid->getObject(0)->getArray("errors")->getObject(0)->getValue<std::string>("path") ==
          "$.lead.email");
    CHECK(r.body.find("nope") == std::string::npos);  // values are never echoed
    CHECK(s.BulkReady() == 3);
    CHECK(s.wakes() == 1);

    // The jobs look the record up before creating.
    std::vector<LeasedJob> jobs = s.store().Lease("mock-crm", 10, s.clock().NowMs(), 60000);
    REQUIRE(jobs.size() == 3);
    for (const LeasedJob& job : jobs) {
      CHECK(job.in_doubt);
      CHECK(job.priority == Priority::kBulk);
      CHECK(job.event_id.rfind("backfill:r1:", 0) == 0);
    }

    HttpResult got = s.Get("/r1");
    REQUIRE(got.status == 200);
    Object::Ptr run = Json(got);
    CHECK(run->getValue<std::string>("state") == "running");
    CHECK(run->getValue<std::string>("source") == "leads.ndjson");
    CHECK(IntOf(run, "nextOffset") == 5);
    CHECK(IntOf(run, "totalLines") == 10);
    CHECK(IntOf(run, "accepted") == 3);
    CHECK(IntOf(run, "invalid") == 1);
    CHECK(IntOf(run, "blank") == 1);
    CHECK(IntOf(run->getArray("invalidLines")->getObject(0), "line") == 2);
    CHECK(run->getObject("queue")->has("bulkReady"));

    std::string metrics = s.metrics().RenderPrometheus();
    CHECK(metrics.find("crmsync_backfill_lines_total{result=\"accepted\"} 3") != std::string::npos);
    CHECK(metrics.find("crmsync_backfill_lines_total{result=\"invalid\"} 1") != std::string::npos);
  }

  TEST_CASE("a chunk must start where the run continues") {
    BackfillServer s;
    HttpResult fresh = s.Post("?run=r1&offset=2", Lead(3));
    CHECK(fresh.status == 409);
    CHECK(Json(fresh)->getValue<std::string>("error") ==
          "run r1 continues at offset 0 (line 1), not 2");
    REQUIRE(s.Post("?run=r1&offset=0", Lead(1) + Lead(2)).status == 200);
    HttpResult again = s.Post("?run=r1&offset=0", Lead(1) + Lead(2));
    CHECK(again.status == 409);
    CHECK(IntOf(Json(s.Get("/r1")), "nextOffset") == 2);
    CHECK(Json(again)->getValue<std::string>("error").find("continues at offset 2 (line 3)") !=
          std::string::npos);
    CHECK(s.Post("?run=r1&offset=7", Lead(8)).status == 409);
    HttpResult next = s.Post("?run=r1&offset=2&final=true", Lead(3));
    REQUIRE(next.status == 200);
    CHECK(IntOf(Json(next), "nextOffset") == 3);
    Object::Ptr totals = Json(next)->getObject("totals");
    CHECK(totals->getValue<std::string>("state") == "finished");
    CHECK(IntOf(totals, "accepted") == 3);
    CHECK(s.BulkReady() == 3);
  }

  TEST_CASE("a chunk sent again after its offset was lost queues nothing: its lines are duplicates") {
    BackfillServer s;
    s.states().fail_saves = true;
    HttpResult lost = s.Post("?run=r1&offset=0", Lead(1) + Lead(2));
    CHECK(lost.status == 503);
    CHECK(Json(lost)->getValue<std::string>("error").find("send it again") != std::string::npos);
    CHECK(s.BulkReady() == 2);  // the events are durable, the offset is not
    s.states().fail_saves = false;
    HttpResult again = s.Post("?run=r1&offset=0", Lead(1) + Lead(2) + Lead(3));
    REQUIRE(again.status == 200);
    Object::Ptr a = Json(again);
    CHECK(IntOf(a, "duplicates") == 2);
    CHECK(IntOf(a, "accepted") == 1);
    CHECK(s.BulkReady() == 3);
  }

  TEST_CASE("a store failure answers 503 and keeps the offset") {
    BackfillServer s;
    s.intake().fail = true;
    HttpResult r = s.Post("?run=r1&offset=0", Lead(1));
    CHECK(r.status == 503);
    CHECK(r.headers["Retry-After"] == "1");
    CHECK(Json(r)->getValue<std::string>("error").find("database is locked") != std::string::npos);
    CHECK(s.Get("/r1").status == 404);
    s.intake().fail = false;
    CHECK(s.Post("?run=r1&offset=0", Lead(1)).status == 200);
  }

  TEST_CASE("a long chunk goes to the store in short writes") {
    BackfillServer s;
    std::string body;
    for (int i = 1; i <= 1000; ++i) body += Lead(i);
    HttpResult r = s.Post("?run=big&offset=0", body);
    REQUIRE(r.status == 200);
    CHECK(IntOf(Json(r), "accepted") == 1000);
    CHECK(s.intake().calls == static_cast<int>((1000 + kBackfillAcceptBatch - 1) / kBackfillAcceptBatch));
    CHECK(s.BulkReady() == 1000);
  }

  TEST_CASE("--strict: a bad line refuses the whole chunk, and the run says where it stopped") {
    BackfillServer s;
    REQUIRE(s.Post("?run=r1&offset=0&strict=true", Lead(1)).status == 200);
    HttpResult r = s.Post("?run=r1&offset=1&strict=true",
                          Lead(2) + "{\"lead\":{\"id\":\"L3\",\"budgetMin\":\"lots\"}}\n" + Lead(4));
    CHECK(r.status == 422);
    Object::Ptr a = Json(r);
    CHECK(a->getArray("details")->getObject(0)->getValue<std::string>("path") == "$.lead.budgetMin");
    CHECK(a->getValue<std::string>("error") ==
          "--strict: line 3: $.lead.budgetMin: must be a number; nothing of this chunk was imported");
    CHECK(s.BulkReady() == 1);  // not L2 either
    Object::Ptr run = Json(s.Get("/r1"));
    CHECK(run->getValue<std::string>("state") == "stopped");
    CHECK(IntOf(run, "nextOffset") == 1);
    // Fixed, the same chunk goes in.
    REQUIRE(s.Post("?run=r1&offset=1&strict=true", Lead(2) + Lead(3) + Lead(4)).status == 200);
    CHECK(s.BulkReady() == 4);
    CHECK(Json(s.Get("/r1"))->getValue<std::string>("state") == "running");
  }

  TEST_CASE("a record that conflicts with the stored entity is a bad line, its batch goes in") {
    BackfillServer s;
    AcceptLive(s.store(), "L2", "2026-01-01T00:00:00Z", R"({"id":"L2","budgetMin":10,"budgetMax":20})",
               s.clock().NowMs());
    HttpResult r = s.Post("?run=r1&offset=0",
                          Lead(1) + Lead(2, ",\"budgetMin\":30,\"updatedAt\":\"2026-06-01T00:00:00Z\"") +
                              Lead(3));
    REQUIRE(r.status == 200);
    Object::Ptr a = Json(r);
    CHECK(IntOf(a, "accepted") == 2);
    Array::Ptr invalid = a->getArray("invalid");
    REQUIRE(invalid->size() == 1);
    CHECK(IntOf(invalid->getObject(0), "line") == 2);
    CHECK(invalid->getObject(0)->getArray("errors")->getObject(0)->getValue<std::string>("path") ==
          "$.lead.budgetMin");
  }

  TEST_CASE("a record older than the mirror does not overwrite a live event's newer fields") {
    BackfillServer s;
    AcceptLive(s.store(), "L1", "2026-06-01T00:00:00Z", R"({"id":"L1","name":"New name"})",
               s.clock().NowMs());
    HttpResult r = s.Post("?run=r1&offset=0",
                          Lead(1, ",\"updatedAt\":\"2025-01-01T00:00:00Z\""));
    REQUIRE(r.status == 200);
    CHECK(IntOf(Json(r), "accepted") == 1);
    std::optional<std::string> mirror = s.store().GetMirror(EntityKind::kLead, "L1");
    REQUIRE(mirror);
    CHECK(mirror->find("New name") != std::string::npos);
  }

  TEST_CASE("runs are listed newest first, and shown in the runtime status") {
    BackfillServer s;
    REQUIRE(s.Post("?run=first&offset=0&final=true", Lead(1)).status == 200);
    s.clock().Advance(1000);
    REQUIRE(s.Post("?run=second&offset=0", Lead(2)).status == 200);
    HttpResult list = s.Get("");
    REQUIRE(list.status == 200);
    Array::Ptr runs = Json(list)->getArray("runs");
    REQUIRE(runs->size() == 2);
    CHECK(runs->getObject(0)->getValue<std::string>("run") == "second");
    CHECK(runs->getObject(1)->getValue<std::string>("state") == "finished");
    std::string runtime = BackfillRuntimeJson(s.runs(), s.store().Stats());
    Object::Ptr status = Poco::JSON::Parser().parse(runtime).extract<Object::Ptr>();
    CHECK(IntOf(status, "running") == 1);
    CHECK(status->getObject("latest")->getValue<std::string>("run") == "second");
    CHECK(IntOf(status->getObject("queue"), "bulkReady") == 2);
    CHECK_FALSE(status->getObject("queue")->getValue<bool>("synced"));
  }

  TEST_CASE("every refusal names what is wrong") {
    BackfillServer s;
    CHECK(s.Post("?run=r1&offset=0", Lead(1), "").status == 401);
    CHECK(s.Post("?run=r1&offset=0", Lead(1), "wrong").status == 401);
    CHECK(s.Get("", "").status == 401);
    CHECK(s.Get("/r1", "").status == 401);

    HttpResult missing = s.Post("?offset=0", Lead(1));
    CHECK(missing.status == 400);
    CHECK(Json(missing)->getValue<std::string>("error").find("run: required") == 0);
    CHECK(s.Post("?run=r1", Lead(1)).status == 400);
    HttpResult unknown = s.Post("?run=r1&offset=0&strcit=true", Lead(1));
    CHECK(unknown.status == 400);
    CHECK(Json(unknown)->getValue<std::string>("error").find("unknown query parameter 'strcit'") == 0);
    CHECK(s.Post("?run=r1&offset=-1", Lead(1)).status == 400);
    CHECK(s.Post("?run=r1&offset=0&strict=yes", Lead(1)).status == 400);
    CHECK(s.Post("?run=r1&run=r2&offset=0", Lead(1)).status == 400);
    HttpResult bad_run = s.Post("?run=a%3Ab&offset=0", Lead(1));
    CHECK(bad_run.status == 400);
    CHECK(Json(bad_run)->getValue<std::string>("error").find("run must be") == 0);
    CHECK(s.Get("/a%3Ab").status == 400);
    HttpResult none = s.Get("/nosuch");
    CHECK(none.status == 404);
    CHECK(Json(none)->getValue<std::string>("error") == "no backfill run 'nosuch'");

    std::string body;
    for (int i = 0; i <= kMaxBackfillChunkLines; ++i) body += "\n";
    HttpResult too_many = s.Post("?run=r1&offset=0", body);
    CHECK(too_many.status == 400);
    CHECK(Json(too_many)->getValue<std::string>("error").find("at most 5000 per request") !=
          std::string::npos);

    s.shutting_down() = true;
    HttpResult stopping = s.Post("?run=r1&offset=0", Lead(1));
    CHECK(stopping.status == 503);
    CHECK(s.BulkReady() == 0);
  }

  TEST_CASE("a run's state reads back as written") {
    BackfillRun run;
    run.run = "r1";
    run.source = "leads.ndjson";
    run.state = "stopped";
    run.started_ms = 1'700'000'000'123;
    run.updated_ms = 1'700'000'005'000;
    run.next_offset = 42;
    run.total_lines = 100;
    run.accepted = 40;
    run.unchanged = 1;
    run.duplicates = 2;
    run.invalid = 1;
    run.blank = 1;
    run.bad_lines.push_back({7, "$.lead.email", "must be an email address (name@domain.tld)"});
    run.stopped_reason = "line 7: ...";
    BackfillRun back;
    REQUIRE(ParseBackfillRun(BackfillRunJson(run), &back));
    CHECK(BackfillRunJson(back) == BackfillRunJson(run));
    CHECK(back.started_ms == run.started_ms);
    CHECK_FALSE(ParseBackfillRun("not json", &back));
    CHECK_FALSE(ParseBackfillRun("{}", &back));
  }
}

}  // namespace
}  // namespace crmsync::engine
