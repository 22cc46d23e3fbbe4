// A batching test plugin: max_batch_size 5; records every request; an item
// whose lead name is "reject me" is refused (422) inside a batch, "flaky"
// fails once (503) as a batch item, "no id" gets a result without an id the
// first time (kPermanent, as generic-rest-crm says it), "unmatched" gets no result the first time
// (as when the CRM's answer does not echo the reference). Lookups by reference
// (GET /records?ref=<id>) find nothing. Used to test the engine's batching.
#include <atomic>
#include <mutex>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "minimal_adapter.h"

namespace crmsync::testplugins {

class BatchMapper : public MinimalMapper {
 public:
  Status BuildBatch(const std::vector<SyncJob>& jobs, StepKind step, HttpRequest* out) override {
    out->method = "POST";
    out->path = std::string("/batch/") + StepKindName(step);
    out->route = std::string("lead.batch_") + StepKindName(step);
    std::string body;
    for (const SyncJob& job : jobs) {
      if (!body.empty()) body += "\n";
      body += job.entity_id + "|" + job.lead->name.value_or("");
    }
    out->body = body;
    return Status::Ok();
  }
  Status ReadBatch(const std::vector<SyncJob>& jobs, StepKind, const HttpResponse&,
                   std::vector<Status>* statuses, std::vector<StepResult>* results) override {
    statuses->clear();
    results->clear();
    for (const SyncJob& job : jobs) {
      StepResult result;
      std::string name = job.lead->name.value_or("");
      if (name == "reject me") {
        statuses->push_back(Status::InvalidRecord("HTTP 422: name is not acceptable"));
      } else if (name == "flaky" && job.attempt == 1) {
        statuses->push_back(Status::Retryable("HTTP 503: try again"));
      } else if (name == "no id" && job.attempt == 1) {
        statuses->push_back(Status::Permanent("the batch result of this item has no id at /id"));
      } else if (name == "unmatched" && job.attempt == 1) {
        statuses->push_back(Status::Retryable("the CRM's answer has no result for this item"));
      } else {
        statuses->push_back(Status::Ok());
        result.external_id = job.external_id.value_or("batch-" + job.entity_id);
      }
      results->push_back(result);
    }
    return Status::Ok();
  }
  Status BuildLookup(const SyncJob& job, HttpRequest* out) override {
    out->method = "GET";
    out->path = "/records?ref=" + job.entity_id;
    out->route = "lead.lookup";
    return Status::Ok();
  }
  Status ReadLookup(const SyncJob&, const HttpResponse&,
                    std::optional<std::string>* external_id) override {
    external_id->reset();  // never found: the transport keeps no records
    return Status::Ok();
  }
};

class BatchTransport : public Transport {
 public:
  HttpResponse Send(const HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(request.method + " " + request.path + " " + request.body);
    HttpResponse r;
    r.status = 200;
    r.request_sent = true;
    return r;
  }
  std::string Log() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string all;
    for (const auto& line : log_) all += line + "\n--\n";
    return all;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> log_;
};

class BatchAdapter : public MinimalAdapter {
 public:
  BatchAdapter() : MinimalAdapter("batch_plugin") {}
  PluginInfo Info() const override {
    PluginInfo info = MinimalAdapter::Info();
    info.capabilities.max_batch_size = 5;
    info.capabilities.lookup_by_reference = true;
    return info;
  }
  Mapper& mapping() override { return mapper_; }
  Transport& transport() override { return transport_; }
  std::string Dump() override { return transport_.Log(); }

 private:
  BatchMapper mapper_;
  BatchTransport transport_;
};

}  // namespace crmsync::testplugins

CRMSYNC_PLUGIN(crmsync::testplugins::BatchAdapter, "batch_plugin", "0.0.1")
