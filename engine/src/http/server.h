// http/server.h: the engine's HTTP listener (Poco::Net::HTTPServer).
//
// Thread and queue sizes come from config (server.threads, server.queue).
// Start() binds and begins serving; Stop() stops accepting and waits for the
// requests in progress. Start/Stop from one thread; handlers run on the pool.
#ifndef CRMSYNC_ENGINE_HTTP_SERVER_H_
#define CRMSYNC_ENGINE_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "http/router.h"

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
}
}  // namespace Poco

namespace crmsync::engine {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  ///< 0 picks a free port (see port()).
  int threads = 16;
  int queue = 256;
  int64_t max_body_bytes = 1 << 20;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, std::shared_ptr<const Router> router);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts. Throws std::runtime_error naming host:port on failure.
  void Start();
  /// Stops accepting, waits for requests in progress. Idempotent.
  void Stop();
  /// The bound port (useful with port 0).
  int port() const { return bound_port_; }
  const std::string& host() const { return options_.host; }

 private:
  HttpServerOptions options_;
  std::shared_ptr<const Router> router_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int bound_port_ = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_HTTP_SERVER_H_
