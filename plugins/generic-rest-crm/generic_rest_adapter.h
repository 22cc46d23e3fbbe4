// generic_rest_adapter.h: the generic-rest-crm plugin's adapter: any REST CRM,
// described by a JSON mapping file (docs/mapping-format.md).
//
// Configure() needs `mapping` (crm.mapping, already resolved against the config
// folder) and `api_url` (CRM_API_URL); it loads and checks the whole mapping
// file, refusing to start with every problem listed, then builds the SDK's
// HttpTransport (HttpTransportOptionsFromConfig: https or loopback, CA file,
// timeouts) with the mapping's static headers and credentials, wrapped as the
// auth type needs (WrapAuthTransport: HMAC signing, a query-string API token,
// OAuth 2.0 tokens), wrapped in a PagingTransport that walks paged lookups
// (pagination.h). Secrets (api_key, api_secret, refresh_token) are read from
// the PluginConfig only and never appear in a message.
//
// Info() describes the loaded mapping: lookup_by_reference when the lead has a
// lookup operation, max_batch_size the smallest maxSize of the lead's batch
// operations (1 without), webhook_registration when webhooks.register exists,
// inbound_webhooks when webhooks.events lists an event, change_polling when
// the mapping has a poll section.
//
// With webhooks.verify, Configure() takes the webhook secrets from the plugin
// config (webhook_secrets, newline-separated, else webhook_secret) and
// VerifyWebhook() checks every delivery with that scheme; FetchChange() and
// PollChanges() read the CRM through the plugin's transport (inbound_read.h).
// Classify() tries the mapping's classify rules, then DefaultClassify().
//
// It is a RecordReader too (crmsync/records.h): ListRecords() and
// ReadRecord() read the CRM's records back through the mapping's `records`
// section (records.h), for `crmsync reconcile`.
//
// Thread-safety: as for every Adapter (crmsync/adapter.h): Configure() once,
// then everything else from any thread; all state is read-only after
// Configure() and the transport is thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_GENERIC_REST_ADAPTER_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_GENERIC_REST_ADAPTER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "crmsync/records.h"
#include "crmsync/webhook_verify.h"
#include "generic_rest_mapper.h"
#include "mapping_file.h"

namespace crmsync::genericrest {

/// The plugin's name and version, as in its descriptor.
constexpr char kPluginName[] = "generic-rest-crm";
constexpr char kPluginVersion[] = "1.0.0";

/// The capabilities a mapping gives the plugin (see the file comment).
Capabilities CapabilitiesOf(const Mapping& mapping);

/// Reads each lookup's sampleAnswer as the mapping describes it: kInvalidConfig
/// naming the operation when it does not fit (or reads as "not found"); a
/// warning in `warnings` for each lookup that has no sample.
Status CheckLookupSamples(const Mapping& mapping, std::vector<std::string>* warnings);

/// Fills verifier->secrets from the plugin config: webhook_secrets (every
/// accepted secret, newline-separated, newest first), else webhook_secret.
/// kNotFound naming CRM_WEBHOOK_SECRET (crm.webhook.secret) when there is
/// none (Configure() then refuses every webhook and warns); kInvalidConfig
/// when one does not fit the scheme (basic needs user:password). Never quotes
/// a secret.
Status ConfigureWebhookSecrets(const PluginConfig& config, WebhookVerifier* verifier);

class GenericRestAdapter : public Adapter, public RecordReader {
 public:
  GenericRestAdapter();
  ~GenericRestAdapter() override;

  /// Name, version, and the loaded mapping's capabilities (before Configure():
  /// no lookup, no batching, no webhook registration).
  PluginInfo Info() const override;

  /// Loads the mapping and builds the transport. kInvalidConfig "mapping: ..." or
  /// "api_url: ..." when missing; every mapping-file error joined with "; ";
  /// the transport's own reason (URL scheme, insecure HTTP, CA file, timeout).
  Status Configure(const PluginConfig& config) override;

  /// Keeps `host` for the oauth2 refresh token (oauth.h); may be null.
  void Attach(PluginHost* host) override;

  Mapper& mapping() override { return mapper_; }
  Transport& transport() override;

  /// A token endpoint failure as TokenFailureStatus() reads it; else the
  /// mapping's classify rules, then DefaultClassify().
  Status Classify(const HttpRequest& request, const HttpResponse& response) override;

  /// {"mapping": name, "file": path, "warnings": [...]} of the loaded mapping;
  /// warnings as CheckLookupSamples() gives them, which check-config and
  /// plugin-check show; "rateLimitHeaders": [...] when the mapping names its
  /// CRM's budget headers (rateLimit), which the engine reads.
  std::string Dump() override;

  /// Every user the mapping's `users` list gives (users.h), every page;
  /// kNotFound when the mapping has none.
  Status ListUsers(std::vector<CrmUser>* users) override;

  /// webhooks.verify's scheme over the configured secrets
  /// (crmsync/webhook_verify.h), its Status as is; kNotFound without
  /// webhooks.verify, so the engine's own schemes apply.
  Status VerifyWebhook(const WebhookDelivery& delivery) override;

  /// Reads the notified record with the entity's `fetch` (inbound_read.h).
  Status FetchChange(InboundChange* change) override;

  /// One page of the entity's `poll` (inbound_read.h); kNotFound without one.
  Status PollChanges(const PollRequest& request, PollPage* page) override;

  /// One page of records.<entity>.list (records.h); kNotFound without one, so
  /// the engine looks records up by reference instead.
  Status ListRecords(const RecordListRequest& request, RecordListPage* page) override;

  /// One record by its CRM id through records.<entity>.read, else fetch.<entity>
  /// (records.h); kPermanent when the mapping has neither.
  Status ReadRecord(EntityKind kind, const std::string& external_id,
                    CrmRecord* record) override;

 private:
  std::shared_ptr<const Mapping> mapping_;
  std::vector<std::string> warnings_;
  GenericRestMapper mapper_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Transport> unconfigured_;
  std::string base_url_;  ///< crm.api.url, for Link paging.
  /// webhooks.verify with the configured secrets; absent without verify. No
  /// secret configured: every delivery is refused (and inbound_webhooks is
  /// false, so inbound.poll=auto polls when the mapping can).
  std::optional<WebhookVerifier> verifier_;
  PluginHost* host_ = nullptr;
};

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_GENERIC_REST_ADAPTER_H_
