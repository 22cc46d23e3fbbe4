// The optional record-reading interface of an adapter (see crmsync/records.h).
#include "crmsync/records.h"

namespace crmsync {

// Out of line: the class's type information then has one home, the SDK, which
// the engine's dynamic_cast and the plugin's vtable both name.
RecordReader::~RecordReader() = default;

RecordReader* AsRecordReader(Adapter* adapter) noexcept {
  return dynamic_cast<RecordReader*>(adapter);
}

}  // namespace crmsync
