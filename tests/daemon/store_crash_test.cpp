// Crash test of the event store: store_crash_child appends from four threads and prints every
// acknowledged event; this test kill -9s it at random moments (also during its open/recovery),
// reopens the store and checks that every acknowledged event is present, that each origin's
// chain verifies as a receiving site would check it (contiguous seqs, prev_hash links, hash ==
// BLAKE2b of the payload, the Ed25519 signature closing every append), and that the open-time
// consistency check passes. Cycles: 50, or `-- --cycles N`,
// or BATON_CRASH_CYCLES; seed: BATON_CRASH_SEED (printed, for replay).
#define BOOST_TEST_MODULE store_crash_test
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/identity/chain.h"
#include "daemon/identity/keys.h"
#include "daemon/store/event_store.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace baton::store {
namespace {

int CyclesFromArgs() {
  auto& suite = boost::unit_test::framework::master_test_suite();
  for (int i = 1; i + 1 < suite.argc; ++i) {
    if (std::strcmp(suite.argv[i], "--cycles") == 0) return std::atoi(suite.argv[i + 1]);
  }
  if (const char* env = std::getenv("BATON_CRASH_CYCLES")) return std::atoi(env);
  return 50;
}

unsigned SeedFromEnv() {
  if (const char* env = std::getenv("BATON_CRASH_SEED")) {
    return static_cast<unsigned>(std::strtoul(env, nullptr, 10));
  }
  return std::random_device()();
}

// Runs the child on `dir` for `run_for`, then kill -9s it. Returns its stdout.
std::string RunAndKill(const std::string& dir, unsigned seed, std::chrono::milliseconds run_for) {
  int fds[2];
  BOOST_TEST_REQUIRE(pipe(fds) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  const std::string seed_arg = std::to_string(seed);
  std::vector<char*> argv = {const_cast<char*>(BATON_STORE_CRASH_CHILD),
                             const_cast<char*>(dir.c_str()), const_cast<char*>(seed_arg.c_str()),
                             nullptr};
  pid_t pid = 0;
  const int spawned =
      posix_spawn(&pid, BATON_STORE_CRASH_CHILD, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  BOOST_TEST_REQUIRE(spawned == 0, "spawning " << BATON_STORE_CRASH_CHILD);

  // Drain the pipe while the child runs, so it never blocks on a full pipe.
  std::string out;
  char buf[1 << 16];
  const auto deadline = std::chrono::steady_clock::now() + run_for;
  bool eof = false;
  while (!eof) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{fds[0], POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n <= 0) eof = true;
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  kill(pid, SIGKILL);
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;)
    out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  BOOST_TEST_REQUIRE(waitpid(pid, &status, 0) == pid);
  // Killed by us, or (never, in practice) finished its bounded run.
  BOOST_TEST_REQUIRE(((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                      (WIFEXITED(status) && WEXITSTATUS(status) == 0)),
                     "child ended with status " << status);
  return out;
}

// Highest acknowledged seq per origin. Only complete lines count: a torn last line was being
// printed when the kill came, and its event is checked in a later cycle if acknowledged again.
void ParseAcks(const std::string& out, std::map<std::string, uint64_t>* acked, uint64_t* lines) {
  size_t start = 0;
  for (size_t end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    std::istringstream line(out.substr(start, end - start));
    std::string origin;
    uint64_t seq = 0;
    BOOST_TEST_REQUIRE(static_cast<bool>(line >> origin >> seq), "bad line: " << line.str());
    uint64_t& max = (*acked)[origin];
    // A restarted child continues after its head, which may hold unacknowledged events.
    BOOST_TEST_REQUIRE(seq > max, "acks of " << origin << " out of order at " << seq);
    max = seq;
    ++*lines;
  }
}

constexpr const char* kOrigins[] = {"hq", "vendor-de", "vendor-in", "ops"};  // As the child.

// Checks the store against the acknowledged events. `verifier` has seen each origin's events up
// to `verified`; only the events after it are read and verified.
void Verify(const StoreOptions& options, const std::map<std::string, uint64_t>& acked,
            identity::ChainVerifier* verifier, std::map<std::string, ChainHead>* verified) {
  auto opened = EventStore::Open(options);
  BOOST_TEST_REQUIRE(opened.ok(), opened.status().ToString());
  EventStore& store = **opened;
  const auto heads = store.Heads();
  uint64_t total = 0;
  for (const auto& [origin, head] : heads) total += head.seq;
  BOOST_TEST(store.LastArrival() == total);
  for (const auto& [origin, acked_seq] : acked) {
    BOOST_TEST_CONTEXT("origin " << origin) {
      auto head = heads.find(origin);
      BOOST_TEST_REQUIRE((head != heads.end()));
      BOOST_TEST_REQUIRE(head->second.seq >= acked_seq, "acknowledged seq lost");
    }
  }
  for (const auto& [origin, head] : heads) {
    ChainHead& checked = (*verified)[origin];
    std::vector<StoredEvent> events;
    for (uint64_t from = checked.seq + 1; from <= head.seq; from += events.size()) {
      BOOST_TEST_REQUIRE(store.ScanOrigin(origin, from, 1000, &events).ok());
      BOOST_TEST_REQUIRE(!events.empty());
      for (const StoredEvent& event : events) {
        BOOST_TEST_CONTEXT("event " << event.id.ToString()) {
          BOOST_TEST_REQUIRE(event.id.seq == checked.seq + 1);
          BOOST_TEST_REQUIRE((event.prev_hash == checked.hash));
          auto accepted = verifier->Accept(event.envelope);
          BOOST_TEST_REQUIRE(accepted.ok(), accepted.status().ToString());
          for (const identity::VerifiedEvent& v : *accepted) {
            BOOST_TEST_REQUIRE(v.event.id().origin == origin);
            BOOST_TEST_REQUIRE(v.event.seq <= event.id.seq);
          }
          if (!accepted->empty()) {
            BOOST_TEST_REQUIRE((accepted->back().hash == event.hash));
          }
        }
        checked = {event.id.seq, event.hash};
      }
    }
    BOOST_TEST_REQUIRE((checked == head));
    // Every append ends with a signed event: nothing may be left unvouched for.
    BOOST_TEST_REQUIRE(verifier->head_seq(origin) == head.seq);
    BOOST_TEST_REQUIRE(verifier->pending_count(origin) == 0u);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(acknowledged_events_survive_kill_9) {
  const int cycles = CyclesFromArgs();
  const unsigned seed = SeedFromEnv();
  BOOST_TEST_MESSAGE("store_crash_test: " << cycles << " cycles, BATON_CRASH_SEED=" << seed);
  std::mt19937 rng(seed);
  testing::TempDir dir("store-crash");
  StoreOptions options;
  options.path = dir / "store";
  options.site = "hq";
  options.runbook_id = "crash";
  options.create_if_missing = true;

  std::map<std::string, std::string> public_keys;
  for (const char* origin : kOrigins) {
    const identity::KeyPair keys = identity::GenerateKeyPair();
    BOOST_TEST_REQUIRE(
        identity::WriteKeyFiles(dir / (std::string("store-keys/") + origin), keys).ok());
    public_keys[origin] = keys.public_key;
  }
  identity::ChainVerifier verifier("crash", [&](const crdt::SiteId& site) {
    auto it = public_keys.find(site);
    return it == public_keys.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
  std::map<std::string, uint64_t> acked;
  std::map<std::string, ChainHead> verified;
  uint64_t acks = 0;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    BOOST_TEST_CONTEXT("cycle " << cycle << " of seed " << seed) {
      // Up to 400 ms: some kills land during the child's start or recovery, most mid-append.
      const auto run_for =
          std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(rng));
      const std::string out = RunAndKill(options.path.string(), rng(), run_for);
      uint64_t new_acks = 0;
      ParseAcks(out, &acked, &new_acks);
      acks += new_acks;
      BOOST_TEST_MESSAGE("cycle " << cycle << ": ran " << run_for.count() << " ms, " << new_acks
                                  << " acks");
      Verify(options, acked, &verifier, &verified);
    }
  }
  BOOST_TEST(acks > 0u);
}

}  // namespace baton::store
