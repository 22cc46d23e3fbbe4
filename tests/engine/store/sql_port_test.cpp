// The SQL port's values, as the rules read them (queue/sql_port.h), and the
// SQLite side of the port on a real file.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "queue/sql_port.h"
#include "store/sqlite_db.h"
#include "store/sqlite_port.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

TEST_SUITE("engine.store") {
  TEST_CASE("sql port: cells read as numbers or text either way, NULL as empty") {
    SqlRows rows;
    rows.AddRow();
    rows.AddInt(42);
    rows.AddText("17");
    rows.AddNull();
    CHECK(rows.Rows() == 1);
    CHECK(rows.Int(0, 0) == 42);
    CHECK(rows.Text(0, 0) == "42");
    CHECK(rows.Int(0, 1) == 17);
    CHECK(rows.Text(0, 1) == "17");
    CHECK(rows.IsNull(0, 2));
    CHECK(rows.Int(0, 2) == 0);
    CHECK(rows.Text(0, 2).empty());
    CHECK_FALSE(rows.OptText(0, 2).has_value());
    CHECK(rows.OptText(0, 1) == std::optional<std::string>("17"));
  }

  TEST_CASE("sql port: a row or column past the result is refused, naming both") {
    SqlRows rows;
    rows.AddRow();
    rows.AddInt(1);
    try {
      rows.Text(0, 3);
      FAIL("no error for column 3");
    } catch (const std::out_of_range& e) {
      CHECK(std::string(e.what()) == "row 0 column 3 is past the statement's result");
    }
    CHECK_THROWS_AS(rows.Int(1, 0), std::out_of_range);
  }

  TEST_CASE("sql port on SQLite: named statements bind numbers, text and NULL, and read rows back") {
    crmsync::testing::TempDir dir;
    Db db(dir.File("port.db"), true);
    db.Exec("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    StmtCache cache;
    SqlitePort port(db, cache);
    CHECK(port.Run(Sql::kBumpCounter, {"coalesced", 2}) == 1);
    CHECK(port.Run(Sql::kBumpCounter, {"coalesced", 3}) == 1);
    std::string name = "coalesced";
    SqlRows rows = port.QueryText("SELECT name, value, NULL FROM counters WHERE name = ?1", {name});
    REQUIRE(rows.Rows() == 1);
    CHECK(rows.Text(0, 0) == "coalesced");
    CHECK(rows.Int(0, 1) == 5);
    CHECK(rows.IsNull(0, 2));
    CHECK(port.QueryText("SELECT value FROM counters WHERE name = ?1", {nullptr}).Empty());
  }
}

}  // namespace
}  // namespace crmsync::engine
