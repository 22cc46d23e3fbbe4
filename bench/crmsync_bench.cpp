// crmsync_bench: load figures for the real `crmsync` binary over loopback.
//
//   crmsync_bench [all|intake|latency|e2e|backlog|coalesce] [--clients N] [--events N]
//   crmsync_bench scaleout --pg-url CONNINFO_PREFIX --redis-url URL [--events N]
//                          [--queue redis|store]
//
// Each scenario starts the binary on a fresh store in /tmp, drives it with
// keep-alive HTTP clients in this process, and prints what it measured.
// Client and server share this machine's cores; the figures say so.
//
// scaleout (not part of all; bench/scale_out.sh starts the servers and runs
// it): 1, 2 and 3 engines with queue.backend=redis and store.backend=postgres
// share one Redis and one PostgreSQL database (CONNINFO_PREFIX + the engine
// count, e.g. "host=... dbname=bench_" -> bench_1, which must exist, empty)
// and sync to one sink, tools/reference-crm through generic-rest-crm.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int FreePort() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  return socket.address().port();
}

// Starts `args` (program first) as a child with stdout to /dev/null.
pid_t Spawn(std::vector<std::string> args) {
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// One `crmsync serve` child with its own store folder.
class Engine {
 public:
  explicit Engine(const std::vector<std::string>& extra) : port_(FreePort()) {
    char pattern[] = "/tmp/crmsync-bench-XXXXXX";
    dir_ = mkdtemp(pattern);
    std::vector<std::string> args = {CRMSYNC_BINARY, "serve",
                                     "--set", "server.port=" + std::to_string(port_),
                                     "--set", "store.path=" + dir_ + "/crmsync.db",
                                     "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR,
                                     "--set", "intake.token=bench",
                                     "--set", "admin.token=bench",
                                     "--set", "log.level=warning",
                                     "--set", "server.threads=96",
                                     "--set", "server.queue=1024"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = Spawn(args);
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline && !Healthy()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ~Engine() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    Poco::File(dir_).remove(true);
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  bool Healthy() { return Get("/healthz").first == 200; }

  std::pair<int, std::string> Get(const std::string& path) { return Call("GET", path, ""); }

  std::pair<int, std::string> Call(const std::string& method, const std::string& path,
                                   const std::string& body) {
    try {
      Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port_));
      Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
      req.set("Authorization", "Bearer bench");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
      s.sendRequest(req) << body;
      Poco::Net::HTTPResponse resp;
      std::string out;
      Poco::StreamCopier::copyToString(s.receiveResponse(resp), out);
      return {static_cast<int>(resp.getStatus()), out};
    } catch (const Poco::Exception&) {
      return {0, ""};
    }
  }

  // A gauge or counter value from /metrics (summed over label sets that match).
  double Metric(const std::string& prefix) {
    std::string text = Get("/metrics").second;
    double total = 0;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(prefix, 0) == 0) total += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return total;
  }

  double Pending() {
    double total = 0;
    for (const char* s : {"ready", "queued", "delayed", "leased"}) {
      total += Metric(std::string("crmsync_queue_jobs{state=\"") + s + "\"}");
    }
    return total;
  }

  // Peak resident set size of the engine process, in MiB.
  double PeakRssMb() {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    }
    return 0;
  }

 private:
  int port_;
  pid_t pid_ = -1;
  std::string dir_;
};

class Client {
 public:
  explicit Client(int port) : session_("127.0.0.1", static_cast<Poco::UInt16>(port)) {
    session_.setKeepAlive(true);
    session_.setTimeout(Poco::Timespan(30, 0));
  }
  int Post(const std::string& body) {
    try {
      Poco::Net::HTTPRequest req("POST", "/api/v1/events", Poco::Net::HTTPMessage::HTTP_1_1);
      req.set("Authorization", "Bearer bench");
      req.setContentType("application/json");
      req.setKeepAlive(true);
      req.setContentLength(static_cast<std::streamsize>(body.size()));
      session_.sendRequest(req) << body;
      Poco::Net::HTTPResponse resp;
      std::istream& in = session_.receiveResponse(resp);
      in.ignore(std::numeric_limits<std::streamsize>::max());
      return static_cast<int>(resp.getStatus());
    } catch (const Poco::Exception&) {
      session_.reset();
      return 0;
    }
  }

 private:
  Poco::Net::HTTPClientSession session_;
};

std::string Envelope(const std::string& id, int lead, const char* status = "NEW",
                     const char* type = "lead.created") {
  return std::string("{\"eventId\":\"") + id + "\",\"type\":\"" + type +
         "\",\"occurredAt\":\"2026-11-23T10:15:00Z\",\"data\":{\"id\":\"L" + std::to_string(lead) +
         "\",\"name\":\"Lead " + std::to_string(lead) + "\",\"email\":\"l" + std::to_string(lead) +
         "@example.com\",\"phone\":\"+91 98765 43210\",\"source\":\"website\",\"status\":\"" +
         status + "\",\"budgetMin\":5000000,\"budgetMax\":7500000,"
         "\"preferredLocation\":[\"Baner\",\"Wakad\"]}}";
}

// Sends `requests` bodies from `clients` keep-alive connections as fast as
// they go; returns elapsed seconds and counts non-2xx answers in *failures.
double Blast(int port, int clients, const std::vector<std::string>& requests, int* failures) {
  std::atomic<size_t> next{0};
  std::atomic<int> bad{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      Client client(port);
      for (size_t i = next++; i < requests.size(); i = next++) {
        int status = client.Post(requests[i]);
        if (status != 202 && status != 200) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  *failures = bad.load();
  return Seconds(Clock::now() - start);
}

std::vector<std::string> SingleRequests(int events, int offset) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(events));
  for (int i = 0; i < events; ++i) {
    out.push_back(Envelope("e" + std::to_string(offset + i), offset + i));
  }
  return out;
}

std::vector<std::string> BatchRequests(int events, int batch, int offset) {
  std::vector<std::string> out;
  for (int i = 0; i < events; i += batch) {
    std::string body = "{\"events\":[";
    for (int j = i; j < std::min(events, i + batch); ++j) {
      if (j > i) body += ",";
      body += Envelope("b" + std::to_string(offset + j), offset + j);
    }
    out.push_back(body + "]}");
  }
  return out;
}

// Polls /metrics every `poll_ms` until nothing is pending. With the store on
// PostgreSQL each poll reads the queue figures from the server, so the
// scale-out runs poll less often (a 20 ms poll cost a third of the throughput).
bool WaitDrained(Engine& engine, double timeout_s, int poll_ms = 20) {
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < deadline) {
    if (engine.Pending() == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
  return false;
}

void Intake(int clients, int events) {
  std::cout << "\n== durable intake (crm.enabled=false, synchronous=FULL, " << clients
            << " keep-alive clients)\n";
  {
    Engine engine({"--set", "crm.enabled=false"});
    auto requests = BatchRequests(events, 100, 0);
    int failures = 0;
    double s = Blast(engine.port(), clients, requests, &failures);
    std::printf("batched (100/request): %d events in %.2f s = %.0f events/s (%d failed requests)\n",
                events, s, events / s, failures);
  }
  {
    Engine engine({"--set", "crm.enabled=false"});
    int n = events / 2;
    auto requests = SingleRequests(n, 0);
    int failures = 0;
    double s = Blast(engine.port(), clients, requests, &failures);
    std::printf("one per request:       %d events in %.2f s = %.0f events/s (%d failed requests)\n",
                n, s, n / s, failures);
  }
}

void Latency(int rate, int seconds) {
  std::cout << "\n== intake latency at a fixed offered rate of " << rate << " requests/s for "
            << seconds << " s (one event per request, 32 connections)\n";
  Engine engine({"--set", "crm.enabled=false"});
  const int connections = 32;
  const int total = rate * seconds;
  std::vector<double> latencies_ms(static_cast<size_t>(total), -1);
  auto start = Clock::now() + std::chrono::milliseconds(100);
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      Client client(engine.port());
      for (int i = next++; i < total; i = next++) {
        auto due = start + std::chrono::microseconds(static_cast<int64_t>(1e6 * i / rate));
        std::this_thread::sleep_until(due);
        client.Post(Envelope("lat" + std::to_string(i), i));
        // Latency from the scheduled send time: queueing behind a slow answer counts.
        latencies_ms[static_cast<size_t>(i)] =
            std::chrono::duration<double, std::milli>(Clock::now() - due).count();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) { return latencies_ms[static_cast<size_t>(p * (total - 1))]; };
  std::printf("p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms over %d requests\n", pct(0.5),
              pct(0.9), pct(0.99), latencies_ms.back(), total);
}

void EndToEnd(int clients, int events) {
  std::cout << "\n== end to end to mock-crm (" << events << " leads, " << clients
            << " clients, default workers)\n";
  for (const char* workers : {"4", "8"}) {
    Engine engine({"--set", std::string("workers.count=") + workers});
    auto requests = BatchRequests(events, 100, 0);
    int failures = 0;
    auto start = Clock::now();
    Blast(engine.port(), clients, requests, &failures);
    bool drained = WaitDrained(engine, 300);
    double s = Seconds(Clock::now() - start);
    std::printf("workers=%s: %d events posted and synced in %.2f s = %.0f syncs/s%s\n", workers,
                events, s, events / s, drained ? "" : " (NOT drained)");
  }
  {
    // Dispatch alone: queue with sync disabled, then enable and time the drain.
    Engine engine({});
    engine.Call("POST", "/api/v1/admin/sync/disable", "{}");
    auto requests = BatchRequests(events, 100, 0);
    int failures = 0;
    Blast(engine.port(), clients, requests, &failures);
    auto start = Clock::now();
    engine.Call("POST", "/api/v1/admin/sync/enable", "{}");
    bool drained = WaitDrained(engine, 300);
    double s = Seconds(Clock::now() - start);
    std::printf("dispatch only (queue filled, then sync enabled): %d jobs in %.2f s = %.0f syncs/s%s\n",
                events, s, events / s, drained ? "" : " (NOT drained)");
  }
}

// Drain rate of `sample` jobs with a backlog of `backlog` behind them.
double DrainRate(int backlog, int sample, double* rss_mb) {
  Engine engine({});
  engine.Call("POST", "/api/v1/admin/sync/disable", "{}");
  int failures = 0;
  Blast(engine.port(), 8, BatchRequests(backlog + sample, 1000, 0), &failures);
  *rss_mb = engine.PeakRssMb();
  double done_before = engine.Metric("crmsync_jobs_finished_total");
  auto start = Clock::now();
  engine.Call("POST", "/api/v1/admin/sync/enable", "{}");
  while (engine.Metric("crmsync_jobs_finished_total") - done_before < sample) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return sample / Seconds(Clock::now() - start);
}

void Backlog(int backlog) {
  std::cout << "\n== queue depth: " << backlog << " jobs queued\n";
  double rss_empty = 0, rss_full = 0;
  double empty = DrainRate(0, 50000, &rss_empty);
  double full = DrainRate(backlog, 50000, &rss_full);
  std::printf("dequeue rate, empty queue: %.0f jobs/s (peak RSS %.1f MiB)\n", empty, rss_empty);
  std::printf("dequeue rate, %d behind:  %.0f jobs/s (peak RSS %.1f MiB while queued)\n", backlog,
              full, rss_full);
  std::printf("ratio: %.1f%%\n", 100.0 * full / empty);
}

void Coalesce() {
  std::cout << "\n== coalescing: 100 leads x 50 status changes each, queued while sync is off\n";
  Engine engine({});
  engine.Call("POST", "/api/v1/admin/sync/disable", "{}");
  const char* statuses[] = {"CONTACTED", "QUALIFIED", "NEGOTIATING"};
  std::vector<std::string> requests;
  for (int round = 0; round < 50; ++round) {
    for (int lead = 0; lead < 100; ++lead) {
      requests.push_back(Envelope("c" + std::to_string(round) + "-" + std::to_string(lead), lead,
                                  statuses[round % 3], round == 0 ? "lead.created" : "lead.status_changed"));
    }
  }
  int failures = 0;
  Blast(engine.port(), 1, requests, &failures);  // one connection keeps per-lead order
  engine.Call("POST", "/api/v1/admin/sync/enable", "{}");
  WaitDrained(engine, 120);
  double calls = engine.Metric("crmsync_sync_attempts_total");
  std::printf("%zu events -> %.0f CRM calls (%.1f%% saved); coalesced counter %.0f\n",
              requests.size(), calls, 100.0 * (1.0 - calls / static_cast<double>(requests.size())),
              engine.Metric("crmsync_coalesced_total"));
}

// The e2e figure with 1, 2 and 3 engines sharing one queue and one sink.
void ScaleOut(int clients, int events, const std::string& pg_prefix, const std::string& redis_url,
              const std::string& queue) {
  std::cout << "\n== scale-out: engines on one " << (queue == "redis" ? "Redis queue" : "queue in PostgreSQL")
            << " and one PostgreSQL database, one sink (reference-crm via generic-rest-crm), "
            << events << " leads posted and synced concurrently, 4 workers each\n";
  for (int n = 1; n <= 3; ++n) {
    int crm_port = FreePort();
    pid_t crm = Spawn({CRMSYNC_REFERENCE_CRM, "--port", std::to_string(crm_port), "--api-key", "k",
                       "--api-secret", "s"});
    std::vector<std::unique_ptr<Engine>> engines;
    for (int i = 0; i < n; ++i) {
      engines.push_back(std::make_unique<Engine>(std::vector<std::string>{
          "--set", "store.backend=postgres", "--set", "store.url=" + pg_prefix + std::to_string(n),
          "--set", "queue.backend=" + queue, "--set", "queue.redis_url=" + redis_url, "--set",
          "queue.redis_prefix=bench" + std::to_string(n), "--set", "crm.plugin=generic-rest-crm",
          "--set", "crm.mapping=" CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json",
          "--set", "crm.api.url=http://127.0.0.1:" + std::to_string(crm_port), "--set",
          "crm.api.key=k", "--set", "crm.api.secret=s"}));
      if (!engines.back()->Healthy()) {
        std::printf("engine %d of %d did not start (is the database %s%d there?)\n", i + 1, n,
                    pg_prefix.c_str(), n);
        kill(crm, SIGTERM);
        waitpid(crm, nullptr, 0);
        return;
      }
    }
    auto requests = BatchRequests(events, 100, 0);
    auto start = Clock::now();
    std::vector<std::thread> posters;
    std::atomic<int> failures{0};
    for (int i = 0; i < n; ++i) {
      posters.emplace_back([&, i] {
        std::vector<std::string> mine;
        for (size_t r = static_cast<size_t>(i); r < requests.size(); r += static_cast<size_t>(n)) {
          mine.push_back(requests[r]);
        }
        int bad = 0;
        Blast(engines[static_cast<size_t>(i)]->port(), std::max(1, clients / n), mine, &bad);
        failures += bad;
      });
    }
    for (auto& t : posters) t.join();
    bool drained = WaitDrained(*engines[0], 600, 250);
    double s = Seconds(Clock::now() - start);
    std::printf("%d engine%s: %d events posted and synced in %.2f s = %.0f syncs/s%s%s\n", n,
                n > 1 ? "s" : " ", events, s, events / s, drained ? "" : " (NOT drained)",
                failures.load() ? " (some posts failed)" : "");
    engines.clear();
    kill(crm, SIGTERM);
    waitpid(crm, nullptr, 0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  std::string what = argc > 1 ? argv[1] : "all";
  int clients = 64;
  int events = 200000;
  int backlog = 1000000;
  std::string pg_url;
  std::string redis_url;
  std::string queue = "redis";
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int value = std::atoi(argv[i + 1]);
    if (flag == "--pg-url") pg_url = argv[i + 1];
    else if (flag == "--redis-url") redis_url = argv[i + 1];
    else if (flag == "--queue") queue = argv[i + 1];
    else if (flag == "--clients") clients = value;
    else if (flag == "--events") events = value;
    else if (flag == "--backlog") backlog = value;
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 64;
    }
  }
  std::printf("crmsync_bench on %u cores (client and server share them)\n",
              std::thread::hardware_concurrency());
  if (what == "all" || what == "intake") Intake(clients, events);
  if (what == "all" || what == "latency") Latency(5000, 10);
  if (what == "all" || what == "e2e") EndToEnd(clients, std::min(events, 100000));
  if (what == "all" || what == "backlog") Backlog(backlog);
  if (what == "all" || what == "coalesce") Coalesce();
  if (what == "scaleout") {
    if (pg_url.empty() || redis_url.empty()) {
      std::cerr << "scaleout needs --pg-url and --redis-url (bench/scale_out.sh starts both)\n";
      return 64;
    }
    ScaleOut(clients, std::min(events, 60000), pg_url, redis_url, queue);
  }
  return 0;
}
