// redis_queue_test.cpp: the Redis queue (redis/redis_queue.h) against a real
// redis-server and a real PostgreSQL server, both started by the test on
// loopback (tests/support/redis_server.h, tests/engine/pg/pg_server.h).
//
// The store cases shared by SQLite and PostgreSQL (store_cases.inc) run
// unchanged with the queue on Redis; then what only Redis brings: entries in
// the priority streams, the delayed set and the dead stream; several engines
// sharing one queue; taking over a gone engine's entries; Redis losing its
// data; a relay that fails; and the errors of opening it.
//
// Time is passed in explicitly; Lease() does not block on Redis (block_ms 0),
// so no test waits on a timer. Each case has its own database and key prefix.
#include <doctest/doctest.h>
#include <signal.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/open_store.h"
#include "config/settings.h"
#include "crmsync/entities.h"
#include "crmsync/entities_json.h"
#include "pg_server.h"
#include "redis/redis_conn.h"
#include "redis/redis_queue.h"
#include "redis_server.h"
#include "store/pg_db.h"
#include "store/pg_store.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

namespace t = crmsync::testing;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kLeaseMs = 30'000;
const char kPlugin[] = "hubspot";

#include "../store/store_test_helpers.inc"

// One engine on the Redis queue, wired as the service wires it
// (app/open_store.h): the dispatcher's JobQueue role goes to the Redis queue,
// every other role to PostgreSQL. It is a Store only so that the shared store
// cases and helpers drive the pair unchanged.
class RedisEngine final : public Store {
 public:
  RedisEngine(std::unique_ptr<PgStore> pg, const RedisQueueOptions& options) : pg_(pg.get()) {
    opened_.state = std::move(pg);
    opened_.redis = RedisQueue::Open(pg_, options);
  }

  PgStore& state() { return *pg_; }
  RedisQueue& queue() { return *opened_.redis; }
  const std::string& consumer() const { return opened_.redis->consumer(); }
  std::string ReadyKey(int p) const { return opened_.redis->ReadyKey(p); }
  std::string DelayedKey() const { return opened_.redis->DelayedKey(); }
  std::string DeadKey() const { return opened_.redis->DeadKey(); }
  int64_t ReclaimEntries() { return opened_.redis->ReclaimEntries(); }

  // StoreHealth: both servers, as /readyz and the start-up line show them.
  std::string Describe() const override { return opened_.Describe(); }
  bool Check(std::string* why) noexcept override { return opened_.Check(why); }
  WriteOutcome LastWrite() const noexcept override { return pg_->LastWrite(); }
  bool ProbeWrite(std::string* why) noexcept override { return pg_->ProbeWrite(why); }
  int SchemaVersion() override { return pg_->SchemaVersion(); }

  // JobQueue: the Redis queue.
  std::vector<LeasedJob> Lease(const std::string& plugin, int max_jobs, int64_t now_ms,
                               int64_t lease_ms) override {
    return opened_.redis->Lease(plugin, max_jobs, now_ms, lease_ms);
  }
  void Complete(const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                int64_t now_ms) override {
    opened_.redis->Complete(plugin, outcomes, now_ms);
  }
  int64_t Promote(int64_t now_ms) override { return opened_.redis->Promote(now_ms); }
  int64_t ReleaseAllLeases() override { return opened_.redis->ReleaseAllLeases(); }
  int64_t NextDueMs() override { return opened_.redis->NextDueMs(); }

  // Every other role: PostgreSQL.
  SyncState GetSyncState(const std::string& plugin) override { return pg_->GetSyncState(plugin); }
  void SetSyncState(const std::string& plugin, bool enabled, const std::string& reason) override {
    pg_->SetSyncState(plugin, enabled, reason);
  }
  std::string WebhookRegistration(const std::string& plugin) override {
    return pg_->WebhookRegistration(plugin);
  }
  void SetWebhookRegistration(const std::string& plugin, const std::string& fingerprint,
                              int64_t now_ms) override {
    pg_->SetWebhookRegistration(plugin, fingerprint, now_ms);
  }
  std::optional<std::string> LoadPluginState(const std::string& plugin,
                                             const std::string& key) override {
    return pg_->LoadPluginState(plugin, key);
  }
  void SavePluginState(const std::string& plugin, const std::string& key, const std::string& value,
                       int64_t now_ms) override {
    pg_->SavePluginState(plugin, key, value, now_ms);
  }
  std::vector<AcceptResult> Accept(const std::vector<IncomingEvent>& events,
                                   int64_t now_ms) override {
    return pg_->Accept(events, now_ms);
  }
  QueueStats Stats() override { return pg_->Stats(); }
  std::vector<JobInfo> JobsForEntity(EntityKind kind, const std::string& entity_id,
                                     int limit) override {
    return pg_->JobsForEntity(kind, entity_id, limit);
  }
  std::vector<AuditRecord> AuditForEntity(EntityKind kind, const std::string& entity_id,
                                          int limit) override {
    return pg_->AuditForEntity(kind, entity_id, limit);
  }
  std::optional<std::string> GetMirror(EntityKind kind, const std::string& entity_id) override {
    return pg_->GetMirror(kind, entity_id);
  }
  std::vector<MirrorEntry> ListMirror(EntityKind kind, const std::string& plugin,
                                      const std::string& after_id, int limit) override {
    return pg_->ListMirror(kind, plugin, after_id, limit);
  }
  std::optional<MirrorEntry> GetMirrorEntry(EntityKind kind, const std::string& plugin,
                                            const std::string& id) override {
    return pg_->GetMirrorEntry(kind, plugin, id);
  }
  int64_t CountMirror(EntityKind kind) override { return pg_->CountMirror(kind); }
  RunJobCounts CountRunJobs(const std::string& event_id_prefix) override {
    return pg_->CountRunJobs(event_id_prefix);
  }
  std::vector<DeadLetter> ListDeadLetters(const DeadLetterFilter& filter) override {
    return pg_->ListDeadLetters(filter);
  }
  std::optional<DeadLetter> GetDeadLetter(int64_t id) override { return pg_->GetDeadLetter(id); }
  std::vector<int64_t> ReplayDeadLetters(const DeadLetterFilter& filter, int64_t now_ms) override {
    return pg_->ReplayDeadLetters(filter, now_ms);
  }
  int64_t PurgeDeadLetters(const DeadLetterFilter& filter) override {
    return pg_->PurgeDeadLetters(filter);
  }
  bool RecordDelivery(const InboundDelivery& delivery) override {
    return pg_->RecordDelivery(delivery);
  }
  std::vector<InboundDelivery> PendingDeliveries(int max) override {
    return pg_->PendingDeliveries(max);
  }
  std::vector<InboundResult> ApplyDelivery(const InboundDelivery& delivery,
                                           const InboundRules& rules, int64_t now_ms) override {
    return pg_->ApplyDelivery(delivery, rules, now_ms);
  }
  std::vector<ChangeRecord> Changes(int64_t after_seq, int limit) override {
    return pg_->Changes(after_seq, limit);
  }
  std::vector<PendingCallback> DueCallbacks(int64_t now_ms, int max) override {
    return pg_->DueCallbacks(now_ms, max);
  }
  void FinishCallback(int64_t seq, bool delivered, int attempts, int64_t retry_at_ms, bool dead,
                      const std::string& error, int64_t now_ms) override {
    pg_->FinishCallback(seq, delivered, attempts, retry_at_ms, dead, error, now_ms);
  }

 private:
  PgStore* pg_;
  OpenedStore opened_;
};

// One PostgreSQL database and one key prefix: the shared state of a set of
// engines; Open() makes one more engine on them.
struct QueueRig {
  std::string pg_url = t::NewPgDatabase();
  std::string redis_url = t::RedisUrl();
  std::string prefix = t::NewRedisPrefix();

  std::unique_ptr<RedisEngine> Open(int64_t reclaim_ms = 30000) const {
    PgOptions pg;
    pg.url = pg_url;
    pg.pool_size = 4;
    pg.announce = true;
    RedisQueueOptions options;
    options.url = redis_url;
    options.prefix = prefix;
    options.block_ms = 0;
    options.reclaim_ms = reclaim_ms;
    options.pool_size = 4;
    return std::make_unique<RedisEngine>(PgStore::Open(pg), options);
  }

  // A raw connection, to look at (or break) what the queue keeps in Redis.
  std::unique_ptr<RedisConn> Redis() const {
    return std::make_unique<RedisConn>(ParseRedisUrl(redis_url), 5000);
  }
  int64_t OutboxRows() const {
    PgConn conn(pg_url);
    return conn.Exec("SELECT count(*) FROM job_outbox").Int(0, 0);
  }
};

// The fields of the entries of a stream, oldest first ({"job": "7", ...}).
std::vector<std::map<std::string, std::string>> StreamEntries(RedisConn& redis,
                                                              const std::string& key) {
  std::vector<std::map<std::string, std::string>> out;
  RedisReply r = redis.Exec({"XRANGE", key, "-", "+"});
  for (const RedisReply& e : r.elements) {
    std::map<std::string, std::string> fields;
    const RedisReply& f = e.elements[1];
    for (size_t i = 0; i + 1 < f.elements.size(); i += 2) {
      fields[f.elements[i].text] = f.elements[i + 1].text;
    }
    out.push_back(fields);
  }
  return out;
}

// The store cases run against an engine on the Redis queue.
struct StoreUnderTest {
  QueueRig rig;
  std::unique_ptr<RedisEngine> store = rig.Open();
  /// Closes the engine and opens a new one on the same servers (a restart).
  void Reopen() {
    store.reset();
    store = rig.Open();
  }
};

std::string OpenError(const std::function<void()>& open) {
  try {
    open();
  } catch (const StoreError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_SUITE("engine.redis") {
#include "../store/store_cases.inc"

  TEST_CASE("what the state commits, the queue relays at its next lease, with no tick between") {
    QueueRig rig;
    auto engine = rig.Open();
    RedisQueue& queue = engine->queue();
    PgStore& state = engine->state();
    // Intake writes to PostgreSQL only; the queue hears of it from the state.
    state.Accept({LeadEvent("e1", "lead-1", "a")}, kT0);
    CHECK(rig.OutboxRows() == 1);
    std::vector<LeasedJob> leased = queue.Lease(kPlugin, 10, kT0 + 1, kLeaseMs);
    REQUIRE(leased.size() == 1u);
    CHECK(leased[0].event_id == "e1");
    CHECK(rig.OutboxRows() == 0);
    // So does a dead-letter replay from admin.
    queue.Complete(kPlugin, {Dead(leased[0], "PERMANENT", "422: email invalid", kT0 + 2)}, kT0 + 2);
    std::vector<int64_t> replayed = state.ReplayDeadLetters(DeadLetterFilter(), kT0 + 3);
    REQUIRE(replayed.size() == 1u);
    leased = queue.Lease(kPlugin, 10, kT0 + 4, kLeaseMs);
    REQUIRE(leased.size() == 1u);
    CHECK(leased[0].id == replayed[0]);
    // The relay follows this engine's own state, not a poll of the outbox:
    // another engine's accept waits for that engine (or a ticker's round).
    auto other = rig.Open();
    other->state().Accept({LeadEvent("e2", "lead-2", "b")}, kT0 + 5);
    CHECK(queue.Lease(kPlugin, 10, kT0 + 6, kLeaseMs).empty());
    CHECK(rig.OutboxRows() == 1);
    CHECK(LeaseOnly(*other, kT0 + 7).event_id == "e2");
  }

  TEST_CASE("a ready job is an entry in the stream of its priority, a retry a member of the delayed set") {
    QueueRig rig;
    auto store = rig.Open();
    int64_t lead_job = AcceptOne(*store, LeadEvent("e1", "lead-1", "a"), kT0);
    int64_t property_job = AcceptOne(*store, PropertyEvent("e2", "prop-1", "b"), kT0);
    CHECK(store->Promote(kT0) == 0);  // relays the outbox
    CHECK(rig.OutboxRows() == 0);
    auto redis = rig.Redis();
    auto high = StreamEntries(*redis, store->ReadyKey(0));
    auto low = StreamEntries(*redis, store->ReadyKey(2));
    REQUIRE(high.size() == 1u);
    REQUIRE(low.size() == 1u);
    CHECK(high[0]["job"] == std::to_string(lead_job));
    CHECK(high[0]["entity"] == "lead:lead-1");
    CHECK(high[0]["event"] == "e1");
    CHECK(low[0]["job"] == std::to_string(property_job));

    // Leased: the entries are pending for this engine's consumer.
    std::vector<LeasedJob> jobs = LeaseAll(*store, kT0 + 1);
    REQUIRE(jobs.size() == 2u);
    CHECK(jobs[0].id == lead_job);  // high priority first
    RedisReply pending = redis->Exec({"XPENDING", store->ReadyKey(0), "workers"});
    CHECK(pending.elements[0].AsInt() == 1);

    // A retry: acknowledged and deleted from the stream, a member of the
    // delayed set with its due time.
    store->Complete(kPlugin, {Retry(jobs[0], kT0 + 5000, kT0 + 2), Done(jobs[1])}, kT0 + 2);
    CHECK(redis->Exec({"XLEN", store->ReadyKey(0)}).AsInt() == 0);
    CHECK(redis->Exec({"XLEN", store->ReadyKey(2)}).AsInt() == 0);
    CHECK(store->Promote(kT0 + 3) == 0);
    CHECK(redis->Exec({"ZSCORE", store->DelayedKey(), std::to_string(lead_job)}).AsInt() ==
          kT0 + 5000);
    CHECK(store->NextDueMs() == kT0 + 5000);
    CHECK(store->Lease(kPlugin, 10, kT0 + 4, kLeaseMs).empty());

    // Due: made ready, the member removed, the job leased again.
    CHECK(store->Promote(kT0 + 5000) == 1);
    CHECK(redis->Exec({"ZCARD", store->DelayedKey()}).AsInt() == 0);
    LeasedJob again = LeaseOnly(*store, kT0 + 5001);
    CHECK(again.id == lead_job);
    CHECK(again.attempts == 1);
  }

  TEST_CASE("a delayed member with a stale due time is corrected, not dropped") {
    QueueRig rig;
    auto store = rig.Open();
    AcceptOne(*store, LeadEvent("e1", "lead-1", "a"), kT0);
    LeasedJob job = LeaseOnly(*store, kT0 + 1);
    store->Complete(kPlugin, {Retry(job, kT0 + 5000, kT0 + 2)}, kT0 + 2);
    store->Promote(kT0 + 3);
    // An older announcement of the job relayed a second time set an earlier time.
    auto redis = rig.Redis();
    redis->Exec({"ZADD", store->DelayedKey(), std::to_string(kT0 + 100), std::to_string(job.id)});
    CHECK(store->Promote(kT0 + 200) == 0);
    CHECK(redis->Exec({"ZSCORE", store->DelayedKey(), std::to_string(job.id)}).AsInt() ==
          kT0 + 5000);
    CHECK(store->Promote(kT0 + 5000) == 1);
    CHECK(LeaseOnly(*store, kT0 + 5001).id == job.id);
  }

  TEST_CASE("a dead-lettered job is an entry of the dead stream and stays in the dead letters") {
    QueueRig rig;
    auto store = rig.Open();
    AcceptOne(*store, LeadEvent("e1", "lead-1", "a"), kT0);
    LeasedJob job = DeadLetterOnly(*store, kT0 + 1, "PERMANENT", "400 from CRM: bad email");
    CHECK(store->Promote(kT0 + 2) == 0);
    auto redis = rig.Redis();
    auto dead = StreamEntries(*redis, store->DeadKey());
    REQUIRE(dead.size() == 1u);
    CHECK(dead[0]["job"] == std::to_string(job.id));
    CHECK(dead[0]["entity"] == "lead:lead-1");
    DeadLetterFilter all;
    REQUIRE(store->ListDeadLetters(all).size() == 1u);
    // A replay is a new ready job, announced like any other.
    std::vector<int64_t> replayed = store->ReplayDeadLetters(all, kT0 + 3);
    REQUIRE(replayed.size() == 1u);
    CHECK(LeaseOnly(*store, kT0 + 4).id == replayed[0]);
  }

  TEST_CASE("several engines on one queue never share a job or an entity, and keep each entity's order") {
    QueueRig rig;
    std::vector<std::unique_ptr<RedisEngine>> engines;
    for (int i = 0; i < 3; ++i) engines.push_back(rig.Open());
    // 6 threads, 2 per engine. Another engine's completions are relayed by its
    // next call; an engine that found nothing runs its ticker's Promote(),
    // which relays whatever is left.
    CheckConcurrentLeasing({engines[0].get(), engines[1].get(), engines[2].get()}, 6, 30, 4,
                           [](Store& store) { store.Promote(kT0 + 1); });
    // Every entry was acknowledged and deleted.
    auto redis = rig.Redis();
    for (int p = 0; p < 3; ++p) CHECK(redis->Exec({"XLEN", engines[0]->ReadyKey(p)}).AsInt() == 0);
  }

  TEST_CASE("a gone engine's entries and leases are taken over at once, the leased ones in doubt") {
    QueueRig rig;
    auto survivor = rig.Open();
    int64_t owner = 0;
    std::string gone_consumer;
    {
      auto doomed = rig.Open();
      owner = doomed->state().owner_id();
      gone_consumer = doomed->consumer();
      doomed->Accept({LeadEvent("e1", "lead-1", "a"), LeadEvent("e2", "lead-2", "b"),
                      LeadEvent("e3", "lead-3", "c")},
                     kT0);
      // One job leased (its entry pending and the job leased in PostgreSQL)...
      REQUIRE(doomed->Lease(kPlugin, 1, kT0, kLeaseMs).size() == 1u);
      // ...and one entry read but its job never leased: the engine died
      // between XREADGROUP and the UPDATE.
      auto redis = rig.Redis();
      RedisReply read = redis->Exec({"XREADGROUP", "GROUP", "workers", gone_consumer, "COUNT", "1",
                                     "STREAMS", doomed->ReadyKey(0), ">"});
      REQUIRE(read.elements.size() == 1u);
    }  // the engine is gone: its PostgreSQL session (liveness lock) ends
    CHECK(owner > 0);
    // The third job is still there for anyone.
    std::vector<LeasedJob> first = LeaseAll(*survivor, kT0 + 1);
    REQUIRE(first.size() == 1u);
    CHECK_FALSE(first[0].in_doubt);
    // The server releases the old session's lock a moment after it closed
    // (seconds, on a loaded machine). A gone consumer's entries are reclaimed
    // in a reclaim round, at most once a second of the engine's clock: each
    // poll alternates the time by a second so that every one is a round, as
    // the ticker's real clock makes them (a frozen clock made only the first
    // poll a round, and when the lock was still held then, the entries
    // stayed; found by the flake hunt at load 16).
    int64_t taken = 0;
    int64_t polls = 0;
    CHECK(t::WaitUntil([&] {
      taken += survivor->Promote(kT0 + 2 + (++polls % 2) * 1000);
      return taken >= 3;  // 1 lease returned + 2 entries re-added
    }));
    std::vector<LeasedJob> rest = LeaseAll(*survivor, kT0 + 3);
    REQUIRE(rest.size() == 2u);
    CHECK(std::count_if(rest.begin(), rest.end(), [](const LeasedJob& j) { return j.in_doubt; }) ==
          1);
    // The gone consumer is forgotten.
    auto redis = rig.Redis();
    RedisReply consumers = redis->Exec({"XINFO", "CONSUMERS", survivor->ReadyKey(0), "workers"});
    for (const RedisReply& c : consumers.elements) CHECK(c.elements[1].text != gone_consumer);
  }

  TEST_CASE("outbox rows an engine left unrelayed are relayed by another engine's ticker") {
    QueueRig rig;
    auto survivor = rig.Open();
    {
      auto doomed = rig.Open();
      AcceptOne(*doomed, LeadEvent("e1", "lead-1", "a"), kT0);  // committed, not relayed
    }
    CHECK(rig.OutboxRows() == 1);
    CHECK(survivor->Lease(kPlugin, 10, kT0 + 1, kLeaseMs).empty());  // nothing of its own
    survivor->Promote(kT0 + 1000);
    CHECK(rig.OutboxRows() == 0);
    CHECK(LeaseOnly(*survivor, kT0 + 1001).event_id == "e1");
  }

  TEST_CASE("an entry unacknowledged longer than reclaim_ms is re-added for any engine") {
    QueueRig rig;
    auto a = rig.Open(100);
    auto b = rig.Open(100);
    AcceptOne(*a, LeadEvent("e1", "lead-1", "a"), kT0);
    a->Promote(kT0);
    // A live engine read the entry and is stuck before leasing its job.
    auto redis = rig.Redis();
    REQUIRE(redis->Exec({"XREADGROUP", "GROUP", "workers", a->consumer(), "COUNT", "1", "STREAMS",
                         a->ReadyKey(0), ">"})
                .elements.size() == 1u);
    CHECK(b->Lease(kPlugin, 10, kT0 + 1, kLeaseMs).empty());
    // Redis counts idle time on its own clock: wait for the entry to be idle.
    CHECK(t::WaitUntil([&] { return b->ReclaimEntries() == 1; }));
    CHECK(LeaseOnly(*b, kT0 + 2).event_id == "e1");
  }

  TEST_CASE("when Redis loses its data every waiting job is announced again") {
    QueueRig rig;
    auto store = rig.Open();
    AcceptOne(*store, LeadEvent("e1", "lead-1", "a"), kT0);
    AcceptOne(*store, LeadEvent("e2", "lead-2", "b"), kT0);
    std::vector<LeasedJob> leased = store->Lease(kPlugin, 1, kT0 + 1, kLeaseMs);
    REQUIRE(leased.size() == 1u);
    LeasedJob first = leased[0];
    store->Complete(kPlugin, {Retry(first, kT0 + 1000, kT0 + 2)}, kT0 + 2);
    store->Promote(kT0 + 2);
    auto redis = rig.Redis();
    // Redis restarted empty: streams, groups and the delayed set are gone.
    for (const std::string& key : {store->ReadyKey(0), store->ReadyKey(1), store->ReadyKey(2),
                                   store->DelayedKey(), store->DeadKey()}) {
      redis->Exec({"DEL", key});
    }
    std::vector<LeasedJob> jobs = store->Lease(kPlugin, 10, kT0 + 3, kLeaseMs);
    REQUIRE(jobs.size() == 1u);
    CHECK(jobs[0].event_id == "e2");
    CHECK(redis->Exec({"ZSCORE", store->DelayedKey(), std::to_string(first.id)}).AsInt() ==
          kT0 + 1000);
    CHECK(store->Promote(kT0 + 1000) == 1);
    CHECK(LeaseOnly(*store, kT0 + 1001).id == first.id);
  }

  TEST_CASE("a Redis restart that kept the groups but lost entries is noticed and every waiting job announced") {
    // A server of this test's own, with an append-only file, restarted on the
    // same port: the groups come back, the run_id changes.
    t::TempDir dir;
    const int port = t::FreePort();
    auto start_server = [&] {
      auto server = std::make_unique<t::ChildProcess>(
          "/usr/bin/redis-server",
          std::vector<std::string>{"--port", std::to_string(port), "--bind", "127.0.0.1", "--save",
                                   "", "--appendonly", "yes", "--appendfsync", "always", "--dir",
                                   dir.path()});
      REQUIRE(t::WaitUntil([&] {
        try {
          return RedisConn(ParseRedisUrl("redis://127.0.0.1:" + std::to_string(port)), 1000)
                     .Exec({"PING"})
                     .text == "PONG";
        } catch (const StoreError&) {
          return false;
        }
      }));
      return server;
    };
    auto server = start_server();
    QueueRig rig;
    rig.redis_url = "redis://127.0.0.1:" + std::to_string(port);
    auto store = rig.Open();
    AcceptOne(*store, LeadEvent("e1", "lead-1", "a"), kT0);
    store->Promote(kT0);
    auto redis = rig.Redis();
    REQUIRE(redis->Exec({"XLEN", store->ReadyKey(0)}).AsInt() == 1);
    // What a restart from an older snapshot does: the entry is gone, the group stays.
    redis->Exec({"XTRIM", store->ReadyKey(0), "MAXLEN", "0"});
    redis.reset();
    server->Signal(SIGTERM);
    REQUIRE(server->WaitExit(std::chrono::seconds(20)));
    server = start_server();
    // The first calls find their pooled connections broken and fail; then
    // the ticker notices the new run_id and announces the job again.
    int64_t now = kT0 + 2000;
    CHECK(t::WaitUntil([&] {
      now += 1000;  // each pass is a new reclaim round
      try {
        store->Promote(now);
        return !store->Lease(kPlugin, 10, now, kLeaseMs).empty();
      } catch (const StoreError&) {
        return false;
      }
    }));
  }

  TEST_CASE("a relay Redis refuses keeps its rows in the outbox and sends them next time") {
    QueueRig rig;
    auto store = rig.Open();
    AcceptOne(*store, LeadEvent("e1", "lead-1", "a"), kT0);
    LeasedJob job = LeaseOnly(*store, kT0 + 1);
    auto redis = rig.Redis();
    redis->Exec({"SET", store->DelayedKey(), "not a sorted set"});
    store->Complete(kPlugin, {Retry(job, kT0 + 1000, kT0 + 2)}, kT0 + 2);
    std::string error = OpenError([&] { store->Promote(kT0 + 3); });
    CHECK(error.find("WRONGTYPE") != std::string::npos);
    CHECK(error.find(rig.redis_url.substr(8)) != std::string::npos);  // names host:port
    CHECK(rig.OutboxRows() == 1);
    redis->Exec({"DEL", store->DelayedKey()});
    store->Promote(kT0 + 4);
    CHECK(rig.OutboxRows() == 0);
    CHECK(store->Promote(kT0 + 1000) == 1);
    CHECK(LeaseOnly(*store, kT0 + 1001).id == job.id);
  }

  TEST_CASE("jobs waiting in PostgreSQL before the switch to Redis are announced at the first start") {
    std::string pg_url = t::NewPgDatabase();
    {
      PgOptions pg;
      pg.url = pg_url;
      auto plain = PgStore::Open(pg);  // queue.backend=store
      plain->Accept({LeadEvent("e1", "lead-1", "a"), LeadEvent("e2", "lead-2", "b")}, kT0);
    }
    QueueRig rig;
    rig.pg_url = pg_url;
    auto store = rig.Open();
    CHECK(LeaseAll(*store, kT0 + 1).size() == 2u);
  }

  TEST_CASE("describe and check name both servers, and check fails once Redis is gone") {
    QueueRig rig;
    auto store = rig.Open();
    std::string d = store->Describe();
    CHECK(d.find("postgres") != std::string::npos);
    CHECK(d.find("queue on redis 127.0.0.1:") != std::string::npos);
    CHECK(d.find(rig.prefix) != std::string::npos);
    std::string why;
    CHECK(store->Check(&why));
    t::StopRedis();
    CHECK_FALSE(store->Check(&why));
    CHECK(why.find("redis 127.0.0.1:") != std::string::npos);
  }

  TEST_CASE("opening names what is wrong with the Redis URL or server, never the password") {
    std::string pg_url = t::NewPgDatabase();
    auto open = [&](const std::string& url, const std::string& prefix = "crmsync") {
      return OpenError([&] {
        PgOptions pg;
        pg.url = pg_url;
        pg.announce = true;
        RedisQueueOptions options;
        options.url = url;
        options.prefix = prefix;
        options.timeout_ms = 2000;
        auto state = PgStore::Open(pg);
        RedisQueue::Open(state.get(), options);
      });
    };
    CHECK(open("").find("queue.redis_url is empty") != std::string::npos);
    CHECK(open(t::RedisUrl(), "").find("queue.redis_prefix is empty") != std::string::npos);
    CHECK(open("http://127.0.0.1:6379").find("must start with redis://") != std::string::npos);
    CHECK(open("rediss://127.0.0.1:6379").find("TLS") != std::string::npos);
    CHECK(open("redis://127.0.0.1:6379/x").find("database number") != std::string::npos);
    // A password with an unescaped '/' spills into the path: not echoed.
    std::string spilled = open("redis://u:se/cret@127.0.0.1:6379");
    CHECK_FALSE(spilled.empty());
    CHECK(spilled.find("cret") == std::string::npos);
    std::string in_path = open("redis://127.0.0.1:6379/se/cret");
    CHECK(in_path.find("percent-encoded") != std::string::npos);
    CHECK(in_path.find("cret") == std::string::npos);
    std::string refused = open("redis://:hunter2@127.0.0.1:" + std::to_string(t::FreePort()));
    CHECK(refused.find("cannot use the Redis queue") != std::string::npos);
    CHECK(refused.find("127.0.0.1:") != std::string::npos);
    CHECK(refused.find("hunter2") == std::string::npos);
    // A server that wants no password refuses one: named, not echoed.
    std::string auth = open("redis://:hunter2@" + t::RedisUrl().substr(8));
    CHECK(auth.find("AUTH") != std::string::npos);
    CHECK(auth.find("hunter2") == std::string::npos);
  }

  TEST_CASE("queue.backend=redis needs store.backend=postgres") {
    config::LoadOptions load;
    load.overrides = {"queue.backend=redis"};
    std::vector<config::Diagnostic> diagnostics;
    config::Settings settings = config::Settings::Load(load, &diagnostics);
    std::string message = OpenError([&] { OpenStore(settings); });
    CHECK(message.find("queue.backend=redis needs store.backend=postgres") != std::string::npos);
    CHECK(message.find("'sqlite'") != std::string::npos);
  }
}

}  // namespace crmsync::engine
