// Process figures from /proc; see process_metrics.h.
#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <Poco/Version.h>
#include <openssl/crypto.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "crmsync/version.h"

namespace crmsync::engine {
namespace {

// The fields of /proc/self/stat after the command name (which may hold spaces
// and parentheses, so the split starts after the last ')'); fields[0] is the
// state, the 3rd field of the file.
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(text.substr(close + 1));
  std::string f;
  while (rest >> f) fields.push_back(f);
  return fields;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double btime = 0;
      in >> btime;
      return btime;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  double n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace

ProcessSample ReadProcessSample() {
  ProcessSample s;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::vector<std::string> f = StatFields();
  // Field numbers of proc(5), minus 3: utime 14, stime 15, starttime 22,
  // vsize 23, rss 24.
  if (f.size() > 21 && ticks > 0) {
    s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
    s.start_time_seconds = BootTimeSeconds() + std::stod(f[19]) / ticks;
    s.virtual_bytes = std::stod(f[20]);
    s.resident_bytes = std::stod(f[21]) * page;
  }
  s.open_fds = OpenFds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) s.max_fds = static_cast<double>(limit.rlim_cur);
  return s;
}

void AddProcessMetrics(MetricsRegistry* registry) {
  // One reading of /proc serves every family of a scrape: the first gauge a
  // scrape asks reads it, the others within 250 ms reuse it.
  struct Cache {
    std::mutex mu;
    std::chrono::steady_clock::time_point read_at;
    ProcessSample sample;
  };
  auto cache = std::make_shared<Cache>();
  auto field = [cache](double ProcessSample::*member) {
    return [cache, member] {
      std::lock_guard<std::mutex> lock(cache->mu);
      const auto now = std::chrono::steady_clock::now();
      if (now - cache->read_at > std::chrono::milliseconds(250)) {
        cache->sample = ReadProcessSample();
        cache->read_at = now;
      }
      return cache->sample.*member;
    };
  };
  registry->AddCounterFunc("process_cpu_seconds_total",
                           "Total user and system CPU time spent in seconds.", {},
                           field(&ProcessSample::cpu_seconds));
  registry->AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
                     field(&ProcessSample::resident_bytes));
  registry->AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {},
                     field(&ProcessSample::virtual_bytes));
  registry->AddGauge("process_open_fds", "Number of open file descriptors.", {},
                     field(&ProcessSample::open_fds));
  registry->AddGauge("process_max_fds", "Maximum number of open file descriptors.", {},
                     field(&ProcessSample::max_fds));
  // Fixed for the process's life: read once.
  const double start = ReadProcessSample().start_time_seconds;
  registry->AddGauge("process_start_time_seconds",
                     "Start time of the process since unix epoch in seconds.", {},
                     [start] { return start; });
}

BuildInfo CurrentBuildInfo() {
  BuildInfo info;
  info.version = CRMSYNC_VERSION;
  info.sdk_abi = std::to_string(kAbiMajor) + "." + std::to_string(kAbiMinor);
  const unsigned long poco = POCO_VERSION;  // 0xAABBCCDD: major, minor, revision, patch
  info.poco = std::to_string((poco >> 24) & 0xFF) + "." + std::to_string((poco >> 16) & 0xFF) +
              "." + std::to_string((poco >> 8) & 0xFF);
  info.sqlite = sqlite3_libversion();
  info.openssl = OpenSSL_version(OPENSSL_VERSION);
  return info;
}

void AddBuildInfo(MetricsRegistry* registry, const BuildInfo& info) {
  registry->AddGauge("crmsync_build_info",
                     "The build of this binary: version, SDK ABI and the libraries it runs on "
                     "(always 1).",
                     {{"version", info.version},
                      {"sdk_abi", info.sdk_abi},
                      {"poco", info.poco},
                      {"sqlite", info.sqlite},
                      {"openssl", info.openssl}},
                     [] { return 1.0; });
}

}  // namespace crmsync::engine
