// mock_crm_adapter.h: the mock-crm plugin's adapter, the default CRM.
//
// An in-memory CRM that speaks the reference CRM REST API (docs/design.md §10), so
// the service runs with no CRM at all, and a fault script that lets tests drive
// every row of the outcome table (docs/design.md §4) deterministically. Settings are
// described in fault_script.h; api_key / api_secret, when set, are sent as
// X-API-Key / X-API-Secret like the reference API wants. Classification is the
// SDK default.
//
// state_file (crm.mock-crm.state_file), when set and not empty, is a journal that
// lets the CRM outlive its process (memory_crm.h, crm_journal.h): Configure()
// rebuilds the CRM from it, then every change is appended to it. A relative path
// is read against config_dir. It survives kill -9, not a machine crash (no fsync).
//
// emit_webhooks (crm.mock-crm.emit_webhooks, default false) with webhook_url set
// makes the CRM POST a webhook after each lead or property create or update it
// applies, from a background thread (webhook_emitter.h), so the engine's
// two-way flow can be tried end to end; Dump() then shows "webhooksSent" and
// "webhooksPending".
//
// users (crm.mock-crm.users) seeds the CRM's users, a JSON array of
// {"id", "email", "platformId", "active"} (id required; active defaults to
// true), listed by ListUsers() through GET /api/v1/users (route user.list, so
// faults.user.list applies) and shown under "users" in Dump().
//
// It is a RecordReader too (crmsync/records.h), for reconcile: ListRecords()
// lists the in-memory CRM's records in creation order, records_page_size
// (crm.mock-crm.records_page_size, 1 to 1000, default 100) a page, through
// GET /api/v1/<leads|properties>?limit=<size>&cursor=<offset> (route lead.list /
// property.list, so faults apply), ReadRecord() reads one through GET
// /api/v1/<leads|properties>/<id> (route lead.read / property.read); fields
// in platform names (mock_crm_mapper.h), the externalReference as stored.
//
// Lead bodies carry the CRM ids of SyncJob::related: relatedProperty (the
// lead's property), assignedAgent (the agent's CRM user); property bodies
// assignedAgent (propertyAgent). See mock_crm_mapper.h.
//
// Thread-safety: as for every Adapter (crmsync/adapter.h): Configure() once, then
// everything else from any thread.
#ifndef CRMSYNC_PLUGINS_MOCK_CRM_MOCK_CRM_ADAPTER_H_
#define CRMSYNC_PLUGINS_MOCK_CRM_MOCK_CRM_ADAPTER_H_

#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "crmsync/records.h"
#include "fault_script.h"
#include "memory_crm.h"
#include "mock_crm_mapper.h"
#include "mock_crm_transport.h"
#include "webhook_emitter.h"

namespace crmsync::mockcrm {

/// The plugin's name and version, as in its descriptor.
constexpr char kPluginName[] = "mock-crm";
constexpr char kPluginVersion[] = "1.0.0";
/// The setting naming the CRM's journal file.
constexpr char kStateFileKey[] = "state_file";
/// The setting seeding the CRM's users.
constexpr char kUsersKey[] = "users";
/// The setting of the records listed per page (RecordReader).
constexpr char kRecordsPageSizeKey[] = "records_page_size";

class MockCrmAdapter : public Adapter, public RecordReader {
 public:
  /// Wires the CRM's changes to the webhook emitter (idle until configured).
  MockCrmAdapter();

  /// mock-crm 1.0.0: lookup by reference, webhook registration, no batching.
  PluginInfo Info() const override;

  /// Reads the fault script, latencies, credentials and webhook emission
  /// settings (webhook_emitter.h), and replays state_file
  /// when set. kInvalidConfig naming the key and the bad token or value, the
  /// state_file that cannot be opened, or its line that cannot be replayed. May
  /// be called again to replace the script; the CRM's contents are kept (and
  /// state_file may then only repeat the first one).
  Status Configure(const PluginConfig& config) override;

  Mapper& mapping() override { return mapper_; }
  Transport& transport() override { return transport_; }

  /// The in-memory CRM's contents (MemoryCrm::Dump()), then "webhooksSent"
  /// ({"<status>": n}, WebhookEmitter::Results()) and "webhooksPending".
  std::string Dump() override;

  /// Every user of the CRM (GET /api/v1/users through the transport), in
  /// CrmUser terms; the CRM's answer classified when it is not a 2xx, and
  /// kPermanent naming what is wrong when the list cannot be read.
  Status ListUsers(std::vector<CrmUser>* users) override;

  /// One page of the CRM's records of request.entity_kind; the CRM's error
  /// answer classified (a 404, 400 or 409 to the list kPermanent: never
  /// "cannot list", never an invalid record); kRetryable when it cannot be read.
  Status ListRecords(const RecordListRequest& request, RecordListPage* page) override;

  /// One record by its CRM id; kNotFound on the CRM's 404; other error
  /// answers classified; kRetryable when it cannot be read.
  Status ReadRecord(EntityKind kind, const std::string& external_id,
                    CrmRecord* record) override;

 private:
  MemoryCrm crm_;
  FaultScript faults_;
  MockCrmMapper mapper_;
  MockCrmTransport transport_;
  // Declared last: destroyed first, so its sender stops before the CRM goes.
  WebhookEmitter emitter_;
};

}  // namespace crmsync::mockcrm

#endif  // CRMSYNC_PLUGINS_MOCK_CRM_MOCK_CRM_ADAPTER_H_
