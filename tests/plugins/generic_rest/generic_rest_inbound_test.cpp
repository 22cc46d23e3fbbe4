// generic_rest_inbound_test.cpp: inbound from real CRMs through the built
// generic-rest-crm plugin, loaded as the engine loads it (loaded_plugin.h):
//  * vendor webhook signatures (Adapter::VerifyWebhook with webhooks.verify):
//    each scheme signs a recorded-shape delivery as its vendor documents, and
//    the plugin accepts it, refuses it tampered or stale, accepts a rotated
//    secret, and reads a replay as the same event ids (which the engine's
//    per-event dedup makes a no-op);
//  * fetching a notified record (Adapter::FetchChange) and polling changes
//    (Adapter::PollChanges) over real HTTP against a RecordingCrm on
//    127.0.0.1 (recording_crm.h): every request checked, every answer class
//    (found, gone, refused, unreadable) read as docs/mapping-format.md says.
// The clock is injected (WebhookDelivery::received_ms, PollRequest::now_ms).
// No sleeps.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "crmsync/adapter.h"
#include "crmsync/webhook_verify.h"
#include "loaded_plugin.h"
#include "recording_crm.h"

namespace crmsync {
namespace {

using testing::BaseSettings;
using testing::ConfigureStatus;
using testing::NewAdapter;
using testing::RecordedRequest;
using testing::RecordingCrm;
using testing::Settings;

const std::string kFixtures = CRMSYNC_SOURCE_DIR "/tests/plugins/generic_rest/fixtures/";
constexpr int64_t kNow = 1764756900000;  // 2025-12-03T10:15:00Z

std::unique_ptr<Adapter> InboundAdapter(const std::string& fixture, const std::string& api_url,
                                        const std::string& secrets) {
  Settings settings = BaseSettings(kFixtures + fixture, api_url);
  settings["webhook_secrets"] = secrets;
  return NewAdapter(settings);
}

WebhookDelivery Delivery(const std::string& body, const HeaderList& headers,
                         int64_t received_ms = kNow) {
  WebhookDelivery delivery;
  delivery.method = "POST";
  delivery.url = "https://sync.example.com/webhooks/crm?portal=62515";
  delivery.body = body;
  delivery.headers = headers;
  delivery.received_ms = received_ms;
  return delivery;
}

// The reason VerifyWebhook gave: "missing", "bad_signature", "stale", ...
std::string Reason(const Status& status) {
  REQUIRE(status.code() == StatusCode::kUnauthenticated);
  return status.message().substr(0, status.message().find(':'));
}

std::vector<std::string> EventIds(Adapter& adapter, const WebhookDelivery& delivery) {
  std::vector<InboundChange> changes;
  const Status status = adapter.mapping().ParseWebhook(delivery, &changes);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  std::vector<std::string> ids;
  for (const InboundChange& change : changes) {
    ids.insert(ids.end(), change.event_ids.begin(), change.event_ids.end());
  }
  return ids;
}

std::string JsonAt(const std::string& text, const std::string& key) {
  Poco::JSON::Parser parser;
  Poco::JSON::Object::Ptr object = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
  return object->has(key) ? object->get(key).toString() : "<absent>";
}

// One PollChanges() call for a lead page from `cursor` at `now_ms`.
Status Poll(Adapter& adapter, const std::string& cursor, int64_t now_ms, PollPage* page) {
  PollRequest request;
  request.entity_kind = EntityKind::kLead;
  request.cursor = cursor;
  request.now_ms = now_ms;
  return adapter.PollChanges(request, page);
}

// Polls once, which must succeed, and returns the one request the CRM got.
RecordedRequest PollOk(RecordingCrm& crm, Adapter& adapter, const std::string& cursor,
                       int64_t now_ms, PollPage* page) {
  const Status status = Poll(adapter, cursor, now_ms, page);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return crm.Take();
}

// A scripted answer and the outcome it must give, with a fragment of its message.
struct AnswerCase {
  int status;
  const char* body;
  StatusCode expected;
  const char* fragment;
};

const char kHubSpotBody[] =
    R"([{"eventId": 1001, "subscriptionId": 11, "portalId": 62515, "appId": 3700,
         "occurredAt": 1764756890000, "subscriptionType": "contact.propertyChange",
         "attemptNumber": 0, "objectId": 501, "changeSource": "CRM_UI",
         "propertyName": "hs_lead_status", "propertyValue": "OPEN_DEAL"}])";

TEST_SUITE("plugins.generic_rest.inbound") {
  TEST_CASE("vendor webhook: HubSpot v3 accepted, tampered, stale, rotated, replayed") {
    auto adapter = InboundAdapter("inbound-hubspot.json", "http://127.0.0.1:9",
                                  "hs-new-secret\nhs-old-secret");
    const std::string url = "https://sync.example.com/webhooks/crm?portal=62515";
    const std::string timestamp = std::to_string(kNow - 1000);
    auto signed_with = [&](const std::string& secret, const std::string& body,
                           const std::string& ts) {
      return HeaderList{{"X-HubSpot-Signature-v3",
                         HubSpotSignatureV3(secret, "POST", url, body, ts)},
                        {"X-HubSpot-Request-Timestamp", ts}};
    };
    const WebhookDelivery good = Delivery(kHubSpotBody, signed_with("hs-new-secret", kHubSpotBody,
                                                                     timestamp));
    CHECK(adapter->VerifyWebhook(good).ok());
    // Rotation: the old secret still verifies while it is listed.
    CHECK(adapter->VerifyWebhook(Delivery(kHubSpotBody, signed_with("hs-old-secret", kHubSpotBody,
                                                                    timestamp)))
              .ok());
    std::string tampered_body = kHubSpotBody;
    tampered_body.replace(tampered_body.find("OPEN_DEAL"), 9, "OPEN_LOST");
    CHECK(Reason(adapter->VerifyWebhook(
              Delivery(tampered_body, signed_with("hs-new-secret", kHubSpotBody, timestamp)))) ==
          "bad_signature");
    CHECK(Reason(adapter->VerifyWebhook(
              Delivery(kHubSpotBody, signed_with("someone-else", kHubSpotBody, timestamp)))) ==
          "bad_signature");
    const std::string stale = std::to_string(kNow - 300001);
    CHECK(Reason(adapter->VerifyWebhook(
              Delivery(kHubSpotBody, signed_with("hs-new-secret", kHubSpotBody, stale)))) ==
          "stale");
    CHECK(Reason(adapter->VerifyWebhook(Delivery(kHubSpotBody, {}))) == "missing");
    // A replay inside the window verifies and carries the same event ids: the
    // engine's per-event dedup applies it once.
    CHECK(adapter->VerifyWebhook(good).ok());
    CHECK(EventIds(*adapter, good) == std::vector<std::string>{"1001"});
    CHECK(EventIds(*adapter, good) == EventIds(*adapter, good));
    // No secret in any refusal.
    const Status refused = adapter->VerifyWebhook(
        Delivery(tampered_body, signed_with("hs-new-secret", kHubSpotBody, timestamp)));
    CHECK(refused.message().find("hs-new-secret") == std::string::npos);
    CHECK(refused.message().find("hs-old-secret") == std::string::npos);
  }

  TEST_CASE("vendor webhook: HMAC-SHA256 over the raw body, base64 after a prefix") {
    auto adapter = InboundAdapter("inbound-hmac.json", "http://127.0.0.1:9", "hmac-secret-1");
    const std::string body =
        R"({"meta": {"action": "change", "entity": "person", "entity_id": "7", "id": "e-1"},
            "data": {"notes": "hello"}})";
    const std::string ts = std::to_string((kNow - 5000) / 1000);  // Unix seconds
    auto headers = [&](const std::string& signature, const std::string& time) {
      return HeaderList{{"X-Signature", "sha256=" + signature}, {"X-Timestamp", time}};
    };
    CHECK(adapter->VerifyWebhook(Delivery(body, headers(HmacSha256Base64("hmac-secret-1", body), ts)))
              .ok());
    CHECK(Reason(adapter->VerifyWebhook(Delivery(
              body + " ", headers(HmacSha256Base64("hmac-secret-1", body), ts)))) ==
          "bad_signature");
    CHECK(Reason(adapter->VerifyWebhook(
              Delivery(body, headers(HmacSha256Base64("hmac-secret-1", body),
                                     std::to_string((kNow - 61000) / 1000))))) == "stale");
  }

  TEST_CASE("vendor webhook: Pipedrive's basic auth, with meta.timestamp for the window") {
    auto adapter = InboundAdapter("inbound-pipedrive.json", "http://127.0.0.1:9",
                                  "crmsync:pd-hook-pass");
    auto body_at = [](const std::string& timestamp) {
      return R"({"data": {"id": 123, "notes": "n"}, "previous": {},
                 "meta": {"action": "change", "entity": "person", "entity_id": "123",
                          "id": "8f1c-42", "timestamp": ")" +
             timestamp + R"(", "version": "2.0"}})";
    };
    const std::string body = body_at("2025-12-03T10:14:58.000Z");
    // base64("crmsync:pd-hook-pass") and base64("crmsync:guess"), as Pipedrive sends them.
    const HeaderList auth = {{"Authorization", "Basic Y3Jtc3luYzpwZC1ob29rLXBhc3M="}};
    CHECK(adapter->VerifyWebhook(Delivery(body, auth)).ok());
    CHECK(Reason(adapter->VerifyWebhook(Delivery(
              body, {{"Authorization", "Basic Y3Jtc3luYzpndWVzcw=="}}))) ==
          "bad_signature");
    CHECK(Reason(adapter->VerifyWebhook(Delivery(body_at("2025-12-03T10:04:00.000Z"), auth))) ==
          "stale");
    CHECK(Reason(adapter->VerifyWebhook(Delivery(body, {}))) == "missing");
  }

  TEST_CASE("vendor webhook: Zoho's channel token in the body, server_time for the window") {
    auto adapter = InboundAdapter("inbound-zoho.json", "http://127.0.0.1:9", "zoho-channel-token");
    auto body = [](const std::string& token, int64_t server_time) {
      return R"({"server_time": )" + std::to_string(server_time) +
             R"(, "module": "Leads", "operation": "update", "ids": ["48001"],
                "channel_id": "1000000068001", "token": ")" +
             token + R"("})";
    };
    CHECK(adapter->VerifyWebhook(Delivery(body("zoho-channel-token", kNow - 2000), {})).ok());
    CHECK(Reason(adapter->VerifyWebhook(Delivery(body("zoho-channel-tokeN", kNow - 2000), {}))) ==
          "bad_signature");
    CHECK(Reason(adapter->VerifyWebhook(Delivery(body("zoho-channel-token", kNow - 400000), {}))) ==
          "stale");
  }

  TEST_CASE("vendor webhook: a mapping that selects a scheme starts without a secret, refusing") {
    Settings settings = BaseSettings(kFixtures + "inbound-zoho.json", "http://127.0.0.1:9");
    CHECK(ConfigureStatus(settings).ok());
    settings["webhook_secret"] = "zoho-channel-token";  // the single key still works
    CHECK(ConfigureStatus(settings).ok());
  }

  TEST_CASE("fetch: Zoho's record is read through webhooks.fields, over HTTP") {
    RecordingCrm crm;
    auto adapter = InboundAdapter("inbound-zoho.json", crm.url(), "t");
    crm.Script(200, R"({"data": [{"id": "48001", "Lead_Status": "Converted",
                        "Description": "Booked a viewing", "Email": "asha@example.com",
                        "Modified_Time": "2025-12-03T15:45:00+05:30"}]})");
    InboundChange change;
    change.crm_event = "Leads.update";
    change.external_id = "48001";
    change.fetch = true;
    const Status status = adapter->FetchChange(&change);
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    const RecordedRequest request = crm.Take();
    CHECK(request.method == "GET");
    CHECK(request.raw_path == "/crm/v2/Leads/48001");
    CHECK(change.fields_json == R"({"status":"CONVERTED","notes":"Booked a viewing"})");
    CHECK(change.updated_at.value_or("") == "2025-12-03T15:45:00+05:30");
    CHECK_FALSE(change.fetch);
  }

  TEST_CASE("fetch: 404 and notFoundStatus are gone, refusals keep their class, "
            "an unreadable 2xx is never gone") {
    RecordingCrm crm;
    auto adapter = InboundAdapter("inbound-zoho.json", crm.url(), "t");
    const AnswerCase cases[] = {
        {404, R"({"code": "INVALID_URL_PATTERN"})", StatusCode::kNotFound, "the CRM has no lead"},
        {204, "", StatusCode::kNotFound, "(it answered 204)"},
        {503, "{}", StatusCode::kRetryable, ""},
        {500, "{}", StatusCode::kRetryable, ""},
        {429, "{}", StatusCode::kRateLimited, ""},
        {401, R"({"code": "INVALID_TOKEN"})", StatusCode::kUnauthenticated, ""},
        {200, "<html>maintenance</html>", StatusCode::kPermanent, "is not JSON"},
        {200, R"({"data": []})", StatusCode::kPermanent, "expected the lead (an object) at /data/0"},
        {200, R"({"data": ["48001"]})", StatusCode::kPermanent, "expected the lead"},
        {200, R"({"data": [{"Lead_Status": "Junk Lead"}]})", StatusCode::kPermanent,
         "record/Lead_Status"},
    };
    for (const AnswerCase& c : cases) {
      const std::string body = c.body;
      CAPTURE(c.status);
      CAPTURE(body);
      crm.Script(c.status, c.body);
      InboundChange change;
      change.external_id = "48001";
      change.fetch = true;
      const Status status = adapter->FetchChange(&change);
      CHECK(status.code() == c.expected);
      CHECK(status.message().rfind("fetch.lead", 0) == 0);
      CHECK(status.message().find(c.fragment) != std::string::npos);
      CHECK(change.fetch);  // not filled
      crm.Drain();
    }
  }

  TEST_CASE("fetch: a CRM that cannot be reached is retried, never gone") {
    auto adapter = InboundAdapter("inbound-zoho.json",
                                  "http://127.0.0.1:" + std::to_string(testing::FreePort()), "t");
    InboundChange change;
    change.external_id = "48001";
    change.fetch = true;
    const Status status = adapter->FetchChange(&change);
    CHECK(status.code() == StatusCode::kRetryable);
  }

  TEST_CASE("poll: HubSpot's search, paged by cursor, then from the latest change seen") {
    RecordingCrm crm;
    auto adapter = InboundAdapter("inbound-hubspot.json", crm.url(), "s");
    REQUIRE(adapter->Info().capabilities.change_polling);
    // First poll: from now less the overlap, no page cursor.
    crm.Script(200, R"({"total": 3, "results": [
        {"id": "502", "properties": {"hs_lead_status": "CONNECTED", "crmsync_notes": "b"},
         "createdAt": "2025-11-01T00:00:00Z", "updatedAt": "2025-12-03T10:15:20.000Z"},
        {"id": "501", "properties": {"hs_lead_status": "OPEN_DEAL", "hubspot_owner_id": "88"},
         "updatedAt": "2025-12-03T10:15:10.000Z"}],
      "paging": {"next": {"after": "2", "link": "?after=2"}}})");
    PollPage page;
    RecordedRequest sent = PollOk(crm, *adapter, "", kNow, &page);
    CHECK(sent.method == "POST");
    CHECK(sent.raw_path == "/crm/v3/objects/contacts/search");
    CHECK(sent.body.find(R"("value":"1764756840000")") != std::string::npos);
    CHECK(JsonAt(sent.body, "after") == "<absent>");
    REQUIRE(page.changes.size() == 2);
    CHECK(page.changes[0].external_id == "501");  // oldest first
    CHECK(page.changes[0].fields_json == R"({"status":"CONVERTED","assignedToId":"88"})");
    REQUIRE(page.changes[0].event_ids.size() == 1);
    CHECK(page.changes[0].event_ids[0].rfind("501@2025-12-03T10:15:10.000Z#", 0) == 0);
    CHECK(page.changes[0].event_ids[0].size() == std::string("501@2025-12-03T10:15:10.000Z#").size() + 16);
    CHECK(page.changes[0].crm_event == "lead.poll");
    CHECK(page.changes[1].external_id == "502");
    CHECK(page.changes[1].updated_at.value_or("") == "2025-12-03T10:15:20.000Z");
    CHECK(page.more);
    // The next page by keyset, not by HubSpot's offset (a contact edited
    // during the walk would shift the offsets and be skipped): from this
    // page's latest time (10:15:20) itself (the overlap is for a walk's
    // start: taken again here it would read the first page over and over),
    // without `after`.
    crm.Script(200, R"({"total": 3, "results": [
        {"id": "503", "properties": {"crmsync_notes": "c"}, "updatedAt": "2025-12-03T10:15:25.000Z"}]})");
    sent = PollOk(crm, *adapter, page.next_cursor, kNow + 1000, &page);
    CHECK(sent.body.find(R"("value":"1764756920000")") != std::string::npos);
    CHECK(JsonAt(sent.body, "after") == "<absent>");
    REQUIRE(page.changes.size() == 1);
    CHECK_FALSE(page.more);
    // The walk ended: the next poll, a new walk, asks from the latest change
    // seen (10:15:25) less the overlap.
    crm.Script(200, R"({"total": 0, "results": []})");
    sent = PollOk(crm, *adapter, page.next_cursor, kNow + 60000, &page);
    CHECK(sent.body.find(R"("value":"1764756865000")") != std::string::npos);
    CHECK(page.changes.empty());
    CHECK_FALSE(page.more);
    // Nothing new: the cursor stays where it was.
    const std::string unchanged = page.next_cursor;
    crm.Script(200, R"({"results": []})");
    REQUIRE(Poll(*adapter, unchanged, kNow + 61000, &page).ok());
    CHECK(page.next_cursor == unchanged);
  }

  TEST_CASE("poll: a page all at one time follows the CRM's cursor, one it refuses restarts the walk") {
    RecordingCrm crm;
    auto adapter = InboundAdapter("inbound-hubspot.json", crm.url(), "s");
    // Every item at the walk's own since (10:15:00): no later time to ask
    // from, so the CRM's `after` is followed.
    crm.Script(200, R"({"results": [
        {"id": "601", "properties": {"crmsync_notes": "a"}, "updatedAt": "2025-12-03T10:15:00.000Z"}],
      "paging": {"next": {"after": "1"}}})");
    PollPage page;
    PollOk(crm, *adapter, "", kNow, &page);
    REQUIRE(page.more);
    // The CRM refuses that position (HubSpot past 10,000 results, an expired
    // Salesforce locator): the walk starts again from its since, once.
    crm.Script(400, R"({"status": "error", "message": "paging past 10000 results"})");
    crm.Script(200, R"({"results": []})");
    const std::string mid_walk = page.next_cursor;
    REQUIRE(Poll(*adapter, mid_walk, kNow + 1000, &page).ok());
    std::vector<RecordedRequest> sent = crm.Drain();
    REQUIRE(sent.size() == 2);
    CHECK(JsonAt(sent[0].body, "after") == "1");
    CHECK(JsonAt(sent[1].body, "after") == "<absent>");
    CHECK(sent[1].body.find(R"("value":"1764756840000")") != std::string::npos);
    CHECK_FALSE(page.more);
    // A refusal of the restarted walk too is the poll's error.
    crm.Script(400, R"({"status": "error"})");
    crm.Script(400, R"({"status": "error"})");
    const Status refused = Poll(*adapter, mid_walk, kNow + 2000, &page);
    CHECK_FALSE(refused.ok());
    CHECK(refused.code() != StatusCode::kNotFound);
    CHECK(crm.Drain().size() == 2);
    // A 404 to the list is the CRM's error, never "this plugin cannot poll"
    // (which would stop polling until a restart).
    crm.Script(404, R"({"status": "error", "category": "OBJECT_NOT_FOUND"})");
    CHECK(Poll(*adapter, "", kNow, &page).code() == StatusCode::kPermanent);
  }

  TEST_CASE("poll: an answer that cannot be read is an error, never an empty page") {
    RecordingCrm crm;
    auto adapter = InboundAdapter("inbound-hubspot.json", crm.url(), "s");
    const AnswerCase cases[] = {
        {200, R"({"total": 0})", StatusCode::kPermanent, "expected an array of records at /results"},
        {200, "not json", StatusCode::kPermanent, "is not JSON"},
        {200, R"({"results": [{"properties": {}, "updatedAt": "2025-12-03T10:15:20Z"}]})",
         StatusCode::kPermanent, "item 0: no CRM id"},
        {200, R"({"results": [{"id": "1", "properties": {}}]})", StatusCode::kPermanent,
         "item 0: no time of change"},
        {200, R"({"results": [{"id": "1", "properties": {}, "updatedAt": "soon"}]})",
         StatusCode::kPermanent, "item 0: no time of change"},
        {200, R"({"results": [{"id": "1", "updatedAt": "2025-12-03T10:15:20Z"}]})",
         StatusCode::kPermanent, "item 0: expected the record's data (an object) at /properties"},
        {200, R"({"results": [], "paging": {"next": {"after": {"x": 1}}}})",
         StatusCode::kPermanent, "neither a string nor a number"},
        {500, "{}", StatusCode::kRetryable, "poll.lead: "},
        {429, "{}", StatusCode::kRateLimited, "poll.lead: "},
        {401, "{}", StatusCode::kUnauthenticated, "poll.lead: "},
    };
    for (const AnswerCase& c : cases) {
      const std::string body = c.body;
      CAPTURE(body);
      crm.Script(c.status, c.body);
      PollPage page;
      const Status status = Poll(*adapter, "", kNow, &page);
      CHECK(status.code() == c.expected);
      CHECK(status.message().find(c.fragment) != std::string::npos);
      CHECK(page.next_cursor.empty());
      crm.Drain();
    }
    PollPage page;
    const Status status = Poll(*adapter, "page 3", kNow, &page);
    CHECK(status.code() == StatusCode::kPermanent);
    CHECK(status.message() == "poll.lead: the saved cursor is not one this plugin wrote");
    CHECK(crm.requests().empty());
    PollRequest property;
    property.entity_kind = EntityKind::kProperty;
    property.now_ms = kNow;
    CHECK(adapter->PollChanges(property, &page).code() == StatusCode::kNotFound);
  }

  TEST_CASE("poll: Salesforce's SOQL since an ISO time, paged by nextRecordsUrl") {
    RecordingCrm crm;
    auto adapter = InboundAdapter("inbound-salesforce.json", crm.url(), "");
    crm.Script(200, R"({"totalSize": 3, "done": false,
        "nextRecordsUrl": "/services/data/v59.0/query/01gD0000002HU6KIAW-2000",
        "records": [{"attributes": {"type": "Lead"}, "Id": "00Q1", "Status": "Closed - Converted",
                     "Description": null, "SystemModstamp": "2025-12-03T10:15:30.000+0000"}]})");
    PollPage page;
    RecordedRequest sent = PollOk(crm, *adapter, "", kNow, &page);
    CHECK(sent.method == "GET");
    CHECK(sent.raw_path == "/services/data/v59.0/query");
    REQUIRE(sent.query.size() == 1);
    CHECK(sent.query[0].second ==
          "SELECT Id, Status, Description, SystemModstamp FROM Lead WHERE SystemModstamp >= "
          "2025-12-03T10:14:00Z ORDER BY SystemModstamp");
    REQUIRE(page.changes.size() == 1);
    CHECK(page.changes[0].external_id == "00Q1");
    CHECK(page.changes[0].fields_json == R"({"status":"CONVERTED"})");
    // FNV-1a 64 of {"status":"CONVERTED"}, computed with Python.
    CHECK(page.changes[0].event_ids ==
          std::vector<std::string>{"00Q1@2025-12-03T10:15:30.000Z#c6bfc3bc85331e4f"});
    CHECK(page.more);
    crm.Script(200, R"({"totalSize": 3, "done": true, "records": [
        {"Id": "00Q2", "Status": "Open - Not Contacted", "SystemModstamp": "2025-12-03T10:16:00.000+0000"}]})");
    sent = PollOk(crm, *adapter, page.next_cursor, kNow, &page);
    CHECK(sent.method == "GET");
    CHECK(sent.raw_path == "/services/data/v59.0/query/01gD0000002HU6KIAW-2000");
    CHECK(sent.query.empty());
    CHECK_FALSE(page.more);
    crm.Script(200, R"({"done": true, "records": []})");
    REQUIRE(Poll(*adapter, page.next_cursor, kNow, &page).ok());
    sent = crm.Take();
    CHECK(sent.query[0].second.find(">= 2025-12-03T10:15:00Z ORDER") != std::string::npos);
    // Two versions within one whole second (a flow updating the lead right
    // after the agent) are two events, not one; the same version read twice
    // is one.
    crm.Script(200, R"({"done": true, "records": [
        {"Id": "00Q3", "Status": "Working - Contacted", "SystemModstamp": "2025-12-03T10:17:00.000+0000"}]})");
    PollOk(crm, *adapter, page.next_cursor, kNow, &page);
    const std::vector<std::string> first = page.changes.at(0).event_ids;
    crm.Script(200, R"({"done": true, "records": [
        {"Id": "00Q3", "Status": "Closed - Converted", "SystemModstamp": "2025-12-03T10:17:00.000+0000"}]})");
    PollOk(crm, *adapter, page.next_cursor, kNow, &page);
    CHECK(page.changes.at(0).event_ids != first);
    crm.Script(200, R"({"done": true, "records": [
        {"Id": "00Q3", "Status": "Closed - Converted", "SystemModstamp": "2025-12-03T10:17:00.000+0000"}]})");
    const std::vector<std::string> second = page.changes.at(0).event_ids;
    PollOk(crm, *adapter, page.next_cursor, kNow, &page);
    CHECK(page.changes.at(0).event_ids == second);
  }

  TEST_CASE("poll: a next page on another origin is refused, credentials stay home") {
    RecordingCrm crm;
    auto adapter = InboundAdapter("inbound-salesforce.json", crm.url(), "");
    crm.Script(200, R"({"nextRecordsUrl": "https://evil.example.com/services/data/v59.0/query/x",
                        "records": []})");
    PollPage page;
    const Status status = Poll(*adapter, "", kNow, &page);
    CHECK(status.code() == StatusCode::kPermanent);
    CHECK(status.message().find("another origin") != std::string::npos);
    CHECK(page.next_cursor.empty());
  }
}

}  // namespace
}  // namespace crmsync
