// store/open_store.h: opens the store the settings choose (store.backend):
// the embedded SQLite file (default, no server needed) or PostgreSQL.
//
// Stateless; thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_OPEN_STORE_H_
#define CRMSYNC_ENGINE_STORE_OPEN_STORE_H_

#include <memory>

#include "config/settings.h"
#include "store/store.h"

namespace crmsync::engine {

/// Opens and migrates the configured store. Throws StoreError naming the
/// backend and the reason (never a password).
std::unique_ptr<Store> OpenStore(const config::Settings& settings);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_OPEN_STORE_H_
