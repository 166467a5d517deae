// TaskState derivation. Every register here is evaluated in batch over the counted records:
// live = counted writes that no counted write of the same register supersedes. That is the
// MvRegister rule (crdt/register.h) computed from the set, hence independent of arrival order.
#include "crdt/task_state.h"

#include <algorithm>
#include <utility>

namespace baton::crdt {

namespace {

// Body alternative indices (crdt/event.h: the index is the wire tag, so it is stable).
constexpr uint8_t kListing = 0;  // PlanDefined listing this task.
constexpr uint8_t kAdded = 2;
constexpr uint8_t kChanged = 3;
constexpr uint8_t kRemoved = 4;
constexpr uint8_t kReported = 5;
constexpr uint8_t kNote = 6;
constexpr uint8_t kGate = 7;

const char* BodyIndexName(uint8_t body) {
  static constexpr const char* kNames[] = {"plan_defined", "plan_amended", "task_added",
                                           "task_changed", "task_removed", "task_reported",
                                           "note_added",   "gate_decided"};
  return body < std::size(kNames) ? kNames[body] : "unknown";
}

enum Field : int {
  kTitle,
  kPhase,
  kTeam,
  kSite,
  kKind,
  kPlannedStart,
  kNotBefore,
  kDuration,
  kPredecessors,
  kBackoutTask,
  kIsBackout,
  kFieldCount,
};

const char* FieldName(int field) {
  static constexpr const char* kNames[] = {"title",         "phase",       "team",
                                           "site",          "kind",        "planned_start_ms",
                                           "not_before_ms", "duration_ms", "predecessors",
                                           "backout_task",  "is_backout"};
  return kNames[field];
}

void CopyField(const TaskSpec& from, int field, TaskSpec& to) {
  switch (field) {
    case kTitle:
      to.title = from.title;
      break;
    case kPhase:
      to.phase = from.phase;
      break;
    case kTeam:
      to.team = from.team;
      break;
    case kSite:
      to.site = from.site;
      break;
    case kKind:
      to.kind = from.kind;
      break;
    case kPlannedStart:
      to.planned_start_ms = from.planned_start_ms;
      break;
    case kNotBefore:
      to.not_before_ms = from.not_before_ms;
      break;
    case kDuration:
      to.duration_ms = from.duration_ms;
      break;
    case kPredecessors:
      to.predecessors = from.predecessors;
      break;
    case kBackoutTask:
      to.backout_task = from.backout_task;
      break;
    case kIsBackout:
      to.is_backout = from.is_backout;
      break;
    default:
      break;
  }
}

// Copies the patched field into `to`; false if the patch leaves it unset.
bool CopyPatchField(const TaskPatch& p, int field, TaskSpec& to) {
  switch (field) {
    case kTitle:
      return p.title && (to.title = *p.title, true);
    case kPhase:
      return p.phase && (to.phase = *p.phase, true);
    case kTeam:
      return p.team && (to.team = *p.team, true);
    case kSite:
      return p.site && (to.site = *p.site, true);
    case kPlannedStart:
      return p.planned_start_ms && (to.planned_start_ms = *p.planned_start_ms, true);
    case kNotBefore:
      return p.not_before_ms && (to.not_before_ms = *p.not_before_ms, true);
    case kDuration:
      return p.duration_ms && (to.duration_ms = *p.duration_ms, true);
    case kPredecessors:
      return p.predecessors && (to.predecessors = *p.predecessors, true);
    case kBackoutTask:
      return p.backout_task && (to.backout_task = *p.backout_task, true);
    default:
      return false;  // kind and is_backout come from adds only.
  }
}

bool PatchSets(const TaskPatch& p, int field) {
  switch (field) {
    case kTitle:
      return p.title.has_value();
    case kPhase:
      return p.phase.has_value();
    case kTeam:
      return p.team.has_value();
    case kSite:
      return p.site.has_value();
    case kPlannedStart:
      return p.planned_start_ms.has_value();
    case kNotBefore:
      return p.not_before_ms.has_value();
    case kDuration:
      return p.duration_ms.has_value();
    case kPredecessors:
      return p.predecessors.has_value();
    case kBackoutTask:
      return p.backout_task.has_value();
    default:
      return false;
  }
}

bool FieldEquals(const TaskSpec& a, const TaskSpec& b, int field) {
  switch (field) {
    case kTitle:
      return a.title == b.title;
    case kPhase:
      return a.phase == b.phase;
    case kTeam:
      return a.team == b.team;
    case kSite:
      return a.site == b.site;
    case kKind:
      return a.kind == b.kind;
    case kPlannedStart:
      return a.planned_start_ms == b.planned_start_ms;
    case kNotBefore:
      return a.not_before_ms == b.not_before_ms;
    case kDuration:
      return a.duration_ms == b.duration_ms;
    case kPredecessors:
      return a.predecessors == b.predecessors;
    case kBackoutTask:
      return a.backout_task == b.backout_task;
    case kIsBackout:
      return a.is_backout == b.is_backout;
    default:
      return true;
  }
}

TaskStatus StatusOf(ReportKind kind) {
  switch (kind) {
    case ReportKind::kStarted:
      return TaskStatus::kRunning;
    case ReportKind::kDone:
      return TaskStatus::kDone;
    case ReportKind::kFailed:
      return TaskStatus::kFailed;
    case ReportKind::kSkipped:
      return TaskStatus::kSkipped;
    case ReportKind::kReset:
      return TaskStatus::kPending;
  }
  return TaskStatus::kPending;
}

}  // namespace

const char* TaskStatusName(TaskStatus status) {
  switch (status) {
    case TaskStatus::kPending:
      return "pending";
    case TaskStatus::kReady:
      return "ready";
    case TaskStatus::kRunning:
      return "running";
    case TaskStatus::kDone:
      return "done";
    case TaskStatus::kFailed:
      return "failed";
    case TaskStatus::kSkipped:
      return "skipped";
    case TaskStatus::kBlocked:
      return "blocked";
  }
  return "unknown";
}

const char* ReportKindName(ReportKind kind) {
  switch (kind) {
    case ReportKind::kStarted:
      return "started";
    case ReportKind::kDone:
      return "done";
    case ReportKind::kFailed:
      return "failed";
    case ReportKind::kSkipped:
      return "skipped";
    case ReportKind::kReset:
      return "reset";
  }
  return "unknown";
}

// ---- NameTable --------------------------------------------------------------------------------

uint32_t NameTable::Intern(std::string_view name) {
  auto it = index_.find(name);
  if (it != index_.end()) return it->second;
  auto index = static_cast<uint32_t>(names_.size());
  names_.emplace_back(name);
  index_.emplace(names_.back(), index);
  return index;
}

uint32_t NameTable::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? size() : it->second;
}

// ---- Inputs -------------------------------------------------------------------------------------

namespace {

// Grows by a quarter instead of doubling: records are most of a projection's memory
// (docs target: 10,000 tasks + 1,000,000 events in 64 MiB), and appends are amortized anyway.
template <class T>
void ReserveForAppend(std::vector<T>& v, size_t extra) {
  if (v.size() + extra <= v.capacity()) return;
  v.reserve(std::max(v.size() + extra, v.capacity() + v.capacity() / 4 + 4));
}

}  // namespace

TaskState::Record& TaskState::NewRecord(const Event& e, uint8_t body, NameTable& names,
                                        const std::vector<EventId>& supersedes) {
  ReserveForAppend(records_, 1);
  ReserveForAppend(sups_, supersedes.size());
  Record& r = records_.emplace_back();
  r.wall_ms = e.hlc.wall_ms;
  r.logical = e.hlc.logical;
  r.seq = e.seq;
  r.origin = names.Intern(e.origin);
  r.actor = names.Intern(e.actor);
  r.body = body;
  r.sup_begin = static_cast<uint32_t>(sups_.size());
  for (const EventId& s : supersedes) sups_.push_back(RecordId::Of(names.Intern(s.origin), s.seq));
  dirty_ = true;
  return r;
}

void TaskState::AddListing(const Event& e, const TaskSpec& spec,
                           const std::vector<EventId>& supersedes, NameTable& names) {
  Record& r = NewRecord(e, kListing, names, supersedes);
  r.payload = static_cast<uint32_t>(specs_.size());
  specs_.push_back(spec);
}

void TaskState::AddEvent(const Event& e, NameTable& names) {
  static const std::vector<EventId> kNone;
  auto extra = [this](int64_t effective_ms, const std::string& text) {
    if (effective_ms == kNoTime && text.empty()) return kNoPayload;
    extras_.push_back(Extra{effective_ms, text});
    return static_cast<uint32_t>(extras_.size() - 1);
  };
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, TaskAdded>) {
          Record& r = NewRecord(e, kAdded, names, kNone);
          r.payload = static_cast<uint32_t>(specs_.size());
          specs_.push_back(b.spec);
        } else if constexpr (std::is_same_v<T, TaskChanged>) {
          Record& r = NewRecord(e, kChanged, names, b.supersedes);
          r.payload = static_cast<uint32_t>(patches_.size());
          patches_.push_back(b.patch);
        } else if constexpr (std::is_same_v<T, TaskRemoved>) {
          NewRecord(e, kRemoved, names, kNone);
        } else if constexpr (std::is_same_v<T, TaskReported>) {
          Record& r = NewRecord(e, kReported, names, b.supersedes);
          r.kind = static_cast<uint8_t>(b.kind);
          r.payload = extra(b.effective_ms, b.note);
        } else if constexpr (std::is_same_v<T, NoteAdded>) {
          Record& r = NewRecord(e, kNote, names, kNone);
          r.payload = extra(kNoTime, b.text);
        } else if constexpr (std::is_same_v<T, GateDecided>) {
          Record& r = NewRecord(e, kGate, names, b.supersedes);
          r.kind = b.go ? 1 : 0;
          r.payload = extra(b.effective_ms, b.note);
        }
        // PlanDefined (AddListing) and PlanAmended never reach a task.
      },
      e.body);
}

bool TaskState::Valid(uint32_t name_count) const {
  uint32_t sup_floor = 0;
  for (const Record& r : records_) {
    if (r.origin >= name_count || r.actor >= name_count) return false;
    if (r.sup_begin < sup_floor || r.sup_begin > sups_.size()) return false;
    sup_floor = r.sup_begin;
    switch (r.body) {
      case kListing:
      case kAdded:
        if (r.payload >= specs_.size()) return false;
        break;
      case kChanged:
        if (r.payload >= patches_.size()) return false;
        break;
      case kReported:
        if (r.kind > static_cast<uint8_t>(ReportKind::kReset)) return false;
        [[fallthrough]];
      case kNote:
      case kGate:
        if (r.payload != kNoPayload && r.payload >= extras_.size()) return false;
        break;
      case kRemoved:
        break;
      default:
        return false;
    }
  }
  if (records_.empty() && !sups_.empty()) return false;
  for (const RecordId& s : sups_) {
    if (s.origin >= name_count) return false;
  }
  return true;
}

// ---- Derivation -------------------------------------------------------------------------------

EventId TaskState::IdOf(const Record& r, const NameTable& names) const {
  return EventId{names.Name(r.origin), r.seq};
}

bool TaskState::Wins(const Record& a, const Record& b, const NameTable& names) const {
  if (a.wall_ms != b.wall_ms) return a.wall_ms > b.wall_ms;
  if (a.logical != b.logical) return a.logical > b.logical;
  if (a.origin != b.origin) return names.Name(a.origin) > names.Name(b.origin);
  return a.seq > b.seq;
}

std::vector<size_t> TaskState::LiveOf(const std::vector<size_t>& candidates,
                                      const NameTable& names) const {
  if (candidates.size() == 1) {  // The common case: one write, live unless it names itself.
    auto [first, last] = SupRange(candidates[0]);
    for (size_t k = first; k < last; ++k) {
      if (sups_[k] == records_[candidates[0]].rid()) return {};
    }
    return candidates;
  }
  std::vector<RecordId> hidden;
  for (size_t i : candidates) {
    auto [first, last] = SupRange(i);
    hidden.insert(hidden.end(), sups_.begin() + static_cast<std::ptrdiff_t>(first),
                  sups_.begin() + static_cast<std::ptrdiff_t>(last));
  }
  std::sort(hidden.begin(), hidden.end());
  std::vector<size_t> live;
  for (size_t i : candidates) {
    if (!std::binary_search(hidden.begin(), hidden.end(), records_[i].rid())) live.push_back(i);
  }
  std::sort(live.begin(), live.end(),
            [&](size_t a, size_t b) { return Wins(records_[a], records_[b], names); });
  return live;
}

void TaskState::Derive(const Authority& authority) const {
  BATON_CHECK(authority.names != nullptr);
  d_ = Derived{};
  d_.names = authority.names;
  d_.counted.assign(records_.size(), false);
  d_.spec.id = id_;
  DeriveSpec(authority);
  DeriveReports(authority);
  DeriveGate(authority);

  const NameTable& names = *authority.names;
  const auto kSiteRole = static_cast<uint8_t>(SiteRole::kSite);
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    if (r.body != kNote) continue;
    uint8_t role = authority.RoleOf(r.origin);
    if (authority.IsManager(r.origin) || role == kSiteRole) {
      d_.counted[i] = true;
      d_.notes.Add(Note{r.hlc(), IdOf(r, names), names.Name(r.actor), TextOf(r)});
    }
  }

  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    if (d_.counted[i] || r.body == kListing) continue;  // Plan-level flags name the plan.
    const std::string& origin = names.Name(r.origin);
    std::string reason = std::string(BodyIndexName(r.body)) + " on task \"" + id_ +
                         "\" from site \"" + origin + "\": ";
    if (authority.RoleOf(r.origin) == Authority::kNone) {
      reason += "site is not on the roster";
    } else if (r.body == kAdded || r.body == kChanged || r.body == kRemoved) {
      reason += "only a manager may edit the plan";
    } else if (r.body == kNote) {
      reason += "an observer may not add notes";
    } else {
      reason += "neither the task's site (\"" + d_.spec.site + "\") nor a manager";
    }
    d_.flags.push_back(Flag{IdOf(r, names), std::move(reason)});
  }
  std::sort(d_.flags.begin(), d_.flags.end(),
            [](const Flag& a, const Flag& b) { return a.id < b.id; });
  dirty_ = false;
}

void TaskState::DeriveSpec(const Authority& authority) const {
  const NameTable& names = *authority.names;
  // Plan edits that count: from a manager, or listed in a PlanDefined that counted.
  std::vector<size_t> edits;
  std::vector<size_t> existence;  // Counted adds, listings and removals.
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    bool counts = false;
    if (r.body == kListing) {
      counts = std::binary_search(authority.plans.begin(), authority.plans.end(), r.rid());
    } else if (r.body == kAdded || r.body == kChanged || r.body == kRemoved) {
      counts = authority.IsManager(r.origin);
    } else {
      continue;
    }
    if (!counts) continue;
    d_.counted[i] = true;
    if (r.body != kRemoved) edits.push_back(i);
    if (r.body != kChanged) existence.push_back(i);
  }

  for (size_t i : existence) {
    if (records_[i].body != kRemoved) d_.exists = true;
  }
  if (d_.exists) {
    size_t last = existence.front();
    for (size_t i : existence) {
      if (Wins(records_[i], records_[last], names)) last = i;
    }
    d_.removed = records_[last].body == kRemoved;
  }

  std::vector<size_t> setters;
  TaskSpec scratch_a, scratch_b;
  for (int field = 0; field < kFieldCount; ++field) {
    setters.clear();
    for (size_t i : edits) {
      const Record& r = records_[i];
      if (r.body != kChanged || PatchSets(patches_[r.payload], field)) setters.push_back(i);
    }
    if (setters.empty()) continue;
    std::vector<size_t> live = LiveOf(setters, names);
    if (live.empty()) continue;  // Only possible with a cycle of supersedes.
    auto load = [&](size_t i, TaskSpec& out) {
      const Record& r = records_[i];
      if (r.body == kChanged) {
        CopyPatchField(patches_[r.payload], field, out);
      } else {
        CopyField(specs_[r.payload], field, out);
      }
    };
    for (size_t i : live) d_.live_edit_ids.push_back(IdOf(records_[i], names));
    load(live.front(), d_.spec);
    bool conflict = false;
    for (size_t k = 1; k < live.size() && !conflict; ++k) {
      load(live.front(), scratch_a);
      load(live[k], scratch_b);
      conflict = !FieldEquals(scratch_a, scratch_b, field);
    }
    if (conflict) d_.conflicting_fields.emplace_back(FieldName(field));
  }
}

void TaskState::DeriveReports(const Authority& authority) const {
  const NameTable& names = *authority.names;
  const uint32_t site = names.Find(d_.spec.site);
  const auto kSiteRole = static_cast<uint8_t>(SiteRole::kSite);
  std::vector<size_t> reports;
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    if (r.body != kReported) continue;
    if (authority.IsManager(r.origin) ||
        (r.origin == site && authority.RoleOf(r.origin) == kSiteRole)) {
      d_.counted[i] = true;
      reports.push_back(i);
    }
  }
  if (reports.empty()) return;
  std::vector<size_t> live = LiveOf(reports, names);
  if (live.empty()) return;

  auto to_report = [&](size_t i) {
    const Record& r = records_[i];
    return Report{IdOf(r, names), r.hlc(),  names.Name(r.actor), static_cast<ReportKind>(r.kind),
                  EffectiveOf(r), TextOf(r)};
  };
  for (size_t i : live) d_.live_reports.push_back(to_report(i));
  const Report& winner = d_.live_reports.front();
  d_.status = StatusOf(winner.kind);
  for (const Report& r : d_.live_reports) {
    if (StatusOf(r.kind) != d_.status) d_.status_conflict = true;
  }

  switch (winner.kind) {
    case ReportKind::kStarted:
      d_.actual_start_ms = winner.time_ms();
      return;
    case ReportKind::kReset:
      return;
    case ReportKind::kDone:
    case ReportKind::kFailed:
    case ReportKind::kSkipped:
      d_.actual_finish_ms = winner.time_ms();
      break;
  }
  // Walk back from the winner through what it superseded, to the latest started report
  // before any reset.
  std::vector<std::pair<RecordId, size_t>> by_id;
  by_id.reserve(reports.size());
  for (size_t i : reports) by_id.emplace_back(records_[i].rid(), i);
  std::sort(by_id.begin(), by_id.end());
  std::vector<bool> seen(records_.size(), false);
  std::vector<size_t> stack{live.front()};
  seen[live.front()] = true;
  std::optional<size_t> started;
  while (!stack.empty()) {
    const Record& r = records_[stack.back()];
    size_t index = stack.back();
    stack.pop_back();
    auto kind = static_cast<ReportKind>(r.kind);
    if (kind == ReportKind::kStarted) {
      if (!started || Wins(r, records_[*started], names)) started = index;
      continue;
    }
    if (kind == ReportKind::kReset) continue;
    auto [first, last] = SupRange(index);
    for (size_t k = first; k < last; ++k) {
      RecordId s = sups_[k];
      auto it = std::lower_bound(by_id.begin(), by_id.end(), std::make_pair(s, size_t{0}));
      if (it == by_id.end() || it->first != s || seen[it->second]) continue;
      seen[it->second] = true;
      stack.push_back(it->second);
    }
  }
  if (started) d_.actual_start_ms = to_report(*started).time_ms();
}

void TaskState::DeriveGate(const Authority& authority) const {
  const NameTable& names = *authority.names;
  const uint32_t site = names.Find(d_.spec.site);
  const auto kSiteRole = static_cast<uint8_t>(SiteRole::kSite);
  std::vector<size_t> gates;
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    if (r.body != kGate) continue;
    if (authority.IsManager(r.origin) ||
        (r.origin == site && authority.RoleOf(r.origin) == kSiteRole)) {
      d_.counted[i] = true;
      gates.push_back(i);
    }
  }
  if (gates.empty()) return;
  for (size_t i : LiveOf(gates, names)) {
    const Record& r = records_[i];
    d_.live_gates.push_back(GateDecision{IdOf(r, names), r.hlc(), names.Name(r.actor), r.kind == 1,
                                         EffectiveOf(r), TextOf(r)});
  }
  for (const GateDecision& g : d_.live_gates) {
    if (g.go != d_.live_gates.front().go) d_.gate_conflict = true;
  }
}

// ---- Views --------------------------------------------------------------------------------------

std::vector<EventId> TaskState::LiveEditIds() const {
  std::vector<EventId> ids = d_.live_edit_ids;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::vector<EventId> TaskState::LiveReportIds() const {
  std::vector<EventId> ids;
  for (const Report& r : d_.live_reports) ids.push_back(r.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<EventId> TaskState::LiveGateIds() const {
  std::vector<EventId> ids;
  for (const GateDecision& g : d_.live_gates) ids.push_back(g.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<HistoryEntry> TaskState::History() const {
  std::vector<HistoryEntry> out;
  if (d_.names == nullptr) return out;  // Never derived.
  const NameTable& names = *d_.names;
  std::vector<size_t> order(records_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return Wins(records_[b], records_[a], names); });
  out.reserve(order.size());
  for (size_t i : order) {
    const Record& r = records_[i];
    bool counted = i < d_.counted.size() ? static_cast<bool>(d_.counted[i]) : true;
    out.push_back(
        HistoryEntry{IdOf(r, names), r.hlc(), names.Name(r.actor), BodyIndexName(r.body), counted});
  }
  return out;
}

}  // namespace baton::crdt
