// recording_crm.h: a scripted CRM on 127.0.0.1 for the generic-rest-crm HTTP
// tests: a Poco HTTPServer (plain or TLS) that records every request (method,
// path, query, headers, body) and answers from a script, in order; an
// unscripted request gets 200 {}.
//
// Header-only; each test case makes its own server. Thread-safe.
#ifndef CRMSYNC_TESTS_PLUGINS_GENERIC_REST_RECORDING_CRM_H_
#define CRMSYNC_TESTS_PLUGINS_GENERIC_REST_RECORDING_CRM_H_

#include <doctest/doctest.h>

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include "crmsync/http.h"
#include "test_support.h"

namespace crmsync::testing {

struct RecordedRequest {
  std::string method;
  std::string raw_path;  ///< The request target before '?', as sent (still encoded).
  std::vector<std::pair<std::string, std::string>> query;  ///< Decoded, in order.
  HeaderList headers;
  std::string body;

  std::string Header(const std::string& name) const { return FindHeader(headers, name); }
  bool HasHeader(const std::string& name) const {
    for (const auto& header : headers) {
      if (Poco::icompare(header.first, name) == 0) return true;
    }
    return false;
  }
};

struct ScriptedResponse {
  int status = 200;
  std::string body = "{}";
  HeaderList headers;  ///< Sent besides Content-Type (a Link header, say).
};

class RecordingCrm {
 public:
  /// Plain HTTP.
  RecordingCrm() : state_(std::make_shared<State>()), port_(FreePort()) {
    Poco::Net::ServerSocket socket(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_)));
    Start(socket);
  }

  /// HTTPS with the given PEM key and certificate.
  RecordingCrm(const std::string& key_file, const std::string& cert_file)
      : state_(std::make_shared<State>()), port_(FreePort()), tls_(true) {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Ptr context =
        new Poco::Net::Context(Poco::Net::Context::SERVER_USE, key_file, cert_file, std::string(),
                               Poco::Net::Context::VERIFY_NONE);
    Poco::Net::SecureServerSocket socket(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_)), 64, context);
    Start(socket);
  }

  ~RecordingCrm() {
    server_->stopAll(true);
    server_.reset();
    if (tls_) Poco::Net::uninitializeSSL();
  }

  RecordingCrm(const RecordingCrm&) = delete;
  RecordingCrm& operator=(const RecordingCrm&) = delete;

  /// http(s)://127.0.0.1:<port>
  std::string url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }

  /// Queues the answer to the next request; unscripted requests get 200 {}.
  void Script(int status, const std::string& body, const HeaderList& headers = {}) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->script.push_back(ScriptedResponse{status, body, headers});
  }

  /// Every request received since the last Take() or Drain(), and forgets them.
  std::vector<RecordedRequest> Drain() {
    std::lock_guard<std::mutex> lock(state_->mu);
    std::vector<RecordedRequest> out;
    out.swap(state_->requests);
    return out;
  }

  std::vector<RecordedRequest> requests() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->requests;
  }

  /// The one request received since the last Take(); fails the case otherwise.
  RecordedRequest Take() {
    std::lock_guard<std::mutex> lock(state_->mu);
    REQUIRE(state_->requests.size() == 1);
    RecordedRequest request = state_->requests.front();
    state_->requests.clear();
    return request;
  }

 private:
  struct State {
    std::mutex mu;
    std::deque<ScriptedResponse> script;
    std::vector<RecordedRequest> requests;
  };

  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(std::shared_ptr<State> state) : state_(std::move(state)) {}

    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
      RecordedRequest recorded;
      recorded.method = request.getMethod();
      const std::string& target = request.getURI();
      const size_t question = target.find('?');
      recorded.raw_path = target.substr(0, question);
      if (question != std::string::npos) {
        recorded.query = Poco::URI(target).getQueryParameters();
      }
      for (const auto& header : request) recorded.headers.emplace_back(header.first, header.second);
      Poco::StreamCopier::copyToString(request.stream(), recorded.body);

      ScriptedResponse answer;
      {
        std::lock_guard<std::mutex> lock(state_->mu);
        state_->requests.push_back(std::move(recorded));
        if (!state_->script.empty()) {
          answer = state_->script.front();
          state_->script.pop_front();
        }
      }
      response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status),
                                  "Scripted");
      response.setContentType("application/json");
      for (const auto& header : answer.headers) response.set(header.first, header.second);
      response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
      response.send() << answer.body;
    }

   private:
    std::shared_ptr<State> state_;
  };

  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(std::shared_ptr<State> state) : state_(std::move(state)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(state_);
    }

   private:
    std::shared_ptr<State> state_;
  };

  void Start(const Poco::Net::ServerSocket& socket) {
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams();
    params->setKeepAlive(true);
    params->setMaxThreads(4);
    params->setMaxQueued(64);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(state_), socket, params);
    server_->start();
  }

  std::shared_ptr<State> state_;
  int port_ = 0;
  bool tls_ = false;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace crmsync::testing

#endif  // CRMSYNC_TESTS_PLUGINS_GENERIC_REST_RECORDING_CRM_H_
