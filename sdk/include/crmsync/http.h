// crmsync/http.h: one CRM request and its answer, as plain values.
//
// Mapping builds HttpRequest values without any network; a Transport turns one
// into an HttpResponse. No shared state.
#ifndef CRMSYNC_HTTP_H_
#define CRMSYNC_HTTP_H_

#include <string>
#include <utility>
#include <vector>

namespace crmsync {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// Returns the first value of header `name` (case-insensitive), or "" when absent.
std::string FindHeader(const HeaderList& headers, const std::string& name);

/// One request to the CRM. `path` is relative to the CRM's base URL and includes
/// any query string ("/api/v1/leads/42?fields=id").
struct HttpRequest {
  std::string method = "GET";
  std::string path;
  HeaderList headers;
  std::string body;
  std::string content_type = "application/json";
  /// A stable logical name for this call ("lead.create", "lead.deal", ...): used
  /// for metrics labels and mock-crm fault scripts, never sent.
  std::string route;
};

/// Why no HTTP answer came back.
enum class TransportError {
  kNone,     ///< An HTTP answer was received (status() > 0).
  kConnect,  ///< Could not connect (refused, unreachable): nothing reached the CRM.
  kTimeout,  ///< Timed out; if request_sent, the CRM may have acted on it.
  kIo,       ///< Connection broke; if request_sent, the CRM may have acted on it.
  kTls,      ///< TLS handshake or certificate verification failed: nothing sent.
  /// The CRM's host name did not resolve: nothing reached the CRM. Added in
  /// ABI 2.2; before, the SDK's transport reported it as kConnect.
  kDns,
};
const char* TransportErrorName(TransportError error) noexcept;

/// The answer to one HttpRequest.
struct HttpResponse {
  int status = 0;  ///< HTTP status, 0 when error != kNone.
  HeaderList headers;
  std::string body;
  TransportError error = TransportError::kNone;
  std::string error_message;  ///< Short, without secrets or payloads.
  /// True once any byte of the request may have reached the CRM: a create that
  /// fails after this has an unknown outcome and must be looked up, not re-sent.
  bool request_sent = false;
  /// Returns the first value of header `name` (case-insensitive), or "".
  std::string Header(const std::string& name) const { return FindHeader(headers, name); }
};

}  // namespace crmsync

#endif  // CRMSYNC_HTTP_H_
