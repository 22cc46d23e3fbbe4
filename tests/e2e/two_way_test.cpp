// Two-way sync end to end (docs/design.md §5, issue 5): the real crmsync binary,
// CRM webhooks coming back to it, and no sync loops.
//
// With mock-crm (emit_webhooks on) the CRM echoes every change the engine makes
// back to POST /api/v1/crm/webhook, as a real CRM does; the test itself plays the
// CRM for a change an agent makes there. With generic-rest-crm the CRM is the
// reference-crm binary, which registers the engine's webhook and sends its own.
// The "related:" cases (issue 17) check that a lead reaches mock-crm with the
// CRM ids of its property and its agent, in either order of the events, and
// that CRM agents come back as dealers through the same agent directory.
// Every wait is a WaitUntil() with a deadline; nothing sleeps.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "test_support.h"

namespace t = crmsync::testing;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

constexpr char kSecret[] = "crm-shared-secret";
// whsec_ + base64("two-way-standard-key"): a Standard Webhooks secret beside it.
constexpr char kStandardKey[] = "two-way-standard-key";
constexpr char kStandardSecret[] = "whsec_dHdvLXdheS1zdGFuZGFyZC1rZXk=";

Object::Ptr Parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

std::string Stringify(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(value, out);
  return out.str();
}

using t::Base64;
using t::HmacSha256;

// A lead envelope with the platform's whole lead.
std::string LeadEvent(const std::string& event_id, const std::string& type, const std::string& id,
                      const std::string& status) {
  return R"({"eventId":")" + event_id + R"(","type":")" + type +
         R"(","occurredAt":"2026-11-23T10:15:00Z","data":{"id":")" + id +
         R"(","name":"Asha Rao","email":"asha@example.com","phone":"+919800000000",)"
         R"("source":"website","status":")" + status +
         R"(","budgetMin":5000000,"budgetMax":7500000,"preferredLocation":["Baner","Wakad"],)"
         R"("notes":"Wants 3BHK"}})";
}

// A webhook as the CRM would send it after a change of `crm_id`.
std::string CrmWebhook(const std::string& event, const std::string& crm_id,
                       const std::string& data_json) {
  return R"({"event":")" + event + R"(","entityId":")" + crm_id + R"(","data":)" + data_json + "}";
}

// The engine as a child process, its store in its own folder (kept across
// Restart()).
struct Engine {
  t::TempDir dir;
  int port = t::FreePort();
  // Tokens of this engine only: another test's engine that took the same port
  // answers 401, not a confusing 200.
  std::string token = "2w-" + std::to_string(getpid()) + "-" + std::to_string(port);
  std::string intake = "Bearer intake-" + token;
  std::string admin = "Bearer admin-" + token;
  std::vector<std::string> extra;
  std::map<std::string, std::string> env;
  std::unique_ptr<t::ChildProcess> process;

  std::string WebhookUrl() const {
    return "http://127.0.0.1:" + std::to_string(port) + "/api/v1/crm/webhook";
  }

  void Start() {
    std::vector<std::string> args = {
        "serve",
        "--set", "server.port=" + std::to_string(port),
        "--set", "store.path=" + dir.File("crmsync.db"),
        "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR,
        "--set", "intake.token=intake-" + token,
        "--set", "admin.token=admin-" + token,
        "--set", "crm.webhook.url=" + WebhookUrl(),
        "--set", std::string("crm.webhook.secret=") + kSecret,
        "--set", "log.level=warning"};
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<t::ChildProcess>(CRMSYNC_BINARY, args, env);
    REQUIRE_MESSAGE(t::WaitUntil([&] {
                      return t::HttpCall(port, "GET", "/api/v1/admin/status", "",
                                         {{"Authorization", admin}})
                                 .status == 200;
                    }),
                    process->Stderr());
  }

  void Stop() {
    process->Signal(SIGTERM);
    CHECK(process->WaitExit(std::chrono::seconds(20)));
    CHECK(process->exit_code() == 0);
  }

  t::HttpResult PostEvent(const std::string& body) {
    return t::HttpCall(port, "POST", "/api/v1/events", body, {{"Authorization", intake}});
  }

  // POSTs a webhook with the shared secret (X-CRM-Secret), as the CRM does.
  t::HttpResult PostWebhook(const std::string& event, const std::string& body,
                            const std::string& secret = kSecret) {
    return t::HttpCall(port, "POST", "/api/v1/crm/webhook", body,
                       {{"X-CRM-Secret", secret}, {"X-CRM-Event", event},
                        {"Content-Type", "application/json"}});
  }

  // POSTs a webhook signed by the Standard Webhooks scheme.
  t::HttpResult PostStandardWebhook(const std::string& id, int64_t timestamp_s,
                                    const std::string& body) {
    const std::string timestamp = std::to_string(timestamp_s);
    const std::string signature =
        "v1," + Base64(HmacSha256(kStandardKey, id + "." + timestamp + "." + body));
    return t::HttpCall(port, "POST", "/api/v1/crm/webhook", body,
                       {{"webhook-id", id}, {"webhook-timestamp", timestamp},
                        {"webhook-signature", signature}, {"Content-Type", "application/json"}});
  }

  Object::Ptr Admin(const std::string& path) {
    t::HttpResult r = t::HttpCall(port, "GET", path, "", {{"Authorization", admin}});
    REQUIRE_MESSAGE(r.status == 200, path << ": " << r.status << " " << r.body);
    return Parse(r.body);
  }

  // The mock CRM's contents (mock-crm only).
  Object::Ptr Crm() { return Admin("/api/v1/admin/crm/dump"); }
  Object::Ptr Queue() { return Admin("/api/v1/admin/status")->getObject("queue"); }
  // {"entity","mirror","jobs"} of one entity.
  Object::Ptr Entity(const std::string& entity) {
    return Admin("/api/v1/admin/jobs?entity=" + entity);
  }
  std::string Registration() {
    return Admin("/api/v1/admin/status")
        ->getObject("runtime")
        ->getObject("inbound")
        ->getValue<std::string>("webhookRegistration");
  }

  Array::Ptr Changes(int64_t after = 0) {
    t::HttpResult r = t::HttpCall(port, "GET", "/api/v1/changes?after=" + std::to_string(after), "",
                                  {{"Authorization", intake}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return Parse(r.body)->getArray("changes");
  }

  // The value of one series in /metrics (e.g. name{label="x"}); 0 when absent.
  double Metric(const std::string& series) {
    t::HttpResult r = t::HttpCall(port, "GET", "/metrics");
    REQUIRE(r.status == 200);
    const std::string key = "\n" + series + " ";
    const size_t at = ("\n" + r.body).find(key);
    if (at == std::string::npos) return 0;
    return std::stod(r.body.substr(at + key.size() - 1));
  }
  double Deliveries(const std::string& result) {
    return Metric("crmsync_webhook_deliveries_total{result=\"" + result + "\"}");
  }
  double InboundResults(const std::string& result) {
    return Metric("crmsync_inbound_changes_total{result=\"" + result + "\"}");
  }
  // CRM changes processed, whatever their result.
  double InboundApplied() {
    double total = 0;
    for (const char* result : {"applied", "created", "no_change", "stale", "invalid"}) {
      total += InboundResults(result);
    }
    return total;
  }

  // True when every job of `entity` is done and there are `count` of them.
  bool JobsDone(const std::string& entity, size_t count) {
    Array::Ptr jobs = Entity(entity)->getArray("jobs");
    if (jobs->size() != count) return false;
    for (unsigned i = 0; i < jobs->size(); ++i) {
      if (jobs->getObject(i)->getValue<std::string>("state") != "done") return false;
    }
    return true;
  }
};

int64_t Count(const Object::Ptr& counts, const std::string& key) {
  return counts && counts->has(key) ? counts->getValue<int64_t>(key) : 0;
}

// The mock CRM's request count on `route`.
int64_t Requests(Engine& engine, const std::string& route) {
  return Count(engine.Crm()->getObject("requests"), route);
}

// Mock CRM webhooks answered 202 by the engine.
int64_t EchoesAccepted(Engine& engine) {
  return Count(engine.Crm()->getObject("webhooksSent"), "202");
}

// Starts an engine on mock-crm with emission on, waits for its webhook
// registration, then creates lead `id` at `status` and waits until the job is
// done and the CRM's echo has been applied as "no change".
void StartWithLead(Engine& engine, const std::string& id, const std::string& status) {
  engine.extra = {"--set", "crm.plugin=mock-crm", "--set", "crm.mock-crm.emit_webhooks=true"};
  engine.Start();
  REQUIRE(t::WaitUntil([&] { return engine.Registration() == "registered"; }));
  CHECK(Requests(engine, "webhook.register") == 1);
  REQUIRE(engine.PostEvent(LeadEvent("c-" + id, "lead.created", id, status)).status == 202);
  REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:" + id, 1); }));
  REQUIRE(t::WaitUntil([&] {
    return EchoesAccepted(engine) == 1 && engine.InboundApplied() == 1 &&
           engine.Queue()->getValue<int64_t>("deliveriesPending") == 0;
  }));
  CHECK(engine.InboundResults("no_change") == 1);  // Not a second lead the CRM "knew first".
  CHECK(engine.InboundResults("created") == 0);
}

// tools/reference-crm as a child process, answering once it is up.
struct ReferenceCrm {
  ReferenceCrm(const std::string& key, const std::string& secret)
      : key(key),
        secret(secret),
        process(CRMSYNC_REFERENCE_CRM,
                {"--port", std::to_string(port), "--api-key", key, "--api-secret", secret}) {
    REQUIRE(t::WaitUntil([&] { return t::HttpCall(port, "GET", "/_state").status == 200; }));
  }
  // The CRM's whole state (leads, requests, webhooks, ...).
  Object::Ptr State() const { return Parse(t::HttpCall(port, "GET", "/_state").body); }
  // Points `engine` at this CRM through generic-rest-crm and the reference mapping.
  void Serve(Engine& engine) const {
    engine.extra = {
        "--set", "crm.plugin=generic-rest-crm",
        "--set", "crm.mapping=" CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json",
        "--set", "crm.api.url=http://127.0.0.1:" + std::to_string(port)};
    engine.env = {{"CRM_API_KEY", key}, {"CRM_API_SECRET", secret}};
  }

  int port = t::FreePort();
  std::string key;
  std::string secret;
  t::ChildProcess process;
};

// The lead of issue 19: every field a platform sends on create.
std::string FullLeadCreated(const std::string& id) {
  return R"({"eventId":"full-)" + id +
         R"(","type":"lead.created",)"
         R"("occurredAt":"2026-11-23T10:15:00Z","data":{"id":")" +
         id +
         R"(","name":"Priya Sharma","email":"priya@example.com","phone":"+919876543210",)"
         R"("status":"NEW","budgetMin":5000000,"budgetMax":8000000,)"
         R"("preferredLocation":["Baner","Wakad"],"utmSource":"google","notes":"Wants 3BHK"}})";
}

// A status change as platforms send it: the id and the status, nothing else.
std::string StatusOnly(const std::string& event_id, const std::string& id,
                       const std::string& status) {
  return R"({"eventId":")" + event_id +
         R"(","type":"lead.status_changed",)"
         R"("occurredAt":"2026-11-23T11:00:00Z","data":{"id":")" +
         id + R"(","status":")" + status + R"("}})";
}

// The mirror still holds every field of FullLeadCreated, with `status`.
void CheckMirrorKeptEverything(Engine& engine, const std::string& id, const std::string& status) {
  Object::Ptr mirror = engine.Entity("lead:" + id)->getObject("mirror");
  INFO(Stringify(mirror));
  CHECK(mirror->getValue<std::string>("status") == status);
  CHECK(mirror->getValue<std::string>("name") == "Priya Sharma");
  CHECK(mirror->getValue<std::string>("email") == "priya@example.com");
  CHECK(mirror->getValue<std::string>("phone") == "+919876543210");
  CHECK(mirror->getValue<int64_t>("budgetMin") == 5000000);
  CHECK(mirror->getValue<int64_t>("budgetMax") == 8000000);
  REQUIRE(mirror->getArray("preferredLocation"));
  CHECK(mirror->getArray("preferredLocation")->size() == 2);
  CHECK(mirror->getValue<std::string>("utmSource") == "google");
  CHECK(mirror->getValue<std::string>("notes") == "Wants 3BHK");
}

// The CRM's lead (mock-crm's and the reference CRM's shapes agree here) still
// holds what the status change did not carry.
void CheckCrmKeptEverything(const Object::Ptr& lead, const std::string& crm_status) {
  INFO(Stringify(lead));
  CHECK(lead->getValue<std::string>("status") == crm_status);
  CHECK(lead->getValue<std::string>("name") == "Priya Sharma");
  CHECK(lead->getValue<std::string>("phone") == "+919876543210");
  CHECK(lead->getValue<std::string>("notes") == "Wants 3BHK");
  CHECK(lead->getObject("budgetRange")->getValue<int64_t>("min") == 5000000);
  CHECK(lead->getObject("budgetRange")->getValue<int64_t>("max") == 8000000);
  REQUIRE(lead->getArray("preferredAreas"));
  REQUIRE(lead->getArray("preferredAreas")->size() == 2);
  CHECK(lead->getArray("preferredAreas")->getElement<std::string>(0) == "Baner");
  CHECK(lead->getArray("preferredAreas")->getElement<std::string>(1) == "Wakad");
}

// --- related records and agents (issue 17, docs/design.md §4) ------------------

// mock-crm's users: u-asha matches dealer-7 by e-mail (inbound.agent_emails),
// u-ravi holds dealer-9's platform id, u-gone is deactivated.
constexpr char kUsers[] =
    R"([{"id":"u-asha","email":"Asha@Acme.example"},)"
    R"({"id":"u-ravi","email":"ravi@acme.example","platformId":"dealer-9"},)"
    R"({"id":"u-gone","platformId":"dealer-5","active":false}])";

std::string Str(const Object::Ptr& object, const std::string& key) {
  return object && object->has(key) && !object->isNull(key) ? object->getValue<std::string>(key)
                                                            : "";
}

std::string PropertyCreated(const std::string& event_id, const std::string& id) {
  return R"({"eventId":")" + event_id +
         R"(","type":"property.created","occurredAt":"2026-11-23T10:15:00Z","data":{"id":")" +
         id + R"(","title":"2BHK in Baner","price":6800000,"city":"Pune","locality":"Baner",)"
              R"("status":"ACTIVE","ownerId":"owner-1","dealerId":"dealer-9"}})";
}

std::string LeadOfProperty(const std::string& event_id, const std::string& id,
                           const std::string& property) {
  return R"({"eventId":")" + event_id +
         R"(","type":"lead.created","occurredAt":"2026-11-23T10:15:00Z","data":{"id":")" + id +
         R"(","name":"Asha Rao","email":"lead@example.com","status":"NEW","source":"website",)"
         R"("utmSource":"google-ads","createdAt":"2026-11-23T10:00:00Z","propertyId":")" +
         property + R"(","assignedToId":"dealer-7"}})";
}

// Starts `engine` on mock-crm with its users and the dealers' e-mails.
void StartWithUsers(Engine& engine) {
  engine.extra = {"--set", "crm.plugin=mock-crm",
                  "--set", std::string("crm.mock-crm.users=") + kUsers,
                  "--set", "inbound.agent_emails=dealer-7=asha@acme.example"};
  engine.Start();
}

// The mock CRM's record with external reference `reference`; null when absent.
Object::Ptr CrmRecord(Engine& engine, const std::string& collection,
                      const std::string& reference) {
  Array::Ptr records = engine.Crm()->getArray(collection);
  for (unsigned i = 0; i < records->size(); ++i) {
    if (Str(records->getObject(i), "externalReference") == reference) {
      return records->getObject(i);
    }
  }
  return nullptr;
}

// The CRM's lead `id` carries every strategy field and the CRM ids of its
// property (p-7) and its agent; the property its own.
void CheckLeadAtCrm(Engine& engine, const std::string& id) {
  Object::Ptr property = CrmRecord(engine, "properties", "property:p-7");
  REQUIRE(property);
  CHECK(Str(property, "assignedAgent") == "u-ravi");
  CHECK(Str(property, "owner") == "owner-1");
  CHECK(Str(property, "internalId") == "p-7");
  CHECK(Str(property->getObject("location"), "city") == "Pune");
  CHECK(Str(property->getObject("location"), "locality") == "Baner");
  Object::Ptr lead = CrmRecord(engine, "leads", "lead:" + id);
  REQUIRE(lead);
  CHECK(Str(lead, "relatedProperty") == Str(property, "id"));
  CHECK(Str(lead, "propertyId") == "p-7");
  CHECK(Str(lead, "assignedAgent") == "u-asha");
  CHECK(Str(lead, "utmSource") == "google-ads");
  CHECK(Str(lead, "createdDate") == "2026-11-23T10:00:00Z");
  CHECK(lead->getValue<int>("createCount") == 1);
}

}  // namespace

TEST_SUITE("e2e.two_way") {
  TEST_CASE("mock-crm: a status change with only id and status erases nothing") {
    Engine engine;
    engine.extra = {"--set", "crm.plugin=mock-crm"};
    engine.Start();
    REQUIRE(engine.PostEvent(FullLeadCreated("42")).status == 202);
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:42", 1); }));
    REQUIRE(engine.PostEvent(StatusOnly("st-42", "42", "CONTACTED")).status == 202);
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:42", 2); }));
    CHECK(Requests(engine, "lead.create") == 1);
    CHECK(Requests(engine, "lead.update") == 1);
    CheckMirrorKeptEverything(engine, "42", "CONTACTED");
    Array::Ptr leads = engine.Crm()->getArray("leads");
    REQUIRE(leads->size() == 1);
    CheckCrmKeptEverything(leads->getObject(0), "contacted");

    // The README's Try it: CONVERTED alone, an update and a deal; the areas stay.
    REQUIRE(engine.PostEvent(StatusOnly("cv-42", "42", "CONVERTED")).status == 202);
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:42", 3); }));
    CheckMirrorKeptEverything(engine, "42", "CONVERTED");
    Object::Ptr won = engine.Crm()->getArray("leads")->getObject(0);
    CheckCrmKeptEverything(won, "won");
    REQUIRE(won->getArray("deals"));
    CHECK(won->getArray("deals")->size() == 1);
    engine.Stop();
  }

  TEST_CASE("generic-rest-crm: a status change with only id and status erases nothing") {
    ReferenceCrm crm("key-p", "secret-p");
    auto crm_leads = [&] { return crm.State()->getArray("leads"); };
    Engine engine;
    crm.Serve(engine);
    engine.Start();
    REQUIRE(engine.PostEvent(FullLeadCreated("42")).status == 202);
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:42", 1); }));
    REQUIRE(engine.PostEvent(StatusOnly("st-42", "42", "CONTACTED")).status == 202);
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:42", 2); }));
    REQUIRE(crm_leads()->size() == 1);
    CheckMirrorKeptEverything(engine, "42", "CONTACTED");
    CheckCrmKeptEverything(crm_leads()->getObject(0), "contacted");
    engine.Stop();
  }

  TEST_CASE("mock-crm echoes of the engine's own changes change nothing and send nothing") {
    Engine engine;
    StartWithLead(engine, "L1", "NEW");
    CHECK(engine.PostEvent(LeadEvent("s-L1", "lead.status_changed", "L1", "QUALIFIED")).status ==
          202);
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:L1", 2); }));
    REQUIRE(t::WaitUntil([&] {
      return EchoesAccepted(engine) == 2 && engine.InboundApplied() == 2 &&
             engine.Queue()->getValue<int64_t>("deliveriesPending") == 0;
    }));
    CHECK(engine.InboundResults("no_change") == 2);

    // The echoes were accepted and verified, and changed nothing.
    CHECK(engine.Deliveries("accepted") == 2);
    CHECK(engine.InboundResults("applied") == 0);
    CHECK(engine.InboundResults("created") == 0);
    CHECK(engine.Changes()->size() == 0);
    Object::Ptr queue = engine.Queue();
    CHECK(queue->getValue<int64_t>("echoSuppressedInbound") == 2);
    CHECK(queue->getValue<int64_t>("echoSuppressedOutbound") == 0);
    Object::Ptr lead = engine.Entity("lead:L1");
    CHECK(lead->getObject("mirror")->getValue<std::string>("status") == "QUALIFIED");
    CHECK(lead->getArray("jobs")->size() == 2);  // Only the two posted.

    // And caused no outbound call: one create, one update, nothing since.
    Object::Ptr crm = engine.Crm();
    CHECK(Count(crm->getObject("requests"), "lead.create") == 1);
    CHECK(Count(crm->getObject("requests"), "lead.update") == 1);
    CHECK(crm->getArray("leads")->size() == 1);
    CHECK(crm->getArray("leads")->getObject(0)->getValue<std::string>("status") == "qualified");
    CHECK(Count(crm->getObject("webhooksSent"), "202") == 2);
    CHECK(crm->getObject("webhooksSent")->size() == 1);  // Nothing refused or lost.
    CHECK(engine.Queue()->getValue<int64_t>("ready") == 0);
    engine.Stop();
  }

  TEST_CASE("a CRM-side status change reaches the mirror and the change feed, and no CRM call") {
    Engine engine;
    StartWithLead(engine, "L2", "QUALIFIED");
    Object::Ptr crm = engine.Crm();
    const std::string crm_id =
        crm->getArray("leads")->getObject(0)->getValue<std::string>("id");
    const std::string requests_before = Stringify(crm->getObject("requests"));

    // An agent marks the lead won in the CRM; the CRM sends its webhook.
    t::HttpResult r = engine.PostWebhook(
        "lead.updated", CrmWebhook("lead.updated", crm_id,
                                   R"({"status":"won","notes":"Property booked"})"));
    CHECK(r.status == 202);
    CHECK(Parse(r.body)->getValue<std::string>("status") == "accepted");
    Object::Ptr mirror;
    REQUIRE(t::WaitUntil([&] {
      mirror = engine.Entity("lead:L2")->getObject("mirror");
      return mirror->getValue<std::string>("status") == "CONVERTED";
    }));
    CHECK(mirror->getValue<std::string>("notes") == "Property booked");
    CHECK(mirror->getValue<std::string>("email") == "asha@example.com");
    // The worker counts the result after the mirror's commit: wait for it.
    CHECK(t::WaitUntil([&] { return engine.InboundResults("applied") == 1; }));

    // The platform hears about it through the change feed.
    Array::Ptr changes = engine.Changes();
    REQUIRE(changes->size() == 1);
    Object::Ptr change = changes->getObject(0);
    CHECK(change->getValue<std::string>("entity") == "lead:L2");
    CHECK(change->getValue<std::string>("source") == "crm");
    CHECK(change->getValue<std::string>("crmEvent") == "lead.updated");
    CHECK(change->getObject("fields")->getValue<std::string>("status") == "CONVERTED");
    CHECK(change->getObject("fields")->getValue<std::string>("notes") == "Property booked");
    CHECK(change->getObject("data")->getValue<std::string>("status") == "CONVERTED");
    CHECK(engine.Changes(change->getValue<int64_t>("seq"))->size() == 0);

    // No job, no outbound call.
    CHECK(engine.Entity("lead:L2")->getArray("jobs")->size() == 1);
    CHECK(Stringify(engine.Crm()->getObject("requests")) == requests_before);

    // The platform applies the change and sends its lead back: an echo.
    Object::Ptr event = Parse(LeadEvent("s-L2", "lead.status_changed", "L2", "CONVERTED"));
    event->set("data", mirror);
    r = engine.PostEvent(Stringify(event));
    REQUIRE(r.status == 202);
    Array::Ptr accepted = Parse(r.body)->getArray("accepted");
    REQUIRE(accepted->size() == 1);
    CHECK(accepted->getObject(0)->getValue<std::string>("eventId") == "s-L2");
    CHECK(accepted->getObject(0)->getValue<int64_t>("jobId") == 0);
    CHECK(accepted->getObject(0)->getValue<std::string>("suppressed") == "echo");
    // A repeat answers the same.
    r = engine.PostEvent(Stringify(event));
    CHECK(r.status == 200);
    CHECK(Parse(r.body)->getArray("accepted")->getObject(0)->getValue<int64_t>("jobId") == 0);
    CHECK(Parse(r.body)->getArray("accepted")->getObject(0)->getValue<std::string>("suppressed") ==
          "echo");
    CHECK(engine.Queue()->getValue<int64_t>("echoSuppressedOutbound") == 1);
    REQUIRE(t::WaitUntil([&] {
      return engine.Metric("crmsync_echo_suppressed_total{direction=\"outbound\"}") == 1;
    }));
    CHECK(engine.Entity("lead:L2")->getArray("jobs")->size() == 1);
    CHECK(engine.Queue()->getValue<int64_t>("ready") == 0);
    CHECK(Stringify(engine.Crm()->getObject("requests")) == requests_before);

    // A real platform change after that is sent again.
    Object::Ptr lost = Parse(LeadEvent("l-L2", "lead.status_changed", "L2", "LOST"));
    r = engine.PostEvent(Stringify(lost));
    REQUIRE(r.status == 202);
    CHECK(Parse(r.body)->getArray("accepted")->getObject(0)->getValue<int64_t>("jobId") > 0);
    CHECK_FALSE(Parse(r.body)->getArray("accepted")->getObject(0)->has("suppressed"));
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:L2", 2); }));
    CHECK(Requests(engine, "lead.update") == 1);
    engine.Stop();
  }

  TEST_CASE("the echo of a create whose answer was lost waits for the link, not a new lead") {
    // The CRM applies the create and sends its webhook, but the engine never
    // sees the answer: the job waits for its retry (which finds the record by
    // its reference) while the echo is already in. It must not be taken for a
    // lead the CRM knew first.
    Engine engine;
    engine.extra = {"--set", "crm.plugin=mock-crm",
                    "--set", "crm.mock-crm.emit_webhooks=true",
                    "--set", "crm.mock-crm.faults.lead.create=timeout",
                    "--set", "crm.retry.delay=2000"};
    engine.Start();
    REQUIRE(engine.PostEvent(LeadEvent("c-L5", "lead.created", "L5", "NEW")).status == 202);
    REQUIRE(t::WaitUntil([&] { return EchoesAccepted(engine) >= 1; }));
    // The echo of the create is in; its job is not finished yet.
    CHECK(engine.Entity("lead:L5")->getArray("jobs")->getObject(0)->getValue<std::string>(
              "state") != "done");
    // The retry finds the record by its reference and updates it (a second echo).
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:L5", 1); }));
    REQUIRE(t::WaitUntil([&] {
      return EchoesAccepted(engine) == 2 && engine.InboundApplied() == 2 &&
             engine.Queue()->getValue<int64_t>("deliveriesPending") == 0;
    }));
    CHECK(engine.InboundResults("no_change") == 2);
    CHECK(engine.InboundResults("created") == 0);
    CHECK(engine.Changes()->size() == 0);
    Object::Ptr crm = engine.Crm();
    CHECK(crm->getArray("leads")->size() == 1);
    CHECK(Count(crm->getObject("requests"), "lead.create") == 1);
    CHECK(Count(crm->getObject("requests"), "lead.lookup") == 1);
    CHECK(Count(crm->getObject("requests"), "lead.update") == 1);
    CHECK(engine.Entity("lead:crm-" + crm->getArray("leads")->getObject(0)->getValue<std::string>(
                            "id"))
              ->isNull("mirror"));
    engine.Stop();
  }

  TEST_CASE("forged, replayed and malformed webhooks are refused and counted") {
    Engine engine;
    engine.extra = {"--set", "crm.plugin=mock-crm", "--set",
                    std::string("webhook.secrets=") + kStandardSecret};
    engine.Start();
    const std::string change =
        CrmWebhook("lead.updated", "crm_lead_77", R"({"status":"contacted","name":"New Lead"})");

    // Forged: wrong shared secret, no secret, a bad or stale signature.
    t::HttpResult r = engine.PostWebhook("lead.updated", change, "guess");
    CHECK(r.status == 401);
    CHECK(r.body.find(kSecret) == std::string::npos);
    CHECK(t::HttpCall(engine.port, "POST", "/api/v1/crm/webhook", change,
                      {{"X-CRM-Event", "lead.updated"}})
              .status == 401);
    const int64_t now_s = static_cast<int64_t>(std::time(nullptr));
    t::HttpResult bad = t::HttpCall(engine.port, "POST", "/api/v1/crm/webhook", change,
                                    {{"webhook-id", "msg_forged"},
                                     {"webhook-timestamp", std::to_string(now_s)},
                                     {"webhook-signature", "v1," + Base64("not the signature")}});
    CHECK(bad.status == 401);
    CHECK(engine.PostStandardWebhook("msg_old", now_s - 3600, change).status == 401);
    CHECK(engine.Deliveries("refused_bad_signature") == 2);
    CHECK(engine.Deliveries("refused_missing") == 1);
    CHECK(engine.Deliveries("refused_stale") == 1);

    // Malformed: not JSON, a status the CRM does not have, no entityId.
    r = engine.PostWebhook("lead.updated", "{not json");
    CHECK(r.status == 400);
    r = engine.PostWebhook("lead.updated",
                           CrmWebhook("lead.updated", "crm_lead_77", R"({"status":"bogus"})"));
    CHECK(r.status == 400);
    CHECK(r.body.find("bogus") != std::string::npos);  // Names the fault.
    CHECK(engine.PostWebhook("lead.updated", R"({"event":"lead.updated","data":{}})").status ==
          400);
    CHECK(engine.Deliveries("malformed") == 3);

    // Nothing refused reached the store.
    CHECK(engine.Changes()->size() == 0);
    CHECK(engine.Queue()->getValue<int64_t>("deliveriesPending") == 0);
    CHECK(engine.Deliveries("accepted") == 0);

    // Replayed: the same shared-secret body, the same Standard Webhooks id.
    CHECK(engine.PostWebhook("lead.updated", change).status == 202);
    r = engine.PostWebhook("lead.updated", change);
    CHECK(r.status == 200);
    CHECK(Parse(r.body)->getValue<std::string>("status") == "duplicate");
    const std::string closed =
        CrmWebhook("lead.updated", "crm_lead_78", R"({"status":"new","name":"Other Lead"})");
    CHECK(engine.PostStandardWebhook("msg_1", now_s, closed).status == 202);
    r = engine.PostStandardWebhook("msg_1", now_s + 1, closed);
    CHECK(r.status == 200);
    CHECK(Parse(r.body)->getValue<std::string>("deliveryId") == "msg_1");
    CHECK(engine.Deliveries("accepted") == 2);
    CHECK(engine.Deliveries("duplicate") == 2);

    // The two accepted made two records the CRM knew first; the replays nothing.
    REQUIRE(t::WaitUntil([&] { return engine.InboundResults("created") == 2; }));
    REQUIRE(t::WaitUntil([&] {
      return engine.Queue()->getValue<int64_t>("deliveriesPending") == 0;
    }));
    CHECK(engine.Changes()->size() == 2);
    CHECK(engine.InboundResults("no_change") == 0);
    CHECK(engine.InboundResults("applied") == 0);
    engine.Stop();
  }

  TEST_CASE("generic-rest-crm and the reference CRM sync both ways without loops") {
    ReferenceCrm crm("key-2w", "secret-2w");
    const int crm_port = crm.port;
    auto crm_state = [&] { return crm.State(); };
    auto crm_requests = [&](const std::string& route) {
      return Count(crm_state()->getObject("requests"), route);
    };

    Engine engine;
    crm.Serve(engine);
    engine.Start();

    // At start the engine registers its webhook with the CRM.
    REQUIRE(t::WaitUntil([&] { return engine.Registration() == "registered"; }));
    Array::Ptr hooks = crm_state()->getArray("webhooks");
    REQUIRE(hooks->size() == 1);
    CHECK(hooks->getObject(0)->getValue<std::string>("url") == engine.WebhookUrl());
    CHECK(hooks->getObject(0)->getArray("events")->size() > 0);
    CHECK(crm_requests("POST /api/v1/webhooks") == 1);

    // A restart does not register again.
    engine.Stop();
    engine.Start();
    REQUIRE(t::WaitUntil([&] { return engine.Registration() == "already registered"; }));
    CHECK(crm_requests("POST /api/v1/webhooks") == 1);
    CHECK(crm_state()->getArray("webhooks")->size() == 1);

    // A platform lead reaches the CRM with the mapped body.
    REQUIRE(engine.PostEvent(LeadEvent("g-c", "lead.created", "G1", "NEW")).status == 202);
    Object::Ptr lead;
    REQUIRE(t::WaitUntil([&] {
      Array::Ptr leads = crm_state()->getArray("leads");
      if (leads->size() != 1) return false;
      lead = leads->getObject(0);
      return true;
    }));
    CHECK(lead->getValue<std::string>("externalReference") == "lead:G1");
    CHECK(lead->getValue<std::string>("status") == "new");
    CHECK(lead->getValue<std::string>("name") == "Asha Rao");
    CHECK(lead->getObject("budgetRange")->getValue<int64_t>("min") == 5000000);
    CHECK(lead->getObject("budgetRange")->getValue<int64_t>("max") == 7500000);
    REQUIRE(lead->getArray("preferredAreas")->size() == 2);
    CHECK(lead->getArray("preferredAreas")->getElement<std::string>(0) == "Baner");
    const std::string crm_id = lead->getValue<std::string>("id");

    // The CRM's echo of it comes back and changes nothing.
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:G1", 1); }));
    REQUIRE(t::WaitUntil([&] {
      return Count(crm_state()->getObject("webhooksSent"), "202") == 1 &&
             engine.InboundApplied() == 1;
    }));
    CHECK(engine.InboundResults("no_change") == 1);
    CHECK(engine.InboundResults("created") == 0);  // The echo found the lead just linked.

    // The platform qualifies the lead (so the CRM owns its status from now on,
    // inbound.crm_owns_status_from): an update, and its echo, again nothing.
    REQUIRE(engine.PostEvent(LeadEvent("g-q", "lead.status_changed", "G1", "QUALIFIED")).status ==
            202);
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:G1", 2); }));
    REQUIRE(t::WaitUntil([&] {
      return Count(crm_state()->getObject("webhooksSent"), "202") == 2 &&
             engine.InboundApplied() == 2;
    }));
    CHECK(engine.InboundResults("no_change") == 2);
    CHECK(engine.InboundResults("applied") == 0);
    CHECK(engine.InboundResults("created") == 0);
    CHECK(engine.Changes()->size() == 0);
    const int64_t creates = crm_requests("POST /api/v1/leads");
    const int64_t updates = crm_requests("PUT /api/v1/leads/{id}");
    CHECK(creates == 1);
    CHECK(updates == 1);

    // An agent marks the lead won in the CRM; the CRM sends the webhook itself.
    t::HttpResult r =
        t::HttpCall(crm_port, "POST", "/_crm/leads/" + crm_id, R"({"status":"won"})");
    REQUIRE(r.status == 200);
    REQUIRE(t::WaitUntil([&] {
      return engine.Entity("lead:G1")->getObject("mirror")->getValue<std::string>("status") ==
             "CONVERTED";
    }));
    Array::Ptr changes = engine.Changes();
    REQUIRE(changes->size() == 1);
    CHECK(changes->getObject(0)->getValue<std::string>("entity") == "lead:G1");
    CHECK(changes->getObject(0)->getObject("fields")->getValue<std::string>("status") ==
          "CONVERTED");
    CHECK(engine.Entity("lead:G1")->getArray("jobs")->size() == 2);
    CHECK(crm_requests("POST /api/v1/leads") == creates);
    CHECK(crm_requests("PUT /api/v1/leads/{id}") == updates);
    CHECK(crm_requests("POST /api/v1/leads/{id}/deals") == 0);
    CHECK(Count(crm_state()->getObject("webhooksSent"), "202") == 3);
    engine.Stop();
  }

  TEST_CASE("related: a lead after its property reaches mock-crm with its CRM ids, agents both ways") {
    Engine engine;
    StartWithUsers(engine);
    REQUIRE(engine.PostEvent(PropertyCreated("p1", "p-7")).status == 202);
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("property:p-7", 1); }));
    REQUIRE(engine.PostEvent(LeadOfProperty("l1", "L1", "p-7")).status == 202);
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:L1", 1); }));
    CheckLeadAtCrm(engine, "L1");
    CHECK(engine.Metric("crmsync_agents_unmatched_total{direction=\"outbound\"}") == 0);

    // The CRM assigns the lead to u-ravi: it comes back as dealer-9.
    const std::string crm_id = Str(CrmRecord(engine, "leads", "lead:L1"), "id");
    t::HttpResult r = engine.PostWebhook(
        "lead.updated", CrmWebhook("lead.updated", crm_id, R"({"assignedAgent":"u-ravi"})"));
    REQUIRE_MESSAGE(r.status == 202, r.body);
    REQUIRE(t::WaitUntil([&] {
      return Str(engine.Entity("lead:L1")->getObject("mirror"), "assignedToId") == "dealer-9";
    }));
    // One the platform has no dealer for is reported, not written.
    r = engine.PostWebhook("lead.updated",
                           CrmWebhook("lead.updated", crm_id, R"({"assignedAgent":"u-gone"})"));
    REQUIRE_MESSAGE(r.status == 202, r.body);
    REQUIRE(t::WaitUntil([&] {
      return engine.Metric("crmsync_agents_unmatched_total{direction=\"inbound\"}") == 1;
    }));
    CHECK(Str(engine.Entity("lead:L1")->getObject("mirror"), "assignedToId") == "dealer-9");
    engine.Stop();
  }

  TEST_CASE("related: a lead before its property in one batch still reaches mock-crm with its ids") {
    Engine engine;
    StartWithUsers(engine);
    REQUIRE(engine
                .PostEvent("{\"events\":[" + LeadOfProperty("l1", "L2", "p-7") + "," +
                           PropertyCreated("p1", "p-7") + "]}")
                .status == 202);
    REQUIRE(t::WaitUntil([&] { return engine.JobsDone("lead:L2", 1); }));
    CheckLeadAtCrm(engine, "L2");
    // The lead waited without spending an attempt (no failed try), one create.
    Array::Ptr jobs = engine.Entity("lead:L2")->getArray("jobs");
    REQUIRE(jobs->size() == 1);
    CHECK(jobs->getObject(0)->getValue<int>("attempts") == 0);
    engine.Stop();
  }
}
