// oauth_transport.h: the Transports of generic-rest-crm's token auth types
// (mapping-format.md, "Auth"):
//  * OAuthTransport (oauth2) puts the TokenSource's access token on every
//    request; on a 401 from the CRM it renews the token once and sends the
//    request once more, and returns the second answer as it is (a second 401
//    then disables sync in the engine). When no token can be had it sends
//    nothing and returns the token failure answer (oauth.h), which the
//    adapter's Classify() reads with TokenFailureStatus().
//  * QueryKeyTransport (apiKeyQuery) appends the API token to every
//    request's query string, inside the transport, so the paths the engine
//    logs, stores and shows never hold it.
// Neither lets its credential through in a refusal: a non-2xx answer that
// echoes it (a CRM quoting the URL it refused) has it replaced by "[token]".
// Both prepare requests for `crmsync render` (crmsync/prepare.h) with the
// credential replaced by "[token]": Prepare() never calls the token endpoint
// and never puts a real credential in a URL the engine would have to mask.
//
// Thread-safe: the inner transports are, and TokenSource is.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_OAUTH_TRANSPORT_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_OAUTH_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "auth.h"
#include "crmsync/adapter.h"
#include "crmsync/http_transport.h"
#include "crmsync/prepare.h"
#include "mapping_file.h"
#include "oauth.h"

namespace crmsync::genericrest {

class OAuthTransport final : public Transport, public PreparingTransport {
 public:
  OAuthTransport(std::unique_ptr<Transport> inner, std::shared_ptr<TokenSource> tokens,
                 OAuth2Spec spec);

  /// Sends `request` with the access token; see the file comment.
  HttpResponse Send(const HttpRequest& request) override;

  /// The request with "<prefix> [token]" in the token header, as the inner
  /// transport would write it. Calls no token endpoint.
  Status Prepare(const HttpRequest& request, WireRequest* out) override;

  TokenSource& tokens() { return *tokens_; }

 private:
  HttpRequest WithToken(const HttpRequest& request, const std::string& token) const;

  const std::unique_ptr<Transport> inner_;
  const std::shared_ptr<TokenSource> tokens_;
  const OAuth2Spec spec_;
};

class QueryKeyTransport final : public Transport, public PreparingTransport {
 public:
  /// `query` holds the rendered name/value pairs (apiKeyQuery's `query`).
  QueryKeyTransport(std::unique_ptr<Transport> inner,
                    std::vector<std::pair<std::string, std::string>> query);

  HttpResponse Send(const HttpRequest& request) override;

  /// The request with each value shown as "[token]".
  Status Prepare(const HttpRequest& request, WireRequest* out) override;

 private:
  const std::unique_ptr<Transport> inner_;
  const std::vector<std::pair<std::string, std::string>> query_;
};

/// `path` with `query` appended ("?" or "&"), names and values percent-encoded.
std::string AppendQuery(const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& query);

/// The transport `mapping.auth` needs around `http` (the CRM's transport, its
/// static headers already set): an OAuthTransport with a TokenSource over
/// `options`' timeouts, CA file and insecure-HTTP rule for tokenUrl (its saved
/// refresh token loaded from `host`), a QueryKeyTransport, or a
/// SigningTransport (hmac, and every other type, which it passes through).
/// `refresh_token` is the plugin key refresh_token (oauth2 refresh_token
/// grant). kInvalidConfig naming the setting when a credential is missing or
/// tokenUrl is refused; kRetryable when the host cannot read its state.
Status WrapAuthTransport(const Mapping& mapping, const Secrets& secrets,
                         const std::string& refresh_token, const HttpTransportOptions& options,
                         PluginHost* host, std::unique_ptr<HttpTransport> http,
                         std::unique_ptr<Transport>* out,
                         std::function<int64_t()> now_unix_ms = nullptr);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_OAUTH_TRANSPORT_H_
