// PeerSession, one rule at a time, on a fake clock: hello and its reply, runbook refusal, the
// credit window and the acks that return credit, batching, stale counters, a peer vector that
// goes backwards, retries, heartbeats, the dead peer (and who says Hello again), live/syncing.
#include "daemon/replication/peer_session.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace baton::daemon::replication {
namespace {

using crdt::SeqRange;
using crdt::VersionVector;

const std::string kRunbook = "runbook-1";

VersionVector Vv(std::initializer_list<std::pair<const char*, uint64_t>> entries) {
  VersionVector vv;
  for (const auto& [origin, seq] : entries) vv.Set(origin, seq);
  return vv;
}

std::vector<PeerMessage> Messages(const std::vector<Action>& actions) {
  std::vector<PeerMessage> out;
  for (const Action& a : actions) {
    if (const auto* send = std::get_if<SendMessage>(&a)) out.push_back(send->message);
  }
  return out;
}

std::vector<Hello> Hellos(const std::vector<Action>& actions) {
  std::vector<Hello> out;
  for (const PeerMessage& m : Messages(actions)) {
    if (const auto* h = std::get_if<Hello>(&m)) out.push_back(*h);
  }
  return out;
}

std::vector<Have> Haves(const std::vector<Action>& actions) {
  std::vector<Have> out;
  for (const PeerMessage& m : Messages(actions)) {
    if (const auto* h = std::get_if<Have>(&m)) out.push_back(*h);
  }
  return out;
}

std::vector<std::vector<SeqRange>> Ranges(const std::vector<Action>& actions) {
  std::vector<std::vector<SeqRange>> out;
  for (const Action& a : actions) {
    if (const auto* r = std::get_if<SendRange>(&a)) out.push_back(r->ranges);
  }
  return out;
}

template <class T>
size_t Count(const std::vector<Action>& actions) {
  size_t n = 0;
  for (const Action& a : actions) n += std::holds_alternative<T>(a) ? 1 : 0;
  return n;
}

// The SendRange actions as text, one [..] per batch: "[a 2-3, b 1-2] [b 3-3]".
std::string Sent(const std::vector<Action>& actions) {
  std::string out;
  for (const std::vector<SeqRange>& batch : Ranges(actions)) {
    if (!out.empty()) out += " ";
    out += "[";
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i > 0) out += ", ";
      out += batch[i].origin + " " + std::to_string(batch[i].first) + "-" +
             std::to_string(batch[i].last);
    }
    out += "]";
  }
  return out;
}

Hello PeerHello(VersionVector vv, uint64_t counter = 1, bool reply = false,
                std::string runbook = kRunbook) {
  return Hello{"peer", std::move(runbook), std::move(vv), 0, counter, reply};
}

Have PeerHave(VersionVector vv, uint64_t counter, bool acked) {
  return Have{std::move(vv), 0, counter, acked};
}

// One session and what we hold, with the peer's messages as one-liners.
struct SessionFixture {
  SessionOptions Options(bool dialer) {
    SessionOptions o;
    o.self = "hq";
    o.dialer = dialer;
    o.window = 2;
    o.batch_events = 4;
    return o;
  }

  // A talking session: connected, and the peer's Hello (holding `theirs`) answered.
  PeerSession Talking(bool dialer, VersionVector theirs, int64_t now = 0) {
    PeerSession s(Options(dialer));
    Discard(s.OnConnected(ours, kRunbook, now));
    last = s.OnMessage(PeerHello(std::move(theirs), 1, dialer), ours, kRunbook, now);
    return s;
  }

  static void Discard(const std::vector<Action>&) {}

  VersionVector ours;
  std::vector<Action> last;
};

BOOST_FIXTURE_TEST_SUITE(PeerSessionTest, SessionFixture)

BOOST_AUTO_TEST_CASE(state_names) {
  BOOST_TEST(PeerStateName(PeerState::kConnecting) == std::string("connecting"));
  BOOST_TEST(PeerStateName(PeerState::kSyncing) == std::string("syncing"));
  BOOST_TEST(PeerStateName(PeerState::kLive) == std::string("live"));
  BOOST_TEST(PeerStateName(PeerState::kRefused) == std::string("refused"));
}

BOOST_AUTO_TEST_CASE(dialer_says_hello_on_connect_and_listener_waits) {
  ours = Vv({{"hq", 3}});
  PeerSession dialer(Options(true));
  const std::vector<Hello> hellos = Hellos(dialer.OnConnected(ours, kRunbook, 50));
  BOOST_REQUIRE_EQUAL(hellos.size(), 1u);
  BOOST_TEST(hellos[0].site == "hq");
  BOOST_TEST(hellos[0].runbook_id == kRunbook);
  BOOST_TEST(hellos[0].vv.ToString() == ours.ToString());
  BOOST_TEST(hellos[0].wall_ms == 50);
  BOOST_TEST(!hellos[0].reply);
  BOOST_TEST(PeerStateName(dialer.state()) == std::string("connecting"));

  PeerSession listener(Options(false));
  BOOST_TEST(listener.OnConnected(ours, kRunbook, 50).empty());
  BOOST_TEST(listener.OnTick(ours, kRunbook, 5000).empty());  // Never says Hello unprompted.
  BOOST_TEST(PeerStateName(listener.state()) == std::string("connecting"));
  BOOST_TEST(!listener.heard());
}

BOOST_AUTO_TEST_CASE(hello_is_answered_with_a_reply_and_what_the_peer_lacks) {
  ours = Vv({{"hq", 3}});
  PeerSession s(Options(false));
  const std::vector<Action> out =
      s.OnMessage(PeerHello(Vv({{"peer", 2}}), 7, false), ours, kRunbook, 100);
  BOOST_REQUIRE_EQUAL(out.size(), 2u);
  const Hello reply = std::get<Hello>(std::get<SendMessage>(out[0]).message);
  BOOST_TEST(reply.reply);
  BOOST_TEST(reply.vv.ToString() == ours.ToString());
  BOOST_TEST(std::holds_alternative<SendRange>(out[1]));
  BOOST_TEST(Sent(out) == "[hq 1-3]");
  BOOST_TEST(PeerStateName(s.state()) == std::string("syncing"));  // We lack peer/1..2.
  BOOST_TEST(s.theirs().ToString() == Vv({{"peer", 2}}).ToString());
  BOOST_TEST(s.last_heard_ms() == 100);
  BOOST_TEST(s.peer_runbook() == kRunbook);
}

BOOST_AUTO_TEST_CASE(a_reply_is_not_answered) {
  PeerSession s(Options(true));
  Discard(s.OnConnected(ours, kRunbook, 0));
  BOOST_TEST(s.OnMessage(PeerHello({}, 1, true), ours, kRunbook, 10).empty());
  BOOST_TEST(PeerStateName(s.state()) == std::string("live"));
}

BOOST_AUTO_TEST_CASE(records_the_peers_clock_skew_without_overflowing) {
  PeerSession s(Options(false));
  Hello hello = PeerHello({});
  hello.wall_ms = 1'000'250;
  Discard(s.OnMessage(hello, ours, kRunbook, 1'000'000));
  BOOST_TEST(s.skew_ms() == 250);
  hello.wall_ms = std::numeric_limits<int64_t>::min();
  Discard(s.OnMessage(hello, ours, kRunbook, 1'000'000));
  BOOST_TEST(s.skew_ms() == std::numeric_limits<int64_t>::min());
  Discard(s.OnMessage(Have{{}, std::numeric_limits<int64_t>::max(), 9, false}, ours, kRunbook, -5));
  BOOST_TEST(s.skew_ms() == std::numeric_limits<int64_t>::max());
}

BOOST_AUTO_TEST_CASE(another_runbook_is_refused_once_and_nothing_is_exchanged) {
  ours = Vv({{"hq", 3}});
  PeerSession s(Options(true));
  Discard(s.OnConnected(ours, kRunbook, 0));
  std::vector<Action> out = s.OnMessage(PeerHello({}, 1, true, "runbook-2"), ours, kRunbook, 10);
  BOOST_REQUIRE_EQUAL(out.size(), 1u);
  const Refuse refuse = std::get<Refuse>(out[0]);
  BOOST_TEST(refuse.reason.find("runbook-2") != std::string::npos);
  BOOST_TEST(PeerStateName(s.state()) == std::string("refused"));
  BOOST_TEST(s.peer_runbook() == "runbook-2");

  BOOST_TEST(s.OnMessage(Events{{"x"}}, ours, kRunbook, 20).empty());  // No Deliver.
  BOOST_TEST(s.OnMessage(PeerHave(Vv({{"peer", 1}}), 5, true), ours, kRunbook, 30).empty());
  BOOST_TEST(s.OnDelivered(ours, 35).empty());
  BOOST_TEST(s.OnLocalChange(Vv({{"hq", 4}}), 40).empty());
  BOOST_TEST(s.OnTick(ours, kRunbook, 60'000).empty());  // No Hello, heartbeat or retry.
  BOOST_TEST(s.OnMessage(PeerHello({}, 6, false, "runbook-2"), ours, kRunbook, 70).empty());
  BOOST_TEST(PeerStateName(s.state()) == std::string("refused"));
  BOOST_TEST(s.theirs().empty());

  // The peer comes back holding our runbook: a new conversation.
  out = s.OnMessage(PeerHello({}, 7, false), ours, kRunbook, 80);
  BOOST_TEST(Hellos(out).size() == 1u);
  BOOST_TEST(Ranges(out).size() == 1u);
  BOOST_TEST(PeerStateName(s.state()) == std::string("syncing"));
}

BOOST_AUTO_TEST_CASE(a_site_without_a_runbook_yet_is_not_refused) {
  PeerSession s(Options(false));
  Discard(s.OnMessage(PeerHello({}, 1, false, ""), ours, kRunbook, 0));
  BOOST_TEST(PeerStateName(s.state()) == std::string("live"));
  PeerSession t(Options(false));
  Discard(t.OnMessage(PeerHello({}, 1, false), ours, "", 0));
  BOOST_TEST(PeerStateName(t.state()) == std::string("live"));
}

BOOST_AUTO_TEST_CASE(the_credit_window_is_never_exceeded) {
  ours = Vv({{"hq", 40}});
  PeerSession s = Talking(false, {});
  BOOST_TEST(Sent(last) == "[hq 1-4] [hq 5-8]");
  BOOST_TEST(s.in_flight() == 2u);
  BOOST_TEST(s.batches_sent() == 2u);
  ours = Vv({{"hq", 41}, {"other", 1}});
  BOOST_TEST(s.OnLocalChange(ours, 10).empty());
  BOOST_TEST(Ranges(s.OnTick(ours, kRunbook, 100)).empty());
  BOOST_TEST(s.in_flight() == 2u);
}

BOOST_AUTO_TEST_CASE(an_ack_returns_one_unit_of_credit) {
  ours = Vv({{"hq", 40}});
  PeerSession s = Talking(false, {});
  std::vector<Action> out = s.OnMessage(PeerHave(Vv({{"hq", 4}}), 2, true), ours, kRunbook, 10);
  BOOST_TEST(Sent(out) == "[hq 9-12]");
  BOOST_TEST(s.in_flight() == 2u);
  // A heartbeat is not an answer: no credit back.
  out = s.OnMessage(PeerHave(Vv({{"hq", 8}}), 3, false), ours, kRunbook, 20);
  BOOST_TEST(Ranges(out).empty());
  BOOST_TEST(s.in_flight() == 2u);
}

BOOST_AUTO_TEST_CASE(a_lost_ack_does_not_hold_credit) {
  ours = Vv({{"hq", 8}});
  PeerSession s = Talking(false, {});  // hq 1..4 and 5..8 in flight.
  // The ack of the first batch is lost; the second's shows the peer holds all we sent.
  Discard(s.OnMessage(PeerHave(Vv({{"hq", 8}}), 3, true), ours, kRunbook, 10));
  BOOST_TEST(s.in_flight() == 0u);
  ours = Vv({{"hq", 16}});
  BOOST_TEST(Sent(s.OnLocalChange(ours, 20)) == "[hq 9-12] [hq 13-16]");
}

BOOST_AUTO_TEST_CASE(a_batch_takes_ranges_in_order_and_cuts_the_last) {
  ours = Vv({{"a", 3}, {"b", 3}, {"c", 1}});
  PeerSession s = Talking(false, Vv({{"a", 1}}));
  BOOST_TEST(Sent(last) == "[a 2-3, b 1-2] [b 3-3, c 1-1]");
}

BOOST_AUTO_TEST_CASE(a_batch_is_led_by_our_vector_when_it_changed) {
  ours = Vv({{"hq", 2}});
  PeerSession s = Talking(false, Vv({{"hq", 2}}));
  BOOST_TEST(last.size() == 1u);  // The reply Hello told our vector already: no Have.
  ours = Vv({{"hq", 3}});
  const std::vector<Action> out = s.OnLocalChange(ours, 10);
  BOOST_REQUIRE_EQUAL(out.size(), 2u);
  const Have have = std::get<Have>(std::get<SendMessage>(out[0]).message);
  BOOST_TEST(!have.acked);
  BOOST_TEST(have.vv.ToString() == "{hq:3}");
  BOOST_TEST(Sent(out) == "[hq 3-3]");
}

BOOST_AUTO_TEST_CASE(events_the_peer_sent_are_not_echoed_back) {
  // Two sessions wired by hand: a sends b its new events; b must not send them back to a.
  VersionVector at_a = Vv({{"a", 1}});
  VersionVector at_b = Vv({{"a", 1}});
  PeerSession a(Options(true));
  PeerSession b(Options(false));
  const auto carry = [](const std::vector<Action>& actions) { return Messages(actions); };
  std::vector<PeerMessage> to_b = carry(a.OnConnected(at_a, kRunbook, 0));
  std::vector<PeerMessage> to_a = carry(b.OnMessage(to_b.at(0), at_b, kRunbook, 1));
  Discard(a.OnMessage(to_a.at(0), at_a, kRunbook, 2));
  at_a = Vv({{"a", 3}});
  const std::vector<Action> out = a.OnLocalChange(at_a, 3);
  BOOST_TEST(Sent(out) == "[a 2-3]");
  for (const PeerMessage& m : carry(out)) Discard(b.OnMessage(m, at_b, kRunbook, 4));  // Have.
  BOOST_TEST(Count<Deliver>(b.OnMessage(Events{{"a/2", "a/3"}}, at_b, kRunbook, 5)) == 1u);
  at_b = Vv({{"a", 3}});
  BOOST_TEST(Sent(b.OnDelivered(at_b, 6)).empty());
  BOOST_TEST(Sent(b.OnLocalChange(at_b, 6)).empty());
  BOOST_TEST(PeerStateName(b.state()) == std::string("live"));
}

BOOST_AUTO_TEST_CASE(nothing_is_sent_before_the_peer_says_hello) {
  ours = Vv({{"hq", 3}});
  PeerSession s(Options(true));
  Discard(s.OnConnected(ours, kRunbook, 0));
  BOOST_TEST(s.OnLocalChange(ours, 10).empty());
  BOOST_TEST(Ranges(s.OnTick(ours, kRunbook, 100)).empty());
}

BOOST_AUTO_TEST_CASE(a_stale_counter_is_ignored) {
  ours = Vv({{"hq", 8}});
  PeerSession s = Talking(false, {});
  Discard(s.OnMessage(PeerHave(Vv({{"hq", 8}}), 5, false), ours, kRunbook, 10));
  BOOST_TEST(s.theirs().ToString() == Vv({{"hq", 8}}).ToString());
  Discard(s.OnMessage(PeerHave(Vv({{"hq", 2}}), 4, false), ours, kRunbook, 20));
  Discard(s.OnMessage(PeerHave(Vv({{"hq", 3}}), 5, false), ours, kRunbook, 30));
  BOOST_TEST(s.theirs().ToString() == Vv({{"hq", 8}}).ToString());
  BOOST_TEST(s.backwards() == 0u);
  BOOST_TEST(PeerStateName(s.state()) == std::string("live"));
}

BOOST_AUTO_TEST_CASE(a_vector_that_goes_backwards_resets_the_send_position) {
  ours = Vv({{"hq", 10}});
  PeerSession s = Talking(false, Vv({{"hq", 5}}));  // Sent hq 6..9, then 10.
  BOOST_TEST(s.in_flight() == 2u);
  // Restored from an old copy: it holds hq 1..2 only, and answers one batch.
  const std::vector<Action> out =
      s.OnMessage(PeerHave(Vv({{"hq", 2}}), 2, true), ours, kRunbook, 10);
  BOOST_TEST(s.backwards() == 1u);
  BOOST_TEST(s.theirs().ToString() == Vv({{"hq", 2}}).ToString());
  BOOST_TEST(Sent(out) == "[hq 3-6]");
}

BOOST_AUTO_TEST_CASE(a_new_hello_resets_the_conversation) {
  ours = Vv({{"hq", 40}});
  PeerSession s = Talking(false, {});
  BOOST_TEST(s.in_flight() == 2u);
  // The peer restarted: counters start again, and it holds what it had stored.
  const std::vector<Action> out = s.OnMessage(PeerHello(Vv({{"hq", 6}}), 1), ours, kRunbook, 50);
  BOOST_TEST(Hellos(out).size() == 1u);
  BOOST_TEST(Sent(out) == "[hq 7-10] [hq 11-14]");
  BOOST_TEST(s.backwards() == 0u);
  // Its next Have (counter 2) counts, though lower than anything before the restart.
  Discard(s.OnMessage(PeerHave(Vv({{"hq", 10}}), 2, true), ours, kRunbook, 60));
  BOOST_TEST(s.theirs().ToString() == Vv({{"hq", 10}}).ToString());
}

BOOST_AUTO_TEST_CASE(unanswered_batches_are_resent_after_retry_ms) {
  ours = Vv({{"hq", 6}});
  PeerSession s = Talking(false, {}, 1000);  // Sends hq 1..4 and 5..6 at t=1000.
  // The peer stays alive but never answers the batches.
  Discard(s.OnMessage(PeerHave({}, 2, false), ours, kRunbook, 3000));
  BOOST_TEST(Ranges(s.OnTick(ours, kRunbook, 3999)).empty());
  const std::vector<Action> out = s.OnTick(ours, kRunbook, 4000);
  BOOST_TEST(s.resends() == 1u);
  BOOST_TEST(Sent(out) == "[hq 1-4] [hq 5-6]");
  BOOST_TEST(s.in_flight() == 2u);
}

BOOST_AUTO_TEST_CASE(retry_time_counts_from_the_first_unanswered_batch) {
  ours = Vv({{"hq", 4}});
  PeerSession s = Talking(false, {}, 0);
  Discard(s.OnMessage(PeerHave(Vv({{"hq", 4}}), 2, true), ours, kRunbook, 500));
  BOOST_TEST(s.in_flight() == 0u);
  ours = Vv({{"hq", 5}});
  BOOST_TEST(Ranges(s.OnLocalChange(ours, 2900)).size() == 1u);  // 0 -> 1 in flight.
  Discard(s.OnMessage(PeerHave(Vv({{"hq", 4}}), 3, false), ours, kRunbook, 3000));  // Alive.
  BOOST_TEST(Ranges(s.OnTick(ours, kRunbook, 3600)).empty());  // 3 s after the ack only.
  BOOST_TEST(s.resends() == 0u);
  BOOST_TEST(Ranges(s.OnTick(ours, kRunbook, 5900)).size() == 1u);
  BOOST_TEST(s.resends() == 1u);
}

BOOST_AUTO_TEST_CASE(events_the_peer_did_not_take_are_resent_after_retry_ms) {
  ours = Vv({{"hq", 4}});
  PeerSession s = Talking(false, {}, 0);
  // Answered, but only hq 1..2 were stored (the batch was cut short, or 3 not verifiable yet).
  Discard(s.OnMessage(PeerHave(Vv({{"hq", 2}}), 2, true), ours, kRunbook, 100));
  BOOST_TEST(s.in_flight() == 0u);
  BOOST_TEST(Ranges(s.OnLocalChange(ours, 200)).empty());  // Not before retry_ms.
  BOOST_TEST(Ranges(s.OnTick(ours, kRunbook, 3000)).empty());
  const std::vector<Action> out = s.OnTick(ours, kRunbook, 3100);
  BOOST_TEST(Sent(out) == "[hq 3-4]");
  BOOST_TEST(s.resends() == 1u);
}

BOOST_AUTO_TEST_CASE(a_range_cut_short_is_sent_on_with_the_next_credit_not_after_retry_ms) {
  ours = Vv({{"hq", 8}});
  PeerSession s = Talking(false, {}, 0);
  BOOST_TEST(Sent(last) == "[hq 1-4] [hq 5-8]");
  // The replicator sent only hq 1..2 of the first batch (its bytes ran out): the second batch,
  // already handed out, would leave a gap and is left out (it starts past sent + 1).
  s.OnRangeCut("hq", 2);
  BOOST_TEST(s.sent().Seen("hq") == 2u);
  // The answer shows the peer holds all that was sent: the credit is back, and sending goes on
  // from hq 3 at once.
  const std::vector<Action> out =
      s.OnMessage(PeerHave(Vv({{"hq", 2}}), 2, true), ours, kRunbook, 10);
  BOOST_TEST(Sent(out) == "[hq 3-6] [hq 7-8]");
  BOOST_TEST(s.resends() == 0u);
  // A cut never goes below what the peer holds.
  s.OnRangeCut("hq", 1);
  BOOST_TEST(s.sent().Seen("hq") == 2u);
}

BOOST_AUTO_TEST_CASE(acks_of_batches_not_taken_do_not_put_the_retry_off) {
  SessionOptions o = Options(false);
  o.window = 1;
  o.batch_events = 2;
  ours = Vv({{"hq", 40}});
  PeerSession s(o);
  Discard(s.OnMessage(PeerHello({}), ours, kRunbook, 0));  // Sends hq 1-2: lost on the way.
  // The peer answers the next batches but cannot take them (hq 1 is missing).
  for (int64_t t = 500; t < 3000; t += 500) {
    const std::vector<Action> out =
        s.OnMessage(PeerHave({}, static_cast<uint64_t>(t), true), ours, kRunbook, t);
    BOOST_TEST(Ranges(out).size() == 1u);
    BOOST_TEST(Sent(s.OnTick(ours, kRunbook, t)).empty());
  }
  BOOST_TEST(Sent(s.OnTick(ours, kRunbook, 3000)) == "[hq 1-2]");
  BOOST_TEST(s.resends() == 1u);
}

BOOST_AUTO_TEST_CASE(nothing_is_retried_when_all_was_taken) {
  ours = Vv({{"hq", 4}});
  PeerSession s = Talking(false, {}, 0);
  Discard(s.OnMessage(PeerHave(Vv({{"hq", 4}}), 2, true), ours, kRunbook, 100));
  for (int64_t t = 200; t < 20'000; t += 100) {
    if (t % 1000 == 0)
      Discard(s.OnMessage(PeerHave(ours, static_cast<uint64_t>(3 + t), false), ours, kRunbook, t));
    BOOST_TEST(Ranges(s.OnTick(ours, kRunbook, t)).empty());
  }
  BOOST_TEST(s.resends() == 0u);
  BOOST_TEST(PeerStateName(s.state()) == std::string("live"));
}

BOOST_AUTO_TEST_CASE(delivered_events_are_acknowledged_with_our_vector) {
  PeerSession s = Talking(false, {});
  std::vector<Action> out = s.OnMessage(Events{{"a", "b"}}, ours, kRunbook, 10);
  BOOST_REQUIRE_EQUAL(out.size(), 1u);
  BOOST_TEST((std::get<Deliver>(out[0]).envelopes == std::vector<std::string>{"a", "b"}));
  ours = Vv({{"peer", 2}});
  out = s.OnDelivered(ours, 20);
  const std::vector<Have> haves = Haves(out);
  BOOST_REQUIRE_EQUAL(haves.size(), 1u);
  BOOST_TEST(haves[0].acked);
  BOOST_TEST(haves[0].vv.ToString() == ours.ToString());
  BOOST_TEST(haves[0].wall_ms == 20);
}

BOOST_AUTO_TEST_CASE(our_counter_rises_on_every_hello_and_have) {
  PeerSession s(Options(true));
  uint64_t previous = Hellos(s.OnConnected(ours, kRunbook, 0)).at(0).counter;
  Discard(s.OnMessage(PeerHello({}, 1, true), ours, kRunbook, 10));
  for (int64_t t = 1000; t <= 5000; t += 1000) {
    const uint64_t c = Haves(s.OnTick(ours, kRunbook, t)).at(0).counter;
    BOOST_TEST(c > previous);
    previous = c;
    Discard(s.OnMessage(PeerHave({}, static_cast<uint64_t>(10 + t), false), ours, kRunbook,
                        t));  // Keep it alive.
  }
}

BOOST_AUTO_TEST_CASE(a_heartbeat_every_heartbeat_ms_while_talking) {
  PeerSession s = Talking(false, {}, 0);  // The reply Hello went at t=0.
  BOOST_TEST(Haves(s.OnTick(ours, kRunbook, 900)).empty());
  std::vector<Have> haves = Haves(s.OnTick(ours, kRunbook, 1000));
  BOOST_REQUIRE_EQUAL(haves.size(), 1u);
  BOOST_TEST(!haves[0].acked);
  BOOST_TEST(Haves(s.OnTick(ours, kRunbook, 1500)).empty());
  Discard(s.OnDelivered(ours, 1800));  // An ack also tells our vector: the timer restarts.
  BOOST_TEST(Haves(s.OnTick(ours, kRunbook, 2500)).empty());
  BOOST_TEST(Haves(s.OnTick(ours, kRunbook, 2800)).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_silent_peer_is_dead_and_the_dialer_says_hello_again) {
  ours = Vv({{"hq", 9}});
  PeerSession s = Talking(true, {}, 0);
  BOOST_TEST(s.in_flight() == 2u);
  BOOST_TEST(Hellos(s.OnTick(ours, kRunbook, 5000)).empty());
  BOOST_TEST(PeerStateName(s.state()) == std::string("syncing"));
  const std::vector<Action> out = s.OnTick(ours, kRunbook, 5001);
  BOOST_TEST(PeerStateName(s.state()) == std::string("connecting"));
  BOOST_TEST(s.in_flight() == 0u);
  BOOST_TEST(Hellos(out).size() == 1u);
  BOOST_TEST(Ranges(out).empty());
  BOOST_TEST(Haves(out).empty());
  BOOST_TEST(s.OnTick(ours, kRunbook, 5900).empty());
  BOOST_TEST(Hellos(s.OnTick(ours, kRunbook, 6001)).size() == 1u);
  // It answers: sending starts again from what it says it holds.
  const std::vector<Action> back =
      s.OnMessage(PeerHello(Vv({{"hq", 4}}), 9, true), ours, kRunbook, 6100);
  BOOST_TEST(Sent(back) == "[hq 5-8] [hq 9-9]");
}

BOOST_AUTO_TEST_CASE(a_dead_peer_makes_the_listener_wait_until_it_is_spoken_to) {
  PeerSession s = Talking(false, {}, 0);
  BOOST_TEST(s.OnTick(ours, kRunbook, 5001).empty());
  BOOST_TEST(PeerStateName(s.state()) == std::string("connecting"));
  BOOST_TEST(s.OnTick(ours, kRunbook, 9000).empty());
  // The peer never noticed and goes on talking: we say Hello (once per hello_ms).
  std::vector<Action> out = s.OnMessage(PeerHave({}, 7, false), ours, kRunbook, 9100);
  BOOST_TEST(Hellos(out).size() == 1u);
  BOOST_TEST(!Hellos(out)[0].reply);
  out = s.OnMessage(Events{{"e"}}, ours, kRunbook, 9200);
  BOOST_TEST(Hellos(out).empty());
  BOOST_TEST(Count<Deliver>(out) == 1u);  // Delivered while connecting all the same.
  BOOST_TEST(Haves(s.OnDelivered(ours, 9300)).size() == 1u);
  BOOST_TEST(PeerStateName(s.state()) == std::string("connecting"));
  Discard(s.OnMessage(PeerHello({}, 8, true), ours, kRunbook, 9400));
  BOOST_TEST(PeerStateName(s.state()) == std::string("live"));
}

BOOST_AUTO_TEST_CASE(reconnecting_resets_what_is_in_flight) {
  ours = Vv({{"hq", 9}});
  PeerSession s = Talking(true, {}, 0);
  BOOST_TEST(s.in_flight() == 2u);
  BOOST_TEST(Hellos(s.OnConnected(ours, kRunbook, 100)).size() == 1u);
  BOOST_TEST(PeerStateName(s.state()) == std::string("connecting"));
  BOOST_TEST(s.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(live_when_neither_lacks_anything_else_syncing) {
  ours = Vv({{"hq", 2}});
  PeerSession s = Talking(false, Vv({{"hq", 2}}));
  BOOST_TEST(PeerStateName(s.state()) == std::string("live"));
  ours = Vv({{"hq", 3}});
  Discard(s.OnLocalChange(ours, 10));  // The peer lacks hq/3.
  BOOST_TEST(PeerStateName(s.state()) == std::string("syncing"));
  Discard(s.OnMessage(PeerHave(Vv({{"hq", 3}}), 2, true), ours, kRunbook, 20));
  BOOST_TEST(PeerStateName(s.state()) == std::string("live"));
  Discard(s.OnMessage(PeerHave(Vv({{"hq", 3}, {"peer", 1}}), 3, false), ours, kRunbook, 30));
  BOOST_TEST(PeerStateName(s.state()) == std::string("syncing"));  // We lack peer/1.
  ours = Vv({{"hq", 3}, {"peer", 1}});
  Discard(s.OnDelivered(ours, 40));
  BOOST_TEST(PeerStateName(s.state()) == std::string("live"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::daemon::replication
