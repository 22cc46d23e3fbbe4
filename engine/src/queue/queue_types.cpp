// Priority names and defaults; see queue_types.h.
#include "queue/queue_types.h"

namespace crmsync::engine {

const char* PriorityName(Priority p) noexcept {
  switch (p) {
    case Priority::kHigh: return "high";
    case Priority::kMedium: return "medium";
    case Priority::kLow: return "low";
    case Priority::kBulk: return "bulk";
  }
  return "medium";
}

bool ParsePriority(const std::string& name, Priority* out) noexcept {
  for (Priority p : {Priority::kHigh, Priority::kMedium, Priority::kLow}) {
    if (name == PriorityName(p)) {
      *out = p;
      return true;
    }
  }
  return false;
}

Priority DefaultPriority(EventType type) noexcept {
  switch (type) {
    case EventType::kLeadCreated:
    case EventType::kLeadStatusChanged:
    case EventType::kInquirySubmitted: return Priority::kHigh;
    case EventType::kDealerAssigned: return Priority::kMedium;
    case EventType::kPropertyCreated:
    case EventType::kPropertyUpdated: return Priority::kLow;
  }
  return Priority::kMedium;
}

const char* RelatedStateName(RelatedState state) noexcept {
  switch (state) {
    case RelatedState::kNone: return "none";
    case RelatedState::kLinked: return "linked";
    case RelatedState::kPending: return "pending";
    case RelatedState::kUnsent: return "unsent";
  }
  return "none";
}

}  // namespace crmsync::engine
