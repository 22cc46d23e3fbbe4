// The conformance battery's synthetic inputs: the outcome rows agree with the
// SDK's default table, and the JSON helpers the status-table check relies on.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "conformance/fixtures.h"
#include "crmsync/classify.h"

namespace c = crmsync::engine::conformance;
using crmsync::StatusCode;

TEST_SUITE("engine.conformance") {
  TEST_CASE("every outcome row is what DefaultClassify says") {
    for (const c::OutcomeRow& row : c::OutcomeRows()) {
      CAPTURE(row.name);
      crmsync::Status s = crmsync::DefaultClassify(row.response);
      CHECK(s.code() == row.expected);
      if (row.expected_retry_after_ms >= 0)
        CHECK(s.retry_after_ms() == row.expected_retry_after_ms);
    }
  }

  TEST_CASE("sample jobs cover every event type and status, linked and not") {
    std::vector<crmsync::SyncJob> jobs = c::AllSampleJobs();
    CHECK(jobs.size() == 2 * (4 * 8 + 2 * 3));
    for (const crmsync::SyncJob& job : jobs) {
      if (job.entity_kind == crmsync::EntityKind::kLead) {
        REQUIRE(job.lead.has_value());
        CHECK(job.lead->id == job.entity_id);
      } else {
        REQUIRE(job.property.has_value());
      }
      if (job.event_type == crmsync::EventType::kInquirySubmitted) CHECK(job.inquiry.has_value());
      if (job.event_type == crmsync::EventType::kDealerAssigned) CHECK(job.assignment.has_value());
    }
  }

  TEST_CASE("FlattenJson and JsonAtPointer are inverse for a status leaf") {
    std::map<std::string, std::string> leaves;
    REQUIRE(c::FlattenJson(R"({"a":{"stage":"won","n":3},"list":["x",true]})", &leaves));
    CHECK(leaves.at("/a/stage") == "won");
    CHECK(leaves.at("/a/n") == "3");
    CHECK(leaves.at("/list/0") == "x");
    CHECK(leaves.at("/list/1") == "true");
    CHECK(c::JsonAtPointer("/a/stage", "won") == R"({"a":{"stage":"won"}})");
    CHECK_FALSE(c::FlattenJson("not json", &leaves));
    CHECK_FALSE(c::FlattenJson("\"just a string\"", &leaves));
  }
}
