// Client <-> ClientEndpoint over real sockets: ipc in a temp dir (OS user from the kernel) and
// tcp on 127.0.0.1 with CURVE (allowed and unknown keys). The daemon side is a small echo loop
// on a thread of its own; every wait is bounded.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "client/client.h"
#include "client/protocol.h"
#include "daemon/service/client_endpoint.h"
#include "tests/support/temp_dir.h"

namespace baton {
namespace {

using json = nlohmann::json;

struct KeyPair {
  std::string public_z85, secret_z85;
};

KeyPair NewKeyPair() {
  char pub[41] = {}, sec[41] = {};
  BATON_CHECK(zmq_curve_keypair(pub, sec) == 0);
  return {pub, sec};
}

std::string MyUserName() {
  const passwd* pw = getpwuid(getuid());
  return pw != nullptr ? pw->pw_name : "uid:" + std::to_string(getuid());
}

// A daemon stand-in: answers ping with who sent it, report with its parsed args, task T-999 with
// not_found, watch with three events and a heartbeat, bad requests with the parse error.
class EchoDaemon {
 public:
  explicit EchoDaemon(const testing::TempDir& dir) : server_keys_(NewKeyPair()) {
    allowed_ = NewKeyPair();
    daemon::EndpointOptions options;
    options.ipc_path = dir / "batond.sock";
    options.tcp_bind = "tcp://127.0.0.1:*";
    options.curve_secret_z85 = server_keys_.secret_z85;
    options.allowed_client_keys_z85 = {allowed_.public_z85};
    auto endpoint = daemon::ClientEndpoint::Open(context_, options);
    BOOST_TEST_REQUIRE(endpoint.ok(), endpoint.status().ToString());
    endpoint_ = std::move(endpoint).value();
    thread_ = std::thread([this] { Run(); });
  }
  ~EchoDaemon() {
    stop_ = true;
    thread_.join();
    endpoint_.reset();
  }

  daemon::ClientEndpoint& endpoint() { return *endpoint_; }
  const KeyPair& server_keys() const { return server_keys_; }
  const KeyPair& allowed() const { return allowed_; }
  int requests() const { return requests_; }

  client::ClientOptions CurveOptions(const KeyPair& client_keys, int timeout_ms = 5000) const {
    client::ClientOptions options;
    options.timeout_ms = timeout_ms;
    options.curve = client::CurveClientKeys{server_keys_.public_z85, client_keys.public_z85,
                                            client_keys.secret_z85};
    return options;
  }

 private:
  void Run() {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!stop_ && std::chrono::steady_clock::now() < give_up) {
      auto ready = endpoint_->Poll(20);
      if (!ready.ok() || !ready.value()) continue;
      while (auto in = endpoint_->Receive()) {
        ++requests_;
        Handle(*in);
      }
    }
  }

  void Reply(const daemon::Incoming& in, const std::string& text) {
    endpoint_->Send(in.routing_id, text).Ignore();  // A vanished test client is fine.
  }

  void Handle(const daemon::Incoming& in) {
    auto request = client::ParseRequest(in.text);
    if (!request.ok()) {
      return Reply(in, client::MakeError(client::PeekRequestId(in.text), request.status()));
    }
    const auto& req = request.value();
    if (req.op == "ping") {
      return Reply(in, client::MakeOk(req.id, {{"os_user", in.os_user}}));
    }
    if (req.op == "report") {
      auto args = client::ParseReportArgs(req);
      if (!args.ok()) return Reply(in, client::MakeError(req.id, args.status()));
      return Reply(in, client::MakeOk(req.id, {{"task", args->task_id},
                                               {"kind", client::ReportKindName(args->kind)},
                                               {"effective_ms", args->effective_ms},
                                               {"actor", in.os_user}}));
    }
    if (req.op == "task") {
      auto args = client::ParseTaskArgs(req);
      if (!args.ok()) return Reply(in, client::MakeError(req.id, args.status()));
      return Reply(in, client::MakeError(req.id, Status::NotFound("task \"" + args->task_id +
                                                                  "\" is not in the plan")));
    }
    if (req.op == "watch") {
      auto args = client::ParseWatchArgs(req);
      if (!args.ok()) return Reply(in, client::MakeError(req.id, args.status()));
      Reply(in, client::MakeOk(req.id, {{"cursor", args->cursor}, {"heartbeat_ms", 200}}));
      for (uint64_t c = args->cursor + 1; c <= args->cursor + 3; ++c) {
        crdt::Event event;
        event.origin = "hq";
        event.seq = c;
        event.actor = in.os_user;
        event.body = crdt::NoteAdded{"", "event " + std::to_string(c)};
        Reply(in, client::MakeEventPush(req.id, c, client::ToJson(event)));
      }
      return Reply(in, client::MakeHeartbeat(req.id, args->cursor + 3));
    }
    return Reply(in, client::MakeOk(req.id, req.args));
  }

  zmq::context_t context_;
  KeyPair server_keys_, allowed_;
  std::unique_ptr<daemon::ClientEndpoint> endpoint_;  // Loop thread only once running.
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// A raw DEALER, to send what the Client library never would.
std::optional<json> RawExchange(const std::string& endpoint, std::vector<std::string> frames,
                                int timeout_ms = 5000) {
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(endpoint);
  for (size_t i = 0; i < frames.size(); ++i) {
    socket.send(zmq::buffer(frames[i]),
                i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) == 0) return std::nullopt;
  zmq::message_t reply;
  if (!socket.recv(reply)) return std::nullopt;
  return json::parse(reply.to_string());
}

struct Fixture {
  testing::TempDir dir{"baton-client-test"};
  EchoDaemon daemon{dir};
  std::string ipc() const { return "ipc://" + (dir / "batond.sock").string(); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(TransportTest, Fixture)

BOOST_AUTO_TEST_CASE(an_ipc_request_carries_the_os_user_of_the_process) {
  auto client = client::Client::Connect(ipc());
  BOOST_TEST_REQUIRE(client.ok(), client.status().ToString());
  auto reply = client->Call("ping");
  BOOST_TEST_REQUIRE(reply.ok(), reply.status().ToString());
  BOOST_TEST(reply.value()["os_user"] == MyUserName());

  struct stat st {};
  BOOST_TEST_REQUIRE(stat((dir / "batond.sock").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0660u);
  BOOST_TEST(daemon.endpoint().ipc_endpoint() == ipc());
}

BOOST_AUTO_TEST_CASE(a_client_assigned_over_another_closes_the_old_one_first) {
  auto first = client::Client::Connect(ipc());
  auto second = client::Client::Connect(ipc());
  BOOST_TEST_REQUIRE(first.ok());
  BOOST_TEST_REQUIRE(second.ok());
  BOOST_TEST_REQUIRE(
      (first->Call("task", {{"task", "T-999"}}).status().code() == StatusCode::kNotFound));
  // Before: the old context was terminated while its socket was open, which blocks for ever.
  *first = std::move(*second);
  auto after = first->Call("task", {{"task", "T-999"}});
  BOOST_TEST((after.status().code() == StatusCode::kNotFound), after.status().ToString());
}

BOOST_AUTO_TEST_CASE(requests_round_trip_and_error_replies_become_the_status) {
  auto client = client::Client::Connect(ipc());
  BOOST_TEST_REQUIRE(client.ok());
  auto reply = client->Call(
      "report", {{"task", "T-042"}, {"kind", "done"}, {"at", "2024-05-18T04:10+02:00"}});
  BOOST_TEST_REQUIRE(reply.ok(), reply.status().ToString());
  BOOST_TEST(reply.value()["task"] == "T-042");
  BOOST_TEST(reply.value()["kind"] == "done");
  BOOST_TEST(reply.value()["effective_ms"] == 1715998200000);

  auto missing = client->Call("task", {{"task", "T-999"}});
  BOOST_TEST((missing.status().code() == StatusCode::kNotFound));
  BOOST_TEST(missing.status().message() == "task \"T-999\" is not in the plan");

  auto bad = client->Call("report", {{"task", "T-1"}, {"kind", "finished"}});
  BOOST_TEST((bad.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST(bad.status().message() ==
             R"(field "kind": "finished" is not one of start, done, fail, skip, reset)");

  // Many calls on one connection: each reply matches its request.
  for (int i = 0; i < 50; ++i) {
    auto echo = client->Call("list", {{"team", "dba-" + std::to_string(i)}});
    BOOST_TEST_REQUIRE(echo.ok(), echo.status().ToString());
    BOOST_TEST(echo.value()["team"] == "dba-" + std::to_string(i));
  }
}

BOOST_AUTO_TEST_CASE(watch_pushes_arrive_and_resume_after_a_reconnect) {
  auto client = client::Client::Connect(ipc());
  BOOST_TEST_REQUIRE(client.ok());
  BOOST_TEST_REQUIRE(client->StartWatch(5).ok());
  for (uint64_t want = 6; want <= 8; ++want) {
    auto push = client->NextPush(5000);
    BOOST_TEST_REQUIRE(push.ok(), push.status().ToString());
    BOOST_TEST_REQUIRE(push->has_value());
    BOOST_TEST((**push)["stream"] == "event");
    BOOST_TEST((**push)["cursor"] == want);
    BOOST_TEST((**push)["event"]["id"] == "hq/" + std::to_string(want));
    BOOST_TEST((**push)["event"]["actor"] == MyUserName());
  }
  auto beat = client->NextPush(5000);
  BOOST_TEST_REQUIRE(beat.ok());
  BOOST_TEST_REQUIRE(beat->has_value());
  BOOST_TEST((**beat)["stream"] == "heartbeat");
  BOOST_TEST(client->last_cursor() == 8u);

  // A call in between keeps the stream (pushes are not replies).
  BOOST_TEST(client->Call("ping").ok());

  // Resume after a reconnect: the watch restarts from the last cursor.
  BOOST_TEST_REQUIRE(client->Reconnect().ok());
  auto next = client->NextPush(5000);
  BOOST_TEST_REQUIRE(next.ok());
  BOOST_TEST_REQUIRE(next->has_value());
  BOOST_TEST((**next)["cursor"] == 9);
}

BOOST_AUTO_TEST_CASE(a_silent_watch_resumes_by_itself) {
  auto client = client::Client::Connect(ipc());
  BOOST_TEST_REQUIRE(client.ok());
  BOOST_TEST_REQUIRE(client->StartWatch(0).ok());
  for (int i = 0; i < 4; ++i) {  // Three events and the heartbeat.
    auto push = client->NextPush(5000);
    BOOST_TEST_REQUIRE(push.ok());
    BOOST_TEST_REQUIRE(push->has_value());
  }
  BOOST_TEST(client->last_cursor() == 3u);
  // The stand-in sends nothing more: after 3 x 200 ms of silence the client resumes at 3.
  auto resumed = client->NextPush(3000);
  BOOST_TEST_REQUIRE(resumed.ok(), resumed.status().ToString());
  BOOST_TEST_REQUIRE(resumed->has_value());
  BOOST_TEST((**resumed)["cursor"] == 4);
  BOOST_TEST(client->StopWatch().ok());
}

BOOST_AUTO_TEST_CASE(a_curve_client_with_an_allowed_key_is_served) {
  auto client = client::Client::Connect(daemon.endpoint().tcp_endpoint(),
                                        daemon.CurveOptions(daemon.allowed()));
  BOOST_TEST_REQUIRE(client.ok(), client.status().ToString());
  auto reply = client->Call("ping");
  BOOST_TEST_REQUIRE(reply.ok(), reply.status().ToString());
  BOOST_TEST(reply.value()["os_user"] == "curve:" + daemon.allowed().public_z85.substr(0, 8));
  BOOST_TEST(daemon.endpoint().tcp_endpoint().rfind("tcp://127.0.0.1:", 0) == 0u);
  BOOST_TEST(daemon.endpoint().curve_public_z85() == daemon.server_keys().public_z85);
}

BOOST_AUTO_TEST_CASE(a_curve_client_with_an_unknown_key_is_refused) {
  auto client = client::Client::Connect(daemon.endpoint().tcp_endpoint(),
                                        daemon.CurveOptions(NewKeyPair(), 700));
  BOOST_TEST_REQUIRE(client.ok());
  const int before = daemon.requests();
  auto reply = client->Call("ping");
  BOOST_TEST((reply.status().code() == StatusCode::kUnavailable));
  BOOST_TEST(reply.status().message().find("no reply from batond at tcp://127.0.0.1:") == 0u,
             reply.status().message());
  BOOST_TEST(daemon.requests() == before);

  // Right server key but a tcp client without CURVE at all is refused by the library.
  auto plain = client::Client::Connect(daemon.endpoint().tcp_endpoint());
  BOOST_TEST((plain.status().code() == StatusCode::kInvalidArgument));
}

BOOST_AUTO_TEST_CASE(an_absent_daemon_is_reported_unavailable) {
  const std::string endpoint = "ipc://" + (dir / "nobody.sock").string();
  client::ClientOptions options;
  options.timeout_ms = 300;
  auto client = client::Client::Connect(endpoint, options);
  BOOST_TEST_REQUIRE(client.ok());
  auto reply = client->Call("status");
  BOOST_TEST((reply.status().code() == StatusCode::kUnavailable));
  BOOST_TEST(reply.status().message() == "no reply from batond at " + endpoint +
                                             " within 300 ms (is it running? try `batond run`)");
}

BOOST_AUTO_TEST_CASE(an_oversize_request_is_refused_with_a_clear_error) {
  // The library refuses to send it.
  auto client = client::Client::Connect(ipc());
  BOOST_TEST_REQUIRE(client.ok());
  auto refused = client->Call("note", {{"text", std::string(client::kMaxRequestBytes, 'x')}});
  BOOST_TEST((refused.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST(refused.status().message().find("over the limit") != std::string::npos);

  // A raw peer that sends one anyway gets an error reply, not silence.
  const std::string text = R"({"v":1,"id":"big","op":"note","text":")" +
                           std::string(client::kMaxRequestBytes, 'x') + R"("})";
  auto reply = RawExchange(ipc(), {text});
  BOOST_TEST_REQUIRE(reply.has_value());
  BOOST_TEST((*reply)["ok"] == false);
  BOOST_TEST((*reply)["id"].is_null());
  BOOST_TEST((*reply)["error"]["code"] == "invalid_argument");
  BOOST_TEST((*reply)["error"]["message"].get<std::string>().find("4 MiB") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_request_with_a_delimiter_frame_is_refused) {
  auto reply = RawExchange(ipc(), {"", R"({"v":1,"id":"1","op":"ping"})"});
  BOOST_TEST_REQUIRE(reply.has_value());
  BOOST_TEST((*reply)["ok"] == false);
  BOOST_TEST((*reply)["error"]["message"].get<std::string>().find("got 2 frames") !=
             std::string::npos);
  // And a well-formed single frame from a raw peer is served with its id.
  auto ok = RawExchange(ipc(), {R"({"v":1,"id":"raw-1","op":"ping"})"});
  BOOST_TEST_REQUIRE(ok.has_value());
  BOOST_TEST((*ok)["id"] == "raw-1");
  BOOST_TEST((*ok)["result"]["os_user"] == MyUserName());
}

BOOST_AUTO_TEST_SUITE_END()

// Send to a peer that never connected: an error, not silence (ROUTER_MANDATORY).
BOOST_AUTO_TEST_CASE(sending_to_an_unknown_peer_is_not_found) {
  testing::TempDir dir("baton-client-test");
  zmq::context_t context;
  daemon::EndpointOptions options;
  options.ipc_path = dir / "batond.sock";
  auto endpoint = daemon::ClientEndpoint::Open(context, options);
  BOOST_TEST_REQUIRE(endpoint.ok(), endpoint.status().ToString());
  auto sent = endpoint.value()->Send("no-such-peer", "{}");
  BOOST_TEST((sent.code() == StatusCode::kNotFound));
  BOOST_TEST(!endpoint.value()->Receive().has_value());
  BOOST_TEST(endpoint.value()->tcp_endpoint().empty());

  // A second endpoint in the same context cannot bind the ZAP handler: named in the error.
  daemon::EndpointOptions other;
  other.ipc_path = dir / "other.sock";
  auto second = daemon::ClientEndpoint::Open(context, other);
  BOOST_TEST((second.status().code() == StatusCode::kIOError));
  BOOST_TEST(second.status().message().find("inproc://zeromq.zap.01") != std::string::npos);
  // Bad options are refused before anything is bound.
  other.tcp_bind = "tcp://127.0.0.1:*";
  other.curve_secret_z85 = "short";
  auto bad_key = daemon::ClientEndpoint::Open(context, other);
  BOOST_TEST((bad_key.status().code() == StatusCode::kInvalidArgument));
}

}  // namespace baton
