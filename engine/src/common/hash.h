// common/hash.h: stable hashes of what was sent or received, used to notice
// that a change only echoes what the other side already has.
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_ENGINE_COMMON_HASH_H_
#define CRMSYNC_ENGINE_COMMON_HASH_H_

#include <string>

#include "crmsync/entities.h"

namespace crmsync::engine {

/// A stable 64-bit FNV-1a hash of `text`, as 16 hex digits.
std::string StableHash(const std::string& text);

/// The hash of an entity's content, leaving out its own timestamps
/// (createdAt, updatedAt), so a platform event that carries the CRM's last
/// change back with a new updatedAt still counts as an echo.
std::string EchoHash(const Lead& lead);
std::string EchoHash(const Property& property);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_COMMON_HASH_H_
