// reconcile/resyncer.h: `crmsync resync`, run by the service: sends the whole
// mirror to the CRM now configured (a switched plugin or mapping) as
// creates-or-links.
//
// Walks the mirror by pages in id order, properties first, then leads (a
// lead waits for its property anyway), and accepts for each entity one bulk
// resend event "resync:<run>:<kind>:<id>" (queue/queue_types.h) with
// forget_link_plugin = the configured plugin (the link's CRM id may be the old
// CRM's, which must not be PATCHed at the new one) and lookup_first (its
// create looks the record up by reference first and links what it finds, so
// a half-done switch can be run again and the CRM gets no duplicate). Refused
// when the plugin cannot look records up by reference.
//
// One run at a time, on a thread of its own; the last id of each page is kept
// in RunBook "crmsync.resync", so a restart continues where it stopped and
// the ids make a page done again queue nothing twice. Thread-safe.
#ifndef CRMSYNC_ENGINE_RECONCILE_RESYNCER_H_
#define CRMSYNC_ENGINE_RECONCILE_RESYNCER_H_

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "metrics/metrics.h"
#include "reconcile/run_book.h"
#include "store/store.h"

namespace crmsync::engine {

struct ResyncOptions {
  std::string plugin;
  /// The plugin can look records up by reference (Capabilities).
  bool lookup_by_reference = false;
  /// Mirror entities per page (one store transaction each).
  int page_size = 500;
};

class Resyncer {
 public:
  /// Borrows everything; `on_queued` runs after each page's jobs were queued.
  Resyncer(ResyncOptions options, Store* store, Clock* clock, MetricsRegistry* metrics,
           std::function<void()> on_queued);
  ~Resyncer();

  /// Resumes the unfinished run, if any.
  void Start();
  void Stop();

  /// Starts a run over `entity` ("lead", "property" or "" for all), or names
  /// the unfinished one (`*attached`). False with `*error` (`*conflict` when
  /// the plugin cannot look records up).
  bool Begin(const std::string& entity, std::string* run, bool* attached, bool* conflict,
             std::string* error);

  /// A run's state with its jobs ({"unfinished","done","dead"}); nullptr
  /// when unknown.
  Poco::JSON::Object::Ptr Get(const std::string& run) const;
  std::vector<Poco::JSON::Object::Ptr> Recent() const;
  /// The last run in brief (runtime.resync), or null.
  std::string LastJson() const;
  /// True while a run is unfinished (or being resumed).
  bool Running() const { return worker_.Busy(); }

 private:
  void Run(const std::string& run);

  ResyncOptions options_;
  Store* store_;
  Clock* clock_;
  MetricsRegistry* metrics_;
  std::function<void()> on_queued_;
  RunBook book_;
  RunWorker worker_;
  std::mutex begin_mu_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_RECONCILE_RESYNCER_H_
