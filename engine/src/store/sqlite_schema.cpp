// The SQLite migrations; see sqlite_schema.h.
#include "store/sqlite_schema.h"

namespace crmsync::engine {

const Migration kFieldTimesMigration = {
    8, "when each mirror field was last set, so a late platform event keeps newer fields",
    R"sql(
-- JSON {"<field>": <occurredAt ms of the event that last set it>}; '' for none.
ALTER TABLE leads ADD COLUMN field_times TEXT NOT NULL DEFAULT '';
ALTER TABLE properties ADD COLUMN field_times TEXT NOT NULL DEFAULT '';
)sql"};

const Migration kPluginStateMigration = {
    9, "values plugins save through their PluginHost",
    R"sql(
-- What a plugin saved under a key (SDK PluginHost::SaveState), base64 of its
-- bytes: a rotated OAuth refresh token, say. Secrets: never logged or shown.
CREATE TABLE plugin_kv (
  plugin      TEXT NOT NULL,
  key         TEXT NOT NULL,
  value       TEXT NOT NULL,
  updated_ms  BIGINT NOT NULL,
  PRIMARY KEY (plugin, key)
);
)sql"};

const Migration kInboundEventsMigration = {
    10, "the CRM's event ids already applied, per plugin, for per-event dedup",
    R"sql(
-- One row per CRM event id whose change was applied (or judged stale, invalid,
-- no change): a change whose every event is here is a duplicate, whichever
-- delivery or poll page brings it again (docs/design.md §5).
CREATE TABLE inbound_events (
  plugin      TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  applied_ms  BIGINT NOT NULL,
  PRIMARY KEY (plugin, event_id)
);
)sql"};

const std::vector<Migration>& SqliteMigrations() {
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
  job_id       INTEGER NOT NULL,
  type         TEXT NOT NULL,
  received_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE leads (
  id          TEXT PRIMARY KEY,
  data        TEXT NOT NULL,
  updated_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE properties (
  id          TEXT PRIMARY KEY,
  data        TEXT NOT NULL,
  updated_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE inquiries (
  id          TEXT PRIMARY KEY,
  lead_id     TEXT NOT NULL,
  data        TEXT NOT NULL,
  updated_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE links (
  plugin          TEXT NOT NULL,
  entity_kind     TEXT NOT NULL,
  entity_id       TEXT NOT NULL,
  external_id     TEXT,
  last_sent_hash  TEXT NOT NULL DEFAULT '',
  updated_ms      INTEGER NOT NULL,
  PRIMARY KEY (plugin, entity_kind, entity_id)
) WITHOUT ROWID;
-- state: queued (behind an earlier job of its entity), ready, delayed (retry
-- time not reached), leased, done, dead. At most one job per entity is in
-- ready/delayed/leased: the entity's head.
CREATE TABLE jobs (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
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
  available_ms      INTEGER NOT NULL DEFAULT 0,
  lease_token       INTEGER NOT NULL DEFAULT 0,
  lease_expires_ms  INTEGER NOT NULL DEFAULT 0,
  coalesced         INTEGER NOT NULL DEFAULT 0,
  last_error        TEXT NOT NULL DEFAULT '',
  created_ms        INTEGER NOT NULL,
  updated_ms        INTEGER NOT NULL
);
CREATE INDEX jobs_ready ON jobs(priority, id) WHERE state = 'ready';
CREATE INDEX jobs_delayed ON jobs(available_ms) WHERE state = 'delayed';
CREATE INDEX jobs_leased ON jobs(lease_expires_ms) WHERE state = 'leased';
CREATE INDEX jobs_queued ON jobs(entity_kind, entity_id, id) WHERE state = 'queued';
CREATE INDEX jobs_entity ON jobs(entity_kind, entity_id, id);
CREATE TABLE attempts (
  job_id       INTEGER NOT NULL,
  attempt      INTEGER NOT NULL,
  step         INTEGER NOT NULL,
  step_kind    TEXT NOT NULL,
  at_ms        INTEGER NOT NULL,
  outcome      TEXT NOT NULL,
  http_status  INTEGER NOT NULL,
  message      TEXT NOT NULL
);
CREATE INDEX attempts_job ON attempts(job_id);
CREATE TABLE dead_letters (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id         INTEGER NOT NULL,
  plugin         TEXT NOT NULL,
  event_id       TEXT NOT NULL,
  event_type     TEXT NOT NULL,
  entity_kind    TEXT NOT NULL,
  entity_id      TEXT NOT NULL,
  error_class    TEXT NOT NULL,
  reason         TEXT NOT NULL,
  attempts       INTEGER NOT NULL,
  created_ms     INTEGER NOT NULL,
  replayed_ms    INTEGER NOT NULL DEFAULT 0,
  replay_job_id  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX dead_letters_open ON dead_letters(created_ms) WHERE replayed_ms = 0;
CREATE TABLE audit (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms        INTEGER NOT NULL,
  entity_kind  TEXT NOT NULL,
  entity_id    TEXT NOT NULL,
  job_id       INTEGER NOT NULL,
  action       TEXT NOT NULL,
  detail       TEXT NOT NULL
);
CREATE INDEX audit_entity ON audit(entity_kind, entity_id, id);
CREATE TABLE counters (
  name   TEXT PRIMARY KEY,
  value  INTEGER NOT NULL
) WITHOUT ROWID;
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
  received_ms   INTEGER NOT NULL,
  state         TEXT NOT NULL,
  result        TEXT NOT NULL DEFAULT '',
  processed_ms  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX deliveries_pending ON deliveries(received_ms) WHERE state = 'pending';
-- The change feed, in commit order; callback_state: none, pending, done, dead.
CREATE TABLE changes (
  seq                INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms              INTEGER NOT NULL,
  entity_kind        TEXT NOT NULL,
  entity_id          TEXT NOT NULL,
  source             TEXT NOT NULL,
  delivery_id        TEXT NOT NULL,
  crm_event          TEXT NOT NULL,
  fields             TEXT NOT NULL,
  entity             TEXT NOT NULL,
  callback_state     TEXT NOT NULL DEFAULT 'none',
  callback_attempts  INTEGER NOT NULL DEFAULT 0,
  callback_at_ms     INTEGER NOT NULL DEFAULT 0,
  callback_error     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX changes_callback ON changes(callback_at_ms) WHERE callback_state = 'pending';
CREATE TABLE webhook_registrations (
  plugin         TEXT PRIMARY KEY,
  fingerprint    TEXT NOT NULL,
  registered_ms  INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
      {4, "job counts by state kept by triggers; oldest unfinished job by index",
       R"sql(
-- Queue figures in O(1): counters 'jobs_<state>' and 'ready_p<priority>' follow
-- every insert, change of state or priority, and delete of a job, in the same
-- transaction.
INSERT INTO counters (name, value)
  SELECT 'jobs_' || state, count(*) FROM jobs GROUP BY state
  ON CONFLICT(name) DO UPDATE SET value = excluded.value;
INSERT INTO counters (name, value)
  SELECT 'ready_p' || priority, count(*) FROM jobs WHERE state = 'ready' GROUP BY priority
  ON CONFLICT(name) DO UPDATE SET value = excluded.value;
CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
  INSERT INTO counters (name, value) VALUES ('jobs_' || NEW.state, 1)
    ON CONFLICT(name) DO UPDATE SET value = value + 1;
  INSERT INTO counters (name, value) SELECT 'ready_p' || NEW.priority, 1 WHERE NEW.state = 'ready'
    ON CONFLICT(name) DO UPDATE SET value = value + 1;
END;
CREATE TRIGGER jobs_count_update AFTER UPDATE OF state, priority ON jobs
    WHEN OLD.state <> NEW.state OR OLD.priority <> NEW.priority BEGIN
  UPDATE counters SET value = value - 1
    WHERE name = 'jobs_' || OLD.state AND OLD.state <> NEW.state;
  INSERT INTO counters (name, value) SELECT 'jobs_' || NEW.state, 1 WHERE OLD.state <> NEW.state
    ON CONFLICT(name) DO UPDATE SET value = value + 1;
  UPDATE counters SET value = value - 1
    WHERE name = 'ready_p' || OLD.priority AND OLD.state = 'ready';
  INSERT INTO counters (name, value) SELECT 'ready_p' || NEW.priority, 1 WHERE NEW.state = 'ready'
    ON CONFLICT(name) DO UPDATE SET value = value + 1;
END;
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
  UPDATE counters SET value = value - 1 WHERE name = 'jobs_' || OLD.state;
  UPDATE counters SET value = value - 1
    WHERE name = 'ready_p' || OLD.priority AND OLD.state = 'ready';
END;
CREATE INDEX jobs_unfinished ON jobs(id) WHERE state IN ('queued','ready','delayed','leased');
)sql"},
      {5, "recently sent states per link, to recognise late echoes",
       R"sql(
-- Lines of "<sent at ms>\t<job payload>", newest last, a few minutes' worth.
ALTER TABLE links ADD COLUMN sent_recent TEXT NOT NULL DEFAULT '';
)sql"},
      // PostgreSQL's 6 and 7 have nothing to do in SQLite: kept as no-ops so
      // both stores number the same schema alike.
      {6, "job outbox for the Redis queue (PostgreSQL only)", "-- nothing in SQLite\n"},
      {7, "links found by external id (PostgreSQL only)", "-- nothing in SQLite\n"},
      kFieldTimesMigration,
      kPluginStateMigration,
      kInboundEventsMigration,
  };
  return migrations;
}

}  // namespace crmsync::engine
