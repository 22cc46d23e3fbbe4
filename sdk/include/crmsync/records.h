// crmsync/records.h: reading the CRM's records back, for `crmsync reconcile`.
//
// Reconcile compares what the CRM holds with the engine's mirror: records
// missing at the CRM, fields that differ, CRM records that carry our
// reference but that the mirror does not know, and links that point at
// nothing. It reads the CRM through this optional interface of an Adapter:
// a list of every record of a kind, page by page, and one record by its CRM
// id. A plugin without it is reconciled by lookups by reference alone (see
// Mapper::BuildLookup): missing records and broken links are found, fields
// are not compared.
//
// An adapter implements it by deriving from RecordReader beside Adapter. The
// engine finds it with AsRecordReader(), so a plugin built against 4.0 still
// loads. Each call sends at most one request through the adapter's
// transport; the engine takes a token from the plugin's rate budget before
// each call. Calls come from one engine thread at a time, concurrently with
// jobs and polls: they must be as thread-safe as PollChanges(). They never
// throw.
//
// Added in ABI 4.1.
#ifndef CRMSYNC_RECORDS_H_
#define CRMSYNC_RECORDS_H_

#include <optional>
#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "crmsync/entities.h"
#include "crmsync/status.h"

namespace crmsync {

/// One record as the CRM holds it, in platform terms.
struct CrmRecord {
  EntityKind entity_kind = EntityKind::kLead;
  /// The CRM's id of the record.
  std::string external_id;
  /// The reference the engine sent with it (SyncJob::external_reference,
  /// "lead:42"), as the CRM holds it; "" when the record carries none (an
  /// agent created it in the CRM by hand).
  std::string external_reference;
  /// The platform-named fields the plugin can read back, as a JSON object
  /// text, mapped as ParseWebhook() maps them (statuses to platform
  /// statuses): {"name":"Asha","email":"asha@example.com","status":"NEW"}.
  /// A field the plugin cannot read back is absent (and is not compared); a
  /// field the CRM holds empty is null.
  std::string fields_json = "{}";
  /// The CRM's update time (ISO 8601 UTC) when it gives one.
  std::optional<std::string> updated_at;
};

/// What RecordReader::ListRecords() is asked for.
struct RecordListRequest {
  EntityKind entity_kind = EntityKind::kLead;
  /// "" for the first page; else the previous page's next_cursor, which the
  /// engine may keep durably and hand back after a restart.
  std::string cursor;
};

/// One page of a list.
struct RecordListPage {
  /// The page's records, in the CRM's stable list order.
  std::vector<CrmRecord> records;
  /// Where the next page starts; must be set when `more` is true.
  std::string next_cursor;
  /// True when the list goes on after this page.
  bool more = false;
};

/// The optional record-reading interface of an Adapter.
class RecordReader {
 public:
  virtual ~RecordReader();

  /// Reads one page of every record of request.entity_kind. kNotFound when
  /// the plugin cannot list that kind (the engine then looks records up by
  /// reference one by one); kRetryable / kUnavailable / kRateLimited to try
  /// the same page again later; an answer that cannot be read is kRetryable
  /// naming what was expected, never an empty last page.
  virtual Status ListRecords(const RecordListRequest& request, RecordListPage* page) = 0;

  /// Reads one record by its CRM id into `*record`. kNotFound only when the
  /// CRM answered that it has no such record; an answer that cannot be read
  /// is kRetryable ("unknown"), never kNotFound; kPermanent when the plugin
  /// cannot read that kind.
  virtual Status ReadRecord(EntityKind kind, const std::string& external_id,
                            CrmRecord* record) = 0;
};

/// `adapter` as a RecordReader, or nullptr when it does not implement it.
RecordReader* AsRecordReader(Adapter* adapter) noexcept;

}  // namespace crmsync

#endif  // CRMSYNC_RECORDS_H_
