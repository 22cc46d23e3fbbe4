// The mapping half of generic-rest-crm; see generic_rest_mapper.h.
#include "generic_rest_mapper.h"

#include <chrono>
#include <utility>

#include "batch.h"
#include "lookup.h"
#include "pagination.h"
#include "context.h"
#include "request_builder.h"
#include "webhook_mapping.h"

namespace crmsync::genericrest {
namespace {

int64_t SystemNowMs() {
  return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
}

Status NotConfigured() { return Status::Permanent("generic-rest-crm: no mapping is loaded"); }

}  // namespace

GenericRestMapper::GenericRestMapper(std::shared_ptr<const Mapping> mapping,
                                     std::function<int64_t()> now_unix_ms)
    : mapping_(std::move(mapping)),
      now_unix_ms_(now_unix_ms ? std::move(now_unix_ms) : SystemNowMs) {}

const Operation* GenericRestMapper::FindOperation(EntityKind kind, const std::string& name,
                                                  Status* status) const {
  const EntityMapping* entity = mapping_->Entity(kind);
  if (entity == nullptr) {
    *status = Status::Permanent("the mapping '" + mapping_->name + "' has no " +
                                EntityKindName(kind) + " entity");
    return nullptr;
  }
  const Operation* op = entity->Find(name);
  if (op == nullptr) {
    *status = Status::Permanent("the mapping '" + mapping_->name + "' has no " + name +
                                " operation for " + EntityKindName(kind));
  }
  return op;
}

Status GenericRestMapper::BuildRequest(const SyncJob& job, StepKind step, HttpRequest* out) {
  if (!mapping_) return NotConfigured();
  Status status;
  const std::string name = StepKindName(step);
  const Operation* op = FindOperation(job.entity_kind, name, &status);
  if (op == nullptr) return status;
  const std::string route = std::string(EntityKindName(job.entity_kind)) + "." + name;
  status = RenderRequest(*op, JobContext(job, now_unix_ms_(), op->changed_only),
                         mapping_->Tables(job.entity_kind), route, out);
  if (!status.ok() && status.message().rfind(route, 0) != 0) {
    return Status(status.code(), route + ": " + status.message());
  }
  return status;
}

Status GenericRestMapper::ReadResponse(const SyncJob& job, StepKind step,
                                       const HttpResponse& response, StepResult* out) {
  if (!mapping_) return NotConfigured();
  *out = StepResult();
  if (step != StepKind::kCreate && step != StepKind::kUpdate) return Status::Ok();
  Status status;
  const std::string name = StepKindName(step);
  const Operation* op = FindOperation(job.entity_kind, name, &status);
  if (op == nullptr) return status;
  const std::string route = std::string(EntityKindName(job.entity_kind)) + "." + name;
  Var body;
  std::string error;
  const bool parsed = !response.body.empty() && ParseJson(response.body, &body, &error);
  if (parsed) out->external_id = IdAt(body, op->id_pointer);
  if (step == StepKind::kCreate && !out->external_id) {
    return Status::Permanent(
        route + ": the CRM's answer " +
        (parsed ? "has no id at " + op->id_pointer : std::string("is not JSON")));
  }
  return Status::Ok();
}

Status GenericRestMapper::BuildLookup(const SyncJob& job, HttpRequest* out) {
  if (!mapping_) return NotConfigured();
  Status status;
  const Operation* op = FindOperation(job.entity_kind, "lookup", &status);
  if (op == nullptr) return status;
  status = RenderRequest(*op, JobContext(job, now_unix_ms_()), mapping_->Tables(job.entity_kind),
                         std::string(EntityKindName(job.entity_kind)) + ".lookup", out);
  // A paged lookup with a matchPointer tells the PagingTransport which record
  // ends the walk (pagination.h); the header is removed before sending.
  if (status.ok() && op->paging && op->match_pointer) {
    out->headers.emplace_back(kLookupReferenceHeader, ExternalReference(job));
  }
  return status;
}

Status GenericRestMapper::ReadLookup(const SyncJob& job, const HttpResponse& response,
                                     std::optional<std::string>* external_id) {
  if (!mapping_) return NotConfigured();
  external_id->reset();
  Status status;
  const Operation* op = FindOperation(job.entity_kind, "lookup", &status);
  if (op == nullptr) return status;
  const std::string reference = ExternalReference(job);
  return ReadLookupAnswer(*op, response, external_id, &reference);
}

Status GenericRestMapper::BuildBatch(const std::vector<SyncJob>& jobs, StepKind step,
                                     HttpRequest* out) {
  if (!mapping_) return NotConfigured();
  return BuildBatchRequest(*mapping_, jobs, step, now_unix_ms_(), out);
}

Status GenericRestMapper::ReadBatch(const std::vector<SyncJob>& jobs, StepKind step,
                                    const HttpResponse& response, std::vector<Status>* statuses,
                                    std::vector<StepResult>* results) {
  if (!mapping_) return NotConfigured();
  return ReadBatchResponse(*mapping_, jobs, step, response, statuses, results);
}

Status GenericRestMapper::ParseWebhook(const WebhookDelivery& delivery,
                                       std::vector<InboundChange>* changes) {
  if (!mapping_) return NotConfigured();
  return genericrest::ParseWebhook(*mapping_, delivery, changes);
}

Status GenericRestMapper::BuildWebhookRegistration(const WebhookRegistration& registration,
                                                   HttpRequest* out) {
  if (!mapping_) return NotConfigured();
  return genericrest::BuildWebhookRegistration(*mapping_, registration, now_unix_ms_(), out);
}

}  // namespace crmsync::genericrest
