// Tests for HttpTransport against real Poco HTTP(S) servers on 127.0.0.1:
// exact request delivery, keep-alive reuse, stale idle connections, timeouts,
// refused connections, the insecure-HTTP rule, and TLS verification with a
// throwaway CA made by the openssl CLI at test time.
#include <doctest/doctest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>

#include "crmsync/classify.h"
#include "crmsync/http_transport.h"
#include "test_support.h"

namespace crmsync {
namespace {

// What the server saw of one request.
struct SeenRequest {
  std::string method;
  std::string uri;
  std::string body;
  std::string client;  // Client address: equal across requests on one connection.
  HeaderList headers;
  std::string Header(const std::string& name) const { return FindHeader(headers, name); }
  int Count(const std::string& name) const {
    int n = 0;
    for (const auto& [k, v] : headers) n += FindHeader({{k, v}}, name).empty() ? 0 : 1;
    return n;
  }
};

// Shared between the test and the server's handler threads.
struct ServerState {
  std::mutex mutex;
  std::condition_variable cv;
  bool released = false;  // Lets /block handlers answer.
  int blocked = 0;        // /block handlers currently waiting.
  std::vector<SeenRequest> seen;

  std::vector<SeenRequest> Seen() {
    std::lock_guard<std::mutex> lock(mutex);
    return seen;
  }
};

// Records each request. /block/... waits until released; /status/NNN answers
// NNN; everything else answers 201 {"id":"crm-1"} with an X-Reply header.
class RecordingHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RecordingHandler(std::shared_ptr<ServerState> state) : state_(std::move(state)) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    SeenRequest seen;
    seen.method = request.getMethod();
    seen.uri = request.getURI();
    seen.client = request.clientAddress().toString();
    for (const auto& [name, value] : request) seen.headers.emplace_back(name, value);
    Poco::StreamCopier::copyToString(request.stream(), seen.body);
    {
      std::unique_lock<std::mutex> lock(state_->mutex);
      state_->seen.push_back(seen);
      if (seen.uri.rfind("/block", 0) == 0) {
        ++state_->blocked;
        state_->cv.notify_all();
        state_->cv.wait(lock, [this] { return state_->released; });
        --state_->blocked;
      }
    }
    std::string body = "{\"id\":\"crm-1\"}";
    if (seen.uri.rfind("/status/", 0) == 0) {
      response.setStatus(
          static_cast<Poco::Net::HTTPResponse::HTTPStatus>(std::stoi(seen.uri.substr(8, 3))));
      body = "{\"message\":\"status " + seen.uri.substr(8, 3) + "\"}";
    } else {
      response.setStatus(Poco::Net::HTTPResponse::HTTP_CREATED);
      response.set("X-Reply", "yes");
    }
    response.setContentType("application/json");
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body;
  }

 private:
  std::shared_ptr<ServerState> state_;
};

class RecordingFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit RecordingFactory(std::shared_ptr<ServerState> state) : state_(std::move(state)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new RecordingHandler(state_);
  }

 private:
  std::shared_ptr<ServerState> state_;
};

// A Poco HTTPServer (plain, or TLS with the given key and certificate) on
// 127.0.0.1 and a port the OS picks.
class TestServer {
 public:
  explicit TestServer(const std::string& key_file = "", const std::string& cert_file = "",
                      Poco::Timespan keep_alive_timeout = Poco::Timespan(10, 0))
      : state_(std::make_shared<ServerState>()), pool_(2, 16) {
    auto params = new Poco::Net::HTTPServerParams;
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(keep_alive_timeout);
    params->setMaxThreads(16);
    Poco::Net::SocketAddress address("127.0.0.1", 0);
    if (cert_file.empty()) {
      socket_ = std::make_unique<Poco::Net::ServerSocket>(address);
    } else {
      Poco::Net::initializeSSL();
      Poco::Net::Context::Ptr context =
          new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, key_file, cert_file, "",
                                 Poco::Net::Context::VERIFY_NONE);
      socket_ = std::make_unique<Poco::Net::SecureServerSocket>(address, 64, context);
    }
    port_ = socket_->address().port();
    server_ = std::make_unique<Poco::Net::HTTPServer>(new RecordingFactory(state_), pool_, *socket_,
                                                      params);
    server_->start();
  }

  ~TestServer() {
    Release();
    server_->stopAll(true);
    pool_.joinAll();
  }

  void Release() {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->released = true;
    state_->cv.notify_all();
  }

  int port() const { return port_; }
  ServerState& state() { return *state_; }
  int current_connections() const { return server_->currentConnections(); }
  std::string Url(const std::string& scheme = "http", const std::string& host = "127.0.0.1") const {
    return scheme + "://" + host + ":" + std::to_string(port_);
  }

 private:
  std::shared_ptr<ServerState> state_;
  Poco::ThreadPool pool_;
  std::unique_ptr<Poco::Net::ServerSocket> socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int port_ = 0;
};

std::unique_ptr<HttpTransport> MakeTransport(const HttpTransportOptions& options) {
  std::unique_ptr<HttpTransport> transport;
  Status s = HttpTransport::Create(options, &transport);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  REQUIRE(transport != nullptr);
  return transport;
}

HttpRequest Get(const std::string& path) {
  HttpRequest request;
  request.method = "GET";
  request.path = path;
  return request;
}

// Options for the server at `url`, under "/base/", with an API key and a user
// agent as default headers.
HttpTransportOptions KeyedOptions(const std::string& url) {
  HttpTransportOptions options;
  options.base_url = url + "/base/";
  options.default_headers = {{"X-API-Key", "key-1"}, {"User-Agent", "crmsync-test"}};
  return options;
}

// A POST with a header of its own and one that overrides a default header.
HttpRequest PostWithHeaders(const std::string& path, const std::string& body) {
  HttpRequest request;
  request.method = "POST";
  request.path = path;
  request.headers = {{"X-Trace", "t-1"}, {"User-Agent", "override"}};
  request.body = body;
  return request;
}

// A throwaway CA and two server certificates signed by it: one for
// 127.0.0.1/localhost, one for other.example.com only.
class Certificates {
 public:
  Certificates() {
    testing::WriteFile(dir_.File("openssl.cnf"),
                       "[req]\n"
                       "distinguished_name = dn\n"
                       "prompt = no\n"
                       "[dn]\n"
                       "CN = crmsync test\n"
                       "[v3_ca]\n"
                       "basicConstraints = critical, CA:TRUE\n"
                       "keyUsage = critical, keyCertSign, cRLSign\n"
                       "subjectKeyIdentifier = hash\n"
                       "[v3_local]\n"
                       "basicConstraints = CA:FALSE\n"
                       "keyUsage = critical, digitalSignature, keyEncipherment\n"
                       "extendedKeyUsage = serverAuth\n"
                       "subjectAltName = DNS:localhost, IP:127.0.0.1\n"
                       "[v3_other]\n"
                       "basicConstraints = CA:FALSE\n"
                       "keyUsage = critical, digitalSignature, keyEncipherment\n"
                       "extendedKeyUsage = serverAuth\n"
                       "subjectAltName = DNS:other.example.com\n");
    Run({"req",
         "-x509",
         "-new",
         "-newkey",
         "ec",
         "-pkeyopt",
         "ec_paramgen_curve:prime256v1",
         "-nodes",
         "-keyout",
         ca_key(),
         "-out",
         ca_cert(),
         "-days",
         "2",
         "-config",
         config(),
         "-extensions",
         "v3_ca",
         "-subj",
         "/CN=crmsync throwaway test CA"});
    MakeServerCert("local", "/CN=127.0.0.1", "v3_local");
    MakeServerCert("other", "/CN=other.example.com", "v3_other");
  }

  std::string ca_cert() const { return dir_.File("ca.pem"); }
  std::string key(const std::string& name) const { return dir_.File(name + ".key"); }
  std::string cert(const std::string& name) const { return dir_.File(name + ".pem"); }

 private:
  std::string ca_key() const { return dir_.File("ca.key"); }
  std::string config() const { return dir_.File("openssl.cnf"); }

  void MakeServerCert(const std::string& name, const std::string& subject,
                      const std::string& extensions) {
    std::string csr = dir_.File(name + ".csr");
    Run({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key(name), "-out", csr, "-config", config(), "-subj", subject});
    Run({"x509", "-req", "-in", csr, "-CA", ca_cert(), "-CAkey", ca_key(), "-CAcreateserial",
         "-out", cert(name), "-days", "2", "-extfile", config(), "-extensions", extensions});
  }

  void Run(const std::vector<std::string>& args) {
    std::string output;
    int rc = testing::RunCommand("/usr/bin/openssl", args, &output);
    REQUIRE_MESSAGE(rc == 0, output);
  }

  testing::TempDir dir_;
};

TEST_SUITE("sdk") {
  TEST_CASE("http_transport: method, path, headers and body arrive exactly") {
    TestServer server;
    auto transport = MakeTransport(KeyedOptions(server.Url()));
    HttpRequest request = PostWithHeaders("/api/v1/leads?source=test&x=%20",
                                          "{\"name\":\"Asha\",\"notes\":\"line1\\nline2\"}");
    request.content_type = "application/json; charset=utf-8";
    HttpResponse response = transport->Send(request);

    REQUIRE(response.error == TransportError::kNone);
    CHECK(response.status == 201);
    CHECK(response.request_sent);
    CHECK(response.body == "{\"id\":\"crm-1\"}");
    CHECK(response.Header("x-reply") == "yes");
    CHECK(response.Header("Content-Type") == "application/json");

    auto seen = server.state().Seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].method == "POST");
    CHECK(seen[0].uri == "/base/api/v1/leads?source=test&x=%20");
    CHECK(seen[0].body == request.body);
    CHECK(seen[0].Header("X-API-Key") == "key-1");
    CHECK(seen[0].Header("X-Trace") == "t-1");
    CHECK(seen[0].Header("User-Agent") == "override");
    CHECK(seen[0].Count("User-Agent") == 1);
    CHECK(seen[0].Header("Content-Type") == "application/json; charset=utf-8");
    CHECK(seen[0].Header("Content-Length") == std::to_string(request.body.size()));
    CHECK(seen[0].Header("Host") == "127.0.0.1:" + std::to_string(server.port()));
  }

  TEST_CASE("http_transport: Prepare shows exactly what Send writes, and sends nothing") {
    TestServer server;
    auto transport = MakeTransport(KeyedOptions(server.Url()));
    HttpRequest request = PostWithHeaders("/api/v1/leads?source=test", "{\"name\":\"Asha\"}");
    WireRequest wire;
    REQUIRE(transport->Prepare(request, &wire).ok());
    CHECK(transport->connections_opened() == 0);
    CHECK(server.state().Seen().empty());
    CHECK(wire.method == "POST");
    CHECK(wire.url == server.Url() + "/base/api/v1/leads?source=test");
    CHECK(wire.body == request.body);
    CHECK(FindHeader(wire.headers, "X-API-Key") == "key-1");
    CHECK(FindHeader(wire.headers, "User-Agent") == "override");
    CHECK(FindHeader(wire.headers, "Content-Type") == "application/json");
    CHECK(FindHeader(wire.headers, "Content-Length") == std::to_string(request.body.size()));

    // Every header Prepare names arrives with that value, and nothing else does.
    REQUIRE(transport->Send(request).status == 201);
    auto seen = server.state().Seen();
    REQUIRE(seen.size() == 1);
    HeaderList prepared = wire.headers;
    HeaderList arrived = seen[0].headers;
    auto by_name = [](const auto& a, const auto& b) { return a < b; };
    std::sort(prepared.begin(), prepared.end(), by_name);
    std::sort(arrived.begin(), arrived.end(), by_name);
    CHECK(prepared == arrived);
    CHECK(wire.url == server.Url() + seen[0].uri);
  }

  TEST_CASE("http_transport: Prepare refuses what Send refuses, and omits a default port") {
    HttpTransportOptions options;
    options.base_url = "https://crm.example.com/v2";
    auto transport = MakeTransport(options);
    WireRequest wire;
    REQUIRE(transport->Prepare(Get("/leads/1"), &wire).ok());
    CHECK(wire.url == "https://crm.example.com/v2/leads/1");
    CHECK(FindHeader(wire.headers, "Host") == "crm.example.com");
    CHECK(FindHeader(wire.headers, "Content-Length").empty());

    HttpRequest bad = Get("/leads/1");
    bad.headers = {{"X-Bad", "a\r\nInjected: 1"}};
    Status refused = transport->Prepare(bad, &wire);
    CHECK(refused.code() == StatusCode::kPermanent);
    CHECK(refused.message() == "invalid request: bad header X-Bad");
    CHECK(transport->Send(bad).error_message == "invalid request: bad header X-Bad");
    HttpRequest blank = Get("/leads/1 2");
    CHECK(transport->Prepare(blank, &wire).code() == StatusCode::kPermanent);
    CHECK(transport->connections_opened() == 0);
  }

  TEST_CASE("http_transport: the engine finds Prepare through AsPreparing") {
    HttpTransportOptions options;
    options.base_url = "http://127.0.0.1:9";
    auto transport = MakeTransport(options);
    Transport* as_transport = transport.get();
    CHECK(AsPreparing(as_transport) == static_cast<PreparingTransport*>(transport.get()));
    struct SendOnly final : Transport {
      HttpResponse Send(const HttpRequest&) override { return HttpResponse(); }
    } send_only;
    CHECK(AsPreparing(&send_only) == nullptr);
  }

  TEST_CASE("http_transport: no body means no Content-Type, PUT and DELETE go through") {
    TestServer server;
    HttpTransportOptions options;
    options.base_url = server.Url();
    auto transport = MakeTransport(options);

    HttpResponse got = transport->Send(Get("/api/v1/leads/42"));
    CHECK(got.status == 201);
    HttpRequest put;
    put.method = "PUT";
    put.path = "api/v1/leads/42";  // A path without its leading slash still gets one.
    HttpResponse put_response = transport->Send(put);
    CHECK(put_response.status == 201);
    HttpRequest del;
    del.method = "DELETE";
    del.path = "/api/v1/leads/42";
    CHECK(transport->Send(del).status == 201);

    auto seen = server.state().Seen();
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].method == "GET");
    CHECK(seen[0].Header("Content-Type").empty());
    CHECK(seen[0].body.empty());
    CHECK(seen[1].method == "PUT");
    CHECK(seen[1].uri == "/api/v1/leads/42");
    CHECK(seen[1].Header("Content-Type").empty());
    CHECK(seen[1].Header("Content-Length") == "0");
    CHECK(seen[2].method == "DELETE");
  }

  TEST_CASE("http_transport: error statuses come back as answers, not transport errors") {
    TestServer server;
    HttpTransportOptions options;
    options.base_url = server.Url();
    auto transport = MakeTransport(options);
    HttpResponse response = transport->Send(Get("/status/422"));
    CHECK(response.error == TransportError::kNone);
    CHECK(response.status == 422);
    Status s = DefaultClassify(response);
    CHECK(s.code() == StatusCode::kInvalidRecord);
    CHECK(s.message() == "HTTP 422: status 422");
    CHECK(transport->Send(Get("/status/503")).status == 503);
  }

  TEST_CASE("http_transport: sequential requests reuse one keep-alive connection") {
    TestServer server;
    HttpTransportOptions options;
    options.base_url = server.Url();
    auto transport = MakeTransport(options);
    for (int i = 0; i < 5; ++i) {
      HttpRequest request;
      request.method = i % 2 == 0 ? "POST" : "GET";
      request.path = "/r/" + std::to_string(i);
      if (i % 2 == 0) request.body = "{\"i\":" + std::to_string(i) + "}";
      HttpResponse response = transport->Send(request);
      REQUIRE(response.status == 201);
    }
    CHECK(transport->connections_opened() == 1);
    auto seen = server.state().Seen();
    REQUIRE(seen.size() == 5);
    for (const auto& s : seen) CHECK(s.client == seen[0].client);
  }

  TEST_CASE("http_transport: max_idle_connections = 0 opens a connection per request") {
    TestServer server;
    HttpTransportOptions options;
    options.base_url = server.Url();
    options.max_idle_connections = 0;
    auto transport = MakeTransport(options);
    for (int i = 0; i < 3; ++i) REQUIRE(transport->Send(Get("/x")).status == 201);
    CHECK(transport->connections_opened() == 3);
  }

  TEST_CASE("http_transport: concurrent sends each get an answer") {
    TestServer server;
    HttpTransportOptions options;
    options.base_url = server.Url();
    auto transport = MakeTransport(options);
    std::vector<int> statuses(8, 0);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < statuses.size(); ++i) {
      threads.emplace_back([&, i] {
        HttpRequest request;
        request.method = "POST";
        request.path = "/c/" + std::to_string(i);
        request.body = std::string(1000 + i, 'a');
        statuses[i] = transport->Send(request).status;
      });
    }
    for (auto& t : threads) t.join();
    for (int status : statuses) CHECK(status == 201);
    CHECK(transport->connections_opened() <= 8);
    auto seen = server.state().Seen();
    REQUIRE(seen.size() == 8);
    for (const auto& s : seen) {
      size_t i = std::stoul(s.uri.substr(3));
      CHECK(s.body.size() == 1000 + i);
    }
  }

  TEST_CASE("http_transport: an idle connection the server closed is replaced, POST included") {
    TestServer server("", "", Poco::Timespan(0, 100 * 1000));  // Server drops idle after 100 ms.
    HttpTransportOptions options;
    options.base_url = server.Url();
    auto transport = MakeTransport(options);
    REQUIRE(transport->Send(Get("/first")).status == 201);
    // The server closes the idle connection on its own; wait until it has.
    REQUIRE(testing::WaitUntil([&] { return server.current_connections() == 0; }));
    HttpRequest post;
    post.method = "POST";
    post.path = "/second";
    post.body = "{}";
    HttpResponse response = transport->Send(post);
    CHECK(response.error == TransportError::kNone);
    CHECK(response.status == 201);
    CHECK(transport->connections_opened() == 2);
    auto seen = server.state().Seen();
    REQUIRE(seen.size() == 2);  // Sent once, not twice.
    CHECK(seen[1].uri == "/second");
  }

  TEST_CASE("http_transport: a slow answer times out with request_sent") {
    TestServer server;
    HttpTransportOptions options;
    options.base_url = server.Url();
    options.timeout_ms = 300;
    auto transport = MakeTransport(options);
    HttpRequest request;
    request.method = "POST";
    request.path = "/block/create";
    request.body = "{\"id\":\"1\"}";
    HttpResponse response = transport->Send(request);
    CHECK(response.error == TransportError::kTimeout);
    CHECK(response.request_sent);
    CHECK(response.status == 0);
    CHECK(response.error_message.find("timed out") != std::string::npos);
    CHECK(response.error_message.find("{\"id\"") == std::string::npos);  // No payload.
    {
      std::lock_guard<std::mutex> lock(server.state().mutex);
      CHECK(server.state().blocked == 1);  // The server did get it.
    }
    Status s = DefaultClassify(response);
    CHECK(s.code() == StatusCode::kRetryable);
    CHECK(s.message().rfind("timeout: ", 0) == 0);

    // The timed-out connection is not reused: the next call opens a new one.
    HttpResponse next = transport->Send(Get("/after"));
    CHECK(next.status == 201);
    CHECK(transport->connections_opened() == 2);
  }

  TEST_CASE("http_transport: connection refused is kConnect and not sent") {
    int port = testing::FreePort();
    HttpTransportOptions options;
    options.base_url = "http://127.0.0.1:" + std::to_string(port);
    auto transport = MakeTransport(options);
    HttpResponse response = transport->Send(Get("/x"));
    CHECK(response.error == TransportError::kConnect);
    CHECK_FALSE(response.request_sent);
    CHECK(response.status == 0);
    CHECK_FALSE(response.error_message.empty());
    CHECK(DefaultClassify(response).code() == StatusCode::kRetryable);
  }

  TEST_CASE("http_transport: a host name that does not resolve is kDns, not kConnect") {
    HttpTransportOptions options;
    // RFC 2606: .invalid never resolves.
    options.base_url = "https://crm.crmsync-test.invalid";
    auto transport = MakeTransport(options);
    HttpResponse response = transport->Send(Get("/x"));
    CHECK(response.error == TransportError::kDns);
    CHECK(std::string(TransportErrorName(response.error)) == "dns");
    CHECK_FALSE(response.request_sent);
    CHECK(response.error_message.find("crm.crmsync-test.invalid") != std::string::npos);
    // Still a transient failure for the engine, as kConnect was.
    CHECK(DefaultClassify(response).code() == StatusCode::kRetryable);
  }

  TEST_CASE("http_transport: Create checks the URL and the insecure-HTTP rule") {
    auto create = [](const std::string& url, bool allow_insecure = false) {
      HttpTransportOptions options;
      options.base_url = url;
      options.allow_insecure_http = allow_insecure;
      std::unique_ptr<HttpTransport> transport;
      return HttpTransport::Create(options, &transport);
    };
    for (const char* refused : {"http://crm.example.com", "http://10.0.0.1:8080/api",
                                "http://128.0.0.1", "http://[2001:db8::1]/"}) {
      CAPTURE(refused);
      Status s = create(refused);
      CHECK(s.code() == StatusCode::kInvalidConfig);
      CHECK(s.message().rfind("api_url:", 0) == 0);
    }
    for (const char* loopback : {"http://127.0.0.1:9", "http://127.9.8.7/base",
                                 "http://localhost:1", "http://LOCALHOST", "http://[::1]:8080"}) {
      CAPTURE(loopback);
      CHECK(create(loopback).ok());
    }
    CHECK(create("http://crm.example.com", true).ok());
    CHECK(create("https://crm.example.com/api").ok());
    for (const char* bad : {"", "crm.example.com", "ftp://crm.example.com", "https://",
                            "https://user:pass@crm.example.com", "https://crm.example.com/?a=1"}) {
      CAPTURE(bad);
      CHECK(create(bad).code() == StatusCode::kInvalidConfig);
    }
    HttpTransportOptions options;
    options.base_url = "https://crm.example.com";
    options.ca_file = "/nonexistent/ca.pem";
    std::unique_ptr<HttpTransport> transport;
    Status s = HttpTransport::Create(options, &transport);
    CHECK(s.code() == StatusCode::kInvalidConfig);
    CHECK(s.message().rfind("ca_file:", 0) == 0);
    options.ca_file.clear();
    options.timeout_ms = 0;
    CHECK(HttpTransport::Create(options, &transport).code() == StatusCode::kInvalidConfig);
  }

  TEST_CASE("http_transport: TLS verifies the chain and the host name") {
    Certificates certs;
    TestServer local(certs.key("local"), certs.cert("local"));
    TestServer other(certs.key("other"), certs.cert("other"));

    SUBCASE("trusted CA and matching name: the request goes through, kept alive") {
      HttpTransportOptions options;
      options.base_url = local.Url("https");
      options.ca_file = certs.ca_cert();
      auto transport = MakeTransport(options);
      for (int i = 0; i < 3; ++i) {
        HttpResponse response = transport->Send(Get("/tls/" + std::to_string(i)));
        CHECK(response.error == TransportError::kNone);
        CHECK_MESSAGE(response.status == 201, response.error_message);
      }
      CHECK(transport->connections_opened() == 1);
      CHECK(local.state().Seen().size() == 3);
    }

    SUBCASE("system CAs only: the certificate is refused, nothing sent") {
      HttpTransportOptions options;
      options.base_url = local.Url("https");
      auto transport = MakeTransport(options);
      HttpResponse response = transport->Send(Get("/tls"));
      CHECK(response.error == TransportError::kTls);
      CHECK_FALSE(response.request_sent);
      CHECK(response.status == 0);
      CHECK(local.state().Seen().empty());
    }

    SUBCASE("trusted CA but a certificate for another host: refused") {
      HttpTransportOptions options;
      options.base_url = other.Url("https");
      options.ca_file = certs.ca_cert();
      auto transport = MakeTransport(options);
      HttpResponse response = transport->Send(Get("/tls"));
      CHECK(response.error == TransportError::kTls);
      CHECK_FALSE(response.request_sent);
      CHECK(other.state().Seen().empty());
    }

    SUBCASE("plain http to the TLS port fails as a transport error") {
      HttpTransportOptions options;
      options.base_url = local.Url("http");
      options.timeout_ms = 2000;
      auto transport = MakeTransport(options);
      HttpResponse response = transport->Send(Get("/tls"));
      CHECK(response.error != TransportError::kNone);
      CHECK(response.status == 0);
    }
  }
}

}  // namespace
}  // namespace crmsync
