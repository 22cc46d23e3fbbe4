// change_feed_test.cpp: how the platform hears about CRM changes (docs/design.md
// §5): GET /api/v1/changes over real HTTP (bearer token, after/limit paging with
// "next", 400 for a bad cursor), and the CallbackSender POSTing each change to
// a real Poco HTTPServer started by the test, retried on the RetryPolicy
// schedule under a ManualClock, dead-lettered as plugin "callback" and
// replayed from there.
#include <doctest/doctest.h>

#include <Poco/JSON/Array.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "webhook_rig.h"

namespace crmsync::engine {
namespace {

using namespace inbound_test;  // NOLINT
using crmsync::testing::TempDir;
using crmsync::testing::WaitUntil;

constexpr std::chrono::milliseconds kWait(10000);

// --- the platform's callback endpoint ------------------------------------------

struct Received {
  std::string path;
  std::string body;
  std::string seq_header;
};

class CallbackServer {
 public:
  CallbackServer()
      : server_([this](Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) { Handle(request, response); }) {}

  int port() const { return server_.port(); }
  std::string Url(const std::string& path = "/hooks/crm-changes") const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  void AnswerWith(int status) { status_ = status; }
  std::vector<Received> received() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_.size();
  }

 private:
  void Handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    Received r;
    r.path = request.getURI();
    Poco::StreamCopier::copyToString(request.stream(), r.body);
    r.seq_header = request.get("X-Crmsync-Change-Seq", "");
    {
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back(std::move(r));
    }
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status_.load()));
    response.setContentType("application/json");
    response.send() << "{}";
  }

  std::atomic<int> status_{200};
  mutable std::mutex mu_;
  std::vector<Received> received_;
  crmsync::testing::LoopbackHttpServer server_;  // last: stopped first
};

// Applies one CRM-first lead per id, so the feed has one entry each.
void MakeChanges(Store& store, const std::vector<std::string>& ids, bool queue_callbacks,
                 int64_t now_ms = kT0) {
  InboundRules rules;
  rules.queue_callbacks = queue_callbacks;
  for (const std::string& id : ids) {
    InboundResult r = RecordAndApply(
        store, "d-" + id,
        LeadChange(id, R"({"status":"NEW","name":"N )" + id + "\"}", std::nullopt, "lead.created"),
        rules, now_ms);
    REQUIRE(r.kind == InboundResult::Kind::kCreated);
  }
}

HttpResult Feed(WebhookRig& rig, const std::string& query, const std::string& token = kFeedToken) {
  Headers headers;
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  return HttpCall(rig.port(), "GET", "/api/v1/changes" + query, "", headers);
}

std::vector<std::string> FeedIds(const std::string& body) {
  std::vector<std::string> ids;
  Poco::JSON::Array::Ptr list = ParseObject(body)->getArray("changes");
  for (unsigned i = 0; i < list->size(); ++i) {
    ids.push_back(list->getObject(i)->getValue<std::string>("entity"));
  }
  return ids;
}

int64_t Next(const std::string& body) { return ParseObject(body)->getValue<int64_t>("next"); }

std::unique_ptr<CallbackSender> Sender(Store& store, const std::string& url, Clock& clock,
                                       MetricsRegistry& metrics, int max_retries = 2) {
  std::string error;
  std::unique_ptr<CallbackSender> sender = CallbackSender::Create(
      url, false, &store, RetryPolicy(1000, max_retries, false), &clock, &metrics, &error);
  REQUIRE_MESSAGE(sender, error);
  return sender;
}

int64_t Callbacks(MetricsRegistry& metrics, const std::string& result) {
  return metrics.CounterValue("crmsync_change_callbacks_total", {{"result", result}});
}

DeadLetterFilter CallbackLetters() {
  DeadLetterFilter filter;
  filter.plugin = "callback";
  return filter;
}

TEST_SUITE("engine.inbound") {
  TEST_CASE("change feed: the intake bearer token is required") {
    WebhookRig rig;
    MakeChanges(rig.store(), {"a"}, false);
    CHECK(Feed(rig, "", "").status == 401);
    CHECK(Feed(rig, "", "wrong-token").status == 401);
    CHECK(HttpCall(rig.port(), "GET", "/api/v1/changes", "", {{"Authorization", kFeedToken}}).status ==
          401);
    HttpResult ok = Feed(rig, "");
    CHECK(ok.status == 200);
    CHECK(FeedIds(ok.body) == std::vector<std::string>{"lead:crm-a"});
  }

  TEST_CASE("change feed: after and limit page through the feed with next") {
    WebhookRig rig;
    MakeChanges(rig.store(), {"a", "b", "c", "d", "e"}, false);
    std::vector<ChangeRecord> all = rig.store().Changes(0, 100);
    REQUIRE(all.size() == 5);

    HttpResult page1 = Feed(rig, "?after=0&limit=2");
    REQUIRE(page1.status == 200);
    CHECK(FeedIds(page1.body) == std::vector<std::string>{"lead:crm-a", "lead:crm-b"});
    CHECK(Next(page1.body) == all[1].seq);
    HttpResult page2 = Feed(rig, "?after=" + std::to_string(Next(page1.body)) + "&limit=2");
    CHECK(FeedIds(page2.body) == std::vector<std::string>{"lead:crm-c", "lead:crm-d"});
    HttpResult page3 = Feed(rig, "?after=" + std::to_string(Next(page2.body)) + "&limit=2");
    CHECK(FeedIds(page3.body) == std::vector<std::string>{"lead:crm-e"});
    CHECK(Next(page3.body) == all[4].seq);
    // At the end: no changes, and next stays where it was.
    HttpResult end = Feed(rig, "?after=" + std::to_string(Next(page3.body)) + "&limit=2");
    CHECK(FeedIds(end.body).empty());
    CHECK(Next(end.body) == all[4].seq);
    // A change arriving later shows up from the same cursor.
    MakeChanges(rig.store(), {"f"}, false);
    HttpResult later = Feed(rig, "?after=" + std::to_string(Next(end.body)));
    CHECK(FeedIds(later.body) == std::vector<std::string>{"lead:crm-f"});
    // Defaults: from the start, all of them.
    CHECK(FeedIds(Feed(rig, "").body).size() == 6);
  }

  TEST_CASE("change feed: an entry carries the change and the entity after it") {
    WebhookRig rig;
    CreateLinkedLead(rig.store(), "L1", "crm_L1");
    REQUIRE(RecordAndApply(rig.store(), "dlv-7",
                           LeadChange("crm_L1", R"({"status":"CONVERTED","notes":"Booked"})"), {},
                           kT0 + 1234)
                .kind == InboundResult::Kind::kApplied);
    HttpResult r = Feed(rig, "");
    REQUIRE(r.status == 200);
    Poco::JSON::Object::Ptr entry = ParseObject(r.body)->getArray("changes")->getObject(0);
    CHECK(entry->getValue<int64_t>("seq") > 0);
    CHECK(entry->getValue<std::string>("at") == FormatIsoMs(kT0 + 1234));
    CHECK(entry->getValue<std::string>("entity") == "lead:L1");
    CHECK(entry->getValue<std::string>("source") == "crm");
    CHECK(entry->getValue<std::string>("deliveryId") == "dlv-7");
    CHECK(entry->getValue<std::string>("crmEvent") == "lead.updated");
    CHECK(entry->getObject("fields")->getValue<std::string>("status") == "CONVERTED");
    CHECK_FALSE(entry->getObject("fields")->has("email"));
    CHECK(entry->getObject("data")->getValue<std::string>("email") == "lead-L1@example.com");
    CHECK(entry->getObject("data")->getValue<std::string>("notes") == "Booked");
  }

  TEST_CASE("change feed: 400 naming the bad parameter") {
    WebhookRig rig;
    MakeChanges(rig.store(), {"a"}, false);
    for (std::string query :
         {"?after=-1", "?after=abc", "?after=1.5", "?after=", "?after=99999999999999999999"}) {
      CAPTURE(query);
      HttpResult r = Feed(rig, query);
      CHECK(r.status == 400);
      CHECK(Contains(Field(r.body, "error"), "after"));
    }
    for (std::string query : {"?limit=0", "?limit=1001", "?limit=abc", "?limit=-5",
                              "?limit=", "?after=0&limit=2x", "?limit=99999999999999999999"}) {
      CAPTURE(query);
      HttpResult r = Feed(rig, query);
      CHECK(r.status == 400);
      CHECK(Contains(Field(r.body, "error"), "limit"));
    }
    CHECK(Feed(rig, "?after=0&limit=1000").status == 200);
    CHECK(Feed(rig, "?limit=1").status == 200);
  }

  TEST_CASE("callbacks: each change is POSTed as JSON once") {
    TempDir dir;
    std::unique_ptr<SqliteStore> store = OpenStore(dir.File("crmsync.db"));
    CallbackServer platform;
    ManualClock clock(kT0);
    MetricsRegistry metrics;
    MakeChanges(*store, {"a", "b"}, true);
    std::unique_ptr<CallbackSender> sender = Sender(*store, platform.Url(), clock, metrics);

    CHECK(sender->SendDue() == 2);
    std::vector<Received> got = platform.received();
    REQUIRE(got.size() == 2);
    std::vector<ChangeRecord> changes = store->Changes(0, 10);
    for (size_t i = 0; i < 2; ++i) {
      CHECK(got[i].path == "/hooks/crm-changes");
      CHECK(got[i].body == ChangeJson(changes[i]));
      CHECK(got[i].seq_header == std::to_string(changes[i].seq));
      CHECK(ParseObject(got[i].body)->getValue<int64_t>("seq") == changes[i].seq);
    }
    CHECK(sender->SendDue() == 0);
    clock.Advance(3'600'000);
    CHECK(sender->SendDue() == 0);
    CHECK(platform.count() == 2);
    CHECK(Callbacks(metrics, "delivered") == 2);
    CHECK(store->ListDeadLetters(CallbackLetters()).empty());
  }

  TEST_CASE("callbacks: changes written without queue_callbacks are never sent") {
    TempDir dir;
    std::unique_ptr<SqliteStore> store = OpenStore(dir.File("crmsync.db"));
    CallbackServer platform;
    ManualClock clock(kT0);
    MetricsRegistry metrics;
    MakeChanges(*store, {"a"}, false);
    std::unique_ptr<CallbackSender> sender = Sender(*store, platform.Url(), clock, metrics);
    CHECK(sender->SendDue() == 0);
    CHECK(platform.count() == 0);
  }

  TEST_CASE("callbacks: a failing endpoint is retried on schedule, dead-lettered, then replayed") {
    TempDir dir;
    std::unique_ptr<SqliteStore> store = OpenStore(dir.File("crmsync.db"));
    CallbackServer platform;
    platform.AnswerWith(500);
    ManualClock clock(kT0);
    MetricsRegistry metrics;
    MakeChanges(*store, {"a"}, true);
    std::unique_ptr<CallbackSender> sender = Sender(*store, platform.Url(), clock, metrics, 2);

    CHECK(sender->SendDue() == 1);  // try 1 fails
    CHECK(platform.count() == 1);
    CHECK(sender->SendDue() == 0);
    clock.Advance(999);
    CHECK(sender->SendDue() == 0);  // not before 1 s
    clock.Advance(1);
    CHECK(sender->SendDue() == 1);  // try 2 fails
    CHECK(platform.count() == 2);
    clock.Advance(1999);
    CHECK(sender->SendDue() == 0);  // not before 2 s
    CHECK(store->ListDeadLetters(CallbackLetters()).empty());
    clock.Advance(1);
    CHECK(sender->SendDue() == 1);  // try 3 fails: 2 retries used up
    CHECK(platform.count() == 3);
    CHECK(Callbacks(metrics, "retry") == 2);
    CHECK(Callbacks(metrics, "dead_lettered") == 1);

    std::vector<DeadLetter> dead = store->ListDeadLetters(CallbackLetters());
    REQUIRE(dead.size() == 1);
    const int64_t seq = store->Changes(0, 10)[0].seq;
    CHECK(dead[0].plugin == "callback");
    CHECK(dead[0].attempts == 3);
    CHECK(dead[0].entity_id == std::to_string(seq));
    CHECK(Contains(dead[0].reason, "500"));
    CHECK(store->Stats().dead == 1);
    clock.Advance(24 * 3'600'000LL);
    CHECK(sender->SendDue() == 0);  // given up
    CHECK(platform.count() == 3);

    platform.AnswerWith(200);
    std::vector<int64_t> replayed = store->ReplayDeadLetters(CallbackLetters(), clock.NowMs());
    CHECK(replayed.size() == 1);
    CHECK(store->ListDeadLetters(CallbackLetters()).empty());
    CHECK(sender->SendDue() == 1);
    CHECK(platform.count() == 4);
    CHECK(ParseObject(platform.received().back().body)->getValue<int64_t>("seq") == seq);
    CHECK(Callbacks(metrics, "delivered") == 1);
    CHECK(sender->SendDue() == 0);
    // Replaying again finds nothing open.
    CHECK(store->ReplayDeadLetters(CallbackLetters(), clock.NowMs()).empty());
  }

  TEST_CASE("callbacks: a replayed callback that fails again gets a full schedule") {
    TempDir dir;
    std::unique_ptr<SqliteStore> store = OpenStore(dir.File("crmsync.db"));
    CallbackServer platform;
    platform.AnswerWith(503);
    ManualClock clock(kT0);
    MetricsRegistry metrics;
    MakeChanges(*store, {"a"}, true);
    std::unique_ptr<CallbackSender> sender = Sender(*store, platform.Url(), clock, metrics, 0);
    CHECK(sender->SendDue() == 1);  // no retries: dead at once
    REQUIRE(store->ListDeadLetters(CallbackLetters()).size() == 1);
    REQUIRE(store->ReplayDeadLetters(CallbackLetters(), clock.NowMs()).size() == 1);
    CHECK(sender->SendDue() == 1);
    CHECK(platform.count() == 2);
    // Dead again: a new dead letter, the old one stays replayed.
    CHECK(store->ListDeadLetters(CallbackLetters()).size() == 1);
    DeadLetterFilter all = CallbackLetters();
    all.include_replayed = true;
    CHECK(store->ListDeadLetters(all).size() == 2);
  }

  TEST_CASE("callbacks: a 4xx answer is dead-lettered at once") {
    TempDir dir;
    std::unique_ptr<SqliteStore> store = OpenStore(dir.File("crmsync.db"));
    CallbackServer platform;
    platform.AnswerWith(422);
    ManualClock clock(kT0);
    MetricsRegistry metrics;
    MakeChanges(*store, {"a"}, true);
    std::unique_ptr<CallbackSender> sender = Sender(*store, platform.Url(), clock, metrics, 5);
    CHECK(sender->SendDue() == 1);
    CHECK(store->ListDeadLetters(CallbackLetters()).size() == 1);
    clock.Advance(60'000);
    CHECK(sender->SendDue() == 0);
    CHECK(platform.count() == 1);
  }

  TEST_CASE("callbacks: the sender's thread retries when the clock moves") {
    TempDir dir;
    std::unique_ptr<SqliteStore> store = OpenStore(dir.File("crmsync.db"));
    CallbackServer platform;
    platform.AnswerWith(500);
    ManualClock clock(kT0);
    MetricsRegistry metrics;
    MakeChanges(*store, {"a"}, true);
    std::unique_ptr<CallbackSender> sender = Sender(*store, platform.Url(), clock, metrics, 3);
    sender->Start();
    // The retry is scheduled once the failure is recorded (then the metric counts it).
    REQUIRE(WaitUntil([&] { return Callbacks(metrics, "retry") == 1; }, kWait));
    CHECK(platform.count() == 1);
    platform.AnswerWith(200);
    clock.Advance(1000);
    CHECK(WaitUntil([&] { return Callbacks(metrics, "delivered") == 1; }, kWait));
    CHECK(platform.count() == 2);
    // A new change is sent once the sender is woken.
    MakeChanges(*store, {"b"}, true, clock.NowMs());
    sender->Wake();
    CHECK(WaitUntil([&] { return Callbacks(metrics, "delivered") == 2; }, kWait));
    sender->Stop();
    sender->Stop();
  }

  TEST_CASE("callbacks: an unusable callback URL is refused with a reason") {
    TempDir dir;
    std::unique_ptr<SqliteStore> store = OpenStore(dir.File("crmsync.db"));
    ManualClock clock(kT0);
    MetricsRegistry metrics;
    std::string error;
    CHECK_FALSE(CallbackSender::Create("not a url", false, store.get(), RetryPolicy(1000, 2, false),
                                       &clock, &metrics, &error));
    CHECK(Contains(error, "inbound.callback_url"));
    error.clear();
    CHECK_FALSE(CallbackSender::Create("http://platform.example.com/hook", false, store.get(),
                                       RetryPolicy(1000, 2, false), &clock, &metrics, &error));
    CHECK(Contains(error, "inbound.callback_url"));
    error.clear();
    CHECK(CallbackSender::Create("http://platform.example.com/hook", true, store.get(),
                                 RetryPolicy(1000, 2, false), &clock, &metrics, &error));
  }
}

}  // namespace
}  // namespace crmsync::engine
