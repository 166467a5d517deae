// See client/cli/views.h. Every JSON read goes through the non-throwing accessors below.
#include "client/cli/views.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "crdt/event.h"

namespace baton::client::cli {
namespace {

using nlohmann::json;

const json& Member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Str(const json& j, const char* key) {
  const json& v = Member(j, key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return "";
}

int64_t Int(const json& j, const char* key, int64_t fallback = 0) {
  const json& v = Member(j, key);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

bool Bool(const json& j, const char* key) {
  const json& v = Member(j, key);
  return v.is_boolean() && v.get<bool>();
}

const json& Arr(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json& v = Member(j, key);
  return v.is_array() ? v : kEmpty;
}

std::string Or(std::string s, const char* fallback = "-") { return s.empty() ? fallback : s; }

// The strings of a JSON array, comma-separated.
std::string Joined(const json& items) {
  std::string out;
  for (const auto& item : items) {
    if (item.is_string()) out += (out.empty() ? "" : ", ") + item.get<std::string>();
  }
  return out;
}

std::string When(int64_t ms, const ViewOptions& o, TimeStyle style = TimeStyle::kClock) {
  return FormatTime(ms, o.tz, style);
}

// One anomaly of the board (docs/client-protocol.md#anomalies) as a sentence.
std::string AnomalyText(const json& a, const ViewOptions& o) {
  const std::string task = Str(a, "task"), other = Str(a, "predecessor"), kind = Str(a, "kind");
  const int64_t at = TimeOf(a, "at"), other_at = TimeOf(a, "other_at");
  const bool needs_start = Str(a, "dependency") == "ss" || Str(a, "dependency") == "sf";
  const std::string then = other_at == crdt::kNoTime
                               ? (needs_start ? " (not started yet)" : " (not done yet)")
                               : (needs_start ? " (started " : " (done ") + When(other_at, o) + ")";
  const std::string pred = needs_start ? " had started" : " was done";
  if (kind == "started_before_predecessor") {
    return task + " started " + When(at, o) + " before " + other + pred + then;
  }
  if (kind == "finished_before_predecessor") {
    return task + " done " + When(at, o) + " before " + other + pred + then;
  }
  if (kind == "decided_before_predecessor") {
    return "gate " + task + " decided " + When(at, o) + " before " + other + pred + then;
  }
  if (kind == "started_before_time_lock") {
    return task + " started " + When(at, o) + " before its time lock " + When(other_at, o);
  }
  if (kind == "finished_before_start") {
    return task + " done " + When(at, o) + " before it started (" + When(other_at, o) + ")";
  }
  return task + ": " + kind;
}

std::string Dur(int64_t ms) { return ms == crdt::kNoTime ? "-" : FormatDuration(ms); }

std::string Join(const json& ids, const std::string& sep = ", ") {
  std::string out;
  for (const auto& id : ids) {
    if (!id.is_string()) continue;
    if (!out.empty()) out += sep;
    out += id.get<std::string>();
  }
  return out;
}

// "late 20m", "over 15m", "blocked by T-7", "CONFLICT", "critical" for one task row.
std::string Remarks(const json& row) {
  std::vector<std::string> parts;
  if (Bool(row, "conflict")) parts.push_back("CONFLICT");
  if (Bool(row, "late")) parts.push_back("late " + FormatDuration(Int(row, "late_by_ms")));
  if (Bool(row, "running_over")) parts.push_back("over " + FormatDuration(Int(row, "over_by_ms")));
  if (const std::string b = Str(row, "blocked_by"); !b.empty()) parts.push_back("blocked by " + b);
  if (Bool(row, "critical")) parts.push_back("critical");
  if (Bool(row, "backout")) parts.push_back("back-out");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

Color RemarkColor(const json& row) {
  if (Bool(row, "conflict") || Bool(row, "late") || Bool(row, "running_over") ||
      !Str(row, "blocked_by").empty()) {
    return Color::kRed;
  }
  return Bool(row, "critical") ? Color::kYellow : Color::kNone;
}

// `line` cut to the terminal width (unlimited when o.width is 0).
std::string Fit(const std::string& line, const ViewOptions& o) {
  return o.width > 0 ? Truncate(line, static_cast<size_t>(o.width)) : line;
}

std::string Heading(const std::string& text, const ViewOptions& o) {
  return o.style.Paint(text, Color::kBold) + "\n";
}

// The running tasks with elapsed time against the plan.
std::string RunningTable(const json& rows, const ViewOptions& o) {
  Table t({{"ID"},
           {"TITLE", false, true},
           {"TEAM"},
           {"SITE"},
           {"STARTED"},
           {"ELAPSED", true},
           {"PLAN", true},
           {"REMARKS"}});
  for (const auto& r : rows) {
    const int64_t start = TimeOf(r, "actual_start");
    const int64_t plan = Int(r, "duration_ms");
    const int64_t elapsed = start == crdt::kNoTime ? crdt::kNoTime : o.now_ms - start;
    const bool over = elapsed != crdt::kNoTime && elapsed > plan;
    t.AddRow({{Str(r, "id"), Color::kBold},
              {Str(r, "title")},
              {Str(r, "team")},
              {Str(r, "site")},
              {When(start, o)},
              {Dur(elapsed), over ? Color::kRed : Color::kNone},
              {FormatDuration(plan)},
              {Remarks(r), RemarkColor(r)}});
  }
  return t.Render(o.width, o.style);
}

std::string LateTable(const json& rows, const ViewOptions& o) {
  Table t({{"ID"}, {"TITLE", false, true}, {"STATUS"}, {"TEAM"}, {"PLANNED", false}, {"REMARKS"}});
  for (const auto& r : rows) {
    const std::string status = Str(r, "status");
    t.AddRow({{Str(r, "id"), Color::kRed},
              {Str(r, "title")},
              {status, StatusColor(status)},
              {Str(r, "team")},
              {When(TimeOf(r, "planned_start"), o)},
              {Remarks(r), Color::kRed}});
  }
  return t.Render(o.width, o.style);
}

// Whom to call now (status.chase): least float first, with the site to ring.
std::string ChaseTable(const json& rows, const ViewOptions& o, size_t max_rows) {
  Table t({{"ID"}, {"TITLE", false, true}, {"TEAM"}, {"CALL"}, {"FLOAT", true}, {"WHY"}});
  for (size_t i = 0; i < rows.size() && i < max_rows; ++i) {
    const json& r = rows[i];
    const int64_t float_ms = Int(r, "float_ms");
    const std::string why = Bool(r, "running_over")
                                ? "running " + FormatDuration(Int(r, "over_by_ms")) + " over"
                                : "not started, " + FormatDuration(Int(r, "late_by_ms")) + " late";
    t.AddRow({{Str(r, "id"), Color::kBold},
              {Str(r, "title")},
              {Str(r, "team")},
              {Str(r, "site_name")},
              {float_ms <= 0 ? "none" : FormatDuration(float_ms),
               float_ms <= 0 ? Color::kRed : Color::kNone},
              {why, Color::kRed}});
  }
  std::string out = t.Render(o.width, o.style);
  if (rows.size() > max_rows) {
    out += "  ... and " + std::to_string(rows.size() - max_rows) + " more (baton status)\n";
  }
  return out;
}

// The chains one slip away from the critical path (status.near_critical), on one line.
std::string NearCriticalLine(const json& rows, const ViewOptions& o) {
  if (rows.empty()) return "";
  std::string line = "Near-critical (float <= 30m): ";
  for (size_t i = 0; i < rows.size(); ++i) {
    line += (i ? ", " : "") + Str(rows[i], "id") + " " + FormatDuration(Int(rows[i], "float_ms"));
  }
  return o.style.Paint(Fit(line, o), Color::kYellow) + "\n";
}

// The chase panel and the near-critical line, after the late tasks.
std::string ChasePanel(const json& status, const ViewOptions& o, size_t max_rows) {
  std::string out;
  const json& chase = Arr(status, "chase");
  if (!chase.empty()) {
    out += "\n" + o.style.Paint("Chase now (" + std::to_string(chase.size()) + ")", Color::kRed) +
           "\n" + ChaseTable(chase, o, max_rows);
  }
  const std::string near = NearCriticalLine(Arr(status, "near_critical"), o);
  if (!near.empty()) out += (chase.empty() ? "\n" : "") + near;
  return out;
}

std::string CountsLine(const json& status, const ViewOptions& o) {
  const json& counts = Member(status, "counts");
  std::string out;
  for (const char* k : {"running", "ready", "pending", "blocked", "failed", "done", "skipped"}) {
    const int64_t n = Int(counts, k);
    std::string item = std::string(k) + " " + std::to_string(n);
    if (n > 0) item = o.style.Paint(item, StatusColor(k));
    out += (out.empty() ? "" : "  ") + item;
  }
  return out;
}

// "no-go at gate T-070" or "BO-01 started": what began the back-out.
std::string BackoutCause(const json& backout) {
  const std::string trigger = Str(backout, "trigger");
  return Str(backout, "by") == "no_go" ? "no-go at gate " + trigger : trigger + " started";
}

// Runbook header, progress and forecast: shared by `status` and the watch board. While backing
// out, the first line says so.
std::string Summary(const json& status, const ViewOptions& o) {
  const json& rb = Member(status, "runbook");
  std::string out;
  if (Str(rb, "id").empty()) {
    return "no plan imported at site " + Or(Str(rb, "site")) +
           " (import one with `baton plan import FILE`)\n";
  }
  const json& backout = Member(status, "backout");
  const bool backing_out = Str(status, "mode") == "backing_out";
  if (backing_out) {
    out += Fit(o.style.Paint("BACKING OUT since " + When(TimeOf(backout, "start"), o) + " (" +
                                 BackoutCause(backout) + "): only back-out tasks start",
                             Color::kInverse),
               o) +
           "\n";
  }
  out +=
      Fit(o.style.Paint(Or(Str(rb, "name"), Str(rb, "id").c_str()), Color::kBold) + "  (runbook " +
              Str(rb, "id") + ", site " + Or(Str(rb, "site")) + ", " + o.tz + ")",
          o) +
      "\n";
  out += "Window    " + When(TimeOf(rb, "window_start"), o, TimeStyle::kFull) + " -> " +
         When(TimeOf(rb, "window_end"), o, TimeStyle::kFull) + "\n";
  const int64_t total = Int(status, "total");
  const int64_t finished = Int(status, "finished");
  out += "Progress  " + ProgressBar(static_cast<int>(finished), static_cast<int>(total), 30) +
         "  " + std::to_string(finished) + "/" + std::to_string(total) + " done or skipped\n";
  if (backing_out) {
    const int64_t steps = Int(backout, "steps");
    const int64_t done = Int(backout, "finished");
    out += "Back-out  " + ProgressBar(static_cast<int>(done), static_cast<int>(steps), 30) + "  " +
           std::to_string(done) + "/" + std::to_string(steps) + " back-out steps done\n";
  }
  out += "          " + CountsLine(status, o) + "\n";
  const json& f = Member(status, "forecast");
  std::string forecast = "Forecast  " + ForecastLine(f, o);
  if (o.width > 0 && DisplayWidth(forecast) > static_cast<size_t>(o.width) && f.is_object()) {
    // Narrow terminal: the verdict on a line of its own.
    forecast = std::string("Forecast  ") + (backing_out ? "back-out finish " : "finish ") +
               When(TimeOf(f, "forecast_finish"), o, TimeStyle::kFull) + "\n          window end " +
               When(TimeOf(f, "window_end"), o, TimeStyle::kFull) + "\n          " +
               Verdict(f, o.style);
  }
  out += forecast + "\n";
  if (!backing_out && TimeOf(f, "window_end") != crdt::kNoTime) {
    const int64_t latest = TimeOf(f, "latest_nogo");
    out += Fit(latest != crdt::kNoTime
                   ? "No-go     by " + When(latest, o) + " at the latest, to back out in the window"
                   : o.style.Paint("No-go     too late: a back-out begun now ends after the window",
                                   Color::kRed),
               o) +
           "\n";
  }
  for (const auto& c : Arr(f, "causes")) {
    out += Fit("          " + o.style.Paint("cause", Color::kRed) + ": " +
                   Or(Str(c, "explanation"), (Str(c, "task") + " " + Str(c, "kind")).c_str()),
               o) +
           "\n";
  }
  if (const json& conflicts = Arr(status, "conflicts"); !conflicts.empty()) {
    out += o.style.Paint("Conflicts " + Join(conflicts), Color::kRed) +
           "  (concurrent reports; see `baton show ID`, settle with a new report)\n";
  }
  if (Int(status, "flags") > 0) {
    out += o.style.Paint("Flags     " + std::to_string(Int(status, "flags")) +
                             " event(s) refused by authorization (kept in the log)",
                         Color::kYellow) +
           "\n";
  }
  if (const json& anomalies = Arr(status, "anomalies"); !anomalies.empty()) {
    constexpr size_t kShown = 5;
    out += o.style.Paint("Anomalies " + std::to_string(anomalies.size()) +
                             " report(s) out of order against the plan (see `baton show ID`)",
                         Color::kYellow) +
           "\n";
    for (size_t i = 0; i < anomalies.size() && i < kShown; ++i) {
      out += Fit("          " + AnomalyText(anomalies[i], o), o) + "\n";
    }
    if (anomalies.size() > kShown) {
      out += "          ... and " + std::to_string(anomalies.size() - kShown) + " more\n";
    }
  }
  if (Bool(status, "rejoining")) {
    out += o.style.Paint(
               "Rejoining: reports wait until the peers confirm this site's own latest "
               "events (a few seconds)",
               Color::kYellow) +
           "\n";
  }
  if (const std::string damage = Str(Member(status, "integrity"), "damage"); !damage.empty()) {
    out += o.style.Paint("Integrity the log is damaged: " + damage, Color::kRed) + "\n";
  }
  if (const int64_t ahead = Int(status, "clock_ahead_ms"); ahead > 0) {
    out +=
        o.style.Paint("Clock     this site's timestamps ran " + std::to_string(ahead / 86400000) +
                          "d " + std::to_string(ahead / 3600000 % 24) +
                          "h ahead of its clock once: reports carry the clock's time "
                          "(docs/operations.md#a-clock-that-ran-ahead)",
                      Color::kYellow) +
        "\n";
  }
  const json& rep = Member(status, "replication");
  if (rep.is_object() && Int(rep, "links") > 0) {
    std::string line = "Links     " + std::to_string(Int(rep, "links_up")) + " of " +
                       std::to_string(Int(rep, "links")) + " up";
    if (const json& down = Arr(rep, "down"); !down.empty()) line += ", down: " + Join(down);
    out += o.style.Paint(line, Arr(rep, "down").empty() ? Color::kNone : Color::kYellow) +
           "  (`baton sites`)\n";
  }
  if (rep.is_object() && (Int(rep, "forks") > 0 || Int(rep, "rejected") > 0)) {
    out += o.style.Paint("Evidence  " + std::to_string(Int(rep, "forks")) + " fork(s), " +
                             std::to_string(Int(rep, "rejected")) +
                             " received event(s) rejected (see `baton sites` and the log)",
                         Color::kRed) +
           "\n";
  }
  return out;
}

std::string ReportWord(const std::string& kind) {
  if (kind == "start") return "started";
  if (kind == "done") return "done";
  if (kind == "fail") return "FAILED";
  if (kind == "skip") return "skipped";
  if (kind == "reset") return "reset";
  return kind;
}

}  // namespace

int64_t TimeOf(const json& j, const char* key) { return Int(j, key, crdt::kNoTime); }

std::string ZoneOf(const json& status) {
  const std::string tz = Str(Member(status, "runbook"), "timezone");
  return tz.empty() ? "UTC" : tz;
}

std::string Verdict(const json& f, const Style& style) {
  if (TimeOf(f, "window_end") == crdt::kNoTime || TimeOf(f, "slack_ms") == crdt::kNoTime) {
    return "no window end to compare with";
  }
  const int64_t slack = TimeOf(f, "slack_ms");
  if (Bool(f, "at_risk") || slack < 0) {
    return style.Paint("AT RISK by " + FormatDuration(-slack), Color::kRed);
  }
  return style.Paint("on track, " + FormatDuration(slack) + " margin", Color::kGreen);
}

std::string ForecastLine(const json& f, const ViewOptions& o) {
  if (!f.is_object()) return "-";
  return std::string(Str(f, "mode") == "backing_out" ? "back-out finish " : "finish ") +
         When(TimeOf(f, "forecast_finish"), o, TimeStyle::kFull) + " vs window end " +
         When(TimeOf(f, "window_end"), o, TimeStyle::kFull) + ": " + Verdict(f, o.style);
}

std::string RenderStatus(const json& status, const ViewOptions& o) {
  std::string out = Summary(status, o);
  if (Str(Member(status, "runbook"), "id").empty()) return out;
  const json& running = Arr(status, "running");
  const json& late = Arr(status, "late");
  out += "\n" + Heading("Running (" + std::to_string(running.size()) + ")", o);
  if (!running.empty()) out += RunningTable(running, o);
  out += "\n" + Heading("Late (" + std::to_string(late.size()) + ")", o);
  if (!late.empty()) out += LateTable(late, o);
  out += ChasePanel(status, o, SIZE_MAX);
  const json& ready = Arr(status, "ready");
  out += "\n" + Heading("Ready (" + std::to_string(ready.size()) + ")", o);
  if (!ready.empty()) out += Join(ready) + "\n";
  return out;
}

std::string RenderTaskTable(const json& rows, const ViewOptions& o) {
  if (!rows.is_array() || rows.empty()) return "(no tasks)\n";
  Table t({{"ID"},
           {"STATUS"},
           {"TITLE", false, true},
           {"TEAM"},
           {"SITE"},
           {"START"},
           {"FINISH"},
           {"DUR", true},
           {"REMARKS"}});
  for (const auto& r : rows) {
    const std::string status = Str(r, "status");
    int64_t start = TimeOf(r, "actual_start");
    if (start == crdt::kNoTime) start = TimeOf(r, "forecast_start");
    int64_t finish = TimeOf(r, "actual_finish");
    if (finish == crdt::kNoTime) finish = TimeOf(r, "forecast_finish");
    t.AddRow({{Str(r, "id"), Color::kBold},
              {status, StatusColor(status)},
              {Str(r, "title")},
              {Str(r, "team")},
              {Str(r, "site")},
              {When(start, o)},
              {When(finish, o)},
              {FormatDuration(Int(r, "duration_ms"))},
              {Remarks(r), RemarkColor(r)}});
  }
  return t.Render(o.width, o.style) + std::to_string(rows.size()) + " task(s); times in " + o.tz +
         "\n";
}

std::string RenderLinks(const json& sites, const ViewOptions& o) {
  const json& links = Arr(sites, "links");
  std::string out;
  if (links.empty()) {
    out += "Site " + Or(Str(sites, "site"), "?") +
           " has no peer links (peer lines in batond.conf; docs/replication.md).\n";
  } else {
    Table t({{"PEER"},
             {"DIR"},
             {"LINK"},
             {"LAST HEARD", true},
             {"THEY LACK", true},
             {"WE LACK", true},
             {"SKEW", true},
             {"REJECTED", true},
             {""}});
    for (const auto& l : links) {
      const std::string state = Str(l, "state");
      const json& heard = Member(l, "last_heard_ms_ago");
      std::string note;
      if (Member(l, "clock_ahead_ms").is_number()) {
        note = "clock " + FormatDuration(Int(l, "clock_ahead_ms")) + " ahead: not merged";
      }
      t.AddRow({{Str(l, "site"), Color::kBold},
                {Str(l, "direction")},
                {state, state == "live"      ? Color::kGreen
                        : state == "syncing" ? Color::kYellow
                                             : Color::kRed},
                {heard.is_number() ? FormatDuration(heard.get<int64_t>()) + " ago" : "never"},
                {std::to_string(Int(l, "they_lack"))},
                {std::to_string(Int(l, "we_lack"))},
                {FormatDuration(Int(l, "skew_ms"))},
                {std::to_string(Int(l, "rejected")),
                 Int(l, "rejected") > 0 ? Color::kRed : Color::kNone},
                {note, Color::kRed}});
    }
    out += t.Render(o.width, o.style);
  }
  const int64_t forks = Int(sites, "forks");
  const int64_t refused = Int(sites, "refused_connections");
  out += "forks: " + o.style.Paint(std::to_string(forks), forks > 0 ? Color::kRed : Color::kNone) +
         "   refused connections: " + std::to_string(refused);
  if (!Str(sites, "listen").empty()) out += "   listening on " + Str(sites, "listen");
  return out + "\n";
}

std::string RenderRoster(const json& list, const ViewOptions& o) {
  // Keys are shown by their first 16 hex digits, enough to compare by eye; --json has them whole.
  const auto short_key = [](const std::string& hex) {
    return hex.empty() ? std::string("(none)") : hex.substr(0, 16) + "…";
  };
  const json& trust = Member(list, "trust");
  std::string out;
  if (trust.is_object()) {
    out += "Trust anchor  " + o.style.Paint(Str(trust, "site"), Color::kBold) + "  key " +
           short_key(Str(trust, "key")) + "\n";
  } else {
    out += o.style.Paint("No trust anchor in batond.conf (key \"trust\")", Color::kRed) + "\n";
  }
  const json& sites = Arr(list, "sites");
  if (sites.empty()) {
    return out + "No roster yet at site " + Or(Str(list, "site"), "?") +
           ": it comes with the manager site's plan.\n";
  }
  // The TEAMS column only when some site has a team (most weekends go by site alone).
  const bool teams = std::any_of(sites.begin(), sites.end(),
                                 [](const json& s) { return !Arr(s, "teams").empty(); });
  std::vector<Table::Column> columns = {{"SITE"}, {"NAME", false, true}, {"ROLE"}};
  if (teams) columns.push_back({"TEAMS", false, true});
  columns.insert(columns.end(), {{"KEY"}, {"ENDPOINT"}, {""}});
  Table t(columns);
  for (const auto& s : sites) {
    std::vector<std::string> marks;
    if (Bool(s, "anchor")) marks.push_back("trust anchor");
    if (Bool(s, "self")) marks.push_back("this site");
    std::string mark;
    for (const auto& m : marks) mark += (mark.empty() ? "" : ", ") + m;
    const std::string role = Str(s, "role");
    std::vector<Table::Cell> row = {{Str(s, "id"), Color::kBold},
                                    {Or(Str(s, "name"))},
                                    {role, role == "manager" ? Color::kCyan : Color::kNone}};
    if (teams) row.push_back({Or(Joined(Arr(s, "teams")))});
    row.insert(row.end(),
               {{short_key(Str(s, "key")), Str(s, "key").empty() ? Color::kYellow : Color::kNone},
                {Or(Str(s, "endpoint"))},
                {mark, Color::kDim}});
    t.AddRow(std::move(row));
  }
  out += t.Render(o.width, o.style, 8);
  out += std::to_string(sites.size()) + " site(s)";
  if (Bool(list, "conflict")) {
    out += "; " + o.style.Paint(
                      "CONFLICT: concurrent roster changes, the one shown wins until a "
                      "manager changes the roster again",
                      Color::kRed);
  }
  return out + "\n";
}

std::string RenderTaskDetail(const json& task, const ViewOptions& o) {
  const json& spec = Member(task, "spec");
  const std::string status = Str(task, "status");
  std::string out = o.style.Paint(Str(task, "id"), Color::kBold) + "  " + Str(task, "title") +
                    "  [" + o.style.Paint(status, StatusColor(status)) + "]";
  if (Bool(task, "conflict")) out += "  " + o.style.Paint("CONFLICT", Color::kRed);
  if (Bool(task, "removed")) out += "  " + o.style.Paint("(removed from the plan)", Color::kDim);
  out += "\n";
  out += "  phase " + Or(Str(task, "phase")) + "  team " + Or(Str(task, "team")) + "  site " +
         Or(Str(task, "site")) + "  kind " + Or(Str(task, "kind"));
  if (Bool(task, "backout")) out += "  (back-out path)";
  out += "\n";
  if (const std::string d = Joined(Arr(spec, "deciders")); !d.empty()) {
    out += "  decided by: " + d + " (or a manager)\n";
  }
  std::string preds;
  for (const auto& d : Arr(spec, "predecessors")) {
    std::string p = Str(d, "task");
    const std::string type = Str(d, "type");
    if (!type.empty() && type != "fs") p += " " + type;
    if (const int64_t lag = Int(d, "lag_ms"); lag != 0) {
      p += (lag > 0 ? " +" : " ") + FormatDuration(lag);
    }
    preds += (preds.empty() ? "" : ", ") + p;
  }
  out += "  predecessors: " + Or(preds, "none") + "\n";
  if (const std::string b = Str(spec, "backout_task"); !b.empty()) {
    out += "  backed out by: " + b + "\n";
  }
  if (const int64_t nb = TimeOf(spec, "not_before_ms"); nb != crdt::kNoTime) {
    out += "  not before: " + When(nb, o, TimeStyle::kFull) + "\n";
  }
  if (const std::string r = Remarks(task); !r.empty()) {
    out += "  " + o.style.Paint(r, RemarkColor(task)) + "\n";
  }
  if (Member(task, "float_ms").is_number_integer()) {
    out += "  float " + FormatDuration(Int(task, "float_ms")) + "\n";
  }
  Table times({{""}, {"PLANNED"}, {"FORECAST"}, {"ACTUAL"}});
  times.AddRow({{"start"},
                {When(TimeOf(task, "planned_start"), o)},
                {When(TimeOf(task, "forecast_start"), o)},
                {When(TimeOf(task, "actual_start"), o)}});
  times.AddRow({{"finish"},
                {When(TimeOf(task, "planned_finish"), o)},
                {When(TimeOf(task, "forecast_finish"), o)},
                {When(TimeOf(task, "actual_finish"), o)}});
  const int64_t a0 = TimeOf(task, "actual_start"), a1 = TimeOf(task, "actual_finish");
  times.AddRow({{"duration"},
                {FormatDuration(Int(task, "duration_ms"))},
                {""},
                {a0 != crdt::kNoTime && a1 != crdt::kNoTime ? FormatDuration(a1 - a0) : "-"}});
  out += "\n" + times.Render(o.width, o.style);
  const json& live = Arr(task, "live_reports");
  if (!live.empty()) {
    const bool conflict = live.size() > 1;
    out +=
        "\n" + Heading(conflict ? "Live reports (CONFLICT: concurrent, none supersedes the other)"
                                : "Live report",
                       o);
    for (const auto& r : live) {
      out += "  " + Str(r, "event") + "  " + ReportWord(Str(r, "kind")) + " at " +
             When(TimeOf(r, "at"), o) + " by " + Str(r, "actor");
      if (const std::string n = Str(r, "note"); !n.empty()) out += "  \"" + n + "\"";
      out += "\n";
    }
  }
  if (const json& g = Member(task, "gate"); g.is_object()) {
    out +=
        "\n" + Heading("Gate decision", o) + "  " +
        o.style.Paint(Bool(g, "go") ? "GO" : "NO-GO", Bool(g, "go") ? Color::kGreen : Color::kRed) +
        " by " + Str(g, "actor") + " (" + Str(g, "event") + ")";
    if (Bool(g, "conflict")) out += "  " + o.style.Paint("CONFLICT", Color::kRed);
    if (const std::string n = Str(g, "note"); !n.empty()) out += "  \"" + n + "\"";
    out += "\n";
  }
  const json& notes = Arr(task, "notes");
  if (!notes.empty()) {
    out += "\n" + Heading("Notes", o);
    for (const auto& n : notes) {
      out +=
          "  " + When(TimeOf(n, "at"), o) + "  " + Str(n, "actor") + ": " + Str(n, "text") + "\n";
    }
  }
  const json& history = Arr(task, "history");
  if (!history.empty()) {
    out += "\n" + Heading("History", o);
    Table h({{"WHEN"}, {"EVENT"}, {"WHAT"}, {"BY"}, {"DETAIL", false, true}});
    for (const auto& e : history) {
      const json& body = Member(e, "body");
      std::string what = Str(e, "kind");
      std::string detail;
      if (what == "task_reported") {
        what = ReportWord(Str(body, "report"));
        if (const int64_t eff = TimeOf(body, "effective_ms"); eff != crdt::kNoTime) {
          detail = "effective " + When(eff, o);
        }
        if (const std::string n = Str(body, "note"); !n.empty()) {
          detail += (detail.empty() ? "" : "; ") + n;
        }
      } else if (what == "gate_decided") {
        what = "gate " + Str(body, "decision");
        detail = Str(body, "note");
      } else if (what == "note_added") {
        what = "note";
        detail = Str(body, "text");
      } else if (what == "task_changed") {
        detail = Member(body, "patch").dump();
      }
      if (Member(e, "counted").is_boolean() && !Bool(e, "counted")) {
        detail = "NOT COUNTED (refused by authorization)" + (detail.empty() ? "" : "; " + detail);
      }
      h.AddRow(
          {{When(TimeOf(e, "at"), o)}, {Str(e, "event")}, {what}, {Str(e, "actor")}, {detail}});
    }
    out += h.Render(o.width, o.style);
  }
  const json& flags = Arr(task, "flags");
  if (!flags.empty()) {
    out += "\n" + Heading("Flags", o);
    for (const auto& f : flags) {
      out += "  " + Str(f, "event") + ": " + o.style.Paint(Str(f, "reason"), Color::kYellow) + "\n";
    }
  }
  const json& anomalies = Arr(task, "anomalies");
  if (!anomalies.empty()) {
    out += "\n" + Heading("Anomalies (out of order against the plan)", o);
    for (const auto& a : anomalies) {
      out += "  " + o.style.Paint(AnomalyText(a, o), Color::kYellow) + "\n";
    }
  }
  return out;
}

std::string RenderForecast(const json& f, const ViewOptions& o) {
  std::string out = "Forecast  " + ForecastLine(f, o) + "\n";
  out += "Planned   finish " + When(TimeOf(f, "planned_finish"), o) + "\n";
  for (const auto& c : Arr(f, "causes")) {
    out += "  " + o.style.Paint("cause", Color::kRed) + " " + Str(c, "task") + " (" +
           Str(c, "kind") + ", +" + FormatDuration(Int(c, "contribution_ms")) +
           "): " + Str(c, "explanation") + "\n";
  }
  const json& path = Arr(f, "critical_path");
  out += "Critical path (" + std::to_string(path.size()) + "): " + Or(Join(path, " -> "), "none") +
         "\n";
  auto backout = [&](const json& b, const std::string& label) {
    std::string s = label + ": " + std::to_string(Arr(b, "steps").size()) + " step(s), finish " +
                    When(TimeOf(b, "finish"), o);
    if (TimeOf(b, "margin_ms") != crdt::kNoTime) {
      const int64_t m = TimeOf(b, "margin_ms");
      s += Bool(b, "inside_window")
               ? o.style.Paint(", inside the window by " + FormatDuration(m), Color::kGreen)
               : o.style.Paint(", OUTSIDE the window by " + FormatDuration(-m), Color::kRed);
    }
    s += "\n";
    for (const auto& w : Arr(b, "warnings")) {
      if (w.is_string()) s += "    warning: " + w.get<std::string>() + "\n";
    }
    return s;
  };
  const json& now_b = Member(f, "backout_now");
  const bool backing_out = Str(f, "mode") == "backing_out";
  if (now_b.is_object()) {
    out += "\n" + Heading(backing_out ? "Backing out" : "Back-out", o);
    const std::string label =
        backing_out ? "backing out since " + When(TimeOf(Member(f, "backout"), "start"), o) + " (" +
                          BackoutCause(Member(f, "backout")) + ")"
                    : "if backing out now (" + When(TimeOf(now_b, "start"), o) + ")";
    out += "  " + backout(now_b, label);
    if (const int64_t latest = TimeOf(f, "latest_nogo"); !backing_out && latest != crdt::kNoTime) {
      out += "  latest no-go that backs out inside the window: " + When(latest, o) + "\n";
    }
    const json& steps = Arr(now_b, "steps");
    if (!steps.empty()) {
      Table t({{"STEP"}, {"STATUS"}, {"UNDOES", false, true}, {"START"}, {"FINISH"}});
      for (const auto& s : steps) {
        std::string status = Str(s, "status");
        if (status == "not_started") status = "pending";
        t.AddRow({{Str(s, "task")},
                  {status, StatusColor(status)},
                  {Join(Arr(s, "undoes"))},
                  {When(TimeOf(s, "start"), o)},
                  {When(TimeOf(s, "finish"), o)}});
      }
      std::string table = t.Render(o.width > 4 ? o.width - 4 : o.width, o.style);
      size_t pos = 0;
      while (pos < table.size()) {
        const size_t nl = table.find('\n', pos);
        out += "    " + table.substr(pos, nl - pos + 1);
        pos = nl + 1;
      }
    }
  }
  for (const auto& g : Arr(f, "backout_at_gates")) {
    out += "  " + backout(g, "if backing out at gate " + Str(g, "gate") + " (" +
                                 When(TimeOf(g, "start"), o) + ")");
  }
  return out;
}

std::string RenderPlan(const json& status, const json& rows, const ViewOptions& o) {
  const json& rb = Member(status, "runbook");
  if (Str(rb, "id").empty()) return Summary(status, o);
  std::string out = o.style.Paint(Or(Str(rb, "name"), Str(rb, "id").c_str()), Color::kBold) +
                    "  (runbook " + Str(rb, "id") + ")\n";
  out += "  time zone " + o.tz + "\n";
  out += "  window    " + When(TimeOf(rb, "window_start"), o, TimeStyle::kFull) + " -> " +
         When(TimeOf(rb, "window_end"), o, TimeStyle::kFull);
  const int64_t ws = TimeOf(rb, "window_start"), we = TimeOf(rb, "window_end");
  if (ws != crdt::kNoTime && we != crdt::kNoTime) out += " (" + FormatDuration(we - ws) + ")";
  out += "\n  tasks     " + std::to_string(rows.is_array() ? rows.size() : 0) + "\n\n";
  Table t({{"ID"},
           {"PHASE"},
           {"KIND"},
           {"TITLE", false, true},
           {"TEAM"},
           {"SITE"},
           {"PLANNED START"},
           {"DUR", true},
           {"STATUS"}});
  for (const auto& r : rows) {
    std::string kind = Str(r, "kind");
    if (Bool(r, "backout")) kind += " (back-out)";
    const std::string status_word = Str(r, "status");
    t.AddRow({{Str(r, "id"), Color::kBold},
              {Str(r, "phase")},
              {kind},
              {Str(r, "title")},
              {Str(r, "team")},
              {Str(r, "site")},
              {When(TimeOf(r, "planned_start"), o)},
              {FormatDuration(Int(r, "duration_ms"))},
              {status_word, StatusColor(status_word)}});
  }
  return out + t.Render(o.width, o.style);
}

std::string DescribeEvent(const json& e, const ViewOptions& o) {
  const json& body = Member(e, "body");
  const std::string kind = Str(e, "kind");
  int64_t at = TimeOf(body, "effective_ms");
  if (at == crdt::kNoTime) at = Int(Member(e, "hlc"), "wall_ms", crdt::kNoTime);
  std::string what;
  Color color = Color::kNone;
  if (kind == "task_reported") {
    const std::string r = Str(body, "report");
    what = Str(body, "task") + " " + ReportWord(r);
    color = r == "fail" ? Color::kRed : r == "done" ? Color::kGreen : Color::kNone;
    if (const std::string n = Str(body, "note"); !n.empty()) what += ": " + n;
  } else if (kind == "gate_decided") {
    what = "gate " + Str(body, "task") + " " + Str(body, "decision");
    color = Str(body, "decision") == "go" ? Color::kGreen : Color::kRed;
    if (const std::string n = Str(body, "note"); !n.empty()) what += ": " + n;
  } else if (kind == "note_added") {
    const std::string t = Str(body, "task");
    what = "note" + (t.empty() ? std::string() : " on " + t) + ": " + Str(body, "text");
  } else if (kind == "plan_defined") {
    what =
        "plan imported (" + std::to_string(Arr(Member(body, "plan"), "tasks").size()) + " tasks)";
  } else if (kind == "plan_amended") {
    what = "plan amended";
  } else if (kind == "task_added") {
    what = Str(Member(body, "spec"), "id") + " added to the plan";
  } else if (kind == "task_changed") {
    what = Str(body, "task") + " changed " + Member(body, "patch").dump();
  } else if (kind == "task_removed") {
    what = Str(body, "task") + " removed from the plan";
  } else {
    what = kind;
  }
  return When(at, o, TimeStyle::kShort) + "  " + o.style.Paint(what, color) + "  (" +
         Str(e, "actor") + ", " + Str(e, "id") + ")";
}

std::string FitHeight(const std::string& frame, int height) {
  if (height < 2) return frame;
  std::vector<size_t> ends;  // Offset past each line's newline.
  for (size_t pos = frame.find('\n'); pos != std::string::npos; pos = frame.find('\n', pos + 1)) {
    ends.push_back(pos + 1);
  }
  const auto rows = static_cast<size_t>(height);
  if (ends.size() <= rows) return frame;
  const size_t kept = rows - 1;
  return frame.substr(0, ends[kept - 1]) + "... " + std::to_string(ends.size() - kept) +
         " more lines: a taller terminal, or baton watch --team/--site/--phase\n";
}

std::string RenderBoard(const json& status, const std::deque<std::string>& recent,
                        const std::string& banner, const ViewOptions& o) {
  std::string out;
  if (!banner.empty()) out += o.style.Paint(banner, Color::kInverse) + "\n";
  out += Summary(status, o);
  out += o.style.Paint("now " + When(o.now_ms, o), Color::kDim) + "\n";
  if (const std::string only = Str(status, "only"); !only.empty()) {
    out += o.style.Paint(Fit("Lists below: only " + only, o), Color::kCyan) + "\n";
  }
  if (!Str(Member(status, "runbook"), "id").empty()) {
    const json& running = Arr(status, "running");
    out += "\n" + Heading("Running (" + std::to_string(running.size()) + ")", o);
    if (!running.empty()) out += RunningTable(running, o);
    const json& late = Arr(status, "late");
    if (!late.empty()) {
      constexpr size_t kMaxLateRows = 10;  // Keeps the board on one screen.
      out += "\n" + o.style.Paint("Late (" + std::to_string(late.size()) + ")", Color::kRed) + "\n";
      if (late.size() <= kMaxLateRows) {
        out += LateTable(late, o);
      } else {
        out += LateTable(json(late.begin(), late.begin() + kMaxLateRows), o);
        out += "  ... and " + std::to_string(late.size() - kMaxLateRows) + " more (baton late)\n";
      }
    }
    constexpr size_t kMaxChaseRows = 6;
    out += ChasePanel(status, o, kMaxChaseRows);
    const json& ready = Arr(status, "ready");
    out += "\n" + Heading("Ready (" + std::to_string(ready.size()) + ")", o);
    if (!ready.empty()) {
      std::string line = Join(ready);
      out += (o.width > 0 ? Truncate(line, static_cast<size_t>(o.width)) : line) + "\n";
    }
  }
  out += "\n" + Heading("Recent events", o);
  if (recent.empty()) out += "  (none yet)\n";
  for (const auto& line : recent) {
    out += "  " + (o.width > 2 ? Truncate(line, static_cast<size_t>(o.width - 2)) : line) + "\n";
  }
  return out;
}

}  // namespace baton::client::cli
