// Breaks "classification": reads 401 as retryable, so a revoked key would burn
// every job's attempts instead of disabling sync and alerting.
#include "conformant_adapter.h"

namespace crmsync::testplugins {
class Misclassifies : public ConformantAdapter {
 public:
  Misclassifies() : ConformantAdapter("misclassifies") {}
  Status Classify(const HttpRequest& request, const HttpResponse& response) override {
    if (response.status == 401) return Status::Retryable("HTTP 401: maybe it comes back");
    return Adapter::Classify(request, response);
  }
};
}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::Misclassifies, "misclassifies", "0.0.1")
