// store/store_error.h: StoreError, the one exception every storage backend
// (SQLite, PostgreSQL) and the Redis queue throw on a storage failure, so
// callers at component edges catch one type whatever the backend.
#ifndef CRMSYNC_ENGINE_STORE_STORE_ERROR_H_
#define CRMSYNC_ENGINE_STORE_STORE_ERROR_H_

#include <stdexcept>
#include <string>

namespace crmsync::engine {

/// A storage failure; what() names the operation and the backend's reason.
class StoreError : public std::runtime_error {
 public:
  explicit StoreError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_STORE_ERROR_H_
