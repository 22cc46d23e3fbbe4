// generic-rest-crm end to end: the real binary reaches a real HTTP CRM with
// the mapped body; switching CRM (the HubSpot-shaped mapping) is config only.
#include <doctest/doctest.h>

#include <signal.h>

#include <mutex>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>

#include "test_support.h"

namespace t = crmsync::testing;
using Poco::JSON::Object;

namespace {

const std::string kBinary = CRMSYNC_BINARY;

Object::Ptr Parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

// The engine, started with the generic-rest-crm plugin and `extra` settings.
struct Engine {
  Engine(const std::vector<std::string>& extra, const std::map<std::string, std::string>& env) {
    std::vector<std::string> args = {
        "serve", "--set", "server.port=" + std::to_string(port), "--set",
        "store.path=" + dir.File("crmsync.db"), "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR,
        "--set", "crm.plugin=generic-rest-crm", "--set", "intake.token=intake-t", "--set",
        "admin.token=admin-t", "--set", "log.level=warning"};
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<t::ChildProcess>(kBinary, args, env);
    ready = t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; });
  }
  ~Engine() {
    process->Signal(SIGTERM);
    process->WaitExit(std::chrono::seconds(20));
  }
  int Post(const std::string& body) {
    return t::HttpCall(port, "POST", "/api/v1/events", body, {{"Authorization", "Bearer intake-t"}})
        .status;
  }
  t::TempDir dir;
  int port = t::FreePort();
  std::unique_ptr<t::ChildProcess> process;
  bool ready = false;
};

std::string LeadEvent(const std::string& event_id, const std::string& type,
                      const std::string& status) {
  return R"({"eventId":")" + event_id + R"(","type":")" + type +
         R"(","occurredAt":"2026-11-23T10:15:00Z","data":{"id":"42","name":"Asha Rao",)"
         R"("email":"asha@example.com","phone":"+91 98765 43210","source":"website",)"
         R"("status":")" + status + R"(","budgetMin":5000000,"budgetMax":7500000,)"
         R"("preferredLocation":["Baner","Wakad"],"notes":"Wants 3BHK","utmSource":"google_ads",)"
         R"("propertyId":"p-7","assignedToId":"agent-3","createdAt":"2026-11-20T08:00:00Z"}})";
}

std::string PropertyEvent(const std::string& event_id) {
  return R"({"eventId":")" + event_id +
         R"(","type":"property.created","occurredAt":"2026-11-23T10:00:00Z","data":{"id":"p-7",)"
         R"("title":"2BHK in Baner","price":6800000,"city":"Pune","locality":"Baner",)"
         R"("status":"ACTIVE","ownerId":"owner-1","dealerId":"dealer-9"}})";
}

// A CRM that records requests and answers 201 {"id": "..."} (HubSpot-like).
class RecordingCrm {
 public:
  RecordingCrm()
      : server_([this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
          Handle(req, resp);
        }) {}
  int port() const { return server_.port(); }
  struct Request {
    std::string method, uri, authorization, body;
  };
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Handle(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    Request r{req.getMethod(), req.getURI(), req.get("Authorization", ""), ""};
    Poco::StreamCopier::copyToString(req.stream(), r.body);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(r);
    }
    std::string answer = R"({"id":"hs-)" + std::to_string(requests().size()) + "\"}";
    resp.setStatus(r.method == "POST" ? Poco::Net::HTTPResponse::HTTP_CREATED
                                      : Poco::Net::HTTPResponse::HTTP_OK);
    resp.setContentType("application/json");
    resp.sendBuffer(answer.data(), answer.size());
  }

  std::mutex mu_;
  std::vector<Request> requests_;
  t::LoopbackHttpServer server_;  // last: stopped first
};

}  // namespace

TEST_SUITE("e2e.generic_rest") {
  TEST_CASE("generic-rest-crm with the reference mapping delivers the mapped lead over HTTP") {
    int crm_port = t::FreePort();
    t::ChildProcess crm(CRMSYNC_REFERENCE_CRM, {"--port", std::to_string(crm_port), "--api-key",
                                                "key-123", "--api-secret", "secret-456"});
    REQUIRE(t::WaitUntil([&] { return t::HttpCall(crm_port, "GET", "/_state").status == 200; }));
    // Credentials through the strategy's environment names, as deployments set them.
    Engine engine({"--set", "crm.mapping=" CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json",
                   "--set", "crm.api.url=http://127.0.0.1:" + std::to_string(crm_port)},
                  {{"CRM_API_KEY", "key-123"}, {"CRM_API_SECRET", "secret-456"}});
    REQUIRE_MESSAGE(engine.ready, engine.process->Stderr());

    CHECK(engine.Post(PropertyEvent("g0")) == 202);
    CHECK(engine.Post(LeadEvent("g1", "lead.created", "NEW")) == 202);
    CHECK(engine.Post(LeadEvent("g2", "lead.status_changed", "CONVERTED")) == 202);
    Object::Ptr lead;
    Object::Ptr property;
    REQUIRE(t::WaitUntil([&] {
      Object::Ptr state = Parse(t::HttpCall(crm_port, "GET", "/_state").body);
      auto leads = state->getArray("leads");
      auto properties = state->getArray("properties");
      if (leads->size() != 1 || properties->size() != 1) return false;
      lead = leads->getObject(0);
      property = properties->getObject(0);
      return lead->optValue<std::string>("status", "") == "won" && lead->has("deals");
    }));
    // Every field of the strategy's lead table, as the CRM keeps it.
    CHECK(lead->getValue<std::string>("externalReference") == "lead:42");
    CHECK(lead->getValue<std::string>("name") == "Asha Rao");
    CHECK(lead->getValue<std::string>("email") == "asha@example.com");
    CHECK(lead->getValue<std::string>("phone") == "+91 98765 43210");
    CHECK(lead->getValue<std::string>("source") == "website");  // through sourceMap
    CHECK(lead->getObject("budgetRange")->getValue<int64_t>("min") == 5000000);
    CHECK(lead->getObject("budgetRange")->getValue<int64_t>("max") == 7500000);
    CHECK(lead->getArray("preferredAreas")->size() == 2);
    CHECK(lead->getValue<std::string>("notes") == "Wants 3BHK");
    CHECK(lead->getValue<std::string>("utmSource") == "google_ads");
    CHECK(lead->getValue<std::string>("createdDate") == "2026-11-20T08:00:00Z");
    // No CRM user matched agent-3 (the CRM lists none): the platform id, as is.
    CHECK(lead->getValue<std::string>("assignedAgent") == "agent-3");
    CHECK(lead->getArray("deals")->size() == 1);
    // Every field of the strategy's property table.
    CHECK(property->getValue<std::string>("externalReference") == "property:p-7");
    CHECK(property->getValue<std::string>("title") == "2BHK in Baner");
    CHECK(property->getValue<int64_t>("price") == 6800000);
    CHECK(property->getObject("location")->getValue<std::string>("city") == "Pune");
    CHECK(property->getObject("location")->getValue<std::string>("locality") == "Baner");
    CHECK(property->getValue<std::string>("status") == "active");
    CHECK(property->getValue<std::string>("owner") == "owner-1");
    CHECK(property->getValue<std::string>("assignedAgent") == "dealer-9");
    CHECK(property->getValue<std::string>("internalId") == "p-7");
    Object::Ptr state = Parse(t::HttpCall(crm_port, "GET", "/_state").body);
    CHECK(state->getObject("requests")->getValue<int>("POST /api/v1/leads") == 1);
    CHECK(state->getObject("requests")->getValue<int>("PUT /api/v1/leads/{id}") == 1);
  }

  TEST_CASE("wrong CRM credentials disable sync and the lead waits untouched") {
    int crm_port = t::FreePort();
    t::ChildProcess crm(CRMSYNC_REFERENCE_CRM, {"--port", std::to_string(crm_port), "--api-key",
                                                "key-123", "--api-secret", "secret-456"});
    REQUIRE(t::WaitUntil([&] { return t::HttpCall(crm_port, "GET", "/_state").status == 200; }));
    Engine engine({"--set", "crm.mapping=" CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json",
                   "--set", "crm.api.url=http://127.0.0.1:" + std::to_string(crm_port)},
                  {{"CRM_API_KEY", "wrong"}, {"CRM_API_SECRET", "wrong"}});
    REQUIRE_MESSAGE(engine.ready, engine.process->Stderr());
    CHECK(engine.Post(LeadEvent("w1", "lead.created", "NEW")) == 202);
    REQUIRE(t::WaitUntil([&] { return t::HttpCall(engine.port, "GET", "/readyz").status == 503; }));
    t::HttpResult ready = t::HttpCall(engine.port, "GET", "/readyz");
    CHECK(ready.body.find("CRM refused our credentials") != std::string::npos);
    CHECK(ready.body.find("wrong") == std::string::npos);  // no secret in the answer
  }

  TEST_CASE("switching to the HubSpot-shaped mapping needs only config") {
    RecordingCrm hubspot;
    Engine engine({"--set", "crm.mapping=" CRMSYNC_SOURCE_DIR "/config/crms/hubspot.json", "--set",
                   "crm.api.url=http://127.0.0.1:" + std::to_string(hubspot.port())},
                  {{"CRM_API_KEY", "pat-token-789"}});
    REQUIRE_MESSAGE(engine.ready, engine.process->Stderr());
    CHECK(engine.Post(LeadEvent("h1", "lead.created", "NEW")) == 202);
    // The contact's create (an engine that lists HubSpot's owners may call first).
    RecordingCrm::Request create;
    REQUIRE(t::WaitUntil([&] {
      for (const RecordingCrm::Request& request : hubspot.requests()) {
        if (request.method == "POST" && request.uri == "/crm/v3/objects/contacts") {
          create = request;
          return true;
        }
      }
      return false;
    }));
    CHECK(create.authorization == "Bearer pat-token-789");
    Object::Ptr properties = Parse(create.body)->getObject("properties");
    REQUIRE(properties);
    CHECK(properties->getValue<std::string>("email") == "asha@example.com");
    CHECK(properties->getValue<std::string>("crmsync_source") == "website");
    CHECK(properties->getValue<std::string>("crmsync_utm_source") == "google_ads");
    CHECK(properties->getValue<std::string>("crmsync_created_date") == "2026-11-20T08:00:00Z");
    // HubSpot takes every property value as a string.
    for (const auto& [key, value] : *properties) {
      CHECK_MESSAGE(value.isString(), key << " is not a string");
    }
  }
}
