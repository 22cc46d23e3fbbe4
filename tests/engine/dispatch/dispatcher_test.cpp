// dispatcher_test.cpp: the dispatcher end to end inside one process: a real
// SqliteStore on a file, the real mock-crm plugin loaded from the plugin folder
// and driven by its fault script, and a ManualClock. One case per row of the
// outcome table of docs/design.md §4 (documented at the top of job_runner.h), then
// multi-step plans, unknown outcomes, ordering, priorities, coalescing and
// shutdown.
//
// Events go in the way intake puts them in (ValidateEventsBody, then
// Store::Accept); time moves only by ManualClock::Advance(), which wakes the
// dispatcher. Tests wait with WaitUntil() on store state and on mock-crm's
// Dump(). Where a test must show that something does NOT happen it reads the
// store (a delayed job cannot be leased before its time), and where that is
// not enough it watches for a short, bounded window (kQuiet).
#include <doctest/doctest.h>

#include <Poco/Channel.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Message.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/logging.h"
#include "crmsync/adapter.h"
#include "dispatch/dispatcher.h"
#include "dispatch/job_codec.h"
#include "inbound/agent_directory.h"
#include "intake/event_validator.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"
#include "plugin_host/plugin_loader.h"
#include "store/sqlite_db.h"
#include "store/sqlite_store.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::TempDir;
using crmsync::testing::WaitUntil;
using Settings = std::map<std::string, std::string>;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr char kPlugin[] = "mock-crm";
// Longest wait for something that must happen (well under the ctest timeout).
constexpr std::chrono::milliseconds kWait(10000);
// How long we watch for something that must not happen.
constexpr std::chrono::milliseconds kQuiet(300);

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// True when `condition` holds throughout `window` (polled).
bool StaysTrue(const std::function<bool()>& condition, std::chrono::milliseconds window = kQuiet) {
  return !WaitUntil([&] { return !condition(); }, window);
}

std::unique_ptr<LoadedPlugin> LoadMock(const Settings& settings) {
  std::string error;
  std::unique_ptr<LoadedPlugin> plugin = LoadedPlugin::Load(CRMSYNC_PLUGIN_DIR, kPlugin, &error);
  REQUIRE_MESSAGE(plugin, error);
  REQUIRE_MESSAGE(plugin->Configure(PluginConfig(settings), &error), error);
  return plugin;
}

// --- events, as the platform posts them --------------------------------------

// A lead's data: {"id", "name", "email", "status"} plus `extra` members.
std::string LeadData(const std::string& id, const std::string& status,
                     const std::string& extra = "") {
  return R"({"id":")" + id + R"(","name":"Lead )" + id + R"(","email":"lead-)" + id +
         R"(@example.com","status":")" + status + "\"" + extra + "}";
}

std::string Envelope(const std::string& event_id, const std::string& type, const std::string& data,
                     const std::string& priority = "") {
  std::string json = R"({"eventId":")" + event_id + R"(","type":")" + type +
                     R"(","occurredAt":"2026-11-23T10:15:00Z",)";
  if (!priority.empty()) json += R"("priority":")" + priority + "\",";
  return json + R"("data":)" + data + "}";
}

std::string Created(const std::string& event_id, const std::string& lead,
                    const std::string& priority = "") {
  return Envelope(event_id, "lead.created", LeadData(lead, "NEW"), priority);
}

std::string StatusChanged(const std::string& event_id, const std::string& lead,
                          const std::string& status, const std::string& extra = "") {
  return Envelope(event_id, "lead.status_changed", LeadData(lead, status, extra));
}

// --- the rig: one engine process over a store file -----------------------------

struct RigOptions {
  Settings faults;                 ///< mock-crm settings for a plugin of its own
  LoadedPlugin* plugin = nullptr;  ///< or a plugin shared with another rig
  std::function<void(DispatcherOptions*)> tweak;
  bool sync_disabled = false;  ///< set in the store before the dispatcher starts
  bool start = true;           ///< start a dispatcher at once
  bool lookup = true;          ///< false: hide the plugin's lookup_by_reference
};

class Rig {
 public:
  explicit Rig(RigOptions options = RigOptions()) : options_(std::move(options)) {
    SqliteOptions store_options;
    store_options.path = db_path();
    store_options.synchronous = "NORMAL";
    store = SqliteStore::Open(store_options);
    if (options_.plugin) {
      plugin = options_.plugin;
    } else {
      own_plugin_ = LoadMock(options_.faults);
      plugin = own_plugin_.get();
    }
    if (options_.sync_disabled) store->SetSyncState(kPlugin, false, "paused by the test");
    if (options_.start) StartDispatcher(plugin);
  }
  explicit Rig(Settings faults) : Rig(WithFaults(std::move(faults))) {}

  ~Rig() { StopDispatcher(); }

  static RigOptions WithFaults(Settings faults) {
    RigOptions options;
    options.faults = std::move(faults);
    return options;
  }

  std::string db_path() const { return dir.File("crmsync.db"); }

  /// Stops the running dispatcher (if any) and starts a new one over `crm`, as
  /// a restarted process would.
  void StartDispatcher(LoadedPlugin* crm) {
    StopDispatcher();
    plugin = crm;
    DispatcherOptions dispatch;
    dispatch.plugin = kPlugin;
    dispatch.workers = 2;
    dispatch.lease_batch = 4;
    dispatch.retry_delay_ms = 1000;
    dispatch.retry_attempts = 5;
    dispatch.retry_jitter = false;
    if (options_.tweak) options_.tweak(&dispatch);
    Capabilities capabilities = plugin->info().capabilities;
    if (!options_.lookup) capabilities.lookup_by_reference = false;
    metrics = std::make_unique<MetricsRegistry>();
    dispatcher = std::make_unique<Dispatcher>(dispatch, store.get(), store.get(), &plugin->adapter(),
                                              capabilities, &clock, metrics.get());
    dispatcher->Start();
  }

  bool StopDispatcher() {
    if (!dispatcher) return true;
    bool clean = dispatcher->Stop(10000);
    dispatcher.reset();
    return clean;
  }

  /// Validates `envelopes` as one POST /api/v1/events body, accepts them now and
  /// wakes the dispatcher.
  std::vector<AcceptResult> Send(const std::vector<std::string>& envelopes) {
    std::string body = "{\"events\":[";
    for (size_t i = 0; i < envelopes.size(); ++i) body += (i ? "," : "") + envelopes[i];
    body += "]}";
    ValidationResult valid = ValidateEventsBody(body);
    REQUIRE_MESSAGE(valid.errors.empty(), body);
    std::vector<AcceptResult> results = store->Accept(valid.events, clock.NowMs());
    if (dispatcher) dispatcher->Wake();
    return results;
  }

  /// The lead's jobs, newest first.
  std::vector<JobInfo> Jobs(const std::string& lead) {
    return store->JobsForEntity(EntityKind::kLead, lead, 100);
  }
  /// The lead's newest job (state "" when it has none).
  JobInfo Job(const std::string& lead) {
    std::vector<JobInfo> jobs = Jobs(lead);
    return jobs.empty() ? JobInfo() : jobs.front();
  }
  bool WaitState(const std::string& lead, const std::string& state) {
    return WaitUntil([&] { return Job(lead).state == state; }, kWait);
  }
  /// Every job of the lead is done.
  bool AllDone(const std::string& lead) {
    std::vector<JobInfo> jobs = Jobs(lead);
    if (jobs.empty()) return false;
    for (const JobInfo& job : jobs) {
      if (job.state != "done") return false;
    }
    return true;
  }
  bool WaitAllDone(const std::vector<std::string>& leads) {
    return WaitUntil(
        [&] {
          for (const std::string& lead : leads) {
            if (!AllDone(lead)) return false;
          }
          return true;
        },
        kWait);
  }

  /// The external id linked to the lead for mock-crm, read from the file.
  std::optional<std::string> Link(const std::string& lead) {
    Db db(db_path(), false);
    std::unique_ptr<Stmt> stmt = db.Prepare(
        "SELECT external_id FROM links WHERE plugin = ?1 AND entity_kind = 'lead' "
        "AND entity_id = ?2");
    stmt->Bind(1, std::string(kPlugin)).Bind(2, lead);
    if (!stmt->Step()) return std::nullopt;
    return stmt->ColumnOptText(0);
  }

  // --- the CRM's side --------------------------------------------------------

  Poco::JSON::Object::Ptr Crm() { return CrmOf(plugin); }
  static Poco::JSON::Object::Ptr CrmOf(LoadedPlugin* crm) {
    return Poco::JSON::Parser().parse(crm->adapter().Dump()).extract<Poco::JSON::Object::Ptr>();
  }
  /// The CRM's record of a lead, by its external reference; null when absent.
  Poco::JSON::Object::Ptr CrmLead(const std::string& lead) { return CrmLeadOf(plugin, lead); }
  static Poco::JSON::Object::Ptr CrmLeadOf(LoadedPlugin* crm, const std::string& lead) {
    Poco::JSON::Array::Ptr leads = CrmOf(crm)->getArray("leads");
    for (unsigned int i = 0; i < leads->size(); ++i) {
      Poco::JSON::Object::Ptr record = leads->getObject(i);
      if (record->getValue<std::string>("externalReference") == "lead:" + lead) return record;
    }
    return nullptr;
  }
  size_t CrmLeadCount() { return Crm()->getArray("leads")->size(); }
  /// Requests mock-crm saw on `route` (lead.create, lead.update, ...).
  int64_t Requests(const std::string& route) { return RequestsOf(plugin, route); }
  static int64_t RequestsOf(LoadedPlugin* crm, const std::string& route) {
    Poco::JSON::Object::Ptr requests = CrmOf(crm)->getObject("requests");
    return requests->has(route) ? requests->getValue<int64_t>(route) : 0;
  }

  void Advance(int64_t ms) { clock.Advance(ms); }
  int64_t Now() const { return clock.NowMs(); }

  TempDir dir;
  ManualClock clock{kT0};
  std::unique_ptr<SqliteStore> store;
  LoadedPlugin* plugin = nullptr;
  std::unique_ptr<MetricsRegistry> metrics;
  std::unique_ptr<Dispatcher> dispatcher;

 private:
  RigOptions options_;
  std::unique_ptr<LoadedPlugin> own_plugin_;
};

int Int(const Poco::JSON::Object::Ptr& object, const std::string& key) {
  return object->getValue<int>(key);
}
std::string Str(const Poco::JSON::Object::Ptr& object, const std::string& key) {
  return object->has(key) ? object->getValue<std::string>(key) : "";
}

// One dead letter of `lead`, with its history; REQUIREs exactly one.
DeadLetter OnlyDeadLetter(Rig& rig, const std::string& lead) {
  DeadLetterFilter filter;
  filter.entity_id = lead;
  std::vector<DeadLetter> list = rig.store->ListDeadLetters(filter);
  REQUIRE(list.size() == 1);
  std::optional<DeadLetter> full = rig.store->GetDeadLetter(list[0].id);
  REQUIRE(full);
  return *full;
}

// --- a third-party plugin quoting personal data ----------------------------------

// A HubSpot v3 validation error quoting the lead's e-mail and phone.
constexpr char kQuotingBody[] =
    R"({"status":"error","message":"Property values were not valid: [{\"isValid\":false,)"
    R"(\"message\":\"Email address asha@example.com is invalid\",\"error\":\"INVALID_EMAIL\",)"
    R"(\"name\":\"email\"},{\"isValid\":false,\"message\":\"Phone +91 98765 43210 is not )"
    R"(valid\",\"error\":\"INVALID_PHONE\",\"name\":\"phone\"}]","correlationId":)"
    R"("11061cd3-cf3b-45f7-98d4-27f10a99ece6","category":"VALIDATION_ERROR"})";

// A plugin, wrapped in the engine's guard as a loaded one would be, whose CRM
// refuses every create with kQuotingBody. With `own_classify` it reads the
// answer itself and quotes the CRM raw, as a careless third-party plugin might;
// otherwise it keeps the SDK's DefaultClassify().
class QuotingCrm : public Adapter, public Mapper, public Transport {
 public:
  explicit QuotingCrm(bool own_classify) : own_classify_(own_classify) {}

  PluginInfo Info() const override {
    PluginInfo info;
    info.name = kPlugin;
    return info;
  }
  Status Configure(const PluginConfig&) override { return Status::Ok(); }
  Mapper& mapping() override { return *this; }
  Transport& transport() override { return *this; }
  Status Classify(const HttpRequest& request, const HttpResponse& response) override {
    if (!own_classify_) return Adapter::Classify(request, response);
    return Status::InvalidRecord("CRM refused " + request.path + ": " + response.body);
  }

  Status BuildRequest(const SyncJob&, StepKind, HttpRequest* out) override {
    out->method = "POST";
    out->path = "/crm/v3/objects/contacts";
    out->route = "lead.create";
    out->body = "{}";
    return Status::Ok();
  }
  Status ReadResponse(const SyncJob&, StepKind, const HttpResponse&, StepResult* out) override {
    out->external_id = "never";
    return Status::Ok();
  }
  Status ParseWebhook(const WebhookDelivery&, std::vector<InboundChange>*) override {
    return Status::Ok();
  }

  HttpResponse Send(const HttpRequest&) override {
    HttpResponse response;
    response.status = 422;
    response.request_sent = true;
    response.body = kQuotingBody;
    return response;
  }

 private:
  bool own_classify_;
};

// A CRM for the rate-limit cases, wrapped in the engine's guard as a loaded
// plugin would be: creates only. The n-th request gets the n-th answer of its
// script (status and headers), then 201; every 2xx creates "crm-<n>". The
// first `together` requests are held inside Send() until that many are in
// flight, so they surely are in flight together. Dump() is given.
class ScriptedCrm : public Adapter, public Mapper, public Transport {
 public:
  struct Answer {
    int status = 201;
    HeaderList headers;
  };
  ScriptedCrm(std::vector<Answer> script, int together = 0, std::string dump = "{}")
      : script_(std::move(script)), together_(together), dump_(std::move(dump)) {}

  PluginInfo Info() const override {
    PluginInfo info;
    info.name = kPlugin;
    return info;
  }
  Status Configure(const PluginConfig&) override { return Status::Ok(); }
  Mapper& mapping() override { return *this; }
  Transport& transport() override { return *this; }
  std::string Dump() override { return dump_; }
  Status BuildRequest(const SyncJob&, StepKind, HttpRequest* out) override {
    out->method = "POST";
    out->path = "/leads";
    out->route = "lead.create";
    out->body = "{}";
    return Status::Ok();
  }
  Status ReadResponse(const SyncJob&, StepKind, const HttpResponse& response,
                      StepResult* out) override {
    out->external_id = response.body;
    return Status::Ok();
  }
  Status ParseWebhook(const WebhookDelivery&, std::vector<InboundChange>*) override {
    return Status::Ok();
  }
  HttpResponse Send(const HttpRequest&) override {
    Answer answer;
    int n = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      n = ++sent_;
      if (n <= together_) {
        arrived_.notify_all();
        arrived_.wait_for(lock, kWait, [&] { return sent_ >= together_; });
      }
      if (n <= static_cast<int>(script_.size())) answer = script_[static_cast<size_t>(n - 1)];
    }
    HttpResponse response;
    response.status = answer.status;
    response.headers = answer.headers;
    response.request_sent = true;
    response.body = "crm-" + std::to_string(n);
    return response;
  }
  int sent() {
    std::lock_guard<std::mutex> lock(mutex_);
    return sent_;
  }

 private:
  const std::vector<Answer> script_;
  const int together_;
  const std::string dump_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  int sent_ = 0;
};

ScriptedCrm::Answer TooMany(int retry_after_s) {
  return {429, {{"Retry-After", std::to_string(retry_after_s)}}};
}

// A ScriptedCrm taking creates three at a time in one request, whose answer
// gives the i-th job item_statuses[i] (OK, with an id, past their end).
class BatchScriptedCrm : public ScriptedCrm {
 public:
  BatchScriptedCrm(std::vector<Answer> script, std::vector<Status> item_statuses)
      : ScriptedCrm(std::move(script)), item_statuses_(std::move(item_statuses)) {}
  static Capabilities Batching() {
    Capabilities capabilities;
    capabilities.max_batch_size = 3;
    return capabilities;
  }
  Status BuildBatch(const std::vector<SyncJob>&, StepKind, HttpRequest* out) override {
    out->method = "POST";
    out->path = "/leads/batch";
    out->route = "lead.batch_create";
    out->body = "[]";
    return Status::Ok();
  }
  Status ReadBatch(const std::vector<SyncJob>& jobs, StepKind, const HttpResponse& response,
                   std::vector<Status>* statuses, std::vector<StepResult>* results) override {
    statuses->clear();
    results->clear();
    for (size_t i = 0; i < jobs.size(); ++i) {
      statuses->push_back(i < item_statuses_.size() ? item_statuses_[i] : Status::Ok());
      StepResult result;
      result.external_id = response.body + "-" + std::to_string(i);
      results->push_back(result);
    }
    return Status::Ok();
  }

 private:
  const std::vector<Status> item_statuses_;
};

// A rig whose dispatcher runs over `crm` (with budget headers as the service
// reads them from its Dump()), `workers` workers leasing one job each (or one
// batch's worth with a batching plugin).
std::unique_ptr<Rig> RigOver(GuardedAdapter* crm, int workers,
                             Capabilities capabilities = Capabilities()) {
  RigOptions options;
  options.start = false;
  auto rig = std::make_unique<Rig>(options);
  DispatcherOptions dispatch;
  dispatch.plugin = kPlugin;
  dispatch.workers = workers;
  dispatch.lease_batch = std::max<int>(1, static_cast<int>(capabilities.max_batch_size));
  std::string error;
  REQUIRE_MESSAGE(crm->BudgetHeaders(&dispatch.budget_headers, &error), error);
  rig->metrics = std::make_unique<MetricsRegistry>();
  rig->dispatcher = std::make_unique<Dispatcher>(dispatch, rig->store.get(), rig->store.get(), crm,
                                                 capabilities,
                                                 &rig->clock, rig->metrics.get());
  rig->dispatcher->Start();
  return rig;
}

// Keeps the text of every record logged to one Poco logger while it lives,
// then gives the logger its channel and level back.
class CapturedLog : public Poco::Channel {
 public:
  explicit CapturedLog(Poco::Logger* logger)
      : logger_(logger), old_channel_(logger->getChannel()), old_level_(logger->getLevel()) {}
  ~CapturedLog() override = default;

  // Starts capturing; the logger takes a counted reference to this channel,
  // so the caller must hold one too (the channel lives in a Channel::Ptr).
  void Attach() {
    logger_->setChannel(Poco::Channel::Ptr(this, true));
    logger_->setLevel(Poco::Message::PRIO_INFORMATION);
  }
  void Detach() {
    logger_->setChannel(old_channel_);
    logger_->setLevel(old_level_);
  }

  void log(const Poco::Message& message) override {
    std::lock_guard<std::mutex> lock(mutex_);
    text_ += message.getText() + "\n";
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }

 private:
  Poco::Logger* logger_;
  Poco::Channel::Ptr old_channel_;
  int old_level_;
  std::mutex mutex_;
  std::string text_;
};

TEST_SUITE("engine.dispatch") {
  // --- outcome table ------------------------------------------------------------

  TEST_CASE("dispatcher: network error, timeout and 408 are retried after exactly 1 s") {
    struct Row {
      const char* token;
      int64_t creates;  // lead.create requests in the end
      int64_t lookups;  // the retry looks up first when the create may have landed
      int64_t updates;
    };
    const Row rows[] = {
        {"connect", 2, 0, 0},  // nothing sent
        {"408", 2, 0, 0},      // an answer: the CRM did not create it
        {"reset", 2, 1, 0},    // sent, no answer, not applied
        {"drop", 2, 1, 0},     // timeout, not applied
        {"timeout", 1, 1, 1},  // timeout after the CRM applied it
    };
    for (const Row& row : rows) {
      CAPTURE(row.token);
      Rig rig(Settings{{"faults.lead.create", row.token}});
      rig.Send({Created("e1", "A")});
      REQUIRE(rig.WaitState("A", "delayed"));
      JobInfo job = rig.Job("A");
      CHECK(job.attempts == 1);
      CHECK(job.available_at_ms == kT0 + 1000);
      CHECK_FALSE(job.last_error.empty());
      CHECK(rig.Requests("lead.create") == 1);

      rig.Advance(999);
      CHECK(rig.store->Promote(rig.Now()) == 0);  // what the ticker does: nothing is due yet
      CHECK(rig.Job("A").state == "delayed");
      CHECK(rig.Requests("lead.create") == 1);

      rig.Advance(1);
      REQUIRE(rig.WaitState("A", "done"));
      CHECK(rig.Job("A").attempts == 1);
      CHECK(rig.Requests("lead.create") == row.creates);
      CHECK(rig.Requests("lead.lookup") == row.lookups);
      CHECK(rig.Requests("lead.update") == row.updates);
      REQUIRE(rig.CrmLeadCount() == 1);
      Poco::JSON::Object::Ptr lead = rig.CrmLead("A");
      REQUIRE(lead);
      CHECK(Int(lead, "createCount") == 1);
      CHECK(rig.Link("A") == std::optional<std::string>(Str(lead, "id")));
    }
  }

  TEST_CASE("dispatcher: 5xx retries after 1 2 4 8 16 s, then dead letter with all 6 attempts") {
    RigOptions options = Rig::WithFaults({{"faults.lead.create", "500,502,503,500,599,500"}});
    options.tweak = [](DispatcherOptions* o) { o->circuit_threshold = 100; };
    Rig rig(options);
    rig.Send({Created("e1", "A")});

    const int64_t delays[] = {1000, 2000, 4000, 8000, 16000};
    std::vector<int64_t> tried_at = {kT0};
    for (int i = 0; i < 5; ++i) {
      CAPTURE(i);
      REQUIRE(WaitUntil(
          [&] {
            JobInfo job = rig.Job("A");
            return job.state == "delayed" && job.attempts == i + 1;
          },
          kWait));
      CHECK(rig.Job("A").available_at_ms == tried_at.back() + delays[i]);
      rig.Advance(delays[i] - 1);
      CHECK(rig.store->Promote(rig.Now()) == 0);
      CHECK(rig.Requests("lead.create") == i + 1);
      rig.Advance(1);
      tried_at.push_back(rig.Now());
    }
    REQUIRE(rig.WaitState("A", "dead"));
    CHECK(rig.Requests("lead.create") == 6);
    CHECK(rig.Job("A").attempts == 6);
    CHECK(tried_at.back() == kT0 + 31000);

    DeadLetter dead = OnlyDeadLetter(rig, "A");
    CHECK(dead.plugin == kPlugin);
    CHECK(dead.event_id == "e1");
    CHECK(dead.attempts == 6);
    CHECK(dead.error_class == "retryable");
    CHECK(Contains(dead.reason, "500"));
    const int statuses[] = {500, 502, 503, 500, 599, 500};
    REQUIRE(dead.history.size() == 6);
    for (size_t i = 0; i < dead.history.size(); ++i) {
      CAPTURE(i);
      const AttemptRecord& a = dead.history[i];
      CHECK(a.attempt == static_cast<int>(i) + 1);
      CHECK(a.step_kind == "create");
      CHECK(a.outcome == "retryable");
      CHECK(a.http_status == statuses[i]);
      CHECK(a.at_ms == tried_at[i]);
      CHECK(Contains(a.message, std::to_string(statuses[i])));
    }
    CHECK(rig.CrmLeadCount() == 0);
    CHECK(rig.store->Stats().dead == 1);
  }

  TEST_CASE("dispatcher: 2xx stores the external id, so the next event is an update of it") {
    Rig rig;
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "done"));
    Poco::JSON::Object::Ptr lead = rig.CrmLead("A");
    REQUIRE(lead);
    const std::string id = Str(lead, "id");
    CHECK(rig.Link("A") == std::optional<std::string>(id));
    CHECK(rig.Job("A").plan == "create");

    rig.Send({StatusChanged("e2", "A", "CONTACTED")});
    REQUIRE(WaitUntil([&] { return rig.Jobs("A").size() == 2 && rig.AllDone("A"); }, kWait));
    CHECK(rig.Job("A").plan == "update");
    CHECK(rig.Job("A").attempts == 0);
    lead = rig.CrmLead("A");
    CHECK(rig.CrmLeadCount() == 1);
    CHECK(Str(lead, "id") == id);
    CHECK(Int(lead, "createCount") == 1);
    CHECK(Int(lead, "updateCount") == 1);
    CHECK(Str(lead, "status") == "contacted");
    CHECK(rig.Requests("lead.create") == 1);
    CHECK(rig.Requests("lead.update") == 1);
    CHECK(rig.Link("A") == std::optional<std::string>(id));
  }

  TEST_CASE(
      "dispatcher: 401 and 403 disable sync, leave the job untouched, and resume when enabled") {
    for (const std::string code : {"401", "403"}) {
      CAPTURE(code);
      std::atomic<int> disabled_calls{0};
      RigOptions options = Rig::WithFaults(Settings{{"faults.lead.create", code}});
      options.tweak = [&](DispatcherOptions* d) { d->on_sync_disabled = [&] { ++disabled_calls; }; };
      Rig rig(options);
      rig.Send({Created("e1", "A")});
      // The job is leased when the 401 arrives; it is back in the queue once released.
      REQUIRE(WaitUntil(
          [&] { return !rig.dispatcher->sync_enabled() && rig.Job("A").state == "ready"; }, kWait));
      SyncState state = rig.store->GetSyncState(kPlugin);
      CHECK_FALSE(state.enabled);
      CHECK(Contains(state.reason, code));
      CHECK(disabled_calls.load() == 1);  // the alert hook, once per episode
      JobInfo job = rig.Job("A");
      CHECK(job.attempts == 0);
      CHECK(rig.Requests("lead.create") == 1);

      // More events while disabled: queued, never sent.
      rig.Send({Created("e2", "B")});
      CHECK(StaysTrue([&] { return rig.Requests("lead.create") == 1; }));
      CHECK(rig.Job("A").state == "ready");
      CHECK(rig.Job("A").attempts == 0);
      CHECK(rig.Job("B").state == "ready");
      CHECK(rig.Job("B").attempts == 0);
      CHECK(rig.CrmLeadCount() == 0);

      // Ops re-enable (admin API: store, then reload).
      rig.store->SetSyncState(kPlugin, true, "credentials fixed");
      rig.dispatcher->ReloadSyncState();
      CHECK(rig.dispatcher->sync_enabled());
      REQUIRE(rig.WaitAllDone({"A", "B"}));
      CHECK(rig.Requests("lead.create") == 3);
      REQUIRE(rig.CrmLead("A"));
      REQUIRE(rig.CrmLead("B"));
      CHECK(Int(rig.CrmLead("A"), "createCount") == 1);
      CHECK(rig.Job("A").attempts == 0);
      CHECK(disabled_calls.load() == 1);
    }
  }

  TEST_CASE("dispatcher: 404 on update: the lookup finds nothing, so the record is created again") {
    // The link holds an id this CRM never issued: the first CRM made crm_lead_2
    // for A; a second CRM (another mock-crm instance) has never seen it.
    std::unique_ptr<LoadedPlugin> other_crm = LoadMock({});
    Rig rig;
    rig.Send({Created("e1", "F")});
    REQUIRE(rig.WaitState("F", "done"));
    rig.Send({Created("e2", "A")});
    REQUIRE(rig.WaitState("A", "done"));
    REQUIRE(rig.Link("A") == std::optional<std::string>("crm_lead_2"));

    rig.StartDispatcher(other_crm.get());
    rig.Send({StatusChanged("e3", "A", "CONTACTED")});
    REQUIRE(WaitUntil([&] { return rig.Jobs("A").size() == 2 && rig.AllDone("A"); }, kWait));
    JobInfo job = rig.Job("A");
    CHECK(job.plan == "update");
    CHECK(job.attempts == 0);  // a 404 is not a failed try
    CHECK(rig.Requests("lead.update") == 1);
    CHECK(rig.Requests("lead.lookup") == 1);  // read in context before any create
    CHECK(rig.Requests("lead.create") == 1);
    REQUIRE(rig.CrmLeadCount() == 1);
    Poco::JSON::Object::Ptr lead = rig.CrmLead("A");
    REQUIRE(lead);
    CHECK(Str(lead, "id") == "crm_lead_1");  // a new id
    CHECK(Str(lead, "status") == "contacted");
    CHECK(Int(lead, "createCount") == 1);
    CHECK(rig.Link("A") == std::optional<std::string>("crm_lead_1"));  // the link follows it
    rig.StopDispatcher();
  }

  TEST_CASE("dispatcher: 404 on update: the lookup finds the record under another id, relinks it") {
    // The CRM holds A under another id than our link (merged, re-imported):
    // relink and update it; nothing is created.
    std::unique_ptr<LoadedPlugin> other_crm = LoadMock({});
    Rig rig;
    rig.Send({Created("e1", "F"), Created("e2", "A")});
    REQUIRE(rig.WaitAllDone({"F", "A"}));
    REQUIRE(rig.Link("A") == std::optional<std::string>("crm_lead_2"));
    {
      RigOptions options;
      options.plugin = other_crm.get();
      Rig elsewhere(options);  // another engine put A into the other CRM first
      elsewhere.Send({Created("x1", "A")});
      REQUIRE(elsewhere.WaitState("A", "done"));
    }
    REQUIRE(Rig::CrmLeadOf(other_crm.get(), "A"));
    CHECK(Str(Rig::CrmLeadOf(other_crm.get(), "A"), "id") == "crm_lead_1");

    rig.StartDispatcher(other_crm.get());
    rig.Send({StatusChanged("e3", "A", "QUALIFIED")});
    REQUIRE(WaitUntil([&] { return rig.Jobs("A").size() == 2 && rig.AllDone("A"); }, kWait));
    CHECK(rig.Job("A").attempts == 0);
    CHECK(rig.Requests("lead.update") == 2);  // the 404 on crm_lead_2, then crm_lead_1
    CHECK(rig.Requests("lead.lookup") == 1);
    CHECK(rig.Requests("lead.create") == 1);  // the other engine's, none of ours
    REQUIRE(rig.CrmLeadCount() == 1);
    Poco::JSON::Object::Ptr lead = rig.CrmLead("A");
    CHECK(Str(lead, "id") == "crm_lead_1");
    CHECK(Str(lead, "status") == "qualified");
    CHECK(rig.Link("A") == std::optional<std::string>("crm_lead_1"));
  }

  TEST_CASE("dispatcher: 404 while the record exists under the same id: the endpoint is missing") {
    // A CRM without this endpoint (or a token without its scope) answers 404
    // about the endpoint, not the record. The old rule dropped the id and
    // created the lead again on every 404; now the lookup shows the record is
    // there, and the job is dead-lettered naming the method and path.
    Rig rig(Settings{{"faults.lead.update", "404"}});
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "done"));
    const std::optional<std::string> id = rig.Link("A");
    REQUIRE(id);
    rig.Send({StatusChanged("e2", "A", "QUALIFIED")});
    REQUIRE(rig.WaitState("A", "dead"));
    DeadLetter dead = OnlyDeadLetter(rig, "A");
    CHECK(dead.error_class == "not_found");
    CHECK(Contains(dead.reason, "endpoint not found: PUT /api/v1/leads/" + *id));
    CHECK(rig.Requests("lead.lookup") == 1);
    CHECK(rig.Requests("lead.create") == 1);
    CHECK(rig.CrmLeadCount() == 1);
    CHECK(rig.Link("A") == id);  // the link is kept
  }

  TEST_CASE("dispatcher: a 404 from the deals endpoint dead-letters the job, never re-creates") {
    // Issue 14 case 1: a CRM without a deals endpoint. The update succeeds, the
    // deal step answers 404; the lead must stay one record.
    Rig rig(Settings{{"faults.lead.deal", "404,404,404"}});
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "done"));
    const std::optional<std::string> id = rig.Link("A");
    REQUIRE(id);
    rig.Send({StatusChanged("e2", "A", "CONVERTED", R"(,"budgetMax":5000000)")});
    REQUIRE(rig.WaitState("A", "dead"));
    DeadLetter dead = OnlyDeadLetter(rig, "A");
    CHECK(Contains(dead.reason, "endpoint not found: POST /api/v1/leads/" + *id + "/deals"));
    CHECK(StaysTrue([&] { return rig.Requests("lead.create") == 1; }));
    CHECK(rig.Requests("lead.update") == 1);
    CHECK(rig.Requests("lead.deal") == 1);
    CHECK(rig.CrmLeadCount() == 1);
    CHECK(Int(rig.CrmLead("A"), "createCount") == 1);
    CHECK(Str(rig.CrmLead("A"), "status") == "won");  // the update before the deal landed
  }

  TEST_CASE("dispatcher: a 404 after this very try wrote the record is the endpoint's, no lookup") {
    // CONVERTED as the first event: create, then deal. The create just
    // succeeded, so the deal's 404 cannot mean the record is gone, whatever a
    // lookup behind a lagging search index would answer.
    Rig rig(Settings{{"faults.lead.deal", "404"}});
    rig.Send({StatusChanged("c1", "C", "CONVERTED", R"(,"budgetMax":5000000)")});
    REQUIRE(rig.WaitState("C", "dead"));
    const std::optional<std::string> id = rig.Link("C");
    REQUIRE(id);
    CHECK(Contains(OnlyDeadLetter(rig, "C").reason,
                   "endpoint not found: POST /api/v1/leads/" + *id + "/deals (record " + *id +
                       " written in this try)"));
    CHECK(rig.Requests("lead.lookup") == 0);
    CHECK(rig.Requests("lead.create") == 1);
    CHECK(rig.CrmLeadCount() == 1);
  }

  TEST_CASE("dispatcher: 404 with a plugin that cannot look records up: dead letter, no create") {
    RigOptions options = Rig::WithFaults({{"faults.lead.update", "404"}});
    options.lookup = false;
    Rig rig(options);
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "done"));
    rig.Send({StatusChanged("e2", "A", "QUALIFIED")});
    REQUIRE(rig.WaitState("A", "dead"));
    CHECK(Contains(OnlyDeadLetter(rig, "A").reason,
                   "cannot look records up by reference, so whether the record or the endpoint "
                   "is missing is unknown; not creating again"));
    CHECK(rig.Requests("lead.lookup") == 0);
    CHECK(rig.Requests("lead.create") == 1);
  }

  TEST_CASE("dispatcher: 409 on create looks the record up by reference and links it") {
    // Two engines (two stores) share one CRM: the second one's create of the same
    // lead meets the first one's record.
    std::unique_ptr<LoadedPlugin> crm = LoadMock({});
    RigOptions options;
    options.plugin = crm.get();
    {
      Rig first(options);
      first.Send({Created("e1", "A")});
      REQUIRE(first.WaitState("A", "done"));
    }
    Poco::JSON::Object::Ptr before = Rig::CrmLeadOf(crm.get(), "A");
    REQUIRE(before);
    const std::string id = Str(before, "id");

    Rig second(options);
    second.Send({Created("e1", "A")});
    REQUIRE(second.WaitState("A", "done"));
    CHECK(second.Job("A").attempts == 0);
    CHECK(second.Link("A") == std::optional<std::string>(id));
    CHECK(second.CrmLeadCount() == 1);  // no duplicate
    Poco::JSON::Object::Ptr lead = second.CrmLead("A");
    // createCount counts create requests carrying the reference: 1 real + 1 refused.
    CHECK(Int(lead, "createCount") == 2);
    CHECK(Int(lead, "updateCount") == 1);  // the second engine's data went in as an update
    CHECK(second.Requests("lead.create") == 2);
    CHECK(second.Requests("lead.lookup") == 1);
    CHECK(second.Requests("lead.update") == 1);
    second.StopDispatcher();
  }

  TEST_CASE("dispatcher: 400, 410 and 422 dead-letter at once with the CRM's reason") {
    for (const std::string code : {"400", "410", "422"}) {
      CAPTURE(code);
      Rig rig(Settings{{"faults.lead.create", code}});
      rig.Send({Created("e1", "A")});
      REQUIRE(rig.WaitState("A", "dead"));
      CHECK(rig.Job("A").attempts == 1);
      CHECK(rig.Requests("lead.create") == 1);
      DeadLetter dead = OnlyDeadLetter(rig, "A");
      CHECK(dead.attempts == 1);
      CHECK(dead.error_class == "invalid_record");
      CHECK(Contains(dead.reason, "mock-crm: scripted " + code + " on lead.create"));
      REQUIRE(dead.history.size() == 1);
      CHECK(dead.history[0].http_status == std::stoi(code));
      CHECK(dead.history[0].outcome == "invalid_record");
      // No retry is scheduled: nothing more reaches the CRM however far time moves.
      rig.Advance(60000);
      CHECK(rig.store->Stats().delayed == 0);
      CHECK(rig.Requests("lead.create") == 1);
      CHECK(rig.CrmLeadCount() == 0);

      // Ops fix the record and replay it: a new job, and this time it goes through.
      DeadLetterFilter filter;
      filter.entity_id = "A";
      REQUIRE(rig.store->ReplayDeadLetters(filter, rig.Now()).size() == 1);
      rig.dispatcher->Wake();
      REQUIRE(rig.WaitState("A", "done"));
      CHECK(rig.Jobs("A").size() == 2);
      CHECK(rig.CrmLeadCount() == 1);
    }
  }

  TEST_CASE("dispatcher: a 429 holds its own job for Retry-After, uses no attempt, opens a window") {
    RigOptions options = Rig::WithFaults({{"faults.lead.create", "429:retry-after=2"}});
    options.tweak = [](DispatcherOptions* o) { o->workers = 1; };
    Rig rig(options);
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "delayed"));
    JobInfo job = rig.Job("A");
    CHECK(job.attempts == 0);
    CHECK(job.available_at_ms == kT0 + 2000);
    CHECK(rig.dispatcher->limiter().rate_limited_total() == 1);
    CHECK(rig.dispatcher->limiter().windows_total() == 1);
    CHECK(rig.metrics->CounterValue("crmsync_rate_limited_total", {{"plugin", kPlugin}}) == 1);
    DispatchStatus status = rig.dispatcher->Status();
    CHECK(status.rate_limited_total == 1);
    CHECK(status.rate_windows_total == 1);
    CHECK(status.window_until_ms == std::optional<int64_t>(kT0 + 2000));
    CHECK_FALSE(status.paused_until_ms);  // one 429 does not stop the plugin
    CHECK(status.rate_per_s == 0);  // too few answers to cut on

    // Another lead goes at once, inside the window.
    rig.Send({Created("e2", "B")});
    REQUIRE(rig.WaitState("B", "done"));
    CHECK(rig.Job("A").state == "delayed");
    rig.Advance(2000);
    REQUIRE(rig.WaitAllDone({"A", "B"}));
    CHECK(rig.Job("A").attempts == 0);
    CHECK(rig.Requests("lead.create") == 3);
    CHECK(rig.dispatcher->limiter().rate_limited_total() == 1);
    CHECK(rig.CrmLeadCount() == 2);
  }

  TEST_CASE("dispatcher: the 429 scenario: 429s to requests in flight together cut once") {
    // Four requests in flight together (four workers) all come back 429: the
    // first opens the window; the other three were sent before it opened and
    // change nothing. The leads after them, sent inside the window, go at
    // once: no pause, since the CRM took those.
    ScriptedCrm crm({TooMany(1), TooMany(1), TooMany(1), TooMany(1)}, 4);
    GuardedAdapter guarded(&crm, kPlugin);
    std::unique_ptr<Rig> rig = RigOver(&guarded, 4);
    rig->Send({Created("e1", "A"), Created("e2", "B"), Created("e3", "C"), Created("e4", "D"),
               Created("e5", "E"), Created("e6", "F"), Created("e7", "G"), Created("e8", "H")});
    REQUIRE(WaitUntil([&] { return crm.sent() == 8; }, kWait));
    REQUIRE(WaitUntil(
        [&] {
          int done = 0;
          int delayed = 0;
          for (const char* lead : {"A", "B", "C", "D", "E", "F", "G", "H"}) {
            done += rig->Job(lead).state == "done";
            delayed += rig->Job(lead).state == "delayed";
          }
          return done == 4 && delayed == 4;
        },
        kWait));
    RateLimiter& limiter = rig->dispatcher->limiter();
    CHECK(limiter.rate_limited_total() == 4);
    CHECK(limiter.windows_total() == 1);
    CHECK(limiter.paused_until_ms() == 0);
    CHECK(rig->metrics->CounterValue("crmsync_rate_limited_total", {{"plugin", kPlugin}}) == 4);
    CHECK(Contains(rig->metrics->RenderPrometheus(),
                   "crmsync_rate_limit_windows_total{plugin=\"mock-crm\"} 1"));
    // The refused ones spent no attempt and go again after their Retry-After.
    rig->Advance(1000);
    REQUIRE(rig->WaitAllDone({"A", "B", "C", "D", "E", "F", "G", "H"}));
    for (const char* lead : {"A", "B", "C", "D", "E", "F", "G", "H"}) {
      CHECK(rig->Job(lead).attempts == 0);
    }
    CHECK(crm.sent() == 12);
    CHECK(limiter.windows_total() == 1);
    rig->StopDispatcher();
  }

  TEST_CASE("dispatcher: a batch refused with a 429 is one 429, refused items each wait") {
    SUBCASE("the whole batch") {
      BatchScriptedCrm crm({TooMany(3)}, {});
      GuardedAdapter guarded(&crm, kPlugin);
      std::unique_ptr<Rig> rig = RigOver(&guarded, 1, BatchScriptedCrm::Batching());
      rig->Send({Created("e1", "A"), Created("e2", "B"), Created("e3", "C")});
      REQUIRE(WaitUntil(
          [&] {
            for (const char* lead : {"A", "B", "C"}) {
              if (rig->Job(lead).state != "delayed") return false;
            }
            return true;
          },
          kWait));
      CHECK(crm.sent() == 1);
      for (const char* lead : {"A", "B", "C"}) {
        CHECK(rig->Job(lead).attempts == 0);
        CHECK(rig->Job(lead).available_at_ms == kT0 + 3000);
      }
      CHECK(rig->dispatcher->limiter().rate_limited_total() == 1);
      CHECK(rig->dispatcher->limiter().windows_total() == 1);
      CHECK(rig->metrics->CounterValue("crmsync_rate_limited_total", {{"plugin", kPlugin}}) == 1);
      rig->Advance(3000);
      REQUIRE(rig->WaitAllDone({"A", "B", "C"}));
      CHECK(crm.sent() == 2);
      rig->StopDispatcher();
    }
    SUBCASE("two of its items") {
      BatchScriptedCrm crm({}, {Status::RateLimited("slow down", 2000), Status::Ok(),
                                Status::RateLimited("slow down", 2000)});
      GuardedAdapter guarded(&crm, kPlugin);
      std::unique_ptr<Rig> rig = RigOver(&guarded, 1, BatchScriptedCrm::Batching());
      rig->Send({Created("e1", "A"), Created("e2", "B"), Created("e3", "C")});
      REQUIRE(WaitUntil(
          [&] {
            return rig->Job("A").state == "delayed" && rig->Job("B").state == "done" &&
                   rig->Job("C").state == "delayed";
          },
          kWait));
      CHECK(rig->Job("A").attempts == 0);
      CHECK(rig->Job("A").available_at_ms == kT0 + 2000);
      CHECK(rig->dispatcher->limiter().rate_limited_total() == 2);
      CHECK(rig->dispatcher->limiter().windows_total() == 1);
      CHECK(rig->dispatcher->limiter().paused_until_ms() == 0);
      CHECK(rig->metrics->CounterValue("crmsync_rate_limited_total", {{"plugin", kPlugin}}) == 2);
      rig->StopDispatcher();
    }
  }

  TEST_CASE("dispatcher: when the CRM refuses even inside the window, the plugin pauses") {
    // A's 429 opens the window; B, sent inside it, is refused before anything
    // sent inside it got through: nothing goes until B's Retry-After.
    RigOptions options = Rig::WithFaults(
        {{"faults.lead.create", "429:retry-after=2,429:retry-after=5"}});
    options.tweak = [](DispatcherOptions* o) { o->workers = 1; };
    Rig rig(options);
    rig.Send({Created("e1", "A"), Created("e2", "B")});
    REQUIRE(WaitUntil(
        [&] { return rig.Job("A").state == "delayed" && rig.Job("B").state == "delayed"; }, kWait));
    CHECK(rig.Job("A").available_at_ms == kT0 + 2000);
    CHECK(rig.Job("B").available_at_ms == kT0 + 5000);
    CHECK(rig.Job("A").attempts == 0);
    CHECK(rig.Job("B").attempts == 0);
    CHECK(rig.dispatcher->limiter().paused_until_ms() == kT0 + 5000);
    CHECK(rig.dispatcher->Status().paused_until_ms == std::optional<int64_t>(kT0 + 5000));
    // The whole plugin waits: a new lead too, and A past its own Retry-After.
    rig.Send({Created("e3", "C")});
    CHECK(StaysTrue([&] { return rig.Requests("lead.create") == 2; }));
    rig.Advance(2000);
    CHECK(StaysTrue([&] { return rig.Requests("lead.create") == 2; }));
    CHECK(rig.Job("C").state == "ready");
    rig.Advance(3000);
    REQUIRE(rig.WaitAllDone({"A", "B", "C"}));
    CHECK(rig.Requests("lead.create") == 5);
    CHECK(rig.dispatcher->limiter().windows_total() == 1);
  }

  TEST_CASE("dispatcher: a spent budget, in headers the plugin names, holds everything until reset") {
    ScriptedCrm crm({{201, {{"X-Acme-Left", "0"}, {"X-Acme-Reset", "5000"}}}}, 0,
                    R"({"rateLimitHeaders": {"remainingHeader": "X-Acme-Left",)"
                    R"( "resetHeader": "X-Acme-Reset", "resetFormat": "milliseconds"}})");
    GuardedAdapter guarded(&crm, kPlugin);
    std::unique_ptr<Rig> rig = RigOver(&guarded, 1);
    rig->Send({Created("e1", "A")});
    REQUIRE(rig->WaitState("A", "done"));
    RateLimiter& limiter = rig->dispatcher->limiter();
    CHECK(limiter.paused_until_ms() == kT0 + 5000);
    CHECK(limiter.rate_limited_total() == 0);
    CHECK(limiter.storm_since_ms() == -1);  // no storm: max_outage does not count it
    DispatchStatus status = rig->dispatcher->Status();
    CHECK(status.paused_until_ms == std::optional<int64_t>(kT0 + 5000));
    REQUIRE(status.budget);
    CHECK(status.budget->remaining == 0);
    CHECK(status.budget->reset_ms == kT0 + 5000);
    rig->Send({Created("e2", "B")});
    CHECK(StaysTrue([&] { return crm.sent() == 1; }));
    CHECK(rig->Job("B").state == "ready");  // not leased, so not rescheduled either
    rig->Advance(5000);
    REQUIRE(rig->WaitState("B", "done"));
    CHECK(crm.sent() == 2);
    rig->StopDispatcher();
  }

  TEST_CASE("dispatcher: a nearly spent budget is spread over the time until its reset") {
    // Every answer: 3 requests left for the next 30 s (the default
    // X-RateLimit-* names), while the engine wants more: the next request
    // goes once its share of the time left has passed (7.5 s: at 3 per 22 s
    // left, 8 s hold 1.09 tokens, 7 s only 0.91), not three at once.
    const ScriptedCrm::Answer three_left{201,
                                         {{"X-RateLimit-Remaining", "3"}, {"X-RateLimit-Reset", "30"}}};
    ScriptedCrm crm(std::vector<ScriptedCrm::Answer>(10, three_left));
    GuardedAdapter guarded(&crm, kPlugin);
    std::unique_ptr<Rig> rig = RigOver(&guarded, 1);
    rig->Send({Created("e1", "A"), Created("e2", "B"), Created("e3", "C"), Created("e4", "D")});
    REQUIRE(WaitUntil([&] { return crm.sent() == 2; }, kWait));
    CHECK(StaysTrue([&] { return crm.sent() == 2; }));
    RateLimitState state = rig->dispatcher->limiter().State(rig->Now());
    CHECK(state.pacing);
    CHECK(state.rate == doctest::Approx(0.1));
    std::optional<DispatchStatus::Budget> budget = rig->dispatcher->Status().budget;
    REQUIRE(budget);
    CHECK(budget->pacing);
    rig->Advance(7000);
    CHECK(StaysTrue([&] { return crm.sent() == 2; }));
    rig->Advance(1000);
    REQUIRE(WaitUntil([&] { return crm.sent() == 3; }, kWait));
    CHECK(StaysTrue([&] { return crm.sent() == 3; }));
    rig->Advance(10000);
    REQUIRE(rig->WaitAllDone({"A", "B", "C", "D"}));
    CHECK(crm.sent() == 4);
    CHECK(rig->dispatcher->limiter().rate_limited_total() == 0);
    rig->StopDispatcher();
  }

  TEST_CASE("dispatcher: budget headers that cannot be read are ignored, with the reason logged") {
    const ScriptedCrm::Answer lots{201,
                                   {{"X-RateLimit-Remaining", "lots"}, {"X-RateLimit-Reset", "10"}}};
    ScriptedCrm crm(std::vector<ScriptedCrm::Answer>(10, lots));
    GuardedAdapter guarded(&crm, kPlugin);
    Poco::Channel::Ptr log(new CapturedLog(&ComponentLogger("dispatch")));
    CapturedLog& captured = static_cast<CapturedLog&>(*log);
    captured.Attach();
    std::unique_ptr<Rig> rig = RigOver(&guarded, 1);
    rig->Send({Created("e1", "A"), Created("e2", "B"), Created("e3", "C")});
    REQUIRE(rig->WaitAllDone({"A", "B", "C"}));
    CHECK(rig->dispatcher->limiter().paused_until_ms() == 0);
    CHECK_FALSE(rig->dispatcher->limiter().State(rig->Now()).budget_known);
    const std::string reason =
        "plugin mock-crm: budget headers ignored: X-RateLimit-Remaining 'lots': not a whole "
        "number of requests";
    std::string logged = captured.text();
    CHECK(Contains(logged, reason + "\n"));
    CHECK(logged.find(reason) == logged.rfind(reason));  // once, not once per answer
    // A minute later the next one is logged, saying how many went unsaid.
    rig->Advance(60000);
    rig->Send({Created("e4", "D")});
    REQUIRE(rig->WaitState("D", "done"));
    rig->StopDispatcher();
    captured.Detach();
    CHECK(Contains(captured.text(), reason + " (and 2 more in the last minute)"));
  }

  TEST_CASE("guarded adapter: the budget headers a plugin names in Dump(), checked") {
    const size_t defaults = DefaultRateLimitHeaders().size();
    struct Row {
      const char* dump;
      size_t sets;           // read, the defaults included
      const char* first;     // the first set's remaining or usage header
      const char* problem;   // "" when valid
    };
    const Row rows[] = {
        {"{}", defaults, "", ""},
        {"not json", defaults, "", ""},
        {R"({"rateLimitHeaders": {"remainingHeader": "X-Left", "resetHeader": "X-Reset"}})",
         defaults + 1, "X-Left", ""},
        {R"({"rateLimitHeaders": [{"usageHeader": "X-Usage", "windowSeconds": 60},)"
         R"( {"structuredHeader": "X-Limits"}]})",
         defaults + 2, "X-Usage", ""},
        {R"({"rateLimitHeaders": {"remainingHeader": "X Left", "resetHeader": "X-Reset"}})", 0, "",
         "plugin 'mock-crm' names its CRM's budget headers in Dump() wrongly: "
         "rateLimitHeaders/remainingHeader: must be a header name"},
        {R"({"rateLimitHeaders": [{"structuredHeader": "RateLimit"},)"
         R"( {"remainingHeader": "X-Left", "resetHeader": "X-Reset", "resetFormat": "weeks"}]})",
         0, "", "rateLimitHeaders/1/resetFormat: must be one of auto seconds milliseconds"},
        {R"({"rateLimitHeaders": "X-Left"})", 0, "", "rateLimitHeaders: must be an object"},
        {R"({"rateLimitHeaders": {"remainingHeader": "X-Left", "resetHeaders": "X-Reset"}})", 0, "",
         "rateLimitHeaders/resetHeaders: unknown key (expected one of remainingHeader"},
    };
    for (const Row& row : rows) {
      const std::string dump = row.dump;
      CAPTURE(dump);
      ScriptedCrm crm({}, 0, dump);
      GuardedAdapter guarded(&crm, kPlugin);
      std::vector<RateLimitHeaders> sets;
      std::string error;
      const bool ok = guarded.BudgetHeaders(&sets, &error);
      CHECK(ok == (std::string(row.problem).empty()));
      CHECK(sets.size() == row.sets);
      if (ok && row.sets > defaults) {
        CHECK(sets[0].remaining_header + sets[0].usage_header == row.first);
      }
      if (!ok) CHECK_MESSAGE(Contains(error, row.problem), error);
    }
  }

  TEST_CASE("dispatcher: the circuit breaker holds every job while open and probes once") {
    RigOptions options = Rig::WithFaults({{"faults.lead.create", "500,500,500,500"}});
    options.tweak = [](DispatcherOptions* o) {
      o->circuit_threshold = 3;
      o->circuit_open_ms = 30000;
      o->circuit_max_open_ms = 300000;
      o->lease_batch = 16;
    };
    Rig rig(options);
    rig.Send({Created("e1", "A"), Created("e2", "B"), Created("e3", "C"), Created("e4", "D")});

    // Three failures open the breaker; the fourth job is released untried.
    REQUIRE(WaitUntil(
        [&] {
          return rig.Job("A").state == "delayed" && rig.Job("B").state == "delayed" &&
                 rig.Job("C").state == "delayed" && rig.Job("D").state == "delayed";
        },
        kWait));
    CircuitBreaker& breaker = rig.dispatcher->breaker();
    CHECK(breaker.state(rig.Now()) == CircuitBreaker::State::kOpen);
    CHECK(breaker.opened_total() == 1);
    CHECK(breaker.open_until_ms() == kT0 + 30000);
    CHECK(breaker.outage_since_ms() == kT0);
    CHECK(rig.Requests("lead.create") == 3);
    // A and B failed before anyone knew of an outage: one try each. C's failure
    // opened the breaker: C is held for the probe like D, spending nothing.
    for (const char* lead : {"A", "B"}) CHECK(rig.Job(lead).attempts == 1);
    for (const char* lead : {"C", "D"}) {
      CHECK(rig.Job(lead).attempts == 0);
      CHECK(rig.Job(lead).available_at_ms == kT0 + 30000);
    }
    // Ops see it: the status and the gauge.
    DispatchStatus status = rig.dispatcher->Status();
    CHECK(status.circuit == CircuitBreaker::State::kOpen);
    CHECK(status.circuit_opened_total == 1);
    CHECK(status.probe_at_ms == std::optional<int64_t>(kT0 + 30000));
    CHECK(
        Contains(rig.metrics->RenderPrometheus(), "crmsync_circuit_state{plugin=\"mock-crm\"} 2"));

    // Their retry time comes while the breaker is open: nothing is tried, no
    // attempt is used.
    rig.Advance(1000);
    REQUIRE(WaitUntil([&] { return rig.Job("A").state == "ready"; }, kWait));
    CHECK(StaysTrue([&] { return rig.Requests("lead.create") == 3; }));
    for (const char* lead : {"A", "B"}) CHECK(rig.Job(lead).attempts == 1);
    for (const char* lead : {"C", "D"}) CHECK(rig.Job(lead).attempts == 0);

    // Probe time: exactly one job goes; it fails, so the breaker reopens for
    // twice as long. The CRM is still down: the probe spends no attempt, and
    // it sits out the next probe (probes rotate over the held jobs).
    rig.Advance(29000);
    REQUIRE(WaitUntil(
        [&] {
          return rig.Requests("lead.create") == 4 && rig.Job("A").state == "delayed" &&
                 rig.Job("A").available_at_ms == kT0 + 30000 + 60000 + 60000;
        },
        kWait));
    CHECK(rig.Job("A").attempts == 1);
    CHECK(breaker.opened_total() == 2);
    CHECK(breaker.open_until_ms() == kT0 + 30000 + 60000);
    CHECK(breaker.outage_since_ms() == kT0);
    CHECK(StaysTrue([&] { return rig.Requests("lead.create") == 4; }));
    CHECK(rig.Job("B").attempts == 1);
    CHECK(rig.Job("C").attempts == 0);
    CHECK(rig.Job("D").attempts == 0);

    // Next probe (B, A sits it out) succeeds, the script being used up:
    // closed, everything drains; A at its own time.
    rig.Advance(60000);
    REQUIRE(rig.WaitAllDone({"B", "C", "D"}));
    rig.Advance(60000);
    REQUIRE(rig.WaitAllDone({"A", "B", "C", "D"}));
    CHECK(breaker.state(rig.Now()) == CircuitBreaker::State::kClosed);
    CHECK(
        Contains(rig.metrics->RenderPrometheus(), "crmsync_circuit_state{plugin=\"mock-crm\"} 0"));
    // Counted once the outcomes are durable, after the commit the rows show.
    CHECK(WaitUntil([&] { return rig.dispatcher->jobs_finished() == 4; }, kWait));
    CHECK(rig.Requests("lead.create") == 8);
    CHECK(rig.CrmLeadCount() == 4);
    CHECK(breaker.outage_since_ms() == -1);
    CHECK(rig.Job("A").attempts == 1);
    CHECK(rig.Job("B").attempts == 1);
    CHECK(rig.Job("D").attempts == 0);
  }

  TEST_CASE("dispatcher: a long outage spends no attempts, then crm.retry.max_outage dead-letters") {
    // The old rule: every failed probe spent an attempt of its job, so with
    // the defaults one job was dead-lettered per probe after ~12 minutes. Now
    // an outage of any length spends nothing until crm.retry.max_outage.
    std::string always_down = "500";
    for (int i = 0; i < 200; ++i) always_down += ",500";
    RigOptions options = Rig::WithFaults({{"faults.lead.create", always_down}});
    options.tweak = [](DispatcherOptions* o) {
      o->circuit_threshold = 1;
      o->circuit_open_ms = 30000;
      o->circuit_max_open_ms = 300000;
      o->retry_attempts = 2;
      o->max_outage_ms = 3600000;  // 1 h
      o->workers = 1;
    };
    Rig rig(options);
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "delayed"));
    CHECK(rig.Job("A").attempts == 0);  // its failure opened the breaker
    rig.Send({Created("e2", "B")});

    // 50 minutes of probes (30 s, 60 s, 120 s, 240 s, then every 300 s): each
    // fails, nothing is dead-lettered, no attempt is spent.
    int64_t probes = 0;
    while (rig.Now() - kT0 < 3000000) {
      const int64_t creates = rig.Requests("lead.create");
      rig.Advance(rig.dispatcher->breaker().open_until_ms() - rig.Now());
      const bool probed = WaitUntil(
          [&] {
            return rig.Requests("lead.create") >= creates + 1 &&
                   rig.dispatcher->breaker().open_until_ms() > rig.Now();
          },
          kWait);
      REQUIRE_MESSAGE(probed, "at +" << rig.Now() - kT0 << " ms: creates "
                                     << rig.Requests("lead.create") << " (was " << creates
                                     << "), open until +"
                                     << rig.dispatcher->breaker().open_until_ms() - kT0
                                     << ", A " << rig.Job("A").state << " at +"
                                     << rig.Job("A").available_at_ms - kT0 << ", B "
                                     << rig.Job("B").state << " at +"
                                     << rig.Job("B").available_at_ms - kT0);
      ++probes;
    }
    CHECK(probes >= 10);
    CHECK(rig.store->ListDeadLetters(DeadLetterFilter()).empty());
    CHECK(rig.Job("A").attempts == 0);
    CHECK(rig.Job("B").attempts == 0);

    // Past the hour: each job held that long is dead-lettered when it comes up
    // (the probe, or the workers' sweep), naming when the CRM went away. The
    // last probe's job sits out one probe window, so it follows one later.
    rig.Advance(kT0 + 3600000 - rig.Now());
    auto both_dead = [&] { return rig.Job("A").state == "dead" && rig.Job("B").state == "dead"; };
    // Which job is due when depends on which one each probe took: follow the
    // probes until both are dead, within two probe windows past the hour.
    while (!both_dead()) {
      REQUIRE(rig.Now() <= kT0 + 3600000 + 600000);
      const int64_t creates = rig.Requests("lead.create");
      const bool waiting = WaitUntil(
          [&] {
            return both_dead() || (rig.Requests("lead.create") >= creates + 1 &&
                                   rig.dispatcher->breaker().open_until_ms() > rig.Now());
          },
          std::chrono::milliseconds(2000));
      if (!both_dead() && (!waiting || rig.dispatcher->breaker().open_until_ms() > rig.Now())) {
        rig.Advance(std::max<int64_t>(1000, rig.dispatcher->breaker().open_until_ms() - rig.Now()));
      }
    }
    for (const char* lead : {"A", "B"}) {
      DeadLetter dead = OnlyDeadLetter(rig, lead);
      CHECK(Contains(dead.reason, "CRM unavailable since " + FormatIsoMs(kT0)));
      CHECK(Contains(dead.reason, "crm.retry.max_outage"));
    }
  }

  TEST_CASE("dispatcher: a 429 storm spends no attempts, and is bounded by crm.retry.max_outage") {
    std::string storm = "429:retry-after=60";
    for (int i = 0; i < 30; ++i) storm += ",429:retry-after=60";
    RigOptions options = Rig::WithFaults({{"faults.lead.create", storm}});
    options.tweak = [](DispatcherOptions* o) {
      o->max_outage_ms = 600000;  // 10 min
      o->workers = 1;
    };
    Rig rig(options);
    rig.Send({Created("e1", "A")});
    // Every minute the CRM answers 429 again: held, no attempt, for 10 minutes.
    for (int minute = 1; minute < 10; ++minute) {
      REQUIRE(WaitUntil([&] { return rig.Requests("lead.create") == minute; }, kWait));
      REQUIRE(rig.WaitState("A", "delayed"));
      CHECK(rig.Job("A").attempts == 0);
      rig.Advance(60000);
    }
    REQUIRE(WaitUntil([&] { return rig.Requests("lead.create") == 10; }, kWait));
    REQUIRE(rig.WaitState("A", "delayed"));
    rig.Advance(60000);
    REQUIRE(rig.WaitState("A", "dead"));
    DeadLetter dead = OnlyDeadLetter(rig, "A");
    CHECK(dead.error_class == "rate_limited");
    CHECK(Contains(dead.reason, "CRM unavailable since " + FormatIsoMs(kT0)));
    CHECK(Contains(dead.reason, "every answer a 429"));
    CHECK(rig.Requests("lead.create") == 11);
  }

  TEST_CASE("dispatcher: past max_outage, jobs waiting out a 429 storm are dead-lettered unsent") {
    std::string storm = "429:retry-after=900";
    for (int i = 0; i < 30; ++i) storm += ",429:retry-after=900";
    RigOptions options = Rig::WithFaults({{"faults.lead.create", storm}});
    options.tweak = [](DispatcherOptions* o) {
      o->max_outage_ms = 600000;
      o->workers = 1;
    };
    Rig rig(options);
    // A's 429 opens a window; B, sent inside it, is refused too: the CRM
    // refuses everything, and the plugin pauses for 15 minutes.
    rig.Send({Created("e1", "A"), Created("e2", "B")});
    REQUIRE(WaitUntil([&] { return rig.Job("A").state == "delayed" && rig.Job("B").state == "delayed"; },
                      kWait));
    CHECK(rig.Requests("lead.create") == 2);
    CHECK(rig.dispatcher->limiter().paused_until_ms() == kT0 + 900000);
    CHECK(rig.Job("A").attempts == 0);
    CHECK(rig.Job("B").attempts == 0);
    rig.Send({Created("e3", "C")});
    // Ten minutes of 429s: C, waiting behind the pause, is dead-lettered
    // without a request of its own.
    rig.Advance(600000);
    REQUIRE(rig.WaitState("C", "dead"));
    CHECK(rig.Requests("lead.create") == 2);
    // A and B are dead-lettered by their next answer, at the end of the pause.
    rig.Advance(300000);
    REQUIRE(WaitUntil([&] { return rig.Job("A").state == "dead" && rig.Job("B").state == "dead"; },
                      kWait));
    CHECK(rig.Requests("lead.create") == 4);
    for (const char* lead : {"A", "B", "C"}) {
      DeadLetter dead = OnlyDeadLetter(rig, lead);
      CHECK(dead.error_class == "rate_limited");
      CHECK(Contains(dead.reason, "CRM unavailable since " + FormatIsoMs(kT0)));
      CHECK(Contains(dead.reason, "every answer a 429"));
    }
    CHECK(Contains(OnlyDeadLetter(rig, "C").reason, "not sent"));
  }

  TEST_CASE("dispatcher: an answer other than 429 ends the storm and its clock") {
    RigOptions options = Rig::WithFaults(
        {{"faults.lead.create", "429:retry-after=300,429:retry-after=300,ok,429:retry-after=300,"
                                "429:retry-after=300"}});
    options.tweak = [](DispatcherOptions* o) {
      o->max_outage_ms = 600000;
      o->workers = 1;
    };
    Rig rig(options);
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "delayed"));
    rig.Advance(300000);
    REQUIRE(WaitUntil([&] { return rig.Requests("lead.create") == 2; }, kWait));
    REQUIRE(rig.WaitState("A", "delayed"));
    rig.Advance(300000);  // the third try passes: A is done, the storm is over
    REQUIRE(rig.WaitState("A", "done"));
    rig.Send({Created("e2", "B")});  // 10 min after the first 429
    rig.Advance(1000);
    REQUIRE(WaitUntil([&] { return rig.Requests("lead.create") == 4; }, kWait));
    REQUIRE(rig.WaitState("B", "delayed"));  // a new storm: held, not dead
    rig.Advance(300000);
    REQUIRE(WaitUntil([&] { return rig.Requests("lead.create") == 5; }, kWait));
    REQUIRE(rig.WaitState("B", "delayed"));
    rig.Advance(300000);
    REQUIRE(rig.WaitState("B", "done"));
    CHECK(rig.store->ListDeadLetters(DeadLetterFilter()).empty());
  }

  TEST_CASE("dispatcher: a job accepted late in an outage is held for its own max_outage") {
    std::string always_down = "500";
    for (int i = 0; i < 50; ++i) always_down += ",500";
    RigOptions options = Rig::WithFaults({{"faults.lead.create", always_down}});
    options.tweak = [](DispatcherOptions* o) {
      o->circuit_threshold = 1;
      o->circuit_open_ms = 600000;
      o->circuit_max_open_ms = 600000;
      o->max_outage_ms = 3600000;
      o->workers = 1;
    };
    Rig rig(options);
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "delayed"));
    rig.Advance(3000000);  // 50 min into the outage
    rig.Send({Created("e2", "L")});
    // Probe after probe fails (every 10 min) until A, held since the start, is
    // dead-lettered: at 60 min, or one probe window later if it had just been
    // the probe. A probe may be in flight when the count is read (the one at
    // 50 min), so the wait is for at least one more request, not exactly one.
    // Which job is due at a probe depends on which one the last probe took
    // (a failed probe sits out the next): when no request comes, move on to
    // the next probe time.
    while (rig.Job("A").state != "dead") {
      REQUIRE(rig.Now() <= kT0 + 3600000 + 1200000);
      const int64_t creates = rig.Requests("lead.create");
      const bool progressed = WaitUntil(
          [&] {
            return rig.Job("A").state == "dead" ||
                   (rig.Requests("lead.create") >= creates + 1 &&
                    rig.dispatcher->breaker().open_until_ms() > rig.Now());
          },
          std::chrono::milliseconds(2000));
      if (rig.Job("A").state != "dead" &&
          (!progressed || rig.dispatcher->breaker().open_until_ms() > rig.Now())) {
        rig.Advance(std::max<int64_t>(1000, rig.dispatcher->breaker().open_until_ms() - rig.Now()));
      }
    }
    CHECK(rig.Now() >= kT0 + 3600000);
    CHECK(Contains(OnlyDeadLetter(rig, "A").reason, "CRM unavailable since " + FormatIsoMs(kT0)));
    // L has been held for at most half an hour: still waiting, no attempt spent.
    CHECK(StaysTrue([&] { return rig.Job("L").state != "dead"; }));
    CHECK(rig.Job("L").attempts == 0);
  }

  TEST_CASE("dispatcher: a probe that ends without reaching the CRM lets the next probe through") {
    RigOptions options = Rig::WithFaults({{"faults.lead.create", "500"}});
    options.tweak = [](DispatcherOptions* o) {
      o->circuit_threshold = 1;
      o->circuit_open_ms = 30000;
    };
    Rig rig(options);
    rig.Send({Created("e1", "A", "low")});
    REQUIRE(rig.WaitState("A", "delayed"));
    REQUIRE(rig.dispatcher->breaker().state(rig.Now()) == CircuitBreaker::State::kOpen);

    // X waits behind the open breaker; its stored payload gets damaged, so when it
    // is the probe it is dead-lettered before any request is sent: no verdict.
    rig.Send({Created("e2", "X", "high")});
    {
      Db db(rig.db_path(), false);
      db.Exec("PRAGMA busy_timeout=5000");
      db.Exec("UPDATE jobs SET payload = '{damaged' WHERE entity_id = 'X'");
    }
    rig.Advance(30000);
    REQUIRE(rig.WaitState("X", "dead"));
    CHECK(Contains(OnlyDeadLetter(rig, "X").reason, "not JSON"));
    // The breaker must not wait forever for that probe's verdict: A is the next probe.
    REQUIRE(rig.WaitState("A", "done"));
    CHECK(rig.dispatcher->breaker().state(rig.Now()) == CircuitBreaker::State::kClosed);
    CHECK(rig.Requests("lead.create") == 2);
  }

  // --- plans --------------------------------------------------------------------

  TEST_CASE("dispatcher: lead status plans: activity, deal and lost reason steps") {
    Rig rig;
    // V: created, then a viewing and a visit (update + activity each), in one go.
    rig.Send({Created("v1", "V"),
              StatusChanged("v2", "V", "VIEWING_SCHEDULED", R"(,"propertyId":"P1")"),
              StatusChanged("v3", "V", "VIEWED", R"(,"propertyId":"P1")")});
    // C: CONVERTED as the very first event: create + deal.
    rig.Send({StatusChanged("c1", "C", "CONVERTED", R"(,"budgetMax":5000000)")});
    // E: exists, then CONVERTED: update + deal.
    rig.Send({Created("e1", "E")});
    // L: exists, then LOST: update carrying the reason.
    rig.Send({Created("l1", "L")});
    REQUIRE(rig.WaitAllDone({"V", "C", "E", "L"}));
    rig.Send({StatusChanged("e2", "E", "CONVERTED", R"(,"budgetMax":2500000)"),
              StatusChanged("l2", "L", "LOST", R"(,"lostReason":"Bought elsewhere")")});
    REQUIRE(WaitUntil(
        [&] {
          return rig.Jobs("E").size() == 2 && rig.AllDone("E") && rig.Jobs("L").size() == 2 &&
                 rig.AllDone("L");
        },
        kWait));

    std::vector<JobInfo> v = rig.Jobs("V");
    REQUIRE(v.size() == 3);
    CHECK(v[2].plan == "create");
    CHECK(v[1].plan == "update,activity");
    CHECK(v[0].plan == "update,activity");
    Poco::JSON::Object::Ptr lead = rig.CrmLead("V");
    REQUIRE(lead);
    Poco::JSON::Array::Ptr activities = lead->getArray("activities");
    REQUIRE(activities->size() == 2);
    CHECK(Str(activities->getObject(0), "type") == "viewing_scheduled");
    CHECK(Str(activities->getObject(1), "type") == "viewed");
    CHECK(Str(lead, "status") == "viewed");
    CHECK(Int(lead, "createCount") == 1);
    CHECK(Int(lead, "updateCount") == 2);

    CHECK(rig.Job("C").plan == "create,deal");
    lead = rig.CrmLead("C");
    REQUIRE(lead);
    CHECK(Str(lead, "status") == "won");
    REQUIRE(lead->getArray("deals")->size() == 1);
    CHECK(Str(lead->getArray("deals")->getObject(0), "leadId") == Str(lead, "id"));

    CHECK(rig.Job("E").plan == "update,deal");
    lead = rig.CrmLead("E");
    CHECK(Str(lead, "status") == "won");
    CHECK(Int(lead, "createCount") == 1);
    CHECK(Int(lead, "updateCount") == 1);
    CHECK(lead->getArray("deals")->size() == 1);

    CHECK(rig.Job("L").plan == "update");
    lead = rig.CrmLead("L");
    CHECK(Str(lead, "status") == "lost");
    CHECK(Str(lead, "lostReason") == "Bought elsewhere");
    CHECK(Int(lead, "updateCount") == 1);
    CHECK(lead->getArray("deals")->size() == 0);
    CHECK(lead->getArray("activities")->size() == 0);

    // E again: CONVERTED, which it already is, with another field changed (the
    // platform echoing a status the CRM set): an update, never a second deal.
    rig.Send({StatusChanged("e3", "E", "CONVERTED", R"(,"budgetMax":2600000)")});
    REQUIRE(WaitUntil([&] { return rig.Jobs("E").size() == 3 && rig.AllDone("E"); }, kWait));
    CHECK(rig.Job("E").plan == "update");
    lead = rig.CrmLead("E");
    CHECK(Int(lead, "updateCount") == 2);
    CHECK(lead->getArray("deals")->size() == 1);
  }

  TEST_CASE("dispatcher: a failed deal step is retried from the deal, not from the update") {
    Rig rig(Settings{{"faults.lead.deal", "500"}});
    rig.Send({Created("e1", "E")});
    REQUIRE(rig.WaitState("E", "done"));
    rig.Send({StatusChanged("e2", "E", "CONVERTED", R"(,"budgetMax":2500000)")});
    REQUIRE(WaitUntil([&] { return rig.Jobs("E").size() == 2 && rig.Job("E").state == "delayed"; },
                      kWait));
    JobInfo job = rig.Job("E");
    CHECK(job.plan == "update,deal");
    CHECK(job.step == 1);
    CHECK(job.attempts == 1);
    CHECK(job.available_at_ms == kT0 + 1000);
    CHECK(rig.Requests("lead.update") == 1);
    CHECK(rig.Requests("lead.deal") == 1);
    CHECK(Int(rig.CrmLead("E"), "updateCount") == 1);

    rig.Advance(1000);
    REQUIRE(rig.WaitState("E", "done"));
    CHECK(rig.Requests("lead.create") == 1);
    CHECK(rig.Requests("lead.update") == 1);  // not repeated
    CHECK(rig.Requests("lead.deal") == 2);
    Poco::JSON::Object::Ptr lead = rig.CrmLead("E");
    CHECK(Int(lead, "createCount") == 1);
    CHECK(Int(lead, "updateCount") == 1);
    CHECK(lead->getArray("deals")->size() == 1);
    CHECK(Str(lead, "status") == "won");
  }

  // --- unknown outcome ------------------------------------------------------------

  TEST_CASE(
      "dispatcher: a create whose answer was lost is looked up before retrying, no duplicate") {
    Rig rig(Settings{{"faults.lead.create", "timeout"}});
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "delayed"));
    CHECK(rig.CrmLeadCount() == 1);  // the CRM did create it
    rig.Advance(1000);
    REQUIRE(rig.WaitState("A", "done"));
    CHECK(rig.Requests("lead.lookup") == 1);
    CHECK(rig.Requests("lead.create") == 1);
    CHECK(rig.Requests("lead.update") == 1);
    CHECK(rig.CrmLeadCount() == 1);
    Poco::JSON::Object::Ptr lead = rig.CrmLead("A");
    CHECK(Int(lead, "createCount") == 1);
    CHECK(rig.Link("A") == std::optional<std::string>(Str(lead, "id")));
  }

  TEST_CASE("dispatcher: a create that was dropped is looked up, not found, and created once") {
    Rig rig(Settings{{"faults.lead.create", "drop"}});
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "delayed"));
    CHECK(rig.CrmLeadCount() == 0);
    rig.Advance(1000);
    REQUIRE(rig.WaitState("A", "done"));
    CHECK(rig.Requests("lead.lookup") == 1);
    CHECK(rig.Requests("lead.create") == 2);
    CHECK(rig.Requests("lead.update") == 0);
    CHECK(rig.CrmLeadCount() == 1);
    CHECK(Int(rig.CrmLead("A"), "createCount") == 1);
  }

  TEST_CASE(
      "dispatcher: without lookup by reference a create of unknown outcome is not sent again") {
    // Capabilities::lookup_by_reference (crmsync/adapter.h): "Without it, 409 and
    // unknown-outcome creates go to the dead-letter queue."
    RigOptions options = Rig::WithFaults({{"faults.lead.create", "drop"}});
    options.lookup = false;
    Rig rig(options);
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "delayed"));
    rig.Advance(1000);
    REQUIRE(rig.WaitState("A", "dead"));
    CHECK(rig.Requests("lead.create") == 1);
    CHECK(rig.Requests("lead.lookup") == 0);
    DeadLetter dead = OnlyDeadLetter(rig, "A");
    CHECK(dead.error_class == "permanent");
    CHECK(Contains(dead.reason, "unknown"));
    CHECK(dead.attempts == 2);
  }

  // --- ordering, priorities, coalescing --------------------------------------------

  TEST_CASE("dispatcher: many changes of one lead reach the CRM in order") {
    TempDir crm_dir;
    const std::string journal = crm_dir.File("crm.journal");
    RigOptions options = Rig::WithFaults({{"state_file", journal}});
    options.tweak = [](DispatcherOptions* o) { o->workers = 4; };
    Rig rig(options);
    const std::vector<std::string> statuses = {"VIEWING_SCHEDULED", "QUALIFIED", "VIEWED",
                                               "NEGOTIATING", "CONVERTED"};
    for (const char* lead : {"O", "P", "Q"}) {
      std::vector<std::string> events = {Created(std::string(lead) + "0", lead)};
      for (size_t i = 0; i < statuses.size(); ++i) {
        events.push_back(StatusChanged(lead + std::to_string(i + 1), lead, statuses[i]));
      }
      rig.Send(events);
    }
    REQUIRE(rig.WaitAllDone({"O", "P", "Q"}));

    for (const char* lead : {"O", "P", "Q"}) {
      CAPTURE(lead);
      CHECK(rig.Jobs(lead).size() == 6);
      Poco::JSON::Object::Ptr record = rig.CrmLead(lead);
      REQUIRE(record);
      CHECK(Str(record, "status") == "won");  // the last event's status
    }
    // The CRM's journal holds every change in the order it was applied.
    std::map<std::string, std::vector<std::string>> applied;  // CRM id -> "op:status"
    std::istringstream lines(crmsync::testing::ReadFile(journal));
    std::string line;
    while (std::getline(lines, line)) {
      Poco::JSON::Object::Ptr entry =
          Poco::JSON::Parser().parse(line).extract<Poco::JSON::Object::Ptr>();
      const std::string op = Str(entry, "op");
      if (op == "count") continue;
      std::string step = op;
      if (entry->has("fields")) step += ":" + Str(entry->getObject("fields"), "status");
      if (entry->has("child")) step += ":" + Str(entry->getObject("child"), "type");
      applied[Str(entry, "id")].push_back(step);
    }
    const std::vector<std::string> expected = {"create:new",
                                               "update:viewing_scheduled",
                                               "activity:viewing_scheduled",
                                               "update:qualified",
                                               "update:viewed",
                                               "activity:viewed",
                                               "update:negotiating",
                                               "update:won",
                                               "deal:"};
    for (const char* lead : {"O", "P", "Q"}) {
      CAPTURE(lead);
      CHECK(applied[Str(rig.CrmLead(lead), "id")] == expected);
    }
  }

  TEST_CASE("dispatcher: high priority jobs go first, then medium, then low") {
    RigOptions options;
    options.sync_disabled = true;
    options.tweak = [](DispatcherOptions* o) {
      o->workers = 1;
      o->lease_batch = 1;
    };
    Rig rig(options);
    rig.Send({Created("e1", "L1", "low"), Created("e2", "M1", "medium"),
              Created("e3", "H1", "high"), Created("e4", "L2", "low"), Created("e5", "H2", "high"),
              Created("e6", "M2", "medium")});
    CHECK(StaysTrue([&] { return rig.Requests("lead.create") == 0; }));
    QueueStats stats = rig.store->Stats();
    CHECK(stats.ready == 6);
    CHECK(stats.ready_by_priority[0] == 2);
    CHECK(stats.ready_by_priority[1] == 2);
    CHECK(stats.ready_by_priority[2] == 2);

    rig.store->SetSyncState(kPlugin, true, "");
    rig.dispatcher->ReloadSyncState();
    REQUIRE(rig.WaitAllDone({"L1", "M1", "H1", "L2", "H2", "M2"}));
    // mock-crm lists records in creation order.
    Poco::JSON::Array::Ptr leads = rig.Crm()->getArray("leads");
    std::vector<std::string> order;
    for (unsigned int i = 0; i < leads->size(); ++i) {
      order.push_back(Str(leads->getObject(i), "externalReference"));
    }
    CHECK(order == std::vector<std::string>{"lead:H1", "lead:H2", "lead:M1", "lead:M2", "lead:L1",
                                            "lead:L2"});
  }

  TEST_CASE("dispatcher: sync disabled or enabled through another engine sharing the store is followed") {
    Rig rig;
    // Another engine's admin API wrote the state; this one re-reads it each second.
    rig.store->SetSyncState(kPlugin, false, "by admin on another engine");
    CHECK(rig.dispatcher->sync_enabled());
    rig.Advance(1000);
    REQUIRE(WaitUntil([&] { return !rig.dispatcher->sync_enabled(); }, kWait));
    rig.Send({Created("s1", "S")});
    CHECK(StaysTrue([&] { return rig.Requests("lead.create") == 0; }));
    rig.store->SetSyncState(kPlugin, true, "");
    rig.Advance(1000);
    REQUIRE(rig.WaitAllDone({"S"}));
    CHECK(rig.Requests("lead.create") == 1);
  }

  TEST_CASE("dispatcher: pending updates of one lead coalesce into one job and one CRM call") {
    RigOptions options;
    options.sync_disabled = true;
    Rig rig(options);
    std::vector<AcceptResult> results;
    results.push_back(rig.Send({Created("k1", "K")})[0]);
    results.push_back(rig.Send({StatusChanged("k2", "K", "CONTACTED")})[0]);
    results.push_back(rig.Send({StatusChanged("k3", "K", "QUALIFIED")})[0]);
    results.push_back(rig.Send({StatusChanged("k4", "K", "NEGOTIATING")})[0]);
    results.push_back(rig.Send({StatusChanged("k5", "K", "LOST", R"(,"lostReason":"Budget")")})[0]);
    CHECK_FALSE(results[0].coalesced);
    for (size_t i = 1; i < results.size(); ++i) {
      CAPTURE(i);
      CHECK(results[i].coalesced);
      CHECK(results[i].job_id == results[0].job_id);
    }
    QueueStats stats = rig.store->Stats();
    CHECK(stats.coalesced_total == 4);
    CHECK(stats.events_total == 5);
    REQUIRE(rig.Jobs("K").size() == 1);
    CHECK(rig.Job("K").coalesced == 4);
    CHECK(rig.Job("K").event_id == "k5");

    rig.store->SetSyncState(kPlugin, true, "");
    rig.dispatcher->ReloadSyncState();
    REQUIRE(rig.WaitState("K", "done"));
    CHECK(rig.Requests("lead.create") == 1);
    CHECK(rig.Requests("lead.update") == 0);
    Poco::JSON::Object::Ptr lead = rig.CrmLead("K");
    REQUIRE(lead);
    CHECK(Str(lead, "status") == "lost");  // the newest state
    CHECK(Str(lead, "lostReason") == "Budget");
    CHECK(Int(lead, "createCount") == 1);
    CHECK(Int(lead, "updateCount") == 0);
  }

  // --- shutdown and restart ---------------------------------------------------------

  TEST_CASE("dispatcher: Stop finishes the calls in flight and releases every lease") {
    RigOptions options = Rig::WithFaults({{"latency_ms", "300"}});
    options.tweak = [](DispatcherOptions* o) {
      o->workers = 2;
      o->lease_batch = 4;
    };
    Rig rig(options);
    const std::vector<std::string> leads = {"S1", "S2", "S3", "S4", "S5", "S6"};
    std::vector<std::string> events;
    for (const std::string& lead : leads) events.push_back(Created("e" + lead, lead));
    rig.Send(events);
    REQUIRE(WaitUntil([&] { return rig.Requests("lead.create") >= 1; }, kWait));

    CHECK(rig.StopDispatcher());
    QueueStats stats = rig.store->Stats();
    CHECK(stats.leased == 0);
    CHECK(stats.done + stats.ready == 6);
    CHECK(stats.ready > 0);  // later jobs of a batch were released untried
    CHECK(stats.done == rig.Requests("lead.create"));
    for (const std::string& lead : leads) {
      CAPTURE(lead);
      JobInfo job = rig.Job(lead);
      CHECK(job.state != "leased");
      CHECK(job.attempts == 0);
    }

    // A new process drains the rest; nothing lost, nothing duplicated.
    rig.StartDispatcher(rig.plugin);
    for (const std::string& lead : leads) REQUIRE(rig.WaitAllDone({lead}));
    CHECK(rig.CrmLeadCount() == 6);
    for (const std::string& lead : leads) CHECK(Int(rig.CrmLead(lead), "createCount") == 1);
    CHECK(rig.Requests("lead.create") == 6);
  }

  TEST_CASE("dispatcher: an expired lease comes back in doubt and the create is looked up first") {
    RigOptions options;
    options.sync_disabled = true;
    Rig rig(options);
    rig.Send({Created("e1", "A")});
    // A worker of another process leased the job, sent the create, and hung.
    std::vector<LeasedJob> leased = rig.store->Lease(kPlugin, 1, rig.Now(), 60000);
    REQUIRE(leased.size() == 1);
    SyncJob sync;
    std::string error;
    REQUIRE_MESSAGE(DecodeJob(leased[0], &sync, &error), error);
    HttpRequest request;
    REQUIRE(rig.plugin->adapter().BuildRequest(sync, StepKind::kCreate, &request).ok());
    REQUIRE(rig.plugin->adapter().Send(request).status == 201);

    rig.store->SetSyncState(kPlugin, true, "");
    rig.dispatcher->ReloadSyncState();
    CHECK(StaysTrue([&] { return rig.Job("A").state == "leased"; }));
    rig.Advance(59999);
    CHECK(rig.store->Promote(rig.Now()) == 0);
    rig.Advance(1);
    REQUIRE(rig.WaitState("A", "done"));
    CHECK(rig.Requests("lead.lookup") == 1);
    CHECK(rig.Requests("lead.create") == 1);
    CHECK(rig.Requests("lead.update") == 1);
    CHECK(rig.CrmLeadCount() == 1);
    CHECK(Int(rig.CrmLead("A"), "createCount") == 1);
  }

  TEST_CASE("dispatcher: destroying a running dispatcher without Stop waits for its threads") {
    // The owner may unwind (an exception during start-up) before calling Stop():
    // the destructor must not leave threads running on a destroyed object.
    Rig rig;
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "done"));
    for (int i = 0; i < 50; ++i) {
      MetricsRegistry metrics;
      DispatcherOptions dispatch;
      dispatch.plugin = kPlugin;
      dispatch.workers = 4;
      auto dispatcher =
          std::make_unique<Dispatcher>(dispatch, rig.store.get(), rig.store.get(), &rig.plugin->adapter(),
                                       rig.plugin->info().capabilities, &rig.clock, &metrics);
      dispatcher->Start();
      dispatcher.reset();
    }
    CHECK(rig.store->Stats().leased == 0);
  }

  TEST_CASE("dispatcher: a lease left by a previous process comes back in doubt and is looked up") {
    RigOptions options;
    options.start = false;
    Rig rig(options);
    rig.Send({Created("e1", "A"), Created("e2", "B")});

    // The previous process leased both jobs, sent A's create, and died before
    // recording anything.
    std::vector<LeasedJob> leased = rig.store->Lease(kPlugin, 10, rig.Now(), 120000);
    REQUIRE(leased.size() == 2);
    REQUIRE(leased[0].entity_id == "A");
    SyncJob sync;
    std::string error;
    REQUIRE_MESSAGE(DecodeJob(leased[0], &sync, &error), error);
    HttpRequest request;
    REQUIRE(rig.plugin->adapter().BuildRequest(sync, StepKind::kCreate, &request).ok());
    REQUIRE(rig.plugin->adapter().Send(request).status == 201);
    CHECK(rig.store->Stats().leased == 2);

    rig.StartDispatcher(rig.plugin);
    REQUIRE(rig.WaitAllDone({"A", "B"}));
    CHECK(rig.Requests("lead.lookup") == 2);  // both looked up before any create
    CHECK(rig.Requests("lead.create") == 2);  // A by the previous process, B now
    CHECK(rig.Requests("lead.update") == 1);  // A found and updated
    CHECK(rig.CrmLeadCount() == 2);
    CHECK(Int(rig.CrmLead("A"), "createCount") == 1);
    CHECK(Int(rig.CrmLead("B"), "createCount") == 1);
    CHECK(rig.Link("A") == std::optional<std::string>(Str(rig.CrmLead("A"), "id")));
    CHECK(rig.Job("A").attempts == 0);
  }


  TEST_CASE("dispatcher: a batching plugin gets up to max_batch_size jobs per request") {
    std::string error;
    std::unique_ptr<LoadedPlugin> batcher =
        LoadedPlugin::Load(CRMSYNC_TEST_PLUGIN_DIR, "batch_plugin", &error);
    REQUIRE_MESSAGE(batcher, error);
    REQUIRE(batcher->Configure(PluginConfig(), &error));
    REQUIRE(batcher->info().capabilities.max_batch_size == 5);
    RigOptions options;
    options.plugin = batcher.get();
    options.sync_disabled = true;
    options.tweak = [](DispatcherOptions* d) {
      d->workers = 1;
      d->lease_batch = 16;
    };
    Rig rig(options);
    std::vector<std::string> envelopes;
    for (int i = 1; i <= 7; ++i) {
      std::string name = i == 3   ? "reject me"
                         : i == 4 ? "no id"
                         : i == 6 ? "flaky"
                         : i == 7 ? "unmatched"
                                  : "Lead " + std::to_string(i);
      envelopes.push_back(Envelope("b" + std::to_string(i), "lead.created",
                                   R"({"id":"B)" + std::to_string(i) + R"(","name":")" + name +
                                       R"(","status":"NEW"})"));
    }
    // A multi-step plan never goes in a batch.
    envelopes.push_back(StatusChanged("b8", "B8", "CONVERTED"));
    rig.Send(envelopes);
    rig.store->SetSyncState(kPlugin, true, "");
    rig.dispatcher->ReloadSyncState();

    REQUIRE(WaitUntil([&] { return rig.AllDone("B1") && rig.AllDone("B5") && rig.AllDone("B8"); },
                      kWait));
    std::string log = batcher->adapter().Dump();
    // Seven creates: one batch of five and one of two, in leased order.
    CHECK(Contains(log, "POST /batch/create B1|Lead 1\nB2|Lead 2\nB3|reject me\nB4|no id\nB5|Lead 5\n--"));
    CHECK(Contains(log, "POST /batch/create B6|flaky\nB7|unmatched\n--"));
    CHECK(Contains(log, "POST /records/B8"));  // alone: create then deal
    // The refused item is a dead letter with the CRM's reason; the others are linked.
    DeadLetter dead = OnlyDeadLetter(rig, "B3");
    CHECK(dead.error_class == "invalid_record");
    CHECK(Contains(dead.reason, "name is not acceptable"));
    for (const char* lead : {"B1", "B2", "B5"}) {
      CHECK(rig.Job(lead).state == "done");
      CHECK(rig.Link(lead) == std::optional<std::string>(std::string("batch-") + lead));
    }
    // The flaky, the id-less and the unmatched item used one try each. The CRM
    // took the batch, so each may have been created: each is looked up by
    // reference before it runs alone, never simply created again.
    for (const char* lead : {"B4", "B6", "B7"}) {
      CHECK(rig.Job(lead).state == "delayed");
      CHECK(rig.Job(lead).attempts == 1);
    }
    CHECK_FALSE(Contains(batcher->adapter().Dump(), "GET /records?ref="));
    rig.Advance(1000);
    REQUIRE(rig.WaitState("B4", "done"));
    REQUIRE(rig.WaitState("B6", "done"));
    REQUIRE(rig.WaitState("B7", "done"));
    log = batcher->adapter().Dump();
    for (const char* lead : {"B4", "B6", "B7"}) {
      const std::string lookup = std::string("GET /records?ref=") + lead;
      const std::string create = std::string("POST /records/") + lead;
      REQUIRE(Contains(log, lookup));
      REQUIRE(Contains(log, create));
      CHECK(log.find(lookup) < log.find(create));
    }
  }


  TEST_CASE("dispatcher: a create answered without an id is looked up, not created again") {
    std::string error;
    std::unique_ptr<LoadedPlugin> crm = LoadedPlugin::Load(CRMSYNC_TEST_PLUGIN_DIR, "no_id_plugin", &error);
    REQUIRE_MESSAGE(crm, error);
    REQUIRE(crm->Configure(PluginConfig(), &error));
    RigOptions options;
    options.plugin = crm.get();
    Rig rig(options);
    rig.Send({Created("n1", "N")});
    REQUIRE(rig.WaitState("N", "delayed"));
    CHECK(rig.Job("N").attempts == 1);
    CHECK(crm->adapter().Dump() == R"({"creates":1,"lookups":0,"updates":0})");
    rig.Advance(1000);
    REQUIRE(rig.WaitState("N", "done"));
    CHECK(crm->adapter().Dump() == R"({"creates":1,"lookups":1,"updates":1})");
    CHECK(rig.Link("N") == std::optional<std::string>("found-N"));
    CHECK(rig.store->ListDeadLetters(DeadLetterFilter()).empty());
  }


  TEST_CASE("dispatcher: a 504 on a create is an unknown outcome and is looked up first") {
    Rig rig(Settings{{"faults.lead.create", "504"}});
    rig.Send({Created("g1", "G")});
    REQUIRE(rig.WaitState("G", "delayed"));
    CHECK(rig.Requests("lead.lookup") == 0);
    rig.Advance(1000);
    REQUIRE(rig.WaitState("G", "done"));
    CHECK(rig.Requests("lead.lookup") == 1);  // nothing found: the mock did not apply it
    CHECK(rig.Requests("lead.create") == 2);
    REQUIRE(rig.CrmLead("G"));
    CHECK(Int(rig.CrmLead("G"), "createCount") == 1);
  }

  TEST_CASE("dispatcher: a 422 quoting an e-mail and a phone is stored and logged masked") {
    for (const bool own_classify : {false, true}) {
      CAPTURE(own_classify);
      QuotingCrm crm(own_classify);
      GuardedAdapter guarded(&crm, kPlugin);
      MetricsRegistry metrics;
      Poco::Channel::Ptr log(new CapturedLog(&ComponentLogger("dispatch")));
      CapturedLog& captured = static_cast<CapturedLog&>(*log);
      RigOptions options;
      options.start = false;
      Rig rig(options);
      DispatcherOptions dispatch;
      dispatch.plugin = kPlugin;
      dispatch.workers = 1;
      captured.Attach();
      rig.dispatcher = std::make_unique<Dispatcher>(dispatch, rig.store.get(), rig.store.get(), &guarded,
                                                    Capabilities(), &rig.clock, &metrics);
      rig.dispatcher->Start();
      rig.Send({Created("e1", "A")});
      REQUIRE(rig.WaitState("A", "dead"));
      rig.StopDispatcher();
      captured.Detach();

      DeadLetter dead = OnlyDeadLetter(rig, "A");
      REQUIRE(dead.history.size() == 1);
      const JobInfo job = rig.Job("A");
      std::string audit;
      for (const AuditRecord& a : rig.store->AuditForEntity(EntityKind::kLead, "A", 10)) {
        if (a.action == "dead_lettered") audit = a.detail;
      }
      const std::string logged = captured.text();
      CHECK(dead.error_class == "invalid_record");
      const std::string stored[] = {dead.reason, dead.history[0].message, job.last_error, audit,
                                    logged};
      for (const std::string& text : stored) {
        CAPTURE(text);
        CHECK_FALSE(text.empty());
        CHECK_FALSE(Contains(text, "asha"));
        CHECK_FALSE(Contains(text, "example.com"));
        CHECK_FALSE(Contains(text, "98765"));
        CHECK(Contains(text, "[email]"));
        CHECK(Contains(text, "[phone]"));
        CHECK(Contains(text, "INVALID_EMAIL"));
      }
      if (!own_classify) {
        // The SDK's table keeps each field's reason.
        const std::string reason =
            "HTTP 422: email: Email address [email] is invalid (INVALID_EMAIL); "
            "phone: Phone [phone] is not valid (INVALID_PHONE)";
        CHECK(dead.reason == reason);
        CHECK(dead.history[0].message == reason);
        CHECK(job.last_error == reason);
        CHECK(Contains(logged, "dead-lettered: invalid_record: " + reason));
      } else {
        // The plugin's own message is masked by the engine's guard.
        CHECK(Contains(dead.reason, "CRM refused /crm/v3/objects/contacts: "));
        CHECK(Contains(dead.reason, "11061cd3-cf3b-45f7-98d4-27f10a99ece6"));
      }
    }
  }

  TEST_CASE("guarded adapter: batch item statuses and exception messages are masked too") {
    // Refuses batch items and throws from BuildLookup, both quoting the CRM.
    class BatchQuotingCrm : public QuotingCrm {
     public:
      BatchQuotingCrm() : QuotingCrm(true) {}
      Status ReadBatch(const std::vector<SyncJob>& jobs, StepKind, const HttpResponse&,
                       std::vector<Status>* statuses, std::vector<StepResult>* results) override {
        statuses->assign(jobs.size(), Status::InvalidRecord("lead x@y.com: phone 555-010-2233"));
        (*statuses)[0] = Status::Ok();
        results->assign(jobs.size(), StepResult());
        return Status::Ok();
      }
      Status BuildLookup(const SyncJob&, HttpRequest*) override {
        throw std::runtime_error("GET /contacts?email=asha@example.com&hapikey=ab12cd34 failed");
      }
    };
    BatchQuotingCrm crm;
    GuardedAdapter guarded(&crm, "quoting");
    std::vector<Status> statuses;
    std::vector<StepResult> results;
    REQUIRE(guarded.ReadBatch({SyncJob(), SyncJob()}, StepKind::kCreate, HttpResponse(), &statuses,
                              &results)
                .ok());
    REQUIRE(statuses.size() == 2);
    CHECK(statuses[0].ok());
    CHECK(statuses[1].code() == StatusCode::kInvalidRecord);
    CHECK(statuses[1].message() == "lead [email]: phone [phone]");

    HttpRequest request;
    Status threw = guarded.BuildLookup(SyncJob(), &request);
    CHECK(threw.code() == StatusCode::kInternal);
    CHECK(threw.message() ==
          "plugin 'quoting' threw in BuildLookup: GET /contacts?email=[email]&hapikey=[token] "
          "failed");
    CHECK(guarded.exceptions() == 1);
  }


  // --- related records and agents (docs/design.md §4, "Related records") ------

  // A rig whose dispatcher fills SyncJob::related from an agent directory over
  // mock-crm's users: u-asha (e-mail, through inbound.agent_emails) and
  // u-ravi (holding the platform id dealer-9).
  struct RelatedRig {
    explicit RelatedRig(Settings faults = {},
                        std::function<void(DispatcherOptions*)> tweak = nullptr) {
      faults["users"] =
          R"([{"id":"u-asha","email":"asha@acme.example"},)"
          R"({"id":"u-ravi","email":"ravi@acme.example","platformId":"dealer-9"},)"
          R"({"id":"u-gone","email":"gone@acme.example","platformId":"dealer-5","active":false}])";
      RigOptions options = Rig::WithFaults(std::move(faults));
      options.start = false;
      options.tweak = [this, tweak](DispatcherOptions* d) {
        d->agents = agents.get();
        if (tweak) tweak(d);
      };
      rig = std::make_unique<Rig>(std::move(options));
      AgentDirectoryConfig config;
      config.dealer_emails = {{"dealer-7", "asha@acme.example"}};
      agents = std::make_unique<AgentDirectory>(config, &rig->plugin->adapter(), &rig->clock,
                                                &metrics);
      rig->StartDispatcher(rig->plugin);
    }

    // The CRM's record of a property, by its external reference; null when absent.
    Poco::JSON::Object::Ptr CrmProperty(const std::string& id) {
      Poco::JSON::Array::Ptr properties = rig->Crm()->getArray("properties");
      for (unsigned int i = 0; i < properties->size(); ++i) {
        Poco::JSON::Object::Ptr record = properties->getObject(i);
        if (record->getValue<std::string>("externalReference") == "property:" + id) return record;
      }
      return nullptr;
    }
    static std::string PropertyCreated(const std::string& event_id, const std::string& id,
                                       const std::string& dealer) {
      return Envelope(event_id, "property.created",
                      R"({"id":")" + id + R"(","title":"2BHK","city":"Pune","dealerId":")" +
                          dealer + "\"}");
    }
    static std::string LeadCreated(const std::string& event_id, const std::string& id,
                                   const std::string& property, const std::string& dealer) {
      return Envelope(event_id, "lead.created",
                      LeadData(id, "NEW", R"(,"propertyId":")" + property +
                                              R"(","assignedToId":")" + dealer + "\""));
    }

    // How many audit entries of `lead` have `action`.
    int Audit(const std::string& lead, const std::string& action) {
      int count = 0;
      for (const AuditRecord& r : rig->store->AuditForEntity(EntityKind::kLead, lead, 100)) {
        count += r.action == action ? 1 : 0;
      }
      return count;
    }

    MetricsRegistry metrics;
    // Before the rig: destroyed after the rig's dispatcher, which uses it.
    std::unique_ptr<AgentDirectory> agents;
    std::unique_ptr<Rig> rig;
  };

  TEST_CASE("related: a lead sent after its property carries the CRM ids of its property and agent") {
    RelatedRig r;
    r.rig->Send({RelatedRig::PropertyCreated("p1", "p-7", "dealer-9")});
    REQUIRE(WaitUntil([&] { return r.CrmProperty("p-7") != nullptr; }, kWait));
    Poco::JSON::Object::Ptr property = r.CrmProperty("p-7");
    CHECK(Str(property, "assignedAgent") == "u-ravi");  // by the platform id on the user
    r.rig->Send({RelatedRig::LeadCreated("l1", "L1", "p-7", "dealer-7")});
    REQUIRE(r.rig->WaitAllDone({"L1"}));
    Poco::JSON::Object::Ptr lead = r.rig->CrmLead("L1");
    REQUIRE(lead);
    CHECK(Str(lead, "relatedProperty") == Str(property, "id"));
    CHECK(Str(lead, "propertyId") == "p-7");
    CHECK(Str(lead, "assignedAgent") == "u-asha");  // by inbound.agent_emails
    CHECK(r.metrics.CounterValue("crmsync_agents_unmatched_total", {{"direction", "outbound"}}) ==
          0);
  }

  TEST_CASE("related: a lead accepted before its property waits for it, spending no attempt") {
    // The property's first create fails (a retry 1 s later); the lead, leased
    // first (high priority), must not go without the property's CRM id, and
    // another lead is not held up meanwhile.
    RelatedRig r(Settings{{"faults.property.create", "500"}});
    r.rig->Send({RelatedRig::LeadCreated("l1", "L1", "p-7", "dealer-7"),
                 RelatedRig::PropertyCreated("p1", "p-7", "dealer-9"),
                 Created("l2", "L2")});
    REQUIRE(r.rig->WaitAllDone({"L2"}));
    REQUIRE(WaitUntil([&] { return r.rig->Requests("property.create") == 1; }, kWait));
    CHECK(StaysTrue([&] { return r.rig->CrmLead("L1") == nullptr; }));
    JobInfo waiting = r.rig->Job("L1");
    CHECK(waiting.attempts == 0);
    CHECK(waiting.state != "done");
    // The property's retry falls due and links it; the lead follows.
    r.rig->Advance(1000);
    REQUIRE(WaitUntil([&] { return r.CrmProperty("p-7") != nullptr; }, kWait));
    REQUIRE(WaitUntil(
        [&] {
          r.rig->Advance(500);  // the lead looks again every 500 ms (clock time)
          return r.rig->AllDone("L1");
        },
        kWait));
    Poco::JSON::Object::Ptr lead = r.rig->CrmLead("L1");
    REQUIRE(lead);
    CHECK(Str(lead, "relatedProperty") == Str(r.CrmProperty("p-7"), "id"));
    CHECK(Str(lead, "assignedAgent") == "u-asha");
    CHECK(r.rig->Job("L1").attempts == 0);  // no failed try: the waits spent none
    CHECK(Int(lead, "createCount") == 1);
  }

  TEST_CASE("related: a lead whose property dead-lettered goes without its CRM id, logged") {
    RelatedRig r(Settings{{"faults.property.create", "422"}});
    Poco::Channel::Ptr log(new CapturedLog(&ComponentLogger("dispatch")));
    CapturedLog& captured = static_cast<CapturedLog&>(*log);
    captured.Attach();
    r.rig->Send({RelatedRig::PropertyCreated("p1", "p-7", "dealer-9")});
    REQUIRE(WaitUntil(
        [&] {
          return r.rig->store->JobsForEntity(EntityKind::kProperty, "p-7", 10).front().state ==
                 "dead";
        },
        kWait));
    r.rig->Send({RelatedRig::LeadCreated("l1", "L1", "p-7", "dealer-7")});
    REQUIRE(r.rig->WaitAllDone({"L1"}));
    captured.Detach();
    Poco::JSON::Object::Ptr lead = r.rig->CrmLead("L1");
    REQUIRE(lead);
    CHECK_FALSE(lead->has("relatedProperty"));
    CHECK(Str(lead, "propertyId") == "p-7");
    CHECK(Contains(captured.text(), "property p-7 has no CRM id and no job left"));
    CHECK(r.Audit("L1", "related_missing") == 1);
  }

  TEST_CASE("related: a lead waits for its property at most crm.retry.max_outage") {
    // The property's create fails and is retried a minute later; the lead
    // waits 600 ms (clock time) from its acceptance, then goes without.
    RelatedRig r(Settings{{"faults.property.create", "500"}}, [](DispatcherOptions* d) {
      d->retry_delay_ms = 60000;
      d->max_outage_ms = 600;
    });
    r.rig->Send({RelatedRig::LeadCreated("l1", "L1", "p-7", "dealer-7"),
                 RelatedRig::PropertyCreated("p1", "p-7", "dealer-9")});
    REQUIRE(WaitUntil([&] { return r.rig->Requests("property.create") == 1; }, kWait));
    r.rig->Advance(500);
    CHECK(StaysTrue([&] { return r.rig->CrmLead("L1") == nullptr; }));
    r.rig->Advance(500);
    REQUIRE(r.rig->WaitAllDone({"L1"}));
    Poco::JSON::Object::Ptr lead = r.rig->CrmLead("L1");
    REQUIRE(lead);
    CHECK_FALSE(lead->has("relatedProperty"));
    CHECK(r.Audit("L1", "related_missing") == 1);
    CHECK(r.rig->Requests("property.create") == 1);  // its retry is not due yet
  }

  TEST_CASE("related: a property the platform never sent does not hold the lead") {
    RelatedRig r;
    r.rig->Send({RelatedRig::LeadCreated("l1", "L1", "p-never", "dealer-9")});
    REQUIRE(r.rig->WaitAllDone({"L1"}));
    Poco::JSON::Object::Ptr lead = r.rig->CrmLead("L1");
    REQUIRE(lead);
    CHECK_FALSE(lead->has("relatedProperty"));
    CHECK(Str(lead, "assignedAgent") == "u-ravi");
  }

  TEST_CASE("related: an agent with no CRM user is reported and sent as the platform id") {
    RelatedRig r;
    // dealer-5's user is deactivated; dealer-404 has none.
    r.rig->Send({RelatedRig::LeadCreated("l1", "L1", "p-never", "dealer-5"),
                 Envelope("a1", "dealer.assigned",
                          R"({"leadId":"L2","dealerId":"dealer-404"})")});
    REQUIRE(r.rig->WaitAllDone({"L1", "L2"}));
    CHECK(Str(r.rig->CrmLead("L1"), "assignedAgent") == "dealer-5");
    CHECK(Str(r.rig->CrmLead("L2"), "assignedAgent") == "dealer-404");
    CHECK(r.metrics.CounterValue("crmsync_agents_unmatched_total", {{"direction", "outbound"}}) ==
          2);
    CHECK(r.Audit("L1", "agent_unmatched") == 1);
    CHECK(r.Audit("L2", "agent_unmatched") == 1);
  }

  TEST_CASE("related: a dealer assignment carries the matched agent's CRM id") {
    RelatedRig r;
    r.rig->Send({Created("l1", "L1")});
    REQUIRE(r.rig->WaitAllDone({"L1"}));
    r.rig->Send({Envelope("a1", "dealer.assigned", R"({"leadId":"L1","dealerId":"dealer-7"})")});
    REQUIRE(WaitUntil([&] { return r.rig->AllDone("L1") && r.rig->Jobs("L1").size() == 2; },
                      kWait));
    CHECK(Str(r.rig->CrmLead("L1"), "assignedAgent") == "u-asha");
  }

  // Shadow mode's hook (JobRunnerContext::on_built): once per job, from the
  // lease that ended it, with the plan and each step's request and CRM id.
  TEST_CASE("shadow hook: an ended job's plan and built requests, once, not at a retry") {
    struct Seen {
      std::mutex mu;
      std::vector<BuiltJob> jobs;
    };
    auto seen = std::make_shared<Seen>();
    RigOptions options = Rig::WithFaults({{"faults.lead.create", "500"}});
    options.tweak = [seen](DispatcherOptions* d) {
      d->on_built = [seen](BuiltJob&& job) {
        std::lock_guard<std::mutex> lock(seen->mu);
        seen->jobs.push_back(std::move(job));
      };
    };
    Rig rig(options);
    auto count = [&] {
      std::lock_guard<std::mutex> lock(seen->mu);
      return seen->jobs.size();
    };
    rig.Send({Created("e1", "A")});
    REQUIRE(rig.WaitState("A", "delayed"));
    CHECK(count() == 0);  // A retry does not end the job.
    rig.Advance(1000);
    REQUIRE(rig.WaitState("A", "done"));
    REQUIRE(WaitUntil([&] { return count() == 1; }, kWait));
    rig.Send({StatusChanged("e2", "A", "CONVERTED")});
    REQUIRE(rig.WaitAllDone({"A"}));
    REQUIRE(WaitUntil([&] { return count() == 2; }, kWait));
    CHECK(StaysTrue([&] { return count() == 2; }));

    std::lock_guard<std::mutex> lock(seen->mu);
    const BuiltJob& created = seen->jobs[0];
    CHECK(created.job.entity_id == "A");
    REQUIRE(created.steps.size() == 1);
    CHECK(created.plan.size() == 1);
    CHECK(created.steps[0].kind == StepKind::kCreate);
    CHECK_FALSE(created.steps[0].external_id);
    REQUIRE(created.steps[0].request);
    CHECK(Contains(created.steps[0].request->body, "Lead A"));
    const BuiltJob& converted = seen->jobs[1];
    REQUIRE(converted.steps.size() == converted.plan.size());
    REQUIRE(converted.steps.size() >= 2);
    CHECK(converted.steps.back().kind == StepKind::kDeal);
    for (const BuiltJob::Step& step : converted.steps) {
      CHECK(step.external_id == rig.Link("A"));
      CHECK(step.request);
    }
  }
}  // TEST_SUITE

}  // namespace
}  // namespace crmsync::engine
