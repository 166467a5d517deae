// The client library: one ZeroMQ DEALER connected to a batond (ipc://DATA/batond.sock, or tcp
// with CURVE), synchronous calls and a watch stream. Frames and ops: docs/client-protocol.md.
// One outstanding call at a time; a Client is used by one thread. A call that times out resets
// the socket, so a late reply can never be taken for the answer to a later call and a request
// still queued is dropped, not delivered when the daemon comes back.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <zmq.hpp>

#include "crdt/status.h"

namespace baton::client {

struct CurveClientKeys {
  std::string server_public_z85;  // The daemon's CURVE public key, 40 Z85 characters.
  std::string public_z85;         // This client's key pair; the public key must be allowed
  std::string secret_z85;         // by the daemon (EndpointOptions::allowed_client_keys_z85).
};

struct ClientOptions {
  int timeout_ms = 5000;                 // Per call: connect + send + reply.
  std::optional<CurveClientKeys> curve;  // Required for tcp:// endpoints.
};

class Client {
 public:
  // Validates `endpoint` ("ipc://PATH" or "tcp://HOST:PORT") and the keys, and connects.
  // Connecting is asynchronous: a daemon that is not running shows up as kUnavailable on the
  // first Call.
  static Result<Client> Connect(std::string endpoint, ClientOptions options = {});

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // Sends `op` with `args` (an object or null) and returns the reply's result.
  // Errors: the daemon's error as a Status (same code and message); kUnavailable "no reply from
  // batond at ipc://... within 5000 ms (is it running? try `batond run`)"; kInvalidArgument for
  // a request over kMaxRequestBytes (not sent). Watch pushes that arrive meanwhile are queued.
  Result<nlohmann::json> Call(const std::string& op, const nlohmann::json& args = nullptr);

  // Every event of the daemon's log: the `export` pages gathered into one result
  // {"site","runbook","digest","events":[...]} (the digest of the state after the last page).
  Result<nlohmann::json> Export();
  // The same pages written as an evidence bundle (client/bundle.h) at `file`, page by page (the
  // whole log is never held): the events' stored bytes, arrival counters and times, the roster,
  // trust anchor, fork evidence and state digest of the last page. Returns the events written.
  Result<uint64_t> ExportBundle(const std::filesystem::path& file);
  // The `export` pages in order, each checked for shape; `last` on the final one.
  Status ForEachExportPage(const std::function<Status(nlohmann::json& page, bool last)>& visit);

  // Starts a watch from `cursor` (0: every event) and returns once the daemon has accepted it.
  Status StartWatch(uint64_t cursor);
  // Ends the watch (best effort on the daemon side) and drops queued pushes.
  Status StopWatch();
  // The next push of the watch (`{"stream":"event"|"heartbeat","cursor":N,...}` as sent), or
  // nullopt when none arrives within `timeout_ms`. If the daemon has been silent for longer than
  // three heartbeat intervals, reconnects and resumes the watch from last_cursor() first.
  // An error the daemon ended the watch with (kCorruption: its log failed a check before an
  // event was served) is returned, and the watch is over.
  Result<std::optional<nlohmann::json>> NextPush(int timeout_ms);
  // Highest cursor seen on the watch (events and heartbeats); StartWatch's cursor before that.
  uint64_t last_cursor() const { return last_cursor_; }
  bool watching() const { return watching_; }
  // True once after a resume found the daemon's arrivals renumbered (`batond repair`): the
  // watch restarted from the first event, so cursors seen before mean nothing now.
  bool TakeRenumbered() { return std::exchange(renumbered_, false); }
  // Once after a resume, why the daemon had ended the watch (its client did not read its
  // pushes and the queue filled up); empty otherwise.
  std::string TakeDropped() { return std::exchange(dropped_, std::string()); }

  // Drops the connection (and any queued request) and connects again; resumes the watch from
  // last_cursor() if one is active.
  Status Reconnect();

  const std::string& endpoint() const { return endpoint_; }

 private:
  Client(std::string endpoint, ClientOptions options);
  Status OpenSocket();
  // Sends one request and waits for its reply until `deadline`.
  Result<nlohmann::json> Exchange(const std::string& op, const nlohmann::json& args);
  Status SendWatch();
  std::string Unavailable() const;

  std::string endpoint_;
  ClientOptions options_;
  // A socket must close before its context, or terminating the context blocks for ever. Moves
  // assign in declaration order, so socket_ comes first (the old socket closes, then its
  // context); the destructor closes socket_ itself, before members are destroyed.
  std::unique_ptr<zmq::socket_t> socket_;
  std::unique_ptr<zmq::context_t> context_;
  uint64_t next_id_ = 0;

  bool watching_ = false;
  std::optional<std::string> epoch_;  // Arrival numbering of last_cursor_, once known.
  bool renumbered_ = false;
  std::string dropped_;  // The daemon's reason for ending the last watch (TakeDropped).
  std::string watch_id_;
  uint64_t last_cursor_ = 0;
  int heartbeat_ms_ = 2000;  // From the watch reply; silence for 3x this means resume.
  std::chrono::steady_clock::time_point last_heard_;
  std::deque<nlohmann::json> pushes_;  // Received during a Call, in arrival order.
};

}  // namespace baton::client
