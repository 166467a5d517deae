// baton-audit timeline: every event of a site's log in causal order (by hybrid logical clock,
// then origin and seq), with its recording time, effective time, site, actor, task and change,
// and whether it counted (events kept but not counted carry the reason). CSV or JSON.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"

namespace baton::audit {

struct TimelineRow {
  crdt::EventId id;
  crdt::Hlc hlc;             // Recording time.
  int64_t effective_ms = 0;  // When it happened as reported (`--at`); the recording time if none.
  std::string actor;
  std::string kind;  // BodyKindName: "task_reported", "note_added", ...
  std::string task;  // Empty for plan-level events.
  std::string change;
  bool counted = true;
  std::string flag;  // Why it was not counted.
};

struct Timeline {
  crdt::SiteId site;  // The site whose log it is.
  std::string runbook_id;
  std::vector<TimelineRow> rows;
  uint64_t undecodable = 0;  // Entries left out (`baton-audit verify` names them).
};

// `path`: a data directory or a bundle; `trust` as for Evidence::Open.
Result<Timeline> BuildTimeline(const std::filesystem::path& path, const std::string& trust);

// One CSV cell, RFC 4180 quoted when needed; a text cell that a spreadsheet would read as a
// formula (=, +, -, @, tab or CR first) gets a leading apostrophe.
std::string CsvCell(const std::string& text, bool is_text);

// One header line and one line per row; RFC 4180 quoting. A text cell that a spreadsheet would
// read as a formula (=, +, -, @ first) gets a leading apostrophe.
std::string TimelineCsv(const Timeline& timeline);
std::string TimelineJson(const Timeline& timeline);

}  // namespace baton::audit
