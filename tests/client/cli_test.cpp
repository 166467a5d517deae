// The `baton` CLI without a daemon: durations, --at parsing across time zones and DST, tables
// that fit the terminal, colour on/off, the views of status/task/board results, and the choice
// of endpoint and exit code.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <deque>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "client/cli/commands.h"
#include "client/cli/render.h"
#include "client/cli/views.h"
#include "client/protocol.h"

namespace baton::client::cli {
namespace {

using nlohmann::json;

int64_t Iso(const std::string& text) {
  auto r = ParseIsoTime(text);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return *r;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every line of `text` fits in `width` columns.
void CheckFits(const std::string& text, size_t width) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    BOOST_TEST_CONTEXT("line \"" << line << "\"") { BOOST_TEST(DisplayWidth(line) <= width); }
  }
}

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;

}  // namespace

BOOST_AUTO_TEST_SUITE(Durations)

BOOST_AUTO_TEST_CASE(durations_read_as_hours_and_zero_padded_minutes) {
  BOOST_TEST(FormatDuration(0) == "0m");
  BOOST_TEST(FormatDuration(30'000) == "30s");
  BOOST_TEST(FormatDuration(45 * kMinute) == "45m");
  BOOST_TEST(FormatDuration(2 * kHour + 5 * kMinute) == "2h 05m");
  BOOST_TEST(FormatDuration(2 * kHour + 5 * kMinute + 59'000) == "2h 05m");
  BOOST_TEST(FormatDuration(26 * kHour + 5 * kMinute) == "1d 02h 05m");
  BOOST_TEST(FormatDuration(-45 * kMinute) == "-45m");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(Times)

BOOST_AUTO_TEST_CASE(instants_show_in_the_runbook_zone_with_its_abbreviation) {
  const int64_t winter = Iso("2026-03-28T01:10:00Z");
  BOOST_TEST(FormatTime(winter, "Europe/Berlin") == "Sat 02:10 CET");
  BOOST_TEST(FormatTime(winter, "Europe/Berlin", TimeStyle::kFull) == "Sat 2026-03-28 02:10 CET");
  BOOST_TEST(FormatTime(winter, "Europe/Berlin", TimeStyle::kShort) == "02:10");
  BOOST_TEST(FormatTime(Iso("2026-03-29T12:00:00Z"), "Europe/Berlin") == "Sun 14:00 CEST");
  BOOST_TEST(FormatTime(crdt::kNoTime, "Europe/Berlin") == "-");
  BOOST_TEST(FormatTime(winter, "Not/AZone", TimeStyle::kFull) == "2026-03-28 01:10 UTC");
}

BOOST_AUTO_TEST_CASE(a_bare_time_is_today_or_the_most_recent_such_time) {
  const int64_t now = Iso("2026-03-28T03:00:00Z");  // 04:00 CET.
  auto earlier = ParseAtTime("02:10", "Europe/Berlin", now);
  BOOST_REQUIRE(earlier.ok());
  BOOST_TEST(*earlier == Iso("2026-03-28T01:10:00Z"));
  // 05:00 today is still to come: yesterday's 05:00 is meant.
  auto later = ParseAtTime("05:00", "Europe/Berlin", now);
  BOOST_REQUIRE(later.ok());
  BOOST_TEST(*later == Iso("2026-03-27T04:00:00Z"));
  // Just after midnight, 23:50 is last night.
  auto late_night = ParseAtTime("23:50", "UTC", Iso("2026-03-28T00:05:00Z"));
  BOOST_REQUIRE(late_night.ok());
  BOOST_TEST(*late_night == Iso("2026-03-27T23:50:00Z"));
}

BOOST_AUTO_TEST_CASE(a_date_and_time_is_local_to_the_runbook_zone) {
  const int64_t now = Iso("2026-03-28T03:00:00Z");
  auto local = ParseAtTime("2026-03-27 20:00", "Europe/Berlin", now);
  BOOST_REQUIRE(local.ok());
  BOOST_TEST(*local == Iso("2026-03-27T19:00:00Z"));
  auto with_t = ParseAtTime("2026-03-29T12:00:30", "Europe/Berlin", now);
  BOOST_REQUIRE(with_t.ok());
  BOOST_TEST(*with_t == Iso("2026-03-29T10:00:30Z"));  // CEST by then.
}

BOOST_AUTO_TEST_CASE(iso_times_with_an_offset_are_taken_as_given) {
  auto iso = ParseAtTime("2026-03-28T02:10:00+01:00", "America/New_York", 0);
  BOOST_REQUIRE(iso.ok());
  BOOST_TEST(*iso == Iso("2026-03-28T01:10:00Z"));
  auto z = ParseAtTime(" 2026-03-28T01:10:00Z ", "Europe/Berlin", 0);
  BOOST_REQUIRE(z.ok());
  BOOST_TEST(*z == Iso("2026-03-28T01:10:00Z"));
}

BOOST_AUTO_TEST_CASE(times_that_do_not_exist_or_happen_twice_are_named) {
  auto gap = ParseAtTime("2026-03-29 02:30", "Europe/Berlin", 0);
  BOOST_REQUIRE(!gap.ok());
  BOOST_TEST((gap.status().code() == StatusCode::kInvalidArgument));
  BOOST_TEST(Contains(gap.status().message(), "does not exist in Europe/Berlin"));
  auto twice = ParseAtTime("2026-10-25 02:30", "Europe/Berlin", 0);
  BOOST_REQUIRE(!twice.ok());
  BOOST_TEST(Contains(twice.status().message(), "happens twice"));
  BOOST_TEST(Contains(twice.status().message(), "--at \"2026-10-25 02:30\""));
}

BOOST_AUTO_TEST_CASE(a_bare_time_in_the_repeated_hour_takes_the_latest_past_instance) {
  // Clocks go back at 01:00Z on 2026-10-25 (03:00 CEST -> 02:00 CET).
  auto after_both = ParseAtTime("02:30", "Europe/Berlin", Iso("2026-10-25T03:00:00Z"));
  BOOST_REQUIRE(after_both.ok());
  BOOST_TEST(*after_both == Iso("2026-10-25T01:30:00Z"));  // 02:30 CET.
  auto between = ParseAtTime("02:30", "Europe/Berlin", Iso("2026-10-25T01:00:00Z"));
  BOOST_REQUIRE(between.ok());
  BOOST_TEST(*between == Iso("2026-10-25T00:30:00Z"));  // 02:30 CEST.
}

BOOST_AUTO_TEST_CASE(a_span_before_now_is_a_relative_time) {
  const int64_t now = Iso("2026-03-28T03:00:00Z");
  BOOST_TEST(*ParseAtTime("-10m", "Europe/Berlin", now) == now - 10 * kMinute);
  BOOST_TEST(*ParseAtTime("-1h 30m", "Europe/Berlin", now) == now - 90 * kMinute);
  BOOST_TEST(*ParseAtTime("-1h30m", "Europe/Berlin", now) == now - 90 * kMinute);
  BOOST_TEST(*ParseAtTime("2h ago", "Europe/Berlin", now) == now - 2 * kHour);
  BOOST_TEST(*ParseAtTime("-90s", "UTC", now) == now - 90'000);
  for (const char* bad : {"-", "-10", "-10x", "-m", "x ago", "-1h -5m"}) {
    BOOST_TEST_CONTEXT("text " << bad) {
      auto r = ParseAtTime(bad, "Europe/Berlin", now);
      BOOST_TEST(!r.ok());
      if (!r.ok()) BOOST_TEST(Contains(r.status().message(), "such as -10m"));
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_times_and_zones_are_refused) {
  for (const char* bad :
       {"25:00", "2:1", "tomorrow", "2026-13-01 10:00", "2026-02-30 10:00", "02:10 pm", ""}) {
    BOOST_TEST_CONTEXT("text " << bad) {
      auto r = ParseAtTime(bad, "Europe/Berlin", Iso("2026-03-28T03:00:00Z"));
      BOOST_TEST(!r.ok());
      if (!r.ok()) BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument));
    }
  }
  auto zone = ParseAtTime("02:10", "Mars/Olympus", 0);
  BOOST_REQUIRE(!zone.ok());
  BOOST_TEST(Contains(zone.status().message(), "Mars/Olympus"));
  auto named = ParseAtTime("nope", "UTC", 0, "--window-end");
  BOOST_REQUIRE(!named.ok());
  BOOST_TEST(Contains(named.status().message(), "--window-end \"nope\""));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(TextAndTables)

BOOST_AUTO_TEST_CASE(width_counts_code_points_and_ignores_colour) {
  BOOST_TEST(DisplayWidth("abc") == 3u);
  BOOST_TEST(DisplayWidth("Zürich café") == 11u);
  BOOST_TEST(DisplayWidth("\x1b[31mred\x1b[0m") == 3u);
  BOOST_TEST(Truncate("short", 10) == "short");
  BOOST_TEST(Truncate("Zürich café", 4) == "Zür\xe2\x80\xa6");
  BOOST_TEST(DisplayWidth(Truncate("a long title here", 8)) == 8u);
  BOOST_TEST(Truncate("abc", 0) == "");
  const std::string red = Truncate("\x1b[31mabcdef\x1b[0m", 4);
  BOOST_TEST(DisplayWidth(red) == 4u);
  BOOST_TEST(Contains(red, "\x1b[0m"));  // The colour is closed before the ellipsis.
}

BOOST_AUTO_TEST_CASE(paint_adds_escapes_only_when_colour_is_on) {
  BOOST_TEST(Style{false}.Paint("x", Color::kRed) == "x");
  BOOST_TEST(Style{true}.Paint("x", Color::kRed) == "\x1b[31mx\x1b[0m");
  BOOST_TEST(Style{true}.Paint("x", Color::kNone) == "x");
}

BOOST_AUTO_TEST_CASE(progress_bar_fills_in_proportion) {
  BOOST_TEST(ProgressBar(0, 10, 10) == "[----------] 0%");
  BOOST_TEST(ProgressBar(5, 10, 10) == "[#####-----] 50%");
  BOOST_TEST(ProgressBar(10, 10, 10) == "[##########] 100%");
  BOOST_TEST(ProgressBar(3, 0, 4) == "[----] 0%");
  BOOST_TEST(ProgressBar(12, 10, 4) == "[####] 100%");
}

BOOST_AUTO_TEST_CASE(columns_align_and_lines_have_no_trailing_spaces) {
  Table t({{"ID"}, {"DUR", true}, {"TITLE"}});
  t.AddRow({{"T-1"}, {"5m"}, {"short"}});
  t.AddRow({{"T-100"}, {"2h 05m"}, {""}});
  const std::string out = t.Render(0, Style{false});
  BOOST_TEST(out ==
             "ID        DUR  TITLE\n"
             "T-1        5m  short\n"
             "T-100  2h 05m\n");
}

BOOST_AUTO_TEST_CASE(the_flexible_column_is_cut_to_fit_the_terminal) {
  Table t({{"ID"}, {"TITLE", false, true}, {"TEAM"}});
  t.AddRow(
      {{"T-042"}, {"Migrate the customer master data to the new schema, with checks"}, {"dba"}});
  t.AddRow({{"T-043"}, {"Short"}, {"vendor-de"}});
  const std::string wide = t.Render(0, Style{false});
  BOOST_TEST(Contains(wide, "with checks"));
  const std::string narrow = t.Render(40, Style{false});
  CheckFits(narrow, 40);
  BOOST_TEST(Contains(narrow, "\xe2\x80\xa6"));
  BOOST_TEST(Contains(narrow, "vendor-de"));  // Other columns are never cut.
  // Too narrow even for the minimum: the title keeps its minimum width.
  const std::string tiny = t.Render(10, Style{false}, 8);
  BOOST_TEST(Contains(tiny, "Migrate\xe2\x80\xa6"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(Views)

namespace {

json Row(const std::string& id, const std::string& status) {
  return json{{"id", id},
              {"title", "Task " + id},
              {"phase", "deploy"},
              {"team", "dba"},
              {"site", "hq"},
              {"kind", "task"},
              {"backout", false},
              {"duration_ms", kHour},
              {"status", status},
              {"conflict", false},
              {"actual_start", nullptr},
              {"actual_finish", nullptr},
              {"planned_start", Iso("2026-03-28T01:00:00Z")},
              {"planned_finish", Iso("2026-03-28T02:00:00Z")},
              {"forecast_start", Iso("2026-03-28T01:00:00Z")},
              {"forecast_finish", Iso("2026-03-28T02:00:00Z")},
              {"float_ms", 0},
              {"critical", true},
              {"late", false},
              {"late_by_ms", 0},
              {"running_over", false},
              {"over_by_ms", 0},
              {"blocked_by", ""}};
}

json StatusReply(int64_t slack_ms) {
  const int64_t window_end = Iso("2026-03-30T04:00:00Z");
  json running = Row("T-042", "running");
  running["actual_start"] = Iso("2026-03-28T01:00:00Z");
  json late = Row("T-050", "ready");
  late["late"] = true;
  late["late_by_ms"] = 20 * kMinute;
  json causes = json::array();
  if (slack_ms < 0) {
    causes.push_back({{"task", "T-042"},
                      {"kind", "running_over"},
                      {"contribution_ms", -slack_ms},
                      {"explanation", "T-042 running 45m over its planned 1h: +45m"}});
  }
  return json{{"runbook",
               {{"id", "cutover"},
                {"site", "hq"},
                {"name", "Core banking cut-over"},
                {"timezone", "Europe/Berlin"},
                {"window_start", Iso("2026-03-27T19:00:00Z")},
                {"window_end", window_end}}},
              {"cursor", 17},
              {"events", 17},
              {"total", 10},
              {"finished", 4},
              {"counts",
               {{"pending", 3},
                {"ready", 1},
                {"running", 1},
                {"done", 4},
                {"failed", 0},
                {"skipped", 0},
                {"blocked", 1}}},
              {"conflicts", json::array()},
              {"flags", 0},
              {"forecast",
               {{"now", Iso("2026-03-28T01:30:00Z")},
                {"window_end", window_end},
                {"planned_finish", window_end - 4 * kHour},
                {"forecast_finish", window_end - slack_ms},
                {"slack_ms", slack_ms},
                {"at_risk", slack_ms < 0},
                {"causes", causes},
                {"critical_path", {"T-042", "T-043"}}}},
              {"running", {running}},
              {"late", {late}},
              {"ready", {"T-050"}}};
}

ViewOptions Plain() {
  ViewOptions o;
  o.tz = "Europe/Berlin";
  o.now_ms = Iso("2026-03-28T01:40:00Z");
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(status_shows_progress_margin_running_and_late_tasks) {
  const json status = StatusReply(3 * kHour + 10 * kMinute);
  BOOST_TEST(ZoneOf(status) == "Europe/Berlin");
  const std::string out = RenderStatus(status, Plain());
  BOOST_TEST(Contains(out, "Core banking cut-over"));
  BOOST_TEST(Contains(out, "on track, 3h 10m margin"));
  BOOST_TEST(Contains(out, "4/10 done or skipped"));
  BOOST_TEST(Contains(out, "[############------------------] 40%"));
  BOOST_TEST(Contains(out, "Fri 2026-03-27 20:00 CET -> Mon 2026-03-30 06:00 CEST"));
  BOOST_TEST(Contains(out, "T-042"));
  BOOST_TEST(Contains(out, "40m"));  // Elapsed of T-042 at now.
  BOOST_TEST(Contains(out, "late 20m"));
  BOOST_TEST(!Contains(out, "\x1b["));
}

BOOST_AUTO_TEST_CASE(status_at_risk_names_how_much_and_why) {
  const std::string out = RenderStatus(StatusReply(-45 * kMinute), Plain());
  BOOST_TEST(Contains(out, "AT RISK by 45m"));
  BOOST_TEST(Contains(out, "T-042 running 45m over its planned 1h: +45m"));
  ViewOptions coloured = Plain();
  coloured.style.color = true;
  BOOST_TEST(
      Contains(RenderStatus(StatusReply(-45 * kMinute), coloured), "\x1b[31mAT RISK by 45m"));
}

BOOST_AUTO_TEST_CASE(a_status_without_a_plan_says_how_to_import_one) {
  const json empty{{"runbook", {{"id", ""}, {"site", "hq"}}}, {"total", 0}};
  BOOST_TEST(Contains(RenderStatus(empty, Plain()), "baton plan import"));
  BOOST_TEST(ZoneOf(empty) == "UTC");
}

BOOST_AUTO_TEST_CASE(the_roster_shows_roles_short_keys_and_the_anchor) {
  const std::string hq_key(64, 'a'), v1_key = "3b6a27bcc5e14e9d" + std::string(48, '0');
  const json list{
      {"site", "hq"},
      {"trust", {{"site", "hq"}, {"key", hq_key}}},
      {"conflict", false},
      {"sites", json::array({{{"id", "hq"},
                              {"name", "Frankfurt HQ"},
                              {"role", "manager"},
                              {"key", hq_key},
                              {"endpoint", "tcp://hq.example:7101"},
                              {"anchor", true},
                              {"self", true}},
                             {{"id", "v1"},
                              {"name", "Vendor 1"},
                              {"role", "site"},
                              {"key", v1_key},
                              {"endpoint", ""},
                              {"teams", json::array({"dba", "ops"})},
                              {"anchor", false},
                              {"self", false}},
                             {{"id", "v2"}, {"name", "v2"}, {"role", "site"}, {"key", ""}}})}};
  ViewOptions terminal = Plain();
  terminal.width = 100;  // The names give way to fit.
  const std::string out = RenderRoster(list, terminal);
  BOOST_TEST(Contains(out, "Trust anchor  hq  key aaaaaaaaaaaaaaaa…"), out);
  BOOST_TEST(Contains(out, "3b6a27bcc5e14e9d…"), out);
  BOOST_TEST(Contains(out, "dba, ops"), out);
  BOOST_TEST(!Contains(out, v1_key), out);  // Shortened: --json has the whole key.
  BOOST_TEST(Contains(out, "trust anchor, this site"), out);
  BOOST_TEST(Contains(out, "(none)"), out);  // v2 is listed by the plan but not enrolled.
  BOOST_TEST(Contains(out, "3 site(s)"), out);
  BOOST_TEST(!Contains(out, "CONFLICT"), out);
  CheckFits(out, 100);

  json conflicted = list;
  conflicted["conflict"] = true;
  BOOST_TEST(Contains(RenderRoster(conflicted, Plain()), "CONFLICT"));
  const json none{{"site", "v1"}, {"trust", nullptr}, {"sites", json::array()}};
  const std::string empty = RenderRoster(none, Plain());
  BOOST_TEST(Contains(empty, "No trust anchor"), empty);
  BOOST_TEST(Contains(empty, "No roster yet at site v1"), empty);
}

BOOST_AUTO_TEST_CASE(task_tables_fit_the_terminal) {
  json rows = json::array();
  for (int i = 0; i < 5; ++i) {
    json r = Row("T-" + std::to_string(100 + i), "pending");
    r["title"] =
        "A rather long task title that will not fit on a narrow terminal " + std::to_string(i);
    rows.push_back(r);
  }
  ViewOptions o = Plain();
  o.width = 100;
  const std::string out = RenderTaskTable(rows, o);
  CheckFits(out, 100);
  BOOST_TEST(Contains(out, "5 task(s)"));
  BOOST_TEST(Contains(out, "Sat 02:00 CET"));
  BOOST_TEST(RenderTaskTable(json::array(), o) == "(no tasks)\n");
}

BOOST_AUTO_TEST_CASE(task_detail_shows_conflicting_reports_notes_and_history) {
  json task = Row("T-042", "done");
  task["conflict"] = true;
  task["spec"] = {{"predecessors",
                   {{{"task", "T-040"}, {"type", "fs"}, {"lag_ms", 0}},
                    {{"task", "T-041"}, {"type", "ss"}, {"lag_ms", 10 * kMinute}}}},
                  {"backout_task", "BO-04"}};
  task["live_reports"] = {{{"event", "hq/17"},
                           {"kind", "done"},
                           {"actor", "alice@hq"},
                           {"at", Iso("2026-03-28T01:10:00Z")},
                           {"note", ""}},
                          {{"event", "dc/4"},
                           {"kind", "fail"},
                           {"actor", "bob@dc"},
                           {"at", Iso("2026-03-28T01:12:00Z")},
                           {"note", "disk full"}}};
  task["notes"] = {{{"event", "hq/18"},
                    {"actor", "alice@hq"},
                    {"at", Iso("2026-03-28T01:15:00Z")},
                    {"text", "DBA paged"}}};
  task["history"] = {{{"event", "hq/17"},
                      {"kind", "task_reported"},
                      {"actor", "alice@hq"},
                      {"at", Iso("2026-03-28T01:10:00Z")},
                      {"counted", true},
                      {"body", {{"report", "done"}, {"note", ""}}}}};
  const std::string out = RenderTaskDetail(task, Plain());
  BOOST_TEST(Contains(out, "CONFLICT"));
  BOOST_TEST(Contains(out, "T-040, T-041 ss +10m"));
  BOOST_TEST(Contains(out, "BO-04"));
  BOOST_TEST(Contains(out, "dc/4  FAILED at Sat 02:12 CET by bob@dc  \"disk full\""));
  BOOST_TEST(Contains(out, "alice@hq: DBA paged"));
  BOOST_TEST(Contains(out, "PLANNED"));
  BOOST_TEST(Contains(out, "History"));
}

BOOST_AUTO_TEST_CASE(forecast_shows_backout_now_and_at_gates) {
  json f = StatusReply(-45 * kMinute)["forecast"];
  f["backout_now"] = {{"start", Iso("2026-03-28T01:40:00Z")},
                      {"finish", Iso("2026-03-28T06:40:00Z")},
                      {"margin_ms", 45 * kHour},
                      {"inside_window", true},
                      {"steps",
                       {{{"task", "BO-04"},
                         {"undoes", {"T-026"}},
                         {"start", Iso("2026-03-28T01:40:00Z")},
                         {"finish", Iso("2026-03-28T05:40:00Z")}}}},
                      {"warnings", json::array()}};
  f["backout_at_gates"] = {{{"gate", "T-125"},
                            {"start", Iso("2026-03-29T14:00:00Z")},
                            {"finish", Iso("2026-03-30T06:00:00Z")},
                            {"margin_ms", -2 * kHour},
                            {"inside_window", false},
                            {"steps", json::array()},
                            {"warnings", json::array()}}};
  const std::string out = RenderForecast(f, Plain());
  BOOST_TEST(Contains(out, "AT RISK by 45m"));
  BOOST_TEST(Contains(out, "T-042 -> T-043"));
  BOOST_TEST(Contains(out, "inside the window by 1d 21h 00m"));
  BOOST_TEST(Contains(out, "BO-04"));
  BOOST_TEST(Contains(out, "gate T-125"));
  BOOST_TEST(Contains(out, "OUTSIDE the window by 2h 00m"));
}

BOOST_AUTO_TEST_CASE(the_board_says_by_when_a_no_go_still_backs_out_in_time) {
  json status = StatusReply(3 * kHour);
  status["mode"] = "forward";
  status["forecast"]["mode"] = "forward";
  status["forecast"]["latest_nogo"] = Iso("2026-03-29T20:00:00Z");
  BOOST_TEST(Contains(RenderStatus(status, Plain()),
                      "No-go     by Sun 22:00 CEST at the latest, to back out in the window"));
  status["forecast"]["latest_nogo"] = nullptr;
  BOOST_TEST(Contains(RenderStatus(status, Plain()), "No-go     too late: a back-out begun now"));
}

BOOST_AUTO_TEST_CASE(while_backing_out_the_first_line_says_so) {
  json status = StatusReply(2 * kHour);
  status["mode"] = "backing_out";
  status["backout"] = {{"start", Iso("2026-03-28T01:10:00Z")},
                       {"trigger", "T-070"},
                       {"by", "no_go"},
                       {"steps", 17},
                       {"finished", 4}};
  status["forecast"]["mode"] = "backing_out";
  status["forecast"]["backout"] = status["backout"];
  ViewOptions o = Plain();
  o.width = 80;
  const std::string out = RenderBoard(status, {}, "", o);
  BOOST_TEST(
      out.rfind(
          "BACKING OUT since Sat 02:10 CET (no-go at gate T-070): only back-out tasks start\n",
          0) == 0u,
      out);
  BOOST_TEST(Contains(out, "4/17 back-out steps done"));
  BOOST_TEST(Contains(out, "Forecast  back-out finish "));
  BOOST_TEST(!Contains(out, "No-go"));
  CheckFits(out, 80);
  status["backout"]["by"] = "start";
  status["backout"]["trigger"] = "BO-01";
  BOOST_TEST(Contains(RenderStatus(status, Plain()), "(BO-01 started)"));
}

BOOST_AUTO_TEST_CASE(the_chase_panel_names_whom_to_call_least_float_first) {
  json status = StatusReply(2 * kHour);
  json due = Row("T-050", "ready");
  due["late"] = true;
  due["late_by_ms"] = 20 * kMinute;
  due["site_name"] = "Vendor DE (Munich)";
  due["why"] = "ready, not started";
  json over = Row("T-042", "running");
  over["critical"] = false;
  over["float_ms"] = 25 * kMinute;
  over["running_over"] = true;
  over["over_by_ms"] = 45 * kMinute;
  over["site_name"] = "HQ";
  over["why"] = "running over";
  status["chase"] = {due, over};
  status["near_critical"] = {{{"id", "T-061"}, {"float_ms", 18 * kMinute}}};
  const std::string out = RenderStatus(status, Plain());
  BOOST_TEST(Contains(out, "Chase now (2)"), out);
  BOOST_TEST(Contains(out, "Vendor DE (Munich)"), out);
  BOOST_TEST(Contains(out, "not started, 20m late"), out);
  BOOST_TEST(Contains(out, "running 45m over"), out);
  BOOST_TEST(Contains(out, "none"), out);  // T-050 has no float left.
  BOOST_TEST(out.find("T-050", out.find("Chase now")) < out.find("T-042", out.find("Chase now")),
             out);
  BOOST_TEST(Contains(out, "Near-critical (float <= 30m): T-061 18m"), out);
  // On the board at 80 columns: every line fits, the panel keeps its rows short.
  ViewOptions o = Plain();
  o.width = 80;
  for (int i = 0; i < 10; ++i) status["chase"].push_back(due);
  const std::string board = RenderBoard(status, {}, "", o);
  BOOST_TEST(Contains(board, "Chase now (12)"), board);
  BOOST_TEST(Contains(board, "... and 6 more"), board);
  CheckFits(board, 80);
  // Nothing to chase, nothing near-critical: no panel.
  status.erase("chase");
  status.erase("near_critical");
  BOOST_TEST(!Contains(RenderStatus(status, Plain()), "Chase now"));
}

BOOST_AUTO_TEST_CASE(a_board_taller_than_the_terminal_keeps_its_top) {
  json status = StatusReply(2 * kHour);
  for (int i = 0; i < 30; ++i) status["late"].push_back(status["late"][0]);
  std::deque<std::string> recent(8, "hq/1 plan imported");
  ViewOptions o = Plain();
  o.width = 80;
  const std::string board = RenderBoard(status, recent, "link to hq lost: reconnecting", o);
  const std::string fitted = FitHeight(board, 24);
  BOOST_TEST(std::count(fitted.begin(), fitted.end(), '\n') == 24);
  BOOST_TEST(fitted.rfind("link to hq lost: reconnecting\n", 0) == 0u, fitted);
  BOOST_TEST(Contains(fitted, "Core banking cut-over"));
  BOOST_TEST(Contains(fitted, "Forecast"), fitted);
  BOOST_TEST(Contains(fitted, "more lines: a taller terminal, or baton watch --team"), fitted);
  CheckFits(fitted, 80);
  BOOST_TEST(FitHeight(board, 0) == board);  // Height unknown: as is.
  BOOST_TEST(FitHeight("a\nb\n", 24) == "a\nb\n");
}

BOOST_AUTO_TEST_CASE(events_read_as_one_line_each) {
  const json fail{{"id", "dc/4"},
                  {"actor", "bob@dc"},
                  {"kind", "task_reported"},
                  {"hlc", {{"wall_ms", Iso("2026-03-28T01:12:00Z")}, {"logical", 0}}},
                  {"body", {{"task", "T-042"}, {"report", "fail"}, {"note", "disk full"}}}};
  BOOST_TEST(DescribeEvent(fail, Plain()) == "02:12  T-042 FAILED: disk full  (bob@dc, dc/4)");
  json done = fail;
  done["body"] = {
      {"task", "T-042"}, {"report", "done"}, {"effective_ms", Iso("2026-03-28T01:05:00Z")}};
  BOOST_TEST(DescribeEvent(done, Plain()) == "02:05  T-042 done  (bob@dc, dc/4)");
  json gate = fail;
  gate["kind"] = "gate_decided";
  gate["body"] = {{"task", "G-1"}, {"decision", "no-go"}, {"note", ""}};
  BOOST_TEST(Contains(DescribeEvent(gate, Plain()), "gate G-1 no-go"));
}

BOOST_AUTO_TEST_CASE(the_board_shows_the_banner_and_recent_events) {
  std::deque<std::string> recent{"02:05  T-041 done", "02:10  T-042 started"};
  ViewOptions o = Plain();
  o.width = 80;
  const std::string out = RenderBoard(StatusReply(3 * kHour), recent, "reconnecting...", o);
  BOOST_TEST(out.rfind("reconnecting...\n", 0) == 0u);
  BOOST_TEST(Contains(out, "on track, 3h 00m margin"));
  BOOST_TEST(Contains(out, "Running (1)"));
  BOOST_TEST(Contains(out, "Late (1)"));
  BOOST_TEST(Contains(out, "Ready (1)"));
  BOOST_TEST(Contains(out, "T-042 started"));
  CheckFits(out, 80);
  const std::string quiet = RenderBoard(StatusReply(3 * kHour), {}, "", o);
  BOOST_TEST(Contains(quiet, "(none yet)"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(Commands)

BOOST_AUTO_TEST_CASE(flags_win_over_the_environment_and_the_endpoint_over_the_data_dir) {
  BOOST_TEST(*ResolveEndpoint("tcp://h:1", "/d", "ipc://e", "/env") == "tcp://h:1");
  BOOST_TEST(*ResolveEndpoint("", "/var/lib/baton/hq/", "ipc://e", "/env") ==
             "ipc:///var/lib/baton/hq/batond.sock");
  BOOST_TEST(*ResolveEndpoint("", "", "ipc://e", "/env") == "ipc://e");
  BOOST_TEST(*ResolveEndpoint("", "", "", "/env") == "ipc:///env/batond.sock");
  auto none = ResolveEndpoint("", "", "", "");
  BOOST_REQUIRE(!none.ok());
  BOOST_TEST(Contains(none.status().message(), "BATON_DATA"));
  BOOST_TEST(ExitCodeFor(none.status()) == kExitUnreachable);
}

BOOST_AUTO_TEST_CASE(exit_codes_follow_the_status_code) {
  BOOST_TEST(ExitCodeFor(baton::Status::Ok()) == kExitOk);
  BOOST_TEST(ExitCodeFor(baton::Status::InvalidArgument("x")) == kExitUsage);
  BOOST_TEST(ExitCodeFor(baton::Status::Unavailable("x")) == kExitUnreachable);
  BOOST_TEST(ExitCodeFor(baton::Status::NotFound("x")) == kExitRejected);
  BOOST_TEST(ExitCodeFor(baton::Status::Rejected("x")) == kExitRejected);
  BOOST_TEST(ExitCodeFor(baton::Status::Corruption("x")) == kExitInternal);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace baton::client::cli
