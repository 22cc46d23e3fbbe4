// The generic-rest-crm adapter and the plugin's entry points; see
// generic_rest_adapter.h.
#include "generic_rest_adapter.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <utility>
#include <vector>

#include "auth.h"
#include "classify_rules.h"
#include "inbound_read.h"
#include "crmsync/classify.h"
#include "crmsync/http_transport.h"
#include "crmsync/plugin.h"
#include "json_util.h"
#include "lookup.h"
#include "oauth.h"
#include "oauth_transport.h"
#include "pagination.h"
#include "records.h"
#include "users.h"

namespace crmsync::genericrest {
namespace {

// Answers every request with a connect error: the transport before Configure().
class UnconfiguredTransport final : public Transport {
 public:
  HttpResponse Send(const HttpRequest&) override {
    HttpResponse response;
    response.error = TransportError::kConnect;
    response.error_message = "generic-rest-crm is not configured";
    return response;
  }
};

int64_t NowMs() {
  return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
}

}  // namespace

Status ConfigureWebhookSecrets(const PluginConfig& config, WebhookVerifier* verifier) {
  verifier->secrets.clear();
  // Every accepted secret, newest first (the engine joins them with "\n").
  std::istringstream lines(config.Get("webhook_secrets"));
  std::string secret;
  while (std::getline(lines, secret, '\n')) {
    if (!secret.empty()) verifier->secrets.push_back(secret);
  }
  if (verifier->secrets.empty() && !config.Get("webhook_secret").empty()) {
    verifier->secrets.push_back(config.Get("webhook_secret"));
  }
  const std::string scheme = WebhookSchemeName(verifier->scheme);
  if (verifier->secrets.empty()) {
    return Status::NotFound(
        "the mapping's webhooks.verify selects the " + scheme +
        " scheme, but no webhook secret is configured (CRM_WEBHOOK_SECRET, "
        "crm.webhook.secret): every webhook is refused");
  }
  // The SDK's checker names the problem, never the secret.
  const std::string problem = CheckWebhookVerifier(*verifier);
  if (!problem.empty()) {
    return Status::InvalidConfig("webhook secret (CRM_WEBHOOK_SECRET, crm.webhook.secret, "
                                 "webhook.secrets) for the " + scheme + " scheme: " + problem);
  }
  return Status::Ok();
}

Status CheckLookupSamples(const Mapping& mapping, std::vector<std::string>* warnings) {
  for (EntityKind kind : {EntityKind::kLead, EntityKind::kProperty}) {
    const EntityMapping* entity = mapping.Entity(kind);
    const Operation* op = entity ? entity->Find("lookup") : nullptr;
    if (op == nullptr) continue;
    const std::string where =
        std::string("/entities/") + EntityKindName(kind) + "/operations/lookup";
    if (!op->sample_answer) {
      warnings->push_back(
          std::string(EntityKindName(kind)) + ".lookup (" + where +
          ") has never been checked against a real answer: add one the CRM gave as "
          "\"sampleAnswer\" (its resultsPointer and idPointer are read from it when the "
          "mapping loads). Until then an answer in another shape is an unknown outcome: "
          "retried, then dead-lettered, never read as \"not found\"");
      continue;
    }
    HttpResponse sample;
    sample.status = 200;
    sample.body = ToJson(*op->sample_answer);
    std::optional<std::string> id;
    Status read = ReadLookupAnswer(*op, sample, &id);
    if (!read.ok()) return Status::InvalidConfig(where + "/sampleAnswer: " + read.message());
    if (!id) {
      return Status::InvalidConfig(where +
                                   "/sampleAnswer: reads as \"not found\"; give an answer "
                                   "that finds a record");
    }
  }
  return Status::Ok();
}

Capabilities CapabilitiesOf(const Mapping& mapping) {
  Capabilities capabilities;
  const EntityMapping* lead = mapping.Entity(EntityKind::kLead);
  capabilities.lookup_by_reference = lead != nullptr && lead->Find("lookup") != nullptr;
  int smallest = 0;
  if (lead != nullptr) {
    for (const char* name : {"batchCreate", "batchUpdate"}) {
      const Operation* op = lead->Find(name);
      if (op != nullptr && (smallest == 0 || op->max_size < smallest)) smallest = op->max_size;
    }
  }
  capabilities.max_batch_size = smallest > 0 ? static_cast<uint32_t>(smallest) : 1;
  capabilities.webhook_registration = mapping.webhooks && mapping.webhooks->register_op;
  capabilities.inbound_webhooks = mapping.webhooks && !mapping.webhooks->events.empty();
  capabilities.change_polling = !mapping.poll.empty();
  return capabilities;
}

GenericRestAdapter::GenericRestAdapter() : unconfigured_(new UnconfiguredTransport()) {}

GenericRestAdapter::~GenericRestAdapter() = default;

PluginInfo GenericRestAdapter::Info() const {
  PluginInfo info;
  info.name = kPluginName;
  info.version = kPluginVersion;
  info.description = "Any REST CRM, described by a JSON mapping file";
  if (mapping_) {
    info.description += " (mapping '" + mapping_->name + "')";
    info.capabilities = CapabilitiesOf(*mapping_);
    // Without a secret every webhook is refused: webhooks are not a way in.
    if (verifier_ && verifier_->secrets.empty()) info.capabilities.inbound_webhooks = false;
  }
  return info;
}

Status GenericRestAdapter::Configure(const PluginConfig& config) {
  std::string file = config.Get("mapping");
  if (file.empty()) {
    return Status::InvalidConfig(
        "mapping: required: the path of the generic-rest-crm mapping file (crm.mapping)");
  }
  const std::string config_dir = config.Get("config_dir");
  if (file[0] != '/' && !config_dir.empty()) file = config_dir + "/" + file;
  if (config.Get("api_url").empty()) {
    return Status::InvalidConfig(
        "api_url: required: the CRM's base URL (CRM_API_URL, crm.api.url)");
  }
  auto mapping = std::make_shared<Mapping>();
  std::vector<std::string> errors;
  if (!LoadMappingFile(file, mapping.get(), &errors)) {
    // One problem per line (crmsync/adapter.h): the engine lists and counts them.
    std::string message;
    for (size_t i = 0; i < errors.size(); ++i) {
      message += (i == 0 ? "" : "\n") + ("mapping: " + errors[i]);
    }
    return Status::InvalidConfig(message);
  }
  Status token_url = ApplyTokenUrl(config.Get("token_url"), mapping.get());
  if (!token_url.ok()) return token_url;
  std::vector<std::string> warnings;
  Status checked = CheckLookupSamples(*mapping, &warnings);
  if (!checked.ok()) return Status::InvalidConfig("mapping: " + checked.message());
  std::optional<WebhookVerifier> verifier;
  if (mapping->webhooks && mapping->webhooks->verify) {
    verifier = *mapping->webhooks->verify;
    Status secrets = ConfigureWebhookSecrets(config, &*verifier);
    if (secrets.code() == StatusCode::kNotFound) {
      // A deployment that syncs only outbound needs no webhook secret; without
      // one nothing unverified is ever accepted, and the CRM's changes come
      // back by polling when the mapping can poll (inbound.poll=auto).
      warnings.push_back(secrets.message() +
                         (mapping->poll.empty()
                              ? std::string("; CRM changes do not come back")
                              : std::string("; with inbound.poll=auto the engine polls instead")));
    } else if (!secrets.ok()) {
      return secrets;
    }
  }
  Secrets secrets;
  secrets.api_key = config.Get("api_key");
  secrets.api_secret = config.Get("api_secret");
  HttpTransportOptions options;
  Status status = HttpTransportOptionsFromConfig(config, &options);
  if (!status.ok()) return status;
  HeaderList headers;
  status = StaticHeaders(*mapping, secrets, &headers);
  if (!status.ok()) return status;
  options.default_headers.insert(options.default_headers.end(), headers.begin(), headers.end());
  std::unique_ptr<HttpTransport> http;
  status = HttpTransport::Create(options, &http);
  if (!status.ok()) return status;
  std::unique_ptr<Transport> authenticated;
  status = WrapAuthTransport(*mapping, secrets, config.Get("refresh_token"), options, host_,
                             std::move(http), &authenticated);
  if (!status.ok()) return status;
  transport_ = std::make_unique<PagingTransport>(std::move(authenticated), mapping,
                                                 options.base_url);
  base_url_ = options.base_url;
  mapping_ = mapping;
  warnings_ = warnings;
  verifier_ = verifier;
  mapper_.SetMapping(mapping);
  return Status::Ok();
}

Transport& GenericRestAdapter::transport() { return transport_ ? *transport_ : *unconfigured_; }

void GenericRestAdapter::Attach(PluginHost* host) { host_ = host; }

Status GenericRestAdapter::Classify(const HttpRequest&, const HttpResponse& response) {
  // A token endpoint failure (oauth2): no CRM answered, the rules do not apply.
  if (std::optional<Status> token = TokenFailureStatus(response, NowMs())) return *token;
  if (!mapping_) return DefaultClassify(response);
  return ClassifyWithRules(mapping_->classify, response, NowMs());
}

std::string GenericRestAdapter::Dump() {
  JsonObject dump = NewObject();
  if (mapping_) {
    dump->set("mapping", mapping_->name);
    dump->set("file", mapping_->file);
  }
  JsonArray warnings = NewArray();
  for (const std::string& warning : warnings_) warnings->add(warning);
  dump->set("warnings", warnings);
  if (mapping_ && !mapping_->rate_limit.empty()) {
    // Read by the engine before its default budget headers.
    JsonArray sets = NewArray();
    for (const RateLimitHeaders& set : mapping_->rate_limit) {
      Var parsed;
      std::string error;
      if (ParseJson(RateLimitHeadersJson(set), &parsed, &error)) sets->add(parsed);
    }
    dump->set("rateLimitHeaders", sets);
  }
  return ToJson(Var(dump));
}

Status GenericRestAdapter::ListUsers(std::vector<CrmUser>* users) {
  if (!mapping_ || !transport_) return Status::NotFound("generic-rest-crm is not configured");
  // The inner transport: the users list walks its own pages.
  Transport& inner = static_cast<PagingTransport&>(*transport_).inner();
  return ListUsersOver(*mapping_, inner, base_url_, NowMs(),
                       // Classify(): a token endpoint failure reads as such.
                       [this](const HttpResponse& response) {
                         return Classify(HttpRequest(), response);
                       },
                       users);
}

Status GenericRestAdapter::VerifyWebhook(const WebhookDelivery& delivery) {
  if (!verifier_) return Status::NotFound("the mapping has no webhooks.verify");
  if (verifier_->secrets.empty()) {
    return Status::Unauthenticated(std::string("missing: no webhook secret is configured for the ") +
                                   WebhookSchemeName(verifier_->scheme) + " scheme");
  }
  return VerifyWebhookWith(*verifier_, delivery);
}

Status GenericRestAdapter::FetchChange(InboundChange* change) {
  if (!mapping_ || !transport_) return Status::Permanent("generic-rest-crm is not configured");
  // The inner transport: a fetch is no paged lookup.
  Transport& inner = static_cast<PagingTransport&>(*transport_).inner();
  return FetchChangeOver(*mapping_, inner, NowMs(),
                         [this](const HttpResponse& response) {
                           return Classify(HttpRequest(), response);
                         },
                         change);
}

Status GenericRestAdapter::PollChanges(const PollRequest& request, PollPage* page) {
  if (!mapping_ || !transport_) return Status::NotFound("generic-rest-crm is not configured");
  // The inner transport: the poll walks its own pages, one per call.
  Transport& inner = static_cast<PagingTransport&>(*transport_).inner();
  return PollChangesOver(*mapping_, inner, base_url_,
                         [this](const HttpResponse& response) {
                           return Classify(HttpRequest(), response);
                         },
                         request, page);
}

Status GenericRestAdapter::ListRecords(const RecordListRequest& request, RecordListPage* page) {
  if (!mapping_ || !transport_) return Status::NotFound("generic-rest-crm is not configured");
  // The inner transport: the list walks its own pages, one per call.
  Transport& inner = static_cast<PagingTransport&>(*transport_).inner();
  return ListRecordsOver(*mapping_, inner, base_url_, NowMs(),
                         [this](const HttpResponse& response) {
                           return Classify(HttpRequest(), response);
                         },
                         request, page);
}

Status GenericRestAdapter::ReadRecord(EntityKind kind, const std::string& external_id,
                                      CrmRecord* record) {
  if (!mapping_ || !transport_) return Status::Permanent("generic-rest-crm is not configured");
  Transport& inner = static_cast<PagingTransport&>(*transport_).inner();
  return ReadRecordOver(*mapping_, inner, NowMs(),
                        [this](const HttpResponse& response) {
                          return Classify(HttpRequest(), response);
                        },
                        kind, external_id, record);
}

}  // namespace crmsync::genericrest


CRMSYNC_PLUGIN(crmsync::genericrest::GenericRestAdapter, "generic-rest-crm", "1.0.0")
