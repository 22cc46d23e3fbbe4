// Budget headers: their names, checked, and what an answer says with them;
// see crmsync/rate_limit.h.
#include "crmsync/rate_limit.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <sstream>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "crmsync/redact.h"

namespace crmsync {
namespace {

using Problems = std::vector<std::pair<std::string, std::string>>;

// A Unix time in seconds this large is not a wait (it would be 31 years).
constexpr double kUnixSecondsFrom = 1e9;
// Waits are clamped here (about 31 years), far from overflowing.
constexpr double kMaxResetMs = 1e12;
constexpr int64_t kMaxWindowSeconds = 31LL * 24 * 3600;
// How much of a bad value a problem quotes.
constexpr size_t kMaxQuotedBytes = 40;

const char* const kKeys[] = {"remainingHeader", "resetHeader", "resetFormat", "usageHeader",
                             "usageKey",        "structuredHeader", "windowSeconds"};

const std::pair<const char*, RateLimitReset> kResetNames[] = {
    {"auto", RateLimitReset::kAuto},
    {"seconds", RateLimitReset::kSeconds},
    {"milliseconds", RateLimitReset::kMilliseconds},
    {"unixSeconds", RateLimitReset::kUnixSeconds},
    {"unixMilliseconds", RateLimitReset::kUnixMilliseconds},
    {"intervalSeconds", RateLimitReset::kIntervalSeconds},
    {"intervalMilliseconds", RateLimitReset::kIntervalMilliseconds},
};

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

// RFC 9110 tchar: what a header name is made of.
bool IsHeaderName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    if (std::string("!#$%&'*+-.^_`|~").find(c) == std::string::npos) return false;
  }
  return true;
}

// A header value quoted in a problem: masked, shortened, printable only.
std::string Quoted(const std::string& value) {
  std::string out;
  for (char c : MaskSensitive(value.substr(0, 4 * kMaxQuotedBytes))) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out += c;
  }
  if (out.size() > kMaxQuotedBytes) out = out.substr(0, kMaxQuotedBytes) + "...";
  return "'" + out + "'";
}

// A whole number of at most 18 digits.
bool ParseCount(const std::string& text, int64_t* out) {
  const std::string t = Trim(text);
  if (t.empty() || t.size() > 18) return false;
  int64_t value = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

// A decimal number ("30", "1.5", "-2"); false when it is not one.
bool ParseNumber(const std::string& text, double* out) {
  const std::string t = Trim(text);
  size_t i = 0;
  bool negative = false;
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) negative = t[i++] == '-';
  double value = 0;
  size_t digits = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9' && digits < 18) {
    value = value * 10 + (t[i++] - '0');
    ++digits;
  }
  if (digits == 0) return false;
  if (i < t.size() && t[i] == '.') {
    ++i;
    double scale = 0.1;
    size_t decimals = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
      if (decimals++ < 9) value += (t[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (decimals == 0) return false;
  }
  if (i != t.size()) return false;
  *out = negative ? -value : value;
  return true;
}

// Milliseconds until the reset that `value` states in `format`; false with
// *why when it is not a number or is negative.
bool ResetInMs(const std::string& value, RateLimitReset format, int64_t now_unix_ms, int64_t* out,
               std::string* why) {
  double v = 0;
  if (!ParseNumber(value, &v)) {
    *why = "not a number";
    return false;
  }
  if (v < 0) {
    *why = "negative";
    return false;
  }
  double ms = 0;
  switch (format) {
    case RateLimitReset::kAuto:
      ms = v >= kUnixSecondsFrom ? v * 1000 - static_cast<double>(now_unix_ms) : v * 1000;
      break;
    case RateLimitReset::kSeconds:
    case RateLimitReset::kIntervalSeconds:
      ms = v * 1000;
      break;
    case RateLimitReset::kMilliseconds:
    case RateLimitReset::kIntervalMilliseconds:
      ms = v;
      break;
    case RateLimitReset::kUnixSeconds:
      ms = v * 1000 - static_cast<double>(now_unix_ms);
      break;
    case RateLimitReset::kUnixMilliseconds:
      ms = v - static_cast<double>(now_unix_ms);
      break;
  }
  // A reset already passed: the budget has refilled.
  *out = static_cast<int64_t>(std::clamp(ms, 0.0, kMaxResetMs));
  return true;
}

bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && strcasecmp(a.c_str(), b.c_str()) == 0;
}

// "<used>/<limit>" after "<key>=" (or anywhere when key is ""), as requests left.
bool ReadUsage(const std::string& value, const std::string& key, int64_t* remaining) {
  size_t at = 0;
  if (!key.empty()) {
    const std::string lower_value = [&] {
      std::string s = value;
      for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    }();
    std::string needle = key + "=";
    for (char& c : needle) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    at = std::string::npos;
    for (size_t from = lower_value.find(needle); from != std::string::npos;
         from = lower_value.find(needle, from + 1)) {
      if (from == 0 || std::string(" ;,").find(lower_value[from - 1]) != std::string::npos) {
        at = from + needle.size();
        break;
      }
    }
    if (at == std::string::npos) return false;
  } else {
    at = value.find_first_of("0123456789");
    if (at == std::string::npos) return false;
  }
  const size_t slash = value.find('/', at);
  if (slash == std::string::npos) return false;
  size_t end = slash + 1;
  while (end < value.size() && value[end] >= '0' && value[end] <= '9') ++end;
  int64_t used = 0;
  int64_t limit = 0;
  if (!ParseCount(value.substr(at, slash - at), &used) ||
      !ParseCount(value.substr(slash + 1, end - slash - 1), &limit) || limit <= 0) {
    return false;
  }
  *remaining = std::max<int64_t>(0, limit - used);
  return true;
}

// The IETF structured header: the policy with the fewest requests left, each
// item either `"name";r=50;t=30` or (an older draft) one of `remaining=50`,
// `reset=30` spread over comma-separated members.
bool ReadStructured(const std::string& value, int64_t* remaining, int64_t* reset_ms, bool* has_reset,
                    std::string* why) {
  struct Item {
    bool has_r = false, has_t = false, bad = false;
    int64_t r = 0;
    double t = 0;
  };
  std::vector<Item> items;
  Item merged;
  std::stringstream members(value);
  std::string member;
  while (std::getline(members, member, ',')) {
    Item item;
    std::stringstream params(member);
    std::string param;
    while (std::getline(params, param, ';')) {
      const size_t eq = param.find('=');
      if (eq == std::string::npos) continue;
      std::string name = Trim(param.substr(0, eq));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::string text = Trim(param.substr(eq + 1));
      if (name == "r" || name == "remaining") {
        item.has_r = ParseCount(text, &item.r);
        item.bad = item.bad || !item.has_r;
      } else if (name == "t" || name == "reset") {
        item.has_t = ParseNumber(text, &item.t);
        item.bad = item.bad || !item.has_t || item.t < 0;
      }
    }
    if (item.bad) {
      *why = "a remaining (r) that is not a whole number or a reset (t) that is not a "
             "non-negative number";
      return false;
    }
    if (item.has_r) {
      merged.has_r = true;
      merged.r = item.r;
    }
    if (item.has_t) {
      merged.has_t = true;
      merged.t = item.t;
    }
    if (item.has_r) items.push_back(item);
  }
  if (items.empty()) {
    *why = "no remaining (r=)";
    return false;
  }
  Item best = items.front();
  for (const Item& item : items) {
    if (item.r < best.r || (item.r == best.r && item.t > best.t)) best = item;
  }
  if (!best.has_t && merged.has_t && items.size() == 1) best = merged;  // the older draft's form
  *remaining = best.r;
  *has_reset = best.has_t;
  *reset_ms = static_cast<int64_t>(std::min(best.t * 1000, kMaxResetMs));
  return true;
}

RateLimitHeaders Set(const char* remaining, const char* reset, RateLimitReset format) {
  RateLimitHeaders set;
  set.remaining_header = remaining;
  set.reset_header = reset;
  set.reset_format = format;
  return set;
}

}  // namespace

const char* RateLimitResetName(RateLimitReset format) noexcept {
  for (const auto& entry : kResetNames) {
    if (entry.second == format) return entry.first;
  }
  return "auto";
}

const std::vector<RateLimitHeaders>& DefaultRateLimitHeaders() {
  static const std::vector<RateLimitHeaders> kDefaults = [] {
    std::vector<RateLimitHeaders> sets;
    RateLimitHeaders structured;
    structured.structured_header = "RateLimit";
    sets.push_back(structured);
    sets.push_back(Set("RateLimit-Remaining", "RateLimit-Reset", RateLimitReset::kSeconds));
    sets.push_back(Set("X-RateLimit-Remaining", "X-RateLimit-Reset", RateLimitReset::kAuto));
    sets.push_back(Set("X-HubSpot-RateLimit-Remaining", "X-HubSpot-RateLimit-Interval-Milliseconds",
                       RateLimitReset::kIntervalMilliseconds));
    RateLimitHeaders salesforce;
    salesforce.usage_header = "Sforce-Limit-Info";
    salesforce.usage_key = "api-usage";
    salesforce.window_ms = 24LL * 3600 * 1000;
    sets.push_back(salesforce);
    return sets;
  }();
  return kDefaults;
}

bool ParseRateLimitHeaders(const std::string& json, RateLimitHeaders* out,
                           Problems* problems) noexcept {
  const size_t problems_before = problems->size();
  try {
    const std::string text = Trim(json);
    if (!text.empty() && text.front() != '{') {
      problems->emplace_back("", "must be an object");
      return false;
    }
    Poco::Dynamic::Var parsed;
    try {
      parsed = Poco::JSON::Parser().parse(text);
    } catch (const std::exception& e) {
      problems->emplace_back("", std::string("not valid JSON: ") + e.what());
      return false;
    }
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
      problems->emplace_back("", "must be an object");
      return false;
    }
    Poco::JSON::Object::Ptr object = parsed.extract<Poco::JSON::Object::Ptr>();
    std::string expected;
    for (const char* key : kKeys) expected += (expected.empty() ? "" : " ") + std::string(key);
    for (const std::string& name : object->getNames()) {
      if (std::find(std::begin(kKeys), std::end(kKeys), name) == std::end(kKeys)) {
        problems->emplace_back(name, "unknown key (expected one of " + expected + ")");
      }
    }
    RateLimitHeaders set;
    // A string member naming a header (or, for usageKey, a key).
    auto name_of = [&](const char* key, bool header, std::string* value) {
      if (!object->has(key)) return;
      const Poco::Dynamic::Var v = object->get(key);
      if (!v.isString() || !IsHeaderName(v.extract<std::string>())) {
        problems->emplace_back(
            key, std::string("must be ") + (header ? "a header name" : "a key") +
                     " (letters, digits and !#$%&'*+-.^_`|~, not empty)");
        return;
      }
      *value = v.extract<std::string>();
    };
    name_of("remainingHeader", true, &set.remaining_header);
    name_of("resetHeader", true, &set.reset_header);
    name_of("usageHeader", true, &set.usage_header);
    name_of("usageKey", false, &set.usage_key);
    name_of("structuredHeader", true, &set.structured_header);
    const int kinds = (object->has("remainingHeader") ? 1 : 0) +
                      (object->has("usageHeader") ? 1 : 0) +
                      (object->has("structuredHeader") ? 1 : 0);
    if (kinds == 0) {
      problems->emplace_back("", "names no budget header: give remainingHeader, usageHeader or "
                                 "structuredHeader");
    } else if (kinds > 1) {
      problems->emplace_back("", "name only one of remainingHeader, usageHeader and "
                                 "structuredHeader");
    }
    if (object->has("resetFormat")) {
      const Poco::Dynamic::Var v = object->get("resetFormat");
      bool known = false;
      for (const auto& entry : kResetNames) {
        if (v.isString() && v.extract<std::string>() == entry.first) {
          set.reset_format = entry.second;
          known = true;
        }
      }
      if (!known) {
        std::string names;
        for (const auto& entry : kResetNames) names += (names.empty() ? "" : " ") + std::string(entry.first);
        problems->emplace_back("resetFormat", "must be one of " + names);
      }
      if (!object->has("resetHeader")) problems->emplace_back("resetFormat", "needs a resetHeader");
    }
    if (object->has("resetHeader") && !object->has("remainingHeader")) {
      problems->emplace_back("resetHeader", "belongs with a remainingHeader");
    }
    if (object->has("usageKey") && !object->has("usageHeader")) {
      problems->emplace_back("usageKey", "belongs with a usageHeader");
    }
    if (object->has("windowSeconds")) {
      const Poco::Dynamic::Var v = object->get("windowSeconds");
      if (!v.isInteger() || v.isBoolean() || v.convert<int64_t>() < 1 ||
          v.convert<int64_t>() > kMaxWindowSeconds) {
        problems->emplace_back("windowSeconds",
                               "must be a whole number of seconds from 1 to " +
                                   std::to_string(kMaxWindowSeconds));
      } else {
        set.window_ms = v.convert<int64_t>() * 1000;
      }
    }
    if (object->has("remainingHeader") && !object->has("resetHeader") &&
        !object->has("windowSeconds")) {
      problems->emplace_back("remainingHeader",
                             "needs a resetHeader or windowSeconds: without one, when the "
                             "budget refills is unknown");
    }
    if (object->has("usageHeader") && !object->has("windowSeconds")) {
      problems->emplace_back("usageHeader",
                             "needs windowSeconds, the budget's window (86400 for a daily limit)");
    }
    if (problems->size() != problems_before) return false;
    *out = set;
    return true;
  } catch (const std::exception& e) {
    problems->emplace_back("", std::string("cannot be read: ") + e.what());
    return false;
  }
}

std::string RateLimitHeadersJson(const RateLimitHeaders& headers) {
  Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  if (!headers.remaining_header.empty()) object.set("remainingHeader", headers.remaining_header);
  if (!headers.reset_header.empty()) {
    object.set("resetHeader", headers.reset_header);
    object.set("resetFormat", std::string(RateLimitResetName(headers.reset_format)));
  }
  if (!headers.usage_header.empty()) object.set("usageHeader", headers.usage_header);
  if (!headers.usage_key.empty()) object.set("usageKey", headers.usage_key);
  if (!headers.structured_header.empty()) object.set("structuredHeader", headers.structured_header);
  if (headers.window_ms > 0) object.set("windowSeconds", (headers.window_ms + 999) / 1000);
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

bool ReadRateLimitBudget(const HttpResponse& response, const std::vector<RateLimitHeaders>& sets,
                         int64_t now_unix_ms, RateLimitBudget* out, std::string* problem) noexcept {
  problem->clear();
  try {
    // The value of header `name` and whether the answer carries it.
    auto find = [&](const std::string& name, std::string* value) {
      if (name.empty()) return false;
      for (const auto& [key, v] : response.headers) {
        if (EqualsIgnoreCase(key, name)) {
          *value = v;
          return true;
        }
      }
      return false;
    };
    for (const RateLimitHeaders& set : sets) {
      std::string value;
      RateLimitBudget budget;
      bool has_reset = false;
      std::string why;
      if (find(set.structured_header, &value)) {
        if (!ReadStructured(value, &budget.remaining, &budget.reset_in_ms, &has_reset, &why)) {
          *problem = set.structured_header + " " + Quoted(value) + ": " + why;
          return false;
        }
      } else if (find(set.usage_header, &value)) {
        if (!ReadUsage(value, set.usage_key, &budget.remaining)) {
          *problem = set.usage_header + " " + Quoted(value) + ": no " +
                     (set.usage_key.empty() ? "" : set.usage_key + "=") +
                     "<used>/<limit> with a limit above 0";
          return false;
        }
      } else if (find(set.remaining_header, &value)) {
        if (!ParseCount(value, &budget.remaining)) {
          *problem = set.remaining_header + " " + Quoted(value) +
                     ": not a whole number of requests";
          return false;
        }
        std::string reset;
        if (find(set.reset_header, &reset)) {
          if (!ResetInMs(reset, set.reset_format, now_unix_ms, &budget.reset_in_ms, &why)) {
            *problem = set.reset_header + " " + Quoted(reset) + ": " + why;
            return false;
          }
          has_reset = true;
        }
      } else {
        continue;
      }
      if (!has_reset) {
        if (set.window_ms <= 0) {
          const std::string& header = !set.remaining_header.empty() ? set.remaining_header
                                      : !set.usage_header.empty()   ? set.usage_header
                                                                    : set.structured_header;
          *problem = header + " without a reset: when the budget refills is unknown";
          return false;
        }
        budget.reset_in_ms = set.window_ms;
      }
      *out = budget;
      return true;
    }
    return false;
  } catch (const std::exception& e) {
    *problem = std::string("budget headers cannot be read: ") + e.what();
    return false;
  }
}

}  // namespace crmsync
