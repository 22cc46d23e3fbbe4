// reference-crm: an in-memory CRM speaking the integration strategy's REST API
// (DESIGN.md §10), for trying generic-rest-crm locally and for end-to-end tests.
//
//   reference-crm [--host 127.0.0.1] [--port 9090] [--api-key K] [--api-secret S]
//
// API (X-API-Key / X-API-Secret required when configured, else 401):
//   POST /api/v1/leads                 201 {"id"}; 409 {"message","id"} on a known externalReference
//   PUT  /api/v1/leads/{id}            200; 404 unknown id
//   GET  /api/v1/leads?externalReference=R   {"results":[...]}
//   POST /api/v1/leads/{id}/activities, /deals   201 {"id"}
//   the same for /api/v1/properties (no activities, deals)
//   POST /api/v1/webhooks {url, events[], secret}   201 {"id"}; the same url again updates it
// After every change it POSTs a webhook to each registered URL whose events
// include the change's event, with X-CRM-Secret and X-CRM-Event headers and the
// body {"event","entityId","data"} (a real CRM notifies API changes too).
// Idempotency-Key: a POST, PUT or PATCH carrying an Idempotency-Key header whose
// value was seen before (on any route) is not applied again (no change, no
// webhook): it gets the same status and body as the first request with that key,
// and counts in /_state's "idempotentReplays". A request with a key still in
// progress waits for it. Keys are remembered for the life of the process; a 401
// (bad credentials) is not remembered, every other answer is.
// For tests and people:
//   GET  /_state                        every record, webhook and request count
//   POST /_crm/leads/{id}               a change made "in the CRM" (fields merged), then webhooks
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

#include <atomic>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
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
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
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
    bool crm_side = parts.size() == 3 && parts[0] == "_crm" && parts[1] == "leads" && method == "POST";
    if (!crm_side && !options_.api_key.empty() &&
        (req.get("X-API-Key", "") != options_.api_key ||
         req.get("X-API-Secret", "") != options_.api_secret)) {
      Send(resp, 401, R"({"message":"invalid API credentials"})");
      return;
    }
    std::string key;
    if (method == "POST" || method == "PUT" || method == "PATCH") key = req.get("Idempotency-Key", "");
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
          Send(resp, status, answer);
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
    Send(resp, result.first, result.second);
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

  // Applies one authorised request; returns its status and body.
  std::pair<int, std::string> Dispatch(const std::string& method,
                                       const std::vector<std::string>& parts,
                                       const Poco::URI& uri, const std::string& body) {
    int status = 404;
    std::string answer = R"({"message":"no such endpoint"})";
    if (parts.size() == 3 && parts[0] == "_crm" && parts[1] == "leads" && method == "POST") {
      return CrmSideChange(parts[2], body);
    }
    if (parts.size() >= 3 && parts[0] == "api" && parts[1] == "v1") {
      const std::string& collection = parts[2];
      if (collection == "webhooks" && parts.size() == 3 && method == "POST") {
        std::tie(status, answer) = RegisterWebhook(body);
      } else if (collection == "leads" || collection == "properties") {
        std::string kind = collection == "leads" ? "lead" : "property";
        if (parts.size() == 3 && method == "POST") {
          std::tie(status, answer) = Create(kind, body);
        } else if (parts.size() == 3 && method == "GET") {
          std::tie(status, answer) = Lookup(kind, uri);
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
      bool id = (i == 3 && parts.size() >= 4 && parts[0] == "api") || (i == 2 && parts[0] == "_crm");
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

  std::pair<int, std::string> Create(const std::string& kind, const std::string& body) {
    Object::Ptr record = ParseObject(body);
    if (!record) return {400, R"({"message":"body must be a JSON object"})"};
    std::string reference = record->optValue<std::string>("externalReference", "");
    std::lock_guard<std::mutex> lock(mu_);
    auto& records = records_[kind];
    if (!reference.empty()) {
      auto known = by_reference_[kind].find(reference);
      if (known != by_reference_[kind].end()) {
        return {409, R"({"message":"externalReference already exists","id":")" + known->second +
                         "\"}"};
      }
    }
    std::string id = kind + "_" + std::to_string(++next_id_);
    for (const char* reserved : {"notesHistory", "activities", "deals"}) record->remove(reserved);
    record->set("id", id);
    records[id] = record;
    if (!reference.empty()) by_reference_[kind][reference] = id;
    RecordNotes(kind, id, record);
    QueueWebhooks(kind + ".created", id, record);
    return {201, Stringify(record)};
  }

  std::pair<int, std::string> Update(const std::string& kind, const std::string& id,
                                     const std::string& body, const std::string& origin) {
    Object::Ptr changes = ParseObject(body);
    if (!changes) return {400, R"({"message":"body must be a JSON object"})"};
    std::lock_guard<std::mutex> lock(mu_);
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
      if (by_reference_[kind][old_reference] == id) by_reference_[kind].erase(old_reference);
      if (!new_reference.empty()) by_reference_[kind][new_reference] = id;
    }
    it->second->set("updatedBy", origin);
    if (origin == "api") RecordNotes(kind, id, changes);
    QueueWebhooks(kind + ".updated", id, changes);
    return {200, Stringify(it->second)};
  }

  std::pair<int, std::string> CrmSideChange(const std::string& id, const std::string& body) {
    return Update("lead", id, body, "crm");
  }

  std::pair<int, std::string> Lookup(const std::string& kind, const Poco::URI& uri) {
    std::string reference;
    for (const auto& [k, v] : uri.getQueryParameters()) {
      if (k == "externalReference") reference = v;
    }
    std::lock_guard<std::mutex> lock(mu_);
    Array::Ptr results = new Array();
    if (reference.empty()) {  // the records without a reference: rare, scanned
      for (auto& [id, record] : records_[kind]) {
        if (record->optValue<std::string>("externalReference", "").empty()) results->add(record);
      }
    } else {
      auto known = by_reference_[kind].find(reference);
      if (known != by_reference_[kind].end()) results->add(records_[kind][known->second]);
    }
    Object::Ptr answer = new Object();
    answer->set("results", results);
    return {200, Stringify(answer)};
  }

  std::pair<int, std::string> AddChild(const std::string& lead_id, const std::string& what,
                                       const std::string& body) {
    Object::Ptr child = ParseObject(body);
    if (!child) return {400, R"({"message":"body must be a JSON object"})"};
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_["lead"].find(lead_id);
    if (it == records_["lead"].end()) return {404, R"({"message":"lead not found"})"};
    Array::Ptr list = it->second->getArray(what);
    if (!list) {
      list = new Array();
      it->second->set(what, list);
    }
    std::string id = std::string(what == "activities" ? "activity" : "deal") + "_" +
                     std::to_string(++next_id_);
    child->set("id", id);
    list->add(child);
    return {201, Stringify(child)};
  }

  std::pair<int, std::string> RegisterWebhook(const std::string& body) {
    Object::Ptr request = ParseObject(body);
    if (!request || !request->has("url")) return {400, R"({"message":"url is required"})"};
    Webhook hook;
    hook.url = request->getValue<std::string>("url");
    hook.secret = request->optValue<std::string>("secret", "");
    if (Array::Ptr events = request->getArray("events")) {
      for (size_t i = 0; i < events->size(); ++i) hook.events.push_back(events->getElement<std::string>(static_cast<unsigned>(i)));
    }
    std::lock_guard<std::mutex> lock(mu_);
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

  Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int next_id_ = 0;
  std::map<std::string, std::map<std::string, Object::Ptr>> records_;
  /// kind -> externalReference -> id: creates and lookups without a scan of
  /// every record (a scan made the CRM, not crmsync, the ceiling of benchmarks).
  std::map<std::string, std::map<std::string, std::string>> by_reference_;
  std::vector<Webhook> webhooks_;
  std::deque<Outgoing> outgoing_;
  std::map<std::string, int> requests_;
  std::map<int, int> webhook_results_;
  std::condition_variable idempotency_cv_;            // an in-progress key got its answer
  std::map<std::string, Remembered> idempotency_;      // by Idempotency-Key value
  int idempotent_replays_ = 0;
  // kind -> id -> the notes of every applied API create/update, in order.
  std::map<std::string, std::map<std::string, std::vector<std::string>>> notes_history_;
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
      std::cout << "usage: reference-crm [--host H] [--port P] [--api-key K] [--api-secret S]\n";
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << "reference-crm: " << flag << " needs a value\n";
      return 64;
    }
    std::string value = argv[++i];
    if (flag == "--host") options.host = value;
    else if (flag == "--port") options.port = std::atoi(value.c_str());
    else if (flag == "--api-key") options.api_key = value;
    else if (flag == "--api-secret") options.api_secret = value;
    else {
      std::cerr << "reference-crm: unknown flag " << flag << "\n";
      return 64;
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
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
  params->setMaxThreads(32);
  Poco::Net::HTTPServer server(new Factory(crm), socket, params);
  server.start();
  std::cout << "reference-crm listening on http://" << options.host << ":"
            << socket.address().port() << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server.stopAll(true);
  return 0;
}
