// users.h: the CRM's users (agents), as a mapping lists them
// (mapping-format.md, "Users"): the `users` key, and Adapter::ListUsers() of
// generic-rest-crm over it.
//
//   "users": {"list": {"method": "GET", "path": "/crm/v3/owners", "query": {"limit": "100"},
//                      "paging": {"type": "cursor", ...}},
//             "resultsPointer": "/results", "idPointer": "/id", "emailPointer": "/email",
//             "platformIdPointer": "/crmsync_id", "activePointer": "/archived",
//             "activeWhen": false}
//
// Every page is read (list.paging, pagination.h); each item becomes a CrmUser:
// its id (required: an item without one fails the list, naming the page and
// the item, since a directory missing a user would unassign records), email and
// platform id ("" when absent), active (true unless activePointer holds
// something other than activeWhen, default true). A page the CRM refuses, or
// that does not fit, fails the list: the engine keeps its last directory.
//
// Pure functions but ListUsersOver(), which sends through the given transport;
// thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_USERS_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_USERS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "json_util.h"
#include "template.h"

namespace crmsync::genericrest {

struct Operation;
struct Mapping;

/// The `users` key of a mapping.
struct UsersSpec {
  std::string results_pointer;  ///< "" : the answer itself is the array.
  std::string id_pointer = "/id";
  std::optional<std::string> email_pointer;
  std::optional<std::string> platform_id_pointer;
  std::optional<std::string> active_pointer;
  Var active_when = Var(true);
};

/// Reads the users spec at /users but its `list` operation (the caller parses
/// that as an operation); problems go to *errors.
bool ParseUsersSpec(const JsonObject& object, UsersSpec* out, ErrorList* errors);

/// Reads one item of a users page; kPermanent naming `where` when it has no id.
Status ReadUser(const UsersSpec& spec, const Var& item, const std::string& where, CrmUser* out);

/// Lists every user: renders `list` (only `now` is known), walks its pages
/// through `transport`, classifies each answer with `classify` (the mapping's
/// outcome table). `base_url` is crm.api.url (for Link paging).
Status ListUsersOver(const Mapping& mapping, Transport& transport, const std::string& base_url,
                     int64_t now_unix_ms,
                     const std::function<Status(const HttpResponse&)>& classify,
                     std::vector<CrmUser>* users);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_USERS_H_
