// pg_server.h: a real PostgreSQL server for tests, started on 127.0.0.1 on a
// free port in a temp folder on first use and stopped when the process exits;
// a fresh database per test case.
//
// As root, initdb and pg_ctl run as the postgres user (they refuse root).
// Missing server binaries fail the test with a message naming the package.
// Thread-safe.
#ifndef CRMSYNC_TESTS_ENGINE_PG_PG_SERVER_H_
#define CRMSYNC_TESTS_ENGINE_PG_PG_SERVER_H_

#include <memory>
#include <string>

#include "store/pg_store.h"

namespace crmsync::testing {

/// The conninfo of a new, empty database on the shared test server (started
/// when needed). Fails the current test (REQUIRE) when no server can run.
std::string NewPgDatabase();

/// Runs one SQL statement on the database of `conninfo` (tests poke the schema).
void PgExec(const std::string& conninfo, const std::string& sql);

/// A PgStore on a fresh database.
struct PgRig {
  PgRig();
  std::string url;
  std::unique_ptr<engine::PgStore> store;
  /// Another store (another engine process) on the same database.
  std::unique_ptr<engine::PgStore> OpenAnother(int pool_size = 4) const;
};

}  // namespace crmsync::testing

#endif  // CRMSYNC_TESTS_ENGINE_PG_PG_SERVER_H_
