// A plugin built against a newer minor SDK than the engine's.
#include "minimal_adapter.h"

namespace crmsync::testplugins {
class NewerAdapter : public MinimalAdapter {
 public:
  NewerAdapter() : MinimalAdapter("newer_minor") {}
};
}  // namespace crmsync::testplugins

extern "C" CRMSYNC_EXPORT const CrmsyncPluginDescriptor* crmsync_plugin_descriptor(void) {
  static const CrmsyncPluginDescriptor d = {
      sizeof(CrmsyncPluginDescriptor), CRMSYNC_ABI_MAJOR, CRMSYNC_ABI_MINOR + 1, CRMSYNC_ABI_TAG,
      CRMSYNC_COMPILER_ID, "newer_minor", "0.0.1", "crmsync::testplugins::NewerAdapter"};
  return &d;
}
POCO_BEGIN_NAMED_MANIFEST(CRMSYNC_MANIFEST_ID, crmsync::Adapter)
POCO_EXPORT_CLASS(crmsync::testplugins::NewerAdapter)
POCO_END_MANIFEST
