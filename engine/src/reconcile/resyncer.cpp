// Resync runs; see resyncer.h.
#include "reconcile/resyncer.h"

#include <sstream>

#include "common/logging.h"
#include "crmsync/redact.h"

namespace crmsync::engine {
using Poco::JSON::Object;

Resyncer::Resyncer(ResyncOptions options, Store* store, Clock* clock, MetricsRegistry* metrics,
                   std::function<void()> on_queued)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      metrics_(metrics),
      on_queued_(std::move(on_queued)),
      book_("resync", store, clock) {}

Resyncer::~Resyncer() { Stop(); }

void Resyncer::Start() {
  ResumeUnfinished(book_, worker_, [this](const std::string& run) { Run(run); });
}

void Resyncer::Stop() { worker_.Stop(); }

bool Resyncer::Begin(const std::string& entity, std::string* run, bool* attached, bool* conflict,
                     std::string* error) {
  *attached = false;
  *conflict = false;
  if (!CheckRunEntity(entity, error)) return false;
  std::lock_guard<std::mutex> lock(begin_mu_);
  if (AttachUnfinished(book_, worker_, [this](const std::string& id) { Run(id); }, run)) {
    *attached = true;
    return true;
  }
  if (!options_.lookup_by_reference) {
    *conflict = true;
    *error = "plugin " + options_.plugin +
             " cannot look records up by reference (its capabilities say no "
             "lookup_by_reference): a resync would create every record again at the CRM, "
             "duplicating what it holds; use a plugin or mapping with a lookup";
    return false;
  }
  *run = book_.NewRunId();
  Object state;
  state.set("run", *run);
  state.set("entity", entity.empty() ? "all" : entity);
  state.set("state", "running");
  state.set("startedAt", FormatIsoMs(clock_->NowMs()));
  state.set("kindIndex", 0);
  state.set("after", "");
  state.set("walked", 0);
  state.set("queued", 0);
  int64_t total = 0;
  for (EntityKind kind : RunKinds(state)) total += store_->CountMirror(kind);
  state.set("total", total);
  book_.Save(*run, state);
  book_.SetCurrent(*run);
  if (metrics_) metrics_->GetCounter("crmsync_resync_runs_total", "Resync runs started.").Inc();
  const std::string id = *run;
  worker_.Launch([this, id] { Run(id); });
  return true;
}

Poco::JSON::Object::Ptr Resyncer::Get(const std::string& run) const {
  Object::Ptr state = book_.Load(run);
  if (!state) return nullptr;
  for (const char* internal : {"kindIndex", "after"}) state->remove(internal);
  RunJobCounts counts = store_->CountRunJobs("resync:" + run + ":");
  Object::Ptr jobs = new Object();
  jobs->set("unfinished", counts.unfinished);
  jobs->set("done", counts.done);
  jobs->set("dead", counts.dead);
  state->set("jobs", jobs);
  return state;
}

std::vector<Poco::JSON::Object::Ptr> Resyncer::Recent() const {
  std::vector<Object::Ptr> runs;
  for (const std::string& id : book_.Recent()) {
    if (Object::Ptr state = Get(id)) runs.push_back(state);
  }
  return runs;
}

std::string Resyncer::LastJson() const {
  Object::Ptr state = book_.Last();
  if (!state) return "null";
  for (const char* internal : {"kindIndex", "after"}) state->remove(internal);
  std::ostringstream out;
  state->stringify(out);
  return out.str();
}

void Resyncer::Run(const std::string& run) {
  Object::Ptr state = book_.Load(run);
  if (!state || state->optValue<std::string>("state", "") != "running") {
    book_.SetCurrent("");
    return;
  }
  const std::vector<EntityKind> kinds = RunKinds(*state);
  int failures = 0;
  while (!worker_.Stopping()) {
    const int64_t index = RunInt(*state, "kindIndex");
    if (index >= static_cast<int64_t>(kinds.size())) break;
    const EntityKind kind = kinds[static_cast<size_t>(index)];
    try {
      std::vector<MirrorEntry> entries = store_->ListMirror(
          kind, options_.plugin, state->optValue<std::string>("after", ""), options_.page_size);
      if (entries.empty()) {
        state->set("kindIndex", index + 1);
        state->set("after", "");
        book_.Save(run, *state);
        continue;
      }
      std::vector<IncomingEvent> events;
      events.reserve(entries.size());
      const std::string occurred = FormatIsoMs(clock_->NowMs());
      for (const MirrorEntry& entry : entries) {
        IncomingEvent e;
        e.event_id = "resync:" + run + ":" + EntityKindName(kind) + ":" + entry.id;
        e.type = kind == EntityKind::kLead ? EventType::kLeadCreated : EventType::kPropertyUpdated;
        e.priority = Priority::kBulk;
        e.occurred_at = occurred;
        e.kind = kind;
        e.entity_id = entry.id;
        e.entity_json = entry.data;
        e.resend = true;
        e.lookup_first = true;
        e.forget_link_plugin = options_.plugin;
        events.push_back(std::move(e));
      }
      std::vector<AcceptResult> results = store_->Accept(events, clock_->NowMs());
      int64_t queued = 0;
      for (const AcceptResult& r : results) {
        if (!r.duplicate && r.job_id > 0) ++queued;
      }
      // Counted with the page: a page done again after a restart adds it once.
      state->set("walked", RunInt(*state, "walked") + static_cast<int64_t>(entries.size()));
      state->set("queued", RunInt(*state, "queued") + static_cast<int64_t>(entries.size()));
      state->set("after", entries.back().id);
      book_.Save(run, *state);
      failures = 0;
      if (metrics_ && queued > 0) {
        metrics_->GetCounter("crmsync_resync_jobs_total", "Resend jobs resync queued.")
            .Inc(static_cast<double>(queued));
      }
      if (on_queued_) on_queued_();
    } catch (const std::exception& e) {
      ComponentLogger("resync").error("resync run %s: %s", run, MaskSensitive(e.what()));
      if (++failures >= 5) {
        state->set("state", "failed");
        state->set("error", MaskSensitive(std::string("the store failed: ") + e.what()));
        state->set("finishedAt", FormatIsoMs(clock_->NowMs()));
        book_.Save(run, *state);
        book_.SetCurrent("");
        return;
      }
      Object::Ptr saved = book_.Load(run);
      if (saved) state = saved;
      if (!worker_.Wait(1000)) return;
    }
  }
  if (worker_.Stopping()) return;
  state->set("state", "done");
  state->set("finishedAt", FormatIsoMs(clock_->NowMs()));
  book_.Save(run, *state);
  book_.SetCurrent("");
  ComponentLogger("resync").information("resync run %s queued %s entities", run,
                                        std::to_string(RunInt(*state, "queued")));
}

}  // namespace crmsync::engine
