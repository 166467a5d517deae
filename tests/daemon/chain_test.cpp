// Hash chains: the writer links and signs batches; the verifier holds unsigned events until their
// signature, names gaps, duplicates, chain breaks and bad signatures, and rejects every flipped
// bit; the auditor names gap, reorder, truncation, fork, bad signature and broken link.
#include "daemon/identity/chain.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <map>

#include "crdt/event_codec.h"

namespace baton::identity {
namespace {

const char* kRunbook = "rb-2024";

crdt::Event Draft(int n) {
  crdt::Event e;
  e.hlc = crdt::Hlc{1'700'000'000'000 + n, 0};
  e.actor = "alice@hq";
  e.body = crdt::NoteAdded{"T-" + std::to_string(n), "note " + std::to_string(n)};
  return e;
}

std::vector<crdt::Event> Drafts(int from, int count) {
  std::vector<crdt::Event> out;
  for (int i = 0; i < count; ++i) out.push_back(Draft(from + i));
  return out;
}

crdt::SignedEvent Unwrap(const VerifiedEvent& v) {
  return crdt::DecodeEnvelope(v.envelope).value();
}

std::vector<crdt::SignedEvent> Unwrap(const std::vector<VerifiedEvent>& events) {
  std::vector<crdt::SignedEvent> out;
  for (const auto& v : events) out.push_back(Unwrap(v));
  return out;
}

std::string FlipBit(std::string bytes, size_t bit) {
  bytes[bit / 8] = static_cast<char>(bytes[bit / 8] ^ (1 << (bit % 8)));
  return bytes;
}

std::string Resigned(const VerifiedEvent& v, std::string signature) {
  crdt::SignedEvent s = Unwrap(v);
  s.signature = std::move(signature);
  return crdt::EncodeEnvelope(s);
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Two sites, "hq" and "de", with their keys in a roster.
struct Sites {
  KeyPair hq = GenerateKeyPair();
  KeyPair de = GenerateKeyPair();
  std::map<crdt::SiteId, std::string> roster{{"hq", hq.public_key}, {"de", de.public_key}};

  ChainWriter Writer(const crdt::SiteId& origin, uint64_t seq = 0, crdt::Hash hash = {}) {
    return ChainWriter(origin == "hq" ? hq : de, kRunbook, origin, seq, hash);
  }
  ChainVerifier Verifier() {
    return ChainVerifier(kRunbook, [this](const crdt::SiteId& id) -> std::optional<std::string> {
      auto it = roster.find(id);
      if (it == roster.end()) return std::nullopt;
      return it->second;
    });
  }
};

// Feeds envelopes in order; returns every event that came back verified.
std::vector<VerifiedEvent> FeedAll(ChainVerifier& verifier,
                                   const std::vector<VerifiedEvent>& events) {
  std::vector<VerifiedEvent> out;
  for (const auto& v : events) {
    auto r = verifier.Accept(v.envelope);
    BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
    for (auto& ve : *r) out.push_back(std::move(ve));
  }
  return out;
}

BOOST_AUTO_TEST_SUITE(chain_writer)

BOOST_AUTO_TEST_CASE(build_links_numbers_and_signs_only_the_last_event) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  const auto batch = writer.Build(Drafts(1, 3));
  BOOST_TEST_REQUIRE(batch.size() == 3u);
  crdt::Hash prev{};
  for (size_t i = 0; i < batch.size(); ++i) {
    const crdt::SignedEvent s = Unwrap(batch[i]);
    const crdt::Event e = crdt::DecodeEvent(s.payload).value();
    BOOST_TEST(e.origin == "hq");
    BOOST_TEST(e.runbook_id == kRunbook);
    BOOST_TEST(e.seq == i + 1);
    BOOST_TEST((e.prev_hash == prev));
    BOOST_TEST((batch[i].hash == HashPayload(s.payload)));
    BOOST_TEST(crdt::EncodeEvent(batch[i].event) == s.payload);
    BOOST_TEST(s.signature.empty() == (i + 1 < batch.size()));
    prev = batch[i].hash;
  }
  BOOST_TEST(Verify(Unwrap(batch[2]).payload, Unwrap(batch[2]).signature, sites.hq.public_key));
  BOOST_TEST(writer.head_seq() == 3u);
  BOOST_TEST((writer.head_hash() == batch[2].hash));

  const auto next = writer.Build(Drafts(4, 1));
  BOOST_TEST(next[0].event.seq == 4u);
  BOOST_TEST((next[0].event.prev_hash == batch[2].hash));
  BOOST_TEST(writer.Build({}).empty());
}

BOOST_AUTO_TEST_CASE(a_long_batch_is_signed_every_ksignevery_events) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  const auto batch = writer.Build(Drafts(1, static_cast<int>(kSignEvery) + 2));
  std::vector<uint64_t> signed_seqs;
  for (const auto& v : batch) {
    if (!Unwrap(v).signature.empty()) signed_seqs.push_back(v.event.seq);
  }
  BOOST_TEST((signed_seqs == std::vector<uint64_t>{kSignEvery, kSignEvery + 2}));
  ChainVerifier verifier = sites.Verifier();
  BOOST_TEST(FeedAll(verifier, batch).size() == batch.size());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(chain_verifier)

BOOST_AUTO_TEST_CASE(unsigned_events_are_held_until_the_signed_one_arrives) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  const auto batch = writer.Build(Drafts(1, 3));
  ChainVerifier verifier = sites.Verifier();
  for (int i = 0; i < 2; ++i) {
    auto r = verifier.Accept(batch[static_cast<size_t>(i)].envelope);
    BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
    BOOST_TEST(r->empty());
  }
  BOOST_TEST(verifier.pending_count("hq") == 2u);
  BOOST_TEST(verifier.head_seq("hq") == 0u);
  auto run = verifier.Accept(batch[2].envelope);
  BOOST_TEST_REQUIRE(run.ok(), run.status().ToString());
  BOOST_TEST_REQUIRE(run->size() == 3u);
  for (size_t i = 0; i < 3; ++i) {
    BOOST_TEST(run->at(i).envelope == batch[i].envelope);
    BOOST_TEST((run->at(i).hash == batch[i].hash));
    BOOST_TEST(run->at(i).event.seq == i + 1);
  }
  BOOST_TEST(verifier.pending_count("hq") == 0u);
  BOOST_TEST(verifier.head_seq("hq") == 3u);
}

BOOST_AUTO_TEST_CASE(origins_interleave_independently) {
  Sites sites;
  ChainWriter hq = sites.Writer("hq");
  ChainWriter de = sites.Writer("de");
  const auto a = hq.Build(Drafts(1, 2));
  const auto b = de.Build(Drafts(1, 2));
  ChainVerifier verifier = sites.Verifier();
  BOOST_TEST(FeedAll(verifier, {a[0], b[0], b[1], a[1]}).size() == 4u);
  BOOST_TEST(verifier.head_seq("hq") == 2u);
  BOOST_TEST(verifier.head_seq("de") == 2u);
}

BOOST_AUTO_TEST_CASE(set_head_continues_from_what_is_stored) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  const auto stored = writer.Build(Drafts(1, 3));
  const auto fresh = writer.Build(Drafts(4, 2));
  ChainVerifier verifier = sites.Verifier();
  verifier.SetHead("hq", 3, stored[2].hash);
  BOOST_TEST(FeedAll(verifier, fresh).size() == 2u);
  BOOST_TEST(verifier.head_seq("hq") == 5u);
}

BOOST_AUTO_TEST_CASE(a_gap_is_rejected_and_named) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  const auto batch = writer.Build(Drafts(1, 10));
  ChainVerifier verifier = sites.Verifier();
  verifier.SetHead("hq", 7, batch[6].hash);
  auto r = verifier.Accept(batch[9].envelope);
  BOOST_TEST(r.status().ToString() == "Rejected: gap: expected hq/8, got hq/10");
}

BOOST_AUTO_TEST_CASE(a_duplicate_is_indicated_so_the_caller_can_check_for_a_fork) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  const auto batch = writer.Build(Drafts(1, 2));
  ChainVerifier verifier = sites.Verifier();
  FeedAll(verifier, batch);
  auto again = verifier.Accept(batch[0].envelope);
  BOOST_TEST(IsDuplicate(again.status()), again.status().ToString());
  BOOST_TEST(Contains(again.status().message(), "hq/1 is at or below the stored head hq/2"));

  // A second writer from the same head: a different hq/2, same origin and seq.
  ChainWriter forked = sites.Writer("hq", 1, batch[0].hash);
  const auto other = forked.Build({Draft(99)});
  auto fork = verifier.Accept(other[0].envelope);
  BOOST_TEST_REQUIRE(IsDuplicate(fork.status()));
  const auto payload = crdt::DecodeEnvelope(other[0].envelope)->payload;
  BOOST_TEST((HashPayload(payload) != batch[1].hash), "the caller sees a fork");

  // A held unsigned event sent twice is a duplicate too; a different one is a conflict.
  const auto more = writer.Build(Drafts(3, 2));
  BOOST_TEST(verifier.Accept(more[0].envelope).ok());
  BOOST_TEST(IsDuplicate(verifier.Accept(more[0].envelope).status()));
  BOOST_TEST(!IsDuplicate(Status::Rejected("duplicate: not really")));
}

BOOST_AUTO_TEST_CASE(a_chain_break_is_rejected_and_drops_the_held_run) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  const auto batch = writer.Build(Drafts(1, 3));
  ChainVerifier verifier = sites.Verifier();
  BOOST_TEST(verifier.Accept(batch[0].envelope).ok());
  crdt::Hash wrong{};
  wrong[0] = 1;
  ChainWriter liar = sites.Writer("hq", 1, wrong);
  auto r = verifier.Accept(liar.Build({Draft(2)})[0].envelope);
  BOOST_TEST(static_cast<int>(r.status().code()) == static_cast<int>(StatusCode::kRejected));
  BOOST_TEST(Contains(r.status().message(), "chain break at hq/2: prev_hash 0100000000000000..."),
             r.status().message());
  BOOST_TEST(Contains(r.status().message(), "is not the hash of hq/1"));
  BOOST_TEST(verifier.pending_count("hq") == 0u);
  // The honest chain is accepted from the start again.
  BOOST_TEST(FeedAll(verifier, batch).size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_bad_signature_rejects_the_whole_pending_run) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  const auto batch = writer.Build(Drafts(1, 3));
  ChainVerifier verifier = sites.Verifier();
  BOOST_TEST(verifier.Accept(batch[0].envelope).ok());
  BOOST_TEST(verifier.Accept(batch[1].envelope).ok());
  const std::string forged =
      Resigned(batch[2], Sign(Unwrap(batch[2]).payload, sites.de.secret_key));
  auto r = verifier.Accept(forged);
  BOOST_TEST(r.status().ToString() ==
             "Rejected: bad signature on hq/3; 2 unsigned events before it dropped");
  BOOST_TEST(verifier.pending_count("hq") == 0u);
  BOOST_TEST(verifier.head_seq("hq") == 0u);
}

// Accepts every envelope with Check::kAtSettle (each held), then settles the verifier.
ChainVerifier::Settled FeedBatch(ChainVerifier& verifier, const std::vector<std::string>& batch) {
  for (const auto& envelope : batch) {
    auto r = verifier.Accept(envelope, ChainVerifier::Check::kAtSettle);
    BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
    BOOST_TEST_REQUIRE(r->empty());
  }
  return verifier.Settle();
}

// Events 1..n of `writer`, each its own batch and so each signed.
std::vector<VerifiedEvent> EachSigned(ChainWriter& writer, int n) {
  std::vector<VerifiedEvent> out;
  for (int i = 1; i <= n; ++i) out.push_back(writer.Build({Draft(i)})[0]);
  return out;
}

std::vector<uint64_t> Seqs(const std::vector<VerifiedEvent>& events) {
  std::vector<uint64_t> out;
  for (const auto& v : events) out.push_back(v.event.seq);
  return out;
}

BOOST_AUTO_TEST_CASE(a_received_batch_is_verified_by_its_last_signature_alone) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  const auto events = EachSigned(writer, 5);
  // The signatures of 1..4 are damaged: they are not checked, the chain vouches for their
  // payloads through 5's valid signature. Checking them all would reject the batch.
  std::vector<std::string> batch;
  for (size_t i = 0; i < events.size(); ++i) {
    batch.push_back(i + 1 < events.size()
                        ? Resigned(events[i], Sign(Unwrap(events[i]).payload, sites.de.secret_key))
                        : events[i].envelope);
  }
  ChainVerifier verifier = sites.Verifier();
  for (const auto& envelope : batch) {
    BOOST_TEST_REQUIRE(verifier.Accept(envelope, ChainVerifier::Check::kAtSettle)->empty());
  }
  BOOST_TEST(verifier.head_seq("hq") == 0u);
  BOOST_TEST(verifier.pending_count("hq") == 5u);
  const auto settled = verifier.Settle();
  BOOST_TEST(Seqs(settled.events) == (std::vector<uint64_t>{1, 2, 3, 4, 5}),
             boost::test_tools::per_element());
  BOOST_TEST(settled.rejected.empty());
  BOOST_TEST(verifier.head_seq("hq") == 5u);
  BOOST_TEST(verifier.pending_total() == 0u);
  BOOST_TEST(verifier.Settle().events.empty());  // Nothing twice.
}

BOOST_AUTO_TEST_CASE(a_bad_last_signature_releases_the_batch_up_to_the_last_valid_one) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  auto events = EachSigned(writer, 3);
  for (auto& v : writer.Build(Drafts(4, 3))) events.push_back(v);  // 4, 5 unsigned; 6 signed.
  std::vector<std::string> batch;
  for (const auto& v : events) batch.push_back(v.envelope);
  batch[5] = Resigned(events[5], Sign(Unwrap(events[5]).payload, sites.de.secret_key));
  ChainVerifier verifier = sites.Verifier();
  const auto settled = FeedBatch(verifier, batch);
  BOOST_TEST(Seqs(settled.events) == (std::vector<uint64_t>{1, 2, 3}),
             boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(settled.rejected.size() == 1u);
  BOOST_TEST(settled.rejected[0].first == "hq");
  BOOST_TEST(settled.rejected[0].second.ToString() ==
             "Rejected: bad signature on hq/6; 3 events after the last valid signature dropped");
  BOOST_TEST(verifier.head_seq("hq") == 3u);
  BOOST_TEST(verifier.pending_count("hq") == 0u);
  // The honest 4..6 follow on.
  const auto rest =
      FeedBatch(verifier, {events[3].envelope, events[4].envelope, events[5].envelope});
  BOOST_TEST(Seqs(rest.events) == (std::vector<uint64_t>{4, 5, 6}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_rejection_after_held_signed_events_keeps_the_good_ones) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  const auto events = EachSigned(writer, 3);
  ChainVerifier verifier = sites.Verifier();
  for (const auto& v : events) {
    BOOST_TEST_REQUIRE(verifier.Accept(v.envelope, ChainVerifier::Check::kAtSettle)->empty());
  }
  // A made-up hq/4 that does not link to hq/3 (a relay appending to a good run).
  ChainWriter liar = sites.Writer("hq", 3, crdt::Hash{});
  auto broken =
      verifier.Accept(liar.Build({Draft(9)})[0].envelope, ChainVerifier::Check::kAtSettle);
  BOOST_TEST(!broken.ok());
  BOOST_TEST(Contains(broken.status().ToString(), "chain break at hq/4"));
  BOOST_TEST(verifier.head_seq("hq") == 3u);  // Settled before the drop.
  const auto settled = verifier.Settle();
  BOOST_TEST(Seqs(settled.events) == (std::vector<uint64_t>{1, 2, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(settled.rejected.empty());
}

BOOST_AUTO_TEST_CASE(every_flipped_bit_of_a_signed_envelope_is_refused) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  const auto batch = writer.Build({Draft(1)});
  const std::string& envelope = batch[0].envelope;
  for (size_t bit = 0; bit < envelope.size() * 8; ++bit) {
    ChainVerifier verifier = sites.Verifier();
    auto r = verifier.Accept(FlipBit(envelope, bit));
    BOOST_TEST(!r.ok(), "bit " << bit << " accepted");
    BOOST_TEST(verifier.head_seq("hq") == 0u);
  }
  ChainVerifier verifier = sites.Verifier();
  BOOST_TEST(verifier.Accept(envelope)->size() == 1u);
}

BOOST_AUTO_TEST_CASE(unknown_origin_and_other_runbook_are_rejected) {
  Sites sites;
  KeyPair stranger = GenerateKeyPair();
  ChainWriter writer(stranger, kRunbook, "xx", 0, {});
  ChainVerifier verifier = sites.Verifier();
  BOOST_TEST(verifier.Accept(writer.Build({Draft(1)})[0].envelope).status().ToString() ==
             "Rejected: event xx/1: origin \"xx\" is not in the roster");
  ChainWriter other(sites.hq, "rb-other", "hq", 0, {});
  BOOST_TEST(verifier.Accept(other.Build({Draft(1)})[0].envelope).status().ToString() ==
             "Rejected: event hq/1 belongs to runbook \"rb-other\", not \"rb-2024\"");
  BOOST_TEST(static_cast<int>(verifier.Accept("garbage").status().code()) ==
             static_cast<int>(StatusCode::kCorruption));
}

BOOST_AUTO_TEST_CASE(an_overlong_unsigned_run_is_dropped) {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  std::vector<VerifiedEvent> events;
  // Single-event batches are all signed: strip the signatures to make an unsigned run.
  for (size_t i = 0; i < kSignEvery; ++i) {
    events.push_back(writer.Build({Draft(static_cast<int>(i))})[0]);
  }
  ChainVerifier verifier = sites.Verifier();
  for (size_t i = 0; i + 1 < kSignEvery; ++i) {
    BOOST_TEST_REQUIRE(verifier.Accept(Resigned(events[i], "")).ok());
  }
  auto r = verifier.Accept(Resigned(events.back(), ""));
  BOOST_TEST(Contains(r.status().message(), "more than 1023 unsigned events in a row"));
  BOOST_TEST(verifier.pending_count("hq") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(chain_audit)

struct AuditFixture {
  Sites sites;
  ChainWriter writer = sites.Writer("hq");
  std::vector<VerifiedEvent> events;  // hq/1..6, signed on 2, 5 and 6.

  AuditFixture() {
    for (int count : {2, 3, 1}) {
      for (auto& v : writer.Build(Drafts(static_cast<int>(events.size()) + 1, count))) {
        events.push_back(std::move(v));
      }
    }
  }
  ChainReport Audit(const std::vector<crdt::SignedEvent>& log) {
    return AuditChain("hq", log, sites.hq.public_key);
  }
  std::vector<crdt::SignedEvent> Log() { return Unwrap(events); }
};

std::string Describe(const ChainReport& r) {
  std::string out;
  for (const auto& p : r.problems) {
    out += std::string(ChainProblemKindName(p.kind)) + " @" + p.id.ToString() + ": " + p.message +
           "\n";
  }
  return out;
}

BOOST_FIXTURE_TEST_CASE(a_sound_chain_has_no_problems, AuditFixture) {
  const ChainReport r = Audit(Log());
  BOOST_TEST(r.ok(), Describe(r));
  BOOST_TEST(r.events == 6u);
  BOOST_TEST(r.verified_through == 6u);
}

BOOST_FIXTURE_TEST_CASE(a_gap_is_named, AuditFixture) {
  auto log = Log();
  log.erase(log.begin() + 2, log.begin() + 4);  // hq/3 and hq/4.
  const ChainReport r = Audit(log);
  BOOST_TEST_REQUIRE(r.problems.size() == 1u, Describe(r));
  BOOST_TEST((r.problems[0].kind == ChainProblemKind::kGap));
  BOOST_TEST(r.problems[0].id.ToString() == "hq/3");
  BOOST_TEST(r.problems[0].message == "gap: hq/3..hq/4 missing");
  BOOST_TEST(r.verified_through == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_reorder_is_named, AuditFixture) {
  auto log = Log();
  std::swap(log[2], log[3]);
  const ChainReport r = Audit(log);
  BOOST_TEST_REQUIRE(r.problems.size() == 1u, Describe(r));
  BOOST_TEST((r.problems[0].kind == ChainProblemKind::kReorder));
  BOOST_TEST(r.problems[0].message == "reorder: hq/3 comes after hq/4 in the log");
  BOOST_TEST(r.verified_through == 6u);
}

BOOST_FIXTURE_TEST_CASE(a_truncated_chain_is_named, AuditFixture) {
  auto log = Log();
  log.pop_back();  // hq/6 was signed alone: still fine.
  BOOST_TEST(Audit(log).ok(), Describe(Audit(log)));
  log.pop_back();  // hq/5 carried the signature for hq/3..5.
  const ChainReport r = Audit(log);
  BOOST_TEST_REQUIRE(r.problems.size() == 1u, Describe(r));
  BOOST_TEST((r.problems[0].kind == ChainProblemKind::kTruncated));
  BOOST_TEST(r.problems[0].message ==
             "truncated: hq/3..hq/4 not covered by a valid signature (last valid signature on "
             "hq/2)");
  BOOST_TEST(r.verified_through == 2u);

  auto headless = Log();
  headless.erase(headless.begin());
  const ChainReport h = Audit(headless);
  BOOST_TEST_REQUIRE(h.problems.size() == 1u, Describe(h));
  BOOST_TEST((h.problems[0].kind == ChainProblemKind::kTruncated));
  BOOST_TEST(h.problems[0].message == "truncated: the chain starts at hq/2, hq/1 missing");
  BOOST_TEST(h.verified_through == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_fork_is_named, AuditFixture) {
  ChainWriter forked = sites.Writer("hq", 3, events[2].hash);
  const auto other = forked.Build({Draft(77)});  // A second, signed hq/4.
  auto log = Log();
  log.insert(log.begin() + 4, Unwrap(other[0]));
  const ChainReport r = Audit(log);
  BOOST_TEST_REQUIRE(r.problems.size() == 1u, Describe(r));
  BOOST_TEST((r.problems[0].kind == ChainProblemKind::kFork));
  BOOST_TEST(r.problems[0].id.ToString() == "hq/4");
  BOOST_TEST(Contains(r.problems[0].message, "fork: two different events claim hq/4"));
  BOOST_TEST(r.verified_through == 6u);
}

BOOST_FIXTURE_TEST_CASE(a_bad_signature_is_named, AuditFixture) {
  auto log = Log();
  log[4].signature = FlipBit(log[4].signature, 100);
  const ChainReport r = Audit(log);
  BOOST_TEST(r.Has(ChainProblemKind::kBadSignature), Describe(r));
  BOOST_TEST(r.problems[0].message == "bad signature on hq/5");
  // hq/6's signature still vouches for hq/3..5 through the chain.
  BOOST_TEST(r.problems.size() == 1u, Describe(r));
  BOOST_TEST(r.verified_through == 6u);

  log[5].signature = FlipBit(log[5].signature, 3);
  const ChainReport r2 = Audit(log);
  BOOST_TEST(r2.Has(ChainProblemKind::kTruncated), Describe(r2));
  BOOST_TEST(r2.verified_through == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_broken_prev_hash_is_named, AuditFixture) {
  crdt::Hash wrong{};
  wrong[31] = 7;
  ChainWriter liar = sites.Writer("hq", 3, wrong);
  auto log = Log();
  const auto replaced = liar.Build({Draft(4)});
  log[3] = Unwrap(replaced[0]);  // hq/4 now links to nothing we hold.
  const ChainReport r = Audit(log);
  BOOST_TEST(r.Has(ChainProblemKind::kBrokenChain), Describe(r));
  const auto broken = std::find_if(r.problems.begin(), r.problems.end(), [](const auto& p) {
    return p.kind == ChainProblemKind::kBrokenChain;
  });
  BOOST_TEST_REQUIRE((broken != r.problems.end()));
  BOOST_TEST(broken->id.ToString() == "hq/4");
  BOOST_TEST(Contains(broken->message, "broken chain at hq/4: prev_hash"), broken->message);
  BOOST_TEST(Contains(broken->message, "is not the hash of hq/3"));
  BOOST_TEST(r.Has(ChainProblemKind::kTruncated), "hq/3 lost the signature of hq/5");
  BOOST_TEST(r.verified_through == 2u);
}

BOOST_FIXTURE_TEST_CASE(undecodable_and_foreign_entries_are_named, AuditFixture) {
  auto log = Log();
  log.push_back(crdt::SignedEvent{"garbage", ""});
  ChainWriter de = sites.Writer("de");
  log.push_back(Unwrap(de.Build({Draft(1)})[0]));
  const ChainReport r = Audit(log);
  BOOST_TEST(r.Has(ChainProblemKind::kUndecodable), Describe(r));
  BOOST_TEST(r.Has(ChainProblemKind::kWrongOrigin), Describe(r));
  BOOST_TEST(r.verified_through == 6u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::identity
