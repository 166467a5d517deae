// ROUTER + ZAP handler for clients. zmq::error_t stops in this file and becomes a Status.
// ZAP (RFC 27): request frames version, request id, domain, address, routing id, mechanism,
// credentials...; reply frames version, request id, status code, status text, user id, metadata.
#include "daemon/service/client_endpoint.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <system_error>
#include <utility>
#include <zmq_addon.hpp>

namespace baton::daemon {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
// libzmq drops a connection that sends a larger frame. Requests between the protocol's limit
// (4 MiB, client/protocol.h) and this get a readable error reply instead.
constexpr int64_t kMaxFrameBytes = int64_t{16} << 20;
// ZMQ_ZAP_ENFORCE_DOMAIN is a draft option in libzmq 4.3's headers.
constexpr int kZapEnforceDomain = 93;

bool DecodeZ85Key(const std::string& z85, uint8_t (&raw)[32]) {
  return z85.size() == 40 && zmq_z85_decode(raw, z85.c_str()) != nullptr;
}

std::string EncodeZ85Key(const uint8_t* raw) {
  char text[41] = {};
  if (zmq_z85_encode(text, raw, 32) == nullptr) return "";
  return std::string(text, 40);
}

// "localhost:UID:GID:PID" (libzmq's ipc peer credentials) -> UID.
std::optional<uid_t> UidFromIpcAddress(std::string_view address) {
  constexpr std::string_view kPrefix = "localhost:";
  if (address.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  address.remove_prefix(kPrefix.size());
  const size_t colon = address.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  uint64_t uid = 0;
  const auto [ptr, ec] = std::from_chars(address.data(), address.data() + colon, uid);
  if (ec != std::errc() || ptr != address.data() + colon) return std::nullopt;
  return static_cast<uid_t>(uid);
}

// A reply for a message that is not exactly one frame; it has no readable id.
std::string FrameCountError(size_t frames) {
  return R"({"v":1,"id":null,"ok":false,"error":{"code":"invalid_argument","message":"expected )"
         R"(one frame of JSON per request (no empty delimiter frame), got )" +
         std::to_string(frames) + R"( frames"}})";
}

}  // namespace

std::string UserNameOf(uid_t uid) {
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::string buffer(size > 0 ? static_cast<size_t>(size) : 16384, '\0');
  passwd entry{};
  passwd* found = nullptr;
  while (true) {
    const int rc = getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < (size_t{1} << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc == 0 && found != nullptr && found->pw_name != nullptr) return found->pw_name;
    return "uid:" + std::to_string(uid);
  }
}

ClientEndpoint::ClientEndpoint(zmq::socket_t router, zmq::socket_t zap)
    : router_(std::move(router)), zap_(std::move(zap)) {}

ClientEndpoint::~ClientEndpoint() = default;

Result<std::unique_ptr<ClientEndpoint>> ClientEndpoint::Open(zmq::context_t& context,
                                                             const EndpointOptions& options) {
  if (options.ipc_path.empty()) return Status::InvalidArgument("client endpoint: no ipc path");
  const bool tcp = !options.tcp_bind.empty();
  std::string curve_public;
  if (tcp) {
    if (options.tcp_bind.rfind("tcp://", 0) != 0) {
      return Status::InvalidArgument("client endpoint tcp bind \"" + options.tcp_bind +
                                     "\": expected tcp://HOST:PORT");
    }
    if (!zmq_has("curve")) {
      return Status::Unavailable("client endpoint " + options.tcp_bind +
                                 ": libzmq was built without CURVE");
    }
    uint8_t raw[32];
    if (!DecodeZ85Key(options.curve_secret_z85, raw)) {
      return Status::InvalidArgument("client endpoint " + options.tcp_bind +
                                     ": CURVE secret key: expected 40 Z85 characters");
    }
    char public_text[41] = {};
    if (zmq_curve_public(public_text, options.curve_secret_z85.c_str()) != 0) {
      return Status::InvalidArgument("client endpoint: cannot derive the CURVE public key");
    }
    curve_public.assign(public_text, 40);
    for (size_t i = 0; i < options.allowed_client_keys_z85.size(); ++i) {
      if (!DecodeZ85Key(options.allowed_client_keys_z85[i], raw)) {
        return Status::InvalidArgument("client endpoint: allowed client key " + std::to_string(i) +
                                       " \"" + options.allowed_client_keys_z85[i] +
                                       "\": expected 40 Z85 characters");
      }
    }
  }

  std::string step;
  try {
    step = "ZAP handler " + std::string(kZapEndpoint);
    zmq::socket_t zap(context, zmq::socket_type::rep);
    zap.set(zmq::sockopt::linger, 0);
    zap.bind(kZapEndpoint);

    step = "client socket options";
    zmq::socket_t router(context, zmq::socket_type::router);
    router.set(zmq::sockopt::linger, 0);
    router.set(zmq::sockopt::router_mandatory, true);
    router.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
    router.set(zmq::sockopt::sndhwm, kClientSendHighWater);
    router.set(zmq::sockopt::zap_domain, kZapDomain);
    // Refused by a libzmq without draft options; ZAP still runs there because the domain is
    // set and the handler is bound (NULL asks ZAP when a domain is set; CURVE always does).
    const int enforce = 1;
    static_cast<void>(zmq_setsockopt(router.handle(), kZapEnforceDomain, &enforce, sizeof enforce));

    auto endpoint =
        std::unique_ptr<ClientEndpoint>(new ClientEndpoint(std::move(router), std::move(zap)));
    endpoint->options_ = options;

    // Options are captured per bind: ipc binds with the NULL mechanism, tcp after CURVE is on.
    step = "ipc socket " + options.ipc_path.string();
    endpoint->router_.bind("ipc://" + options.ipc_path.string());
    endpoint->ipc_endpoint_ = endpoint->router_.get(zmq::sockopt::last_endpoint);
    std::error_code ec;
    std::filesystem::permissions(options.ipc_path,
                                 static_cast<std::filesystem::perms>(options.ipc_mode),
                                 std::filesystem::perm_options::replace, ec);
    if (ec) {
      return Status::IOError("client endpoint: chmod " + options.ipc_path.string() + ": " +
                             ec.message());
    }
    if (tcp) {
      step = "tcp " + options.tcp_bind;
      endpoint->router_.set(zmq::sockopt::curve_server, true);
      endpoint->router_.set(zmq::sockopt::curve_secretkey, options.curve_secret_z85);
      endpoint->router_.bind(options.tcp_bind);
      endpoint->tcp_endpoint_ = endpoint->router_.get(zmq::sockopt::last_endpoint);
      endpoint->curve_public_z85_ = curve_public;
    }
    return endpoint;
  } catch (const zmq::error_t& e) {
    return Status::IOError("client endpoint: " + step + ": " + e.what());
  }
}

size_t ClientEndpoint::AppendPollItems(std::vector<zmq::pollitem_t>& items) {
  const size_t first = items.size();
  items.push_back({router_.handle(), 0, ZMQ_POLLIN, 0});
  items.push_back({zap_.handle(), 0, ZMQ_POLLIN, 0});
  return first;
}

void ClientEndpoint::ServiceZap() {
  while (true) {
    std::vector<zmq::message_t> frames;
    try {
      if (!zmq::recv_multipart(zap_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        return;
      }
    } catch (const zmq::error_t&) {
      return;  // Context terminating; nothing to answer.
    }
    ZapRequest request;
    std::optional<std::string> user;
    const bool well_formed = frames.size() >= 6 && frames[0].to_string_view() == "1.0";
    if (well_formed) {
      request.domain = frames[2].to_string();
      request.address = frames[3].to_string();
      request.mechanism = frames[5].to_string();
      if (request.mechanism == "CURVE" && frames.size() >= 7 && frames[6].size() == 32) {
        request.curve_public_z85 = EncodeZ85Key(static_cast<const uint8_t*>(frames[6].data()));
      }
      user = Authenticate(request);
    }
    std::vector<zmq::message_t> reply;
    reply.emplace_back(std::string_view("1.0"));
    reply.emplace_back(frames.size() > 1 ? frames[1].to_string_view() : std::string_view());
    reply.emplace_back(std::string_view(user ? "200" : "400"));
    reply.emplace_back(std::string_view(user ? "OK" : "not allowed"));
    reply.emplace_back(std::string_view(user ? *user : std::string()));
    reply.emplace_back(std::string_view());
    try {
      zmq::send_multipart(zap_, reply, zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
      return;  // The handshake's session has gone; libzmq times it out.
    }
  }
}

std::optional<std::string> ClientEndpoint::Authenticate(const ZapRequest& request) const {
  if (request.domain != kZapDomain) {
    if (options_.other_domains) return options_.other_domains(request);
    return std::nullopt;
  }
  if (request.mechanism == "NULL") {
    // Only the ipc transport runs without CURVE; its address carries kernel peer credentials.
    const auto uid = UidFromIpcAddress(request.address);
    if (!uid) return std::nullopt;
    return UserNameOf(*uid);
  }
  if (request.mechanism == "CURVE" && !request.curve_public_z85.empty()) {
    for (const auto& key : options_.allowed_client_keys_z85) {
      if (key == request.curve_public_z85) return "curve:" + key.substr(0, 8);
    }
  }
  return std::nullopt;
}

Result<bool> ClientEndpoint::Poll(int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
  while (true) {
    std::vector<zmq::pollitem_t> items;
    AppendPollItems(items);
    long wait = -1;
    if (timeout_ms >= 0) {
      wait = std::max<long>(
          0,
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    }
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(wait));
    } catch (const zmq::error_t& e) {
      // A signal (SIGTERM, SIGINT) interrupts the poll: let the caller check its stop flag.
      if (e.num() == EINTR) return false;
      return Status::IOError(std::string("client endpoint poll: ") + e.what());
    }
    if (items[1].revents & ZMQ_POLLIN) ServiceZap();
    if (items[0].revents & ZMQ_POLLIN) return true;
    if (timeout_ms >= 0 && Clock::now() >= deadline) return false;
  }
}

std::optional<Incoming> ClientEndpoint::Receive() {
  while (true) {
    std::vector<zmq::message_t> frames;
    try {
      if (!zmq::recv_multipart(router_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        return std::nullopt;
      }
    } catch (const zmq::error_t&) {
      return std::nullopt;
    }
    if (frames.empty()) continue;
    Incoming in;
    in.routing_id = frames[0].to_string();
    if (frames.size() != 2) {
      // Best effort: a peer that sent a malformed message may already be gone.
      Send(in.routing_id, FrameCountError(frames.size() - 1)).Ignore();
      continue;
    }
    try {
      in.os_user = frames[1].gets("User-Id");
    } catch (const zmq::error_t&) {
      continue;  // Not authenticated by our ZAP handler: cannot happen with a domain set.
    }
    in.text = frames[1].to_string();
    return in;
  }
}

// One message on its way: the bytes libzmq sends from (zero copy) and whom to give them back.
struct ClientEndpoint::Queued {
  std::string text;
  std::shared_ptr<Outbox> outbox;
  std::shared_ptr<Totals> totals;
};

void ClientEndpoint::Release(void* /*data*/, void* hint) {
  auto* queued = static_cast<Queued*>(hint);
  const auto bytes = static_cast<int64_t>(queued->text.size());
  queued->outbox->bytes.fetch_sub(bytes);
  queued->totals->total.fetch_sub(bytes);
  delete queued;
}

void ClientEndpoint::PruneOutboxes() {
  // Only the loop thread adds a holder, so a count of 1 (this map's) cannot rise meanwhile.
  for (auto it = outboxes_.begin(); it != outboxes_.end();) {
    it = it->second.use_count() == 1 ? outboxes_.erase(it) : std::next(it);
  }
  prune_at_ = std::max<size_t>(1024, 2 * outboxes_.size());
}

int64_t ClientEndpoint::QueuedBytes(const std::string& routing_id) const {
  const auto it = outboxes_.find(routing_id);
  return it == outboxes_.end() ? 0 : it->second->bytes.load();
}

Status ClientEndpoint::Send(const std::string& routing_id, std::string_view text) {
  auto& outbox = outboxes_[routing_id];
  if (!outbox) outbox = std::make_shared<Outbox>();
  const auto size = static_cast<int64_t>(text.size());
  if (text.size() > kClientSmallMessageBytes) {
    const int64_t mine = outbox->bytes.load();
    const int64_t all = queued_->total.load();
    if (mine > 0 && (mine >= kClientSendBudgetBytes || all >= kClientSendBudgetTotalBytes)) {
      return Status::Unavailable("client connection is not reading: " + std::to_string(mine) +
                                 " bytes are queued for it");
    }
  }
  try {
    if (!router_.send(zmq::buffer(routing_id),
                      zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return Status::Unavailable("client connection is not reading: its send queue is full");
    }
    // Counted before it is queued: libzmq may free it on its I/O thread at once.
    auto* queued = new Queued{std::string(text), outbox, queued_};
    outbox->bytes.fetch_add(size);
    queued_->total.fetch_add(size);
    zmq::message_t message(queued->text.data(), queued->text.size(), &Release, queued);
    // The high-water mark is checked on a message's first frame only: this part is queued.
    const auto sent = router_.send(message, zmq::send_flags::dontwait);
    static_cast<void>(sent);
  } catch (const zmq::error_t& e) {
    if (outboxes_.size() > prune_at_) PruneOutboxes();
    if (e.num() == EHOSTUNREACH) {
      outboxes_.erase(routing_id);
      return Status::NotFound("client has disconnected");
    }
    return Status::IOError(std::string("send to client: ") + e.what());
  }
  if (outboxes_.size() > prune_at_) PruneOutboxes();
  return Status::Ok();
}

}  // namespace baton::daemon
