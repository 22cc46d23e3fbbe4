// The mock-crm adapter and the plugin's entry points; see mock_crm_adapter.h.
#include "mock_crm_adapter.h"

#include "crmsync/plugin.h"
#include "json_util.h"

namespace crmsync::mockcrm {

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
  mapper_.SetCredentials(config.Get("api_key"), config.Get("api_secret"));
  return Status::Ok();
}

std::string MockCrmAdapter::Dump() {
  Poco::JSON::Object::Ptr extra = NewObject();
  extra->set("webhooksSent", emitter_.Results());
  extra->set("webhooksPending", emitter_.Pending());
  return crm_.Dump(extra);
}

}  // namespace crmsync::mockcrm

CRMSYNC_PLUGIN(crmsync::mockcrm::MockCrmAdapter, "mock-crm", "1.0.0")
