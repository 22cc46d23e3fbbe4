// config/schema.cpp: the table of configuration keys, and how a value is
// checked against its row.
//
// To add a key, add one row to the table in BuildSchema() (keep it sorted by
// key for readers; it is sorted again on build, and a test rejects duplicates).
// Everything else (loading, environment names, validation, check-config
// output) follows from the row.
//
// The table is built once, on first use (a function-local static), and never
// changed afterwards; every function here is thread-safe.
#include "config/schema.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <utility>

#include "common/strings.h"

namespace crmsync::config {

namespace {

using engine::Trim;

// Row builders, so each row of the table reads as one line.
KeySpec Str(const char* key, const char* default_value, const char* help, const char* env = "") {
  KeySpec spec;
  spec.key = key;
  spec.type = ValueType::kString;
  spec.default_value = default_value;
  spec.env = env;
  spec.help = help;
  return spec;
}

KeySpec Secret(const char* key, const char* help, const char* env = "") {
  KeySpec spec = Str(key, "", help, env);
  spec.secret = true;
  return spec;
}

KeySpec SecretList(const char* key, const char* help) {
  KeySpec spec = Secret(key, help);
  spec.type = ValueType::kList;
  return spec;
}

KeySpec List(const char* key, const char* default_value, const char* help) {
  KeySpec spec = Str(key, default_value, help);
  spec.type = ValueType::kList;
  return spec;
}

KeySpec Int(const char* key, int64_t default_value, int64_t min, int64_t max, const char* help,
            const char* env = "") {
  KeySpec spec;
  spec.key = key;
  spec.type = ValueType::kInt;
  spec.default_value = std::to_string(default_value);
  spec.env = env;
  spec.min = min;
  spec.max = max;
  spec.help = help;
  return spec;
}

KeySpec Duration(const char* key, int64_t default_ms, int64_t min_ms, int64_t max_ms,
                 const char* help) {
  KeySpec spec = Int(key, default_ms, min_ms, max_ms, help);
  spec.type = ValueType::kDuration;
  spec.default_value = FormatDurationMs(default_ms);
  return spec;
}

KeySpec Bool(const char* key, bool default_value, const char* help, const char* env = "") {
  KeySpec spec;
  spec.key = key;
  spec.type = ValueType::kBool;
  spec.default_value = default_value ? "true" : "false";
  spec.env = env;
  spec.help = help;
  return spec;
}

KeySpec Enum(const char* key, const char* default_value, const char* choices, const char* help) {
  KeySpec spec;
  spec.key = key;
  spec.type = ValueType::kEnum;
  spec.default_value = default_value;
  spec.choices = choices;
  spec.help = help;
  return spec;
}

std::vector<KeySpec> BuildSchema() {
  // The one table. Sorted by key.
  // clang-format off
  std::vector<KeySpec> rows = {
      Secret("admin.token", "Bearer token required on the admin API."),
      Bool("crm.allow_insecure_http", false, "Allow plain HTTP to a CRM that is not on loopback."),
      Secret("crm.api.key", "API key for the CRM.", "CRM_API_KEY"),
      Int("alerts.check_interval_ms", 5000, 100, 3600000, "How often alert conditions are checked, in milliseconds."),
      Int("alerts.failure_percent", 50, 1, 100, "Alert when more than this share of CRM calls failed over the last 5 minutes..."),
      Int("alerts.min_calls", 20, 1, 1000000, "...and at least this many calls were made."),
      Int("alerts.oldest_job_age_s", 900, 1, 31536000, "Alert when the oldest unfinished job is older than this, in seconds."),
      Int("alerts.queue_depth", 10000, 1, 1000000000, "Alert when more jobs than this wait."),
      Str("alerts.webhook_url", "", "URL that gets each alert as a JSON POST (Slack-compatible); empty: log and metric only."),
      Int("circuit.failure_threshold", 5, 1, 1000, "Consecutive network/5xx failures that open the circuit breaker."),
      Int("circuit.max_open_ms", 300000, 100, 86400000, "Longest wait of an open circuit breaker before its probe, in milliseconds."),
      Int("circuit.open_ms", 30000, 100, 86400000, "Wait of an open circuit breaker before its probe, in milliseconds; doubles per failed probe."),
      Int("crm.rate_limit", 0, 0, 1000000, "Most CRM requests per second; 0: the plugin's hint, or no limit."),
      Enum("queue.backend", "store", "store,redis", "Where the outbound queue lives: in the store (SQLite, or PostgreSQL leased with FOR UPDATE SKIP LOCKED), or on Redis Streams with the jobs' state in PostgreSQL (needs store.backend=postgres). Every engine sharing a database uses the same value."),
      Int("queue.lease_batch", 16, 1, 1000, "Jobs a worker leases at once."),
      Int("queue.lease_ms", 120000, 1000, 86400000, "How long a lease lasts before its job returns to the queue, in milliseconds."),
      Int("queue.reclaim_ms", 30000, 100, 86400000, "queue.backend=redis: how long a job read from Redis may stay unacknowledged before any engine may take it, in milliseconds; a stopped engine's jobs are taken at once."),
      Str("queue.redis_prefix", "crmsync", "queue.backend=redis: prefix of every Redis key; engines sharing one queue use the same prefix."),
      Secret("queue.redis_url", "queue.backend=redis: redis://[[user]:password@]host[:port][/db] of the Redis server; may come from queue.redis_url.file."),
      Secret("crm.api.secret", "API secret for the CRM.", "CRM_API_SECRET"),
      Str("crm.api.url", "", "Base URL of the CRM API.", "CRM_API_URL"),
      Str("crm.ca_file", "", "Extra CA bundle (PEM) for HTTPS to the CRM; relative to the config folder."),
      Bool("crm.enabled", true, "Send changes to the CRM at all.", "CRM_ENABLED"),
      Str("crm.mapping", "", "Mapping file for config-driven plugins (generic-rest-crm); relative to the config folder."),
      Str("crm.plugin", "mock-crm", "Name of the CRM adapter plugin to load."),
      Int("crm.retry.attempts", 5, 0, 100, "Retries after the first try before a job is dead-lettered.", "CRM_RETRY_ATTEMPTS"),
      Duration("crm.retry.max_outage", 24LL * 3600 * 1000, 1000, 365LL * 24 * 3600 * 1000, "How long a job may be held by a CRM outage (circuit breaker open) or by a run of 429s before it is dead-lettered with \"CRM unavailable since ...\"; waiting for it spends no attempt."),
      Int("crm.retry.delay", 1000, 1, 3600000, "First retry delay in milliseconds.", "CRM_RETRY_DELAY"),
      Bool("crm.retry.jitter", false, "Randomise retry delays."),
      // Shadow mode (docs/design.md §11): a second adapter shown every live job.
      Str("crm.shadow.mapping", "", "Shadow mode: the mapping file of the shadow plugin (the version being tried); relative to the config folder. Never the live crm.mapping."),
      Str("crm.shadow.plugin", "", "Shadow mode: a second plugin that builds every live job's requests beside the live one, to compare; empty: off. Its own keys: crm.shadow.<plugin>.<key>."),
      Int("crm.shadow.queue", 1000, 1, 1000000, "Shadow mode: jobs waiting for comparison at most; more are dropped and counted, never waited for."),
      Str("crm.shadow.url", "", "Shadow mode: a sandbox base URL the shadow's requests are sent to (answers' statuses counted); empty: nothing is sent."),
      Int("crm.timeout", 30000, 1, 600000, "Timeout of one CRM call in milliseconds.", "CRM_TIMEOUT"),
      Secret("crm.webhook.secret", "Secret that signs the CRM's webhooks.", "CRM_WEBHOOK_SECRET"),
      Str("crm.webhook.url", "", "URL the CRM sends webhooks to.", "CRM_WEBHOOK_URL"),
      Secret("intake.token", "Bearer token required on the intake API (and the change feed)."),
      List("inbound.agent_map", "", "CRM agent id = platform dealer id pairs, comma separated (agent_123=dealer-7)."),
      SecretList("inbound.agent_emails", "Platform dealer id = e-mail pairs, comma separated (dealer-7=asha@acme.example): a dealer is the active CRM user with that e-mail, when no user carries the dealer id. Personal data: redacted when shown."),
      Int("inbound.agent_ttl_ms", 300000, 1000, 86400000, "How long the agent table read from the plugin is trusted, in milliseconds."),
      Str("inbound.callback_url", "", "URL that gets each inbound change as a JSON POST (retried, then dead-lettered); empty: none."),
      Enum("inbound.crm_owns_status_from", "QUALIFIED", "always,never,NEW,CONTACTED,QUALIFIED,VIEWING_SCHEDULED,VIEWED,NEGOTIATING,CONVERTED,LOST", "The CRM may change a lead's status once the lead has reached this status."),
      List("inbound.platform_fields", "email,phone", "Fields only the platform may change; CRM changes to them are ignored."),
      Enum("inbound.poll", "auto", "auto,on,off", "Poll the CRM for changes (docs/design.md §5, \"Change polling\"): auto when the plugin can poll and takes no webhooks, on whenever it can poll (a safety net beside webhooks; an error when it cannot), off never."),
      Int("inbound.poll_interval_ms", 60000, 1000, 86400000, "Wait between two change polls of an entity once a poll read the last page, in milliseconds."),
      List("crm.webhook.events", "lead.created,lead.updated,lead.status_changed,property.created,property.updated", "Events registered with the CRM's webhooks at start."),
      Int("webhook.tolerance_s", 300, 1, 86400, "Largest clock difference accepted on a signed webhook, both ways, in seconds."),
      Enum("log.format", "json", "json,text", "Log line format."),
      Enum("log.level", "information", "trace,debug,information,notice,warning,error,critical,fatal", "Lowest log level written."),
      Str("plugins.dir", "", "Folder the plugins are loaded from; empty: next to the binary."),
      Str("server.host", "127.0.0.1", "Address the HTTP server listens on."),
      Int("server.max_body_bytes", 1048576, 1024, 1073741824, "Largest request body accepted, in bytes."),
      Int("server.port", 8080, 1, 65535, "TCP port of the HTTP server."),
      Duration("server.body_timeout", 30000, 100, 3600000, "Time a request body may take to arrive after its head; then 408 and the connection is closed."),
      Int("server.busy_connections", 0, 0, 1000000, "Open connections above which idle keep-alive connections are closed after server.busy_keepalive_timeout; 0: three quarters of server.max_connections."),
      Duration("server.busy_keepalive_timeout", 2000, 100, 3600000, "How long an idle keep-alive connection is kept while the server is busy (server.busy_connections)."),
      Duration("server.header_timeout", 10000, 100, 3600000, "Time a request head may take to arrive from its first byte; then 408 and the connection is closed (slow clients hold no thread either way)."),
      Duration("server.keepalive_timeout", 30000, 100, 3600000, "How long an idle keep-alive connection is kept."),
      Int("server.max_connections", 10000, 16, 1000000, "Open connections at most; past it the longest-idle connection is closed for a new one (capped by the open-files limit)."),
      Int("server.queue", 1024, 1, 100000, "Length of the TCP listen backlog."),
      Str("server.tls.cert", "", "PEM file with the server certificate, then its chain: with server.tls.key the port speaks HTTPS only (TLS 1.2 or newer); both empty: plain HTTP. Relative to the config folder; checked at start."),
      Str("server.tls.key", "", "PEM file with the unencrypted private key of server.tls.cert (keep it readable by the service only). Relative to the config folder; checked at start."),
      Int("server.threads", 16, 1, 1024, "Handler threads: requests are read and written by one I/O thread, so an idle or slow connection holds none."),
      Int("shutdown.deadline_ms", 10000, 0, 600000, "Time allowed for in-flight work at shutdown, in milliseconds."),
      Enum("store.backend", "sqlite", "sqlite,postgres", "Where state and queue live: the embedded SQLite file, or a PostgreSQL server shared by several engines."),
      Str("store.path", "var/crmsync.db", "Path of the SQLite database file."),
      Int("store.pool_size", 8, 1, 256, "Connections to PostgreSQL a process keeps open at most (store.backend=postgres)."),
      Enum("store.synchronous", "FULL", "OFF,NORMAL,FULL,EXTRA", "SQLite synchronous mode."),
      Secret("store.url", "PostgreSQL conninfo or postgresql:// URL (store.backend=postgres); may come from store.url.file."),
      Str("ui.dir", "", "Empty (the default): the /ui dashboard is served from the files built into the binary. A folder: its files are served from disk instead, read on each request (for working on ui/ without a rebuild)."),
      SecretList("webhook.secrets", "Extra accepted webhook secrets, comma separated (rotation)."),
      Int("workers.count", 64, 1, 256,
          "Worker threads dispatching jobs to the CRM: the most CRM requests in flight."),
      // --- reconcile (issue 18) ---
      Int("reconcile.page_size", 200, 1, 10000, "Mirror entities per page of `crmsync reconcile` and `crmsync resync` (one store read, one save of the run's cursor, and for reconcile the CRM reads of its entities)."),
      List("reconcile.crm_fields", "", "Fields the CRM owns for `crmsync reconcile`, comma separated: their differences are reported as crm_owned and never repaired (a lead's status is the CRM's once it reached inbound.crm_owns_status_from)."),
  };
  // clang-format on
  // Lookups binary-search the table, so it must be sorted; sorting here keeps a
  // misplaced new row harmless.
  std::sort(rows.begin(), rows.end(),
            [](const KeySpec& a, const KeySpec& b) { return a.key < b.key; });
  return rows;
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Optimal string alignment distance: insertions, deletions, substitutions and
// swaps of two neighbours ("sever" -> "server" is 1, "hsot" -> "host" is 1).
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The candidate closest to `wanted` (case ignored) when within the slip budget
// SuggestKey() documents; the first of equally close ones (candidates are in
// schema order).
std::string Closest(const std::string& wanted, const std::vector<std::string>& candidates) {
  const std::string lower = Lower(wanted);
  const size_t budget = std::min<size_t>(3, std::max<size_t>(1, lower.size() / 6));
  std::string best;
  size_t best_distance = budget + 1;
  for (const std::string& candidate : candidates) {
    const size_t distance = EditDistance(lower, Lower(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace

const std::vector<KeySpec>& Schema() {
  static const std::vector<KeySpec> schema = BuildSchema();
  return schema;
}

const KeySpec* FindKey(const std::string& key) {
  const std::vector<KeySpec>& schema = Schema();
  auto it =
      std::lower_bound(schema.begin(), schema.end(), key,
                       [](const KeySpec& spec, const std::string& k) { return spec.key < k; });
  if (it == schema.end() || it->key != key) return nullptr;
  return &*it;
}

std::string GenericEnvName(const std::string& key) {
  std::string name = "CRMSYNC_";
  for (char c : key) {
    if (c == '.' || c == '-') {
      name += '_';
    } else {
      name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return name;
}

bool ParseBool(const std::string& text, bool* out) {
  const std::string v = Lower(Trim(text));
  if (v == "true" || v == "yes" || v == "1" || v == "on") {
    *out = true;
    return true;
  }
  if (v == "false" || v == "no" || v == "0" || v == "off") {
    *out = false;
    return true;
  }
  return false;
}

bool ParseInt(const std::string& text, int64_t* out) {
  const std::string v = Trim(text);
  if (v.empty()) return false;
  size_t digits_at = (v[0] == '-' || v[0] == '+') ? 1 : 0;
  if (digits_at == v.size()) return false;
  for (size_t i = digits_at; i < v.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(v.c_str(), &end, 10);
  if (errno != 0 || end == nullptr || *end != '\0') return false;
  *out = static_cast<int64_t>(value);
  return true;
}

bool ParseDurationMs(const std::string& text, int64_t* out) {
  const std::string v = Trim(text);
  size_t digits = 0;
  while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
  if (digits == 0 || digits > 15) return false;
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 24 * 3600 * 1000}};
  const std::string unit = Trim(v.substr(digits));
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    const int64_t number = std::stoll(v.substr(0, digits));
    if (number > INT64_MAX / factor) return false;
    *out = number * factor;
    return true;
  }
  return false;
}

std::string FormatDurationMs(int64_t ms) {
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"h", 3600 * 1000}, {"m", 60 * 1000}, {"s", 1000}};
  for (const auto& [name, factor] : kUnits) {
    if (ms != 0 && ms % factor == 0) return std::to_string(ms / factor) + name;
  }
  return std::to_string(ms) + "ms";
}

std::string ExpectedText(const KeySpec& spec) {
  switch (spec.type) {
    case ValueType::kInt:
      return "a whole number from " + std::to_string(spec.min) + " to " + std::to_string(spec.max);
    case ValueType::kDuration:
      return "a duration such as 90s, 30m or 24h (units ms, s, m, h, d), from " +
             FormatDurationMs(spec.min) + " to " + FormatDurationMs(spec.max);
    case ValueType::kBool:
      return "true or false";
    case ValueType::kEnum: {
      std::string text = "one of ";
      for (char c : spec.choices) {
        if (c == ',') {
          text += ", ";
        } else {
          text += c;
        }
      }
      return text;
    }
    case ValueType::kString:
    case ValueType::kList:
      break;
  }
  return "";
}

bool CheckValue(const KeySpec& spec, const std::string& value, std::string* normalized) {
  switch (spec.type) {
    case ValueType::kInt: {
      int64_t number = 0;
      if (!ParseInt(value, &number) || number < spec.min || number > spec.max) return false;
      *normalized = std::to_string(number);
      return true;
    }
    case ValueType::kDuration: {
      int64_t ms = 0;
      if (!ParseDurationMs(value, &ms) || ms < spec.min || ms > spec.max) return false;
      *normalized = FormatDurationMs(ms);
      return true;
    }
    case ValueType::kBool: {
      bool flag = false;
      if (!ParseBool(value, &flag)) return false;
      *normalized = flag ? "true" : "false";
      return true;
    }
    case ValueType::kEnum: {
      const std::string v = Trim(value);
      size_t start = 0;
      while (start <= spec.choices.size()) {
        size_t comma = spec.choices.find(',', start);
        if (comma == std::string::npos) comma = spec.choices.size();
        if (spec.choices.compare(start, comma - start, v) == 0) {
          *normalized = v;
          return true;
        }
        start = comma + 1;
      }
      return false;
    }
    case ValueType::kString:
    case ValueType::kList:
      break;
  }
  *normalized = value;
  return true;
}

std::string InvalidValueMessage(const KeySpec& spec, const std::string& value,
                                const std::string& source) {
  std::string got =
      spec.secret ? "got a value that is not valid (secret, not shown)" : "got '" + value + "'";
  return spec.key + ": expected " + ExpectedText(spec) + ", " + got + " (from " + source + ")";
}

std::string SuggestKey(const std::string& key) {
  std::vector<std::string> candidates;
  for (const KeySpec& spec : Schema()) {
    candidates.push_back(spec.key);
    if (spec.secret) candidates.push_back(spec.key + ".file");
  }
  return Closest(key, candidates);
}

std::string SuggestEnvName(const std::string& name) {
  std::vector<std::string> candidates;
  for (const KeySpec& spec : Schema()) {
    for (const std::string& env : {spec.env, GenericEnvName(spec.key)}) {
      if (env.empty()) continue;
      candidates.push_back(env);
      if (spec.secret) candidates.push_back(env + "_FILE");
    }
  }
  return Closest(name, candidates);
}

bool LooksSecret(const std::string& key) {
  const size_t dot = key.rfind('.');
  const std::string name = Lower(dot == std::string::npos ? key : key.substr(dot + 1));
  for (const char* word :
       {"secret", "token", "password", "passwd", "credential", "api_key", "apikey"}) {
    if (name.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace crmsync::config
