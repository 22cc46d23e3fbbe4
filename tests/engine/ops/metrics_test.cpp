// Metrics: histogram and rate window arithmetic, and the Prometheus text of a
// real running binary parsed line by line against the format's rules.
#include <doctest/doctest.h>

#include <signal.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "metrics/metrics.h"
#include "test_support.h"

namespace t = crmsync::testing;
using crmsync::engine::Histogram;
using crmsync::engine::MetricsRegistry;
using crmsync::engine::RateWindow;

namespace {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the text format strictly; fails the test on any malformed line.
struct Exposition {
  std::map<std::string, std::string> types;  // family -> type
  std::vector<Sample> samples;

  explicit Exposition(const std::string& text) {
    static const std::regex kSample(
        R"(^([a-z_:][a-z0-9_:]*)(\{([a-z_]+="(?:[^"\\]|\\.)*"(,[a-z_]+="(?:[^"\\]|\\.)*")*)\})? (-?[0-9.]+(?:[eE][-+]?[0-9]+)?|\+Inf|-Inf|NaN)$)");
    static const std::regex kLabel(R"re(([a-z_]+)="((?:[^"\\]|\\.)*)")re");
    std::istringstream in(text);
    std::string line;
    std::string family;
    while (std::getline(in, line)) {
      if (line.rfind("# HELP ", 0) == 0) continue;
      if (line.rfind("# TYPE ", 0) == 0) {
        std::istringstream words(line.substr(7));
        std::string type;
        words >> family >> type;
        CHECK_MESSAGE(types.count(family) == 0, "family declared twice: " << family);
        types[family] = type;
        continue;
      }
      std::smatch m;
      REQUIRE_MESSAGE(std::regex_match(line, m, kSample), "not a sample line: " << line);
      Sample sample;
      sample.name = m[1];
      std::string labels = m[3];
      for (std::sregex_iterator it(labels.begin(), labels.end(), kLabel), end; it != end; ++it) {
        sample.labels[(*it)[1]] = (*it)[2];
      }
      std::string value = m[5];
      sample.value = value == "+Inf" ? 1e300 : std::stod(value);
      // A sample belongs to the family declared just before it.
      CHECK_MESSAGE(sample.name.rfind(family, 0) == 0, sample.name << " outside its family " << family);
      samples.push_back(sample);
    }
  }
  std::vector<Sample> Of(const std::string& name) const {
    std::vector<Sample> out;
    for (const Sample& s : samples) {
      if (s.name == name) out.push_back(s);
    }
    return out;
  }
};

}  // namespace

TEST_SUITE("engine.ops") {
  TEST_CASE("histogram buckets are cumulative and +Inf equals the count") {
    MetricsRegistry registry;
    Histogram& h = registry.GetHistogram("crmsync_test_seconds", "test", {{"op", "x"}}, {0.1, 1});
    h.Observe(0.05);
    h.Observe(0.5);
    h.Observe(0.5);
    h.Observe(7);
    Exposition e(registry.RenderPrometheus());
    CHECK(e.types["crmsync_test_seconds"] == "histogram");
    auto buckets = e.Of("crmsync_test_seconds_bucket");
    REQUIRE(buckets.size() == 3);
    CHECK(buckets[0].labels["le"] == "0.1");
    CHECK(buckets[0].value == 1);
    CHECK(buckets[1].value == 3);
    CHECK(buckets[2].labels["le"] == "+Inf");
    CHECK(buckets[2].value == 4);
    CHECK(e.Of("crmsync_test_seconds_count")[0].value == 4);
    CHECK(e.Of("crmsync_test_seconds_sum")[0].value == doctest::Approx(8.05));
  }

  TEST_CASE("the success window counts only its own seconds") {
    RateWindow window(60);
    int64_t t0 = 1'000'000'000;
    CHECK(window.SuccessRatio(t0) == -1);
    for (int i = 0; i < 3; ++i) window.Record(t0, true);
    window.Record(t0 + 1000, false);
    CHECK(window.SuccessRatio(t0 + 1000) == doctest::Approx(0.75));
    CHECK(window.Total(t0 + 1000) == 4);
    // Sixty seconds on, the old results have left the window.
    window.Record(t0 + 60'500, false);
    CHECK(window.Total(t0 + 60'500) == 2);
    CHECK(window.SuccessRatio(t0 + 61'500) == 0);
    CHECK(window.Total(t0 + 200'000) == 0);
  }

  TEST_CASE("a running binary exposes every family ops need in valid Prometheus text") {
    t::TempDir dir;
    int port = t::FreePort();
    t::ChildProcess engine(CRMSYNC_BINARY,
                           {"serve", "--set", "server.port=" + std::to_string(port), "--set",
                            "store.path=" + dir.File("db"), "--set",
                            "plugins.dir=" CRMSYNC_PLUGIN_DIR, "--set", "intake.token=i", "--set",
                            "admin.token=a", "--set", "log.level=warning"});
    REQUIRE(t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }));
    CHECK(t::HttpCall(port, "POST", "/api/v1/events",
                      R"({"eventId":"m1","type":"lead.created","occurredAt":"2026-11-23T10:15:00Z","data":{"id":"7","status":"NEW"}})",
                      {{"Authorization", "Bearer i"}})
              .status == 202);
    CHECK(t::HttpCall(port, "POST", "/api/v1/events", "{}", {{"Authorization", "Bearer i"}}).status ==
          400);
    REQUIRE(t::WaitUntil([&] {
      return t::HttpCall(port, "GET", "/metrics").body.find("crmsync_sync_duration_seconds_count") !=
             std::string::npos;
    }));
    t::HttpResult metrics = t::HttpCall(port, "GET", "/metrics");
    CHECK(metrics.headers["Content-Type"].rfind("text/plain", 0) == 0);
    Exposition e(metrics.body);
    std::map<std::string, std::string> expected = {
        {"crmsync_events_accepted_total", "counter"},
        {"crmsync_events_rejected_total", "counter"},
        {"crmsync_sync_attempts_total", "counter"},
        {"crmsync_sync_success_ratio", "gauge"},
        {"crmsync_sync_duration_seconds", "histogram"},
        {"crmsync_queue_jobs", "gauge"},
        {"crmsync_queue_ready_jobs", "gauge"},
        {"crmsync_queue_oldest_pending_age_seconds", "gauge"},
        {"crmsync_dead_letters", "gauge"},
        {"crmsync_circuit_state", "gauge"},
        {"crmsync_rate_limit_waits_total", "counter"},
        {"crmsync_rate_limited_total", "counter"},
        {"crmsync_coalesced_total", "counter"},
        {"crmsync_echo_suppressed_total", "counter"},
        {"crmsync_webhook_deliveries_total", "counter"},
        {"crmsync_jobs_finished_total", "counter"},
        {"crmsync_http_connections", "gauge"},
        {"crmsync_http_requests_total", "counter"},
        {"crmsync_http_refused_total", "counter"},
        {"crmsync_http_timeouts_total", "counter"},
        {"crmsync_http_idle_closed_total", "counter"},
        {"crmsync_http_shed_total", "counter"},
        {"crmsync_build_info", "gauge"},
        {"process_cpu_seconds_total", "counter"},
        {"process_resident_memory_bytes", "gauge"},
        {"process_open_fds", "gauge"},
        {"process_start_time_seconds", "gauge"},
    };
    for (const auto& [family, type] : expected) {
      CHECK_MESSAGE(e.types[family] == type, family << " missing or of type " << e.types[family]);
    }
    // Prometheus naming: our families under crmsync_, beside the client
    // libraries' standard process_*; counters end in _total, durations in
    // _seconds.
    for (const auto& [family, type] : e.types) {
      CHECK_MESSAGE((family.rfind("crmsync_", 0) == 0 || family.rfind("process_", 0) == 0), family);
      bool ends_total = family.size() > 6 && family.substr(family.size() - 6) == "_total";
      if (type == "counter") CHECK_MESSAGE(ends_total, family);
      if (type == "histogram") CHECK_MESSAGE(family.find("_seconds") != std::string::npos, family);
      if (type == "gauge") CHECK_MESSAGE(family.find("_total") == std::string::npos, family);
    }
    bool accepted = false;
    for (const Sample& s : e.Of("crmsync_events_accepted_total")) {
      accepted = accepted || (s.labels.at("type") == "lead.created" && s.value == 1);
    }
    CHECK(accepted);
    bool invalid = false;
    for (const Sample& s : e.Of("crmsync_events_rejected_total")) {
      invalid = invalid || (s.labels.at("reason") == "invalid" && s.value == 1);
    }
    CHECK(invalid);
    // The HTTP server's own figures: this scrape's connection is open, and the
    // requests above were counted.
    CHECK(e.Of("crmsync_http_connections").at(0).value >= 1);
    CHECK(e.Of("crmsync_http_requests_total").at(0).value >= 3);
    engine.Signal(SIGTERM);
    CHECK(engine.WaitExit(std::chrono::seconds(20)));
  }
}
