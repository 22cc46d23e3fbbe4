// Tests for the default outcome table (crmsync/classify.h): every row, the
// Retry-After forms, and the CRM reason extraction.
#include <doctest/doctest.h>

#include <string>

#include "crmsync/classify.h"

namespace crmsync {
namespace {

// 2015-10-21T07:28:00Z, the date in RFC 9110's Retry-After example.
constexpr int64_t kOct21 = 1445412480000LL;

HttpResponse Answer(int status, const std::string& body = "", const HeaderList& headers = {}) {
  HttpResponse response;
  response.status = status;
  response.body = body;
  response.headers = headers;
  response.request_sent = true;
  return response;
}

HttpResponse TransportFailure(TransportError error, const std::string& message, bool sent) {
  HttpResponse response;
  response.error = error;
  response.error_message = message;
  response.request_sent = sent;
  return response;
}

TEST_SUITE("sdk") {
  TEST_CASE("classify: transport errors are retryable and name the error") {
    Status s =
        DefaultClassify(TransportFailure(TransportError::kTimeout, "read timed out", true), kOct21);
    CHECK(s.code() == StatusCode::kRetryable);
    CHECK(s.message() == "timeout: read timed out");
    CHECK(s.retry_after_ms() == -1);

    CHECK(DefaultClassify(TransportFailure(TransportError::kConnect, "refused", false), kOct21)
              .code() == StatusCode::kRetryable);
    CHECK(DefaultClassify(TransportFailure(TransportError::kConnect, "refused", false), kOct21)
              .message() == "connect: refused");
    CHECK(DefaultClassify(TransportFailure(TransportError::kIo, "reset", true), kOct21).code() ==
          StatusCode::kRetryable);
    CHECK(DefaultClassify(TransportFailure(TransportError::kTls, "bad cert", false), kOct21)
              .message() == "tls: bad cert");
  }

  TEST_CASE("classify: 2xx is ok") {
    for (int status : {200, 201, 202, 204, 299}) {
      CAPTURE(status);
      CHECK(DefaultClassify(Answer(status, "{\"id\":\"x\"}"), kOct21).ok());
    }
  }

  TEST_CASE("classify: 401 and 403 are unauthenticated") {
    Status s401 = DefaultClassify(Answer(401, "{\"error\":\"bad key\"}"), kOct21);
    CHECK(s401.code() == StatusCode::kUnauthenticated);
    CHECK(s401.message() == "HTTP 401: bad key");
    CHECK(DefaultClassify(Answer(403), kOct21).code() == StatusCode::kUnauthenticated);
    CHECK(DefaultClassify(Answer(403), kOct21).message() == "HTTP 403");
  }

  TEST_CASE("classify: 404 not found, 409 conflict") {
    CHECK(DefaultClassify(Answer(404), kOct21).code() == StatusCode::kNotFound);
    Status conflict = DefaultClassify(Answer(409, "{\"message\":\"duplicate\"}"), kOct21);
    CHECK(conflict.code() == StatusCode::kConflict);
    CHECK(conflict.message() == "HTTP 409: duplicate");
  }

  TEST_CASE("classify: 400, 410, 422 are invalid records with the CRM's reason") {
    Status s422 = DefaultClassify(Answer(422, "{\"message\":\"email is invalid\"}"), kOct21);
    CHECK(s422.code() == StatusCode::kInvalidRecord);
    CHECK(s422.message() == "HTTP 422: email is invalid");
    Status s400 = DefaultClassify(Answer(400, "plain text reason"), kOct21);
    CHECK(s400.code() == StatusCode::kInvalidRecord);
    CHECK(s400.message() == "HTTP 400: plain text reason");
    Status s410 =
        DefaultClassify(Answer(410, "{\"error\":{\"message\":\"gone for good\"}}"), kOct21);
    CHECK(s410.code() == StatusCode::kInvalidRecord);
    CHECK(s410.message() == "HTTP 410: gone for good");
    CHECK_FALSE(s410.IsTransient());
  }

  TEST_CASE("classify: 408 and 5xx are retryable, 5xx honours Retry-After") {
    CHECK(DefaultClassify(Answer(408), kOct21).code() == StatusCode::kRetryable);
    for (int status : {500, 502, 503, 504, 599}) {
      CAPTURE(status);
      Status s = DefaultClassify(Answer(status), kOct21);
      CHECK(s.code() == StatusCode::kRetryable);
      CHECK(s.retry_after_ms() == -1);
    }
    Status with_wait = DefaultClassify(Answer(503, "", {{"Retry-After", "7"}}), kOct21);
    CHECK(with_wait.code() == StatusCode::kRetryable);
    CHECK(with_wait.retry_after_ms() == 7000);
    CHECK(with_wait.message() == "HTTP 503");
    Status garbage = DefaultClassify(Answer(503, "", {{"retry-after", "soon"}}), kOct21);
    CHECK(garbage.code() == StatusCode::kRetryable);
    CHECK(garbage.retry_after_ms() == -1);
  }

  TEST_CASE("classify: 429 waits for Retry-After seconds") {
    Status s = DefaultClassify(Answer(429, "{\"reason\":\"slow down\"}", {{"Retry-After", "120"}}),
                               kOct21);
    CHECK(s.code() == StatusCode::kRateLimited);
    CHECK(s.retry_after_ms() == 120000);
    CHECK(s.message() == "HTTP 429: slow down");
  }

  TEST_CASE("classify: 429 waits until a Retry-After HTTP date") {
    Status s = DefaultClassify(Answer(429, "", {{"Retry-After", "Wed, 21 Oct 2015 07:28:30 GMT"}}),
                               kOct21);
    CHECK(s.code() == StatusCode::kRateLimited);
    CHECK(s.retry_after_ms() == 30000);
  }

  TEST_CASE("classify: 429 with a past date waits 0, without a usable value the default") {
    Status past = DefaultClassify(
        Answer(429, "", {{"Retry-After", "Wed, 21 Oct 2015 07:27:00 GMT"}}), kOct21);
    CHECK(past.code() == StatusCode::kRateLimited);
    CHECK(past.retry_after_ms() == 0);
    Status none = DefaultClassify(Answer(429), kOct21);
    CHECK(none.code() == StatusCode::kRateLimited);
    CHECK(none.retry_after_ms() == kDefaultRateLimitWaitMs);
    Status garbage = DefaultClassify(Answer(429, "", {{"Retry-After", "tomorrow-ish"}}), kOct21);
    CHECK(garbage.retry_after_ms() == kDefaultRateLimitWaitMs);
  }

  TEST_CASE("classify: 1xx, 3xx and other 4xx are permanent") {
    for (int status : {100, 301, 302, 304, 402, 405, 413, 415, 418}) {
      CAPTURE(status);
      CHECK(DefaultClassify(Answer(status), kOct21).code() == StatusCode::kPermanent);
    }
  }

  TEST_CASE("classify: the clock-reading overload agrees on plain statuses") {
    CHECK(DefaultClassify(Answer(200)).ok());
    CHECK(DefaultClassify(Answer(429)).code() == StatusCode::kRateLimited);
    CHECK(DefaultClassify(Answer(429, "", {{"Retry-After", "3"}})).retry_after_ms() == 3000);
  }

  TEST_CASE("ParseRetryAfterMs: seconds, the three HTTP date forms, past and garbage") {
    CHECK(ParseRetryAfterMs("0", kOct21) == 0);
    CHECK(ParseRetryAfterMs("120", kOct21) == 120000);
    CHECK(ParseRetryAfterMs(" 5 ", kOct21) == 5000);
    CHECK(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:10 GMT", kOct21) == 10000);      // RFC 1123
    CHECK(ParseRetryAfterMs("Wednesday, 21-Oct-15 07:28:20 GMT", kOct21) == 20000);  // RFC 850
    CHECK(ParseRetryAfterMs("Wed Oct 21 07:28:40 2015", kOct21) == 40000);           // asctime
    CHECK(ParseRetryAfterMs("Tue, 20 Oct 2015 07:28:00 GMT", kOct21) == 0);
    CHECK(ParseRetryAfterMs("", kOct21) == -1);
    CHECK(ParseRetryAfterMs("-5", kOct21) == -1);
    CHECK(ParseRetryAfterMs("1.5", kOct21) == -1);
    CHECK(ParseRetryAfterMs("soon", kOct21) == -1);
    CHECK(ParseRetryAfterMs("Wed, 21 Foo 2015 07:28:00 GMT", kOct21) == -1);
    CHECK(ParseRetryAfterMs("99999999999999999999999", kOct21) > 0);
  }

  TEST_CASE("ExtractCrmReason: JSON keys in order, nested message, raw fallback") {
    CHECK(ExtractCrmReason("{\"message\":\"m\",\"error\":\"e\"}") == "m");
    CHECK(ExtractCrmReason("{\"error\":\"e\",\"reason\":\"r\"}") == "e");
    CHECK(ExtractCrmReason("{\"reason\":\"r\",\"detail\":\"d\"}") == "r");
    CHECK(ExtractCrmReason("{\"detail\":\"d\"}") == "d");
    CHECK(ExtractCrmReason("{\"error\":{\"code\":7,\"message\":\"nested\"}}") == "nested");
    CHECK(ExtractCrmReason("{\"code\":7}") == "{\"code\":7}");
    CHECK(ExtractCrmReason("bad\x01 thing\r\nhere") == "bad thing here");
    CHECK(ExtractCrmReason("") == "");
    std::string long_body(1000, 'x');
    CHECK(ExtractCrmReason(long_body).size() == 200);
    std::string long_message = "{\"message\":\"" + std::string(300, 'y') + "\"}";
    CHECK(ExtractCrmReason(long_message) == std::string(200, 'y'));
    CHECK(ExtractCrmReason("{not json") == "{not json");
  }
}

}  // namespace
}  // namespace crmsync
