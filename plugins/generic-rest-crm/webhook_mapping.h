// webhook_mapping.h: CRM webhooks back into platform changes, and the request
// that registers the engine's webhook URL (mapping-format.md, "Webhooks back").
//
// ParseWebhook() reads the event name (eventPointer, else the X-CRM-Event
// header), keeps only events listed in `events`, reads the CRM id
// (entityIdPointer) and the data object (dataPointer), and maps each configured
// field (a pointer into the data object, with statusIn / lookupReverse:<table>
// and the other transforms) to its platform name. A body that is a JSON array
// is a batch of such events (as HubSpot sends them). Fields absent from the
// data are left out: a webhook changes only what it carries.
//
// Pure functions of the mapping and their arguments; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_WEBHOOK_MAPPING_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_WEBHOOK_MAPPING_H_

#include <cstdint>
#include <vector>

#include "crmsync/adapter.h"
#include "mapping_file.h"

namespace crmsync::genericrest {

/// Appends the changes a verified webhook reports. kInvalidRecord (with a reason
/// that names the pointer, never a value) when the body is malformed: not JSON,
/// no event name or CRM id, data not an object, a status the mapping cannot map.
/// A mapping without `webhooks`, or an unlisted event, yields no change and OK.
Status ParseWebhook(const Mapping& mapping, const WebhookDelivery& delivery,
                    std::vector<InboundChange>* changes);

/// Builds webhooks.register against webhook.url / webhook.events /
/// webhook.secret. kPermanent when the mapping has no webhooks.register.
Status BuildWebhookRegistration(const Mapping& mapping, const WebhookRegistration& registration,
                                int64_t now_unix_ms, HttpRequest* out);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_WEBHOOK_MAPPING_H_
