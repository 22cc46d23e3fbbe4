// shadow/request_diff: JSON pointers for added, removed and changed members,
// in nested objects and arrays, escaped, with masked values; non-JSON bodies,
// methods and paths.
#include <doctest/doctest.h>

#include "shadow/request_diff.h"

namespace crmsync::engine {
namespace {

const RequestMask kMask({"s3cr3t-api-key-77"});

std::string Describe(const std::vector<BodyDifference>& diffs) {
  std::string out;
  for (const BodyDifference& d : diffs) {
    out += d.pointer + " " + BodyChangeName(d.change) + " " + d.live + " -> " + d.shadow + "\n";
  }
  return out;
}

TEST_SUITE("shadow") {
  TEST_CASE("identical bodies have no difference, whatever the member order") {
    CHECK(DiffBodies(R"({"a":1,"b":[1,2]})", R"({"b":[1,2],"a":1})", kMask).empty());
    CHECK(DiffBodies("", "", kMask).empty());
  }

  TEST_CASE("a renamed field is one member removed and one added") {
    auto d = DiffBodies(R"({"name":"Asha","source":"web"})",
                        R"({"fullName":"Asha","source":"web"})", kMask);
    REQUIRE_MESSAGE(d.size() == 2, Describe(d));
    CHECK(d[0].pointer == "/fullName");
    CHECK(d[0].change == BodyChange::kAdded);
    CHECK(d[0].live.empty());
    CHECK(d[0].shadow == R"("Asha")");
    CHECK(d[1].pointer == "/name");
    CHECK(d[1].change == BodyChange::kRemoved);
    CHECK(d[1].live == R"("Asha")");
    CHECK(d[1].shadow.empty());
  }

  TEST_CASE("nested objects give the pointer of the innermost change") {
    auto d = DiffBodies(R"({"budget":{"min":100,"max":200},"location":{"city":"Pune"}})",
                        R"({"budget":{"min":100,"max":250},"location":{}})", kMask);
    REQUIRE_MESSAGE(d.size() == 2, Describe(d));
    CHECK(d[0].pointer == "/budget/max");
    CHECK(d[0].change == BodyChange::kChanged);
    CHECK(d[0].live == "200");
    CHECK(d[0].shadow == "250");
    CHECK(d[1].pointer == "/location/city");
    CHECK(d[1].change == BodyChange::kRemoved);
  }

  TEST_CASE("arrays are compared by index: changed, removed and added elements") {
    auto d = DiffBodies(R"({"areas":["a","b","c"]})", R"({"areas":["a","x"]})", kMask);
    REQUIRE_MESSAGE(d.size() == 2, Describe(d));
    CHECK(d[0].pointer == "/areas/1");
    CHECK(d[0].change == BodyChange::kChanged);
    CHECK(d[1].pointer == "/areas/2");
    CHECK(d[1].change == BodyChange::kRemoved);

    d = DiffBodies(R"({"items":[{"k":"a"}]})", R"({"items":[{"k":"b"},{"k":"c"}]})", kMask);
    REQUIRE_MESSAGE(d.size() == 2, Describe(d));
    CHECK(d[0].pointer == "/items/0/k");
    CHECK(d[1].pointer == "/items/1");
    CHECK(d[1].change == BodyChange::kAdded);
    CHECK(d[1].shadow == R"({"k":"c"})");

    // A top-level array.
    d = DiffBodies("[1,2]", "[1,2,3]", kMask);
    REQUIRE(d.size() == 1);
    CHECK(d[0].pointer == "/2");
  }

  TEST_CASE("a change of type is a change, and null is a value") {
    auto d = DiffBodies(R"({"a":1,"b":null,"c":[1]})", R"({"a":"1","b":0,"c":{"0":1}})", kMask);
    REQUIRE_MESSAGE(d.size() == 3, Describe(d));
    for (const BodyDifference& x : d) CHECK(x.change == BodyChange::kChanged);
    CHECK(d[0].live == "1");
    CHECK(d[0].shadow == R"("1")");
    CHECK(d[1].live == "null");
  }

  TEST_CASE("pointer tokens are escaped (RFC 6901)") {
    auto d = DiffBodies(R"({"a/b":1,"m~n":1})", R"({"a/b":2,"m~n":2})", kMask);
    REQUIRE(d.size() == 2);
    CHECK(d[0].pointer == "/a~1b");
    CHECK(d[1].pointer == "/m~0n");
    CHECK(EscapePointerToken("~/") == "~0~1");
  }

  TEST_CASE("values are masked: emails, phones, secret settings") {
    auto d = DiffBodies(
        R"({"email":"asha@acme.example","phone":"+91 98765 43210","key":"s3cr3t-api-key-77","n":{"e":"ravi@acme.example"}})",
        R"({"email":"ravi@acme.example","phone":"+91 91234 56789","key":"other","n":"gone"})",
        kMask);
    REQUIRE_MESSAGE(d.size() == 4, Describe(d));
    const std::string all = Describe(d);
    CHECK(all.find("acme.example") == std::string::npos);
    CHECK(all.find("98765") == std::string::npos);
    CHECK(all.find("91234") == std::string::npos);
    CHECK(all.find("s3cr3t-api-key-77") == std::string::npos);
    CHECK(d[1].pointer == "/key");
    CHECK(d[1].shadow == R"("other")");
  }

  TEST_CASE("a body that is not JSON is compared as text, masked") {
    auto d = DiffBodies("name=a&mail=asha@acme.example", "name=b&mail=asha@acme.example", kMask);
    REQUIRE(d.size() == 1);
    CHECK(d[0].pointer.empty());
    CHECK(d[0].change == BodyChange::kChanged);
    CHECK(d[0].live.find("acme.example") == std::string::npos);
    d = DiffBodies("", R"({"a":1})", kMask);
    REQUIRE(d.size() == 1);
    CHECK(d[0].change == BodyChange::kAdded);
  }

  TEST_CASE("requests differ by method, path and body") {
    HttpRequest live;
    live.method = "PUT";
    live.path = "/api/v1/leads/7";
    live.body = R"({"a":1})";
    HttpRequest shadow = live;
    CHECK_FALSE(DiffRequests(live, shadow, kMask).any());
    shadow.method = "PATCH";
    shadow.path = "/api/v2/leads/7";
    RequestDifference d = DiffRequests(live, shadow, kMask);
    CHECK(d.method);
    CHECK(d.path);
    CHECK(d.body.empty());
    CHECK(d.any());
  }
}

}  // namespace
}  // namespace crmsync::engine
