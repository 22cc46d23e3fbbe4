// generic_rest_records_test.cpp: reading the CRM's records back through the
// built generic-rest-crm plugin (crmsync/records.h, the mapping's `records`
// section, mapping-format.md "Reading records back"), found as the engine
// finds it (AsRecordReader):
//  * over real HTTP against a RecordingCrm on 127.0.0.1 (recording_crm.h):
//    every paging form walked page by page with the cursor handed to a new
//    adapter (a restart), references, fields and statuses mapped, a record
//    without a reference, every unreadable answer retryable (never an empty
//    page or "not found"), the record's own 404 the only "not found";
//  * the section's config errors, each named by its JSON path;
//  * the shipped mappings against the CRMs they are for: sunshine-reference
//    against the real tools/reference-crm binary, hubspot.json against the
//    HubSpot stand-in (tests/crm-servers/hubspot.py).
// The clock is never read by a test; no sleeps.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "crmsync/adapter.h"
#include "crmsync/records.h"
#include "loaded_plugin.h"
#include "recording_crm.h"
#include "reference_crm.h"
#include "vendor_server.h"

namespace crmsync {
namespace {

using testing::BaseSettings;
using testing::NewAdapter;
using testing::RecordingCrm;
using testing::Settings;
using Query = std::vector<std::pair<std::string, std::string>>;

// A mapping with leads (and properties) whose records section for leads is
// `lead_records` (a JSON object's text); `extra` adds top-level members.
std::string RecordsMapping(const testing::TempDir& dir, const std::string& lead_records,
                           const std::string& extra = "") {
  const std::string text = R"({
    "name": "test-records",
    "auth": {"type": "apiKey",
             "headers": {"X-API-Key": "{{secret.apiKey}}", "X-API-Secret": "{{secret.apiSecret}}"}},
    "statusMap": {
      "lead": {"NEW": "new", "CONTACTED": "contacted", "QUALIFIED": "qualified",
               "VIEWING_SCHEDULED": "viewing", "VIEWED": "viewing", "NEGOTIATING": "negotiating",
               "CONVERTED": "won", "LOST": "lost"},
      "property": {"ACTIVE": "active", "INACTIVE": "inactive", "SOLD": "sold"}
    },
    "statusMapInbound": {
      "lead": {"new": "NEW", "contacted": "CONTACTED", "won": "CONVERTED", "closed_won": "CONVERTED",
               "lost": "LOST"}
    },
    "sourceMap": {"website": "web", "portal": "portal", "*": "other"},
    "entities": {
      "lead": {"operations": {
        "create": {"method": "POST", "path": "/leads", "body": {"name": "{{name}}"}},
        "update": {"method": "PUT", "path": "/leads/{externalId}", "body": {"name": "{{name}}"}}}},
      "property": {"operations": {
        "create": {"method": "POST", "path": "/props", "body": {"title": "{{title}}"}},
        "update": {"method": "PUT", "path": "/props/{externalId}", "body": {"title": "{{title}}"}}}}
    },
    "records": {"lead": )" + lead_records + "}" + (extra.empty() ? "" : ", " + extra) + "}";
  const std::string path = dir.File("records.json");
  testing::WriteFile(path, text);
  return path;
}

// The usual record shape of these tests, with `list` and `read` as given.
std::string LeadRecords(const std::string& list, const std::string& read = "") {
  return "{" + (list.empty() ? std::string() : R"("list": )" + list + ", ") +
         (read.empty() ? std::string() : R"("read": )" + read + ", ") + R"(
    "idPointer": "/id", "referencePointer": "/ref", "updatedAtPointer": "/modified",
    "fields": {
      "name": "/name",
      "email": "/contact/email",
      "status": {"from": "/stage", "transform": ["statusIn"]},
      "source": {"from": "/origin", "transform": ["sourceIn"]},
      "budgetMax": {"from": "/budget/max", "transform": ["toNumber"]},
      "preferredLocation": {"from": "/areas", "transform": ["split:;"]}
    }})";
}

constexpr char kCursorList[] = R"({
    "request": {"method": "GET", "path": "/leads", "query": {"limit": "2"}},
    "paging": {"type": "cursor", "cursorPointer": "/next", "cursorParam": "after"},
    "itemsPointer": "/data"})";

RecordReader& Reader(Adapter& adapter) {
  RecordReader* reader = AsRecordReader(&adapter);
  REQUIRE(reader != nullptr);
  return *reader;
}

Status List(Adapter& adapter, const std::string& cursor, RecordListPage* page,
            EntityKind kind = EntityKind::kLead) {
  RecordListRequest request;
  request.entity_kind = kind;
  request.cursor = cursor;
  return Reader(adapter).ListRecords(request, page);
}

RecordListPage ListOk(Adapter& adapter, const std::string& cursor,
                      EntityKind kind = EntityKind::kLead) {
  RecordListPage page;
  const Status status = List(adapter, cursor, &page, kind);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return page;
}

Poco::JSON::Object::Ptr Fields(const CrmRecord& record) {
  return Poco::JSON::Parser().parse(record.fields_json).extract<Poco::JSON::Object::Ptr>();
}

// The record's fields are exactly `expected` (a JSON object's text).
void CheckFields(const CrmRecord& record, const std::string& expected_json) {
  const Poco::JSON::Object::Ptr fields = Fields(record);
  const Poco::JSON::Object::Ptr expected =
      Poco::JSON::Parser().parse(expected_json).extract<Poco::JSON::Object::Ptr>();
  INFO(record.fields_json);
  CHECK(fields->size() == expected->size());
  for (const std::string& name : expected->getNames()) {
    CAPTURE(name);
    REQUIRE(fields->has(name));
    std::ostringstream want;
    std::ostringstream got;
    expected->get(name).isEmpty() ? want << "null" : want << expected->get(name).toString();
    fields->get(name).isEmpty() ? got << "null" : got << fields->get(name).toString();
    CHECK(got.str() == want.str());
  }
}

// A scripted answer and the outcome it must give, with a fragment of its message.
struct AnswerCase {
  int status;
  const char* body;
  StatusCode expected;
  const char* fragment;
};

// `status` failed as `code`, saying `fragment`.
void CheckFails(const Status& status, StatusCode code, const std::string& fragment) {
  CHECK_MESSAGE(status.code() == code, status.ToString());
  CHECK_MESSAGE(status.message().find(fragment) != std::string::npos, status.ToString());
}

void CheckApiKeys(const testing::RecordedRequest& request) {
  CHECK(request.Header("X-API-Key") == testing::kApiKey);
  CHECK(request.Header("X-API-Secret") == testing::kApiSecret);
}

TEST_SUITE("plugins.generic_rest.records") {
  TEST_CASE("list: cursor pages are read one per call, and the cursor resumes a new adapter") {
    RecordingCrm crm;
    testing::TempDir dir;
    const std::string mapping = RecordsMapping(dir, LeadRecords(kCursorList));
    std::unique_ptr<Adapter> adapter = NewAdapter(mapping, crm);
    crm.Script(200, R"({"data": [
        {"id": 501, "ref": "lead:42", "modified": 1764756900000, "name": "Asha",
         "contact": {"email": "asha@example.com"}, "stage": "closed_won", "origin": "web",
         "budget": {"max": "150000"}, "areas": "Indiranagar;Koramangala"},
        {"id": "c-2", "ref": "", "modified": "2026-12-03T10:15:00Z", "name": "Hand made",
         "contact": {"email": ""}, "stage": "contacted", "origin": "other"}],
      "next": "n2"})");
    RecordListPage page = ListOk(*adapter, "");
    REQUIRE(page.records.size() == 2);
    CHECK(page.more);
    const CrmRecord& asha = page.records[0];
    CHECK(asha.entity_kind == EntityKind::kLead);
    CHECK(asha.external_id == "501");
    CHECK(asha.external_reference == "lead:42");
    CHECK(asha.updated_at.value_or("") == "2025-12-03T10:15:00.000Z");
    Poco::JSON::Object::Ptr fields = Fields(asha);
    CHECK(fields->getValue<std::string>("name") == "Asha");
    CHECK(fields->getValue<std::string>("email") == "asha@example.com");
    CHECK(fields->getValue<std::string>("status") == "CONVERTED");  // through statusMapInbound
    CHECK(fields->getValue<std::string>("source") == "website");    // through sourceMap
    CHECK(fields->getValue<double>("budgetMax") == 150000);
    CHECK(fields->getArray("preferredLocation")->size() == 2);
    // A record an agent made by hand: no reference; the CRM's empty email is
    // null; the catch-all source says nothing of the platform's, so is left out.
    const CrmRecord& hand = page.records[1];
    CHECK(hand.external_id == "c-2");
    CHECK(hand.external_reference.empty());
    CHECK(hand.updated_at.value_or("") == "2026-12-03T10:15:00Z");
    fields = Fields(hand);
    CHECK(fields->isNull("email"));
    CHECK(fields->isNull("budgetMax"));  // absent from the record: the CRM holds none
    CHECK_FALSE(fields->has("source"));
    CHECK(fields->getValue<std::string>("status") == "CONTACTED");
    testing::RecordedRequest first = crm.Take();
    CHECK(first.method == "GET");
    CHECK(first.raw_path == "/leads");
    CHECK(first.query == Query{{"limit", "2"}});
    CheckApiKeys(first);

    // A restart: a new adapter goes on from the cursor the engine kept.
    std::unique_ptr<Adapter> restarted = NewAdapter(mapping, crm);
    crm.Script(200, R"({"data": [{"id": 503, "ref": "lead:43", "name": "Ravi"}], "next": null})");
    const RecordListPage last = ListOk(*restarted, page.next_cursor);
    REQUIRE(last.records.size() == 1);
    CHECK(last.records[0].external_id == "503");
    CHECK_FALSE(last.more);
    CHECK_FALSE(last.records[0].updated_at.has_value());
    CHECK(crm.Take().query == Query{{"limit", "2"}, {"after", "n2"}});

    // An empty list is one empty last page.
    crm.Script(200, R"({"data": []})");
    const RecordListPage empty = ListOk(*adapter, "");
    CHECK(empty.records.empty());
    CHECK_FALSE(empty.more);
    // A cursor this plugin did not write.
    RecordListPage unused;
    CheckFails(List(*adapter, R"({"after": "x"})", &unused), StatusCode::kPermanent,
               "not one this plugin wrote");
  }

  TEST_CASE("list: page numbers, the Link header and nextPath page the list") {
    RecordingCrm crm;
    testing::TempDir dir;
    {
      std::unique_ptr<Adapter> adapter = NewAdapter(
          RecordsMapping(dir, LeadRecords(R"({
            "request": {"method": "GET", "path": "/leads"},
            "paging": {"type": "page", "pageParam": "page", "firstPage": 0, "pageSize": 2},
            "itemsPointer": ""})")),
          crm);
      crm.Script(200, R"([{"id": 1, "ref": "lead:1"}, {"id": 2, "ref": "lead:2"}])");
      RecordListPage page = ListOk(*adapter, "");
      CHECK(page.records.size() == 2);
      REQUIRE(page.more);
      crm.Script(200, R"([{"id": 3, "ref": "lead:3"}])");
      page = ListOk(*adapter, page.next_cursor);
      CHECK(page.records.size() == 1);
      CHECK_FALSE(page.more);  // a short page is the last
      const std::vector<testing::RecordedRequest> sent = crm.Drain();
      REQUIRE(sent.size() == 2);
      CHECK(sent[0].query == Query{{"page", "0"}});
      CHECK(sent[1].query == Query{{"page", "1"}});
    }
    {
      std::unique_ptr<Adapter> adapter = NewAdapter(
          RecordsMapping(dir, LeadRecords(R"({
            "request": {"method": "GET", "path": "/leads"},
            "paging": {"type": "link"}, "itemsPointer": "/items"})")),
          crm);
      crm.Script(200, R"({"items": [{"id": 1, "ref": "lead:1"}]})",
                 {{"Link", "<" + crm.url() + "/leads?page=2>; rel=\"next\""}});
      RecordListPage page = ListOk(*adapter, "");
      REQUIRE(page.more);
      crm.Script(200, R"({"items": [{"id": 2, "ref": "lead:2"}]})",
                 {{"Link", "<https://elsewhere.example.com/leads?page=3>; rel=\"next\""}});
      RecordListPage next;
      // A next page on another origin: credentials stay home, and the page is
      // tried again rather than taken as the last.
      CheckFails(List(*adapter, page.next_cursor, &next), StatusCode::kRetryable,
                 "another origin");
      const std::vector<testing::RecordedRequest> sent = crm.Drain();
      REQUIRE(sent.size() == 2);
      CHECK(sent[1].query == Query{{"page", "2"}});
    }
    {
      std::unique_ptr<Adapter> adapter = NewAdapter(
          RecordsMapping(dir, LeadRecords(R"({
            "request": {"method": "GET", "path": "/leads"},
            "paging": {"type": "nextPath", "nextPointer": "/nextRecordsUrl"},
            "itemsPointer": "/records"})")),
          crm);
      crm.Script(200, R"({"records": [{"id": 1, "ref": "lead:1"}],
                          "nextRecordsUrl": "/leads/query-2000"})");
      RecordListPage page = ListOk(*adapter, "");
      REQUIRE(page.more);
      crm.Script(200, R"({"records": [{"id": 2, "ref": "lead:2"}], "nextRecordsUrl": null})");
      page = ListOk(*adapter, page.next_cursor);
      CHECK_FALSE(page.more);
      const std::vector<testing::RecordedRequest> sent = crm.Drain();
      REQUIRE(sent.size() == 2);
      CHECK(sent[1].raw_path == "/leads/query-2000");
    }
  }

  TEST_CASE("list: an answer that cannot be read is retryable, never an empty page") {
    RecordingCrm crm;
    testing::TempDir dir;
    std::unique_ptr<Adapter> adapter = NewAdapter(RecordsMapping(dir, LeadRecords(kCursorList)),
                                                  crm);
    const AnswerCase cases[] = {
        {200, R"({"items": []})", StatusCode::kRetryable,
         "expected an array of records at /data, got nothing there"},
        {200, R"({"data": {"id": 1}})", StatusCode::kRetryable,
         "expected an array of records at /data, got an object"},
        {200, R"({"data": ["lead:1"]})", StatusCode::kRetryable, "item 0"},
        {200, R"({"data": [{"ref": "lead:1"}]})", StatusCode::kRetryable,
         "the record's CRM id (a string or number) at /id"},
        {200, R"({"data": [{"id": 7, "ref": 42}]})", StatusCode::kRetryable,
         "our reference (a string, or nothing) at /ref, got a number"},
        {200, R"({"data": [{"id": 7, "ref": "lead:7", "stage": "archived"}]})",
         StatusCode::kRetryable, "unknown CRM status 'archived'"},
        {200, R"({"data": [{"id": 7, "ref": "lead:7", "modified": true}]})",
         StatusCode::kRetryable, "the update time (ISO 8601 or Unix milliseconds) at /modified"},
        {200, R"({"data": [{"id": 7, "ref": "lead:7", "budget": {"max": "lots"}}]})",
         StatusCode::kRetryable, "toNumber"},
        {200, R"({"data": [], "next": {"after": 2}})", StatusCode::kRetryable,
         "the next cursor at /next is neither a string nor a number"},
        {200, "<html>maintenance</html>", StatusCode::kRetryable, "is not JSON"},
        {503, R"({"message": "down"})", StatusCode::kRetryable, "records.lead.list"},
        {429, R"({"message": "slow down"})", StatusCode::kRateLimited, "records.lead.list"},
        {401, R"({"message": "bad key"})", StatusCode::kUnauthenticated, "records.lead.list"},
        // The list's own 404 is a moved endpoint, not "this plugin cannot list".
        {404, R"({"message": "no route"})", StatusCode::kPermanent, "records.lead.list"},
    };
    for (const AnswerCase& c : cases) {
      CAPTURE(c.body);
      crm.Script(c.status, c.body);
      RecordListPage page;
      page.more = true;
      CheckFails(List(*adapter, "", &page), c.expected, c.fragment);
      CHECK(page.records.empty());
      crm.Drain();
    }
    // Explicit null items: a page with nothing on it (Pipedrive's data: null).
    crm.Script(200, R"({"data": null})");
    CHECK(ListOk(*adapter, "").records.empty());
  }

  TEST_CASE("list: a mapping without records.<entity>.list cannot list, and says so") {
    RecordingCrm crm;
    testing::TempDir dir;
    std::unique_ptr<Adapter> adapter = NewAdapter(
        RecordsMapping(dir, LeadRecords("", R"({"request": {"method": "GET",
                                                            "path": "/leads/{externalId}"}})")),
        crm);
    RecordListPage page;
    CheckFails(List(*adapter, "", &page), StatusCode::kNotFound, "has no records.lead.list");
    CheckFails(List(*adapter, "", &page, EntityKind::kProperty), StatusCode::kNotFound,
               "has no records.property.list");
    CrmRecord record;
    CheckFails(Reader(*adapter).ReadRecord(EntityKind::kProperty, "p1", &record),
               StatusCode::kPermanent, "cannot read a property");
    CHECK(crm.requests().empty());
    // A mapping with no records section at all is a reader that lists nothing.
    std::unique_ptr<Adapter> minimal = NewAdapter(
        BaseSettings(CRMSYNC_SOURCE_DIR "/tests/plugins/generic_rest/fixtures/minimal.json",
                     crm.url()));
    CheckFails(List(*minimal, "", &page), StatusCode::kNotFound, "has no records.lead.list");
  }

  TEST_CASE("read: the record by id, and only the record's own 404 is not found") {
    RecordingCrm crm;
    testing::TempDir dir;
    std::unique_ptr<Adapter> adapter = NewAdapter(
        RecordsMapping(dir,
                       LeadRecords("", R"({"request": {"method": "GET",
                                                        "path": "/leads/{externalId}"},
                                           "recordPointer": "/data",
                                           "notFoundStatus": [204]})"),
                       R"("classify": [{"status": 404, "bodyPointer": "/error/route",
                                        "as": "permanent"}])"),
        crm);
    RecordReader& reader = Reader(*adapter);
    crm.Script(200, R"({"data": {"id": "a b", "ref": "lead:42", "name": "Asha",
                                 "stage": "won"}})");
    CrmRecord record;
    Status status = reader.ReadRecord(EntityKind::kLead, "a b", &record);
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(record.external_id == "a b");
    CHECK(record.external_reference == "lead:42");
    CHECK(Fields(record)->getValue<std::string>("status") == "CONVERTED");
    testing::RecordedRequest sent = crm.Take();
    CHECK(sent.method == "GET");
    CHECK(sent.raw_path == "/leads/a%20b");
    CheckApiKeys(sent);

    const AnswerCase cases[] = {
        {404, R"({"message": "lead 9 not found"})", StatusCode::kNotFound,
         "the CRM has no lead 9 (it answered 404)"},
        {204, "", StatusCode::kNotFound, "the CRM has no lead 9 (it answered 204)"},
        // A 404 the mapping's rules say is not the record's (a gateway's).
        {404, R"({"error": {"route": "/leads/9"}})", StatusCode::kPermanent, "records.lead.read"},
        {200, R"({"record": {"id": 9}})", StatusCode::kRetryable, "the lead at /data"},
        {200, R"({"data": {"ref": "lead:9"}})", StatusCode::kRetryable,
         "the record's CRM id (a string or number) at /id"},
        {200, R"({"data": [1, 2]})", StatusCode::kRetryable, "a record (an object), got an array"},
        {200, "not json", StatusCode::kRetryable, "is not JSON"},
        {500, R"({"message": "boom"})", StatusCode::kRetryable, "records.lead.read"},
    };
    for (const AnswerCase& c : cases) {
      CAPTURE(c.body);
      crm.Script(c.status, c.body);
      CheckFails(reader.ReadRecord(EntityKind::kLead, "9", &record), c.expected, c.fragment);
      crm.Drain();
    }
    // No CRM at all: never "not found".
    const int closed = testing::FreePort();
    std::unique_ptr<Adapter> away = NewAdapter(
        BaseSettings(RecordsMapping(dir, LeadRecords(kCursorList)),
                     "http://127.0.0.1:" + std::to_string(closed)));
    RecordListPage page;
    CHECK(List(*away, "", &page).code() == StatusCode::kRetryable);
  }

  TEST_CASE("read: defaults to the entity's fetch") {
    RecordingCrm crm;
    testing::TempDir dir;
    std::unique_ptr<Adapter> adapter = NewAdapter(
        RecordsMapping(dir, LeadRecords(kCursorList),
                       R"("webhooks": {"fields": {"lead": {"name": "/name"}}},
                          "fetch": {"lead": {"request": {"method": "GET",
                                                         "path": "/v2/leads/{externalId}"},
                                             "recordPointer": "/lead",
                                             "notFoundStatus": [204]}})"),
        crm);
    crm.Script(200, R"({"lead": {"id": 9, "ref": "lead:9", "name": "Ravi"}})");
    CrmRecord record;
    const Status status = Reader(*adapter).ReadRecord(EntityKind::kLead, "9", &record);
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(record.external_reference == "lead:9");
    CHECK(Fields(record)->getValue<std::string>("name") == "Ravi");
    CHECK(crm.Take().raw_path == "/v2/leads/9");
    crm.Script(204, "");
    CHECK(Reader(*adapter).ReadRecord(EntityKind::kLead, "9", &record).code() ==
          StatusCode::kNotFound);
  }

  TEST_CASE("config: every problem of a records section is named by its JSON path") {
    testing::TempDir dir;
    struct Case {
      std::string records;
      std::string extra;
      std::string expected;
    };
    const std::vector<Case> cases = {
        {R"({"list": )" + std::string(kCursorList) + R"(, "fields": {}})", "",
         "/records/lead/referencePointer: required"},
        {R"({"read": {"request": {"method": "GET", "path": "/l/{externalId}"}},
             "referencePointer": "/ref"})", "", "/records/lead/fields: required"},
        {R"({"referencePointer": "/ref", "fields": {}})", "",
         "/records/lead: needs list (every lead, page by page) or read"},
        {R"({"list": {"request": {"method": "GET", "path": "/l"}}, "referencePointer": "/ref",
             "fields": {}})", "", "/records/lead/list/itemsPointer: required"},
        {R"({"list": {"request": {"method": "DELETE", "path": "/l"}, "itemsPointer": ""},
             "referencePointer": "/ref", "fields": {}})", "",
         "/records/lead/list/request/method: records are read with GET"},
        {R"({"list": {"request": {"method": "GET", "path": "/l"}, "itemsPointer": "",
                      "paging": {"type": "pages"}}, "referencePointer": "/ref", "fields": {}})",
         "", "/records/lead/list/paging/type: must be cursor, page, link or nextPath"},
        {R"({"list": {"request": {"method": "GET", "path": "/l/{externalId}"},
                      "itemsPointer": ""}, "referencePointer": "/ref", "fields": {}})", "",
         "/records/lead/list/request/path"},
        {R"({"read": {"request": {"method": "GET", "path": "/l/{externalId}"}, "recordPtr": ""},
             "referencePointer": "/ref", "fields": {}})", "", "/records/lead/read/recordPtr: unknown key"},
        {R"({"read": {"request": {"method": "GET", "path": "/l/{externalId}"}},
             "referencePointer": "ref", "fields": {}})", "",
         "/records/lead/referencePointer: must be a JSON pointer"},
        {R"({"read": {"request": {"method": "GET", "path": "/l/{externalId}"}},
             "referencePointer": "/ref", "fields": {"nmae": "/name"}})", "",
         "/records/lead/fields/nmae: not a platform lead field that a record holds; did you mean 'name'?"},
        {R"({"read": {"request": {"method": "GET", "path": "/l/{externalId}"}},
             "referencePointer": "/ref",
             "fields": {"status": {"from": "/s", "transform": ["status"]}}})", "",
         "/records/lead/fields/status/transform/0: transform 'status' is for outbound templates"},
        {R"({"read": {"request": {"method": "GET", "path": "/l/{externalId}"}},
             "referencePointer": "/ref", "fields": {}, "updatedAt": "/u"})", "",
         "/records/lead/updatedAt: unknown key"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.records);
      const Status status = testing::ConfigureStatus(BaseSettings(
          RecordsMapping(dir, c.records, c.extra), "http://127.0.0.1:9"));
      CHECK(status.code() == StatusCode::kInvalidConfig);
      CHECK_MESSAGE(status.message().find(c.expected) != std::string::npos, status.ToString());
    }
    // An entity that is no entity, and one the mapping does not sync.
    const std::string path = dir.File("entities.json");
    testing::WriteFile(path, R"({
      "name": "test-records",
      "statusMap": {"lead": {"NEW": "n", "CONTACTED": "c", "QUALIFIED": "q",
                             "VIEWING_SCHEDULED": "v", "VIEWED": "v", "NEGOTIATING": "g",
                             "CONVERTED": "w", "LOST": "l"}},
      "entities": {"lead": {"operations": {
        "create": {"method": "POST", "path": "/l", "body": {}},
        "update": {"method": "PUT", "path": "/l/{externalId}", "body": {}}}}},
      "records": {
        "deal": {},
        "property": {"read": {"request": {"method": "GET", "path": "/p/{externalId}"}},
                     "referencePointer": "/ref", "fields": {}}}})");
    const Status status = testing::ConfigureStatus(BaseSettings(path, "http://127.0.0.1:9"));
    CHECK_MESSAGE(status.message().find("/records/deal: unknown entity") != std::string::npos,
                  status.ToString());
    CHECK_MESSAGE(status.message().find("/records/property: needs /entities/property") !=
                      std::string::npos,
                  status.ToString());
  }

  TEST_CASE("sunshine-reference: every lead and property listed and read on reference-crm") {
    testing::ReferenceCrmProcess reference(
        {"--api-key", testing::kApiKey, "--api-secret", testing::kApiSecret});
    const std::map<std::string, std::string> keys = {{"X-API-Key", testing::kApiKey},
                                                     {"X-API-Secret", testing::kApiSecret}};
    // 230 leads: three pages of the mapping's 100. One made by an agent, with
    // no reference.
    for (int i = 1; i <= 229; ++i) {
      const std::string body =
          R"({"name": "Lead )" + std::to_string(i) + R"(", "email": "l)" + std::to_string(i) +
          R"(@example.com", "status": "contacted", "source": "portal",
             "budgetRange": {"min": 100000, "max": 250000}, "preferredAreas": ["Baner", "Aundh"],
             "externalReference": "lead:)" + std::to_string(i) + R"(", "assignedAgent": "agent-7",
             "utmSource": "google", "createdDate": "2026-11-01T09:00:00Z", "notes": "called"})";
      REQUIRE(testing::HttpCall(reference.port, "POST", "/api/v1/leads", body, keys).status ==
              201);
    }
    REQUIRE(testing::HttpCall(reference.port, "POST", "/api/v1/leads",
                              R"({"name": "Walk-in", "status": "won", "source": "fax"})", keys)
                .status == 201);
    REQUIRE(testing::HttpCall(reference.port, "POST", "/api/v1/properties",
                              R"({"title": "2BHK", "price": 7500000,
                                  "location": {"city": "Pune", "locality": "Baner"},
                                  "status": "sold", "owner": "owner-1", "assignedAgent": "agent-7",
                                  "internalId": "p-1", "externalReference": "property:p-1"})",
                              keys)
                .status == 201);

    std::unique_ptr<Adapter> adapter =
        NewAdapter(BaseSettings("crms/sunshine-reference.json", reference.Url()));
    std::map<std::string, CrmRecord> seen;
    std::string cursor;
    int pages = 0;
    for (bool more = true; more; ++pages) {
      // Every page from a new adapter: the cursor is all a restart keeps.
      std::unique_ptr<Adapter> fresh =
          NewAdapter(BaseSettings("crms/sunshine-reference.json", reference.Url()));
      const RecordListPage page = ListOk(*fresh, cursor);
      for (const CrmRecord& record : page.records) {
        CHECK_MESSAGE(seen.count(record.external_id) == 0, record.external_id << " listed twice");
        seen[record.external_id] = record;
      }
      more = page.more;
      cursor = page.next_cursor;
      REQUIRE(pages < 10);
    }
    CHECK(pages == 3);
    REQUIRE(seen.size() == 230);
    std::set<std::string> references;
    const CrmRecord* walk_in = nullptr;
    for (const auto& [id, record] : seen) {
      if (record.external_reference.empty()) walk_in = &record;
      references.insert(record.external_reference);
    }
    CHECK(references.count("lead:1") == 1);
    CHECK(references.count("lead:229") == 1);
    REQUIRE(walk_in != nullptr);
    Poco::JSON::Object::Ptr fields = Fields(*walk_in);
    CHECK(fields->getValue<std::string>("status") == "CONVERTED");
    CHECK_FALSE(fields->has("source"));  // "fax" is no option of the sourceMap
    CHECK(fields->isNull("email"));

    // One read by id: every field the mapping sends comes back, by platform name.
    std::string lead_7;
    for (const auto& [id, record] : seen) {
      if (record.external_reference == "lead:7") lead_7 = id;
    }
    CrmRecord record;
    Status status = Reader(*adapter).ReadRecord(EntityKind::kLead, lead_7, &record);
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(record.external_reference == "lead:7");
    // Every field the mapping sends comes back by platform name; lostReason,
    // never sent, is null.
    CheckFields(record, R"({"name": "Lead 7", "email": "l7@example.com", "phone": null,
        "status": "CONTACTED", "source": "portal", "budgetMin": 100000, "budgetMax": 250000,
        "preferredLocation": ["Baner", "Aundh"], "assignedToId": "agent-7", "utmSource": "google",
        "createdAt": "2026-11-01T09:00:00Z", "notes": "called", "lostReason": null})");
    CHECK(seen[lead_7].fields_json == record.fields_json);  // list and read agree
    CHECK(Reader(*adapter).ReadRecord(EntityKind::kLead, "lead_999999", &record).code() ==
          StatusCode::kNotFound);

    // Properties.
    const RecordListPage properties = ListOk(*adapter, "", EntityKind::kProperty);
    REQUIRE(properties.records.size() == 1);
    CHECK_FALSE(properties.more);
    const CrmRecord& listing = properties.records[0];
    CHECK(listing.external_reference == "property:p-1");
    CheckFields(listing, R"({"title": "2BHK", "price": 7500000, "city": "Pune",
        "locality": "Baner", "status": "SOLD", "ownerId": "owner-1", "dealerId": "agent-7"})");
    status = Reader(*adapter).ReadRecord(EntityKind::kProperty, listing.external_id, &record);
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(record.fields_json == listing.fields_json);

    // An answer in another shape (reference-crm's lookup_other_object fault
    // wraps it as {"data": record}): retried, never "not found".
    REQUIRE(testing::HttpCall(reference.port, "POST", "/_faults",
                              R"({"lead:7": ["lookup_other_object"]})")
                .status == 200);
    CheckFails(Reader(*adapter).ReadRecord(EntityKind::kLead, lead_7, &record),
               StatusCode::kRetryable, "the record's CRM id");
    const Poco::JSON::Object::Ptr requests = reference.State()->getObject("requests");
    CHECK(requests->getValue<int>("GET /api/v1/leads") == 3);  // one request per page
    CHECK(requests->getValue<int>("GET /api/v1/leads/{id}") == 3);
  }

  TEST_CASE("the CRMs' list endpoints refuse a bad limit or cursor, and lookups stay lookups") {
    testing::ReferenceCrmProcess reference;
    const int port = reference.port;
    REQUIRE(testing::HttpCall(port, "POST", "/api/v1/leads",
                              R"({"name": "A", "externalReference": "lead:1"})")
                .status == 201);
    REQUIRE(testing::HttpCall(port, "POST", "/api/v1/leads", R"({"name": "B"})").status == 201);
    for (const char* bad : {"0", "1001", "ten", "5x"}) {
      CAPTURE(bad);
      CHECK(testing::HttpCall(port, "GET", std::string("/api/v1/leads?limit=") + bad).status ==
            400);
    }
    auto results = [&](const std::string& path) {
      const testing::HttpResult answer = testing::HttpCall(port, "GET", path);
      REQUIRE(answer.status == 200);
      return Poco::JSON::Parser().parse(answer.body).extract<Poco::JSON::Object::Ptr>();
    };
    // A cursor past every record is an empty last page.
    CHECK(results("/api/v1/leads?cursor=zzz")->getArray("results")->size() == 0);
    // One a page: the cursor is the page's last id.
    Poco::JSON::Object::Ptr page = results("/api/v1/leads?limit=1");
    CHECK(page->getArray("results")->size() == 1);
    CHECK(page->getValue<std::string>("nextCursor") ==
          page->getArray("results")->getObject(0)->getValue<std::string>("id"));
    // With externalReference it is the lookup; with nothing the records without one.
    page = results("/api/v1/leads?externalReference=lead:1&limit=5");
    REQUIRE(page->getArray("results")->size() == 1);
    CHECK(page->getArray("results")->getObject(0)->getValue<std::string>("name") == "A");
    page = results("/api/v1/leads");
    REQUIRE(page->getArray("results")->size() == 1);
    CHECK(page->getArray("results")->getObject(0)->getValue<std::string>("name") == "B");
    CHECK(testing::HttpCall(port, "GET", "/api/v1/properties/property_1").status == 404);

    testing::VendorServer hs("hubspot.py", {"--token", "t"});
    const std::map<std::string, std::string> bearer = {{"Authorization", "Bearer t"}};
    for (const char* query : {"limit=0", "limit=101", "after=x", "archived=maybe"}) {
      CAPTURE(query);
      CHECK(hs.Call("GET", std::string("/crm/v3/objects/contacts?") + query, "", bearer).status ==
            400);
    }
    const testing::HttpResult archived =
        hs.Call("GET", "/crm/v3/objects/contacts?archived=true", "", bearer);
    CHECK(archived.status == 200);
    CHECK(archived.body.find("\"results\": []") != std::string::npos);
  }

  TEST_CASE("hubspot: contacts and listings listed and read on the HubSpot stand-in") {
    testing::VendorServer hs("hubspot.py", {"--token", "pat-na1-rec"});
    hs.Control(R"({"rateLimitPerWindow": 1000,
      "customProperties": {"contacts": ["crmsync_reference", "crmsync_status", "crmsync_source",
        "crmsync_utm_source", "crmsync_related_property", "crmsync_created_date",
        "crmsync_budget_min", "crmsync_budget_max", "crmsync_preferred_areas", "crmsync_notes",
        "crmsync_lost_reason"],
        "0-420": ["crmsync_reference", "crmsync_status", "crmsync_owner", "crmsync_internal_id"]}})");
    const std::map<std::string, std::string> bearer = {{"Authorization", "Bearer pat-na1-rec"},
                                                       {"Content-Type", "application/json"}};
    // 150 contacts in two batches (two pages of the mapping's 100), one
    // without our reference.
    for (int batch = 0; batch < 2; ++batch) {
      std::string inputs;
      for (int i = batch * 75 + 1; i <= batch * 75 + 75; ++i) {
        const std::string n = std::to_string(i);
        inputs += std::string(inputs.empty() ? "" : ",") + R"({"properties": {
            "firstname": "Lead )" + n + R"(", "email": "l)" + n + R"(@example.com",
            "phone": "+91 98450 0)" + n + R"(", "hs_lead_status": "OPEN",
            "crmsync_source": "portal", "crmsync_budget_min": "100000",
            "crmsync_budget_max": "250000.5", "crmsync_preferred_areas": "Baner;Aundh",
            "crmsync_notes": "called", "crmsync_created_date": "2026-11-01T09:00:00Z"
            )" + (i == 150 ? std::string() : R"(, "crmsync_reference": "lead:)" + n + "\"") +
                  "}}";
      }
      const testing::HttpResult created = hs.Call("POST", "/crm/v3/objects/contacts/batch/create",
                                                   R"({"inputs": [)" + inputs + "]}", bearer);
      REQUIRE_MESSAGE(created.status == 201, created.body);
    }
    Settings settings = BaseSettings("crms/hubspot.json", hs.Url());
    settings["api_key"] = "pat-na1-rec";
    std::unique_ptr<Adapter> adapter = NewAdapter(settings);
    std::vector<CrmRecord> all;
    std::string cursor;
    for (int pages = 0;; ++pages) {
      REQUIRE(pages < 5);
      const RecordListPage page = ListOk(*adapter, cursor);
      all.insert(all.end(), page.records.begin(), page.records.end());
      if (!page.more) break;
      cursor = page.next_cursor;
    }
    REQUIRE(all.size() == 150);
    CHECK(all[0].external_reference == "lead:1");
    CHECK(all[149].external_reference.empty());
    CHECK(all[0].updated_at.has_value());
    // OPEN reads as QUALIFIED (statusMapInbound); no owner: HubSpot answers null.
    CheckFields(all[0], R"({"name": "Lead 1", "email": "l1@example.com",
        "phone": "+91 98450 01", "status": "QUALIFIED", "assignedToId": null,
        "source": "portal", "utmSource": null, "createdAt": "2026-11-01T09:00:00Z",
        "budgetMin": 100000, "budgetMax": 250000.5, "preferredLocation": ["Baner", "Aundh"],
        "notes": "called", "lostReason": null})");
    CrmRecord record;
    Status status = Reader(*adapter).ReadRecord(EntityKind::kLead, all[0].external_id, &record);
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(record.fields_json == all[0].fields_json);
    CHECK(record.external_reference == "lead:1");
    CHECK(Reader(*adapter).ReadRecord(EntityKind::kLead, "987654", &record).code() ==
          StatusCode::kNotFound);

    // A listing.
    const testing::HttpResult listing = hs.Call(
        "POST", "/crm/v3/objects/0-420",
        R"({"properties": {"hs_name": "2BHK", "hs_price": "7500000", "hs_city": "Pune",
                           "hs_neighborhood": "Baner", "crmsync_status": "SOLD",
                           "crmsync_owner": "owner-1", "crmsync_reference": "property:p-1"}})",
        bearer);
    REQUIRE_MESSAGE(listing.status == 201, listing.body);
    const RecordListPage listings = ListOk(*adapter, "", EntityKind::kProperty);
    REQUIRE(listings.records.size() == 1);
    CHECK(listings.records[0].external_reference == "property:p-1");
    CheckFields(listings.records[0], R"({"title": "2BHK", "price": 7500000, "city": "Pune",
        "locality": "Baner", "status": "SOLD", "ownerId": "owner-1", "dealerId": null})");
  }
}

}  // namespace
}  // namespace crmsync
