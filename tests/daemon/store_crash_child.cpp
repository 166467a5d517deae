// Child of store_crash_test: appends chained events to the store at argv[1] from one thread per
// origin, forever (bounded at 60 s), and prints "origin seq" for every event whose Append has
// returned OK, flushing after each Append. The parent kill -9s it at random moments and checks
// that every printed (acknowledged) event survived. Envelopes are "origin/seq|" + filler, and
// hashes are real (identity::HashPayload), so the parent can check content and chain links.
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon/identity/keys.h"
#include "daemon/store/event_store.h"

namespace {

using baton::store::ChainHead;
using baton::store::EventStore;
using baton::store::StoredEvent;

constexpr auto kMaxRunTime = std::chrono::seconds(60);

std::mutex print_mu;

void AppendForever(EventStore* store, const std::string& origin, ChainHead head, unsigned seed) {
  std::mt19937 rng(seed);
  const auto deadline = std::chrono::steady_clock::now() + kMaxRunTime;
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<StoredEvent> batch(std::uniform_int_distribution<size_t>(1, 16)(rng));
    for (StoredEvent& event : batch) {
      event.id = {origin, head.seq + 1};
      event.prev_hash = head.hash;
      event.envelope = event.id.ToString() + "|" +
                       std::string(std::uniform_int_distribution<size_t>(0, 300)(rng),
                                   static_cast<char>('a' + head.seq % 26));
      event.hash = baton::identity::HashPayload(event.envelope);
      head = {event.id.seq, event.hash};
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
  for (const char* origin : {"hq", "vendor-de", "vendor-in", "ops"}) {
    threads.emplace_back(AppendForever, store->get(), origin, heads[origin],
                         seed + static_cast<unsigned>(threads.size()));
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
