// intake/event_validator.h: reads a POST /api/v1/events body into validated
// events, or every problem with its JSON path (docs/design.md §3, §10).
//
// Pure function of its input; thread-safe.
#ifndef CRMSYNC_ENGINE_INTAKE_EVENT_VALIDATOR_H_
#define CRMSYNC_ENGINE_INTAKE_EVENT_VALIDATOR_H_

#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "crmsync/entities.h"
#include "queue/queue_types.h"

namespace crmsync::engine {

/// Most events in one {"events": [...]} body.
constexpr size_t kMaxEventsPerRequest = 1000;
/// Deepest JSON nesting accepted in a body.
constexpr size_t kMaxJsonDepth = 32;

struct ValidationResult {
  std::vector<IncomingEvent> events;  ///< Complete only when errors is empty.
  std::vector<FieldError> errors;     ///< Every bad field, with its JSON path.
  bool unknown_type = false;          ///< Some envelope names an unknown event type (422).
};

/// Validates one envelope or {"events": [...]} of at most kMaxEventsPerRequest.
/// An envelope needs eventId (1-128 of [A-Za-z0-9_.:-]), a known type,
/// occurredAt (ISO 8601), optional priority (high, medium, low) and data, a
/// patch of the entity of its type (docs/events.md): its id and what the type
/// is about (lead.status_changed: status; dealer.assigned: leadId, dealerId);
/// null clears a field, refused where a field cannot be cleared (ids, status).
/// Each event's entity_json is that patch.
ValidationResult ValidateEventsBody(const std::string& body);

/// Validates `data`, the data of an event of `type`, exactly as an envelope's
/// data is validated: each problem goes to `errors` with its path under
/// `data_path` ("$.events[2].data", "$.lead"). Fills `event`'s kind,
/// entity_id, entity_json, coalescable, data_path (and the inquiry or
/// assignment). True when no problem was added. For other readers of
/// platform records (backfill/backfill_lines.h), so the rules live once.
bool ValidateEventData(EventType type, const Poco::JSON::Object& data, const std::string& data_path,
                       IncomingEvent* event, std::vector<FieldError>* errors);

/// True for an ISO 8601 time as occurredAt takes it (2026-11-23T10:15:00Z,
/// fractions and offsets allowed).
bool IsEventTimestamp(const std::string& text);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_INTAKE_EVENT_VALIDATOR_H_
