// A small adapter that passes every check of `crmsync plugin-check`: the base
// of the conformance test plugins, each of which breaks exactly one rule (see
// its file). Speaks a tiny JSON API: /records/leads and /records/properties,
// status words "new" ... "won" "lost", webhooks in the reference shape.
// Configure() needs api_url and checks timeout_ms.
#ifndef CRMSYNC_TESTS_PLUGINS_BROKEN_CONFORMANT_ADAPTER_H_
#define CRMSYNC_TESTS_PLUGINS_BROKEN_CONFORMANT_ADAPTER_H_

#include <cctype>
#include <sstream>
#include <string>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "crmsync/crmsync.h"

namespace crmsync::testplugins {

inline std::string CrmWord(LeadStatus status) {
  if (status == LeadStatus::kConverted) return "won";
  std::string word = LeadStatusName(status);
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return word;
}

inline bool PlatformStatus(const std::string& word, LeadStatus* out) {
  for (LeadStatus status : AllLeadStatuses()) {
    if (CrmWord(status) == word) {
      *out = status;
      return true;
    }
  }
  return false;
}

inline std::string Stringify(const Poco::JSON::Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

class ConformantMapper : public Mapper {
 public:
  Status BuildRequest(const SyncJob& job, StepKind step, HttpRequest* out) override {
    const bool lead = job.entity_kind == EntityKind::kLead;
    const std::string base = lead ? "/records/leads" : "/records/properties";
    if (step != StepKind::kCreate && !job.external_id) {
      return Status::Permanent(std::string(StepKindName(step)) + " needs an external id");
    }
    Poco::JSON::Object body;
    body.set("ref", job.external_reference);
    if (lead && job.lead) {
      body.set("name", job.lead->name.value_or(""));
      if (job.lead->status) body.set("status", CrmWord(*job.lead->status));
    } else if (job.property) {
      body.set("title", job.property->title.value_or(""));
      if (job.property->status) body.set("state", PropertyStatusName(*job.property->status));
    }
    switch (step) {
      case StepKind::kCreate:
        out->method = "POST";
        out->path = base;
        break;
      case StepKind::kUpdate:
        out->method = "PUT";
        out->path = base + "/" + *job.external_id;
        break;
      case StepKind::kActivity:
        out->method = "POST";
        out->path = base + "/" + *job.external_id + "/activities";
        break;
      case StepKind::kDeal:
        out->method = "POST";
        out->path = base + "/" + *job.external_id + "/deals";
        break;
    }
    out->body = Stringify(body);
    out->route = std::string(lead ? "lead." : "property.") + StepKindName(step);
    return Status::Ok();
  }

  Status ReadResponse(const SyncJob&, StepKind step, const HttpResponse& response,
                      StepResult* out) override {
    try {
      auto object = Poco::JSON::Parser().parse(response.body).extract<Poco::JSON::Object::Ptr>();
      if (object->has("id")) out->external_id = object->getValue<std::string>("id");
    } catch (const Poco::Exception&) {
    }
    if (step == StepKind::kCreate && !out->external_id) {
      return Status::Permanent("create answer has no id");
    }
    return Status::Ok();
  }

  Status ParseWebhook(const WebhookDelivery& delivery,
                      std::vector<InboundChange>* changes) override {
    Poco::JSON::Object::Ptr body;
    try {
      body = Poco::JSON::Parser().parse(delivery.body).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
      return Status::InvalidRecord("webhook body is not a JSON object");
    } catch (const std::exception&) {
      return Status::InvalidRecord("webhook body is not a JSON object");
    }
    std::string event = body->optValue<std::string>("event", "");
    if (event != "lead.updated" && event != "lead.created") return Status::Ok();
    InboundChange change;
    change.crm_event = event;
    change.entity_kind = EntityKind::kLead;
    change.external_id = body->optValue<std::string>("entityId", "");
    if (change.external_id.empty()) return Status::InvalidRecord("webhook has no entityId");
    Poco::JSON::Object fields;
    Poco::JSON::Object::Ptr data = body->getObject("data");
    if (data && data->has("status")) {
      LeadStatus status;
      if (!PlatformStatus(data->getValue<std::string>("status"), &status)) {
        return Status::InvalidRecord("unknown status in webhook");
      }
      fields.set("status", std::string(InboundStatusName(status)));
    }
    if (data && data->has("notes")) fields.set("notes", data->getValue<std::string>("notes"));
    change.fields_json = Stringify(fields);
    changes->push_back(change);
    return Status::Ok();
  }

  /// The platform status a CRM word maps back to; tests override it to break
  /// the round trip.
  virtual const char* InboundStatusName(LeadStatus status) { return LeadStatusName(status); }
};

class ConformantTransport : public Transport {
 public:
  HttpResponse Send(const HttpRequest&) override {
    HttpResponse r;
    r.status = 201;
    r.body = "{\"id\":\"rec-1\"}";
    r.request_sent = true;
    return r;
  }
};

class ConformantAdapter : public Adapter {
 public:
  explicit ConformantAdapter(std::string name) : name_(std::move(name)) {}
  PluginInfo Info() const override {
    PluginInfo info;
    info.name = name_;
    info.version = "0.0.1";
    info.description = "conformance test plugin";
    return info;
  }
  Status Configure(const PluginConfig& config) override {
    if (config.Get("api_url").empty()) return Status::InvalidConfig("api_url: required, not set");
    int64_t timeout_ms = 0;
    bool present = false;
    if (!config.GetInt("timeout_ms", &timeout_ms, &present) && present) {
      return Status::InvalidConfig("timeout_ms: must be a whole number");
    }
    return Status::Ok();
  }
  Mapper& mapping() override { return mapper_; }
  Transport& transport() override { return transport_; }

 protected:
  std::string name_;
  ConformantMapper mapper_;
  ConformantTransport transport_;
};

}  // namespace crmsync::testplugins

#endif  // CRMSYNC_TESTS_PLUGINS_BROKEN_CONFORMANT_ADAPTER_H_
