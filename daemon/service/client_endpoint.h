// The daemon's client-facing socket: one ROUTER bound on ipc://DATA/batond.sock and optionally on
// tcp with CURVE, plus the ZAP handler that authenticates every connection before its first
// message: ipc peers by their OS user (from the kernel's peer credentials), tcp peers by an
// allowed CURVE public key. It moves frames only; requests are parsed by client/protocol.h.
// Frames: docs/client-protocol.md. Not thread-safe: owned and used by the daemon's loop thread,
// which must keep polling both poll items (the ZAP socket too) for handshakes to complete.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "crdt/status.h"

namespace baton::daemon {

// Messages the daemon queues for one client connection (ZMQ_SNDHWM of the ROUTER): replies and
// watch pushes it has not read yet. A full queue refuses the next message (Send: kUnavailable),
// so a client that stops reading pins at most this many messages in the daemon.
inline constexpr int kClientSendHighWater = 256;

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
  // kUnavailable if its pipe is full (a reader that stopped reading: drop its watch).
  Status Send(const std::string& routing_id, std::string_view text);

  // "ipc:///.../batond.sock" and the tcp endpoint actually bound (port resolved), or "".
  const std::string& ipc_endpoint() const { return ipc_endpoint_; }
  const std::string& tcp_endpoint() const { return tcp_endpoint_; }
  // The daemon's CURVE public key (Z85) derived from the secret key, or "" without tcp.
  const std::string& curve_public_z85() const { return curve_public_z85_; }

 private:
  ClientEndpoint(zmq::socket_t router, zmq::socket_t zap);
  // The User-Id for a handshake, or nullopt to refuse it.
  std::optional<std::string> Authenticate(const ZapRequest& request) const;

  zmq::socket_t router_;  // Loop thread only.
  zmq::socket_t zap_;     // Loop thread only.
  EndpointOptions options_;
  std::string ipc_endpoint_, tcp_endpoint_, curve_public_z85_;
};

// The OS user name of `uid` ("uid:1234" if the user database has none).
std::string UserNameOf(uid_t uid);

}  // namespace baton::daemon
