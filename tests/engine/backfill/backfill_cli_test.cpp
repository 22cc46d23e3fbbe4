// backfill_cli_test.cpp: the run id `crmsync backfill` derives from a file
// (app/backfill_cli.h): the same file gives the same run, so the same
// command resumes; another file, or the same path rewritten, another run.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include <Poco/File.h>
#include <Poco/Timestamp.h>

#include "app/backfill_cli.h"
#include "backfill/backfill_lines.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

TEST_SUITE("backfill") {
  TEST_CASE("a file's run id is stable, and changes with the file") {
    crmsync::testing::TempDir dir;
    const std::string a = dir.File("a.ndjson");
    const std::string b = dir.File("b.ndjson");
    Write(a, "{\"lead\":{\"id\":\"L1\"}}\n");
    Write(b, "{\"lead\":{\"id\":\"L1\"}}\n");
    std::string why;
    const std::string run = DefaultBackfillRun(a, &why);
    REQUIRE(!run.empty());
    CHECK(ValidBackfillRunId(run));
    CHECK(run.rfind("f-", 0) == 0);
    CHECK(DefaultBackfillRun(a, &why) == run);
    CHECK(DefaultBackfillRun(b, &why) != run);  // another path

    // The same path, written again: a new export, a new run.
    Write(a, "{\"lead\":{\"id\":\"L1\"}}\n{\"lead\":{\"id\":\"L2\"}}\n");
    CHECK(DefaultBackfillRun(a, &why) != run);
    Poco::File(a).setLastModified(Poco::Timestamp::fromEpochTime(1'700'000'000));
    const std::string dated = DefaultBackfillRun(a, &why);
    Poco::File(a).setLastModified(Poco::Timestamp::fromEpochTime(1'700'000'100));
    CHECK(DefaultBackfillRun(a, &why) != dated);
  }

  TEST_CASE("a file that cannot be read has no run id, and says why") {
    crmsync::testing::TempDir dir;
    std::string why;
    CHECK(DefaultBackfillRun(dir.File("none.ndjson"), &why).empty());
    CHECK(why == "cannot read " + dir.File("none.ndjson") + ": no such file");
    CHECK(DefaultBackfillRun(dir.path(), &why).empty());  // a folder
  }
}

}  // namespace
}  // namespace crmsync::engine
