// The strict HTTP/1.1 request parser and response writer; see http_parser.h.
#include "http/http_parser.h"

#include <ctime>

namespace crmsync::engine {
namespace {

bool IsTchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!IsTchar(c)) return false;
  }
  return true;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits a comma-separated field value into trimmed, non-empty elements.
std::vector<std::string_view> ListElements(std::string_view value) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view item = TrimOws(value.substr(start, comma - start));
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

ParseStatus Fail(HttpError* error, int status, std::string message) {
  error->status = status;
  error->message = std::move(message);
  return ParseStatus::kError;
}

// Finds the next line in `data` from `pos`: its content (CR stripped) and the
// position after its LF. False when no LF is there yet.
bool NextLine(std::string_view data, size_t pos, std::string_view* line, size_t* next) {
  size_t lf = data.find('\n', pos);
  if (lf == std::string_view::npos) return false;
  size_t end = lf;
  if (end > pos && data[end - 1] == '\r') --end;
  *line = data.substr(pos, end - pos);
  *next = lf + 1;
  return true;
}

// Parses "HTTP/1.x"; 0 or 1 in *minor. 400 for garbage, 505 for another version.
ParseStatus ParseVersion(std::string_view v, int* minor, HttpError* error) {
  if (v.size() == 8 && v.substr(0, 5) == "HTTP/" && v[6] == '.' && v[5] >= '0' &&
      v[5] <= '9' && v[7] >= '0' && v[7] <= '9') {
    if (v[5] == '1' && (v[7] == '0' || v[7] == '1')) {
      *minor = v[7] - '0';
      return ParseStatus::kComplete;
    }
    return Fail(error, 505, "HTTP version " + std::string(v.substr(5)) +
                                " is not supported; use HTTP/1.1");
  }
  return Fail(error, 400, "malformed request line: bad HTTP version");
}

ParseStatus ParseRequestLine(std::string_view line, HttpRequestHead* head, HttpError* error) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Fail(error, 400, "malformed request line: expected METHOD SP TARGET SP HTTP/1.1");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!IsToken(method)) return Fail(error, 400, "malformed request line: bad method");
  if (target.empty()) return Fail(error, 400, "malformed request line: empty target");
  for (unsigned char c : target) {
    if (c <= 0x20 || c == 0x7f) {
      return Fail(error, 400, "malformed request line: control byte or space in the target");
    }
  }
  if (ParseVersion(line.substr(sp2 + 1), &head->version_minor, error) != ParseStatus::kComplete) {
    return ParseStatus::kError;
  }
  // absolute-form (RFC 9112 §3.2.2): keep the path and query.
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (target.size() >= scheme.size() && EqualsIgnoreCase(target.substr(0, scheme.size()), scheme)) {
      size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
      break;
    }
  }
  if (target.front() != '/' && !(target == "*" && method == "OPTIONS")) {
    return Fail(error, 400, "malformed request line: the target must be a path starting with /");
  }
  head->method.assign(method);
  head->target.assign(target);
  return ParseStatus::kComplete;
}

// Reads the framing and connection fields once every field is in.
ParseStatus ReadFraming(HttpRequestHead* head, HttpError* error) {
  int hosts = 0;
  int lengths = 0;
  std::string_view length;
  std::vector<std::string_view> codings;
  bool has_te = false;
  bool close = false;
  bool keep_alive = false;
  for (const auto& [name, value] : head->headers) {
    if (EqualsIgnoreCase(name, "Host")) {
      ++hosts;
    } else if (EqualsIgnoreCase(name, "Content-Length")) {
      ++lengths;
      length = value;
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      has_te = true;
      for (std::string_view c : ListElements(value)) codings.push_back(c);
    } else if (EqualsIgnoreCase(name, "Connection")) {
      for (std::string_view option : ListElements(value)) {
        if (EqualsIgnoreCase(option, "close")) close = true;
        if (EqualsIgnoreCase(option, "keep-alive")) keep_alive = true;
      }
    } else if (EqualsIgnoreCase(name, "Expect")) {
      if (!EqualsIgnoreCase(TrimOws(value), "100-continue")) {
        return Fail(error, 417, "Expect: only 100-continue is supported");
      }
      head->expect_continue = true;
    }
  }
  if (head->version_minor == 1 && hosts != 1) {
    return Fail(error, 400, hosts == 0 ? "missing Host header" : "repeated Host header");
  }
  if (lengths > 1) return Fail(error, 400, "repeated Content-Length header");
  if (has_te && lengths > 0) {
    return Fail(error, 400, "Content-Length together with Transfer-Encoding (RFC 9112 section 6.3)");
  }
  if (has_te) {
    if (head->version_minor == 0) return Fail(error, 400, "Transfer-Encoding on an HTTP/1.0 request");
    if (codings.empty() || !EqualsIgnoreCase(codings.back(), "chunked")) {
      return Fail(error, 400, "Transfer-Encoding must end with chunked");
    }
    if (codings.size() != 1) {
      return Fail(error, 501, "Transfer-Encoding: only chunked is supported");
    }
    head->framing = HttpRequestHead::Framing::kChunked;
  } else if (lengths == 1) {
    if (length.empty() || length.size() > 18) {
      return Fail(error, 400, "bad Content-Length: not a non-negative decimal number");
    }
    int64_t n = 0;
    for (char c : length) {
      if (c < '0' || c > '9') {
        return Fail(error, 400, "bad Content-Length: not a non-negative decimal number");
      }
      n = n * 10 + (c - '0');
    }
    head->framing = n > 0 ? HttpRequestHead::Framing::kLength : HttpRequestHead::Framing::kNone;
    head->content_length = n;
  }
  head->keep_alive = head->version_minor == 1 ? !close : (keep_alive && !close);
  if (head->framing == HttpRequestHead::Framing::kNone) head->expect_continue = false;
  return ParseStatus::kComplete;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

const std::string* HttpRequestHead::Find(std::string_view name) const {
  for (const auto& field : headers) {
    if (EqualsIgnoreCase(field.first, name)) return &field.second;
  }
  return nullptr;
}

ParseStatus ParseRequestHead(std::string_view data, const HeadLimits& limits,
                             HttpRequestHead* head, size_t* consumed, HttpError* error) {
  *head = HttpRequestHead();
  size_t pos = 0;
  std::string_view line;
  size_t next = 0;
  // Empty lines before the request line are skipped (RFC 9112 §2.2).
  while (true) {
    if (pos > limits.max_head_bytes) return Fail(error, 431, "request head too large");
    if (!NextLine(data, pos, &line, &next)) {
      if (data.size() - pos > limits.max_head_bytes) {
        return Fail(error, 431, "request head too large");
      }
      return ParseStatus::kIncomplete;
    }
    if (!line.empty()) break;
    pos = next;
  }
  const size_t start = pos;
  // The whole head must be in before anything is parsed.
  size_t end = pos;
  {
    size_t p = pos;
    std::string_view l;
    size_t n = 0;
    while (true) {
      if (!NextLine(data, p, &l, &n)) {
        if (data.size() - start > limits.max_head_bytes) {
          return Fail(error, 431, "request head too large");
        }
        return ParseStatus::kIncomplete;
      }
      if (n - start > limits.max_head_bytes) return Fail(error, 431, "request head too large");
      p = n;
      if (l.empty()) break;
    }
    end = p;
  }
  std::string_view head_bytes = data.substr(start, end - start);
  for (size_t i = 0; i < head_bytes.size(); ++i) {
    if (head_bytes[i] == '\r' && (i + 1 >= head_bytes.size() || head_bytes[i + 1] != '\n')) {
      return Fail(error, 400, "bare CR in the request head");
    }
  }
  NextLine(data, start, &line, &next);
  if (ParseRequestLine(line, head, error) != ParseStatus::kComplete) return ParseStatus::kError;
  pos = next;
  while (NextLine(data, pos, &line, &next) && !line.empty()) {
    pos = next;
    if (line.front() == ' ' || line.front() == '\t') {
      return Fail(error, 400, "folded header line (obs-fold) is not accepted");
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Fail(error, 400, "header line without a colon");
    std::string_view name = line.substr(0, colon);
    if (!IsToken(name)) {
      return Fail(error, 400, name.empty() || name.back() == ' ' || name.back() == '\t'
                                  ? "whitespace before the colon of a header"
                                  : "bad header name");
    }
    std::string_view value = TrimOws(line.substr(colon + 1));
    for (unsigned char c : value) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return Fail(error, 400, "control byte in the value of header " + std::string(name));
      }
    }
    if (head->headers.size() >= limits.max_fields) {
      return Fail(error, 431, "too many header fields");
    }
    head->headers.emplace_back(std::string(name), std::string(value));
  }
  *consumed = end;
  if (ReadFraming(head, error) != ParseStatus::kComplete) return ParseStatus::kError;
  return ParseStatus::kComplete;
}

ParseStatus ChunkedDecoder::Feed(std::string_view data, size_t* consumed, std::string* body,
                                 HttpError* error) {
  size_t pos = 0;
  auto done = [&](ParseStatus s) {
    *consumed = pos;
    return s;
  };
  while (state_ != State::kDone) {
    if (state_ == State::kData) {
      size_t take = static_cast<size_t>(
          std::min<int64_t>(remaining_, static_cast<int64_t>(data.size() - pos)));
      body->append(data.substr(pos, take));
      pos += take;
      remaining_ -= static_cast<int64_t>(take);
      if (remaining_ > 0) return done(ParseStatus::kIncomplete);
      state_ = State::kDataEnd;
      continue;
    }
    std::string_view line;
    size_t next = 0;
    if (!NextLine(data, pos, &line, &next)) {
      if (data.size() - pos > 4096) {
        done(ParseStatus::kError);
        return Fail(error, 400, "chunked body: line too long");
      }
      return done(ParseStatus::kIncomplete);
    }
    pos = next;
    if (state_ == State::kDataEnd) {
      if (!line.empty()) {
        done(ParseStatus::kError);
        return Fail(error, 400, "chunked body: chunk data longer than its size");
      }
      state_ = State::kSize;
    } else if (state_ == State::kSize) {
      std::string_view size = line.substr(0, line.find(';'));
      size = TrimOws(size);
      if (size.empty() || size.size() > 15) {
        done(ParseStatus::kError);
        return Fail(error, 400, "chunked body: bad chunk size");
      }
      int64_t n = 0;
      for (char c : size) {
        int d = (c >= '0' && c <= '9') ? c - '0'
                : (Lower(c) >= 'a' && Lower(c) <= 'f') ? Lower(c) - 'a' + 10
                                                       : -1;
        if (d < 0) {
          done(ParseStatus::kError);
          return Fail(error, 400, "chunked body: bad chunk size");
        }
        n = n * 16 + d;
      }
      if (static_cast<int64_t>(body->size()) + n > max_body_) {
        done(ParseStatus::kError);
        return Fail(error, 413, "request body exceeds the limit of " + std::to_string(max_body_) +
                                    " bytes");
      }
      remaining_ = n;
      state_ = n == 0 ? State::kTrailer : State::kData;
    } else if (state_ == State::kTrailer) {
      if (line.empty()) state_ = State::kDone;  // trailer fields are read and dropped
    }
  }
  return done(ParseStatus::kComplete);
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: break;
  }
  switch (status / 100) {
    case 1: return "Informational";
    case 2: return "Success";
    case 3: return "Redirection";
    case 4: return "Client Error";
    default: return "Server Error";
  }
}

std::string SerializeResponse(int status, const HttpHeaders& headers,
                              const std::string& content_type, std::string_view body,
                              bool keep_alive, int version_minor) {
  char date[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  std::string out;
  out.reserve(160 + body.size() + headers.size() * 48);
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += ReasonPhrase(status);
  out += "\r\nDate: ";
  out += date;
  out += "\r\nServer: crmsync\r\n";
  if (!content_type.empty()) {
    out += "Content-Type: ";
    out += content_type;
    out += "\r\n";
  }
  out += "Content-Length: ";
  out += std::to_string(body.size());
  out += "\r\n";
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (version_minor == 0) {
    out += "Connection: keep-alive\r\n";
  }
  // A handler's header never splits the response: CR and LF are dropped.
  auto append_clean = [&out](const std::string& text) {
    for (char c : text) {
      if (c != '\r' && c != '\n') out.push_back(c);
    }
  };
  for (const auto& [name, value] : headers) {
    append_clean(name);
    out += ": ";
    append_clean(value);
    out += "\r\n";
  }
  out += "\r\n";
  out.append(body.data(), body.size());
  return out;
}

}  // namespace crmsync::engine
