// The optional preparing interface of a transport (see crmsync/prepare.h).
#include "crmsync/prepare.h"

namespace crmsync {

// Out of line: the class's type information then has one home, the SDK, which
// the engine's dynamic_cast and the plugin's vtable both name.
PreparingTransport::~PreparingTransport() = default;

PreparingTransport* AsPreparing(Transport* transport) noexcept {
  return dynamic_cast<PreparingTransport*>(transport);
}

}  // namespace crmsync
