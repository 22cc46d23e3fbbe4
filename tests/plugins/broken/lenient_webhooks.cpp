// Breaks "webhook parse and verification": a malformed webhook body is
// accepted as "nothing to do" instead of refused (the engine would answer 2xx
// to garbage), and VerifyWebhook answers with a code outside its contract.
#include "conformant_adapter.h"

namespace crmsync::testplugins {
class LenientMapper : public ConformantMapper {
 public:
  Status ParseWebhook(const WebhookDelivery& delivery,
                      std::vector<InboundChange>* changes) override {
    Status s = ConformantMapper::ParseWebhook(delivery, changes);
    if (s.code() == StatusCode::kInvalidRecord) return Status::Ok();
    return s;
  }
};

class LenientWebhooks : public ConformantAdapter {
 public:
  LenientWebhooks() : ConformantAdapter("lenient_webhooks") {}
  Mapper& mapping() override { return mapper_; }
  Status VerifyWebhook(const WebhookDelivery&) override {
    return Status::Permanent("signature scheme not configured");
  }

 private:
  LenientMapper mapper_;
};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::LenientWebhooks, "lenient_webhooks", "0.0.1")
