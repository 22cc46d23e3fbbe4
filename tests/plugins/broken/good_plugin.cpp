// A correct plugin: the control case for the broken ones.
#include "minimal_adapter.h"

namespace crmsync::testplugins {
class GoodAdapter : public MinimalAdapter {};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::GoodAdapter, "good_plugin", "0.0.1")
