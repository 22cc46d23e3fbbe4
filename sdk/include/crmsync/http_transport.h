// crmsync/http_transport.h: the SDK's default HTTP(S) transport, built on Poco.
//
// Keeps a pool of keep-alive connections to one CRM base URL; connect and read
// timeouts; HTTPS with certificate and host name verification against the
// system CA store (plus an optional CA file). Plain http:// is refused unless the
// host is loopback or allow_insecure_http is set. Thread-safe: Send() may be
// called from many threads; each call borrows its own connection.
#ifndef CRMSYNC_HTTP_TRANSPORT_H_
#define CRMSYNC_HTTP_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "crmsync/adapter.h"
#include "crmsync/http.h"
#include "crmsync/plugin_config.h"
#include "crmsync/prepare.h"
#include "crmsync/status.h"

namespace crmsync {

struct HttpTransportOptions {
  /// "https://crm.example.com" or "http://127.0.0.1:9000/base"; a path prefix is
  /// prepended to every request's path.
  std::string base_url;
  int64_t connect_timeout_ms = 5000;
  /// Timeout for each read or write once connected (CRM_TIMEOUT).
  int64_t timeout_ms = 30000;
  /// Accept http:// to a host that is not loopback.
  bool allow_insecure_http = false;
  /// PEM file of extra trusted CAs; the system store is always used too.
  std::string ca_file;
  /// Most idle connections kept for reuse.
  int max_idle_connections = 16;
  /// Headers added to every request (credentials, user agent).
  HeaderList default_headers;
};

/// Fills `options` from the well-known PluginConfig keys (api_url, timeout_ms,
/// allow_insecure_http, ca_file). kInvalidConfig naming the key when one is bad.
Status HttpTransportOptionsFromConfig(const PluginConfig& config, HttpTransportOptions* options);

class HttpTransport final : public Transport, public PreparingTransport {
 public:
  /// Checks the options (URL scheme and host, the insecure-HTTP rule, the CA
  /// file) and builds a transport. kInvalidConfig with the reason on error.
  static Status Create(const HttpTransportOptions& options, std::unique_ptr<HttpTransport>* out);
  ~HttpTransport() override;

  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  /// Sends one request over a pooled connection; never throws. A connection that
  /// the server closed while idle is retried once on a fresh one when nothing of
  /// the request was sent.
  HttpResponse Send(const HttpRequest& request) override;

  /// The request as Send() would write it (crmsync/prepare.h): the base URL,
  /// the default headers, Host, Content-Type and Content-Length, built by the
  /// same code as Send(). Opens no connection. kPermanent for a request Send()
  /// would refuse (a bad method, header or path). Since ABI 2.3.
  Status Prepare(const HttpRequest& request, WireRequest* out) override;

  /// Connections opened so far (for tests of keep-alive reuse).
  int64_t connections_opened() const;

 private:
  struct Impl;
  explicit HttpTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crmsync

#endif  // CRMSYNC_HTTP_TRANSPORT_H_
