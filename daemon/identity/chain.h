// Per-origin hash chains: building the local site's events (ChainWriter), verifying received
// events of any origin before they are stored (ChainVerifier), and auditing a stored chain
// (AuditChain). Each event carries the BLAKE2b-256 of its origin's previous payload, so an
// Ed25519 signature on event N vouches for 1..N: a writer signs only the last event of each batch
// and a verifier checks one signature per batch. Rules: docs/event-format.md#chains.
// Not thread-safe: each object belongs to one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/event.h"
#include "crdt/event_codec.h"
#include "crdt/status.h"
#include "daemon/identity/keys.h"

namespace baton::identity {

// A writer signs at least every kSignEvery-th event, so a verifier never needs to hold more than
// kSignEvery - 1 unsigned events of one origin; it rejects a longer unsigned run.
inline constexpr size_t kSignEvery = 1024;

// An event whose chain and signature are verified (or that the local writer just built).
struct VerifiedEvent {
  crdt::Event event;
  crdt::Hash hash;       // HashPayload(payload): the next event's prev_hash.
  std::string envelope;  // EncodeEnvelope bytes: exactly what is stored and replicated.
};

// Builds the local site's events on top of its stored chain head.
class ChainWriter {
 public:
  // `head_seq`/`head_hash`: the origin's last stored event (0 and zeros for an empty chain).
  ChainWriter(KeyPair keys, std::string runbook_id, crdt::SiteId origin, uint64_t head_seq,
              crdt::Hash head_hash);

  // Whether Build signs the last event it builds (kLast), or leaves it for SignLast (kLater: the
  // caller builds a batch in several calls and signs it once, when it commits).
  enum class Signing { kLast, kLater };

  // Completes `drafts` (which carry hlc, actor and body) with origin, runbook id, contiguous seqs
  // and prev_hash links, encodes them, and signs every kSignEvery-th and, with Signing::kLast, the
  // last one, then advances the head past them. Empty in, empty out.
  std::vector<VerifiedEvent> Build(std::vector<crdt::Event> drafts,
                                   Signing signing = Signing::kLast);

  // Signs `built` (an event this writer built, unsigned) in place: its envelope gains the
  // signature. The hash does not change (it covers the payload only).
  void SignLast(VerifiedEvent& built) const;

  // Moves the head, e.g. back to the stored head after an append that failed.
  void SetHead(uint64_t seq, const crdt::Hash& hash);

  uint64_t head_seq() const { return head_seq_; }
  const crdt::Hash& head_hash() const { return head_hash_; }
  const crdt::SiteId& origin() const { return origin_; }

 private:
  KeyPair keys_;
  std::string runbook_id_;
  crdt::SiteId origin_;
  uint64_t head_seq_;
  crdt::Hash head_hash_;
};

// Roster lookup: the raw Ed25519 public key of a site, or nullopt if it is not in the roster.
using PublicKeyLookup = std::function<std::optional<std::string>(const crdt::SiteId&)>;

// Verifies received envelopes, per origin in seq order, against what is already stored.
class ChainVerifier {
 public:
  ChainVerifier(std::string runbook_id, PublicKeyLookup public_key_of);

  // What is stored for `origin`: its last seq and that event's hash. Drops any unsigned events
  // of `origin` held pending. Origins never set start at 0 / zeros.
  void SetHead(const crdt::SiteId& origin, uint64_t seq, const crdt::Hash& hash);

  // When Accept checks a signature: at once (kNow), or at the next Settle (kAtSettle), so that a
  // received batch costs one verification per origin however many of its events are signed.
  enum class Check { kNow, kAtSettle };

  // Takes one envelope. Returns:
  // - the run of events that a valid signature now vouches for (the held unsigned events and this
  //   signed one, in seq order), advancing the origin's head past them: store them;
  // - an empty vector for an unsigned event held until its signed successor arrives;
  // - a duplicate (IsDuplicate(status)) when the seq is at or below the head or already held:
  //   if at or below the stored head, compare HashPayload(payload) with the stored event's hash;
  //   a difference is a fork (keep it as evidence, never overwrite);
  // - kCorruption for undecodable bytes;
  // - kRejected naming the event for: another runbook, an origin not in the roster, seq 0, a gap
  //   ("gap: expected hq/8, got hq/10"), a chain break, a bad signature, an unsigned event that
  //   conflicts with a held one, or an unsigned run longer than kSignEvery - 1. A chain break,
  //   bad signature or conflict also drops the origin's held unsigned events.
  // With kAtSettle a signed event is held like an unsigned one (it does not count against the
  // unsigned run) and its signature is checked by Settle; a later rejection of its origin settles
  // what is held first, so an appended bad event never costs the good ones before it.
  Result<std::vector<VerifiedEvent>> Accept(std::string_view envelope, Check check = Check::kNow);

  // What Settle released and rejected.
  struct Settled {
    std::vector<VerifiedEvent> events;                      // Per origin in seq order: store them.
    std::vector<std::pair<crdt::SiteId, Status>> rejected;  // One per bad signature found.
  };

  // Checks the held signed events of every origin, the last one first: a valid signature releases
  // every held event up to it (the chain links them); a bad one is rejected and the search goes
  // on backwards, dropping what follows the last valid signature. Unsigned events after the last
  // signed one stay held. Also returns what an Accept settled early since the last call.
  Settled Settle();

  uint64_t head_seq(const crdt::SiteId& origin) const;
  size_t pending_count(const crdt::SiteId& origin) const;
  size_t pending_total() const;  // Over every origin.

 private:
  struct OriginChain {
    uint64_t head_seq = 0;
    crdt::Hash head_hash{};
    std::vector<VerifiedEvent> pending;  // Contiguous after head, linked, no signature checked.
    std::vector<size_t> unchecked;       // Indexes in `pending` of signed events (kAtSettle).
  };

  // Settles one origin's held signed events into settled_ (see Settle).
  void SettleChain(const crdt::SiteId& origin, OriginChain& chain);
  // Drops what is held for the origin (after settling it); returns how many were dropped.
  size_t Drop(const crdt::SiteId& origin, OriginChain& chain);

  std::string runbook_id_;
  PublicKeyLookup public_key_of_;
  std::map<crdt::SiteId, OriginChain> chains_;
  Settled settled_;
};

// True for ChainVerifier::Accept's "not new" answer.
bool IsDuplicate(const Status& status);

// ---- Audit ----------------------------------------------------------------------------------

enum class ChainProblemKind {
  kUndecodable,   // The envelope or payload does not decode.
  kWrongOrigin,   // An event of another origin in this origin's chain.
  kGap,           // Seqs missing in the middle of the chain.
  kReorder,       // A seq lower than the one before it in the log.
  kTruncated,     // The chain does not start at 1, or ends in events no valid signature covers.
  kFork,          // Two different payloads with the same origin and seq.
  kBadSignature,  // A signature that does not verify with the origin's key.
  kBrokenChain,   // prev_hash is not the hash of the previous event (or not zeros at seq 1).
};

// "gap", "reorder", "truncated", "fork", "bad_signature", "broken_chain", ...
const char* ChainProblemKindName(ChainProblemKind kind);

struct ChainProblem {
  ChainProblemKind kind;
  crdt::EventId id;     // The first event concerned (seq 0 if unknown).
  std::string message;  // Names the events: "gap: hq/4..hq/6 missing".
};

struct ChainReport {
  crdt::SiteId origin;
  uint64_t events = 0;            // Distinct well-formed events of this origin examined.
  uint64_t verified_through = 0;  // 1..N are linked from seq 1 and covered by a valid signature.
  std::vector<ChainProblem> problems;  // In seq order.

  bool ok() const { return problems.empty(); }
  bool Has(ChainProblemKind kind) const;
};

// Audits everything a log holds for `origin`, in the log's order (normally ascending seq; fork
// evidence may add a second event at a seq). Every problem is reported; nothing stops early.
ChainReport AuditChain(const crdt::SiteId& origin,
                       const std::vector<crdt::SignedEvent>& in_seq_order,
                       std::string_view public_key);

// One event of a chain that the caller has already decoded and hashed (an auditor that checks
// millions of events decodes and hashes each once). The pointed-to data outlives the audit.
struct ChainLink {
  const crdt::Event* event = nullptr;  // The decoded payload.
  crdt::Hash hash{};                   // HashPayload(payload).
  std::string_view payload;            // What the signature covers.
  std::string_view signature;          // Empty: unsigned.
};

// AuditChain on decoded events: the same rules and problems (none kUndecodable).
ChainReport AuditLinks(const crdt::SiteId& origin, const std::vector<ChainLink>& in_log_order,
                       std::string_view public_key);

}  // namespace baton::identity
