// Inbound codecs and merge rules; see inbound_codec.h.
#include "sync/inbound_codec.h"

#include <cctype>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include "crmsync/entities_json.h"
#include "queue/store_codec.h"  // Stringify

namespace crmsync::engine {

std::string ChangesToJson(const std::vector<InboundChange>& changes) {
  Poco::JSON::Array::Ptr list = new Poco::JSON::Array();
  for (const InboundChange& c : changes) {
    Poco::JSON::Object::Ptr item = new Poco::JSON::Object();
    item->set("crmEvent", c.crm_event);
    item->set("entityKind", std::string(EntityKindName(c.entity_kind)));
    item->set("externalId", c.external_id);
    item->set("fields", Poco::JSON::Parser().parse(c.fields_json.empty() ? "{}" : c.fields_json));
    if (c.updated_at) item->set("updatedAt", *c.updated_at);
    if (!c.event_ids.empty()) {
      Poco::JSON::Array::Ptr ids = new Poco::JSON::Array();
      for (const std::string& id : c.event_ids) ids->add(id);
      item->set("eventIds", ids);
    }
    if (c.fetch) item->set("fetch", true);
    list->add(item);
  }
  return Stringify(list);
}

std::vector<InboundChange> ChangesFromJson(const std::string& json) {
  std::vector<InboundChange> changes;
  Poco::JSON::Array::Ptr list = Poco::JSON::Parser().parse(json).extract<Poco::JSON::Array::Ptr>();
  for (size_t i = 0; i < list->size(); ++i) {
    Poco::JSON::Object::Ptr item = list->getObject(static_cast<unsigned>(i));
    InboundChange c;
    c.crm_event = item->optValue<std::string>("crmEvent", "");
    ParseEntityKind(item->optValue<std::string>("entityKind", "lead"), &c.entity_kind);
    c.external_id = item->optValue<std::string>("externalId", "");
    c.fields_json = Stringify(item->get("fields"));
    if (item->has("updatedAt")) c.updated_at = item->getValue<std::string>("updatedAt");
    // Rows written before ABI 4.0 have neither: no event ids, nothing to fetch.
    if (Poco::JSON::Array::Ptr ids = item->getArray("eventIds")) {
      for (size_t k = 0; k < ids->size(); ++k) {
        c.event_ids.push_back(ids->getElement<std::string>(static_cast<unsigned>(k)));
      }
    }
    c.fetch = item->optValue<bool>("fetch", false);
    changes.push_back(std::move(c));
  }
  return changes;
}

// Position of a lead status in the funnel (the enum's order).
int FunnelIndex(const std::string& status) {
  LeadStatus s;
  return ParseLeadStatus(status, &s) ? static_cast<int>(s) : -1;
}

// A platform id for a record the CRM knew first: "crm-" + its id, kept to the
// characters and length the wire contract allows.
std::string IdForCrmRecord(const std::string& external_id) {
  std::string id = "crm-";
  for (char c : external_id) {
    id.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
                         c == '-'
                     ? c
                     : '_');
  }
  return id.substr(0, kMaxIdLength);
}

void MergeInboundFields(const Poco::JSON::Object& fields, const InboundRules& rules, bool is_lead,
                        bool created, Poco::JSON::Object* current, Poco::JSON::Object* changed,
                        InboundResult* result) {
  for (const auto& [key, value] : fields) {
    if (key == "id" || key == "updatedAt" || key == "createdAt") continue;
    if (!created && rules.platform_fields.count(key)) {
      result->ignored_fields.push_back(key);
      continue;
    }
    if (!created && is_lead && key == "status" && rules.crm_owns_status_from &&
        FunnelIndex(current->optValue<std::string>("status", "")) <
            static_cast<int>(*rules.crm_owns_status_from)) {
      result->ignored_fields.push_back(key);
      continue;
    }
    if (current->has(key) && Stringify(current->get(key)) == Stringify(value)) continue;
    // An empty list where we hold none (preferredLocation) is no change: CRMs
    // echo an absent list as [].
    if (!current->has(key) && value.type() == typeid(Poco::JSON::Array::Ptr) &&
        value.extract<Poco::JSON::Array::Ptr>()->size() == 0) {
      continue;
    }
    if (value.isEmpty()) {
      if (!current->has(key)) continue;
      current->remove(key);
    } else {
      current->set(key, value);
    }
    changed->set(key, value);
    result->changed_fields.push_back(key);
  }
}

}  // namespace crmsync::engine
