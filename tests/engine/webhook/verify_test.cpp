// Webhook verification: the Standard Webhooks published test vector,
// tolerance both ways, several signatures and secrets (rotation), the shared
// secret header, and every way to be refused.
#include <doctest/doctest.h>

#include "webhook/verify.h"

using crmsync::HeaderList;
using crmsync::engine::ParseWebhookSecrets;
using crmsync::engine::StandardWebhookSignature;
using crmsync::engine::VerifyWebhook;
using crmsync::engine::WebhookSecrets;
using crmsync::engine::WebhookVerdict;

namespace {

// From the Standard Webhooks specification's test vector.
const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string kId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const std::string kTimestamp = "1614265330";
const std::string kBody = "{\"test\": 2432232314}";
const std::string kSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
constexpr int64_t kNow = 1614265330;

WebhookSecrets Secrets(const std::vector<std::string>& list) {
  WebhookSecrets secrets;
  std::string error;
  REQUIRE(ParseWebhookSecrets(list, &secrets, &error));
  return secrets;
}

HeaderList Standard(const std::string& signature, const std::string& timestamp = kTimestamp) {
  return {{"webhook-id", kId}, {"webhook-timestamp", timestamp}, {"webhook-signature", signature}};
}

}  // namespace

TEST_SUITE("engine.webhook") {
  TEST_CASE("the published Standard Webhooks test vector verifies") {
    auto check = VerifyWebhook(Standard(kSignature), kBody, Secrets({kSecret}), kNow);
    CHECK(check.verdict == WebhookVerdict::kVerified);
    CHECK(check.scheme == "standard-webhooks");
    CHECK(check.delivery_id == kId);
  }

  TEST_CASE("our signer reproduces the published signature") {
    WebhookSecrets secrets = Secrets({kSecret});
    REQUIRE(secrets.standard_keys.size() == 1);
    CHECK(StandardWebhookSignature(secrets.standard_keys[0], kId, kTimestamp, kBody) == kSignature);
  }

  TEST_CASE("a changed body or id or timestamp fails the signature") {
    WebhookSecrets secrets = Secrets({kSecret});
    CHECK(VerifyWebhook(Standard(kSignature), kBody + " ", secrets, kNow).verdict ==
          WebhookVerdict::kBadSignature);
    HeaderList other_id = Standard(kSignature);
    other_id[0].second = "msg_other";
    CHECK(VerifyWebhook(other_id, kBody, secrets, kNow).verdict == WebhookVerdict::kBadSignature);
    CHECK(VerifyWebhook(Standard(kSignature, "1614265331"), kBody, secrets, kNow).verdict ==
          WebhookVerdict::kBadSignature);
  }

  TEST_CASE("the timestamp tolerance is 300 s both ways") {
    WebhookSecrets secrets = Secrets({kSecret});
    CHECK(VerifyWebhook(Standard(kSignature), kBody, secrets, kNow + 300).verdict ==
          WebhookVerdict::kVerified);
    CHECK(VerifyWebhook(Standard(kSignature), kBody, secrets, kNow - 300).verdict ==
          WebhookVerdict::kVerified);
    CHECK(VerifyWebhook(Standard(kSignature), kBody, secrets, kNow + 301).verdict ==
          WebhookVerdict::kStale);
    CHECK(VerifyWebhook(Standard(kSignature), kBody, secrets, kNow - 301).verdict ==
          WebhookVerdict::kStale);
  }

  TEST_CASE("several signatures are accepted when one of them matches") {
    std::string list = "v1,bm90IHRoZSByaWdodCBvbmU= v2,whatever " + kSignature;
    CHECK(VerifyWebhook(Standard(list), kBody, Secrets({kSecret}), kNow).verdict ==
          WebhookVerdict::kVerified);
  }

  TEST_CASE("two configured secrets let one rotate without downtime") {
    WebhookSecrets both = Secrets({"whsec_bmV3IHNlY3JldCBrZXk=", kSecret});
    CHECK(VerifyWebhook(Standard(kSignature), kBody, both, kNow).verdict ==
          WebhookVerdict::kVerified);
    WebhookSecrets new_only = Secrets({"whsec_bmV3IHNlY3JldCBrZXk="});
    CHECK(VerifyWebhook(Standard(kSignature), kBody, new_only, kNow).verdict ==
          WebhookVerdict::kBadSignature);
    std::string signed_with_new =
        StandardWebhookSignature(new_only.standard_keys[0], kId, kTimestamp, kBody);
    CHECK(VerifyWebhook(Standard(signed_with_new), kBody, both, kNow).verdict ==
          WebhookVerdict::kVerified);
  }

  TEST_CASE("incomplete or unreadable Standard Webhooks headers are malformed") {
    WebhookSecrets secrets = Secrets({kSecret});
    HeaderList no_signature = {{"webhook-id", kId}, {"webhook-timestamp", kTimestamp}};
    CHECK(VerifyWebhook(no_signature, kBody, secrets, kNow).verdict == WebhookVerdict::kMalformed);
    CHECK(VerifyWebhook(Standard(kSignature, "soon"), kBody, secrets, kNow).verdict ==
          WebhookVerdict::kMalformed);
    CHECK(VerifyWebhook(Standard("v1,%%%notbase64"), kBody, secrets, kNow).verdict ==
          WebhookVerdict::kBadSignature);
  }

  TEST_CASE("the shared secret header is compared with every configured secret") {
    WebhookSecrets secrets = Secrets({"old-shared", "new-shared", kSecret});
    auto ok = VerifyWebhook({{"X-CRM-Secret", "new-shared"}}, kBody, secrets, kNow);
    CHECK(ok.verdict == WebhookVerdict::kVerified);
    CHECK(ok.scheme == "shared-secret");
    CHECK(VerifyWebhook({{"x-crm-secret", "old-shared"}}, kBody, secrets, kNow).verdict ==
          WebhookVerdict::kVerified);
    CHECK(VerifyWebhook({{"X-CRM-Secret", "new-sharee"}}, kBody, secrets, kNow).verdict ==
          WebhookVerdict::kBadSignature);
    CHECK(VerifyWebhook({{"X-CRM-Secret", "new"}}, kBody, secrets, kNow).verdict ==
          WebhookVerdict::kBadSignature);
    // A whsec_ secret is not a shared secret.
    CHECK(VerifyWebhook({{"X-CRM-Secret", kSecret}}, kBody, secrets, kNow).verdict ==
          WebhookVerdict::kBadSignature);
  }

  TEST_CASE("no credentials at all is missing and no secret configured verifies nothing") {
    CHECK(VerifyWebhook({}, kBody, Secrets({kSecret}), kNow).verdict == WebhookVerdict::kMissing);
    CHECK(VerifyWebhook({{"X-CRM-Secret", ""}}, kBody, Secrets({"s"}), kNow).verdict ==
          WebhookVerdict::kMissing);
    CHECK(VerifyWebhook({{"X-CRM-Secret", "anything"}}, kBody, Secrets({}), kNow).verdict ==
          WebhookVerdict::kBadSignature);
    CHECK(VerifyWebhook(Standard(kSignature), kBody, Secrets({}), kNow).verdict ==
          WebhookVerdict::kBadSignature);
  }

  TEST_CASE("a whsec_ secret whose base64 is broken is refused without quoting it") {
    WebhookSecrets secrets;
    std::string error;
    CHECK_FALSE(ParseWebhookSecrets({"fine", "whsec_not*base64"}, &secrets, &error));
    CHECK(error.find("#2") != std::string::npos);
    CHECK(error.find("not*base64") == std::string::npos);
  }
}
