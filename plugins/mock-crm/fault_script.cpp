// The mock CRM's fault script parser and player; see fault_script.h.
#include "fault_script.h"

#include <cctype>
#include <cstdlib>

namespace crmsync::mockcrm {
namespace {

constexpr char kFaultsPrefix[] = "faults.";
constexpr char kLatencyKey[] = "latency_ms";
constexpr char kLatencyPrefix[] = "latency_ms.";
// A latency longer than this is surely a typo (and would stall the workers).
constexpr int64_t kMaxLatencyMs = 600000;

std::string Trim(const std::string& text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Reads a whole non-negative decimal number of at most 9 digits.
bool ParseWhole(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 9) return false;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

Status BadToken(const std::string& key, const std::string& token, const std::string& why) {
  return Status::InvalidConfig(key + ": " + why + " '" + token + "'");
}

// Parses one trimmed, non-empty token.
Status ParseToken(const std::string& key, const std::string& token, Fault* out) {
  const std::string lower = Lower(token);
  if (lower == "ok") {
    out->kind = Fault::Kind::kPass;
  } else if (lower == "timeout") {
    out->kind = Fault::Kind::kTimeout;
  } else if (lower == "drop") {
    out->kind = Fault::Kind::kDrop;
  } else if (lower == "connect") {
    out->kind = Fault::Kind::kConnect;
  } else if (lower == "reset") {
    out->kind = Fault::Kind::kReset;
  } else {
    const size_t colon = lower.find(':');
    const std::string code = Trim(lower.substr(0, colon));
    int64_t status = 0;
    if (!ParseWhole(code, &status)) return BadToken(key, token, "unknown token");
    if (status < 100 || status > 599) {
      return BadToken(key, token, "HTTP status out of range 100-599 in");
    }
    out->kind = Fault::Kind::kStatus;
    out->status = static_cast<int>(status);
    out->retry_after_s = -1;
    if (colon != std::string::npos) {
      const std::string option = Trim(lower.substr(colon + 1));
      const std::string prefix = "retry-after=";
      int64_t seconds = 0;
      if (option.compare(0, prefix.size(), prefix) != 0 ||
          !ParseWhole(Trim(option.substr(prefix.size())), &seconds)) {
        return BadToken(key, token, "bad option (expected retry-after=<seconds>) in");
      }
      out->retry_after_s = seconds;
    }
  }
  return Status::Ok();
}

Status ParseLatency(const PluginConfig& config, const std::string& key, int64_t* out) {
  const std::string raw = Trim(config.Get(key));
  int64_t value = 0;
  if (!ParseWhole(raw, &value) || value > kMaxLatencyMs) {
    return Status::InvalidConfig(key + ": expected whole milliseconds 0-" +
                                 std::to_string(kMaxLatencyMs) + ", got '" + raw + "'");
  }
  *out = value;
  return Status::Ok();
}

}  // namespace

Status ParseFaultScript(const std::string& key, const std::string& text, std::vector<Fault>* out) {
  std::vector<Fault> faults;
  if (!Trim(text).empty()) {
    size_t begin = 0;
    while (true) {
      const size_t comma = text.find(',', begin);
      const std::string token =
          Trim(text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin));
      if (token.empty()) return Status::InvalidConfig(key + ": empty token in '" + text + "'");
      Fault fault;
      Status status = ParseToken(key, token, &fault);
      if (!status.ok()) return status;
      faults.push_back(fault);
      if (comma == std::string::npos) break;
      begin = comma + 1;
    }
  }
  *out = std::move(faults);
  return Status::Ok();
}

Status FaultScript::Configure(const PluginConfig& config) {
  std::map<std::string, Script> scripts;
  for (const std::string& key : config.KeysWithPrefix(kFaultsPrefix)) {
    const std::string route = key.substr(sizeof(kFaultsPrefix) - 1);
    if (route.empty()) return Status::InvalidConfig(key + ": no route named after 'faults.'");
    Script script;
    Status status = ParseFaultScript(key, config.Get(key), &script.faults);
    if (!status.ok()) return status;
    scripts[route] = std::move(script);
  }

  int64_t latency_ms = 0;
  if (config.Has(kLatencyKey)) {
    Status status = ParseLatency(config, kLatencyKey, &latency_ms);
    if (!status.ok()) return status;
  }
  std::map<std::string, int64_t> route_latency_ms;
  for (const std::string& key : config.KeysWithPrefix(kLatencyPrefix)) {
    const std::string route = key.substr(sizeof(kLatencyPrefix) - 1);
    if (route.empty()) return Status::InvalidConfig(key + ": no route named after 'latency_ms.'");
    int64_t value = 0;
    Status status = ParseLatency(config, key, &value);
    if (!status.ok()) return status;
    route_latency_ms[route] = value;
  }

  std::lock_guard<std::mutex> lock(mutex_);
  scripts_ = std::move(scripts);
  latency_ms_ = latency_ms;
  route_latency_ms_ = std::move(route_latency_ms);
  return Status::Ok();
}

Fault FaultScript::Next(const std::string& route) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto own = scripts_.find(route);
  if (own == scripts_.end()) {
    // A route without its own script plays its own copy of the "*" script.
    auto fallback = scripts_.find("*");
    if (fallback == scripts_.end()) return Fault();
    own = scripts_.emplace(route, Script{fallback->second.faults, 0}).first;
  }
  Script& script = own->second;
  if (script.next >= script.faults.size()) return Fault();
  return script.faults[script.next++];
}

int64_t FaultScript::LatencyMs(const std::string& route) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = route_latency_ms_.find(route);
  return it != route_latency_ms_.end() ? it->second : latency_ms_;
}

}  // namespace crmsync::mockcrm
