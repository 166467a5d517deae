// See daemon/service/board.h and docs/client-protocol.md (result shapes).
#include "daemon/service/board.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "crdt/task_state.h"

namespace baton::daemon {
namespace {

using nlohmann::json;

json Ms(int64_t ms) { return ms == crdt::kNoTime ? json(nullptr) : json(ms); }

const char* KindName(crdt::TaskKind kind) {
  switch (kind) {
    case crdt::TaskKind::kTask:
      return "task";
    case crdt::TaskKind::kMilestone:
      return "milestone";
    case crdt::TaskKind::kGate:
      return "gate";
  }
  return "task";
}

crdt::Progress ProgressOf(crdt::TaskStatus s) {
  switch (s) {
    case crdt::TaskStatus::kRunning:
      return crdt::Progress::kRunning;
    case crdt::TaskStatus::kDone:
      return crdt::Progress::kDone;
    case crdt::TaskStatus::kFailed:
      return crdt::Progress::kFailed;
    case crdt::TaskStatus::kSkipped:
      return crdt::Progress::kSkipped;
    default:
      return crdt::Progress::kNotStarted;
  }
}

// The decision a gate's winner stands for, at its effective time (else when it was made).
crdt::GateOutcome OutcomeOf(const crdt::GateDecision& g) {
  return crdt::GateOutcome{g.go, g.effective_ms != crdt::kNoTime ? g.effective_ms : g.hlc.wall_ms};
}

// The status people see: the projection's (pending, running, done, failed, skipped) refined
// by the schedule, which knows readiness (dependency types, lags, time locks) and blockage.
// Back-out tasks are "ready" only while the runbook is backing out and the back-out needs them.
const char* ShownStatus(const crdt::Projection& proj, const crdt::TaskSpec& spec,
                        const crdt::TaskSchedule* ts) {
  crdt::TaskStatus st = proj.EffectiveStatus(spec.id);
  if (st == crdt::TaskStatus::kReady || st == crdt::TaskStatus::kBlocked ||
      st == crdt::TaskStatus::kPending) {
    if (ts == nullptr || (spec.is_backout && !ts->needed)) return "pending";
    // A decided gate: the schedule counts go as done and no-go as failed.
    if (ts->status == crdt::Progress::kDone) return "done";
    if (ts->status == crdt::Progress::kFailed) return "failed";
    if (ts->blocked) return "blocked";
    if (ts->ready) return "ready";
    return "pending";
  }
  return crdt::TaskStatusName(st);
}

// A task a few seconds past its planned start is not news: people report by the minute.
constexpr int64_t kLateGraceMs = 60 * 1000;
bool IsLate(const crdt::TaskSchedule& t) { return t.late && t.late_by_ms >= kLateGraceMs; }
bool IsOver(const crdt::TaskSchedule& t) { return t.running_over && t.over_by_ms >= kLateGraceMs; }

// Since when and why the runbook is backing out: {start, trigger, by: "no_go" | "start"}.
json BackoutOf(const crdt::Schedule& s) {
  const crdt::TaskSchedule* trigger = s.Find(s.backout_trigger);
  return json{{"start", Ms(s.backout_start_ms)},
              {"trigger", s.backout_trigger},
              {"by", trigger != nullptr && !trigger->backout ? "no_go" : "start"}};
}

// A chain with this little float is one slip from the critical path: the board names it.
constexpr int64_t kNearCriticalMs = 30 * 60 * 1000;

// How far behind a late or overrunning task is: the larger of its late start and its overrun.
int64_t BehindMs(const json& row) {
  return std::max(row.value("late_by_ms", int64_t{0}), row.value("over_by_ms", int64_t{0}));
}

using ScheduleIndex = std::unordered_map<std::string_view, const crdt::TaskSchedule*>;

// Schedule::Find is linear; queries over every task look them up through this index.
ScheduleIndex IndexOf(const crdt::Schedule& s) {
  ScheduleIndex index;
  index.reserve(s.tasks.size());
  for (const auto& t : s.tasks) index.emplace(t.id, &t);
  return index;
}

const crdt::TaskSchedule* Lookup(const ScheduleIndex& index, std::string_view id) {
  auto it = index.find(id);
  return it == index.end() ? nullptr : it->second;
}

}  // namespace

Board::Board(const crdt::Projection& projection, int64_t now_ms, crdt::SiteId site,
             std::string runbook_id, EventLookup lookup)
    : proj_(projection),
      now_ms_(now_ms),
      site_(std::move(site)),
      runbook_id_(std::move(runbook_id)),
      lookup_(std::move(lookup)) {}

Status Board::RequirePlan() const {
  if (runbook_id_.empty()) {
    return Status::NotFound("no plan has been imported at site " + site_ +
                            " (import one with `baton plan import FILE`)");
  }
  return Status::Ok();
}

Result<crdt::Schedule> Board::Schedule() {
  if (!schedule_) {
    BATON_ASSIGN_OR_RETURN(crdt::Schedule s, crdt::ComputeSchedule(MakeScheduleInput()));
    schedule_ = std::move(s);
  }
  return *schedule_;
}

crdt::ScheduleInput Board::MakeScheduleInput() const {
  const auto& proj = proj_;
  crdt::ScheduleInput in;
  crdt::Plan plan = proj.CurrentPlan();
  in.tasks = std::move(plan.tasks);
  in.window_start_ms = plan.window_start_ms;
  in.window_end_ms = plan.window_end_ms;
  in.now_ms = now_ms_;
  for (const auto& t : in.tasks) {
    const crdt::TaskState* st = proj.Task(t.id);
    if (st == nullptr) continue;
    crdt::TaskProgress p;
    p.status = ProgressOf(st->status());
    p.actual_start_ms = st->actual_start_ms();
    p.actual_finish_ms = st->actual_finish_ms();
    if (p.status != crdt::Progress::kNotStarted) in.progress[t.id] = p;
    if (const auto* g = st->GateWinner()) in.gates[t.id] = OutcomeOf(*g);
  }
  return in;
}

bool Board::BackingOut(const crdt::Projection& projection) {
  bool backing_out = false;
  projection.ForEachTask([&](const crdt::TaskState& t) {
    const crdt::TaskSpec& spec = t.spec();
    crdt::Progress p = ProgressOf(t.status());
    if (const auto* g = t.GateWinner()) p = crdt::GateProgress(OutcomeOf(*g), crdt::kNoTime).status;
    backing_out =
        backing_out || crdt::BeginsBackout(spec.is_backout, spec.kind == crdt::TaskKind::kGate, p);
  });
  return backing_out;
}

Status Board::NotInPlan(const crdt::Projection& projection, const std::string& noun,
                        const std::string& id) {
  std::vector<std::string> ids;
  projection.ForEachTask([&](const crdt::TaskState& t) { ids.push_back(t.id()); });
  std::sort(ids.begin(), ids.end());
  return Status::NotFound(noun + " \"" + id + "\" is not in the plan" +
                          client::DidYouMean(client::Suggestions(id, ids)));
}

json Board::TaskRow(const crdt::TaskSpec& spec, const crdt::TaskSchedule* s) const {
  const auto& proj = proj_;
  const crdt::TaskState* st = proj.Task(spec.id);
  json row{{"id", spec.id},
           {"title", spec.title},
           {"phase", spec.phase},
           {"team", spec.team},
           {"site", spec.site},
           {"kind", KindName(spec.kind)},
           {"backout", spec.is_backout},
           {"duration_ms", spec.duration_ms},
           {"status", ShownStatus(proj, spec, s)},
           {"conflict", st != nullptr && (st->StatusConflict() || st->GateConflict())},
           {"actual_start", Ms(st ? st->actual_start_ms() : crdt::kNoTime)},
           {"actual_finish", Ms(st ? st->actual_finish_ms() : crdt::kNoTime)}};
  if (s != nullptr) {
    row["planned_start"] = Ms(s->planned_start_ms);
    row["planned_finish"] = Ms(s->planned_finish_ms);
    row["forecast_start"] = Ms(s->earliest_start_ms);
    row["forecast_finish"] = Ms(s->earliest_finish_ms);
    row["float_ms"] = s->total_float_ms;
    row["critical"] = s->critical;
    row["late"] = IsLate(*s);
    row["late_by_ms"] = s->late_by_ms;
    row["running_over"] = IsOver(*s);
    row["over_by_ms"] = s->over_by_ms;
    row["blocked_by"] = s->blocked_by;
    if (spec.is_backout) row["needed"] = s->needed;
  }
  return row;
}

json Board::ForecastJson(const crdt::Schedule& s) const {
  json causes = json::array();
  for (const auto& c : s.delay_causes) {
    causes.push_back({{"task", c.task_id},
                      {"kind", crdt::DelayKindName(c.kind)},
                      {"contribution_ms", c.contribution_ms},
                      {"explanation", c.explanation}});
  }
  json out{{"now", Ms(s.now_ms)},
           {"window_end", Ms(s.window_end_ms)},
           {"planned_finish", Ms(s.planned_finish_ms)},
           {"forecast_finish", Ms(s.forecast_finish_ms)},
           {"slack_ms", Ms(s.slack_ms)},
           {"at_risk", s.at_risk},
           {"causes", causes},
           {"critical_path", s.critical_path},
           {"mode", s.backing_out ? "backing_out" : "forward"}};
  if (s.backing_out) {
    out["backout"] = BackoutOf(s);
  } else {
    // The latest no-go that still backs out inside the window (null: no window end, or too
    // late even now).
    auto latest = crdt::LatestBackoutStart(MakeScheduleInput());
    out["latest_nogo"] = Ms(latest.ok() ? *latest : crdt::kNoTime);
  }
  return out;
}

Result<json> Board::Summary() {
  const auto& proj = proj_;
  json runbook{{"id", runbook_id_}, {"site", site_}};
  json result{{"runbook", runbook}, {"events", proj.event_count()}};
  if (runbook_id_.empty()) {
    result["total"] = 0;
    return result;
  }
  crdt::Plan plan = proj.CurrentPlan();
  runbook["name"] = plan.name;
  runbook["timezone"] = plan.timezone;
  runbook["window_start"] = Ms(plan.window_start_ms);
  runbook["window_end"] = Ms(plan.window_end_ms);
  result["runbook"] = runbook;
  BATON_ASSIGN_OR_RETURN(crdt::Schedule s, Schedule());
  const auto index = IndexOf(s);
  std::map<std::string, int> counts;
  for (const char* k : {"pending", "ready", "running", "done", "failed", "skipped", "blocked"}) {
    counts[k] = 0;
  }
  int total = 0, finished = 0;
  int backout_steps = 0, backout_finished = 0;
  json conflicts = json::array();
  json running = json::array();
  json late = json::array();
  json chase = json::array();
  json near_critical = json::array();
  // Whom to call: the site's name on the roster (the task's site id when it has none).
  std::map<std::string, std::string> site_names;
  if (const auto* roster = proj.roster().Winner()) {
    for (const auto& site : roster->value) site_names[site.id] = site.name;
  }
  for (const auto& t : plan.tasks) {
    const crdt::TaskSchedule* sched = Lookup(index, t.id);
    if (sched != nullptr && sched->status == crdt::Progress::kRunning) {
      running.push_back(TaskRow(t, sched));
    }
    if (sched != nullptr && (IsLate(*sched) || IsOver(*sched))) late.push_back(TaskRow(t, sched));
    const std::string shown = ShownStatus(proj, t, sched);
    if (sched != nullptr && ((shown == "ready" && IsLate(*sched)) || IsOver(*sched))) {
      // Due and not started, or running past its plan: someone has to be asked.
      json row = TaskRow(t, sched);
      const auto name = site_names.find(t.site);
      row["site_name"] = name != site_names.end() && !name->second.empty() ? name->second : t.site;
      row["why"] = IsOver(*sched) ? "running over" : "ready, not started";
      chase.push_back(std::move(row));
    }
    // Of the path being run: forward tasks going forward, the needed back-out tasks backing out.
    const bool in_this_run =
        t.is_backout ? s.backing_out && sched != nullptr && sched->needed : !s.backing_out;
    if (sched != nullptr && in_this_run && !sched->critical &&
        sched->total_float_ms <= kNearCriticalMs &&
        (shown == "pending" || shown == "ready" || shown == "running")) {
      near_critical.push_back({{"id", t.id}, {"float_ms", sched->total_float_ms}});
    }
    const bool finishes = shown == "done" || shown == "skipped";
    if (t.is_backout) {
      // Counted while the back-out needs them, apart from the forward plan's total.
      if (sched == nullptr || !sched->needed) continue;
      ++backout_steps;
      backout_finished += finishes ? 1 : 0;
    } else {
      ++total;
      finished += finishes ? 1 : 0;
    }
    counts[shown]++;
    const crdt::TaskState* ts = proj.Task(t.id);
    if (ts != nullptr && (ts->StatusConflict() || ts->GateConflict())) conflicts.push_back(t.id);
  }
  result["counts"] = counts;
  result["total"] = total;
  result["finished"] = finished;
  result["mode"] = s.backing_out ? "backing_out" : "forward";
  if (s.backing_out) {
    json backout = BackoutOf(s);
    backout["steps"] = backout_steps;
    backout["finished"] = backout_finished;
    result["backout"] = backout;
  }
  result["conflicts"] = conflicts;
  result["flags"] = proj.flags().size();
  result["anomalies"] = AnomaliesJson(Anomalies(proj, plan.tasks));
  result["forecast"] = ForecastJson(s);
  result["running"] = running;
  // Furthest behind first; least float first (ties: furthest behind).
  const auto by_behind = [](const json& a, const json& b) { return BehindMs(a) > BehindMs(b); };
  std::stable_sort(late.begin(), late.end(), by_behind);
  std::stable_sort(chase.begin(), chase.end(), [&](const json& a, const json& b) {
    const int64_t fa = a.value("float_ms", int64_t{0}), fb = b.value("float_ms", int64_t{0});
    return fa != fb ? fa < fb : by_behind(a, b);
  });
  std::stable_sort(near_critical.begin(), near_critical.end(), [](const json& a, const json& b) {
    return a["float_ms"].get<int64_t>() < b["float_ms"].get<int64_t>();
  });
  result["late"] = late;
  result["chase"] = chase;
  result["near_critical"] = near_critical;
  json ready = json::array();
  for (const auto& id : crdt::ReadyTasks(s)) ready.push_back(id);
  result["ready"] = ready;
  return result;
}

json Board::AnomaliesJson(const std::vector<Anomaly>& anomalies) {
  json out = json::array();
  for (const Anomaly& a : anomalies) {
    json j{{"task", a.task_id}, {"kind", a.kind}, {"at", Ms(a.at_ms)}};
    if (!a.other.empty()) {
      j["predecessor"] = a.other;
      j["dependency"] = client::DependencyTypeName(a.type);
    }
    j["other_at"] = Ms(a.other_ms);
    out.push_back(std::move(j));
  }
  return out;
}

Result<json> Board::Task(const std::string& task_id) {
  BATON_TRY(RequirePlan());
  const auto& proj = proj_;
  const crdt::TaskState* st = proj.Task(task_id);
  if (st == nullptr || !st->exists()) {
    return NotInPlan(proj, "task", task_id);
  }
  BATON_ASSIGN_OR_RETURN(crdt::Schedule s, Schedule());
  json out = TaskRow(st->spec(), s.Find(task_id));
  out["spec"] = client::ToJson(st->spec());
  out["removed"] = st->removed();
  out["conflicting_fields"] = st->ConflictingFields();
  json live = json::array();
  for (const auto& r : st->LiveReports()) {
    live.push_back({{"event", r.id.ToString()},
                    {"kind", client::ReportKindName(r.kind)},
                    {"actor", r.actor},
                    {"at", r.time_ms()},
                    {"note", r.note}});
  }
  out["live_reports"] = live;
  if (const auto* g = st->GateWinner()) {
    out["gate"] = {{"go", g->go},
                   {"actor", g->actor},
                   {"event", g->id.ToString()},
                   {"note", g->note},
                   {"conflict", st->GateConflict()}};
  }
  json notes = json::array();
  for (const auto& n : st->Notes()) {
    notes.push_back(
        {{"event", n.id.ToString()}, {"actor", n.actor}, {"at", n.hlc.wall_ms}, {"text", n.text}});
  }
  out["notes"] = notes;
  json history = json::array();
  for (const auto& h : st->History()) {
    json entry{{"event", h.id.ToString()},
               {"kind", h.kind},
               {"actor", h.actor},
               {"at", h.hlc.wall_ms},
               {"counted", h.counted}};
    // A plan definition's body is the whole plan: the history names it, `plan show` shows it.
    if (std::string_view(h.kind) != "plan_defined") {
      auto e = lookup_ ? lookup_(h.id) : Result<crdt::Event>(Status::NotFound(""));
      if (e.ok()) entry["body"] = client::ToJson(*e)["body"];
    }
    history.push_back(entry);
  }
  out["history"] = history;
  json flags = json::array();
  for (const auto& f : st->flags())
    flags.push_back({{"event", f.id.ToString()}, {"reason", f.reason}});
  out["flags"] = flags;
  std::vector<Anomaly> anomalies = Anomalies(proj, {st->spec()});
  out["anomalies"] = AnomaliesJson(anomalies);
  return out;
}

namespace {

// `given`, spelled as the plan spells it (case aside); kInvalidArgument naming the known ones
// and the likely one otherwise.
Result<std::string> OneOf(const std::string& noun, const std::string& given,
                          const std::set<std::string>& known) {
  for (const std::string& k : known) {
    if (k.size() == given.size() &&
        std::equal(k.begin(), k.end(), given.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return k;
    }
  }
  const std::vector<std::string> all(known.begin(), known.end());
  std::string list;
  for (const std::string& k : all) list += (list.empty() ? "" : ", ") + k;
  return Status::InvalidArgument("no " + noun + " \"" + given + "\" in the plan" +
                                 client::DidYouMean(client::Suggestions(given, all)) + "; its " +
                                 noun + "s: " + (list.empty() ? "none" : list));
}

}  // namespace

Result<json> Board::List(client::ListArgs args, const std::string& filter) {
  BATON_TRY(RequirePlan());
  if (args.team || args.site || args.phase) {
    const crdt::Plan plan = proj_.CurrentPlan();
    std::set<std::string> teams(plan.teams.begin(), plan.teams.end());
    std::set<std::string> sites, phases;
    for (const auto& s : plan.sites) sites.insert(s.id);
    for (const auto& t : plan.tasks) {
      if (!t.team.empty()) teams.insert(t.team);
      if (!t.site.empty()) sites.insert(t.site);
      if (!t.phase.empty()) phases.insert(t.phase);
    }
    if (args.phase) {
      BATON_ASSIGN_OR_RETURN(*args.phase, OneOf("phase", *args.phase, phases));
    }
    if (args.team) {
      BATON_ASSIGN_OR_RETURN(*args.team, OneOf("team", *args.team, teams));
    }
    if (args.site) {
      BATON_ASSIGN_OR_RETURN(*args.site, OneOf("site", *args.site, sites));
    }
  }
  if (filter == "mine" && !args.site && !args.team) args.site = site_;
  BATON_ASSIGN_OR_RETURN(crdt::Schedule s, Schedule());
  const auto& proj = proj_;
  const auto index = IndexOf(s);
  json rows = json::array();
  for (const auto& t : proj.CurrentPlan().tasks) {
    const crdt::TaskSchedule* ts = Lookup(index, t.id);
    const std::string status = ShownStatus(proj, t, ts);
    if (args.team && t.team != *args.team) continue;
    if (args.site && t.site != *args.site) continue;
    if (args.phase && t.phase != *args.phase) continue;
    if (args.status && status != *args.status) continue;
    const bool late = ts != nullptr && (IsLate(*ts) || IsOver(*ts));
    if ((args.late_only || filter == "late") && !late) continue;
    if (filter == "ready" && status != "ready") continue;
    if (filter == "blocked" && status != "blocked") continue;
    if (filter == "mine" && (status == "done" || status == "skipped")) continue;
    rows.push_back(TaskRow(t, ts));
  }
  return json{{"tasks", rows}, {"now", now_ms_}};
}

Result<json> Board::Critical() {
  BATON_TRY(RequirePlan());
  BATON_ASSIGN_OR_RETURN(crdt::Schedule s, Schedule());
  crdt::Plan plan = proj_.CurrentPlan();
  std::map<std::string, const crdt::TaskSpec*> by_id;
  for (const auto& t : plan.tasks) by_id[t.id] = &t;
  const auto index = IndexOf(s);
  json rows = json::array();
  for (const auto& id : s.critical_path) {
    auto it = by_id.find(id);
    if (it != by_id.end()) rows.push_back(TaskRow(*it->second, Lookup(index, id)));
  }
  return json{{"tasks", rows}, {"forecast", ForecastJson(s)}};
}

Result<json> Board::Forecast() {
  BATON_TRY(RequirePlan());
  BATON_ASSIGN_OR_RETURN(crdt::Schedule s, Schedule());
  json out = ForecastJson(s);
  auto backout_json = [](const crdt::BackoutForecast& b) {
    json steps = json::array();
    for (const auto& st : b.steps) {
      steps.push_back({{"task", st.task_id},
                       {"status", crdt::ProgressName(st.status)},
                       {"undoes", st.undoes},
                       {"start", Ms(st.start_ms)},
                       {"finish", Ms(st.finish_ms)}});
    }
    return json{{"start", Ms(b.start_ms)},
                {"finish", Ms(b.finish_ms)},
                {"margin_ms", Ms(b.margin_ms)},
                {"inside_window", b.inside_window},
                {"steps", steps},
                {"warnings", b.warnings}};
  };
  crdt::ScheduleInput in = MakeScheduleInput();
  // Backing out: the back-out under way, from its start; otherwise one begun now.
  BATON_ASSIGN_OR_RETURN(crdt::BackoutForecast now_b, crdt::ForecastBackout(in, crdt::kNoTime));
  out["backout_now"] = backout_json(now_b);
  if (s.backing_out) return out;
  for (const auto& t : in.tasks) {
    if (t.kind != crdt::TaskKind::kGate || t.is_backout) continue;
    auto at_gate = crdt::ForecastBackoutAtGate(in, t.id);
    if (at_gate.ok()) {
      json g = backout_json(*at_gate);
      g["gate"] = t.id;
      out["backout_at_gates"].push_back(g);
    }
  }
  return out;
}

}  // namespace baton::daemon
