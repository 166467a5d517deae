// Projection: Apply records inputs; Header() and Derived() rebuild what changed. The header is
// replayed from the plan-level events in (hlc, origin, seq) order so that the roster that
// authorizes each PlanDefined is itself a function of the set (and the trust anchor): the first
// plan that may start the roster (the anchor's, or any without an anchor) defines it, later ones
// count only from a manager of the roster in force at their timestamp. The replay leaves the
// roster's history (Authority::epochs), against which every other event is judged at its own
// timestamp: amendments and runbook notes here, task events in TaskState::Derive.
#include "crdt/projection.h"

#include <algorithm>
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <cstring>
#include <sstream>
#include <type_traits>

namespace baton::crdt {

namespace {

constexpr char kSnapshotMagic[8] = {'B', 'T', 'N', 'S', 'N', 'A', 'P', '1'};
constexpr uint32_t kSnapshotVersion = 4;  // 2: compact task records; 3: teams, deciders; 4: fences.

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ULL;
  for (char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetU64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[static_cast<size_t>(i)]);
  return v;
}

bool HlcOrderLess(const Hlc& ah, const EventId& a, const Hlc& bh, const EventId& b) {
  return WinsOver(bh, b, ah, a);
}

uint8_t RoleIn(const std::vector<SiteInfo>& roster, const SiteId& site) {
  uint8_t role = Authority::kNone;
  for (const SiteInfo& s : roster) {
    if (s.id == site) role = static_cast<uint8_t>(s.role);
  }
  return role;
}

// Role per interned site id of a roster (nullptr: none in force), without trailing kNone
// entries, so that equal rosters give equal vectors. The last entry for a site counts (RoleIn).
std::vector<uint8_t> RolesOf(const MvRegister<std::vector<SiteInfo>>::Entry* roster,
                             NameTable& names) {
  std::vector<uint8_t> roles;
  if (roster == nullptr) return roles;
  for (const SiteInfo& s : roster->value) {
    const uint32_t index = names.Intern(s.id);
    if (roles.size() <= index) roles.resize(index + 1, Authority::kNone);
    roles[index] = static_cast<uint8_t>(s.role);
  }
  while (!roles.empty() && roles.back() == Authority::kNone) roles.pop_back();
  return roles;
}

// Teams per interned site id of a roster, like RolesOf (trailing empty entries dropped).
std::vector<std::vector<std::string>> TeamsOf(
    const MvRegister<std::vector<SiteInfo>>::Entry* roster, NameTable& names) {
  std::vector<std::vector<std::string>> teams;
  if (roster == nullptr) return teams;
  for (const SiteInfo& s : roster->value) {
    const uint32_t index = names.Intern(s.id);
    if (teams.size() <= index) teams.resize(index + 1);
    teams[index] = s.teams;
  }
  while (!teams.empty() && teams.back().empty()) teams.pop_back();
  return teams;
}

std::string PlanFlagReason(const char* kind, const SiteId& origin, const std::string& why) {
  return std::string(kind) + " from site \"" + origin + "\": " + why;
}

// Why a plan from `origin`, made while no roster is in force, may not start the roster under
// `anchor`; empty if it may. The roster's last entry for a site is the one that counts (RoleIn).
std::string FirstRosterRefusal(const TrustAnchor& anchor, const SiteId& origin, const Plan& plan) {
  if (!anchor.set()) return "";
  const std::string trusted = "the trusted manager site \"" + anchor.site + "\"";
  if (origin != anchor.site) return "the runbook's roster comes from " + trusted;
  const SiteInfo* own = nullptr;
  for (const SiteInfo& s : plan.sites) {
    if (s.id == anchor.site) own = &s;
  }
  if (own == nullptr) return "its roster does not list " + trusted;
  if (own->role != SiteRole::kManager) {
    return "its roster does not list " + trusted + " as a manager";
  }
  if (own->public_key != anchor.public_key) {
    return "its roster gives " + trusted + " another key than the trusted one";
  }
  return "";
}

}  // namespace

Projection::Projection() : names_(std::make_shared<NameTable>()) {}

void Projection::SetTrustAnchor(SiteId site, std::string public_key) {
  TrustAnchor anchor{std::move(site), std::move(public_key)};
  if (!anchor.set()) anchor.public_key.clear();  // No anchor: one representation of it.
  if (anchor == anchor_) return;
  anchor_ = std::move(anchor);
  header_dirty_ = true;  // The header decides the authority; tasks follow through auth_epoch_.
  InvalidateViews();
}

// ---- Apply ----------------------------------------------------------------------------------

Status Projection::Apply(const Event& e) {
  if (e.seq == 0) return Status::InvalidArgument("event " + e.id().ToString() + ": seq 0");
  if (event_count_ > 0 && e.runbook_id != runbook_id_) {
    return Status::InvalidArgument("event " + e.id().ToString() + ": runbook \"" + e.runbook_id +
                                   "\" is not this projection's \"" + runbook_id_ + "\"");
  }
  const uint64_t seen = vv_.Seen(e.origin);
  if (e.seq <= seen) return Status::Ok();
  if (e.seq != seen + 1) {
    return Status::InvalidArgument("event " + e.id().ToString() + ": gap after seq " +
                                   std::to_string(seen) + " of origin \"" + e.origin + "\"");
  }
  vv_.Set(e.origin, e.seq);
  if (event_count_++ == 0) runbook_id_ = e.runbook_id;
  InvalidateViews();

  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, PlanDefined>) {
          PlanDefined stripped;
          stripped.plan = b.plan;
          stripped.plan.tasks.clear();
          stripped.supersedes = b.supersedes;
          stripped.fences = b.fences;
          plan_records_.push_back(PlanRecord{e.id(), e.hlc, e.actor, std::move(stripped)});
          header_dirty_ = true;
          // One listing per task id (the last one: a later line corrects an earlier one), so
          // that no two writes share an event id in a register.
          size_t added = 0;  // Reserve for the new ids only: no doubling slack.
          for (const TaskSpec& spec : b.plan.tasks) {
            if (FindTask(spec.id) < 0) ++added;
          }
          tasks_.reserve(tasks_.size() + added);
          std::unordered_map<std::string_view, size_t> last;
          for (size_t i = 0; i < b.plan.tasks.size(); ++i) last[b.plan.tasks[i].id] = i;
          for (size_t i = 0; i < b.plan.tasks.size(); ++i) {
            const TaskSpec& spec = b.plan.tasks[i];
            if (spec.id.empty()) {
              Malformed(e, "lists a task with an empty id (entry " + std::to_string(i + 1) +
                               " is ignored)");
            } else if (last[spec.id] != i) {
              Malformed(e, "lists task \"" + spec.id + "\" twice (entry " + std::to_string(i + 1) +
                               " is ignored)");
            } else {
              TaskFor(spec.id).AddListing(e, spec, b.supersedes, *names_);
            }
          }
        } else if constexpr (std::is_same_v<T, PlanAmended>) {
          plan_records_.push_back(PlanRecord{e.id(), e.hlc, e.actor, b});
          header_dirty_ = true;
        } else if constexpr (std::is_same_v<T, NoteAdded>) {
          if (b.task_id.empty()) {
            runbook_notes_.push_back(PlanRecord{e.id(), e.hlc, e.actor, b});
            header_dirty_ = true;
          } else {
            TaskFor(b.task_id).AddEvent(e, *names_);
          }
        } else {
          const std::string& task_id = [&]() -> const std::string& {
            if constexpr (std::is_same_v<T, TaskAdded>) {
              return b.spec.id;
            } else {
              return b.task_id;
            }
          }();
          if (task_id.empty()) {
            Malformed(e, "names no task");
          } else {
            TaskFor(task_id).AddEvent(e, *names_);
          }
        }
      },
      e.body);
  return Status::Ok();
}

int64_t Projection::FindTask(std::string_view id, uint64_t hash) const {
  if (task_slots_.empty()) return -1;
  const size_t mask = task_slots_.size() - 1;
  const uint64_t tag = hash & ~uint64_t{0xffffffff};
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const uint64_t slot = task_slots_[i];
    if (slot == 0) return -1;
    if ((slot & ~uint64_t{0xffffffff}) != tag) continue;
    const auto index = static_cast<int64_t>((slot & 0xffffffff) - 1);
    if (tasks_[static_cast<size_t>(index)].id() == id) return index;
  }
}

void Projection::IndexTask(uint64_t hash, uint32_t index) {
  const size_t mask = task_slots_.size() - 1;
  const uint64_t tag = hash & ~uint64_t{0xffffffff};
  size_t i = hash & mask;
  while (task_slots_[i] != 0) i = (i + 1) & mask;
  task_slots_[i] = tag | (uint64_t{index} + 1);
}

TaskState& Projection::TaskFor(const std::string& id) {
  const uint64_t hash = NameHash{}(id);
  if (const int64_t found = FindTask(id, hash); found >= 0) {
    return tasks_[static_cast<size_t>(found)];
  }
  BATON_CHECK(tasks_.size() < UINT32_MAX - 1);
  if ((tasks_.size() + 1) * 2 > task_slots_.size()) {  // Grow to keep the table half empty.
    task_slots_.assign(std::max<size_t>(64, task_slots_.size() * 2), 0);
    for (size_t i = 0; i < tasks_.size(); ++i) {
      IndexTask(NameHash{}(tasks_[i].id()), static_cast<uint32_t>(i));
    }
  }
  IndexTask(hash, static_cast<uint32_t>(tasks_.size()));
  return tasks_.emplace_back(id);
}

void Projection::Malformed(const Event& e, std::string why) {
  malformed_.push_back(Flag{e.id(), std::string(BodyKindName(e.body)) + ": " + std::move(why)});
}

void Projection::InvalidateViews() const {
  flags_valid_ = false;
  effective_valid_ = false;
}

// ---- Derivation -------------------------------------------------------------------------------

const Projection::HeaderState& Projection::Header() const {
  if (!header_dirty_) return header_;
  HeaderState h;
  std::vector<const PlanRecord*> defined, amended;
  for (const PlanRecord& r : plan_records_) {
    (std::holds_alternative<PlanDefined>(r.body) ? defined : amended).push_back(&r);
  }
  auto by_hlc = [](const PlanRecord* a, const PlanRecord* b) {
    return HlcOrderLess(a->hlc, a->id, b->hlc, b->id);
  };
  std::sort(defined.begin(), defined.end(), by_hlc);
  std::sort(amended.begin(), amended.end(), by_hlc);

  Authority next;
  next.names = names_;
  std::vector<RecordId> plans;
  for (const PlanRecord* r : defined) {
    const auto& d = std::get<PlanDefined>(r->body);
    const auto* roster_now = h.roster.Winner();
    if (roster_now != nullptr &&
        RoleIn(roster_now->value, r->id.origin) != static_cast<uint8_t>(SiteRole::kManager)) {
      h.flags.push_back(Flag{r->id, PlanFlagReason("plan_defined", r->id.origin,
                                                   "only a manager of the roster may define "
                                                   "the plan")});
      continue;
    }
    if (roster_now == nullptr) {
      // No roster yet: only the trust anchor's plan may start one (no anchor: any plan), so
      // that neither an earlier clock nor an earlier import puts another site in charge.
      if (std::string why = FirstRosterRefusal(anchor_, r->id.origin, d.plan); !why.empty()) {
        h.flags.push_back(Flag{r->id, PlanFlagReason("plan_defined", r->id.origin, why)});
        continue;
      }
    }
    plans.push_back(RecordId::Of(names_->Intern(r->id.origin), r->id.seq));
    h.name.Put(r->id, r->hlc, d.plan.name, d.supersedes);
    h.timezone.Put(r->id, r->hlc, d.plan.timezone, d.supersedes);
    h.window_start.Put(r->id, r->hlc, d.plan.window_start_ms, d.supersedes);
    h.window_end.Put(r->id, r->hlc, d.plan.window_end_ms, d.supersedes);
    h.roster.Put(r->id, r->hlc, d.plan.sites, d.supersedes);
    h.teams.Put(r->id, r->hlc, d.plan.teams, d.supersedes);
    for (const SiteInfo& s : d.plan.sites) {
      if (!s.public_key.empty()) h.named[s.id] = s;
    }
    for (const Fence& f : d.fences) {
      const uint32_t name = names_->Intern(f.site);
      if (next.fences.size() <= name) next.fences.resize(name + 1);
      next.fences[name].push_back(
          Authority::Fence{f.seq, OrderKey{r->hlc, names_->Intern(r->id.origin), r->id.seq}});
    }
    // The roster in force from this plan on: what every later event is judged against.
    std::vector<uint8_t> roles = RolesOf(h.roster.Winner(), *names_);
    std::vector<std::vector<std::string>> teams = TeamsOf(h.roster.Winner(), *names_);
    if (next.epochs.empty() || next.epochs.back().roles != roles ||
        next.epochs.back().teams != teams) {
      next.any_teams = next.any_teams || !teams.empty();
      next.epochs.push_back(
          Authority::Epoch{OrderKey{r->hlc, names_->Intern(r->id.origin), r->id.seq},
                           std::move(roles), std::move(teams)});
    }
  }
  auto role_at = [&](const PlanRecord& r) {
    return next.RoleAt(names_->Intern(r.id.origin),
                       OrderKey{r.hlc, names_->Intern(r.id.origin), r.id.seq});
  };
  const auto kManager = static_cast<uint8_t>(SiteRole::kManager);
  for (const PlanRecord* r : amended) {
    const auto& a = std::get<PlanAmended>(r->body);
    if (role_at(*r) != kManager) {
      h.flags.push_back(Flag{r->id, PlanFlagReason("plan_amended", r->id.origin,
                                                   "only a manager may amend the plan")});
      continue;
    }
    if (a.name) h.name.Put(r->id, r->hlc, *a.name, a.supersedes);
    if (a.window_start_ms) h.window_start.Put(r->id, r->hlc, *a.window_start_ms, a.supersedes);
    if (a.window_end_ms) h.window_end.Put(r->id, r->hlc, *a.window_end_ms, a.supersedes);
  }
  for (const PlanRecord& r : runbook_notes_) {
    const auto& n = std::get<NoteAdded>(r.body);
    const uint8_t role = role_at(r);
    if (role == kManager || role == static_cast<uint8_t>(SiteRole::kSite)) {
      h.notes.Add(Note{r.hlc, r.id, r.actor, n.text});
    } else {
      h.flags.push_back(Flag{r.id, PlanFlagReason("note_added", r.id.origin,
                                                  role == Authority::kNone
                                                      ? "site is not on the roster as of the event"
                                                      : "an observer may not add notes")});
    }
  }

  std::sort(plans.begin(), plans.end());
  next.plans = std::move(plans);
  if (next.epochs != authority_.epochs || next.plans != authority_.plans ||
      next.fences != authority_.fences || authority_.names == nullptr) {
    ++auth_epoch_;
  }
  authority_ = std::move(next);
  header_ = std::move(h);
  header_dirty_ = false;
  return header_;
}

const TaskState& Projection::Derived(const TaskState& task) const {
  Header();
  if (task.dirty() || task.derived_epoch() != auth_epoch_) {
    task.Derive(authority_);
    task.set_derived_epoch(auth_epoch_);
  }
  return task;
}

// ---- Views ------------------------------------------------------------------------------------

void Projection::ForEachTask(const std::function<void(const TaskState&)>& f) const {
  for (const TaskState& task : tasks_) {
    const TaskState& t = Derived(task);
    if (t.exists() && !t.removed()) f(t);
  }
}

std::vector<std::string> Projection::TaskIds() const {
  std::vector<std::string> ids;
  for (const TaskState& task : tasks_) {
    const TaskState& t = Derived(task);
    if (t.exists() && !t.removed()) ids.push_back(t.id());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

const TaskState* Projection::Task(std::string_view id) const {
  const int64_t index = FindTask(id);
  return index < 0 ? nullptr : &Derived(tasks_[static_cast<size_t>(index)]);
}

void Projection::ComputeEffectiveStatuses() const {
  // Order-free by construction (no traversal order can leak into the result): blocked is
  // reachability from failed tasks through pending ones; ready only looks at predecessors'
  // own statuses. Both are linear and need no recursion, whatever the chain length.
  effective_.assign(tasks_.size(), TaskStatus::kPending);
  std::vector<const TaskState*> live;
  std::vector<size_t> live_index;  // Of live[i] in tasks_.
  std::unordered_map<std::string_view, size_t> index;
  for (size_t i = 0; i < tasks_.size(); ++i) {
    const TaskState& t = Derived(tasks_[i]);
    effective_[i] = t.status();
    if (!t.exists() || t.removed()) continue;
    index.emplace(t.id(), live.size());
    live.push_back(&t);
    live_index.push_back(i);
  }
  auto gates_start = [](const Dependency& d) {
    return d.type == DependencyType::kFinishToStart || d.type == DependencyType::kStartToStart;
  };
  std::vector<std::vector<size_t>> successors(live.size());
  std::vector<TaskStatus> status(live.size());
  std::vector<size_t> frontier;
  for (size_t i = 0; i < live.size(); ++i) {
    status[i] = live[i]->status();
    if (status[i] == TaskStatus::kFailed) frontier.push_back(i);
    for (const Dependency& d : live[i]->spec().predecessors) {
      auto it = index.find(d.task_id);
      if (it != index.end() && gates_start(d)) successors[it->second].push_back(i);
    }
  }
  while (!frontier.empty()) {
    size_t p = frontier.back();
    frontier.pop_back();
    for (size_t s : successors[p]) {
      if (status[s] != TaskStatus::kPending) continue;
      status[s] = TaskStatus::kBlocked;
      frontier.push_back(s);
    }
  }
  for (size_t i = 0; i < live.size(); ++i) {
    if (status[i] == TaskStatus::kPending) {
      bool ready = true;
      for (const Dependency& d : live[i]->spec().predecessors) {
        auto it = index.find(d.task_id);
        if (it == index.end() || !gates_start(d)) continue;
        TaskStatus ps = live[it->second]->status();
        bool satisfied = ps == TaskStatus::kDone || ps == TaskStatus::kSkipped ||
                         (d.type == DependencyType::kStartToStart && ps == TaskStatus::kRunning);
        if (!satisfied) ready = false;
      }
      if (ready) status[i] = TaskStatus::kReady;
    }
    effective_[live_index[i]] = status[i];
  }
  effective_valid_ = true;
}

TaskStatus Projection::EffectiveStatus(std::string_view id) const {
  Header();
  if (!effective_valid_) ComputeEffectiveStatuses();
  const int64_t index = FindTask(id);
  return index < 0 ? TaskStatus::kPending : effective_[static_cast<size_t>(index)];
}

Plan Projection::CurrentPlan() const {
  const HeaderState& h = Header();
  Plan plan;
  plan.runbook_id = runbook_id_;
  if (const auto* w = h.name.Winner()) plan.name = w->value;
  if (const auto* w = h.timezone.Winner()) plan.timezone = w->value;
  if (const auto* w = h.window_start.Winner()) plan.window_start_ms = w->value;
  if (const auto* w = h.window_end.Winner()) plan.window_end_ms = w->value;
  if (const auto* w = h.roster.Winner()) plan.sites = w->value;
  if (const auto* w = h.teams.Winner()) plan.teams = w->value;
  for (const std::string& id : TaskIds()) plan.tasks.push_back(Task(id)->Spec());
  return plan;
}

bool Projection::HeaderConflict() const {
  const HeaderState& h = Header();
  return h.name.InConflict() || h.timezone.InConflict() || h.window_start.InConflict() ||
         h.window_end.InConflict() || h.roster.InConflict() || h.teams.InConflict();
}

const SiteInfo* Projection::RosterEntry(std::string_view site) const {
  const auto* roster = Header().roster.Winner();
  if (roster == nullptr) return nullptr;
  const SiteInfo* found = nullptr;
  for (const SiteInfo& s : roster->value) {
    if (s.id == site) found = &s;
  }
  return found;
}

std::string Projection::SignerKey(std::string_view site) const {
  if (const SiteInfo* entry = RosterEntry(site); entry != nullptr && !entry->public_key.empty()) {
    return entry->public_key;
  }
  const auto& named = Header().named;
  const auto it = named.find(site);
  return it == named.end() ? std::string() : it->second.public_key;
}

std::vector<SiteInfo> Projection::FormerSites() const {
  std::vector<SiteInfo> former;
  for (const auto& [id, site] : Header().named) {
    if (RosterEntry(id) == nullptr) former.push_back(site);
  }
  return former;
}

std::vector<Flag> Projection::flags() const {
  if (flags_valid_ && !header_dirty_) return flags_;
  const HeaderState& h = Header();
  flags_ = h.flags;
  flags_.insert(flags_.end(), malformed_.begin(), malformed_.end());
  for (const TaskState& task : tasks_) {
    const TaskState& t = Derived(task);
    flags_.insert(flags_.end(), t.flags().begin(), t.flags().end());
  }
  std::sort(flags_.begin(), flags_.end(), [](const Flag& a, const Flag& b) {
    return a.id != b.id ? a.id < b.id : a.reason < b.reason;
  });
  flags_valid_ = true;
  return flags_;
}

std::string Projection::CanonicalBytes() const {
  std::ostringstream out;
  WriteCanonical(out);
  return std::move(out).str();
}

void Projection::WriteCanonical(std::ostream& out) const {
  const HeaderState& h = Header();
  {
    cereal::PortableBinaryOutputArchive ar(out);
    ar(std::string("baton.projection.canonical.1"), vv_, event_count_, runbook_id_);
    ar(h.name.Live(), h.timezone.Live(), h.window_start.Live(), h.window_end.Live(),
       h.roster.Live(), h.teams.Live());
    ar(std::vector<Note>(h.notes.begin(), h.notes.end()));
    if (!effective_valid_) ComputeEffectiveStatuses();
    std::vector<uint32_t> order(tasks_.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return tasks_[a].id() < tasks_[b].id(); });
    ar(static_cast<uint64_t>(order.size()));
    for (uint32_t i : order) {
      const TaskState& t = Derived(tasks_[i]);
      ar(t.id(), t.exists(), t.removed(), t.spec(), t.ConflictingFields(),
         static_cast<uint8_t>(t.status()), t.StatusConflict(), t.LiveReports(), t.actual_start_ms(),
         t.actual_finish_ms(), t.LiveGateDecisions(), t.Notes(),
         static_cast<uint8_t>(effective_[i]));
    }
    ar(flags());
  }
}

// ---- Snapshot -----------------------------------------------------------------------------------

std::string Projection::SerializeSnapshot() const {
  std::vector<const TaskState*> tasks;
  tasks.reserve(tasks_.size());
  for (const TaskState& task : tasks_) tasks.push_back(&task);
  std::sort(tasks.begin(), tasks.end(),
            [](const TaskState* a, const TaskState* b) { return a->id() < b->id(); });
  std::ostringstream out;
  {
    cereal::PortableBinaryOutputArchive ar(out);
    ar(kSnapshotVersion, runbook_id_, vv_, event_count_, *names_, plan_records_, runbook_notes_,
       malformed_, static_cast<uint64_t>(tasks.size()));
    for (const TaskState* t : tasks) ar(*t);
  }
  std::string payload = std::move(out).str();
  std::string bytes(kSnapshotMagic, sizeof(kSnapshotMagic));
  PutU64(bytes, Fnv1a64(payload));
  bytes += payload;
  return bytes;
}

Result<Projection> Projection::FromSnapshot(std::string_view bytes) {
  constexpr size_t kHeader = sizeof(kSnapshotMagic) + 8;
  if (bytes.size() < kHeader || std::memcmp(bytes.data(), kSnapshotMagic, 8) != 0) {
    return Status::Corruption("projection snapshot: bad magic or truncated header");
  }
  std::string_view payload = bytes.substr(kHeader);
  if (GetU64(bytes.substr(8, 8)) != Fnv1a64(payload)) {
    return Status::Corruption("projection snapshot: checksum mismatch (" +
                              std::to_string(bytes.size()) + " bytes)");
  }
  Projection p;
  try {
    std::istringstream in{std::string(payload)};
    cereal::PortableBinaryInputArchive ar(in);
    uint32_t version = 0;
    ar(version);
    if (version != kSnapshotVersion) {
      return Status::Corruption("projection snapshot: unknown version " + std::to_string(version));
    }
    uint64_t task_count = 0;
    ar(p.runbook_id_, p.vv_, p.event_count_, *p.names_, p.plan_records_, p.runbook_notes_,
       p.malformed_, task_count);
    if (task_count > payload.size()) {
      return Status::Corruption("projection snapshot: task count " + std::to_string(task_count));
    }
    for (uint64_t i = 0; i < task_count; ++i) {
      TaskState t;
      ar(t);
      if (!t.Valid(p.names_->size())) {
        return Status::Corruption("projection snapshot: task \"" + t.id() + "\" is inconsistent");
      }
      if (p.FindTask(t.id()) >= 0) {
        return Status::Corruption("projection snapshot: task \"" + t.id() + "\" listed twice");
      }
      p.TaskFor(t.id()) = std::move(t);
    }
    if (in.peek() != std::char_traits<char>::eof()) {
      return Status::Corruption("projection snapshot: trailing bytes");
    }
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("projection snapshot: ") + e.what());
  }
  for (const PlanRecord& r : p.plan_records_) {
    if (!std::holds_alternative<PlanDefined>(r.body) &&
        !std::holds_alternative<PlanAmended>(r.body)) {
      return Status::Corruption("projection snapshot: a plan record holds another kind of event");
    }
  }
  for (const PlanRecord& r : p.runbook_notes_) {
    if (!std::holds_alternative<NoteAdded>(r.body)) {
      return Status::Corruption("projection snapshot: plan event among runbook notes");
    }
  }
  return p;
}

}  // namespace baton::crdt
