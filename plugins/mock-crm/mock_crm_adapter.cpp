// The mock-crm adapter and the plugin's entry points; see mock_crm_adapter.h.
#include "mock_crm_adapter.h"

#include "crmsync/plugin.h"

namespace crmsync::mockcrm {

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
  Status status = faults_.Configure(config);
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

std::string MockCrmAdapter::Dump() { return crm_.Dump(); }

}  // namespace crmsync::mockcrm

CRMSYNC_PLUGIN(crmsync::mockcrm::MockCrmAdapter, "mock-crm", "1.0.0")
