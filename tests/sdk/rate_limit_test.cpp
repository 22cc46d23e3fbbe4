// rate_limit_test.cpp: budget headers (crmsync/rate_limit.h): every default
// set and reset format read from an answer, the values that cannot be read and
// why, and every way a named set is refused.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "crmsync/rate_limit.h"

namespace crmsync {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

using Problems = std::vector<std::pair<std::string, std::string>>;

HttpResponse Answer(HeaderList headers) {
  HttpResponse response;
  response.status = 200;
  response.headers = std::move(headers);
  return response;
}

// Reads `headers` with the default sets; REQUIREs a budget.
RateLimitBudget Read(HeaderList headers, const std::vector<RateLimitHeaders>& sets =
                                             DefaultRateLimitHeaders()) {
  RateLimitBudget budget;
  std::string problem;
  REQUIRE_MESSAGE(ReadRateLimitBudget(Answer(std::move(headers)), sets, kNow, &budget, &problem),
                  problem);
  CHECK(problem.empty());
  return budget;
}

// Reads `headers` with `sets`; REQUIREs it not to read, and returns why.
std::string Unreadable(HeaderList headers, const std::vector<RateLimitHeaders>& sets =
                                               DefaultRateLimitHeaders()) {
  RateLimitBudget budget;
  std::string problem;
  REQUIRE_FALSE(ReadRateLimitBudget(Answer(std::move(headers)), sets, kNow, &budget, &problem));
  return problem;
}

RateLimitHeaders Named(const std::string& json) {
  RateLimitHeaders set;
  Problems problems;
  REQUIRE_MESSAGE(ParseRateLimitHeaders(json, &set, &problems), json);
  CHECK(problems.empty());
  return set;
}

// The problems ParseRateLimitHeaders() finds in `json`, as "key: reason".
std::vector<std::string> Refused(const std::string& json) {
  RateLimitHeaders set;
  Problems problems;
  CHECK_FALSE(ParseRateLimitHeaders(json, &set, &problems));
  std::vector<std::string> out;
  for (const auto& [key, reason] : problems) out.push_back(key + ": " + reason);
  return out;
}

bool Has(const std::vector<std::string>& list, const std::string& start) {
  for (const std::string& item : list) {
    if (item.compare(0, start.size(), start) == 0) return true;
  }
  return false;
}

TEST_SUITE("sdk.rate_limit") {
  TEST_CASE("the default sets: X-RateLimit-*, the IETF names, HubSpot's and Salesforce's") {
    SUBCASE("X-RateLimit-Remaining and X-RateLimit-Reset in seconds from now") {
      const RateLimitBudget b = Read({{"X-RateLimit-Remaining", "42"}, {"X-RateLimit-Reset", "30"}});
      CHECK(b.remaining == 42);
      CHECK(b.reset_in_ms == 30000);
    }
    SUBCASE("X-RateLimit-Reset as a Unix time (GitHub's), and one already passed") {
      CHECK(Read({{"X-RateLimit-Remaining", "5"}, {"X-RateLimit-Reset", "1700000090"}})
                .reset_in_ms == 90000);
      CHECK(Read({{"X-RateLimit-Remaining", "5"}, {"X-RateLimit-Reset", "1699999990"}})
                .reset_in_ms == 0);
    }
    SUBCASE("names are matched without regard to case") {
      const RateLimitBudget b = Read({{"x-ratelimit-remaining", "7"}, {"X-RATELIMIT-RESET", "1"}});
      CHECK(b.remaining == 7);
      CHECK(b.reset_in_ms == 1000);
    }
    SUBCASE("RateLimit-Remaining and RateLimit-Reset (IETF), decimals allowed") {
      const RateLimitBudget b = Read({{"RateLimit-Remaining", "0"}, {"RateLimit-Reset", "1.5"}});
      CHECK(b.remaining == 0);
      CHECK(b.reset_in_ms == 1500);
    }
    SUBCASE("RateLimit, structured: one policy, several (the tightest wins), the older form") {
      RateLimitBudget b = Read({{"RateLimit", R"("default";r=50;t=30)"}});
      CHECK(b.remaining == 50);
      CHECK(b.reset_in_ms == 30000);
      b = Read({{"RateLimit", R"("daily";r=900;t=3600, "burst";r=4;t=1)"}});
      CHECK(b.remaining == 4);
      CHECK(b.reset_in_ms == 1000);
      b = Read({{"RateLimit", "limit=100, remaining=50, reset=5"}});
      CHECK(b.remaining == 50);
      CHECK(b.reset_in_ms == 5000);
    }
    SUBCASE("HubSpot: the interval is the most the reset can be away") {
      const RateLimitBudget b = Read({{"X-HubSpot-RateLimit-Remaining", "12"},
                                      {"X-HubSpot-RateLimit-Interval-Milliseconds", "10000"},
                                      {"X-HubSpot-RateLimit-Max", "190"}});
      CHECK(b.remaining == 12);
      CHECK(b.reset_in_ms == 10000);
    }
    SUBCASE("Salesforce: used/limit of the daily API budget") {
      const RateLimitBudget b =
          Read({{"Sforce-Limit-Info", "api-usage=4990/5000; per-app-api-usage=17/250(appName=x)"}});
      CHECK(b.remaining == 10);
      CHECK(b.reset_in_ms == 24LL * 3600 * 1000);
      CHECK(Read({{"Sforce-Limit-Info", "api-usage=5012/5000"}}).remaining == 0);
    }
    SUBCASE("an answer without any says nothing, and is no problem") {
      RateLimitBudget budget;
      std::string problem = "left over";
      CHECK_FALSE(ReadRateLimitBudget(Answer({{"Content-Type", "application/json"}}),
                                      DefaultRateLimitHeaders(), kNow, &budget, &problem));
      CHECK(problem.empty());
    }
  }

  TEST_CASE("values that cannot be read are reported with the header, the value and why") {
    CHECK(Unreadable({{"X-RateLimit-Remaining", "lots"}, {"X-RateLimit-Reset", "10"}}) ==
          "X-RateLimit-Remaining 'lots': not a whole number of requests");
    CHECK(Unreadable({{"X-RateLimit-Remaining", "-3"}, {"X-RateLimit-Reset", "10"}}) ==
          "X-RateLimit-Remaining '-3': not a whole number of requests");
    CHECK(Unreadable({{"X-RateLimit-Remaining", "4.5"}, {"X-RateLimit-Reset", "10"}}) ==
          "X-RateLimit-Remaining '4.5': not a whole number of requests");
    CHECK(Unreadable({{"X-RateLimit-Remaining", "3"}, {"X-RateLimit-Reset", "-10"}}) ==
          "X-RateLimit-Reset '-10': negative");
    CHECK(Unreadable({{"X-RateLimit-Remaining", "3"}, {"X-RateLimit-Reset", "soon"}}) ==
          "X-RateLimit-Reset 'soon': not a number");
    CHECK(Unreadable({{"X-RateLimit-Remaining", "3"}}) ==
          "X-RateLimit-Remaining without a reset: when the budget refills is unknown");
    CHECK(Unreadable({{"Sforce-Limit-Info", "api-usage=lots"}}) ==
          "Sforce-Limit-Info 'api-usage=lots': no api-usage=<used>/<limit> with a limit above 0");
    CHECK(Unreadable({{"Sforce-Limit-Info", "api-usage=3/0"}}) ==
          "Sforce-Limit-Info 'api-usage=3/0': no api-usage=<used>/<limit> with a limit above 0");
    CHECK(Unreadable({{"RateLimit", R"("default";r=many;t=30)"}}) ==
          "RateLimit '\"default\";r=many;t=30': a remaining (r) that is not a whole number or a "
          "reset (t) that is not a non-negative number");
    CHECK(Unreadable({{"RateLimit", R"("default";t=30)"}}) ==
          "RateLimit '\"default\";t=30': no remaining (r=)");
    CHECK(Unreadable({{"RateLimit", R"("default";r=5)"}}) ==
          "RateLimit without a reset: when the budget refills is unknown");
    // What a value quotes is masked and short.
    const std::string problem = Unreadable(
        {{"X-RateLimit-Remaining", "ask asha@example.com " + std::string(200, 'x')},
         {"X-RateLimit-Reset", "1"}});
    CHECK(problem.find("asha") == std::string::npos);
    CHECK(problem.find("[email]") != std::string::npos);
    CHECK(problem.size() < 120);
  }

  TEST_CASE("each reset format, as a named set reads it") {
    struct Row {
      const char* format;
      const char* value;
      int64_t reset_in_ms;
    };
    const Row rows[] = {
        {"auto", "30", 30000},
        {"auto", "1700000030", 30000},
        {"seconds", "2.25", 2250},
        {"milliseconds", "750", 750},
        {"unixSeconds", "1700000010", 10000},
        {"unixSeconds", "1600000000", 0},
        {"unixMilliseconds", "1700000000500", 500},
        {"intervalSeconds", "10", 10000},
        {"intervalMilliseconds", "60000", 60000},
    };
    for (const Row& row : rows) {
      CAPTURE(row.format);
      CAPTURE(row.value);
      const RateLimitHeaders set = Named(std::string(R"({"remainingHeader": "X-Acme-Left",)") +
                                         R"( "resetHeader": "X-Acme-Reset", "resetFormat": ")" +
                                         row.format + "\"}");
      CHECK(std::string(RateLimitResetName(set.reset_format)) == row.format);
      const RateLimitBudget b = Read({{"X-Acme-Left", "9"}, {"X-Acme-Reset", row.value}}, {set});
      CHECK(b.remaining == 9);
      CHECK(b.reset_in_ms == row.reset_in_ms);
    }
  }

  TEST_CASE("a named set: the first set whose header the answer carries is read") {
    std::vector<RateLimitHeaders> sets = {
        Named(R"({"remainingHeader": "X-Acme-Left", "windowSeconds": 60})")};
    sets.insert(sets.end(), DefaultRateLimitHeaders().begin(), DefaultRateLimitHeaders().end());
    // Both present: the named one, with its window as the reset.
    RateLimitBudget b = Read({{"X-RateLimit-Remaining", "100"},
                              {"X-RateLimit-Reset", "5"},
                              {"X-Acme-Left", "3"}},
                             sets);
    CHECK(b.remaining == 3);
    CHECK(b.reset_in_ms == 60000);
    // Only a default present: the default.
    b = Read({{"X-RateLimit-Remaining", "100"}, {"X-RateLimit-Reset", "5"}}, sets);
    CHECK(b.remaining == 100);
    // A usage header with its own key, and one without a key.
    const RateLimitHeaders usage =
        Named(R"({"usageHeader": "X-Acme-Usage", "usageKey": "calls", "windowSeconds": 3600})");
    b = Read({{"X-Acme-Usage", "reads=1/9, calls=40/100"}}, {usage});
    CHECK(b.remaining == 60);
    CHECK(b.reset_in_ms == 3600000);
    CHECK(Unreadable({{"X-Acme-Usage", "reads=1/9"}}, {usage}) ==
          "X-Acme-Usage 'reads=1/9': no calls=<used>/<limit> with a limit above 0");
    const RateLimitHeaders any_usage = Named(R"({"usageHeader": "X-Acme-Usage", "windowSeconds": 10})");
    CHECK(Read({{"X-Acme-Usage", "used 7/10"}}, {any_usage}).remaining == 3);
    // A structured header of its own name.
    const RateLimitHeaders structured = Named(R"({"structuredHeader": "X-Acme-Limit"})");
    CHECK(Read({{"X-Acme-Limit", "r=8;t=2"}}, {structured}).remaining == 8);
  }

  TEST_CASE("a named set is written back as it is read") {
    for (const char* json :
         {R"({"remainingHeader":"X-Left","resetHeader":"X-Reset","resetFormat":"unixSeconds"})",
          R"({"usageHeader":"Sforce-Limit-Info","usageKey":"api-usage","windowSeconds":86400})",
          R"({"structuredHeader":"RateLimit","windowSeconds":60})"}) {
      CAPTURE(json);
      const RateLimitHeaders set = Named(json);
      CHECK(RateLimitHeadersJson(set) == json);
      const RateLimitHeaders again = Named(RateLimitHeadersJson(set));
      CHECK(again.remaining_header == set.remaining_header);
      CHECK(again.reset_header == set.reset_header);
      CHECK(again.reset_format == set.reset_format);
      CHECK(again.usage_header == set.usage_header);
      CHECK(again.usage_key == set.usage_key);
      CHECK(again.structured_header == set.structured_header);
      CHECK(again.window_ms == set.window_ms);
    }
  }

  TEST_CASE("every way a named set is refused, each with its key and reason") {
    CHECK(Has(Refused("{"), ": not valid JSON"));
    CHECK(Refused("[]") == std::vector<std::string>{": must be an object"});
    CHECK(Refused(R"("X-Left")") == std::vector<std::string>{": must be an object"});
    CHECK(Has(Refused(R"({"remainingHeader": "X-Left", "windowSeconds": 9, "reset": "X-R"})"),
              "reset: unknown key (expected one of remainingHeader resetHeader resetFormat "
              "usageHeader usageKey structuredHeader windowSeconds)"));
    for (const char* bad : {R"("X Left")", R"("")", "42", R"("X-Left:")", "null"}) {
      CAPTURE(bad);
      CHECK(Has(Refused(std::string(R"({"remainingHeader": )") + bad + R"(, "windowSeconds": 9})"),
                "remainingHeader: must be a header name"));
    }
    CHECK(Has(Refused(R"({"usageHeader": "X-U", "usageKey": "a b", "windowSeconds": 9})"),
              "usageKey: must be a key"));
    CHECK(Has(Refused("{}"), ": names no budget header"));
    CHECK(Has(Refused(R"({"remainingHeader": "X-L", "usageHeader": "X-U", "windowSeconds": 9})"),
              ": name only one of remainingHeader, usageHeader and structuredHeader"));
    CHECK(Has(Refused(R"({"remainingHeader": "X-L", "resetHeader": "X-R", "resetFormat": "days"})"),
              "resetFormat: must be one of auto seconds milliseconds unixSeconds "
              "unixMilliseconds intervalSeconds intervalMilliseconds"));
    CHECK(Has(Refused(R"({"remainingHeader": "X-L", "resetHeader": "X-R", "resetFormat": 3})"),
              "resetFormat: must be one of"));
    CHECK(Has(Refused(R"({"remainingHeader": "X-L", "windowSeconds": 9, "resetFormat": "seconds"})"),
              "resetFormat: needs a resetHeader"));
    CHECK(Has(Refused(R"({"structuredHeader": "RateLimit", "resetHeader": "X-R"})"),
              "resetHeader: belongs with a remainingHeader"));
    CHECK(Has(Refused(R"({"structuredHeader": "RateLimit", "usageKey": "api"})"),
              "usageKey: belongs with a usageHeader"));
    for (const char* bad : {"0", "-1", "1.5", R"("60")", "true", "2678401"}) {
      CAPTURE(bad);
      CHECK(Has(Refused(std::string(R"({"structuredHeader": "RateLimit", "windowSeconds": )") +
                        bad + "}"),
                "windowSeconds: must be a whole number of seconds from 1 to 2678400"));
    }
    CHECK(Has(Refused(R"({"remainingHeader": "X-L"})"),
              "remainingHeader: needs a resetHeader or windowSeconds"));
    CHECK(Has(Refused(R"({"usageHeader": "Sforce-Limit-Info"})"),
              "usageHeader: needs windowSeconds"));
    // Every problem is listed, not just the first.
    CHECK(Refused(R"({"remainingHeader": "X L", "resetFormat": "days", "extra": 1})").size() >= 3);
  }
}  // TEST_SUITE

}  // namespace
}  // namespace crmsync
