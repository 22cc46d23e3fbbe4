// reconcile/reconciler.h: `crmsync reconcile`, run by the service: compares
// the CRM's records with the mirror and, asked to, queues the jobs that repair
// what the platform owns (docs/design.md §5, "Reconcile and resync").
//
// One run at a time, on a thread of its own, by pages, within the plugin's
// rate budget (crm_reads.h). Per kind (properties, then leads):
//  * With a RecordReader: every CRM record of the kind is listed. A record
//    whose reference names a mirror entity is compared field by field
//    (field_compare.h: platform-owned differences are `differs`, CRM-owned
//    ones `crm_owned`) and its link checked (no link, or a link to another
//    CRM id: `broken_link`); a reference the mirror does not know is
//    `unknown_to_mirror`. Then the mirror entities no listed record carried
//    are `missing`; a linked one is read by its CRM id first: gone, it is
//    missing (its link broken); found, the record carries no or another
//    reference (`wrong_reference`).
//  * Without one (or when the plugin cannot list the kind): each mirror
//    entity is looked up by reference: `missing` or `broken_link` only, and
//    the report says fields were not compared.
//  A CRM answer that cannot be read is `unknown`, never `missing`.
// With repair, per entity one bulk resend event "repair:<run>:<kind>:<id>"
// (queue/queue_types.h): missing → whole, looked up first (creates-or-links);
// differs → the differing platform-owned fields; broken link → whole, the
// link forgotten, looked up first; wrong reference → whole, over the link.
// crm_owned, unknown_to_mirror and unknown are never touched. The ids make a
// resumed run queue nothing twice.
//
// The run's state (cursor, counts, the first rows of each finding) is kept
// in RunBook "crmsync.reconcile" after every page; the service resumes an
// unfinished run at start. Thread-safe.
#ifndef CRMSYNC_ENGINE_RECONCILE_RECONCILER_H_
#define CRMSYNC_ENGINE_RECONCILE_RECONCILER_H_

#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include <Poco/JSON/Object.h>

#include "metrics/metrics.h"
#include "reconcile/crm_reads.h"
#include "reconcile/field_compare.h"
#include "reconcile/run_book.h"
#include "store/store.h"

namespace crmsync::engine {

/// The kinds of finding, in report order.
extern const char* const kFindingKinds[];
extern const size_t kFindingKindCount;

struct ReconcileOptions {
  std::string plugin;
  FieldOwnership ownership;
  /// The plugin can look records up by reference (Capabilities).
  bool lookup_by_reference = false;
  /// Rows kept per kind of finding (the counts cover all).
  int rows_per_kind = 100;
  /// Mirror entities per page.
  int page_size = 200;
  /// The first wait before a failed CRM read is tried again (crm_reads.h).
  int64_t first_backoff_ms = CrmReads::kFirstBackoffMs;
};

class Reconciler {
 public:
  /// Borrows everything; `on_queued` runs after repair jobs were queued.
  Reconciler(ReconcileOptions options, Store* store, GuardedAdapter* adapter,
             RateLimiter* limiter, Clock* clock, MetricsRegistry* metrics,
             std::function<void()> on_queued);
  ~Reconciler();

  /// Resumes the unfinished run, if any.
  void Start();
  /// Stops the run between two calls; it resumes at the next Start().
  void Stop();

  /// Starts a run over `entity` ("lead", "property" or "" for both), or, when
  /// one is unfinished, names it (`*attached` true) whatever was asked. False
  /// with `*error` (and `*conflict` when it is the plugin's, not the words').
  bool Begin(const std::string& entity, bool repair, std::string* run, bool* attached,
             bool* conflict, std::string* error);

  /// A run's state as the API shows it; nullptr for an unknown run.
  Poco::JSON::Object::Ptr Get(const std::string& run) const;
  /// The recent runs, newest first (each as Get shows it).
  std::vector<Poco::JSON::Object::Ptr> Recent() const;
  /// The last run in brief (runtime.reconcile): {"run","state","entity",
  /// "repair","startedAt","finishedAt"?,"counts"} or null when none.
  std::string LastJson() const;
  /// The last run's count of findings of `kind` (0 when none), for metrics.
  int64_t LastCount(const std::string& kind) const;
  /// True while a run is unfinished (or being resumed).
  bool Running() const;
  /// CRM calls made by runs since the service started.
  int64_t CrmCalls() const { return crm_.calls(); }

 private:
  void Run(const std::string& run);
  // One page of the current phase; false when the run must stop (stopping or
  // failed: the state says which).
  bool Step(const std::string& run, Poco::JSON::Object& state);
  bool ListPage(const std::string& run, Poco::JSON::Object& state, EntityKind kind);
  bool MissingPage(const std::string& run, Poco::JSON::Object& state, EntityKind kind);
  bool LookupPage(const std::string& run, Poco::JSON::Object& state, EntityKind kind);
  void LoadSeen(const std::string& run, const Poco::JSON::Object& state, EntityKind kind);
  bool Queue(std::vector<IncomingEvent>& events, Poco::JSON::Object& state);
  void Fail(const std::string& run, Poco::JSON::Object& state, const std::string& error);

  ReconcileOptions options_;
  Store* store_;
  GuardedAdapter* adapter_;
  Clock* clock_;
  MetricsRegistry* metrics_;
  std::function<void()> on_queued_;
  RunBook book_;
  RunWorker worker_;
  CrmReads crm_;
  std::mutex begin_mu_;
  // The mirror ids the listed records carried, for the missing phase (only
  // the run thread touches them).
  std::unordered_set<std::string> seen_;
  std::string seen_for_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_RECONCILE_RECONCILER_H_
