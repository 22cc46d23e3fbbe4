// queue/store_codec.h: what the queue's rules read and write the same way on
// every backend: ISO times, the platform events' patch merge, job payloads,
// and the recently-sent history that recognises late echoes. The inbound
// side's codecs are in sync/inbound_codec.h.
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_ENGINE_QUEUE_STORE_CODEC_H_
#define CRMSYNC_ENGINE_QUEUE_STORE_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <Poco/Dynamic/Var.h>

#include <Poco/JSON/Object.h>

#include "crmsync/adapter.h"
#include "queue/queue_types.h"

namespace crmsync::engine {

/// Compact JSON text of a Poco value.
std::string Stringify(const Poco::Dynamic::Var& value);

/// Milliseconds of an ISO 8601 time (fractions and offsets read), or nullopt.
std::optional<int64_t> IsoMs(const std::string& text);

/// How long a sent state is remembered to recognise a late echo: CRM echoes
/// arrive within seconds; a CRM user going back to an older value after this
/// is a real change. And how many are kept per link.
constexpr int64_t kSentEchoWindowMs = 120000;
constexpr size_t kSentEchoKeep = 5;

/// The "<at>\t<payload>" lines of a link's sent history still inside the
/// window at `now_ms`, oldest first.
std::vector<std::pair<int64_t, std::string>> SentLines(const std::string& text, int64_t now_ms);

/// The link's sent history with `payload` appended at `now_ms`: expired lines
/// dropped, at most kSentEchoKeep kept.
std::string AppendSent(const std::string& recent, const std::string& payload, int64_t now_ms);

/// True when every field of `candidate` equals (empty matching absent) the
/// `kind` entity of one payload of the sent history still in the window: the
/// CRM is echoing one of our earlier updates.
bool MatchesEarlierSend(const std::string& recent, const std::string& kind,
                        const Poco::JSON::Object& candidate, int64_t now_ms);

/// A record a change merged into (an event's patch or a CRM's change),
/// checked against the wire contract and encoded: "" with `*entity_json` and
/// `*echo_hash` set, or the first fault ("$.path: message") when it no longer
/// meets the contract.
std::string EncodeMergedEntity(const Poco::JSON::Object& merged, bool is_lead,
                               std::string* entity_json, std::string* echo_hash);

/// One platform event's patch merged into the stored entity.
struct PatchMerge {
  std::string entity_json;           ///< The merged entity, wire form.
  std::string echo_hash;             ///< EchoHash of the merged entity.
  std::string field_times;           ///< When each field was last set (occurredAt ms), JSON.
  std::vector<std::string> changed;  ///< Fields this event changed, cleared ones included.
  /// The event carried fields and every one of them holds a value set by a
  /// newer event: nothing was merged.
  bool stale = false;
};

/// The merge rule of platform events (docs/events.md), shared by both
/// backends' Accept(): merges `patch_json` (IncomingEvent::entity_json) of an
/// event that occurred at `occurred_ms` into `stored_json` (the mirror row, ""
/// when there is none), whose fields were last set at the times in
/// `stored_times` (field_times of an earlier merge, "" when none). A field
/// absent from the patch is unchanged; null removes it; a list replaces the
/// list; a field set by an event that occurred later is kept (stale); on equal
/// occurredAt the later arrival wins. Throws PatchConflict at `data_path` +
/// the field when the merged entity breaks the wire contract.
PatchMerge MergeEventPatch(const std::string& stored_json, const std::string& stored_times,
                           const std::string& patch_json, int64_t occurred_ms, bool is_lead,
                           const std::string& data_path);

/// The payload of the job an event makes: {"lead"|"property": the merged
/// entity, "inquiry" / "assignment" when the event carries one, "changed": the
/// fields it changed; absent when `changed` is nullopt: the job sends the
/// entity whole}. DecodeJob() reads it back.
std::string JobPayload(const IncomingEvent& event, const std::string& entity_json,
                       const std::optional<std::vector<std::string>>& changed);

/// What a pending job changes once it absorbs an event that changed
/// `changed`: the "changed" of its stored `payload` first, then the event's
/// names not among them.
std::vector<std::string> UnionChanged(const std::string& payload,
                                      const std::vector<std::string>& changed);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_QUEUE_STORE_CODEC_H_
