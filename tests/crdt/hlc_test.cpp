// HybridClock: strictly monotonic timestamps, Kulkarni merge on receipt, skew quarantine and
// monotonicity across restarts.
#include "crdt/hlc.h"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <limits>
#include <random>

namespace baton::crdt {
namespace {

namespace data = boost::unit_test::data;
constexpr int64_t kT0 = 1'700'000'000'000;

BOOST_AUTO_TEST_SUITE(HybridClockTest)

BOOST_AUTO_TEST_CASE(now_follows_an_advancing_wall_clock) {
  HybridClock clock;
  BOOST_TEST(clock.last().wall_ms == 0);
  Hlc a = clock.Now(kT0);
  BOOST_TEST(a.wall_ms == kT0);
  BOOST_TEST(a.logical == 0u);
  Hlc b = clock.Now(kT0 + 5);
  BOOST_TEST(b.wall_ms == kT0 + 5);
  BOOST_TEST(b.logical == 0u);
  BOOST_TEST((clock.last() == b));
}

BOOST_AUTO_TEST_CASE(now_counts_logically_when_the_wall_clock_stalls_or_goes_back) {
  HybridClock clock;
  Hlc a = clock.Now(kT0);
  Hlc b = clock.Now(kT0);
  Hlc c = clock.Now(kT0 - 1000);
  BOOST_TEST((a < b && b < c));
  BOOST_TEST(c.wall_ms == kT0);
  BOOST_TEST(c.logical == 2u);
  BOOST_TEST(c.ToString() == std::to_string(kT0) + ".2");
}

BOOST_AUTO_TEST_CASE(logical_overflow_moves_to_the_next_millisecond) {
  HybridClock clock;
  clock.Restore(Hlc{kT0, std::numeric_limits<uint32_t>::max()});
  Hlc next = clock.Now(kT0);
  BOOST_TEST(next.wall_ms == kT0 + 1);
  BOOST_TEST(next.logical == 0u);
}

BOOST_AUTO_TEST_CASE(receive_merges_a_remote_clock_ahead_within_the_skew) {
  HybridClock clock(60'000);
  clock.Now(kT0);
  Hlc remote{kT0 + 30'000, 7};
  HybridClock::Received r = clock.Receive(remote, kT0 + 1);
  BOOST_TEST(!r.quarantined);
  BOOST_TEST(r.skew_ms == 29'999);
  BOOST_TEST((r.hlc > remote));
  BOOST_TEST(r.hlc.wall_ms == remote.wall_ms);
  BOOST_TEST(r.hlc.logical == 8u);
  // Later local events stay after the remote one although the wall clock is behind it.
  BOOST_TEST((clock.Now(kT0 + 2) > remote));
}

BOOST_AUTO_TEST_CASE(receive_of_an_older_remote_just_ticks) {
  HybridClock clock;
  Hlc local = clock.Now(kT0);
  HybridClock::Received r = clock.Receive(Hlc{kT0 - 10, 3}, kT0);
  BOOST_TEST(!r.quarantined);
  BOOST_TEST(r.skew_ms == -10);
  BOOST_TEST((r.hlc > local));
}

BOOST_AUTO_TEST_CASE(receive_quarantines_a_remote_clock_too_far_ahead) {
  HybridClock clock(60'000);
  Hlc before = clock.Now(kT0);
  Hlc remote{kT0 + 3'600'000, 0};
  HybridClock::Received r = clock.Receive(remote, kT0);
  BOOST_TEST(r.quarantined);
  BOOST_TEST(r.skew_ms == 3'600'000);
  BOOST_TEST((r.hlc > before));
  BOOST_TEST((r.hlc < remote));  // Not merged.
  BOOST_TEST((clock.Now(kT0 + 1) < remote));
}

BOOST_AUTO_TEST_CASE(quarantine_survives_extreme_remote_values) {
  HybridClock clock;
  HybridClock::Received r = clock.Receive(Hlc{std::numeric_limits<int64_t>::max(), 0}, -kT0);
  BOOST_TEST(r.quarantined);
  BOOST_TEST(r.skew_ms == std::numeric_limits<int64_t>::max());
}

BOOST_AUTO_TEST_CASE(restore_keeps_timestamps_monotonic_across_a_restart) {
  HybridClock before_restart;
  Hlc last{};
  for (int i = 0; i < 10; ++i) last = before_restart.Now(kT0 + 10'000);
  HybridClock after_restart;  // The wall clock jumped back during the restart.
  after_restart.Restore(last);
  BOOST_TEST((after_restart.Now(kT0) > last));
  // Restoring an older value never moves the clock back.
  Hlc now = after_restart.last();
  after_restart.Restore(Hlc{kT0 - 1, 0});
  BOOST_TEST((after_restart.last() == now));
}

// Random walks of local events and receipts: every timestamp issued is strictly greater than
// all before it, and greater than every merged remote.
BOOST_DATA_TEST_CASE(timestamps_are_strictly_increasing_under_any_mix, data::xrange(0, 300), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed));
    std::uniform_int_distribution<int64_t> jitter(-5'000, 5'000);
    std::uniform_int_distribution<int> action(0, 9);
    HybridClock clock(60'000);
    int64_t wall = kT0;
    Hlc prev = clock.last();
    for (int step = 0; step < 200; ++step) {
      wall += jitter(rng) / 4 + 10;
      Hlc next;
      int a = action(rng);
      if (a < 5) {
        next = clock.Now(wall + jitter(rng));
      } else if (a < 9) {
        Hlc remote{wall + jitter(rng) * 30, static_cast<uint32_t>(action(rng))};
        HybridClock::Received r = clock.Receive(remote, wall);
        next = r.hlc;
        BOOST_TEST(r.quarantined == (remote.wall_ms - wall > 60'000));
        if (!r.quarantined) BOOST_TEST((next > remote));
      } else {
        HybridClock restarted(60'000);
        restarted.Restore(clock.last());
        clock = restarted;
        continue;
      }
      BOOST_TEST((next > prev),
                 "step " << step << ": " << next.ToString() << " after " << prev.ToString());
      BOOST_TEST(next.wall_ms >= wall - 5'000);
      prev = next;
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::crdt
