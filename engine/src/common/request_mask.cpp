// Masking of shown requests; see request_mask.h.
#include "common/request_mask.h"

#include <algorithm>
#include <cctype>

#include "crmsync/redact.h"

namespace crmsync::engine {
namespace {

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

std::string RequestMask::Text(std::string text) const {
  return MaskSensitive(MaskSecrets(std::move(text), secrets_));
}

std::string RequestMask::Header(const std::string& name, const std::string& value,
                                bool added_by_transport) const {
  const std::string lower = Lower(name);
  bool secret = false;
  for (const char* word : {"auth", "key", "token", "secret", "signature", "sig", "hmac",
                           "password", "cookie", "session", "credential"}) {
    secret = secret || lower.find(word) != std::string::npos;
  }
  if (added_by_transport) {
    bool standard = false;
    for (const char* known : {"host", "content-type", "content-length", "connection", "accept",
                              "user-agent", "date", "transfer-encoding"}) {
      standard = standard || lower == known;
    }
    secret = secret || !standard;
  }
  if (!secret) return Text(value);
  const size_t blank = value.find(' ');
  if (lower == "authorization" && blank != std::string::npos && blank > 0) {
    return value.substr(0, blank) + " " + kMaskedToken;
  }
  return kMaskedToken;
}

}  // namespace crmsync::engine
