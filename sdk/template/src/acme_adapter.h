// acme_adapter.h: the acme-crm plugin: AcmeMapper (mapping) plus the SDK's
// HttpTransport (transport) with Bearer auth from api_key; classification is
// the SDK's default outcome table.
//
// Settings (crmsync passes them to Configure(); see the SDK README):
//   api_url   CRM_API_URL, the Acme base URL (https://, or http:// to loopback)
//   api_key   CRM_API_KEY, sent as "Authorization: Bearer <api_key>"; required
//   timeout_ms, allow_insecure_http, ca_file   read by HttpTransportOptionsFromConfig
//
// Thread-safety: Configure() once, from one thread; everything else from any
// thread (the mapper is stateless, HttpTransport is thread-safe).
#ifndef ACME_CRM_ACME_ADAPTER_H_
#define ACME_CRM_ACME_ADAPTER_H_

#include <memory>

#include "acme_mapper.h"
#include "crmsync/adapter.h"
#include "crmsync/http_transport.h"

namespace acme {

/// The plugin's name (crm.plugin = acme-crm) and version.
constexpr char kPluginName[] = "acme-crm";
constexpr char kPluginVersion[] = "0.1.0";

class AcmeAdapter final : public crmsync::Adapter {
 public:
  AcmeAdapter() = default;

  crmsync::PluginInfo Info() const override;
  /// kInvalidConfig naming the key when api_key is missing or the transport
  /// settings are wrong.
  crmsync::Status Configure(const crmsync::PluginConfig& config) override;
  crmsync::Mapper& mapping() override { return mapper_; }
  crmsync::Transport& transport() override;

 private:
  AcmeMapper mapper_;
  std::unique_ptr<crmsync::HttpTransport> transport_;
};

}  // namespace acme

#endif  // ACME_CRM_ACME_ADAPTER_H_
