// End to end with the real binary and mock-crm: `crmsync backfill` imports a
// file of existing records through the running service (README "Day one"):
// each good line reaches the CRM once, bad lines are named and skipped,
// --strict stops at the first, and a kill -9 of the service or of the
// command in the middle loses and duplicates nothing once the same command
// runs again. Waits are on events (the run's offset, the command's exit),
// never on time.
#include <doctest/doctest.h>

#include <signal.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "test_support.h"

namespace t = crmsync::testing;

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

// The service and its mock CRM, sharing files in one folder across restarts.
struct Engine {
  t::TempDir dir;
  int port = t::FreePort();
  std::unique_ptr<t::ChildProcess> process;
  std::vector<std::string> extra;

  std::vector<std::string> Sets() const {
    return {"--set", "server.port=" + std::to_string(port), "--set", "admin.token=admin-e2e"};
  }
  void Start() {
    std::vector<std::string> args = {
        "serve", "--set", "store.path=" + dir.File("crmsync.db"), "--set",
        "plugins.dir=" CRMSYNC_PLUGIN_DIR, "--set", "intake.token=intake-e2e", "--set",
        "crm.mock-crm.state_file=" + dir.File("mock-crm.journal"), "--set", "log.level=warning",
        "--set", "workers.count=4"};
    for (const std::string& s : Sets()) args.push_back(s);
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<t::ChildProcess>(CRMSYNC_BINARY, args);
    REQUIRE_MESSAGE(t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }),
                    process->Stderr());
  }
  void Kill() {
    process->Signal(SIGKILL);
    REQUIRE(process->WaitExit(std::chrono::seconds(10)));
  }
  t::HttpResult Admin(const std::string& path) {
    return t::HttpCall(port, "GET", path, "", {{"Authorization", "Bearer admin-e2e"}});
  }
  // The run's figures, or nullptr when the service does not know it (yet).
  Object::Ptr Run(const std::string& run) {
    t::HttpResult r = Admin("/api/v1/backfill/" + run);
    if (r.status != 200) return nullptr;
    return Poco::JSON::Parser().parse(r.body).extract<Object::Ptr>();
  }
  int64_t Offset(const std::string& run) {
    Object::Ptr r = Run(run);
    return r ? r->getValue<int64_t>("nextOffset") : -1;
  }
  // The leads mock-crm holds, by external reference, with their create counts.
  std::map<std::string, int> CrmLeads() {
    std::map<std::string, int> leads;
    t::HttpResult r = Admin("/api/v1/admin/crm/dump");
    REQUIRE(r.status == 200);
    Object::Ptr dump = Poco::JSON::Parser().parse(r.body).extract<Object::Ptr>();
    Array::Ptr list = dump->getArray("leads");
    for (size_t i = 0; list && i < list->size(); ++i) {
      Object::Ptr lead = list->getObject(static_cast<unsigned>(i));
      leads[lead->getValue<std::string>("externalReference")] +=
          lead->getValue<int>("createCount");
    }
    return leads;
  }
  // The backfill command's arguments.
  std::vector<std::string> Backfill(const std::string& file,
                                    const std::vector<std::string>& options = {}) const {
    std::vector<std::string> args = {"backfill", file};
    for (const std::string& s : Sets()) args.push_back(s);
    args.insert(args.end(), options.begin(), options.end());
    return args;
  }
};

// A file of `lines` lead records L<line>; the lines in `bad` carry a bad email.
std::string WriteLeads(const t::TempDir& dir, const std::string& name, int lines,
                       const std::set<int>& bad) {
  std::string path = dir.File(name);
  std::ofstream out(path);
  for (int line = 1; line <= lines; ++line) {
    out << "{\"lead\":{\"id\":\"L" << line << "\",\"name\":\"Lead " << line << "\",\"email\":\""
        << (bad.count(line) ? "not-an-email" : "lead" + std::to_string(line) + "@example.com")
        << "\",\"status\":\"NEW\",\"updatedAt\":\"2025-06-01T10:00:00Z\"}}\n";
  }
  return path;
}

// Every lead of lines 1..`lines` but `bad` is at the CRM, created once; no other.
void CheckCrmHoldsOnce(Engine& engine, int lines, const std::set<int>& bad) {
  std::map<std::string, int> leads = engine.CrmLeads();
  int missing = 0, twice = 0;
  for (int line = 1; line <= lines; ++line) {
    if (bad.count(line)) continue;
    auto it = leads.find("lead:L" + std::to_string(line));
    if (it == leads.end()) {
      ++missing;
    } else if (it->second != 1) {
      ++twice;
    }
  }
  CHECK(missing == 0);
  CHECK(twice == 0);
  CHECK(leads.size() == static_cast<size_t>(lines) - bad.size());
}

}  // namespace

TEST_SUITE("e2e.backfill") {
  TEST_CASE("a backfill with bad lines reaches the CRM once per good line, a re-run adds nothing") {
    Engine engine;
    engine.Start();
    const int kLines = 3000;
    const std::set<int> bad = {7, 1500, 2999};
    std::string file = WriteLeads(engine.dir, "leads.ndjson", kLines, bad);

    std::string output;
    int code = t::RunCommand(CRMSYNC_BINARY, engine.Backfill(file), &output);
    INFO(output);
    CHECK(code == 2);  // done, bad lines skipped
    CHECK(output.find("skipped line 7: $.lead.email: must be an email address") != std::string::npos);
    CHECK(output.find("skipped line 1500: $.lead.email") != std::string::npos);
    CHECK(output.find("not-an-email") == std::string::npos);  // values are not shown
    CHECK(output.find("3,000/3,000 lines") != std::string::npos);
    CHECK(output.find("accepted    2,997") != std::string::npos);
    CHECK(output.find("invalid     3: line 7, 1500, 2999") != std::string::npos);
    CHECK(output.find("synced: no backfill job is left") != std::string::npos);
    // The command waited until the CRM had them.
    CheckCrmHoldsOnce(engine, kLines, bad);

    // The same command again: the run is done; nothing is sent twice.
    std::string again;
    CHECK(t::RunCommand(CRMSYNC_BINARY, engine.Backfill(file), &again) == 2);
    INFO(again);
    CHECK(again.find("resumes at line 3,001") != std::string::npos);
    CheckCrmHoldsOnce(engine, kLines, bad);

    // Figures: the run list, the admin status, the metrics.
    t::HttpResult list = engine.Admin("/api/v1/backfill");
    REQUIRE(list.status == 200);
    Object::Ptr runs = Poco::JSON::Parser().parse(list.body).extract<Object::Ptr>();
    Object::Ptr run = runs->getArray("runs")->getObject(0);
    CHECK(run->getValue<std::string>("state") == "finished");
    CHECK(run->getValue<int64_t>("accepted") == kLines - 3);
    CHECK(run->getValue<int64_t>("invalid") == 3);
    t::HttpResult status = engine.Admin("/api/v1/admin/status");
    CHECK(status.body.find("\"backfill\":{\"running\":0,\"latest\":{\"run\":\"f-") != std::string::npos);
    t::HttpResult metrics = t::HttpCall(engine.port, "GET", "/metrics");
    CHECK(metrics.body.find("crmsync_backfill_lines_total{result=\"accepted\"} 2997") != std::string::npos);
    CHECK(metrics.body.find("crmsync_backfill_lines_total{result=\"invalid\"} 3") != std::string::npos);
    CHECK(metrics.body.find("crmsync_queue_ready_jobs{priority=\"bulk\"} 0") != std::string::npos);

    // stdin, named so it can resume; --no-wait returns after the import.
    std::string stdin_out;
    std::string command = std::string(CRMSYNC_BINARY) + " backfill - --run from-stdin --no-wait";
    for (const std::string& s : engine.Sets()) command += " " + s;
    CHECK(t::RunCommand("/bin/sh", {"-c", command + " < " + file}, &stdin_out) == 2);
    CHECK(stdin_out.find("not waiting (--no-wait)") != std::string::npos);
    CHECK(engine.Offset("from-stdin") == kLines);
    REQUIRE(t::WaitUntil([&] { return t::UnfinishedJobs(engine.port) == 0; }));
    CheckCrmHoldsOnce(engine, kLines, bad);  // the same records: linked and updated, not created
  }

  TEST_CASE("kill -9 of the service mid-backfill: the same command, run again, finishes with each record once") {
    Engine engine;
    engine.Start();
    const int kLines = 6000;
    const std::set<int> bad = {10, 4321};
    std::string file = WriteLeads(engine.dir, "leads.ndjson", kLines, bad);
    std::vector<std::string> args = engine.Backfill(file, {"--run", "kill-service"});

    t::ChildProcess cli(CRMSYNC_BINARY, args);
    REQUIRE_MESSAGE(t::WaitUntil([&] { return engine.Offset("kill-service") >= 2000; }),
                    cli.Stderr());
    engine.Kill();
    REQUIRE(cli.WaitExit(std::chrono::seconds(20)));
    INFO(cli.Stderr());
    CHECK(cli.exit_code() == 1);
    CHECK(cli.Stderr().find("to continue, run: crmsync backfill " + file + " --run kill-service") !=
          std::string::npos);

    engine.Start();
    std::string output;
    int code = t::RunCommand(CRMSYNC_BINARY, args, &output);
    INFO(output);
    CHECK(code == 2);
    CHECK(output.find("run kill-service resumes at line") != std::string::npos);
    CheckCrmHoldsOnce(engine, kLines, bad);
    Object::Ptr run = engine.Run("kill-service");
    REQUIRE(run);
    CHECK(run->getValue<int64_t>("nextOffset") == kLines);
    CHECK(run->getValue<int64_t>("invalid") == 2);
    CHECK(run->getArray("invalidLines")->getObject(0)->getValue<int64_t>("line") == 10);
  }

  TEST_CASE("kill -9 of the command mid-backfill: run again, it continues where the service stands") {
    Engine engine;
    engine.Start();
    const int kLines = 6000;
    std::string file = WriteLeads(engine.dir, "leads.ndjson", kLines, {});
    std::vector<std::string> args = engine.Backfill(file, {"--run", "kill-cli"});

    auto cli = std::make_unique<t::ChildProcess>(CRMSYNC_BINARY, args);
    REQUIRE(t::WaitUntil([&] { return engine.Offset("kill-cli") >= 1000; }));
    cli->Signal(SIGKILL);
    REQUIRE(cli->WaitExit(std::chrono::seconds(10)));
    cli.reset();

    std::string output;
    int code = t::RunCommand(CRMSYNC_BINARY, args, &output);
    INFO(output);
    CHECK(code == 0);
    CHECK(output.find("run kill-cli resumes at line") != std::string::npos);
    CheckCrmHoldsOnce(engine, kLines, {});
  }

  TEST_CASE("--strict stops at the first bad line, nothing of its chunk imported") {
    Engine engine;
    engine.Start();
    std::string file = WriteLeads(engine.dir, "leads.ndjson", 2500, {1500, 2000});
    std::string output;
    int code = t::RunCommand(CRMSYNC_BINARY, engine.Backfill(file, {"--strict", "--run", "strict"}),
                             &output);
    INFO(output);
    CHECK(code == 1);
    CHECK(output.find("--strict: line 1500: $.lead.email: must be an email address") !=
          std::string::npos);
    CHECK(output.find("nothing of lines 1,001-2,000 was imported; 1,000 lines before them were") !=
          std::string::npos);
    Object::Ptr run = engine.Run("strict");
    REQUIRE(run);
    CHECK(run->getValue<std::string>("state") == "stopped");
    CHECK(run->getValue<int64_t>("nextOffset") == 1000);
    REQUIRE(t::WaitUntil([&] { return t::UnfinishedJobs(engine.port) == 0; }));
    CheckCrmHoldsOnce(engine, 1000, {});
  }

  TEST_CASE("backfill's command-line errors are named") {
    Engine engine;  // not started: the command says it cannot reach the service
    std::string output;
    CHECK(t::RunCommand(CRMSYNC_BINARY, {"backfill"}, &output) == 64);
    CHECK(output.find("usage: crmsync backfill FILE.ndjson|-") != std::string::npos);
    CHECK(t::RunCommand(CRMSYNC_BINARY, {"status", "--strict"}, &output) == 64);
    CHECK(output.find("--strict and --run apply to backfill only") != std::string::npos);
    CHECK(t::RunCommand(CRMSYNC_BINARY, engine.Backfill(engine.dir.File("none.ndjson")), &output) == 1);
    CHECK(output.find("cannot read " + engine.dir.File("none.ndjson")) != std::string::npos);
    CHECK(t::RunCommand(CRMSYNC_BINARY, engine.Backfill("-", {"--run", "a:b"}), &output) == 64);
    std::string file = WriteLeads(engine.dir, "leads.ndjson", 3, {});
    CHECK(t::RunCommand(CRMSYNC_BINARY, engine.Backfill(file), &output) == 1);
    CHECK(output.find("cannot reach the service at 127.0.0.1:" + std::to_string(engine.port)) !=
          std::string::npos);
    CHECK(t::RunCommand(CRMSYNC_BINARY, {"--help", "backfill"}, &output) == 0);
    CHECK(output.find("--strict stops at it") != std::string::npos);
  }
}
