// The daemon: owns the ledger, the client endpoint and the client service, and runs the loop.
// One loop thread does everything but storage commits (the ledger's commit thread): poll the
// sockets, handle a batch of requests and the peers' messages, hand the pass's events (local and
// received) to the commit thread as one synced group, and go on while it is written; replies and
// peer acks that saw those events leave once the group is durable, and watchers get the events
// then. Nothing is acknowledged before it is durable: docs/operations.md#durability.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "crdt/status.h"
#include "daemon/config.h"
#include "daemon/ledger.h"
#include "daemon/replication/replicator.h"
#include "daemon/service/client_endpoint.h"
#include "daemon/service/client_service.h"

namespace baton::daemon {

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> Open(const Config& config);
  ~Daemon();

  // Runs until `stop` becomes true (checked at least every 100 ms). Returns the reason the loop
  // ended abnormally (a failed commit: the process must exit and restart from the log).
  Status Run(const std::atomic<bool>& stop);

  const Ledger& ledger() const { return *ledger_; }
  const ClientEndpoint& endpoint() const { return *endpoint_; }
  const replication::Replicator& replicator() const { return *replicator_; }

 private:
  struct Watcher {
    std::string watch_id;  // The request id of the watch; pushes carry it.
    std::string os_user;   // Who watches: a dropped watch is explained to them on the next one.
    uint64_t cursor = 0;   // Last arrival sent.
    int64_t last_push_ms = 0;
    // When its connection was first found over its send budget (client_endpoint.h), 0 while it
    // takes pushes. A watch stalled for kWatchStallMs is ended.
    int64_t stalled_since_ms = 0;
    int64_t last_try_ms = 0;  // Of a stalled watch: tried again every kStalledRetryMs.
  };

  // Requests of a connection over its send budget (client_endpoint.h), kept in order until it
  // has read enough of its replies (docs/client-protocol.md#back-pressure).
  struct Parked {
    std::deque<Incoming> requests;
    size_t bytes = 0;
  };

  struct Reply {
    std::string routing_id;
    std::string text;
  };
  // A reply waiting for the commit group that stores what it saw (ticket: Ledger::open_ticket
  // when it was made; 0 for none), and the watch it starts, registered when it leaves.
  struct Held {
    uint64_t ticket = 0;
    Reply reply;
    std::optional<Watcher> watch;
  };

  Daemon() = default;
  Status HandleBatch();
  // Takes the outcome of the commit group in flight: sends the replies and peer acks it made
  // durable, or turns those of a failed group into its error.
  Status ReapCommits(int64_t now_ms);
  // Sends the held replies whose groups are durable, in order.
  void SendHeld();
  // Replaces every held reply of the groups through `failed_through` by `failure`, and sends.
  void FailHeld(uint64_t failed_through, const Status& failure);
  void Unhold(const Held& h);  // Its bytes no longer count against its connection.
  // Sends one reply (a small error instead if its connection is over budget). True if the reply
  // itself was queued.
  bool SendReply(const Reply& reply);
  // Logs refused or lost replies, at most once a second.
  void LogRefusals(uint64_t refused_before, uint64_t lost_before);
  // Keeps `in` for later, or (over the parking limits) answers it at once with an error.
  void Park(Incoming in, std::vector<Reply>& replies);
  // True while a connection with parked requests has read enough to be served again.
  bool ParkedReady() const;
  // Lifts the rejoin hold once the peers confirm our head, or when the grace time is over.
  void ReleaseWrites(int64_t now_ms);
  void PushToWatchers(int64_t now_ms);
  // True while a watcher that takes pushes is behind the log: the loop then polls without
  // waiting, so a backlog streams at full speed in rounds of kMaxPushPerRound.
  bool WatchersBehind() const;

  Config config_;
  zmq::context_t context_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<ClientEndpoint> endpoint_;
  std::unique_ptr<ClientService> service_;
  std::unique_ptr<replication::Replicator> replicator_;  // Peers; after endpoint_ (its ZAP).
  std::map<std::string, Watcher> watchers_;              // By routing id. Loop thread only.
  std::map<std::string, Parked> parked_;                 // By routing id. Loop thread only.
  size_t parked_bytes_ = 0;
  std::deque<Held> held_;                      // In the order the requests were handled.
  std::map<std::string, int64_t> held_bytes_;  // Bytes of held_, by routing id.
  // Until then reports are refused while the site learns its own head from its peers
  // (docs/replication.md#rejoining); 0 once released.
  int64_t writes_held_until_ms_ = 0;
  bool rebuilding_ = false;  // The rebuild marker was present at start (`batond rebuild`).
  // Replies replaced by an error because their connection did not read: logged once a second.
  uint64_t replies_refused_ = 0;
  uint64_t replies_lost_ = 0;
  int64_t replies_refused_logged_ms_ = 0;
};

}  // namespace baton::daemon
