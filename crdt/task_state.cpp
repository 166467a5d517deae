// TaskState derivation. Every register here is evaluated in batch over the counted records:
// live = counted writes that no counted write of the same register supersedes. That is the
// MvRegister rule (crdt/register.h) computed from the set, hence independent of arrival order.
#include "crdt/task_state.h"

#include <algorithm>
#include <cstdint>
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
  kDeciders,
  kFieldCount,
};

const char* FieldName(int field) {
  static constexpr const char* kNames[] = {"title",         "phase",       "team",
                                           "site",          "kind",        "planned_start_ms",
                                           "not_before_ms", "duration_ms", "predecessors",
                                           "backout_task",  "is_backout",  "deciders"};
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
    case kDeciders:
      to.deciders = from.deciders;
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
    case kDeciders:
      return p.deciders && (to.deciders = *p.deciders, true);
    default:
      return false;  // kind and is_backout come from adds and listings only.
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
    case kDeciders:
      return p.deciders.has_value();
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
    case kDeciders:
      return a.deciders == b.deciders;
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

TaskState::Record& TaskState::NewRecord(const Event& e, uint8_t body, NameTable& names,
                                        const std::vector<EventId>& supersedes) {
  const uint32_t origin = names.Intern(e.origin);
  const uint32_t actor = names.Intern(e.actor);
  if (records_.empty()) base_ms_ = e.hlc.wall_ms;
  const auto index = static_cast<uint32_t>(records_.size());
  Record& r = records_.push_back(Record{});
  int64_t delta = 0;
  const bool narrow = !__builtin_sub_overflow(e.hlc.wall_ms, base_ms_, &delta) &&
                      delta >= INT32_MIN && delta <= INT32_MAX && e.seq <= UINT32_MAX &&
                      e.hlc.logical <= UINT16_MAX && origin <= UINT16_MAX && actor <= UINT16_MAX;
  if (narrow) {
    r.wall_delta = static_cast<int32_t>(delta);
    r.seq = static_cast<uint32_t>(e.seq);
    r.logical = static_cast<uint16_t>(e.hlc.logical);
    r.origin = static_cast<uint16_t>(origin);
    r.actor = static_cast<uint16_t>(actor);
    r.tag = body;
  } else {
    r.seq = static_cast<uint32_t>(wide_.size());
    wide_.push_back(WideId{e.hlc.wall_ms, e.seq, e.hlc.logical, origin, actor});
    r.tag = static_cast<uint8_t>(body | kWideTag);
  }
  r.sup_begin = static_cast<uint32_t>(sups_.size());
  // Earlier supersedes naming this record now resolve to it.
  for (size_t k = 0; k < unresolved_.size();) {
    if (unresolved_[k].id.origin == origin && unresolved_[k].id.seq() == e.seq) {
      sups_[unresolved_[k].slot] = index;
      unresolved_[k] = unresolved_.back();
      unresolved_.pop_back();
    } else {
      ++k;
    }
  }
  for (const EventId& s : supersedes) {
    const uint32_t s_origin = names.Intern(s.origin);
    const uint32_t found = FindRecord(s_origin, s.seq);
    if (found == kUnresolved) {
      unresolved_.push_back(
          Unresolved{RecordId::Of(s_origin, s.seq), static_cast<uint32_t>(sups_.size())});
    }
    sups_.push_back(found);
  }
  dirty_ = true;
  return r;
}

uint32_t TaskState::FindRecord(uint32_t origin, uint64_t seq) const {
  // Each origin's events arrive in seq order, so its records here are in increasing seq
  // order: walking back, the first of its records with a lower seq ends the search.
  for (size_t i = records_.size(); i-- > 0;) {
    const Record& r = records_[i];
    if (OriginOf(r) != origin) continue;
    const uint64_t s = SeqOf(r);
    if (s == seq) return static_cast<uint32_t>(i);
    if (s < seq) break;
  }
  return kUnresolved;
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
    BATON_CHECK(text_.size() + text.size() <= UINT32_MAX);  // 4 GiB of notes on one task.
    extras_.push_back(Extra{effective_ms, static_cast<uint32_t>(text_.size()),
                            static_cast<uint32_t>(text.size())});
    for (char c : text) text_.push_back(c);
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
  std::vector<std::pair<uint32_t, uint64_t>> last_seq;  // Per origin seen: the seq order.
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    if (IsWide(r) && r.seq >= wide_.size()) return false;
    const uint32_t origin = OriginOf(r);
    if (origin >= name_count || ActorOf(r) >= name_count) return false;
    if (r.sup_begin < sup_floor || r.sup_begin > sups_.size()) return false;
    sup_floor = r.sup_begin;
    auto it = std::find_if(last_seq.begin(), last_seq.end(),
                           [&](const auto& entry) { return entry.first == origin; });
    if (it == last_seq.end()) {
      last_seq.emplace_back(origin, SeqOf(r));
    } else if (it->second >= SeqOf(r)) {
      return false;
    } else {
      it->second = SeqOf(r);
    }
    switch (BodyOf(r)) {
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
        if (r.payload == kNoPayload) break;
        if (r.payload >= extras_.size()) return false;
        if (uint64_t{extras_[r.payload].text_begin} + extras_[r.payload].text_size > text_.size()) {
          return false;
        }
        break;
      case kRemoved:
        break;
      default:
        return false;
    }
  }
  if (records_.empty() && !sups_.empty()) return false;
  size_t unresolved = 0;
  for (size_t k = 0; k < sups_.size(); ++k) {
    const uint32_t s = sups_[k];
    if (s == kUnresolved) {
      ++unresolved;
    } else if (s >= records_.size()) {
      return false;
    }
  }
  if (unresolved != unresolved_.size()) return false;
  for (const Unresolved& u : unresolved_) {
    if (u.id.origin >= name_count || u.slot >= sups_.size() || sups_[u.slot] != kUnresolved) {
      return false;
    }
    if (FindRecord(u.id.origin, u.id.seq()) != kUnresolved) return false;
  }
  // Distinct slots: with the count check above, every kUnresolved entry is listed once.
  std::vector<uint32_t> slots;
  slots.reserve(unresolved_.size());
  for (const Unresolved& u : unresolved_) slots.push_back(u.slot);
  std::sort(slots.begin(), slots.end());
  return std::adjacent_find(slots.begin(), slots.end()) == slots.end();
}

std::string TaskState::TextOf(const Record& r) const {
  std::string text;
  if (r.payload == kNoPayload) return text;
  const Extra& x = extras_[r.payload];
  text.resize(x.text_size);
  for (uint32_t i = 0; i < x.text_size; ++i) text[i] = text_[size_t{x.text_begin} + i];
  return text;
}

// ---- Derivation -------------------------------------------------------------------------------

EventId TaskState::IdOf(const Record& r, const NameTable& names) const {
  return EventId{names.Name(OriginOf(r)), SeqOf(r)};
}

bool TaskState::Wins(const Record& a, const Record& b, const NameTable& names) const {
  const int64_t a_wall = WallOf(a), b_wall = WallOf(b);
  if (a_wall != b_wall) return a_wall > b_wall;
  const uint32_t a_logical = LogicalOf(a), b_logical = LogicalOf(b);
  if (a_logical != b_logical) return a_logical > b_logical;
  const uint32_t a_origin = OriginOf(a), b_origin = OriginOf(b);
  if (a_origin != b_origin) return names.Name(a_origin) > names.Name(b_origin);
  return SeqOf(a) > SeqOf(b);
}

std::vector<size_t> TaskState::LiveOf(const std::vector<size_t>& candidates,
                                      const NameTable& names) const {
  if (candidates.size() == 1) {  // The common case: one write, live unless it names itself.
    auto [first, last] = SupRange(candidates[0]);
    for (size_t k = first; k < last; ++k) {
      if (sups_[k] == candidates[0]) return {};
    }
    return candidates;
  }
  std::vector<uint32_t> hidden;
  for (size_t i : candidates) {
    auto [first, last] = SupRange(i);
    for (size_t k = first; k < last; ++k) {
      if (sups_[k] != kUnresolved) hidden.push_back(sups_[k]);
    }
  }
  std::sort(hidden.begin(), hidden.end());
  std::vector<size_t> live;
  for (size_t i : candidates) {
    if (!std::binary_search(hidden.begin(), hidden.end(), i)) live.push_back(i);
  }
  std::sort(live.begin(), live.end(),
            [&](size_t a, size_t b) { return Wins(records_[a], records_[b], names); });
  return live;
}

void TaskState::Derive(const Authority& authority) const {
  BATON_CHECK(authority.names != nullptr);
  if (d_ == nullptr) {
    d_ = std::make_unique<Derived>();
  } else {
    *d_ = Derived{};
  }
  d_->names = authority.names;
  d_->counted.assign(records_.size(), false);
  const NameTable& names = *authority.names;
  DeriveSpec(authority);
  const Duty duty = DutyOf(authority);
  DeriveReports(authority, duty);
  DeriveGate(authority, duty);

  const auto kManagerRole = static_cast<uint8_t>(SiteRole::kManager);
  const auto kSiteRole = static_cast<uint8_t>(SiteRole::kSite);
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    if (BodyOf(r) != kNote) continue;
    const uint8_t role = authority.RoleAt(OriginOf(r), KeyOf(r));
    if (role == kManagerRole || role == kSiteRole) d_->counted[i] = true;
  }

  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    const uint8_t body = BodyOf(r);
    if (d_->counted[i] || body == kListing) continue;  // Plan-level flags name the plan.
    const std::string& origin = names.Name(OriginOf(r));
    std::string reason = std::string(BodyIndexName(body)) + " on task \"" + id_ +
                         "\" from site \"" + origin + "\": ";
    const uint8_t role = authority.RoleAt(OriginOf(r), KeyOf(r));
    if (role == Authority::kNone) {
      reason += "site is not on the roster as of the event";
    } else if (body == kAdded || body == kChanged || body == kRemoved) {
      reason += "only a manager may edit the plan";
    } else if (role == static_cast<uint8_t>(SiteRole::kObserver)) {
      reason += body == kNote       ? "an observer may not add notes"
                : body == kReported ? "an observer may not report"
                                    : "an observer may not decide a gate";
    } else {
      reason += WhyNot(authority, duty, r);
    }
    d_->flags.push_back(Flag{IdOf(r, names), std::move(reason)});
  }
  std::sort(d_->flags.begin(), d_->flags.end(),
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
    const uint8_t body = BodyOf(r);
    bool counts = false;
    if (body == kListing) {
      counts = std::binary_search(authority.plans.begin(), authority.plans.end(),
                                  RecordId::Of(OriginOf(r), SeqOf(r)));
    } else if (body == kAdded || body == kChanged || body == kRemoved) {
      counts = authority.RoleAt(OriginOf(r), KeyOf(r)) == static_cast<uint8_t>(SiteRole::kManager);
    } else {
      continue;
    }
    if (!counts) continue;
    d_->counted[i] = true;
    if (body != kRemoved) edits.push_back(i);
    if (body != kChanged) existence.push_back(i);
  }

  for (size_t i : existence) {
    if (BodyOf(records_[i]) != kRemoved) d_->exists = true;
  }
  if (d_->exists) {
    size_t last = existence.front();
    for (size_t i : existence) {
      if (Wins(records_[i], records_[last], names)) last = i;
    }
    d_->removed = BodyOf(records_[last]) == kRemoved;
  }

  std::vector<size_t> setters;
  TaskSpec merged, scratch_a, scratch_b;
  merged.id = id_;
  // When one add or listing wins every field (the usual case), the view points at its spec
  // instead of holding a copy.
  std::optional<size_t> source;
  bool one_source = true;
  for (int field = 0; field < kFieldCount; ++field) {
    setters.clear();
    for (size_t i : edits) {
      const Record& r = records_[i];
      if (BodyOf(r) != kChanged || PatchSets(patches_[r.payload], field)) setters.push_back(i);
    }
    if (setters.empty()) {
      one_source = false;
      continue;
    }
    std::vector<size_t> live = LiveOf(setters, names);
    if (live.empty()) {  // Only possible with a cycle of supersedes.
      one_source = false;
      continue;
    }
    if (BodyOf(records_[live.front()]) == kChanged || (source && *source != live.front())) {
      one_source = false;
    }
    source = live.front();
    auto load = [&](size_t i, TaskSpec& out) {
      const Record& r = records_[i];
      if (BodyOf(r) == kChanged) {
        CopyPatchField(patches_[r.payload], field, out);
      } else {
        CopyField(specs_[r.payload], field, out);
      }
    };
    for (size_t i : live) d_->live_edit_ids.push_back(IdOf(records_[i], names));
    load(live.front(), merged);
    bool conflict = false;
    for (size_t k = 1; k < live.size() && !conflict; ++k) {
      load(live.front(), scratch_a);
      load(live[k], scratch_b);
      conflict = !FieldEquals(scratch_a, scratch_b, field);
    }
    if (conflict) d_->conflicting_fields.emplace_back(FieldName(field));
  }
  if (one_source && source) {
    d_->spec = &specs_[records_[*source].payload];
  } else {
    d_->own_spec = std::make_unique<TaskSpec>(std::move(merged));
    d_->spec = d_->own_spec.get();
  }
  // One write usually sets every field: keep each id once.
  std::vector<EventId>& ids = d_->live_edit_ids;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  ids.shrink_to_fit();
}

std::vector<TaskState::FieldStep> TaskState::FieldHistory(int field, const NameTable& names) const {
  std::vector<uint32_t> writes;  // Counted writes of the field.
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    const uint8_t body = BodyOf(r);
    if (!d_->counted[i] || body == kRemoved || body == kReported || body == kNote ||
        body == kGate) {
      continue;
    }
    if (body == kChanged && !PatchSets(patches_[r.payload], field)) continue;
    writes.push_back(static_cast<uint32_t>(i));
  }
  std::sort(writes.begin(), writes.end(),
            [&](uint32_t a, uint32_t b) { return Wins(records_[b], records_[a], names); });
  // Replay the writes in order: after each, the register's live writes (the MvRegister rule over
  // the writes so far) and their winner. Usually one write, the listing.
  std::vector<FieldStep> steps;
  std::vector<uint32_t> hidden, live;
  for (uint32_t w : writes) {
    auto [first, last] = SupRange(w);
    for (size_t k = first; k < last; ++k) {
      if (sups_[k] != kUnresolved) hidden.push_back(sups_[k]);
    }
    live.push_back(w);
    std::erase_if(live, [&](uint32_t i) {
      return std::find(hidden.begin(), hidden.end(), i) != hidden.end();
    });
    FieldStep step{KeyOf(records_[w]), kUnresolved};
    for (uint32_t i : live) {
      if (step.winner == kUnresolved || Wins(records_[i], records_[step.winner], names)) {
        step.winner = i;
      }
    }
    if (steps.empty() || steps.back().winner != step.winner) steps.push_back(step);
  }
  return steps;
}

TaskState::Duty TaskState::DutyOf(const Authority& authority) const {
  const NameTable& names = *authority.names;
  Duty duty;
  for (const FieldStep& f : FieldHistory(kSite, names)) {
    SiteStep step{f.from, f.winner, kNoSite};
    if (f.winner != kUnresolved) {
      const uint32_t site = names.Find(SiteOf(records_[f.winner]));
      step.site = site < names.size() ? site : kNoSite;
    }
    duty.sites.push_back(step);
  }
  if (authority.any_teams) duty.teams = FieldHistory(kTeam, names);
  bool names_deciders = false;
  for (size_t i = 0; i < records_.size() && !names_deciders; ++i) {
    const uint8_t body = BodyOf(records_[i]);
    names_deciders =
        ((body == kAdded || body == kListing) && !specs_[records_[i].payload].deciders.empty()) ||
        (body == kChanged && patches_[records_[i].payload].deciders.has_value());
  }
  if (names_deciders) duty.deciders = FieldHistory(kDeciders, names);
  return duty;
}

template <class Step>
const Step* TaskState::StepAt(const std::vector<Step>& steps, const OrderKey& at,
                              const NameTable& names) {
  for (size_t k = steps.size(); k-- > 0;) {  // Usually one step, or the last one.
    if (OrderKey::Less(steps[k].from, at, names)) return &steps[k];
  }
  return nullptr;
}

const std::string& TaskState::SiteOf(const Record& write) const {
  return BodyOf(write) == kChanged ? *patches_[write.payload].site : specs_[write.payload].site;
}

const std::string& TaskState::TeamOf(const Record& write) const {
  return BodyOf(write) == kChanged ? *patches_[write.payload].team : specs_[write.payload].team;
}

const std::vector<std::string>& TaskState::DecidersAt(const Duty& duty, const OrderKey& at,
                                                      const NameTable& names) const {
  static const std::vector<std::string> kNone;
  const FieldStep* step = StepAt(duty.deciders, at, names);
  if (step == nullptr || step->winner == kUnresolved) return kNone;
  const Record& winner = records_[step->winner];
  return BodyOf(winner) == kChanged ? *patches_[winner.payload].deciders
                                    : specs_[winner.payload].deciders;
}

bool TaskState::MayReport(const Authority& authority, const Duty& duty, const Record& r) const {
  const OrderKey at = KeyOf(r);
  const uint8_t role = authority.RoleAt(at.origin, at);
  if (role == static_cast<uint8_t>(SiteRole::kManager)) return true;
  if (role != static_cast<uint8_t>(SiteRole::kSite)) return false;  // Observers never count.
  const NameTable& names = *authority.names;
  const SiteStep* site = StepAt(duty.sites, at, names);
  if (site != nullptr && site->site == at.origin) return true;
  const FieldStep* team = StepAt(duty.teams, at, names);
  if (team == nullptr || team->winner == kUnresolved) return false;
  const std::string& name = TeamOf(records_[team->winner]);
  const std::vector<std::string>& teams = authority.TeamsAt(at.origin, at);
  return !name.empty() && std::find(teams.begin(), teams.end(), name) != teams.end();
}

bool TaskState::MayDecide(const Authority& authority, const Duty& duty, const Record& r) const {
  const OrderKey at = KeyOf(r);
  const NameTable& names = *authority.names;
  const std::vector<std::string>& deciders = DecidersAt(duty, at, names);
  if (deciders.empty()) return MayReport(authority, duty, r);
  const uint8_t role = authority.RoleAt(at.origin, at);
  if (role == static_cast<uint8_t>(SiteRole::kManager)) return true;
  if (role != static_cast<uint8_t>(SiteRole::kSite)) return false;
  const auto named = [&](const std::string& who) {
    return std::find(deciders.begin(), deciders.end(), who) != deciders.end();
  };
  const std::vector<std::string>& teams = authority.TeamsAt(at.origin, at);
  return named(names.Name(at.origin)) || std::any_of(teams.begin(), teams.end(), named);
}

std::string TaskState::WhyNot(const Authority& authority, const Duty& duty, const Record& r) const {
  const OrderKey at = KeyOf(r);
  const NameTable& names = *authority.names;
  const auto list = [](const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) out += (out.empty() ? "\"" : ", \"") + item + "\"";
    return out;
  };
  if (BodyOf(r) == kGate) {
    if (const auto& deciders = DecidersAt(duty, at, names); !deciders.empty()) {
      return "neither among the gate's deciders as of the event (" + list(deciders) +
             ") nor a manager";
    }
  }
  const SiteStep* site = StepAt(duty.sites, at, names);
  std::string why =
      site == nullptr || site->winner == kUnresolved
          ? "neither the task's site (none as of the event)"
          : "neither the task's site as of the event (\"" + SiteOf(records_[site->winner]) + "\")";
  if (const FieldStep* team = StepAt(duty.teams, at, names);
      team != nullptr && team->winner != kUnresolved && !TeamOf(records_[team->winner]).empty()) {
    why += ", a site of its team (\"" + TeamOf(records_[team->winner]) + "\")";
  }
  return why + " nor a manager";
}

void TaskState::DeriveReports(const Authority& authority, const Duty& duty) const {
  const NameTable& names = *authority.names;
  std::vector<size_t> reports;
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    if (BodyOf(r) != kReported || !MayReport(authority, duty, r)) continue;
    d_->counted[i] = true;
    reports.push_back(i);
  }
  if (reports.empty()) return;
  std::vector<size_t> live = LiveOf(reports, names);
  if (live.empty()) return;

  for (size_t i : live) d_->live_reports.push_back(static_cast<uint32_t>(i));
  d_->live_reports.shrink_to_fit();
  const Report winner = ReportOf(live.front(), names);
  d_->status = StatusOf(winner.kind);
  for (size_t i : live) {
    if (StatusOf(static_cast<ReportKind>(records_[i].kind)) != d_->status) {
      d_->status_conflict = true;
    }
  }

  switch (winner.kind) {
    case ReportKind::kStarted:
      d_->actual_start_ms = winner.time_ms();
      return;
    case ReportKind::kReset:
      return;
    case ReportKind::kDone:
    case ReportKind::kFailed:
    case ReportKind::kSkipped:
      d_->actual_finish_ms = winner.time_ms();
      break;
  }
  // Walk back from the winner through what it superseded, to the latest started report
  // before any reset.
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
      const uint32_t s = sups_[k];  // Only counted reports lead on.
      if (s == kUnresolved || seen[s] || BodyOf(records_[s]) != kReported || !d_->counted[s]) {
        continue;
      }
      seen[s] = true;
      stack.push_back(s);
    }
  }
  if (started) d_->actual_start_ms = ReportOf(*started, names).time_ms();
}

void TaskState::DeriveGate(const Authority& authority, const Duty& duty) const {
  const NameTable& names = *authority.names;
  std::vector<size_t> candidates;
  bool any_decision = false;
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    const bool decision = BodyOf(r) == kGate;
    if (!decision && !WithdrawsDecision(i)) continue;
    if (!MayDecide(authority, duty, r)) continue;
    d_->counted[i] = true;
    candidates.push_back(i);
    any_decision = any_decision || decision;
  }
  if (!any_decision) return;
  // One register of decisions and withdrawals: a withdrawal hides what it superseded, and a
  // decision made after it hides the withdrawal.
  for (size_t i : LiveOf(candidates, names)) {
    const Record& r = records_[i];
    if (BodyOf(r) != kGate) {
      d_->live_withdrawals.push_back(IdOf(r, names));
      continue;
    }
    d_->live_gates.push_back(GateDecision{IdOf(r, names), HlcOf(r), names.Name(ActorOf(r)),
                                          r.kind == 1, EffectiveOf(r), TextOf(r)});
  }
  for (const GateDecision& g : d_->live_gates) {
    if (g.go != d_->live_gates.front().go) d_->gate_conflict = true;
  }
  // A decision and a withdrawal made without knowing of each other.
  if (!d_->live_gates.empty() && !d_->live_withdrawals.empty()) d_->gate_conflict = true;
}

bool TaskState::WithdrawsDecision(size_t i) const {
  const Record& r = records_[i];
  if (BodyOf(r) != kReported || static_cast<ReportKind>(r.kind) != ReportKind::kReset) return false;
  auto [first, last] = SupRange(i);
  for (size_t k = first; k < last; ++k) {
    if (sups_[k] != kUnresolved && BodyOf(records_[sups_[k]]) == kGate) return true;
  }
  return false;
}

// ---- Views --------------------------------------------------------------------------------------

std::vector<EventId> TaskState::LiveEditIds() const { return d_->live_edit_ids; }

std::vector<EventId> TaskState::LiveReportIds() const {
  std::vector<EventId> ids;
  for (uint32_t i : d_->live_reports) ids.push_back(IdOf(records_[i], *d_->names));
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<EventId> TaskState::LiveGateIds() const {
  std::vector<EventId> ids = d_->live_withdrawals;
  for (const GateDecision& g : d_->live_gates) ids.push_back(g.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

Report TaskState::ReportOf(size_t i, const NameTable& names) const {
  const Record& r = records_[i];
  return Report{IdOf(r, names), HlcOf(r), names.Name(ActorOf(r)), static_cast<ReportKind>(r.kind),
                EffectiveOf(r), TextOf(r)};
}

std::vector<Report> TaskState::LiveReports() const {
  std::vector<Report> out;
  if (d_ == nullptr) return out;
  out.reserve(d_->live_reports.size());
  for (uint32_t i : d_->live_reports) out.push_back(ReportOf(i, *d_->names));
  return out;
}

std::vector<Note> TaskState::Notes() const {
  std::vector<Note> out;
  if (d_ == nullptr) return out;  // Never derived.
  const NameTable& names = *d_->names;
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    if (BodyOf(r) != kNote || !d_->counted[i]) continue;
    out.push_back(Note{HlcOf(r), IdOf(r, names), names.Name(ActorOf(r)), TextOf(r)});
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<HistoryEntry> TaskState::History() const {
  std::vector<HistoryEntry> out;
  if (d_ == nullptr) return out;  // Never derived.
  const NameTable& names = *d_->names;
  std::vector<size_t> order(records_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return Wins(records_[b], records_[a], names); });
  out.reserve(order.size());
  for (size_t i : order) {
    const Record& r = records_[i];
    bool counted = i < d_->counted.size() ? static_cast<bool>(d_->counted[i]) : true;
    out.push_back(HistoryEntry{IdOf(r, names), HlcOf(r), names.Name(ActorOf(r)),
                               BodyIndexName(BodyOf(r)), counted});
  }
  return out;
}

}  // namespace baton::crdt
