// A plugin that names its CRM's budget headers wrongly in Dump(): a header
// name with a space and a reset format that does not exist. The engine must
// refuse to start (and check-config report it) rather than guess.
#include "minimal_adapter.h"

namespace crmsync::testplugins {
class BadBudgetHeadersAdapter : public MinimalAdapter {
 public:
  BadBudgetHeadersAdapter() : MinimalAdapter("bad_budget_headers") {}
  std::string Dump() override {
    return R"({"rateLimitHeaders": {"remainingHeader": "X Left", "resetHeader": "X-Reset",)"
           R"( "resetFormat": "fortnights"}})";
  }
};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::BadBudgetHeadersAdapter, "bad_budget_headers", "0.0.1")
