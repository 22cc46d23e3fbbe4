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

/// Standard base64 (RFC 4648 §4, padded, no line breaks) of `bytes`.
std::string Base64Encode(const std::string& bytes);
/// Decodes standard padded base64 into `*out`. False when `text` is empty, not
/// a multiple of 4 long, holds a character outside the alphabet, or decodes to
/// nothing.
bool Base64Decode(const std::string& text, std::string* out);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_COMMON_STRINGS_H_
