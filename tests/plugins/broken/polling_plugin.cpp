// A plugin that polls for changes (SDK ABI 4.0) from pages a test writes to a
// file, so the real binary's change polling is tested end to end without a
// vendor's CRM. crm.polling_plugin.pages names a folder holding:
//  - pages.tsv, one change per line, tab separated:
//      cursor  next_cursor  more(0|1)  crm_id  status  updated_at
//    ("-" stands for the empty first cursor; crm_id "-" for a page without
//    changes). The lines of one cursor form its page, in file order. A cursor
//    with no line answers an empty page that keeps it ("0" for the first).
//  - requests.log, where every PollChanges() appends the cursor it was asked
//    from ("-" for the empty one), so the test sees where a restart resumed.
// Leads only: properties answer kNotFound. Outbound it is good_plugin (every
// lead created as "ext-<id>").
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "minimal_adapter.h"

namespace crmsync::testplugins {

class PollingAdapter : public MinimalAdapter {
 public:
  PollingAdapter() : MinimalAdapter("polling_plugin") {}

  PluginInfo Info() const override {
    PluginInfo info = MinimalAdapter::Info();
    info.capabilities.change_polling = true;
    return info;
  }

  Status Configure(const PluginConfig& config) override {
    if (!config.Has("pages")) return Status::InvalidConfig("pages: required (a folder)");
    dir_ = config.Get("pages");
    return Status::Ok();
  }

  Status PollChanges(const PollRequest& request, PollPage* page) override {
    if (request.entity_kind != EntityKind::kLead) return Status::NotFound("leads only");
    const std::string asked = request.cursor.empty() ? "-" : request.cursor;
    {
      std::ofstream log(dir_ + "/requests.log", std::ios::app);
      log << asked << "\n";
      if (!log) return Status::Retryable("cannot write requests.log");
    }
    std::ifstream pages(dir_ + "/pages.tsv");
    page->next_cursor = request.cursor.empty() ? "0" : request.cursor;
    std::string line;
    bool first = true;
    while (std::getline(pages, line)) {
      std::vector<std::string> cols;
      std::istringstream in(line);
      std::string col;
      while (std::getline(in, col, '\t')) cols.push_back(col);
      if (cols.size() != 6 || cols[0] != asked) continue;
      if (first) {
        page->next_cursor = cols[1];
        page->more = cols[2] == "1";
        first = false;
      }
      if (cols[3] == "-") continue;
      InboundChange change;
      change.crm_event = "lead.updated";
      change.entity_kind = EntityKind::kLead;
      change.external_id = cols[3];
      change.fields_json = "{\"status\":\"" + cols[4] + "\"}";
      change.updated_at = cols[5];
      change.event_ids = {cols[3] + "@" + cols[5]};
      page->changes.push_back(change);
    }
    return Status::Ok();
  }

 private:
  std::string dir_;
};

}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::PollingAdapter, "polling_plugin", "0.0.1")
