// A plugin that throws from its calls: the host must turn each throw into an
// error naming the plugin, never a crash.
#include <stdexcept>

#include "crmsync/prepare.h"
#include "minimal_adapter.h"

namespace crmsync::testplugins {

class ThrowingMapper : public MinimalMapper {
 public:
  Status Plan(const SyncJob&, std::vector<StepKind>*) override {
    throw std::runtime_error("plan exploded");
  }
  Status ParseWebhook(const WebhookDelivery&, std::vector<InboundChange>*) override {
    throw 42;  // not even a std::exception
  }
};

class ThrowingTransport : public Transport, public PreparingTransport {
 public:
  HttpResponse Send(const HttpRequest&) override { throw std::runtime_error("send exploded"); }
  Status Prepare(const HttpRequest&, WireRequest*) override {
    throw std::runtime_error("prepare exploded");
  }
};

class ThrowingAdapter : public MinimalAdapter {
 public:
  ThrowingAdapter() : MinimalAdapter("throwing") {}
  Status Configure(const PluginConfig& config) override {
    if (config.Get("throw_in_configure") == "true") throw std::runtime_error("configure exploded");
    return Status::Ok();
  }
  Mapper& mapping() override { return mapper_; }
  Transport& transport() override { return transport_; }
  std::string Dump() override { throw std::logic_error("dump exploded"); }

 private:
  ThrowingMapper mapper_;
  ThrowingTransport transport_;
};

}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::ThrowingAdapter, "throwing", "0.0.1")
