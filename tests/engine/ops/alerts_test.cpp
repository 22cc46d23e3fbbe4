// Alerts: one per episode, Slack-compatible POSTs to a real HTTP receiver,
// retried on the schedule; the health monitor's conditions and thresholds.
#include <doctest/doctest.h>

#include <mutex>
#include <set>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>

#include "common/clock.h"
#include "ops/alerts.h"
#include "test_support.h"

using namespace crmsync::engine;
using crmsync::testing::WaitUntil;

namespace {

// Receives alert POSTs; answers each with the next scripted status (then 200).
class Receiver {
 public:
  explicit Receiver(std::vector<int> statuses = {})
      : statuses_(std::move(statuses)),
        server_([this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
          Handle(req, resp);
        }) {}
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + "/hooks/alerts";
  }
  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }
  int hits() {
    std::lock_guard<std::mutex> lock(mu_);
    return hits_;
  }

 private:
  void Handle(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    std::string body;
    Poco::StreamCopier::copyToString(req.stream(), body);
    int status = 200;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++hits_;
      if (!statuses_.empty()) {
        status = statuses_.front();
        statuses_.erase(statuses_.begin());
      }
      if (status == 200 && req.getURI() == "/hooks/alerts") bodies_.push_back(body);
    }
    resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    resp.send() << "ok";
  }

  std::mutex mu_;
  std::vector<int> statuses_;
  std::vector<std::string> bodies_;
  int hits_ = 0;
  crmsync::testing::LoopbackHttpServer server_;  // last: stopped first
};

Poco::JSON::Object::Ptr Json(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::unique_ptr<Alerts> MakeAlerts(const std::string& url, ManualClock* clock, MetricsRegistry* m) {
  std::string error;
  auto alerts = Alerts::Create(url, false, RetryPolicy(1000, 3, false), clock, m, &error);
  REQUIRE_MESSAGE(alerts, error);
  alerts->Start();
  return alerts;
}

}  // namespace

TEST_SUITE("engine.ops") {
  TEST_CASE("an alert fires once per episode and posts a Slack-compatible body") {
    Receiver receiver;
    ManualClock clock;
    MetricsRegistry metrics;
    auto alerts = MakeAlerts(receiver.url(), &clock, &metrics);
    CHECK(alerts->Raise("circuit_open", "mock-crm", "the CRM keeps failing"));
    CHECK_FALSE(alerts->Raise("circuit_open", "mock-crm", "still failing"));
    CHECK_FALSE(alerts->Raise("circuit_open", "mock-crm", "still failing"));
    CHECK(alerts->Active().size() == 1);
    REQUIRE(WaitUntil([&] { return receiver.bodies().size() == 1; }));
    auto body = Json(receiver.bodies()[0]);
    CHECK(body->getValue<std::string>("text").find("circuit_open (mock-crm): the CRM keeps failing") !=
          std::string::npos);
    CHECK(body->getValue<std::string>("state") == "firing");
    CHECK(body->getValue<std::string>("kind") == "circuit_open");
    CHECK(metrics.CounterValue("crmsync_alerts_total", {{"kind", "circuit_open"}}) == 1);

    CHECK(alerts->Resolve("circuit_open", "mock-crm", "closed"));
    CHECK_FALSE(alerts->Resolve("circuit_open", "mock-crm", "closed"));
    REQUIRE(WaitUntil([&] { return receiver.bodies().size() == 2; }));
    CHECK(Json(receiver.bodies()[1])->getValue<std::string>("state") == "resolved");
    CHECK(alerts->Active().empty());
    // A new episode alerts again.
    CHECK(alerts->Raise("circuit_open", "mock-crm", "failing again"));
    REQUIRE(WaitUntil([&] { return receiver.bodies().size() == 3; }));
    CHECK(metrics.CounterValue("crmsync_alerts_total", {{"kind", "circuit_open"}}) == 2);
    // The sender counts a post once the answer is read, a moment after the
    // receiver has the body.
    CHECK(WaitUntil([&] { return alerts->posted() == 3; }));
  }

  TEST_CASE("a failed alert POST is retried on the schedule and then given up") {
    Receiver receiver({500, 503});
    ManualClock clock;
    MetricsRegistry metrics;
    auto alerts = MakeAlerts(receiver.url(), &clock, &metrics);
    alerts->Raise("queue_depth", "mock-crm", "12000 jobs waiting");
    // Move time only once the failure is recorded and the retry scheduled.
    REQUIRE(WaitUntil([&] { return alerts->retries_scheduled() == 1; }));
    // Not before the first retry delay.
    clock.Advance(999);
    CHECK_FALSE(WaitUntil([&] { return receiver.hits() > 1; }, std::chrono::milliseconds(200)));
    clock.Advance(1);
    REQUIRE(WaitUntil([&] { return alerts->retries_scheduled() == 2; }));
    CHECK(receiver.hits() == 2);
    clock.Advance(2000);
    REQUIRE(WaitUntil([&] { return receiver.bodies().size() == 1; }));
    CHECK(WaitUntil([&] { return alerts->posted() == 1; }));

    Receiver down({500, 500, 500, 500, 500});
    ManualClock clock2;
    auto failing = MakeAlerts(down.url(), &clock2, &metrics);
    failing->Raise("sync_disabled", "mock-crm", "401");
    for (int i = 0; i < 3; ++i) {
      REQUIRE(WaitUntil([&] { return failing->retries_scheduled() == i + 1; }));
      clock2.Advance(10000);
    }
    REQUIRE(WaitUntil([&] { return failing->post_failures() == 1; }));
    CHECK(down.bodies().empty());
  }

  TEST_CASE("an unusable alert URL is refused naming the key") {
    ManualClock clock;
    std::string error;
    CHECK_FALSE(Alerts::Create("http://198.51.100.7/hook", false, RetryPolicy(1000, 3, false),
                               &clock, nullptr, &error));
    CHECK(error.find("alerts.webhook_url") == 0);
    CHECK_FALSE(Alerts::Create("not a url", false, RetryPolicy(1000, 3, false), &clock, nullptr,
                               &error));
    CHECK(error.find("alerts.webhook_url") == 0);
  }

  TEST_CASE("the monitor raises and resolves each condition at its threshold") {
    ManualClock clock;
    MetricsRegistry metrics;
    auto alerts = MakeAlerts("", &clock, &metrics);
    bool enabled = true;
    bool open = false;
    double ratio = -1;
    int64_t calls = 0, depth = 0, age = 0;
    HealthProbes probes;
    probes.plugin = "p";
    probes.sync_enabled = [&](std::string* reason) {
      *reason = "401 from CRM";
      return enabled;
    };
    probes.circuit_open = [&] { return open; };
    probes.success_ratio = [&] { return ratio; };
    probes.calls_in_window = [&] { return calls; };
    probes.queue_depth = [&] { return depth; };
    probes.oldest_job_age_s = [&] { return age; };
    HealthThresholds limits;
    limits.max_failure_ratio = 0.5;
    limits.min_calls = 20;
    limits.max_queue_depth = 100;
    limits.max_oldest_job_age_s = 60;
    HealthMonitor monitor(alerts.get(), probes, limits, &clock);
    auto kinds = [&] {
      std::set<std::string> k;
      for (const auto& a : alerts->Active()) k.insert(a.kind);
      return k;
    };
    monitor.Evaluate();
    CHECK(kinds().empty());

    enabled = false;
    open = true;
    ratio = 0.4;  // 60% failures...
    calls = 10;   // ...but too few calls to judge
    depth = 101;
    age = 61;
    monitor.Evaluate();
    CHECK(kinds() == std::set<std::string>{"sync_disabled", "circuit_open", "queue_depth",
                                           "oldest_job_age"});
    calls = 20;
    monitor.Evaluate();
    monitor.Evaluate();
    CHECK(kinds().count("failure_rate") == 1);
    CHECK(metrics.CounterValue("crmsync_alerts_total", {{"kind", "failure_rate"}}) == 1);

    enabled = true;
    open = false;
    ratio = 0.5;  // exactly at the threshold: fine
    depth = 100;
    age = 60;
    monitor.Evaluate();
    CHECK(kinds().empty());
  }
}
