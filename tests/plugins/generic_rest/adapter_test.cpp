// adapter_test.cpp: the generic-rest-crm adapter without a network:
// Configure() (required settings, every mapping error, secrets kept out of
// messages), Info() capabilities from the mapping, and Classify() with the
// mapping's rules before the default table.
#include <doctest/doctest.h>

#include <string>

#include "classify_rules.h"
#include "crmsync/classify.h"
#include "crmsync/rate_limit.h"
#include "generic_rest_adapter.h"
#include "json_util.h"
#include "unit_test_helpers.h"

namespace crmsync::genericrest {
namespace {

using testing::FixturePath;
using testing::LoadFixture;

PluginConfig Config(const std::string& fixture) {
  PluginConfig config;
  config.Set("mapping", FixturePath(fixture));
  config.Set("api_url", "http://127.0.0.1:9");
  config.Set("api_key", "k-Secret-1");
  config.Set("api_secret", "s-Secret-2");
  return config;
}

HttpResponse Answer(int status, const std::string& body, const HeaderList& headers = {}) {
  HttpResponse response;
  response.status = status;
  response.body = body;
  response.headers = headers;
  return response;
}

TEST_SUITE("plugins.generic_rest") {
  TEST_CASE("adapter: Configure loads the mapping and Info reports its capabilities") {
    GenericRestAdapter adapter;
    PluginInfo info = adapter.Info();
    CHECK(info.name == "generic-rest-crm");
    CHECK(info.version == "1.0.0");
    CHECK(info.capabilities.max_batch_size == 1);
    CHECK_FALSE(info.capabilities.lookup_by_reference);
    CHECK(adapter.transport().Send(HttpRequest()).error == TransportError::kConnect);

    REQUIRE(adapter.Configure(Config("full.json")).ok());
    info = adapter.Info();
    CHECK(info.capabilities.lookup_by_reference);
    CHECK(info.capabilities.max_batch_size == 20);  // the smaller of batchCreate 50, batchUpdate 20
    CHECK(info.capabilities.webhook_registration);
    CHECK(info.description.find("test-full") != std::string::npos);
    CHECK(adapter.Dump().find("test-full") != std::string::npos);

    GenericRestAdapter minimal;
    REQUIRE(minimal.Configure(Config("minimal.json")).ok());
    info = minimal.Info();
    CHECK(info.capabilities.max_batch_size == 1);
    CHECK_FALSE(info.capabilities.lookup_by_reference);
    CHECK_FALSE(info.capabilities.webhook_registration);
    HttpRequest request;
    CHECK(minimal.mapping().BuildRequest(testing::LeadJob(), StepKind::kCreate, &request).ok());
  }

  TEST_CASE("adapter: a lookup's sampleAnswer is read on load, without one, a warning") {
    Mapping mapping = LoadFixture("full.json");
    std::vector<std::string> warnings;
    REQUIRE(CheckLookupSamples(mapping, &warnings).ok());
    REQUIRE(warnings.size() == 1);  // full.json has a lead lookup only
    CHECK(warnings[0].find("lead.lookup (/entities/lead/operations/lookup) has never been "
                           "checked against a real answer") == 0);

    Operation& lookup = mapping.entities["lead"].operations["lookup"];
    Var sample;
    std::string error;
    REQUIRE(ParseJson(R"({"results": [{"id": "c1"}]})", &sample, &error));
    lookup.sample_answer = sample;
    warnings.clear();
    CHECK(CheckLookupSamples(mapping, &warnings).ok());
    CHECK(warnings.empty());

    // json-server's shape against a mapping that reads /results: refused.
    REQUIRE(ParseJson(R"([{"id": "c1"}])", &sample, &error));
    lookup.sample_answer = sample;
    Status status = CheckLookupSamples(mapping, &warnings);
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message() ==
          "/entities/lead/operations/lookup/sampleAnswer: lookup answer does not match the "
          "mapping: expected an array at /results, got an array without it");
    REQUIRE(ParseJson(R"({"results": []})", &sample, &error));
    lookup.sample_answer = sample;
    status = CheckLookupSamples(mapping, &warnings);
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message().find("reads as \"not found\"") != std::string::npos);
  }

  TEST_CASE("adapter: the shipped mappings' lookups are checked against their sample answers") {
    for (const char* file : {"sunshine-reference.json", "hubspot.json"}) {
      CAPTURE(file);
      GenericRestAdapter adapter;
      PluginConfig config;
      config.Set("mapping", std::string(CRMSYNC_SOURCE_DIR) + "/config/crms/" + file);
      config.Set("api_url", "https://crm.example.com");
      config.Set("api_key", "k");
      config.Set("api_secret", "s");
      config.Set("webhook_secret", "w");  // hubspot.json verifies its webhooks
      REQUIRE(adapter.Configure(config).ok());
      CHECK(adapter.Dump().find("\"warnings\":[]") != std::string::npos);
    }
  }

  TEST_CASE("adapter: Dump() names the mapping's budget headers for the engine") {
    GenericRestAdapter hubspot;
    PluginConfig config;
    config.Set("mapping", std::string(CRMSYNC_SOURCE_DIR) + "/config/crms/hubspot.json");
    config.Set("api_url", "https://api.hubapi.com");
    config.Set("api_key", "k");
    REQUIRE(hubspot.Configure(config).ok());
    Var dump;
    std::string error;
    REQUIRE(ParseJson(hubspot.Dump(), &dump, &error));
    JsonArray sets = dump.extract<JsonObject>()->getArray("rateLimitHeaders");
    REQUIRE(sets);
    REQUIRE(sets->size() == 1);
    // What the engine does with it: check it, then read HubSpot's answers.
    RateLimitHeaders set;
    std::vector<std::pair<std::string, std::string>> problems;
    REQUIRE(ParseRateLimitHeaders(ToJson(sets->get(0)), &set, &problems));
    RateLimitBudget budget;
    std::string problem;
    REQUIRE(ReadRateLimitBudget(Answer(200, "{}",
                                       {{"X-HubSpot-RateLimit-Remaining", "7"},
                                        {"X-HubSpot-RateLimit-Interval-Milliseconds", "10000"}}),
                                {set}, 0, &budget, &problem));
    CHECK(budget.remaining == 7);
    CHECK(budget.reset_in_ms == 10000);

    GenericRestAdapter minimal;
    REQUIRE(minimal.Configure(Config("minimal.json")).ok());
    CHECK(minimal.Dump().find("rateLimitHeaders") == std::string::npos);
  }

  TEST_CASE("adapter: Configure requires mapping and api_url") {
    GenericRestAdapter adapter;
    PluginConfig config = Config("full.json");
    config.Set("mapping", "");
    Status status = adapter.Configure(config);
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message().rfind("mapping: required", 0) == 0);

    config = Config("full.json");
    config.Set("api_url", "");
    status = adapter.Configure(config);
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message().rfind("api_url: required", 0) == 0);

    config = Config("full.json");
    config.Set("api_url", "http://crm.example.com");  // plain HTTP off loopback: the SDK refuses
    CHECK(adapter.Configure(config).code() == StatusCode::kInvalidConfig);
  }

  TEST_CASE("adapter: every mapping error is listed in one message, and secrets stay out") {
    GenericRestAdapter adapter;
    const Status status = adapter.Configure(Config("broken.json"));
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message().find("/entities/lead/operations/update/method: must be one of") !=
          std::string::npos);
    CHECK(status.message().rfind("mapping: " + FixturePath("broken.json") + ": /descripton", 0) ==
          0);
    // One problem per line, each a whole sentence the engine can list and count.
    CHECK(status.message().find("\nmapping: " + FixturePath("broken.json") + ": /classify/0/as") !=
          std::string::npos);
    std::vector<std::string> errors;
    Mapping ignored;
    CHECK_FALSE(LoadMappingFile(FixturePath("broken.json"), &ignored, &errors));
    size_t lines = 1;
    for (char c : status.message()) lines += c == '\n' ? 1 : 0;
    CHECK(lines == errors.size());
    CHECK(status.message().find("k-Secret-1") == std::string::npos);

    PluginConfig config = Config("hmac.json");
    config.Set("api_secret", "");
    const Status missing = adapter.Configure(config);
    CHECK(missing.code() == StatusCode::kInvalidConfig);
    CHECK(missing.message().find("api_secret") != std::string::npos);
    CHECK(missing.message().find("k-Secret-1") == std::string::npos);
  }

  TEST_CASE("classify rules: tried in order before the default table") {
    const Mapping mapping = LoadFixture("full.json");
    std::optional<Status> refined = ApplyClassifyRules(
        mapping.classify, Answer(400, R"({"code": "DUPLICATE", "message": "exists"})"), 0);
    REQUIRE(refined.has_value());
    CHECK(refined->code() == StatusCode::kConflict);
    CHECK(refined->message().find("exists") != std::string::npos);
    // The rule's message quotes the CRM's reason masked, fields kept.
    refined = ApplyClassifyRules(
        mapping.classify,
        Answer(400, R"({"code": "DUPLICATE", "message": "asha@example.com exists", )"
                    R"("details": {"api_name": "Email"}})"),
        0);
    REQUIRE(refined.has_value());
    CHECK(refined->message() ==
          "CRM answered 400: Email: [email] exists (DUPLICATE) (mapping classify rule 0)");
    // Same status, other code: no rule, the default table (400 -> invalid record).
    CHECK_FALSE(
        ApplyClassifyRules(mapping.classify, Answer(400, R"({"code": "BAD"})"), 0).has_value());
    CHECK(ClassifyWithRules(mapping.classify, Answer(400, R"({"code": "BAD"})"), 0).code() ==
          StatusCode::kInvalidRecord);
    // A 200 carrying an error is refused; a plain 200 stays OK.
    CHECK(ClassifyWithRules(mapping.classify, Answer(200, R"({"error": "nope"})"), 0).code() ==
          StatusCode::kInvalidRecord);
    CHECK(ClassifyWithRules(mapping.classify, Answer(200, R"({"id": "1"})"), 0).ok());
    CHECK(ClassifyWithRules(mapping.classify, Answer(200, "not json"), 0).ok());
    // rate_limited honours Retry-After, else waits the default.
    Status limited =
        ClassifyWithRules(mapping.classify, Answer(503, "", {{"Retry-After", "7"}}), 0);
    CHECK(limited.code() == StatusCode::kRateLimited);
    CHECK(limited.retry_after_ms() == 7000);
    limited = ClassifyWithRules(mapping.classify, Answer(503, ""), 0);
    CHECK(limited.retry_after_ms() == kDefaultRateLimitWaitMs);
    // Transport errors never match a rule.
    HttpResponse timeout;
    timeout.error = TransportError::kTimeout;
    CHECK_FALSE(ApplyClassifyRules(mapping.classify, timeout, 0).has_value());
  }

  TEST_CASE("classify rules: equals compares JSON values, as ok accepts an answer") {
    ClassifyRule number_rule;
    number_rule.status = 422;
    number_rule.body_pointer = "/errors/0/code";
    number_rule.equals = Var(Poco::Int64(1001));
    number_rule.as = StatusCode::kConflict;
    ClassifyRule ok_rule;
    ok_rule.status = 404;
    ok_rule.as = StatusCode::kOk;
    const std::vector<ClassifyRule> rules = {number_rule, ok_rule};
    CHECK(ClassifyWithRules(rules, Answer(422, R"({"errors": [{"code": 1001.0}]})"), 0).code() ==
          StatusCode::kConflict);
    CHECK(ClassifyWithRules(rules, Answer(422, R"({"errors": [{"code": "1001"}]})"), 0).code() ==
          StatusCode::kInvalidRecord);
    CHECK(ClassifyWithRules(rules, Answer(404, ""), 0).ok());

    GenericRestAdapter adapter;
    REQUIRE(adapter.Configure(Config("full.json")).ok());
    CHECK(adapter.Classify(HttpRequest(), Answer(400, R"({"code": "DUPLICATE"})")).code() ==
          StatusCode::kConflict);
    CHECK(adapter.Classify(HttpRequest(), Answer(401, "")).code() == StatusCode::kUnauthenticated);
  }

}  // TEST_SUITE
}  // namespace
}  // namespace crmsync::genericrest
