// generic-rest-crm: the mapping features behind the strategy's complete field
// tables: sourceMap (source / sourceIn), the related records' CRM ids
// (related.*, $else), lookups that match on a reference (matchPointer), paged
// answers (paging), the users list, and per-item results in a `data` envelope
// (okValues, codePointer, codes); each with its load errors.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "batch.h"
#include "generic_rest_mapper.h"
#include "lookup.h"
#include "pagination.h"
#include "unit_test_helpers.h"
#include "users.h"
#include "webhook_mapping.h"

namespace crmsync::genericrest {
namespace {

using testing::Answer;
using testing::At;
using testing::HasError;
using testing::Joined;
using testing::LeadJob;
using testing::ParseErrors;

constexpr int64_t kNowMs = 1795428930000LL;  // 2026-11-23T10:15:30Z

// A lead mapping with `extra` top-level members and `body` as the create body.
std::string LeadMapping(const std::string& extra, const std::string& body,
                        const std::string& lookup = "") {
  return R"({"name": "t", )" + extra + R"(
    "statusMap": {"lead": {"NEW": "new", "CONTACTED": "contacted", "QUALIFIED": "qualified",
                           "VIEWING_SCHEDULED": "viewing", "VIEWED": "viewing",
                           "NEGOTIATING": "negotiating", "CONVERTED": "won", "LOST": "lost"}},
    "entities": {"lead": {"operations": {
      "create": {"method": "POST", "path": "/leads", "body": )" +
         body + R"(},
      "update": {"method": "PUT", "path": "/leads/{externalId}", "body": )" + body + "}" +
         (lookup.empty() ? "" : ", \"lookup\": " + lookup) + "}}}}";
}

Mapping Parsed(const std::string& text) {
  Mapping mapping;
  const std::vector<std::string> errors = ParseErrors(text, &mapping);
  INFO(Joined(errors));
  REQUIRE(errors.empty());
  return mapping;
}

std::string CreateBody(const Mapping& mapping, const SyncJob& job) {
  GenericRestMapper mapper(std::make_shared<const Mapping>(mapping), [] { return kNowMs; });
  HttpRequest request;
  const Status status = mapper.BuildRequest(job, StepKind::kCreate, &request);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return request.body;
}

Var ParseJsonOrNull(const std::string& text) {
  Var value;
  std::string error;
  REQUIRE_MESSAGE(ParseJson(text, &value, &error), text);
  return value;
}

const char kSourceMap[] =
    R"("sourceMap": {"website": "WEB", "portal": "PORTAL", "*": "OTHER"},)";
const char kSourceBody[] = R"({"src": {"$from": "source", "$transform": ["source"]}})";

}  // namespace

TEST_SUITE("plugins.generic_rest") {
  TEST_CASE("sourceMap: a listed source maps to its option, any other to the * option") {
    const Mapping mapping = Parsed(LeadMapping(kSourceMap, kSourceBody));
    SyncJob job = LeadJob();
    CHECK(At(CreateBody(mapping, job), "/src") == "\"WEB\"");
    job.lead->source = "billboard";
    CHECK(At(CreateBody(mapping, job), "/src") == "\"OTHER\"");
    job.lead->source.reset();
    CHECK(At(CreateBody(mapping, job), "/src") == "<absent>");
  }

  TEST_CASE("sourceMap: without a * option an unlisted source is left out") {
    const Mapping mapping =
        Parsed(LeadMapping(R"("sourceMap": {"website": "WEB"},)", kSourceBody));
    SyncJob job = LeadJob();
    job.lead->source = "billboard";
    CHECK(At(CreateBody(mapping, job), "/src") == "<absent>");
  }

  TEST_CASE("sourceMap: a bad map or a source transform without one refuses the mapping") {
    std::vector<std::string> errors =
        ParseErrors(LeadMapping(R"("sourceMap": ["website"],)", kSourceBody));
    CHECK(HasError(errors, "inline.json: /sourceMap: must be an object"));
    errors = ParseErrors(LeadMapping(R"("sourceMap": {"website": 3, "portal": ""},)", kSourceBody));
    CHECK(HasError(errors, "/sourceMap/website: must be a string"));
    CHECK(HasError(errors, "/sourceMap/portal: the CRM's source option must not be empty"));
    errors = ParseErrors(LeadMapping("", kSourceBody));
    CHECK(HasError(errors, "/body/src/$transform/0: transform 'source' needs a sourceMap"));
    errors = ParseErrors(LeadMapping(kSourceMap, R"({"src": {"$from": "source",
                                                     "$transform": ["sourceIn"]}})"));
    CHECK(HasError(errors, "transform 'sourceIn' is for webhook fields (use source)"));
  }

  TEST_CASE("sourceMap: sourceIn maps a CRM option back, and says nothing of * or others") {
    const Mapping mapping = Parsed(LeadMapping(kSourceMap, kSourceBody));
    const TransformTables tables = mapping.Tables(EntityKind::kLead);
    Var value("PORTAL");
    REQUIRE(ApplyTransforms({"sourceIn"}, tables, "source", &value).ok());
    CHECK(value.toString() == "portal");
    value = Var("OTHER");
    REQUIRE(ApplyTransforms({"sourceIn"}, tables, "source", &value).ok());
    CHECK(value.isEmpty());
  }

  TEST_CASE("related: the CRM ids of related records are template variables") {
    const Mapping mapping = Parsed(LeadMapping(
        "", R"({"property": "{{related.property}}", "agent": "{{related.agent}}",
                "note": "agent {{related.agent}}"})"));
    SyncJob job = LeadJob();
    job.related = {{"property", "crm-prop-9"}, {"agent", "owner-5"}};
    const std::string body = CreateBody(mapping, job);
    CHECK(At(body, "/property") == "\"crm-prop-9\"");
    CHECK(At(body, "/agent") == "\"owner-5\"");
    CHECK(At(body, "/note") == "\"agent owner-5\"");
  }

  TEST_CASE("related: an absent role is left out, one whose platform field was cleared is null") {
    const Mapping mapping = Parsed(LeadMapping(
        "", R"({"property": "{{related.property}}", "agent": "{{related.agent}}"})"));
    SyncJob job = LeadJob();
    std::string body = CreateBody(mapping, job);
    CHECK(At(body, "/property") == "<absent>");
    CHECK(At(body, "/agent") == "<absent>");
    // The platform unassigned the lead: the CRM's link is cleared with it.
    job.lead->assigned_to_id.reset();
    job.changed_fields = std::vector<std::string>{"assignedToId"};
    job.related = {{"property", "crm-prop-9"}};
    body = CreateBody(mapping, job);
    CHECK(At(body, "/agent") == "null");
    CHECK(At(body, "/property") == "\"crm-prop-9\"");
  }

  TEST_CASE("related: $else reads another variable when the first is missing") {
    const Mapping mapping = Parsed(
        LeadMapping("", R"({"agent": {"$from": "related.agent", "$else": "assignedToId"}})"));
    SyncJob job = LeadJob();
    CHECK(At(CreateBody(mapping, job), "/agent") == "\"dealer-7\"");
    job.related = {{"agent", "owner-5"}};
    CHECK(At(CreateBody(mapping, job), "/agent") == "\"owner-5\"");
    const std::vector<std::string> errors = ParseErrors(LeadMapping(
        "", R"({"a": {"$from": "related.agent", "$else": "assignedTo"},
                "b": {"$from": "related.owner"}, "c": {"$from": "name", "$else": 3}})"));
    CHECK(HasError(errors, "/body/a/$else: unknown variable 'assignedTo'"));
    CHECK(HasError(errors, "/body/b/$from: unknown variable 'related.owner'"));
    CHECK(HasError(errors, "/body/c/$else: must be a variable name"));
  }

  TEST_CASE("lookup: matchPointer takes our record among others, and none of theirs") {
    const Mapping mapping = Parsed(LeadMapping(
        "", R"({"name": "{{name}}"})",
        R"({"method": "GET", "path": "/leads", "resultsPointer": "/items",
            "matchPointer": "/ref", "idPointer": "/id"})"));
    const Operation& op = *mapping.Entity(EntityKind::kLead)->Find("lookup");
    const std::string ours = "lead:42";
    std::optional<std::string> id;
    REQUIRE(ReadLookupAnswer(op, Answer(200, R"({"items": [{"id": "a", "ref": "lead:41"},
                                                          {"id": "b", "ref": "lead:42"}]})"),
                             &id, &ours)
                .ok());
    CHECK(id.value_or("") == "b");
    REQUIRE(ReadLookupAnswer(op, Answer(200, R"({"items": [{"id": "a", "ref": "lead:41"}]})"), &id,
                             &ours)
                .ok());
    CHECK_FALSE(id.has_value());
  }

  TEST_CASE("lookup: an answer marked by an unfinished page walk is unknown, not not-found") {
    const Mapping mapping = Parsed(LeadMapping(
        "", R"({"name": "{{name}}"})",
        R"({"method": "GET", "path": "/leads", "resultsPointer": "/items",
            "paging": {"type": "link"}})"));
    const Operation& op = *mapping.Entity(EntityKind::kLead)->Find("lookup");
    HttpResponse response = Answer(200, R"({"items": []})");
    response.headers.emplace_back(kPagingErrorHeader, "more than paging.maxPages (3) pages");
    std::optional<std::string> id;
    const Status status = ReadLookupAnswer(op, response, &id);
    CHECK(status.code() == StatusCode::kRetryable);
    CHECK(status.message().find("maxPages (3)") != std::string::npos);
  }

  TEST_CASE("paging: every kind reads, and each mistake is named") {
    Paging paging;
    ErrorList errors;
    CHECK(ParsePaging(ParseJsonOrNull(R"({"type": "page", "pageParam": "page", "firstPage": 0,
                                          "pageSize": 50, "hasMorePointer": "/more",
                                          "maxPages": 7})"),
                      "/p", &paging, &errors));
    CHECK(paging.type == Paging::Type::kPage);
    CHECK(paging.first_page == 0);
    CHECK(paging.page_size.value_or(0) == 50);
    CHECK(paging.max_pages == 7);
    const struct {
      const char* json;
      const char* error;
    } kCases[] = {
        {R"({"type": "offset"})", "/p/type: must be cursor, page, link or nextPath"},
        {R"({"type": "nextPath"})", "/p/nextPointer: required for nextPath paging"},
        {R"({"type": "nextPath", "nextPointer": "nextRecordsUrl"})",
         "/p/nextPointer: must be a JSON pointer"},
        {R"({"type": "nextPath", "nextPointer": "/n", "cursorParam": "a"})",
         "/p/cursorParam: unknown key for nextPath paging"},
        {R"({})", "/p/type: required"},
        {R"({"type": "cursor", "cursorParam": "after"})", "/p/cursorPointer: required"},
        {R"({"type": "cursor", "cursorPointer": "next", "cursorParam": "after"})",
         "/p/cursorPointer: must be a JSON pointer"},
        {R"({"type": "page", "pageParam": "page", "pageSize": 0})", "/p/pageSize: must be"},
        {R"({"type": "link", "maxPages": 0})", "/p/maxPages: must be a whole number from 1"},
        {R"({"type": "link", "pageParam": "p"})", "/p/pageParam: unknown key for link paging"},
        {R"(["cursor"])", "/p: must be an object"},
    };
    for (const auto& c : kCases) {
      CAPTURE(c.json);
      ErrorList found;
      Paging ignored;
      CHECK_FALSE(ParsePaging(ParseJsonOrNull(c.json), "/p", &ignored, &found));
      bool seen = false;
      for (const auto& error : found) {
        seen = seen || (error.first + ": " + error.second).find(c.error) != std::string::npos;
      }
      CHECK_MESSAGE(seen, c.error);
    }
  }

  TEST_CASE("paging: only lookups and users.list page") {
    const std::vector<std::string> errors = ParseErrors(LeadMapping(
        "", R"({"name": "{{name}}"})",
        R"({"method": "GET", "path": "/leads", "paging": {"type": "sideways"}})"));
    CHECK(HasError(errors, "/entities/lead/operations/lookup/paging/type: must be cursor"));
    const std::string create_paged =
        LeadMapping("", R"({"name": "{{name}}"}, "paging": {"type": "link"})");
    CHECK(HasError(ParseErrors(create_paged),
                   "/entities/lead/operations/create/paging: only for lookup and users.list"));
  }

  TEST_CASE("paging: Link headers and query parameters") {
    CHECK(NextLink(R"(<https://crm.test/v1/users?page=2>; rel="next", <https://crm.test/v1/users?page=9>; rel="last")") ==
          "https://crm.test/v1/users?page=2");
    CHECK(NextLink(R"(<https://crm.test/a?page=1>; rel="prev", </a?page=3>; rel="next last")") ==
          "/a?page=3");
    CHECK(NextLink(R"(<https://crm.test/a?page=1>; rel=prev)").empty());
    CHECK(NextLink("").empty());
    CHECK(WithQueryParam("/users?limit=10&page=1", "page", "2") == "/users?limit=10&page=2");
    CHECK(WithQueryParam("/users", "after", "a b") == "/users?after=a%20b");
  }

  TEST_CASE("users: the spec reads, and each mistake is named") {
    Mapping mapping = Parsed(LeadMapping(
        R"("users": {"list": {"method": "GET", "path": "/owners",
                              "paging": {"type": "cursor", "cursorPointer": "/next",
                                         "cursorParam": "after"}},
                     "resultsPointer": "/results", "emailPointer": "/email",
                     "platformIdPointer": "/meta/platformId", "activePointer": "/archived",
                     "activeWhen": false},)",
        R"({"name": "{{name}}"})"));
    REQUIRE(mapping.users);
    REQUIRE(mapping.users_list);
    CHECK(mapping.users_list->paging);
    CrmUser user;
    REQUIRE(ReadUser(*mapping.users,
                     ParseJsonOrNull(R"({"id": 77, "email": "a@x.test", "archived": false,
                                        "meta": {"platformId": "dealer-7"}})"),
                     "item", &user)
                .ok());
    CHECK(user.id == "77");
    CHECK(user.email == "a@x.test");
    CHECK(user.platform_id == "dealer-7");
    CHECK(user.active);
    REQUIRE(ReadUser(*mapping.users, ParseJsonOrNull(R"({"id": "8", "archived": true})"), "item",
                     &user)
                .ok());
    CHECK_FALSE(user.active);
    CHECK(user.email.empty());
    const Status no_id =
        ReadUser(*mapping.users, ParseJsonOrNull(R"({"email": "b@x.test"})"), "page 2 item 4",
                 &user);
    CHECK(no_id.code() == StatusCode::kPermanent);
    CHECK(no_id.message() == "page 2 item 4: no user id at /id");

    const std::vector<std::string> errors = ParseErrors(LeadMapping(
        R"("users": {"lst": {}, "emailPointer": "email", "activeWhen": true},)",
        R"({"name": "{{name}}"})"));
    CHECK(HasError(errors, "/users/lst: unknown key"));
    CHECK(HasError(errors, "/users/list: required"));
    CHECK(HasError(errors, "/users/emailPointer: must be a JSON pointer"));
    CHECK(HasError(errors, "/users/activeWhen: needs an activePointer"));
    const std::vector<std::string> inside = ParseErrors(LeadMapping(
        R"("users": {"list": {"method": "DELETE", "path": "/u/{{name}}", "resultsPointer": "/r"}},)",
        R"({"name": "{{name}}"})"));
    CHECK(HasError(inside, "/users/list/resultsPointer: goes in /users"));
    CHECK(HasError(inside, "/users/list/method: a list is read with GET"));
    CHECK(HasError(inside, "/users/list/path: unknown variable 'name'"));
  }

  // Zoho CRM's batch answer: per-record results in a `data` envelope.
  const char kZohoBatch[] = R"(
    "batchCreate": {"method": "POST", "path": "/crm/v2/Leads", "maxSize": 100,
                    "body": {}, "itemsPointer": "/data",
                    "item": {"Last_Name": "{{name}}", "Ref": "{{externalReference}}"},
                    "resultsPointer": "/data", "idPointer": "/details/id",
                    "statusPointer": "/status", "okValues": ["success"],
                    "codePointer": "/code",
                    "codes": {"DUPLICATE_DATA": "conflict", "RATE_LIMIT": "rate_limited"}})";

  TEST_CASE("batch: per-record results in a data envelope, each with its own outcome") {
    std::string text = LeadMapping("", R"({"name": "{{name}}"})");
    text.insert(text.rfind("}}}}"), std::string(",") + kZohoBatch);
    const Mapping mapping = Parsed(text);
    const std::vector<SyncJob> jobs = {LeadJob("1"), LeadJob("2"), LeadJob("3"), LeadJob("4"),
                                       LeadJob("5"), LeadJob("6")};
    const HttpResponse response = Answer(207, R"({"data": [
      {"code": "SUCCESS", "details": {"id": "z1"}, "message": "record added", "status": "success"},
      {"code": "DUPLICATE_DATA", "details": {"id": "z0"}, "message": "duplicate data",
       "status": "error"},
      {"code": "INVALID_DATA", "details": {"api_name": "Email"}, "message": "invalid data",
       "status": "error"},
      {"code": "SUCCESS", "details": {}, "status": "success"},
      "garbled"]})");
    std::vector<Status> statuses;
    std::vector<StepResult> results;
    REQUIRE(ReadBatchResponse(mapping, jobs, StepKind::kCreate, response, &statuses, &results).ok());
    REQUIRE(statuses.size() == 6);
    CHECK(statuses[0].ok());
    CHECK(results[0].external_id.value_or("") == "z1");
    CHECK(statuses[1].code() == StatusCode::kConflict);
    CHECK(statuses[1].message().find("DUPLICATE_DATA") != std::string::npos);
    CHECK(statuses[2].code() == StatusCode::kInvalidRecord);  // a code not in `codes`
    CHECK(statuses[2].message().find("INVALID_DATA") != std::string::npos);
    // Created, maybe, without an id; unreadable; no result at all: each is
    // retried and, being a create, looked up by the engine before it is sent again.
    CHECK(statuses[3].code() == StatusCode::kRetryable);
    CHECK(statuses[4].code() == StatusCode::kRetryable);
    CHECK(statuses[4].message().find("unreadable") != std::string::npos);
    CHECK(statuses[5].code() == StatusCode::kRetryable);
  }

  TEST_CASE("batch: an item without the status okValues reads is unreadable, so looked up") {
    std::string text = LeadMapping("", R"({"name": "{{name}}"})");
    text.insert(text.rfind("}}}}"), std::string(",") + kZohoBatch);
    const Mapping mapping = Parsed(text);
    std::vector<Status> statuses;
    std::vector<StepResult> results;
    REQUIRE(ReadBatchResponse(mapping, {LeadJob("1")}, StepKind::kCreate,
                              Answer(200, R"({"data": [{"details": {"id": "z1"}}]})"), &statuses,
                              &results)
                .ok());
    CHECK(statuses[0].code() == StatusCode::kRetryable);
    CHECK(statuses[0].message().find("no status at /status") != std::string::npos);
  }

  TEST_CASE("batch: okValues, codePointer and codes are checked when the mapping loads") {
    const char kBad[] = R"(
      "batchCreate": {"method": "POST", "path": "/b", "maxSize": 10, "item": {"n": "{{name}}"},
                      "okValues": [], "codes": {"X": "won", "Y": "conflict"}},
      "batchUpdate": {"method": "POST", "path": "/b", "maxSize": 10, "item": {"n": "{{name}}"},
                      "okValues": ["ok"], "codePointer": "/code"})";
    std::string text = LeadMapping("", R"({"name": "{{name}}"})");
    text.insert(text.rfind("}}}}"), std::string(",") + kBad);
    const std::vector<std::string> errors = ParseErrors(text);
    CHECK(HasError(errors, "/batchCreate/okValues: must be a non-empty array"));
    CHECK(HasError(errors, "/batchCreate/codes/X: must be one of retryable"));
    CHECK(HasError(errors, "/batchCreate/codes: needs a codePointer"));
    CHECK(HasError(errors, "/batchUpdate/okValues: needs a statusPointer"));
    const std::vector<std::string> on_create = ParseErrors(
        LeadMapping("", R"({"name": "{{name}}"}, "okValues": ["ok"])"));
    CHECK(HasError(on_create, "/create/okValues: only for batch operations"));
  }
}

}  // namespace crmsync::genericrest
