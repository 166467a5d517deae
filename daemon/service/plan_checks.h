// Reports checked against the plan (docs/client-protocol.md#reports-checked-against-the-plan):
// what a report or gate decision would put out of order, judged on what a site knows (its
// projection), and every out-of-order fact the projection already holds (anomalies), whichever
// site reported it. Pure: reads the projection only.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "crdt/event.h"
#include "crdt/projection.h"

namespace baton::daemon {

// The step of a task a report or decision is about: its start (a start, or a done of a task not
// started; a gate's decision), or its finish (a done).
enum class Step { kStart, kFinish };

// A predecessor not satisfied for a step at some moment: not finished (finish-to-start,
// finish-to-finish), or not started (start-to-start, start-to-finish), by then.
struct Unmet {
  std::string task_id;
  crdt::DependencyType type = crdt::DependencyType::kFinishToStart;
  // When it finished (or started) after all, later than the moment; kNoTime: not yet.
  int64_t met_ms = crdt::kNoTime;
};

// The predecessors of `spec` that do not allow `step` at `at_ms` (kNoTime: whenever), in the
// plan's order of the spec's list. Predecessors not in the plan, dependencies between a forward
// and a back-out task (the schedule ignores them), and those in `ignored` are left out. Lags
// are not checked.
std::vector<Unmet> UnmetPredecessors(const crdt::Projection& projection, const crdt::TaskSpec& spec,
                                     Step step, int64_t at_ms,
                                     const std::set<std::string>& ignored = {});

// "T-088 and T-089 are not done yet", "T-5 has not started yet", "T-1, T-2, T-3 and 4 more are
// not done yet": the unmet predecessors in one sentence (no final stop).
std::string DescribeUnmet(const std::vector<Unmet>& unmet);

// Whether the runbook is backing out, from the schedule (crdt::Schedule::backing_out).
struct BackoutMode {
  bool backing_out = false;
  int64_t since_ms = crdt::kNoTime;
  std::string trigger;  // The no-go gate, or the back-out task that began it.
  bool trigger_is_gate = false;
  std::set<std::string> unneeded;  // Back-out tasks the back-out does not run.
};

// Why reporting `kind` on `task` at `at_ms` would contradict what the projection knows (a start
// of a done task, a second done, predecessors not done, a time lock), or "" if nothing does.
// With `mode`: a forward task's start while backing out, and a back-out task's start while not
// (it would begin the back-out); a back-out task does not wait for back-out tasks not needed.
// fail, skip and reset are never refused for order.
std::string ReportContradiction(const crdt::Projection& projection, const crdt::TaskState& task,
                                crdt::ReportKind kind, int64_t at_ms, const BackoutMode& mode = {});
// The same for deciding the gate `gate` at `at_ms`: its predecessors not done.
std::string GateContradiction(const crdt::Projection& projection, const crdt::TaskState& gate,
                              int64_t at_ms);

// An out-of-order fact on the board.
struct Anomaly {
  std::string task_id;
  // started_before_predecessor, finished_before_predecessor, decided_before_predecessor,
  // started_before_time_lock, finished_before_start.
  std::string kind;
  int64_t at_ms = crdt::kNoTime;  // When the task started, finished or was decided.
  std::string other;              // The predecessor, if any.
  crdt::DependencyType type = crdt::DependencyType::kFinishToStart;
  int64_t other_ms = crdt::kNoTime;  // When it was met after all, the time lock; kNoTime: not yet.
};

// Every anomaly of the current plan, in plan order: a task started (or a gate decided) before a
// predecessor finished (or started, start-to-start) or before its time lock; a task done before
// a finish-to-finish predecessor, or before its own start.
// `tasks`: the current plan's (Projection::CurrentPlan).
std::vector<Anomaly> Anomalies(const crdt::Projection& projection,
                               const std::vector<crdt::TaskSpec>& tasks);

}  // namespace baton::daemon
