// Durable run state and the run thread; see run_book.h.
#include "reconcile/run_book.h"

#include <random>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include "common/logging.h"

namespace crmsync::engine {
namespace {

const char kCurrentKey[] = "current";
const char kRunsKey[] = "runs";

}  // namespace

RunBook::RunBook(std::string name, PluginStates* states, Clock* clock)
    : plugin_("crmsync." + name), name_(std::move(name)), states_(states), clock_(clock) {}

std::string RunBook::NewRunId() const {
  // 2026-12-03T19:04:05.123Z -> 20261203T190405123
  std::string time;
  for (char c : FormatIsoMs(clock_->NowMs())) {
    if (std::isdigit(static_cast<unsigned char>(c)) || c == 'T') time.push_back(c);
  }
  static const char kHex[] = "0123456789abcdef";
  std::random_device random;
  std::string suffix;
  for (int i = 0; i < 4; ++i) suffix.push_back(kHex[random() % 16]);
  return name_ + "-" + time + "-" + suffix;
}

Poco::JSON::Object::Ptr RunBook::Load(const std::string& run) const {
  if (run.empty()) return nullptr;
  std::optional<std::string> text = states_->LoadPluginState(plugin_, run);
  if (!text || text->empty()) return nullptr;
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(*text);
    if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
      return parsed.extract<Poco::JSON::Object::Ptr>();
    }
  } catch (const Poco::Exception&) {
  }
  return nullptr;
}

void RunBook::Save(const std::string& run, const Poco::JSON::Object& state) {
  std::ostringstream text;
  state.stringify(text);
  states_->SavePluginState(plugin_, run, text.str(), clock_->NowMs());
}

std::string RunBook::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return states_->LoadPluginState(plugin_, kCurrentKey).value_or("");
}

void RunBook::SetCurrent(const std::string& run) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!run.empty()) {
    std::vector<std::string> runs;
    std::istringstream in(states_->LoadPluginState(plugin_, kRunsKey).value_or(""));
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line != run) runs.push_back(line);
    }
    runs.push_back(run);
    if (runs.size() > kKeep) runs.erase(runs.begin(), runs.end() - kKeep);
    std::string text;
    for (const std::string& r : runs) text += r + "\n";
    states_->SavePluginState(plugin_, kRunsKey, text, clock_->NowMs());
  }
  states_->SavePluginState(plugin_, kCurrentKey, run, clock_->NowMs());
}

std::vector<std::string> RunBook::Recent() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> runs;
  std::istringstream in(states_->LoadPluginState(plugin_, kRunsKey).value_or(""));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) runs.insert(runs.begin(), line);
  }
  return runs;
}

Poco::JSON::Object::Ptr RunBook::Last() const {
  try {
    std::vector<std::string> recent = Recent();
    return recent.empty() ? nullptr : Load(recent.front());
  } catch (const std::exception&) {
    return nullptr;
  }
}

void RunBook::Put(const std::string& key, const std::string& value) {
  states_->SavePluginState(plugin_, key, value, clock_->NowMs());
}

std::optional<std::string> RunBook::Get(const std::string& key) const {
  return states_->LoadPluginState(plugin_, key);
}

RunWorker::~RunWorker() { Stop(); }

bool RunWorker::Launch(std::function<void()> work) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  if (busy_) {
    pending_ = std::move(work);
    return true;
  }
  if (thread_.joinable()) thread_.join();  // the last run returned
  busy_ = true;
  thread_ = std::thread([this, first = std::move(work)] {
    std::function<void()> work = first;
    while (work) {
      work();
      std::lock_guard<std::mutex> lock(mu_);
      work = stopping_ ? nullptr : std::move(pending_);
      pending_ = nullptr;
      if (!work) busy_ = false;
    }
  });
  return true;
}

bool RunWorker::Busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return busy_;
}

bool RunWorker::Wait(int64_t ms) {
  std::unique_lock<std::mutex> lock(mu_);
  if (ms > 0) {
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
  }
  return !stopping_;
}

bool RunWorker::Stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void RunWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ResumeUnfinished(RunBook& book, RunWorker& worker, const RunFunction& run) {
  std::string current;
  try {
    current = book.Current();
  } catch (const std::exception& e) {
    ComponentLogger(book.name()).error("cannot read the unfinished %s run: %s", book.name(),
                                       std::string(e.what()));
    return;
  }
  if (current.empty()) return;
  ComponentLogger(book.name()).information("resuming %s run %s", book.name(), current);
  worker.Launch([run, current] { run(current); });
}

bool AttachUnfinished(RunBook& book, RunWorker& worker, const RunFunction& run,
                      std::string* current) {
  *current = book.Current();
  if (current->empty()) return false;
  // Not running: the service was stopping when it was begun, or its thread
  // ended on a store failure; it runs now.
  if (!worker.Busy()) {
    const std::string id = *current;
    worker.Launch([run, id] { run(id); });
  }
  return true;
}

bool CheckRunEntity(const std::string& entity, std::string* error) {
  if (entity.empty() || entity == "lead" || entity == "property") return true;
  *error = "entity must be lead or property (or absent for both), not \"" + entity + "\"";
  return false;
}

std::vector<EntityKind> RunKinds(const Poco::JSON::Object& state) {
  std::vector<EntityKind> kinds;
  const std::string entity = state.optValue<std::string>("entity", "all");
  if (entity != "lead") kinds.push_back(EntityKind::kProperty);
  if (entity != "property") kinds.push_back(EntityKind::kLead);
  return kinds;
}

int64_t RunInt(const Poco::JSON::Object& state, const std::string& key) {
  return state.optValue<int64_t>(key, 0);
}

}  // namespace crmsync::engine
