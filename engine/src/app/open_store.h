// app/open_store.h: opens the store the settings choose (store.backend):
// the embedded SQLite file (default, no server needed) or PostgreSQL, with the
// Redis queue in front of it when queue.backend=redis. Wiring, so it lives in
// app/ (the composition root): store/ itself reads no settings and knows no
// queue.
//
// Stateless; thread-safe.
#ifndef CRMSYNC_ENGINE_APP_OPEN_STORE_H_
#define CRMSYNC_ENGINE_APP_OPEN_STORE_H_

#include <memory>

#include "config/settings.h"
#include "store/store.h"

namespace crmsync::engine {

/// Opens and migrates the configured store. Throws StoreError naming the
/// backend and the reason (never a password).
std::unique_ptr<Store> OpenStore(const config::Settings& settings);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_OPEN_STORE_H_
