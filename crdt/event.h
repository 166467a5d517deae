// The event: the single source of truth. Everything else (task state, schedule, reports) is a
// pure function of the set of events. An event is identified everywhere by (origin, seq).
// Wire/disk format: docs/event-format.md; bytes come from crdt/event_codec only, and the body
// variant's alternative index is the on-wire tag, so alternatives are only ever appended.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "crdt/hlc.h"

namespace baton::crdt {

using SiteId = std::string;            // Roster id of a site, e.g. "hq", "vendor-de".
using Hash = std::array<uint8_t, 32>;  // BLAKE2b-256 of an event's payload bytes.

// Sentinel for "no time given" in every *_ms field (milliseconds since epoch, UTC).
inline constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();
// The domain of times and durations: every time a client gives lies in [kMinTimeMs,
// kMaxTimeMs) (2000-01-01 to 2100-01-01 UTC), every duration in [0, kMaxDurationMs] (366 days)
// and every lag within ±kMaxDurationMs. The schedule treats a value outside it in an event from
// elsewhere as not given (a time) or clamps it (a duration, a lag), so no sum overflows.
inline constexpr int64_t kMinTimeMs = 946684800000;
inline constexpr int64_t kMaxTimeMs = 4102444800000;
inline constexpr int64_t kMaxDurationMs = int64_t{366} * 24 * 3600 * 1000;

// The payload format version (docs/event-format.md#10-versioning) in which Cereal archives read
// and write the fields that came with it (2: SiteInfo::teams, TaskSpec::deciders; 3:
// PlanDefined::fences, TaskPatch::deciders). The event
// codec sets it around each event it encodes or decodes; every other archive (snapshots) uses
// the newest, with every field.
namespace format {
inline constexpr uint16_t kNewest = 3;
inline thread_local uint16_t current = kNewest;
// Sets `current` for its lifetime.
class Scope {
 public:
  explicit Scope(uint16_t version) : saved_(current) { current = version; }
  ~Scope() { current = saved_; }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  uint16_t saved_;
};
}  // namespace format

struct EventId {
  SiteId origin;
  uint64_t seq = 0;  // 1, 2, 3, ... contiguous per origin.

  friend auto operator<=>(const EventId&, const EventId&) = default;
  friend bool operator==(const EventId&, const EventId&) = default;
  std::string ToString() const { return origin + "/" + std::to_string(seq); }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(origin, seq);
  }
};

// ---- The plan -------------------------------------------------------------------------------

enum class TaskKind : uint8_t { kTask = 0, kMilestone = 1, kGate = 2 };

enum class DependencyType : uint8_t {
  kFinishToStart = 0,  // Successor starts after predecessor finishes (+lag).
  kStartToStart = 1,   // Successor starts after predecessor starts (+lag).
  kFinishToFinish = 2,
  kStartToFinish = 3,
};

struct Dependency {
  std::string task_id;
  DependencyType type = DependencyType::kFinishToStart;
  int64_t lag_ms = 0;  // May be negative (lead).

  friend bool operator==(const Dependency&, const Dependency&) = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(task_id, type, lag_ms);
  }
};

struct TaskSpec {
  std::string id;  // Chosen by the planner: "T-042".
  std::string title;
  std::string phase;  // Phase or stream: "freeze", "backup", "deploy", ...
  std::string team;   // Owner team.
  SiteId site;        // Site that executes (and may report on) the task.
  TaskKind kind = TaskKind::kTask;
  int64_t planned_start_ms = kNoTime;  // Absolute; kNoTime: as soon as predecessors allow.
  int64_t not_before_ms = kNoTime;     // Time lock: may not start earlier than this.
  int64_t duration_ms = 0;
  std::vector<Dependency> predecessors;
  std::string backout_task;  // Task that undoes this one; empty if none.
  bool is_backout = false;   // Part of the back-out path: not run unless the team backs out.
  // Who decides a gate besides the managers: site ids or team names (format 2). Empty: the
  // task's site and team, as for reports.
  std::vector<std::string> deciders;

  friend bool operator==(const TaskSpec&, const TaskSpec&) = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, title, phase, team, site, kind, planned_start_ms, not_before_ms, duration_ms,
       predecessors, backout_task, is_backout);
    if (format::current >= 2) ar(deciders);
  }
};

enum class SiteRole : uint8_t {
  kManager = 0,   // May amend the plan and report on any task.
  kSite = 1,      // May report on tasks of this site or of its teams.
  kObserver = 2,  // Read-only: its reports and notes are kept but flagged.
};

struct SiteInfo {
  SiteId id;
  std::string name;
  std::string public_key;  // Raw Ed25519 public key, 32 bytes.
  SiteRole role = SiteRole::kSite;
  std::string endpoint;  // Peer endpoint, e.g. "tcp://127.0.0.1:7101"; may be empty.
  // Teams whose tasks this site may report on besides its own site's (format 2).
  std::vector<std::string> teams;

  friend bool operator==(const SiteInfo&, const SiteInfo&) = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, name, public_key, role, endpoint);
    if (format::current >= 2) ar(teams);
  }
};

struct Plan {
  std::string runbook_id;
  std::string name;
  std::string timezone;  // IANA name used for display and for parsing local times.
  int64_t window_start_ms = kNoTime;
  int64_t window_end_ms = kNoTime;
  std::vector<SiteInfo> sites;
  std::vector<std::string> teams;
  std::vector<TaskSpec> tasks;

  friend bool operator==(const Plan&, const Plan&) = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(runbook_id, name, timezone, window_start_ms, window_end_ms, sites, teams, tasks);
  }
};

// ---- Bodies ---------------------------------------------------------------------------------

// A site a roster change removes, with the last seq of its chain the remover held (format 3).
// The site keeps its key: its events up to `seq` are judged as of when they were made, its
// later ones as of the removal at the earliest, whatever clock they carry.
struct Fence {
  SiteId site;
  uint64_t seq = 0;

  friend bool operator==(const Fence&, const Fence&) = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(site, seq);
  }
};

// The plan as imported. Sets the runbook header (name, timezone, window, roster, teams) and
// adds or replaces every listed task. Tasks not listed are left alone (use TaskRemoved).
struct PlanDefined {
  Plan plan;
  std::vector<EventId> supersedes;  // Earlier header values this import replaces.
  std::vector<Fence> fences;        // Sites this roster change removes (format 3).
  template <class Archive>
  void serialize(Archive& ar) {
    ar(plan, supersedes);
    if (format::current >= 3) ar(fences);
  }
};

// Amends the runbook header. Unset fields are unchanged.
struct PlanAmended {
  std::optional<std::string> name;
  std::optional<int64_t> window_start_ms;
  std::optional<int64_t> window_end_ms;
  std::vector<EventId> supersedes;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, window_start_ms, window_end_ms, supersedes);
  }
};

struct TaskAdded {
  TaskSpec spec;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(spec);
  }
};

// Field edits of one task; unset fields are unchanged. For the time fields, kNoTime clears.
struct TaskPatch {
  std::optional<std::string> title, phase, team, site;
  std::optional<int64_t> planned_start_ms, not_before_ms, duration_ms;
  std::optional<std::vector<Dependency>> predecessors;
  std::optional<std::string> backout_task;
  std::optional<std::vector<std::string>> deciders;  // A gate's deciders (format 3); [] clears.

  template <class Archive>
  void serialize(Archive& ar) {
    ar(title, phase, team, site, planned_start_ms, not_before_ms, duration_ms, predecessors,
       backout_task);
    if (format::current >= 3) ar(deciders);
  }
};

struct TaskChanged {
  std::string task_id;
  TaskPatch patch;
  std::vector<EventId> supersedes;  // The edits of these fields that the author saw.
  template <class Archive>
  void serialize(Archive& ar) {
    ar(task_id, patch, supersedes);
  }
};

struct TaskRemoved {
  std::string task_id;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(task_id);
  }
};

enum class ReportKind : uint8_t {
  kStarted = 0,
  kDone = 1,
  kFailed = 2,
  kSkipped = 3,
  kReset = 4,  // Back to pending: a retry or a back-out.
};

// A status report on a task: "T-042 started", "done at 02:10", "failed: ...".
struct TaskReported {
  std::string task_id;
  ReportKind kind = ReportKind::kStarted;
  int64_t effective_ms = kNoTime;   // When it really happened, if the reporter says so.
  std::string note;                 // Reason for a failure, or a remark.
  std::vector<EventId> supersedes;  // The status reports the author saw for this task.
  template <class Archive>
  void serialize(Archive& ar) {
    ar(task_id, kind, effective_ms, note, supersedes);
  }
};

struct NoteAdded {
  std::string task_id;  // Empty: a note on the runbook as a whole.
  std::string text;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(task_id, text);
  }
};

// The decision at a go/no-go gate.
struct GateDecided {
  std::string task_id;
  bool go = false;
  int64_t effective_ms = kNoTime;
  std::string note;
  std::vector<EventId> supersedes;  // Earlier decisions at this gate that the author saw.
  template <class Archive>
  void serialize(Archive& ar) {
    ar(task_id, go, effective_ms, note, supersedes);
  }
};

// Alternative index = wire tag. Append new kinds at the end only.
using Body = std::variant<PlanDefined, PlanAmended, TaskAdded, TaskChanged, TaskRemoved,
                          TaskReported, NoteAdded, GateDecided>;

// Short stable name of a body kind: "plan_defined", "task_reported", ...
const char* BodyKindName(const Body& body);

// ---- The event ------------------------------------------------------------------------------

// The signed content of an event. The signature is not part of it: see SignedEvent in
// crdt/event_codec.h (a signature over event N vouches for the origin's events 1..N).
struct Event {
  std::string runbook_id;
  SiteId origin;
  uint64_t seq = 0;
  Hlc hlc;            // Recording time.
  Hash prev_hash{};   // BLAKE2b-256 of the origin's previous payload; zeros for seq 1.
  std::string actor;  // Who reported: "alice@vendor-de" (OS user, optionally a name).
  Body body;

  EventId id() const { return EventId{origin, seq}; }
};

}  // namespace baton::crdt
