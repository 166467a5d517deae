// Schedule intelligence: ready and blocked tasks, late and running-over-plan tasks, CPM on the
// remaining work (earliest/latest times, total float, critical path), the forecast finish against
// the outage window with the tasks that caused a slip, and the back-out forecast.
// Pure: the plan, each task's progress and "now" come in as values; times are UTC milliseconds.
// Back-out tasks (TaskSpec::is_backout) are outside the forward plan; dependencies between a
// forward and a back-out task are ignored (reported in `warnings`). The runbook is backing out
// once a forward gate is decided no-go or a back-out task starts: then the back-out tasks that
// undo what was done are scheduled and become ready in their own order, forward tasks no longer
// become ready, and the forecast is the back-out's finish against the window.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"

namespace baton::crdt {

// What is known of a task's execution. Independent of the projection's richer TaskStatus:
// ready and blocked are derived here.
enum class Progress : uint8_t { kNotStarted, kRunning, kDone, kFailed, kSkipped };

const char* ProgressName(Progress progress);  // "not_started", "running", ...

struct TaskProgress {
  Progress status = Progress::kNotStarted;
  int64_t actual_start_ms = kNoTime;   // Running, done: when it started (kNoTime: unknown).
  int64_t actual_finish_ms = kNoTime;  // Done, failed, skipped: when it ended.

  friend bool operator==(const TaskProgress&, const TaskProgress&) = default;
};

// The decision at a go/no-go gate: go counts as the gate done at `decided_ms`; no-go as the
// gate failed (its downstream is blocked; see ForecastBackout).
struct GateOutcome {
  bool go = false;
  int64_t decided_ms = kNoTime;  // kNoTime: now.
};

struct ScheduleInput {
  std::vector<TaskSpec> tasks;                   // Plan order; ids unique.
  std::map<std::string, TaskProgress> progress;  // Absent: not started.
  std::map<std::string, GateOutcome> gates;      // Overrides the gate task's progress.
  int64_t window_start_ms = kNoTime;             // No task is forecast to start earlier.
  int64_t window_end_ms = kNoTime;               // kNoTime: no risk assessment.
  int64_t now_ms = kNoTime;                      // Required.
};

// One task's schedule. For back-out tasks only `id`, `backout` and `status` are meaningful
// unless the runbook is backing out; then a back-out task that runs (`needed`) has the fields of
// a forward task, its baseline being the back-out planned from the moment it began.
struct TaskSchedule {
  std::string id;
  bool backout = false;
  bool needed = false;  // Backing out: this back-out task runs (see Scheduler::ForecastBackout).
  Progress status = Progress::kNotStarted;
  // Baseline: CPM over the plan with no progress, from the window start (or now without one).
  int64_t planned_start_ms = kNoTime;
  int64_t planned_finish_ms = kNoTime;
  // Forecast. Done/skipped tasks: actual times (skipped: zero duration at its time). Running:
  // actual start, finish at max(now, start + duration). Not started, and failed (forecast as a
  // retry): no earlier than now, the planned start, the time lock and the window start, and
  // after the predecessors per dependency type and lag.
  int64_t earliest_start_ms = kNoTime;
  int64_t earliest_finish_ms = kNoTime;
  // Latest times that keep the forecast finish; finished tasks: their actual times.
  int64_t latest_start_ms = kNoTime;
  int64_t latest_finish_ms = kNoTime;
  int64_t total_float_ms = 0;  // latest_finish - earliest_finish; 0 for finished tasks.
  bool critical = false;       // Unfinished and zero float.
  // Not started, not blocked, not time-locked past now, and every finish-to-start and
  // start-to-start predecessor has finished (started) at least `lag` ago. Finish-to-finish and
  // start-to-finish predecessors constrain the finish only, so they do not gate the start.
  // While backing out only back-out tasks that run are ready, after those of their predecessors
  // that run.
  bool ready = false;
  bool blocked = false;    // Not started, and a predecessor failed or is blocked.
  std::string blocked_by;  // The failed task at the root of the blockage.
  bool late = false;       // Not started and now is past the planned start (not while backing
                           // out, for forward tasks).
  int64_t late_by_ms = 0;
  bool running_over = false;  // Running past actual start + planned duration.
  int64_t over_by_ms = 0;
};

enum class DelayKind : uint8_t {
  kFinishedLate,    // Done or skipped after its planned finish.
  kStartedLate,     // Running, started after its planned start.
  kRunningOver,     // Running past its planned duration.
  kNotStartedLate,  // Not started although its planned start has passed.
  kFailed,          // Failed: forecast as a retry from now.
  kPushed,          // Delayed by its dependencies (a lead or lag that no longer absorbs).
};

const char* DelayKindName(DelayKind kind);

// A task on the chain that drives the forecast finish, and how much it moved the finish past the
// plan. Contributions along the chain add up to (forecast finish of the last task on the chain -
// its planned finish); only positive ones are listed.
struct DelayCause {
  std::string task_id;
  DelayKind kind = DelayKind::kPushed;
  int64_t contribution_ms = 0;
  std::string explanation;  // "T-5 running 40m over its planned 1h: +40m".
};

struct Schedule {
  std::vector<TaskSchedule> tasks;         // Plan order.
  std::vector<std::string> critical_path;  // Unfinished zero-float chain, first to last.
  int64_t now_ms = kNoTime;
  int64_t window_end_ms = kNoTime;
  int64_t planned_finish_ms = kNoTime;  // Baseline finish of the forward plan.
  // Backing out: since the earliest no-go decision at a forward gate or start of a back-out
  // task (`backout_trigger` names it). Then the forecast, slack, risk and critical path below
  // are the back-out's, and there are no delay causes (the forward plan is abandoned).
  bool backing_out = false;
  int64_t backout_start_ms = kNoTime;
  std::string backout_trigger;
  int64_t forecast_finish_ms = kNoTime;  // Latest forecast finish of the forward plan.
  int64_t slack_ms = kNoTime;            // window_end - forecast_finish; kNoTime: no window end.
  bool at_risk = false;                  // forecast_finish > window_end.
  std::vector<DelayCause> delay_causes;  // Why the forecast is past the plan, chain order.
  std::vector<std::string> warnings;     // Ignored dependencies and clamped values.

  const TaskSchedule* Find(std::string_view id) const;  // nullptr if absent; O(n).
};

// Lists in plan order.
std::vector<std::string> ReadyTasks(const Schedule& schedule);
std::vector<std::string> BlockedTasks(const Schedule& schedule);
std::vector<std::string> LateTasks(const Schedule& schedule);
std::vector<std::string> RunningOverTasks(const Schedule& schedule);

struct BackoutStep {
  std::string task_id;              // The back-out task.
  std::vector<std::string> undoes;  // The forward tasks it undoes.
  Progress status = Progress::kNotStarted;
  int64_t start_ms = kNoTime;
  int64_t finish_ms = kNoTime;
};

struct BackoutForecast {
  int64_t start_ms = kNoTime;  // When the team backs out.
  // Topological among the back-out tasks that run; ties go to the earlier start.
  std::vector<BackoutStep> steps;
  int64_t finish_ms = kNoTime;  // Last step's finish; start_ms when nothing needs undoing.
  int64_t window_end_ms = kNoTime;
  int64_t margin_ms = kNoTime;  // window_end - finish; kNoTime: no window end.
  bool inside_window = true;
  std::vector<std::string> warnings;
};

// The schedule of one plan, kept up to date event by event. The plan's graph (ids, edges,
// topological order) and its baseline are computed once in Create; Update recomputes the
// forward pass only downstream of the changed task, then the backward pass and the summary.
class Scheduler {
 public:
  // kInvalidArgument when now_ms is unset, a task id repeats, or the dependencies form a cycle
  // (the message names it: "dependency cycle: T-1 -> T-2 -> T-1").
  static Result<Scheduler> Create(const ScheduleInput& input);

  // Replaces one task's progress (gate decisions: pass GateProgress). kNotFound if not a task.
  Status Update(const std::string& task_id, const TaskProgress& progress);
  // Moves the clock: every time-dependent value may change, so this recomputes everything.
  void SetNow(int64_t now_ms);

  const Schedule& schedule() const { return schedule_; }
  Schedule TakeSchedule() && { return std::move(schedule_); }
  const TaskSchedule* Find(const std::string& task_id) const;

  // If the team backed out at `backout_start_ms` (kNoTime: now, or when the runbook began backing
  // out): the back-out tasks of the forward tasks that are done, running or failed by then
  // (failed ones may have half-applied their change; for a future moment, not-started tasks
  // forecast to start before it count as well), the back-out tasks already under way, and, if
  // any of those, the back-out tasks no forward task names (they belong to every back-out: a
  // "back-out complete" milestone, a smoke test), scheduled from that moment (and no earlier
  // than now) after their predecessors among the back-out tasks that run.
  BackoutForecast ForecastBackout(int64_t backout_start_ms) const;
  // The latest moment to begin backing out (a no-go) whose back-out still finishes inside the
  // window, to the minute; kNoTime when there is no window end, when the runbook is already
  // backing out, or when even a back-out begun now would overrun.
  int64_t LatestBackoutStart() const;

 private:
  struct Edge {
    size_t task = 0;  // The other end: predecessor in Node::preds, successor in Node::succs.
    DependencyType type = DependencyType::kFinishToStart;
    int64_t lag_ms = 0;
  };
  struct Node {
    bool gate = false;
    int64_t duration_ms = 0;
    int64_t planned_start_ms = kNoTime;
    int64_t not_before_ms = kNoTime;
    bool backout = false;
    size_t backout_task = kNone;  // Index of the back-out task undoing this one.
    bool named = false;           // Back-out task: some forward task names it as its back-out.
    std::vector<Edge> preds;
    std::vector<Edge> succs;
    TaskProgress progress;
  };
  static constexpr size_t kNone = static_cast<size_t>(-1);

  Scheduler() = default;
  Status BuildGraph(const ScheduleInput& input);
  void ComputeBaseline();
  // Forward values and flags of forward node `i` from its predecessors; true if anything its
  // successors read changed.
  bool ComputeNode(size_t i);
  void ForwardAll();
  void BackwardAndSummary();
  // Latest times and float of unfinished node `i` from its successors (only those in `only`,
  // if given) and the forecast finish.
  void SetLatest(size_t i, int64_t forecast, const std::vector<bool>* only);
  void ComputeCriticalPathAndCauses();
  // Backing out: from the gates' and back-out tasks' progress (sets the Schedule's fields).
  void DetermineMode();
  // The back-out begun at `at`: which back-out tasks run, what each undoes, and their spans
  // (from their progress unless `baseline`; not started: no earlier than `at` and now).
  struct BackoutRun {
    std::vector<bool> runs;
    std::vector<std::vector<std::string>> undoes;
    std::vector<int64_t> start;
    std::vector<int64_t> finish;
  };
  BackoutRun PlanBackout(int64_t at, bool baseline) const;
  // Backing out: the back-out tasks' schedule, the forecast and critical path of the back-out.
  void ScheduleBackout();
  void ClearBackoutNode(size_t i);

  std::vector<Node> nodes_;
  std::vector<size_t> topo_;  // Every node, predecessors first.
  std::vector<size_t> pos_;   // Node -> its index in topo_.
  std::unordered_map<std::string, size_t> index_;
  std::vector<bool> queued_;  // Scratch for Update; all false between calls.
  int64_t window_start_ms_ = kNoTime;
  int64_t now_ms_ = kNoTime;
  Schedule schedule_;
};

// Whether a task with this progress puts the runbook into backing out: a back-out task that
// started (running, done or failed), or a forward gate decided no-go (its progress failed).
bool BeginsBackout(bool backout_task, bool gate, Progress status);

// The progress a gate decision stands for.
TaskProgress GateProgress(const GateOutcome& decision, int64_t now_ms);

// One-shot forms of the above.
Result<Schedule> ComputeSchedule(const ScheduleInput& input);
Result<BackoutForecast> ForecastBackout(const ScheduleInput& input, int64_t backout_start_ms);
Result<int64_t> LatestBackoutStart(const ScheduleInput& input);
// Backing out at the gate's forecast start (its decision time if decided). kNotFound if
// `gate_id` is not a task.
Result<BackoutForecast> ForecastBackoutAtGate(const ScheduleInput& input,
                                              const std::string& gate_id);

}  // namespace baton::crdt
