// Header lookup and transport error names.
#include "crmsync/http.h"

#include <strings.h>

namespace crmsync {

std::string FindHeader(const HeaderList& headers, const std::string& name) {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  }
  return "";
}

const char* TransportErrorName(TransportError error) noexcept {
  switch (error) {
    case TransportError::kNone: return "none";
    case TransportError::kConnect: return "connect";
    case TransportError::kTimeout: return "timeout";
    case TransportError::kIo: return "io";
    case TransportError::kTls: return "tls";
    case TransportError::kDns: return "dns";
  }
  return "unknown";
}

}  // namespace crmsync
