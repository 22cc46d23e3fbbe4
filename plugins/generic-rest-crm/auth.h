// auth.h: how generic-rest-crm authenticates its requests (mapping-format.md,
// "Auth"): apiKey headers, a bearer token, an HMAC-SHA256 signature, or an API
// token in the query string (apiKeyQuery). OAuth 2.0 is in oauth.h.
//
// Secrets come only from PluginConfig (api_key = CRM_API_KEY, api_secret =
// CRM_API_SECRET) and reach templates as {{secret.apiKey}} / {{secret.apiSecret}};
// no message built here ever contains one. apiKey and bearer headers do not
// change per request, so they become the transport's default headers (with the
// mapping's own `headers`); an HMAC signature covers each request and is added
// by SigningTransport (signing_transport.h) just before sending.
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_AUTH_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_AUTH_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "crmsync/http.h"
#include "crmsync/status.h"
#include "mapping_file.h"

namespace crmsync::genericrest {

/// The credentials a mapping may refer to.
struct Secrets {
  std::string api_key;     ///< PluginConfig "api_key" (CRM_API_KEY).
  std::string api_secret;  ///< PluginConfig "api_secret" (CRM_API_SECRET).
};

/// The headers sent on every request: the mapping's `headers`, then the apiKey
/// headers or the bearer Authorization header. kInvalidConfig naming the setting
/// (never its value) when a secret the mapping uses is not set.
Status StaticHeaders(const Mapping& mapping, const Secrets& secrets, HeaderList* out);

/// The apiKeyQuery pairs of `auth`, rendered. kInvalidConfig naming the
/// setting (never its value) when a secret they use is not set or a value
/// renders empty.
Status QueryCredentials(const AuthSpec& auth, const Secrets& secrets,
                        std::vector<std::pair<std::string, std::string>>* out);

/// HMAC-SHA256 of `data` with `key`, as lower-case "hex" or "base64".
std::string HmacSha256(const std::string& key, const std::string& data,
                       const std::string& encoding);

/// Adds the HMAC headers of `auth` (type hmac) to `request`: the timestamp
/// header (when configured) with `now_unix_s`, and the signature of the payload
/// template over method, path, timestamp and body. `wire_path` is the path the
/// CRM sees (the base URL's path prefix + request->path, query included).
void SignRequest(const AuthSpec& auth, const Secrets& secrets, int64_t now_unix_s,
                 const std::string& wire_path, HttpRequest* request);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_AUTH_H_
