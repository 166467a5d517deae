// Peer message bytes: round trips of every kind, the version byte, and every rejection of
// DecodePeerMessage (wrong version, empty, truncated, trailing, oversized, too many events or
// bytes, hostile counts, bad tags and bools, non-canonical vectors), then thousands of random
// mutations of valid frames that must decode or fail cleanly, never crash, and re-encode to the
// same bytes when they decode.
#include "daemon/replication/peer_messages.h"

#include <boost/test/unit_test.hpp>
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace baton::daemon::replication {
namespace {

crdt::VersionVector Vv(std::initializer_list<std::pair<const char*, uint64_t>> entries) {
  crdt::VersionVector vv;
  for (const auto& [origin, seq] : entries) vv.Set(origin, seq);
  return vv;
}

Hello SampleHello() {
  return Hello{"hq", "runbook-7", Vv({{"hq", 12}, {"vendor-de", 3}}), 1'700'000'000'123, 42, true};
}
Events SampleEvents() { return Events{{"hq/1", std::string("\0\x01\xff", 3), ""}}; }
Have SampleHave() { return Have{Vv({{"hq", 5}}), -17, 9, true}; }

std::vector<PeerMessage> Samples() {
  return {SampleHello(), SampleEvents(), SampleHave(), Hello{}, Events{}, Have{}};
}

PeerMessage MustDecode(std::string_view bytes) {
  Result<PeerMessage> m = DecodePeerMessage(bytes);
  BOOST_REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  return std::move(m).value();
}

void ExpectCorruption(std::string_view bytes, const std::string& words) {
  Result<PeerMessage> m = DecodePeerMessage(bytes);
  BOOST_REQUIRE(!m.ok());
  BOOST_TEST(m.status().ToString().rfind("Corruption: ", 0) == 0);
  BOOST_TEST(m.status().message().find(words) != std::string::npos,
             m.status().message() << " should mention \"" << words << "\"");
}

// Hand-written frames: the version byte, then whatever Cereal writes for `write(ar)`.
template <class F>
std::string Frame(F write) {
  std::ostringstream out(std::ios::binary);
  out.put(static_cast<char>(kPeerProtocolVersion));
  {
    cereal::PortableBinaryOutputArchive ar(
        out, cereal::PortableBinaryOutputArchive::Options::LittleEndian());
    write(ar);
  }
  return std::move(out).str();
}

BOOST_AUTO_TEST_SUITE(PeerMessagesTest)

BOOST_AUTO_TEST_CASE(every_kind_round_trips_field_by_field) {
  const Hello hello = std::get<Hello>(MustDecode(EncodePeerMessage(SampleHello())));
  BOOST_TEST(hello.site == "hq");
  BOOST_TEST(hello.runbook_id == "runbook-7");
  BOOST_TEST(hello.vv.ToString() == "{hq:12, vendor-de:3}");
  BOOST_TEST(hello.wall_ms == 1'700'000'000'123);
  BOOST_TEST(hello.counter == 42u);
  BOOST_TEST(hello.reply);

  const Events events = std::get<Events>(MustDecode(EncodePeerMessage(SampleEvents())));
  BOOST_TEST(events.envelopes == SampleEvents().envelopes);

  const Have have = std::get<Have>(MustDecode(EncodePeerMessage(SampleHave())));
  BOOST_TEST(have.vv.ToString() == "{hq:5}");
  BOOST_TEST(have.wall_ms == -17);
  BOOST_TEST(have.counter == 9u);
  BOOST_TEST(have.acked);
}

BOOST_AUTO_TEST_CASE(decode_then_encode_gives_the_same_bytes) {
  for (const PeerMessage& m : Samples()) {
    const std::string bytes = EncodePeerMessage(m);
    BOOST_TEST(EncodePeerMessage(MustDecode(bytes)) == bytes, PeerMessageName(m));
  }
}

BOOST_AUTO_TEST_CASE(names_each_kind) {
  BOOST_TEST(PeerMessageName(Hello{}) == std::string("hello"));
  BOOST_TEST(PeerMessageName(Events{}) == std::string("events"));
  BOOST_TEST(PeerMessageName(Have{}) == std::string("have"));
}

BOOST_AUTO_TEST_CASE(first_byte_is_the_protocol_version_then_the_variant_tag) {
  const std::string bytes = EncodePeerMessage(SampleHave());
  BOOST_TEST(static_cast<unsigned char>(bytes[0]) == kPeerProtocolVersion);
  BOOST_TEST(static_cast<unsigned char>(bytes[1]) == 1u);  // Cereal's little-endian marker.
  BOOST_TEST(static_cast<unsigned char>(bytes[2]) == 2u);  // Have is alternative 2.
}

BOOST_AUTO_TEST_CASE(rejects_another_protocol_version) {
  std::string bytes = EncodePeerMessage(SampleHello());
  bytes[0] = static_cast<char>(kPeerProtocolVersion + 1);
  ExpectCorruption(bytes, "protocol version 2");
  bytes[0] = 0;
  ExpectCorruption(bytes, "protocol version 0");
}

BOOST_AUTO_TEST_CASE(rejects_an_empty_frame) { ExpectCorruption("", "empty"); }

BOOST_AUTO_TEST_CASE(rejects_every_truncation) {
  for (const PeerMessage& m : Samples()) {
    const std::string bytes = EncodePeerMessage(m);
    for (size_t n = 0; n < bytes.size(); ++n) {
      BOOST_TEST_CONTEXT(PeerMessageName(m) << " cut to " << n << " bytes") {
        BOOST_TEST(!DecodePeerMessage(std::string_view(bytes).substr(0, n)).ok());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(rejects_trailing_bytes) {
  for (const PeerMessage& m : Samples()) {
    ExpectCorruption(EncodePeerMessage(m) + '\0', "1 trailing bytes");
  }
}

BOOST_AUTO_TEST_CASE(rejects_a_frame_over_the_size_limit_before_decoding) {
  std::string bytes = EncodePeerMessage(SampleHave());
  bytes.resize(kMaxPeerMessageBytes + 1, '\0');
  ExpectCorruption(bytes, "over the limit");
}

BOOST_AUTO_TEST_CASE(takes_the_most_events_and_rejects_one_more) {
  Events events;
  events.envelopes.assign(kMaxBatchEvents, "e");
  BOOST_TEST(std::get<Events>(MustDecode(EncodePeerMessage(events))).envelopes.size() ==
             kMaxBatchEvents);
  events.envelopes.push_back("e");
  ExpectCorruption(EncodePeerMessage(events), "over 2048 events");
}

BOOST_AUTO_TEST_CASE(takes_the_most_envelope_bytes_and_rejects_one_more) {
  Events events;
  events.envelopes = {std::string(kMaxBatchBytes / 2, 'a'), std::string(kMaxBatchBytes / 2, 'b')};
  BOOST_TEST(DecodePeerMessage(EncodePeerMessage(events)).ok());
  events.envelopes.back().push_back('b');
  ExpectCorruption(EncodePeerMessage(events), "envelope bytes");
}

BOOST_AUTO_TEST_CASE(rejects_counts_larger_than_the_bytes_left_without_allocating) {
  // Events claiming 2^62 envelopes, then an envelope claiming 2^62 bytes, then a version vector
  // claiming 2^62 entries: each would be gigabytes if believed.
  ExpectCorruption(Frame([](auto& ar) {
                     ar(int32_t{1});
                     ar(uint64_t{1} << 62);
                   }),
                   "exceeds");
  ExpectCorruption(Frame([](auto& ar) {
                     ar(int32_t{1});
                     ar(uint64_t{1});
                     ar(uint64_t{1} << 62);
                   }),
                   "exceeds");
  ExpectCorruption(Frame([](auto& ar) {
                     ar(int32_t{2});
                     ar(uint64_t{1} << 62);
                   }),
                   "exceeds");
  // A count that fits the bytes but not the smallest encoding of its elements.
  ExpectCorruption(Frame([](auto& ar) {
                     ar(int32_t{1});
                     ar(uint64_t{4});
                     ar(uint64_t{0});
                     ar(uint64_t{0});
                   }),
                   "exceeds");
}

BOOST_AUTO_TEST_CASE(rejects_an_unknown_message_kind) {
  ExpectCorruption(Frame([](auto& ar) { ar(int32_t{3}); }), "variant");
  ExpectCorruption(Frame([](auto& ar) { ar(int32_t{-1}); }), "variant");
}

BOOST_AUTO_TEST_CASE(rejects_a_foreign_endianness_marker) {
  std::string bytes = EncodePeerMessage(SampleHave());
  bytes[1] = 0;
  ExpectCorruption(bytes, "little-endian");
}

BOOST_AUTO_TEST_CASE(rejects_a_bool_other_than_0_or_1) {
  std::string bytes = EncodePeerMessage(SampleHave());
  BOOST_REQUIRE(bytes.back() == 1);  // acked is the last field.
  bytes.back() = 2;
  ExpectCorruption(bytes, "bool byte 2");
}

BOOST_AUTO_TEST_CASE(rejects_version_vectors_cereal_would_not_write) {
  const auto have_with = [](std::vector<std::pair<std::string, uint64_t>> entries) {
    return Frame([&](auto& ar) {
      ar(int32_t{2});
      ar(static_cast<uint64_t>(entries.size()));
      for (const auto& [origin, seq] : entries) ar(origin, seq);
      ar(int64_t{0}, uint64_t{1}, false);
    });
  };
  BOOST_TEST(DecodePeerMessage(have_with({{"a", 1}, {"b", 2}})).ok());
  ExpectCorruption(have_with({{"a", 0}}), "is 0");
  ExpectCorruption(have_with({{"b", 1}, {"a", 1}}), "not after");
  ExpectCorruption(have_with({{"a", 1}, {"a", 2}}), "not after");
}

BOOST_AUTO_TEST_CASE(rejects_garbage) {
  ExpectCorruption(std::string("\x01garbage that is not a message", 30), "");
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(1 + rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    bytes[0] = static_cast<char>(kPeerProtocolVersion);
    Result<PeerMessage> m = DecodePeerMessage(bytes);
    if (m.ok()) BOOST_TEST(EncodePeerMessage(*m) == bytes);
  }
}

BOOST_AUTO_TEST_CASE(random_mutations_never_crash_and_decoded_frames_are_canonical) {
  std::mt19937_64 rng(20240611);
  const auto below = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::vector<PeerMessage> samples = Samples();
  size_t decoded = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string bytes = EncodePeerMessage(samples[below(samples.size())]);
    for (size_t edits = 1 + below(3); edits > 0; --edits) {
      switch (below(5)) {
        case 0:  // Flip a bit.
          bytes[below(bytes.size())] ^= static_cast<char>(1 << below(8));
          break;
        case 1:  // Overwrite a byte, often with an extreme value.
          bytes[below(bytes.size())] = static_cast<char>(below(2) ? 0xff : rng());
          break;
        case 2:  // Insert a byte.
          bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(below(bytes.size() + 1)),
                       static_cast<char>(rng()));
          break;
        case 3:  // Erase a byte.
          if (bytes.size() > 1) {
            bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(below(bytes.size())));
          }
          break;
        default:  // Truncate.
          bytes.resize(below(bytes.size() + 1));
          break;
      }
      if (bytes.empty()) bytes.push_back(static_cast<char>(kPeerProtocolVersion));
    }
    Result<PeerMessage> m = DecodePeerMessage(bytes);
    if (m.ok()) {
      ++decoded;
      BOOST_TEST(EncodePeerMessage(*m) == bytes, "mutation " << i);
    } else {
      BOOST_TEST(m.status().ToString().rfind("Corruption: ", 0) == 0);
    }
  }
  BOOST_TEST_MESSAGE(decoded << " of 5000 mutated frames still decoded");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::daemon::replication
