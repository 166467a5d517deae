// Canonical bytes of an event, and the envelope that carries them with their signature.
// The payload is Cereal portable binary (little-endian), format version first; decoding is strict
// (one byte sequence per event), so decode-then-encode gives back identical bytes. Stored and sent
// bytes are these bytes verbatim: never re-encode an event. Format: docs/event-format.md.
// Pure: no hashing or signing here (that is daemon/identity).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crdt/event.h"
#include "crdt/status.h"

namespace baton::crdt {

// Version of the payload layout. Bumped by any change an older decoder cannot read (a new field,
// a new body kind, a new enum value). Decoders read every version up to their own. 2 added
// SiteInfo::teams and TaskSpec::deciders.
inline constexpr uint16_t kEventFormatVersion = format::kNewest;

// The version an event is written in: the oldest that can carry it (1 unless a site lists
// teams or a task names deciders), so that events older builds can read stay readable to them
// and every event has one encoding.
uint16_t FormatVersionOf(const Event& e);

// Version of the envelope layout (its own first byte).
inline constexpr uint8_t kEnvelopeVersion = 1;

// Size of an Ed25519 signature; an envelope's signature is empty or exactly this long.
inline constexpr size_t kSignatureSize = 64;

// The canonical payload bytes of `e`: what is hashed, signed, stored and sent.
std::string EncodeEvent(const Event& e);

// Parses a payload. kCorruption naming the problem (and its byte offset) on truncated, garbage,
// non-canonical or trailing bytes (also a version newer than FormatVersionOf the event); a newer
// format version gives kCorruption "event format version N is newer than this build supports (2)".
Result<Event> DecodeEvent(std::string_view payload);

// The stored and sent form of one event: payload bytes (exactly as signed) plus the signature,
// which is empty for an event vouched for by a later signed event of the same origin.
struct SignedEvent {
  std::string payload;
  std::string signature;  // Empty or kSignatureSize bytes.

  friend bool operator==(const SignedEvent&, const SignedEvent&) = default;
};

// u8 version | u64le payload size | payload | u8 signature size (0 or 64) | signature.
// BATON_CHECKs that the signature size is 0 or 64.
std::string EncodeEnvelope(const SignedEvent& signed_event);

// kCorruption on a wrong version, truncation, a bad signature size or trailing bytes.
// The payload is returned verbatim, not decoded.
Result<SignedEvent> DecodeEnvelope(std::string_view envelope);

// The same checks, without copying: views into `envelope`, valid while it is.
struct EnvelopeView {
  std::string_view payload;
  std::string_view signature;  // Empty or kSignatureSize bytes.
};
Result<EnvelopeView> DecodeEnvelopeView(std::string_view envelope);

}  // namespace baton::crdt
