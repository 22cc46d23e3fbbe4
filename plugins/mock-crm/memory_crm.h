// memory_crm.h: an in-memory stand-in for the reference CRM REST API
// (docs/design.md §10), answering HttpRequest values without any network.
//
// Endpoints (bodies are JSON objects; ids are "crm_lead_<n>", "crm_property_<n>",
// "crm_activity_<n>", "crm_deal_<n>", "crm_webhook_<n>"):
//   POST /api/v1/leads                      create   201 {"id"}; 409 {"message","id"}
//                                                    when externalReference is taken
//   PUT  /api/v1/leads/{id}                 update   200 {"id"}; 404 when unknown
//   GET  /api/v1/leads/{id}                 read     200 the record; 404
//   GET  /api/v1/leads?externalReference=r  lookup   200 {"results":[{"id","externalReference"}]}
//   GET  /api/v1/leads?limit=n&cursor=c     list     200 {"results":[record...],"nextCursor"}:
//                                                    every record in creation order (a
//                                                    stable order: nothing is deleted), from
//                                                    the cursor (an offset; no nextCursor on
//                                                    the last page); limit 1-1000 (default
//                                                    100); 400 on a bad limit or cursor
//   POST /api/v1/leads/{id}/activities      activity 201 {"id"}; 404
//   POST /api/v1/leads/{id}/deals           deal     201 {"id"}; 404
//   the same create/update/read/lookup/list under /api/v1/properties
//   POST /api/v1/webhooks                   register 201 {"id"}; needs "url"
//   GET  /api/v1/users                      list     200 {"results":[{"id","email",
//                                                    "platformId","active"}]}: every user
//                                                    (SetUsers(); not journaled)
// A body that is not a JSON object is 400; a field of the wrong type or a status
// outside the CRM's vocabulary is 422; an unknown path is 404, a known path with
// the wrong method 405. Every error body is {"message": "..."}.
//
// Bookkeeping for tests: each record counts the create requests that carried its
// externalReference (createCount: 1 unless someone tried to create it again and
// got 409) and its updates; the CRM counts requests per route (CountRequest()).
//
// Journal (optional, OpenJournal(); the file is crm_journal.h): every change is
// appended as one line before its answer is returned, so a restarted process
// rebuilds exactly the same CRM. A line per change ("op", then its data):
//   {"op":"count","route":r}                       a request counted on route r
//   {"op":"create","kind":k,"id":i,"fields":{..}}  a record created (k: lead|property)
//   {"op":"recreate","kind":k,"id":i}              a create refused with 409 (createCount)
//   {"op":"update","kind":k,"id":i,"fields":{..}}  an update applied
//   {"op":"activity"|"deal","kind":"lead","id":i,"child":{"id":..,..}}
//   {"op":"webhook","webhook":{"id":..,..}}        a webhook registered
// Id counters are rebuilt from the ids in the lines. Requests that change nothing
// (reads, lookups, refused requests) add only their count line.
//
// Thread-safety: every public method may be called from any thread; one mutex
// guards all state, the journal included, so the journal's order is the order
// the changes were applied.
#ifndef CRMSYNC_PLUGINS_MOCK_CRM_MEMORY_CRM_H_
#define CRMSYNC_PLUGINS_MOCK_CRM_MEMORY_CRM_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "crm_journal.h"
#include "crmsync/http.h"
#include "crmsync/status.h"

namespace crmsync::mockcrm {

class MemoryCrm {
 public:
  MemoryCrm();
  MemoryCrm(const MemoryCrm&) = delete;
  MemoryCrm& operator=(const MemoryCrm&) = delete;

  /// Applies `request` (method, path with query, JSON body) and returns the CRM's
  /// answer: always an HTTP answer (error kNone, request_sent true).
  HttpResponse Handle(const HttpRequest& request);

  /// One user of the CRM (an agent records are assigned to).
  struct User {
    std::string id;
    std::string email;
    std::string platform_id;  ///< The platform's dealer id held on the user; "" for none.
    bool active = true;
  };
  /// Replaces the CRM's users (they come from settings, not the journal).
  void SetUsers(std::vector<User> users);

  /// Counts one request on `route` (shown under "requests" in Dump()).
  void CountRequest(const std::string& route);

  /// Replays the journal at `path` (when it exists) into this CRM, which must
  /// still be empty, then journals every later change there. `key` names the
  /// setting in error messages. kInvalidConfig as CrmJournal::Open() says, or
  /// when the CRM already holds something or has another journal open; calling
  /// it again with the same path does nothing. On error the CRM is emptied.
  Status OpenJournal(const std::string& key, const std::string& path);

  /// The route name of a request by its method and path ("lead.create", ...;
  /// "unknown" when no endpoint matches), for requests that carry no route.
  static std::string RouteOf(const std::string& method, const std::string& path);

  /// Called after every lead or property create or update a request applied
  /// (never on replay, never for refused requests) with the record's kind
  /// ("lead"|"property"), the action ("created"|"updated"), its CRM id and its
  /// fields as now held. Runs with the CRM's lock held, in the order changes are
  /// applied: it must be quick and must not call back into the CRM.
  using ChangeListener =
      std::function<void(const std::string& kind, const std::string& action,
                         const std::string& id, const Poco::JSON::Object::Ptr& fields)>;
  /// Sets the listener; call before the CRM is used from several threads.
  void SetChangeListener(ChangeListener listener) { listener_ = std::move(listener); }

  /// Everything held, as JSON text:
  /// {"leads":[{id, externalReference, ...fields, activities, deals, createCount,
  ///   updateCount}], "properties":[...], "webhooks":[...], "users":[...],
  ///   "requests":{route: n}},
  /// followed by the members of `extra` when given.
  std::string Dump(const Poco::JSON::Object::Ptr& extra = nullptr) const;

 private:
  struct Record {
    std::string id;
    std::string external_reference;
    Poco::JSON::Object::Ptr fields;  // As last sent, merged over updates.
    std::vector<Poco::JSON::Object::Ptr> activities;
    std::vector<Poco::JSON::Object::Ptr> deals;
    int create_count = 0;
    int update_count = 0;
  };

  // One kind of record ("lead" or "property").
  struct Collection {
    std::string kind;
    std::vector<Record> records;                 // In creation order.
    std::map<std::string, size_t> by_id;         // id -> index.
    std::map<std::string, size_t> by_reference;  // externalReference -> index.
  };

  // Handlers; mutex_ is held.
  HttpResponse Create(Collection& collection, const std::string& body);
  HttpResponse Update(Collection& collection, const std::string& id, const std::string& body);
  HttpResponse Read(const Collection& collection, const std::string& id) const;
  HttpResponse Lookup(const Collection& collection, const std::string& query) const;
  HttpResponse List(const Collection& collection, const std::string& query) const;
  HttpResponse AddChild(Collection& collection, const std::string& id, const std::string& child,
                        const std::string& body);
  HttpResponse RegisterWebhook(const std::string& body);
  HttpResponse ListUsers() const;
  Poco::JSON::Array::Ptr UsersJson() const;
  std::string NextId(const std::string& kind);

  // Changes shared by the handlers and the replay; mutex_ is held.
  void ApplyCreate(Collection& collection, const std::string& id,
                   const Poco::JSON::Object::Ptr& fields);
  void ApplyUpdate(Collection& collection, size_t index, const Poco::JSON::Object::Ptr& fields);

  // Appends `entry` to the journal when one is open and returns `answer`; a 500
  // answer instead when the write failed (the change is applied all the same,
  // like a CRM that applied a request and lost the answer). mutex_ is held.
  HttpResponse Journaled(const Poco::JSON::Object::Ptr& entry, HttpResponse answer);

  // Applies one journal line; "" or the reason it makes no sense. mutex_ is held.
  std::string Replay(const Poco::JSON::Object::Ptr& entry);
  // Raises the counter of `kind` to the number at the end of `id`; false when
  // `id` is not "crm_<kind>_<n>". mutex_ is held.
  bool NoteId(const std::string& kind, const std::string& id);
  // Forgets everything held (not the journal). mutex_ is held.
  void Clear();

  mutable std::mutex mutex_;
  Collection leads_;
  Collection properties_;
  std::vector<Poco::JSON::Object::Ptr> webhooks_;
  std::vector<User> users_;
  std::map<std::string, int64_t> next_id_;         // Per id kind.
  std::map<std::string, int64_t> request_counts_;  // Per route.
  CrmJournal journal_;                             // Closed unless OpenJournal().
  ChangeListener listener_;                        // Empty unless SetChangeListener().
};

}  // namespace crmsync::mockcrm

#endif  // CRMSYNC_PLUGINS_MOCK_CRM_MEMORY_CRM_H_
