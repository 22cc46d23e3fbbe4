// classify_rules.h: a mapping's outcome refinements (mapping-format.md,
// "Outcome refinements"), tried in order before the SDK's DefaultClassify().
//
// A rule matches an HTTP answer (never a transport error) when its status, if
// given, equals the answer's, and its bodyPointer, if given, exists in the JSON
// body and (when `equals` is given) holds that value. The first match decides.
// Pure functions; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_CLASSIFY_RULES_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_CLASSIFY_RULES_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "crmsync/http.h"
#include "crmsync/status.h"
#include "mapping_file.h"

namespace crmsync::genericrest {

/// The outcome of the first rule that matches `response`, or nullopt when none
/// does. The message keeps the CRM's reason (ExtractCrmReason) and the rule's
/// index; a rate_limited or retryable outcome honours Retry-After.
std::optional<Status> ApplyClassifyRules(const std::vector<ClassifyRule>& rules,
                                         const HttpResponse& response, int64_t now_unix_ms);

/// Rules first, then DefaultClassify().
Status ClassifyWithRules(const std::vector<ClassifyRule>& rules, const HttpResponse& response,
                         int64_t now_unix_ms);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_CLASSIFY_RULES_H_
