// store/pg_schema.h: the PostgreSQL schema as an ordered list of migrations,
// and applying them.
//
// The versions and their content follow the SQLite migrations one for one
// (sqlite_schema.cpp), in PostgreSQL's dialect, so both stores report the same
// SchemaVersion(). Applied versions are rows of schema_migrations. Never edit
// a shipped migration; append a new one. Thread-safe (immutable list;
// MigratePg serialises concurrent starters with an advisory lock).
#ifndef CRMSYNC_ENGINE_STORE_PG_SCHEMA_H_
#define CRMSYNC_ENGINE_STORE_PG_SCHEMA_H_

#include <vector>

#include "store/pg_db.h"
#include "store/sqlite_schema.h"  // Migration

namespace crmsync::engine {

/// Every migration, in version order starting at 1.
const std::vector<Migration>& PgMigrations();

/// Brings the database of `conn` to the latest version, each migration in its
/// own transaction, while holding an advisory lock so two engines starting at
/// once do not both migrate. Throws StoreError when the database was written by
/// a newer crmsync or a migration fails (naming it). Returns the version.
int MigratePg(PgConn& conn, const std::string& where);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_PG_SCHEMA_H_
