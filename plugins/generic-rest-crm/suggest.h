// suggest.h: "did you mean" for the names a mapping file gets wrong (keys,
// operations, entities, transforms, lookup tables, statuses, fields).
//
// A name is suggested when its edit distance to the unknown one (optimal
// string alignment: insertions, deletions, substitutions and swaps of two
// neighbours, letter case ignored) is at most a third of the shorter of the
// two, and at least 1: "descripton" -> "description", "nmae" -> "name",
// "Method" -> "method"; "upsert" gets no suggestion. Pure; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_SUGGEST_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_SUGGEST_H_

#include <string>
#include <vector>

namespace crmsync::genericrest {

/// The edit distance between `a` and `b`, letter case ignored.
size_t EditDistance(const std::string& a, const std::string& b);

/// The candidates nearest to `word` within the limit above (ties all kept, in
/// the candidates' order); empty when none is near enough.
std::vector<std::string> Nearest(const std::string& word,
                                 const std::vector<std::string>& candidates);

/// "; did you mean 'x'?" (or "'x' or 'y'?") to append to a message, or "".
std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_SUGGEST_H_
