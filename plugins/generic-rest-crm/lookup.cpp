// Reading lookup answers; see lookup.h.
#include "lookup.h"

#include "json_util.h"
#include "pagination.h"

namespace crmsync::genericrest {
namespace {

Status Mismatch(const std::string& what) {
  return Status::Retryable("lookup answer does not match the mapping: " + what);
}

}  // namespace

Status ReadLookupAnswer(const Operation& op, const HttpResponse& response,
                        std::optional<std::string>* external_id, const std::string* reference) {
  external_id->reset();
  const std::string paging_error = response.Header(kPagingErrorHeader);
  if (!paging_error.empty()) {
    return Status::Retryable("lookup did not read every page, outcome unknown: " + paging_error);
  }
  if (response.status == 404) return Status::Ok();
  for (int status : op.not_found_status) {
    if (response.status == status) return Status::Ok();  // the mapping's "none"
  }
  if (response.status < 200 || response.status > 299) {
    return Status::Permanent("lookup: unexpected answer " + std::to_string(response.status));
  }
  Var body;
  std::string error;
  if (response.body.empty()) return Mismatch("expected JSON, got an empty body");
  if (!ParseJson(response.body, &body, &error)) return Mismatch("expected JSON, got other text");
  Var matches = body;
  if (op.results_pointer) {
    const std::string at = op.results_pointer->empty() ? "the top level" : *op.results_pointer;
    const std::optional<Var> found = ResolvePointer(body, *op.results_pointer);
    if (!found) {
      return Mismatch("expected an array at " + at + ", got " + JsonTypeName(body) + " without it");
    }
    if (IsNull(*found)) return Status::Ok();  // an explicit "none"
    if (!IsArray(*found)) {
      return Mismatch("expected an array at " + at + ", got " + JsonTypeName(*found));
    }
    matches = *found;
  }
  Var match = matches;
  if (IsArray(matches)) {
    JsonArray array = matches.extract<JsonArray>();
    if (array->size() == 0) return Status::Ok();
    match = array->get(0);
    if (op.match_pointer && reference != nullptr) {
      // Several records on the page: ours is the one holding our reference.
      std::optional<Var> ours;
      for (unsigned int i = 0; i < array->size() && !ours; ++i) {
        if (IdAt(array->get(i), *op.match_pointer) == *reference) ours = array->get(i);
      }
      if (!ours) return Status::Ok();
      match = *ours;
    }
  } else if (!IsObject(matches)) {
    return Mismatch(std::string("expected an array or the record itself, got ") + JsonTypeName(matches));
  }
  if (op.match_pointer && reference != nullptr && IsObject(matches) &&
      IdAt(match, *op.match_pointer) != *reference) {
    return Status::Ok();  // the one record answered is someone else's
  }
  *external_id = IdAt(match, op.id_pointer);
  if (!*external_id) {
    return Mismatch("expected the match's id at " + op.id_pointer + ", got none");
  }
  return Status::Ok();
}

}  // namespace crmsync::genericrest
