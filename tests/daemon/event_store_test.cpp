// EventStore against real RocksDB in a temp dir: durable appends across reopen, atomic rejection
// of broken chains, group commit under concurrent appenders, the arrival cursor, fork evidence,
// identity refusal and the open-time consistency check (on a store doctored with raw RocksDB).
#include "daemon/store/event_store.h"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "daemon/store/keys.h"
#include "tests/support/doctor.h"
#include "tests/support/temp_dir.h"

namespace baton::store {
namespace {

using testing::Doctor;
using testing::TempDir;

// The store treats hashes as opaque; any deterministic 32 bytes per payload do.
crdt::Hash TestHash(std::string_view payload) {
  crdt::Hash hash{};
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < hash.size(); ++i) {
    for (char c : payload) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    h = (h ^ i) * 1099511628211ull;
    hash[i] = static_cast<uint8_t>(h >> 56);
  }
  return hash;
}

// Builds chained events per origin, as a site would.
// RebuildIndex's recomputation of a payload's hash, for TestHash chains.
Result<crdt::Hash> TestPayloadHash(const StoredEvent& stored) { return TestHash(stored.envelope); }

class ChainBuilder {
 public:
  StoredEvent Next(const std::string& origin, const std::string& note = "") {
    ChainHead& head = heads_[origin];
    StoredEvent event;
    event.id = {origin, head.seq + 1};
    event.prev_hash = head.hash;
    event.envelope = "envelope " + event.id.ToString() + note;
    event.hash = TestHash(event.envelope);
    head = {event.id.seq, event.hash};
    return event;
  }
  std::vector<StoredEvent> Take(const std::string& origin, size_t n) {
    std::vector<StoredEvent> events;
    for (size_t i = 0; i < n; ++i) events.push_back(Next(origin));
    return events;
  }
  void Reset(const std::string& origin, ChainHead head) { heads_[origin] = head; }

 private:
  std::map<std::string, ChainHead> heads_;
};

StoreOptions Options(const TempDir& dir, const std::string& site = "hq",
                     const std::string& runbook = "rb-1") {
  StoreOptions options;
  options.path = dir / "store";
  options.site = site;
  options.runbook_id = runbook;
  options.create_if_missing = true;
  return options;
}

std::unique_ptr<EventStore> MustOpen(const StoreOptions& options) {
  auto store = EventStore::Open(options);
  BOOST_TEST_REQUIRE(store.ok(), store.status().ToString());
  return std::move(store).value();
}

std::optional<StoredEvent> MustGet(const EventStore& store, const std::string& origin,
                                   uint64_t seq) {
  auto event = store.Get({origin, seq});
  BOOST_TEST_REQUIRE(event.ok(), event.status().ToString());
  return *event;
}

void DoctorMeta(const StoreOptions& options,
                const std::vector<std::pair<std::string, std::string>>& puts) {
  Doctor(options.path, kMetaFamily, puts);
}

std::string HeadValue(uint64_t seq, const crdt::Hash& hash) {
  std::string value;
  PutBigEndian64(&value, seq);
  value.append(reinterpret_cast<const char*>(hash.data()), hash.size());
  return value;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(event_store)

BOOST_AUTO_TEST_CASE(appended_events_survive_reopen_with_heads_and_arrivals) {
  TempDir dir("store");
  ChainBuilder chain;
  std::vector<StoredEvent> hq = chain.Take("hq", 5);
  std::vector<StoredEvent> de = chain.Take("vendor-de", 3);
  {
    auto store = MustOpen(Options(dir));
    BOOST_TEST(store->Append(hq).ok());
    BOOST_TEST(store->Append(de).ok());
    BOOST_TEST(store->LastArrival() == 8u);
  }
  auto store = MustOpen(Options(dir));
  BOOST_TEST(store->site() == "hq");
  BOOST_TEST(store->runbook_id() == "rb-1");
  for (const StoredEvent& event : hq) BOOST_TEST((MustGet(*store, "hq", event.id.seq) == event));
  for (const StoredEvent& event : de) {
    BOOST_TEST((MustGet(*store, "vendor-de", event.id.seq) == event));
  }
  BOOST_TEST(!MustGet(*store, "hq", 6).has_value());
  BOOST_TEST(!MustGet(*store, "nobody", 1).has_value());
  auto heads = store->Heads();
  BOOST_TEST(heads.size() == 2u);
  BOOST_TEST((heads["hq"] == ChainHead{5, hq.back().hash}));
  BOOST_TEST((heads["vendor-de"] == ChainHead{3, de.back().hash}));
  BOOST_TEST(store->LastArrival() == 8u);

  // The chains continue after the reopen.
  BOOST_TEST(store->Append({chain.Next("hq")}).ok());
  BOOST_TEST(store->Heads()["hq"].seq == 6u);
}

// A store of `n` events of hq appended one per synced write, as a crash leaves it (a clean
// close moves the events into table files): they are all in its newest write-ahead log file,
// which is returned.
std::filesystem::path StoreInTheWal(const StoreOptions& options, int n) {
  ChainBuilder chain;
  const std::filesystem::path crashed = options.path.string() + ".crashed";
  {
    auto store = MustOpen(options);
    for (int i = 0; i < n; ++i) BOOST_TEST_REQUIRE(store->Append({chain.Next("hq", " x")}).ok());
    std::filesystem::copy(options.path, crashed, std::filesystem::copy_options::recursive);
    std::filesystem::remove(crashed / "LOCK");
  }
  std::filesystem::remove_all(options.path);
  std::filesystem::rename(crashed, options.path);
  std::filesystem::path newest;
  for (const auto& f : std::filesystem::directory_iterator(options.path)) {
    if (f.path().extension() == ".log" && (newest.empty() || f.path() > newest)) newest = f.path();
  }
  BOOST_TEST_REQUIRE(!newest.empty());
  return newest;
}

BOOST_AUTO_TEST_CASE(a_damaged_wal_record_is_refused_not_recovered_up_to) {
  TempDir dir("store");
  const StoreOptions options = Options(dir);
  const auto wal = StoreInTheWal(options, 300);
  const auto size = std::filesystem::file_size(wal);
  BOOST_TEST_REQUIRE(size > 10'000u);  // The 300 acknowledged events are in it, not in an SST.
  {
    // One byte in the middle of the log: the events after it were acknowledged.
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(size / 3));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(size / 3));
    f.put(static_cast<char>(c ^ 0x20));
  }
  auto reopened = EventStore::Open(options);
  const uint64_t recovered = reopened.ok() ? (*reopened)->Heads()["hq"].seq : 0;
  BOOST_TEST_REQUIRE(!reopened.ok(), "opened, holding " << recovered << " of 300 events");
  BOOST_TEST((reopened.status().code() == StatusCode::kCorruption), reopened.status().ToString());
  BOOST_TEST(Contains(reopened.status().message(), "acknowledged after the damage may be lost"),
             reopened.status().ToString());
  BOOST_TEST(Contains(reopened.status().message(), "batond rebuild"), reopened.status().ToString());
}

// Damage that RocksDB's recovery takes for a torn tail (a zeroed stretch, a record length
// changed) is refused when intact records follow it: recovery would stop there and drop every
// acknowledged event after it (before: the store opened with the events before the damage).
BOOST_AUTO_TEST_CASE(damage_that_looks_like_a_torn_tail_but_has_records_after_it_is_refused) {
  const auto damaged_open = [](const char* what,
                               const std::function<void(std::fstream&, uint64_t)>& damage) {
    BOOST_TEST_CONTEXT(what) {
      TempDir dir("store");
      const StoreOptions options = Options(dir);
      const auto wal = StoreInTheWal(options, 300);
      const auto size = std::filesystem::file_size(wal);
      {
        std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
        damage(f, size);
      }
      auto reopened = EventStore::Open(options);
      const uint64_t recovered = reopened.ok() ? (*reopened)->Heads()["hq"].seq : 0;
      BOOST_TEST_REQUIRE(!reopened.ok(), "opened, holding " << recovered << " of 300 events");
      BOOST_TEST((reopened.status().code() == StatusCode::kCorruption),
                 reopened.status().ToString());
      BOOST_TEST(Contains(reopened.status().message(), "intact again at byte"),
                 reopened.status().ToString());
      BOOST_TEST(Contains(reopened.status().message(), wal.filename().string()),
                 reopened.status().ToString());
    }
  };
  damaged_open("512 bytes zeroed in the middle", [](std::fstream& f, uint64_t size) {
    f.seekp(static_cast<std::streamoff>(size / 3));
    f.write(std::string(512, '\0').data(), 512);
  });
  damaged_open("the first record's length changed", [](std::fstream& f, uint64_t) {
    f.seekp(5);  // The high byte of the length: the record now reaches past its block.
    f.put(static_cast<char>(0x7f));
  });
}

BOOST_AUTO_TEST_CASE(an_incomplete_last_wal_record_is_a_write_cut_short_and_opens) {
  TempDir dir("store");
  const StoreOptions options = Options(dir);
  const auto wal = StoreInTheWal(options, 50);
  // As if the process died in the middle of writing its last record.
  std::filesystem::resize_file(wal, std::filesystem::file_size(wal) - 5);
  auto store = MustOpen(options);
  BOOST_TEST(store->Heads()["hq"].seq == 49u);
}

BOOST_AUTO_TEST_CASE(open_without_create_if_missing_is_not_found) {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  options.create_if_missing = false;
  auto store = EventStore::Open(options);
  BOOST_TEST_REQUIRE(!store.ok());
  BOOST_TEST((store.status().code() == StatusCode::kNotFound));
  BOOST_TEST(Contains(store.status().message(), options.path.string()));
  options.read_only = true;
  BOOST_TEST((EventStore::Open(options).status().code() == StatusCode::kNotFound));
}

BOOST_AUTO_TEST_CASE(creating_without_site_is_refused) {
  TempDir dir("store");
  StoreOptions options = Options(dir, "");
  BOOST_TEST((EventStore::Open(options).status().code() == StatusCode::kInvalidArgument));
}

BOOST_AUTO_TEST_CASE(scan_origin_returns_a_range_in_seq_order) {
  TempDir dir("store");
  ChainBuilder chain;
  auto store = MustOpen(Options(dir));
  BOOST_TEST(store->Append(chain.Take("a", 10)).ok());
  BOOST_TEST(store->Append(chain.Take("ab", 4)).ok());  // Prefix of no other origin's keys.
  BOOST_TEST(store->Append(chain.Take("b", 2)).ok());
  std::vector<StoredEvent> out;
  BOOST_TEST(store->ScanOrigin("a", 4, 3, &out).ok());
  BOOST_TEST_REQUIRE(out.size() == 3u);
  BOOST_TEST(out[0].id.seq == 4u);
  BOOST_TEST(out[2].id.seq == 6u);
  BOOST_TEST(store->ScanOrigin("a", 9, 100, &out).ok());
  BOOST_TEST(out.size() == 2u);
  BOOST_TEST(store->ScanOrigin("ab", 1, 100, &out).ok());
  BOOST_TEST(out.size() == 4u);
  for (const StoredEvent& event : out) BOOST_TEST(event.id.origin == "ab");
  BOOST_TEST(store->ScanOrigin("c", 1, 100, &out).ok());
  BOOST_TEST(out.empty());
}

BOOST_AUTO_TEST_CASE(gap_is_rejected_and_nothing_of_the_call_is_written) {
  TempDir dir("store");
  ChainBuilder chain;
  auto store = MustOpen(Options(dir));
  BOOST_TEST_REQUIRE(store->Append(chain.Take("hq", 3)).ok());
  const auto heads_before = store->Heads();

  StoredEvent other = chain.Next("vendor-de");
  StoredEvent fourth = chain.Next("hq");
  chain.Next("hq");  // hq/5 is skipped.
  StoredEvent sixth = chain.Next("hq");
  Status s = store->Append({other, fourth, sixth});
  BOOST_TEST((s.code() == StatusCode::kRejected));
  BOOST_TEST(s.message() == "hq/6: expected seq 5");
  BOOST_TEST(!MustGet(*store, "hq", 4).has_value());
  BOOST_TEST(!MustGet(*store, "vendor-de", 1).has_value());
  BOOST_TEST((store->Heads() == heads_before));
  BOOST_TEST(store->LastArrival() == 3u);

  // A first event must be seq 1.
  StoredEvent late{{"late", 2}, {}, TestHash("x"), "x", 0};
  BOOST_TEST(store->Append({late}).message() == "late/2: expected seq 1");
}

BOOST_AUTO_TEST_CASE(bad_prev_hash_is_rejected_and_nothing_of_the_call_is_written) {
  TempDir dir("store");
  ChainBuilder chain;
  auto store = MustOpen(Options(dir));
  BOOST_TEST_REQUIRE(store->Append(chain.Take("hq", 3)).ok());
  std::vector<StoredEvent> batch = chain.Take("hq", 3);
  batch[2].prev_hash[0] ^= 1;  // hq/6 does not link to hq/5 within the same call.
  Status s = store->Append(batch);
  BOOST_TEST((s.code() == StatusCode::kRejected));
  BOOST_TEST(s.message() == "hq/6: prev_hash does not match head");
  BOOST_TEST(!MustGet(*store, "hq", 4).has_value());
  BOOST_TEST(store->Heads()["hq"].seq == 3u);
}

BOOST_AUTO_TEST_CASE(stored_events_are_never_overwritten) {
  TempDir dir("store");
  ChainBuilder chain;
  auto store = MustOpen(Options(dir));
  std::vector<StoredEvent> first = chain.Take("hq", 2);
  BOOST_TEST_REQUIRE(store->Append(first).ok());
  ChainBuilder rival;
  StoredEvent forged = rival.Next("hq", " forged");  // hq/1 with other bytes.
  BOOST_TEST(store->Append({forged}).message() == "hq/1: expected seq 3");
  BOOST_TEST((MustGet(*store, "hq", 1) == first[0]));
}

BOOST_AUTO_TEST_CASE(concurrent_appenders_are_all_stored_with_right_heads) {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  constexpr int kThreads = 8;
  constexpr uint64_t kPerThread = 500;
  std::map<std::string, crdt::Hash> last_hash;
  {
    auto store = MustOpen(options);
    std::vector<std::thread> threads;
    std::vector<ChainBuilder> chains(kThreads);
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const std::string origin = "site-" + std::to_string(t);
        uint64_t appended = 0;
        int round = 0;
        while (appended < kPerThread) {
          const uint64_t n = std::min<uint64_t>(1 + (round++ % 4), kPerThread - appended);
          if (!store->Append(chains[t].Take(origin, n)).ok()) ++failures;
          appended += n;
        }
      });
    }
    // A rejected appender in the middle of the traffic fails alone.
    std::thread bad([&] {
      for (int i = 0; i < 50; ++i) {
        StoredEvent gap{{"site-0", 1000000}, {}, TestHash("gap"), "gap", 0};
        if (store->Append({gap}).code() != StatusCode::kRejected) ++failures;
      }
    });
    for (auto& thread : threads) thread.join();
    bad.join();
    BOOST_TEST(failures.load() == 0);
    for (int t = 0; t < kThreads; ++t) {
      const std::string origin = "site-" + std::to_string(t);
      last_hash[origin] = chains[t].Next(origin).prev_hash;
    }
  }
  auto store = MustOpen(options);
  auto heads = store->Heads();
  BOOST_TEST(heads.size() == static_cast<size_t>(kThreads));
  for (const auto& [origin, hash] : last_hash) {
    BOOST_TEST((heads[origin] == ChainHead{kPerThread, hash}));
    std::vector<StoredEvent> events;
    BOOST_TEST(store->ScanOrigin(origin, 1, 10000, &events).ok());
    BOOST_TEST_REQUIRE(events.size() == kPerThread);
    for (size_t i = 1; i < events.size(); ++i) {
      BOOST_TEST(events[i].id.seq == i + 1);
      BOOST_TEST((events[i].prev_hash == events[i - 1].hash));
    }
  }
  // Every event has exactly one arrival, and each origin arrives in seq order.
  BOOST_TEST(store->LastArrival() == kThreads * kPerThread);
  std::vector<Arrival> arrivals;
  BOOST_TEST(store->ScanArrivals(0, 100000, &arrivals).ok());
  BOOST_TEST_REQUIRE(arrivals.size() == kThreads * kPerThread);
  std::map<std::string, uint64_t> seen;
  for (size_t i = 0; i < arrivals.size(); ++i) {
    BOOST_TEST(arrivals[i].counter == i + 1);
    const crdt::EventId& id = arrivals[i].event.id;
    BOOST_TEST(id.seq == seen[id.origin] + 1);
    seen[id.origin] = id.seq;
  }
}

BOOST_AUTO_TEST_CASE(racing_appenders_on_one_origin_keep_one_chain) {
  TempDir dir("store");
  auto store = MustOpen(Options(dir));
  std::atomic<uint64_t> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        ChainBuilder chain;
        chain.Reset("hq", store->Heads()["hq"]);
        Status s = store->Append({chain.Next("hq", " by " + std::to_string(t))});
        if (s.ok()) ++accepted;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const ChainHead head = store->Heads()["hq"];
  BOOST_TEST(head.seq == accepted.load());
  std::vector<StoredEvent> events;
  BOOST_TEST(store->ScanOrigin("hq", 1, 1000, &events).ok());
  BOOST_TEST_REQUIRE(events.size() == head.seq);
  for (size_t i = 1; i < events.size(); ++i) {
    BOOST_TEST((events[i].prev_hash == events[i - 1].hash));
  }
}

BOOST_AUTO_TEST_CASE(arrival_cursor_pages_through_local_commit_order) {
  TempDir dir("store");
  ChainBuilder chain;
  std::vector<crdt::EventId> order;
  {
    auto store = MustOpen(Options(dir));
    BOOST_TEST(store->LastArrival() == 0u);
    for (int round = 0; round < 3; ++round) {
      for (const char* origin : {"hq", "vendor-de", "ops"}) {
        std::vector<StoredEvent> events = chain.Take(origin, 2);
        for (const auto& e : events) order.push_back(e.id);
        BOOST_TEST_REQUIRE(store->Append(events).ok());
      }
    }
    std::vector<Arrival> page;
    BOOST_TEST(store->ScanArrivals(0, 4, &page).ok());
    BOOST_TEST_REQUIRE(page.size() == 4u);
    BOOST_TEST(page[0].counter == 1u);
    BOOST_TEST((page[3].event.id == order[3]));
    BOOST_TEST(store->ScanArrivals(page.back().counter, 100, &page).ok());
    BOOST_TEST_REQUIRE(page.size() == 14u);
    BOOST_TEST(page[0].counter == 5u);
    BOOST_TEST((page.back().event.id == order.back()));
    BOOST_TEST(store->ScanArrivals(store->LastArrival(), 100, &page).ok());
    BOOST_TEST(page.empty());
  }
  auto store = MustOpen(Options(dir));
  BOOST_TEST(store->LastArrival() == 18u);
  BOOST_TEST_REQUIRE(store->Append({chain.Next("hq")}).ok());
  std::vector<Arrival> page;
  BOOST_TEST(store->ScanArrivals(18, 100, &page).ok());
  BOOST_TEST_REQUIRE(page.size() == 1u);
  BOOST_TEST(page[0].counter == 19u);
  BOOST_TEST((page[0].event.id == crdt::EventId{"hq", 7}));
}

BOOST_AUTO_TEST_CASE(each_arrival_keeps_the_time_its_batch_was_committed) {
  // The arrival time is what `replay --site` and bundles rest on: each committed batch stamps its
  // entries with the store's clock; it survives a reopen; entries written before stores kept it
  // (the event key alone, or with a count) read as time 0.
  TempDir dir("store");
  ChainBuilder chain;
  int64_t now = 1'717'000'000'000;
  StoreOptions options = Options(dir);
  options.clock = [&now] { return now; };
  {
    auto store = MustOpen(options);
    BOOST_TEST_REQUIRE(store->Append(chain.Take("hq", 3)).ok());
    now += 60'000;
    BOOST_TEST_REQUIRE(store->Append({chain.Next("v1"), chain.Next("hq")}).ok());
  }
  auto check = [&](const EventStore& store) {
    std::vector<Arrival> page;
    BOOST_TEST_REQUIRE(store.ScanArrivals(0, 100, &page).ok());
    BOOST_TEST_REQUIRE(page.size() == 5u);
    for (size_t i = 0; i < 3; ++i) BOOST_TEST(page[i].arrived_ms == 1'717'000'000'000);
    BOOST_TEST(page[3].arrived_ms == 1'717'000'060'000);
    BOOST_TEST(page[4].arrived_ms == 1'717'000'060'000);
    std::vector<int64_t> visited;
    BOOST_TEST_REQUIRE(store
                           .ForEachArrival([&](uint64_t, const crdt::EventId&, int64_t at) {
                             visited.push_back(at);
                             return Status::Ok();
                           })
                           .ok());
    std::vector<int64_t> scanned;
    for (const Arrival& a : page) scanned.push_back(a.arrived_ms);
    BOOST_TEST(visited == scanned);
  };
  check(*MustOpen(options));
  // An older store's entries: the key alone (one event), the key and a count (a run).
  std::string run = EventKey("hq", 1);
  run += std::string("\0\0\0\3", 4);
  Doctor(options.path, kArrivalsFamily, {{ArrivalKey(1), run}, {ArrivalKey(4), EventKey("v1", 1)}});
  auto store = MustOpen(options);
  std::vector<Arrival> page;
  BOOST_TEST_REQUIRE(store->ScanArrivals(0, 100, &page).ok());
  BOOST_TEST_REQUIRE(page.size() == 5u);
  BOOST_TEST(page[0].arrived_ms == 0);
  BOOST_TEST(page[2].arrived_ms == 0);
  BOOST_TEST(page[3].arrived_ms == 0);
  BOOST_TEST((page[3].event.id == crdt::EventId{"v1", 1}));
  BOOST_TEST(page[4].arrived_ms == 1'717'000'060'000);
}

BOOST_AUTO_TEST_CASE(arrival_runs_page_from_any_cursor_inside_a_run) {
  // One append of interleaved origins is stored as runs (hq 1-3, ops 1-2, hq 4); a cursor may
  // stop anywhere inside a run, before and after a reopen.
  TempDir dir("store");
  ChainBuilder chain;
  std::vector<StoredEvent> batch = chain.Take("hq", 3);
  for (auto& e : chain.Take("ops", 2)) batch.push_back(e);
  batch.push_back(chain.Next("hq"));
  std::vector<crdt::EventId> order;
  for (const auto& e : batch) order.push_back(e.id);
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto store = MustOpen(Options(dir));
    if (reopen == 0) BOOST_TEST_REQUIRE(store->Append(batch).ok());
    BOOST_TEST(store->LastArrival() == 6u);
    for (uint64_t after = 0; after <= 6; ++after) {
      for (size_t max : {size_t{1}, size_t{2}, size_t{10}}) {
        BOOST_TEST_CONTEXT("after " << after << " max " << max << " reopen " << reopen) {
          std::vector<Arrival> page;
          BOOST_TEST_REQUIRE(store->ScanArrivals(after, max, &page).ok());
          BOOST_TEST(page.size() == std::min<size_t>(max, 6 - after));
          for (size_t i = 0; i < page.size(); ++i) {
            BOOST_TEST(page[i].counter == after + 1 + i);
            BOOST_TEST((page[i].event.id == order[after + i]));
            BOOST_TEST((page[i].event == batch[after + i]));
          }
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(forks_are_kept_as_evidence_and_never_replace_the_event) {
  TempDir dir("store");
  ChainBuilder chain;
  std::vector<StoredEvent> mine = chain.Take("vendor-de", 2);
  ChainBuilder rival_a;
  ChainBuilder rival_b;
  StoredEvent fork_a = rival_a.Next("vendor-de", " version A");
  StoredEvent fork_b = rival_b.Next("vendor-de", " version B");
  StoredEvent fork_b_other_bytes = fork_b;  // Same id and hash, other bytes: kept as well.
  fork_b_other_bytes.envelope += " tampered";
  {
    auto store = MustOpen(Options(dir));
    BOOST_TEST_REQUIRE(store->Append(mine).ok());
    BOOST_TEST(store->RecordFork(fork_a).ok());
    BOOST_TEST(store->RecordFork(fork_b).ok());
    BOOST_TEST(store->RecordFork(fork_a).ok());  // Same bytes again: one copy.
    BOOST_TEST(store->RecordFork(fork_b_other_bytes).ok());
  }
  auto store = MustOpen(Options(dir));
  std::vector<StoredEvent> forks;
  BOOST_TEST(store->ScanForks(&forks).ok());
  BOOST_TEST_REQUIRE(forks.size() == 3u);
  std::set<std::string> envelopes;
  for (const auto& fork : forks) envelopes.insert(fork.envelope);
  BOOST_TEST(envelopes.count(fork_a.envelope) == 1u);
  BOOST_TEST(envelopes.count(fork_b.envelope) == 1u);
  BOOST_TEST(envelopes.count(fork_b_other_bytes.envelope) == 1u);
  BOOST_TEST((MustGet(*store, "vendor-de", 1) == mine[0]));
}

BOOST_AUTO_TEST_CASE(snapshot_and_meta_round_trip) {
  TempDir dir("store");
  {
    auto store = MustOpen(Options(dir));
    auto none = store->GetSnapshot();
    BOOST_TEST_REQUIRE(none.ok());
    BOOST_TEST(!none->has_value());
    BOOST_TEST(store->PutSnapshot("state v1", 10).ok());
    BOOST_TEST(store->PutSnapshot(std::string("state\0v2", 8), 12).ok());
    BOOST_TEST(store->PutMeta("peer/vendor-de", "vv bytes").ok());
    BOOST_TEST(store->PutMeta("site", "not the identity").ok());  // App keys are apart.
  }
  auto store = MustOpen(Options(dir));
  auto snapshot = store->GetSnapshot();
  BOOST_TEST_REQUIRE(snapshot.ok());
  BOOST_TEST_REQUIRE(snapshot->has_value());
  BOOST_TEST((**snapshot == std::make_pair(std::string("state\0v2", 8), uint64_t{12})));
  auto meta = store->GetMeta("peer/vendor-de");
  BOOST_TEST_REQUIRE(meta.ok());
  BOOST_TEST(meta->value_or("") == "vv bytes");
  BOOST_TEST(!store->GetMeta("absent").value().has_value());
  BOOST_TEST(store->site() == "hq");
}

BOOST_AUTO_TEST_CASE(a_store_of_another_site_is_refused) {
  TempDir dir("store");
  { auto store = MustOpen(Options(dir, "hq")); }
  auto other = EventStore::Open(Options(dir, "vendor-de"));
  BOOST_TEST_REQUIRE(!other.ok());
  BOOST_TEST((other.status().code() == StatusCode::kRejected));
  BOOST_TEST(Contains(other.status().message(), "'hq'"));
  BOOST_TEST(Contains(other.status().message(), "'vendor-de'"));
}

BOOST_AUTO_TEST_CASE(a_store_of_another_runbook_is_refused) {
  TempDir dir("store");
  { auto store = MustOpen(Options(dir, "hq", "rb-1")); }
  auto other = EventStore::Open(Options(dir, "hq", "rb-2"));
  BOOST_TEST_REQUIRE(!other.ok());
  BOOST_TEST((other.status().code() == StatusCode::kRejected));
  BOOST_TEST(Contains(other.status().message(), "'rb-1'"));
  BOOST_TEST(Contains(other.status().message(), "'rb-2'"));
  // Not knowing the runbook yet is fine.
  auto unknown = EventStore::Open(Options(dir, "hq", ""));
  BOOST_TEST_REQUIRE(unknown.ok());
  BOOST_TEST((*unknown)->runbook_id() == "rb-1");
}

BOOST_AUTO_TEST_CASE(runbook_is_bound_once) {
  TempDir dir("store");
  {
    auto store = MustOpen(Options(dir, "hq", ""));
    BOOST_TEST(store->runbook_id().empty());
    BOOST_TEST(store->BindRunbook("rb-1").ok());
    BOOST_TEST(store->BindRunbook("rb-1").ok());
    Status again = store->BindRunbook("rb-2");
    BOOST_TEST((again.code() == StatusCode::kInvalidArgument));
    BOOST_TEST(Contains(again.message(), "'rb-1'"));
    BOOST_TEST(Contains(again.message(), "'rb-2'"));
  }
  BOOST_TEST(MustOpen(Options(dir, "hq", ""))->runbook_id() == "rb-1");
  BOOST_TEST(!EventStore::Open(Options(dir, "hq", "rb-2")).ok());

  // Opening an unbound store with a runbook binds it.
  TempDir dir2("store");
  { auto store = MustOpen(Options(dir2, "hq", "")); }
  { auto store = MustOpen(Options(dir2, "hq", "rb-9")); }
  BOOST_TEST(MustOpen(Options(dir2, "hq", ""))->runbook_id() == "rb-9");
}

BOOST_AUTO_TEST_CASE(a_newer_schema_is_refused) {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  { auto store = MustOpen(options); }
  DoctorMeta(options, {{std::string(kMetaSchema), std::to_string(kSchemaVersion + 1)}});
  auto store = EventStore::Open(options);
  BOOST_TEST_REQUIRE(!store.ok());
  BOOST_TEST((store.status().code() == StatusCode::kRejected));
  BOOST_TEST(Contains(store.status().message(), std::to_string(kSchemaVersion + 1)));
  BOOST_TEST(Contains(store.status().message(), std::to_string(kSchemaVersion)));
}

BOOST_AUTO_TEST_CASE(rebuild_index_restores_a_store_whose_index_and_heads_are_lost) {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  ChainBuilder chain;
  StoredEvent fork;
  {
    auto store = MustOpen(options);
    for (int round = 0; round < 5; ++round) {  // Interleaved: arrivals differ from key order.
      BOOST_TEST_REQUIRE(store->Append(chain.Take("hq", 2)).ok());
      BOOST_TEST_REQUIRE(store->Append({chain.Next("vendor-de")}).ok());
    }
    BOOST_TEST_REQUIRE(store->Append({chain.Next("hq")}).ok());
    fork = *MustGet(*store, "vendor-de", 2);
    fork.envelope += " (other bytes)";
    BOOST_TEST_REQUIRE(store->RecordFork(fork).ok());
    BOOST_TEST_REQUIRE(store->PutSnapshot("state", 16).ok());
  }
  std::vector<Arrival> received;  // The arrival order to keep.
  std::string epoch;
  {
    auto store = MustOpen(options);
    BOOST_TEST_REQUIRE(store->ScanArrivals(0, 100, &received).ok());
    epoch = store->arrival_epoch();
    BOOST_TEST(epoch.size() == 16u);
  }
  // Only a head is wrong: the arrival index still covers every event, so it is kept.
  DoctorMeta(options, {{HeadKey("hq"), HeadValue(3, TestHash("wrong"))}});
  BOOST_TEST_REQUIRE(!EventStore::Open(options).ok());
  auto kept = EventStore::RebuildIndex(options, TestPayloadHash);
  BOOST_TEST_REQUIRE(kept.ok(), kept.status().ToString());
  BOOST_TEST(!kept->renumbered);
  BOOST_TEST(kept->dropped_snapshot);
  {
    auto store = MustOpen(options);
    std::vector<Arrival> arrivals;
    BOOST_TEST_REQUIRE(store->ScanArrivals(0, 100, &arrivals).ok());
    BOOST_TEST(store->arrival_epoch() == epoch);  // Same numbering.
    BOOST_TEST_REQUIRE(arrivals.size() == received.size());
    for (size_t i = 0; i < arrivals.size(); ++i) {
      BOOST_TEST(arrivals[i].counter == received[i].counter);
      BOOST_TEST((arrivals[i].event == received[i].event));
    }
  }

  // The arrival index is lost too: rebuilt, origin after origin.
  Doctor(options.path, kArrivalsFamily, {}, {}, /*clear=*/true);
  DoctorMeta(options, {{HeadKey("hq"), HeadValue(3, TestHash("wrong"))}});
  BOOST_TEST_REQUIRE(!EventStore::Open(options).ok());

  auto rebuilt = EventStore::RebuildIndex(options, TestPayloadHash);
  BOOST_TEST_REQUIRE(rebuilt.ok(), rebuilt.status().ToString());
  BOOST_TEST(rebuilt->total == 16u);
  BOOST_TEST(rebuilt->old_arrival == 16u);
  BOOST_TEST(rebuilt->renumbered);
  BOOST_TEST(!rebuilt->dropped_snapshot);  // The first repair dropped it.
  BOOST_TEST((rebuilt->events == std::map<crdt::SiteId, uint64_t>{{"hq", 11}, {"vendor-de", 5}}));

  auto store = MustOpen(options);
  BOOST_TEST(store->arrival_epoch() != epoch);  // A new numbering, under a new name.
  BOOST_TEST(store->arrival_epoch().size() == 16u);
  BOOST_TEST(store->Heads().at("hq").seq == 11u);
  BOOST_TEST(store->Heads().at("vendor-de").seq == 5u);
  BOOST_TEST(store->LastArrival() == 16u);
  std::vector<Arrival> arrivals;
  BOOST_TEST_REQUIRE(store->ScanArrivals(0, 100, &arrivals).ok());
  BOOST_TEST_REQUIRE(arrivals.size() == 16u);
  for (size_t i = 0; i < arrivals.size(); ++i) {  // Origin after origin, each in seq order.
    BOOST_TEST(arrivals[i].counter == i + 1);
    const crdt::EventId want =
        i < 11 ? crdt::EventId{"hq", i + 1} : crdt::EventId{"vendor-de", i - 10};
    BOOST_TEST(arrivals[i].event.id.ToString() == want.ToString());
    BOOST_TEST((arrivals[i].event == *MustGet(*store, want.origin, want.seq)));
  }
  auto snapshot = store->GetSnapshot();
  BOOST_TEST_REQUIRE(snapshot.ok());
  BOOST_TEST(!snapshot->has_value());
  std::vector<StoredEvent> forks;
  BOOST_TEST_REQUIRE(store->ScanForks(&forks).ok());
  BOOST_TEST_REQUIRE(forks.size() == 1u);
  BOOST_TEST((forks[0] == fork));
  BOOST_TEST_REQUIRE(store->Append({chain.Next("hq")}).ok());  // The chain goes on.
  BOOST_TEST(store->LastArrival() == 17u);
  store.reset();

  // An arrival entry naming the wrong event (hq/7 where hq/1..11 start at arrival 1): the index
  // no longer covers every event once, so it is rebuilt rather than kept.
  Doctor(options.path, kArrivalsFamily, {{ArrivalKey(1), EventKey("hq", 7)}});
  auto redone = EventStore::RebuildIndex(options, TestPayloadHash);
  BOOST_TEST_REQUIRE(redone.ok(), redone.status().ToString());
  BOOST_TEST(redone->renumbered);
  BOOST_TEST(MustOpen(options)->LastArrival() == 17u);
}

BOOST_AUTO_TEST_CASE(rebuild_index_refuses_damaged_events_and_writes_nothing) {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  ChainBuilder chain;
  std::vector<StoredEvent> events = chain.Take("hq", 5);
  {
    auto store = MustOpen(options);
    BOOST_TEST_REQUIRE(store->Append(events).ok());
    BOOST_TEST_REQUIRE(store->PutSnapshot("state", 5).ok());
  }
  // hq/5, the head, with one byte of its stored hash changed: nothing after it would show it,
  // but the hash recomputed from its payload does.
  std::string last(1, '\1');
  crdt::Hash flipped = events[4].hash;
  flipped[7] ^= 0x01;
  last.append(reinterpret_cast<const char*>(events[4].prev_hash.data()), 32);
  last.append(reinterpret_cast<const char*>(flipped.data()), flipped.size());
  last += events[4].envelope;
  Doctor(options.path, kEventsFamily, {{EventKey("hq", 5), last}});
  auto misstated = EventStore::RebuildIndex(options, TestPayloadHash);
  BOOST_TEST_REQUIRE(!misstated.ok());
  BOOST_TEST(Contains(misstated.status().message(),
                      "event hq/5: its stored hash is not the hash of its payload"),
             misstated.status().message());
  std::string original = last;
  original.replace(1 + 32, 32, reinterpret_cast<const char*>(events[4].hash.data()), 32);
  Doctor(options.path, kEventsFamily, {{EventKey("hq", 5), original}});

  // hq/3 rewritten with a prev_hash that is not hq/2's hash.
  std::string value(1, '\1');
  const crdt::Hash bad = TestHash("not hq/2");
  value.append(reinterpret_cast<const char*>(bad.data()), bad.size());
  value.append(reinterpret_cast<const char*>(events[2].hash.data()), events[2].hash.size());
  value += events[2].envelope;
  Doctor(options.path, kEventsFamily, {{EventKey("hq", 3), value}});
  auto unlinked = EventStore::RebuildIndex(options, TestPayloadHash);
  BOOST_TEST_REQUIRE(!unlinked.ok());
  BOOST_TEST((unlinked.status().code() == StatusCode::kCorruption));
  BOOST_TEST(Contains(unlinked.status().message(), "event hq/3 does not link"),
             unlinked.status().message());

  Doctor(options.path, kEventsFamily, {}, {EventKey("hq", 3)});
  auto gap = EventStore::RebuildIndex(options, TestPayloadHash);
  BOOST_TEST_REQUIRE(!gap.ok());
  BOOST_TEST(Contains(gap.status().message(), "jump from seq 2 to 4"), gap.status().message());
  auto store = MustOpen(options);  // Nothing was written: the snapshot is still there.
  auto snapshot = store->GetSnapshot();
  BOOST_TEST_REQUIRE(snapshot.ok());
  BOOST_TEST_REQUIRE(snapshot->has_value());
  BOOST_TEST((*snapshot)->second == 5u);
}

BOOST_AUTO_TEST_CASE(a_head_ahead_of_the_events_is_corruption) {
  TempDir dir("store");
  StoreOptions options = Options(dir);
  ChainBuilder chain;
  std::vector<StoredEvent> events = chain.Take("hq", 11);
  {
    auto store = MustOpen(options);
    BOOST_TEST_REQUIRE(store->Append(events).ok());
  }
  DoctorMeta(options, {{HeadKey("hq"), HeadValue(12, events.back().hash)}});
  auto store = EventStore::Open(options);
  BOOST_TEST_REQUIRE(!store.ok());
  BOOST_TEST((store.status().code() == StatusCode::kCorruption));
  BOOST_TEST_MESSAGE(store.status().ToString());
  BOOST_TEST(Contains(store.status().message(), "origin hq"));
  BOOST_TEST(Contains(store.status().message(), "seq 12"));
  BOOST_TEST(Contains(store.status().message(), "seq 11"));
}

BOOST_AUTO_TEST_CASE(other_doctored_meta_is_corruption) {
  ChainBuilder chain;
  std::vector<StoredEvent> events = chain.Take("hq", 3);
  const std::vector<std::pair<std::string, std::string>> doctored[] = {
      {{HeadKey("hq"), HeadValue(3, TestHash("other"))}},  // Wrong hash.
      {{HeadKey("ghost"), HeadValue(2, TestHash("g"))}},   // Head of an origin without events.
      {{std::string(kMetaArrival), ArrivalKey(7)}},        // Arrival counter ahead.
  };
  for (const auto& puts : doctored) {
    BOOST_TEST_CONTEXT("doctored " << puts[0].first) {
      TempDir dir("store");
      StoreOptions options = Options(dir);
      {
        auto store = MustOpen(options);
        BOOST_TEST_REQUIRE(store->Append(events).ok());
      }
      DoctorMeta(options, puts);
      auto store = EventStore::Open(options);
      BOOST_TEST_REQUIRE(!store.ok());
      BOOST_TEST((store.status().code() == StatusCode::kCorruption));
      BOOST_TEST_MESSAGE(store.status().ToString());
    }
  }
}

BOOST_AUTO_TEST_CASE(read_only_store_reads_and_refuses_writes) {
  TempDir dir("store");
  ChainBuilder chain;
  std::vector<StoredEvent> events = chain.Take("hq", 4);
  {
    auto store = MustOpen(Options(dir));
    BOOST_TEST_REQUIRE(store->Append(events).ok());
  }
  StoreOptions options = Options(dir, "");
  options.read_only = true;
  options.create_if_missing = false;
  auto store = MustOpen(options);
  BOOST_TEST(store->site() == "hq");
  BOOST_TEST((MustGet(*store, "hq", 4) == events[3]));
  BOOST_TEST(store->Heads()["hq"].seq == 4u);
  BOOST_TEST((store->Append({chain.Next("hq")}).code() == StatusCode::kInvalidArgument));
  BOOST_TEST((store->PutMeta("k", "v").code() == StatusCode::kInvalidArgument));
  BOOST_TEST((store->RecordFork(events[0]).code() == StatusCode::kInvalidArgument));
}

// The auditor reads the events on several threads, a range of whole origins each: together
// the ranges hold every entry once, a malformed key included, in ForEachEvent's order.
BOOST_AUTO_TEST_CASE(event_ranges_cover_every_entry_once_by_whole_origins) {
  TempDir dir("store");
  ChainBuilder chain;
  std::vector<StoredEvent> events = chain.Take("hq", 5);
  for (const char* origin : {"vendor-de", "ops", "vendor-in"}) {
    for (StoredEvent& e : chain.Take(origin, 3)) events.push_back(std::move(e));
  }
  {
    auto store = MustOpen(Options(dir));
    BOOST_TEST_REQUIRE(store->Append(events).ok());
  }
  // A key that parses as no event, sorting among the origins; read as the auditor reads (a
  // secondary, which checks no heads).
  testing::Doctor(Options(dir).path, kEventsFamily, {{std::string("\x04opsx", 5), "junk"}});
  TempDir scratch("secondary");
  StoreOptions options = Options(dir, "");
  options.secondary_path = scratch.path();
  options.create_if_missing = false;
  auto store = MustOpen(options);
  std::vector<std::string> whole;
  BOOST_TEST_REQUIRE(store
                         ->ForEachEvent([&](const crdt::EventId& key, Result<StoredEvent> e) {
                           whole.push_back(e.ok() ? key.ToString() : "bad");
                           return Status::Ok();
                         })
                         .ok());
  BOOST_TEST(whole.size() == events.size() + 1);
  const auto ranges = store->EventRanges();
  BOOST_TEST(ranges.size() == 4u);  // One per origin.
  std::vector<std::string> pieced;
  for (const auto& range : ranges) {
    std::set<std::string> origins;
    BOOST_TEST_REQUIRE(store
                           ->ForEachEventIn(range,
                                            [&](const crdt::EventId& key, Result<StoredEvent> e) {
                                              pieced.push_back(e.ok() ? key.ToString() : "bad");
                                              if (e.ok()) origins.insert(key.origin);
                                              return Status::Ok();
                                            })
                           .ok());
    BOOST_TEST(origins.size() == 1u);
  }
  BOOST_TEST(pieced == whole, boost::test_tools::per_element());
  // An empty store: one range, nothing in it.
  TempDir empty("store");
  auto none = MustOpen(Options(empty));
  BOOST_TEST(none->EventRanges().size() == 1u);
}

BOOST_AUTO_TEST_CASE(malformed_origins_are_invalid_arguments) {
  TempDir dir("store");
  auto store = MustOpen(Options(dir));
  StoredEvent empty{{"", 1}, {}, {}, "x", 0};
  BOOST_TEST((store->Append({empty}).code() == StatusCode::kInvalidArgument));
  StoredEvent huge{{std::string(300, 'x'), 1}, {}, {}, "x", 0};
  BOOST_TEST((store->Append({huge}).code() == StatusCode::kInvalidArgument));
  BOOST_TEST(store->Append({}).ok());
  BOOST_TEST(store->LastArrival() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace baton::store
