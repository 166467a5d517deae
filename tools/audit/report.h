// baton-audit report: the planned-versus-actual report of a weekend, from a site's log or
// bundle, offline. One self-contained HTML file (inline CSS and SVG, no script, no external
// asset): the verification result, a Gantt chart with a planned and an actual bar per task
// grouped by phase (critical path marked, outage window shaded, gates and back-out tasks
// marked), per-team and per-site tables (tasks, late starts, overruns, total slip), conflicts and
// how they were resolved, events kept but not counted, and who did what. The per-task figures
// also as CSV and as an .xlsx workbook. docs/audit.md#report.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "crdt/status.h"
#include "tools/audit/verify.h"

namespace baton::audit {

struct ReportOptions {
  std::filesystem::path data;  // A data directory or a bundle.
  std::string trust;
  std::string as_of;  // As for ReplayOptions; empty: the end of the log.
};

struct TaskFigures {
  std::string id, title, phase, team, site, kind, status;
  bool backout = false;
  bool critical = false;  // On the critical path as of the report's moment.
  bool conflict = false;
  std::string gate;                               // "go", "no-go" or "" (not a gate, or undecided).
  int64_t planned_start = 0, planned_finish = 0;  // kNoTime when the plan gives none.
  int64_t actual_start = 0, actual_finish = 0;    // kNoTime when not (yet) reported.
  int64_t duration_ms = 0;                        // Planned.
  // Derived (0 when a time is missing): actual start - planned start; actual duration - planned
  // duration (finished tasks); actual finish - planned finish.
  int64_t start_slip_ms = 0, overrun_ms = 0, finish_slip_ms = 0;
  bool late_start = false, overran = false;  // Beyond a minute's grace.
};

struct GroupFigures {
  std::string name;
  int tasks = 0, finished = 0, late_starts = 0, overruns = 0;
  int64_t total_slip_ms = 0;  // Sum of the positive finish slips.
};

struct ResolvedConflict {
  std::string task, event, actor, what;  // what: "done", "go", ...
  int64_t at = 0;
  std::vector<std::string> superseded;  // The concurrent values it settled.
};

struct ActorFigures {
  std::string actor;
  int reports = 0, notes = 0, gates = 0, plan_changes = 0;
  int64_t first = 0, last = 0;
};

struct Report {
  std::string runbook_id, name, timezone, site;
  int64_t as_of = 0, window_start = 0, window_end = 0;
  int64_t planned_finish = 0, forecast_finish = 0;
  std::vector<TaskFigures> tasks;  // Plan order.
  std::vector<std::string> critical_path;
  std::vector<GroupFigures> teams, sites;
  std::vector<std::string> open_conflicts;
  std::vector<ResolvedConflict> resolved;
  std::vector<ActorFigures> actors;
  VerifyReport verification;
};

Result<Report> BuildReport(const ReportOptions& options);

// The HTML page, whole (docs/audit.md#report).
std::string ReportHtml(const Report& report);
// One line per task: the figures above, times in UTC ISO 8601, durations in minutes.
std::string ReportCsv(const Report& report);
// The same figures as an .xlsx workbook (libxlsxwriter): sheet "Tasks" (times as spreadsheet
// date-times in UTC), sheets "Teams" and "Sites". Written whole: `path`.partial, then a rename.
Status WriteReportXlsx(const Report& report, const std::filesystem::path& path);

}  // namespace baton::audit
