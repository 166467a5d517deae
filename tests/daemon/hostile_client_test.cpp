// Hostile clients against a real `batond` over ipc: every request that once crashed, stalled or
// bloated the daemon, or was accepted as nonsense, gets an error naming the field; garbage frames,
// hundreds of connections and half-open sockets cost nothing. After each case the daemon still
// answers `status`, its state digest is unchanged (nothing was appended) and its resident memory
// stays under a stated bound. Limits: docs/client-protocol.md#limits.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "client/client.h"
#include "client/protocol.h"
#include "tests/support/proc_status.h"
#include "tests/support/site.h"

namespace baton {
namespace {

using nlohmann::json;
using testing::ResidentMib;
using testing::Site;

// The daemon's resident memory must stay under this during every case. Sanitizer builds shadow
// every byte and pad every allocation: they get a looser bound (and a small quarantine, below).
#if defined(__SANITIZE_ADDRESS__)
constexpr double kRssBoundMib = 400;
constexpr double kGrowthSlackMib = 60;
#else
constexpr double kRssBoundMib = 150;
constexpr double kGrowthSlackMib = 30;
#endif

// A raw DEALER: sends any frames, reads one reply.
class RawClient {
 public:
  RawClient(zmq::context_t& context, const std::string& endpoint)
      : socket_(context, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
  }
  void Send(const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      socket_.send(zmq::buffer(frames[i]),
                   i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  // The next reply as JSON (a non-JSON reply fails the test), nullopt after `timeout_ms`.
  std::optional<json> Reply(int timeout_ms = 10000) {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) == 0) return std::nullopt;
    zmq::message_t reply;
    if (!socket_.recv(reply)) return std::nullopt;
    auto parsed = json::parse(reply.to_string(), nullptr, /*allow_exceptions=*/false);
    BOOST_TEST_REQUIRE(!parsed.is_discarded(), "reply is not JSON: " << reply.to_string());
    return parsed;
  }

 private:
  zmq::socket_t socket_;
};

json HostilePlan() {
  const int64_t start = 1774641600000;  // 2026-03-27T20:00:00Z
  const int64_t h = 3600 * 1000;
  return json{
      {"runbook_id", "rb-hostile"},
      {"name", "Hostile clients"},
      {"window_start_ms", start},
      {"window_end_ms", start + 8 * h},
      {"tasks",
       json::array({{{"id", "A"}, {"site", "hq"}, {"duration_ms", h}},
                    {{"id", "B"},
                     {"site", "hq"},
                     {"duration_ms", h},
                     {"predecessors", json::array({"A"})},
                     {"backout_task", "X"}},
                    {{"id", "X"}, {"site", "hq"}, {"duration_ms", h}, {"is_backout", true}}})}};
}

// ASan keeps freed memory in a quarantine (256 MiB by default) that would count as the
// daemon's own: the daemon under test runs with a small one, so RSS shows what it holds.
void SmallQuarantine() {
#if defined(__SANITIZE_ADDRESS__)
  const char* given = std::getenv("ASAN_OPTIONS");
  std::string options = given != nullptr ? given : "";
  if (options.find("quarantine_size_mb") != std::string::npos) return;
  options += (options.empty() ? "" : ":") + std::string("quarantine_size_mb=16");
  setenv("ASAN_OPTIONS", options.c_str(), 1);
#endif
}

// One site with a plan, and what "nothing changed" means there.
struct Fixture {
  Fixture() {
    SmallQuarantine();
    site.Start();
    auto c = site.Connect();
    BOOST_TEST_REQUIRE(c.Call("plan.import", json{{"plan", HostilePlan()}}).ok());
    BOOST_TEST_REQUIRE(c.Call("report", json{{"task", "A"}, {"kind", "start"}}).ok());
    baseline = State();
  }

  // Status with the digest: events and digest say whether anything was appended.
  json State() {
    client::ClientOptions o;
    o.timeout_ms = 10000;
    auto c = client::Client::Connect(site.endpoint(), o);
    BOOST_TEST_REQUIRE(c.ok(), c.status().ToString());
    auto s = c->Call("status", json{{"digest", true}});
    BOOST_TEST_REQUIRE(s.ok(), s.status().ToString() << "\nlog:\n" << site.Log());
    return json{{"events", (*s)["events"]}, {"digest", (*s)["digest"]}};
  }

  // The daemon is up, answers, appended nothing and stays under the memory bound.
  void ExpectUnharmed(const std::string& after) {
    BOOST_TEST_CONTEXT("after " << after) {
      BOOST_TEST_REQUIRE(kill(site.pid(), 0) == 0, "batond is gone; log:\n" << site.Log());
      BOOST_TEST(State() == baseline);
      const double rss = ResidentMib(site.pid());
      BOOST_TEST(rss < kRssBoundMib, "batond resident " << rss << " MiB");
      BOOST_TEST_MESSAGE("batond resident " << rss << " MiB after " << after);
    }
  }

  Site site{"hq"};
  json baseline;
  zmq::context_t context;
};

struct Case {
  std::string name;
  std::string text;
  std::string expect;  // In the error message.
  bool id_readable = true;
};

std::string Request(const std::string& op, const std::string& members) {
  return R"({"v":1,"id":"h","op":")" + op + "\"" + (members.empty() ? "" : "," + members) + "}";
}

std::string List(size_t n, const std::string& prefix) {
  std::string out = "[";
  for (size_t i = 0; i < n; ++i) out += (i ? ",\"" : "\"") + prefix + std::to_string(i) + "\"";
  return out + "]";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(hostile_client, Fixture)

BOOST_AUTO_TEST_CASE(every_hostile_request_gets_a_named_error_and_changes_nothing) {
  const std::string deep(100000, '[');
  const std::vector<Case> cases = {
      {"digest as a string", Request("status", R"("digest":"yes")"),
       R"(field "digest": expected true or false, got "yes")"},
      {"digest as a number", Request("status", R"("digest":1)"),
       R"(field "digest": expected true or false, got 1)"},
      {"a number beyond a double", Request("ping", R"("x":1e400)"), "not valid JSON", false},
      {"nesting 100,000 deep", deep + std::string(100000, ']'), "deeper than 32 levels", false},
      {"nesting inside a field", Request("note", R"("text":"x","actor":)" + deep),
       "deeper than 32 levels", false},
      {"a million removals", Request("plan.amend", R"("task_remove":)" + List(1000000, "T-")),
       "over the limit of 4194304 bytes", false},
      {"1,001 removals", Request("plan.amend", R"("task_remove":)" + List(1001, "T-")),
       "over the limit of 1000 per request"},
      {"a removal given twice", Request("plan.amend", R"("task_remove":["A","A"])"),
       R"(task "A" is also named by task_remove[0])"},
      {"a 10 MB note", Request("note", R"("text":")" + std::string(10 << 20, 'n') + "\""),
       "over the limit of 4194304 bytes", false},
      {"a 5,000-byte note", Request("note", R"("text":")" + std::string(5000, 'n') + "\""),
       R"(field "text": is 5000 bytes, over the limit of 4096)"},
      {"a predecessor that does not exist",
       Request("plan.amend", R"("task_add":[{"id":"C","predecessors":["NOPE"]}])"),
       R"(task "C": predecessor "NOPE" is not in the plan)"},
      {"a back-out task that does not exist",
       Request("plan.amend", R"("task_change":[{"task":"A","backout_task":"NOPE"}])"),
       R"(task "A": back-out task "NOPE" is not in the plan)"},
      {"a plan naming a missing predecessor",
       Request("plan.import", R"("plan":{"runbook_id":"rb-hostile","tasks":[{"id":"D",)"
                              R"("predecessors":["GONE"]}]})"),
       R"(task "D": predecessor "GONE" is not in the plan)"},
      {"a duration of 2^63-1",
       Request("plan.amend", R"("task_change":[{"task":"A","duration_ms":9223372036854775807}])"),
       "task_change[0].duration_ms: 9223372036854775807 is out of range"},
      {"at 0", Request("report", R"("task":"A","kind":"done","at":0)"),
       R"(field "at": time 0 is outside the years 2000 to 2099)"},
      {"at -1", Request("report", R"("task":"A","kind":"done","at":-1)"),
       R"(field "at": time -1 is outside)"},
      {"at year 1", Request("report", R"("task":"A","kind":"done","at":"0001-01-01T00:00Z")"),
       R"(field "at": time "0001-01-01T00:00Z" is outside)"},
      {"at INT64_MIN+1", Request("report", R"("task":"A","kind":"done","at":-9223372036854775807)"),
       R"(field "at": time -9223372036854775807 is outside)"},
      {"an export format", Request("export", R"("format":"xml")"),
       R"(field "format": "xml" is not one of json)"},
      {"an epoch string", Request("watch", R"("epoch":"any-string")"),
       R"(field "epoch": "any-string" is not an arrival epoch)"},
      {"a cursor past the last arrival", Request("watch", R"("cursor":100000)"),
       R"(field "cursor": 100000 is past the last arrival at site hq)"},
      {"a request id of 10,000 bytes",
       R"({"v":1,"id":")" + std::string(10000, 'i') + R"(","op":"ping"})",
       R"(field "id": is 10000 bytes, over the limit of 128)", false},
      {"an unknown argument named by 1 MB",
       Request("ping", "\"" + std::string(1 << 20, 'k') + "\":1"),
       "is not an argument of ping (it takes none)"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      RawClient raw(context, site.endpoint());
      const auto started = std::chrono::steady_clock::now();
      raw.Send({c.text});
      auto reply = raw.Reply();
      BOOST_TEST_REQUIRE(reply.has_value(), "no reply within 10 s; log:\n" << site.Log());
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
      BOOST_TEST(ms < 5000, "the reply took " << ms << " ms");
      BOOST_TEST((*reply)["ok"] == false);
      BOOST_TEST((*reply)["error"]["code"] == "invalid_argument");
      const std::string message = (*reply)["error"]["message"];
      BOOST_TEST(message.find(c.expect) != std::string::npos, message);
      BOOST_TEST(message.size() < 300u, "an error of " << message.size() << " bytes");
      BOOST_TEST(((*reply)["id"] == (c.id_readable ? json("h") : json(nullptr))));
      ExpectUnharmed(c.name);
    }
  }
}

BOOST_AUTO_TEST_CASE(garbage_frames_and_many_connections_cost_nothing) {
  std::mt19937 rng(7);
  const auto noise = [&](size_t n) {
    std::string s(n, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng());
    return s;
  };
  {
    // Frames that are not one JSON request: each gets an error, none takes the daemon down.
    RawClient raw(context, site.endpoint());
    const std::vector<std::vector<std::string>> garbage = {
        {""},
        {noise(64)},
        {"\xff\xfe{\"v\":1}"},
        {R"({"v":1,"id":"h","op":"note","text":"\ud800"})"},
        {"", "", ""},
        {noise(1 << 20)},
        {"null"},
        {R"({"v":1,"id":"h","op":"ping")"},
    };
    for (const auto& frames : garbage) {
      raw.Send(frames);
      auto reply = raw.Reply();
      BOOST_TEST_REQUIRE(reply.has_value());
      BOOST_TEST((*reply)["ok"] == false);
      BOOST_TEST((*reply)["error"]["code"] == "invalid_argument");
    }
    ExpectUnharmed("garbage frames");
  }
  {
    // 200 connections at once, each sending garbage and never reading its reply, while a
    // well-behaved client keeps being answered.
    std::vector<std::unique_ptr<RawClient>> crowd;
    for (int i = 0; i < 200; ++i) {
      crowd.push_back(std::make_unique<RawClient>(context, site.endpoint()));
      crowd.back()->Send({noise(1 + rng() % 4096)});
      crowd.back()->Send({Request("status", R"("digest":"maybe")")});
    }
    client::ClientOptions o;
    o.timeout_ms = 10000;
    auto good = client::Client::Connect(site.endpoint(), o);
    BOOST_TEST_REQUIRE(good.ok());
    for (int i = 0; i < 20; ++i) BOOST_TEST_REQUIRE(good->Call("ping").ok());
    ExpectUnharmed("200 garbage connections");
  }
  {
    // Half-open sockets: connected to batond.sock but silent, or stopped inside the ZMTP
    // greeting. They hold a file descriptor each and nothing else.
    std::vector<int> fds;
    for (int i = 0; i < 50; ++i) {
      const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      BOOST_TEST_REQUIRE(fd >= 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      const std::string path = site.data() + "/batond.sock";
      BOOST_TEST_REQUIRE(path.size() < sizeof(addr.sun_path));
      path.copy(addr.sun_path, path.size());
      BOOST_TEST_REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
      if (i % 2 == 0) {
        const char greeting[] = "\xff\0\0\0\0\0\0\0\x01\x7f\x03";  // A ZMTP 3 signature, cut.
        BOOST_TEST(write(fd, greeting, sizeof(greeting) - 1) > 0);
      }
      fds.push_back(fd);
    }
    ExpectUnharmed("50 half-open sockets");
    for (int fd : fds) close(fd);
  }
  ExpectUnharmed("closing everything");
}

BOOST_AUTO_TEST_CASE(watchers_that_never_read_and_abandoned_exports_are_bounded) {
  // A log of 3,000 notes as long as a note may be (12 MiB of events), sent pipelined.
  constexpr size_t kNotes = 3000;
  {
    RawClient writer(context, site.endpoint());
    for (size_t i = 0; i < kNotes; ++i) {
      writer.Send({client::MakeRequest(std::to_string(i), "note",
                                       {{"task", "A"}, {"text", std::string(4096, 'n')}})});
    }
    for (size_t i = 0; i < kNotes; ++i) {
      auto reply = writer.Reply(30000);
      BOOST_TEST_REQUIRE(reply.has_value(), "reply " << i << " of " << kNotes);
      BOOST_TEST_REQUIRE((*reply)["ok"] == true, reply->dump());
    }
  }
  baseline = State();
  const uint64_t events = baseline["events"].get<uint64_t>();

  // 50 watchers from the first event that never read a push.
  std::vector<std::unique_ptr<zmq::socket_t>> stalled;
  for (int i = 0; i < 50; ++i) {
    auto s = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
    s->set(zmq::sockopt::linger, 0);
    s->set(zmq::sockopt::rcvhwm, 8);  // Stop taking pushes early: the daemon's queue fills.
    s->connect(site.endpoint());
    s->send(zmq::buffer(client::MakeRequest("w" + std::to_string(i), "watch", {{"cursor", 0}})));
    stalled.push_back(std::move(s));
  }
  // A watcher that reads gets every event, in order, without waiting for the stalled ones.
  client::ClientOptions o;
  o.timeout_ms = 10000;
  auto reader = client::Client::Connect(site.endpoint(), o);
  BOOST_TEST_REQUIRE(reader.ok());
  BOOST_TEST_REQUIRE(reader->StartWatch(0).ok());
  uint64_t next = 1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (next <= events && std::chrono::steady_clock::now() < deadline) {
    auto push = reader->NextPush(1000);
    BOOST_TEST_REQUIRE(push.ok(), push.status().ToString());
    if (!push->has_value() || (**push)["stream"] != "event") continue;
    BOOST_TEST_REQUIRE((**push)["cursor"].get<uint64_t>() == next);
    ++next;
  }
  BOOST_TEST_REQUIRE(next == events + 1,
                     "the reading watcher got " << next - 1 << " of " << events);
  ExpectUnharmed("50 watchers that do not read");

  // The daemon ends the stalled watches after 10 s; the next watch of the same user is told.
  const auto told_by = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  std::string dropped;
  while (dropped.empty() && std::chrono::steady_clock::now() < told_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (site.Log().find("was ended at cursor") == std::string::npos) continue;
    auto watch = client::Client::Connect(site.endpoint(), o);
    BOOST_TEST_REQUIRE(watch.ok());
    BOOST_TEST_REQUIRE(watch->StartWatch(events).ok());
    dropped = watch->TakeDropped();
  }
  BOOST_TEST(dropped.find("its connection did not read for 10 s with ") != std::string::npos,
             dropped << "\nlog:\n"
                     << site.Log());
  stalled.clear();
  ExpectUnharmed("the stalled watches ended");

  // 100 exports whose clients go away at once cost one page each, not the whole log.
  for (int i = 0; i < 100; ++i) {
    RawClient gone(context, site.endpoint());
    gone.Send({client::MakeRequest("x" + std::to_string(i), "export", nullptr)});
  }
  const auto asked = std::chrono::steady_clock::now();
  ExpectUnharmed("100 abandoned exports");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - asked)
                      .count();
  BOOST_TEST(ms < 5000, "status took " << ms << " ms behind 100 abandoned exports");

  // A whole export comes in pages and ends with the digest of the state.
  auto exporter = client::Client::Connect(site.endpoint(), o);
  BOOST_TEST_REQUIRE(exporter.ok());
  auto all = exporter->Export();
  BOOST_TEST_REQUIRE(all.ok(), all.status().ToString());
  BOOST_TEST((*all)["events"].size() == events);
  BOOST_TEST((*all)["digest"] == baseline["digest"]);
  auto page = exporter->Call("export", json{{"after", 0}});
  BOOST_TEST_REQUIRE(page.ok());
  BOOST_TEST((*page)["more"] == true);
  BOOST_TEST((*page)["events"].size() < events);
  BOOST_TEST(!page->contains("digest"));
}

BOOST_AUTO_TEST_CASE(large_replies_and_pushes_a_client_never_reads_are_bounded_by_bytes) {
  // 1,000 tasks with long titles, imported 40 times: 40 plan events of about 600 KB each, and a
  // `list` reply of about as much. Counted in messages (256 per connection), each client below
  // could pin the whole log or 256 whole lists in the daemon; counted in bytes, about 256 KiB.
  json plan = HostilePlan();
  for (int i = 0; i < 1000; ++i) {
    plan["tasks"].push_back({{"id", "L" + std::to_string(i)},
                             {"site", "hq"},
                             {"title", std::string(500, static_cast<char>('a' + i % 26))},
                             {"duration_ms", 60000}});
  }
  constexpr int kImports = 40;
  {
    // Each import checks and schedules the whole plan: a loaded machine may take seconds.
    client::ClientOptions slow;
    slow.timeout_ms = 60000;
    auto c = client::Client::Connect(site.endpoint(), slow);
    BOOST_TEST_REQUIRE(c.ok(), c.status().ToString());
    for (int i = 0; i < kImports; ++i) {
      plan["name"] = "Hostile clients " + std::to_string(i);
      auto imported = c->Call("plan.import", json{{"plan", plan}});
      BOOST_TEST_REQUIRE(imported.ok(), imported.status().ToString());
    }
  }
  baseline = State();
  const double before = ResidentMib(site.pid());
  BOOST_TEST_MESSAGE("batond resident " << before << " MiB after " << kImports << " imports");

  // A client reading as it goes gets every one of 64 pipelined lists in full.
  constexpr int kLists = 64;
  const std::string list = client::MakeRequest("l", "list", nullptr);
  {
    RawClient reader(context, site.endpoint());
    for (int i = 0; i < kLists; ++i) reader.Send({list});
    for (int i = 0; i < kLists; ++i) {
      auto reply = reader.Reply(30000);
      BOOST_TEST_REQUIRE(reply.has_value(), "list reply " << i);
      BOOST_TEST_REQUIRE((*reply)["ok"] == true, reply->dump().substr(0, 300));
      BOOST_TEST_REQUIRE((*reply)["result"]["tasks"].size() == 1003u);
    }
  }

  // 3 watchers from the first event and 3 clients that send 300 lists each: none of them
  // reads. The daemon keeps 256 requests of each waiting and refuses the rest at once.
  constexpr int kUnread = 300;
  const auto never_reading = [&] {
    auto s = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
    s->set(zmq::sockopt::linger, 0);
    s->set(zmq::sockopt::rcvhwm, 1);
    s->set(zmq::sockopt::rcvbuf, 4096);
    s->connect(site.endpoint());
    return s;
  };
  std::vector<std::unique_ptr<zmq::socket_t>> watchers, listers;
  for (int i = 0; i < 3; ++i) {
    watchers.push_back(never_reading());
    watchers.back()->send(
        zmq::buffer(client::MakeRequest("w" + std::to_string(i), "watch", {{"cursor", 0}})));
    listers.push_back(never_reading());
    for (int j = 0; j < kUnread; ++j) {
      const auto sent = listers.back()->send(
          zmq::buffer(client::MakeRequest("u" + std::to_string(j), "list", nullptr)));
      BOOST_TEST_REQUIRE(sent.has_value());
    }
  }
  const auto refused_by = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < refused_by &&
         site.Log().find("replies or requests in all were refused") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ExpectUnharmed("3 watchers and 3 clients with lists that do not read");
  const double grown = ResidentMib(site.pid()) - before;
  BOOST_TEST_MESSAGE("batond grew " << grown << " MiB with 6 connections that do not read");
  // Each connection: 256 KiB and one message of about 1 MiB, and a few KiB of waiting requests
  // (plus allocator slack, and under ASan its quarantine and shadow).
  BOOST_TEST(grown < 6 * 5 + kGrowthSlackMib, "batond grew " << grown << " MiB");

  // A client that reads late gets an answer to every request, in order: the lists, once it
  // reads, and an error for each request beyond the 256 that waited.
  auto& late = *listers.front();
  late.set(zmq::sockopt::rcvtimeo, 30000);
  int full = 0, refused = 0;
  std::set<std::string> answered;
  for (int i = 0; i < kUnread; ++i) {
    zmq::message_t m;
    BOOST_TEST_REQUIRE(late.recv(m).has_value(), "reply " << i << " of " << kUnread);
    const json reply = json::parse(m.to_string());
    answered.insert(reply["id"].get<std::string>());
    if (reply["ok"] == true) {
      BOOST_TEST_REQUIRE(reply["result"]["tasks"].size() == 1003u);
      ++full;
    } else {
      BOOST_TEST_REQUIRE(reply["error"]["code"] == "unavailable", reply.dump());
      BOOST_TEST_REQUIRE(reply["error"]["message"].get<std::string>().find(
                             "requests waiting while it does not read") != std::string::npos);
      ++refused;
    }
  }
  BOOST_TEST(answered.size() == static_cast<size_t>(kUnread));
  BOOST_TEST(full > 256);
  BOOST_TEST(refused >= 1);
  BOOST_TEST_MESSAGE("a late reader: " << full << " lists, " << refused << " refused");
  watchers.clear();
  listers.clear();
  ExpectUnharmed("closing them");
}

BOOST_AUTO_TEST_CASE(a_client_that_reads_late_gets_every_small_reply_in_order) {
  // 360 pipelined `status` requests (replies of about 2 KB) from a client that takes one
  // message at a time and reads only once the daemon holds their replies. A queue of 256
  // messages (with what the socket buffers hold) once lost the replies beyond it.
  auto late = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
  late->set(zmq::sockopt::linger, 0);
  late->set(zmq::sockopt::rcvhwm, 1);
  late->set(zmq::sockopt::rcvbuf, 4096);
  late->set(zmq::sockopt::rcvtimeo, 30000);
  late->connect(site.endpoint());
  constexpr int kRequests = 360;
  for (int i = 0; i < kRequests; ++i) {
    const auto sent =
        late->send(zmq::buffer(client::MakeRequest(std::to_string(i), "status", nullptr)));
    BOOST_TEST_REQUIRE(sent.has_value());
  }
  // Until the bytes the daemon holds for its clients stop changing: it has answered them all.
  client::ClientOptions o;
  o.timeout_ms = 10000;
  auto observer = client::Client::Connect(site.endpoint(), o);
  BOOST_TEST_REQUIRE(observer.ok());
  const auto clients = [&] {
    auto s = observer->Call("status", nullptr);
    BOOST_TEST_REQUIRE(s.ok(), s.status().ToString());
    return (*s)["clients"];
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int64_t held = clients()["queued_bytes"].get<int64_t>(), stable_rounds = 0;
  while (std::chrono::steady_clock::now() < deadline && (held == 0 || stable_rounds < 3)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const int64_t now_held = clients()["queued_bytes"].get<int64_t>();
    stable_rounds = now_held == held ? stable_rounds + 1 : 0;
    held = now_held;
  }
  BOOST_TEST_REQUIRE(held > 100000, "the daemon holds " << held << " bytes of replies");
  BOOST_TEST_MESSAGE("the daemon held " << held << " bytes of replies unread");
  for (int i = 0; i < kRequests; ++i) {
    zmq::message_t m;
    BOOST_TEST_REQUIRE(late->recv(m).has_value(), "reply " << i << " of " << kRequests);
    const json reply = json::parse(m.to_string());
    BOOST_TEST_REQUIRE(reply["id"] == std::to_string(i), reply.dump().substr(0, 200));
    BOOST_TEST_REQUIRE(reply["ok"] == true, reply.dump().substr(0, 200));
  }
  const json after = clients();
  BOOST_TEST(after["refused"] == 0);
  BOOST_TEST(after["lost"] == 0);
  ExpectUnharmed("360 replies read late");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace baton
