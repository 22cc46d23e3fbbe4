// job_codec_test.cpp: a leased job's stored payload back into the SDK's SyncJob
// (every payload shape intake writes, and damaged ones), plan text, external
// references and the stable hash of what was sent.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "dispatch/job_codec.h"

namespace crmsync::engine {
namespace {

const char kLeadJson[] =
    R"({"id":"L1","name":"Asha Rao","email":"asha@example.com","status":"VIEWED",)"
    R"("propertyId":"P9","budgetMin":100,"budgetMax":250.5,"preferredLocation":["Pune","Goa"]})";

LeasedJob JobWith(EntityKind kind, EventType type, const std::string& entity_id,
                  const std::string& payload) {
  LeasedJob job;
  job.id = 7;
  job.event_id = "evt-7";
  job.type = type;
  job.kind = kind;
  job.entity_id = entity_id;
  job.payload = payload;
  job.attempts = 2;
  return job;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_SUITE("engine.dispatch") {
  TEST_CASE("job codec: the fields a job changed, absent for a whole resend, damaged refused") {
    SyncJob job;
    std::string error;
    REQUIRE(DecodeJob(JobWith(EntityKind::kLead, EventType::kLeadStatusChanged, "L1",
                              std::string(R"({"lead":)") + kLeadJson +
                                  R"(,"changed":["status","preferredLocation"]})"),
                      &job, &error));
    REQUIRE(job.changed_fields.has_value());
    CHECK(*job.changed_fields == std::vector<std::string>{"status", "preferredLocation"});
    // The merged entity comes whole beside it.
    CHECK(job.lead->preferred_location == std::vector<std::string>{"Pune", "Goa"});

    REQUIRE(DecodeJob(JobWith(EntityKind::kLead, EventType::kLeadStatusChanged, "L1",
                              std::string(R"({"lead":)") + kLeadJson + "}"),
                      &job, &error));
    CHECK_FALSE(job.changed_fields.has_value());

    for (const char* damaged : {R"("changed":"status")", R"("changed":["status",7])"}) {
      CAPTURE(damaged);
      error.clear();
      CHECK_FALSE(DecodeJob(JobWith(EntityKind::kLead, EventType::kLeadStatusChanged, "L1",
                                    std::string(R"({"lead":)") + kLeadJson + "," + damaged + "}"),
                            &job, &error));
      CHECK(error == "job 7: stored changed list is not a list of names");
    }
  }

  TEST_CASE("job codec: plan text round trip") {
    const std::vector<std::vector<StepKind>> plans = {
        {StepKind::kCreate},
        {StepKind::kUpdate},
        {StepKind::kCreate, StepKind::kDeal},
        {StepKind::kUpdate, StepKind::kActivity},
        {StepKind::kCreate, StepKind::kUpdate, StepKind::kActivity, StepKind::kDeal},
    };
    for (const auto& plan : plans) {
      const std::string text = FormatPlan(plan);
      CAPTURE(text);
      std::vector<StepKind> back;
      REQUIRE(ParsePlan(text, &back));
      CHECK(back == plan);
    }
    CHECK(FormatPlan({StepKind::kCreate, StepKind::kDeal}) == "create,deal");
    CHECK(FormatPlan({StepKind::kUpdate, StepKind::kActivity}) == "update,activity");
    CHECK(FormatPlan({}).empty());

    std::vector<StepKind> steps = {StepKind::kDeal};
    CHECK(ParsePlan("", &steps));
    CHECK(steps.empty());
    CHECK(ParsePlan("update,,deal", &steps));
    CHECK(steps == std::vector<StepKind>{StepKind::kUpdate, StepKind::kDeal});
    CHECK_FALSE(ParsePlan("create,teleport", &steps));
    CHECK_FALSE(ParsePlan("CREATE", &steps));
  }

  TEST_CASE("job codec: external reference and StableHash") {
    CHECK(ExternalReference(EntityKind::kLead, "42") == "lead:42");
    CHECK(ExternalReference(EntityKind::kProperty, "P-7") == "property:P-7");
    // FNV-1a 64 reference vectors: the hash must never change between builds,
    // since stored hashes are compared with new ones.
    CHECK(StableHash("") == "cbf29ce484222325");
    CHECK(StableHash("a") == "af63dc4c8601ec8c");
    CHECK(StableHash("foobar") == "85944171f73967e8");
    const std::string body = R"({"name":"Asha","status":"new"})";
    CHECK(StableHash(body) == StableHash(std::string(body)));
    CHECK(StableHash(body).size() == 16);
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) seen.insert(StableHash("body-" + std::to_string(i)));
    CHECK(seen.size() == 1000);
  }

  TEST_CASE("job codec: a lead payload") {
    LeasedJob job = JobWith(EntityKind::kLead, EventType::kLeadStatusChanged, "L1",
                            std::string(R"({"lead":)") + kLeadJson + "}");
    job.external_id = "crm_lead_3";
    SyncJob out;
    std::string error;
    REQUIRE(DecodeJob(job, &out, &error));
    CHECK(error.empty());
    CHECK(out.job_id == "7");
    CHECK(out.event_id == "evt-7");
    CHECK(out.event_type == EventType::kLeadStatusChanged);
    CHECK(out.entity_kind == EntityKind::kLead);
    CHECK(out.entity_id == "L1");
    CHECK(out.external_id == std::optional<std::string>("crm_lead_3"));
    CHECK(out.external_reference == "lead:L1");
    CHECK(out.attempt == 3);
    REQUIRE(out.lead);
    CHECK(out.lead->id == "L1");
    CHECK(out.lead->name == std::optional<std::string>("Asha Rao"));
    CHECK(out.lead->status == std::optional<LeadStatus>(LeadStatus::kViewed));
    CHECK(out.lead->property_id == std::optional<std::string>("P9"));
    CHECK(out.lead->budget_max == std::optional<double>(250.5));
    CHECK(out.lead->preferred_location == std::vector<std::string>{"Pune", "Goa"});
    CHECK_FALSE(out.property);
    CHECK_FALSE(out.inquiry);
    CHECK_FALSE(out.assignment);
  }

  TEST_CASE("job codec: a property payload") {
    LeasedJob job = JobWith(
        EntityKind::kProperty, EventType::kPropertyUpdated, "P9",
        R"({"property":{"id":"P9","title":"2BHK","price":4500000,"city":"Pune","status":"SOLD"}})");
    SyncJob out;
    std::string error;
    REQUIRE(DecodeJob(job, &out, &error));
    CHECK(out.entity_kind == EntityKind::kProperty);
    CHECK(out.external_reference == "property:P9");
    CHECK_FALSE(out.external_id);
    REQUIRE(out.property);
    CHECK(out.property->id == "P9");
    CHECK(out.property->title == std::optional<std::string>("2BHK"));
    CHECK(out.property->price == std::optional<double>(4500000));
    CHECK(out.property->status == std::optional<PropertyStatus>(PropertyStatus::kSold));
    CHECK_FALSE(out.lead);
  }

  TEST_CASE("job codec: an inquiry payload and a dealer assignment payload") {
    SUBCASE("inquiry") {
      LeasedJob job = JobWith(
          EntityKind::kLead, EventType::kInquirySubmitted, "L1",
          std::string(R"({"lead":)") + kLeadJson +
              R"(,"inquiry":{"id":"Q1","leadId":"L1","propertyId":"P9","message":"Is it free?",)"
              R"("lead":)" +
              kLeadJson + "}}");
      SyncJob out;
      std::string error;
      REQUIRE(DecodeJob(job, &out, &error));
      REQUIRE(out.lead);
      REQUIRE(out.inquiry);
      CHECK(out.inquiry->id == "Q1");
      CHECK(out.inquiry->lead_id == "L1");
      CHECK(out.inquiry->message == std::optional<std::string>("Is it free?"));
      CHECK(out.inquiry->lead.name == std::optional<std::string>("Asha Rao"));
      CHECK_FALSE(out.assignment);
    }
    SUBCASE("dealer assignment") {
      LeasedJob job = JobWith(
          EntityKind::kLead, EventType::kDealerAssigned, "L1",
          R"({"lead":{"id":"L1","assignedToId":"D4"},)"
          R"("assignment":{"leadId":"L1","dealerId":"D4","assignedAt":"2026-11-23T10:15:00Z"}})");
      SyncJob out;
      std::string error;
      REQUIRE(DecodeJob(job, &out, &error));
      REQUIRE(out.lead);
      CHECK(out.lead->assigned_to_id == std::optional<std::string>("D4"));
      REQUIRE(out.assignment);
      CHECK(out.assignment->lead_id == "L1");
      CHECK(out.assignment->dealer_id == "D4");
      CHECK_FALSE(out.inquiry);
    }
  }

  TEST_CASE("job codec: a damaged payload is an error naming the job, never a crash") {
    struct Damaged {
      EntityKind kind;
      std::string payload;
      std::string expected;
    };
    const std::vector<Damaged> cases = {
        {EntityKind::kLead, "not json at all", "job 7: stored payload is not JSON"},
        {EntityKind::kLead, R"({"lead":{"id":"L1")", "job 7: stored payload is not JSON"},
        {EntityKind::kLead, "[1,2,3]", "job 7: stored payload is not JSON"},
        {EntityKind::kLead, "{}", "job 7: stored lead unreadable"},
        {EntityKind::kLead, R"({"lead":{"name":"no id"}})",
         "job 7: stored lead unreadable at $.lead"},
        {EntityKind::kLead, R"({"lead":{"id":["L1"]}})", "job 7: stored lead unreadable at $.lead"},
        {EntityKind::kLead, R"({"lead":{"id":"L1","status":"SLEEPING"}})",
         "job 7: stored lead unreadable at $.lead"},
        {EntityKind::kLead, R"({"lead":{"id":"L1"},"inquiry":{"id":3}})",
         "job 7: stored inquiry unreadable"},
        {EntityKind::kLead, R"({"lead":{"id":"L1"},"assignment":"D4"})",
         "job 7: stored assignment unreadable"},
        {EntityKind::kProperty, R"({"lead":{"id":"L1"}})", "job 7: stored property unreadable"},
        {EntityKind::kProperty, R"({"property":{"id":"P1","price":"cheap"}})",
         "job 7: stored property unreadable at $.property"},
    };
    for (const Damaged& c : cases) {
      CAPTURE(c.payload);
      LeasedJob job = JobWith(c.kind, EventType::kLeadCreated, "X", c.payload);
      SyncJob out;
      std::string error;
      CHECK_FALSE(DecodeJob(job, &out, &error));
      CAPTURE(error);
      CHECK(Contains(error, c.expected));
    }
  }

}  // TEST_SUITE

}  // namespace
}  // namespace crmsync::engine
