// http/tls.h: the HTTP server's TLS settings, loaded and checked with OpenSSL
// (docs/http-server.md, "HTTPS").
//
// A TlsContext holds one OpenSSL server context: the certificate chain and
// private key of server.tls.cert / server.tls.key, TLS 1.2 at least, client
// renegotiation off, and ALPN answering http/1.1. Load() checks everything a
// start needs (both files or neither, each readable, PEM that parses, an
// unencrypted key that matches the certificate) and names the key, the file and
// the reason on failure, so a bad setup stops the start rather than the first
// client. The epoll server (server.cpp) makes one SSL per connection from it
// and drives it non-blocking.
//
// Immutable after Load(); shared by the server's I/O thread only.
#ifndef CRMSYNC_ENGINE_HTTP_TLS_H_
#define CRMSYNC_ENGINE_HTTP_TLS_H_

#include <memory>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace crmsync::engine {

struct TlsFiles {
  std::string cert_file;  ///< server.tls.cert: PEM, the server certificate first, then its chain.
  std::string key_file;   ///< server.tls.key: PEM private key, not encrypted.
};

class TlsContext {
 public:
  /// Checks and loads `files`. Both empty: returns nullptr with `*error` empty
  /// (plain HTTP). Otherwise a context, or nullptr with `*error` naming the key,
  /// the file and the reason ("server.tls.key '/etc/k.pem' does not match the
  /// certificate in server.tls.cert '/etc/c.pem'"). Never logs a key's content.
  static std::shared_ptr<TlsContext> Load(const TlsFiles& files, std::string* error);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  /// A new server-side SSL on `fd` in accept state; nullptr when OpenSSL is
  /// out of memory.
  SSL* NewConnection(int fd) const;

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

/// OpenSSL's reason for the oldest error queued on this thread (then cleared),
/// or `fallback` when none is queued.
std::string TlsErrorText(const std::string& fallback);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_HTTP_TLS_H_
