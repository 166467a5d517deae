// VersionVector: per-origin order (gaps refused, duplicates harmless), the merge laws,
// MissingFrom as the exact difference, and Compare's partial order.
#include "crdt/version_vector.h"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cereal/archives/portable_binary.hpp>
#include <random>
#include <sstream>

namespace baton::crdt {
namespace {

namespace data = boost::unit_test::data;
using Order = VersionVector::Order;

VersionVector RandomVv(std::mt19937_64& rng) {
  static const char* kSites[] = {"hq", "site-1", "site-2", "vendor-de"};
  VersionVector vv;
  for (const char* site : kSites) {
    uint64_t seq = std::uniform_int_distribution<uint64_t>(0, 4)(rng);
    vv.Set(site, seq);
  }
  return vv;
}

BOOST_AUTO_TEST_SUITE(VersionVectorTest)

BOOST_AUTO_TEST_CASE(advance_accepts_the_next_seq_and_refuses_a_gap) {
  VersionVector vv;
  BOOST_TEST(vv.Seen("hq") == 0u);
  BOOST_TEST(vv.Advance(EventId{"hq", 1}).ok());
  BOOST_TEST(vv.Advance(EventId{"hq", 2}).ok());
  Status gap = vv.Advance(EventId{"hq", 4});
  BOOST_TEST((gap.code() == StatusCode::kInvalidArgument));
  BOOST_TEST(gap.message().find("hq/4") != std::string::npos);
  BOOST_TEST(vv.Seen("hq") == 2u);
  // A gap from an unknown origin leaves no zero entry behind.
  BOOST_TEST(!vv.Advance(EventId{"site-1", 2}).ok());
  BOOST_TEST(vv.entries().size() == 1u);
  BOOST_TEST(!vv.Advance(EventId{"hq", 0}).ok());
}

BOOST_AUTO_TEST_CASE(a_duplicate_is_a_harmless_no_op) {
  VersionVector vv;
  BOOST_TEST(vv.Advance(EventId{"hq", 1}).ok());
  BOOST_TEST(vv.Advance(EventId{"hq", 2}).ok());
  BOOST_TEST(vv.Advance(EventId{"hq", 1}).ok());
  BOOST_TEST(vv.Seen("hq") == 2u);
  BOOST_TEST(vv.Contains(EventId{"hq", 1}));
  BOOST_TEST(vv.Contains(EventId{"hq", 2}));
  BOOST_TEST(!vv.Contains(EventId{"hq", 3}));
  BOOST_TEST(!vv.Contains(EventId{"hq", 0}));
  BOOST_TEST(!vv.Contains(EventId{"x", 1}));
}

BOOST_AUTO_TEST_CASE(set_total_and_to_string) {
  VersionVector vv;
  vv.Set("vendor-de", 3);
  vv.Set("hq", 12);
  BOOST_TEST(vv.Total() == 15u);
  BOOST_TEST(vv.ToString() == "{hq:12, vendor-de:3}");
  vv.Set("hq", 0);
  BOOST_TEST(vv.ToString() == "{vendor-de:3}");
  VersionVector other;
  other.Set("vendor-de", 3);
  BOOST_TEST((vv == other));
}

BOOST_AUTO_TEST_CASE(missing_from_lists_what_the_other_lacks) {
  VersionVector ours, theirs;
  ours.Set("hq", 10);
  ours.Set("site-1", 4);
  ours.Set("site-2", 2);
  theirs.Set("hq", 7);
  theirs.Set("site-1", 9);
  std::vector<SeqRange> missing = ours.MissingFrom(theirs);
  BOOST_TEST_REQUIRE(missing.size() == 2u);
  BOOST_TEST((missing[0] == SeqRange{"hq", 8, 10}));
  BOOST_TEST((missing[1] == SeqRange{"site-2", 1, 2}));
  BOOST_TEST(missing[0].size() == 3u);
  BOOST_TEST(ours.MissingFrom(ours).empty());
}

BOOST_AUTO_TEST_CASE(compare_names_the_partial_order) {
  VersionVector a, b;
  BOOST_TEST((a.Compare(b) == Order::kEqual));
  a.Set("hq", 1);
  BOOST_TEST((a.Compare(b) == Order::kAfter));
  BOOST_TEST((b.Compare(a) == Order::kBefore));
  b.Set("site-1", 1);
  BOOST_TEST((a.Compare(b) == Order::kConcurrent));
  BOOST_TEST(std::string(VersionOrderName(Order::kConcurrent)) == "concurrent");
}

BOOST_AUTO_TEST_CASE(serializes_with_cereal) {
  VersionVector vv;
  vv.Set("hq", 5);
  vv.Set("site-1", 2);
  std::stringstream buf;
  {
    cereal::PortableBinaryOutputArchive out(buf);
    out(vv);
  }
  VersionVector back;
  {
    cereal::PortableBinaryInputArchive in(buf);
    in(back);
  }
  BOOST_TEST((back == vv));
}

BOOST_DATA_TEST_CASE(merge_is_commutative_associative_and_idempotent, data::xrange(0, 300), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed));
    VersionVector a = RandomVv(rng), b = RandomVv(rng), c = RandomVv(rng);
    VersionVector ab = a, ba = b;
    ab.Merge(b);
    ba.Merge(a);
    BOOST_TEST((ab == ba));
    VersionVector ab_c = ab, a_bc = a, bc = b;
    ab_c.Merge(c);
    bc.Merge(c);
    a_bc.Merge(bc);
    BOOST_TEST((ab_c == a_bc));
    VersionVector aa = a;
    aa.Merge(a);
    BOOST_TEST((aa == a));
    // The merge is an upper bound of both.
    BOOST_TEST((ab.Compare(a) == Order::kAfter || ab.Compare(a) == Order::kEqual));
    BOOST_TEST((ab.Compare(b) == Order::kAfter || ab.Compare(b) == Order::kEqual));
  }
}

BOOST_DATA_TEST_CASE(sending_missing_from_ranges_equals_merging, data::xrange(0, 300), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed) + 1000);
    VersionVector a = RandomVv(rng), b = RandomVv(rng);
    VersionVector b_after = b;
    for (const SeqRange& r : a.MissingFrom(b)) {
      BOOST_TEST(r.first == b.Seen(r.origin) + 1);
      for (uint64_t q = r.first; q <= r.last; ++q) {
        BOOST_TEST(b_after.Advance(EventId{r.origin, q}).ok());
      }
    }
    // b now holds everything a holds: what b had plus the ranges.
    VersionVector merged = a;
    merged.Merge(b);
    BOOST_TEST((b_after == merged), a.ToString() << " -> " << b.ToString());
    BOOST_TEST(a.MissingFrom(b_after).empty());
  }
}

BOOST_DATA_TEST_CASE(compare_is_antisymmetric_and_matches_missing_from, data::xrange(0, 300),
                     seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed) + 2000);
    VersionVector a = RandomVv(rng), b = RandomVv(rng);
    Order ab = a.Compare(b), ba = b.Compare(a);
    bool a_extra = !a.MissingFrom(b).empty(), b_extra = !b.MissingFrom(a).empty();
    BOOST_TEST(((ab == Order::kEqual) == (a == b)));
    BOOST_TEST(((ab == Order::kBefore) == (ba == Order::kAfter)));
    BOOST_TEST(((ab == Order::kConcurrent) == (ba == Order::kConcurrent)));
    BOOST_TEST(((ab == Order::kConcurrent) == (a_extra && b_extra)));
    BOOST_TEST(((ab == Order::kAfter) == (a_extra && !b_extra)));
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::crdt
