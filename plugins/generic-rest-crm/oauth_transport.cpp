// The token auth transports of generic-rest-crm; see oauth_transport.h.
#include "oauth_transport.h"

#include <utility>

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "crmsync/redact.h"
#include "signing_transport.h"

namespace crmsync::genericrest {
namespace {

// The base URL's path, without a trailing '/', as HttpTransport prepends it.
std::string PathPrefix(const std::string& url) {
  try {
    std::string path = Poco::URI(url).getPath();
    while (!path.empty() && path.back() == '/') path.pop_back();
    return path;
  } catch (const Poco::Exception&) {
    return "";
  }
}

// The token endpoint's transport: the CRM transport's options for tokenUrl's
// origin. `*path` is tokenUrl's path and query.
Status TokenEndpoint(const OAuth2Spec& spec, const HttpTransportOptions& crm,
                     std::unique_ptr<Transport>* out, std::string* path) {
  const std::string& where = spec.token_url_from;
  HttpTransportOptions options;
  options.connect_timeout_ms = crm.connect_timeout_ms;
  options.timeout_ms = crm.timeout_ms;
  options.allow_insecure_http = crm.allow_insecure_http;
  options.ca_file = crm.ca_file;
  options.max_idle_connections = 2;
  try {
    const Poco::URI uri(spec.token_url);
    if (!uri.getUserInfo().empty()) {
      return Status::InvalidConfig(where +
                                   ": must not hold credentials (use api_key / api_secret)");
    }
    options.base_url = uri.getScheme() + "://" + uri.getAuthority();
    *path = uri.getPathEtc();
    if (path->empty()) *path = "/";
  } catch (const Poco::Exception&) {
    return Status::InvalidConfig(where + ": not a valid URL");
  }
  std::unique_ptr<HttpTransport> http;
  Status status = HttpTransport::Create(options, &http);
  if (!status.ok()) {
    std::string reason = status.message();
    const std::string api_url = "api_url: ";
    if (reason.rfind(api_url, 0) == 0) reason = reason.substr(api_url.size());
    return Status::InvalidConfig(where + ": " + reason);
  }
  *out = std::move(http);
  return Status::Ok();
}

// A refusal that echoes a credential (a CRM quoting the URL it refused) must
// not carry it into dead letters and logs: the engine cannot know an access
// token, and a query parameter's name may not look secret.
void Scrub(const std::vector<std::string>& secrets, HttpResponse* response) {
  if (response->status >= 200 && response->status < 300) return;
  response->body = MaskSecrets(std::move(response->body), secrets);
  response->error_message = MaskSecrets(std::move(response->error_message), secrets);
}

}  // namespace

std::string AppendQuery(const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& query) {
  std::string out = path;
  const size_t hash = out.find('#');
  if (hash != std::string::npos) out.erase(hash);
  bool has_query = out.find('?') != std::string::npos;
  for (const auto& [name, value] : query) {
    if (!has_query) {
      out += '?';
      has_query = true;
    } else if (out.back() != '?' && out.back() != '&') {
      out += '&';
    }
    out += PercentEncode(name, false) + "=" + PercentEncode(value, false);
  }
  return out;
}

OAuthTransport::OAuthTransport(std::unique_ptr<Transport> inner,
                               std::shared_ptr<TokenSource> tokens, OAuth2Spec spec)
    : inner_(std::move(inner)), tokens_(std::move(tokens)), spec_(std::move(spec)) {}

HttpRequest OAuthTransport::WithToken(const HttpRequest& request, const std::string& token) const {
  HttpRequest out = request;
  out.headers.emplace_back(spec_.header, spec_.prefix.empty() ? token : spec_.prefix + " " + token);
  return out;
}

HttpResponse OAuthTransport::Send(const HttpRequest& request) {
  std::string token;
  HttpResponse failure;
  if (!tokens_->Get(&token, &failure)) return failure;
  HttpResponse response = inner_->Send(WithToken(request, token));
  Scrub({token}, &response);
  if (response.status != 401) return response;
  // The token may have been revoked or expired early: one renewal, one resend.
  std::string renewed;
  if (!tokens_->Renew(token, &renewed, &failure)) return failure;
  response = inner_->Send(WithToken(request, renewed));
  Scrub({renewed}, &response);
  return response;
}

Status OAuthTransport::Prepare(const HttpRequest& request, WireRequest* out) {
  PreparingTransport* inner = AsPreparing(inner_.get());
  if (inner == nullptr) return Status::Permanent("the inner transport cannot prepare requests");
  return inner->Prepare(WithToken(request, kMaskedToken), out);
}

QueryKeyTransport::QueryKeyTransport(std::unique_ptr<Transport> inner,
                                     std::vector<std::pair<std::string, std::string>> query)
    : inner_(std::move(inner)), query_(std::move(query)) {}

HttpResponse QueryKeyTransport::Send(const HttpRequest& request) {
  HttpRequest keyed = request;
  keyed.path = AppendQuery(request.path, query_);
  HttpResponse response = inner_->Send(keyed);
  std::vector<std::string> secrets;
  for (const auto& param : query_) {
    secrets.push_back(PercentEncode(param.second, false));
    secrets.push_back(param.second);
  }
  Scrub(secrets, &response);
  return response;
}

Status QueryKeyTransport::Prepare(const HttpRequest& request, WireRequest* out) {
  PreparingTransport* inner = AsPreparing(inner_.get());
  if (inner == nullptr) return Status::Permanent("the inner transport cannot prepare requests");
  std::vector<std::pair<std::string, std::string>> shown;
  for (const auto& param : query_) shown.emplace_back(param.first, "TOKEN");
  HttpRequest keyed = request;
  keyed.path = AppendQuery(request.path, shown);
  Status status = inner->Prepare(keyed, out);
  if (!status.ok()) return status;
  // "[token]" itself would be percent-encoded on the way; put it in after.
  for (size_t at = out->url.find("=TOKEN"); at != std::string::npos;
       at = out->url.find("=TOKEN", at + 1)) {
    out->url.replace(at + 1, 5, kMaskedToken);
  }
  return Status::Ok();
}

Status WrapAuthTransport(const Mapping& mapping, const Secrets& secrets,
                         const std::string& refresh_token, const HttpTransportOptions& options,
                         PluginHost* host, std::unique_ptr<HttpTransport> http,
                         std::unique_ptr<Transport>* out, std::function<int64_t()> now_unix_ms) {
  const AuthSpec& auth = mapping.auth;
  if (auth.type == AuthSpec::Type::kApiKeyQuery) {
    std::vector<std::pair<std::string, std::string>> query;
    Status status = QueryCredentials(auth, secrets, &query);
    if (!status.ok()) return status;
    *out = std::make_unique<QueryKeyTransport>(std::move(http), std::move(query));
    return Status::Ok();
  }
  if (auth.type == AuthSpec::Type::kOAuth2) {
    OAuth2Credentials credentials;
    credentials.client_id = secrets.api_key;
    credentials.client_secret = secrets.api_secret;
    credentials.refresh_token = refresh_token;
    Status status = CheckOAuth2Credentials(auth.oauth2, credentials);
    if (!status.ok()) return status;
    std::unique_ptr<Transport> endpoint;
    std::string token_path;
    status = TokenEndpoint(auth.oauth2, options, &endpoint, &token_path);
    if (!status.ok()) return status;
    auto tokens = std::make_shared<TokenSource>(auth.oauth2, credentials, std::move(endpoint),
                                                token_path, host, std::move(now_unix_ms));
    status = tokens->Load();
    if (!status.ok()) return status;
    *out = std::make_unique<OAuthTransport>(std::move(http), std::move(tokens), auth.oauth2);
    return Status::Ok();
  }
  *out = std::make_unique<SigningTransport>(std::move(http), auth, secrets,
                                            PathPrefix(options.base_url));
  return Status::Ok();
}

}  // namespace crmsync::genericrest
