// Shadow mode's queue, thread and comparisons; see shadow_runner.h.
#include "shadow/shadow_runner.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/logging.h"
#include "dispatch/job_codec.h"
#include "store/store_error.h"

namespace crmsync::engine {
namespace {

// Bodies in examples are cut here: enough to see a mapping's shape.
constexpr size_t kExampleBodyBytes = 4096;
// How often, at most, an example is rendered once the summary holds its few.
constexpr int64_t kExampleIntervalMs = 1000;
// How many live ids the sandbox's ids are remembered for (the oldest forgotten).
constexpr size_t kMaxSandboxIds = 100000;
// How many differences GET /api/v1/shadow lists.
constexpr size_t kReportedDifferences = 20;

bool SameName(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

ShadowRunner::ShadowRunner(ShadowOptions options, GuardedAdapter* live, GuardedAdapter* shadow,
                           PluginStates* states, Clock* clock, MetricsRegistry* metrics)
    : options_(std::move(options)),
      live_(live),
      shadow_(shadow),
      states_(states),
      clock_(clock),
      metrics_(metrics),
      mask_(options_.secrets) {
  const std::string url = mask_.Text(options_.url);
  summary_ = ShadowSummary(options_.plugin, options_.mapping, url, clock_->NowMs());
  std::optional<std::string> saved;
  try {
    saved = states_->LoadPluginState(kShadowStatePlugin, kShadowStateKey);
  } catch (const StoreError& e) {
    ComponentLogger("shadow").warning("cannot read the saved shadow summary, starting empty: %s",
                                      std::string(e.what()));
  }
  ShadowSummary loaded;
  if (saved && ShadowSummary::FromJson(*saved, &loaded)) {
    if (loaded.SameSubject(summary_)) {
      summary_ = std::move(loaded);
    } else {
      ComponentLogger("shadow").information(
          "the saved shadow summary is of another shadow plugin, mapping or sandbox; starting "
          "empty");
    }
  }
  if (metrics_) {
    metrics_->AddGauge("crmsync_shadow_queue_depth", "Jobs waiting for shadow comparison.", {},
                       [this] { return static_cast<double>(Figures().queue_depth); });
    for (const char* result : {"identical", "differing", "error"}) {
      metrics_->GetCounter("crmsync_shadow_jobs_total",
                           "Jobs shadow mode compared since start, by result.",
                           {{"result", result}});
    }
    metrics_->GetCounter("crmsync_shadow_dropped_total",
                         "Jobs not compared: the shadow queue was full (or shutting down).");
  }
}

ShadowRunner::~ShadowRunner() { Stop(); }

bool ShadowRunner::Offer(BuiltJob&& job) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (queue_.size() >= options_.capacity || stopping_.load()) {
      unfolded_drops_.fetch_add(1);
      if (metrics_) metrics_->GetCounter("crmsync_shadow_dropped_total", "").Inc();
      return false;
    }
    queue_.push_back(std::move(job));
  }
  if (started_) loop_.Wake();
  return true;
}

void ShadowRunner::Start() {
  started_ = true;
  loop_.Start(
      std::chrono::milliseconds(options_.save_interval_ms), [this] { Drain(); },
      [](const std::string& error) {
        ComponentLogger("shadow").error("shadow comparison failed: %s", error);
      });
}

void ShadowRunner::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  loop_.Stop();
  int64_t left = 0;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    left = static_cast<int64_t>(queue_.size());
    queue_.clear();
  }
  unfolded_drops_.fetch_add(left);
  std::lock_guard<std::mutex> lock(summary_mu_);
  Save();
}

void ShadowRunner::Drain() {
  while (!stopping_.load()) {
    BuiltJob job;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (queue_.empty()) break;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    // Rendering an example costs more than the comparison: only while the
    // summary has room for one, else at most one a second (kept: the latest).
    bool example = false;
    {
      std::lock_guard<std::mutex> lock(summary_mu_);
      example = summary_.examples() < ShadowSummary::kMaxExamples ||
                clock_->NowMs() - last_example_ms_ >= kExampleIntervalMs;
    }
    const ShadowJobResult result = Compare(job, example);
    std::lock_guard<std::mutex> lock(summary_mu_);
    const char* verdict = summary_.Add(result);
    if (result.example && std::strcmp(verdict, "differing") == 0) last_example_ms_ = result.at_ms;
    if (metrics_) {
      metrics_->GetCounter("crmsync_shadow_jobs_total", "", {{"result", verdict}}).Inc();
      for (int status : result.sandbox_statuses) {
        metrics_
            ->GetCounter("crmsync_shadow_sandbox_requests_total",
                         "Requests shadow mode sent to crm.shadow.url, by HTTP status (0: no "
                         "answer).",
                         {{"status", std::to_string(status)}})
            .Inc();
      }
    }
    dirty_ = true;
    if (clock_->NowMs() - saved_at_ms_ >= options_.save_interval_ms) Save();
  }
  // A save is a durable store write beside the live jobs' own: at most one
  // per save interval; the loop's pass each interval saves what is left.
  std::lock_guard<std::mutex> lock(summary_mu_);
  if (unfolded_drops_.load() > 0) dirty_ = true;
  if (dirty_ && clock_->NowMs() - saved_at_ms_ >= options_.save_interval_ms) Save();
}

ShadowJobResult ShadowRunner::Compare(const BuiltJob& built, bool example) {
  ShadowJobResult r;
  r.job_id = built.job_id;
  r.event_id = built.job.event_id;
  r.entity = std::string(EntityKindName(built.job.entity_kind)) + ":" + built.job.entity_id;
  r.at_ms = clock_->NowMs();
  r.example = example;
  std::vector<StepKind> plan;
  Status s = shadow_->Plan(built.job, &plan);
  if (!s.ok()) {
    r.error = mask_.Text("Plan: " + s.ToString());
    return r;
  }
  if (plan != built.plan) {
    r.live_plan = FormatPlan(built.plan);
    r.shadow_plan = FormatPlan(plan);
  }
  for (const BuiltJob::Step& step : built.steps) {
    SyncJob job = built.job;
    job.external_id = step.external_id;
    const std::string kind = StepKindName(step.kind);
    HttpRequest live;
    if (step.request) {
      live = *step.request;
    } else if (!live_->BuildRequest(job, step.kind, &live).ok()) {
      continue;  // A batched step the live adapter cannot build alone: nothing to compare.
    }
    HttpRequest shadow;
    s = shadow_->BuildRequest(job, step.kind, &shadow);
    if (!s.ok()) {
      r.error = mask_.Text("BuildRequest(" + kind + "): " + s.ToString());
      return r;
    }
    WireRequest wire;
    bool supported = false;
    s = shadow_->Prepare(shadow, &wire, &supported);
    if (!s.ok()) {
      r.error = mask_.Text("Prepare(" + kind + "): " + s.ToString());
      return r;
    }
    ShadowStepResult result;
    result.kind = kind;
    result.difference = DiffRequests(live, shadow, mask_);
    if (example && result.difference.any()) {
      result.example = Example(kind, live, shadow, result.difference);
    }
    r.steps.push_back(std::move(result));
    if (!options_.url.empty()) {
      // To the sandbox only: the shadow's transport has crm.shadow.url as
      // its base URL (shadow/shadow_plugin.h). A record the sandbox created
      // has its own id there: the request names that one.
      HttpRequest to_send = shadow;
      auto known = step.external_id ? sandbox_ids_.find(*step.external_id) : sandbox_ids_.end();
      if (known != sandbox_ids_.end()) {
        SyncJob there = job;
        there.external_id = known->second;
        HttpRequest rebuilt;
        if (shadow_->BuildRequest(there, step.kind, &rebuilt).ok()) to_send = std::move(rebuilt);
      }
      HttpResponse answer = shadow_->Send(to_send);
      r.sandbox_statuses.push_back(answer.status);
      StepResult created;
      if (step.kind == StepKind::kCreate && built.linked_id && answer.status >= 200 &&
          answer.status < 300 && shadow_->ReadResponse(job, step.kind, answer, &created).ok() &&
          created.external_id) {
        RememberSandboxId(*built.linked_id, *created.external_id);
      }
    }
  }
  return r;
}

void ShadowRunner::RememberSandboxId(const std::string& live_id, const std::string& sandbox_id) {
  if (sandbox_ids_.count(live_id) == 0) {
    sandbox_order_.push_back(live_id);
    if (sandbox_order_.size() > kMaxSandboxIds) {
      sandbox_ids_.erase(sandbox_order_.front());
      sandbox_order_.pop_front();
    }
  }
  sandbox_ids_[live_id] = sandbox_id;
}

std::string ShadowRunner::Prepared(GuardedAdapter& adapter, const HttpRequest& request) {
  WireRequest wire;
  bool supported = false;
  JsonObject out;
  if (!adapter.Prepare(request, &wire, &supported).ok() || !supported) {
    // Not prepared: the request as built, without what the transport adds.
    wire.method = request.method;
    wire.url = request.path;
    wire.headers = request.headers;
    wire.body = request.body;
  }
  std::vector<std::string> headers;
  for (const auto& [name, value] : wire.headers) {
    const bool from_mapping =
        std::any_of(request.headers.begin(), request.headers.end(),
                    [&name = name](const auto& h) { return SameName(h.first, name); });
    headers.push_back(JsonObject()
                          .Str("name", name)
                          .Str("value", mask_.Header(name, value, !from_mapping))
                          .Done());
  }
  std::string body = wire.body.substr(0, kExampleBodyBytes);
  return out.Str("method", wire.method)
      .Str("url", mask_.Text(wire.url))
      .Raw("headers", JsonArray(headers))
      .Str("body", mask_.Text(body))
      .Bool("bodyCut", wire.body.size() > kExampleBodyBytes)
      .Done();
}

std::string ShadowRunner::Example(const std::string& step, const HttpRequest& live,
                                  const HttpRequest& shadow, const RequestDifference& d) {
  std::vector<std::string> differences;
  if (d.method) {
    differences.push_back(JsonObject()
                              .Str("where", "method")
                              .Str("live", live.method)
                              .Str("shadow", shadow.method)
                              .Done());
  }
  if (d.path) {
    differences.push_back(JsonObject()
                              .Str("where", "path")
                              .Str("live", mask_.Text(live.path))
                              .Str("shadow", mask_.Text(shadow.path))
                              .Done());
  }
  for (const BodyDifference& b : d.body) {
    JsonObject item;
    item.Str("where", "body").Str("pointer", b.pointer).Str("change", BodyChangeName(b.change));
    if (b.change != BodyChange::kAdded) item.Str("live", b.live);
    if (b.change != BodyChange::kRemoved) item.Str("shadow", b.shadow);
    differences.push_back(item.Done());
  }
  return JsonObject()
      .Str("step", step)
      .Raw("live", Prepared(*live_, live))
      .Raw("shadow", Prepared(*shadow_, shadow))
      .Raw("differences", JsonArray(differences))
      .Done();
}

std::string ShadowRunner::Report() {
  ShadowFigures figures = Figures();
  JsonObject out;
  out.Bool("enabled", true)
      .Raw("queue", JsonObject()
                        .Int("depth", figures.queue_depth)
                        .Int("capacity", figures.queue_capacity)
                        .Done());
  std::lock_guard<std::mutex> lock(summary_mu_);
  FoldDrops();
  summary_.Write(&out, kReportedDifferences);
  return out.Done();
}

ShadowFigures ShadowRunner::Figures() {
  ShadowFigures f;
  f.enabled = true;
  f.queue_capacity = static_cast<int64_t>(options_.capacity);
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    f.queue_depth = static_cast<int64_t>(queue_.size());
  }
  std::lock_guard<std::mutex> lock(summary_mu_);
  FoldDrops();
  f.compared = summary_.compared();
  f.identical = summary_.identical();
  f.differing = summary_.differing();
  f.errors = summary_.errors();
  f.dropped = summary_.dropped();
  f.sandbox_sent = summary_.sandbox_sent();
  return f;
}

void ShadowRunner::Reset() {
  std::lock_guard<std::mutex> lock(summary_mu_);
  unfolded_drops_ = 0;
  summary_ = ShadowSummary(options_.plugin, options_.mapping, mask_.Text(options_.url),
                           clock_->NowMs());
  Save();
  ComponentLogger("shadow").information("shadow summary reset");
}

void ShadowRunner::FoldDrops() { summary_.AddDropped(unfolded_drops_.exchange(0)); }

void ShadowRunner::Save() {
  FoldDrops();
  dirty_ = false;
  saved_at_ms_ = clock_->NowMs();
  try {
    states_->SavePluginState(kShadowStatePlugin, kShadowStateKey, summary_.ToJson(), saved_at_ms_);
  } catch (const StoreError& e) {
    ComponentLogger("shadow").warning("cannot save the shadow summary (kept in memory): %s",
                                      std::string(e.what()));
  }
}

}  // namespace crmsync::engine
