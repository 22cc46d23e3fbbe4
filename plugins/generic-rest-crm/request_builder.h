// request_builder.h: turns one Operation of a mapping file into an HttpRequest,
// rendering its path, query, headers and body templates against a context.
//
// Shared by every request generic-rest-crm builds (steps, lookups, batches,
// webhook registration). Pure functions; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_REQUEST_BUILDER_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_REQUEST_BUILDER_H_

#include <string>

#include "crmsync/http.h"
#include "crmsync/status.h"
#include "mapping_file.h"
#include "template.h"

namespace crmsync::genericrest {

/// Renders method, path (with the query string appended) and headers of `op`
/// into *out, and sets out->route. The body is left empty. kPermanent when a
/// path variable is missing; kInvalidRecord when a transform fails.
Status RenderRequestLine(const Operation& op, const Context& context, const TransformTables& tables,
                         const std::string& route, HttpRequest* out);

/// RenderRequestLine() plus the body template (an object or array template
/// whose members are all omitted still sends "{}" / "[]").
Status RenderRequest(const Operation& op, const Context& context, const TransformTables& tables,
                     const std::string& route, HttpRequest* out);

/// Stores `body` as the request's JSON body.
void SetJsonBody(const Var& body, HttpRequest* out);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_REQUEST_BUILDER_H_
