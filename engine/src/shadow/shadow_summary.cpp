// Shadow mode's summary; see shadow_summary.h.
#include "shadow/shadow_summary.h"

#include <algorithm>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "common/clock.h"
#include "queue/store_codec.h"

namespace crmsync::engine {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

void Keep(std::deque<std::string>* list, std::string item) {
  list->push_back(std::move(item));
  while (list->size() > ShadowSummary::kMaxExamples) list->pop_front();
}

std::string CompactJson(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(value, out);
  return out.str();
}

}  // namespace

ShadowSummary::ShadowSummary(std::string plugin, std::string mapping, std::string url,
                             int64_t since_ms)
    : plugin_(std::move(plugin)),
      mapping_(std::move(mapping)),
      url_(std::move(url)),
      since_ms_(since_ms) {}

void ShadowSummary::Count(const Place& place) {
  auto it = places_.find(place);
  if (it != places_.end()) {
    ++it->second;
  } else if (places_.size() < kMaxPlaces) {
    places_.emplace(place, 1);
  } else {
    ++other_differences_;
  }
}

const char* ShadowSummary::Add(const ShadowJobResult& job) {
  auto head = [&job](JsonObject* o) -> JsonObject& {
    return o->Int("jobId", job.job_id)
        .Str("eventId", job.event_id)
        .Str("entity", job.entity)
        .Time("at", job.at_ms);
  };
  for (int status : job.sandbox_statuses) {
    ++sandbox_sent_;
    ++sandbox_statuses_[status];
  }
  if (!job.error.empty()) {
    ++errors_;
    JsonObject e;
    head(&e).Str("message", job.error);
    Keep(&error_examples_, e.Done());
    return "error";
  }
  ++compared_;
  bool differs = false;
  if (job.live_plan != job.shadow_plan) {
    ++plan_differing_;
    differs = true;
    Count({"plan", "plan", "", "changed"});
  }
  std::vector<std::string> step_examples;
  for (const ShadowStepResult& step : job.steps) {
    ShadowStepFigures& figures = steps_[step.kind];
    ++figures.compared;
    const RequestDifference& d = step.difference;
    if (!d.any()) {
      ++figures.identical;
      continue;
    }
    ++figures.differing;
    differs = true;
    if (d.method) Count({step.kind, "method", "", "changed"});
    if (d.path) Count({step.kind, "path", "", "changed"});
    for (const BodyDifference& b : d.body) {
      Count({step.kind, "body", b.pointer, BodyChangeName(b.change)});
    }
    if (!step.example.empty()) step_examples.push_back(step.example);
  }
  if (!differs) {
    ++identical_;
    return "identical";
  }
  ++differing_;
  if (!job.example) return "differing";
  JsonObject example;
  head(&example);
  if (job.live_plan != job.shadow_plan) {
    example.Raw("plan",
                JsonObject().Str("live", job.live_plan).Str("shadow", job.shadow_plan).Done());
  }
  example.Raw("steps", JsonArray(step_examples));
  Keep(&examples_, example.Done());
  return "differing";
}

void ShadowSummary::Write(JsonObject* out, size_t top) const {
  std::vector<std::pair<Place, int64_t>> places(places_.begin(), places_.end());
  std::stable_sort(places.begin(), places.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> differences;
  for (size_t i = 0; i < places.size() && i < top; ++i) {
    const Place& p = places[i].first;
    differences.push_back(JsonObject()
                              .Str("step", p.step)
                              .Str("where", p.where)
                              .Str("pointer", p.pointer)
                              .Str("change", p.change)
                              .Int("count", places[i].second)
                              .Done());
  }
  JsonObject steps;
  for (const auto& [kind, f] : steps_) {
    steps.Raw(kind.c_str(), JsonObject()
                                .Int("compared", f.compared)
                                .Int("identical", f.identical)
                                .Int("differing", f.differing)
                                .Done());
  }
  JsonObject statuses;
  for (const auto& [status, n] : sandbox_statuses_) {
    statuses.Int(std::to_string(status).c_str(), n);
  }
  out->Str("plugin", plugin_)
      .Str("mapping", mapping_)
      .StrOrNull("sandboxUrl", url_)
      .Time("since", since_ms_)
      .Raw("jobs", JsonObject()
                       .Int("compared", compared_)
                       .Int("identical", identical_)
                       .Int("differing", differing_)
                       .Int("errors", errors_)
                       .Int("dropped", dropped_)
                       .Done())
      .Int("planDiffering", plan_differing_)
      .Raw("steps", steps.Done())
      .Raw("differences", JsonArray(differences))
      .Int("distinctDifferences", static_cast<int64_t>(places_.size()))
      .Int("otherDifferences", other_differences_)
      .Raw("sandbox",
           JsonObject().Int("sent", sandbox_sent_).Raw("statuses", statuses.Done()).Done())
      .Raw("examples", JsonArray({examples_.begin(), examples_.end()}))
      .Raw("errorExamples", JsonArray({error_examples_.begin(), error_examples_.end()}));
}

std::string ShadowSummary::ToJson() const {
  JsonObject out;
  Write(&out, kMaxPlaces);
  return out.Done();
}

bool ShadowSummary::FromJson(const std::string& json, ShadowSummary* out) {
  try {
    // Members keep their order, so examples read back as they were written.
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
    Object::Ptr o = parser.parse(json).extract<Object::Ptr>();
    Object::Ptr jobs = o ? o->getObject("jobs") : nullptr;
    if (!jobs) return false;
    ShadowSummary s;
    s.plugin_ = o->optValue<std::string>("plugin", "");
    s.mapping_ = o->optValue<std::string>("mapping", "");
    if (!o->isNull("sandboxUrl")) s.url_ = o->optValue<std::string>("sandboxUrl", "");
    if (!o->isNull("since")) {
      std::optional<int64_t> since = IsoMs(o->getValue<std::string>("since"));
      s.since_ms_ = since.value_or(0);
    }
    s.compared_ = jobs->optValue<int64_t>("compared", 0);
    s.identical_ = jobs->optValue<int64_t>("identical", 0);
    s.differing_ = jobs->optValue<int64_t>("differing", 0);
    s.errors_ = jobs->optValue<int64_t>("errors", 0);
    s.dropped_ = jobs->optValue<int64_t>("dropped", 0);
    s.plan_differing_ = o->optValue<int64_t>("planDiffering", 0);
    s.other_differences_ = o->optValue<int64_t>("otherDifferences", 0);
    if (Object::Ptr steps = o->getObject("steps")) {
      for (const auto& [kind, value] : *steps) {
        Object::Ptr f = value.extract<Object::Ptr>();
        ShadowStepFigures& figures = s.steps_[kind];
        figures.compared = f->optValue<int64_t>("compared", 0);
        figures.identical = f->optValue<int64_t>("identical", 0);
        figures.differing = f->optValue<int64_t>("differing", 0);
      }
    }
    if (Array::Ptr places = o->getArray("differences")) {
      for (unsigned i = 0; i < places->size(); ++i) {
        Object::Ptr p = places->getObject(i);
        s.places_[Place{p->getValue<std::string>("step"), p->getValue<std::string>("where"),
                        p->getValue<std::string>("pointer"),
                        p->getValue<std::string>("change")}] = p->getValue<int64_t>("count");
      }
    }
    if (Object::Ptr sandbox = o->getObject("sandbox")) {
      s.sandbox_sent_ = sandbox->optValue<int64_t>("sent", 0);
      if (Object::Ptr statuses = sandbox->getObject("statuses")) {
        for (const auto& [status, n] : *statuses) {
          s.sandbox_statuses_[std::stoi(status)] = n.convert<int64_t>();
        }
      }
    }
    for (const auto& [key, list] : {std::pair{"examples", &s.examples_},
                                    std::pair{"errorExamples", &s.error_examples_}}) {
      if (Array::Ptr items = o->getArray(key)) {
        for (unsigned i = 0; i < items->size(); ++i) Keep(list, CompactJson(items->get(i)));
      }
    }
    *out = std::move(s);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace crmsync::engine
