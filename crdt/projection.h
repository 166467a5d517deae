// Projection: the fold of a runbook's events into its current state (plan header, tasks,
// statuses, notes, authorization flags). The state is a pure function of the event SET: events
// of different origins may come in any order, duplicates are no-ops, and equal sets give equal
// CanonicalBytes (others hash them into the state digest).
// Apply only records the event (cheap); views are derived on demand and cached with dirty flags.
// Authorization (docs/replication.md#authorization) is evaluated while deriving: each event is
// judged against the roster and the task as they stood at its own (hlc, origin, seq) place, i.e.
// by the counted events ordered before it, so a later move or roster change never voids it and
// an event that arrives before the roster that allows it still counts once that arrives.
// The roster itself is anchored: with a trust anchor set (SetTrustAnchor, the manager site every
// site is initialised with), only that site's plan can start the roster; without one (pure tests,
// offline tools) the first plan in hlc order does.
// Not thread-safe, not even for const calls (they fill caches): owned by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crdt/event.h"
#include "crdt/register.h"
#include "crdt/set.h"
#include "crdt/status.h"
#include "crdt/task_state.h"
#include "crdt/version_vector.h"

namespace baton::crdt {

// The manager site whose plan starts the roster, and its Ed25519 public key (raw, 32 bytes).
// An empty `site` means no anchor.
struct TrustAnchor {
  SiteId site;
  std::string public_key;

  bool set() const { return !site.empty(); }
  friend bool operator==(const TrustAnchor&, const TrustAnchor&) = default;
};

class Projection {
 public:
  Projection();

  // Folds one event in. Already contained (by the version vector): no-op, Ok. A seq past
  // Seen(origin) + 1 (a gap) or an event of another runbook: kInvalidArgument, nothing applied.
  // The first event fixes the runbook id.
  Status Apply(const Event& e);

  // The trust anchor, an input like the events (call it before or after Apply; the derived
  // views follow). With an anchor, a PlanDefined starts the roster only if it comes from
  // `site` and its roster lists `site` as a manager with exactly `public_key`; any other plan
  // made while no roster is in force is kept and flagged. Later plan events count only from a
  // manager of the roster in force, as without an anchor. An empty `site` removes the anchor:
  // then the first plan in hlc order starts the roster. Not part of the snapshot (see
  // FromSnapshot) nor of the canonical bytes, which show its effect through the flags and header.
  void SetTrustAnchor(SiteId site, std::string public_key);
  const TrustAnchor& trust_anchor() const { return anchor_; }

  const VersionVector& version_vector() const { return vv_; }
  uint64_t event_count() const { return event_count_; }  // Distinct events applied.
  const std::string& runbook_id() const { return runbook_id_; }

  // Ids of the tasks that exist (a counted add or plan lists them) and are not removed, sorted.
  std::vector<std::string> TaskIds() const;
  // Every event touching `id` is reflected, including on removed or never-added tasks (see
  // TaskState::exists/removed); nullptr if no event names it. Valid until the next Apply.
  const TaskState* Task(std::string_view id) const;
  // The task's status plus the derived ones: kReady = pending with every predecessor satisfied
  // (finish-to-start: done or skipped; start-to-start: running, done or skipped; the others do
  // not gate the start), kBlocked = pending with such a predecessor failed or blocked.
  // Predecessors that do not exist or are removed are ignored; a dependency cycle is never ready.
  // kPending for an unknown task.
  TaskStatus EffectiveStatus(std::string_view id) const;

  // Calls `f` on every task that exists and is not removed, in order of first mention.
  void ForEachTask(const std::function<void(const TaskState&)>& f) const;

  // Header winners plus the current specs of the existing, non-removed tasks (sorted by id).
  Plan CurrentPlan() const;

  // Header registers. Only counted plan events write them.
  const MvRegister<std::string>& name() const { return Header().name; }
  const MvRegister<std::string>& timezone() const { return Header().timezone; }
  const MvRegister<int64_t>& window_start() const { return Header().window_start; }
  const MvRegister<int64_t>& window_end() const { return Header().window_end; }
  const MvRegister<std::vector<SiteInfo>>& roster() const { return Header().roster; }
  const MvRegister<std::vector<std::string>>& teams() const { return Header().teams; }
  bool HeaderConflict() const;  // Any header register with more than one live value.
  // The winning roster's entry for `site`; nullptr if not on it.
  const SiteInfo* RosterEntry(std::string_view site) const;
  // The key that verifies `site`'s signatures: the winning roster's, or for a site no longer on
  // it, the last key a counted roster gave it (its events from before the removal still verify;
  // what they may change is judged as of each event). Empty if no counted roster named a key.
  std::string SignerKey(std::string_view site) const;
  // The sites a counted roster named that the winning roster no longer does (removed), each as
  // last named, sorted by id.
  std::vector<SiteInfo> FormerSites() const;
  // Notes on the runbook as a whole (NoteAdded with an empty task id), in (hlc, id) order.
  const GSet<Note>& notes() const { return Header().notes; }

  // Events kept but not counted (authorization, malformed), sorted by id.
  std::vector<Flag> flags() const;

  // Deterministic bytes of the derived state: equal event sets give equal bytes, whatever the
  // order they were applied in. Internal indices never appear in it. WriteCanonical streams
  // them (into a hash, say) task by task, without holding them all; CanonicalBytes collects them.
  void WriteCanonical(std::ostream& out) const;
  std::string CanonicalBytes() const;

  // The inputs (not the derived caches), Cereal portable binary behind a magic and a checksum.
  std::string SerializeSnapshot() const;
  // kCorruption on bytes SerializeSnapshot did not produce. Restoring then applying more events
  // equals folding them all. The result has no trust anchor: the owner sets it again.
  static Result<Projection> FromSnapshot(std::string_view bytes);

 private:
  // A plan-level event: PlanDefined (its task list stripped: tasks keep their own copies),
  // PlanAmended, or a runbook-level NoteAdded.
  struct PlanRecord {
    EventId id;
    Hlc hlc;
    std::string actor;
    Body body;

    template <class Archive>
    void serialize(Archive& ar) {
      ar(id, hlc, actor, body);
    }
  };

  struct HeaderState {
    MvRegister<std::string> name, timezone;
    MvRegister<int64_t> window_start, window_end;
    MvRegister<std::vector<SiteInfo>> roster;
    MvRegister<std::vector<std::string>> teams;
    GSet<Note> notes;
    std::vector<Flag> flags;
    // Every site a counted roster named, as the last one named it.
    std::map<SiteId, SiteInfo, std::less<>> named;
  };

  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  // Index of the task with this id in tasks_, or -1.
  int64_t FindTask(std::string_view id, uint64_t hash) const;
  int64_t FindTask(std::string_view id) const { return FindTask(id, NameHash{}(id)); }
  TaskState& TaskFor(const std::string& id);  // Creates the task if needed.
  void IndexTask(uint64_t hash, uint32_t index);
  void Malformed(const Event& e, std::string why);
  const HeaderState& Header() const;  // Derives the header and authority if needed.
  const TaskState& Derived(const TaskState& task) const;
  void InvalidateViews() const;
  void ComputeEffectiveStatuses() const;

  // ---- Inputs ----
  TrustAnchor anchor_;  // Set by the owner (from its config); not in the snapshot.
  // What a snapshot holds:
  std::string runbook_id_;
  VersionVector vv_;
  uint64_t event_count_ = 0;
  std::shared_ptr<NameTable> names_;  // Shared by copies: append-only, indices stay valid.
  std::vector<PlanRecord> plan_records_;
  std::vector<PlanRecord> runbook_notes_;
  std::vector<Flag> malformed_;
  // Tasks in order of first mention, found through task_slots_: an open-addressing table
  // (linear probing, power-of-two size, at most half full) of (high hash bits, index + 1), 0
  // when free. A lookup probes this small array, then compares the id in the task itself,
  // which the event is about to touch anyway: the fold's cost is its cache misses.
  std::vector<TaskState> tasks_;
  std::vector<uint64_t> task_slots_;

  // ---- Derived caches ----
  mutable bool header_dirty_ = true;
  mutable HeaderState header_;
  mutable Authority authority_;
  mutable uint64_t auth_epoch_ = 1;  // Bumped when the authority changes: tasks re-derive.
  mutable std::vector<Flag> flags_;
  mutable bool flags_valid_ = false;
  mutable std::vector<TaskStatus> effective_;  // By index in tasks_.
  mutable bool effective_valid_ = false;
};

}  // namespace baton::crdt
