// Exception guards around every plugin call; see guarded_adapter.h.
#include "plugin_host/guarded_adapter.h"

#include <exception>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "crmsync/redact.h"

namespace crmsync::engine {
namespace {

// `status` with its message masked: a plugin's message may quote the CRM (or
// an exception's what()) with personal data or secrets in it, and the engine
// logs and stores every message it gets. Masking here covers third-party
// plugins that classify on their own, not only DefaultClassify().
Status Masked(const Status& status) {
  if (status.message().empty()) return status;
  return Status(status.code(), MaskSensitive(status.message()), status.retry_after_ms());
}

}  // namespace

std::string GuardedAdapter::ThrewMessage(const char* call, const char* what) const {
  return "plugin '" + name_ + "' threw in " + call + ": " + what;
}

template <typename F>
Status GuardedAdapter::Guard(const char* call, F&& f) {
  try {
    return Masked(f());
  } catch (const std::exception& e) {
    exceptions_.fetch_add(1);
    return Masked(Status::Internal(ThrewMessage(call, e.what())));
  } catch (...) {
    exceptions_.fetch_add(1);
    return Status::Internal(ThrewMessage(call, "an exception that is not a std::exception"));
  }
}

PluginInfo GuardedAdapter::Info(std::string* error) {
  PluginInfo info;
  Status s = Guard("Info", [&] {
    info = adapter_->Info();
    return Status::Ok();
  });
  if (!s.ok()) {
    info = PluginInfo();
    info.name = name_;
    if (error) *error = s.message();
  }
  return info;
}

Status GuardedAdapter::Attach(PluginHost* host) {
  return Guard("Attach", [&] {
    adapter_->Attach(host);
    return Status::Ok();
  });
}

Status GuardedAdapter::Configure(const PluginConfig& config) {
  return Guard("Configure", [&] { return adapter_->Configure(config); });
}

Status GuardedAdapter::Plan(const SyncJob& job, std::vector<StepKind>* steps) {
  return Guard("Plan", [&] { return adapter_->mapping().Plan(job, steps); });
}

Status GuardedAdapter::BuildRequest(const SyncJob& job, StepKind step, HttpRequest* out) {
  return Guard("BuildRequest", [&] { return adapter_->mapping().BuildRequest(job, step, out); });
}

Status GuardedAdapter::ReadResponse(const SyncJob& job, StepKind step, const HttpResponse& response,
                                    StepResult* out) {
  return Guard("ReadResponse",
               [&] { return adapter_->mapping().ReadResponse(job, step, response, out); });
}

Status GuardedAdapter::BuildLookup(const SyncJob& job, HttpRequest* out) {
  return Guard("BuildLookup", [&] { return adapter_->mapping().BuildLookup(job, out); });
}

Status GuardedAdapter::ReadLookup(const SyncJob& job, const HttpResponse& response,
                                  std::optional<std::string>* external_id) {
  return Guard("ReadLookup",
               [&] { return adapter_->mapping().ReadLookup(job, response, external_id); });
}

Status GuardedAdapter::BuildBatch(const std::vector<SyncJob>& jobs, StepKind step,
                                  HttpRequest* out) {
  return Guard("BuildBatch", [&] { return adapter_->mapping().BuildBatch(jobs, step, out); });
}

Status GuardedAdapter::ReadBatch(const std::vector<SyncJob>& jobs, StepKind step,
                                 const HttpResponse& response, std::vector<Status>* statuses,
                                 std::vector<StepResult>* results) {
  return Guard("ReadBatch", [&] {
    Status status = adapter_->mapping().ReadBatch(jobs, step, response, statuses, results);
    if (statuses != nullptr) {
      for (Status& item : *statuses) item = Masked(item);
    }
    return status;
  });
}

Status GuardedAdapter::ParseWebhook(const WebhookDelivery& delivery,
                                    std::vector<InboundChange>* changes) {
  return Guard("ParseWebhook", [&] { return adapter_->mapping().ParseWebhook(delivery, changes); });
}

Status GuardedAdapter::BuildWebhookRegistration(const WebhookRegistration& registration,
                                                HttpRequest* out) {
  return Guard("BuildWebhookRegistration", [&] {
    return adapter_->mapping().BuildWebhookRegistration(registration, out);
  });
}

HttpResponse GuardedAdapter::Send(const HttpRequest& request) {
  HttpResponse response;
  Status s = Guard("Send", [&] {
    response = adapter_->transport().Send(request);
    return Status::Ok();
  });
  if (!s.ok()) {
    response = HttpResponse();
    response.error = TransportError::kIo;
    response.error_message = s.message();
    response.request_sent = true;
  }
  return response;
}

Status GuardedAdapter::Prepare(const HttpRequest& request, WireRequest* out, bool* supported) {
  *supported = false;
  return Guard("Prepare", [&] {
    PreparingTransport* preparing = AsPreparing(&adapter_->transport());
    if (preparing == nullptr) return Status::Ok();
    *supported = true;
    return preparing->Prepare(request, out);
  });
}

Status GuardedAdapter::Classify(const HttpRequest& request, const HttpResponse& response) {
  return Guard("Classify", [&] { return adapter_->Classify(request, response); });
}

Status GuardedAdapter::VerifyWebhook(const WebhookDelivery& delivery) {
  return Guard("VerifyWebhook", [&] { return adapter_->VerifyWebhook(delivery); });
}

Status GuardedAdapter::FetchChange(InboundChange* change) {
  return Guard("FetchChange", [&] { return adapter_->FetchChange(change); });
}

Status GuardedAdapter::PollChanges(const PollRequest& request, PollPage* page) {
  return Guard("PollChanges", [&] { return adapter_->PollChanges(request, page); });
}

Status GuardedAdapter::ListUsers(std::vector<CrmUser>* users) {
  return Guard("ListUsers", [&] { return adapter_->ListUsers(users); });
}

bool GuardedAdapter::ReadsRecords() { return AsRecordReader(adapter_) != nullptr; }

Status GuardedAdapter::ListRecords(const RecordListRequest& request, RecordListPage* page) {
  RecordReader* reader = AsRecordReader(adapter_);
  if (!reader) return Status::NotFound("plugin " + name_ + " does not read records back");
  return Guard("ListRecords", [&] { return reader->ListRecords(request, page); });
}

Status GuardedAdapter::ReadRecord(EntityKind kind, const std::string& external_id,
                                  CrmRecord* record) {
  RecordReader* reader = AsRecordReader(adapter_);
  if (!reader) return Status::NotFound("plugin " + name_ + " does not read records back");
  return Guard("ReadRecord", [&] { return reader->ReadRecord(kind, external_id, record); });
}

std::string GuardedAdapter::Dump() {
  std::string dump = "{}";
  Guard("Dump", [&] {
    dump = adapter_->Dump();
    return Status::Ok();
  });
  return dump;
}

Poco::JSON::Object::Ptr GuardedAdapter::DumpObject() {
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(Dump());
    if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
      return parsed.extract<Poco::JSON::Object::Ptr>();
    }
  } catch (const std::exception&) {
    // A Dump() that is not JSON says nothing the engine reads.
  }
  return nullptr;
}

std::vector<std::string> GuardedAdapter::Warnings() {
  std::vector<std::string> warnings;
  Poco::JSON::Object::Ptr dump = DumpObject();
  Poco::JSON::Array::Ptr list = dump ? dump->getArray("warnings") : nullptr;
  if (!list) return warnings;
  for (unsigned int i = 0; i < list->size(); ++i) {
    if (list->get(i).isString()) warnings.push_back(list->get(i).extract<std::string>());
  }
  return warnings;
}

bool GuardedAdapter::BudgetHeaders(std::vector<RateLimitHeaders>* out, std::string* error) {
  out->clear();
  Poco::JSON::Object::Ptr dump = DumpObject();
  if (!dump || !dump->has("rateLimitHeaders")) {
    *out = DefaultRateLimitHeaders();
    return true;
  }
  const Poco::Dynamic::Var value = dump->get("rateLimitHeaders");
  std::vector<std::pair<std::string, Poco::Dynamic::Var>> sets;  // (where, the set)
  if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
    Poco::JSON::Array::Ptr list = value.extract<Poco::JSON::Array::Ptr>();
    for (unsigned int i = 0; i < list->size(); ++i) {
      sets.emplace_back("rateLimitHeaders/" + std::to_string(i), list->get(i));
    }
  } else {
    sets.emplace_back("rateLimitHeaders", value);
  }
  std::string problems;
  for (const auto& [where, set] : sets) {
    std::ostringstream json;
    try {
      Poco::JSON::Stringifier::stringify(set, json);
    } catch (const std::exception&) {
      json.str("");  // read as "not valid JSON" below
    }
    RateLimitHeaders parsed;
    std::vector<std::pair<std::string, std::string>> found;
    if (ParseRateLimitHeaders(json.str(), &parsed, &found)) {
      out->push_back(parsed);
      continue;
    }
    for (const auto& [key, reason] : found) {
      problems += (problems.empty() ? "" : "; ") + where + (key.empty() ? "" : "/" + key) + ": " +
                  reason;
    }
  }
  if (problems.empty()) {
    out->insert(out->end(), DefaultRateLimitHeaders().begin(), DefaultRateLimitHeaders().end());
    return true;
  }
  out->clear();
  *error = "plugin '" + name_ + "' names its CRM's budget headers in Dump() wrongly: " + problems;
  return false;
}

}  // namespace crmsync::engine
