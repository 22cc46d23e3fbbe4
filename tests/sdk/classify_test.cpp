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
    CHECK(ExtractCrmReason(long_body).size() == 400);
    std::string long_message = "{\"message\":\"" + std::string(500, 'y') + "\"}";
    CHECK(ExtractCrmReason(long_message) == std::string(400, 'y'));
    CHECK(ExtractCrmReason("{not json") == "{not json");
    CHECK(ExtractCrmReason("[not json") == "[not json");
    CHECK(ExtractCrmReason("[]") == "[]");
  }

  TEST_CASE("ExtractCrmReason: the cut keeps UTF-8 whole and comes after masking") {
    // 399 bytes, then a 2-byte character across the 400-byte cap.
    std::string text = std::string(399, 'a') + "\xC3\xA9" + "tail";
    CHECK(ExtractCrmReason(text) == std::string(399, 'a'));
    // An address straddling the cap is masked, not cut into an unmaskable half.
    std::string near_cap = std::string(395, 'b') + " asha@example.com";
    CHECK(ExtractCrmReason(near_cap) == std::string(395, 'b') + " [ema");
  }

  TEST_CASE("ExtractCrmReason: HubSpot property validation keeps each field, masked") {
    const std::string body =
        R"({"status":"error","message":"Property values were not valid: [{\"isValid\":false,)"
        R"(\"message\":\"Email address asha@example.com is invalid\",\"error\":\"INVALID_EMAIL\",)"
        R"(\"name\":\"email\"},{\"isValid\":false,\"message\":\"Phone +91 98765 43210 is not a )"
        R"(valid number\",\"error\":\"INVALID_PHONE_NUMBER\",\"name\":\"phone\"}]",)"
        R"("correlationId":"11061cd3-cf3b-45f7-98d4-27f10a99ece6","category":"VALIDATION_ERROR"})";
    CHECK(ExtractCrmReason(body) ==
          "email: Email address [email] is invalid (INVALID_EMAIL); "
          "phone: Phone [phone] is not a valid number (INVALID_PHONE_NUMBER)");
  }

  TEST_CASE("ExtractCrmReason: HubSpot errors[] and batch failureMessages") {
    const std::string errors =
        R"({"status":"error","message":"One or more validation errors occurred",)"
        R"("correlationId":"abc","category":"VALIDATION_ERROR","errors":[{"message":)"
        R"("Email address x@y.com is invalid","code":"INVALID_EMAIL","context":)"
        R"({"propertyName":["email"]}}]})";
    CHECK(ExtractCrmReason(errors) == "email: Email address [email] is invalid (INVALID_EMAIL)");
    const std::string batch =
        R"({"status":"error","message":"Errors found processing batch update",)"
        R"("failureMessages":[{"index":3,"propertyValidationResult":{"isValid":false,)"
        R"("message":"Property \"favorite_color\" does not exist","error":)"
        R"("PROPERTY_DOESNT_EXIST","name":"favorite_color"}},{"index":33,"error":)"
        R"({"status":"error","message":"email address xxx@xxx.comv is invalid"}}]})";
    CHECK(ExtractCrmReason(batch) ==
          "favorite_color: Property \"favorite_color\" does not exist (PROPERTY_DOESNT_EXIST); "
          "email address [email] is invalid");
    // A v3 batch 207: the successes are in "results", the failures in "errors".
    const std::string multi =
        R"({"status":"COMPLETE","results":[{"id":"51"}],"numErrors":1,"errors":[{"status":)"
        R"("error","category":"VALIDATION_ERROR","message":"Property values were not valid",)"
        R"("context":{"propertyName":["phone"]}}]})";
    CHECK(ExtractCrmReason(multi) == "phone: Property values were not valid");
  }

  TEST_CASE("ExtractCrmReason: a Salesforce error array") {
    const std::string body =
        R"([{"message":"Email: invalid email address: asha@example.com","errorCode":)"
        R"("INVALID_EMAIL_ADDRESS","fields":["Email"]},{"message":"Required fields are )"
        R"(missing: [LastName, Company]","errorCode":"REQUIRED_FIELD_MISSING","fields":)"
        R"(["LastName","Company"]}])";
    CHECK(ExtractCrmReason(body) ==
          "Email: Email: invalid email address: [email] (INVALID_EMAIL_ADDRESS); "
          "LastName,Company: Required fields are missing: [LastName, Company] "
          "(REQUIRED_FIELD_MISSING)");
  }

  TEST_CASE("ExtractCrmReason: Zoho data[] items and a single Zoho error") {
    const std::string data =
        R"({"data":[{"code":"SUCCESS","details":{"id":"4150868000000225013"},"message":)"
        R"("record added","status":"success"},{"code":"INVALID_DATA","details":{"api_name":)"
        R"("Email","expected_data_type":"email"},"message":"invalid data","status":"error"}]})";
    CHECK(ExtractCrmReason(data) == "Email: invalid data (INVALID_DATA)");
    const std::string single =
        R"({"code":"MANDATORY_NOT_FOUND","details":{"api_name":"Last_Name"},)"
        R"("message":"required field not found","status":"error"})";
    CHECK(ExtractCrmReason(single) == "Last_Name: required field not found (MANDATORY_NOT_FOUND)");
    // Without a field the top-level message is the reason, as before.
    CHECK(ExtractCrmReason(R"({"code":"INVALID_TOKEN","message":"invalid oauth token"})") ==
          "invalid oauth token");
    // Duplicate items are reported once; an item with only a code keeps the code.
    CHECK(ExtractCrmReason(R"({"data":[{"code":"DUPLICATE_DATA"},{"code":"DUPLICATE_DATA"}]})") ==
          "DUPLICATE_DATA");
    CHECK(ExtractCrmReason(R"({"errors":[{"code":42,"field":"age"}]})") == "age: 42");
  }

  TEST_CASE("ExtractCrmReason: errors as plain strings or keyed by field") {
    CHECK(ExtractCrmReason(R"({"errors":["Email x@y.io is invalid","Name is blank"]})") ==
          "Email [email] is invalid; Name is blank");
    CHECK(ExtractCrmReason(
              R"({"message":"Validation failed","errors":{"email":["is invalid","is taken"],)"
              R"("phone":"+1 555 010 2233 is too short","age":7}})") ==
          "email: is invalid, is taken; phone: [phone] is too short");
    // Nothing usable inside: the top-level message, as before.
    CHECK(ExtractCrmReason(R"({"message":"Validation failed","errors":{"age":7}})") ==
          "Validation failed");
  }

  TEST_CASE("ExtractCrmReason: many field errors stay within the cap") {
    std::string body = "[";
    for (int i = 0; i < 50; ++i) {
      if (i) body += ",";
      body += R"({"message":"bad value user)" + std::to_string(i) +
              R"(@example.com","errorCode":"INVALID","fields":["F)" + std::to_string(i) + "\"]}";
    }
    body += "]";
    const std::string reason = ExtractCrmReason(body);
    CHECK(reason.size() <= 400);
    CHECK(reason.rfind("F0: bad value [email] (INVALID); F1: bad value [email]", 0) == 0);
    CHECK(reason.find('@') == std::string::npos);
  }

  TEST_CASE("classify: a vendor 422 or 400 keeps field-level reasons, masked") {
    Status hubspot = DefaultClassify(
        Answer(400, R"({"status":"error","message":"Property values were not valid: [{\"isValid\":)"
                    R"(false,\"message\":\"Email address asha@example.com is invalid\",\"error\":)"
                    R"(\"INVALID_EMAIL\",\"name\":\"email\"}]","category":"VALIDATION_ERROR"})"),
        kOct21);
    CHECK(hubspot.code() == StatusCode::kInvalidRecord);
    CHECK(hubspot.message() == "HTTP 400: email: Email address [email] is invalid (INVALID_EMAIL)");
    Status zoho = DefaultClassify(
        Answer(422, R"({"data":[{"code":"INVALID_DATA","details":{"api_name":"Phone"},)"
                    R"("message":"invalid data for +1 (555) 010-2233","status":"error"}]})"),
        kOct21);
    CHECK(zoho.code() == StatusCode::kInvalidRecord);
    CHECK(zoho.message() == "HTTP 422: Phone: invalid data for [phone] (INVALID_DATA)");
    Status plain = DefaultClassify(Answer(422, "lead asha@example.com refused"), kOct21);
    CHECK(plain.message() == "HTTP 422: lead [email] refused");
  }

  TEST_CASE("classify: a transport error's message is masked") {
    Status s = DefaultClassify(
        TransportFailure(TransportError::kConnect, "GET /v1?api_key=s3cr3t refused", false),
        kOct21);
    CHECK(s.message() == "connect: GET /v1?api_key=[token] refused");
  }
}

}  // namespace
}  // namespace crmsync
