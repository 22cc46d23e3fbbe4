// sync/inbound_types.h: the values that cross the store interface for the
// inbound flow (CRM webhooks -> platform): deliveries, the rules that decide
// which CRM changes the platform accepts, results and the change feed.
//
// Plain values; no shared state.
#ifndef CRMSYNC_ENGINE_SYNC_INBOUND_TYPES_H_
#define CRMSYNC_ENGINE_SYNC_INBOUND_TYPES_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "crmsync/entities.h"

namespace crmsync::engine {

/// A change the inbound worker took out of a delivery before applying it (a
/// notification-only change whose record could not be fetched): audited with
/// the delivery, in its transaction.
struct InboundDrop {
  EntityKind entity_kind = EntityKind::kLead;
  std::string external_id;
  std::string action;  ///< The audit action: "inbound_fetch_gone", "inbound_fetch_failed".
  std::string reason;  ///< Masked (plugin messages pass the guard's redaction).
};

/// A verified webhook, parsed by the plugin, kept until it is processed.
struct InboundDelivery {
  std::string id;       ///< Delivery id (webhook-id, X-CRM-Delivery, or a hash of the body).
  std::string plugin;
  std::string event;    ///< The CRM's event name.
  std::vector<InboundChange> changes;
  int64_t received_ms = 0;
  /// Changes dropped before applying; never stored (the worker decides again
  /// on every pass while the delivery is pending).
  std::vector<InboundDrop> dropped;
};

/// Which side owns which field (docs/design.md §5, "conflicts").
struct InboundRules {
  /// Platform fields a CRM change may not overwrite ("email", "phone").
  std::set<std::string> platform_fields;
  /// The CRM owns a lead's status once the lead has reached this status (in
  /// funnel order); before that the platform's status stands. nullopt: the CRM
  /// always owns it.
  std::optional<LeadStatus> crm_owns_status_from;
  /// Queue each change-feed entry for the platform's callback URL.
  bool queue_callbacks = false;
};

/// What one change did.
struct InboundResult {
  enum class Kind {
    kApplied,   ///< The mirror changed; a change-feed entry was written.
    kCreated,   ///< The CRM knew the record first: a mirror row and a link were made.
    kNoChange,  ///< Nothing new (an echo of what we sent, or owned fields only).
    kStale,     ///< Older than what we hold: recorded and ignored.
    kInvalid,   ///< The merged record breaks the contract (e.g. a bad status); ignored.
    /// Not applied yet: the CRM record is not linked while an outbound job of its
    /// kind is in flight, so it may be the CRM's echo of our own create whose
    /// answer is not committed yet. The delivery stays pending (see
    /// kCreateEchoWaitMs) and nothing is written.
    kDeferred,
    /// Every one of the change's CRM event ids (InboundChange::event_ids) was
    /// applied before, in this delivery or another (a webhook resent under a
    /// new delivery id, a poll page read again): nothing is written but an
    /// audit line.
    kDuplicate,
  };
  Kind kind = Kind::kNoChange;
  std::string entity_kind;
  std::string entity_id;
  std::vector<std::string> changed_fields;
  std::vector<std::string> ignored_fields;  ///< Owned by the platform.
  std::string reason;                       ///< For kStale / kInvalid / kDuplicate.
  int64_t change_seq = 0;                   ///< The change-feed entry, when one was written.
};
const char* InboundResultName(InboundResult::Kind kind) noexcept;

/// How long a delivery about an unlinked CRM record waits (kDeferred) while an
/// outbound job of its kind is in flight, before the record is taken as one the
/// CRM knew first.
constexpr int64_t kCreateEchoWaitMs = 10000;

/// One entry of the change feed (GET /api/v1/changes), in commit order.
struct ChangeRecord {
  int64_t seq = 0;
  int64_t at_ms = 0;
  std::string entity_kind;
  std::string entity_id;
  std::string source;        ///< "crm"
  std::string delivery_id;
  std::string crm_event;
  std::string fields_json;   ///< The changed platform fields and their new values.
  std::string entity_json;   ///< The entity after the change (wire form).
};

/// A change-feed callback to deliver (when inbound.callback_url is set).
struct PendingCallback {
  ChangeRecord change;
  int attempts = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_SYNC_INBOUND_TYPES_H_
