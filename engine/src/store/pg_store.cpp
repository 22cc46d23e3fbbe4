// The PostgreSQL store; see pg_store.h. Every SQL statement of the store is in
// this file (the schema is in pg_schema.cpp). The logic follows sqlite_store.cpp
// step for step; what differs is locking, so that several engines can share
// one database:
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
#include <sstream>

#include "common/clock.h"
#include "common/hash.h"
#include "common/logging.h"
#include "crmsync/entities_json.h"
#include "queue/accept.h"
#include "queue/complete.h"
#include "queue/lease.h"
#include "queue/replay.h"
#include "sync/inbound_merge.h"
#include "store/pg_port.h"
#include "store/pg_schema.h"
#include "store/store_codec.h"

namespace crmsync::engine {
namespace {

// --- SQL ---------------------------------------------------------------------

const char kSqlTryLock[] = "SELECT pg_try_advisory_xact_lock(hashtextextended($1::text, 0))";
// Liveness: a session lock (class 'crms', key = owner id) held while the store is open.
const char kSqlHoldOwner[] = "SELECT pg_advisory_lock(1668443507, $1::integer)";
const char kSqlRetakeOwner[] = "SELECT pg_try_advisory_lock(1668443507, $1::integer)";
const char kSqlPing[] = "SELECT 1";
const char kSqlNextOwner[] = "SELECT nextval('lease_owners')";
// A lease owner whose liveness lock is gone: its process (or connection) ended.
#define CRMSYNC_OWNER_GONE                                                                     \
  " lease_owner NOT IN (SELECT objid::text::integer FROM pg_locks WHERE locktype = 'advisory'" \
  " AND classid = 1668443507::oid AND objsubid = 2 AND granted"                                \
  " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"

const char kSqlSchemaVersion[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
const char kSqlGetSyncState[] =
    "SELECT enabled, reason, changed_at FROM plugin_state WHERE plugin = $1";
const char kSqlSetSyncState[] =
    "INSERT INTO plugin_state (plugin, enabled, reason, changed_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT(plugin) DO UPDATE SET enabled = excluded.enabled, reason = excluded.reason, "
    "changed_at = excluded.changed_at";
const char kSqlInsertDelivery[] =
    "INSERT INTO deliveries (id, plugin, event, changes, received_ms, state) "
    "VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT(id) DO NOTHING";
// Deliveries list by received_ms (the id is no arrival order), so a new one must
// sort after every pending one even when the clock has not moved.
const char kSqlLastPendingReceived[] =
    "SELECT max(received_ms) FROM deliveries WHERE state = 'pending'";
const char kSqlPendingDeliveries[] =
    "SELECT id, plugin, event, changes, received_ms FROM deliveries WHERE state = 'pending' "
    "ORDER BY received_ms, id LIMIT $1::bigint";
const char kSqlChangesAfter[] =
    "SELECT seq, at_ms, entity_kind, entity_id, source, delivery_id, crm_event, fields, entity "
    "FROM changes WHERE seq > $1::bigint ORDER BY seq LIMIT $2::bigint";
// Due callbacks are claimed as they are handed out (their time moved on by
// the claim), so of several engines sharing the database one sends each; a
// claimer that dies leaves them to the others when the claim runs out.
const char kSqlDueCallbacks[] =
    "UPDATE changes c SET callback_at_ms = $3::bigint FROM (SELECT seq FROM changes "
    "WHERE callback_state = 'pending' AND callback_at_ms <= $1::bigint "
    "ORDER BY callback_at_ms, seq LIMIT $2::bigint FOR UPDATE SKIP LOCKED) d WHERE c.seq = d.seq "
    "RETURNING c.seq, c.at_ms, c.entity_kind, c.entity_id, c.source, c.delivery_id, c.crm_event, "
    "c.fields, c.entity, c.callback_attempts";
// How long a handed-out callback is another engine's to leave alone.
constexpr int64_t kCallbackClaimMs = 300000;
const char kSqlFinishCallback[] =
    "UPDATE changes SET callback_state = $2, callback_attempts = $3, callback_at_ms = $4, "
    "callback_error = $5 WHERE seq = $1";
const char kSqlAuditForEntity[] =
    "SELECT id, at_ms, job_id, action, detail FROM audit WHERE entity_kind = $1 AND entity_id = $2 "
    "ORDER BY id DESC LIMIT $3::bigint";
const char kSqlCountPendingDeliveries[] = "SELECT count(*) FROM deliveries WHERE state = 'pending'";
const char kSqlGetRegistration[] =
    "SELECT fingerprint FROM webhook_registrations WHERE plugin = $1";
const char kSqlSetRegistration[] =
    "INSERT INTO webhook_registrations (plugin, fingerprint, registered_ms) VALUES ($1, $2, $3) "
    "ON CONFLICT(plugin) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "registered_ms = excluded.registered_ms";
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
// --- the Redis queue's side (queue.backend=redis; see queue/redis_queue.h) ---
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
// Kept by the triggers of migration 4, as deltas.
const char kSqlCounters[] = "SELECT name, sum(value) FROM counter_deltas GROUP BY name";
const char kSqlFoldCounters[] =
    "WITH d AS (DELETE FROM counter_deltas RETURNING name, value) "
    "INSERT INTO counter_deltas (name, value) SELECT name, sum(value) FROM d GROUP BY name";
// Ids grow with time: the smallest unfinished id is the oldest job (index jobs_unfinished).
const char kSqlOldestPending[] =
    "SELECT created_ms FROM jobs WHERE id = (SELECT min(id) FROM jobs "
    "WHERE state IN ('queued','ready','delayed','leased'))";
const char kSqlCountOpenDead[] = "SELECT count(*) FROM dead_letters WHERE replayed_ms = 0";
const char kSqlCountEvents[] = "SELECT count(*) FROM events";
const char kSqlJobsForEntity[] =
    "SELECT id, event_id, event_type, state, attempts, plan, step, available_ms, created_ms, "
    "updated_ms, last_error, coalesced FROM jobs WHERE entity_kind = $1 AND entity_id = $2 "
    "ORDER BY id DESC LIMIT $3::bigint";
// Dead letters matching a filter; empty text and 0 mean "any".
#define CRMSYNC_PG_DLQ_WHERE                                                                     \
  " WHERE ($1::bigint = 0 OR id = $1::bigint) AND ($2::text = '' OR plugin = $2::text)"          \
  " AND ($3::text = '' OR error_class = $3::text) AND ($4::text = '' OR entity_kind = $4::text)" \
  " AND ($5::text = '' OR entity_id = $5::text) AND created_ms >= $6::bigint"                    \
  " AND ($7::bigint = 0 OR created_ms < $7::bigint) AND ($8::integer = 1 OR replayed_ms = 0)"
const char kSqlListDeadLetters[] =
    "SELECT id, job_id, plugin, event_id, event_type, entity_kind, entity_id, error_class, reason, "
    "attempts, created_ms, replayed_ms, replay_job_id FROM dead_letters" CRMSYNC_PG_DLQ_WHERE
    " ORDER BY id LIMIT $9::bigint";
const char kSqlPurgeDeadLetters[] = "DELETE FROM dead_letters" CRMSYNC_PG_DLQ_WHERE;
const char kSqlAttemptsOfJob[] =
    "SELECT attempt, step, step_kind, at_ms, outcome, http_status, message FROM attempts "
    "WHERE job_id = $1 ORDER BY id";

// --- helpers -----------------------------------------------------------------

const char kInboundLock[] = "crmsync:inbound";
const char kDeliveriesLock[] = "crmsync:deliveries";
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

PgParams FilterParams(const DeadLetterFilter& f) {
  PgParams p;
  p.Add(f.id.value_or(0))
      .Add(f.plugin)
      .Add(f.error_class)
      .Add(f.entity_kind)
      .Add(f.entity_id)
      .Add(f.since_ms)
      .Add(f.until_ms)
      .Add(int64_t{f.include_replayed ? 1 : 0});
  return p;
}







// How long a sent state is remembered (as in sqlite_store.cpp).


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

template <typename F>
void PgStore::Tx(F&& fn, bool snapshot) {
  for (int attempt = 1;; ++attempt) {
    std::unique_ptr<PgConn> conn = pool_->Acquire();
    try {
      conn->ExecScript(snapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
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
    Tx([&](PgConn& c) { c.Exec(kSqlCountOpenDead); });
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

QueueStats PgStore::Stats() {
  QueueStats s;
  Tx(
      [&](PgConn& c) {
        s = QueueStats();
        PgResult counters = c.Exec(kSqlCounters);
        for (int i = 0; i < counters.Rows(); ++i) {
          const std::string name = counters.Text(i, 0);
          const int64_t value = counters.Int(i, 1);
          if (name == "jobs_ready")
            s.ready = value;
          else if (name == "jobs_queued")
            s.queued = value;
          else if (name == "jobs_delayed")
            s.delayed = value;
          else if (name == "jobs_leased")
            s.leased = value;
          else if (name == "jobs_done")
            s.done = value;
          else if (name == "coalesced")
            s.coalesced_total = value;
          else if (name == "echo_suppressed_outbound")
            s.echo_suppressed_outbound = value;
          else if (name == "echo_suppressed_inbound")
            s.echo_suppressed_inbound = value;
          else if (name.rfind("ready_p", 0) == 0) {
            int64_t p = std::strtoll(name.c_str() + 7, nullptr, 10);
            if (p >= 0 && p < 3) s.ready_by_priority[p] = value;
          }
        }
        PgResult oldest = c.Exec(kSqlOldestPending);
        if (!oldest.Empty() && !oldest.IsNull(0, 0)) s.oldest_pending_created_ms = oldest.Int(0, 0);
        s.dead = c.Exec(kSqlCountOpenDead).Int(0, 0);
        s.deliveries_pending = c.Exec(kSqlCountPendingDeliveries).Int(0, 0);
        s.events_total = c.Exec(kSqlCountEvents).Int(0, 0);
      },
      /*snapshot=*/true);
  return s;
}

std::vector<JobInfo> PgStore::JobsForEntity(EntityKind kind, const std::string& entity_id,
                                            int limit) {
  std::vector<JobInfo> jobs;
  Tx([&](PgConn& c) {
    jobs.clear();
    PgResult r = c.Exec(kSqlJobsForEntity,
                        PgParams().Add(EntityKindName(kind)).Add(entity_id).Add(int64_t{limit}));
    for (int i = 0; i < r.Rows(); ++i) {
      JobInfo j;
      j.id = r.Int(i, 0);
      j.event_id = r.Text(i, 1);
      j.event_type = r.Text(i, 2);
      j.state = r.Text(i, 3);
      j.attempts = static_cast<int>(r.Int(i, 4));
      j.plan = r.Text(i, 5);
      j.step = static_cast<int>(r.Int(i, 6));
      j.available_at_ms = r.Int(i, 7);
      j.created_ms = r.Int(i, 8);
      j.updated_ms = r.Int(i, 9);
      j.last_error = r.Text(i, 10);
      j.coalesced = static_cast<int>(r.Int(i, 11));
      jobs.push_back(std::move(j));
    }
  });
  return jobs;
}

std::vector<AuditRecord> PgStore::AuditForEntity(EntityKind kind, const std::string& entity_id,
                                                 int limit) {
  std::vector<AuditRecord> list;
  Tx([&](PgConn& c) {
    list.clear();
    PgResult r = c.Exec(kSqlAuditForEntity,
                        PgParams().Add(EntityKindName(kind)).Add(entity_id).Add(int64_t{limit}));
    for (int i = 0; i < r.Rows(); ++i) {
      AuditRecord a;
      a.id = r.Int(i, 0);
      a.at_ms = r.Int(i, 1);
      a.job_id = r.Int(i, 2);
      a.action = r.Text(i, 3);
      a.detail = r.Text(i, 4);
      list.push_back(std::move(a));
    }
  });
  return list;
}

std::optional<std::string> PgStore::GetMirror(EntityKind kind, const std::string& entity_id) {
  std::optional<std::string> data;
  Tx([&](PgConn& c) {
    PgResult r = c.Exec(kind == EntityKind::kLead ? PgSql(Sql::kGetLead) : PgSql(Sql::kGetProperty),
                        PgParams().Add(entity_id));
    data = r.Empty() ? std::nullopt : std::optional<std::string>(r.Text(0, 0));
  });
  return data;
}

// --- dead letters ------------------------------------------------------------

std::vector<DeadLetter> PgStore::QueryDeadLetters(PgConn& c, const DeadLetterFilter& filter) {
  std::vector<DeadLetter> list;
  PgParams params = FilterParams(filter);
  params.Add(int64_t{filter.limit > 0 ? filter.limit : 100});
  PgResult r = c.Exec(kSqlListDeadLetters, params);
  for (int i = 0; i < r.Rows(); ++i) {
    DeadLetter d;
    d.id = r.Int(i, 0);
    d.job_id = r.Int(i, 1);
    d.plugin = r.Text(i, 2);
    d.event_id = r.Text(i, 3);
    d.event_type = r.Text(i, 4);
    d.entity_kind = r.Text(i, 5);
    d.entity_id = r.Text(i, 6);
    d.error_class = r.Text(i, 7);
    d.reason = r.Text(i, 8);
    d.attempts = static_cast<int>(r.Int(i, 9));
    d.created_ms = r.Int(i, 10);
    d.replayed_ms = r.Int(i, 11);
    d.replay_job_id = r.Int(i, 12);
    list.push_back(std::move(d));
  }
  return list;
}

std::vector<DeadLetter> PgStore::ListDeadLetters(const DeadLetterFilter& filter) {
  std::vector<DeadLetter> list;
  Tx([&](PgConn& c) { list = QueryDeadLetters(c, filter); });
  return list;
}

std::optional<DeadLetter> PgStore::GetDeadLetter(int64_t id) {
  std::optional<DeadLetter> found;
  Tx([&](PgConn& c) {
    found.reset();
    DeadLetterFilter filter;
    filter.id = id;
    filter.include_replayed = true;
    std::vector<DeadLetter> list = QueryDeadLetters(c, filter);
    if (list.empty()) return;
    DeadLetter d = std::move(list[0]);
    PgResult r = c.Exec(kSqlAttemptsOfJob, PgParams().Add(d.job_id));
    for (int i = 0; i < r.Rows(); ++i) {
      AttemptRecord a;
      a.attempt = static_cast<int>(r.Int(i, 0));
      a.step = static_cast<int>(r.Int(i, 1));
      a.step_kind = r.Text(i, 2);
      a.at_ms = r.Int(i, 3);
      a.outcome = r.Text(i, 4);
      a.http_status = static_cast<int>(r.Int(i, 5));
      a.message = r.Text(i, 6);
      d.history.push_back(std::move(a));
    }
    found = std::move(d);
  });
  return found;
}

std::vector<int64_t> PgStore::ReplayDeadLetters(const DeadLetterFilter& filter, int64_t now_ms) {
  std::vector<int64_t> new_jobs;
  Tx([&](PgConn& c) {
    new_jobs.clear();
    DeadLetterFilter open = filter;
    open.include_replayed = false;
    if (open.limit <= 0 || open.limit > 10000) open.limit = 10000;
    std::vector<DeadLetter> targets = QueryDeadLetters(c, open);
    std::vector<std::string> locks;
    for (const DeadLetter& d : targets) {
      if (d.plugin != "callback") locks.push_back(PgEntityLock(d.entity_kind, d.entity_id));
    }
    PgLockAll(c, locks);
    PgPort port(c);
    for (const DeadLetter& d : targets) {
      // Listed before the locks: a concurrent replay or purge may have taken it
      // since; the row lock makes the check and the mark one step.
      if (std::optional<int64_t> job_id = ReplayDeadLetter(port, d, now_ms)) new_jobs.push_back(*job_id);
    }
  });
  return new_jobs;
}

int64_t PgStore::PurgeDeadLetters(const DeadLetterFilter& filter) {
  int64_t purged = 0;
  Tx([&](PgConn& c) { purged = c.Exec(kSqlPurgeDeadLetters, FilterParams(filter)).Affected(); });
  return purged;
}

// --- inbound -----------------------------------------------------------------

bool PgStore::RecordDelivery(const InboundDelivery& delivery) {
  bool inserted = false;
  std::string changes = ChangesToJson(delivery.changes);
  Tx([&](PgConn& c) {
    // One recorder at a time, so each new delivery sorts after every pending one.
    PgLockAll(c, {kDeliveriesLock});
    int64_t received_ms = delivery.received_ms;
    PgResult last = c.Exec(kSqlLastPendingReceived);
    if (!last.Empty() && !last.IsNull(0, 0)) {
      received_ms = std::max(received_ms, last.Int(0, 0) + 1);
    }
    inserted = c.Exec(kSqlInsertDelivery, PgParams()
                                              .Add(delivery.id)
                                              .Add(delivery.plugin)
                                              .Add(delivery.event)
                                              .Add(changes)
                                              .Add(received_ms))
                   .Affected() > 0;
  });
  return inserted;
}

std::vector<InboundDelivery> PgStore::PendingDeliveries(int max) {
  std::vector<InboundDelivery> list;
  Tx([&](PgConn& c) {
    list.clear();
    PgResult r = c.Exec(kSqlPendingDeliveries, PgParams().Add(int64_t{max}));
    for (int i = 0; i < r.Rows(); ++i) {
      InboundDelivery d;
      d.id = r.Text(i, 0);
      d.plugin = r.Text(i, 1);
      d.event = r.Text(i, 2);
      d.changes = ChangesFromJson(r.Text(i, 3));
      d.received_ms = r.Int(i, 4);
      list.push_back(std::move(d));
    }
  });
  return list;
}

std::vector<InboundResult> PgStore::ApplyDelivery(const InboundDelivery& delivery,
                                                  const InboundRules& rules, int64_t now_ms) {
  std::vector<InboundResult> results;
  Tx([&](PgConn& c) {
    // One apply at a time across engines, held to commit: the change feed's seq
    // is then commit order, and a delivery is applied once.
    PgLockAll(c, {kInboundLock});
    PgPort port(c);
    results = ApplyInboundDelivery(port, delivery, rules, now_ms);
  });
  return results;
}

std::vector<ChangeRecord> PgStore::Changes(int64_t after_seq, int limit) {
  std::vector<ChangeRecord> list;
  Tx([&](PgConn& c) {
    list.clear();
    PgResult r = c.Exec(kSqlChangesAfter, PgParams().Add(after_seq).Add(int64_t{limit}));
    for (int i = 0; i < r.Rows(); ++i) {
      ChangeRecord ch;
      ch.seq = r.Int(i, 0);
      ch.at_ms = r.Int(i, 1);
      ch.entity_kind = r.Text(i, 2);
      ch.entity_id = r.Text(i, 3);
      ch.source = r.Text(i, 4);
      ch.delivery_id = r.Text(i, 5);
      ch.crm_event = r.Text(i, 6);
      ch.fields_json = r.Text(i, 7);
      ch.entity_json = r.Text(i, 8);
      list.push_back(std::move(ch));
    }
  });
  return list;
}

std::vector<PendingCallback> PgStore::DueCallbacks(int64_t now_ms, int max) {
  std::vector<PendingCallback> list;
  Tx([&](PgConn& c) {
    list.clear();
    PgResult r = c.Exec(kSqlDueCallbacks,
                        PgParams().Add(now_ms).Add(int64_t{max}).Add(now_ms + kCallbackClaimMs));
    for (int i = 0; i < r.Rows(); ++i) {
      PendingCallback p;
      p.change.seq = r.Int(i, 0);
      p.change.at_ms = r.Int(i, 1);
      p.change.entity_kind = r.Text(i, 2);
      p.change.entity_id = r.Text(i, 3);
      p.change.source = r.Text(i, 4);
      p.change.delivery_id = r.Text(i, 5);
      p.change.crm_event = r.Text(i, 6);
      p.change.fields_json = r.Text(i, 7);
      p.change.entity_json = r.Text(i, 8);
      p.attempts = static_cast<int>(r.Int(i, 9));
      list.push_back(std::move(p));
    }
  });
  std::sort(list.begin(), list.end(), [](const PendingCallback& a, const PendingCallback& b) {
    return a.change.seq < b.change.seq;
  });
  return list;
}

void PgStore::FinishCallback(int64_t seq, bool delivered, int attempts, int64_t retry_at_ms,
                             bool dead, const std::string& error, int64_t now_ms) {
  Tx([&](PgConn& c) {
    c.Exec(kSqlFinishCallback, PgParams()
                                   .Add(seq)
                                   .Add(delivered ? "done"
                                        : dead    ? "dead"
                                                  : "pending")
                                   .Add(int64_t{attempts})
                                   .Add(retry_at_ms)
                                   .Add(error));
    if (!dead) return;
    c.Exec(PgSql(Sql::kInsertDeadLetter), PgParams()
                                     .Add(-seq)
                                     .Add("callback")
                                     .Add("change-" + std::to_string(seq))
                                     .Add("change.callback")
                                     .Add("change")
                                     .Add(std::to_string(seq))
                                     .Add("retryable")
                                     .Add(error)
                                     .Add(int64_t{attempts})
                                     .Add(now_ms));
  });
}

std::string PgStore::WebhookRegistration(const std::string& plugin) {
  std::string fingerprint;
  Tx([&](PgConn& c) {
    PgResult r = c.Exec(kSqlGetRegistration, PgParams().Add(plugin));
    fingerprint = r.Empty() ? "" : r.Text(0, 0);
  });
  return fingerprint;
}

void PgStore::SetWebhookRegistration(const std::string& plugin, const std::string& fingerprint,
                                     int64_t now_ms) {
  Tx([&](PgConn& c) {
    c.Exec(kSqlSetRegistration, PgParams().Add(plugin).Add(fingerprint).Add(now_ms));
  });
}

}  // namespace crmsync::engine
