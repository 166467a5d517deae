// Plan import: a run book as a spreadsheet exports it (CSV) -> crdt::Plan.
// Columns are found by well-known header names (case, space and punctuation insensitive) or by
// explicit overrides; cells accept the formats planners type (durations "2h 30m", "1:30";
// dates ISO 8601 or DD/MM/YYYY; offsets "+2h30m" from the window start; links "T-012 SS+10m").
// Local times are read in the plan's IANA time zone (system database), DST included.
// All-or-nothing: on any problem, every problem is reported (file:line:column) and no plan is
// returned. The column reference is in examples/README.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"

namespace baton::tools {

struct ImportOptions {
  std::string runbook_id;
  std::string name;
  std::string timezone = "UTC";  // IANA name; local times in cells and the window are read in it.
  // Outage window, local times in `timezone` in the same formats as cells; may be empty (no
  // window), but then start offsets ("+2h") and bare times ("22:00") cannot be resolved.
  // `window_end` may also be an offset from `window_start` ("+58h").
  std::string window_start;
  std::string window_end;
  bool day_first = true;  // "03/04/2026" is 3 April (true) or March 4 (false).
  // Field -> header override, e.g. {"duration", "Est. time"}. Fields: id, title, phase, team,
  // site, start, duration, predecessors, kind, not_before, backout, is_backout.
  std::map<std::string, std::string> columns;
  std::string source_name;  // Used in messages ("plan.csv").
  // The file's encoding: "utf-8" (a byte-order mark is dropped; invalid bytes are an error at
  // line:column) or "windows-1252" (also "cp1252", "latin-1"), converted to UTF-8.
  std::string encoding = "utf-8";
  // For amendments: the ids of tasks already in the plan. New tasks may name them as
  // predecessors or back-out tasks; a new task may not reuse one. (Cycles through existing
  // tasks are caught by the daemon, which holds the whole plan.)
  std::set<std::string> existing_ids;
};

// One problem in the input. line/column are 1-based; 0 when they do not apply (e.g. an option).
struct ImportError {
  int line = 0;
  int column = 0;
  std::string field;  // "duration", "window_start", ...; may be empty.
  std::string value;  // The offending cell text; may be empty.
  std::string message;
  std::string source;  // Copied from ImportOptions::source_name.

  // `plan.csv:14:5: field "duration": "2h30x" is not a duration (try 45, 45m, 2h 30m, 1:30)`.
  std::string ToString() const;
};

struct ImportResult {
  crdt::Plan plan;
  std::vector<std::string> warnings;  // Each prefixed with "source:line:column: ".
};

// Reads a run book. On any error returns kInvalidArgument whose message is "N errors in
// <source>" followed by one line per error, and fills `errors` (if not null) with every error in
// line/column order. Tasks keep file order; teams are sorted and distinct; sites are one
// SiteInfo{id, name = id, role kSite} per distinct site (keys and roles come from the roster).
Result<ImportResult> ImportPlanCsv(std::string_view csv_text, const ImportOptions& options,
                                   std::vector<ImportError>* errors);

// The largest plan file ImportPlanFile reads (a 10,000-task plan is a few MiB).
inline constexpr size_t kMaxPlanFileBytes = size_t{64} << 20;

// Reads `path` and imports it; source_name defaults to the path as given. kIOError if the file
// cannot be read, kInvalidArgument if it is over kMaxPlanFileBytes (also reported in `errors`).
Result<ImportResult> ImportPlanFile(const std::filesystem::path& path, ImportOptions options,
                                    std::vector<ImportError>* errors);

// "45", "45m", "2h", "2h 30m", "2h30m", "1:30", "90 min", "1.5h", "0" -> milliseconds.
Result<int64_t> ParseDurationMs(std::string_view text);

// Names (site ids, team names) separated by commas or semicolons, trimmed, empty ones skipped:
// "vendor-de, dba;" gives {"vendor-de", "dba"}. As a Deciders cell is read.
std::vector<std::string> SplitNames(std::string_view text);

// Moves the whole plan in time so that its window starts at `new_window_start_ms`: the window
// and every absolute planned start and time lock shift by the same amount (elapsed time, so
// durations are kept; local clock times differ if the shift crosses a DST change). For
// rehearsing a run book before its real weekend. kInvalidArgument if the plan has no window.
Status RebasePlan(crdt::Plan* plan, int64_t new_window_start_ms);

// "Fri 2026-03-27 20:00 CET": a UTC instant shown in `timezone` (IANA); "?" if unknown.
std::string FormatLocalTime(int64_t utc_ms, const std::string& timezone);

}  // namespace baton::tools
