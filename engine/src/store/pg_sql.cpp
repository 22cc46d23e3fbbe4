// store/pg_sql.cpp: the PostgreSQL ($N parameters) text of every statement the rules run
// through SqlPort (queue/sql_port.h lists them with their parameters).
#include "store/pg_port.h"

#include <string>

#include "store/store_error.h"

namespace crmsync::engine {

namespace {

// Dead letters matching a filter; empty text and 0 mean "any".
#define CRMSYNC_PG_DLQ_WHERE                                                                     \
  " WHERE ($1::bigint = 0 OR id = $1::bigint) AND ($2::text = '' OR plugin = $2::text)"          \
  " AND ($3::text = '' OR error_class = $3::text) AND ($4::text = '' OR entity_kind = $4::text)" \
  " AND ($5::text = '' OR entity_id = $5::text) AND created_ms >= $6::bigint"                    \
  " AND ($7::bigint = 0 OR created_ms < $7::bigint) AND ($8::integer = 1 OR replayed_ms = 0)"

const char kSqlFindEvent[] = "SELECT job_id FROM events WHERE event_id = $1";
const char kSqlInsertEvent[] =
    "INSERT INTO events (event_id, job_id, type, received_ms) VALUES ($1, $2, $3, $4)";
// What a platform event merges into: the mirror, when its fields were set, and
// the hash of the CRM's last change (an echo check).
const char kSqlMirrorLead[] = "SELECT data, field_times, inbound_hash FROM leads WHERE id = $1";
const char kSqlMirrorProperty[] =
    "SELECT data, field_times, inbound_hash FROM properties WHERE id = $1";
// A platform write clears inbound_hash: the mirror no longer holds the CRM's last state.
const char kSqlUpsertLead[] =
    "INSERT INTO leads (id, data, updated_ms, field_times) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_ms = excluded.updated_ms, "
    "field_times = excluded.field_times, inbound_hash = ''";
const char kSqlUpsertProperty[] =
    "INSERT INTO properties (id, data, updated_ms, field_times) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_ms = excluded.updated_ms, "
    "field_times = excluded.field_times, inbound_hash = ''";
const char kSqlUpsertInquiry[] =
    "INSERT INTO inquiries (id, lead_id, data, updated_ms) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT(id) DO UPDATE SET lead_id = excluded.lead_id, data = excluded.data, "
    "updated_ms = excluded.updated_ms";
// The newest job of an entity that is not finished.
const char kSqlLastActiveJob[] =
    "SELECT id, state, coalescable, attempts, step, plan, payload FROM jobs "
    "WHERE entity_kind = $1 AND entity_id = $2 AND state IN ('queued','ready','delayed','leased') "
    "ORDER BY id DESC LIMIT 1";
// Re-checked in the update itself: another engine may lease the ready job
// between the read above and this write (the row lock then makes this update
// see it leased, and change nothing).
const char kSqlAbsorb[] =
    "UPDATE jobs SET event_id = $2, event_type = $3, payload = $4, "
    "priority = least(priority, $5::integer), coalesced = coalesced + 1, updated_ms = $6 "
    "WHERE id = $1 AND state IN ('queued', 'ready') AND attempts = 0 AND step = 0 AND plan = ''";
const char kSqlHasActiveJob[] =
    "SELECT 1 FROM jobs WHERE entity_kind = $1 AND entity_id = $2 "
    "AND state IN ('queued','ready','delayed','leased') LIMIT 1";
const char kSqlInsertJob[] =
    "INSERT INTO jobs (event_id, event_type, entity_kind, entity_id, priority, state, payload, "
    "coalescable, available_ms, created_ms, updated_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9) RETURNING id";
const char kSqlBumpCounter[] = "INSERT INTO counter_deltas (name, value) VALUES ($1, $2)";

const char kSqlInsertAudit[] =
    "INSERT INTO audit (at_ms, entity_kind, entity_id, job_id, action, detail) "
    "VALUES ($1, $2, $3, $4, $5, $6)";
const char kSqlGetLead[] = "SELECT data FROM leads WHERE id = $1";
const char kSqlGetProperty[] = "SELECT data FROM properties WHERE id = $1";
const char kSqlDeadLetterOpen[] =
    "SELECT 1 FROM dead_letters WHERE id = $1 AND replayed_ms = 0 FOR UPDATE";
const char kSqlRequeueCallback[] =
    "UPDATE changes SET callback_state = 'pending', callback_attempts = 0, callback_at_ms = $2 "
    "WHERE seq = $1 AND callback_state = 'dead'";
const char kSqlMarkReplayed[] =
    "UPDATE dead_letters SET replayed_ms = $2, replay_job_id = $3 WHERE id = $1";
const char kSqlJobForReplay[] =
    "SELECT event_id, event_type, entity_kind, entity_id, priority, payload, coalescable "
    "FROM jobs WHERE id = $1";

const char kSqlCurrentLease[] =
    "SELECT entity_kind, entity_id, event_id, event_type FROM jobs "
    "WHERE id = $1 AND state = 'leased' AND lease_token = $2 FOR UPDATE";
const char kSqlInsertAttempt[] =
    "INSERT INTO attempts (job_id, attempt, step, step_kind, at_ms, outcome, http_status, message) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const char kSqlUpsertLink[] =
    "INSERT INTO links (plugin, entity_kind, entity_id, external_id, last_sent_hash, updated_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT(plugin, entity_kind, entity_id) DO UPDATE SET "
    "external_id = excluded.external_id, last_sent_hash = excluded.last_sent_hash, "
    "updated_ms = excluded.updated_ms";
const char kSqlFinishJob[] =
    "UPDATE jobs SET state = $2, attempts = $3, plan = $4, step = $5, available_ms = $6, "
    "in_doubt = $9, last_error = $7, lease_token = 0, lease_owner = 0, updated_ms = $8 "
    "WHERE id = $1";
const char kSqlInsertDeadLetter[] =
    "INSERT INTO dead_letters (job_id, plugin, event_id, event_type, entity_kind, entity_id, "
    "error_class, reason, attempts, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const char kSqlNextQueued[] =
    "SELECT id FROM jobs WHERE entity_kind = $1 AND entity_id = $2 AND state = 'queued' "
    "ORDER BY id LIMIT 1";
const char kSqlMakeReady[] = "UPDATE jobs SET state = 'ready', updated_ms = $2 WHERE id = $1";
const char kSqlJobPayload[] = "SELECT payload FROM jobs WHERE id = $1";
const char kSqlGetSentRecent[] =
    "SELECT sent_recent FROM links WHERE plugin = $1 AND entity_kind = $2 AND entity_id = $3";
const char kSqlSetSentRecent[] =
    "UPDATE links SET sent_recent = $4 WHERE plugin = $1 AND entity_kind = $2 AND entity_id = $3";

const char kSqlLinkByExternal[] =
    "SELECT entity_id FROM links WHERE plugin = $1 AND entity_kind = $2 AND external_id = $3";
// An inbound (CRM) write records the hash of what the CRM set.
const char kSqlInboundLead[] =
    "INSERT INTO leads (id, data, updated_ms, inbound_hash) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_ms = excluded.updated_ms, "
    "inbound_hash = excluded.inbound_hash";
const char kSqlInboundProperty[] =
    "INSERT INTO properties (id, data, updated_ms, inbound_hash) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_ms = excluded.updated_ms, "
    "inbound_hash = excluded.inbound_hash";
const char kSqlInsertChange[] =
    "INSERT INTO changes (at_ms, entity_kind, entity_id, source, delivery_id, crm_event, fields, "
    "entity, callback_state, callback_at_ms) VALUES ($1, $2, $3, 'crm', $4, $5, $6, $7, $8, $1) "
    "RETURNING seq";
const char kSqlDeliveryState[] = "SELECT state FROM deliveries WHERE id = $1 FOR UPDATE";
// An outbound job of a kind, in flight, waiting for a retry, or ready again in
// doubt (a lease that expired or a crashed process), whose entity has no CRM id
// yet: the CRM may already hold it (its create answer not committed).
const char kSqlUnlinkedJobInFlight[] =
    "SELECT 1 FROM jobs j WHERE (j.state IN ('leased', 'delayed') OR "
    "(j.state = 'ready' AND j.in_doubt = 1)) AND j.entity_kind = $2 "
    "AND NOT EXISTS (SELECT 1 FROM links l WHERE l.plugin = $1 AND l.entity_kind = j.entity_kind "
    "AND l.entity_id = j.entity_id AND coalesce(l.external_id, '') <> '') LIMIT 1";
const char kSqlFinishDelivery[] =
    "UPDATE deliveries SET state = 'done', result = $2, processed_ms = $3 WHERE id = $1";

const char kSqlGetLink[] =
    "SELECT external_id, last_sent_hash FROM links "
    "WHERE plugin = $1 AND entity_kind = $2 AND entity_id = $3";

const char kSqlJobsForEntity[] =
    "SELECT id, event_id, event_type, state, attempts, plan, step, available_ms, created_ms, "
    "updated_ms, last_error, coalesced FROM jobs WHERE entity_kind = $1 AND entity_id = $2 "
    "ORDER BY id DESC LIMIT $3::bigint";
const char kSqlAuditForEntity[] =
    "SELECT id, at_ms, job_id, action, detail FROM audit WHERE entity_kind = $1 AND entity_id = $2 "
    "ORDER BY id DESC LIMIT $3::bigint";
const char kSqlListDeadLetters[] =
    "SELECT id, job_id, plugin, event_id, event_type, entity_kind, entity_id, error_class, reason, "
    "attempts, created_ms, replayed_ms, replay_job_id FROM dead_letters" CRMSYNC_PG_DLQ_WHERE
    " ORDER BY id LIMIT $9::bigint";
const char kSqlAttemptsOfJob[] =
    "SELECT attempt, step, step_kind, at_ms, outcome, http_status, message FROM attempts "
    "WHERE job_id = $1 ORDER BY id";
const char kSqlPurgeDeadLetters[] = "DELETE FROM dead_letters" CRMSYNC_PG_DLQ_WHERE;

const char kSqlPendingDeliveries[] =
    "SELECT id, plugin, event, changes, received_ms FROM deliveries WHERE state = 'pending' "
    "ORDER BY received_ms, id LIMIT $1::bigint";
const char kSqlChangesAfter[] =
    "SELECT seq, at_ms, entity_kind, entity_id, source, delivery_id, crm_event, fields, entity "
    "FROM changes WHERE seq > $1::bigint ORDER BY seq LIMIT $2::bigint";

// Deliveries list by received_ms (the id is no arrival order), so a new one must
// sort after every pending one even when the clock has not moved.
const char kSqlLastPendingReceived[] =
    "SELECT max(received_ms) FROM deliveries WHERE state = 'pending'";
const char kSqlInsertDelivery[] =
    "INSERT INTO deliveries (id, plugin, event, changes, received_ms, state) "
    "VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT(id) DO NOTHING";

const char kSqlFinishCallback[] =
    "UPDATE changes SET callback_state = $2, callback_attempts = $3, callback_at_ms = $4, "
    "callback_error = $5 WHERE seq = $1";

const char kSqlLoadPluginState[] = "SELECT value FROM plugin_kv WHERE plugin = $1 AND key = $2";
const char kSqlSavePluginState[] =
    "INSERT INTO plugin_kv (plugin, key, value, updated_ms) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT(plugin, key) DO UPDATE SET value = excluded.value, "
    "updated_ms = excluded.updated_ms";

const char kSqlInboundEventKnown[] =
    "SELECT 1 FROM inbound_events WHERE plugin = $1 AND event_id = $2";
const char kSqlInsertInboundEvent[] =
    "INSERT INTO inbound_events (plugin, event_id, applied_ms) VALUES ($1, $2, $3) "
    "ON CONFLICT(plugin, event_id) DO NOTHING";

const char kSqlMarkInDoubt[] = "UPDATE jobs SET in_doubt = 1 WHERE id = $1";
const char kSqlForgetLink[] =
    "DELETE FROM links WHERE plugin = $1 AND entity_kind = $2 AND entity_id = $3";
const char kSqlMarkEntityInDoubt[] =
    "UPDATE jobs SET in_doubt = 1 WHERE entity_kind = $1 AND entity_id = $2 "
    "AND state IN ('queued','ready','delayed','leased')";

}  // namespace

CRMSYNC_DEFINE_SQL_TEXTS(PgSql, "PostgreSQL")

}  // namespace crmsync::engine
