// The PostgreSQL migrations; see pg_schema.h.
//
// Differences from the SQLite schema, all of dialect or of several writers:
// - ids are BIGSERIAL; attempts get an id to keep insertion order (SQLite's rowid);
// - jobs.lease_owner names the store instance holding a lease, so one engine
//   never returns another live engine's leases (see PgStore::ReleaseAllLeases);
// - the queue counters are kept by triggers as insert-only delta rows
//   (counter_deltas), summed by Stats() and folded by Promote(): several engines
//   updating one counter row would serialise every queue transaction on it;
// - lease tokens come from a sequence, unique across processes;
// - job_outbox (migration 6) feeds the Redis queue, which only exists with the
//   PostgreSQL store, and migration 7 is an index of PostgreSQL's alone: both
//   are no-ops in SQLite, so migration 8 (field_times, one SQL for both) is 8
//   in both, and so are 9 (plugin_kv) and 10 (inbound_events), one SQL for both;
// - links_external is led by external_id (migration 7), so PostgreSQL's
//   planner never takes it for a primary-key lookup.
#include "store/pg_schema.h"

namespace crmsync::engine {

const std::vector<Migration>& PgMigrations() {
  static const std::vector<Migration> migrations = {
      {1, "sync state per plugin",
       R"sql(
CREATE TABLE plugin_state (
  plugin      TEXT PRIMARY KEY,
  enabled     INTEGER NOT NULL DEFAULT 1,
  reason      TEXT NOT NULL DEFAULT '',
  changed_at  TEXT NOT NULL
);
)sql"},
      {2, "outbound: events, mirror, links, jobs, attempts, dead letters, audit",
       R"sql(
CREATE TABLE events (
  event_id     TEXT PRIMARY KEY,
  job_id       BIGINT NOT NULL,
  type         TEXT NOT NULL,
  received_ms  BIGINT NOT NULL
);
CREATE TABLE leads (
  id          TEXT PRIMARY KEY,
  data        TEXT NOT NULL,
  updated_ms  BIGINT NOT NULL
);
CREATE TABLE properties (
  id          TEXT PRIMARY KEY,
  data        TEXT NOT NULL,
  updated_ms  BIGINT NOT NULL
);
CREATE TABLE inquiries (
  id          TEXT PRIMARY KEY,
  lead_id     TEXT NOT NULL,
  data        TEXT NOT NULL,
  updated_ms  BIGINT NOT NULL
);
CREATE TABLE links (
  plugin          TEXT NOT NULL,
  entity_kind     TEXT NOT NULL,
  entity_id       TEXT NOT NULL,
  external_id     TEXT,
  last_sent_hash  TEXT NOT NULL DEFAULT '',
  updated_ms      BIGINT NOT NULL,
  PRIMARY KEY (plugin, entity_kind, entity_id)
);
-- state: queued (behind an earlier job of its entity), ready, delayed (retry
-- time not reached), leased, done, dead. At most one job per entity is in
-- ready/delayed/leased: the entity's head.
CREATE TABLE jobs (
  id                BIGSERIAL PRIMARY KEY,
  event_id          TEXT NOT NULL,
  event_type        TEXT NOT NULL,
  entity_kind       TEXT NOT NULL,
  entity_id         TEXT NOT NULL,
  priority          INTEGER NOT NULL,
  state             TEXT NOT NULL,
  payload           TEXT NOT NULL,
  coalescable       INTEGER NOT NULL,
  attempts          INTEGER NOT NULL DEFAULT 0,
  plan              TEXT NOT NULL DEFAULT '',
  step              INTEGER NOT NULL DEFAULT 0,
  in_doubt          INTEGER NOT NULL DEFAULT 0,
  available_ms      BIGINT NOT NULL DEFAULT 0,
  lease_token       BIGINT NOT NULL DEFAULT 0,
  lease_expires_ms  BIGINT NOT NULL DEFAULT 0,
  lease_owner       INTEGER NOT NULL DEFAULT 0,
  coalesced         INTEGER NOT NULL DEFAULT 0,
  last_error        TEXT NOT NULL DEFAULT '',
  created_ms        BIGINT NOT NULL,
  updated_ms        BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs(priority, id) WHERE state = 'ready';
CREATE INDEX jobs_delayed ON jobs(available_ms) WHERE state = 'delayed';
CREATE INDEX jobs_leased ON jobs(lease_expires_ms) WHERE state = 'leased';
CREATE INDEX jobs_queued ON jobs(entity_kind, entity_id, id) WHERE state = 'queued';
CREATE INDEX jobs_entity ON jobs(entity_kind, entity_id, id);
CREATE SEQUENCE lease_tokens;
CREATE SEQUENCE lease_owners;
CREATE TABLE attempts (
  id           BIGSERIAL PRIMARY KEY,
  job_id       BIGINT NOT NULL,
  attempt      INTEGER NOT NULL,
  step         INTEGER NOT NULL,
  step_kind    TEXT NOT NULL,
  at_ms        BIGINT NOT NULL,
  outcome      TEXT NOT NULL,
  http_status  INTEGER NOT NULL,
  message      TEXT NOT NULL
);
CREATE INDEX attempts_job ON attempts(job_id, id);
CREATE TABLE dead_letters (
  id             BIGSERIAL PRIMARY KEY,
  job_id         BIGINT NOT NULL,
  plugin         TEXT NOT NULL,
  event_id       TEXT NOT NULL,
  event_type     TEXT NOT NULL,
  entity_kind    TEXT NOT NULL,
  entity_id      TEXT NOT NULL,
  error_class    TEXT NOT NULL,
  reason         TEXT NOT NULL,
  attempts       INTEGER NOT NULL,
  created_ms     BIGINT NOT NULL,
  replayed_ms    BIGINT NOT NULL DEFAULT 0,
  replay_job_id  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX dead_letters_open ON dead_letters(created_ms) WHERE replayed_ms = 0;
CREATE TABLE audit (
  id           BIGSERIAL PRIMARY KEY,
  at_ms        BIGINT NOT NULL,
  entity_kind  TEXT NOT NULL,
  entity_id    TEXT NOT NULL,
  job_id       BIGINT NOT NULL,
  action       TEXT NOT NULL,
  detail       TEXT NOT NULL
);
CREATE INDEX audit_entity ON audit(entity_kind, entity_id, id);
-- Counters as insert-only deltas: no row is ever updated by two writers.
CREATE TABLE counter_deltas (
  id     BIGSERIAL PRIMARY KEY,
  name   TEXT NOT NULL,
  value  BIGINT NOT NULL
);
CREATE INDEX counter_deltas_name ON counter_deltas(name);
)sql"},
      {3, "inbound: deliveries, change feed, echo hashes, webhook registrations",
       R"sql(
-- Hash of the entity as the CRM last set it: a platform event equal to it is an echo.
ALTER TABLE leads ADD COLUMN inbound_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE properties ADD COLUMN inbound_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX links_external ON links(plugin, entity_kind, external_id);
CREATE TABLE deliveries (
  id            TEXT PRIMARY KEY,
  plugin        TEXT NOT NULL,
  event         TEXT NOT NULL,
  changes       TEXT NOT NULL,
  received_ms   BIGINT NOT NULL,
  state         TEXT NOT NULL,
  result        TEXT NOT NULL DEFAULT '',
  processed_ms  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_pending ON deliveries(received_ms) WHERE state = 'pending';
-- The change feed, in commit order (inserts are serialised by an advisory
-- lock held to commit); callback_state: none, pending, done, dead.
CREATE TABLE changes (
  seq                BIGSERIAL PRIMARY KEY,
  at_ms              BIGINT NOT NULL,
  entity_kind        TEXT NOT NULL,
  entity_id          TEXT NOT NULL,
  source             TEXT NOT NULL,
  delivery_id        TEXT NOT NULL,
  crm_event          TEXT NOT NULL,
  fields             TEXT NOT NULL,
  entity             TEXT NOT NULL,
  callback_state     TEXT NOT NULL DEFAULT 'none',
  callback_attempts  INTEGER NOT NULL DEFAULT 0,
  callback_at_ms     BIGINT NOT NULL DEFAULT 0,
  callback_error     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX changes_callback ON changes(callback_at_ms) WHERE callback_state = 'pending';
CREATE TABLE webhook_registrations (
  plugin         TEXT PRIMARY KEY,
  fingerprint    TEXT NOT NULL,
  registered_ms  BIGINT NOT NULL
);
)sql"},
      {4, "job counts by state kept by triggers; oldest unfinished job by index",
       R"sql(
-- Queue figures without scanning jobs: deltas 'jobs_<state>' and
-- 'ready_p<priority>' follow every insert, change of state or priority, and
-- delete of a job, in the same transaction.
INSERT INTO counter_deltas (name, value)
  SELECT 'jobs_' || state, count(*) FROM jobs GROUP BY state;
INSERT INTO counter_deltas (name, value)
  SELECT 'ready_p' || priority, count(*) FROM jobs WHERE state = 'ready' GROUP BY priority;
CREATE FUNCTION jobs_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO counter_deltas (name, value) VALUES ('jobs_' || NEW.state, 1);
    IF NEW.state = 'ready' THEN
      INSERT INTO counter_deltas (name, value) VALUES ('ready_p' || NEW.priority, 1);
    END IF;
  ELSIF TG_OP = 'UPDATE' THEN
    IF OLD.state <> NEW.state THEN
      INSERT INTO counter_deltas (name, value)
        VALUES ('jobs_' || OLD.state, -1), ('jobs_' || NEW.state, 1);
    END IF;
    IF OLD.state <> NEW.state OR OLD.priority <> NEW.priority THEN
      IF OLD.state = 'ready' THEN
        INSERT INTO counter_deltas (name, value) VALUES ('ready_p' || OLD.priority, -1);
      END IF;
      IF NEW.state = 'ready' THEN
        INSERT INTO counter_deltas (name, value) VALUES ('ready_p' || NEW.priority, 1);
      END IF;
    END IF;
  ELSE
    INSERT INTO counter_deltas (name, value) VALUES ('jobs_' || OLD.state, -1);
    IF OLD.state = 'ready' THEN
      INSERT INTO counter_deltas (name, value) VALUES ('ready_p' || OLD.priority, -1);
    END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_count AFTER INSERT OR UPDATE OF state, priority OR DELETE ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_count();
CREATE INDEX jobs_unfinished ON jobs(id) WHERE state IN ('queued','ready','delayed','leased');
)sql"},
      {5, "recently sent states per link, to recognise late echoes",
       R"sql(
-- Lines of "<sent at ms>\t<job payload>", newest last, a few minutes' worth.
ALTER TABLE links ADD COLUMN sent_recent TEXT NOT NULL DEFAULT '';
)sql"},
      {6, "transactional outbox of job announcements for the Redis queue",
       R"sql(
-- queue.backend=redis: every job that becomes ready, delayed (with its due
-- time) or dead is written here by the trigger, in the transaction that
-- changed it, and relayed to Redis (ready streams, delayed sorted set, dead
-- stream) by RedisQueue, which deletes the rows it relayed. Only sessions that
-- set crmsync.outbox = 'on' (the Redis queue's connections) write rows, so an
-- engine with the queue in PostgreSQL leaves the table empty.
CREATE TABLE job_outbox (
  id           BIGSERIAL PRIMARY KEY,
  job_id       BIGINT NOT NULL,
  state        TEXT NOT NULL,
  priority     INTEGER NOT NULL,
  due_ms       BIGINT NOT NULL,
  entity_kind  TEXT NOT NULL,
  entity_id    TEXT NOT NULL,
  event_id     TEXT NOT NULL
);
CREATE FUNCTION jobs_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('crmsync.outbox', true), '') = 'on'
     AND NEW.state IN ('ready', 'delayed', 'dead')
     AND (TG_OP = 'INSERT' OR OLD.state <> NEW.state OR OLD.priority <> NEW.priority
          OR OLD.available_ms <> NEW.available_ms) THEN
    INSERT INTO job_outbox (job_id, state, priority, due_ms, entity_kind, entity_id, event_id)
      VALUES (NEW.id, NEW.state, NEW.priority, NEW.available_ms, NEW.entity_kind,
              NEW.entity_id, NEW.event_id);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_announce AFTER INSERT OR UPDATE OF state, priority, available_ms ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_announce();
)sql"},
      {7, "links found by external id through an index led by it",
       R"sql(
-- links_external began with (plugin, entity_kind), the primary key's leading
-- columns: with statistics taken while links was small, the planner chose it
-- for primary-key lookups and read every link of the plugin (1.4 ms a lookup
-- at 20,000 links, three lookups per job). Led by external_id, it serves only
-- the lookups by external id.
DROP INDEX links_external;
CREATE INDEX links_external ON links(external_id, plugin, entity_kind);
)sql"},
      kFieldTimesMigration,
      kPluginStateMigration,
      kInboundEventsMigration,
  };
  return migrations;
}

namespace {

// Key of the session advisory lock held while migrating ("crms" as in SQLite's
// application_id, plus 1).
constexpr int64_t kMigrationLockKey = 0x63726d7300000001LL;

}  // namespace

int MigratePg(PgConn& conn, const std::string& where) {
  conn.Exec("SELECT pg_advisory_lock($1::bigint)", PgParams().Add(kMigrationLockKey));
  struct Unlock {
    PgConn& conn;
    ~Unlock() {
      try {
        conn.Exec("SELECT pg_advisory_unlock($1::bigint)", PgParams().Add(kMigrationLockKey));
      } catch (const StoreError&) {
      }
    }
  } unlock{conn};
  conn.ExecScript(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
      " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
  const auto& migrations = PgMigrations();
  const int latest = migrations.back().version;
  int version = static_cast<int>(
      conn.Exec("SELECT coalesce(max(version), 0) FROM schema_migrations").Int(0, 0));
  if (version > latest) {
    throw StoreError(where + " was written by a newer crmsync (schema version " +
                     std::to_string(version) + "; this build knows up to " +
                     std::to_string(latest) + "); refusing to open it");
  }
  if (version == 0) {
    // A database with a jobs table but no migrations is not one of ours.
    PgResult foreign = conn.Exec(
        "SELECT 1 FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = 'jobs'");
    if (!foreign.Empty()) {
      throw StoreError(where +
                       " already holds a jobs table not made by crmsync; refusing to use it");
    }
  }
  for (const Migration& m : migrations) {
    if (m.version <= version) continue;
    try {
      conn.ExecScript("BEGIN");
      conn.ExecScript(m.sql);
      conn.Exec("INSERT INTO schema_migrations (version, description) VALUES ($1::integer, $2)",
                PgParams().Add(m.version).Add(m.description));
      conn.ExecScript("COMMIT");
    } catch (const StoreError& e) {
      try {
        conn.ExecScript("ROLLBACK");
      } catch (const StoreError&) {
      }
      throw StoreError("migration " + std::to_string(m.version) + " (" + m.description +
                       ") failed on " + where + ": " + e.what());
    }
    version = m.version;
  }
  return version;
}

}  // namespace crmsync::engine
