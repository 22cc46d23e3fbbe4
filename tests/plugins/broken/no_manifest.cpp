// A descriptor but no Poco manifest: what a hand-rolled or half-built plugin
// looks like.
#include "minimal_adapter.h"

extern "C" CRMSYNC_EXPORT const CrmsyncPluginDescriptor* crmsync_plugin_descriptor(void) {
  static const CrmsyncPluginDescriptor d = {sizeof(CrmsyncPluginDescriptor), CRMSYNC_ABI_MAJOR,
                                            CRMSYNC_ABI_MINOR, CRMSYNC_ABI_TAG, CRMSYNC_COMPILER_ID,
                                            "no_manifest", "0.0.1", "NoSuchClass"};
  return &d;
}
