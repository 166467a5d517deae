// EventStore over RocksDB: column families per keys.h, one commit thread that gathers concurrent
// appends into one synced WriteBatch (group commit), and the open-time identity and consistency
// checks. rocksdb::Status becomes baton::Status here and nowhere else.
#include "daemon/store/event_store.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "daemon/store/keys.h"
#include "daemon/store/wal_check.h"

namespace baton::store {
namespace {

// Event values: format byte | prev_hash (32) | hash (32) | envelope.
constexpr char kEventValueFormat = 1;
constexpr size_t kHashSize = std::tuple_size_v<crdt::Hash>;
constexpr size_t kEventValueHeader = 1 + 2 * kHashSize;

// Indices into Impl::families_, in the order they are opened.
enum Family : size_t { kDefault = 0, kEvents, kArrivals, kMeta, kForks, kProjection, kFamilyCount };
constexpr const char* kFamilyNames[kFamilyCount] = {"default",   kEventsFamily, kArrivalsFamily,
                                                    kMetaFamily, kForksFamily,  kProjectionFamily};

Status FromRocks(const rocksdb::Status& s, const std::string& context) {
  if (s.ok()) return Status::Ok();
  std::string message = context + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(std::move(message));
  if (s.IsCorruption()) return Status::Corruption(std::move(message));
  if (s.IsInvalidArgument() || s.IsNotSupported()) {
    return Status::InvalidArgument(std::move(message));
  }
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) {
    return Status::Unavailable(std::move(message));
  }
  return Status::IOError(std::move(message));
}

// RocksDB's own log goes to stderr (the daemon's log), warnings and worse only. Its default, a
// LOG file in the data directory, fails with the disk it shares with the log; and a write to
// that file after a failed one aborts RocksDB 7.8 on an assertion (WritableFileWriter) while
// the store would have served on.
class StderrLogger : public rocksdb::Logger {
 public:
  StderrLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    std::fprintf(stderr, "batond: rocksdb: %s\n", line);
  }
};

// The refusal of a write that failed (kIOError whatever RocksDB said: nothing was written).
Status WriteFailed(const rocksdb::Status& s, const std::string& where, const std::string& context) {
  if (s.IsNoSpace()) {
    return Status::IOError(context + ": the disk holding " + where +
                           " is full: nothing was recorded; batond serves on and records again "
                           "once space is freed (" +
                           s.ToString() + ")");
  }
  return Status::IOError(context + ": nothing was recorded: " + s.ToString());
}

// Beside RocksDB's files, written at each clean close: how many events the store held then. The
// count only grows, so a store that opens with fewer lost events that were in its files (a
// MANIFEST or table cut short loses them without a word from RocksDB). A crash leaves the file
// of the clean stop before, which is lower: no false alarm.
constexpr const char* kClosedFile = "baton-closed-at";

std::optional<uint64_t> ReadClosedAt(const std::filesystem::path& dir) {
  std::ifstream in(dir / kClosedFile);
  uint64_t arrival = 0;
  if (in >> arrival) return arrival;
  return std::nullopt;
}

void WriteClosedAt(const std::filesystem::path& dir, uint64_t arrival) {
  const std::string path = (dir / kClosedFile).string();
  const std::string tmp = path + ".tmp";
  const std::string text = std::to_string(arrival) + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  ok = ok && ::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok)
    std::fprintf(stderr, "batond: %s: cannot write: %s\n", path.c_str(), std::strerror(errno));
}

rocksdb::Slice HashSlice(const crdt::Hash& hash) {
  return rocksdb::Slice(reinterpret_cast<const char*>(hash.data()), hash.size());
}

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

std::string EncodeEventValue(const StoredEvent& event) {
  std::string value;
  value.reserve(kEventValueHeader + event.envelope.size());
  value.push_back(kEventValueFormat);
  value.append(HashSlice(event.prev_hash).data(), kHashSize);
  value.append(HashSlice(event.hash).data(), kHashSize);
  value.append(event.envelope);
  return value;
}

Status DecodeEventValue(std::string_view value, StoredEvent* event) {
  if (value.size() < kEventValueHeader || value[0] != kEventValueFormat) {
    return Status::Corruption("event " + event->id.ToString() + ": malformed stored value (" +
                              std::to_string(value.size()) + " bytes)");
  }
  std::copy_n(value.data() + 1, kHashSize, reinterpret_cast<char*>(event->prev_hash.data()));
  std::copy_n(value.data() + 1 + kHashSize, kHashSize, reinterpret_cast<char*>(event->hash.data()));
  event->envelope.assign(value.substr(kEventValueHeader));
  return Status::Ok();
}

std::string EncodeHead(const ChainHead& head) {
  std::string value;
  PutBigEndian64(&value, head.seq);
  value.append(HashSlice(head.hash).data(), kHashSize);
  return value;
}

bool DecodeHead(std::string_view value, ChainHead* head) {
  if (value.size() != 8 + kHashSize || !GetBigEndian64(value, &head->seq)) return false;
  std::copy_n(value.data() + 8, kHashSize, reinterpret_cast<char*>(head->hash.data()));
  return true;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// An event key's origin prefix. Keys of one origin arrive in seq order, so RocksDB can insert
// each next to the previous one (memtable insert hints) instead of searching the skiplist.
class OriginPrefixTransform : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "baton.OriginPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 1 + static_cast<uint8_t>(key[0]));
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return !key.empty() && key.size() >= 1 + static_cast<size_t>(static_cast<uint8_t>(key[0]));
  }
};

// One caller's Append, waiting in the commit queue.
struct AppendRequest {
  std::vector<StoredEvent> events;
  Status status;  // Set by the commit thread before `done`.
  // A lock per request: finishing a group wakes exactly its callers, without contending for the
  // queue lock, and a woken caller cannot return (destroying these) before the commit thread
  // has let go of them.
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;  // Guarded by mu.
};

// A key in messages: hex, at most 64 bytes of it.
std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < 64; ++i) {
    out += kDigits[static_cast<unsigned char>(bytes[i]) >> 4];
    out += kDigits[static_cast<unsigned char>(bytes[i]) & 15];
  }
  return bytes.size() > 64 ? out + "..." : out;
}

// An arrivals entry: key = the arrival counter of its first event; value = that event's key, then
// optionally a big-endian uint32 count and a big-endian int64 arrival time: `count` events of one
// origin with consecutive seqs, which arrived with consecutive counters in one committed batch at
// that time (ms since the Unix epoch). One entry per run, not per event, halves the inserts of a
// batched append. Entries written before stores kept the time hold only the key (count 1) or
// the key and count. See docs/operations.md#column-families.
struct ArrivalRun {
  uint64_t first = 0;  // Arrival counter of the first event.
  crdt::EventId id;    // The first event.
  uint64_t count = 1;
  int64_t arrived_ms = 0;  // 0: not recorded.
};

uint64_t ReadBigEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

bool ParseArrivalRun(std::string_view key, std::string_view value, ArrivalRun* run) {
  if (!ParseArrivalKey(key, &run->first)) return false;
  const size_t used = ParseEventKey(value, &run->id);
  if (used == 0) return false;
  const std::string_view rest = value.substr(used);
  run->count = 1;
  run->arrived_ms = 0;
  if (rest.empty()) return true;
  if (rest.size() != 4 && rest.size() != 12) return false;
  run->count = ReadBigEndian(rest.substr(0, 4));
  if (rest.size() == 12) run->arrived_ms = static_cast<int64_t>(ReadBigEndian(rest.substr(4)));
  return run->count >= 1;
}

// The value of an arrivals entry: the first event's key, the count and the time; a repair, which
// does not know the time, writes the key and, if more than one, the count.
std::string ArrivalRunValue(std::string event_key, uint64_t count, int64_t arrived_ms) {
  if (count > 1 || arrived_ms != 0) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      event_key.push_back(static_cast<char>((count >> shift) & 0xff));
    }
  }
  if (arrived_ms != 0) {
    const auto t = static_cast<uint64_t>(arrived_ms);
    for (int shift = 56; shift >= 0; shift -= 8) {
      event_key.push_back(static_cast<char>((t >> shift) & 0xff));
    }
  }
  return event_key;
}

// 16 random hex digits: a new arrival numbering.
std::string NewEpoch() {
  std::random_device device;
  const uint64_t value = (uint64_t{device()} << 32) ^ device();
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

class EventStore::Impl {
 public:
  Impl(const StoreOptions& options, rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> cfs)
      : options_(options), where_(options.path.string()), db_(db), families_(std::move(cfs)) {
    write_options_.sync = options.sync;
  }

  ~Impl() {
    StopCommitter();
    // Every acknowledged write is already in the WAL, but a WAL cut short cannot be told from
    // the torn tail a crash leaves: RocksDB recovers up to the cut without a word. After a clean
    // stop the events are in table files instead, whose block checksums catch any damage.
    if (!options_.read_only && !write_failed_.load()) {
      rocksdb::Status flushed = db_->Flush(rocksdb::FlushOptions(), families_);
      if (flushed.ok()) {
        WriteClosedAt(options_.path, last_arrival_.load());
      } else {
        std::fprintf(stderr, "batond: event store %s: not flushed at close: %s\n", where_.c_str(),
                     flushed.ToString().c_str());
      }
    }
    for (rocksdb::ColumnFamilyHandle* cf : families_) {
      db_->DestroyColumnFamilyHandle(cf).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();
  }

  Status LoadIdentity(bool fresh);
  Status LoadAndCheckHeads();
  Result<IndexRebuild> RebuildIndex(const PayloadHash& payload_hash);
  // Whether the arrival index holds every event of `heads` exactly once, numbered 1..total.
  Result<bool> ArrivalsCover(const std::map<crdt::SiteId, ChainHead>& heads, uint64_t total) const;
  void StartCommitter() {
    committer_ = std::thread([this] { CommitLoop(); });
  }

  Status Append(std::vector<StoredEvent> events);
  Result<std::optional<StoredEvent>> Get(const crdt::EventId& id) const;
  std::map<crdt::SiteId, ChainHead> Heads() const {
    std::lock_guard<std::mutex> lock(heads_mu_);
    return heads_;
  }
  Status ScanOrigin(const crdt::SiteId& origin, uint64_t from_seq, size_t max,
                    std::vector<StoredEvent>* out) const;
  uint64_t LastArrival() const { return last_arrival_.load(std::memory_order_acquire); }
  Status ScanArrivals(uint64_t after, size_t max, std::vector<Arrival>* out,
                      size_t max_bytes) const;
  Status RecordFork(const StoredEvent& conflicting);
  Status ScanForks(std::vector<StoredEvent>* out) const;
  Status ForEachEvent(const EventVisitor& visit) const { return ForEachEventIn({}, visit); }
  std::vector<EventRange> EventRanges() const;
  Status ForEachEventIn(const EventRange& range, const EventVisitor& visit) const;
  Status ForEachArrival(const ArrivalVisitor& visit) const;
  Status PutSnapshot(std::string bytes, uint64_t as_of_arrival);
  Result<std::optional<std::pair<std::string, uint64_t>>> GetSnapshot() const;
  Result<std::optional<std::string>> GetMeta(std::string_view key) const;
  Status PutMeta(std::string_view key, std::string_view value);
  Status BindRunbook(const std::string& runbook_id);

  const crdt::SiteId& site() const { return site_; }
  const std::string& arrival_epoch() const { return arrival_epoch_; }
  std::string runbook_id() const {
    std::lock_guard<std::mutex> lock(side_mu_);
    return runbook_;
  }

 private:
  rocksdb::ColumnFamilyHandle* cf(Family f) const { return families_[f]; }
  Status CheckWritable(const char* what) const {
    if (!options_.read_only) return Status::Ok();
    return Status::InvalidArgument(std::string(what) + ": event store " + where_ +
                                   " is open read-only");
  }
  // nullopt when the key is absent.
  Result<std::optional<std::string>> ReadRaw(Family f, std::string_view key) const;
  Status WriteSynced(rocksdb::WriteBatch* batch, const std::string& context) {
    return Write(write_options_, batch, context);
  }
  // Every write of an open store goes through here. After a failed write (a full disk, an I/O
  // error) RocksDB refuses writes until resumed: the next write first resumes it, which
  // succeeds once the cause is gone, so the store goes on by itself.
  Status Write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch* batch,
               const std::string& context);
  bool IsEmpty() const;

  void StopCommitter();
  void CommitLoop();
  void CommitGroup(const std::vector<AppendRequest*>& group);
  // Checks `request` against the heads (with `pending`, the heads after the group's requests
  // accepted so far) and on success records its new heads in `pending`.
  Status Validate(const AppendRequest& request, std::map<crdt::SiteId, ChainHead>* pending) const;

  const StoreOptions options_;
  const std::string where_;  // The path, for messages.
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;  // Indexed by Family.
  rocksdb::WriteOptions write_options_;
  std::atomic<bool> write_failed_{false};  // A write failed; the next one resumes RocksDB first.
  std::string first_failure_;              // What failed then. Guarded by side_mu_.
  crdt::SiteId site_;                      // Set by LoadIdentity, then constant.
  std::string arrival_epoch_;              // Set by LoadIdentity, then constant.

  // Written by the commit thread only (and by Open before it starts); guarded by heads_mu_ so
  // that readers may copy them. They change only after the batch they describe is durable.
  mutable std::mutex heads_mu_;
  std::map<crdt::SiteId, ChainHead> heads_;
  std::atomic<uint64_t> last_arrival_{0};

  // The commit queue. Guarded by queue_mu_.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // Requests queued, or stopping.
  std::vector<AppendRequest*> queue_;
  bool stopping_ = false;
  bool committing_ = false;        // A group is being written (by the commit thread or a caller).
  std::atomic<int> appenders_{0};  // Append calls in flight; not guarded.
  std::thread committer_;

  // Serializes the writes outside the commit queue (forks, snapshot, meta, runbook binding).
  mutable std::mutex side_mu_;
  std::string runbook_;  // Guarded by side_mu_.
};

// ---- Open ---------------------------------------------------------------------------------------

Result<std::optional<std::string>> EventStore::Impl::ReadRaw(Family f, std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(f), rocksdb::Slice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) {
    return FromRocks(
        s, "event store " + where_ + ": reading " + kFamilyNames[f] + "/" + std::string(key));
  }
  return std::optional<std::string>(std::move(value));
}

bool EventStore::Impl::IsEmpty() const {
  for (Family f : {kEvents, kArrivals, kMeta, kForks, kProjection}) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(f)));
    it->SeekToFirst();
    if (it->Valid() || !it->status().ok()) return false;
  }
  return true;
}

Status EventStore::Impl::LoadIdentity(bool fresh) {
  BATON_ASSIGN_OR_RETURN(std::optional<std::string> schema, ReadRaw(kMeta, kMetaSchema));
  if (!schema) {
    // A store whose creation was interrupted before its identity was written is still empty.
    if (!(fresh || (options_.create_if_missing && !options_.read_only && IsEmpty()))) {
      return Status::Corruption("event store " + where_ +
                                ": no schema version in meta (not an event store, or damaged)");
    }
    if (options_.site.empty()) {
      return Status::InvalidArgument("creating event store " + where_ + ": site id is empty");
    }
    rocksdb::WriteBatch batch;
    const std::string version = std::to_string(kSchemaVersion);
    rocksdb::Status s = batch.Put(cf(kMeta), rocksdb::Slice(kMetaSchema), version);
    if (s.ok()) s = batch.Put(cf(kMeta), rocksdb::Slice(kMetaSite), options_.site);
    if (s.ok()) s = batch.Put(cf(kMeta), rocksdb::Slice(kMetaRunbook), options_.runbook_id);
    if (s.ok()) s = batch.Put(cf(kMeta), rocksdb::Slice(kMetaArrivalEpoch), NewEpoch());
    BATON_TRY(FromRocks(s, "creating event store " + where_));
    rocksdb::WriteOptions synced;
    synced.sync = true;
    BATON_TRY(Write(synced, &batch, "creating event store " + where_));
    schema = version;
  }

  uint64_t stored_version = 0;
  try {
    size_t used = 0;
    stored_version = std::stoull(*schema, &used);
    if (used != schema->size()) throw std::invalid_argument("trailing bytes");
  } catch (const std::exception&) {
    return Status::Corruption("event store " + where_ + ": schema version '" + *schema +
                              "' is not a number");
  }
  if (stored_version > kSchemaVersion) {
    return Status(StatusCode::kRejected, "event store " + where_ + " has schema version " +
                                             std::to_string(stored_version) +
                                             ", newer than this build's " +
                                             std::to_string(kSchemaVersion));
  }
  if (stored_version == 0) {
    return Status::Corruption("event store " + where_ + ": schema version 0 does not exist");
  }

  BATON_ASSIGN_OR_RETURN(std::optional<std::string> site, ReadRaw(kMeta, kMetaSite));
  BATON_ASSIGN_OR_RETURN(std::optional<std::string> runbook, ReadRaw(kMeta, kMetaRunbook));
  if (!site || !runbook) {
    return Status::Corruption("event store " + where_ + ": site or runbook id missing from meta");
  }
  if (!options_.site.empty() && *site != options_.site) {
    return Status(StatusCode::kRejected, "event store " + where_ + " belongs to site '" + *site +
                                             "', not '" + options_.site + "'");
  }
  if (!runbook->empty() && !options_.runbook_id.empty() && *runbook != options_.runbook_id) {
    return Status(StatusCode::kRejected, "event store " + where_ + " belongs to runbook '" +
                                             *runbook + "', not '" + options_.runbook_id + "'");
  }
  site_ = *site;
  runbook_ = *runbook;
  BATON_ASSIGN_OR_RETURN(std::optional<std::string> epoch, ReadRaw(kMeta, kMetaArrivalEpoch));
  arrival_epoch_ = epoch.value_or("");
  if (runbook_.empty() && !options_.runbook_id.empty() && !options_.read_only) {
    return BindRunbook(options_.runbook_id);
  }
  return Status::Ok();
}

Status EventStore::Impl::LoadAndCheckHeads() {
  const std::string context = "event store " + where_;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kMeta)));
    for (it->Seek(rocksdb::Slice(kMetaHeadPrefix));
         it->Valid() && StartsWith(View(it->key()), kMetaHeadPrefix); it->Next()) {
      const std::string origin(View(it->key()).substr(kMetaHeadPrefix.size()));
      ChainHead head;
      if (!DecodeHead(View(it->value()), &head)) {
        return Status::Corruption(context + ": malformed chain head of origin " + origin);
      }
      heads_[origin] = head;
    }
    BATON_TRY(FromRocks(it->status(), context + ": reading chain heads"));
  }
  BATON_ASSIGN_OR_RETURN(std::optional<std::string> arrival, ReadRaw(kMeta, kMetaArrival));
  uint64_t meta_arrival = 0;
  if (arrival && !(arrival->size() == 8 && GetBigEndian64(*arrival, &meta_arrival))) {
    return Status::Corruption(context + ": malformed arrival counter in meta");
  }

  // The last event of each origin, one seek per origin, must be the head recorded in meta.
  std::map<crdt::SiteId, ChainHead> found;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEvents)));
    it->SeekToFirst();
    while (it->Valid()) {
      crdt::EventId id;
      if (ParseEventKey(View(it->key()), &id) != it->key().size()) {
        return Status::Corruption(context + ": malformed key in column family events");
      }
      it->SeekForPrev(EventKey(id.origin, std::numeric_limits<uint64_t>::max()));
      if (!it->Valid() || ParseEventKey(View(it->key()), &id) != it->key().size()) {
        BATON_TRY(FromRocks(it->status(), context + ": scanning events"));
        return Status::Corruption(context + ": malformed key in column family events");
      }
      StoredEvent last;
      last.id = id;
      BATON_TRY(DecodeEventValue(View(it->value()), &last).WithContext(context));
      found[id.origin] = ChainHead{id.seq, last.hash};
      it->Next();
    }
    BATON_TRY(FromRocks(it->status(), context + ": scanning events"));
  }
  for (const auto& [origin, head] : found) {
    auto meta = heads_.find(origin);
    const uint64_t meta_seq = meta == heads_.end() ? 0 : meta->second.seq;
    if (meta_seq != head.seq) {
      return Status::Corruption(context + ": origin " + origin + ": meta head is seq " +
                                std::to_string(meta_seq) + " but its last event is seq " +
                                std::to_string(head.seq));
    }
    if (meta->second.hash != head.hash) {
      return Status::Corruption(context + ": origin " + origin + ": meta head hash differs from " +
                                "the hash of event " + origin + "/" + std::to_string(head.seq));
    }
  }
  for (const auto& [origin, head] : heads_) {
    if (!found.count(origin)) {
      return Status::Corruption(context + ": origin " + origin + ": meta head is seq " +
                                std::to_string(head.seq) + " but it has no events (seq 0)");
    }
  }

  uint64_t last_arrival = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kArrivals)));
    it->SeekToLast();
    if (it->Valid()) {
      ArrivalRun run;
      if (!ParseArrivalRun(View(it->key()), View(it->value()), &run)) {
        return Status::Corruption(context + ": malformed entry in column family arrivals");
      }
      last_arrival = run.first + run.count - 1;
    }
    BATON_TRY(FromRocks(it->status(), context + ": reading arrivals"));
  }
  if (last_arrival != meta_arrival) {
    return Status::Corruption(context + ": arrival counter in meta is " +
                              std::to_string(meta_arrival) + " but the last arrival is " +
                              std::to_string(last_arrival));
  }
  last_arrival_.store(last_arrival);
  if (const auto closed_at = ReadClosedAt(options_.path); closed_at && *closed_at > last_arrival) {
    return Status::Corruption(
        context + " holds " + std::to_string(last_arrival) + " events but held " +
        std::to_string(*closed_at) +
        " when it was last closed cleanly: its files were damaged (a MANIFEST or table cut "
        "short?) and events acknowledged before are lost; restore the data directory from a "
        "backup or rebuild the site from its peers (docs/operations.md#rebuilding-a-site)");
  }
  return Status::Ok();
}

Result<IndexRebuild> EventStore::Impl::RebuildIndex(const PayloadHash& payload_hash) {
  const std::string context = "rebuilding the index of event store " + where_;
  IndexRebuild report;
  BATON_ASSIGN_OR_RETURN(std::optional<std::string> old_arrival, ReadRaw(kMeta, kMetaArrival));
  if (old_arrival && !GetBigEndian64(*old_arrival, &report.old_arrival)) report.old_arrival = 0;
  BATON_ASSIGN_OR_RETURN(std::optional<std::string> snapshot, ReadRaw(kProjection, kSnapshotKey));
  report.dropped_snapshot = snapshot.has_value();

  // Each origin's events, in key order (seq order within an origin): seqs 1..n, chained.
  std::map<crdt::SiteId, ChainHead> heads;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEvents)));
    const ChainHead* last = nullptr;
    std::string origin;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      StoredEvent event;
      if (ParseEventKey(View(it->key()), &event.id) != it->key().size()) {
        return Status::Corruption(context + ": malformed key in column family events after " +
                                  (last == nullptr
                                       ? std::string("the start")
                                       : "event " + origin + "/" + std::to_string(last->seq)));
      }
      BATON_TRY(DecodeEventValue(View(it->value()), &event).WithContext(context));
      const std::string damaged =
          "; the log itself is damaged (restore it from a backup, or rebuild the site from its "
          "peers: docs/operations.md#rebuilding-a-site)";
      Result<crdt::Hash> computed = payload_hash(event);
      if (!computed.ok()) {
        return Status::Corruption(context + ": event " + event.id.ToString() + ": " +
                                  computed.status().message() + damaged);
      }
      if (*computed != event.hash) {
        return Status::Corruption(context + ": event " + event.id.ToString() +
                                  ": its stored hash is not the hash of its payload" + damaged);
      }
      origin = event.id.origin;
      ChainHead& head = heads[origin];
      if (event.id.seq != head.seq + 1) {
        return Status::Corruption(context + ": the events of origin " + origin + " jump from seq " +
                                  std::to_string(head.seq) + " to " + std::to_string(event.id.seq) +
                                  "; the log itself is damaged (restore it from a backup)");
      }
      if (event.prev_hash != head.hash) {
        return Status::Corruption(context + ": event " + event.id.ToString() +
                                  " does not link to the hash of the event before it; the log "
                                  "itself is damaged (restore it from a backup)");
      }
      head = ChainHead{event.id.seq, event.hash};
      last = &head;
    }
    BATON_TRY(FromRocks(it->status(), context + ": scanning events"));
  }
  for (const auto& [origin, head] : heads) {
    report.events[origin] = head.seq;
    report.total += head.seq;
  }
  BATON_ASSIGN_OR_RETURN(const bool keep_arrivals, ArrivalsCover(heads, report.total));
  report.renumbered = !keep_arrivals;

  rocksdb::WriteBatch batch;
  rocksdb::Status s;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kMeta)));
    for (it->Seek(rocksdb::Slice(kMetaHeadPrefix));
         it->Valid() && StartsWith(View(it->key()), kMetaHeadPrefix) && s.ok(); it->Next()) {
      s = batch.Delete(cf(kMeta), it->key());
    }
    BATON_TRY(FromRocks(it->status(), context + ": reading chain heads"));
  }
  for (const auto& [origin, head] : heads) {
    if (s.ok()) s = batch.Put(cf(kMeta), HeadKey(origin), EncodeHead(head));
  }
  if (!keep_arrivals) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kArrivals)));
    for (it->SeekToFirst(); it->Valid() && s.ok(); it->Next()) {
      s = batch.Delete(cf(kArrivals), it->key());
    }
    BATON_TRY(FromRocks(it->status(), context + ": reading arrivals"));
    if (s.ok()) s = batch.Put(cf(kMeta), rocksdb::Slice(kMetaArrivalEpoch), NewEpoch());
    // Each origin's events as runs of at most 2^32 - 1 (an entry's count is 32 bits).
    uint64_t arrival = 0;
    for (const auto& [origin, head] : heads) {
      for (uint64_t first = 1; first <= head.seq && s.ok(); first += 0xffffffffu) {
        const uint64_t count = std::min<uint64_t>(head.seq - first + 1, 0xffffffffu);
        s = batch.Put(cf(kArrivals), ArrivalKey(arrival + first),
                      ArrivalRunValue(EventKey(origin, first), count, 0));
      }
      arrival += head.seq;
    }
  }
  if (s.ok()) s = batch.Put(cf(kMeta), rocksdb::Slice(kMetaArrival), ArrivalKey(report.total));
  if (s.ok() && snapshot) s = batch.Delete(cf(kProjection), rocksdb::Slice(kSnapshotKey));
  BATON_TRY(FromRocks(s, context));
  rocksdb::WriteOptions synced;
  synced.sync = true;
  BATON_TRY(Write(synced, &batch, context));
  // The operator repaired what the events say: that count is the one to hold from here on.
  std::error_code ec;
  std::filesystem::remove(options_.path / kClosedFile, ec);
  return report;
}

Result<bool> EventStore::Impl::ArrivalsCover(const std::map<crdt::SiteId, ChainHead>& heads,
                                             uint64_t total) const {
  // Valid when the runs number 1..total without holes or overlaps and give each origin's seqs
  // 1..head in order: then every event has its arrival, once, in an order a site could have
  // received them.
  std::map<crdt::SiteId, uint64_t> next_seq;
  uint64_t next = 1;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kArrivals)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ArrivalRun run;
    if (!ParseArrivalRun(View(it->key()), View(it->value()), &run) || run.first != next) {
      return false;
    }
    uint64_t& seq = next_seq.try_emplace(run.id.origin, 1).first->second;
    auto head = heads.find(run.id.origin);
    if (run.id.seq != seq || head == heads.end() || run.count > head->second.seq - seq + 1) {
      return false;
    }
    seq += run.count;
    next += run.count;
  }
  BATON_TRY(FromRocks(it->status(), "event store " + where_ + ": reading arrivals"));
  if (next != total + 1) return false;
  for (const auto& [origin, head] : heads) {
    auto seq = next_seq.find(origin);
    if (seq == next_seq.end() || seq->second != head.seq + 1) return false;
  }
  return true;
}

// ---- Append (group commit) --------------------------------------------------------------------

Status EventStore::Impl::Append(std::vector<StoredEvent> events) {
  BATON_TRY(CheckWritable("Append"));
  if (events.empty()) return Status::Ok();
  for (const StoredEvent& event : events) BATON_TRY(CheckOrigin(event.id.origin));
  AppendRequest request;
  request.events = std::move(events);
  // Appenders in flight: with company, requests go through the commit thread so that they are
  // grouped into one synced write; alone, this call may commit itself.
  struct InFlight {
    std::atomic<int>& n;
    const bool alone;
    explicit InFlight(std::atomic<int>& count) : n(count), alone(count.fetch_add(1) == 0) {}
    ~InFlight() { n.fetch_sub(1); }
  } in_flight(appenders_);
  {
    std::unique_lock<std::mutex> lock(queue_mu_);
    if (in_flight.alone && !committing_ && queue_.empty() && !stopping_) {
      // Nobody else appends, commits or waits: commit on this thread and skip two thread
      // hand-offs, which cost as much as a tenth of a synced 100-event batch. `committing_`
      // keeps a single writer at a time (Validate reads heads_ unlocked).
      committing_ = true;
      lock.unlock();
      std::vector<AppendRequest*> group{&request};
      rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
      CommitGroup(group);
      lock.lock();
      committing_ = false;
      const bool more = !queue_.empty();
      lock.unlock();
      if (more) queue_cv_.notify_one();
      return request.status;
    }
    queue_.push_back(&request);
  }
  queue_cv_.notify_one();
  // Ack only after the synced batch: the commit thread sets done after db_->Write returns.
  std::unique_lock<std::mutex> lock(request.mu);
  request.done_cv.wait(lock, [&] { return request.done; });
  return request.status;
}

void EventStore::Impl::StopCommitter() {
  if (!committer_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_one();
  committer_.join();
}

void EventStore::Impl::CommitLoop() {
  // RocksDB's per-thread perf counters cost a few percent of every insert; nobody reads them.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  std::vector<AppendRequest*> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return !committing_ && (stopping_ || !queue_.empty()); });
      if (queue_.empty()) return;  // Stopping, and everything queued is done.
      group.swap(queue_);
      committing_ = true;
    }
    CommitGroup(group);
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      committing_ = false;
    }
    for (AppendRequest* request : group) {
      std::lock_guard<std::mutex> lock(request->mu);
      request->done = true;
      request->done_cv.notify_one();
    }
    group.clear();
  }
}

Status EventStore::Impl::Validate(const AppendRequest& request,
                                  std::map<crdt::SiteId, ChainHead>* pending) const {
  std::map<crdt::SiteId, ChainHead> local;
  for (const StoredEvent& event : request.events) {
    ChainHead head;
    if (auto l = local.find(event.id.origin); l != local.end()) {
      head = l->second;
    } else if (auto p = pending->find(event.id.origin); p != pending->end()) {
      head = p->second;
    } else if (auto h = heads_.find(event.id.origin); h != heads_.end()) {
      head = h->second;  // Unlocked read: this thread is the only writer.
    }
    if (event.id.seq != head.seq + 1) {
      return Status::Rejected(event.id.ToString() + ": expected seq " +
                              std::to_string(head.seq + 1));
    }
    if (event.prev_hash != head.hash) {
      return Status::Rejected(event.id.ToString() + ": prev_hash does not match head");
    }
    local[event.id.origin] = ChainHead{event.id.seq, event.hash};
  }
  for (auto& [origin, head] : local) (*pending)[origin] = head;
  return Status::Ok();
}

void EventStore::Impl::CommitGroup(const std::vector<AppendRequest*>& group) {
  std::map<crdt::SiteId, ChainHead> pending;
  std::vector<AppendRequest*> accepted;
  rocksdb::WriteBatch batch;
  uint64_t arrival = last_arrival_.load(std::memory_order_relaxed);
  rocksdb::Status s;
  std::string key;
  // The open run of arrivals: events of one origin with consecutive seqs.
  ArrivalRun run;
  std::string run_key;  // Event key of the run's first event.
  bool run_open = false;
  const int64_t now_ms = options_.clock ? options_.clock()
                                        : std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count();
  const auto flush_run = [&] {
    if (!run_open) return;
    if (s.ok()) {
      s = batch.Put(cf(kArrivals), ArrivalKey(run.first),
                    ArrivalRunValue(run_key, run.count, run.arrived_ms));
    }
    run_open = false;
  };
  for (AppendRequest* request : group) {
    request->status = Validate(*request, &pending);
    if (!request->status.ok()) continue;
    accepted.push_back(request);
    for (const StoredEvent& event : request->events) {
      key = EventKey(event.id.origin, event.id.seq);
      const rocksdb::Slice key_slice(key);
      const rocksdb::Slice value[4] = {rocksdb::Slice(&kEventValueFormat, 1),
                                       HashSlice(event.prev_hash), HashSlice(event.hash),
                                       rocksdb::Slice(event.envelope)};
      if (s.ok()) {
        s = batch.Put(cf(kEvents), rocksdb::SliceParts(&key_slice, 1),
                      rocksdb::SliceParts(value, 4));
      }
      ++arrival;
      const int64_t arrived_ms = event.arrived_ms != 0 ? event.arrived_ms : now_ms;
      if (run_open && event.id.origin == run.id.origin && event.id.seq == run.id.seq + run.count &&
          run.count < 0xffffffffu && run.arrived_ms == arrived_ms) {
        ++run.count;
      } else {
        flush_run();
        run = ArrivalRun{arrival, event.id, 1, arrived_ms};
        run_key = key;
        run_open = true;
      }
    }
  }
  flush_run();
  if (accepted.empty()) return;
  for (const auto& [origin, head] : pending) {
    if (s.ok()) s = batch.Put(cf(kMeta), HeadKey(origin), EncodeHead(head));
  }
  if (s.ok()) s = batch.Put(cf(kMeta), rocksdb::Slice(kMetaArrival), ArrivalKey(arrival));
  // One write holds the events, their arrivals and the heads: the open-time check relies on it.
  Status written = FromRocks(s, "appending to event store " + where_);
  if (written.ok()) written = Write(write_options_, &batch, "appending to event store " + where_);
  if (!written.ok()) {
    for (AppendRequest* request : accepted) request->status = written;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(heads_mu_);
    for (auto& [origin, head] : pending) heads_[origin] = head;
  }
  last_arrival_.store(arrival, std::memory_order_release);
}

Status EventStore::Impl::Write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch* batch,
                               const std::string& context) {
  if (write_failed_.load(std::memory_order_acquire)) {
    // RocksDB resumes by itself from a full disk once its write buffer's worth of space (64 MiB)
    // is free again (it polls every 5 s), and refuses Resume() meanwhile; other errors need it.
    rocksdb::Status resumed = db_->Resume();
    if (!resumed.ok()) {
      std::lock_guard<std::mutex> lock(side_mu_);
      return Status::IOError(context + ": nothing was recorded: the store has not resumed from " +
                             first_failure_ + " (" + resumed.ToString() + ")");
    }
    write_failed_.store(false, std::memory_order_release);
    std::fprintf(stderr, "batond: event store %s: writes resumed\n", where_.c_str());
  }
  rocksdb::Status s = db_->Write(options, batch);
  if (s.ok()) return Status::Ok();
  {
    std::lock_guard<std::mutex> lock(side_mu_);
    first_failure_ = s.IsNoSpace() ? "a full disk" : s.ToString();
  }
  write_failed_.store(true, std::memory_order_release);
  return WriteFailed(s, where_, context);
}

// ---- Reads --------------------------------------------------------------------------------------

Result<std::optional<StoredEvent>> EventStore::Impl::Get(const crdt::EventId& id) const {
  BATON_TRY(CheckOrigin(id.origin));
  BATON_ASSIGN_OR_RETURN(std::optional<std::string> value,
                         ReadRaw(kEvents, EventKey(id.origin, id.seq)));
  if (!value) return std::optional<StoredEvent>();
  StoredEvent event;
  event.id = id;
  BATON_TRY(DecodeEventValue(*value, &event).WithContext("event store " + where_));
  return std::optional<StoredEvent>(std::move(event));
}

Status EventStore::Impl::ScanOrigin(const crdt::SiteId& origin, uint64_t from_seq, size_t max,
                                    std::vector<StoredEvent>* out) const {
  out->clear();
  BATON_TRY(CheckOrigin(origin));
  const std::string prefix = OriginPrefix(origin);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEvents)));
  for (it->Seek(EventKey(origin, from_seq));
       it->Valid() && out->size() < max && StartsWith(View(it->key()), prefix); it->Next()) {
    StoredEvent event;
    if (ParseEventKey(View(it->key()), &event.id) != it->key().size()) {
      return Status::Corruption("event store " + where_ + ": malformed event key of " + origin);
    }
    BATON_TRY(DecodeEventValue(View(it->value()), &event).WithContext("event store " + where_));
    out->push_back(std::move(event));
  }
  return FromRocks(it->status(), "event store " + where_ + ": scanning origin " + origin);
}

Status EventStore::Impl::ScanArrivals(uint64_t after, size_t max, std::vector<Arrival>* out,
                                      size_t max_bytes) const {
  out->clear();
  size_t bytes = 0;
  if (after == std::numeric_limits<uint64_t>::max()) return Status::Ok();
  const std::string context = "event store " + where_ + ": scanning arrivals";
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kArrivals)));
  std::string value;
  // The run holding arrival after+1 may start earlier: begin at the last entry at or before it.
  it->SeekForPrev(ArrivalKey(after + 1));
  if (!it->Valid()) it->Seek(ArrivalKey(after + 1));
  // Arrivals are numbered 1, 2, 3, ... without gaps: a missing or repeated number means the
  // index was altered, and what it lists cannot be served as the site's log.
  uint64_t expected = after + 1;
  for (; it->Valid() && out->size() < max && bytes < max_bytes; it->Next()) {
    ArrivalRun run;
    if (!ParseArrivalRun(View(it->key()), View(it->value()), &run)) {
      return Status::Corruption(context + ": malformed arrival entry");
    }
    for (uint64_t k = 0; k < run.count && out->size() < max && bytes < max_bytes; ++k) {
      const uint64_t counter = run.first + k;
      if (counter <= after) continue;
      if (counter != expected) {
        return Status::Corruption(
            context + ": the arrival index jumps from " + std::to_string(expected - 1) + " to " +
            std::to_string(counter) +
            (counter > expected ? " (an entry is missing)" : " (an entry is listed twice)") +
            "; `batond repair` rebuilds the index from the events");
      }
      ++expected;
      StoredEvent event;
      event.id = crdt::EventId{run.id.origin, run.id.seq + k};
      // The event was written in the same batch as its arrival entry, and is never deleted.
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kEvents),
                                   EventKey(event.id.origin, event.id.seq), &value);
      if (s.IsNotFound()) {
        return Status::Corruption(context + ": arrival " + std::to_string(counter) + " names " +
                                  event.id.ToString() + ", which is not stored");
      }
      BATON_TRY(FromRocks(s, context));
      BATON_TRY(DecodeEventValue(value, &event).WithContext(context));
      bytes += value.size();
      out->push_back(Arrival{counter, run.arrived_ms, std::move(event)});
    }
  }
  return FromRocks(it->status(), context);
}

// ---- Forks, snapshot, meta ----------------------------------------------------------------------

Status EventStore::Impl::RecordFork(const StoredEvent& conflicting) {
  BATON_TRY(CheckWritable("RecordFork"));
  BATON_TRY(CheckOrigin(conflicting.id.origin));
  const std::string context =
      "event store " + where_ + ": recording fork " + conflicting.id.ToString();
  std::string prefix = EventKey(conflicting.id.origin, conflicting.id.seq);
  prefix.append(HashSlice(conflicting.hash).data(), kHashSize);
  const std::string value = EncodeEventValue(conflicting);
  std::lock_guard<std::mutex> lock(side_mu_);
  // Same id and hash but other bytes is kept too, under the next suffix: never overwrite.
  uint64_t copies = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kForks)));
    for (it->Seek(prefix); it->Valid() && StartsWith(View(it->key()), prefix); it->Next()) {
      if (View(it->value()) == value) return Status::Ok();  // Already kept.
      ++copies;
    }
    BATON_TRY(FromRocks(it->status(), context));
  }
  std::string key = prefix;
  PutBigEndian64(&key, copies);
  rocksdb::WriteBatch batch;
  BATON_TRY(FromRocks(batch.Put(cf(kForks), key, value), context));
  return WriteSynced(&batch, context);
}

std::vector<EventStore::EventRange> EventStore::Impl::EventRanges() const {
  // Each origin after the first starts a range: its first key. A key that does not parse
  // belongs to the range it sorts into.
  std::vector<std::string> starts;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEvents)));
  for (it->SeekToFirst(); it->Valid();) {
    crdt::EventId id;
    if (ParseEventKey(View(it->key()), &id) != it->key().size()) {
      it->Next();
      continue;
    }
    starts.push_back(OriginPrefix(id.origin));
    const std::string last = EventKey(id.origin, std::numeric_limits<uint64_t>::max());
    it->Seek(last);
    if (it->Valid() && View(it->key()) == last) it->Next();
  }
  std::vector<EventRange> ranges(1);
  for (size_t i = 1; i < starts.size(); ++i) {
    ranges.back().end = starts[i];
    ranges.push_back(EventRange{starts[i], ""});
  }
  return ranges;
}

Status EventStore::Impl::ForEachEventIn(const EventRange& range, const EventVisitor& visit) const {
  const std::string context = "event store " + where_ + ": scanning events";
  rocksdb::ReadOptions read;
  const rocksdb::Slice end(range.end);
  if (!range.end.empty()) read.iterate_upper_bound = &end;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf(kEvents)));
  for (range.begin.empty() ? it->SeekToFirst() : it->Seek(range.begin); it->Valid(); it->Next()) {
    StoredEvent event;
    Status parsed = Status::Ok();
    if (ParseEventKey(View(it->key()), &event.id) != it->key().size()) {
      event.id = crdt::EventId{};
      parsed = Status::Corruption(context + ": malformed event key " + Hex(View(it->key())));
    } else {
      parsed = DecodeEventValue(View(it->value()), &event).WithContext(context);
    }
    const crdt::EventId key = event.id;
    BATON_TRY(parsed.ok() ? visit(key, std::move(event)) : visit(key, parsed));
  }
  return FromRocks(it->status(), context);
}

Status EventStore::Impl::ForEachArrival(const ArrivalVisitor& visit) const {
  const std::string context = "event store " + where_ + ": scanning arrivals";
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kArrivals)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ArrivalRun run;
    if (!ParseArrivalRun(View(it->key()), View(it->value()), &run)) {
      return Status::Corruption(context + ": malformed arrival entry " + Hex(View(it->key())));
    }
    for (uint64_t k = 0; k < run.count; ++k) {
      BATON_TRY(visit(run.first + k, crdt::EventId{run.id.origin, run.id.seq + k}, run.arrived_ms));
    }
  }
  return FromRocks(it->status(), context);
}

Status EventStore::Impl::ScanForks(std::vector<StoredEvent>* out) const {
  out->clear();
  const std::string context = "event store " + where_ + ": scanning forks";
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kForks)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    StoredEvent event;
    if (ParseEventKey(View(it->key()), &event.id) + kHashSize + 8 != it->key().size()) {
      return Status::Corruption(context + ": malformed key");
    }
    BATON_TRY(DecodeEventValue(View(it->value()), &event).WithContext(context));
    out->push_back(std::move(event));
  }
  return FromRocks(it->status(), context);
}

Status EventStore::Impl::PutSnapshot(std::string bytes, uint64_t as_of_arrival) {
  BATON_TRY(CheckWritable("PutSnapshot"));
  std::string value;
  value.reserve(8 + bytes.size());
  PutBigEndian64(&value, as_of_arrival);
  value.append(bytes);
  const std::string context = "event store " + where_ + ": writing projection snapshot";
  rocksdb::WriteBatch batch;
  BATON_TRY(FromRocks(batch.Put(cf(kProjection), rocksdb::Slice(kSnapshotKey), value), context));
  std::lock_guard<std::mutex> lock(side_mu_);
  return WriteSynced(&batch, context);
}

Result<std::optional<std::pair<std::string, uint64_t>>> EventStore::Impl::GetSnapshot() const {
  using Snapshot = std::optional<std::pair<std::string, uint64_t>>;
  BATON_ASSIGN_OR_RETURN(std::optional<std::string> value, ReadRaw(kProjection, kSnapshotKey));
  if (!value) return Snapshot();
  uint64_t as_of = 0;
  if (!GetBigEndian64(*value, &as_of)) {
    return Status::Corruption("event store " + where_ + ": malformed projection snapshot");
  }
  return Snapshot(std::make_pair(value->substr(8), as_of));
}

Result<std::optional<std::string>> EventStore::Impl::GetMeta(std::string_view key) const {
  std::string full(kMetaAppPrefix);
  full.append(key);
  return ReadRaw(kMeta, full);
}

Status EventStore::Impl::PutMeta(std::string_view key, std::string_view value) {
  BATON_TRY(CheckWritable("PutMeta"));
  std::string full(kMetaAppPrefix);
  full.append(key);
  const std::string context = "event store " + where_ + ": writing meta " + std::string(key);
  rocksdb::WriteBatch batch;
  BATON_TRY(FromRocks(batch.Put(cf(kMeta), full, rocksdb::Slice(value)), context));
  std::lock_guard<std::mutex> lock(side_mu_);
  return WriteSynced(&batch, context);
}

Status EventStore::Impl::BindRunbook(const std::string& runbook_id) {
  BATON_TRY(CheckWritable("BindRunbook"));
  if (runbook_id.empty()) {
    return Status::InvalidArgument("event store " + where_ + ": binding an empty runbook id");
  }
  std::lock_guard<std::mutex> lock(side_mu_);
  if (runbook_ == runbook_id) return Status::Ok();
  if (!runbook_.empty()) {
    return Status::InvalidArgument("event store " + where_ + " belongs to runbook '" + runbook_ +
                                   "', not '" + runbook_id + "'");
  }
  const std::string context = "event store " + where_ + ": binding runbook " + runbook_id;
  rocksdb::WriteBatch batch;
  BATON_TRY(FromRocks(batch.Put(cf(kMeta), rocksdb::Slice(kMetaRunbook), runbook_id), context));
  BATON_TRY(WriteSynced(&batch, context));
  runbook_ = runbook_id;
  return Status::Ok();
}

// ---- EventStore ---------------------------------------------------------------------------------

Result<std::unique_ptr<EventStore::Impl>> EventStore::OpenDatabase(const StoreOptions& options) {
  const std::string where = options.path.string();
  std::error_code ec;
  const bool exists = std::filesystem::exists(options.path / "CURRENT", ec);
  if (!exists && !std::filesystem::is_empty(options.path, ec) && !ec) {
    // Files without the one that names the current MANIFEST: not a store that was never made.
    return Status::Corruption("event store " + where +
                              " is damaged: it holds files but no CURRENT; restore the data "
                              "directory from a backup or rebuild the site from its peers "
                              "(docs/operations.md#rebuilding-a-site)");
  }
  ec.clear();
  if (!exists && (options.read_only || !options.create_if_missing)) {
    return Status::NotFound("event store " + where + " does not exist" +
                            (options.read_only ? "" : " (create_if_missing is off)"));
  }
  if (!exists) {
    if (options.site.empty()) {
      return Status::InvalidArgument("creating event store " + where + ": site id is empty");
    }
    BATON_TRY(CheckOrigin(options.site).WithContext("creating event store " + where));
    std::filesystem::create_directories(options.path, ec);
    if (ec) return Status::IOError("creating event store " + where + ": " + ec.message());
  }

  // Before RocksDB's recovery, which would stop at damage that looks like a torn tail.
  if (exists) BATON_TRY(CheckWalFiles(options.path).WithContext("event store " + where));

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = options.create_if_missing;
  db_options.keep_log_file_num = 4;
  // Bounds recovery time: rarely written families (forks, projection) would otherwise pin WALs.
  db_options.max_total_wal_size = 256ull << 20;
  // One writer thread: memtable inserts need no concurrency, and then may use insert hints.
  db_options.allow_concurrent_memtable_write = false;
  db_options.info_log = std::make_shared<StderrLogger>();
  if (options.env != nullptr) db_options.env = options.env;
  // No space reserved ahead of the WAL (RocksDB preallocates 1.1 write buffers, 70 MiB, per
  // file): a small disk is not taken up front, and a full one shows at the next write, which is
  // refused and retried (EventStore::Impl::Write), instead of whenever a block runs out.
  db_options.allow_fallocate = false;
  // A damaged WAL record stops the open instead of ending recovery there: RocksDB's default
  // (point-in-time recovery) silently drops every acknowledged event after it, and their seqs
  // would be issued again with other content. Only an incomplete last record is tolerated: a
  // write cut short by a crash, acknowledged to no one (acks follow the sync).
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  // And a WAL file that went missing altogether is found through the MANIFEST.
  db_options.track_and_verify_wals_in_manifest = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kFamilyNames) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  // Events arrive in seq order per origin, arrivals in counter order: insert after the last key.
  descriptors[kEvents].options.memtable_insert_with_hint_prefix_extractor =
      std::make_shared<OriginPrefixTransform>();
  descriptors[kArrivals].options.memtable_insert_with_hint_prefix_extractor.reset(
      rocksdb::NewFixedPrefixTransform(0));

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options.read_only || !options.secondary_path.empty()) {
    std::vector<std::string> present;
    BATON_TRY(FromRocks(rocksdb::DB::ListColumnFamilies(db_options, where, &present),
                        "opening event store " + where));
    for (const char* name : kFamilyNames) {
      if (std::find(present.begin(), present.end(), name) == present.end()) {
        return Status::Corruption("event store " + where + ": column family " + name +
                                  " is missing");
      }
    }
    if (options.secondary_path.empty()) {
      s = rocksdb::DB::OpenForReadOnly(db_options, where, descriptors, &handles, &raw);
    } else {
      // A secondary follows the primary's MANIFEST and WAL and must keep every table open.
      db_options.max_open_files = -1;
      s = rocksdb::DB::OpenAsSecondary(db_options, where, options.secondary_path.string(),
                                       descriptors, &handles, &raw);
    }
  } else {
    s = rocksdb::DB::Open(db_options, where, descriptors, &handles, &raw);
  }
  if (s.IsCorruption()) {
    return Status::Corruption(
        "event store " + where + " is damaged (" + s.ToString() +
        "): events acknowledged after the damage may be lost, so it is not served; rebuild this "
        "site from its peers (`batond rebuild`, docs/operations.md#rebuilding-a-site) or "
        "restore the data directory from a backup");
  }
  BATON_TRY(FromRocks(s, "opening event store " + where));

  auto impl = std::make_unique<EventStore::Impl>(options, raw, std::move(handles));
  BATON_TRY(impl->LoadIdentity(!exists));
  return impl;
}

Result<std::unique_ptr<EventStore>> EventStore::Open(const StoreOptions& given) {
  StoreOptions options = given;
  if (!options.secondary_path.empty()) {
    options.read_only = true;
    options.create_if_missing = false;
  }
  BATON_ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, OpenDatabase(options));
  if (!options.secondary_path.empty())
    return std::unique_ptr<EventStore>(new EventStore(std::move(impl)));
  BATON_TRY(impl->LoadAndCheckHeads());
  if (!options.read_only) impl->StartCommitter();
  return std::unique_ptr<EventStore>(new EventStore(std::move(impl)));
}

Result<IndexRebuild> EventStore::RebuildIndex(const StoreOptions& options,
                                              const PayloadHash& payload_hash) {
  StoreOptions writable = options;
  writable.read_only = false;
  writable.create_if_missing = false;
  BATON_ASSIGN_OR_RETURN(std::unique_ptr<Impl> impl, OpenDatabase(writable));
  return impl->RebuildIndex(payload_hash);
}

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventStore::~EventStore() = default;

Status EventStore::Append(std::vector<StoredEvent> events) {
  return impl_->Append(std::move(events));
}
Result<std::optional<StoredEvent>> EventStore::Get(const crdt::EventId& id) const {
  return impl_->Get(id);
}
std::map<crdt::SiteId, ChainHead> EventStore::Heads() const { return impl_->Heads(); }
Status EventStore::ScanOrigin(const crdt::SiteId& origin, uint64_t from_seq, size_t max,
                              std::vector<StoredEvent>* out) const {
  return impl_->ScanOrigin(origin, from_seq, max, out);
}
uint64_t EventStore::LastArrival() const { return impl_->LastArrival(); }
Status EventStore::ScanArrivals(uint64_t after, size_t max, std::vector<Arrival>* out,
                                size_t max_bytes) const {
  return impl_->ScanArrivals(after, max, out, max_bytes);
}
Status EventStore::RecordFork(const StoredEvent& conflicting) {
  return impl_->RecordFork(conflicting);
}
Status EventStore::ScanForks(std::vector<StoredEvent>* out) const { return impl_->ScanForks(out); }
Status EventStore::ForEachEvent(const EventVisitor& visit) const {
  return impl_->ForEachEvent(visit);
}
std::vector<EventStore::EventRange> EventStore::EventRanges() const { return impl_->EventRanges(); }
Status EventStore::ForEachEventIn(const EventRange& range, const EventVisitor& visit) const {
  return impl_->ForEachEventIn(range, visit);
}
Status EventStore::ForEachArrival(const ArrivalVisitor& visit) const {
  return impl_->ForEachArrival(visit);
}
Status EventStore::PutSnapshot(std::string bytes, uint64_t as_of_arrival) {
  return impl_->PutSnapshot(std::move(bytes), as_of_arrival);
}
Result<std::optional<std::pair<std::string, uint64_t>>> EventStore::GetSnapshot() const {
  return impl_->GetSnapshot();
}
Result<std::optional<std::string>> EventStore::GetMeta(std::string_view key) const {
  return impl_->GetMeta(key);
}
Status EventStore::PutMeta(std::string_view key, std::string_view value) {
  return impl_->PutMeta(key, value);
}
Status EventStore::BindRunbook(const std::string& runbook_id) {
  return impl_->BindRunbook(runbook_id);
}
const crdt::SiteId& EventStore::site() const { return impl_->site(); }
std::string EventStore::runbook_id() const { return impl_->runbook_id(); }
const std::string& EventStore::arrival_epoch() const { return impl_->arrival_epoch(); }

}  // namespace baton::store
