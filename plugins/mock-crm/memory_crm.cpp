// The in-memory reference CRM; see memory_crm.h.
#include "memory_crm.h"

#include <algorithm>
#include <exception>
#include <initializer_list>
#include <utility>

#include <Poco/JSON/Array.h>
#include <Poco/URI.h>

#include "crm_vocabulary.h"
#include "json_util.h"

namespace crmsync::mockcrm {
namespace {

constexpr char kApiPrefix[] = "/api/v1/";

struct ParsedPath {
  std::vector<std::string> segments;  // After /api/v1/, URL-decoded.
  std::string query;                  // Without the '?'.
  bool ok = false;
};

ParsedPath ParsePath(const std::string& full_path) {
  ParsedPath parsed;
  const size_t question = full_path.find('?');
  const std::string path = full_path.substr(0, question);
  if (question != std::string::npos) parsed.query = full_path.substr(question + 1);
  if (path.compare(0, sizeof(kApiPrefix) - 1, kApiPrefix) != 0) return parsed;
  std::string rest = path.substr(sizeof(kApiPrefix) - 1);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t begin = 0;
  try {
    while (begin <= rest.size()) {
      const size_t slash = rest.find('/', begin);
      const std::string raw =
          rest.substr(begin, slash == std::string::npos ? std::string::npos : slash - begin);
      if (raw.empty()) return parsed;
      std::string decoded;
      Poco::URI::decode(raw, decoded);
      parsed.segments.push_back(decoded);
      if (slash == std::string::npos) break;
      begin = slash + 1;
    }
  } catch (const std::exception&) {
    return parsed;
  }
  parsed.ok = !parsed.segments.empty();
  return parsed;
}

// The value of query parameter `name`; false when absent or badly encoded.
bool QueryParam(const std::string& query, const std::string& name, std::string* out) {
  size_t begin = 0;
  while (begin <= query.size()) {
    const size_t amp = query.find('&', begin);
    const std::string pair =
        query.substr(begin, amp == std::string::npos ? std::string::npos : amp - begin);
    const size_t eq = pair.find('=');
    try {
      std::string key;
      Poco::URI::decode(pair.substr(0, eq), key, true);
      if (key == name) {
        std::string value;
        if (eq != std::string::npos) Poco::URI::decode(pair.substr(eq + 1), value, true);
        *out = value;
        return true;
      }
    } catch (const std::exception&) {
      return false;
    }
    if (amp == std::string::npos) break;
    begin = amp + 1;
  }
  return false;
}

// A GET of a collection that lists its records: limit or cursor, and no
// externalReference (which makes it a lookup).
bool IsList(const std::string& query) {
  std::string unused;
  if (QueryParam(query, "externalReference", &unused)) return false;
  return QueryParam(query, "limit", &unused) || QueryParam(query, "cursor", &unused);
}

// A whole number from 0 in `text`, or -1.
int64_t WholeNumber(const std::string& text) {
  if (text.empty() || text.size() > 12) return -1;
  int64_t number = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    number = number * 10 + (c - '0');
  }
  return number;
}

HttpResponse Answer(int status, const std::string& body) {
  HttpResponse response;
  response.status = status;
  response.body = body;
  response.headers.emplace_back("Content-Type", "application/json");
  response.request_sent = true;
  return response;
}

HttpResponse Error(int status, const std::string& message) {
  return Answer(status, MessageBody(message));
}

HttpResponse IdAnswer(int status, const std::string& id) {
  Poco::JSON::Object::Ptr body = NewObject();
  body->set("id", id);
  return Answer(status, ToJson(body));
}

// The singular kind of a collection segment ("leads" -> "lead"), or "".
std::string KindOf(const std::string& segment) {
  if (segment == "leads") return "lead";
  if (segment == "properties") return "property";
  if (segment == "webhooks") return "webhook";
  if (segment == "users") return "user";
  return "";
}

bool IsStringOrNull(const Poco::Dynamic::Var& value) { return value.isEmpty() || value.isString(); }

bool IsNumberOrNull(const Poco::Dynamic::Var& value) { return value.isEmpty() || IsNumber(value); }

// "" when `value` (the body's member `name`) is null or an object whose
// `parts` that are present pass `ok`; else the reason, `type` naming what a
// part must be.
std::string CheckParts(const Poco::Dynamic::Var& value, const std::string& name,
                       std::initializer_list<const char*> parts,
                       bool (*ok)(const Poco::Dynamic::Var&), const char* type) {
  if (value.isEmpty()) return "";
  if (value.type() != typeid(Poco::JSON::Object::Ptr)) return name + " must be an object";
  Poco::JSON::Object::Ptr object = value.extract<Poco::JSON::Object::Ptr>();
  for (const char* part : parts) {
    if (object->has(part) && !ok(object->get(part))) {
      return name + "." + part + " must be " + type;
    }
  }
  return "";
}

// Checks a lead or property body against the CRM's field types and vocabulary;
// "" when fine, else the reason (answered 422).
std::string ValidateFields(const std::string& kind, const Poco::JSON::Object::Ptr& body) {
  for (const std::string& name : body->getNames()) {
    const Poco::Dynamic::Var value = body->get(name);
    if (name == "status") {
      if (!value.isString()) return "status must be a string";
      const std::string word = value.extract<std::string>();
      const bool known = kind == "lead" ? IsCrmLeadStatus(word) : IsCrmPropertyStatus(word);
      if (!known) return "invalid " + kind + " status '" + word + "'";
    } else if (kind == "lead" && name == "budgetRange") {
      std::string error = CheckParts(value, name, {"min", "max"}, IsNumberOrNull, "a number");
      if (!error.empty()) return error;
    } else if (kind == "lead" && name == "preferredAreas") {
      if (value.isEmpty()) continue;
      if (value.type() != typeid(Poco::JSON::Array::Ptr)) return "preferredAreas must be an array";
      Poco::JSON::Array::Ptr areas = value.extract<Poco::JSON::Array::Ptr>();
      for (size_t i = 0; i < areas->size(); ++i) {
        if (!areas->get(static_cast<unsigned int>(i)).isString()) {
          return "preferredAreas[" + std::to_string(i) + "] must be a string";
        }
      }
    } else if (kind == "property" && name == "price") {
      if (!IsNumberOrNull(value)) return "price must be a number";
    } else if (name == "externalReference") {
      if (!value.isString()) return "externalReference must be a string";
    } else if (name == "name" || name == "email" || name == "phone" || name == "source" ||
               name == "assignedAgent" || name == "notes" || name == "lostReason" ||
               name == "title" || name == "city" || name == "locality" || name == "ownerId" ||
               name == "dealerId" || name == "utmSource" || name == "createdDate" ||
               name == "propertyId" || name == "relatedProperty" || name == "owner" ||
               name == "internalId") {
      if (!IsStringOrNull(value)) return name + " must be a string";
    } else if (kind == "property" && name == "location") {
      std::string error = CheckParts(value, name, {"city", "locality"}, IsStringOrNull, "a string");
      if (!error.empty()) return error;
    }
  }
  return "";
}

// A journal line for `op` on record `id` of `kind`.
Poco::JSON::Object::Ptr Entry(const std::string& op, const std::string& kind,
                              const std::string& id) {
  Poco::JSON::Object::Ptr entry = NewObject();
  entry->set("op", op);
  entry->set("kind", kind);
  entry->set("id", id);
  return entry;
}

// A copy of `object` whose keys are kept sorted, like the objects ParseObject()
// makes (so a replayed record merges and dumps its fields as the original did).
Poco::JSON::Object::Ptr Sorted(const Poco::JSON::Object::Ptr& object) {
  Poco::JSON::Object::Ptr sorted = new Poco::JSON::Object();
  for (const std::string& name : object->getNames()) sorted->set(name, object->get(name));
  return sorted;
}

// The string member `key` of a journal entry, or "" (with *error set).
std::string Member(const Poco::JSON::Object::Ptr& entry, const std::string& key,
                   std::string* error) {
  const std::optional<std::string> value = GetString(entry, key);
  if (!value && error->empty()) *error = "\"" + key + "\" must be a string";
  return value.value_or("");
}

}  // namespace

MemoryCrm::MemoryCrm() {
  leads_.kind = "lead";
  properties_.kind = "property";
}

std::string MemoryCrm::RouteOf(const std::string& method, const std::string& path) {
  const ParsedPath parsed = ParsePath(path);
  if (!parsed.ok) return "unknown";
  const std::string kind = KindOf(parsed.segments[0]);
  const size_t depth = parsed.segments.size();
  if (kind == "webhook") return depth == 1 && method == "POST" ? "webhook.register" : "unknown";
  if (kind == "user") return depth == 1 && method == "GET" ? "user.list" : "unknown";
  if (kind.empty()) return "unknown";
  if (depth == 1 && method == "POST") return kind + ".create";
  if (depth == 1 && method == "GET") return IsList(parsed.query) ? kind + ".list" : kind + ".lookup";
  if (depth == 2 && method == "PUT") return kind + ".update";
  if (depth == 2 && method == "GET") return kind + ".read";
  if (depth == 3 && kind == "lead" && method == "POST") {
    if (parsed.segments[2] == "activities") return "lead.activity";
    if (parsed.segments[2] == "deals") return "lead.deal";
  }
  return "unknown";
}

HttpResponse MemoryCrm::Handle(const HttpRequest& request) {
  const ParsedPath parsed = ParsePath(request.path);
  if (!parsed.ok) return Error(404, "no endpoint " + request.method + " " + request.path);
  const std::string kind = KindOf(parsed.segments[0]);
  const size_t depth = parsed.segments.size();
  const std::string& method = request.method;

  std::lock_guard<std::mutex> lock(mutex_);
  if (kind == "webhook" && depth == 1) {
    if (method != "POST") return Error(405, "method " + method + " not allowed on webhooks");
    return RegisterWebhook(request.body);
  }
  if (kind == "user" && depth == 1) {
    if (method != "GET") return Error(405, "method " + method + " not allowed on users");
    return ListUsers();
  }
  if (kind != "lead" && kind != "property") {
    return Error(404, "no endpoint " + method + " " + request.path);
  }
  Collection& collection = kind == "lead" ? leads_ : properties_;
  if (depth == 1) {
    if (method == "POST") return Create(collection, request.body);
    if (method == "GET" && IsList(parsed.query)) return List(collection, parsed.query);
    if (method == "GET") return Lookup(collection, parsed.query);
    return Error(405, "method " + method + " not allowed on " + parsed.segments[0]);
  }
  const std::string& id = parsed.segments[1];
  if (depth == 2) {
    if (method == "PUT") return Update(collection, id, request.body);
    if (method == "GET") return Read(collection, id);
    return Error(405, "method " + method + " not allowed on a " + kind);
  }
  if (depth == 3 && kind == "lead" &&
      (parsed.segments[2] == "activities" || parsed.segments[2] == "deals")) {
    if (method != "POST") {
      return Error(405, "method " + method + " not allowed on " + parsed.segments[2]);
    }
    return AddChild(collection, id, parsed.segments[2], request.body);
  }
  return Error(404, "no endpoint " + method + " " + request.path);
}

void MemoryCrm::SetUsers(std::vector<User> users) {
  std::lock_guard<std::mutex> lock(mutex_);
  users_ = std::move(users);
}

Poco::JSON::Array::Ptr MemoryCrm::UsersJson() const {
  Poco::JSON::Array::Ptr out = new Poco::JSON::Array();
  for (const User& user : users_) {
    Poco::JSON::Object::Ptr item = NewObject();
    item->set("id", user.id);
    item->set("email", user.email);
    item->set("platformId", user.platform_id);
    item->set("active", user.active);
    out->add(item);
  }
  return out;
}

HttpResponse MemoryCrm::ListUsers() const {
  Poco::JSON::Object::Ptr body = NewObject();
  body->set("results", UsersJson());
  return Answer(200, ToJson(body));
}

void MemoryCrm::CountRequest(const std::string& route) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++request_counts_[route];
  if (journal_.is_open()) {
    Poco::JSON::Object::Ptr entry = NewObject();
    entry->set("op", "count");
    entry->set("route", route);
    std::string error;
    journal_.Append(entry, &error);  // A lost count is not worth failing the request.
  }
}

Status MemoryCrm::OpenJournal(const std::string& key, const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (journal_.is_open()) {
    if (journal_.path() == path) return Status::Ok();
    return Status::InvalidConfig(key + ": cannot change from '" + journal_.path() + "' to '" +
                                 path + "'");
  }
  if (!leads_.records.empty() || !properties_.records.empty() || !webhooks_.empty() ||
      !next_id_.empty() || !request_counts_.empty()) {
    return Status::InvalidConfig(key + ": '" + path +
                                 "' set after the CRM already holds state; set it on the first "
                                 "Configure()");
  }
  Status status = journal_.Open(
      key, path, [this](const Poco::JSON::Object::Ptr& entry) { return Replay(entry); });
  if (!status.ok()) Clear();
  return status;
}

HttpResponse MemoryCrm::Journaled(const Poco::JSON::Object::Ptr& entry, HttpResponse answer) {
  if (!journal_.is_open()) return answer;
  std::string error;
  if (!journal_.Append(entry, &error)) return Error(500, "mock-crm: " + error);
  return answer;
}

std::string MemoryCrm::Replay(const Poco::JSON::Object::Ptr& entry) {
  std::string error;
  const std::string op = Member(entry, "op", &error);
  if (!error.empty()) return error;
  if (op == "count") {
    const std::string route = Member(entry, "route", &error);
    if (error.empty()) ++request_counts_[route];
    return error;
  }
  if (op == "webhook") {
    Poco::JSON::Object::Ptr webhook = entry->getObject("webhook");
    if (!webhook) return "\"webhook\" must be an object";
    if (!NoteId("webhook", Member(webhook, "id", &error))) return "bad webhook id";
    webhooks_.push_back(webhook);
    return "";
  }
  if (op != "create" && op != "recreate" && op != "update" && op != "activity" && op != "deal") {
    return "unknown op '" + op + "'";
  }
  const std::string kind = Member(entry, "kind", &error);
  const std::string id = Member(entry, "id", &error);
  if (!error.empty()) return error;
  if (kind != "lead" && kind != "property") return "unknown kind '" + kind + "'";
  Collection& collection = kind == "lead" ? leads_ : properties_;
  const auto found = collection.by_id.find(id);
  if (op == "create") {
    Poco::JSON::Object::Ptr fields = entry->getObject("fields");
    if (!fields) return "\"fields\" must be an object";
    if (found != collection.by_id.end()) return kind + " " + id + " created twice";
    if (!NoteId(kind, id)) return "bad " + kind + " id '" + id + "'";
    ApplyCreate(collection, id, Sorted(fields));
    return "";
  }
  if (found == collection.by_id.end()) return op + " of unknown " + kind + " " + id;
  Record& record = collection.records[found->second];
  if (op == "recreate") {
    ++record.create_count;
  } else if (op == "update") {
    Poco::JSON::Object::Ptr fields = entry->getObject("fields");
    if (!fields) return "\"fields\" must be an object";
    ApplyUpdate(collection, found->second, fields);
  } else {  // activity or deal
    Poco::JSON::Object::Ptr child = entry->getObject("child");
    if (!child) return "\"child\" must be an object";
    if (!NoteId(op, Member(child, "id", &error))) return "bad " + op + " id";
    (op == "activity" ? record.activities : record.deals).push_back(child);
  }
  return "";
}

bool MemoryCrm::NoteId(const std::string& kind, const std::string& id) {
  const std::string prefix = "crm_" + kind + "_";
  if (id.size() <= prefix.size() || id.size() > prefix.size() + 18 ||
      id.compare(0, prefix.size(), prefix) != 0) {
    return false;
  }
  int64_t number = 0;
  for (size_t i = prefix.size(); i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
    number = number * 10 + (id[i] - '0');
  }
  int64_t& counter = next_id_[kind];
  counter = std::max(counter, number);
  return true;
}

void MemoryCrm::Clear() {
  for (Collection* collection : {&leads_, &properties_}) {
    collection->records.clear();
    collection->by_id.clear();
    collection->by_reference.clear();
  }
  webhooks_.clear();
  next_id_.clear();
  request_counts_.clear();
}

std::string MemoryCrm::NextId(const std::string& kind) {
  return "crm_" + kind + "_" + std::to_string(++next_id_[kind]);
}

HttpResponse MemoryCrm::Create(Collection& collection, const std::string& body) {
  std::string error;
  Poco::JSON::Object::Ptr fields = ParseObject(body, &error);
  if (!fields) return Error(400, "malformed " + collection.kind + ": " + error);
  error = ValidateFields(collection.kind, fields);
  if (!error.empty()) return Error(422, error);

  const std::optional<std::string> reference = GetString(fields, "externalReference");
  if (reference && !reference->empty()) {
    auto existing = collection.by_reference.find(*reference);
    if (existing != collection.by_reference.end()) {
      Record& record = collection.records[existing->second];
      ++record.create_count;
      Poco::JSON::Object::Ptr answer = NewObject();
      answer->set("message",
                  collection.kind + " with externalReference " + *reference + " already exists");
      answer->set("id", record.id);
      return Journaled(Entry("recreate", collection.kind, record.id), Answer(409, ToJson(answer)));
    }
  }

  const std::string id = NextId(collection.kind);
  ApplyCreate(collection, id, fields);
  if (listener_) listener_(collection.kind, "created", id, collection.records.back().fields);
  Poco::JSON::Object::Ptr entry = Entry("create", collection.kind, id);
  entry->set("fields", fields);
  return Journaled(entry, IdAnswer(201, id));
}

void MemoryCrm::ApplyCreate(Collection& collection, const std::string& id,
                            const Poco::JSON::Object::Ptr& fields) {
  Record record;
  record.id = id;
  record.external_reference = GetString(fields, "externalReference").value_or("");
  record.fields = fields;
  record.create_count = 1;
  const size_t index = collection.records.size();
  collection.by_id[record.id] = index;
  if (!record.external_reference.empty()) {
    collection.by_reference[record.external_reference] = index;
  }
  collection.records.push_back(std::move(record));
}

HttpResponse MemoryCrm::Update(Collection& collection, const std::string& id,
                               const std::string& body) {
  auto found = collection.by_id.find(id);
  if (found == collection.by_id.end()) return Error(404, collection.kind + " " + id + " not found");
  std::string error;
  Poco::JSON::Object::Ptr fields = ParseObject(body, &error);
  if (!fields) return Error(400, "malformed " + collection.kind + ": " + error);
  error = ValidateFields(collection.kind, fields);
  if (!error.empty()) return Error(422, error);

  const Record& record = collection.records[found->second];
  const std::optional<std::string> reference = GetString(fields, "externalReference");
  if (reference && !reference->empty() && *reference != record.external_reference) {
    auto other = collection.by_reference.find(*reference);
    if (other != collection.by_reference.end()) {
      Poco::JSON::Object::Ptr answer = NewObject();
      answer->set("message",
                  collection.kind + " with externalReference " + *reference + " already exists");
      answer->set("id", collection.records[other->second].id);
      return Answer(409, ToJson(answer));
    }
  }
  ApplyUpdate(collection, found->second, fields);
  if (listener_) {
    listener_(collection.kind, "updated", id, collection.records[found->second].fields);
  }
  Poco::JSON::Object::Ptr entry = Entry("update", collection.kind, id);
  entry->set("fields", fields);
  return Journaled(entry, IdAnswer(200, id));
}

void MemoryCrm::ApplyUpdate(Collection& collection, size_t index,
                            const Poco::JSON::Object::Ptr& fields) {
  Record& record = collection.records[index];
  const std::optional<std::string> reference = GetString(fields, "externalReference");
  if (reference && !reference->empty() && *reference != record.external_reference) {
    if (!record.external_reference.empty()) {
      collection.by_reference.erase(record.external_reference);
    }
    record.external_reference = *reference;
    collection.by_reference[*reference] = index;
  }
  for (const std::string& name : fields->getNames()) record.fields->set(name, fields->get(name));
  ++record.update_count;
}

HttpResponse MemoryCrm::Read(const Collection& collection, const std::string& id) const {
  auto found = collection.by_id.find(id);
  if (found == collection.by_id.end()) return Error(404, collection.kind + " " + id + " not found");
  const Record& record = collection.records[found->second];
  Poco::JSON::Object::Ptr answer = NewObject();
  answer->set("id", record.id);
  for (const std::string& name : record.fields->getNames()) {
    answer->set(name, record.fields->get(name));
  }
  return Answer(200, ToJson(answer));
}

HttpResponse MemoryCrm::Lookup(const Collection& collection, const std::string& query) const {
  std::string reference;
  const bool filtered = QueryParam(query, "externalReference", &reference);
  Poco::JSON::Array::Ptr results = new Poco::JSON::Array();
  for (const Record& record : collection.records) {
    if (filtered && record.external_reference != reference) continue;
    Poco::JSON::Object::Ptr item = NewObject();
    item->set("id", record.id);
    item->set("externalReference", record.external_reference);
    results->add(item);
  }
  Poco::JSON::Object::Ptr answer = NewObject();
  answer->set("results", results);
  return Answer(200, ToJson(answer));
}

HttpResponse MemoryCrm::List(const Collection& collection, const std::string& query) const {
  std::string text;
  int64_t limit = 100;
  if (QueryParam(query, "limit", &text)) limit = WholeNumber(text);
  if (limit < 1 || limit > 1000) return Error(400, "limit must be a whole number from 1 to 1000");
  int64_t start = 0;
  if (QueryParam(query, "cursor", &text) && !text.empty()) start = WholeNumber(text);
  if (start < 0 || start > static_cast<int64_t>(collection.records.size())) {
    return Error(400, "unknown cursor");
  }
  const size_t end =
      std::min(collection.records.size(), static_cast<size_t>(start) + static_cast<size_t>(limit));
  Poco::JSON::Array::Ptr results = new Poco::JSON::Array();
  for (size_t i = static_cast<size_t>(start); i < end; ++i) {
    const Record& record = collection.records[i];
    Poco::JSON::Object::Ptr item = NewObject();
    item->set("id", record.id);
    for (const std::string& name : record.fields->getNames()) item->set(name, record.fields->get(name));
    results->add(item);
  }
  Poco::JSON::Object::Ptr answer = NewObject();
  answer->set("results", results);
  if (end < collection.records.size()) answer->set("nextCursor", std::to_string(end));
  return Answer(200, ToJson(answer));
}

HttpResponse MemoryCrm::AddChild(Collection& collection, const std::string& id,
                                 const std::string& child, const std::string& body) {
  auto found = collection.by_id.find(id);
  if (found == collection.by_id.end()) return Error(404, collection.kind + " " + id + " not found");
  std::string error;
  Poco::JSON::Object::Ptr fields = ParseObject(body, &error);
  const std::string what = child == "activities" ? "activity" : "deal";
  if (!fields) return Error(400, "malformed " + what + ": " + error);
  if (what == "activity" && !GetString(fields, "type")) {
    return Error(422, "activity type is required (a string)");
  }
  if (what == "deal" && fields->has("amount") && !IsNumberOrNull(fields->get("amount"))) {
    return Error(422, "deal amount must be a number");
  }
  Poco::JSON::Object::Ptr stored = NewObject();
  const std::string child_id = NextId(what);
  stored->set("id", child_id);
  for (const std::string& name : fields->getNames()) {
    if (name != "id") stored->set(name, fields->get(name));
  }
  Record& record = collection.records[found->second];
  (what == "activity" ? record.activities : record.deals).push_back(stored);
  Poco::JSON::Object::Ptr entry = Entry(what, collection.kind, id);
  entry->set("child", stored);
  return Journaled(entry, IdAnswer(201, child_id));
}

HttpResponse MemoryCrm::RegisterWebhook(const std::string& body) {
  std::string error;
  Poco::JSON::Object::Ptr fields = ParseObject(body, &error);
  if (!fields) return Error(400, "malformed webhook: " + error);
  const std::optional<std::string> url = GetString(fields, "url");
  if (!url || url->empty()) return Error(422, "webhook url is required");
  if (fields->has("events") && fields->get("events").type() != typeid(Poco::JSON::Array::Ptr)) {
    return Error(422, "webhook events must be an array");
  }
  Poco::JSON::Object::Ptr stored = NewObject();
  const std::string id = NextId("webhook");
  stored->set("id", id);
  for (const std::string& name : fields->getNames()) {
    if (name != "id") stored->set(name, fields->get(name));
  }
  webhooks_.push_back(stored);
  Poco::JSON::Object::Ptr entry = NewObject();
  entry->set("op", "webhook");
  entry->set("webhook", stored);
  return Journaled(entry, IdAnswer(201, id));
}

std::string MemoryCrm::Dump(const Poco::JSON::Object::Ptr& extra) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto dump_collection = [](const Collection& collection) {
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array();
    for (const Record& record : collection.records) {
      Poco::JSON::Object::Ptr item = NewObject();
      item->set("id", record.id);
      item->set("externalReference", record.external_reference);
      for (const std::string& name : record.fields->getNames()) {
        if (name != "id" && name != "externalReference") item->set(name, record.fields->get(name));
      }
      if (collection.kind == "lead") {
        Poco::JSON::Array::Ptr activities = new Poco::JSON::Array();
        for (const auto& activity : record.activities) activities->add(activity);
        Poco::JSON::Array::Ptr deals = new Poco::JSON::Array();
        for (const auto& deal : record.deals) deals->add(deal);
        item->set("activities", activities);
        item->set("deals", deals);
      }
      item->set("createCount", record.create_count);
      item->set("updateCount", record.update_count);
      out->add(item);
    }
    return out;
  };
  Poco::JSON::Object::Ptr dump = NewObject();
  dump->set("leads", dump_collection(leads_));
  dump->set("properties", dump_collection(properties_));
  Poco::JSON::Array::Ptr webhooks = new Poco::JSON::Array();
  for (const auto& webhook : webhooks_) webhooks->add(webhook);
  dump->set("webhooks", webhooks);
  dump->set("users", UsersJson());
  Poco::JSON::Object::Ptr requests = NewObject();
  for (const auto& [route, count] : request_counts_) requests->set(route, count);
  dump->set("requests", requests);
  if (extra) {
    for (const std::string& name : extra->getNames()) dump->set(name, extra->get(name));
  }
  return ToJson(dump);
}

}  // namespace crmsync::mockcrm
