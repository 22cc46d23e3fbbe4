// Passes every conformance check: the control case for the plugins below.
#include "conformant_adapter.h"

namespace crmsync::testplugins {
class ConformantPlugin : public ConformantAdapter {
 public:
  ConformantPlugin() : ConformantAdapter("conformant_plugin") {}
};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::ConformantPlugin, "conformant_plugin", "0.0.1")
