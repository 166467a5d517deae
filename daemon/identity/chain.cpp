// Hash chains: writer, verifier and auditor. The verifier holds unsigned events until the signed
// event that vouches for them arrives, then checks that one signature for the whole run; it never
// returns an event that no valid signature covers.
#include "daemon/identity/chain.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <utility>

namespace baton::identity {
namespace {

constexpr std::string_view kDuplicatePrefix = "duplicate: ";

std::string Id(const crdt::SiteId& origin, uint64_t seq) {
  return crdt::EventId{origin, seq}.ToString();
}

std::string ShortHash(const crdt::Hash& hash) { return HashHex(hash).substr(0, 16); }

}  // namespace

// ---- ChainWriter ----------------------------------------------------------------------------

ChainWriter::ChainWriter(KeyPair keys, std::string runbook_id, crdt::SiteId origin,
                         uint64_t head_seq, crdt::Hash head_hash)
    : keys_(std::move(keys)),
      runbook_id_(std::move(runbook_id)),
      origin_(std::move(origin)),
      head_seq_(head_seq),
      head_hash_(head_hash) {
  BATON_CHECK(keys_.secret_key.size() == kSecretKeySize);
  BATON_CHECK(keys_.public_key.size() == kPublicKeySize);
}

std::vector<VerifiedEvent> ChainWriter::Build(std::vector<crdt::Event> drafts, Signing signing) {
  std::vector<VerifiedEvent> out;
  out.reserve(drafts.size());
  for (size_t i = 0; i < drafts.size(); ++i) {
    crdt::Event& e = drafts[i];
    e.runbook_id = runbook_id_;
    e.origin = origin_;
    e.seq = head_seq_ + 1;
    e.prev_hash = head_hash_;
    crdt::SignedEvent signed_event{crdt::EncodeEvent(e), ""};
    // The chain makes one signature vouch for every earlier event; kSignEvery bounds what a
    // receiver must hold unverified.
    if ((signing == Signing::kLast && i + 1 == drafts.size()) || (i + 1) % kSignEvery == 0) {
      signed_event.signature = Sign(signed_event.payload, keys_.secret_key);
    }
    const crdt::Hash hash = HashPayload(signed_event.payload);
    head_seq_ = e.seq;
    head_hash_ = hash;
    out.push_back(VerifiedEvent{std::move(e), hash, crdt::EncodeEnvelope(signed_event)});
  }
  return out;
}

void ChainWriter::SignLast(VerifiedEvent& built) const {
  Result<crdt::SignedEvent> envelope = crdt::DecodeEnvelope(built.envelope);
  BATON_CHECK(envelope.ok());  // This writer encoded it.
  if (!envelope->signature.empty()) return;
  envelope->signature = identity::Sign(envelope->payload, keys_.secret_key);
  built.envelope = crdt::EncodeEnvelope(*envelope);
}

void ChainWriter::SetHead(uint64_t seq, const crdt::Hash& hash) {
  head_seq_ = seq;
  head_hash_ = hash;
}

// ---- ChainVerifier --------------------------------------------------------------------------

ChainVerifier::ChainVerifier(std::string runbook_id, PublicKeyLookup public_key_of)
    : runbook_id_(std::move(runbook_id)), public_key_of_(std::move(public_key_of)) {}

void ChainVerifier::SetHead(const crdt::SiteId& origin, uint64_t seq, const crdt::Hash& hash) {
  OriginChain& chain = chains_[origin];
  chain.head_seq = seq;
  chain.head_hash = hash;
  chain.pending.clear();
  chain.unchecked.clear();
}

uint64_t ChainVerifier::head_seq(const crdt::SiteId& origin) const {
  auto it = chains_.find(origin);
  return it == chains_.end() ? 0 : it->second.head_seq;
}

size_t ChainVerifier::pending_count(const crdt::SiteId& origin) const {
  auto it = chains_.find(origin);
  return it == chains_.end() ? 0 : it->second.pending.size();
}

size_t ChainVerifier::pending_total() const {
  size_t total = 0;
  for (const auto& [origin, chain] : chains_) total += chain.pending.size();
  return total;
}

Result<std::vector<VerifiedEvent>> ChainVerifier::Accept(std::string_view envelope, Check check) {
  BATON_ASSIGN_OR_RETURN(crdt::EnvelopeView signed_event, crdt::DecodeEnvelopeView(envelope));
  BATON_ASSIGN_OR_RETURN(crdt::Event event, crdt::DecodeEvent(signed_event.payload));
  const std::string id = event.id().ToString();
  if (event.runbook_id != runbook_id_) {
    return Status::Rejected("event " + id + " belongs to runbook \"" + event.runbook_id +
                            "\", not \"" + runbook_id_ + "\"");
  }
  const std::optional<std::string> key = public_key_of_(event.origin);
  if (!key) {
    return Status::Rejected("event " + id + ": origin \"" + event.origin +
                            "\" is not in the roster");
  }
  if (key->size() != kPublicKeySize) {
    return Status::Rejected("event " + id + ": the roster key of \"" + event.origin + "\" has " +
                            std::to_string(key->size()) + " bytes, not " +
                            std::to_string(kPublicKeySize));
  }
  if (event.seq == 0) return Status::Rejected("event " + id + ": seq starts at 1");

  OriginChain& chain = chains_[event.origin];
  if (event.seq <= chain.head_seq) {
    return Status::InvalidArgument(std::string(kDuplicatePrefix) + id +
                                   " is at or below the stored head " +
                                   Id(event.origin, chain.head_seq));
  }
  const crdt::Hash hash = HashPayload(signed_event.payload);
  const uint64_t tip_seq = chain.head_seq + chain.pending.size();
  if (event.seq <= tip_seq) {
    const VerifiedEvent& held = chain.pending[event.seq - chain.head_seq - 1];
    if (held.hash == hash) {
      return Status::InvalidArgument(std::string(kDuplicatePrefix) + id +
                                     " is already held pending a signature");
    }
    const size_t dropped = Drop(event.origin, chain);
    return Status::Rejected("conflict: " + id + " differs from the " + id +
                            " held pending a signature; " + std::to_string(dropped) +
                            " held events dropped");
  }
  if (event.seq > tip_seq + 1) {
    return Status::Rejected("gap: expected " + Id(event.origin, tip_seq + 1) + ", got " + id);
  }
  const crdt::Hash& tip_hash = chain.pending.empty() ? chain.head_hash : chain.pending.back().hash;
  if (event.prev_hash != tip_hash) {
    const size_t dropped = Drop(event.origin, chain);
    return Status::Rejected("chain break at " + id + ": prev_hash " + ShortHash(event.prev_hash) +
                            "... is not the hash of " + Id(event.origin, tip_seq) + " (" +
                            ShortHash(tip_hash) + "...); " + std::to_string(dropped) +
                            " unsigned events dropped");
  }

  VerifiedEvent verified{std::move(event), hash, std::string(envelope)};
  if (signed_event.signature.empty()) {
    const size_t unsigned_run =
        chain.pending.size() - (chain.unchecked.empty() ? 0 : chain.unchecked.back() + 1);
    if (unsigned_run + 1 >= kSignEvery) {
      Drop(event.origin, chain);
      return Status::Rejected("event " + id + ": more than " + std::to_string(kSignEvery - 1) +
                              " unsigned events in a row; unsigned run dropped");
    }
    chain.pending.push_back(std::move(verified));
    return std::vector<VerifiedEvent>{};
  }
  if (check == Check::kAtSettle) {
    chain.unchecked.push_back(chain.pending.size());
    chain.pending.push_back(std::move(verified));
    return std::vector<VerifiedEvent>{};
  }
  // One Ed25519 verification for the whole run: the chain links every held event to this one.
  if (!Verify(signed_event.payload, signed_event.signature, *key)) {
    const size_t dropped = Drop(event.origin, chain);
    return Status::Rejected("bad signature on " + id + "; " + std::to_string(dropped) +
                            " unsigned events before it dropped");
  }
  std::vector<VerifiedEvent> run = std::move(chain.pending);
  chain.pending.clear();
  chain.unchecked.clear();
  run.push_back(std::move(verified));
  chain.head_seq = run.back().event.seq;
  chain.head_hash = run.back().hash;
  return run;
}

void ChainVerifier::SettleChain(const crdt::SiteId& origin, OriginChain& chain) {
  if (chain.unchecked.empty()) return;
  const std::optional<std::string> key = public_key_of_(origin);
  // The last valid signature vouches for everything before it: one check when all is well.
  std::optional<size_t> good;
  std::string bad;  // The latest signed event whose signature failed.
  for (auto it = chain.unchecked.rbegin(); it != chain.unchecked.rend(); ++it) {
    const VerifiedEvent& held = chain.pending[*it];
    Result<crdt::EnvelopeView> signed_event = crdt::DecodeEnvelopeView(held.envelope);
    BATON_CHECK(signed_event.ok());  // Accept decoded it.
    if (key && Verify(signed_event->payload, signed_event->signature, *key)) {
      good = *it;
      break;
    }
    if (bad.empty()) bad = held.event.id().ToString();
  }
  chain.unchecked.clear();
  const size_t released = good ? *good + 1 : 0;
  if (!bad.empty()) {
    const size_t dropped = chain.pending.size() - released;
    settled_.rejected.emplace_back(
        origin, Status::Rejected("bad signature on " + bad + "; " + std::to_string(dropped) +
                                 " events after the last valid signature dropped"));
    chain.pending.resize(released);
  }
  if (released == 0) return;
  chain.head_seq = chain.pending[released - 1].event.seq;
  chain.head_hash = chain.pending[released - 1].hash;
  std::move(chain.pending.begin(), chain.pending.begin() + static_cast<std::ptrdiff_t>(released),
            std::back_inserter(settled_.events));
  chain.pending.erase(chain.pending.begin(),
                      chain.pending.begin() + static_cast<std::ptrdiff_t>(released));
}

size_t ChainVerifier::Drop(const crdt::SiteId& origin, OriginChain& chain) {
  SettleChain(origin, chain);
  const size_t dropped = chain.pending.size();
  chain.pending.clear();
  return dropped;
}

ChainVerifier::Settled ChainVerifier::Settle() {
  for (auto& [origin, chain] : chains_) SettleChain(origin, chain);
  Settled out = std::move(settled_);
  settled_ = Settled{};
  return out;
}

bool IsDuplicate(const Status& status) {
  return status.code() == StatusCode::kInvalidArgument &&
         status.message().compare(0, kDuplicatePrefix.size(), kDuplicatePrefix) == 0;
}

// ---- Audit ----------------------------------------------------------------------------------

const char* ChainProblemKindName(ChainProblemKind kind) {
  switch (kind) {
    case ChainProblemKind::kUndecodable:
      return "undecodable";
    case ChainProblemKind::kWrongOrigin:
      return "wrong_origin";
    case ChainProblemKind::kGap:
      return "gap";
    case ChainProblemKind::kReorder:
      return "reorder";
    case ChainProblemKind::kTruncated:
      return "truncated";
    case ChainProblemKind::kFork:
      return "fork";
    case ChainProblemKind::kBadSignature:
      return "bad_signature";
    case ChainProblemKind::kBrokenChain:
      return "broken_chain";
  }
  return "unknown";
}

bool ChainReport::Has(ChainProblemKind kind) const {
  return std::any_of(problems.begin(), problems.end(),
                     [kind](const ChainProblem& p) { return p.kind == kind; });
}

ChainReport AuditChain(const crdt::SiteId& origin,
                       const std::vector<crdt::SignedEvent>& in_seq_order,
                       std::string_view public_key) {
  std::vector<crdt::Event> events;
  events.reserve(in_seq_order.size());
  std::vector<ChainLink> links;
  links.reserve(in_seq_order.size());
  std::vector<ChainProblem> undecodable;
  for (size_t i = 0; i < in_seq_order.size(); ++i) {
    const crdt::SignedEvent& signed_event = in_seq_order[i];
    auto decoded = crdt::DecodeEvent(signed_event.payload);
    if (!decoded.ok()) {
      undecodable.push_back(ChainProblem{ChainProblemKind::kUndecodable, crdt::EventId{origin, 0},
                                         "entry " + std::to_string(i) + " of " + origin +
                                             "'s log: " + decoded.status().message()});
      continue;
    }
    events.push_back(std::move(decoded).value());
    links.push_back(ChainLink{nullptr, HashPayload(signed_event.payload), signed_event.payload,
                              signed_event.signature});
  }
  for (size_t i = 0; i < links.size(); ++i) links[i].event = &events[i];
  ChainReport report = AuditLinks(origin, links, public_key);
  report.problems.insert(report.problems.begin(), std::make_move_iterator(undecodable.begin()),
                         std::make_move_iterator(undecodable.end()));
  return report;
}

ChainReport AuditLinks(const crdt::SiteId& origin, const std::vector<ChainLink>& in_log_order,
                       std::string_view public_key) {
  ChainReport report;
  report.origin = origin;
  const auto problem = [&](ChainProblemKind kind, uint64_t seq, std::string message) {
    report.problems.push_back(ChainProblem{kind, crdt::EventId{origin, seq}, std::move(message)});
  };
  const auto range = [&](uint64_t from, uint64_t to) {
    return from == to ? Id(origin, from) : Id(origin, from) + ".." + Id(origin, to);
  };

  // Pass 1, in log order: origin, order and signatures. Names are built only for a problem: this
  // runs once per event of a log of millions.
  struct Node {
    const ChainLink* link;
    bool signed_valid;
  };
  std::vector<Node> nodes;
  nodes.reserve(in_log_order.size());
  uint64_t previous_seq = 0;
  bool sorted = true;
  for (const ChainLink& link : in_log_order) {
    const crdt::Event& event = *link.event;
    if (event.origin != origin) {
      problem(ChainProblemKind::kWrongOrigin, event.seq,
              "event " + event.id().ToString() + " is in the chain of \"" + origin + "\"");
      continue;
    }
    if (event.seq < previous_seq) {
      sorted = false;
      problem(ChainProblemKind::kReorder, event.seq,
              "reorder: " + event.id().ToString() + " comes after " + Id(origin, previous_seq) +
                  " in the log");
    }
    previous_seq = event.seq;
    bool signed_valid = false;
    if (!link.signature.empty()) {
      signed_valid = Verify(link.payload, link.signature, public_key);
      if (!signed_valid) {
        problem(ChainProblemKind::kBadSignature, event.seq,
                "bad signature on " + event.id().ToString());
      }
    }
    nodes.push_back(Node{&link, signed_valid});
  }
  // By seq, each seq's events in log order.
  if (!sorted) {
    std::stable_sort(nodes.begin(), nodes.end(), [](const Node& a, const Node& b) {
      return a.link->event->seq < b.link->event->seq;
    });
  }
  // The distinct events of each seq, the first first: the same event twice is no new evidence
  // (a valid signature on either copy counts); two different ones are a fork.
  struct Seq {
    uint64_t seq;
    size_t begin, end;  // In `distinct`.
  };
  std::vector<Node> distinct;
  distinct.reserve(nodes.size());
  std::vector<Seq> seqs;
  for (size_t i = 0; i < nodes.size();) {
    const uint64_t seq = nodes[i].link->event->seq;
    const size_t begin = distinct.size();
    for (; i < nodes.size() && nodes[i].link->event->seq == seq; ++i) {
      const Node& node = nodes[i];
      auto known =
          std::find_if(distinct.begin() + static_cast<std::ptrdiff_t>(begin), distinct.end(),
                       [&](const Node& d) { return d.link->hash == node.link->hash; });
      if (known != distinct.end()) {
        known->signed_valid = known->signed_valid || node.signed_valid;
        continue;
      }
      if (distinct.size() > begin) {
        problem(ChainProblemKind::kFork, seq,
                "fork: two different events claim " + Id(origin, seq) + " (hashes " +
                    ShortHash(distinct[begin].link->hash) + "... and " +
                    ShortHash(node.link->hash) + "...)");
      }
      distinct.push_back(node);
      ++report.events;
    }
    seqs.push_back(Seq{seq, begin, distinct.size()});
  }

  // Pass 2, in seq order: gaps, links, and which events a valid signature covers. A segment is a
  // run of contiguous, linked events; a valid signature covers its segment up to itself.
  static const crdt::Hash kZero{};
  uint64_t expected = 1;
  const crdt::Hash* prev_hash = nullptr;  // Hash of the followed event at expected - 1.
  uint64_t segment_start = 0;             // 0: no segment yet.
  bool segment_from_genesis = false;      // Starts at seq 1 with zeros as prev_hash.
  uint64_t covered_through = 0;           // segment_start - 1 while nothing is covered.
  const auto close_segment = [&](uint64_t last) {
    if (segment_start == 0) return;
    if (covered_through < last) {
      problem(ChainProblemKind::kTruncated, covered_through + 1,
              "truncated: " + range(covered_through + 1, last) +
                  " not covered by a valid signature" +
                  (covered_through >= segment_start
                       ? " (last valid signature on " + Id(origin, covered_through) + ")"
                       : ""));
    }
    if (segment_from_genesis) report.verified_through = covered_through;
  };
  for (const Seq& at : seqs) {
    const uint64_t seq = at.seq;
    if (seq == 0) {
      problem(ChainProblemKind::kBrokenChain, 0, "event " + Id(origin, 0) + ": seq starts at 1");
      continue;
    }
    bool new_segment = segment_start == 0;
    if (seq != expected) {
      close_segment(expected - 1);
      if (expected == 1) {
        problem(ChainProblemKind::kTruncated, 1,
                "truncated: the chain starts at " + Id(origin, seq) + ", " + range(1, seq - 1) +
                    " missing");
      } else {
        problem(ChainProblemKind::kGap, expected, "gap: " + range(expected, seq - 1) + " missing");
      }
      prev_hash = nullptr;
      new_segment = true;
    }
    const crdt::Hash* want = seq == 1 ? &kZero : prev_hash;  // nullptr after a gap.
    // With a fork, follow the event that links to the chain so far.
    const Node* followed = &distinct[at.begin];
    bool linked = true;
    if (want != nullptr) {
      for (size_t i = at.begin; i < at.end; ++i) {
        if (distinct[i].link->event->prev_hash == *want) {
          followed = &distinct[i];
          break;
        }
      }
      const crdt::Hash& prev = followed->link->event->prev_hash;
      if (prev != *want) {
        linked = false;
        problem(ChainProblemKind::kBrokenChain, seq,
                "broken chain at " + Id(origin, seq) + ": prev_hash " + ShortHash(prev) +
                    "... is not " +
                    (seq == 1 ? std::string("zeros")
                              : "the hash of " + Id(origin, seq - 1) + " (" + ShortHash(*want) +
                                    "...)"));
        if (!new_segment) close_segment(seq - 1);
        new_segment = true;
      }
    }
    if (new_segment) {
      segment_start = seq;
      segment_from_genesis = seq == 1 && linked;
      covered_through = seq - 1;
    }
    if (followed->signed_valid) covered_through = seq;
    prev_hash = &followed->link->hash;
    expected = seq + 1;
  }
  close_segment(expected - 1);
  std::stable_sort(
      report.problems.begin(), report.problems.end(),
      [](const ChainProblem& a, const ChainProblem& b) { return a.id.seq < b.id.seq; });
  return report;
}

}  // namespace baton::identity
