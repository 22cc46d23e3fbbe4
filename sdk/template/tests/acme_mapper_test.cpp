// Unit tests of the acme-crm mapping: plain values in, plain values out, no
// network (the SDK keeps mapping apart from transport for exactly this).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>

#include "acme_mapper.h"
#include "crmsync/classify.h"

using crmsync::EventType;
using crmsync::LeadStatus;
using crmsync::StepKind;

namespace {

crmsync::SyncJob LeadJob(EventType type, LeadStatus status,
                         std::optional<std::string> external_id = std::nullopt) {
  crmsync::SyncJob job;
  job.event_type = type;
  job.entity_kind = crmsync::EntityKind::kLead;
  job.entity_id = "42";
  job.external_reference = "lead:42";
  job.external_id = std::move(external_id);
  crmsync::Lead lead;
  lead.id = "42";
  lead.name = "Asha Rao";
  lead.email = "asha@example.com";
  lead.status = status;
  lead.budget_min = 5000000;
  job.lead = lead;
  return job;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("a new lead becomes POST /v1/contacts with our reference and stage") {
  acme::AcmeMapper mapper;
  crmsync::SyncJob job = LeadJob(EventType::kLeadCreated, LeadStatus::kNew);
  std::vector<StepKind> steps;
  REQUIRE(mapper.Plan(job, &steps).ok());
  REQUIRE(steps == std::vector<StepKind>{StepKind::kCreate});
  crmsync::HttpRequest request;
  REQUIRE(mapper.BuildRequest(job, StepKind::kCreate, &request).ok());
  CHECK(request.method == "POST");
  CHECK(request.path == "/v1/contacts");
  CHECK(Contains(request.body, R"("ref":"lead:42")"));
  CHECK(Contains(request.body, R"("name":"Asha Rao")"));
  CHECK(Contains(request.body, R"("stage":"new")"));
  CHECK(Contains(request.body, R"("budget":{"min":5000000})"));
}

TEST_CASE("a linked lead is updated with PUT /v1/contacts/{id}; CONVERTED adds a deal") {
  acme::AcmeMapper mapper;
  crmsync::SyncJob job = LeadJob(EventType::kLeadStatusChanged, LeadStatus::kConverted, "c_7");
  std::vector<StepKind> steps;
  REQUIRE(mapper.Plan(job, &steps).ok());
  REQUIRE(steps == std::vector<StepKind>{StepKind::kUpdate, StepKind::kDeal});
  crmsync::HttpRequest update;
  REQUIRE(mapper.BuildRequest(job, StepKind::kUpdate, &update).ok());
  CHECK(update.method == "PUT");
  CHECK(update.path == "/v1/contacts/c_7");
  CHECK(Contains(update.body, R"("stage":"won")"));
  crmsync::HttpRequest deal;
  REQUIRE(mapper.BuildRequest(job, StepKind::kDeal, &deal).ok());
  CHECK(deal.path == "/v1/contacts/c_7/deals");
}

TEST_CASE("an update without the Acme id is refused, not guessed") {
  acme::AcmeMapper mapper;
  crmsync::HttpRequest request;
  crmsync::Status s = mapper.BuildRequest(LeadJob(EventType::kLeadStatusChanged, LeadStatus::kLost),
                                          StepKind::kUpdate, &request);
  CHECK(s.code() == crmsync::StatusCode::kPermanent);
}

TEST_CASE("the create answer's id is kept; lookup by reference reads data[0].id") {
  acme::AcmeMapper mapper;
  crmsync::SyncJob job = LeadJob(EventType::kLeadCreated, LeadStatus::kNew);
  crmsync::HttpResponse created;
  created.status = 201;
  created.body = R"({"id":"c_123","ref":"lead:42"})";
  crmsync::StepResult result;
  REQUIRE(mapper.ReadResponse(job, StepKind::kCreate, created, &result).ok());
  CHECK(result.external_id == std::optional<std::string>("c_123"));

  crmsync::HttpRequest lookup;
  REQUIRE(mapper.BuildLookup(job, &lookup).ok());
  CHECK(lookup.method == "GET");
  CHECK(lookup.path == "/v1/contacts?ref=lead%3A42");
  crmsync::HttpResponse found;
  found.status = 200;
  found.body = R"({"data":[{"id":"c_123"}]})";
  std::optional<std::string> id;
  REQUIRE(mapper.ReadLookup(job, found, &id).ok());
  CHECK(id == std::optional<std::string>("c_123"));
  found.body = R"({"data":[]})";
  REQUIRE(mapper.ReadLookup(job, found, &id).ok());
  CHECK_FALSE(id.has_value());
}

TEST_CASE("every status has a stage and comes back from it") {
  for (LeadStatus status : crmsync::AllLeadStatuses()) {
    CAPTURE(crmsync::LeadStatusName(status));
    LeadStatus back = LeadStatus::kNew;
    REQUIRE(acme::PlatformStatus(acme::AcmeStage(status), &back));
    CHECK(back == status);
  }
  LeadStatus back = LeadStatus::kNew;
  CHECK(acme::PlatformStatus("Closed_Won", &back));
  CHECK(back == LeadStatus::kConverted);
  CHECK_FALSE(acme::PlatformStatus("maybe", &back));
}

TEST_CASE("webhooks: a stage change maps back; garbage is refused; other events ignored") {
  acme::AcmeMapper mapper;
  crmsync::WebhookDelivery delivery;
  delivery.body = R"({"event":"lead.updated","entityId":"c_123","data":{"stage":"won"}})";
  std::vector<crmsync::InboundChange> changes;
  REQUIRE(mapper.ParseWebhook(delivery, &changes).ok());
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].external_id == "c_123");
  CHECK(changes[0].fields_json == R"({"status":"CONVERTED"})");

  delivery.body = "{not json";
  CHECK(mapper.ParseWebhook(delivery, &changes).code() == crmsync::StatusCode::kInvalidRecord);
  delivery.body = R"({"event":"invoice.paid","entityId":"i_1"})";
  REQUIRE(mapper.ParseWebhook(delivery, &changes).ok());
  CHECK(changes.empty());
}

TEST_CASE("classification is the SDK's outcome table") {
  crmsync::HttpResponse response;
  response.status = 401;
  CHECK(crmsync::DefaultClassify(response).code() == crmsync::StatusCode::kUnauthenticated);
  response.status = 429;
  response.headers = {{"Retry-After", "3"}};
  crmsync::Status s = crmsync::DefaultClassify(response);
  CHECK(s.code() == crmsync::StatusCode::kRateLimited);
  CHECK(s.retry_after_ms() == 3000);
}
