// HybridClock: the send/local and receive rules of Kulkarni et al. 2014, plus skew quarantine.
// The logical counter saturates into the next millisecond instead of wrapping, so timestamps
// stay strictly increasing.
#include "crdt/hlc.h"

#include <algorithm>
#include <limits>

namespace baton::crdt {

namespace {

// a - b, clamped to the int64 range (remote timestamps are untrusted input).
int64_t SaturatingDiff(int64_t a, int64_t b) {
  int64_t out = 0;
  if (!__builtin_sub_overflow(a, b, &out)) return out;
  return a > b ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

}  // namespace

HybridClock::HybridClock(int64_t max_skew_ms) : max_skew_ms_(max_skew_ms) {}

Hlc HybridClock::Tick(Hlc floor, int64_t wall_ms) {
  Hlc next;
  if (wall_ms > floor.wall_ms) {
    next = Hlc{wall_ms, 0};
  } else if (floor.logical == std::numeric_limits<uint32_t>::max()) {
    next = Hlc{floor.wall_ms + 1, 0};
  } else {
    next = Hlc{floor.wall_ms, floor.logical + 1};
  }
  last_ = next;
  return next;
}

Hlc HybridClock::Now(int64_t wall_ms) { return Tick(last_, wall_ms); }

HybridClock::Received HybridClock::Receive(Hlc remote, int64_t wall_ms) {
  Received r;
  r.skew_ms = SaturatingDiff(remote.wall_ms, wall_ms);
  if (r.skew_ms > max_skew_ms_) {
    r.quarantined = true;
    r.hlc = Tick(last_, wall_ms);
    return r;
  }
  r.hlc = Tick(std::max(last_, remote), wall_ms);
  return r;
}

void HybridClock::Restore(Hlc last_persisted) { last_ = std::max(last_, last_persisted); }

}  // namespace baton::crdt
