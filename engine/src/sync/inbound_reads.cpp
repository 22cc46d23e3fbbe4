// sync/inbound_reads.cpp: the inbound side's reads (see inbound_reads.h).
#include "sync/inbound_reads.h"

#include <string>

#include "queue/store_codec.h"
#include "sync/inbound_codec.h"

namespace crmsync::engine {

std::vector<InboundDelivery> ReadPendingDeliveries(SqlPort& db, int max) {
  SqlRows r = db.Query(Sql::kPendingDeliveries, {max});
  std::vector<InboundDelivery> list;
  for (int i = 0; i < r.Rows(); ++i) {
    InboundDelivery d;
    d.id = r.Text(i, 0);
    d.plugin = r.Text(i, 1);
    d.event = r.Text(i, 2);
    d.changes = ChangesFromJson(r.Text(i, 3));
    d.received_ms = r.Int(i, 4);
    list.push_back(std::move(d));
  }
  return list;
}

std::vector<ChangeRecord> ReadChanges(SqlPort& db, int64_t after_seq, int limit) {
  SqlRows r = db.Query(Sql::kChangesAfter, {after_seq, limit});
  std::vector<ChangeRecord> list;
  for (int i = 0; i < r.Rows(); ++i) {
    ChangeRecord c;
    c.seq = r.Int(i, 0);
    c.at_ms = r.Int(i, 1);
    c.entity_kind = r.Text(i, 2);
    c.entity_id = r.Text(i, 3);
    c.source = r.Text(i, 4);
    c.delivery_id = r.Text(i, 5);
    c.crm_event = r.Text(i, 6);
    c.fields_json = r.Text(i, 7);
    c.entity_json = r.Text(i, 8);
    list.push_back(std::move(c));
  }
  return list;
}

void RecordCallbackTry(SqlPort& db, int64_t seq, bool delivered, int attempts,
                       int64_t retry_at_ms, bool dead, const std::string& error, int64_t now_ms) {
  db.Run(Sql::kFinishCallback,
         {seq, delivered ? "done" : dead ? "dead" : "pending", attempts, retry_at_ms, error});
  if (!dead) return;
  db.Run(Sql::kInsertDeadLetter,
         {-seq, "callback", "change-" + std::to_string(seq), "change.callback", "change",
          std::to_string(seq), "retryable", error, attempts, now_ms});
}

}  // namespace crmsync::engine
