// The daemon's client-facing socket: one ROUTER bound on ipc://DATA/batond.sock and optionally on
// tcp with CURVE, plus the ZAP handler that authenticates every connection before its first
// message: ipc peers by their OS user (from the kernel's peer credentials), tcp peers by an
// allowed CURVE public key. It moves frames only; requests are parsed by client/protocol.h.
// Frames: docs/client-protocol.md. Not thread-safe: owned and used by the daemon's loop thread,
// which must keep polling both poll items (the ZAP socket too) for handshakes to complete.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "crdt/status.h"

namespace baton::daemon {

// What the daemon holds for a client that does not read its replies and watch pushes
// (docs/client-protocol.md#back-pressure). A message counts from Send until libzmq has written
// it to the connection's socket. Send refuses a message (kUnavailable) to a connection that has
// something queued while
// - kClientSendBudgetBytes or more are queued for it, or
// - kClientSendBudgetTotalBytes or more are queued for all connections;
// a connection with nothing queued always takes its next message, however large. Messages of up
// to kClientSmallMessageBytes (errors, heartbeats) are exempt, so a client can always be told
// why; they are bounded by number: kClientSendHighWater per connection (ZMQ_SNDHWM of the
// ROUTER, which counts every message). So a connection pins at most kClientSendBudgetBytes,
// one message and kClientSendHighWater small ones (up to 4 MiB).
inline constexpr int64_t kClientSendBudgetBytes = int64_t{256} << 10;
inline constexpr int64_t kClientSendBudgetTotalBytes = int64_t{64} << 20;
inline constexpr size_t kClientSmallMessageBytes = 1024;
inline constexpr int kClientSendHighWater = 4096;

// One ZAP request (RFC 27) for a domain other than the client endpoint's.
struct ZapRequest {
  std::string domain;
  std::string address;           // "localhost:UID:GID:PID" for ipc, "IP" for tcp.
  std::string mechanism;         // "NULL", "PLAIN" or "CURVE".
  std::string curve_public_z85;  // CURVE only.
};

struct EndpointOptions {
  // The ipc socket file, e.g. DATA/batond.sock. Its directory must exist; restricting the
  // directory (0700 or 0750) is the caller's job. Paths are limited to ~100 bytes by the OS.
  std::filesystem::path ipc_path;
  // Mode of the socket file after bind. 0660: the daemon's group may connect.
  mode_t ipc_mode = 0660;

  // Optional tcp transport, e.g. "tcp://127.0.0.1:7200" ("*" as port picks a free one).
  // Needs the CURVE server secret key and the client keys it admits.
  std::string tcp_bind;
  std::string curve_secret_z85;  // The daemon's CURVE secret key, 40 Z85 characters.
  std::vector<std::string> allowed_client_keys_z85;

  // The ZAP handler is per ZeroMQ context: sockets of other domains in the same context (the
  // replication ROUTER) are decided here. Returns the User-Id to admit, nullopt to refuse.
  // Unset: other domains are refused. Called on the loop thread.
  std::function<std::optional<std::string>(const ZapRequest&)> other_domains;
};

// A request frame and who sent it.
struct Incoming {
  std::string routing_id;  // Opaque; pass back to Send.
  // "alice" for an ipc peer (OS user name, or "uid:1234" if it has no name); "curve:AbCdEfGh"
  // (first 8 Z85 characters of the client key) for a tcp peer.
  std::string os_user;
  std::string text;  // The request JSON, unparsed.
};

class ClientEndpoint {
 public:
  // ZAP domain of the client endpoint.
  static constexpr const char* kZapDomain = "baton-client";

  // Binds the ZAP handler (inproc://zeromq.zap.01: one per context) and the ROUTER.
  // kInvalidArgument for bad options, kIOError if an address cannot be bound (names it),
  // kUnavailable if CURVE is asked for and libzmq lacks it.
  static Result<std::unique_ptr<ClientEndpoint>> Open(zmq::context_t& context,
                                                      const EndpointOptions& options);
  ~ClientEndpoint();
  ClientEndpoint(const ClientEndpoint&) = delete;
  ClientEndpoint& operator=(const ClientEndpoint&) = delete;

  // For a loop that polls several sockets: appends two items (the ROUTER, then the ZAP socket)
  // and returns the index of the first. After zmq::poll, call ServiceZap() and drain Receive().
  size_t AppendPollItems(std::vector<zmq::pollitem_t>& items);
  // Answers every pending ZAP request; never blocks.
  void ServiceZap();
  // For a loop that polls only this endpoint: waits up to `timeout_ms` (-1: forever) while
  // serving ZAP, true once a request is ready to Receive().
  Result<bool> Poll(int timeout_ms);

  // The next request, or nullopt when none is queued; never blocks. A message that is not one
  // frame (e.g. a REQ socket's empty delimiter) is answered with an invalid_argument error
  // here and skipped.
  std::optional<Incoming> Receive();

  // Queues one frame for the peer; never blocks. kNotFound if the peer has disconnected,
  // kUnavailable if it is over a budget above (a reader that stopped reading: drop its watch,
  // or answer with a small error instead).
  Status Send(const std::string& routing_id, std::string_view text);
  // Bytes queued for one connection (or all of them) that libzmq has not written yet.
  int64_t QueuedBytes(const std::string& routing_id) const;
  int64_t QueuedBytes() const { return queued_->total.load(); }
  // True once kClientSendBudgetBytes or more are queued for the connection, counting `pending`
  // bytes about to be sent: its client has not read enough to be sent more.
  bool OverBudget(const std::string& routing_id, int64_t pending = 0) const {
    return QueuedBytes(routing_id) + pending >= kClientSendBudgetBytes;
  }

  // "ipc:///.../batond.sock" and the tcp endpoint actually bound (port resolved), or "".
  const std::string& ipc_endpoint() const { return ipc_endpoint_; }
  const std::string& tcp_endpoint() const { return tcp_endpoint_; }
  // The daemon's CURVE public key (Z85) derived from the secret key, or "" without tcp.
  const std::string& curve_public_z85() const { return curve_public_z85_; }

 private:
  ClientEndpoint(zmq::socket_t router, zmq::socket_t zap);
  // The User-Id for a handshake, or nullopt to refuse it.
  std::optional<std::string> Authenticate(const ZapRequest& request) const;

  // Byte counts of queued messages. Each message holds its connection's Outbox and the Totals
  // and gives its bytes back when libzmq frees it (on its I/O thread, maybe after this
  // endpoint is gone: hence shared ownership and atomics).
  struct Totals {
    std::atomic<int64_t> total{0};
  };
  struct Outbox {
    std::atomic<int64_t> bytes{0};
  };
  struct Queued;
  static void Release(void* data, void* hint);
  // Forgets connections with nothing queued once there are many of them.
  void PruneOutboxes();

  zmq::socket_t router_;  // Loop thread only.
  zmq::socket_t zap_;     // Loop thread only.
  std::shared_ptr<Totals> queued_ = std::make_shared<Totals>();
  std::unordered_map<std::string, std::shared_ptr<Outbox>> outboxes_;  // Loop thread only.
  size_t prune_at_ = 1024;
  EndpointOptions options_;
  std::string ipc_endpoint_, tcp_endpoint_, curve_public_z85_;
};

// The OS user name of `uid` ("uid:1234" if the user database has none).
std::string UserNameOf(uid_t uid);

}  // namespace baton::daemon
