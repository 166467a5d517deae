// See daemon/service/plan_checks.h.
#include "daemon/service/plan_checks.h"

#include <algorithm>
#include <utility>

#include "client/protocol.h"

namespace baton::daemon {
namespace {

using crdt::DependencyType;
using crdt::kNoTime;

// When a task started and finished, as the projection has it (kNoTime: not). A gate decided go
// starts and finishes at its decision; a skipped task finishes without having started.
struct Times {
  int64_t started = kNoTime;
  int64_t finished = kNoTime;
};

Times TimesOf(const crdt::TaskState& t) {
  if (t.spec().kind == crdt::TaskKind::kGate) {
    const crdt::GateDecision* g = t.GateWinner();
    if (g == nullptr || !g->go) return {};
    const int64_t at = g->effective_ms != kNoTime ? g->effective_ms : g->hlc.wall_ms;
    return {at, at};
  }
  switch (t.status()) {
    case crdt::TaskStatus::kRunning:
    case crdt::TaskStatus::kFailed:
      return {t.actual_start_ms(), kNoTime};
    case crdt::TaskStatus::kDone:
      return {t.actual_start_ms() != kNoTime ? t.actual_start_ms() : t.actual_finish_ms(),
              t.actual_finish_ms()};
    case crdt::TaskStatus::kSkipped:
      return {kNoTime, t.actual_finish_ms()};
    default:
      return {};
  }
}

bool NeedsFinish(DependencyType type) {
  return type == DependencyType::kFinishToStart || type == DependencyType::kFinishToFinish;
}

bool Constrains(DependencyType type, Step step) {
  const bool start =
      type == DependencyType::kFinishToStart || type == DependencyType::kStartToStart;
  return step == Step::kStart ? start : !start;
}

std::string Names(const std::vector<const Unmet*>& list) {
  constexpr size_t kShown = 3;
  std::string out;
  const size_t shown = list.size() > kShown + 1 ? kShown : list.size();
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) out += (i + 1 == shown && shown == list.size()) ? " and " : ", ";
    out += list[i]->task_id;
  }
  if (shown < list.size()) out += " and " + std::to_string(list.size() - shown) + " more";
  return out;
}

std::string Clause(const std::vector<const Unmet*>& list, bool finish) {
  const bool one = list.size() == 1;
  const bool later =
      std::any_of(list.begin(), list.end(), [](const Unmet* u) { return u->met_ms != kNoTime; });
  std::string verb;
  if (finish) {
    verb = later ? (one ? " was not done by then" : " were not done by then")
                 : (one ? " is not done yet" : " are not done yet");
  } else {
    verb = later ? (one ? " had not started by then" : " had not started by then")
                 : (one ? " has not started yet" : " have not started yet");
  }
  return Names(list) + verb;
}

bool BeforeTimeLock(const crdt::TaskSpec& spec, int64_t at_ms) {
  return spec.not_before_ms != kNoTime && at_ms < spec.not_before_ms;
}

}  // namespace

std::vector<Unmet> UnmetPredecessors(const crdt::Projection& projection, const crdt::TaskSpec& spec,
                                     Step step, int64_t at_ms,
                                     const std::set<std::string>& ignored) {
  std::vector<Unmet> out;
  for (const crdt::Dependency& dep : spec.predecessors) {
    if (!Constrains(dep.type, step) || ignored.count(dep.task_id) != 0) continue;
    const crdt::TaskState* pred = projection.Task(dep.task_id);
    if (pred == nullptr || !pred->exists() || pred->removed()) continue;
    if (pred->spec().is_backout != spec.is_backout) continue;
    const Times times = TimesOf(*pred);
    const int64_t met = NeedsFinish(dep.type) ? times.finished : times.started;
    if (met != kNoTime && (at_ms == kNoTime || met <= at_ms)) continue;
    out.push_back(Unmet{dep.task_id, dep.type, met});
  }
  return out;
}

std::string DescribeUnmet(const std::vector<Unmet>& unmet) {
  std::vector<const Unmet*> finish, start;
  for (const Unmet& u : unmet) (NeedsFinish(u.type) ? finish : start).push_back(&u);
  std::string out;
  if (!finish.empty()) out = Clause(finish, true);
  if (!start.empty()) out += (out.empty() ? "" : ", and ") + Clause(start, false);
  return out;
}

std::string ReportContradiction(const crdt::Projection& projection, const crdt::TaskState& task,
                                crdt::ReportKind kind, int64_t at_ms, const BackoutMode& mode) {
  const crdt::TaskSpec& spec = task.spec();
  const auto since = [](int64_t ms) {
    return ms == kNoTime ? std::string() : " (since " + client::FormatIsoTime(ms) + ")";
  };
  const bool done = task.status() == crdt::TaskStatus::kDone;
  if (kind == crdt::ReportKind::kStarted && done) {
    return spec.id + " is done" + since(task.actual_finish_ms()) +
           "; starting it again would reopen it (report `reset` first)";
  }
  if (kind == crdt::ReportKind::kDone && done) {
    return spec.id + " is already done" + since(task.actual_finish_ms()) +
           "; a second done would move its finish";
  }
  if (kind != crdt::ReportKind::kStarted && kind != crdt::ReportKind::kDone) return "";
  // A done of a task never started is its start too.
  const bool starts =
      kind == crdt::ReportKind::kStarted || task.status() != crdt::TaskStatus::kRunning;
  const bool not_started = task.status() != crdt::TaskStatus::kRunning;  // Failed: a retry.
  if (starts && not_started && mode.backing_out && !spec.is_backout) {
    const std::string why =
        mode.trigger_is_gate ? "no-go at gate " + mode.trigger : mode.trigger + " started";
    return "the runbook is backing out" + since(mode.since_ms) + ", " + why +
           ": forward tasks no longer start";
  }
  if (starts && not_started && !mode.backing_out && spec.is_backout) {
    return spec.id +
           " is a back-out task and the runbook is not backing out: starting it begins the "
           "back-out (a no-go at a gate does that: `baton gate ID no-go`)";
  }
  std::vector<Unmet> unmet;
  if (starts) unmet = UnmetPredecessors(projection, spec, Step::kStart, at_ms, mode.unneeded);
  if (kind == crdt::ReportKind::kDone) {
    auto finish = UnmetPredecessors(projection, spec, Step::kFinish, at_ms, mode.unneeded);
    unmet.insert(unmet.end(), finish.begin(), finish.end());
  }
  if (!unmet.empty()) return DescribeUnmet(unmet);
  if (starts && BeforeTimeLock(spec, at_ms)) {
    return spec.id + " is time-locked until " + client::FormatIsoTime(spec.not_before_ms);
  }
  return "";
}

std::string GateContradiction(const crdt::Projection& projection, const crdt::TaskState& gate,
                              int64_t at_ms) {
  return DescribeUnmet(UnmetPredecessors(projection, gate.spec(), Step::kStart, at_ms));
}

std::vector<Anomaly> Anomalies(const crdt::Projection& projection,
                               const std::vector<crdt::TaskSpec>& tasks) {
  std::vector<Anomaly> out;
  const auto add = [&](const crdt::TaskSpec& spec, const char* kind, int64_t at,
                       const std::vector<Unmet>& unmet) {
    for (const Unmet& u : unmet)
      out.push_back(Anomaly{spec.id, kind, at, u.task_id, u.type, u.met_ms});
  };
  for (const crdt::TaskSpec& spec : tasks) {
    const crdt::TaskState* t = projection.Task(spec.id);
    if (t == nullptr || !t->exists() || t->removed()) continue;
    if (spec.kind == crdt::TaskKind::kGate) {
      const crdt::GateDecision* g = t->GateWinner();
      if (g == nullptr) continue;
      const int64_t at = g->effective_ms != kNoTime ? g->effective_ms : g->hlc.wall_ms;
      add(spec, "decided_before_predecessor", at,
          UnmetPredecessors(projection, spec, Step::kStart, at));
      continue;
    }
    const Times times = TimesOf(*t);
    if (times.started != kNoTime) {
      add(spec, "started_before_predecessor", times.started,
          UnmetPredecessors(projection, spec, Step::kStart, times.started));
      if (BeforeTimeLock(spec, times.started)) {
        out.push_back(Anomaly{spec.id, "started_before_time_lock", times.started, "",
                              DependencyType::kFinishToStart, spec.not_before_ms});
      }
    }
    if (times.finished != kNoTime && t->status() == crdt::TaskStatus::kDone) {
      add(spec, "finished_before_predecessor", times.finished,
          UnmetPredecessors(projection, spec, Step::kFinish, times.finished));
      if (t->actual_start_ms() != kNoTime && times.finished < t->actual_start_ms()) {
        out.push_back(Anomaly{spec.id, "finished_before_start", times.finished, "",
                              DependencyType::kFinishToStart, t->actual_start_ms()});
      }
    }
  }
  return out;
}

}  // namespace baton::daemon
