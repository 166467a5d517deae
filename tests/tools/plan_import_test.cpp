// Plan import from CSV: every cell format, every error kind with its exact file:line:column,
// spreadsheet quirks (BOM, CRLF, multi-line cells, ragged rows, semicolons), DST in
// Europe/Berlin, and the example cut-over plan in examples/.
#include "tools/import/plan_import.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "crdt/schedule.h"
#include "tests/support/temp_dir.h"

namespace baton::tools {
namespace {

using crdt::DependencyType;
using crdt::TaskKind;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;

// Milliseconds since the epoch of a UTC calendar time (H. Hinnant's days_from_civil).
int64_t Utc(int y, int m, int d, int hh, int mm, int ss = 0) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = int64_t{era} * 146097 + doe - 719468;
  return ((days * 24 + hh) * 60 + mm) * kMinute + ss * 1000LL;
}

ImportOptions BerlinOptions() {
  ImportOptions o;
  o.runbook_id = "rb-1";
  o.name = "Core upgrade";
  o.timezone = "Europe/Berlin";
  o.window_start = "2026-03-27 20:00";  // 19:00Z (CET)
  o.window_end = "2026-03-30 06:00";    // 04:00Z (CEST)
  o.source_name = "plan.csv";
  return o;
}

const crdt::TaskSpec& Task(const crdt::Plan& plan, const std::string& id) {
  auto it = std::find_if(plan.tasks.begin(), plan.tasks.end(),
                         [&](const crdt::TaskSpec& t) { return t.id == id; });
  BOOST_REQUIRE_MESSAGE(it != plan.tasks.end(), "no task " << id);
  return *it;
}

// Imports and requires success.
crdt::Plan MustImport(const std::string& csv, const ImportOptions& options = BerlinOptions(),
                      std::vector<std::string>* warnings = nullptr) {
  std::vector<ImportError> errors;
  auto result = ImportPlanCsv(csv, options, &errors);
  BOOST_REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  BOOST_TEST(errors.empty());
  if (warnings != nullptr) *warnings = result->warnings;
  return result->plan;
}

// Imports and requires failure; returns every error as text.
std::vector<std::string> MustFail(const std::string& csv,
                                  const ImportOptions& options = BerlinOptions()) {
  std::vector<ImportError> errors;
  auto result = ImportPlanCsv(csv, options, &errors);
  BOOST_REQUIRE(!result.ok());
  BOOST_TEST((result.status().code() == StatusCode::kInvalidArgument));
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.ToString());
  return out;
}

// One task with a given cell in a given column; the rest is minimal.
std::string OneTask(const std::string& header, const std::string& cell) {
  return "ID,Title,Duration," + header + "\nT-1,First,30," + cell + "\n";
}

int64_t StartOf(const std::string& start_cell, ImportOptions options = BerlinOptions()) {
  return Task(MustImport(OneTask("Start", start_cell), options), "T-1").planned_start_ms;
}

std::string StartError(const std::string& start_cell, ImportOptions options = BerlinOptions()) {
  auto errors = MustFail(OneTask("Start", "\"" + start_cell + "\""), options);
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  return errors[0];
}

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(csv_reading)

BOOST_AUTO_TEST_CASE(bom_and_crlf_are_accepted) {
  const auto plan =
      MustImport("\xEF\xBB\xBFID,Title,Duration\r\nT-1,First,30\r\nT-2,Second,45\r\n");
  BOOST_REQUIRE_EQUAL(plan.tasks.size(), 2u);
  BOOST_TEST(plan.tasks[0].id == "T-1");        // Not "\xEF\xBB\xBFT-1" nor a mapped-away header.
  BOOST_TEST(plan.tasks[1].title == "Second");  // No trailing '\r'.
  BOOST_TEST(plan.tasks[1].duration_ms == 45 * kMinute);
}

// Not UTF-8: refused at the first bad bytes (line:column in characters), never replaced;
// the same bytes read as Windows-1252 when told so.
BOOST_AUTO_TEST_CASE(invalid_utf8_is_refused_where_it_is_unless_the_encoding_is_given) {
  const std::string latin1 = "ID,Title,Duration\nT-1,Caf\xE9 backup,30\nT-2,\xC3\xA9t\xE9,10\n";
  const auto errors = MustFail(latin1);
  BOOST_REQUIRE_EQUAL(errors.size(), 2u);
  BOOST_TEST(errors[0] ==
             "plan.csv:2:8: invalid UTF-8 (byte 0xE9): the file is not UTF-8; if the spreadsheet "
             "saved it as Windows-1252 or Latin-1 (Excel's plain \"CSV\"), give --encoding "
             "windows-1252");
  BOOST_TEST(errors[1].rfind("plan.csv:3:7: invalid UTF-8 (byte 0xE9)", 0) == 0u, errors[1]);
  ImportOptions cp1252 = BerlinOptions();
  cp1252.encoding = "Windows-1252";
  const auto plan =
      MustImport("ID,Title,Duration\nT-1,Caf\xE9 \x80 backup \x93ok\x94,30\n", cp1252);
  BOOST_TEST(Task(plan, "T-1").title ==
             "Caf\xC3\xA9 \xE2\x82\xAC backup \xE2\x80\x9Cok\xE2\x80\x9D");
  // Overlong forms and surrogates are not UTF-8 either.
  BOOST_TEST(MustFail("ID,Title,Duration\nT-1,\xC0\xAF,30\n").size() == 1u);
  BOOST_TEST(MustFail("ID,Title,Duration\nT-1,\xED\xA0\x80,30\n").size() == 1u);
  ImportOptions unknown = BerlinOptions();
  unknown.encoding = "ebcdic";
  const auto bad = MustFail("ID,Title,Duration\nT-1,First,30\n", unknown);
  BOOST_REQUIRE_EQUAL(bad.size(), 1u);
  BOOST_TEST(bad[0].find("field \"encoding\": \"ebcdic\" is not an encoding baton reads") !=
                 std::string::npos,
             bad[0]);
}

// A binary file (a .xlsx given as CSV, an executable) is refused before any of its bytes is
// echoed: one error, no control byte in it.
BOOST_AUTO_TEST_CASE(a_binary_file_is_refused_without_echoing_its_bytes) {
  const std::string zip("PK\x03\x04\x14\x00\x06\x00", 8);
  const auto errors = MustFail(zip + "rest of a workbook");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] ==
             "plan.csv:1:3: this is not a text file (a control byte 0x03 here): give the run book "
             "as CSV (in the spreadsheet: Save As, CSV UTF-8)");
  for (char c : errors[0]) BOOST_TEST(static_cast<unsigned char>(c) >= 0x20);
}

// Only a header: an error, nothing imported (the window is not moved by an empty plan).
BOOST_AUTO_TEST_CASE(a_header_without_rows_is_an_error) {
  const auto errors = MustFail("ID,Title,Duration,Predecessors\n\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] ==
             "plan.csv:2: no task rows: the file has its header (line 1) and nothing under it; "
             "nothing is imported");
}

// Planned starts at dates and times, no --window-start: kept as planned, the window starting
// at the earliest of them (said as a warning), instead of following the clock.
BOOST_AUTO_TEST_CASE(explicit_planned_starts_set_the_window_start_when_none_is_given) {
  ImportOptions o = BerlinOptions();
  o.window_start.clear();
  o.window_end.clear();
  std::vector<std::string> warnings;
  const auto plan = MustImport(
      "ID,Title,Duration,Planned Start\n"
      "T-1,Backup,30m,2026-03-28 02:00\n"
      "T-0,Freeze,10m,2026-03-28 01:30\n"
      "T-2,Check,10m,\n",
      o, &warnings);
  BOOST_TEST(plan.window_start_ms == Utc(2026, 3, 28, 0, 30));  // 01:30 CET.
  BOOST_TEST(Task(plan, "T-1").planned_start_ms == Utc(2026, 3, 28, 1, 0));
  BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
  BOOST_TEST(warnings[0].rfind("plan.csv:3: no --window-start given: the window starts at the "
                               "earliest planned start, ",
                               0) == 0u,
             warnings[0]);
  BOOST_TEST(warnings[0].find("(task T-0)") != std::string::npos, warnings[0]);
  // Offsets still need a window start: they are relative to it.
  const auto errors = MustFail("ID,Title,Duration,Start\nT-1,Backup,30m,+2h\n", o);
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0].find("no window start was given") != std::string::npos, errors[0]);
}

BOOST_AUTO_TEST_CASE(quoted_cells_keep_commas_quotes_and_newlines) {
  const auto plan = MustImport(
      "ID,Title,Duration,Predecessors\n"
      "T-1,\"Stop SWIFT, SEPA and \"\"cards\"\"\",30,\n"
      "T-2,\"Line one\r\nline two\",30,\"T-1,\n T-1 SS\"\n");
  BOOST_TEST(Task(plan, "T-1").title == "Stop SWIFT, SEPA and \"cards\"");
  BOOST_TEST(Task(plan, "T-2").title == "Line one\nline two");
  BOOST_TEST(Task(plan, "T-2").predecessors.size() == 2u);
}

BOOST_AUTO_TEST_CASE(line_numbers_stay_right_after_a_multiline_cell) {
  const auto errors = MustFail(
      "ID,Title,Duration\n"              // line 1
      "T-1,\"Three\nline\ntitle\",30\n"  // lines 2-4
      "T-2,Fine,2h30x\n");               // line 5
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] ==
             "plan.csv:5:3: field \"duration\": \"2h30x\" is not a duration (try 45, 45m, "
             "2h 30m, 1:30)");
  // A cell that starts after a newline inside the same record reports its own line.
  const auto same_record = MustFail("ID,Title,Duration\nT-1,\"two\nlines\",bad\n");
  BOOST_REQUIRE_EQUAL(same_record.size(), 1u);
  BOOST_TEST(same_record[0].rfind("plan.csv:3:3:", 0) == 0u, same_record[0]);
}

BOOST_AUTO_TEST_CASE(semicolon_separated_export_is_detected) {
  const auto plan =
      MustImport("ID;Title;Duration;Predecessors\nT-1;A;1:30;\nT-2;B;30;T-1, T-1 SS\n");
  BOOST_TEST(Task(plan, "T-1").duration_ms == 90 * kMinute);
  BOOST_TEST(Task(plan, "T-2").predecessors.size() == 2u);
}

BOOST_AUTO_TEST_CASE(short_rows_are_empty_cells_and_extra_cells_warn) {
  std::vector<std::string> warnings;
  const auto plan = MustImport(
      "ID,Title,Duration,Team,Predecessors\n"
      "T-1,A,30\n"
      "T-2,B,30,ops,T-1,surplus,,\n"
      "T-3,C,30,ops,T-2,,,\n",  // Empty padding is no surplus.
      BerlinOptions(), &warnings);
  BOOST_TEST(Task(plan, "T-1").team == "");
  BOOST_TEST(Task(plan, "T-1").predecessors.empty());
  BOOST_TEST(Task(plan, "T-2").predecessors.size() == 1u);
  BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
  BOOST_TEST(warnings[0] ==
             "plan.csv:3:6: 1 cell beyond the last header ignored (a column without a header? "
             "map it by its letter: --column FIELD=F)");
}

BOOST_AUTO_TEST_CASE(blank_rows_are_skipped) {
  const auto plan = MustImport("\n,,\nID,Title,Duration\n\nT-1,A,30\n,,\n\n");
  BOOST_REQUIRE_EQUAL(plan.tasks.size(), 1u);
}

BOOST_AUTO_TEST_CASE(an_unclosed_quote_is_an_error_where_it_opens) {
  const auto errors = MustFail("ID,Title,Duration\nT-1,A,30\nT-2,\"B,30\nT-3,C,30\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] == "plan.csv:3:2: quoted cell is never closed (a \" is missing)");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(columns)

// A header's unit or zone in brackets is understood: bare durations in that unit, times in
// that zone (whatever the plan's zone is).
BOOST_AUTO_TEST_CASE(a_headers_unit_or_zone_is_understood) {
  std::vector<std::string> warnings;
  const auto plan = MustImport(
      "ID,Title,Duration (h),Planned Start (UTC),Time Lock [CET],Deadline (UTC+2)\n"
      "T-1,Backup,1.5,2026-03-28 02:00,2026-03-28 04:00,2026-03-28 09:00\n"
      "T-2,Check,\"0,5\",2026-03-28 03:00,,\n"
      "T-3,Copy,2h 30m,,,\n",
      BerlinOptions(), &warnings);
  BOOST_TEST(Task(plan, "T-1").duration_ms == 90 * kMinute);
  BOOST_TEST(Task(plan, "T-2").duration_ms == 30 * kMinute);
  BOOST_TEST(Task(plan, "T-3").duration_ms == 150 * kMinute);  // Not a bare number: as written.
  BOOST_TEST(Task(plan, "T-1").planned_start_ms == Utc(2026, 3, 28, 2, 0));  // UTC, not Berlin.
  BOOST_TEST(Task(plan, "T-1").not_before_ms == Utc(2026, 3, 28, 3, 0));     // 04:00 CET.
  // "Deadline" is no field: its column is unused, as before, whatever its brackets say.
  BOOST_TEST(warnings.size() == 1u);
  ImportOptions minutes = BerlinOptions();
  BOOST_TEST(
      Task(MustImport("ID,Title,Duration (min)\nT-1,Backup,45\n", minutes), "T-1").duration_ms ==
      45 * kMinute);
  BOOST_TEST(Task(MustImport("ID,Title,Duration,Planned Start (Asia/Kolkata)\nT-1,Backup,30,"
                             "2026-03-28 05:30\n"),
                  "T-1")
                 .planned_start_ms == Utc(2026, 3, 28, 0, 0));
  // A zone or a unit that is not one: located, nothing imported.
  const auto zone = MustFail("ID,Title,Duration,Planned Start (XYZ)\nT-1,Backup,30,\n");
  BOOST_REQUIRE_EQUAL(zone.size(), 1u);
  BOOST_TEST(zone[0].rfind("plan.csv:1:4: field \"start\": \"Planned Start (XYZ)\" names the "
                           "zone \"XYZ\", which baton does not know",
                           0) == 0u,
             zone[0]);
  const auto unit = MustFail("ID,Title,Duration (wk)\nT-1,Backup,3\n");
  BOOST_REQUIRE_EQUAL(unit.size(), 1u);
  BOOST_TEST(unit[0] ==
             "plan.csv:1:3: field \"duration\": \"Duration (wk)\" names the unit "
             "\"wk\", which is not min, h or d");
}

// A column with no header between named ones (rows carry more cells than the header names):
// reported with the letter to map it by, and mapped by letter or position.
BOOST_AUTO_TEST_CASE(a_column_is_chosen_by_its_letter_or_position) {
  const std::string csv =
      "ID,Title,Duration\n"
      "T-1,Backup,30,dba\n"
      "T-2,Check,10,ops\n";
  std::vector<std::string> warnings;
  MustImport(csv, BerlinOptions(), &warnings);
  BOOST_REQUIRE_EQUAL(warnings.size(), 2u);
  BOOST_TEST(warnings[0] ==
             "plan.csv:2:4: 1 cell beyond the last header ignored (a column without a header? "
             "map it by its letter: --column FIELD=D)");
  for (const char* ref : {"D", "d", "#4", "4"}) {
    ImportOptions o = BerlinOptions();
    o.columns["team"] = ref;
    std::vector<std::string> none;
    const auto plan = MustImport(csv, o, &none);
    BOOST_TEST(Task(plan, "T-1").team == "dba", ref);
    BOOST_TEST(Task(plan, "T-2").team == "ops", ref);
    BOOST_TEST(none.empty(), ref);
  }
  ImportOptions by_letter = BerlinOptions();  // Headers baton does not know, chosen by letter.
  by_letter.columns["title"] = "C";
  by_letter.columns["duration"] = "b";
  const auto lettered = MustImport("ID,Effort,Name\nT-1,45,Backup\n", by_letter);
  BOOST_TEST(Task(lettered, "T-1").title == "Backup");
  BOOST_TEST(Task(lettered, "T-1").duration_ms == 45 * kMinute);
  ImportOptions missing = BerlinOptions();
  missing.columns["team"] = "Owner";
  const auto errors = MustFail(csv, missing);
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0].find("is not a header of this file, nor a column letter (K) or position "
                            "(#11)") != std::string::npos,
             errors[0]);
}

// An end column instead of a duration: the duration is end - start; both given must agree.
BOOST_AUTO_TEST_CASE(an_end_column_gives_the_duration) {
  const auto plan = MustImport(
      "ID,Title,Planned Start,Planned End\n"
      "T-1,Backup,2026-03-27 22:00,2026-03-28 00:30\n"
      "M-1,Backup done,2026-03-28 00:30,2026-03-28 00:30\n");
  BOOST_TEST(Task(plan, "T-1").duration_ms == 150 * kMinute);
  BOOST_TEST((Task(plan, "M-1").kind == TaskKind::kMilestone));
  BOOST_TEST(MustImport("ID,Title,Start,Duration,End\nT-1,A,2026-03-27 22:00,1h,2026-03-27 "
                        "23:00\n")
                 .tasks[0]
                 .duration_ms == kHour);
  const auto errors = MustFail(
      "ID,Title,Start,Duration,End\n"
      "T-1,A,2026-03-27 22:00,45m,2026-03-27 23:00\n"
      "T-2,B,2026-03-27 22:00,,2026-03-27 21:00\n"
      "T-3,C,,,2026-03-27 21:00\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 3u);
  BOOST_TEST(errors[0].rfind("plan.csv:2:5: field \"end\": \"2026-03-27 23:00\" disagrees with "
                             "the duration (45m): start + duration is ",
                             0) == 0u,
             errors[0]);
  BOOST_TEST(errors[1] ==
             "plan.csv:3:5: field \"end\": \"2026-03-27 21:00\" is before the task's "
             "start (2026-03-27 22:00)");
  BOOST_TEST(errors[2] ==
             "plan.csv:4:5: field \"end\": \"2026-03-27 21:00\" needs a start in the "
             "same row to give the duration");
}

BOOST_AUTO_TEST_CASE(headers_match_whatever_the_case_spaces_and_punctuation) {
  const auto plan = MustImport(
      " Task-ID ,TASK NAME,Stream,Owner Team,Location,Start Time,Est.,Depends on,TYPE,"
      "Time Lock,Back-out Task,Is Backout,Notes\n"
      "T-1,Deploy,deploy,app,dc-east,+1h,1h,,task,2026-03-27 22:00,T-2,no,anything\n"
      "T-2,Undo,deploy,app,dc-east,,30,,,,,yes,\n");
  const auto& t1 = Task(plan, "T-1");
  BOOST_TEST(t1.title == "Deploy");
  BOOST_TEST(t1.phase == "deploy");
  BOOST_TEST(t1.team == "app");
  BOOST_TEST(t1.site == "dc-east");
  BOOST_TEST(t1.planned_start_ms == Utc(2026, 3, 27, 20, 0));
  BOOST_TEST(t1.not_before_ms == Utc(2026, 3, 27, 21, 0));
  BOOST_TEST(t1.duration_ms == kHour);
  BOOST_TEST(t1.backout_task == "T-2");
  BOOST_TEST(!t1.is_backout);
  BOOST_TEST(Task(plan, "T-2").is_backout);
}

BOOST_AUTO_TEST_CASE(other_well_known_headers) {
  for (const std::string header : {"id,title,duration", "#,Name,Dur", "Ref,Activity,Estimate",
                                   "Task,Description,Planned Duration"}) {
    BOOST_TEST_CONTEXT(header) {
      const auto plan = MustImport(header + "\nT-1,A,30\n");
      BOOST_TEST(plan.tasks.at(0).id == "T-1");
      BOOST_TEST(plan.tasks.at(0).title == "A");
      BOOST_TEST(plan.tasks.at(0).duration_ms == 30 * kMinute);
    }
  }
}

BOOST_AUTO_TEST_CASE(override_names_the_header_of_a_field) {
  ImportOptions o = BerlinOptions();
  o.columns = {{"duration", "Est. time"}, {"predecessors", "Needs"}};
  std::vector<std::string> warnings;
  const auto plan = MustImport("ID,Title,Est. time,Needs\nT-1,A,2h,\nT-2,B,5,T-1\n", o, &warnings);
  BOOST_TEST(Task(plan, "T-1").duration_ms == 2 * kHour);
  BOOST_TEST(Task(plan, "T-2").predecessors.at(0).task_id == "T-1");
  BOOST_TEST(warnings.empty());
}

BOOST_AUTO_TEST_CASE(override_of_a_missing_header_or_unknown_field_is_an_error) {
  ImportOptions o = BerlinOptions();
  o.columns = {{"duration", "Effort"}, {"colour", "Title"}};
  const auto errors = MustFail("ID,Title,Est. time\nT-1,A,2h\n", o);
  BOOST_REQUIRE_EQUAL(errors.size(), 2u);
  BOOST_TEST(
      errors[0] ==
      "plan.csv: field \"colour\": is not a field (fields: id, title, phase, team, site, "
      "start, duration, predecessors, kind, not_before, backout, is_backout, deciders, end)");
  BOOST_TEST(errors[1] ==
             "plan.csv:1: field \"duration\": \"Effort\" is not a header of this file, nor a "
             "column letter (K) or position (#11) (headers seen: \"ID\", \"Title\", \"Est. "
             "time\")");
}

BOOST_AUTO_TEST_CASE(missing_required_columns_name_the_headers_seen) {
  const auto errors = MustFail("Ref ID,Task Title,Hours\nT-1,A,2\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 3u);
  BOOST_TEST(errors[0] ==
             "plan.csv:1: field \"id\": no column found (looked for id, task id, task, #, ref; "
             "headers seen: \"Ref ID\", \"Task Title\", \"Hours\")");
  BOOST_TEST(errors[1].find("field \"title\": no column found") != std::string::npos);
  BOOST_TEST(errors[2].find("field \"duration\": no column found") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unused_and_repeated_columns_warn) {
  std::vector<std::string> warnings;
  MustImport("ID,Title,Duration,Colour,Dur,Comments\nT-1,A,30,red,45,ok\n", BerlinOptions(),
             &warnings);
  BOOST_REQUIRE_EQUAL(warnings.size(), 2u);
  BOOST_TEST(warnings[0] == "plan.csv:1:4: column \"Colour\" is not used");
  BOOST_TEST(warnings[1] ==
             "plan.csv:1:5: column \"Dur\" ignored: column 3 already gives the duration");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(durations)

BOOST_AUTO_TEST_CASE(every_documented_form) {
  const std::map<std::string, int64_t> cases = {
      {"45", 45 * kMinute},        {"45m", 45 * kMinute},    {"2h", 2 * kHour},
      {"2h 30m", 150 * kMinute},   {"2h30m", 150 * kMinute}, {"1:30", 90 * kMinute},
      {"90 min", 90 * kMinute},    {"1.5h", 90 * kMinute},   {"0", 0},
      {"1h30", 90 * kMinute},      {"2 hours", 2 * kHour},   {"1:00:30", kHour + 30'000},
      {" 30 MINS ", 30 * kMinute}, {"1d", 24 * kHour},
  };
  for (const auto& [text, ms] : cases) {
    BOOST_TEST_CONTEXT(text) {
      auto parsed = ParseDurationMs(text);
      BOOST_REQUIRE(parsed.ok());
      BOOST_TEST(*parsed == ms);
      const auto plan = MustImport("ID,Title,Est\nT-1,A,\"" + text + "\"\n");
      BOOST_TEST(Task(plan, "T-1").duration_ms == ms);
    }
  }
}

BOOST_AUTO_TEST_CASE(malformed_durations_are_rejected) {
  for (const std::string text : {"2h30x", "abc", "-5", "1:75", "h", "2h 30q", "1..5h", "30 m h"}) {
    BOOST_TEST_CONTEXT(text) { BOOST_TEST(!ParseDurationMs(text).ok()); }
  }
  const auto errors = MustFail("ID,Title,Duration\nT-1,A,30\nT-2,B,2h30x\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] ==
             "plan.csv:3:3: field \"duration\": \"2h30x\" is not a duration (try 45, 45m, "
             "2h 30m, 1:30)");
}

BOOST_AUTO_TEST_CASE(an_empty_duration_is_an_error_for_a_task_only) {
  const auto errors = MustFail("ID,Title,Duration,Kind\nT-1,A,,\nT-2,Gate,,gate\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] == "plan.csv:2:3: field \"duration\": is empty (use 0 for a milestone)");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(times)

BOOST_AUTO_TEST_CASE(iso_8601_forms) {
  BOOST_TEST(StartOf("2026-03-28T22:00") == Utc(2026, 3, 28, 21, 0));  // CET = UTC+1
  BOOST_TEST(StartOf("2026-03-28T22:00:30") == Utc(2026, 3, 28, 21, 0, 30));
  BOOST_TEST(StartOf("2026-03-28T22:00Z") == Utc(2026, 3, 28, 22, 0));
  BOOST_TEST(StartOf("2026-03-28T22:00:00+05:30") == Utc(2026, 3, 28, 16, 30));
  BOOST_TEST(StartOf("2026-03-28T22:00-0100") == Utc(2026, 3, 28, 23, 0));
  BOOST_TEST(StartOf("2026-03-28 22:00") == Utc(2026, 3, 28, 21, 0));
  BOOST_TEST(StartOf("2026-03-29 03:00") == Utc(2026, 3, 29, 1, 0));  // CEST = UTC+2
}

BOOST_AUTO_TEST_CASE(spreadsheet_forms_follow_day_first) {
  BOOST_TEST(StartOf("28/03/2026 22:00") == Utc(2026, 3, 28, 21, 0));
  BOOST_TEST(StartOf("28.03.2026 22:00") == Utc(2026, 3, 28, 21, 0));
  BOOST_TEST(StartOf("28/03/2026 10:00 PM") == Utc(2026, 3, 28, 21, 0));
  BOOST_TEST(StartOf("02/03/2026 12:15 am") == Utc(2026, 3, 1, 23, 15));  // 2 March
  ImportOptions us = BerlinOptions();
  us.day_first = false;
  us.window_start = "03/27/2026 8:00 PM";
  BOOST_TEST(StartOf("03/28/2026 10:00 PM", us) == Utc(2026, 3, 28, 21, 0));
  BOOST_TEST(StartOf("02/03/2026 12:00 PM", us) == Utc(2026, 2, 3, 11, 0));  // February 3
}

BOOST_AUTO_TEST_CASE(an_impossible_reading_is_an_error) {
  BOOST_TEST(StartError("03/28/2026 22:00") ==
             "plan.csv:2:4: field \"start\": \"03/28/2026 22:00\" is not a valid date or time: "
             "there is no month 28 (read as DD/MM/YYYY; for MM/DD/YYYY use --month-first)");
  ImportOptions us = BerlinOptions();
  us.day_first = false;
  BOOST_TEST(StartError("28/03/2026 22:00", us).find("there is no month 28 (read as MM/DD/YYYY") !=
             std::string::npos);
  BOOST_TEST(StartError("31/04/2026 10:00") ==
             "plan.csv:2:4: field \"start\": \"31/04/2026 10:00\" is not a valid date or time: "
             "there is no day 31 in 2026-04 (read as DD/MM/YYYY; for MM/DD/YYYY use "
             "--month-first)");
  BOOST_TEST(StartError("2026-03-28 25:00").find("there is no hour 25") != std::string::npos);
  BOOST_TEST(StartError("13:00 PM").find("hour 13 does not exist on a 12-hour clock") !=
             std::string::npos);
  BOOST_TEST(StartError("next friday") ==
             "plan.csv:2:4: field \"start\": \"next friday\" is not a date, time or offset (try "
             "2026-03-28 22:00, 2026-03-28T22:00Z, 28/03/2026 22:00, 22:00, +2h30m)");
}

// What the daemon would refuse (docs/client-protocol.md#limits) is refused here, at its cell.
BOOST_AUTO_TEST_CASE(values_the_daemon_refuses_are_errors_at_their_cell) {
  BOOST_TEST(
      StartError("1999-12-31 22:00") ==
      "plan.csv:2:4: field \"start\": \"1999-12-31 22:00\" is outside the years 2000 to 2099");
  BOOST_TEST(StartError("+900000h").find("is outside the years 2000 to 2099") != std::string::npos);
  const auto long_duration = MustFail("ID,Title,Duration\nT-1,First,9000h\n");
  BOOST_REQUIRE_EQUAL(long_duration.size(), 1u);
  BOOST_TEST(long_duration[0] ==
             "plan.csv:2:3: field \"duration\": \"9000h\" is longer than 366 days");
  const auto long_title = MustFail("ID,Title,Duration\nT-1," + std::string(600, 't') + ",30\n");
  BOOST_REQUIRE_EQUAL(long_title.size(), 1u);
  BOOST_TEST(long_title[0] == "plan.csv:2:2: field \"title\": is 600 bytes, over the limit of 512");
  ImportOptions old_window = BerlinOptions();
  old_window.window_start = "1990-01-01 00:00";
  old_window.window_end = "+2h";
  const auto window = MustFail("ID,Title,Duration\nT-1,First,30\n", old_window);
  BOOST_TEST(!window.empty());
  BOOST_TEST(window[0].find("field \"window_start\"") != std::string::npos, window[0]);
}

BOOST_AUTO_TEST_CASE(offsets_count_from_the_window_start) {
  const int64_t window = Utc(2026, 3, 27, 19, 0);
  BOOST_TEST(StartOf("+0") == window);
  BOOST_TEST(StartOf("+2h30m") == window + 150 * kMinute);
  BOOST_TEST(StartOf("T+90m") == window + 90 * kMinute);
  BOOST_TEST(StartOf("+1:30") == window + 90 * kMinute);
  // Offsets are elapsed time: 40 hours after Fri 20:00 CET is Sun 13:00 CEST, not 12:00.
  BOOST_TEST(StartOf("+40h") == Utc(2026, 3, 29, 11, 0));
}

BOOST_AUTO_TEST_CASE(bare_times_are_the_next_such_time_from_the_window_start) {
  BOOST_TEST(StartOf("22:00") == Utc(2026, 3, 27, 21, 0));  // Friday, same evening
  BOOST_TEST(StartOf("20:00") == Utc(2026, 3, 27, 19, 0));  // The window start itself
  BOOST_TEST(StartOf("10:00") == Utc(2026, 3, 28, 9, 0));   // Saturday morning
}

BOOST_AUTO_TEST_CASE(relative_times_need_a_window_start) {
  ImportOptions o = BerlinOptions();
  o.window_start.clear();
  o.window_end.clear();
  BOOST_TEST(StartError("+2h", o) ==
             "plan.csv:2:4: field \"start\": \"+2h\" is relative to the window start, but no "
             "window start was given (--window-start)");
  BOOST_TEST(StartError("22:00", o).find("relative to the window start") != std::string::npos);
  BOOST_TEST(StartOf("2026-03-28 22:00", o) == Utc(2026, 3, 28, 21, 0));
}

BOOST_AUTO_TEST_CASE(a_local_time_in_the_spring_gap_is_an_error) {
  const auto errors = MustFail(
      "ID,Title,Duration,Start,Not Before\n"
      "T-1,A,30,2026-03-29 02:30,\n"
      "T-2,B,30,,29/03/2026 02:00\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 2u);
  BOOST_TEST(errors[0] ==
             "plan.csv:2:4: field \"start\": \"2026-03-29 02:30\" does not exist in "
             "Europe/Berlin: clocks jump from 2026-03-29 02:00 to 03:00 (daylight saving time)");
  BOOST_TEST(errors[1].rfind("plan.csv:3:5: field \"not_before\": \"29/03/2026 02:00\" does not "
                             "exist in Europe/Berlin",
                             0) == 0u,
             errors[1]);
}

BOOST_AUTO_TEST_CASE(a_local_time_in_the_autumn_overlap_takes_the_earlier_with_a_warning) {
  ImportOptions o = BerlinOptions();
  o.window_start = "2026-10-24 20:00";
  o.window_end = "2026-10-26 06:00";
  std::vector<std::string> warnings;
  const auto plan = MustImport(OneTask("Start", "2026-10-25 02:30"), o, &warnings);
  BOOST_TEST(Task(plan, "T-1").planned_start_ms == Utc(2026, 10, 25, 0, 30));  // CEST reading
  BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
  BOOST_TEST(warnings[0] ==
             "plan.csv:2:4: field \"start\": \"2026-10-25 02:30\" happens twice in "
             "Europe/Berlin (clocks go back); taking the earlier (CEST)");
}

BOOST_AUTO_TEST_CASE(window_options_are_checked) {
  ImportOptions o = BerlinOptions();
  o.window_end = "+58h";
  BOOST_TEST(MustImport(OneTask("Team", "ops"), o).window_end_ms == Utc(2026, 3, 30, 5, 0));
  o.window_start = "2026-03-29 02:15";
  o.window_end = "2026-03-27 06:00";
  o.timezone = "Europe/Berlinn";
  const auto errors = MustFail(OneTask("Team", "ops"), o);
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);  // Local times cannot be read without a zone.
  BOOST_TEST(errors[0].rfind("plan.csv: field \"timezone\": \"Europe/Berlinn\" is not a known "
                             "IANA time zone",
                             0) == 0u,
             errors[0]);
  o.timezone = "Europe/Berlin";
  o.window_start = "2026-03-28 20:00";
  const auto order = MustFail(OneTask("Team", "ops"), o);
  BOOST_REQUIRE_EQUAL(order.size(), 1u);
  BOOST_TEST(order[0] ==
             "plan.csv: field \"window_end\": \"2026-03-27 06:00\" is not after the window start");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(predecessors)

BOOST_AUTO_TEST_CASE(lists_links_and_lags) {
  const auto plan = MustImport(
      "ID,Title,Duration,Predecessors\n"
      "T-010,A,30,\n"
      "T-011,B,30,\n"
      "T-012,C,30,\n"
      "T-013,D,30,\"T-010, T-011;T-012\"\n"
      "T-014,E,30,T-010 T-011\n"
      "T-015,F,30,\"T-010 FS+30m, T-011SS; T-012 FF-15\"\n"
      "T-016,G,30,T-010:SS+10m T-011:SF T-012 +1h\n"
      "T-017,H,30,T-010 ss -5\n");
  auto deps = [&](const std::string& id) { return Task(plan, id).predecessors; };
  using D = crdt::Dependency;
  const auto fs = DependencyType::kFinishToStart;
  BOOST_TEST(
      (deps("T-013") == std::vector<D>{{"T-010", fs, 0}, {"T-011", fs, 0}, {"T-012", fs, 0}}));
  BOOST_TEST((deps("T-014") == std::vector<D>{{"T-010", fs, 0}, {"T-011", fs, 0}}));
  BOOST_TEST(
      (deps("T-015") == std::vector<D>{{"T-010", fs, 30 * kMinute},
                                       {"T-011", DependencyType::kStartToStart, 0},
                                       {"T-012", DependencyType::kFinishToFinish, -15 * kMinute}}));
  BOOST_TEST(
      (deps("T-016") == std::vector<D>{{"T-010", DependencyType::kStartToStart, 10 * kMinute},
                                       {"T-011", DependencyType::kStartToFinish, 0},
                                       {"T-012", fs, kHour}}));
  // Ids are case-sensitive: "t-010" is not T-010.
  const auto errors =
      MustFail("ID,Title,Duration,Predecessors\nT-010,A,30,\nT-017,H,30,t-010 SS-5\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] ==
             "plan.csv:3:4: field \"predecessors\": \"t-010 SS-5\" names \"t-010\", which is "
             "not a task in this plan");
}

BOOST_AUTO_TEST_CASE(ids_that_end_like_a_link_type_stay_whole) {
  const auto plan = MustImport(
      "ID,Title,Duration,Predecessors\nPASS,A,30,\nFAILSAFE-FF,B,30,\n"
      "C,C,30,\"PASS, PASSSS, FAILSAFE-FF, FAILSAFE-FFFF+5\"\n");
  const auto& deps = Task(plan, "C").predecessors;
  BOOST_REQUIRE_EQUAL(deps.size(), 4u);
  BOOST_TEST(deps[0].task_id == "PASS");
  BOOST_TEST((deps[0].type == DependencyType::kFinishToStart));
  BOOST_TEST(deps[1].task_id == "PASS");
  BOOST_TEST((deps[1].type == DependencyType::kStartToStart));
  BOOST_TEST(deps[2].task_id == "FAILSAFE-FF");
  BOOST_TEST(deps[3].task_id == "FAILSAFE-FF");
  BOOST_TEST((deps[3].type == DependencyType::kFinishToFinish));
  BOOST_TEST(deps[3].lag_ms == 5 * kMinute);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(kinds_and_backout)

BOOST_AUTO_TEST_CASE(kinds) {
  const auto plan = MustImport(
      "ID,Title,Duration,Type\n"
      "T-1,A,30,\nT-2,B,30,Task\nT-3,C,0,Milestone\nT-4,D,15,Gate\nT-5,E,15,Go/No-Go\n"
      "T-6,F,0,\nT-7,G,0,task\n");
  BOOST_TEST((Task(plan, "T-1").kind == TaskKind::kTask));
  BOOST_TEST((Task(plan, "T-2").kind == TaskKind::kTask));
  BOOST_TEST((Task(plan, "T-3").kind == TaskKind::kMilestone));
  BOOST_TEST((Task(plan, "T-4").kind == TaskKind::kGate));
  BOOST_TEST((Task(plan, "T-5").kind == TaskKind::kGate));
  BOOST_TEST((Task(plan, "T-6").kind == TaskKind::kMilestone));  // Zero duration, no kind.
  BOOST_TEST((Task(plan, "T-7").kind == TaskKind::kTask));       // Said so explicitly.
  const auto errors = MustFail("ID,Title,Duration,Type\nT-1,A,30,meeting\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] ==
             "plan.csv:2:4: field \"kind\": \"meeting\" is not a kind (task, milestone, gate or "
             "go/no-go)");
}

BOOST_AUTO_TEST_CASE(backout_path_from_phase_column_or_link) {
  const auto plan = MustImport(
      "ID,Title,Duration,Phase,Backout,Backout Only\n"
      "T-1,Deploy,30,deploy,T-9,\n"
      "T-2,Restore,30,Back-out,,\n"
      "T-3,Rollback step,30,rollback,,\n"
      "T-4,Flagged,30,deploy,,Yes\n"
      "T-9,Undo deploy,30,deploy,,\n");
  BOOST_TEST(!Task(plan, "T-1").is_backout);
  BOOST_TEST(Task(plan, "T-1").backout_task == "T-9");
  BOOST_TEST(Task(plan, "T-2").is_backout);
  BOOST_TEST(Task(plan, "T-3").is_backout);
  BOOST_TEST(Task(plan, "T-4").is_backout);
  BOOST_TEST(Task(plan, "T-9").is_backout);  // Named as a back-out task.
  const auto errors = MustFail("ID,Title,Duration,Is Backout\nT-1,A,30,perhaps\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] == "plan.csv:2:4: field \"is_backout\": \"perhaps\" is not yes or no");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(every_error_is_listed_with_line_and_column) {
  std::vector<ImportError> errors;
  const auto result = ImportPlanCsv(
      "ID,Title,Duration,Start,Predecessors,Backout\n"  // 1
      "T-001,Freeze,30,+0,,\n"                          // 2
      "T-002,Backup,2h30x,,T-001,\n"                    // 3 bad duration
      "T-001,Again,30,,,\n"                             // 4 duplicate id
      "T-003,Deploy,1h,yesterday,T-999 SS,T-950\n"      // 5 bad start, unknown pred, backout
      "T-010,Loop A,30,,T-011,\n"                       // 6 cycle
      "T-011,Loop B,30,,T-010 FS+5,\n"                  // 7
      ",No id,30,,,\n"                                  // 8 empty id
      "T-012,,30,,T-012,\n",                            // 9 empty title, self cycle
      BerlinOptions(), &errors);
  BOOST_REQUIRE(!result.ok());
  std::vector<std::string> lines;
  for (const auto& e : errors) lines.push_back(e.ToString());
  const std::vector<std::string> expected = {
      "plan.csv:3:3: field \"duration\": \"2h30x\" is not a duration (try 45, 45m, 2h 30m, 1:30)",
      "plan.csv:4:1: field \"id\": \"T-001\" is a duplicate (first on line 2)",
      "plan.csv:5:4: field \"start\": \"yesterday\" is not a date, time or offset (try "
      "2026-03-28 22:00, 2026-03-28T22:00Z, 28/03/2026 22:00, 22:00, +2h30m)",
      "plan.csv:5:5: field \"predecessors\": \"T-999 SS\" names \"T-999\", which is not a task "
      "in this plan",
      "plan.csv:5:6: field \"backout\": \"T-950\" is not a task in this plan",
      "plan.csv:6:5: field \"predecessors\": dependency cycle: T-010 -> T-011 -> T-010",
      "plan.csv:8:1: field \"id\": is empty (every task needs an id)",
      "plan.csv:9:2: field \"title\": is empty (every task needs a title)",
      "plan.csv:9:5: field \"predecessors\": dependency cycle: T-012 -> T-012",
  };
  BOOST_TEST(lines == expected, boost::test_tools::per_element());
  const std::string message = result.status().message();
  BOOST_TEST(message.substr(0, message.find('\n')) == "9 errors in plan.csv");
  BOOST_TEST(message.find(expected[5]) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_longer_cycle_is_named_in_order_from_its_first_task) {
  const auto errors = MustFail(
      "ID,Title,Duration,Predecessors\n"
      "T-1,A,30,\n"
      "T-2,B,30,\"T-1, T-4\"\n"
      "T-3,C,30,T-2\n"
      "T-4,D,30,T-3 SS\n"
      "T-5,E,30,T-4\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] ==
             "plan.csv:3:4: field \"predecessors\": dependency cycle: T-2 -> T-3 -> T-4 -> T-2");
}

BOOST_AUTO_TEST_CASE(ten_thousand_tasks_with_one_long_cycle) {
  std::string csv = "ID,Title,Duration,Predecessors\n";
  constexpr int kTasks = 10'000;
  for (int i = 0; i < kTasks; ++i) {
    // A chain closed into one cycle by the first task; every tenth link is start-to-start.
    const int pred = i == 0 ? kTasks - 1 : i - 1;
    csv += "T-" + std::to_string(i) + ",Task " + std::to_string(i) + ",5,T-" +
           std::to_string(pred) + (i % 10 == 0 && i > 0 ? " SS" : "") + "\n";
  }
  const auto errors = MustFail(csv);
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0].rfind("plan.csv:2:4: field \"predecessors\": dependency cycle: T-0 -> T-1 "
                             "-> T-2 -> ",
                             0) == 0u);
  BOOST_TEST(errors[0].size() > 9 * kTasks);  // Every task of the cycle is named.
}

BOOST_AUTO_TEST_CASE(a_self_backout_is_an_error) {
  const auto errors = MustFail("ID,Title,Duration,Backout\nT-1,A,30,T-1\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] == "plan.csv:2:4: field \"backout\": \"T-1\" is the task itself");
}

BOOST_AUTO_TEST_CASE(a_start_outside_the_window_warns) {
  std::vector<std::string> warnings;
  MustImport(OneTask("Start", "2026-03-27 19:00"), BerlinOptions(), &warnings);
  BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
  BOOST_TEST(warnings[0] == "plan.csv:2: task T-1 starts outside the outage window");
}

BOOST_AUTO_TEST_CASE(an_empty_file_has_no_header) {
  const auto errors = MustFail("\xEF\xBB\xBF\r\n");
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0] == "plan.csv:1: no header row: the file is empty");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(plan)

BOOST_AUTO_TEST_CASE(header_teams_and_sites) {
  const auto plan = MustImport(
      "ID,Title,Duration,Team,Site\n"
      "T-3,C,30,qa,hq\nT-1,A,30,dba,dc-east\nT-2,B,30,qa,\nT-4,D,30,,hq\n");
  BOOST_TEST(plan.runbook_id == "rb-1");
  BOOST_TEST(plan.name == "Core upgrade");
  BOOST_TEST(plan.timezone == "Europe/Berlin");
  BOOST_TEST(plan.window_start_ms == Utc(2026, 3, 27, 19, 0));
  BOOST_TEST(plan.window_end_ms == Utc(2026, 3, 30, 4, 0));
  std::vector<std::string> ids;
  for (const auto& t : plan.tasks) ids.push_back(t.id);
  BOOST_TEST(ids == (std::vector<std::string>{"T-3", "T-1", "T-2", "T-4"}),
             boost::test_tools::per_element());
  BOOST_TEST(plan.teams == (std::vector<std::string>{"dba", "qa"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(plan.sites.size(), 2u);
  BOOST_TEST(plan.sites[0].id == "dc-east");
  BOOST_TEST(plan.sites[0].name == "dc-east");
  BOOST_TEST((plan.sites[0].role == crdt::SiteRole::kSite));
  BOOST_TEST(plan.sites[0].public_key.empty());
  BOOST_TEST(plan.sites[1].id == "hq");
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_an_io_error) {
  std::vector<ImportError> errors;
  auto result = ImportPlanFile("/nonexistent/plan.csv", BerlinOptions(), &errors);
  BOOST_REQUIRE(!result.ok());
  BOOST_TEST((result.status().code() == StatusCode::kIOError));
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0].ToString() == "plan.csv: cannot be read");
}

BOOST_AUTO_TEST_CASE(a_file_over_the_limit_is_refused_unread) {
  testing::TempDir dir("plan");
  const auto path = dir.path() / "huge.csv";
  { std::ofstream(path) << "id,title\n"; }
  std::filesystem::resize_file(path, kMaxPlanFileBytes + 1);  // Sparse: nothing is written.
  std::vector<ImportError> errors;
  auto result = ImportPlanFile(path, BerlinOptions(), &errors);
  BOOST_REQUIRE(!result.ok());
  BOOST_TEST((result.status().code() == StatusCode::kInvalidArgument));
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0].ToString() ==
             "plan.csv: is over the limit of 67108864 bytes for a plan file");
}

BOOST_AUTO_TEST_CASE(local_time_display) {
  BOOST_TEST(FormatLocalTime(Utc(2026, 3, 27, 19, 0), "Europe/Berlin") ==
             "Fri 2026-03-27 20:00 CET");
  BOOST_TEST(FormatLocalTime(Utc(2026, 3, 30, 4, 0), "Europe/Berlin") ==
             "Mon 2026-03-30 06:00 CEST");
  BOOST_TEST(FormatLocalTime(crdt::kNoTime, "Europe/Berlin") == "?");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(example_plan)

BOOST_AUTO_TEST_CASE(the_cutover_example_imports_and_fits_its_window) {
  ImportOptions o = BerlinOptions();
  o.source_name.clear();
  std::vector<ImportError> errors;
  auto result = ImportPlanFile(
      std::filesystem::path(BATON_SOURCE_DIR) / "examples" / "cutover-plan.csv", o, &errors);
  BOOST_REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  BOOST_TEST(result->warnings.empty());
  const crdt::Plan& plan = result->plan;
  BOOST_TEST(plan.tasks.size() >= 150u);
  BOOST_TEST(plan.teams == (std::vector<std::string>{"app", "dba", "mgmt", "network", "ops", "qa",
                                                     "sysadmin", "vendor-de", "vendor-in"}),
             boost::test_tools::per_element());
  std::vector<std::string> sites;
  for (const auto& s : plan.sites) sites.push_back(s.id);
  BOOST_TEST(sites == (std::vector<std::string>{"dc-east", "hq", "vendor-de", "vendor-in"}),
             boost::test_tools::per_element());

  int gates = 0, milestones = 0, backout = 0, links_out = 0, time_locks = 0, ss = 0, lags = 0;
  std::set<std::string> phases;
  for (const auto& t : plan.tasks) {
    phases.insert(t.phase);
    gates += t.kind == TaskKind::kGate;
    milestones += t.kind == TaskKind::kMilestone;
    backout += t.is_backout;
    links_out += !t.backout_task.empty();
    time_locks += t.not_before_ms != crdt::kNoTime;
    for (const auto& d : t.predecessors) {
      ss += d.type == DependencyType::kStartToStart;
      lags += d.lag_ms != 0;
    }
  }
  for (const char* p : {"freeze", "backup", "deploy", "migration", "verification", "back-out"}) {
    BOOST_TEST(phases.count(p) == 1u, p);
  }
  BOOST_TEST(gates >= 2);
  BOOST_TEST(milestones >= 4);
  BOOST_TEST(backout >= 10);
  BOOST_TEST(links_out >= 8);
  BOOST_TEST(time_locks >= 3);
  BOOST_TEST(ss >= 3);
  BOOST_TEST(lags >= 3);

  // A time lock just after the spring DST change: 03:00 CEST on Sunday is 01:00Z.
  BOOST_TEST(std::any_of(plan.tasks.begin(), plan.tasks.end(), [](const crdt::TaskSpec& t) {
    return t.not_before_ms == Utc(2026, 3, 29, 1, 0);
  }));
  // Before anything has run, the forecast finishes a few hours before the window closes, and
  // backing out at the last gate still ends inside the window.
  crdt::ScheduleInput input;
  input.tasks = plan.tasks;
  input.window_start_ms = plan.window_start_ms;
  input.window_end_ms = plan.window_end_ms;
  input.now_ms = plan.window_start_ms;
  auto schedule = crdt::ComputeSchedule(input);
  BOOST_REQUIRE_MESSAGE(schedule.ok(), schedule.status().ToString());
  BOOST_TEST(schedule->warnings.empty());
  BOOST_TEST(!schedule->at_risk);
  BOOST_TEST_MESSAGE("example plan slack: " << schedule->slack_ms / kMinute << " min");
  BOOST_TEST(schedule->slack_ms >= 2 * kHour);
  BOOST_TEST(schedule->slack_ms <= 6 * kHour);
  BOOST_TEST(!schedule->critical_path.empty());
  const auto last_gate = std::find_if(plan.tasks.rbegin(), plan.tasks.rend(),
                                      [](const auto& t) { return t.kind == TaskKind::kGate; });
  auto back_out = crdt::ForecastBackoutAtGate(input, last_gate->id);
  BOOST_REQUIRE_MESSAGE(back_out.ok(), back_out.status().ToString());
  BOOST_TEST(back_out->steps.size() >= 15u);
  BOOST_TEST(back_out->inside_window);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rebase)

BOOST_AUTO_TEST_CASE(rebase_shifts_window_starts_and_time_locks_by_the_same_amount) {
  crdt::Plan plan;
  plan.window_start_ms = 1000;
  plan.window_end_ms = 5000;
  crdt::TaskSpec a;
  a.id = "A";
  a.planned_start_ms = 1500;
  a.not_before_ms = 2000;
  a.duration_ms = 60000;
  crdt::TaskSpec b;
  b.id = "B";  // Derived start: stays derived.
  plan.tasks = {a, b};
  BOOST_REQUIRE(RebasePlan(&plan, 101000).ok());
  BOOST_TEST(plan.window_start_ms == 101000);
  BOOST_TEST(plan.window_end_ms == 105000);
  BOOST_TEST(plan.tasks[0].planned_start_ms == 101500);
  BOOST_TEST(plan.tasks[0].not_before_ms == 102000);
  BOOST_TEST(plan.tasks[0].duration_ms == 60000);
  BOOST_TEST(plan.tasks[1].planned_start_ms == crdt::kNoTime);
  BOOST_TEST(plan.tasks[1].not_before_ms == crdt::kNoTime);
}

BOOST_AUTO_TEST_CASE(rebase_refuses_a_plan_without_a_window) {
  crdt::Plan plan;
  Status s = RebasePlan(&plan, 5);
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.message().find("window") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::tools
