// generic_rest_mapper.h: the mapping half of generic-rest-crm, driven entirely
// by a loaded mapping file (mapping_file.h).
//
// Plan is the SDK default (DefaultPlan). Each step uses the entity's operation
// of the same name (create, update, activity, deal); a step whose operation the
// mapping lacks is kPermanent naming both, so the job is dead-lettered with a
// clear reason. Lookups use the `lookup` operation; batches batch.h; webhooks
// webhook_mapping.h.
//
// Thread-safety: SetMapping() happens once, in Configure(), before any other
// call; afterwards every method only reads the shared, immutable mapping and
// may be called from many threads. The clock (for the `now` variable) is
// injectable for tests.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_GENERIC_REST_MAPPER_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_GENERIC_REST_MAPPER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "mapping_file.h"

namespace crmsync::genericrest {

class GenericRestMapper final : public Mapper {
 public:
  /// `now_unix_ms` defaults to the system clock.
  explicit GenericRestMapper(std::shared_ptr<const Mapping> mapping = nullptr,
                             std::function<int64_t()> now_unix_ms = nullptr);

  /// Replaces the mapping; only before concurrent use (Configure()).
  void SetMapping(std::shared_ptr<const Mapping> mapping) { mapping_ = std::move(mapping); }

  /// Renders the step's operation. kPermanent when the mapping has no such
  /// entity or operation, or a path variable is missing; kInvalidRecord when a
  /// transform cannot convert a value.
  Status BuildRequest(const SyncJob& job, StepKind step, HttpRequest* out) override;

  /// Reads the id at the operation's idPointer: required after create
  /// (kPermanent without), kept after update when present, ignored after
  /// activity and deal (their ids are not the record's).
  Status ReadResponse(const SyncJob& job, StepKind step, const HttpResponse& response,
                      StepResult* out) override;

  /// Renders the entity's `lookup` operation; kPermanent when there is none.
  Status BuildLookup(const SyncJob& job, HttpRequest* out) override;

  /// The first match's id (resultsPointer, then idPointer inside the match); a
  /// 404, an empty body or no match is "not found" (OK, no id).
  Status ReadLookup(const SyncJob& job, const HttpResponse& response,
                    std::optional<std::string>* external_id) override;

  Status BuildBatch(const std::vector<SyncJob>& jobs, StepKind step, HttpRequest* out) override;
  Status ReadBatch(const std::vector<SyncJob>& jobs, StepKind step, const HttpResponse& response,
                   std::vector<Status>* statuses, std::vector<StepResult>* results) override;

  Status ParseWebhook(const WebhookDelivery& delivery,
                      std::vector<InboundChange>* changes) override;
  Status BuildWebhookRegistration(const WebhookRegistration& registration,
                                  HttpRequest* out) override;

 private:
  // The operation `name` of `kind`, or nullptr with *status set (kPermanent).
  const Operation* FindOperation(EntityKind kind, const std::string& name, Status* status) const;

  std::shared_ptr<const Mapping> mapping_;
  std::function<int64_t()> now_unix_ms_;
};

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_GENERIC_REST_MAPPER_H_
