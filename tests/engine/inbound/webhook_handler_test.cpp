// webhook_handler_test.cpp: POST /api/v1/crm/webhook over real HTTP on loopback
// with the real mock-crm plugin parsing (docs/design.md §5, §10): 202 once the
// delivery is durable, both verification schemes and secret rotation, 401
// without detail for every refusal, 400 naming a malformed body, 202 ignored
// for an event the plugin does not map, 200 for a repeat, 413, 503, and the
// crmsync_webhook_deliveries_total counter of each path.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "webhook_rig.h"

namespace crmsync::engine {
namespace {

using namespace inbound_test;  // NOLINT

const char kConverted[] =
    R"({"status":"converted","notes":"Property booked","assignedAgent":"agent_123"})";

// A refused delivery: 401, exactly {"error":"unauthorized"}, nothing recorded.
void CheckRefused(WebhookRig& rig, const HttpResult& r, const std::string& verdict) {
  CHECK(r.status == 401);
  CHECK(r.body == R"({"error":"unauthorized"})");
  CHECK(rig.store().PendingDeliveries(10).empty());
  CHECK(rig.recorded_calls() == 0);
  CHECK(rig.Deliveries("refused_" + verdict) == 1);
  CHECK(rig.Deliveries("accepted") == 0);
}

TEST_SUITE("engine.inbound") {
  TEST_CASE("webhook: a delivery with a valid X-CRM-Secret is recorded and answered 202") {
    WebhookRig rig;
    HttpResult r = rig.PostShared(WebhookBody("crm_lead_id", kConverted), "lead.updated",
                                  {{"X-CRM-Delivery", "dlv-1"}});
    REQUIRE(r.status == 202);
    CHECK(Field(r.body, "status") == "accepted");
    CHECK(Field(r.body, "deliveryId") == "dlv-1");
    CHECK(rig.recorded_calls() == 1);
    CHECK(rig.Deliveries("accepted") == 1);

    std::vector<InboundDelivery> pending = rig.store().PendingDeliveries(10);
    REQUIRE(pending.size() == 1);
    const InboundDelivery& d = pending[0];
    CHECK(d.id == "dlv-1");
    CHECK(d.plugin == kPlugin);
    CHECK(d.event == "lead.updated");
    CHECK(d.received_ms == kT0);
    REQUIRE(d.changes.size() == 1);
    CHECK(d.changes[0].entity_kind == EntityKind::kLead);
    CHECK(d.changes[0].external_id == "crm_lead_id");
    // The plugin mapped the CRM's words to the platform's.
    CHECK(Field(d.changes[0].fields_json, "status") == "CONVERTED");
    CHECK(Field(d.changes[0].fields_json, "notes") == "Property booked");
    CHECK(Field(d.changes[0].fields_json, "assignedToId") == "agent_123");
  }

  TEST_CASE("webhook: closed_won and won both read as CONVERTED") {
    WebhookRig rig;
    REQUIRE(rig.PostShared(WebhookBody("a", R"({"status":"won"})")).status == 202);
    REQUIRE(rig.PostShared(WebhookBody("b", R"({"status":"closed_won"})")).status == 202);
    std::vector<InboundDelivery> pending = rig.store().PendingDeliveries(10);
    REQUIRE(pending.size() == 2);
    for (const InboundDelivery& d : pending) {
      REQUIRE(d.changes.size() == 1);
      CHECK(Field(d.changes[0].fields_json, "status") == "CONVERTED");
    }
  }

  TEST_CASE("webhook: a Standard Webhooks signed delivery is accepted under its webhook-id") {
    WebhookRig rig;
    const std::string body = WebhookBody("crm_1", kConverted);
    SUBCASE("at the clock's now") {
      HttpResult r = rig.PostSigned(body, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
      REQUIRE(r.status == 202);
      CHECK(Field(r.body, "deliveryId") == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
      std::vector<InboundDelivery> pending = rig.store().PendingDeliveries(10);
      REQUIRE(pending.size() == 1);
      CHECK(pending[0].id == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
    }
    SUBCASE("at the edges of the 300 s tolerance") {
      CHECK(rig.PostSigned(body, "msg-early", kKey1, -300).status == 202);
      CHECK(rig.PostSigned(body, "msg-late", kKey1, 300).status == 202);
    }
    SUBCASE("with several signatures, one of them good") {
      const std::string ts = std::to_string(rig.clock().NowMs() / 1000);
      Headers headers =
          WebhookRig::SignedHeaders(body, "msg-multi", kKey1, rig.clock().NowMs() / 1000);
      headers["webhook-signature"] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v2,abc " +
                                     StandardWebhookSignature(kKey1, "msg-multi", ts, body);
      CHECK(rig.Post(body, headers).status == 202);
    }
    CHECK(rig.Deliveries("accepted") == rig.recorded_calls());
  }

  TEST_CASE("webhook: rotation - every configured secret of either scheme is accepted") {
    WebhookRig rig;
    CHECK(rig.PostShared(WebhookBody("a", R"({"notes":"1"})")).status == 202);
    CHECK(rig.Post(WebhookBody("b", R"({"notes":"2"})"),
                   {{"X-CRM-Secret", kSharedSecret2}, {"X-CRM-Event", "lead.updated"}})
              .status == 202);
    CHECK(rig.PostSigned(WebhookBody("c", R"({"notes":"3"})"), "msg-k1", kKey1).status == 202);
    CHECK(rig.PostSigned(WebhookBody("d", R"({"notes":"4"})"), "msg-k2", kKey2).status == 202);
    CHECK(rig.store().PendingDeliveries(10).size() == 4);
    CHECK(rig.Deliveries("accepted") == 4);
  }

  TEST_CASE("webhook: 401 with no detail when credentials are missing") {
    WebhookRig rig;
    CheckRefused(rig, rig.Post(WebhookBody("a", kConverted), {{"X-CRM-Event", "lead.updated"}}),
                 "missing");
  }

  TEST_CASE("webhook: 401 with no detail for a wrong shared secret") {
    WebhookRig rig;
    SUBCASE("another secret") {
      CheckRefused(rig, rig.Post(WebhookBody("a", kConverted), {{"X-CRM-Secret", "guess"}}),
                   "bad_signature");
    }
    SUBCASE("a prefix of the right one") {
      CheckRefused(rig,
                   rig.Post(WebhookBody("a", kConverted), {{"X-CRM-Secret", "shared-secret-on"}}),
                   "bad_signature");
    }
    SUBCASE("a whsec_ secret is not a shared secret") {
      CheckRefused(rig, rig.Post(WebhookBody("a", kConverted), {{"X-CRM-Secret", Whsec(kKey1)}}),
                   "bad_signature");
    }
  }

  TEST_CASE("webhook: 401 with no detail for a bad Standard Webhooks signature") {
    WebhookRig rig;
    const std::string body = WebhookBody("a", kConverted);
    const int64_t now_s = rig.clock().NowMs() / 1000;
    SUBCASE("signed with an unknown key") {
      CheckRefused(rig, rig.Post(body, WebhookRig::SignedHeaders(body, "m1", "other-key", now_s)),
                   "bad_signature");
    }
    SUBCASE("body changed after signing") {
      Headers headers = WebhookRig::SignedHeaders(body, "m1", kKey1, now_s);
      CheckRefused(rig, rig.Post(WebhookBody("b", kConverted), headers), "bad_signature");
    }
    SUBCASE("id changed after signing") {
      Headers headers = WebhookRig::SignedHeaders(body, "m1", kKey1, now_s);
      headers["webhook-id"] = "m2";
      CheckRefused(rig, rig.Post(body, headers), "bad_signature");
    }
    SUBCASE("a right signature with a wrong X-CRM-Secret does not help a wrong one") {
      Headers headers = WebhookRig::SignedHeaders(body, "m1", "other-key", now_s);
      headers["X-CRM-Secret"] = kSharedSecret;  // Standard Webhooks headers win
      CheckRefused(rig, rig.Post(body, headers), "bad_signature");
    }
  }

  TEST_CASE("webhook: 401 with no detail for a timestamp outside 300 s either way") {
    WebhookRig rig;
    const std::string body = WebhookBody("a", kConverted);
    SUBCASE("too old") { CheckRefused(rig, rig.PostSigned(body, "m-old", kKey1, -301), "stale"); }
    SUBCASE("too far ahead") {
      CheckRefused(rig, rig.PostSigned(body, "m-new", kKey1, 301), "stale");
    }
    SUBCASE("the tolerance follows the clock") {
      Headers headers =
          WebhookRig::SignedHeaders(body, "m-clock", kKey1, rig.clock().NowMs() / 1000);
      rig.clock().Advance(301'000);
      CheckRefused(rig, rig.Post(body, headers), "stale");
    }
  }

  TEST_CASE("webhook: 401 with no detail for malformed Standard Webhooks headers") {
    WebhookRig rig;
    const std::string body = WebhookBody("a", kConverted);
    Headers headers = WebhookRig::SignedHeaders(body, "m1", kKey1, rig.clock().NowMs() / 1000);
    SUBCASE("no signature") { headers.erase("webhook-signature"); }
    SUBCASE("no timestamp") { headers.erase("webhook-timestamp"); }
    SUBCASE("no id") { headers.erase("webhook-id"); }
    SUBCASE("a timestamp that is not a number") { headers["webhook-timestamp"] = "yesterday"; }
    SUBCASE("a timestamp with trailing text") { headers["webhook-timestamp"] += "s"; }
    CheckRefused(rig, rig.Post(body, headers), "malformed");
  }

  TEST_CASE("webhook: 400 naming the fault for a malformed body") {
    WebhookRig rig;
    std::string body;
    std::string fault;
    SUBCASE("not JSON") {
      body = "event=lead.updated&entityId=1";
      fault = "webhook";
    }
    SUBCASE("no entityId") {
      body = R"({"event":"lead.updated","data":{"status":"won"}})";
      fault = "entityId";
    }
    SUBCASE("no event") {
      body = R"({"entityId":"x","data":{}})";
      fault = "event";
    }
    SUBCASE("data not an object") {
      body = R"({"event":"lead.updated","entityId":"x","data":"won"})";
      fault = "data";
    }
    SUBCASE("an unknown status word") {
      body = WebhookBody("x", R"({"status":"maybe"})");
      fault = "maybe";
    }
    HttpResult r = rig.PostShared(body);
    CHECK(r.status == 400);
    REQUIRE(ParseObject(r.body)->has("error"));
    CHECK_MESSAGE(Contains(Field(r.body, "error"), fault), r.body);
    CHECK(rig.store().PendingDeliveries(10).empty());
    CHECK(rig.Deliveries("malformed") == 1);
    CHECK(rig.recorded_calls() == 0);
  }

  TEST_CASE("webhook: a body is checked only after its credentials") {
    WebhookRig rig;
    HttpResult r = rig.Post("not json", {{"X-CRM-Secret", "wrong"}});
    CHECK(r.status == 401);
    CHECK(r.body == R"({"error":"unauthorized"})");
    CHECK(rig.Deliveries("malformed") == 0);
  }

  TEST_CASE("webhook: an event the plugin does not map is answered 202 and ignored") {
    WebhookRig rig;
    HttpResult r = rig.PostShared(WebhookBody("x", "{}", "contact.deleted"), "contact.deleted");
    CHECK(r.status == 202);
    CHECK(Field(r.body, "status") == "ignored");
    CHECK(rig.store().PendingDeliveries(10).empty());
    CHECK(rig.Deliveries("ignored") == 1);
    CHECK(rig.Deliveries("accepted") == 0);
    CHECK(rig.recorded_calls() == 0);
  }

  TEST_CASE("webhook: a repeated delivery is answered 200 duplicate and recorded once") {
    WebhookRig rig;
    const std::string body = WebhookBody("crm_1", kConverted);
    SUBCASE("the same webhook-id, signed again") {
      REQUIRE(rig.PostSigned(body, "msg-1").status == 202);
      rig.clock().Advance(60'000);
      HttpResult again = rig.PostSigned(body, "msg-1", kKey2);
      CHECK(again.status == 200);
      CHECK(Field(again.body, "status") == "duplicate");
      CHECK(Field(again.body, "deliveryId") == "msg-1");
    }
    SUBCASE("the same X-CRM-Delivery") {
      REQUIRE(rig.PostShared(body, "lead.updated", {{"X-CRM-Delivery", "d-9"}}).status == 202);
      HttpResult again = rig.PostShared(WebhookBody("crm_1", R"({"notes":"other"})"),
                                        "lead.updated", {{"X-CRM-Delivery", "d-9"}});
      CHECK(again.status == 200);
      CHECK(Field(again.body, "deliveryId") == "d-9");
    }
    SUBCASE("an identical resend without any id") {
      HttpResult first = rig.PostShared(body);
      REQUIRE(first.status == 202);
      HttpResult again = rig.PostShared(body);
      CHECK(again.status == 200);
      CHECK(Field(again.body, "status") == "duplicate");
      CHECK(Field(again.body, "deliveryId") == Field(first.body, "deliveryId"));
      // A different body is another delivery.
      CHECK(rig.PostShared(WebhookBody("crm_1", R"({"notes":"n"})")).status == 202);
      CHECK(rig.Deliveries("accepted") == 2);
    }
    CHECK(rig.Deliveries("duplicate") == 1);
    CHECK(rig.recorded_calls() == rig.Deliveries("accepted"));
  }

  TEST_CASE("webhook: a duplicate of a processed delivery is still a duplicate") {
    WebhookRig rig;
    const std::string body = WebhookBody("crm_1", kConverted);
    REQUIRE(rig.PostSigned(body, "msg-1").status == 202);
    std::vector<InboundDelivery> pending = rig.store().PendingDeliveries(10);
    REQUIRE(pending.size() == 1);
    rig.store().ApplyDelivery(pending[0], {}, rig.clock().NowMs());
    CHECK(rig.PostSigned(body, "msg-1").status == 200);
    CHECK(rig.store().PendingDeliveries(10).empty());
    CHECK(rig.store().Changes(0, 10).size() == 1);
  }

  TEST_CASE("webhook: 413 over the body limit, nothing recorded") {
    WebhookRigOptions options;
    options.max_body_bytes = 512;
    WebhookRig rig(options);
    const std::string big = WebhookBody("crm_1", R"({"notes":")" + std::string(600, 'x') + R"("})");
    HttpResult r = rig.PostShared(big);
    CHECK(r.status == 413);
    CHECK(ParseObject(r.body)->has("error"));
    CHECK(rig.store().PendingDeliveries(10).empty());
    CHECK(rig.Deliveries("too_large") == 1);
    // The limit applies before verification: even unauthenticated it is 413.
    CHECK(rig.Post(big, {}).status == 413);
    CHECK(rig.Deliveries("too_large") == 2);
    CHECK(rig.PostShared(WebhookBody("crm_1", R"({"notes":"small"})")).status == 202);
  }

  TEST_CASE("webhook: 503 while shutting down, nothing recorded") {
    WebhookRig rig;
    rig.shutting_down() = true;
    HttpResult r = rig.PostShared(WebhookBody("crm_1", kConverted));
    CHECK(r.status == 503);
    CHECK(r.headers.count("Retry-After") == 1);
    CHECK(rig.store().PendingDeliveries(10).empty());
    CHECK(rig.Deliveries("shutting_down") == 1);
    rig.shutting_down() = false;
    CHECK(rig.PostShared(WebhookBody("crm_1", kConverted)).status == 202);
  }

  TEST_CASE("webhook: only POST is served") {
    WebhookRig rig;
    CHECK(HttpCall(rig.port(), "GET", "/api/v1/crm/webhook").status == 405);
  }

  TEST_CASE("webhook: every path counts in crmsync_webhook_deliveries_total") {
    WebhookRig rig;
    const std::string body = WebhookBody("crm_1", kConverted);
    REQUIRE(rig.PostShared(body).status == 202);
    REQUIRE(rig.PostShared(body).status == 200);
    REQUIRE(rig.Post(body, {}).status == 401);
    REQUIRE(rig.Post(body, {{"X-CRM-Secret", "nope"}}).status == 401);
    REQUIRE(rig.PostSigned(body, "m-stale", kKey1, -1000).status == 401);
    REQUIRE(rig.Post(body, {{"webhook-id", "only-id"}}).status == 401);
    REQUIRE(rig.PostShared("{").status == 400);
    REQUIRE(rig.PostShared(WebhookBody("x", "{}", "deal.deleted")).status == 202);
    const std::string text = rig.metrics().RenderPrometheus();
    for (std::string result : {"accepted", "duplicate", "refused_missing", "refused_bad_signature",
                               "refused_stale", "refused_malformed", "malformed", "ignored"}) {
      CAPTURE(result);
      CHECK(rig.Deliveries(result) == 1);
      CHECK(Contains(text, "crmsync_webhook_deliveries_total{result=\"" + result + "\"} 1"));
    }
  }

  TEST_CASE("webhook: with no secret configured every delivery is refused") {
    WebhookRigOptions options;
    options.secrets = {};
    WebhookRig rig(options);
    HttpResult r = rig.Post(WebhookBody("crm_1", kConverted), {{"X-CRM-Secret", ""}});
    CHECK(r.status == 401);
    CHECK(rig.Post(WebhookBody("crm_1", kConverted), {{"X-CRM-Secret", "anything"}}).status == 401);
    CHECK(rig.store().PendingDeliveries(10).empty());
  }

  TEST_CASE("webhook: DeliveryId prefers webhook-id, then X-CRM-Delivery, then a body hash") {
    HeaderList both = {{"X-CRM-Delivery", "d"}, {"webhook-id", "w"}};
    CHECK(DeliveryId(both, "{}") == "w");
    CHECK(DeliveryId({{"X-Request-Id", "r"}}, "{}") == "r");
    const std::string a = DeliveryId({{"X-CRM-Event", "lead.updated"}}, "{}");
    CHECK(a.rfind("sha-", 0) == 0);
    CHECK(DeliveryId({{"X-CRM-Event", "lead.updated"}}, "{}") == a);
    CHECK(DeliveryId({{"X-CRM-Event", "lead.created"}}, "{}") != a);
    CHECK(DeliveryId({{"X-CRM-Event", "lead.updated"}}, "{ }") != a);
    // The same body later is a new delivery (status A, B, then A again).
    const int64_t t = 1'700'000'000'000;
    CHECK(DeliveryId({{"X-CRM-Event", "lead.updated"}}, "{}", t) ==
          DeliveryId({{"X-CRM-Event", "lead.updated"}}, "{}", t + 1000));
    CHECK(DeliveryId({{"X-CRM-Event", "lead.updated"}}, "{}", t) !=
          DeliveryId({{"X-CRM-Event", "lead.updated"}}, "{}", t + kHashDeliveryWindowMs));
  }
}

}  // namespace
}  // namespace crmsync::engine
