// Batch requests and answers; see batch.h.
#include "batch.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "context.h"
#include "crmsync/classify.h"
#include "request_builder.h"

namespace crmsync::genericrest {
namespace {

// The Status of one job from its result. A result that cannot be read (not an
// object, no status where okValues expects one, a create without an id) is
// retryable: the engine looks such an item up before creating it again.
Status ReadItem(const Operation& op, StepKind step, const Var& result, StepResult* out) {
  if (!IsObject(result)) {
    return Status::Retryable(op.name + ": this item's result is not an object (unreadable)");
  }
  if (op.status_pointer && !op.ok_values.empty()) {
    const std::optional<Var> word = ResolvePointer(result, *op.status_pointer);
    if (!word) {
      return Status::Retryable(op.name + ": this item's result has no status at " +
                               *op.status_pointer + " (unreadable)");
    }
    const std::string text = ToJson(*word);
    const bool ok = std::any_of(op.ok_values.begin(), op.ok_values.end(),
                                [&](const Var& value) { return ToJson(value) == text; });
    if (!ok) {
      std::string code;
      if (op.code_pointer) {
        const std::optional<Var> found = ResolvePointer(result, *op.code_pointer);
        if (found && !IsNull(*found)) code = ValueText(*found);
      }
      auto mapped = op.codes.find(code);
      const StatusCode outcome =
          mapped == op.codes.end() ? StatusCode::kInvalidRecord : mapped->second;
      const std::string reason = ExtractCrmReason(ToJson(result));
      return Status(outcome, "the CRM refused this batch item" +
                                 (code.empty() ? std::string() : " (" + code + ")") + ": " +
                                 reason);
    }
  } else if (op.status_pointer) {
    const std::optional<Var> code = ResolvePointer(result, *op.status_pointer);
    if (code && IsNumber(*code)) {
      HttpResponse item;
      item.status = code->convert<int>();
      item.body = ToJson(result);
      Status status = DefaultClassify(item, 0);
      if (!status.ok()) return status;
    }
  }
  if (op.error_pointer) {
    const std::optional<Var> error = ResolvePointer(result, *op.error_pointer);
    if (error && !IsEmptyValue(*error) && !(IsBool(*error) && !error->extract<bool>())) {
      // ExtractCrmReason keeps the item's field-level details, bounded and
      // masked: the CRM quotes the values it refuses.
      const std::string reason =
          ExtractCrmReason(IsString(*error) ? error->extract<std::string>() : ToJson(*error));
      return Status::InvalidRecord("the CRM refused this batch item: " + reason);
    }
  }
  const std::optional<std::string> id = IdAt(result, op.id_pointer);
  if (step == StepKind::kCreate && !id) {
    return Status::Retryable("the batch result of this item has no id at " + op.id_pointer +
                             " (it may have been created: looked up before trying again)");
  }
  if (step == StepKind::kCreate || step == StepKind::kUpdate) out->external_id = id;
  return Status::Ok();
}

}  // namespace

const Operation* FindBatchOperation(const Mapping& mapping, EntityKind kind, StepKind step,
                                    Status* status) {
  const char* name = step == StepKind::kCreate   ? "batchCreate"
                     : step == StepKind::kUpdate ? "batchUpdate"
                                                 : nullptr;
  const std::string entity = EntityKindName(kind);
  if (name == nullptr) {
    *status = Status::Permanent(std::string("no batch operation for the ") + StepKindName(step) +
                                " step (only create and update are batched)");
    return nullptr;
  }
  const EntityMapping* entity_mapping = mapping.Entity(kind);
  const Operation* op = entity_mapping ? entity_mapping->Find(name) : nullptr;
  if (op == nullptr) {
    *status = Status::Permanent("the mapping '" + mapping.name + "' has no " + name +
                                " operation for " + entity);
  }
  return op;
}

Status BuildBatchRequest(const Mapping& mapping, const std::vector<SyncJob>& jobs, StepKind step,
                         int64_t now_unix_ms, HttpRequest* out) {
  if (jobs.empty()) return Status::Permanent("a batch needs at least one job");
  const EntityKind kind = jobs.front().entity_kind;
  for (const SyncJob& job : jobs) {
    if (job.entity_kind != kind) return Status::Permanent("a batch mixes leads and properties");
  }
  Status status;
  const Operation* op = FindBatchOperation(mapping, kind, step, &status);
  if (op == nullptr) return status;
  if (static_cast<int>(jobs.size()) > op->max_size) {
    return Status::Permanent("a batch of " + std::to_string(jobs.size()) + " jobs exceeds " +
                             op->name + ".maxSize " + std::to_string(op->max_size));
  }
  const TransformTables tables = mapping.Tables(kind);
  const std::string route = std::string(EntityKindName(kind)) + "." + op->name;
  Context batch_context;
  batch_context["now"] = Var(IsoTime(now_unix_ms));
  HttpRequest request;
  status = RenderRequestLine(*op, batch_context, tables, route, &request);
  if (!status.ok()) return status;

  JsonArray items = NewArray();
  for (const SyncJob& job : jobs) {
    std::optional<Var> item;
    status = RenderJson(*op->item, JobContext(job, now_unix_ms, op->changed_only), tables, &item);
    if (!status.ok()) {
      return Status(status.code(), route + ": job " + job.job_id + ": " + status.message());
    }
    items->add(item ? *item : Var(NewObject()));
  }
  Var body = Var(items);
  if (op->items_pointer) {
    JsonObject surround = NewObject();
    if (op->body) {
      std::optional<Var> rendered;
      status = RenderJson(*op->body, batch_context, tables, &rendered);
      if (!status.ok()) return status;
      if (rendered && IsObject(*rendered)) surround = rendered->extract<JsonObject>();
    }
    if (!SetPointer(surround, *op->items_pointer, Var(items))) {
      return Status::Permanent(route + ": itemsPointer " + *op->items_pointer +
                               " crosses a value that is not an object");
    }
    body = Var(surround);
  }
  SetJsonBody(body, &request);
  *out = request;
  return Status::Ok();
}

Status ReadBatchResponse(const Mapping& mapping, const std::vector<SyncJob>& jobs, StepKind step,
                         const HttpResponse& response, std::vector<Status>* statuses,
                         std::vector<StepResult>* results) {
  if (jobs.empty()) return Status::Permanent("a batch needs at least one job");
  Status status;
  const Operation* op = FindBatchOperation(mapping, jobs.front().entity_kind, step, &status);
  if (op == nullptr) return status;
  Var body;
  std::string error;
  if (!ParseJson(response.body, &body, &error)) {
    return Status::Permanent(op->name + ": the CRM's answer is not JSON");
  }
  const std::string results_at = op->results_pointer.value_or("");
  const std::optional<Var> list = ResolvePointer(body, results_at);
  if (!list || !IsArray(*list)) {
    return Status::Permanent(op->name + ": the CRM's answer has no results array at " +
                             (results_at.empty() ? std::string("the top level") : results_at));
  }
  JsonArray items = list->extract<JsonArray>();
  std::map<std::string, unsigned int> by_reference;
  if (op->match_pointer) {
    for (unsigned int i = 0; i < items->size(); ++i) {
      const std::optional<std::string> reference = IdAt(items->get(i), *op->match_pointer);
      if (reference && by_reference.count(*reference) == 0) by_reference[*reference] = i;
    }
  }
  std::vector<Status> out_statuses;
  std::vector<StepResult> out_results(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) {
    std::optional<unsigned int> index;
    if (op->match_pointer) {
      auto found = by_reference.find(ExternalReference(jobs[j]));
      if (found != by_reference.end()) index = found->second;
    } else if (j < items->size()) {
      index = static_cast<unsigned int>(j);
    }
    if (!index) {
      out_statuses.push_back(
          Status::Retryable(op->name + ": the CRM's answer has no result for this item"));
      continue;
    }
    out_statuses.push_back(ReadItem(*op, step, items->get(*index), &out_results[j]));
  }
  *statuses = out_statuses;
  *results = out_results;
  return Status::Ok();
}

}  // namespace crmsync::genericrest
