// inbound_store_test.cpp: the inbound half of the SQLite store on a real file
// (docs/design.md §5): recording and listing deliveries, applying CRM changes under
// the field-ownership rules (find by external id or create, merge, stale and
// no-op changes, invalid results), the change feed and audit they write, and
// the echo suppression that keeps a CRM change from being sent back.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "inbound_fixtures.h"

namespace crmsync::engine {
namespace {

using namespace inbound_test;  // NOLINT
using crmsync::testing::TempDir;

struct StoreRig {
  TempDir dir;
  std::string path = dir.File("crmsync.db");
  std::unique_ptr<SqliteStore> store = OpenStore(path);
};

TEST_SUITE("engine.inbound") {
#include "inbound_store_cases.inc"

}

}  // namespace
}  // namespace crmsync::engine
