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

#include "mapped_engine.h"
#include "test_support.h"
#include "vendor_server.h"

namespace t = crmsync::testing;
using Poco::JSON::Array;
using Poco::JSON::Object;
using t::MappedEngine;
using t::Parse;
using t::Text;

namespace {

constexpr char kMappings[] = CRMSYNC_SOURCE_DIR "/config/crms/";

using t::Stringify;

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

// A HubSpot stand-in with the portal's custom properties and owners, an
// engine on hubspot.json (`extra` settings), and platform lead L1 synced at
// QUALIFIED (so the CRM owns its status: inbound.crm_owns_status_from).
// `scheme` other than hubspot-v3 runs a copy of hubspot.json whose
// webhooks.verify selects it (an app on HubSpot's older signatures).
struct HubSpotLead {
  explicit HubSpotLead(const std::vector<std::string>& extra = {},
                       const std::string& scheme = "hubspot-v3")
      : hs("hubspot.py", {"--token", kHsToken}) {
    hs.Control(kHsCustom);
    std::string mapping = kMappings + std::string("hubspot.json");
    if (scheme != "hubspot-v3") {
      std::string text = t::ReadFile(mapping);
      const std::string shipped = R"("scheme": "hubspot-v3")";
      REQUIRE(text.find(shipped) != std::string::npos);
      text.replace(text.find(shipped), shipped.size(), R"("scheme": ")" + scheme + "\"");
      mapping = dir.File("hubspot-" + scheme + ".json");
      t::WriteFile(mapping, text);
    }
    engine = std::make_unique<MappedEngine>(
        dir.File("crmsync.db"), mapping, hs.Url(), kHsSecret, extra,
        std::map<std::string, std::string>{{"CRM_API_KEY", kHsToken}});
    engine->Sync(LeadCreated("L1", "QUALIFIED"), "lead:L1");
    contact = ContactOf(hs, "L1");
  }

  t::VendorServer hs;
  t::TempDir dir;
  std::unique_ptr<MappedEngine> engine;
  std::string contact;
};

// The stand-in's webhook to `url` under kHsSecret; `send`: the stand-in posts
// it itself; `api_changes`: the engine's own writes are notified back too.
std::string HsWebhook(const std::string& url, bool send, const std::string& version = "v1",
                      bool api_changes = false) {
  return R"({"webhook":{"url":")" + url + R"(","send":)" + (send ? "true" : "false") +
         R"(,"apiChanges":)" + (api_changes ? "true" : "false") +
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
    HubSpotLead f;
    t::VendorServer& hs = f.hs;
    MappedEngine& engine = *f.engine;
    const std::string& contact = f.contact;
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
    HubSpotLead f;
    t::VendorServer& hs = f.hs;
    MappedEngine& engine = *f.engine;
    const std::string& contact = f.contact;
    hs.Control(HsWebhook(engine.WebhookUrl(), false));
    Object::Ptr request = Control(hs, HsEdit(contact, R"({"hs_lead_status":"NEW"})"))
                              ->getObject("webhook");
    // Without the v3 headers, a v1 signature (SHA-256 of secret + body, no
    // time) would let a captured delivery be replayed forever.
    request->getObject("headers")->remove("X-HubSpot-Signature-v3");
    engine.ExpectRefused(request, "missing");
    CHECK(engine.ChangesOf("lead:L1").empty());
  }

  TEST_CASE("hubspot.json with HubSpot's older v1 and v2 signatures: accepted, tampered 401, replayed once") {
    for (const std::string version : {"v1", "v2"}) {
      CAPTURE(version);
      HubSpotLead f({}, "hubspot-" + version);
      f.hs.Control(HsWebhook(f.engine->WebhookUrl(), false, version));
      Object::Ptr request =
          Control(f.hs, HsEdit(f.contact, R"({"hs_lead_status":"UNQUALIFIED"})"))
              ->getObject("webhook");
      REQUIRE(request);
      CHECK(Text(request->getObject("headers"), "X-HubSpot-Signature-Version") == version);
      std::string tampered = request->getValue<std::string>("body");
      tampered.replace(tampered.find("UNQUALIFIED"), 11, "BAD_TIMING_");
      f.engine->ExpectRefused(request, "bad_signature", tampered);
      f.engine->ExpectApplied(request, "lead:L1", "LOST");
      // v1 and v2 sign no time: a replay is caught by dedup only.
      CHECK(f.engine->Deliver(request).status == 200);
      CHECK(f.engine->Deliver(Control(f.hs, R"({"redeliver":true})")->getObject("webhook")).status <
            300);
      REQUIRE(t::WaitUntil([&] {
        return f.engine->Metric("crmsync_inbound_changes_total{result=\"duplicate\"}") >= 1;
      }));
      CHECK(f.engine->ChangesOf("lead:L1").size() == 1);
    }
  }

  TEST_CASE("hubspot.json two-way by webhook: the agent's status reaches the feed once, no echo goes out") {
    HubSpotLead f;
    t::VendorServer& hs = f.hs;
    MappedEngine& engine = *f.engine;
    const std::string& contact = f.contact;
    CHECK(Text(hs.Records("contacts")->getObject(0)->getObject("properties"), "hs_lead_status") ==
          "OPEN");
    const int writes = Writes(hs);
    // The stand-in sends its own signed v3 deliveries to the engine, also
    // about the engine's own writes, as HubSpot does.
    hs.Control(HsWebhook(engine.WebhookUrl(), true, "v1", true));
    Object::Ptr answer = Control(hs, HsEdit(contact, R"({"hs_lead_status":"BAD_TIMING"})"));
    REQUIRE_MESSAGE(answer->getObject("delivered"), Stringify(answer));
    CHECK(answer->getObject("delivered")->getValue<int>("status") == 202);
    CHECK(StatusOf(engine.WaitChanges("lead:L1", 1)) == "LOST");
    // The platform applies the feed and echoes the lead back: recognised, not sent.
    t::HttpResult r = engine.EchoMirror("lead:L1", "echo-1");
    REQUIRE_MESSAGE(r.status == 202, r.body);
    CHECK(Text(Parse(r.body)->getArray("accepted")->getObject(0), "suppressed") == "echo");
    REQUIRE(t::WaitUntil(
        [&] { return engine.Metric("crmsync_echo_suppressed_total{direction=\"outbound\"}") >= 1; }));
    CHECK(Writes(hs) == writes);
    CHECK(engine.ChangesOf("lead:L1").size() == 1);

    // The platform changes the notes (a status change event is the platform's
    // only lead update; the status it carries is the mirror's, so the plan is
    // an update only): one write goes out, and HubSpot notifies
    // that write back (changeSource INTEGRATION): an echo, applied as no change.
    Object::Ptr event = new Object;
    event->set("eventId", "notes-1");
    event->set("type", "lead.status_changed");
    event->set("occurredAt", "2026-12-03T15:05:00Z");
    Object::Ptr mirror = engine.Mirror("lead:L1");
    mirror->set("notes", "booked a second viewing");
    event->set("data", mirror);
    const size_t deliveries = hs.State()->getArray("deliveries")->size();
    engine.Sync(Stringify(event), "lead:L1");
    CHECK_MESSAGE(Writes(hs) == writes + 1, hs.Call("GET", "/_test/state").body);
    REQUIRE(t::WaitUntil(
        [&] { return hs.State()->getArray("deliveries")->size() == deliveries + 1; }));
    Object::Ptr echo = hs.State()->getArray("deliveries")->getObject(deliveries);
    CHECK(echo->getValue<int>("status") == 202);
    REQUIRE(t::WaitUntil([&] {
      return engine.Metric("crmsync_inbound_changes_total{result=\"no_change\"}") >= 1;
    }));
    CHECK(engine.ChangesOf("lead:L1").size() == 1);
    CHECK(Writes(hs) == writes + 1);
  }

  TEST_CASE("hubspot.json two-way by polling: the agent's status reaches the feed once, no echo goes out") {
    HubSpotLead f({"--set", "inbound.poll=on", "--set", "inbound.poll_interval_ms=1000"});
    t::VendorServer& hs = f.hs;
    MappedEngine& engine = *f.engine;
    const std::string& contact = f.contact;
    // The contact as the engine wrote it comes back by poll as no change.
    REQUIRE(t::WaitUntil([&] { return RequestsTo(hs, "/contacts/search") >= 2; }));
    CHECK(engine.ChangesOf("lead:L1").empty());
    const int writes = Writes(hs);
    hs.Control(R"({"clock":{"advanceMs":1000}})");  // the agent's change is later than ours
    Control(hs, HsEdit(contact, R"({"hs_lead_status":"UNQUALIFIED"})"));  // no webhook: polled
    CHECK(StatusOf(engine.WaitChanges("lead:L1", 1)) == "LOST");
    // Two more polls read it again (the overlap): still one entry.
    const int searches = RequestsTo(hs, "/contacts/search");
    // A poll is recorded before the next one is sent, so after three more
    // searches two re-reads are recorded; then wait until they are applied.
    REQUIRE(t::WaitUntil([&] { return RequestsTo(hs, "/contacts/search") >= searches + 3; }));
    REQUIRE(t::WaitUntil([&] { return engine.Metric("crmsync_webhook_deliveries_pending") == 0; }));
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
      MappedEngine engine(dir.File("crmsync.db"), kMappings + std::string("hubspot.json"), hs.Url(), kHsSecret, poll,
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
    MappedEngine engine(dir.File("crmsync.db"), kMappings + std::string("hubspot.json"), hs.Url(), kHsSecret, poll,
                  {{"CRM_API_KEY", kHsToken}});
    CHECK(StatusOf(engine.WaitChanges("lead:L2", 1)) == "CONVERTED");
    Object::Ptr notes = engine.WaitChanges("lead:L1", 2);
    CHECK(Text(notes->getObject("fields"), "notes") == "call again in spring");
    // Polls after that read the same versions again: nothing new.
    const int searches = RequestsTo(hs, "/contacts/search");
    // A poll is recorded before the next one is sent, so after three more
    // searches two re-reads are recorded; then wait until they are applied.
    REQUIRE(t::WaitUntil([&] { return RequestsTo(hs, "/contacts/search") >= searches + 3; }));
    REQUIRE(t::WaitUntil([&] { return engine.Metric("crmsync_webhook_deliveries_pending") == 0; }));
    CHECK(engine.ChangesOf("lead:L1").size() == 2);
    CHECK(engine.ChangesOf("lead:L2").size() == 1);
    CHECK(StatusOf(engine.ChangesOf("lead:L1").front()) == "LOST");
  }

  TEST_CASE("pipedrive.json webhook v2 with basic auth: accepted, wrong password 401, stale 401, replayed once") {
    t::VendorServer pd("pipedrive.py", {"--api-token", "pd-token-3Fq"});
    pd.Control(R"({"users":[{"id":201,"name":"Asha Agent","email":"Asha@Acme.example",)"
               R"("active_flag":true,"is_admin":0}]})");
    t::TempDir dir;
    MappedEngine engine(dir.File("crmsync.db"), kMappings + std::string("pipedrive.json"), pd.Url(), "crmsync:pd-hook-pw-9", {},
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
    MappedEngine engine(dir.File("crmsync.db"), kMappings + std::string("zoho.json"), zoho.Url(), token,
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

    // A lead deleted in Zoho between its notification and the fetch: the read
    // answers 204, the change is dropped, nothing reaches the feed.
    zoho.Control(R"({"clock":{"real":true}})");
    Object::Ptr gone = Control(zoho, R"({"edit":{"module":"Leads","id":")" + lead +
                                         R"(","fields":{"Description":"about to go"}}})")
                           ->getObject("webhook");
    zoho.Control(R"({"remove":{"module":"Leads","id":")" + lead + R"("}})");
    CHECK(engine.Deliver(gone).status == 202);
    REQUIRE(t::WaitUntil(
        [&] { return RequestsTo(zoho, "/crm/v2/Leads/" + lead) == reads + 2; }));
    REQUIRE(t::WaitUntil([&] {
      return engine.Metric("crmsync_webhook_deliveries_pending") == 0;
    }));
    CHECK(engine.ChangesOf("lead:L1").size() == 1);
  }

  TEST_CASE("salesforce.json polls SOQL on SystemModstamp: the agent's status once, paged, no echo out") {
    t::VendorServer sf("salesforce.py");
    sf.Control(R"({"queryBatchSize":1})");  // every poll walks nextRecordsUrl
    t::TempDir dir;
    MappedEngine engine(dir.File("crmsync.db"), kMappings + std::string("salesforce.json"), sf.Url(), "unused-webhook-secret-1",
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
