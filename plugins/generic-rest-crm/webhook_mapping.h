// webhook_mapping.h: CRM webhooks back into platform changes, and the request
// that registers the engine's webhook URL (mapping-format.md, "Webhooks back").
//
// ParseWebhook() finds the delivery's events (eventsPointer, else an array body
// is a batch and an object body one event), reads each event's name
// (eventPointer, one pointer or several joined with ".", else the X-CRM-Event
// header), keeps only events listed in `events`, reads the CRM id or ids
// (entityIdPointer: one change per id), the event id (eventIdPointer), the
// time (updatedAtPointer; Unix milliseconds become ISO 8601) and the data
// object (dataPointer, or {name: value} of a per-property event), and maps
// each configured field (a pointer into the data object, with statusIn /
// lookupReverse:<table> and the other transforms) to its platform name. Fields
// absent from the data are left out: a webhook changes only what it carries.
// With webhooks.fetch the changes carry fetch=true and no fields. Changes about
// one record within a delivery are folded into one (FoldChanges).
//
// Pure functions of the mapping and their arguments; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_WEBHOOK_MAPPING_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_WEBHOOK_MAPPING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "mapping_file.h"

namespace crmsync::genericrest {

/// Appends the changes a verified webhook reports. kInvalidRecord (with a reason
/// that names the pointer, never a value) when the body is malformed: not JSON,
/// no event name, CRM id or event id, data not an object, a status the mapping
/// cannot map. A mapping without `webhooks`, or an unlisted event, yields no
/// change and OK.
Status ParseWebhook(const Mapping& mapping, const WebhookDelivery& delivery,
                    std::vector<InboundChange>* changes);

/// Maps `data` (a CRM record or a webhook's data object) through
/// webhooks.fields of `kind` into a platform fields object. kInvalidRecord
/// naming `where` and the pointer when a transform fails or a status cannot be
/// mapped.
Status MapInboundFields(const Mapping& mapping, EntityKind kind, const Var& data,
                        const std::string& where, JsonObject* fields);

/// True when `name` is a platform status of `kind` ("QUALIFIED", "SOLD").
bool IsPlatformStatus(EntityKind kind, const std::string& name);

/// A CRM time as a change carries it: a number is Unix milliseconds, turned
/// into ISO 8601 UTC; an RFC 3339 string ("...T...Z", "...+05:30") is kept; a
/// string ParseCrmTime() reads in another form (Salesforce's "+0000",
/// Pipedrive's space for the T) is rewritten as ISO 8601 UTC with
/// milliseconds; another non-empty string is kept (the engine refuses it,
/// naming it); else nullopt.
std::optional<std::string> InboundTime(const Var& value);

/// Folds changes about the same record (entity and CRM id) into one, at the
/// place of the first: fields merged in updated_at order (delivery order when
/// the times cannot all be read), a later value winning; event ids unioned;
/// updated_at the latest; the latest event's name.
std::vector<InboundChange> FoldChanges(const std::vector<InboundChange>& changes);

/// Builds webhooks.register against webhook.url / webhook.events /
/// webhook.secret. kPermanent when the mapping has no webhooks.register.
Status BuildWebhookRegistration(const Mapping& mapping, const WebhookRegistration& registration,
                                int64_t now_unix_ms, HttpRequest* out);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_WEBHOOK_MAPPING_H_
