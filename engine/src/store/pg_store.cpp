// store/pg_store.cpp: the PostgreSQL store (pg_store.h): open, liveness, sync
// state, plugin state, and the transactions of intake and the queue, including
// the Redis queue's side. The rules they run are in queue/ and sync/, over SqlPort
// (PostgreSQL's texts: pg_sql.cpp; the schema: pg_schema.cpp); the admin reads
// are in pg_store_admin.cpp, deliveries and the change feed in
// pg_store_inbound.cpp.
// Locking, so that several engines can share one database:
// - an entity's head rule (at most one job in ready/delayed/leased) and
//   coalescing are decided under pg_advisory_xact_lock on the entity, taken in
//   sorted order at the start of Accept, Complete and ReplayDeadLetters;
// - leasing takes ready rows with FOR UPDATE SKIP LOCKED, so concurrent leasers
//   never wait on or hand out the same job;
// - a completion locks its job row and checks its lease token under that lock;
// - inbound applies are serialised by one advisory lock held to commit, which
//   also keeps the change feed's seq in commit order.
#include "store/pg_store.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include "common/clock.h"
#include "common/logging.h"
#include "crmsync/entities_json.h"
#include "queue/accept.h"
#include "queue/complete.h"
#include "queue/lease.h"
#include "store/pg_port.h"
#include "store/pg_schema.h"
#include "sync/plugin_state_rules.h"
#include "queue/store_codec.h"

namespace crmsync::engine {
namespace {

// A lease owner whose liveness lock is gone: its process (or connection) ended.
#define CRMSYNC_OWNER_GONE                                                                     \
  " lease_owner NOT IN (SELECT objid::text::integer FROM pg_locks WHERE locktype = 'advisory'" \
  " AND classid = 1668443507::oid AND objsubid = 2 AND granted"                                \
  " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
const char kSqlTryLock[] = "SELECT pg_try_advisory_xact_lock(hashtextextended($1::text, 0))";
// Liveness: a session lock (class 'crms', key = owner id) held while the store is open.
const char kSqlHoldOwner[] = "SELECT pg_advisory_lock(1668443507, $1::integer)";
const char kSqlRetakeOwner[] = "SELECT pg_try_advisory_lock(1668443507, $1::integer)";
const char kSqlPing[] = "SELECT 1";
const char kSqlNextOwner[] = "SELECT nextval('lease_owners')";
const char kSqlSchemaVersion[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
const char kSqlGetSyncState[] =
    "SELECT enabled, reason, changed_at FROM plugin_state WHERE plugin = $1";
const char kSqlSetSyncState[] =
    "INSERT INTO plugin_state (plugin, enabled, reason, changed_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT(plugin) DO UPDATE SET enabled = excluded.enabled, reason = excluded.reason, "
    "changed_at = excluded.changed_at";
// Ready jobs by priority then age; rows another engine is leasing are skipped.
const char kSqlLease[] =
    "UPDATE jobs j SET state = 'leased', lease_token = nextval('lease_tokens'), "
    "lease_expires_ms = $2::bigint, updated_ms = $3::bigint, lease_owner = $4::integer "
    "FROM (SELECT id FROM jobs WHERE state = 'ready' ORDER BY priority, id LIMIT $1::bigint "
    "FOR UPDATE SKIP LOCKED) r WHERE j.id = r.id "
    "RETURNING j.id, j.event_id, j.event_type, j.entity_kind, j.entity_id, j.priority, j.payload, "
    "j.attempts, j.plan, j.step, j.in_doubt, j.created_ms, j.lease_token";
const char kSqlJobEntity[] = "SELECT entity_kind, entity_id FROM jobs WHERE id = $1";
const char kSqlPromoteDelayed[] =
    "UPDATE jobs SET state = 'ready', updated_ms = $1 "
    "WHERE state = 'delayed' AND available_ms <= $1::bigint";
const char kSqlReclaimExpired[] =
    "UPDATE jobs SET state = 'ready', in_doubt = 1, lease_token = 0, lease_owner = 0, "
    "updated_ms = $1 WHERE state = 'leased' AND (lease_expires_ms <= $1::bigint "
    "OR" CRMSYNC_OWNER_GONE ")";
const char kSqlReleaseOwn[] =
    "UPDATE jobs SET state = 'ready', in_doubt = 1, lease_token = 0, lease_owner = 0 "
    "WHERE state = 'leased' AND (lease_owner = $1::integer OR" CRMSYNC_OWNER_GONE ")";
// --- the Redis queue's side (queue.backend=redis; see redis/redis_queue.h) ---
const char kSqlAnnounceOn[] = "SET crmsync.outbox = 'on'";
// The jobs named by a Redis entry that are still ready; the rest are skipped
// (a row another transaction holds is waited for, then re-checked). The state
// is compared as an expression so that no plan walks the partial index of
// every ready (or delayed) job to find a few ids: statements are prepared, and
// a plan made while the table looked small did exactly that.
const char kSqlLeaseIds[] =
    "UPDATE jobs j SET state = 'leased', lease_token = nextval('lease_tokens'), "
    "lease_expires_ms = $2::bigint, updated_ms = $3::bigint, lease_owner = $4::integer "
    "WHERE j.id = ANY($1::bigint[]) AND (j.state || '') = 'ready' "
    "RETURNING j.id, j.event_id, j.event_type, j.entity_kind, j.entity_id, j.priority, j.payload, "
    "j.attempts, j.plan, j.step, j.in_doubt, j.created_ms, j.lease_token";
const char kSqlPromoteIds[] =
    "UPDATE jobs SET state = 'ready', updated_ms = $2 "
    "WHERE id = ANY($1::bigint[]) AND (state || '') = 'delayed' AND available_ms <= $2::bigint";
const char kSqlStillDelayed[] =
    "SELECT id, available_ms FROM jobs WHERE id = ANY($1::bigint[]) AND (state || '') = 'delayed'";
const char kSqlOutboxTake[] =
    "SELECT id, job_id, state, priority, due_ms, entity_kind, entity_id, event_id FROM job_outbox "
    "ORDER BY id LIMIT $1::bigint FOR UPDATE SKIP LOCKED";
const char kSqlOutboxDelete[] = "DELETE FROM job_outbox WHERE id = ANY($1::bigint[])";
const char kSqlAnnounceUnfinished[] =
    "INSERT INTO job_outbox (job_id, state, priority, due_ms, entity_kind, entity_id, event_id) "
    "SELECT id, state, priority, available_ms, entity_kind, entity_id, event_id FROM jobs "
    "WHERE state IN ('ready', 'delayed') ORDER BY id";
const char kSqlLiveOwners[] =
    "SELECT objid::text::bigint FROM pg_locks WHERE locktype = 'advisory'"
    " AND classid = 1668443507::oid AND objsubid = 2 AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
const char kSqlNextDelayed[] = "SELECT min(available_ms) FROM jobs WHERE state = 'delayed'";
const char kSqlNextLeaseExpiry[] = "SELECT min(lease_expires_ms) FROM jobs WHERE state = 'leased'";
const char kSqlFoldCounters[] =
    "WITH d AS (DELETE FROM counter_deltas RETURNING name, value) "
    "INSERT INTO counter_deltas (name, value) SELECT name, sum(value) FROM d GROUP BY name";
// A trivial read that needs the schema.
const char kSqlCheck[] = "SELECT 1 FROM jobs LIMIT 1";
const char kFoldLock[] = "crmsync:counters";
bool Retryable(const std::string& sqlstate) {
  // serialization_failure, deadlock_detected, unique_violation (a concurrent
  // insert of the same key, e.g. one event id accepted by two engines at once).
  return sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "23505";
}
constexpr int kMaxTries = 8;
// A bigint[] parameter in PostgreSQL's text form: {1,2,3}.
std::string IdArray(const std::vector<int64_t>& ids) {
  std::string text = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(ids[i]);
  }
  return text + "}";
}

}  // namespace

// --- open --------------------------------------------------------------------

PgStore::PgStore(const PgOptions& options) : options_(options) {}

PgStore::~PgStore() {
  liveness_.reset();  // ends the session: this owner's leases count as gone
  pool_.reset();
}

std::unique_ptr<PgStore> PgStore::Open(const PgOptions& options) {
  if (options.url.empty()) throw StoreError("store.url is empty (store.backend=postgres)");
  std::unique_ptr<PgStore> store(new PgStore(options));
  try {
    store->liveness_ = std::make_unique<PgConn>(options.url);
  } catch (const StoreError& e) {
    throw StoreError(std::string("cannot open the PostgreSQL store: ") + e.what());
  }
  PgConn& conn = *store->liveness_;
  store->where_ = "postgres " + conn.Describe();
  MigratePg(conn, store->where_);
  store->owner_id_ = conn.Exec(kSqlNextOwner).Int(0, 0);
  conn.Exec(kSqlHoldOwner, PgParams().Add(store->owner_id_));
  store->pool_ = std::make_unique<PgPool>(options.url, options.pool_size,
                                         options.announce ? kSqlAnnounceOn : "");
  return store;
}

void PgStore::SetAnnounceListener(std::function<void()> on_announced) {
  std::lock_guard<std::mutex> lock(announce_mu_);
  on_announced_ = std::move(on_announced);
}

void PgStore::Announced() {
  if (!options_.announce) return;
  std::lock_guard<std::mutex> lock(announce_mu_);
  if (on_announced_) on_announced_();
}

void PgStore::Tx(const std::function<void(PgConn&)>& fn, TxKind kind) {
  for (int attempt = 1;; ++attempt) {
    std::unique_ptr<PgConn> conn = pool_->Acquire();
    try {
      conn->ExecScript(kind == TxKind::kSnapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                                 : "BEGIN");
      fn(*conn);
      conn->ExecScript("COMMIT");
      pool_->Release(std::move(conn));
      return;
    } catch (const PgError& e) {
      try {
        conn->ExecScript("ROLLBACK");
      } catch (const StoreError&) {
      }
      pool_->Release(std::move(conn));
      if (attempt < kMaxTries && Retryable(e.sqlstate())) continue;
      throw;
    } catch (...) {
      try {
        conn->ExecScript("ROLLBACK");
      } catch (const StoreError&) {
      }
      pool_->Release(std::move(conn));
      throw;
    }
  }
}

std::string PgStore::Describe() const {
  return where_ + " (pool " + std::to_string(pool_->size()) +
         (options_.announce ? ", jobs announced through job_outbox"
                            : ", queue FOR UPDATE SKIP LOCKED") +
         ", lease owner " + std::to_string(owner_id_) + ")";
}

bool PgStore::Check(std::string* why) noexcept {
  try {
    Tx([&](PgConn& c) { c.Exec(kSqlCheck); });
    return true;
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return false;
  }
}

bool PgStore::ProbeWrite(std::string* why) noexcept {
  try {
    // txid_current() gives the transaction an id, so its COMMIT writes (and
    // flushes) a WAL record: the server's disk is exercised, no table changes.
    Tx([&](PgConn& c) { c.Exec("SELECT txid_current()"); });
    return true;
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return false;
  }
}

int PgStore::SchemaVersion() {
  int version = 0;
  Tx([&](PgConn& c) { version = static_cast<int>(c.Exec(kSqlSchemaVersion).Int(0, 0)); });
  return version;
}

SyncState PgStore::GetSyncState(const std::string& plugin) {
  SyncState state;
  Tx([&](PgConn& c) {
    state = SyncState();
    PgResult r = c.Exec(kSqlGetSyncState, PgParams().Add(plugin));
    if (!r.Empty()) {
      state.enabled = r.Int(0, 0) != 0;
      state.reason = r.Text(0, 1);
      state.changed_at = r.Text(0, 2);
    }
  });
  return state;
}

void PgStore::SetSyncState(const std::string& plugin, bool enabled, const std::string& reason) {
  std::string now = FormatIsoMs(SystemClock::Instance().NowMs());
  Tx([&](PgConn& c) {
    c.Exec(kSqlSetSyncState,
           PgParams().Add(plugin).Add(int64_t{enabled ? 1 : 0}).Add(reason).Add(now));
  });
}

std::optional<std::string> PgStore::LoadPluginState(const std::string& plugin,
                                                    const std::string& key) {
  std::optional<std::string> value;
  Tx([&](PgConn& c) {
    PgPort port(c);
    value = ReadPluginState(port, plugin, key);
  });
  return value;
}

void PgStore::SavePluginState(const std::string& plugin, const std::string& key,
                              const std::string& value, int64_t now_ms) {
  Tx([&](PgConn& c) {
    PgPort port(c);
    WritePluginState(port, plugin, key, value, now_ms);
  });
}

// --- intake ------------------------------------------------------------------

std::vector<AcceptResult> PgStore::Accept(const std::vector<IncomingEvent>& events,
                                          int64_t now_ms) {
  std::vector<AcceptResult> results;
  std::vector<std::string> locks;
  for (const IncomingEvent& e : events)
    locks.push_back(PgEntityLock(EntityKindName(e.kind), e.entity_id));
  Tx([&](PgConn& c) {
    results.assign(events.size(), AcceptResult());
    PgLockAll(c, locks);
    for (size_t i = 0; i < events.size(); ++i) AcceptOne(c, events[i], now_ms, &results[i]);
  });
  Announced();
  return results;
}

void PgStore::AcceptOne(PgConn& c, const IncomingEvent& e, int64_t now_ms, AcceptResult* result) {
  PgPort port(c);
  AcceptEvent(port, e, now_ms, result);
}

// --- queue -------------------------------------------------------------------

std::vector<LeasedJob> PgStore::Lease(const std::string& plugin, int max_jobs, int64_t now_ms,
                                      int64_t lease_ms) {
  std::vector<LeasedJob> jobs;
  if (max_jobs <= 0) return jobs;
  RefuseWithoutLiveness();
  Tx([&](PgConn& c) {
    jobs.clear();
    PgPort port(c);
    jobs = TakeLeased(port, plugin,
                      port.QueryText(kSqlLease, {max_jobs, now_ms + lease_ms, now_ms, owner_id_}));
  });
  return jobs;
}

std::vector<LeasedJob> PgStore::LeaseIds(const std::string& plugin, std::vector<int64_t> ids,
                                         int64_t now_ms, int64_t lease_ms) {
  std::vector<LeasedJob> jobs;
  if (ids.empty()) return jobs;
  RefuseWithoutLiveness();
  std::sort(ids.begin(), ids.end());  // rows locked in one order by every engine
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  Tx([&](PgConn& c) {
    jobs.clear();
    PgPort port(c);
    jobs = TakeLeased(port, plugin, port.QueryText(kSqlLeaseIds, {IdArray(ids), now_ms + lease_ms,
                                                                 now_ms, owner_id_}));
  });
  return jobs;
}

void PgStore::RefuseWithoutLiveness() const {
  if (liveness_lost_.load()) {
    throw StoreError(where_ + ": not leasing: the session that marks this engine alive is lost "
                     "(the ticker takes it again)");
  }
}

void PgStore::Complete(const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                       int64_t now_ms) {
  if (outcomes.empty()) return;
  Tx([&](PgConn& c) {
    // The entities first (kind and id never change), locked in order: the next
    // job of a finished entity is made ready under the same lock as Accept's
    // head check.
    std::vector<std::string> locks;
    for (const JobOutcome& o : outcomes) {
      PgResult r = c.Exec(kSqlJobEntity, PgParams().Add(o.job_id));
      if (!r.Empty()) locks.push_back(PgEntityLock(r.Text(0, 0), r.Text(0, 1)));
    }
    PgLockAll(c, locks);
    PgPort port(c);
    for (const JobOutcome& o : outcomes) RecordOutcome(port, plugin, o, now_ms);
  });
  Announced();
}

int64_t PgStore::Promote(int64_t now_ms) { return PromoteDue(now_ms, true); }

int64_t PgStore::ReclaimLeases(int64_t now_ms) { return PromoteDue(now_ms, false); }

void PgStore::KeepLiveness() {
  std::lock_guard<std::mutex> lock(liveness_mu_);
  try {
    liveness_->Exec(kSqlPing);
    liveness_lost_ = false;
    return;
  } catch (const StoreError&) {
  }
  // The session ended (server restart, network): to every other engine this
  // one is gone now, and its leases are theirs to take. Take the lock again on
  // a new session before leasing anything more.
  liveness_lost_ = true;
  try {
    auto conn = std::make_unique<PgConn>(options_.url);
    if (conn->Exec(kSqlRetakeOwner, PgParams().Add(owner_id_)).Text(0, 0) != "t") {
      throw StoreError("lease owner " + std::to_string(owner_id_) + " is still held by the old session");
    }
    liveness_ = std::move(conn);
    liveness_lost_ = false;
    ComponentLogger("store").warning(
        "PostgreSQL session of lease owner %s was lost and is taken again; leases it held may "
        "have been taken by other engines meanwhile",
        std::to_string(owner_id_));
  } catch (const StoreError& e) {
    throw StoreError(where_ + ": lost the session that marks this engine alive, and cannot take "
                     "it again yet: " + e.what());
  }
}

int64_t PgStore::PromoteDue(int64_t now_ms, bool delayed) {
  KeepLiveness();
  int64_t moved = 0;
  Tx([&](PgConn& c) {
    moved = delayed ? c.Exec(kSqlPromoteDelayed, PgParams().Add(now_ms)).Affected() : 0;
    moved += c.Exec(kSqlReclaimExpired, PgParams().Add(now_ms)).Affected();
  });
  if (moved > 0) Announced();
  // Now and then fold the counter deltas into one row per counter (one engine
  // at a time; the others skip).
  if (promote_calls_.fetch_add(1) % 4 == 0) {
    Tx([&](PgConn& c) {
      PgResult locked = c.Exec(kSqlTryLock, PgParams().Add(kFoldLock));
      if (locked.Text(0, 0) == "t") c.Exec(kSqlFoldCounters);
    });
  }
  return moved;
}

int64_t PgStore::ReleaseAllLeases() {
  int64_t moved = 0;
  Tx([&](PgConn& c) { moved = c.Exec(kSqlReleaseOwn, PgParams().Add(owner_id_)).Affected(); });
  if (moved > 0) Announced();
  return moved;
}

int64_t PgStore::PromoteIds(const std::vector<int64_t>& ids, int64_t now_ms,
                            std::vector<std::pair<int64_t, int64_t>>* still_delayed) {
  if (ids.empty()) return 0;
  std::vector<int64_t> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  int64_t moved = 0;
  Tx([&](PgConn& c) {
    moved = c.Exec(kSqlPromoteIds, PgParams().Add(IdArray(sorted)).Add(now_ms)).Affected();
    if (still_delayed) {
      still_delayed->clear();
      PgResult r = c.Exec(kSqlStillDelayed, PgParams().Add(IdArray(sorted)));
      for (int i = 0; i < r.Rows(); ++i) still_delayed->emplace_back(r.Int(i, 0), r.Int(i, 1));
    }
  });
  if (moved > 0) Announced();
  return moved;
}

int64_t PgStore::RelayOutbox(int max_rows,
                             const std::function<void(const std::vector<OutboxRow>&)>& send) {
  int64_t relayed = 0;
  for (;;) {
    int64_t taken = 0;
    Tx([&](PgConn& c) {
      PgResult r = c.Exec(kSqlOutboxTake, PgParams().Add(int64_t{max_rows}));
      taken = r.Rows();
      if (taken == 0) return;
      std::vector<OutboxRow> rows(static_cast<size_t>(taken));
      std::vector<int64_t> ids;
      for (int i = 0; i < r.Rows(); ++i) {
        OutboxRow& row = rows[static_cast<size_t>(i)];
        row.id = r.Int(i, 0);
        row.job_id = r.Int(i, 1);
        row.state = r.Text(i, 2);
        row.priority = static_cast<int>(r.Int(i, 3));
        row.due_ms = r.Int(i, 4);
        row.entity_kind = r.Text(i, 5);
        row.entity_id = r.Text(i, 6);
        row.event_id = r.Text(i, 7);
        ids.push_back(row.id);
      }
      send(rows);  // throws when the rows did not all reach Redis: they stay
      c.Exec(kSqlOutboxDelete, PgParams().Add(IdArray(ids)));
    });
    relayed += taken;
    if (taken < max_rows) return relayed;
  }
}

int64_t PgStore::AnnounceUnfinished() {
  int64_t n = 0;
  Tx([&](PgConn& c) { n = c.Exec(kSqlAnnounceUnfinished).Affected(); });
  if (n > 0) Announced();
  return n;
}

std::set<int64_t> PgStore::LiveOwners() {
  std::set<int64_t> owners;
  Tx([&](PgConn& c) {
    owners.clear();
    PgResult r = c.Exec(kSqlLiveOwners);
    for (int i = 0; i < r.Rows(); ++i) owners.insert(r.Int(i, 0));
  });
  return owners;
}

int64_t PgStore::NextLeaseExpiryMs() {
  int64_t next = -1;
  Tx([&](PgConn& c) {
    PgResult r = c.Exec(kSqlNextLeaseExpiry);
    next = !r.Empty() && !r.IsNull(0, 0) ? r.Int(0, 0) : -1;
  });
  return next;
}

int64_t PgStore::NextDueMs() {
  int64_t next = -1;
  Tx([&](PgConn& c) {
    next = -1;
    for (const char* sql : {kSqlNextDelayed, kSqlNextLeaseExpiry}) {
      PgResult r = c.Exec(sql);
      if (!r.Empty() && !r.IsNull(0, 0)) {
        int64_t t = r.Int(0, 0);
        if (next < 0 || t < next) next = t;
      }
    }
  });
  return next;
}

}  // namespace crmsync::engine
