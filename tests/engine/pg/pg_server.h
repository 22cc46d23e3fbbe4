// pg_server.h: a real PostgreSQL server for tests on 127.0.0.1, and a fresh
// database per test case. Under ctest the server is the `pg` fixture's, one for
// the whole run (CRMSYNC_TEST_PG_DIR names its folder); a test executable run
// by hand starts its own on a free port in a temp folder on first use and
// stops it when the process exits.
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

/// The ctest fixture `pg` (tests/CMakeLists.txt): starts one server in `dir`
/// for every test process of the run, writing its conninfo (without dbname)
/// to `dir`/conninfo, and leaves it running. A server a killed run left in
/// `dir` is stopped first. "" on success, else why not.
std::string StartSharedPgServer(const std::string& dir);
/// Stops the fixture's server in `dir` and removes `dir`. "" or why not.
std::string StopSharedPgServer(const std::string& dir);

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
