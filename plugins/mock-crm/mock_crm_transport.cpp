// The mock CRM transport: fault script, latency, then the in-memory CRM; see
// mock_crm_transport.h.
#include "mock_crm_transport.h"

#include <chrono>
#include <exception>
#include <thread>

#include "json_util.h"

namespace crmsync::mockcrm {
namespace {

HttpResponse TransportFailure(TransportError error, bool request_sent, const std::string& message) {
  HttpResponse response;
  response.error = error;
  response.request_sent = request_sent;
  response.error_message = message;
  return response;
}

HttpResponse ScriptedStatus(const Fault& fault, const std::string& route) {
  HttpResponse response;
  response.status = fault.status;
  response.request_sent = true;
  response.headers.emplace_back("Content-Type", "application/json");
  if (fault.retry_after_s >= 0) {
    response.headers.emplace_back("Retry-After", std::to_string(fault.retry_after_s));
  }
  response.body =
      MessageBody("mock-crm: scripted " + std::to_string(fault.status) + " on " + route);
  return response;
}

}  // namespace

HttpResponse MockCrmTransport::Send(const HttpRequest& request) {
  try {
    const std::string route =
        request.route.empty() ? MemoryCrm::RouteOf(request.method, request.path) : request.route;
    crm_->CountRequest(route);
    const int64_t latency_ms = faults_->LatencyMs(route);
    if (latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(latency_ms));

    const Fault fault = faults_->Next(route);
    switch (fault.kind) {
      case Fault::Kind::kPass:
        return crm_->Handle(request);
      case Fault::Kind::kStatus:
        return ScriptedStatus(fault, route);
      case Fault::Kind::kTimeout:
        crm_->Handle(request);
        return TransportFailure(TransportError::kTimeout, true,
                                "mock-crm: scripted timeout after the request was applied");
      case Fault::Kind::kDrop:
        return TransportFailure(TransportError::kTimeout, true,
                                "mock-crm: scripted timeout, request dropped");
      case Fault::Kind::kConnect:
        return TransportFailure(TransportError::kConnect, false,
                                "mock-crm: scripted connection refused");
      case Fault::Kind::kReset:
        return TransportFailure(TransportError::kIo, true, "mock-crm: scripted connection reset");
    }
  } catch (const std::exception&) {
    // Falls through to the answer below.
  }
  HttpResponse response;
  response.status = 500;
  response.request_sent = true;
  response.body = MessageBody("mock-crm: internal error");
  return response;
}

Status MockCrmTransport::Prepare(const HttpRequest& request, WireRequest* out) {
  out->method = request.method;
  out->url = "mock-crm:" + request.path;
  out->headers = request.headers;
  if (!request.body.empty() && !request.content_type.empty() &&
      FindHeader(request.headers, "Content-Type").empty()) {
    out->headers.emplace_back("Content-Type", request.content_type);
  }
  out->body = request.body;
  return Status::Ok();
}

}  // namespace crmsync::mockcrm
