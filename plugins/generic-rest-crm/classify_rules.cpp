// A mapping's outcome refinements; see classify_rules.h.
#include "classify_rules.h"

#include <string>

#include "crmsync/classify.h"

namespace crmsync::genericrest {
namespace {

bool SameValue(const Var& expected, const Var& actual) {
  if (IsNumber(expected) && IsNumber(actual)) {
    return expected.convert<double>() == actual.convert<double>();
  }
  if (IsString(expected) || IsString(actual)) {
    return IsString(expected) && IsString(actual) &&
           expected.extract<std::string>() == actual.extract<std::string>();
  }
  return ToJson(expected) == ToJson(actual);
}

}  // namespace

std::optional<Status> ApplyClassifyRules(const std::vector<ClassifyRule>& rules,
                                         const HttpResponse& response, int64_t now_unix_ms) {
  if (response.error != TransportError::kNone || response.status <= 0) return std::nullopt;
  bool parsed = false;
  bool parse_ok = false;
  Var body;
  for (size_t i = 0; i < rules.size(); ++i) {
    const ClassifyRule& rule = rules[i];
    if (rule.status && *rule.status != response.status) continue;
    if (rule.body_pointer) {
      if (!parsed) {
        std::string error;
        parse_ok = ParseJson(response.body, &body, &error);
        parsed = true;
      }
      if (!parse_ok) continue;
      const std::optional<Var> value = ResolvePointer(body, *rule.body_pointer);
      if (!value) continue;
      if (rule.equals && !SameValue(*rule.equals, *value)) continue;
    }
    if (rule.as == StatusCode::kOk) return Status::Ok();
    const std::string message = "CRM answered " + std::to_string(response.status) + ": " +
                                ExtractCrmReason(response.body) + " (mapping classify rule " +
                                std::to_string(i) + ")";
    int64_t retry_after_ms = -1;
    const std::string retry_after = response.Header("Retry-After");
    if (!retry_after.empty()) retry_after_ms = ParseRetryAfterMs(retry_after, now_unix_ms);
    if (rule.as == StatusCode::kRateLimited && retry_after_ms < 0) {
      retry_after_ms = kDefaultRateLimitWaitMs;
    }
    if (rule.as != StatusCode::kRateLimited && rule.as != StatusCode::kRetryable) {
      retry_after_ms = -1;
    }
    return Status(rule.as, message, retry_after_ms);
  }
  return std::nullopt;
}

Status ClassifyWithRules(const std::vector<ClassifyRule>& rules, const HttpResponse& response,
                         int64_t now_unix_ms) {
  std::optional<Status> refined = ApplyClassifyRules(rules, response, now_unix_ms);
  if (refined) return *refined;
  return DefaultClassify(response, now_unix_ms);
}

}  // namespace crmsync::genericrest
