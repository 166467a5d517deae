// hostile_peer: a test-only stand-in for a modified batond. It impersonates a STOPPED site (its
// identity and event log, read-only), dials a target site's peer port over CurveZMQ exactly as
// the replicator does (DEALER, routing id = site id, transport keys derived from the Ed25519
// identities), says HELLO, sends one EVENTS message holding one crafted event with one
// deliberate fault, and reports on stdout (one JSON line) what it sent and the target's
// HAVE(acked) vector. Protocol: docs/replication.md. Exit codes: 0 answered, 1 no answer or a
// failed handshake, 2 bad arguments or an unreadable site. Never built into a product.
//
// Modes (the event is built with crdt types and identity::ChainWriter like a daemon's own):
//   unauthorized   a TaskReported(done) on --task, valid signature and chain, on a task the site
//                  may not report on (a real batond refuses it locally)
//   bad-signature  the chain's next event, signed with a freshly generated key
//   fork           another event at the seq of the site's current head (right prev_hash, the
//                  site's own signature)
//   other-runbook  the chain's next event, signed, naming another runbook
//   broken-chain   the chain's next seq, signed, with a wrong prev_hash
#include <zmq.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "crdt/event.h"
#include "crdt/event_codec.h"
#include "crdt/hlc.h"
#include "crdt/projection.h"
#include "crdt/status.h"
#include "crdt/version_vector.h"
#include "daemon/identity/chain.h"
#include "daemon/identity/keys.h"
#include "daemon/replication/peer_messages.h"
#include "daemon/store/event_store.h"

namespace baton::testing {
namespace {

using nlohmann::json;
namespace identity = baton::identity;
namespace replication = baton::daemon::replication;

constexpr int kExitAnswered = 0;
constexpr int kExitNoAnswer = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::filesystem::path data;
  std::string site;
  std::string connect;
  std::string server_key_hex;
  std::string mode;
  std::string task;
  int timeout_ms = 5000;  // Per wait: for the HELLO reply, then for the HAVE(acked).
};

// What the impersonated site holds, as its daemon would have it after a start.
struct LocalSite {
  identity::KeyPair keys;
  std::string runbook_id;
  std::map<crdt::SiteId, store::ChainHead> heads;
  crdt::VersionVector vv;
  crdt::Projection projection;  // Folded without the head being forked, in fork mode.
  crdt::HybridClock clock;
  std::optional<store::StoredEvent> own_head;  // The site's last event, if any.
};

int64_t WallMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string Z85(const std::string& raw32) {
  char text[41] = {};
  if (zmq_z85_encode(text, reinterpret_cast<const uint8_t*>(raw32.data()), 32) == nullptr) {
    return "";
  }
  return std::string(text, 40);
}

json VectorJson(const crdt::VersionVector& vv) {
  json out = json::object();
  for (const auto& [origin, seq] : vv.entries()) out[origin] = seq;
  return out;
}

// The `trust = SITE:HEX` line of DIR/batond.conf, so the fold sees the roster as the daemon does.
// Returns an empty anchor if there is none.
Result<crdt::TrustAnchor> ReadTrustAnchor(const std::filesystem::path& data) {
  std::ifstream in(data / "batond.conf");
  crdt::TrustAnchor anchor;
  auto trim = [](std::string text) {
    text.erase(0, text.find_first_not_of(" \t"));
    text.erase(text.find_last_not_of(" \t\r") + 1);
    return text;
  };
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos || trim(line.substr(0, eq)) != "trust") continue;
    const std::string value = trim(line.substr(eq + 1));
    const size_t colon = value.find(':');
    if (colon == std::string::npos) {
      return Status::InvalidArgument((data / "batond.conf").string() + ": bad trust line");
    }
    BATON_ASSIGN_OR_RETURN(std::string key, identity::FromHex(value.substr(colon + 1)));
    anchor.site = value.substr(0, colon);
    anchor.public_key = std::move(key);
  }
  return anchor;
}

Result<crdt::Event> DecodeStored(const store::StoredEvent& stored) {
  BATON_ASSIGN_OR_RETURN(crdt::SignedEvent se, crdt::DecodeEnvelope(stored.envelope));
  return crdt::DecodeEvent(se.payload);
}

Result<LocalSite> LoadSite(const Options& o) {
  LocalSite site;
  BATON_ASSIGN_OR_RETURN(site.keys, identity::ReadKeyFiles(o.data / "identity"));
  BATON_ASSIGN_OR_RETURN(crdt::TrustAnchor anchor, ReadTrustAnchor(o.data));
  store::StoreOptions so;
  so.path = o.data / "events";
  so.site = o.site;
  so.read_only = true;  // The site is stopped; nothing here may change its log.
  BATON_ASSIGN_OR_RETURN(auto store, store::EventStore::Open(so));
  site.runbook_id = store->runbook_id();
  site.heads = store->Heads();
  site.projection.SetTrustAnchor(anchor.site, anchor.public_key);
  const int64_t now = WallMs();
  std::vector<store::StoredEvent> chunk;
  for (const auto& [origin, head] : site.heads) {
    if (head.seq == 0) continue;
    site.vv.Set(origin, head.seq);
    // In fork mode the daemon being played has lost its head event: fold without it.
    const uint64_t last = origin == o.site && o.mode == "fork" ? head.seq - 1 : head.seq;
    uint64_t next = 1;
    while (next <= last) {
      BATON_TRY(store->ScanOrigin(origin, next, 1024, &chunk));
      if (chunk.empty()) return Status::Corruption(origin + "/" + std::to_string(next) + " lost");
      for (const auto& stored : chunk) {
        if (stored.id.seq > last) break;
        BATON_ASSIGN_OR_RETURN(crdt::Event e, DecodeStored(stored));
        BATON_TRY(site.projection.Apply(e));
        next = stored.id.seq + 1;
      }
    }
    // The clock as Ledger::Open restores it: past the own head, past every origin's head.
    BATON_ASSIGN_OR_RETURN(auto stored_head, store->Get(crdt::EventId{origin, head.seq}));
    if (!stored_head) return Status::Corruption(origin + " head is not stored");
    BATON_ASSIGN_OR_RETURN(crdt::Event e, DecodeStored(*stored_head));
    if (origin == o.site) {
      site.clock.Restore(e.hlc);
      site.own_head = *stored_head;
    } else {
      static_cast<void>(site.clock.Receive(e.hlc, now));  // Quarantine is the daemon's concern.
    }
  }
  return site;
}

// The report a daemon would stage for `task` (client_service's Report: done, superseding the
// live reports it sees), before the chain fills in origin, seq, runbook and prev_hash.
Result<crdt::Event> ReportDraft(LocalSite& site, const Options& o) {
  const crdt::TaskState* task = site.projection.Task(o.task);
  // A site with no plan yet (a stranger, say) still gets its draft: what is tried then is the
  // handshake, and the event never reaches a verifier.
  if (!site.runbook_id.empty() && (task == nullptr || !task->exists())) {
    return Status::NotFound("task \"" + o.task + "\" is not in " + o.site + "'s plan");
  }
  crdt::TaskReported r;
  r.task_id = o.task;
  r.kind = crdt::ReportKind::kDone;
  if (task != nullptr) r.supersedes = task->LiveReportIds();
  crdt::Event e;
  e.hlc = site.clock.Now(WallMs());
  const char* user = std::getenv("USER");
  e.actor = std::string(user != nullptr && *user != '\0' ? user : "unknown") + "@" + o.site;
  e.body = std::move(r);
  return e;
}

// The one event of the mode, with its deliberate fault.
Result<identity::VerifiedEvent> Craft(LocalSite& site, const Options& o) {
  const store::ChainHead head =
      site.heads.count(o.site) ? site.heads.at(o.site) : store::ChainHead{};
  identity::KeyPair keys = site.keys;
  std::string runbook = site.runbook_id;
  uint64_t seq = head.seq;
  crdt::Hash prev = head.hash;
  if (o.mode == "unauthorized") {
    // Nothing wrong with the event itself: only the roster says the site may not make it.
  } else if (o.mode == "bad-signature") {
    keys = identity::GenerateKeyPair();
  } else if (o.mode == "fork") {
    if (!site.own_head) return Status::InvalidArgument(o.site + " has no event to fork");
    seq = site.own_head->id.seq - 1;
    prev = site.own_head->prev_hash;
  } else if (o.mode == "other-runbook") {
    runbook += "-other";
  } else if (o.mode == "broken-chain") {
    prev[0] ^= 0xff;
  } else {
    return Status::InvalidArgument("unknown --mode \"" + o.mode +
                                   "\": unauthorized, bad-signature, fork, other-runbook or "
                                   "broken-chain");
  }
  BATON_ASSIGN_OR_RETURN(crdt::Event draft, ReportDraft(site, o));
  identity::ChainWriter writer(std::move(keys), runbook, o.site, seq, prev);
  std::vector<crdt::Event> drafts;
  drafts.push_back(std::move(draft));
  auto built = writer.Build(std::move(drafts));
  BATON_CHECK(built.size() == 1);
  return std::move(built[0]);
}

// Why the handshake failed, from the socket monitor, or "" if it said nothing.
std::string DrainMonitor(zmq::socket_t& monitor) {
  std::string why;
  while (true) {
    zmq::message_t event, address;
    try {
      if (!monitor.recv(event, zmq::recv_flags::dontwait)) break;
      if (event.more()) static_cast<void>(monitor.recv(address, zmq::recv_flags::dontwait));
    } catch (const zmq::error_t&) {
      break;
    }
    if (event.size() < 6) continue;
    uint16_t id = 0;
    uint32_t value = 0;
    std::memcpy(&id, event.data(), sizeof id);
    std::memcpy(&value, static_cast<const char*>(event.data()) + 2, sizeof value);
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      why = "the target refused our key (ZAP status " + std::to_string(value) + ")";
    } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
      why = "CURVE handshake protocol error " + std::to_string(value) +
            " (is --server-key the target's key?)";
    } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
      why = "CURVE handshake failed (errno " + std::to_string(value) + ")";
    }
  }
  return why;
}

// Receives until `want` accepts a message or `deadline` passes. Messages `want` declines
// (heartbeats, events the target pushes) are skipped.
template <class Want>
bool AwaitMessage(zmq::socket_t& socket, zmq::socket_t& monitor,
                  std::chrono::steady_clock::time_point deadline, Want want, std::string* failure) {
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0},
                               {monitor.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, left);
    if ((items[1].revents & ZMQ_POLLIN) != 0) {
      std::string why = DrainMonitor(monitor);
      if (!why.empty()) *failure = why;
    }
    if ((items[0].revents & ZMQ_POLLIN) == 0) continue;
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::dontwait)) continue;
    auto message = replication::DecodePeerMessage(frame.to_string_view());
    if (!message.ok()) {
      std::cerr << "hostile_peer: skipped an undecodable message: " << message.status().ToString()
                << "\n";
      continue;
    }
    if (want(*message)) return true;
  }
  std::string why = DrainMonitor(monitor);
  if (!why.empty()) *failure = why;
  return false;
}

int Run(const Options& o) {
  auto loaded = LoadSite(o);
  if (!loaded.ok()) {
    std::cerr << "hostile_peer: " << o.data.string() << ": " << loaded.status().ToString() << "\n";
    return kExitUsage;
  }
  LocalSite& site = *loaded;
  auto crafted = Craft(site, o);
  if (!crafted.ok()) {
    std::cerr << "hostile_peer: " << crafted.status().ToString() << "\n";
    return kExitUsage;
  }
  auto server_ed = identity::FromHex(o.server_key_hex);
  auto server = server_ed.ok() ? identity::TransportPublicKey(*server_ed)
                               : Result<std::string>(server_ed.status());
  auto pub = identity::TransportPublicKey(site.keys.public_key);
  auto secret = identity::TransportSecretKey(site.keys.secret_key);
  if (!server.ok() || !pub.ok() || !secret.ok()) {
    std::cerr << "hostile_peer: --server-key or the site's keys are not usable: "
              << (!server.ok() ? server.status()
                  : !pub.ok()  ? pub.status()
                               : secret.status())
                     .ToString()
              << "\n";
    return kExitUsage;
  }

  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::routing_id, o.site);
  socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(replication::kMaxPeerMessageBytes));
  socket.set(zmq::sockopt::curve_serverkey, Z85(*server));
  socket.set(zmq::sockopt::curve_publickey, Z85(*pub));
  socket.set(zmq::sockopt::curve_secretkey, Z85(*secret));
  // The monitor turns "no answer" into the reason when libzmq knows it.
  const std::string monitor_endpoint = "inproc://hostile-peer-monitor";
  if (zmq_socket_monitor(socket.handle(), monitor_endpoint.c_str(),
                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
    std::cerr << "hostile_peer: cannot monitor the socket: " << zmq_strerror(zmq_errno()) << "\n";
    return kExitUsage;
  }
  zmq::socket_t monitor(context, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect(monitor_endpoint);
  socket.connect(o.connect);

  uint64_t counter = 0;
  // Without ZMQ_IMMEDIATE the HELLO waits in the queue until the handshake completes.
  replication::Hello hello{o.site, site.runbook_id, site.vv, WallMs(), ++counter, false};
  socket.send(zmq::buffer(replication::EncodePeerMessage(replication::PeerMessage{hello})));

  std::string failure;
  std::optional<replication::Hello> reply;
  const auto hello_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(o.timeout_ms);
  if (!AwaitMessage(
          socket, monitor, hello_deadline,
          [&](const replication::PeerMessage& m) {
            const auto* h = std::get_if<replication::Hello>(&m);
            if (h == nullptr) return false;
            reply = *h;
            return true;
          },
          &failure)) {
    std::cerr << "hostile_peer: no HELLO reply from " << o.connect << " within " << o.timeout_ms
              << " ms: "
              << (failure.empty() ? "the target refused our key or is not listening" : failure)
              << "\n";
    return kExitNoAnswer;
  }

  replication::Events events;
  events.envelopes.push_back(crafted->envelope);
  socket.send(zmq::buffer(replication::EncodePeerMessage(replication::PeerMessage{events})));
  std::optional<replication::Have> have;
  const auto have_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(o.timeout_ms);
  if (!AwaitMessage(
          socket, monitor, have_deadline,
          [&](const replication::PeerMessage& m) {
            const auto* h = std::get_if<replication::Have>(&m);
            if (h == nullptr || !h->acked) return false;
            have = *h;
            return true;
          },
          &failure)) {
    std::cerr << "hostile_peer: " << o.connect << " answered HELLO but not our EVENTS within "
              << o.timeout_ms << " ms" << (failure.empty() ? "" : ": " + failure) << "\n";
    return kExitNoAnswer;
  }

  const crdt::Event& e = crafted->event;
  json sent{{"id", e.id().ToString()},
            {"runbook", e.runbook_id},
            {"prev_hash", identity::HashHex(e.prev_hash)},
            {"hash", identity::HashHex(crafted->hash)},
            {"envelope_hex", identity::ToHex(crafted->envelope)}};
  json out{{"mode", o.mode},
           {"site", o.site},
           {"task", o.task},
           {"sent", json::array({sent})},
           {"peer_hello",
            {{"site", reply->site}, {"runbook", reply->runbook_id}, {"vv", VectorJson(reply->vv)}}},
           {"have", {{"vv", VectorJson(have->vv)}, {"acked", have->acked}}}};
  std::cout << out.dump() << std::endl;
  return kExitAnswered;
}

}  // namespace
}  // namespace baton::testing

int main(int argc, char** argv) {
  try {
    baton::testing::Options o;
    std::string data;
    CLI::App app{"Test-only hostile peer: plays a modified batond against a real one"};
    app.add_option("--data", data, "Data directory of the (stopped) site to impersonate")
        ->required();
    app.add_option("--site", o.site, "That site's id")->required();
    app.add_option("--connect", o.connect, "Target peer endpoint, tcp://HOST:PORT")->required();
    app.add_option("--server-key", o.server_key_hex, "Target's Ed25519 public key (hex)")
        ->required();
    app.add_option("--mode", o.mode,
                   "unauthorized, bad-signature, fork, other-runbook or broken-chain")
        ->required();
    app.add_option("--task", o.task, "Task the crafted report names")->required();
    app.add_option("--timeout-ms", o.timeout_ms, "Per wait: HELLO reply, then HAVE (5000)");
    CLI11_PARSE(app, argc, argv);
    o.data = data;
    return baton::testing::Run(o);
  } catch (const std::exception& e) {
    std::cerr << "hostile_peer: " << e.what() << "\n";
    return 2;
  }
}
