// tls_server_test.cpp: the epoll server with server.tls on loopback, against
// OpenSSL's own client with verification on, certificates from the openssl
// CLI (test_pki.h).
//
// TlsContext::Load names the key, the file and the reason for each bad setup.
// A verified client is answered (keep-alive, a 1 MiB body both ways, TLS 1.2
// and 1.3); TLS 1.1 and 1.0 get a protocol_version alert; a client trusting
// another CA refuses the server; a handshake that stalls is closed at the
// header deadline; plain HTTP on the port gets a plain 400 and a close, other
// bytes a close; Stop closes handshaking and idle TLS connections.
//
// Nothing sleeps: a test waits on the socket (a blocking read with a bound) or
// on the server's counters.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <memory>
#include <string>

#include "http/router.h"
#include "http/server.h"
#include "http/tls.h"
#include "test_pki.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::BodyOf;
using crmsync::testing::StatusOf;
using crmsync::testing::TestPki;
using crmsync::testing::WaitUntil;

// One PKI for the whole file: making it runs the openssl CLI a few times.
const TestPki& Pki() {
  static const TestPki pki;
  return pki;
}

int ConnectLoopback(int port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  return fd;
}

// Reads one whole answer (head + Content-Length body) with `read`, which
// returns what one read gave, "" at the end or on a timeout.
template <typename Read>
std::string ReadOneResponse(std::string* buffer, Read read) {
  while (true) {
    size_t head_end = buffer->find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t length = 0;
      size_t cl = buffer->find("Content-Length: ");
      if (cl != std::string::npos && cl < head_end) length = std::stoul(buffer->substr(cl + 16));
      size_t total = head_end + 4 + length;
      if (buffer->size() >= total) {
        std::string response = buffer->substr(0, total);
        buffer->erase(0, total);
        return response;
      }
    }
    std::string more = read();
    if (more.empty()) return "";
    *buffer += more;
  }
}

// A raw TCP client: what it sends is exactly what goes on the wire.
class RawClient {
 public:
  explicit RawClient(int port, int timeout_ms = 5000) : fd_(ConnectLoopback(port, timeout_ms)) {}
  ~RawClient() { close(fd_); }
  void Send(const std::string& bytes) {
    CHECK(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(bytes.size()));
  }
  std::string ReadResponse() {
    return ReadOneResponse(&buffer_, [this] {
      char chunk[16384];
      ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      return n > 0 ? std::string(chunk, static_cast<size_t>(n)) : std::string();
    });
  }
  // True when the server closes (EOF or reset) before the timeout with
  // nothing more sent.
  bool ClosedByServer() {
    char c;
    ssize_t n = recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  int fd_;
  std::string buffer_;
};

// OpenSSL's client with verification on: the server's chain must lead to
// `ca_file` and the certificate must name 127.0.0.1. `max_version` other than
// 0 caps the protocol (with security level 0, so the client really offers
// TLS 1.1 or 1.0 and any refusal is the server's).
class TlsClient {
 public:
  TlsClient(int port, const std::string& ca_file, int max_version = 0)
      : fd_(ConnectLoopback(port, 5000)) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    REQUIRE(ctx_ != nullptr);
    REQUIRE(SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) == 1);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (max_version != 0) {
      SSL_CTX_set_security_level(ctx_, 0);
      SSL_CTX_set_cipher_list(ctx_, "DEFAULT@SECLEVEL=0");
      SSL_CTX_set_min_proto_version(ctx_, TLS1_VERSION);
      SSL_CTX_set_max_proto_version(ctx_, max_version);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    ERR_clear_error();
    connected_ = SSL_connect(ssl_) == 1;
    if (!connected_) error_ = TlsErrorText("no OpenSSL error");
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    close(fd_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool connected() const { return connected_; }
  const std::string& error() const { return error_; }
  long verify_result() const { return SSL_get_verify_result(ssl_); }
  int version() const { return SSL_version(ssl_); }

  void Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      int n = SSL_write(ssl_, bytes.data() + off, static_cast<int>(bytes.size() - off));
      REQUIRE(n > 0);
      off += static_cast<size_t>(n);
    }
  }
  std::string ReadResponse() {
    return ReadOneResponse(&buffer_, [this] {
      char chunk[16384];
      int n = SSL_read(ssl_, chunk, sizeof(chunk));
      return n > 0 ? std::string(chunk, static_cast<size_t>(n)) : std::string();
    });
  }
  // True when the server ends the TLS stream (close_notify or EOF) before the
  // timeout.
  bool ClosedByServer() {
    char c;
    int n = SSL_read(ssl_, &c, 1);
    if (n > 0) return false;
    int err = SSL_get_error(ssl_, n);
    return err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno != EAGAIN) ||
           err == SSL_ERROR_SSL;
  }

 private:
  int fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
  std::string error_;
  std::string buffer_;
};

// A TLS server with /healthz (inline) and /echo (body back).
class TlsTestServer {
 public:
  explicit TlsTestServer(HttpServerOptions options = {}) {
    std::string error;
    options.tls = TlsContext::Load({Pki().server_cert(), Pki().server_key()}, &error);
    REQUIRE_MESSAGE(static_cast<bool>(options.tls), error);
    auto router = std::make_shared<Router>();
    router->AddInline("GET", "/healthz",
                      [](HttpContext& ctx) { ctx.SendJson(200, "{\"status\":\"ok\"}"); });
    router->Add("POST", "/echo", [](HttpContext& ctx) {
      std::string body;
      if (ctx.ReadBody(&body)) ctx.SendText(200, body);
    });
    options.port = 0;
    server_ = std::make_unique<HttpServer>(options, router);
    server_->Start();
  }
  int port() const { return server_->port(); }
  HttpServer& server() { return *server_; }

 private:
  std::unique_ptr<HttpServer> server_;
};

const char kHealthz[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

}  // namespace

TEST_SUITE("engine.http.tls") {
  TEST_CASE("TlsContext::Load refuses a bad setup, naming the key, the file and the reason") {
    const TestPki& pki = Pki();
    struct Case {
      std::string cert;
      std::string key;
      std::string expected;
    };
    const Case cases[] = {
        {pki.server_cert(), "",
         "server.tls.cert '" + pki.server_cert() + "' is set but server.tls.key is not"},
        {"", pki.server_key(),
         "server.tls.key '" + pki.server_key() + "' is set but server.tls.cert is not"},
        {pki.server_cert(), pki.dir() + "/missing.key",
         "server.tls.key '" + pki.dir() + "/missing.key': No such file or directory"},
        {pki.dir(), pki.server_key(), "server.tls.cert '" + pki.dir() + "': not a regular file"},
        {pki.not_pem(), pki.server_key(),
         "server.tls.cert '" + pki.not_pem() + "': no PEM certificate in it"},
        {pki.server_cert(), pki.not_pem(),
         "server.tls.key '" + pki.not_pem() + "': no PEM private key in it"},
        {pki.server_cert(), pki.encrypted_key(),
         "server.tls.key '" + pki.encrypted_key() + "': the key is encrypted"},
        {pki.server_cert(), pki.other_key(),
         "server.tls.key '" + pki.other_key() + "' does not match the certificate in " +
             "server.tls.cert '" + pki.server_cert() + "'"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.expected);
      std::string error;
      CHECK(TlsContext::Load({c.cert, c.key}, &error).get() == nullptr);
      CHECK(error.find(c.expected) != std::string::npos);
      CHECK(error.find("not-a-real-secret") == std::string::npos);
    }
    std::string error = "stale";
    CHECK(TlsContext::Load({"", ""}, &error).get() == nullptr);
    CHECK(error.empty());
    CHECK(TlsContext::Load({pki.server_cert(), pki.server_key()}, &error).get() != nullptr);
    CHECK(error.empty());
  }

  TEST_CASE("a verified client is answered: keep-alive, a 1 MiB body both ways, TLS 1.3 and 1.2") {
    HttpServerOptions options;
    options.max_body_bytes = 2 << 20;
    TlsTestServer server(options);
    TlsClient client(server.port(), Pki().ca_cert());
    REQUIRE_MESSAGE(client.connected(), client.error());
    CHECK(client.verify_result() == X509_V_OK);
    CHECK(client.version() == TLS1_3_VERSION);
    client.Send(kHealthz);
    std::string response = client.ReadResponse();
    CHECK(StatusOf(response) == 200);
    CHECK(BodyOf(response) == "{\"status\":\"ok\"}");
    // Larger than a TLS record and than the socket buffers: partial writes and
    // several records per read on both sides.
    std::string body(1 << 20, 'x');
    for (size_t i = 0; i < body.size(); i += 997) body[i] = static_cast<char>('a' + i % 26);
    client.Send("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
    response = client.ReadResponse();
    CHECK(StatusOf(response) == 200);
    CHECK(BodyOf(response) == body);
    client.Send(kHealthz);  // the same connection, still open
    CHECK(StatusOf(client.ReadResponse()) == 200);

    TlsClient tls12(server.port(), Pki().ca_cert(), TLS1_2_VERSION);
    REQUIRE_MESSAGE(tls12.connected(), tls12.error());
    CHECK(tls12.version() == TLS1_2_VERSION);
    tls12.Send(kHealthz);
    CHECK(StatusOf(tls12.ReadResponse()) == 200);
    CHECK(server.server().stats().tls_failed_total == 0);
  }

  TEST_CASE("TLS 1.1 and 1.0 are refused with a protocol_version alert") {
    TlsTestServer server;
    for (int version : {TLS1_1_VERSION, TLS1_VERSION}) {
      CAPTURE(version);
      TlsClient old(server.port(), Pki().ca_cert(), version);
      CHECK_FALSE(old.connected());
      CHECK(old.error() == "tlsv1 alert protocol version");
    }
    CHECK(WaitUntil([&] { return server.server().stats().tls_failed_total == 2; }));
  }

  TEST_CASE("a client trusting another CA refuses the server") {
    TlsTestServer server;
    TlsClient client(server.port(), Pki().other_ca_cert());
    CHECK_FALSE(client.connected());
    CHECK(client.error() == "certificate verify failed");
    CHECK(client.verify_result() == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    // The server hears the client's alert and lets the connection go.
    CHECK(WaitUntil([&] { return server.server().stats().tls_failed_total == 1; }));
    CHECK(WaitUntil([&] { return server.server().stats().open_connections == 0; }));
  }

  TEST_CASE("a stalled handshake is closed at the header deadline") {
    HttpServerOptions options;
    options.header_timeout_ms = 200;
    TlsTestServer server(options);
    const auto start = std::chrono::steady_clock::now();
    RawClient silent(server.port());
    RawClient partial(server.port());
    partial.Send(std::string("\x16\x03\x01\x02\x00\x01", 6));  // a ClientHello that stops
    CHECK(silent.ClosedByServer());
    CHECK(partial.ClosedByServer());
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    CHECK(waited.count() >= 190);  // not before the deadline (ms rounding aside)
    CHECK(WaitUntil([&] { return server.server().stats().timed_out_total == 2; }));
    CHECK(WaitUntil([&] { return server.server().stats().open_connections == 0; }));
    // Verified clients are still served.
    TlsClient client(server.port(), Pki().ca_cert());
    REQUIRE_MESSAGE(client.connected(), client.error());
    client.Send(kHealthz);
    CHECK(StatusOf(client.ReadResponse()) == 200);
  }

  TEST_CASE("plain HTTP on the TLS port gets a plain 400 and a close, other bytes a close") {
    TlsTestServer server;
    RawClient plain(server.port());
    plain.Send(kHealthz);
    std::string response = plain.ReadResponse();
    CHECK(StatusOf(response) == 400);
    CHECK(BodyOf(response) == "{\"error\":\"this port speaks HTTPS only: use https://\"}");
    CHECK(plain.ClosedByServer());
    RawClient other(server.port());
    other.Send("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(other.ClosedByServer());
    CHECK(WaitUntil([&] { return server.server().stats().tls_failed_total == 2; }));
  }

  TEST_CASE("Stop closes idle and handshaking TLS connections") {
    auto server = std::make_unique<TlsTestServer>();
    TlsClient idle(server->port(), Pki().ca_cert());
    REQUIRE_MESSAGE(idle.connected(), idle.error());
    idle.Send(kHealthz);
    CHECK(StatusOf(idle.ReadResponse()) == 200);
    RawClient handshaking(server->port());
    REQUIRE(WaitUntil([&] { return server->server().stats().open_connections == 2; }));
    server->server().Stop();
    CHECK(idle.ClosedByServer());
    CHECK(handshaking.ClosedByServer());
  }
}

}  // namespace crmsync::engine
