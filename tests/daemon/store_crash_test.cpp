// Crash test of the event store: store_crash_child appends from four threads and prints every
// acknowledged event; this test kill -9s it at random moments (also during its open/recovery),
// reopens the store and checks that every acknowledged event is present, that each origin's
// chain verifies as a receiving site would check it (contiguous seqs, prev_hash links, hash ==
// BLAKE2b of the payload, the Ed25519 signature closing every append), and that the open-time
// consistency check passes. Cycles: 50, or `-- --cycles N`,
// or BATON_CRASH_CYCLES; seed: BATON_CRASH_SEED (printed, for replay).
//
// Power loss: the store runs in this process on a file system (PowerCutFs) that counts every
// write and sync and, at a random one of them, loses power: that operation and every later one
// fails, and every byte written but not synced is dropped (files cut back to their size at their
// last sync). Then the same checks; and a control run with syncing off must lose acknowledged
// events, which shows that the test can fail. Cuts: 200, or `-- --cuts N`; a fresh store every
// 500 cuts (`--cuts-per-store N`).
#define BOOST_TEST_MODULE store_crash_test
#include <poll.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/identity/chain.h"
#include "daemon/identity/keys.h"
#include "daemon/store/event_store.h"
#include "tests/support/args.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace baton::store {
namespace {

using testing::IntArg;

// The store both tests crash: hq's, runbook "crash", under `dir`.
StoreOptions CrashStore(const testing::TempDir& dir) {
  StoreOptions options;
  options.path = dir / "store";
  options.site = "hq";
  options.runbook_id = "crash";
  options.create_if_missing = true;
  return options;
}

int CyclesFromArgs() { return IntArg("--cycles", "BATON_CRASH_CYCLES", 50); }

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

// ---- Power loss -------------------------------------------------------------------------------

// A file system that loses power at its `cut_at`-th write or sync operation (counted from 1 over
// every file): that operation and all later ones fail, as if the machine had stopped there. Then
// LoseUnsynced() drops what was written but not synced. File creations and renames are taken as
// durable (RocksDB syncs the directory after them); the data in files is what is at stake.
class PowerCutFs : public rocksdb::FileSystemWrapper {
 public:
  explicit PowerCutFs(const std::shared_ptr<rocksdb::FileSystem>& base)
      : rocksdb::FileSystemWrapper(base) {}
  const char* Name() const override { return "PowerCutFs"; }

  void CutAt(uint64_t op) {
    std::lock_guard<std::mutex> lock(mu_);
    cut_at_ = op;
  }
  uint64_t ops() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ops_;
  }
  bool cut() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cut_;
  }
  // With the database closed: every file back to its size at its last sync.
  void LoseUnsynced() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, file] : files_) {
      if (file.written <= file.synced) continue;
      if (::truncate(name.c_str(), static_cast<off_t>(file.synced)) == 0) {
        ++dropped_files_;
      } else {
        // Deleted since (a failed flush's table, a compacted one): nothing left to lose.
        BOOST_TEST_REQUIRE(errno == ENOENT, name << ": " << std::strerror(errno));
      }
    }
    files_.clear();
  }
  uint64_t dropped_files() const { return dropped_files_; }

  // One operation: false once the power is gone.
  bool Tick() {
    std::lock_guard<std::mutex> lock(mu_);
    if (cut_) return false;
    if (++ops_ == cut_at_) cut_ = true;
    return !cut_;
  }
  void Wrote(const std::string& name, uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    files_[name].written += bytes;
  }
  void Synced(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& f = files_[name];
    f.synced = f.written;
  }
  void Track(const std::string& name, uint64_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    files_[name] = File{size, size};
  }

  static rocksdb::IOStatus Off() { return rocksdb::IOStatus::IOError("PowerCutFs: power is off"); }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;

 private:
  // Tracks and wraps a file RocksDB opened for writing.
  rocksdb::IOStatus Opened(const std::string& name, rocksdb::IOStatus opened,
                           std::unique_ptr<rocksdb::FSWritableFile> file,
                           std::unique_ptr<rocksdb::FSWritableFile>* result);

  struct File {
    uint64_t written = 0;  // Size as written (the page cache).
    uint64_t synced = 0;   // Size at the last sync (the disk).
  };
  mutable std::mutex mu_;
  uint64_t ops_ = 0;
  uint64_t cut_at_ = 0;  // 0: never.
  bool cut_ = false;
  std::map<std::string, File> files_;
  uint64_t dropped_files_ = 0;
};

class PowerCutFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  PowerCutFile(std::unique_ptr<rocksdb::FSWritableFile>&& file, PowerCutFs* fs, std::string name)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), name_(std::move(name)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (!fs_->Tick()) return Off();
    fs_->Wrote(name_, data.size());
    return target()->Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (!fs_->Tick()) return Off();
    fs_->Wrote(name_, data.size());
    return target()->Append(data, options, info, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t, const rocksdb::IOOptions&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("PowerCutFs: positioned appends");
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t, const rocksdb::IOOptions&,
                                     const rocksdb::DataVerificationInfo&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("PowerCutFs: positioned appends");
  }
  bool use_direct_io() const override { return false; }
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (!fs_->Tick()) return Off();
    return target()->Flush(options, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (!fs_->Tick()) return Off();
    rocksdb::IOStatus s = target()->Sync(options, dbg);
    if (s.ok()) fs_->Synced(name_);
    return s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (!fs_->Tick()) return Off();
    rocksdb::IOStatus s = target()->Fsync(options, dbg);
    if (s.ok()) fs_->Synced(name_);
    return s;
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override {
    // Part of the file on disk, not all of it: the file is not counted as synced.
    if (!fs_->Tick()) return Off();
    return target()->RangeSync(offset, nbytes, options, dbg);
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Close(options, dbg);  // The descriptor, in any case.
    return fs_->cut() ? Off() : s;
  }

 private:
  static rocksdb::IOStatus Off() { return PowerCutFs::Off(); }
  PowerCutFs* fs_;
  std::string name_;
};

rocksdb::IOStatus PowerCutFs::Opened(const std::string& name, rocksdb::IOStatus opened,
                                     std::unique_ptr<rocksdb::FSWritableFile> file,
                                     std::unique_ptr<rocksdb::FSWritableFile>* result) {
  if (!opened.ok()) return opened;
  std::error_code ec;
  const auto size = std::filesystem::file_size(name, ec);  // 0 for a new file.
  Track(name, ec ? 0 : size);
  *result = std::make_unique<PowerCutFile>(std::move(file), this, name);
  return opened;
}

rocksdb::IOStatus PowerCutFs::NewWritableFile(const std::string& name,
                                              const rocksdb::FileOptions& options,
                                              std::unique_ptr<rocksdb::FSWritableFile>* result,
                                              rocksdb::IODebugContext* dbg) {
  if (!Tick()) return Off();
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->NewWritableFile(name, options, &file, dbg);
  return Opened(name, s, std::move(file), result);
}

rocksdb::IOStatus PowerCutFs::ReopenWritableFile(const std::string& name,
                                                 const rocksdb::FileOptions& options,
                                                 std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                 rocksdb::IODebugContext* dbg) {
  if (!Tick()) return Off();
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReopenWritableFile(name, options, &file, dbg);
  return Opened(name, s, std::move(file), result);
}

// Appends signed batches of notes for each origin in turn, from `heads`, until an append fails
// (the power is gone) or `batches` are done. Records the acknowledged seqs in `acked`.
void AppendUntilCut(EventStore& store, const std::map<std::string, identity::KeyPair>& keys,
                    std::mt19937& rng, int batches, std::map<std::string, uint64_t>* acked) {
  std::map<std::string, identity::ChainWriter> writers;
  const auto heads = store.Heads();
  for (const auto& [origin, key] : keys) {
    const auto head = heads.find(origin);
    const ChainHead h = head == heads.end() ? ChainHead{} : head->second;
    writers.emplace(origin, identity::ChainWriter(key, "crash", origin, h.seq, h.hash));
  }
  for (int b = 0; b < batches; ++b) {
    auto& [origin, writer] = *std::next(writers.begin(), b % static_cast<int>(writers.size()));
    std::vector<crdt::Event> drafts(std::uniform_int_distribution<size_t>(1, 4)(rng));
    for (crdt::Event& draft : drafts) {
      draft.hlc = crdt::Hlc{1'774'641'600'000 + static_cast<int64_t>(writer.head_seq()), 0};
      draft.actor = "power@" + origin;
      draft.body = crdt::NoteAdded{
          "T-1", std::string(std::uniform_int_distribution<size_t>(0, 600)(rng), 'p')};
    }
    std::vector<StoredEvent> batch;
    for (auto& built : writer.Build(std::move(drafts))) {
      batch.push_back(StoredEvent{built.event.id(), built.event.prev_hash, built.hash,
                                  std::move(built.envelope), 0});
    }
    const uint64_t last = batch.back().id.seq;
    if (!store.Append(std::move(batch)).ok()) return;
    (*acked)[origin] = last;
  }
}

// One power cut at a random operation of a run of `batches` appends, on the store at `options`
// (created by the first call). True if every acknowledged event survived (checked by Verify
// when `check`); false if any was lost or the store no longer opens.
bool PowerCutCycle(const StoreOptions& options, bool sync,
                   const std::map<std::string, identity::KeyPair>& keys, std::mt19937& rng,
                   std::map<std::string, uint64_t>* acked, uint64_t* ops_per_run,
                   uint64_t* cut_short) {
  auto fs = std::make_shared<PowerCutFs>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  StoreOptions cut_options = options;
  cut_options.env = env.get();
  cut_options.sync = sync;
  {
    auto store = EventStore::Open(cut_options);
    BOOST_TEST_REQUIRE(store.ok(), store.status().ToString());
    // Somewhere in the run: the open's own writes are behind us, the appends ahead.
    // The first run only counts its operations.
    const uint64_t opened = fs->ops();
    if (*ops_per_run > 0) {
      fs->CutAt(opened + std::uniform_int_distribution<uint64_t>(1, *ops_per_run)(rng));
    }
    AppendUntilCut(**store, keys, rng, 24, acked);
    if (!fs->cut()) *ops_per_run = std::max(*ops_per_run, fs->ops() - opened);
  }  // Closed with the power off: its writes fail.
  fs->LoseUnsynced();
  *cut_short += fs->dropped_files();
  auto reopened = EventStore::Open(options);
  if (!reopened.ok()) return false;
  const auto heads = (*reopened)->Heads();
  for (const auto& [origin, seq] : *acked) {
    const auto head = heads.find(origin);
    if (head == heads.end() || head->second.seq < seq) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(acknowledged_events_survive_a_power_cut) {
  const int cuts = IntArg("--cuts", "BATON_POWER_CUTS", 200);
  // A fresh store every so many cuts: each cut reopens and verifies the whole store, so one
  // store for a 10,000-cut soak would make it quadratic. 500 cuts grow one to ~14,000 events.
  const int cuts_per_store = std::max(1, IntArg("--cuts-per-store", nullptr, 500));
  const unsigned seed = SeedFromEnv();
  BOOST_TEST_MESSAGE("power cuts: " << cuts << ", a fresh store every " << cuts_per_store
                                    << ", BATON_CRASH_SEED=" << seed);
  std::mt19937 rng(seed);
  testing::TempDir dir("store-power");
  std::map<std::string, identity::KeyPair> keys;
  std::map<std::string, std::string> public_keys;
  for (const char* origin : kOrigins) {
    keys[origin] = identity::GenerateKeyPair();
    public_keys[origin] = keys[origin].public_key;
  }
  const auto key_of = [&](const crdt::SiteId& site) {
    auto it = public_keys.find(site);
    return it == public_keys.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  StoreOptions options = CrashStore(dir);
  std::unique_ptr<identity::ChainVerifier> verifier;
  std::map<std::string, uint64_t> acked;
  std::map<std::string, ChainHead> verified;
  uint64_t total = 0;
  uint64_t ops_per_run = 0;
  uint64_t cut_short = 0;  // Files that lost unsynced bytes at a cut: the injection works.
  for (int cut = 0; cut < cuts; ++cut) {
    if (cut % cuts_per_store == 0) {
      for (const auto& [origin, seq] : acked) total += seq;
      if (cut > 0) std::filesystem::remove_all(options.path);
      options.path = dir / ("store-" + std::to_string(cut / cuts_per_store));
      verifier = std::make_unique<identity::ChainVerifier>("crash", key_of);
      acked.clear();
      verified.clear();
    }
    BOOST_TEST_CONTEXT("cut " << cut << " of seed " << seed) {
      BOOST_TEST_REQUIRE(
          PowerCutCycle(options, /*sync=*/true, keys, rng, &acked, &ops_per_run, &cut_short),
          "an acknowledged event was lost, or the store does not open");
      Verify(options, acked, verifier.get(), &verified);
    }
  }
  for (const auto& [origin, seq] : acked) total += seq;
  BOOST_TEST_MESSAGE("power cuts: " << cuts << " passed, " << total << " events acknowledged, "
                                    << cut_short << " files cut back to their last sync");
  BOOST_TEST(total > 0u);
  BOOST_TEST(cut_short > 0u);

  // The control: without syncs, a cut loses acknowledged events (or the store itself).
  testing::TempDir control_dir("store-power-control");
  StoreOptions control = options;
  control.path = control_dir / "store";
  std::map<std::string, uint64_t> control_acked;
  int lost = 0;
  uint64_t control_cut_short = 0;
  for (int cut = 0; cut < 10; ++cut) {
    if (!PowerCutCycle(control, /*sync=*/false, keys, rng, &control_acked, &ops_per_run,
                       &control_cut_short)) {
      ++lost;
      break;
    }
  }
  BOOST_TEST(lost > 0,
             "without syncing, no power cut lost an acknowledged event: the test "
             "cannot tell durable from not");
}

BOOST_AUTO_TEST_CASE(acknowledged_events_survive_kill_9) {
  const int cycles = CyclesFromArgs();
  const unsigned seed = SeedFromEnv();
  BOOST_TEST_MESSAGE("store_crash_test: " << cycles << " cycles, BATON_CRASH_SEED=" << seed);
  std::mt19937 rng(seed);
  testing::TempDir dir("store-crash");
  const StoreOptions options = CrashStore(dir);

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
