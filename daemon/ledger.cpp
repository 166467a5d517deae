// See daemon/ledger.h.
#include "daemon/ledger.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <system_error>

#include "crdt/event_codec.h"
#include "daemon/curve_keys.h"

namespace baton::daemon {

int64_t SystemWallClock() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Ledger::Ledger(Config config, WallClock clock)
    : config_(std::move(config)), clock_(std::move(clock)), hlc_(config_.max_clock_skew_ms) {}

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

Result<std::unique_ptr<Ledger>> Ledger::Open(const Config& config, WallClock clock,
                                             bool read_only) {
  std::unique_ptr<Ledger> l(new Ledger(config, std::move(clock)));
  l->read_only_ = read_only;
  BATON_ASSIGN_OR_RETURN(l->keys_, identity::ReadKeyFiles(config.KeyDir()));
  store::StoreOptions so;
  so.path = config.StorePath();
  so.site = config.site;
  so.read_only = read_only;
  BATON_ASSIGN_OR_RETURN(l->store_, store::EventStore::Open(so));

  auto heads = l->store_->Heads();
  // Keep the clock monotonic across restarts: never below this site's newest timestamp (which
  // is past everything merged before it), then past the newest of every other origin as a
  // receipt would be, judged against that timestamp or the wall clock, whichever is later: a
  // timestamp beyond the skew bound stays quarantined instead of dragging the clock after it.
  if (const auto own = heads.find(config.site); own != heads.end() && own->second.seq > 0) {
    BATON_ASSIGN_OR_RETURN(crdt::Event e, l->EventById(crdt::EventId{own->first, own->second.seq}));
    l->hlc_.Restore(e.hlc);
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
  return l;
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
      usable = ReplayAfter((*snap)->second);
    }
    if (usable.ok()) usable = MatchesTheLog();
    if (usable.ok()) return Status::Ok();
    std::fprintf(stderr, "batond: projection snapshot unusable (%s); rebuilding from the log\n",
                 usable.ToString().c_str());
    projection_ = crdt::Projection();
  }
  return FoldWholeLog();
}

Status Ledger::ReplayAfter(uint64_t cursor) {
  std::vector<std::pair<uint64_t, crdt::Event>> batch;
  while (true) {
    batch.clear();
    BATON_TRY(EventsAfter(cursor, 4096, &batch));
    if (batch.empty()) break;
    for (const auto& [arrival, e] : batch) {
      BATON_TRY(projection_.Apply(e).WithContext("rebuilding projection at " + e.id().ToString()));
      cursor = arrival;
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
  }
  crdt::Event e;
  e.hlc = hlc_.Now(clock_());
  e.actor = std::move(draft.actor);
  e.body = std::move(draft.body);
  std::vector<crdt::Event> drafts;
  drafts.push_back(std::move(e));
  // Built (and so signed) one at a time, so that later drafts see earlier ones in the projection
  // and every staged event carries its own signature.
  auto built = writer_->Build(std::move(drafts));
  BATON_CHECK(built.size() == 1);
  Status applied = projection_.Apply(built[0].event);
  if (!applied.ok()) {
    // Roll the writer back: the event was never stored.
    writer_->SetHead(built[0].event.seq - 1, built[0].event.prev_hash);
    return applied;
  }
  crdt::EventId id = built[0].event.id();
  staged_.push_back(std::move(built[0]));
  return id;
}

Status Ledger::Commit() {
  if (staged_.empty()) return Status::Ok();
  std::vector<store::StoredEvent> batch;
  batch.reserve(staged_.size());
  for (auto& v : staged_) {
    batch.push_back(store::StoredEvent{v.event.id(), v.event.prev_hash, v.hash, v.envelope});
  }
  const size_t n = staged_.size();
  staged_.clear();
  // Ack only after the synced batch: docs/operations.md#durability.
  BATON_TRY(store_->Append(std::move(batch)));
  events_since_snapshot_ += n;
  return MaybeSnapshot();
}

Result<crdt::EventId> Ledger::Append(Draft draft) {
  BATON_ASSIGN_OR_RETURN(crdt::EventId id, Stage(std::move(draft)));
  BATON_TRY(Commit());
  return id;
}

Status Ledger::MaybeSnapshot() {
  if (events_since_snapshot_ < config_.snapshot_every) return Status::Ok();
  events_since_snapshot_ = 0;
  // A snapshot is an optimisation: failing to write one loses nothing.
  Status s = store_->PutSnapshot(projection_.SerializeSnapshot(), store_->LastArrival());
  if (!s.ok()) std::fprintf(stderr, "batond: snapshot not written: %s\n", s.ToString().c_str());
  return Status::Ok();
}

std::string Ledger::StateDigest() const {
  // The projection only grows, so its event count names the state the digest was taken of.
  if (digest_event_count_ != projection_.event_count() || digest_.empty()) {
    identity::StateDigestStream out;
    projection_.WriteCanonical(out);
    digest_ = out.Finish();
    digest_event_count_ = projection_.event_count();
  }
  return digest_;
}

Status Ledger::EventsAfter(uint64_t cursor, size_t max,
                           std::vector<std::pair<uint64_t, crdt::Event>>* out) const {
  std::vector<std::pair<uint64_t, store::StoredEvent>> raw;
  BATON_TRY(store_->ScanArrivals(cursor, max, &raw));
  for (auto& [arrival, stored] : raw) {
    BATON_ASSIGN_OR_RETURN(crdt::SignedEvent se, crdt::DecodeEnvelope(stored.envelope));
    BATON_ASSIGN_OR_RETURN(crdt::Event e, crdt::DecodeEvent(se.payload));
    out->emplace_back(arrival, std::move(e));
  }
  return Status::Ok();
}

Result<crdt::Event> Ledger::EventById(const crdt::EventId& id) const {
  BATON_ASSIGN_OR_RETURN(auto stored, store_->Get(id));
  if (!stored) return Status::NotFound("event " + id.ToString() + " is not in the log");
  BATON_ASSIGN_OR_RETURN(crdt::SignedEvent se, crdt::DecodeEnvelope(stored->envelope));
  return crdt::DecodeEvent(se.payload);
}

}  // namespace baton::daemon
