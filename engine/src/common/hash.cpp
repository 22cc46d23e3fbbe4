// Stable hashes; see hash.h.
#include "common/hash.h"

#include <cstdint>
#include <cstdio>

namespace crmsync::engine {

std::string StableHash(const std::string& text) {
  uint64_t hash = 14695981039346656037ULL;  // the FNV-1a 64 offset basis
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", static_cast<unsigned long long>(hash));
  return buffer;
}

std::string EchoHash(const Lead& lead) {
  Lead content = lead;
  content.created_at.reset();
  content.updated_at.reset();
  return StableHash(EncodeLead(content));
}

std::string EchoHash(const Property& property) {
  Property content = property;
  content.updated_at.reset();
  return StableHash(EncodeProperty(content));
}

}  // namespace crmsync::engine
