// shadow/shadow_runner with the real generic-rest-crm plugin loaded twice:
// live with config/crms/sunshine-reference.json, shadow with a copy whose
// lead `name` is renamed `fullName`. The queue drops and counts when full and
// never blocks; each step is compared and the renamed field's pointers are
// counted per job; a shadow that cannot build counts an error; the summary
// outlives its runner and a reset starts it clean. Nothing is sent: the CRM
// URL is a closed port.
#include <doctest/doctest.h>

#include <memory>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "common/clock.h"
#include "plugin_host/plugin_loader.h"
#include "shadow/shadow_runner.h"
#include "store/memory_plugin_states.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

const std::string kMapping = CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json";
const std::string kApiKey = "shadow-unit-api-key-5521";

std::string Renamed() {
  std::string text = crmsync::testing::ReadFile(kMapping);
  const std::string from = R"("name": "{{name}}")";
  const std::string to = R"("fullName": "{{name}}")";
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::unique_ptr<LoadedPlugin> Load(const std::string& mapping) {
  std::string error;
  auto plugin = LoadedPlugin::Load(CRMSYNC_PLUGIN_DIR, "generic-rest-crm", &error);
  REQUIRE_MESSAGE(plugin, error);
  PluginConfig config({{"mapping", mapping},
                       {"api_url", "http://127.0.0.1:1"},
                       {"api_key", kApiKey},
                       {"api_secret", "shadow-unit-secret"},
                       {"timeout_ms", "1000"},
                       {"allow_insecure_http", "false"}});
  REQUIRE_MESSAGE(plugin->Configure(config, &error), error);
  return plugin;
}

SyncJob LeadJob(int n) {
  SyncJob job;
  job.job_id = std::to_string(n);
  job.event_id = "evt-" + std::to_string(n);
  job.event_type = EventType::kLeadCreated;
  job.entity_kind = EntityKind::kLead;
  job.entity_id = std::to_string(n);
  job.external_reference = "lead:" + std::to_string(n);
  Lead lead;
  lead.id = job.entity_id;
  lead.name = "Asha " + std::to_string(n);
  lead.email = "asha" + std::to_string(n) + "@acme.example";
  lead.status = LeadStatus::kNew;
  job.lead = lead;
  return job;
}

// What the dispatcher hands over for a job the live adapter created.
BuiltJob Built(GuardedAdapter& live, int n, bool with_request = true) {
  BuiltJob built;
  built.job_id = n;
  built.job = LeadJob(n);
  REQUIRE(live.Plan(built.job, &built.plan).ok());
  BuiltJob::Step step;
  step.kind = StepKind::kCreate;
  if (with_request) {
    HttpRequest request;
    REQUIRE(live.BuildRequest(built.job, StepKind::kCreate, &request).ok());
    step.request = request;
  }
  built.steps.push_back(step);
  return built;
}

Object::Ptr Report(ShadowRunner& runner) {
  return Poco::JSON::Parser().parse(runner.Report()).extract<Object::Ptr>();
}

// The count of (step, where, pointer, change) in a report; 0 when absent.
int Count(const Object::Ptr& report, const std::string& pointer, const std::string& change) {
  Array::Ptr list = report->getArray("differences");
  for (unsigned i = 0; i < list->size(); ++i) {
    Object::Ptr d = list->getObject(i);
    if (d->getValue<std::string>("pointer") == pointer &&
        d->getValue<std::string>("change") == change && d->getValue<std::string>("step") == "create") {
      return d->getValue<int>("count");
    }
  }
  return 0;
}

struct Fixture {
  Fixture() {
    WriteFile(dir.File("renamed.json"), Renamed());
    live = Load(kMapping);
    shadow = Load(dir.File("renamed.json"));
    options.plugin = "generic-rest-crm";
    options.mapping = dir.File("renamed.json");
    options.secrets = {kApiKey};
  }
  std::unique_ptr<ShadowRunner> Runner() {
    return std::make_unique<ShadowRunner>(options, &live->adapter(), &shadow->adapter(), &states,
                                          &clock, &metrics);
  }
  static void WriteFile(const std::string& path, const std::string& text) {
    crmsync::testing::WriteFile(path, text);
  }

  crmsync::testing::TempDir dir;
  std::unique_ptr<LoadedPlugin> live;
  std::unique_ptr<LoadedPlugin> shadow;
  ShadowOptions options;
  MemoryPluginStates states;
  ManualClock clock{1796256000000};
  MetricsRegistry metrics;
};

TEST_SUITE("shadow") {
  TEST_CASE("a full queue drops and counts the job, never waits") {
    Fixture f;
    f.options.capacity = 2;
    auto runner = f.Runner();
    CHECK(runner->Offer(Built(f.live->adapter(), 1)));
    CHECK(runner->Offer(Built(f.live->adapter(), 2)));
    for (int n = 3; n <= 5; ++n) CHECK_FALSE(runner->Offer(Built(f.live->adapter(), n)));
    ShadowFigures figures = runner->Figures();
    CHECK(figures.dropped == 3);
    CHECK(figures.queue_depth == 2);
    CHECK(figures.queue_capacity == 2);
    CHECK(f.metrics.CounterValue("crmsync_shadow_dropped_total") == 3);
    runner->Drain();
    figures = runner->Figures();
    CHECK(figures.compared == 2);
    CHECK(figures.queue_depth == 0);
    CHECK(Report(*runner)->getObject("jobs")->getValue<int>("dropped") == 3);
    // Room again.
    CHECK(runner->Offer(Built(f.live->adapter(), 6)));
  }

  TEST_CASE("each job's steps are compared: the renamed field's pointers, counted per job") {
    Fixture f;
    auto runner = f.Runner();
    for (int n = 1; n <= 3; ++n) REQUIRE(runner->Offer(Built(f.live->adapter(), n)));
    // A batched job: the runner builds the live request itself.
    REQUIRE(runner->Offer(Built(f.live->adapter(), 4, false)));
    runner->Drain();
    Object::Ptr report = Report(*runner);
    INFO(runner->Report());
    CHECK(report->getValue<bool>("enabled"));
    Object::Ptr jobs = report->getObject("jobs");
    CHECK(jobs->getValue<int>("compared") == 4);
    CHECK(jobs->getValue<int>("differing") == 4);
    CHECK(jobs->getValue<int>("identical") == 0);
    CHECK(Count(report, "/fullName", "added") == 4);
    CHECK(Count(report, "/name", "removed") == 4);
    CHECK(report->getObject("steps")->getObject("create")->getValue<int>("differing") == 4);
    CHECK(report->getValue<int>("planDiffering") == 0);
    CHECK(f.metrics.CounterValue("crmsync_shadow_jobs_total", {{"result", "differing"}}) == 4);
    // Examples are masked: no email, no API key (the transport's header).
    const std::string text = runner->Report();
    CHECK(text.find("acme.example") == std::string::npos);
    CHECK(text.find(kApiKey) == std::string::npos);
    CHECK(text.find("X-API-Key") != std::string::npos);
    // Nothing was sent: there is no sandbox.
    CHECK(report->getObject("sandbox")->getValue<int>("sent") == 0);
  }

  TEST_CASE("examples: the first few, then at most one a second, the latest kept") {
    Fixture f;
    auto runner = f.Runner();
    for (int n = 1; n <= 8; ++n) REQUIRE(runner->Offer(Built(f.live->adapter(), n)));
    runner->Drain();
    auto job_ids = [&] {
      std::vector<int> ids;
      Array::Ptr examples = Report(*runner)->getArray("examples");
      for (unsigned i = 0; i < examples->size(); ++i) {
        ids.push_back(examples->getObject(i)->getValue<int>("jobId"));
      }
      return ids;
    };
    CHECK(job_ids() == std::vector<int>{1, 2, 3, 4, 5});
    f.clock.Advance(1000);
    for (int n = 9; n <= 10; ++n) REQUIRE(runner->Offer(Built(f.live->adapter(), n)));
    runner->Drain();
    CHECK(job_ids() == std::vector<int>{2, 3, 4, 5, 9});
    // Every job is counted all the same.
    CHECK(Count(Report(*runner), "/fullName", "added") == 10);
  }

  TEST_CASE("the same mapping on both sides is identical") {
    Fixture f;
    f.shadow = Load(kMapping);
    auto runner = f.Runner();
    REQUIRE(runner->Offer(Built(f.live->adapter(), 1)));
    runner->Drain();
    ShadowFigures figures = runner->Figures();
    CHECK(figures.compared == 1);
    CHECK(figures.identical == 1);
    CHECK(figures.differing == 0);
  }

  TEST_CASE("a job the shadow cannot plan or build counts as an error, masked") {
    Fixture f;
    // The shadow's mapping has no deal for a lead.
    Object::Ptr mapping =
        Poco::JSON::Parser().parse(crmsync::testing::ReadFile(kMapping)).extract<Object::Ptr>();
    mapping->getObject("entities")->getObject("lead")->getObject("operations")->remove("deal");
    std::ostringstream text;
    mapping->stringify(text);
    Fixture::WriteFile(f.dir.File("no-deal.json"), text.str());
    f.shadow = Load(f.dir.File("no-deal.json"));
    auto runner = f.Runner();
    BuiltJob converted;
    converted.job_id = 1;
    converted.job = LeadJob(1);
    converted.job.event_type = EventType::kLeadStatusChanged;
    converted.job.lead->status = LeadStatus::kConverted;
    converted.job.external_id = "crm-1";
    REQUIRE(f.live->adapter().Plan(converted.job, &converted.plan).ok());
    HttpRequest deal;
    REQUIRE(f.live->adapter().BuildRequest(converted.job, StepKind::kDeal, &deal).ok());
    converted.steps.push_back({StepKind::kDeal, std::string("crm-1"), deal});
    REQUIRE(runner->Offer(std::move(converted)));
    runner->Drain();
    Object::Ptr report = Report(*runner);
    INFO(runner->Report());
    CHECK(report->getObject("jobs")->getValue<int>("errors") == 1);
    CHECK(report->getObject("jobs")->getValue<int>("compared") == 0);
    Array::Ptr errors = report->getArray("errorExamples");
    REQUIRE(errors->size() == 1);
    CHECK(errors->getObject(0)->getValue<std::string>("entity") == "lead:1");
    const std::string message = errors->getObject(0)->getValue<std::string>("message");
    CHECK(message.find("deal") != std::string::npos);
    CHECK(message.find("acme.example") == std::string::npos);
    CHECK(f.metrics.CounterValue("crmsync_shadow_jobs_total", {{"result", "error"}}) == 1);
  }

  TEST_CASE("the summary outlives its runner and a reset or another mapping starts it clean") {
    Fixture f;
    {
      auto runner = f.Runner();
      for (int n = 1; n <= 2; ++n) REQUIRE(runner->Offer(Built(f.live->adapter(), n)));
      runner->Drain();
      runner->Stop();
    }
    {
      auto again = f.Runner();
      Object::Ptr report = Report(*again);
      CHECK(report->getObject("jobs")->getValue<int>("compared") == 2);
      CHECK(Count(report, "/fullName", "added") == 2);
      again->Reset();
      CHECK(Report(*again)->getObject("jobs")->getValue<int>("compared") == 0);
    }
    CHECK(Report(*f.Runner())->getObject("jobs")->getValue<int>("compared") == 0);

    {
      auto runner = f.Runner();
      REQUIRE(runner->Offer(Built(f.live->adapter(), 3)));
      runner->Drain();
    }
    f.options.mapping = f.dir.File("v3.json");
    CHECK(Report(*f.Runner())->getObject("jobs")->getValue<int>("compared") == 0);
  }
}

}  // namespace
}  // namespace crmsync::engine
