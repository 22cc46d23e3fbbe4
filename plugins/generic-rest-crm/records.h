// records.h: reading the CRM's records back for `crmsync reconcile`
// (crmsync/records.h; mapping-format.md, "Reading records back": the
// `records` section).
//
// List: one page per call, through records.<entity>.list and its paging (the
// forms of pagination.h: cursor, page, link, nextPath). The cursor handed to
// the engine is this plugin's own JSON text, {"path": the next page's request
// path} (with "page": its number for page paging), which the engine may keep
// durably and hand back after a restart. The items at itemsPointer are read
// with idPointer, referencePointer, updatedAtPointer and fields (transforms as
// for webhook fields: statusIn, sourceIn, ...).
//
// Read: one record by its CRM id, through records.<entity>.read (else the
// entity's fetch). A 404 or a notFoundStatus is "no such record" only when it
// is the CRM's own answer to that request and the mapping's outcome rules
// (classify) read it as not_found too; a token endpoint failure or a rule
// that reads the 404 otherwise keeps its own outcome.
//
// Never an empty page or "not found" for an answer that cannot be read: the
// items pointer absent or not an array, a record without an id, a reference or
// time of the wrong type, a value a transform cannot map (an unknown CRM
// status) are kRetryable naming the pointer and what was expected, never a
// value (records hold personal data).
//
// Fields: a field the mapping reads is present in fields_json, null when the
// record holds nothing there (absent, null, "" or []); a value a transform
// maps to nothing (sourceIn of a catch-all option) is left out, since it says
// nothing of the platform's value.
//
// Functions of their arguments that send through the given transport;
// thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_RECORDS_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_RECORDS_H_

#include <cstdint>
#include <string>

#include "crmsync/adapter.h"
#include "crmsync/records.h"
#include "inbound_read.h"
#include "mapping_file.h"

namespace crmsync::genericrest {

/// One page of request.entity_kind's records from request.cursor. kNotFound
/// when the mapping has no records.<entity>.list; kPermanent for a cursor
/// this plugin did not write or a 404 to the list (a moved endpoint, not "no
/// records"); an error answer as `classify` reads it; an answer that cannot
/// be read kRetryable. `base_url` is crm.api.url, which a next page must be on.
Status ListRecordsOver(const Mapping& mapping, Transport& transport, const std::string& base_url,
                       int64_t now_unix_ms, const ClassifyFn& classify,
                       const RecordListRequest& request, RecordListPage* page);

/// Reads `kind`'s record `external_id` into *record. kNotFound only when the
/// CRM answered that it has no such record (see the file comment); kPermanent
/// when the mapping cannot read the kind; an error answer as `classify` reads
/// it; an answer that cannot be read kRetryable.
Status ReadRecordOver(const Mapping& mapping, Transport& transport, int64_t now_unix_ms,
                      const ClassifyFn& classify, EntityKind kind,
                      const std::string& external_id, CrmRecord* record);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_RECORDS_H_
