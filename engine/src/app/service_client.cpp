// The long commands' client of the service's admin API; see service_client.h.
#include "app/service_client.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>

#include <exception>
#include <typeinfo>

namespace crmsync::engine {

using Poco::JSON::Object;

ServiceClient::ServiceClient(const config::Settings& settings, int timeout_s)
    : timeout_s_(timeout_s) {
  host_ = settings.GetString("server.host");
  if (host_ == "0.0.0.0" || host_.empty()) host_ = "127.0.0.1";
  if (host_ == "::") host_ = "::1";
  port_ = static_cast<unsigned short>(settings.GetInt("server.port"));
  token_ = settings.GetString("admin.token");
}

bool ServiceClient::Send(const std::string& method, const std::string& path,
                         const std::string& body, const std::string& content_type, int* status,
                         Object::Ptr* answer, std::string* why) {
  std::string text;
  try {
    if (!session_) {
      session_ = std::make_unique<Poco::Net::HTTPClientSession>(host_, port_);
      session_->setTimeout(Poco::Timespan(timeout_s_, 0));
      session_->setKeepAlive(true);
    }
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + token_);
    request.setKeepAlive(true);
    if (method != "GET") {
      request.setContentType(content_type);
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session_->sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    Poco::StreamCopier::copyToString(session_->receiveResponse(response), text);
    *status = static_cast<int>(response.getStatus());
  } catch (const Poco::Exception& e) {
    session_.reset();
    *why = "cannot reach the service at " + where() + ": " + e.displayText();
    return false;
  }
  answer->reset();
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(text);
    if (parsed.type() == typeid(Object::Ptr)) *answer = parsed.extract<Object::Ptr>();
  } catch (const std::exception&) {
  }
  if (!*answer) {
    *why = "the service at " + where() + " answered " + std::to_string(*status) +
           " with a body that is not a JSON object";
    return false;
  }
  return true;
}

bool ServiceClient::Call(const std::string& method, const std::string& path,
                         const std::string& body, const std::string& content_type, int* status,
                         Object::Ptr* answer, std::string* why) {
  if (!Send(method, path, body, content_type, status, answer, why)) return false;
  if (*status >= 200 && *status <= 299) return true;
  *why = "the service at " + where() + " answered " + std::to_string(*status) + ": " +
         (*answer)->optValue<std::string>("error", "");
  if (*status == 401 && token_.empty()) {
    *why += "; admin.token is not set: set it as the service has it";
  }
  return false;
}

}  // namespace crmsync::engine
