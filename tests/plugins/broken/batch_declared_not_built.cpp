// Breaks "batch round trip": declares max_batch_size 10 but never implemented
// BuildBatch (the SDK default refuses), so every batched job would dead-letter.
#include "conformant_adapter.h"

namespace crmsync::testplugins {
class BatchDeclaredNotBuilt : public ConformantAdapter {
 public:
  BatchDeclaredNotBuilt() : ConformantAdapter("batch_declared_not_built") {}
  PluginInfo Info() const override {
    PluginInfo info = ConformantAdapter::Info();
    info.capabilities.max_batch_size = 10;
    return info;
  }
};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::BatchDeclaredNotBuilt, "batch_declared_not_built", "0.0.1")
