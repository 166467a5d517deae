#include "tools/audit/report.h"

#include <xlsxwriter.h>

#include <algorithm>
#include <cstdio>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "client/cli/render.h"
#include "client/protocol.h"
#include "crdt/event.h"
#include "tools/audit/replay.h"
#include "tools/audit/timeline.h"

namespace baton::audit {
namespace {

using nlohmann::json;

constexpr int64_t kGraceMs = 60 * 1000;  // As the live board: a minute is not news.
constexpr int64_t kNone = crdt::kNoTime;

int64_t TimeOr(const json& row, const char* key) {
  const auto it = row.find(key);
  return it == row.end() || !it->is_number_integer() ? kNone : it->get<int64_t>();
}

std::string Escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Minutes(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(ms) / 60000.0);
  return buf;
}

void Count(std::map<std::string, GroupFigures>* groups, const std::string& name,
           const TaskFigures& t) {
  GroupFigures& g = (*groups)[name];
  g.name = name;
  ++g.tasks;
  if (t.actual_finish != kNone) ++g.finished;
  if (t.late_start) ++g.late_starts;
  if (t.overran) ++g.overruns;
  if (t.finish_slip_ms > 0) g.total_slip_ms += t.finish_slip_ms;
}

std::vector<GroupFigures> Values(const std::map<std::string, GroupFigures>& groups) {
  std::vector<GroupFigures> out;
  for (const auto& [name, g] : groups) out.push_back(g);
  return out;
}

}  // namespace

Result<Report> BuildReport(const ReportOptions& options) {
  LoadedLog log;
  BATON_ASSIGN_OR_RETURN(log.evidence, Evidence::Open(options.data, options.trust));
  // The verification reads and checks the log on threads of its own while the board is built
  // (it joins before `log` goes, on every return).
  std::future<Result<VerifyReport>> verified =
      std::async(std::launch::async, [&e = *log.evidence] { return VerifyEvidence(e, nullptr); });
  BATON_TRY(LoadEvents(log));
  ReplayOptions at;
  at.as_of = options.as_of;
  BATON_ASSIGN_OR_RETURN(ReplayedMany board, ReplayLoaded(log, at, {"status", "ls"}));
  const json& status = board.results[0];
  const json& rows = board.results[1]["tasks"];
  Report r;
  r.as_of = board.at.as_of_ms;
  r.timezone = board.at.timezone;
  r.site = log.evidence->site();
  r.runbook_id = status["runbook"].value("id", "");
  if (r.runbook_id.empty()) {
    return Status::NotFound(options.data.string() + " holds no plan: nothing to report on");
  }
  r.name = status["runbook"].value("name", "");
  r.window_start = TimeOr(status["runbook"], "window_start");
  r.window_end = TimeOr(status["runbook"], "window_end");
  const json& forecast = status["forecast"];
  r.planned_finish = TimeOr(forecast, "planned_finish");
  r.forecast_finish = TimeOr(forecast, "forecast_finish");
  for (const json& id : forecast.value("critical_path", json::array())) {
    r.critical_path.push_back(id.get<std::string>());
  }
  std::map<std::string, GroupFigures> teams, sites;
  for (const json& row : rows) {
    TaskFigures t;
    t.id = row.value("id", "");
    t.title = row.value("title", "");
    t.phase = row.value("phase", "");
    t.team = row.value("team", "");
    t.site = row.value("site", "");
    t.kind = row.value("kind", "");
    t.status = row.value("status", "");
    t.backout = row.value("backout", false);
    t.critical =
        std::find(r.critical_path.begin(), r.critical_path.end(), t.id) != r.critical_path.end();
    t.conflict = row.value("conflict", false);
    t.planned_start = TimeOr(row, "planned_start");
    t.planned_finish = TimeOr(row, "planned_finish");
    t.actual_start = TimeOr(row, "actual_start");
    t.actual_finish = TimeOr(row, "actual_finish");
    t.duration_ms = row.value("duration_ms", int64_t{0});
    if (t.actual_start != kNone && t.planned_start != kNone) {
      t.start_slip_ms = t.actual_start - t.planned_start;
      t.late_start = t.start_slip_ms >= kGraceMs;
    }
    if (t.actual_start != kNone && t.actual_finish != kNone) {
      t.overrun_ms = (t.actual_finish - t.actual_start) - t.duration_ms;
      t.overran = t.overrun_ms >= kGraceMs;
    }
    if (t.actual_finish != kNone && t.planned_finish != kNone) {
      t.finish_slip_ms = t.actual_finish - t.planned_finish;
    }
    if (t.conflict) r.open_conflicts.push_back(t.id);
    Count(&teams, t.team, t);
    Count(&sites, t.site, t);
    r.tasks.push_back(std::move(t));
  }
  r.teams = Values(teams);
  r.sites = Values(sites);

  // From the events up to the moment: gate decisions, settled conflicts, who did what.
  std::map<std::string, size_t> task_index;
  for (size_t i = 0; i < r.tasks.size(); ++i) task_index[r.tasks[i].id] = i;
  std::map<std::string, ActorFigures> actors;
  std::vector<const crdt::Event*> events;
  for (const auto& [origin, chain] : log.by_origin) {
    for (const crdt::Event& e : chain) {
      if (e.hlc.wall_ms <= r.as_of) events.push_back(&e);
    }
  }
  std::sort(events.begin(), events.end(), [](const crdt::Event* a, const crdt::Event* b) {
    return std::tie(a->hlc, a->origin, a->seq) < std::tie(b->hlc, b->origin, b->seq);
  });
  for (const crdt::Event* e : events) {
    ActorFigures& a = actors[e->actor];
    a.actor = e->actor;
    if (a.first == 0) a.first = e->hlc.wall_ms;
    a.last = e->hlc.wall_ms;
    std::visit(
        [&](const auto& b) {
          using T = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<T, crdt::TaskReported> ||
                        std::is_same_v<T, crdt::GateDecided>) {
            std::string what;
            if constexpr (std::is_same_v<T, crdt::TaskReported>) {
              ++a.reports;
              what = crdt::ReportKindName(b.kind);
            } else {
              ++a.gates;
              what = b.go ? "go" : "no-go";
              if (auto it = task_index.find(b.task_id); it != task_index.end()) {
                r.tasks[it->second].gate = what;  // The latest decision by clock.
              }
            }
            if (b.supersedes.size() >= 2) {
              ResolvedConflict c{b.task_id, e->id().ToString(), e->actor, what, e->hlc.wall_ms, {}};
              for (const crdt::EventId& id : b.supersedes) c.superseded.push_back(id.ToString());
              r.resolved.push_back(std::move(c));
            }
          } else if constexpr (std::is_same_v<T, crdt::NoteAdded>) {
            ++a.notes;
          } else {
            ++a.plan_changes;
          }
        },
        e->body);
  }
  for (const auto& [name, a] : actors) r.actors.push_back(a);

  BATON_ASSIGN_OR_RETURN(r.verification, verified.get());
  return r;
}

namespace {

// The chart's geometry: a label column, then time from left to right.
struct Chart {
  int64_t from = 0, to = 1;
  static constexpr int kLabel = 300, kWidth = 1400, kRow = 22, kTop = 40;
  double X(int64_t t) const {
    return kLabel + static_cast<double>(t - from) * (kWidth - kLabel - 20) /
                        static_cast<double>(std::max<int64_t>(1, to - from));
  }
};

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string Gantt(const Report& r) {
  Chart c;
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  const auto widen = [&](int64_t t) {
    if (t == kNone) return;
    lo = std::min(lo, t);
    hi = std::max(hi, t);
  };
  widen(r.window_start);
  widen(r.window_end);
  for (const TaskFigures& t : r.tasks) {
    for (int64_t v : {t.planned_start, t.planned_finish, t.actual_start, t.actual_finish}) {
      widen(v);
    }
  }
  if (lo == INT64_MAX) lo = hi = r.as_of;
  c.from = lo;
  c.to = std::max(hi, lo + 3600 * 1000);
  // Rows: a heading per phase, then its tasks, both by planned start (tasks without one last).
  const auto start_of = [](const TaskFigures* t) {
    return t->planned_start == kNone ? INT64_MAX : t->planned_start;
  };
  std::vector<const TaskFigures*> ordered;
  for (const TaskFigures& t : r.tasks) ordered.push_back(&t);
  std::stable_sort(ordered.begin(), ordered.end(), [&](const TaskFigures* a, const TaskFigures* b) {
    return std::make_pair(start_of(a), a->id) < std::make_pair(start_of(b), b->id);
  });
  std::vector<std::string> phases;
  std::map<std::string, std::vector<const TaskFigures*>> by_phase;
  for (const TaskFigures* t : ordered) {
    if (by_phase.count(t->phase) == 0) phases.push_back(t->phase);
    by_phase[t->phase].push_back(t);
  }
  const int rows = static_cast<int>(r.tasks.size() + phases.size());
  const int height = Chart::kTop + rows * Chart::kRow + 30;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"gantt\" width=\"" << Chart::kWidth
    << "\" height=\"" << height << "\" viewBox=\"0 0 " << Chart::kWidth << " " << height
    << "\" role=\"img\" aria-label=\"planned versus actual\">\n";
  s << "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
       "patternTransform=\"rotate(45)\"><rect width=\"3\" height=\"6\" fill=\"#b07cc6\"/>"
       "</pattern></defs>\n";
  if (r.window_start != kNone && r.window_end != kNone) {
    s << "<rect class=\"window\" x=\"" << Num(c.X(r.window_start)) << "\" y=\"" << Chart::kTop
      << "\" width=\"" << Num(c.X(r.window_end) - c.X(r.window_start)) << "\" height=\""
      << rows * Chart::kRow << "\" fill=\"#eef5ee\"><title>outage window "
      << Escape(client::FormatIsoTime(r.window_start)) << " to "
      << Escape(client::FormatIsoTime(r.window_end)) << "</title></rect>\n";
  }
  // Hour ticks.
  const int64_t hour = 3600 * 1000;
  const int64_t step = (c.to - c.from) / hour > 36 ? 6 * hour : hour;
  for (int64_t t = (c.from / step + 1) * step; t < c.to; t += step) {
    s << "<line x1=\"" << Num(c.X(t)) << "\" y1=\"" << Chart::kTop - 5 << "\" x2=\"" << Num(c.X(t))
      << "\" y2=\"" << Chart::kTop + rows * Chart::kRow << "\" stroke=\"#ddd\"/><text x=\""
      << Num(c.X(t)) << "\" y=\"" << Chart::kTop - 10
      << "\" font-size=\"11\" text-anchor=\"middle\">"
      << Escape(client::cli::FormatTime(t, r.timezone, client::cli::TimeStyle::kClock))
      << "</text>\n";
  }
  int y = Chart::kTop;
  for (const std::string& phase : phases) {
    s << "<text class=\"phase\" x=\"4\" y=\"" << y + 15 << "\" font-size=\"13\" "
      << "font-weight=\"bold\">" << Escape(phase.empty() ? "(no phase)" : phase) << "</text>\n";
    y += Chart::kRow;
    for (const TaskFigures* t : by_phase[phase]) {
      s << "<g class=\"task\" data-task=\"" << Escape(t->id) << "\">";
      s << "<text x=\"14\" y=\"" << y + 15 << "\" font-size=\"12\""
        << (t->critical ? " fill=\"#b00\" font-weight=\"bold\"" : "")
        << (t->backout ? " class=\"backout\" fill=\"#7d3c98\"" : "") << ">"
        << Escape(t->id + "  " + t->title.substr(0, 36)) << (t->backout ? " (back-out)" : "")
        << "</text>";
      if (t->planned_start != kNone && t->planned_finish != kNone) {
        s << "<rect class=\"planned\" x=\"" << Num(c.X(t->planned_start)) << "\" y=\"" << y + 3
          << "\" width=\"" << Num(std::max(1.0, c.X(t->planned_finish) - c.X(t->planned_start)))
          << "\" height=\"7\" fill=\"" << (t->backout ? "url(#hatch)" : "#9bb7d4") << "\""
          << (t->critical ? " stroke=\"#b00\" stroke-width=\"1.5\"" : "") << "><title>planned "
          << Escape(client::FormatIsoTime(t->planned_start)) << " to "
          << Escape(client::FormatIsoTime(t->planned_finish)) << "</title></rect>";
      }
      if (t->actual_start != kNone) {
        const int64_t end = t->actual_finish != kNone ? t->actual_finish : r.as_of;
        const char* color = t->status == "failed"       ? "#c0392b"
                            : t->overran                ? "#e67e22"
                            : t->actual_finish == kNone ? "#5dade2"
                                                        : "#27ae60";
        s << "<rect class=\"actual\" x=\"" << Num(c.X(t->actual_start)) << "\" y=\"" << y + 11
          << "\" width=\"" << Num(std::max(1.0, c.X(end) - c.X(t->actual_start)))
          << "\" height=\"7\" fill=\"" << color << "\"><title>actual "
          << Escape(client::FormatIsoTime(t->actual_start)) << " to "
          << (t->actual_finish != kNone ? Escape(client::FormatIsoTime(t->actual_finish))
                                        : std::string("(running)"))
          << "</title></rect>";
      }
      if (t->kind == "gate" && t->planned_start != kNone) {
        const double x = c.X(t->actual_finish != kNone ? t->actual_finish : t->planned_start);
        const char* fill = t->gate == "go" ? "#27ae60" : t->gate == "no-go" ? "#c0392b" : "#999";
        s << "<path class=\"gate\" d=\"M" << Num(x) << " " << y + 2 << " l6 9 l-6 9 l-6 -9 z\" "
          << "fill=\"" << fill << "\"><title>gate " << Escape(t->id) << ": "
          << (t->gate.empty() ? "undecided" : t->gate) << "</title></path>";
      }
      s << "</g>\n";
      y += Chart::kRow;
    }
  }
  if (r.as_of >= c.from && r.as_of <= c.to) {
    s << "<line class=\"as-of\" x1=\"" << Num(c.X(r.as_of)) << "\" y1=\"" << Chart::kTop - 5
      << "\" x2=\"" << Num(c.X(r.as_of)) << "\" y2=\"" << y
      << "\" stroke=\"#333\" stroke-dasharray=\"4 3\"><title>as of "
      << Escape(client::FormatIsoTime(r.as_of)) << "</title></line>\n";
  }
  s << "</svg>\n";
  return s.str();
}

std::string GroupTable(const char* id, const char* what, const std::vector<GroupFigures>& groups) {
  std::ostringstream s;
  s << "<table id=\"" << id << "\"><thead><tr><th>" << what
    << "</th><th>Tasks</th><th>Finished</th><th>Late starts</th><th>Overruns</th>"
       "<th>Total slip (min)</th></tr></thead><tbody>\n";
  for (const GroupFigures& g : groups) {
    s << "<tr><td>" << Escape(g.name) << "</td><td>" << g.tasks << "</td><td>" << g.finished
      << "</td><td>" << g.late_starts << "</td><td>" << g.overruns << "</td><td>"
      << Minutes(g.total_slip_ms) << "</td></tr>\n";
  }
  s << "</tbody></table>\n";
  return s.str();
}

std::string Time(const Report& r, int64_t t) {
  if (t == kNone) return "-";
  return Escape(client::cli::FormatTime(t, r.timezone, client::cli::TimeStyle::kFull));
}

}  // namespace

std::string ReportHtml(const Report& r) {
  std::ostringstream s;
  const VerifyReport& v = r.verification;
  s << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<title>" << Escape(r.name) << ": planned versus actual</title>\n"
    << "<style>\nbody{font-family:sans-serif;margin:24px;color:#222}"
       "table{border-collapse:collapse;margin:8px 0 20px}"
       "th,td{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}"
       "th{background:#f3f3f3}.intact{color:#1e7e34;font-weight:bold}"
       ".problems{color:#b00;font-weight:bold}.late{color:#b00}.crit{font-weight:bold}"
       ".legend span{display:inline-block;margin-right:16px;font-size:13px}"
       ".sw{display:inline-block;width:18px;height:8px;margin-right:4px}\n</style>\n"
    << "</head>\n<body>\n";
  s << "<h1>" << Escape(r.name) << "</h1>\n<p class=\"meta\">Runbook <b>" << Escape(r.runbook_id)
    << "</b>, from the log of site <b>" << Escape(r.site) << "</b>, as of " << Time(r, r.as_of)
    << ". Outage window " << Time(r, r.window_start) << " to " << Time(r, r.window_end)
    << "; planned finish " << Time(r, r.planned_finish) << ", forecast finish "
    << Time(r, r.forecast_finish) << ". Times in " << Escape(r.timezone) << ".</p>\n";

  s << "<section id=\"verification\"><h2>Verification</h2>\n";
  if (v.intact()) {
    s << "<p class=\"intact\">INTACT: " << v.events << " events from " << v.origins.size()
      << " origins, every chain complete from seq 1, linked, signed and in order (trust anchor "
      << Escape(v.trust_site) << ").</p>\n";
  } else {
    s << "<p class=\"problems\">" << v.problems.size() << " problems found in " << v.events
      << " events:</p>\n<ul>\n";
    for (const Problem& p : v.problems) {
      s << "<li><code>" << Escape(p.kind) << "</code>: " << Escape(p.message) << "</li>\n";
    }
    s << "</ul>\n";
  }
  s << "<p>State digest <code>" << Escape(v.state_digest) << "</code></p>\n</section>\n";

  s << "<section id=\"chart\"><h2>Planned versus actual</h2>\n<p class=\"legend\">"
       "<span><i class=\"sw\" style=\"background:#9bb7d4\"></i>planned</span>"
       "<span><i class=\"sw\" style=\"background:#27ae60\"></i>done</span>"
       "<span><i class=\"sw\" style=\"background:#e67e22\"></i>overran</span>"
       "<span><i class=\"sw\" style=\"background:#5dade2\"></i>running</span>"
       "<span><i class=\"sw\" style=\"background:#c0392b\"></i>failed</span>"
       "<span><i class=\"sw\" style=\"background:#b07cc6\"></i>back-out</span>"
       "<span><i class=\"sw\" style=\"border:2px solid #b00\"></i>critical path</span>"
       "<span><i class=\"sw\" style=\"background:#eef5ee\"></i>outage window</span>"
       "<span>&#9670; gate</span></p>\n"
    << Gantt(r) << "</section>\n";

  s << "<section id=\"by-team\"><h2>By team</h2>\n"
    << GroupTable("teams", "Team", r.teams) << "</section>\n";
  s << "<section id=\"by-site\"><h2>By site</h2>\n"
    << GroupTable("sites", "Site", r.sites) << "</section>\n";

  s << "<section id=\"tasks\"><h2>Tasks</h2>\n<table id=\"task-table\"><thead><tr><th>Task</th>"
       "<th>Title</th><th>Phase</th><th>Team</th><th>Site</th><th>Status</th>"
       "<th>Planned start</th><th>Actual start</th><th>Planned finish</th>"
       "<th>Actual finish</th><th>Start slip (min)</th><th>Overrun (min)</th></tr></thead>"
       "<tbody>\n";
  for (const TaskFigures& t : r.tasks) {
    s << "<tr data-task=\"" << Escape(t.id) << "\"" << (t.critical ? " class=\"crit\"" : "")
      << "><td>" << Escape(t.id) << (t.backout ? " (back-out)" : "")
      << (t.kind == "gate" ? " (gate" + (t.gate.empty() ? "" : ": " + t.gate) + ")" : "")
      << "</td><td>" << Escape(t.title) << "</td><td>" << Escape(t.phase) << "</td><td>"
      << Escape(t.team) << "</td><td>" << Escape(t.site) << "</td><td>" << Escape(t.status)
      << (t.conflict ? " (conflict)" : "") << "</td><td>" << Time(r, t.planned_start) << "</td><td>"
      << Time(r, t.actual_start) << "</td><td>" << Time(r, t.planned_finish) << "</td><td>"
      << Time(r, t.actual_finish) << "</td><td" << (t.late_start ? " class=\"late\"" : "") << ">"
      << (t.actual_start != kNone ? Minutes(t.start_slip_ms) : "-") << "</td><td"
      << (t.overran ? " class=\"late\"" : "") << ">"
      << (t.actual_finish != kNone && t.actual_start != kNone ? Minutes(t.overrun_ms) : "-")
      << "</td></tr>\n";
  }
  s << "</tbody></table>\n</section>\n";

  s << "<section id=\"conflicts\"><h2>Conflicts</h2>\n";
  if (r.open_conflicts.empty() && r.resolved.empty()) s << "<p>None.</p>\n";
  if (!r.open_conflicts.empty()) {
    s << "<p class=\"problems\">Unresolved:";
    for (const std::string& id : r.open_conflicts) s << " " << Escape(id);
    s << "</p>\n";
  }
  if (!r.resolved.empty()) {
    s << "<table id=\"resolved\"><thead><tr><th>Task</th><th>Settled by</th><th>Who</th>"
         "<th>When</th><th>As</th><th>Superseded</th></tr></thead><tbody>\n";
    for (const ResolvedConflict& c : r.resolved) {
      std::string superseded;
      for (const std::string& id : c.superseded)
        superseded += (superseded.empty() ? "" : ", ") + id;
      s << "<tr><td>" << Escape(c.task) << "</td><td>" << Escape(c.event) << "</td><td>"
        << Escape(c.actor) << "</td><td>" << Time(r, c.at) << "</td><td>" << Escape(c.what)
        << "</td><td>" << Escape(superseded) << "</td></tr>\n";
    }
    s << "</tbody></table>\n";
  }
  s << "</section>\n";

  s << "<section id=\"rejected\"><h2>Events kept but not counted</h2>\n";
  if (v.flagged.empty() && v.forks == 0) s << "<p>None.</p>\n";
  if (v.forks > 0) s << "<p class=\"problems\">" << v.forks << " forks kept as evidence.</p>\n";
  if (!v.flagged.empty()) {
    s << "<table id=\"flagged\"><thead><tr><th>Event</th><th>Why it did not count</th></tr>"
         "</thead><tbody>\n";
    for (const crdt::Flag& f : v.flagged) {
      s << "<tr><td>" << Escape(f.id.ToString()) << "</td><td>" << Escape(f.reason)
        << "</td></tr>\n";
    }
    s << "</tbody></table>\n";
  }
  s << "</section>\n";

  s << "<section id=\"actors\"><h2>Who did what</h2>\n<table id=\"actor-table\"><thead><tr>"
       "<th>Who</th><th>Reports</th><th>Gate decisions</th><th>Notes</th><th>Plan changes</th>"
       "<th>First</th><th>Last</th></tr></thead><tbody>\n";
  for (const ActorFigures& a : r.actors) {
    s << "<tr><td>" << Escape(a.actor) << "</td><td>" << a.reports << "</td><td>" << a.gates
      << "</td><td>" << a.notes << "</td><td>" << a.plan_changes << "</td><td>" << Time(r, a.first)
      << "</td><td>" << Time(r, a.last) << "</td></tr>\n";
  }
  s << "</tbody></table>\n</section>\n</body>\n</html>\n";
  return s.str();
}

std::string ReportCsv(const Report& r) {
  const auto iso = [](int64_t t) { return t == kNone ? std::string() : client::FormatIsoTime(t); };
  const auto cell = [](const std::string& text) { return CsvCell(text, true); };
  std::ostringstream s;
  s << "task,title,phase,team,site,kind,backout,critical,status,planned_start_utc,"
       "planned_finish_utc,actual_start_utc,actual_finish_utc,planned_duration_min,"
       "actual_duration_min,start_slip_min,overrun_min,finish_slip_min\r\n";
  for (const TaskFigures& t : r.tasks) {
    const bool started = t.actual_start != kNone;
    const bool finished = started && t.actual_finish != kNone;
    s << cell(t.id) << "," << cell(t.title) << "," << cell(t.phase) << "," << cell(t.team) << ","
      << cell(t.site) << "," << t.kind << "," << (t.backout ? "yes" : "no") << ","
      << (t.critical ? "yes" : "no") << "," << t.status << "," << iso(t.planned_start) << ","
      << iso(t.planned_finish) << "," << iso(t.actual_start) << "," << iso(t.actual_finish) << ","
      << Minutes(t.duration_ms) << ","
      << (finished ? Minutes(t.actual_finish - t.actual_start) : "") << ","
      << (started && t.planned_start != kNone ? Minutes(t.start_slip_ms) : "") << ","
      << (finished ? Minutes(t.overrun_ms) : "") << ","
      << (finished && t.planned_finish != kNone ? Minutes(t.finish_slip_ms) : "") << "\r\n";
  }
  return s.str();
}

Status WriteReportXlsx(const Report& r, const std::filesystem::path& path) {
  const std::string partial = path.string() + ".partial";
  lxw_workbook* book = workbook_new(partial.c_str());
  if (book == nullptr) return Status::IOError("cannot create " + partial);
  lxw_format* bold = workbook_add_format(book);
  format_set_bold(bold);
  lxw_format* when = workbook_add_format(book);
  format_set_num_format(when, "yyyy-mm-dd hh:mm");
  lxw_format* minutes = workbook_add_format(book);
  format_set_num_format(minutes, "0.0");
  const auto header = [&](lxw_worksheet* sheet, const std::vector<const char*>& names) {
    for (size_t c = 0; c < names.size(); ++c) {
      worksheet_write_string(sheet, 0, static_cast<lxw_col_t>(c), names[c], bold);
    }
    worksheet_freeze_panes(sheet, 1, 0);
  };
  const auto time = [&](lxw_worksheet* sheet, lxw_row_t row, lxw_col_t col, int64_t t) {
    // A spreadsheet date-time: days since 1899-12-30; 1970-01-01 is day 25569.
    if (t != kNone) {
      worksheet_write_number(sheet, row, col, static_cast<double>(t) / 86400000.0 + 25569.0, when);
    }
  };
  const auto number = [&](lxw_worksheet* sheet, lxw_row_t row, lxw_col_t col, bool present,
                          int64_t ms) {
    if (present) {
      worksheet_write_number(sheet, row, col, static_cast<double>(ms) / 60000.0, minutes);
    }
  };
  lxw_worksheet* tasks = workbook_add_worksheet(book, "Tasks");
  header(tasks, {"Task", "Title", "Phase", "Team", "Site", "Kind", "Back-out", "Critical", "Status",
                 "Planned start (UTC)", "Planned finish (UTC)", "Actual start (UTC)",
                 "Actual finish (UTC)", "Planned duration (min)", "Actual duration (min)",
                 "Start slip (min)", "Overrun (min)", "Finish slip (min)"});
  worksheet_set_column(tasks, 0, 0, 12, nullptr);
  worksheet_set_column(tasks, 1, 1, 36, nullptr);
  worksheet_set_column(tasks, 9, 12, 17, nullptr);
  lxw_row_t row = 1;
  for (const TaskFigures& t : r.tasks) {
    const bool started = t.actual_start != kNone;
    const bool finished = started && t.actual_finish != kNone;
    lxw_col_t col = 0;
    for (const std::string* text : {&t.id, &t.title, &t.phase, &t.team, &t.site, &t.kind}) {
      worksheet_write_string(tasks, row, col++, text->c_str(), nullptr);
    }
    worksheet_write_string(tasks, row, col++, t.backout ? "yes" : "no", nullptr);
    worksheet_write_string(tasks, row, col++, t.critical ? "yes" : "no", nullptr);
    worksheet_write_string(tasks, row, col++, t.status.c_str(), nullptr);
    for (int64_t v : {t.planned_start, t.planned_finish, t.actual_start, t.actual_finish}) {
      time(tasks, row, col++, v);
    }
    number(tasks, row, col++, true, t.duration_ms);
    number(tasks, row, col++, finished, t.actual_finish - t.actual_start);
    number(tasks, row, col++, started && t.planned_start != kNone, t.start_slip_ms);
    number(tasks, row, col++, finished, t.overrun_ms);
    number(tasks, row, col++, finished && t.planned_finish != kNone, t.finish_slip_ms);
    ++row;
  }
  for (const auto& [name, groups] :
       {std::pair<const char*, const std::vector<GroupFigures>*>{"Teams", &r.teams},
        std::pair<const char*, const std::vector<GroupFigures>*>{"Sites", &r.sites}}) {
    lxw_worksheet* sheet = workbook_add_worksheet(book, name);
    header(sheet, {name == std::string("Teams") ? "Team" : "Site", "Tasks", "Finished",
                   "Late starts", "Overruns", "Total slip (min)"});
    lxw_row_t at = 1;
    for (const GroupFigures& g : *groups) {
      worksheet_write_string(sheet, at, 0, g.name.c_str(), nullptr);
      worksheet_write_number(sheet, at, 1, g.tasks, nullptr);
      worksheet_write_number(sheet, at, 2, g.finished, nullptr);
      worksheet_write_number(sheet, at, 3, g.late_starts, nullptr);
      worksheet_write_number(sheet, at, 4, g.overruns, nullptr);
      number(sheet, at, 5, true, g.total_slip_ms);
      ++at;
    }
  }
  const lxw_error closed = workbook_close(book);
  if (closed != LXW_NO_ERROR) {
    std::error_code ec;
    std::filesystem::remove(partial, ec);
    return Status::IOError("writing " + partial + ": " + lxw_strerror(closed));
  }
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec) return Status::IOError("cannot rename " + partial + " to " + path.string());
  return Status::Ok();
}

}  // namespace baton::audit
