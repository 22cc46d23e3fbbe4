// mock_crm_transport.h: the transport half of mock-crm. No network: each request
// goes through the fault script (fault_script.h), then, unless a fault stops it,
// to the in-memory CRM (memory_crm.h).
//
// Per request, in order: count it on its route (every Send, whatever its fate),
// wait the route's latency (the one real sleep: it simulates CRM latency), take
// the route's next fault and act on it.
//
// Thread-safety: Send() may be called from any number of threads; the CRM and
// the script lock their own state.
#ifndef CRMSYNC_PLUGINS_MOCK_CRM_MOCK_CRM_TRANSPORT_H_
#define CRMSYNC_PLUGINS_MOCK_CRM_MOCK_CRM_TRANSPORT_H_

#include "crmsync/adapter.h"
#include "crmsync/prepare.h"
#include "fault_script.h"
#include "memory_crm.h"

namespace crmsync::mockcrm {

class MockCrmTransport : public Transport, public PreparingTransport {
 public:
  /// Neither is owned; both must outlive the transport.
  MockCrmTransport(MemoryCrm* crm, FaultScript* faults) : crm_(crm), faults_(faults) {}

  /// The route is request.route, or MemoryCrm::RouteOf() when that is empty.
  /// Never throws: an unexpected exception becomes a 500 answer.
  HttpResponse Send(const HttpRequest& request) override;

  /// The request unchanged, at "mock-crm:" + path: this transport adds no
  /// header and nothing leaves the process (crmsync/prepare.h).
  Status Prepare(const HttpRequest& request, WireRequest* out) override;

 private:
  MemoryCrm* const crm_;
  FaultScript* const faults_;
};

}  // namespace crmsync::mockcrm

#endif  // CRMSYNC_PLUGINS_MOCK_CRM_MOCK_CRM_TRANSPORT_H_
