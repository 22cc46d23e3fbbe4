// generic_rest_http_test.cpp: the generic-rest-crm plugin with the shipped
// mappings (config/crms/sunshine-reference.json, config/crms/hubspot.json), over
// real HTTP and HTTPS.
//
// The test loads the built plugin file (CRMSYNC_PLUGIN_DIR/generic-rest-crm) with
// Poco's ClassLoader, as the engine does, configures it with a shipped mapping and
// drives it only through crmsync::Adapter: mapping() builds requests and reads
// answers, transport() sends them to a RecordingCrm (recording_crm.h), a Poco HTTPServer on
// 127.0.0.1 that records every request (method, path, query, headers, body) and
// answers from a script. Every operation of both mappings is checked for its exact
// method, path, query, auth headers and JSON body (compared as JSON), and for the
// id read back. The TLS cases make a throwaway CA and server certificate with the
// openssl CLI. Each case has its own server and adapter. No sleeps.
#include <doctest/doctest.h>

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <Poco/ClassLoader.h>
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "crmsync/adapter.h"
#include "crmsync/plugin.h"
#include "crmsync/plugin_config.h"
#include "loaded_plugin.h"
#include "recording_crm.h"
#include "test_support.h"

namespace crmsync {
namespace {

using testing::BaseSettings;
using testing::ConfigureStatus;
using testing::kApiKey;
using testing::kApiSecret;
using testing::Loader;
using testing::NewAdapter;
using testing::RecordedRequest;
using testing::RecordingCrm;
using testing::Settings;

using JsonObject = Poco::JSON::Object::Ptr;
using JsonArray = Poco::JSON::Array::Ptr;

constexpr char kSunshine[] = CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json";
constexpr char kHubSpot[] = CRMSYNC_SOURCE_DIR "/config/crms/hubspot.json";
constexpr char kOpenSsl[] = "/usr/bin/openssl";

// ---------------------------------------------------------------------------
// The plugin.

// Sends `request` through the plugin's transport; fails the case on a transport error.
HttpResponse Send(Adapter& adapter, const HttpRequest& request) {
  HttpResponse response = adapter.transport().Send(request);
  REQUIRE_MESSAGE(response.error == TransportError::kNone, TransportErrorName(response.error)
                                                               << ": " << response.error_message);
  return response;
}

// ---------------------------------------------------------------------------
// JSON.

Poco::Dynamic::Var ParseAny(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text);
}

JsonObject ParseObject(const std::string& text) { return ParseAny(text).extract<JsonObject>(); }

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// A canonical text of a parsed JSON value: keys sorted, numbers as doubles, so two
// documents are equal as JSON exactly when their canonical texts are equal.
std::string Canonical(const Poco::Dynamic::Var& value) {
  if (value.isEmpty()) return "null";
  if (value.type() == typeid(JsonObject)) {
    const JsonObject object = value.extract<JsonObject>();
    if (object.isNull()) return "null";
    std::map<std::string, std::string> members;
    for (const auto& member : *object) members[member.first] = Canonical(member.second);
    std::string out = "{";
    for (const auto& member : members) {
      if (out.size() > 1) out += ",";
      out += Quote(member.first) + ":" + member.second;
    }
    return out + "}";
  }
  if (value.type() == typeid(JsonArray)) {
    const JsonArray array = value.extract<JsonArray>();
    if (array.isNull()) return "null";
    std::string out = "[";
    for (unsigned int i = 0; i < array->size(); ++i) {
      if (i > 0) out += ",";
      out += Canonical(array->get(i));
    }
    return out + "]";
  }
  if (value.isString()) return Quote(value.extract<std::string>());
  if (value.isBoolean()) return value.convert<bool>() ? "true" : "false";
  if (value.isNumeric()) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.17g", value.convert<double>());
    return buffer;
  }
  return Quote(value.convert<std::string>());
}

// The canonical text of a JSON document, or a marker when it does not parse.
std::string Canon(const std::string& text) {
  try {
    return Canonical(ParseAny(text));
  } catch (const Poco::Exception& e) {
    return "<not JSON: " + e.displayText() + ">: " + text;
  }
}

std::string Stringify(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  if (value.type() == typeid(JsonObject)) {
    value.extract<JsonObject>()->stringify(out);
  } else if (value.type() == typeid(JsonArray)) {
    value.extract<JsonArray>()->stringify(out);
  } else {
    out << Canonical(value);
  }
  return out.str();
}

// True when `text` looks like an ISO 8601 UTC time ("2026-11-23T10:15:00Z", with
// optional fraction).
bool IsIsoUtc(const std::string& text) {
  if (text.size() < 20 || text.back() != 'Z') return false;
  return text[4] == '-' && text[7] == '-' && text[10] == 'T' && text[13] == ':' && text[16] == ':';
}

// Checks that `body` (a JSON object text) has a string `object_key`.`key` that is an
// ISO 8601 UTC time, then returns the body without it.
std::string WithoutTimestamp(const std::string& body, const std::string& object_key,
                             const std::string& key) {
  JsonObject parsed = ParseObject(body);
  JsonObject inner = parsed->getObject(object_key);
  REQUIRE(inner);
  REQUIRE(inner->has(key));
  const Poco::Dynamic::Var value = inner->get(key);
  REQUIRE(value.isString());
  CHECK_MESSAGE(IsIsoUtc(value.extract<std::string>()), value.extract<std::string>());
  inner->remove(key);
  return Stringify(parsed);
}

// ---------------------------------------------------------------------------
// Platform values.

#include "../plugin_fixtures.inc"
std::vector<StepKind> PlanOf(Adapter& adapter, const SyncJob& job) {
  std::vector<StepKind> steps;
  const Status status = adapter.mapping().Plan(job, &steps);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return steps;
}

HttpRequest Build(Adapter& adapter, const SyncJob& job, StepKind step) {
  HttpRequest request;
  const Status status = adapter.mapping().BuildRequest(job, step, &request);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return request;
}

StepResult Read(Adapter& adapter, const SyncJob& job, StepKind step, const HttpResponse& response) {
  StepResult result;
  const Status status = adapter.mapping().ReadResponse(job, step, response, &result);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return result;
}

// Runs one step end to end: build, answer with (status, body), send, read.
struct Exchange {
  RecordedRequest sent;
  HttpResponse response;
  StepResult result;
};

Exchange RunStep(Adapter& adapter, RecordingCrm& crm, const SyncJob& job, StepKind step, int status,
                 const std::string& answer) {
  Exchange exchange;
  const HttpRequest request = Build(adapter, job, step);
  crm.Script(status, answer);
  exchange.response = Send(adapter, request);
  CHECK(exchange.response.status == status);
  const Status classified = adapter.Classify(request, exchange.response);
  CHECK_MESSAGE(classified.ok(), classified.ToString());
  exchange.sent = crm.Take();
  exchange.result = Read(adapter, job, step, exchange.response);
  return exchange;
}

void CheckApiKeys(const RecordedRequest& request) {
  CHECK(request.Header("X-API-Key") == kApiKey);
  CHECK(request.Header("X-API-Secret") == kApiSecret);
  CHECK_FALSE(request.HasHeader("Authorization"));
}

void CheckBearer(const RecordedRequest& request) {
  CHECK(request.Header("Authorization") == std::string("Bearer ") + kApiKey);
  CHECK_FALSE(request.HasHeader("X-API-Key"));
  CHECK_FALSE(request.HasHeader("X-API-Secret"));
}

void CheckJsonBody(const RecordedRequest& request) {
  CHECK(request.Header("Content-Type").rfind("application/json", 0) == 0);
  CHECK(request.Header("Accept") == "application/json");
}

using Query = std::vector<std::pair<std::string, std::string>>;

// Every member of body.properties is a string (HubSpot takes only strings).
void CheckAllStrings(const std::string& body, const std::string& container = "properties") {
  JsonObject parsed = ParseObject(body);
  JsonObject properties = parsed->getObject(container);
  REQUIRE(properties);
  for (const auto& member : *properties) {
    CAPTURE(member.first);
    CHECK(member.second.isString());
  }
}

// The external id a successful step reported, or "" when none.
std::string IdOf(const StepResult& result) { return result.external_id.value_or(""); }

// ---------------------------------------------------------------------------
// Mapping files for the error cases.

JsonObject LoadMapping(const std::string& path) { return ParseObject(testing::ReadFile(path)); }

// The object at `pointer` ("/entities/lead/operations") inside `root`.
JsonObject At(JsonObject root, const std::string& pointer) {
  JsonObject current = root;
  std::istringstream parts(pointer.substr(1));
  std::string part;
  while (std::getline(parts, part, '/')) {
    REQUIRE_MESSAGE(current->has(part), pointer);
    current = current->getObject(part);
    REQUIRE_MESSAGE(current, pointer);
  }
  return current;
}

std::string WriteMapping(const testing::TempDir& dir, const std::string& name, JsonObject root) {
  const std::string path = dir.File(name);
  testing::WriteFile(path, Stringify(root));
  return path;
}

// ---------------------------------------------------------------------------
// TLS material: a throwaway CA and a server certificate for 127.0.0.1/localhost.

struct TestPki {
  testing::TempDir dir;
  std::string ca_file;
  std::string key_file;
  std::string cert_file;
};

void Openssl(const std::vector<std::string>& args) {
  std::string output;
  const int code = testing::RunCommand(kOpenSsl, args, &output);
  REQUIRE_MESSAGE(code == 0, "openssl " << args.front() << ": " << output);
}

std::unique_ptr<TestPki> MakePki() {
  auto pki = std::make_unique<TestPki>();
  const testing::TempDir& dir = pki->dir;
  testing::WriteFile(dir.File("ca.cnf"),
                     "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\nprompt = no\n"
                     "[dn]\nCN = crmsync test CA\n"
                     "[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
                     "keyUsage = critical,keyCertSign,cRLSign\n"
                     "subjectKeyIdentifier = hash\n");
  testing::WriteFile(dir.File("server.cnf"),
                     "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = 127.0.0.1\n");
  testing::WriteFile(dir.File("server.ext"),
                     "basicConstraints = CA:FALSE\n"
                     "keyUsage = critical,digitalSignature,keyEncipherment\n"
                     "extendedKeyUsage = serverAuth\n"
                     "subjectAltName = IP:127.0.0.1,DNS:localhost\n");
  pki->ca_file = dir.File("ca.pem");
  pki->key_file = dir.File("server.key");
  pki->cert_file = dir.File("server.pem");
  Openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-config",
           dir.File("ca.cnf"), "-keyout", dir.File("ca.key"), "-out", pki->ca_file});
  Openssl({"req", "-new", "-newkey", "rsa:2048", "-nodes", "-config", dir.File("server.cnf"),
           "-keyout", pki->key_file, "-out", dir.File("server.csr")});
  Openssl({"x509", "-req", "-in", dir.File("server.csr"), "-CA", pki->ca_file, "-CAkey",
           dir.File("ca.key"), "-set_serial", "4242", "-days", "2", "-extfile",
           dir.File("server.ext"), "-out", pki->cert_file});
  return pki;
}

// SampleLead() with the strategy's marketing and creation fields too.
Lead StrategyLead() {
  Lead lead = SampleLead();
  lead.utm_source = "google_ads";
  lead.created_at = "2026-11-20T08:00:00Z";
  return lead;
}

// The lead bodies both mappings send for SampleLead(), per status.
std::string SunshineLeadBody(const std::string& crm_status) {
  return R"({"name":"Asha Rao","email":"asha@example.com","phone":"+919800000000",
             "source":"website","status":")" +
         crm_status + R"(","budgetRange":{"min":5000000,"max":7500000},
             "preferredAreas":["Baner","Wakad"],"externalReference":"lead:42",
             "assignedAgent":"agent-3","notes":"Wants 2BHK"})";
}

// HubSpot contact properties for SampleLead(id) with `status`; `extra` is JSON
// members appended (with a leading comma) or "".
std::string HubSpotProperties(const std::string& id, const std::string& name,
                              const std::string& email, const std::string& platform_status,
                              const std::string& lead_status, const std::string& lifecycle,
                              const std::string& extra = "") {
  std::string out = R"({"firstname":")" + name + R"(","email":")" + email +
                    R"(","phone":"+919800000000","hs_lead_status":")" + lead_status + "\"";
  if (!lifecycle.empty()) out += R"(,"lifecyclestage":")" + lifecycle + "\"";
  out += R"(,"crmsync_reference":"lead:)" + id + R"(","crmsync_status":")" + platform_status +
         R"(","crmsync_source":"website","crmsync_budget_min":"5000000",
         "crmsync_budget_max":"7500000","crmsync_preferred_areas":"Baner;Wakad",
         "crmsync_notes":"Wants 2BHK")" +
         extra + "}";
  return out;
}

TEST_SUITE_BEGIN("plugins.generic_rest_http");

// ===========================================================================
// sunshine-reference.json: the reference REST API of docs/design.md section 10.

TEST_CASE("sunshine-reference: the plugin describes the mapping's capabilities") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  const PluginInfo info = adapter->Info();
  CHECK(info.name == "generic-rest-crm");
  CHECK(info.capabilities.lookup_by_reference);
  CHECK(info.capabilities.webhook_registration);
  CHECK(info.capabilities.max_batch_size == 1);
}

TEST_CASE(
    "sunshine-reference: a lead create posts the reference body with both API keys and reads the "
    "id") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  const SyncJob job = LeadJob(SampleLead());
  CHECK(PlanOf(*adapter, job) == std::vector<StepKind>{StepKind::kCreate});

  const Exchange exchange =
      RunStep(*adapter, crm, job, StepKind::kCreate, 201,
              R"({"id":"crm-lead-1","externalReference":"lead:42","status":"new"})");
  CHECK(exchange.sent.method == "POST");
  CHECK(exchange.sent.raw_path == "/api/v1/leads");
  CHECK(exchange.sent.query.empty());
  CheckApiKeys(exchange.sent);
  CheckJsonBody(exchange.sent);
  CHECK(Canon(exchange.sent.body) == Canon(SunshineLeadBody("new")));
  CHECK(IdOf(exchange.result) == "crm-lead-1");
}

TEST_CASE("sunshine-reference: absent fields are left out of the lead body") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  Lead lead;
  lead.id = "7";
  lead.name = "Ravi";
  lead.status = LeadStatus::kNew;
  lead.budget_max = 9000000;
  const Exchange exchange =
      RunStep(*adapter, crm, LeadJob(lead), StepKind::kCreate, 201, R"({"id":"crm-lead-7"})");
  CHECK(Canon(exchange.sent.body) ==
        Canon(R"({"name":"Ravi","status":"new","budgetRange":{"max":9000000},
                  "externalReference":"lead:7"})"));
  CHECK(IdOf(exchange.result) == "crm-lead-7");
}

TEST_CASE("sunshine-reference: a create answer without an id is not a success") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  const SyncJob job = LeadJob(SampleLead());
  const HttpRequest request = Build(*adapter, job, StepKind::kCreate);
  crm.Script(201, R"({"ok":true})");
  const HttpResponse response = Send(*adapter, request);
  StepResult result;
  const Status status = adapter->mapping().ReadResponse(job, StepKind::kCreate, response, &result);
  CHECK_FALSE(status.ok());
  CHECK_FALSE(result.external_id.has_value());
}

TEST_CASE("sunshine-reference: a status change PUTs the lead to its encoded external id") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  const SyncJob job = StatusJob(SampleLead(), LeadStatus::kContacted, "crm-lead-1");
  CHECK(PlanOf(*adapter, job) == std::vector<StepKind>{StepKind::kUpdate});
  const Exchange exchange =
      RunStep(*adapter, crm, job, StepKind::kUpdate, 200, R"({"id":"crm-lead-1"})");
  CHECK(exchange.sent.method == "PUT");
  CHECK(exchange.sent.raw_path == "/api/v1/leads/crm-lead-1");
  CHECK(exchange.sent.query.empty());
  CheckApiKeys(exchange.sent);
  CheckJsonBody(exchange.sent);
  CHECK(Canon(exchange.sent.body) == Canon(SunshineLeadBody("contacted")));
  CHECK(IdOf(exchange.result) == "crm-lead-1");

  const SyncJob odd = StatusJob(SampleLead(), LeadStatus::kQualified, "crm/lead 1");
  const Exchange encoded = RunStep(*adapter, crm, odd, StepKind::kUpdate, 200, "{}");
  CHECK(encoded.sent.raw_path == "/api/v1/leads/crm%2Flead%201");
  CHECK(Canon(encoded.sent.body) == Canon(SunshineLeadBody("qualified")));
}

TEST_CASE("sunshine-reference: a LOST lead is updated with its reason") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  Lead lead = SampleLead();
  lead.lost_reason = "Bought elsewhere";
  const SyncJob job = StatusJob(lead, LeadStatus::kLost, "crm-lead-1");
  CHECK(PlanOf(*adapter, job) == std::vector<StepKind>{StepKind::kUpdate});
  const Exchange exchange = RunStep(*adapter, crm, job, StepKind::kUpdate, 200, "{}");
  JsonObject expected = ParseObject(SunshineLeadBody("lost"));
  expected->set("lostReason", std::string("Bought elsewhere"));
  CHECK(Canon(exchange.sent.body) == Canon(Stringify(expected)));
}

TEST_CASE("sunshine-reference: VIEWED updates the lead and logs a viewed activity") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  const SyncJob job = StatusJob(SampleLead(), LeadStatus::kViewed, "crm-lead-1");
  CHECK(PlanOf(*adapter, job) == std::vector<StepKind>{StepKind::kUpdate, StepKind::kActivity});

  const Exchange update = RunStep(*adapter, crm, job, StepKind::kUpdate, 200, "{}");
  CHECK(Canon(update.sent.body) == Canon(SunshineLeadBody("viewed")));

  const Exchange activity =
      RunStep(*adapter, crm, job, StepKind::kActivity, 201, R"({"id":"act-1","type":"viewed"})");
  CHECK(activity.sent.method == "POST");
  CHECK(activity.sent.raw_path == "/api/v1/leads/crm-lead-1/activities");
  CHECK(activity.sent.query.empty());
  CheckApiKeys(activity.sent);
  CheckJsonBody(activity.sent);
  CHECK(Canon(activity.sent.body) ==
        Canon(R"({"type":"viewed","note":"Wants 2BHK","propertyId":"p-7"})"));
  // The activity's own id must not replace the lead's link.
  CHECK((IdOf(activity.result).empty() || IdOf(activity.result) == "crm-lead-1"));
}

TEST_CASE("sunshine-reference: CONVERTED updates the lead to won and opens a deal") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  const SyncJob job = StatusJob(SampleLead(), LeadStatus::kConverted, "crm-lead-1");
  CHECK(PlanOf(*adapter, job) == std::vector<StepKind>{StepKind::kUpdate, StepKind::kDeal});

  const Exchange update = RunStep(*adapter, crm, job, StepKind::kUpdate, 200, "{}");
  CHECK(update.sent.method == "PUT");
  CHECK(Canon(update.sent.body) == Canon(SunshineLeadBody("won")));

  const Exchange deal =
      RunStep(*adapter, crm, job, StepKind::kDeal, 201, R"({"id":"deal-1","amount":7500000})");
  CHECK(deal.sent.method == "POST");
  CHECK(deal.sent.raw_path == "/api/v1/leads/crm-lead-1/deals");
  CheckApiKeys(deal.sent);
  CheckJsonBody(deal.sent);
  CHECK(Canon(deal.sent.body) == Canon(R"({"title":"Deal: Asha Rao","amount":7500000,
                                           "leadId":"crm-lead-1","propertyId":"p-7"})"));
  // The deal's own id must not replace the lead's link.
  CHECK((IdOf(deal.result).empty() || IdOf(deal.result) == "crm-lead-1"));
}

TEST_CASE("sunshine-reference: lookup by externalReference finds and misses") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  const SyncJob job = LeadJob(SampleLead());

  HttpRequest request;
  REQUIRE(adapter->mapping().BuildLookup(job, &request).ok());
  crm.Script(200, R"({"results":[{"id":"crm-lead-9","externalReference":"lead:42"}]})");
  HttpResponse response = Send(*adapter, request);
  RecordedRequest sent = crm.Take();
  CHECK(sent.method == "GET");
  CHECK(sent.raw_path == "/api/v1/leads");
  CHECK(sent.query == Query{{"externalReference", "lead:42"}});
  CHECK(sent.body.empty());
  CheckApiKeys(sent);
  std::optional<std::string> found;
  REQUIRE(adapter->mapping().ReadLookup(job, response, &found).ok());
  CHECK(found == std::optional<std::string>("crm-lead-9"));

  crm.Script(200, R"({"results":[]})");
  response = Send(*adapter, request);
  sent = crm.Take();
  CHECK(sent.query == Query{{"externalReference", "lead:42"}});
  found = std::string("stale");
  REQUIRE(adapter->mapping().ReadLookup(job, response, &found).ok());
  CHECK_FALSE(found.has_value());
}

TEST_CASE("sunshine-reference: property create, update and lookup") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  // The strategy's property table: location.city, location.locality, owner,
  // assignedAgent (dealerId while the directory has no CRM user), internalId.
  const std::string body = R"({"title":"2BHK in Baner","price":6800000,
      "location":{"city":"Pune","locality":"Baner"},"status":"%s","owner":"owner-1",
      "assignedAgent":"dealer-9","internalId":"p-7","externalReference":"property:p-7"})";
  auto expected = [&body](const std::string& status) {
    std::string out = body;
    out.replace(out.find("%s"), 2, status);
    return out;
  };

  const SyncJob create_job = PropertyJob(SampleProperty());
  CHECK(PlanOf(*adapter, create_job) == std::vector<StepKind>{StepKind::kCreate});
  const Exchange create =
      RunStep(*adapter, crm, create_job, StepKind::kCreate, 201, R"({"id":"crm-prop-1"})");
  CHECK(create.sent.method == "POST");
  CHECK(create.sent.raw_path == "/api/v1/properties");
  CheckApiKeys(create.sent);
  CheckJsonBody(create.sent);
  CHECK(Canon(create.sent.body) == Canon(expected("active")));
  CHECK(IdOf(create.result) == "crm-prop-1");

  Property sold = SampleProperty();
  sold.status = PropertyStatus::kSold;
  const SyncJob update_job = PropertyJob(sold, std::string("crm-prop-1"));
  CHECK(PlanOf(*adapter, update_job) == std::vector<StepKind>{StepKind::kUpdate});
  const Exchange update =
      RunStep(*adapter, crm, update_job, StepKind::kUpdate, 200, R"({"id":"crm-prop-1"})");
  CHECK(update.sent.method == "PUT");
  CHECK(update.sent.raw_path == "/api/v1/properties/crm-prop-1");
  CheckApiKeys(update.sent);
  CHECK(Canon(update.sent.body) == Canon(expected("sold")));

  HttpRequest lookup;
  REQUIRE(adapter->mapping().BuildLookup(create_job, &lookup).ok());
  crm.Script(200, R"({"results":[{"id":"crm-prop-1","externalReference":"property:p-7"}]})");
  const HttpResponse response = Send(*adapter, lookup);
  const RecordedRequest sent = crm.Take();
  CHECK(sent.method == "GET");
  CHECK(sent.raw_path == "/api/v1/properties");
  CHECK(sent.query == Query{{"externalReference", "property:p-7"}});
  std::optional<std::string> found;
  REQUIRE(adapter->mapping().ReadLookup(create_job, response, &found).ok());
  CHECK(found == std::optional<std::string>("crm-prop-1"));
}

TEST_CASE("sunshine-reference: every field of the strategy's lead table reaches the CRM") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  Lead lead = StrategyLead();
  SyncJob job = LeadJob(lead);
  // The CRM ids the engine resolved: the property's and the agent's.
  job.related = {{"property", "crm-prop-1"}, {"agent", "crm-user-3"}};
  const Exchange exchange =
      RunStep(*adapter, crm, job, StepKind::kCreate, 201, R"({"id":"crm-lead-1"})");
  JsonObject expected = ParseObject(SunshineLeadBody("new"));
  expected->set("assignedAgent", std::string("crm-user-3"));
  expected->set("utmSource", std::string("google_ads"));
  expected->set("relatedProperty", std::string("crm-prop-1"));
  expected->set("createdDate", std::string("2026-11-20T08:00:00Z"));
  CHECK(Canon(exchange.sent.body) == Canon(Stringify(expected)));

  // An inquiry's activity and a deal carry the property's CRM id too.
  SyncJob converted = StatusJob(lead, LeadStatus::kConverted, "crm-lead-1");
  converted.related = job.related;
  const Exchange deal =
      RunStep(*adapter, crm, converted, StepKind::kDeal, 201, R"({"id":"deal-1"})");
  CHECK(ParseObject(deal.sent.body)->getValue<std::string>("relatedProperty") == "crm-prop-1");

  // A source the CRM has no option for goes as its catch-all option.
  lead.source = "newspaper";
  const Exchange other =
      RunStep(*adapter, crm, LeadJob(lead), StepKind::kCreate, 201, R"({"id":"crm-lead-2"})");
  CHECK(ParseObject(other.sent.body)->getValue<std::string>("source") == "other");
}

TEST_CASE("sunshine-reference: a property's dealer goes as the CRM user the directory matched") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  SyncJob job = PropertyJob(SampleProperty());
  job.related = {{"propertyAgent", "crm-user-9"}};
  const Exchange exchange =
      RunStep(*adapter, crm, job, StepKind::kCreate, 201, R"({"id":"crm-prop-1"})");
  CHECK(Canon(exchange.sent.body) ==
        Canon(R"({"title":"2BHK in Baner","price":6800000,
                  "location":{"city":"Pune","locality":"Baner"},"status":"active",
                  "owner":"owner-1","assignedAgent":"crm-user-9","internalId":"p-7",
                  "externalReference":"property:p-7"})"));
}

// ===========================================================================
// Pagination and the users list, over real HTTP (mapping-format.md,
// "Pagination", "Users").

// The sunshine mapping with a lead lookup that lists every lead and pages with
// `paging`, matching on /externalReference.
std::string PagedLookupMapping(const testing::TempDir& dir, const std::string& paging) {
  JsonObject mapping = LoadMapping(kSunshine);
  JsonObject lookup = At(mapping, "/entities/lead/operations/lookup");
  lookup->remove("query");
  lookup->set("matchPointer", std::string("/externalReference"));
  lookup->set("paging", ParseAny(paging));
  return WriteMapping(dir, "paged.json", mapping);
}

// `status` failed as `code`, saying `fragment`.
void CheckFails(const Status& status, StatusCode code, const std::string& fragment) {
  CHECK(status.code() == code);
  CHECK_MESSAGE(status.message().find(fragment) != std::string::npos, status.ToString());
}

// Runs the engine's one lookup call through the plugin: build, send, classify, read.
Status PagedLookup(Adapter& adapter, const SyncJob& job, std::optional<std::string>* found,
                   HttpResponse* response = nullptr) {
  HttpRequest request;
  REQUIRE(adapter.mapping().BuildLookup(job, &request).ok());
  const HttpResponse answer = adapter.transport().Send(request);
  if (response != nullptr) *response = answer;
  // As the engine's JobRunner::Lookup: a 404 still goes to ReadLookup.
  const Status classified = adapter.Classify(request, answer);
  if (!classified.ok() && classified.code() != StatusCode::kNotFound) return classified;
  return adapter.mapping().ReadLookup(job, answer, found);
}

TEST_CASE("paging: a cursor-paged lookup finds the record on a later page") {
  RecordingCrm crm;
  testing::TempDir dir;
  std::unique_ptr<Adapter> adapter = NewAdapter(BaseSettings(
      PagedLookupMapping(dir, R"({"type": "cursor", "cursorPointer": "/next",
                                  "cursorParam": "after"})"),
      crm.url()));
  crm.Script(200, R"({"results":[{"id":"c1","externalReference":"lead:1"}],"next":"n2"})");
  crm.Script(200, R"({"results":[{"id":"c2","externalReference":"lead:2"}],"next":"n 3"})");
  crm.Script(200, R"({"results":[{"id":"c9","externalReference":"lead:42"}]})");
  std::optional<std::string> found;
  const Status status = PagedLookup(*adapter, LeadJob(SampleLead()), &found);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  CHECK(found.value_or("") == "c9");
  const std::vector<RecordedRequest> sent = crm.Drain();
  REQUIRE(sent.size() == 3);
  CHECK(sent[0].query.empty());
  CHECK(sent[1].query == Query{{"after", "n2"}});
  CHECK(sent[2].query == Query{{"after", "n 3"}});
  for (const RecordedRequest& request : sent) {
    CheckApiKeys(request);
    CHECK_FALSE(request.HasHeader("X-Crmsync-Lookup-Reference"));  // internal, never sent
  }
}

TEST_CASE("paging: page numbers stop at a short page, an empty one or has-more false") {
  RecordingCrm crm;
  testing::TempDir dir;
  std::unique_ptr<Adapter> adapter = NewAdapter(BaseSettings(
      PagedLookupMapping(dir, R"({"type": "page", "pageParam": "page", "pageSize": 2,
                                  "hasMorePointer": "/more"})"),
      crm.url()));
  const SyncJob job = LeadJob(SampleLead());
  std::optional<std::string> found;
  // Short page: not found after two pages.
  crm.Script(200, R"({"results":[{"id":"a","externalReference":"lead:1"},
                                 {"id":"b","externalReference":"lead:2"}],"more":true})");
  crm.Script(200, R"({"results":[{"id":"c","externalReference":"lead:3"}],"more":true})");
  REQUIRE(PagedLookup(*adapter, job, &found).ok());
  CHECK_FALSE(found.has_value());
  std::vector<RecordedRequest> sent = crm.Drain();
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].query == Query{{"page", "1"}});
  CHECK(sent[1].query == Query{{"page", "2"}});
  // has-more false ends a full page.
  crm.Script(200, R"({"results":[{"id":"a","externalReference":"lead:1"},
                                 {"id":"b","externalReference":"lead:2"}],"more":false})");
  REQUIRE(PagedLookup(*adapter, job, &found).ok());
  CHECK_FALSE(found.has_value());
  CHECK(crm.Drain().size() == 1);
  // Found on the second page.
  crm.Script(200, R"({"results":[{"id":"a","externalReference":"lead:1"},
                                 {"id":"b","externalReference":"lead:2"}],"more":true})");
  crm.Script(200, R"({"results":[{"id":"z","externalReference":"lead:42"}],"more":false})");
  REQUIRE(PagedLookup(*adapter, job, &found).ok());
  CHECK(found.value_or("") == "z");
  CHECK(crm.Drain().size() == 2);
}

TEST_CASE("paging: the Link header's next page is followed, on the CRM's origin only") {
  RecordingCrm crm;
  testing::TempDir dir;
  std::unique_ptr<Adapter> adapter = NewAdapter(
      BaseSettings(PagedLookupMapping(dir, R"({"type": "link"})"), crm.url()));
  const SyncJob job = LeadJob(SampleLead());
  crm.Script(200, R"({"results":[{"id":"a","externalReference":"lead:1"}]})",
             {{"Link", "<" + crm.url() + "/api/v1/leads?page=2&per_page=1>; rel=\"next\", <" +
                           crm.url() + "/api/v1/leads?page=5>; rel=\"last\""}});
  crm.Script(200, R"({"results":[{"id":"b","externalReference":"lead:42"}]})",
             {{"Link", "</api/v1/leads?page=3>; rel=\"next\""}});
  std::optional<std::string> found;
  REQUIRE(PagedLookup(*adapter, job, &found).ok());
  CHECK(found.value_or("") == "b");
  std::vector<RecordedRequest> sent = crm.Drain();
  REQUIRE(sent.size() == 2);
  CHECK(sent[1].raw_path == "/api/v1/leads");
  CHECK(sent[1].query == Query{{"page", "2"}, {"per_page", "1"}});
  CheckApiKeys(sent[1]);

  // A next page on another host would take our credentials there: unknown.
  crm.Script(200, R"({"results":[{"id":"a","externalReference":"lead:1"}]})",
             {{"Link", "<https://elsewhere.example/api/v1/leads?page=2>; rel=\"next\""}});
  const Status status = PagedLookup(*adapter, job, &found);
  CheckFails(status, StatusCode::kRetryable, "another origin");
  CHECK(crm.Drain().size() == 1);
}

TEST_CASE("paging: nextPath follows the answer's next-page path, on crm.api.url only") {
  // Salesforce's SOQL answer: {"done": false, "nextRecordsUrl": "/services/...-2000"}.
  RecordingCrm crm;
  testing::TempDir dir;
  const std::string paging = R"({"type": "nextPath", "nextPointer": "/nextRecordsUrl"})";
  std::unique_ptr<Adapter> adapter =
      NewAdapter(BaseSettings(PagedLookupMapping(dir, paging), crm.url()));
  const SyncJob job = LeadJob(SampleLead());
  crm.Script(200, R"({"results":[{"id":"a","externalReference":"lead:1"}],
                      "nextRecordsUrl":"/api/v1/leads/01gA-1"})");
  crm.Script(200, R"({"results":[{"id":"b","externalReference":"lead:2"}],
                      "nextRecordsUrl":"/api/v1/leads/01gA-2?x=1"})");
  crm.Script(200, R"({"results":[{"id":"c","externalReference":"lead:42"}],
                      "nextRecordsUrl":null})");
  std::optional<std::string> found;
  REQUIRE(PagedLookup(*adapter, job, &found).ok());
  CHECK(found.value_or("") == "c");
  std::vector<RecordedRequest> sent = crm.Drain();
  REQUIRE(sent.size() == 3);
  CHECK(sent[1].raw_path == "/api/v1/leads/01gA-1");
  CHECK(sent[1].query.empty());
  CHECK(sent[2].raw_path == "/api/v1/leads/01gA-2");
  CHECK(sent[2].query == Query{{"x", "1"}});
  CheckApiKeys(sent[2]);

  // No next path (absent, or "") is the last page: not found.
  crm.Script(200, R"({"results":[{"id":"a","externalReference":"lead:1"}],
                      "nextRecordsUrl":""})");
  REQUIRE(PagedLookup(*adapter, job, &found).ok());
  CHECK_FALSE(found.has_value());
  crm.Drain();

  // Elsewhere, or not a string: unknown, and nothing is sent there.
  crm.Script(200, R"({"results":[],"nextRecordsUrl":"https://elsewhere.example/api/v1/leads/2"})");
  CheckFails(PagedLookup(*adapter, job, &found), StatusCode::kRetryable,
             "the next page at /nextRecordsUrl is on another origin");
  CHECK(crm.Drain().size() == 1);
  crm.Script(200, R"({"results":[],"nextRecordsUrl":{"path":"/x"}})");
  CheckFails(PagedLookup(*adapter, job, &found), StatusCode::kRetryable,
             "the next page at /nextRecordsUrl is not a string");
  CHECK(crm.Drain().size() == 1);
  testing::TempDir based;
  std::unique_ptr<Adapter> under =
      NewAdapter(BaseSettings(PagedLookupMapping(based, paging), crm.url() + "/crm"));
  crm.Script(200, R"({"results":[],"nextRecordsUrl":"/admin/leads/2"})");
  CheckFails(PagedLookup(*under, job, &found), StatusCode::kRetryable,
             "the next page at /nextRecordsUrl is outside crm.api.url's path /crm");
  CHECK(crm.Drain().size() == 1);
  crm.Script(200, R"({"results":[],"nextRecordsUrl":"/crm/api/v1/leads/2"})");
  crm.Script(200, R"({"results":[]})");
  REQUIRE(PagedLookup(*under, job, &found).ok());
  sent = crm.Drain();
  REQUIRE(sent.size() == 2);
  CHECK(sent[1].raw_path == "/crm/api/v1/leads/2");
}

TEST_CASE("paging: a page that fails makes the lookup unknown, never not found") {
  RecordingCrm crm;
  testing::TempDir dir;
  std::unique_ptr<Adapter> adapter = NewAdapter(BaseSettings(
      PagedLookupMapping(dir, R"({"type": "cursor", "cursorPointer": "/next",
                                  "cursorParam": "after", "maxPages": 2})"),
      crm.url()));
  const SyncJob job = LeadJob(SampleLead());
  std::optional<std::string> found;
  // Page 2 is a 503: the engine sees the 503 (retried), not "not found".
  crm.Script(200, R"({"results":[],"next":"n2"})");
  crm.Script(503, R"({"message":"busy"})");
  Status status = PagedLookup(*adapter, job, &found);
  CHECK(status.code() == StatusCode::kRetryable);
  CHECK_FALSE(found.has_value());
  // Page 2 is not the shape the mapping reads.
  crm.Drain();
  crm.Script(200, R"({"results":[],"next":"n2"})");
  crm.Script(200, R"({"items":[]})");
  status = PagedLookup(*adapter, job, &found);
  CheckFails(status, StatusCode::kRetryable, "expected an array at /results");
  // More pages than maxPages: unknown, naming the bound.
  crm.Drain();
  crm.Script(200, R"({"results":[],"next":"n2"})");
  crm.Script(200, R"({"results":[],"next":"n3"})");
  status = PagedLookup(*adapter, job, &found);
  CheckFails(status, StatusCode::kRetryable, "paging.maxPages (2)");
  CHECK(crm.Drain().size() == 2);
  // Page 2 is a 404 (an expired cursor): unknown, not "no such record", or
  // the engine would create the lead again.
  crm.Script(200, R"({"results":[],"next":"n2"})");
  crm.Script(404, R"({"message":"cursor expired"})");
  status = PagedLookup(*adapter, job, &found);
  CHECK(status.code() == StatusCode::kRetryable);
  CHECK_FALSE(found.has_value());
  CHECK(crm.Drain().size() == 2);
  // A cursor that points at the page just read: unknown after two requests,
  // not maxPages of them.
  crm.Script(200, R"({"results":[],"next":"n2"})");
  crm.Script(200, R"({"results":[],"next":"n2"})");
  status = PagedLookup(*adapter, job, &found);
  CheckFails(status, StatusCode::kRetryable, "the CRM's next page is the page just read");
  CHECK(crm.Drain().size() == 2);
  // A first page's own 404 is still "no such record".
  crm.Script(404, R"({"message":"no leads"})");
  REQUIRE(PagedLookup(*adapter, job, &found).ok());
  CHECK_FALSE(found.has_value());
}

TEST_CASE("paging: a next page the answer cannot say is unknown, never not found") {
  RecordingCrm crm;
  testing::TempDir dir;
  const SyncJob job = LeadJob(SampleLead());
  std::optional<std::string> found;
  // A cursor that is an object.
  std::unique_ptr<Adapter> cursor = NewAdapter(BaseSettings(
      PagedLookupMapping(dir, R"({"type": "cursor", "cursorPointer": "/next",
                                  "cursorParam": "after"})"),
      crm.url()));
  crm.Script(200, R"({"results":[],"next":{"after":"n2"}})");
  CheckFails(PagedLookup(*cursor, job, &found), StatusCode::kRetryable,
             "neither a string nor a number");
  CHECK(crm.Drain().size() == 1);
  // A has-more flag that is not a boolean; a page without the array.
  testing::TempDir other;
  std::unique_ptr<Adapter> pages = NewAdapter(BaseSettings(
      PagedLookupMapping(other, R"({"type": "page", "pageParam": "p", "hasMorePointer": "/more"})"),
      crm.url()));
  crm.Script(200, R"({"results":[{"id":"a","externalReference":"lead:1"}],"more":"yes"})");
  CheckFails(PagedLookup(*pages, job, &found), StatusCode::kRetryable,
             "expected true or false at /more");
  crm.Drain();
  // A Link outside crm.api.url's path.
  testing::TempDir based;
  Settings settings = BaseSettings(PagedLookupMapping(based, R"({"type": "link"})"),
                                   crm.url() + "/crm");
  std::unique_ptr<Adapter> link = NewAdapter(settings);
  crm.Script(200, R"({"results":[]})", {{"Link", "</admin/leads?page=2>; rel=\"next\""}});
  CheckFails(PagedLookup(*link, job, &found), StatusCode::kRetryable, "outside crm.api.url's path");
  const std::vector<RecordedRequest> sent = crm.Drain();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].raw_path == "/crm/api/v1/leads");
  CHECK_FALSE(found.has_value());
}

TEST_CASE("users: sunshine-reference lists every user across cursor pages") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  crm.Script(200, R"({"results":[{"id":"u1","email":"a@crm.test","platformId":"agent-3",
                                  "active":true},
                                 {"id":"u2","email":"b@crm.test","active":false}],
                      "nextCursor":"2"})");
  crm.Script(200, R"({"results":[{"id":"u3"}]})");
  std::vector<CrmUser> users;
  const Status status = adapter->ListUsers(&users);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  REQUIRE(users.size() == 3);
  CHECK(users[0].id == "u1");
  CHECK(users[0].email == "a@crm.test");
  CHECK(users[0].platform_id == "agent-3");
  CHECK(users[0].active);
  CHECK_FALSE(users[1].active);
  CHECK(users[2].id == "u3");
  CHECK(users[2].email.empty());
  CHECK(users[2].active);
  const std::vector<RecordedRequest> sent = crm.Drain();
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].method == "GET");
  CHECK(sent[0].raw_path == "/api/v1/users");
  CHECK(sent[0].query == Query{{"limit", "100"}});
  CHECK(sent[1].query == Query{{"limit", "100"}, {"cursor", "2"}});
  CheckApiKeys(sent[1]);
}

TEST_CASE("users: hubspot lists owners, archived ones inactive, paged by paging.next.after") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  // HubSpot's documented owners answer.
  crm.Script(200, R"({"results":[{"id":"77001","email":"asha.agent@example.com",
                                  "firstName":"Asha","lastName":"Agent","userId":9001,
                                  "createdAt":"2026-01-01T00:00:00Z","archived":false}],
                      "paging":{"next":{"after":"MTAw","link":"?after=MTAw"}}})");
  crm.Script(200, R"({"results":[{"id":"77002","email":"old@example.com","archived":true}]})");
  std::vector<CrmUser> users;
  REQUIRE(adapter->ListUsers(&users).ok());
  REQUIRE(users.size() == 2);
  CHECK(users[0].id == "77001");
  CHECK(users[0].email == "asha.agent@example.com");
  CHECK(users[0].active);
  CHECK_FALSE(users[1].active);
  const std::vector<RecordedRequest> sent = crm.Drain();
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].raw_path == "/crm/v3/owners");
  CHECK(sent[1].query == Query{{"limit", "100"}, {"archived", "false"}, {"after", "MTAw"}});
  CheckBearer(sent[1]);
}

TEST_CASE("users: a refused page, a user without an id or too many pages fail the list") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  std::vector<CrmUser> users = {CrmUser{"kept", "", "", true}};
  crm.Script(200, R"({"results":[{"id":"u1"}],"nextCursor":"1"})");
  crm.Script(401, R"({"message":"invalid API credentials"})");
  Status status = adapter->ListUsers(&users);
  CHECK(status.code() == StatusCode::kUnauthenticated);
  CHECK(status.message().rfind("users.list: ", 0) == 0);
  CHECK(users.size() == 1);  // left as it was
  crm.Drain();
  crm.Script(200, R"({"results":[{"id":"u1"},{"email":"x@crm.test"}]})");
  status = adapter->ListUsers(&users);
  CHECK(status.code() == StatusCode::kPermanent);
  CHECK(status.message() == "users.list: page 1 item 1: no user id at /id");
  crm.Drain();
  crm.Script(200, R"({"users":[]})");
  status = adapter->ListUsers(&users);
  CheckFails(status, StatusCode::kPermanent, "expected an array of users at /results");
  crm.Drain();

  testing::TempDir dir;
  JsonObject mapping = LoadMapping(kSunshine);
  At(mapping, "/users/list/paging")->set("maxPages", 2);
  std::unique_ptr<Adapter> bounded =
      NewAdapter(BaseSettings(WriteMapping(dir, "bounded.json", mapping), crm.url()));
  crm.Script(200, R"({"results":[{"id":"u1"}],"nextCursor":"1"})");
  crm.Script(200, R"({"results":[{"id":"u2"}],"nextCursor":"2"})");
  status = bounded->ListUsers(&users);
  CheckFails(status, StatusCode::kPermanent, "more than paging.maxPages (2) pages");
  CHECK(crm.Drain().size() == 2);
}

TEST_CASE("users: a mapping without a users list cannot list users") {
  RecordingCrm crm;
  testing::TempDir dir;
  JsonObject mapping = LoadMapping(kSunshine);
  mapping->remove("users");
  std::unique_ptr<Adapter> adapter =
      NewAdapter(BaseSettings(WriteMapping(dir, "no-users.json", mapping), crm.url()));
  std::vector<CrmUser> users;
  CHECK(adapter->ListUsers(&users).code() == StatusCode::kNotFound);
  CHECK(crm.requests().empty());
}

TEST_CASE("sunshine-reference: webhook registration posts url, events and secret") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  WebhookRegistration registration;
  registration.url = "https://crmsync.example.com/api/crm/webhook";
  registration.events = {"lead.updated", "lead.status_changed", "property.updated"};
  registration.secret = "hook-secret-1";
  HttpRequest request;
  const Status built = adapter->mapping().BuildWebhookRegistration(registration, &request);
  REQUIRE_MESSAGE(built.ok(), built.ToString());
  crm.Script(201, R"({"id":"wh-1"})");
  const HttpResponse response = Send(*adapter, request);
  CHECK(response.status == 201);
  CHECK(adapter->Classify(request, response).ok());
  const RecordedRequest sent = crm.Take();
  CHECK(sent.method == "POST");
  CHECK(sent.raw_path == "/api/v1/webhooks");
  CHECK(sent.query.empty());
  CheckApiKeys(sent);
  CheckJsonBody(sent);
  CHECK(Canon(sent.body) == Canon(R"({"url":"https://crmsync.example.com/api/crm/webhook",
                  "events":["lead.updated","lead.status_changed","property.updated"],
                  "secret":"hook-secret-1"})"));
}

// Parses `body` as a webhook of the sunshine mapping; fails the case on error.
std::vector<InboundChange> ParseHook(Adapter& adapter, const std::string& body,
                                     const std::string& event = "lead.updated") {
  WebhookDelivery delivery;
  delivery.headers = {{"X-CRM-Secret", "hook-secret-1"},
                      {"X-CRM-Event", event},
                      {"Content-Type", "application/json"}};
  delivery.body = body;
  std::vector<InboundChange> changes;
  const Status status = adapter.mapping().ParseWebhook(delivery, &changes);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  return changes;
}

TEST_CASE("sunshine-reference: the strategy's webhook example maps back to CONVERTED") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  const std::vector<InboundChange> changes =
      ParseHook(*adapter, R"({"event":"lead.updated","entityId":"crm_lead_id",
                    "data":{"status":"converted","notes":"Property booked","assignedAgent":"agent_123"}})");
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].crm_event == "lead.updated");
  CHECK(changes[0].entity_kind == EntityKind::kLead);
  CHECK(changes[0].external_id == "crm_lead_id");
  CHECK(Canon(changes[0].fields_json) ==
        Canon(R"({"status":"CONVERTED","notes":"Property booked","assignedToId":"agent_123"})"));
  CHECK_FALSE(changes[0].updated_at.has_value());
}

TEST_CASE("sunshine-reference: won, closed_won and closed_lost map back, with every lead field") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  const struct {
    const char* crm_status;
    const char* platform_status;
  } kCases[] = {{"won", "CONVERTED"},
                {"closed_won", "CONVERTED"},
                {"converted", "CONVERTED"},
                {"closed_lost", "LOST"},
                {"lost", "LOST"},
                {"viewing_scheduled", "VIEWING_SCHEDULED"},
                {"new", "NEW"}};
  for (const auto& c : kCases) {
    CAPTURE(c.crm_status);
    const std::vector<InboundChange> changes = ParseHook(
        *adapter,
        std::string(R"({"event":"lead.status_changed","entityId":"L-1","data":{"status":")") +
            c.crm_status + R"("}})",
        "lead.status_changed");
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].crm_event == "lead.status_changed");
    CHECK(Canon(changes[0].fields_json) ==
          Canon(std::string(R"({"status":")") + c.platform_status + "\"}"));
  }

  const std::vector<InboundChange> full =
      ParseHook(*adapter, R"({"event":"lead.updated","entityId":"L-2",
                    "data":{"status":"qualified","name":"Asha Rao","email":"asha@example.com",
                            "phone":"+919800000000","source":"website",
                            "budgetRange":{"min":5000000,"max":7500000},
                            "preferredAreas":["Baner","Wakad"],"notes":"Call back",
                            "assignedAgent":"agent-3","updatedAt":"2026-11-23T10:15:00Z"}})");
  REQUIRE(full.size() == 1);
  CHECK(full[0].external_id == "L-2");
  CHECK(Canon(full[0].fields_json) ==
        Canon(R"({"status":"QUALIFIED","name":"Asha Rao","email":"asha@example.com",
                  "phone":"+919800000000","source":"website","budgetMin":5000000,
                  "budgetMax":7500000,"preferredLocation":["Baner","Wakad"],
                  "notes":"Call back","assignedToId":"agent-3"})"));
  CHECK(full[0].updated_at == std::optional<std::string>("2026-11-23T10:15:00Z"));
}

TEST_CASE("sunshine-reference: property webhooks map back and unknown events are ignored") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kSunshine, crm);
  const std::vector<InboundChange> changes =
      ParseHook(*adapter, R"({"event":"property.updated","entityId":"P-1",
                    "data":{"status":"sold","price":7000000,"title":"2BHK in Baner"}})",
                "property.updated");
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].entity_kind == EntityKind::kProperty);
  CHECK(changes[0].external_id == "P-1");
  CHECK(Canon(changes[0].fields_json) ==
        Canon(R"({"status":"SOLD","price":7000000,"title":"2BHK in Baner"})"));

  CHECK(
      ParseHook(*adapter, R"({"event":"lead.deleted","entityId":"L-1","data":{}})", "lead.deleted")
          .empty());

  WebhookDelivery broken;
  broken.body = "{not json";
  std::vector<InboundChange> none;
  const Status status = adapter->mapping().ParseWebhook(broken, &none);
  CHECK(status.code() == StatusCode::kInvalidRecord);
  CHECK(none.empty());
}

// ===========================================================================
// hubspot.json: HubSpot CRM v3 objects API.

TEST_CASE("hubspot: the plugin describes the mapping's capabilities") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  const PluginInfo info = adapter->Info();
  CHECK(info.capabilities.lookup_by_reference);
  CHECK(info.capabilities.max_batch_size == 100);
  CHECK_FALSE(info.capabilities.webhook_registration);

  WebhookRegistration registration;
  registration.url = "https://crmsync.example.com/api/crm/webhook";
  registration.events = {"contact.propertyChange"};
  HttpRequest request;
  CHECK_FALSE(adapter->mapping().BuildWebhookRegistration(registration, &request).ok());
}

TEST_CASE("hubspot: a lead create posts a contact whose properties are all strings") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  const SyncJob job = LeadJob(SampleLead());
  const Exchange exchange =
      RunStep(*adapter, crm, job, StepKind::kCreate, 201,
              R"({"id":"501","properties":{"crmsync_reference":"lead:42","hs_object_id":"501"},
          "createdAt":"2026-11-23T10:15:00Z","archived":false})");
  CHECK(exchange.sent.method == "POST");
  CHECK(exchange.sent.raw_path == "/crm/v3/objects/contacts");
  CHECK(exchange.sent.query.empty());
  CheckBearer(exchange.sent);
  CheckJsonBody(exchange.sent);
  CHECK(Canon(exchange.sent.body) ==
        Canon(R"({"properties":)" +
              HubSpotProperties("42", "Asha Rao", "asha@example.com", "NEW", "NEW", "lead") + "}"));
  CheckAllStrings(exchange.sent.body);
  CHECK(IdOf(exchange.result) == "501");
}

TEST_CASE("hubspot: status updates PATCH the contact with lead status and lifecycle stage") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  const struct {
    LeadStatus status;
    const char* platform;
    const char* lead_status;
    const char* lifecycle;
  } kCases[] = {
      {LeadStatus::kContacted, "CONTACTED", "CONNECTED", "lead"},
      {LeadStatus::kQualified, "QUALIFIED", "OPEN", "salesqualifiedlead"},
      {LeadStatus::kViewingScheduled, "VIEWING_SCHEDULED", "IN_PROGRESS", "salesqualifiedlead"},
      {LeadStatus::kNegotiating, "NEGOTIATING", "IN_PROGRESS", "opportunity"},
      {LeadStatus::kConverted, "CONVERTED", "OPEN_DEAL", "customer"},
      {LeadStatus::kLost, "LOST", "UNQUALIFIED", ""},  // lifecycle never moves back
  };
  for (const auto& c : kCases) {
    CAPTURE(c.platform);
    const SyncJob job = StatusJob(SampleLead(), c.status, "501");
    const Exchange exchange =
        RunStep(*adapter, crm, job, StepKind::kUpdate, 200, R"({"id":"501","properties":{}})");
    CHECK(exchange.sent.method == "PATCH");
    CHECK(exchange.sent.raw_path == "/crm/v3/objects/contacts/501");
    CheckBearer(exchange.sent);
    CheckJsonBody(exchange.sent);
    CHECK(Canon(exchange.sent.body) ==
          Canon(R"({"properties":)" +
                HubSpotProperties("42", "Asha Rao", "asha@example.com", c.platform, c.lead_status,
                                  c.lifecycle) +
                "}"));
    CheckAllStrings(exchange.sent.body);
  }
}

TEST_CASE("hubspot: VIEWED logs a note associated with the contact") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  const SyncJob job = StatusJob(SampleLead(), LeadStatus::kViewed, "501");
  CHECK(PlanOf(*adapter, job) == std::vector<StepKind>{StepKind::kUpdate, StepKind::kActivity});
  const Exchange exchange =
      RunStep(*adapter, crm, job, StepKind::kActivity, 201, R"({"id":"note-77","properties":{}})");
  CHECK(exchange.sent.method == "POST");
  CHECK(exchange.sent.raw_path == "/crm/v3/objects/notes");
  CheckBearer(exchange.sent);
  CheckJsonBody(exchange.sent);
  CheckAllStrings(exchange.sent.body);
  CHECK(
      Canon(WithoutTimestamp(exchange.sent.body, "properties", "hs_timestamp")) ==
      Canon(
          R"({"properties":{"hs_note_body":"<p>crmsync lead.status_changed: lead is VIEWED</p><p>Wants 2BHK</p><p></p>"},
                  "associations":[{"to":{"id":"501"},
                    "types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":202}]}]})"));
  CHECK((IdOf(exchange.result).empty() || IdOf(exchange.result) == "501"));
}

TEST_CASE("hubspot: CONVERTED opens a closed-won deal associated with the contact") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  const SyncJob job = StatusJob(SampleLead(), LeadStatus::kConverted, "501");
  CHECK(PlanOf(*adapter, job) == std::vector<StepKind>{StepKind::kUpdate, StepKind::kDeal});
  const Exchange exchange =
      RunStep(*adapter, crm, job, StepKind::kDeal, 201, R"({"id":"deal-88","properties":{}})");
  CHECK(exchange.sent.method == "POST");
  CHECK(exchange.sent.raw_path == "/crm/v3/objects/deals");
  CheckBearer(exchange.sent);
  CheckJsonBody(exchange.sent);
  CheckAllStrings(exchange.sent.body);
  CHECK(Canon(WithoutTimestamp(exchange.sent.body, "properties", "closedate")) ==
        Canon(R"({"properties":{"dealname":"Deal: Asha Rao","amount":"7500000",
                                "pipeline":"default","dealstage":"closedwon"},
                  "associations":[{"to":{"id":"501"},
                    "types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":3}]}]})"));
  // The deal's own id must not replace the contact's link.
  CHECK((IdOf(exchange.result).empty() || IdOf(exchange.result) == "501"));
}

TEST_CASE("hubspot: lookup searches contacts by crmsync_reference, found and not found") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  const SyncJob job = LeadJob(SampleLead());
  HttpRequest request;
  REQUIRE(adapter->mapping().BuildLookup(job, &request).ok());
  const std::string expected =
      R"({"filterGroups":[{"filters":[{"propertyName":"crmsync_reference","operator":"EQ",
                                       "value":"lead:42"}]}],
          "properties":["crmsync_reference"],"limit":1})";

  crm.Script(
      200, R"({"total":1,"results":[{"id":"501","properties":{"crmsync_reference":"lead:42"}}]})");
  HttpResponse response = Send(*adapter, request);
  RecordedRequest sent = crm.Take();
  CHECK(sent.method == "POST");
  CHECK(sent.raw_path == "/crm/v3/objects/contacts/search");
  CHECK(sent.query.empty());
  CheckBearer(sent);
  CheckJsonBody(sent);
  CHECK(Canon(sent.body) == Canon(expected));
  std::optional<std::string> found;
  REQUIRE(adapter->mapping().ReadLookup(job, response, &found).ok());
  CHECK(found == std::optional<std::string>("501"));

  crm.Script(200, R"({"total":0,"results":[]})");
  response = Send(*adapter, request);
  sent = crm.Take();
  CHECK(Canon(sent.body) == Canon(expected));
  found = std::string("stale");
  REQUIRE(adapter->mapping().ReadLookup(job, response, &found).ok());
  CHECK_FALSE(found.has_value());
}

TEST_CASE("hubspot: properties are listings, created, updated and looked up") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  auto expected = [](const std::string& status) {
    return R"({"properties":{"hs_name":"2BHK in Baner","hs_price":"6800000","hs_city":"Pune",
               "hs_neighborhood":"Baner","crmsync_reference":"property:p-7",
               "crmsync_owner":"owner-1","crmsync_internal_id":"p-7",
               "crmsync_status":")" +
           status + R"("}})";
  };
  const SyncJob create_job = PropertyJob(SampleProperty());
  const Exchange create = RunStep(*adapter, crm, create_job, StepKind::kCreate, 201,
                                  R"({"id":"9001","properties":{}})");
  CHECK(create.sent.method == "POST");
  CHECK(create.sent.raw_path == "/crm/v3/objects/0-420");
  CheckBearer(create.sent);
  CheckJsonBody(create.sent);
  CheckAllStrings(create.sent.body);
  CHECK(Canon(create.sent.body) == Canon(expected("ACTIVE")));
  CHECK(IdOf(create.result) == "9001");

  Property sold = SampleProperty();
  sold.status = PropertyStatus::kSold;
  const Exchange update = RunStep(*adapter, crm, PropertyJob(sold, std::string("9001")),
                                  StepKind::kUpdate, 200, R"({"id":"9001","properties":{}})");
  CHECK(update.sent.method == "PATCH");
  CHECK(update.sent.raw_path == "/crm/v3/objects/0-420/9001");
  CHECK(Canon(update.sent.body) == Canon(expected("SOLD")));

  HttpRequest lookup;
  REQUIRE(adapter->mapping().BuildLookup(create_job, &lookup).ok());
  crm.Script(200, R"({"total":1,"results":[{"id":"9001","properties":{}}]})");
  const HttpResponse response = Send(*adapter, lookup);
  const RecordedRequest sent = crm.Take();
  CHECK(sent.method == "POST");
  CHECK(sent.raw_path == "/crm/v3/objects/0-420/search");
  CHECK(Canon(sent.body) ==
        Canon(R"({"filterGroups":[{"filters":[{"propertyName":"crmsync_reference",
                   "operator":"EQ","value":"property:p-7"}]}],
                  "properties":["crmsync_reference"],"limit":1})"));
  std::optional<std::string> found;
  REQUIRE(adapter->mapping().ReadLookup(create_job, response, &found).ok());
  CHECK(found == std::optional<std::string>("9001"));
}

// Three leads for the batch cases: 42, 43, 44 with their own names and emails.
std::vector<SyncJob> BatchJobs(bool update) {
  std::vector<SyncJob> jobs;
  const char* const kIds[] = {"42", "43", "44"};
  for (int i = 0; i < 3; ++i) {
    Lead lead = SampleLead(kIds[i]);
    lead.name = std::string("Lead ") + kIds[i];
    lead.email = std::string("lead") + kIds[i] + "@example.com";
    if (update) {
      lead.status = LeadStatus::kQualified;
      jobs.push_back(LeadJob(lead, EventType::kLeadStatusChanged, std::string("6") + kIds[i]));
    } else {
      jobs.push_back(LeadJob(lead));
    }
  }
  return jobs;
}

std::string BatchProperties(const std::string& id, bool update) {
  return HubSpotProperties(id, "Lead " + id, "lead" + id + "@example.com",
                           update ? "QUALIFIED" : "NEW", update ? "OPEN" : "NEW",
                           update ? "salesqualifiedlead" : "lead");
}

TEST_CASE("hubspot: batch create sends inputs and a failed item does not fail the others") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  const std::vector<SyncJob> jobs = BatchJobs(false);
  HttpRequest request;
  const Status built = adapter->mapping().BuildBatch(jobs, StepKind::kCreate, &request);
  REQUIRE_MESSAGE(built.ok(), built.ToString());
  // 207 Multi-Status: results out of order, lead:44 refused.
  crm.Script(207, R"({"status":"COMPLETE","numErrors":1,
      "results":[{"id":"643","properties":{"crmsync_reference":"lead:43"},"objectWriteTraceId":"lead:43"},
                 {"id":"642","properties":{"crmsync_reference":"lead:42"},"objectWriteTraceId":"lead:42"}],
      "errors":[{"status":"error","category":"VALIDATION_ERROR",
                 "message":"Property values were not valid","context":{"objectWriteTraceId":["lead:44"]}}]})");
  const HttpResponse response = Send(*adapter, request);
  CHECK(response.status == 207);
  CHECK(adapter->Classify(request, response).ok());
  const RecordedRequest sent = crm.Take();
  CHECK(sent.method == "POST");
  CHECK(sent.raw_path == "/crm/v3/objects/contacts/batch/create");
  CHECK(sent.query.empty());
  CheckBearer(sent);
  CheckJsonBody(sent);
  CHECK(Canon(sent.body) ==
        Canon(R"({"inputs":[{"objectWriteTraceId":"lead:42","properties":)" +
              BatchProperties("42", false) + R"(},{"objectWriteTraceId":"lead:43","properties":)" +
              BatchProperties("43", false) + R"(},{"objectWriteTraceId":"lead:44","properties":)" +
              BatchProperties("44", false) + "}]}"));
  JsonArray inputs = ParseObject(sent.body)->getArray("inputs");
  REQUIRE(inputs);
  for (unsigned int i = 0; i < inputs->size(); ++i) {
    CheckAllStrings(Stringify(inputs->get(i)));
  }

  std::vector<Status> statuses;
  std::vector<StepResult> results;
  const Status read =
      adapter->mapping().ReadBatch(jobs, StepKind::kCreate, response, &statuses, &results);
  REQUIRE_MESSAGE(read.ok(), read.ToString());
  REQUIRE(statuses.size() == 3);
  REQUIRE(results.size() == 3);
  CHECK_MESSAGE(statuses[0].ok(), statuses[0].ToString());
  CHECK(IdOf(results[0]) == "642");
  CHECK_MESSAGE(statuses[1].ok(), statuses[1].ToString());
  CHECK(IdOf(results[1]) == "643");
  CHECK_FALSE(statuses[2].ok());
  CHECK_FALSE(results[2].external_id.has_value());
}

TEST_CASE(
    "hubspot: batch update sends ids with properties and a failed item does not fail the others") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  const std::vector<SyncJob> jobs = BatchJobs(true);
  HttpRequest request;
  const Status built = adapter->mapping().BuildBatch(jobs, StepKind::kUpdate, &request);
  REQUIRE_MESSAGE(built.ok(), built.ToString());
  crm.Script(207, R"({"status":"COMPLETE","numErrors":1,
      "results":[{"id":"644","properties":{"crmsync_reference":"lead:44"}},
                 {"id":"642","properties":{"crmsync_reference":"lead:42"}}],
      "errors":[{"status":"error","category":"OBJECT_NOT_FOUND","message":"Object not found",
                 "context":{"ids":["643"]}}]})");
  const HttpResponse response = Send(*adapter, request);
  CHECK(response.status == 207);
  const RecordedRequest sent = crm.Take();
  CHECK(sent.method == "POST");
  CHECK(sent.raw_path == "/crm/v3/objects/contacts/batch/update");
  CheckBearer(sent);
  CheckJsonBody(sent);
  CHECK(Canon(sent.body) ==
        Canon(R"({"inputs":[{"id":"642","properties":)" + BatchProperties("42", true) +
              R"(},{"id":"643","properties":)" + BatchProperties("43", true) +
              R"(},{"id":"644","properties":)" + BatchProperties("44", true) + "}]}"));

  std::vector<Status> statuses;
  std::vector<StepResult> results;
  const Status read =
      adapter->mapping().ReadBatch(jobs, StepKind::kUpdate, response, &statuses, &results);
  REQUIRE_MESSAGE(read.ok(), read.ToString());
  REQUIRE(statuses.size() == 3);
  REQUIRE(results.size() == 3);
  CHECK_MESSAGE(statuses[0].ok(), statuses[0].ToString());
  CHECK((IdOf(results[0]).empty() || IdOf(results[0]) == "642"));
  CHECK_FALSE(statuses[1].ok());
  CHECK_MESSAGE(statuses[2].ok(), statuses[2].ToString());
  CHECK((IdOf(results[2]).empty() || IdOf(results[2]) == "644"));
}

TEST_CASE("hubspot: a batch larger than maxSize is refused") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  std::vector<SyncJob> jobs;
  for (int i = 0; i < 101; ++i) jobs.push_back(LeadJob(SampleLead(std::to_string(1000 + i))));
  HttpRequest request;
  CHECK_FALSE(adapter->mapping().BuildBatch(jobs, StepKind::kCreate, &request).ok());
  CHECK(crm.requests().empty());
}

TEST_CASE("hubspot: the directory's owner, the listing's id, source, utm and created date") {
  RecordingCrm crm;
  std::unique_ptr<Adapter> adapter = NewAdapter(kHubSpot, crm);
  Lead lead = StrategyLead();
  lead.source = "newspaper";  // not in sourceMap: the catch-all option
  SyncJob job = LeadJob(lead);
  job.related = {{"agent", "77001"}, {"property", "9001"}};
  const Exchange exchange = RunStep(*adapter, crm, job, StepKind::kCreate, 201, R"({"id":"501"})");
  JsonObject expected = ParseObject(
      HubSpotProperties("42", "Asha Rao", "asha@example.com", "NEW", "NEW", "lead",
                        R"(,"hubspot_owner_id":"77001","crmsync_utm_source":"google_ads",
                           "crmsync_related_property":"9001",
                           "crmsync_created_date":"2026-11-20T08:00:00Z")"));
  expected->set("crmsync_source", std::string("other"));
  CHECK(Canon(exchange.sent.body) == Canon(R"({"properties":)" + Stringify(expected) + "}"));
  CheckAllStrings(exchange.sent.body);

  SyncJob property = PropertyJob(SampleProperty());
  property.related = {{"propertyAgent", "77002"}};
  const Exchange listing =
      RunStep(*adapter, crm, property, StepKind::kCreate, 201, R"({"id":"9001"})");
  CHECK(At(ParseObject(listing.sent.body), "/properties")->getValue<std::string>(
            "hubspot_owner_id") == "77002");
}

// ===========================================================================
// Transport security.

TEST_CASE("tls: https with the test CA as ca_file reaches the CRM") {
  const std::unique_ptr<TestPki> pki = MakePki();
  RecordingCrm crm(pki->key_file, pki->cert_file);
  Settings settings = BaseSettings(kSunshine, crm.url());
  settings["ca_file"] = pki->ca_file;
  std::unique_ptr<Adapter> adapter = NewAdapter(settings);
  const Exchange exchange = RunStep(*adapter, crm, LeadJob(SampleLead()), StepKind::kCreate, 201,
                                    R"({"id":"crm-lead-tls"})");
  CHECK(exchange.sent.raw_path == "/api/v1/leads");
  CheckApiKeys(exchange.sent);
  CHECK(Canon(exchange.sent.body) == Canon(SunshineLeadBody("new")));
  CHECK(IdOf(exchange.result) == "crm-lead-tls");
}

TEST_CASE("tls: https without the CA fails as a TLS error and sends nothing") {
  const std::unique_ptr<TestPki> pki = MakePki();
  RecordingCrm crm(pki->key_file, pki->cert_file);
  std::unique_ptr<Adapter> adapter = NewAdapter(BaseSettings(kSunshine, crm.url()));
  const HttpRequest request = Build(*adapter, LeadJob(SampleLead()), StepKind::kCreate);
  const HttpResponse response = adapter->transport().Send(request);
  CHECK(response.error == TransportError::kTls);
  CHECK(response.status == 0);
  CHECK_FALSE(response.request_sent);
  CHECK(response.error_message.find(kApiKey) == std::string::npos);
  CHECK(crm.requests().empty());
}

TEST_CASE("tls: plain http to a non-loopback host is refused at Configure unless allowed") {
  Settings settings = BaseSettings(kSunshine, "http://192.0.2.10:8080");
  const Status refused = ConfigureStatus(settings);
  CHECK(refused.code() == StatusCode::kInvalidConfig);
  CHECK_MESSAGE(refused.message().find("api_url") != std::string::npos, refused.ToString());
  CHECK(refused.message().find(kApiKey) == std::string::npos);
  CHECK(refused.message().find(kApiSecret) == std::string::npos);

  settings["allow_insecure_http"] = "true";
  const Status allowed = ConfigureStatus(settings);
  CHECK_MESSAGE(allowed.ok(), allowed.ToString());

  // Loopback over plain http needs no opt-in (every case above relies on it).
  CHECK(ConfigureStatus(BaseSettings(kSunshine, "http://127.0.0.1:1")).ok());
}

// ===========================================================================
// Mapping errors surfaced by Configure.

TEST_CASE("config: every mapping error names its file and key") {
  testing::TempDir dir;
  const struct {
    const char* name;
    const char* base;
    std::function<void(JsonObject)> mutate;
    std::vector<std::string> pointers;
  } kCases[] = {
      {"bad method",
       kSunshine,
       [](JsonObject m) {
         At(m, "/entities/lead/operations/create")->set("method", std::string("FETCH"));
       },
       {"/entities/lead/operations/create/method"}},
      {"no lead update",
       kSunshine,
       [](JsonObject m) { At(m, "/entities/lead/operations")->remove("update"); },
       {"/entities/lead/operations/update"}},
      {"status missing from statusMap",
       kSunshine,
       [](JsonObject m) { At(m, "/statusMap/lead")->remove("LOST"); },
       {"/statusMap/lead"}},
      {"unknown transform",
       kSunshine,
       [](JsonObject m) {
         JsonObject spec = At(m, "/entities/lead/operations/update/body/status");
         JsonArray transforms = new Poco::JSON::Array();
         transforms->add(std::string("staus"));
         spec->set("$transform", transforms);
       },
       {"/entities/lead/operations/update/body/status"}},
      {"unknown variable",
       kSunshine,
       [](JsonObject m) {
         At(m, "/entities/lead/operations/create/body")->set("name", std::string("{{nmae}}"));
       },
       {"/entities/lead/operations/create/body/name"}},
      {"outbound transform in a webhook field",
       kSunshine,
       [](JsonObject m) {
         JsonArray transforms = new Poco::JSON::Array();
         transforms->add(std::string("status"));
         At(m, "/webhooks/fields/lead/status")->set("transform", transforms);
       },
       {"/webhooks/fields/lead/status"}},
      {"two errors at once",
       kSunshine,
       [](JsonObject m) {
         At(m, "/entities/lead/operations/create")->set("method", std::string("FETCH"));
         At(m, "/entities/property/operations/update")
             ->set("path", std::string("api/v1/properties"));
       },
       {"/entities/lead/operations/create/method", "/entities/property/operations/update/path"}},
      {"unknown lookup table",
       kHubSpot,
       [](JsonObject m) {
         JsonArray transforms = new Poco::JSON::Array();
         transforms->add(std::string("lookup:nosuch"));
         At(m, "/entities/lead/operations/create/body/properties/crmsync_source")
             ->set("$transform", transforms);
       },
       {"/entities/lead/operations/create/body/properties/crmsync_source"}},
      {"batch without maxSize",
       kHubSpot,
       [](JsonObject m) { At(m, "/entities/lead/operations/batchCreate")->remove("maxSize"); },
       {"/entities/lead/operations/batchCreate"}},
      {"unknown auth type",
       kHubSpot,
       [](JsonObject m) { At(m, "/auth")->set("type", std::string("oauth3")); },
       {"/auth"}},
  };
  int index = 0;
  for (const auto& c : kCases) {
    CAPTURE(c.name);
    JsonObject mapping = LoadMapping(c.base);
    c.mutate(mapping);
    const std::string file = "broken-" + std::to_string(index++) + ".json";
    const std::string path = WriteMapping(dir, file, mapping);
    const Status status = ConfigureStatus(BaseSettings(path, "http://127.0.0.1:1"));
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK_MESSAGE(status.message().find(file) != std::string::npos, status.message());
    for (const std::string& pointer : c.pointers) {
      CHECK_MESSAGE(status.message().find(pointer) != std::string::npos,
                    pointer << " not in: " << status.message());
    }
    CHECK(status.message().find(kApiKey) == std::string::npos);
  }
}

TEST_CASE("config: a missing, unreadable or non-JSON mapping is refused naming it") {
  testing::TempDir dir;
  Settings no_mapping = BaseSettings(kSunshine, "http://127.0.0.1:1");
  no_mapping.erase("mapping");
  const Status missing_key = ConfigureStatus(no_mapping);
  CHECK(missing_key.code() == StatusCode::kInvalidConfig);
  CHECK_MESSAGE(missing_key.message().find("mapping") != std::string::npos, missing_key.message());

  const Status missing_file =
      ConfigureStatus(BaseSettings(dir.File("absent.json"), "http://127.0.0.1:1"));
  CHECK(missing_file.code() == StatusCode::kInvalidConfig);
  CHECK_MESSAGE(missing_file.message().find("absent.json") != std::string::npos,
                missing_file.message());

  testing::WriteFile(dir.File("garbage.json"), "{\"name\": \"x\", ");
  const Status garbage =
      ConfigureStatus(BaseSettings(dir.File("garbage.json"), "http://127.0.0.1:1"));
  CHECK(garbage.code() == StatusCode::kInvalidConfig);
  CHECK_MESSAGE(garbage.message().find("garbage.json") != std::string::npos, garbage.message());
}

TEST_CASE("config: both shipped mappings load") {
  const Status sunshine = ConfigureStatus(BaseSettings(kSunshine, "http://127.0.0.1:1"));
  CHECK_MESSAGE(sunshine.ok(), sunshine.ToString());
  const Status hubspot = ConfigureStatus(BaseSettings(kHubSpot, "http://127.0.0.1:1"));
  CHECK_MESSAGE(hubspot.ok(), hubspot.ToString());
}

TEST_SUITE_END();

}  // namespace
}  // namespace crmsync
