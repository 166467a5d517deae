// See daemon/ledger.h.
#include "daemon/ledger.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "client/protocol.h"
#include "crdt/event_codec.h"
#include "daemon/curve_keys.h"
#include "daemon/identity/keys.h"

namespace baton::daemon {

namespace {
// Store meta (app/): the Ed25519 public key this data directory first ran with.
constexpr std::string_view kIdentityMeta = "site_public_key";
// A timestamp this far ahead of the wall clock no longer tells when a report was made.
constexpr int64_t kStampAheadMs = 1000;
}  // namespace

int64_t SystemWallClock() {
  // Not system_clock::now(): its nanoseconds wrap in 2262, and a clock set to 2300 would read
  // as 1715 instead of being refused for what it says.
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

namespace {

std::string DescribeTime(int64_t ms) {
  // FormatIsoTime is exact over any year a clock can say; the raw number helps beyond that.
  if (ms > -(int64_t{1} << 50) && ms < (int64_t{1} << 50)) return client::FormatIsoTime(ms);
  return std::to_string(ms) + " ms since 1970";
}

}  // namespace

Status CheckWallClock(int64_t wall_ms) {
  if (wall_ms >= crdt::kMinTimeMs && wall_ms < crdt::kMaxTimeMs) return Status::Ok();
  return Status::Unavailable(
      "this machine's clock says " + DescribeTime(wall_ms) +
      ": baton records times from 2000 to 2099 only; set the clock (timedatectl, NTP) and try "
      "again");
}

// One group at a time: the loop thread hands it over (Start), goes on, and takes the outcome
// (Take) once fd() is readable. The thread touches nothing of the ledger but the store, which
// is thread-safe.
class Ledger::Committer {
 public:
  explicit Committer(store::EventStore* store)
      : store_(store), fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    BATON_CHECK(fd_ >= 0);
    thread_ = std::thread([this] { Run(); });
  }
  ~Committer() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();  // After the group in flight, if any, is written.
    ::close(fd_);
  }
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  void Start(std::vector<store::StoredEvent> batch) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      BATON_CHECK(!job_ && !done_);
      job_ = std::move(batch);
    }
    wake_.notify_all();
  }
  bool Done() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
  }
  void Wait() const {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&] { return done_; });
  }
  // The outcome of the finished group; the committer is idle again.
  Status Take() {
    uint64_t count = 0;
    while (::read(fd_, &count, sizeof count) < 0 && errno == EINTR) {
    }
    std::lock_guard<std::mutex> lock(mutex_);
    BATON_CHECK(done_);
    done_ = false;
    return std::move(result_);
  }
  int fd() const { return fd_; }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return job_.has_value() || stopping_; });
      if (!job_) return;
      std::vector<store::StoredEvent> batch = std::move(*job_);
      job_.reset();
      lock.unlock();
      Status result = store_->Append(std::move(batch));
      lock.lock();
      result_ = std::move(result);
      done_ = true;
      finished_.notify_all();
      const uint64_t one = 1;
      while (::write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
      }
    }
  }

  store::EventStore* store_;
  const int fd_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  mutable std::condition_variable finished_;
  std::optional<std::vector<store::StoredEvent>> job_;
  bool done_ = false;
  bool stopping_ = false;
  Status result_;
  std::thread thread_;
};

Ledger::Ledger(Config config, WallClock clock)
    : config_(std::move(config)), clock_(std::move(clock)), hlc_(config_.max_clock_skew_ms) {
  projection_.SetTrustAnchor(config_.trust_site, config_.trust_key);
}

Ledger::~Ledger() = default;  // committer_ is declared after store_: it stops first.

Status Ledger::Create(const Config& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Status::IOError(config.data_dir.string() + ": cannot create: " + ec.message());
  // Only the owner may reach the ipc socket, keys and log inside.
  if (chmod(config.data_dir.c_str(), 0700) != 0) {
    return Status::IOError(config.data_dir.string() + ": cannot set mode 0700");
  }
  if (std::filesystem::exists(config.StorePath())) {
    return Status::InvalidArgument(config.StorePath().string() +
                                   ": an event log already exists here; refusing to replace it");
  }
  BATON_TRY(identity::WriteKeyFiles(config.KeyDir(), identity::GenerateKeyPair()));
  BATON_TRY(WriteCurveKeys(config.KeyDir(), GenerateCurveKeyPair()));
  store::StoreOptions so;
  so.path = config.StorePath();
  so.site = config.site;
  so.create_if_missing = true;
  BATON_ASSIGN_OR_RETURN(auto created, store::EventStore::Open(so));
  created.reset();
  return SaveConfig(config);
}

namespace {

// True while another process holds the store's lock: RocksDB takes an fcntl write lock on LOCK.
bool StoreLocked(const std::filesystem::path& store) {
  const std::string lock = (store / "LOCK").string();
  const int fd = open(lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  const bool locked = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  close(fd);
  return locked;
}

std::string UtcStamp(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y%m%dT%H%M%SZ", &tm);
  return out;
}

}  // namespace

Result<std::filesystem::path> Ledger::SetAsideForRebuild(const Config& config) {
  if (config.peers.empty()) {
    return Status::InvalidArgument(
        config.ConfigPath().string() +
        ": no `peer` line: a site is rebuilt from its peers; add one (peer = hq "
        "tcp://HOST:PORT) first");
  }
  // The identity signs the rebuilt site's next events: it must be the one its peers know.
  BATON_TRY(identity::ReadKeyFiles(config.KeyDir())
                .status()
                .WithContext("the site's identity is needed to rebuild its log (restore " +
                             config.KeyDir().string() + " from a backup)"));
  const std::filesystem::path store = config.StorePath();
  std::error_code ec;
  const bool had_store = std::filesystem::exists(store, ec);
  if (had_store && StoreLocked(store)) {
    return Status::IOError(store.string() + " is in use: stop batond on " +
                           config.data_dir.string() + " first");
  }
  // The marker first: after a crash anywhere below, the directory is still marked, never an
  // unmarked empty log that would accept reports at once.
  const std::string marker = config.RebuildMarkerPath().string();
  FILE* f = std::fopen(marker.c_str(), "w");
  if (f == nullptr) return Status::IOError(marker + ": cannot create the rebuild marker");
  const bool written = std::fputs("rebuilding this site's log from its peers\n", f) >= 0;
  if (std::fclose(f) != 0 || !written) {
    return Status::IOError(marker + ": cannot write the rebuild marker");
  }
  std::filesystem::path aside;
  if (had_store) {
    aside = store;
    aside += "." + UtcStamp(SystemWallClock()) + ".set-aside";
    if (std::filesystem::exists(aside, ec)) {
      return Status::InvalidArgument(aside.string() + " exists already; retry in a second");
    }
    std::filesystem::rename(store, aside, ec);
    if (ec) return Status::IOError(store.string() + ": cannot move aside: " + ec.message());
  }
  store::StoreOptions so;
  so.path = store;
  so.site = config.site;
  so.create_if_missing = true;
  BATON_ASSIGN_OR_RETURN(auto created, store::EventStore::Open(so));
  created.reset();
  return aside;
}

Result<std::unique_ptr<Ledger>> Ledger::Open(const Config& config, WallClock clock,
                                             bool read_only) {
  std::unique_ptr<Ledger> l(new Ledger(config, std::move(clock)));
  l->read_only_ = read_only;
  // Before the store: every timestamp this site issues comes from this clock.
  if (!read_only) BATON_TRY(CheckWallClock(l->clock_()).WithContext("not starting"));
  BATON_ASSIGN_OR_RETURN(l->keys_, identity::ReadKeyFiles(config.KeyDir()));
  store::StoreOptions so;
  so.path = config.StorePath();
  so.site = config.site;
  so.read_only = read_only;
  // Arrival times on the daemon's clock, the one its board's "now" reads.
  so.clock = l->clock_;
  BATON_ASSIGN_OR_RETURN(l->store_, store::EventStore::Open(so));

  auto heads = l->store_->Heads();
  // Keep the clock monotonic across restarts: never below this site's newest timestamp (which
  // is past everything merged before it), then past the newest of every other origin as a
  // receipt would be, judged against that timestamp or the wall clock, whichever is later: a
  // timestamp beyond the skew bound stays quarantined instead of dragging the clock after it.
  if (const auto own = heads.find(config.site); own != heads.end() && own->second.seq > 0) {
    BATON_ASSIGN_OR_RETURN(crdt::Event e, l->EventById(crdt::EventId{own->first, own->second.seq}));
    l->hlc_.Restore(e.hlc);
    BATON_TRY(l->CheckClockAhead(e));
  }
  const int64_t now = std::max(l->clock_(), l->hlc_.last().wall_ms);
  for (const auto& [origin, head] : heads) {
    if (head.seq == 0 || origin == config.site) continue;
    BATON_ASSIGN_OR_RETURN(crdt::Event e, l->EventById(crdt::EventId{origin, head.seq}));
    const auto received = l->hlc_.Receive(e.hlc, now);
    if (received.quarantined) {
      std::fprintf(stderr,
                   "batond: the newest event of %s (%s) is %lld ms ahead of this site's clock; "
                   "not merged into it\n",
                   origin.c_str(), e.id().ToString().c_str(),
                   static_cast<long long>(received.skew_ms));
    }
  }
  if (!l->store_->runbook_id().empty()) {
    const auto& own = heads[config.site];
    l->writer_.emplace(l->keys_, l->store_->runbook_id(), config.site, own.seq, own.hash);
  }
  BATON_TRY(l->LoadProjection());
  l->durable_vv_ = l->projection_.version_vector();  // LoadProjection checked it is the log's.
  if (!read_only) BATON_TRY(l->CheckIdentity());
  std::vector<store::StoredEvent> forks;
  BATON_TRY(l->store_->ScanForks(&forks));
  l->fork_count_ = forks.size();
  l->EnsureVerifier();
  return l;
}

Status Ledger::CheckClockAhead(const crdt::Event& newest_own) {
  const int64_t wall = clock_();
  const int64_t ahead = newest_own.hlc.wall_ms - wall;
  if (read_only_ || ahead <= config_.max_clock_skew_ms) return Status::Ok();
  const std::string days =
      std::to_string(ahead / 86400000) + " days " + std::to_string(ahead / 3600000 % 24) + " h";
  if (!config_.accept_clock_ahead) {
    return Status::Rejected(
        "this site's newest event (" + newest_own.id().ToString() + ") is stamped " +
        DescribeTime(newest_own.hlc.wall_ms) + ", " + days + " ahead of this machine's clock (" +
        DescribeTime(wall) +
        "): the clock was ahead then or is behind now. Check it (timedatectl); if it is right "
        "now, start with `batond run --clock-ran-ahead` (docs/operations.md#a-clock-that-ran-"
        "ahead)");
  }
  clock_ahead_ms_ = ahead;
  spdlog::warn(
      "this site's timestamps run {} ahead of its clock (newest event {} stamped {}), accepted "
      "with --clock-ran-ahead: events stay in timestamp order, and reports carry this machine's "
      "time as their effective time until the clock catches up",
      days, newest_own.id().ToString(), DescribeTime(newest_own.hlc.wall_ms));
  return Status::Ok();
}

Status Ledger::CheckIdentity() {
  const std::string files = (config_.KeyDir() / "site.pub").string();
  const std::string ours = identity::ToHex(keys_.public_key);
  // The key this directory first ran with, recorded then; any other one is someone else's
  // identity put in its place (or this site's, restored into the wrong directory).
  BATON_ASSIGN_OR_RETURN(auto recorded, store_->GetMeta(kIdentityMeta));
  if (!recorded) {
    BATON_TRY(store_->PutMeta(kIdentityMeta, keys_.public_key));
  } else if (*recorded != keys_.public_key) {
    return Status::Rejected(files + " holds key " + ours.substr(0, 16) + "..., not " +
                            identity::ToHex(*recorded).substr(0, 16) +
                            "..., the identity this data directory was first run with: restore " +
                            config_.KeyDir().string() + " from a backup of this directory");
  }
  // And the roster, once a plan names this site with a key, decides who it is.
  const crdt::SiteInfo* entry = projection_.RosterEntry(config_.site);
  if (entry != nullptr && entry->public_key.size() == identity::kPublicKeySize &&
      entry->public_key != keys_.public_key) {
    return Status::Rejected(files + " holds key " + ours.substr(0, 16) +
                            "..., but the roster holds " +
                            identity::ToHex(entry->public_key).substr(0, 16) + "... for site " +
                            config_.site + ": this is not " + config_.site +
                            "'s identity; restore " + config_.KeyDir().string() + " from a backup");
  }
  return Status::Ok();
}

Status Ledger::LoadProjection() {
  auto snap = store_->GetSnapshot();
  if (snap.ok() && snap->has_value()) {
    // Whatever the snapshot claims, it is used only if the replay after it ends holding exactly
    // the stored events (the invariant of this class); else the log is folded again.
    auto restored = crdt::Projection::FromSnapshot((*snap)->first);
    Status usable = restored.status();
    if (usable.ok()) {
      projection_ = std::move(restored).value();
      projection_.SetTrustAnchor(config_.trust_site, config_.trust_key);
      usable = ReplayAfter((*snap)->second);
    }
    if (usable.ok()) usable = MatchesTheLog();
    if (usable.ok()) return Status::Ok();
    std::fprintf(stderr, "batond: projection snapshot unusable (%s); rebuilding from the log\n",
                 usable.ToString().c_str());
    projection_ = crdt::Projection();
    projection_.SetTrustAnchor(config_.trust_site, config_.trust_key);
  }
  return FoldWholeLog();
}

Status Ledger::ReplayAfter(uint64_t cursor) {
  std::vector<ServedEvent> batch;
  while (true) {
    BATON_TRY(ReadServed(cursor, 4096, &batch));
    if (batch.empty()) break;
    for (const auto& e : batch) {
      BATON_TRY(projection_.Apply(e.event).WithContext("rebuilding projection at " +
                                                       e.event.id().ToString()));
      cursor = e.arrival;
    }
  }
  return Status::Ok();
}

Status Ledger::MatchesTheLog() const {
  std::map<crdt::SiteId, uint64_t> held;
  for (const auto& [origin, head] : store_->Heads()) {
    if (head.seq > 0) held[origin] = head.seq;
  }
  if (projection_.version_vector().entries() == held) return Status::Ok();
  crdt::VersionVector log;
  for (const auto& [origin, seq] : held) log.Set(origin, seq);
  return Status::Corruption("the projection holds " + projection_.version_vector().ToString() +
                            " but the log holds " + log.ToString());
}

Status Ledger::FoldWholeLog() {
  // Origin by origin, each in seq order: the fold only needs per-origin order, and reading the
  // events family sequentially is several times faster than following the arrival index.
  std::vector<store::StoredEvent> chunk;
  for (const auto& [origin, head] : store_->Heads()) {
    uint64_t next = 1;
    while (next <= head.seq) {
      BATON_TRY(store_->ScanOrigin(origin, next, 4096, &chunk));
      if (chunk.empty()) {
        return Status::Corruption("events of " + origin + " end at seq " +
                                  std::to_string(next - 1) + " but its head is " +
                                  std::to_string(head.seq));
      }
      for (const auto& stored : chunk) {
        BATON_ASSIGN_OR_RETURN(crdt::SignedEvent se, crdt::DecodeEnvelope(stored.envelope));
        BATON_ASSIGN_OR_RETURN(crdt::Event e, crdt::DecodeEvent(se.payload));
        BATON_TRY(
            projection_.Apply(e).WithContext("rebuilding projection at " + stored.id.ToString()));
        next = stored.id.seq + 1;
      }
    }
  }
  return Status::Ok();
}

Result<crdt::EventId> Ledger::Stage(Draft draft) {
  if (read_only_) return Status::Rejected("the ledger is open read-only");
  std::string runbook = store_->runbook_id();
  if (!writer_) {
    const auto* def = std::get_if<crdt::PlanDefined>(&draft.body);
    if (def == nullptr) {
      return Status::InvalidArgument(
          "no plan has been imported at this site yet "
          "(import one with `baton plan import FILE`)");
    }
    if (def->plan.runbook_id.empty()) return Status::InvalidArgument("the plan has no runbook id");
    BATON_TRY(store_->BindRunbook(def->plan.runbook_id));
    runbook = def->plan.runbook_id;
    const auto own = store_->Heads()[config_.site];
    writer_.emplace(keys_, runbook, config_.site, own.seq, own.hash);
    EnsureVerifier();
  }
  const int64_t wall = clock_();
  BATON_TRY(CheckWallClock(wall).WithContext("nothing was recorded"));
  crdt::Event e;
  e.hlc = hlc_.Now(wall);
  e.actor = std::move(draft.actor);
  e.body = std::move(draft.body);
  // Timestamps ahead of the clock (this site's ran ahead once, docs/operations.md#a-clock-that-
  // ran-ahead) keep their order, but a report's time is what this machine's clock says.
  if (e.hlc.wall_ms - wall > kStampAheadMs) {
    if (auto* r = std::get_if<crdt::TaskReported>(&e.body); r && r->effective_ms == crdt::kNoTime) {
      r->effective_ms = wall;
    } else if (auto* g = std::get_if<crdt::GateDecided>(&e.body);
               g && g->effective_ms == crdt::kNoTime) {
      g->effective_ms = wall;
    }
  }
  std::vector<crdt::Event> drafts;
  drafts.push_back(std::move(e));
  // Built one at a time, so that later drafts see earlier ones in the projection. Unsigned:
  // Commit signs the last staged event, which vouches for the whole batch through the chain
  // (docs/event-format.md#chains), and a long batch is signed at least every kSignEvery events.
  const bool sign_now = unsigned_staged_ + 1 >= identity::kSignEvery;
  auto built = writer_->Build(std::move(drafts), sign_now ? identity::ChainWriter::Signing::kLast
                                                          : identity::ChainWriter::Signing::kLater);
  BATON_CHECK(built.size() == 1);
  Status applied = built[0].envelope.size() > kMaxEventBytes
                       ? Status::InvalidArgument(
                             "the event would take " + std::to_string(built[0].envelope.size()) +
                             " bytes, over the limit of " + std::to_string(kMaxEventBytes) +
                             " (a text or a plan too large?)")
                       : projection_.Apply(built[0].event);
  if (!applied.ok()) {
    // Roll the writer back: the event was never stored.
    writer_->SetHead(built[0].event.seq - 1, built[0].event.prev_hash);
    return applied;
  }
  unsigned_staged_ = sign_now ? 0 : unsigned_staged_ + 1;
  crdt::EventId id = built[0].event.id();
  unstored_[id] = built[0].hash;
  staged_.push_back(std::move(built[0]));
  staged_at_.push_back(wall);
  return id;
}

Status Ledger::Commit() {
  for (;;) {
    if (committing()) {
      committer_->Wait();
      Reaped reaped = Complete();
      if (!reaped.failure.ok()) return reaped.failure;  // The pending events were undone too.
      continue;
    }
    if (!Submit()) return MaybeSnapshot();
  }
}

uint64_t Ledger::open_ticket() const {
  if (has_pending()) return next_ticket_;
  return committing() ? in_flight_ticket_ : durable_ticket_;
}

int Ledger::commit_fd() {
  if (!committer_) committer_ = std::make_unique<Committer>(store_.get());
  return committer_->fd();
}

bool Ledger::Submit(bool received_too) {
  if (committing() || (received_too ? !has_pending() : staged_.empty())) return false;
  // One signature per committed batch: a stored chain always ends in a signed event.
  if (unsigned_staged_ > 0) writer_->SignLast(staged_.back());
  unsigned_staged_ = 0;
  // Received events beyond kMaxGroupReceived wait for the next group: a report's ack never
  // waits for the write of a whole catch-up. Received events of this site's own chain (a
  // restored copy) all go if staged ones continue it, and before them.
  size_t take = received_too ? std::min(received_.size(), kMaxGroupReceived) : 0;
  if (!staged_.empty()) {
    for (size_t i = take; i < received_.size(); ++i) {
      if (received_[i].id.origin == config_.site) take = i + 1;
    }
  }
  std::vector<store::StoredEvent> batch;
  batch.reserve(take + staged_.size());
  const auto taken = received_.begin() + static_cast<ptrdiff_t>(take);
  std::move(received_.begin(), taken, std::back_inserter(batch));
  received_.erase(received_.begin(), taken);
  for (size_t i = 0; i < staged_.size(); ++i) {
    auto& v = staged_[i];
    batch.push_back(store::StoredEvent{v.event.id(), v.event.prev_hash, v.hash,
                                       std::move(v.envelope), staged_at_[i]});
  }
  staged_.clear();
  staged_at_.clear();
  in_flight_ids_.clear();
  for (const auto& e : batch) in_flight_ids_.push_back(e.id);
  in_flight_ticket_ = next_ticket_++;
  if (!committer_) committer_ = std::make_unique<Committer>(store_.get());
  committer_->Start(std::move(batch));
  return true;
}

bool Ledger::commit_done() const { return committing() && committer_->Done(); }

Ledger::Reaped Ledger::Reap() {
  if (!commit_done()) return {};
  Reaped reaped = Complete();
  if (!reaped.failure.ok() || !SnapshotDue()) return reaped;
  // A snapshot must hold exactly what is stored: the pending events go first (rarely: a
  // snapshot is due after half the log again).
  if (Submit()) {
    committer_->Wait();
    Reaped more = Complete();
    if (!more.failure.ok()) return more;
  }
  MaybeSnapshot().Ignore();  // Never fails: a snapshot is an optimisation.
  return reaped;
}

Ledger::Reaped Ledger::Complete() {
  Reaped reaped;
  reaped.finished = true;
  Status appended = committer_->Take();
  const uint64_t ticket = std::exchange(in_flight_ticket_, 0);
  if (appended.ok()) {
    durable_ticket_ = ticket;
    for (const auto& id : in_flight_ids_) {
      if (id.seq > durable_vv_.Seen(id.origin)) durable_vv_.Set(id.origin, id.seq);
      unstored_.erase(id);
    }
    events_since_snapshot_ += in_flight_ids_.size();
    in_flight_ids_.clear();
    return reaped;
  }
  // Every pending event was built on the failed group: undone with it.
  reaped.failed_through = has_pending() ? next_ticket_ : ticket;
  next_ticket_ = reaped.failed_through + 1;
  in_flight_ids_.clear();
  Status undone = Rollback();
  reaped.failure = undone.ok() ? appended
                               : appended.WithContext("undoing the unstored events failed too (" +
                                                      undone.ToString() + ")");
  if (!undone.ok()) broken_ = true;
  return reaped;
}

Status Ledger::Rollback() {
  // The pending events were folded but not stored: fold again what the log holds, and go on
  // from the stored chain heads. The clock keeps its timestamps (it only has to rise).
  staged_.clear();
  staged_at_.clear();
  received_.clear();
  unstored_.clear();
  unsigned_staged_ = 0;
  ++rollbacks_;
  if (writer_) {
    const auto own = store_->Heads()[config_.site];
    writer_->SetHead(own.seq, own.hash);
  }
  // The verifier advanced past events that are not stored: put it back on the stored heads.
  verifier_.reset();
  EnsureVerifier();
  projection_ = crdt::Projection();
  projection_.SetTrustAnchor(config_.trust_site, config_.trust_key);
  BATON_TRY(LoadProjection());
  durable_vv_ = projection_.version_vector();
  return Status::Ok();
}

std::optional<crdt::Hash> Ledger::UnstoredHash(const crdt::EventId& id) const {
  const auto it = unstored_.find(id);
  if (it == unstored_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Ledger::KeyOf(const crdt::SiteId& origin) const {
  // The trust anchor's key comes from the config (it signs the plan that makes the roster), this
  // site's own from its identity, every other origin's from the roster in force.
  if (origin == config_.site) return keys_.public_key;
  if (origin == config_.trust_site && !config_.trust_key.empty()) return config_.trust_key;
  const crdt::SiteInfo* entry = projection_.RosterEntry(origin);
  if (entry == nullptr || entry->public_key.size() != identity::kPublicKeySize) return std::nullopt;
  return entry->public_key;
}

std::optional<std::string> Ledger::SignerKeyOf(const crdt::SiteId& origin) const {
  if (auto key = KeyOf(origin)) return key;
  std::string key = projection_.SignerKey(origin);
  if (key.size() != identity::kPublicKeySize) return std::nullopt;
  return key;
}

void Ledger::EnsureVerifier() {
  const std::string runbook = store_->runbook_id();
  if (verifier_ || runbook.empty()) return;
  // A key miss is remembered so that the event waits for the amendment that enrols its origin
  // instead of being rejected.
  verifier_.emplace(runbook, [this](const crdt::SiteId& origin) {
    auto key = SignerKeyOf(origin);
    if (!key) lookup_missed_ = true;
    return key;
  });
  for (const auto& [origin, head] : store_->Heads()) {
    verifier_->SetHead(origin, head.seq, head.hash);
  }
}

namespace {

// An envelope and its event, decoded; the event carries the envelope's error if that failed.
std::pair<Result<crdt::SignedEvent>, Result<crdt::Event>> DecodeBoth(std::string_view envelope) {
  Result<crdt::SignedEvent> se = crdt::DecodeEnvelope(envelope);
  Result<crdt::Event> e =
      se.ok() ? crdt::DecodeEvent(se->payload) : Result<crdt::Event>(se.status());
  return {std::move(se), std::move(e)};
}

}  // namespace

Result<IngestResult> Ledger::Ingest(const std::vector<std::string>& envelopes) {
  if (read_only_) return Status::Rejected("the ledger is open read-only");
  IngestResult total;
  std::vector<std::string_view> remaining(envelopes.begin(), envelopes.end());
  // An event may wait on an earlier one of the same batch: the amendment that enrols its origin,
  // or the plan that binds the runbook. Retry while a pass makes progress.
  while (!remaining.empty()) {
    std::vector<std::string_view> retry;
    BATON_ASSIGN_OR_RETURN(IngestResult pass, IngestOnce(remaining, &retry));
    total.stored += pass.stored;
    total.duplicates += pass.duplicates;
    total.held += pass.held;
    total.forks += pass.forks;
    total.rejected += pass.rejected;
    total.own_events = total.own_events || pass.own_events;
    for (auto& p : pass.problems) {
      if (total.problems.size() < 16) total.problems.push_back(std::move(p));
    }
    for (auto& q : pass.quarantined) total.quarantined.push_back(std::move(q));
    if (pass.stored == 0 || retry.size() == remaining.size()) {
      total.waiting += retry.size();
      break;
    }
    remaining = std::move(retry);
  }
  return total;
}

Result<IngestResult> Ledger::IngestOnce(const std::vector<std::string_view>& envelopes,
                                        std::vector<std::string_view>* retry) {
  IngestResult r;
  auto problem = [&r](std::string text) {
    if (r.problems.size() < 16) r.problems.push_back(std::move(text));
  };
  std::vector<identity::VerifiedEvent> fresh;
  for (std::string_view envelope : envelopes) {
    if (!verifier_) {
      // No plan yet: only the trust anchor's chain can bind the runbook.
      auto [se, e] = DecodeBoth(envelope);
      if (!e.ok()) {
        ++r.rejected;
        problem("undecodable event: " + e.status().message());
        continue;
      }
      // Bind only to a runbook the anchor signed: nothing unverified may decide it.
      if (e->origin != config_.trust_site || e->runbook_id.empty() || se->signature.empty() ||
          !identity::Verify(se->payload, se->signature, config_.trust_key)) {
        retry->push_back(envelope);
        continue;
      }
      BATON_TRY(store_->BindRunbook(e->runbook_id));
      const auto own = store_->Heads()[config_.site];
      writer_.emplace(keys_, e->runbook_id, config_.site, own.seq, own.hash);
      EnsureVerifier();
    }
    // Our own chain may have moved by local appends since the last batch.
    if (verifier_->head_seq(config_.site) != writer_->head_seq()) {
      verifier_->SetHead(config_.site, writer_->head_seq(), writer_->head_hash());
    }
    lookup_missed_ = false;
    // Signatures are checked when the pass is settled: one per origin and batch.
    auto accepted = verifier_->Accept(envelope, identity::ChainVerifier::Check::kAtSettle);
    if (accepted.ok()) {
      for (auto& v : *accepted) fresh.push_back(std::move(v));
      continue;
    }
    const Status& why = accepted.status();
    if (identity::IsDuplicate(why)) {
      // At or below the stored head: the same bytes, or a fork.
      auto [se, e] = DecodeBoth(envelope);
      if (e.ok()) {
        std::optional<crdt::Hash> held_hash = UnstoredHash(e->id());
        if (!held_hash) {
          BATON_ASSIGN_OR_RETURN(auto stored, store_->Get(e->id()));
          if (stored) held_hash = stored->hash;
        }
        const crdt::Hash hash = identity::HashPayload(se->payload);
        if (held_hash && *held_hash != hash) {
          // Evidence only if the origin signed it: a peer could make up any bytes.
          const auto key = SignerKeyOf(e->origin);
          if (se->signature.empty() || !key ||
              !identity::Verify(se->payload, se->signature, *key)) {
            ++r.rejected;
            ++rejected_[e->origin];
            problem("event " + e->id().ToString() +
                    " differs from the stored one and carries no valid signature of its origin");
            continue;
          }
          store::StoredEvent evidence{e->id(), e->prev_hash, hash, std::string(envelope), 0};
          BATON_TRY(store_->RecordFork(evidence));
          ++r.forks;
          ++fork_count_;
          problem("fork: " + e->id().ToString() + " differs from the stored event (hash " +
                  identity::HashHex(hash).substr(0, 16) + "... vs " +
                  identity::HashHex(*held_hash).substr(0, 16) + "...)");
          continue;
        }
      }
      ++r.duplicates;
      continue;
    }
    if (lookup_missed_ || why.message().rfind("gap: ", 0) == 0) {
      retry->push_back(envelope);
      continue;
    }
    ++r.rejected;
    auto [se, e] = DecodeBoth(envelope);
    ++rejected_[e.ok() ? e->origin : std::string("?")];
    problem(why.message());
  }
  if (verifier_) {
    identity::ChainVerifier::Settled settled = verifier_->Settle();
    for (auto& v : settled.events) fresh.push_back(std::move(v));
    for (const auto& [origin, why] : settled.rejected) {
      ++r.rejected;
      ++rejected_[origin];
      problem(why.message());
    }
    r.held = verifier_->pending_total();
  }
  if (fresh.empty()) return r;

  const int64_t now = clock_();
  for (auto& v : fresh) {
    const crdt::Event& e = v.event;
    BATON_TRY(projection_.Apply(e).WithContext("folding received event " + e.id().ToString()));
    // Stored with the next group; the envelope is not needed past the store.
    unstored_[e.id()] = v.hash;
    received_.push_back(
        store::StoredEvent{e.id(), e.prev_hash, v.hash, std::move(v.envelope), now});
    if (e.origin == config_.site) {
      r.own_events = true;
      writer_->SetHead(e.seq, v.hash);
      hlc_.Restore(e.hlc);
      continue;
    }
    const auto received = hlc_.Receive(e.hlc, now);
    if (received.quarantined) {
      quarantined_[e.origin] = received.skew_ms;
      r.quarantined.emplace_back(e.origin, received.skew_ms);
    } else {
      quarantined_.erase(e.origin);
    }
  }
  r.stored = fresh.size();
  return r;
}

Result<crdt::EventId> Ledger::Append(Draft draft) {
  BATON_ASSIGN_OR_RETURN(crdt::EventId id, Stage(std::move(draft)));
  BATON_TRY(Commit());
  return id;
}

bool Ledger::SnapshotDue() const {
  // A snapshot costs in proportion to the whole state: spacing them by a share of the log keeps
  // the cost per event constant however long the weekend (a 300,000-event catch-up spent a third
  // of its time writing snapshots every 10,000), and a start still folds at most that share
  // (half of a million events: 0.6 s, see fold_bench in bench/README.md).
  const uint64_t due =
      std::max<uint64_t>(config_.snapshot_every, projection_.event_count() / kSnapshotShare);
  return events_since_snapshot_ >= due;
}

Status Ledger::MaybeSnapshot() {
  // Only while the projection holds exactly what is stored.
  if (!SnapshotDue() || has_pending() || committing()) return Status::Ok();
  events_since_snapshot_ = 0;
  // A snapshot is an optimisation: failing to write one loses nothing.
  Status s = store_->PutSnapshot(projection_.SerializeSnapshot(), store_->LastArrival());
  if (!s.ok()) std::fprintf(stderr, "batond: snapshot not written: %s\n", s.ToString().c_str());
  return Status::Ok();
}

std::string Ledger::StateDigest() const {
  if (digest_version_ != state_version()) {
    identity::StateDigestStream out;
    projection_.WriteCanonical(out);
    digest_ = out.Finish();
    digest_version_ = state_version();
  }
  return digest_;
}

Status Ledger::ReadServed(uint64_t cursor, size_t max, std::vector<ServedEvent>* out,
                          size_t max_bytes) const {
  out->clear();
  std::vector<store::Arrival> raw;
  BATON_TRY(store_->ScanArrivals(cursor, max, &raw, max_bytes));
  std::map<crdt::SiteId, std::pair<uint64_t, crdt::Hash>> last;  // Per origin in this read.
  for (auto& [arrival, arrived_ms, stored] : raw) {
    const std::string where = "arrival " + std::to_string(arrival) + " (" + stored.id.ToString() +
                              ") in " + config_.StorePath().string();
    const auto altered = [&](const std::string& what) {
      return Status::Corruption(
          where + ": " + what +
          ": the log was altered and is not served (docs/operations.md#repair)");
    };
    auto decoded = DecodeStored(stored);
    if (!decoded.ok()) return altered(decoded.status().message());
    if (decoded->payload_hash != stored.hash) {
      return altered("the payload's hash is not the stored hash");
    }
    auto event = std::move(decoded->event);
    // The chain: linked to the event before it, read here or stored.
    crdt::Hash before{};
    if (event.seq > 1) {
      const auto it = last.find(event.origin);
      if (it != last.end() && it->second.first == event.seq - 1) {
        before = it->second.second;
      } else {
        BATON_ASSIGN_OR_RETURN(auto previous,
                               store_->Get(crdt::EventId{event.origin, event.seq - 1}));
        if (!previous) return altered("its predecessor is not stored");
        before = previous->hash;
      }
    }
    if (event.prev_hash != before) return altered("it does not link to its predecessor's hash");
    last[event.origin] = {event.seq, stored.hash};
    out->push_back(ServedEvent{arrival, arrived_ms, stored.hash, std::move(event),
                               std::move(stored.envelope)});
  }
  return Status::Ok();
}

Result<StoredPayload> DecodePayload(std::string_view envelope_bytes) {
  auto envelope = crdt::DecodeEnvelopeView(envelope_bytes);
  if (!envelope.ok()) return envelope.status();
  StoredPayload out;
  out.payload_hash = identity::HashPayload(envelope->payload);
  BATON_ASSIGN_OR_RETURN(out.event, crdt::DecodeEvent(envelope->payload));
  return out;
}

Result<StoredPayload> DecodeStored(const store::StoredEvent& stored) {
  BATON_ASSIGN_OR_RETURN(StoredPayload out, DecodePayload(stored.envelope));
  if (out.event.id() != stored.id) {
    return Status::Corruption("the payload is event " + out.event.id().ToString());
  }
  if (out.event.prev_hash != stored.prev_hash) {
    return Status::Corruption("prev_hash differs from the stored one");
  }
  return out;
}

Result<store::IndexRebuild> Ledger::Repair(const Config& config) {
  store::StoreOptions so;
  so.path = config.StorePath();
  so.site = config.site;
  // Every hash from the payload, never the stored one: a damaged stored hash or head is not
  // adopted, and what the payloads do not prove is refused.
  return store::EventStore::RebuildIndex(
      so, [](const store::StoredEvent& stored) -> Result<crdt::Hash> {
        BATON_ASSIGN_OR_RETURN(StoredPayload decoded, DecodeStored(stored));
        return decoded.payload_hash;
      });
}

Status Ledger::ScrubStep(size_t max, int64_t now_ms, int64_t interval_ms) {
  if (!scrub_.damage.ok()) return Status::Ok();
  if (!scrubbing_) {
    if (now_ms - scrub_.last_pass_ms < interval_ms) return Status::Ok();
    scrubbing_ = true;
    scrub_.cursor = 0;
  }
  std::vector<ServedEvent> batch;
  Status read = ReadServed(scrub_.cursor, max, &batch);
  if (read.code() == StatusCode::kCorruption) {
    scrub_.damage = read;
    spdlog::error("scrub: {}", read.message());
    return Status::Ok();
  }
  BATON_TRY(read);
  if (batch.empty()) {
    scrubbing_ = false;
    ++scrub_.passes;
    scrub_.last_pass_ms = now_ms;
    scrub_.last_pass_events = scrub_.cursor;
    return Status::Ok();
  }
  scrub_.cursor = batch.back().arrival;
  return Status::Ok();
}

Result<crdt::Event> Ledger::EventById(const crdt::EventId& id) const {
  BATON_ASSIGN_OR_RETURN(auto stored, store_->Get(id));
  if (!stored) return Status::NotFound("event " + id.ToString() + " is not in the log");
  BATON_ASSIGN_OR_RETURN(crdt::SignedEvent se, crdt::DecodeEnvelope(stored->envelope));
  return crdt::DecodeEvent(se.payload);
}

}  // namespace baton::daemon
