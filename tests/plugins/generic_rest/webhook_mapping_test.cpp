// webhook_mapping_test.cpp: CRM webhooks back into platform changes and the
// webhook registration request (webhook_mapping.h), from plain values.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "unit_test_helpers.h"
#include "webhook_mapping.h"

namespace crmsync::genericrest {
namespace {

using testing::At;
using testing::LoadFixture;

WebhookDelivery Delivery(const std::string& body, const HeaderList& headers = {}) {
  WebhookDelivery delivery;
  delivery.body = body;
  delivery.headers = headers;
  return delivery;
}

TEST_SUITE("plugins.generic_rest") {
  TEST_CASE("webhook: the strategy's example maps back to platform fields") {
    const Mapping mapping = LoadFixture("full.json");
    std::vector<InboundChange> changes;
    const Status status =
        ParseWebhook(mapping, Delivery(R"({"event": "lead.updated", "entityId": "crm_lead_id",
                   "data": {"status": "converted", "notes": "Property booked",
                            "assignedAgent": "agent_123", "budgetRange": {"min": 4000000},
                            "updatedAt": "2026-11-23T10:20:00Z", "unmapped": 1}})"),
                     &changes);
    REQUIRE(status.ok());
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].crm_event == "lead.updated");
    CHECK(changes[0].entity_kind == EntityKind::kLead);
    CHECK(changes[0].external_id == "crm_lead_id");
    CHECK(
        changes[0].fields_json ==
        R"({"status":"CONVERTED","notes":"Property booked","assignedToId":"dealer-7","budgetMin":4000000})");
    CHECK(changes[0].updated_at.value_or("") == "2026-11-23T10:20:00Z");
  }

  TEST_CASE("webhook: several CRM statuses map to one platform status (statusMapInbound)") {
    const Mapping mapping = LoadFixture("full.json");
    for (const char* crm : {"won", "closed_won", "converted"}) {
      CAPTURE(crm);
      std::vector<InboundChange> changes;
      REQUIRE(ParseWebhook(mapping,
                           Delivery(std::string(R"({"event": "lead.status_changed", "entityId": 7,
                                                  "data": {"status": ")") +
                                    crm + "\"}}"),
                           &changes)
                  .ok());
      REQUIRE(changes.size() == 1);
      CHECK(changes[0].external_id == "7");
      CHECK(At(changes[0].fields_json, "/status") == "\"CONVERTED\"");
    }
  }

  TEST_CASE("webhook: only the fields present are reported, unknown agents are left out") {
    const Mapping mapping = LoadFixture("full.json");
    std::vector<InboundChange> changes;
    REQUIRE(ParseWebhook(mapping, Delivery(R"({"event": "lead.updated", "entityId": "c1",
                                    "data": {"notes": null, "assignedAgent": "agent_000"}})"),
                         &changes)
                .ok());
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].fields_json == "{}");
    CHECK_FALSE(changes[0].updated_at.has_value());
  }

  TEST_CASE("webhook: property events use the property's fields and statuses") {
    const Mapping mapping = LoadFixture("full.json");
    std::vector<InboundChange> changes;
    REQUIRE(ParseWebhook(mapping, Delivery(R"({"event": "property.updated", "entityId": "p-crm-1",
                                    "data": {"status": "sold", "price": 9900000}})"),
                         &changes)
                .ok());
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].entity_kind == EntityKind::kProperty);
    CHECK(changes[0].fields_json == R"({"status":"SOLD","price":9900000})");
  }

  TEST_CASE("webhook: an event not listed is ignored, a mapping without webhooks ignores all") {
    const Mapping mapping = LoadFixture("full.json");
    std::vector<InboundChange> changes;
    CHECK(
        ParseWebhook(mapping, Delivery(R"({"event": "deal.created", "entityId": "d1"})"), &changes)
            .ok());
    CHECK(changes.empty());
    const Mapping minimal = LoadFixture("minimal.json");
    CHECK(ParseWebhook(minimal, Delivery(R"({"event": "lead.updated", "entityId": "x"})"), &changes)
              .ok());
    CHECK(changes.empty());
  }

  TEST_CASE("webhook: the X-CRM-Event header names the event when the body does not") {
    const Mapping mapping = LoadFixture("full.json");
    std::vector<InboundChange> changes;
    REQUIRE(ParseWebhook(mapping,
                         Delivery(R"({"entityId": "c1", "data": {"notes": "n"}})",
                                  {{"X-CRM-Event", "lead.updated"}}),
                         &changes)
                .ok());
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].crm_event == "lead.updated");
  }

  TEST_CASE("webhook: a body that is an array is a batch of events") {
    const Mapping mapping = LoadFixture("full.json");
    std::vector<InboundChange> changes;
    REQUIRE(ParseWebhook(
                mapping,
                Delivery(R"([{"event": "lead.updated", "entityId": "a", "data": {"notes": "1"}},
                                    {"event": "ignored.event", "entityId": "b"},
                                    {"event": "property.updated", "entityId": "c", "data": {}}])"),
                &changes)
                .ok());
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].external_id == "a");
    CHECK(changes[1].external_id == "c");
  }

  TEST_CASE("webhook: malformed bodies are invalid records naming the problem") {
    const Mapping mapping = LoadFixture("full.json");
    std::vector<InboundChange> changes;
    struct Case {
      const char* body;
      const char* fragment;
    };
    const Case cases[] = {
        {"not json", "not valid JSON"},
        {R"([1])", "webhook [0] must be a JSON object"},
        {R"({"entityId": "x"})", "no event name at /event"},
        {R"({"event": "lead.updated"})", "no CRM id"},
        {R"({"event": "lead.updated", "entityId": ""})", "no CRM id"},
        {R"({"event": "lead.updated", "entityId": "x", "data": [1]})", "/data must be an object"},
        {R"({"event": "lead.updated", "entityId": "x", "data": {"status": "archived"}})",
         "unknown CRM status 'archived'"},
        {R"([{"event": "lead.updated", "entityId": "a"}, {"event": "lead.updated"}])",
         "[1] has no CRM id"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.body);
      const Status status = ParseWebhook(mapping, Delivery(c.body), &changes);
      CHECK(status.code() == StatusCode::kInvalidRecord);
      CHECK(status.message().find(c.fragment) != std::string::npos);
    }
    CHECK(changes.empty());
  }

  TEST_CASE("webhook: a status field without statusIn must already be a platform status") {
    Mapping mapping;
    const std::vector<std::string> errors = testing::ParseErrors(R"({"name": "w",
      "statusMap": {"lead": {"NEW": "n", "CONTACTED": "c", "QUALIFIED": "q", "VIEWING_SCHEDULED": "v",
                             "VIEWED": "v", "NEGOTIATING": "g", "CONVERTED": "w", "LOST": "l"}},
      "entities": {"lead": {"operations": {"create": {"method": "POST", "path": "/l"},
                                           "update": {"method": "PUT", "path": "/l/{externalId}"}}}},
      "webhooks": {"eventPointer": "/type", "entityIdPointer": "/object/id", "dataPointer": "/object",
                   "events": {"updated": "lead"},
                   "fields": {"lead": {"status": {"from": "/stage", "transform": ["upper"]},
                                       "name": "/name"}}}})",
                                                                 &mapping);
    INFO(testing::Joined(errors));
    REQUIRE(errors.empty());
    std::vector<InboundChange> changes;
    REQUIRE(
        ParseWebhook(
            mapping,
            Delivery(R"({"type": "updated", "object": {"id": 5, "stage": "lost", "name": "A"}})"),
            &changes)
            .ok());
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].external_id == "5");
    CHECK(changes[0].fields_json == R"({"status":"LOST","name":"A"})");
    const Status bad = ParseWebhook(
        mapping, Delivery(R"({"type": "updated", "object": {"id": 5, "stage": "gone"}})"),
        &changes);
    CHECK(bad.code() == StatusCode::kInvalidRecord);
  }

  TEST_CASE("webhook registration: renders webhooks.register") {
    const Mapping mapping = LoadFixture("full.json");
    WebhookRegistration registration;
    registration.url = "https://sync.example.com/api/crm/webhook";
    registration.events = {"lead.updated", "property.updated"};
    registration.secret = "whsec_abc";
    HttpRequest request;
    REQUIRE(BuildWebhookRegistration(mapping, registration, 0, &request).ok());
    CHECK(request.method == "POST");
    CHECK(request.path == "/api/v1/webhooks");
    CHECK(request.route == "webhooks.register");
    CHECK(request.content_type == "application/json");
    CHECK(
        request.body ==
        R"({"url":"https://sync.example.com/api/crm/webhook","events":["lead.updated","property.updated"],"secret":"whsec_abc"})");

    const Mapping minimal = LoadFixture("minimal.json");
    CHECK(BuildWebhookRegistration(minimal, registration, 0, &request).code() ==
          StatusCode::kPermanent);
  }

}  // TEST_SUITE
}  // namespace
}  // namespace crmsync::genericrest
