// intake_handler_test.cpp: POST /api/v1/events end to end inside the process:
// a real HttpServer on loopback, the Router with the intake routes, and a real
// SQLite file in a TempDir. Covers the answers of docs/design.md §10 (202, 200, 400,
// 401, 413, 422, 503), that an answer comes only after the commit and that a
// refused request writes nothing, group commit under concurrent requests,
// metrics, the dispatcher wake-up, and keep-alive connections.
//
// Nothing sleeps: every request is synchronous, and the store is read right
// after the answer.
#include <doctest/doctest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "crmsync/entities.h"
#include "http/router.h"
#include "http/server.h"
#include "intake/intake_handler.h"
#include "metrics/metrics.h"
#include "store/sqlite_store.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::HttpCall;
using crmsync::testing::HttpResult;
using crmsync::testing::TempDir;

const char kToken[] = "intake-secret-token";

struct IntakeOptions {
  std::string token = kToken;
  int64_t max_body_bytes = 1 << 20;
  int threads = 16;
};

// A store on a fresh file, and an HTTP server with the intake routes on it.
class IntakeServer {
 public:
  explicit IntakeServer(IntakeOptions options = {}) {
    SqliteOptions store_options;
    store_options.path = dir_.File("crmsync.db");
    store_ = SqliteStore::Open(store_options);
    auto router = std::make_shared<Router>();
    IntakeContext context;
    context.store = store_.get();
    context.clock = &clock_;
    context.metrics = &metrics_;
    context.token = options.token;
    context.shutting_down = &shutting_down_;
    context.on_accepted = [this] { accepted_calls_.fetch_add(1); };
    AddIntakeRoutes(*router, std::move(context));
    HttpServerOptions server_options;
    server_options.port = crmsync::testing::FreePort();
    server_options.threads = options.threads;
    server_options.max_body_bytes = options.max_body_bytes;
    server_ = std::make_unique<HttpServer>(server_options, router);
    server_->Start();
  }
  ~IntakeServer() {
    server_->Stop();
    server_.reset();
    store_.reset();
  }

  int port() const { return server_->port(); }
  SqliteStore& store() { return *store_; }
  ManualClock& clock() { return clock_; }
  MetricsRegistry& metrics() { return metrics_; }
  std::atomic<bool>& shutting_down() { return shutting_down_; }
  int accepted_calls() const { return accepted_calls_.load(); }
  std::string db_path() const { return dir_.File("crmsync.db"); }
  // Stops serving and closes the store, keeping the file.
  void Close() {
    server_->Stop();
    store_.reset();
  }

  /// POST /api/v1/events with the bearer token (or `token` when given).
  HttpResult Post(const std::string& body, const std::string& token = kToken) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    return HttpCall(port(), "POST", "/api/v1/events", body, headers);
  }

 private:
  TempDir dir_;
  ManualClock clock_;
  MetricsRegistry metrics_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<int> accepted_calls_{0};
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<HttpServer> server_;
};

// A keep-alive connection: every request goes over one HTTPClientSession (Poco
// reconnects on its own only when the server asked to close).
class KeepAliveClient {
 public:
  explicit KeepAliveClient(int port) : session_("127.0.0.1", static_cast<Poco::UInt16>(port)) {
    session_.setKeepAlive(true);
    session_.setTimeout(Poco::Timespan(30, 0));
  }

  HttpResult Post(const std::string& body, const std::string& token = kToken,
                  bool chunked = false) {
    HttpResult result;
    try {
      Poco::Net::HTTPRequest request("POST", "/api/v1/events", Poco::Net::HTTPMessage::HTTP_1_1);
      request.setKeepAlive(true);
      request.setContentType("application/json");
      if (!token.empty()) request.set("Authorization", "Bearer " + token);
      if (chunked) {
        request.setChunkedTransferEncoding(true);
      } else {
        request.setContentLength(static_cast<std::streamsize>(body.size()));
      }
      std::ostream& out = session_.sendRequest(request);
      out << body;
      Poco::Net::HTTPResponse response;
      std::istream& in = session_.receiveResponse(response);
      Poco::StreamCopier::copyToString(in, result.body);
      result.status = static_cast<int>(response.getStatus());
      for (const auto& [k, v] : response) result.headers[k] = v;
    } catch (const Poco::Exception& e) {
      result.status = 0;
      result.body = e.displayText();
    }
    return result;
  }

  // Socket the session is on now (changes when it had to reconnect).
  poco_socket_t socket_id() { return session_.socket().impl()->sockfd(); }

 private:
  Poco::Net::HTTPClientSession session_;
};

std::string Envelope(const std::string& event_id, const std::string& type, const std::string& data,
                     const std::string& extra = "") {
  std::string json = "{\"eventId\":\"" + event_id + "\",\"type\":\"" + type +
                     "\",\"occurredAt\":\"2026-11-23T10:15:00Z\",\"data\":" + data;
  if (!extra.empty()) json += "," + extra;
  return json + "}";
}

std::string LeadCreated(const std::string& event_id, const std::string& lead_id,
                        const std::string& name = "Asha") {
  return Envelope(event_id, "lead.created",
                  R"({"id":")" + lead_id + R"(","name":")" + name +
                      R"(","email":"asha@example.com","status":"NEW"})");
}

std::string PropertyCreated(const std::string& event_id, const std::string& property_id) {
  return Envelope(event_id, "property.created",
                  R"({"id":")" + property_id + R"(","title":"2BHK","price":5500000})");
}

std::string Batch(const std::vector<std::string>& envelopes) {
  std::string json = "{\"events\":[";
  for (size_t i = 0; i < envelopes.size(); ++i) {
    if (i) json += ",";
    json += envelopes[i];
  }
  return json + "]}";
}

Poco::JSON::Object::Ptr ParseObject(const std::string& body) {
  Poco::JSON::Parser parser;
  return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

// The "accepted" list of a 200/202 answer as (eventId, jobId) pairs.
std::vector<std::pair<std::string, int64_t>> Accepted(const HttpResult& r) {
  std::vector<std::pair<std::string, int64_t>> list;
  Poco::JSON::Object::Ptr root = ParseObject(r.body);
  REQUIRE(root->size() == 1);
  Poco::JSON::Array::Ptr accepted = root->getArray("accepted");
  REQUIRE(accepted);
  for (size_t i = 0; i < accepted->size(); ++i) {
    Poco::JSON::Object::Ptr item = accepted->getObject(static_cast<unsigned>(i));
    REQUIRE(item);
    CHECK(item->size() == 2);
    REQUIRE(item->get("eventId").isString());
    REQUIRE(item->get("jobId").isInteger());
    list.emplace_back(item->getValue<std::string>("eventId"), item->getValue<int64_t>("jobId"));
  }
  return list;
}

// The details of a 400/422 answer as (path, message) pairs; checks `error`.
std::vector<std::pair<std::string, std::string>> Details(const HttpResult& r,
                                                         const std::string& error) {
  std::vector<std::pair<std::string, std::string>> list;
  Poco::JSON::Object::Ptr root = ParseObject(r.body);
  CHECK(root->getValue<std::string>("error") == error);
  Poco::JSON::Array::Ptr details = root->getArray("details");
  REQUIRE(details);
  for (size_t i = 0; i < details->size(); ++i) {
    Poco::JSON::Object::Ptr item = details->getObject(static_cast<unsigned>(i));
    REQUIRE(item);
    list.emplace_back(item->getValue<std::string>("path"), item->getValue<std::string>("message"));
  }
  return list;
}

Lead MirrorLead(Store& store, const std::string& id) {
  std::optional<std::string> json = store.GetMirror(EntityKind::kLead, id);
  REQUIRE(json.has_value());
  Lead lead;
  std::vector<FieldError> errors;
  REQUIRE(DecodeLead(*json, "$", &lead, &errors));
  return lead;
}

// Nothing at all in the store: no event, no job, no mirror row.
void CheckNothingWritten(SqliteStore& store, EntityKind kind, const std::string& entity_id) {
  QueueStats stats = store.Stats();
  CHECK(stats.events_total == 0);
  CHECK(stats.ready == 0);
  CHECK(stats.queued == 0);
  CHECK_FALSE(store.GetMirror(kind, entity_id).has_value());
  CHECK(store.JobsForEntity(kind, entity_id, 10).empty());
}

int64_t Rejected(MetricsRegistry& metrics, const std::string& reason) {
  return metrics.CounterValue("crmsync_events_rejected_total", {{"reason", reason}});
}

int64_t AcceptedCount(MetricsRegistry& metrics, const std::string& type) {
  return metrics.CounterValue("crmsync_events_accepted_total", {{"type", type}});
}

}  // namespace

TEST_SUITE("engine.intake") {
  TEST_CASE("intake: 202 with eventId and jobId once the mirror row and job are committed") {
    IntakeServer server;
    HttpResult r = server.Post(LeadCreated("evt-7f3c2a", "L1"));
    REQUIRE(r.status == 202);
    CHECK(r.headers["Content-Type"] == "application/json");
    auto accepted = Accepted(r);
    REQUIRE(accepted.size() == 1);
    CHECK(accepted[0].first == "evt-7f3c2a");
    int64_t job_id = accepted[0].second;
    CHECK(job_id > 0);

    // Visible on the store's other (reader) connection the moment the answer came.
    Lead lead = MirrorLead(server.store(), "L1");
    CHECK(lead.name.value_or("") == "Asha");
    CHECK(lead.status == LeadStatus::kNew);
    std::vector<JobInfo> jobs = server.store().JobsForEntity(EntityKind::kLead, "L1", 10);
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0].id == job_id);
    CHECK(jobs[0].event_id == "evt-7f3c2a");
    CHECK(jobs[0].event_type == "lead.created");
    CHECK(jobs[0].state == "ready");
    CHECK(jobs[0].attempts == 0);
    CHECK(jobs[0].created_ms == server.clock().NowMs());
    QueueStats stats = server.store().Stats();
    CHECK(stats.events_total == 1);
    CHECK(stats.ready == 1);
    CHECK(stats.ready_by_priority[static_cast<int>(Priority::kHigh)] == 1);

    // Durable: the file holds it after the store is closed and opened again.
    std::string path = server.db_path();
    server.Close();
    SqliteOptions options;
    options.path = path;
    std::unique_ptr<SqliteStore> reopened = SqliteStore::Open(options);
    CHECK(reopened->GetMirror(EntityKind::kLead, "L1").has_value());
    std::vector<JobInfo> after = reopened->JobsForEntity(EntityKind::kLead, "L1", 10);
    REQUIRE(after.size() == 1);
    CHECK(after[0].id == job_id);
    CHECK(after[0].state == "ready");
  }

  TEST_CASE("intake: a batch of N events answers N results in order") {
    IntakeServer server;
    std::vector<std::string> envelopes;
    const int kN = 25;
    for (int i = 0; i < kN; ++i) {
      std::string n = std::to_string(i);
      envelopes.push_back(i % 2 ? PropertyCreated("b-" + n, "P" + n)
                                : LeadCreated("b-" + n, "L" + n));
    }
    HttpResult r = server.Post(Batch(envelopes));
    REQUIRE(r.status == 202);
    auto accepted = Accepted(r);
    REQUIRE(accepted.size() == kN);
    std::set<int64_t> job_ids;
    for (int i = 0; i < kN; ++i) {
      std::string n = std::to_string(i);
      CHECK(accepted[i].first == "b-" + n);
      job_ids.insert(accepted[i].second);
      EntityKind kind = i % 2 ? EntityKind::kProperty : EntityKind::kLead;
      std::string id = (i % 2 ? "P" : "L") + n;
      CHECK(server.store().GetMirror(kind, id).has_value());
      std::vector<JobInfo> jobs = server.store().JobsForEntity(kind, id, 10);
      REQUIRE(jobs.size() == 1);
      CHECK(jobs[0].id == accepted[i].second);
      CHECK(jobs[0].event_id == "b-" + n);
    }
    CHECK(job_ids.size() == kN);
    CHECK(server.store().Stats().events_total == kN);
    CHECK(server.accepted_calls() == 1);
  }

  TEST_CASE("intake: a repeated eventId answers 200 with the same jobId and writes nothing") {
    IntakeServer server;
    HttpResult first = server.Post(LeadCreated("dup-1", "L1", "Asha"));
    REQUIRE(first.status == 202);
    int64_t job_id = Accepted(first)[0].second;
    QueueStats before = server.store().Stats();

    // The same id with different data: still the original answer, and the mirror
    // keeps the first version.
    HttpResult again = server.Post(LeadCreated("dup-1", "L1", "Someone Else"));
    REQUIRE(again.status == 200);
    auto accepted = Accepted(again);
    REQUIRE(accepted.size() == 1);
    CHECK(accepted[0].first == "dup-1");
    CHECK(accepted[0].second == job_id);
    CHECK(again.body == first.body);

    QueueStats after = server.store().Stats();
    CHECK(after.events_total == before.events_total);
    CHECK(after.ready == before.ready);
    CHECK(after.coalesced_total == before.coalesced_total);
    CHECK(server.store().JobsForEntity(EntityKind::kLead, "L1", 10).size() == 1);
    CHECK(MirrorLead(server.store(), "L1").name.value_or("") == "Asha");
    CHECK(server.metrics().CounterValue("crmsync_events_duplicate_total") == 1);
    CHECK(AcceptedCount(server.metrics(), "lead.created") == 1);
    CHECK(server.accepted_calls() == 1);  // no wake-up for nothing new

    // A batch made only of repeats is a 200 as well.
    HttpResult batch = server.Post(Batch({LeadCreated("dup-1", "L1")}));
    CHECK(batch.status == 200);
    CHECK(server.metrics().CounterValue("crmsync_events_duplicate_total") == 2);
  }

  TEST_CASE("intake: a batch mixing new and repeated events answers 202") {
    IntakeServer server;
    HttpResult first = server.Post(LeadCreated("m-1", "L1"));
    REQUIRE(first.status == 202);
    int64_t old_job = Accepted(first)[0].second;

    HttpResult r = server.Post(
        Batch({PropertyCreated("m-2", "P2"), LeadCreated("m-1", "L1"), LeadCreated("m-3", "L3")}));
    REQUIRE(r.status == 202);
    auto accepted = Accepted(r);
    REQUIRE(accepted.size() == 3);
    CHECK(accepted[0].first == "m-2");
    CHECK(accepted[1].first == "m-1");
    CHECK(accepted[1].second == old_job);
    CHECK(accepted[2].first == "m-3");
    CHECK(accepted[0].second != old_job);
    CHECK(accepted[2].second != old_job);
    CHECK(accepted[0].second != accepted[2].second);
    CHECK(server.store().Stats().events_total == 3);
    CHECK(server.store().JobsForEntity(EntityKind::kLead, "L1", 10).size() == 1);
    CHECK(server.metrics().CounterValue("crmsync_events_duplicate_total") == 1);
    CHECK(AcceptedCount(server.metrics(), "lead.created") == 2);
    CHECK(AcceptedCount(server.metrics(), "property.created") == 1);
    CHECK(server.accepted_calls() == 2);
  }

  TEST_CASE("intake: the same eventId twice in one batch is accepted once") {
    IntakeServer server;
    HttpResult r =
        server.Post(Batch({LeadCreated("twice", "L1"), LeadCreated("twice", "L1", "B")}));
    REQUIRE(r.status == 202);
    auto accepted = Accepted(r);
    REQUIRE(accepted.size() == 2);
    CHECK(accepted[0].second == accepted[1].second);
    CHECK(server.store().Stats().events_total == 1);
    CHECK(MirrorLead(server.store(), "L1").name.value_or("") == "Asha");
  }

  TEST_CASE("intake: 400 lists every bad field's path, and nothing is written") {
    IntakeServer server;
    HttpResult r = server.Post(Batch({
        LeadCreated("ok-0", "L0"),
        Envelope("bad-1", "lead.created", R"({"id":"L1","email":"nope"})"),
        Envelope("bad 2", "property.created", R"({"price":"free"})"),
    }));
    REQUIRE(r.status == 400);
    CHECK(r.headers["Content-Type"] == "application/json");
    auto details = Details(r, "invalid event");
    std::vector<std::pair<std::string, std::string>> expected = {
        {"$.events[1].data.email", "must be an email address (name@domain.tld)"},
        {"$.events[2].eventId", "must be 1-128 characters of A-Z a-z 0-9 _ . : -"},
        {"$.events[2].data.id", "is required"},
        {"$.events[2].data.price", "must be a number"},
    };
    CHECK(details == expected);
    // The valid first event was not written either.
    CheckNothingWritten(server.store(), EntityKind::kLead, "L0");
    CHECK(Rejected(server.metrics(), "invalid") == 1);
    CHECK(server.accepted_calls() == 0);

    HttpResult not_json = server.Post("{\"eventId\":");
    REQUIRE(not_json.status == 400);
    auto root = Details(not_json, "invalid event");
    REQUIRE(root.size() == 1);
    CHECK(root[0].first == "$");
    CHECK(Rejected(server.metrics(), "invalid") == 2);
  }

  TEST_CASE("intake: a status change with only id and status keeps the lead's other fields") {
    IntakeServer server;
    REQUIRE(server
                .Post(Envelope("p-1", "lead.created",
                               R"({"id":"42","name":"Priya","phone":"+91 98765 43210",)"
                               R"("budgetMin":5000000,"preferredLocation":["Baner","Wakad"],)"
                               R"("utmSource":"google","notes":"3BHK","status":"NEW"})"))
                .status == 202);
    REQUIRE(
        server.Post(Envelope("p-2", "lead.status_changed", R"({"id":"42","status":"CONTACTED"})"))
            .status == 202);
    Lead lead = MirrorLead(server.store(), "42");
    CHECK(lead.status == LeadStatus::kContacted);
    CHECK(lead.name.value_or("") == "Priya");
    CHECK(lead.phone.value_or("") == "+91 98765 43210");
    CHECK(lead.budget_min.value_or(0) == doctest::Approx(5000000));
    CHECK(lead.preferred_location == std::vector<std::string>{"Baner", "Wakad"});
    CHECK(lead.utm_source.value_or("") == "google");
    CHECK(lead.notes.value_or("") == "3BHK");
  }

  TEST_CASE("intake: 409 names the field a patch breaks in the stored entity, nothing is written") {
    IntakeServer server;
    REQUIRE(
        server
            .Post(Envelope("b-0", "lead.created", R"({"id":"42","budgetMin":100,"budgetMax":200})"))
            .status == 202);
    HttpResult r =
        server.Post(Batch({LeadCreated("b-1", "L1"),
                           Envelope("b-2", "lead.created", R"({"id":"42","budgetMin":500})")}));
    REQUIRE(r.status == 409);
    auto details = Details(r, "event conflicts with the stored entity");
    REQUIRE(details.size() == 1);
    CHECK(details[0].first == "$.events[1].data.budgetMin");
    CHECK(details[0].second == "merged into the stored lead, must not exceed budgetMax");
    CHECK_FALSE(server.store().GetMirror(EntityKind::kLead, "L1").has_value());
    CHECK(server.store().Stats().events_total == 1);
    CHECK(MirrorLead(server.store(), "42").budget_min.value_or(0) == doctest::Approx(100));
    CHECK(Rejected(server.metrics(), "invalid") == 1);
  }

  TEST_CASE("intake: an event older than every field it carries answers suppressed stale") {
    IntakeServer server;
    auto at = [](const std::string& id, const std::string& when, const std::string& status) {
      return R"({"eventId":")" + id + R"(","type":"lead.status_changed","occurredAt":")" + when +
             R"(","data":{"id":"42","status":")" + status + R"("}})";
    };
    REQUIRE(server.Post(at("s-1", "2026-11-23T10:20:00Z", "QUALIFIED")).status == 202);
    HttpResult r = server.Post(at("s-2", "2026-11-23T10:10:00Z", "CONTACTED"));
    REQUIRE(r.status == 202);
    Poco::JSON::Object::Ptr item = ParseObject(r.body)->getArray("accepted")->getObject(0);
    CHECK(item->getValue<int64_t>("jobId") == 0);
    CHECK(item->getValue<std::string>("suppressed") == "stale");
    CHECK(MirrorLead(server.store(), "42").status == LeadStatus::kQualified);
    CHECK(server.store().Stats().events_total == 2);
  }

  TEST_CASE("intake: 422 for an unknown event type, with its path, and nothing is written") {
    IntakeServer server;
    HttpResult r = server.Post(
        Batch({LeadCreated("ok-0", "L0"), Envelope("u-1", "lead.deleted", R"({"id":"L1"})")}));
    REQUIRE(r.status == 422);
    auto details = Details(r, "unknown event type");
    REQUIRE(details.size() == 1);
    CHECK(details[0].first == "$.events[1].type");
    CHECK(details[0].second.rfind("unknown event type 'lead.deleted'; expected one of ", 0) == 0);
    CheckNothingWritten(server.store(), EntityKind::kLead, "L0");
    CHECK(Rejected(server.metrics(), "unknown_type") == 1);
    CHECK(Rejected(server.metrics(), "invalid") == 0);
  }

  TEST_CASE("intake: 401 without a token, with a wrong token, or with a malformed header") {
    IntakeServer server;
    auto check_401 = [&](const std::map<std::string, std::string>& headers) {
      HttpResult r =
          HttpCall(server.port(), "POST", "/api/v1/events", LeadCreated("a-1", "L1"), headers);
      CHECK(r.status == 401);
      CHECK(r.headers["WWW-Authenticate"] == "Bearer");
      CHECK(ParseObject(r.body)->has("error"));
    };
    check_401({});
    check_401({{"Authorization", "Bearer wrong-token"}});
    check_401({{"Authorization", std::string("Bearer ") + kToken + "x"}});
    check_401({{"Authorization", std::string("bearer ") + kToken}});
    check_401({{"Authorization", std::string("Basic ") + kToken}});
    check_401({{"Authorization", kToken}});
    check_401({{"Authorization", "Bearer "}});
    CheckNothingWritten(server.store(), EntityKind::kLead, "L1");
    CHECK(Rejected(server.metrics(), "unauthorized") == 7);
    // The right token is let in.
    CHECK(server.Post(LeadCreated("a-1", "L1")).status == 202);
  }

  TEST_CASE("intake: an empty configured token closes the API") {
    IntakeOptions options;
    options.token = "";
    IntakeServer server(options);
    for (const std::map<std::string, std::string>& headers :
         std::vector<std::map<std::string, std::string>>{{},
                                                         {{"Authorization", "Bearer "}},
                                                         {{"Authorization", "Bearer"}},
                                                         {{"Authorization", "Bearer x"}}}) {
      HttpResult r =
          HttpCall(server.port(), "POST", "/api/v1/events", LeadCreated("c-1", "L1"), headers);
      CHECK(r.status == 401);
    }
    CheckNothingWritten(server.store(), EntityKind::kLead, "L1");
  }

  TEST_CASE("intake: 413 when the body exceeds max_body_bytes, and nothing is written") {
    IntakeOptions options;
    options.max_body_bytes = 600;
    IntakeServer server(options);
    std::string small = LeadCreated("s-1", "L1");
    REQUIRE(small.size() < 600);
    std::vector<std::string> envelopes;
    for (int i = 0; i < 10; ++i) {
      envelopes.push_back(LeadCreated("big-" + std::to_string(i), "B" + std::to_string(i)));
    }
    std::string big = Batch(envelopes);
    REQUIRE(big.size() > 600);

    // Declared with Content-Length.
    HttpResult r = server.Post(big);
    CHECK(r.status == 413);
    CHECK(ParseObject(r.body)->has("error"));
    // Sent chunked, so only reading tells the size.
    KeepAliveClient client(server.port());
    HttpResult chunked = client.Post(big, kToken, /*chunked=*/true);
    CHECK(chunked.status == 413);
    CheckNothingWritten(server.store(), EntityKind::kLead, "B0");
    CHECK(Rejected(server.metrics(), "too_large") == 2);

    // Exactly at the limit is allowed (padding with spaces keeps it valid JSON).
    std::string at_limit = small + std::string(600 - small.size(), ' ');
    CHECK(server.Post(at_limit).status == 202);
    CHECK(client.Post(LeadCreated("s-2", "L2"), kToken, /*chunked=*/true).status == 202);
    CHECK(server.store().Stats().events_total == 2);
  }

  TEST_CASE("intake: 503 while shutting down, and nothing is written") {
    IntakeServer server;
    server.shutting_down().store(true);
    HttpResult r = server.Post(LeadCreated("sd-1", "L1"));
    CHECK(r.status == 503);
    CHECK(r.headers.count("Retry-After") == 1);
    CHECK(ParseObject(r.body)->has("error"));
    CheckNothingWritten(server.store(), EntityKind::kLead, "L1");
    CHECK(Rejected(server.metrics(), "shutting_down") == 1);
    CHECK(server.accepted_calls() == 0);

    server.shutting_down().store(false);
    CHECK(server.Post(LeadCreated("sd-1", "L1")).status == 202);
  }

  TEST_CASE(
      "intake: 503 when the commit fails writes nothing, and the same request then succeeds") {
    IntakeServer server;
    std::string body =
        Batch({LeadCreated("cf-1", "L1"), PropertyCreated("cf-2", "P2"),
               Envelope("cf-3", "dealer.assigned", R"({"leadId":"L1","dealerId":"D1"})")});
    server.store().committer().FailNextCommitForTesting();
    HttpResult r = server.Post(body);
    REQUIRE(r.status == 503);
    CHECK(r.headers.count("Retry-After") == 1);
    CHECK(ParseObject(r.body)->has("error"));
    CheckNothingWritten(server.store(), EntityKind::kLead, "L1");
    CheckNothingWritten(server.store(), EntityKind::kProperty, "P2");
    CHECK(Rejected(server.metrics(), "store_error") == 1);
    CHECK(AcceptedCount(server.metrics(), "lead.created") == 0);
    CHECK(server.accepted_calls() == 0);

    HttpResult retry = server.Post(body);
    REQUIRE(retry.status == 202);
    auto accepted = Accepted(retry);
    REQUIRE(accepted.size() == 3);
    CHECK(accepted[0].first == "cf-1");
    CHECK(accepted[1].first == "cf-2");
    CHECK(accepted[2].first == "cf-3");
    CHECK(server.store().Stats().events_total == 3);
    CHECK(MirrorLead(server.store(), "L1").assigned_to_id.value_or("") == "D1");
    CHECK(server.store().GetMirror(EntityKind::kProperty, "P2").has_value());
    CHECK(server.accepted_calls() == 1);
  }

  TEST_CASE("intake: concurrent requests share commits and all get 202") {
    IntakeServer server;
    const int kThreads = 16;
    const int kPerThread = 50;
    std::vector<std::vector<int>> statuses(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        KeepAliveClient client(server.port());
        for (int i = 0; i < kPerThread; ++i) {
          std::string n = std::to_string(t) + "-" + std::to_string(i);
          statuses[t].push_back(client.Post(LeadCreated("g-" + n, "L" + n)).status);
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    int ok = 0;
    for (const auto& list : statuses) {
      for (int status : list) ok += status == 202 ? 1 : 0;
    }
    CHECK(ok == kThreads * kPerThread);
    QueueStats stats = server.store().Stats();
    CHECK(stats.events_total == kThreads * kPerThread);
    CHECK(stats.ready == kThreads * kPerThread);
    int64_t groups = server.store().committer().groups();
    int64_t writes = server.store().committer().writes();
    INFO("groups " << groups << ", writes " << writes);
    CHECK(writes >= kThreads * kPerThread);
    CHECK(groups < writes);
    CHECK(server.accepted_calls() == kThreads * kPerThread);
    CHECK(AcceptedCount(server.metrics(), "lead.created") == kThreads * kPerThread);
  }

  TEST_CASE("intake: metrics count accepted by type, rejected by reason, duplicates") {
    IntakeServer server;
    MetricsRegistry& m = server.metrics();
    REQUIRE(server
                .Post(Batch({LeadCreated("x-1", "L1"), PropertyCreated("x-2", "P1"),
                             PropertyCreated("x-3", "P2")}))
                .status == 202);
    REQUIRE(server
                .Post(Envelope("x-4", "inquiry.submitted",
                               R"({"id":"Q1","leadId":"L1","lead":{"id":"L1"}})"))
                .status == 202);
    REQUIRE(server.Post(LeadCreated("x-1", "L1")).status == 200);
    REQUIRE(server.Post(LeadCreated("x-5", "L5"), "bad").status == 401);
    REQUIRE(server.Post(Envelope("x-6", "lead.created", "{}")).status == 400);
    REQUIRE(server.Post(Envelope("x-7", "x.y", "{}")).status == 422);

    CHECK(AcceptedCount(m, "lead.created") == 1);
    CHECK(AcceptedCount(m, "property.created") == 2);
    CHECK(AcceptedCount(m, "inquiry.submitted") == 1);
    CHECK(AcceptedCount(m, "dealer.assigned") == 0);
    CHECK(m.CounterValue("crmsync_events_duplicate_total") == 1);
    CHECK(Rejected(m, "unauthorized") == 1);
    CHECK(Rejected(m, "invalid") == 1);
    CHECK(Rejected(m, "unknown_type") == 1);
    CHECK(Rejected(m, "too_large") == 0);
    std::string text = m.RenderPrometheus();
    CHECK(text.find("crmsync_events_accepted_total{type=\"property.created\"} 2") !=
          std::string::npos);
    CHECK(text.find("crmsync_events_rejected_total{reason=\"invalid\"} 1") != std::string::npos);
  }

  TEST_CASE("intake: on_accepted wakes the dispatcher for each request with new events") {
    IntakeServer server;
    CHECK(server.accepted_calls() == 0);
    REQUIRE(server.Post(LeadCreated("w-1", "L1")).status == 202);
    CHECK(server.accepted_calls() == 1);
    REQUIRE(server.Post(Batch({LeadCreated("w-2", "L2"), LeadCreated("w-3", "L3")})).status == 202);
    CHECK(server.accepted_calls() == 2);
    REQUIRE(server.Post(LeadCreated("w-1", "L1")).status == 200);
    REQUIRE(server.Post(Envelope("w-4", "lead.created", "{}")).status == 400);
    CHECK(server.accepted_calls() == 2);
  }

  TEST_CASE("intake: dealer.assigned updates the lead mirror's assignedToId") {
    IntakeServer server;
    REQUIRE(server.Post(LeadCreated("d-1", "L1", "Asha")).status == 202);
    HttpResult r = server.Post(
        Envelope("d-2", "dealer.assigned",
                 R"({"leadId":"L1","dealerId":"D9","assignedAt":"2026-11-23T10:00:00Z"})"));
    REQUIRE(r.status == 202);
    Lead lead = MirrorLead(server.store(), "L1");
    CHECK(lead.assigned_to_id.value_or("") == "D9");
    CHECK(lead.name.value_or("") == "Asha");  // the rest of the lead is kept
    CHECK(lead.email.value_or("") == "asha@example.com");
    std::vector<JobInfo> jobs = server.store().JobsForEntity(EntityKind::kLead, "L1", 10);
    REQUIRE_FALSE(jobs.empty());
    CHECK(jobs[0].id == Accepted(r)[0].second);

    // A dealer for a lead the mirror does not know yet starts its row.
    REQUIRE(server.Post(Envelope("d-3", "dealer.assigned", R"({"leadId":"L7","dealerId":"D2"})"))
                .status == 202);
    Lead fresh = MirrorLead(server.store(), "L7");
    CHECK(fresh.id == "L7");
    CHECK(fresh.assigned_to_id.value_or("") == "D2");
    std::vector<JobInfo> fresh_jobs = server.store().JobsForEntity(EntityKind::kLead, "L7", 10);
    REQUIRE(fresh_jobs.size() == 1);
    CHECK(fresh_jobs[0].event_type == "dealer.assigned");
  }

  TEST_CASE("intake: inquiry.submitted writes the lead mirror and a lead job") {
    IntakeServer server;
    HttpResult r = server.Post(Envelope(
        "i-1", "inquiry.submitted",
        R"({"id":"Q1","leadId":"L3","propertyId":"P1","message":"Still free?","lead":{"id":"L3","name":"Ravi","phone":"+91 98765 43210"}})"));
    REQUIRE(r.status == 202);
    Lead lead = MirrorLead(server.store(), "L3");
    CHECK(lead.name.value_or("") == "Ravi");
    CHECK(lead.phone.value_or("") == "+91 98765 43210");
    std::vector<JobInfo> jobs = server.store().JobsForEntity(EntityKind::kLead, "L3", 10);
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0].id == Accepted(r)[0].second);
    CHECK(jobs[0].event_type == "inquiry.submitted");
    CHECK(jobs[0].state == "ready");
    CHECK(server.store().Stats().ready_by_priority[static_cast<int>(Priority::kHigh)] == 1);
  }

  TEST_CASE("intake: other methods on /api/v1/events are refused") {
    IntakeServer server;
    HttpResult r = HttpCall(server.port(), "GET", "/api/v1/events", "",
                            {{"Authorization", std::string("Bearer ") + kToken}});
    CHECK(r.status == 405);
    CHECK(HttpCall(server.port(), "POST", "/api/event", LeadCreated("n-1", "L1"),
                   {{"Authorization", std::string("Bearer ") + kToken}})
              .status == 404);
    CheckNothingWritten(server.store(), EntityKind::kLead, "L1");
  }

  TEST_CASE("intake: several requests over one keep-alive connection") {
    IntakeServer server;
    KeepAliveClient client(server.port());
    HttpResult first = client.Post(LeadCreated("k-1", "L1"));
    REQUIRE(first.status == 202);
    poco_socket_t socket = client.socket_id();
    CHECK(client.Post(LeadCreated("k-2", "L2")).status == 202);
    CHECK(client.Post(LeadCreated("k-1", "L1")).status == 200);
    CHECK(client.Post(Envelope("k-3", "lead.created", "{}")).status == 400);
    CHECK(client.Post(Envelope("k-4", "x.y", "{}")).status == 422);
    CHECK(client.Post(PropertyCreated("k-5", "P5")).status == 202);
    CHECK(client.socket_id() == socket);  // all on the first connection
    CHECK(server.store().Stats().events_total == 3);
  }

  TEST_CASE("intake: refusals that leave the body unread do not break a keep-alive connection") {
    IntakeOptions options;
    options.max_body_bytes = 600;
    IntakeServer server(options);
    std::vector<std::string> envelopes;
    for (int i = 0; i < 10; ++i) envelopes.push_back(LeadCreated("big-" + std::to_string(i), "B"));
    std::string big = Batch(envelopes);
    REQUIRE(big.size() > 600);

    KeepAliveClient client(server.port());
    // A small unread body is dropped by the server: the connection stays usable.
    HttpResult unauthorized = client.Post(LeadCreated("r-1", "L1"), "wrong");
    CHECK(unauthorized.status == 401);
    CHECK(Poco::icompare(unauthorized.headers["Connection"], "close") != 0);
    poco_socket_t socket = client.socket_id();
    CHECK(client.Post(LeadCreated("r-2", "L2")).status == 202);
    CHECK(client.socket_id() == socket);
    // A body over the limit is not read: the server closes the connection after
    // the 413, and the client's next request goes over a new one.
    HttpResult too_large = client.Post(big);
    CHECK(too_large.status == 413);
    CHECK(Poco::icompare(too_large.headers["Connection"], "close") == 0);
    CHECK(client.Post(LeadCreated("r-3", "L3")).status == 202);
    // The same for a chunked body found too large while reading it.
    CHECK(client.Post(big, kToken, /*chunked=*/true).status == 413);
    CHECK(client.Post(LeadCreated("r-3b", "L3b"), kToken, /*chunked=*/true).status == 202);
    server.shutting_down().store(true);
    CHECK(client.Post(LeadCreated("r-4", "L4")).status == 503);
    CHECK(client.Post(LeadCreated("r-4", "L4"), kToken, /*chunked=*/true).status == 503);
    server.shutting_down().store(false);
    socket = client.socket_id();
    CHECK(client.Post(LeadCreated("r-5", "L5")).status == 202);
    CHECK(client.socket_id() == socket);
    QueueStats stats = server.store().Stats();
    CHECK(stats.events_total == 4);
    CHECK_FALSE(server.store().GetMirror(EntityKind::kLead, "L1").has_value());
    CHECK_FALSE(server.store().GetMirror(EntityKind::kLead, "B").has_value());
    CHECK_FALSE(server.store().GetMirror(EntityKind::kLead, "L4").has_value());
  }

}  // TEST_SUITE

}  // namespace crmsync::engine
