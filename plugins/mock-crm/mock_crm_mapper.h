// mock_crm_mapper.h: the mapping half of mock-crm, shaped like the reference
// CRM REST API of docs/design.md §10.
//
//   step / call       request                                        route
//   lead create       POST /api/v1/leads                             lead.create
//   lead update       PUT  /api/v1/leads/{externalId}                lead.update
//   lead activity     POST /api/v1/leads/{externalId}/activities     lead.activity
//   lead deal         POST /api/v1/leads/{externalId}/deals          lead.deal
//   lead lookup       GET  /api/v1/leads?externalReference=<ref>     lead.lookup
//   property ...      the same create/update/lookup on /api/v1/properties
//   webhook register  POST /api/v1/webhooks {url, events, secret}    webhook.register
//
// Lead body {name, email, phone, source, status, budgetRange{min,max},
// preferredAreas[], externalReference, assignedAgent, notes, lostReason (LOST),
// utmSource, createdDate, propertyId, relatedProperty}, status in the CRM's
// lower-case words (CONVERTED -> "won"); assignedAgent is the CRM user
// matched to assignedToId (SyncJob::related["agent"]), else the platform's
// dealer id; relatedProperty the CRM id of the lead's property
// (related["property"]), absent when the CRM holds none. Property body
// {title, price, location{city, locality}, status, owner, assignedAgent
// (related["propertyAgent"], else dealerId), internalId, externalReference}.
// Activities {type: "viewing_scheduled"|"viewed"|"inquiry", note|message};
// an inquiry's carries relatedProperty too;
// deals {title, amount, leadId}. Absent optional fields are left out.
//
// Webhooks {"event", "entityId", "data"} come back as one InboundChange with
// platform field names and statuses.
//
// Records are read back for reconcile (crmsync/records.h) as webhooks map
// them, plus what a webhook does not carry back (a lead's propertyId and
// createdAt, a property's dealer as assignedAgent): every field mock-crm
// holds is present in fields_json, null when the record holds nothing there.
//
// Thread-safety: SetCredentials() is called only while configuring; every other
// method is a pure function of its arguments and may run concurrently.
#ifndef CRMSYNC_PLUGINS_MOCK_CRM_MOCK_CRM_MAPPER_H_
#define CRMSYNC_PLUGINS_MOCK_CRM_MOCK_CRM_MAPPER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "crmsync/records.h"

namespace crmsync::mockcrm {

class MockCrmMapper : public Mapper {
 public:
  /// Keys sent as X-API-Key / X-API-Secret on every request when non-empty.
  void SetCredentials(const std::string& api_key, const std::string& api_secret);

  /// See the table in the file comment. kPermanent when the job lacks the entity
  /// the step needs, when an update/activity/deal has no external id, or when
  /// the step does not exist for properties (activity, deal).
  Status BuildRequest(const SyncJob& job, StepKind step, HttpRequest* out) override;

  /// After a create, the answer's "id" (required, else kPermanent); after an
  /// update the "id" when present; nothing after an activity or a deal (their
  /// ids are not the record's).
  Status ReadResponse(const SyncJob& job, StepKind step, const HttpResponse& response,
                      StepResult* out) override;

  /// GET /api/v1/<leads|properties>?externalReference=<url-encoded reference>.
  Status BuildLookup(const SyncJob& job, HttpRequest* out) override;

  /// {"results":[{"id","externalReference"}]}: the id of the result whose
  /// externalReference matches (the first result when none carries one); none
  /// for empty results or a 404. Another non-2xx answer is classified with
  /// DefaultClassify(); an unreadable 2xx is kPermanent.
  Status ReadLookup(const SyncJob& job, const HttpResponse& response,
                    std::optional<std::string>* external_id) override;

  /// {"event","entityId","data"{...}} -> one change (see the file comment).
  /// kInvalidRecord naming what is wrong when the body is not a JSON object, has
  /// no event or entityId, or data holds an unknown status or a field of the
  /// wrong type. Events other than lead.* / property.* (created, updated,
  /// status_changed, assigned) give no change and OK.
  Status ParseWebhook(const WebhookDelivery& delivery,
                      std::vector<InboundChange>* changes) override;

  /// GET /api/v1/users (route user.list), for Adapter::ListUsers.
  void BuildUserList(HttpRequest* out) const;
  /// {"results":[{"id","email","platformId","active"}]} as CrmUsers;
  /// kPermanent naming what is wrong when the answer cannot be read.
  Status ReadUserList(const HttpResponse& response, std::vector<CrmUser>* users) const;

  /// Records per list page (1 to 1000, default 100); called only while
  /// configuring.
  void SetRecordsPageSize(int64_t size) { records_page_size_ = size; }

  /// GET /api/v1/<leads|properties>?limit=<page size>[&cursor=<cursor>]
  /// (route <kind>.list), one page of RecordReader::ListRecords.
  void BuildRecordList(EntityKind kind, const std::string& cursor, HttpRequest* out) const;
  /// {"results":[record...],"nextCursor"} as a page; kRetryable naming what is
  /// wrong when the answer cannot be read.
  Status ReadRecordList(EntityKind kind, const HttpResponse& response,
                        RecordListPage* page) const;
  /// GET /api/v1/<leads|properties>/<id> (route <kind>.read).
  void BuildRecordRead(EntityKind kind, const std::string& id, HttpRequest* out) const;
  /// The record of a read's answer; kRetryable naming what is wrong.
  Status ReadRecordAnswer(EntityKind kind, const HttpResponse& response, CrmRecord* out) const;

  /// POST /api/v1/webhooks {url, events, secret}; kPermanent when url is empty.
  Status BuildWebhookRegistration(const WebhookRegistration& registration,
                                  HttpRequest* out) override;

 private:
  void AddCredentials(HttpRequest* request) const;

  std::string api_key_;
  std::string api_secret_;
  int64_t records_page_size_ = 100;
};

}  // namespace crmsync::mockcrm

#endif  // CRMSYNC_PLUGINS_MOCK_CRM_MOCK_CRM_MAPPER_H_
