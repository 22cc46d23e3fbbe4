// Loading and checking a mapping file; see mapping_file.h.
#include "mapping_file.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "context.h"
#include "suggest.h"
#include "template.h"

namespace crmsync::genericrest {
namespace {

const char* const kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
const char* const kEntityNames[] = {"lead", "property"};

bool IsBatch(const std::string& op) { return op == "batchCreate" || op == "batchUpdate"; }

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : " ") + name;
  return out;
}

// The platform statuses of an entity, in funnel order.
std::vector<std::string> PlatformStatuses(EntityKind kind) {
  std::vector<std::string> names;
  if (kind == EntityKind::kLead) {
    for (LeadStatus status : AllLeadStatuses()) names.push_back(LeadStatusName(status));
  } else {
    for (PropertyStatus status :
         {PropertyStatus::kActive, PropertyStatus::kInactive, PropertyStatus::kSold}) {
      names.push_back(PropertyStatusName(status));
    }
  }
  return names;
}

// "unknown key; did you mean 'x'? (expected one of ...)".
std::string UnknownKey(const std::string& name, const std::vector<std::string>& allowed) {
  return "unknown key" + DidYouMean(name, allowed) + " (expected one of " + JoinNames(allowed) +
         ")";
}

// "unknown entity; did you mean 'lead'? (expected lead or property)".
std::string UnknownEntity(const std::string& name) {
  return "unknown entity" + DidYouMean(name, {"lead", "property"}) + " (expected lead or property)";
}

// Walks the file, collecting every problem with its pointer.
class Checker {
 public:
  ErrorList errors;

  void Error(const std::string& pointer, const std::string& reason) {
    errors.emplace_back(pointer, reason);
  }

  // The member `key` of `object`, or an empty Var when it is absent.
  static Var Member(const JsonObject& object, const std::string& key) {
    return object->has(key) ? object->get(key) : Var();
  }

  // Reports every key of `object` not in `allowed`.
  void Keys(const JsonObject& object, const std::string& pointer,
            const std::vector<std::string>& allowed) {
    for (const std::string& name : object->getNames()) {
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        Error(PointerJoin(pointer, name), UnknownKey(name, allowed));
      }
    }
  }

  // Reads an object member; nullptr (and an error when required or mistyped).
  JsonObject Object(const JsonObject& parent, const std::string& key, const std::string& pointer,
                    bool required) {
    const std::string at = PointerJoin(pointer, key);
    if (!parent->has(key)) {
      if (required) Error(at, "required");
      return nullptr;
    }
    const Var value = parent->get(key);
    if (!IsObject(value)) {
      Error(at, "must be an object");
      return nullptr;
    }
    return value.extract<JsonObject>();
  }

  // Reads a string member into *out; false when absent or mistyped.
  bool String(const JsonObject& parent, const std::string& key, const std::string& pointer,
              bool required, std::string* out, bool allow_empty = false) {
    const std::string at = PointerJoin(pointer, key);
    if (!parent->has(key)) {
      if (required) Error(at, "required");
      return false;
    }
    const Var value = parent->get(key);
    if (!IsString(value)) {
      Error(at, "must be a string");
      return false;
    }
    *out = value.extract<std::string>();
    if (out->empty() && !allow_empty) {
      Error(at, "must not be empty");
      return false;
    }
    return true;
  }

  // Reads a JSON pointer member.
  bool Pointer(const JsonObject& parent, const std::string& key, const std::string& pointer,
               bool required, std::string* out, bool allow_root = true) {
    std::string value;
    if (!String(parent, key, pointer, required, &value, true)) return false;
    if (!IsValidPointer(value)) {
      Error(PointerJoin(pointer, key), "must be a JSON pointer (\"/id\", \"/data/0/id\")");
      return false;
    }
    if (value.empty() && !allow_root) {
      Error(PointerJoin(pointer, key), "must not be the whole document (\"\")");
      return false;
    }
    *out = value;
    return true;
  }

  // An object of string -> string.
  bool StringTableOf(const JsonObject& parent, const std::string& key, const std::string& pointer,
                     StringTable* out) {
    JsonObject object = Object(parent, key, pointer, false);
    if (!object) return false;
    const std::string at = PointerJoin(pointer, key);
    for (const std::string& name : object->getNames()) {
      const Var value = object->get(name);
      if (!IsString(value)) {
        Error(PointerJoin(at, name), "must be a string");
        continue;
      }
      (*out)[name] = value.extract<std::string>();
    }
    return true;
  }

  // A JSON template map (query, headers): values are templates.
  void TemplateMap(const JsonObject& parent, const std::string& key, const std::string& pointer,
                   const TemplateRules& rules, std::vector<std::pair<std::string, Var>>* out) {
    JsonObject object = Object(parent, key, pointer, false);
    if (!object) return;
    const std::string at = PointerJoin(pointer, key);
    for (const std::string& name : object->getNames()) {
      const Var value = object->get(name);
      if (name.empty()) {
        Error(PointerJoin(at, name), "a name must not be empty");
        continue;
      }
      if (IsArray(value) || IsNull(value)) {
        Error(PointerJoin(at, name), "must be a text, a number or a transform spec");
        continue;
      }
      CheckJsonTemplate(value, PointerJoin(at, name), rules, &errors);
      out->emplace_back(name, value);
    }
  }

  // A header map of text templates (top-level headers, apiKey headers).
  void TextMap(const JsonObject& parent, const std::string& key, const std::string& pointer,
               const TemplateRules& rules, bool required,
               std::vector<std::pair<std::string, std::string>>* out) {
    JsonObject object = Object(parent, key, pointer, required);
    if (!object) return;
    const std::string at = PointerJoin(pointer, key);
    for (const std::string& name : object->getNames()) {
      const Var value = object->get(name);
      if (!IsString(value)) {
        Error(PointerJoin(at, name), "must be a string");
        continue;
      }
      CheckTextTemplate(value.extract<std::string>(), PointerJoin(at, name), rules, &errors);
      out->emplace_back(name, value.extract<std::string>());
    }
  }
};

struct EntityRules {
  TemplateRules job;    // templates rendered per job
  TemplateRules batch;  // what surrounds batch items (no job: only `now`)
};

// Batch: okValues, codePointer and codes, how a per-item status that is a word
// (Zoho's {"status": "error", "code": "DUPLICATE_DATA"}) is read.
void ParseItemOutcomes(Checker* c, const JsonObject& object, const std::string& pointer,
                       Operation* op) {
  if (object->has("okValues")) {
    const Var values = object->get("okValues");
    if (!IsArray(values) || values.extract<JsonArray>()->size() == 0) {
      c->Error(pointer + "/okValues", "must be a non-empty array of the values that mean success");
    } else {
      JsonArray array = values.extract<JsonArray>();
      for (unsigned int i = 0; i < array->size(); ++i) op->ok_values.push_back(array->get(i));
    }
    if (!op->status_pointer) {
      c->Error(pointer + "/okValues", "needs a statusPointer (where the item's status is)");
    }
  }
  std::string text;
  if (c->Pointer(object, "codePointer", pointer, false, &text)) op->code_pointer = text;
  if (JsonObject codes = c->Object(object, "codes", pointer, false)) {
    for (const std::string& code : codes->getNames()) {
      const Var as = codes->get(code);
      StatusCode outcome = StatusCode::kPermanent;
      if (!IsString(as) || !ParseOutcomeName(as.extract<std::string>(), &outcome) ||
          outcome == StatusCode::kOk) {
        c->Error(PointerJoin(pointer + "/codes", code),
                 "must be one of retryable rate_limited unauthenticated not_found conflict "
                 "invalid_record permanent");
        continue;
      }
      op->codes[code] = outcome;
    }
  }
  if ((op->code_pointer || !op->codes.empty()) && op->ok_values.empty()) {
    c->Error(pointer + (op->code_pointer ? "/codePointer" : "/codes"),
             "needs okValues (which statuses mean success)");
  }
  if (!op->codes.empty() && !op->code_pointer) {
    c->Error(pointer + "/codes", "needs a codePointer (where the item's code is)");
  }
}

// Lookup: notFoundStatus, the 2xx statuses that mean "no such record" (404
// always does; an error status is classified before the lookup is read).
void ParseNotFoundStatus(Checker* c, const Var& value, const std::string& at, Operation* op) {
  const char* kExpected = "must be a non-empty array of 2xx statuses (e.g. [204])";
  if (!IsArray(value) || value.extract<JsonArray>()->size() == 0) {
    c->Error(at, kExpected);
    return;
  }
  JsonArray array = value.extract<JsonArray>();
  for (unsigned int i = 0; i < array->size(); ++i) {
    const Var status = array->get(i);
    if (!status.isInteger() || IsBool(status) || status.convert<Poco::Int64>() < 200 ||
        status.convert<Poco::Int64>() > 299) {
      c->Error(at + "/" + std::to_string(i), kExpected);
      continue;
    }
    op->not_found_status.push_back(static_cast<int>(status.convert<Poco::Int64>()));
  }
}

void ParseOperation(Checker* c, const JsonObject& object, const std::string& pointer,
                    const std::string& name, const std::string& default_id_pointer,
                    const EntityRules& rules, Operation* op) {
  op->name = name;
  const bool batch = IsBatch(name);
  const bool lookup = name == "lookup";
  // Only an update may send part of the entity: a create (a first create, or
  // one after the CRM lost the record) must send it whole.
  const bool update = name == "update" || name == "batchUpdate";
  std::vector<std::string> allowed = {"method", "path", "query", "headers", "body", "idPointer"};
  if (update) allowed.push_back("send");
  if (lookup || batch) allowed.push_back("resultsPointer");
  if (lookup) allowed.insert(allowed.end(), {"sampleAnswer", "matchPointer", "notFoundStatus"});
  if (lookup || name == "list") allowed.push_back("paging");
  if (batch) {
    for (const char* key : {"maxSize", "itemsPointer", "item", "matchPointer", "statusPointer",
                            "errorPointer", "okValues", "codePointer", "codes"}) {
      allowed.push_back(key);
    }
  }
  for (const std::string& key : object->getNames()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    static const std::set<std::string> kBatchOnly = {
        "maxSize",      "itemsPointer", "item",        "statusPointer",
        "errorPointer", "okValues",     "codePointer", "codes"};
    if (key == "sampleAnswer" || key == "notFoundStatus") {
      c->Error(PointerJoin(pointer, key), "only for lookup operations");
    } else if (key == "paging") {
      c->Error(PointerJoin(pointer, key), "only for lookup and users.list");
    } else if (key == "matchPointer") {
      c->Error(PointerJoin(pointer, key), "only for lookup and batch operations");
    } else if (key == "resultsPointer") {
      c->Error(PointerJoin(pointer, key),
               name == "list" ? "goes in /users (beside list), not inside the list operation"
                              : "only for lookup and batch operations");
    } else if (key == "send") {
      c->Error(PointerJoin(pointer, key),
               "only for update and batchUpdate (a create sends the whole entity)");
    } else if (kBatchOnly.count(key) != 0) {
      c->Error(PointerJoin(pointer, key), "only for batch operations (batchCreate, batchUpdate)");
    } else {
      c->Error(PointerJoin(pointer, key), UnknownKey(key, allowed));
    }
  }
  const TemplateRules& outer = batch ? rules.batch : rules.job;
  if (c->String(object, "method", pointer, true, &op->method)) {
    if (std::find(std::begin(kMethods), std::end(kMethods), op->method) == std::end(kMethods)) {
      c->Error(pointer + "/method",
               "must be one of GET POST PUT PATCH DELETE" +
                   DidYouMean(op->method, {std::begin(kMethods), std::end(kMethods)}));
    }
  }
  if (c->String(object, "path", pointer, true, &op->path)) {
    CheckPathTemplate(op->path, pointer + "/path", outer, &c->errors);
  }
  c->TemplateMap(object, "query", pointer, outer, &op->query);
  c->TemplateMap(object, "headers", pointer, outer, &op->headers);
  if (object->has("body")) {
    if (op->method == "GET") {
      c->Error(pointer + "/body", "a GET request has no body");
    } else {
      op->body = object->get("body");
      CheckJsonTemplate(*op->body, pointer + "/body", outer, &c->errors);
    }
  }
  std::string send;
  if (update && c->String(object, "send", pointer, false, &send)) {
    if (send != "all" && send != "changed") {
      c->Error(pointer + "/send", "must be \"all\" (the whole entity) or \"changed\"");
    }
    op->changed_only = send == "changed";
  }
  op->id_pointer = default_id_pointer;
  c->Pointer(object, "idPointer", pointer, false, &op->id_pointer);
  std::string text;
  if (c->Pointer(object, "resultsPointer", pointer, false, &text)) op->results_pointer = text;
  if (lookup && object->has("sampleAnswer")) op->sample_answer = object->get("sampleAnswer");
  if (lookup && c->Pointer(object, "matchPointer", pointer, false, &text)) {
    op->match_pointer = text;
  }
  if (lookup && object->has("notFoundStatus")) {
    ParseNotFoundStatus(c, object->get("notFoundStatus"), pointer + "/notFoundStatus", op);
  }
  if ((lookup || name == "list") && object->has("paging")) {
    Paging paging;
    if (ParsePaging(object->get("paging"), pointer + "/paging", &paging, &c->errors)) {
      op->paging = paging;
    }
  }
  if (!batch) return;

  if (!object->has("maxSize")) {
    c->Error(pointer + "/maxSize", "required for batch operations");
  } else {
    const Var size = object->get("maxSize");
    if (!size.isInteger() || IsBool(size) || size.convert<Poco::Int64>() < 1 ||
        size.convert<Poco::Int64>() > 10000) {
      c->Error(pointer + "/maxSize", "must be a whole number from 1 to 10000");
    } else {
      op->max_size = static_cast<int>(size.convert<Poco::Int64>());
    }
  }
  if (!object->has("item")) {
    c->Error(pointer + "/item", "required for batch operations (the template of one item)");
  } else {
    op->item = object->get("item");
    CheckJsonTemplate(*op->item, pointer + "/item", rules.job, &c->errors);
  }
  if (c->Pointer(object, "itemsPointer", pointer, false, &text, false)) op->items_pointer = text;
  if (op->body && !op->items_pointer) {
    c->Error(pointer + "/itemsPointer", "required when a batch has a body (where the items go)");
  }
  if (op->body && op->items_pointer && !IsObject(*op->body)) {
    c->Error(pointer + "/body", "a batch body must be an object (the items go inside it)");
  }
  if (c->Pointer(object, "matchPointer", pointer, false, &text)) op->match_pointer = text;
  if (c->Pointer(object, "statusPointer", pointer, false, &text)) op->status_pointer = text;
  if (c->Pointer(object, "errorPointer", pointer, false, &text)) op->error_pointer = text;
  ParseItemOutcomes(c, object, pointer, op);
}

void ParseEntity(Checker* c, const JsonObject& object, const std::string& pointer, EntityKind kind,
                 const EntityRules& rules, EntityMapping* out) {
  c->Keys(object, pointer, {"idPointer", "operations"});
  c->Pointer(object, "idPointer", pointer, false, &out->id_pointer);
  JsonObject operations = c->Object(object, "operations", pointer, true);
  if (!operations) return;
  const std::string ops_at = pointer + "/operations";
  for (const std::string& name : operations->getNames()) {
    const std::string at = PointerJoin(ops_at, name);
    const std::vector<std::string>& known = OperationNames();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      c->Error(at, "unknown operation" + DidYouMean(name, known) + " (expected one of " +
                       JoinNames(known) + ")");
      continue;
    }
    JsonObject op_object = c->Object(operations, name, ops_at, true);
    if (!op_object) continue;
    Operation op;
    ParseOperation(c, op_object, at, name, out->id_pointer, rules, &op);
    out->operations[name] = op;
  }
  for (const char* required : {"create", "update"}) {
    if (!operations->has(required)) {
      c->Error(PointerJoin(ops_at, required),
               std::string("required: a ") + EntityKindName(kind) + " mapping needs " + required);
    }
  }
}

const char kAbsoluteUrl[] =
    "must be an absolute https:// URL (http:// only to a loopback host, or with "
    "crm.allow_insecure_http)";

// auth type oauth2 (mapping-format.md, "Auth"); the secrets come from
// PluginConfig, so nothing here is a template.
void ParseOAuth2(Checker* c, const JsonObject& object, const std::string& pointer,
                 OAuth2Spec* out) {
  c->Keys(object, pointer,
          {"type", "grant", "tokenUrl", "scope", "clientAuth", "header", "prefix",
           "refreshMarginSeconds"});
  if (c->String(object, "grant", pointer, false, &out->grant) &&
      out->grant != "client_credentials" && out->grant != "refresh_token") {
    c->Error(pointer + "/grant",
             "must be client_credentials or refresh_token" +
                 DidYouMean(out->grant, {"client_credentials", "refresh_token"}));
  }
  if (c->String(object, "tokenUrl", pointer, true, &out->token_url) &&
      !IsAbsoluteHttpUrl(out->token_url)) {
    c->Error(pointer + "/tokenUrl", kAbsoluteUrl);
  }
  c->String(object, "scope", pointer, false, &out->scope);
  if (c->String(object, "clientAuth", pointer, false, &out->client_auth) &&
      out->client_auth != "body" && out->client_auth != "basic") {
    c->Error(pointer + "/clientAuth", "must be body or basic");
  }
  c->String(object, "header", pointer, false, &out->header);
  c->String(object, "prefix", pointer, false, &out->prefix, true);
  if (object->has("refreshMarginSeconds")) {
    const Var margin = object->get("refreshMarginSeconds");
    if (!margin.isInteger() || IsBool(margin) || margin.convert<Poco::Int64>() < 0 ||
        margin.convert<Poco::Int64>() > 86400) {
      c->Error(pointer + "/refreshMarginSeconds", "must be a whole number from 0 to 86400");
    } else {
      out->refresh_margin_s = margin.convert<Poco::Int64>();
    }
  }
}

void ParseAuth(Checker* c, const JsonObject& object, AuthSpec* auth) {
  const std::string pointer = "/auth";
  TemplateRules secrets;
  secrets.known_variable = [](const std::string& name) {
    return name == "secret.apiKey" || name == "secret.apiSecret";
  };
  secrets.variables = {"secret.apiKey", "secret.apiSecret"};
  std::string type;
  if (!c->String(object, "type", pointer, true, &type)) {
    c->Keys(object, pointer, {"type"});
    return;
  }
  if (type == "none") {
    c->Keys(object, pointer, {"type"});
    auth->type = AuthSpec::Type::kNone;
  } else if (type == "apiKey") {
    c->Keys(object, pointer, {"type", "headers"});
    auth->type = AuthSpec::Type::kApiKey;
    c->TextMap(object, "headers", pointer, secrets, true, &auth->headers);
  } else if (type == "bearer") {
    c->Keys(object, pointer, {"type", "token"});
    auth->type = AuthSpec::Type::kBearer;
    if (c->String(object, "token", pointer, true, &auth->token)) {
      CheckTextTemplate(auth->token, pointer + "/token", secrets, &c->errors);
    }
  } else if (type == "hmac") {
    c->Keys(object, pointer,
            {"type", "secret", "header", "timestampHeader", "encoding", "payload"});
    auth->type = AuthSpec::Type::kHmac;
    if (c->String(object, "secret", pointer, true, &auth->secret)) {
      CheckTextTemplate(auth->secret, pointer + "/secret", secrets, &c->errors);
    }
    c->String(object, "header", pointer, false, &auth->header);
    c->String(object, "timestampHeader", pointer, false, &auth->timestamp_header);
    if (c->String(object, "encoding", pointer, false, &auth->encoding) && auth->encoding != "hex" &&
        auth->encoding != "base64") {
      c->Error(pointer + "/encoding", "must be hex or base64");
    }
    if (c->String(object, "payload", pointer, false, &auth->payload)) {
      TemplateRules payload;
      payload.known_variable = [](const std::string& name) {
        return name == "method" || name == "path" || name == "timestamp" || name == "body";
      };
      payload.variables = {"method", "path", "timestamp", "body"};
      CheckTextTemplate(auth->payload, pointer + "/payload", payload, &c->errors);
    }
  } else if (type == "apiKeyQuery") {
    c->Keys(object, pointer, {"type", "query"});
    auth->type = AuthSpec::Type::kApiKeyQuery;
    c->TextMap(object, "query", pointer, secrets, true, &auth->query);
  } else if (type == "oauth2") {
    auth->type = AuthSpec::Type::kOAuth2;
    ParseOAuth2(c, object, pointer, &auth->oauth2);
  } else {
    const std::vector<std::string> types = {"apiKey", "apiKeyQuery", "bearer",
                                            "hmac",   "none",        "oauth2"};
    c->Keys(object, pointer, {"type"});
    c->Error(pointer + "/type", "must be one of " + JoinNames(types) + DidYouMean(type, types));
  }
}

// The entities of a per-entity section (webhooks.fields, fetch, poll), each
// handed to `parse`.
void ParsePerEntity(Checker* c, const JsonObject& object, const std::string& pointer,
                    const std::function<void(const JsonObject&, const std::string&, EntityKind)>&
                        parse) {
  for (const std::string& entity : object->getNames()) {
    const std::string at = PointerJoin(pointer, entity);
    EntityKind kind = EntityKind::kLead;
    if (!ParseEntityKind(entity, &kind)) {
      c->Error(at, UnknownEntity(entity));
      continue;
    }
    if (JsonObject spec = c->Object(object, entity, pointer, true)) parse(spec, at, kind);
  }
}

// A whole number member within [min, max]; false when absent or wrong.
bool WholeNumber(Checker* c, const JsonObject& object, const std::string& key,
                 const std::string& pointer, int64_t min, int64_t max, int64_t* out) {
  if (!object->has(key)) return false;
  const Var value = object->get(key);
  if (!value.isInteger() || IsBool(value) || value.convert<Poco::Int64>() < min ||
      value.convert<Poco::Int64>() > max) {
    c->Error(PointerJoin(pointer, key), "must be a whole number from " + std::to_string(min) +
                                            " to " + std::to_string(max));
    return false;
  }
  *out = value.convert<Poco::Int64>();
  return true;
}

// webhooks.verify: a scheme of crmsync/webhook_verify.h and its options, with
// the SDK's own checker run at load (on a stand-in secret: the real ones come
// from the plugin config) so a bad option stops the service, named by key.
void ParseVerify(Checker* c, const JsonObject& object, WebhookVerifier* out) {
  const std::string pointer = "/webhooks/verify";
  const std::vector<std::string> schemes = {"hubspot-v3", "hubspot-v2", "hubspot-v1",
                                            "hmac-sha256", "basic", "token"};
  std::string name;
  if (!c->String(object, "scheme", pointer, true, &name)) return;
  if (!ParseWebhookScheme(name, &out->scheme)) {
    c->Error(pointer + "/scheme",
             "must be one of " + JoinNames(schemes) + DidYouMean(name, schemes));
    return;
  }
  std::vector<std::string> allowed = {"scheme", "toleranceMs"};
  const std::vector<std::string> timestamp = {"timestampHeader", "timestampPointer"};
  switch (out->scheme) {
    case WebhookScheme::kHmacSha256:
      allowed.insert(allowed.end(), {"header", "encoding", "prefix"});
      allowed.insert(allowed.end(), timestamp.begin(), timestamp.end());
      break;
    case WebhookScheme::kToken:
      allowed.insert(allowed.end(), {"header", "tokenPointer"});
      allowed.insert(allowed.end(), timestamp.begin(), timestamp.end());
      break;
    case WebhookScheme::kBasic:
      allowed.insert(allowed.end(), timestamp.begin(), timestamp.end());
      break;
    default:
      break;  // HubSpot's schemes fix their headers
  }
  for (const std::string& key : object->getNames()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    static const std::set<std::string> kOptions = {"header", "encoding", "prefix", "tokenPointer",
                                                   "timestampHeader", "timestampPointer"};
    if (kOptions.count(key) != 0) {
      c->Error(PointerJoin(pointer, key), "not an option of the " + name + " scheme (it takes " +
                                              JoinNames(allowed) + ")");
    } else {
      c->Error(PointerJoin(pointer, key), UnknownKey(key, allowed));
    }
  }
  c->String(object, "header", pointer, false, &out->header);
  if (c->String(object, "encoding", pointer, false, &out->encoding) && out->encoding != "hex" &&
      out->encoding != "base64") {
    c->Error(pointer + "/encoding", "must be hex or base64");
    return;
  }
  c->String(object, "prefix", pointer, false, &out->prefix);
  c->Pointer(object, "tokenPointer", pointer, false, &out->token_pointer, false);
  c->String(object, "timestampHeader", pointer, false, &out->timestamp_header);
  c->Pointer(object, "timestampPointer", pointer, false, &out->timestamp_pointer, false);
  WholeNumber(c, object, "toleranceMs", pointer, 1000, 86400000, &out->tolerance_ms);
  WebhookVerifier probe = *out;
  probe.secrets = {"stand-in:secret"};
  const std::string problem = CheckWebhookVerifier(probe);
  if (problem.empty()) return;
  // The SDK names the option in its words; place the problem on that key.
  std::string at = pointer;
  for (const char* key : {"timestampHeader", "timestampPointer", "tokenPointer", "encoding"}) {
    if (problem.find(key) != std::string::npos) {
      at = PointerJoin(pointer, key);
      break;
    }
  }
  if (at == pointer && problem.find("header") != std::string::npos) at = pointer + "/header";
  if (problem.find("replay window") != std::string::npos) at = pointer + "/toleranceMs";
  c->Error(at, problem);
}

// A map of platform field -> where the CRM holds it (webhooks.fields.<entity>,
// records.<entity>.fields): a JSON pointer, or {"from", "transform"} with
// inbound transforms. `what` ends "not a platform lead field ..." messages,
// `into` names what the pointers point into.
void ParseFieldMap(Checker* c, const JsonObject& map, const std::string& entity_at,
                   EntityKind kind, const Mapping& mapping, const std::string& what,
                   const std::string& into, std::vector<WebhookField>* list) {
  const std::string entity = EntityKindName(kind);
  TransformRules transforms;
  transforms.direction = TransformDirection::kInbound;
  for (const auto& table : mapping.lookups) transforms.lookup_tables.insert(table.first);
  transforms.has_status_map =
      mapping.status_map_inbound.count(entity) != 0 || mapping.status_map.count(entity) != 0;
  transforms.has_source_map = mapping.has_source_map;
  for (const std::string& platform : map->getNames()) {
    const std::string at = PointerJoin(entity_at, platform);
    const std::vector<std::string>& known = PlatformFields(kind);
    if (std::find(known.begin(), known.end(), platform) == known.end() || platform == "id") {
      std::vector<std::string> settable;
      for (const std::string& field : known) {
        if (field != "id") settable.push_back(field);
      }
      c->Error(at, "not a platform " + entity + " field " + what +
                       DidYouMean(platform, settable));
      continue;
    }
    WebhookField field;
    field.platform_field = platform;
    const Var value = map->get(platform);
    if (IsString(value)) {
      field.from = value.extract<std::string>();
      if (!IsValidPointer(field.from)) {
        c->Error(at, "must be a JSON pointer into the " + into + " (\"/status\")");
        continue;
      }
    } else if (IsObject(value)) {
      JsonObject spec = value.extract<JsonObject>();
      c->Keys(spec, at, {"from", "transform"});
      if (!c->Pointer(spec, "from", at, true, &field.from)) continue;
      if (spec->has("transform")) {
        const Var transform_var = spec->get("transform");
        JsonArray array;
        if (IsString(transform_var)) {
          array = NewArray();
          array->add(transform_var);
        } else if (IsArray(transform_var)) {
          array = transform_var.extract<JsonArray>();
        } else {
          c->Error(at + "/transform", "must be a transform or an array of transforms");
          continue;
        }
        for (unsigned int i = 0; i < array->size(); ++i) {
          const std::string item_at =
              IsArray(transform_var) ? at + "/transform/" + std::to_string(i) : at + "/transform";
          if (!IsString(array->get(i))) {
            c->Error(item_at, "must be a string");
            continue;
          }
          const std::string spec_text = array->get(i).extract<std::string>();
          const std::string reason = CheckTransform(spec_text, transforms);
          if (!reason.empty()) c->Error(item_at, reason);
          field.transforms.push_back(spec_text);
        }
      }
    } else {
      c->Error(at, "must be a JSON pointer or {\"from\": ..., \"transform\": [...]}");
      continue;
    }
    list->push_back(field);
  }
}

void ParseWebhooks(Checker* c, const JsonObject& object, const Mapping& mapping, WebhookSpec* out) {
  const std::string pointer = "/webhooks";
  c->Keys(object, pointer,
          {"register", "verify", "eventsPointer", "eventPointer", "entityIdPointer",
           "eventIdPointer", "dataPointer", "updatedAtPointer", "property", "fetch", "events",
           "fields"});
  if (JsonObject verify = c->Object(object, "verify", pointer, false)) {
    WebhookVerifier verifier;
    ParseVerify(c, verify, &verifier);
    out->verify = verifier;
  }
  if (JsonObject reg = c->Object(object, "register", pointer, false)) {
    EntityRules rules;
    rules.job.known_variable = IsWebhookVariable;
    rules.job.variables = {"webhook.url", "webhook.events", "webhook.secret", "now"};
    rules.batch = rules.job;
    Operation op;
    const std::string at = pointer + "/register";
    c->Keys(reg, at, {"method", "path", "query", "headers", "body", "idPointer"});
    JsonObject filtered = NewObject();  // unknown keys are reported once, above
    for (const std::string& key : reg->getNames()) {
      if (key == "method" || key == "path" || key == "query" || key == "headers" || key == "body" ||
          key == "idPointer") {
        filtered->set(key, reg->get(key));
      }
    }
    ParseOperation(c, filtered, at, "register", "/id", rules, &op);
    out->register_op = op;
  }
  std::string text;
  if (c->Pointer(object, "eventsPointer", pointer, false, &text)) out->events_pointer = text;
  if (object->has("eventPointer") && IsArray(object->get("eventPointer"))) {
    // Several pointers whose values name the event together ("person.change").
    JsonArray parts = object->get("eventPointer").extract<JsonArray>();
    out->event_pointers.clear();
    if (parts->size() == 0) c->Error(pointer + "/eventPointer", "must not be an empty list");
    for (unsigned int i = 0; i < parts->size(); ++i) {
      const Var part = parts->get(i);
      const std::string at = pointer + "/eventPointer/" + std::to_string(i);
      if (!IsString(part) || !IsValidPointer(part.extract<std::string>()) ||
          part.extract<std::string>().empty()) {
        c->Error(at, "must be a JSON pointer into the event (\"/meta/action\")");
        continue;
      }
      out->event_pointers.push_back(part.extract<std::string>());
    }
  } else if (object->has("eventPointer")) {
    if (c->Pointer(object, "eventPointer", pointer, false, &text, false)) {
      out->event_pointers = {text};
    }
  }
  c->Pointer(object, "entityIdPointer", pointer, false, &out->entity_id_pointer, false);
  if (c->Pointer(object, "eventIdPointer", pointer, false, &text, false)) {
    out->event_id_pointer = text;
  }
  c->Pointer(object, "dataPointer", pointer, false, &out->data_pointer);
  if (c->Pointer(object, "updatedAtPointer", pointer, false, &text, false)) {
    out->updated_at_pointer = text;
  }
  if (JsonObject property = c->Object(object, "property", pointer, false)) {
    const std::string at = pointer + "/property";
    c->Keys(property, at, {"namePointer", "valuePointer"});
    WebhookProperty spec;
    const bool name = c->Pointer(property, "namePointer", at, true, &spec.name_pointer, false);
    const bool value = c->Pointer(property, "valuePointer", at, true, &spec.value_pointer, false);
    if (name && value) out->property = spec;
    if (object->has("dataPointer")) {
      c->Error(pointer + "/dataPointer",
               "not with property: a per-property event's data is {<name>: <value>}");
    }
  }
  if (object->has("fetch")) {
    const Var fetch = object->get("fetch");
    if (!IsBool(fetch)) {
      c->Error(pointer + "/fetch", "must be true or false");
    } else {
      out->fetch = fetch.extract<bool>();
    }
  }
  if (JsonObject events = c->Object(object, "events", pointer, false)) {
    for (const std::string& name : events->getNames()) {
      const std::string at = PointerJoin(pointer + "/events", name);
      const Var value = events->get(name);
      EntityKind kind = EntityKind::kLead;
      if (!IsString(value) || !ParseEntityKind(value.extract<std::string>(), &kind)) {
        c->Error(at, "must be lead or property");
        continue;
      }
      out->events[name] = kind;
    }
  }
  JsonObject fields = c->Object(object, "fields", pointer, false);
  if (!fields) return;
  ParsePerEntity(c, fields, pointer + "/fields", [&](const JsonObject& map,
                                                     const std::string& entity_at,
                                                     EntityKind kind) {
    ParseFieldMap(c, map, entity_at, kind, mapping, "that a webhook may set", "data object",
                  &out->fields[EntityKindName(kind)]);
  });
}

// The `request` of fetch.<entity> or poll.<entity>: an operation (method,
// path, query, headers, body) whose templates know `variables`.
void ParseRequest(Checker* c, const JsonObject& parent, const std::string& pointer,
                  const std::string& name, const Mapping& mapping, EntityKind kind,
                  const std::vector<std::string>& variables, Operation* op) {
  JsonObject object = c->Object(parent, "request", pointer, true);
  if (!object) return;
  const std::string at = pointer + "/request";
  c->Keys(object, at, {"method", "path", "query", "headers", "body"});
  JsonObject filtered = NewObject();  // unknown keys are reported once, above
  for (const char* key : {"method", "path", "query", "headers", "body"}) {
    if (object->has(key)) filtered->set(key, object->get(key));
  }
  EntityRules rules;
  rules.job.known_variable = [variables](const std::string& variable) {
    return std::find(variables.begin(), variables.end(), variable) != variables.end();
  };
  rules.job.variables = variables;
  for (const auto& table : mapping.lookups) rules.job.transforms.lookup_tables.insert(table.first);
  rules.job.transforms.has_status_map = mapping.status_map.count(EntityKindName(kind)) != 0;
  rules.job.transforms.has_source_map = mapping.has_source_map;
  rules.batch = rules.job;
  ParseOperation(c, filtered, at, name, "/id", rules, op);
}

void ParseFetch(Checker* c, const JsonObject& object, Mapping* mapping) {
  ParsePerEntity(c, object, "/fetch", [&](const JsonObject& spec, const std::string& at,
                                           EntityKind kind) {
    c->Keys(spec, at, {"request", "recordPointer", "updatedAtPointer", "notFoundStatus"});
    FetchSpec fetch;
    ParseRequest(c, spec, at, "fetch", *mapping, kind, {"externalId", "now"}, &fetch.request);
    c->Pointer(spec, "recordPointer", at, false, &fetch.record_pointer);
    std::string text;
    if (c->Pointer(spec, "updatedAtPointer", at, false, &text, false)) {
      fetch.updated_at_pointer = text;
    }
    if (spec->has("notFoundStatus")) {
      ParseNotFoundStatus(c, spec->get("notFoundStatus"), at + "/notFoundStatus", &fetch.request);
      fetch.not_found_status = fetch.request.not_found_status;
    }
    mapping->fetch[EntityKindName(kind)] = fetch;
  });
}

void ParsePoll(Checker* c, const JsonObject& object, Mapping* mapping) {
  ParsePerEntity(c, object, "/poll", [&](const JsonObject& spec, const std::string& at,
                                          EntityKind kind) {
    c->Keys(spec, at,
            {"request", "since", "itemsPointer", "idPointer", "dataPointer", "updatedAtPointer",
             "next", "event"});
    PollSpec poll;
    ParseRequest(c, spec, at, "poll", *mapping, kind, {"poll.since", "poll.after", "now"},
                 &poll.request);
    if (JsonObject since = c->Object(spec, "since", at, false)) {
      const std::string since_at = at + "/since";
      c->Keys(since, since_at, {"format", "overlapMs"});
      std::string format;
      if (c->String(since, "format", since_at, false, &format)) {
        if (format == "iso") {
          poll.since_format = PollSpec::SinceFormat::kIso;
        } else if (format != "epochMs") {
          c->Error(since_at + "/format", "must be epochMs or iso" +
                                             DidYouMean(format, {"epochMs", "iso"}));
        }
      }
      WholeNumber(c, since, "overlapMs", since_at, 0, 86400000, &poll.overlap_ms);
    }
    c->Pointer(spec, "itemsPointer", at, true, &poll.items_pointer);
    c->Pointer(spec, "idPointer", at, false, &poll.id_pointer, false);
    c->Pointer(spec, "dataPointer", at, false, &poll.data_pointer);
    c->Pointer(spec, "updatedAtPointer", at, true, &poll.updated_at_pointer, false);
    if (JsonObject next = c->Object(spec, "next", at, false)) {
      const std::string next_at = at + "/next";
      c->Keys(next, next_at, {"cursorPointer", "pathPointer"});
      std::string text;
      if (c->Pointer(next, "cursorPointer", next_at, false, &text, false)) {
        poll.cursor_pointer = text;
      }
      if (c->Pointer(next, "pathPointer", next_at, false, &text, false)) poll.path_pointer = text;
      if (next->has("cursorPointer") == next->has("pathPointer")) {
        c->Error(next_at, "needs exactly one of cursorPointer and pathPointer");
      }
    }
    poll.event = std::string(EntityKindName(kind)) + ".poll";
    c->String(spec, "event", at, false, &poll.event);
    mapping->poll[EntityKindName(kind)] = poll;
  });
}

// records: how to read the CRM's records back (reconcile). `read` defaults to
// the entity's fetch, which is parsed before.
void ParseRecords(Checker* c, const JsonObject& object, Mapping* mapping) {
  ParsePerEntity(c, object, "/records", [&](const JsonObject& spec, const std::string& at,
                                             EntityKind kind) {
    const std::string entity = EntityKindName(kind);
    c->Keys(spec, at,
            {"list", "read", "idPointer", "referencePointer", "updatedAtPointer", "fields"});
    RecordsSpec records;
    if (const EntityMapping* mapped = mapping->Entity(kind)) {
      records.id_pointer = mapped->id_pointer;
    } else {
      c->Error(at, "needs /entities/" + entity +
                       ": the records of a kind the mapping does not sync are not compared");
    }
    auto check_method = [&](const Operation& op, const std::string& op_at) {
      if (!op.method.empty() && op.method != "GET" && op.method != "POST") {
        c->Error(op_at + "/request/method", "records are read with GET (or POST for a search)");
      }
    };
    if (JsonObject list = c->Object(spec, "list", at, false)) {
      const std::string list_at = at + "/list";
      c->Keys(list, list_at, {"request", "paging", "itemsPointer"});
      Operation op;
      ParseRequest(c, list, list_at, "list", *mapping, kind, {"now"}, &op);
      check_method(op, list_at);
      records.list = op;
      if (list->has("paging")) {
        Paging paging;
        if (ParsePaging(list->get("paging"), list_at + "/paging", &paging, &c->errors)) {
          records.paging = paging;
        }
      }
      c->Pointer(list, "itemsPointer", list_at, true, &records.items_pointer);
    }
    if (JsonObject read = c->Object(spec, "read", at, false)) {
      const std::string read_at = at + "/read";
      c->Keys(read, read_at, {"request", "recordPointer", "notFoundStatus"});
      Operation op;
      ParseRequest(c, read, read_at, "read", *mapping, kind, {"externalId", "now"}, &op);
      check_method(op, read_at);
      c->Pointer(read, "recordPointer", read_at, false, &records.record_pointer);
      if (read->has("notFoundStatus")) {
        ParseNotFoundStatus(c, read->get("notFoundStatus"), read_at + "/notFoundStatus", &op);
        records.not_found_status = op.not_found_status;
      }
      records.read = op;
    } else if (auto fetch = mapping->fetch.find(entity); fetch != mapping->fetch.end()) {
      // The record a notification names is read the same way.
      records.read = fetch->second.request;
      records.record_pointer = fetch->second.record_pointer;
      records.not_found_status = fetch->second.not_found_status;
    }
    if (!spec->has("list") && !records.read) {
      c->Error(at, "needs list (every " + entity + ", page by page) or read (one " + entity +
                       " by its CRM id; /fetch/" + entity + " serves when there is one)");
    }
    c->Pointer(spec, "idPointer", at, false, &records.id_pointer, false);
    c->Pointer(spec, "referencePointer", at, true, &records.reference_pointer, false);
    std::string text;
    if (c->Pointer(spec, "updatedAtPointer", at, false, &text, false)) {
      records.updated_at_pointer = text;
    }
    if (JsonObject fields = c->Object(spec, "fields", at, true)) {
      ParseFieldMap(c, fields, at + "/fields", kind, *mapping, "that a record holds", "record",
                    &records.fields);
    }
    mapping->records[entity] = records;
  });
}

// What the inbound sections need of each other: fetched and polled records
// are read with webhooks.fields, and notification-only webhooks need a fetch.
void CheckInbound(Checker* c, const Mapping& mapping) {
  auto has_fields = [&](const std::string& entity) {
    return mapping.webhooks && mapping.webhooks->fields.count(entity) != 0;
  };
  for (const auto& entry : mapping.fetch) {
    if (!has_fields(entry.first)) {
      c->Error("/fetch/" + entry.first, "needs /webhooks/fields/" + entry.first +
                                            " (how the fetched record maps to platform fields)");
    }
  }
  for (const auto& entry : mapping.poll) {
    if (!has_fields(entry.first)) {
      c->Error("/poll/" + entry.first, "needs /webhooks/fields/" + entry.first +
                                           " (how a polled record maps to platform fields)");
    }
  }
  if (mapping.webhooks && mapping.webhooks->fetch) {
    std::set<std::string> entities;
    for (const auto& event : mapping.webhooks->events) entities.insert(EntityKindName(event.second));
    for (const std::string& entity : entities) {
      if (mapping.fetch.count(entity) == 0) {
        c->Error("/webhooks/fetch", "needs /fetch/" + entity +
                                        " (how to read a notified " + entity + " by its id)");
      }
    }
  }
}

void ParseClassify(Checker* c, const Var& value, std::vector<ClassifyRule>* out) {
  if (!IsArray(value)) {
    c->Error("/classify", "must be an array of rules");
    return;
  }
  JsonArray rules = value.extract<JsonArray>();
  for (unsigned int i = 0; i < rules.get()->size(); ++i) {
    const std::string at = "/classify/" + std::to_string(i);
    if (!IsObject(rules->get(i))) {
      c->Error(at, "must be an object");
      continue;
    }
    JsonObject object = rules->get(i).extract<JsonObject>();
    c->Keys(object, at, {"status", "bodyPointer", "equals", "as"});
    ClassifyRule rule;
    if (object->has("status")) {
      const Var status = object->get("status");
      if (!status.isInteger() || IsBool(status) || status.convert<int>() < 100 ||
          status.convert<int>() > 599) {
        c->Error(at + "/status", "must be an HTTP status from 100 to 599");
      } else {
        rule.status = status.convert<int>();
      }
    }
    std::string text;
    if (c->Pointer(object, "bodyPointer", at, false, &text)) rule.body_pointer = text;
    if (object->has("equals")) {
      rule.equals = object->get("equals");
      if (!object->has("bodyPointer")) c->Error(at + "/equals", "needs a bodyPointer");
    }
    if (c->String(object, "as", at, true, &text) && !ParseOutcomeName(text, &rule.as)) {
      c->Error(at + "/as",
               "must be one of ok retryable rate_limited unauthenticated not_found "
               "conflict invalid_record permanent");
    }
    out->push_back(rule);
  }
}

// rateLimit: one set of budget headers, or an array of them.
void ParseRateLimit(Checker* c, const Var& value, std::vector<RateLimitHeaders>* out) {
  std::vector<std::pair<std::string, Var>> sets;  // (pointer, set)
  if (IsArray(value)) {
    JsonArray list = value.extract<JsonArray>();
    if (list->size() == 0) c->Error("/rateLimit", "must not be an empty array");
    for (unsigned int i = 0; i < list->size(); ++i) {
      sets.emplace_back("/rateLimit/" + std::to_string(i), list->get(i));
    }
  } else {
    sets.emplace_back("/rateLimit", value);
  }
  for (const auto& [at, set] : sets) {
    if (!IsObject(set)) {
      c->Error(at, "must be an object naming the budget headers (or an array of them)");
      continue;
    }
    RateLimitHeaders parsed;
    std::vector<std::pair<std::string, std::string>> problems;
    if (ParseRateLimitHeaders(ToJson(set), &parsed, &problems)) {
      out->push_back(parsed);
      continue;
    }
    for (const auto& [key, reason] : problems) {
      c->Error(key.empty() ? at : PointerJoin(at, key), reason);
    }
  }
}

void ParseStatusMaps(Checker* c, const JsonObject& root, Mapping* mapping) {
  for (const char* key : {"statusMap", "statusMapInbound"}) {
    JsonObject object = c->Object(root, key, "", false);
    if (!object) continue;
    const bool inbound = std::string(key) == "statusMapInbound";
    const std::string pointer = std::string("/") + key;
    for (const std::string& entity : object->getNames()) {
      EntityKind kind = EntityKind::kLead;
      if (!ParseEntityKind(entity, &kind)) {
        c->Error(PointerJoin(pointer, entity), UnknownEntity(entity));
        continue;
      }
      StringTable table;
      if (!c->StringTableOf(object, entity, pointer, &table)) continue;
      const std::vector<std::string> statuses = PlatformStatuses(kind);
      const std::string at = PointerJoin(pointer, entity);
      for (const auto& entry : table) {
        const std::string& platform = inbound ? entry.second : entry.first;
        const std::string& crm = inbound ? entry.first : entry.second;
        if (std::find(statuses.begin(), statuses.end(), platform) == statuses.end()) {
          c->Error(PointerJoin(at, entry.first),
                   (inbound ? "the value must be a platform " : "not a platform ") + entity +
                       " status" + DidYouMean(platform, statuses) + " (" + JoinNames(statuses) +
                       ")");
        }
        if (crm.empty()) c->Error(PointerJoin(at, entry.first), "a CRM status must not be empty");
      }
      (inbound ? mapping->status_map_inbound : mapping->status_map)[entity] = table;
    }
  }
}

// sourceMap: platform source -> the CRM's option, "*" for any other source.
void ParseSourceMap(Checker* c, const JsonObject& root, Mapping* mapping) {
  if (!root->has("sourceMap")) return;
  if (!c->StringTableOf(root, "sourceMap", "", &mapping->source_map)) return;
  mapping->has_source_map = true;
  for (const auto& [source, option] : mapping->source_map) {
    const std::string at = PointerJoin("/sourceMap", source);
    if (source.empty()) c->Error(at, "a platform source must not be empty");
    if (option.empty()) {
      c->Error(at, "the CRM's source option must not be empty (leave the source out, or map "
                   "it to the CRM's catch-all option)");
    }
  }
}

// users: the list operation and how its items read.
void ParseUsers(Checker* c, const JsonObject& object, Mapping* mapping) {
  UsersSpec spec;
  ParseUsersSpec(object, &spec, &c->errors);
  if (JsonObject list = c->Object(object, "list", "/users", false)) {
    EntityRules rules;
    rules.job.known_variable = [](const std::string& name) { return name == "now"; };
    rules.job.variables = {"now"};
    for (const auto& table : mapping->lookups) {
      rules.job.transforms.lookup_tables.insert(table.first);
    }
    rules.batch = rules.job;
    Operation op;
    ParseOperation(c, list, "/users/list", "list", spec.id_pointer, rules, &op);
    if (op.method != "GET" && op.method != "POST" && !op.method.empty()) {
      c->Error("/users/list/method", "a list is read with GET (or POST for a search)");
    }
    mapping->users_list = op;
  }
  mapping->users = spec;
}

}  // namespace

const std::vector<std::string>& OperationNames() {
  static const std::vector<std::string> kNames = {"create", "update",      "activity",   "deal",
                                                  "lookup", "batchCreate", "batchUpdate"};
  return kNames;
}

const Operation* EntityMapping::Find(const std::string& name) const {
  auto it = operations.find(name);
  return it == operations.end() ? nullptr : &it->second;
}

const EntityMapping* Mapping::Entity(EntityKind kind) const {
  auto it = entities.find(EntityKindName(kind));
  return it == entities.end() ? nullptr : &it->second;
}

TransformTables Mapping::Tables(EntityKind kind) const {
  TransformTables tables;
  auto out = status_map.find(EntityKindName(kind));
  if (out != status_map.end()) tables.status_out = &out->second;
  auto in = status_map_inbound.find(EntityKindName(kind));
  if (in != status_map_inbound.end()) tables.status_in = &in->second;
  tables.lookups = &lookups;
  if (has_source_map) tables.source_map = &source_map;
  return tables;
}

bool IsAbsoluteHttpUrl(const std::string& url) {
  try {
    const Poco::URI uri(url);
    return (uri.getScheme() == "https" || uri.getScheme() == "http") && !uri.getHost().empty();
  } catch (const Poco::Exception&) {
    return false;
  }
}

Status ApplyTokenUrl(const std::string& token_url, Mapping* mapping) {
  if (token_url.empty()) return Status::Ok();
  if (mapping->auth.type != AuthSpec::Type::kOAuth2) {
    return Status::InvalidConfig(
        "token_url: only for a mapping whose auth is oauth2 (crm.generic-rest-crm.token_url; "
        "mapping '" + mapping->name + "' has no token endpoint)");
  }
  if (!IsAbsoluteHttpUrl(token_url)) {
    return Status::InvalidConfig(std::string("token_url: ") + kAbsoluteUrl +
                                 " (crm.generic-rest-crm.token_url)");
  }
  mapping->auth.oauth2.token_url = token_url;
  mapping->auth.oauth2.token_url_from = "token_url (crm.generic-rest-crm.token_url)";
  return Status::Ok();
}

bool ParseOutcomeName(const std::string& name, StatusCode* out) {
  static const std::pair<const char*, StatusCode> kNames[] = {
      {"ok", StatusCode::kOk},
      {"retryable", StatusCode::kRetryable},
      {"rate_limited", StatusCode::kRateLimited},
      {"unauthenticated", StatusCode::kUnauthenticated},
      {"not_found", StatusCode::kNotFound},
      {"conflict", StatusCode::kConflict},
      {"invalid_record", StatusCode::kInvalidRecord},
      {"permanent", StatusCode::kPermanent},
  };
  for (const auto& entry : kNames) {
    if (name == entry.first) {
      *out = entry.second;
      return true;
    }
  }
  return false;
}

bool ParseMapping(const std::string& file, const std::string& text, Mapping* out,
                  std::vector<std::string>* errors) {
  Var root;
  std::string parse_error;
  if (!ParseJson(text, &root, &parse_error)) {
    // Poco says what is wrong but not where: find the place ourselves.
    JsonSyntaxError syntax;
    if (FindJsonSyntaxError(text, &syntax)) {
      errors->push_back(file + ": line " + std::to_string(syntax.line) + ", column " +
                        std::to_string(syntax.column) +
                        (syntax.pointer.empty() ? "" : " (in " + syntax.pointer + ")") +
                        ": not valid JSON: " + syntax.reason);
    } else {
      errors->push_back(file + ": /: not valid JSON: " + parse_error);
    }
    return false;
  }
  if (!IsObject(root)) {
    errors->push_back(file + ": /: must be a JSON object");
    return false;
  }
  JsonObject object = root.extract<JsonObject>();
  Checker c;
  Mapping mapping;
  mapping.file = file;
  c.Keys(object, "",
         {"name", "description", "auth", "headers", "statusMap", "statusMapInbound", "lookups",
          "sourceMap", "entities", "users", "webhooks", "fetch", "poll", "records",
          "classify", "rateLimit"});
  c.String(object, "name", "", true, &mapping.name);
  c.String(object, "description", "", false, &mapping.description, true);

  if (JsonObject lookups = c.Object(object, "lookups", "", false)) {
    for (const std::string& table : lookups->getNames()) {
      StringTable entries;
      if (c.StringTableOf(lookups, table, "/lookups", &entries)) mapping.lookups[table] = entries;
    }
  }
  ParseStatusMaps(&c, object, &mapping);
  ParseSourceMap(&c, object, &mapping);
  if (object->has("auth")) {
    if (JsonObject auth = c.Object(object, "auth", "", false)) ParseAuth(&c, auth, &mapping.auth);
  }
  TemplateRules header_rules;
  header_rules.known_variable = [](const std::string& name) {
    return name == "secret.apiKey" || name == "secret.apiSecret";
  };
  header_rules.variables = {"secret.apiKey", "secret.apiSecret"};
  c.TextMap(object, "headers", "", header_rules, false, &mapping.headers);

  if (JsonObject entities = c.Object(object, "entities", "", true)) {
    for (const std::string& entity : entities->getNames()) {
      const std::string at = PointerJoin("/entities", entity);
      EntityKind kind = EntityKind::kLead;
      if (!ParseEntityKind(entity, &kind)) {
        c.Error(at, UnknownEntity(entity));
        continue;
      }
      JsonObject entity_object = c.Object(entities, entity, "/entities", true);
      if (!entity_object) continue;
      EntityRules rules;
      rules.job.known_variable = [kind](const std::string& name) {
        return IsJobVariable(kind, name);
      };
      rules.job.variables = JobVariables(kind);
      for (const auto& table : mapping.lookups)
        rules.job.transforms.lookup_tables.insert(table.first);
      rules.job.transforms.has_status_map = mapping.status_map.count(entity) != 0;
      rules.job.transforms.has_source_map = mapping.has_source_map;
      rules.batch = rules.job;
      rules.batch.known_variable = [](const std::string& name) { return name == "now"; };
      rules.batch.variables = {"now"};
      ParseEntity(&c, entity_object, at, kind, rules, &mapping.entities[entity]);
    }
    if (!entities->has("lead")) c.Error("/entities/lead", "required: the mapping of leads");
  }
  // statusMap must cover every platform status of each mapped entity.
  for (const char* entity : kEntityNames) {
    if (mapping.entities.count(entity) == 0) continue;
    EntityKind kind = EntityKind::kLead;
    ParseEntityKind(entity, &kind);
    auto table = mapping.status_map.find(entity);
    if (table == mapping.status_map.end()) {
      if (!object->has("statusMap") || !IsObject(object->get("statusMap")) ||
          !object->getObject("statusMap")->has(entity)) {
        c.Error(std::string("/statusMap/") + entity,
                std::string("required: every ") + entity + " status (" +
                    JoinNames(PlatformStatuses(kind)) + ") must be mapped");
      }
      continue;
    }
    for (const std::string& status : PlatformStatuses(kind)) {
      if (table->second.count(status) == 0) {
        c.Error(std::string("/statusMap/") + entity + "/" + status,
                std::string("missing: every platform status of a mapped entity must be mapped"));
      }
    }
  }
  // statusMapInbound defaults to the inverse of statusMap (first platform status
  // in funnel order wins when two share a CRM status).
  for (const auto& entry : mapping.status_map) {
    if (mapping.status_map_inbound.count(entry.first) != 0) continue;
    EntityKind kind = EntityKind::kLead;
    if (!ParseEntityKind(entry.first, &kind)) continue;
    StringTable inverse;
    for (const std::string& status : PlatformStatuses(kind)) {
      auto it = entry.second.find(status);
      if (it != entry.second.end() && inverse.count(it->second) == 0) inverse[it->second] = status;
    }
    mapping.status_map_inbound[entry.first] = inverse;
  }
  if (object->has("webhooks")) {
    if (JsonObject webhooks = c.Object(object, "webhooks", "", false)) {
      WebhookSpec spec;
      ParseWebhooks(&c, webhooks, mapping, &spec);
      mapping.webhooks = spec;
    }
  }
  if (JsonObject fetch = c.Object(object, "fetch", "", false)) ParseFetch(&c, fetch, &mapping);
  if (JsonObject poll = c.Object(object, "poll", "", false)) ParsePoll(&c, poll, &mapping);
  if (JsonObject records = c.Object(object, "records", "", false)) {
    ParseRecords(&c, records, &mapping);
  }
  CheckInbound(&c, mapping);
  if (JsonObject users = c.Object(object, "users", "", false)) {
    ParseUsers(&c, users, &mapping);
  }
  if (object->has("classify")) ParseClassify(&c, object->get("classify"), &mapping.classify);
  if (object->has("rateLimit")) ParseRateLimit(&c, object->get("rateLimit"), &mapping.rate_limit);

  for (const auto& error : c.errors) {
    errors->push_back(file + ": " + (error.first.empty() ? "/" : error.first) + ": " +
                      error.second);
  }
  if (!c.errors.empty()) return false;
  *out = mapping;
  return true;
}

bool LoadMappingFile(const std::string& path, Mapping* out, std::vector<std::string>* errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors->push_back(path + ": cannot be read (no such file or no permission)");
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    errors->push_back(path + ": cannot be read");
    return false;
  }
  return ParseMapping(path, text.str(), out, errors);
}

}  // namespace crmsync::genericrest
