// Durable append throughput of baton::store::EventStore (synced WAL, ~200-byte envelopes):
// one event per sync, batches of 100 per call, 4 / 32 concurrent appenders of one event per call
// (which the store's group commit gathers into shared synced batches), and two appenders of
// 100-event batches. Each case uses a fresh store under $TMPDIR (or --dir). Prints figures; with
// --json one object per line: {"name": ..., "value": ..., "unit": ...}. Build Release.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "daemon/store/event_store.h"
#include "tests/support/temp_dir.h"

namespace {

using baton::store::ChainHead;
using baton::store::EventStore;
using baton::store::StoredEvent;

constexpr size_t kEnvelopeSize = 200;

struct Options {
  bool json = false;
  std::filesystem::path dir;
  double scale = 1.0;  // --quick runs a tenth of the events.
  std::string only;    // --only NAME runs one case.
};

// Appends the next `n` events of `origin` to `batch`. The store does not check hash contents,
// so a counter stands in for BLAKE2b (~0.27 us per event, negligible next to the sync).
void NextEvents(const std::string& origin, size_t n, ChainHead* head,
                std::vector<StoredEvent>* batch) {
  for (size_t i = 0; i < n; ++i) {
    StoredEvent event;
    event.id = {origin, head->seq + 1};
    event.prev_hash = head->hash;
    std::memcpy(event.hash.data(), &event.id.seq, sizeof(event.id.seq));
    event.hash[31] = static_cast<uint8_t>(origin.size());
    event.envelope.assign(kEnvelopeSize, static_cast<char>('a' + event.id.seq % 26));
    *head = {event.id.seq, event.hash};
    batch->push_back(std::move(event));
  }
}

class Bench {
 public:
  explicit Bench(Options options) : options_(std::move(options)) {}

  void Report(const std::string& name, double value, const std::string& unit,
              const std::string& detail) const {
    if (options_.json) {
      std::printf("{\"name\": \"%s\", \"value\": %.1f, \"unit\": \"%s\"}\n", name.c_str(), value,
                  unit.c_str());
    } else {
      std::printf("%-24s %12.0f %s  (%s)\n", name.c_str(), value, unit.c_str(), detail.c_str());
    }
    std::fflush(stdout);
  }

  // `threads` appenders, each appending `calls` times `per_call` events of its own origin.
  void Run(const std::string& name, int threads, size_t calls, size_t per_call) {
    if (!options_.only.empty() && options_.only != name) return;
    calls = std::max<size_t>(1, static_cast<size_t>(static_cast<double>(calls) * options_.scale));
    const std::filesystem::path path = options_.dir / name;
    std::filesystem::remove_all(path);
    baton::store::StoreOptions store_options;
    store_options.path = path;
    store_options.site = "hq";
    store_options.runbook_id = "bench";
    store_options.create_if_missing = true;
    auto store = EventStore::Open(store_options);
    if (!store.ok()) Fail(store.status());

    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        const std::string origin = "site-" + std::to_string(t);
        ChainHead head;
        std::vector<StoredEvent> batch;
        for (size_t c = 0; c < calls; ++c) {
          batch.clear();
          NextEvents(origin, per_call, &head, &batch);
          baton::Status s = (*store)->Append(std::move(batch));
          if (!s.ok()) Fail(s);
        }
      });
    }
    for (auto& worker : workers) worker.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double events = static_cast<double>(threads) * static_cast<double>(calls * per_call);
    char detail[160];
    std::snprintf(detail, sizeof(detail),
                  "%.0f events, %d thread(s) x %zu event(s) per call, %.2f s", events, threads,
                  per_call, seconds);
    Report(name, events / seconds, "events/s", detail);
    store->reset();
    std::filesystem::remove_all(path);
  }

 private:
  [[noreturn]] static void Fail(const baton::Status& s) {
    std::fprintf(stderr, "append_bench: %s\n", s.ToString().c_str());
    std::exit(1);
  }

  Options options_;
};

int RunMain(int argc, char** argv) {
  Options options;
  bool own_dir = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--quick") {
      options.scale = 0.1;
    } else if (arg == "--only" && i + 1 < argc) {
      options.only = argv[++i];
    } else if (arg == "--dir" && i + 1 < argc) {
      options.dir = argv[++i];
      own_dir = false;
    } else {
      std::fprintf(stderr, "usage: append_bench [--json] [--quick] [--only NAME] [--dir DIR]\n");
      return 2;
    }
  }
  std::optional<baton::testing::TempDir> temp;  // Removed at the end unless --dir was given.
  if (own_dir) {
    temp.emplace("append-bench");
    options.dir = temp->path();
  }
  std::filesystem::create_directories(options.dir);
  {
    Bench bench(options);
    bench.Run("append_one_per_sync", 1, 3000, 1);
    bench.Run("append_batch_100", 1, 3000, 100);
    bench.Run("append_concurrent_4", 4, 2500, 1);
    bench.Run("append_concurrent_32", 32, 1500, 1);
    // Two replication-sized batches in flight, as when peers deliver while a commit syncs.
    bench.Run("append_batch_100_2_threads", 2, 1500, 100);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return baton::bench::RunBench("append_bench", RunMain, argc, argv);
}
