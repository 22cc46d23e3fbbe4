// mapping_file_test.cpp: loading and checking generic-rest-crm mapping files
// (mapping_file.h): the typed model of a valid file, defaults, and every kind of
// error reported with its file, JSON pointer and reason, all at once.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "mapping_file.h"
#include "suggest.h"
#include "test_support.h"
#include "unit_test_helpers.h"

namespace crmsync::genericrest {
namespace {

using testing::FixturePath;
using testing::HasError;
using testing::Joined;
using testing::LoadFixture;
using testing::ParseErrors;

// A valid mapping with `extra` spliced into its top level and `lead_ops` as the
// lead's extra operations.
std::string Inline(const std::string& extra = "", const std::string& lead_ops = "",
                   const std::string& create =
                       R"({"method": "POST", "path": "/leads", "body": {"name": "{{name}}"}})") {
  return R"({"name": "inline",
    "statusMap": {"lead": {"NEW": "new", "CONTACTED": "contacted", "QUALIFIED": "qualified",
      "VIEWING_SCHEDULED": "viewing", "VIEWED": "viewed", "NEGOTIATING": "negotiating",
      "CONVERTED": "won", "LOST": "lost"}},
    "lookups": {"agents": {"dealer-7": "agent_123"}},
    "entities": {"lead": {"operations": {
      "create": )" +
         create + R"(,
      "update": {"method": "PUT", "path": "/leads/{externalId}", "body": {"name": "{{name}}"}})" +
         (lead_ops.empty() ? "" : ", " + lead_ops) + R"(}}})" +
         (extra.empty() ? "" : ", " + extra) + "}";
}

TEST_SUITE("plugins.generic_rest") {
  TEST_CASE("mapping file: the full fixture loads into a typed model") {
    const Mapping mapping = LoadFixture("full.json");
    CHECK(mapping.name == "test-full");
    CHECK(mapping.file == FixturePath("full.json"));
    CHECK(mapping.auth.type == AuthSpec::Type::kApiKey);
    REQUIRE(mapping.auth.headers.size() == 2);
    CHECK(mapping.auth.headers[0].first == "X-API-Key");
    CHECK(mapping.auth.headers[0].second == "{{secret.apiKey}}");
    REQUIRE(mapping.headers.size() == 2);
    CHECK(mapping.headers[0].first == "Accept");

    const EntityMapping* lead = mapping.Entity(EntityKind::kLead);
    REQUIRE(lead != nullptr);
    for (const std::string& name : OperationNames()) CHECK(lead->Find(name) != nullptr);
    CHECK(lead->Find("create")->method == "POST");
    CHECK(lead->Find("update")->path == "/api/v1/leads/{externalId}");
    CHECK(lead->Find("lookup")->results_pointer.value_or("") == "/results");
    CHECK(lead->Find("batchCreate")->max_size == 50);
    CHECK(lead->Find("batchCreate")->items_pointer.value_or("") == "/inputs");
    CHECK(lead->Find("batchCreate")->match_pointer.value_or("") == "/externalReference");
    CHECK(lead->Find("batchUpdate")->max_size == 20);
    CHECK(mapping.Entity(EntityKind::kProperty) != nullptr);

    CHECK(mapping.status_map.at("lead").at("CONVERTED") == "converted");
    CHECK(mapping.status_map_inbound.at("lead").at("closed_won") == "CONVERTED");
    // property has no statusMapInbound: it defaults to the inverse of statusMap.
    CHECK(mapping.status_map_inbound.at("property").at("sold") == "SOLD");
    CHECK(mapping.lookups.at("agents").at("dealer-7") == "agent_123");

    REQUIRE(mapping.webhooks.has_value());
    CHECK(mapping.webhooks->register_op.has_value());
    CHECK(mapping.webhooks->events.at("property.updated") == EntityKind::kProperty);
    CHECK(mapping.webhooks->fields.at("lead").size() == 4);
    CHECK(mapping.webhooks->updated_at_pointer.value_or("") == "/data/updatedAt");

    REQUIRE(mapping.classify.size() == 3);
    CHECK(mapping.classify[0].status.value_or(0) == 400);
    CHECK(mapping.classify[0].as == StatusCode::kConflict);
    CHECK(mapping.classify[1].as == StatusCode::kInvalidRecord);
  }

  TEST_CASE("mapping file: defaults (idPointer inherited, inbound statuses inverted)") {
    const Mapping mapping = LoadFixture("minimal.json");
    const EntityMapping* lead = mapping.Entity(EntityKind::kLead);
    REQUIRE(lead != nullptr);
    CHECK(lead->id_pointer == "/data/id");
    CHECK(lead->Find("create")->id_pointer == "/data/id");
    CHECK(lead->Find("lookup") == nullptr);
    CHECK(mapping.auth.type == AuthSpec::Type::kNone);
    CHECK_FALSE(mapping.webhooks.has_value());
    // VIEWING_SCHEDULED and VIEWED share "viewing": the first in funnel order wins.
    CHECK(mapping.status_map_inbound.at("lead").at("viewing") == "VIEWING_SCHEDULED");
    CHECK(mapping.status_map_inbound.at("lead").at("won") == "CONVERTED");

    Mapping defaults;
    CHECK(ParseErrors(Inline(), &defaults).empty());
    CHECK(defaults.Entity(EntityKind::kLead)->Find("create")->id_pointer == "/id");
  }

  TEST_CASE("mapping file: records (idPointer inherited, read from fetch, the list's paging)") {
    Mapping mapping;
    const std::vector<std::string> errors = ParseErrors(
        R"({"name": "records",
          "statusMap": {"lead": {"NEW": "n", "CONTACTED": "c", "QUALIFIED": "q",
            "VIEWING_SCHEDULED": "v", "VIEWED": "v", "NEGOTIATING": "g", "CONVERTED": "w",
            "LOST": "l"}},
          "entities": {"lead": {"idPointer": "/data/id", "operations": {
            "create": {"method": "POST", "path": "/l", "body": {}},
            "update": {"method": "PUT", "path": "/l/{externalId}", "body": {}}}}},
          "webhooks": {"fields": {"lead": {"name": "/name"}}},
          "fetch": {"lead": {"request": {"method": "GET", "path": "/l/{externalId}"},
                             "recordPointer": "/data", "notFoundStatus": [204]}},
          "records": {"lead": {
            "list": {"request": {"method": "POST", "path": "/l/search", "body": {"all": true}},
                     "paging": {"type": "page", "pageParam": "p", "pageSize": 50},
                     "itemsPointer": "/rows"},
            "referencePointer": "/ref",
            "fields": {"status": {"from": "/s", "transform": "statusIn"}, "email": "/mail"}}}})",
        &mapping);
    REQUIRE_MESSAGE(errors.empty(), Joined(errors));
    const RecordsSpec& records = mapping.records.at("lead");
    CHECK(records.id_pointer == "/data/id");  // the entity's
    REQUIRE(records.list.has_value());
    CHECK(records.list->method == "POST");
    REQUIRE(records.paging.has_value());
    CHECK(records.paging->type == Paging::Type::kPage);
    CHECK(records.paging->page_size.value_or(0) == 50);
    CHECK(records.items_pointer == "/rows");
    REQUIRE(records.read.has_value());  // fetch.lead's
    CHECK(records.read->path == "/l/{externalId}");
    CHECK(records.record_pointer == "/data");
    CHECK(records.not_found_status == std::vector<int>{204});
    CHECK(records.reference_pointer == "/ref");
    CHECK_FALSE(records.updated_at_pointer.has_value());
    REQUIRE(records.fields.size() == 2);
    CHECK(records.fields[0].platform_field == "status");  // in file order
    CHECK(records.fields[0].transforms == std::vector<std::string>{"statusIn"});
    CHECK(records.fields[1].from == "/mail");
  }

  TEST_CASE("mapping file: an error names the file, the JSON pointer and the reason") {
    std::vector<std::string> errors;
    Mapping mapping;
    const std::string text = Inline("", "", R"({"method": "FETCH", "path": "/leads"})");
    CHECK_FALSE(ParseMapping("/etc/x.json", text, &mapping, &errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] ==
          "/etc/x.json: /entities/lead/operations/create/method: must be one of GET POST PUT PATCH "
          "DELETE");
  }

  TEST_CASE("mapping file: every error of a broken file is reported at once, with its key") {
    Mapping mapping;
    std::vector<std::string> errors;
    const std::string file = FixturePath("broken.json");
    CHECK_FALSE(LoadMappingFile(file, &mapping, &errors));
    INFO(Joined(errors));
    const std::vector<std::string> expected = {
        file + ": /descripton: unknown key",
        file + ": /auth/headers/X-API-Key: unknown variable 'secret.apiKye'",
        file + ": /statusMap/lead/LOSTT: not a platform lead status",
        file + ": /statusMap/lead/LOST: missing",
        file + ": /entities/lead/operations/create/body/name: unknown variable 'nmae'",
        file +
            ": /entities/lead/operations/create/body/agent/$transform/0: unknown lookup table "
            "'agentz'",
        file +
            ": /entities/lead/operations/create/body/agent/$transform/1: unknown transform 'uper'",
        file + ": /entities/lead/operations/create/body/$bogus: unknown template key",
        file +
            ": /entities/lead/operations/update/method: must be one of GET POST PUT PATCH DELETE",
        file + ": /entities/lead/operations/update/path: must start with '/'",
        file + ": /entities/lead/operations/upsert: unknown operation",
        file + ": /entities/lead/operations/batchCreate/maxSize: required for batch operations",
        file + ": /entities/contact: unknown entity",
        file + ": /webhooks/events/lead.updated: must be lead or property",
        file + ": /webhooks/fields/lead/status/transform/0: transform 'status' is for outbound",
        file + ": /webhooks/fields/lead/notes: must be a JSON pointer",
        file + ": /webhooks/fields/lead/nickname: not a platform lead field",
        file + ": /classify/0/as: must be one of ok retryable",
    };
    for (const std::string& fragment : expected) {
      CAPTURE(fragment);
      CHECK(HasError(errors, fragment));
    }
    CHECK(errors.size() == expected.size());
  }

  TEST_CASE("mapping file: unreadable and malformed files") {
    Mapping mapping;
    std::vector<std::string> errors;
    CHECK_FALSE(LoadMappingFile("/nonexistent/crm.json", &mapping, &errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].rfind("/nonexistent/crm.json: cannot be read", 0) == 0);

    errors = ParseErrors("{\"name\": ");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] ==
          "inline.json: line 1, column 10 (in /name): not valid JSON: the file ends where a value "
          "was expected");
    errors = ParseErrors("[1, 2]");
    CHECK(HasError(errors, "inline.json: /: must be a JSON object"));
  }

  TEST_CASE("mapping file: required top-level keys") {
    const std::vector<std::string> errors = ParseErrors("{}");
    INFO(Joined(errors));
    CHECK(HasError(errors, "inline.json: /name: required"));
    CHECK(HasError(errors, "inline.json: /entities: required"));

    const std::vector<std::string> no_lead = ParseErrors(R"({"name": "x", "entities": {}})");
    CHECK(HasError(no_lead, "/entities/lead: required"));

    const std::vector<std::string> no_status = ParseErrors(R"({"name": "x", "entities": {"lead":
      {"operations": {"create": {"method": "POST", "path": "/l"},
                      "update": {"method": "PUT", "path": "/l/{externalId}"}}}}})");
    INFO(Joined(no_status));
    CHECK(HasError(no_status, "/statusMap/lead: required: every lead status"));
    CHECK(no_status.size() == 1);
  }

  TEST_CASE("mapping file: entities need create and update, and property needs its statuses") {
    const std::vector<std::string> errors = ParseErrors(R"({"name": "x",
      "statusMap": {"lead": {"NEW": "n", "CONTACTED": "c", "QUALIFIED": "q", "VIEWING_SCHEDULED": "v",
                             "VIEWED": "v", "NEGOTIATING": "g", "CONVERTED": "w", "LOST": "l"},
                    "property": {"ACTIVE": "a", "SOLD": "s"}},
      "entities": {"lead": {"operations": {"create": {"method": "POST", "path": "/leads"}}},
                   "property": {"operations": {"create": {"method": "POST", "path": "/p"}}}}})");
    INFO(Joined(errors));
    CHECK(HasError(errors, "/entities/lead/operations/update: required"));
    CHECK(HasError(errors, "/entities/property/operations/update: required"));
    CHECK(HasError(errors, "/statusMap/property/INACTIVE: missing"));
    CHECK(errors.size() == 3);

    const std::vector<std::string> no_property_map = ParseErrors(R"({"name": "x",
      "statusMap": {"lead": {"NEW": "n", "CONTACTED": "c", "QUALIFIED": "q", "VIEWING_SCHEDULED": "v",
                             "VIEWED": "v", "NEGOTIATING": "g", "CONVERTED": "w", "LOST": "l"}},
      "entities": {"lead": {"operations": {"create": {"method": "POST", "path": "/l"},
                                           "update": {"method": "PUT", "path": "/l/{externalId}"}}},
                   "property": {"operations": {"create": {"method": "POST", "path": "/p"},
                                               "update": {"method": "PUT", "path": "/p/{externalId}"}}}}})");
    INFO(Joined(no_property_map));
    CHECK(HasError(no_property_map, "/statusMap/property: required"));
  }

  TEST_CASE("mapping file: operation keys are checked per kind of operation") {
    const std::vector<std::string> errors = ParseErrors(Inline(
        "",
        R"("activity": {"method": "POST", "path": "/a", "metod": "GET", "resultsPointer": "/r", "maxSize": 3},
         "lookup": {"method": "GET", "path": "/leads", "body": {"x": 1}, "idPointer": "id"},
         "deal": {"path": "/deals"},
         "batchCreate": {"method": "POST", "path": "/b", "maxSize": 0, "body": {"a": 1}, "item": {"n": "{{name}}"}},
         "batchUpdate": {"method": "POST", "path": "/b", "maxSize": 5, "itemsPointer": "", "item": {}})"));
    INFO(Joined(errors));
    CHECK(HasError(errors, "/operations/activity/metod: unknown key"));
    CHECK(HasError(errors, "/operations/activity/resultsPointer: only for lookup and batch"));
    CHECK(HasError(errors, "/operations/activity/maxSize: only for batch operations"));
    CHECK(HasError(errors, "/operations/lookup/body: a GET request has no body"));
    CHECK(HasError(errors, "/operations/lookup/idPointer: must be a JSON pointer"));
    CHECK(HasError(errors, "/operations/deal/method: required"));
    CHECK(HasError(errors, "/operations/batchCreate/maxSize: must be a whole number from 1"));
    CHECK(
        HasError(errors, "/operations/batchCreate/itemsPointer: required when a batch has a body"));
    CHECK(HasError(errors, "/operations/batchUpdate/itemsPointer: must not be the whole document"));
  }

  TEST_CASE("mapping file: notFoundStatus is a lookup's list of 2xx statuses") {
    const std::vector<std::string> errors = ParseErrors(Inline(
        "",
        R"("lookup": {"method": "GET", "path": "/l", "notFoundStatus": [204, 404, "204", true]},
           "activity": {"method": "POST", "path": "/a", "notFoundStatus": [204]})"));
    INFO(Joined(errors));
    CHECK(HasError(errors, "/operations/lookup/notFoundStatus/1: must be a non-empty array of 2xx "
                           "statuses (e.g. [204])"));
    CHECK(HasError(errors, "/operations/lookup/notFoundStatus/2: must be a non-empty array"));
    CHECK(HasError(errors, "/operations/lookup/notFoundStatus/3: must be a non-empty array"));
    CHECK_FALSE(HasError(errors, "/operations/lookup/notFoundStatus/0"));
    CHECK(HasError(errors, "/operations/activity/notFoundStatus: only for lookup operations"));
    CHECK(HasError(
        ParseErrors(Inline("", R"("lookup": {"method": "GET", "path": "/l", "notFoundStatus": []})")),
        "/operations/lookup/notFoundStatus: must be a non-empty array of 2xx statuses"));
    CHECK(HasError(ParseErrors(Inline(
                       "", R"("lookup": {"method": "GET", "path": "/l", "notFoundStatus": 204})")),
                   "/operations/lookup/notFoundStatus: must be a non-empty array"));
  }

  TEST_CASE("mapping file: templates are checked (variables, $-keys, dotted keys)") {
    const std::vector<std::string> errors =
        ParseErrors(Inline("",
                           R"("activity": {"method": "POST", "path": "/a/{externalId}/{bogus}",
          "query": {"q": "{{emial}}", "list": [1]},
          "headers": {"X-A": {"$from": "name", "$keepEmpty": "yes", "$extra": 1}},
          "body": {"c": {"$const": 1, "other": 2}, "loc": "{{city}}", "loc.x": "{{name}}",
                   "a..b": "x", "open": "{{name", "secret": "{{secret.apiKey}}",
                   "t": {"$from": "name", "$transform": ["join", "date", "default", "status:x", 5]}}},
         "batchCreate": {"method": "POST", "path": "/b", "maxSize": 5, "itemsPointer": "/in",
                         "body": {"by": "{{name}}", "at": "{{now}}"}, "item": {"n": "{{name}}"}})"));
    INFO(Joined(errors));
    CHECK(HasError(errors, "/operations/activity/path: unknown variable 'bogus'"));
    CHECK(HasError(errors, "/operations/activity/query/q: unknown variable 'emial'"));
    CHECK(HasError(errors, "/operations/activity/query/list: must be a text"));
    CHECK(HasError(errors, "/operations/activity/headers/X-A/$keepEmpty: must be true or false"));
    CHECK(HasError(errors, "/operations/activity/headers/X-A/$extra: unknown key"));
    CHECK(HasError(errors, "/operations/activity/body/c/other: not allowed beside $const"));
    CHECK(HasError(errors, "/operations/activity/body/loc.x: conflicts with the key 'loc'"));
    CHECK(HasError(errors, "/operations/activity/body/a..b: a dotted key needs a name"));
    CHECK(HasError(errors, "/operations/activity/body/open: '{{' without a closing"));
    // Secrets are for auth and headers only, never bodies.
    CHECK(HasError(errors, "/operations/activity/body/secret: unknown variable 'secret.apiKey'"));
    CHECK(HasError(errors, "/body/t/$transform/0: transform 'join' needs a separator"));
    CHECK(HasError(errors, "/body/t/$transform/1: transform 'date' needs a format"));
    CHECK(HasError(errors, "/body/t/$transform/2: transform 'default' needs a text"));
    CHECK(HasError(errors, "/body/t/$transform/3: transform 'status' takes no argument"));
    CHECK(HasError(errors, "/body/t/$transform/4: must be a string"));
    // What surrounds batch items knows no job: only `now`.
    CHECK(HasError(errors, "/operations/batchCreate/body/by: unknown variable 'name'"));
    CHECK_FALSE(HasError(errors, "/operations/batchCreate/body/at"));
    CHECK_FALSE(HasError(errors, "/operations/batchCreate/item"));
  }

  TEST_CASE("mapping file: auth is checked per type") {
    CHECK(HasError(ParseErrors(Inline(R"("auth": {"type": "oauth"})")),
                   "/auth/type: must be one of"));
    CHECK(HasError(ParseErrors(Inline(R"("auth": {"type": "bearer"})")), "/auth/token: required"));
    CHECK(
        HasError(ParseErrors(Inline(R"("auth": {"type": "bearer", "token": "x", "headers": {}})")),
                 "/auth/headers: unknown key"));
    const std::vector<std::string> hmac = ParseErrors(Inline(
        R"("auth": {"type": "hmac", "secret": "{{secret.apiSecret}}", "encoding": "base32",
                  "payload": "{{method}} {{query}}"})"));
    INFO(Joined(hmac));
    CHECK(HasError(hmac, "/auth/encoding: must be hex or base64"));
    CHECK(HasError(hmac, "/auth/payload: unknown variable 'query'"));
    CHECK(ParseErrors(Inline(R"("auth": {"type": "hmac", "secret": "{{secret.apiSecret}}"})"))
              .empty());
    CHECK(HasError(ParseErrors(Inline(R"("headers": {"X-A": "{{name}}"})")),
                   "/headers/X-A: unknown variable 'name'"));
  }

  TEST_CASE("mapping file: status tables, lookups, webhooks and classify rules are checked") {
    const std::vector<std::string> errors = ParseErrors(Inline(
        R"("statusMapInbound": {"lead": {"won": "WON"}, "deal": {}},
         "lookups": {"bad": {"a": 1}, "worse": 3},
         "webhooks": {"eventPointer": "event", "register": {"method": "POST", "path": "/h",
                      "body": {"u": "{{webhook.url}}", "n": "{{name}}"}, "extra": 1},
                      "fields": {"lead": {"id": "/id", "status": {"from": "/s", "transform": "lookupReverse:none"}},
                                 "deal": {}}},
         "classify": [{"status": 99, "equals": "x", "as": "ok"}, "rule"])"));
    INFO(Joined(errors));
    CHECK(HasError(errors, "/statusMapInbound/lead/won: the value must be a platform lead status"));
    CHECK(HasError(errors, "/statusMapInbound/deal: unknown entity"));
    CHECK(HasError(errors, "/lookups/bad/a: must be a string"));
    CHECK(HasError(errors, "/lookups/worse: must be an object"));
    CHECK(HasError(errors, "/webhooks/eventPointer: must be a JSON pointer"));
    CHECK(HasError(errors, "/webhooks/register/extra: unknown key"));
    CHECK(HasError(errors, "/webhooks/register/body/n: unknown variable 'name'"));
    CHECK_FALSE(HasError(errors, "/webhooks/register/body/u"));
    CHECK(HasError(errors, "/webhooks/fields/lead/id: not a platform lead field"));
    CHECK(HasError(errors, "/webhooks/fields/lead/status/transform: unknown lookup table 'none'"));
    CHECK(HasError(errors, "/webhooks/fields/deal: unknown entity"));
    CHECK(HasError(errors, "/classify/0/status: must be an HTTP status"));
    CHECK(HasError(errors, "/classify/0/equals: needs a bodyPointer"));
    CHECK(HasError(errors, "/classify/1: must be an object"));
  }

  TEST_CASE("mapping file: rateLimit names the CRM's budget headers, one set or several") {
    Mapping mapping;
    std::vector<std::string> errors = ParseErrors(
        Inline(R"("rateLimit": {"remainingHeader": "X-Acme-Left", "resetHeader": "X-Acme-Reset",
                                "resetFormat": "unixSeconds"})"),
        &mapping);
    INFO(Joined(errors));
    REQUIRE(errors.empty());
    REQUIRE(mapping.rate_limit.size() == 1);
    CHECK(mapping.rate_limit[0].remaining_header == "X-Acme-Left");
    CHECK(mapping.rate_limit[0].reset_header == "X-Acme-Reset");
    CHECK(mapping.rate_limit[0].reset_format == RateLimitReset::kUnixSeconds);

    errors = ParseErrors(
        Inline(R"("rateLimit": [{"structuredHeader": "RateLimit"},
                                {"usageHeader": "Sforce-Limit-Info", "usageKey": "api-usage",
                                 "windowSeconds": 86400}])"),
        &mapping);
    REQUIRE(errors.empty());
    REQUIRE(mapping.rate_limit.size() == 2);
    CHECK(mapping.rate_limit[0].structured_header == "RateLimit");
    CHECK(mapping.rate_limit[1].usage_header == "Sforce-Limit-Info");
    CHECK(mapping.rate_limit[1].usage_key == "api-usage");
    CHECK(mapping.rate_limit[1].window_ms == 86400000);

    CHECK(ParseErrors(Inline()).empty());  // no rateLimit: the engine's defaults
  }

  TEST_CASE("mapping file: every bad rateLimit is an error naming its key") {
    struct Row {
      const char* rate_limit;
      const char* error;
    };
    const Row rows[] = {
        {R"("X-Acme-Left")",
         "inline.json: /rateLimit: must be an object naming the budget headers (or an array"},
        {"[]", "inline.json: /rateLimit: must not be an empty array"},
        {R"([{"structuredHeader": "RateLimit"}, 3])", "inline.json: /rateLimit/1: must be an object"},
        {"{}", "inline.json: /rateLimit: names no budget header"},
        {R"({"remainingHeader": "X Acme Left", "windowSeconds": 10})",
         "inline.json: /rateLimit/remainingHeader: must be a header name"},
        {R"({"remainingHeader": "X-Acme-Left", "resetHeader": "X-Acme-Reset", "resetFormat": "hours"})",
         "inline.json: /rateLimit/resetFormat: must be one of auto seconds milliseconds"},
        {R"({"remainingHeader": "X-Acme-Left"})",
         "inline.json: /rateLimit/remainingHeader: needs a resetHeader or windowSeconds"},
        {R"({"remainingHeader": "X-Acme-Left", "resetHeader": "X-R", "remaining": "X-L"})",
         "inline.json: /rateLimit/remaining: unknown key (expected one of remainingHeader"},
        {R"([{"usageHeader": "Sforce-Limit-Info", "windowSeconds": 0}])",
         "inline.json: /rateLimit/0/windowSeconds: must be a whole number of seconds from 1 to "
         "2678400"},
    };
    for (const Row& row : rows) {
      const std::string rate_limit = row.rate_limit;
      CAPTURE(rate_limit);
      const std::vector<std::string> errors = ParseErrors(Inline("\"rateLimit\": " + rate_limit));
      INFO(Joined(errors));
      CHECK(HasError(errors, row.error));
    }
  }

  TEST_CASE("mapping file: an outbound transform in a webhook field and the reverse are errors") {
    const std::vector<std::string> errors = ParseErrors(Inline(
        R"("webhooks": {"fields": {"lead": {"assignedToId": {"from": "/a", "transform": ["lookup:agents"]}}}})",
        R"("activity": {"method": "POST", "path": "/a", "body": {"s": {"$from": "status", "$transform": ["statusIn"]}}})"));
    INFO(Joined(errors));
    CHECK(HasError(
        errors,
        "/webhooks/fields/lead/assignedToId/transform/0: transform 'lookup' is for outbound"));
    CHECK(HasError(errors, "/body/s/$transform/0: transform 'statusIn' is for webhook fields"));
  }

  TEST_CASE("mapping file: ParseOutcomeName knows every outcome") {
    StatusCode code = StatusCode::kOk;
    for (const char* name : {"ok", "retryable", "rate_limited", "unauthenticated", "not_found",
                             "conflict", "invalid_record", "permanent"}) {
      CAPTURE(name);
      CHECK(ParseOutcomeName(name, &code));
    }
    CHECK(ParseOutcomeName("conflict", &code));
    CHECK(code == StatusCode::kConflict);
    CHECK_FALSE(ParseOutcomeName("duplicate", &code));
  }

  TEST_CASE("mapping file: a JSON syntax error is reported with its line and column") {
    struct Case {
      const char* text;
      const char* where;   // "line L, column C" and the pointer, as in the message
      const char* reason;  // the start of the reason
    };
    const Case kCases[] = {
        // A comma missing between two members (the mistake people make most).
        {"{\n  \"name\": \"x\"\n  \"entities\": {}\n}", "line 3, column 3",
         "expected ',' or '}' after the value of \"name\", found '\"' (a comma missing?)"},
        // Two commas: Poco says only "unexpected byte ','".
        {"{\"name\": \"x\",, \"a\": 1}", "line 1, column 14",
         "expected a key in double quotes, found ','"},
        // A trailing comma: pointed at the comma.
        {"{\n  \"name\": \"x\",\n}", "line 2, column 14",
         "a comma before '}' is not allowed in JSON (trailing comma)"},
        {"{\"classify\": [1, 2,]}", "line 1, column 19 (in /classify)",
         "a comma before ']' is not allowed"},
        // A string not closed before the line ends.
        {"{\n  \"name\": \"x,\n  \"b\": 1\n}", "line 2, column 14 (in /name)",
         "the string opened at line 2, column 11 is not closed before the end of the line"},
        {"{\"name\": \"x", "line 1, column 10 (in /name)",
         "the string opened here is never closed"},
        {"{'name': 1}", "line 1, column 2", "keys need double quotes"},
        {"{\"name\": 'x'}", "line 1, column 10 (in /name)", "strings need double quotes"},
        {"{\n  // the CRM's name\n  \"name\": \"x\"\n}", "line 2, column 3",
         "comments are not allowed in JSON"},
        {"{\"name\": // the CRM's name\n \"x\"}", "line 1, column 10 (in /name)",
         "comments are not allowed in JSON"},
        {"{\"name\": True}", "line 1, column 10 (in /name)", "unknown word 'True'"},
        {"{\"name\" \"x\"}", "line 1, column 9", "expected ':' after the key \"name\", found '\"'"},
        // The file ends inside an object: where it was opened is named.
        {"{\"name\": \"x\", \"entities\": {\"lead\": {}", "line 1, column 38 (in /entities)",
         "the file ends inside the object opened at line 1, column 27 (a '}' is missing)"},
        {"", "line 1, column 1", "the file is empty"},
        {"\xEF\xBB\xBF{\"name\": \"x\"}", "line 1, column 1",
         "the file starts with a byte order mark (BOM); save it as UTF-8 without one"},
        {"  \n", "line 2, column 1", "the file is empty"},
        // Columns count characters, not bytes: "é" is one column.
        {"{\"name\": \"Café\" \"x\": 1}", "line 1, column 17",
         "expected ',' or '}' after the value of \"name\""},
        {"{\"n\": 01}", "line 1, column 7 (in /n)", "invalid number: no leading zeros"},
        {"{\"n\": -}", "line 1, column 7 (in /n)", "invalid number: '-' needs a digit"},
        {"{\"n\": 1.}", "line 1, column 7 (in /n)", "invalid number: '.' needs a digit"},
        {"{\"n\": \"a\\q\"}", "line 1, column 9 (in /n)", "invalid escape \\q in a string"},
        {"{\"n\": \"\\u12G4\"}", "line 1, column 8 (in /n)", "\\u must be followed by four hex"},
        {"{\"classify\": [{\"as\": \"ok\"} {\"as\": \"x\"}]}", "line 1, column 28 (in /classify)",
         "expected ',' or ']' after an array element, found '{'"},
        {"{\"name\": \"x\"} x", "line 1, column 15", "more text after the end of the JSON value"},
        {"{\"name\": \"x\"}}", "line 1, column 14",
         "more text after the end of the JSON value: '}'"},
        {"{\"entities\": {\"lead\": {\"operations\": {\"create\": {\"method\": POST}}}}}",
         "line 1, column 60 (in /entities/lead/operations/create/method)", "unknown word 'POST'"},
        {"{\"name\": \"tab\there\"}", "line 1, column 14 (in /name)",
         "a control character (byte 0x09) inside a string"},
    };
    for (const Case& c : kCases) {
      CAPTURE(c.text);
      const std::vector<std::string> errors = ParseErrors(c.text);
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].rfind(
                std::string("inline.json: ") + c.where + ": not valid JSON: " + c.reason, 0) == 0);
    }
  }

  TEST_CASE("mapping file: the syntax scanner agrees with the JSON parser on what is JSON") {
    // Every mapping we ship or test is JSON to both; a one-byte deletion, or an
    // inserted ',', '}', '"' or ':', is refused by both or by neither, and
    // where both refuse, the scanner names a place inside the text.
    std::vector<std::string> files = {FixturePath("full.json"), FixturePath("minimal.json"),
                                      FixturePath("hmac.json"), FixturePath("broken.json")};
    for (const char* crm : {"hubspot.json", "sunshine-reference.json"}) {
      files.push_back(std::string(CRMSYNC_SOURCE_DIR) + "/config/crms/" + crm);
    }
    for (const std::string& file : files) {
      CAPTURE(file);
      const std::string text = ::crmsync::testing::ReadFile(file);
      JsonSyntaxError syntax;
      CHECK_FALSE(FindJsonSyntaxError(text, &syntax));
      int disagreements = 0;
      // About 600 places per file (every one of the small files), so the
      // case stays quick in a Debug build.
      const size_t step = std::max<size_t>(1, text.size() / 600);
      for (size_t i = 0, n = 0; i < text.size(); i += step, ++n) {
        std::vector<std::string> variants = {text.substr(0, i) + text.substr(i + 1)};
        if (n % 3 == 0) {
          for (const char* insert : {",", "}", "\"", ":"}) {
            variants.push_back(text.substr(0, i) + insert + text.substr(i));
          }
        }
        for (const std::string& variant : variants) {
          Var ignored;
          std::string parse_error;
          const bool parsed = ParseJson(variant, &ignored, &parse_error);
          const bool found = FindJsonSyntaxError(variant, &syntax);
          if (parsed == found || (found && syntax.offset > variant.size())) {
            if (++disagreements <= 3) {
              FAIL_CHECK("parser " << (parsed ? "accepts" : "refuses") << ", scanner "
                                   << (found ? syntax.reason : "accepts") << ", at byte " << i);
            }
          }
        }
      }
      CHECK(disagreements == 0);
    }
  }

  TEST_CASE("mapping file: line and column count lines and UTF-8 characters") {
    size_t line = 0;
    size_t column = 0;
    LineAndColumn("ab\ncé\nd", 0, &line, &column);
    CHECK((line == 1 && column == 1));
    LineAndColumn("ab\ncé\nd", 3, &line, &column);
    CHECK((line == 2 && column == 1));
    LineAndColumn("ab\ncé\nd", 6, &line, &column);  // the "\n" after "é" (2 bytes)
    CHECK((line == 2 && column == 3));
    LineAndColumn("ab\ncé\nd", 99, &line, &column);  // past the end: the end
    CHECK((line == 3 && column == 2));
  }

  TEST_CASE("mapping file: every problem is its own error, so the count is true") {
    // Three problems in three places: three errors, none joined to another.
    const std::vector<std::string> errors =
        ParseErrors(Inline(R"("descripton": "x", "auth": {"type": "oauth"})", "",
                           R"({"method": "FETCH", "path": "/leads"})"));
    INFO(Joined(errors));
    REQUIRE(errors.size() == 3);
    for (const std::string& error : errors) {
      CHECK(error.rfind("inline.json: /", 0) == 0);
      CHECK(error.find('\n') == std::string::npos);
      CHECK(error.find("inline.json", 1) == std::string::npos);
    }
  }

  TEST_CASE("mapping file: an unknown key, operation, entity or value says what was meant") {
    const std::vector<std::string> errors = ParseErrors(Inline(
        R"("descripton": "x", "statusMapInbound": {"leads": {}},
           "auth": {"type": "apikey", "headers": {"X-Key": "{{secret.apiKey}}"}},
           "webhooks": {"fields": {"lead": {"emial": "/email"}}, "evnets": {}},
           "classify": [{"status": 400, "As": "conflict"}])",
        R"("activity": {"method": "post", "path": "/a", "bdy": {}},
           "batchcreate": {"method": "POST", "path": "/b"},
           "upsert": {"method": "POST", "path": "/u"},
           "deal": {"method": "POST", "path": "/d", "body": {"n": {"$frm": "name"},
                    "m": {"$from": "name", "$transfrom": "upper"}}})"));
    INFO(Joined(errors));
    CHECK(HasError(errors,
                   "inline.json: /descripton: unknown key; did you mean 'description'? (expected "
                   "one of name description auth headers statusMap statusMapInbound lookups "
                   "sourceMap entities users webhooks fetch poll records classify rateLimit)"));
    CHECK(HasError(errors,
                   "/statusMapInbound/leads: unknown entity; did you mean 'lead'? "
                   "(expected lead or property)"));
    CHECK(HasError(errors,
                   "/auth/type: must be one of apiKey apiKeyQuery bearer hmac none oauth2; "
                   "did you mean 'apiKey'?"));
    CHECK(HasError(errors,
                   "/webhooks/fields/lead/emial: not a platform lead field that a webhook "
                   "may set; did you mean 'email'?"));
    CHECK(HasError(errors, "/webhooks/evnets: unknown key; did you mean 'events'?"));
    CHECK(HasError(errors, "/classify/0/As: unknown key; did you mean 'as'?"));
    CHECK(HasError(errors,
                   "/operations/activity/method: must be one of GET POST PUT PATCH DELETE; "
                   "did you mean 'POST'?"));
    CHECK(HasError(errors, "/operations/activity/bdy: unknown key; did you mean 'body'?"));
    CHECK(HasError(errors,
                   "/operations/batchcreate: unknown operation; did you mean "
                   "'batchCreate'?"));
    CHECK(HasError(errors,
                   "/operations/deal/body/n/$frm: unknown template key; did you mean "
                   "'$from'?"));
    CHECK(HasError(errors,
                   "/operations/deal/body/m/$transfrom: unknown key; did you mean "
                   "'$transform'?"));
    // Nothing near enough: no guess, just the list.
    CHECK(HasError(errors,
                   "/operations/upsert: unknown operation (expected one of create update "
                   "activity deal lookup batchCreate batchUpdate)"));
  }

  TEST_CASE("mapping file: an unknown variable says which one was meant") {
    const std::vector<std::string> errors =
        ParseErrors(Inline(R"("auth": {"type": "bearer", "token": "{{secret.apiKye}}"})",
                           R"("activity": {"method": "POST", "path": "/a/{externlId}",
                        "body": {"n": "{{nmae}}", "e": "{{emial}}", "x": "{{zzz}}"}})"));
    INFO(Joined(errors));
    CHECK(HasError(errors,
                   "/auth/token: unknown variable 'secret.apiKye'; did you mean "
                   "'secret.apiKey'?"));
    CHECK(HasError(errors,
                   "/operations/activity/path: unknown variable 'externlId'; did you mean "
                   "'externalId'?"));
    CHECK(HasError(errors, "/body/n: unknown variable 'nmae'; did you mean 'name'?"));
    CHECK(HasError(errors, "/body/e: unknown variable 'emial'; did you mean 'email'?"));
    CHECK(HasError(errors, "/body/x: unknown variable 'zzz'"));
    CHECK_FALSE(HasError(errors, "'zzz';"));
    CHECK(errors.size() == 5);
  }

  TEST_CASE("mapping file: an unknown transform lists the valid ones") {
    const std::vector<std::string> errors = ParseErrors(Inline(
        R"("webhooks": {"fields": {"lead": {"status": {"from": "/s", "transform": "statsIn"}}}})",
        R"("activity": {"method": "POST", "path": "/a", "body": {
             "a": {"$from": "name", "$transform": ["uper", "lookup:agentz", "trim"]}}})"));
    INFO(Joined(errors));
    CHECK(HasError(errors,
                   "/body/a/$transform/0: unknown transform 'uper'; did you mean 'upper'? "
                   "(valid: status, source, lookup:<table>, toString, toNumber, upper, lower, join:<sep>, "
                   "split:<sep>, date:<format>, default:<text>, soqlString)"));
    CHECK(HasError(errors,
                   "/body/a/$transform/1: unknown lookup table 'agentz'; did you mean "
                   "'agents'? (the mapping's lookups: agents)"));
    CHECK(HasError(errors, "/body/a/$transform/2: unknown transform 'trim' (valid: status, "));
    // A webhook field's list is the inbound one.
    CHECK(HasError(errors,
                   "/webhooks/fields/lead/status/transform: unknown transform 'statsIn'; "
                   "did you mean 'statusIn'? (valid: statusIn, sourceIn, lookupReverse:<table>, "));
  }

  TEST_CASE("mapping file: suggestions need a near name (edit distance)") {
    CHECK(EditDistance("nmae", "name") == 1);  // two neighbours swapped
    CHECK(EditDistance("descripton", "description") == 1);
    CHECK(EditDistance("Method", "method") == 0);  // case is ignored
    CHECK(EditDistance("upsert", "update") == 4);
    CHECK(EditDistance("", "abc") == 3);
    CHECK(Nearest("bdy", {"body", "path"}) == std::vector<std::string>{"body"});
    CHECK(Nearest("upsert", {"update", "create"}).empty());
    CHECK(Nearest("id", {"as"}).empty());
    CHECK(Nearest("lookp", {"lookup", "looks"}) == std::vector<std::string>{"lookup", "looks"});
    CHECK(DidYouMean("lookp", {"lookup", "looks"}) == "; did you mean 'lookup' or 'looks'?");
    CHECK(DidYouMean("zzz", {"lookup"}).empty());
  }

}  // TEST_SUITE
}  // namespace
}  // namespace crmsync::genericrest
