// common/strings.h: small string helpers the engine shares, kept here so no
// component carries its own copy.
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_ENGINE_COMMON_STRINGS_H_
#define CRMSYNC_ENGINE_COMMON_STRINGS_H_

#include <string>

namespace crmsync::engine {

/// `text` without leading and trailing white space (std::isspace: space, tab,
/// CR, LF, vertical tab, form feed).
std::string Trim(const std::string& text);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_COMMON_STRINGS_H_
