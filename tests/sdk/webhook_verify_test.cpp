// Tests for crmsync/webhook_verify.h: each vendor scheme accepts a delivery
// signed as the vendor documents (the expected signatures were computed with
// Python's hmac and hashlib, not with this code), and refuses a tampered,
// stale, unsigned or malformed one with the reason first.
#include <doctest/doctest.h>

#include <cctype>
#include <string>

#include "crmsync/webhook_verify.h"

namespace crmsync {
namespace {

const char kBody[] =
    R"([{"eventId":100,"subscriptionType":"contact.propertyChange","objectId":123,)"
    R"("propertyName":"hs_lead_status","propertyValue":"CONNECTED","occurredAt":1764777600000}])";
const char kUrl[] = "https://crm.example.com/api/v1/crm/webhook?portal=7";
const int64_t kSignedAt = 1764777600000;  // ms

WebhookDelivery Delivery(HeaderList headers, std::string body = kBody) {
  WebhookDelivery d;
  d.headers = std::move(headers);
  d.body = std::move(body);
  d.method = "POST";
  d.url = kUrl;
  d.received_ms = kSignedAt + 1000;
  return d;
}

WebhookVerifier Verifier(WebhookScheme scheme, std::vector<std::string> secrets) {
  WebhookVerifier v;
  v.scheme = scheme;
  v.secrets = std::move(secrets);
  return v;
}

std::string Reason(const Status& s) { return s.message().substr(0, s.message().find(':')); }

TEST_CASE("hubspot-v3 accepts HubSpot's signature and refuses tampering, staleness and absence") {
  const std::string sig = "k79QTE4MdwYUkXQAhAMcyElELQIV5BIXN7vHnL4tyqA=";
  CHECK(HubSpotSignatureV3("hs-client-secret", "POST", kUrl, kBody, "1764777600000") == sig);
  WebhookVerifier v = Verifier(WebhookScheme::kHubSpotV3, {"old-secret", "hs-client-secret"});
  HeaderList good = {{"X-HubSpot-Signature-v3", sig}, {"X-HubSpot-Request-Timestamp", "1764777600000"}};
  CHECK(VerifyWebhookWith(v, Delivery(good)).ok());

  SUBCASE("a changed body") {
    std::string body = kBody;
    body.replace(body.find("CONNECTED"), 9, "UNQUALIFD");
    Status s = VerifyWebhookWith(v, Delivery(good, body));
    CHECK(s.code() == StatusCode::kUnauthenticated);
    CHECK(Reason(s) == "bad_signature");
  }
  SUBCASE("another URL") {
    WebhookDelivery d = Delivery(good);
    d.url = "https://crm.example.com/api/v1/crm/webhook?portal=8";
    CHECK(Reason(VerifyWebhookWith(v, d)) == "bad_signature");
  }
  SUBCASE("a timestamp older than five minutes, even correctly signed") {
    WebhookDelivery d = Delivery(good);
    d.received_ms = kSignedAt + 300001;
    Status s = VerifyWebhookWith(v, d);
    CHECK(Reason(s) == "stale");
    CHECK(s.message().find("hs-client-secret") == std::string::npos);
  }
  SUBCASE("a timestamp from the future") {
    WebhookDelivery d = Delivery(good);
    d.received_ms = kSignedAt - 300001;
    CHECK(Reason(VerifyWebhookWith(v, d)) == "stale");
  }
  SUBCASE("no signature, no timestamp, a timestamp that is not one") {
    CHECK(Reason(VerifyWebhookWith(v, Delivery({{"X-HubSpot-Request-Timestamp", "1"}}))) == "missing");
    CHECK(Reason(VerifyWebhookWith(v, Delivery({{"X-HubSpot-Signature-v3", sig}}))) == "missing");
    CHECK(Reason(VerifyWebhookWith(
              v, Delivery({{"X-HubSpot-Signature-v3", sig}, {"X-HubSpot-Request-Timestamp", "soon"}}))) ==
          "malformed");
  }
  SUBCASE("a secret dropped after rotation") {
    CHECK(Reason(VerifyWebhookWith(Verifier(WebhookScheme::kHubSpotV3, {"old-secret"}),
                                   Delivery(good))) == "bad_signature");
  }
  SUBCASE("the URI is compared with HubSpot's escapes decoded") {
    WebhookDelivery d = Delivery(good);
    d.url = "https%3A%2F%2Fcrm.example.com%2Fapi/v1/crm/webhook%3Fportal=7";
    CHECK(VerifyWebhookWith(v, d).ok());
  }
}

TEST_CASE("hubspot-v2 and hubspot-v1 accept HubSpot's hex SHA-256 and refuse a changed body") {
  const std::string v2 = "aa31f30980d64764a13a22929fba07566e992de0740ad4da480d69913b1aaa17";
  const std::string v1 = "f8fd7f82d95ae9e0b504a6229b9a6fb5a2e974d58af7bbdc21cd98c70fc4ce81";
  CHECK(HubSpotSignatureV2("hs-client-secret", "POST", kUrl, kBody) == v2);
  CHECK(HubSpotSignatureV1("hs-client-secret", kBody) == v1);
  WebhookVerifier verifier2 = Verifier(WebhookScheme::kHubSpotV2, {"hs-client-secret"});
  WebhookVerifier verifier1 = Verifier(WebhookScheme::kHubSpotV1, {"hs-client-secret"});
  CHECK(VerifyWebhookWith(verifier2, Delivery({{"X-HubSpot-Signature", v2},
                                               {"X-HubSpot-Signature-Version", "v2"}}))
            .ok());
  CHECK(VerifyWebhookWith(verifier1, Delivery({{"X-HubSpot-Signature", v1}})).ok());
  CHECK(Reason(VerifyWebhookWith(verifier1, Delivery({{"X-HubSpot-Signature", v1}}, "[]"))) ==
        "bad_signature");
  CHECK(Reason(VerifyWebhookWith(verifier1, Delivery({{"X-HubSpot-Signature", v1},
                                                      {"X-HubSpot-Signature-Version", "v2"}}))) ==
        "malformed");
  CHECK(Reason(VerifyWebhookWith(verifier2, Delivery({}))) == "missing");
}

TEST_CASE("hmac-sha256 over the raw body, hex or base64, with a prefix and a replay window") {
  WebhookVerifier hex = Verifier(WebhookScheme::kHmacSha256, {"k1"});
  hex.header = "X-Signature";
  hex.prefix = "sha256=";
  const std::string hex_sig = "6ff16b7b3e34997533ba7d62b6ec068603cc7dfee571023fecd14b708bd93813";
  CHECK(HmacSha256Hex("k1", kBody) == hex_sig);
  CHECK(VerifyWebhookWith(hex, Delivery({{"X-Signature", "sha256=" + hex_sig}})).ok());
  // Upper-case hex is the same signature.
  std::string upper = hex_sig;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(VerifyWebhookWith(hex, Delivery({{"X-Signature", "sha256=" + upper}})).ok());
  CHECK(Reason(VerifyWebhookWith(hex, Delivery({{"X-Signature", hex_sig}}))) == "malformed");
  CHECK(Reason(VerifyWebhookWith(hex, Delivery({{"X-Signature", "sha256=" + hex_sig}}, "{}"))) ==
        "bad_signature");

  WebhookVerifier b64 = Verifier(WebhookScheme::kHmacSha256, {"k1"});
  b64.header = "X-Signature";
  b64.encoding = "base64";
  b64.timestamp_pointer = "/0/occurredAt";
  const std::string b64_sig = "b/Frez40mXUzun1ituwGhgPMff7lcQI/7NFLcIvZOBM=";
  CHECK(HmacSha256Base64("k1", kBody) == b64_sig);
  CHECK(VerifyWebhookWith(b64, Delivery({{"X-Signature", b64_sig}})).ok());
  WebhookDelivery late = Delivery({{"X-Signature", b64_sig}});
  late.received_ms = kSignedAt + 10 * 60 * 1000;
  CHECK(Reason(VerifyWebhookWith(b64, late)) == "stale");
}

TEST_CASE("a replay window read from a header: missing, unreadable or stale is refused") {
  WebhookVerifier v = Verifier(WebhookScheme::kHmacSha256, {"k1"});
  v.header = "X-Signature";
  v.timestamp_header = "X-Timestamp";
  const std::string sig = HmacSha256Hex("k1", kBody);
  CHECK(VerifyWebhookWith(v, Delivery({{"X-Signature", sig}, {"X-Timestamp", "1764777600"}})).ok());
  CHECK(Reason(VerifyWebhookWith(v, Delivery({{"X-Signature", sig}}))) == "missing");
  CHECK(Reason(VerifyWebhookWith(v, Delivery({{"X-Signature", sig}, {"X-Timestamp", "noon"}}))) ==
        "malformed");
  CHECK(Reason(VerifyWebhookWith(v, Delivery({{"X-Signature", sig}, {"X-Timestamp", "1764777000"}}))) ==
        "stale");
  CHECK(Reason(VerifyWebhookWith(
            v, Delivery({{"X-Signature", sig}, {"X-Timestamp", "2025-12-03T15:50:00Z"}}))) ==
        "stale");
}

TEST_CASE("basic auth accepts user:password and refuses others without quoting them") {
  WebhookVerifier v = Verifier(WebhookScheme::kBasic, {"crmsync:new-pass", "crmsync:pa55"});
  CHECK(VerifyWebhookWith(v, Delivery({{"Authorization", "Basic Y3Jtc3luYzpwYTU1"}})).ok());
  Status wrong = VerifyWebhookWith(
      v, Delivery({{"Authorization", "Basic Y3Jtc3luYzpwYTU2"}}));  // crmsync:pa56
  CHECK(Reason(wrong) == "bad_signature");
  CHECK(wrong.message().find("pa5") == std::string::npos);
  CHECK(Reason(VerifyWebhookWith(v, Delivery({{"Authorization", "Bearer x"}}))) == "malformed");
  CHECK(Reason(VerifyWebhookWith(v, Delivery({{"Authorization", "Basic !!!"}}))) == "malformed");
  CHECK(Reason(VerifyWebhookWith(v, Delivery({}))) == "missing");
}

TEST_CASE("a token in the body (Zoho's channel token) or in a header") {
  const std::string zoho =
      R"({"server_time":1764777600000,"module":"Leads","ids":["9"],"operation":"update",)"
      R"("channel_id":"1000","token":"chan-token-1"})";
  WebhookVerifier body = Verifier(WebhookScheme::kToken, {"chan-token-1"});
  body.token_pointer = "/token";
  body.timestamp_pointer = "/server_time";
  CHECK(VerifyWebhookWith(body, Delivery({}, zoho)).ok());
  std::string forged = zoho;
  forged.replace(forged.find("chan-token-1"), 12, "chan-token-2");
  CHECK(Reason(VerifyWebhookWith(body, Delivery({}, forged))) == "bad_signature");
  WebhookDelivery stale = Delivery({}, zoho);
  stale.received_ms = kSignedAt + 301000;
  CHECK(Reason(VerifyWebhookWith(body, stale)) == "stale");
  CHECK(Reason(VerifyWebhookWith(body, Delivery({}, "{}"))) == "missing");
  CHECK(Reason(VerifyWebhookWith(body, Delivery({}, "not json"))) == "missing");

  WebhookVerifier header = Verifier(WebhookScheme::kToken, {"t0k"});
  header.header = "X-Webhook-Token";
  CHECK(VerifyWebhookWith(header, Delivery({{"X-Webhook-Token", "t0k"}})).ok());
  CHECK(Reason(VerifyWebhookWith(header, Delivery({{"X-Webhook-Token", "t0"}}))) == "bad_signature");
}

TEST_CASE("a verifier that cannot work says what is wrong, never the secret") {
  CHECK(CheckWebhookVerifier(Verifier(WebhookScheme::kHubSpotV3, {})).find("no secret") !=
        std::string::npos);
  CHECK(CheckWebhookVerifier(Verifier(WebhookScheme::kBasic, {"nocolon"})).find("user:password") !=
        std::string::npos);
  WebhookVerifier hmac = Verifier(WebhookScheme::kHmacSha256, {"k"});
  CHECK(CheckWebhookVerifier(hmac).find("header") != std::string::npos);
  hmac.header = "X-Sig";
  hmac.encoding = "base32";
  CHECK(CheckWebhookVerifier(hmac).find("encoding") != std::string::npos);
  WebhookVerifier token = Verifier(WebhookScheme::kToken, {"k"});
  CHECK(CheckWebhookVerifier(token).find("exactly one") != std::string::npos);
  Status refused = VerifyWebhookWith(token, Delivery({}));
  CHECK(Reason(refused) == "malformed");
  WebhookVerifier both = Verifier(WebhookScheme::kBasic, {"u:p"});
  both.timestamp_header = "X-Timestamp";
  both.timestamp_pointer = "/ts";
  CHECK(CheckWebhookVerifier(both).find("exclusive") != std::string::npos);
  WebhookVerifier narrow = Verifier(WebhookScheme::kBasic, {"u:p"});
  narrow.tolerance_ms = 999;
  CHECK(CheckWebhookVerifier(narrow).find("at least 1000 ms") != std::string::npos);
  WebhookVerifier relative = Verifier(WebhookScheme::kBasic, {"u:p"});
  relative.timestamp_pointer = "ts";
  CHECK(CheckWebhookVerifier(relative).find("starting with /") != std::string::npos);
  WebhookScheme parsed = WebhookScheme::kBasic;
  CHECK(ParseWebhookScheme("hubspot-v3", &parsed));
  CHECK(parsed == WebhookScheme::kHubSpotV3);
  CHECK_FALSE(ParseWebhookScheme("hubspot-v4", &parsed));
}

}  // namespace
}  // namespace crmsync
