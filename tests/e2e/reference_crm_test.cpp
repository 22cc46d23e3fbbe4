// reference-crm (tools/reference-crm), the real binary on a free port: the
// Idempotency-Key replays, the per-record notes history and the ordered
// activities that end-to-end tests read from GET /_state; the duplicates mode,
// the lead batch endpoints and the per-reference fault plans that the
// fault-schedule test drives the engine with; the cursor-paged users list and
// the nested fields (location{city,locality}) the strategy's tables need.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "reference_crm.h"
#include "test_support.h"

namespace t = crmsync::testing;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

Object::Ptr Parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

// reference-crm on a free port, stopped with SIGTERM at the end.
struct ReferenceCrm : t::ReferenceCrmProcess {
  explicit ReferenceCrm(const std::vector<std::string>& extra = {})
      : t::ReferenceCrmProcess(extra) {}

  t::HttpResult Call(const std::string& method, const std::string& path, const std::string& body,
                     const std::string& idempotency_key = "",
                     std::map<std::string, std::string> headers = {}) const {
    if (!idempotency_key.empty()) headers["Idempotency-Key"] = idempotency_key;
    return t::HttpCall(port, method, path, body, headers);
  }

  // The record `id` of `collection` ("leads", "properties") as /_state shows it.
  Object::Ptr Record(const std::string& collection, const std::string& id) const {
    Array::Ptr records = State()->getArray(collection);
    for (size_t i = 0; i < records->size(); ++i) {
      Object::Ptr record = records->getObject(static_cast<unsigned>(i));
      if (record->getValue<std::string>("id") == id) return record;
    }
    FAIL("no " << collection << " record " << id << " in /_state");
    return nullptr;
  }
};

std::string IdOf(const t::HttpResult& answer) {
  REQUIRE_MESSAGE((answer.status == 200 || answer.status == 201), answer.status << " " << answer.body);
  return Parse(answer.body)->getValue<std::string>("id");
}

std::vector<std::string> Strings(const Array::Ptr& array) {
  std::vector<std::string> out;
  REQUIRE(array);
  for (size_t i = 0; i < array->size(); ++i) {
    out.push_back(array->getElement<std::string>(static_cast<unsigned>(i)));
  }
  return out;
}

// One field of every object in `array`, in order.
std::vector<std::string> Field(const Array::Ptr& array, const std::string& name) {
  std::vector<std::string> out;
  REQUIRE(array);
  for (size_t i = 0; i < array->size(); ++i) {
    out.push_back(array->getObject(static_cast<unsigned>(i))->optValue<std::string>(name, "<none>"));
  }
  return out;
}

int Replays(const ReferenceCrm& crm) { return crm.State()->getValue<int>("idempotentReplays"); }

}  // namespace

TEST_SUITE("e2e.reference_crm") {
  TEST_CASE("the users list pages by cursor, and a bad limit or cursor is refused") {
    ReferenceCrm crm({"--api-key", "k", "--api-secret", "s"});
    const std::map<std::string, std::string> keys = {{"X-API-Key", "k"}, {"X-API-Secret", "s"}};
    REQUIRE(crm.Call("POST", "/_users", R"({"users":[
        {"id":"u1","email":"a@crm.test","platformId":"agent-3","active":true},
        {"id":"u2","email":"b@crm.test","active":false},
        {"id":"u3","email":"c@crm.test","active":true}]})").status == 200);
    t::HttpResult page = crm.Call("GET", "/api/v1/users?limit=2", "", "", keys);
    REQUIRE(page.status == 200);
    Object::Ptr first = Parse(page.body);
    CHECK(Field(first->getArray("results"), "id") == std::vector<std::string>{"u1", "u2"});
    CHECK(Field(first->getArray("results"), "platformId") ==
          std::vector<std::string>{"agent-3", "<none>"});
    REQUIRE(first->getValue<std::string>("nextCursor") == "2");
    Object::Ptr last =
        Parse(crm.Call("GET", "/api/v1/users?limit=2&cursor=2", "", "", keys).body);
    CHECK(Field(last->getArray("results"), "id") == std::vector<std::string>{"u3"});
    CHECK_FALSE(last->has("nextCursor"));
    CHECK(crm.Call("GET", "/api/v1/users", "").status == 401);
    CHECK(crm.Call("GET", "/api/v1/users?limit=0", "", "", keys).status == 400);
    CHECK(crm.Call("GET", "/api/v1/users?limit=101", "", "", keys).status == 400);
    CHECK(crm.Call("GET", "/api/v1/users?cursor=x", "", "", keys).status == 400);
    CHECK(crm.Call("GET", "/api/v1/users?cursor=9", "", "", keys).status == 400);
    CHECK(crm.Call("POST", "/_users", R"({"users":[{"email":"no-id@crm.test"}]})").status == 400);
    CHECK(crm.Call("POST", "/_users", R"([])").status == 400);
    REQUIRE(crm.Call("POST", "/_reset", "").status == 200);
    Object::Ptr empty = Parse(crm.Call("GET", "/api/v1/users", "", "", keys).body);
    CHECK(empty->getArray("results")->size() == 0);
  }

  TEST_CASE("a property keeps the strategy's nested fields as sent") {
    ReferenceCrm crm;
    const std::string id = IdOf(crm.Call("POST", "/api/v1/properties", R"({"title":"2BHK",
        "location":{"city":"Pune","locality":"Baner"},"owner":"owner-1",
        "assignedAgent":"u1","internalId":"p-7","externalReference":"property:p-7"})"));
    Object::Ptr record = crm.Record("properties", id);
    CHECK(record->getObject("location")->getValue<std::string>("city") == "Pune");
    CHECK(record->getObject("location")->getValue<std::string>("locality") == "Baner");
    CHECK(record->getValue<std::string>("internalId") == "p-7");
  }

  TEST_CASE("a repeated Idempotency-Key POST creates one record and answers as the first time") {
    ReferenceCrm crm;
    CHECK(Replays(crm) == 0);
    t::HttpResult first = crm.Call("POST", "/api/v1/leads",
                                   R"({"name":"Asha","externalReference":"r1","notes":"n1"})", "k1");
    REQUIRE(first.status == 201);
    // The same key again, even with another body: not applied, the first answer.
    t::HttpResult again = crm.Call("POST", "/api/v1/leads",
                                   R"({"name":"Other","externalReference":"r2"})", "k1");
    CHECK(again.status == 201);
    CHECK(again.body == first.body);

    Object::Ptr state = crm.State();
    REQUIRE(state->getArray("leads")->size() == 1);
    CHECK(state->getArray("leads")->getObject(0)->getValue<std::string>("name") == "Asha");
    CHECK(state->getValue<int>("idempotentReplays") == 1);
    CHECK(state->getObject("requests")->getValue<int>("POST /api/v1/leads") == 2);

    // A remembered 409 is replayed as a 409 too.
    CHECK(crm.Call("POST", "/api/v1/leads", R"({"externalReference":"r1"})", "k2").status == 409);
    t::HttpResult conflict_again = crm.Call("POST", "/api/v1/leads", R"({"name":"new"})", "k2");
    CHECK(conflict_again.status == 409);
    CHECK(crm.State()->getArray("leads")->size() == 1);
    CHECK(Replays(crm) == 2);
  }

  TEST_CASE("a different Idempotency-Key or none at all creates another record") {
    ReferenceCrm crm;
    std::string a = IdOf(crm.Call("POST", "/api/v1/leads", R"({"name":"A"})", "key-a"));
    std::string b = IdOf(crm.Call("POST", "/api/v1/leads", R"({"name":"A"})", "key-b"));
    std::string c = IdOf(crm.Call("POST", "/api/v1/leads", R"({"name":"A"})"));
    std::string d = IdOf(crm.Call("POST", "/api/v1/leads", R"({"name":"A"})"));
    CHECK(a != b);
    CHECK(c != d);
    CHECK(crm.State()->getArray("leads")->size() == 4);
    CHECK(Replays(crm) == 0);
  }

  TEST_CASE("an Idempotency-Key is one key across routes and PUTs are replayed too") {
    ReferenceCrm crm;
    t::HttpResult created = crm.Call("POST", "/api/v1/leads", R"({"name":"A","notes":"n1"})", "k");
    std::string id = IdOf(created);
    // The key already answered a create: this PUT is not applied, it gets the create's answer.
    t::HttpResult put = crm.Call("PUT", "/api/v1/leads/" + id, R"({"notes":"lost"})", "k");
    CHECK(put.status == 201);
    CHECK(put.body == created.body);
    CHECK(crm.Record("leads", id)->getValue<std::string>("notes") == "n1");

    t::HttpResult update = crm.Call("PUT", "/api/v1/leads/" + id, R"({"notes":"n2"})", "u1");
    CHECK(update.status == 200);
    t::HttpResult update_again = crm.Call("PUT", "/api/v1/leads/" + id, R"({"notes":"n2"})", "u1");
    CHECK(update_again.status == 200);
    CHECK(update_again.body == update.body);
    CHECK(Strings(crm.Record("leads", id)->getArray("notesHistory")) ==
          std::vector<std::string>{"n1", "n2"});
    CHECK(Replays(crm) == 2);
  }

  TEST_CASE("concurrent requests with one Idempotency-Key apply once and all get the first answer") {
    ReferenceCrm crm;
    constexpr int kClients = 8;
    std::vector<t::HttpResult> answers(kClients);
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back([&, i] {
        answers[static_cast<size_t>(i)] =
            crm.Call("POST", "/api/v1/leads", R"({"name":"same"})", "shared-key");
      });
    }
    for (std::thread& client : clients) client.join();
    for (const t::HttpResult& answer : answers) {
      CHECK(answer.status == 201);
      CHECK(answer.body == answers[0].body);
    }
    CHECK(crm.State()->getArray("leads")->size() == 1);
    CHECK(Replays(crm) == kClients - 1);
  }

  TEST_CASE("a request refused for bad credentials does not use up its Idempotency-Key") {
    ReferenceCrm crm({"--api-key", "key-1", "--api-secret", "secret-1"});
    std::map<std::string, std::string> good = {{"X-API-Key", "key-1"}, {"X-API-Secret", "secret-1"}};
    std::map<std::string, std::string> bad = {{"X-API-Key", "key-1"}, {"X-API-Secret", "wrong"}};
    CHECK(crm.Call("POST", "/api/v1/leads", R"({"name":"A"})", "k", bad).status == 401);
    t::HttpResult created = crm.Call("POST", "/api/v1/leads", R"({"name":"A"})", "k", good);
    CHECK(created.status == 201);
    CHECK(crm.Call("POST", "/api/v1/leads", R"({"name":"A"})", "k", good).body == created.body);
    CHECK(crm.State()->getArray("leads")->size() == 1);
    CHECK(Replays(crm) == 1);
  }

  TEST_CASE("notesHistory lists the notes of the create and of every PUT in order") {
    ReferenceCrm crm;
    std::string lead = IdOf(crm.Call("POST", "/api/v1/leads", R"({"name":"A","notes":"first"})"));
    CHECK(crm.Call("PUT", "/api/v1/leads/" + lead, R"({"notes":"second"})").status == 200);
    CHECK(crm.Call("PUT", "/api/v1/leads/" + lead, R"({"name":"no notes here"})").status == 200);
    CHECK(crm.Call("PUT", "/api/v1/leads/" + lead, R"({"notes":42})").status == 200);  // not a string
    CHECK(crm.Call("PUT", "/api/v1/leads/" + lead, R"({"notes":"second"})").status == 200);
    CHECK(crm.Call("PUT", "/api/v1/leads/" + lead, R"({"notes":"third"})").status == 200);
    // A change made in the CRM is not an API create/PUT: not in the history.
    CHECK(crm.Call("POST", "/_crm/leads/" + lead, R"({"notes":"by an agent"})").status == 200);
    // The history is the CRM's own: an update cannot overwrite it.
    CHECK(crm.Call("PUT", "/api/v1/leads/" + lead, R"({"notesHistory":[]})").status == 200);

    Object::Ptr record = crm.Record("leads", lead);
    CHECK(Strings(record->getArray("notesHistory")) ==
          std::vector<std::string>{"first", "second", "second", "third"});
    CHECK(record->getValue<std::string>("notes") == "by an agent");
    // The API's own answers are unchanged: no notesHistory in them.
    t::HttpResult lookup = crm.Call("GET", "/api/v1/leads?externalReference=", "");
    CHECK(lookup.body.find("\"" + lead + "\"") != std::string::npos);  // found, without the history
    CHECK(lookup.body.find("notesHistory") == std::string::npos);

    std::string property =
        IdOf(crm.Call("POST", "/api/v1/properties", R"({"title":"Flat","notes":"p1"})"));
    CHECK(crm.Call("PUT", "/api/v1/properties/" + property, R"({"notes":"p2"})").status == 200);
    std::string bare = IdOf(crm.Call("POST", "/api/v1/properties", R"({"title":"Plot"})"));
    CHECK(Strings(crm.Record("properties", property)->getArray("notesHistory")) ==
          std::vector<std::string>{"p1", "p2"});
    CHECK(crm.Record("properties", bare)->getArray("notesHistory")->size() == 0);
  }

  TEST_CASE("each lead lists its activities in the order applied with their bodies") {
    ReferenceCrm crm;
    std::string a = IdOf(crm.Call("POST", "/api/v1/leads", R"({"name":"A"})"));
    std::string b = IdOf(crm.Call("POST", "/api/v1/leads", R"({"name":"B"})"));
    std::string quiet = IdOf(crm.Call("POST", "/api/v1/leads", R"({"name":"no activities"})"));
    auto activity = [&](const std::string& lead, const std::string& body, const std::string& key) {
      return crm.Call("POST", "/api/v1/leads/" + lead + "/activities", body, key).status;
    };
    // The body the sunshine-reference mapping sends: type, note, message, propertyId.
    CHECK(activity(a, R"({"type":"viewing_scheduled","note":"Sat 11am"})", "") == 201);
    CHECK(activity(b, R"({"type":"new","message":"Is it east facing?","propertyId":"p9"})", "") == 201);
    CHECK(activity(a, R"({"type":"new","message":"Still available?"})", "act-2") == 201);
    CHECK(activity(a, R"({"type":"new","message":"Still available?"})", "act-2") == 201);  // replay
    CHECK(activity(a, R"({"type":"viewed","note":"Liked it"})", "") == 201);
    // Updates do not touch the activity list.
    CHECK(crm.Call("PUT", "/api/v1/leads/" + a, R"({"activities":[]})").status == 200);

    Array::Ptr of_a = crm.Record("leads", a)->getArray("activities");
    CHECK(Field(of_a, "type") == std::vector<std::string>{"viewing_scheduled", "new", "viewed"});
    CHECK(Field(of_a, "note") == std::vector<std::string>{"Sat 11am", "<none>", "Liked it"});
    CHECK(Field(of_a, "message") == std::vector<std::string>{"<none>", "Still available?", "<none>"});
    std::vector<std::string> ids = Field(of_a, "id");
    CHECK(ids[0].rfind("activity_", 0) == 0);
    CHECK(ids[0] != ids[1]);
    CHECK(ids[1] != ids[2]);

    Array::Ptr of_b = crm.Record("leads", b)->getArray("activities");
    CHECK(Field(of_b, "message") == std::vector<std::string>{"Is it east facing?"});
    CHECK(Field(of_b, "propertyId") == std::vector<std::string>{"p9"});
    CHECK(crm.Record("leads", quiet)->getArray("activities")->size() == 0);
    CHECK(Replays(crm) == 1);
  }

  TEST_CASE(
      "a known externalReference is a 409 by default and a second record with --duplicates allow") {
    ReferenceCrm strict;
    std::string first =
        IdOf(strict.Call("POST", "/api/v1/leads", R"({"externalReference":"lead:1"})"));
    t::HttpResult again = strict.Call("POST", "/api/v1/leads", R"({"externalReference":"lead:1"})");
    CHECK(again.status == 409);
    CHECK(Parse(again.body)->getValue<std::string>("id") == first);
    CHECK(strict.State()->getArray("leads")->size() == 1);

    ReferenceCrm lax({"--duplicates", "allow"});
    std::string a =
        IdOf(lax.Call("POST", "/api/v1/leads", R"({"externalReference":"lead:1","name":"A"})"));
    std::string b =
        IdOf(lax.Call("POST", "/api/v1/leads", R"({"externalReference":"lead:1","name":"B"})"));
    CHECK(a != b);
    CHECK(lax.State()->getArray("leads")->size() == 2);
    // A lookup finds both, oldest first, as a search in a real CRM would.
    t::HttpResult found = lax.Call("GET", "/api/v1/leads?externalReference=lead:1", "");
    CHECK(Field(Parse(found.body)->getArray("results"), "id") == std::vector<std::string>{a, b});
  }

  TEST_CASE("batch create and batch update of leads answer one result per input") {
    ReferenceCrm crm;
    t::HttpResult created = crm.Call(
        "POST", "/api/v1/leads/batch",
        R"({"inputs":[{"externalReference":"lead:1","name":"A"},{"externalReference":"lead:2","name":"B"}]})");
    REQUIRE(created.status == 200);
    Array::Ptr results = Parse(created.body)->getArray("results");
    CHECK(Field(results, "externalReference") == std::vector<std::string>{"lead:1", "lead:2"});
    std::vector<std::string> ids = Field(results, "id");
    CHECK(crm.Record("leads", ids[0])->getValue<std::string>("name") == "A");
    CHECK(crm.Record("leads", ids[1])->getValue<std::string>("name") == "B");
    // A known reference in a batch is that input's 409, the others are created.
    t::HttpResult mixed =
        crm.Call("POST", "/api/v1/leads/batch",
                 R"({"inputs":[{"externalReference":"lead:1"},{"externalReference":"lead:3"}]})");
    Array::Ptr mixed_results = Parse(mixed.body)->getArray("results");
    CHECK(mixed_results->getObject(0)->getValue<int>("status") == 409);
    CHECK(mixed_results->getObject(0)->getValue<std::string>("id") == ids[0]);
    CHECK_FALSE(mixed_results->getObject(1)->has("status"));

    t::HttpResult updated = crm.Call(
        "POST", "/api/v1/leads/batch/update",
        R"({"inputs":[{"id":")" + ids[1] + R"(","name":"B2"},{"id":"lead_999","name":"X"}]})");
    REQUIRE(updated.status == 200);
    Array::Ptr update_results = Parse(updated.body)->getArray("results");
    CHECK(update_results->getObject(0)->getValue<std::string>("externalReference") == "lead:2");
    CHECK(update_results->getObject(1)->getValue<int>("status") == 404);
    CHECK(crm.Record("leads", ids[1])->getValue<std::string>("name") == "B2");
    Object::Ptr requests = crm.State()->getObject("requests");
    CHECK(requests->getValue<int>("POST /api/v1/leads/batch") == 2);
    CHECK(requests->getValue<int>("POST /api/v1/leads/batch/update") == 1);
  }

  TEST_CASE(
      "a fault plan answers each request about its reference with the next fault, then normally") {
    ReferenceCrm crm({"--retry-after", "7"});
    CHECK(crm.Call("POST", "/_faults", R"({"lead:1":["500","none","404","429","409","404"]})").status ==
          200);
    CHECK(crm.Call("POST", "/_faults", R"({"lead:1":["bogus"]})").status == 400);
    const std::string create = R"({"externalReference":"lead:1","name":"A"})";
    CHECK(crm.Call("POST", "/api/v1/leads", create).status == 500);  // not applied
    CHECK(crm.State()->getArray("leads")->size() == 0);
    std::string id = IdOf(crm.Call("POST", "/api/v1/leads", create));  // "none"
    // A lookup does not take a 404 (it would say "no such record" while there
    // is one): served normally, counted as skipped.
    t::HttpResult lookup = crm.Call("GET", "/api/v1/leads?externalReference=lead:1", "");
    CHECK(lookup.status == 200);
    CHECK(Parse(lookup.body)->getArray("results")->size() == 1);
    // A PUT concerns the reference of the record its id names.
    t::HttpResult limited = crm.Call("PUT", "/api/v1/leads/" + id, R"({"name":"B"})");
    CHECK(limited.status == 429);
    CHECK(limited.headers["Retry-After"] == "7");
    t::HttpResult conflict =
        crm.Call("POST", "/api/v1/leads/" + id + "/activities", R"({"type":"x"})");
    CHECK(conflict.status == 409);
    CHECK(Parse(conflict.body)->getValue<std::string>("id") == id);
    CHECK(crm.Call("PUT", "/api/v1/leads/" + id, R"({"name":"X"})").status == 404);
    // The plan is used up: normal service; other references were never touched.
    CHECK(crm.Call("PUT", "/api/v1/leads/" + id, R"({"name":"C"})").status == 200);
    CHECK(crm.Call("POST", "/api/v1/leads", R"({"externalReference":"lead:2"})").status == 201);
    Object::Ptr record = crm.Record("leads", id);
    CHECK(record->getValue<std::string>("name") == "C");
    CHECK(record->getArray("activities")->size() == 0);
    Object::Ptr faults = Parse(crm.Call("GET", "/_faults", "").body);
    CHECK(faults->getObject("pending")->size() == 0);
    CHECK(faults->getValue<int>("consumed") == 6);
    Object::Ptr injected = faults->getObject("injected");
    for (const char* fault : {"500", "404", "429", "409"})
      CHECK(injected->getValue<int>(fault) == 1);
    CHECK(injected->getValue<int>("skipped") == 1);
    CHECK_FALSE(injected->has("none"));
  }

  TEST_CASE("after-apply faults apply the write and lose or reshape its answer") {
    ReferenceCrm crm({"--fault-delay-ms", "300"});
    CHECK(crm.Call("POST", "/_faults",
                   R"({"lead:1":["reset_after_apply","timeout_after_apply","reset_before_apply",)"
                   R"("lookup_bare_array","lookup_other_object","lookup_bare_array"]})")
              .status == 200);
    // Applied, then the connection is reset mid-answer: the client gets the
    // head and part of the body (Poco's client reads the cut body as its end;
    // crmsync's transport checks it against Content-Length), or nothing.
    t::HttpResult cut =
        crm.Call("POST", "/api/v1/leads", R"({"externalReference":"lead:1","name":"A"})");
    CHECK((cut.status == 0 || cut.body.size() < std::stoul(cut.headers["Content-Length"])));
    REQUIRE(crm.State()->getArray("leads")->size() == 1);
    std::string id = crm.State()->getArray("leads")->getObject(0)->getValue<std::string>("id");
    // Applied, then answered only after the delay.
    auto started = std::chrono::steady_clock::now();
    CHECK(crm.Call("PUT", "/api/v1/leads/" + id, R"({"name":"B"})").status == 200);
    CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(300));
    CHECK(crm.Record("leads", id)->getValue<std::string>("name") == "B");
    // Reset before applying: nothing changed.
    CHECK(crm.Call("PUT", "/api/v1/leads/" + id, R"({"name":"lost"})").status == 0);
    CHECK(crm.Record("leads", id)->getValue<std::string>("name") == "B");
    // Lookups in other shapes: a bare array, an object without "results".
    t::HttpResult bare = crm.Call("GET", "/api/v1/leads?externalReference=lead:1", "");
    CHECK(bare.status == 200);
    Poco::Dynamic::Var array = Poco::JSON::Parser().parse(bare.body);
    REQUIRE(array.type() == typeid(Array::Ptr));
    CHECK(Field(array.extract<Array::Ptr>(), "id") == std::vector<std::string>{id});
    Object::Ptr other = Parse(crm.Call("GET", "/api/v1/leads?externalReference=lead:1", "").body);
    CHECK_FALSE(other->has("results"));
    CHECK(Field(other->getArray("data"), "id") == std::vector<std::string>{id});
    // Any other answer in the wrong shape: applied, the record wrapped in [ ].
    t::HttpResult wrapped =
        crm.Call("POST", "/api/v1/leads/" + id + "/activities", R"({"type":"x"})");
    CHECK(wrapped.status == 201);
    CHECK(wrapped.body.front() == '[');
    CHECK(crm.Record("leads", id)->getArray("activities")->size() == 1);
    Object::Ptr injected = Parse(crm.Call("GET", "/_faults", "").body)->getObject("injected");
    CHECK(injected->getValue<int>("reset_after_apply") == 1);
    CHECK(injected->getValue<int>("timeout_after_apply") == 1);
    CHECK(injected->getValue<int>("reset_before_apply") == 1);
    CHECK(injected->getValue<int>("lookup_bare_array") == 2);
  }

  TEST_CASE(
      "a batch takes one plan entry per input: unmatched inputs lose their reference, a 5xx fails "
      "it all") {
    ReferenceCrm crm({"--duplicates", "allow"});
    REQUIRE(crm.Call("POST", "/_faults",
                     R"({"lead:1":["batch_unmatched","none"],"lead:2":["none","500"],)"
                     R"("lead:3":["none","503"]})")
                .status == 200);
    const std::string batch =
        R"({"inputs":[{"externalReference":"lead:1"},{"externalReference":"lead:2"},{"externalReference":"lead:3"}]})";
    t::HttpResult first = crm.Call("POST", "/api/v1/leads/batch", batch);
    REQUIRE(first.status == 200);
    Array::Ptr results = Parse(first.body)->getArray("results");
    CHECK(Field(results, "externalReference") ==
          std::vector<std::string>{"<none>", "lead:2", "lead:3"});
    CHECK(results->getObject(0)->has("id"));  // created, but cannot be matched
    CHECK(crm.State()->getArray("leads")->size() == 3);
    // The first fault in input order acts on the whole batch (nothing applied);
    // lead:3's 503 is spent without effect.
    CHECK(crm.Call("POST", "/api/v1/leads/batch", batch).status == 500);
    CHECK(crm.State()->getArray("leads")->size() == 3);
    Object::Ptr faults = Parse(crm.Call("GET", "/_faults", "").body);
    CHECK(faults->getValue<int>("consumed") == 6);
    CHECK(faults->getObject("injected")->getValue<int>("batch_unmatched") == 1);
    CHECK(faults->getObject("injected")->getValue<int>("500") == 1);
    CHECK(faults->getObject("injected")->getValue<int>("skipped") == 1);
    // /_reset forgets records and plans.
    CHECK(crm.Call("POST", "/_reset", "").status == 200);
    CHECK(crm.State()->getArray("leads")->size() == 0);
    CHECK(Parse(crm.Call("GET", "/_faults", "").body)->getValue<int>("consumed") == 0);
  }
}
