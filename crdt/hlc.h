// Hybrid logical clock (Kulkarni et al. 2014): wall milliseconds plus a logical counter.
// Timestamps order events consistently with causality even when site clocks disagree.
// Pure: the current wall time is always passed in; nothing here reads a clock.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace baton::crdt {

// One timestamp. Total order: wall_ms, then logical.
struct Hlc {
  int64_t wall_ms = 0;   // Milliseconds since the Unix epoch, UTC.
  uint32_t logical = 0;  // Tie-breaker within one wall millisecond.

  friend auto operator<=>(const Hlc&, const Hlc&) = default;
  friend bool operator==(const Hlc&, const Hlc&) = default;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(wall_ms, logical);
  }
};

}  // namespace baton::crdt
