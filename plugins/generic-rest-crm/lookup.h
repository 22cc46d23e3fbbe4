// lookup.h: reading the answer to a mapping's `lookup` operation (find a record
// by its externalReference) into "found under this id", "not found" or "unknown".
//
// Only an explicit "nothing" means not found: a 404, a status the lookup lists
// in notFoundStatus (Zoho's 204), an empty array at the results pointer, or
// null there. Everything else that does not fit the mapping
// (not JSON, the pointer absent, a value of the wrong type, a match without an
// id) is an unknown outcome, returned as kRetryable naming what was expected
// and what came: the engine retries and then dead-letters, and never creates
// the record again on an answer it could not read.
//
// Pure function; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_LOOKUP_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_LOOKUP_H_

#include <optional>
#include <string>

#include "crmsync/adapter.h"
#include "mapping_file.h"

namespace crmsync::genericrest {

/// Reads `response` to the lookup operation `op`. OK with *external_id set
/// (found) or reset (not found); kRetryable when the answer cannot be read as
/// the mapping describes it; kPermanent for an error status other than 404
/// (the engine classifies those before asking). With the lookup's matchPointer
/// and a `reference`, only a match holding that reference there counts (the
/// others are someone else's records); without a reference the first match
/// counts. An answer carrying kPagingErrorHeader (a paged lookup that could
/// not read every page, pagination.h) is kRetryable with its reason.
Status ReadLookupAnswer(const Operation& op, const HttpResponse& response,
                        std::optional<std::string>* external_id,
                        const std::string* reference = nullptr);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_LOOKUP_H_
