// A CRM that answers a create with 2xx but no id, and finds the record by
// reference afterwards: the engine must look it up rather than create again.
#include <atomic>

#include "minimal_adapter.h"

namespace crmsync::testplugins {

std::atomic<int> creates{0};
std::atomic<int> lookups{0};
std::atomic<int> updates{0};

class NoIdMapper : public MinimalMapper {
 public:
  Status ReadResponse(const SyncJob& job, StepKind step, const HttpResponse&,
                      StepResult* out) override {
    if (step == StepKind::kCreate) return Status::Ok();  // created, but no id given
    out->external_id = job.external_id;
    return Status::Ok();
  }
  Status BuildLookup(const SyncJob& job, HttpRequest* out) override {
    out->method = "GET";
    out->path = "/records?ref=" + job.external_reference;
    out->route = "lead.lookup";
    return Status::Ok();
  }
  Status ReadLookup(const SyncJob& job, const HttpResponse&,
                    std::optional<std::string>* external_id) override {
    *external_id = "found-" + job.entity_id;
    return Status::Ok();
  }
};

class CountingTransport : public Transport {
 public:
  HttpResponse Send(const HttpRequest& request) override {
    if (request.route == "lead.create") ++creates;
    if (request.route == "lead.lookup") ++lookups;
    if (request.route == "lead.update") ++updates;
    HttpResponse r;
    r.status = 200;
    r.request_sent = true;
    return r;
  }
};

class NoIdAdapter : public MinimalAdapter {
 public:
  NoIdAdapter() : MinimalAdapter("no_id_plugin") {}
  PluginInfo Info() const override {
    PluginInfo info = MinimalAdapter::Info();
    info.capabilities.lookup_by_reference = true;
    return info;
  }
  Mapper& mapping() override { return mapper_; }
  Transport& transport() override { return transport_; }
  std::string Dump() override {
    return "{\"creates\":" + std::to_string(creates.load()) +
           ",\"lookups\":" + std::to_string(lookups.load()) +
           ",\"updates\":" + std::to_string(updates.load()) + "}";
  }

 private:
  NoIdMapper mapper_;
  CountingTransport transport_;
};

}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::NoIdAdapter, "no_id_plugin", "0.0.1")
