// mock_crm_test.cpp: the mock-crm plugin, tested as a black box.
//
// The test loads the built plugin file (CRMSYNC_PLUGIN_DIR/mock-crm) with Poco's
// ClassLoader, as the engine does, and drives it only through crmsync::Adapter:
// mapping() builds requests, transport() answers them from the in-memory CRM
// and its fault script, Dump() shows what the CRM holds. Each test case makes
// its own adapter, so no state leaks between cases. No sleeps. The state_file
// cases reload the CRM from its journal in a fresh adapter, as a restarted
// engine would.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <Poco/ClassLoader.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/SharedLibrary.h>
#include <Poco/StreamCopier.h>

#include "crmsync/adapter.h"
#include "crmsync/classify.h"
#include "crmsync/plugin.h"
#include "crmsync/records.h"
#include "test_support.h"

namespace crmsync {
namespace {

using JsonObject = Poco::JSON::Object::Ptr;
using JsonArray = Poco::JSON::Array::Ptr;

constexpr char kPluginPath[] = CRMSYNC_PLUGIN_DIR "/mock-crm";
constexpr char kManifest[] = CRMSYNC_MANIFEST_NAME;
constexpr char kClassName[] = "crmsync::mockcrm::MockCrmAdapter";

// The plugin file, loaded once for the whole executable and never unloaded
// (adapters made from it must not outlive its code).
Poco::ClassLoader<Adapter>& Loader() {
  static Poco::ClassLoader<Adapter>* loader = [] {
    auto* created = new Poco::ClassLoader<Adapter>();
    created->loadLibrary(kPluginPath, kManifest);
    return created;
  }();
  return *loader;
}

// A fresh mock-crm adapter, configured with `settings`; fails the test case when
// Configure() refuses them.
std::unique_ptr<Adapter> NewAdapter(const std::map<std::string, std::string>& settings = {}) {
  std::unique_ptr<Adapter> adapter(Loader().create(kClassName));
  REQUIRE(adapter != nullptr);
  Status status = adapter->Configure(PluginConfig(settings));
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return adapter;
}

// Configure()'s answer for `settings` on a fresh adapter.
Status ConfigureStatus(const std::map<std::string, std::string>& settings) {
  std::unique_ptr<Adapter> adapter(Loader().create(kClassName));
  return adapter->Configure(PluginConfig(settings));
}

JsonObject ParseJson(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<JsonObject>();
}

std::string Str(const JsonObject& object, const std::string& key) {
  return object->getValue<std::string>(key);
}

double Num(const JsonObject& object, const std::string& key) {
  return object->get(key).convert<double>();
}

#include "plugin_fixtures.inc"
// One step sent through the adapter, as the engine runs it.
struct StepRun {
  HttpRequest request;
  HttpResponse response;
  Status status;  // Classify()'s answer.
  StepResult result;
};

StepRun RunStep(Adapter& adapter, const SyncJob& job, StepKind step) {
  StepRun run;
  Status built = adapter.mapping().BuildRequest(job, step, &run.request);
  REQUIRE_MESSAGE(built.ok(), built.ToString());
  run.response = adapter.transport().Send(run.request);
  run.status = adapter.Classify(run.request, run.response);
  if (run.status.ok()) {
    Status read = adapter.mapping().ReadResponse(job, step, run.response, &run.result);
    REQUIRE_MESSAGE(read.ok(), read.ToString());
  }
  return run;
}

// Creates `lead` in the adapter's CRM and returns its CRM id.
std::string CreateLead(Adapter& adapter, const Lead& lead) {
  StepRun run = RunStep(adapter, LeadJob(lead), StepKind::kCreate);
  REQUIRE(run.response.status == 201);
  REQUIRE(run.result.external_id.has_value());
  return *run.result.external_id;
}

// A request sent straight to the transport.
HttpResponse SendRaw(Adapter& adapter, const std::string& method, const std::string& path,
                     const std::string& body = "", const std::string& route = "") {
  HttpRequest request;
  request.method = method;
  request.path = path;
  request.body = body;
  request.route = route;
  return adapter.transport().Send(request);
}

JsonObject Dump(Adapter& adapter) { return ParseJson(adapter.Dump()); }

JsonArray Leads(Adapter& adapter) { return Dump(adapter)->getArray("leads"); }

int64_t RequestCount(Adapter& adapter, const std::string& route) {
  JsonObject requests = Dump(adapter)->getObject("requests");
  return requests->has(route) ? requests->getValue<int64_t>(route) : 0;
}

std::vector<StepKind> PlanOf(Adapter& adapter, const SyncJob& job) {
  std::vector<StepKind> steps;
  REQUIRE(adapter.mapping().Plan(job, &steps).ok());
  return steps;
}

Status ParseWebhook(Adapter& adapter, const std::string& body,
                    std::vector<InboundChange>* changes) {
  WebhookDelivery delivery;
  delivery.headers = {{"X-CRM-Event", "lead.updated"}};
  delivery.body = body;
  return adapter.mapping().ParseWebhook(delivery, changes);
}

// The lines of `text`, without their '\n'; a last line without one is kept.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t newline = text.find('\n', begin);
    if (newline == std::string::npos) newline = text.size();
    lines.push_back(text.substr(begin, newline - begin));
    begin = newline + 1;
  }
  return lines;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// The id in a 2xx answer's body.
std::string AnsweredId(const HttpResponse& response) {
  REQUIRE(response.status / 100 == 2);
  return Str(ParseJson(response.body), "id");
}

// A webhook as the receiver got it.
struct ReceivedWebhook {
  std::string method;
  std::string path;
  std::string secret;    // X-CRM-Secret
  std::string event;     // X-CRM-Event
  std::string delivery;  // X-CRM-Delivery
  std::string content_type;
  std::string body;
};

// A real HTTP server on 127.0.0.1 that records every request and answers
// `status`. While held (Hold()), requests wait in the handler until Release().
class WebhookReceiver {
 public:
  explicit WebhookReceiver(int status = 202) : state_(std::make_shared<State>()) {
    state_->status = status;
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    port_ = socket.address().port();
    auto* params = new Poco::Net::HTTPServerParams();
    params->setMaxThreads(4);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(state_), socket, params);
    server_->start();
  }
  ~WebhookReceiver() {
    Release();
    server_->stopAll(true);
  }

  std::string url(const std::string& path = "/api/crm/webhook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<ReceivedWebhook> received() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->received;
  }
  // Requests that reached the handler, including those still held.
  int arrived() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->arrived;
  }
  void Hold() {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->held = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->held = false;
    }
    state_->released.notify_all();
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable released;
    bool held = false;
    int status = 202;
    int arrived = 0;
    std::vector<ReceivedWebhook> received;
  };

  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(std::shared_ptr<State> state) : state_(std::move(state)) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
      ReceivedWebhook webhook;
      webhook.method = request.getMethod();
      webhook.path = request.getURI();
      webhook.secret = request.get("X-CRM-Secret", "");
      webhook.event = request.get("X-CRM-Event", "");
      webhook.delivery = request.get("X-CRM-Delivery", "");
      webhook.content_type = request.getContentType();
      Poco::StreamCopier::copyToString(request.stream(), webhook.body);
      int status = 202;
      {
        std::unique_lock<std::mutex> lock(state_->mutex);
        ++state_->arrived;
        state_->released.wait(lock, [this] { return !state_->held; });
        state_->received.push_back(webhook);
        status = state_->status;
      }
      response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
      response.setContentType("application/json");
      response.send() << "{}";
    }

   private:
    std::shared_ptr<State> state_;
  };

  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(std::shared_ptr<State> state) : state_(std::move(state)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(state_);
    }

   private:
    std::shared_ptr<State> state_;
  };

  std::shared_ptr<State> state_;
  int port_ = 0;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

// The adapter's "webhooksSent" count for `status` ("202", "0", ...).
int64_t WebhooksSent(Adapter& adapter, const std::string& status) {
  JsonObject sent = Dump(adapter)->getObject("webhooksSent");
  REQUIRE(sent);
  return sent->has(status) ? sent->getValue<int64_t>(status) : 0;
}

int64_t WebhooksPending(Adapter& adapter) {
  return Dump(adapter)->getValue<int64_t>("webhooksPending");
}

TEST_SUITE_BEGIN("plugins");

TEST_CASE("mock-crm: descriptor and Info describe the plugin") {
  Poco::SharedLibrary library(kPluginPath);
  REQUIRE(library.hasSymbol(CRMSYNC_DESCRIPTOR_SYMBOL));
  auto descriptor_fn =
      reinterpret_cast<CrmsyncPluginDescriptorFn>(library.getSymbol(CRMSYNC_DESCRIPTOR_SYMBOL));
  const CrmsyncPluginDescriptor* descriptor = descriptor_fn();
  CHECK(descriptor->struct_size == sizeof(CrmsyncPluginDescriptor));
  CHECK(descriptor->abi_major == CRMSYNC_ABI_MAJOR);
  CHECK(std::string(descriptor->name) == "mock-crm");
  CHECK(std::string(descriptor->version) == "1.0.0");
  CHECK(std::string(descriptor->class_name) == kClassName);
  CHECK(std::string(kManifest) == CRMSYNC_MANIFEST_NAME);

  std::unique_ptr<Adapter> adapter(Loader().create(kClassName));
  PluginInfo info = adapter->Info();  // Valid before Configure().
  CHECK(info.name == "mock-crm");
  CHECK(info.version == "1.0.0");
  CHECK(info.capabilities.lookup_by_reference);
  CHECK(info.capabilities.webhook_registration);
  CHECK(info.capabilities.max_batch_size == 1);
  CHECK(adapter->Configure(PluginConfig()).ok());
  JsonObject dump = Dump(*adapter);
  CHECK(dump->getArray("leads")->size() == 0);
  CHECK(dump->getArray("properties")->size() == 0);
  CHECK(dump->getArray("webhooks")->size() == 0);
  CHECK(dump->getObject("requests")->size() == 0);
}

TEST_CASE("mock-crm: a lead create follows the reference API and returns the CRM id") {
  auto adapter = NewAdapter();
  SyncJob job = LeadJob(SampleLead());
  CHECK(PlanOf(*adapter, job) == std::vector<StepKind>{StepKind::kCreate});

  StepRun run = RunStep(*adapter, job, StepKind::kCreate);
  CHECK(run.request.method == "POST");
  CHECK(run.request.path == "/api/v1/leads");
  CHECK(run.request.route == "lead.create");
  CHECK(run.request.content_type == "application/json");
  JsonObject body = ParseJson(run.request.body);
  CHECK(Str(body, "name") == "Asha Rao");
  CHECK(Str(body, "email") == "asha@example.com");
  CHECK(Str(body, "phone") == "+919800000000");
  CHECK(Str(body, "source") == "website");
  CHECK(Str(body, "status") == "new");
  CHECK(Num(body->getObject("budgetRange"), "min") == 5000000);
  CHECK(Num(body->getObject("budgetRange"), "max") == 7500000);
  JsonArray areas = body->getArray("preferredAreas");
  REQUIRE(areas->size() == 2);
  CHECK(areas->getElement<std::string>(0) == "Baner");
  CHECK(areas->getElement<std::string>(1) == "Wakad");
  CHECK(Str(body, "externalReference") == "lead:42");
  CHECK(Str(body, "assignedAgent") == "agent-3");
  CHECK(Str(body, "notes") == "Wants 2BHK");
  CHECK_FALSE(body->has("lostReason"));

  CHECK(run.response.status == 201);
  CHECK(run.response.error == TransportError::kNone);
  CHECK(run.status.ok());
  REQUIRE(run.result.external_id.has_value());
  CHECK(*run.result.external_id == "crm_lead_1");

  // A second lead gets the next id.
  CHECK(CreateLead(*adapter, SampleLead("43")) == "crm_lead_2");
}

TEST_CASE("mock-crm: absent optional fields are left out of the lead body") {
  auto adapter = NewAdapter();
  Lead lead;
  lead.id = "7";
  HttpRequest request;
  REQUIRE(adapter->mapping().BuildRequest(LeadJob(lead), StepKind::kCreate, &request).ok());
  JsonObject body = ParseJson(request.body);
  CHECK(Str(body, "externalReference") == "lead:7");
  for (const char* absent : {"name", "email", "phone", "source", "status", "budgetRange",
                             "assignedAgent", "notes", "lostReason", "utmSource", "createdDate",
                             "propertyId", "relatedProperty"}) {
    CHECK_MESSAGE(!body->has(absent), absent);
  }
  // Only one bound of the budget.
  lead.budget_max = 100;
  REQUIRE(adapter->mapping().BuildRequest(LeadJob(lead), StepKind::kCreate, &request).ok());
  JsonObject range = ParseJson(request.body)->getObject("budgetRange");
  CHECK_FALSE(range->has("min"));
  CHECK(Num(range, "max") == 100);
}

TEST_CASE("mock-crm: each lead status maps to its CRM word and its plan") {
  struct Row {
    LeadStatus status;
    const char* word;
    std::vector<StepKind> plan;
  };
  const std::vector<Row> rows = {
      {LeadStatus::kNew, "new", {StepKind::kUpdate}},
      {LeadStatus::kContacted, "contacted", {StepKind::kUpdate}},
      {LeadStatus::kQualified, "qualified", {StepKind::kUpdate}},
      {LeadStatus::kViewingScheduled,
       "viewing_scheduled",
       {StepKind::kUpdate, StepKind::kActivity}},
      {LeadStatus::kViewed, "viewed", {StepKind::kUpdate, StepKind::kActivity}},
      {LeadStatus::kNegotiating, "negotiating", {StepKind::kUpdate}},
      {LeadStatus::kConverted, "won", {StepKind::kUpdate, StepKind::kDeal}},
      {LeadStatus::kLost, "lost", {StepKind::kUpdate}},
  };
  auto adapter = NewAdapter();
  Lead lead = SampleLead();
  lead.lost_reason = "Bought elsewhere";
  for (const Row& row : rows) {
    CAPTURE(row.word);
    SyncJob job = StatusJob(lead, row.status, "crm_lead_5");
    CHECK(PlanOf(*adapter, job) == row.plan);
    HttpRequest request;
    REQUIRE(adapter->mapping().BuildRequest(job, StepKind::kUpdate, &request).ok());
    CHECK(request.method == "PUT");
    CHECK(request.path == "/api/v1/leads/crm_lead_5");
    CHECK(request.route == "lead.update");
    JsonObject body = ParseJson(request.body);
    CHECK(Str(body, "status") == row.word);
    // lostReason goes only with LOST.
    CHECK(body->has("lostReason") == (row.status == LeadStatus::kLost));
  }
  SyncJob lost = StatusJob(lead, LeadStatus::kLost, "crm_lead_5");
  HttpRequest request;
  REQUIRE(adapter->mapping().BuildRequest(lost, StepKind::kUpdate, &request).ok());
  CHECK(Str(ParseJson(request.body), "lostReason") == "Bought elsewhere");
}

TEST_CASE("mock-crm: update, activity and deal round trips reach the CRM") {
  auto adapter = NewAdapter();
  const std::string id = CreateLead(*adapter, SampleLead());

  // CONTACTED: a plain update.
  StepRun contacted =
      RunStep(*adapter, StatusJob(SampleLead(), LeadStatus::kContacted, id), StepKind::kUpdate);
  CHECK(contacted.response.status == 200);
  CHECK(contacted.status.ok());
  REQUIRE(contacted.result.external_id.has_value());
  CHECK(*contacted.result.external_id == id);

  // VIEWING_SCHEDULED: update + activity.
  SyncJob viewing = StatusJob(SampleLead(), LeadStatus::kViewingScheduled, id);
  CHECK(RunStep(*adapter, viewing, StepKind::kUpdate).status.ok());
  StepRun activity = RunStep(*adapter, viewing, StepKind::kActivity);
  CHECK(activity.request.method == "POST");
  CHECK(activity.request.path == "/api/v1/leads/" + id + "/activities");
  CHECK(activity.request.route == "lead.activity");
  CHECK(Str(ParseJson(activity.request.body), "type") == "viewing_scheduled");
  CHECK(activity.response.status == 201);
  CHECK(activity.status.ok());
  CHECK_FALSE(activity.result.external_id.has_value());  // The activity's id is not the lead's.

  // VIEWED: update + activity.
  SyncJob viewed = StatusJob(SampleLead(), LeadStatus::kViewed, id);
  CHECK(RunStep(*adapter, viewed, StepKind::kUpdate).status.ok());
  CHECK(Str(ParseJson(RunStep(*adapter, viewed, StepKind::kActivity).request.body), "type") ==
        "viewed");

  // CONVERTED: update + deal worth budgetMax.
  SyncJob converted = StatusJob(SampleLead(), LeadStatus::kConverted, id);
  CHECK(RunStep(*adapter, converted, StepKind::kUpdate).status.ok());
  StepRun deal = RunStep(*adapter, converted, StepKind::kDeal);
  CHECK(deal.request.method == "POST");
  CHECK(deal.request.path == "/api/v1/leads/" + id + "/deals");
  CHECK(deal.request.route == "lead.deal");
  JsonObject deal_body = ParseJson(deal.request.body);
  CHECK(Num(deal_body, "amount") == 7500000);
  CHECK(Str(deal_body, "leadId") == id);
  CHECK_FALSE(Str(deal_body, "title").empty());
  CHECK(deal.response.status == 201);
  CHECK(deal.status.ok());
  CHECK_FALSE(deal.result.external_id.has_value());

  JsonArray leads = Leads(*adapter);
  REQUIRE(leads->size() == 1);
  JsonObject stored = leads->getObject(0);
  CHECK(Str(stored, "id") == id);
  CHECK(Str(stored, "status") == "won");
  CHECK(Num(stored, "createCount") == 1);
  CHECK(Num(stored, "updateCount") == 4);
  JsonArray activities = stored->getArray("activities");
  REQUIRE(activities->size() == 2);
  CHECK(Str(activities->getObject(0), "type") == "viewing_scheduled");
  CHECK(Str(activities->getObject(1), "type") == "viewed");
  JsonArray deals = stored->getArray("deals");
  REQUIRE(deals->size() == 1);
  CHECK(Num(deals->getObject(0), "amount") == 7500000);
  CHECK(Str(deals->getObject(0), "leadId") == id);
}

TEST_CASE("mock-crm: a deal without budgetMax takes the property's price") {
  auto adapter = NewAdapter();
  Lead lead = SampleLead();
  lead.budget_max.reset();
  SyncJob job = StatusJob(lead, LeadStatus::kConverted, "crm_lead_1");
  HttpRequest request;
  REQUIRE(adapter->mapping().BuildRequest(job, StepKind::kDeal, &request).ok());
  CHECK_FALSE(ParseJson(request.body)->has("amount"));
  job.property = SampleProperty();
  REQUIRE(adapter->mapping().BuildRequest(job, StepKind::kDeal, &request).ok());
  CHECK(Num(ParseJson(request.body), "amount") == 6800000);
}

TEST_CASE("mock-crm: an inquiry becomes an inquiry activity on its lead") {
  auto adapter = NewAdapter();
  const std::string id = CreateLead(*adapter, SampleLead());
  SyncJob job;
  job.event_type = EventType::kInquirySubmitted;
  job.entity_kind = EntityKind::kLead;
  job.entity_id = "42";
  job.external_reference = "lead:42";
  job.external_id = id;
  Inquiry inquiry;
  inquiry.id = "inq-1";
  inquiry.lead_id = "42";
  inquiry.property_id = "p-7";
  inquiry.message = "Is it still available?";
  inquiry.lead = SampleLead();
  job.inquiry = inquiry;

  CHECK(PlanOf(*adapter, job) == std::vector<StepKind>{StepKind::kUpdate, StepKind::kActivity});
  CHECK(RunStep(*adapter, job, StepKind::kUpdate).status.ok());
  StepRun activity = RunStep(*adapter, job, StepKind::kActivity);
  JsonObject body = ParseJson(activity.request.body);
  CHECK(Str(body, "type") == "inquiry");
  CHECK(Str(body, "message") == "Is it still available?");
  CHECK(activity.status.ok());
  JsonArray activities = Leads(*adapter)->getObject(0)->getArray("activities");
  REQUIRE(activities->size() == 1);
  CHECK(Str(activities->getObject(0), "message") == "Is it still available?");
}

TEST_CASE("mock-crm: a dealer assignment updates the assigned agent only") {
  auto adapter = NewAdapter();
  const std::string id = CreateLead(*adapter, SampleLead());
  SyncJob job;
  job.event_type = EventType::kDealerAssigned;
  job.entity_kind = EntityKind::kLead;
  job.entity_id = "42";
  job.external_reference = "lead:42";
  job.external_id = id;
  job.assignment = DealerAssignment{"42", "dealer-77", std::nullopt};
  StepRun run = RunStep(*adapter, job, StepKind::kUpdate);
  JsonObject body = ParseJson(run.request.body);
  CHECK(Str(body, "assignedAgent") == "dealer-77");
  CHECK_FALSE(body->has("preferredAreas"));
  CHECK_FALSE(body->has("name"));
  CHECK(run.status.ok());
  JsonObject stored = Leads(*adapter)->getObject(0);
  CHECK(Str(stored, "assignedAgent") == "dealer-77");
  CHECK(Str(stored, "name") == "Asha Rao");  // Untouched.
  CHECK(stored->getArray("preferredAreas")->size() == 2);
}

TEST_CASE("mock-crm: a status change with only id and status erases nothing at the CRM") {
  auto adapter = NewAdapter();
  Lead lead = SampleLead();
  lead.utm_source = "google";
  const std::string id = CreateLead(*adapter, lead);
  // The engine's job: the merged lead, and the one field the event changed.
  SyncJob job = StatusJob(lead, LeadStatus::kContacted, id);
  job.changed_fields = std::vector<std::string>{"status"};
  StepRun run = RunStep(*adapter, job, StepKind::kUpdate);
  CHECK(run.status.ok());
  JsonObject body = ParseJson(run.request.body);
  CHECK(body->size() == 2);
  CHECK(Str(body, "status") == "contacted");
  CHECK(Str(body, "externalReference") == "lead:42");
  JsonObject stored = Leads(*adapter)->getObject(0);
  CHECK(Str(stored, "status") == "contacted");
  CHECK(Str(stored, "name") == "Asha Rao");
  CHECK(Str(stored, "phone") == "+919800000000");
  CHECK(Str(stored, "notes") == "Wants 2BHK");
  CHECK(Num(stored->getObject("budgetRange"), "max") == 7500000);
  REQUIRE(stored->getArray("preferredAreas"));
  CHECK(stored->getArray("preferredAreas")->size() == 2);
}

TEST_CASE("mock-crm: a field the platform cleared is cleared at the CRM, the areas as []") {
  auto adapter = NewAdapter();
  const std::string id = CreateLead(*adapter, SampleLead());
  Lead lead = SampleLead();
  lead.notes.reset();
  lead.preferred_location.clear();
  lead.budget_min.reset();
  SyncJob job = LeadJob(lead, EventType::kLeadStatusChanged, id);
  job.changed_fields =
      std::vector<std::string>{"notes", "preferredLocation", "budgetMin", "utmSource"};
  StepRun run = RunStep(*adapter, job, StepKind::kUpdate);
  CHECK(run.status.ok());
  JsonObject body = ParseJson(run.request.body);
  CHECK(body->isNull("notes"));
  REQUIRE(body->getArray("preferredAreas"));
  CHECK(body->getArray("preferredAreas")->size() == 0);
  // The range goes whole, without the cleared bound; utmSource, cleared, as null.
  CHECK_FALSE(body->getObject("budgetRange")->has("min"));
  CHECK(Num(body->getObject("budgetRange"), "max") == 7500000);
  CHECK(body->isNull("utmSource"));
  CHECK_FALSE(body->has("name"));
  JsonObject stored = Leads(*adapter)->getObject(0);
  CHECK(stored->isNull("notes"));
  CHECK(stored->getArray("preferredAreas")->size() == 0);
  CHECK(Str(stored, "name") == "Asha Rao");
}

TEST_CASE("mock-crm: a property update sends what changed, a cleared field as null") {
  auto adapter = NewAdapter();
  StepRun create = RunStep(*adapter, PropertyJob(SampleProperty()), StepKind::kCreate);
  REQUIRE(create.result.external_id.has_value());
  Property property = SampleProperty();
  property.price = 6500000;
  property.locality.reset();
  SyncJob job = PropertyJob(property, create.result.external_id);
  job.changed_fields = std::vector<std::string>{"price", "locality"};
  JsonObject body = ParseJson(RunStep(*adapter, job, StepKind::kUpdate).request.body);
  CHECK(body->size() == 3);
  CHECK(Num(body, "price") == 6500000);
  // location goes whole: the city it still has, without the cleared locality.
  CHECK(Str(body->getObject("location"), "city") == "Pune");
  CHECK_FALSE(body->getObject("location")->has("locality"));
  JsonObject stored = Dump(*adapter)->getArray("properties")->getObject(0);
  CHECK(Str(stored, "title") == "2BHK in Baner");
  CHECK(Str(stored->getObject("location"), "city") == "Pune");
  CHECK_FALSE(stored->getObject("location")->has("locality"));
  // Both parts cleared: location goes as null.
  property.city.reset();
  job = PropertyJob(property, create.result.external_id);
  job.changed_fields = std::vector<std::string>{"city"};
  body = ParseJson(RunStep(*adapter, job, StepKind::kUpdate).request.body);
  CHECK(body->isNull("location"));
  // Without a changed list (a replayed dead letter) the body goes whole.
  job.changed_fields.reset();
  CHECK(ParseJson(RunStep(*adapter, job, StepKind::kUpdate).request.body)->has("title"));
}

TEST_CASE("mock-crm: property create, update and lookup") {
  auto adapter = NewAdapter();
  StepRun create = RunStep(*adapter, PropertyJob(SampleProperty()), StepKind::kCreate);
  CHECK(create.request.method == "POST");
  CHECK(create.request.path == "/api/v1/properties");
  CHECK(create.request.route == "property.create");
  JsonObject body = ParseJson(create.request.body);
  CHECK(Str(body, "title") == "2BHK in Baner");
  CHECK(Num(body, "price") == 6800000);
  CHECK(Str(body->getObject("location"), "city") == "Pune");
  CHECK(Str(body->getObject("location"), "locality") == "Baner");
  CHECK(Str(body, "status") == "active");
  CHECK(Str(body, "owner") == "owner-1");
  CHECK(Str(body, "assignedAgent") == "dealer-9");  // no CRM user matched: the platform id
  CHECK(Str(body, "internalId") == "p-7");
  for (const char* flat : {"city", "locality", "ownerId", "dealerId"}) {
    CHECK_MESSAGE(!body->has(flat), flat);
  }
  CHECK(Str(body, "externalReference") == "property:p-7");
  CHECK(create.response.status == 201);
  REQUIRE(create.result.external_id.has_value());
  CHECK(*create.result.external_id == "crm_property_1");

  Property sold = SampleProperty();
  sold.status = PropertyStatus::kSold;
  SyncJob update_job = PropertyJob(sold, std::string("crm_property_1"));
  CHECK(PlanOf(*adapter, update_job) == std::vector<StepKind>{StepKind::kUpdate});
  StepRun update = RunStep(*adapter, update_job, StepKind::kUpdate);
  CHECK(update.request.method == "PUT");
  CHECK(update.request.path == "/api/v1/properties/crm_property_1");
  CHECK(update.request.route == "property.update");
  CHECK(update.status.ok());

  HttpRequest lookup;
  REQUIRE(adapter->mapping().BuildLookup(PropertyJob(sold), &lookup).ok());
  CHECK(lookup.method == "GET");
  CHECK(lookup.path == "/api/v1/properties?externalReference=property%3Ap-7");
  CHECK(lookup.route == "property.lookup");
  HttpResponse answer = adapter->transport().Send(lookup);
  CHECK(answer.status == 200);
  std::optional<std::string> found;
  REQUIRE(adapter->mapping().ReadLookup(PropertyJob(sold), answer, &found).ok());
  REQUIRE(found.has_value());
  CHECK(*found == "crm_property_1");

  JsonArray properties = Dump(*adapter)->getArray("properties");
  REQUIRE(properties->size() == 1);
  CHECK(Str(properties->getObject(0), "status") == "sold");
  CHECK(Num(properties->getObject(0), "createCount") == 1);
}

TEST_CASE("mock-crm: lookup by externalReference finds, misses and classifies") {
  auto adapter = NewAdapter();
  Lead odd = SampleLead("a b/c&d");
  const std::string id = CreateLead(*adapter, odd);
  CreateLead(*adapter, SampleLead("other"));

  SyncJob job = LeadJob(odd);
  HttpRequest lookup;
  REQUIRE(adapter->mapping().BuildLookup(job, &lookup).ok());
  CHECK(lookup.method == "GET");
  CHECK(lookup.path == "/api/v1/leads?externalReference=lead%3Aa%20b%2Fc%26d");
  CHECK(lookup.route == "lead.lookup");
  HttpResponse answer = adapter->transport().Send(lookup);
  CHECK(answer.status == 200);
  JsonArray results = ParseJson(answer.body)->getArray("results");
  REQUIRE(results->size() == 1);
  CHECK(Str(results->getObject(0), "externalReference") == "lead:a b/c&d");
  std::optional<std::string> found;
  REQUIRE(adapter->mapping().ReadLookup(job, answer, &found).ok());
  REQUIRE(found.has_value());
  CHECK(*found == id);

  // Not there: empty results, no id, OK (the engine then creates).
  SyncJob missing = LeadJob(SampleLead("nobody"));
  REQUIRE(adapter->mapping().BuildLookup(missing, &lookup).ok());
  answer = adapter->transport().Send(lookup);
  CHECK(answer.status == 200);
  CHECK(ParseJson(answer.body)->getArray("results")->size() == 0);
  found = std::string("stale");
  REQUIRE(adapter->mapping().ReadLookup(missing, answer, &found).ok());
  CHECK_FALSE(found.has_value());

  // A 404 reads as "not there"; a 5xx is the CRM's failure, classified.
  HttpResponse not_found;
  not_found.status = 404;
  CHECK(adapter->mapping().ReadLookup(missing, not_found, &found).ok());
  CHECK_FALSE(found.has_value());
  HttpResponse failed;
  failed.status = 503;
  CHECK(adapter->mapping().ReadLookup(missing, failed, &found).code() == StatusCode::kRetryable);
  HttpResponse garbage;
  garbage.status = 200;
  garbage.body = "<html>";
  CHECK(adapter->mapping().ReadLookup(missing, garbage, &found).code() == StatusCode::kPermanent);
  CHECK(RequestCount(*adapter, "lead.lookup") == 2);
}

TEST_CASE("mock-crm: a create with a known externalReference answers 409 and the id") {
  auto adapter = NewAdapter();
  const std::string id = CreateLead(*adapter, SampleLead());
  StepRun again = RunStep(*adapter, LeadJob(SampleLead()), StepKind::kCreate);
  CHECK(again.response.status == 409);
  JsonObject body = ParseJson(again.response.body);
  CHECK(Str(body, "id") == id);
  CHECK(Str(body, "message").find("lead:42") != std::string::npos);
  CHECK(again.status.code() == StatusCode::kConflict);
  CHECK(DefaultClassify(again.response).code() == StatusCode::kConflict);

  JsonArray leads = Leads(*adapter);
  REQUIRE(leads->size() == 1);                          // No duplicate record...
  CHECK(Num(leads->getObject(0), "createCount") == 2);  // ...but the second try is on record.
  CHECK(RequestCount(*adapter, "lead.create") == 2);
}

TEST_CASE("mock-crm: updates and children of an unknown id answer 404") {
  auto adapter = NewAdapter();
  StepRun update = RunStep(*adapter, StatusJob(SampleLead(), LeadStatus::kContacted, "crm_lead_9"),
                           StepKind::kUpdate);
  CHECK(update.response.status == 404);
  CHECK(Str(ParseJson(update.response.body), "message") == "lead crm_lead_9 not found");
  CHECK(update.status.code() == StatusCode::kNotFound);

  StepRun activity = RunStep(*adapter, StatusJob(SampleLead(), LeadStatus::kViewed, "crm_lead_9"),
                             StepKind::kActivity);
  CHECK(activity.response.status == 404);
  StepRun deal = RunStep(*adapter, StatusJob(SampleLead(), LeadStatus::kConverted, "crm_lead_9"),
                         StepKind::kDeal);
  CHECK(deal.response.status == 404);
  StepRun property = RunStep(*adapter, PropertyJob(SampleProperty(), std::string("crm_property_3")),
                             StepKind::kUpdate);
  CHECK(property.response.status == 404);
  CHECK(Str(ParseJson(property.response.body), "message") == "property crm_property_3 not found");
  CHECK(Leads(*adapter)->size() == 0);
}

TEST_CASE("mock-crm: malformed and invalid requests are refused with a message") {
  auto adapter = NewAdapter();
  struct Row {
    const char* method;
    const char* path;
    const char* body;
    int status;
    StatusCode code;
  };
  const std::vector<Row> rows = {
      {"POST", "/api/v1/leads", "not json", 400, StatusCode::kInvalidRecord},
      {"POST", "/api/v1/leads", "[1, 2]", 400, StatusCode::kInvalidRecord},
      {"POST", "/api/v1/leads", "", 400, StatusCode::kInvalidRecord},
      {"POST", "/api/v1/leads", R"({"status": "converted"})", 422, StatusCode::kInvalidRecord},
      {"POST", "/api/v1/leads", R"({"name": 5})", 422, StatusCode::kInvalidRecord},
      {"POST", "/api/v1/leads", R"({"budgetRange": {"min": "cheap"}})", 422,
       StatusCode::kInvalidRecord},
      {"POST", "/api/v1/leads", R"({"preferredAreas": "Baner"})", 422, StatusCode::kInvalidRecord},
      {"POST", "/api/v1/properties", R"({"price": "high"})", 422, StatusCode::kInvalidRecord},
      {"POST", "/api/v1/properties", R"({"status": "won"})", 422, StatusCode::kInvalidRecord},
      {"POST", "/api/v1/properties", R"({"location": "Pune"})", 422, StatusCode::kInvalidRecord},
      {"POST", "/api/v1/properties", R"({"location": {"city": 1}})", 422,
       StatusCode::kInvalidRecord},
      {"POST", "/api/v1/properties", R"({"internalId": 7})", 422, StatusCode::kInvalidRecord},
      {"POST", "/api/v1/webhooks", R"({"events": []})", 422, StatusCode::kInvalidRecord},
      {"POST", "/api/v1/users", "", 405, StatusCode::kPermanent},
      {"GET", "/api/v2/leads", "", 404, StatusCode::kNotFound},
      {"GET", "/api/v1/contacts", "", 404, StatusCode::kNotFound},
      {"DELETE", "/api/v1/leads", "", 405, StatusCode::kPermanent},
  };
  for (const Row& row : rows) {
    CAPTURE(row.method);
    CAPTURE(row.path);
    CAPTURE(row.body);
    HttpResponse response = SendRaw(*adapter, row.method, row.path, row.body);
    CHECK(response.status == row.status);
    CHECK(response.error == TransportError::kNone);
    CHECK_FALSE(Str(ParseJson(response.body), "message").empty());
    Status status = DefaultClassify(response);
    CHECK(status.code() == row.code);
  }
  // The CRM's reason reaches the dead letter.
  HttpResponse bad = SendRaw(*adapter, "POST", "/api/v1/leads", R"({"status": "converted"})");
  CHECK(DefaultClassify(bad).message().find("invalid lead status 'converted'") !=
        std::string::npos);
  bad = SendRaw(*adapter, "POST", "/api/v1/properties", R"({"location": {"locality": []}})");
  CHECK(DefaultClassify(bad).message().find("location.locality must be a string") !=
        std::string::npos);
  CHECK(Leads(*adapter)->size() == 0);
  // Requests without a route are counted under the route their path names.
  CHECK(RequestCount(*adapter, "lead.create") == 8);
  CHECK(RequestCount(*adapter, "unknown") == 4);
}

TEST_CASE("mock-crm: every fault token does what it says") {
  struct Row {
    const char* token;
    int status;
    TransportError error;
    bool request_sent;
    bool applied;
    StatusCode code;
  };
  const std::vector<Row> rows = {
      {"500", 500, TransportError::kNone, true, false, StatusCode::kRetryable},
      {"503", 503, TransportError::kNone, true, false, StatusCode::kRetryable},
      {"408", 408, TransportError::kNone, true, false, StatusCode::kRetryable},
      {"401", 401, TransportError::kNone, true, false, StatusCode::kUnauthenticated},
      {"403", 403, TransportError::kNone, true, false, StatusCode::kUnauthenticated},
      {"404", 404, TransportError::kNone, true, false, StatusCode::kNotFound},
      {"409", 409, TransportError::kNone, true, false, StatusCode::kConflict},
      {"400", 400, TransportError::kNone, true, false, StatusCode::kInvalidRecord},
      {"410", 410, TransportError::kNone, true, false, StatusCode::kInvalidRecord},
      {"422", 422, TransportError::kNone, true, false, StatusCode::kInvalidRecord},
      {"429", 429, TransportError::kNone, true, false, StatusCode::kRateLimited},
      {"ok", 201, TransportError::kNone, true, true, StatusCode::kOk},
      {"OK", 201, TransportError::kNone, true, true, StatusCode::kOk},
      {"timeout", 0, TransportError::kTimeout, true, true, StatusCode::kRetryable},
      {"drop", 0, TransportError::kTimeout, true, false, StatusCode::kRetryable},
      {"connect", 0, TransportError::kConnect, false, false, StatusCode::kRetryable},
      {"reset", 0, TransportError::kIo, true, false, StatusCode::kRetryable},
  };
  for (const Row& row : rows) {
    CAPTURE(row.token);
    auto adapter = NewAdapter({{"faults.lead.create", row.token}});
    StepRun run = RunStep(*adapter, LeadJob(SampleLead()), StepKind::kCreate);
    CHECK(run.response.status == row.status);
    CHECK(run.response.error == row.error);
    CHECK(run.response.request_sent == row.request_sent);
    CHECK(run.status.code() == row.code);
    CHECK(DefaultClassify(run.response).code() == row.code);
    if (row.error != TransportError::kNone) CHECK_FALSE(run.response.error_message.empty());
    if (row.status >= 400) {
      CHECK(Str(ParseJson(run.response.body), "message").find("lead.create") != std::string::npos);
      CHECK(run.response.Header("Retry-After").empty());
    }
    CHECK(Leads(*adapter)->size() == (row.applied ? 1u : 0u));
    CHECK(RequestCount(*adapter, "lead.create") == 1);
    // The script held one token: the next request passes.
    StepRun next = RunStep(*adapter, LeadJob(SampleLead("43")), StepKind::kCreate);
    CHECK(next.response.status == 201);
  }
}

TEST_CASE("mock-crm: a scripted 429 carries Retry-After") {
  auto adapter = NewAdapter({{"faults.lead.update", "429:retry-after=2, 503:retry-after=7"}});
  const std::string id = CreateLead(*adapter, SampleLead());
  SyncJob job = StatusJob(SampleLead(), LeadStatus::kContacted, id);
  StepRun limited = RunStep(*adapter, job, StepKind::kUpdate);
  CHECK(limited.response.status == 429);
  CHECK(limited.response.Header("Retry-After") == "2");
  CHECK(limited.status.code() == StatusCode::kRateLimited);
  CHECK(limited.status.retry_after_ms() == 2000);
  StepRun unavailable = RunStep(*adapter, job, StepKind::kUpdate);
  CHECK(unavailable.response.status == 503);
  CHECK(unavailable.response.Header("Retry-After") == "7");
  CHECK(unavailable.status.code() == StatusCode::kRetryable);
  CHECK(RunStep(*adapter, job, StepKind::kUpdate).response.status == 200);
  CHECK(Num(Leads(*adapter)->getObject(0), "updateCount") == 1);
}

TEST_CASE("mock-crm: a script is consumed one token per request, then requests pass") {
  auto adapter = NewAdapter({{"faults.lead.create", " 500,500 , 429:retry-after=2, timeout, 401"}});
  SyncJob job = LeadJob(SampleLead());
  CHECK(RunStep(*adapter, job, StepKind::kCreate).response.status == 500);
  // Other routes are not touched by lead.create's script.
  CHECK(RunStep(*adapter, PropertyJob(SampleProperty()), StepKind::kCreate).response.status == 201);
  CHECK(RunStep(*adapter, job, StepKind::kCreate).response.status == 500);
  CHECK(RunStep(*adapter, job, StepKind::kCreate).response.status == 429);
  StepRun timeout = RunStep(*adapter, job, StepKind::kCreate);
  CHECK(timeout.response.error == TransportError::kTimeout);
  CHECK(Leads(*adapter)->size() == 1);  // The timed-out create was applied.
  CHECK(RunStep(*adapter, job, StepKind::kCreate).response.status == 401);
  // Used up: normal service (here the record exists, so 409).
  CHECK(RunStep(*adapter, job, StepKind::kCreate).response.status == 409);
  CHECK(RunStep(*adapter, LeadJob(SampleLead("43")), StepKind::kCreate).response.status == 201);
  CHECK(RequestCount(*adapter, "lead.create") == 7);
  CHECK(RequestCount(*adapter, "property.create") == 1);
}

TEST_CASE("mock-crm: faults.* applies to every route without its own script") {
  auto adapter = NewAdapter({{"faults.*", "503, 500"}, {"faults.lead.create", "ok"}});
  // lead.create has its own script: it passes.
  const std::string id = CreateLead(*adapter, SampleLead());
  // Every other route plays its own copy of the "*" script.
  SyncJob job = StatusJob(SampleLead(), LeadStatus::kContacted, id);
  CHECK(RunStep(*adapter, job, StepKind::kUpdate).response.status == 503);
  HttpRequest lookup;
  REQUIRE(adapter->mapping().BuildLookup(job, &lookup).ok());
  CHECK(adapter->transport().Send(lookup).status == 503);
  CHECK(RunStep(*adapter, job, StepKind::kUpdate).response.status == 500);
  CHECK(adapter->transport().Send(lookup).status == 500);
  CHECK(RunStep(*adapter, job, StepKind::kUpdate).response.status == 200);
  CHECK(adapter->transport().Send(lookup).status == 200);
  // A route first seen now still starts at the beginning of its copy.
  CHECK(RunStep(*adapter, PropertyJob(SampleProperty()), StepKind::kCreate).response.status == 503);
}

TEST_CASE("mock-crm: a create that timed out after applying is found by lookup, not duplicated") {
  auto adapter = NewAdapter({{"faults.lead.create", "timeout"}});
  SyncJob job = LeadJob(SampleLead());
  StepRun create = RunStep(*adapter, job, StepKind::kCreate);
  CHECK(create.response.error == TransportError::kTimeout);
  CHECK(create.response.request_sent);  // Unknown outcome: look up before creating again.
  CHECK(create.status.code() == StatusCode::kRetryable);

  HttpRequest lookup;
  REQUIRE(adapter->mapping().BuildLookup(job, &lookup).ok());
  HttpResponse answer = adapter->transport().Send(lookup);
  REQUIRE(adapter->Classify(lookup, answer).ok());
  std::optional<std::string> found;
  REQUIRE(adapter->mapping().ReadLookup(job, answer, &found).ok());
  REQUIRE(found.has_value());
  job.external_id = *found;
  CHECK(RunStep(*adapter, job, StepKind::kUpdate).status.ok());

  JsonArray leads = Leads(*adapter);
  REQUIRE(leads->size() == 1);
  CHECK(Num(leads->getObject(0), "createCount") == 1);
  CHECK(Num(leads->getObject(0), "updateCount") == 1);
}

TEST_CASE("mock-crm: bad fault scripts and latencies are refused naming key and token") {
  struct Row {
    const char* key;
    const char* value;
    const char* expected;
  };
  const std::vector<Row> rows = {
      {"faults.lead.create", "fivehundred", "faults.lead.create: unknown token 'fivehundred'"},
      {"faults.lead.create", "500, fivehundred", "faults.lead.create: unknown token 'fivehundred'"},
      {"faults.*", "500,,500", "faults.*: empty token"},
      {"faults.lead.update", "500,", "faults.lead.update: empty token"},
      {"faults.lead.update", "99", "faults.lead.update"},
      {"faults.lead.update", "600", "'600'"},
      {"faults.lead.deal", "429:retry-after=soon", "faults.lead.deal"},
      {"faults.lead.deal", "429:retry-after=soon", "'429:retry-after=soon'"},
      {"faults.lead.deal", "429:wait=2", "'429:wait=2'"},
      {"faults.lead.deal", "timeout:retry-after=2", "'timeout:retry-after=2'"},
      {"faults.", "500", "faults."},
      {"latency_ms", "-5", "latency_ms"},
      {"latency_ms", "fast", "'fast'"},
      {"latency_ms", "1.5", "latency_ms"},
      {"latency_ms.lead.create", "abc", "latency_ms.lead.create"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.key);
    CAPTURE(row.value);
    Status status = ConfigureStatus({{row.key, row.value}});
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK_MESSAGE(status.message().find(row.expected) != std::string::npos, status.message());
  }
  // Good ones, for contrast.
  CHECK(ConfigureStatus({{"faults.lead.create", ""}}).ok());
  CHECK(ConfigureStatus({{"faults.*", "500, 429:retry-after=2, timeout, drop, connect, reset, ok"},
                         {"latency_ms", "0"},
                         {"latency_ms.lead.create", "5"},
                         {"api_url", "http://ignored"}})
            .ok());
}

TEST_CASE("mock-crm: latency is added to the calls of its route") {
  auto adapter = NewAdapter({{"latency_ms.lead.lookup", "40"}});
  HttpRequest lookup;
  REQUIRE(adapter->mapping().BuildLookup(LeadJob(SampleLead()), &lookup).ok());
  const auto start = std::chrono::steady_clock::now();
  CHECK(adapter->transport().Send(lookup).status == 200);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= std::chrono::milliseconds(40));
}

TEST_CASE("mock-crm: webhook registration reaches the CRM") {
  auto adapter = NewAdapter();
  WebhookRegistration registration;
  registration.url = "https://crmsync.example.com/api/crm/webhook";
  registration.events = {"lead.updated", "property.updated"};
  registration.secret = "s3cret";
  HttpRequest request;
  REQUIRE(adapter->mapping().BuildWebhookRegistration(registration, &request).ok());
  CHECK(request.method == "POST");
  CHECK(request.path == "/api/v1/webhooks");
  CHECK(request.route == "webhook.register");
  JsonObject body = ParseJson(request.body);
  CHECK(Str(body, "url") == registration.url);
  CHECK(body->getArray("events")->size() == 2);
  CHECK(Str(body, "secret") == "s3cret");
  HttpResponse response = adapter->transport().Send(request);
  CHECK(response.status == 201);
  CHECK(Str(ParseJson(response.body), "id") == "crm_webhook_1");

  JsonArray webhooks = Dump(*adapter)->getArray("webhooks");
  REQUIRE(webhooks->size() == 1);
  CHECK(Str(webhooks->getObject(0), "url") == registration.url);
  CHECK(webhooks->getObject(0)->getArray("events")->getElement<std::string>(0) == "lead.updated");

  registration.url.clear();
  CHECK(adapter->mapping().BuildWebhookRegistration(registration, &request).code() ==
        StatusCode::kPermanent);
}

TEST_CASE("mock-crm: credentials are sent as X-API-Key and X-API-Secret") {
  auto adapter = NewAdapter({{"api_key", "key-1"}, {"api_secret", "secret-1"}});
  HttpRequest request;
  REQUIRE(adapter->mapping().BuildRequest(LeadJob(SampleLead()), StepKind::kCreate, &request).ok());
  CHECK(FindHeader(request.headers, "X-API-Key") == "key-1");
  CHECK(FindHeader(request.headers, "X-API-Secret") == "secret-1");
  auto plain = NewAdapter();
  REQUIRE(plain->mapping().BuildRequest(LeadJob(SampleLead()), StepKind::kCreate, &request).ok());
  CHECK(FindHeader(request.headers, "X-API-Key").empty());
}

TEST_CASE("mock-crm: a lead carries every strategy field and the CRM ids of related records") {
  auto adapter = NewAdapter();
  Lead lead = SampleLead();
  lead.utm_source = "google-ads";
  lead.created_at = "2026-11-23T10:15:00Z";
  SyncJob job = LeadJob(lead);
  // Without related ids: the platform's propertyId only, the dealer id as agent.
  HttpRequest plain;
  REQUIRE(adapter->mapping().BuildRequest(job, StepKind::kCreate, &plain).ok());
  JsonObject body = ParseJson(plain.body);
  CHECK(Str(body, "utmSource") == "google-ads");
  CHECK(Str(body, "createdDate") == "2026-11-23T10:15:00Z");
  CHECK(Str(body, "propertyId") == "p-7");
  CHECK_FALSE(body->has("relatedProperty"));
  CHECK(Str(body, "assignedAgent") == "agent-3");

  job.related = {{"property", "crm_property_9"}, {"agent", "u-asha"}};
  REQUIRE(RunStep(*adapter, job, StepKind::kCreate).status.ok());
  JsonObject stored = Leads(*adapter)->getObject(0);
  CHECK(Str(stored, "relatedProperty") == "crm_property_9");
  CHECK(Str(stored, "assignedAgent") == "u-asha");
  CHECK(Str(stored, "utmSource") == "google-ads");
  CHECK(Str(stored, "createdDate") == "2026-11-23T10:15:00Z");

  // An update of propertyId sends the new related id with it.
  SyncJob update = LeadJob(lead, EventType::kLeadStatusChanged, std::string("crm_lead_1"));
  update.changed_fields = std::vector<std::string>{"propertyId"};
  update.related = {{"property", "crm_property_10"}};
  body = ParseJson(RunStep(*adapter, update, StepKind::kUpdate).request.body);
  CHECK(body->size() == 3);
  CHECK(Str(body, "relatedProperty") == "crm_property_10");
  CHECK(Str(body, "propertyId") == "p-7");

  // An inquiry about another property: the activity names that one's CRM id,
  // the lead's own relatedProperty is left alone.
  SyncJob inquiry = LeadJob(lead, EventType::kInquirySubmitted, std::string("crm_lead_1"));
  Inquiry asked;
  asked.id = "inq-1";
  asked.lead_id = lead.id;
  asked.property_id = "p-8";
  asked.message = "Still available?";
  asked.lead = lead;
  inquiry.lead.reset();
  inquiry.inquiry = asked;
  inquiry.related = {{"property", "crm_property_8"}};
  HttpRequest upsert;
  REQUIRE(adapter->mapping().BuildRequest(inquiry, StepKind::kUpdate, &upsert).ok());
  CHECK_FALSE(ParseJson(upsert.body)->has("relatedProperty"));
  body = ParseJson(RunStep(*adapter, inquiry, StepKind::kActivity).request.body);
  CHECK(Str(body, "relatedProperty") == "crm_property_8");
}

TEST_CASE("mock-crm: a property's agent is the matched CRM user") {
  auto adapter = NewAdapter();
  SyncJob job = PropertyJob(SampleProperty());
  job.related = {{"propertyAgent", "u-ravi"}};
  CHECK(RunStep(*adapter, job, StepKind::kCreate).status.ok());
  JsonObject stored = Dump(*adapter)->getArray("properties")->getObject(0);
  CHECK(Str(stored, "assignedAgent") == "u-ravi");
  CHECK(Str(stored, "owner") == "owner-1");
  CHECK(Str(stored, "internalId") == "p-7");
}

TEST_CASE("mock-crm: ListUsers lists the users seeded from settings, through the transport") {
  auto adapter = NewAdapter(
      {{"users", R"([{"id":"u-1","email":"asha@acme.example","platformId":"dealer-7"},)"
                 R"({"id":"u-2","active":false}])"}});
  std::vector<CrmUser> users;
  REQUIRE(adapter->ListUsers(&users).ok());
  REQUIRE(users.size() == 2);
  CHECK(users[0].id == "u-1");
  CHECK(users[0].email == "asha@acme.example");
  CHECK(users[0].platform_id == "dealer-7");
  CHECK(users[0].active);
  CHECK(users[1].id == "u-2");
  CHECK(users[1].email.empty());
  CHECK_FALSE(users[1].active);
  CHECK(RequestCount(*adapter, "user.list") == 1);
  JsonArray dumped = Dump(*adapter)->getArray("users");
  REQUIRE(dumped->size() == 2);
  CHECK(Str(dumped->getObject(0), "platformId") == "dealer-7");

  // No users configured: an empty list, not an error.
  auto empty = NewAdapter();
  REQUIRE(empty->ListUsers(&users).ok());
  CHECK(users.empty());

  // The CRM's refusal is classified like any answer.
  auto failing = NewAdapter({{"faults.user.list", "503, 401"}});
  CHECK(failing->ListUsers(&users).code() == StatusCode::kRetryable);
  CHECK(failing->ListUsers(&users).code() == StatusCode::kUnauthenticated);
  CHECK(failing->ListUsers(&users).ok());
}

TEST_CASE("mock-crm: a bad users setting is refused naming the entry and what is wrong") {
  struct Row {
    const char* value;
    const char* message;
  };
  for (const Row& row : std::vector<Row>{
           {"not json", "users: must be a JSON array"},
           {R"({"id":"u-1"})", "users: must be a JSON array"},
           {R"([1])", "users[0]: must be an object"},
           {R"([{"email":"a@b.c"}])", "users[0].id: required, a string"},
           {R"([{"id":"u-1"},{"id":"u-1"}])", "users[1].id: 'u-1' twice"},
           {R"([{"id":"u-1","email":7}])", "users[0].email: must be a string"},
           {R"([{"id":"u-1","platformId":[]}])", "users[0].platformId: must be a string"},
           {R"([{"id":"u-1","active":"yes"}])", "users[0].active: must be true or false"},
       }) {
    CAPTURE(row.value);
    Status status = ConfigureStatus({{"users", row.value}});
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message() == row.message);
  }
}

TEST_CASE("mock-crm: Dump shows everything the CRM holds") {
  auto adapter = NewAdapter({{"faults.lead.update", "500"}});
  const std::string id = CreateLead(*adapter, SampleLead());
  SyncJob converted = StatusJob(SampleLead(), LeadStatus::kConverted, id);
  CHECK(RunStep(*adapter, converted, StepKind::kUpdate).response.status == 500);
  CHECK(RunStep(*adapter, converted, StepKind::kUpdate).status.ok());
  CHECK(RunStep(*adapter, converted, StepKind::kDeal).status.ok());
  CHECK(RunStep(*adapter, StatusJob(SampleLead(), LeadStatus::kViewed, id), StepKind::kActivity)
            .status.ok());
  CHECK(RunStep(*adapter, PropertyJob(SampleProperty()), StepKind::kCreate).status.ok());
  WebhookRegistration registration{"https://h/api/crm/webhook", {"lead.updated"}, "s"};
  HttpRequest request;
  REQUIRE(adapter->mapping().BuildWebhookRegistration(registration, &request).ok());
  CHECK(adapter->transport().Send(request).status == 201);

  JsonObject dump = Dump(*adapter);
  JsonArray leads = dump->getArray("leads");
  REQUIRE(leads->size() == 1);
  JsonObject lead = leads->getObject(0);
  CHECK(Str(lead, "id") == "crm_lead_1");
  CHECK(Str(lead, "externalReference") == "lead:42");
  CHECK(Str(lead, "name") == "Asha Rao");
  CHECK(Str(lead, "email") == "asha@example.com");
  CHECK(Str(lead, "status") == "won");
  CHECK(Num(lead->getObject("budgetRange"), "max") == 7500000);
  CHECK(Num(lead, "createCount") == 1);
  CHECK(Num(lead, "updateCount") == 1);
  REQUIRE(lead->getArray("deals")->size() == 1);
  CHECK(Str(lead->getArray("deals")->getObject(0), "id") == "crm_deal_1");
  REQUIRE(lead->getArray("activities")->size() == 1);
  CHECK(Str(lead->getArray("activities")->getObject(0), "id") == "crm_activity_1");
  JsonArray properties = dump->getArray("properties");
  REQUIRE(properties->size() == 1);
  CHECK(Str(properties->getObject(0), "id") == "crm_property_1");
  CHECK(Str(properties->getObject(0), "externalReference") == "property:p-7");
  CHECK(dump->getArray("webhooks")->size() == 1);
  JsonObject requests = dump->getObject("requests");
  CHECK(requests->getValue<int64_t>("lead.create") == 1);
  CHECK(requests->getValue<int64_t>("lead.update") == 2);  // The scripted 500 counts too.
  CHECK(requests->getValue<int64_t>("lead.deal") == 1);
  CHECK(requests->getValue<int64_t>("lead.activity") == 1);
  CHECK(requests->getValue<int64_t>("property.create") == 1);
  CHECK(requests->getValue<int64_t>("webhook.register") == 1);
}

TEST_CASE("mock-crm: the reference webhook becomes one change in platform terms") {
  auto adapter = NewAdapter();
  std::vector<InboundChange> changes;
  Status status = ParseWebhook(*adapter,
                               R"({"event": "lead.updated", "entityId": "crm_lead_1",
                                   "data": {"status": "converted", "notes": "Property booked",
                                            "assignedAgent": "agent_123"}})",
                               &changes);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  REQUIRE(changes.size() == 1);
  const InboundChange& change = changes[0];
  CHECK(change.crm_event == "lead.updated");
  CHECK(change.entity_kind == EntityKind::kLead);
  CHECK(change.external_id == "crm_lead_1");
  CHECK_FALSE(change.updated_at.has_value());
  JsonObject fields = ParseJson(change.fields_json);
  CHECK(fields->size() == 3);
  CHECK(Str(fields, "status") == "CONVERTED");
  CHECK(Str(fields, "notes") == "Property booked");
  CHECK(Str(fields, "assignedToId") == "agent_123");
}

TEST_CASE("mock-crm: webhook status words map back to platform statuses") {
  const std::vector<std::pair<const char*, const char*>> rows = {
      {"new", "NEW"},
      {"contacted", "CONTACTED"},
      {"qualified", "QUALIFIED"},
      {"viewing_scheduled", "VIEWING_SCHEDULED"},
      {"viewed", "VIEWED"},
      {"negotiating", "NEGOTIATING"},
      {"won", "CONVERTED"},
      {"closed_won", "CONVERTED"},
      {"converted", "CONVERTED"},
      {"Closed-Won", "CONVERTED"},
      {"lost", "LOST"},
      {"closed_lost", "LOST"},
      {"VIEWING_SCHEDULED", "VIEWING_SCHEDULED"},
  };
  auto adapter = NewAdapter();
  for (const auto& [word, platform] : rows) {
    CAPTURE(word);
    std::vector<InboundChange> changes;
    const std::string body = std::string(R"({"event":"lead.updated","entityId":"crm_lead_2",)") +
                             R"("data":{"status":")" + word + R"("}})";
    REQUIRE(ParseWebhook(*adapter, body, &changes).ok());
    REQUIRE(changes.size() == 1);
    CHECK(Str(ParseJson(changes[0].fields_json), "status") == platform);
  }
}

TEST_CASE("mock-crm: webhook fields, updatedAt and property events") {
  auto adapter = NewAdapter();
  std::vector<InboundChange> changes;
  REQUIRE(ParseWebhook(*adapter,
                       R"({"event": "lead.updated", "entityId": "crm_lead_3",
                           "data": {"name": "Asha R", "email": "a@x.io", "phone": "+91",
                                    "status": "lost", "lostReason": "Budget",
                                    "budgetRange": {"min": 10, "max": 20},
                                    "preferredAreas": ["Aundh"], "unknownField": 1,
                                    "updatedAt": "2026-11-23T10:15:00Z"}})",
                       &changes)
              .ok());
  REQUIRE(changes.size() == 1);
  JsonObject fields = ParseJson(changes[0].fields_json);
  CHECK(Str(fields, "name") == "Asha R");
  CHECK(Str(fields, "email") == "a@x.io");
  CHECK(Str(fields, "phone") == "+91");
  CHECK(Str(fields, "status") == "LOST");
  CHECK(Str(fields, "lostReason") == "Budget");
  CHECK(Num(fields, "budgetMin") == 10);
  CHECK(Num(fields, "budgetMax") == 20);
  CHECK(fields->getArray("preferredLocation")->getElement<std::string>(0) == "Aundh");
  CHECK_FALSE(fields->has("unknownField"));
  CHECK_FALSE(fields->has("updatedAt"));
  REQUIRE(changes[0].updated_at.has_value());
  CHECK(*changes[0].updated_at == "2026-11-23T10:15:00Z");

  REQUIRE(ParseWebhook(*adapter,
                       R"({"event": "property.updated", "entityId": "crm_property_4",
                           "data": {"status": "sold", "price": 7000000, "title": "T"}})",
                       &changes)
              .ok());
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].entity_kind == EntityKind::kProperty);
  CHECK(changes[0].external_id == "crm_property_4");
  fields = ParseJson(changes[0].fields_json);
  CHECK(Str(fields, "status") == "SOLD");
  CHECK(Num(fields, "price") == 7000000);
  CHECK(Str(fields, "title") == "T");

  // The strategy's property keys come back as platform fields.
  REQUIRE(ParseWebhook(*adapter,
                       R"({"event": "property.updated", "entityId": "crm_property_4",
                           "data": {"location": {"city": "Pune", "locality": "Aundh"},
                                    "owner": "owner-2"}})",
                       &changes)
              .ok());
  REQUIRE(changes.size() == 1);
  fields = ParseJson(changes[0].fields_json);
  CHECK(Str(fields, "city") == "Pune");
  CHECK(Str(fields, "locality") == "Aundh");
  CHECK(Str(fields, "ownerId") == "owner-2");

  // No data at all: a change with no fields.
  REQUIRE(ParseWebhook(*adapter, R"({"event": "lead.created", "entityId": "crm_lead_8"})", &changes)
              .ok());
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].fields_json == "{}");
}

TEST_CASE("mock-crm: malformed webhooks are invalid records naming what is wrong") {
  struct Row {
    const char* body;
    const char* expected;
  };
  const std::vector<Row> rows = {
      {"not json", "JSON"},
      {"[1]", "object"},
      {"", "JSON"},
      {R"({"entityId": "crm_lead_1", "data": {}})", "event"},
      {R"({"event": 5, "entityId": "crm_lead_1"})", "event"},
      {R"({"event": "lead.updated", "data": {"status": "won"}})", "entityId"},
      {R"({"event": "lead.updated", "entityId": 12})", "entityId"},
      {R"({"event": "lead.updated", "entityId": "crm_lead_1", "data": "won"})", "data"},
      {R"({"event": "lead.updated", "entityId": "crm_lead_1", "data": {"status": "maybe"}})",
       "maybe"},
      {R"({"event": "lead.updated", "entityId": "crm_lead_1", "data": {"name": 3}})", "data.name"},
      {R"({"event": "lead.updated", "entityId": "crm_lead_1",
           "data": {"budgetRange": {"max": "lots"}}})",
       "data.budgetRange.max"},
      {R"({"event": "property.updated", "entityId": "crm_property_1",
           "data": {"status": "won"}})",
       "won"},
  };
  auto adapter = NewAdapter();
  for (const Row& row : rows) {
    CAPTURE(row.body);
    std::vector<InboundChange> changes;
    Status status = ParseWebhook(*adapter, row.body, &changes);
    CHECK(status.code() == StatusCode::kInvalidRecord);
    CHECK_MESSAGE(status.message().find(row.expected) != std::string::npos, status.message());
    CHECK(changes.empty());
  }
}

TEST_CASE("mock-crm: unknown webhook events give no change") {
  auto adapter = NewAdapter();
  for (const char* body :
       {R"({"event": "ping"})", R"({"event": "deal.created", "entityId": "crm_deal_1"})",
        R"({"event": "lead.deleted", "entityId": "crm_lead_1"})"}) {
    CAPTURE(body);
    std::vector<InboundChange> changes(1);
    CHECK(ParseWebhook(*adapter, body, &changes).ok());
    CHECK(changes.empty());
  }
}

TEST_CASE("mock-crm: steps the mock cannot express are permanent") {
  auto adapter = NewAdapter();
  HttpRequest request;
  // An update needs the CRM id.
  CHECK(
      adapter->mapping().BuildRequest(LeadJob(SampleLead()), StepKind::kUpdate, &request).code() ==
      StatusCode::kPermanent);
  // Properties have no activities or deals.
  SyncJob property = PropertyJob(SampleProperty(), std::string("crm_property_1"));
  CHECK(adapter->mapping().BuildRequest(property, StepKind::kActivity, &request).code() ==
        StatusCode::kPermanent);
  CHECK(adapter->mapping().BuildRequest(property, StepKind::kDeal, &request).code() ==
        StatusCode::kPermanent);
  // A job without its entity.
  SyncJob empty = LeadJob(SampleLead());
  empty.lead.reset();
  CHECK(adapter->mapping().BuildRequest(empty, StepKind::kCreate, &request).code() ==
        StatusCode::kPermanent);
  // No activity for a status that has none.
  CHECK(adapter->mapping()
            .BuildRequest(StatusJob(SampleLead(), LeadStatus::kQualified, "crm_lead_1"),
                          StepKind::kActivity, &request)
            .code() == StatusCode::kPermanent);
  // A 2xx create answer without an id cannot be read.
  HttpResponse no_id;
  no_id.status = 201;
  no_id.body = "{}";
  StepResult result;
  CHECK(adapter->mapping()
            .ReadResponse(LeadJob(SampleLead()), StepKind::kCreate, no_id, &result)
            .code() == StatusCode::kPermanent);
}

TEST_CASE("mock-crm: concurrent creates get distinct ids and exact counts") {
  auto adapter = NewAdapter({{"faults.lead.create", "500, 500, 500"}});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::atomic<int> failures{0};
  std::mutex ids_mutex;
  std::set<std::string> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Lead lead = SampleLead(std::to_string(t) + "-" + std::to_string(i));
        HttpRequest request;
        if (!adapter->mapping().BuildRequest(LeadJob(lead), StepKind::kCreate, &request).ok()) {
          ++failures;
          continue;
        }
        HttpResponse response = adapter->transport().Send(request);
        if (response.status == 500) {
          ++failures;
          continue;
        }
        std::lock_guard<std::mutex> lock(ids_mutex);
        ids.insert(Str(ParseJson(response.body), "id"));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(failures.load() == 3);
  CHECK(ids.size() == kThreads * kPerThread - 3);
  CHECK(Leads(*adapter)->size() == ids.size());
  CHECK(RequestCount(*adapter, "lead.create") == kThreads * kPerThread);
}

TEST_CASE("mock-crm: state_file survives a reload of the plugin") {
  testing::TempDir dir;
  const std::string path = dir.File("crm.jsonl");
  std::string before;
  {
    auto adapter = NewAdapter({{"state_file", path}, {"faults.lead.update", "500, timeout"}});
    const std::string id = CreateLead(*adapter, SampleLead());
    CHECK(RunStep(*adapter, LeadJob(SampleLead()), StepKind::kCreate).response.status == 409);
    Lead odd = SampleLead("43");
    odd.notes = "line one\nline \"two\" \xC3\xBC {not: json}";
    CreateLead(*adapter, odd);
    SyncJob converted = StatusJob(SampleLead(), LeadStatus::kConverted, id);
    CHECK(RunStep(*adapter, converted, StepKind::kUpdate).response.status == 500);  // Not applied.
    CHECK(RunStep(*adapter, StatusJob(SampleLead(), LeadStatus::kContacted, id), StepKind::kUpdate)
              .response.error == TransportError::kTimeout);  // Applied, answer lost.
    CHECK(RunStep(*adapter, converted, StepKind::kUpdate).status.ok());
    CHECK(RunStep(*adapter, converted, StepKind::kDeal).status.ok());
    CHECK(RunStep(*adapter, StatusJob(SampleLead(), LeadStatus::kViewed, id), StepKind::kActivity)
              .status.ok());
    const std::string property_id =
        *RunStep(*adapter, PropertyJob(SampleProperty()), StepKind::kCreate).result.external_id;
    Property sold = SampleProperty();
    sold.status = PropertyStatus::kSold;
    CHECK(RunStep(*adapter, PropertyJob(sold, property_id), StepKind::kUpdate).status.ok());
    HttpRequest lookup;
    REQUIRE(adapter->mapping().BuildLookup(LeadJob(SampleLead()), &lookup).ok());
    CHECK(adapter->transport().Send(lookup).status == 200);
    WebhookRegistration registration{"https://h/api/crm/webhook", {"lead.updated"}, "s"};
    HttpRequest request;
    REQUIRE(adapter->mapping().BuildWebhookRegistration(registration, &request).ok());
    CHECK(adapter->transport().Send(request).status == 201);
    CHECK(SendRaw(*adapter, "GET", "/api/v1/contacts").status == 404);
    before = adapter->Dump();
  }
  JsonObject dump = ParseJson(before);
  REQUIRE(dump->getArray("leads")->size() == 2);
  CHECK(Num(dump->getArray("leads")->getObject(0), "createCount") == 2);
  CHECK(Num(dump->getArray("leads")->getObject(0), "updateCount") == 2);
  CHECK(dump->getArray("properties")->size() == 1);
  CHECK(dump->getArray("webhooks")->size() == 1);
  CHECK(dump->getObject("requests")->getValue<int64_t>("lead.update") == 3);

  // One compact JSON object per line, each ending in '\n'.
  const std::string journal = testing::ReadFile(path);
  REQUIRE_FALSE(journal.empty());
  CHECK(journal.back() == '\n');
  for (const std::string& line : Lines(journal)) {
    CAPTURE(line);
    CHECK(ParseJson(line)->has("op"));
    CHECK(line.find("\": ") == std::string::npos);  // Compact: no spaces after keys.
    CHECK(line.find(", \"") == std::string::npos);
  }

  // A second loader of the plugin file, as a restarted engine has.
  Poco::ClassLoader<Adapter> loader;
  loader.loadLibrary(kPluginPath, kManifest);
  {
    std::unique_ptr<Adapter> reloaded(loader.create(kClassName));
    REQUIRE(reloaded != nullptr);
    Status status = reloaded->Configure(PluginConfig({{"state_file", path}}));
    REQUIRE_MESSAGE(status.ok(), status.ToString());
    CHECK(reloaded->Dump() == before);
  }
  auto again = NewAdapter({{"state_file", path}});
  CHECK(again->Dump() == before);
  CHECK(testing::ReadFile(path) == journal);  // Replaying appends nothing.
}

TEST_CASE("mock-crm: ids continue after a reload and are never reused") {
  testing::TempDir dir;
  const std::map<std::string, std::string> settings = {{"state_file", dir.File("crm.jsonl")}};
  std::string lead_id;
  {
    auto first = NewAdapter(settings);
    lead_id = CreateLead(*first, SampleLead());
    CHECK(lead_id == "crm_lead_1");
    CHECK(AnsweredId(RunStep(*first, StatusJob(SampleLead(), LeadStatus::kViewed, lead_id),
                             StepKind::kActivity)
                         .response) == "crm_activity_1");
    CHECK(AnsweredId(SendRaw(*first, "POST", "/api/v1/webhooks", R"({"url": "https://a"})")) ==
          "crm_webhook_1");
    CHECK(AnsweredId(SendRaw(*first, "POST", "/api/v1/properties", "{}")) == "crm_property_1");
  }
  std::string after;
  {
    auto second = NewAdapter(settings);
    CHECK(CreateLead(*second, SampleLead("43")) == "crm_lead_2");
    CHECK(AnsweredId(RunStep(*second, StatusJob(SampleLead(), LeadStatus::kViewed, lead_id),
                             StepKind::kActivity)
                         .response) == "crm_activity_2");
    CHECK(AnsweredId(RunStep(*second, StatusJob(SampleLead(), LeadStatus::kConverted, lead_id),
                             StepKind::kDeal)
                         .response) == "crm_deal_1");
    CHECK(AnsweredId(SendRaw(*second, "POST", "/api/v1/webhooks", R"({"url": "https://b"})")) ==
          "crm_webhook_2");
    CHECK(AnsweredId(SendRaw(*second, "POST", "/api/v1/properties", "{}")) == "crm_property_2");
    // The reloaded record is found by id and by externalReference.
    StepRun duplicate = RunStep(*second, LeadJob(SampleLead()), StepKind::kCreate);
    CHECK(duplicate.response.status == 409);
    CHECK(Str(ParseJson(duplicate.response.body), "id") == lead_id);
    CHECK(RunStep(*second, StatusJob(SampleLead(), LeadStatus::kContacted, lead_id),
                  StepKind::kUpdate)
              .status.ok());
    after = second->Dump();
  }
  auto third = NewAdapter(settings);
  CHECK(third->Dump() == after);
  JsonArray leads = Leads(*third);
  REQUIRE(leads->size() == 2);
  CHECK(Num(leads->getObject(0), "createCount") == 2);
  CHECK(Num(leads->getObject(0), "updateCount") == 1);
  CHECK(leads->getObject(0)->getArray("activities")->size() == 2);
  CHECK(CreateLead(*third, SampleLead("44")) == "crm_lead_3");
}

TEST_CASE("mock-crm: a torn last line of state_file is ignored and truncated") {
  testing::TempDir dir;
  const std::string path = dir.File("crm.jsonl");
  std::string before;
  {
    auto adapter = NewAdapter({{"state_file", path}});
    CreateLead(*adapter, SampleLead("42"));
    CreateLead(*adapter, SampleLead("43"));
    before = adapter->Dump();
  }
  const std::string complete = testing::ReadFile(path);
  // Cut mid-write, whether or not the bytes so far happen to parse.
  for (const std::string& torn : {std::string(R"({"op":"create","kind":"lead","id":"crm_le)"),
                                  std::string(R"({"op":"count","route":"lead.create"})")}) {
    CAPTURE(torn);
    testing::WriteFile(path, complete + torn);
    auto adapter = NewAdapter({{"state_file", path}});
    CHECK(adapter->Dump() == before);
    CHECK(testing::ReadFile(path) == complete);
  }
  testing::WriteFile(path, complete + R"({"op":"cou)");
  std::string after;
  {
    auto adapter = NewAdapter({{"state_file", path}});
    CHECK(CreateLead(*adapter, SampleLead("44")) == "crm_lead_3");  // On a clean new line.
    after = adapter->Dump();
  }
  auto reloaded = NewAdapter({{"state_file", path}});
  CHECK(reloaded->Dump() == after);
  CHECK(Leads(*reloaded)->size() == 3);
}

TEST_CASE("mock-crm: a corrupt state_file line is refused naming the file and line") {
  testing::TempDir dir;
  const std::string path = dir.File("crm.jsonl");
  {
    auto adapter = NewAdapter({{"state_file", path}});
    CreateLead(*adapter, SampleLead("42"));
    CreateLead(*adapter, SampleLead("43"));
  }
  const std::vector<std::string> lines = Lines(testing::ReadFile(path));
  REQUIRE(lines.size() == 4);  // A count and a create per request.
  struct Row {
    size_t index;
    std::string line;
    std::string reason;
  };
  const std::vector<Row> rows = {
      {1, R"({"op":"create","kind":"lead",)", "line 2: not a JSON object"},
      {1, "", "line 2: not a JSON object"},
      {2, R"({"op":"explode"})", "line 3: unknown op 'explode'"},
      {2, R"({"op":"update","kind":"lead","id":"crm_lead_9","fields":{}})",
       "line 3: update of unknown lead crm_lead_9"},
      {1, R"({"op":"create","kind":"lead","id":"lead-1","fields":{}})", "line 2: bad lead id"},
      {3, "[1, 2]", "line 4: not a JSON object"},  // Complete, so corrupt rather than torn.
  };
  for (const Row& row : rows) {
    CAPTURE(row.line);
    std::vector<std::string> corrupt = lines;
    corrupt[row.index] = row.line;
    testing::WriteFile(path, JoinLines(corrupt));
    Status status = ConfigureStatus({{"state_file", path}});
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK_MESSAGE(
        status.message().find("state_file: '" + path + "' " + row.reason) != std::string::npos,
        status.message());
    CHECK(testing::ReadFile(path) == JoinLines(corrupt));  // Left as it was.
  }
}

TEST_CASE("mock-crm: an unwritable state_file is refused naming the key and path") {
  testing::TempDir dir;
  for (const std::string& path : {dir.File("no/such/folder/crm.jsonl"), dir.path()}) {
    CAPTURE(path);
    Status status = ConfigureStatus({{"state_file", path}});
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK_MESSAGE(status.message().find("state_file: cannot open '" + path + "' for appending") !=
                      std::string::npos,
                  status.message());
  }
}

TEST_CASE("mock-crm: state_file is read against config_dir and fixed by the first Configure") {
  testing::TempDir dir;
  std::unique_ptr<Adapter> adapter(Loader().create(kClassName));
  PluginConfig config({{"state_file", "crm.jsonl"}, {"config_dir", dir.path()}});
  REQUIRE(adapter->Configure(config).ok());
  CreateLead(*adapter, SampleLead());
  CHECK_FALSE(testing::ReadFile(dir.File("crm.jsonl")).empty());
  CHECK(adapter->Configure(config).ok());  // The same file again: nothing changes.
  CHECK(Leads(*adapter)->size() == 1);
  Status moved = adapter->Configure(PluginConfig({{"state_file", dir.File("other.jsonl")}}));
  CHECK(moved.code() == StatusCode::kInvalidConfig);
  CHECK(moved.message().find("state_file") != std::string::npos);

  auto plain = NewAdapter();
  CreateLead(*plain, SampleLead());
  Status late = plain->Configure(PluginConfig({{"state_file", dir.File("late.jsonl")}}));
  CHECK(late.code() == StatusCode::kInvalidConfig);
  CHECK(late.message().find("state_file") != std::string::npos);
}

TEST_CASE("mock-crm: emit_webhooks posts each lead and property change as the CRM holds it") {
  WebhookReceiver receiver;
  auto adapter = NewAdapter({{"emit_webhooks", "true"},
                             {"webhook_url", receiver.url()},
                             {"webhook_secret", "hook-secret"}});
  const std::string id = CreateLead(*adapter, SampleLead());
  Lead converted = SampleLead();
  converted.notes = "Property booked";
  SyncJob update = StatusJob(converted, LeadStatus::kConverted, id);
  CHECK(RunStep(*adapter, update, StepKind::kUpdate).status.ok());
  // Neither children, registrations, reads nor refused requests emit anything.
  CHECK(RunStep(*adapter, update, StepKind::kDeal).status.ok());
  CHECK(RunStep(*adapter, StatusJob(SampleLead(), LeadStatus::kViewed, id), StepKind::kActivity)
            .status.ok());
  CHECK(SendRaw(*adapter, "PUT", "/api/v1/leads/crm_lead_99", "{}").status == 404);
  CHECK(SendRaw(*adapter, "PUT", "/api/v1/leads/" + id, R"({"status":"bogus"})").status == 422);
  CHECK(SendRaw(*adapter, "GET", "/api/v1/leads/" + id).status == 200);
  CHECK(RunStep(*adapter, LeadJob(SampleLead()), StepKind::kCreate).response.status == 409);
  WebhookRegistration registration{receiver.url(), {"lead.updated"}, "s"};
  HttpRequest request;
  REQUIRE(adapter->mapping().BuildWebhookRegistration(registration, &request).ok());
  CHECK(adapter->transport().Send(request).status == 201);
  const std::string property_id =
      *RunStep(*adapter, PropertyJob(SampleProperty()), StepKind::kCreate).result.external_id;

  REQUIRE(testing::WaitUntil([&] { return receiver.received().size() >= 3; }));
  REQUIRE(testing::WaitUntil([&] { return WebhooksPending(*adapter) == 0; }));
  const std::vector<ReceivedWebhook> got = receiver.received();
  REQUIRE(got.size() == 3);
  CHECK(WebhooksSent(*adapter, "202") == 3);

  std::set<std::string> deliveries;
  for (const ReceivedWebhook& webhook : got) {
    CHECK(webhook.method == "POST");
    CHECK(webhook.path == "/api/crm/webhook");
    CHECK(webhook.secret == "hook-secret");
    CHECK(webhook.content_type == "application/json");
    CHECK_FALSE(webhook.delivery.empty());
    deliveries.insert(webhook.delivery);
  }
  CHECK(deliveries.size() == 3);

  // In the order the CRM applied the changes.
  CHECK(got[0].event == "lead.created");
  CHECK(got[1].event == "lead.updated");
  CHECK(got[2].event == "property.created");

  JsonObject created = ParseJson(got[0].body);
  CHECK(Str(created, "event") == "lead.created");
  CHECK(Str(created, "entityId") == id);
  JsonObject data = created->getObject("data");
  REQUIRE(data);
  CHECK(Str(data, "status") == "new");
  CHECK(Str(data, "name") == "Asha Rao");
  CHECK(Str(data, "email") == "asha@example.com");
  CHECK(Str(data, "phone") == "+919800000000");
  CHECK(Str(data, "assignedAgent") == "agent-3");
  CHECK(Str(data, "notes") == "Wants 2BHK");
  CHECK(Str(data, "externalReference") == "lead:42");
  CHECK(Num(data->getObject("budgetRange"), "max") == 7500000);

  JsonObject updated = ParseJson(got[1].body);
  CHECK(Str(updated, "event") == "lead.updated");
  CHECK(Str(updated, "entityId") == id);
  data = updated->getObject("data");
  REQUIRE(data);
  CHECK(Str(data, "status") == "won");
  CHECK(Str(data, "notes") == "Property booked");
  CHECK(Str(data, "name") == "Asha Rao");  // The whole record, not only what changed.
  CHECK(Str(data, "assignedAgent") == "agent-3");

  JsonObject property = ParseJson(got[2].body);
  CHECK(Str(property, "entityId") == property_id);
  CHECK(Str(property->getObject("data"), "status") == "active");
  CHECK(Str(property->getObject("data"), "title") == "2BHK in Baner");

  // The engine's own parser reads the echo back in platform terms.
  std::vector<InboundChange> changes;
  REQUIRE(ParseWebhook(*adapter, got[1].body, &changes).ok());
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].external_id == id);
  JsonObject fields = ParseJson(changes[0].fields_json);
  CHECK(Str(fields, "status") == "CONVERTED");
  CHECK(Str(fields, "notes") == "Property booked");
}

TEST_CASE("mock-crm: a create that timed out after applying still emits its webhook") {
  WebhookReceiver receiver;
  auto adapter = NewAdapter({{"emit_webhooks", "yes"},
                             {"webhook_url", receiver.url()},
                             {"faults.lead.create", "timeout, drop, 500"}});
  CHECK(RunStep(*adapter, LeadJob(SampleLead("1")), StepKind::kCreate).response.error ==
        TransportError::kTimeout);  // Applied, answer lost: the CRM did change.
  CHECK(RunStep(*adapter, LeadJob(SampleLead("2")), StepKind::kCreate).response.error ==
        TransportError::kTimeout);  // Dropped: nothing changed.
  CHECK(RunStep(*adapter, LeadJob(SampleLead("3")), StepKind::kCreate).response.status == 500);
  CreateLead(*adapter, SampleLead("4"));
  REQUIRE(testing::WaitUntil([&] {
    return receiver.received().size() >= 2 && WebhooksPending(*adapter) == 0;
  }));
  const std::vector<ReceivedWebhook> got = receiver.received();
  REQUIRE(got.size() == 2);
  CHECK(Str(ParseJson(got[0].body)->getObject("data"), "externalReference") == "lead:1");
  CHECK(Str(ParseJson(got[1].body)->getObject("data"), "externalReference") == "lead:4");
}

TEST_CASE("mock-crm: no webhooks unless emit_webhooks is true and webhook_url is set") {
  WebhookReceiver receiver;
  for (const auto& settings : std::vector<std::map<std::string, std::string>>{
           {{"webhook_url", receiver.url()}, {"webhook_secret", "s"}},
           {{"emit_webhooks", "false"}, {"webhook_url", receiver.url()}},
           {{"emit_webhooks", ""}, {"webhook_url", receiver.url()}},
           {{"emit_webhooks", "true"}}}) {
    auto adapter = NewAdapter(settings);
    const std::string id = CreateLead(*adapter, SampleLead());
    CHECK(RunStep(*adapter, StatusJob(SampleLead(), LeadStatus::kContacted, id), StepKind::kUpdate)
              .status.ok());
    CHECK(RunStep(*adapter, PropertyJob(SampleProperty()), StepKind::kCreate).status.ok());
    // The decision is made inside Send(): nothing was queued, nothing is in flight.
    JsonObject dump = Dump(*adapter);
    CHECK(dump->getObject("webhooksSent")->size() == 0);
    CHECK(dump->getValue<int64_t>("webhooksPending") == 0);
  }
  CHECK(receiver.arrived() == 0);
}

TEST_CASE("mock-crm: bad emission settings are refused naming the key") {
  Status status = ConfigureStatus({{"emit_webhooks", "maybe"}});
  CHECK(status.code() == StatusCode::kInvalidConfig);
  CHECK(status.message().find("emit_webhooks") != std::string::npos);
  CHECK(status.message().find("maybe") != std::string::npos);
  status =
      ConfigureStatus({{"emit_webhooks", "true"}, {"webhook_url", "https://h/api/crm/webhook"}});
  CHECK(status.code() == StatusCode::kInvalidConfig);
  CHECK(status.message().find("webhook_url") != std::string::npos);
  status = ConfigureStatus({{"emit_webhooks", "true"}, {"webhook_url", "not a url"}});
  CHECK(status.code() == StatusCode::kInvalidConfig);
  // An https URL is fine while emission is off (the engine may use it to register).
  CHECK(ConfigureStatus({{"webhook_url", "https://h/api/crm/webhook"}}).ok());
}

TEST_CASE("mock-crm: failed webhooks are counted by answer and not retried") {
  WebhookReceiver failing(500);
  auto adapter = NewAdapter({{"emit_webhooks", "true"}, {"webhook_url", failing.url()}});
  CreateLead(*adapter, SampleLead());
  REQUIRE(testing::WaitUntil([&] { return WebhooksSent(*adapter, "500") == 1; }));
  CHECK(WebhooksPending(*adapter) == 0);

  // Nobody listening: no answer, counted under "0".
  const int closed_port = testing::FreePort();
  auto unreachable = NewAdapter(
      {{"emit_webhooks", "true"},
       {"webhook_url", "http://127.0.0.1:" + std::to_string(closed_port) + "/api/crm/webhook"}});
  CreateLead(*unreachable, SampleLead("1"));
  CreateLead(*unreachable, SampleLead("2"));
  REQUIRE(testing::WaitUntil([&] { return WebhooksSent(*unreachable, "0") == 2; }));
  CHECK(WebhooksPending(*unreachable) == 0);
  CHECK(Leads(*unreachable)->size() == 2);  // The CRM's changes stand all the same.

  // Not retried: one more change makes exactly one more attempt.
  CreateLead(*adapter, SampleLead("7"));
  REQUIRE(testing::WaitUntil([&] { return WebhooksSent(*adapter, "500") == 2; }));
  CHECK(failing.received().size() == 2);
}

TEST_CASE("mock-crm: a slow webhook receiver never blocks Send") {
  WebhookReceiver receiver;
  receiver.Hold();
  auto adapter = NewAdapter({{"emit_webhooks", "true"}, {"webhook_url", receiver.url()}});
  const std::string id = CreateLead(*adapter, SampleLead());
  REQUIRE(testing::WaitUntil([&] { return receiver.arrived() == 1; }));
  // The first webhook is stuck in the receiver; the CRM keeps answering.
  for (LeadStatus status : {LeadStatus::kContacted, LeadStatus::kQualified}) {
    CHECK(RunStep(*adapter, StatusJob(SampleLead(), status, id), StepKind::kUpdate).status.ok());
  }
  CHECK(WebhooksPending(*adapter) == 3);
  CHECK(receiver.received().empty());
  receiver.Release();
  REQUIRE(testing::WaitUntil([&] { return WebhooksSent(*adapter, "202") == 3; }));
  const std::vector<ReceivedWebhook> got = receiver.received();
  REQUIRE(got.size() == 3);
  CHECK(Str(ParseJson(got[2].body)->getObject("data"), "status") == "qualified");
}

TEST_CASE("mock-crm: emission leaves state_file alone and a replay emits nothing") {
  testing::TempDir dir;
  const std::string path = dir.File("crm.jsonl");
  WebhookReceiver receiver;
  const std::map<std::string, std::string> settings = {
      {"state_file", path}, {"emit_webhooks", "true"}, {"webhook_url", receiver.url()}};
  std::string before;
  {
    auto adapter = NewAdapter(settings);
    const std::string id = CreateLead(*adapter, SampleLead());
    CHECK(RunStep(*adapter, StatusJob(SampleLead(), LeadStatus::kContacted, id), StepKind::kUpdate)
              .status.ok());
    REQUIRE(testing::WaitUntil([&] { return WebhooksSent(*adapter, "202") == 2; }));
    before = adapter->Dump();
  }
  const std::string journal = testing::ReadFile(path);
  for (const std::string& line : Lines(journal)) {
    CAPTURE(line);
    const std::string op = Str(ParseJson(line), "op");
    CHECK((op == "count" || op == "create" || op == "update"));
  }
  auto reloaded = NewAdapter(settings);
  JsonObject dump = Dump(*reloaded);
  CHECK(dump->getArray("leads")->size() == 1);
  CHECK(dump->getObject("webhooksSent")->size() == 0);  // Emission is not state.
  CHECK(dump->getValue<int64_t>("webhooksPending") == 0);
  CHECK(testing::ReadFile(path) == journal);
  CHECK(receiver.received().size() == 2);
  CHECK(ParseJson(before)->getObject("webhooksSent")->getValue<int64_t>("202") == 2);
}

TEST_SUITE_END();

// --- Reading records back (crmsync/records.h) ---------------------------------

RecordReader& Reader(Adapter& adapter) {
  RecordReader* reader = AsRecordReader(&adapter);
  REQUIRE(reader != nullptr);
  return *reader;
}

RecordListPage ListPage(Adapter& adapter, EntityKind kind, const std::string& cursor) {
  RecordListRequest request;
  request.entity_kind = kind;
  request.cursor = cursor;
  RecordListPage page;
  const Status status = Reader(adapter).ListRecords(request, &page);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return page;
}

TEST_CASE("mock-crm: records are listed 100 a page in creation order, in platform terms") {
  auto adapter = NewAdapter();
  std::vector<std::string> ids;
  for (int i = 1; i <= 205; ++i) ids.push_back(CreateLead(*adapter, SampleLead(std::to_string(i))));
  // An agent's lead, made in the CRM by hand: no reference.
  REQUIRE(SendRaw(*adapter, "POST", "/api/v1/leads", R"({"name": "Walk-in", "status": "won"})")
              .status == 201);
  std::vector<CrmRecord> listed;
  std::string cursor;
  int pages = 0;
  for (bool more = true; more; ++pages) {
    REQUIRE(pages < 5);
    const RecordListPage page = ListPage(*adapter, EntityKind::kLead, cursor);
    CHECK(page.records.size() == (pages < 2 ? 100u : 6u));
    listed.insert(listed.end(), page.records.begin(), page.records.end());
    more = page.more;
    cursor = page.next_cursor;
  }
  CHECK(pages == 3);
  CHECK(RequestCount(*adapter, "lead.list") == 3);
  REQUIRE(listed.size() == 206);
  for (size_t i = 0; i < ids.size(); ++i) {
    CHECK(listed[i].external_id == ids[i]);
    CHECK(listed[i].external_reference == "lead:" + std::to_string(i + 1));
  }
  JsonObject fields = ParseJson(listed[0].fields_json);
  CHECK(Str(fields, "name") == "Asha Rao");
  CHECK(Str(fields, "email") == "asha@example.com");
  CHECK(Str(fields, "phone") == "+919800000000");
  CHECK(Str(fields, "source") == "website");
  CHECK(Str(fields, "status") == "NEW");
  CHECK(Str(fields, "propertyId") == "p-7");
  CHECK(Str(fields, "assignedToId") == "agent-3");
  CHECK(Num(fields, "budgetMin") == 5000000);
  CHECK(Num(fields, "budgetMax") == 7500000);
  CHECK(fields->getArray("preferredLocation")->size() == 2);
  CHECK(Str(fields, "notes") == "Wants 2BHK");
  for (const char* empty : {"utmSource", "lostReason", "createdAt"}) CHECK(fields->isNull(empty));
  const CrmRecord& walk_in = listed.back();
  CHECK(walk_in.external_reference.empty());
  fields = ParseJson(walk_in.fields_json);
  CHECK(Str(fields, "status") == "CONVERTED");  // the CRM's "won"
  CHECK(fields->isNull("email"));
  CHECK(fields->isNull("preferredLocation"));
  // The list endpoint itself: a bad limit or cursor is refused; with
  // externalReference the request stays a lookup.
  for (const char* bad : {"limit=0", "limit=1001", "limit=x", "cursor=300", "cursor=-1"}) {
    CAPTURE(bad);
    CHECK(SendRaw(*adapter, "GET", std::string("/api/v1/leads?") + bad).status == 400);
  }
  const JsonObject lookup =
      ParseJson(SendRaw(*adapter, "GET", "/api/v1/leads?externalReference=lead:3&limit=1").body);
  REQUIRE(lookup->getArray("results")->size() == 1);
  CHECK(Str(lookup->getArray("results")->getObject(0), "id") == ids[2]);
  CHECK(RequestCount(*adapter, "lead.lookup") == 1);
}

TEST_CASE("mock-crm: a record is read by id, an unknown one is not found, faults keep their class") {
  auto adapter = NewAdapter({{"faults.lead.read", "500, ok, 429:retry-after=3"},
                             {"faults.property.list", "404, 503"}});
  const std::string lead_id = CreateLead(*adapter, SampleLead("7"));
  RunStep(*adapter, PropertyJob(SampleProperty()), StepKind::kCreate);
  RecordReader& reader = Reader(*adapter);
  CrmRecord record;
  CHECK(reader.ReadRecord(EntityKind::kLead, lead_id, &record).code() == StatusCode::kRetryable);
  Status status = reader.ReadRecord(EntityKind::kLead, lead_id, &record);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  CHECK(record.external_id == lead_id);
  CHECK(record.external_reference == "lead:7");
  CHECK(record.fields_json == ListPage(*adapter, EntityKind::kLead, "").records[0].fields_json);
  CHECK(reader.ReadRecord(EntityKind::kLead, lead_id, &record).code() ==
        StatusCode::kRateLimited);
  status = reader.ReadRecord(EntityKind::kLead, "crm_lead_999", &record);
  CHECK(status.code() == StatusCode::kNotFound);
  CHECK_MESSAGE(status.message().find("crm_lead_999") != std::string::npos, status.ToString());

  // Properties: a 404 to the list is no "cannot list"; then the listing.
  RecordListRequest request;
  request.entity_kind = EntityKind::kProperty;
  RecordListPage page;
  CHECK(reader.ListRecords(request, &page).code() == StatusCode::kPermanent);
  CHECK(reader.ListRecords(request, &page).code() == StatusCode::kRetryable);
  page = ListPage(*adapter, EntityKind::kProperty, "");
  REQUIRE(page.records.size() == 1);
  CHECK_FALSE(page.more);
  CHECK(page.records[0].external_reference == "property:p-7");
  const JsonObject fields = ParseJson(page.records[0].fields_json);
  CHECK(Str(fields, "title") == "2BHK in Baner");
  CHECK(Num(fields, "price") == 6800000);
  CHECK(Str(fields, "city") == "Pune");
  CHECK(Str(fields, "locality") == "Baner");
  CHECK(Str(fields, "status") == "ACTIVE");
  CHECK(Str(fields, "ownerId") == "owner-1");
  CHECK(Str(fields, "dealerId") == "dealer-9");
  status = reader.ReadRecord(EntityKind::kProperty, page.records[0].external_id, &record);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  CHECK(record.fields_json == page.records[0].fields_json);
  // A cursor the CRM never gave.
  request.cursor = "not-a-cursor";
  CHECK(reader.ListRecords(request, &page).code() == StatusCode::kPermanent);
}

TEST_CASE("mock-crm: records_page_size pages the list, and its cursor outlives a reload") {
  testing::TempDir dir;
  const std::map<std::string, std::string> settings = {{"state_file", dir.File("crm.jsonl")},
                                                       {"records_page_size", "2"}};
  std::string cursor;
  {
    auto adapter = NewAdapter(settings);
    for (int i = 1; i <= 5; ++i) CreateLead(*adapter, SampleLead(std::to_string(i)));
    const RecordListPage first = ListPage(*adapter, EntityKind::kLead, "");
    REQUIRE(first.records.size() == 2);
    REQUIRE(first.more);
    cursor = first.next_cursor;
  }
  // A restarted engine hands the kept cursor to a reloaded CRM.
  auto adapter = NewAdapter(settings);
  RecordListPage page = ListPage(*adapter, EntityKind::kLead, cursor);
  REQUIRE(page.records.size() == 2);
  CHECK(page.records[0].external_reference == "lead:3");
  CHECK(page.records[1].external_reference == "lead:4");
  REQUIRE(page.more);
  page = ListPage(*adapter, EntityKind::kLead, page.next_cursor);
  REQUIRE(page.records.size() == 1);
  CHECK(page.records[0].external_reference == "lead:5");
  CHECK_FALSE(page.more);
  for (const char* bad : {"0", "1001", "ten", "-3"}) {
    CAPTURE(bad);
    const Status status = ConfigureStatus({{"records_page_size", bad}});
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK_MESSAGE(status.message().find("records_page_size: must be a whole number from 1 to "
                                        "1000, got '" + std::string(bad) + "'") !=
                      std::string::npos,
                  status.ToString());
  }
}

}  // namespace
}  // namespace crmsync
