// One link's conversation with one peer, as a pure state machine: no sockets, no clock reads, no
// store. The replicator feeds it decoded messages, ticks and local changes, and carries out the
// actions it returns. Both ends of a link run one. Grammar and states: docs/replication.md.
//
//   HELLO(vv) -> HELLO(vv, reply)   then, both ways:   EVENTS -> HAVE(acked)  |  HAVE
//
// Sending: the session keeps, per origin, how far it has sent (`sent_`) on top of what the peer
// has said it holds (`theirs_`), and asks for the next range the peer lacks while fewer than
// `window` Events messages are unanswered (credit-based flow control). Unanswered batches past
// `retry_ms`, or sent events the peer did not take (it could not verify them yet), are sent
// again from the peer's vector. A peer vector that goes backwards (restored from an old copy)
// resets the send position to it. A peer silent for `dead_ms` is treated as disconnected: the
// dialling end says Hello again every `hello_ms` until it answers; either end says Hello when
// the peer talks to it while it is connecting (it restarted, or timed out alone). A batch is
// led by a Have when our vector changed since we last told it, so the peer never echoes back
// what it sent us for want of a fresh vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "crdt/version_vector.h"
#include "daemon/replication/peer_messages.h"

namespace baton::daemon::replication {

enum class PeerState {
  kConnecting,  // No Hello answered yet (or the peer went silent): saying Hello every hello_ms.
  kSyncing,     // Talking; one side still lacks events the other holds.
  kLive,        // Talking; neither lacks anything the other announced.
  kRefused,     // The peer holds another runbook: nothing is exchanged.
};
const char* PeerStateName(PeerState state);  // "connecting", "syncing", "live", "refused".

struct SessionOptions {
  crdt::SiteId self;    // Our roster id, put in our Hello.
  bool dialer = false;  // True on the end that connects (DEALER): it speaks first.
  size_t window = 4;    // Events messages in flight without an answer.
  size_t batch_events = kMaxBatchEvents;  // Most events asked for in one SendRange.
  int64_t heartbeat_ms = 1000;            // Have every this often while talking.
  int64_t hello_ms = 1000;                // Hello again this often while connecting.
  int64_t retry_ms = 3000;                // Resend what is unanswered or not taken after this long.
  int64_t dead_ms = 5000;                 // Silent this long: back to connecting.
};

// Send this message to the peer.
struct SendMessage {
  PeerMessage message;
};
// Read these events from the store (per origin, seq first..last, contiguous, in order) and send
// them as one Events message. The replicator may cut the range short at kMaxBatchBytes; the
// events left out are sent again later (the peer's vector will not cover them).
struct SendRange {
  std::vector<crdt::SeqRange> ranges;
};
// Verify and store these envelopes (the peer's Events), then call OnDelivered.
struct Deliver {
  std::vector<std::string> envelopes;
};
// The peer's Hello names another runbook, or is otherwise unacceptable: log it.
struct Refuse {
  std::string reason;
};
using Action = std::variant<SendMessage, SendRange, Deliver, Refuse>;

// Not thread-safe: one owner (the replicator's loop thread) calls everything. Every call returns
// the actions to carry out, in order. A refused session takes nothing but a Hello that names our
// runbook (or none); Refuse is returned once per refusal, not for every repeated Hello.
class PeerSession {
 public:
  // BATON_CHECKs window >= 1 and 1 <= batch_events <= kMaxBatchEvents (config validates them).
  explicit PeerSession(SessionOptions options);

  // The link is (re)established (the dialer calls it at start; both may call it after the
  // transport reconnects). `ours`: what we hold now; `runbook`: ours, empty if none yet.
  std::vector<Action> OnConnected(const crdt::VersionVector& ours, const std::string& runbook,
                                  int64_t now_ms);
  // A decoded message from the peer. Events give a Deliver (call OnDelivered once it is
  // handled); a Have returns credit and may give SendRange; a non-Hello while kConnecting also
  // gives our Hello (at most every hello_ms), so a restarted end rejoins without waiting for
  // dead_ms on the other.
  std::vector<Action> OnMessage(const PeerMessage& m, const crdt::VersionVector& ours,
                                const std::string& runbook, int64_t now_ms);
  // The envelopes of the last Deliver were handled (stored, held or rejected): acknowledges
  // them with our vector after it (one unit of credit back to the peer).
  std::vector<Action> OnDelivered(const crdt::VersionVector& ours, int64_t now_ms);
  // We hold new events (local reports or events from another peer): send what the peer lacks.
  std::vector<Action> OnLocalChange(const crdt::VersionVector& ours, int64_t now_ms);
  // Timers: heartbeat, hello, retry, dead peer. Call at least every 100 ms.
  std::vector<Action> OnTick(const crdt::VersionVector& ours, const std::string& runbook,
                             int64_t now_ms);

  // The replicator sent `origin`'s events of the last SendRange only through `last_sent` (it
  // cut the range at kMaxBatchBytes, or could not read on): sending resumes after it as soon as
  // credit allows, instead of after retry_ms. Later ranges of that origin already handed out
  // start past sent().Seen(origin) + 1 and must be left out (they would leave a gap).
  void OnRangeCut(const crdt::SiteId& origin, uint64_t last_sent);

  PeerState state() const { return state_; }
  const crdt::VersionVector& sent() const { return sent_; }      // Highest seq sent, per origin.
  const crdt::VersionVector& theirs() const { return theirs_; }  // Last vector announced.
  const SessionOptions& options() const { return options_; }
  bool heard() const { return last_heard_ms_ >= 0; }
  int64_t last_heard_ms() const { return last_heard_ms_; }  // -1: never.
  int64_t skew_ms() const { return skew_ms_; }  // Their wall clock minus ours, last message.
  size_t in_flight() const { return in_flight_; }
  const std::string& peer_runbook() const { return peer_runbook_; }
  uint64_t batches_sent() const { return batches_sent_; }
  uint64_t resends() const { return resends_; }      // Times the send position was reset.
  uint64_t backwards() const { return backwards_; }  // Times the peer's vector went back.

 private:
  // A Hello from the peer: refuse it (another runbook) or start a new conversation.
  void OnHello(const Hello& hello, const crdt::VersionVector& ours, const std::string& runbook,
               int64_t now_ms, std::vector<Action>& out);
  // Any other message while kConnecting: the peer believes in a conversation we do not have
  // (we restarted or timed out), so say Hello (either end, at most every hello_ms).
  void HelloIfTalkedToWhileConnecting(const crdt::VersionVector& ours, const std::string& runbook,
                                      int64_t now_ms, std::vector<Action>& out);
  // Appends SendRange actions while credit lasts and the peer lacks something, led by a Have
  // if our vector changed since we last told it (so the peer does not echo back what it is
  // about to get from us).
  void Pump(const crdt::VersionVector& ours, int64_t now_ms, std::vector<Action>& out);
  // Our vector as a Have (heartbeat or ack).
  SendMessage MakeHave(const crdt::VersionVector& ours, int64_t now_ms, bool acked);
  SendMessage MakeHello(const crdt::VersionVector& ours, const std::string& runbook, int64_t now_ms,
                        bool reply);
  // Takes a vector the peer announced (ignored if `counter` is stale); resets the send
  // position if it went backwards. True if it shows the peer took some of what we sent.
  bool Learn(const crdt::VersionVector& vv, uint64_t counter);
  void UpdateState(const crdt::VersionVector& ours);
  void RestartSending();  // Nothing in flight; send again from theirs_.
  bool HelloDue(int64_t now_ms) const;
  bool SentAhead() const;  // Sent something the peer has not (yet) said it holds.
  bool talking() const { return state_ == PeerState::kSyncing || state_ == PeerState::kLive; }

  SessionOptions options_;
  PeerState state_ = PeerState::kConnecting;
  crdt::VersionVector theirs_;  // What the peer last said it holds.
  crdt::VersionVector sent_;    // Per origin, the highest seq we sent on this conversation.
  size_t in_flight_ = 0;        // Events messages not yet answered.
  uint64_t counter_ = 0;        // Our outgoing Hello/Have counter.
  uint64_t their_counter_ = 0;  // Highest counter seen from the peer.
  int64_t last_heard_ms_ = -1;
  int64_t last_sent_status_ms_ = -1;
  crdt::VersionVector told_;  // Our vector in our last Hello or Have.
  int64_t last_hello_ms_ = -1;
  // Last Hello, or Have showing the peer took what we sent, or first send with nothing in
  // flight: retries count from here.
  int64_t last_answer_ms_ = 0;
  int64_t skew_ms_ = 0;
  std::string peer_runbook_;
  uint64_t batches_sent_ = 0, resends_ = 0, backwards_ = 0;
};

}  // namespace baton::daemon::replication
