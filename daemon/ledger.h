// The site's ledger: the durable event log (baton::store), the chain writer that signs this
// site's events, the hybrid logical clock, and the projection folded from the log.
// Owned by the daemon's loop thread; not thread-safe (its commit thread only writes the store).
// Invariant: the projection reflects exactly the events in the store, plus the pending ones:
// staged (Stage) or received (Ingest) and not yet committed, or in a group being committed
// (Submit). A failed commit is undone (Rollback); if that fails too the caller must stop (the
// log is the truth and the next start rebuilds from it). See docs/operations.md#durability.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crdt/event.h"
#include "crdt/hlc.h"
#include "crdt/projection.h"
#include "crdt/status.h"
#include "daemon/config.h"
#include "daemon/identity/chain.h"
#include "daemon/identity/keys.h"
#include "daemon/store/event_store.h"

namespace baton::daemon {

// Milliseconds since the Unix epoch; injected so tests control time.
using WallClock = std::function<int64_t()>;
int64_t SystemWallClock();
// kUnavailable naming the time unless `wall_ms` lies in the years 2000 to 2099, the times baton
// records (crdt::kMinTimeMs, kMaxTimeMs).
Status CheckWallClock(int64_t wall_ms);

// The largest envelope Stage accepts (a plan of tens of thousands of tasks fits): every event
// must fit alone in one peer batch (replication::kMaxBatchBytes, checked where both are known).
inline constexpr size_t kMaxEventBytes = size_t{4} << 20;
// The most received events in one commit group (Ledger::Submit); the rest wait for the next.
inline constexpr size_t kMaxGroupReceived = 2048;
// A projection snapshot is written after config.snapshot_every events, or after 1/kSnapshotShare
// of the events held if that is more.
inline constexpr uint64_t kSnapshotShare = 2;

// A locally authored event before it has a seq, hlc and chain position.
struct Draft {
  std::string actor;
  crdt::Body body;
};

// What Ledger::Ingest did with a batch of envelopes from a peer.
struct IngestResult {
  uint64_t stored = 0;      // New events, verified, folded and queued for the next commit.
  uint64_t duplicates = 0;  // Already held: dropped silently.
  uint64_t held = 0;        // Unsigned events held (after the batch) until the signed one that
                            // vouches for them arrives.
  uint64_t waiting = 0;     // Not taken yet (no plan yet, origin not yet on the roster, a gap):
                            // the peer sends them again.
  uint64_t forks = 0;       // Differ from the stored event with the same id: kept as evidence.
  uint64_t rejected = 0;    // Failed verification: bad signature, broken chain, other runbook.
  bool own_events = false;  // Some were this site's own (its log lost them: restored copy).
  std::vector<std::string> problems;  // One line per fork or rejection (at most 16).
  std::vector<std::pair<crdt::SiteId, int64_t>> quarantined;  // Origins too far ahead, skew ms.
};

// A stored event decoded, with its payload's hash recomputed.
struct StoredPayload {
  crdt::Event event;
  crdt::Hash payload_hash{};
};
// An envelope's event and its payload's hash; the decoder's error if it does not decode.
Result<StoredPayload> DecodePayload(std::string_view envelope);
// kCorruption (or the decoder's error) unless `stored`'s envelope decodes to the event it is
// stored under (id and prev_hash); the caller compares payload_hash with what it trusts.
Result<StoredPayload> DecodeStored(const store::StoredEvent& stored);

class Ledger {
 public:
  // Opens the store under config.StorePath() (created by `batond init`), loads the identity,
  // restores the clock (past this site's newest event, and past other origins' newest ones
  // unless beyond the skew bound), and loads the projection: from the snapshot plus later
  // arrivals, or by folding the whole log when the snapshot is missing, does not decode, or does
  // not fit the log (the result must hold exactly the stored events).
  static Result<std::unique_ptr<Ledger>> Open(const Config& config, WallClock clock,
                                              bool read_only = false);
  ~Ledger();  // Waits for the group in flight (its outcome is not reaped).

  // `batond repair`: EventStore::RebuildIndex with every hash recomputed from the payloads.
  static Result<store::IndexRebuild> Repair(const Config& config);

  // Creates a new data directory's store and identity (for `batond init`). Refuses to touch an
  // existing identity or store.
  static Status Create(const Config& config);

  // For a site whose log is lost or damaged: moves the log aside (kept, never deleted: it may be
  // evidence) to a sibling named after the time, creates an empty one, and leaves the rebuild
  // marker (Config::RebuildMarkerPath) so that `batond run` takes every event, this site's own
  // too, from its peers before it records a new one (docs/operations.md#rebuilding-a-site).
  // Needs the site's identity and at least one `peer` line; refuses while batond runs on the
  // directory. Returns where the old log went (empty if there was none).
  static Result<std::filesystem::path> SetAsideForRebuild(const Config& config);

  // Assigns hlc, seq and chain position to `draft`, applies it to the projection and queues it
  // for the next commit. Fails (changing nothing) if no runbook is bound yet and the draft is
  // not a plan definition, if its envelope is over kMaxEventBytes, or if the projection refuses
  // it.
  Result<crdt::EventId> Stage(Draft draft);
  // Writes every pending event in one synced batch, after the group in flight if there is one,
  // and waits for it. Only after this returns OK may the events be acknowledged. On failure
  // every pending event is undone (Rollback) and the ledger goes on from what is stored,
  // unless that fails too (broken()).
  Status Commit();
  // Events of any origin received from a peer: each is verified (runbook, origin on the roster
  // or the trust anchor, signature, hash chain, seq), the new ones folded, their clocks merged
  // (unless implausibly far ahead) and queued for the next commit with the staged ones (with
  // their heads, in one synced batch). Nothing unverified is stored; duplicates are dropped; a
  // different event for a stored or pending id is kept as fork evidence. An event is durable,
  // and may be acknowledged to the peer, once durable_ticket() reaches the open_ticket() read
  // after this call.
  Result<IngestResult> Ingest(const std::vector<std::string>& envelopes);

  // Group commit off the caller's thread (docs/operations.md#durability). Submit() hands every
  // pending event, staged and received, to the ledger's commit thread as one synced batch (a
  // group) and returns at once; Reap() takes the outcome when commit_fd() is readable. While a
  // group is in flight, new events are staged on top of it and form the next group. Groups are
  // numbered by tickets: anything that saw the state as of open_ticket() (a reply, an ack to a
  // peer) may be sent once durable_ticket() reaches that ticket.
  uint64_t open_ticket() const;
  uint64_t durable_ticket() const { return durable_ticket_; }
  bool committing() const { return in_flight_ticket_ != 0; }
  bool commit_done() const;  // The group in flight has finished: Reap() would take it.
  bool has_pending() const { return !staged_.empty() || !received_.empty(); }
  // False (doing nothing) while a group is in flight or nothing is pending. A group takes at
  // most kMaxGroupReceived received events, none unless `received_too` (a group of this site's
  // own events only: written fast, whatever a catch-up has pending).
  bool Submit(bool received_too = true);
  // An eventfd that is readable while a finished group waits for Reap().
  int commit_fd();
  struct Reaped {
    bool finished = false;  // A group finished (durable_ticket() moved, or it failed).
    // Its store error: every ticket above durable_ticket() through failed_through failed, and
    // the events of all of them were undone (the ledger goes on from what is stored).
    Status failure;
    uint64_t failed_through = 0;
  };
  // Takes the outcome of the group in flight if it has finished (never waits, except when a
  // projection snapshot is due with events pending: they are committed first, synchronously).
  Reaped Reap();
  // What is durably stored: the chain heads of the store as a version vector (the projection's
  // also counts the pending events). What the peers are told and sent.
  const crdt::VersionVector& durable_vector() const { return durable_vv_; }
  // The Ed25519 key of `origin` as a peer (the trust anchor's from the config, this site's own,
  // the others' from the roster in force), or nullopt while it has none: whom the transport
  // admits and dials. A removed site has none.
  std::optional<std::string> KeyOf(const crdt::SiteId& origin) const;
  // The key that verifies `origin`'s signatures: KeyOf, or for a site removed from the roster
  // the last key the roster gave it, so that its events made before the removal (and relayed
  // late) verify and are judged as of when they were made instead of waiting forever.
  std::optional<std::string> SignerKeyOf(const crdt::SiteId& origin) const;
  // Forks recorded in this log (evidence kept), and events rejected since start, per origin.
  uint64_t fork_count() const { return fork_count_; }
  const std::map<crdt::SiteId, uint64_t>& rejected_by_origin() const { return rejected_; }
  // Origins whose clock was last seen implausibly far ahead: skew in ms.
  const std::map<crdt::SiteId, int64_t>& quarantined() const { return quarantined_; }
  // How far this site's own timestamps were ahead of its clock at start (accepted with
  // Config::accept_clock_ahead); 0 normally.
  int64_t clock_ahead_ms() const { return clock_ahead_ms_; }

  // A failed Commit (kIOError from the store: a full disk) is undone: the projection and chain
  // head go back to what is stored, and the ledger goes on. Whether that undo failed too (the state
  // is then ahead of the log: stop).
  bool broken() const { return broken_; }
  // Names the projection's state: it changes with every event folded and every undone commit,
  // so a cache of anything computed from the state is keyed by it.
  struct StateVersion {
    uint64_t events = UINT64_MAX;
    uint64_t rollbacks = 0;
    friend bool operator==(const StateVersion&, const StateVersion&) = default;
  };
  StateVersion state_version() const { return {projection_.event_count(), rollbacks_}; }

  // Stage + Commit of one draft.
  Result<crdt::EventId> Append(Draft draft);
  size_t staged() const { return staged_.size(); }  // This site's events not yet submitted.

  const crdt::Projection& projection() const { return projection_; }
  const store::EventStore& store() const { return *store_; }
  const Config& config() const { return config_; }
  const std::string& public_key() const { return keys_.public_key; }
  std::string runbook_id() const { return store_->runbook_id(); }
  uint64_t last_arrival() const { return store_->LastArrival(); }
  int64_t Now() const { return clock_(); }
  // Hex BLAKE2b-256 of the projection's canonical bytes: equal event sets, equal digests.
  std::string StateDigest() const;

  // An event as served to clients (export, watch): checked against what was stored.
  struct ServedEvent {
    uint64_t arrival = 0;
    int64_t arrived_ms = 0;  // When it was committed here (0: not recorded).
    crdt::Hash hash{};       // Its payload's hash (checked against the stored one).
    crdt::Event event;
    std::string envelope;  // The stored bytes.
  };
  // The events that arrived after `cursor` (at most `max`), each checked before it is served:
  // arrivals without gaps or repeats, its payload's hash equal to the stored hash, its id and
  // prev_hash those it is stored under, and linked to the stored hash of its predecessor.
  // kCorruption naming the arrival and event otherwise: an altered log is never served.
  // At most `max` events, fewer (at least one) once their envelopes reach `max_bytes`.
  Status ReadServed(uint64_t cursor, size_t max, std::vector<ServedEvent>* out,
                    size_t max_bytes = SIZE_MAX) const;
  // The background scrub: every stored event checked as ReadServed checks it, a slice at a time,
  // pass after pass, so that damage to events nobody reads is found too.
  struct Scrub {
    // Last arrival checked in the current pass; arrivals run 1..n, so also the events checked.
    uint64_t cursor = 0;
    uint64_t passes = 0;       // Passes completed without finding damage.
    int64_t last_pass_ms = 0;  // When the last pass ended (wall clock); 0: none yet.
    uint64_t last_pass_events = 0;
    Status damage;  // The first damage found; it stops the scrub.
  };
  // Checks up to `max` events of the current pass (starting one when `now_ms` is at least
  // `interval_ms` past the last pass). A read error is returned; damage is recorded (scrub()).
  Status ScrubStep(size_t max, int64_t now_ms, int64_t interval_ms);
  const Scrub& scrub() const { return scrub_; }

  // One stored event, decoded; kNotFound if absent.
  Result<crdt::Event> EventById(const crdt::EventId& id) const;

 private:
  Ledger(Config config, WallClock clock);
  Status LoadProjection();
  // kRejected if the identity files hold another key than the one this directory was first run
  // with (recorded in the store's meta on that run) or than the roster's for this site.
  Status CheckIdentity();
  // kRejected if this site's newest event is stamped beyond max_clock_skew_ms ahead of the clock,
  // unless the operator accepted it (Config::accept_clock_ahead).
  Status CheckClockAhead(const crdt::Event& newest_own);
  Status ReplayAfter(uint64_t cursor);  // Applies the arrivals after `cursor`.
  Status MatchesTheLog() const;         // kCorruption unless the projection holds every event.
  Status FoldWholeLog();
  bool SnapshotDue() const;
  // Writes a projection snapshot if one is due and nothing is pending or in flight.
  Status MaybeSnapshot();
  // After a failed store write: the projection and the chain writer back to what is stored.
  Status Rollback();
  // The verifier for received events, created once the runbook is bound.
  void EnsureVerifier();

  Result<IngestResult> IngestOnce(const std::vector<std::string_view>& envelopes,
                                  std::vector<std::string_view>* retry);
  // Processes the finished group in flight: durable, or failed and undone.
  Reaped Complete();
  // The hash of a pending or in-flight event, to tell a fork from a duplicate before it is stored.
  std::optional<crdt::Hash> UnstoredHash(const crdt::EventId& id) const;

  // Runs EventStore::Append for one group at a time on its own thread; defined in ledger.cpp.
  class Committer;

  Config config_;
  WallClock clock_;
  identity::KeyPair keys_;
  std::unique_ptr<store::EventStore> store_;
  std::optional<identity::ChainWriter> writer_;  // Present once a runbook is bound.
  crdt::HybridClock hlc_;
  crdt::Projection projection_;
  std::vector<identity::VerifiedEvent> staged_;  // This site's pending events, in order.
  std::vector<int64_t> staged_at_;               // When each was staged (its arrival time).
  std::vector<store::StoredEvent> received_;     // Verified pending events from peers.
  size_t unsigned_staged_ = 0;                   // Staged events after the last signed one.
  // Hashes of the pending and in-flight events, by id (forks against them are found too).
  std::map<crdt::EventId, crdt::Hash> unstored_;
  std::vector<crdt::EventId> in_flight_ids_;  // The group being committed.
  uint64_t next_ticket_ = 1;                  // The ticket the pending events will commit under.
  uint64_t in_flight_ticket_ = 0;             // 0: no group in flight.
  uint64_t durable_ticket_ = 0;
  crdt::VersionVector durable_vv_;
  std::unique_ptr<Committer> committer_;             // Started with the first group.
  std::optional<identity::ChainVerifier> verifier_;  // Present once a runbook is bound.
  bool lookup_missed_ = false;  // Set by the verifier's key lookup: origin has no key yet.
  uint64_t fork_count_ = 0;
  std::map<crdt::SiteId, uint64_t> rejected_;
  std::map<crdt::SiteId, int64_t> quarantined_;
  int64_t clock_ahead_ms_ = 0;
  bool broken_ = false;
  uint64_t rollbacks_ = 0;
  Scrub scrub_;
  bool scrubbing_ = true;  // A pass is under way (the first one starts at open).
  uint64_t events_since_snapshot_ = 0;
  bool read_only_ = false;
  mutable std::string digest_;  // StateDigest() as of digest_version_.
  mutable StateVersion digest_version_;
};

}  // namespace baton::daemon
