// pg_backfill_test.cpp: backfill runs (backfill/backfill_runs.h) on
// PostgreSQL: a chunk's events become bulk jobs, the run's state (offset,
// figures, bad lines) is kept in the store's PluginStates and read by
// another engine on the same database, a chunk at another offset is
// refused, and a strict chunk with a bad line writes nothing.
#include <doctest/doctest.h>

#include <string>

#include "backfill/backfill_runs.h"
#include "common/clock.h"
#include "pg_server.h"
#include "store/pg_store.h"

namespace crmsync::engine {
namespace {

std::string Lead(int n) {
  return "{\"lead\":{\"id\":\"L" + std::to_string(n) + "\",\"name\":\"Lead " + std::to_string(n) +
         "\"}}\n";
}

BackfillImport Chunk(const std::string& run, int64_t offset, const std::string& body) {
  BackfillImport request;
  request.run = run;
  request.offset = offset;
  request.body = body;
  return request;
}

int64_t BulkReady(PgStore& store) {
  return store.Stats().ready_by_priority[static_cast<int>(Priority::kBulk)];
}

TEST_SUITE("engine.pg.backfill") {
  TEST_CASE("pg backfill: chunks, offsets and strict, the run seen by another engine") {
    crmsync::testing::PgRig pg;
    ManualClock clock;
    BackfillRuns runs(pg.store.get(), pg.store.get(), &clock, true, nullptr, nullptr);

    BackfillImportResult first =
        runs.Import(Chunk("r1", 0, Lead(1) + "{\"lead\":{\"id\":\"L2\",\"email\":\"x\"}}\n" + Lead(3)));
    REQUIRE(first.status == 200);
    CHECK(first.accepted == 2);
    REQUIRE(first.invalid.size() == 1);
    CHECK(first.invalid[0].line == 2);
    CHECK(first.next_offset == 3);
    CHECK(BulkReady(*pg.store) == 2);
    std::vector<LeasedJob> jobs = pg.store->Lease("mock-crm", 10, clock.NowMs(), 60000);
    REQUIRE(jobs.size() == 2);
    CHECK(jobs[0].in_doubt);  // lookup first
    CHECK(jobs[0].event_id == "backfill:r1:1");

    CHECK(runs.Import(Chunk("r1", 0, Lead(1))).status == 409);

    // Another engine on the database sees the run and continues it.
    std::unique_ptr<PgStore> other = pg.OpenAnother();
    BackfillRuns other_runs(other.get(), other.get(), &clock, true, nullptr, nullptr);
    std::optional<BackfillRun> seen = other_runs.Get("r1");
    REQUIRE(seen);
    CHECK(seen->next_offset == 3);
    CHECK(seen->invalid == 1);
    REQUIRE(seen->bad_lines.size() == 1);
    CHECK(seen->bad_lines[0].path == "$.lead.email");

    BackfillImport strict = Chunk("r1", 3, Lead(4) + "{\"contact\":{}}\n");
    strict.strict = true;
    BackfillImportResult refused = other_runs.Import(strict);
    CHECK(refused.status == 422);
    CHECK(BulkReady(*pg.store) == 0);  // the two leased; nothing of the strict chunk
    CHECK(runs.Get("r1")->state == "stopped");

    BackfillImport last = Chunk("r1", 3, Lead(4) + Lead(5));
    last.final = true;
    BackfillImportResult done = other_runs.Import(last);
    REQUIRE(done.status == 200);
    CHECK(done.accepted == 2);
    CHECK(runs.Get("r1")->state == "finished");
    CHECK(runs.List().front().run == "r1");
  }
}

}  // namespace
}  // namespace crmsync::engine
