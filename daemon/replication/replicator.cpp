// See daemon/replication/replicator.h. zmq::error_t stops in this file.
#include "daemon/replication/replicator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <utility>
#include <zmq_addon.hpp>

#include "daemon/identity/keys.h"
#include "daemon/replication/zmq_monitor.h"

namespace baton::daemon::replication {
namespace {

static_assert(kMaxEventBytes <= kMaxBatchBytes, "every event must fit alone in one batch");

// ZMQ_ZAP_ENFORCE_DOMAIN is a draft option in libzmq 4.3's headers: without it a CURVE server
// with no ZAP handler would admit any client that knows its public key.
constexpr int kZapEnforceDomain = 93;
// Messages queued per peer socket before sends are dropped (the session resends): with the
// session's window this bounds the memory a stalled peer can pin.
constexpr int kSendHighWater = 64;
// Back-off of a dialler whose peer does not answer: 2 s, doubling up to 8 s.
constexpr int64_t kFirstRedialMs = 2000;
constexpr int64_t kMaxRedialMs = 8000;
// A talking link whose sides differ by this many events is logged as fallen behind.
constexpr uint64_t kBehindEvents = 1000;

std::string Z85(const std::string& raw32) {
  char text[41] = {};
  if (zmq_z85_encode(text, reinterpret_cast<const uint8_t*>(raw32.data()), 32) == nullptr) {
    return "";
  }
  return std::string(text, 40);
}

// The transport key (Z85) of an Ed25519 public key, or "" if it is not a valid key.
std::string TransportZ85(const std::string& ed25519_public) {
  auto raw = identity::TransportPublicKey(ed25519_public);
  return raw.ok() ? Z85(*raw) : std::string();
}

uint64_t Lacking(const crdt::VersionVector& have, const crdt::VersionVector& other) {
  uint64_t n = 0;
  for (const auto& r : have.MissingFrom(other)) n += r.size();
  return n;
}

}  // namespace

Replicator::Replicator(zmq::context_t& context, Ledger* ledger, Config config)
    : context_(context), ledger_(ledger), config_(std::move(config)) {}

Replicator::~Replicator() {
  for (auto& link : links_) CloseMonitored(link->socket, link->monitor);
  CloseMonitored(router_, monitor_);
}

SessionOptions Replicator::MakeSessionOptions(bool dialer) const {
  SessionOptions o;
  o.self = config_.site;
  o.dialer = dialer;
  // The DEALER drops what it is given before the CURVE handshake is done (ZMQ_IMMEDIATE), so
  // the first Hello after a dial is usually lost: say it again soon. Dropped locally, a Hello
  // costs nothing on the wire while the link is down.
  o.hello_ms = 200;
  return o;
}

Result<std::unique_ptr<Replicator>> Replicator::Open(zmq::context_t& context, Ledger* ledger,
                                                     const Config& config) {
  int major = 0, minor = 0, patch = 0;
  zmq_version(&major, &minor, &patch);
  if (major * 10000 + minor * 100 + patch < 40303) {
    return Status::Unavailable("libzmq " + std::to_string(major) + "." + std::to_string(minor) +
                               "." + std::to_string(patch) +
                               " is too old for the peer transport: it needs 4.3.3 or later "
                               "(ZAP domain enforcement, CURVE fixes)");
  }
  if (!zmq_has("curve")) {
    return Status::Unavailable("libzmq was built without CURVE: peer links cannot be encrypted");
  }
  std::unique_ptr<Replicator> r(new Replicator(context, ledger, config));
  BATON_ASSIGN_OR_RETURN(identity::KeyPair keys, identity::ReadKeyFiles(config.KeyDir()));
  BATON_ASSIGN_OR_RETURN(std::string secret, identity::TransportSecretKey(keys.secret_key));
  BATON_ASSIGN_OR_RETURN(std::string pub, identity::TransportPublicKey(keys.public_key));
  r->secret_z85_ = Z85(secret);
  r->public_z85_ = Z85(pub);
  if (!config.fault_injection.empty()) {
    const char* allow = std::getenv("BATON_ALLOW_FAULT_INJECTION");
    if (allow == nullptr || std::string(allow) != "1") {
      return Status::InvalidArgument(
          "fault_injection is set in batond.conf: it is for tests only and refused in a normal "
          "run (remove the line)");
    }
    BATON_ASSIGN_OR_RETURN(FaultSpec spec, ParseFaultSpec(config.fault_injection));
    r->faults_ = std::make_unique<FaultLayer>(spec, config.data_dir / "faults");
    spdlog::warn("fault injection on: {}", config.fault_injection);
  }
  try {
    if (!config.peer_listen.empty()) {
      auto router = std::make_unique<zmq::socket_t>(context, zmq::socket_type::router);
      router->set(zmq::sockopt::linger, 0);
      router->set(zmq::sockopt::router_mandatory, true);
      router->set(zmq::sockopt::router_handover, true);
      router->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxPeerMessageBytes));
      router->set(zmq::sockopt::sndhwm, kSendHighWater);
      router->set(zmq::sockopt::zap_domain, kZapDomain);
      const int enforce = 1;
      if (zmq_setsockopt(router->handle(), kZapEnforceDomain, &enforce, sizeof enforce) != 0) {
        return Status::Unavailable(
            "libzmq refuses ZMQ_ZAP_ENFORCE_DOMAIN: peer authentication could fail open");
      }
      router->set(zmq::sockopt::curve_server, true);
      router->set(zmq::sockopt::curve_secretkey, r->secret_z85_);
      router->bind(config.peer_listen);
      r->listen_endpoint_ = router->get(zmq::sockopt::last_endpoint);
      // A peer without CURVE (plaintext) fails the handshake inside libzmq and never reaches
      // ZAP: the monitor is how such refusals are seen and counted.
      r->monitor_ = OpenMonitor(
          context, *router,
          "inproc://baton-peer-monitor-" + std::to_string(reinterpret_cast<uintptr_t>(r.get())),
          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
      if (!r->monitor_) {
        return Status::IOError(std::string("peer socket monitor: ") + zmq_strerror(zmq_errno()));
      }
      r->router_ = std::move(router);
    }
  } catch (const zmq::error_t& e) {
    return Status::IOError("peer_listen " + config.peer_listen + ": " + e.what());
  }
  for (const auto& peer : config.peers) {
    auto link = std::make_unique<Link>(r->MakeSessionOptions(true));
    link->site = peer.site;
    link->dialer = true;
    link->endpoint = peer.endpoint;
    link->key = peer.key;
    r->links_.push_back(std::move(link));
  }
  return r;
}

bool Replicator::Dial(Link& link, int64_t now_ms) {
  if (link.socket) {
    if (link.session.state() != PeerState::kConnecting) {
      link.redial_after_ms = kFirstRedialMs;
      return true;
    }
    if (now_ms - link.dialled_ms < link.redial_after_ms) return true;
    // No answer: the handshake may have been refused (we were not on the peer's roster yet).
    spdlog::info("peer {}: no answer from {} in {} ms; dialling again", link.site, link.endpoint,
                 link.redial_after_ms);
    link.redial_after_ms = std::min(link.redial_after_ms * 2, kMaxRedialMs);
    CloseMonitored(link.socket, link.monitor);
  }
  auto key = ledger_->KeyOf(link.site);
  if (key && !link.key.empty() && *key != link.key) {
    if (!link.key_mismatch_logged) {
      spdlog::error("peer {}: the key on its peer line is not the roster's; not dialling",
                    link.site);
      link.key_mismatch_logged = true;
    }
    return false;
  }
  if (!key && !link.key.empty()) key = link.key;
  if (!key) return false;  // Not on the roster yet: retried on the next Service().
  const std::string server = TransportZ85(*key);
  if (server.empty()) return false;
  try {
    auto s = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    s->set(zmq::sockopt::linger, 0);
    s->set(zmq::sockopt::immediate, true);  // No queueing for a link that is not up.
    s->set(zmq::sockopt::routing_id, config_.site);
    s->set(zmq::sockopt::reconnect_ivl, 100);
    s->set(zmq::sockopt::reconnect_ivl_max, 5000);  // Back-off while the peer is down.
    s->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxPeerMessageBytes));
    s->set(zmq::sockopt::sndhwm, kSendHighWater);
    s->set(zmq::sockopt::curve_serverkey, server);
    s->set(zmq::sockopt::curve_publickey, public_z85_);
    s->set(zmq::sockopt::curve_secretkey, secret_z85_);
    // Watched before it connects, so that no handshake is missed. Without a monitor the Hello
    // timer still gets the link up.
    const std::string monitor = "inproc://baton-link-monitor-" +
                                std::to_string(reinterpret_cast<uintptr_t>(this)) + "-" +
                                std::to_string(++link_monitors_);
    link.monitor = OpenMonitor(context_, *s, monitor, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s->connect(link.endpoint);
    link.socket = std::move(s);
    link.dialled_ms = now_ms;
  } catch (const zmq::error_t& e) {
    spdlog::error("peer {}: cannot connect to {}: {}", link.site, link.endpoint, e.what());
    return false;
  }
  if (link.redial_after_ms == kFirstRedialMs) {
    spdlog::info("peer {}: dialling {}", link.site, link.endpoint);
  }
  // Usually dropped (no connection yet: ZMQ_IMMEDIATE); the handshake then says it again.
  const uint64_t bytes_before = link.bytes_sent;
  SayHello(link, now_ms);
  link.dial_hello_sent = link.bytes_sent > bytes_before;
  return true;
}

void Replicator::SayHello(Link& link, int64_t now_ms) {
  Status failed;
  Execute(link, link.session.OnConnected(ledger_->durable_vector(), ledger_->runbook_id(), now_ms),
          now_ms, &failed);
}

void Replicator::AppendPollItems(std::vector<zmq::pollitem_t>& items) {
  if (router_) items.push_back({router_->handle(), 0, ZMQ_POLLIN, 0});
  for (auto& link : links_) {
    if (link->dialer && link->socket) items.push_back({link->socket->handle(), 0, ZMQ_POLLIN, 0});
    if (link->dialer && link->monitor) {
      items.push_back({link->monitor->handle(), 0, ZMQ_POLLIN, 0});
    }
  }
}

namespace {

// One multipart message if one is waiting; false if none is, or on an error (logged).
bool ReceiveNow(zmq::socket_t& socket, const char* what, std::vector<zmq::message_t>* frames) {
  try {
    return zmq::recv_multipart(socket, std::back_inserter(*frames), zmq::recv_flags::dontwait)
        .has_value();
  } catch (const zmq::error_t& e) {
    spdlog::error("{}: {}", what, e.what());
    return false;
  }
}

}  // namespace

void Replicator::DrainLinkMonitor(Link& link, int64_t now_ms) {
  bool up = false;
  for (int i = 0; link.monitor && i < 16; ++i) {
    std::vector<zmq::message_t> frames;
    if (!ReceiveNow(*link.monitor, "peer link monitor", &frames)) break;
    uint16_t event = 0;
    if (frames.size() == 2 && frames[0].size() == 6) {
      std::memcpy(&event, frames[0].data(), sizeof event);
    }
    up = up || event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
  }
  if (up && link.session.state() == PeerState::kConnecting && !link.dial_hello_sent) {
    SayHello(link, now_ms);
  }
  if (up) link.dial_hello_sent = false;  // A later handshake (a reconnect) says Hello again.
}

void Replicator::DrainMonitor() {
  // Each event is two frames: 2 bytes event id and 4 bytes value (little-endian), then the
  // endpoint.
  for (int i = 0; monitor_ && i < 64; ++i) {
    std::vector<zmq::message_t> frames;
    if (!ReceiveNow(*monitor_, "peer socket monitor", &frames)) return;
    if (frames.size() != 2 || frames[0].size() != 6) continue;
    uint16_t event = 0;
    uint32_t value = 0;
    std::memcpy(&event, frames[0].data(), sizeof event);
    std::memcpy(&value, static_cast<const char*>(frames[0].data()) + 2, sizeof value);
    ++refused_;
    spdlog::warn(
        "refused a peer connection on {}: the handshake failed before authentication (a "
        "plaintext or non-CURVE client?{})",
        frames[1].to_string(),
        event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? ", protocol error " + std::to_string(value)
                                                     : std::string());
  }
}

Status Replicator::Service(int64_t now_ms, const std::function<bool()>& yield) {
  DrainMonitor();
  Status failed;
  // Bounded rounds per call so that clients are served between peer batches. A frame may carry
  // 2,048 events to verify and store: a few per socket keep the loop (and its heartbeats and client
  // replies) well inside the peers' dead_ms.
  constexpr int kMaxFramesPerSocket = 8;
  // And a time budget for all of them: a client waiting for its ack waits for at most about one
  // frame more (a catch-up frame of 2,048 events takes ~15 ms to verify, store and fold).
  constexpr auto kBudget = std::chrono::milliseconds(10);
  const auto began = std::chrono::steady_clock::now();
  const auto within_budget = [&] {
    return std::chrono::steady_clock::now() - began < kBudget && !(yield && yield());
  };
  if (router_) {
    for (int i = 0; i < kMaxFramesPerSocket && failed.ok() && within_budget(); ++i) {
      std::vector<zmq::message_t> frames;
      if (!ReceiveNow(*router_, "peer socket", &frames)) break;
      if (frames.size() != 2) continue;  // Not our protocol: one frame per message.
      std::string user;
      try {
        user = frames[1].gets("User-Id");
      } catch (const zmq::error_t&) {
        continue;  // Not authenticated: cannot happen with the domain enforced.
      }
      OnRouterFrame(frames[0].to_string(), user, frames[1].to_string_view(), now_ms, &failed);
    }
  }
  for (size_t l = 0; l < links_.size() && failed.ok(); ++l) {
    Link& link = *links_[l];
    if (!link.dialer) continue;
    if (!Dial(link, now_ms)) continue;
    DrainLinkMonitor(link, now_ms);
    for (int i = 0; i < kMaxFramesPerSocket && failed.ok() && within_budget(); ++i) {
      zmq::message_t msg;
      try {
        if (!link.socket->recv(msg, zmq::recv_flags::dontwait)) break;
      } catch (const zmq::error_t& e) {
        spdlog::error("peer {}: {}", link.site, e.what());
        break;
      }
      if (msg.more()) {
        // Not our protocol: drain and drop the rest of the message.
        while (msg.more() && link.socket->recv(msg, zmq::recv_flags::dontwait)) {
        }
        continue;
      }
      ReceiveFrom(link, msg.to_string_view(), now_ms, &failed);
    }
  }
  if (faults_) {
    for (auto& d : faults_->Due(now_ms)) {
      for (auto& link : links_) {
        const std::string key = link->site + (link->dialer ? ">" : "<");
        if (key == d.link) SendNow(*link, d.bytes);
      }
    }
  }
  const auto& ours = ledger_->durable_vector();
  for (auto& link : links_) {
    if (!failed.ok()) break;
    if (link->dialer && !link->socket) continue;
    Execute(*link, link->session.OnTick(ours, ledger_->runbook_id(), now_ms), now_ms, &failed);
  }
  for (auto& link : links_) LogLinkState(*link, now_ms);
  return failed;
}

void Replicator::LogLinkState(Link& link, int64_t now_ms) {
  const PeerState state = link.session.state();
  const bool talking = state == PeerState::kSyncing || state == PeerState::kLive;
  if (link.was_talking && !talking && state == PeerState::kConnecting) {
    spdlog::warn("peer {}: silent for over {} ms: link down{}", link.site,
                 link.session.options().dead_ms,
                 link.dialer ? "; saying hello until it answers" : "; waiting for it to dial");
    link.catching_up_since_ms = -1;
  }
  if (talking) {
    const auto& ours = ledger_->durable_vector();
    const auto& theirs = link.session.theirs();
    if (link.catching_up_since_ms < 0) {
      const uint64_t they_lack = Lacking(ours, theirs), we_lack = Lacking(theirs, ours);
      const uint64_t apart = they_lack + we_lack;
      if (link.was_talking && apart >= kBehindEvents) {
        spdlog::warn("peer {}: fell behind: it lacks {} of our events, we lack {} of its",
                     link.site, they_lack, we_lack);
      }
      if ((!link.was_talking && apart > 0) || apart >= kBehindEvents) {
        // From the last look: this round may already have sent or taken the first batches.
        link.catching_up_since_ms = now_ms;
        link.catch_up_sent0 = link.sent_at_look;
        link.catch_up_received0 = link.received_at_look;
      }
    } else if (state == PeerState::kLive) {
      spdlog::info("peer {}: caught up in {} ms: sent {} events, received {}", link.site,
                   now_ms - link.catching_up_since_ms, link.events_sent - link.catch_up_sent0,
                   link.events_received - link.catch_up_received0);
      link.catching_up_since_ms = -1;
    }
  }
  link.was_talking = talking;
  link.sent_at_look = link.events_sent;
  link.received_at_look = link.events_received;
}

void Replicator::OnRouterFrame(const std::string& routing_id, const std::string& user,
                               std::string_view bytes, int64_t now_ms, Status* failed) {
  Link* link = nullptr;
  for (auto& l : links_) {
    if (!l->dialer && l->site == user) link = l.get();
  }
  if (link == nullptr) {
    auto fresh = std::make_unique<Link>(MakeSessionOptions(false));
    fresh->site = user;
    link = fresh.get();
    links_.push_back(std::move(fresh));
    spdlog::info("peer {}: connected to us", user);
  }
  link->routing_id = routing_id;
  ReceiveFrom(*link, bytes, now_ms, failed);
}

void Replicator::ReceiveFrom(Link& link, std::string_view bytes, int64_t now_ms, Status* failed) {
  if (faults_ && !faults_->Passes(link.site)) return;
  link.bytes_received += bytes.size();
  auto message = DecodePeerMessage(bytes);
  if (!message.ok()) {
    spdlog::warn("peer {}: dropped a message: {}", link.site, message.status().message());
    return;
  }
  if (const auto* hello = std::get_if<Hello>(&*message)) {
    if (hello->site != link.site) {
      spdlog::warn("peer {}: says it is \"{}\"; ignored (the transport key decides who it is)",
                   link.site, hello->site.substr(0, 64));
      return;
    }
    if (link.session.state() == PeerState::kConnecting || !hello->reply) {
      spdlog::info("peer {}: hello, it holds {} events ({} we lack)", link.site, hello->vv.Total(),
                   Lacking(hello->vv, ledger_->durable_vector()));
    }
  }
  Execute(
      link,
      link.session.OnMessage(*message, ledger_->durable_vector(), ledger_->runbook_id(), now_ms),
      now_ms, failed);
}

void Replicator::Execute(Link& link, std::vector<Action> actions, int64_t now_ms, Status* failed) {
  for (auto& action : actions) {
    if (!failed->ok()) return;
    if (auto* send = std::get_if<SendMessage>(&action)) {
      SendBytes(link, EncodePeerMessage(send->message));
    } else if (auto* range = std::get_if<SendRange>(&action)) {
      SendRangeTo(link, *range);
    } else if (auto* deliver = std::get_if<replication::Deliver>(&action)) {
      DeliverTo(link, std::move(deliver->envelopes), now_ms, failed);
    } else if (auto* refuse = std::get_if<Refuse>(&action)) {
      spdlog::warn("peer {}: refused: {}", link.site, refuse->reason);
    }
  }
}

void Replicator::DeliverTo(Link& link, std::vector<std::string> envelopes, int64_t now_ms,
                           Status* failed) {
  link.events_received += envelopes.size();
  auto result = ledger_->Ingest(envelopes);
  if (!result.ok() && result.status().code() == StatusCode::kIOError) {
    // A store write failed (fork evidence or the runbook binding, on a full disk): nothing of
    // it was applied, and our vector does not cover it, so the peer sends it again, as after a
    // lost message.
    spdlog::warn("peer {}: {} event(s) not stored: {}", link.site, envelopes.size(),
                 result.status().message());
    return;
  }
  if (!result.ok()) {
    *failed = result.status();
    return;
  }
  for (const auto& p : result->problems) spdlog::warn("peer {}: {}", link.site, p);
  for (const auto& [origin, skew] : result->quarantined) {
    spdlog::warn("peer {}: events of {} are {} ms ahead of our clock: kept, not merged into it",
                 link.site, origin, skew);
  }
  if (result->own_events) {
    spdlog::warn(
        "peer {}: it holds events of this site that our log had lost (restored from an older "
        "copy?); took them back, own chain now ends at seq {}",
        link.site, ledger_->projection().version_vector().Seen(config_.site));
  }
  // Acknowledged once durable (OnDurable), with the vector then stored: the peer's credit comes
  // back only for what we hold for good, and meanwhile it may send what it has in its window,
  // verified and folded while the group before is being written.
  link.acks_due.push_back(ledger_->open_ticket());
  AckDurable(link, now_ms, failed);
}

void Replicator::AckDurable(Link& link, int64_t now_ms, Status* failed) {
  while (!link.acks_due.empty() && link.acks_due.front() <= ledger_->durable_ticket() &&
         failed->ok()) {
    link.acks_due.pop_front();
    Execute(link, link.session.OnDelivered(ledger_->durable_vector(), now_ms), now_ms, failed);
  }
}

Status Replicator::OnDurable(int64_t now_ms) {
  Status failed;
  for (auto& link : links_) AckDurable(*link, now_ms, &failed);
  if (failed.ok()) OnLocalChange(now_ms);
  return failed;
}

void Replicator::OnCommitFailed() {
  // Their events were undone: the peers send them again (retry_ms), as after a lost message.
  for (auto& link : links_) {
    auto& due = link->acks_due;
    const uint64_t durable = ledger_->durable_ticket();
    while (!due.empty() && due.back() > durable) due.pop_back();
  }
}

void Replicator::SendRangeTo(Link& link, const SendRange& range) {
  Events events;
  size_t bytes = 0;
  std::vector<store::StoredEvent> chunk;
  for (const auto& r : range.ranges) {
    // A range after one of this origin that was cut short would leave a gap: left out, it is
    // sent again after the cut.
    if (r.first > link.session.sent().Seen(r.origin) + 1) continue;
    uint64_t next = r.first;
    bool cut = false;
    while (next <= r.last && !cut) {
      const size_t want = std::min<uint64_t>(r.last - next + 1, 512);
      Status s = ledger_->store().ScanOrigin(r.origin, next, want, &chunk);
      if (!s.ok() || chunk.empty()) {
        spdlog::error("peer {}: cannot read {}/{}: {}", link.site, r.origin, next,
                      s.ok() ? std::string("not stored") : s.ToString());
        cut = true;
        break;
      }
      for (auto& e : chunk) {
        // No event is over kMaxBatchBytes (Ledger::Stage refuses them), so a batch always
        // takes at least one.
        if (e.id.seq != next || bytes + e.envelope.size() > kMaxBatchBytes ||
            events.envelopes.size() >= kMaxBatchEvents) {
          cut = true;
          break;
        }
        bytes += e.envelope.size();
        events.envelopes.push_back(std::move(e.envelope));
        ++next;
      }
    }
    if (cut) link.session.OnRangeCut(r.origin, next - 1);
  }
  link.events_sent += events.envelopes.size();
  SendBytes(link, EncodePeerMessage(PeerMessage{std::move(events)}));
}

void Replicator::SendBytes(Link& link, std::string bytes) {
  if (!faults_) {
    SendNow(link, bytes);
    return;
  }
  for (auto& copy : faults_->Outgoing(link.site, link.site + (link.dialer ? ">" : "<"),
                                      std::move(bytes), ledger_->Now())) {
    SendNow(link, copy);
  }
}

void Replicator::SendNow(Link& link, const std::string& bytes) {
  try {
    if (link.dialer) {
      if (!link.socket) return;
      // EAGAIN (not connected, or the queue is full) drops it: the session resends.
      if (link.socket->send(zmq::buffer(bytes), zmq::send_flags::dontwait)) {
        link.bytes_sent += bytes.size();
      }
      return;
    }
    if (!router_ || link.routing_id.empty()) return;
    if (!router_->send(zmq::buffer(link.routing_id),
                       zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return;
    }
    static_cast<void>(router_->send(zmq::buffer(bytes), zmq::send_flags::dontwait));
    link.bytes_sent += bytes.size();
  } catch (const zmq::error_t&) {
    // EHOSTUNREACH: the peer has gone; it says Hello again when it is back.
  }
}

void Replicator::OnLocalChange(int64_t now_ms) {
  const auto& ours = ledger_->durable_vector();
  Status failed;
  for (auto& link : links_) {
    if (link->dialer && !link->socket) continue;
    Execute(*link, link->session.OnLocalChange(ours, now_ms), now_ms, &failed);
  }
}

void Replicator::RefreshAdmitted() {
  const uint64_t count = ledger_->projection().event_count();
  if (count == admitted_as_of_) return;
  admitted_as_of_ = count;
  admitted_.clear();
  if (!config_.trust_key.empty()) admitted_[TransportZ85(config_.trust_key)] = config_.trust_site;
  // The roster register alone: CurrentPlan() would also copy every task.
  const auto* roster = ledger_->projection().roster().Winner();
  if (roster == nullptr) return;
  for (const auto& site : roster->value) {
    if (site.id == config_.site) continue;
    const std::string z85 = TransportZ85(site.public_key);
    if (!z85.empty()) admitted_[z85] = site.id;
  }
}

std::optional<std::string> Replicator::Authenticate(const ZapRequest& request) {
  if (request.domain != kZapDomain) return std::nullopt;
  if (request.mechanism == "CURVE" && !request.curve_public_z85.empty()) {
    RefreshAdmitted();
    auto it = admitted_.find(request.curve_public_z85);
    if (it != admitted_.end()) return it->second;
  }
  ++refused_;
  spdlog::warn("refused a peer connection from {} ({} key {}): not on the roster", request.address,
               request.mechanism,
               request.curve_public_z85.empty() ? "-" : request.curve_public_z85);
  return std::nullopt;
}

bool Replicator::OwnHeadConfirmed() const {
  const uint64_t own = ledger_->durable_vector().Seen(config_.site);
  for (const auto& link : links_) {
    if (!link->dialer) continue;
    if (!link->session.heard()) return false;
    if (link->session.theirs().Seen(config_.site) > own) return false;
  }
  return true;
}

std::vector<crdt::SiteId> Replicator::Unanswered() const {
  std::vector<crdt::SiteId> out;
  for (const auto& link : links_) {
    if (link->dialer && !link->session.heard()) out.push_back(link->site);
  }
  return out;
}

nlohmann::json Replicator::LinksJson(int64_t now_ms) const {
  const auto& ours = ledger_->durable_vector();
  nlohmann::json links = nlohmann::json::array();
  for (const auto& link : links_) {
    const PeerSession& s = link->session;
    nlohmann::json j{
        {"site", link->site},
        {"direction", link->dialer ? "out" : "in"},
        {"endpoint", link->endpoint},
        {"state", link->dialer && !link->socket ? "no key yet" : PeerStateName(s.state())},
        {"last_heard_ms_ago",
         s.heard() ? nlohmann::json(now_ms - s.last_heard_ms()) : nlohmann::json()},
        {"they_lack", s.heard() ? Lacking(ours, s.theirs()) : 0},
        {"we_lack", s.heard() ? Lacking(s.theirs(), ours) : 0},
        {"skew_ms", s.skew_ms()},
        {"events_sent", link->events_sent},
        {"events_received", link->events_received},
        {"bytes_sent", link->bytes_sent},
        {"bytes_received", link->bytes_received},
        {"resends", s.resends()}};
    const auto& rejected = ledger_->rejected_by_origin();
    auto it = rejected.find(link->site);
    j["rejected"] = it == rejected.end() ? 0 : it->second;
    const auto& skewed = ledger_->quarantined();
    auto q = skewed.find(link->site);
    j["clock_ahead_ms"] = q == skewed.end() ? nlohmann::json() : nlohmann::json(q->second);
    links.push_back(std::move(j));
  }
  // Every origin with rejected events, linked or not (a bad event may be relayed).
  nlohmann::json rejected = nlohmann::json::object();
  for (const auto& [origin, n] : ledger_->rejected_by_origin()) rejected[origin] = n;
  return nlohmann::json{
      {"site", config_.site}, {"listen", listen_endpoint_},     {"rejected_since_start", rejected},
      {"links", links},       {"forks", ledger_->fork_count()}, {"refused_connections", refused_}};
}

}  // namespace baton::daemon::replication
