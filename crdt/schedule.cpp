// Schedule intelligence: CPM over the remaining work, kept current event by event.
// The graph and its topological order are built once per plan; a progress update re-runs the
// forward pass only downstream of the changed task (in topological order, stopping where nothing
// changes), then the O(n) backward pass and summary. All times are UTC milliseconds.
#include "crdt/schedule.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <tuple>
#include <utility>

namespace baton::crdt {
namespace {

int64_t Later(int64_t a, int64_t b) {
  if (a == kNoTime) return b;
  if (b == kNoTime) return a;
  return std::max(a, b);
}

bool Finished(Progress p) { return p == Progress::kDone || p == Progress::kSkipped; }
bool Started(Progress p) { return p == Progress::kRunning || Finished(p); }

struct Span {
  int64_t start = kNoTime;
  int64_t finish = kNoTime;
};

// Actual span of a done or skipped task; unknown times are filled in from what is known.
Span FinishedSpan(const TaskProgress& p, int64_t duration_ms, int64_t now_ms) {
  if (p.status == Progress::kSkipped) {
    int64_t at = p.actual_finish_ms != kNoTime  ? p.actual_finish_ms
                 : p.actual_start_ms != kNoTime ? p.actual_start_ms
                                                : now_ms;
    return {at, at};  // Zero duration at its time.
  }
  Span s{p.actual_start_ms, p.actual_finish_ms};
  if (s.finish == kNoTime) s.finish = s.start != kNoTime ? s.start + duration_ms : now_ms;
  if (s.start == kNoTime || s.start > s.finish)
    s.start = std::min(s.finish, s.finish - duration_ms);
  return s;
}

// The lower bound a dependency puts on the successor's start.
int64_t StartBound(DependencyType type, int64_t lag_ms, int64_t pred_start, int64_t pred_finish,
                   int64_t succ_duration) {
  switch (type) {
    case DependencyType::kFinishToStart:
      return pred_finish + lag_ms;
    case DependencyType::kStartToStart:
      return pred_start + lag_ms;
    case DependencyType::kFinishToFinish:
      return pred_finish + lag_ms - succ_duration;
    case DependencyType::kStartToFinish:
      return pred_start + lag_ms - succ_duration;
  }
  return pred_finish + lag_ms;
}

// The lower bound a finish-to-finish or start-to-finish dependency puts on the successor's
// finish; kNoTime for the start-bound types.
int64_t FinishBound(DependencyType type, int64_t lag_ms, int64_t pred_start, int64_t pred_finish) {
  switch (type) {
    case DependencyType::kFinishToFinish:
      return pred_finish + lag_ms;
    case DependencyType::kStartToFinish:
      return pred_start + lag_ms;
    default:
      return kNoTime;
  }
}

// "40m", "1h05m", "2h", "90s", "1500ms"; negative values get a leading '-'.
std::string FormatDuration(int64_t ms) {
  std::string out = ms < 0 ? "-" : "";
  ms = ms < 0 ? -ms : ms;
  if (ms < 60000) {
    out += ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
    return out;
  }
  int64_t minutes = ms / 60000;  // Sub-minute remainders are not worth a person's attention.
  int64_t h = minutes / 60;
  int64_t m = minutes % 60;
  if (h != 0) out += std::to_string(h) + "h";
  if (h != 0 && m != 0 && m < 10) out += "0";
  if (h == 0 || m != 0) out += std::to_string(m) + "m";
  return out;
}

std::vector<std::string> Select(const Schedule& schedule, bool TaskSchedule::*flag) {
  std::vector<std::string> ids;
  for (const TaskSchedule& t : schedule.tasks) {
    if (t.*flag) ids.push_back(t.id);
  }
  return ids;
}

}  // namespace

const char* ProgressName(Progress progress) {
  switch (progress) {
    case Progress::kNotStarted:
      return "not_started";
    case Progress::kRunning:
      return "running";
    case Progress::kDone:
      return "done";
    case Progress::kFailed:
      return "failed";
    case Progress::kSkipped:
      return "skipped";
  }
  return "unknown";
}

const char* DelayKindName(DelayKind kind) {
  switch (kind) {
    case DelayKind::kFinishedLate:
      return "finished_late";
    case DelayKind::kStartedLate:
      return "started_late";
    case DelayKind::kRunningOver:
      return "running_over";
    case DelayKind::kNotStartedLate:
      return "not_started_late";
    case DelayKind::kFailed:
      return "failed";
    case DelayKind::kPushed:
      return "pushed";
  }
  return "unknown";
}

const TaskSchedule* Schedule::Find(std::string_view id) const {
  for (const TaskSchedule& t : tasks) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

std::vector<std::string> ReadyTasks(const Schedule& s) { return Select(s, &TaskSchedule::ready); }
std::vector<std::string> BlockedTasks(const Schedule& s) {
  return Select(s, &TaskSchedule::blocked);
}
std::vector<std::string> LateTasks(const Schedule& s) { return Select(s, &TaskSchedule::late); }
std::vector<std::string> RunningOverTasks(const Schedule& s) {
  return Select(s, &TaskSchedule::running_over);
}

// `ms` if it lies in the domain of times (crdt/event.h), kNoTime otherwise: a time outside it
// can only come from a modified site, and is not given rather than a sum that overflows.
int64_t InDomain(int64_t ms) { return ms >= kMinTimeMs && ms < kMaxTimeMs ? ms : kNoTime; }

bool BeginsBackout(bool backout_task, bool gate, Progress status) {
  if (backout_task) return status != Progress::kNotStarted && status != Progress::kSkipped;
  return gate && status == Progress::kFailed;
}

TaskProgress GateProgress(const GateOutcome& decision, int64_t now_ms) {
  int64_t at = decision.decided_ms != kNoTime ? decision.decided_ms : now_ms;
  if (decision.go) return TaskProgress{Progress::kDone, at, at};
  return TaskProgress{Progress::kFailed, kNoTime, at};
}

// ---- Building the graph ------------------------------------------------------------------------

Result<Scheduler> Scheduler::Create(const ScheduleInput& input) {
  Scheduler s;
  BATON_TRY(s.BuildGraph(input));
  s.ComputeBaseline();
  s.DetermineMode();
  s.ForwardAll();
  s.BackwardAndSummary();
  return s;
}

Status Scheduler::BuildGraph(const ScheduleInput& input) {
  if (input.now_ms == kNoTime) return Status::InvalidArgument("schedule input: now_ms is not set");
  if (InDomain(input.now_ms) == kNoTime) {
    return Status::InvalidArgument("schedule input: now_ms " + std::to_string(input.now_ms) +
                                   " is outside the years 2000 to 2099");
  }
  now_ms_ = input.now_ms;
  window_start_ms_ = InDomain(input.window_start_ms);
  schedule_.now_ms = input.now_ms;
  schedule_.window_end_ms = InDomain(input.window_end_ms);
  std::vector<std::string>& warnings = schedule_.warnings;

  const size_t n = input.tasks.size();
  nodes_.resize(n);
  schedule_.tasks.resize(n);
  index_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const TaskSpec& spec = input.tasks[i];
    if (!index_.emplace(spec.id, i).second) {
      return Status::InvalidArgument("task \"" + spec.id + "\" is defined twice");
    }
    Node& node = nodes_[i];
    node.duration_ms = spec.duration_ms;
    if (spec.duration_ms < 0) {
      warnings.push_back("task " + spec.id + ": negative duration " +
                         FormatDuration(spec.duration_ms) + " taken as 0");
      node.duration_ms = 0;
    } else if (spec.duration_ms > kMaxDurationMs) {
      warnings.push_back("task " + spec.id + ": duration " + FormatDuration(spec.duration_ms) +
                         " taken as 366d");
      node.duration_ms = kMaxDurationMs;
    }
    node.planned_start_ms = InDomain(spec.planned_start_ms);
    node.not_before_ms = InDomain(spec.not_before_ms);
    node.backout = spec.is_backout;
    node.gate = spec.kind == TaskKind::kGate;
    schedule_.tasks[i].id = spec.id;
    schedule_.tasks[i].backout = spec.is_backout;
  }
  for (size_t i = 0; i < n; ++i) nodes_[i].preds.reserve(input.tasks[i].predecessors.size());
  for (size_t i = 0; i < n; ++i) {
    const TaskSpec& spec = input.tasks[i];
    for (const Dependency& dep : spec.predecessors) {
      auto it = index_.find(dep.task_id);
      if (it == index_.end()) {
        warnings.push_back("task " + spec.id + ": predecessor \"" + dep.task_id +
                           "\" is not in the plan; ignored");
        continue;
      }
      const size_t j = it->second;
      if (nodes_[j].backout != nodes_[i].backout) {
        warnings.push_back("task " + spec.id + ": dependency on " + dep.task_id +
                           " crosses the forward and back-out plans; ignored");
        continue;
      }
      const int64_t lag = std::clamp(dep.lag_ms, -kMaxDurationMs, kMaxDurationMs);
      nodes_[i].preds.push_back(Edge{j, dep.type, lag});
      nodes_[j].succs.push_back(Edge{i, dep.type, lag});
    }
    if (!spec.backout_task.empty()) {
      auto it = index_.find(spec.backout_task);
      if (it == index_.end()) {
        warnings.push_back("task " + spec.id + ": back-out task \"" + spec.backout_task +
                           "\" is not in the plan; ignored");
      } else if (!nodes_[it->second].backout || spec.is_backout) {
        warnings.push_back("task " + spec.id + ": back-out task " + spec.backout_task +
                           " is not a back-out task of a forward task; ignored");
      } else {
        nodes_[i].backout_task = it->second;
        nodes_[it->second].named = true;
      }
    }
  }
  for (const auto& [id, progress] : input.progress) {
    auto it = index_.find(id);
    if (it == index_.end()) {
      warnings.push_back("progress of \"" + id + "\", which is not in the plan; ignored");
      continue;
    }
    nodes_[it->second].progress = progress;
    nodes_[it->second].progress.actual_start_ms = InDomain(progress.actual_start_ms);
    nodes_[it->second].progress.actual_finish_ms = InDomain(progress.actual_finish_ms);
  }
  for (const auto& [id, decision] : input.gates) {
    auto it = index_.find(id);
    if (it == index_.end()) {
      warnings.push_back("decision at gate \"" + id + "\", which is not in the plan; ignored");
      continue;
    }
    nodes_[it->second].progress =
        GateProgress(GateOutcome{decision.go, InDomain(decision.decided_ms)}, now_ms_);
  }

  // Kahn's algorithm, plan order among equals, so the order is deterministic.
  std::vector<size_t> indegree(n);
  for (size_t i = 0; i < n; ++i) indegree[i] = nodes_[i].preds.size();
  topo_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (indegree[i] == 0) topo_.push_back(i);
  }
  for (size_t k = 0; k < topo_.size(); ++k) {
    for (const Edge& e : nodes_[topo_[k]].succs) {
      if (--indegree[e.task] == 0) topo_.push_back(e.task);
    }
  }
  if (topo_.size() != n) {
    // Every node left has a predecessor that is left too: walk predecessors until one repeats.
    size_t at = 0;
    while (indegree[at] == 0) ++at;
    std::vector<size_t> walk;
    std::vector<size_t> seen_at(n, kNone);
    while (seen_at[at] == kNone) {
      seen_at[at] = walk.size();
      walk.push_back(at);
      for (const Edge& e : nodes_[at].preds) {
        if (indegree[e.task] != 0) {
          at = e.task;
          break;
        }
      }
    }
    // walk[seen_at[at]..] lists the cycle successor-first; name it predecessor-first.
    std::string message = "dependency cycle: " + input.tasks[at].id;
    for (size_t k = walk.size(); k-- > seen_at[at];) message += " -> " + input.tasks[walk[k]].id;
    return Status::InvalidArgument(message);
  }
  pos_.assign(n, 0);
  for (size_t k = 0; k < n; ++k) pos_[topo_[k]] = k;
  queued_.assign(n, false);
  return Status::Ok();
}

void Scheduler::ComputeBaseline() {
  const int64_t anchor = window_start_ms_ != kNoTime ? window_start_ms_ : now_ms_;
  int64_t finish = kNoTime;
  for (size_t i : topo_) {
    const Node& node = nodes_[i];
    if (node.backout) continue;
    int64_t start = Later(Later(anchor, node.planned_start_ms), node.not_before_ms);
    for (const Edge& e : node.preds) {
      const TaskSchedule& p = schedule_.tasks[e.task];
      start = std::max(start, StartBound(e.type, e.lag_ms, p.planned_start_ms, p.planned_finish_ms,
                                         node.duration_ms));
    }
    TaskSchedule& t = schedule_.tasks[i];
    t.planned_start_ms = start;
    t.planned_finish_ms = start + node.duration_ms;
    finish = Later(finish, t.planned_finish_ms);
  }
  schedule_.planned_finish_ms = finish != kNoTime ? finish : anchor;
}

// ---- Forward pass ------------------------------------------------------------------------------

bool Scheduler::ComputeNode(size_t i) {
  const Node& node = nodes_[i];
  const TaskProgress& p = node.progress;
  const int64_t now = now_ms_;
  const int64_t duration = node.duration_ms;
  TaskSchedule& t = schedule_.tasks[i];

  int64_t start = kNoTime;
  int64_t finish = kNoTime;
  switch (p.status) {
    case Progress::kDone:
    case Progress::kSkipped: {
      Span s = FinishedSpan(p, duration, now);
      start = s.start;
      finish = s.finish;
      break;
    }
    case Progress::kRunning:
      start = p.actual_start_ms != kNoTime ? p.actual_start_ms : now;
      finish = std::max(now, start + duration);
      for (const Edge& e : node.preds) {
        const TaskSchedule& pt = schedule_.tasks[e.task];
        finish = Later(finish,
                       FinishBound(e.type, e.lag_ms, pt.earliest_start_ms, pt.earliest_finish_ms));
      }
      break;
    case Progress::kNotStarted:
    case Progress::kFailed:  // Forecast as a retry as soon as possible.
      start = Later(Later(Later(now, node.planned_start_ms), node.not_before_ms), window_start_ms_);
      for (const Edge& e : node.preds) {
        const TaskSchedule& pt = schedule_.tasks[e.task];
        start = std::max(start, StartBound(e.type, e.lag_ms, pt.earliest_start_ms,
                                           pt.earliest_finish_ms, duration));
      }
      finish = start + duration;
      break;
  }

  const std::string* blocked_by = nullptr;
  if (p.status == Progress::kNotStarted) {
    for (const Edge& e : node.preds) {
      const TaskSchedule& pt = schedule_.tasks[e.task];
      if (pt.status == Progress::kFailed) {
        blocked_by = &pt.id;
        break;
      }
      if (pt.blocked) {
        blocked_by = &pt.blocked_by;
        break;
      }
    }
  }
  const bool blocked = blocked_by != nullptr;

  // While backing out no forward task becomes ready or late: the team undoes, it does not go on.
  const bool halted = schedule_.backing_out;
  bool ready = p.status == Progress::kNotStarted && !blocked && !halted &&
               (node.not_before_ms == kNoTime || node.not_before_ms <= now);
  for (size_t k = 0; ready && k < node.preds.size(); ++k) {
    const Edge& e = node.preds[k];
    const TaskSchedule& pt = schedule_.tasks[e.task];
    if (e.type == DependencyType::kFinishToStart) {
      ready = Finished(pt.status) && pt.earliest_finish_ms + e.lag_ms <= now;
    } else if (e.type == DependencyType::kStartToStart) {
      ready = Started(pt.status) && pt.earliest_start_ms + e.lag_ms <= now;
    }
  }

  const bool changed = start != t.earliest_start_ms || finish != t.earliest_finish_ms ||
                       blocked != t.blocked || p.status != t.status ||
                       (blocked && t.blocked_by != *blocked_by);
  t.status = p.status;
  t.earliest_start_ms = start;
  t.earliest_finish_ms = finish;
  t.blocked = blocked;
  if (blocked) {
    if (t.blocked_by != *blocked_by) t.blocked_by = *blocked_by;
  } else if (!t.blocked_by.empty()) {
    t.blocked_by.clear();
  }
  t.ready = ready;
  t.late = p.status == Progress::kNotStarted && !halted && now > t.planned_start_ms;
  t.late_by_ms = t.late ? now - t.planned_start_ms : 0;
  t.running_over = p.status == Progress::kRunning && now > start + duration;
  t.over_by_ms = t.running_over ? now - (start + duration) : 0;
  return changed;
}

void Scheduler::ForwardAll() {
  for (size_t i : topo_) {
    if (nodes_[i].backout) {
      ClearBackoutNode(i);
      continue;
    }
    ComputeNode(i);
  }
}

Status Scheduler::Update(const std::string& task_id, const TaskProgress& progress) {
  auto it = index_.find(task_id);
  if (it == index_.end()) {
    return Status::NotFound("task \"" + task_id + "\" is not in the plan");
  }
  const size_t i = it->second;
  if (nodes_[i].progress == progress) return Status::Ok();
  nodes_[i].progress = progress;
  const bool was_backing_out = schedule_.backing_out;
  DetermineMode();
  if (schedule_.backing_out != was_backing_out) {
    // Every forward task's readiness and lateness, and every back-out task, change with the mode.
    ForwardAll();
    BackwardAndSummary();
    return Status::Ok();
  }
  if (nodes_[i].backout) {
    schedule_.tasks[i].status = progress.status;
    if (schedule_.backing_out) BackwardAndSummary();
    return Status::Ok();
  }
  // Topological positions, smallest first: a node is recomputed after all its changed
  // predecessors. The changed task's successors always re-read its status; further down only
  // what changed propagates.
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> pending;
  pending.push(pos_[i]);
  queued_[i] = true;
  while (!pending.empty()) {
    const size_t j = topo_[pending.top()];
    pending.pop();
    queued_[j] = false;
    if (!ComputeNode(j) && j != i) continue;
    for (const Edge& e : nodes_[j].succs) {
      if (!queued_[e.task]) {
        queued_[e.task] = true;
        pending.push(pos_[e.task]);
      }
    }
  }
  BackwardAndSummary();
  return Status::Ok();
}

void Scheduler::SetNow(int64_t now_ms) {
  now_ms_ = now_ms;
  schedule_.now_ms = now_ms;
  DetermineMode();  // A decision or start without a time counts as now.
  ForwardAll();
  BackwardAndSummary();
}

const TaskSchedule* Scheduler::Find(const std::string& task_id) const {
  auto it = index_.find(task_id);
  return it == index_.end() ? nullptr : &schedule_.tasks[it->second];
}

// ---- Backward pass and summary -----------------------------------------------------------------

void Scheduler::BackwardAndSummary() {
  std::vector<TaskSchedule>& tasks = schedule_.tasks;
  int64_t forecast = kNoTime;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].backout) forecast = Later(forecast, tasks[i].earliest_finish_ms);
  }
  if (forecast == kNoTime) forecast = now_ms_;

  for (size_t k = topo_.size(); k-- > 0;) {
    const size_t i = topo_[k];
    if (nodes_[i].backout) continue;
    TaskSchedule& t = tasks[i];
    if (Finished(t.status)) {
      t.latest_start_ms = t.earliest_start_ms;
      t.latest_finish_ms = t.earliest_finish_ms;
      t.total_float_ms = 0;
      t.critical = false;
      continue;
    }
    SetLatest(i, forecast, nullptr);
  }

  schedule_.forecast_finish_ms = forecast;
  const int64_t window_end = schedule_.window_end_ms;
  schedule_.slack_ms = window_end != kNoTime ? window_end - forecast : kNoTime;
  schedule_.at_risk = window_end != kNoTime && forecast > window_end;
  ComputeCriticalPathAndCauses();
  if (schedule_.backing_out) ScheduleBackout();
}

void Scheduler::SetLatest(size_t i, int64_t forecast, const std::vector<bool>* only) {
  std::vector<TaskSchedule>& tasks = schedule_.tasks;
  TaskSchedule& t = tasks[i];
  const int64_t span = t.earliest_finish_ms - t.earliest_start_ms;
  int64_t latest_finish = forecast;
  for (const Edge& e : nodes_[i].succs) {
    if (only != nullptr && !(*only)[e.task]) continue;
    const TaskSchedule& s = tasks[e.task];
    if (Finished(s.status)) continue;  // Its start and finish are history.
    int64_t bound = latest_finish;
    switch (e.type) {
      case DependencyType::kFinishToStart:
        if (s.status != Progress::kRunning) bound = s.latest_start_ms - e.lag_ms;
        break;
      case DependencyType::kStartToStart:
        if (s.status != Progress::kRunning) bound = s.latest_start_ms - e.lag_ms + span;
        break;
      case DependencyType::kFinishToFinish:
        bound = s.latest_finish_ms - e.lag_ms;
        break;
      case DependencyType::kStartToFinish:
        bound = s.latest_finish_ms - e.lag_ms + span;
        break;
    }
    latest_finish = std::min(latest_finish, bound);
  }
  t.latest_finish_ms = latest_finish;
  t.latest_start_ms = latest_finish - span;
  t.total_float_ms = latest_finish - t.earliest_finish_ms;
  t.critical = t.total_float_ms <= 0;
}

void Scheduler::ComputeCriticalPathAndCauses() {
  const std::vector<TaskSchedule>& tasks = schedule_.tasks;
  schedule_.critical_path.clear();
  schedule_.delay_causes.clear();

  size_t end = kNone;
  for (size_t i : topo_) {
    const TaskSchedule& t = tasks[i];
    if (!nodes_[i].backout && !Finished(t.status) && t.critical &&
        t.earliest_finish_ms == schedule_.forecast_finish_ms) {
      end = i;  // The last in topological order: a closing milestone wins over its predecessor.
    }
  }

  // Walk back along binding dependencies; a finished task that binds the head is kept for the
  // delay attribution only (it is history, not part of the critical path).
  std::vector<size_t> chain;  // Last to first.
  size_t head = kNone;
  for (size_t c = end; c != kNone;) {
    chain.push_back(c);
    const TaskSchedule& t = tasks[c];
    const int64_t duration = nodes_[c].duration_ms;
    size_t next = kNone;
    for (const Edge& e : nodes_[c].preds) {
      const TaskSchedule& p = tasks[e.task];
      bool binds = false;
      if (t.status == Progress::kRunning) {
        binds = FinishBound(e.type, e.lag_ms, p.earliest_start_ms, p.earliest_finish_ms) ==
                t.earliest_finish_ms;
        // A finished task that released the actual start is history, kept for attribution.
        if (!binds && Finished(p.status)) {
          binds = StartBound(e.type, e.lag_ms, p.earliest_start_ms, p.earliest_finish_ms,
                             duration) == t.earliest_start_ms;
        }
      } else {
        binds = StartBound(e.type, e.lag_ms, p.earliest_start_ms, p.earliest_finish_ms, duration) ==
                t.earliest_start_ms;
      }
      if (!binds) continue;
      if (Finished(p.status)) {
        if (head == kNone) head = e.task;
      } else if (p.critical && next == kNone) {
        next = e.task;
      }
    }
    if (next != kNone) head = kNone;
    c = next;
  }
  for (size_t k = chain.size(); k-- > 0;) schedule_.critical_path.push_back(tasks[chain[k]].id);

  // Slips telescope along the chain: each task's contribution is its own slip minus the slip it
  // inherited, so the contributions add up to the last task's slip.
  if (head != kNone) chain.push_back(head);
  int64_t inherited = 0;
  for (size_t k = chain.size(); k-- > 0;) {
    const size_t i = chain[k];
    const TaskSchedule& t = tasks[i];
    const int64_t slip = t.earliest_finish_ms - t.planned_finish_ms;
    const int64_t contribution = slip - inherited;
    inherited = slip;
    if (contribution <= 0) continue;
    DelayCause cause{t.id, DelayKind::kPushed, contribution, ""};
    std::string plus = ": +";
    plus += FormatDuration(contribution);
    if (Finished(t.status)) {
      cause.kind = DelayKind::kFinishedLate;
      cause.explanation = t.id + " finished " + FormatDuration(slip) + " after its planned finish";
    } else if (t.status == Progress::kFailed) {
      cause.kind = DelayKind::kFailed;
      cause.explanation = t.id + " failed, forecast as a retry from now";
    } else if (t.running_over) {
      cause.kind = DelayKind::kRunningOver;
      cause.explanation = t.id + " running " + FormatDuration(t.over_by_ms) + " over its planned " +
                          FormatDuration(nodes_[i].duration_ms);
    } else if (t.status == Progress::kRunning && t.earliest_start_ms > t.planned_start_ms) {
      cause.kind = DelayKind::kStartedLate;
      cause.explanation = t.id + " started " +
                          FormatDuration(t.earliest_start_ms - t.planned_start_ms) +
                          " after its planned start";
    } else if (t.late) {
      cause.kind = DelayKind::kNotStartedLate;
      cause.explanation =
          t.id + " not started, " + FormatDuration(t.late_by_ms) + " past its planned start";
    } else {
      cause.explanation = t.id + " pushed by its dependencies";
    }
    cause.explanation += plus;
    schedule_.delay_causes.push_back(std::move(cause));
  }
}

// ---- Backing out -------------------------------------------------------------------------------

void Scheduler::DetermineMode() {
  size_t trigger = kNone;
  int64_t at = kNoTime;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& node = nodes_[i];
    const TaskProgress& p = node.progress;
    if (!BeginsBackout(node.backout, node.gate, p.status)) continue;
    // A back-out task from its start; a no-go at its decision (GateProgress).
    int64_t when =
        node.backout && p.actual_start_ms != kNoTime ? p.actual_start_ms : p.actual_finish_ms;
    if (when == kNoTime) when = now_ms_;
    if (trigger == kNone || when < at) {
      trigger = i;
      at = when;
    }
  }
  schedule_.backing_out = trigger != kNone;
  schedule_.backout_start_ms = at;
  schedule_.backout_trigger = trigger != kNone ? schedule_.tasks[trigger].id : std::string();
}

void Scheduler::ClearBackoutNode(size_t i) {
  TaskSchedule& t = schedule_.tasks[i];
  TaskSchedule cleared;
  cleared.id = std::move(t.id);
  cleared.backout = true;
  cleared.status = nodes_[i].progress.status;
  t = std::move(cleared);
}

Scheduler::BackoutRun Scheduler::PlanBackout(int64_t at, bool baseline) const {
  const std::vector<TaskSchedule>& tasks = schedule_.tasks;
  const size_t n = nodes_.size();
  BackoutRun r;
  r.runs.assign(n, false);
  r.undoes.resize(n);
  r.start.assign(n, kNoTime);
  r.finish.assign(n, kNoTime);
  for (size_t i = 0; i < n; ++i) {
    const Node& node = nodes_[i];
    if (node.backout) {
      if (BeginsBackout(true, false, node.progress.status)) r.runs[i] = true;  // Under way.
      continue;
    }
    if (node.backout_task == kNone) continue;
    // Failed tasks may have half-applied their change. For a moment ahead, tasks forecast to
    // start before it count as well (a blocked one is forecast after its failed predecessor's
    // retry, which the team would run before that moment).
    const TaskSchedule& t = tasks[i];
    const bool touched = t.status == Progress::kDone || t.status == Progress::kRunning ||
                         t.status == Progress::kFailed ||
                         (t.status == Progress::kNotStarted && at > now_ms_ &&
                          t.earliest_start_ms != kNoTime && t.earliest_start_ms < at);
    if (!touched) continue;
    r.runs[node.backout_task] = true;
    r.undoes[node.backout_task].push_back(t.id);
  }
  if (std::find(r.runs.begin(), r.runs.end(), true) != r.runs.end()) {
    for (size_t i = 0; i < n; ++i) {
      if (nodes_[i].backout && !nodes_[i].named) r.runs[i] = true;
    }
  }

  const int64_t earliest = baseline ? at : std::max(at, now_ms_);
  for (size_t i : topo_) {
    if (!r.runs[i]) continue;
    const Node& node = nodes_[i];
    const TaskProgress& p = node.progress;
    if (!baseline && Finished(p.status)) {
      const Span s = FinishedSpan(p, node.duration_ms, now_ms_);
      r.start[i] = s.start;
      r.finish[i] = s.finish;
    } else if (!baseline && p.status == Progress::kRunning) {
      r.start[i] = p.actual_start_ms != kNoTime ? p.actual_start_ms : now_ms_;
      r.finish[i] = std::max(now_ms_, r.start[i] + node.duration_ms);
      for (const Edge& e : node.preds) {
        if (!r.runs[e.task]) continue;
        r.finish[i] =
            Later(r.finish[i], FinishBound(e.type, e.lag_ms, r.start[e.task], r.finish[e.task]));
      }
    } else {  // Not started, or failed (a retry), or the baseline.
      int64_t start = Later(earliest, node.not_before_ms);
      for (const Edge& e : node.preds) {
        if (!r.runs[e.task]) continue;
        start = std::max(start, StartBound(e.type, e.lag_ms, r.start[e.task], r.finish[e.task],
                                           node.duration_ms));
      }
      r.start[i] = start;
      r.finish[i] = start + node.duration_ms;
    }
  }
  return r;
}

void Scheduler::ScheduleBackout() {
  std::vector<TaskSchedule>& tasks = schedule_.tasks;
  const int64_t at = schedule_.backout_start_ms;
  const int64_t now = now_ms_;
  const BackoutRun live = PlanBackout(at, false);
  const BackoutRun plan = PlanBackout(at, true);

  int64_t forecast = at;
  for (size_t i : topo_) {
    const Node& node = nodes_[i];
    if (!node.backout) {
      tasks[i].critical = false;  // The forward plan no longer drives the finish.
      continue;
    }
    ClearBackoutNode(i);
    if (!live.runs[i]) continue;
    TaskSchedule& t = tasks[i];
    t.needed = true;
    t.planned_start_ms = plan.start[i];
    t.planned_finish_ms = plan.finish[i];
    t.earliest_start_ms = live.start[i];
    t.earliest_finish_ms = live.finish[i];
    forecast = std::max(forecast, t.earliest_finish_ms);
    const Progress st = node.progress.status;
    if (st == Progress::kRunning) {
      t.running_over = now > t.earliest_start_ms + node.duration_ms;
      t.over_by_ms = t.running_over ? now - (t.earliest_start_ms + node.duration_ms) : 0;
    }
    if (st != Progress::kNotStarted) continue;
    for (const Edge& e : node.preds) {
      if (!live.runs[e.task]) continue;  // Not needed: nothing to wait for.
      const TaskSchedule& pt = tasks[e.task];
      if (pt.status == Progress::kFailed || pt.blocked) {
        t.blocked = true;
        t.blocked_by = pt.status == Progress::kFailed ? pt.id : pt.blocked_by;
        break;
      }
    }
    bool ready = !t.blocked && (node.not_before_ms == kNoTime || node.not_before_ms <= now);
    for (size_t k = 0; ready && k < node.preds.size(); ++k) {
      const Edge& e = node.preds[k];
      if (!live.runs[e.task]) continue;
      const TaskSchedule& pt = tasks[e.task];
      if (e.type == DependencyType::kFinishToStart) {
        ready = Finished(pt.status) && pt.earliest_finish_ms + e.lag_ms <= now;
      } else if (e.type == DependencyType::kStartToStart) {
        ready = Started(pt.status) && pt.earliest_start_ms + e.lag_ms <= now;
      }
    }
    t.ready = ready;
    t.late = now > t.planned_start_ms;
    t.late_by_ms = t.late ? now - t.planned_start_ms : 0;
  }

  for (size_t k = topo_.size(); k-- > 0;) {
    const size_t i = topo_[k];
    if (!live.runs[i]) continue;
    TaskSchedule& t = tasks[i];
    if (Finished(t.status)) {
      t.latest_start_ms = t.earliest_start_ms;
      t.latest_finish_ms = t.earliest_finish_ms;
      continue;
    }
    SetLatest(i, forecast, &live.runs);
  }

  // The back-out's critical path: from the last step that ends at the forecast, back along the
  // predecessors that bind each step's start.
  schedule_.critical_path.clear();
  schedule_.delay_causes.clear();
  size_t end = kNone;
  for (size_t i : topo_) {
    const TaskSchedule& t = tasks[i];
    if (live.runs[i] && !Finished(t.status) && t.critical && t.earliest_finish_ms == forecast) {
      end = i;
    }
  }
  std::vector<size_t> chain;
  for (size_t c = end; c != kNone;) {
    chain.push_back(c);
    const TaskSchedule& t = tasks[c];
    size_t next = kNone;
    if (t.status != Progress::kRunning) {
      for (const Edge& e : nodes_[c].preds) {
        const TaskSchedule& p = tasks[e.task];
        if (live.runs[e.task] && !Finished(p.status) && p.critical &&
            StartBound(e.type, e.lag_ms, p.earliest_start_ms, p.earliest_finish_ms,
                       nodes_[c].duration_ms) == t.earliest_start_ms) {
          next = e.task;
          break;
        }
      }
    }
    c = next;
  }
  for (size_t k = chain.size(); k-- > 0;) schedule_.critical_path.push_back(tasks[chain[k]].id);

  schedule_.forecast_finish_ms = forecast;
  const int64_t window_end = schedule_.window_end_ms;
  schedule_.slack_ms = window_end != kNoTime ? window_end - forecast : kNoTime;
  schedule_.at_risk = window_end != kNoTime && forecast > window_end;
}

BackoutForecast Scheduler::ForecastBackout(int64_t backout_start_ms) const {
  int64_t at = backout_start_ms;
  if (at == kNoTime) at = schedule_.backing_out ? schedule_.backout_start_ms : now_ms_;
  const std::vector<TaskSchedule>& tasks = schedule_.tasks;
  BackoutForecast f;
  f.start_ms = at;
  f.window_end_ms = schedule_.window_end_ms;

  BackoutRun run = PlanBackout(at, false);
  const size_t n = nodes_.size();
  std::vector<size_t> indegree(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (!run.runs[i]) continue;
    for (const Edge& e : nodes_[i].preds) indegree[i] += run.runs[e.task] ? 1u : 0u;
  }
  // Topological among the steps that run, earliest start first where the order is free.
  using Key = std::tuple<int64_t, size_t, size_t>;  // start, topological position, node.
  std::priority_queue<Key, std::vector<Key>, std::greater<>> ready;
  for (size_t i = 0; i < n; ++i) {
    if (run.runs[i] && indegree[i] == 0) ready.emplace(run.start[i], pos_[i], i);
  }
  f.finish_ms = at;
  while (!ready.empty()) {
    const size_t i = std::get<2>(ready.top());
    ready.pop();
    f.steps.push_back(BackoutStep{tasks[i].id, std::move(run.undoes[i]), nodes_[i].progress.status,
                                  run.start[i], run.finish[i]});
    f.finish_ms = std::max(f.finish_ms, run.finish[i]);
    for (const Edge& e : nodes_[i].succs) {
      if (run.runs[e.task] && --indegree[e.task] == 0) {
        ready.emplace(run.start[e.task], pos_[e.task], e.task);
      }
    }
  }
  if (f.window_end_ms != kNoTime) {
    f.margin_ms = f.window_end_ms - f.finish_ms;
    f.inside_window = f.margin_ms >= 0;
  }
  return f;
}

int64_t Scheduler::LatestBackoutStart() const {
  const int64_t end = schedule_.window_end_ms;
  if (end == kNoTime || schedule_.backing_out || now_ms_ > end) return kNoTime;
  const auto fits = [&](int64_t at) { return ForecastBackout(at).finish_ms <= end; };
  if (!fits(now_ms_)) return kNoTime;
  // The back-out's finish only grows with its start (more to undo, begun later): bisect.
  constexpr int64_t kMinute = 60'000;
  int64_t lo = now_ms_;  // Fits.
  int64_t hi = end;
  if (fits(hi)) return hi;
  while (hi - lo > kMinute) {
    const int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  const int64_t minute = lo - lo % kMinute;
  return minute >= now_ms_ ? minute : lo;
}

// ---- One-shot forms ----------------------------------------------------------------------------

Result<Schedule> ComputeSchedule(const ScheduleInput& input) {
  BATON_ASSIGN_OR_RETURN(Scheduler scheduler, Scheduler::Create(input));
  return std::move(scheduler).TakeSchedule();
}

Result<BackoutForecast> ForecastBackout(const ScheduleInput& input, int64_t backout_start_ms) {
  BATON_ASSIGN_OR_RETURN(Scheduler scheduler, Scheduler::Create(input));
  return scheduler.ForecastBackout(backout_start_ms);
}

Result<int64_t> LatestBackoutStart(const ScheduleInput& input) {
  BATON_ASSIGN_OR_RETURN(Scheduler scheduler, Scheduler::Create(input));
  return scheduler.LatestBackoutStart();
}

Result<BackoutForecast> ForecastBackoutAtGate(const ScheduleInput& input,
                                              const std::string& gate_id) {
  BATON_ASSIGN_OR_RETURN(Scheduler scheduler, Scheduler::Create(input));
  const TaskSchedule* gate = scheduler.Find(gate_id);
  if (gate == nullptr) return Status::NotFound("gate \"" + gate_id + "\" is not in the plan");
  if (gate->backout) {
    return Status::InvalidArgument("gate \"" + gate_id + "\" is a back-out task");
  }
  int64_t at = gate->earliest_start_ms;
  auto decided = input.gates.find(gate_id);
  if (decided != input.gates.end()) {
    at = GateProgress(decided->second, input.now_ms).actual_finish_ms;
  }
  return scheduler.ForecastBackout(at);
}

}  // namespace baton::crdt
