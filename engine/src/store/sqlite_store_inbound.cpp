// store/sqlite_store_inbound.cpp: SqliteStore's CRM deliveries (record, list,
// apply), change feed, callbacks and webhook registration; see sqlite_store.h.
#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <Poco/Exception.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <cstdlib>

#include "crmsync/entities_json.h"
#include "sync/inbound_merge.h"
#include "sync/inbound_reads.h"
#include "store/sqlite_port.h"
#include "queue/store_codec.h"

namespace crmsync::engine {
namespace {

const char kSqlDueCallbacks[] =
    "SELECT seq, at_ms, entity_kind, entity_id, source, delivery_id, crm_event, fields, entity, "
    "callback_attempts FROM changes WHERE callback_state = 'pending' AND callback_at_ms <= ?1 "
    "ORDER BY callback_at_ms, seq LIMIT ?2";
const char kSqlGetRegistration[] = "SELECT fingerprint FROM webhook_registrations WHERE plugin = ?1";
const char kSqlSetRegistration[] =
    "INSERT INTO webhook_registrations (plugin, fingerprint, registered_ms) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(plugin) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "registered_ms = excluded.registered_ms";

}  // namespace

// --- inbound -----------------------------------------------------------------

bool SqliteStore::RecordDelivery(const InboundDelivery& delivery) {
  bool inserted = false;
  committer_->Submit([&](Db& db) {
    SqlitePort port(db, writer_stmts_);
    inserted = RecordPendingDelivery(port, delivery);
  });
  return inserted;
}

std::vector<InboundDelivery> SqliteStore::PendingDeliveries(int max) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  SqlitePort port(*reader_db_, reader_stmts_);
  return ReadPendingDeliveries(port, max);
}

std::vector<InboundResult> SqliteStore::ApplyDelivery(const InboundDelivery& delivery,
                                                      const InboundRules& rules, int64_t now_ms) {
  std::vector<InboundResult> results;
  committer_->Submit([&](Db& db) {
    SqlitePort port(db, writer_stmts_);
    results = ApplyInboundDelivery(port, delivery, rules, now_ms);
  });
  return results;
}

std::vector<ChangeRecord> SqliteStore::Changes(int64_t after_seq, int limit) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  SqlitePort port(*reader_db_, reader_stmts_);
  return ReadChanges(port, after_seq, limit);
}

std::vector<PendingCallback> SqliteStore::DueCallbacks(int64_t now_ms, int max) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  std::vector<PendingCallback> list;
  Stmt& stmt = R(kSqlDueCallbacks);
  StmtScope scope(stmt);
  stmt.Bind(1, now_ms).Bind(2, int64_t{max});
  while (stmt.Step()) {
    PendingCallback p;
    p.change.seq = stmt.ColumnInt(0);
    p.change.at_ms = stmt.ColumnInt(1);
    p.change.entity_kind = stmt.ColumnText(2);
    p.change.entity_id = stmt.ColumnText(3);
    p.change.source = stmt.ColumnText(4);
    p.change.delivery_id = stmt.ColumnText(5);
    p.change.crm_event = stmt.ColumnText(6);
    p.change.fields_json = stmt.ColumnText(7);
    p.change.entity_json = stmt.ColumnText(8);
    p.attempts = static_cast<int>(stmt.ColumnInt(9));
    list.push_back(std::move(p));
  }
  return list;
}

void SqliteStore::FinishCallback(int64_t seq, bool delivered, int attempts, int64_t retry_at_ms,
                                 bool dead, const std::string& error, int64_t now_ms) {
  committer_->Submit([&](Db& db) {
    SqlitePort port(db, writer_stmts_);
    RecordCallbackTry(port, seq, delivered, attempts, retry_at_ms, dead, error, now_ms);
  });
}

std::string SqliteStore::WebhookRegistration(const std::string& plugin) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  Stmt& stmt = R(kSqlGetRegistration);
  StmtScope scope(stmt);
  return stmt.Bind(1, plugin).Step() ? stmt.ColumnText(0) : "";
}

void SqliteStore::SetWebhookRegistration(const std::string& plugin, const std::string& fingerprint,
                                         int64_t now_ms) {
  committer_->Submit([&](Db&) {
    Stmt& stmt = W(kSqlSetRegistration);
    StmtScope scope(stmt);
    stmt.Bind(1, plugin).Bind(2, fingerprint).Bind(3, now_ms).Run();
  });
}

}  // namespace crmsync::engine
