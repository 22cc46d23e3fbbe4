// A plugin built for a future ABI major: its descriptor says 99 and its
// manifest carries the name for that major.
#include "minimal_adapter.h"

namespace crmsync::testplugins {
class FutureAdapter : public MinimalAdapter {};
}  // namespace crmsync::testplugins

extern "C" CRMSYNC_EXPORT const CrmsyncPluginDescriptor* crmsync_plugin_descriptor(void) {
  static const CrmsyncPluginDescriptor d = {
      sizeof(CrmsyncPluginDescriptor), 99, 0, CRMSYNC_ABI_TAG, CRMSYNC_COMPILER_ID,
      "wrong_abi", "9.9.9", "crmsync::testplugins::FutureAdapter"};
  return &d;
}
POCO_BEGIN_NAMED_MANIFEST(crmsync_abi_99, crmsync::Adapter)
POCO_EXPORT_CLASS(crmsync::testplugins::FutureAdapter)
POCO_END_MANIFEST
