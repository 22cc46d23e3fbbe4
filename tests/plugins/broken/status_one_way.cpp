// Breaks "status table complete both ways": sends CONVERTED as "won" but reads
// "won" back as NEGOTIATING, so a CRM webhook would undo a conversion.
#include "conformant_adapter.h"

namespace crmsync::testplugins {
class OneWayMapper : public ConformantMapper {
 public:
  const char* InboundStatusName(LeadStatus status) override {
    if (status == LeadStatus::kConverted) return "NEGOTIATING";
    return LeadStatusName(status);
  }
};

class StatusOneWay : public ConformantAdapter {
 public:
  StatusOneWay() : ConformantAdapter("status_one_way") {}
  Mapper& mapping() override { return mapper_; }

 private:
  OneWayMapper mapper_;
};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::StatusOneWay, "status_one_way", "0.0.1")
