// backfill_lines_test.cpp: the lines of a backfill file into events or bad
// lines (backfill/backfill_lines.h): the event each valid record becomes, and
// each kind of bad line named by its number and JSON path: bad JSON, an
// unknown kind, an invalid field (the intake's own rules), a line too long;
// blank lines and CRLF.
#include <doctest/doctest.h>

#include <string>

#include "backfill/backfill_lines.h"

namespace crmsync::engine {
namespace {

BackfillLineOptions Options(bool lookup_first = true) {
  BackfillLineOptions options;
  options.run = "r1";
  options.run_started_at = "2026-12-03T18:00:00.000Z";
  options.lookup_first = lookup_first;
  return options;
}

// The one bad line of `body` (read from line 1) and its first problem.
BadLine OneBadLine(const std::string& body) {
  BackfillChunk chunk = ParseBackfillChunk(body, 1, Options());
  REQUIRE(chunk.invalid.size() == 1);
  REQUIRE(!chunk.invalid[0].errors.empty());
  return chunk.invalid[0];
}

TEST_SUITE("backfill") {
  TEST_CASE("a lead line becomes a bulk, coalescable lead.created event named by run and line") {
    BackfillChunk chunk = ParseBackfillChunk(
        R"({"lead":{"id":"L1","name":"Asha","email":"asha@example.com","updatedAt":"2025-01-02T03:04:05Z","createdAt":"2024-01-01T00:00:00Z"}})"
        "\n",
        41, Options());
    REQUIRE(chunk.events.size() == 1);
    CHECK(chunk.invalid.empty());
    CHECK(chunk.lines == 1);
    const IncomingEvent& e = chunk.events[0];
    CHECK(e.event_id == "backfill:r1:41");
    CHECK(chunk.event_lines[0] == 41);
    CHECK(e.type == EventType::kLeadCreated);
    CHECK(e.kind == EntityKind::kLead);
    CHECK(e.entity_id == "L1");
    CHECK(e.priority == Priority::kBulk);
    CHECK(e.coalescable);
    CHECK(e.lookup_first);
    CHECK(e.occurred_at == "2025-01-02T03:04:05Z");  // updatedAt first
    CHECK(e.entity_json.find("\"email\":\"asha@example.com\"") != std::string::npos);
    CHECK(e.data_path == "$.lead");
  }

  TEST_CASE("occurredAt falls back to createdAt, then to the run's start") {
    BackfillChunk chunk = ParseBackfillChunk(
        "{\"property\":{\"id\":\"P1\",\"title\":\"2BHK\",\"createdAt\":\"2024-05-06T07:08:09Z\"}}\n"
        "{\"property\":{\"id\":\"P2\",\"title\":\"3BHK\"}}\n",
        1, Options(false));
    REQUIRE(chunk.events.size() == 2);
    CHECK(chunk.events[0].type == EventType::kPropertyCreated);
    CHECK(chunk.events[0].kind == EntityKind::kProperty);
    CHECK(chunk.events[0].occurred_at == "2024-05-06T07:08:09Z");
    CHECK(chunk.events[1].occurred_at == "2026-12-03T18:00:00.000Z");
    CHECK(chunk.events[1].event_id == "backfill:r1:2");
    CHECK_FALSE(chunk.events[0].lookup_first);  // a plugin that cannot look up
  }

  TEST_CASE("bad JSON is line N at $") {
    BackfillChunk chunk = ParseBackfillChunk(
        "{\"lead\":{\"id\":\"L1\"}}\n{\"lead\":{\"id\":\n{\"lead\":{\"id\":\"L3\"}}\n", 10,
        Options());
    REQUIRE(chunk.invalid.size() == 1);
    CHECK(chunk.invalid[0].line == 11);
    CHECK(chunk.invalid[0].errors[0].path == "$");
    CHECK(chunk.invalid[0].errors[0].message.find("not valid JSON") == 0);
    CHECK(chunk.events.size() == 2);
    CHECK(chunk.event_lines == std::vector<int64_t>{10, 12});
  }

  TEST_CASE("bad JSON's parser message quotes no e-mail or phone of the line") {
    BackfillChunk chunk = ParseBackfillChunk(
        "{\"lead\":{\"email\":\"asha.rao@example.com\" \"phone\":\"+91 98765 43210\"}}\n"
        "{\"lead\":{\"id\":\"asha.rao@example.com}\n",
        0, Options());
    REQUIRE(chunk.invalid.size() == 2);
    for (const auto& bad : chunk.invalid) {
      const std::string& message = bad.errors[0].message;
      CHECK(message.find("not valid JSON") == 0);
      CHECK(message.find("asha.rao@example.com") == std::string::npos);
      CHECK(message.find("98765") == std::string::npos);
    }
  }

  TEST_CASE("a line that is not one record is refused at $") {
    for (const char* line : {"[1,2]", "{}", R"({"lead":{"id":"L1"},"property":{"id":"P1"}})"}) {
      BadLine bad = OneBadLine(line);
      CHECK(bad.line == 1);
      CHECK(bad.errors[0].path == "$");
      CHECK(bad.errors[0].message.find("must be {\"lead\"") == 0);
    }
  }

  TEST_CASE("an unknown kind is named at its path") {
    BadLine bad = OneBadLine(R"({"contact":{"id":"C1"}})");
    CHECK(bad.errors[0].path == "$.contact");
    CHECK(bad.errors[0].message == "unknown record kind; expected lead or property");
  }

  TEST_CASE("a record that is not an object is refused at its path") {
    BadLine bad = OneBadLine(R"({"lead":"L1"})");
    CHECK(bad.errors[0].path == "$.lead");
    CHECK(bad.errors[0].message.find("must be an object") == 0);
  }

  TEST_CASE("an invalid field is named at its path, by the intake's rules, without its value") {
    BadLine bad = OneBadLine(R"({"lead":{"id":"L1","email":"asha-at-example"}})");
    CHECK(bad.errors[0].path == "$.lead.email");
    CHECK(bad.errors[0].message == "must be an email address (name@domain.tld)");
    CHECK(bad.errors[0].message.find("asha-at-example") == std::string::npos);

    BadLine missing = OneBadLine(R"({"property":{"title":"no id"}})");
    CHECK(missing.errors[0].path == "$.property.id");
    CHECK(missing.errors[0].message == "is required");

    // Every problem of the line is listed.
    BadLine two = OneBadLine(R"({"lead":{"id":"L1","email":"x","budgetMin":"lots"}})");
    CHECK(two.errors.size() == 2);

    BadLine cleared = OneBadLine(R"({"lead":{"id":"L1","status":null}})");
    CHECK(cleared.errors[0].path == "$.lead.status");
  }

  TEST_CASE("blank lines are skipped but keep the numbering") {
    BackfillChunk chunk =
        ParseBackfillChunk("\n   \n{\"lead\":{\"id\":\"L1\"}}\n\t\n", 1, Options());
    CHECK(chunk.lines == 4);
    CHECK(chunk.blank == 3);
    REQUIRE(chunk.events.size() == 1);
    CHECK(chunk.event_lines[0] == 3);
    CHECK(chunk.invalid.empty());
  }

  TEST_CASE("a line too long is refused without being parsed") {
    std::string line = R"({"lead":{"id":"L1","notes":")" + std::string(kMaxBackfillLineBytes, 'x') + "\"}}";
    BadLine bad = OneBadLine(line + "\n");
    CHECK(bad.errors[0].path == "$");
    CHECK(bad.errors[0].message == "line is longer than 65536 bytes");
  }

  TEST_CASE("CRLF lines and a last line without a newline are read") {
    BackfillChunk chunk = ParseBackfillChunk(
        "{\"lead\":{\"id\":\"L1\"}}\r\n\r\n{\"lead\":{\"id\":\"L2\"}}", 1, Options());
    CHECK(chunk.lines == 3);
    CHECK(chunk.blank == 1);
    CHECK(chunk.invalid.empty());
    REQUIRE(chunk.events.size() == 2);
    CHECK(chunk.event_lines[1] == 3);
    CHECK(ParseBackfillChunk("", 1, Options()).lines == 0);
  }

  TEST_CASE("run ids are checked, as they go into event ids") {
    CHECK(ValidBackfillRunId("f-0123456789abcdef"));
    CHECK(ValidBackfillRunId("leads_2026.12"));
    CHECK_FALSE(ValidBackfillRunId(""));
    CHECK_FALSE(ValidBackfillRunId("a:b"));
    CHECK_FALSE(ValidBackfillRunId("a b"));
    CHECK_FALSE(ValidBackfillRunId(std::string(65, 'a')));
  }
}

}  // namespace
}  // namespace crmsync::engine
