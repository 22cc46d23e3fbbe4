// Breaks "configure refuses bad config": Configure() says OK to anything, so a
// missing or malformed setting surfaces only as failed CRM calls later.
#include "conformant_adapter.h"

namespace crmsync::testplugins {
class AcceptsAnything : public ConformantAdapter {
 public:
  AcceptsAnything() : ConformantAdapter("configure_accepts_anything") {}
  Status Configure(const PluginConfig&) override { return Status::Ok(); }
};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::AcceptsAnything, "configure_accepts_anything", "0.0.1")
