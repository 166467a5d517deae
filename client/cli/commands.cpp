// See client/cli/commands.h. JSON and filesystem exceptions stop in this file; main() keeps
// one catch-all for bugs.
#include "client/cli/commands.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "client/cli/render.h"
#include "client/cli/views.h"
#include "client/client.h"
#include "client/curve_file.h"
#include "client/protocol.h"
#include "daemon/identity/keys.h"
#include "tools/import/plan_import.h"

namespace baton::client::cli {
namespace {

using nlohmann::json;

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop.store(true); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

bool g_json_errors = false;

// An error: "PREFIX: MESSAGE" on stderr, and with --json also {"error": {"code", "message"}} on
// stdout, where a script reads the results.
void PrintError(const std::string& prefix, const char* code, const std::string& message) {
  std::cerr << prefix << ": " << message << "\n";
  if (g_json_errors) {
    std::cout << json{{"error", {{"code", code}, {"message", message}}}}.dump(
                     2, ' ', false, json::error_handler_t::replace)
              << "\n";
  }
}

int Fail(const Status& s) {
  PrintError("baton", ErrorCodeName(s.code()), s.message());
  return ExitCodeFor(s);
}

// "baton start T-090: T-088 is not done yet; ...": the command in front of the daemon's error.
int FailCommand(const std::string& command, const Status& s) {
  PrintError("baton " + command, ErrorCodeName(s.code()), s.message());
  return ExitCodeFor(s);
}

// After a forced report: what it went against, as the board will flag it.
void PrintForced(const json& reply) {
  const auto it = reply.find("forced");
  if (it == reply.end()) return;
  if (it->is_string()) {
    std::cout << "forced past: " << it->get<std::string>()
              << " (the reason is in the event; the board flags it)\n";
  } else {
    std::cout << "forced, although nothing contradicted the plan\n";
  }
}

void PrintJson(const json& j) {
  std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// Whether something accepts connections on the unix socket at `path`; true when that cannot be
// told (a path too long for a probe), so that the client's own timeout decides.
bool Listening(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return true;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;
  const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  close(fd);
  return rc == 0 || (err != ECONNREFUSED && err != ENOENT);
}

Result<Client> ConnectTo(const GlobalOptions& g) {
  BATON_ASSIGN_OR_RETURN(
      std::string endpoint,
      ResolveEndpoint(g.endpoint, g.data, Env("BATON_ENDPOINT"), Env("BATON_DATA")));
  // Nobody listens on the socket (none, or one left by a daemon that stopped): say so at once
  // rather than after the timeout.
  if (endpoint.rfind("ipc://", 0) == 0) {
    const std::string path = endpoint.substr(6);
    const std::string dir = std::filesystem::path(path).parent_path().string();
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
      return Status::Unavailable("no batond is running at " + endpoint + " (no directory " + dir +
                                 ": check --data or $BATON_DATA)");
    }
    if (!Listening(path)) {
      return Status::Unavailable("no batond is running at " + endpoint +
                                 " (start it with `batond run --data " + dir + "`)");
    }
  }
  ClientOptions options;
  options.timeout_ms = g.timeout_ms;
  const std::string curve_file = g.curve_file.empty() ? Env("BATON_CURVE_FILE") : g.curve_file;
  if (!curve_file.empty()) {
    auto text = identity::ReadFileUpTo(curve_file, identity::kMaxKeyFileBytes);
    if (!text.ok()) return Status::InvalidArgument("--curve-file: " + text.status().message());
    BATON_ASSIGN_OR_RETURN(CurveCredentials f, ParseCurveCredentials(*text, curve_file));
    options.curve = CurveClientKeys{f.server_public_z85, f.public_z85, f.secret_z85};
  } else if (endpoint.rfind("tcp://", 0) == 0) {
    return Status::InvalidArgument(
        "a tcp endpoint needs --curve-file (made by `batond "
        "allow-client`)");
  }
  auto client = Client::Connect(endpoint, options);
  // A bad endpoint is the user's input, but a daemon we cannot reach is "unreachable".
  if (!client.ok() && client.status().code() == StatusCode::kIOError) {
    return Status::Unavailable(client.status().message());
  }
  return client;
}

ViewOptions MakeView(const GlobalOptions& g, const std::string& tz) {
  ViewOptions v;
  v.style.color = !g.json && ColorWanted(g.no_color);
  v.width = TerminalWidth();
  v.tz = tz;
  v.now_ms = NowMs();
  return v;
}

// The runbook's time zone, from the status reply ("UTC" before a plan is imported).
Result<std::string> FetchZone(Client& client) {
  BATON_ASSIGN_OR_RETURN(json status, client.Call("status"));
  return ZoneOf(status);
}

// `--at` text -> ISO 8601 UTC for the wire, read in the runbook's zone.
Result<std::string> AtArgument(Client& client, const std::string& at) {
  BATON_ASSIGN_OR_RETURN(std::string tz, FetchZone(client));
  BATON_ASSIGN_OR_RETURN(int64_t ms, ParseAtTime(at, tz, NowMs()));
  return FormatIsoTime(ms);
}

std::string PastTense(const std::string& kind) {
  if (kind == "start") return "started";
  if (kind == "fail") return "failed";
  if (kind == "skip") return "skipped";
  return kind;  // done, reset
}

// Prints a query result: raw JSON, or the text `render` makes (with the runbook's zone).
template <class Render>
int Print(const GlobalOptions& g, Client& client, const Result<json>& result, Render render) {
  if (!result.ok()) return Fail(result.status());
  if (g.json) {
    PrintJson(*result);
    return kExitOk;
  }
  auto tz = FetchZone(client);
  if (!tz.ok()) return Fail(tz.status());
  std::cout << render(*result, MakeView(g, *tz));
  return kExitOk;
}

}  // namespace

void SetJsonErrors(bool on) { g_json_errors = on; }

int Usage(const std::string& message) {
  PrintError("baton", "usage", message);
  return kExitUsage;
}

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kInvalidArgument:
      return kExitUsage;
    case StatusCode::kUnavailable:
    case StatusCode::kIOError:
      return kExitUnreachable;
    case StatusCode::kNotFound:
    case StatusCode::kRejected:
      return kExitRejected;
    case StatusCode::kCorruption:
      return kExitInternal;
  }
  return kExitInternal;
}

Result<std::string> ResolveEndpoint(const std::string& endpoint_flag, const std::string& data_flag,
                                    const std::string& endpoint_env, const std::string& data_env) {
  auto from_data = [](const std::string& dir) {
    std::string d = dir;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    return "ipc://" + d + "/batond.sock";
  };
  if (!endpoint_flag.empty()) return endpoint_flag;
  if (!data_flag.empty()) return from_data(data_flag);
  if (!endpoint_env.empty()) return endpoint_env;
  if (!data_env.empty()) return from_data(data_env);
  return Status::Unavailable(
      "which batond? pass --data DIR (the site's data directory) or --endpoint ipc://DIR/"
      "batond.sock, or set BATON_DATA / BATON_ENDPOINT");
}

// ---- Plan -----------------------------------------------------------------------------------

int PlanImport(const GlobalOptions& g, const PlanImportOptions& o) {
  tools::ImportOptions options;
  options.runbook_id =
      o.runbook_id.empty() ? std::filesystem::path(o.file).stem().string() : o.runbook_id;
  options.name = o.name.empty() ? options.runbook_id : o.name;
  options.timezone = o.timezone.empty() ? "UTC" : o.timezone;
  options.window_start = o.window_start;
  options.window_end = o.window_end;
  options.day_first = !o.month_first;
  options.source_name = o.file;
  options.encoding = o.encoding;
  for (const auto& spec : o.columns) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      return Usage("--column \"" + spec + "\": expected field=Header, e.g. duration=Est. time");
    }
    options.columns[spec.substr(0, eq)] = spec.substr(eq + 1);
  }
  std::vector<tools::ImportError> errors;
  auto imported = tools::ImportPlanFile(o.file, options, &errors);
  if (!imported.ok()) {
    // Every problem, one per line, and nothing is sent.
    if (errors.empty()) std::cerr << "baton: " << imported.status().message() << "\n";
    for (const auto& e : errors) std::cerr << e.ToString() << "\n";
    if (!errors.empty()) {
      std::cerr << "baton: " << errors.size() << " error(s) in " << o.file
                << "; nothing was imported\n";
    }
    return kExitUsage;
  }
  for (const auto& w : imported->warnings) std::cerr << "warning: " << w << "\n";
  if (!o.rebase.empty()) {
    const int64_t now = NowMs();
    int64_t target = now;
    if (o.rebase != "now") {
      auto at = ParseAtTime(o.rebase, options.timezone, now, "--rebase");
      if (!at.ok()) return Usage(at.status().message());
      target = *at;
    }
    Status rebased = tools::RebasePlan(&imported->plan, target);
    if (!rebased.ok()) return Usage("--rebase: " + rebased.message());
  }
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  auto reply = client->Call("plan.import", json{{"plan", ToJson(imported->plan)}});
  if (!reply.ok()) return Fail(reply.status());
  if (g.json) {
    PrintJson(*reply);
    return kExitOk;
  }
  std::cout << "imported runbook " << reply->value("runbook", options.runbook_id) << ": "
            << reply->value("tasks", 0) << " tasks (event " << reply->value("event", "?") << ")\n";
  return kExitOk;
}

int PlanShow(const GlobalOptions& g) {
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  auto status = client->Call("status");
  if (!status.ok()) return Fail(status.status());
  auto rows = client->Call("list", json::object());
  if (!rows.ok()) return Fail(rows.status());
  if (g.json) {
    PrintJson(json{{"runbook", (*status)["runbook"]}, {"tasks", (*rows)["tasks"]}});
    return kExitOk;
  }
  std::cout << RenderPlan(*status, (*rows)["tasks"], MakeView(g, ZoneOf(*status)));
  return kExitOk;
}

int PlanAmend(const GlobalOptions& g, const PlanAmendOptions& o) {
  json args = json::object();
  // One change per task, whichever options name it.
  std::map<std::string, json> by_task;
  for (const auto& spec : o.durations) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Usage("--duration \"" + spec + "\": expected TASK=DURATION, e.g. T-042=45m");
    }
    auto ms = tools::ParseDurationMs(spec.substr(eq + 1));
    if (!ms.ok()) return Usage("--duration " + spec.substr(0, eq) + ": " + ms.status().message());
    by_task[spec.substr(0, eq)]["duration_ms"] = *ms;
  }
  for (const auto& spec : o.deciders) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Usage("--deciders \"" + spec +
                   "\": expected GATE=WHO,WHO (site ids or teams), e.g. G-1=vendor-de,dba, or "
                   "GATE= to clear them");
    }
    json who = json::array();
    for (const std::string& name : tools::SplitNames(spec.substr(eq + 1))) who.push_back(name);
    by_task[spec.substr(0, eq)]["deciders"] = who;
  }
  json changes = json::array();
  for (auto& [task, change] : by_task) {
    change["task"] = task;
    changes.push_back(std::move(change));
  }
  if (!changes.empty()) args["task_change"] = changes;
  if (!o.removes.empty()) args["task_remove"] = o.removes;
  if (!o.name.empty()) args["name"] = o.name;
  if (args.empty() && o.window_end.empty() && o.add_csv.empty()) {
    return Usage(
        "plan amend: nothing to change (give --add-csv, --duration, --deciders, --remove, "
        "--window-end or --name)");
  }
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  if (!o.add_csv.empty()) {
    // New tasks are read like an import, in the runbook's zone and window, and may depend on
    // tasks already in the plan. Every error is listed and nothing is sent.
    auto status = client->Call("status");
    if (!status.ok()) return Fail(status.status());
    auto listed = client->Call("list", json::object());
    if (!listed.ok()) return Fail(listed.status());
    tools::ImportOptions options;
    const json& rb = (*status)["runbook"];
    options.runbook_id = rb.value("id", "");
    options.timezone = ZoneOf(*status);
    if (rb.contains("window_start") && rb["window_start"].is_number()) {
      options.window_start = FormatIsoTime(rb["window_start"].get<int64_t>());
    }
    options.source_name = o.add_csv;
    for (const auto& row : (*listed)["tasks"]) options.existing_ids.insert(row["id"]);
    std::vector<tools::ImportError> errors;
    auto added = tools::ImportPlanFile(o.add_csv, options, &errors);
    if (!added.ok()) {
      if (errors.empty()) std::cerr << "baton: " << added.status().message() << "\n";
      for (const auto& e : errors) std::cerr << e.ToString() << "\n";
      std::cerr << "baton: nothing was amended\n";
      return kExitUsage;
    }
    for (const auto& w : added->warnings) std::cerr << "warning: " << w << "\n";
    json tasks = json::array();
    for (const auto& t : added->plan.tasks) tasks.push_back(ToJson(t));
    args["task_add"] = tasks;
  }
  if (!o.window_end.empty()) {
    auto tz = FetchZone(*client);
    if (!tz.ok()) return Fail(tz.status());
    auto ms = ParseAtTime(o.window_end, *tz, NowMs(), "--window-end");
    if (!ms.ok()) return Fail(ms.status());
    args["window_end_ms"] = *ms;
  }
  auto reply = client->Call("plan.amend", args);
  if (!reply.ok()) return Fail(reply.status());
  if (g.json) {
    PrintJson(*reply);
    return kExitOk;
  }
  std::string ids;
  for (const auto& id : (*reply)["events"]) {
    ids += (ids.empty() ? "" : ", ") + id.get<std::string>();
  }
  std::cout << "plan amended (event" << ((*reply)["events"].size() == 1 ? " " : "s ") << ids
            << ")\n";
  return kExitOk;
}

// ---- Roster ---------------------------------------------------------------------------------

int SiteAdd(const GlobalOptions& g, const SiteAddOptions& o) {
  json args{{"site", o.site}, {"key", o.key}, {"role", o.role}};
  if (!o.name.empty()) args["name"] = o.name;
  if (!o.endpoint.empty()) args["endpoint"] = o.endpoint;
  if (!o.teams.empty()) args["teams"] = o.teams;
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  auto reply = client->Call("site.add", args);
  if (!reply.ok()) return Fail(reply.status());
  if (g.json) {
    PrintJson(*reply);
    return kExitOk;
  }
  std::cout << "site " << o.site << (reply->value("enrolled", false) ? " enrolled" : " added")
            << " as " << reply->value("role", o.role) << " (event " << reply->value("event", "?")
            << ")\n";
  return kExitOk;
}

int SiteEdit(const GlobalOptions& g, const SiteEditOptions& o) {
  if (o.no_teams && !o.teams.empty()) return Usage("site edit: --team and --no-teams conflict");
  json args{{"site", o.site}};
  if (!o.name.empty()) args["name"] = o.name;
  if (!o.role.empty()) args["role"] = o.role;
  if (!o.endpoint.empty()) args["endpoint"] = o.endpoint;
  if (!o.teams.empty()) args["teams"] = o.teams;
  if (o.no_teams) args["teams"] = json::array();
  if (args.size() == 1) {
    return Usage("site edit " + o.site +
                 ": nothing to change (give --name, --role, --endpoint, --team or --no-teams)");
  }
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  auto reply = client->Call("site.edit", args);
  if (!reply.ok()) return Fail(reply.status());
  if (g.json) {
    PrintJson(*reply);
    return kExitOk;
  }
  std::string teams;
  for (const auto& t : (*reply)["teams"])
    teams += (teams.empty() ? "" : ", ") + t.get<std::string>();
  std::cout << "site " << o.site << " now " << reply->value("role", "?") << ", teams "
            << (teams.empty() ? "(none)" : teams) << " (event " << reply->value("event", "?")
            << ")\n";
  return kExitOk;
}

int SiteRemove(const GlobalOptions& g, const std::string& site) {
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  auto reply = client->Call("site.remove", json{{"site", site}});
  if (!reply.ok()) return Fail(reply.status());
  if (g.json) {
    PrintJson(*reply);
    return kExitOk;
  }
  std::cout << "site " << site << " removed from the roster (event " << reply->value("event", "?")
            << ")\n";
  if (const int assigned = reply->value("assigned_tasks", 0); assigned > 0) {
    std::cerr << "note: " << assigned << " task(s) are still assigned to " << site
              << "; only a manager may report on them now\n";
  }
  return kExitOk;
}

int SiteList(const GlobalOptions& g) {
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  return Print(g, *client, client->Call("site.list"), RenderRoster);
}

int Sites(const GlobalOptions& g) {
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  return Print(g, *client, client->Call("sites"), RenderLinks);
}

// ---- Reports --------------------------------------------------------------------------------

int Report(const GlobalOptions& g, const ReportOptions& o) {
  std::string note = o.note;
  if (!o.words.empty()) {
    if (!note.empty()) {
      return Usage(o.kind + " " + o.task +
                   ": give the note either with --note or after the task "
                   "id, not both");
    }
    note = Join(o.words);
  }
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  json args{{"task", o.task}, {"kind", o.kind}};
  if (!note.empty()) args["note"] = note;
  if (!g.actor.empty()) args["actor"] = g.actor;
  if (!o.at.empty()) {
    auto at = AtArgument(*client, o.at);
    if (!at.ok()) return Fail(at.status());
    args["at"] = *at;
  }
  if (o.force) {
    args["force"] = true;
    args["reason"] = o.reason;
  }
  auto reply = client->Call("report", args);
  if (!reply.ok()) return FailCommand(o.kind + " " + o.task, reply.status());
  if (g.json) {
    PrintJson(*reply);
  } else {
    std::cout << o.task << " " << PastTense(o.kind) << " (event " << reply->value("event", "?")
              << ")";
    const std::string now = reply->value("status", "");
    const std::string expected = o.kind == "start"   ? "running"
                                 : o.kind == "reset" ? ""
                                                     : PastTense(o.kind);
    const json withdrawn = reply->value("withdrawn", json());
    if (withdrawn.is_object()) {
      std::cout << "; its " << (withdrawn.value("go", false) ? "go" : "no-go") << " ("
                << withdrawn.value("event", "?") << ") is withdrawn: the gate is undecided";
    } else if (!now.empty() && now != expected) {
      std::cout << "; status now " << now;
    }
    std::cout << "\n";
    PrintForced(*reply);
  }
  if (reply->value("conflict", false)) {
    const bool tty = isatty(STDERR_FILENO) == 1 && Env("NO_COLOR").empty() && !g.no_color;
    const Style err{tty};
    std::cerr << err.Paint("WARNING: " + o.task +
                               " has conflicting reports (another site reported concurrently); "
                               "see `baton show " +
                               o.task + "` and settle it with a new report",
                           Color::kRed)
              << "\n";
  }
  return kExitOk;
}

int Note(const GlobalOptions& g, const std::vector<std::string>& words) {
  if (words.empty()) return Usage("note: give the text (and optionally a task id first)");
  json args = json::object();
  std::string task;
  if (words.size() == 1) {
    args["text"] = words[0];
  } else {
    task = words[0];
    args["task"] = task;
    args["text"] = Join(std::vector<std::string>(words.begin() + 1, words.end()));
  }
  if (!g.actor.empty()) args["actor"] = g.actor;
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  auto reply = client->Call("note", args);
  if (!reply.ok()) return Fail(reply.status());
  if (g.json) {
    PrintJson(*reply);
    return kExitOk;
  }
  std::cout << "note added to " << (task.empty() ? "the runbook" : task) << " (event "
            << reply->value("event", "?") << ")\n";
  return kExitOk;
}

int Undo(const GlobalOptions& g, const std::string& event, const std::string& reason) {
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  json args{{"event", event}, {"reason", reason}};
  if (!g.actor.empty()) args["actor"] = g.actor;
  auto reply = client->Call("undo", args);
  if (!reply.ok()) return FailCommand("undo " + event, reply.status());
  if (g.json) {
    PrintJson(*reply);
    return kExitOk;
  }
  const std::string task = reply->value("task", "?");
  const json restored = reply->value("restored", json());
  std::cout << event << " undone (event " << reply->value("event", "?") << "): ";
  if (reply->contains("gate")) {
    const json gate = reply->value("gate", json());
    std::cout << "gate " << task << " "
              << (gate.is_string() ? "is " + gate.get<std::string>() + " again" : "is undecided");
  } else {
    std::cout << task << " is " << reply->value("status", "?");
  }
  if (restored.is_string()) std::cout << ", as " << restored.get<std::string>() << " had it";
  std::cout << "\n";
  return kExitOk;
}

int Gate(const GlobalOptions& g, const GateOptions& o) {
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  json args{{"task", o.task}, {"decision", o.decision}};
  if (!o.note.empty()) args["note"] = o.note;
  if (!g.actor.empty()) args["actor"] = g.actor;
  if (!o.at.empty()) {
    auto at = AtArgument(*client, o.at);
    if (!at.ok()) return Fail(at.status());
    args["at"] = *at;
  }
  if (o.force) {
    args["force"] = true;
    args["reason"] = o.reason;
  }
  auto reply = client->Call("gate", args);
  if (!reply.ok()) return FailCommand("gate " + o.task, reply.status());
  if (g.json) {
    PrintJson(*reply);
    return kExitOk;
  }
  std::cout << "gate " << o.task << ": " << (reply->value("go", false) ? "GO" : "NO-GO")
            << " (event " << reply->value("event", "?") << ")\n";
  PrintForced(*reply);
  return kExitOk;
}

// ---- Queries --------------------------------------------------------------------------------

int Query(const GlobalOptions& g, const std::string& op) {
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  auto result =
      client->Call(op, op == "status" && g.digest ? json{{"digest", true}} : json(nullptr));
  if (op == "status") {
    if (!result.ok()) return Fail(result.status());
    if (g.json) {
      PrintJson(*result);
      return kExitOk;
    }
    std::cout << RenderStatus(*result, MakeView(g, ZoneOf(*result)));
    if (result->contains("digest")) {
      std::cout << "State digest  " << (*result)["digest"].get<std::string>() << "  ("
                << result->value("events", 0) << " events)\n";
    }
    return kExitOk;
  }
  if (op == "forecast") return Print(g, *client, result, RenderForecast);
  if (op == "critical") {
    return Print(g, *client, result, [](const json& r, const ViewOptions& v) {
      const json forecast = r.value("forecast", json::object());
      return "Critical path: " + ForecastLine(forecast, v) + "\n" +
             RenderTaskTable(r.value("tasks", json::array()), v);
    });
  }
  return Print(g, *client, result, [](const json& r, const ViewOptions& v) {
    return RenderTaskTable(r.value("tasks", json::array()), v);
  });
}

int List(const GlobalOptions& g, const ListOptions& o) {
  json args = json::object();
  if (!o.team.empty()) args["team"] = o.team;
  if (!o.site.empty()) args["site"] = o.site;
  if (!o.phase.empty()) args["phase"] = o.phase;
  if (!o.status.empty()) args["status"] = o.status;
  if (o.late) args["late"] = true;
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  return Print(g, *client, client->Call("list", args), [](const json& r, const ViewOptions& v) {
    return RenderTaskTable(r.value("tasks", json::array()), v);
  });
}

int Mine(const GlobalOptions& g, const std::string& team, const std::string& site) {
  json args = json::object();
  if (!team.empty()) args["team"] = team;
  if (!site.empty()) args["site"] = site;
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  return Print(g, *client, client->Call("mine", args), [](const json& r, const ViewOptions& v) {
    return RenderTaskTable(r.value("tasks", json::array()), v);
  });
}

int Show(const GlobalOptions& g, const std::string& task) {
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  return Print(g, *client, client->Call("task", json{{"task", task}}), RenderTaskDetail);
}

int Export(const GlobalOptions& g, const std::string& out_file, const std::string& bundle_file) {
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  if (!bundle_file.empty()) {
    auto events = client->ExportBundle(bundle_file);
    if (!events.ok()) return Fail(events.status());
    std::cerr << "exported " << *events << " events to the bundle " << bundle_file
              << " (check it with `baton-audit verify --data " << bundle_file << "`)\n";
    return kExitOk;
  }
  auto result = client->Export();
  if (!result.ok()) return Fail(result.status());
  const std::string text = result->dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  if (out_file.empty() || out_file == "-") {
    std::cout << text;
    return kExitOk;
  }
  {
    std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return Usage("export: cannot write " + out_file);
  }
  std::cerr << "exported " << (*result)["events"].size() << " events of runbook "
            << result->value("runbook", "?") << " from site " << result->value("site", "?")
            << " to " << out_file << "\n";
  return kExitOk;
}

// ---- Watch ----------------------------------------------------------------------------------

namespace {

// Three heartbeat intervals (the daemon sends one every 2 s) and a little more.
constexpr std::chrono::milliseconds kSilenceLimit{6500};
// Least time between two status queries of the board (see Run).
constexpr std::chrono::milliseconds kMinQueryGap{250};

class Board {
 public:
  Board(const GlobalOptions& g, const WatchOptions& o, Client* client)
      : g_(g), o_(o), client_(client) {
    clear_ = isatty(STDOUT_FILENO) == 1 && !o.no_clear;
  }

  // Keeps an event push for the list of recent events; false for a duplicate.
  bool Take(const json& push) {
    last_heard_ = std::chrono::steady_clock::now();
    if (client_->TakeRenumbered()) {  // The cursors shown so far belong to the old numbering.
      last_event_ = 0;
      recent_.clear();
      SetBanner("the event index was rebuilt (batond repair): events listed again");
    }
    if (const std::string dropped = client_->TakeDropped(); !dropped.empty()) {
      SetBanner("batond had ended this watch (" + dropped + "); resumed");
    }
    if (push.value("stream", "") != "event") return false;
    const uint64_t cursor = push.value("cursor", uint64_t{0});
    if (cursor <= last_event_) return false;  // Already shown: no duplicates after a resume.
    last_event_ = cursor;
    recent_.push_back(push.value("event", json::object()));
    while (recent_.size() > static_cast<size_t>(std::max(o_.recent, 0))) recent_.pop_front();
    return true;
  }

  Status Query() {
    auto s = client_->Call("status");
    if (!s.ok()) return s.status();
    status_ = std::move(*s);
    return Narrow();
  }

  // With --team/--site/--phase: the board's lists keep only the tasks `list` gives for them
  // (matched by the daemon, in any case; an unknown team, site or phase is its error).
  Status Narrow() {
    json args = json::object();
    std::string only;
    for (const auto& [key, value] : {std::pair{"team", &o_.team}, std::pair{"site", &o_.site},
                                     std::pair{"phase", &o_.phase}}) {
      if (value->empty()) continue;
      args[key] = *value;
      only += (only.empty() ? "" : ", ") + std::string(key) + " " + *value;
    }
    if (args.empty() || status_.value("runbook", json::object()).value("id", "").empty()) {
      return Status::Ok();
    }
    auto listed = client_->Call("list", args);
    if (!listed.ok()) return listed.status();
    std::set<std::string> ids;
    for (const auto& row : listed->value("tasks", json::array())) ids.insert(row.value("id", ""));
    const auto kept = [&](const json& item) {
      return ids.count(item.is_string() ? item.get<std::string>() : item.value("id", "")) > 0;
    };
    for (const char* list : {"running", "late", "chase", "near_critical", "ready"}) {
      json& items = status_[list];
      if (!items.is_array()) continue;
      json narrowed = json::array();
      for (const auto& item : items) {
        if (kept(item)) narrowed.push_back(item);
      }
      items = std::move(narrowed);
    }
    status_["only"] = only;
    return Status::Ok();
  }

  void Draw() {
    ViewOptions v = MakeView(g_, ZoneOf(status_));
    std::deque<std::string> lines;
    for (const auto& e : recent_) lines.push_back(DescribeEvent(e, v));
    std::string frame = RenderBoard(status_, lines, banner_, v);
    // Redrawn in place, the frame must not scroll: the top (header, forecast, banner) stays.
    if (clear_) frame = FitHeight(frame, TerminalHeight());
    if (clear_) {
      std::string painted = "\x1b[H";
      size_t pos = 0;
      while (pos < frame.size()) {
        const size_t nl = frame.find('\n', pos);
        if (nl == std::string::npos) break;
        painted += frame.substr(pos, nl - pos) + "\x1b[K\n";
        pos = nl + 1;
      }
      frame = painted + "\x1b[J";
    } else {
      frame += "\n";
    }
    std::fwrite(frame.data(), 1, frame.size(), stdout);
    std::fflush(stdout);
  }

  int RunOnce(uint64_t backlog_end) {
    // Show the events already in the log (the last few) before the single frame.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(g_.timeout_ms);
    while (last_event_ < backlog_end && std::chrono::steady_clock::now() < deadline) {
      auto p = client_->NextPush(200);
      if (!p.ok()) break;
      if (*p) Take(**p);
    }
    Draw();
    client_->StopWatch().Ignore();  // Best effort: the daemon drops the watch on its own.
    return kExitOk;
  }

  int Run() {
    using Clock = std::chrono::steady_clock;
    if (clear_) std::fputs("\x1b[?25l\x1b[2J", stdout);  // Hide the cursor, clear once.
    bool connected = true;
    bool dirty = false;  // An event arrived: re-query status, redraw.
    auto next_tick = Clock::now();
    auto last_query = Clock::now() - kMinQueryGap;
    last_heard_ = Clock::now();
    while (!g_stop.load()) {
      if (!connected) {
        Status r = client_->Reconnect();  // Resumes the watch from the last cursor.
        if (r.ok()) {
          connected = true;
          dirty = true;
          last_heard_ = Clock::now();
          continue;
        }
        SetBanner("reconnecting to " + client_->endpoint() + "... (" + r.message() + ")");
        DrawIfChanged();
        for (int i = 0; i < 10 && !g_stop.load(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        continue;
      }
      // After an event, re-query at once, but at most every kMinQueryGap: a busy weekend sends
      // bursts of events, and one status call on a 10,000-task plan is a whole-plan pass.
      const auto wake = dirty ? last_query + kMinQueryGap : next_tick;
      const int wait = static_cast<int>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()).count()));
      auto push = client_->NextPush(wait);
      if (g_stop.load()) break;
      if (!push.ok() && push.status().code() == StatusCode::kCorruption) {
        // The daemon ended the watch: its log failed a check. Reconnecting would not help.
        SetBanner("the watch ended: " + push.status().message());
        DrawIfChanged();
        return Fail(push.status());
      }
      if (!push.ok()) {
        connected = false;
        SetBanner("reconnecting to " + client_->endpoint() + "...");
        DrawIfChanged();
        continue;
      }
      if (*push) {
        if (Take(**push)) dirty = true;
        if (!banner_.empty() && banner_.rfind("reconnecting", 0) == 0) {
          SetBanner("");
          dirty = true;
        }
        continue;  // Drain what is queued before drawing.
      }
      const auto now = Clock::now();
      if (now - last_heard_ > kSilenceLimit) {
        // Heartbeats come every 2 s: the daemon is gone or restarted (and forgot the watch).
        // Replies to status calls do not prove that the watch is alive, so resume it here.
        connected = false;
        SetBanner("reconnecting to " + client_->endpoint() + "... (no word from batond)");
        DrawIfChanged();
        continue;
      }
      if ((dirty && now - last_query >= kMinQueryGap) ||
          now - last_query >= std::chrono::seconds(5)) {
        Status q = Query();
        last_query = now;
        if (!q.ok()) {
          if (q.code() == StatusCode::kUnavailable || q.code() == StatusCode::kIOError) {
            connected = false;
            SetBanner("reconnecting to " + client_->endpoint() + "...");
            DrawIfChanged();
            continue;
          }
          SetBanner("status failed: " + q.message());
        }
        if (dirty) changed_ = true;
        dirty = false;
      }
      if (now >= next_tick) {
        if (clear_) changed_ = true;  // Elapsed times move each second on a terminal.
        DrawIfChanged();
        next_tick = now + std::chrono::seconds(1);
      }
    }
    client_->StopWatch().Ignore();  // Best effort on the way out.
    if (clear_) std::fputs("\x1b[?25h\n", stdout);
    std::fflush(stdout);
    return kExitOk;
  }

  json& status() { return status_; }
  void set_last_event(uint64_t c) { last_event_ = c; }

 private:
  void DrawIfChanged() {
    if (!changed_) return;
    Draw();
    changed_ = false;
  }

  void SetBanner(std::string banner) {
    if (banner != banner_) changed_ = true;
    banner_ = std::move(banner);
  }

  const GlobalOptions& g_;
  const WatchOptions& o_;
  Client* client_;
  bool clear_ = false;
  json status_;
  std::deque<json> recent_;
  uint64_t last_event_ = 0;
  std::string banner_;
  bool changed_ = true;  // Something new to show (--no-clear skips frames with nothing new).
  std::chrono::steady_clock::time_point last_heard_ = std::chrono::steady_clock::now();
};

}  // namespace

int Watch(const GlobalOptions& g, const WatchOptions& o) {
  auto client = ConnectTo(g);
  if (!client.ok()) return Fail(client.status());
  Board board(g, o, &*client);
  if (Status s = board.Query(); !s.ok()) return Fail(s);
  const uint64_t cursor = board.status().value("cursor", uint64_t{0});
  const uint64_t recent = static_cast<uint64_t>(std::max(o.recent, 0));
  const uint64_t from = cursor > recent ? cursor - recent : 0;
  board.set_last_event(from);
  if (Status s = client->StartWatch(from); !s.ok()) return Fail(s);
  if (o.once) return board.RunOnce(cursor);
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;  // No SA_RESTART: a blocked poll returns at once.
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return board.Run();
}

}  // namespace baton::client::cli
