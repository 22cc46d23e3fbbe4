// reference-crm: an in-memory CRM speaking the integration strategy's REST API
// (docs/design.md §10), for trying generic-rest-crm locally and for end-to-end tests.
//
//   reference-crm [--host 127.0.0.1] [--port 9090] [--api-key K] [--api-secret S]
//                 [--duplicates reject|allow] [--fault-delay-ms 2000] [--retry-after 1]
//                 [--threads 32] [--latency-ms 0] [--random-429 0] [--seed 1]
//
// API (X-API-Key / X-API-Secret required when configured, else 401):
//   POST /api/v1/leads                 201 {"id",...}; 409 {"message","id"} on a known
//                                      externalReference (--duplicates reject, the default)
//   PUT  /api/v1/leads/{id}            200; 404 unknown id
//   GET  /api/v1/leads?externalReference=R   {"results":[...]}: every record carrying R,
//                                      oldest first (without externalReference and without
//                                      limit or cursor: every record that carries none)
//   GET  /api/v1/leads?limit=N&cursor=C   every record, paged, in id order (ids compared as
//                                      text, a stable order that a record created meanwhile
//                                      does not shift): 200 {"results":[record...],
//                                      "nextCursor":"<the page's last id>"} (no nextCursor on
//                                      the last page); the page after C starts after id C;
//                                      limit 1-1000 (default 100); 400 on a bad limit
//   GET  /api/v1/leads/{id}            200 the record; 404 {"message"} unknown id
//   POST /api/v1/leads/{id}/activities, /deals   201 {"id"}
//   POST /api/v1/leads/batch {"inputs":[lead...]}   200 {"results":[{"id","externalReference"}...]}
//        in input order; each input is a create as above; with --duplicates reject an input
//        whose externalReference is known gets {"externalReference","status":409,"message","id"}
//   POST /api/v1/leads/batch/update {"inputs":[{"id",fields...}...]}   200 {"results":[...]}
//        each input is a PUT of its "id": {"id","externalReference"}, or {"id","status":404,
//        "message"} for an unknown id
//   the same create/update/lookup/list/read for /api/v1/properties (no activities, deals,
//   batches)
//   POST /api/v1/webhooks {url, events[], secret}   201 {"id"}; the same url again updates it
//   GET  /api/v1/users?limit=N&cursor=C   the CRM's users (agents), cursor-paged: 200
//                                      {"results":[{"id","email","platformId","active"}...],
//                                      "nextCursor":"..."} (no nextCursor on the last page);
//                                      limit 1-100 (default 100); 400 on a bad limit or cursor
// Records keep every field they are sent (nested objects too: location{city,locality}).
// --duplicates allow: a create (single or batch) with a known externalReference
// creates another record, as most real CRMs do unless a property is configured
// unique; a test that counts records per reference then proves something.
// After every change it POSTs a webhook to each registered URL whose events
// include the change's event, with X-CRM-Secret and X-CRM-Event headers and the
// body {"event","entityId","data"} (a real CRM notifies API changes too).
// Idempotency-Key: a POST, PUT or PATCH carrying an Idempotency-Key header whose
// value was seen before (on any route) is not applied again (no change, no
// webhook): it gets the same status and body as the first request with that key,
// and counts in /_state's "idempotentReplays". A request with a key still in
// progress waits for it. Keys are remembered for the life of the process; a 401
// (bad credentials) is not remembered, every other answer is.
//
// Fault plans (for randomized fault-schedule tests; keyed per externalReference
// so that many schedules can share one CRM process):
//   POST /_faults {"<externalReference>": ["<fault>", ...], ...}   appends to each
//     reference's plan; 200 {"planned": entries}; 400 on an unknown fault name.
//   GET  /_faults   {"pending": {ref: [fault...]}, "injected": {fault: n},
//     "consumed": n, "apiRequests": n}
// Each API request concerning a reference takes the next entry of its plan (a
// reference without entries left is served normally). A request concerns:
// a create or lookup, the externalReference of its body or query; a PUT/PATCH,
// activity or deal, the externalReference of the record its {id} names; a batch,
// each input's reference (an update input's by its "id"). Faults:
//   none                 served normally
//   404, 409, 500, 503   that status with {"message"} (a 409 on a known reference also
//                        carries its "id"); nothing applied. A lookup (GET) does not
//                        take a 404: it would say "no such record" while there is
//                        one, a lie no client can see through (counted as "skipped")
//   429                  429 with Retry-After: --retry-after seconds; nothing applied
//   reset_before_apply   the connection is reset before any answer; nothing applied
//   timeout_after_apply  applied, then the answer waits --fault-delay-ms (past the
//                        engine's CRM timeout) before it is sent
//   reset_after_apply    applied, then the answer's head and half its body are sent
//                        and the connection is reset
//   lookup_bare_array    applied; a 2xx answer is sent in another shape: a lookup's
//                        results as a bare array, any other answer wrapped in [ ]
//   lookup_other_object  applied; a lookup's results under "data" instead of
//                        "results", any other answer wrapped as {"data": answer}
//   batch_unmatched      in a batch: applied, and this input's result carries its
//                        "id" but no "externalReference", so it cannot be matched;
//                        outside a batch: served normally (counted as "skipped")
// A batch takes one entry per input: batch_unmatched entries act per input; the
// first other non-none entry, in input order, acts on the whole batch, and any
// further ones are spent without effect (counted as "skipped"). "injected"
// counts each fault that acted, by name. After-apply faults act on the
// delivery: a replayed Idempotency-Key answer suffers them too, and what the
// key remembers is the true answer. Pre-apply faults stand in front of the
// Idempotency-Key (as a gateway would): the key is not used up.
//
// For benchmarks:
//   --latency-ms N       every API request is answered N ms late (the CRM's own time)
//   --random-429 R       each API request is refused, with probability R (0..1), with
//                        429 and Retry-After: --retry-after seconds; nothing applied.
//                        Draws come from one generator seeded by --seed.
//   GET /_stats          {"leads","properties","apiRequests","random429"}: counts only,
//                        cheap to poll while a benchmark runs
//
// For tests and people:
//   GET  /_state                        every record, webhook and request count
//   POST /_crm/leads/{id}               a change made "in the CRM" (fields merged), then webhooks
//   DELETE /_crm/leads/{id}, /_crm/properties/{id}   a record deleted "in the CRM" (an agent
//                                       removed it): 204, or 404 for an unknown id; no webhook
//   POST /_users {"users":[{"id","email","platformId","active"}...]}   replaces the users
//                                       (no credentials needed: it is the CRM's own admin)
//   POST /_reset                        forgets every record, key, plan and count (webhooks
//                                       and users too)
// /_state shape:
//   {"leads": [record...], "properties": [record...], "webhooks": [{"id","url","events"}],
//    "requests": {"POST /api/v1/leads": n, ...} (every request, replays included),
//    "webhooksSent": {"<status>": n}, "webhooksPending": n, "idempotentReplays": n}
// A record is its fields as merged from the API create and updates, plus:
//   "id"; "updatedBy": "api" or "crm" after an update;
//   "notesHistory": the `notes` string of every applied API create, PUT and PATCH,
//     in order ([] when none; CRM-side changes are not in it);
//   leads only: "activities": every applied POST .../activities body, in order, each
//     with its own "id" ([] when none); "deals" likewise, once there is one.
// An update cannot overwrite "id", "notesHistory", "activities" or "deals".
// Thread-safe: one mutex over the state; webhooks are sent from a sender thread.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/StringTokenizer.h>
#include <Poco/URI.h>

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

std::string Stringify(const Poco::Dynamic::Var& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 9090;
  std::string api_key;
  std::string api_secret;
  bool allow_duplicates = false;
  int fault_delay_ms = 2000;
  int retry_after_s = 1;
  int threads = 32;
  int latency_ms = 0;
  double random_429 = 0;
  unsigned seed = 1;
};

struct Webhook {
  std::string id;
  std::string url;
  std::vector<std::string> events;
  std::string secret;
};

struct Outgoing {
  std::string url;
  std::string secret;
  std::string event;
  std::string body;
};

// Every fault name a plan may hold (see the header comment).
const std::set<std::string>& FaultNames() {
  static const std::set<std::string> kNames = {"none",
                                               "404",
                                               "409",
                                               "500",
                                               "503",
                                               "429",
                                               "reset_before_apply",
                                               "timeout_after_apply",
                                               "reset_after_apply",
                                               "lookup_bare_array",
                                               "lookup_other_object",
                                               "batch_unmatched"};
  return kNames;
}

// Faults answered instead of applying the request.
bool IsPreApply(const std::string& fault) {
  return fault == "404" || fault == "409" || fault == "500" || fault == "503" || fault == "429" ||
         fault == "reset_before_apply";
}

// The faults one request drew from the plans: `whole` acts on the request,
// `unmatched` lists the batch inputs whose results lose their reference.
struct FaultPick {
  std::string whole = "none";
  std::string whole_reference;  // whose plan `whole` came from
  std::set<size_t> unmatched;
};

class Crm {
 public:
  explicit Crm(Options options) : options_(std::move(options)) {
    sender_ = std::thread([this] { SendLoop(); });
  }
  ~Crm() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    sender_.join();
  }

  void Handle(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    std::string body;
    Poco::StreamCopier::copyToString(req.stream(), body);
    Poco::URI uri(req.getURI());
    std::vector<std::string> parts;
    Poco::StringTokenizer tok(uri.getPath(), "/", Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    parts.assign(tok.begin(), tok.end());
    const std::string& method = req.getMethod();
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_[method + " " + Route(parts)]++;
    }
    if (parts.size() == 1 && parts[0] == "_state" && method == "GET") {
      Send(resp, 200, State());
      return;
    }
    if (parts.size() == 1 && parts[0] == "_stats" && method == "GET") {
      Send(resp, 200, Stats());
      return;
    }
    if (parts.size() == 1 && parts[0] == "_faults") {
      std::pair<int, std::string> result =
          method == "POST" ? AddFaults(body)
          : method == "GET"
              ? std::pair<int, std::string>{200, FaultState()}
              : std::pair<int, std::string>{405, R"({"message":"method not allowed"})"};
      Send(resp, result.first, result.second);
      return;
    }
    if (parts.size() == 1 && parts[0] == "_users" && method == "POST") {
      std::pair<int, std::string> result = SetUsers(body);
      Send(resp, result.first, result.second);
      return;
    }
    if (parts.size() == 1 && parts[0] == "_reset" && method == "POST") {
      ForgetEverything();
      Send(resp, 200, "{}");
      return;
    }
    bool crm_side =
        (parts.size() == 3 && parts[0] == "_crm" && parts[1] == "leads" && method == "POST") ||
        (parts.size() == 3 && parts[0] == "_crm" && method == "DELETE");
    if (!crm_side && !options_.api_key.empty() &&
        (req.get("X-API-Key", "") != options_.api_key ||
         req.get("X-API-Secret", "") != options_.api_secret)) {
      Send(resp, 401, R"({"message":"invalid API credentials"})");
      return;
    }
    if (!crm_side) {
      ++api_requests_;
      if (options_.latency_ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.latency_ms));
      if (options_.random_429 > 0 && DrawRandom429()) {
        resp.set("Retry-After", std::to_string(options_.retry_after_s));
        Send(resp, 429, R"({"message":"rate limit exceeded"})");
        return;
      }
    }
    const FaultPick pick = crm_side ? FaultPick() : TakeFaults(method, parts, uri, body);
    if (IsPreApply(pick.whole)) {
      AnswerInstead(req, resp, pick);
      return;
    }
    std::string key;
    if (method == "POST" || method == "PUT" || method == "PATCH")
      key = req.get("Idempotency-Key", "");
    if (!key.empty()) {
      std::unique_lock<std::mutex> lock(mu_);
      while (true) {
        auto it = idempotency_.find(key);
        if (it == idempotency_.end()) {
          idempotency_[key];  // in progress: later requests with the key wait for it
          break;
        }
        if (it->second.done) {
          ++idempotent_replays_;
          int status = it->second.status;
          std::string answer = it->second.answer;
          lock.unlock();
          Deliver(req, resp, pick, status, answer);
          return;
        }
        idempotency_cv_.wait(lock);
      }
    }
    std::pair<int, std::string> result;
    try {
      result = Dispatch(method, parts, uri, body);
    } catch (...) {
      if (!key.empty()) ForgetKey(key);
      throw;
    }
    if (!key.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      Remembered& remembered = idempotency_[key];
      remembered.done = true;
      remembered.status = result.first;
      remembered.answer = result.second;
      idempotency_cv_.notify_all();
    }
    Deliver(req, resp, pick, result.first, result.second);
  }

 private:
  // The answer to a request with an Idempotency-Key; !done while it is in progress.
  struct Remembered {
    bool done = false;
    int status = 0;
    std::string answer;
  };

  void ForgetKey(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    idempotency_.erase(key);
    idempotency_cv_.notify_all();
  }

  // --- fault plans -----------------------------------------------------------

  std::pair<int, std::string> AddFaults(const std::string& body) {
    Object::Ptr plans = ParseObject(body);
    if (!plans) return {400, R"({"message":"body must be {\"<externalReference>\": [fault...]}"})"};
    std::map<std::string, std::vector<std::string>> added;
    for (const auto& [reference, list] : *plans) {
      if (list.type() != typeid(Array::Ptr)) {
        return {400, R"({"message":"the plan of )" + reference + R"( must be an array"})"};
      }
      Array::Ptr faults = list.extract<Array::Ptr>();
      for (size_t i = 0; i < faults->size(); ++i) {
        Poco::Dynamic::Var name = faults->get(static_cast<unsigned>(i));
        if (!name.isString() || FaultNames().count(name.convert<std::string>()) == 0) {
          return {400, R"({"message":"unknown fault in the plan of )" + reference + R"("})"};
        }
        added[reference].push_back(name.convert<std::string>());
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    size_t planned = 0;
    for (const auto& [reference, faults] : added) {
      auto& plan = fault_plans_[reference];
      plan.insert(plan.end(), faults.begin(), faults.end());
      planned += faults.size();
    }
    return {200, R"({"planned":)" + std::to_string(planned) + "}"};
  }

  std::string FaultState() {
    std::lock_guard<std::mutex> lock(mu_);
    Object::Ptr pending = new Object();
    for (const auto& [reference, plan] : fault_plans_) {
      if (plan.empty()) continue;
      Array::Ptr list = new Array();
      for (const std::string& fault : plan) list->add(fault);
      pending->set(reference, list);
    }
    Object::Ptr injected = new Object();
    for (const auto& [fault, n] : injected_) injected->set(fault, n);
    Object::Ptr state = new Object();
    state->set("pending", pending);
    state->set("injected", injected);
    state->set("consumed", faults_consumed_);
    state->set("apiRequests", api_requests_.load());
    return Stringify(state);
  }

  // Holds mu_. The externalReference of record `id`, or "".
  std::string ReferenceOfId(const std::string& kind, const std::string& id) {
    auto& records = records_[kind];
    auto it = records.find(id);
    return it == records.end() ? "" : it->second->optValue<std::string>("externalReference", "");
  }

  // Holds mu_. The references a request concerns, in the order of its inputs
  // (one for a single request, one per input of a batch; "" when none).
  std::vector<std::string> ReferencesOf(const std::string& method,
                                        const std::vector<std::string>& parts, const Poco::URI& uri,
                                        const std::string& body) {
    if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1") return {};
    const std::string& collection = parts[2];
    if (collection != "leads" && collection != "properties") return {};
    const std::string kind = collection == "leads" ? "lead" : "property";
    if (IsBatch(method, parts)) {
      std::vector<std::string> references;
      const bool update = parts.size() == 5;
      Object::Ptr request = ParseObject(body);
      Array::Ptr inputs = request ? request->getArray("inputs") : nullptr;
      for (size_t i = 0; inputs && i < inputs->size(); ++i) {
        Object::Ptr input = inputs->getObject(static_cast<unsigned>(i));
        std::string reference;
        if (input && update)
          reference = ReferenceOfId(kind, input->optValue<std::string>("id", ""));
        if (input && reference.empty())
          reference = input->optValue<std::string>("externalReference", "");
        references.push_back(reference);
      }
      return references;
    }
    if (parts.size() == 3 && method == "GET") {
      for (const auto& [k, v] : uri.getQueryParameters()) {
        if (k == "externalReference") return {v};
      }
      return {};
    }
    if (parts.size() == 3 && method == "POST") {
      Object::Ptr record = ParseObject(body);
      return {record ? record->optValue<std::string>("externalReference", "") : ""};
    }
    if (parts.size() >= 4) {
      std::string reference = ReferenceOfId(kind, parts[3]);
      if (reference.empty() && parts.size() == 4) {
        Object::Ptr changes = ParseObject(body);
        if (changes) reference = changes->optValue<std::string>("externalReference", "");
      }
      return {reference};
    }
    return {};
  }

  // Each reference the request concerns takes the next entry of its plan.
  FaultPick TakeFaults(const std::string& method, const std::vector<std::string>& parts,
                       const Poco::URI& uri, const std::string& body) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fault_plans_.empty()) return FaultPick();
    FaultPick pick;
    const bool batch = IsBatch(method, parts);
    std::vector<std::string> references = ReferencesOf(method, parts, uri, body);
    for (size_t i = 0; i < references.size(); ++i) {
      auto plan = fault_plans_.find(references[i]);
      if (references[i].empty() || plan == fault_plans_.end() || plan->second.empty()) continue;
      std::string fault = plan->second.front();
      plan->second.pop_front();
      if (plan->second.empty()) fault_plans_.erase(plan);
      ++faults_consumed_;
      if (fault == "none") continue;
      if (fault == "404" && method == "GET") {
        // A lookup's 404 says "no such record", and a client must believe it:
        // a CRM that answers so while it holds the record lies, and no client
        // could avoid a duplicate. Lookups do not take a 404.
        ++injected_["skipped"];
        continue;
      }
      if (fault == "batch_unmatched") {
        if (batch) {
          pick.unmatched.insert(i);
        } else {
          ++injected_["skipped"];
        }
      } else if (pick.whole == "none") {
        pick.whole = fault;
        pick.whole_reference = references[i];
      } else {
        ++injected_["skipped"];
      }
    }
    if (IsPreApply(pick.whole)) {
      // Nothing is applied, so no input's result can lose its reference.
      injected_["skipped"] += static_cast<int>(pick.unmatched.size());
      pick.unmatched.clear();
    }
    return pick;
  }

  // Answers with a pre-apply fault; nothing was applied.
  void AnswerInstead(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
                     const FaultPick& pick) {
    std::string known_id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++injected_[pick.whole];
      for (const char* kind : {"lead", "property"}) {
        auto ids = by_reference_[kind].find(pick.whole_reference);
        if (ids != by_reference_[kind].end() && !ids->second.empty())
          known_id = ids->second.front();
      }
    }
    const std::string message = "\"message\":\"injected fault " + pick.whole + "\"";
    if (pick.whole == "reset_before_apply") {
      ResetConnection(req, resp, "");
    } else if (pick.whole == "429") {
      resp.set("Retry-After", std::to_string(options_.retry_after_s));
      Send(resp, 429, "{" + message + "}");
    } else if (pick.whole == "409" && !known_id.empty()) {
      Send(resp, 409, "{" + message + ",\"id\":\"" + known_id + "\"}");
    } else {
      Send(resp, std::stoi(pick.whole), "{" + message + "}");
    }
  }

  // Sends the answer of an applied request, as the after-apply faults make it.
  void Deliver(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
               const FaultPick& pick, int status, std::string answer) {
    const bool ok = status >= 200 && status < 300;
    if (!pick.unmatched.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      injected_["batch_unmatched"] += static_cast<int>(pick.unmatched.size());
      if (ok) answer = Unmatched(answer, pick.unmatched);
    }
    if (pick.whole == "none") {
      Send(resp, status, answer);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++injected_[pick.whole];
    }
    if (pick.whole == "timeout_after_apply") {
      // The engine gave up waiting before this; the late answer goes to a
      // closed connection, or to nobody.
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.fault_delay_ms));
      try {
        Send(resp, status, answer);
      } catch (const Poco::Exception&) {
      }
    } else if (pick.whole == "reset_after_apply") {
      ResetConnection(req, resp,
                      "HTTP/1.1 " + std::to_string(status) +
                          " OK\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(answer.size()) + "\r\n\r\n" +
                          answer.substr(0, answer.size() / 2));
    } else if (ok && (pick.whole == "lookup_bare_array" || pick.whole == "lookup_other_object")) {
      Send(resp, status, OtherShape(answer, pick.whole == "lookup_bare_array"));
    } else {
      Send(resp, status, answer);
    }
  }

  // `answer` in the shape a lookup fault gives it (see the header comment).
  static std::string OtherShape(const std::string& answer, bool bare_array) {
    Object::Ptr object = ParseObject(answer);
    Poco::Dynamic::Var inner = object ? Poco::Dynamic::Var(object) : Poco::Dynamic::Var(answer);
    if (object && object->has("results") && object->size() == 1) inner = object->get("results");
    if (bare_array) {
      if (inner.type() == typeid(Array::Ptr)) return Stringify(inner);
      Array::Ptr wrapped = new Array();
      wrapped->add(inner);
      return Stringify(wrapped);
    }
    Object::Ptr wrapped = new Object();
    wrapped->set("data", inner);
    return Stringify(wrapped);
  }

  // A batch answer whose results at `inputs` no longer carry their reference.
  static std::string Unmatched(const std::string& answer, const std::set<size_t>& inputs) {
    Object::Ptr object = ParseObject(answer);
    Array::Ptr results = object ? object->getArray("results") : nullptr;
    if (!results) return answer;
    for (size_t i : inputs) {
      if (i >= results->size()) continue;
      Object::Ptr result = results->getObject(static_cast<unsigned>(i));
      if (result) result->remove("externalReference");
    }
    return Stringify(object);
  }

  // Sends `partial` (may be empty) raw, then resets the connection: the client
  // sees the answer cut off, or none at all.
  static void ResetConnection(Poco::Net::HTTPServerRequest& req,
                              Poco::Net::HTTPServerResponse& resp, const std::string& partial) {
    resp.setKeepAlive(false);
    try {
      Poco::Net::StreamSocket& socket =
          dynamic_cast<Poco::Net::HTTPServerRequestImpl&>(req).socket();
      if (!partial.empty()) socket.sendBytes(partial.data(), static_cast<int>(partial.size()));
      socket.setLinger(true, 0);  // close with RST, not FIN
      socket.close();
    } catch (const Poco::Exception&) {
    }
  }

  void ForgetEverything() {
    std::lock_guard<std::mutex> lock(mu_);
    records_.clear();
    by_reference_.clear();
    webhooks_.clear();
    requests_.clear();
    webhook_results_.clear();
    idempotency_.clear();
    idempotent_replays_ = 0;
    notes_history_.clear();
    fault_plans_.clear();
    users_.clear();
    injected_.clear();
    faults_consumed_ = 0;
    api_requests_ = 0;
  }

  // --- the API ---------------------------------------------------------------

  static bool IsBatch(const std::string& method, const std::vector<std::string>& parts) {
    return method == "POST" && parts.size() >= 4 && parts[2] == "leads" && parts[3] == "batch" &&
           (parts.size() == 4 || (parts.size() == 5 && parts[4] == "update"));
  }

  // Applies one authorised request; returns its status and body.
  std::pair<int, std::string> Dispatch(const std::string& method,
                                       const std::vector<std::string>& parts, const Poco::URI& uri,
                                       const std::string& body) {
    std::lock_guard<std::mutex> lock(mu_);
    int status = 404;
    std::string answer = R"({"message":"no such endpoint"})";
    if (parts.size() == 3 && parts[0] == "_crm" && parts[1] == "leads" && method == "POST") {
      return Update("lead", parts[2], body, "crm");
    }
    if (parts.size() == 3 && parts[0] == "_crm" && method == "DELETE" &&
        (parts[1] == "leads" || parts[1] == "properties")) {
      return Delete(parts[1] == "leads" ? "lead" : "property", parts[2]);
    }
    if (parts.size() >= 3 && parts[0] == "api" && parts[1] == "v1") {
      const std::string& collection = parts[2];
      if (collection == "webhooks" && parts.size() == 3 && method == "POST") {
        std::tie(status, answer) = RegisterWebhook(body);
      } else if (collection == "users" && parts.size() == 3 && method == "GET") {
        std::tie(status, answer) = ListUsers(uri);
      } else if (collection == "leads" || collection == "properties") {
        std::string kind = collection == "leads" ? "lead" : "property";
        if (IsBatch(method, parts)) {
          std::tie(status, answer) = Batch(parts.size() == 5, body);
        } else if (parts.size() == 3 && method == "POST") {
          std::tie(status, answer) = Create(kind, body);
        } else if (parts.size() == 3 && method == "GET" && IsList(uri)) {
          std::tie(status, answer) = List(kind, uri);
        } else if (parts.size() == 3 && method == "GET") {
          std::tie(status, answer) = Lookup(kind, uri);
        } else if (parts.size() == 4 && method == "GET") {
          std::tie(status, answer) = Read(kind, parts[3]);
        } else if (parts.size() == 4 && (method == "PUT" || method == "PATCH")) {
          std::tie(status, answer) = Update(kind, parts[3], body, "api");
        } else if (parts.size() == 5 && method == "POST" && kind == "lead" &&
                   (parts[4] == "activities" || parts[4] == "deals")) {
          std::tie(status, answer) = AddChild(parts[3], parts[4], body);
        } else {
          status = 405;
          answer = R"({"message":"method not allowed"})";
        }
      }
    }
    return {status, answer};
  }

  static std::string Route(const std::vector<std::string>& parts) {
    std::string route;
    for (size_t i = 0; i < parts.size(); ++i) {
      bool id = (i == 3 && parts.size() >= 4 && parts[0] == "api" && parts[3] != "batch") ||
                (i == 2 && parts[0] == "_crm");
      route += "/" + (id ? std::string("{id}") : parts[i]);
    }
    return route;
  }

  static void Send(Poco::Net::HTTPServerResponse& resp, int status, const std::string& body) {
    resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    resp.setContentType("application/json");
    resp.setContentLength(static_cast<std::streamsize>(body.size()));
    resp.sendBuffer(body.data(), body.size());
  }

  static Object::Ptr ParseObject(const std::string& body) {
    try {
      Poco::Dynamic::Var v = Poco::JSON::Parser().parse(body);
      if (v.type() == typeid(Object::Ptr)) return v.extract<Object::Ptr>();
    } catch (const Poco::Exception&) {
    }
    return nullptr;
  }

  // Holds mu_. The id of a new record made of `record`, or of the record
  // already known by its externalReference (*known set) when duplicates are refused.
  std::string CreateRecord(const std::string& kind, Object::Ptr record, bool* known) {
    std::string reference = record->optValue<std::string>("externalReference", "");
    auto& ids = by_reference_[kind][reference];
    if (!reference.empty() && !ids.empty() && !options_.allow_duplicates) {
      *known = true;
      return ids.front();
    }
    *known = false;
    std::string id = kind + "_" + std::to_string(++next_id_);
    for (const char* reserved : {"notesHistory", "activities", "deals"}) record->remove(reserved);
    record->set("id", id);
    records_[kind][id] = record;
    if (!reference.empty()) ids.push_back(id);
    RecordNotes(kind, id, record);
    QueueWebhooks(kind + ".created", id, record);
    return id;
  }

  // Holds mu_.
  std::pair<int, std::string> Create(const std::string& kind, const std::string& body) {
    Object::Ptr record = ParseObject(body);
    if (!record) return {400, R"({"message":"body must be a JSON object"})"};
    bool known = false;
    std::string id = CreateRecord(kind, record, &known);
    if (known) {
      return {409, R"({"message":"externalReference already exists","id":")" + id + "\"}"};
    }
    return {201, Stringify(record)};
  }

  // Holds mu_. Batch create (or update) of leads: one result per input, in order.
  std::pair<int, std::string> Batch(bool update, const std::string& body) {
    Object::Ptr request = ParseObject(body);
    Array::Ptr inputs = request ? request->getArray("inputs") : nullptr;
    if (!inputs) return {400, R"({"message":"body must be {\"inputs\": [...]}"})"};
    for (size_t i = 0; i < inputs->size(); ++i) {
      if (!inputs->getObject(static_cast<unsigned>(i))) {
        return {400, R"({"message":"every input must be an object"})"};
      }
    }
    Array::Ptr results = new Array();
    for (size_t i = 0; i < inputs->size(); ++i) {
      Object::Ptr input = inputs->getObject(static_cast<unsigned>(i));
      Object::Ptr result = new Object();
      if (update) {
        std::string id = input->optValue<std::string>("id", "");
        result->set("id", id);
        std::pair<int, std::string> one = Update("lead", id, Stringify(input), "api");
        if (one.first != 200) {
          result->set("status", one.first);
          result->set("message", "lead " + id + " not found");
        } else {
          result->set("externalReference", ReferenceOfId("lead", id));
        }
      } else {
        bool known = false;
        std::string id = CreateRecord("lead", input, &known);
        result->set("id", id);
        result->set("externalReference", input->optValue<std::string>("externalReference", ""));
        if (known) {
          result->set("status", 409);
          result->set("message", "externalReference already exists");
        }
      }
      results->add(result);
    }
    Object::Ptr answer = new Object();
    answer->set("results", results);
    return {200, Stringify(answer)};
  }

  // Holds mu_.
  std::pair<int, std::string> Update(const std::string& kind, const std::string& id,
                                     const std::string& body, const std::string& origin) {
    Object::Ptr changes = ParseObject(body);
    if (!changes) return {400, R"({"message":"body must be a JSON object"})"};
    auto& records = records_[kind];
    auto it = records.find(id);
    if (it == records.end()) return {404, R"({"message":")" + kind + " " + id + R"( not found"})"};
    std::string old_reference = it->second->optValue<std::string>("externalReference", "");
    for (const auto& [key, value] : *changes) {
      if (key != "id" && key != "notesHistory" && key != "activities" && key != "deals") {
        it->second->set(key, value);
      }
    }
    std::string new_reference = it->second->optValue<std::string>("externalReference", "");
    if (new_reference != old_reference) {
      auto& old_ids = by_reference_[kind][old_reference];
      old_ids.erase(std::remove(old_ids.begin(), old_ids.end(), id), old_ids.end());
      if (!new_reference.empty()) by_reference_[kind][new_reference].push_back(id);
    }
    it->second->set("updatedBy", origin);
    if (origin == "api") RecordNotes(kind, id, changes);
    QueueWebhooks(kind + ".updated", id, changes);
    return {200, Stringify(it->second)};
  }

  // Holds mu_.
  std::pair<int, std::string> Lookup(const std::string& kind, const Poco::URI& uri) {
    std::string reference;
    for (const auto& [k, v] : uri.getQueryParameters()) {
      if (k == "externalReference") reference = v;
    }
    Array::Ptr results = new Array();
    if (reference.empty()) {  // the records without a reference: rare, scanned
      for (auto& [id, record] : records_[kind]) {
        if (record->optValue<std::string>("externalReference", "").empty()) results->add(record);
      }
    } else {
      auto known = by_reference_[kind].find(reference);
      if (known != by_reference_[kind].end()) {
        for (const std::string& id : known->second) results->add(records_[kind][id]);
      }
    }
    Object::Ptr answer = new Object();
    answer->set("results", results);
    return {200, Stringify(answer)};
  }

  // A GET of the collection that lists every record: limit or cursor, and no
  // externalReference (which makes it a lookup).
  static bool IsList(const Poco::URI& uri) {
    bool paged = false;
    for (const auto& [k, v] : uri.getQueryParameters()) {
      if (k == "externalReference") return false;
      if (k == "limit" || k == "cursor") paged = true;
    }
    return paged;
  }

  // Holds mu_. One page of every record of `kind`, after the id `cursor`.
  std::pair<int, std::string> List(const std::string& kind, const Poco::URI& uri) {
    long long limit = 100;
    std::string cursor;
    for (const auto& [k, v] : uri.getQueryParameters()) {
      if (k == "cursor") cursor = v;
      if (k != "limit") continue;
      try {
        size_t used = 0;
        limit = std::stoll(v, &used);
        if (used != v.size()) limit = 0;
      } catch (const std::exception&) {
        limit = 0;
      }
    }
    if (limit < 1 || limit > 1000) return {400, R"({"message":"limit must be 1 to 1000"})"};
    const auto& records = records_[kind];
    auto it = cursor.empty() ? records.begin() : records.upper_bound(cursor);
    Array::Ptr results = new Array();
    std::string last;
    for (; it != records.end() && static_cast<long long>(results->size()) < limit; ++it) {
      results->add(it->second);
      last = it->first;
    }
    Object::Ptr answer = new Object();
    answer->set("results", results);
    if (it != records.end()) answer->set("nextCursor", last);
    return {200, Stringify(answer)};
  }

  // Holds mu_.
  std::pair<int, std::string> Read(const std::string& kind, const std::string& id) {
    auto& records = records_[kind];
    auto it = records.find(id);
    if (it == records.end()) return {404, R"({"message":")" + kind + " " + id + R"( not found"})"};
    return {200, Stringify(it->second)};
  }

  // A record deleted in the CRM, its reference with it. Holds mu_.
  std::pair<int, std::string> Delete(const std::string& kind, const std::string& id) {
    auto& records = records_[kind];
    auto it = records.find(id);
    if (it == records.end()) return {404, R"({"message":")" + kind + " " + id + R"( not found"})"};
    const std::string reference = it->second->optValue<std::string>("externalReference", "");
    auto& ids = by_reference_[kind][reference];
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
    if (ids.empty()) by_reference_[kind].erase(reference);
    records.erase(it);
    return {204, ""};
  }

  // Holds mu_.
  std::pair<int, std::string> AddChild(const std::string& lead_id, const std::string& what,
                                       const std::string& body) {
    Object::Ptr child = ParseObject(body);
    if (!child) return {400, R"({"message":"body must be a JSON object"})"};
    auto it = records_["lead"].find(lead_id);
    if (it == records_["lead"].end()) return {404, R"({"message":"lead not found"})"};
    Array::Ptr list = it->second->getArray(what);
    if (!list) {
      list = new Array();
      it->second->set(what, list);
    }
    std::string id =
        std::string(what == "activities" ? "activity" : "deal") + "_" + std::to_string(++next_id_);
    child->set("id", id);
    list->add(child);
    return {201, Stringify(child)};
  }

  // Replaces the users (the CRM's own admin, for tests).
  std::pair<int, std::string> SetUsers(const std::string& body) {
    Object::Ptr request = ParseObject(body);
    Array::Ptr list = request ? request->getArray("users") : nullptr;
    if (!list) return {400, R"({"message":"body must be {\"users\": [...]}"})"};
    std::vector<Object::Ptr> users;
    for (size_t i = 0; i < list->size(); ++i) {
      Object::Ptr user = list->getObject(static_cast<unsigned>(i));
      if (!user || user->optValue<std::string>("id", "").empty()) {
        return {400, R"({"message":"every user must be an object with an id"})"};
      }
      users.push_back(user);
    }
    std::lock_guard<std::mutex> lock(mu_);
    users_ = users;
    return {200, R"({"users":)" + std::to_string(users_.size()) + "}"};
  }

  // Holds mu_. One page of users from `cursor` (an index, as text).
  std::pair<int, std::string> ListUsers(const Poco::URI& uri) {
    size_t limit = 100;
    size_t start = 0;
    for (const auto& [k, v] : uri.getQueryParameters()) {
      try {
        if (k == "limit") limit = static_cast<size_t>(std::stoul(v));
        if (k == "cursor") start = static_cast<size_t>(std::stoul(v));
      } catch (const std::exception&) {
        return {400, R"({"message":"limit and cursor must be whole numbers"})"};
      }
    }
    if (limit < 1 || limit > 100) return {400, R"({"message":"limit must be 1 to 100"})"};
    if (start > users_.size()) return {400, R"({"message":"unknown cursor"})"};
    Array::Ptr results = new Array();
    const size_t end = std::min(users_.size(), start + limit);
    for (size_t i = start; i < end; ++i) results->add(users_[i]);
    Object::Ptr answer = new Object();
    answer->set("results", results);
    if (end < users_.size()) answer->set("nextCursor", std::to_string(end));
    return {200, Stringify(answer)};
  }

  // Holds mu_.
  std::pair<int, std::string> RegisterWebhook(const std::string& body) {
    Object::Ptr request = ParseObject(body);
    if (!request || !request->has("url")) return {400, R"({"message":"url is required"})"};
    Webhook hook;
    hook.url = request->getValue<std::string>("url");
    hook.secret = request->optValue<std::string>("secret", "");
    if (Array::Ptr events = request->getArray("events")) {
      for (size_t i = 0; i < events->size(); ++i)
        hook.events.push_back(events->getElement<std::string>(static_cast<unsigned>(i)));
    }
    for (Webhook& existing : webhooks_) {
      if (existing.url == hook.url) {
        hook.id = existing.id;
        existing = hook;
        return {200, R"({"id":")" + hook.id + "\"}"};
      }
    }
    hook.id = "webhook_" + std::to_string(++next_id_);
    webhooks_.push_back(hook);
    return {201, R"({"id":")" + hook.id + "\"}"};
  }

  // Holds mu_. Appends the `notes` of an applied create or update, when a string.
  void RecordNotes(const std::string& kind, const std::string& id, const Object::Ptr& body) {
    if (!body->has("notes")) return;
    Poco::Dynamic::Var notes = body->get("notes");
    if (notes.isString()) notes_history_[kind][id].push_back(notes.convert<std::string>());
  }

  // Holds mu_.
  void QueueWebhooks(const std::string& event, const std::string& id, const Object::Ptr& data) {
    for (const Webhook& hook : webhooks_) {
      bool wanted = hook.events.empty();
      for (const std::string& e : hook.events) wanted = wanted || e == event || e == "*";
      if (!wanted) continue;
      Object::Ptr payload = new Object();
      payload->set("event", event);
      payload->set("entityId", id);
      payload->set("data", data);
      outgoing_.push_back({hook.url, hook.secret, event, Stringify(payload)});
    }
    cv_.notify_all();
  }

  void SendLoop() {
    while (true) {
      Outgoing next;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !outgoing_.empty(); });
        if (outgoing_.empty()) return;
        next = outgoing_.front();
        outgoing_.pop_front();
      }
      int status = 0;
      try {
        Poco::URI uri(next.url);
        Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
        session.setTimeout(Poco::Timespan(10, 0));
        Poco::Net::HTTPRequest req("POST", uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
        req.setContentType("application/json");
        req.set("X-CRM-Secret", next.secret);
        req.set("X-CRM-Event", next.event);
        req.setContentLength(static_cast<std::streamsize>(next.body.size()));
        session.sendRequest(req) << next.body;
        Poco::Net::HTTPResponse resp;
        session.receiveResponse(resp).ignore(1 << 20);
        status = static_cast<int>(resp.getStatus());
      } catch (const Poco::Exception&) {
        status = 0;
      }
      std::lock_guard<std::mutex> lock(mu_);
      webhook_results_[status]++;
    }
  }

  std::string State() {
    std::lock_guard<std::mutex> lock(mu_);
    Object::Ptr state = new Object();
    for (const char* kind : {"lead", "property"}) {
      Array::Ptr list = new Array();
      for (auto& [id, record] : records_[kind]) {
        Object::Ptr shown = new Object(*record);  // the stored record stays as the API shows it
        Array::Ptr history = new Array();
        for (const std::string& notes : notes_history_[kind][id]) history->add(notes);
        shown->set("notesHistory", history);
        if (std::string(kind) == "lead" && !shown->has("activities")) {
          shown->set("activities", Array::Ptr(new Array()));
        }
        list->add(shown);
      }
      state->set(std::string(kind) == "lead" ? "leads" : "properties", list);
    }
    Array::Ptr hooks = new Array();
    for (const Webhook& hook : webhooks_) {
      Object::Ptr h = new Object();
      h->set("id", hook.id);
      h->set("url", hook.url);
      Array::Ptr events = new Array();
      for (const auto& e : hook.events) events->add(e);
      h->set("events", events);
      hooks->add(h);
    }
    state->set("webhooks", hooks);
    Object::Ptr counts = new Object();
    for (const auto& [route, n] : requests_) counts->set(route, n);
    state->set("requests", counts);
    Object::Ptr sent = new Object();
    for (const auto& [status, n] : webhook_results_) sent->set(std::to_string(status), n);
    state->set("webhooksSent", sent);
    state->set("webhooksPending", static_cast<int>(outgoing_.size()));
    state->set("idempotentReplays", idempotent_replays_);
    return Stringify(state);
  }

  bool DrawRandom429() {
    std::lock_guard<std::mutex> lock(mu_);
    if (std::uniform_real_distribution<double>(0.0, 1.0)(random_) >= options_.random_429)
      return false;
    ++random_429_sent_;
    return true;
  }

  std::string Stats() {
    std::lock_guard<std::mutex> lock(mu_);
    Object::Ptr stats = new Object();
    stats->set("leads", static_cast<int>(records_["lead"].size()));
    stats->set("properties", static_cast<int>(records_["property"].size()));
    stats->set("apiRequests", api_requests_.load());
    stats->set("random429", random_429_sent_);
    return Stringify(stats);
  }

  Options options_;
  std::mutex mu_;
  std::mt19937 random_{options_.seed};
  int random_429_sent_ = 0;
  std::condition_variable cv_;
  bool stopping_ = false;
  int next_id_ = 0;
  std::map<std::string, std::map<std::string, Object::Ptr>> records_;
  /// kind -> externalReference -> ids, oldest first: creates and lookups
  /// without a scan of every record (a scan made the CRM, not crmsync, the
  /// ceiling of benchmarks). More than one id only with --duplicates allow.
  std::map<std::string, std::map<std::string, std::vector<std::string>>> by_reference_;
  std::vector<Webhook> webhooks_;
  std::deque<Outgoing> outgoing_;
  std::map<std::string, int> requests_;
  std::map<int, int> webhook_results_;
  std::vector<Object::Ptr> users_;  // GET /api/v1/users, in order
  std::condition_variable idempotency_cv_;            // an in-progress key got its answer
  std::map<std::string, Remembered> idempotency_;      // by Idempotency-Key value
  int idempotent_replays_ = 0;
  // kind -> id -> the notes of every applied API create/update, in order.
  std::map<std::string, std::map<std::string, std::vector<std::string>>> notes_history_;
  std::map<std::string, std::deque<std::string>> fault_plans_;  // by externalReference
  std::map<std::string, int> injected_;                          // by fault name
  int faults_consumed_ = 0;
  std::atomic<int> api_requests_{0};
  std::thread sender_;
};

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(Crm& crm) : crm_(crm) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
    crm_.Handle(req, resp);
  }

 private:
  Crm& crm_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(Crm& crm) : crm_(crm) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(crm_);
  }

 private:
  Crm& crm_;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << "usage: reference-crm [--host H] [--port P] [--api-key K] [--api-secret S]\n"
                   "                     [--duplicates reject|allow] [--fault-delay-ms MS]\n"
                   "                     [--retry-after S] [--threads N] [--latency-ms MS]\n"
                   "                     [--random-429 RATIO] [--seed N]\n";
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "reference-crm: " << flag << " needs a value\n";
      return 64;
    }
    std::string value = argv[++i];
    if (flag == "--host") {
      options.host = value;
    } else if (flag == "--port") {
      options.port = std::atoi(value.c_str());
    } else if (flag == "--api-key") {
      options.api_key = value;
    } else if (flag == "--api-secret") {
      options.api_secret = value;
    } else if (flag == "--duplicates" && (value == "allow" || value == "reject")) {
      options.allow_duplicates = value == "allow";
    } else if (flag == "--fault-delay-ms") {
      options.fault_delay_ms = std::atoi(value.c_str());
    } else if (flag == "--retry-after") {
      options.retry_after_s = std::atoi(value.c_str());
    } else if (flag == "--threads") {
      options.threads = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--latency-ms") {
      options.latency_ms = std::max(0, std::atoi(value.c_str()));
    } else if (flag == "--random-429") {
      options.random_429 = std::atof(value.c_str());
      if (options.random_429 < 0 || options.random_429 > 1) {
        std::cerr << "reference-crm: --random-429 takes a ratio from 0 to 1, not " << value << "\n";
        return 64;
      }
    } else if (flag == "--seed") {
      options.seed = static_cast<unsigned>(std::strtoul(value.c_str(), nullptr, 10));
    } else {
      std::cerr << "reference-crm: unknown flag " << flag << "\n";
      return 64;
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A late answer (timeout_after_apply) may go to a connection the client closed.
  signal(SIGPIPE, SIG_IGN);
  Crm crm(options);
  Poco::Net::ServerSocket socket;
  try {
    socket.bind(Poco::Net::SocketAddress(options.host, static_cast<Poco::UInt16>(options.port)),
                true, false);
    socket.listen(64);
  } catch (const Poco::Exception& e) {
    std::cerr << "reference-crm: cannot listen on " << options.host << ":" << options.port << ": "
              << e.displayText() << "\n";
    return 1;
  }
  auto* params = new Poco::Net::HTTPServerParams();
  params->setMaxThreads(options.threads);
  Poco::Net::HTTPServer server(new Factory(crm), socket, params);
  server.start();
  std::cout << "reference-crm listening on http://" << options.host << ":"
            << socket.address().port() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server.stopAll(true);
  return 0;
}
