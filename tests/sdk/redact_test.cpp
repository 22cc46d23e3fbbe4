// Tests for MaskSensitive() (crmsync/redact.h): what it hides, what it must
// leave readable, idempotence and long input.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "crmsync/redact.h"

namespace crmsync {
namespace {

TEST_SUITE("sdk") {
  TEST_CASE("MaskSensitive: e-mail addresses become [email]") {
    CHECK(MaskSensitive("Email address asha@example.com is invalid") ==
          "Email address [email] is invalid");
    CHECK(MaskSensitive("x@y is invalid") == "[email] is invalid");
    CHECK(MaskSensitive("to first.last+crm@mail.example.co.in.") == "to [email].");
    CHECK(MaskSensitive("\"email\":\"tb.tb@yahoo.comtttt\"") == "\"email\":\"[email]\"");
    CHECK(MaskSensitive("<a.b@c.d>, (e@f.org)") == "<[email]>, ([email])");
    CHECK(MaskSensitive("Endereço de e-mail tb@exemplo.com.br inválido") ==
          "Endereço de e-mail [email] inválido");
    CHECK(MaskSensitive("GET /contacts?email=asha%40example.com&limit=1") ==
          "GET /contacts?email=[email]&limit=1");
    CHECK(MaskSensitive("https://user:pass@crm.example.com/x") == "https://user:[email]/x");
    CHECK(MaskSensitive("@mention, trailing@ and 100%40 done") ==
          "@mention, trailing@ and 100%40 done");
  }

  TEST_CASE("MaskSensitive: phone numbers become [phone]") {
    CHECK(MaskSensitive("phone +91 98765 43210 is invalid") == "phone [phone] is invalid");
    CHECK(MaskSensitive("call +1 (555) 010-2233 now") == "call [phone] now");
    CHECK(MaskSensitive("555-010-2233") == "[phone]");
    CHECK(MaskSensitive("(555) 010 2233.") == "[phone].");
    CHECK(MaskSensitive("555.010.2233") == "[phone]");
    CHECK(MaskSensitive("\"phone\":\"+919876543210\"") == "\"phone\":\"[phone]\"");
    CHECK(MaskSensitive("Phone 9876543210 is invalid") == "Phone [phone] is invalid");
    CHECK(MaskSensitive("+33 1 23 45 67 89") == "[phone]");
    CHECK(MaskSensitive("+44 20 7946 0958, +1-555-010-2233") == "[phone], [phone]");
    CHECK(MaskSensitive("tel:+15550102233") == "tel:[phone]");
    CHECK(MaskSensitive("?phone=%2B919876543210&x=1") == "?phone=%2B[phone]&x=1");
  }

  TEST_CASE("MaskSensitive: credentials become [token], their keys stay") {
    CHECK(MaskSensitive("Authorization: Bearer abc123DEF456ghi789") ==
          "Authorization: Bearer [token]");
    CHECK(MaskSensitive("Basic dXNlcjpwYXNzd29yZA==") == "Basic [token]");
    CHECK(MaskSensitive("GET /v1/leads?api_key=s3cr3t&limit=10") ==
          "GET /v1/leads?api_key=[token]&limit=10");
    CHECK(MaskSensitive("hapikey=ab12 token=xyz secret = hunter2") ==
          "hapikey=[token] token=[token] secret = [token]");
    CHECK(MaskSensitive("password=pa55word; X-Api-Key: 9f8e7d6c5b4a") ==
          "password=[token]; X-Api-Key: [token]");
    CHECK(MaskSensitive("{\"access_token\":\"short\",\"client_secret\":\"two words\"}") ==
          "{\"access_token\":\"[token]\",\"client_secret\":\"[token]\"}");
    CHECK(MaskSensitive("password=a@b.c") == "password=[token]");
    CHECK(MaskSensitive("Authorization=Bearer abc123DEF456ghi789") ==
          "Authorization=Bearer [token]");
  }

  TEST_CASE("MaskSensitive: JWTs and long opaque strings become [token]") {
    CHECK(MaskSensitive("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.SflKxwRJSMeKKF2QT4fwpM "
                        "expired") == "jwt [token] expired");
    CHECK(MaskSensitive("key sk_live_4eC39HqLyjWDarjtT1zdp7dc rejected") == "key [token] rejected");
    CHECK(MaskSensitive("sha 3f786850e387550fdab836ed7e6dc881de23001b") == "sha [token]");
    CHECK(MaskSensitive("session AbCdEfGhIjKlMnOpQrStUvWx12.") == "session [token].");
  }

  TEST_CASE("MaskSensitive: ordinary text, paths, numbers, dates and ids stay") {
    const char* kept[] = {
        "HTTP 422: invalid data (INVALID_DATA)",
        "POST /api/v1/leads/crm_2/deals answered 503",
        "lead:42 crm_12 attempt 3 of 6, retry in 1000 ms",
        "at 2026-11-23T10:15:00Z and 2026-11-23 10:15:00",
        "on 23.11.2026 at 10:15",
        "Last_Name: required field not found (MANDATORY_NOT_FOUND)",
        "hs_additional_emails_v2_field_name is read-only",
        "INVALID_EMAIL_ADDRESS, PROPERTY_DOESNT_EXIST, VALIDATION_ERROR",
        "correlationId 11061cd3-cf3b-45f7-98d4-27f10a99ece6",
        "record 4150868000000225013 at 1700000000000",
        "Missing Authorization: Bearer header",
        "token: expired; password: required field not found",
        "host 192.168.100.200 port 8443, version 1.11.0",
        "rows 1, 2, 3 and 12 34 56",
        "amount 1234567.89 INR",
        "api.hubapi.com/crm/v3/objects/contacts/batch/create",
        "propertyValidationResult",
        "",
    };
    for (const char* text : kept) {
      CAPTURE(text);
      CHECK(MaskSensitive(text) == text);
    }
  }

  TEST_CASE("MaskSensitive: masking masked text changes nothing") {
    const std::string text =
        "email: Email address asha@example.com is invalid (INVALID_EMAIL); phone: +1 (555) "
        "010-2233; Bearer abc123DEF456ghi789; api_key=s3cr3t";
    const std::string once = MaskSensitive(text);
    CHECK(once ==
          "email: Email address [email] is invalid (INVALID_EMAIL); phone: [phone]; Bearer "
          "[token]; api_key=[token]");
    CHECK(MaskSensitive(once) == once);
  }

  TEST_CASE("MaskSensitive: long and hostile input is masked in linear time") {
    std::string text;
    for (int i = 0; i < 2000; ++i) text += "lead " + std::to_string(i) + " asha@example.com; ";
    text += std::string(20000, '1') + " " + std::string(20000, '@') + " ";
    for (int i = 0; i < 5000; ++i) text += "1 ";
    text += std::string(20000, 'a') + "@" + std::string(20000, 'b');
    const auto started = std::chrono::steady_clock::now();
    const std::string masked = MaskSensitive(text);
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(masked.find("asha@") == std::string::npos);
    CHECK(masked.find("lead 1999 [email]; ") != std::string::npos);
    CHECK(masked.find(std::string(20000, '1')) != std::string::npos);  // a long id, not a phone
    CHECK(masked.substr(masked.size() - 7) == "[email]");
    // Quadratic work on ~130 KB would take many seconds; linear is milliseconds.
    CHECK(took < std::chrono::seconds(2));
  }

  TEST_CASE("MaskSecrets replaces known secret values, and cannot loop on one inside [token]") {
    CHECK(MaskSecrets("GET /x?api_token=AbCd1234 and AbCd1234 again", {"AbCd1234"}) ==
          "GET /x?api_token=[token] and [token] again");
    // "token" occurs in the placeholder itself: the scan resumes after it.
    CHECK(MaskSecrets("a token b token", {"token"}) == "a [token] b [token]");
    CHECK(MaskSecrets("keys abc and ab", {"abc", "ab", ""}) == "keys abc and ab");  // too short
    CHECK(MaskSecrets("x-longsecret-y", {"secret", "longsecret"}) == "x-long[token]-y");
  }
}

}  // namespace
}  // namespace crmsync
