// The mock-crm adapter and the plugin's entry points; see mock_crm_adapter.h.
#include "mock_crm_adapter.h"

#include <set>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include "crmsync/classify.h"
#include "crmsync/plugin.h"
#include "json_util.h"

namespace crmsync::mockcrm {
namespace {

// Parses the users setting (see mock_crm_adapter.h); kInvalidConfig naming
// the key, the entry and what is wrong.
Status ParseUsers(const std::string& text, std::vector<MemoryCrm::User>* out) {
  Poco::JSON::Array::Ptr array;
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(text);
    if (parsed.type() == typeid(Poco::JSON::Array::Ptr)) {
      array = parsed.extract<Poco::JSON::Array::Ptr>();
    }
  } catch (const Poco::Exception&) {
  }
  if (!array) return Status::InvalidConfig(std::string(kUsersKey) + ": must be a JSON array");
  std::set<std::string> ids;
  for (unsigned int i = 0; i < array->size(); ++i) {
    const std::string where = std::string(kUsersKey) + "[" + std::to_string(i) + "]";
    Poco::JSON::Object::Ptr item = array->getObject(i);
    if (!item) return Status::InvalidConfig(where + ": must be an object");
    MemoryCrm::User user;
    const std::optional<std::string> id = GetString(item, "id");
    if (!id || id->empty()) return Status::InvalidConfig(where + ".id: required, a string");
    if (!ids.insert(*id).second) return Status::InvalidConfig(where + ".id: '" + *id + "' twice");
    user.id = *id;
    for (const char* key : {"email", "platformId"}) {
      if (item->has(key) && !item->isNull(key) && !item->get(key).isString()) {
        return Status::InvalidConfig(where + "." + key + ": must be a string");
      }
    }
    user.email = GetString(item, "email").value_or("");
    user.platform_id = GetString(item, "platformId").value_or("");
    if (item->has("active")) {
      if (!item->get("active").isBoolean()) {
        return Status::InvalidConfig(where + ".active: must be true or false");
      }
      user.active = item->getValue<bool>("active");
    }
    out->push_back(std::move(user));
  }
  return Status::Ok();
}

}  // namespace

MockCrmAdapter::MockCrmAdapter() : transport_(&crm_, &faults_) {
  crm_.SetChangeListener([this](const std::string& kind, const std::string& action,
                                const std::string& id, const Poco::JSON::Object::Ptr& fields) {
    emitter_.Enqueue(kind, action, id, fields);
  });
}

PluginInfo MockCrmAdapter::Info() const {
  PluginInfo info;
  info.name = kPluginName;
  info.version = kPluginVersion;
  info.description =
      "In-memory CRM speaking the reference CRM REST API, with scripted faults for tests";
  info.capabilities.max_batch_size = 1;
  info.capabilities.lookup_by_reference = true;
  info.capabilities.webhook_registration = true;
  info.capabilities.inbound_webhooks = true;  // the strategy's webhook shape
  return info;
}

Status MockCrmAdapter::Configure(const PluginConfig& config) {
  // Every plugin receives timeout_ms (CRM_TIMEOUT); refuse a malformed one as the
  // SDK's HttpTransport does, though the in-memory CRM never waits on it.
  int64_t timeout_ms = 0;
  bool timeout_present = false;
  if (!config.GetInt("timeout_ms", &timeout_ms, &timeout_present) && timeout_present) {
    return Status::InvalidConfig("timeout_ms: must be a whole number > 0, got '" +
                                 config.Get("timeout_ms") + "'");
  }
  if (timeout_present && timeout_ms <= 0) {
    return Status::InvalidConfig("timeout_ms: must be a whole number > 0");
  }
  int64_t page_size = 100;
  bool page_size_present = false;
  if ((!config.GetInt(kRecordsPageSizeKey, &page_size, &page_size_present) &&
       page_size_present) ||
      page_size < 1 || page_size > 1000) {
    return Status::InvalidConfig(std::string(kRecordsPageSizeKey) +
                                 ": must be a whole number from 1 to 1000, got '" +
                                 config.Get(kRecordsPageSizeKey) + "'");
  }
  Status status = faults_.Configure(config);
  if (!status.ok()) return status;
  status = emitter_.Configure(config);
  if (!status.ok()) return status;
  std::string state_file = config.Get(kStateFileKey);
  if (!state_file.empty()) {
    const std::string config_dir = config.Get("config_dir");
    if (state_file[0] != '/' && !config_dir.empty()) state_file = config_dir + "/" + state_file;
    status = crm_.OpenJournal(kStateFileKey, state_file);
    if (!status.ok()) return status;
  }
  mapper_.SetRecordsPageSize(page_size);
  mapper_.SetCredentials(config.Get("api_key"), config.Get("api_secret"));
  const std::string users_text = config.Get(kUsersKey);
  if (!users_text.empty()) {
    std::vector<MemoryCrm::User> users;
    status = ParseUsers(users_text, &users);
    if (!status.ok()) return status;
    crm_.SetUsers(std::move(users));
  }
  return Status::Ok();
}

Status MockCrmAdapter::ListUsers(std::vector<CrmUser>* users) {
  users->clear();
  HttpRequest request;
  mapper_.BuildUserList(&request);
  const HttpResponse response = transport_.Send(request);
  if (response.error != TransportError::kNone || response.status < 200 ||
      response.status > 299) {
    Status status = DefaultClassify(response);
    return status.ok() ? Status::Permanent("mock-crm: unexpected user list answer") : status;
  }
  return mapper_.ReadUserList(response, users);
}

namespace {

// The classified outcome of an answer that is not a 2xx, prefixed with `what`.
Status ErrorAnswer(const std::string& what, const HttpResponse& response) {
  const Status status = DefaultClassify(response);
  if (status.ok()) {
    return Status::Retryable(what + ": the CRM answered " + std::to_string(response.status));
  }
  return Status(status.code(), what + ": " + status.message());
}

bool IsSuccess(const HttpResponse& response) {
  return response.error == TransportError::kNone && response.status >= 200 &&
         response.status <= 299;
}

}  // namespace

Status MockCrmAdapter::ListRecords(const RecordListRequest& request, RecordListPage* page) {
  HttpRequest http;
  mapper_.BuildRecordList(request.entity_kind, request.cursor, &http);
  const HttpResponse response = transport_.Send(http);
  if (!IsSuccess(response)) {
    const Status status = ErrorAnswer("mock-crm: record list", response);
    // No record is in question: a 404 (only a fault script gives one) is never
    // "cannot list", a 400 (a cursor the CRM never gave) no invalid record.
    if (status.code() == StatusCode::kNotFound || status.code() == StatusCode::kInvalidRecord ||
        status.code() == StatusCode::kConflict) {
      return Status::Permanent(status.message());
    }
    return status;
  }
  return mapper_.ReadRecordList(request.entity_kind, response, page);
}

Status MockCrmAdapter::ReadRecord(EntityKind kind, const std::string& external_id,
                                  CrmRecord* record) {
  HttpRequest http;
  mapper_.BuildRecordRead(kind, external_id, &http);
  const HttpResponse response = transport_.Send(http);
  if (!IsSuccess(response)) return ErrorAnswer("mock-crm: record read", response);
  return mapper_.ReadRecordAnswer(kind, response, record);
}

std::string MockCrmAdapter::Dump() {
  Poco::JSON::Object::Ptr extra = NewObject();
  extra->set("webhooksSent", emitter_.Results());
  extra->set("webhooksPending", emitter_.Pending());
  return crm_.Dump(extra);
}

}  // namespace crmsync::mockcrm

CRMSYNC_PLUGIN(crmsync::mockcrm::MockCrmAdapter, "mock-crm", "1.0.0")
