// store/sqlite_schema.h: the SQLite schema as an ordered list of migrations.
//
// Migration N takes a database at user_version N-1 to N. Never edit a shipped
// migration; append a new one. Immutable; thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_SQLITE_SCHEMA_H_
#define CRMSYNC_ENGINE_STORE_SQLITE_SCHEMA_H_

#include <string>
#include <vector>

namespace crmsync::engine {

struct Migration {
  int version;
  std::string description;
  std::string sql;
};

/// Every migration, in version order starting at 1.
const std::vector<Migration>& SqliteMigrations();

/// Migration 8, the same SQL in both stores: the mirror's field_times.
extern const Migration kFieldTimesMigration;
/// Migration 9, the same SQL in both stores: plugin_kv, the PluginStates role.
extern const Migration kPluginStateMigration;
/// Migration 10, the same SQL in both stores: inbound_events, per-event dedup.
extern const Migration kInboundEventsMigration;

/// PRAGMA application_id written into every crmsync database ("crms").
constexpr int kSqliteApplicationId = 0x63726d73;

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_SQLITE_SCHEMA_H_
