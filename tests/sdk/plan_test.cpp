// Tests for DefaultPlan (crmsync/adapter.h): the status steps go with a status
// change, not with a status event that changed something else.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crmsync/adapter.h"

namespace crmsync {
namespace {

SyncJob StatusJob(LeadStatus status, std::optional<std::vector<std::string>> changed) {
  SyncJob job;
  job.event_type = EventType::kLeadStatusChanged;
  job.external_id = "crm-1";
  job.lead.emplace();
  job.lead->status = status;
  job.changed_fields = std::move(changed);
  return job;
}

TEST_CASE("DefaultPlan: a deal or a viewing goes with a status change only") {
  using Steps = std::vector<StepKind>;
  const Steps update = {StepKind::kUpdate};
  CHECK(DefaultPlan(StatusJob(LeadStatus::kConverted, std::vector<std::string>{"status"})) ==
        Steps{StepKind::kUpdate, StepKind::kDeal});
  CHECK(DefaultPlan(StatusJob(LeadStatus::kViewed, std::vector<std::string>{"notes", "status"})) ==
        Steps{StepKind::kUpdate, StepKind::kActivity});
  // The status was already CONVERTED (the CRM set it): an update only.
  CHECK(DefaultPlan(StatusJob(LeadStatus::kConverted, std::vector<std::string>{"budgetMax"})) ==
        update);
  CHECK(DefaultPlan(StatusJob(LeadStatus::kViewingScheduled, std::vector<std::string>{})) == update);
  // A replayed dead letter singles nothing out: planned as first sent.
  CHECK(DefaultPlan(StatusJob(LeadStatus::kConverted, std::nullopt)) ==
        Steps{StepKind::kUpdate, StepKind::kDeal});
  // An inquiry's activity does not depend on the status.
  SyncJob inquiry = StatusJob(LeadStatus::kNew, std::vector<std::string>{});
  inquiry.event_type = EventType::kInquirySubmitted;
  CHECK(DefaultPlan(inquiry) == Steps{StepKind::kUpdate, StepKind::kActivity});
}

}  // namespace
}  // namespace crmsync
