// reconcile/run_book.h: where a service-side run (reconcile, resync) keeps its
// state durably, and the thread it runs on.
//
// RunBook keeps each run's state, a JSON object, in the PluginStates role
// under plugin "crmsync.<name>", key = the run id; "current" names the
// unfinished run (one at a time) and "runs" the recent ones, newest last. A
// run saves its cursor with its counts after each page, so a service that
// stopped (or was killed) resumes it from the last saved page. The state is
// small (counts, the first rows of each finding, a cursor); what a page saw is
// kept in keys of its own (Put/Get).
//
// RunWorker is one background thread running one run at a time, with a wait
// that a stop interrupts. Both are thread-safe.
#ifndef CRMSYNC_ENGINE_RECONCILE_RUN_BOOK_H_
#define CRMSYNC_ENGINE_RECONCILE_RUN_BOOK_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <Poco/JSON/Object.h>

#include "common/clock.h"
#include "crmsync/entities.h"
#include "store/plugin_states.h"

namespace crmsync::engine {

class RunBook {
 public:
  /// Runs of `name` ("reconcile") kept in `states` (not owned).
  RunBook(std::string name, PluginStates* states, Clock* clock);

  /// A new run id: "<name>-<UTC time>-<4 random hex>", sortable by start.
  std::string NewRunId() const;

  /// The run's state; nullptr when there is no such run (or it is unreadable).
  Poco::JSON::Object::Ptr Load(const std::string& run) const;
  /// Saves the run's state (durable when it returns).
  void Save(const std::string& run, const Poco::JSON::Object& state);

  /// The unfinished run, "" when none.
  std::string Current() const;
  /// Marks `run` the unfinished one ("" for none), and adds it to the recent
  /// runs (at most kKeep).
  void SetCurrent(const std::string& run);
  /// The recent runs, newest first.
  std::vector<std::string> Recent() const;
  /// The newest run's state; nullptr when there is none or the store cannot
  /// be read (for status and metrics, which must not fail on it).
  Poco::JSON::Object::Ptr Last() const;

  /// A value a run keeps beside its state (what one page saw), by key.
  void Put(const std::string& key, const std::string& value);
  std::optional<std::string> Get(const std::string& key) const;

  /// "reconcile", "resync".
  const std::string& name() const { return name_; }

  static constexpr size_t kKeep = 20;

 private:
  std::string plugin_;
  std::string name_;
  PluginStates* states_;
  Clock* clock_;
  mutable std::mutex mu_;  // current + runs
};

class RunWorker {
 public:
  ~RunWorker();

  /// Runs `work` on the worker's thread, after the run in hand when one is
  /// still returning (at most one waits: a later one replaces it). False
  /// when the worker is stopping.
  bool Launch(std::function<void()> work);
  /// True while a launched run has not returned.
  bool Busy() const;
  /// Waits `ms` (0: none); false when the worker is stopping (return then).
  bool Wait(int64_t ms);
  bool Stopping() const;
  /// Asks the run to stop and joins it.
  void Stop();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool busy_ = false;
  std::function<void()> pending_;
  std::thread thread_;
};

/// What a run does with its id, on the worker's thread.
using RunFunction = std::function<void(const std::string& run)>;

/// At a service's start: runs the unfinished run of `book`, if any, on `worker`.
void ResumeUnfinished(RunBook& book, RunWorker& worker, const RunFunction& run);

/// True, with its id in `*current`, when `book` has an unfinished run (which
/// is then made sure to run on `worker`): a new run is not begun beside it.
bool AttachUnfinished(RunBook& book, RunWorker& worker, const RunFunction& run,
                      std::string* current);

/// False with `*error` unless `entity` is "", "lead" or "property".
bool CheckRunEntity(const std::string& entity, std::string* error);

/// The kinds a run's "entity" names, properties first ("all": both).
std::vector<EntityKind> RunKinds(const Poco::JSON::Object& state);

/// An integer member of a run's state; 0 when absent.
int64_t RunInt(const Poco::JSON::Object& state, const std::string& key);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_RECONCILE_RUN_BOOK_H_
