// Schedule intelligence on hand-computed plans (times in minutes from the window start), and a
// property: the incremental Scheduler always equals a full recomputation from scratch.
#include "crdt/schedule.h"

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace baton {
// Boost.Test printers (internal linkage, found by argument-dependent lookup).
static std::ostream& boost_test_print_type(std::ostream& os, StatusCode code) {
  return os << StatusCodeName(code);
}
}  // namespace baton

namespace baton::crdt {

static std::ostream& boost_test_print_type(std::ostream& os, Progress p) {
  return os << ProgressName(p);
}
static std::ostream& boost_test_print_type(std::ostream& os, DelayKind k) {
  return os << DelayKindName(k);
}

namespace {

using std::chrono::hours;
using std::chrono::sys_days;

constexpr int64_t kMin = 60'000;
constexpr int64_t kW = 1'774'735'200'000;  // 2026-03-28T22:00:00Z: the window start.

int64_t At(int64_t minutes) { return kW + minutes * kMin; }

Dependency Fs(std::string id, int64_t lag_min = 0) {
  return {std::move(id), DependencyType::kFinishToStart, lag_min * kMin};
}
Dependency Ss(std::string id, int64_t lag_min = 0) {
  return {std::move(id), DependencyType::kStartToStart, lag_min * kMin};
}
Dependency Ff(std::string id, int64_t lag_min = 0) {
  return {std::move(id), DependencyType::kFinishToFinish, lag_min * kMin};
}
Dependency Sf(std::string id, int64_t lag_min = 0) {
  return {std::move(id), DependencyType::kStartToFinish, lag_min * kMin};
}

TaskSpec Task(std::string id, int64_t duration_min, std::vector<Dependency> preds = {}) {
  TaskSpec t;
  t.id = std::move(id);
  t.duration_ms = duration_min * kMin;
  t.predecessors = std::move(preds);
  return t;
}

TaskProgress Running(int64_t start_min) { return {Progress::kRunning, At(start_min), kNoTime}; }
TaskProgress Done(int64_t start_min, int64_t finish_min) {
  return {Progress::kDone, At(start_min), At(finish_min)};
}
TaskProgress Failed(int64_t start_min, int64_t at_min) {
  return {Progress::kFailed, At(start_min), At(at_min)};
}

// A 4h window from kW, now at the window start.
ScheduleInput Input(std::vector<TaskSpec> tasks) {
  ScheduleInput in;
  in.tasks = std::move(tasks);
  in.window_start_ms = At(0);
  in.window_end_ms = At(240);
  in.now_ms = At(0);
  return in;
}

Schedule Compute(const ScheduleInput& in) {
  Result<Schedule> s = ComputeSchedule(in);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return std::move(s).value();
}

const TaskSchedule& Get(const Schedule& s, const std::string& id) {
  const TaskSchedule* t = s.Find(id);
  BOOST_REQUIRE_MESSAGE(t != nullptr, id);
  return *t;
}

// Minutes from the window start, for readable assertions.
int64_t Min(int64_t ms) { return (ms - kW) / kMin; }

using Ids = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(schedule_cpm)

BOOST_AUTO_TEST_CASE(small_chain_runs_back_to_back_and_is_all_critical) {
  Schedule s = Compute(Input({Task("A", 30), Task("B", 60, {Fs("A")}), Task("C", 15, {Fs("B")})}));
  BOOST_TEST(Min(Get(s, "A").earliest_finish_ms) == 30);
  BOOST_TEST(Min(Get(s, "B").earliest_start_ms) == 30);
  BOOST_TEST(Min(Get(s, "C").earliest_start_ms) == 90);
  BOOST_TEST(Min(s.forecast_finish_ms) == 105);
  BOOST_TEST(Min(s.planned_finish_ms) == 105);
  BOOST_TEST(s.critical_path == (Ids{"A", "B", "C"}));
  for (const TaskSchedule& t : s.tasks) BOOST_TEST(t.total_float_ms == 0);
  BOOST_TEST(s.slack_ms == 135 * kMin);
  BOOST_TEST(!s.at_risk);
  BOOST_TEST(ReadyTasks(s) == (Ids{"A"}));
  BOOST_TEST(LateTasks(s).empty());
  BOOST_TEST(s.delay_causes.empty());
}

BOOST_AUTO_TEST_CASE(diamond_short_branch_has_float) {
  // A(10) -> B(60) -> D(10); A -> C(20) -> D. C may slip 40 minutes.
  Schedule s = Compute(Input({Task("A", 10), Task("B", 60, {Fs("A")}), Task("C", 20, {Fs("A")}),
                              Task("D", 10, {Fs("B"), Fs("C")})}));
  BOOST_TEST(Min(s.forecast_finish_ms) == 80);
  const TaskSchedule& c = Get(s, "C");
  BOOST_TEST(Min(c.earliest_start_ms) == 10);
  BOOST_TEST(Min(c.latest_start_ms) == 50);
  BOOST_TEST(Min(c.latest_finish_ms) == 70);
  BOOST_TEST(c.total_float_ms == 40 * kMin);
  BOOST_TEST(!c.critical);
  BOOST_TEST(Get(s, "B").critical);
  BOOST_TEST(s.critical_path == (Ids{"A", "B", "D"}));
}

BOOST_AUTO_TEST_CASE(dependency_types_and_lags_bound_the_forecast) {
  // A(60) from 0..60.
  //   B(10) FS+30  -> 90..100      C(20) SS+15 -> 15..35     D(10) FS-20 -> 40..50
  //   E(30) FF+10  -> finish >= 70, so 40..70                F(30) SF+45 -> finish >= 45: 15..45
  Schedule s = Compute(Input({Task("A", 60), Task("B", 10, {Fs("A", 30)}),
                              Task("C", 20, {Ss("A", 15)}), Task("D", 10, {Fs("A", -20)}),
                              Task("E", 30, {Ff("A", 10)}), Task("F", 30, {Sf("A", 45)})}));
  BOOST_TEST(Min(Get(s, "B").earliest_start_ms) == 90);
  BOOST_TEST(Min(Get(s, "C").earliest_start_ms) == 15);
  BOOST_TEST(Min(Get(s, "D").earliest_start_ms) == 40);
  BOOST_TEST(Min(Get(s, "E").earliest_start_ms) == 40);
  BOOST_TEST(Min(Get(s, "E").earliest_finish_ms) == 70);
  BOOST_TEST(Min(Get(s, "F").earliest_start_ms) == 15);
  BOOST_TEST(Min(s.forecast_finish_ms) == 100);
  BOOST_TEST(s.critical_path == (Ids{"A", "B"}));
  BOOST_TEST(Get(s, "C").total_float_ms == 65 * kMin);
  // Finish-to-finish and start-to-finish do not gate the start.
  BOOST_TEST(ReadyTasks(s) == (Ids{"A", "E", "F"}));
}

BOOST_AUTO_TEST_CASE(lags_gate_readiness_as_time_passes) {
  ScheduleInput in = Input({Task("A", 60), Task("B", 10, {Fs("A", 30)}),
                            Task("C", 20, {Ss("A", 15)}), Task("D", 10, {Fs("A", -20)})});
  Result<Scheduler> r = Scheduler::Create(in);
  BOOST_REQUIRE(r.ok());
  Scheduler& sc = r.value();
  BOOST_REQUIRE(sc.Update("A", Running(0)).ok());
  sc.SetNow(At(14));
  BOOST_TEST(ReadyTasks(sc.schedule()).empty());
  sc.SetNow(At(15));
  BOOST_TEST(ReadyTasks(sc.schedule()) == (Ids{"C"}));
  // A lead does not make D ready before A is done: D needs A's finish to be known.
  sc.SetNow(At(45));
  BOOST_TEST(!sc.Find("D")->ready);
  BOOST_REQUIRE(sc.Update("A", Done(0, 60)).ok());
  sc.SetNow(At(60));
  BOOST_TEST(ReadyTasks(sc.schedule()) == (Ids{"C", "D"}));
  sc.SetNow(At(89));
  BOOST_TEST(!sc.Find("B")->ready);
  sc.SetNow(At(90));
  BOOST_TEST(sc.Find("B")->ready);
}

BOOST_AUTO_TEST_CASE(time_locked_task_waits_for_its_lock) {
  TaskSpec b = Task("B", 20, {Fs("A")});
  b.not_before_ms = At(60);
  ScheduleInput in = Input({Task("A", 10), b});
  Schedule s = Compute(in);
  BOOST_TEST(Min(Get(s, "B").earliest_start_ms) == 60);
  BOOST_TEST(Min(s.forecast_finish_ms) == 80);
  BOOST_TEST(Get(s, "A").total_float_ms == 50 * kMin);
  BOOST_TEST(s.critical_path == (Ids{"B"}));  // The lock, not A, drives B.

  in.progress["A"] = Done(0, 10);
  in.now_ms = At(20);
  s = Compute(in);
  BOOST_TEST(!Get(s, "B").ready);
  in.now_ms = At(60);
  s = Compute(in);
  BOOST_TEST(Get(s, "B").ready);
}

BOOST_AUTO_TEST_CASE(absolute_planned_start_is_a_lower_bound_and_makes_late) {
  TaskSpec b = Task("B", 30);
  b.planned_start_ms = At(30);
  ScheduleInput in = Input({Task("A", 10), b});
  in.now_ms = At(45);
  Schedule s = Compute(in);
  const TaskSchedule& bs = Get(s, "B");
  BOOST_TEST(bs.late);
  BOOST_TEST(bs.late_by_ms == 15 * kMin);
  BOOST_TEST(Min(bs.earliest_start_ms) == 45);
  BOOST_TEST(LateTasks(s) == (Ids{"A", "B"}));  // A planned at 0, not started either.
}

BOOST_AUTO_TEST_CASE(running_over_plan_pushes_the_finish_and_is_named) {
  ScheduleInput in = Input({Task("A", 60), Task("B", 30, {Fs("A")})});
  in.window_end_ms = At(100);
  in.progress["A"] = Running(0);
  in.now_ms = At(90);
  Schedule s = Compute(in);
  const TaskSchedule& a = Get(s, "A");
  BOOST_TEST(a.running_over);
  BOOST_TEST(a.over_by_ms == 30 * kMin);
  BOOST_TEST(Min(a.earliest_finish_ms) == 90);
  BOOST_TEST(Min(Get(s, "B").earliest_start_ms) == 90);
  BOOST_TEST(Min(s.forecast_finish_ms) == 120);
  BOOST_TEST(Min(s.planned_finish_ms) == 90);
  BOOST_TEST(s.at_risk);
  BOOST_TEST(s.slack_ms == -20 * kMin);
  BOOST_TEST(RunningOverTasks(s) == (Ids{"A"}));
  BOOST_REQUIRE_EQUAL(s.delay_causes.size(), 1u);
  BOOST_TEST(s.delay_causes[0].task_id == "A");
  BOOST_TEST(s.delay_causes[0].kind == DelayKind::kRunningOver);
  BOOST_TEST(s.delay_causes[0].contribution_ms == 30 * kMin);
  BOOST_TEST(s.delay_causes[0].explanation == "A running 30m over its planned 1h: +30m");
}

BOOST_AUTO_TEST_CASE(delay_contributions_add_up_along_the_chain) {
  // A(60) ran 20 over and finished at 80; B(30) started only at 100 (20 more); C(30) after B.
  ScheduleInput in = Input({Task("A", 60), Task("B", 30, {Fs("A")}), Task("C", 30, {Fs("B")})});
  in.progress["A"] = Done(0, 80);
  in.progress["B"] = Running(100);
  in.now_ms = At(100);
  Schedule s = Compute(in);
  BOOST_TEST(Min(s.forecast_finish_ms) == 160);  // Planned 120.
  BOOST_TEST(s.critical_path == (Ids{"B", "C"}));
  BOOST_REQUIRE_EQUAL(s.delay_causes.size(), 1u);
  // B started 40 after its plan (60): all of the 40-minute slip shows on B, the task that
  // started late; A's finish no longer drives B's start.
  BOOST_TEST(s.delay_causes[0].task_id == "B");
  BOOST_TEST(s.delay_causes[0].kind == DelayKind::kStartedLate);
  BOOST_TEST(s.delay_causes[0].contribution_ms == 40 * kMin);

  // Had B started right at A's finish, A would carry the 20 minutes and B its own 20.
  in.progress["B"] = Running(80);
  in.now_ms = At(130);  // B planned 30, so 20 over.
  s = Compute(in);
  BOOST_TEST(Min(s.forecast_finish_ms) == 160);
  BOOST_REQUIRE_EQUAL(s.delay_causes.size(), 2u);
  BOOST_TEST(s.delay_causes[0].task_id == "A");
  BOOST_TEST(s.delay_causes[0].kind == DelayKind::kFinishedLate);
  BOOST_TEST(s.delay_causes[0].contribution_ms == 20 * kMin);
  BOOST_TEST(s.delay_causes[1].task_id == "B");
  BOOST_TEST(s.delay_causes[1].kind == DelayKind::kRunningOver);
  BOOST_TEST(s.delay_causes[1].contribution_ms == 20 * kMin);
}

BOOST_AUTO_TEST_CASE(done_early_shortens_the_forecast) {
  ScheduleInput in = Input({Task("A", 60), Task("B", 60, {Fs("A")})});
  in.window_end_ms = At(110);
  Result<Scheduler> r = Scheduler::Create(in);
  BOOST_REQUIRE(r.ok());
  Scheduler& sc = r.value();
  BOOST_TEST(Min(sc.schedule().forecast_finish_ms) == 120);
  BOOST_TEST(sc.schedule().at_risk);
  BOOST_TEST(sc.schedule().slack_ms == -10 * kMin);

  BOOST_REQUIRE(sc.Update("A", Running(0)).ok());
  sc.SetNow(At(40));
  BOOST_REQUIRE(sc.Update("A", Done(0, 40)).ok());
  BOOST_TEST(Min(sc.schedule().forecast_finish_ms) == 100);
  BOOST_TEST(!sc.schedule().at_risk);
  BOOST_TEST(sc.schedule().slack_ms == 10 * kMin);
  BOOST_TEST(sc.schedule().critical_path == (Ids{"B"}));
  BOOST_TEST(sc.Find("B")->ready);
}

BOOST_AUTO_TEST_CASE(failed_predecessor_blocks_downstream_transitively) {
  // A -> B -> C; D alone; E after B and D.
  ScheduleInput in = Input({Task("A", 10), Task("B", 10, {Fs("A")}), Task("C", 10, {Fs("B")}),
                            Task("D", 10), Task("E", 10, {Fs("D"), Fs("B")})});
  in.progress["A"] = Failed(0, 5);
  in.now_ms = At(5);
  Schedule s = Compute(in);
  BOOST_TEST(BlockedTasks(s) == (Ids{"B", "C", "E"}));
  BOOST_TEST(Get(s, "C").blocked_by == "A");
  BOOST_TEST(Get(s, "E").blocked_by == "A");
  BOOST_TEST(!Get(s, "A").blocked);
  BOOST_TEST(ReadyTasks(s) == (Ids{"D"}));
  // A is forecast as a retry from now.
  BOOST_TEST(Min(Get(s, "A").earliest_start_ms) == 5);
  BOOST_TEST(Min(s.forecast_finish_ms) == 35);
  BOOST_REQUIRE(!s.delay_causes.empty());
  BOOST_TEST(s.delay_causes[0].task_id == "A");
  BOOST_TEST(s.delay_causes[0].kind == DelayKind::kFailed);
}

BOOST_AUTO_TEST_CASE(no_go_gate_blocks_and_go_gate_releases) {
  TaskSpec g = Task("G", 0, {Fs("A")});
  g.kind = TaskKind::kGate;
  ScheduleInput in = Input({Task("A", 10), g, Task("B", 10, {Fs("G")})});
  in.progress["A"] = Done(0, 10);
  in.now_ms = At(15);
  in.gates["G"] = GateOutcome{false, At(12)};
  Schedule s = Compute(in);
  BOOST_TEST(BlockedTasks(s) == (Ids{"B"}));
  in.gates["G"] = GateOutcome{true, At(12)};
  s = Compute(in);
  BOOST_TEST(ReadyTasks(s) == (Ids{"B"}));
  BOOST_TEST(Get(s, "G").status == Progress::kDone);
}

BOOST_AUTO_TEST_CASE(cycle_is_named) {
  Result<Schedule> s =
      ComputeSchedule(Input({Task("E", 5, {Fs("A")}), Task("D", 5), Task("A", 5, {Fs("C")}),
                             Task("B", 5, {Fs("A")}), Task("C", 5, {Fs("B")})}));
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.status().code() == StatusCode::kInvalidArgument);
  BOOST_TEST(s.status().message() == "dependency cycle: A -> B -> C -> A");

  Result<Schedule> self = ComputeSchedule(Input({Task("S", 5, {Fs("S")})}));
  BOOST_REQUIRE(!self.ok());
  BOOST_TEST(self.status().message() == "dependency cycle: S -> S");
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused_or_warned) {
  ScheduleInput in = Input({Task("A", 5), Task("A", 5)});
  Result<Schedule> dup = ComputeSchedule(in);
  BOOST_TEST(dup.status().message() == "task \"A\" is defined twice");

  in = Input({Task("A", 5)});
  in.now_ms = kNoTime;
  BOOST_TEST(!ComputeSchedule(in).ok());

  Schedule s = Compute(Input({Task("A", 5, {Fs("GONE")})}));
  BOOST_REQUIRE_EQUAL(s.warnings.size(), 1u);
  BOOST_TEST(s.warnings[0] == "task A: predecessor \"GONE\" is not in the plan; ignored");
  BOOST_TEST(ReadyTasks(s) == (Ids{"A"}));

  Result<Scheduler> sc = Scheduler::Create(Input({Task("A", 5)}));
  BOOST_REQUIRE(sc.ok());
  BOOST_TEST(sc->Update("Z", Running(0)).code() == StatusCode::kNotFound);
}

// Values no client may give (docs/client-protocol.md#limits) can still arrive in an event from a
// modified site: they are clamped or ignored, and no sum overflows (UBSan watches in CI).
BOOST_AUTO_TEST_CASE(values_outside_the_domain_never_overflow_the_schedule) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kLow = std::numeric_limits<int64_t>::min() + 1;
  TaskSpec huge = Task("A", 0);
  huge.duration_ms = kMax;
  huge.planned_start_ms = kMax - 1;
  huge.not_before_ms = kLow;
  TaskSpec lagged = Task("B", 5, {{"A", DependencyType::kFinishToStart, kLow}});
  TaskSpec after = Task("C", 5, {{"B", DependencyType::kStartToStart, kMax}});
  ScheduleInput in = Input({huge, lagged, after});
  in.progress["B"] = TaskProgress{Progress::kDone, kLow, kMax};
  in.window_end_ms = kMax;
  Schedule s = Compute(in);
  const TaskSchedule* a = s.Find("A");
  BOOST_REQUIRE(a != nullptr);
  BOOST_TEST(a->earliest_finish_ms - a->earliest_start_ms == kMaxDurationMs);
  BOOST_TEST(a->planned_start_ms == At(0));  // The planned start was ignored.
  BOOST_TEST(s.window_end_ms == kNoTime);
  for (const auto& t : s.tasks) {
    BOOST_TEST_CONTEXT(t.id) {
      BOOST_TEST(t.earliest_start_ms >= kMinTimeMs - 2 * kMaxDurationMs);
      BOOST_TEST(t.earliest_finish_ms < kMaxTimeMs + 4 * kMaxDurationMs);
      BOOST_TEST(t.total_float_ms > -4 * kMaxDurationMs);
    }
  }
  in.now_ms = kMax;
  BOOST_TEST(ComputeSchedule(in).status().message().find("outside the years 2000 to 2099") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(window_across_the_spring_dst_change_is_absolute) {
  // Europe/Berlin springs forward on Sunday 2026-03-29 at 01:00 UTC (02:00 CET -> 03:00 CEST).
  // A window from 00:00 to 04:00 local time is 23:00Z to 02:00Z: three hours, not four.
  const int64_t start =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          (sys_days{std::chrono::year{2026} / 3 / 28} + hours{23}).time_since_epoch())
          .count();
  const int64_t end =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          (sys_days{std::chrono::year{2026} / 3 / 29} + hours{2}).time_since_epoch())
          .count();
  BOOST_TEST(end - start == 180 * kMin);

  ScheduleInput in;
  in.tasks = {Task("stop", 30), Task("migrate", 120, {Fs("stop")}),
              Task("verify", 60, {Fs("migrate")})};  // 3h30 of work.
  in.window_start_ms = start;
  in.window_end_ms = end;
  in.now_ms = start;
  Schedule s = Compute(in);
  BOOST_TEST(s.forecast_finish_ms == start + 210 * kMin);  // 02:30Z = 04:30 CEST.
  BOOST_TEST(s.at_risk);
  BOOST_TEST(s.slack_ms == -30 * kMin);

  in.tasks[2].duration_ms = 20 * kMin;  // 2h50 of work fits with 10 minutes to spare.
  s = Compute(in);
  BOOST_TEST(!s.at_risk);
  BOOST_TEST(s.slack_ms == 10 * kMin);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(schedule_backout)

namespace {
// A(30) -> B(60) -> gate G -> C(30); each forward task has a back-out task, which undo in
// reverse order: C-BO(10) -> B-BO(40) -> A-BO(20).
ScheduleInput BackoutPlan() {
  TaskSpec a = Task("A", 30);
  a.backout_task = "A-BO";
  TaskSpec b = Task("B", 60, {Fs("A")});
  b.backout_task = "B-BO";
  TaskSpec g = Task("G", 0, {Fs("B")});
  g.kind = TaskKind::kGate;
  TaskSpec c = Task("C", 30, {Fs("G")});
  c.backout_task = "C-BO";
  TaskSpec cbo = Task("C-BO", 10);
  TaskSpec bbo = Task("B-BO", 40, {Fs("C-BO")});
  TaskSpec abo = Task("A-BO", 20, {Fs("B-BO")});
  for (TaskSpec* t : {&cbo, &bbo, &abo}) t->is_backout = true;
  ScheduleInput in = Input({a, b, g, c, abo, bbo, cbo});
  in.progress["A"] = Done(0, 30);
  in.progress["B"] = Running(30);
  in.now_ms = At(60);
  return in;
}

// BackoutPlan with a "back-out complete" milestone after A-BO that no forward task names.
ScheduleInput WithEndMilestone(ScheduleInput in) {
  TaskSpec end = Task("BO-END", 0, {Fs("A-BO")});
  end.is_backout = true;
  end.kind = TaskKind::kMilestone;
  in.tasks.push_back(end);
  return in;
}

std::vector<std::string> StepIds(const BackoutForecast& f) {
  std::vector<std::string> ids;
  for (const BackoutStep& s : f.steps) ids.push_back(s.task_id);
  return ids;
}
}  // namespace

BOOST_AUTO_TEST_CASE(backout_now_undoes_done_and_running_tasks_inside_the_window) {
  ScheduleInput in = BackoutPlan();
  Schedule s = Compute(in);
  BOOST_TEST(Min(s.forecast_finish_ms) == 120);  // B ends 90, G at 90, C 90..120.
  BOOST_TEST(Get(s, "A-BO").backout);
  BOOST_TEST(ReadyTasks(s).empty());  // B runs; back-out tasks are not in the forward plan.

  Result<BackoutForecast> f = ForecastBackout(in, kNoTime);
  BOOST_REQUIRE(f.ok());
  BOOST_TEST(StepIds(*f) == (Ids{"B-BO", "A-BO"}));  // C has not started: nothing to undo.
  BOOST_TEST(f->steps[0].undoes == (Ids{"B"}));
  BOOST_TEST(Min(f->steps[0].start_ms) == 60);
  BOOST_TEST(Min(f->steps[1].start_ms) == 100);
  BOOST_TEST(Min(f->finish_ms) == 120);
  BOOST_TEST(f->inside_window);
  BOOST_TEST(f->margin_ms == 120 * kMin);
}

BOOST_AUTO_TEST_CASE(backout_at_the_gate_can_fall_outside_the_window) {
  ScheduleInput in = BackoutPlan();
  in.window_end_ms = At(140);
  Result<BackoutForecast> f = ForecastBackoutAtGate(in, "G");
  BOOST_REQUIRE(f.ok());
  BOOST_TEST(Min(f->start_ms) == 90);  // The gate's forecast time.
  BOOST_TEST(StepIds(*f) == (Ids{"B-BO", "A-BO"}));
  BOOST_TEST(Min(f->finish_ms) == 150);
  BOOST_TEST(!f->inside_window);
  BOOST_TEST(f->margin_ms == -10 * kMin);

  // Later still, C will have started too: its back-out runs first.
  Result<BackoutForecast> late = ForecastBackout(in, At(150));
  BOOST_REQUIRE(late.ok());
  BOOST_TEST(StepIds(*late) == (Ids{"C-BO", "B-BO", "A-BO"}));
  BOOST_TEST(Min(late->finish_ms) == 220);

  BOOST_TEST(ForecastBackoutAtGate(in, "NOPE").status().code() == StatusCode::kNotFound);
}

BOOST_AUTO_TEST_CASE(a_failed_task_does_not_shrink_the_back_out_at_a_later_gate) {
  // A failed: B is blocked, but the team would retry A and run B before the gate, so backing
  // out at the gate undoes both.
  ScheduleInput in = BackoutPlan();
  in.progress.erase("B");
  in.progress["A"] = Failed(0, 30);
  in.now_ms = At(40);
  BOOST_TEST(Get(Compute(in), "B").blocked);
  Result<BackoutForecast> f = ForecastBackoutAtGate(in, "G");
  BOOST_REQUIRE(f.ok());
  BOOST_TEST(Min(f->start_ms) == 130);  // A retried 40..70, B 70..130.
  BOOST_TEST(StepIds(*f) == (Ids{"B-BO", "A-BO"}));
}

BOOST_AUTO_TEST_CASE(a_no_go_switches_the_runbook_to_backing_out) {
  ScheduleInput in = WithEndMilestone(BackoutPlan());
  in.window_end_ms = At(200);
  in.progress["B"] = Done(30, 90);
  in.gates["G"] = GateOutcome{false, At(90)};
  in.now_ms = At(95);
  Schedule s = Compute(in);
  BOOST_TEST(s.backing_out);
  BOOST_TEST(s.backout_trigger == "G");
  BOOST_TEST(Min(s.backout_start_ms) == 90);
  // C-BO undoes nothing (C never started): B-BO does not wait for it.
  BOOST_TEST(!Get(s, "C-BO").needed);
  BOOST_TEST(Get(s, "B-BO").needed);
  BOOST_TEST(Get(s, "BO-END").needed);  // Named by no forward task: part of every back-out.
  BOOST_TEST(ReadyTasks(s) == (Ids{"B-BO"}));
  BOOST_TEST(Get(s, "C").blocked);
  BOOST_TEST(Get(s, "C").blocked_by == "G");
  // Planned from the no-go at 90, forecast from now (95).
  BOOST_TEST(Min(Get(s, "B-BO").planned_start_ms) == 90);
  BOOST_TEST(Get(s, "B-BO").late);
  BOOST_TEST(Get(s, "B-BO").late_by_ms == 5 * kMin);
  BOOST_TEST(Min(Get(s, "A-BO").earliest_start_ms) == 135);
  BOOST_TEST(Min(s.forecast_finish_ms) == 155);
  BOOST_TEST(s.slack_ms == 45 * kMin);
  BOOST_TEST(!s.at_risk);
  BOOST_TEST(s.critical_path == (Ids{"B-BO", "A-BO", "BO-END"}));
  BOOST_TEST(s.delay_causes.empty());
  BOOST_TEST(!Get(s, "A").critical);

  // B-BO done: A-BO is next, late by what B-BO took over its plan.
  in.progress["B-BO"] = Done(95, 140);
  in.now_ms = At(141);
  s = Compute(in);
  BOOST_TEST(ReadyTasks(s) == (Ids{"A-BO"}));
  BOOST_TEST(Min(s.forecast_finish_ms) == 161);
  BOOST_TEST(s.critical_path == (Ids{"A-BO", "BO-END"}));

  // The no-go withdrawn by a later go: the runbook goes forward again.
  in.gates["G"] = GateOutcome{true, At(141)};
  s = Compute(in);
  BOOST_TEST(s.backing_out);  // B-BO has run: the back-out began.
  BOOST_TEST(s.backout_trigger == "B-BO");
  in.progress.erase("B-BO");
  s = Compute(in);
  BOOST_TEST(!s.backing_out);
  BOOST_TEST(ReadyTasks(s) == (Ids{"C"}));
  BOOST_TEST(!Get(s, "B-BO").needed);
  BOOST_TEST(!Get(s, "BO-END").needed);
}

BOOST_AUTO_TEST_CASE(starting_a_back_out_task_backs_out_without_a_gate) {
  ScheduleInput in = BackoutPlan();
  in.progress.erase("B");  // A done at 30: B is ready.
  in.now_ms = At(35);
  BOOST_TEST(ReadyTasks(Compute(in)) == (Ids{"B"}));
  in.progress["A-BO"] = Running(35);
  in.now_ms = At(50);
  Schedule s = Compute(in);
  BOOST_TEST(s.backing_out);
  BOOST_TEST(s.backout_trigger == "A-BO");
  BOOST_TEST(Min(s.backout_start_ms) == 35);
  BOOST_TEST(ReadyTasks(s).empty());  // B no longer starts; A-BO runs.
  BOOST_TEST(!Get(s, "B").late);
  BOOST_TEST(Min(s.forecast_finish_ms) == 55);
  BOOST_TEST(s.critical_path == (Ids{"A-BO"}));
}

BOOST_AUTO_TEST_CASE(the_latest_no_go_that_still_backs_out_inside_the_window) {
  ScheduleInput in = BackoutPlan();  // Now 60: B runs 30..90, the gate at 90, C 90..120.
  in.window_end_ms = At(140);
  // Backing out at t <= 90 undoes A and B (t+40, then +20): inside the window until t = 80.
  // Later, C will have started as well, and its back-out comes first.
  Result<int64_t> latest = LatestBackoutStart(in);
  BOOST_REQUIRE(latest.ok());
  BOOST_TEST(Min(*latest) == 80);
  in.window_end_ms = At(110);  // Even now (60) the back-out ends at 120.
  BOOST_TEST(*LatestBackoutStart(in) == kNoTime);
  in.window_end_ms = kNoTime;
  BOOST_TEST(*LatestBackoutStart(in) == kNoTime);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(schedule_incremental)

namespace {
void CheckSame(const Schedule& got, const Schedule& want) {
  BOOST_TEST(got.forecast_finish_ms == want.forecast_finish_ms);
  BOOST_TEST(got.planned_finish_ms == want.planned_finish_ms);
  BOOST_TEST(got.slack_ms == want.slack_ms);
  BOOST_TEST(got.at_risk == want.at_risk);
  BOOST_TEST(got.critical_path == want.critical_path);
  BOOST_TEST(got.delay_causes.size() == want.delay_causes.size());
  BOOST_REQUIRE_EQUAL(got.tasks.size(), want.tasks.size());
  for (size_t i = 0; i < got.tasks.size(); ++i) {
    const TaskSchedule& g = got.tasks[i];
    const TaskSchedule& w = want.tasks[i];
    BOOST_TEST_CONTEXT("task " << w.id) {
      BOOST_TEST(g.status == w.status);
      BOOST_TEST(g.earliest_start_ms == w.earliest_start_ms);
      BOOST_TEST(g.earliest_finish_ms == w.earliest_finish_ms);
      BOOST_TEST(g.latest_start_ms == w.latest_start_ms);
      BOOST_TEST(g.latest_finish_ms == w.latest_finish_ms);
      BOOST_TEST(g.total_float_ms == w.total_float_ms);
      BOOST_TEST(g.critical == w.critical);
      BOOST_TEST(g.ready == w.ready);
      BOOST_TEST(g.blocked == w.blocked);
      BOOST_TEST(g.blocked_by == w.blocked_by);
      BOOST_TEST(g.late_by_ms == w.late_by_ms);
      BOOST_TEST(g.over_by_ms == w.over_by_ms);
      BOOST_TEST(g.needed == w.needed);
      BOOST_TEST(g.planned_start_ms == w.planned_start_ms);
    }
  }
  BOOST_TEST(got.backing_out == want.backing_out);
  BOOST_TEST(got.backout_start_ms == want.backout_start_ms);
  BOOST_TEST(got.backout_trigger == want.backout_trigger);
}

// CPM invariants: no negative float; the critical path is a chain of critical tasks, linked
// by dependencies, that ends at the forecast finish.
void CheckInvariants(const Schedule& s, const ScheduleInput& in) {
  for (const TaskSchedule& t : s.tasks) {
    BOOST_TEST_CONTEXT("task " << t.id) { BOOST_TEST(t.total_float_ms >= 0); }
  }
  if (s.critical_path.empty()) return;
  BOOST_TEST(Get(s, s.critical_path.back()).earliest_finish_ms == s.forecast_finish_ms);
  for (size_t k = 0; k < s.critical_path.size(); ++k) {
    BOOST_TEST(Get(s, s.critical_path[k]).critical);
    if (k == 0) continue;
    const std::string& prev = s.critical_path[k - 1];
    bool linked = false;
    for (const TaskSpec& t : in.tasks) {
      if (t.id != s.critical_path[k]) continue;
      for (const Dependency& d : t.predecessors) linked = linked || d.task_id == prev;
    }
    BOOST_TEST(linked, prev << " -> " << s.critical_path[k]);
  }
}

ScheduleInput RandomPlan(std::mt19937_64& rng, int n, bool with_backout) {
  ScheduleInput in;
  in.window_start_ms = At(0);
  in.window_end_ms = At(600);
  in.now_ms = At(0);
  std::uniform_int_distribution<int64_t> duration(0, 60);
  std::uniform_int_distribution<int64_t> lag(-10, 20);
  std::uniform_int_distribution<int> npreds(0, 3);
  std::uniform_int_distribution<int> type(0, 9);
  // Up to three predecessors among PREFIX-j for j in [i - window, i), of every type.
  const auto add_predecessors = [&](TaskSpec& t, const std::string& prefix, int i, int window) {
    if (i == 0) return;
    std::uniform_int_distribution<int> pick(std::max(0, i - window), i - 1);
    for (int k = npreds(rng); k > 0; --k) {
      int ty = type(rng);
      Dependency d = Fs(prefix + std::to_string(pick(rng)), ty < 6 ? 0 : lag(rng));
      if (ty >= 6) d.type = static_cast<DependencyType>(ty - 6);
      t.predecessors.push_back(d);
    }
  };
  for (int i = 0; i < n; ++i) {
    TaskSpec t = Task("T-" + std::to_string(i), duration(rng));
    add_predecessors(t, "T-", i, 20);
    if (i % 17 == 0) t.not_before_ms = At(duration(rng) * 3);
    if (with_backout && i % 23 == 11) t.kind = TaskKind::kGate;
    in.tasks.push_back(std::move(t));
  }
  // A back-out path: every fourth task has a back-out task, chained among themselves.
  const int backouts = with_backout ? n / 4 : 0;
  for (int i = 0; i < backouts; ++i) {
    in.tasks[static_cast<size_t>(4 * i)].backout_task = "BO-" + std::to_string(i);
    TaskSpec t = Task("BO-" + std::to_string(i), duration(rng));
    t.is_backout = true;
    add_predecessors(t, "BO-", i, 6);
    in.tasks.push_back(std::move(t));
  }
  return in;
}
}  // namespace

// Odd seeds add gates' no-gos and a back-out path, which switch the runbook to backing out.
BOOST_DATA_TEST_CASE(incremental_updates_equal_full_recomputation,
                     boost::unit_test::data::xrange(1, 13), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed));
    ScheduleInput in = RandomPlan(rng, 120, seed % 2 == 1);
    Result<Scheduler> r = Scheduler::Create(in);
    BOOST_REQUIRE(r.ok());
    Scheduler& sc = r.value();
    std::uniform_int_distribution<size_t> task(0, in.tasks.size() - 1);
    std::uniform_int_distribution<int> what(0, 9);
    std::uniform_int_distribution<int64_t> minutes(0, 90);
    int64_t now = 0;
    int backing_out = 0;
    for (int step = 0; step < 60; ++step) {
      const std::string& id = in.tasks[task(rng)].id;
      TaskProgress p;
      bool report = true;
      switch (what(rng)) {
        case 0:
          now += minutes(rng);
          in.now_ms = At(now);
          sc.SetNow(in.now_ms);
          report = false;
          break;
        case 1:
        case 2:
          p = Running(now - minutes(rng));
          break;
        case 3:
        case 4:
        case 5:
          p = Done(now - 2 * minutes(rng), now - minutes(rng) / 2);
          break;
        case 6:
          p = Failed(now - minutes(rng), now);
          break;
        case 7:
          p = {Progress::kSkipped, kNoTime, At(now)};
          break;
        default:
          break;  // Reset to not started.
      }
      if (report) {
        in.progress[id] = p;
        BOOST_REQUIRE(sc.Update(id, p).ok());
      }
      BOOST_TEST_CONTEXT("step " << step) {
        CheckSame(sc.schedule(), Compute(in));
        CheckInvariants(sc.schedule(), in);
      }
      backing_out += sc.schedule().backing_out ? 1 : 0;
    }
    if (seed % 2 == 1) {  // Both modes were compared.
      BOOST_TEST(backing_out > 0);
      BOOST_TEST(backing_out < 60);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace baton::crdt
