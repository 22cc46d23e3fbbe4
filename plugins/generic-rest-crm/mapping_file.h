// mapping_file.h: a generic-rest-crm mapping file (docs/mapping-format.md),
// loaded, checked and held as a typed model.
//
// LoadMappingFile() reads the JSON file and checks all of it before the service
// starts: every problem is collected (not just the first) as
// "<file>: <JSON pointer>: <reason>", unknown keys included so typos are caught;
// templates are checked for unknown variables, transforms and lookup tables;
// statusMap must cover every platform status of a mapped entity; rateLimit is
// checked by the SDK's own checker of budget headers. Secrets are
// never part of the file or of a message (they come from PluginConfig).
//
// A Mapping is immutable once loaded and shared read-only by every thread.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_MAPPING_FILE_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_MAPPING_FILE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crmsync/entities.h"
#include "crmsync/rate_limit.h"
#include "crmsync/status.h"
#include "crmsync/webhook_verify.h"
#include "json_util.h"
#include "pagination.h"
#include "transforms.h"
#include "users.h"

namespace crmsync::genericrest {

/// The operation names a mapping may define, in the doc's order.
const std::vector<std::string>& OperationNames();

/// One CRM call (entities.<entity>.operations.<op>, or webhooks.register).
struct Operation {
  std::string name;    ///< "create", "batchUpdate", "register", ...
  std::string method;  ///< GET POST PUT PATCH DELETE
  std::string path;    ///< Path template ("/api/v1/leads/{externalId}").
  /// Query parameters in file order; values are JSON templates.
  std::vector<std::pair<std::string, Var>> query;
  /// Extra headers in file order; values are JSON templates.
  std::vector<std::pair<std::string, Var>> headers;
  /// Body template (for batches: what surrounds the items); absent: no body.
  std::optional<Var> body;
  /// "send": "changed": the job's platform fields are limited to those it
  /// changed (SyncJob::changed_fields), so a template leaves the others out;
  /// "all" (the default): the whole merged entity. Only update and batchUpdate.
  bool changed_only = false;
  /// Pointer to the CRM id in an answer (for lookups and batches: inside one
  /// match / result). Defaults to the entity's idPointer, else "/id".
  std::string id_pointer = "/id";
  /// lookup: where the matches are; batch: where the per-item results are.
  std::optional<std::string> results_pointer;
  /// Lookup only: an answer the CRM gave (or documents) to this lookup when
  /// the record exists. Configure() reads it with resultsPointer and idPointer
  /// and refuses the mapping when it does not fit; without one, the mapping
  /// has never been checked against a real answer, and says so as a warning.
  std::optional<Var> sample_answer;
  /// Lookup only: 2xx statuses that mean "no such record" whatever the body
  /// (Zoho's search answers 204 with no body); 404 always means it.
  std::vector<int> not_found_status;
  /// Batch only: most items per request (>= 1).
  int max_size = 0;
  /// Batch only: where the items go in the body; absent: the body is the array.
  std::optional<std::string> items_pointer;
  /// Batch only: the template of one item.
  std::optional<Var> item;
  /// Batch: pointer, inside one result, to our external reference. Lookup:
  /// pointer, inside one match, to it; only a match holding the job's
  /// reference there counts.
  std::optional<std::string> match_pointer;
  /// Lookup and users.list: how the CRM pages its answer (pagination.h).
  std::optional<Paging> paging;
  /// Batch only: the values at statusPointer that mean the item succeeded
  /// (Zoho's "success"); with them, any other value failed the item.
  std::vector<Var> ok_values;
  /// Batch only, with okValues: pointer, inside one result, to the CRM's code
  /// for a failed item ("DUPLICATE_DATA").
  std::optional<std::string> code_pointer;
  /// Batch only: CRM code -> outcome of a failed item (default invalid_record).
  std::map<std::string, StatusCode> codes;
  /// Batch only: pointer, inside one result, to an HTTP status for that item,
  /// read with the default outcome table.
  std::optional<std::string> status_pointer;
  /// Batch only: pointer, inside one result, to an error; a result where it
  /// points at anything but null / false / "" failed (invalid record).
  std::optional<std::string> error_pointer;
};

/// One entity's mapping (entities.lead, entities.property).
struct EntityMapping {
  std::string id_pointer = "/id";
  std::map<std::string, Operation> operations;
  /// The operation `name`, or nullptr.
  const Operation* Find(const std::string& name) const;
};

/// auth type oauth2 (mapping-format.md, "Auth"): where and how to get an
/// access token, and how to send it. The client id is api_key, the client
/// secret api_secret, the refresh token the plugin key refresh_token.
struct OAuth2Spec {
  std::string grant = "client_credentials";  ///< client_credentials | refresh_token
  std::string token_url;                     ///< Absolute https:// (or loopback http://).
  /// Where token_url came from, for messages: the mapping's /auth/tokenUrl, or
  /// the plugin key token_url that overrides it per deployment.
  std::string token_url_from = "mapping: /auth/tokenUrl";
  std::string scope;                         ///< "" for none.
  std::string client_auth = "body";          ///< body | basic
  std::string header = "Authorization";      ///< Where the access token goes.
  std::string prefix = "Bearer";             ///< Before the token, with a space; "" for none.
  int64_t refresh_margin_s = 60;             ///< Refresh this long before expiry.
};

/// How requests are authenticated (mapping-format.md, "Auth"). Values are text
/// templates over secret.apiKey / secret.apiSecret (the HMAC payload over
/// method, path, timestamp, body); they hold placeholders, never secrets.
struct AuthSpec {
  enum class Type { kNone, kApiKey, kBearer, kHmac, kOAuth2, kApiKeyQuery };
  Type type = Type::kNone;
  std::vector<std::pair<std::string, std::string>> headers;  ///< apiKey
  std::vector<std::pair<std::string, std::string>> query;    ///< apiKeyQuery
  OAuth2Spec oauth2;                                         ///< oauth2
  std::string token;                                         ///< bearer
  std::string secret;                                        ///< hmac key
  std::string header = "X-Signature";                        ///< hmac
  std::string timestamp_header;                              ///< hmac; "" for none
  std::string encoding = "hex";                              ///< hex | base64
  std::string payload = "{{method}}\n{{path}}\n{{timestamp}}\n{{body}}";
};

/// One platform field read from a webhook's data object.
struct WebhookField {
  std::string platform_field;
  std::string from;  ///< Pointer into the data object.
  std::vector<std::string> transforms;
};

/// webhooks.property: per-property events (HubSpot's contact.propertyChange);
/// the event's data object is {<name>: <value>}.
struct WebhookProperty {
  std::string name_pointer;
  std::string value_pointer;
};

/// webhooks: how CRM webhooks map back, and how to register them.
struct WebhookSpec {
  std::optional<Operation> register_op;
  /// webhooks.verify: the CRM's own signature scheme (crmsync/webhook_verify.h),
  /// with the options from the file and no secrets: Configure() adds them from
  /// the plugin config (webhook_secrets, webhook_secret).
  std::optional<WebhookVerifier> verify;
  /// Where the array of events is; absent: an array body is a batch of
  /// events, an object body is one event.
  std::optional<std::string> events_pointer;
  /// The event's name: one pointer, or several whose values are joined by ".".
  std::vector<std::string> event_pointers = {"/event"};
  /// The CRM id: a string, a number, or an array of them (one change each).
  std::string entity_id_pointer = "/entityId";
  std::optional<std::string> event_id_pointer;  ///< Into InboundChange::event_ids.
  std::string data_pointer = "/data";
  std::optional<std::string> updated_at_pointer;  ///< Inside one event.
  std::optional<WebhookProperty> property;
  /// Notification only: changes carry fetch=true and no fields.
  bool fetch = false;
  /// CRM event name -> entity.
  std::map<std::string, EntityKind> events;
  /// Per entity ("lead", "property"), in file order.
  std::map<std::string, std::vector<WebhookField>> fields;
};

/// fetch.<entity>: how to read one record by its CRM id (mapping-format.md,
/// "Fetching a notified record").
struct FetchSpec {
  Operation request;                ///< Knows externalId and now.
  std::string record_pointer;       ///< "" : the answer is the record.
  std::optional<std::string> updated_at_pointer;  ///< Inside the record.
  std::vector<int> not_found_status;  ///< 2xx statuses meaning "gone" (404 always).
};

/// poll.<entity>: a "changed since" list (mapping-format.md, "Change polling").
struct PollSpec {
  Operation request;  ///< Knows poll.since, poll.after and now.
  enum class SinceFormat { kEpochMs, kIso };
  SinceFormat since_format = SinceFormat::kEpochMs;
  int64_t overlap_ms = 60000;
  std::string items_pointer;
  std::string id_pointer = "/id";
  std::string data_pointer;  ///< "" : the item itself.
  std::string updated_at_pointer;
  /// next.cursorPointer (sent back as poll.after) or next.pathPointer (the
  /// next page's path, read with GET); neither: one page is the whole answer.
  std::optional<std::string> cursor_pointer;
  std::optional<std::string> path_pointer;
  std::string event;  ///< The changes' crm_event ("lead.poll").
};

/// records.<entity>: how to read the CRM's records back for reconcile
/// (mapping-format.md, "Reading records back"; crmsync/records.h).
struct RecordsSpec {
  /// list: every record, one page per call (request knows `now`); absent:
  /// the plugin cannot list the kind.
  std::optional<Operation> list;
  std::optional<Paging> paging;  ///< list.paging; absent: one page is the whole list.
  std::string items_pointer;     ///< list.itemsPointer; "" : the answer is the array.
  /// read: one record by its CRM id (request knows externalId and now);
  /// absent: the entity's fetch, else the kind cannot be read.
  std::optional<Operation> read;
  std::string record_pointer;         ///< read.recordPointer; "" : the answer is the record.
  std::vector<int> not_found_status;  ///< read: 2xx statuses meaning "no such record".
  std::string id_pointer = "/id";     ///< Inside a record.
  std::string reference_pointer;      ///< Inside a record: our externalReference.
  std::optional<std::string> updated_at_pointer;  ///< Inside a record.
  std::vector<WebhookField> fields;   ///< Platform field <- pointer into a record.
};

/// One outcome refinement (mapping-format.md, "Outcome refinements").
struct ClassifyRule {
  std::optional<int> status;                ///< Absent: any status.
  std::optional<std::string> body_pointer;  ///< Into the answer's JSON body.
  std::optional<Var> equals;                ///< Absent: the pointer only has to exist.
  StatusCode as = StatusCode::kPermanent;
};

/// A loaded mapping file.
struct Mapping {
  std::string file;
  std::string name;
  std::string description;
  AuthSpec auth;
  std::vector<std::pair<std::string, std::string>> headers;  ///< Text templates.
  /// Entity -> platform status -> CRM status.
  std::map<std::string, StringTable> status_map;
  /// Entity -> CRM status -> platform status (default: the inverse of status_map).
  std::map<std::string, StringTable> status_map_inbound;
  std::map<std::string, StringTable> lookups;
  /// Platform source -> the CRM's source option (the source transform); the
  /// "*" entry is the option of a source not listed.
  StringTable source_map;
  bool has_source_map = false;
  std::map<std::string, EntityMapping> entities;  ///< "lead", "property"
  /// users: how to list the CRM's users (users.h), and its list operation.
  std::optional<UsersSpec> users;
  std::optional<Operation> users_list;
  std::optional<WebhookSpec> webhooks;
  /// Per entity ("lead", "property").
  std::map<std::string, FetchSpec> fetch;
  std::map<std::string, PollSpec> poll;
  std::map<std::string, RecordsSpec> records;
  std::vector<ClassifyRule> classify;
  /// rateLimit: where the CRM's answers state its request budget (one set, or
  /// several tried in order), checked with crmsync::ParseRateLimitHeaders();
  /// the engine reads them from Dump() before its defaults.
  std::vector<RateLimitHeaders> rate_limit;

  /// The mapping of `kind`, or nullptr when the file has none.
  const EntityMapping* Entity(EntityKind kind) const;
  /// The transform tables for templates and webhook fields of `kind`.
  TransformTables Tables(EntityKind kind) const;
};

/// Parses and checks a mapping given as text; `file` names it in messages. On
/// success fills *out and returns true; else appends every problem to *errors
/// ("<file>: <pointer>: <reason>") and returns false.
bool ParseMapping(const std::string& file, const std::string& text, Mapping* out,
                  std::vector<std::string>* errors);

/// Reads `path` and ParseMapping()s it. An unreadable file is one error.
bool LoadMappingFile(const std::string& path, Mapping* out, std::vector<std::string>* errors);

/// True when `url` is an absolute http:// or https:// URL with a host (the
/// transport then refuses plain http:// to anything but loopback).
bool IsAbsoluteHttpUrl(const std::string& url);

/// Applies the plugin key token_url (crm.generic-rest-crm.token_url): a
/// deployment's token endpoint (a Zoho data centre, a Salesforce sandbox or My
/// Domain) in place of the mapping's auth.tokenUrl. Empty: the mapping's.
/// kInvalidConfig naming token_url for a mapping whose auth is not oauth2 or a
/// value that is not an absolute URL.
Status ApplyTokenUrl(const std::string& token_url, Mapping* mapping);

/// Parses an outcome name of the classify table ("conflict") into a code.
bool ParseOutcomeName(const std::string& name, StatusCode* out);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_MAPPING_FILE_H_
