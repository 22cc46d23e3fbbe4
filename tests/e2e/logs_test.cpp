// The log of a full run is structured and safe: one JSON object per line with
// level and component, ids carried as fields, and no secret, raw email or
// phone number anywhere, even at debug level.
#include <doctest/doctest.h>

#include <signal.h>

#include <sstream>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "test_support.h"

namespace t = crmsync::testing;

TEST_SUITE("e2e.logs") {
  TEST_CASE("a full run logs JSON lines with ids and never a secret or a contact") {
    const std::string kIntake = "intake-SECRET-a1b2";
    const std::string kAdmin = "admin-SECRET-c3d4";
    const std::string kApiKey = "apikey-SECRET-e5f6";
    const std::string kWebhook = "webhook-SECRET-g7h8";
    const std::string kEmail = "priya.sharma@example.com";
    const std::string kPhone = "+91 98220 12345";
    t::TempDir dir;
    int port = t::FreePort();
    t::ChildProcess engine(
        CRMSYNC_BINARY,
        {"serve", "--set", "server.port=" + std::to_string(port), "--set",
         "store.path=" + dir.File("db"), "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR, "--set",
         "intake.token=" + kIntake, "--set", "admin.token=" + kAdmin, "--set", "log.level=debug",
         "--set", "crm.mock-crm.faults.lead.update=422", "--set", "crm.retry.delay=10"},
        {{"CRM_API_KEY", kApiKey}, {"CRM_WEBHOOK_SECRET", kWebhook}});
    REQUIRE(t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }));
    auto post = [&](const std::string& id, const std::string& type, const std::string& status) {
      return t::HttpCall(port, "POST", "/api/v1/events",
                         R"({"eventId":")" + id + R"(","type":")" + type +
                             R"(","occurredAt":"2026-11-23T10:15:00Z","data":{"id":"L1",)"
                             R"("name":"Priya Sharma","email":")" + kEmail + R"(","phone":")" +
                             kPhone + R"(","status":")" + status + R"("}})",
                         {{"Authorization", "Bearer " + kIntake}, {"X-Request-Id", "req-42"}});
    };
    CHECK(post("ev-1", "lead.created", "NEW").status == 202);
    // The create must be done first: an update posted while it is still untried
    // would be absorbed into it (coalescing), and no update would be sent. Read
    // from the store (the jobs API), not /metrics, whose queue figures are
    // cached for half a second and can predate the create.
    REQUIRE(t::WaitUntil([&] {
      return t::HttpCall(port, "GET", "/api/v1/admin/jobs?entity=lead:L1", "",
                         {{"Authorization", "Bearer " + kAdmin}})
                 .body.find("\"state\":\"done\"") != std::string::npos;
    }));
    // The update is refused by the CRM (422): a dead letter, logged with its reason.
    CHECK(post("ev-2", "lead.status_changed", "CONTACTED").status == 202);
    t::HttpResult bad = t::HttpCall(port, "POST", "/api/v1/events", R"({"eventId":"x"})",
                                    {{"Authorization", "Bearer " + kIntake}});
    CHECK(bad.status == 400);
    CHECK(t::HttpCall(port, "POST", "/api/v1/events", "{}", {{"Authorization", "Bearer wrong"}})
              .status == 401);
    REQUIRE(t::WaitUntil([&] {
      return t::HttpCall(port, "GET", "/api/v1/admin/dlq", "", {{"Authorization", "Bearer " + kAdmin}})
                 .body.find("ev-2") != std::string::npos;
    }));
    // A CRM webhook with the shared secret, and a forged one.
    std::string dump = t::HttpCall(port, "GET", "/api/v1/admin/crm/dump", "",
                                   {{"Authorization", "Bearer " + kAdmin}})
                           .body;
    CHECK(t::HttpCall(port, "POST", "/api/v1/crm/webhook",
                      R"({"event":"lead.updated","entityId":"crm_lead_1","data":{"notes":"call back"}})",
                      {{"X-CRM-Secret", kWebhook}, {"X-CRM-Event", "lead.updated"}})
              .status == 202);
    CHECK(t::HttpCall(port, "POST", "/api/v1/crm/webhook", R"({"event":"lead.updated"})",
                      {{"X-CRM-Secret", "forged"}})
              .status == 401);
    REQUIRE(t::WaitUntil([&] {
      return t::HttpCall(port, "GET", "/api/v1/changes", "", {{"Authorization", "Bearer " + kIntake}})
                 .body.find("call back") != std::string::npos;
    }));
    engine.Signal(SIGTERM);
    REQUIRE(engine.WaitExit(std::chrono::seconds(20)));

    std::string log = engine.Stderr();
    INFO(log.substr(0, 4000));
    for (const std::string& secret : {kIntake, kAdmin, kApiKey, kWebhook}) {
      CHECK_MESSAGE(log.find(secret) == std::string::npos, "secret in the log: " << secret);
    }
    // The contact checks read the log without its timestamps: a fraction of a
    // second such as ".982208" holds the phone's "98220" by chance (found by
    // the flake hunt).
    std::string untimed = log;
    for (size_t at = untimed.find("\"ts\":\""); at != std::string::npos;
         at = untimed.find("\"ts\":\"", at)) {
      const size_t end = untimed.find('"', at + 6);
      if (end == std::string::npos) break;
      untimed.erase(at, end + 1 - at);
    }
    CHECK(untimed.find(kEmail) == std::string::npos);
    CHECK(untimed.find("priya.sharma") == std::string::npos);
    CHECK(untimed.find(kPhone) == std::string::npos);
    CHECK(untimed.find("98220") == std::string::npos);
    CHECK(untimed.find("Priya Sharma") == std::string::npos);

    // Every line is one JSON object with ts, level, component and msg.
    std::istringstream lines(log);
    std::string line;
    int count = 0;
    bool request_id = false, event_id = false, job_id = false, delivery_id = false;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      ++count;
      Poco::JSON::Object::Ptr object;
      REQUIRE_NOTHROW(object = Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>());
      CHECK(object->has("ts"));
      CHECK(object->has("level"));
      CHECK(object->has("component"));
      CHECK(object->has("msg"));
      request_id = request_id || object->optValue<std::string>("request_id", "") == "req-42";
      event_id = event_id || object->optValue<std::string>("event_id", "") == "ev-2";
      job_id = job_id || object->has("job_id");
      delivery_id = delivery_id || object->has("delivery_id");
    }
    CHECK(count > 5);
    CHECK(request_id);   // intake lines carry the platform's request id
    CHECK(event_id);     // the event id follows the job to its dead letter
    CHECK(job_id);
    CHECK(delivery_id);  // webhook lines carry the delivery id
  }
}
