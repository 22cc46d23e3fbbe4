// crmsync/entities.h: the platform's entities and event types, as in the wire
// contract (docs/design.md §10), and their JSON codec.
//
// Plain values; no shared state. The codec is the single reading of the wire
// contract: intake validates with it, plugins read the same structs.
#ifndef CRMSYNC_ENTITIES_H_
#define CRMSYNC_ENTITIES_H_

#include <optional>
#include <string>
#include <vector>

namespace crmsync {

/// The six platform event types.
enum class EventType {
  kPropertyCreated,    ///< "property.created"
  kPropertyUpdated,    ///< "property.updated"
  kLeadCreated,        ///< "lead.created"
  kLeadStatusChanged,  ///< "lead.status_changed"
  kInquirySubmitted,   ///< "inquiry.submitted"
  kDealerAssigned,     ///< "dealer.assigned"
};
/// Every event type, in declaration order.
const std::vector<EventType>& AllEventTypes();
/// The wire name of an event type.
const char* EventTypeName(EventType type) noexcept;
/// Parses a wire name; false when it names no event type.
bool ParseEventType(const std::string& name, EventType* out) noexcept;

/// What kind of CRM record a job touches. Lead-shaped events (lead.*, inquiry.*,
/// dealer.*) all touch the lead, so per-entity ordering holds across them.
enum class EntityKind { kLead, kProperty };
/// "lead" or "property".
const char* EntityKindName(EntityKind kind) noexcept;
/// Parses "lead" or "property".
bool ParseEntityKind(const std::string& name, EntityKind* out) noexcept;
/// The record an event type touches.
EntityKind EntityKindOf(EventType type) noexcept;

enum class LeadStatus {
  kNew,
  kContacted,
  kQualified,
  kViewingScheduled,
  kViewed,
  kNegotiating,
  kConverted,
  kLost,
};
/// Every lead status, in declaration (funnel) order.
const std::vector<LeadStatus>& AllLeadStatuses();
/// The wire name, e.g. "VIEWING_SCHEDULED".
const char* LeadStatusName(LeadStatus status) noexcept;
bool ParseLeadStatus(const std::string& name, LeadStatus* out) noexcept;

enum class PropertyStatus { kActive, kInactive, kSold };
const char* PropertyStatusName(PropertyStatus status) noexcept;
bool ParsePropertyStatus(const std::string& name, PropertyStatus* out) noexcept;

/// A lead, whole, as the platform holds it now. Only id is required.
struct Lead {
  std::string id;
  std::optional<std::string> name;
  std::optional<std::string> email;
  std::optional<std::string> phone;
  std::optional<std::string> source;
  std::optional<LeadStatus> status;
  std::optional<std::string> property_id;
  std::optional<std::string> assigned_to_id;
  std::optional<double> budget_min;
  std::optional<double> budget_max;
  std::vector<std::string> preferred_location;
  std::optional<std::string> utm_source;
  std::optional<std::string> notes;
  std::optional<std::string> created_at;
  std::optional<std::string> updated_at;
  std::optional<std::string> lost_reason;  ///< Set with status LOST.
};

/// A property listing. Only id is required.
struct Property {
  std::string id;
  std::optional<std::string> title;
  std::optional<double> price;
  std::optional<std::string> city;
  std::optional<std::string> locality;
  std::optional<PropertyStatus> status;
  std::optional<std::string> owner_id;
  std::optional<std::string> dealer_id;
  std::optional<std::string> updated_at;
};

/// An inquiry a lead made about a property; carries the lead, whole.
struct Inquiry {
  std::string id;
  std::string lead_id;
  std::optional<std::string> property_id;
  std::optional<std::string> message;
  std::optional<std::string> created_at;
  Lead lead;
};

/// A dealer assigned to a lead.
struct DealerAssignment {
  std::string lead_id;
  std::string dealer_id;
  std::optional<std::string> assigned_at;
};

/// One bad field: its JSON path (e.g. "$.events[3].data.email") and what is wrong.
struct FieldError {
  std::string path;
  std::string message;
};

/// Limits the codec enforces on strings (characters counted as bytes).
constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxShortText = 512;
constexpr size_t kMaxLongText = 10000;

/// The wire names of an entity's fields, in the order the encoders write them
/// ("id", "name", "email", ... for a lead).
const std::vector<std::string>& WireFields(EntityKind kind);

/// Decoders read `json` (one JSON object, as text) into `out`. Each problem is
/// appended to `errors` with its path, `path` being the object's own path (for
/// example "$.data"). They return true when no error was found; `out` is then
/// complete. They never throw.
bool DecodeLead(const std::string& json, const std::string& path, Lead* out,
                std::vector<FieldError>* errors);
bool DecodeProperty(const std::string& json, const std::string& path, Property* out,
                    std::vector<FieldError>* errors);
bool DecodeInquiry(const std::string& json, const std::string& path, Inquiry* out,
                   std::vector<FieldError>* errors);
bool DecodeDealerAssignment(const std::string& json, const std::string& path,
                            DealerAssignment* out, std::vector<FieldError>* errors);

/// Encoders write the wire form (field names of docs/design.md §10; absent optionals
/// omitted) as compact JSON text.
std::string EncodeLead(const Lead& lead);
std::string EncodeProperty(const Property& property);
std::string EncodeInquiry(const Inquiry& inquiry);
std::string EncodeDealerAssignment(const DealerAssignment& assignment);

}  // namespace crmsync

#endif  // CRMSYNC_ENTITIES_H_
