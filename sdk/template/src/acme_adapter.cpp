// The acme-crm adapter and the plugin's entry points; see acme_adapter.h.
#include "acme_adapter.h"

#include "crmsync/plugin.h"

namespace acme {
namespace {

// Answers every call with a connect error; only used if the engine ever asked
// for the transport before Configure() succeeded (it does not).
class NoTransport final : public crmsync::Transport {
 public:
  crmsync::HttpResponse Send(const crmsync::HttpRequest&) override {
    crmsync::HttpResponse response;
    response.error = crmsync::TransportError::kConnect;
    response.error_message = "acme-crm is not configured";
    return response;
  }
};

}  // namespace

crmsync::PluginInfo AcmeAdapter::Info() const {
  crmsync::PluginInfo info;
  info.name = kPluginName;
  info.version = kPluginVersion;
  info.description = "Acme CRM contacts and listings over its REST API (template adapter)";
  info.capabilities.max_batch_size = 1;
  info.capabilities.lookup_by_reference = true;
  info.capabilities.max_requests_per_second = 10;
  return info;
}

crmsync::Status AcmeAdapter::Configure(const crmsync::PluginConfig& config) {
  const std::string api_key = config.Get("api_key");
  if (api_key.empty()) {
    return crmsync::Status::InvalidConfig("api_key: required (CRM_API_KEY or crm.api.key)");
  }
  crmsync::HttpTransportOptions options;
  crmsync::Status status = crmsync::HttpTransportOptionsFromConfig(config, &options);
  if (!status.ok()) return status;
  options.default_headers.emplace_back("Authorization", "Bearer " + api_key);
  options.default_headers.emplace_back("User-Agent",
                                       std::string("crmsync-acme-crm/") + kPluginVersion);
  return crmsync::HttpTransport::Create(options, &transport_);
}

crmsync::Transport& AcmeAdapter::transport() {
  static NoTransport none;
  if (!transport_) return none;
  return *transport_;
}

}  // namespace acme

CRMSYNC_PLUGIN(acme::AcmeAdapter, "acme-crm", "0.1.0")
