// baton: the command-line front-end of a site's batond. Declares the command line (CLI11) and
// hands parsed values to client/cli/commands.h; exit codes are listed in `baton --help`.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "client/cli/commands.h"
#include "client/protocol.h"

namespace baton::client::cli {
namespace {

constexpr const char* kExitCodes =
    "Exit codes:\n"
    "  0  ok\n"
    "  1  bad usage or input (command line, plan file, time, argument)\n"
    "  2  batond unreachable (not running, wrong --data/--endpoint, or none given)\n"
    "  3  rejected or not found by batond (unknown task, not authorised, no plan yet, a report\n"
    "     against the plan without --force)\n"
    "  4  internal error (a bug or a malformed reply)\n";

// Every command's help ends with its example and the options every command takes.
std::string Footer(const std::string& example) {
  return "\nExample:\n  " + example +
         "\n\nEvery command also takes: --data DIR | --endpoint URL (the daemon), --as NAME,\n"
         "--json, --no-color, --timeout MS, --curve-file FILE (see `baton --help`).\n";
}

// After a parse error: the first word that is neither an option, an option's value nor a
// command, answered with the nearest commands ("did you mean status?"); "" if there is none.
std::string UnknownCommand(const CLI::App& app, int argc, char** argv) {
  std::set<std::string> with_value;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_items_expected_min() > 0) {
      for (const std::string& n : o->get_lnames()) with_value.insert("--" + n);
    }
  }
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    commands.push_back(sub->get_name());
  }
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.rfind("-", 0) == 0) {
      if (with_value.count(word) != 0) ++i;  // Its value follows.
      continue;
    }
    if (std::find(commands.begin(), commands.end(), word) != commands.end()) return "";
    return "unknown command \"" + word + "\"" + DidYouMean(Suggestions(word, commands)) +
           "; `baton --help` lists the commands";
  }
  return "";
}

// --force and --reason of a report or gate decision: the daemon refuses what contradicts the plan
// as its site knows it (predecessors not done, a time lock, a task already done) unless forced.
void AddForce(CLI::App* sub, bool& force, std::string& reason) {
  auto* reason_opt = sub->add_option(
      "--reason", reason, "Why it goes against the plan (with --force; recorded in the event)");
  sub->add_flag("--force", force,
                "Record it although it contradicts the plan as this site knows it (predecessors "
                "not done, a time lock, a task already done); the board flags it")
      ->needs(reason_opt);
  reason_opt->needs("--force");
}

int Run(int argc, char** argv) {
  CLI::App app{
      "baton: report progress on a cut-over run book and watch it live, through this site's "
      "batond."};
  app.fallthrough();  // Global options are accepted after the subcommand too.
  app.require_subcommand(1);
  app.footer(std::string("\nThe daemon: --data DIR (its data directory; ipc://DIR/batond.sock) or "
                         "--endpoint URL, else $BATON_DATA or $BATON_ENDPOINT.\nTimes (--at) are "
                         "read in the runbook's time zone: 02:10, \"2026-03-28 02:10\", ISO "
                         "8601 with an offset, or before now: -10m, \"1h 30m ago\".\n\nExample:\n"
                         "  export BATON_DATA=/var/lib/baton/hq\n"
                         "  baton plan import plan.csv --tz Europe/Berlin --window-start "
                         "\"2026-03-27 20:00\" --window-end \"2026-03-30 06:00\"\n"
                         "  baton start T-042 && baton done T-042 --at 02:10\n"
                         "  baton status\n\n") +
             kExitCodes);

  GlobalOptions g;
  app.add_option("--data", g.data, "batond's data directory (or $BATON_DATA)");
  app.add_option("--endpoint", g.endpoint, "batond's client endpoint (or $BATON_ENDPOINT)");
  app.add_option(
      "--curve-file", g.curve_file,
      "Credentials for a tcp endpoint, from `batond allow-client` (or $BATON_CURVE_FILE)");
  app.add_flag("--json", g.json, "Print the daemon's result as JSON");
  app.add_flag("--no-color", g.no_color, "No colour (also when NO_COLOR is set or not a terminal)");
  app.add_option("--timeout", g.timeout_ms, "Milliseconds to wait for batond per call")
      ->check(CLI::PositiveNumber)
      ->default_val(5000);
  app.add_option("--as", g.actor, "Who is reporting (recorded with your OS user)");

  // ---- plan ----
  CLI::App* plan = app.add_subcommand("plan", "Import, show or amend the run book");
  plan->require_subcommand(1);
  PlanImportOptions import;
  CLI::App* plan_import = plan->add_subcommand(
      "import", "Check a CSV run book locally (every error as file:line:column), then import it");
  plan_import->add_option("FILE", import.file, "CSV file (columns: examples/README.md)")
      ->required();
  plan_import->add_option("--runbook", import.runbook_id, "Runbook id (default: the file stem)");
  plan_import->add_option("--name", import.name, "Runbook name (default: the id)");
  plan_import->add_option("--tz", import.timezone, "IANA time zone of local times")
      ->default_val("UTC");
  plan_import->add_option("--window-start", import.window_start,
                          "Outage window start, local time (\"2026-03-27 20:00\")");
  plan_import->add_option("--window-end", import.window_end,
                          "Outage window end, local time or offset from the start (+58h)");
  bool day_first = false;
  CLI::Option* day_first_flag =
      plan_import->add_flag("--day-first", day_first, "Read 03/04/2026 as 3 April (default)");
  plan_import->add_flag("--month-first", import.month_first, "Read 03/04/2026 as March 4")
      ->excludes(day_first_flag);
  plan_import->add_option("--column", import.columns,
                          "Column of a field by header, letter or position, e.g. --column "
                          "\"duration=Est. time\", --column start=K, --column team=#4 "
                          "(repeatable)");
  plan_import
      ->add_option("--encoding", import.encoding,
                   "utf-8 (default; invalid bytes are refused at line:column) or windows-1252 "
                   "(Excel's plain CSV on Windows, also latin-1)")
      ->default_val("utf-8");
  plan_import->add_option("--rebase", import.rebase,
                          "Move the plan so its window starts at this time (\"now\", \"20:00\", "
                          "\"2026-12-04 20:00\"): rehearse a run book before its weekend");
  plan_import->footer(
      Footer("baton plan import examples/cutover-plan.csv --tz Europe/Berlin \\\n"
             "      --window-start \"2026-03-27 20:00\" --window-end \"2026-03-30 06:00\""));
  CLI::App* plan_show = plan->add_subcommand("show", "The runbook header and every task");
  plan_show->footer(Footer("baton plan show --data ./data/hq"));
  PlanAmendOptions amend;
  CLI::App* plan_amend = plan->add_subcommand("amend",
                                              "Add tasks, change durations or a gate's "
                                              "deciders, remove tasks, move the window end");
  plan_amend->add_option("--add-csv", amend.add_csv,
                         "CSV of new tasks (import format; may depend on existing tasks)");
  plan_amend->add_option("--duration", amend.durations, "TASK=DURATION, e.g. T-042=45m")
      ->type_name("TASK=DUR");
  plan_amend->add_option("--remove", amend.removes, "Remove a task from the plan")
      ->type_name("TASK");
  plan_amend->add_option("--window-end", amend.window_end,
                         "New window end (\"2026-03-30 08:00\", runbook time zone)");
  plan_amend->add_option("--name", amend.name, "New runbook name");
  plan_amend
      ->add_option("--deciders", amend.deciders,
                   "GATE=WHO,WHO: who decides the gate besides the managers (site ids or "
                   "teams); GATE= leaves it to the gate's site and team again")
      ->type_name("GATE=LIST");
  plan_amend->footer(
      Footer("baton plan amend --duration T-042=45m --remove T-050 "
             "--window-end \"2026-03-30 08:00\"\n  baton plan amend --add-csv extra-tasks.csv\n"
             "  baton plan amend --deciders G-1=vendor-de,dba"));

  // ---- links ----
  CLI::App* sites = app.add_subcommand(
      "sites", "The peer links: reachable or not, last heard, events each side lacks, skew");
  sites->footer(Footer("baton sites   (--json for scripts)") +
                "\nLINK is live (in step), syncing (catching up) or connecting (not reachable).\n"
                "THEY LACK counts our events the peer has not confirmed; WE LACK the reverse.\n");

  // ---- roster ----
  CLI::App* site = app.add_subcommand(
      "site", "The roster: which sites take part, their keys and roles (add/remove: managers)");
  site->require_subcommand(1);
  site->footer(Footer("baton site ls"));
  SiteAddOptions site_add;
  CLI::App* site_add_cmd = site->add_subcommand(
      "add", "Enrol a site: its id, its public key from `batond init`, its role and endpoint");
  site_add_cmd->add_option("ID", site_add.site, "The site's id, as in its `batond init --site`")
      ->required();
  site_add_cmd
      ->add_option("--key", site_add.key,
                   "The site's Ed25519 public key, 64 hex digits (`batond init` prints it)")
      ->required()
      ->type_name("HEX");
  site_add_cmd->add_option("--name", site_add.name, "Human name (default: the id)");
  site_add_cmd
      ->add_option("--role", site_add.role,
                   "manager (amends plan and roster, reports on any task), site (reports on its "
                   "own tasks and its teams') or observer (read-only)")
      ->check(CLI::IsMember({"manager", "site", "observer"}))
      ->default_val("site");
  site_add_cmd
      ->add_option("--team", site_add.teams,
                   "A team whose tasks the site may report on wherever they run, and whose "
                   "gates it decides where a gate names the team (repeat for several)")
      ->type_name("TEAM");
  site_add_cmd
      ->add_option("--endpoint", site_add.endpoint,
                   "Where the site accepts peers (its peer_listen), tcp://HOST:PORT")
      ->type_name("URL");
  site_add_cmd->footer(
      Footer("baton site add vendor-de --key 3b6a27bc...(64 hex digits) --name \"Vendor DE\" \\\n"
             "      --endpoint tcp://vendor-de.example:7101 --team dba") +
      "\nThe key and the whole command are printed by `batond init` at the new site. A site "
      "the plan\nlists (a task's site) without a key is enrolled in place; one already enrolled "
      "is refused:\n`baton site edit` changes its role, teams, name or endpoint; to change its "
      "key, remove\nit and add it again. With --team dba the site reports on every task of team "
      "dba,\nwherever it runs.\n");
  SiteEditOptions site_edit;
  CLI::App* site_edit_cmd = site->add_subcommand(
      "edit", "Change an enrolled site's role, teams, name or endpoint in place (not its key)");
  site_edit_cmd->add_option("ID", site_edit.site, "The site's id")->required();
  site_edit_cmd->add_option("--name", site_edit.name, "New human name");
  site_edit_cmd->add_option("--role", site_edit.role, "manager, site or observer")
      ->check(CLI::IsMember({"manager", "site", "observer"}));
  site_edit_cmd
      ->add_option("--team", site_edit.teams,
                   "The site's teams from now on (repeat for several; replaces the list)")
      ->type_name("TEAM");
  site_edit_cmd->add_flag("--no-teams", site_edit.no_teams, "The site is in no team any more");
  site_edit_cmd->add_option("--endpoint", site_edit.endpoint, "tcp://HOST:PORT")->type_name("URL");
  site_edit_cmd->footer(
      Footer("baton site edit dc-east --team dba --team storage\n  baton site edit v2 --role "
             "observer") +
      "\nWhat the site reported before the edit keeps counting as it did: each report is "
      "judged by\nthe roster as it stood when it was made. The trust anchor stays a manager.\n");
  std::string site_remove;
  CLI::App* site_remove_cmd =
      site->add_subcommand("remove", "Take a site off the roster (not the trust anchor)");
  site_remove_cmd->alias("rm");
  site_remove_cmd->add_option("ID", site_remove, "The site's id")->required();
  site_remove_cmd->footer(Footer("baton site remove vendor-de") +
                          "\nIts tasks stay in the plan; reports it makes afterwards are kept "
                          "but flagged\n(whatever clock they carry: the removal fences its "
                          "chain at what this site holds).\nThe trust anchor and the last "
                          "manager cannot be removed.\n");
  CLI::App* site_ls = site->add_subcommand("ls", "The roster: id, name, role, key, endpoint");
  site_ls->alias("list");
  site_ls->footer(Footer("baton site ls        (--json for the whole keys)"));

  // ---- reports ----
  struct ReportCommand {
    const char* name;
    const char* kind;
    const char* help;
    const char* example;
  };
  const ReportCommand report_commands[] = {
      {"start", "start", "Report that a task has started", "baton start T-042 --at 01:55"},
      {"done", "done", "Report that a task is done", "baton done T-042 --note \"all green\""},
      {"fail", "fail", "Report that a task failed (reason after the id or --note)",
       "baton fail T-042 \"ORA-01555 during migration\""},
      {"skip", "skip", "Report that a task is skipped", "baton skip T-042 --note \"not needed\""},
      {"reset", "reset", "Put a task back to pending (a retry or a back-out)",
       "baton reset T-042 --note retry"},
  };
  std::vector<std::pair<CLI::App*, ReportOptions>> reports;
  reports.reserve(std::size(report_commands));
  for (const auto& rc : report_commands) {
    reports.emplace_back(app.add_subcommand(rc.name, rc.help), ReportOptions{});
    auto& [sub, opts] = reports.back();
    opts.kind = rc.kind;
    sub->add_option("TASK", opts.task, "Task id, e.g. T-042")->required();
    sub->add_option("NOTE", opts.words, "Note (for fail: the reason), instead of --note");
    sub->add_option("--note", opts.note, "A remark, or the reason for a failure");
    sub->add_option("--at", opts.at,
                    "When it really happened: 02:10, \"2026-03-28 02:10\", ISO 8601, or -10m");
    AddForce(sub, opts.force, opts.reason);
    sub->footer(Footer(rc.example));
  }

  std::vector<std::string> note_words;
  CLI::App* note = app.add_subcommand("note", "Add a note to a task or to the runbook");
  note->add_option("WORDS", note_words, "[TASK] TEXT: one argument notes the runbook")->required();
  note->footer(
      Footer("baton note T-042 \"DBA on call is now Priya\"\n  baton note \"bridge "
             "moved to room 4\""));

  GateOptions gate;
  CLI::App* gate_cmd = app.add_subcommand("gate", "Record the decision at a go/no-go gate");
  gate_cmd->add_option("GATE", gate.task, "Gate task id")->required();
  gate_cmd->add_option("DECISION", gate.decision, "go or no-go")
      ->required()
      ->check(CLI::IsMember({"go", "no-go"}));
  gate_cmd->add_option("--note", gate.note, "Why");
  gate_cmd->add_option("--at", gate.at, "When it was decided (as for start/done)");
  AddForce(gate_cmd, gate.force, gate.reason);
  gate_cmd->footer(
      Footer("baton gate G-1 go --note \"smoke tests green\"") +
      "\nA no-go switches the runbook to backing out at every site: the back-out\n"
      "tasks of what was done become ready in their order, forward tasks stop, and\n"
      "the forecast is the back-out's finish (docs/client-protocol.md#backing-out).\n");

  std::string undo_event, undo_reason;
  CLI::App* undo = app.add_subcommand(
      "undo", "Correct a report or gate decision: back to what it replaced, as a new event");
  undo->add_option("EVENT", undo_event, "The event, as `baton show TASK` lists it (hq/57)")
      ->required();
  undo->add_option("--reason", undo_reason, "Why it is undone (recorded in the event)")->required();
  undo->footer(Footer("baton undo hq/57 --reason \"done was reported on the wrong task\"") +
               "\nA done undone makes the task running again since its start; a start undone, "
               "pending;\na gate decision undone restores the one before it, or leaves the gate "
               "undecided.\nOnly an event still in force is undone; nothing is deleted: the log "
               "keeps both.\n");

  // ---- queries ----
  struct QueryCommand {
    const char* name;
    const char* help;
  };
  const QueryCommand query_commands[] = {
      {"status", "Progress, forecast finish against the window, running and late tasks"},
      {"ready", "Tasks that may start now (while backing out: the back-out tasks)"},
      {"late", "Tasks past their planned start, or running over their planned duration"},
      {"blocked", "Tasks blocked by a failed task"},
      {"critical", "The critical path of the remaining work"},
      {"forecast", "Forecast finish, its causes, and the back-out forecast now and at each gate"},
  };
  std::vector<std::pair<CLI::App*, std::string>> queries;
  for (const auto& qc : query_commands) {
    CLI::App* sub = app.add_subcommand(qc.name, qc.help);
    if (std::string(qc.name) == "status") {
      sub->add_flag("--digest", g.digest,
                    "Also print the state digest: equal digests at two sites, equal state");
    }
    sub->footer(Footer(std::string("baton ") + qc.name + "   (add --json for the raw result)"));
    queries.emplace_back(sub, qc.name);
  }
  ListOptions list;
  CLI::App* ls = app.add_subcommand("ls", "List tasks, optionally filtered");
  ls->add_option("--team", list.team, "Only this owner team");
  ls->add_option("--site", list.site, "Only tasks executed at this site");
  ls->add_option("--phase", list.phase, "Only tasks of this phase");
  ls->add_option("--status", list.status, "Only this status")
      ->check(
          CLI::IsMember({"pending", "ready", "running", "done", "failed", "skipped", "blocked"}));
  ls->add_flag("--late", list.late, "Only late or running-over tasks");
  ls->footer(Footer("baton ls --team dba --status running"));
  std::string mine_team, mine_site;
  CLI::App* mine = app.add_subcommand("mine", "Open tasks of a team, or of this site");
  mine->add_option("--team", mine_team, "Owner team (default: tasks of this site)");
  mine->add_option("--site", mine_site, "Site (default: this site)");
  mine->footer(Footer("baton mine --team dba"));
  std::string show_task;
  CLI::App* show = app.add_subcommand(
      "show", "One task: spec, status, planned/forecast/actual times, reports, notes, history");
  show->add_option("TASK", show_task, "Task id")->required();
  show->footer(Footer("baton show T-042"));
  std::string export_out, export_bundle;
  CLI::App* export_cmd = app.add_subcommand(
      "export", "Every event of this site's log as JSON, or as an evidence bundle for the auditor");
  CLI::Option* export_out_opt =
      export_cmd->add_option("--out", export_out, "Write to FILE instead of stdout");
  export_cmd
      ->add_option("--bundle", export_bundle,
                   "Write an evidence bundle to FILE instead: every event in its stored\n"
                   "bytes with its arrival time here, the roster and keys, fork evidence\n"
                   "and a manifest; `baton-audit verify --data FILE` checks it offline\n"
                   "(format: docs/audit.md#bundles)")
      ->excludes(export_out_opt);
  export_cmd->footer(
      Footer("baton export --out hq-events.json\n  baton export --bundle hq-weekend.bundle"));

  WatchOptions watch;
  CLI::App* watch_cmd = app.add_subcommand("watch", "A live board, redrawn on every event");
  watch_cmd->add_flag("--once", watch.once, "Render one frame and exit");
  watch_cmd->add_flag("--no-clear", watch.no_clear,
                      "Print frames one after another instead of redrawing (logs)");
  watch_cmd->add_option("--recent", watch.recent, "How many recent events to show")
      ->check(CLI::Range(0, 100))
      ->default_val(8);
  watch_cmd->add_option("--team", watch.team, "Only this team's tasks in the lists");
  watch_cmd->add_option("--site", watch.site, "Only the tasks executed at this site");
  watch_cmd->add_option("--phase", watch.phase, "Only the tasks of this phase");
  watch_cmd->footer(
      Footer("baton watch        (Ctrl-C to stop; survives a batond restart)\n"
             "  baton watch --team dba --phase migrate") +
      "\nThe header, the forecast and a lost-link banner stay at the top; on a short terminal "
      "the\nlists are cut at the bottom. The filters narrow the lists (running, late, chase, "
      "ready);\nthe header and the forecast stay the whole runbook's.\n");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      if (const std::string unknown = UnknownCommand(app, argc, argv); !unknown.empty()) {
        SetJsonErrors(g.json);
        return Usage(unknown);
      }
    }
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  SetJsonErrors(g.json);

  if (plan_import->parsed()) return PlanImport(g, import);
  if (plan_show->parsed()) return PlanShow(g);
  if (plan_amend->parsed()) return PlanAmend(g, amend);
  if (site_add_cmd->parsed()) return SiteAdd(g, site_add);
  if (site_edit_cmd->parsed()) return SiteEdit(g, site_edit);
  if (site_remove_cmd->parsed()) return SiteRemove(g, site_remove);
  if (site_ls->parsed()) return SiteList(g);
  if (sites->parsed()) return Sites(g);
  for (const auto& [sub, opts] : reports) {
    if (sub->parsed()) return Report(g, opts);
  }
  if (note->parsed()) return Note(g, note_words);
  if (gate_cmd->parsed()) return Gate(g, gate);
  if (undo->parsed()) return Undo(g, undo_event, undo_reason);
  for (const auto& [sub, op] : queries) {
    if (sub->parsed()) return Query(g, op);
  }
  if (ls->parsed()) return List(g, list);
  if (mine->parsed()) return Mine(g, mine_team, mine_site);
  if (show->parsed()) return Show(g, show_task);
  if (export_cmd->parsed()) return Export(g, export_out, export_bundle);
  if (watch_cmd->parsed()) return Watch(g, watch);
  std::cerr << app.help();
  return kExitUsage;
}

}  // namespace
}  // namespace baton::client::cli

int main(int argc, char** argv) {
  try {
    return baton::client::cli::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "baton: internal error: " << e.what() << "\n";
    return baton::client::cli::kExitInternal;
  }
}
