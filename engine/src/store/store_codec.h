// store/store_codec.h: what both store backends read and write the same way:
// stored webhook changes, ISO times, funnel order, ids for records the CRM
// knew first, and the recently-sent history that recognises late echoes.
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_STORE_CODEC_H_
#define CRMSYNC_ENGINE_STORE_STORE_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <Poco/Dynamic/Var.h>

#include "crmsync/adapter.h"

namespace crmsync::engine {

/// Compact JSON text of a Poco value.
std::string Stringify(const Poco::Dynamic::Var& value);

/// A delivery's changes as stored, and back.
std::string ChangesToJson(const std::vector<InboundChange>& changes);
std::vector<InboundChange> ChangesFromJson(const std::string& json);

/// Milliseconds of an ISO 8601 time (fractions and offsets read), or nullopt.
std::optional<int64_t> IsoMs(const std::string& text);

/// Position of a lead status in the funnel (the enum's order), -1 when unknown.
int FunnelIndex(const std::string& status);

/// A platform id for a record the CRM knew first: "crm-" + its id, kept to the
/// characters and length the wire contract allows.
std::string IdForCrmRecord(const std::string& external_id);

/// How long a sent state is remembered to recognise a late echo: CRM echoes
/// arrive within seconds; a CRM user going back to an older value after this
/// is a real change. And how many are kept per link.
constexpr int64_t kSentEchoWindowMs = 120000;
constexpr size_t kSentEchoKeep = 5;

/// The "<at>\t<payload>" lines of a link's sent history still inside the
/// window at `now_ms`, oldest first.
std::vector<std::pair<int64_t, std::string>> SentLines(const std::string& text, int64_t now_ms);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_STORE_CODEC_H_
