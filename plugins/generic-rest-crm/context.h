// context.h: the template variables of a sync job and of a webhook registration
// (mapping-format.md, "Context variables").
//
// A job's context holds the entity's platform fields by their wire names
// (docs/design.md §10: name, email, status, budgetMin, preferredLocation, title,
// price, ...; numbers stay numbers, preferredLocation is an array), plus
// externalId, externalReference, entityId, eventId, eventType, now, and for the
// events that carry them inquiry.id / inquiry.message / inquiry.propertyId /
// inquiry.createdAt and assignment.dealerId / assignment.assignedAt, and the
// CRM ids of related records (SyncJob::related) as related.property,
// related.agent and related.propertyAgent, absent when the engine has none. An
// inquiry's lead is the job's lead; a dealer assignment sets assignedToId.
// Absent optional fields are absent from the context (so templates omit them).
// A field the job cleared (named in SyncJob::changed_fields, absent from the
// entity) is marked cleared (MarkCleared): a template naming it renders JSON
// null, the CRM's way of clearing it. With `changed_only` the entity's other
// fields are left out of the context (an operation's "send": "changed").
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_CONTEXT_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_CONTEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "template.h"

namespace crmsync::genericrest {

/// The context of `job`; `now_unix_ms` gives the `now` variable.
Context JobContext(const SyncJob& job, int64_t now_unix_ms, bool changed_only = false);

/// The job's externalReference: SyncJob::external_reference, else "<kind>:<id>".
std::string ExternalReference(const SyncJob& job);

/// The context of a webhook registration: webhook.url, webhook.events (an
/// array), webhook.secret, now.
Context WebhookContext(const WebhookRegistration& registration, int64_t now_unix_ms);

/// The wire names of an entity's platform fields ("id", "name", ...).
const std::vector<std::string>& PlatformFields(EntityKind kind);

/// Every variable a template rendered for a job of `kind` may use.
std::vector<std::string> JobVariables(EntityKind kind);

/// True when `name` may appear in a template rendered for a job of `kind`.
bool IsJobVariable(EntityKind kind, const std::string& name);

/// True when `name` may appear in a webhook registration template.
bool IsWebhookVariable(const std::string& name);

/// "2026-11-23T10:15:00Z": ISO 8601 UTC, whole seconds.
std::string IsoTime(int64_t unix_ms);

/// "2026-11-23T10:15:00.123Z": ISO 8601 UTC with milliseconds, for a CRM time
/// given as Unix milliseconds (HubSpot's occurredAt).
std::string IsoTimeMillis(int64_t unix_ms);

/// Reads a CRM's time: ISO 8601 "YYYY-MM-DD[T ]hh:mm[:ss[.fraction]]" with
/// "Z", "+hh:mm", "+hhmm" or no zone (UTC; Pipedrive's "2026-12-03 10:15:00"),
/// or a decimal number of Unix milliseconds. False for anything else.
bool ParseCrmTime(const std::string& text, int64_t* unix_ms);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_CONTEXT_H_
