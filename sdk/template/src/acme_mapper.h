// acme_mapper.h: the mapping half of the acme-crm adapter: platform jobs into
// Acme CRM requests, Acme answers and webhooks back. Pure functions of their
// arguments (no network, no clock), so tests/acme_mapper_test.cpp checks them
// with plain values.
//
// The Acme API (a small REST CRM; replace with yours):
//   POST /v1/contacts                  create a contact   -> 201 {"id": "c_123", ...}
//   PUT  /v1/contacts/{id}             update it
//   GET  /v1/contacts?ref={reference}  find it by our reference -> {"data": [{"id"}...]}
//   POST /v1/contacts/{id}/notes       log an activity (viewing, inquiry)
//   POST /v1/contacts/{id}/deals       open a deal (CONVERTED)
//   POST /v1/listings, PUT /v1/listings/{id}   the same for properties
//   webhooks: {"event": "lead.updated", "entityId": "c_123", "data": {"stage": "won", ...}}
// A contact body: {ref, name, email, phone, source, stage, notes, budget{min,max},
// areas[], owner, lost_reason}. Stages: new contacted qualified viewing viewed
// negotiating won lost (and "closed_won" read as won).
//
// Thread-safety: stateless; every method may run on many threads at once.
#ifndef ACME_CRM_ACME_MAPPER_H_
#define ACME_CRM_ACME_MAPPER_H_

#include <string>
#include <vector>

#include "crmsync/adapter.h"

namespace acme {

/// The Acme stage for a platform lead status ("won" for CONVERTED).
std::string AcmeStage(crmsync::LeadStatus status);
/// Reads an Acme stage (case-insensitive; "closed_won" is CONVERTED). False
/// when the stage is unknown.
bool PlatformStatus(const std::string& stage, crmsync::LeadStatus* out);

class AcmeMapper final : public crmsync::Mapper {
 public:
  // Plan(): the SDK default (create or update, then activity / deal).
  crmsync::Status BuildRequest(const crmsync::SyncJob& job, crmsync::StepKind step,
                               crmsync::HttpRequest* out) override;
  crmsync::Status ReadResponse(const crmsync::SyncJob& job, crmsync::StepKind step,
                               const crmsync::HttpResponse& response,
                               crmsync::StepResult* out) override;
  crmsync::Status BuildLookup(const crmsync::SyncJob& job, crmsync::HttpRequest* out) override;
  crmsync::Status ReadLookup(const crmsync::SyncJob& job, const crmsync::HttpResponse& response,
                             std::optional<std::string>* external_id) override;
  crmsync::Status ParseWebhook(const crmsync::WebhookDelivery& delivery,
                               std::vector<crmsync::InboundChange>* changes) override;
};

}  // namespace acme

#endif  // ACME_CRM_ACME_MAPPER_H_
