// test_support.h: helpers shared by every test executable.
//
// No sleeps stand in for waiting: WaitUntil() polls a condition until a
// deadline and reports whether it held.
#ifndef CRMSYNC_TESTS_TEST_SUPPORT_H_
#define CRMSYNC_TESTS_TEST_SUPPORT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace Poco::Net {
class HTTPServer;
class HTTPServerRequest;
class HTTPServerResponse;
}  // namespace Poco::Net

namespace crmsync::testing {

/// A fresh folder under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  /// path() + "/" + name.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Writes `content` to `path`, replacing it.
void WriteFile(const std::string& path, const std::string& content);
/// Reads a whole file; "" when it cannot be read.
std::string ReadFile(const std::string& path);

/// True when `s` is well-formed UTF-8 (lead bytes and continuations; the
/// engine's JsonQuote is what rejects overlongs and surrogates).
bool IsValidUtf8(const std::string& s);

/// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

/// Polls `condition` every few milliseconds until it returns true or `timeout`
/// passes; returns the last result.
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = std::chrono::seconds(20));

/// A plain HTTP answer for tests.
struct HttpResult {
  int status = 0;  ///< 0 when the connection failed.
  std::string body;
  std::map<std::string, std::string> headers;
};

/// One HTTP request to 127.0.0.1:`port`, on a fresh connection.
HttpResult HttpCall(int port, const std::string& method, const std::string& path,
                    const std::string& body = "",
                    const std::map<std::string, std::string>& headers = {});

/// An HTTP server on 127.0.0.1, on a port the system picks, handing every
/// request to `handle` on one of its threads (test CRMs, alert and callback
/// receivers). Stops, waiting for requests in hand, when destroyed.
class LoopbackHttpServer {
 public:
  using Handle =
      std::function<void(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse&)>;
  explicit LoopbackHttpServer(Handle handle);
  ~LoopbackHttpServer();
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;
  int port() const { return port_; }

 private:
  int port_ = 0;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

/// Jobs not finished (ready, queued, delayed, leased) by the engine's /metrics
/// on 127.0.0.1:`port`; -1 when it does not answer. With a shared store, the
/// figure covers every engine on it.
int64_t UnfinishedJobs(int port);

/// POSTs event bodies to /api/v1/events on 127.0.0.1 over one keep-alive
/// connection, with a bearer token; reconnects after a failure, and when
/// Post() names another port (a client failing over to another engine).
class EventPoster {
 public:
  EventPoster(int port, std::string token);
  ~EventPoster();
  EventPoster(const EventPoster&) = delete;
  EventPoster& operator=(const EventPoster&) = delete;
  /// The HTTP status, or 0 when the engine did not answer.
  int Post(const std::string& body) { return Post(port_, body); }
  int Post(int port, const std::string& body);

 private:
  struct Session;
  int port_;
  std::string token_;
  std::unique_ptr<Session> session_;
};

/// A child process with its stdout and stderr captured to files.
class ChildProcess {
 public:
  /// Starts `program` with `args` (and the current environment plus `env`).
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env = {});
  ~ChildProcess();  ///< Kills (SIGKILL) and reaps the child if still running.
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }
  /// Sends a signal (SIGTERM, SIGKILL, ...).
  void Signal(int sig);
  /// Waits until the child exits or `timeout` passes; true when it exited.
  bool WaitExit(std::chrono::milliseconds timeout);
  /// Exit code after WaitExit(); 128+signal when killed by a signal; -1 before.
  int exit_code() const { return exit_code_; }
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  int pid_ = -1;
  int exit_code_ = -1;
  std::string out_path_;
  std::string err_path_;
  TempDir dir_;
};

/// Runs `program` with `args` to completion; returns its exit code and fills
/// `output` with stdout and stderr together.
int RunCommand(const std::string& program, const std::vector<std::string>& args,
               std::string* output, const std::map<std::string, std::string>& env = {});

/// The full path of an executable `program` on PATH, or "" when none is.
std::string FindOnPath(const std::string& program);

/// The lines of `text` that start with `prefix`, in order.
std::vector<std::string> LinesStartingWith(const std::string& text, const std::string& prefix);

/// The status of a raw HTTP/1.1 answer ("HTTP/1.1 200 OK\r\n..."), 0 when
/// it does not start like one.
int StatusOf(const std::string& response);
/// The bytes after the head of a raw HTTP answer, "" when the head is unfinished.
std::string BodyOf(const std::string& response);

// Digests for checking and making webhook signatures in tests, written out on
// Poco's SHA-256 so that they are a second implementation of the vendors'
// recipes, not the SDK's own code: raw SHA-256, HMAC-SHA256 (RFC 2104), and
// base64 (one line) / lower-case hex of raw bytes.
std::string Sha256(const std::string& data);
std::string HmacSha256(const std::string& key, const std::string& message);
std::string Base64(const std::string& bytes);
std::string Hex(const std::string& bytes);

}  // namespace crmsync::testing

#endif  // CRMSYNC_TESTS_TEST_SUPPORT_H_
