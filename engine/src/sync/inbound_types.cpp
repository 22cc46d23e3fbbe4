// Inbound result names; see inbound_types.h.
#include "sync/inbound_types.h"

namespace crmsync::engine {

const char* InboundResultName(InboundResult::Kind kind) noexcept {
  switch (kind) {
    case InboundResult::Kind::kApplied: return "applied";
    case InboundResult::Kind::kCreated: return "created";
    case InboundResult::Kind::kNoChange: return "no_change";
    case InboundResult::Kind::kStale: return "stale";
    case InboundResult::Kind::kInvalid: return "invalid";
    case InboundResult::Kind::kDeferred: return "deferred";
    case InboundResult::Kind::kDuplicate: return "duplicate";
  }
  return "unknown";
}

}  // namespace crmsync::engine
