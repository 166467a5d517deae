// Hybrid logical clock (Kulkarni et al. 2014): wall milliseconds plus a logical counter.
// Timestamps order events consistently with causality even when site clocks disagree.
// Pure: the current wall time is always passed in; nothing here reads a clock.
// HybridClock issues strictly increasing timestamps, also across restarts (Restore), and
// refuses to merge a remote clock implausibly far ahead of the local wall clock.
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

  // "1700000000000.3".
  std::string ToString() const { return std::to_string(wall_ms) + "." + std::to_string(logical); }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(wall_ms, logical);
  }
};

// The clock of one site. Not thread-safe: owned by one thread (the daemon's loop).
class HybridClock {
 public:
  // A remote timestamp more than `max_skew_ms` ahead of the local wall clock is quarantined.
  explicit HybridClock(int64_t max_skew_ms = 5 * 60 * 1000);

  // Timestamp for a local event at wall time `wall_ms`: strictly greater than every timestamp
  // issued, received (unless quarantined) or restored before.
  Hlc Now(int64_t wall_ms);

  struct Received {
    Hlc hlc;                   // The local clock after the receipt (a new local timestamp).
    bool quarantined = false;  // remote.wall_ms - wall_ms > max_skew_ms: not merged.
    int64_t skew_ms = 0;       // remote.wall_ms - wall_ms (positive: remote is ahead).
  };
  // Merges a remote timestamp into the clock and ticks. A remote clock too far ahead is not
  // merged (it would drag every later local timestamp into the future); the caller flags it.
  Received Receive(Hlc remote, int64_t wall_ms);

  // After a restart: never issue anything <= `last_persisted` (the last timestamp stored).
  void Restore(Hlc last_persisted);

  // The last timestamp issued or merged; {0, 0} for a fresh clock.
  Hlc last() const { return last_; }
  int64_t max_skew_ms() const { return max_skew_ms_; }

 private:
  // Smallest timestamp > max(last_, {wall_ms, 0}) with wall part >= wall_ms.
  Hlc Tick(Hlc floor, int64_t wall_ms);

  int64_t max_skew_ms_;
  Hlc last_;
};

}  // namespace baton::crdt
