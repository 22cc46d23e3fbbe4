// The descriptor names a class the manifest does not export.
#include "minimal_adapter.h"

namespace crmsync::testplugins {
class PresentAdapter : public MinimalAdapter {
 public:
  PresentAdapter() : MinimalAdapter("class_missing") {}
};
}  // namespace crmsync::testplugins

extern "C" CRMSYNC_EXPORT const CrmsyncPluginDescriptor* crmsync_plugin_descriptor(void) {
  static const CrmsyncPluginDescriptor d = {
      sizeof(CrmsyncPluginDescriptor), CRMSYNC_ABI_MAJOR, CRMSYNC_ABI_MINOR, CRMSYNC_ABI_TAG,
      CRMSYNC_COMPILER_ID, "class_missing", "0.0.1", "crmsync::testplugins::AbsentAdapter"};
  return &d;
}
POCO_BEGIN_NAMED_MANIFEST(CRMSYNC_MANIFEST_ID, crmsync::Adapter)
POCO_EXPORT_CLASS(crmsync::testplugins::PresentAdapter)
POCO_END_MANIFEST
