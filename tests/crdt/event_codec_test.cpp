// Event codec: round trips of every body kind, canonical bytes (decode then encode is the
// identity on random events), strict rejection of truncated, trailing and garbage bytes, the
// worked example of docs/event-format.md byte for byte, and the envelope.
#include "crdt/event_codec.h"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>

namespace baton::crdt {
namespace {

namespace bdata = boost::unit_test::data;

std::string Hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Random values, including the awkward ones: empty and binary strings, extreme integers.
class RandomEvents {
 public:
  explicit RandomEvents(uint32_t seed) : rng_(seed) {}

  uint64_t Below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  bool Coin() { return Below(2) == 1; }

  int64_t Time() {
    switch (Below(4)) {
      case 0:
        return kNoTime;
      case 1:
        return std::numeric_limits<int64_t>::max();
      case 2:
        return -static_cast<int64_t>(Below(1'000'000));
      default:
        return static_cast<int64_t>(Below(4'000'000'000'000));
    }
  }

  std::string Text() {
    std::string s;
    const uint64_t n = Below(4) == 0 ? 0 : Below(24);
    for (uint64_t i = 0; i < n; ++i) s.push_back(static_cast<char>(Below(256)));
    return s;
  }

  template <class T>
  std::optional<T> Maybe(T v) {
    if (Coin()) return std::nullopt;
    return v;
  }

  std::vector<EventId> Ids() {
    std::vector<EventId> ids(Below(4));
    for (auto& id : ids) id = EventId{Text(), rng_()};
    return ids;
  }

  std::vector<Dependency> Deps() {
    std::vector<Dependency> deps(Below(4));
    for (auto& d : deps) d = Dependency{Text(), static_cast<DependencyType>(Below(4)), Time()};
    return deps;
  }

  // Half the time none, so that both format versions occur (docs/event-format.md#10-versioning).
  std::vector<std::string> Names() {
    std::vector<std::string> names(Coin() ? 0 : Below(3));
    for (auto& n : names) n = Text();
    return names;
  }

  TaskSpec Spec() {
    TaskSpec t;
    t.id = Text();
    t.title = Text();
    t.phase = Text();
    t.team = Text();
    t.site = Text();
    t.kind = static_cast<TaskKind>(Below(3));
    t.planned_start_ms = Time();
    t.not_before_ms = Time();
    t.duration_ms = Time();
    t.predecessors = Deps();
    t.backout_task = Text();
    t.is_backout = Coin();
    t.deciders = Names();
    return t;
  }

  Body AnyBody() { return BodyOfKind(Below(std::variant_size_v<Body>)); }

  Body BodyOfKind(uint64_t kind) {
    switch (kind) {
      case 0: {
        PlanDefined b;
        b.plan.runbook_id = Text();
        b.plan.name = Text();
        b.plan.timezone = Text();
        b.plan.window_start_ms = Time();
        b.plan.window_end_ms = Time();
        b.plan.sites.resize(Below(3));
        for (auto& s : b.plan.sites) {
          s = SiteInfo{Text(), Text(), Text(), static_cast<SiteRole>(Below(3)), Text(), Names()};
        }
        b.plan.teams.resize(Below(3));
        for (auto& t : b.plan.teams) t = Text();
        b.plan.tasks.resize(Below(3));
        for (auto& t : b.plan.tasks) t = Spec();
        b.supersedes = Ids();
        return b;
      }
      case 1:
        return PlanAmended{Maybe(Text()), Maybe(Time()), Maybe(Time()), Ids()};
      case 2:
        return TaskAdded{Spec()};
      case 3: {
        TaskPatch p;
        p.title = Maybe(Text());
        p.phase = Maybe(Text());
        p.team = Maybe(Text());
        p.site = Maybe(Text());
        p.planned_start_ms = Maybe(Time());
        p.not_before_ms = Maybe(Time());
        p.duration_ms = Maybe(Time());
        p.predecessors = Maybe(Deps());
        p.backout_task = Maybe(Text());
        return TaskChanged{Text(), p, Ids()};
      }
      case 4:
        return TaskRemoved{Text()};
      case 5:
        return TaskReported{Text(), static_cast<ReportKind>(Below(5)), Time(), Text(), Ids()};
      case 6:
        return NoteAdded{Text(), Text()};
      default:
        return GateDecided{Text(), Coin(), Time(), Text(), Ids()};
    }
  }

  Event Any() { return WithBody(AnyBody()); }

  Event WithBody(Body body) {
    Event e;
    e.runbook_id = Text();
    e.origin = Text();
    e.seq = Coin() ? Below(100) : rng_();
    e.hlc = Hlc{Time(), static_cast<uint32_t>(rng_())};
    for (auto& b : e.prev_hash) b = static_cast<uint8_t>(Below(256));
    e.actor = Text();
    e.body = std::move(body);
    return e;
  }

 private:
  std::mt19937_64 rng_;
};

Event Decoded(std::string_view bytes) {
  auto r = DecodeEvent(bytes);
  BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
  return std::move(r).value();
}

void CheckCorruption(std::string_view bytes, const std::string& expected_part) {
  auto r = DecodeEvent(bytes);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(static_cast<int>(r.status().code()) == static_cast<int>(StatusCode::kCorruption));
  BOOST_TEST(r.status().message().find(expected_part) != std::string::npos,
             "\"" << r.status().message() << "\" names \"" << expected_part << "\"");
}

// The worked example of docs/event-format.md.
Event WorkedExample() {
  Event e;
  e.runbook_id = "rb";
  e.origin = "hq";
  e.seq = 2;
  e.hlc = Hlc{1000, 1};
  e.prev_hash.fill(0xab);
  e.actor = "al";
  e.body = TaskReported{"T-1", ReportKind::kDone, kNoTime, "", {EventId{"de", 7}}};
  return e;
}

constexpr std::string_view kWorkedExampleHex =
    "01"                // Cereal: little-endian marker
    "0100"              // u16 format version 1
    "0200000000000000"  // runbook_id: u64 length 2
    "7262"              //   "rb"
    "0200000000000000"  // origin: length 2
    "6871"              //   "hq"
    "0200000000000000"  // seq: u64 2
    "e803000000000000"  // hlc.wall_ms: i64 1000
    "01000000"          // hlc.logical: u32 1
    "abababababababababababababababababababababababababababababababab"  // prev_hash
    "0200000000000000"                                                  // actor: length 2
    "616c"                                                              //   "al"
    "05000000"           // body: i32 variant index 5 = TaskReported
    "0300000000000000"   // task_id: length 3
    "542d31"             //   "T-1"
    "01"                 // kind: u8 1 = kDone
    "0000000000000080"   // effective_ms: i64 min = kNoTime
    "0000000000000000"   // note: length 0
    "0100000000000000"   // supersedes: u64 count 1
    "0200000000000000"   //   origin: length 2
    "6465"               //     "de"
    "0700000000000000";  //   seq: u64 7

BOOST_AUTO_TEST_SUITE(event_codec)

BOOST_AUTO_TEST_CASE(every_body_kind_round_trips) {
  RandomEvents gen(7);
  for (uint64_t kind = 0; kind < std::variant_size_v<Body>; ++kind) {
    BOOST_TEST_CONTEXT("body kind " << kind) {
      const Event e = gen.WithBody(gen.BodyOfKind(kind));
      const std::string bytes = EncodeEvent(e);
      const Event back = Decoded(bytes);
      BOOST_TEST(back.body.index() == kind);
      BOOST_TEST(std::string(BodyKindName(back.body)) == BodyKindName(e.body));
      BOOST_TEST(back.runbook_id == e.runbook_id);
      BOOST_TEST(back.origin == e.origin);
      BOOST_TEST(back.seq == e.seq);
      BOOST_TEST((back.hlc == e.hlc));
      BOOST_TEST((back.prev_hash == e.prev_hash));
      BOOST_TEST(back.actor == e.actor);
      BOOST_TEST(EncodeEvent(back) == bytes);
    }
  }
}

BOOST_AUTO_TEST_CASE(body_fields_survive_the_round_trip) {
  Event e = WorkedExample();
  TaskSpec spec;
  spec.id = "T-042";
  spec.title = "Stop batch jobs";
  spec.kind = TaskKind::kGate;
  spec.duration_ms = 1800000;
  spec.predecessors = {Dependency{"T-041", DependencyType::kStartToStart, -60000}};
  spec.is_backout = true;
  e.body = TaskAdded{spec};
  const auto added = std::get<TaskAdded>(Decoded(EncodeEvent(e)).body);
  BOOST_TEST((added.spec == spec));

  TaskPatch patch;
  patch.title = "renamed";
  patch.duration_ms = 0;
  patch.predecessors = std::vector<Dependency>{};
  e.body = TaskChanged{"T-042", patch, {EventId{"hq", 3}}};
  const auto changed = std::get<TaskChanged>(Decoded(EncodeEvent(e)).body);
  BOOST_TEST(changed.patch.title.value() == "renamed");
  BOOST_TEST(!changed.patch.phase.has_value());
  BOOST_TEST(changed.patch.duration_ms.value() == 0);
  BOOST_TEST(changed.patch.predecessors.value().empty());
  BOOST_TEST((changed.supersedes == std::vector<EventId>{EventId{"hq", 3}}));

  e.body = GateDecided{"G-1", true, 5, "go", {}};
  const auto gate = std::get<GateDecided>(Decoded(EncodeEvent(e)).body);
  BOOST_TEST(gate.go);
  BOOST_TEST(gate.effective_ms == 5);
}

BOOST_DATA_TEST_CASE(random_events_re_encode_to_identical_bytes, bdata::xrange(1, 21), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    RandomEvents gen(static_cast<uint32_t>(seed));
    for (int i = 0; i < 50; ++i) {
      const std::string bytes = EncodeEvent(gen.Any());
      BOOST_TEST_REQUIRE(EncodeEvent(Decoded(bytes)) == bytes);
    }
  }
}

// Our strict reader and Cereal's own PortableBinaryInputArchive read the same bytes alike.
BOOST_DATA_TEST_CASE(stock_cereal_reader_agrees, bdata::xrange(1, 6), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    RandomEvents gen(static_cast<uint32_t>(seed));
    for (int i = 0; i < 20; ++i) {
      const std::string bytes = EncodeEvent(gen.Any());
      std::istringstream in(bytes, std::ios::binary);
      cereal::PortableBinaryInputArchive ar(in);
      uint16_t version = 0;
      ar(version);  // The archive's constructor read the endianness byte.
      BOOST_TEST(version == FormatVersionOf(Decoded(bytes)));
      const format::Scope scope(version);
      Event stock;
      ar(stock.runbook_id, stock.origin, stock.seq, stock.hlc, stock.prev_hash, stock.actor,
         stock.body);
      BOOST_TEST(EncodeEvent(stock) == bytes);
    }
  }
}

BOOST_AUTO_TEST_CASE(worked_example_matches_the_format_document) {
  const std::string bytes = EncodeEvent(WorkedExample());
  BOOST_TEST(Hex(bytes) == kWorkedExampleHex);
  const Event back = Decoded(Unhex(kWorkedExampleHex));
  BOOST_TEST(EncodeEvent(back) == bytes);
}

BOOST_AUTO_TEST_CASE(optional_is_a_bool_then_the_value) {
  // PlanAmended{name = "x", window_start_ms unset, window_end_ms = 1, supersedes = {}}.
  Event e = WorkedExample();
  e.body = PlanAmended{std::string("x"), std::nullopt, int64_t{1}, {}};
  const std::string hex = Hex(EncodeEvent(e));
  // Index 1, then: present(0 = "not nullopt") + "x", absent(1), present + 1, count 0.
  const std::string expected =
      "01000000"
      "00"
      "0100000000000000"
      "78"
      "01"
      "00"
      "0100000000000000"
      "0000000000000000";
  BOOST_TEST_REQUIRE(hex.size() >= expected.size());
  BOOST_TEST(hex.substr(hex.size() - expected.size()) == expected);
}

BOOST_AUTO_TEST_CASE(every_truncation_is_corruption) {
  const std::string bytes = EncodeEvent(WorkedExample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    BOOST_TEST_CONTEXT("prefix of " << n << " bytes") { CheckCorruption(bytes.substr(0, n), ""); }
  }
  CheckCorruption(bytes.substr(0, 20), "truncated");
}

BOOST_AUTO_TEST_CASE(trailing_bytes_are_corruption) {
  CheckCorruption(EncodeEvent(WorkedExample()) + "x", "1 trailing bytes");
}

BOOST_AUTO_TEST_CASE(newer_format_version_is_named) {
  std::string bytes = EncodeEvent(WorkedExample());
  bytes[1] = 4;
  CheckCorruption(bytes, "event format version 4 is newer than this build supports (3)");
  bytes[1] = 0;
  CheckCorruption(bytes, "event format version 0 is not valid");
}

// Format 2 (teams, deciders) is written only when an event uses it; a version-1 event keeps the
// bytes a version-1 build writes and reads, and no event has two encodings.
BOOST_AUTO_TEST_CASE(an_event_is_written_in_the_oldest_format_that_carries_it) {
  Event plan = WorkedExample();
  PlanDefined def;
  def.plan.runbook_id = "rb";
  def.plan.sites = {SiteInfo{"hq", "HQ", std::string(32, 'k'), SiteRole::kManager, "", {}},
                    SiteInfo{"de", "DE", std::string(32, 'd'), SiteRole::kSite, "", {}}};
  TaskSpec gate;
  gate.id = "G-1";
  gate.kind = TaskKind::kGate;
  def.plan.tasks = {gate};
  plan.body = def;
  const std::string v1 = EncodeEvent(plan);
  BOOST_TEST(FormatVersionOf(plan) == 1);
  BOOST_TEST(static_cast<int>(v1[1]) == 1);

  std::get<PlanDefined>(plan.body).plan.tasks[0].deciders = {"de", "dba"};
  BOOST_TEST(FormatVersionOf(plan) == 2);
  const std::string with_deciders = EncodeEvent(plan);
  BOOST_TEST(static_cast<int>(with_deciders[1]) == 2);
  BOOST_TEST(Decoded(with_deciders).body.index() == 0);
  BOOST_TEST(std::get<PlanDefined>(Decoded(with_deciders).body).plan.tasks[0].deciders ==
                 (std::vector<std::string>{"de", "dba"}),
             boost::test_tools::per_element());
  // The deciders and a count: a vector of 2 strings of 2 and 3 bytes, and the teams count of
  // each of the two sites, 8 bytes each.
  BOOST_TEST(with_deciders.size() == v1.size() + 8 + (8 + 2) + (8 + 3) + 2 * 8);

  std::get<PlanDefined>(plan.body).plan.tasks[0].deciders.clear();
  std::get<PlanDefined>(plan.body).plan.sites[1].teams = {"dba"};
  BOOST_TEST(FormatVersionOf(plan) == 2);
  const PlanDefined back = std::get<PlanDefined>(Decoded(EncodeEvent(plan)).body);
  BOOST_TEST(back.plan.sites[1].teams == (std::vector<std::string>{"dba"}),
             boost::test_tools::per_element());

  Event added = WorkedExample();
  added.body = TaskAdded{gate};
  BOOST_TEST(FormatVersionOf(added) == 1);
  std::get<TaskAdded>(added.body).spec.deciders = {"de"};
  BOOST_TEST(FormatVersionOf(added) == 2);
  BOOST_TEST(EncodeEvent(Decoded(EncodeEvent(added))) == EncodeEvent(added));

  // A removal's fence: format 3, after the supersedes list (a count, then site and seq each).
  std::get<PlanDefined>(plan.body).plan.sites[1].teams.clear();
  const std::string before_fence = EncodeEvent(plan);
  std::get<PlanDefined>(plan.body).fences = {Fence{"de", 7}};
  BOOST_TEST(FormatVersionOf(plan) == 3);
  const std::string fenced = EncodeEvent(plan);
  BOOST_TEST(static_cast<int>(fenced[1]) == 3);
  // Version 3 carries the teams and deciders counts of version 2 too (zero here).
  BOOST_TEST(fenced.size() == before_fence.size() + 8 + 2 * 8 + 8 + (8 + 2) + 8);
  const PlanDefined with_fence = std::get<PlanDefined>(Decoded(fenced).body);
  BOOST_TEST_REQUIRE(with_fence.fences.size() == 1u);
  BOOST_TEST(with_fence.fences[0].site == "de");
  BOOST_TEST(with_fence.fences[0].seq == 7u);

  // A gate's deciders set by an amendment: format 3 too; none set: format 1.
  Event changed = WorkedExample();
  TaskPatch patch;
  patch.title = "Go/no-go";
  changed.body = TaskChanged{"G-1", patch, {}};
  BOOST_TEST(FormatVersionOf(changed) == 1);
  std::get<TaskChanged>(changed.body).patch.deciders = std::vector<std::string>{};
  BOOST_TEST(FormatVersionOf(changed) == 3);  // Even [] (clearing them) needs the field.
  const Event back_again = Decoded(EncodeEvent(changed));
  BOOST_TEST_REQUIRE(std::get<TaskChanged>(back_again.body).patch.deciders.has_value());
  BOOST_TEST(std::get<TaskChanged>(back_again.body).patch.deciders->empty());
}

BOOST_AUTO_TEST_CASE(a_newer_format_than_the_event_needs_is_not_canonical) {
  std::string bytes = EncodeEvent(WorkedExample());  // A report: format 1.
  bytes[1] = 2;
  CheckCorruption(bytes, "is in format version 2 but uses nothing newer than version 1");
}

BOOST_AUTO_TEST_CASE(big_endian_marker_is_rejected) {
  std::string bytes = EncodeEvent(WorkedExample());
  bytes[0] = 0;
  CheckCorruption(bytes, "byte 0 is 0");
}

BOOST_AUTO_TEST_CASE(bool_byte_other_than_0_or_1_is_rejected) {
  Event e = WorkedExample();
  e.body = GateDecided{"G", true, 0, "", {}};
  std::string bytes = EncodeEvent(e);
  // The body starts after the fixed header: 1+2+(8+2)+(8+2)+8+8+4+32+(8+2) = 85.
  const size_t body_at = 85;
  BOOST_TEST_REQUIRE(static_cast<unsigned char>(bytes[body_at]) == 7);  // GateDecided.
  const size_t go_byte = body_at + 4 + 8 + 1;  // index, task_id length, "G".
  BOOST_TEST_REQUIRE(static_cast<unsigned char>(bytes[go_byte]) == 1);
  bytes[go_byte] = 2;
  CheckCorruption(bytes, "bool byte 2 at offset 98");
}

BOOST_AUTO_TEST_CASE(unknown_body_kind_and_enum_values_are_rejected) {
  std::string bytes = EncodeEvent(WorkedExample());
  const size_t body_at = 85;
  bytes[body_at] = 8;
  CheckCorruption(bytes, "variant");
  bytes.replace(body_at, 4, Unhex("ffffffff"));  // -1.
  CheckCorruption(bytes, "variant");

  bytes = EncodeEvent(WorkedExample());
  const size_t kind_at = body_at + 4 + 8 + 3;
  BOOST_TEST_REQUIRE(static_cast<unsigned char>(bytes[kind_at]) == 1);
  bytes[kind_at] = 9;
  CheckCorruption(bytes, "report kind 9 is unknown");
}

BOOST_AUTO_TEST_CASE(huge_counts_are_rejected_before_allocating) {
  std::string bytes = EncodeEvent(WorkedExample());
  // runbook_id length at offset 3: claim 2^62 bytes.
  bytes.replace(3, 8, Unhex("0000000000000040"));
  CheckCorruption(bytes, "count 4611686018427387904 at offset 3 exceeds");
}

BOOST_DATA_TEST_CASE(garbage_is_rejected_or_canonical, bdata::xrange(1, 21), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    RandomEvents gen(static_cast<uint32_t>(seed));
    for (int i = 0; i < 200; ++i) {
      std::string bytes;
      if (i % 2 == 0) {
        bytes.resize(gen.Below(200));
        for (auto& c : bytes) c = static_cast<char>(gen.Below(256));
        if (!bytes.empty()) bytes[0] = 1;
        if (bytes.size() > 2) bytes[1] = 1, bytes[2] = 0;
      } else {
        bytes = EncodeEvent(gen.Any());
        for (uint64_t k = 1 + gen.Below(3); k > 0; --k) {
          bytes[gen.Below(bytes.size())] = static_cast<char>(gen.Below(256));
        }
      }
      auto r = DecodeEvent(bytes);
      if (r.ok()) {
        BOOST_TEST(EncodeEvent(*r) == bytes);
      } else {
        BOOST_TEST(static_cast<int>(r.status().code()) ==
                   static_cast<int>(StatusCode::kCorruption));
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(event_envelope)

BOOST_AUTO_TEST_CASE(round_trip_keeps_payload_verbatim) {
  SignedEvent signed_event{EncodeEvent(WorkedExample()), std::string(64, '\x5a')};
  const std::string envelope = EncodeEnvelope(signed_event);
  BOOST_TEST(envelope.size() == 1 + 8 + signed_event.payload.size() + 1 + 64);
  auto back = DecodeEnvelope(envelope);
  BOOST_TEST_REQUIRE(back.ok(), back.status().ToString());
  BOOST_TEST((*back == signed_event));

  SignedEvent unsigned_event{"any bytes", ""};
  auto back2 = DecodeEnvelope(EncodeEnvelope(unsigned_event));
  BOOST_TEST_REQUIRE(back2.ok());
  BOOST_TEST((*back2 == unsigned_event));
}

BOOST_AUTO_TEST_CASE(layout_is_version_size_payload_signature) {
  BOOST_TEST(Hex(EncodeEnvelope(SignedEvent{"ab", ""})) ==
             "01"
             "0200000000000000"
             "6162"
             "00");
}

BOOST_AUTO_TEST_CASE(damaged_envelopes_are_corruption) {
  const std::string good = EncodeEnvelope(SignedEvent{"payload", std::string(64, 's')});
  for (size_t n = 0; n < good.size(); ++n) {
    BOOST_TEST_CONTEXT("prefix of " << n << " bytes") {
      BOOST_TEST(!DecodeEnvelope(good.substr(0, n)).ok());
    }
  }
  BOOST_TEST(DecodeEnvelope(good + "x").status().message() == "event envelope: 1 trailing bytes");
  std::string v2 = good;
  v2[0] = 2;
  BOOST_TEST(DecodeEnvelope(v2).status().message() ==
             "event envelope: envelope version 2 is not supported (1)");
  std::string bad_sig = EncodeEnvelope(SignedEvent{"p", ""});
  bad_sig.back() = 63;
  bad_sig += std::string(63, 's');
  BOOST_TEST(DecodeEnvelope(bad_sig).status().message() ==
             "event envelope: signature size 63 (must be 0 or 64)");
  std::string huge = good;
  huge.replace(1, 8, Unhex("ffffffffffffffff"));
  BOOST_TEST(static_cast<int>(DecodeEnvelope(huge).status().code()) ==
             static_cast<int>(StatusCode::kCorruption));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::crdt
