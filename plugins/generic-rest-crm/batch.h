// batch.h: batch requests of a mapping (batchCreate, batchUpdate) and reading
// their answers item by item (mapping-format.md, "Operations").
//
// A batch request renders the operation's path, query, headers and `body` (what
// surrounds the items; only `now` is known there) once, renders `item` once per
// job against that job's context, and places the items at itemsPointer (or sends
// the array itself when there is none). The answer's results (resultsPointer,
// else the body itself) are matched to jobs by index, or by matchPointer
// against each job's externalReference when the CRM does not keep the order.
// Each job gets its own Status: a result with a failing statusPointer /
// errorPointer, a create result without an id, or no result at all fails only
// that job.
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_BATCH_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_BATCH_H_

#include <cstdint>
#include <vector>

#include "crmsync/adapter.h"
#include "mapping_file.h"

namespace crmsync::genericrest {

/// The batch operation for `step` ("batchCreate" / "batchUpdate"), or nullptr
/// with *status saying why (kPermanent) when the mapping has none.
const Operation* FindBatchOperation(const Mapping& mapping, EntityKind kind, StepKind step,
                                    Status* status);

/// Builds one request for `jobs` (1 to maxSize jobs of one entity kind).
Status BuildBatchRequest(const Mapping& mapping, const std::vector<SyncJob>& jobs, StepKind step,
                         int64_t now_unix_ms, HttpRequest* out);

/// Reads a 2xx batch answer into one Status and StepResult per job, in the jobs'
/// order. Returns kPermanent (and no per-job results) only when the answer as a
/// whole cannot be read.
Status ReadBatchResponse(const Mapping& mapping, const std::vector<SyncJob>& jobs, StepKind step,
                         const HttpResponse& response, std::vector<Status>* statuses,
                         std::vector<StepResult>* results);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_BATCH_H_
