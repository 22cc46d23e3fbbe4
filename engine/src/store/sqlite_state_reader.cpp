// Read-only plugin state of a SQLite store; see sqlite_state_reader.h.
#include "store/sqlite_state_reader.h"

#include <filesystem>
#include <system_error>

#include "store/sqlite_schema.h"
#include "store/sqlite_store.h"
#include "sync/plugin_state_rules.h"

namespace crmsync::engine {

std::unique_ptr<SqlitePluginStateReader> SqlitePluginStateReader::Open(const std::string& path) {
  std::unique_ptr<SqlitePluginStateReader> reader(new SqlitePluginStateReader(path));
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) || std::filesystem::file_size(path, ec) == 0 || ec) {
    return reader;  // No store yet: serve would create it empty.
  }
  if (CheckSqliteStoreFile(path) >= kPluginStateMigration.version) {
    reader->db_ = std::make_unique<Db>(path, /*create=*/false, /*read_only=*/true);
  }
  return reader;
}

std::optional<std::string> SqlitePluginStateReader::LoadPluginState(const std::string& plugin,
                                                                    const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!db_) return std::nullopt;
  SqlitePort port(*db_, stmts_);
  return ReadPluginState(port, plugin, key);
}

void SqlitePluginStateReader::SavePluginState(const std::string& plugin, const std::string& key,
                                              const std::string&, int64_t) {
  throw StoreError("cannot save key '" + key + "' of plugin '" + plugin + "': " + path_ +
                   " is open read only");
}

}  // namespace crmsync::engine
