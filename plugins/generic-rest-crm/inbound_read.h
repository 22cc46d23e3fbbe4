// inbound_read.h: reading changes from the CRM itself: the record a
// notification-only webhook names (mapping-format.md, "Fetching a notified
// record": the `fetch` section, Adapter::FetchChange) and the "changed since"
// list (mapping-format.md, "Change polling": the `poll` section,
// Adapter::PollChanges).
//
// Fetch: 404 or a notFoundStatus is "gone" (kNotFound); a 2xx is read at
// recordPointer through webhooks.fields; an error status is classified by the
// mapping's outcome table; a 2xx that cannot be read is kPermanent, never
// "gone".
//
// Poll: one page per call. The cursor is this plugin's own JSON text
// ({"since": ms} between walks; {"since", "after" or "path", "latest"} inside
// a walk). A page's changes carry event ids "<id>@<updatedAt>#<hash of the mapped fields>". An answer that
// cannot be read is an error, never an empty page, so the cursor does not move
// past changes not read.
//
// Functions of their arguments that send through the given transport;
// thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_INBOUND_READ_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_INBOUND_READ_H_

#include <cstdint>
#include <functional>
#include <string>

#include "crmsync/adapter.h"
#include "json_util.h"
#include "mapping_file.h"

namespace crmsync::genericrest {

/// The mapping's outcome table for an error answer (the adapter's Classify()).
using ClassifyFn = std::function<Status(const HttpResponse&)>;

/// The JSON body of a 2xx answer into *body. An error answer (a transport
/// error or a status that is not 2xx) as `classify` reads it (kRetryable when
/// it reads as OK); a 2xx that is not JSON `unreadable`; both prefixed with
/// `what`.
Status JsonAnswer(const std::string& what, const ClassifyFn& classify,
                  const HttpResponse& response, Var* body,
                  StatusCode unreadable = StatusCode::kPermanent);

/// Fills change->fields_json and updated_at from the CRM's record (and clears
/// change->fetch). kNotFound when the CRM has no such record; kPermanent when
/// the mapping has no fetch for the entity or the answer does not fit; an
/// error answer as `classify` reads it.
Status FetchChangeOver(const Mapping& mapping, Transport& transport, int64_t now_unix_ms,
                       const ClassifyFn& classify, InboundChange* change);

/// Reads one page of changes of request.entity_kind since request.cursor.
/// kNotFound when the mapping has no poll for the entity; kPermanent for a
/// cursor this plugin did not write or an answer that does not fit; an error
/// answer as `classify` reads it (kRetryable when it reads as OK). `base_url`
/// is crm.api.url, which a next page's path must be on.
Status PollChangesOver(const Mapping& mapping, Transport& transport, const std::string& base_url,
                       const ClassifyFn& classify, const PollRequest& request, PollPage* page);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_INBOUND_READ_H_
