// backfill/backfill_lines.h: reads a chunk of a backfill file (NDJSON, one
// existing platform record a line) into the events that import it
// (docs/design.md §3 "Backfill", README "Day one").
//
// A line is {"lead": {...}} or {"property": {...}}, the record in the wire
// form of docs/events.md, checked by the intake's own rules
// (intake/event_validator.h, ValidateEventData): a backfilled record is valid
// exactly when a lead.created / property.created event's data would be.
// Blank lines are skipped; a trailing "\r" (CRLF files) is dropped.
//
// Pure functions of their input; thread-safe.
#ifndef CRMSYNC_ENGINE_BACKFILL_BACKFILL_LINES_H_
#define CRMSYNC_ENGINE_BACKFILL_BACKFILL_LINES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "crmsync/entities.h"
#include "queue/queue_types.h"

namespace crmsync::engine {

/// Longest line read, in bytes (a record is a few hundred).
constexpr size_t kMaxBackfillLineBytes = 64 * 1024;
/// Run ids: 1-64 of [A-Za-z0-9_.-] (they go into event ids).
bool ValidBackfillRunId(const std::string& run);

/// What the events of a run share.
struct BackfillLineOptions {
  std::string run;
  /// occurredAt of a record with neither updatedAt nor createdAt: the run's
  /// start, so a live event newer than the export wins the per-field merge.
  std::string run_started_at;
  /// Jobs look the record up before creating (the plugin can).
  bool lookup_first = false;
};

/// One bad line: its number in the file (1-based) and every problem, each
/// with its JSON path ("$.lead.email") and a message that quotes no value.
struct BadLine {
  int64_t line = 0;
  std::vector<FieldError> errors;
};

struct BackfillChunk {
  /// One event a valid line, in line order: lead.created or property.created,
  /// id backfill:<run>:<line>, priority bulk, coalescable.
  std::vector<IncomingEvent> events;
  std::vector<int64_t> event_lines;  ///< The line of each event.
  std::vector<BadLine> invalid;
  int64_t lines = 0;  ///< Lines read, blank ones included.
  int64_t blank = 0;
};

/// Reads the lines of `body`, the first being line `first_line` of the file.
/// A final line without "\n" counts; an empty body has no line.
BackfillChunk ParseBackfillChunk(const std::string& body, int64_t first_line,
                                 const BackfillLineOptions& options);

/// Reads one line (without its "\n") numbered `line`; appends its event to
/// `chunk` or a BadLine. Returns false for a bad line.
bool ParseBackfillLine(const std::string& text, int64_t line, const BackfillLineOptions& options,
                       BackfillChunk* chunk);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_BACKFILL_BACKFILL_LINES_H_
