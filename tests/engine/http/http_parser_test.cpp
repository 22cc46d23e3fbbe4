// http_parser_test.cpp: the strict HTTP/1.1 request parser, the chunked
// decoder, the response writer and JsonQuote, on plain bytes. Every refusal
// rule of http_parser.h has a case with the status it answers.
#include <doctest/doctest.h>

#include <string>

#include "common/json_writer.h"
#include "http/http_parser.h"
#include "http/router.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::IsValidUtf8;

struct Parsed {
  ParseStatus status;
  HttpRequestHead head;
  size_t consumed = 0;
  HttpError error;
};

Parsed Parse(const std::string& data, HeadLimits limits = {}) {
  Parsed p;
  p.status = ParseRequestHead(data, limits, &p.head, &p.consumed, &p.error);
  return p;
}

// The status a head is refused with (0 when it is accepted).
int RefusedWith(const std::string& head) {
  Parsed p = Parse(head);
  if (p.status == ParseStatus::kComplete) return 0;
  REQUIRE(p.status == ParseStatus::kError);
  CHECK(!p.error.message.empty());
  return p.error.status;
}

TEST_SUITE("http parser") {
  TEST_CASE("a GET and a POST with Content-Length parse, headers kept in order") {
    Parsed get = Parse("GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\nX-One: 1\r\nx-two:  2 \r\n\r\nrest");
    REQUIRE(get.status == ParseStatus::kComplete);
    CHECK(get.head.method == "GET");
    CHECK(get.head.target == "/healthz?x=1");
    CHECK(get.head.version_minor == 1);
    CHECK(get.head.framing == HttpRequestHead::Framing::kNone);
    CHECK(get.head.keep_alive);
    CHECK(get.consumed == std::string("GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\nX-One: 1\r\nx-two:  2 \r\n\r\n").size());
    REQUIRE(get.head.headers.size() == 3);
    CHECK(*get.head.Find("X-TWO") == "2");

    Parsed post = Parse("POST /api/events HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n");
    REQUIRE(post.status == ParseStatus::kComplete);
    CHECK(post.head.framing == HttpRequestHead::Framing::kLength);
    CHECK(post.head.content_length == 12);
    Parsed zero = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    REQUIRE(zero.status == ParseStatus::kComplete);
    CHECK(zero.head.framing == HttpRequestHead::Framing::kNone);
  }

  TEST_CASE("a head arriving in pieces is incomplete until its empty line") {
    const std::string whole = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for (size_t n = 0; n < whole.size(); ++n) {
      CHECK(Parse(whole.substr(0, n)).status == ParseStatus::kIncomplete);
    }
    CHECK(Parse(whole).status == ParseStatus::kComplete);
    // Empty lines before the request line are skipped; a lone LF ends a line.
    Parsed lf = Parse("\r\n\nGET / HTTP/1.1\nHost: a\n\n");
    REQUIRE(lf.status == ParseStatus::kComplete);
    CHECK(lf.consumed == std::string("\r\n\nGET / HTTP/1.1\nHost: a\n\n").size());
  }

  TEST_CASE("keep-alive follows the version and Connection") {
    CHECK(Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").head.keep_alive);
    CHECK(!Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").head.keep_alive);
    CHECK(!Parse("GET / HTTP/1.0\r\n\r\n").head.keep_alive);
    CHECK(Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head.keep_alive);
    CHECK(!Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n").head.keep_alive);
  }

  TEST_CASE("an absolute-form target is reduced to its path") {
    Parsed p = Parse("GET http://example.test:8080/api/x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(p.status == ParseStatus::kComplete);
    CHECK(p.head.target == "/api/x?y=1");
  }

  TEST_CASE("Content-Length: negative, non-numeric, signed, listed or repeated is 400") {
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n") == 400);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n") == 400);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n") == 400);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n") == 400);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n") == 400);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n") == 400);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n") == 400);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") == 400);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n") == 400);
    Parsed p = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
    CHECK(p.error.message.find("repeated Content-Length") != std::string::npos);
  }

  TEST_CASE("Content-Length with Transfer-Encoding is 400 (RFC 9112 section 6.3)") {
    Parsed p = Parse(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    REQUIRE(p.status == ParseStatus::kError);
    CHECK(p.error.status == 400);
    CHECK(p.error.message.find("Transfer-Encoding") != std::string::npos);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") == 400);
  }

  TEST_CASE("Transfer-Encoding: only chunked, last, on HTTP/1.1") {
    Parsed ok = Parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
    REQUIRE(ok.status == ParseStatus::kComplete);
    CHECK(ok.head.framing == HttpRequestHead::Framing::kChunked);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") == 400);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") == 400);
    CHECK(RefusedWith("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  }

  TEST_CASE("Host: exactly one on HTTP/1.1") {
    CHECK(RefusedWith("GET / HTTP/1.1\r\n\r\n") == 400);
    CHECK(RefusedWith("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
    CHECK(RefusedWith("GET / HTTP/1.0\r\n\r\n") == 0);
  }

  TEST_CASE("malformed request lines and versions") {
    CHECK(RefusedWith("GET /\r\nHost: a\r\n\r\n") == 400);
    CHECK(RefusedWith("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(RefusedWith("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(RefusedWith("GET nopath HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(RefusedWith("GET / HTTX/1.1\r\nHost: a\r\n\r\n") == 400);
    CHECK(RefusedWith("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505);
    CHECK(RefusedWith("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == 505);
    CHECK(RefusedWith("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  }

  TEST_CASE("bad header lines: no colon, space before colon, obs-fold, control bytes, bare CR") {
    CHECK(RefusedWith("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n") == 400);
    CHECK(RefusedWith("GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n") == 400);
    CHECK(RefusedWith("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n") == 400);
    const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\0002\r\n\r\n";
    CHECK(RefusedWith(std::string(nul, sizeof(nul) - 1)) == 400);
    CHECK(RefusedWith("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n") == 400);
    CHECK(RefusedWith("GET / HTTP/1.1\r\nHost: a\r\n: empty-name\r\n\r\n") == 400);
    // obs-text (bytes 0x80-0xFF) and tabs are allowed in values.
    CHECK(RefusedWith("GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9\tx\r\n\r\n") == 0);
  }

  TEST_CASE("Expect: 100-continue is noted, anything else is 417") {
    Parsed p = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n");
    REQUIRE(p.status == ParseStatus::kComplete);
    CHECK(p.head.expect_continue);
    CHECK(RefusedWith("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: teapot\r\n\r\n") == 417);
  }

  TEST_CASE("a head over the size limit or with too many fields is 431") {
    HeadLimits limits;
    limits.max_head_bytes = 256;
    limits.max_fields = 4;
    std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(300, 'x');
    Parsed partial = Parse(big, limits);  // not even complete yet: already too large
    REQUIRE(partial.status == ParseStatus::kError);
    CHECK(partial.error.status == 431);
    Parsed whole = Parse(big + "\r\n\r\n", limits);
    CHECK(whole.error.status == 431);
    std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 5; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
    Parsed fields = Parse(many + "\r\n", limits);
    REQUIRE(fields.status == ParseStatus::kError);
    CHECK(fields.error.status == 431);
  }

  TEST_CASE("chunked bodies decode in any pieces, with extensions and trailers") {
    const std::string wire = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT";
    for (size_t step = 1; step <= wire.size(); ++step) {
      ChunkedDecoder decoder(1000);
      std::string body;
      std::string buffer;
      HttpError error;
      ParseStatus status = ParseStatus::kIncomplete;
      size_t fed = 0;
      while (status == ParseStatus::kIncomplete && fed < wire.size()) {
        buffer += wire.substr(fed, step);
        fed += std::min(step, wire.size() - fed);
        size_t consumed = 0;
        status = decoder.Feed(buffer, &consumed, &body, &error);
        buffer.erase(0, consumed);
      }
      REQUIRE(status == ParseStatus::kComplete);
      CHECK(body == "hello world");
      CHECK((buffer + wire.substr(fed)) == "NEXT");
    }
  }

  TEST_CASE("chunked: a bad size or missing CRLF is 400, over the limit 413") {
    auto feed = [](const std::string& wire, int64_t limit) {
      ChunkedDecoder decoder(limit);
      std::string body;
      size_t consumed = 0;
      HttpError error;
      ParseStatus status = decoder.Feed(wire, &consumed, &body, &error);
      return status == ParseStatus::kError ? error.status : 0;
    };
    CHECK(feed("zz\r\nhello\r\n0\r\n\r\n", 100) == 400);
    CHECK(feed("-5\r\nhello\r\n0\r\n\r\n", 100) == 400);
    CHECK(feed("\r\nhello\r\n0\r\n\r\n", 100) == 400);
    CHECK(feed("3\r\nhello\r\n0\r\n\r\n", 100) == 400);
    CHECK(feed("ffffffffffffffff\r\n", 100) == 400);
    CHECK(feed("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 8) == 413);
    CHECK(feed("5\r\nhello\r\n0\r\n\r\n", 5) == 0);
  }

  TEST_CASE("every status line carries a reason phrase") {
    for (int status = 100; status < 600; ++status) {
      CAPTURE(status);
      CHECK(std::string(ReasonPhrase(status)).size() > 0);
    }
    CHECK(std::string(ReasonPhrase(413)) == "Content Too Large");
    std::string r = SerializeResponse(299, {}, "application/json", "{}", true, 1);
    CHECK(r.rfind("HTTP/1.1 299 Success\r\n", 0) == 0);
  }

  TEST_CASE("responses: length, connection and no header splitting") {
    std::string keep = SerializeResponse(200, {{"X-Id", "a\r\nSet-Cookie: evil"}}, "text/plain", "hi", true, 1);
    CHECK(keep.find("Content-Length: 2\r\n") != std::string::npos);
    CHECK(keep.find("Connection:") == std::string::npos);
    CHECK(keep.find("X-Id: aSet-Cookie: evil\r\n") != std::string::npos);
    CHECK(keep.find("\r\nSet-Cookie") == std::string::npos);
    CHECK(keep.substr(keep.size() - 6) == "\r\n\r\nhi");
    CHECK(SerializeResponse(200, {}, "", "", false, 1).find("Connection: close\r\n") != std::string::npos);
    CHECK(SerializeResponse(200, {}, "", "", true, 0).find("Connection: keep-alive\r\n") != std::string::npos);
  }

  TEST_CASE("JsonQuote always gives valid UTF-8 JSON") {
    CHECK(JsonQuote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8f\xa0") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8f\xa0\"");
    CHECK(JsonQuote("a\xff" "b") == "\"a\xef\xbf\xbd" "b\"");
    CHECK(JsonQuote("\xc3") == "\"\xef\xbf\xbd\"");                 // truncated sequence
    CHECK(JsonQuote("\xc0\xaf") == "\"\xef\xbf\xbd\xef\xbf\xbd\"");  // overlong
    CHECK(JsonQuote("\xed\xa0\x80").find("\xed") == std::string::npos);  // surrogate
    CHECK(JsonQuote("\xf4\x90\x80\x80").find("\xf4") == std::string::npos);  // past U+10FFFF
    CHECK(JsonQuote(std::string("\x01\x7f\"\\\n", 5)) == "\"\\u0001\\u007f\\\"\\\\\\n\"");
    std::string all;
    for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
    CHECK(IsValidUtf8(JsonQuote(all)));
  }
}

}  // namespace
}  // namespace crmsync::engine
