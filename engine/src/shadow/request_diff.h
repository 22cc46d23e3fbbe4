// shadow/request_diff.h: where two requests built for the same step differ,
// the live adapter's and the shadow's (docs/design.md §11, shadow mode):
// method, path, and the body as JSON pointers (RFC 6901) to what was added,
// removed or changed. Objects are compared member by member whatever their
// order; arrays element by element by index (a shorter array's missing
// elements are removed or added at their index). A body that is not JSON on
// either side is compared as text: one difference at "" when they differ.
//
// The values quoted are compact JSON passed through a RequestMask, so an
// email, phone, token or secret setting never reaches the summary unmasked.
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_ENGINE_SHADOW_REQUEST_DIFF_H_
#define CRMSYNC_ENGINE_SHADOW_REQUEST_DIFF_H_

#include <string>
#include <vector>

#include "common/request_mask.h"
#include "crmsync/http.h"

namespace crmsync::engine {

enum class BodyChange { kAdded, kRemoved, kChanged };
/// "added", "removed", "changed".
const char* BodyChangeName(BodyChange change);

struct BodyDifference {
  /// RFC 6901 pointer into the body ("/budgetRange/min", "/tags/2"; "" for
  /// the whole body).
  std::string pointer;
  BodyChange change = BodyChange::kChanged;
  /// The live request's value as compact JSON, masked; "" when added.
  std::string live;
  /// The shadow request's value as compact JSON, masked; "" when removed.
  std::string shadow;
};

/// The differences of the shadow's body from the live one's, in pointer order.
std::vector<BodyDifference> DiffBodies(const std::string& live, const std::string& shadow,
                                       const RequestMask& mask);

struct RequestDifference {
  bool method = false;  ///< The methods differ.
  bool path = false;    ///< The paths (query included) differ.
  std::vector<BodyDifference> body;
  bool any() const { return method || path || !body.empty(); }
};

/// Where `shadow` differs from `live`: method, path (as the mappers built
/// them, before the transport adds its base URL) and body.
RequestDifference DiffRequests(const HttpRequest& live, const HttpRequest& shadow,
                               const RequestMask& mask);

/// `token` escaped for a JSON pointer ("~" → "~0", "/" → "~1").
std::string EscapePointerToken(const std::string& token);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_SHADOW_REQUEST_DIFF_H_
