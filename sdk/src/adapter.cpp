// Default implementations of the optional Mapper and Adapter methods, and the
// default plan of docs/design.md §4.
#include "crmsync/adapter.h"

#include "crmsync/classify.h"

namespace crmsync {

const char* StepKindName(StepKind kind) noexcept {
  switch (kind) {
    case StepKind::kCreate: return "create";
    case StepKind::kUpdate: return "update";
    case StepKind::kActivity: return "activity";
    case StepKind::kDeal: return "deal";
  }
  return "unknown";
}

bool ParseStepKind(const std::string& name, StepKind* out) noexcept {
  for (StepKind kind : {StepKind::kCreate, StepKind::kUpdate, StepKind::kActivity, StepKind::kDeal}) {
    if (name == StepKindName(kind)) {
      *out = kind;
      return true;
    }
  }
  return false;
}

namespace {

// Whether the job moved the lead's status. A status event whose status the
// mirror already held (the platform echoing a status the CRM set, with another
// field changed) is an update only: a second deal or viewing would be a
// duplicate at the CRM. A job with nothing singled out (a replayed dead
// letter) is taken as it was first sent.
bool StatusChanged(const SyncJob& job) {
  if (!job.changed_fields) return true;
  for (const std::string& field : *job.changed_fields) {
    if (field == "status") return true;
  }
  return false;
}

}  // namespace

std::vector<StepKind> DefaultPlan(const SyncJob& job) {
  std::vector<StepKind> steps;
  steps.push_back(job.external_id ? StepKind::kUpdate : StepKind::kCreate);
  if (job.event_type == EventType::kInquirySubmitted) {
    steps.push_back(StepKind::kActivity);
  } else if (job.event_type == EventType::kLeadStatusChanged && job.lead && job.lead->status &&
             StatusChanged(job)) {
    switch (*job.lead->status) {
      case LeadStatus::kViewingScheduled:
      case LeadStatus::kViewed: steps.push_back(StepKind::kActivity); break;
      case LeadStatus::kConverted: steps.push_back(StepKind::kDeal); break;
      default: break;
    }
  }
  return steps;
}

Status Mapper::Plan(const SyncJob& job, std::vector<StepKind>* steps) {
  *steps = DefaultPlan(job);
  return Status::Ok();
}

Status Mapper::BuildLookup(const SyncJob&, HttpRequest*) {
  return Status::Permanent("lookup by reference is not supported by this plugin");
}

Status Mapper::ReadLookup(const SyncJob&, const HttpResponse&, std::optional<std::string>*) {
  return Status::Permanent("lookup by reference is not supported by this plugin");
}

Status Mapper::BuildBatch(const std::vector<SyncJob>&, StepKind, HttpRequest*) {
  return Status::Permanent("batching is not supported by this plugin");
}

Status Mapper::ReadBatch(const std::vector<SyncJob>&, StepKind, const HttpResponse&,
                         std::vector<Status>*, std::vector<StepResult>*) {
  return Status::Permanent("batching is not supported by this plugin");
}

Status Mapper::BuildWebhookRegistration(const WebhookRegistration&, HttpRequest*) {
  return Status::Permanent("webhook registration is not supported by this plugin");
}

Status Adapter::Classify(const HttpRequest&, const HttpResponse& response) {
  return DefaultClassify(response);
}

Status Adapter::VerifyWebhook(const WebhookDelivery&) {
  return Status::NotFound("no plugin-specific webhook scheme");
}

std::string Adapter::Dump() { return "{}"; }

Status Adapter::ListUsers(std::vector<CrmUser>*) {
  return Status::NotFound("this plugin cannot list CRM users");
}

Status Adapter::FetchChange(InboundChange*) {
  return Status::Permanent("this plugin cannot fetch a CRM record for a notification");
}

Status Adapter::PollChanges(const PollRequest&, PollPage*) {
  return Status::NotFound("this plugin cannot poll the CRM for changes");
}

void Adapter::Attach(PluginHost*) {}

PluginHost::~PluginHost() = default;

}  // namespace crmsync
