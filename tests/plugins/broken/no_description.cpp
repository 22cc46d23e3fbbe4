// Breaks "metadata complete": no description and a version that differs from
// the descriptor's, so `crmsync plugins` cannot tell ops what they run.
#include "conformant_adapter.h"

namespace crmsync::testplugins {
class NoDescription : public ConformantAdapter {
 public:
  NoDescription() : ConformantAdapter("no_description") {}
  PluginInfo Info() const override {
    PluginInfo info = ConformantAdapter::Info();
    info.description.clear();
    info.version = "2.0";
    return info;
  }
};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::NoDescription, "no_description", "0.0.1")
