// The SDK's default HTTP(S) transport (see crmsync/http_transport.h).
//
// One request runs in three phases on one borrowed Poco session: connect
// (fresh sessions only), write (request line, headers, body, flushed) and read
// (status, headers, body). The phase an exception escapes from decides the
// TransportError and whether the request may have reached the CRM; in the
// connect phase it also tells name resolution (kDns) from TCP (kConnect), TLS
// (kTls) and a connect timeout (kTimeout). Idle keep-alive sessions wait in a
// mutex-guarded pool; a pooled session the server closed while idle is
// detected before use, or retried once on a fresh session when that cannot
// duplicate the request.
//
// Thread-safety: Send() may be called from any number of threads at once; the
// pool is guarded by a mutex and each call owns its session exclusively.
// Process-wide effects (once, on first Create()): OpenSSL is initialised, a
// RejectCertificateHandler is installed as the client's invalid-certificate
// handler, and SIGPIPE is ignored if it was left at its default (a write to a
// closed socket must become an error, not kill the process).
#include "crmsync/http_transport.h"

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/Socket.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

namespace crmsync {
namespace {

using Clock = std::chrono::steady_clock;

// A pooled session idle longer than this is closed rather than reused.
constexpr std::chrono::seconds kMaxIdleAge(30);
// Largest response body accepted.
constexpr size_t kMaxResponseBytes = 32u << 20;

std::once_flag g_ssl_once;

void InitializeProcessOnce() {
  std::call_once(g_ssl_once, [] {
    Poco::Net::initializeSSL();
    Poco::Net::SSLManager::instance().initializeClient(
        nullptr, new Poco::Net::RejectCertificateHandler(false), nullptr);
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

// Exposes HTTPClientSession::reconnect() (protected) so that the connect phase
// runs on its own and its failures are told apart from write failures.
class SessionAccess : public Poco::Net::HTTPClientSession {
 public:
  static void Connect(Poco::Net::HTTPClientSession& session) {
    (session.*(&SessionAccess::reconnect))();
  }
};

bool IsLoopbackHost(const std::string& host) {
  std::string lower = host;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost" || lower == "localhost.") return true;
  Poco::Net::IPAddress address;
  return Poco::Net::IPAddress::tryParse(host, address) && address.isLoopback();
}

// True for a string safe to put on the request line or in a header: no
// control characters (CR/LF injection) and, when `allow_space` is false, no blank.
bool IsSafeText(const std::string& text, bool allow_space) {
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      if (!(allow_space && c == '\t')) return false;
    }
    if (!allow_space && c == ' ') return false;
  }
  return true;
}

bool IsToken(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || std::string("()<>@,;:\\\"/[]?={}").find(c) != std::string::npos) {
      return false;
    }
  }
  return true;
}

// Methods a server may safely see twice (RFC 9110 §9.2.2).
bool IsIdempotent(const HttpRequest& request) {
  const std::string& m = request.method;
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" ||
         !FindHeader(request.headers, "Idempotency-Key").empty();
}

HttpResponse Failure(TransportError error, std::string message, bool request_sent) {
  HttpResponse response;
  response.error = error;
  response.error_message = std::move(message);
  response.request_sent = request_sent;
  return response;
}

template <typename T>
bool Is(const std::exception& e) {
  return dynamic_cast<const T*>(&e) != nullptr;
}

std::string Describe(const std::exception& e) {
  if (const auto* poco = dynamic_cast<const Poco::Exception*>(&e)) return poco->displayText();
  return e.what();
}

struct Idle {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  Clock::time_point since;
};

}  // namespace

struct HttpTransport::Impl {
  HttpTransportOptions options;
  bool https = false;
  std::string host;
  uint16_t port = 0;
  std::string path_prefix;  // Without a trailing '/'.
  Poco::Net::Context::Ptr context;
  std::atomic<int64_t> opened{0};
  std::mutex mutex;
  std::vector<Idle> idle;  // Guarded by mutex.

  enum class Phase { kConnect, kWrite, kReadHead, kReadBody };
  enum class Outcome { kDone, kRetryFresh };

  std::unique_ptr<Poco::Net::HTTPClientSession> NewSession() {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (https) {
      session = std::make_unique<Poco::Net::HTTPSClientSession>(host, port, context);
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(host, port);
    }
    session->setTimeout(Poco::Timespan(options.connect_timeout_ms * 1000),
                        Poco::Timespan(options.timeout_ms * 1000),
                        Poco::Timespan(options.timeout_ms * 1000));
    session->setKeepAlive(true);
    // The pool decides when an idle session is too old; keep Poco from
    // reconnecting behind our back (that would hide a connect inside a write).
    session->setKeepAliveTimeout(Poco::Timespan(24 * 3600, 0));
    opened.fetch_add(1);
    return session;
  }

  // A pooled session still believed open, or null.
  std::unique_ptr<Poco::Net::HTTPClientSession> TakeIdle() {
    std::vector<Idle> discard;
    std::unique_ptr<Poco::Net::HTTPClientSession> found;
    while (!found) {
      Idle candidate;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (idle.empty()) break;
        candidate = std::move(idle.back());
        idle.pop_back();
      }
      bool usable = Clock::now() - candidate.since < kMaxIdleAge && candidate.session->connected();
      if (usable) {
        // An idle keep-alive connection has nothing to read; readable means
        // the server closed it (or sent something unexpected). poll(2) on the
        // descriptor: Poco 1.11's Socket::poll makes an epoll instance per call.
        pollfd pfd{};
        pfd.fd = candidate.session->socket().impl()->sockfd();
        pfd.events = POLLIN;
        int ready = ::poll(&pfd, 1, 0);
        usable = ready == 0;
      }
      if (usable) {
        found = std::move(candidate.session);
      } else {
        discard.push_back(std::move(candidate));
      }
    }
    return found;
  }

  void GiveBack(std::unique_ptr<Poco::Net::HTTPClientSession> session) {
    std::lock_guard<std::mutex> lock(mutex);
    if (static_cast<int>(idle.size()) >= options.max_idle_connections) return;
    idle.push_back(Idle{std::move(session), Clock::now()});
  }

  std::string Target(const std::string& path) const {
    if (path.empty()) return path_prefix.empty() ? "/" : path_prefix;
    if (path.front() == '/') return path_prefix + path;
    return path_prefix + "/" + path;
  }

  // The target (base path + request path) of a request that may be sent, or
  // "" with `*error` naming what is wrong with it.
  std::string CheckedTarget(const HttpRequest& request, std::string* error) const {
    if (!IsToken(request.method)) {
      *error = "invalid request: bad method";
      return "";
    }
    std::string target = Target(request.path);
    if (!IsSafeText(target, false)) {
      *error = "invalid request: path holds a blank or a control character";
      return "";
    }
    for (const auto& [name, value] : request.headers) {
      if (!IsToken(name) || !IsSafeText(value, true)) {
        *error = "invalid request: bad header " + name;
        return "";
      }
    }
    return target;
  }

  Status Prepare(const HttpRequest& request, WireRequest* out) const {
    std::string error;
    const std::string target = CheckedTarget(request, &error);
    if (target.empty()) return Status::Permanent(error);
    Poco::Net::HTTPRequest poco_request;
    BuildRequest(request, target, &poco_request);
    // What HTTPClientSession::sendRequest adds: Host, without a default port.
    if (!poco_request.has(Poco::Net::HTTPRequest::HOST)) poco_request.setHost(host, port);
    const bool default_port = port == (https ? 443 : 80);
    std::string authority = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (!default_port) authority += ":" + std::to_string(port);
    out->method = request.method;
    out->url = (https ? "https://" : "http://") + authority + target;
    out->headers.clear();
    for (const auto& [name, value] : poco_request) out->headers.emplace_back(name, value);
    out->body = request.body;
    return Status::Ok();
  }

  HttpResponse Send(const HttpRequest& request) {
    std::string error;
    const std::string target = CheckedTarget(request, &error);
    if (target.empty()) return Failure(TransportError::kConnect, error, false);
    HttpResponse response;
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<Poco::Net::HTTPClientSession> session;
      bool reused = false;
      if (attempt == 0) session = TakeIdle();
      if (session) {
        reused = true;
      } else {
        session = NewSession();
      }
      Outcome outcome = SendOn(std::move(session), reused, request, target, &response);
      if (outcome == Outcome::kDone) return response;
    }
    return response;
  }

  void BuildRequest(const HttpRequest& request, const std::string& target,
                    Poco::Net::HTTPRequest* out) const {
    out->setMethod(request.method);
    out->setURI(target);
    out->setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
    out->setKeepAlive(true);
    for (const auto& [name, value] : options.default_headers) out->set(name, value);
    std::vector<std::string> seen;
    for (const auto& [name, value] : request.headers) {
      bool from_defaults = !FindHeader(options.default_headers, name).empty();
      bool repeated = std::find(seen.begin(), seen.end(), name) != seen.end();
      if (from_defaults && !repeated) {
        out->set(name, value);
      } else {
        out->add(name, value);
      }
      seen.push_back(name);
    }
    if (!request.body.empty()) {
      if (!request.content_type.empty() && FindHeader(request.headers, "Content-Type").empty()) {
        out->setContentType(request.content_type);
      }
      out->setContentLength(static_cast<std::streamsize>(request.body.size()));
    } else if (request.method == "POST" || request.method == "PUT" || request.method == "PATCH") {
      out->setContentLength(0);
    }
  }

  // Runs one try on `session`. kRetryFresh when a reused session turned out to
  // be dead in a way that proves (or makes harmless) that the request was not acted on.
  Outcome SendOn(std::unique_ptr<Poco::Net::HTTPClientSession> session, bool reused,
                 const HttpRequest& request, const std::string& target, HttpResponse* out) {
    Phase phase = Phase::kConnect;
    try {
      if (!session->connected()) SessionAccess::Connect(*session);

      phase = Phase::kWrite;
      Poco::Net::HTTPRequest poco_request;
      BuildRequest(request, target, &poco_request);
      std::ostream& body_out = session->sendRequest(poco_request);
      body_out.exceptions(std::ios::badbit);
      if (!request.body.empty()) {
        body_out.write(request.body.data(), static_cast<std::streamsize>(request.body.size()));
      }
      body_out.flush();

      phase = Phase::kReadHead;
      Poco::Net::HTTPResponse poco_response;
      std::istream& body_in = session->receiveResponse(poco_response);

      phase = Phase::kReadBody;
      body_in.exceptions(std::ios::badbit);
      HttpResponse response;
      response.request_sent = true;
      response.status = static_cast<int>(poco_response.getStatus());
      for (const auto& [name, value] : poco_response) response.headers.emplace_back(name, value);
      char buffer[8192];
      while (body_in.read(buffer, sizeof(buffer)) || body_in.gcount() > 0) {
        response.body.append(buffer, static_cast<size_t>(body_in.gcount()));
        if (response.body.size() > kMaxResponseBytes) {
          *out = Failure(TransportError::kIo, "response body too large", true);
          return Outcome::kDone;
        }
      }
      if (poco_response.hasContentLength() &&
          static_cast<int64_t>(response.body.size()) != poco_response.getContentLength64() &&
          request.method != "HEAD") {
        *out = Failure(TransportError::kIo, "response body truncated", true);
        return Outcome::kDone;
      }
      if (poco_response.getKeepAlive()) GiveBack(std::move(session));
      *out = std::move(response);
      return Outcome::kDone;
    } catch (const std::exception& e) {
      return OnError(e, phase, reused, request, out);
    } catch (...) {
      *out = Failure(TransportError::kIo, "unknown failure", phase != Phase::kConnect);
      return Outcome::kDone;
    }
  }

  Outcome OnError(const std::exception& e, Phase phase, bool reused, const HttpRequest& request,
                  HttpResponse* out) {
    const bool timeout = Is<Poco::TimeoutException>(e);
    const std::string where = host + ":" + std::to_string(port);
    switch (phase) {
      case Phase::kConnect:
        // The stage that failed, for the engine and for `crmsync
        // check-connection`: name resolution, TCP connect, TLS, or a timeout.
        if (Is<Poco::Net::DNSException>(e)) {
          *out = Failure(TransportError::kDns,
                         "DNS: cannot resolve host " + host + ": " + Describe(e), false);
        } else if (Is<Poco::Net::CertificateValidationException>(e) ||
                   (Is<Poco::Net::SSLException>(e) &&
                    Describe(e).find("certificate") != std::string::npos)) {
          *out = Failure(TransportError::kTls,
                         "TLS certificate of " + where + " refused: " + Describe(e), false);
        } else if (Is<Poco::Net::SSLException>(e)) {
          *out = Failure(TransportError::kTls,
                         "TLS handshake with " + where + " failed: " + Describe(e), false);
        } else if (timeout) {
          *out = Failure(TransportError::kTimeout, "connect to " + where + " timed out", false);
        } else {
          *out = Failure(TransportError::kConnect,
                         "connect to " + where + " failed: " + Describe(e), false);
        }
        return Outcome::kDone;
      case Phase::kWrite:
        // A reused connection refusing the very first write was already dead.
        if (reused && !timeout) return Outcome::kRetryFresh;
        break;
      case Phase::kReadHead:
        if (reused && !timeout &&
            (Is<Poco::Net::NoMessageException>(e) || Is<Poco::Net::ConnectionResetException>(e) ||
             Is<Poco::Net::ConnectionAbortedException>(e)) &&
            IsIdempotent(request)) {
          return Outcome::kRetryFresh;
        }
        break;
      case Phase::kReadBody:
        break;
    }
    if (timeout) {
      *out = Failure(TransportError::kTimeout,
                     std::string(phase == Phase::kWrite ? "sending to " : "waiting for ") + where +
                         " timed out after " + std::to_string(options.timeout_ms) + " ms",
                     true);
    } else {
      *out =
          Failure(TransportError::kIo, "connection to " + where + " broke: " + Describe(e), true);
    }
    return Outcome::kDone;
  }
};

Status HttpTransportOptionsFromConfig(const PluginConfig& config, HttpTransportOptions* options) {
  std::string url = config.Get("api_url");
  if (url.empty()) return Status::InvalidConfig("api_url: required (CRM_API_URL)");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return Status::InvalidConfig("api_url: must start with https:// or http://");
  }
  options->base_url = url;

  struct IntKey {
    const char* key;
    int64_t* target;
    int64_t min;
  };
  int64_t max_idle = options->max_idle_connections;
  for (const IntKey& k : {IntKey{"timeout_ms", &options->timeout_ms, 1},
                          IntKey{"connect_timeout_ms", &options->connect_timeout_ms, 1},
                          IntKey{"max_idle_connections", &max_idle, 0}}) {
    bool present = false;
    int64_t value = 0;
    bool ok = config.GetInt(k.key, &value, &present);
    if (!present) continue;
    if (!ok || value < k.min || value > 24LL * 3600 * 1000) {
      return Status::InvalidConfig(std::string(k.key) + ": must be a whole number" +
                                   (k.min > 0 ? " > 0" : " >= 0"));
    }
    *k.target = value;
  }
  options->max_idle_connections = static_cast<int>(max_idle);

  bool present = false;
  bool insecure = false;
  if (config.GetBool("allow_insecure_http", &insecure, &present)) {
    options->allow_insecure_http = insecure;
  } else if (present) {
    return Status::InvalidConfig("allow_insecure_http: must be true or false");
  }

  std::string ca_file = config.Get("ca_file");
  if (!ca_file.empty()) {
    bool exists = false;
    try {
      Poco::File file(ca_file);
      exists = file.exists() && file.isFile() && file.canRead();
    } catch (const Poco::Exception&) {
      exists = false;
    }
    if (!exists) return Status::InvalidConfig("ca_file: " + ca_file + " is not a readable file");
  }
  options->ca_file = ca_file;
  return Status::Ok();
}

Status HttpTransport::Create(const HttpTransportOptions& options,
                             std::unique_ptr<HttpTransport>* out) {
  try {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    Poco::URI uri;
    try {
      uri = Poco::URI(options.base_url);
    } catch (const Poco::Exception&) {
      return Status::InvalidConfig("api_url: not a valid URL");
    }
    const std::string& scheme = uri.getScheme();
    if (scheme != "http" && scheme != "https") {
      return Status::InvalidConfig("api_url: scheme must be https or http");
    }
    if (uri.getHost().empty()) return Status::InvalidConfig("api_url: has no host");
    if (!uri.getUserInfo().empty()) {
      return Status::InvalidConfig("api_url: must not hold credentials (use api_key)");
    }
    if (!uri.getRawQuery().empty() || !uri.getFragment().empty()) {
      return Status::InvalidConfig("api_url: must not have a query or fragment");
    }
    impl->https = scheme == "https";
    impl->host = uri.getHost();
    impl->port = uri.getPort();
    if (impl->port == 0) impl->port = impl->https ? 443 : 80;
    impl->path_prefix = uri.getPath();
    while (!impl->path_prefix.empty() && impl->path_prefix.back() == '/') {
      impl->path_prefix.pop_back();
    }
    if (!IsSafeText(impl->path_prefix, false)) {
      return Status::InvalidConfig("api_url: path holds a blank or a control character");
    }
    if (!impl->https && !options.allow_insecure_http && !IsLoopbackHost(impl->host)) {
      return Status::InvalidConfig("api_url: plain http:// is allowed only to a loopback host (" +
                                   impl->host +
                                   " is not); use https:// or set allow_insecure_http");
    }
    if (options.timeout_ms <= 0) return Status::InvalidConfig("timeout_ms: must be > 0");
    if (options.connect_timeout_ms <= 0) {
      return Status::InvalidConfig("connect_timeout_ms: must be > 0");
    }
    if (options.max_idle_connections < 0) {
      return Status::InvalidConfig("max_idle_connections: must be >= 0");
    }
    for (const auto& [name, value] : options.default_headers) {
      if (!IsToken(name) || !IsSafeText(value, true)) {
        return Status::InvalidConfig("default header " + name + ": bad name or value");
      }
    }
    if (!options.ca_file.empty()) {
      bool readable = false;
      try {
        Poco::File file(options.ca_file);
        readable = file.exists() && file.isFile() && file.canRead();
      } catch (const Poco::Exception&) {
        readable = false;
      }
      if (!readable) {
        return Status::InvalidConfig("ca_file: " + options.ca_file + " is not a readable file");
      }
    }

    InitializeProcessOnce();
    if (impl->https) {
      Poco::Net::Context::Params params;
      // VERIFY_STRICT: Poco skips the host name check for loopback hosts in
      // relaxed mode; strict checks every host.
      params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
      params.verificationDepth = 9;
      params.loadDefaultCAs = true;
      params.caLocation = options.ca_file;
      params.cipherList = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES";
      try {
        impl->context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
        impl->context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
      } catch (const Poco::Exception& e) {
        return Status::InvalidConfig("ca_file: cannot set up TLS: " + e.displayText());
      }
    }
    out->reset(new HttpTransport(std::move(impl)));
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::InvalidConfig(std::string("http transport: ") + e.what());
  }
}

HttpTransport::HttpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpTransport::~HttpTransport() = default;

HttpResponse HttpTransport::Send(const HttpRequest& request) {
  try {
    return impl_->Send(request);
  } catch (...) {
    return Failure(TransportError::kIo, "unexpected transport failure", true);
  }
}

Status HttpTransport::Prepare(const HttpRequest& request, WireRequest* out) {
  try {
    return impl_->Prepare(request, out);
  } catch (const std::exception& e) {
    return Status::Permanent(std::string("http transport: ") + e.what());
  }
}

int64_t HttpTransport::connections_opened() const { return impl_->opened.load(); }

}  // namespace crmsync
