// metrics/process_metrics.h: the standard process_* families of Prometheus
// client libraries (CPU, memory, open file descriptors, start time), read from
// /proc at each scrape, and crmsync_build_info.
//
// Linux only (the engine's target). Thread-safe, like the registry.
#ifndef CRMSYNC_ENGINE_METRICS_PROCESS_METRICS_H_
#define CRMSYNC_ENGINE_METRICS_PROCESS_METRICS_H_

#include <cstdint>
#include <string>

#include "metrics/metrics.h"

namespace crmsync::engine {

/// One reading of this process, from /proc/self (0 for what could not be read).
struct ProcessSample {
  double cpu_seconds = 0;            ///< utime + stime.
  double resident_bytes = 0;         ///< RSS.
  double virtual_bytes = 0;          ///< VSZ.
  double open_fds = 0;               ///< Entries of /proc/self/fd.
  double max_fds = 0;                ///< The soft RLIMIT_NOFILE.
  double start_time_seconds = 0;     ///< Since the Unix epoch.
};

/// Reads /proc/self/stat, /proc/self/fd, the fd limit and /proc/stat's btime.
ProcessSample ReadProcessSample();

/// Adds process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_open_fds, process_max_fds and
/// process_start_time_seconds (names and meanings as the Prometheus client
/// libraries export them), each read at scrape time.
void AddProcessMetrics(MetricsRegistry* registry);

/// What crmsync_build_info carries as labels (value always 1).
struct BuildInfo {
  std::string version;   ///< CRMSYNC_VERSION.
  std::string sdk_abi;   ///< "major.minor".
  std::string poco;      ///< Poco's version, "1.11.0".
  std::string sqlite;    ///< SQLite's library version.
  std::string openssl;   ///< OpenSSL's version text.
};

/// The build this binary is.
BuildInfo CurrentBuildInfo();

/// Adds crmsync_build_info{version,sdk_abi,poco,sqlite,openssl} 1.
void AddBuildInfo(MetricsRegistry* registry, const BuildInfo& info);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_METRICS_PROCESS_METRICS_H_
