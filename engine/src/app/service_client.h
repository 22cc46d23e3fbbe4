// app/service_client.h: how the long commands (backfill, reconcile, resync)
// speak to the running service's admin API: server.host (0.0.0.0 becomes
// 127.0.0.1, :: becomes ::1) and server.port, admin.token as the bearer
// token, one kept-alive connection (opened again after a failure).
//
// Used from one thread.
#ifndef CRMSYNC_ENGINE_APP_SERVICE_CLIENT_H_
#define CRMSYNC_ENGINE_APP_SERVICE_CLIENT_H_

#include <memory>
#include <string>

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPClientSession.h>

#include "config/settings.h"

namespace crmsync::engine {

class ServiceClient {
 public:
  /// `timeout_s` bounds each call (a backfill chunk waits for its durable writes).
  ServiceClient(const config::Settings& settings, int timeout_s);

  /// "host:port", for messages.
  std::string where() const { return host_ + ":" + std::to_string(port_); }
  bool token_empty() const { return token_.empty(); }

  /// One call. False with `*why` when the service cannot be reached, the
  /// connection broke before the answer, or the answer is not a JSON object;
  /// otherwise `*status` and `*answer` (any status: the caller reads it).
  bool Send(const std::string& method, const std::string& path, const std::string& body,
            const std::string& content_type, int* status, Poco::JSON::Object::Ptr* answer,
            std::string* why);

  /// Send() that also refuses an answer other than 2xx, naming its status and
  /// the service's "error" (and, for a 401 with no admin.token here, saying so).
  bool Call(const std::string& method, const std::string& path, const std::string& body,
            const std::string& content_type, int* status, Poco::JSON::Object::Ptr* answer,
            std::string* why);

 private:
  std::string host_;
  unsigned short port_ = 0;
  std::string token_;
  int timeout_s_;
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_SERVICE_CLIENT_H_
