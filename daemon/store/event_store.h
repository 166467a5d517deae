// EventStore: the site's append-only event log in RocksDB. It stores opaque envelope bytes with
// their id and hashes (it never decodes an event), keeps each origin's hash chain head, a local
// arrival index (cursors for watch, replay and rebuild), fork evidence, a projection snapshot and
// small metadata. Every append is one synced WriteBatch carrying the events, their arrival entries
// and the changed heads: acknowledged == durable, and the heads are checked against the events on
// open. Concurrent appends are grouped into one batch per sync by a commit thread.
// Key layouts: daemon/store/keys.h. Events are never overwritten or deleted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"

namespace rocksdb {
class Env;
}

namespace baton::store {

// Bumped when the on-disk layout changes; a store written by a newer schema is refused.
inline constexpr uint64_t kSchemaVersion = 1;

struct StoredEvent {
  crdt::EventId id;
  crdt::Hash prev_hash{};  // Hash of the origin's event id.seq - 1 (zero for seq 1).
  crdt::Hash hash{};       // Hash of this event's payload; the next event's prev_hash.
  std::string envelope;    // The event's bytes exactly as signed and sent.
  // When this site took the event (folded it, so that boards showed it), for the arrival index;
  // 0: when it is written. Not part of the stored event; read back as 0.
  int64_t arrived_ms = 0;

  friend bool operator==(const StoredEvent&, const StoredEvent&) = default;
};

struct ChainHead {
  uint64_t seq = 0;   // Last stored seq of the origin; 0 when none.
  crdt::Hash hash{};  // Hash of that event; zero when none.

  friend bool operator==(const ChainHead&, const ChainHead&) = default;
};

struct StoreOptions {
  std::filesystem::path path;  // The RocksDB directory.
  // Site owning the directory. Required at creation; when opening, a different stored site is
  // refused; empty accepts any (the auditor does not know it in advance).
  crdt::SiteId site;
  // Runbook the log belongs to. Empty means "not yet known": accepted at creation and when
  // opening. A non-empty id binds an unbound store (see BindRunbook); a different bound one is
  // refused.
  std::string runbook_id;
  bool create_if_missing = false;
  // Sync the WAL before acknowledging. Off only for tests and benchmarks that do not need
  // durability against power loss (a process crash loses nothing either way).
  bool sync = true;
  // For the auditor: no writes and no commit thread; works while no other process writes the
  // directory. Append, RecordFork, PutSnapshot, PutMeta and BindRunbook return kInvalidArgument.
  bool read_only = false;
  // For the auditor while batond may be writing the directory: a RocksDB secondary instance
  // that keeps its own small files (its info log) in this directory, which must exist and
  // belong to no other store. Implies read_only. Open then checks no chain heads (the auditor
  // checks everything itself, from the events): Heads() is empty, LastArrival() is 0, and
  // ScanArrivals is not available; use ForEachEvent and ForEachArrival.
  std::filesystem::path secondary_path;
  // Tests only: the Env (and so the file system) RocksDB uses; null for the default. The power
  // loss test passes one that drops unsynced data at a simulated cut.
  rocksdb::Env* env = nullptr;
  // The wall clock that stamps each committed batch's arrival entries (milliseconds since the
  // Unix epoch); null for the system clock. Tests pass a fixed one.
  std::function<int64_t()> clock;
};

// One entry of the arrival index with its event: the counter, when the batch that brought it was
// committed here (the site's wall clock, ms since the Unix epoch; 0 for entries written before
// stores kept it, or by a repair), and the event.
struct Arrival {
  uint64_t counter = 0;
  int64_t arrived_ms = 0;
  StoredEvent event;
};

// What RebuildIndex found and wrote.
struct IndexRebuild {
  std::map<crdt::SiteId, uint64_t> events;  // Per origin: its events (seqs 1..n).
  uint64_t total = 0;                       // The new arrival counter: every event once.
  uint64_t old_arrival = 0;                 // The counter meta held (0 if none or malformed).
  bool dropped_snapshot = false;            // A projection snapshot was there and is gone.
  // The arrival index did not cover every event once and was rebuilt, each origin's events as
  // one run, origin after origin: arrival numbers changed. False: it was kept as it was.
  bool renumbered = false;
};

// Thread-safe: every method may be called from any thread. Readers see only whole appends.
class EventStore {
 public:
  // Opens (or with create_if_missing creates) the store at options.path.
  // kNotFound: no store there and create_if_missing is off (or read_only).
  // kInvalidArgument: the store belongs to another site or runbook, or has a newer schema.
  // kCorruption: the chain heads or arrival counter in meta disagree with the stored events.
  static Result<std::unique_ptr<EventStore>> Open(const StoreOptions& options);

  // Rebuilds everything the store derives from its events, for a store that Open refuses as
  // inconsistent: the chain heads and arrival counter in meta, and the arrival index if it does
  // not cover every event exactly once (then each origin's events become one run, origin after
  // origin: arrival numbers change, so watch cursors no longer apply); drops the projection
  // snapshot (the next start folds the log). Checks that each
  // origin's events are seqs 1..n linked by prev_hash; if not, the events themselves are damaged:
  // kCorruption naming the first bad one, and nothing is written. The identity (site, runbook,
  // schema) must be intact; events and forks are never touched. One synced write. The store must
  // not be open elsewhere (RocksDB's lock refuses it: kIOError).
  //
  // `payload_hash` recomputes an event's hash from its envelope (the store never decodes one),
  // or names what is wrong with it. Heads and links are checked with these hashes, never with
  // the stored ones: an event whose stored hash is not its payload's is kCorruption too.
  using PayloadHash = std::function<Result<crdt::Hash>(const StoredEvent& stored)>;
  static Result<IndexRebuild> RebuildIndex(const StoreOptions& options,
                                           const PayloadHash& payload_hash);

  ~EventStore();  // Finishes queued appends, then closes the database.
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Appends the events durably and atomically: one synced WriteBatch with the events, their
  // arrival entries and the changed heads and arrival counter. Events may mix origins; each
  // origin's events must continue its chain in order (seq == head + 1 and prev_hash == head
  // hash, also within the call). Otherwise nothing of the call is written and the result is
  // kRejected naming the event ("hq/12: expected seq 11"). Blocks until the batch is synced.
  // Concurrent calls are committed together; a rejected call fails alone.
  Status Append(std::vector<StoredEvent> events);

  // The event with that id, or nullopt if it is not stored.
  Result<std::optional<StoredEvent>> Get(const crdt::EventId& id) const;
  // Last stored event of every origin with at least one event.
  std::map<crdt::SiteId, ChainHead> Heads() const;
  // Replaces *out with up to `max` events of `origin` with seq >= from_seq, in seq order.
  Status ScanOrigin(const crdt::SiteId& origin, uint64_t from_seq, size_t max,
                    std::vector<StoredEvent>* out) const;

  // Arrival counter of the last appended event (0 when empty). Counters are 1, 2, 3, ... in
  // local commit order; a reader that saw LastArrival() == n finds arrivals 1..n.
  uint64_t LastArrival() const;
  // Replaces *out with up to `max` arrivals with counter > after, in counter order; it stops
  // early, after at least one, once the stored values read reach `max_bytes`.
  Status ScanArrivals(uint64_t after, size_t max, std::vector<Arrival>* out,
                      size_t max_bytes = SIZE_MAX) const;

  // Every entry of the events column family, in (origin, seq) order, whatever the heads say,
  // with the id it is stored under (empty origin and seq 0 when the key does not parse). An
  // entry whose key or value does not parse is passed as kCorruption naming it, and the scan
  // goes on. A visit that returns an error stops the scan with it.
  using EventVisitor = std::function<Status(const crdt::EventId& key, Result<StoredEvent> entry)>;
  Status ForEachEvent(const EventVisitor& visit) const;
  // The events family cut for reading on several threads: key ranges of whole origins, in key
  // order, that together hold every entry (whatever its key); at least one. ForEachEventIn each
  // of them visits what ForEachEvent visits, each entry once. Found by seeking from origin to
  // origin, not from the heads (a secondary has none).
  struct EventRange {
    std::string begin, end;  // Keys; empty: from the first, to the last.
  };
  std::vector<EventRange> EventRanges() const;
  Status ForEachEventIn(const EventRange& range, const EventVisitor& visit) const;
  // Every entry of the arrival index in counter order, runs expanded to one call per event:
  // (counter, event id, arrival time as in Arrival). The events are not read. kCorruption on an
  // entry that does not parse.
  using ArrivalVisitor =
      std::function<Status(uint64_t counter, const crdt::EventId& id, int64_t arrived_ms)>;
  Status ForEachArrival(const ArrivalVisitor& visit) const;

  // Keeps an event that conflicts with a stored one (same id, other bytes) as evidence. Never
  // overwrites: recording the same bytes twice keeps one copy. Synced.
  Status RecordFork(const StoredEvent& conflicting);
  // Replaces *out with every recorded fork, ordered by id.
  Status ScanForks(std::vector<StoredEvent>* out) const;

  // The projection snapshot and the arrival counter it reflects; replaces the previous one.
  Status PutSnapshot(std::string bytes, uint64_t as_of_arrival);
  Result<std::optional<std::pair<std::string, uint64_t>>> GetSnapshot() const;

  // Small application metadata (e.g. peer version vectors), kept apart from the store's own.
  Result<std::optional<std::string>> GetMeta(std::string_view key) const;
  Status PutMeta(std::string_view key, std::string_view value);  // Synced.

  // Sets the runbook of a store created without one. OK if already bound to `runbook_id`;
  // kInvalidArgument naming both ids if bound to another, or if runbook_id is empty.
  Status BindRunbook(const std::string& runbook_id);

  const crdt::SiteId& site() const;
  std::string runbook_id() const;  // Empty while unbound.
  // The numbering of arrivals (see kMetaArrivalEpoch in keys.h); changes only by RebuildIndex.
  const std::string& arrival_epoch() const;

 private:
  class Impl;
  explicit EventStore(std::unique_ptr<Impl> impl);
  // Opens (or creates) the database with every column family and checks its identity; the
  // heads are not loaded yet.
  static Result<std::unique_ptr<Impl>> OpenDatabase(const StoreOptions& options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton::store
