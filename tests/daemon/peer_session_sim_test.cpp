// Deterministic simulation of replication: 2-5 sites wired as a chain, star or mesh, one pair of
// PeerSessions per link (one dialer, one listener), every message encoded and decoded, under a
// seeded scheduler that delays, drops, duplicates and reorders messages, cuts and heals links,
// restarts sites and cuts batches short while the sites append local events. Once the faults
// stop, every site must hold the same complete log within a bounded simulated time, and then
// only heartbeats may cross. On lossless links only the missing events cross, and the credit
// window holds. A failure names its seed; BATON_SIM_SEEDS=N runs N seeds instead of 200.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/replication/peer_messages.h"
#include "daemon/replication/peer_session.h"

namespace baton::daemon::replication {
namespace {

namespace bdata = boost::unit_test::data;

// A check on the simulation's hot paths: counted only when it fails (hundreds of thousands run).
#define SIM_REQUIRE(cond, message)                     \
  do {                                                 \
    if (!(cond)) BOOST_FAIL(#cond << ": " << message); \
  } while (0)
using crdt::VersionVector;

constexpr int64_t kTickMs = 100;
const std::string kRunbook = "runbook-1";

enum class Topology { kChain, kStar, kMesh };
const char* TopologyName(Topology t) {
  return t == Topology::kChain ? "chain" : t == Topology::kStar ? "star" : "mesh";
}

struct SimConfig {
  size_t sites = 2;
  Topology topology = Topology::kChain;
  size_t window = 4;
  size_t batch_events = 16;
  // Faults while they are on.
  double drop = 0;            // Per message.
  double duplicate = 0;       // Per message.
  int64_t max_delay_ms = 20;  // Delays uniform in [1, max]: messages overtake one another.
  double cut = 0;             // Per link and tick.
  double heal = 0;            // Per cut link and tick.
  double restart = 0;         // Per site and tick.
  double short_batch = 0;     // Per SendRange: the replicator sends only a prefix.
  // Once the faults are off: links are up, lossless and in order, with delays in [1, this].
  int64_t healthy_max_delay_ms = 20;
};

// What the sessions sent (counted when sent, delivered or not), since the last reset.
struct Traffic {
  uint64_t send_ranges = 0;
  uint64_t events_sent = 0;  // Envelopes in Events messages.
  uint64_t hellos = 0;
  uint64_t acks = 0;
  uint64_t heartbeats = 0;
  uint64_t ignored = 0;  // Delivered envelopes that were duplicates or past a gap.
  uint64_t messages = 0;
};

class Simulation {
 public:
  Simulation(uint64_t seed, SimConfig config) : rng_(seed), config_(config) {
    for (size_t i = 0; i < config_.sites; ++i) {
      sites_.push_back(Site{"s" + std::to_string(i), {}, {}, {}});
    }
    for (size_t a = 0; a < config_.sites; ++a) {
      for (size_t b = a + 1; b < config_.sites; ++b) {
        const bool linked = config_.topology == Topology::kMesh ||
                            (config_.topology == Topology::kChain && b == a + 1) ||
                            (config_.topology == Topology::kStar && a == 0);
        if (linked) AddLink(a, b, Coin());
      }
    }
    faulty_ = config_.drop > 0 || config_.duplicate > 0 || config_.cut > 0 || config_.restart > 0 ||
              config_.short_batch > 0 || config_.max_delay_ms > 20;
    Push(Item::Tick(0));
  }

  // Sites start with `own` local events each, plus the first `common` of every origin's,
  // as if an earlier sync had carried them everywhere.
  void Seed(const std::vector<uint64_t>& own, uint64_t common) {
    for (size_t s = 0; s < sites_.size(); ++s) {
      for (uint64_t seq = 1; seq <= common + own[s]; ++seq) {
        for (size_t t = 0; t < sites_.size(); ++t) {
          if (t == s || seq <= common) sites_[t].Add(sites_[s].id, Envelope(s, seq));
        }
      }
    }
    initial_total_ = TotalHeld();
  }

  // Puts `n` local appends at random times in [from, to) at random sites.
  void ScheduleAppends(uint64_t n, int64_t from, int64_t to) {
    for (uint64_t i = 0; i < n; ++i) {
      const int64_t at = from + static_cast<int64_t>(Below(static_cast<uint64_t>(to - from)));
      Push(Item::Append(at, Below(sites_.size())));
    }
  }

  void Start() {
    for (size_t e = 0; e < ends_.size(); ++e) {
      Execute(e, Session(e).OnConnected(Vv(e), kRunbook, now_));
    }
  }

  // Runs until `until_ms`, or until `done` holds after a tick.
  template <class Done>
  bool RunUntil(int64_t until_ms, Done done) {
    while (!queue_.empty() && queue_.top().at <= until_ms) {
      Item item = queue_.top();
      queue_.pop();
      now_ = item.at;
      switch (item.kind) {
        case Item::kTick:
          Tick();
          Push(Item::Tick(now_ + kTickMs));
          if (done()) return true;
          break;
        case Item::kAppend:
          Append(item.a);
          break;
        case Item::kMessage:
          Arrive(item);
          break;
      }
    }
    now_ = until_ms;
    return false;
  }
  void RunFor(int64_t ms) {
    RunUntil(now_ + ms, [] { return false; });
  }

  // Faults off: every link up, no loss, no duplicates, in order, no short batches.
  void Heal() {
    faulty_ = false;
    config_.drop = config_.duplicate = config_.short_batch = 0;
    config_.max_delay_ms = config_.healthy_max_delay_ms;
    for (size_t l = 0; l < links_.size(); ++l) {
      if (!links_[l].up) HealLink(l);
    }
  }

  bool Converged() const {
    VersionVector all;
    for (const Site& s : sites_) all.Merge(Vv(s));
    for (const Site& s : sites_) {
      if (!(Vv(s) == all)) return false;
    }
    return true;
  }

  // Every site holds the same log, and each origin's part of it is that origin's events in
  // order: so every site holds every event. Empty when so, else what is wrong.
  std::string CheckLogs() const {
    for (size_t s = 0; s < sites_.size(); ++s) {
      const auto own = sites_[s].log.find(sites_[s].id);
      const size_t n = own == sites_[s].log.end() ? 0 : own->second.size();
      for (size_t seq = 1; seq <= n; ++seq) {
        if (own->second[seq - 1] != Envelope(s, seq)) return sites_[s].id + ": own log broken";
      }
    }
    for (const Site& other : sites_) {
      if (other.log != sites_[0].log) return other.id + " differs from " + sites_[0].id;
    }
    return "";
  }

  // Every session live with nothing in flight and its peer heard since `heard_since_ms`, and
  // nothing but heartbeats on the wire.
  bool AllLive(int64_t heard_since_ms = 0) const {
    if (chatter_on_wire_ != 0) return false;
    for (const End& e : ends_) {
      if (e.session->state() != PeerState::kLive || e.session->in_flight() != 0 ||
          e.session->last_heard_ms() < heard_since_ms) {
        return false;
      }
    }
    return true;
  }

  std::string Describe() const {
    std::ostringstream out;
    out << TopologyName(config_.topology) << " of " << sites_.size() << ", t=" << now_ << " ms";
    for (size_t e = 0; e < ends_.size(); ++e) {
      const End& end = ends_[e];
      out << "\n  " << sites_[end.site].id << "->" << sites_[ends_[end.peer].site].id
          << (end.options.dialer ? " (dialer)" : "") << ": " << PeerStateName(end.session->state())
          << " in_flight " << end.session->in_flight() << " ours " << Vv(e).ToString() << " theirs "
          << end.session->theirs().ToString();
    }
    return out.str();
  }

  uint64_t TotalHeld() const {
    uint64_t n = 0;
    for (const Site& s : sites_) n += Vv(s).Total();
    return n;
  }
  uint64_t initial_total() const { return initial_total_; }
  uint64_t appended() const { return appended_; }  // Local events since Seed.
  Traffic& traffic() { return traffic_; }
  int64_t now() const { return now_; }
  uint64_t window_violations() const { return window_violations_; }

 private:
  struct Site {
    std::string id;
    std::map<std::string, std::vector<std::string>> log;  // Origin -> envelopes, seq 1 first.
    std::vector<size_t> ends;
    VersionVector vv;  // Derived from `log`, kept up to date by Add.

    void Add(const std::string& origin, std::string envelope) {
      auto& l = log[origin];
      l.push_back(std::move(envelope));
      vv.Set(origin, l.size());
    }
  };
  struct End {
    size_t site = 0, peer = 0, link = 0;
    SessionOptions options;
    std::unique_ptr<PeerSession> session;
    uint64_t incarnation = 0;     // Bumped by a restart: messages to or from older ones die.
    int64_t last_arrival_ms = 0;  // Of messages sent from here, for in-order links.
    int64_t unanswered = 0;       // Events sent minus acks received (lossless runs).
  };
  struct Link {
    bool up = true;
  };
  // What happens at `at`: every end ticks, a site appends, or a message arrives.
  struct Item {
    enum Kind { kTick, kAppend, kMessage };
    int64_t at = 0;
    uint64_t order = 0;  // Ties in time keep the order of scheduling (Push sets it).
    Kind kind = kTick;
    size_t a = 0;  // kAppend: site; kMessage: sending end.
    size_t b = 0;  // kMessage: receiving end.
    uint64_t from_incarnation = 0, to_incarnation = 0;
    std::string bytes;
    bool heartbeat = false;

    static Item Tick(int64_t at) { return Item{at, 0, kTick, 0, 0, 0, 0, {}, false}; }
    static Item Append(int64_t at, size_t site) {
      return Item{at, 0, kAppend, site, 0, 0, 0, {}, false};
    }
  };
  struct Later {
    bool operator()(const Item& x, const Item& y) const {
      return x.at != y.at ? x.at > y.at : x.order > y.order;
    }
  };

  static std::string Envelope(size_t site, uint64_t seq) {
    return "s" + std::to_string(site) + "/" + std::to_string(seq);
  }
  static const VersionVector& Vv(const Site& s) { return s.vv; }
  const VersionVector& Vv(size_t end) const { return Vv(sites_[ends_[end].site]); }
  PeerSession& Session(size_t end) { return *ends_[end].session; }

  uint64_t Below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  bool Chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  bool Coin() { return Below(2) == 1; }

  void Push(Item item) {
    item.order = next_order_++;
    queue_.push(std::move(item));
  }

  void AddLink(size_t a, size_t b, bool a_dials) {
    const size_t link = links_.size();
    links_.push_back(Link{});
    const size_t ea = ends_.size();
    for (size_t i = 0; i < 2; ++i) {
      End end;
      end.site = i == 0 ? a : b;
      end.peer = i == 0 ? ea + 1 : ea;
      end.link = link;
      end.options.self = sites_[end.site].id;
      end.options.dialer = (i == 0) == a_dials;
      end.options.window = config_.window;
      end.options.batch_events = config_.batch_events;
      end.session = std::make_unique<PeerSession>(end.options);
      sites_[end.site].ends.push_back(ends_.size());
      ends_.push_back(std::move(end));
    }
  }

  void HealLink(size_t link) {
    links_[link].up = true;
    if (Coin()) {  // The transport noticed the reconnect (it need not).
      for (size_t e = 0; e < ends_.size(); ++e) {
        if (ends_[e].link == link) Execute(e, Session(e).OnConnected(Vv(e), kRunbook, now_));
      }
    }
  }

  void Restart(size_t site) {
    // A new process: fresh sessions; the log (the store) survives. What was in flight to or
    // from the old one dies with its connections.
    for (size_t e : sites_[site].ends) {
      ++ends_[e].incarnation;
      ends_[e].session = std::make_unique<PeerSession>(ends_[e].options);
    }
    for (size_t e : sites_[site].ends) Execute(e, Session(e).OnConnected(Vv(e), kRunbook, now_));
  }

  void Tick() {
    if (faulty_) {
      for (size_t l = 0; l < links_.size(); ++l) {
        if (links_[l].up && Chance(config_.cut)) {
          links_[l].up = false;
        } else if (!links_[l].up && Chance(config_.heal)) {
          HealLink(l);
        }
      }
      for (size_t s = 0; s < sites_.size(); ++s) {
        if (Chance(config_.restart)) Restart(s);
      }
    }
    for (size_t e = 0; e < ends_.size(); ++e) {
      Execute(e, Session(e).OnTick(Vv(e), kRunbook, now_));
    }
  }

  void Append(size_t site) {
    Site& s = sites_[site];
    s.Add(s.id, Envelope(site, s.vv.Seen(s.id) + 1));
    ++appended_;
    LocalChange(site);
  }

  void LocalChange(size_t site) {
    for (size_t e : sites_[site].ends) Execute(e, Session(e).OnLocalChange(Vv(e), now_));
  }

  void Send(size_t from, const PeerMessage& m) {
    ++traffic_.messages;
    if (const auto* hello = std::get_if<Hello>(&m)) {
      ++traffic_.hellos;
      // What we held when the session made it (a Deliver before it may have added since).
      SIM_REQUIRE(hello->vv.MissingFrom(Vv(from)).empty(), hello->vv.ToString());
    } else if (const auto* have = std::get_if<Have>(&m)) {
      ++(have->acked ? traffic_.acks : traffic_.heartbeats);
    } else {
      ++ends_[from].unanswered;
      if (ends_[from].unanswered > static_cast<int64_t>(config_.window)) ++window_violations_;
    }
    const size_t to = ends_[from].peer;
    if (!links_[ends_[from].link].up || Chance(config_.drop)) return;
    const std::string bytes = EncodePeerMessage(m);
    const int copies = Chance(config_.duplicate) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      int64_t at =
          now_ + 1 + static_cast<int64_t>(Below(static_cast<uint64_t>(config_.max_delay_ms)));
      if (!faulty_) {
        at = std::max(at, ends_[from].last_arrival_ms);
        ends_[from].last_arrival_ms = at;
      }
      const bool heartbeat = std::holds_alternative<Have>(m) && !std::get<Have>(m).acked;
      chatter_on_wire_ += heartbeat ? 0 : 1;
      Push(Item{at, 0, Item::kMessage, from, to, ends_[from].incarnation, ends_[to].incarnation,
                bytes, heartbeat});
    }
  }

  void Arrive(const Item& item) {
    chatter_on_wire_ -= item.heartbeat ? 0 : 1;
    const size_t to = item.b;
    if (!links_[ends_[to].link].up) return;  // Cut while on the way.
    if (item.from_incarnation != ends_[item.a].incarnation ||
        item.to_incarnation != ends_[to].incarnation) {
      return;
    }
    Result<PeerMessage> m = DecodePeerMessage(item.bytes);
    SIM_REQUIRE(m.ok(), m.status().ToString());
    if (const auto* have = std::get_if<Have>(&*m); have != nullptr && have->acked) {
      --ends_[to].unanswered;
    }
    Execute(to, Session(to).OnMessage(*m, Vv(to), kRunbook, now_));
  }

  void Execute(size_t end, const std::vector<Action>& actions) {
    for (const Action& action : actions) {
      if (const auto* send = std::get_if<SendMessage>(&action)) {
        Send(end, send->message);
      } else if (const auto* range = std::get_if<SendRange>(&action)) {
        SendEvents(end, *range);
      } else if (const auto* deliver = std::get_if<Deliver>(&action)) {
        DeliverEvents(end, *deliver);
      } else {
        BOOST_FAIL("refused: " << std::get<Refuse>(action).reason);
      }
    }
  }

  void SendEvents(size_t end, const SendRange& range) {
    const Site& site = sites_[ends_[end].site];
    Events events;
    for (const crdt::SeqRange& r : range.ranges) {
      const auto log = site.log.find(r.origin);
      SIM_REQUIRE(r.first >= 1 && r.first <= r.last && log != site.log.end() &&
                      r.last <= log->second.size(),
                  "asked for " << r.origin << " " << r.first << ".." << r.last << " not held by "
                               << site.id);
      for (uint64_t seq = r.first; seq <= r.last; ++seq) {
        events.envelopes.push_back(log->second[seq - 1]);
      }
    }
    SIM_REQUIRE(!events.envelopes.empty() && events.envelopes.size() <= config_.batch_events,
                events.envelopes.size() << " events");
    if (Chance(config_.short_batch)) events.envelopes.resize(Below(events.envelopes.size()));
    ++traffic_.send_ranges;
    traffic_.events_sent += events.envelopes.size();
    Send(end, events);
  }

  void DeliverEvents(size_t end, const Deliver& deliver) {
    // Like the verifier: only the next seq of an origin is taken; repeats and gaps are not.
    const size_t site = ends_[end].site;
    bool changed = false;
    for (const std::string& envelope : deliver.envelopes) {
      const size_t slash = envelope.rfind('/');
      SIM_REQUIRE(slash != std::string::npos, envelope);
      const std::string origin = envelope.substr(0, slash);
      if (std::stoull(envelope.substr(slash + 1)) == sites_[site].vv.Seen(origin) + 1) {
        sites_[site].Add(origin, envelope);
        changed = true;
      } else {
        ++traffic_.ignored;
      }
    }
    Execute(end, Session(end).OnDelivered(Vv(end), now_));
    if (changed) LocalChange(site);
  }

  std::mt19937_64 rng_;
  SimConfig config_;
  bool faulty_ = false;
  std::vector<Site> sites_;
  std::vector<End> ends_;
  std::vector<Link> links_;
  std::priority_queue<Item, std::vector<Item>, Later> queue_;
  uint64_t next_order_ = 0;
  int64_t now_ = 0;
  uint64_t initial_total_ = 0;
  uint64_t appended_ = 0;
  uint64_t window_violations_ = 0;
  uint64_t chatter_on_wire_ = 0;  // Messages other than heartbeats not yet arrived.
  Traffic traffic_;
};

size_t SeedCount() {
  const char* n = std::getenv("BATON_SIM_SEEDS");
  return n == nullptr ? 200 : static_cast<size_t>(std::strtoul(n, nullptr, 10));
}

constexpr int64_t kFaultMs = 15'000;
constexpr int64_t kConvergeMs = 30'000;  // Bound after the faults stop (p95 ~6 s).
constexpr int64_t kSettleMs = 15'000;    // Bound: dead peers noticed, retries fired, all live.
constexpr int64_t kQuietMs = 6'000;      // Longer than retry_ms and dead_ms.

BOOST_AUTO_TEST_SUITE(PeerSessionSimTest)

BOOST_DATA_TEST_CASE(faulty_sites_converge_then_only_heartbeats_cross, bdata::xrange(SeedCount()),
                     seed) {
  std::mt19937_64 pick(seed * 7919 + 1);
  const auto below = [&pick](uint64_t n) { return static_cast<size_t>(pick() % n); };
  SimConfig config;
  config.sites = 2 + below(4);
  config.topology = static_cast<Topology>(below(3));
  config.window = 1 + below(4);
  config.batch_events = 1 + below(12);
  config.drop = 0.3 * static_cast<double>(below(100)) / 100;
  config.duplicate = 0.1 * static_cast<double>(below(100)) / 100;
  config.max_delay_ms = 1 + static_cast<int64_t>(below(600));
  config.cut = 0.01 * static_cast<double>(below(100)) / 100;
  config.heal = 0.05;
  config.restart = below(2) ? 0.002 : 0;
  config.short_batch = below(2) ? 0.1 : 0;

  Simulation sim(seed, config);
  std::vector<uint64_t> own;
  for (size_t s = 0; s < config.sites; ++s) own.push_back(below(20));
  sim.Seed(own, below(10));
  sim.ScheduleAppends(below(40 * config.sites), 0, kFaultMs);
  sim.Start();
  sim.RunFor(kFaultMs);

  sim.Heal();
  const int64_t healed_at = sim.now();
  const bool converged = sim.RunUntil(healed_at + kConvergeMs, [&sim] { return sim.Converged(); });
  BOOST_REQUIRE_MESSAGE(converged, "seed " << seed << ": no convergence within " << kConvergeMs
                                           << " ms of healing\n"
                                           << sim.Describe());
  const std::string logs = sim.CheckLogs();
  BOOST_REQUIRE_MESSAGE(logs.empty(), "seed " << seed << ": " << logs);
  BOOST_TEST_MESSAGE("seed " << seed << ": converged " << sim.now() - healed_at
                             << " ms after healing, " << sim.traffic().messages << " messages, "
                             << sim.traffic().ignored << " envelopes ignored");

  // Heard since healing: a silence from before it cannot time a session out later.
  const bool live =
      sim.RunUntil(sim.now() + kSettleMs, [&sim, healed_at] { return sim.AllLive(healed_at); });
  BOOST_REQUIRE_MESSAGE(live, "seed " << seed << ": not all live\n" << sim.Describe());
  sim.traffic() = Traffic{};
  sim.RunFor(kQuietMs);
  const Traffic& quiet = sim.traffic();
  BOOST_TEST_CONTEXT("seed " << seed << "\n" << sim.Describe()) {
    BOOST_TEST(quiet.send_ranges == 0u);
    BOOST_TEST(quiet.hellos == 0u);
    BOOST_TEST(quiet.acks == 0u);
    BOOST_TEST(quiet.heartbeats > 0u);
    BOOST_TEST(sim.AllLive());
  }
}

// Trees (chain, star) on lossless in-order links: every event crosses every link once, so the
// events sent are exactly the events the sites were missing, and the window is never exceeded.
BOOST_DATA_TEST_CASE(on_lossless_links_only_the_missing_events_cross, bdata::xrange(50), seed) {
  std::mt19937_64 pick(seed * 104729 + 3);
  const auto below = [&pick](uint64_t n) { return static_cast<size_t>(pick() % n); };
  SimConfig config;
  config.sites = 2 + below(4);
  config.topology = below(2) ? Topology::kChain : Topology::kStar;
  config.window = 1 + below(4);
  config.batch_events = 1 + below(12);

  Simulation sim(seed, config);
  std::vector<uint64_t> own;
  for (size_t s = 0; s < config.sites; ++s) own.push_back(below(20));
  sim.Seed(own, below(10));
  sim.ScheduleAppends(below(20 * config.sites), 0, 10'000);
  sim.Start();
  const bool converged =
      sim.RunUntil(40'000, [&sim] { return sim.now() > 10'000 && sim.Converged(); });
  BOOST_TEST_CONTEXT("seed " << seed << "\n" << sim.Describe()) {
    BOOST_REQUIRE(converged);
    BOOST_TEST(sim.CheckLogs() == "");
    // Holdings grew by the local appends plus what crossed a link: that, and nothing more.
    BOOST_TEST(sim.traffic().events_sent == sim.TotalHeld() - sim.initial_total() - sim.appended());
    BOOST_TEST(sim.traffic().ignored == 0u);
    BOOST_TEST(sim.traffic().hellos == 2 * (config.sites - 1));
    BOOST_TEST(sim.window_violations() == 0u);
  }
}

BOOST_AUTO_TEST_CASE(two_sites_exchange_exactly_what_each_lacks) {
  SimConfig config;
  config.window = 2;
  config.batch_events = 7;
  Simulation sim(1, config);
  sim.Seed({60, 30}, 40);  // Both hold s0/1..40 and s1/1..40; s0 has 60 more, s1 30 more.
  sim.Start();
  BOOST_REQUIRE(sim.RunUntil(10'000, [&sim] { return sim.Converged(); }));
  BOOST_TEST(sim.CheckLogs() == "");
  BOOST_TEST(sim.traffic().events_sent == 90u);
  BOOST_TEST(sim.traffic().send_ranges == 9u + 5u);  // ceil(60 / 7) + ceil(30 / 7).
  BOOST_TEST(sim.traffic().ignored == 0u);
  BOOST_TEST(sim.window_violations() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::daemon::replication
