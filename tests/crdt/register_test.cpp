// MvRegister and GSet: conflicts are visible at every replica, a write superseding all live
// values resolves them, and any delivery order (with duplicates) gives the same register.
#include "crdt/register.h"

#include <algorithm>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <random>
#include <string>

#include "crdt/set.h"

namespace baton::crdt {
namespace {

namespace data = boost::unit_test::data;

struct Write {
  EventId id;
  Hlc hlc;
  std::string value;
  std::vector<EventId> supersedes;
};

void PutAll(MvRegister<std::string>& reg, const std::vector<Write>& writes) {
  for (const Write& w : writes) reg.Put(w.id, w.hlc, w.value, w.supersedes);
}

std::string Describe(const MvRegister<std::string>& reg) {
  std::string out;
  for (const auto& e : reg.Live()) out += e.id.ToString() + "=" + e.value + " ";
  return out;
}

BOOST_AUTO_TEST_SUITE(MvRegisterTest)

BOOST_AUTO_TEST_CASE(an_empty_register_has_no_winner) {
  MvRegister<std::string> reg;
  BOOST_TEST(reg.empty());
  BOOST_TEST(reg.Winner() == nullptr);
  BOOST_TEST(!reg.InConflict());
  BOOST_TEST(reg.Live().empty());
}

BOOST_AUTO_TEST_CASE(a_write_superseding_the_live_one_replaces_it) {
  MvRegister<std::string> reg;
  reg.Put({"hq", 1}, {100, 0}, "started", {});
  reg.Put({"hq", 2}, {200, 0}, "done", {{"hq", 1}});
  BOOST_TEST(!reg.InConflict());
  BOOST_TEST(reg.Winner()->value == "done");
  BOOST_TEST(reg.LiveIds().size() == 1u);
  BOOST_TEST(reg.LiveIds()[0].ToString() == "hq/2");
  BOOST_TEST(reg.write_count() == 2u);
}

BOOST_AUTO_TEST_CASE(concurrent_writes_conflict_with_a_deterministic_winner) {
  MvRegister<std::string> reg;
  reg.Put({"site-a", 1}, {100, 0}, "done", {});
  reg.Put({"site-b", 1}, {100, 0}, "failed", {});
  reg.Put({"site-a", 2}, {90, 5}, "older", {});
  BOOST_TEST(reg.InConflict());
  auto live = reg.Live();
  BOOST_TEST_REQUIRE(live.size() == 3u);
  // Same hlc: the higher origin wins; then hlc order.
  BOOST_TEST(live[0].value == "failed");
  BOOST_TEST(live[1].value == "done");
  BOOST_TEST(live[2].value == "older");
  BOOST_TEST(reg.Winner()->value == "failed");
  BOOST_TEST(WinsOver({5, 0}, {"a", 2}, {5, 0}, {"a", 1}));
}

BOOST_AUTO_TEST_CASE(conflict_is_visible_at_every_replica_and_resolved_by_superseding_both) {
  MvRegister<std::string> at_a, at_b;
  Write done_a{{"site-a", 1}, {100, 0}, "done", {}};
  Write failed_b{{"site-b", 1}, {101, 0}, "failed", {}};
  PutAll(at_a, {done_a});
  PutAll(at_b, {failed_b});
  BOOST_TEST(!at_a.InConflict());
  // The replicas exchange their writes: both show the conflict and the same winner.
  PutAll(at_a, {failed_b});
  PutAll(at_b, {done_a});
  BOOST_TEST(at_a.InConflict());
  BOOST_TEST(at_b.InConflict());
  BOOST_TEST(Describe(at_a) == Describe(at_b));
  BOOST_TEST(at_a.Winner()->value == "failed");
  // A manager, having seen both, resolves it.
  Write resolve{{"hq", 1}, {150, 0}, "done", at_a.LiveIds()};
  PutAll(at_b, {resolve});
  BOOST_TEST(!at_b.InConflict());
  PutAll(at_a, {resolve});
  BOOST_TEST(Describe(at_a) == Describe(at_b));
  BOOST_TEST(at_a.Winner()->id.ToString() == "hq/1");
}

BOOST_AUTO_TEST_CASE(a_superseding_write_hides_one_that_arrives_later) {
  MvRegister<std::string> reg;
  reg.Put({"hq", 2}, {200, 0}, "done", {{"site-a", 7}});
  reg.Put({"site-a", 7}, {100, 0}, "failed", {});
  BOOST_TEST(!reg.InConflict());
  BOOST_TEST(reg.Winner()->value == "done");
}

BOOST_AUTO_TEST_CASE(put_is_idempotent) {
  MvRegister<std::string> reg;
  reg.Put({"hq", 1}, {100, 0}, "a", {});
  reg.Put({"hq", 2}, {200, 0}, "b", {{"hq", 1}});
  reg.Put({"hq", 1}, {100, 0}, "a", {});
  reg.Put({"hq", 2}, {200, 0}, "b", {{"hq", 1}});
  BOOST_TEST(Describe(reg) == "hq/2=b ");
}

// Random write graphs where each write supersedes some of the live writes its author saw;
// every delivery order, with duplicates, yields the same live set and winner.
BOOST_DATA_TEST_CASE(any_delivery_order_gives_the_same_register, data::xrange(0, 400), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed));
    const char* kOrigins[] = {"a", "b", "c"};
    std::vector<Write> writes;
    MvRegister<std::string> author_view;  // What the authors saw: a growing prefix.
    std::map<std::string, uint64_t> seqs;
    int n = std::uniform_int_distribution<int>(1, 12)(rng);
    for (int i = 0; i < n; ++i) {
      std::string origin = kOrigins[rng() % 3];
      Write w{{origin, ++seqs[origin]},
              {static_cast<int64_t>(rng() % 20), static_cast<uint32_t>(rng() % 2)},
              "v" + std::to_string(i),
              {}};
      for (const EventId& id : author_view.LiveIds()) {
        if (rng() % 3 != 0) w.supersedes.push_back(id);
      }
      // Now and then the author saw only a stale view and names nothing.
      if (rng() % 5 == 0) w.supersedes.clear();
      author_view.Put(w.id, w.hlc, w.value, w.supersedes);
      writes.push_back(w);
    }
    MvRegister<std::string> reference;
    PutAll(reference, writes);
    BOOST_TEST(Describe(reference) == Describe(author_view));
    for (int round = 0; round < 5; ++round) {
      std::vector<Write> order = writes;
      for (int d = 0; d < 3; ++d) order.push_back(writes[rng() % writes.size()]);
      std::shuffle(order.begin(), order.end(), rng);
      MvRegister<std::string> replica;
      PutAll(replica, order);
      BOOST_TEST(Describe(replica) == Describe(reference), "round " << round);
      BOOST_TEST(replica.Winner()->id.ToString() == reference.Winner()->id.ToString());
      BOOST_TEST(replica.InConflict() == reference.InConflict());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(GSetTest)

BOOST_AUTO_TEST_CASE(add_is_idempotent_and_merge_is_union_in_order) {
  GSet<std::string> a, b;
  BOOST_TEST(a.Add("beta"));
  BOOST_TEST(!a.Add("beta"));
  b.Add("alpha");
  b.Add("gamma");
  GSet<std::string> ab = a, ba = b;
  ab.Merge(b);
  ba.Merge(a);
  BOOST_TEST((ab == ba));
  BOOST_TEST(ab.size() == 3u);
  BOOST_TEST(*ab.begin() == "alpha");
  BOOST_TEST(ab.Contains("gamma"));
  BOOST_TEST(!ab.Contains("delta"));
}

BOOST_DATA_TEST_CASE(merge_is_commutative_associative_and_idempotent, data::xrange(200), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    std::mt19937 rng(static_cast<unsigned>(seed));
    auto random_set = [&] {
      GSet<int> set;
      const int n = static_cast<int>(rng() % 12);
      for (int i = 0; i < n; ++i) set.Add(static_cast<int>(rng() % 20));  // Overlapping.
      return set;
    };
    const GSet<int> a = random_set(), b = random_set(), c = random_set();
    auto merged = [](GSet<int> x, const GSet<int>& y) {
      x.Merge(y);
      return x;
    };
    BOOST_TEST((merged(a, b) == merged(b, a)));
    BOOST_TEST((merged(merged(a, b), c) == merged(a, merged(b, c))));
    BOOST_TEST((merged(a, a) == a));
    BOOST_TEST((merged(merged(a, b), b) == merged(a, b)));
    for (int x : b) BOOST_TEST(merged(a, b).Contains(x));
    BOOST_TEST(merged(a, b).size() >= std::max(a.size(), b.size()));
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::crdt
