// http/http_parser.h: a strict HTTP/1.1 request parser (RFC 9112) and the
// response writer, for the engine's own server (http/server.h).
//
// Plain functions on bytes: no sockets, no threads. The parser refuses what
// RFC 9112 says a server must refuse, and a few things it allows refusing,
// each with the status to answer and a message that names the fault:
//   - a request line that is not `token SP target SP HTTP/1.x` (400; another
//     HTTP version: 505);
//   - a header line without a colon, whitespace before the colon, a field line
//     folded onto the next (obs-fold), control bytes in a value, a bare CR (400);
//   - an HTTP/1.1 request without exactly one Host (400);
//   - a Content-Length that is not one run of digits, or that is repeated, even
//     with the same value (400), or sent together with Transfer-Encoding (400,
//     §6.3: such a message is a request-smuggling vector);
//   - a Transfer-Encoding other than `chunked` (501), or on HTTP/1.0 (400);
//   - an Expect other than 100-continue (417);
//   - a head larger than the limit or with too many fields (431).
// A single LF is accepted as a line end (§2.2).
#ifndef CRMSYNC_ENGINE_HTTP_HTTP_PARSER_H_
#define CRMSYNC_ENGINE_HTTP_HTTP_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crmsync::engine {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// A parsed request head.
struct HttpRequestHead {
  std::string method;
  std::string target;     ///< origin-form ("/path?query"); absolute-form is reduced to it.
  int version_minor = 1;  ///< HTTP/1.0 or HTTP/1.1.
  HttpHeaders headers;    ///< In the order sent; names as sent.

  enum class Framing { kNone, kLength, kChunked };
  Framing framing = Framing::kNone;
  int64_t content_length = 0;   ///< With Framing::kLength.
  bool keep_alive = true;       ///< What the client asked for (version + Connection).
  bool expect_continue = false;

  /// The first value of header `name` (case-insensitive), or nullptr.
  const std::string* Find(std::string_view name) const;
};

/// Why a request cannot be served: the status to answer, and what is wrong.
/// The connection is closed after such an answer.
struct HttpError {
  int status = 400;
  std::string message;
};

enum class ParseStatus { kIncomplete, kComplete, kError };

struct HeadLimits {
  size_t max_head_bytes = 16384;
  size_t max_fields = 100;
};

/// Parses the head at the start of `data`. kComplete: `*head` is filled and
/// `*consumed` is the head's length (empty lines before it included).
/// kIncomplete: more bytes are needed. kError: `*error` says what to answer.
ParseStatus ParseRequestHead(std::string_view data, const HeadLimits& limits,
                             HttpRequestHead* head, size_t* consumed, HttpError* error);

/// Decodes a chunked body (§7.1) fed in pieces.
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(int64_t max_body_bytes) : max_body_(max_body_bytes) {}
  /// Consumes from `data` (sets `*consumed`), appending the decoded bytes to
  /// `*body`. kComplete once the last chunk and the trailers are read;
  /// kError (with `*error`) for bad framing (400) or a body over the limit (413).
  ParseStatus Feed(std::string_view data, size_t* consumed, std::string* body,
                   HttpError* error);

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
  State state_ = State::kSize;
  int64_t remaining_ = 0;
  int64_t max_body_;
};

/// The reason phrase of `status` ("OK", "Not Found"); a generic phrase of its
/// class for codes without one of their own. Never empty.
const char* ReasonPhrase(int status);

/// Writes a whole response: status line with its reason phrase, Date, Server,
/// Content-Type, Content-Length, Connection (when closing, or on HTTP/1.0
/// keep-alive), the extra `headers`, then `body`.
std::string SerializeResponse(int status, const HttpHeaders& headers,
                              const std::string& content_type, std::string_view body,
                              bool keep_alive, int version_minor);

/// Case-insensitive ASCII comparison.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_HTTP_HTTP_PARSER_H_
