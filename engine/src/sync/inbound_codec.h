// sync/inbound_codec.h: what the inbound rules read and write the same way on
// every backend: a delivery's changes as stored, ids for records the CRM knew
// first, and the field merge of docs/design.md §5.
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_ENGINE_SYNC_INBOUND_CODEC_H_
#define CRMSYNC_ENGINE_SYNC_INBOUND_CODEC_H_

#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "sync/inbound_types.h"

namespace crmsync::engine {

/// A delivery's changes as stored, and back: every InboundChange member,
/// event_ids and fetch included (absent in rows written before ABI 4.0).
std::string ChangesToJson(const std::vector<InboundChange>& changes);
std::vector<InboundChange> ChangesFromJson(const std::string& json);

/// Position of a lead status in the funnel (the enum's order), -1 when unknown.
int FunnelIndex(const std::string& status);

/// A platform id for a record the CRM knew first: "crm-" + its id, kept to the
/// characters and length the wire contract allows.
std::string IdForCrmRecord(const std::string& external_id);

/// The inbound merge rules (docs/design.md §5), shared by both backends: merges the
/// CRM's `fields` into `current`, skipping ids and timestamps, fields the
/// platform owns, a lead's status before the CRM owns it (none of these apply
/// when `created`), unchanged values and an empty list where we hold none.
/// Each field that changed is set in `changed` and named in
/// result->changed_fields; skipped owned fields in result->ignored_fields.
void MergeInboundFields(const Poco::JSON::Object& fields, const InboundRules& rules, bool is_lead,
                        bool created, Poco::JSON::Object* current, Poco::JSON::Object* changed,
                        InboundResult* result);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_SYNC_INBOUND_CODEC_H_
