// registration_test.cpp: WebhookRegistrar against the real mock-crm plugin
// (capability webhook_registration): the engine's webhook URL is registered
// once, an unchanged registration is skipped (also by a new registrar over the
// same store, as after a restart), a changed one is sent again, and a
// transient CRM failure is retried on the schedule of a ManualClock.
#include <doctest/doctest.h>

#include <Poco/JSON/Array.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "inbound_fixtures.h"
#include "metrics/metrics.h"
#include "webhook/registration.h"

namespace crmsync::engine {
namespace {

using namespace inbound_test;  // NOLINT
using crmsync::testing::TempDir;
using crmsync::testing::WaitUntil;

constexpr std::chrono::milliseconds kWait(10000);
using Settings = std::map<std::string, std::string>;

WebhookRegistration Registration(
    const std::string& url = "https://sync.example.com/api/crm/webhook",
    const std::string& secret = "shared-secret-one") {
  WebhookRegistration r;
  r.url = url;
  r.events = {"lead.updated", "lead.created"};
  r.secret = secret;
  return r;
}

// The webhooks the mock CRM holds, from its Dump().
std::vector<Poco::JSON::Object::Ptr> CrmWebhooks(LoadedPlugin& plugin) {
  Poco::JSON::Object::Ptr dump = ParseObject(plugin.adapter().Dump());
  std::vector<Poco::JSON::Object::Ptr> hooks;
  if (!dump->has("webhooks")) return hooks;
  Poco::JSON::Array::Ptr list = dump->getArray("webhooks");
  for (unsigned i = 0; i < list->size(); ++i) hooks.push_back(list->getObject(i));
  return hooks;
}

struct RegistrationRig {
  TempDir dir;
  std::string path = dir.File("crmsync.db");
  std::unique_ptr<SqliteStore> store = OpenStore(path);
  std::unique_ptr<LoadedPlugin> plugin;
  ManualClock clock{kT0};
  MetricsRegistry metrics;

  explicit RegistrationRig(const std::map<std::string, std::string>& settings = {})
      : plugin(LoadMockCrm(settings)) {}

  std::unique_ptr<WebhookRegistrar> Registrar(WebhookRegistration registration = Registration(),
                                              int max_retries = 3) {
    return std::make_unique<WebhookRegistrar>(
        store.get(), &plugin->adapter(), kPlugin, std::move(registration),
        RetryPolicy(1000, max_retries, false), &clock, &metrics);
  }
};

TEST_SUITE("engine.inbound") {
  TEST_CASE("registration: mock-crm can register webhooks") {
    RegistrationRig rig;
    CHECK(rig.plugin->info().capabilities.webhook_registration);
  }

  TEST_CASE("registration: registers once, then skips an unchanged registration") {
    RegistrationRig rig;
    std::unique_ptr<WebhookRegistrar> registrar = rig.Registrar();
    bool skipped = true;
    Status s = registrar->RegisterOnce(&skipped);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    CHECK_FALSE(skipped);
    std::vector<Poco::JSON::Object::Ptr> hooks = CrmWebhooks(*rig.plugin);
    REQUIRE(hooks.size() == 1);
    CHECK(hooks[0]->getValue<std::string>("url") == "https://sync.example.com/api/crm/webhook");
    CHECK(hooks[0]->getArray("events")->size() == 2);
    CHECK(hooks[0]->getValue<std::string>("secret") == "shared-secret-one");
    CHECK_FALSE(rig.store->WebhookRegistration(kPlugin).empty());

    s = registrar->RegisterOnce(&skipped);
    CHECK(s.ok());
    CHECK(skipped);
    CHECK(CrmWebhooks(*rig.plugin).size() == 1);
  }

  TEST_CASE("registration: a restart over the same store does not register again") {
    RegistrationRig rig;
    bool skipped = false;
    REQUIRE(rig.Registrar()->RegisterOnce(&skipped).ok());
    REQUIRE_FALSE(skipped);
    rig.store.reset();
    rig.store = OpenStore(rig.path);
    std::unique_ptr<WebhookRegistrar> after_restart = rig.Registrar();
    CHECK(after_restart->RegisterOnce(&skipped).ok());
    CHECK(skipped);
    CHECK(CrmWebhooks(*rig.plugin).size() == 1);
    // The background thread reports the same.
    after_restart->Start();
    CHECK(WaitUntil([&] { return after_restart->state() == "already registered"; }, kWait));
    after_restart->Stop();
  }

  TEST_CASE("registration: a changed URL, event list or secret registers again") {
    RegistrationRig rig;
    bool skipped = false;
    REQUIRE(rig.Registrar()->RegisterOnce(&skipped).ok());
    SUBCASE("url") {
      CHECK(rig.Registrar(Registration("https://sync2.example.com/api/crm/webhook"))
                ->RegisterOnce(&skipped)
                .ok());
      CHECK_FALSE(skipped);
      std::vector<Poco::JSON::Object::Ptr> hooks = CrmWebhooks(*rig.plugin);
      REQUIRE(hooks.size() == 2);
      CHECK(hooks[1]->getValue<std::string>("url") == "https://sync2.example.com/api/crm/webhook");
      // And that one is now the registered one.
      CHECK(rig.Registrar(Registration("https://sync2.example.com/api/crm/webhook"))
                ->RegisterOnce(&skipped)
                .ok());
      CHECK(skipped);
    }
    SUBCASE("secret") {
      CHECK(rig.Registrar(Registration("https://sync.example.com/api/crm/webhook", "rotated"))
                ->RegisterOnce(&skipped)
                .ok());
      CHECK_FALSE(skipped);
      CHECK(CrmWebhooks(*rig.plugin).size() == 2);
    }
    SUBCASE("events") {
      WebhookRegistration more = Registration();
      more.events.push_back("property.updated");
      CHECK(rig.Registrar(more)->RegisterOnce(&skipped).ok());
      CHECK_FALSE(skipped);
      CHECK(CrmWebhooks(*rig.plugin).size() == 2);
    }
  }

  TEST_CASE("registration: the background thread registers and reports it") {
    RegistrationRig rig;
    std::unique_ptr<WebhookRegistrar> registrar = rig.Registrar();
    CHECK(registrar->state() == "pending");
    registrar->Start();
    CHECK(WaitUntil([&] { return registrar->state() == "registered"; }, kWait));
    registrar->Stop();
    CHECK(CrmWebhooks(*rig.plugin).size() == 1);
  }

  TEST_CASE("registration: a transient failure is retried when the clock reaches the delay") {
    RegistrationRig rig(Settings{{"faults.webhook.register", "500, 503"}});
    std::unique_ptr<WebhookRegistrar> registrar = rig.Registrar();
    registrar->Start();
    CHECK(WaitUntil([&] { return registrar->state().rfind("failed: ", 0) == 0; }, kWait));
    CHECK(CrmWebhooks(*rig.plugin).empty());
    rig.clock.Advance(1000);  // after try 1: 1 s
    CHECK(WaitUntil([&] { return Contains(registrar->state(), "503"); }, kWait));
    CHECK(CrmWebhooks(*rig.plugin).empty());
    rig.clock.Advance(2000);  // after try 2: 2 s
    CHECK(WaitUntil([&] { return registrar->state() == "registered"; }, kWait));
    registrar->Stop();
    CHECK(CrmWebhooks(*rig.plugin).size() == 1);
  }

  TEST_CASE("registration: a permanent failure raises an alert and is not retried") {
    RegistrationRig rig(Settings{{"faults.webhook.register", "422"}});
    std::unique_ptr<WebhookRegistrar> registrar = rig.Registrar();
    registrar->Start();
    const Labels alert = {{"kind", "webhook_registration"}, {"plugin", kPlugin}};
    CHECK(WaitUntil([&] { return rig.metrics.CounterValue("crmsync_alerts_total", alert) == 1; },
                    kWait));
    CHECK(registrar->state().rfind("failed: ", 0) == 0);
    // The script is used up, so a retry would succeed: none may happen.
    rig.clock.Advance(3'600'000);
    CHECK_FALSE(WaitUntil([&] { return !CrmWebhooks(*rig.plugin).empty(); },
                          std::chrono::milliseconds(300)));
    registrar->Stop();
    CHECK(rig.store->WebhookRegistration(kPlugin).empty());
    // RegisterOnce reports the failure as classified.
    RegistrationRig direct(Settings{{"faults.webhook.register", "422"}});
    bool skipped = true;
    Status s = direct.Registrar()->RegisterOnce(&skipped);
    CHECK_FALSE(s.ok());
    CHECK_FALSE(s.IsTransient());
    CHECK_FALSE(skipped);
  }
}

}  // namespace
}  // namespace crmsync::engine
