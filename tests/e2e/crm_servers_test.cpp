// The CRM stand-ins of tests/crm-servers (salesforce.py, zoho.py, pipedrive.py,
// hubspot.py),
// each started as its own process on a port it picks, checked with real HTTP:
// the vendor's documented answers, one strict refusal per rule (missing auth,
// wrong auth, missing required field, batch over the limit, bad path, ...),
// token expiry / refresh / rotation / revocation, paging, and the rate-limit
// headers and refusals; and the inbound side: an agent's edit with the
// vendor's signed delivery about it, and the "changed since" reads. The mappings' lifecycle tests build on these servers,
// so a stand-in that drifted from the vendor's shapes would make them lie.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "test_support.h"
#include "vendor_server.h"

namespace t = crmsync::testing;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

const std::string kPython = "/usr/bin/python3";
const std::string kServers = std::string(CRMSYNC_SOURCE_DIR) + "/tests/crm-servers/";

Poco::Dynamic::Var ParseAny(const std::string& json) {
  return Poco::JSON::Parser().parse(json);
}
Object::Ptr Obj(const std::string& json) { return ParseAny(json).extract<Object::Ptr>(); }
Array::Ptr Arr(const std::string& json) { return ParseAny(json).extract<Array::Ptr>(); }

using t::VendorServer;

// `control` restores the vendor's budget and scripts one 429 and one `status`
// failure; then the failure comes first (its error code read by `code`), the
// 429 next, and the answer itself after them.
void CheckScriptedOrder(const VendorServer& server, const std::string& control,
                        const std::string& path, const std::map<std::string, std::string>& headers,
                        int status, const std::function<std::string(const t::HttpResult&)>& code,
                        const std::string& expected_code) {
  server.Control(control);
  t::HttpResult r = server.Call("GET", path, "", headers);
  CHECK(r.status == status);
  CHECK(code(r) == expected_code);
  CHECK(server.Call("GET", path, "", headers).status == 429);
  CHECK(server.Call("GET", path, "", headers).status == 200);
}

const std::map<std::string, std::string> kForm = {
    {"Content-Type", "application/x-www-form-urlencoded"}};

// --- Salesforce -------------------------------------------------------------

std::string SfToken(const VendorServer& sf, const std::string& form) {
  t::HttpResult r = sf.Call("POST", "/services/oauth2/token", form, kForm);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return Obj(r.body)->getValue<std::string>("access_token");
}
std::string SfClientCredentials(const VendorServer& sf) {
  return SfToken(sf, "grant_type=client_credentials&client_id=test-client-id&"
                     "client_secret=test-client-secret");
}
std::map<std::string, std::string> Bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
}
// The first error of a Salesforce error array.
Object::Ptr SfError(const t::HttpResult& r) {
  Array::Ptr errors = Arr(r.body);
  REQUIRE(errors->size() >= 1);
  return errors->getObject(0);
}
std::string SfCode(const t::HttpResult& r) {
  return SfError(r)->getValue<std::string>("errorCode");
}
const std::string kSf = "/services/data/v59.0";

// --- Zoho ---------------------------------------------------------------------

std::string ZohoRefreshPath(const std::string& refresh_token,
                            const std::string& secret = "test-client-secret") {
  return "/oauth/v2/token?grant_type=refresh_token&client_id=test-client-id&client_secret=" +
         secret + "&refresh_token=" + refresh_token;
}
std::string ZohoToken(const VendorServer& zoho) {
  t::HttpResult r = zoho.Call("POST", ZohoRefreshPath("test-refresh-token"));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  Object::Ptr body = Obj(r.body);
  REQUIRE_MESSAGE(body->has("access_token"), r.body);
  return body->getValue<std::string>("access_token");
}
std::map<std::string, std::string> ZohoAuth(const std::string& token) {
  return {{"Authorization", "Zoho-oauthtoken " + token}, {"Content-Type", "application/json"}};
}
std::string Code(const t::HttpResult& r) { return Obj(r.body)->getValue<std::string>("code"); }
// data[i] of a Zoho write answer.
Object::Ptr ZohoItem(const t::HttpResult& r, unsigned i) {
  return Obj(r.body)->getArray("data")->getObject(i);
}
std::string ManyZohoLeads(int n) {
  std::string data;
  for (int i = 0; i < n; ++i) {
    data += (i ? "," : "") + std::string("{\"Last_Name\":\"L") + std::to_string(i) + "\"}";
  }
  return "{\"data\":[" + data + "]}";
}

// --- Pipedrive ----------------------------------------------------------------

const std::string kPdToken = "?api_token=test-api-token";
const std::string kCustomKey = "0123456789abcdef0123456789abcdef01234567";
std::string PdError(const t::HttpResult& r) {
  Object::Ptr body = Obj(r.body);
  CHECK_FALSE(body->getValue<bool>("success"));
  return body->getValue<std::string>("error");
}
int PdCreatePerson(const VendorServer& pd, const std::string& name, const std::string& ref) {
  t::HttpResult r = pd.Call("POST", "/v1/persons" + kPdToken,
                            "{\"name\":\"" + name + "\",\"email\":\"" + name +
                                "@example.test\",\"" + kCustomKey + "\":\"" + ref + "\"}");
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return Obj(r.body)->getObject("data")->getValue<int>("id");
}

// --- HubSpot ------------------------------------------------------------------

const std::map<std::string, std::string> kHsAuth = {
    {"Authorization", "Bearer test-private-app-token"}, {"Content-Type", "application/json"}};
// HubSpot's error body: status "error", the category, a message, a correlationId.
std::string HsCategory(const t::HttpResult& r) {
  Object::Ptr body = Obj(r.body);
  CHECK(body->getValue<std::string>("status") == "error");
  CHECK_FALSE(body->getValue<std::string>("correlationId").empty());
  CHECK_FALSE(body->getValue<std::string>("message").empty());
  return body->getValue<std::string>("category");
}
// The code of the first entry of errors[] in a HubSpot error body.
std::string HsErrorCode(const t::HttpResult& r) {
  Array::Ptr errors = Obj(r.body)->getArray("errors");
  REQUIRE_MESSAGE(errors, r.body);
  return errors->getObject(0)->getValue<std::string>("code");
}
std::string HsCreateContact(const VendorServer& hs, const std::string& reference) {
  t::HttpResult r = hs.Call("POST", "/crm/v3/objects/contacts",
                            R"({"properties":{"firstname":"Lea","email":"lea@example.test",)"
                            R"("crmsync_reference":")" + reference + R"("}})",
                            kHsAuth);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return Obj(r.body)->getValue<std::string>("id");
}

}  // namespace

TEST_SUITE("crm_servers") {
  TEST_CASE("each stand-in prints its port, answers its state, and exits 0 on SIGTERM") {
    for (const std::string script : {"salesforce.py", "zoho.py", "pipedrive.py", "hubspot.py"}) {
      CAPTURE(script);
      auto server = std::make_unique<VendorServer>(script);
      Object::Ptr state = server->State();
      CHECK(state->has("records"));
      CHECK(state->getArray("users")->size() == 3);
      server->process->Signal(SIGTERM);
      REQUIRE(server->process->WaitExit(std::chrono::seconds(20)));
      CHECK(server->process->exit_code() == 0);
    }
  }

  TEST_CASE("a stand-in refuses a bad command line and an unknown control key") {
    std::string output;
    CHECK(t::RunCommand(kPython, {kServers + "zoho.py", "port"}, &output) == 2);
    CHECK(output.find("usage:") != std::string::npos);
    VendorServer sf("salesforce.py");
    t::HttpResult r = sf.Call("POST", "/_test/control", "{\"expireAccesToken\": true}");
    CHECK(r.status == 400);
    CHECK(r.body.find("expireAccesToken") != std::string::npos);
    r = sf.Call("POST", "/_test/control", "{\"failNext\": {\"count\": 1, \"status\": 404}}");
    CHECK(r.status == 400);
    CHECK(r.body.find("500..599") != std::string::npos);
  }

  TEST_CASE("salesforce: token, sObject create/update/read in the documented shapes") {
    VendorServer sf("salesforce.py");
    t::HttpResult token = sf.Call("POST", "/services/oauth2/token",
                                  "grant_type=client_credentials&client_id=test-client-id&"
                                  "client_secret=test-client-secret",
                                  kForm);
    REQUIRE(token.status == 200);
    Object::Ptr answer = Obj(token.body);
    CHECK(answer->getValue<std::string>("token_type") == "Bearer");
    CHECK(answer->getValue<std::string>("instance_url") ==
          "http://127.0.0.1:" + std::to_string(sf.port));
    CHECK(std::regex_match(answer->getValue<std::string>("issued_at"), std::regex("\\d{13}")));
    CHECK_FALSE(answer->getValue<std::string>("signature").empty());
    CHECK(answer->getValue<std::string>("id").find("/id/00D") != std::string::npos);
    CHECK_FALSE(answer->has("refresh_token"));  // client credentials issue none
    const auto auth = Bearer(answer->getValue<std::string>("access_token"));

    t::HttpResult created = sf.Call("POST", kSf + "/sobjects/Lead",
                                    R"({"LastName":"Lea Buyer","Company":"Private",)"
                                    R"("Email":"lea@example.test","Status":"Open - Not Contacted",)"
                                    R"("OwnerId":"005000000000002AAA","crmsync_Reference__c":"lead:1"})",
                                    auth);
    REQUIRE_MESSAGE(created.status == 201, created.body);
    CHECK(created.headers["Sforce-Limit-Info"] == "api-usage=1/15000");
    Object::Ptr save = Obj(created.body);
    const std::string id = save->getValue<std::string>("id");
    CHECK(std::regex_match(id, std::regex("00Q[A-Za-z0-9]{15}")));
    CHECK(save->getValue<bool>("success"));
    CHECK(save->getArray("errors")->size() == 0);

    t::HttpResult patched = sf.Call("PATCH", kSf + "/sobjects/Lead/" + id,
                                    R"({"Status":"Working - Contacted"})", auth);
    CHECK(patched.status == 204);
    CHECK(patched.body.empty());
    t::HttpResult read = sf.Call("GET", kSf + "/sobjects/Lead/" + id, "", auth);
    REQUIRE(read.status == 200);
    Object::Ptr lead = Obj(read.body);
    CHECK(lead->getObject("attributes")->getValue<std::string>("type") == "Lead");
    CHECK(lead->getValue<std::string>("Status") == "Working - Contacted");
    CHECK(lead->getValue<std::string>("crmsync_Reference__c") == "lead:1");

    t::HttpResult opp = sf.Call("POST", kSf + "/sobjects/Opportunity",
                                R"({"Name":"Deal: Lea","StageName":"Closed Won",)"
                                R"("CloseDate":"2026-12-03","Amount":250000})",
                                auth);
    REQUIRE_MESSAGE(opp.status == 201, opp.body);
    t::HttpResult task = sf.Call("POST", kSf + "/sobjects/Task",
                                 R"({"Subject":"Viewing","WhoId":")" + id +
                                     R"(","WhatId":")" + Obj(opp.body)->getValue<std::string>("id") +
                                     R"(","ActivityDate":"2026-12-10","Status":"Not Started"})",
                                 auth);
    CHECK_MESSAGE(task.status == 201, task.body);
    Array::Ptr leads = sf.Records("Lead");
    REQUIRE(leads->size() == 1);
    CHECK(leads->getObject(0)->getValue<std::string>("Email") == "lea@example.test");
    CHECK(sf.Records("Task")->size() == 1);
  }

  TEST_CASE("salesforce: one refusal per rule, in Salesforce's error shapes") {
    VendorServer sf("salesforce.py");
    const auto auth = Bearer(SfClientCredentials(sf));
    const std::string lead = R"({"LastName":"X","Company":"Y"})";

    t::HttpResult r = sf.Call("POST", kSf + "/sobjects/Lead", lead,
                              {{"Content-Type", "application/json"}});
    CHECK(r.status == 401);
    CHECK(SfCode(r) == "INVALID_SESSION_ID");
    CHECK(SfError(r)->getValue<std::string>("message") == "Session expired or invalid");
    r = sf.Call("POST", kSf + "/sobjects/Lead", lead, Bearer("not-a-token"));
    CHECK(r.status == 401);
    CHECK(SfCode(r) == "INVALID_SESSION_ID");

    r = sf.Call("POST", kSf + "/sobjects/Lead", R"({"LastName":"X"})", auth);
    CHECK(r.status == 400);
    CHECK(SfCode(r) == "REQUIRED_FIELD_MISSING");
    CHECK(SfError(r)->getArray("fields")->getElement<std::string>(0) == "Company");
    r = sf.Call("POST", kSf + "/sobjects/Lead", R"({"LastName":"X","Company":"Y","Emial":"a"})",
                auth);
    CHECK(SfCode(r) == "INVALID_FIELD");
    CHECK(SfError(r)->getValue<std::string>("message").find("Emial") != std::string::npos);
    r = sf.Call("POST", kSf + "/sobjects/Lead",
                R"({"LastName":"X","Company":"Y","Email":"not-an-email"})", auth);
    CHECK(SfCode(r) == "INVALID_EMAIL_ADDRESS");
    r = sf.Call("POST", kSf + "/sobjects/Lead", R"({"LastName":"X","Company":"Y","Status":"won"})",
                auth);
    CHECK(SfCode(r) == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    r = sf.Call("POST", kSf + "/sobjects/Lead",
                R"({"LastName":"X","Company":"Y","OwnerId":"agent-7"})", auth);
    CHECK(SfCode(r) == "INVALID_CROSS_REFERENCE_KEY");
    r = sf.Call("POST", kSf + "/sobjects/Opportunity",
                R"({"Name":"D","StageName":"Closed Won","CloseDate":"03/12/2026"})", auth);
    CHECK(SfCode(r) == "JSON_PARSER_ERROR");
    r = sf.Call("POST", kSf + "/sobjects/Lead", lead,
                {{"Authorization", auth.at("Authorization")}, {"Content-Type", "text/plain"}});
    CHECK(r.status == 415);
    r = sf.Call("POST", "/services/data/sobjects/Lead", lead, auth);
    CHECK(r.status == 404);
    CHECK(SfCode(r) == "NOT_FOUND");
    r = sf.Call("PATCH", kSf + "/sobjects/Lead/00Q000000000999AAA", lead, auth);
    CHECK(r.status == 404);

    std::string records;
    for (int i = 0; i < 201; ++i) {
      records += (i ? "," : "") +
                 std::string(R"({"attributes":{"type":"Lead"},"LastName":"L","Company":"C"})");
    }
    r = sf.Call("POST", kSf + "/composite/sobjects",
                R"({"allOrNone":false,"records":[)" + records + "]}", auth);
    CHECK(r.status == 400);
    CHECK(SfCode(r) == "EXCEEDED_ID_LIMIT");
    CHECK(sf.Records("Lead")->size() == 0);

    r = sf.Call("POST", "/services/oauth2/token",
                "grant_type=client_credentials&client_id=test-client-id&client_secret=wrong",
                kForm);
    CHECK(r.status == 400);
    CHECK(Obj(r.body)->getValue<std::string>("error") == "invalid_client");
    r = sf.Call("POST", "/services/oauth2/token",
                "grant_type=client_credentials&client_id=other&client_secret=x", kForm);
    CHECK(Obj(r.body)->getValue<std::string>("error") == "invalid_client_id");
    r = sf.Call("POST", "/services/oauth2/token", "grant_type=password", kForm);
    CHECK(Obj(r.body)->getValue<std::string>("error") == "unsupported_grant_type");
    r = sf.Call("POST", "/services/oauth2/token", R"({"grant_type":"client_credentials"})");
    CHECK(Obj(r.body)->getValue<std::string>("error") == "invalid_request");
    CHECK(sf.State()->getObject("tokens")->getValue<int>("tokenRequestsRefused") == 4);
  }

  TEST_CASE("salesforce: sObject collections answer per-record SaveResults, allOrNone rolls back") {
    VendorServer sf("salesforce.py");
    const auto auth = Bearer(SfClientCredentials(sf));
    const std::string body =
        R"({"allOrNone":%s,"records":[)"
        R"({"attributes":{"type":"Lead"},"LastName":"A","Company":"C"},)"
        R"({"attributes":{"type":"Lead"},"LastName":"B"},)"
        R"({"attributes":{"type":"Lead"},"LastName":"C","Company":"C"}]})";
    auto with = [&](const std::string& flag) {
      std::string b = body;
      return b.replace(b.find("%s"), 2, flag);
    };
    t::HttpResult r = sf.Call("POST", kSf + "/composite/sobjects", with("true"), auth);
    REQUIRE(r.status == 200);
    Array::Ptr results = Arr(r.body);
    REQUIRE(results->size() == 3);
    CHECK(results->getObject(1)->getArray("errors")->getObject(0)->getValue<std::string>(
              "statusCode") == "REQUIRED_FIELD_MISSING");
    CHECK(results->getObject(0)->getArray("errors")->getObject(0)->getValue<std::string>(
              "statusCode") == "ALL_OR_NONE_OPERATION_ROLLED_BACK");
    CHECK(sf.Records("Lead")->size() == 0);

    r = sf.Call("POST", kSf + "/composite/sobjects", with("false"), auth);
    REQUIRE(r.status == 200);
    results = Arr(r.body);
    CHECK(results->getObject(0)->getValue<bool>("success"));
    CHECK_FALSE(results->getObject(1)->getValue<bool>("success"));
    CHECK(results->getObject(2)->getValue<bool>("success"));
    CHECK(sf.Records("Lead")->size() == 2);
    const std::string first = results->getObject(0)->getValue<std::string>("id");
    r = sf.Call("PATCH", kSf + "/composite/sobjects",
                R"({"records":[{"attributes":{"type":"Lead"},"id":")" + first +
                    R"(","Status":"Working - Contacted"}]})",
                auth);
    REQUIRE(r.status == 200);
    CHECK(Arr(r.body)->getObject(0)->getValue<bool>("success"));
    CHECK(sf.Records("Lead")->getObject(0)->getValue<std::string>("Status") ==
          "Working - Contacted");
  }

  TEST_CASE("salesforce: access token expiry, refresh, rotation and revocation") {
    VendorServer sf("salesforce.py", {"--refresh-token", "rt-initial"});
    const std::string refresh =
        "grant_type=refresh_token&client_id=test-client-id&client_secret=test-client-secret&"
        "refresh_token=";
    std::string access = SfToken(sf, refresh + "rt-initial");
    CHECK(sf.Call("GET", kSf + "/sobjects/Lead/00Q000000000001AAA", "", Bearer(access)).status ==
          404);  // authenticated: the record just does not exist
    sf.Control(R"({"expireAccessToken": true})");
    t::HttpResult r = sf.Call("GET", kSf + "/query?q=SELECT+Id+FROM+Lead", "", Bearer(access));
    CHECK(r.status == 401);
    CHECK(SfCode(r) == "INVALID_SESSION_ID");
    access = SfToken(sf, refresh + "rt-initial");
    CHECK(sf.Call("GET", kSf + "/query?q=SELECT+Id+FROM+Lead", "", Bearer(access)).status == 200);

    sf.Control(R"({"rotateRefreshTokens": true})");
    r = sf.Call("POST", "/services/oauth2/token", refresh + "rt-initial", kForm);
    REQUIRE(r.status == 200);
    const std::string rotated = Obj(r.body)->getValue<std::string>("refresh_token");
    CHECK(rotated != "rt-initial");
    r = sf.Call("POST", "/services/oauth2/token", refresh + "rt-initial", kForm);
    CHECK(r.status == 400);
    CHECK(Obj(r.body)->getValue<std::string>("error") == "invalid_grant");
    CHECK(Obj(r.body)->getValue<std::string>("error_description") ==
          "expired access/refresh token");
    r = sf.Call("POST", "/services/oauth2/token", refresh + rotated, kForm);
    REQUIRE(r.status == 200);
    const std::string rotated_again = Obj(r.body)->getValue<std::string>("refresh_token");

    sf.Control(R"({"revokeRefreshToken": true})");
    r = sf.Call("POST", "/services/oauth2/token", refresh + rotated_again, kForm);
    CHECK(Obj(r.body)->getValue<std::string>("error") == "invalid_grant");
    const std::string state = sf.Call("GET", "/_test/state").body;
    CHECK(state.find(access) == std::string::npos);  // counters, never tokens
    CHECK(state.find(rotated) == std::string::npos);
    Object::Ptr tokens = sf.State()->getObject("tokens");
    CHECK(tokens->getValue<int>("refreshes") == 4);
    CHECK(tokens->getValue<int>("liveRefreshTokens") == 0);
  }

  TEST_CASE("salesforce: SOQL pages through nextRecordsUrl, a malformed query is refused") {
    VendorServer sf("salesforce.py");
    const auto auth = Bearer(SfClientCredentials(sf));
    for (int i = 0; i < 5; ++i) {
      REQUIRE(sf.Call("POST", kSf + "/sobjects/Lead",
                      R"({"LastName":"L","Company":"C","crmsync_Reference__c":"lead:)" +
                          std::to_string(i % 2) + "\"}",
                      auth)
                  .status == 201);
    }
    sf.Control(R"({"queryBatchSize": 2})");
    std::string next = kSf + "/query?q=SELECT+Id,+LastName+FROM+Lead";
    std::vector<size_t> pages;
    int total = -1;
    for (int guard = 0; guard < 10 && !next.empty(); ++guard) {
      t::HttpResult r = sf.Call("GET", next, "", auth);
      REQUIRE_MESSAGE(r.status == 200, r.body);
      Object::Ptr page = Obj(r.body);
      total = page->getValue<int>("totalSize");
      pages.push_back(page->getArray("records")->size());
      CHECK(page->getValue<bool>("done") == !page->has("nextRecordsUrl"));
      next = page->has("nextRecordsUrl") ? page->getValue<std::string>("nextRecordsUrl") : "";
    }
    CHECK(total == 5);
    CHECK(pages == std::vector<size_t>{2, 2, 1});

    t::HttpResult r = sf.Call(
        "GET", kSf + "/query?q=SELECT+Id+FROM+Lead+WHERE+crmsync_Reference__c+=+'lead:1'", "",
        auth);
    CHECK(Obj(r.body)->getValue<int>("totalSize") == 2);
    r = sf.Call("GET", kSf + "/query?q=SELECT+Id,+Email+FROM+User+WHERE+IsActive+=+true", "",
                auth);
    CHECK(Obj(r.body)->getValue<int>("totalSize") == 2);
    r = sf.Call("GET", kSf + "/query?q=SELEKT+Id+FROM+Lead", "", auth);
    CHECK(r.status == 400);
    CHECK(SfCode(r) == "MALFORMED_QUERY");
    r = sf.Call("GET", kSf + "/query?q=SELECT+Nope+FROM+Lead", "", auth);
    CHECK(SfCode(r) == "INVALID_FIELD");
  }

  TEST_CASE("salesforce: the API limit (403 REQUEST_LIMIT_EXCEEDED) and scripted 5xx") {
    VendorServer sf("salesforce.py");
    const auto auth = Bearer(SfClientCredentials(sf));
    const std::string query = kSf + "/query?q=SELECT+Id+FROM+Lead";
    sf.Control(R"({"apiLimit": 2})");
    CHECK(sf.Call("GET", query, "", auth).status == 200);
    CHECK(sf.Call("GET", query, "", auth).status == 200);
    t::HttpResult r = sf.Call("GET", query, "", auth);
    CHECK(r.status == 403);
    CHECK(SfCode(r) == "REQUEST_LIMIT_EXCEEDED");
    CHECK(r.headers["Sforce-Limit-Info"] == "api-usage=3/2");

    sf.Control(R"({"apiLimit": 100, "rateLimitNext": 1, "failNext": {"count": 1, "status": 503}})");
    r = sf.Call("GET", query, "", auth);
    CHECK(r.status == 503);
    CHECK(SfCode(r) == "SERVER_UNAVAILABLE");
    r = sf.Call("GET", query, "", auth);
    CHECK(r.status == 403);
    CHECK(SfCode(r) == "REQUEST_LIMIT_EXCEEDED");
    CHECK(sf.Call("GET", query, "", auth).status == 200);
  }

  TEST_CASE("zoho: refresh grant, data envelope with per-record status, search, users, notes, lead conversion") {
    VendorServer zoho("zoho.py");
    t::HttpResult token = zoho.Call("POST", ZohoRefreshPath("test-refresh-token"));
    REQUIRE(token.status == 200);
    Object::Ptr answer = Obj(token.body);
    CHECK(answer->getValue<std::string>("token_type") == "Bearer");
    CHECK(answer->getValue<int>("expires_in") == 3600);
    CHECK(answer->getValue<std::string>("api_domain") ==
          "http://127.0.0.1:" + std::to_string(zoho.port));
    const auto auth = ZohoAuth(answer->getValue<std::string>("access_token"));

    zoho.Control(R"({"customFields": {"Leads": {"crmsync_Reference": "text"}}})");
    t::HttpResult r = zoho.Call("POST", "/crm/v2/Leads",
                                R"({"data":[{"Last_Name":"Lea","Email":"lea@example.test",)"
                                R"("Lead_Status":"Not Contacted","crmsync_Reference":"lead:1",)"
                                R"("Owner":{"id":"5725767000000411002"}}],"trigger":["workflow"]})",
                                auth);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    CHECK(r.headers["X-RATELIMIT-LIMIT"] == "100");
    CHECK(r.headers["X-RATELIMIT-REMAINING"] == "99");
    CHECK(std::regex_match(r.headers["X-RATELIMIT-RESET"], std::regex("\\d{13}")));
    Object::Ptr item = ZohoItem(r, 0);
    CHECK(item->getValue<std::string>("code") == "SUCCESS");
    CHECK(item->getValue<std::string>("status") == "success");
    CHECK(item->getValue<std::string>("message") == "record added");
    const std::string id = item->getObject("details")->getValue<std::string>("id");

    r = zoho.Call("POST", "/crm/v2/Leads",
                  R"({"data":[{"Last_Name":"Bo"},{"First_Name":"NoLast"},)"
                  R"({"Last_Name":"Dup","Email":"lea@example.test"}]})",
                  auth);
    CHECK(r.status == 207);
    CHECK(ZohoItem(r, 0)->getValue<std::string>("code") == "SUCCESS");
    CHECK(ZohoItem(r, 1)->getValue<std::string>("code") == "MANDATORY_NOT_FOUND");
    CHECK(ZohoItem(r, 1)->getObject("details")->getValue<std::string>("api_name") == "Last_Name");
    CHECK(ZohoItem(r, 2)->getValue<std::string>("code") == "DUPLICATE_DATA");
    CHECK(ZohoItem(r, 2)->getObject("details")->getValue<std::string>("id") == id);

    r = zoho.Call("PUT", "/crm/v2/Leads",
                  R"({"data":[{"id":")" + id + R"(","Lead_Status":"Contacted"}]})", auth);
    CHECK(r.status == 200);
    CHECK(ZohoItem(r, 0)->getValue<std::string>("message") == "record updated");
    r = zoho.Call("PUT", "/crm/v2/Leads/" + id, R"({"data":[{"Lead_Status":"Pre-Qualified"}]})",
                  auth);
    CHECK(r.status == 200);
    r = zoho.Call("POST", "/crm/v2/Deals",
                  R"({"data":[{"Deal_Name":"Deal: Lea","Stage":"Closed Won","Amount":250000,)"
                  R"("Closing_Date":"2026-12-03"}]})",
                  auth);
    CHECK(r.status == 201);
    r = zoho.Call("POST", "/crm/v2/Tasks",
                  R"({"data":[{"Subject":"Viewing","What_Id":{"id":")" + id +
                      R"("},"$se_module":"Leads","Due_Date":"2026-12-10"}]})",
                  auth);
    CHECK_MESSAGE(r.status == 201, r.body);

    r = zoho.Call("GET", "/crm/v2/Leads/search?criteria=(crmsync_Reference:equals:lead:1)", "",
                  auth);
    REQUIRE(r.status == 200);
    Object::Ptr found = Obj(r.body);
    CHECK(found->getArray("data")->getObject(0)->getValue<std::string>("id") == id);
    CHECK(found->getArray("data")->getObject(0)->getValue<std::string>("Lead_Status") ==
          "Pre-Qualified");
    CHECK_FALSE(found->getObject("info")->getValue<bool>("more_records"));
    r = zoho.Call("GET", "/crm/v2/Leads/search?criteria=(crmsync_Reference:equals:lead:9)", "",
                  auth);
    CHECK(r.status == 204);
    CHECK(r.body.empty());

    std::vector<std::string> emails;
    for (int page = 1; page < 5; ++page) {
      r = zoho.Call("GET", "/crm/v2/users?type=ActiveUsers&per_page=1&page=" +
                               std::to_string(page), "", auth);
      REQUIRE(r.status == 200);
      Object::Ptr users = Obj(r.body);
      emails.push_back(users->getArray("users")->getObject(0)->getValue<std::string>("email"));
      if (!users->getObject("info")->getValue<bool>("more_records")) break;
    }
    CHECK(emails == std::vector<std::string>{"ana@example.test", "bo@example.test"});

    r = zoho.Call("POST", "/crm/v2/Notes",
                  R"({"data":[{"Note_Title":"Inquiry","Note_Content":"Parking?",)"
                  R"("Parent_Id":{"id":")" + id + R"("},"se_module":"Leads"}]})",
                  auth);
    CHECK_MESSAGE(r.status == 201, r.body);
    r = zoho.Call("POST", "/crm/v2/Leads/" + id + "/actions/convert",
                  R"({"data":[{"overwrite":true,"Deals":{"Deal_Name":"D","Stage":"Won"}}]})",
                  auth);
    CHECK(r.status == 400);
    CHECK(ZohoItem(r, 0)->getObject("details")->getValue<std::string>("api_name") == "Stage");
    r = zoho.Call("POST", "/crm/v2/Leads/" + id + "/actions/convert",
                  R"({"data":[{"overwrite":true,"notify_lead_owner":false,"Deals":)"
                  R"({"Deal_Name":"Deal: Lea","Stage":"Closed Won","Closing_Date":"2026-12-03",)"
                  R"("Amount":250000}}]})",
                  auth);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    Object::Ptr converted = ZohoItem(r, 0);
    CHECK_FALSE(converted->getValue<std::string>("Contacts").empty());
    const std::string converted_deal = converted->getValue<std::string>("Deals");
    CHECK(converted->isNull("Accounts"));
    r = zoho.Call("PUT", "/crm/v2/Leads/" + id, R"({"data":[{"Lead_Status":"Lost Lead"}]})",
                  auth);
    CHECK(r.status == 400);
    CHECK(ZohoItem(r, 0)->getObject("details")->getValue<std::string>("api_name") == "id");
    Array::Ptr deals = zoho.Records("Deals");
    REQUIRE(deals->size() == 2);
    CHECK(deals->getObject(1)->getValue<std::string>("id") == converted_deal);
    CHECK(deals->getObject(1)->getObject("Contact_Name")->getValue<std::string>("id") ==
          converted->getValue<std::string>("Contacts"));
    Array::Ptr leads = zoho.Records("Leads");
    CHECK(leads->size() == 2);
    CHECK(leads->getObject(0)->getObject("Owner")->getValue<std::string>("id") ==
          "5725767000000411002");
  }

  TEST_CASE("zoho: one refusal per rule, in Zoho's error shapes") {
    VendorServer zoho("zoho.py");
    const std::string token = ZohoToken(zoho);
    const auto auth = ZohoAuth(token);
    const std::string one = R"({"data":[{"Last_Name":"X"}]})";

    t::HttpResult r = zoho.Call("POST", "/crm/v2/Leads", one);
    CHECK(r.status == 401);
    CHECK(Code(r) == "AUTHENTICATION_FAILURE");
    r = zoho.Call("POST", "/crm/v2/Leads", one, {{"Authorization", "Bearer " + token}});
    CHECK(r.status == 401);
    CHECK(Code(r) == "INVALID_TOKEN");
    CHECK(Obj(r.body)->getValue<std::string>("message") == "invalid oauth token");

    r = zoho.Call("POST", "/crm/v2/Leads", ManyZohoLeads(101), auth);
    CHECK(r.status == 400);
    CHECK(Code(r) == "LIMIT_EXCEEDED");
    CHECK(zoho.Call("POST", "/crm/v2/Leads", ManyZohoLeads(100), auth).status == 201);
    r = zoho.Call("POST", "/crm/v2/Leads", R"({"records":[]})", auth);
    CHECK(Code(r) == "REQUIRED_PARAM_MISSING");
    r = zoho.Call("POST", "/crm/v2/Leads", R"({"data":[{"First_Name":"X"}]})", auth);
    CHECK(r.status == 400);
    CHECK(ZohoItem(r, 0)->getValue<std::string>("code") == "MANDATORY_NOT_FOUND");
    r = zoho.Call("POST", "/crm/v2/Leads", R"({"data":[{"Last_Name":"X","UTM_Source":"ads"}]})",
                  auth);
    CHECK(ZohoItem(r, 0)->getValue<std::string>("code") == "INVALID_DATA");
    CHECK(ZohoItem(r, 0)->getObject("details")->getValue<std::string>("api_name") ==
          "UTM_Source");
    r = zoho.Call("POST", "/crm/v2/Leads", R"({"data":[{"Last_Name":"X","Owner":"5725"}]})",
                  auth);
    CHECK(ZohoItem(r, 0)->getObject("details")->getValue<std::string>("expected_data_type") ==
          "jsonobject");
    r = zoho.Call("POST", "/crm/v2/Deals", R"({"data":[{"Deal_Name":"D","Stage":"Won"}]})",
                  auth);
    CHECK(ZohoItem(r, 0)->getValue<std::string>("code") == "INVALID_DATA");
    r = zoho.Call("POST", "/crm/v2/Leads", one,
                  {{"Authorization", "Zoho-oauthtoken " + token}, {"Content-Type", "text/plain"}});
    CHECK(r.status == 400);
    CHECK(Code(r) == "INVALID_DATA");
    r = zoho.Call("POST", "/crm/v2/Contactz", one, auth);
    CHECK(Code(r) == "INVALID_MODULE");
    r = zoho.Call("GET", "/crm/Leads", "", auth);
    CHECK(r.status == 404);
    CHECK(Code(r) == "INVALID_URL_PATTERN");
    r = zoho.Call("GET", "/crm/v2/Leads/search?criteria=Email=lea", "", auth);
    CHECK(Code(r) == "INVALID_QUERY");
    r = zoho.Call("GET", "/crm/v2/users?type=Everyone", "", auth);
    CHECK(Code(r) == "INVALID_DATA");

    // Zoho's accounts server answers its errors with HTTP 200 and an "error" key.
    r = zoho.Call("POST", ZohoRefreshPath("test-refresh-token", "wrong"));
    CHECK(r.status == 200);
    CHECK(Obj(r.body)->getValue<std::string>("error") == "invalid_client");
    r = zoho.Call("POST", ZohoRefreshPath("unknown"));
    CHECK(Obj(r.body)->getValue<std::string>("error") == "invalid_code");
    r = zoho.Call("POST", "/oauth/v2/token?grant_type=client_credentials");
    CHECK(Obj(r.body)->getValue<std::string>("error") == "unsupported_grant_type");
  }

  TEST_CASE("zoho: access token expiry, refresh, rotation and revocation") {
    VendorServer zoho("zoho.py");
    std::string token = ZohoToken(zoho);
    CHECK(zoho.Call("GET", "/crm/v2/users", "", ZohoAuth(token)).status == 200);
    zoho.Control(R"({"expireAccessToken": true})");
    t::HttpResult r = zoho.Call("GET", "/crm/v2/users", "", ZohoAuth(token));
    CHECK(r.status == 401);
    CHECK(Code(r) == "INVALID_TOKEN");
    token = ZohoToken(zoho);
    CHECK(zoho.Call("GET", "/crm/v2/users", "", ZohoAuth(token)).status == 200);

    zoho.Control(R"({"rotateRefreshTokens": true})");
    r = zoho.Call("POST", ZohoRefreshPath("test-refresh-token"));
    const std::string rotated = Obj(r.body)->getValue<std::string>("refresh_token");
    r = zoho.Call("POST", ZohoRefreshPath("test-refresh-token"));
    CHECK(Obj(r.body)->getValue<std::string>("error") == "invalid_code");
    // The parameters may also come as a form body.
    r = zoho.Call("POST", "/oauth/v2/token",
                  "grant_type=refresh_token&client_id=test-client-id&"
                  "client_secret=test-client-secret&refresh_token=" + rotated,
                  kForm);
    REQUIRE(Obj(r.body)->has("access_token"));
    const std::string rotated_again = Obj(r.body)->getValue<std::string>("refresh_token");
    zoho.Control(R"({"revokeRefreshToken": true})");
    r = zoho.Call("POST", ZohoRefreshPath(rotated_again));
    CHECK(Obj(r.body)->getValue<std::string>("error") == "invalid_code");
    CHECK(zoho.State()->getObject("tokens")->getValue<int>("refreshes") == 4);
  }

  TEST_CASE("zoho: 429 TOO_MANY_REQUESTS with the X-RATELIMIT headers, and scripted 5xx") {
    VendorServer zoho("zoho.py");
    const auto auth = ZohoAuth(ZohoToken(zoho));
    zoho.Control(R"({"rateLimitPerMinute": 0})");
    t::HttpResult r = zoho.Call("GET", "/crm/v2/users", "", auth);
    CHECK(r.status == 429);
    CHECK(Code(r) == "TOO_MANY_REQUESTS");
    CHECK(r.headers["X-RATELIMIT-REMAINING"] == "0");
    CHECK(r.headers["X-RATELIMIT-LIMIT"] == "0");
    CheckScriptedOrder(zoho,
                       R"({"rateLimitPerMinute": 100, "rateLimitNext": 1,)"
                       R"( "failNext": {"count": 1, "status": 500}})",
                       "/crm/v2/users", auth, 500, Code, "INTERNAL_ERROR");
  }

  TEST_CASE("pipedrive: persons, leads, deals, activities, notes, users in the data envelope") {
    VendorServer pd("pipedrive.py");
    t::HttpResult r = pd.Call("POST", "/v1/persons" + kPdToken,
                              R"({"name":"Lea Buyer","email":[{"value":"lea@example.test",)"
                              R"("primary":true,"label":"work"}],"phone":"+1 555 0100",)"
                              R"("owner_id":102,")" + kCustomKey + R"(":"lead:1"})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    CHECK(r.headers["x-ratelimit-limit"] == "80");
    CHECK(r.headers["x-ratelimit-remaining"] == "79");
    CHECK_FALSE(r.headers["x-ratelimit-reset"].empty());
    CHECK(r.headers["x-daily-requests-left"] == "9999");
    Object::Ptr envelope = Obj(r.body);
    CHECK(envelope->getValue<bool>("success"));
    const int person = envelope->getObject("data")->getValue<int>("id");
    CHECK(envelope->getObject("data")->getArray("phone")->getObject(0)->getValue<std::string>(
              "value") == "+1 555 0100");

    r = pd.Call("POST", "/api/v1/leads" + kPdToken,
                R"({"title":"Lea Buyer","person_id":)" + std::to_string(person) +
                    R"(,"owner_id":102,"value":{"amount":250000,"currency":"EUR"},)"
                    R"("expected_close_date":"2027-01-31"})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    const std::string lead = Obj(r.body)->getObject("data")->getValue<std::string>("id");
    CHECK(std::regex_match(lead, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-"
                                            "[0-9a-f]{12}")));
    CHECK(Obj(r.body)->getObject("data")->getValue<std::string>("source_name") == "API");
    r = pd.Call("PATCH", "/v1/leads/" + lead + kPdToken, R"({"title":"Lea B."})");
    CHECK(r.status == 200);
    r = pd.Call("POST", "/v1/activities" + kPdToken,
                R"({"subject":"Viewing","type":"meeting","due_date":"2026-12-10",)"
                R"("due_time":"14:30","lead_id":")" + lead + R"(","person_id":)" +
                    std::to_string(person) + "}");
    CHECK_MESSAGE(r.status == 201, r.body);
    r = pd.Call("POST", "/v1/notes" + kPdToken,
                R"({"content":"<p>Asked about parking</p>","lead_id":")" + lead + "\"}");
    CHECK_MESSAGE(r.status == 201, r.body);
    r = pd.Call("POST", "/v1/deals" + kPdToken,
                R"({"title":"Deal: Lea","value":250000,"currency":"EUR","person_id":)" +
                    std::to_string(person) + R"(,"user_id":102,"status":"won"})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    const int deal = Obj(r.body)->getObject("data")->getValue<int>("id");
    r = pd.Call("PUT", "/v1/deals/" + std::to_string(deal) + kPdToken,
                R"({"status":"lost","lost_reason":"Bought elsewhere"})");
    CHECK(r.status == 200);
    CHECK(pd.Records("deals")->getObject(0)->getValue<std::string>("lost_reason") ==
          "Bought elsewhere");

    r = pd.Call("GET", "/v1/users" + kPdToken);
    REQUIRE(r.status == 200);
    CHECK(Obj(r.body)->getArray("data")->size() == 3);
    CHECK(r.headers.count("x-daily-requests-left") == 0);  // POST and PUT only
    r = pd.Call("GET", "/v1/users/find" + kPdToken + "&term=bo@example.test&search_by_email=1");
    CHECK(Obj(r.body)->getArray("data")->getObject(0)->getValue<int>("id") == 102);
  }

  TEST_CASE("pipedrive: person search pages with additional_data.pagination") {
    VendorServer pd("pipedrive.py");
    for (int i = 0; i < 3; ++i) PdCreatePerson(pd, "buyer" + std::to_string(i), "lead:7");
    PdCreatePerson(pd, "other", "lead:8");
    std::vector<int> ids;
    int start = 0;
    for (int guard = 0; guard < 5; ++guard) {
      t::HttpResult r = pd.Call("GET", "/v1/persons/search" + kPdToken +
                                           "&term=lead:7&fields=custom_fields&exact_match=true"
                                           "&limit=2&start=" + std::to_string(start));
      REQUIRE_MESSAGE(r.status == 200, r.body);
      Object::Ptr body = Obj(r.body);
      Array::Ptr items = body->getObject("data")->getArray("items");
      for (size_t i = 0; i < items->size(); ++i) {
        ids.push_back(items->getObject(static_cast<unsigned>(i))->getObject("item")->getValue<int>(
            "id"));
      }
      Object::Ptr pagination = body->getObject("additional_data")->getObject("pagination");
      CHECK(pagination->getValue<int>("start") == start);
      CHECK(pagination->getValue<int>("limit") == 2);
      if (!pagination->getValue<bool>("more_items_in_collection")) {
        CHECK_FALSE(pagination->has("next_start"));
        break;
      }
      start = pagination->getValue<int>("next_start");
    }
    CHECK(ids == std::vector<int>{1, 2, 3});
    t::HttpResult r = pd.Call("GET", "/v1/persons/search" + kPdToken + "&term=l");
    CHECK(r.status == 400);
    CHECK(PdError(r).find("at least 2") != std::string::npos);
    r = pd.Call("GET", "/v1/persons/search" + kPdToken + "&term=lead&fields=title");
    CHECK(PdError(r).find("title") != std::string::npos);
  }

  TEST_CASE("pipedrive: one refusal per rule, in Pipedrive's error shapes") {
    VendorServer pd("pipedrive.py");
    const int person = PdCreatePerson(pd, "lea", "lead:1");
    const std::string lead = R"({"title":"T","person_id":)" + std::to_string(person) + "}";

    for (const std::string query : {"", "?api_token=", "?api_token=wrong"}) {
      CAPTURE(query);
      t::HttpResult r = pd.Call("POST", "/v1/leads" + query, lead);
      CHECK(r.status == 401);
      Object::Ptr body = Obj(r.body);
      CHECK_FALSE(body->getValue<bool>("success"));
      CHECK(body->getValue<std::string>("error") ==
            "You need to be authorized to make this request.");
      CHECK(body->getValue<int>("errorCode") == 401);
    }
    // A bearer header is not the api_token this mapping authenticates with.
    CHECK(pd.Call("POST", "/v1/leads", lead, {{"Authorization", "Bearer test-api-token"}})
              .status == 401);

    t::HttpResult r = pd.Call("POST", "/v1/leads" + kPdToken,
                              R"({"person_id":)" + std::to_string(person) + "}");
    CHECK(r.status == 400);
    CHECK(PdError(r) == "Validation failed: title: Required");
    r = pd.Call("POST", "/v1/leads" + kPdToken, R"({"title":"T"})");
    CHECK(PdError(r).find("person_id or organization_id") != std::string::npos);
    r = pd.Call("POST", "/v1/leads" + kPdToken, R"({"title":"T","person_id":"1"})");
    CHECK(PdError(r) == "person_id must be an integer id");
    r = pd.Call("POST", "/v1/leads" + kPdToken, R"({"title":"T","person_id":99})");
    CHECK(PdError(r).find("Person not found") != std::string::npos);
    r = pd.Call("POST", "/v1/leads" + kPdToken, R"({"title":"T","person_id":1,"utm":"x"})");
    CHECK(PdError(r).find("'utm'") != std::string::npos);
    r = pd.Call("POST", "/v1/persons" + kPdToken, R"({"email":"a@b.co"})");
    CHECK(PdError(r) == "Validation failed: name: Required");
    r = pd.Call("POST", "/v1/persons" + kPdToken, R"({"name":"N","email":"nope"})");
    CHECK(PdError(r).find("not a valid email") != std::string::npos);
    r = pd.Call("POST", "/v1/activities" + kPdToken, R"({"type":"visit"})");
    CHECK(PdError(r).find("activity type") != std::string::npos);
    r = pd.Call("POST", "/v1/notes" + kPdToken, R"({"content":"x"})");
    CHECK(PdError(r).find("lead_id") != std::string::npos);
    r = pd.Call("POST", "/v1/leads" + kPdToken, lead, {{"Content-Type", "text/plain"}});
    CHECK(r.status == 400);
    CHECK(PdError(r).find("application/json") != std::string::npos);
    r = pd.Call("PUT", "/v1/leads/00000000-0000-4000-8000-000000000000" + kPdToken, lead);
    CHECK(r.status == 404);
    CHECK(PdError(r) == "Lead not found");
    r = pd.Call("POST", "/v1/contacts" + kPdToken, lead);
    CHECK(r.status == 404);
    r = pd.Call("POST", "/v2/leads" + kPdToken, lead);
    CHECK(r.status == 404);
    CHECK(pd.Records("leads")->size() == 0);
    // The request log keeps paths, never the query string with the token.
    const std::string state = pd.Call("GET", "/_test/state").body;
    CHECK(state.find("/v1/leads") != std::string::npos);
    CHECK(state.find("test-api-token") == std::string::npos);
  }

  TEST_CASE("pipedrive: 429 with Retry-After and the rate-limit headers, the daily budget, 5xx") {
    VendorServer pd("pipedrive.py");
    pd.Control(R"({"rateLimitPerWindow": 0})");
    t::HttpResult r = pd.Call("GET", "/v1/users" + kPdToken);
    CHECK(r.status == 429);
    CHECK(r.headers["Retry-After"] == "2");
    CHECK(r.headers["x-ratelimit-remaining"] == "0");
    CHECK(Obj(r.body)->getValue<int>("errorCode") == 429);
    CHECK_FALSE(Obj(r.body)->getValue<bool>("success"));

    pd.Control(R"({"rateLimitPerWindow": 80, "dailyRequests": 0})");
    CHECK(pd.Call("POST", "/v1/persons" + kPdToken, R"({"name":"N"})").status == 429);
    CHECK(pd.Call("GET", "/v1/users" + kPdToken).status == 200);

    pd.Control(R"({"dailyRequests": 5, "rateLimitNext": 1, "failNext": {"count": 1, "status": 502}})");
    r = pd.Call("GET", "/v1/users" + kPdToken);
    CHECK(r.status == 502);
    CHECK(Obj(r.body)->getValue<int>("errorCode") == 502);
    CHECK(pd.Call("GET", "/v1/users" + kPdToken).status == 429);
    r = pd.Call("POST", "/v1/persons" + kPdToken, R"({"name":"N"})");
    CHECK(r.status == 201);
    CHECK(r.headers["x-daily-requests-left"] == "4");
  }

  TEST_CASE("hubspot: contacts, notes, deals, search, batches and owners in the documented shapes") {
    VendorServer hs("hubspot.py");
    hs.Control(R"({"customProperties":{"contacts":["crmsync_reference"]}})");
    const std::string contact = HsCreateContact(hs, "lead:1");
    t::HttpResult r = hs.Call("GET", "/crm/v3/objects/contacts/" + contact, "", kHsAuth);
    REQUIRE(r.status == 200);
    Object::Ptr record = Obj(r.body);
    CHECK(record->getObject("properties")->getValue<std::string>("hs_object_id") == contact);
    CHECK_FALSE(record->getValue<bool>("archived"));
    CHECK(record->has("createdAt"));
    CHECK(r.headers["X-HubSpot-RateLimit-Max"] == "100");
    CHECK(r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000");
    CHECK(r.headers["X-HubSpot-RateLimit-Remaining"] == "98");
    CHECK(r.headers["X-HubSpot-RateLimit-Daily"] == "250000");
    CHECK(r.headers.count("X-HubSpot-RateLimit-Daily-Remaining") == 1);

    r = hs.Call("PATCH", "/crm/v3/objects/contacts/" + contact,
                R"({"properties":{"hs_lead_status":"CONNECTED","hubspot_owner_id":"101"}})",
                kHsAuth);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(Obj(r.body)->getObject("properties")->getValue<std::string>("hs_lead_status") ==
          "CONNECTED");

    r = hs.Call("POST", "/crm/v3/objects/contacts/search",
                R"({"filterGroups":[{"filters":[{"propertyName":"crmsync_reference",)"
                R"("operator":"EQ","value":"lead:1"}]}],"properties":["crmsync_reference"],)"
                R"("limit":1})",
                kHsAuth);
    REQUIRE(r.status == 200);
    CHECK(Obj(r.body)->getValue<int>("total") == 1);
    CHECK(Obj(r.body)->getArray("results")->getObject(0)->getValue<std::string>("id") == contact);

    const std::string to_contact = R"(,"associations":[{"to":{"id":")" + contact +
                                   R"("},"types":[{"associationCategory":"HUBSPOT_DEFINED",)";
    r = hs.Call("POST", "/crm/v3/objects/notes",
                R"({"properties":{"hs_timestamp":"2026-11-23T10:15:00Z","hs_note_body":"x"})" +
                    to_contact + R"("associationTypeId":202}]}]})",
                kHsAuth);
    CHECK_MESSAGE(r.status == 201, r.body);
    r = hs.Call("POST", "/crm/v3/objects/deals",
                R"({"properties":{"dealname":"D","amount":"10","pipeline":"default",)"
                R"("dealstage":"closedwon"})" +
                    to_contact + R"("associationTypeId":3}]}]})",
                kHsAuth);
    CHECK_MESSAGE(r.status == 201, r.body);

    // A batch with trace ids answers 207: the good input created, the bad one in errors[].
    r = hs.Call("POST", "/crm/v3/objects/contacts/batch/create",
                R"({"inputs":[{"objectWriteTraceId":"lead:2","properties":{"firstname":"A"}},)"
                R"({"objectWriteTraceId":"lead:3","properties":{"email":"nope"}}]})",
                kHsAuth);
    REQUIRE(r.status == 207);
    Object::Ptr batch = Obj(r.body);
    CHECK(batch->getArray("results")->size() == 1);
    CHECK(batch->getValue<int>("numErrors") == 1);
    CHECK(batch->getArray("errors")->getObject(0)->getObject("context")
              ->getArray("objectWriteTraceId")->getElement<std::string>(0) == "lead:3");
    r = hs.Call("POST", "/crm/v3/objects/contacts/batch/update",
                R"({"inputs":[{"id":")" + contact + R"(","properties":{"phone":"+91 1"}}]})",
                kHsAuth);
    CHECK(r.status == 200);
    CHECK(Obj(r.body)->getValue<std::string>("status") == "COMPLETE");

    // Owners page by paging.next.after; archived ones only on request.
    r = hs.Call("GET", "/crm/v3/owners?limit=1&archived=false", "", kHsAuth);
    REQUIRE(r.status == 200);
    Object::Ptr page = Obj(r.body);
    CHECK(page->getArray("results")->getObject(0)->getValue<std::string>("id") == "101");
    const std::string after =
        page->getObject("paging")->getObject("next")->getValue<std::string>("after");
    page = Obj(hs.Call("GET", "/crm/v3/owners?limit=1&archived=false&after=" + after, "", kHsAuth)
                   .body);
    CHECK(page->getArray("results")->getObject(0)->getValue<std::string>("id") == "102");
    CHECK_FALSE(page->has("paging"));
    page = Obj(hs.Call("GET", "/crm/v3/owners?archived=true", "", kHsAuth).body);
    CHECK(page->getArray("results")->getObject(0)->getValue<std::string>("id") == "103");
  }

  TEST_CASE("hubspot: one refusal per rule, in HubSpot's error shape") {
    VendorServer hs("hubspot.py");
    hs.Control(R"({"customProperties":{"contacts":["crmsync_reference"]}})");
    const std::string contact = HsCreateContact(hs, "lead:1");
    const std::string good = R"({"properties":{"firstname":"A"}})";

    for (const std::string header : {"", "Bearer wrong", "test-private-app-token"}) {
      CAPTURE(header);
      std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}};
      if (!header.empty()) headers["Authorization"] = header;
      t::HttpResult r = hs.Call("POST", "/crm/v3/objects/contacts", good, headers);
      CHECK(r.status == 401);
      CHECK(HsCategory(r) == "INVALID_AUTHENTICATION");
    }
    t::HttpResult r =
        hs.Call("POST", "/crm/v3/objects/contacts", R"({"properties":{"utm":"x"}})", kHsAuth);
    CHECK(r.status == 400);
    CHECK(HsCategory(r) == "VALIDATION_ERROR");
    CHECK(HsErrorCode(r) == "PROPERTY_DOESNT_EXIST");
    CHECK(r.body.find("\"utm\"") != std::string::npos);
    r = hs.Call("POST", "/crm/v3/objects/contacts", R"({"properties":{"firstname":7}})", kHsAuth);
    CHECK(r.status == 400);
    CHECK(r.body.find("not a string") != std::string::npos);
    r = hs.Call("POST", "/crm/v3/objects/contacts", R"({"properties":{"email":"nope"}})", kHsAuth);
    CHECK(HsErrorCode(r) == "INVALID_EMAIL");
    r = hs.Call("POST", "/crm/v3/objects/contacts", R"({"properties":{"hs_lead_status":"WON"}})",
                kHsAuth);
    CHECK(HsErrorCode(r) == "INVALID_OPTION");
    r = hs.Call("POST", "/crm/v3/objects/contacts",
                R"({"properties":{"hubspot_owner_id":"999"}})", kHsAuth);
    CHECK(HsErrorCode(r) == "INVALID_OWNER_ID");
    r = hs.Call("POST", "/crm/v3/objects/deals",
                R"({"properties":{"dealname":"D","dealstage":"won"}})", kHsAuth);
    CHECK(HsErrorCode(r) == "INVALID_OPTION");
    r = hs.Call("POST", "/crm/v3/objects/contacts", R"({"properties":{},"extra":1})", kHsAuth);
    CHECK(r.status == 400);
    CHECK(r.body.find("extra") != std::string::npos);
    // A note associated with the deal type id, and one to a contact that does not exist.
    r = hs.Call("POST", "/crm/v3/objects/notes",
                R"({"properties":{"hs_note_body":"x"},"associations":[{"to":{"id":")" + contact +
                    R"("},"types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":3}]}]})",
                kHsAuth);
    CHECK(r.status == 400);
    CHECK(r.body.find("associationTypeId") != std::string::npos);
    r = hs.Call("POST", "/crm/v3/objects/notes",
                R"({"properties":{"hs_note_body":"x"},"associations":[{"to":{"id":"9"},)"
                R"("types":[{"associationCategory":"HUBSPOT_DEFINED","associationTypeId":202}]}]})",
                kHsAuth);
    CHECK(r.status == 404);
    CHECK(HsCategory(r) == "OBJECT_NOT_FOUND");
    r = hs.Call("PATCH", "/crm/v3/objects/contacts/424242", good, kHsAuth);
    CHECK(r.status == 404);
    CHECK(HsCategory(r) == "OBJECT_NOT_FOUND");
    r = hs.Call("POST", "/crm/v3/objects/contacts", good,
                {{"Authorization", "Bearer test-private-app-token"},
                 {"Content-Type", "text/plain"}});
    CHECK(r.status == 415);
    r = hs.Call("POST", "/crm/v3/objects/widgets", good, kHsAuth);
    CHECK(r.status == 404);
    std::string inputs;
    for (int i = 0; i < 101; ++i) inputs += (i ? "," : "") + good;
    r = hs.Call("POST", "/crm/v3/objects/contacts/batch/create", R"({"inputs":[)" + inputs + "]}",
                kHsAuth);
    CHECK(r.status == 400);
    CHECK(r.body.find("limit is 100") != std::string::npos);
    r = hs.Call("POST", "/crm/v3/objects/contacts/search",
                R"({"filterGroups":[{"filters":[{"propertyName":"crmsync_reference",)"
                R"("operator":"LIKE","value":"x"}]}]})",
                kHsAuth);
    CHECK(r.status == 400);
    CHECK(r.body.find("operator") != std::string::npos);
    r = hs.Call("POST", "/crm/v3/objects/contacts/search", R"({"limit":201})", kHsAuth);
    CHECK(r.status == 400);
    r = hs.Call("GET", "/crm/v3/owners?limit=501", "", kHsAuth);
    CHECK(r.status == 400);
    r = hs.Call("GET", "/crm/v3/owners?after=x", "", kHsAuth);
    CHECK(r.status == 400);
    CHECK(hs.Records("contacts")->size() == 1);
    CHECK(hs.Call("POST", "/_test/control", R"({"customProperties":{"widgets":[]}})").status ==
          400);
    // The request log keeps methods and paths, never the token.
    CHECK(hs.Call("GET", "/_test/state").body.find("test-private-app-token") == std::string::npos);
  }

  TEST_CASE("hubspot: 429 in the documented shape with the rate-limit headers, and scripted 5xx") {
    VendorServer hs("hubspot.py");
    hs.Control(R"({"rateLimitPerWindow": 0})");
    t::HttpResult r = hs.Call("GET", "/crm/v3/owners", "", kHsAuth);
    CHECK(r.status == 429);
    CHECK(r.headers["X-HubSpot-RateLimit-Remaining"] == "0");
    CHECK(r.headers["X-HubSpot-RateLimit-Max"] == "0");
    Object::Ptr body = Obj(r.body);
    CHECK(body->getValue<std::string>("status") == "error");
    CHECK(body->getValue<std::string>("errorType") == "RATE_LIMIT");
    CHECK(body->getValue<std::string>("policyName") == "TEN_SECONDLY_ROLLING");
    CHECK(body->getValue<std::string>("category") == "RATE_LIMITS");
    CHECK(body->getValue<std::string>("message").find("limit") != std::string::npos);

    CheckScriptedOrder(hs,
                       R"({"rateLimitPerWindow": 100, "rateLimitNext": 1,)"
                       R"("failNext": {"count": 1, "status": 502}})",
                       "/crm/v3/owners", kHsAuth, 502, HsCategory, "INTERNAL_ERROR");
  }
}

// --- Inbound: an agent's change, the vendor's delivery about it, and the reads
// that polling and fetch use ---------------------------------------------------

namespace {

using t::Base64;
using t::Hex;
using t::HmacSha256;
using t::Sha256;

// The "webhook" request of a control answer: method, url, headers, body.
struct Delivery {
  std::string method, url, body;
  Object::Ptr headers;
};
Delivery DeliveryOf(const t::HttpResult& control) {
  REQUIRE_MESSAGE(control.status == 200, control.body);
  Object::Ptr hook = Obj(control.body)->getObject("webhook");
  REQUIRE_MESSAGE(hook, control.body);
  return {hook->getValue<std::string>("method"), hook->getValue<std::string>("url"),
          hook->getValue<std::string>("body"), hook->getObject("headers")};
}

constexpr int64_t kT0 = 1796306400000;  // 2026-12-03T14:00:00Z, the frozen clock's start

}  // namespace

TEST_SUITE("crm_servers") {
  TEST_CASE("the clock, webhook and edit controls refuse bad values, naming them") {
    VendorServer hs("hubspot.py");
    for (const char* bad :
         {R"({"clock":{"freezeMs":"soon"}})", R"({"clock":{"rewind":5}})",
          R"({"webhook":{"url":"ftp://x","clientSecret":"s","subscriptions":{}}})",
          R"({"webhook":{"url":"http://127.0.0.1:1/h","subscriptions":{}}})",
          R"({"edit":{"object":"contacts","id":"404","properties":{}}})",
          R"({"edit":{"object":"tickets","id":"1","properties":{}}})",
          R"({"redeliver":true})"}) {
      CAPTURE(bad);
      t::HttpResult r = hs.Call("POST", "/_test/control", std::string(bad));
      CHECK(r.status == 400);
      const std::string error = Obj(r.body)->getValue<std::string>("error");
      CHECK((error.find("clock") != std::string::npos || error.find("webhook") != std::string::npos ||
             error.find("edit") != std::string::npos ||
             error.find("redeliver") != std::string::npos));
    }
    VendorServer sf("salesforce.py");
    t::HttpResult r = sf.Call("POST", "/_test/control", R"({"webhook":{"url":"http://h/"}})");
    CHECK(r.status == 400);
    CHECK(r.body.find("sends no webhooks") != std::string::npos);
  }

  TEST_CASE("hubspot: an agent's edit is one signed delivery of contact.propertyChange events") {
    VendorServer hs("hubspot.py");
    hs.Control(R"({"customProperties":{"contacts":["crmsync_reference","crmsync_notes"]},)"
               R"("clock":{"freezeMs":)" + std::to_string(kT0) + "}}");
    const std::string contact = HsCreateContact(hs, "lead:1");
    const std::string url = "https://hooks.example.test/api/v1/crm/webhook?portal=1";
    hs.Control(R"({"clock":{"advanceMs":1500},"webhook":{"url":")" + url +
               R"(","send":false,"clientSecret":"app-secret-1","appId":77,"portalId":62515,)"
               R"("subscriptions":{"contacts":["hs_lead_status","hubspot_owner_id","crmsync_notes"]}}})");
    t::HttpResult r = hs.Call("POST", "/_test/control",
                              R"({"edit":{"object":"contacts","id":")" + contact +
                                  R"(","properties":{"hs_lead_status":"CONNECTED",)"
                                  R"("crmsync_notes":"called back","phone":"+4930123"}}})");
    Delivery hook = DeliveryOf(r);
    CHECK(hook.method == "POST");
    CHECK(hook.url == url);
    // v3: base64 HMAC-SHA256 of method + URI + body + timestamp under the client secret.
    const std::string timestamp = hook.headers->getValue<std::string>("X-HubSpot-Request-Timestamp");
    CHECK(timestamp == std::to_string(kT0 + 1500));
    CHECK(hook.headers->getValue<std::string>("X-HubSpot-Signature-v3") ==
          Base64(HmacSha256("app-secret-1", "POST" + url + hook.body + timestamp)));
    // v1 (what webhooks carry besides v3): hex SHA-256 of secret + body.
    CHECK(hook.headers->getValue<std::string>("X-HubSpot-Signature-Version") == "v1");
    CHECK(hook.headers->getValue<std::string>("X-HubSpot-Signature") ==
          Hex(Sha256("app-secret-1" + hook.body)));
    Array::Ptr events = Arr(hook.body);
    REQUIRE(events->size() == 2);  // phone is not subscribed
    Object::Ptr first = events->getObject(0);
    CHECK(first->getValue<std::string>("subscriptionType") == "contact.propertyChange");
    CHECK(first->getValue<std::string>("objectId") == contact);
    CHECK(first->getValue<std::string>("propertyName") == "hs_lead_status");
    CHECK(first->getValue<std::string>("propertyValue") == "CONNECTED");
    CHECK(first->getValue<int64_t>("occurredAt") == kT0 + 1500);
    CHECK(first->getValue<int>("attemptNumber") == 0);
    CHECK(first->getValue<int>("portalId") == 62515);
    CHECK(events->getObject(1)->getValue<std::string>("propertyName") == "crmsync_notes");
    // The record changed, with lastmodifieddate from the clock.
    Object::Ptr record = Obj(r.body)->getObject("record");
    CHECK(record->getValue<std::string>("updatedAt") == "2026-12-03T14:00:01.500Z");
    CHECK(record->getObject("properties")->getValue<std::string>("lastmodifieddate") ==
          "2026-12-03T14:00:01.500Z");
    // HubSpot's retry: the same events, attemptNumber 1, signed again at the new now.
    hs.Control(R"({"clock":{"advanceMs":60000}})");
    Delivery retry = DeliveryOf(hs.Call("POST", "/_test/control", R"({"redeliver":true})"));
    Array::Ptr again = Arr(retry.body);
    CHECK(again->getObject(0)->getValue<int64_t>("eventId") ==
          first->getValue<int64_t>("eventId"));
    CHECK(again->getObject(0)->getValue<int>("attemptNumber") == 1);
    CHECK(retry.headers->getValue<std::string>("X-HubSpot-Request-Timestamp") ==
          std::to_string(kT0 + 61500));
    // v2 for older apps: hex SHA-256 of secret + method + URI + body.
    hs.Control(R"({"webhook":{"url":")" + url +
               R"(","send":false,"clientSecret":"app-secret-1","signatureVersion":"v2",)"
               R"("subscriptions":{"contacts":["hs_lead_status"]}}})");
    Delivery v2 = DeliveryOf(hs.Call("POST", "/_test/control",
                                     R"({"edit":{"object":"contacts","id":")" + contact +
                                         R"(","properties":{"hs_lead_status":"OPEN"}}})"));
    CHECK(v2.headers->getValue<std::string>("X-HubSpot-Signature") ==
          Hex(Sha256("app-secret-1POST" + url + v2.body)));
    // Nothing the engine did: edits are not in the request log.
    Array::Ptr requests = hs.State()->getArray("requests");
    CHECK(requests->size() == 1);
  }

  TEST_CASE("hubspot: the contacts search on lastmodifieddate GTE, ascending, paged by after") {
    VendorServer hs("hubspot.py");
    hs.Control(R"({"customProperties":{"contacts":["crmsync_reference"]},)"
               R"("clock":{"freezeMs":)" + std::to_string(kT0) + "}}");
    std::vector<std::string> ids;
    for (int i = 0; i < 4; ++i) {
      hs.Control(R"({"clock":{"advanceMs":1000}})");
      ids.push_back(HsCreateContact(hs, "lead:" + std::to_string(i)));
    }
    // The first contact changes last: it sorts last.
    hs.Control(R"({"clock":{"advanceMs":1000},"edit":{"object":"contacts","id":")" + ids[0] +
               R"(","properties":{"hs_lead_status":"OPEN"}}})");
    auto search = [&](const std::string& since, const std::string& after) {
      std::string body = R"({"filterGroups":[{"filters":[{"propertyName":"lastmodifieddate",)"
                         R"("operator":"GTE","value":")" + since + R"("}]}],)"
                         R"("sorts":[{"propertyName":"lastmodifieddate","direction":"ASCENDING"}],)"
                         R"("properties":["hs_lead_status"],"limit":2)";
      if (!after.empty()) body += R"(,"after":")" + after + "\"";
      t::HttpResult r = hs.Call("POST", "/crm/v3/objects/contacts/search", body + "}", kHsAuth);
      REQUIRE_MESSAGE(r.status == 200, r.body);
      return Obj(r.body);
    };
    Object::Ptr page = search(std::to_string(kT0 + 2000), "");
    CHECK(page->getValue<int>("total") == 4);  // ids[1..3] and the edited ids[0]
    Array::Ptr results = page->getArray("results");
    REQUIRE(results->size() == 2);
    CHECK(results->getObject(0)->getValue<std::string>("id") == ids[1]);
    CHECK(results->getObject(1)->getValue<std::string>("id") == ids[2]);
    const std::string after = page->getObject("paging")->getObject("next")->getValue<std::string>("after");
    page = search(std::to_string(kT0 + 2000), after);
    results = page->getArray("results");
    REQUIRE(results->size() == 2);
    CHECK(results->getObject(0)->getValue<std::string>("id") == ids[3]);
    CHECK(results->getObject(1)->getValue<std::string>("id") == ids[0]);
    CHECK(results->getObject(1)->getObject("properties")->getValue<std::string>("hs_lead_status") ==
          "OPEN");
    CHECK_FALSE(page->has("paging"));
    // ISO 8601 works as the value too; a value that is no time is refused, naming it.
    CHECK(search("2026-12-03T14:00:05Z", "")->getValue<int>("total") == 1);
    t::HttpResult bad = hs.Call(
        "POST", "/crm/v3/objects/contacts/search",
        R"({"filterGroups":[{"filters":[{"propertyName":"lastmodifieddate","operator":"GTE",)"
        R"("value":"yesterday"}]}]})", kHsAuth);
    CHECK(bad.status == 400);
    CHECK(bad.body.find("yesterday") != std::string::npos);
    bad = hs.Call("POST", "/crm/v3/objects/contacts/search",
                  R"({"sorts":[{"propertyName":"lastmodifieddate","direction":"UP"}]})", kHsAuth);
    CHECK(bad.status == 400);
    bad = hs.Call("POST", "/crm/v3/objects/contacts/search", R"({"limit":100,"after":"9950"})",
                  kHsAuth);
    CHECK(bad.status == 400);  // HubSpot pages through at most 10,000 results
  }

  TEST_CASE("pipedrive: an agent's edit is one webhook v2 delivery with basic auth") {
    VendorServer pd("pipedrive.py");
    pd.Control(R"({"clock":{"freezeMs":)" + std::to_string(kT0) + "}}");
    const int person = PdCreatePerson(pd, "Lea", "lead:1");
    t::HttpResult r = pd.Call(
        "POST", "/_test/control",
        R"({"clock":{"advanceMs":2000},"webhook":{"url":"https://h.example.test/hook",)"
        R"("send":false,"httpAuthUser":"crmsync","httpAuthPassword":"pw-1"},)"
        R"("edit":{"object":"persons","id":)" + std::to_string(person) +
            R"(,"fields":{")" + kCustomKey + R"(":"lead:9","owner_id":102}}})");
    Delivery hook = DeliveryOf(r);
    CHECK(hook.headers->getValue<std::string>("Authorization") == "Basic " + Base64("crmsync:pw-1"));
    Object::Ptr body = Obj(hook.body);
    Object::Ptr meta = body->getObject("meta");
    CHECK(meta->getValue<std::string>("action") == "change");
    CHECK(meta->getValue<std::string>("entity") == "person");
    CHECK(meta->getValue<std::string>("entity_id") == std::to_string(person));
    CHECK(meta->getValue<std::string>("version") == "2.0");
    CHECK(meta->getValue<std::string>("timestamp") == "2026-12-03T14:00:02.000Z");
    CHECK(meta->getValue<int>("attempt") == 1);
    Object::Ptr data = body->getObject("data");
    CHECK(data->getValue<int>("owner_id") == 102);
    CHECK(data->getValue<std::string>("update_time") == "2026-12-03T14:00:02.000Z");
    CHECK(data->getObject("custom_fields")->getObject(kCustomKey)->getValue<std::string>("value") ==
          "lead:9");
    Object::Ptr previous = body->getObject("previous");
    CHECK(previous->getObject("custom_fields")->getObject(kCustomKey)->getValue<std::string>(
              "value") == "lead:1");
    CHECK(previous->isNull("owner_id"));  // it had none
    CHECK_FALSE(previous->has("name"));   // unchanged
    Delivery retry = DeliveryOf(pd.Call("POST", "/_test/control", R"({"redeliver":true})"));
    Object::Ptr retried = Obj(retry.body)->getObject("meta");
    CHECK(retried->getValue<std::string>("id") == meta->getValue<std::string>("id"));
    CHECK(retried->getValue<int>("attempt") == 2);
    r = pd.Call("POST", "/_test/control",
                R"({"edit":{"object":"persons","id":)" + std::to_string(person) +
                    R"(,"fields":{"owner_id":999}}})");
    CHECK(r.status == 400);  // no such user, as the API refuses it
  }

  TEST_CASE("zoho: an agent's edit is one notification with the channel token, the lead read by id") {
    VendorServer zoho("zoho.py");
    zoho.Control(R"({"clock":{"freezeMs":)" + std::to_string(kT0) + "}}");
    const auto auth = ZohoAuth(ZohoToken(zoho));
    t::HttpResult r = zoho.Call("POST", "/crm/v2/Leads", R"({"data":[{"Last_Name":"Rao"}]})", auth);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    const std::string id = ZohoItem(r, 0)->getObject("details")->getValue<std::string>("id");
    r = zoho.Call("POST", "/_test/control",
                  R"({"clock":{"advanceMs":3000},"webhook":{"url":"https://h.example.test/z",)"
                  R"("send":false,"channelId":"1000000068001","token":"TOKEN_1000000068001"},)"
                  R"("edit":{"module":"Leads","id":")" + id +
                      R"(","fields":{"Lead_Status":"Contacted"}}})");
    Delivery hook = DeliveryOf(r);
    Object::Ptr body = Obj(hook.body);
    CHECK(body->getValue<std::string>("token") == "TOKEN_1000000068001");
    CHECK(body->getValue<std::string>("channel_id") == "1000000068001");
    CHECK(body->getValue<std::string>("module") == "Leads");
    CHECK(body->getValue<std::string>("operation") == "update");
    CHECK(body->getValue<int64_t>("server_time") == kT0 + 3000);
    REQUIRE(body->getArray("ids")->size() == 1);
    CHECK(body->getArray("ids")->getElement<std::string>(0) == id);
    CHECK_FALSE(body->has("data"));  // a notification names the ids, not the values
    r = zoho.Call("GET", "/crm/v2/Leads/" + id, "", auth);
    REQUIRE(r.status == 200);
    Object::Ptr lead = Obj(r.body)->getArray("data")->getObject(0);
    CHECK(lead->getValue<std::string>("Lead_Status") == "Contacted");
    CHECK(lead->getValue<std::string>("Modified_Time") == "2026-12-03T14:00:03+00:00");
    CHECK(zoho.Call("GET", "/crm/v2/Leads/5725767999999999999", "", auth).status == 204);
    r = zoho.Call("POST", "/_test/control",
                  R"({"edit":{"module":"Leads","id":")" + id +
                      R"(","fields":{"Lead_Status":"Maybe"}}})");
    CHECK(r.status == 400);
    CHECK(r.body.find("Lead_Status") != std::string::npos);
  }

  TEST_CASE("salesforce: SOQL on SystemModstamp with a dateTime literal, ORDER BY, nextRecordsUrl") {
    VendorServer sf("salesforce.py");
    sf.Control(R"({"clock":{"freezeMs":)" + std::to_string(kT0) + "}}");
    const auto auth = Bearer(SfClientCredentials(sf));
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
      sf.Control(R"({"clock":{"advanceMs":1000}})");
      t::HttpResult r = sf.Call("POST", kSf + "/sobjects/Lead",
                                R"({"LastName":"L","Company":"C","Crmsync_Reference__c":"lead:)" +
                                    std::to_string(i) + "\"}",
                                auth);
      REQUIRE(r.status == 201);
      ids.push_back(Obj(r.body)->getValue<std::string>("id"));
    }
    sf.Control(R"({"clock":{"advanceMs":1000},"edit":{"object":"Lead","id":")" + ids[0] +
               R"(","fields":{"Status":"Working - Contacted"}}})");
    sf.Control(R"({"queryBatchSize":2})");
    const std::string q =
        "SELECT+Id,+Status,+SystemModstamp+FROM+Lead+WHERE+SystemModstamp+%3E%3D+"
        "2026-12-03T14:00:02Z+AND+Crmsync_Reference__c+!%3D+null+ORDER+BY+SystemModstamp+ASC";
    t::HttpResult r = sf.Call("GET", kSf + "/query?q=" + q, "", auth);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    Object::Ptr page = Obj(r.body);
    CHECK(page->getValue<int>("totalSize") == 3);
    Array::Ptr rows = page->getArray("records");
    REQUIRE(rows->size() == 2);
    CHECK(rows->getObject(0)->getValue<std::string>("Id") == ids[1]);
    CHECK(rows->getObject(0)->getValue<std::string>("SystemModstamp") ==
          "2026-12-03T14:00:02.000+0000");
    const std::string next = page->getValue<std::string>("nextRecordsUrl");
    for (int read = 0; read < 2; ++read) {  // a query locator can be read again
      r = sf.Call("GET", next, "", auth);
      REQUIRE_MESSAGE(r.status == 200, r.body);
      rows = Obj(r.body)->getArray("records");
      REQUIRE(rows->size() == 1);
      CHECK(rows->getObject(0)->getValue<std::string>("Id") == ids[0]);
      CHECK(rows->getObject(0)->getValue<std::string>("Status") == "Working - Contacted");
    }
    r = sf.Call("GET", kSf + "/query?q=SELECT+Id+FROM+Lead+WHERE+SystemModstamp+%3E+yesterday", "",
                auth);
    CHECK(SfCode(r) == "MALFORMED_QUERY");
    r = sf.Call("GET", kSf + "/query?q=SELECT+Id+FROM+Lead+ORDER+BY+Nope", "", auth);
    CHECK(SfCode(r) == "INVALID_FIELD");
    r = sf.Call("POST", "/_test/control",
                R"({"edit":{"object":"Lead","id":")" + ids[1] + R"(","fields":{"Status":"Gone"}}})");
    CHECK(r.status == 400);
    CHECK(r.body.find("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST") != std::string::npos);
  }

  TEST_CASE("a stand-in sends the delivery to webhook.url after its lock, and reports the answer") {
    // The receiver is another stand-in's control endpoint: a real HTTP server
    // that answers 400 to a body that is not its control object.
    VendorServer receiver("salesforce.py");
    VendorServer hs("hubspot.py");
    hs.Control(R"({"customProperties":{"contacts":["crmsync_reference"]}})");
    const std::string contact = HsCreateContact(hs, "lead:1");
    t::HttpResult r = hs.Call(
        "POST", "/_test/control",
        R"({"webhook":{"url":")" + receiver.Url() +
            R"(/_test/control","clientSecret":"s","subscriptions":{"contacts":["hs_lead_status"]}},)"
            R"("edit":{"object":"contacts","id":")" + contact +
            R"(","properties":{"hs_lead_status":"OPEN"}}})");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    Object::Ptr delivered = Obj(r.body)->getObject("delivered");
    REQUIRE_MESSAGE(delivered, r.body);
    CHECK(delivered->getValue<int>("status") == 400);  // an array is no control object
    Array::Ptr deliveries = hs.State()->getArray("deliveries");
    REQUIRE(deliveries->size() == 1);
    CHECK(deliveries->getObject(0)->getValue<int>("status") == 400);

    // With apiChanges, an API write is notified too (changeSource
    // INTEGRATION), sent after the API's answer; an unchanged value is not.
    hs.Control(R"({"webhook":{"url":")" + receiver.Url() +
               R"(/_test/control","apiChanges":true,"clientSecret":"s",)"
               R"("subscriptions":{"contacts":["hs_lead_status"]}}})");
    r = hs.Call("PATCH", "/crm/v3/objects/contacts/" + contact,
                R"({"properties":{"hs_lead_status":"OPEN","phone":"+1"}})", kHsAuth);
    REQUIRE(r.status == 200);  // OPEN was OPEN already, phone is not subscribed: nothing
    r = hs.Call("PATCH", "/crm/v3/objects/contacts/" + contact,
                R"({"properties":{"hs_lead_status":"CONNECTED"}})", kHsAuth);
    REQUIRE(r.status == 200);
    REQUIRE(t::WaitUntil([&] { return hs.State()->getArray("deliveries")->size() >= 2; }));
    CHECK(hs.State()->getArray("deliveries")->size() == 2);
    CHECK(hs.State()->getArray("deliveries")->getObject(1)->getValue<int>("status") == 400);
    CHECK(hs.Call("POST", "/_test/control", R"({"webhook":{"url":"http://h/","clientSecret":"s",)"
                                            R"("subscriptions":{},"apiChanges":"yes"}})")
              .status == 400);
  }
}
