// The client's DEALER socket: one JSON frame per request, replies matched by id, pushes queued.
// zmq::error_t stops here and becomes kUnavailable / kIOError.
#include "client/client.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "client/bundle.h"
#include "client/protocol.h"

namespace baton::client {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

bool IsZ85Key(const std::string& key) {
  if (key.size() != 40) return false;
  uint8_t raw[32];
  return zmq_z85_decode(raw, key.c_str()) != nullptr;
}

}  // namespace

Client::Client(std::string endpoint, ClientOptions options)
    : endpoint_(std::move(endpoint)), options_(std::move(options)) {}

Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() { socket_.reset(); }  // Before its context.

Result<Client> Client::Connect(std::string endpoint, ClientOptions options) {
  const bool ipc = endpoint.rfind("ipc://", 0) == 0;
  const bool tcp = endpoint.rfind("tcp://", 0) == 0;
  if (!ipc && !tcp) {
    return Status::InvalidArgument("endpoint \"" + endpoint +
                                   "\": expected ipc://PATH or tcp://HOST:PORT");
  }
  if (tcp && !options.curve) {
    return Status::InvalidArgument("endpoint \"" + endpoint +
                                   "\": tcp needs CURVE keys (server public key, client key pair)");
  }
  if (options.curve) {
    if (!zmq_has("curve")) return Status::Unavailable("libzmq was built without CURVE");
    const auto& k = *options.curve;
    for (const auto& [name, key] : {std::pair{"server public key", &k.server_public_z85},
                                    std::pair{"client public key", &k.public_z85},
                                    std::pair{"client secret key", &k.secret_z85}}) {
      if (!IsZ85Key(*key)) {
        return Status::InvalidArgument(std::string("CURVE ") + name +
                                       ": expected 40 Z85 characters");
      }
    }
  }
  if (options.timeout_ms <= 0) {
    return Status::InvalidArgument("timeout_ms must be positive, got " +
                                   std::to_string(options.timeout_ms));
  }
  Client client(std::move(endpoint), std::move(options));
  client.context_ = std::make_unique<zmq::context_t>(1);
  BATON_TRY(client.OpenSocket());
  return client;
}

Status Client::OpenSocket() {
  try {
    socket_.reset();
    auto socket = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::dealer);
    socket->set(zmq::sockopt::linger, 0);  // Closing drops queued requests: never deliver late.
    // Queue only to a connected (and authenticated) daemon: a request is either sent now or
    // reported unavailable, never held for a daemon that starts later.
    socket->set(zmq::sockopt::immediate, true);
    socket->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(256) << 20);
    if (options_.curve) {
      socket->set(zmq::sockopt::curve_serverkey, options_.curve->server_public_z85);
      socket->set(zmq::sockopt::curve_publickey, options_.curve->public_z85);
      socket->set(zmq::sockopt::curve_secretkey, options_.curve->secret_z85);
    }
    socket->connect(endpoint_);
    socket_ = std::move(socket);
  } catch (const zmq::error_t& e) {
    return Status::IOError("connect to " + endpoint_ + ": " + e.what());
  }
  last_heard_ = Clock::now();
  return Status::Ok();
}

std::string Client::Unavailable() const {
  return "no reply from batond at " + endpoint_ + " within " + std::to_string(options_.timeout_ms) +
         " ms (is it running? try `batond run`)";
}

Result<json> Client::Call(const std::string& op, const json& args) {
  if (op == "watch" || op == "unwatch") {
    return Status::InvalidArgument("op \"" + op + "\": use StartWatch / StopWatch");
  }
  return Exchange(op, args);
}

Result<json> Client::Exchange(const std::string& op, const json& args) {
  if (!socket_) return Status::InvalidArgument("client was moved from");
  const std::string id = std::to_string(++next_id_);
  const std::string text = MakeRequest(id, op, args);
  BATON_TRY(CheckRequestSize(text.size(), "request " + op));
  if (op == "watch") watch_id_ = id;  // Pushes may follow the reply in the same batch.
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  const auto give_up = [&]() -> Status {
    // Drop the socket: the request must not reach a daemon after we reported failure, and a
    // late reply must not be read as the answer to a later call.
    Status reopened = OpenSocket();
    reopened.Ignore();  // The caller learns of the daemon's absence from the status below.
    return Status::Unavailable(Unavailable());
  };
  try {
    zmq::pollitem_t out_item{socket_->handle(), 0, ZMQ_POLLOUT, 0};
    if (zmq::poll(&out_item, 1, std::chrono::milliseconds(RemainingMs(deadline))) == 0) {
      return give_up();
    }
    if (!socket_->send(zmq::buffer(text), zmq::send_flags::dontwait)) return give_up();
    while (true) {
      zmq::pollitem_t in_item{socket_->handle(), 0, ZMQ_POLLIN, 0};
      const int left = RemainingMs(deadline);
      if (left == 0 || zmq::poll(&in_item, 1, std::chrono::milliseconds(left)) == 0) {
        return give_up();
      }
      zmq::message_t frame;
      if (!socket_->recv(frame, zmq::recv_flags::dontwait)) continue;
      auto msg = ParseServerMessage(frame.to_string_view());
      if (!msg.ok()) return msg.status();
      if (msg->is_push()) {
        // Only the watch's own pushes prove the watch is alive: replies to other requests come
        // from a daemon that may have restarted and forgotten the watch.
        if (watching_ && msg->id == watch_id_) {
          last_heard_ = Clock::now();
          pushes_.push_back(json::parse(frame.to_string()));
        }
        continue;
      }
      // A reply without an id answers the only request in flight (it could not be parsed).
      if (msg->id != id && !(msg->id.empty() && !msg->status.ok())) continue;
      if (!msg->status.ok()) return msg->status;
      return std::move(msg->result);
    }
  } catch (const zmq::error_t& e) {
    return Status::IOError("batond at " + endpoint_ + ": " + e.what());
  } catch (const json::exception& e) {
    return Status::Corruption("batond at " + endpoint_ + ": " + e.what());
  }
}

Status Client::SendWatch() {
  const bool was_watching = watching_;
  watching_ = true;  // So that pushes racing the reply are kept.
  json args{{"cursor", last_cursor_}};
  if (epoch_) args["epoch"] = *epoch_;
  auto reply = Exchange("watch", args);
  if (!reply.ok()) {
    watching_ = was_watching;
    return reply.status();
  }
  if (reply->is_object()) {
    const auto hb = reply->find("heartbeat_ms");
    if (hb != reply->end() && hb->is_number_unsigned() && hb->get<uint64_t>() > 0 &&
        hb->get<uint64_t>() < 3600 * 1000) {
      heartbeat_ms_ = static_cast<int>(hb->get<uint64_t>());
    }
    if (const auto e = reply->find("epoch"); e != reply->end() && e->is_string()) {
      epoch_ = e->get<std::string>();
    }
    if (const auto d = reply->find("dropped"); d != reply->end() && d->is_string()) {
      dropped_ = d->get<std::string>();
    }
    if (reply->value("renumbered", false)) {
      last_cursor_ = reply->value("cursor", uint64_t{0});
      renumbered_ = true;
    }
  }
  last_heard_ = Clock::now();
  return Status::Ok();
}

Status Client::ForEachExportPage(const std::function<Status(json& page, bool last)>& visit) {
  uint64_t after = 0;
  while (true) {
    BATON_ASSIGN_OR_RETURN(json page, Call("export", json{{"format", "json"}, {"after", after}}));
    if (!page.is_object() || !page.contains("events") || !page["events"].is_array() ||
        !page.contains("next") || !page["next"].is_number_unsigned()) {
      return Status::Corruption("batond at " + endpoint_ + ": malformed export page");
    }
    const uint64_t next = page["next"].get<uint64_t>();
    const bool last = !page.value("more", false);
    BATON_TRY(visit(page, last));
    if (last) return Status::Ok();
    if (next <= after) {
      return Status::Corruption("batond at " + endpoint_ + ": export did not advance past " +
                                std::to_string(after));
    }
    after = next;
  }
}

Result<json> Client::Export() {
  json result;
  json events = json::array();
  BATON_TRY(ForEachExportPage([&](json& page, bool last) {
    for (auto& e : page["events"]) events.push_back(std::move(e));
    if (last) {
      page.erase("next");
      page.erase("more");
      page.erase("last");
      page["events"] = std::move(events);
      result = std::move(page);
    }
    return Status::Ok();
  }));
  return result;
}

namespace {

// One exported event as a bundle record with its id and hash; kCorruption naming the field.
Status AddExportedEvent(bundle::Writer* writer, const json& e, const std::string& where) {
  const auto text = [&](const char* field) -> Result<std::string> {
    auto it = e.find(field);
    if (it == e.end() || !it->is_string()) {
      return Status::Corruption(where + ": exported event without \"" + field + "\"");
    }
    return it->get<std::string>();
  };
  BATON_ASSIGN_OR_RETURN(std::string origin, text("origin"));
  BATON_ASSIGN_OR_RETURN(std::string envelope_hex, text("envelope_hex"));
  BATON_ASSIGN_OR_RETURN(std::string hash_hex, text("hash"));
  const auto seq = e.find("seq");
  const auto arrival = e.find("arrival");
  const auto arrived = e.find("arrived_ms");
  if (seq == e.end() || !seq->is_number_unsigned() || arrival == e.end() ||
      !arrival->is_number_unsigned() || arrived == e.end() || !arrived->is_number_integer()) {
    return Status::Corruption(where + ": exported event without seq, arrival or arrived_ms");
  }
  BATON_ASSIGN_OR_RETURN(std::string envelope, bundle::DecodeHex(envelope_hex));
  BATON_ASSIGN_OR_RETURN(std::string hash_bytes, bundle::DecodeHex(hash_hex));
  crdt::Hash hash{};
  if (hash_bytes.size() != hash.size()) return Status::Corruption(where + ": malformed hash");
  std::copy(hash_bytes.begin(), hash_bytes.end(), reinterpret_cast<char*>(hash.data()));
  return writer->AddEvent(
      bundle::Event{arrival->get<uint64_t>(), arrived->get<int64_t>(), std::move(envelope)},
      crdt::EventId{origin, seq->get<uint64_t>()}, hash);
}

// The manifest's roster from the last page.
Result<std::vector<bundle::RosterSite>> BundleRoster(const json& last, const std::string& where) {
  const auto roster = last.find("roster");
  if (roster == last.end() || !roster->is_array()) {
    return Status::Corruption(where + ": the last export page has no roster");
  }
  std::vector<bundle::RosterSite> out;
  for (const json& s : *roster) {
    if (!s.is_object()) return Status::Corruption(where + ": malformed roster entry");
    bundle::RosterSite site;
    site.id = s.value("id", "");
    site.name = s.value("name", "");
    site.role = s.value("role", "");
    site.endpoint = s.value("endpoint", "");
    site.teams = s.value("teams", std::vector<std::string>{});
    site.removed = s.value("removed", false);
    BATON_ASSIGN_OR_RETURN(site.public_key, bundle::DecodeHex(s.value("key", "")));
    out.push_back(std::move(site));
  }
  return out;
}

}  // namespace

Result<uint64_t> Client::ExportBundle(const std::filesystem::path& file) {
  const std::string where = "batond at " + endpoint_;
  // The trust anchor (configuration, fixed) for the header; the roster comes with the last page.
  BATON_ASSIGN_OR_RETURN(json sites, Call("site.list"));
  bundle::Header header;
  header.exported_by = "baton export";
  header.exported_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  if (const auto trust = sites.find("trust"); trust != sites.end() && trust->is_object()) {
    header.trust_site = trust->value("site", "");
    BATON_ASSIGN_OR_RETURN(header.trust_key, bundle::DecodeHex(trust->value("key", "")));
  }
  std::unique_ptr<bundle::Writer> writer;
  // Each page is written as it comes: the whole log is never held.
  BATON_TRY(ForEachExportPage([&](json& page, bool last) -> Status {
    if (!writer) {
      header.site = page.value("site", "");
      header.runbook_id = page.value("runbook", "");
      BATON_ASSIGN_OR_RETURN(writer, bundle::Writer::Create(file, header));
    }
    for (const json& e : page["events"]) {
      if (Status added = AddExportedEvent(writer.get(), e, where); !added.ok()) return added;
    }
    if (!last) return Status::Ok();
    BATON_ASSIGN_OR_RETURN(std::vector<bundle::RosterSite> roster, BundleRoster(page, where));
    if (const auto forks = page.find("forks"); forks != page.end() && forks->is_array()) {
      for (const json& f : *forks) {
        BATON_ASSIGN_OR_RETURN(std::string envelope,
                               bundle::DecodeHex(f.value("envelope_hex", "")));
        if (Status added = writer->AddFork(envelope); !added.ok()) return added;
      }
    }
    return writer->Finish(page["next"].get<uint64_t>(), page.value("digest", ""),
                          std::move(roster));
  }));
  return writer->events();
}

Status Client::StartWatch(uint64_t cursor) {
  pushes_.clear();
  last_cursor_ = cursor;
  epoch_.reset();  // A cursor given by the caller is taken as is.
  renumbered_ = false;
  return SendWatch();
}

Status Client::StopWatch() {
  if (!watching_) return Status::Ok();
  watching_ = false;
  watch_id_.clear();
  pushes_.clear();
  auto reply = Exchange("unwatch", nullptr);
  return reply.status();
}

Status Client::Reconnect() {
  BATON_TRY(OpenSocket());
  if (watching_) {
    pushes_.clear();
    return SendWatch();
  }
  return Status::Ok();
}

Result<std::optional<json>> Client::NextPush(int timeout_ms) {
  if (!watching_) return Status::InvalidArgument("no watch: call StartWatch first");
  if (!socket_) return Status::InvalidArgument("client was moved from");
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
  bool resumed = false;  // At most one resume per call keeps it bounded.
  while (true) {
    if (!pushes_.empty()) {
      json push = std::move(pushes_.front());
      pushes_.pop_front();
      last_cursor_ = std::max(last_cursor_, push.value("cursor", uint64_t{0}));
      return std::optional<json>(std::move(push));
    }
    const auto silence_limit = last_heard_ + std::chrono::milliseconds(3 * heartbeat_ms_);
    if (!resumed && Clock::now() >= silence_limit) {
      resumed = true;
      BATON_TRY(Reconnect());
      continue;
    }
    const auto wake = std::min(deadline, resumed ? deadline : silence_limit);
    const int left = RemainingMs(wake);
    try {
      zmq::pollitem_t in_item{socket_->handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&in_item, 1, std::chrono::milliseconds(left)) == 0) {
        if (Clock::now() >= deadline) return std::optional<json>();
        continue;
      }
      zmq::message_t frame;
      if (!socket_->recv(frame, zmq::recv_flags::dontwait)) continue;
      last_heard_ = Clock::now();
      auto msg = ParseServerMessage(frame.to_string_view());
      if (!msg.ok()) return msg.status();
      if (msg->is_push() && msg->id == watch_id_) {
        pushes_.push_back(json::parse(frame.to_string()));
      } else if (!msg->is_push() && msg->id == watch_id_ && !msg->status.ok()) {
        // The daemon ended the watch with an error (its log failed a check): say so.
        watching_ = false;
        return msg->status;
      }
    } catch (const zmq::error_t& e) {
      return Status::IOError("batond at " + endpoint_ + ": " + e.what());
    } catch (const json::exception& e) {
      return Status::Corruption("batond at " + endpoint_ + ": " + e.what());
    }
  }
}

}  // namespace baton::client
