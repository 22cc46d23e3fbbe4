// dispatch/job_codec.h: a leased job's stored payload back into the SDK's
// SyncJob, and the stable hash of what was sent.
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_ENGINE_DISPATCH_JOB_CODEC_H_
#define CRMSYNC_ENGINE_DISPATCH_JOB_CODEC_H_

#include <string>
#include <vector>

#include "common/hash.h"
#include "crmsync/adapter.h"
#include "queue/queue_types.h"

namespace crmsync::engine {

/// Builds the SyncJob a plugin maps from a leased job, with the related
/// property's CRM id the lease read (agents are the JobRunner's). False with `*error`
/// when the stored payload cannot be read (a bug or a damaged store).
bool DecodeJob(const LeasedJob& job, SyncJob* out, std::string* error);

/// "create,deal" from steps, and back. ParsePlan is false on an unknown step.
std::string FormatPlan(const std::vector<StepKind>& steps);
bool ParsePlan(const std::string& text, std::vector<StepKind>* steps);

/// The external reference crmsync sends for an entity ("lead:42").
std::string ExternalReference(EntityKind kind, const std::string& entity_id);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_DISPATCH_JOB_CODEC_H_
