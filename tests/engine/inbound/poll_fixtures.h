// poll_fixtures.h: what the change-polling tests share (poller_test.cpp on
// SQLite, tests/engine/pg on PostgreSQL): an in-process CRM whose
// PollChanges() serves pages the test scripts, builders of pages and changes,
// and a PluginStates that can fail cursor saves (a crash between recording a
// page and saving its cursor).
//
// Header-only, test code; ScriptCrm is thread-safe.
#ifndef CRMSYNC_TESTS_ENGINE_INBOUND_POLL_FIXTURES_H_
#define CRMSYNC_TESTS_ENGINE_INBOUND_POLL_FIXTURES_H_

#include <deque>
#include <map>
#include <optional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "inbound/poller.h"
#include "store/inbound_log.h"
#include "store/plugin_states.h"
#include "store/store_error.h"

namespace crmsync::engine::poll_test {

inline constexpr char kCrm[] = "script-crm";
inline constexpr int64_t kInterval = 60000;

// Options of one of several engines polling leads under a lease of three
// intervals.
inline PollerOptions LeaseOptions(const std::string& owner) {
  PollerOptions options;
  options.plugin = kCrm;
  options.interval_ms = kInterval;
  options.entities = {EntityKind::kLead};
  options.lease_ms = 3 * kInterval;
  options.owner = owner;
  return options;
}

// One scripted answer to PollChanges().
struct Answer {
  crmsync::Status status;
  PollPage page;
};

inline InboundChange Change(const std::string& id, const std::string& status,
                     const std::string& updated_at) {
  InboundChange change;
  change.crm_event = "lead.updated";
  change.entity_kind = EntityKind::kLead;
  change.external_id = id;
  change.fields_json = R"({"status":")" + status + R"("})";
  change.updated_at = updated_at;
  change.event_ids = {id + "@" + updated_at};
  return change;
}

inline Answer Page(std::vector<InboundChange> changes, const std::string& next, bool more = false) {
  Answer answer;
  answer.page.changes = std::move(changes);
  answer.page.next_cursor = next;
  answer.page.more = more;
  return answer;
}

inline Answer Failed(crmsync::Status status) {
  Answer answer;
  answer.status = std::move(status);
  return answer;
}

// A CRM whose pages the test scripts per entity; an entity with nothing left
// to serve answers kNotFound. Records every request.
class ScriptCrm : public Adapter {
 public:
  PluginInfo Info() const override {
    PluginInfo info{kCrm, "1", "", {}};
    info.capabilities.change_polling = true;
    return info;
  }
  Status Configure(const PluginConfig&) override { return Status::Ok(); }
  Mapper& mapping() override { throw std::logic_error("not used"); }
  Transport& transport() override { throw std::logic_error("not used"); }
  Status PollChanges(const PollRequest& request, PollPage* page) override {
    std::lock_guard<std::mutex> lock(mu);
    requests.push_back(request);
    std::deque<Answer>& script = scripts[request.entity_kind];
    if (script.empty()) return Status::NotFound("no polling for this entity");
    Answer answer = script.front();
    script.pop_front();
    *page = answer.page;
    return answer.status;
  }

  std::mutex mu;
  std::map<EntityKind, std::deque<Answer>> scripts;
  std::vector<PollRequest> requests;
};

// PluginStates over the real store that can refuse to save the cursors (a
// crash between recording a page and saving its cursor) and notes, on each
// cursor save, how many deliveries were pending by then.
class WatchedStates : public PluginStates {
 public:
  WatchedStates(PluginStates* inner, InboundLog* log) : inner_(inner), log_(log) {}
  std::optional<std::string> LoadPluginState(const std::string& plugin,
                                             const std::string& key) override {
    return inner_->LoadPluginState(plugin, key);
  }
  void SavePluginState(const std::string& plugin, const std::string& key,
                       const std::string& value, int64_t now_ms) override {
    // Cursors only: not the lease, not the first poll's time.
    if (key.find(".lease") == std::string::npos && key.find(".start") == std::string::npos) {
      pending_at_save.push_back(static_cast<int>(log_->PendingDeliveries(100).size()));
      if (fail_cursor_saves) throw StoreError("disk I/O error (simulated crash)");
    }
    inner_->SavePluginState(plugin, key, value, now_ms);
  }

  bool fail_cursor_saves = false;
  std::vector<int> pending_at_save;

 private:
  PluginStates* inner_;
  InboundLog* log_;
};

}  // namespace crmsync::engine::poll_test

#endif  // CRMSYNC_TESTS_ENGINE_INBOUND_POLL_FIXTURES_H_
