// A plugin whose file name (misnamed) differs from the name it declares.
#include "minimal_adapter.h"

namespace crmsync::testplugins {
class MisnamedAdapter : public MinimalAdapter {
 public:
  MisnamedAdapter() : MinimalAdapter("some-other-name") {}
};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::MisnamedAdapter, "some-other-name", "0.0.1")
