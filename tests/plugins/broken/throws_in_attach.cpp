// A plugin whose Attach() throws: the host must turn it into an error naming
// the plugin and the call, and not configure it.
#include <stdexcept>

#include "minimal_adapter.h"

namespace crmsync::testplugins {

class ThrowsInAttach : public MinimalAdapter {
 public:
  ThrowsInAttach() : MinimalAdapter("throws_in_attach") {}
  void Attach(PluginHost*) override { throw std::runtime_error("attach exploded"); }
};

}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::ThrowsInAttach, "throws_in_attach", "0.0.1")
