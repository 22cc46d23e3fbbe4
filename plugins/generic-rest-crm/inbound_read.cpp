// Fetching a notified record and polling the CRM's changes; see inbound_read.h.
#include "inbound_read.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "context.h"
#include "json_util.h"
#include "pagination.h"
#include "request_builder.h"
#include "webhook_mapping.h"

namespace crmsync::genericrest {
namespace {

// FNV-1a, 64 bits, as hex: stable across builds and machines, unlike
// std::hash, for ids the engine keeps.
std::string Fnv1a64Hex(const std::string& text) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  static const char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, hash >>= 4) out[static_cast<size_t>(i)] = kDigits[hash & 0xf];
  return out;
}

std::string PointerName(const std::string& pointer) {
  return pointer.empty() ? std::string("the top level") : pointer;
}

// The poll cursor (inbound_read.h): where a walk starts, and inside a walk
// the next page and the latest time seen so far.
struct PollCursor {
  int64_t since = 0;
  std::optional<std::string> after;
  std::optional<std::string> path;
  std::optional<int64_t> latest;
  /// Inside a walk continued by keyset: ask from `since` itself, without the
  /// overlap (which is for the start of a walk; taken again at every page it
  /// would read the same first page over and over).
  bool keyset = false;
};

bool IsWhole(const Var& value) { return value.isInteger() && !IsBool(value); }

bool ReadCursor(const std::string& text, PollCursor* out) {
  Var parsed;
  std::string error;
  if (!ParseJson(text, &parsed, &error) || !IsObject(parsed)) return false;
  JsonObject object = parsed.extract<JsonObject>();
  if (!object->has("since") || !IsWhole(object->get("since"))) return false;
  out->since = object->get("since").convert<Poco::Int64>();
  if (object->has("after")) {
    if (!IsString(object->get("after"))) return false;
    out->after = object->get("after").extract<std::string>();
  }
  if (object->has("path")) {
    if (!IsString(object->get("path"))) return false;
    out->path = object->get("path").extract<std::string>();
  }
  if (out->after && out->path) return false;
  if (object->has("latest")) {
    if (!IsWhole(object->get("latest"))) return false;
    out->latest = object->get("latest").convert<Poco::Int64>();
  }
  if (object->has("keyset")) {
    if (!IsBool(object->get("keyset"))) return false;
    out->keyset = object->get("keyset").convert<bool>();
  }
  return true;
}

std::string WriteCursor(const PollCursor& cursor) {
  JsonObject object = NewObject();
  object->set("since", Poco::Int64(cursor.since));
  if (cursor.after) object->set("after", *cursor.after);
  if (cursor.path) object->set("path", *cursor.path);
  if (cursor.latest) object->set("latest", Poco::Int64(*cursor.latest));
  if (cursor.keyset) object->set("keyset", true);
  return ToJson(Var(object));
}

std::string SinceText(const PollSpec& spec, int64_t unix_ms) {
  return spec.since_format == PollSpec::SinceFormat::kIso ? IsoTime(unix_ms)
                                                          : std::to_string(unix_ms);
}

// One polled item as a change, with its time in Unix milliseconds.
Status ReadItem(const Mapping& mapping, EntityKind kind, const PollSpec& spec, const Var& item,
                const std::string& where, InboundChange* change, int64_t* unix_ms) {
  const std::optional<std::string> id = IdAt(item, spec.id_pointer);
  if (!id) {
    return Status::Permanent(where + ": no CRM id (a string or number) at " + spec.id_pointer);
  }
  const std::optional<Var> time_value = ResolvePointer(item, spec.updated_at_pointer);
  const std::optional<std::string> updated_at =
      time_value ? InboundTime(*time_value) : std::nullopt;
  if (!updated_at || !ParseCrmTime(*updated_at, unix_ms)) {
    return Status::Permanent(where + ": no time of change (ISO 8601 or Unix milliseconds) at " +
                             spec.updated_at_pointer);
  }
  const std::optional<Var> data = ResolvePointer(item, spec.data_pointer);
  if (!data || !IsObject(*data)) {
    return Status::Permanent(where + ": expected the record's data (an object) at " +
                             PointerName(spec.data_pointer));
  }
  JsonObject fields = NewObject();
  Status status = MapInboundFields(mapping, kind, *data, where + " data", &fields);
  if (!status.ok()) return Status::Permanent(status.message());
  change->crm_event = spec.event;
  change->entity_kind = kind;
  change->external_id = *id;
  change->fields_json = ToJson(Var(fields));
  change->updated_at = updated_at;
  // The version's time and what it says: a CRM whose times are whole seconds
  // (Salesforce) can hold two versions with one time, and the later must not
  // pass for the earlier. The same version read twice has the same id.
  change->event_ids = {*id + "@" + *updated_at + "#" + Fnv1a64Hex(change->fields_json)};
  return Status::Ok();
}

// One page from `cursor`; see PollChangesOver.
Status PollOnePage(const Mapping& mapping, Transport& transport, const std::string& base_url,
                   const ClassifyFn& classify, const PollRequest& request, const PollSpec& spec,
                   const PollCursor& cursor, PollPage* page);

}  // namespace

Status JsonAnswer(const std::string& what, const ClassifyFn& classify,
                  const HttpResponse& response, Var* body, StatusCode unreadable) {
  if (response.error != TransportError::kNone || response.status < 200 ||
      response.status > 299) {
    const Status classified = classify(response);
    if (classified.ok()) {
      // A 1xx or 3xx the table lets pass is still no answer to read.
      return Status::Retryable(what + ": the CRM answered " + std::to_string(response.status));
    }
    return Status(classified.code(), what + ": " + classified.message());
  }
  std::string error;
  if (!ParseJson(response.body, body, &error)) {
    return Status(unreadable, what + ": the CRM's answer (" + std::to_string(response.status) +
                                  ") is not JSON");
  }
  return Status::Ok();
}

Status FetchChangeOver(const Mapping& mapping, Transport& transport, int64_t now_unix_ms,
                       const ClassifyFn& classify, InboundChange* change) {
  const std::string entity = EntityKindName(change->entity_kind);
  auto found = mapping.fetch.find(entity);
  if (found == mapping.fetch.end()) {
    return Status::Permanent("the mapping '" + mapping.name + "' has no fetch." + entity);
  }
  const FetchSpec& spec = found->second;
  const std::string what = "fetch." + entity;
  Context context;
  context["externalId"] = Var(change->external_id);
  context["now"] = Var(IsoTime(now_unix_ms));
  HttpRequest request;
  Status status =
      RenderRequest(spec.request, context, mapping.Tables(change->entity_kind), what, &request);
  if (!status.ok()) return status;
  const HttpResponse response = transport.Send(request);
  if (response.error == TransportError::kNone &&
      (response.status == 404 ||
       std::find(spec.not_found_status.begin(), spec.not_found_status.end(), response.status) !=
           spec.not_found_status.end())) {
    return Status::NotFound(what + ": the CRM has no " + entity + " " + change->external_id +
                            " (it answered " + std::to_string(response.status) + ")");
  }
  // From here on the record exists: an answer that cannot be read is never
  // "gone", which would drop a change the CRM made.
  Var body;
  status = JsonAnswer(what, classify, response, &body);
  if (!status.ok()) return status;
  const std::optional<Var> record = ResolvePointer(body, spec.record_pointer);
  if (!record || !IsObject(*record)) {
    return Status::Permanent(what + ": the CRM's answer does not match the mapping: expected the " +
                             entity + " (an object) at " + PointerName(spec.record_pointer));
  }
  JsonObject fields = NewObject();
  status = MapInboundFields(mapping, change->entity_kind, *record, what + " record", &fields);
  if (!status.ok()) return Status::Permanent(status.message());
  change->fields_json = ToJson(Var(fields));
  if (spec.updated_at_pointer) {
    const std::optional<Var> updated = ResolvePointer(*record, *spec.updated_at_pointer);
    const std::optional<std::string> time = updated ? InboundTime(*updated) : std::nullopt;
    if (time) change->updated_at = time;
  }
  change->fetch = false;
  return Status::Ok();
}

Status PollChangesOver(const Mapping& mapping, Transport& transport, const std::string& base_url,
                       const ClassifyFn& classify, const PollRequest& request, PollPage* page) {
  const EntityKind kind = request.entity_kind;
  const std::string entity = EntityKindName(kind);
  auto found = mapping.poll.find(entity);
  if (found == mapping.poll.end()) {
    return Status::NotFound("the mapping '" + mapping.name + "' has no poll." + entity);
  }
  const PollSpec& spec = found->second;
  const std::string what = "poll." + entity;
  PollCursor cursor;
  if (request.cursor.empty()) {
    cursor.since = request.now_ms;  // older changes are for a backfill
  } else if (!ReadCursor(request.cursor, &cursor)) {
    return Status::Permanent(what + ": the saved cursor is not one this plugin wrote");
  }
  Status status = PollOnePage(mapping, transport, base_url, classify, request, spec, cursor, page);
  if (!status.ok() && status.code() != StatusCode::kRetryable &&
      status.code() != StatusCode::kRateLimited && (cursor.after || cursor.path)) {
    // A page position the CRM no longer honours (Salesforce's query locator
    // expires after 15 minutes; HubSpot's search stops at 10,000 results):
    // start the walk again from its `since`, which has not moved; what is read
    // twice is applied once (event ids).
    PollCursor restart;
    restart.since = cursor.since;
    restart.keyset = cursor.keyset;
    status = PollOnePage(mapping, transport, base_url, classify, request, spec, restart, page);
  }
  return status;
}

namespace {

Status PollOnePage(const Mapping& mapping, Transport& transport, const std::string& base_url,
                   const ClassifyFn& classify, const PollRequest& request, const PollSpec& spec,
                   const PollCursor& cursor, PollPage* page) {
  const EntityKind kind = request.entity_kind;
  const std::string entity = EntityKindName(kind);
  const std::string what = "poll." + entity;
  Context context;
  context["poll.since"] =
      Var(SinceText(spec, cursor.since - (cursor.keyset ? 0 : spec.overlap_ms)));
  if (cursor.after) context["poll.after"] = Var(*cursor.after);
  context["now"] = Var(IsoTime(request.now_ms));
  HttpRequest http;
  Status status = RenderRequest(spec.request, context, mapping.Tables(kind), what, &http);
  if (!status.ok()) return status;
  if (cursor.path) {
    // Salesforce's nextRecordsUrl: the next page is read as it is given.
    http.method = "GET";
    http.path = *cursor.path;
    http.body.clear();
  }
  const HttpResponse response = transport.Send(http);
  Var body;
  status = JsonAnswer(what, classify, response, &body);
  if (status.code() == StatusCode::kNotFound) {
    // A 404 to the list (a proxy, a moved endpoint) is the CRM's fault, not
    // "this plugin cannot poll", which would stop polling until a restart.
    return Status::Permanent(status.message());
  }
  if (!status.ok()) return status;
  const std::optional<Var> items = ResolvePointer(body, spec.items_pointer);
  if (!items || !IsArray(*items)) {
    return Status::Permanent(what + ": the CRM's answer does not match the mapping: expected an "
                                    "array of records at " +
                             PointerName(spec.items_pointer));
  }
  std::vector<std::pair<int64_t, InboundChange>> read;
  JsonArray array = items->extract<JsonArray>();
  std::optional<int64_t> latest = cursor.latest;
  std::optional<int64_t> page_latest;
  for (unsigned int i = 0; i < array->size(); ++i) {
    InboundChange change;
    int64_t unix_ms = 0;
    status = ReadItem(mapping, kind, spec, array->get(i),
                      what + " item " + std::to_string(i), &change, &unix_ms);
    if (!status.ok()) return status;
    read.emplace_back(unix_ms, change);
    if (!latest || unix_ms > *latest) latest = unix_ms;
    if (!page_latest || unix_ms > *page_latest) page_latest = unix_ms;
  }
  // Oldest first, as PollPage asks; equal times keep the CRM's order.
  std::stable_sort(read.begin(), read.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // Where the walk goes on.
  PollCursor next;
  next.since = cursor.since;
  if (spec.cursor_pointer) {
    const std::optional<Var> after = ResolvePointer(body, *spec.cursor_pointer);
    if (after && !IsEmptyValue(*after)) {
      if (!IsString(*after) && !IsNumber(*after)) {
        return Status::Permanent(what + ": the next cursor at " + *spec.cursor_pointer +
                                 " is neither a string nor a number");
      }
      next.after = ValueText(*after);
      if (next.after == cursor.after) {
        return Status::Permanent(what + ": the CRM's next page is the page just read");
      }
      if (page_latest && *page_latest > cursor.since) {
        // Keyset, not offset: a record edited during the walk moves to the
        // end of the sort and shifts the offsets, so following `after` would
        // skip one. Asking again from this page's latest time (less the
        // overlap) reads every later record; those read twice apply once.
        next.after.reset();
        next.since = *page_latest;
        next.keyset = true;
        page->changes.clear();
        for (auto& entry : read) page->changes.push_back(std::move(entry.second));
        page->more = true;
        page->next_cursor = WriteCursor(next);
        return Status::Ok();
      }
    }
  } else if (spec.path_pointer) {
    const std::optional<Var> target = ResolvePointer(body, *spec.path_pointer);
    if (target && !IsEmptyValue(*target)) {
      if (!IsString(*target)) {
        return Status::Permanent(what + ": the next page at " + *spec.path_pointer +
                                 " is not a string");
      }
      std::string path;
      std::string why;
      if (!LinkPath(target->extract<std::string>(), base_url,
                    "the next page at " + *spec.path_pointer, &path, &why)) {
        return Status::Permanent(what + ": " + why);
      }
      if (path == http.path) {
        return Status::Permanent(what + ": the CRM's next page is the page just read");
      }
      next.path = path;
    }
  }
  page->changes.clear();
  for (auto& entry : read) page->changes.push_back(std::move(entry.second));
  page->more = next.after || next.path;
  if (page->more) {
    next.latest = latest;
    next.keyset = cursor.keyset;  // the same query, one page on
  } else if (latest && *latest > cursor.since) {
    // The walk ended: the next one asks from the latest change it saw.
    next.since = *latest;
  }
  page->next_cursor = WriteCursor(next);
  return Status::Ok();
}

}  // namespace

}  // namespace crmsync::genericrest
