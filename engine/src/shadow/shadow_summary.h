// shadow/shadow_summary.h: what shadow mode has found so far (docs/design.md
// §11): jobs compared, identical, differing, errors (the shadow could not
// plan or build), drops; per step kind; every differing place (step, where,
// pointer, change) with how many jobs it differed in; the sandbox's answers
// by status; the latest few masked examples of differences and of errors.
//
// It is kept in the PluginStates role (plugin "crmsync.shadow", key
// "summary") as the JSON ToJson() writes, so it survives a restart;
// FromJson() reads it back. Everything in it was masked before it got here.
//
// A plain value; the caller (ShadowRunner) serialises access.
#ifndef CRMSYNC_ENGINE_SHADOW_SHADOW_SUMMARY_H_
#define CRMSYNC_ENGINE_SHADOW_SHADOW_SUMMARY_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/json_writer.h"
#include "shadow/request_diff.h"

namespace crmsync::engine {

/// One step the live adapter ran, compared with the shadow's request for it.
struct ShadowStepResult {
  std::string kind;  ///< "create", "update", "activity", "deal".
  RequestDifference difference;
  /// Masked JSON {"step","live":{method,url,headers,body},"shadow":{...},
  /// "differences":[...]} when the step differs; "" when identical.
  std::string example;
};

/// One job, compared.
struct ShadowJobResult {
  int64_t job_id = 0;
  std::string event_id;
  std::string entity;  ///< "lead:42".
  int64_t at_ms = 0;
  /// Set when the shadow failed to plan, build or prepare: the masked reason
  /// (the job then counts as an error, not as compared).
  std::string error;
  /// The plans, as "create,activity", when they differ; else both "".
  std::string live_plan;
  std::string shadow_plan;
  std::vector<ShadowStepResult> steps;
  /// The sandbox's HTTP status per step sent (0: no answer), when
  /// crm.shadow.url is set.
  std::vector<int> sandbox_statuses;
  /// Whether the job, when it differs, is kept as an example (the runner
  /// renders examples only so often; the steps' `example` then are "").
  bool example = true;
};

struct ShadowStepFigures {
  int64_t compared = 0;
  int64_t identical = 0;
  int64_t differing = 0;
};

/// The figures /api/v1/admin/status and /metrics show.
struct ShadowFigures {
  bool enabled = false;
  int64_t compared = 0;
  int64_t identical = 0;
  int64_t differing = 0;
  int64_t errors = 0;
  int64_t dropped = 0;
  int64_t sandbox_sent = 0;
  int64_t queue_depth = 0;
  int64_t queue_capacity = 0;
};

class ShadowSummary {
 public:
  /// How many distinct differing places are kept; more are counted in
  /// other_differences only.
  static constexpr size_t kMaxPlaces = 500;
  /// How many examples (and error examples) are kept, the latest.
  static constexpr size_t kMaxExamples = 5;

  ShadowSummary() = default;
  /// An empty summary of the shadow `plugin` with `mapping` (and sandbox
  /// `url`, masked, "" for none), started at `since_ms`.
  ShadowSummary(std::string plugin, std::string mapping, std::string url, int64_t since_ms);

  /// Counts `job`; returns its verdict: "identical", "differing" or "error".
  const char* Add(const ShadowJobResult& job);
  /// Counts `n` jobs dropped because the queue was full.
  void AddDropped(int64_t n) { dropped_ += n; }

  /// Whether `other` is of the same shadow plugin, mapping and sandbox URL.
  bool SameSubject(const ShadowSummary& other) const {
    return plugin_ == other.plugin_ && mapping_ == other.mapping_ && url_ == other.url_;
  }

  int64_t compared() const { return compared_; }
  int64_t identical() const { return identical_; }
  int64_t differing() const { return differing_; }
  int64_t errors() const { return errors_; }
  int64_t dropped() const { return dropped_; }
  int64_t sandbox_sent() const { return sandbox_sent_; }
  /// How many examples are kept now.
  size_t examples() const { return examples_.size(); }

  /// Writes the summary's members into `out`: "plugin", "mapping",
  /// "sandboxUrl" (null when none), "since", "jobs" {compared, identical,
  /// differing, errors, dropped}, "planDiffering", "steps" {kind: {compared,
  /// identical, differing}}, "differences" [{step, where (method|path|body|
  /// plan), pointer, change, count}] most frequent first, at most `top`,
  /// "distinctDifferences", "otherDifferences", "sandbox" {sent, statuses
  /// {"201": n, "0": n}}, "examples" [...], "errorExamples" [{jobId, eventId,
  /// entity, at, message}].
  void Write(JsonObject* out, size_t top) const;
  /// The whole summary as a JSON object (every place), as it is stored.
  std::string ToJson() const;
  /// Reads what ToJson() wrote; false when `json` is not such a summary.
  static bool FromJson(const std::string& json, ShadowSummary* out);

 private:
  struct Place {
    std::string step;
    std::string where;
    std::string pointer;
    std::string change;
    bool operator<(const Place& o) const {
      return std::tie(step, where, pointer, change) < std::tie(o.step, o.where, o.pointer, o.change);
    }
  };
  void Count(const Place& place);

  std::string plugin_;
  std::string mapping_;
  std::string url_;
  int64_t since_ms_ = 0;
  int64_t compared_ = 0;
  int64_t identical_ = 0;
  int64_t differing_ = 0;
  int64_t errors_ = 0;
  int64_t dropped_ = 0;
  int64_t plan_differing_ = 0;
  int64_t other_differences_ = 0;
  int64_t sandbox_sent_ = 0;
  std::map<std::string, ShadowStepFigures> steps_;
  std::map<Place, int64_t> places_;
  std::map<int, int64_t> sandbox_statuses_;
  std::deque<std::string> examples_;        // JSON objects, masked; latest last.
  std::deque<std::string> error_examples_;  // JSON objects, masked; latest last.
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_SHADOW_SHADOW_SUMMARY_H_
