// Key layouts of the event store's column families. Integers are big-endian so that RocksDB's
// bytewise order is numeric order; an origin is length-prefixed (one byte) so that one origin's
// keys form a contiguous range that no other origin's keys can interleave.
//   events     EventKey(origin, seq)          -> EventValue (prev_hash, hash, envelope)
//   arrivals   ArrivalKey(counter)            -> EventKey(origin, seq)
//   forks      EventKey(origin, seq)|hash|n   -> EventValue (n: 0, 1, ... per distinct bytes)
//   meta       kMetaSchema, kMetaSite, kMetaRunbook, kMetaArrival, HeadKey(origin), "app/"...
//   projection kSnapshotKey                   -> as_of_arrival (8 bytes) | snapshot bytes
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crdt/event.h"
#include "crdt/status.h"

namespace baton::store {

inline constexpr size_t kMaxOriginLength = 255;  // The length prefix is one byte.

// Column family names.
inline constexpr const char* kEventsFamily = "events";
inline constexpr const char* kArrivalsFamily = "arrivals";
inline constexpr const char* kMetaFamily = "meta";
inline constexpr const char* kForksFamily = "forks";
inline constexpr const char* kProjectionFamily = "projection";

// Meta keys. Heads are "head/" + origin -> seq (8 bytes) | hash (32 bytes).
inline constexpr std::string_view kMetaSchema = "schema";    // Decimal schema version.
inline constexpr std::string_view kMetaSite = "site";        // Site id given at creation.
inline constexpr std::string_view kMetaRunbook = "runbook";  // Empty until bound.
inline constexpr std::string_view kMetaArrival = "arrival";  // Last arrival counter (8 bytes).
inline constexpr std::string_view kMetaHeadPrefix = "head/";
inline constexpr std::string_view kMetaAppPrefix = "app/";  // GetMeta / PutMeta keys.
// Names the numbering of the arrival index (random hex, new when a repair renumbers it), so that
// a client resuming a watch by cursor learns that its cursor belongs to an older numbering.
// Absent in stores created before it existed: an empty epoch.
inline constexpr std::string_view kMetaArrivalEpoch = "arrival_epoch";
inline constexpr std::string_view kSnapshotKey = "snapshot";

// kInvalidArgument unless 1 <= origin.size() <= kMaxOriginLength.
Status CheckOrigin(std::string_view origin);

void PutBigEndian64(std::string* out, uint64_t value);
// Reads 8 bytes at the front of `in`; false if fewer are available.
bool GetBigEndian64(std::string_view in, uint64_t* value);

// Length-prefixed origin: the common prefix of all of the origin's event keys.
std::string OriginPrefix(std::string_view origin);
std::string EventKey(std::string_view origin, uint64_t seq);
// Parses the EventKey at the front of `key`; returns the number of bytes it took, 0 if malformed.
size_t ParseEventKey(std::string_view key, crdt::EventId* id);

std::string ArrivalKey(uint64_t counter);
bool ParseArrivalKey(std::string_view key, uint64_t* counter);

std::string HeadKey(std::string_view origin);

}  // namespace baton::store
