// Reading the CRM's records back; see records.h.
#include "records.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "context.h"
#include "json_util.h"
#include "pagination.h"
#include "request_builder.h"
#include "webhook_mapping.h"

namespace crmsync::genericrest {
namespace {

std::string PointerName(const std::string& pointer) {
  return pointer.empty() ? std::string("the top level") : pointer;
}

Status Mismatch(const std::string& where, const std::string& expected) {
  return Status::Retryable(where + ": the CRM's answer does not match the mapping: expected " +
                           expected);
}

// The list cursor (records.h): the next page's path, and its number for page
// paging.
struct ListCursor {
  std::string path;
  std::optional<long long> page;
};

bool ReadCursor(const std::string& text, ListCursor* out) {
  Var parsed;
  std::string error;
  if (!ParseJson(text, &parsed, &error) || !IsObject(parsed)) return false;
  JsonObject object = parsed.extract<JsonObject>();
  if (!object->has("path") || !IsString(object->get("path"))) return false;
  out->path = object->get("path").extract<std::string>();
  if (out->path.empty() || out->path[0] != '/') return false;
  if (object->has("page")) {
    const Var page = object->get("page");
    if (!page.isInteger() || IsBool(page)) return false;
    out->page = page.convert<long long>();
  }
  for (const std::string& key : object->getNames()) {
    if (key != "path" && key != "page") return false;
  }
  return true;
}

std::string WriteCursor(const ListCursor& cursor) {
  JsonObject object = NewObject();
  object->set("path", cursor.path);
  if (cursor.page) object->set("page", Poco::Int64(*cursor.page));
  return ToJson(Var(object));
}

// The platform fields of one record (records.h, "Fields").
Status ReadFields(const Mapping& mapping, EntityKind kind, const RecordsSpec& spec,
                  const Var& record, const std::string& where, std::string* fields_json) {
  const TransformTables tables = mapping.Tables(kind);
  JsonObject fields = NewObject();
  for (const WebhookField& field : spec.fields) {
    const std::optional<Var> found = ResolvePointer(record, field.from);
    if (!found || IsEmptyValue(*found)) {
      fields->set(field.platform_field, Var());  // the CRM holds nothing there
      continue;
    }
    Var value = DeepCopy(*found);
    const Status status = ApplyTransforms(field.transforms, tables, where + " " + field.from,
                                          &value);
    if (!status.ok()) {
      return Status::Retryable(status.message() + " (reading " + field.platform_field + ")");
    }
    if (IsEmptyValue(value)) continue;  // the transform cannot say
    if (field.platform_field == "status" &&
        (!IsString(value) || !IsPlatformStatus(kind, value.extract<std::string>()))) {
      return Mismatch(where + " " + field.from,
                      std::string("a ") + EntityKindName(kind) +
                          " status after the transforms (map it with statusIn)");
    }
    fields->set(field.platform_field, value);
  }
  *fields_json = ToJson(Var(fields));
  return Status::Ok();
}

// One record (a list item, or a read's record) as a CrmRecord.
Status ReadOne(const Mapping& mapping, EntityKind kind, const RecordsSpec& spec, const Var& item,
               const std::string& where, CrmRecord* out) {
  if (!IsObject(item)) {
    return Mismatch(where, std::string("a record (an object), got ") + JsonTypeName(item));
  }
  const std::optional<std::string> id = IdAt(item, spec.id_pointer);
  if (!id || id->empty()) {
    return Mismatch(where, "the record's CRM id (a string or number) at " + spec.id_pointer);
  }
  const std::string at = where + " (CRM id " + *id + ")";
  CrmRecord record;
  record.entity_kind = kind;
  record.external_id = *id;
  const std::optional<Var> reference = ResolvePointer(item, spec.reference_pointer);
  if (reference && !IsEmptyValue(*reference)) {
    if (!IsString(*reference)) {
      return Mismatch(at, "our reference (a string, or nothing) at " + spec.reference_pointer +
                              ", got " + JsonTypeName(*reference));
    }
    record.external_reference = reference->extract<std::string>();
  }
  if (spec.updated_at_pointer) {
    const std::optional<Var> updated = ResolvePointer(item, *spec.updated_at_pointer);
    if (updated && !IsEmptyValue(*updated)) {
      record.updated_at = InboundTime(*updated);
      if (!record.updated_at) {
        return Mismatch(at, "the update time (ISO 8601 or Unix milliseconds) at " +
                                *spec.updated_at_pointer + ", got " + JsonTypeName(*updated));
      }
    }
  }
  Status status = ReadFields(mapping, kind, spec, item, at, &record.fields_json);
  if (!status.ok()) return status;
  *out = std::move(record);
  return Status::Ok();
}

}  // namespace

Status ListRecordsOver(const Mapping& mapping, Transport& transport, const std::string& base_url,
                       int64_t now_unix_ms, const ClassifyFn& classify,
                       const RecordListRequest& request, RecordListPage* page) {
  const EntityKind kind = request.entity_kind;
  const std::string entity = EntityKindName(kind);
  auto found = mapping.records.find(entity);
  if (found == mapping.records.end() || !found->second.list) {
    return Status::NotFound("the mapping '" + mapping.name + "' has no records." + entity +
                            ".list: its " + entity + "s are found by lookups");
  }
  const RecordsSpec& spec = found->second;
  const std::string what = "records." + entity + ".list";
  ListCursor cursor;
  if (!request.cursor.empty() && !ReadCursor(request.cursor, &cursor)) {
    return Status::Permanent(what + ": the saved cursor is not one this plugin wrote");
  }
  Context context;
  context["now"] = Var(IsoTime(now_unix_ms));
  HttpRequest http;
  Status status = RenderRequest(*spec.list, context, mapping.Tables(kind), what, &http);
  if (!status.ok()) return status;
  const std::string first_path = http.path;
  long long page_number = spec.paging ? spec.paging->first_page : 1;
  if (!request.cursor.empty()) {
    http.path = cursor.path;
    if (cursor.page) page_number = *cursor.page;
  } else if (spec.paging && spec.paging->type == Paging::Type::kPage) {
    http.path = WithQueryParam(first_path, spec.paging->page_param, std::to_string(page_number));
  }
  const HttpResponse response = transport.Send(http);
  Var body;
  status = JsonAnswer(what, classify, response, &body, StatusCode::kRetryable);
  if (status.code() == StatusCode::kNotFound) {
    // The list's own 404 (a moved endpoint, a proxy) is no "this plugin cannot
    // list", which would quietly fall back to lookups.
    return Status::Permanent(status.message());
  }
  if (!status.ok()) return status;
  const std::optional<Var> items = ResolvePointer(body, spec.items_pointer);
  if (!items || (!IsArray(*items) && !IsNull(*items))) {
    return Mismatch(what, "an array of records at " + PointerName(spec.items_pointer) + ", got " +
                              (items ? JsonTypeName(*items) : "nothing there"));
  }
  std::vector<CrmRecord> records;
  if (IsArray(*items)) {  // null: an explicit "none" (Pipedrive's data: null)
    JsonArray array = items->extract<JsonArray>();
    for (unsigned int i = 0; i < array->size(); ++i) {
      CrmRecord record;
      status = ReadOne(mapping, kind, spec, array->get(i),
                       what + " item " + std::to_string(i), &record);
      if (!status.ok()) return status;
      records.push_back(std::move(record));
    }
  }
  std::optional<std::string> next;
  if (spec.paging) {
    Page read;
    read.response = response;
    read.body = body;
    status = NextPagePath(*spec.paging, first_path, http.path, read, spec.items_pointer, base_url,
                          page_number, &next);
    if (!status.ok()) return Status(status.code(), what + ": " + status.message());
  }
  page->records = std::move(records);
  page->more = next.has_value();
  page->next_cursor.clear();
  if (next) {
    ListCursor after;
    after.path = *next;
    if (spec.paging->type == Paging::Type::kPage) after.page = page_number + 1;
    page->next_cursor = WriteCursor(after);
  }
  return Status::Ok();
}

Status ReadRecordOver(const Mapping& mapping, Transport& transport, int64_t now_unix_ms,
                      const ClassifyFn& classify, EntityKind kind,
                      const std::string& external_id, CrmRecord* record) {
  const std::string entity = EntityKindName(kind);
  auto found = mapping.records.find(entity);
  if (found == mapping.records.end() || !found->second.read) {
    return Status::Permanent("the mapping '" + mapping.name + "' cannot read a " + entity +
                             " by its CRM id (no records." + entity + ".read, no fetch." +
                             entity + ")");
  }
  const RecordsSpec& spec = found->second;
  const std::string what = "records." + entity + ".read";
  Context context;
  context["externalId"] = Var(external_id);
  context["now"] = Var(IsoTime(now_unix_ms));
  HttpRequest http;
  Status status = RenderRequest(*spec.read, context, mapping.Tables(kind), what, &http);
  if (!status.ok()) return status;
  const HttpResponse response = transport.Send(http);
  const bool listed_none =
      std::find(spec.not_found_status.begin(), spec.not_found_status.end(), response.status) !=
      spec.not_found_status.end();
  if (response.error == TransportError::kNone && (response.status == 404 || listed_none)) {
    // The record's own 404: the CRM's answer, which the mapping's outcome
    // rules read as not_found too (a token endpoint failure, or a rule for a
    // 404 that is not the record's, keeps its own outcome).
    const Status classified = listed_none ? Status::NotFound("") : classify(response);
    if (classified.code() != StatusCode::kNotFound) {
      return classified.ok() ? Status::Retryable(what + ": the CRM answered " +
                                                 std::to_string(response.status))
                             : Status(classified.code(), what + ": " + classified.message());
    }
    return Status::NotFound(what + ": the CRM has no " + entity + " " + external_id +
                            " (it answered " + std::to_string(response.status) + ")");
  }
  Var body;
  status = JsonAnswer(what, classify, response, &body, StatusCode::kRetryable);
  if (!status.ok()) {
    // Only the 404 above says "no such record"; a rule that reads another
    // answer as not_found cannot tell it from a moved endpoint.
    if (status.code() == StatusCode::kNotFound) return Status::Retryable(status.message());
    return status;
  }
  const std::optional<Var> item = ResolvePointer(body, spec.record_pointer);
  if (!item) return Mismatch(what, "the " + entity + " at " + PointerName(spec.record_pointer));
  return ReadOne(mapping, kind, spec, *item, what, record);
}

}  // namespace crmsync::genericrest
