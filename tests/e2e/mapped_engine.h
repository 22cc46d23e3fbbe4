// The real crmsync binary with generic-rest-crm and a mapping file, against a
// CRM stand-in, for e2e tests of the shipped mappings: outbound lifecycles
// (crm_mappings_test.cpp) and inbound deliveries, polling and fetch
// (crm_inbound_test.cpp). Started on a free port, waited for by its status
// endpoint, stopped with SIGTERM (or killed with SIGKILL by a test).
#ifndef CRMSYNC_TESTS_E2E_MAPPED_ENGINE_H_
#define CRMSYNC_TESTS_E2E_MAPPED_ENGINE_H_

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/URI.h>

#include "test_support.h"

namespace crmsync::testing {

using Poco::JSON::Array;
using Poco::JSON::Object;

inline Object::Ptr Parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}
inline std::string Stringify(const Object::Ptr& object) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(object, out);
  return out.str();
}
// The text of `key` in `object` (numbers as their digits); "" when absent or null.
inline std::string Text(const Object::Ptr& object, const std::string& key) {
  if (!object || !object->has(key) || object->isNull(key)) return "";
  return object->get(key).convert<std::string>();
}

// The binary with generic-rest-crm, the mapping file `mapping` and the stand-in at `crm_url`,
// its webhook at http://127.0.0.1:<port>/api/v1/crm/webhook under
// `webhook_secret`, on the store `store` (kept across engines by the caller).
class MappedEngine {
 public:
  MappedEngine(const std::string& store, const std::string& mapping, const std::string& crm_url,
         const std::string& webhook_secret, const std::vector<std::string>& extra,
         const std::map<std::string, std::string>& env)
      : token_(std::to_string(getpid()) + "-" + std::to_string(port_)) {
    const std::vector<std::string> settings = {
        "server.port=" + std::to_string(port_), "store.path=" + store,
        "plugins.dir=" CRMSYNC_PLUGIN_DIR, "crm.plugin=generic-rest-crm",
        "crm.mapping=" + mapping, "crm.api.url=" + crm_url,
        "crm.webhook.url=" + WebhookUrl(), "crm.webhook.secret=" + webhook_secret,
        "intake.token=intake-" + token_, "admin.token=admin-" + token_,
        "inbound.agent_emails=dealer-7=asha@acme.example,dealer-9=ravi@acme.example",
        "log.level=warning"};
    std::vector<std::string> args = {"serve"};
    for (const std::string& setting : settings) {
      args.push_back("--set");
      args.push_back(setting);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<ChildProcess>(CRMSYNC_BINARY, args, env);
    REQUIRE_MESSAGE(WaitUntil([&] { return Admin("/api/v1/admin/status").status == 200; }),
                    process_->Stderr());
  }
  ~MappedEngine() {
    if (!killed_) {
      process_->Signal(SIGTERM);
      process_->WaitExit(std::chrono::seconds(20));
    }
  }

  std::string WebhookUrl() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/crm/webhook";
  }

  // SIGKILL: no shutdown of any kind, as a crash or an OOM kill.
  void Kill() {
    process_->Signal(SIGKILL);
    REQUIRE(process_->WaitExit(std::chrono::seconds(20)));
    killed_ = true;
  }

  // Posts a platform event and waits until every job of `entity` is done.
  void Sync(const std::string& event, const std::string& entity) {
    HttpResult posted = PostEvent(event);
    REQUIRE_MESSAGE(posted.status == 202, posted.body);
    ++events_[entity];
    std::string last;
    const bool done = WaitUntil([&] {
      HttpResult r = Admin("/api/v1/admin/jobs?entity=" + entity);
      if (r.status != 200) return false;
      last = r.body;
      Array::Ptr jobs = Parse(r.body)->getArray("jobs");
      if (!jobs || jobs->size() < events_[entity]) return false;
      for (unsigned i = 0; i < jobs->size(); ++i) {
        if (jobs->getObject(i)->getValue<std::string>("state") != "done") return false;
      }
      return true;
    });
    REQUIRE_MESSAGE(done, entity << " did not sync: " << last << "\n" << process_->Stderr());
  }

  HttpResult PostEvent(const std::string& event) {
    return HttpCall(port_, "POST", "/api/v1/events", event,
                       {{"Authorization", "Bearer intake-" + token_}});
  }

  // The engine's mirror of `entity` (kind:id), as the admin API shows it.
  Object::Ptr Mirror(const std::string& entity) {
    HttpResult r = Admin("/api/v1/admin/jobs?entity=" + entity);
    REQUIRE(r.status == 200);
    return Parse(r.body)->getObject("mirror");
  }

  // The platform echoes the lead as the engine now holds it (the mirror), as
  // a platform that applied the change feed sends it back.
  HttpResult EchoMirror(const std::string& entity, const std::string& event_id) {
    Object::Ptr event = new Object;
    event->set("eventId", event_id);
    event->set("type", "lead.status_changed");
    event->set("occurredAt", "2026-12-03T15:00:00Z");
    event->set("data", Mirror(entity));
    return PostEvent(Stringify(event));
  }

  // Sends a request the stand-in made ({method, url, headers, body}) to this
  // engine, the body changed by `edit` when given (a tampered delivery).
  HttpResult Deliver(const Object::Ptr& request, const std::string& body = "") {
    std::map<std::string, std::string> headers;
    Object::Ptr given = request->getObject("headers");
    for (const auto& [name, value] : *given) headers[name] = value.convert<std::string>();
    Poco::URI uri(request->getValue<std::string>("url"));
    return HttpCall(port_, request->getValue<std::string>("method"), uri.getPathEtc(),
                       body.empty() ? request->getValue<std::string>("body") : body, headers);
  }

  // Delivers `request` (its body replaced by `body` when given) and checks
  // that it is refused with 401 for `reason`: the answer says only
  // "unauthorized", the metric counts one more refusal of that kind.
  void ExpectRefused(const Object::Ptr& request, const std::string& reason,
                     const std::string& body = "") {
    const double before = Refused(reason);
    HttpResult r = Deliver(request, body);
    CHECK_MESSAGE(r.status == 401, r.status << " " << r.body);
    CHECK(Refused(reason) == before + 1);
  }

  // Delivers `request`, expects 202, and waits for the feed's first entry
  // about `entity`, whose status must be `status`; returns the entry.
  Object::Ptr ExpectApplied(const Object::Ptr& request, const std::string& entity,
                            const std::string& status) {
    HttpResult r = Deliver(request);
    CHECK_MESSAGE(r.status == 202, r.status << " " << r.body);
    Object::Ptr change = WaitChanges(entity, 1);
    CHECK(Text(change->getObject("fields"), "status") == status);
    return change;
  }

  // The change feed's entries about `entity`, in order.
  std::vector<Object::Ptr> ChangesOf(const std::string& entity) {
    HttpResult r = HttpCall(port_, "GET", "/api/v1/changes?after=0", "",
                                  {{"Authorization", "Bearer intake-" + token_}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    Array::Ptr changes = Parse(r.body)->getArray("changes");
    std::vector<Object::Ptr> out;
    for (unsigned i = 0; i < changes->size(); ++i) {
      if (Text(changes->getObject(i), "entity") == entity) out.push_back(changes->getObject(i));
    }
    return out;
  }

  // Waits until the feed holds `count` entries about `entity`; the last one.
  Object::Ptr WaitChanges(const std::string& entity, size_t count) {
    REQUIRE_MESSAGE(WaitUntil([&] { return ChangesOf(entity).size() >= count; }),
                    entity << " has " << ChangesOf(entity).size() << " feed entries, not "
                           << count << "\n" << InboundMetrics()
                           << Admin("/api/v1/admin/audit?entity=" + entity).body << "\n"
                           << process_->Stderr());
    std::vector<Object::Ptr> changes = ChangesOf(entity);
    CHECK(changes.size() == count);
    return changes.back();
  }

  // The value of one series in /metrics (name{label="x"}); 0 when absent.
  double Metric(const std::string& series) {
    HttpResult r = HttpCall(port_, "GET", "/metrics");
    REQUIRE(r.status == 200);
    const std::string key = "\n" + series + " ";
    const size_t at = ("\n" + r.body).find(key);
    return at == std::string::npos ? 0 : std::stod(r.body.substr(at + key.size() - 1));
  }

  // Deliveries refused for `reason` (missing, bad_signature, stale,
  // malformed): the 401's body says only "unauthorized", the metric says why.
  double Refused(const std::string& reason) {
    return Metric("crmsync_webhook_deliveries_total{result=\"refused_" + reason + "\"}");
  }

  std::string Stderr() const { return process_->Stderr(); }

  // Where the CLI finds this engine: --set words for server.port and
  // admin.token (the reconcile and resync commands).
  std::vector<std::string> CliSettings() const {
    return {"--set", "server.port=" + std::to_string(port_), "--set", "admin.token=admin-" + token_};
  }
  // An admin API call.
  HttpResult AdminCall(const std::string& method, const std::string& path,
                       const std::string& body = "") {
    return HttpCall(port_, method, path, body, {{"Authorization", "Bearer admin-" + token_}});
  }

  // The /metrics lines about inbound work, for failure messages.
  std::string InboundMetrics() {
    std::istringstream lines(HttpCall(port_, "GET", "/metrics").body);
    std::string line;
    std::string out;
    while (std::getline(lines, line)) {
      if (line.rfind("crmsync_inbound", 0) == 0 || line.rfind("crmsync_webhook", 0) == 0 ||
          line.rfind("crmsync_poll", 0) == 0 || line.rfind("crmsync_echo", 0) == 0) {
        out += line + "\n";
      }
    }
    return out;
  }

 private:
  HttpResult Admin(const std::string& path) {
    return HttpCall(port_, "GET", path, "", {{"Authorization", "Bearer admin-" + token_}});
  }

  int port_ = FreePort();
  std::string token_;
  bool killed_ = false;
  std::map<std::string, size_t> events_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace crmsync::testing

#endif  // CRMSYNC_TESTS_E2E_MAPPED_ENGINE_H_
