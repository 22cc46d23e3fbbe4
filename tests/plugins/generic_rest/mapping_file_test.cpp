// mapping_file_test.cpp: loading and checking generic-rest-crm mapping files
// (mapping_file.h): the typed model of a valid file, defaults, and every kind of
// error reported with its file, JSON pointer and reason, all at once.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "mapping_file.h"
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
    CHECK(HasError(errors, "inline.json: /: not valid JSON"));
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

}  // TEST_SUITE
}  // namespace
}  // namespace crmsync::genericrest
