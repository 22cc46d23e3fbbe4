// A minimal adapter shared by the broken test plugins: maps nothing useful,
// sends nothing; each broken plugin changes one thing about it.
#ifndef CRMSYNC_TESTS_PLUGINS_BROKEN_MINIMAL_ADAPTER_H_
#define CRMSYNC_TESTS_PLUGINS_BROKEN_MINIMAL_ADAPTER_H_

#include "crmsync/crmsync.h"

namespace crmsync::testplugins {

class MinimalMapper : public Mapper {
 public:
  Status BuildRequest(const SyncJob& job, StepKind step, HttpRequest* out) override {
    out->method = step == StepKind::kCreate ? "POST" : "PUT";
    out->path = "/records/" + job.entity_id;
    out->route = std::string("lead.") + StepKindName(step);
    return Status::Ok();
  }
  Status ReadResponse(const SyncJob& job, StepKind, const HttpResponse&, StepResult* out) override {
    out->external_id = "ext-" + job.entity_id;
    return Status::Ok();
  }
  Status ParseWebhook(const WebhookDelivery&, std::vector<InboundChange>*) override {
    return Status::Ok();
  }
};

class MinimalTransport : public Transport {
 public:
  HttpResponse Send(const HttpRequest&) override {
    HttpResponse r;
    r.status = 200;
    r.request_sent = true;
    return r;
  }
};

class MinimalAdapter : public Adapter {
 public:
  explicit MinimalAdapter(std::string name = "good_plugin") : name_(std::move(name)) {}
  PluginInfo Info() const override {
    PluginInfo info;
    info.name = name_;
    info.version = "0.0.1";
    info.description = "test plugin";
    return info;
  }
  Status Configure(const PluginConfig&) override { return Status::Ok(); }
  Mapper& mapping() override { return mapper_; }
  Transport& transport() override { return transport_; }

 private:
  std::string name_;
  MinimalMapper mapper_;
  MinimalTransport transport_;
};

}  // namespace crmsync::testplugins

#endif  // CRMSYNC_TESTS_PLUGINS_BROKEN_MINIMAL_ADAPTER_H_
