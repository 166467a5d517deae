// TaskState: everything the events say about one task. It keeps the raw inputs (one compact
// record per event touching the task) and derives, on demand, the current view: the spec from
// per-field registers, the status register of reports, the gate decision, notes, removal.
// Derivation is a pure function of the record SET plus the authority (the roster's history) it
// is given, so delivery order never matters; Projection decides when to re-derive (dirty flags).
// Each record is judged by the roster and the task's site as of its own (hlc, origin, seq).
// Site ids and actors are interned in a NameTable owned by the Projection, to keep records small.
#pragma once

#include <algorithm>
#include <cereal/cereal.hpp>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crdt/event.h"
#include "crdt/hlc.h"
#include "crdt/set.h"
#include "crdt/status.h"

namespace baton::crdt {

enum class TaskStatus { kPending, kReady, kRunning, kDone, kFailed, kSkipped, kBlocked };

// "pending", "ready", "running", "done", "failed", "skipped", "blocked".
const char* TaskStatusName(TaskStatus status);
// "started", "done", "failed", "skipped", "reset".
const char* ReportKindName(ReportKind kind);

// An event kept but not counted (authorization), with the reason.
struct Flag {
  EventId id;
  std::string reason;

  friend bool operator==(const Flag&, const Flag&) = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, reason);
  }
};

// A status report as the task shows it.
struct Report {
  EventId id;
  Hlc hlc;
  std::string actor;
  ReportKind kind = ReportKind::kStarted;
  int64_t effective_ms = kNoTime;
  std::string note;

  // When it happened: the effective time if the reporter gave one, else the recording time.
  int64_t time_ms() const { return effective_ms != kNoTime ? effective_ms : hlc.wall_ms; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, hlc, actor, kind, effective_ms, note);
  }
};

struct GateDecision {
  EventId id;
  Hlc hlc;
  std::string actor;
  bool go = false;
  int64_t effective_ms = kNoTime;
  std::string note;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, hlc, actor, go, effective_ms, note);
  }
};

// A note; ordered by (hlc, origin, seq), the order every replica shows them in.
struct Note {
  Hlc hlc;
  EventId id;
  std::string actor;
  std::string text;

  friend auto operator<=>(const Note& a, const Note& b) {
    if (auto c = a.hlc <=> b.hlc; c != 0) return c;
    return a.id <=> b.id;
  }
  friend bool operator==(const Note& a, const Note& b) { return a.id == b.id; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(hlc, id, actor, text);
  }
};

// One event touching the task, for the timeline.
struct HistoryEntry {
  EventId id;
  Hlc hlc;
  std::string actor;
  const char* kind = "";  // Body kind name: "task_reported", ...
  bool counted = true;    // False if authorization kept it out of the state.
};

// Interned strings (site ids, actors). Indices are local to one projection: they are never
// compared for order and never appear in canonical bytes.
class NameTable {
 public:
  uint32_t Intern(std::string_view name);
  const std::string& Name(uint32_t index) const { return names_[index]; }
  uint32_t size() const { return static_cast<uint32_t>(names_.size()); }
  // Index of `name`, or size() if it was never interned.
  uint32_t Find(std::string_view name) const;

  template <class Archive>
  void save(Archive& ar) const {
    ar(names_);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(names_);
    index_.clear();
    for (uint32_t i = 0; i < names_.size(); ++i) index_.emplace(names_[i], i);
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> names_;
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> index_;
};

// An event id with an interned origin, 12 bytes (plans that count; unresolved supersedes).
struct RecordId {
  uint32_t origin = 0;
  uint32_t seq_hi = 0;
  uint32_t seq_lo = 0;

  static RecordId Of(uint32_t origin, uint64_t seq) {
    return RecordId{origin, static_cast<uint32_t>(seq >> 32), static_cast<uint32_t>(seq)};
  }
  uint64_t seq() const { return (uint64_t{seq_hi} << 32) | seq_lo; }
  friend bool operator==(const RecordId&, const RecordId&) = default;
  friend auto operator<=>(const RecordId&, const RecordId&) = default;  // Local order only.
  template <class Archive>
  void serialize(Archive& ar) {
    ar(origin, seq_hi, seq_lo);
  }
};

// A place in the order every replica judges events in: (hlc, origin, seq), the order of
// WinsOver (crdt/register.h), with the origin interned. Ties on the hlc compare origin names.
struct OrderKey {
  Hlc hlc;
  uint32_t origin = 0;  // Interned site id.
  uint64_t seq = 0;

  friend bool operator==(const OrderKey&, const OrderKey&) = default;
  // True if `a` comes before `b`.
  static bool Less(const OrderKey& a, const OrderKey& b, const NameTable& names) {
    if (a.hlc != b.hlc) return a.hlc < b.hlc;
    if (a.origin != b.origin) return names.Name(a.origin) < names.Name(b.origin);
    return a.seq < b.seq;
  }
};

// What the derivation needs to know about the roster and the plan-level events. The roster is
// a history: each event is judged against the roster in force at its own place in (hlc,
// origin, seq) order (docs/replication.md#authorization), not against today's.
struct Authority {
  // Role per interned name (index); names past the end or kNone are not on the roster.
  static constexpr uint8_t kNone = 0xff;
  // The winning roster from the counted PlanDefined at `start` on, until the next epoch's start.
  // Before the first epoch no roster is in force.
  struct Epoch {
    OrderKey start;
    std::vector<uint8_t> roles;  // SiteRole values, without trailing kNone entries.
    // The teams the roster gives each site (SiteInfo::teams), by interned name, without
    // trailing empty entries: usually empty.
    std::vector<std::vector<std::string>> teams;
    friend bool operator==(const Epoch&, const Epoch&) = default;
  };
  std::vector<Epoch> epochs;  // Sorted by start; consecutive epochs differ in roles or teams.
  // A removal's fence (PlanDefined::fences): the site's events past `seq` are judged as of the
  // removal at `at` at the earliest, so a removed site cannot count by stamping new events with
  // an old clock.
  struct Fence {
    uint64_t seq = 0;
    OrderKey at;
    friend bool operator==(const Fence&, const Fence&) = default;
  };
  std::vector<std::vector<Fence>> fences;  // By interned name; usually empty.
  // PlanDefined events that counted (their task listings count too), sorted.
  std::vector<RecordId> plans;
  std::shared_ptr<const NameTable> names;  // Never null when deriving.
  bool any_teams = false;                  // Some epoch gives some site a team.

  // The epoch in force for an event at `at` (the one that starts last before it); nullptr
  // before the first roster. Usually the last epoch: checked first.
  const Epoch* EpochAt(const OrderKey& at) const {
    if (epochs.empty()) return nullptr;
    if (OrderKey::Less(epochs.back().start, at, *names)) return &epochs.back();
    auto after = std::partition_point(epochs.begin(), epochs.end(), [&](const Epoch& e) {
      return OrderKey::Less(e.start, at, *names);
    });
    return after == epochs.begin() ? nullptr : &*std::prev(after);
  }
  // The epoch an event of site `name` at `at` is judged by: EpochAt, unless a fence of the site
  // that `at` passes lies after it: then the epoch in force at that fence (the removal's own).
  const Epoch* EpochFor(uint32_t name, const OrderKey& at) const {
    const OrderKey* fenced = nullptr;
    if (name < fences.size()) {
      for (const Fence& f : fences[name]) {
        if (at.seq > f.seq && OrderKey::Less(at, f.at, *names) &&
            (fenced == nullptr || OrderKey::Less(*fenced, f.at, *names))) {
          fenced = &f.at;
        }
      }
    }
    if (fenced == nullptr) return EpochAt(at);
    auto after = std::partition_point(epochs.begin(), epochs.end(), [&](const Epoch& e) {
      return !OrderKey::Less(*fenced, e.start, *names);
    });
    return after == epochs.begin() ? nullptr : &*std::prev(after);
  }
  uint8_t RoleAt(uint32_t name, const OrderKey& at) const {
    const Epoch* epoch = EpochFor(name, at);
    return epoch != nullptr && name < epoch->roles.size() ? epoch->roles[name] : kNone;
  }
  // The teams of site `name` as of `at`; empty if none.
  const std::vector<std::string>& TeamsAt(uint32_t name, const OrderKey& at) const {
    static const std::vector<std::string> kNoTeams;
    const Epoch* epoch = EpochFor(name, at);
    return epoch != nullptr && name < epoch->teams.size() ? epoch->teams[name] : kNoTeams;
  }
};

// An append-only sequence stored in fixed chunks of kChunk elements: appends never move
// elements (references stay valid) and never free memory, so thousands of sequences growing
// side by side do not fragment the heap the way growing vectors do. Saved as a Cereal sequence.
// A moved-from ChunkedVector is empty.
template <class T, size_t kChunk>
class ChunkedVector {
 public:
  static_assert((kChunk & (kChunk - 1)) == 0, "kChunk must be a power of two");

  ChunkedVector() = default;
  ChunkedVector(ChunkedVector&& other) noexcept { *this = std::move(other); }
  ChunkedVector& operator=(ChunkedVector&& other) noexcept {
    if (this == &other) return *this;
    chunks_ = std::move(other.chunks_);
    size_ = other.size_;
    tail_ = other.tail_;
    other.chunks_.clear();
    other.size_ = 0;
    other.tail_ = nullptr;
    return *this;
  }
  ChunkedVector(const ChunkedVector& other) { *this = other; }
  ChunkedVector& operator=(const ChunkedVector& other) {
    if (this == &other) return *this;
    clear();
    for (size_t i = 0; i < other.size(); ++i) push_back(other[i]);
    return *this;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The last chunk is reached without the chunk table: appends and the backward searches of
  // recent elements touch one cache line less.
  T& operator[](size_t i) { return const_cast<T&>(std::as_const(*this)[i]); }
  const T& operator[](size_t i) const {
    const size_t tail_begin = (size_ - 1) & ~(kChunk - 1);
    return i >= tail_begin ? tail_[i - tail_begin] : chunks_[i / kChunk][i % kChunk];
  }
  T& back() { return (*this)[size_ - 1]; }
  T& push_back(T value) {
    if (size_ % kChunk == 0) {
      chunks_.push_back(std::make_unique<T[]>(kChunk));
      tail_ = chunks_.back().get();
    }
    T& slot = tail_[size_ % kChunk];
    slot = std::move(value);
    ++size_;
    return slot;
  }
  void clear() {
    chunks_.clear();
    size_ = 0;
    tail_ = nullptr;
  }

  template <class Archive>
  void save(Archive& ar) const {
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(size_)));
    for (size_t i = 0; i < size_; ++i) ar((*this)[i]);
  }
  template <class Archive>
  void load(Archive& ar) {
    cereal::size_type n = 0;
    ar(cereal::make_size_tag(n));
    clear();
    for (cereal::size_type i = 0; i < n; ++i) {  // A short stream throws before n is reached.
      T value;
      ar(value);
      push_back(std::move(value));
    }
  }

 private:
  size_t size_ = 0;
  T* tail_ = nullptr;  // chunks_.back(), the chunk of the next append's predecessors.
  std::vector<std::unique_ptr<T[]>> chunks_;
};

class alignas(64) TaskState {
 public:
  explicit TaskState(std::string id = {}) : id_(std::move(id)) {}

  // ---- Inputs (Projection::Apply). Each event is added once; order does not matter. --------
  // `supersedes` are the ids the event names; `actor` and record origins are interned.
  void AddListing(const Event& e, const TaskSpec& spec, const std::vector<EventId>& supersedes,
                  NameTable& names);                // A task listed in PlanDefined.
  void AddEvent(const Event& e, NameTable& names);  // TaskAdded ... GateDecided on this task.

  // ---- Derivation (Projection calls it when inputs or authority changed). ------------------
  void Derive(const Authority& authority) const;
  bool dirty() const { return dirty_; }
  uint64_t derived_epoch() const { return derived_epoch_; }
  void set_derived_epoch(uint64_t epoch) const { derived_epoch_ = epoch; }

  // ---- The derived view (valid after Derive). ----------------------------------------------
  const std::string& id() const { return id_; }
  bool exists() const { return d_->exists; }  // Some counted add or plan lists it.
  bool removed() const { return d_->removed; }
  // The spec from the field registers' winners (id always set; empty fields if !exists()).
  TaskSpec Spec() const { return *d_->spec; }
  const TaskSpec& spec() const { return *d_->spec; }
  bool FieldConflict() const { return !d_->conflicting_fields.empty(); }
  // Names of fields whose live values differ: "title", "duration_ms", ...
  const std::vector<std::string>& ConflictingFields() const { return d_->conflicting_fields; }
  // Sorted ids of the live writes of every field: what a new TaskChanged should supersede
  // (naming a write of another field is harmless: registers are per field).
  std::vector<EventId> LiveEditIds() const;

  // Status from the winning live report: started->running, done, failed, skipped, reset and
  // none->pending. Never kReady/kBlocked: those depend on other tasks (Projection).
  TaskStatus status() const { return d_->status; }
  // Live reports leading to different statuses ("done at A, failed at B").
  bool StatusConflict() const { return d_->status_conflict; }
  std::vector<Report> LiveReports() const;     // Winner first; built on each call.
  std::vector<EventId> LiveReportIds() const;  // Sorted: what a new report should supersede.
  // Start: time of the started report the winner follows (itself if it is one; the walk back
  // through supersedes stops at a reset). Finish: the winner's time if done/failed/skipped.
  int64_t actual_start_ms() const { return d_->actual_start_ms; }
  int64_t actual_finish_ms() const { return d_->actual_finish_ms; }

  const std::vector<GateDecision>& LiveGateDecisions() const { return d_->live_gates; }
  const GateDecision* GateWinner() const {
    return d_->live_gates.empty() ? nullptr : &d_->live_gates.front();
  }
  bool GateConflict() const { return d_->gate_conflict; }
  // The live decisions and withdrawals: what a new decision (or withdrawal) supersedes.
  std::vector<EventId> LiveGateIds() const;

  // The notes that count, in (hlc, origin, seq) order. Built on each call from the records (a
  // serving daemon would otherwise hold every note's text twice).
  std::vector<Note> Notes() const;
  const std::vector<Flag>& flags() const { return d_->flags; }  // Sorted by id.

  // Every event touching the task, by (hlc, origin, seq).
  std::vector<HistoryEntry> History() const;
  size_t record_count() const { return records_.size(); }

  // ---- Persistence (Projection's snapshot) ----------------------------------------------------
  template <class Archive>
  void save(Archive& ar) const {
    ar(id_, base_ms_, records_, wide_, sups_, unresolved_, extras_, text_, specs_, patches_);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(id_, base_ms_, records_, wide_, sups_, unresolved_, extras_, text_, specs_, patches_);
    dirty_ = true;
  }
  // False if some index is out of range (corrupt snapshot).
  bool Valid(uint32_t name_count) const;

 private:
  static constexpr uint32_t kNoPayload = 0xffffffff;
  // A supersedes entry naming an event that is not (yet) a record of this task.
  static constexpr uint32_t kUnresolved = 0xffffffff;
  static constexpr uint8_t kWideTag = 0x80;  // Record::tag bit: the id and hlc are in wide_.

  // 24 bytes: the bulk of a projection's memory is one of these per report. Ids and clocks
  // that do not fit the narrow fields (wall time more than 24 days from the task's first
  // record, seq or name index past 16/32 bits) live in wide_, indexed by `seq`.
  struct Record {
    int32_t wall_delta = 0;         // wall_ms - base_ms_.
    uint32_t seq = 0;               // Or the index into wide_ (tag & kWideTag).
    uint32_t payload = kNoPayload;  // Index into extras_, specs_ or patches_ (by body).
    // Supersedes: sups_[sup_begin, next record's sup_begin or sups_.size()). Records and their
    // supersedes are appended together, so the ranges are contiguous and in record order.
    uint32_t sup_begin = 0;
    uint16_t origin = 0;
    uint16_t actor = 0;
    uint16_t logical = 0;
    uint8_t tag = 0;   // Body alternative index, | kWideTag.
    uint8_t kind = 0;  // ReportKind; 1 = go for a gate decision.

    template <class Archive>
    void serialize(Archive& ar) {
      ar(wall_delta, seq, payload, sup_begin, origin, actor, logical, tag, kind);
    }
  };
  static_assert(sizeof(Record) == 24);

  // The id and hlc of a record whose values do not fit Record's narrow fields.
  struct WideId {
    int64_t wall_ms = 0;
    uint64_t seq = 0;
    uint32_t logical = 0;
    uint32_t origin = 0;
    uint32_t actor = 0;
    template <class Archive>
    void serialize(Archive& ar) {
      ar(wall_ms, seq, logical, origin, actor);
    }
  };

  // A supersedes entry (sups_[slot] == kUnresolved) waiting for the record it names.
  struct Unresolved {
    RecordId id;
    uint32_t slot = 0;
    template <class Archive>
    void serialize(Archive& ar) {
      ar(id, slot);
    }
  };

  // The rarer parts of reports, gate decisions and notes. The text's bytes are
  // text_[text_begin, text_begin + text_size).
  struct Extra {
    int64_t effective_ms = kNoTime;
    uint32_t text_begin = 0;
    uint32_t text_size = 0;
    template <class Archive>
    void serialize(Archive& ar) {
      ar(effective_ms, text_begin, text_size);
    }
  };

  struct Derived {
    bool exists = false;
    bool removed = false;
    // The winning spec: specs_[...] when one add or listing wins every field, else own_spec.
    const TaskSpec* spec = nullptr;
    std::unique_ptr<TaskSpec> own_spec;
    std::vector<std::string> conflicting_fields;
    std::vector<EventId> live_edit_ids;  // Of every field, sorted, each once.
    TaskStatus status = TaskStatus::kPending;
    bool status_conflict = false;
    std::vector<uint32_t> live_reports;  // Record indices, winner first.
    int64_t actual_start_ms = kNoTime;
    int64_t actual_finish_ms = kNoTime;
    std::vector<GateDecision> live_gates;
    std::vector<EventId> live_withdrawals;  // Resets that withdrew decisions, not superseded.
    bool gate_conflict = false;
    std::vector<Flag> flags;
    std::vector<bool> counted;  // Per record: did authorization let it count?
    std::shared_ptr<const NameTable> names;
  };

  Record& NewRecord(const Event& e, uint8_t body, NameTable& names,
                    const std::vector<EventId>& supersedes);
  // Index of the record with this id, or kUnresolved.
  uint32_t FindRecord(uint32_t origin, uint64_t seq) const;
  static uint8_t BodyOf(const Record& r) { return r.tag & static_cast<uint8_t>(~kWideTag); }
  bool IsWide(const Record& r) const { return (r.tag & kWideTag) != 0; }
  uint32_t OriginOf(const Record& r) const { return IsWide(r) ? wide_[r.seq].origin : r.origin; }
  uint32_t ActorOf(const Record& r) const { return IsWide(r) ? wide_[r.seq].actor : r.actor; }
  uint64_t SeqOf(const Record& r) const { return IsWide(r) ? wide_[r.seq].seq : r.seq; }
  int64_t WallOf(const Record& r) const {
    return IsWide(r) ? wide_[r.seq].wall_ms : base_ms_ + r.wall_delta;
  }
  uint32_t LogicalOf(const Record& r) const { return IsWide(r) ? wide_[r.seq].logical : r.logical; }
  Hlc HlcOf(const Record& r) const { return Hlc{WallOf(r), LogicalOf(r)}; }
  OrderKey KeyOf(const Record& r) const { return OrderKey{HlcOf(r), OriginOf(r), SeqOf(r)}; }
  EventId IdOf(const Record& r, const NameTable& names) const;
  // Supersedes of records_[i] as [first, last) indices into sups_.
  std::pair<size_t, size_t> SupRange(size_t i) const {
    size_t end = i + 1 < records_.size() ? records_[i + 1].sup_begin : sups_.size();
    return {records_[i].sup_begin, end};
  }
  int64_t EffectiveOf(const Record& r) const {
    return r.payload == kNoPayload ? kNoTime : extras_[r.payload].effective_ms;
  }
  std::string TextOf(const Record& r) const;
  Report ReportOf(size_t record, const NameTable& names) const;
  bool Wins(const Record& a, const Record& b, const NameTable& names) const;
  // Indices of `candidates` no candidate supersedes, winner first.
  std::vector<size_t> LiveOf(const std::vector<size_t>& candidates, const NameTable& names) const;
  // A field's register through time: from the counted write at `from` on (in (hlc, origin,
  // seq) order), its winner among the counted writes up to it is `winner` (a record index,
  // kUnresolved if none is live). A SiteStep also has the winner's interned id `site`
  // (kNoSite if none or never interned, so that it matches no origin).
  static constexpr uint32_t kNoSite = 0xffffffff;
  struct FieldStep {
    OrderKey from;
    uint32_t winner = kUnresolved;
  };
  struct SiteStep {
    OrderKey from;
    uint32_t winner = kUnresolved;
    uint32_t site = kNoSite;
  };
  // What reports and gate decisions are judged against: the task's site, team and deciders
  // through time. The team's history is only derived when the roster gives some site a team,
  // the deciders' when some write names any.
  struct Duty {
    std::vector<SiteStep> sites;
    std::vector<FieldStep> teams;
    std::vector<FieldStep> deciders;
  };
  void DeriveSpec(const Authority& authority) const;
  // One field's steps, from its counted writes (DeriveSpec's verdicts); sorted by `from`,
  // consecutive steps differ in winner.
  std::vector<FieldStep> FieldHistory(int field, const NameTable& names) const;
  Duty DutyOf(const Authority& authority) const;
  // The step in force for an event at `at` (the last starting before it); nullptr before any.
  template <class Step>
  static const Step* StepAt(const std::vector<Step>& steps, const OrderKey& at,
                            const NameTable& names);
  const std::string& SiteOf(const Record& write) const;  // Of a write that sets the site.
  const std::string& TeamOf(const Record& write) const;  // Of a write that sets the team.
  // The deciders as of `at` (empty if none are named).
  const std::vector<std::string>& DecidersAt(const Duty& duty, const OrderKey& at,
                                             const NameTable& names) const;
  // A report counts if its origin was a manager, or a site (kSite) that was the task's site or
  // that the roster gave the task's team, as of the event; a gate decision likewise, unless the
  // gate named deciders: then a manager or a site among them (by id or team). The rule of
  // docs/replication.md#authorization.
  bool MayReport(const Authority& authority, const Duty& duty, const Record& r) const;
  bool MayDecide(const Authority& authority, const Duty& duty, const Record& r) const;
  // Why a report or gate decision from a site (kSite) does not count.
  std::string WhyNot(const Authority& authority, const Duty& duty, const Record& r) const;
  void DeriveReports(const Authority& authority, const Duty& duty) const;
  void DeriveGate(const Authority& authority, const Duty& duty) const;
  // A reset report that supersedes a gate decision: it withdraws the decision (if its site may
  // decide the gate).
  bool WithdrawsDecision(size_t i) const;

  // What Apply touches on every event comes first, within the object's first two cache lines.
  std::string id_;
  int64_t base_ms_ = 0;  // Wall time of the first record: narrow records are relative to it.
  mutable bool dirty_ = true;
  mutable uint64_t derived_epoch_ = 0;
  ChunkedVector<Record, 16> records_;
  ChunkedVector<uint32_t, 64> sups_;  // Record indices, or kUnresolved (see unresolved_).
  std::vector<Unresolved> unresolved_;
  std::vector<WideId> wide_;
  ChunkedVector<Extra, 8> extras_;
  ChunkedVector<char, 128> text_;  // Texts of extras_, back to back.
  std::vector<TaskSpec> specs_;
  std::vector<TaskPatch> patches_;

  mutable std::unique_ptr<Derived> d_;  // Null until the first Derive.
};

}  // namespace baton::crdt
