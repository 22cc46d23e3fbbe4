// Tests for the entity names and the JSON codec (crmsync/entities.h): round
// trips for all four entities, and every validation rule with its JSON path.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "crmsync/entities.h"

namespace crmsync {
namespace {

std::vector<std::string> Paths(const std::vector<FieldError>& errors) {
  std::vector<std::string> paths;
  for (const auto& e : errors) paths.push_back(e.path);
  return paths;
}

bool HasPath(const std::vector<FieldError>& errors, const std::string& path) {
  auto paths = Paths(errors);
  return std::find(paths.begin(), paths.end(), path) != paths.end();
}

// Decodes a lead and returns its error paths.
std::vector<std::string> LeadErrors(const std::string& json) {
  Lead lead;
  std::vector<FieldError> errors;
  bool ok = DecodeLead(json, "$.data", &lead, &errors);
  CHECK(ok == errors.empty());
  return Paths(errors);
}

std::vector<std::string> One(const std::string& path) { return {path}; }

const char* kFullLead =
    R"({"id":"lead-42","name":"Asha Rao","email":"asha@example.com","phone":"+91 (98) 765-43210",)"
    R"("source":"website","status":"VIEWING_SCHEDULED","propertyId":"p-7","assignedToId":"agent-1",)"
    R"("budgetMin":5000000,"budgetMax":7500000.5,"preferredLocation":["Whitefield","Indiranagar"],)"
    R"("utmSource":"google","notes":"Wants \"east\" facing\nhouse","createdAt":"2026-11-23T10:15:00Z",)"
    R"("updatedAt":"2026-11-23T10:15:00.123+05:30","lostReason":"n/a"})";

TEST_SUITE("sdk") {
  TEST_CASE("entities: event type, entity kind and status names round-trip") {
    CHECK(AllEventTypes().size() == 6);
    for (EventType type : AllEventTypes()) {
      EventType parsed = EventType::kLeadCreated;
      REQUIRE(ParseEventType(EventTypeName(type), &parsed));
      CHECK(parsed == type);
    }
    CHECK(std::string(EventTypeName(EventType::kLeadStatusChanged)) == "lead.status_changed");
    EventType type = EventType::kLeadCreated;
    CHECK_FALSE(ParseEventType("lead.deleted", &type));
    CHECK_FALSE(ParseEventType("LEAD.CREATED", &type));

    CHECK(EntityKindOf(EventType::kPropertyCreated) == EntityKind::kProperty);
    CHECK(EntityKindOf(EventType::kPropertyUpdated) == EntityKind::kProperty);
    CHECK(EntityKindOf(EventType::kLeadCreated) == EntityKind::kLead);
    CHECK(EntityKindOf(EventType::kLeadStatusChanged) == EntityKind::kLead);
    CHECK(EntityKindOf(EventType::kInquirySubmitted) == EntityKind::kLead);
    CHECK(EntityKindOf(EventType::kDealerAssigned) == EntityKind::kLead);
    EntityKind kind = EntityKind::kLead;
    CHECK(ParseEntityKind("property", &kind));
    CHECK(kind == EntityKind::kProperty);
    CHECK(std::string(EntityKindName(EntityKind::kLead)) == "lead");
    CHECK_FALSE(ParseEntityKind("deal", &kind));

    CHECK(AllLeadStatuses().size() == 8);
    for (LeadStatus status : AllLeadStatuses()) {
      LeadStatus parsed = LeadStatus::kNew;
      REQUIRE(ParseLeadStatus(LeadStatusName(status), &parsed));
      CHECK(parsed == status);
    }
    LeadStatus status = LeadStatus::kNew;
    CHECK_FALSE(ParseLeadStatus("converted", &status));
    CHECK(std::string(LeadStatusName(LeadStatus::kViewingScheduled)) == "VIEWING_SCHEDULED");
    PropertyStatus ps = PropertyStatus::kActive;
    CHECK(ParsePropertyStatus("SOLD", &ps));
    CHECK(ps == PropertyStatus::kSold);
    CHECK_FALSE(ParsePropertyStatus("Sold", &ps));
  }

  TEST_CASE("entities: a full lead decodes and round-trips") {
    Lead lead;
    std::vector<FieldError> errors;
    REQUIRE(DecodeLead(kFullLead, "$.data", &lead, &errors));
    CHECK(errors.empty());
    CHECK(lead.id == "lead-42");
    CHECK(lead.name == "Asha Rao");
    CHECK(lead.status == LeadStatus::kViewingScheduled);
    CHECK(lead.budget_min == 5000000.0);
    CHECK(lead.budget_max == 7500000.5);
    CHECK(lead.preferred_location == std::vector<std::string>{"Whitefield", "Indiranagar"});
    CHECK(lead.notes == "Wants \"east\" facing\nhouse");
    CHECK(lead.updated_at == "2026-11-23T10:15:00.123+05:30");

    std::string encoded = EncodeLead(lead);
    CHECK(encoded.find("\"budgetMin\":5000000,") != std::string::npos);
    CHECK(encoded.find("\"budgetMax\":7500000.5,") != std::string::npos);
    CHECK(encoded.find(' ' + std::string("\"")) == std::string::npos);  // compact
    Lead again;
    REQUIRE(DecodeLead(encoded, "$", &again, &errors));
    CHECK(EncodeLead(again) == encoded);
    CHECK(again.phone == lead.phone);
    CHECK(again.lost_reason == "n/a");
  }

  TEST_CASE("entities: a minimal lead encodes only its id, integer ids become strings") {
    Lead lead;
    std::vector<FieldError> errors;
    REQUIRE(DecodeLead(R"({"id":42,"name":null,"unknown":{"x":1}})", "$.data", &lead, &errors));
    CHECK(lead.id == "42");
    CHECK_FALSE(lead.name.has_value());
    CHECK(EncodeLead(lead) == R"({"id":"42"})");
  }

  TEST_CASE("entities: property round-trip") {
    const char* json =
        R"({"id":"p-1","title":"3BHK","price":12500000,"city":"Pune","locality":"Baner",)"
        R"("status":"ACTIVE","ownerId":9,"dealerId":"d-3","updatedAt":"2026-01-02T03:04:05Z"})";
    Property property;
    std::vector<FieldError> errors;
    REQUIRE(DecodeProperty(json, "$.data", &property, &errors));
    CHECK(property.status == PropertyStatus::kActive);
    CHECK(property.owner_id == "9");
    CHECK(property.price == 12500000.0);
    std::string encoded = EncodeProperty(property);
    CHECK(
        encoded ==
        R"({"id":"p-1","title":"3BHK","price":12500000,"city":"Pune","locality":"Baner",)"
        R"("status":"ACTIVE","ownerId":"9","dealerId":"d-3","updatedAt":"2026-01-02T03:04:05Z"})");
    Property again;
    REQUIRE(DecodeProperty(encoded, "$", &again, &errors));
    CHECK(EncodeProperty(again) == encoded);
  }

  TEST_CASE("entities: inquiry round-trip carries the lead") {
    std::string json =
        std::string(R"({"id":"i-1","leadId":"lead-42","propertyId":"p-7",)") +
        R"("message":"Is it available?","createdAt":"2026-11-23T10:15:00Z","lead":)" + kFullLead +
        "}";
    Inquiry inquiry;
    std::vector<FieldError> errors;
    REQUIRE(DecodeInquiry(json, "$.data", &inquiry, &errors));
    CHECK(inquiry.lead.id == "lead-42");
    CHECK(inquiry.lead.email == "asha@example.com");
    std::string encoded = EncodeInquiry(inquiry);
    Inquiry again;
    REQUIRE(DecodeInquiry(encoded, "$", &again, &errors));
    CHECK(EncodeInquiry(again) == encoded);
    CHECK(again.message == "Is it available?");
  }

  TEST_CASE("entities: dealer assignment round-trip") {
    DealerAssignment assignment;
    std::vector<FieldError> errors;
    REQUIRE(DecodeDealerAssignment(
        R"({"leadId":"lead-42","dealerId":17,"assignedAt":"2026-11-23T10:15:00-04:00"})", "$.data",
        &assignment, &errors));
    CHECK(assignment.dealer_id == "17");
    std::string encoded = EncodeDealerAssignment(assignment);
    CHECK(encoded ==
          R"({"leadId":"lead-42","dealerId":"17","assignedAt":"2026-11-23T10:15:00-04:00"})");
    DealerAssignment bare;
    bare.lead_id = "l";
    bare.dealer_id = "d";
    CHECK(EncodeDealerAssignment(bare) == R"({"leadId":"l","dealerId":"d"})");
  }

  TEST_CASE("entities: encoders escape strings and keep fractions") {
    Lead lead;
    lead.id = "a\"b\\c";
    lead.notes = std::string("tab\tctl\x01");
    lead.budget_min = 0.1;
    lead.budget_max = 1e20;
    std::string encoded = EncodeLead(lead);
    CHECK(encoded ==
          R"({"id":"a\"b\\c","budgetMin":0.1,"budgetMax":1e+20,"notes":"tab\tctl\u0001"})");
    Lead again;
    std::vector<FieldError> errors;
    REQUIRE(DecodeLead(encoded, "$", &again, &errors));
    CHECK(again.id == lead.id);
    CHECK(again.notes == lead.notes);
    CHECK(again.budget_max == 1e20);
  }

  TEST_CASE("entities: id rules") {
    CHECK(LeadErrors(R"({})") == One("$.data.id"));
    CHECK(LeadErrors(R"({"id":null})") == One("$.data.id"));
    CHECK(LeadErrors(R"({"id":""})") == One("$.data.id"));
    CHECK(LeadErrors(R"({"id":true})") == One("$.data.id"));
    CHECK(LeadErrors(R"({"id":1.5})") == One("$.data.id"));
    CHECK(LeadErrors(R"({"id":["x"]})") == One("$.data.id"));
    CHECK(LeadErrors("{\"id\":\"" + std::string(kMaxIdLength, 'a') + "\"}").empty());
    CHECK(LeadErrors("{\"id\":\"" + std::string(kMaxIdLength + 1, 'a') + "\"}") ==
          One("$.data.id"));
    CHECK(LeadErrors(R"({"id":"x","propertyId":""})") == One("$.data.propertyId"));
    CHECK(LeadErrors(R"({"id":"x","assignedToId":false})") == One("$.data.assignedToId"));
  }

  TEST_CASE("entities: string types and lengths") {
    CHECK(LeadErrors(R"({"id":"x","name":5})") == One("$.data.name"));
    CHECK(LeadErrors(R"({"id":"x","source":{}})") == One("$.data.source"));
    CHECK(LeadErrors(R"({"id":"x","utmSource":["a"]})") == One("$.data.utmSource"));
    CHECK(
        LeadErrors("{\"id\":\"x\",\"name\":\"" + std::string(kMaxShortText, 'n') + "\"}").empty());
    CHECK(LeadErrors("{\"id\":\"x\",\"name\":\"" + std::string(kMaxShortText + 1, 'n') + "\"}") ==
          One("$.data.name"));
    CHECK(
        LeadErrors("{\"id\":\"x\",\"notes\":\"" + std::string(kMaxLongText, 'n') + "\"}").empty());
    CHECK(LeadErrors("{\"id\":\"x\",\"notes\":\"" + std::string(kMaxLongText + 1, 'n') + "\"}") ==
          One("$.data.notes"));
  }

  TEST_CASE("entities: email and phone shapes") {
    for (const char* good : {"a@b.co", "first.last+tag@mail.example.org"}) {
      CAPTURE(good);
      CHECK(LeadErrors(std::string(R"({"id":"x","email":")") + good + "\"}").empty());
    }
    for (const char* bad : {"", "plain", "@example.com", "a@b", "a@b.c", "a@@b.com", "a b@c.com",
                            "a@.com", "a@b..com"}) {
      CAPTURE(bad);
      CHECK(LeadErrors(std::string(R"({"id":"x","email":")") + bad + "\"}") == One("$.data.email"));
    }
    for (const char* good : {"12345", "+91 98765-43210", "(020) 555 0100"}) {
      CAPTURE(good);
      CHECK(LeadErrors(std::string(R"({"id":"x","phone":")") + good + "\"}").empty());
    }
    for (const char* bad :
         {"1234", "12345x", "call me", "+1.555.0100", "123456789012345678901234567890123"}) {
      CAPTURE(bad);
      CHECK(LeadErrors(std::string(R"({"id":"x","phone":")") + bad + "\"}") == One("$.data.phone"));
    }
    CHECK(LeadErrors(R"({"id":"x","phone":5551234})") == One("$.data.phone"));
  }

  TEST_CASE("entities: status enums are exact") {
    CHECK(LeadErrors(R"({"id":"x","status":"NEW"})").empty());
    CHECK(LeadErrors(R"({"id":"x","status":"new"})") == One("$.data.status"));
    CHECK(LeadErrors(R"({"id":"x","status":"WON"})") == One("$.data.status"));
    CHECK(LeadErrors(R"({"id":"x","status":3})") == One("$.data.status"));
    Property property;
    std::vector<FieldError> errors;
    CHECK_FALSE(DecodeProperty(R"({"id":"p","status":"active"})", "$.data", &property, &errors));
    CHECK(Paths(errors) == One("$.data.status"));
  }

  TEST_CASE("entities: amounts are numbers >= 0 and budgetMin <= budgetMax") {
    CHECK(LeadErrors(R"({"id":"x","budgetMin":0,"budgetMax":0})").empty());
    CHECK(LeadErrors(R"({"id":"x","budgetMin":"100"})") == One("$.data.budgetMin"));
    CHECK(LeadErrors(R"({"id":"x","budgetMax":-1})") == One("$.data.budgetMax"));
    CHECK(LeadErrors(R"({"id":"x","budgetMax":true})") == One("$.data.budgetMax"));
    CHECK(LeadErrors(R"({"id":"x","budgetMin":10,"budgetMax":9.5})") == One("$.data.budgetMin"));
    CHECK(LeadErrors(R"({"id":"x","budgetMin":null,"budgetMax":9.5})").empty());
    Property property;
    std::vector<FieldError> errors;
    CHECK_FALSE(DecodeProperty(R"({"id":"p","price":-0.5})", "$.data", &property, &errors));
    CHECK(Paths(errors) == One("$.data.price"));
  }

  TEST_CASE("entities: preferredLocation is an array of strings, items reported by index") {
    CHECK(LeadErrors(R"({"id":"x","preferredLocation":[]})").empty());
    CHECK(LeadErrors(R"({"id":"x","preferredLocation":"Pune"})") ==
          One("$.data.preferredLocation"));
    CHECK(LeadErrors(R"({"id":"x","preferredLocation":["a","b",3,null]})") ==
          std::vector<std::string>{"$.data.preferredLocation[2]", "$.data.preferredLocation[3]"});
    CHECK(LeadErrors("{\"id\":\"x\",\"preferredLocation\":[\"" +
                     std::string(kMaxShortText + 1, 'z') + "\"]}") ==
          One("$.data.preferredLocation[0]"));
  }

  TEST_CASE("entities: timestamps are ISO-8601") {
    for (const char* good : {"2026-11-23T10:15:00Z", "2026-11-23T10:15:00.5Z",
                             "2026-11-23T10:15:00+05:30", "2026-11-23T10:15:00.123456-08:00"}) {
      CAPTURE(good);
      CHECK(LeadErrors(std::string(R"({"id":"x","createdAt":")") + good + "\"}").empty());
    }
    for (const char* bad : {"2026-11-23", "2026-11-23 10:15:00Z", "2026-11-23T10:15:00",
                            "2026-13-23T10:15:00Z", "2026-11-23T25:15:00Z", "2026-11-23T10:15:00.Z",
                            "2026-11-23T10:15:00+0530", "yesterday", "2026-11-23t10:15:00z"}) {
      CAPTURE(bad);
      CHECK(LeadErrors(std::string(R"({"id":"x","updatedAt":")") + bad + "\"}") ==
            One("$.data.updatedAt"));
    }
    CHECK(LeadErrors(R"({"id":"x","createdAt":1700000000})") == One("$.data.createdAt"));
    DealerAssignment assignment;
    std::vector<FieldError> errors;
    CHECK_FALSE(DecodeDealerAssignment(R"({"leadId":"l","dealerId":"d","assignedAt":"now"})",
                                       "$.data", &assignment, &errors));
    CHECK(Paths(errors) == One("$.data.assignedAt"));
  }

  TEST_CASE("entities: every bad field is reported together") {
    auto paths =
        LeadErrors(R"({"id":"","name":1,"email":"nope","phone":"x","status":"OPEN","budgetMin":-1,)"
                   R"("preferredLocation":[1],"notes":false,"createdAt":"then","lostReason":7})");
    CHECK(paths == std::vector<std::string>{"$.data.id", "$.data.name", "$.data.email",
                                            "$.data.phone", "$.data.status", "$.data.budgetMin",
                                            "$.data.preferredLocation[0]", "$.data.notes",
                                            "$.data.createdAt", "$.data.lostReason"});
  }

  TEST_CASE("entities: errors are appended after existing ones, with the given prefix") {
    std::vector<FieldError> errors = {{"$.events[0].data.id", "is required"}};
    Lead lead;
    CHECK_FALSE(DecodeLead(R"({"id":"x","email":"bad"})", "$.events[3].data", &lead, &errors));
    REQUIRE(errors.size() == 2);
    CHECK(errors[1].path == "$.events[3].data.email");
    CHECK_FALSE(errors[1].message.empty());
    // A decode with no new problem succeeds even when the list already held one.
    CHECK(DecodeLead(R"({"id":"y"})", "$.events[4].data", &lead, &errors));
    CHECK(errors.size() == 2);
  }

  TEST_CASE("entities: malformed JSON or a non-object gives one error at the prefix") {
    for (const char* bad : {"", "{", "[1,2]", "\"text\"", "42", "null", "{\"id\":\"x\",}"}) {
      CAPTURE(bad);
      CHECK(LeadErrors(bad) == One("$.data"));
      Property property;
      std::vector<FieldError> errors;
      CHECK_FALSE(DecodeProperty(bad, "$.data", &property, &errors));
      CHECK(Paths(errors) == One("$.data"));
    }
  }

  TEST_CASE("entities: inquiry rules: ids, lead required and consistent, nested paths") {
    Inquiry inquiry;
    std::vector<FieldError> errors;
    CHECK_FALSE(DecodeInquiry(R"({"message":7})", "$.data", &inquiry, &errors));
    CHECK(Paths(errors) ==
          std::vector<std::string>{"$.data.id", "$.data.leadId", "$.data.message", "$.data.lead"});

    errors.clear();
    CHECK_FALSE(
        DecodeInquiry(R"({"id":"i","leadId":"l","lead":"l"})", "$.data", &inquiry, &errors));
    CHECK(Paths(errors) == One("$.data.lead"));

    errors.clear();
    CHECK_FALSE(DecodeInquiry(R"({"id":"i","leadId":"l","lead":{"id":"other"}})", "$.data",
                              &inquiry, &errors));
    CHECK(Paths(errors) == One("$.data.lead.id"));

    errors.clear();
    CHECK_FALSE(DecodeInquiry(R"({"id":"i","leadId":"l","lead":{"id":"l","status":"DONE"}})",
                              "$.data", &inquiry, &errors));
    CHECK(Paths(errors) == One("$.data.lead.status"));

    errors.clear();
    CHECK(DecodeInquiry(R"({"id":"i","leadId":7,"lead":{"id":7}})", "$.data", &inquiry, &errors));
    CHECK(inquiry.lead_id == "7");
  }

  TEST_CASE("entities: dealer assignment requires leadId and dealerId") {
    DealerAssignment assignment;
    std::vector<FieldError> errors;
    CHECK_FALSE(
        DecodeDealerAssignment(R"({"leadId":null,"dealerId":{}})", "$.data", &assignment, &errors));
    CHECK(Paths(errors) == std::vector<std::string>{"$.data.leadId", "$.data.dealerId"});
    CHECK(HasPath(errors, "$.data.dealerId"));
  }
}

}  // namespace
}  // namespace crmsync
