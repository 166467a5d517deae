// Child of store_crash_test: appends events to the store at argv[1] from one thread per origin,
// forever (bounded at 60 s), and prints "origin seq" for every event whose Append has returned
// OK, flushing after each Append. The parent kill -9s it at random moments and checks that every
// printed (acknowledged) event survived. The events are real: notes of random length built and
// signed by a ChainWriter per origin, with the keys the parent wrote under argv[1]-keys/ORIGIN,
// so the parent verifies hash links and signatures as a receiving site would.
#include <chrono>
#include <cstdio>
#include <exception>
#include <iterator>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crdt/event.h"
#include "daemon/identity/chain.h"
#include "daemon/identity/keys.h"
#include "daemon/store/event_store.h"

namespace {

using baton::store::ChainHead;
using baton::store::EventStore;
using baton::store::StoredEvent;

constexpr auto kMaxRunTime = std::chrono::seconds(60);
constexpr const char* kOrigins[] = {"hq", "vendor-de", "vendor-in", "ops"};  // As the parent.

std::mutex print_mu;

void AppendForever(EventStore* store, const std::string& origin, ChainHead head,
                   const baton::identity::KeyPair& keys, unsigned seed) {
  std::mt19937 rng(seed);
  baton::identity::ChainWriter writer(keys, "crash", origin, head.seq, head.hash);
  const auto deadline = std::chrono::steady_clock::now() + kMaxRunTime;
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<baton::crdt::Event> drafts(std::uniform_int_distribution<size_t>(1, 16)(rng));
    for (baton::crdt::Event& draft : drafts) {
      draft.hlc = baton::crdt::Hlc{std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count(),
                                   0};
      draft.actor = "crash@" + origin;
      draft.body = baton::crdt::NoteAdded{
          "T-1", std::string(std::uniform_int_distribution<size_t>(0, 300)(rng),
                             static_cast<char>('a' + writer.head_seq() % 26))};
    }
    std::vector<StoredEvent> batch;
    for (auto& built : writer.Build(std::move(drafts))) {
      batch.push_back(StoredEvent{built.event.id(), built.event.prev_hash, built.hash,
                                  std::move(built.envelope), 0});
    }
    const uint64_t first = batch.front().id.seq;
    const uint64_t last = batch.back().id.seq;
    baton::Status s = store->Append(std::move(batch));
    if (!s.ok()) {
      std::fprintf(stderr, "store_crash_child: %s\n", s.ToString().c_str());
      std::exit(2);
    }
    // Acknowledged: durable from here on.
    std::lock_guard<std::mutex> lock(print_mu);
    for (uint64_t seq = first; seq <= last; ++seq) {
      std::printf("%s %llu\n", origin.c_str(), static_cast<unsigned long long>(seq));
    }
    std::fflush(stdout);
  }
}

int Run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: store_crash_child STORE_DIR [SEED]\n");
    return 1;
  }
  baton::store::StoreOptions options;
  options.path = argv[1];
  options.site = "hq";
  options.runbook_id = "crash";
  options.create_if_missing = true;
  auto store = EventStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "store_crash_child: %s\n", store.status().ToString().c_str());
    return 2;
  }
  const unsigned seed = argc > 2 ? static_cast<unsigned>(std::stoul(argv[2])) : 1;
  auto heads = (*store)->Heads();
  std::vector<std::thread> threads;
  std::vector<baton::identity::KeyPair> keys;
  for (const char* origin : kOrigins) {
    auto read = baton::identity::ReadKeyFiles(std::string(argv[1]) + "-keys/" + origin);
    if (!read.ok()) {
      std::fprintf(stderr, "store_crash_child: %s\n", read.status().ToString().c_str());
      return 2;
    }
    keys.push_back(*read);
  }
  for (size_t i = 0; i < std::size(kOrigins); ++i) {
    threads.emplace_back(AppendForever, store->get(), kOrigins[i], heads[kOrigins[i]], keys[i],
                         seed + static_cast<unsigned>(i));
  }
  for (auto& thread : threads) thread.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_crash_child: %s\n", e.what());
    return 3;
  }
}
