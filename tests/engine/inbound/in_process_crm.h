// in_process_crm.h: the base of the in-process test plugins of the inbound
// tests: an Adapter that is its own Mapper and Transport, named `name`, whose
// outbound calls are never made (they fail loudly). A test derives and
// overrides the inbound calls it drives (VerifyWebhook, ParseWebhook,
// FetchChange).
//
// Test code; thread-safety is the deriving class's.
#ifndef CRMSYNC_TESTS_ENGINE_INBOUND_IN_PROCESS_CRM_H_
#define CRMSYNC_TESTS_ENGINE_INBOUND_IN_PROCESS_CRM_H_

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crmsync/adapter.h"

namespace crmsync::engine::inbound_test {

class InProcessCrm : public Adapter, public Mapper, public Transport {
 public:
  explicit InProcessCrm(std::string name) : name_(std::move(name)) {}
  PluginInfo Info() const override { return PluginInfo{name_, "1", "", {}}; }
  Status Configure(const PluginConfig&) override { return Status::Ok(); }
  Mapper& mapping() override { return *this; }
  Transport& transport() override { return *this; }
  Status BuildRequest(const SyncJob&, StepKind, HttpRequest*) override {
    return Status::Permanent("not used");
  }
  Status ReadResponse(const SyncJob&, StepKind, const HttpResponse&, StepResult*) override {
    return Status::Permanent("not used");
  }
  Status ParseWebhook(const WebhookDelivery&, std::vector<InboundChange>*) override {
    return Status::Permanent("not used");
  }
  HttpResponse Send(const HttpRequest&) override { throw std::logic_error("not used"); }

 private:
  std::string name_;
};

}  // namespace crmsync::engine::inbound_test

#endif  // CRMSYNC_TESTS_ENGINE_INBOUND_IN_PROCESS_CRM_H_
