// http/server.h: the engine's HTTP/1.1 server: one epoll I/O thread that owns
// every connection, and a pool of handler threads (docs/http-server.md).
//
// No thread is tied to a connection: the I/O thread reads each request whole
// (head and body, strictly parsed by http_parser.h), hands it to a handler
// thread, and writes the answer the handler (or a deferred completion) posts
// back. Idle keep-alive connections cost a file descriptor and a few hundred
// bytes, not a thread, so thousands of them starve nobody.
//
// Deadlines: a request head must arrive within header_timeout_ms of its first
// byte and the body within body_timeout_ms of the head (else 408 and close);
// an answer must drain within write_timeout_ms. An idle keep-alive connection
// is closed after idle_timeout_ms, or after busy_idle_timeout_ms once more than
// busy_connections are open. At max_connections the oldest idle connection is
// closed for a new one; with none idle, the new one gets 503 and is closed.
// Inline routes (Router::AddInline, /healthz) run on the I/O thread itself.
//
// With options.tls the port speaks HTTPS only: each connection's TLS handshake
// runs non-blocking on the I/O thread (OpenSSL's want-read/want-write become
// the connection's epoll interest) and must finish within header_timeout_ms of
// the accept; a plain HTTP request there gets a plain 400 and is closed.
//
// Start/Stop from one thread; handlers run on the pool.
#ifndef CRMSYNC_ENGINE_HTTP_SERVER_H_
#define CRMSYNC_ENGINE_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "http/router.h"
#include "http/tls.h"

namespace crmsync::engine {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  ///< 0 picks a free port (see port()).
  int threads = 16;      ///< Handler threads.
  int queue = 1024;      ///< Listen backlog.
  int64_t max_body_bytes = 1 << 20;
  int max_connections = 10000;
  int busy_connections = 0;  ///< 0: three quarters of max_connections.
  int64_t header_timeout_ms = 10000;
  int64_t body_timeout_ms = 30000;
  int64_t idle_timeout_ms = 30000;
  int64_t busy_idle_timeout_ms = 2000;
  int64_t write_timeout_ms = 30000;
  size_t max_head_bytes = 16384;
  /// HTTPS on the whole port when set (TlsContext::Load); plain HTTP when null.
  /// The TLS handshake must finish within header_timeout_ms of the accept.
  std::shared_ptr<const TlsContext> tls;
};

/// Counters for metrics and tests; read at any time.
struct HttpServerStats {
  int64_t open_connections = 0;
  int64_t accepted_total = 0;
  int64_t requests_total = 0;
  int64_t refused_total = 0;       ///< Requests answered 4xx/5xx by the server itself.
  int64_t timed_out_total = 0;     ///< Connections closed by a deadline.
  int64_t idle_closed_total = 0;   ///< Idle keep-alive connections closed.
  int64_t shed_total = 0;          ///< Connections refused at max_connections.
  int64_t tls_failed_total = 0;    ///< TLS handshakes that failed (bad or plain-HTTP clients).
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, std::shared_ptr<const Router> router);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts. Throws std::runtime_error naming host:port on failure.
  void Start();
  /// Stops accepting, closes idle connections, waits (up to 10 s) for the
  /// requests in progress to be answered, then closes the rest. Idempotent.
  void Stop();
  /// The bound port (useful with port 0).
  int port() const { return bound_port_; }
  const std::string& host() const { return options_.host; }
  /// "https" with options.tls, else "http".
  const char* scheme() const { return options_.tls ? "https" : "http"; }
  HttpServerStats stats() const;

  class Core;  // the I/O loop and the handler pool (server.cpp)

 private:
  HttpServerOptions options_;
  std::shared_ptr<const Router> router_;
  std::shared_ptr<Core> core_;
  int bound_port_ = 0;
};

/// Binds and listens on host:port exactly as HttpServer does, then closes the
/// socket: true when `serve` could listen there now. Otherwise false, with
/// the system's reason, and `*in_use` true when another socket holds the port.
bool CanListen(const std::string& host, int port, std::string* reason, bool* in_use);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_HTTP_SERVER_H_
