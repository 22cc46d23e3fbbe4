// The shipped vendor mappings (config/crms/pipedrive.json, zoho.json,
// salesforce.json) end to end: the real crmsync binary with generic-rest-crm
// against the vendor's stand-in (tests/crm-servers), which refuses any request
// the vendor's documents would refuse. One lead goes created -> CONTACTED ->
// inquiry -> VIEWING_SCHEDULED -> dealer assigned -> CONVERTED (a deal),
// another to LOST; every strategy field is then read back from the stand-in's
// records (/_test/state), including utmSource, createdDate, the CRM id of the
// lead's property (property.created is sent first) and the CRM id of the
// agent (a stand-in user matched by inbound.agent_emails).
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "test_support.h"
#include "vendor_server.h"

namespace t = crmsync::testing;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

constexpr char kMappings[] = CRMSYNC_SOURCE_DIR "/config/crms/";

// The text of `key` in `object` (numbers as their digits); "" when absent or null.
std::string Text(const Object::Ptr& object, const std::string& key) {
  if (!object || !object->has(key) || object->isNull(key)) return "";
  return object->get(key).convert<std::string>();
}

// The first record of `records` whose `key` holds `value`; null when none.
Object::Ptr FindBy(const Array::Ptr& records, const std::string& key, const std::string& value) {
  for (unsigned i = 0; i < records->size(); ++i) {
    if (Text(records->getObject(i), key) == value) return records->getObject(i);
  }
  return nullptr;
}

// The records of `records` whose `key` holds `value`.
std::vector<Object::Ptr> AllBy(const Array::Ptr& records, const std::string& key,
                               const std::string& value) {
  std::vector<Object::Ptr> found;
  for (unsigned i = 0; i < records->size(); ++i) {
    if (Text(records->getObject(i), key) == value) found.push_back(records->getObject(i));
  }
  return found;
}

// The binary with generic-rest-crm, `mapping`, the stand-in at `crm_url`, and
// the dealers' e-mails for the agent directory.
class MappedEngine {
 public:
  MappedEngine(const std::string& mapping, const std::string& crm_url,
               const std::vector<std::string>& extra, const std::map<std::string, std::string>& env)
      : token_(std::to_string(getpid()) + "-" + std::to_string(port_)) {
    const std::vector<std::string> settings = {
        "server.port=" + std::to_string(port_),
        "store.path=" + dir_.File("crmsync.db"),
        "plugins.dir=" CRMSYNC_PLUGIN_DIR,
        "crm.plugin=generic-rest-crm",
        "crm.mapping=" + mapping,
        "crm.api.url=" + crm_url,
        "intake.token=intake-" + token_,
        "admin.token=admin-" + token_,
        "inbound.agent_emails=dealer-7=asha@acme.example,dealer-9=ravi@acme.example",
        "log.level=warning"};
    std::vector<std::string> args = {"serve"};
    for (const std::string& setting : settings) {
      args.push_back("--set");
      args.push_back(setting);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<t::ChildProcess>(CRMSYNC_BINARY, args, env);
    REQUIRE_MESSAGE(t::WaitUntil([&] { return Call("/api/v1/admin/status").status == 200; }),
                    process_->Stderr());
  }
  ~MappedEngine() {
    process_->Signal(SIGTERM);
    process_->WaitExit(std::chrono::seconds(20));
  }

  // Posts one event and waits until every job of `entity` is done; a job
  // that dead-letters fails the test with the engine's reason.
  void Sync(const std::string& event, const std::string& entity) {
    t::HttpResult posted = t::HttpCall(port_, "POST", "/api/v1/events", event,
                                       {{"Authorization", "Bearer intake-" + token_}});
    REQUIRE_MESSAGE(posted.status == 202, posted.body);
    ++events_[entity];
    std::string last;
    const bool done = t::WaitUntil([&] {
      t::HttpResult r = Call("/api/v1/admin/jobs?entity=" + entity);
      if (r.status != 200) return false;
      last = r.body;
      Array::Ptr jobs = Poco::JSON::Parser().parse(r.body).extract<Object::Ptr>()->getArray("jobs");
      if (!jobs || jobs->size() < events_[entity]) return false;
      for (unsigned i = 0; i < jobs->size(); ++i) {
        if (jobs->getObject(i)->getValue<std::string>("state") != "done") return false;
      }
      return true;
    });
    REQUIRE_MESSAGE(done, entity << " did not sync: " << last << "\n" << process_->Stderr());
  }

 private:
  t::HttpResult Call(const std::string& path) {
    return t::HttpCall(port_, "GET", path, "", {{"Authorization", "Bearer admin-" + token_}});
  }

  t::TempDir dir_;
  int port_ = t::FreePort();
  std::string token_;
  std::map<std::string, size_t> events_;
  std::unique_ptr<t::ChildProcess> process_;
};

std::string Envelope(const std::string& event_id, const std::string& type,
                     const std::string& data) {
  return R"({"eventId":")" + event_id + R"(","type":")" + type +
         R"(","occurredAt":"2026-11-23T10:15:00Z","data":)" + data + "}";
}

// The whole lifecycle, every step waited for: property p-7; lead L1 through
// CONTACTED, an inquiry, VIEWING_SCHEDULED, dealer-7 assigned, CONVERTED;
// lead L2 (an unlisted source) to LOST. `after_contacted` runs between
// CONTACTED and the inquiry (an OAuth test expires the access token there).
void RunLifecycle(MappedEngine& engine, const std::function<void()>& after_contacted = {}) {
  engine.Sync(Envelope("p7", "property.created",
                       R"({"id":"p-7","title":"2BHK in Baner","price":6800000,"city":"Pune",)"
                       R"("locality":"Baner","status":"ACTIVE","ownerId":"owner-1",)"
                       R"("dealerId":"dealer-9"})"),
              "property:p-7");
  engine.Sync(Envelope("l1", "lead.created",
                       R"({"id":"L1","name":"Asha Rao","email":"asha.rao@example.com",)"
                       R"("phone":"+919876543210","source":"website","status":"NEW",)"
                       R"("budgetMin":5000000,"budgetMax":7500000,)"
                       R"("preferredLocation":["Baner","Wakad"],"notes":"Wants 3BHK",)"
                       R"("utmSource":"google_ads","propertyId":"p-7",)"
                       R"("createdAt":"2026-11-20T08:00:00Z"})"),
              "lead:L1");
  engine.Sync(Envelope("l1-c", "lead.status_changed", R"({"id":"L1","status":"CONTACTED"})"),
              "lead:L1");
  if (after_contacted) after_contacted();
  engine.Sync(Envelope("l1-q", "inquiry.submitted",
                       R"({"id":"Q1","leadId":"L1","propertyId":"p-7",)"
                       R"("message":"Is it still available?","lead":{"id":"L1"}})"),
              "lead:L1");
  engine.Sync(
      Envelope("l1-v", "lead.status_changed", R"({"id":"L1","status":"VIEWING_SCHEDULED"})"),
      "lead:L1");
  engine.Sync(Envelope("l1-a", "dealer.assigned", R"({"leadId":"L1","dealerId":"dealer-7"})"),
              "lead:L1");
  engine.Sync(Envelope("l1-w", "lead.status_changed", R"({"id":"L1","status":"CONVERTED"})"),
              "lead:L1");
  engine.Sync(Envelope("l2", "lead.created",
                       R"({"id":"L2","name":"Ravi Kumar","email":"ravi.k@example.com",)"
                       R"("phone":"+919800000002","source":"newspaper","status":"NEW",)"
                       R"("createdAt":"2026-11-21T09:30:00Z"})"),
              "lead:L2");
  engine.Sync(Envelope("l2-l", "lead.status_changed",
                       R"({"id":"L2","status":"LOST","lostReason":"Budget too low"})"),
              "lead:L2");
}

}  // namespace

// --- Pipedrive ---------------------------------------------------------------

namespace {

// The person custom field keys of config/crms/pipedrive.json (placeholders an
// operator replaces with the company's own keys; see docs/crms.md).
constexpr char kPdReference[] = "8ccdaba7d43c922a00b502b2faf10fc5a4a53161";
constexpr char kPdStatus[] = "b2fb7f3d8e45e7e0977530e1d6c71e20b9a06129";
constexpr char kPdSource[] = "6ac17c644f632fd49321b7621a7686b63ca8c630";
constexpr char kPdBudgetMin[] = "c7f3591f43b6c43dec155cdd6f9f79c20af9bee8";
constexpr char kPdBudgetMax[] = "c4cf97c36b43464b2928cbdaf99de1c576c108f4";
constexpr char kPdAreas[] = "b2e13af81932c762959a70090f1e89ded035ffa0";
constexpr char kPdUtm[] = "a9c85f84d7f87175a32dc853f2fec0af6b2827c0";
constexpr char kPdCreated[] = "41b8817eefe6343d8ec21ef9275d7a3d59967c58";
constexpr char kPdNotes[] = "8d101b0e2eb92af4b624458d8d0d4abf1a3e9e17";
constexpr char kPdLostReason[] = "ebd5eca08c359b5f0bb0097a4bd514eda575145b";
constexpr char kPdProperty[] = "09e6b91e5723715f96b6baba7a81eee6e51b6a23";
// Organization (property) and deal custom keys.
constexpr char kPdOrgReference[] = "c8b076701db7fbff98268498ce08bb1f60251308";
constexpr char kPdOrgPrice[] = "d868175a71956ba2684d8c593ac0e987d6ddf15c";
constexpr char kPdOrgCity[] = "206892f39268fc11b23f4ccc571eb1a19e14f6d1";
constexpr char kPdOrgLocality[] = "efa685de0a78e8536f6b684ade1ead3499c264a4";
constexpr char kPdOrgStatus[] = "61879abf2a849919ab40dfc6c2cd1692bba85bd2";
constexpr char kPdOrgOwner[] = "834b4b22caa8cbb80ae081e59954d8edda23c54c";
constexpr char kPdOrgInternalId[] = "f72bf22d0a1a71b8a0db06d6652ba344abdd641e";
constexpr char kPdDealProperty[] = "e8d99f42044e100957789369318e2ad83d8dd5fd";

// The first {value} of a Pipedrive contact list (email, phone).
std::string FirstContact(const Object::Ptr& person, const std::string& key) {
  Array::Ptr items = person->getArray(key);
  return items && items->size() > 0 ? Text(items->getObject(0), "value") : "";
}

}  // namespace

TEST_SUITE("e2e.crm_mappings") {
  TEST_CASE("pipedrive.json: a lead's lifecycle reaches Pipedrive field by field") {
    t::VendorServer pd("pipedrive.py", {"--api-token", "pd-token-3Fq"});
    pd.Control(R"({"users":[{"id":201,"name":"Asha Agent","email":"Asha@Acme.example",)"
               R"("active_flag":true,"is_admin":0},{"id":202,"name":"Ravi Agent",)"
               R"("email":"ravi@acme.example","active_flag":true,"is_admin":0}]})");
    {
      MappedEngine engine(kMappings + std::string("pipedrive.json"), pd.Url(), {},
                          {{"CRM_API_KEY", "pd-token-3Fq"}});
      RunLifecycle(engine);
    }

    // The property is an organization; its owner is the user matched to dealer-9.
    Array::Ptr orgs = pd.Records("organizations");
    REQUIRE(orgs->size() == 1);
    Object::Ptr org = orgs->getObject(0);
    CHECK(Text(org, "name") == "2BHK in Baner");
    CHECK(Text(org, "owner_id") == "202");
    CHECK(Text(org, kPdOrgReference) == "property:p-7");
    CHECK(Text(org, kPdOrgPrice) == "6800000");
    CHECK(Text(org, kPdOrgCity) == "Pune");
    CHECK(Text(org, kPdOrgLocality) == "Baner");
    CHECK(Text(org, kPdOrgStatus) == "active");
    CHECK(Text(org, kPdOrgOwner) == "owner-1");
    CHECK(Text(org, kPdOrgInternalId) == "p-7");
    const std::string org_id = Text(org, "id");

    Array::Ptr persons = pd.Records("persons");
    REQUIRE(persons->size() == 2);
    Object::Ptr won = FindBy(persons, kPdReference, "lead:L1");
    REQUIRE_MESSAGE(won, pd.Call("GET", "/_test/state").body);
    CHECK(Text(won, "name") == "Asha Rao");
    CHECK(FirstContact(won, "email") == "asha.rao@example.com");
    CHECK(FirstContact(won, "phone") == "+919876543210");
    CHECK(Text(won, kPdSource) == "website");
    CHECK(Text(won, kPdStatus) == "won");
    CHECK(Text(won, kPdBudgetMin) == "5000000");
    CHECK(Text(won, kPdBudgetMax) == "7500000");
    CHECK(Text(won, kPdAreas) == "Baner, Wakad");
    CHECK(Text(won, kPdUtm) == "google_ads");
    CHECK(Text(won, kPdCreated) == "2026-11-20");
    CHECK(Text(won, kPdNotes) == "Wants 3BHK");
    CHECK(Text(won, kPdProperty) == org_id);  // the property's Pipedrive id, not p-7
    CHECK(Text(won, "owner_id") == "201");    // dealer-7 by e-mail
    const std::string person_id = Text(won, "id");

    // The inquiry and the viewing are activities on the person.
    std::vector<Object::Ptr> activities = AllBy(pd.Records("activities"), "person_id", person_id);
    REQUIRE(activities.size() == 2);
    Object::Ptr inquiry = FindBy(pd.Records("activities"), "type", "email");
    REQUIRE(inquiry);
    CHECK(Text(inquiry, "note").find("Is it still available?") != std::string::npos);
    CHECK(Text(inquiry, "note").find("Property " + org_id) != std::string::npos);
    Object::Ptr viewing = FindBy(pd.Records("activities"), "type", "meeting");
    REQUIRE(viewing);
    CHECK(Text(viewing, "subject").find("viewing_scheduled") != std::string::npos);

    // CONVERTED: a won deal on the person, the agent's user, the property's id.
    Array::Ptr deals = pd.Records("deals");
    REQUIRE(deals->size() == 1);
    Object::Ptr deal = deals->getObject(0);
    CHECK(Text(deal, "title") == "Deal: Asha Rao");
    CHECK(Text(deal, "status") == "won");
    CHECK(Text(deal, "value") == "7500000");
    CHECK(Text(deal, "person_id") == person_id);
    CHECK(Text(deal, "user_id") == "201");
    CHECK(Text(deal, kPdDealProperty) == org_id);

    Object::Ptr lost = FindBy(persons, kPdReference, "lead:L2");
    REQUIRE(lost);
    CHECK(Text(lost, kPdStatus) == "lost");
    CHECK(Text(lost, kPdLostReason) == "Budget too low");
    CHECK(Text(lost, kPdSource) == "other");  // "newspaper" is not a listed source
    CHECK(Text(lost, kPdCreated) == "2026-11-21");
    CHECK(Text(lost, "owner_id").empty());  // no agent: no owner
  }
}
