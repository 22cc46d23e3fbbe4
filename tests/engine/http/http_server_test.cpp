// http_server_test.cpp: the epoll HTTP server over raw sockets on loopback.
//
// Each strictness rule: the answer's status and that the server then closes
// the connection. Idle and slow connections: 300 idle keep-alive connections
// do not delay /healthz or a handler route; a slow head gets 408 at its
// deadline; idle connections are closed at the keep-alive timeout, early when
// the server is busy, and the longest idle one makes room at max_connections.
// Also pipelining, 100-continue, deferred answers, 413, HTTP/1.0, and valid
// UTF-8 JSON in error bodies.
//
// Nothing sleeps: a test waits on the socket (a blocking read with a bound) or
// on the server's counters.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/router.h"
#include "http/server.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::BodyOf;
using crmsync::testing::IsValidUtf8;
using crmsync::testing::StatusOf;
using crmsync::testing::WaitUntil;

// A raw TCP client: what it sends is exactly what goes on the wire.
class RawClient {
 public:
  explicit RawClient(int port, int timeout_ms = 5000) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  void Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  // Reads one whole response (head + Content-Length body). Empty when the
  // connection closed or the read timed out first.
  std::string ReadResponse() {
    while (true) {
      size_t head_end = buffer_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t length = 0;
        size_t cl = Lower(buffer_.substr(0, head_end)).find("content-length: ");
        if (cl != std::string::npos) length = std::stoul(buffer_.substr(cl + 16));
        size_t total = head_end + 4 + length;
        if (buffer_.compare(0, 12, "HTTP/1.1 100") == 0) total = head_end + 4;
        if (buffer_.size() >= total) {
          std::string response = buffer_.substr(0, total);
          buffer_.erase(0, total);
          return response;
        }
      }
      if (!ReadMore()) return "";
    }
  }

  // True when the server closes the connection (EOF) before the timeout,
  // with nothing more to read.
  bool ClosedByServer() {
    char c;
    while (true) {
      ssize_t n = recv(fd_, &c, 1, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      buffer_.push_back(c);  // unexpected bytes: not a clean close
      return false;
    }
  }

 private:
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  bool ReadMore() {
    char chunk[16384];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

// A gate a handler waits on, so a test holds handler threads busy at will.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  void WaitForWaiters(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return waiting_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
};

// A server with /healthz (inline), /echo (body back), /hold (waits on a gate),
// /later (answers from another thread) and /big (reads the body).
class TestServer {
 public:
  explicit TestServer(HttpServerOptions options = {}) {
    auto router = std::make_shared<Router>();
    router->AddInline("GET", "/healthz", [](HttpContext& ctx) { ctx.SendJson(200, "{\"status\":\"ok\"}"); });
    router->Add("POST", "/echo", [](HttpContext& ctx) {
      std::string body;
      if (ctx.ReadBody(&body)) ctx.SendText(200, body);
    });
    router->Add("GET", "/work", [](HttpContext& ctx) { ctx.SendJson(200, "{\"done\":true}"); });
    router->Add("GET", "/hold", [this](HttpContext& ctx) {
      gate_.Wait();
      ctx.SendJson(200, "{\"held\":true}");
    });
    router->Add("GET", "/later", [this](HttpContext& ctx) {
      std::shared_ptr<HttpContext> answer = ctx.Defer();
      std::lock_guard<std::mutex> lock(mu_);
      later_.emplace_back([answer] { answer->SendJson(200, "{\"later\":true}"); });
    });
    options.port = crmsync::testing::FreePort();
    server_ = std::make_unique<HttpServer>(options, router);
    server_->Start();
  }
  ~TestServer() {
    gate_.Open();
    server_->Stop();
    for (std::thread& t : later_) t.join();
  }
  int port() const { return server_->port(); }
  HttpServer& server() { return *server_; }
  Gate& gate() { return gate_; }

 private:
  Gate gate_;
  std::mutex mu_;
  std::vector<std::thread> later_;
  std::unique_ptr<HttpServer> server_;
};

// Sends `request` on a fresh connection: the answer's status, and whether the
// server closed the connection after it.
struct Answer {
  int status = 0;
  bool closed = false;
  std::string response;
};
Answer Exchange(int port, const std::string& request) {
  RawClient client(port);
  REQUIRE(client.connected());
  client.Send(request);
  Answer a;
  a.response = client.ReadResponse();
  a.status = StatusOf(a.response);
  a.closed = client.ClosedByServer();
  return a;
}

TEST_SUITE("http server") {
  TEST_CASE("strict framing: each refusal answers its status and closes the connection") {
    TestServer server;
    struct Rule {
      const char* name;
      std::string request;
      int status;
    };
    const std::vector<Rule> rules = {
        {"negative Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\nhello", 400},
        {"non-numeric Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: five\r\n\r\nhello", 400},
        {"repeated Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400},
        {"listed Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", 400},
        {"Content-Length with Transfer-Encoding", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400},
        {"unsupported Transfer-Encoding", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"missing Host", "GET /work HTTP/1.1\r\n\r\n", 400},
        {"folded header", "GET /work HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", 400},
        {"space before colon", "GET /work HTTP/1.1\r\nHost : a\r\n\r\n", 400},
        {"bad chunk size", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\nhello\r\n0\r\n\r\n", 400},
        {"HTTP/2 request line", "GET /work HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        {"garbage", "\x16\x03\x01\x02\x05\xfc\x03\x03\r\n\r\n", 400},
        {"Expect other than 100-continue", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: x\r\n\r\na", 417},
        {"head too large", "GET /work HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(20000, 'x') + "\r\n\r\n", 431},
    };
    for (const Rule& rule : rules) {
      CAPTURE(rule.name);
      Answer a = Exchange(server.port(), rule.request);
      CHECK(a.status == rule.status);
      CHECK(a.closed);
      CHECK(a.response.find("Connection: close\r\n") != std::string::npos);
      CHECK(IsValidUtf8(BodyOf(a.response)));
      CHECK(BodyOf(a.response).rfind("{\"error\":", 0) == 0);
    }
    // The server still serves after all of that.
    CHECK(Exchange(server.port(), "GET /work HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").status == 200);
  }

  TEST_CASE("every status line has a reason phrase and error bodies are valid UTF-8 JSON") {
    TestServer server;
    RawClient client(server.port());
    client.Send("GET /no\xff\xfesuch HTTP/1.1\r\nHost: a\r\n\r\n");
    std::string not_found = client.ReadResponse();
    CHECK(not_found.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
    CHECK(IsValidUtf8(not_found));
    CHECK(BodyOf(not_found).find("\xef\xbf\xbd") != std::string::npos);
    client.Send("DELETE /work HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(client.ReadResponse().rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
    client.Send("GET /work HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(client.ReadResponse().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  }

  TEST_CASE("300 idle keep-alive connections do not delay /healthz or a handler route") {
    HttpServerOptions options;
    options.threads = 2;
    TestServer server(options);
    std::vector<std::unique_ptr<RawClient>> idle;
    for (int i = 0; i < 300; ++i) {
      idle.push_back(std::make_unique<RawClient>(server.port()));
      REQUIRE(idle.back()->connected());
    }
    // Some of them sent half a request head and stopped.
    for (int i = 0; i < 300; i += 3) idle[static_cast<size_t>(i)]->Send("GET /work HTTP/1.1\r\nHo");
    REQUIRE(WaitUntil([&] { return server.server().stats().open_connections >= 300; },
                      std::chrono::seconds(10)));
    RawClient health(server.port(), /*timeout_ms=*/1000);
    health.Send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(StatusOf(health.ReadResponse()) == 200);
    RawClient work(server.port(), /*timeout_ms=*/1000);
    work.Send("GET /work HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(StatusOf(work.ReadResponse()) == 200);
    // Every idle connection is still usable.
    for (size_t i = 1; i < idle.size(); i += 51) {  // not the ones with half a head
      idle[i]->Send("GET /work HTTP/1.1\r\nHost: a\r\n\r\n");
      CHECK(StatusOf(idle[i]->ReadResponse()) == 200);
    }
  }

  TEST_CASE("/healthz answers while every handler thread is busy") {
    HttpServerOptions options;
    options.threads = 2;
    TestServer server(options);
    RawClient a(server.port());
    RawClient b(server.port());
    a.Send("GET /hold HTTP/1.1\r\nHost: a\r\n\r\n");
    b.Send("GET /hold HTTP/1.1\r\nHost: a\r\n\r\n");
    server.gate().WaitForWaiters(2);
    RawClient health(server.port(), 1000);
    health.Send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(StatusOf(health.ReadResponse()) == 200);
    server.gate().Open();
    CHECK(StatusOf(a.ReadResponse()) == 200);
    CHECK(StatusOf(b.ReadResponse()) == 200);
  }

  TEST_CASE("a slow request head gets 408 at its deadline and the connection is closed") {
    HttpServerOptions options;
    options.header_timeout_ms = 200;
    TestServer server(options);
    RawClient slow(server.port());
    slow.Send("GET /work HTTP/1.1\r\nHost:");
    std::string response = slow.ReadResponse();
    CHECK(StatusOf(response) == 408);
    CHECK(response.find("Request Timeout") != std::string::npos);
    CHECK(slow.ClosedByServer());
    CHECK(server.server().stats().timed_out_total == 1);
  }

  TEST_CASE("a slow body gets 408 at its deadline") {
    HttpServerOptions options;
    options.body_timeout_ms = 200;
    TestServer server(options);
    RawClient slow(server.port());
    slow.Send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(StatusOf(slow.ReadResponse()) == 408);
    CHECK(slow.ClosedByServer());
  }

  TEST_CASE("idle keep-alive connections close at the timeout, early when the server is busy") {
    HttpServerOptions options;
    options.idle_timeout_ms = 300;
    TestServer quiet(options);
    RawClient idle(quiet.port());
    idle.Send("GET /work HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(StatusOf(idle.ReadResponse()) == 200);
    CHECK(idle.ClosedByServer());
    CHECK(quiet.server().stats().idle_closed_total == 1);

    HttpServerOptions busy_options;
    busy_options.idle_timeout_ms = 60000;
    busy_options.busy_idle_timeout_ms = 200;
    busy_options.busy_connections = 4;
    TestServer busy(busy_options);
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 6; ++i) {
      clients.push_back(std::make_unique<RawClient>(busy.port(), 5000));
      REQUIRE(WaitUntil([&] { return busy.server().stats().open_connections == i + 1; },
                        std::chrono::seconds(5)));
    }
    // Above 4 open, the longest idle ones go after 200 ms instead of a minute,
    // until 4 are open.
    CHECK(clients[0]->ClosedByServer());
    CHECK(clients[1]->ClosedByServer());
    CHECK(busy.server().stats().idle_closed_total == 2);
    clients[5]->Send("GET /work HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(StatusOf(clients[5]->ReadResponse()) == 200);
  }

  TEST_CASE("at max_connections the longest idle connection makes room for a new one") {
    HttpServerOptions options;
    options.max_connections = 16;
    TestServer server(options);
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 16; ++i) {
      clients.push_back(std::make_unique<RawClient>(server.port()));
      REQUIRE(WaitUntil([&] { return server.server().stats().open_connections == i + 1; },
                        std::chrono::seconds(5)));
    }
    RawClient newcomer(server.port());
    newcomer.Send("GET /work HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(StatusOf(newcomer.ReadResponse()) == 200);
    CHECK(clients[0]->ClosedByServer());
  }

  TEST_CASE("at max_connections with none idle, a new connection gets 503 and is closed") {
    HttpServerOptions options;
    options.max_connections = 16;
    options.threads = 16;
    TestServer server(options);
    std::vector<std::unique_ptr<RawClient>> held;
    for (int i = 0; i < 16; ++i) {
      held.push_back(std::make_unique<RawClient>(server.port()));
      held.back()->Send("GET /hold HTTP/1.1\r\nHost: a\r\n\r\n");
    }
    server.gate().WaitForWaiters(16);
    RawClient refused(server.port());
    std::string response = refused.ReadResponse();
    CHECK(StatusOf(response) == 503);
    CHECK(refused.ClosedByServer());
    CHECK(server.server().stats().shed_total == 1);
    server.gate().Open();
    for (auto& c : held) CHECK(StatusOf(c->ReadResponse()) == 200);
  }

  TEST_CASE("pipelined requests are answered in order on one connection") {
    TestServer server;
    RawClient client(server.port());
    client.Send(
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\none"
        "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"
        "GET /work HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(BodyOf(client.ReadResponse()) == "one");
    CHECK(BodyOf(client.ReadResponse()) == "two");
    CHECK(StatusOf(client.ReadResponse()) == 200);
  }

  TEST_CASE("Expect: 100-continue gets 100 before the body is sent") {
    TestServer server;
    RawClient client(server.port());
    client.Send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    CHECK(client.ReadResponse().rfind("HTTP/1.1 100 Continue\r\n", 0) == 0);
    client.Send("hello");
    CHECK(BodyOf(client.ReadResponse()) == "hello");
  }

  TEST_CASE("a body over the limit: 413 from the route, unread, and the connection closes") {
    HttpServerOptions options;
    options.max_body_bytes = 1024;
    TestServer server(options);
    Answer declared = Exchange(server.port(), "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x'));
    CHECK(declared.status == 413);
    CHECK(declared.closed);
    CHECK(BodyOf(declared.response).find("5000 bytes exceeds the limit of 1024") != std::string::npos);
    std::string chunked = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) chunked += "200\r\n" + std::string(512, 'y') + "\r\n";
    Answer streamed = Exchange(server.port(), chunked + "0\r\n\r\n");
    CHECK(streamed.status == 413);
    CHECK(streamed.closed);
  }

  TEST_CASE("a deferred answer comes from another thread, HTTP/1.0 closes after it") {
    TestServer server;
    RawClient client(server.port());
    client.Send("GET /later HTTP/1.1\r\nHost: a\r\n\r\n");
    std::string response = client.ReadResponse();
    CHECK(StatusOf(response) == 200);
    CHECK(BodyOf(response) == "{\"later\":true}");
    client.Send("GET /work HTTP/1.1\r\nHost: a\r\n\r\n");  // still open
    CHECK(StatusOf(client.ReadResponse()) == 200);

    Answer old = Exchange(server.port(), "GET /work HTTP/1.0\r\n\r\n");
    CHECK(old.status == 200);
    CHECK(old.closed);
  }

  TEST_CASE("Stop answers the request in progress, then closes") {
    auto server = std::make_unique<TestServer>();
    RawClient client(server->port());
    client.Send("GET /hold HTTP/1.1\r\nHost: a\r\n\r\n");
    server->gate().WaitForWaiters(1);
    std::thread stopper([&] { server->server().Stop(); });
    server->gate().Open();
    CHECK(StatusOf(client.ReadResponse()) == 200);
    stopper.join();
    CHECK(client.ClosedByServer());
  }
}

}  // namespace
}  // namespace crmsync::engine
