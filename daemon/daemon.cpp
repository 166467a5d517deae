// See daemon/daemon.h.
#include "daemon/daemon.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <utility>
#include <vector>

#include "client/protocol.h"
#include "daemon/curve_keys.h"

namespace baton::daemon {
namespace {
constexpr size_t kMaxBatch = 128;  // Requests handled per pass of the loop.
// Replies waiting for their commit group; beyond them no request is read until it is durable
// (a slow disk holds back clients, instead of piling up their replies).
constexpr size_t kMaxHeldReplies = 4096;
// The background scrub (docs/operations.md#what-batond-checks-before-it-serves-an-event): events
// checked per round of the loop (about a millisecond), and the pause between whole passes.
constexpr size_t kScrubSlice = 256;
constexpr int64_t kScrubIntervalMs = 10 * 60 * 1000;
// Reply bytes gathered before a commit: a batch of large replies (export pages) ends early.
constexpr size_t kMaxBatchReplyBytes = size_t{16} << 20;
// Events per watcher per loop round: well under the connection's queue (kClientSendHighWater
// messages; large events also count against kClientSendBudgetBytes), so that a reading client is
// rarely found full by one round.
constexpr size_t kMaxPushPerRound = 64;
// And at most this many bytes of events (at least one event), read a round's worth at a time;
// the round's cache of serialised events is emptied when it grows past kMaxPushCacheBytes.
constexpr size_t kMaxPushBytesPerRound = size_t{1} << 20;
constexpr size_t kMaxPushCacheBytes = size_t{8} << 20;
// A watch whose connection stays full this long (its client does not read) is ended.
constexpr int64_t kWatchStallMs = 10000;
// How often a stalled watch is tried again meanwhile: each try reads and converts its next
// events, which must not cost every round.
constexpr int64_t kStalledRetryMs = 250;
// Requests kept for a connection over its send budget (docs/client-protocol.md#back-pressure):
// per connection, and in all. Beyond them a request is answered with an error at once.
constexpr size_t kMaxParkedRequests = 256;
constexpr size_t kMaxParkedBytes = size_t{8} << 20;
constexpr size_t kMaxParkedTotalBytes = size_t{64} << 20;
}  // namespace

Daemon::~Daemon() = default;

Result<std::unique_ptr<Daemon>> Daemon::Open(const Config& config) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->config_ = config;
  BATON_ASSIGN_OR_RETURN(d->ledger_, Ledger::Open(config, SystemWallClock));
  // `batond init` makes it 0700: anyone else who may write there could replace the log, the
  // config or the keys.
  struct stat dir_stat {};
  if (::stat(config.data_dir.c_str(), &dir_stat) == 0 && (dir_stat.st_mode & 022) != 0) {
    spdlog::warn(
        "{} is writable by group or others (mode {:04o}): anyone who may write there "
        "can replace its log, config or keys; run chmod 700 {}",
        config.data_dir.string(), dir_stat.st_mode & 07777, config.data_dir.string());
  }
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
  // Peer connections are authenticated by the same ZAP handler (one per context).
  Daemon* self = d.get();
  eo.other_domains = [self](const ZapRequest& request) -> std::optional<std::string> {
    if (!self->replicator_) return std::nullopt;
    return self->replicator_->Authenticate(request);
  };
  BATON_ASSIGN_OR_RETURN(d->endpoint_, ClientEndpoint::Open(d->context_, eo));
  d->service_ = std::make_unique<ClientService>(d->ledger_.get());
  BATON_ASSIGN_OR_RETURN(d->replicator_,
                         replication::Replicator::Open(d->context_, d->ledger_.get(), config));
  d->service_->set_links([self] { return self->replicator_->LinksJson(self->ledger_->Now()); });
  d->service_->set_clients([self] {
    size_t waiting = 0;
    for (const auto& [id, p] : self->parked_) waiting += p.requests.size();
    return nlohmann::json{{"watches", self->watchers_.size()},
                          {"queued_bytes", self->endpoint_->QueuedBytes()},
                          {"waiting_requests", waiting},
                          {"refused", self->replies_refused_},
                          {"lost", self->replies_lost_}};
  });
  std::error_code ec;
  d->rebuilding_ = std::filesystem::exists(config.RebuildMarkerPath(), ec);
  if (d->rebuilding_) {
    if (config.peers.empty()) {
      return Status::InvalidArgument(
          config.RebuildMarkerPath().string() +
          ": the log is being rebuilt from the peers, but the config has no `peer` line");
    }
    // Its log was lost: every seq it ever issued may be held by a peer. No grace time: reports
    // wait until every peer has answered (docs/operations.md#rebuilding-a-site).
    d->writes_held_until_ms_ = std::numeric_limits<int64_t>::max();
    d->service_->set_writes_held("site " + config.site +
                                 " is rejoining its peers after `batond rebuild`: it takes its "
                                 "log back from every peer before it records new reports");
    spdlog::warn(
        "rebuilding from peers: reports wait until every peer has confirmed this site's "
        "own chain");
  } else if (!config.peers.empty()) {
    // A site restored from an older copy of its directory would reissue seqs its peers already
    // hold with other content: before appending, learn our own head from them.
    d->writes_held_until_ms_ = d->ledger_->Now() + config.rejoin_grace_ms;
    d->service_->set_writes_held("site " + config.site +
                                 " is rejoining its peers: it learns its own latest events from "
                                 "them before it records new ones (a few seconds); retry shortly");
  }
  return d;
}

Status Daemon::Run(const std::atomic<bool>& stop) {
  std::vector<zmq::pollitem_t> items;
  while (!stop.load()) {
    items.clear();
    endpoint_->AppendPollItems(items);
    replicator_->AppendPollItems(items);
    // Wakes the loop when the commit group in flight is durable.
    items.push_back({nullptr, ledger_->commit_fd(), ZMQ_POLLIN, 0});
    try {
      // Short: the peer sessions' timers (heartbeats, retries) run between polls.
      zmq::poll(items.data(), items.size(),
                std::chrono::milliseconds(WatchersBehind() || ParkedReady() ? 0 : 50));
    } catch (const zmq::error_t& e) {
      // A signal (SIGTERM, SIGINT) interrupts the poll: check the stop flag.
      if (e.num() != EINTR) return Status::IOError(std::string("poll: ") + e.what());
    }
    endpoint_->ServiceZap();
    BATON_TRY(ReapCommits(ledger_->Now()));
    BATON_TRY(HandleBatch());
    // Clients' events go at once if the disk is free, alone: written while the peers' batches
    // are verified, not after them.
    ledger_->Submit(/*received_too=*/false);
    const int64_t now = ledger_->Now();
    // Peer batches give way as soon as a group that replies wait for is durable.
    BATON_TRY(replicator_->Service(now, [&] { return !held_.empty() && ledger_->commit_done(); })
                  .WithContext("storing received events failed; stopping so that a restart "
                               "rebuilds from the log"));
    // The events of this pass go in one synced group unless one is being written: then they
    // wait for it and go in the next (group commit).
    BATON_TRY(ReapCommits(now));
    ledger_->Submit();
    if (writes_held_until_ms_ != 0) ReleaseWrites(now);
    PushToWatchers(now);
    // The log is checked a slice per round, in rounds with time to spare.
    if (!WatchersBehind()) BATON_TRY(ledger_->ScrubStep(kScrubSlice, now, kScrubIntervalMs));
  }
  // What was handled is answered before the daemon stops: its events are committed first.
  Status committed = ledger_->Commit();
  if (committed.ok()) {
    SendHeld();
  } else {
    FailHeld(UINT64_MAX, committed);
  }
  return ledger_->broken() ? committed : Status::Ok();
}

void Daemon::ReleaseWrites(int64_t now_ms) {
  const bool confirmed = replicator_->OwnHeadConfirmed();
  if (!confirmed && now_ms < writes_held_until_ms_) return;
  writes_held_until_ms_ = 0;
  service_->set_writes_held("");
  const uint64_t own = ledger_->projection().version_vector().Seen(config_.site);
  if (rebuilding_) {
    rebuilding_ = false;
    std::error_code ec;
    std::filesystem::remove(config_.RebuildMarkerPath(), ec);
    spdlog::info(
        "rebuilt from peers: {} events, this site's own chain ends at seq {}{}",
        ledger_->projection().event_count(), own,
        ec ? "; could not remove " + config_.RebuildMarkerPath().string() + ": " + ec.message()
           : std::string());
  }
  if (confirmed) {
    spdlog::info("rejoined: peers confirm this site's own chain ends at seq {}; accepting reports",
                 own);
    return;
  }
  std::string missing;
  for (const auto& s : replicator_->Unanswered()) missing += (missing.empty() ? "" : ", ") + s;
  spdlog::warn(
      "accepting reports without hearing from {} (own chain at seq {}): if this data directory "
      "was restored from an older copy, stop batond and start it when a peer is reachable",
      missing.empty() ? std::string("every peer") : missing, own);
}

void Daemon::Park(Incoming in, std::vector<Reply>& replies) {
  Parked& p = parked_[in.routing_id];
  const size_t size = in.text.size();
  if (p.requests.size() < kMaxParkedRequests && p.bytes + size <= kMaxParkedBytes &&
      parked_bytes_ + size <= kMaxParkedTotalBytes) {
    p.bytes += size;
    parked_bytes_ += size;
    p.requests.push_back(std::move(in));
    return;
  }
  // Small, so never refused for its size; it may overtake the parked requests' replies.
  replies.push_back(Reply{
      in.routing_id,
      client::MakeError(
          client::PeekRequestId(in.text),
          Status::Unavailable("the request was not handled: this connection has " +
                              std::to_string(p.requests.size()) +
                              " requests waiting while it does not read " +
                              std::to_string(endpoint_->QueuedBytes(in.routing_id)) +
                              " bytes of replies (docs/client-protocol.md#back-pressure); read "
                              "them, then ask again"))});
  ++replies_refused_;
  if (p.requests.empty()) parked_.erase(in.routing_id);
}

bool Daemon::ParkedReady() const {
  return std::any_of(parked_.begin(), parked_.end(),
                     [&](const auto& entry) { return !endpoint_->OverBudget(entry.first); });
}

Status Daemon::HandleBatch() {
  const size_t held_before = held_.size();
  size_t reply_bytes = 0;
  size_t handled = 0;
  // A connection's replies of this batch, and those waiting for their commit, count against its
  // budget before they are sent.
  std::map<std::string, int64_t> batch_bytes;
  const auto over_budget = [&](const std::string& id) {
    const auto it = batch_bytes.find(id);
    const auto held = held_bytes_.find(id);
    return endpoint_->OverBudget(id, (it == batch_bytes.end() ? 0 : it->second) +
                                         (held == held_bytes_.end() ? 0 : held->second));
  };
  const auto room = [&] {
    return handled < kMaxBatch && reply_bytes < kMaxBatchReplyBytes &&
           held_.size() < kMaxHeldReplies;
  };
  std::vector<Held> replies;
  const auto handle = [&](const Incoming& in) {
    ClientService::Outcome out = service_->Handle(in.text, in.os_user);
    Held h{0, Reply{in.routing_id, std::move(out.reply)}, std::nullopt};
    if (out.watch) {
      // Registered when its reply leaves: no push may come before it.
      h.watch = Watcher{out.request_id, in.os_user, out.cursor, 0, 0, 0};
    } else if (out.unwatch) {
      watchers_.erase(in.routing_id);
    }
    ++handled;
    reply_bytes += h.reply.text.size();
    batch_bytes[in.routing_id] += static_cast<int64_t>(h.reply.text.size());
    replies.push_back(std::move(h));
  };
  // First the parked requests of connections that have read enough since, in order.
  for (auto it = parked_.begin(); it != parked_.end() && room();) {
    Parked& p = it->second;
    while (!p.requests.empty() && room() && !over_budget(it->first)) {
      Incoming in = std::move(p.requests.front());
      p.requests.pop_front();
      p.bytes -= in.text.size();
      parked_bytes_ -= in.text.size();
      handle(in);
    }
    it = p.requests.empty() ? parked_.erase(it) : std::next(it);
  }
  // Then new ones; a connection with requests parked, or over its budget, parks this one too.
  std::vector<Reply> refusals;
  for (size_t received = 0; received < kMaxBatch && room(); ++received) {
    auto in = endpoint_->Receive();
    if (!in) break;
    if (parked_.count(in->routing_id) != 0 || over_budget(in->routing_id)) {
      Park(std::move(*in), refusals);
      continue;
    }
    handle(*in);
  }
  // Refusals depend on no state: they leave at once.
  for (auto& r : refusals) held_.push_back(Held{0, std::move(r), std::nullopt});
  // Every reply of the batch saw the state with the batch's events: it leaves once they are
  // durable, after the commit group that stores them (docs/operations.md#durability).
  const uint64_t ticket = ledger_->open_ticket();
  for (auto& h : replies) {
    h.ticket = ticket;
    held_bytes_[h.reply.routing_id] += static_cast<int64_t>(h.reply.text.size());
    held_.push_back(std::move(h));
  }
  if (held_.size() != held_before) SendHeld();
  return Status::Ok();
}

void Daemon::SendHeld() {
  const uint64_t refused_before = replies_refused_;
  const uint64_t lost_before = replies_lost_;
  while (!held_.empty() && held_.front().ticket <= ledger_->durable_ticket()) {
    Held h = std::move(held_.front());
    held_.pop_front();
    Unhold(h);
    if (SendReply(h.reply) && h.watch) watchers_[h.reply.routing_id] = std::move(*h.watch);
  }
  LogRefusals(refused_before, lost_before);
}

void Daemon::FailHeld(uint64_t failed_through, const Status& failure) {
  // Nothing of the failed groups was stored: every reply that waited for them (queries too,
  // which saw the unstored events) becomes the error. Watches of them are not registered.
  for (auto& h : held_) {
    if (h.ticket > ledger_->durable_ticket() && h.ticket <= failed_through) {
      h.reply.text = client::MakeError(client::PeekRequestId(h.reply.text), failure);
      h.watch.reset();
      h.ticket = 0;
    }
  }
  SendHeld();
}

void Daemon::Unhold(const Held& h) {
  const auto it = held_bytes_.find(h.reply.routing_id);
  if (it == held_bytes_.end()) return;
  it->second -= static_cast<int64_t>(h.reply.text.size());
  if (it->second <= 0) held_bytes_.erase(it);
}

bool Daemon::SendReply(const Reply& p) {
  Status s = endpoint_->Send(p.routing_id, p.text);
  if (s.code() == StatusCode::kUnavailable) {
    ++replies_refused_;
    const int64_t unread = endpoint_->QueuedBytes(p.routing_id);
    // A client that does not read what it asked for: it is told so in a small reply (never
    // refused for its size), not left waiting. Its events, if any, are durable.
    s = endpoint_->Send(
        p.routing_id,
        client::MakeError(
            client::PeekRequestId(p.text),
            Status::Unavailable(
                "the reply (" + std::to_string(p.text.size()) +
                " bytes) was not sent: this connection has not read " + std::to_string(unread) +
                " bytes of earlier replies and pushes (docs/client-protocol.md#back-pressure); "
                "read them, then ask again")));
    if (s.ok()) return false;
  }
  if (s.code() == StatusCode::kNotFound) {
    // The client went away; its events (if any) are durable and it can query them. What it
    // left parked is not worth doing.
    const auto parked = parked_.find(p.routing_id);
    if (parked != parked_.end()) {
      parked_bytes_ -= parked->second.bytes;
      parked_.erase(parked);
    }
    return false;
  }
  if (!s.ok()) {
    ++replies_lost_;  // Its queue is full even for a small error.
    return false;
  }
  return true;
}

void Daemon::LogRefusals(uint64_t refused_before, uint64_t lost_before) {
  const int64_t now = ledger_->Now();
  if ((replies_refused_ != refused_before || replies_lost_ != lost_before) &&
      now - replies_refused_logged_ms_ >= 1000) {
    replies_refused_logged_ms_ = now;
    spdlog::warn(
        "{} replies or requests in all were refused: their connections did not read what they "
        "had asked for (docs/client-protocol.md#back-pressure); each was answered with an "
        "error{}",
        replies_refused_,
        replies_lost_ == 0 ? std::string()
                           : ", but " + std::to_string(replies_lost_) +
                                 " could not be sent even so (their connections' queues full)");
  }
}

Status Daemon::ReapCommits(int64_t now_ms) {
  const Ledger::Reaped reaped = ledger_->Reap();
  if (!reaped.finished) return Status::Ok();
  if (!reaped.failure.ok()) {
    FailHeld(reaped.failed_through, reaped.failure);
    replicator_->OnCommitFailed();
    if (ledger_->broken()) {
      return reaped.failure.WithContext(
          "commit failed; stopping so that a restart rebuilds from the log");
    }
    // The ledger is back on what is stored (a full disk, docs/operations.md#a-full-disk).
    spdlog::warn("{}", reaped.failure.ToString());
    return Status::Ok();
  }
  SendHeld();
  return replicator_->OnDurable(now_ms).WithContext(
      "storing received events failed; stopping so that a restart rebuilds from the log");
}

bool Daemon::WatchersBehind() const {
  const uint64_t last = ledger_->last_arrival();
  return std::any_of(watchers_.begin(), watchers_.end(), [&](const auto& entry) {
    // A stalled one too once its client has read: it can go on at full speed.
    return entry.second.cursor < last &&
           (entry.second.stalled_since_ms == 0 || !endpoint_->OverBudget(entry.first));
  });
}

void Daemon::PushToWatchers(int64_t now_ms) {
  const uint64_t last = ledger_->last_arrival();
  // Each event is read and converted once per round, however many watchers it goes to; each
  // watcher gets at most kMaxPushPerRound events after its own cursor, so one far behind (or
  // stalled) never holds back the others.
  // Events are kept serialised, and the round's cache is bounded by bytes: large events (plans)
  // come a few at a time.
  std::map<uint64_t, std::string> fresh;
  size_t fresh_bytes = 0;
  const auto read_from = [&](uint64_t cursor) -> Status {
    if (fresh_bytes > kMaxPushCacheBytes) {
      fresh.clear();
      fresh_bytes = 0;
    }
    std::vector<Ledger::ServedEvent> events;
    BATON_TRY(ledger_->ReadServed(cursor, kMaxPushPerRound, &events, kMaxPushBytesPerRound));
    for (const auto& e : events) {
      auto [it, added] = fresh.emplace(e.arrival, std::string());
      if (!added) continue;
      it->second = client::Dump(service_->EventJson(e.event, e.arrival));
      fresh_bytes += it->second.size();
    }
    return Status::Ok();
  };
  std::vector<std::string> gone;
  for (auto& [routing_id, w] : watchers_) {
    // A stalled watch whose client has read enough goes on at once (as WatchersBehind says).
    const bool over_budget = endpoint_->OverBudget(routing_id);
    if (w.stalled_since_ms != 0 && now_ms - w.last_try_ms < kStalledRetryMs &&
        now_ms - w.stalled_since_ms < kWatchStallMs && over_budget) {
      continue;
    }
    w.last_try_ms = now_ms;
    Status s;
    if (over_budget) {
      s = Status::Unavailable("over its send budget");  // Nothing read for it in vain.
    } else if (w.cursor < last) {
      size_t bytes = 0;
      for (size_t n = 0;
           s.ok() && n < kMaxPushPerRound && bytes < kMaxPushBytesPerRound && w.cursor < last;
           ++n) {
        auto it = fresh.find(w.cursor + 1);
        if (it == fresh.end()) {
          Status read = read_from(w.cursor);
          if (!read.ok()) {
            // Never serve what failed its checks, and never leave the watcher waiting in
            // silence: it gets the error (a reply to its watch request) and the watch ends.
            spdlog::error("watch of {} at cursor {} ended: {}", w.os_user, w.cursor,
                          read.ToString());
            endpoint_->Send(routing_id, client::MakeError(w.watch_id, read)).Ignore();
            s = Status::NotFound("watch ended");
            break;
          }
          it = fresh.find(w.cursor + 1);
          if (it == fresh.end()) break;  // Not readable yet (an arrival being written).
        }
        s = endpoint_->Send(routing_id,
                            client::MakeEventPushText(w.watch_id, it->first, it->second));
        if (s.ok()) {
          w.cursor = it->first;
          w.last_push_ms = now_ms;
        }
        bytes += it->second.size();
      }
    } else if (now_ms - w.last_push_ms >= kWatchHeartbeatMs) {
      s = endpoint_->Send(routing_id, client::MakeHeartbeat(w.watch_id, w.cursor));
      if (s.ok()) w.last_push_ms = now_ms;
    }
    // A watch that took pushes this round is reading, even if it reached its budget again.
    if (s.ok() || w.last_push_ms == now_ms) {
      w.stalled_since_ms = 0;
      continue;
    }
    if (s.code() != StatusCode::kUnavailable) {  // Disconnected (nobody to tell), or ended.
      gone.push_back(routing_id);
      continue;
    }
    // Its queue is full: the client is not reading. Wait for it, then give up on it.
    if (w.stalled_since_ms == 0) w.stalled_since_ms = now_ms;
    if (now_ms - w.stalled_since_ms < kWatchStallMs) continue;
    const std::string reason = "the watch " + w.watch_id + " was ended at cursor " +
                               std::to_string(w.cursor) + ": its connection did not read for " +
                               std::to_string(kWatchStallMs / 1000) + " s with " +
                               std::to_string(endpoint_->QueuedBytes(routing_id)) + " bytes queued";
    spdlog::warn("watch of {}: {}", w.os_user, reason);
    service_->NoteDroppedWatch(w.os_user, reason);
    gone.push_back(routing_id);
  }
  for (const auto& id : gone) watchers_.erase(id);
}

}  // namespace baton::daemon
