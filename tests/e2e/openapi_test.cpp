// The OpenAPI document (docs/openapi.yaml, served at GET /api/v1/openapi.json)
// against what the service really does:
//   - every route the service's router holds is in the document, and every
//     documented operation is a route (the router's own listing, in process);
//   - a copy of the real `crmsync` binary, run from a folder with no source tree,
//     serves the document, answers every documented operation (no 404/405),
//     and its real answers for the cases below validate against the document's
//     schemas with validators we did not write: @seriousme/openapi-schema-validator
//     checks the document against the OpenAPI 3.1 schema, Ajv (Ajv2020 +
//     ajv-formats) checks each answer, the `yaml` package checks that the served
//     JSON is what docs/openapi.yaml says (tests/e2e/openapi/validate.mjs);
//   - the unversioned paths still answer, marked deprecated.
//
// node (18 or later) and npm are required: when either is missing the test fails
// saying so (scripts/test.sh installs them). The npm packages, pinned, are
// installed into <build>/openapi-test when missing. The exchanges and the
// served document are kept there (exchanges.json, openapi.json).
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "app/service.h"
#include "config/settings.h"
#include "http/openapi.h"
#include "test_support.h"

namespace t = crmsync::testing;
namespace fs = std::filesystem;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

const std::string kTestDir = CRMSYNC_BINARY_DIR "/openapi-test";
const std::vector<std::string> kPackages = {"ajv@8.20.0", "ajv-formats@3.0.1",
                                            "@seriousme/openapi-schema-validator@2.11.0",
                                            "yaml@2.9.1"};
const std::string kAdminToken = "admin-secret-oa";
const std::string kIntakeToken = "intake-secret-oa";
const std::string kWebhookSecret = "webhook-secret-oa";
const std::set<std::string> kMethods = {"get", "put", "post", "delete", "options", "head", "patch",
                                        "trace"};

Object::Ptr ParseObject(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Object::Ptr>();
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  return text;
}

// "#/paths/~1api~1v1~1admin~1dlq~1%7Bid%7D" -> "/api/v1/admin/dlq/{id}".
std::string PathOfRef(const std::string& ref) {
  std::string pointer = ref.substr(std::string("#/paths/").size());
  std::string out;
  for (size_t i = 0; i < pointer.size(); ++i) {
    if (pointer.compare(i, 2, "~1") == 0) {
      out += '/';
      ++i;
    } else if (pointer.compare(i, 2, "~0") == 0) {
      out += '~';
      ++i;
    } else if (pointer.compare(i, 3, "%7B") == 0) {
      out += '{';
      i += 2;
    } else if (pointer.compare(i, 3, "%7D") == 0) {
      out += '}';
      i += 2;
    } else {
      out += pointer[i];
    }
  }
  return out;
}

// The documented operations as "METHOD path", a path item's $ref followed.
std::set<std::string> DocumentedOperations(const Object::Ptr& doc, std::string* problems) {
  std::set<std::string> ops;
  Object::Ptr paths = doc->getObject("paths");
  for (const std::string& path : paths->getNames()) {
    Object::Ptr item = paths->getObject(path);
    if (item->has("$ref")) {
      const std::string target = PathOfRef(item->getValue<std::string>("$ref"));
      if (!paths->has(target)) {
        *problems += path + ": $ref to " + target + ", not a documented path\n";
        continue;
      }
      item = paths->getObject(target);
    }
    for (const std::string& key : item->getNames()) {
      if (kMethods.count(key)) ops.insert(Poco::toUpper(key) + " " + path);
    }
  }
  return ops;
}

// The validators' node_modules, installed with npm when missing; "" with `*why`.
// Installed into a folder of this process's own and moved into place whole, so
// test cases run in parallel never see (or make) a half-installed folder.
std::string EnsurePackages(const std::string& npm, std::string* why) {
  const std::string modules = kTestDir + "/node_modules";
  if (fs::exists(modules + "/ajv/package.json")) return modules;
  const std::string staging = kTestDir + "/staging-" + std::to_string(getpid());
  fs::remove_all(staging);
  fs::create_directories(staging);
  std::vector<std::string> args = {"install", "--prefix", staging};
  args.insert(args.end(), kPackages.begin(), kPackages.end());
  for (const char* flag : {"--no-audit", "--no-fund", "--loglevel=error"}) args.push_back(flag);
  std::string output;
  int rc = t::RunCommand(npm, args, &output);
  std::error_code ec;
  if (rc == 0) fs::rename(staging + "/node_modules", modules, ec);  // lost a race: theirs is whole
  fs::remove_all(staging, ec);
  if (rc != 0 || !fs::exists(modules + "/ajv/package.json")) {
    *why = "npm install of " + std::to_string(kPackages.size()) + " validator packages into " +
           staging + " failed (exit " + std::to_string(rc) + "):\n" + output;
    return "";
  }
  return modules;
}

// Records real exchanges with the running binary for validate.mjs.
class Recorder {
 public:
  explicit Recorder(int port) : port_(port), exchanges_(new Array()) {}

  // Sends the request and records it as an exchange of documented `route`.
  t::HttpResult Call(const std::string& name, const std::string& method, const std::string& route,
                     const std::string& path, const std::string& body = "",
                     std::map<std::string, std::string> headers = {}) {
    if (!body.empty() && headers.count("Content-Type") == 0) {
      headers["Content-Type"] = "application/json";
    }
    t::HttpResult r = t::HttpCall(port_, method, path, body, headers);
    Object::Ptr exchange(new Object());
    exchange->set("name", name);
    exchange->set("method", method);
    exchange->set("route", route);
    exchange->set("path", path);
    exchange->set("status", r.status);
    Object::Ptr response_headers(new Object());
    for (const auto& [key, value] : r.headers) response_headers->set(Lower(key), value);
    exchange->set("headers", response_headers);
    exchange->set("body", r.body);
    exchanges_->add(exchange);
    return r;
  }
  std::map<std::string, std::string> Admin() const {
    return {{"Authorization", "Bearer " + kAdminToken}};
  }
  std::map<std::string, std::string> Intake() const {
    return {{"Authorization", "Bearer " + kIntakeToken}};
  }
  std::string Json() const {
    std::ostringstream out;
    Poco::JSON::Stringifier::stringify(exchanges_, out);
    return out.str();
  }
  size_t size() const { return exchanges_->size(); }

 private:
  int port_;
  Array::Ptr exchanges_;
};

std::string LeadCreated(const std::string& event_id, const std::string& lead) {
  return "{\"eventId\":\"" + event_id +
         "\",\"type\":\"lead.created\",\"occurredAt\":\"2026-11-23T10:15:00Z\",\"data\":{\"id\":\"" +
         lead + "\",\"name\":\"Asha Rao\",\"email\":\"asha@example.com\",\"status\":\"NEW\"}}";
}

}  // namespace

TEST_SUITE("e2e.openapi") {
  TEST_CASE("every route the service serves is documented and every documented operation is served") {
    t::TempDir dir;
    crmsync::config::LoadOptions load;
    load.config_file = dir.File("crmsync.properties");
    t::WriteFile(load.config_file, "# empty\n");
    load.overrides = {"store.path=" + dir.File("crmsync.db"), "plugins.dir=" CRMSYNC_PLUGIN_DIR,
                      "ui.dir=" CRMSYNC_SOURCE_DIR "/ui", "log.level=warning"};
    std::vector<crmsync::config::Diagnostic> diagnostics;
    auto settings = crmsync::config::Settings::Load(load, &diagnostics);
    std::string error;
    auto service = crmsync::engine::Service::Create(settings, &error);
    REQUIRE_MESSAGE(service, error);

    Object::Ptr doc = ParseObject(std::string(crmsync::engine::OpenApiJson()));
    CHECK(doc->getValue<std::string>("openapi").rfind("3.1.", 0) == 0);
    std::string problems;
    std::set<std::string> documented = DocumentedOperations(doc, &problems);
    CHECK_MESSAGE(problems.empty(), problems);
    Object::Ptr paths = doc->getObject("paths");

    std::set<std::string> served;
    for (const crmsync::engine::RouteInfo& route : service->router().Routes()) {
      const std::string op = route.method + " " + route.path;
      CAPTURE(op);
      CHECK_MESSAGE(served.insert(op).second, "registered twice: " << op);
      CHECK_MESSAGE(documented.count(op) == 1, op << " is served but not in docs/openapi.yaml");
      if (!route.successor.empty()) {
        // An alias is documented as a $ref to its successor's path item.
        REQUIRE(paths->has(route.path));
        Object::Ptr item = paths->getObject(route.path);
        CHECK_MESSAGE(item->has("$ref"), route.path << " should be a $ref to " << route.successor);
        if (item->has("$ref")) {
          CHECK(PathOfRef(item->getValue<std::string>("$ref")) == route.successor);
        }
      } else if (route.path.rfind(crmsync::engine::kApiV1, 0) != 0) {
        // Only health, metrics and the dashboard live outside /api/v1/.
        CHECK_MESSAGE((route.path == "/healthz" || route.path == "/readyz" ||
                       route.path == "/metrics" || route.path.rfind("/ui", 0) == 0),
                      route.path << " is outside /api/v1/");
      }
    }
    for (const std::string& op : documented) {
      CHECK_MESSAGE(served.count(op) == 1, op << " is in docs/openapi.yaml but not served");
    }
    CHECK(served.count("POST /api/v1/events") == 1);
    CHECK(served.count("POST /api/events") == 1);
  }

  TEST_CASE("the running binary's answers validate against the document") {
    const std::string node = t::FindOnPath("node");
    const std::string npm = t::FindOnPath("npm");
    REQUIRE_MESSAGE(!node.empty(), "node is not on PATH: install Node.js 18 or later "
                                   "(INSTALL_BROWSER=1 scripts/install-deps.sh, as scripts/test.sh does)");
    REQUIRE_MESSAGE(!npm.empty(), "npm is not on PATH: install npm (it installs the validators)");
    std::string why;
    const std::string modules = EnsurePackages(npm, &why);
    REQUIRE_MESSAGE(!modules.empty(), why);

    // The binary alone in a folder of its own: the document must come from
    // inside it, not from a source tree found beside it.
    t::TempDir dir;
    const std::string binary = dir.File("bin/crmsync");
    fs::create_directories(dir.File("bin"));
    fs::copy_file(CRMSYNC_BINARY, binary);
    fs::permissions(binary, fs::perms::owner_all);
    const int port = t::FreePort();
    t::ChildProcess process(
        binary, {"serve", "--set", "server.port=" + std::to_string(port), "--set",
                 "store.path=" + dir.File("var/crmsync.db"), "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR,
                 "--set", "ui.dir=" CRMSYNC_SOURCE_DIR "/ui", "--set", "admin.token=" + kAdminToken,
                 "--set", "intake.token=" + kIntakeToken, "--set", "crm.webhook.secret=" + kWebhookSecret,
                 "--set", "crm.mock-crm.faults.lead.create=422", "--set", "crm.retry.attempts=0",
                 "--set", "server.max_body_bytes=65536", "--set", "log.level=warning"});
    REQUIRE_MESSAGE(t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }),
                    process.Stderr());
    Recorder rec(port);

    // The document itself, served from the binary.
    t::HttpResult served = rec.Call("openapi document", "GET", "/api/v1/openapi.json",
                                    "/api/v1/openapi.json");
    REQUIRE(served.status == 200);
    CHECK(served.headers["Content-Type"] == "application/json");
    CHECK(served.body == std::string(crmsync::engine::OpenApiJson()));
    Object::Ptr doc = ParseObject(served.body);

    // Every documented operation is served: none answers 404 or 405.
    std::string problems;
    for (const std::string& op : DocumentedOperations(doc, &problems)) {
      const std::string method = op.substr(0, op.find(' '));
      std::string path = op.substr(op.find(' ') + 1);
      for (auto [param, value] : {std::pair<std::string, std::string>{"{id}", "1"}, {"{folder}", "img"}, {"{file}", "app.js"}}) {
        size_t at = path.find(param);
        if (at != std::string::npos) path.replace(at, param.size(), value);
      }
      t::HttpResult r = t::HttpCall(port, method, path);
      CAPTURE(op);
      CHECK_MESSAGE((r.status != 404 || r.body.find("no such endpoint") == std::string::npos),
                    op << ": " << r.body);
      CHECK(r.status != 405);
      CHECK(r.status != 0);
    }

    // Intake: accepted, repeated, invalid, unknown type, unauthorized, too large.
    const std::string lead = "lead-oa-1";
    t::HttpResult accepted = rec.Call("event accepted", "POST", "/api/v1/events", "/api/v1/events",
                                      LeadCreated("evt-oa-1", lead), rec.Intake());
    REQUIRE_MESSAGE(accepted.status == 202, accepted.body);
    CHECK(rec.Call("event repeated", "POST", "/api/v1/events", "/api/v1/events",
                   LeadCreated("evt-oa-1", lead), rec.Intake())
              .status == 200);
    CHECK(rec.Call("event batch accepted", "POST", "/api/v1/events", "/api/v1/events",
                   "{\"events\":[" + LeadCreated("evt-oa-2", "lead-oa-2") + "," +
                       LeadCreated("evt-oa-3", "lead-oa-3") + "]}",
                   rec.Intake())
              .status == 202);
    t::HttpResult invalid = rec.Call(
        "event invalid", "POST", "/api/v1/events", "/api/v1/events",
        R"({"eventId": "evt 3", "type": "lead.created", "data": {"email": "nope"}})", rec.Intake());
    CHECK(invalid.status == 400);
    CHECK(invalid.body.find("$.eventId") != std::string::npos);
    CHECK(rec.Call("event not JSON", "POST", "/api/v1/events", "/api/v1/events", "{nope",
                   rec.Intake())
              .status == 400);
    CHECK(rec.Call("event unknown type", "POST", "/api/v1/events", "/api/v1/events",
                   R"({"eventId":"e9","type":"lead.exploded","occurredAt":"2026-11-23T10:15:00Z","data":{}})",
                   rec.Intake())
              .status == 422);
    t::HttpResult unauthorized = rec.Call("event unauthorized", "POST", "/api/v1/events",
                                          "/api/v1/events", LeadCreated("evt-oa-x", lead));
    CHECK(unauthorized.status == 401);
    CHECK(unauthorized.headers["WWW-Authenticate"] == "Bearer");
    CHECK(rec.Call("event too large", "POST", "/api/v1/events", "/api/v1/events",
                   std::string(70000, ' '), rec.Intake())
              .status == 413);

    // Admin: status, and the dead letter the 422 fault makes.
    CHECK(rec.Call("admin status", "GET", "/api/v1/admin/status", "/api/v1/admin/status", "",
                   rec.Admin())
              .status == 200);
    CHECK(rec.Call("admin status unauthorized", "GET", "/api/v1/admin/status",
                   "/api/v1/admin/status")
              .status == 401);
    // Shadow mode is off here: its summary is a 404 naming the setting.
    CHECK(rec.Call("shadow off", "GET", "/api/v1/shadow", "/api/v1/shadow", "", rec.Admin())
              .status == 404);
    int64_t dead_letter = 0;
    REQUIRE_MESSAGE(t::WaitUntil([&] {
                      t::HttpResult list = t::HttpCall(port, "GET", "/api/v1/admin/dlq", "", rec.Admin());
                      Array::Ptr items = ParseObject(list.body)->getArray("deadLetters");
                      if (!items || items->size() == 0) return false;
                      dead_letter = items->getObject(0)->getValue<int64_t>("id");
                      return true;
                    }),
                    process.Stderr());
    const std::string one = "/api/v1/admin/dlq/" + std::to_string(dead_letter);
    CHECK(rec.Call("dlq list", "GET", "/api/v1/admin/dlq", "/api/v1/admin/dlq?limit=10", "",
                   rec.Admin())
              .status == 200);
    CHECK(rec.Call("dlq list bad filter", "GET", "/api/v1/admin/dlq", "/api/v1/admin/dlq?since=yesterday",
                   "", rec.Admin())
              .status == 400);
    CHECK(rec.Call("dlq show", "GET", "/api/v1/admin/dlq/{id}", one, "", rec.Admin()).status == 200);
    CHECK(rec.Call("dlq show bad id", "GET", "/api/v1/admin/dlq/{id}", "/api/v1/admin/dlq/abc", "",
                   rec.Admin())
              .status == 400);
    CHECK(rec.Call("dlq show unknown", "GET", "/api/v1/admin/dlq/{id}", "/api/v1/admin/dlq/999999",
                   "", rec.Admin())
              .status == 404);
    CHECK(rec.Call("jobs", "GET", "/api/v1/admin/jobs", "/api/v1/admin/jobs?entity=lead:" + lead, "",
                   rec.Admin())
              .status == 200);
    CHECK(rec.Call("jobs without entity", "GET", "/api/v1/admin/jobs", "/api/v1/admin/jobs", "",
                   rec.Admin())
              .status == 400);
    CHECK(rec.Call("jobs unknown entity", "GET", "/api/v1/admin/jobs",
                   "/api/v1/admin/jobs?entity=property:nope", "", rec.Admin())
              .status == 200);
    CHECK(rec.Call("audit", "GET", "/api/v1/admin/audit", "/api/v1/admin/audit?entity=lead:" + lead,
                   "", rec.Admin())
              .status == 200);
    CHECK(rec.Call("dlq replay one", "POST", "/api/v1/admin/dlq/{id}/replay", one + "/replay", "",
                   rec.Admin())
              .status == 200);
    CHECK(rec.Call("dlq replay again", "POST", "/api/v1/admin/dlq/{id}/replay", one + "/replay", "",
                   rec.Admin())
              .status == 409);
    CHECK(rec.Call("dlq show replayed", "GET", "/api/v1/admin/dlq/{id}", one, "", rec.Admin())
              .status == 200);
    CHECK(rec.Call("dlq replay matching", "POST", "/api/v1/admin/dlq/replay",
                   "/api/v1/admin/dlq/replay?entity=lead:" + lead, "", rec.Admin())
              .status == 200);
    for (const char* action : {"pause", "resume", "disable", "enable"}) {
      const std::string path = std::string("/api/v1/admin/sync/") + action;
      CHECK(rec.Call(std::string("sync ") + action, "POST", path, path, R"({"reason":"openapi test"})",
                     rec.Admin())
                .status == 200);
    }
    CHECK(rec.Call("sync bad body", "POST", "/api/v1/admin/sync/enable", "/api/v1/admin/sync/enable",
                   R"({"reason": 7})", rec.Admin())
              .status == 400);

    // The replayed lead reaches the CRM (the fault script is used up); the CRM
    // then changes it: a webhook, and the change in the feed.
    std::string crm_id;
    REQUIRE_MESSAGE(t::WaitUntil([&] {
                      t::HttpResult dump = t::HttpCall(port, "GET", "/api/v1/admin/crm/dump", "", rec.Admin());
                      Array::Ptr leads = ParseObject(dump.body)->getArray("leads");
                      for (size_t i = 0; leads && i < leads->size(); ++i) {
                        if (leads->getObject(i)->getValue<std::string>("externalReference") ==
                            "lead:" + lead) {
                          crm_id = leads->getObject(i)->getValue<std::string>("id");
                        }
                      }
                      return !crm_id.empty();
                    }),
                    process.Stderr());
    CHECK(rec.Call("crm dump", "GET", "/api/v1/admin/crm/dump", "/api/v1/admin/crm/dump", "",
                   rec.Admin())
              .status == 200);
    const std::string change = "{\"event\":\"lead.updated\",\"entityId\":\"" + crm_id +
                               "\",\"data\":{\"status\":\"lost\",\"notes\":\"Bought elsewhere\"}}";
    const std::map<std::string, std::string> signed_headers = {
        {"X-CRM-Secret", kWebhookSecret}, {"X-CRM-Event", "lead.updated"}, {"X-CRM-Delivery", "d-oa-1"}};
    CHECK(rec.Call("webhook accepted", "POST", "/api/v1/crm/webhook", "/api/v1/crm/webhook", change,
                   signed_headers)
              .status == 202);
    CHECK(rec.Call("webhook duplicate", "POST", "/api/v1/crm/webhook", "/api/v1/crm/webhook", change,
                   signed_headers)
              .status == 200);
    CHECK(rec.Call("webhook ignored", "POST", "/api/v1/crm/webhook", "/api/v1/crm/webhook",
                   R"({"event":"lead.merged","entityId":"x","data":{}})",
                   {{"X-CRM-Secret", kWebhookSecret}, {"X-CRM-Event", "lead.merged"}})
              .status == 202);
    CHECK(rec.Call("webhook wrong secret", "POST", "/api/v1/crm/webhook", "/api/v1/crm/webhook",
                   change, {{"X-CRM-Secret", "wrong"}, {"X-CRM-Event", "lead.updated"}})
              .status == 401);
    CHECK(rec.Call("webhook malformed", "POST", "/api/v1/crm/webhook", "/api/v1/crm/webhook",
                   "{not json", {{"X-CRM-Secret", kWebhookSecret}, {"X-CRM-Event", "lead.updated"}})
              .status == 400);
    REQUIRE_MESSAGE(t::WaitUntil([&] {
                      t::HttpResult feed = t::HttpCall(port, "GET", "/api/v1/changes?after=0", "", rec.Intake());
                      Array::Ptr changes = ParseObject(feed.body)->getArray("changes");
                      return changes && changes->size() > 0;
                    }),
                    process.Stderr());
    CHECK(rec.Call("change feed", "GET", "/api/v1/changes", "/api/v1/changes?after=0&limit=10", "",
                   rec.Intake())
              .status == 200);
    CHECK(rec.Call("change feed bad limit", "GET", "/api/v1/changes", "/api/v1/changes?limit=0", "",
                   rec.Intake())
              .status == 400);
    CHECK(rec.Call("change feed unauthorized", "GET", "/api/v1/changes", "/api/v1/changes").status ==
          401);

    // Dead letters gone: one deleted, the rest purged.
    CHECK(rec.Call("dlq delete", "DELETE", "/api/v1/admin/dlq/{id}", one, "", rec.Admin()).status ==
          200);
    CHECK(rec.Call("dlq delete unknown", "DELETE", "/api/v1/admin/dlq/{id}", one, "", rec.Admin())
              .status == 404);
    CHECK(rec.Call("dlq purge", "POST", "/api/v1/admin/dlq/purge", "/api/v1/admin/dlq/purge", "",
                   rec.Admin())
              .status == 200);

    // Health, metrics, the dashboard.
    CHECK(rec.Call("healthz", "GET", "/healthz", "/healthz").status == 200);
    t::HttpResult ready = rec.Call("readyz", "GET", "/readyz", "/readyz");
    CHECK((ready.status == 200 || ready.status == 503));
    CHECK(rec.Call("metrics", "GET", "/metrics", "/metrics").status == 200);
    CHECK(rec.Call("ui", "GET", "/ui", "/ui").status == 200);
    CHECK(rec.Call("ui slash", "GET", "/ui/", "/ui/").status == 200);
    CHECK(rec.Call("ui file", "GET", "/ui/{file}", "/ui/app.js").status == 200);
    CHECK(rec.Call("ui missing", "GET", "/ui/{file}", "/ui/nope.js").status == 404);
    CHECK(rec.Call("ui subfolder missing", "GET", "/ui/{folder}/{file}", "/ui/img/nope.svg").status ==
          404);

    // The unversioned paths: the same answers, marked deprecated with their successor.
    t::HttpResult legacy = rec.Call("legacy event", "POST", "/api/events", "/api/events",
                                    LeadCreated("evt-oa-legacy", "lead-oa-legacy"), rec.Intake());
    CHECK(legacy.status == 202);
    CHECK(legacy.headers["Deprecation"] == "@1796256000");
    CHECK(legacy.headers["Link"] == "</api/v1/events>; rel=\"successor-version\"");
    t::HttpResult legacy_status =
        rec.Call("legacy status", "GET", "/api/admin/status", "/api/admin/status", "", rec.Admin());
    CHECK(legacy_status.status == 200);
    CHECK(legacy_status.headers["Link"] == "</api/v1/admin/status>; rel=\"successor-version\"");
    t::HttpResult legacy_one =
        rec.Call("legacy dlq show", "GET", "/api/admin/dlq/{id}", "/api/admin/dlq/999999", "", rec.Admin());
    CHECK(legacy_one.status == 404);
    CHECK(legacy_one.headers["Link"] == "</api/v1/admin/dlq/999999>; rel=\"successor-version\"");
    CHECK(t::HttpCall(port, "GET", "/api/openapi.json").status == 404);
    CHECK(t::HttpCall(port, "GET", "/api/v1/admin/status", "", rec.Admin()).headers.count("Deprecation") == 0);
    t::HttpResult metrics = t::HttpCall(port, "GET", "/metrics");
    CHECK(metrics.body.find("crmsync_http_deprecated_requests_total{method=\"POST\",path=\"/api/events\"} ") !=
          std::string::npos);
    CHECK((process.Stdout() + process.Stderr()).find("POST /api/events is deprecated: use /api/v1/events") !=
          std::string::npos);

    // Every answer against the document, by validators we did not write.
    const std::string spec_file = kTestDir + "/openapi.json";
    const std::string exchanges_file = kTestDir + "/exchanges.json";
    t::WriteFile(spec_file, served.body);
    t::WriteFile(exchanges_file, rec.Json());
    std::string output;
    int rc = t::RunCommand(node,
                           {CRMSYNC_SOURCE_DIR "/tests/e2e/openapi/validate.mjs", "--modules", modules,
                            "--spec", spec_file, "--yaml", CRMSYNC_SOURCE_DIR "/docs/openapi.yaml",
                            "--exchanges", exchanges_file},
                           &output);
    MESSAGE("validate.mjs: " << output);
    CHECK_MESSAGE(rc == 0, output);
    CHECK(output.find("openapi: ok, " + std::to_string(rec.size()) + " exchanges") != std::string::npos);

    process.Signal(SIGTERM);
    REQUIRE(process.WaitExit(std::chrono::seconds(20)));
    CHECK(process.exit_code() == 0);
  }

  TEST_CASE("the response validator refuses an answer that breaks the document") {
    // The validator itself: a 202 with a wrong body, an undocumented status, a
    // wrong media type and an error without "error" must each be reported.
    const std::string node = t::FindOnPath("node");
    const std::string npm = t::FindOnPath("npm");
    REQUIRE_MESSAGE(!node.empty(), "node is not on PATH");
    REQUIRE_MESSAGE(!npm.empty(), "npm is not on PATH");
    std::string why;
    const std::string modules = EnsurePackages(npm, &why);
    REQUIRE_MESSAGE(!modules.empty(), why);
    t::TempDir dir;
    const std::string spec_file = dir.File("openapi.json");
    t::WriteFile(spec_file, std::string(crmsync::engine::OpenApiJson()));
    auto run = [&](const std::string& exchange) {
      const std::string file = dir.File("exchanges.json");
      t::WriteFile(file, "[" + exchange + "]");
      std::string output;
      int rc = t::RunCommand(node,
                             {CRMSYNC_SOURCE_DIR "/tests/e2e/openapi/validate.mjs", "--modules", modules,
                              "--spec", spec_file, "--yaml", CRMSYNC_SOURCE_DIR "/docs/openapi.yaml",
                              "--exchanges", file},
                             &output);
      return std::make_pair(rc, output);
    };
    auto [ok_rc, ok_out] = run(
        R"({"name":"good","method":"POST","route":"/api/v1/events","status":202,)"
        R"("headers":{"content-type":"application/json"},"body":"{\"accepted\":[{\"eventId\":\"e\",\"jobId\":1}]}"})");
    CHECK_MESSAGE(ok_rc == 0, ok_out);
    const std::vector<std::pair<std::string, std::string>> bad = {
        {R"({"name":"bad body","method":"POST","route":"/api/v1/events","status":202,)"
         R"("headers":{"content-type":"application/json"},"body":"{\"accepted\":[{\"eventId\":\"e\"}]}"})",
         "jobId"},
        {R"({"name":"undocumented status","method":"GET","route":"/api/v1/admin/status","status":418,)"
         R"("headers":{"content-type":"application/json"},"body":"{}"})",
         "418"},
        {R"({"name":"wrong type","method":"GET","route":"/api/v1/admin/status","status":200,)"
         R"("headers":{"content-type":"text/plain"},"body":"hi"})",
         "text/plain"},
        {R"({"name":"error shape","method":"GET","route":"/api/v1/admin/status","status":401,)"
         R"("headers":{"content-type":"application/json"},"body":"{\"message\":\"no\"}"})",
         "error"},
        {R"({"name":"unknown route","method":"GET","route":"/api/v2/nothing","status":200,)"
         R"("headers":{"content-type":"application/json"},"body":"{}"})",
         "/api/v2/nothing"}};
    for (const auto& [exchange, word] : bad) {
      CAPTURE(exchange);
      auto [rc, output] = run(exchange);
      CHECK(rc != 0);
      CHECK_MESSAGE(output.find("FAIL") != std::string::npos, output);
      CHECK_MESSAGE(output.find(word) != std::string::npos, output);
    }
  }
}
