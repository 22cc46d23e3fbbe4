// The epoll HTTP/1.1 server; see server.h and docs/http-server.md.
#include "http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <Poco/Logger.h>

#include "common/json_writer.h"

namespace crmsync::engine {
namespace {

constexpr uint64_t kListenId = 0;
constexpr uint64_t kWakeId = 1;
constexpr int64_t kSweepMs = 50;
constexpr int64_t kLingerMs = 2000;
constexpr int64_t kStopGraceMs = 10000;

int64_t MonoMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Poco::Logger& Log() { return Poco::Logger::get("crmsync.http"); }

// Raises the soft limit on open files to the hard limit and returns it: each
// connection is a file descriptor.
int64_t RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? (1 << 20) : static_cast<int64_t>(limit.rlim_cur);
}

// Binds and listens; returns the socket and the bound port.
int Listen(const std::string& host, int port, int backlog, int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) throw std::runtime_error(gai_strerror(rc));
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // never SO_REUSEPORT: a busy port is an error
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, backlog) == 0) break;
    last_error = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0) throw std::runtime_error(last_error);
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *bound_port = addr.ss_family == AF_INET6
                    ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                    : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return fd;
}

struct Conn {
  enum class State {
    kHandshake, // TLS only: the handshake, before any request
    kIdle,      // keep-alive, between requests
    kHead,      // reading a request head
    kBody,      // reading its body
    kHandling,  // a handler has it; nothing is read
    kWriting,   // writing an answer
    kLinger,    // answered and closing: our side shut, the peer's bytes dropped
  };
  int fd = -1;
  uint64_t id = 0;
  State state = State::kIdle;
  std::string in;
  std::string out;
  size_t out_off = 0;
  bool close_after_write = false;
  int64_t since_ms = 0;     // when the current state began (idle: since when)
  uint64_t idle_seq = 0;    // order of becoming idle: the lowest has waited longest
  int64_t deadline_ms = 0;  // for kHead, kBody, kWriting, kLinger
  uint32_t interest = EPOLLIN;
  HttpRequestHead head;
  std::string body;
  std::unique_ptr<ChunkedDecoder> chunked;
  // TLS only (options.tls): the connection's SSL, whether a close_notify may
  // still be sent (handshake done, no fatal error), and the epoll interest
  // OpenSSL asked for beyond what the state implies (a read that must write,
  // a write that must read).
  SSL* ssl = nullptr;
  bool tls_ok = false;
  uint32_t tls_extra = 0;

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {
    if (ssl != nullptr) SSL_free(ssl);  // the fd is closed by its owner, not by OpenSSL
  }
};

struct Task {
  uint64_t id;
  ServerRequest request;
};

struct Posted {
  uint64_t id;
  std::string bytes;
  bool close;
};

}  // namespace

class HttpServer::Core : public std::enable_shared_from_this<HttpServer::Core> {
 public:
  Core(HttpServerOptions options, std::shared_ptr<const Router> router, int listen_fd,
       int max_connections)
      : options_(std::move(options)),
        router_(std::move(router)),
        listen_fd_(listen_fd),
        max_connections_(max_connections) {
    busy_connections_ = options_.busy_connections > 0 ? options_.busy_connections
                                                      : std::max(1, max_connections_ * 3 / 4);
    limits_.max_head_bytes = options_.max_head_bytes;
  }

  ~Core() {
    for (auto& [id, conn] : conns_) close(conn->fd);
    if (listen_fd_ >= 0) close(listen_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    if (epfd_ >= 0) close(epfd_);
  }

  void Start() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd_ < 0 || wake_fd_ < 0) throw std::runtime_error(std::strerror(errno));
    Watch(listen_fd_, kListenId, EPOLLIN);
    Watch(wake_fd_, kWakeId, EPOLLIN);
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      workers_.emplace_back([this] { WorkerLoop(); });
    }
    io_thread_ = std::thread([this] { IoLoop(); });
  }

  void Stop() {
    stopping_.store(true);
    Wake();
    if (io_thread_.joinable()) io_thread_.join();
    {
      std::lock_guard<std::mutex> lock(work_mu_);
      workers_stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  // From any thread: the answer to request `id`.
  void Post(uint64_t id, std::string bytes, bool close) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(post_mu_);
      if (io_done_) return;
      wake = posted_.empty() && std::this_thread::get_id() != io_thread_id_;
      posted_.push_back(Posted{id, std::move(bytes), close});
    }
    if (wake) Wake();
  }

  HttpServerStats stats() const {
    HttpServerStats s;
    s.open_connections = open_.load();
    s.accepted_total = accepted_.load();
    s.requests_total = requests_.load();
    s.refused_total = refused_.load();
    s.timed_out_total = timed_out_.load();
    s.idle_closed_total = idle_closed_.load();
    s.shed_total = shed_.load();
    s.tls_failed_total = tls_failed_.load();
    return s;
  }

 private:
  void Watch(int fd, uint64_t id, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }

  void Wake() {
    uint64_t one = 1;
    ssize_t n = write(wake_fd_, &one, sizeof(one));
    (void)n;  // EAGAIN: a wake-up is already pending
  }

  // ---- the I/O thread ----------------------------------------------------

  void IoLoop() {
    io_thread_id_ = std::this_thread::get_id();
    std::vector<epoll_event> events(512);
    int64_t next_sweep = MonoMs() + kSweepMs;
    int64_t stop_deadline = -1;
    while (true) {
      bool have_posted;
      {
        std::lock_guard<std::mutex> lock(post_mu_);
        have_posted = !posted_.empty();
      }
      int64_t now = MonoMs();
      int timeout = have_posted ? 0 : static_cast<int>(std::max<int64_t>(0, next_sweep - now));
      int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), timeout);
      if (n < 0 && errno != EINTR) {
        Log().error("epoll_wait failed: %s", std::string(std::strerror(errno)));
        break;
      }
      for (int i = 0; i < n; ++i) {
        const uint64_t id = events[i].data.u64;
        if (id == kListenId) {
          AcceptAll();
        } else if (id == kWakeId) {
          uint64_t count;
          while (read(wake_fd_, &count, sizeof(count)) > 0) {
          }
        } else {
          OnEvent(id, events[i].events);
        }
      }
      DrainPosted();
      now = MonoMs();
      if (now >= next_sweep) {
        Sweep(now);
        next_sweep = now + kSweepMs;
      }
      if (stopping_.load()) {
        if (stop_deadline < 0) {
          stop_deadline = now + kStopGraceMs;
          BeginStop();
        }
        if (!AnyInFlight() || now >= stop_deadline) break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(post_mu_);
      io_done_ = true;
      posted_.clear();
    }
    std::vector<uint64_t> ids;
    for (auto& [id, conn] : conns_) ids.push_back(id);
    for (uint64_t id : ids) Close(id);
  }

  // Stops accepting and closes every connection that has no request in progress.
  void BeginStop() {
    if (listen_fd_ >= 0) {
      epoll_ctl(epfd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
      close(listen_fd_);
      listen_fd_ = -1;
    }
    std::vector<uint64_t> idle;
    for (auto& [id, conn] : conns_) {
      if (conn->state == Conn::State::kIdle || conn->state == Conn::State::kHead ||
          conn->state == Conn::State::kBody || conn->state == Conn::State::kLinger ||
          conn->state == Conn::State::kHandshake) {
        idle.push_back(id);
      }
    }
    for (uint64_t id : idle) Close(id);
  }

  bool AnyInFlight() const {
    for (const auto& [id, conn] : conns_) {
      if (conn->state == Conn::State::kHandling || conn->state == Conn::State::kWriting) {
        return true;
      }
    }
    return false;
  }

  void AcceptAll() {
    while (listen_fd_ >= 0) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if ((errno == EMFILE || errno == ENFILE) && CloseOldestIdle()) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          Log().warning("accept failed: %s", std::string(std::strerror(errno)));
        }
        return;
      }
      ++accepted_;
      if (static_cast<int>(conns_.size()) >= max_connections_ && !CloseOldestIdle()) {
        // Every connection is working: this one is told so and closed (over
        // TLS, without a word: a plain answer would be garbage to the client,
        // and a handshake is the very work there is no room for).
        ++shed_;  // counted before the answer goes, so whoever reads it sees the count
        if (!options_.tls) {
          const std::string busy = SerializeResponse(
              503, {{"Retry-After", "1"}}, "application/json",
              "{\"error\":\"too many connections (server.max_connections); retry\"}", false, 1);
          ssize_t w = send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          (void)w;
        }
        close(fd);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      auto conn = std::make_unique<Conn>();
      conn->fd = fd;
      conn->id = next_id_++;
      MarkIdle(*conn, MonoMs());
      if (options_.tls) {
        conn->ssl = options_.tls->NewConnection(fd);
        if (conn->ssl == nullptr) {
          Log().warning("cannot start TLS on a new connection: %s",
                        TlsErrorText("out of memory"));
          close(fd);
          continue;
        }
        // The handshake is held to the head's deadline: a client that opens
        // TLS and stalls keeps its slot no longer than a slow request head.
        conn->state = Conn::State::kHandshake;
        conn->deadline_ms = conn->since_ms + options_.header_timeout_ms;
      }
      try {
        Watch(fd, conn->id, EPOLLIN);
      } catch (const std::exception& e) {
        Log().warning("cannot watch a new connection: %s", std::string(e.what()));
        close(fd);
        continue;
      }
      conns_.emplace(conn->id, std::move(conn));
      open_.store(static_cast<int64_t>(conns_.size()));
    }
  }

  void MarkIdle(Conn& c, int64_t now) {
    c.state = Conn::State::kIdle;
    c.since_ms = now;
    c.idle_seq = next_idle_seq_++;
  }

  // Closes the connection idle for longest; false when none is idle.
  bool CloseOldestIdle() {
    Conn* oldest = nullptr;
    for (auto& [id, conn] : conns_) {
      if (conn->state == Conn::State::kIdle && (!oldest || conn->idle_seq < oldest->idle_seq)) {
        oldest = conn.get();
      }
    }
    if (!oldest) return false;
    ++idle_closed_;
    Close(oldest->id);
    return true;
  }

  Conn* Find(uint64_t id) {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second.get();
  }

  void Close(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    if (it->second->tls_ok) SendCloseNotify(*it->second);
    epoll_ctl(epfd_, EPOLL_CTL_DEL, it->second->fd, nullptr);
    close(it->second->fd);
    conns_.erase(it);
    open_.store(static_cast<int64_t>(conns_.size()));
  }

  void SetInterest(Conn& c) {
    const bool reading = c.state == Conn::State::kIdle || c.state == Conn::State::kHead ||
                         c.state == Conn::State::kBody || c.state == Conn::State::kLinger;
    const bool writing = c.out_off < c.out.size();
    // While a handler has the connection nothing is read or written, so what
    // OpenSSL asked for waits too (else a writable socket would spin the loop).
    const uint32_t extra = c.state == Conn::State::kHandling ? 0u : c.tls_extra;
    const uint32_t want = (reading ? EPOLLIN : 0u) | (writing ? EPOLLOUT : 0u) | extra;
    if (want == c.interest) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c.id;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.interest = want;
  }

  void OnEvent(uint64_t id, uint32_t events) {
    Conn* c = Find(id);
    if (!c) return;
    if (events & EPOLLERR) {
      if (c->state == Conn::State::kHandshake) ++tls_failed_;  // e.g. reset by a refusing client
      return Close(id);
    }
    if (c->state == Conn::State::kHandshake) return Handshake(*c);
    // OpenSSL asked for the other direction: retry both, each is harmless
    // when it has nothing to do.
    if (c->tls_extra != 0) events |= EPOLLIN | EPOLLOUT;
    if ((events & EPOLLHUP) && c->state == Conn::State::kHandling) {
      return Close(id);  // the peer is gone; the answer will find no connection
    }
    if (events & EPOLLOUT) {
      if (!Flush(*c)) return;
      c = Find(id);
      if (!c) return;
    }
    if (events & (EPOLLIN | EPOLLHUP)) OnReadable(*c);
  }

  void OnReadable(Conn& c) {
    if (c.state == Conn::State::kHandling || c.state == Conn::State::kWriting) return;
    // A lingering TLS connection is drained raw: its bytes are dropped anyway.
    if (c.ssl != nullptr && c.state != Conn::State::kLinger) return OnReadableTls(c);
    char buffer[65536];
    while (true) {
      ssize_t n = recv(c.fd, buffer, sizeof(buffer), 0);
      if (n > 0) {
        if (c.state != Conn::State::kLinger) c.in.append(buffer, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof(buffer)) break;
        continue;
      }
      if (n == 0) return OnPeerClosed(c);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return Close(c.id);
    }
    if (c.state == Conn::State::kLinger) return;
    Advance(c);
  }

  // The peer closed. A request already whole in the buffer is still served (a
  // client may half-close after sending); anything else ends.
  void OnPeerClosed(Conn& c) {
    if (c.state == Conn::State::kLinger || c.in.empty()) return Close(c.id);
    const uint64_t id = c.id;
    Advance(c);
    Conn* still = Find(id);
    if (still && still->state != Conn::State::kHandling && still->state != Conn::State::kWriting) {
      Close(id);
    } else if (still) {
      still->close_after_write = true;
    }
  }

  // ---- TLS (options.tls) ---------------------------------------------------
  // OpenSSL runs on the non-blocking socket: SSL_ERROR_WANT_READ/WANT_WRITE
  // become the connection's epoll interest, and the level-triggered loop calls
  // back when the socket is ready. The error queue is per thread and read
  // after each failure, so it is cleared before each call.

  void Handshake(Conn& c) {
    ERR_clear_error();
    const int rc = SSL_do_handshake(c.ssl);
    if (rc == 1) {
      c.tls_ok = true;
      c.tls_extra = 0;
      MarkIdle(c, MonoMs());
      SetInterest(c);
      OnReadableTls(c);  // the request may have come with the client's last flight
      return;
    }
    const int err = SSL_get_error(c.ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      c.tls_extra = err == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
      SetInterest(c);
      return;
    }
    ++tls_failed_;
    const unsigned long code = ERR_peek_error();
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && (ERR_GET_REASON(code) == SSL_R_HTTP_REQUEST ||
                                             ERR_GET_REASON(code) == SSL_R_HTTPS_PROXY_REQUEST)) {
      // Plain HTTP on the HTTPS port: say so in plain HTTP, then close.
      ERR_clear_error();
      SSL_free(c.ssl);
      c.ssl = nullptr;
      c.tls_extra = 0;
      return Refuse(c, HttpError{400, "this port speaks HTTPS only: use https://"}, 1);
    }
    if (Log().debug()) {
      Log().debug("TLS handshake failed: %s", TlsErrorText("connection closed"));
    }
    ERR_clear_error();
    Close(c.id);
  }

  // Reads every decrypted byte there is: unlike recv, SSL_read returns one
  // record at a time, and a record already inside OpenSSL would not wake
  // epoll, so this reads until OpenSSL wants more from the socket.
  void OnReadableTls(Conn& c) {
    char buffer[16384];
    c.tls_extra = 0;
    while (true) {
      ERR_clear_error();
      const int n = SSL_read(c.ssl, buffer, sizeof(buffer));
      if (n > 0) {
        c.in.append(buffer, static_cast<size_t>(n));
        continue;
      }
      const int err = SSL_get_error(c.ssl, n);
      if (err == SSL_ERROR_WANT_READ) break;
      if (err == SSL_ERROR_WANT_WRITE) {
        c.tls_extra = EPOLLOUT;
        break;
      }
      if (err == SSL_ERROR_ZERO_RETURN) return OnPeerClosed(c);
      c.tls_ok = false;  // a fatal error: no close_notify may follow
      ERR_clear_error();
      return Close(c.id);
    }
    Advance(c);
  }

  // send()'s contract over TLS: bytes written, or -1 with errno EAGAIN (try
  // again when the interest fires) or EPIPE (the connection is done).
  ssize_t SendTls(Conn& c, const char* data, size_t size) {
    ERR_clear_error();
    c.tls_extra = 0;
    const int n = SSL_write(c.ssl, data, static_cast<int>(std::min<size_t>(size, 1 << 30)));
    if (n > 0) return n;
    const int err = SSL_get_error(c.ssl, n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      c.tls_extra = err == SSL_ERROR_WANT_READ ? EPOLLIN : 0u;
      errno = EAGAIN;
      return -1;
    }
    c.tls_ok = false;
    ERR_clear_error();
    errno = EPIPE;
    return -1;
  }

  // One try at close_notify before the socket closes; a full send buffer just
  // means the peer sees a bare close, which HTTP/1.1 framing tolerates.
  void SendCloseNotify(Conn& c) {
    c.tls_ok = false;
    c.tls_extra = 0;
    ERR_clear_error();
    SSL_shutdown(c.ssl);
    ERR_clear_error();
  }

  // Parses what is buffered and moves the connection on: a whole request goes
  // to a handler; a bad one is refused.
  void Advance(Conn& c) {
    const int64_t now = MonoMs();
    while (true) {
      if (c.state == Conn::State::kIdle || c.state == Conn::State::kHead) {
        if (c.in.empty()) {
          if (c.state != Conn::State::kIdle) MarkIdle(c, now);
          break;
        }
        if (c.state == Conn::State::kIdle) {
          c.state = Conn::State::kHead;
          c.since_ms = now;
          c.deadline_ms = now + options_.header_timeout_ms;
        }
        size_t consumed = 0;
        HttpError error;
        ParseStatus status = ParseRequestHead(c.in, limits_, &c.head, &consumed, &error);
        if (status == ParseStatus::kIncomplete) break;
        if (status == ParseStatus::kError) return Refuse(c, error, 1);
        c.in.erase(0, consumed);
        if (c.head.framing == HttpRequestHead::Framing::kLength &&
            c.head.content_length > options_.max_body_bytes) {
          return DispatchTooLarge(c);  // the handler answers 413; the body is not read
        }
        c.state = Conn::State::kBody;
        c.since_ms = now;
        c.deadline_ms = now + options_.body_timeout_ms;
        c.body.clear();
        c.chunked.reset();
        if (c.head.framing == HttpRequestHead::Framing::kChunked) {
          c.chunked = std::make_unique<ChunkedDecoder>(options_.max_body_bytes);
        }
        if (c.head.expect_continue && c.in.empty()) {
          c.out += "HTTP/1.1 100 Continue\r\n\r\n";
          const uint64_t id = c.id;
          if (!Flush(c) || !Find(id)) return;
        }
      }
      if (c.state != Conn::State::kBody) break;
      bool whole = false;
      if (c.head.framing == HttpRequestHead::Framing::kNone) {
        whole = true;
      } else if (c.head.framing == HttpRequestHead::Framing::kLength) {
        const size_t need = static_cast<size_t>(c.head.content_length) - c.body.size();
        const size_t take = std::min(need, c.in.size());
        if (c.body.empty() && take == c.in.size()) {
          c.body.swap(c.in);
        } else {
          c.body.append(c.in, 0, take);
          c.in.erase(0, take);
        }
        whole = static_cast<int64_t>(c.body.size()) == c.head.content_length;
      } else {
        size_t consumed = 0;
        HttpError error;
        ParseStatus status = c.chunked->Feed(c.in, &consumed, &c.body, &error);
        c.in.erase(0, consumed);
        if (status == ParseStatus::kError && error.status == 413) return DispatchTooLarge(c);
        if (status == ParseStatus::kError) return Refuse(c, error, c.head.version_minor);
        whole = status == ParseStatus::kComplete;
      }
      if (!whole) break;
      return Dispatch(c);
    }
    SetInterest(c);
  }

  // A body over the limit goes to the handler unread, so the API answers 413
  // and counts it as its own refusal; the connection closes after the answer.
  void DispatchTooLarge(Conn& c) {
    c.in.clear();
    c.body.clear();
    c.close_after_write = true;
    Dispatch(c, ServerRequest::TooLarge(std::move(c.head), options_.max_body_bytes));
  }

  void Dispatch(Conn& c) {
    ServerRequest request(std::move(c.head), std::move(c.body));
    Dispatch(c, std::move(request));
  }

  void Dispatch(Conn& c, ServerRequest request) {
    c.state = Conn::State::kHandling;
    c.since_ms = MonoMs();
    ++requests_;
    SetInterest(c);
    c.head = HttpRequestHead();
    c.body.clear();
    if (router_->IsInline(request.method(), request.uri())) {
      RunHandler(c.id, std::move(request));  // answers through Post, drained below
      return;
    }
    {
      std::lock_guard<std::mutex> lock(work_mu_);
      work_.push_back(Task{c.id, std::move(request)});
    }
    work_cv_.notify_one();
  }

  // The server answers by itself (a bad request, a deadline) and closes.
  void Refuse(Conn& c, const HttpError& error, int version_minor) {
    ++refused_;
    if (Log().debug()) {
      Log().debug("refused a request: %d %s", error.status, error.message);
    }
    c.in.clear();
    c.out += SerializeResponse(error.status, {}, "application/json",
                               JsonObject().Str("error", error.message).Done(), false,
                               version_minor);
    c.close_after_write = true;
    c.state = Conn::State::kWriting;
    c.deadline_ms = MonoMs() + options_.write_timeout_ms;
    Flush(c);
  }

  void DrainPosted() {
    std::vector<Posted> batch;
    {
      std::lock_guard<std::mutex> lock(post_mu_);
      batch.swap(posted_);
    }
    for (Posted& p : batch) {
      Conn* c = Find(p.id);
      if (!c || c->state != Conn::State::kHandling) continue;
      if (c->out.empty()) {
        c->out = std::move(p.bytes);
      } else {
        c->out += p.bytes;
      }
      c->close_after_write = c->close_after_write || p.close || stopping_.load();
      c->state = Conn::State::kWriting;
      c->deadline_ms = MonoMs() + options_.write_timeout_ms;
      Flush(*c);
    }
  }

  // Writes what is pending. False when the connection was closed.
  bool Flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      const char* data = c.out.data() + c.out_off;
      const size_t size = c.out.size() - c.out_off;
      ssize_t n = c.ssl != nullptr ? SendTls(c, data, size) : send(c.fd, data, size, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        SetInterest(c);
        return true;
      }
      Close(c.id);
      return false;
    }
    c.out.clear();
    c.out_off = 0;
    if (c.state != Conn::State::kWriting) {
      SetInterest(c);
      return true;
    }
    if (c.close_after_write) {
      // Lingering close: shut our side so the answer is not lost to a reset,
      // then drop what the peer still sends until it closes or time is up.
      if (c.tls_ok) SendCloseNotify(c);
      shutdown(c.fd, SHUT_WR);
      c.state = Conn::State::kLinger;
      c.in.clear();
      c.deadline_ms = MonoMs() + kLingerMs;
      SetInterest(c);
      return true;
    }
    MarkIdle(c, MonoMs());
    const uint64_t id = c.id;
    Advance(c);  // a pipelined request may already be buffered
    return Find(id) != nullptr;
  }

  void Sweep(int64_t now) {
    std::vector<uint64_t> to_close;
    std::vector<uint64_t> to_refuse;
    std::vector<std::pair<uint64_t, uint64_t>> busy_idle;  // (idle_seq, id)
    for (auto& [id, conn] : conns_) {
      switch (conn->state) {
        case Conn::State::kIdle:
          if (now - conn->since_ms >= options_.idle_timeout_ms) {
            to_close.push_back(id);
          } else if (now - conn->since_ms >= options_.busy_idle_timeout_ms) {
            busy_idle.emplace_back(conn->idle_seq, id);
          }
          break;
        case Conn::State::kHead:
        case Conn::State::kBody:
          if (now >= conn->deadline_ms) to_refuse.push_back(id);
          break;
        case Conn::State::kHandshake:
        case Conn::State::kWriting:
        case Conn::State::kLinger:
          if (now >= conn->deadline_ms) to_close.push_back(id);
          break;
        case Conn::State::kHandling:
          break;
      }
    }
    // While the server is busy, idle connections past the short timeout go,
    // the longest idle first, until it is no longer busy.
    const size_t open_after = conns_.size() - to_close.size();
    if (open_after > static_cast<size_t>(busy_connections_) && !busy_idle.empty()) {
      std::sort(busy_idle.begin(), busy_idle.end());
      const size_t excess = open_after - static_cast<size_t>(busy_connections_);
      for (size_t i = 0; i < busy_idle.size() && i < excess; ++i) {
        to_close.push_back(busy_idle[i].second);
      }
    }
    for (uint64_t id : to_close) {
      Conn* c = Find(id);
      if (!c) continue;
      if (c->state == Conn::State::kIdle) {
        ++idle_closed_;
      } else if (c->state == Conn::State::kWriting || c->state == Conn::State::kHandshake) {
        ++timed_out_;
      }
      Close(id);
    }
    for (uint64_t id : to_refuse) {
      Conn* c = Find(id);
      if (!c) continue;
      ++timed_out_;
      const bool head = c->state == Conn::State::kHead;
      Refuse(*c,
             HttpError{408, head ? "request head not received within " +
                                       std::to_string(options_.header_timeout_ms) + " ms"
                                 : "request body not received within " +
                                       std::to_string(options_.body_timeout_ms) + " ms"},
             head ? 1 : c->head.version_minor);
    }
  }

  // ---- handler threads ----------------------------------------------------

  void WorkerLoop() {
    while (true) {
      std::unique_lock<std::mutex> lock(work_mu_);
      work_cv_.wait(lock, [this] { return workers_stop_ || !work_.empty(); });
      if (work_.empty()) return;
      Task task = std::move(work_.front());
      work_.pop_front();
      lock.unlock();
      RunHandler(task.id, std::move(task.request));
    }
  }

  void RunHandler(uint64_t id, ServerRequest request) {
    std::weak_ptr<Core> weak = weak_from_this();
    auto ctx = std::make_shared<HttpContext>(
        std::move(request), [weak, id](std::string bytes, bool close) {
          if (auto core = weak.lock()) core->Post(id, std::move(bytes), close);
        });
    router_->Dispatch(*ctx);
  }

  const HttpServerOptions options_;
  const std::shared_ptr<const Router> router_;
  HeadLimits limits_;
  int listen_fd_;
  int max_connections_;
  int busy_connections_ = 0;
  int epfd_ = -1;
  int wake_fd_ = -1;

  // The I/O thread's own.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_id_ = 2;
  uint64_t next_idle_seq_ = 0;
  std::thread io_thread_;
  std::thread::id io_thread_id_;

  std::mutex post_mu_;
  std::vector<Posted> posted_;
  bool io_done_ = false;

  std::mutex work_mu_;
  std::condition_variable work_cv_;
  std::deque<Task> work_;
  bool workers_stop_ = false;
  std::vector<std::thread> workers_;

  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> open_{0};
  std::atomic<int64_t> accepted_{0};
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> refused_{0};
  std::atomic<int64_t> timed_out_{0};
  std::atomic<int64_t> idle_closed_{0};
  std::atomic<int64_t> shed_{0};
  std::atomic<int64_t> tls_failed_{0};
};

HttpServer::HttpServer(HttpServerOptions options, std::shared_ptr<const Router> router)
    : options_(std::move(options)), router_(std::move(router)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Start() {
  int fd = -1;
  try {
    fd = Listen(options_.host, options_.port, options_.queue, &bound_port_);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + options_.host + ":" +
                             std::to_string(options_.port) + ": " + e.what());
  }
  // Each connection is a file descriptor; keep some for the store and the CRM.
  const int64_t files = RaiseFileLimit();
  int max_connections = static_cast<int>(
      std::max<int64_t>(16, std::min<int64_t>(options_.max_connections, files - 256)));
  if (max_connections < options_.max_connections) {
    Log().warning("server.max_connections lowered from %d to %d: the open-files limit is %s",
                  options_.max_connections, max_connections, std::to_string(files));
  }
  core_ = std::make_shared<Core>(options_, router_, fd, max_connections);
  core_->Start();
}

void HttpServer::Stop() {
  if (core_) {
    core_->Stop();
    core_.reset();
  }
}

HttpServerStats HttpServer::stats() const { return core_ ? core_->stats() : HttpServerStats{}; }

bool CanListen(const std::string& host, int port, std::string* reason, bool* in_use) {
  *in_use = false;
  try {
    int bound_port = 0;
    close(Listen(host, port, 1, &bound_port));
    return true;
  } catch (const std::exception& e) {
    *reason = e.what();
    *in_use = *reason == std::strerror(EADDRINUSE);
    return false;
  }
}

}  // namespace crmsync::engine
