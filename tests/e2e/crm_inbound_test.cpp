// Inbound from real CRMs end to end: the real crmsync binary with
// generic-rest-crm and a shipped mapping (config/crms/) against the vendor's
// stand-in (tests/crm-servers/), which makes an agent's change the way the CRM
// does and produces the vendor's own delivery about it, signed as the vendor
// documents. Per vendor scheme (HubSpot v3 and v1, Pipedrive basic auth, Zoho
// token): accepted, tampered -> 401, stale -> 401, replayed -> no effect. For
// HubSpot both ways, by webhook and by polling: the change feed gets the
// mapped status once and nothing goes back out, also when the platform echoes
// the status. Polling survives a SIGKILL between two polls. Salesforce polls
// SOQL; Zoho's notification is filled by a fetch. Nothing sleeps: each step
// waits on the change feed, the metrics or the stand-in's log, and the
// stand-ins' clocks are moved instead of waiting for time to pass.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/URI.h>

#include "test_support.h"
#include "vendor_server.h"

namespace t = crmsync::testing;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

constexpr char kMappings[] = CRMSYNC_SOURCE_DIR "/config/crms/";

Object::Ptr Parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}
std::string Stringify(const Object::Ptr& object) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(object, out);
  return out.str();
}
std::string Text(const Object::Ptr& object, const std::string& key) {
  if (!object || !object->has(key) || object->isNull(key)) return "";
  return object->get(key).convert<std::string>();
}

// The binary with generic-rest-crm, `mapping` and the stand-in at `crm_url`,
// its webhook at http://127.0.0.1:<port>/api/v1/crm/webhook under
// `webhook_secret`, on the store `store` (kept across engines by the caller).
class Engine {
 public:
  Engine(const std::string& store, const std::string& mapping, const std::string& crm_url,
         const std::string& webhook_secret, const std::vector<std::string>& extra,
         const std::map<std::string, std::string>& env)
      : token_(std::to_string(getpid()) + "-" + std::to_string(port_)) {
    const std::vector<std::string> settings = {
        "server.port=" + std::to_string(port_), "store.path=" + store,
        "plugins.dir=" CRMSYNC_PLUGIN_DIR, "crm.plugin=generic-rest-crm",
        "crm.mapping=" + std::string(kMappings) + mapping, "crm.api.url=" + crm_url,
        "crm.webhook.url=" + WebhookUrl(), "crm.webhook.secret=" + webhook_secret,
        "intake.token=intake-" + token_, "admin.token=admin-" + token_,
        "inbound.agent_emails=dealer-7=asha@acme.example,dealer-9=ravi@acme.example",
        "log.level=warning"};
    std::vector<std::string> args = {"serve"};
    for (const std::string& setting : settings) {
      args.push_back("--set");
      args.push_back(setting);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<t::ChildProcess>(CRMSYNC_BINARY, args, env);
    REQUIRE_MESSAGE(t::WaitUntil([&] { return Admin("/api/v1/admin/status").status == 200; }),
                    process_->Stderr());
  }
  ~Engine() {
    if (!killed_) {
      process_->Signal(SIGTERM);
      process_->WaitExit(std::chrono::seconds(20));
    }
  }

  std::string WebhookUrl() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/crm/webhook";
  }

  // SIGKILL: no shutdown of any kind, as a crash or an OOM kill.
  void Kill() {
    process_->Signal(SIGKILL);
    REQUIRE(process_->WaitExit(std::chrono::seconds(20)));
    killed_ = true;
  }

  // Posts a platform event and waits until every job of `entity` is done.
  void Sync(const std::string& event, const std::string& entity) {
    t::HttpResult posted = PostEvent(event);
    REQUIRE_MESSAGE(posted.status == 202, posted.body);
    ++events_[entity];
    std::string last;
    const bool done = t::WaitUntil([&] {
      t::HttpResult r = Admin("/api/v1/admin/jobs?entity=" + entity);
      if (r.status != 200) return false;
      last = r.body;
      Array::Ptr jobs = Parse(r.body)->getArray("jobs");
      if (!jobs || jobs->size() < events_[entity]) return false;
      for (unsigned i = 0; i < jobs->size(); ++i) {
        if (jobs->getObject(i)->getValue<std::string>("state") != "done") return false;
      }
      return true;
    });
    REQUIRE_MESSAGE(done, entity << " did not sync: " << last << "\n" << process_->Stderr());
  }

  t::HttpResult PostEvent(const std::string& event) {
    return t::HttpCall(port_, "POST", "/api/v1/events", event,
                       {{"Authorization", "Bearer intake-" + token_}});
  }

  // The platform echoes the lead as the engine now holds it (the mirror), as
  // a platform that applied the change feed sends it back.
  t::HttpResult EchoMirror(const std::string& entity, const std::string& event_id) {
    t::HttpResult r = Admin("/api/v1/admin/jobs?entity=" + entity);
    REQUIRE(r.status == 200);
    Object::Ptr event = new Object;
    event->set("eventId", event_id);
    event->set("type", "lead.status_changed");
    event->set("occurredAt", "2026-12-03T15:00:00Z");
    event->set("data", Parse(r.body)->getObject("mirror"));
    return PostEvent(Stringify(event));
  }

  // Sends a request the stand-in made ({method, url, headers, body}) to this
  // engine, the body changed by `edit` when given (a tampered delivery).
  t::HttpResult Deliver(const Object::Ptr& request, const std::string& body = "") {
    std::map<std::string, std::string> headers;
    Object::Ptr given = request->getObject("headers");
    for (const auto& [name, value] : *given) headers[name] = value.convert<std::string>();
    Poco::URI uri(request->getValue<std::string>("url"));
    return t::HttpCall(port_, request->getValue<std::string>("method"), uri.getPathEtc(),
                       body.empty() ? request->getValue<std::string>("body") : body, headers);
  }

  // Delivers `request` (its body replaced by `body` when given) and checks
  // that it is refused with 401 for `reason`: the answer says only
  // "unauthorized", the metric counts one more refusal of that kind.
  void ExpectRefused(const Object::Ptr& request, const std::string& reason,
                     const std::string& body = "") {
    const double before = Refused(reason);
    t::HttpResult r = Deliver(request, body);
    CHECK_MESSAGE(r.status == 401, r.status << " " << r.body);
    CHECK(Refused(reason) == before + 1);
  }

  // Delivers `request`, expects 202, and waits for the feed's first entry
  // about `entity`, whose status must be `status`; returns the entry.
  Object::Ptr ExpectApplied(const Object::Ptr& request, const std::string& entity,
                            const std::string& status) {
    t::HttpResult r = Deliver(request);
    CHECK_MESSAGE(r.status == 202, r.status << " " << r.body);
    Object::Ptr change = WaitChanges(entity, 1);
    CHECK(Text(change->getObject("fields"), "status") == status);
    return change;
  }

  // The change feed's entries about `entity`, in order.
  std::vector<Object::Ptr> ChangesOf(const std::string& entity) {
    t::HttpResult r = t::HttpCall(port_, "GET", "/api/v1/changes?after=0", "",
                                  {{"Authorization", "Bearer intake-" + token_}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    Array::Ptr changes = Parse(r.body)->getArray("changes");
    std::vector<Object::Ptr> out;
    for (unsigned i = 0; i < changes->size(); ++i) {
      if (Text(changes->getObject(i), "entity") == entity) out.push_back(changes->getObject(i));
    }
    return out;
  }

  // Waits until the feed holds `count` entries about `entity`; the last one.
  Object::Ptr WaitChanges(const std::string& entity, size_t count) {
    REQUIRE_MESSAGE(t::WaitUntil([&] { return ChangesOf(entity).size() >= count; }),
                    entity << " has " << ChangesOf(entity).size() << " feed entries, not "
                           << count << "\n" << InboundMetrics()
                           << Admin("/api/v1/admin/audit?entity=" + entity).body << "\n"
                           << process_->Stderr());
    std::vector<Object::Ptr> changes = ChangesOf(entity);
    CHECK(changes.size() == count);
    return changes.back();
  }

  // The value of one series in /metrics (name{label="x"}); 0 when absent.
  double Metric(const std::string& series) {
    t::HttpResult r = t::HttpCall(port_, "GET", "/metrics");
    REQUIRE(r.status == 200);
    const std::string key = "\n" + series + " ";
    const size_t at = ("\n" + r.body).find(key);
    return at == std::string::npos ? 0 : std::stod(r.body.substr(at + key.size() - 1));
  }

  // Deliveries refused for `reason` (missing, bad_signature, stale,
  // malformed): the 401's body says only "unauthorized", the metric says why.
  double Refused(const std::string& reason) {
    return Metric("crmsync_webhook_deliveries_total{result=\"refused_" + reason + "\"}");
  }

  std::string Stderr() const { return process_->Stderr(); }

  // The /metrics lines about inbound work, for failure messages.
  std::string InboundMetrics() {
    std::istringstream lines(t::HttpCall(port_, "GET", "/metrics").body);
    std::string line;
    std::string out;
    while (std::getline(lines, line)) {
      if (line.rfind("crmsync_inbound", 0) == 0 || line.rfind("crmsync_webhook", 0) == 0 ||
          line.rfind("crmsync_poll", 0) == 0 || line.rfind("crmsync_echo", 0) == 0) {
        out += line + "\n";
      }
    }
    return out;
  }

 private:
  t::HttpResult Admin(const std::string& path) {
    return t::HttpCall(port_, "GET", path, "", {{"Authorization", "Bearer admin-" + token_}});
  }

  int port_ = t::FreePort();
  std::string token_;
  bool killed_ = false;
  std::map<std::string, size_t> events_;
  std::unique_ptr<t::ChildProcess> process_;
};

std::string LeadCreated(const std::string& id, const std::string& status) {
  return R"({"eventId":"c-)" + id + R"(","type":"lead.created","occurredAt":"2026-12-03T10:00:00Z",)"
         R"("data":{"id":")" + id + R"(","name":"Asha Rao","email":")" + id +
         R"(@example.com","phone":"+919876543210","source":"website","status":")" + status +
         R"(","notes":"first call","createdAt":"2026-12-03T09:00:00Z"}})";
}

// The status field of a feed entry.
std::string StatusOf(const Object::Ptr& change) {
  return change->has("fields") ? Text(change->getObject("fields"), "status") : "";
}

// The stand-in's requests that write (anything but a read: GET, and the
// search and query reads that polling makes).
int Writes(const t::VendorServer& crm) {
  Array::Ptr requests = crm.State()->getArray("requests");
  int writes = 0;
  for (unsigned i = 0; i < requests->size(); ++i) {
    const std::string method = Text(requests->getObject(i), "method");
    const std::string path = Text(requests->getObject(i), "path");
    if (method == "GET" || path.find("/search") != std::string::npos ||
        path.find("/oauth") != std::string::npos || path.find("/token") != std::string::npos) {
      continue;
    }
    ++writes;
  }
  return writes;
}

// The stand-in's requests whose path holds `part`.
int RequestsTo(const t::VendorServer& crm, const std::string& part) {
  Array::Ptr requests = crm.State()->getArray("requests");
  int count = 0;
  for (unsigned i = 0; i < requests->size(); ++i) {
    if (Text(requests->getObject(i), "path").find(part) != std::string::npos) ++count;
  }
  return count;
}

// A control call's answer; fails the test on an error.
Object::Ptr Control(const t::VendorServer& crm, const std::string& json) {
  t::HttpResult r = crm.Call("POST", "/_test/control", json);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return Parse(r.body);
}

// --- HubSpot ---------------------------------------------------------------

constexpr char kHsToken[] = "pat-na1-3Fq";
constexpr char kHsSecret[] = "hs-client-secret-7c1d";
constexpr char kHsCustom[] =
    R"({"customProperties":{"contacts":["crmsync_reference","crmsync_status","crmsync_source",)"
    R"("crmsync_utm_source","crmsync_related_property","crmsync_created_date",)"
    R"("crmsync_budget_min","crmsync_budget_max","crmsync_preferred_areas","crmsync_notes",)"
    R"("crmsync_lost_reason"]},)"
    R"("users":[{"id":"302","email":"Asha@Acme.example","firstName":"Asha","lastName":"Agent",)"
    R"("userId":9302,"archived":false},{"id":"303","email":"ravi@acme.example",)"
    R"("firstName":"Ravi","lastName":"Agent","userId":9303,"archived":false}]})";

// The HubSpot contact of platform lead `id`.
std::string ContactOf(const t::VendorServer& hs, const std::string& id) {
  Array::Ptr contacts = hs.Records("contacts");
  for (unsigned i = 0; i < contacts->size(); ++i) {
    if (Text(contacts->getObject(i)->getObject("properties"), "crmsync_reference") ==
        "lead:" + id) {
      return Text(contacts->getObject(i), "id");
    }
  }
  FAIL("no HubSpot contact for lead " << id);
  return "";
}

std::string HsWebhook(const std::string& url, bool send, const std::string& version = "v1") {
  return R"({"webhook":{"url":")" + url + R"(","send":)" + (send ? "true" : "false") +
         R"(,"clientSecret":")" + kHsSecret + R"(","signatureVersion":")" + version +
         R"(","subscriptions":{"contacts":["hs_lead_status","hubspot_owner_id","crmsync_notes"]}}})";
}

std::string HsEdit(const std::string& contact, const std::string& properties) {
  return R"({"edit":{"object":"contacts","id":")" + contact + R"(","properties":)" + properties +
         "}}";
}

}  // namespace

TEST_SUITE("e2e.crm_inbound") {
  TEST_CASE("hubspot.json webhook v3: accepted, tampered 401, stale 401, replayed and retried once") {
    t::VendorServer hs("hubspot.py", {"--token", kHsToken});
    hs.Control(kHsCustom);
    t::TempDir dir;
    Engine engine(dir.File("crmsync.db"), "hubspot.json", hs.Url(), kHsSecret, {},
                  {{"CRM_API_KEY", kHsToken}});
    engine.Sync(LeadCreated("L1", "QUALIFIED"), "lead:L1");  // the CRM owns the status from here
    const std::string contact = ContactOf(hs, "L1");
    hs.Control(HsWebhook(engine.WebhookUrl(), false));

    // An agent marks the contact unqualified, reassigns it and writes a note:
    // three events in one delivery, folded into one change.
    Object::Ptr request = Control(hs, HsEdit(contact, R"({"hs_lead_status":"UNQUALIFIED",)"
                                                      R"("hubspot_owner_id":"302",)"
                                                      R"("crmsync_notes":"not buying now"})"))
                              ->getObject("webhook");
    REQUIRE(request);
    // Tampered: one property value changed after signing.
    std::string tampered = request->getValue<std::string>("body");
    tampered.replace(tampered.find("UNQUALIFIED"), 11, "OPEN_DEAL__");
    engine.ExpectRefused(request, "bad_signature", tampered);

    Object::Ptr change = engine.ExpectApplied(request, "lead:L1", "LOST");
    CHECK(Text(change->getObject("fields"), "assignedToId") == "dealer-7");  // owner 302 = Asha
    CHECK(Text(change->getObject("fields"), "notes") == "not buying now");

    // Replayed byte for byte: a duplicate delivery, nothing applied.
    t::HttpResult r = engine.Deliver(request);
    CHECK(r.status == 200);
    // HubSpot's retry: the same events with attemptNumber 1, signed again: a
    // new delivery whose events are all known.
    Object::Ptr retry = Control(hs, R"({"redeliver":true})")->getObject("webhook");
    r = engine.Deliver(retry);
    CHECK(r.status < 300);
    REQUIRE(t::WaitUntil([&] {
      return engine.Metric("crmsync_inbound_changes_total{result=\"duplicate\"}") >= 1;
    }));
    // Stale: the request's timestamp 6 minutes back (HubSpot's window is 5).
    hs.Control(R"({"clock":{"advanceMs":-360000}})");
    engine.ExpectRefused(Control(hs, R"({"redeliver":true})")->getObject("webhook"), "stale");
    CHECK(engine.ChangesOf("lead:L1").size() == 1);
  }

  TEST_CASE("hubspot.json webhook with the v1 signature alone is refused: the mapping asks for v3") {
    t::VendorServer hs("hubspot.py", {"--token", kHsToken});
    hs.Control(kHsCustom);
    t::TempDir dir;
    Engine engine(dir.File("crmsync.db"), "hubspot.json", hs.Url(), kHsSecret, {},
                  {{"CRM_API_KEY", kHsToken}});
    engine.Sync(LeadCreated("L1", "QUALIFIED"), "lead:L1");
    hs.Control(HsWebhook(engine.WebhookUrl(), false));
    Object::Ptr request = Control(hs, HsEdit(ContactOf(hs, "L1"), R"({"hs_lead_status":"NEW"})"))
                              ->getObject("webhook");
    // Without the v3 headers, a v1 signature (SHA-256 of secret + body, no
    // time) would let a captured delivery be replayed forever.
    request->getObject("headers")->remove("X-HubSpot-Signature-v3");
    engine.ExpectRefused(request, "missing");
    CHECK(engine.ChangesOf("lead:L1").empty());
  }

  TEST_CASE("hubspot.json two-way by webhook: the agent's status reaches the feed once, no echo goes out") {
    t::VendorServer hs("hubspot.py", {"--token", kHsToken});
    hs.Control(kHsCustom);
    t::TempDir dir;
    Engine engine(dir.File("crmsync.db"), "hubspot.json", hs.Url(), kHsSecret, {},
                  {{"CRM_API_KEY", kHsToken}});
    engine.Sync(LeadCreated("L1", "QUALIFIED"), "lead:L1");
    const std::string contact = ContactOf(hs, "L1");
    CHECK(Text(hs.Records("contacts")->getObject(0)->getObject("properties"), "hs_lead_status") ==
          "OPEN");
    const int writes = Writes(hs);
    // The stand-in sends its own signed v3 delivery to the engine.
    hs.Control(HsWebhook(engine.WebhookUrl(), true));
    Object::Ptr answer = Control(hs, HsEdit(contact, R"({"hs_lead_status":"OPEN_DEAL"})"));
    REQUIRE_MESSAGE(answer->getObject("delivered"), Stringify(answer));
    CHECK(answer->getObject("delivered")->getValue<int>("status") == 202);
    CHECK(StatusOf(engine.WaitChanges("lead:L1", 1)) == "CONVERTED");
    // The platform applies the feed and echoes the lead back: recognised, not sent.
    t::HttpResult r = engine.EchoMirror("lead:L1", "echo-1");
    REQUIRE_MESSAGE(r.status == 202, r.body);
    CHECK(Text(Parse(r.body)->getArray("accepted")->getObject(0), "suppressed") == "echo");
    REQUIRE(t::WaitUntil(
        [&] { return engine.Metric("crmsync_echo_suppressed_total{direction=\"outbound\"}") >= 1; }));
    CHECK(Writes(hs) == writes);
    CHECK(engine.ChangesOf("lead:L1").size() == 1);
  }

  TEST_CASE("hubspot.json two-way by polling: the agent's status reaches the feed once, no echo goes out") {
    t::VendorServer hs("hubspot.py", {"--token", kHsToken});
    hs.Control(kHsCustom);
    t::TempDir dir;
    Engine engine(dir.File("crmsync.db"), "hubspot.json", hs.Url(), kHsSecret,
                  {"--set", "inbound.poll=on", "--set", "inbound.poll_interval_ms=1000"},
                  {{"CRM_API_KEY", kHsToken}});
    engine.Sync(LeadCreated("L1", "QUALIFIED"), "lead:L1");
    const std::string contact = ContactOf(hs, "L1");
    // The contact as the engine wrote it comes back by poll as no change.
    REQUIRE(t::WaitUntil([&] { return RequestsTo(hs, "/contacts/search") >= 2; }));
    CHECK(engine.ChangesOf("lead:L1").empty());
    const int writes = Writes(hs);
    hs.Control(R"({"clock":{"advanceMs":1000}})");  // the agent's change is later than ours
    Control(hs, HsEdit(contact, R"({"hs_lead_status":"UNQUALIFIED"})"));  // no webhook: polled
    CHECK(StatusOf(engine.WaitChanges("lead:L1", 1)) == "LOST");
    // Two more polls read it again (the overlap): still one entry.
    const int searches = RequestsTo(hs, "/contacts/search");
    REQUIRE(t::WaitUntil([&] { return RequestsTo(hs, "/contacts/search") >= searches + 2; }));
    CHECK(engine.ChangesOf("lead:L1").size() == 1);
    t::HttpResult r = engine.EchoMirror("lead:L1", "echo-1");
    REQUIRE_MESSAGE(r.status == 202, r.body);
    CHECK(Text(Parse(r.body)->getArray("accepted")->getObject(0), "suppressed") == "echo");
    CHECK(Writes(hs) == writes);
  }

  TEST_CASE("hubspot.json polling survives SIGKILL between two polls: every change once, none lost") {
    t::VendorServer hs("hubspot.py", {"--token", kHsToken});
    hs.Control(kHsCustom);
    t::TempDir dir;
    const std::vector<std::string> poll = {"--set", "inbound.poll=on", "--set",
                                           "inbound.poll_interval_ms=1000"};
    std::string l1;
    std::string l2;
    {
      Engine engine(dir.File("crmsync.db"), "hubspot.json", hs.Url(), kHsSecret, poll,
                    {{"CRM_API_KEY", kHsToken}});
      engine.Sync(LeadCreated("L1", "QUALIFIED"), "lead:L1");
      engine.Sync(LeadCreated("L2", "QUALIFIED"), "lead:L2");
      l1 = ContactOf(hs, "L1");
      l2 = ContactOf(hs, "L2");
      hs.Control(R"({"clock":{"advanceMs":1000}})");
      Control(hs, HsEdit(l1, R"({"hs_lead_status":"UNQUALIFIED"})"));
      CHECK(StatusOf(engine.WaitChanges("lead:L1", 1)) == "LOST");
      engine.Kill();
    }
    // While no engine runs, the agent goes on.
    hs.Control(R"({"clock":{"advanceMs":1000}})");
    Control(hs, HsEdit(l2, R"({"hs_lead_status":"OPEN_DEAL"})"));
    hs.Control(R"({"clock":{"advanceMs":1000}})");
    Control(hs, HsEdit(l1, R"({"crmsync_notes":"call again in spring"})"));
    Engine engine(dir.File("crmsync.db"), "hubspot.json", hs.Url(), kHsSecret, poll,
                  {{"CRM_API_KEY", kHsToken}});
    CHECK(StatusOf(engine.WaitChanges("lead:L2", 1)) == "CONVERTED");
    Object::Ptr notes = engine.WaitChanges("lead:L1", 2);
    CHECK(Text(notes->getObject("fields"), "notes") == "call again in spring");
    // Polls after that read the same versions again: nothing new.
    const int searches = RequestsTo(hs, "/contacts/search");
    REQUIRE(t::WaitUntil([&] { return RequestsTo(hs, "/contacts/search") >= searches + 2; }));
    CHECK(engine.ChangesOf("lead:L1").size() == 2);
    CHECK(engine.ChangesOf("lead:L2").size() == 1);
    CHECK(StatusOf(engine.ChangesOf("lead:L1").front()) == "LOST");
  }

  TEST_CASE("pipedrive.json webhook v2 with basic auth: accepted, wrong password 401, stale 401, replayed once") {
    t::VendorServer pd("pipedrive.py", {"--api-token", "pd-token-3Fq"});
    pd.Control(R"({"users":[{"id":201,"name":"Asha Agent","email":"Asha@Acme.example",)"
               R"("active_flag":true,"is_admin":0}]})");
    t::TempDir dir;
    Engine engine(dir.File("crmsync.db"), "pipedrive.json", pd.Url(), "crmsync:pd-hook-pw-9", {},
                  {{"CRM_API_KEY", "pd-token-3Fq"}});
    engine.Sync(LeadCreated("L1", "QUALIFIED"), "lead:L1");
    REQUIRE(pd.Records("persons")->size() == 1);
    const std::string person = Text(pd.Records("persons")->getObject(0), "id");
    pd.Control(R"({"webhook":{"url":")" + engine.WebhookUrl() +
               R"(","send":false,"httpAuthUser":"crmsync","httpAuthPassword":"pd-hook-pw-9"}})");
    Object::Ptr request =
        Control(pd, R"({"edit":{"object":"persons","id":)" + person +
                        R"(,"fields":{"b2fb7f3d8e45e7e0977530e1d6c71e20b9a06129":"lost",)"
                        R"("owner_id":201}}})")
            ->getObject("webhook");
    REQUIRE(request);
    // Wrong credentials (Pipedrive signs nothing: the password is the proof).
    Object::Ptr forged = Parse(Stringify(request));
    forged->getObject("headers")->set("Authorization", "Basic " + t::Base64("crmsync:guess"));
    engine.ExpectRefused(forged, "bad_signature");
    Object::Ptr change = engine.ExpectApplied(request, "lead:L1", "LOST");
    CHECK(Text(change->getObject("fields"), "assignedToId") == "dealer-7");
    CHECK(engine.Deliver(request).status == 200);  // the same delivery again
    // Pipedrive's retry: the same meta.id, attempt 2: its event is known.
    CHECK(engine.Deliver(Control(pd, R"({"redeliver":true})")->getObject("webhook")).status < 300);
    // Stale: an event 20 minutes old (the mapping's window is 15).
    pd.Control(R"({"clock":{"advanceMs":-1200000}})");
    Object::Ptr old = Control(pd, R"({"edit":{"object":"persons","id":)" + person +
                                      R"(,"fields":{"b2fb7f3d8e45e7e0977530e1d6c71e20b9a06129":"won"}}})")
                          ->getObject("webhook");
    engine.ExpectRefused(old, "stale");
    REQUIRE(t::WaitUntil([&] {
      return engine.Metric("crmsync_inbound_changes_total{result=\"duplicate\"}") >= 1;
    }));
    CHECK(engine.ChangesOf("lead:L1").size() == 1);
  }

  TEST_CASE("zoho.json notification: token checked, the lead fetched, tampered 401, stale 401, replayed once") {
    t::VendorServer zoho("zoho.py");
    zoho.Control(R"({"customFields":{"Leads":{"Crmsync_Reference":"text","Platform_Status":"text",)"
                 R"("Budget_Min":"number","Budget_Max":"number","Preferred_Locations":"text",)"
                 R"("UTM_Source":"text","Platform_Created_Date":"datetime",)"
                 R"("Related_Property":"lookup","Lost_Reason":"text"}}})");
    t::TempDir dir;
    const std::string token = "TOKEN_FOR_VERIFICATION_OF_1000000068001";
    Engine engine(dir.File("crmsync.db"), "zoho.json", zoho.Url(), token,
                  {"--set", "crm.generic-rest-crm.refresh_token=test-refresh-token", "--set",
                   "crm.generic-rest-crm.token_url=" + zoho.Url() + "/oauth/v2/token"},
                  {{"CRM_API_KEY", "test-client-id"}, {"CRM_API_SECRET", "test-client-secret"}});
    engine.Sync(LeadCreated("L1", "QUALIFIED"), "lead:L1");
    REQUIRE(zoho.Records("Leads")->size() == 1);
    const std::string lead = Text(zoho.Records("Leads")->getObject(0), "id");
    zoho.Control(R"({"webhook":{"url":")" + engine.WebhookUrl() +
                 R"(","send":false,"channelId":"1000000068001","token":")" + token + R"("}})");
    Object::Ptr request = Control(zoho, R"({"edit":{"module":"Leads","id":")" + lead +
                                            R"(","fields":{"Lead_Status":"Junk Lead",)"
                                            R"("Description":"wrong number"}}})")
                              ->getObject("webhook");
    REQUIRE(request);
    std::string tampered = request->getValue<std::string>("body");
    tampered.replace(tampered.find(token), token.size(), std::string(token.size(), 'X'));
    engine.ExpectRefused(request, "bad_signature", tampered);
    const int reads = RequestsTo(zoho, "/crm/v2/Leads/" + lead);
    Object::Ptr change = engine.ExpectApplied(request, "lead:L1", "LOST");
    CHECK(Text(change->getObject("fields"), "notes") == "wrong number");
    CHECK(RequestsTo(zoho, "/crm/v2/Leads/" + lead) == reads + 1);  // one fetch
    CHECK(engine.Deliver(request).status == 200);  // replayed: a duplicate delivery
    zoho.Control(R"({"clock":{"advanceMs":-1200000}})");
    Object::Ptr old = Control(zoho, R"({"redeliver":true})")->getObject("webhook");
    CHECK(engine.Deliver(old).status == 200);  // the same body again, still a duplicate
    Object::Ptr stale = Control(zoho, R"({"edit":{"module":"Leads","id":")" + lead +
                                          R"(","fields":{"Description":"x"}}})")
                            ->getObject("webhook");
    engine.ExpectRefused(stale, "stale");
    CHECK(engine.ChangesOf("lead:L1").size() == 1);
    CHECK(RequestsTo(zoho, "/crm/v2/Leads/" + lead) == reads + 1);
  }

  TEST_CASE("salesforce.json polls SOQL on SystemModstamp: the agent's status once, paged, no echo out") {
    t::VendorServer sf("salesforce.py");
    sf.Control(R"({"queryBatchSize":1})");  // every poll walks nextRecordsUrl
    t::TempDir dir;
    Engine engine(dir.File("crmsync.db"), "salesforce.json", sf.Url(), "unused-webhook-secret-1",
                  {"--set", "crm.generic-rest-crm.refresh_token=test-refresh-token", "--set",
                   "crm.generic-rest-crm.token_url=" + sf.Url() + "/services/oauth2/token",
                   "--set", "inbound.poll_interval_ms=1000", "--set",
                   "inbound.crm_owns_status_from=always"},
                  {{"CRM_API_KEY", "test-client-id"}, {"CRM_API_SECRET", "test-client-secret"}});
    engine.Sync(LeadCreated("L1", "CONTACTED"), "lead:L1");
    engine.Sync(LeadCreated("L2", "CONTACTED"), "lead:L2");
    Array::Ptr leads = sf.Records("Lead");
    REQUIRE(leads->size() == 2);
    std::map<std::string, std::string> ids;
    for (unsigned i = 0; i < leads->size(); ++i) {
      ids[Text(leads->getObject(i), "Crmsync_Reference__c")] = Text(leads->getObject(i), "Id");
    }
    const int writes = Writes(sf);
    sf.Control(R"({"clock":{"advanceMs":1000}})");
    sf.Control(R"({"edit":{"object":"Lead","id":")" + ids["lead:L1"] +
               R"(","fields":{"Status":"Closed - Not Converted","Description":"went elsewhere"}}})");
    sf.Control(R"({"edit":{"object":"Lead","id":")" + ids["lead:L2"] +
               R"(","fields":{"Status":"Closed - Converted"}}})");
    INFO("salesforce state: " << sf.Call("GET", "/_test/state").body);
    Object::Ptr l1 = engine.WaitChanges("lead:L1", 1);
    CHECK(StatusOf(l1) == "LOST");
    CHECK(Text(l1->getObject("fields"), "notes") == "went elsewhere");
    CHECK(StatusOf(engine.WaitChanges("lead:L2", 1)) == "CONVERTED");
    CHECK(RequestsTo(sf, "/query/01g") >= 1);  // a page after the first
    const int queries = RequestsTo(sf, "/query");
    REQUIRE(t::WaitUntil([&] { return RequestsTo(sf, "/query") >= queries + 2; }));
    CHECK(engine.ChangesOf("lead:L1").size() == 1);
    CHECK(engine.ChangesOf("lead:L2").size() == 1);
    CHECK(Writes(sf) == writes);
  }
}
