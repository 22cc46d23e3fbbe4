// A plugin whose configure() refuses its settings, as a real one does when a
// required key is missing.
#include "minimal_adapter.h"

namespace crmsync::testplugins {
class RejectingAdapter : public MinimalAdapter {
 public:
  RejectingAdapter() : MinimalAdapter("configure_rejects") {}
  Status Configure(const PluginConfig& config) override {
    if (config.Get("api_url").empty()) return Status::InvalidConfig("api_url: required, not set");
    return Status::Ok();
  }
};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::RejectingAdapter, "configure_rejects", "0.0.1")
