// store/mirror_listing.h: the MirrorListing role of the engine's durable state:
// the mirror walked by pages in id order, each entity with one plugin's link,
// for `crmsync reconcile` and `crmsync resync` (reconcile/), and where the jobs
// such a run queued stand. Each caller
// depends on the role it uses; Store (store.h) is every role at once.
// Methods throw StoreError on storage failure. Implementations are thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_MIRROR_LISTING_H_
#define CRMSYNC_ENGINE_STORE_MIRROR_LISTING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crmsync/entities.h"

namespace crmsync::engine {

/// One mirror entity and the CRM id the plugin linked it to.
struct MirrorEntry {
  std::string id;
  /// The entity in wire form (the mirror row).
  std::string data;
  /// The plugin's link; nullopt when the plugin has none (or one without id).
  std::optional<std::string> external_id;
};

/// The jobs a run queued, by where they stand.
struct RunJobCounts {
  int64_t unfinished = 0;  ///< queued, ready, delayed or leased
  int64_t done = 0;
  int64_t dead = 0;        ///< dead-lettered
};

/// Adds `n` jobs in `state` (a job's state: done, dead, or unfinished) to
/// `*counts`; shared by the stores' CountRunJobs.
inline void AddRunJobs(const std::string& state, int64_t n, RunJobCounts* counts) {
  if (state == "done") {
    counts->done += n;
  } else if (state == "dead") {
    counts->dead += n;
  } else {
    counts->unfinished += n;
  }
}

/// The first id after every id starting with `prefix` (non-empty): the
/// prefix with its last byte raised, the end of a range scan.
inline std::string PrefixEnd(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

class MirrorListing {
 public:
  virtual ~MirrorListing() = default;

  /// Up to `limit` entities of `kind` whose id sorts after `after_id` ("" for
  /// the first page), in the store's id order, each with `plugin`'s link. The
  /// order is stable, so the last id of a page, kept durably, resumes a walk.
  virtual std::vector<MirrorEntry> ListMirror(EntityKind kind, const std::string& plugin,
                                              const std::string& after_id, int limit) = 0;

  /// One entity of `kind` with `plugin`'s link; nullopt when the mirror has none.
  virtual std::optional<MirrorEntry> GetMirrorEntry(EntityKind kind, const std::string& plugin,
                                                    const std::string& id) = 0;

  /// How many entities of `kind` the mirror holds (a run's total).
  virtual int64_t CountMirror(EntityKind kind) = 0;

  /// The jobs of the events whose ids start with `event_id_prefix` (a run's
  /// "resync:<run>:"), by whether they are finished.
  virtual RunJobCounts CountRunJobs(const std::string& event_id_prefix) = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_MIRROR_LISTING_H_
