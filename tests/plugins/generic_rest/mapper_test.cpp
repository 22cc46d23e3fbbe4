// mapper_test.cpp: the generic-rest-crm mapping half (generic_rest_mapper.h,
// batch.h) from plain values: requests for each step, answers, lookups, and
// batches where one bad item does not fail the others.
#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "generic_rest_mapper.h"
#include "lookup.h"
#include "unit_test_helpers.h"

namespace crmsync::genericrest {
namespace {

using testing::Answer;
using testing::At;
using testing::LeadJob;
using testing::LoadFixture;

constexpr int64_t kNowMs = 1795428930000LL;  // 2026-11-23T10:15:30Z

GenericRestMapper MapperFor(const std::string& fixture) {
  return GenericRestMapper(std::make_shared<const Mapping>(LoadFixture(fixture)),
                           [] { return kNowMs; });
}

// A lead mapping whose update sends `send` ("all" or "changed").
const char kPartialMapping[] = R"({
  "name": "test-partial",
  "statusMap": {"lead": {"NEW": "new", "CONTACTED": "contacted", "QUALIFIED": "qualified",
                         "VIEWING_SCHEDULED": "viewing", "VIEWED": "viewing",
                         "NEGOTIATING": "negotiating", "CONVERTED": "won", "LOST": "lost"}},
  "entities": {
    "lead": {
      "operations": {
        "create": {"method": "POST", "path": "/leads", "body": {"name": "{{name}}"}},
        "update": {"method": "PATCH", "path": "/leads/{externalId}", "send": "SEND",
                   "body": {"name": "{{name}}", "phone": "{{phone}}",
                            "status": {"$from": "status", "$transform": ["status"]},
                            "notes": "{{notes}}", "memo": {"$from": "notes", "$default": "-"},
                            "areas": "{{preferredLocation}}",
                            "budget.max": "{{budgetMax}}", "ref": "{{externalReference}}"}}
      }
    }
  }
})";

GenericRestMapper PartialMapper(const std::string& send) {
  std::string text = kPartialMapping;
  text.replace(text.find("SEND"), 4, send);
  Mapping mapping;
  std::vector<std::string> errors = testing::ParseErrors(text, &mapping);
  INFO(testing::Joined(errors));
  REQUIRE(errors.empty());
  return GenericRestMapper(std::make_shared<const Mapping>(mapping), [] { return kNowMs; });
}


TEST_SUITE("plugins.generic_rest") {
  TEST_CASE("mapper: create renders the reference lead body") {
    GenericRestMapper mapper = MapperFor("full.json");
    HttpRequest request;
    REQUIRE(mapper.BuildRequest(LeadJob("42"), StepKind::kCreate, &request).ok());
    CHECK(request.method == "POST");
    CHECK(request.path == "/api/v1/leads");
    CHECK(request.route == "lead.create");
    CHECK(request.content_type == "application/json");
    CHECK(FindHeader(request.headers, "X-Event-Id") == "evt-42");
    CHECK(
        request.body ==
        R"({"name":"Asha Rao","email":"asha@example.com","phone":"+91 98765 43210","source":"website",)"
        R"("status":"new","budgetRange":{"min":5000000,"max":7500000.5},)"
        R"("preferredAreas":["Whitefield","Indiranagar"],"externalReference":"lead:42",)"
        R"("assignedAgent":"agent_123","notes":"Wants a balcony"})");
  }

  TEST_CASE("mapper: update, activity and deal use the linked external id") {
    GenericRestMapper mapper = MapperFor("full.json");
    SyncJob job = LeadJob("42", LeadStatus::kLost);
    job.external_id = "crm 9";
    job.lead->lost_reason = "Bought elsewhere";
    HttpRequest request;
    REQUIRE(mapper.BuildRequest(job, StepKind::kUpdate, &request).ok());
    CHECK(request.method == "PUT");
    CHECK(request.path == "/api/v1/leads/crm%209");
    CHECK(
        request.body ==
        R"({"name":"Asha Rao","email":"asha@example.com","status":"lost","lostReason":"Bought elsewhere","externalReference":"lead:42"})");

    job.lead->status = LeadStatus::kViewed;
    REQUIRE(mapper.BuildRequest(job, StepKind::kActivity, &request).ok());
    CHECK(request.path == "/api/v1/leads/crm%209/activities");
    CHECK(request.route == "lead.activity");
    CHECK(request.body == R"({"type":"viewed","note":"Lead Asha Rao is now VIEWED"})");

    job.lead->status = LeadStatus::kConverted;
    REQUIRE(mapper.BuildRequest(job, StepKind::kDeal, &request).ok());
    CHECK(request.path == "/api/v1/deals");
    CHECK(
        request.body ==
        R"({"title":"Deal for Asha Rao","leadId":"crm 9","amount":7500000.5,"stage":"closed_won"})");
  }

  TEST_CASE("mapper: a field the job cleared is sent as null, the rest of the entity whole") {
    GenericRestMapper mapper = PartialMapper("all");
    SyncJob job = LeadJob("42", LeadStatus::kContacted);
    job.external_id = "crm-9";
    job.lead->notes.reset();
    job.lead->preferred_location.clear();
    job.changed_fields = std::vector<std::string>{"status", "notes", "preferredLocation"};
    HttpRequest request;
    REQUIRE(mapper.BuildRequest(job, StepKind::kUpdate, &request).ok());
    CHECK(At(request.body, "/notes") == "null");
    CHECK(At(request.body, "/memo") == "null");  // a clear is no missing value: no default
    CHECK(At(request.body, "/areas") == "null");
    CHECK(At(request.body, "/status") == "\"contacted\"");
    CHECK(At(request.body, "/name") == "\"Asha Rao\"");
    CHECK(At(request.body, "/phone") == "\"+91 98765 43210\"");
    CHECK(At(request.body, "/budget/max") == "7500000.5");
    // A field absent and not cleared by this job is left out, never sent empty.
    job.changed_fields = std::vector<std::string>{"status"};
    REQUIRE(mapper.BuildRequest(job, StepKind::kUpdate, &request).ok());
    CHECK(At(request.body, "/notes") == "<absent>");
    CHECK(At(request.body, "/memo") == "\"-\"");
    CHECK(At(request.body, "/areas") == "<absent>");
  }

  TEST_CASE("mapper: an operation that sends changed fields leaves the others out") {
    GenericRestMapper mapper = PartialMapper("changed");
    SyncJob job = LeadJob("42", LeadStatus::kContacted);
    job.external_id = "crm-9";
    job.lead->notes.reset();
    job.changed_fields = std::vector<std::string>{"status", "notes"};
    HttpRequest request;
    REQUIRE(mapper.BuildRequest(job, StepKind::kUpdate, &request).ok());
    CHECK(request.body == R"({"status":"contacted","notes":null,"memo":null,"ref":"lead:42"})");
    // Without a changed list (a replayed dead letter) the entity goes whole.
    job.changed_fields.reset();
    REQUIRE(mapper.BuildRequest(job, StepKind::kUpdate, &request).ok());
    CHECK(At(request.body, "/name") == "\"Asha Rao\"");
    CHECK(At(request.body, "/areas") == R"(["Whitefield","Indiranagar"])");
  }

  TEST_CASE("mapper: send must be all or changed, and only an update has it") {
    std::string text = kPartialMapping;
    text.replace(text.find("SEND"), 4, "some");
    CHECK(testing::HasError(testing::ParseErrors(text),
                            "/entities/lead/operations/update/send: must be \"all\""));
    std::string create = kPartialMapping;
    create.replace(create.find("SEND"), 4, "all");
    create.replace(create.find(R"("body": {"name": "{{name}}"}})"), 0, R"("send": "changed", )");
    std::vector<std::string> errors = testing::ParseErrors(create);
    INFO(testing::Joined(errors));
    CHECK(testing::HasError(errors, "/entities/lead/operations/create/send: only for update and "
                                    "batchUpdate (a create sends the whole entity)"));
  }

  TEST_CASE("mapper: a step the mapping lacks is a permanent failure naming it") {
    GenericRestMapper mapper = MapperFor("minimal.json");
    SyncJob job = LeadJob("42", LeadStatus::kConverted);
    job.external_id = "9";
    HttpRequest request;
    Status status = mapper.BuildRequest(job, StepKind::kDeal, &request);
    CHECK(status.code() == StatusCode::kPermanent);
    CHECK(status.message().find("no deal operation for lead") != std::string::npos);

    SyncJob property;
    property.entity_kind = EntityKind::kProperty;
    property.event_type = EventType::kPropertyCreated;
    property.entity_id = "p1";
    property.property = Property();
    property.property->id = "p1";
    status = mapper.BuildRequest(property, StepKind::kCreate, &request);
    CHECK(status.code() == StatusCode::kPermanent);
    CHECK(status.message().find("no property entity") != std::string::npos);

    // An update without an external id cannot fill its path.
    status = mapper.BuildRequest(LeadJob("42"), StepKind::kUpdate, &request);
    CHECK(status.code() == StatusCode::kPermanent);
    CHECK(status.message().find("externalId") != std::string::npos);
  }

  TEST_CASE("mapper: property bodies use dotted keys for nested objects") {
    GenericRestMapper mapper = MapperFor("full.json");
    SyncJob job;
    job.entity_kind = EntityKind::kProperty;
    job.event_type = EventType::kPropertyCreated;
    job.entity_id = "p1";
    job.property = Property();
    job.property->id = "p1";
    job.property->title = "2BHK";
    job.property->price = 9900000;
    job.property->city = "Pune";
    job.property->status = PropertyStatus::kActive;
    HttpRequest request;
    REQUIRE(mapper.BuildRequest(job, StepKind::kCreate, &request).ok());
    CHECK(request.route == "property.create");
    CHECK(
        request.body ==
        R"({"title":"2BHK","price":9900000,"location":{"city":"Pune"},"status":"active","externalReference":"property:p1"})");
  }

  TEST_CASE("mapper: ReadResponse reads the id at idPointer") {
    GenericRestMapper full = MapperFor("full.json");
    StepResult result;
    REQUIRE(
        full.ReadResponse(LeadJob(), StepKind::kCreate, Answer(201, R"({"id": "crm_1"})"), &result)
            .ok());
    CHECK(result.external_id.value_or("") == "crm_1");
    REQUIRE(full.ReadResponse(LeadJob(), StepKind::kCreate, Answer(201, R"({"id": 77})"), &result)
                .ok());
    CHECK(result.external_id.value_or("") == "77");

    Status status =
        full.ReadResponse(LeadJob(), StepKind::kCreate, Answer(201, R"({"ok": true})"), &result);
    CHECK(status.code() == StatusCode::kPermanent);
    CHECK(status.message().find("no id at /id") != std::string::npos);
    status = full.ReadResponse(LeadJob(), StepKind::kCreate, Answer(201, ""), &result);
    CHECK(status.code() == StatusCode::kPermanent);

    // After an update the id is optional; after activity and deal it is never the record's.
    CHECK(full.ReadResponse(LeadJob(), StepKind::kUpdate, Answer(204, ""), &result).ok());
    CHECK_FALSE(result.external_id.has_value());
    CHECK(full.ReadResponse(LeadJob(), StepKind::kDeal, Answer(201, R"({"id": "deal_1"})"), &result)
              .ok());
    CHECK_FALSE(result.external_id.has_value());

    GenericRestMapper minimal = MapperFor("minimal.json");
    REQUIRE(minimal
                .ReadResponse(LeadJob(), StepKind::kCreate,
                              Answer(200, R"({"data": {"id": "n1"}})"), &result)
                .ok());
    CHECK(result.external_id.value_or("") == "n1");
  }

  TEST_CASE("mapper: lookup by external reference") {
    GenericRestMapper mapper = MapperFor("full.json");
    HttpRequest request;
    REQUIRE(mapper.BuildLookup(LeadJob("42"), &request).ok());
    CHECK(request.method == "GET");
    CHECK(request.path == "/api/v1/leads?externalReference=lead%3A42");
    CHECK(request.body.empty());
    CHECK(request.route == "lead.lookup");

    std::optional<std::string> id;
    REQUIRE(
        mapper
            .ReadLookup(LeadJob(), Answer(200, R"({"results": [{"id": "c1"}, {"id": "c2"}]})"), &id)
            .ok());
    CHECK(id.value_or("") == "c1");
    REQUIRE(mapper.ReadLookup(LeadJob(), Answer(200, R"({"results": []})"), &id).ok());
    CHECK_FALSE(id.has_value());
    REQUIRE(mapper.ReadLookup(LeadJob(), Answer(200, R"({"results": null})"), &id).ok());
    CHECK_FALSE(id.has_value());
    REQUIRE(mapper.ReadLookup(LeadJob(), Answer(404, R"({"message": "none"})"), &id).ok());
    CHECK_FALSE(id.has_value());
  }

  TEST_CASE("mapper: a lookup answer that does not fit the mapping is unknown, never not found") {
    // Only an explicit "none" (404, [] or null at resultsPointer) may lead to a
    // create; anything unreadable is retried and then dead-lettered, naming
    // what the mapping expected.
    GenericRestMapper mapper = MapperFor("full.json");
    struct Case {
      const char* name;
      int status;
      const char* body;
      const char* message;
    };
    const Case cases[] = {
        {"a bare array (json-server's shape)", 200, R"([{"id": "c1"}])",
         "lookup answer does not match the mapping: expected an array at /results, got an array "
         "without it"},
        {"an object without the results pointer", 200, R"({"total": 0})",
         "lookup answer does not match the mapping: expected an array at /results, got an object "
         "without it"},
        {"an object at the results pointer", 200, R"({"results": {"id": "c1"}})",
         "lookup answer does not match the mapping: expected an array at /results, got an object"},
        {"a string at the results pointer", 200, R"({"results": "none"})",
         "lookup answer does not match the mapping: expected an array at /results, got a string"},
        {"an empty body", 200, "",
         "lookup answer does not match the mapping: expected JSON, got an empty body"},
        {"not JSON", 200, "<html>busy</html>",
         "lookup answer does not match the mapping: expected JSON, got other text"},
        {"a match without an id", 200, R"({"results": [{"name": "x"}]})",
         "lookup answer does not match the mapping: expected the match's id at /id, got none"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.name);
      std::optional<std::string> id = std::string("stale");
      const Status status = mapper.ReadLookup(LeadJob(), Answer(c.status, c.body), &id);
      CHECK(status.code() == StatusCode::kRetryable);
      CHECK(status.message() == c.message);
      CHECK_FALSE(id.has_value());
    }
    std::optional<std::string> id;
    CHECK(mapper.ReadLookup(LeadJob(), Answer(500, "{}"), &id).code() == StatusCode::kPermanent);

    GenericRestMapper minimal = MapperFor("minimal.json");
    HttpRequest request;
    CHECK(minimal.BuildLookup(LeadJob(), &request).code() == StatusCode::kPermanent);
  }

  TEST_CASE("lookup: a notFoundStatus answer is not found, any other unreadable one unknown") {
    // Zoho's search answers 204 with no body when nothing matches.
    Mapping mapping;
    const std::vector<std::string> errors = testing::ParseErrors(
        R"({"name": "inline",
          "statusMap": {"lead": {"NEW": "n", "CONTACTED": "c", "QUALIFIED": "q",
            "VIEWING_SCHEDULED": "v", "VIEWED": "d", "NEGOTIATING": "g", "CONVERTED": "w",
            "LOST": "l"}},
          "entities": {"lead": {"operations": {
            "create": {"method": "POST", "path": "/leads", "body": {"n": "{{name}}"}},
            "update": {"method": "PUT", "path": "/leads/{externalId}", "body": {"n": "{{name}}"}},
            "lookup": {"method": "GET", "path": "/leads/search", "resultsPointer": "/data",
                       "notFoundStatus": [204]}}}}})",
        &mapping);
    REQUIRE_MESSAGE(errors.empty(), testing::Joined(errors));
    const Operation& op = *mapping.entities.at("lead").Find("lookup");
    CHECK(op.not_found_status == std::vector<int>{204});
    std::optional<std::string> id = std::string("stale");
    REQUIRE(ReadLookupAnswer(op, Answer(204, ""), &id).ok());
    CHECK_FALSE(id.has_value());
    // A 204 is "none" whatever it carries; a 200 with no body is still unknown.
    REQUIRE(ReadLookupAnswer(op, Answer(204, "<html/>"), &id).ok());
    CHECK_FALSE(id.has_value());
    const Status empty = ReadLookupAnswer(op, Answer(200, ""), &id);
    CHECK(empty.code() == StatusCode::kRetryable);
    CHECK(empty.message() == "lookup answer does not match the mapping: expected JSON, got an "
                             "empty body");
    CHECK(ReadLookupAnswer(op, Answer(202, ""), &id).code() == StatusCode::kRetryable);
    REQUIRE(ReadLookupAnswer(op, Answer(200, R"({"data": [{"id": "z1"}]})"), &id).ok());
    CHECK(id.value_or("") == "z1");

    // Without notFoundStatus a 204 stays unknown.
    GenericRestMapper full = MapperFor("full.json");
    CHECK(full.ReadLookup(LeadJob(), Answer(204, ""), &id).code() == StatusCode::kRetryable);
  }

  TEST_CASE("batch: items go into itemsPointer, what surrounds them is rendered once") {
    GenericRestMapper mapper = MapperFor("full.json");
    std::vector<SyncJob> jobs = {LeadJob("1"), LeadJob("2"), LeadJob("3")};
    jobs[1].lead->name = std::nullopt;
    HttpRequest request;
    REQUIRE(mapper.BuildBatch(jobs, StepKind::kCreate, &request).ok());
    CHECK(request.method == "POST");
    CHECK(request.path == "/api/v1/leads/batch");
    CHECK(request.route == "lead.batchCreate");
    CHECK(request.body == R"({"options":{"sentAt":"2026-11-23T10:15:30Z"},"inputs":[)"
                          R"({"externalReference":"lead:1","name":"Asha Rao","status":"new"},)"
                          R"({"externalReference":"lead:2","status":"new"},)"
                          R"({"externalReference":"lead:3","name":"Asha Rao","status":"new"}]})");

    for (SyncJob& job : jobs) job.external_id = "c" + job.entity_id;
    REQUIRE(mapper.BuildBatch(jobs, StepKind::kUpdate, &request).ok());
    CHECK(At(request.body, "/inputs/2/id") == "\"c3\"");
    CHECK(At(request.body, "/inputs/0/properties/name") == "\"Asha Rao\"");
  }

  TEST_CASE("batch: with send changed, each item renders its own job's changes") {
    std::ifstream in(testing::FixturePath("full.json"));
    std::stringstream text;
    text << in.rdbuf();
    std::string mapping_text = text.str();
    const std::string item =
        R"("item": {"id": "{{externalId}}", "properties": {"name": "{{name}}"}},)";
    REQUIRE(mapping_text.find(item) != std::string::npos);
    mapping_text.replace(mapping_text.find(item), item.size(),
                         R"("send": "changed", "item": {"id": "{{externalId}}", )"
                         R"("properties": {"name": "{{name}}", "notes": "{{notes}}"}},)");
    Mapping mapping;
    std::vector<std::string> errors = testing::ParseErrors(mapping_text, &mapping);
    INFO(testing::Joined(errors));
    REQUIRE(errors.empty());
    GenericRestMapper mapper(std::make_shared<const Mapping>(mapping), [] { return kNowMs; });
    std::vector<SyncJob> jobs = {LeadJob("1"), LeadJob("2")};
    for (SyncJob& job : jobs) job.external_id = "c" + job.entity_id;
    jobs[0].changed_fields = std::vector<std::string>{"name"};
    jobs[1].lead->notes.reset();
    jobs[1].changed_fields = std::vector<std::string>{"notes"};
    HttpRequest request;
    REQUIRE(mapper.BuildBatch(jobs, StepKind::kUpdate, &request).ok());
    CHECK(At(request.body, "/inputs/0/properties") == R"({"name":"Asha Rao"})");
    CHECK(At(request.body, "/inputs/1/properties") == R"({"notes":null})");
  }

  TEST_CASE("batch: limits and missing operations") {
    GenericRestMapper mapper = MapperFor("full.json");
    HttpRequest request;
    std::vector<SyncJob> many(21, LeadJob("1"));
    Status status = mapper.BuildBatch(many, StepKind::kUpdate, &request);
    CHECK(status.code() == StatusCode::kPermanent);
    CHECK(status.message().find("maxSize 20") != std::string::npos);
    CHECK(mapper.BuildBatch({}, StepKind::kCreate, &request).code() == StatusCode::kPermanent);
    CHECK(mapper.BuildBatch({LeadJob()}, StepKind::kDeal, &request).code() ==
          StatusCode::kPermanent);
    GenericRestMapper minimal = MapperFor("minimal.json");
    status = minimal.BuildBatch({LeadJob()}, StepKind::kCreate, &request);
    CHECK(status.code() == StatusCode::kPermanent);
    CHECK(status.message().find("no batchCreate operation for lead") != std::string::npos);
  }

  TEST_CASE("batch: results matched by reference, one bad item does not fail the others") {
    GenericRestMapper mapper = MapperFor("full.json");
    const std::vector<SyncJob> jobs = {LeadJob("1"), LeadJob("2"), LeadJob("3"), LeadJob("4")};
    // Out of order; lead:2 refused; lead:4 has no result; lead:3's result has no id.
    const HttpResponse response = Answer(207, R"({"results": [
      {"externalReference": "lead:3"},
      {"externalReference": "lead:1", "id": "c1"},
      {"externalReference": "lead:2", "error": {"message": "email is invalid"}}]})");
    std::vector<Status> statuses;
    std::vector<StepResult> results;
    REQUIRE(mapper.ReadBatch(jobs, StepKind::kCreate, response, &statuses, &results).ok());
    REQUIRE(statuses.size() == 4);
    REQUIRE(results.size() == 4);
    CHECK(statuses[0].ok());
    CHECK(results[0].external_id.value_or("") == "c1");
    CHECK(statuses[1].code() == StatusCode::kInvalidRecord);
    CHECK(statuses[1].message().find("email is invalid") != std::string::npos);
    // No id: it may have been created, so it is looked up, not dead-lettered.
    CHECK(statuses[2].code() == StatusCode::kRetryable);
    CHECK(statuses[2].message().find("looked up") != std::string::npos);
    CHECK(statuses[3].code() == StatusCode::kRetryable);
    CHECK_FALSE(results[3].external_id.has_value());
  }

  TEST_CASE("batch: an item's error keeps its field-level reason, masked") {
    GenericRestMapper mapper = MapperFor("full.json");
    const std::vector<SyncJob> jobs = {LeadJob("1"), LeadJob("2"), LeadJob("3")};
    const HttpResponse response = Answer(207, R"({"results": [
      {"externalReference": "lead:1", "error": {"code": "INVALID_DATA", "message":
        "invalid data asha@example.com", "details": {"api_name": "Email"}}},
      {"externalReference": "lead:2", "error": "phone +91 98765 43210 is invalid"},
      {"externalReference": "lead:3", "id": "c3"}]})");
    std::vector<Status> statuses;
    std::vector<StepResult> results;
    REQUIRE(mapper.ReadBatch(jobs, StepKind::kCreate, response, &statuses, &results).ok());
    REQUIRE(statuses.size() == 3);
    CHECK(statuses[0].code() == StatusCode::kInvalidRecord);
    CHECK(statuses[0].message() ==
          "the CRM refused this batch item: Email: invalid data [email] (INVALID_DATA)");
    CHECK(statuses[1].code() == StatusCode::kInvalidRecord);
    CHECK(statuses[1].message() == "the CRM refused this batch item: phone [phone] is invalid");
    CHECK(statuses[2].ok());

    // A per-item HTTP status goes through DefaultClassify, masked the same way.
    REQUIRE(mapper
                .ReadBatch({LeadJob("1")}, StepKind::kUpdate,
                           Answer(200, R"({"results": [{"status": 422, "message":
                             "token=abc123 rejected for asha@example.com"}]})"),
                           &statuses, &results)
                .ok());
    REQUIRE(statuses.size() == 1);
    CHECK(statuses[0].code() == StatusCode::kInvalidRecord);
    CHECK(statuses[0].message() == "HTTP 422: token=[token] rejected for [email]");
  }

  TEST_CASE("batch: results by index, with a per-item status") {
    GenericRestMapper mapper = MapperFor("full.json");
    std::vector<SyncJob> jobs = {LeadJob("1"), LeadJob("2"), LeadJob("3")};
    const HttpResponse response = Answer(200, R"({"results": [
      {"status": 200, "id": "c1"}, {"status": 409, "message": "exists"}, {"status": 503}]})");
    std::vector<Status> statuses;
    std::vector<StepResult> results;
    REQUIRE(mapper.ReadBatch(jobs, StepKind::kUpdate, response, &statuses, &results).ok());
    REQUIRE(statuses.size() == 3);
    CHECK(statuses[0].ok());
    CHECK(results[0].external_id.value_or("") == "c1");
    CHECK(statuses[1].code() == StatusCode::kConflict);
    CHECK(statuses[2].code() == StatusCode::kRetryable);

    // Fewer results than items: the missing tail is retried on its own.
    REQUIRE(mapper
                .ReadBatch(jobs, StepKind::kUpdate,
                           Answer(200, R"({"results": [{"status": 200}]})"), &statuses, &results)
                .ok());
    CHECK(statuses[0].ok());
    CHECK(statuses[1].code() == StatusCode::kRetryable);
    CHECK(statuses[2].code() == StatusCode::kRetryable);

    // An answer that cannot be read at all fails the batch as a whole.
    CHECK(mapper.ReadBatch(jobs, StepKind::kUpdate, Answer(200, "<html>"), &statuses, &results)
              .code() == StatusCode::kPermanent);
    CHECK(mapper
              .ReadBatch(jobs, StepKind::kUpdate, Answer(200, R"({"results": 3})"), &statuses,
                         &results)
              .code() == StatusCode::kPermanent);
  }

  TEST_CASE("batch: without itemsPointer the body is the array of items") {
    Mapping mapping;
    const std::vector<std::string> errors = testing::ParseErrors(R"({"name": "b",
      "statusMap": {"lead": {"NEW": "n", "CONTACTED": "c", "QUALIFIED": "q", "VIEWING_SCHEDULED": "v",
                             "VIEWED": "v", "NEGOTIATING": "g", "CONVERTED": "w", "LOST": "l"}},
      "entities": {"lead": {"operations": {"create": {"method": "POST", "path": "/l"},
          "update": {"method": "PUT", "path": "/l/{externalId}"},
          "batchCreate": {"method": "POST", "path": "/l/bulk", "maxSize": 2, "item": {"ref": "{{externalReference}}"},
                          "idPointer": "/data/id"}}}}})",
                                                                 &mapping);
    INFO(testing::Joined(errors));
    REQUIRE(errors.empty());
    GenericRestMapper mapper(std::make_shared<const Mapping>(mapping), [] { return kNowMs; });
    HttpRequest request;
    REQUIRE(mapper.BuildBatch({LeadJob("1"), LeadJob("2")}, StepKind::kCreate, &request).ok());
    CHECK(request.body == R"([{"ref":"lead:1"},{"ref":"lead:2"}])");
    std::vector<Status> statuses;
    std::vector<StepResult> results;
    REQUIRE(mapper
                .ReadBatch({LeadJob("1"), LeadJob("2")}, StepKind::kCreate,
                           Answer(200, R"([{"data": {"id": 5}}, {"data": {"id": 6}}])"), &statuses,
                           &results)
                .ok());
    CHECK(results[0].external_id.value_or("") == "5");
    CHECK(results[1].external_id.value_or("") == "6");
  }

}  // TEST_SUITE
}  // namespace
}  // namespace crmsync::genericrest
