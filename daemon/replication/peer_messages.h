// Every message of the peer protocol (daemon to daemon), and their bytes. One ZeroMQ frame per
// message: u8 protocol version (kPeerProtocolVersion) | Cereal portable binary of PeerMessage
// (variant index, then the fields). Event envelopes travel as the exact stored bytes
// (crdt/event_codec.h): never re-encoded. Grammar, states and flow control:
// docs/replication.md. Pure: no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"
#include "crdt/version_vector.h"

namespace baton::daemon::replication {

inline constexpr uint8_t kPeerProtocolVersion = 1;
// Largest frame a site sends or accepts; a longer one is refused before it is decoded.
inline constexpr size_t kMaxPeerMessageBytes = 8u << 20;
// Most events and bytes of envelopes in one Events message.
inline constexpr size_t kMaxBatchEvents = 2048;
inline constexpr size_t kMaxBatchBytes = 4u << 20;

// Opens (or reopens) a conversation: who the sender is and what it holds. The receiver of a
// Hello with reply == false answers with its own Hello (reply == true); both then reset their
// send positions to the vector they were told.
struct Hello {
  crdt::SiteId site;       // The sender's roster id (the transport authenticated its key).
  std::string runbook_id;  // Empty while the sender has no plan yet.
  crdt::VersionVector vv;  // What the sender holds.
  int64_t wall_ms = 0;     // The sender's wall clock when sending (skew estimate).
  uint64_t counter = 0;    // Per link and sender, rising: a stale vector is ignored.
  bool reply = false;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(site, runbook_id, vv, wall_ms, counter, reply);
  }
};

// A run of events: per origin, contiguous and in seq order; origins one after the other.
struct Events {
  std::vector<std::string> envelopes;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(envelopes);
  }
};

// Answers one Events message once it is stored (and so returns one unit of credit), or reports
// the receiver's vector on a timer (heartbeat, acked == false).
struct Have {
  crdt::VersionVector vv;  // What the sender holds now.
  int64_t wall_ms = 0;
  uint64_t counter = 0;
  bool acked = false;  // True: this answers one Events message.
  template <class Archive>
  void serialize(Archive& ar) {
    ar(vv, wall_ms, counter, acked);
  }
};

// Alternative index = wire tag. Append new kinds at the end only.
using PeerMessage = std::variant<Hello, Events, Have>;

const char* PeerMessageName(const PeerMessage& m);  // "hello", "events", "have".

std::string EncodePeerMessage(const PeerMessage& m);
// kCorruption for a wrong version, a frame over kMaxPeerMessageBytes, undecodable or trailing
// bytes, or an Events message over kMaxBatchEvents / kMaxBatchBytes.
Result<PeerMessage> DecodePeerMessage(std::string_view bytes);

}  // namespace baton::daemon::replication
