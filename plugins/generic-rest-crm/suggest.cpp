// "Did you mean" for mapping files; see suggest.h.
#include "suggest.h"

#include <algorithm>
#include <cctype>

namespace crmsync::genericrest {
namespace {

std::string Lower(const std::string& text) {
  std::string out = text;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

size_t EditDistance(const std::string& a_in, const std::string& b_in) {
  const std::string a = Lower(a_in);
  const std::string b = Lower(b_in);
  // Three rows of the optimal-string-alignment table: two back for swaps.
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    before.swap(previous);
    previous.swap(current);
  }
  return previous[b.size()];
}

std::vector<std::string> Nearest(const std::string& word,
                                 const std::vector<std::string>& candidates) {
  std::vector<std::string> best;
  size_t best_distance = 0;
  for (const std::string& candidate : candidates) {
    if (candidate == word) continue;
    const size_t limit = std::max<size_t>(1, std::min(word.size(), candidate.size()) / 3);
    const size_t distance = EditDistance(word, candidate);
    if (distance > limit) continue;
    if (best.empty() || distance < best_distance) {
      best = {candidate};
      best_distance = distance;
    } else if (distance == best_distance &&
               std::find(best.begin(), best.end(), candidate) == best.end()) {
      best.push_back(candidate);
    }
  }
  return best;
}

std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::vector<std::string> nearest = Nearest(word, candidates);
  if (nearest.empty()) return "";
  std::string out = "; did you mean ";
  for (size_t i = 0; i < nearest.size(); ++i) {
    if (i > 0) out += i + 1 == nearest.size() ? " or " : ", ";
    out += "'" + nearest[i] + "'";
  }
  return out + "?";
}

}  // namespace crmsync::genericrest
