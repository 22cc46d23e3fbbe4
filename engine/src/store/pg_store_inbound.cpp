// store/pg_store_inbound.cpp: PgStore's CRM deliveries (record, list, apply),
// change feed, callbacks and webhook registration; see pg_store.h.
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

#include "crmsync/entities_json.h"
#include "sync/inbound_merge.h"
#include "sync/inbound_reads.h"
#include "store/pg_port.h"
#include "queue/store_codec.h"

namespace crmsync::engine {
namespace {

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
const char kSqlGetRegistration[] =
    "SELECT fingerprint FROM webhook_registrations WHERE plugin = $1";
const char kSqlSetRegistration[] =
    "INSERT INTO webhook_registrations (plugin, fingerprint, registered_ms) VALUES ($1, $2, $3) "
    "ON CONFLICT(plugin) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "registered_ms = excluded.registered_ms";
const char kInboundLock[] = "crmsync:inbound";
const char kDeliveriesLock[] = "crmsync:deliveries";

}  // namespace

// --- inbound -----------------------------------------------------------------

bool PgStore::RecordDelivery(const InboundDelivery& delivery) {
  bool inserted = false;
  Tx([&](PgConn& c) {
    // One recorder at a time, so each new delivery sorts after every pending one.
    PgLockAll(c, {kDeliveriesLock});
    PgPort port(c);
    inserted = RecordPendingDelivery(port, delivery);
  });
  return inserted;
}

std::vector<InboundDelivery> PgStore::PendingDeliveries(int max) {
  std::vector<InboundDelivery> list;
  Tx([&](PgConn& c) {
    PgPort port(c);
    list = ReadPendingDeliveries(port, max);
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
  Announced();
  return results;
}

std::vector<ChangeRecord> PgStore::Changes(int64_t after_seq, int limit) {
  std::vector<ChangeRecord> list;
  Tx([&](PgConn& c) {
    PgPort port(c);
    list = ReadChanges(port, after_seq, limit);
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
    PgPort port(c);
    RecordCallbackTry(port, seq, delivered, attempts, retry_at_ms, dead, error, now_ms);
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
