// The replicator: the peer transport of one site. It binds one ROUTER for peers that dial in and
// opens one DEALER link per configured peer, always CurveZMQ over tcp with keys derived from the
// sites' Ed25519 identities (identity::TransportPublicKey), and runs one PeerSession per link.
// The sessions decide; this file only moves frames, reads the ranges a session asks for from the
// store and hands received events to Ledger::Ingest. Peer connections are authenticated by the
// ZAP handler of the context (daemon/service/client_endpoint.h, domain kZapDomain): only the
// trust anchor and sites on the roster are admitted, and the admitted site id is the
// connection's User-Id. Protocol: docs/replication.md.
// Not thread-safe: owned and used by the daemon's loop thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "crdt/status.h"
#include "daemon/config.h"
#include "daemon/ledger.h"
#include "daemon/replication/fault_layer.h"
#include "daemon/replication/peer_session.h"
#include "daemon/service/client_endpoint.h"

namespace baton::daemon::replication {

class Replicator {
 public:
  static constexpr const char* kZapDomain = "baton-peer";

  // Binds config.peer_listen (if set) and prepares a link per config.peers; dialling starts on
  // the first Service() for peers whose key is known (the trust anchor's from the config, the
  // others' from the roster, possibly later). `ledger` is not owned and outlives this.
  // kUnavailable if libzmq is older than 4.3.3 or lacks CURVE; kIOError if the address cannot
  // be bound.
  static Result<std::unique_ptr<Replicator>> Open(zmq::context_t& context, Ledger* ledger,
                                                  const Config& config);
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Appends the poll items of every peer socket.
  void AppendPollItems(std::vector<zmq::pollitem_t>& items);
  // Receives what is queued on every peer socket, ingests received events, runs the sessions'
  // timers and sends what they ask for. Never blocks on the network. Takes no more frames once
  // `yield` says so (clients wait), or after about 10 ms. Returns a failed store write (the
  // daemon must stop, as for a failed commit).
  Status Service(int64_t now_ms, const std::function<bool()>& yield = {});
  // The ledger holds new events (local reports were committed): push them to the peers.
  void OnLocalChange(int64_t now_ms);
  // A commit group is durable (Ledger::Reap): acknowledges the deliveries it covers and pushes
  // the new events to the peers. Returns a failed store write, as Service does.
  Status OnDurable(int64_t now_ms);
  // A commit group failed and its events were undone: their deliveries are never acknowledged
  // (the peers send them again).
  void OnCommitFailed();

  // The ZAP decision for a peer connection (ClientEndpoint's other_domains): the site id of a
  // roster or trust-anchor key, nullopt to refuse (counted and logged).
  std::optional<std::string> Authenticate(const ZapRequest& request);

  // True once every peer this site dials has answered and none of them holds events of this
  // site that we lack (they would come back first): appending now cannot fork our own chain.
  // True at once for a site that dials no peer.
  bool OwnHeadConfirmed() const;
  // The dialled peers that have not answered yet, for the log.
  std::vector<crdt::SiteId> Unanswered() const;

  // Per link: site, direction, state, last heard, events each side lacks, skew, rejected and
  // forks: `baton sites`.
  nlohmann::json LinksJson(int64_t now_ms) const;
  // The tcp endpoint bound for peers (port resolved), or "".
  const std::string& listen_endpoint() const { return listen_endpoint_; }
  uint64_t refused_connections() const { return refused_; }

 private:
  struct Link {
    crdt::SiteId site;
    bool dialer = false;
    std::string endpoint;  // Dialer: where it connects.
    std::string key;       // Dialer: the key from its peer line, if any.
    bool key_mismatch_logged = false;
    // Dialer: the monitor of its DEALER (handshakes done), then the DEALER, once the key is
    // known. The socket is declared last so that it closes first.
    std::unique_ptr<zmq::socket_t> monitor;
    std::unique_ptr<zmq::socket_t> socket;
    std::string routing_id;  // Listener: the peer's routing id on our ROUTER.
    // Dialer: when the socket was opened, and how long to wait for an answer before opening a
    // new one (a refused CURVE handshake is not retried by libzmq; the roster may have changed).
    int64_t dialled_ms = 0;
    // The Hello said when dialling reached the socket (the handshake had already completed):
    // the handshake's own Hello would start a second conversation, and a full resend.
    bool dial_hello_sent = false;
    int64_t redial_after_ms = 2000;
    PeerSession session;
    uint64_t events_sent = 0, events_received = 0, bytes_sent = 0, bytes_received = 0;
    // For the log (LogLinkState): whether the session was talking at the last look, and the
    // catch-up under way, if any: since when, and the counters when it began.
    bool was_talking = false;
    int64_t catching_up_since_ms = -1;
    uint64_t catch_up_sent0 = 0, catch_up_received0 = 0;
    uint64_t sent_at_look = 0, received_at_look = 0;  // The counters at the last look.
    // Deliveries not acknowledged yet: the commit ticket each waits for, in order.
    std::deque<uint64_t> acks_due;
    explicit Link(SessionOptions options) : session(std::move(options)) {}
  };

  Replicator(zmq::context_t& context, Ledger* ledger, Config config);
  SessionOptions MakeSessionOptions(bool dialer) const;
  // Connects the DEALER of `link` once its peer's key is known; false if still unknown.
  bool Dial(Link& link, int64_t now_ms);
  // The dialled link is (re)connected: its session starts over with a Hello.
  void SayHello(Link& link, int64_t now_ms);
  void ReceiveFrom(Link& link, std::string_view bytes, int64_t now_ms, Status* failed);
  void OnRouterFrame(const std::string& routing_id, const std::string& user, std::string_view bytes,
                     int64_t now_ms, Status* failed);
  // Carries out `actions` on `link`.
  void Execute(Link& link, std::vector<Action> actions, int64_t now_ms, Status* failed);
  void SendBytes(Link& link, std::string bytes);
  void SendNow(Link& link, const std::string& bytes);
  void SendRangeTo(Link& link, const SendRange& range);
  void DeliverTo(Link& link, std::vector<std::string> envelopes, int64_t now_ms, Status* failed);
  // Acknowledges the deliveries of `link` whose events are durable.
  void AckDurable(Link& link, int64_t now_ms, Status* failed);
  // Logs what changed on `link` since the last look: the link went down (silent past dead_ms),
  // a catch-up began (at link-up with anything lacking, or a talking peer fell kBehindEvents
  // behind) or ended (both sides hold the same).
  void LogLinkState(Link& link, int64_t now_ms);
  // Z85 CURVE public key -> site id, for every key the roster or trust anchor holds.
  void RefreshAdmitted();
  // Counts and logs the handshakes the router's monitor reports as failed before ZAP.
  void DrainMonitor();
  // A dialled link whose CURVE handshake just succeeded says Hello at once (the one said at the
  // dial was dropped: the DEALER queues nothing before the handshake, ZMQ_IMMEDIATE) instead of
  // at the next hello_ms.
  void DrainLinkMonitor(Link& link, int64_t now_ms);

  zmq::context_t& context_;
  Ledger* ledger_;
  Config config_;
  std::string public_z85_, secret_z85_;  // Our transport keys.
  std::unique_ptr<zmq::socket_t> router_;
  // The router's failed handshakes (plaintext, another protocol): libzmq drops them before ZAP.
  std::unique_ptr<zmq::socket_t> monitor_;
  std::string listen_endpoint_;
  std::vector<std::unique_ptr<Link>> links_;      // Dialled links, then accepted ones.
  std::map<std::string, crdt::SiteId> admitted_;  // Z85 key -> site.
  uint64_t admitted_as_of_ = UINT64_MAX;          // Event count admitted_ was built at.
  uint64_t refused_ = 0;
  uint64_t link_monitors_ = 0;          // For unique inproc names.
  std::unique_ptr<FaultLayer> faults_;  // Tests only (config.fault_injection).
};

}  // namespace baton::daemon::replication
