// See daemon/daemon.h.
#include "daemon/daemon.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "client/protocol.h"
#include "daemon/curve_keys.h"

namespace baton::daemon {
namespace {
constexpr size_t kMaxBatch = 256;         // Requests handled per commit.
constexpr size_t kMaxPushPerRound = 512;  // Events per watcher per loop round (flow control).
}  // namespace

Daemon::~Daemon() = default;

Result<std::unique_ptr<Daemon>> Daemon::Open(const Config& config) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->config_ = config;
  BATON_ASSIGN_OR_RETURN(d->ledger_, Ledger::Open(config, SystemWallClock));
  EndpointOptions eo;
  std::string ep = config.ClientEndpoint();
  const std::string prefix = "ipc://";
  if (ep.rfind(prefix, 0) != 0) {
    return Status::InvalidArgument("client_endpoint \"" + ep + "\" must be an ipc:// endpoint");
  }
  eo.ipc_path = ep.substr(prefix.size());
  eo.ipc_mode = 0600;
  if (!config.client_tcp.empty()) {
    // Remote clients: tcp, always with CURVE; only keys listed as client_key are admitted.
    BATON_ASSIGN_OR_RETURN(CurveKeyPair curve, ReadCurveKeys(config.KeyDir()));
    if (config.client_keys.empty()) {
      return Status::InvalidArgument(
          "client_tcp is set but no client_key is listed; add one with `batond allow-client`");
    }
    eo.tcp_bind = config.client_tcp;
    eo.curve_secret_z85 = curve.secret_z85;
    eo.allowed_client_keys_z85 = config.client_keys;
  }
  BATON_ASSIGN_OR_RETURN(d->endpoint_, ClientEndpoint::Open(d->context_, eo));
  d->service_ = std::make_unique<ClientService>(d->ledger_.get());
  return d;
}

Status Daemon::Run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    auto ready = endpoint_->Poll(100);
    if (!ready.ok()) return ready.status();
    BATON_TRY(HandleBatch());
    PushToWatchers(ledger_->Now());
  }
  return Status::Ok();
}

Status Daemon::HandleBatch() {
  struct Pending {
    std::string routing_id;
    std::string reply;
  };
  std::vector<Pending> replies;
  for (size_t i = 0; i < kMaxBatch; ++i) {
    auto in = endpoint_->Receive();
    if (!in) break;
    ClientService::Outcome out = service_->Handle(in->text, in->os_user);
    if (out.watch) {
      watchers_[in->routing_id] = Watcher{out.request_id, out.cursor, 0};
    } else if (out.unwatch) {
      watchers_.erase(in->routing_id);
    }
    replies.push_back(Pending{in->routing_id, std::move(out.reply)});
  }
  if (replies.empty()) return Status::Ok();
  // Ack only after the synced batch: docs/operations.md#durability.
  Status committed = ledger_->Commit();
  if (!committed.ok()) {
    for (const auto& p : replies) {
      endpoint_->Send(p.routing_id, client::MakeError(client::PeekRequestId(p.reply), committed))
          .Ignore();  // Best effort: the daemon is about to stop.
    }
    return committed.WithContext("commit failed; stopping so that a restart rebuilds from the log");
  }
  for (const auto& p : replies) {
    Status s = endpoint_->Send(p.routing_id, p.reply);
    if (!s.ok()) {
      // The client went away; its events (if any) are durable and it can query them.
      std::fprintf(stderr, "batond: reply not delivered: %s\n", s.ToString().c_str());
    }
  }
  return Status::Ok();
}

void Daemon::PushToWatchers(int64_t now_ms) {
  const uint64_t last = ledger_->last_arrival();
  // Read and convert the new events once for every watcher, from the one furthest behind; a
  // watcher further behind than one round's worth catches up over the next rounds.
  uint64_t from = last;
  for (const auto& [routing_id, w] : watchers_) from = std::min(from, w.cursor);
  std::vector<std::pair<uint64_t, nlohmann::json>> fresh;
  if (from < last) {
    std::vector<std::pair<uint64_t, crdt::Event>> events;
    Status read = ledger_->EventsAfter(from, kMaxPushPerRound, &events);
    if (!read.ok()) {
      std::fprintf(stderr, "batond: watch streams paused: %s\n", read.ToString().c_str());
      return;
    }
    fresh.reserve(events.size());
    for (const auto& [arrival, e] : events)
      fresh.emplace_back(arrival, service_->EventJson(e, arrival));
  }
  std::vector<std::string> gone;
  for (auto& [routing_id, w] : watchers_) {
    Status s;
    if (w.cursor < last) {
      for (size_t i = 0; s.ok() && i < fresh.size(); ++i) {
        const auto& [arrival, event] = fresh[i];
        if (arrival <= w.cursor) continue;
        s = endpoint_->Send(routing_id, client::MakeEventPush(w.watch_id, arrival, event));
        if (s.ok()) w.cursor = arrival;
      }
      w.last_push_ms = now_ms;
    } else if (now_ms - w.last_push_ms >= kWatchHeartbeatMs) {
      s = endpoint_->Send(routing_id, client::MakeHeartbeat(w.watch_id, w.cursor));
      w.last_push_ms = now_ms;
    }
    if (!s.ok()) gone.push_back(routing_id);
  }
  for (const auto& id : gone) watchers_.erase(id);
}

}  // namespace baton::daemon
