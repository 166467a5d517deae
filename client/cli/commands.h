// The `baton` commands: each turns parsed command-line values into one or a few client-protocol
// calls (docs/client-protocol.md) and prints the result for people (or raw JSON with --json).
// Every command returns a process exit code (ExitCode); messages for people go to stderr.
// main.cpp only declares the command line; nothing here parses argv.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crdt/status.h"

namespace baton::client::cli {

// Exit codes, listed in `baton --help`.
enum ExitCode {
  kExitOk = 0,
  kExitUsage = 1,        // Bad command line or bad input (the CSV, a time, an argument).
  kExitUnreachable = 2,  // No batond at the endpoint (or no endpoint given).
  kExitRejected = 3,     // The daemon refused the request or does not know the thing.
  kExitInternal = 4,     // A bug or a malformed reply.
};

// The exit code for a failed call: invalid_argument 1, unavailable/io_error 2,
// not_found/rejected 3, anything else 4.
int ExitCodeFor(const Status& status);

// Options every command shares.
struct GlobalOptions {
  std::string endpoint;  // --endpoint; wins over --data.
  std::string data;      // --data DIR => ipc://DIR/batond.sock.
  bool json = false;     // Print the raw result JSON (pretty) instead of text.
  bool no_color = false;
  int timeout_ms = 5000;
  std::string actor;       // --as NAME: the person behind a report.
  std::string curve_file;  // --curve-file FILE (or $BATON_CURVE_FILE): tcp + CURVE credentials.
  bool digest = false;     // status --digest: also the state digest (costs a full pass).
};

// The daemon's client endpoint: --endpoint, else --data, else $BATON_ENDPOINT, else $BATON_DATA
// (env values passed in; empty = unset). kInvalidArgument when none is given.
Result<std::string> ResolveEndpoint(const std::string& endpoint_flag, const std::string& data_flag,
                                    const std::string& endpoint_env, const std::string& data_env);

struct PlanImportOptions {
  std::string file;
  std::string runbook_id;  // Default: the file name's stem.
  std::string name;        // Default: the runbook id.
  std::string timezone = "UTC";
  std::string window_start, window_end;
  bool month_first = false;
  std::vector<std::string> columns;  // "field=Header".
  std::string rebase;                // "now" or a time: move the plan so its window starts then.
  std::string encoding = "utf-8";    // Or windows-1252 (Excel's plain CSV).
};
int PlanImport(const GlobalOptions& g, const PlanImportOptions& o);
int PlanShow(const GlobalOptions& g);

struct PlanAmendOptions {
  std::vector<std::string> durations;  // "T-042=45m".
  std::vector<std::string> removes;    // Task ids.
  std::string window_end;              // --at formats, in the runbook's zone.
  std::string name;
  std::string add_csv;  // New tasks, in the import's CSV format; may name existing tasks.
  std::vector<std::string> deciders;  // "G-1=vendor-de,dba"; "G-1=" clears them.
};
int PlanAmend(const GlobalOptions& g, const PlanAmendOptions& o);

// The roster (docs/client-protocol.md, site.add / site.remove / site.list); add and remove are
// for managers. `role` is manager, site or observer.
struct SiteAddOptions {
  std::string site;
  std::string key;  // 64 hex digits, as `batond init` prints them.
  std::string name;
  std::string role = "site";
  std::string endpoint;            // tcp://HOST:PORT where the site accepts peers; may be empty.
  std::vector<std::string> teams;  // Teams whose tasks the site may report on.
};
int SiteAdd(const GlobalOptions& g, const SiteAddOptions& o);
// Unset (empty, no --no-teams) options leave the field as it is.
struct SiteEditOptions {
  std::string site;
  std::string name, role, endpoint;
  std::vector<std::string> teams;
  bool no_teams = false;  // The site is in no team any more.
};
int SiteEdit(const GlobalOptions& g, const SiteEditOptions& o);
int SiteRemove(const GlobalOptions& g, const std::string& site);
int SiteList(const GlobalOptions& g);
// `baton sites`: the peer links of the site and how far behind each is.
int Sites(const GlobalOptions& g);

// start|done|fail|skip|reset. `words` are trailing arguments after the task id: for fail the
// reason (joined with spaces) when --note is not given; an error for the other kinds.
struct ReportOptions {
  std::string kind;  // Wire word: start, done, fail, skip, reset.
  std::string task;
  std::string note;
  std::vector<std::string> words;
  std::string at;
  bool force = false;  // Report what contradicts the plan as the site knows it, for `reason`.
  std::string reason;
};
int Report(const GlobalOptions& g, const ReportOptions& o);

// `words`: [TASK] TEXT...: one word is a note on the runbook; with more, the first is the task.
int Note(const GlobalOptions& g, const std::vector<std::string>& words);

struct GateOptions {
  std::string task;
  std::string decision;  // go | no-go
  std::string note;
  std::string at;
  bool force = false;
  std::string reason;
};
int Gate(const GlobalOptions& g, const GateOptions& o);

// `baton undo EVENT --reason TEXT`: a report or gate decision corrected.
int Undo(const GlobalOptions& g, const std::string& event, const std::string& reason);

// With --json, errors are JSON on stdout too: {"error": {"code", "message"}} (the exit code
// as without).
void SetJsonErrors(bool on);
// "baton: MESSAGE" on stderr (JSON with --json); the usage exit code.
int Usage(const std::string& message);

// Queries. `op` is status, ready, late, blocked, critical or forecast.
int Query(const GlobalOptions& g, const std::string& op);
struct ListOptions {
  std::string team, site, phase, status;
  bool late = false;
};
int List(const GlobalOptions& g, const ListOptions& o);
int Mine(const GlobalOptions& g, const std::string& team, const std::string& site);
int Show(const GlobalOptions& g, const std::string& task);
// `bundle_file` non-empty: an evidence bundle there instead of JSON.
int Export(const GlobalOptions& g, const std::string& out_file, const std::string& bundle_file);

struct WatchOptions {
  bool once = false;      // One frame, then exit.
  bool no_clear = false;  // Frames one after another (logs, tests).
  int recent = 8;         // Events shown.
  // Only the tasks of this team, site or phase in the board's task lists (any case).
  std::string team, site, phase;
};
// The live board: redrawn on every event and each second; survives daemon restarts (resumes the
// watch from the last cursor). Runs until SIGINT/SIGTERM (exit 0) unless `once`.
int Watch(const GlobalOptions& g, const WatchOptions& o);

}  // namespace baton::client::cli
