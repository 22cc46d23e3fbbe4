// The shipped mappings (config/crms/sunshine-reference.json, hubspot.json,
// pipedrive.json, zoho.json, salesforce.json) end to end: the real crmsync binary with
// generic-rest-crm against the strategy's reference CRM (tools/reference-crm)
// or the vendor's stand-in (tests/crm-servers), which refuses any request the
// vendor's documents would refuse. One lead goes created -> CONTACTED ->
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

#include "mapped_engine.h"
#include "reference_crm.h"
#include "test_support.h"
#include "vendor_server.h"

namespace t = crmsync::testing;
using Poco::JSON::Array;
using Poco::JSON::Object;
using t::Text;

namespace {

constexpr char kMappings[] = CRMSYNC_SOURCE_DIR "/config/crms/";

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

// The shared engine of mapped_engine.h on a store of its own. The shipped
// mappings verify the CRM's own webhooks, which needs a secret even when a
// test drives only the outbound side (user:password, for Pipedrive's basic).
struct StoreDir {
  t::TempDir dir;
};
class MappedEngine : private StoreDir, public t::MappedEngine {
 public:
  MappedEngine(const std::string& mapping, const std::string& crm_url,
               const std::vector<std::string>& extra, const std::map<std::string, std::string>& env)
      : t::MappedEngine(dir.File("crmsync.db"), mapping, crm_url, "crmsync:hook-e2e-secret-1",
                        extra, env) {}
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

// The stand-in's counters of token requests and the 401s it answered.
struct TokenUse {
  int refreshes = 0;
  int unauthorized = 0;
};
TokenUse TokensUsed(const t::VendorServer& crm) {
  Object::Ptr state = crm.State();
  TokenUse use;
  use.refreshes = state->getObject("tokens")->getValue<int>("refreshes");
  Array::Ptr requests = state->getArray("requests");
  for (unsigned i = 0; i < requests->size(); ++i) {
    if (requests->getObject(i)->getValue<int>("status") == 401) ++use.unauthorized;
  }
  return use;
}

// The lifecycle through the shipped OAuth mapping `name`, its token endpoint
// set to the stand-in's `token_path` by crm.generic-rest-crm.token_url (as a
// deployment sets its data centre or sandbox); the access token expires after
// CONTACTED, which costs one 401, one refresh and one resend.
void RunWithExpiry(const t::VendorServer& crm, const std::string& name,
                   const std::string& token_path) {
  {
    MappedEngine engine(
        kMappings + name, crm.Url(),
        {"--set", "crm.generic-rest-crm.refresh_token=test-refresh-token", "--set",
         "crm.generic-rest-crm.token_url=" + crm.Url() + token_path},
        {{"CRM_API_KEY", "test-client-id"}, {"CRM_API_SECRET", "test-client-secret"}});
    RunLifecycle(engine, [&] {
      REQUIRE(TokensUsed(crm).refreshes == 1);
      crm.Control(R"({"expireAccessToken":true})");
    });
  }
  TokenUse tokens = TokensUsed(crm);
  CHECK(tokens.refreshes == 2);
  CHECK(tokens.unauthorized == 1);
}

// tools/reference-crm on a free port with the API key pair the engine is given.
using ReferenceCrm = t::KeyedReferenceCrm;

// The strings of a JSON array, in order.
std::vector<std::string> Strings(const Array::Ptr& array) {
  std::vector<std::string> out;
  for (unsigned i = 0; array && i < array->size(); ++i) {
    out.push_back(array->getElement<std::string>(i));
  }
  return out;
}

}  // namespace

// --- sunshine-reference ------------------------------------------------------

TEST_SUITE("e2e.crm_mappings") {
  TEST_CASE(
      "sunshine-reference.json: a lead's lifecycle reaches the reference CRM field by field") {
    ReferenceCrm crm;
    // The CRM's users; no platformId, so the match is by inbound.agent_emails.
    REQUIRE(crm.Call("POST", "/_users",
                     R"({"users":[{"id":"usr-admin","email":"admin@acme.example","active":true},)"
                     R"({"id":"usr-asha","email":"Asha@Acme.example","active":true},)"
                     R"({"id":"usr-ravi","email":"ravi@acme.example","active":true}]})")
                .status == 200);
    {
      MappedEngine engine(kMappings + std::string("sunshine-reference.json"), crm.Url(), {},
                          {{"CRM_API_KEY", "ref-key"}, {"CRM_API_SECRET", "ref-secret"}});
      RunLifecycle(engine);
    }
    Object::Ptr state = crm.State();

    Array::Ptr properties = state->getArray("properties");
    REQUIRE(properties->size() == 1);
    Object::Ptr property = properties->getObject(0);
    CHECK(Text(property, "title") == "2BHK in Baner");
    CHECK(Text(property, "price") == "6800000");
    CHECK(Text(property->getObject("location"), "city") == "Pune");
    CHECK(Text(property->getObject("location"), "locality") == "Baner");
    CHECK(Text(property, "status") == "active");
    CHECK(Text(property, "owner") == "owner-1");
    CHECK(Text(property, "assignedAgent") == "usr-ravi");  // dealer-9 by e-mail
    CHECK(Text(property, "internalId") == "p-7");
    CHECK(Text(property, "externalReference") == "property:p-7");
    const std::string property_id = Text(property, "id");
    REQUIRE(!property_id.empty());
    CHECK(property_id != "p-7");

    Array::Ptr leads = state->getArray("leads");
    REQUIRE(leads->size() == 2);
    Object::Ptr won = FindBy(leads, "externalReference", "lead:L1");
    REQUIRE_MESSAGE(won, crm.Call("GET", "/_state").body);
    CHECK(Text(won, "name") == "Asha Rao");
    CHECK(Text(won, "email") == "asha.rao@example.com");
    CHECK(Text(won, "phone") == "+919876543210");
    CHECK(Text(won, "source") == "website");
    CHECK(Text(won, "status") == "won");
    CHECK(Text(won->getObject("budgetRange"), "min") == "5000000");
    CHECK(Text(won->getObject("budgetRange"), "max") == "7500000");
    CHECK(Strings(won->getArray("preferredAreas")) == std::vector<std::string>{"Baner", "Wakad"});
    CHECK(Text(won, "utmSource") == "google_ads");
    CHECK(Text(won, "createdDate") == "2026-11-20T08:00:00Z");
    CHECK(Text(won, "notes") == "Wants 3BHK");
    CHECK(Text(won, "relatedProperty") == property_id);  // the CRM's id, not p-7
    CHECK(Text(won, "assignedAgent") == "usr-asha");      // dealer-7 by e-mail
    const std::string lead_id = Text(won, "id");

    // The inquiry and the viewing are activities on the lead, in order.
    Array::Ptr activities = won->getArray("activities");
    REQUIRE_MESSAGE(activities, crm.Call("GET", "/_state").body);
    Object::Ptr inquiry = FindBy(activities, "type", "inquiry");
    REQUIRE_MESSAGE(inquiry, crm.Call("GET", "/_state").body);
    CHECK(Text(inquiry, "message") == "Is it still available?");
    CHECK(Text(inquiry, "relatedProperty") == property_id);
    CHECK(FindBy(activities, "type", "viewing_scheduled"));

    // CONVERTED: one deal under the lead, naming the lead and the property's CRM id.
    Array::Ptr deals = won->getArray("deals");
    REQUIRE_MESSAGE((deals && deals->size() == 1), crm.Call("GET", "/_state").body);
    Object::Ptr deal = deals->getObject(0);
    CHECK(Text(deal, "title") == "Deal: Asha Rao");
    CHECK(Text(deal, "amount") == "7500000");
    CHECK(Text(deal, "leadId") == lead_id);
    CHECK(Text(deal, "relatedProperty") == property_id);

    Object::Ptr lost = FindBy(leads, "externalReference", "lead:L2");
    REQUIRE(lost);
    CHECK(Text(lost, "status") == "lost");
    CHECK(Text(lost, "lostReason") == "Budget too low");
    CHECK(Text(lost, "source") == "other");  // "newspaper" is not a listed source
    CHECK(Text(lost, "createdDate") == "2026-11-21T09:30:00Z");
    CHECK(Text(lost, "assignedAgent").empty());  // no agent
    CHECK(Text(lost, "relatedProperty").empty());  // no property
  }
}

// --- HubSpot -----------------------------------------------------------------

namespace {

// The custom properties docs/crms.md tells a HubSpot portal to create.
constexpr char kHsCustom[] =
    R"({"customProperties":{"contacts":["crmsync_reference","crmsync_status","crmsync_source",)"
    R"("crmsync_utm_source","crmsync_related_property","crmsync_created_date",)"
    R"("crmsync_budget_min","crmsync_budget_max","crmsync_preferred_areas","crmsync_notes",)"
    R"("crmsync_lost_reason"],)"
    R"("0-420":["crmsync_reference","crmsync_status","crmsync_owner","crmsync_internal_id"]}})";

// The HubSpot records of `object` whose association points at `to_id`.
std::vector<Object::Ptr> AssociatedTo(const t::VendorServer& crm, const std::string& object,
                                      const std::string& to_id) {
  std::vector<Object::Ptr> found;
  Array::Ptr records = crm.Records(object);
  for (unsigned i = 0; i < records->size(); ++i) {
    Array::Ptr links = records->getObject(i)->getArray("associations");
    if (links && FindBy(links, "toObjectId", to_id)) found.push_back(records->getObject(i));
  }
  return found;
}

}  // namespace

TEST_SUITE("e2e.crm_mappings") {
  TEST_CASE("hubspot.json: a lead's lifecycle reaches HubSpot field by field") {
    t::VendorServer hs("hubspot.py", {"--token", "pat-na1-3Fq"});
    hs.Control(kHsCustom);
    hs.Control(R"({"users":[)"
               R"({"id":"301","email":"admin@acme.example","firstName":"Org","lastName":"Admin",)"
               R"("userId":9301,"archived":false},)"
               R"({"id":"302","email":"Asha@Acme.example","firstName":"Asha","lastName":"Agent",)"
               R"("userId":9302,"archived":false},)"
               R"({"id":"303","email":"ravi@acme.example","firstName":"Ravi","lastName":"Agent",)"
               R"("userId":9303,"archived":false}]})");
    {
      MappedEngine engine(kMappings + std::string("hubspot.json"), hs.Url(), {},
                          {{"CRM_API_KEY", "pat-na1-3Fq"}});
      RunLifecycle(engine);
    }

    // The property is a listing (object 0-420), owned by the owner matched to dealer-9.
    Array::Ptr listings = hs.Records("0-420");
    REQUIRE_MESSAGE(listings->size() == 1, hs.Call("GET", "/_test/state").body);
    Object::Ptr listing = listings->getObject(0)->getObject("properties");
    CHECK(Text(listing, "hs_name") == "2BHK in Baner");
    CHECK(Text(listing, "hs_price") == "6800000");
    CHECK(Text(listing, "hs_city") == "Pune");
    CHECK(Text(listing, "hs_neighborhood") == "Baner");
    CHECK(Text(listing, "hubspot_owner_id") == "303");
    CHECK(Text(listing, "crmsync_reference") == "property:p-7");
    CHECK(Text(listing, "crmsync_status") == "ACTIVE");
    CHECK(Text(listing, "crmsync_owner") == "owner-1");
    CHECK(Text(listing, "crmsync_internal_id") == "p-7");
    const std::string listing_id = Text(listings->getObject(0), "id");

    Array::Ptr contacts = hs.Records("contacts");
    REQUIRE(contacts->size() == 2);
    Object::Ptr won_record;
    Object::Ptr lost_record;
    for (unsigned i = 0; i < contacts->size(); ++i) {
      const std::string reference =
          Text(contacts->getObject(i)->getObject("properties"), "crmsync_reference");
      if (reference == "lead:L1") won_record = contacts->getObject(i);
      if (reference == "lead:L2") lost_record = contacts->getObject(i);
    }
    REQUIRE_MESSAGE(won_record, hs.Call("GET", "/_test/state").body);
    REQUIRE(lost_record);
    Object::Ptr won = won_record->getObject("properties");
    CHECK(Text(won, "firstname") == "Asha Rao");
    CHECK(Text(won, "email") == "asha.rao@example.com");
    CHECK(Text(won, "phone") == "+919876543210");
    CHECK(Text(won, "crmsync_source") == "website");
    CHECK(Text(won, "hs_lead_status") == "OPEN_DEAL");
    CHECK(Text(won, "lifecyclestage") == "customer");
    CHECK(Text(won, "crmsync_status") == "CONVERTED");
    CHECK(Text(won, "crmsync_budget_min") == "5000000");
    CHECK(Text(won, "crmsync_budget_max") == "7500000");
    CHECK(Text(won, "crmsync_preferred_areas") == "Baner;Wakad");
    CHECK(Text(won, "crmsync_utm_source") == "google_ads");
    CHECK(Text(won, "crmsync_created_date") == "2026-11-20T08:00:00Z");
    CHECK(Text(won, "crmsync_notes") == "Wants 3BHK");
    CHECK(Text(won, "crmsync_related_property") == listing_id);  // HubSpot's id, not p-7
    CHECK(Text(won, "hubspot_owner_id") == "302");                // dealer-7 by e-mail
    const std::string contact_id = Text(won_record, "id");

    // The inquiry and the status changes are notes associated to the contact (type 202).
    std::vector<Object::Ptr> notes = AssociatedTo(hs, "notes", contact_id);
    Object::Ptr inquiry;
    Object::Ptr viewing;
    for (const Object::Ptr& note : notes) {
      const std::string body = Text(note->getObject("properties"), "hs_note_body");
      if (body.find("Is it still available?") != std::string::npos) inquiry = note;
      if (body.find("VIEWING_SCHEDULED") != std::string::npos) viewing = note;
    }
    REQUIRE_MESSAGE(inquiry, hs.Call("GET", "/_test/state").body);
    CHECK(Text(inquiry->getArray("associations")->getObject(0), "associationTypeId") == "202");
    CHECK_MESSAGE(viewing, hs.Call("GET", "/_test/state").body);

    // CONVERTED: a closed-won deal in the default pipeline, associated to the contact (type 3).
    Array::Ptr deals = hs.Records("deals");
    REQUIRE(deals->size() == 1);
    Object::Ptr deal = deals->getObject(0)->getObject("properties");
    CHECK(Text(deal, "dealname") == "Deal: Asha Rao");
    CHECK(Text(deal, "amount") == "7500000");
    CHECK(Text(deal, "pipeline") == "default");
    CHECK(Text(deal, "dealstage") == "closedwon");
    CHECK(AssociatedTo(hs, "deals", contact_id).size() == 1);

    Object::Ptr lost = lost_record->getObject("properties");
    CHECK(Text(lost, "hs_lead_status") == "UNQUALIFIED");
    CHECK(Text(lost, "crmsync_status") == "LOST");
    CHECK(Text(lost, "crmsync_lost_reason") == "Budget too low");
    CHECK(Text(lost, "crmsync_source") == "other");  // "newspaper" is not a listed source
    CHECK(Text(lost, "crmsync_created_date") == "2026-11-21T09:30:00Z");
    CHECK(Text(lost, "lifecyclestage") == "lead");  // forward only: LOST leaves it
    CHECK(Text(lost, "hubspot_owner_id").empty());  // no agent: no owner
  }
}

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

  TEST_CASE(
      "zoho.json: a lead's lifecycle reaches Zoho CRM field by field, one refresh on expiry") {
    t::VendorServer zoho("zoho.py");
    zoho.Control(
        R"({"users":[)"
        R"({"id":"5725767000000411001","full_name":"Org Admin","email":"admin@acme.example",)"
        R"("status":"active"},)"
        R"({"id":"5725767000000411101","full_name":"Asha Agent","email":"Asha@Acme.example",)"
        R"("status":"active"},)"
        R"({"id":"5725767000000411102","full_name":"Ravi Agent","email":"ravi@acme.example",)"
        R"("status":"active"}]})");
    // The custom fields docs/crms.md tells an operator to create.
    zoho.Control(R"({"customFields":{"Leads":{"Crmsync_Reference":"text","Platform_Status":"text",)"
                 R"("Budget_Min":"number","Budget_Max":"number","Preferred_Locations":"text",)"
                 R"("UTM_Source":"text","Platform_Created_Date":"datetime",)"
                 R"("Related_Property":"lookup","Lost_Reason":"text"},)"
                 R"("Deals":{"Crmsync_Lead":"lookup","Related_Property":"lookup"},)"
                 R"("Products":{"Crmsync_Reference":"text","City":"text","Locality":"text",)"
                 R"("Listing_Status":"text","Platform_Owner":"text","Internal_Id":"text"}}})");
    RunWithExpiry(zoho, "zoho.json", "/oauth/v2/token");

    const std::string asha = "5725767000000411101";
    Array::Ptr products = zoho.Records("Products");
    REQUIRE(products->size() == 1);
    Object::Ptr product = products->getObject(0);
    CHECK(Text(product, "Product_Name") == "2BHK in Baner");
    CHECK(Text(product, "Unit_Price") == "6800000");
    CHECK(Text(product->getObject("Owner"), "id") == "5725767000000411102");  // dealer-9
    CHECK(Text(product, "Crmsync_Reference") == "property:p-7");
    CHECK(Text(product, "City") == "Pune");
    CHECK(Text(product, "Locality") == "Baner");
    CHECK(Text(product, "Listing_Status") == "active");
    CHECK(Text(product, "Platform_Owner") == "owner-1");
    CHECK(Text(product, "Internal_Id") == "p-7");
    const std::string product_id = Text(product, "id");

    Array::Ptr leads = zoho.Records("Leads");
    REQUIRE(leads->size() == 2);
    Object::Ptr won = FindBy(leads, "Crmsync_Reference", "lead:L1");
    REQUIRE_MESSAGE(won, zoho.Call("GET", "/_test/state").body);
    CHECK(Text(won, "Last_Name") == "Asha Rao");
    CHECK(Text(won, "Email") == "asha.rao@example.com");
    CHECK(Text(won, "Phone") == "+919876543210");
    CHECK(Text(won, "Lead_Source") == "Web Research");
    CHECK(Text(won, "Lead_Status") == "Pre-Qualified");
    CHECK(Text(won, "Platform_Status") == "CONVERTED");
    CHECK(Text(won, "Budget_Min") == "5000000");
    CHECK(Text(won, "Budget_Max") == "7500000");
    CHECK(Text(won, "Preferred_Locations") == "Baner, Wakad");
    CHECK(Text(won, "UTM_Source") == "google_ads");
    CHECK(Text(won, "Platform_Created_Date") == "2026-11-20T08:00:00+00:00");
    CHECK(Text(won, "Description") == "Wants 3BHK");
    CHECK(Text(won->getObject("Related_Property"), "id") == product_id);
    CHECK(Text(won->getObject("Owner"), "id") == asha);  // dealer-7 by e-mail
    const std::string lead_id = Text(won, "id");

    // The inquiry and the viewing are Tasks on the lead, named by What_Id and
    // $se_module (written $$se_module in the mapping).
    CHECK(zoho.Records("Notes")->size() == 0);
    Array::Ptr tasks = zoho.Records("Tasks");
    REQUIRE(tasks->size() == 2);
    Object::Ptr inquiry = FindBy(tasks, "Subject", "Inquiry");
    REQUIRE_MESSAGE(inquiry, zoho.Call("GET", "/_test/state").body);
    CHECK(Text(inquiry->getObject("What_Id"), "id") == lead_id);
    CHECK(Text(inquiry, "$se_module") == "Leads");
    CHECK(Text(inquiry, "Status") == "Not Started");
    CHECK(Text(inquiry, "Description").find("Is it still available?") != std::string::npos);
    Object::Ptr viewing = FindBy(tasks, "Subject", "Site viewing scheduled");
    REQUIRE(viewing);
    CHECK(Text(viewing->getObject("What_Id"), "id") == lead_id);
    CHECK(Text(viewing, "$se_module") == "Leads");

    Array::Ptr deals = zoho.Records("Deals");
    REQUIRE(deals->size() == 1);
    Object::Ptr deal = deals->getObject(0);
    CHECK(Text(deal, "Deal_Name") == "Deal: Asha Rao");
    CHECK(Text(deal, "Stage") == "Closed Won");
    CHECK(Text(deal, "Amount") == "7500000");
    CHECK(Text(deal, "Lead_Source") == "Web Research");
    CHECK(Text(deal->getObject("Owner"), "id") == asha);
    CHECK(Text(deal->getObject("Crmsync_Lead"), "id") == lead_id);
    CHECK(Text(deal->getObject("Related_Property"), "id") == product_id);

    Object::Ptr lost = FindBy(leads, "Crmsync_Reference", "lead:L2");
    REQUIRE(lost);
    CHECK(Text(lost, "Lead_Status") == "Lost Lead");
    CHECK(Text(lost, "Platform_Status") == "LOST");
    CHECK(Text(lost, "Lost_Reason") == "Budget too low");
    CHECK(Text(lost, "Lead_Source") == "-None-");  // "newspaper" is not a listed source
    CHECK(Text(lost, "Platform_Created_Date") == "2026-11-21T09:30:00+00:00");
  }

  TEST_CASE("zoho.json: Zoho's 204 to a search is \"no match\" (check-connection's lookup)") {
    // check-connection looks up a reference no record has, through the real
    // binary: Zoho's search answers 204 with no body, which the lookups
    // declare notFoundStatus, so the engine reads it as not found (the same
    // reading lets an unknown-outcome create be created rather than
    // dead-lettered), not as an unreadable answer.
    t::VendorServer zoho("zoho.py");
    zoho.Control(R"({"customFields":{"Leads":{"Crmsync_Reference":"text"}}})");
    t::TempDir dir;
    const std::map<std::string, std::string> env = {{"CRM_API_KEY", "test-client-id"},
                                                    {"CRM_API_SECRET", "test-client-secret"}};
    t::ChildProcess check(
        CRMSYNC_BINARY,
        std::vector<std::string>{"check-connection", "json", "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR, "--set",
         "store.path=" + dir.File("crmsync.db"), "--set", "log.level=warning", "--set",
         "crm.plugin=generic-rest-crm", "--set", "crm.mapping=" + std::string(kMappings) + "zoho.json",
         "--set", "crm.api.url=" + zoho.Url(), "--set",
         "crm.generic-rest-crm.refresh_token=test-refresh-token", "--set",
         "crm.generic-rest-crm.token_url=" + zoho.Url() + "/oauth/v2/token", "--set",
         "crm.webhook.secret=TOKEN_FOR_VERIFICATION_OF_1000000068001"},
        env);
    REQUIRE(check.WaitExit(std::chrono::seconds(60)));
    INFO(check.Stdout() << check.Stderr());
    CHECK(check.exit_code() == 0);
    Object::Ptr report = Poco::JSON::Parser().parse(check.Stdout()).extract<Object::Ptr>();
    CHECK(report->getValue<std::string>("stage") == "ok");
    CHECK(report->getValue<int>("httpStatus") == 204);
    CHECK(report->getValue<std::string>("message").find("no record for the probe reference") !=
          std::string::npos);
    Array::Ptr requests = zoho.State()->getArray("requests");
    REQUIRE(requests->size() == 2);  // the token, then the one search
    CHECK(requests->getObject(1)->getValue<std::string>("path") == "/crm/v2/Leads/search");
    CHECK(requests->getObject(1)->getValue<int>("status") == 204);
  }

  TEST_CASE(
      "salesforce.json: a lead's lifecycle reaches Salesforce field by field, one refresh on "
      "expiry") {
    t::VendorServer sf("salesforce.py");
    sf.Control(R"({"users":[)"
               R"({"Id":"005000000000100AAA","Name":"Org Admin","Email":"admin@acme.example",)"
               R"("Username":"admin@acme.example","IsActive":true},)"
               R"({"Id":"005000000000101AAA","Name":"Asha Agent","Email":"Asha@Acme.example",)"
               R"("Username":"asha@acme.example","IsActive":true},)"
               R"({"Id":"005000000000102AAA","Name":"Ravi Agent","Email":"ravi@acme.example",)"
               R"("Username":"ravi@acme.example","IsActive":true}]})");
    // One row per SOQL page: the users list reaches Ravi (dealer-9) only by
    // following nextRecordsUrl twice.
    sf.Control(R"({"queryBatchSize":1})");
    RunWithExpiry(sf, "salesforce.json", "/services/oauth2/token");
    Array::Ptr requests = sf.State()->getArray("requests");
    int next_pages = 0;
    for (unsigned i = 0; i < requests->size(); ++i) {
      const std::string path = requests->getObject(i)->getValue<std::string>("path");
      if (path.rfind("/services/data/v59.0/query/01g", 0) == 0) ++next_pages;
    }
    CHECK(next_pages >= 2);

    const std::string asha = "005000000000101AAA";
    Array::Ptr properties = sf.Records("Property__c");
    REQUIRE(properties->size() == 1);
    Object::Ptr property = properties->getObject(0);
    CHECK(Text(property, "Name") == "2BHK in Baner");
    CHECK(Text(property, "OwnerId") == "005000000000102AAA");  // dealer-9
    CHECK(Text(property, "Crmsync_Reference__c") == "property:p-7");
    CHECK(Text(property, "Price__c") == "6800000");
    CHECK(Text(property, "City__c") == "Pune");
    CHECK(Text(property, "Locality__c") == "Baner");
    CHECK(Text(property, "Listing_Status__c") == "active");
    CHECK(Text(property, "Platform_Owner__c") == "owner-1");
    CHECK(Text(property, "Internal_Id__c") == "p-7");
    const std::string property_id = Text(property, "Id");

    Array::Ptr leads = sf.Records("Lead");
    REQUIRE(leads->size() == 2);
    Object::Ptr won = FindBy(leads, "Crmsync_Reference__c", "lead:L1");
    REQUIRE_MESSAGE(won, sf.Call("GET", "/_test/state").body);
    CHECK(Text(won, "LastName") == "Asha Rao");
    CHECK(Text(won, "Company") == "Asha Rao");
    CHECK(Text(won, "Email") == "asha.rao@example.com");
    CHECK(Text(won, "Phone") == "+919876543210");
    CHECK(Text(won, "LeadSource") == "Web");
    CHECK(Text(won, "Status") == "Closed - Converted");
    CHECK(Text(won, "Platform_Status__c") == "CONVERTED");
    CHECK(Text(won, "Budget_Min__c") == "5000000");
    CHECK(Text(won, "Budget_Max__c") == "7500000");
    CHECK(Text(won, "Preferred_Locations__c") == "Baner;Wakad");
    CHECK(Text(won, "UTM_Source__c") == "google_ads");
    CHECK(Text(won, "Platform_Created_Date__c") == "2026-11-20T08:00:00Z");
    CHECK(Text(won, "Description") == "Wants 3BHK");
    CHECK(Text(won, "Related_Property__c") == property_id);
    CHECK(Text(won, "OwnerId") == asha);  // dealer-7 by e-mail
    const std::string lead_id = Text(won, "Id");

    Array::Ptr tasks = sf.Records("Task");
    REQUIRE(tasks->size() == 2);
    Object::Ptr inquiry = FindBy(tasks, "Subject", "Inquiry");
    REQUIRE_MESSAGE(inquiry, sf.Call("GET", "/_test/state").body);
    CHECK(Text(inquiry, "WhoId") == lead_id);
    CHECK(Text(inquiry, "Description").find("Is it still available?") != std::string::npos);
    CHECK(Text(inquiry, "Description").find("Property " + property_id) != std::string::npos);
    Object::Ptr viewing = FindBy(tasks, "Subject", "Site viewing scheduled");
    REQUIRE(viewing);
    CHECK(Text(viewing, "WhoId") == lead_id);

    Array::Ptr opportunities = sf.Records("Opportunity");
    REQUIRE(opportunities->size() == 1);
    Object::Ptr deal = opportunities->getObject(0);
    CHECK(Text(deal, "Name") == "Deal: Asha Rao");
    CHECK(Text(deal, "StageName") == "Closed Won");
    CHECK(Text(deal, "Amount") == "7500000");
    CHECK(Text(deal, "LeadSource") == "Web");
    CHECK(Text(deal, "OwnerId") == asha);
    CHECK(Text(deal, "Crmsync_Lead__c") == lead_id);
    CHECK(Text(deal, "Related_Property__c") == property_id);

    Object::Ptr lost = FindBy(leads, "Crmsync_Reference__c", "lead:L2");
    REQUIRE(lost);
    CHECK(Text(lost, "Status") == "Closed - Not Converted");
    CHECK(Text(lost, "Platform_Status__c") == "LOST");
    CHECK(Text(lost, "Lost_Reason__c") == "Budget too low");
    CHECK(Text(lost, "LeadSource") == "Other");  // "newspaper" is not a listed source
    CHECK(Text(lost, "Platform_Created_Date__c") == "2026-11-21T09:30:00Z");
  }
}
