// Store selection; see open_store.h.
#include "store/open_store.h"

#include "store/pg_store.h"
#include "store/sqlite_store.h"

namespace crmsync::engine {

std::unique_ptr<Store> OpenStore(const config::Settings& settings) {
  const std::string backend = settings.GetString("store.backend");
  if (backend == "postgres") {
    PgOptions options;
    options.url = settings.GetString("store.url");
    options.pool_size = static_cast<int>(settings.GetInt("store.pool_size"));
    return PgStore::Open(options);
  }
  if (backend != "sqlite") throw StoreError("unknown store.backend '" + backend + "'");
  SqliteOptions options;
  options.path = settings.GetString("store.path");
  options.synchronous = settings.GetString("store.synchronous");
  return SqliteStore::Open(options);
}

}  // namespace crmsync::engine
