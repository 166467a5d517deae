// baton-audit: checks a site's event log after the weekend, offline, with no daemon and no secret
// key. `verify` proves the log complete and unaltered or names what is wrong; `timeline` lists
// every event in causal order (CSV, JSON); `replay` shows the board as it stood at a moment;
// `bundle` writes a data directory as one evidence file, which the other commands read as they
// read the directory.
// Exit status: 0 intact, 1 problems found, 2 the log could not be read (or bad usage).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/audit/make_bundle.h"
#include "tools/audit/replay.h"
#include "tools/audit/report.h"
#include "tools/audit/timeline.h"
#include "tools/audit/verify.h"

namespace baton::audit {
namespace {

constexpr int kIntact = 0;
constexpr int kProblems = 1;
constexpr int kUnreadable = 2;

// A one-line progress report on stderr, redrawn at most ten times a second, only when stderr is
// a terminal (scripts and logs get none).
class Progress {
 public:
  Progress() : enabled_(::isatty(STDERR_FILENO) == 1) {}
  ~Progress() { Clear(); }
  void Clear() {
    if (drawn_) std::fputs("\r\033[K", stderr);
    drawn_ = false;
  }
  void operator()(const char* step, uint64_t done) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    drawn_ = true;
    std::fprintf(stderr, "\r\033[Kbaton-audit: %s: %llu events", step,
                 static_cast<unsigned long long>(done));
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_;
};

int RunVerify(VerifyOptions options, bool json) {
  Progress progress;
  options.progress = [&](const char* step, uint64_t done) { progress(step, done); };
  auto report = Verify(options);
  progress.Clear();
  if (!report.ok()) {
    std::cerr << "baton-audit verify: " << report.status().message() << "\n";
    return kUnreadable;
  }
  std::cout << (json ? ReportJson(*report) : FormatReport(*report));
  return report->intact() ? kIntact : kProblems;
}

// Writes `text` to `path` through `path`.partial and a rename: a reader never sees half a file.
bool WriteWhole(const std::string& path, const std::string& text, const char* who) {
  const std::string partial = path + ".partial";
  {
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    file << text;
    file.flush();
    if (!file) {
      std::cerr << who << ": cannot write " << partial << "\n";
      std::remove(partial.c_str());
      return false;
    }
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    std::cerr << who << ": cannot rename " << partial << " to " << path << "\n";
    std::remove(partial.c_str());
    return false;
  }
  return true;
}

int RunTimeline(const VerifyOptions& options, const std::string& format, const std::string& out) {
  auto timeline = BuildTimeline(options.data_dir, options.trust);
  if (!timeline.ok()) {
    std::cerr << "baton-audit timeline: " << timeline.status().message() << "\n";
    return kUnreadable;
  }
  if (timeline->undecodable > 0) {
    std::cerr << "baton-audit timeline: " << timeline->undecodable
              << " stored entries do not decode and are left out; `baton-audit verify` names "
                 "them\n";
  }
  const std::string text = format == "json" ? TimelineJson(*timeline) : TimelineCsv(*timeline);
  if (out.empty() || out == "-") {
    std::cout << text;
    return kIntact;
  }
  if (!WriteWhole(out, text, "baton-audit timeline")) return kUnreadable;
  std::cerr << out << ": " << timeline->rows.size() << " events\n";
  return kIntact;
}

int RunBundle(const std::string& data, const std::string& trust, const std::string& out) {
  Progress progress;
  auto summary = MakeBundle(data, trust, out, [&](uint64_t done) { progress("bundling", done); });
  progress.Clear();
  if (!summary.ok()) {
    std::cerr << "baton-audit bundle: " << summary.status().message() << "\n";
    return kUnreadable;
  }
  std::cerr << out << ": " << summary->events << " events, " << summary->forks
            << " forks kept as evidence\n";
  if (summary->skipped > 0 || summary->unlisted > 0) {
    std::cerr << "baton-audit bundle: the log is not whole (" << summary->skipped
              << " arrival entries name no readable event, " << summary->unlisted
              << " events are not in the arrival index); the bundle holds it as found: run "
                 "`baton-audit verify` on it\n";
  }
  return kIntact;
}

int RunReport(const ReportOptions& options, const std::string& out, const std::string& csv,
              const std::string& xlsx) {
  auto report = BuildReport(options);
  if (!report.ok()) {
    std::cerr << "baton-audit report: " << report.status().message() << "\n";
    return kUnreadable;
  }
  if (!WriteWhole(out, ReportHtml(*report), "baton-audit report")) return kUnreadable;
  std::cerr << out << ": " << report->tasks.size() << " tasks, verification "
            << (report->verification.intact()
                    ? std::string("INTACT")
                    : std::to_string(report->verification.problems.size()) + " problems")
            << "\n";
  if (!csv.empty()) {
    if (!WriteWhole(csv, ReportCsv(*report), "baton-audit report")) return kUnreadable;
    std::cerr << csv << ": planned and actual figures of " << report->tasks.size() << " tasks\n";
  }
  if (!xlsx.empty()) {
    if (Status written = WriteReportXlsx(*report, xlsx); !written.ok()) {
      std::cerr << "baton-audit report: " << written.message() << "\n";
      return kUnreadable;
    }
    std::cerr << xlsx << ": the same figures as a workbook (Tasks, Teams, Sites)\n";
  }
  return report->verification.intact() ? kIntact : kProblems;
}

int RunReplay(const ReplayOptions& options, bool json) {
  auto replayed = Replay(options);
  if (!replayed.ok()) {
    std::cerr << "baton-audit replay: " << replayed.status().message() << "\n";
    return kUnreadable;
  }
  if (json) {
    std::cout << replayed->result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    std::cout << FormatReplay(options, *replayed);
  }
  return kIntact;
}

int Main(int argc, char** argv) {
  CLI::App app(
      "baton-audit: the weekend's evidence, after the weekend, offline.\n"
      "  verify    prove a log complete and unaltered, or name what is wrong\n"
      "  replay    the board as it stood at a moment (status, ls, show, critical, forecast)\n"
      "  report    planned versus actual: HTML with a Gantt chart, CSV, .xlsx\n"
      "  timeline  every event in causal order (CSV, JSON)\n"
      "  bundle    a site's data directory as one evidence file\n"
      "Reads a data directory strictly read-only (also while batond runs on it) or a bundle\n"
      "(`baton export --bundle`), and needs no secret key. Exit status: 0 intact (or done),\n"
      "1 problems found, 2 unreadable or bad usage. Rules and formats: docs/audit.md",
      "baton-audit");
  app.require_subcommand(1);
  VerifyOptions options;
  bool json = false;
  auto* verify = app.add_subcommand(
      "verify",
      "Check every origin's chain: complete from seq 1, linked, each signature valid and\n"
      "every event covered by one, the clock rising along it, the arrival index whole.\n"
      "Names each problem (origin, seq, what is wrong); lists forks and events kept but\n"
      "not counted.\n"
      "  baton-audit verify --data /var/lib/baton/hq\n"
      "  baton-audit verify --data hq.bundle --trust hq:3f2a...\n"
      "  baton-audit verify --data copy-of-v1 --trust hq:3f2a...  (the manager's key)");
  verify
      ->add_option("--data", options.data_dir,
                   "A site's data directory (or a copy of it), or a bundle file")
      ->required();
  verify->add_option("--trust", options.trust,
                     "The trust anchor, SITE:KEY (the manager site's id and public key, as\n"
                     "`batond init` printed it); default: the trust line of DATA/batond.conf");
  verify->add_flag("--json", json, "The report as JSON");
  std::string format = "csv";
  std::string out;
  VerifyOptions timeline_options;
  auto* timeline = app.add_subcommand(
      "timeline",
      "Every event in causal order (hybrid logical clock): recording time, effective time,\n"
      "site, event, actor, kind, task, change, and whether it counted (events kept but not\n"
      "counted say why). Does not verify: run `verify` for that.\n"
      "  baton-audit timeline --data /var/lib/baton/hq --out weekend.csv\n"
      "  baton-audit timeline --data copy-of-v1 --format json");
  timeline
      ->add_option("--data", timeline_options.data_dir, "A site's data directory, or a bundle file")
      ->required();
  timeline->add_option("--trust", timeline_options.trust,
                       "The trust anchor, SITE:KEY; default: DATA/batond.conf's");
  timeline->add_option("--format", format, "csv (default) or json")
      ->check(CLI::IsMember({"csv", "json"}));
  timeline->add_option("--out", out, "Write to this file (default: standard output)");
  std::string bundle_data, bundle_trust, bundle_out;
  auto* bundle = app.add_subcommand(
      "bundle",
      "Write a site's whole log as one bundle file for the auditor: the roster with public\n"
      "keys, every event in its stored bytes with its arrival time here, fork evidence, and a\n"
      "manifest with counts, chain heads and a checksum (format: docs/audit.md). Offline and\n"
      "read-only (batond may run on the directory); `baton export --bundle` makes the same\n"
      "file through the daemon. verify, timeline and replay read it as they read DATA.\n"
      "  baton-audit bundle --data /var/lib/baton/hq hq-weekend.bundle");
  bundle->add_option("--data", bundle_data, "A site's data directory")->required();
  bundle->add_option("--trust", bundle_trust,
                     "The trust anchor, SITE:KEY; default: DATA/batond.conf's");
  bundle->add_option("FILE", bundle_out, "The bundle to write")->required();
  ReplayOptions replay_options;
  bool replay_json = false;
  auto* replay = app.add_subcommand(
      "replay",
      "The board as it stood at a moment, with the live CLI's queries and result shapes:\n"
      "  status, ls, ready, late, blocked, show TASK, critical, forecast.\n"
      "By default by the events' clocks: every event recorded by then, wherever. With\n"
      "--site S (S's own log or bundle): what had arrived at S by then, the board S showed.\n"
      "Does not verify: run `verify` for that.\n"
      "  baton-audit replay --data hq.bundle --as-of '2026-03-28 02:10' status\n"
      "  baton-audit replay --data v1.bundle --as-of 2026-03-28T01:10:00Z --site v1 ls --json\n"
      "  baton-audit replay --data ./data/hq --as-of 02:10 show T-042");
  replay->add_option("--data", replay_options.data, "A site's data directory, or a bundle file")
      ->required();
  replay
      ->add_option("--as-of", replay_options.as_of,
                   "The moment: a local time in the runbook's zone ('2026-03-28 02:10', or\n"
                   "'02:10': the latest such time in the log), ISO 8601 with an offset, or\n"
                   "epoch milliseconds")
      ->required();
  replay->add_option("--site", replay_options.site,
                     "As this site saw it: what had arrived there (its own log or bundle)");
  replay->add_option("--trust", replay_options.trust,
                     "The trust anchor, SITE:KEY; default: the config's or the bundle's");
  replay->add_flag("--json", replay_json, "The result as JSON (the live `--json` shape)");
  replay
      ->add_option("QUERY", replay_options.query,
                   "status, ls, ready, late, blocked, show, critical or forecast")
      ->required()
      ->check(CLI::IsMember(
          {"status", "ls", "ready", "late", "blocked", "show", "critical", "forecast"}));
  replay->add_option("TASK", replay_options.task, "The task, for show");
  ReportOptions report_options;
  std::string report_out, report_csv, report_xlsx;
  auto* report = app.add_subcommand(
      "report",
      "The planned-versus-actual report: one self-contained HTML file (no script, no external\n"
      "asset) with the verification result, a Gantt chart (planned and actual bar per task,\n"
      "by phase; critical path, outage window, gates and back-outs marked), per-team and\n"
      "per-site tables (late starts, overruns, slip), conflicts, events not counted and who\n"
      "did what. --csv and --xlsx write the per-task figures for a spreadsheet. Exit 1 when the "
      "log\n"
      "does not verify (the report says so too).\n"
      "  baton-audit report --data hq.bundle --out weekend.html --xlsx weekend.xlsx");
  report->add_option("--data", report_options.data, "A site's data directory, or a bundle file")
      ->required();
  report->add_option("--out", report_out, "The HTML file to write")->required();
  report->add_option("--csv", report_csv, "Also write the per-task figures as CSV here");
  report->add_option("--xlsx", report_xlsx,
                     "Also write them as an .xlsx workbook here (sheets Tasks, Teams, Sites)");
  report->add_option("--as-of", report_options.as_of,
                     "Report as of this moment (as for replay); default: the end of the log");
  report->add_option("--trust", report_options.trust,
                     "The trust anchor, SITE:KEY; default: the config's or the bundle's");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kUnreadable;
  }
  if (verify->parsed()) return RunVerify(options, json);
  if (timeline->parsed()) return RunTimeline(timeline_options, format, out);
  if (bundle->parsed()) return RunBundle(bundle_data, bundle_trust, bundle_out);
  if (replay->parsed()) return RunReplay(replay_options, replay_json);
  if (report->parsed()) return RunReport(report_options, report_out, report_csv, report_xlsx);
  return kUnreadable;
}

}  // namespace
}  // namespace baton::audit

int main(int argc, char** argv) {
  try {
    return baton::audit::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "baton-audit: internal error: %s\n", e.what());
    return 4;
  }
}
