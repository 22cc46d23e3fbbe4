// inbound_mapping_test.cpp: inbound from real CRMs without a network: the
// vendor webhook shapes (batches, eventsPointer, event names from several
// pointers, id arrays, event ids, per-property events, fetch-only
// notifications) and their folding (webhook_mapping.h); the mapping keys of
// webhooks.verify, fetch and poll and their errors (mapping_file.h); CRM times
// (context.h); the webhook secrets and capabilities of the adapter.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "context.h"
#include "generic_rest_adapter.h"
#include "unit_test_helpers.h"
#include "webhook_mapping.h"

namespace crmsync::genericrest {
namespace {

using testing::At;
using testing::FixturePath;
using testing::HasError;
using testing::Joined;
using testing::LoadFixture;
using testing::ParseErrors;

WebhookDelivery Delivery(const std::string& body) {
  WebhookDelivery delivery;
  delivery.body = body;
  return delivery;
}

std::vector<InboundChange> Parse(const Mapping& mapping, const std::string& body) {
  std::vector<InboundChange> changes;
  const Status status = ParseWebhook(mapping, Delivery(body), &changes);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return changes;
}

Status ParseFails(const Mapping& mapping, const std::string& body) {
  std::vector<InboundChange> changes;
  const Status status = ParseWebhook(mapping, Delivery(body), &changes);
  CHECK(changes.empty());
  return status;
}

// A valid minimal mapping with `members` (top-level keys, JSON text without
// braces) added.
std::string MappingWith(const std::string& members) {
  return R"({"name": "inline",
    "statusMap": {"lead": {"NEW": "new", "CONTACTED": "contacted", "QUALIFIED": "qualified",
                           "VIEWING_SCHEDULED": "viewing", "VIEWED": "viewing",
                           "NEGOTIATING": "negotiating", "CONVERTED": "won", "LOST": "lost"}},
    "entities": {"lead": {"operations": {
      "create": {"method": "POST", "path": "/leads", "body": {"name": "{{name}}"}},
      "update": {"method": "PUT", "path": "/leads/{externalId}", "body": {"name": "{{name}}"}}}}},
    )" + members + "}";
}

Mapping Inline(const std::string& members) {
  Mapping mapping;
  const std::vector<std::string> errors = ParseErrors(MappingWith(members), &mapping);
  INFO(Joined(errors));
  REQUIRE(errors.empty());
  return mapping;
}

// HubSpot's per-property event about contact `id`.
std::string HubSpotEvent(long long event_id, long long id, const std::string& property,
                         const std::string& value, long long occurred_at) {
  return R"({"eventId": )" + std::to_string(event_id) +
         R"(, "subscriptionId": 11, "portalId": 62515, "appId": 3700, "occurredAt": )" +
         std::to_string(occurred_at) +
         R"(, "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": )" +
         std::to_string(id) + R"(, "changeSource": "CRM_UI", "propertyName": ")" + property +
         R"(", "propertyValue": ")" + value + R"("})";
}

PluginConfig SecretsConfig(const std::string& secrets, const std::string& secret) {
  PluginConfig config;
  if (!secrets.empty()) config.Set("webhook_secrets", secrets);
  if (!secret.empty()) config.Set("webhook_secret", secret);
  return config;
}

TEST_SUITE("plugins.generic_rest") {
  TEST_CASE("inbound webhook: HubSpot's per-property events fold into one change per contact") {
    const Mapping mapping = LoadFixture("inbound-hubspot.json");
    // Out of order on purpose: the later occurredAt wins whatever the array order.
    const std::string body = "[" + HubSpotEvent(1003, 501, "hs_lead_status", "OPEN_DEAL", 1764756903000) +
                             "," + HubSpotEvent(1001, 501, "hs_lead_status", "CONNECTED", 1764756901000) +
                             "," + HubSpotEvent(2001, 777, "crmsync_notes", "Called back", 1764756902000) +
                             "," + HubSpotEvent(1002, 501, "hubspot_owner_id", "88", 1764756902500) + "]";
    const std::vector<InboundChange> changes = Parse(mapping, body);
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].external_id == "501");
    CHECK(changes[0].crm_event == "contact.propertyChange");
    CHECK(changes[0].entity_kind == EntityKind::kLead);
    CHECK(At(changes[0].fields_json, "/status") == "\"CONVERTED\"");
    CHECK(At(changes[0].fields_json, "/assignedToId") == "\"88\"");
    CHECK(changes[0].event_ids == std::vector<std::string>{"1001", "1002", "1003"});
    CHECK(changes[0].updated_at.value_or("") == "2025-12-03T10:15:03.000Z");
    CHECK_FALSE(changes[0].fetch);
    CHECK(changes[1].external_id == "777");
    CHECK(changes[1].fields_json == R"({"notes":"Called back"})");
    CHECK(changes[1].event_ids == std::vector<std::string>{"2001"});
    CHECK(changes[1].updated_at.value_or("") == "2025-12-03T10:15:02.000Z");
  }

  TEST_CASE("inbound webhook: folding without readable times keeps the delivery's order") {
    const Mapping mapping = Inline(R"("webhooks": {"eventIdPointer": "/id",
        "updatedAtPointer": "/at", "events": {"lead.updated": "lead"},
        "fields": {"lead": {"notes": "/notes"}}})");
    const std::vector<InboundChange> changes = Parse(mapping, R"([
        {"id": "e1", "event": "lead.updated", "entityId": "9", "at": "yesterday", "data": {"notes": "first"}},
        {"id": "e2", "event": "lead.updated", "entityId": "9", "data": {"notes": "second"}},
        {"id": "e1", "event": "lead.updated", "entityId": "9", "data": {}}])");
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].fields_json == R"({"notes":"second"})");
    CHECK(changes[0].event_ids == std::vector<std::string>{"e1", "e2"});  // unioned
    CHECK(changes[0].updated_at.value_or("") == "yesterday");
  }

  TEST_CASE("inbound webhook: a per-property event without a property name is invalid") {
    const Mapping mapping = LoadFixture("inbound-hubspot.json");
    const Status status = ParseFails(
        mapping, R"([{"eventId": 1, "subscriptionType": "contact.propertyChange", "objectId": 5}])");
    CHECK(status.code() == StatusCode::kInvalidRecord);
    CHECK(status.message() == "webhook [0] has no property name (a string) at /propertyName");
  }

  TEST_CASE("inbound webhook: an event without its event id is invalid, naming the pointer") {
    const Mapping mapping = LoadFixture("inbound-hubspot.json");
    const Status status = ParseFails(mapping, R"([{"subscriptionType": "contact.propertyChange",
        "objectId": 5, "propertyName": "crmsync_notes", "propertyValue": "x"}])");
    CHECK(status.code() == StatusCode::kInvalidRecord);
    CHECK(status.message() == "webhook [0] has no event id (a string or number) at /eventId");
  }

  TEST_CASE("inbound webhook: a HubSpot status the mapping cannot map makes the delivery invalid") {
    const Mapping mapping = LoadFixture("inbound-hubspot.json");
    const Status status =
        ParseFails(mapping, "[" + HubSpotEvent(1, 5, "hs_lead_status", "BAD_TIMING", 1) + "]");
    CHECK(status.code() == StatusCode::kInvalidRecord);
    CHECK(status.message().find("webhook [0] data/hs_lead_status") != std::string::npos);
  }

  TEST_CASE("inbound webhook: Pipedrive v2 names the event from two pointers") {
    const Mapping mapping = LoadFixture("inbound-pipedrive.json");
    const std::vector<InboundChange> changes = Parse(mapping, R"({
        "data": {"id": 123, "name": "Asha", "notes": "Prefers calls", "label": "won",
                 "update_time": "2026-12-03 10:15:00"},
        "previous": {"notes": "old"},
        "meta": {"action": "change", "entity": "person", "entity_id": "123",
                 "id": "8f1c-42", "timestamp": "2026-12-03T10:15:00.512Z", "version": "2.0"}})");
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].crm_event == "person.change");
    CHECK(changes[0].external_id == "123");
    CHECK(changes[0].fields_json == R"({"notes":"Prefers calls","status":"CONVERTED"})");
    CHECK(changes[0].event_ids == std::vector<std::string>{"8f1c-42"});
    CHECK(changes[0].updated_at.value_or("") == "2026-12-03T10:15:00.000Z");
    // An event not listed is ignored; a name part missing is invalid.
    CHECK(Parse(mapping, R"({"meta": {"action": "delete", "entity": "person", "entity_id": 1,
                             "id": "x"}, "data": null})")
              .empty());
    const Status status = ParseFails(mapping, R"({"meta": {"entity": "person", "entity_id": 1}})");
    CHECK(status.message() == "webhook has no event name part at /meta/action (a string or a number)");
  }

  TEST_CASE("inbound webhook: Zoho's notification gives one fetch change per id, no fields") {
    const Mapping mapping = LoadFixture("inbound-zoho.json");
    const std::vector<InboundChange> changes = Parse(mapping, R"({"server_time": 1764756900000,
        "query_params": {}, "module": "Leads", "resource_uri": "https://www.zohoapis.com/crm/v2/Leads",
        "ids": ["4876876000000624001", 4876876000000624002, "4876876000000624001"],
        "affected_fields": [{"4876876000000624001": ["Lead_Status"]}], "operation": "update",
        "channel_id": "1000000068001", "token": "channel-token"})");
    REQUIRE(changes.size() == 2);  // the repeated id is folded
    CHECK(changes[0].external_id == "4876876000000624001");
    CHECK(changes[1].external_id == "4876876000000624002");
    for (const InboundChange& change : changes) {
      CHECK(change.fetch);
      CHECK(change.fields_json == "{}");
      CHECK(change.crm_event == "Leads.update");
    }
    const Status status = ParseFails(mapping, R"({"module": "Leads", "operation": "update",
        "ids": ["1", {"id": "2"}]})");
    CHECK(status.message() == "webhook has no CRM id (a string or number) at /ids/1");
    CHECK(Parse(mapping, R"({"module": "Leads", "operation": "update", "ids": []})").empty());
  }

  TEST_CASE("inbound webhook: eventsPointer finds the array of events, anything else is invalid") {
    const Mapping mapping = Inline(R"("webhooks": {"eventsPointer": "/events",
        "events": {"lead.updated": "lead"}, "fields": {"lead": {"notes": "/notes"}}})");
    const std::vector<InboundChange> changes = Parse(mapping, R"({"events": [
        {"event": "lead.updated", "entityId": "1", "data": {"notes": "a"}},
        {"event": "lead.updated", "entityId": "2", "data": {"notes": "b"}}]})");
    REQUIRE(changes.size() == 2);
    CHECK(changes[1].external_id == "2");
    CHECK(Parse(mapping, R"({"events": null})").empty());
    CHECK(ParseFails(mapping, R"({"events": {"event": "lead.updated"}})").message() ==
          "webhook /events must be an array of events");
    CHECK(ParseFails(mapping, R"({"events": [{"event": "lead.updated"}]})").message() ==
          "webhook /events/0 has no CRM id (a string or number, or an array of them) at /entityId");
  }

  TEST_CASE("inbound webhook: updatedAt in Unix milliseconds becomes ISO 8601") {
    CHECK(InboundTime(Var(Poco::Int64(1764756900123))).value_or("") == "2025-12-03T10:15:00.123Z");
    CHECK(InboundTime(Var(std::string("2026-01-01T00:00:00Z"))).value_or("") ==
          "2026-01-01T00:00:00Z");
    CHECK(InboundTime(Var(std::string("2025-12-03T15:45:00+05:30"))).value_or("") ==
          "2025-12-03T15:45:00+05:30");
    // Other ISO forms become the engine's: Salesforce's +0000, Pipedrive's space.
    CHECK(InboundTime(Var(std::string("2025-12-03T10:15:30.926+0000"))).value_or("") ==
          "2025-12-03T10:15:30.926Z");
    CHECK(InboundTime(Var(std::string("2025-12-03 10:15:00"))).value_or("") ==
          "2025-12-03T10:15:00.000Z");
    // A text that is no time is kept, for the engine to refuse by name.
    CHECK(InboundTime(Var(std::string("yesterday"))).value_or("") == "yesterday");
    CHECK_FALSE(InboundTime(Var(std::string(""))));
    CHECK_FALSE(InboundTime(Var(1.5)));
    CHECK_FALSE(InboundTime(Var(true)));
  }

  TEST_CASE("CRM times: ISO 8601 with any offset, a space, or Unix milliseconds") {
    int64_t ms = 0;
    REQUIRE(ParseCrmTime("2025-12-03T10:15:00Z", &ms));
    CHECK(ms == 1764756900000);
    REQUIRE(ParseCrmTime("2025-12-03T10:15:00.123+0000", &ms));  // Salesforce
    CHECK(ms == 1764756900123);
    REQUIRE(ParseCrmTime("2025-12-03T15:45:00.5+05:30", &ms));  // Zoho
    CHECK(ms == 1764756900500);
    REQUIRE(ParseCrmTime("2025-12-03 10:15:00", &ms));  // Pipedrive, UTC
    CHECK(ms == 1764756900000);
    REQUIRE(ParseCrmTime("2025-12-03T10:15Z", &ms));
    CHECK(ms == 1764756900000);
    REQUIRE(ParseCrmTime("1764756900123", &ms));
    CHECK(ms == 1764756900123);
    REQUIRE(ParseCrmTime("1969-12-31T23:59:59Z", &ms));
    CHECK(ms == -1000);
    for (const char* bad : {"", "yesterday", "2025-13-03T10:15:00Z", "2025-12-03", "2025-12-03T10",
                            "2025-12-03T10:15:00+5", "2025-12-03T10:15:00Zjunk",
                            "2025-12-03T10:15:00.Z", "12345678901234567890"}) {
      CAPTURE(bad);
      CHECK_FALSE(ParseCrmTime(bad, &ms));
    }
    CHECK(IsoTimeMillis(1764756900007) == "2025-12-03T10:15:00.007Z");
  }

  TEST_CASE("inbound mapping: the vendor fixtures load, with what each selects") {
    const Mapping hubspot = LoadFixture("inbound-hubspot.json");
    REQUIRE(hubspot.webhooks->verify);
    CHECK(hubspot.webhooks->verify->scheme == WebhookScheme::kHubSpotV3);
    CHECK(hubspot.webhooks->verify->tolerance_ms == 300000);
    CHECK(hubspot.poll.at("lead").cursor_pointer.value_or("") == "/paging/next/after");
    const Mapping zoho = LoadFixture("inbound-zoho.json");
    CHECK(zoho.webhooks->verify->token_pointer == "/token");
    CHECK(zoho.webhooks->event_pointers == std::vector<std::string>{"/module", "/operation"});
    CHECK(zoho.fetch.at("lead").not_found_status == std::vector<int>{204});
    const Mapping salesforce = LoadFixture("inbound-salesforce.json");
    CHECK(salesforce.poll.at("lead").since_format == PollSpec::SinceFormat::kIso);
    CHECK(salesforce.poll.at("lead").path_pointer.value_or("") == "/nextRecordsUrl");
    CHECK(salesforce.poll.at("lead").event == "lead.poll");
  }

  TEST_CASE("inbound mapping: capabilities say webhooks with events, and polling") {
    CHECK(CapabilitiesOf(LoadFixture("inbound-hubspot.json")).inbound_webhooks);
    CHECK(CapabilitiesOf(LoadFixture("inbound-hubspot.json")).change_polling);
    CHECK(CapabilitiesOf(LoadFixture("inbound-zoho.json")).inbound_webhooks);
    CHECK_FALSE(CapabilitiesOf(LoadFixture("inbound-zoho.json")).change_polling);
    // Fields only, for the poll: no webhooks to read.
    CHECK_FALSE(CapabilitiesOf(LoadFixture("inbound-salesforce.json")).inbound_webhooks);
    CHECK(CapabilitiesOf(LoadFixture("inbound-salesforce.json")).change_polling);
    CHECK_FALSE(CapabilitiesOf(LoadFixture("minimal.json")).inbound_webhooks);
    CHECK_FALSE(CapabilitiesOf(LoadFixture("minimal.json")).change_polling);
  }

  TEST_CASE("inbound mapping: webhooks.verify options are checked against the scheme") {
    struct Case {
      const char* verify;
      const char* error;
    };
    const Case cases[] = {
        {R"({"scheme": "hubspot-v4"})",
         "/webhooks/verify/scheme: must be one of hubspot-v3 hubspot-v2 hubspot-v1 hmac-sha256 "
         "basic token; did you mean 'hubspot-v3'"},
        {R"({"toleranceMs": 1000})", "/webhooks/verify/scheme: required"},
        {R"({"scheme": "hubspot-v3", "header": "X-Sig"})",
         "/webhooks/verify/header: not an option of the hubspot-v3 scheme (it takes scheme "
         "toleranceMs)"},
        {R"({"scheme": "basic", "prefix": "sha256="})",
         "/webhooks/verify/prefix: not an option of the basic scheme"},
        {R"({"scheme": "hmac-sha256", "header": "X-Sig", "encodng": "hex"})",
         "/webhooks/verify/encodng: unknown key; did you mean 'encoding'?"},
        {R"({"scheme": "hmac-sha256", "header": "X-Sig", "encoding": "base32"})",
         "/webhooks/verify/encoding: must be hex or base64"},
        {R"({"scheme": "hmac-sha256"})", "/webhooks/verify/header: hmac-sha256 needs a header"},
        {R"({"scheme": "token"})",
         "/webhooks/verify/tokenPointer: token needs exactly one of header and tokenPointer"},
        {R"({"scheme": "token", "header": "X-Token", "tokenPointer": "/token"})",
         "/webhooks/verify/tokenPointer: token needs exactly one of header and tokenPointer"},
        {R"({"scheme": "token", "tokenPointer": "token"})",
         "/webhooks/verify/tokenPointer: must be a JSON pointer"},
        {R"({"scheme": "basic", "timestampHeader": "X-T", "timestampPointer": "/t"})",
         "/webhooks/verify/timestampHeader: timestampHeader and timestampPointer are exclusive"},
        {R"({"scheme": "hubspot-v3", "toleranceMs": 999})",
         "/webhooks/verify/toleranceMs: must be a whole number from 1000 to 86400000"},
        {R"({"scheme": "hubspot-v3", "toleranceMs": "5m"})",
         "/webhooks/verify/toleranceMs: must be a whole number from 1000 to 86400000"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.verify);
      const std::vector<std::string> errors = ParseErrors(MappingWith(
          std::string(R"("webhooks": {"events": {"lead.updated": "lead"}, "verify": )") +
          c.verify + "}"));
      INFO(Joined(errors));
      CHECK(HasError(errors, std::string("inline.json: ") + c.error));
    }
  }

  TEST_CASE("inbound mapping: webhook shape keys are checked, each error naming its pointer") {
    struct Case {
      const char* webhooks;
      const char* error;
    };
    const Case cases[] = {
        {R"({"eventPointer": []})", "/webhooks/eventPointer: must not be an empty list"},
        {R"({"eventPointer": ["/meta/entity", 3]})",
         "/webhooks/eventPointer/1: must be a JSON pointer into the event"},
        {R"({"eventPointer": 3})", "/webhooks/eventPointer: must be a string"},
        {R"({"eventsPointer": "events"})", "/webhooks/eventsPointer: must be a JSON pointer"},
        {R"({"eventIdPointer": ""})", "/webhooks/eventIdPointer: must not be the whole document"},
        {R"({"property": {"namePointer": "/propertyName"}})",
         "/webhooks/property/valuePointer: required"},
        {R"({"property": {"namePointer": "/n", "valuePointer": "/v", "typo": 1}})",
         "/webhooks/property/typo: unknown key"},
        {R"({"property": {"namePointer": "/n", "valuePointer": "/v"}, "dataPointer": "/data"})",
         "/webhooks/dataPointer: not with property"},
        {R"({"fetch": "yes"})", "/webhooks/fetch: must be true or false"},
        {R"({"fetch": true, "events": {"lead.updated": "lead"}})",
         "/webhooks/fetch: needs /fetch/lead (how to read a notified lead by its id)"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.webhooks);
      const std::vector<std::string> errors =
          ParseErrors(MappingWith(std::string(R"("webhooks": )") + c.webhooks));
      INFO(Joined(errors));
      CHECK(HasError(errors, std::string("inline.json: ") + c.error));
    }
  }

  TEST_CASE("inbound mapping: fetch and poll are checked, each error naming its pointer") {
    const std::string fields = R"("webhooks": {"fields": {"lead": {"notes": "/notes"}}}, )";
    const std::string poll_ok =
        R"("request": {"method": "GET", "path": "/changes"}, "itemsPointer": "/items",
           "updatedAtPointer": "/at")";
    struct Case {
      std::string members;
      const char* error;
    };
    const Case cases[] = {
        {R"("fetch": {"lead": {"request": {"method": "GET", "path": "/leads/{externalId}"}}})",
         "/fetch/lead: needs /webhooks/fields/lead (how the fetched record maps"},
        {fields + R"("fetch": {"lead": {}})", "/fetch/lead/request: required"},
        {fields + R"("fetch": {"leads": {}})", "/fetch/leads: unknown entity; did you mean 'lead'?"},
        {fields + R"("fetch": {"lead": {"request": {"method": "GET", "path": "/leads/{{poll.since}}"}}})",
         "/fetch/lead/request/path"},
        {fields + R"("fetch": {"lead": {"request": {"method": "GET", "path": "/l", "idPointer": "/id"}}})",
         "/fetch/lead/request/idPointer: unknown key"},
        {fields + R"("fetch": {"lead": {"request": {"method": "GET", "path": "/l"}, "notFoundStatus": [404]}})",
         "/fetch/lead/notFoundStatus/0: must be a non-empty array of 2xx statuses"},
        {fields + R"("fetch": {"lead": {"request": {"method": "GET", "path": "/l"}, "recordPointer": "data"}})",
         "/fetch/lead/recordPointer: must be a JSON pointer"},
        {R"("poll": {"lead": {)" + poll_ok + "}}",
         "/poll/lead: needs /webhooks/fields/lead (how a polled record maps"},
        {fields + R"("poll": {"lead": {"request": {"method": "GET", "path": "/c"}}})",
         "/poll/lead/itemsPointer: required"},
        {fields + R"("poll": {"lead": {"request": {"method": "GET", "path": "/c"}, "itemsPointer": "/i"}})",
         "/poll/lead/updatedAtPointer: required"},
        {fields + R"("poll": {"lead": {)" + poll_ok + R"(, "since": {"format": "isoo"}}})",
         "/poll/lead/since/format: must be epochMs or iso; did you mean 'iso'?"},
        {fields + R"("poll": {"lead": {)" + poll_ok + R"(, "since": {"overlapMs": -1}}})",
         "/poll/lead/since/overlapMs: must be a whole number from 0 to 86400000"},
        {fields + R"("poll": {"lead": {)" + poll_ok + R"(, "next": {}}})",
         "/poll/lead/next: needs exactly one of cursorPointer and pathPointer"},
        {fields + R"("poll": {"lead": {)" + poll_ok +
             R"(, "next": {"cursorPointer": "/a", "pathPointer": "/b"}}})",
         "/poll/lead/next: needs exactly one of cursorPointer and pathPointer"},
        {fields + R"("poll": {"lead": {)" + poll_ok + R"(, "next": {"after": "/a"}}})",
         "/poll/lead/next/after: unknown key"},
        {fields + R"("poll": {"lead": {"request": {"method": "GET", "path": "/c/{externalId}"},
             "itemsPointer": "/i", "updatedAtPointer": "/at"}})",
         "/poll/lead/request/path"},
        {fields + R"("poll": {"lead": {)" + poll_ok + R"(, "paging": {}}})",
         "/poll/lead/paging: unknown key"},
        {fields + R"("poll": [])", "/poll: must be an object"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.members);
      const std::vector<std::string> errors = ParseErrors(MappingWith(c.members));
      INFO(Joined(errors));
      CHECK(HasError(errors, std::string("inline.json: ") + c.error));
    }
  }

  TEST_CASE("inbound secrets: webhook_secrets first, newline-separated, else webhook_secret") {
    WebhookVerifier verifier;
    verifier.scheme = WebhookScheme::kHubSpotV3;
    REQUIRE(ConfigureWebhookSecrets(SecretsConfig("new-secret\nold-secret\n", "ignored"), &verifier)
                .ok());
    CHECK(verifier.secrets == std::vector<std::string>{"new-secret", "old-secret"});
    REQUIRE(ConfigureWebhookSecrets(SecretsConfig("", "only-secret"), &verifier).ok());
    CHECK(verifier.secrets == std::vector<std::string>{"only-secret"});
  }

  TEST_CASE("inbound secrets: a scheme without a secret is not found, a bad one a config error") {
    WebhookVerifier verifier;
    verifier.scheme = WebhookScheme::kHubSpotV3;
    Status status = ConfigureWebhookSecrets(SecretsConfig("", ""), &verifier);
    CHECK(status.code() == StatusCode::kNotFound);
    CHECK(status.message().find("hubspot-v3") != std::string::npos);
    CHECK(status.message().find("CRM_WEBHOOK_SECRET, crm.webhook.secret") != std::string::npos);
    verifier.scheme = WebhookScheme::kBasic;
    status = ConfigureWebhookSecrets(SecretsConfig("Pa55-no-colon", ""), &verifier);
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message().find("user:password") != std::string::npos);
    CHECK(status.message().find("Pa55-no-colon") == std::string::npos);
  }

  // A fixture mapping against a CRM nobody answers at.
  PluginConfig FixtureConfig(const std::string& file) {
    PluginConfig config;
    config.Set("mapping", FixturePath(file));
    config.Set("api_url", "http://127.0.0.1:9");
    return config;
  }

  TEST_CASE("inbound adapter: without a secret, a verify scheme refuses every webhook and polls") {
    GenericRestAdapter adapter;
    PluginConfig config = FixtureConfig("inbound-hubspot.json");
    Status status = adapter.Configure(config);
    // An outbound-only deployment starts; nothing unverified gets in.
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(adapter.Dump().find("CRM_WEBHOOK_SECRET") != std::string::npos);
    CHECK(adapter.Dump().find("polls instead") != std::string::npos);
    CHECK_FALSE(adapter.Info().capabilities.inbound_webhooks);
    CHECK(adapter.Info().capabilities.change_polling);
    WebhookDelivery delivery;
    delivery.headers = {{"X-HubSpot-Signature-v3", "anything"},
                        {"X-HubSpot-Request-Timestamp", "1764777600000"}};
    delivery.body = "[]";
    Status refused = adapter.VerifyWebhook(delivery);
    CHECK(refused.code() == StatusCode::kUnauthenticated);
    CHECK(refused.message().rfind("missing: ", 0) == 0);
    config.Set("webhook_secret", "hs-client-secret");
    GenericRestAdapter configured;
    status = configured.Configure(config);
    CHECK_MESSAGE(status.ok(), status.ToString());
    CHECK(configured.Info().capabilities.inbound_webhooks);
    CHECK(configured.Info().capabilities.change_polling);
    CHECK(configured.Dump().find("CRM_WEBHOOK_SECRET") == std::string::npos);
  }

  TEST_CASE("inbound adapter: without webhooks.verify the engine's own schemes apply") {
    GenericRestAdapter adapter;
    const Status configured = adapter.Configure(FixtureConfig("minimal.json"));
    REQUIRE_MESSAGE(configured.ok(), configured.ToString());
    CHECK(adapter.VerifyWebhook(Delivery("{}")).code() == StatusCode::kNotFound);
    PollPage page;
    CHECK(adapter.PollChanges(PollRequest(), &page).code() == StatusCode::kNotFound);
    InboundChange change;
    change.fetch = true;
    change.external_id = "1";
    CHECK(adapter.FetchChange(&change).code() == StatusCode::kPermanent);
  }
}

}  // namespace
}  // namespace crmsync::genericrest
