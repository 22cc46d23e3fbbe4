// The CRM's users; see users.h.
#include "users.h"

#include <algorithm>

#include "context.h"
#include "mapping_file.h"
#include "pagination.h"
#include "request_builder.h"

namespace crmsync::genericrest {

bool ParseUsersSpec(const JsonObject& object, UsersSpec* out, ErrorList* errors) {
  const size_t before = errors->size();
  static const std::vector<std::string> kKeys = {
      "list",        "resultsPointer",    "idPointer", "emailPointer",
      "platformIdPointer", "activePointer", "activeWhen"};
  for (const std::string& key : object->getNames()) {
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      std::string list;
      for (const std::string& name : kKeys) list += (list.empty() ? "" : " ") + name;
      errors->emplace_back("/users/" + key, "unknown key (expected one of " + list + ")");
    }
  }
  if (!object->has("list")) errors->emplace_back("/users/list", "required: the list operation");
  auto pointer = [&](const std::string& key, std::optional<std::string>* into) {
    if (!object->has(key)) return;
    const Var value = object->get(key);
    if (!IsString(value) || !IsValidPointer(value.extract<std::string>())) {
      errors->emplace_back("/users/" + key, "must be a JSON pointer (\"/email\")");
      return;
    }
    *into = value.extract<std::string>();
  };
  std::optional<std::string> text;
  pointer("resultsPointer", &text);
  if (text) out->results_pointer = *text;
  text.reset();
  pointer("idPointer", &text);
  if (text) {
    if (text->empty()) {
      errors->emplace_back("/users/idPointer", "must point inside the user, not be \"\"");
    }
    out->id_pointer = *text;
  }
  pointer("emailPointer", &out->email_pointer);
  pointer("platformIdPointer", &out->platform_id_pointer);
  pointer("activePointer", &out->active_pointer);
  if (object->has("activeWhen")) {
    if (!object->has("activePointer")) {
      errors->emplace_back("/users/activeWhen", "needs an activePointer");
    }
    out->active_when = object->get("activeWhen");
  }
  return errors->size() == before;
}

Status ReadUser(const UsersSpec& spec, const Var& item, const std::string& where, CrmUser* out) {
  if (!IsObject(item)) return Status::Permanent(where + ": expected an object (a user)");
  const std::optional<std::string> id = IdAt(item, spec.id_pointer);
  if (!id) return Status::Permanent(where + ": no user id at " + spec.id_pointer);
  CrmUser user;
  user.id = *id;
  if (spec.email_pointer) {
    const std::optional<Var> email = ResolvePointer(item, *spec.email_pointer);
    if (email && IsString(*email)) user.email = email->extract<std::string>();
  }
  if (spec.platform_id_pointer) {
    user.platform_id = IdAt(item, *spec.platform_id_pointer).value_or("");
  }
  if (spec.active_pointer) {
    const std::optional<Var> active = ResolvePointer(item, *spec.active_pointer);
    // Compared as JSON text, so true == true and 1 == 1 whatever their C++ type.
    if (active && !IsNull(*active)) user.active = ToJson(*active) == ToJson(spec.active_when);
  }
  *out = user;
  return Status::Ok();
}

Status ListUsersOver(const Mapping& mapping, Transport& transport, const std::string& base_url,
                     int64_t now_unix_ms,
                     const std::function<Status(const HttpResponse&)>& classify,
                     std::vector<CrmUser>* users) {
  if (!mapping.users || !mapping.users_list) {
    return Status::NotFound("the mapping '" + mapping.name + "' has no users list");
  }
  const Operation& op = *mapping.users_list;
  const UsersSpec& spec = *mapping.users;
  Context context;
  context["now"] = Var(IsoTime(now_unix_ms));
  HttpRequest request;
  Status status = RenderRequest(op, context, mapping.Tables(EntityKind::kLead), "users.list",
                                &request);
  if (!status.ok()) return status;
  Paging single;
  single.max_pages = 1;
  const Paging& paging = op.paging ? *op.paging : single;
  std::vector<CrmUser> listed;
  HttpResponse last;
  status = WalkPages(
      transport, request, paging, spec.results_pointer, base_url,
      [&](const Page& page, PageVerdict* verdict) {
        *verdict = PageVerdict::kNext;
        const std::string where = "page " + std::to_string(page.number);
        const std::optional<Var> items = ResolvePointer(page.body, spec.results_pointer);
        if (!items || !IsArray(*items)) {
          return Status::Permanent(
              where + ": expected an array of users at " +
              (spec.results_pointer.empty() ? std::string("the top level") : spec.results_pointer));
        }
        JsonArray array = items->extract<JsonArray>();
        for (unsigned int i = 0; i < array->size(); ++i) {
          CrmUser user;
          Status read = ReadUser(spec, array->get(i), where + " item " + std::to_string(i), &user);
          if (!read.ok()) return read;
          listed.push_back(user);
        }
        // Without paging the one answer is the whole list.
        if (!op.paging) *verdict = PageVerdict::kStop;
        return Status::Ok();
      },
      &last);
  if (!status.ok()) {
    if (last.error == TransportError::kNone && (last.status < 200 || last.status > 299)) {
      const Status classified = classify(last);
      if (!classified.ok()) {
        return Status(classified.code(), "users.list: " + classified.message());
      }
    }
    return Status(status.code(), "users.list: " + status.message());
  }
  *users = listed;
  return Status::Ok();
}

}  // namespace crmsync::genericrest
