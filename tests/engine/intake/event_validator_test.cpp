// event_validator_test.cpp: ValidateEventsBody() against the envelope rules of
// docs/design.md §3 and §10: every rule with the exact JSON path and message it
// reports, batch limits, the JSON depth limit, default priorities, the
// coalescable flag per event type, and what a valid event carries to the store.
//
// Plain values only: no store, no network.
#include <doctest/doctest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <string>
#include <vector>

#include "crmsync/entities.h"
#include "intake/event_validator.h"
#include "queue/queue_types.h"

namespace crmsync::engine {
namespace {

const char kTypeList[] =
    "property.created, property.updated, lead.created, lead.status_changed, inquiry.submitted, "
    "dealer.assigned";
const char kLeadStatusList[] =
    "NEW, CONTACTED, QUALIFIED, VIEWING_SCHEDULED, VIEWED, NEGOTIATING, CONVERTED, LOST";
const char kIdMessage[] = "must be 1-128 characters of A-Z a-z 0-9 _ . : -";
const char kTimeMessage[] = "must be an ISO 8601 time such as 2026-11-23T10:15:00Z";
const char kClearMessage[] =
    "cannot be cleared (null); data is a patch: leave a field out to keep it unchanged";

// One envelope as JSON text; `extra` is spliced in as further members.
std::string Envelope(const std::string& event_id, const std::string& type, const std::string& data,
                     const std::string& extra = "") {
  std::string json = "{\"eventId\":\"" + event_id + "\",\"type\":\"" + type +
                     "\",\"occurredAt\":\"2026-11-23T10:15:00Z\",\"data\":" + data;
  if (!extra.empty()) json += "," + extra;
  return json + "}";
}

std::string Batch(const std::vector<std::string>& envelopes) {
  std::string json = "{\"events\":[";
  for (size_t i = 0; i < envelopes.size(); ++i) {
    if (i) json += ",";
    json += envelopes[i];
  }
  return json + "]}";
}

const char kLead[] = R"({"id":"L1","name":"Asha","email":"asha@example.com","status":"NEW"})";
const char kProperty[] = R"({"id":"P1","title":"2BHK","price":5500000,"status":"ACTIVE"})";
const char kInquiry[] =
    R"({"id":"Q1","leadId":"L1","propertyId":"P1","message":"Is it free?","lead":{"id":"L1","name":"Asha"}})";
const char kAssignment[] = R"({"leadId":"L1","dealerId":"D9","assignedAt":"2026-11-23T10:00:00Z"})";

std::string LeadWithStatus(const std::string& status) {
  return R"({"id":"L1","status":")" + status + "\"}";
}

// The errors as "path: message" lines, for readable failure output.
std::vector<std::string> Lines(const ValidationResult& r) {
  std::vector<std::string> lines;
  for (const FieldError& e : r.errors) lines.push_back(e.path + ": " + e.message);
  return lines;
}

std::string Joined(const ValidationResult& r) {
  std::string text;
  for (const std::string& line : Lines(r)) text += line + "\n";
  return text;
}

// Checks that `body` yields exactly one error, at `path` with `message`.
void ExpectOneError(const std::string& body, const std::string& path, const std::string& message,
                    bool unknown_type = false) {
  CAPTURE(body);
  ValidationResult r = ValidateEventsBody(body);
  INFO(Joined(r));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].path == path);
  CHECK(r.errors[0].message == message);
  CHECK(r.unknown_type == unknown_type);
  CHECK(r.events.empty());
}

// The single valid event of `body`.
IncomingEvent OneEvent(const std::string& body) {
  CAPTURE(body);
  ValidationResult r = ValidateEventsBody(body);
  INFO(Joined(r));
  REQUIRE(r.errors.empty());
  REQUIRE(r.events.size() == 1);
  return r.events[0];
}

// The patch an event carries, parsed.
Poco::JSON::Object::Ptr PatchOf(const IncomingEvent& e) {
  INFO("patch: ", e.entity_json);
  return Poco::JSON::Parser().parse(e.entity_json).extract<Poco::JSON::Object::Ptr>();
}

bool HasError(const ValidationResult& r, const std::string& path, const std::string& message) {
  for (const FieldError& e : r.errors) {
    if (e.path == path && e.message == message) return true;
  }
  return false;
}

}  // namespace

TEST_SUITE("engine.intake") {
  TEST_CASE("validator: a valid single envelope becomes one event") {
    IncomingEvent e = OneEvent(Envelope("evt-7f3c2a", "lead.created", kLead));
    CHECK(e.event_id == "evt-7f3c2a");
    CHECK(e.type == EventType::kLeadCreated);
    CHECK(e.kind == EntityKind::kLead);
    CHECK(e.entity_id == "L1");
    CHECK(e.occurred_at == "2026-11-23T10:15:00Z");
    CHECK(e.priority == Priority::kHigh);
    // The entity is stored in the codec's wire form.
    Lead lead;
    std::vector<FieldError> errors;
    REQUIRE(DecodeLead(e.entity_json, "$", &lead, &errors));
    CHECK(lead.email.value_or("") == "asha@example.com");
    CHECK(lead.status == LeadStatus::kNew);
  }

  TEST_CASE("validator: eventId missing, not a string, bad characters, too long") {
    ExpectOneError(
        R"({"type":"lead.created","occurredAt":"2026-11-23T10:15:00Z","data":{"id":"L1"}})",
        "$.eventId", "required");
    ExpectOneError(
        R"({"eventId":null,"type":"lead.created","occurredAt":"2026-11-23T10:15:00Z","data":{"id":"L1"}})",
        "$.eventId", "required");
    ExpectOneError(
        R"({"eventId":42,"type":"lead.created","occurredAt":"2026-11-23T10:15:00Z","data":{"id":"L1"}})",
        "$.eventId", "must be a string");
    ExpectOneError(Envelope("evt 1", "lead.created", kLead), "$.eventId", kIdMessage);
    ExpectOneError(Envelope("evt/1", "lead.created", kLead), "$.eventId", kIdMessage);
    ExpectOneError(Envelope("", "lead.created", kLead), "$.eventId", kIdMessage);
    ExpectOneError(Envelope(std::string(129, 'a'), "lead.created", kLead), "$.eventId", kIdMessage);
    // The edges that are allowed: 128 characters, and every permitted punctuation.
    CHECK(OneEvent(Envelope(std::string(128, 'a'), "lead.created", kLead)).event_id.size() == 128);
    CHECK(OneEvent(Envelope("A-z_0.9:x", "lead.created", kLead)).event_id == "A-z_0.9:x");
  }

  TEST_CASE("validator: type missing, not a string, unknown") {
    ExpectOneError(R"({"eventId":"e1","occurredAt":"2026-11-23T10:15:00Z","data":{"id":"L1"}})",
                   "$.type", "required");
    ExpectOneError(
        R"({"eventId":"e1","type":7,"occurredAt":"2026-11-23T10:15:00Z","data":{"id":"L1"}})",
        "$.type", "must be a string");
    ExpectOneError(Envelope("e1", "lead.deleted", kLead), "$.type",
                   std::string("unknown event type 'lead.deleted'; expected one of ") + kTypeList,
                   /*unknown_type=*/true);
  }

  TEST_CASE("validator: an unknown type beside a valid event still flags unknown_type") {
    ValidationResult r = ValidateEventsBody(
        Batch({Envelope("e1", "lead.created", kLead), Envelope("e2", "deal.won", kLead)}));
    CHECK(r.unknown_type);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].path == "$.events[1].type");
  }

  TEST_CASE("validator: occurredAt missing and malformed") {
    ExpectOneError(R"({"eventId":"e1","type":"lead.created","data":{"id":"L1"}})", "$.occurredAt",
                   "required");
    for (const char* bad : {"\"2026-11-23\"", "\"2026-11-23 10:15:00Z\"", "\"yesterday\"",
                            "\"2026-11-23T10:15:00\"", "1700000000"}) {
      ExpectOneError(std::string(R"({"eventId":"e1","type":"lead.created","occurredAt":)") + bad +
                         R"(,"data":{"id":"L1"}})",
                     "$.occurredAt", kTimeMessage);
    }
    for (const char* good : {"2026-11-23T10:15:00Z", "2026-11-23T10:15:00.123Z",
                             "2026-11-23T10:15:00+05:30", "2026-11-23T10:15:00.5-01:00"}) {
      CHECK(OneEvent(std::string(R"({"eventId":"e1","type":"lead.created","occurredAt":")") + good +
                     R"(","data":{"id":"L1"}})")
                .occurred_at == good);
    }
  }

  TEST_CASE("validator: priority must be high, medium or low") {
    ExpectOneError(Envelope("e1", "lead.created", kLead, R"("priority":"urgent")"), "$.priority",
                   "must be one of high, medium, low");
    ExpectOneError(Envelope("e1", "lead.created", kLead, R"("priority":1)"), "$.priority",
                   "must be one of high, medium, low");
    ExpectOneError(Envelope("e1", "lead.created", kLead, R"("priority":"HIGH")"), "$.priority",
                   "must be one of high, medium, low");
  }

  TEST_CASE("validator: default priorities per type, and an explicit priority overrides") {
    CHECK(OneEvent(Envelope("e1", "lead.created", kLead)).priority == Priority::kHigh);
    CHECK(OneEvent(Envelope("e1", "lead.status_changed", LeadWithStatus("CONTACTED"))).priority ==
          Priority::kHigh);
    CHECK(OneEvent(Envelope("e1", "inquiry.submitted", kInquiry)).priority == Priority::kHigh);
    CHECK(OneEvent(Envelope("e1", "dealer.assigned", kAssignment)).priority == Priority::kMedium);
    CHECK(OneEvent(Envelope("e1", "property.created", kProperty)).priority == Priority::kLow);
    CHECK(OneEvent(Envelope("e1", "property.updated", kProperty)).priority == Priority::kLow);

    CHECK(
        OneEvent(Envelope("e1", "property.updated", kProperty, R"("priority":"high")")).priority ==
        Priority::kHigh);
    CHECK(OneEvent(Envelope("e1", "lead.created", kLead, R"("priority":"low")")).priority ==
          Priority::kLow);
    CHECK(OneEvent(Envelope("e1", "dealer.assigned", kAssignment, R"("priority":"medium")"))
              .priority == Priority::kMedium);
    // null counts as absent: the default applies.
    CHECK(OneEvent(Envelope("e1", "property.created", kProperty, R"("priority":null)")).priority ==
          Priority::kLow);
  }

  TEST_CASE("validator: data missing or not an object") {
    ExpectOneError(R"({"eventId":"e1","type":"lead.created","occurredAt":"2026-11-23T10:15:00Z"})",
                   "$.data", "required");
    ExpectOneError(Envelope("e1", "lead.created", "null"), "$.data", "required");
    ExpectOneError(Envelope("e1", "lead.created", "\"L1\""), "$.data", "must be an object");
    ExpectOneError(Envelope("e1", "lead.created", "[{\"id\":\"L1\"}]"), "$.data",
                   "must be an object");
    ExpectOneError(Envelope("e1", "property.created", "5"), "$.data", "must be an object");
  }

  TEST_CASE("validator: lead fields are checked with their nested paths") {
    ExpectOneError(Envelope("e1", "lead.created", R"({"name":"Asha"})"), "$.data.id",
                   "is required");
    ExpectOneError(Envelope("e1", "lead.created", R"({"id":"L1","email":"not-an-email"})"),
                   "$.data.email", "must be an email address (name@domain.tld)");
    ExpectOneError(Envelope("e1", "lead.created", R"({"id":"L1","status":"WON"})"), "$.data.status",
                   std::string("must be one of ") + kLeadStatusList);
    ExpectOneError(Envelope("e1", "lead.created", R"({"id":"L1","budgetMin":"lots"})"),
                   "$.data.budgetMin", "must be a number");
    ExpectOneError(Envelope("e1", "lead.created", R"({"id":"L1","preferredLocation":["Pune",3]})"),
                   "$.data.preferredLocation[1]", "must be a string");
    ExpectOneError(
        Envelope("e1", "lead.created", R"({"id":"L1","name":")" + std::string(513, 'x') + "\"}"),
        "$.data.name", "must be at most 512 characters");
  }

  TEST_CASE("validator: lead errors inside a batch carry the element index") {
    ValidationResult r = ValidateEventsBody(Batch({
        Envelope("e0", "lead.created", kLead),
        Envelope("e1", "lead.created", R"({"id":"L2"})"),
        Envelope("e2", "lead.created", R"({"id":"L3","email":"nope"})"),
    }));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].path == "$.events[2].data.email");
    CHECK(r.errors[0].message == "must be an email address (name@domain.tld)");
    CHECK_FALSE(r.unknown_type);
  }

  TEST_CASE("validator: lead.status_changed needs data.status") {
    ExpectOneError(Envelope("e1", "lead.status_changed", R"({"id":"L1","name":"Asha"})"),
                   "$.data.status", "required for lead.status_changed");
    ExpectOneError(Envelope("e1", "lead.status_changed", R"({"id":"L1","status":null})"),
                   "$.data.status", kClearMessage);
    // A present but invalid status is reported once, as an invalid value.
    ExpectOneError(Envelope("e1", "lead.status_changed", R"({"id":"L1","status":"WON"})"),
                   "$.data.status", std::string("must be one of ") + kLeadStatusList);
    CHECK(OneEvent(Envelope("e1", "lead.status_changed", LeadWithStatus("LOST"))).type ==
          EventType::kLeadStatusChanged);
  }

  TEST_CASE("validator: a missing status is reported beside the lead's other errors") {
    ValidationResult r =
        ValidateEventsBody(Envelope("e1", "lead.status_changed", R"({"id":"L1","email":"nope"})"));
    INFO(Joined(r));
    CHECK(r.errors.size() == 2);
    CHECK(HasError(r, "$.data.email", "must be an email address (name@domain.tld)"));
    CHECK(HasError(r, "$.data.status", "required for lead.status_changed"));
  }

  TEST_CASE("validator: property fields are checked with their nested paths") {
    ExpectOneError(Envelope("e1", "property.created", R"({"title":"x"})"), "$.data.id",
                   "is required");
    ExpectOneError(Envelope("e1", "property.updated", R"({"id":"P1","price":-5})"), "$.data.price",
                   "must be a number >= 0");
    ExpectOneError(Envelope("e1", "property.updated", R"({"id":"P1","status":"RENTED"})"),
                   "$.data.status", "must be one of ACTIVE, INACTIVE, SOLD");
    ExpectOneError(Envelope("e1", "property.created", R"({"id":true})"), "$.data.id",
                   "must be a string or an integer");
  }

  TEST_CASE("validator: inquiry fields, the nested lead and its id") {
    ExpectOneError(Envelope("e1", "inquiry.submitted", R"({"id":"Q1","leadId":"L1"})"),
                   "$.data.lead", "is required");
    ExpectOneError(Envelope("e1", "inquiry.submitted", R"({"id":"Q1","leadId":"L1","lead":"L1"})"),
                   "$.data.lead", "must be an object");
    ExpectOneError(Envelope("e1", "inquiry.submitted", R"({"id":"Q1","lead":{"id":"L1"}})"),
                   "$.data.leadId", "is required");
    ExpectOneError(Envelope("e1", "inquiry.submitted",
                            R"({"id":"Q1","leadId":"L1","lead":{"id":"L1","email":"x@"}})"),
                   "$.data.lead.email", "must be an email address (name@domain.tld)");
    ExpectOneError(
        Envelope("e1", "inquiry.submitted", R"({"id":"Q1","leadId":"L1","lead":{"id":"L2"}})"),
        "$.data.lead.id", "must equal leadId");
    ValidationResult r = ValidateEventsBody(
        Batch({Envelope("e0", "lead.created", kLead),
               Envelope("e1", "inquiry.submitted", R"({"leadId":"L1","lead":{"id":"L1"}})")}));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].path == "$.events[1].data.id");
  }

  TEST_CASE("validator: dealer.assigned fields") {
    ExpectOneError(Envelope("e1", "dealer.assigned", R"({"leadId":"L1"})"), "$.data.dealerId",
                   "is required");
    ExpectOneError(Envelope("e1", "dealer.assigned", R"({"dealerId":"D1"})"), "$.data.leadId",
                   "is required");
    ExpectOneError(
        Envelope("e1", "dealer.assigned", R"({"leadId":"L1","dealerId":"D1","assignedAt":"now"})"),
        "$.data.assignedAt", "must be an ISO-8601 timestamp (YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm))");
  }

  TEST_CASE("validator: the events array: empty, not an array, too many, bad elements") {
    ExpectOneError(R"({"events":[]})", "$.events", "must hold at least one event");
    ExpectOneError(R"({"events":{"eventId":"e1"}})", "$.events",
                   "must be an array of event envelopes");
    ExpectOneError(R"({"events":"e1"})", "$.events", "must be an array of event envelopes");
    ExpectOneError(R"({"events":null})", "$.events", "must be an array of event envelopes");

    std::vector<std::string> many;
    for (size_t i = 0; i < kMaxEventsPerRequest + 1; ++i) {
      many.push_back(Envelope("e" + std::to_string(i), "lead.created", kLead));
    }
    ExpectOneError(Batch(many), "$.events", "holds 1001 events; at most 1000 per request");
    many.pop_back();
    ValidationResult full = ValidateEventsBody(Batch(many));
    CHECK(full.errors.empty());
    CHECK(full.events.size() == kMaxEventsPerRequest);

    ValidationResult r = ValidateEventsBody(
        R"({"events":[)" + Envelope("e0", "lead.created", kLead) + R"(,"e1",7,null,[]]})");
    REQUIRE(r.errors.size() == 4);
    for (size_t i = 0; i < 4; ++i) {
      CHECK(r.errors[i].path == "$.events[" + std::to_string(i + 1) + "]");
      CHECK(r.errors[i].message == "must be an event envelope object");
    }
  }

  TEST_CASE("validator: a body that is not JSON, or not an object") {
    for (const char* body : {"", "{", "not json", "{\"eventId\":\"e1\",}", "\x01\x02"}) {
      CAPTURE(body);
      ValidationResult r = ValidateEventsBody(body);
      REQUIRE(r.errors.size() == 1);
      CHECK(r.errors[0].path == "$");
      CHECK(r.errors[0].message.rfind("not valid JSON (or nested deeper than 32): ", 0) == 0);
      CHECK(r.events.empty());
    }
    for (const char* body : {"[]", "[{\"eventId\":\"e1\"}]"}) {
      ExpectOneError(body, "$", "must be an event envelope or {\"events\": [...]}");
    }
    // Poco 1.11's parser refuses a scalar at the root; either way the answer is
    // one error at "$".
    for (const char* body : {"\"text\"", "42", "null", "true"}) {
      CAPTURE(body);
      ValidationResult r = ValidateEventsBody(body);
      REQUIRE(r.errors.size() == 1);
      CHECK(r.errors[0].path == "$");
      CHECK(r.events.empty());
    }
  }

  TEST_CASE("validator: JSON nested deeper than kMaxJsonDepth is refused") {
    // The envelope is level 1 and data level 2; "extra" (ignored by the codec)
    // nests arrays below that.
    auto nested = [](size_t total_depth) {
      size_t arrays = total_depth - 2;
      std::string extra = std::string(arrays, '[') + std::string(arrays, ']');
      return Envelope("e1", "lead.created", R"({"id":"L1","extra":)" + extra + "}");
    };
    CHECK(OneEvent(nested(kMaxJsonDepth)).entity_id == "L1");
    ValidationResult r = ValidateEventsBody(nested(kMaxJsonDepth + 1));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].path == "$");
    CHECK(r.errors[0].message.find("nested deeper than 32") != std::string::npos);

    std::string deep = std::string(5000, '[') + std::string(5000, ']');
    ValidationResult very_deep = ValidateEventsBody(deep);
    REQUIRE(very_deep.errors.size() == 1);
    CHECK(very_deep.errors[0].path == "$");
  }

  TEST_CASE("validator: every error of a batch is reported together") {
    ValidationResult r = ValidateEventsBody(Batch({
        R"({"type":"lead.created","occurredAt":"bad","data":{"id":"L1"},"priority":"asap"})",
        Envelope("ok-1", "lead.created", kLead),
        Envelope("e 2", "property.created", R"({"price":"free"})"),
        "42",
        Envelope("e4", "dealer.assigned", "{}"),
    }));
    std::vector<std::string> expected = {
        "$.events[0].eventId: required",
        std::string("$.events[0].occurredAt: ") + kTimeMessage,
        "$.events[0].priority: must be one of high, medium, low",
        std::string("$.events[2].eventId: ") + kIdMessage,
        "$.events[2].data.id: is required",
        "$.events[2].data.price: must be a number",
        "$.events[3]: must be an event envelope object",
        "$.events[4].data.leadId: is required",
        "$.events[4].data.dealerId: is required",
    };
    CHECK(Lines(r) == expected);
    CHECK_FALSE(r.unknown_type);
    // The valid element is kept, but events is complete only without errors.
    CHECK(r.events.size() == 1);
  }

  TEST_CASE("validator: one envelope with several bad fields reports them all") {
    ValidationResult r = ValidateEventsBody(
        R"({"eventId":"","type":"x.y","occurredAt":3,"priority":"now","data":[]})");
    std::vector<std::string> expected = {
        std::string("$.eventId: ") + kIdMessage,
        std::string("$.type: unknown event type 'x.y'; expected one of ") + kTypeList,
        std::string("$.occurredAt: ") + kTimeMessage,
        "$.priority: must be one of high, medium, low",
        "$.data: must be an object",
    };
    CHECK(Lines(r) == expected);
    CHECK(r.unknown_type);
  }

  TEST_CASE("validator: coalescable flags per event type and lead status") {
    CHECK(OneEvent(Envelope("e1", "property.created", kProperty)).coalescable);
    CHECK(OneEvent(Envelope("e1", "property.updated", kProperty)).coalescable);
    CHECK(OneEvent(Envelope("e1", "lead.created", kLead)).coalescable);
    CHECK(OneEvent(Envelope("e1", "lead.created", LeadWithStatus("CONVERTED"))).coalescable);
    CHECK(OneEvent(Envelope("e1", "dealer.assigned", kAssignment)).coalescable);
    CHECK_FALSE(OneEvent(Envelope("e1", "inquiry.submitted", kInquiry)).coalescable);
    for (const char* status : {"NEW", "CONTACTED", "QUALIFIED", "NEGOTIATING", "LOST"}) {
      CAPTURE(status);
      CHECK(OneEvent(Envelope("e1", "lead.status_changed", LeadWithStatus(status))).coalescable);
    }
    for (const char* status : {"VIEWED", "VIEWING_SCHEDULED", "CONVERTED"}) {
      CAPTURE(status);
      CHECK_FALSE(
          OneEvent(Envelope("e1", "lead.status_changed", LeadWithStatus(status))).coalescable);
    }
  }

  TEST_CASE("validator: property events carry the property") {
    IncomingEvent e = OneEvent(Envelope("p-1", "property.updated", kProperty));
    CHECK(e.kind == EntityKind::kProperty);
    CHECK(e.entity_id == "P1");
    Property property;
    std::vector<FieldError> errors;
    REQUIRE(DecodeProperty(e.entity_json, "$", &property, &errors));
    CHECK(property.price.value_or(0) == doctest::Approx(5500000));
    CHECK(property.status == PropertyStatus::kActive);
    CHECK_FALSE(e.assignment.has_value());
    CHECK(e.inquiry_id.empty());
  }

  TEST_CASE("validator: an inquiry's entity is its lead, keyed by leadId") {
    IncomingEvent e = OneEvent(Envelope("q-1", "inquiry.submitted", kInquiry));
    CHECK(e.type == EventType::kInquirySubmitted);
    CHECK(e.kind == EntityKind::kLead);
    CHECK(e.entity_id == "L1");
    CHECK(e.inquiry_id == "Q1");
    Lead lead;
    std::vector<FieldError> errors;
    REQUIRE(DecodeLead(e.entity_json, "$", &lead, &errors));
    CHECK(lead.id == "L1");
    CHECK(lead.name.value_or("") == "Asha");
    Inquiry inquiry;
    REQUIRE(DecodeInquiry(e.inquiry_json, "$", &inquiry, &errors));
    CHECK(inquiry.id == "Q1");
    CHECK(inquiry.lead_id == "L1");
    CHECK(inquiry.message.value_or("") == "Is it free?");
    // Numeric ids are accepted and read as text.
    IncomingEvent numeric =
        OneEvent(Envelope("q-2", "inquiry.submitted", R"({"id":5,"leadId":77,"lead":{"id":77}})"));
    CHECK(numeric.entity_id == "77");
    CHECK(numeric.inquiry_id == "5");
  }

  TEST_CASE("validator: dealer.assigned carries the assignment and keys on the lead") {
    IncomingEvent e = OneEvent(Envelope("d-1", "dealer.assigned", kAssignment));
    CHECK(e.type == EventType::kDealerAssigned);
    CHECK(e.kind == EntityKind::kLead);
    CHECK(e.entity_id == "L1");
    REQUIRE(e.assignment.has_value());
    CHECK(e.assignment->lead_id == "L1");
    CHECK(e.assignment->dealer_id == "D9");
    CHECK(e.assignment->assigned_at.value_or("") == "2026-11-23T10:00:00Z");
    // A patch of the lead: its id and the assignee; the rest comes from the mirror.
    Poco::JSON::Object::Ptr patch = PatchOf(e);
    CHECK(patch->size() == 2);
    CHECK(patch->getValue<std::string>("id") == "L1");
    CHECK(patch->getValue<std::string>("assignedToId") == "D9");
  }

  TEST_CASE("validator: minimal events of every type are accepted as patches of their entity") {
    // Only the id and what the type is about: the rest of the entity is unchanged.
    IncomingEvent status =
        OneEvent(Envelope("m-1", "lead.status_changed", R"({"id":"42","status":"CONTACTED"})"));
    Poco::JSON::Object::Ptr patch = PatchOf(status);
    CHECK(patch->size() == 2);
    CHECK(patch->getValue<std::string>("id") == "42");
    CHECK(patch->getValue<std::string>("status") == "CONTACTED");
    CHECK(status.entity_id == "42");

    CHECK(PatchOf(OneEvent(Envelope("m-2", "lead.created", R"({"id":7})")))->size() == 1);
    CHECK(PatchOf(OneEvent(Envelope("m-3", "property.created", R"({"id":"P1"})")))->size() == 1);
    Poco::JSON::Object::Ptr price =
        PatchOf(OneEvent(Envelope("m-4", "property.updated", R"({"id":"P1","price":4900000})")));
    CHECK(price->size() == 2);
    CHECK(price->getValue<double>("price") == doctest::Approx(4900000));
    IncomingEvent inquiry = OneEvent(
        Envelope("m-5", "inquiry.submitted", R"({"id":"Q1","leadId":"L1","lead":{"id":"L1"}})"));
    CHECK(PatchOf(inquiry)->size() == 1);
    CHECK(inquiry.inquiry_id == "Q1");
    CHECK(
        PatchOf(OneEvent(Envelope("m-6", "dealer.assigned", R"({"leadId":"L1","dealerId":"D1"})")))
            ->getValue<std::string>("assignedToId") == "D1");
    // Where the event's data sits in the request, to name a field later.
    CHECK(status.data_path == "$.data");
    ValidationResult batch = ValidateEventsBody(
        Batch({Envelope("m-7", "lead.created", kLead), Envelope("m-8", "lead.created", kLead)}));
    REQUIRE(batch.events.size() == 2);
    CHECK(batch.events[1].data_path == "$.events[1].data");
  }

  TEST_CASE("validator: a patch keeps null to clear, a whole list, and drops unknown fields") {
    IncomingEvent e = OneEvent(Envelope(
        "c-1", "lead.created",
        R"({"id":"L1","notes":null,"budgetMin":null,"preferredLocation":["Baner"],"nickname":"x","fax":null})"));
    Poco::JSON::Object::Ptr patch = PatchOf(e);
    CHECK(patch->size() == 4);
    CHECK(patch->isNull("notes"));
    CHECK(patch->isNull("budgetMin"));
    REQUIRE(patch->getArray("preferredLocation"));
    CHECK(patch->getArray("preferredLocation")->size() == 1);
    CHECK_FALSE(patch->has("nickname"));
    CHECK_FALSE(patch->has("fax"));
    // An empty list replaces the list: it stays in the patch.
    Poco::JSON::Object::Ptr empty =
        PatchOf(OneEvent(Envelope("c-2", "lead.created", R"({"id":"L1","preferredLocation":[]})")));
    REQUIRE(empty->getArray("preferredLocation"));
    CHECK(empty->getArray("preferredLocation")->size() == 0);
    // Ids in their text form, as the codec reads them.
    CHECK(PatchOf(OneEvent(Envelope("c-3", "lead.created", R"({"id":42,"propertyId":9})")))
              ->getValue<std::string>("propertyId") == "9");
    CHECK(PatchOf(OneEvent(Envelope("c-4", "property.updated", R"({"id":"P1","city":null})")))
              ->isNull("city"));
  }

  TEST_CASE("validator: null where a field cannot be cleared is refused at its path") {
    ExpectOneError(Envelope("n-1", "lead.created", R"({"id":null,"name":"Asha"})"), "$.data.id",
                   kClearMessage);
    ExpectOneError(Envelope("n-2", "lead.created", R"({"id":"L1","status":null})"), "$.data.status",
                   kClearMessage);
    ExpectOneError(Envelope("n-3", "property.updated", R"({"id":null})"), "$.data.id",
                   kClearMessage);
    ExpectOneError(Envelope("n-4", "property.updated", R"({"id":"P1","status":null})"),
                   "$.data.status", kClearMessage);
    ExpectOneError(Envelope("n-5", "dealer.assigned", R"({"leadId":"L1","dealerId":null})"),
                   "$.data.dealerId", kClearMessage);
    ExpectOneError(Envelope("n-6", "dealer.assigned", R"({"leadId":null,"dealerId":"D1"})"),
                   "$.data.leadId", kClearMessage);
    ExpectOneError(Envelope("n-7", "inquiry.submitted", R"({"id":"Q1","leadId":"L1","lead":null})"),
                   "$.data.lead", kClearMessage);
    ExpectOneError(Envelope("n-8", "inquiry.submitted",
                            R"({"id":"Q1","leadId":"L1","lead":{"id":"L1","status":null}})"),
                   "$.data.lead.status", kClearMessage);
    ValidationResult r = ValidateEventsBody(
        Batch({Envelope("n-9", "lead.created", kLead),
               Envelope("n-10", "lead.status_changed", R"({"id":null,"status":"LOST"})")}));
    INFO(Joined(r));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].path == "$.events[1].data.id");
    CHECK(r.errors[0].message == kClearMessage);
  }

  TEST_CASE("validator: a minimal event without what its type is about names the missing path") {
    ExpectOneError(Envelope("r-1", "lead.status_changed", R"({"id":"42"})"), "$.data.status",
                   "required for lead.status_changed");
    ExpectOneError(Envelope("r-2", "lead.status_changed", R"({"status":"LOST"})"), "$.data.id",
                   "is required");
    ExpectOneError(Envelope("r-3", "property.updated", R"({"price":5})"), "$.data.id",
                   "is required");
    ExpectOneError(Envelope("r-4", "lead.created", R"({"name":"Asha"})"), "$.data.id",
                   "is required");
    ExpectOneError(Envelope("r-5", "dealer.assigned", R"({"leadId":"L1"})"), "$.data.dealerId",
                   "is required");
    ExpectOneError(Envelope("r-6", "inquiry.submitted", R"({"id":"Q1","leadId":"L1","lead":{}})"),
                   "$.data.lead.id", "is required");
  }

  TEST_CASE("validator: a valid batch keeps its order") {
    ValidationResult r = ValidateEventsBody(Batch({
        Envelope("b-0", "property.created", kProperty),
        Envelope("b-1", "lead.created", kLead),
        Envelope("b-2", "inquiry.submitted", kInquiry),
        Envelope("b-3", "dealer.assigned", kAssignment),
        Envelope("b-4", "lead.status_changed", LeadWithStatus("VIEWED")),
    }));
    REQUIRE(r.errors.empty());
    REQUIRE(r.events.size() == 5);
    for (size_t i = 0; i < 5; ++i) CHECK(r.events[i].event_id == "b-" + std::to_string(i));
    CHECK(r.events[0].type == EventType::kPropertyCreated);
    CHECK(r.events[4].type == EventType::kLeadStatusChanged);
    CHECK_FALSE(r.unknown_type);
  }

}  // TEST_SUITE

}  // namespace crmsync::engine
