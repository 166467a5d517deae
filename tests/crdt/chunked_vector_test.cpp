// ChunkedVector: the append-only storage of a task's records. Indexing must agree with a plain
// vector at every size, across chunk boundaries and after copies and moves.
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <utility>
#include <vector>

#include "crdt/task_state.h"

namespace baton::crdt {
namespace {

using Chunked = ChunkedVector<uint32_t, 4>;

void ExpectEqual(const Chunked& got, const std::vector<uint32_t>& want) {
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) BOOST_TEST(got[i] == want[i], "index " << i);
}

BOOST_AUTO_TEST_SUITE(ChunkedVectorTest)

BOOST_AUTO_TEST_CASE(indexing_matches_a_vector_at_every_size) {
  Chunked chunked;
  std::vector<uint32_t> plain;
  BOOST_TEST(chunked.empty());
  for (uint32_t i = 0; i < 37; ++i) {
    uint32_t& slot = chunked.push_back(i * 3 + 1);
    plain.push_back(i * 3 + 1);
    BOOST_TEST(slot == i * 3 + 1);
    BOOST_TEST(&chunked.back() == &slot);
    ExpectEqual(chunked, plain);
  }
  chunked[5] = 99;  // Writes through the index land where reads find them, old chunk or last.
  chunked[36] = 98;
  plain[5] = 99;
  plain[36] = 98;
  ExpectEqual(chunked, plain);
}

BOOST_AUTO_TEST_CASE(copies_and_moves_keep_every_element) {
  Chunked original;
  std::vector<uint32_t> plain;
  for (uint32_t i = 0; i < 10; ++i) {
    original.push_back(i);
    plain.push_back(i);
  }
  Chunked copy = original;
  copy.push_back(10);  // The copy's chunks are its own, the last one too.
  ExpectEqual(original, plain);
  original[9] = 77;
  original.push_back(5);
  BOOST_TEST(copy[9] == 9u);
  BOOST_TEST(copy[10] == 10u);
  original[9] = 9;
  plain.push_back(5);
  ExpectEqual(original, plain);
  plain.pop_back();
  Chunked moved = std::move(copy);
  BOOST_TEST(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract.
  copy.push_back(7);
  BOOST_TEST(copy[0] == 7u);
  plain.push_back(10);
  ExpectEqual(moved, plain);
  moved.clear();
  BOOST_TEST(moved.empty());
  moved.push_back(1);
  BOOST_TEST(moved[0] == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::crdt
