// HTTP listener; see server.h.
#include "http/server.h"

#include <stdexcept>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>

namespace crmsync::engine {
namespace {

class RouterHandler : public Poco::Net::HTTPRequestHandler {
 public:
  RouterHandler(const Router& router, int64_t max_body) : router_(router), max_body_(max_body) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    HttpContext ctx(request, response, max_body_);
    router_.Dispatch(ctx);
  }

 private:
  const Router& router_;
  int64_t max_body_;
};

class RouterFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  RouterFactory(std::shared_ptr<const Router> router, int64_t max_body)
      : router_(std::move(router)), max_body_(max_body) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new RouterHandler(*router_, max_body_);
  }

 private:
  std::shared_ptr<const Router> router_;
  int64_t max_body_;
};

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, std::shared_ptr<const Router> router)
    : options_(std::move(options)), router_(std::move(router)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Start() {
  Poco::Net::ServerSocket socket;
  try {
    Poco::Net::SocketAddress address(options_.host, static_cast<Poco::UInt16>(options_.port));
    socket.bind(address, true, false);  // SO_REUSEADDR, never SO_REUSEPORT: a busy port is an error
    socket.listen(options_.queue);
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("cannot listen on " + options_.host + ":" +
                             std::to_string(options_.port) + ": " + e.displayText());
  }
  bound_port_ = socket.address().port();
  auto* params = new Poco::Net::HTTPServerParams();
  params->setMaxThreads(options_.threads);
  params->setMaxQueued(options_.queue);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);  // unlimited requests per connection
  params->setKeepAliveTimeout(Poco::Timespan(30, 0));
  params->setTimeout(Poco::Timespan(30, 0));
  params->setServerName("crmsync");
  // An own pool: the default pool's 16 threads would cap server.threads.
  pool_ = std::make_unique<Poco::ThreadPool>(2, options_.threads + 1, 60, 0);
  server_ = std::make_unique<Poco::Net::HTTPServer>(
      new RouterFactory(router_, options_.max_body_bytes), *pool_, socket, params);
  server_->start();
}

void HttpServer::Stop() {
  if (server_) {
    server_->stopAll(false);
    server_.reset();
    pool_->joinAll();
    pool_.reset();
  }
}

}  // namespace crmsync::engine

