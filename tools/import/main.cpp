// baton-import: checks a CSV run book before it is imported into a daemon. Prints a summary
// (tasks, phases, teams, sites, window in local time, the forecast before anything has run,
// warnings) or every error; exit 0 or 1.
// A thin shell over baton::plan_import; the column reference is in examples/README.md.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "crdt/schedule.h"
#include "tools/import/plan_import.h"

namespace baton::tools {
namespace {

std::string FormatSpan(int64_t ms) {
  const int64_t minutes = ms / 60'000;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(minutes / 60),
                static_cast<long long>(minutes % 60));
  return buf;
}

// The schedule as of the window start: forecast finish against the window end, and what backing
// out at the last go/no-go gate would take.
void PrintForecast(const crdt::Plan& plan) {
  if (plan.window_start_ms == crdt::kNoTime) return;
  crdt::ScheduleInput input;
  input.tasks = plan.tasks;
  input.window_start_ms = plan.window_start_ms;
  input.window_end_ms = plan.window_end_ms;
  input.now_ms = plan.window_start_ms;
  auto schedule = crdt::ComputeSchedule(input);
  if (!schedule.ok()) {
    std::cout << "  forecast: unavailable: " << schedule.status().message() << "\n";
    return;
  }
  std::cout << "  forecast: finish "
            << FormatLocalTime(schedule->forecast_finish_ms, plan.timezone);
  if (schedule->slack_ms != crdt::kNoTime) {
    std::cout << (schedule->at_risk ? ", " + FormatSpan(-schedule->slack_ms) + " AFTER"
                                    : ", " + FormatSpan(schedule->slack_ms) + " before")
              << " the window closes";
  }
  std::cout << " (critical path: " << schedule->critical_path.size() << " tasks)\n";
  const auto gate = std::find_if(plan.tasks.rbegin(), plan.tasks.rend(), [](const auto& t) {
    return t.kind == crdt::TaskKind::kGate && !t.is_backout;
  });
  if (gate == plan.tasks.rend()) return;
  auto back_out = crdt::ForecastBackoutAtGate(input, gate->id);
  if (!back_out.ok() || back_out->steps.empty()) return;
  std::cout << "  back-out at " << gate->id << ": " << back_out->steps.size() << " steps, finish "
            << FormatLocalTime(back_out->finish_ms, plan.timezone)
            << (back_out->inside_window ? " (inside the window)" : " (PAST the window end)")
            << "\n";
}

void PrintSummary(const std::string& file, const ImportResult& result) {
  const crdt::Plan& plan = result.plan;
  int milestones = 0, gates = 0, backout = 0;
  std::map<std::string, int> phases;
  std::vector<std::string> phase_order;
  for (const auto& t : plan.tasks) {
    if (t.kind == crdt::TaskKind::kMilestone) ++milestones;
    if (t.kind == crdt::TaskKind::kGate) ++gates;
    if (t.is_backout) ++backout;
    if (phases[t.phase]++ == 0) phase_order.push_back(t.phase);
  }
  std::cout << file << ": OK\n";
  std::cout << "  tasks:   " << plan.tasks.size() << " (" << milestones << " milestones, " << gates
            << " go/no-go gates, " << backout << " on the back-out path)\n";
  std::cout << "  phases: ";
  for (const auto& p : phase_order)
    std::cout << " " << (p.empty() ? "(none)" : p) << " " << phases[p];
  std::cout << "\n  teams:   " << plan.teams.size() << ":";
  for (const auto& t : plan.teams) std::cout << " " << t;
  std::cout << "\n  sites:   " << plan.sites.size() << ":";
  for (const auto& s : plan.sites) std::cout << " " << s.id;
  std::cout << "\n  window:  ";
  if (plan.window_start_ms == crdt::kNoTime) {
    std::cout << "none given (--window-start, --window-end)";
  } else {
    std::cout << FormatLocalTime(plan.window_start_ms, plan.timezone) << " -> "
              << FormatLocalTime(plan.window_end_ms, plan.timezone);
    if (plan.window_end_ms != crdt::kNoTime) {
      std::cout << " (" << FormatSpan(plan.window_end_ms - plan.window_start_ms) << ")";
    }
  }
  std::cout << "  [" << plan.timezone << "]\n";
  PrintForecast(plan);
  if (!result.warnings.empty()) {
    std::cout << "  warnings: " << result.warnings.size() << "\n";
    for (const auto& w : result.warnings) std::cout << "    " << w << "\n";
  }
}

int Run(int argc, char** argv) {
  CLI::App app{"baton-import: check a CSV run book (cut-over plan) before importing it"};
  app.require_subcommand(1);
  app.footer(
      "Example:\n"
      "  baton-import check examples/cutover-plan.csv --tz Europe/Berlin \\\n"
      "      --window-start '2026-03-27 20:00' --window-end '2026-03-30 06:00'\n"
      "Columns and cell formats: examples/README.md");
  CLI::App* check = app.add_subcommand("check", "Read FILE; print a summary or every error");
  std::string file;
  ImportOptions options;
  std::vector<std::string> column_overrides;
  bool month_first = false;
  check->add_option("FILE", file, "CSV file (UTF-8, comma, semicolon or tab separated)")
      ->required();
  check->add_option("--tz", options.timezone, "IANA time zone of local times")->default_val("UTC");
  check->add_option("--window-start", options.window_start,
                    "Outage window start, local time (2026-03-27 20:00)");
  check->add_option("--window-end", options.window_end,
                    "Outage window end, local time or offset from the start (+58h)");
  bool day_first = false;
  CLI::Option* day_first_flag =
      check->add_flag("--day-first", day_first, "Read 03/04/2026 as 3 April (the default)");
  check->add_flag("--month-first", month_first, "Read 03/04/2026 as March 4")
      ->excludes(day_first_flag);
  check->add_option("--column", column_overrides,
                    "Column of a field by header, letter or position, e.g. --column "
                    "'duration=Est. time', --column start=K, --column team=#4 (repeatable)");
  check->add_option("--runbook-id", options.runbook_id, "Run book id");
  check
      ->add_option("--encoding", options.encoding,
                   "utf-8 (default; invalid bytes are refused at line:column) or windows-1252 "
                   "(Excel's plain CSV on Windows, also latin-1)")
      ->default_val("utf-8");
  check->add_option("--name", options.name, "Run book name");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  options.day_first = !month_first;
  for (const auto& spec : column_overrides) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "baton-import: --column " << spec << ": expected field=Header\n";
      return 2;
    }
    options.columns[spec.substr(0, eq)] = spec.substr(eq + 1);
  }
  std::vector<ImportError> errors;
  auto result = ImportPlanFile(file, options, &errors);
  if (!result.ok()) {
    std::cerr << result.status().message() << "\n";
    return 1;
  }
  PrintSummary(file, *result);
  return 0;
}

}  // namespace
}  // namespace baton::tools

int main(int argc, char** argv) {
  try {
    return baton::tools::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "baton-import: " << e.what() << "\n";
    return 1;
  }
}
