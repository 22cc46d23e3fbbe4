// Breaks "maps every event type" and "no exception escapes": BuildRequest
// throws for dealer.assigned (an unchecked optional, the classic bug).
#include <stdexcept>

#include "conformant_adapter.h"

namespace crmsync::testplugins {
class ThrowingMappingMapper : public ConformantMapper {
 public:
  Status BuildRequest(const SyncJob& job, StepKind step, HttpRequest* out) override {
    if (job.event_type == EventType::kDealerAssigned) {
      throw std::out_of_range("no dealer field mapping");
    }
    return ConformantMapper::BuildRequest(job, step, out);
  }
};

class ThrowsInMapping : public ConformantAdapter {
 public:
  ThrowsInMapping() : ConformantAdapter("throws_in_mapping") {}
  Mapper& mapping() override { return mapper_; }

 private:
  ThrowingMappingMapper mapper_;
};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::ThrowsInMapping, "throws_in_mapping", "0.0.1")
