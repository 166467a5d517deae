// PeerSession: the per-link state machine of peer_session.h. Invariants between calls: while
// talking (kSyncing / kLive), `sent_` never trails what Pump has asked the replicator to send on
// this conversation, and in_flight_ <= options_.window unless the peer answered one Events
// message twice; after any reset (Hello, reconnect, dead peer, retry) sending starts again from
// `theirs_`. No clocks, no I/O: time is always the caller's `now_ms`.
#include "daemon/replication/peer_session.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace baton::daemon::replication {
namespace {

// a - b without overflow: the peer's wall clock is untrusted input.
int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_sub_overflow(a, b, &out)) {
    return b < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return out;
}

}  // namespace

const char* PeerStateName(PeerState state) {
  switch (state) {
    case PeerState::kConnecting:
      return "connecting";
    case PeerState::kSyncing:
      return "syncing";
    case PeerState::kLive:
      return "live";
    case PeerState::kRefused:
      return "refused";
  }
  return "unknown";
}

PeerSession::PeerSession(SessionOptions options) : options_(std::move(options)) {
  BATON_CHECK(options_.window >= 1);
  BATON_CHECK(options_.batch_events >= 1 && options_.batch_events <= kMaxBatchEvents);
}

std::vector<Action> PeerSession::OnConnected(const crdt::VersionVector& ours,
                                             const std::string& runbook, int64_t now_ms) {
  std::vector<Action> out;
  state_ = PeerState::kConnecting;
  RestartSending();
  if (options_.dialer) out.push_back(MakeHello(ours, runbook, now_ms, /*reply=*/false));
  return out;
}

std::vector<Action> PeerSession::OnMessage(const PeerMessage& m, const crdt::VersionVector& ours,
                                           const std::string& runbook, int64_t now_ms) {
  std::vector<Action> out;
  last_heard_ms_ = now_ms;
  if (const auto* hello = std::get_if<Hello>(&m)) {
    OnHello(*hello, ours, runbook, now_ms, out);
  } else if (state_ == PeerState::kRefused) {
    // Nothing but a Hello naming our runbook is taken from a refused peer.
  } else if (const auto* events = std::get_if<Events>(&m)) {
    out.push_back(Deliver{events->envelopes});
    HelloIfTalkedToWhileConnecting(ours, runbook, now_ms, out);
  } else if (const auto* have = std::get_if<Have>(&m)) {
    skew_ms_ = SaturatingSub(have->wall_ms, now_ms);
    const bool fresh = have->counter > their_counter_;
    const uint64_t backwards_before = backwards_;
    // Only an answer that shows the peer took some of what we sent puts the retry off: acks of
    // batches it could not take (a gap left by a lost batch) would otherwise keep it off for as
    // long as we have more to send, all of it useless past the gap.
    if (Learn(have->vv, have->counter)) last_answer_ms_ = now_ms;
    // Credit is per Events message, whatever the counter says: a Have that is stale for its
    // vector still answers one batch (duplicates are not a ZeroMQ failure mode).
    if (have->acked && in_flight_ > 0) --in_flight_;
    // The peer holds all we sent on this conversation, so the acks of our batches were sent
    // before this Have and came first (one ordered link): a batch still counted lost its ack.
    // Without this a lost ack would shrink the window until the link fell idle for retry_ms.
    // (Events the peer had from elsewhere may still be on the way; their acks, floored at 0,
    // lend at most window - 1 extra credit for a moment.)
    if (fresh && backwards_ == backwards_before && in_flight_ > 0 && !SentAhead()) {
      in_flight_ = 0;
      last_answer_ms_ = now_ms;
    }
    HelloIfTalkedToWhileConnecting(ours, runbook, now_ms, out);
    Pump(ours, now_ms, out);
  }
  UpdateState(ours);
  return out;
}

std::vector<Action> PeerSession::OnDelivered(const crdt::VersionVector& ours, int64_t now_ms) {
  std::vector<Action> out;
  if (state_ == PeerState::kRefused) return out;
  // Acknowledged even while connecting: the peer sent it believing we talk, and the credit is
  // its to get back.
  out.push_back(MakeHave(ours, now_ms, /*acked=*/true));
  Pump(ours, now_ms, out);
  UpdateState(ours);
  return out;
}

std::vector<Action> PeerSession::OnLocalChange(const crdt::VersionVector& ours, int64_t now_ms) {
  std::vector<Action> out;
  Pump(ours, now_ms, out);
  UpdateState(ours);
  return out;
}

std::vector<Action> PeerSession::OnTick(const crdt::VersionVector& ours, const std::string& runbook,
                                        int64_t now_ms) {
  std::vector<Action> out;
  if (state_ == PeerState::kRefused) return out;
  if (talking() && now_ms - last_heard_ms_ > options_.dead_ms) {
    state_ = PeerState::kConnecting;
    RestartSending();
  }
  if (state_ == PeerState::kConnecting && options_.dialer && HelloDue(now_ms)) {
    out.push_back(MakeHello(ours, runbook, now_ms, /*reply=*/false));
  }
  if (talking() && now_ms - last_sent_status_ms_ >= options_.heartbeat_ms) {
    out.push_back(MakeHave(ours, now_ms, /*acked=*/false));
  }
  if (talking() && (in_flight_ > 0 || SentAhead()) &&
      now_ms - last_answer_ms_ >= options_.retry_ms) {
    // Unanswered (lost on the way) or not taken (the peer could not verify them yet, or the
    // replicator cut the batch short): start again from what the peer says it holds.
    ++resends_;
    RestartSending();
    last_answer_ms_ = now_ms;
  }
  Pump(ours, now_ms, out);
  UpdateState(ours);
  return out;
}

void PeerSession::OnHello(const Hello& hello, const crdt::VersionVector& ours,
                          const std::string& runbook, int64_t now_ms, std::vector<Action>& out) {
  const bool same_refusal = state_ == PeerState::kRefused && peer_runbook_ == hello.runbook_id;
  peer_runbook_ = hello.runbook_id;
  skew_ms_ = SaturatingSub(hello.wall_ms, now_ms);
  if (!runbook.empty() && !hello.runbook_id.empty() && runbook != hello.runbook_id) {
    // Reported once per refusal, not on every Hello the dialling end repeats.
    if (!same_refusal) {
      out.push_back(Refuse{"peer \"" + hello.site + "\" holds runbook \"" + hello.runbook_id +
                           "\", not ours (\"" + runbook + "\")"});
    }
    state_ = PeerState::kRefused;
    RestartSending();
    return;
  }
  // A Hello starts a new conversation: its vector and counter are taken as they are, even if
  // older than what we had (the peer may have restarted or been restored from a copy).
  theirs_ = hello.vv;
  their_counter_ = hello.counter;
  RestartSending();
  last_answer_ms_ = now_ms;
  state_ = PeerState::kSyncing;  // Or kLive: UpdateState decides.
  if (!hello.reply) out.push_back(MakeHello(ours, runbook, now_ms, /*reply=*/true));
  Pump(ours, now_ms, out);
}

void PeerSession::HelloIfTalkedToWhileConnecting(const crdt::VersionVector& ours,
                                                 const std::string& runbook, int64_t now_ms,
                                                 std::vector<Action>& out) {
  // The peer talks as if in a conversation we do not have (we restarted, or timed out while it
  // did not): a Hello resets both ends. Without it a listener whose peer keeps sending would
  // never leave kConnecting, and the peer would never declare it dead.
  if (state_ == PeerState::kConnecting && HelloDue(now_ms)) {
    out.push_back(MakeHello(ours, runbook, now_ms, /*reply=*/false));
  }
}

void PeerSession::Pump(const crdt::VersionVector& ours, int64_t now_ms, std::vector<Action>& out) {
  if (!talking()) return;
  while (in_flight_ < options_.window) {
    // ours.MissingFrom(pointwise max of theirs_ and sent_), cut to batch_events in total, without
    // building the max: this runs on every tick and message.
    SendRange send;
    uint64_t budget = options_.batch_events;
    for (const auto& [origin, seq] : ours.entries()) {
      if (budget == 0) break;
      const uint64_t base = std::max(theirs_.Seen(origin), sent_.Seen(origin));
      if (seq <= base) continue;
      const uint64_t n = std::min(seq - base, budget);
      send.ranges.push_back(crdt::SeqRange{origin, base + 1, base + n});
      budget -= n;
    }
    if (send.ranges.empty()) return;
    // The peer learns what we hold from our Hello and Have only. Events we relay may have come
    // from it, or it may have them already: without telling it our vector first, it would send
    // back every event it sent us after its last Have (its session sees only our stale vector).
    if (!(ours == told_)) out.push_back(MakeHave(ours, now_ms, /*acked=*/false));
    // Retry timing counts from the first batch sent when nothing was outstanding, not from the
    // last answer; a batch sent while earlier ones are still not taken does not put it off.
    if (in_flight_ == 0 && !SentAhead()) last_answer_ms_ = now_ms;
    for (const crdt::SeqRange& range : send.ranges) sent_.Set(range.origin, range.last);
    ++in_flight_;
    ++batches_sent_;
    out.push_back(std::move(send));
  }
}

void PeerSession::OnRangeCut(const crdt::SiteId& origin, uint64_t last_sent) {
  // Never below what the peer holds: that would resend what it took.
  const uint64_t floor = std::max(last_sent, theirs_.Seen(origin));
  if (sent_.Seen(origin) > floor) sent_.Set(origin, floor);
}

SendMessage PeerSession::MakeHave(const crdt::VersionVector& ours, int64_t now_ms, bool acked) {
  last_sent_status_ms_ = now_ms;
  told_ = ours;
  return SendMessage{Have{ours, now_ms, ++counter_, acked}};
}

SendMessage PeerSession::MakeHello(const crdt::VersionVector& ours, const std::string& runbook,
                                   int64_t now_ms, bool reply) {
  last_sent_status_ms_ = now_ms;
  last_hello_ms_ = now_ms;
  told_ = ours;
  return SendMessage{Hello{options_.self, runbook, ours, now_ms, ++counter_, reply}};
}

bool PeerSession::Learn(const crdt::VersionVector& vv, uint64_t counter) {
  if (counter <= their_counter_) return false;  // Reordered or repeated: older than we know.
  their_counter_ = counter;
  bool took = false;
  for (const auto& [origin, seq] : vv.entries()) {
    const uint64_t had = theirs_.Seen(origin);
    if (seq > had && sent_.Seen(origin) > had) took = true;
  }
  for (const auto& [origin, seq] : theirs_.entries()) {
    if (vv.Seen(origin) < seq) {
      // Restored from an old copy: what we sent since may be gone, so send from its vector.
      ++backwards_;
      sent_ = vv;
      break;
    }
  }
  theirs_ = vv;
  return took;
}

void PeerSession::UpdateState(const crdt::VersionVector& ours) {
  if (!talking()) return;
  // Vectors have no zero entries, so equal holdings are equal vectors: neither lacks anything.
  state_ = ours == theirs_ ? PeerState::kLive : PeerState::kSyncing;
}

void PeerSession::RestartSending() {
  in_flight_ = 0;
  sent_ = theirs_;
}

bool PeerSession::HelloDue(int64_t now_ms) const {
  return last_hello_ms_ < 0 || now_ms - last_hello_ms_ >= options_.hello_ms;
}

bool PeerSession::SentAhead() const {
  for (const auto& [origin, seq] : sent_.entries()) {
    if (seq > theirs_.Seen(origin)) return true;
  }
  return false;
}

}  // namespace baton::daemon::replication
