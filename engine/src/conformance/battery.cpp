// The checks against a configured plugin; see battery.h.
#include "conformance/battery.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "conformance/fixtures.h"

namespace crmsync::engine::conformance {
namespace {

CheckResult Result(const char* name, Verdict verdict, std::string reason) {
  return CheckResult{name, verdict, std::move(reason)};
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string JobLabel(const SyncJob& job) {
  std::string label = EventTypeName(job.event_type);
  if (job.lead && job.lead->status) label += std::string(" ") + LeadStatusName(*job.lead->status);
  if (job.property && job.property->status) {
    label += std::string(" ") + PropertyStatusName(*job.property->status);
  }
  label += job.external_id ? " (linked)" : " (not linked)";
  return label;
}

// The "status" field of an InboundChange's fields_json, or "" when absent.
std::string ChangedStatus(const InboundChange& change) {
  try {
    Poco::JSON::Object::Ptr fields =
        Poco::JSON::Parser().parse(change.fields_json).extract<Poco::JSON::Object::Ptr>();
    if (!fields || !fields->has("status") || fields->isNull("status")) return "";
    return fields->get("status").toString();
  } catch (const Poco::Exception&) {
    return "";
  } catch (const std::exception&) {
    return "";
  }
}

bool KnownMethod(const std::string& method) {
  static const std::set<std::string> methods = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
  return methods.count(method) != 0;
}

}  // namespace

Status BatteryContext::Note(Status s) const {
  if (s.code() == StatusCode::kInternal && s.message().find(" threw in ") != std::string::npos &&
      thrown != nullptr) {
    thrown->push_back(s.message());
  }
  return s;
}

std::string Problems::Summary(size_t max_items) const {
  std::string out;
  for (size_t i = 0; i < items_.size() && i < max_items; ++i) {
    if (i > 0) out += "; ";
    out += items_[i];
  }
  if (items_.size() > max_items) {
    out += "; and " + std::to_string(items_.size() - max_items) + " more";
  }
  return out;
}

std::string RequestProblem(const HttpRequest& request) {
  if (!KnownMethod(request.method)) return "method '" + request.method + "' is not an HTTP method";
  if (request.path.empty() || request.path[0] != '/') {
    return "path '" + request.path + "' does not start with '/'";
  }
  if (!request.body.empty() && Lower(request.content_type).find("json") != std::string::npos) {
    try {
      Poco::JSON::Parser().parse(request.body);
    } catch (const Poco::Exception& e) {
      return "body is not the JSON its content type (" + request.content_type + ") says";
    }
  }
  return "";
}

CheckResult CheckMapsEvents(const BatteryContext& context) {
  GuardedAdapter& a = *context.adapter;
  Problems problems;
  int jobs = 0;
  int requests = 0;
  for (const SyncJob& job : AllSampleJobs()) {
    ++jobs;
    const std::string label = JobLabel(job);
    std::vector<StepKind> steps;
    Status s = context.Note(a.Plan(job, &steps));
    if (!s.ok()) {
      problems.Add(label + ": Plan: " + s.ToString());
      continue;
    }
    if (steps.empty()) {
      problems.Add(label + ": Plan gave no step (the engine dead-letters such a job)");
      continue;
    }
    SyncJob current = job;
    for (StepKind step : steps) {
      HttpRequest request;
      s = context.Note(a.BuildRequest(current, step, &request));
      if (!s.ok()) {
        problems.Add(label + ": BuildRequest(" + StepKindName(step) + "): " + s.ToString());
        break;
      }
      std::string problem = RequestProblem(request);
      if (!problem.empty()) {
        problems.Add(label + ": BuildRequest(" + StepKindName(step) + "): " + problem);
        break;
      }
      ++requests;
      // The engine links the CRM's id after a create; later steps see it.
      if (step == StepKind::kCreate) current.external_id = kExternalId;
    }
  }
  std::string lookup = "";
  if (context.capabilities.lookup_by_reference) {
    SyncJob job =
        SampleJob(EventType::kLeadCreated, LeadStatus::kNew, PropertyStatus::kActive, std::nullopt);
    HttpRequest request;
    Status s = context.Note(a.BuildLookup(job, &request));
    if (!s.ok()) {
      problems.Add("lookup_by_reference is declared but BuildLookup: " + s.ToString());
    } else if (std::string problem = RequestProblem(request); !problem.empty()) {
      problems.Add("BuildLookup: " + problem);
    } else {
      lookup = "; lookup by reference: " + request.method + " " + request.path;
    }
  }
  if (!problems.empty()) {
    return Result(kCheckMapsEvents, Verdict::kFail,
                  std::to_string(problems.size()) + " problem(s): " + problems.Summary());
  }
  return Result(kCheckMapsEvents, Verdict::kPass,
                std::to_string(jobs) +
                    " jobs (every event type x every status, linked and not) "
                    "planned and mapped into " +
                    std::to_string(requests) + " requests without network" + lookup);
}

CheckResult CheckStatusTable(const BatteryContext& context) {
  GuardedAdapter& a = *context.adapter;
  const std::vector<LeadStatus>& statuses = AllLeadStatuses();
  // Outbound: the update body for each status, flattened.
  std::vector<std::map<std::string, std::string>> bodies;
  for (LeadStatus status : statuses) {
    SyncJob job = SampleJob(EventType::kLeadStatusChanged, status, PropertyStatus::kActive,
                            std::string(kExternalId));
    HttpRequest request;
    Status s = context.Note(a.BuildRequest(job, StepKind::kUpdate, &request));
    if (!s.ok()) {
      return Result(kCheckStatusTable, Verdict::kFail,
                    std::string("BuildRequest(update) for a lead in ") + LeadStatusName(status) +
                        ": " + s.ToString());
    }
    if (request.body.empty()) {
      return Result(kCheckStatusTable, Verdict::kFail,
                    std::string("the update request for a lead in ") + LeadStatusName(status) +
                        " has no body: the CRM never learns the status");
    }
    std::map<std::string, std::string> leaves;
    if (!FlattenJson(request.body, &leaves)) {
      return Result(kCheckStatusTable, Verdict::kSkip,
                    "the lead update body is not JSON, so the CRM value of each status is not "
                    "observable; test the status table in the plugin's own unit tests");
    }
    bodies.push_back(std::move(leaves));
  }
  // The field that carries the status: present for every status, never empty,
  // changing with the status; the one with the most distinct values wins, then
  // one named like a status.
  std::string pointer;
  size_t best_distinct = 0;
  bool best_named = false;
  for (const auto& [candidate, first_value] : bodies[0]) {
    std::set<std::string> values;
    bool everywhere = true;
    for (const auto& body : bodies) {
      auto it = body.find(candidate);
      if (it == body.end() || it->second.empty() || it->second == "null") {
        everywhere = false;
        break;
      }
      values.insert(it->second);
    }
    if (!everywhere || values.size() < 2) continue;
    std::string lower = Lower(candidate);
    bool named =
        lower.find("status") != std::string::npos || lower.find("stage") != std::string::npos;
    if (values.size() > best_distinct || (values.size() == best_distinct && named && !best_named)) {
      pointer = candidate;
      best_distinct = values.size();
      best_named = named;
    }
  }
  if (pointer.empty()) {
    return Result(kCheckStatusTable, Verdict::kFail,
                  "no field of the lead update body changes with the lead status: the CRM never "
                  "learns the status");
  }
  Problems problems;
  std::map<std::string, std::string> first_status_of_value;
  for (size_t i = 0; i < statuses.size(); ++i) {
    const std::string& value = bodies[i].at(pointer);
    auto [it, inserted] = first_status_of_value.emplace(value, LeadStatusName(statuses[i]));
    if (!inserted) {
      problems.Add(std::string(LeadStatusName(statuses[i])) + " and " + it->second +
                   " both map to '" + value + "' at " + pointer);
    }
  }
  std::string table;
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (i > 0) table += " ";
    table += std::string(LeadStatusName(statuses[i])) + "=" + bodies[i].at(pointer);
  }
  // Inbound: a reference-shaped webhook carrying each value, at the same place.
  int no_change = 0;
  int no_status = 0;
  for (size_t i = 0; i < statuses.size(); ++i) {
    const std::string& value = bodies[i].at(pointer);
    WebhookDelivery delivery =
        ReferenceWebhook("lead.updated", kExternalId, JsonAtPointer(pointer, value));
    std::vector<InboundChange> changes;
    Status s = context.Note(a.ParseWebhook(delivery, &changes));
    if (!s.ok()) {
      problems.Add("a lead.updated webhook with " + pointer + "='" + value +
                   "': ParseWebhook: " + s.ToString());
      continue;
    }
    if (changes.empty()) {
      ++no_change;
      continue;
    }
    std::string back = ChangedStatus(changes[0]);
    if (back.empty()) {
      ++no_status;
      continue;
    }
    if (back != LeadStatusName(statuses[i])) {
      problems.Add("'" + value + "' (sent for " + LeadStatusName(statuses[i]) + ") comes back as " +
                   back);
    }
  }
  const int total = static_cast<int>(statuses.size());
  if (!problems.empty()) {
    return Result(kCheckStatusTable, Verdict::kFail, problems.Summary(4));
  }
  if (no_change == total) {
    return Result(kCheckStatusTable, Verdict::kSkip,
                  "outbound complete (" + pointer + ": " + table +
                      "); inbound not observable: ParseWebhook gives no change for a "
                      "reference-shaped lead.updated webhook (no webhook support)");
  }
  if (no_change + no_status == total) {
    return Result(kCheckStatusTable, Verdict::kSkip,
                  "outbound complete (" + pointer + ": " + table +
                      "); inbound not observable: the plugin's webhook changes carry no status "
                      "for a webhook with the value at " +
                      pointer);
  }
  if (no_change + no_status > 0) {
    return Result(kCheckStatusTable, Verdict::kFail,
                  std::to_string(no_change + no_status) + " of " + std::to_string(total) +
                      " CRM status values do not come back as a status in a webhook (" + table +
                      ")");
  }
  return Result(
      kCheckStatusTable, Verdict::kPass,
      "every lead status maps to a distinct CRM value at " + pointer + " and back: " + table);
}

CheckResult CheckClassification(const BatteryContext& context) {
  GuardedAdapter& a = *context.adapter;
  HttpRequest request;
  SyncJob job =
      SampleJob(EventType::kLeadCreated, LeadStatus::kNew, PropertyStatus::kActive, std::nullopt);
  if (!context.Note(a.BuildRequest(job, StepKind::kCreate, &request)).ok()) {
    request = HttpRequest();
    request.method = "POST";
    request.path = "/conformance";
  }
  Problems problems;
  std::vector<OutcomeRow> rows = OutcomeRows();
  for (const OutcomeRow& row : rows) {
    Status s = context.Note(a.Classify(request, row.response));
    if (s.code() != row.expected) {
      problems.Add(row.name + " gave " + StatusCodeName(s.code()) + ", docs/design.md §4 says " +
                   StatusCodeName(row.expected));
      continue;
    }
    if (!s.ok() && s.message().empty()) problems.Add(row.name + " gave no message");
    if (row.expected_retry_after_ms >= 0 && s.retry_after_ms() != row.expected_retry_after_ms) {
      problems.Add(row.name + " waits " + std::to_string(s.retry_after_ms()) + " ms, not " +
                   std::to_string(row.expected_retry_after_ms));
    }
  }
  if (!problems.empty()) {
    return Result(kCheckClassification, Verdict::kFail, problems.Summary(4));
  }
  return Result(kCheckClassification, Verdict::kPass,
                "all " + std::to_string(rows.size()) +
                    " outcome rows (transport errors, 2xx, 401, 403, 404, 409, 400, 410, 422, "
                    "429, 5xx) classified as docs/design.md §4");
}

CheckResult CheckWebhooks(const BatteryContext& context) {
  GuardedAdapter& a = *context.adapter;
  Problems problems;
  std::vector<WebhookDelivery> all;
  int malformed_accepted = 0;
  for (const std::string& body : {std::string("{\"event\": \"lead.updated\", \"entityId\": "),
                                  std::string("this is not JSON")}) {
    WebhookDelivery delivery;
    delivery.headers = {{"Content-Type", "application/json"}, {"X-CRM-Event", "lead.updated"}};
    delivery.body = body;
    all.push_back(delivery);
    std::vector<InboundChange> changes;
    Status s = context.Note(a.ParseWebhook(delivery, &changes));
    if (s.ok() && changes.empty()) ++malformed_accepted;
    if (s.code() != StatusCode::kInvalidRecord) {
      problems.Add("a malformed body ('" + body + "') gave " + s.ToString() +
                   ", expected invalid_record");
    } else if (s.message().empty()) {
      problems.Add("a malformed body gave invalid_record without a message");
    }
  }
  WebhookDelivery unknown = ReferenceWebhook("conformance.unknown_event", kExternalId, "{}");
  all.push_back(unknown);
  std::vector<InboundChange> changes;
  Status s = context.Note(a.ParseWebhook(unknown, &changes));
  if (!s.ok()) {
    problems.Add("an unknown event gave " + s.ToString() + ", expected ok");
  } else if (!changes.empty()) {
    problems.Add("an unknown event gave " + std::to_string(changes.size()) +
                 " change(s), expected none");
  }
  WebhookDelivery known =
      ReferenceWebhook("lead.updated", kExternalId, "{\"notes\":\"conformance\"}");
  all.push_back(known);
  changes.clear();
  Status known_status = context.Note(a.ParseWebhook(known, &changes));
  // OK and no change for every body, well-formed or not: the plugin takes no
  // webhooks at all, which the SDK allows.
  const bool no_webhooks =
      malformed_accepted == 2 && known_status.ok() && changes.empty() && s.ok();
  std::set<std::string> verify_codes;
  for (const WebhookDelivery& delivery : all) {
    Status v = context.Note(a.VerifyWebhook(delivery));
    verify_codes.insert(StatusCodeName(v.code()));
    if (v.code() != StatusCode::kOk && v.code() != StatusCode::kUnauthenticated &&
        v.code() != StatusCode::kNotFound) {
      problems.Add("VerifyWebhook gave " + v.ToString() +
                   "; only ok, unauthenticated or not_found are allowed");
      break;
    }
  }
  std::string registration;
  if (context.capabilities.webhook_registration) {
    WebhookRegistration reg;
    reg.url = "https://crmsync.example.com/api/v1/crm/webhook";
    reg.events = {"lead.created", "lead.updated"};
    reg.secret = "conformance-secret";
    HttpRequest request;
    Status r = context.Note(a.BuildWebhookRegistration(reg, &request));
    if (!r.ok()) {
      problems.Add("webhook_registration is declared but BuildWebhookRegistration: " +
                   r.ToString());
    } else if (std::string problem = RequestProblem(request); !problem.empty()) {
      problems.Add("BuildWebhookRegistration: " + problem);
    } else {
      registration = "; registration: " + request.method + " " + request.path;
    }
  }
  std::string codes;
  for (const std::string& code : verify_codes) codes += (codes.empty() ? "" : "/") + code;
  if (no_webhooks && problems.size() == 2 && registration.empty() &&
      !context.capabilities.webhook_registration) {
    return Result(kCheckWebhooks, Verdict::kSkip,
                  "no webhook support observable: ParseWebhook gives ok and no change for every "
                  "body, well-formed or malformed; VerifyWebhook -> " +
                      codes);
  }
  if (!problems.empty()) return Result(kCheckWebhooks, Verdict::kFail, problems.Summary(4));
  return Result(kCheckWebhooks, Verdict::kPass,
                "malformed bodies -> invalid_record with a message; unknown event -> ok, no "
                "change; VerifyWebhook -> " +
                    codes + registration);
}

CheckResult CheckBatch(const BatteryContext& context) {
  const uint32_t max = context.capabilities.max_batch_size;
  if (max <= 1) {
    return Result(kCheckBatch, Verdict::kSkip, "no batching declared (max_batch_size 1)");
  }
  GuardedAdapter& a = *context.adapter;
  const size_t n = std::min<size_t>(3, max);
  std::vector<SyncJob> jobs;
  for (size_t i = 0; i < n; ++i) {
    SyncJob job =
        SampleJob(EventType::kLeadCreated, LeadStatus::kNew, PropertyStatus::kActive, std::nullopt);
    job.job_id = std::to_string(i + 1);
    job.entity_id = "conformance-lead-" + std::to_string(i + 1);
    job.external_reference = "lead:" + job.entity_id;
    job.lead->id = job.entity_id;
    jobs.push_back(job);
  }
  Problems problems;
  HttpRequest request;
  Status s = context.Note(a.BuildBatch(jobs, StepKind::kCreate, &request));
  if (!s.ok()) {
    return Result(kCheckBatch, Verdict::kFail,
                  "max_batch_size " + std::to_string(max) + " is declared but BuildBatch of " +
                      std::to_string(n) + " creates: " + s.ToString());
  }
  if (std::string problem = RequestProblem(request); !problem.empty()) {
    problems.Add("BuildBatch: " + problem);
  }
  struct Answer {
    const char* name;
    int status;
    const char* body;
  };
  for (const Answer& answer :
       {Answer{"a 503", 503, "{\"message\":\"unavailable\"}"},
        Answer{"an unreadable 200", 200, "<<conformance: not an answer>>"}}) {
    HttpResponse response;
    response.status = answer.status;
    response.body = answer.body;
    response.request_sent = true;
    std::vector<Status> statuses;
    std::vector<StepResult> results;
    Status r = context.Note(a.ReadBatch(jobs, StepKind::kCreate, response, &statuses, &results));
    if (r.code() == StatusCode::kInternal) {
      problems.Add(std::string("ReadBatch of ") + answer.name + ": " + r.ToString());
      continue;
    }
    if (!r.ok()) continue;  // The whole batch failed: an error status, as required.
    if (statuses.size() != n || results.size() != n) {
      problems.Add(std::string("ReadBatch of ") + answer.name + " gave " +
                   std::to_string(statuses.size()) + " statuses and " +
                   std::to_string(results.size()) + " results for " + std::to_string(n) + " jobs");
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      if (statuses[i].ok()) {
        problems.Add(std::string("ReadBatch of ") + answer.name + " reported item " +
                     std::to_string(i + 1) + " as ok");
        break;
      }
    }
  }
  if (!problems.empty()) return Result(kCheckBatch, Verdict::kFail, problems.Summary(4));
  return Result(kCheckBatch, Verdict::kPass,
                "BuildBatch of " + std::to_string(n) + " creates is one request (" +
                    request.method + " " + request.path +
                    "); ReadBatch of a 503 and of an unreadable 200 reports errors (a "
                    "successful answer needs the CRM and is not checked)");
}

}  // namespace crmsync::engine::conformance
