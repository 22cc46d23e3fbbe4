// router_test.cpp: the router alone (http/router.h), with no sockets: path
// templates and their parameters, literal routes winning over templates, 404
// and 405 with Allow, the route listing, and deprecated aliases with their
// Deprecation and Link headers. Each request is dispatched with a sink that
// keeps the serialized answer.
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "http/router.h"

namespace crmsync::engine {
namespace {

// One dispatched request's answer, as the server would have written it.
struct Answer {
  std::string raw;
  int status() const { return std::stoi(raw.substr(9, 3)); }
  bool Has(const std::string& text) const { return raw.find(text) != std::string::npos; }
  std::string body() const { return raw.substr(raw.find("\r\n\r\n") + 4); }
};

Answer Call(const Router& router, const std::string& method, const std::string& target) {
  HttpRequestHead head;
  head.method = method;
  head.target = target;
  Answer answer;
  auto ctx = std::make_shared<HttpContext>(ServerRequest(head, ""),
                                           [&answer](std::string bytes, bool) { answer.raw = bytes; });
  router.Dispatch(*ctx);
  return answer;
}

// A handler answering "<name> <param>=<value>..." for the params given.
Handler Echo(const std::string& name, std::vector<std::string> params = {}) {
  return [name, params](HttpContext& ctx) {
    std::string text = name;
    for (const std::string& p : params) text += " " + p + "=" + ctx.PathParam(p);
    ctx.SendText(200, text);
  };
}

}  // namespace

TEST_SUITE("engine.http.router") {
  TEST_CASE("a template segment matches one non-empty segment and is read by name") {
    Router router;
    router.Add("GET", "/api/v1/admin/dlq/{id}", Echo("one", {"id"}));
    router.Add("POST", "/api/v1/admin/dlq/{id}/replay", Echo("replay", {"id"}));
    CHECK(Call(router, "GET", "/api/v1/admin/dlq/42").body() == "one id=42");
    CHECK(Call(router, "GET", "/api/v1/admin/dlq/42?x=1").body() == "one id=42");
    CHECK(Call(router, "POST", "/api/v1/admin/dlq/7/replay").body() == "replay id=7");
    // Not percent-decoded: a handler validates what was sent.
    CHECK(Call(router, "GET", "/api/v1/admin/dlq/%34").body() == "one id=%34");
    for (const char* path : {"/api/v1/admin/dlq/", "/api/v1/admin/dlq", "/api/v1/admin/dlq/1/2",
                             "/api/v1/admin/dlq//replay", "/api/v1/admin/dlq/1/replay/"}) {
      CAPTURE(path);
      Answer a = Call(router, path == std::string("/api/v1/admin/dlq//replay") ? "POST" : "GET", path);
      CHECK(a.status() == 404);
      CHECK(a.Has("no such endpoint: " + std::string(path)));
    }
  }

  TEST_CASE("a literal route wins over a template that also matches, whatever the order") {
    Router router;
    router.Add("POST", "/dlq/{id}", Echo("template", {"id"}));
    router.Add("POST", "/dlq/replay", Echo("literal"));
    CHECK(Call(router, "POST", "/dlq/replay").body() == "literal");
    CHECK(Call(router, "POST", "/dlq/12").body() == "template id=12");
  }

  TEST_CASE("a known path with another method is a 405 naming the allowed methods") {
    Router router;
    router.Add("GET", "/dlq/{id}", Echo("get"));
    router.Add("DELETE", "/dlq/{id}", Echo("delete"));
    router.Add("GET", "/status", Echo("status"));
    Answer a = Call(router, "POST", "/dlq/3");
    CHECK(a.status() == 405);
    CHECK(a.Has("Allow: GET, DELETE\r\n"));
    CHECK(a.Has("method POST not allowed on /dlq/3; allowed: GET, DELETE"));
    Answer b = Call(router, "PUT", "/status");
    CHECK(b.status() == 405);
    CHECK(b.Has("Allow: GET\r\n"));
  }

  TEST_CASE("inline routes are found by exact path only") {
    Router router;
    router.AddInline("GET", "/healthz", Echo("health"));
    router.Add("GET", "/x/{id}", Echo("x"));
    CHECK(router.IsInline("GET", "/healthz"));
    CHECK(router.IsInline("GET", "/healthz?probe=1"));
    CHECK_FALSE(router.IsInline("POST", "/healthz"));
    CHECK_FALSE(router.IsInline("GET", "/x/1"));
  }

  TEST_CASE("deprecated aliases serve the same handler and name their successor") {
    Router router;
    router.Add("POST", "/api/v1/events", Echo("events"));
    router.Add("GET", "/api/v1/admin/dlq/{id}", Echo("one", {"id"}));
    router.Add("GET", "/healthz", Echo("health"));
    std::vector<std::string> used;
    DeprecationInfo info;
    info.deprecation = "@1796256000";
    info.on_use = [&used](const std::string& method, const std::string& path) {
      used.push_back(method + " " + path);
    };
    router.AddDeprecatedAliases("/api/v1/", "/api/", info);
    router.Add("GET", "/api/v1/openapi.json", Echo("doc"));  // after: no alias

    Answer current = Call(router, "POST", "/api/v1/events");
    CHECK(current.body() == "events");
    CHECK_FALSE(current.Has("Deprecation:"));
    CHECK_FALSE(current.Has("Link:"));

    Answer legacy = Call(router, "POST", "/api/events");
    CHECK(legacy.status() == 200);
    CHECK(legacy.body() == "events");
    CHECK(legacy.Has("Deprecation: @1796256000\r\n"));
    CHECK(legacy.Has("Link: </api/v1/events>; rel=\"successor-version\"\r\n"));

    Answer one = Call(router, "GET", "/api/admin/dlq/9?x=1");
    CHECK(one.body() == "one id=9");
    CHECK(one.Has("Link: </api/v1/admin/dlq/9>; rel=\"successor-version\"\r\n"));
    // A path character that would break the Link header is escaped.
    CHECK(Call(router, "GET", "/api/admin/dlq/a>b").Has("Link: </api/v1/admin/dlq/a%3Eb>;"));

    // A wrong method on an alias is a 405 like any other, not a use.
    used.clear();
    CHECK(Call(router, "GET", "/api/events").status() == 405);
    CHECK(used.empty());
    CHECK(Call(router, "GET", "/api/openapi.json").status() == 404);
    Call(router, "POST", "/api/events");
    CHECK(used == std::vector<std::string>{"POST /api/events"});

    std::vector<RouteInfo> routes = router.Routes();
    REQUIRE(routes.size() == 6);
    CHECK(routes[0].path == "/api/v1/events");
    CHECK(routes[0].successor.empty());
    CHECK(routes[3].method == "POST");
    CHECK(routes[3].path == "/api/events");
    CHECK(routes[3].successor == "/api/v1/events");
    CHECK(routes[4].path == "/api/admin/dlq/{id}");
    CHECK(routes[4].successor == "/api/v1/admin/dlq/{id}");
    CHECK(routes[5].path == "/api/v1/openapi.json");
  }

  TEST_CASE("a handler that throws answers 500 without its message") {
    Router router;
    router.Add("GET", "/boom/{id}", [](HttpContext&) { throw std::runtime_error("secret detail"); });
    Answer a = Call(router, "GET", "/boom/1");
    CHECK(a.status() == 500);
    CHECK_FALSE(a.Has("secret detail"));
  }
}

}  // namespace crmsync::engine
