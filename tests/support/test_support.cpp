// Test helpers; see test_support.h.
#include "test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <Poco/Base64Encoder.h>
#include <Poco/DigestEngine.h>
#include <Poco/File.h>
#include <Poco/SHA2Engine.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>

namespace crmsync::testing {

TempDir::TempDir() {
  char pattern[] = "/tmp/crmsync-test-XXXXXX";
  char* made = mkdtemp(pattern);
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = made;
}

TempDir::~TempDir() {
  try {
    Poco::File(path_).remove(true);
  } catch (...) {
  }
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool IsValidUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Ports are drawn below the kernel's ephemeral range (32768 and up here, see
// /proc/sys/net/ipv4/ip_local_port_range), so no outgoing connection of any
// process takes one between FreePort() and the bind. Each port drawn is held
// by an flock on /tmp/crmsync-test-ports/<port> until this process exits, so
// test processes running at once (ctest -j) never draw the same one.
int FreePort() {
  constexpr int kLow = 20000;
  constexpr int kHigh = 32000;
  static std::mutex mu;
  static std::mt19937 random(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  std::lock_guard<std::mutex> lock(mu);
  const std::string dir = "/tmp/crmsync-test-ports";
  mkdir(dir.c_str(), 0777);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int port = std::uniform_int_distribution<int>(kLow, kHigh)(random);
    std::string path = dir + "/" + std::to_string(port);
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);  // another test process holds it
      continue;
    }
    try {
      Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", port));
    } catch (const std::exception&) {
      close(fd);  // in use by something that is not ours
      continue;
    }
    return port;  // fd stays open: the reservation ends with the process
  }
  throw std::runtime_error("FreePort: no free port in 20000-32000 after 1000 tries");
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

namespace {

class LoopbackHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit LoopbackHandler(const LoopbackHttpServer::Handle* handle) : handle_(handle) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    (*handle_)(request, response);
  }

 private:
  const LoopbackHttpServer::Handle* handle_;
};

class LoopbackFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit LoopbackFactory(LoopbackHttpServer::Handle handle) : handle_(std::move(handle)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new LoopbackHandler(&handle_);
  }

 private:
  LoopbackHttpServer::Handle handle_;
};

}  // namespace

LoopbackHttpServer::LoopbackHttpServer(Handle handle) {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  port_ = socket.address().port();
  server_ = std::make_unique<Poco::Net::HTTPServer>(new LoopbackFactory(std::move(handle)), socket,
                                                    new Poco::Net::HTTPServerParams());
  server_->start();
}

LoopbackHttpServer::~LoopbackHttpServer() { server_->stopAll(true); }

int64_t UnfinishedJobs(int port) {
  HttpResult r = HttpCall(port, "GET", "/metrics");
  if (r.status != 200) return -1;
  int64_t total = 0;
  for (const char* state : {"ready", "queued", "delayed", "leased"}) {
    std::string key = std::string("crmsync_queue_jobs{state=\"") + state + "\"} ";
    size_t at = r.body.find(key);
    if (at == std::string::npos) return -1;
    total += std::stoll(r.body.substr(at + key.size()));
  }
  return total;
}

struct EventPoster::Session {
  std::unique_ptr<Poco::Net::HTTPClientSession> http;
};

EventPoster::EventPoster(int port, std::string token) : port_(port), token_(std::move(token)) {}

EventPoster::~EventPoster() = default;

int EventPoster::Post(int port, const std::string& body) {
  try {
    if (!session_ || port != port_) {
      port_ = port;
      session_ = std::make_unique<Session>();
      session_->http = std::make_unique<Poco::Net::HTTPClientSession>(
          "127.0.0.1", static_cast<Poco::UInt16>(port));
      session_->http->setKeepAlive(true);
      session_->http->setTimeout(Poco::Timespan(30, 0));
    }
    Poco::Net::HTTPRequest request("POST", "/api/v1/events", Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + token_);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    request.setKeepAlive(true);
    session_->http->sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::string answer;
    Poco::StreamCopier::copyToString(session_->http->receiveResponse(response), answer);
    return static_cast<int>(response.getStatus());
  } catch (const Poco::Exception&) {
    session_.reset();
    return 0;
  }
}

HttpResult HttpCall(int port, const std::string& method, const std::string& path,
                    const std::string& body, const std::map<std::string, std::string>& headers) {
  HttpResult result;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : headers) request.set(k, v);
    if (!body.empty() || method == "POST" || method == "PUT") {
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      if (!request.has("Content-Type")) request.setContentType("application/json");
    }
    std::ostream& out = session.sendRequest(request);
    out << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(in, result.body);
    result.status = static_cast<int>(response.getStatus());
    for (const auto& [k, v] : response) result.headers[k] = v;
  } catch (const Poco::Exception&) {
    result.status = 0;
  }
  return result;
}

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env) {
  out_path_ = dir_.File("stdout");
  err_path_ = dir_.File("stderr");
  std::vector<std::string> argv_store;
  argv_store.push_back(program);
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : argv_store) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && exit_code_ < 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0 && exit_code_ < 0) kill(pid_, sig);
}

bool ChildProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (exit_code_ >= 0) return true;
  return WaitUntil(
      [&] {
        int status = 0;
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
          exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          return true;
        }
        return false;
      },
      timeout);
}

std::string ChildProcess::Stdout() const { return ReadFile(out_path_); }
std::string ChildProcess::Stderr() const { return ReadFile(err_path_); }

int RunCommand(const std::string& program, const std::vector<std::string>& args,
               std::string* output, const std::map<std::string, std::string>& env) {
  ChildProcess child(program, args, env);
  child.WaitExit(std::chrono::minutes(5));
  if (output) *output = child.Stdout() + child.Stderr();
  return child.exit_code();
}

std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t colon = dirs.find(':', start);
    if (colon == std::string::npos) colon = dirs.size();
    std::string candidate = dirs.substr(start, colon - start) + "/" + program;
    if (colon > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = colon + 1;
  }
  return "";
}

std::vector<std::string> LinesStartingWith(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

int StatusOf(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 9, "HTTP/1.1 ") != 0) return 0;
  return std::stoi(response.substr(9, 3));
}

std::string BodyOf(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::string Sha256(const std::string& data) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(data);
  const Poco::DigestEngine::Digest& digest = engine.digest();
  return std::string(digest.begin(), digest.end());
}

std::string HmacSha256(const std::string& key, const std::string& message) {
  std::string block = key.size() > 64 ? Sha256(key) : key;
  block.resize(64, '\0');
  std::string inner(64, '\0');
  std::string outer(64, '\0');
  for (size_t i = 0; i < 64; ++i) {
    inner[i] = static_cast<char>(block[i] ^ 0x36);
    outer[i] = static_cast<char>(block[i] ^ 0x5c);
  }
  return Sha256(outer + Sha256(inner + message));
}

std::string Base64(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << bytes;
  encoder.close();
  return out.str();
}

std::string Hex(const std::string& bytes) {
  return Poco::DigestEngine::digestToHex(Poco::DigestEngine::Digest(bytes.begin(), bytes.end()));
}

}  // namespace crmsync::testing
