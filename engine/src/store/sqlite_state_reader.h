// store/sqlite_state_reader.h: the plugin state of an existing SQLite store,
// read only: what `crmsync check-config` and `crmsync render` let a plugin
// load without creating, migrating or writing the store (app/plugin_hosts.h).
// The file is opened read only (no migration, no WAL switch), like
// CheckSqliteStoreFile() opens it. Thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_SQLITE_STATE_READER_H_
#define CRMSYNC_ENGINE_STORE_SQLITE_STATE_READER_H_

#include <memory>
#include <mutex>
#include <string>

#include "store/plugin_states.h"
#include "store/sqlite_port.h"

namespace crmsync::engine {

class SqlitePluginStateReader final : public PluginStates {
 public:
  /// Reads the store at `path`. A missing or empty file, or a store from
  /// before plugin_kv (schema version 9), reads as nothing saved. Throws
  /// StoreError, in CheckSqliteStoreFile()'s words, when the file is not a
  /// store this build opens.
  static std::unique_ptr<SqlitePluginStateReader> Open(const std::string& path);

  std::optional<std::string> LoadPluginState(const std::string& plugin,
                                             const std::string& key) override;
  /// Always throws StoreError: the store is open read only.
  void SavePluginState(const std::string& plugin, const std::string& key, const std::string& value,
                       int64_t now_ms) override;

 private:
  explicit SqlitePluginStateReader(std::string path) : path_(std::move(path)) {}

  std::string path_;
  std::mutex mu_;
  std::unique_ptr<Db> db_;  ///< Null when there is nothing saved to read.
  StmtCache stmts_;         ///< Of db_; declared after it, so finalized first.
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_SQLITE_STATE_READER_H_
