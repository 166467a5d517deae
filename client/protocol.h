// The client protocol: JSON requests and replies between a client (the `baton` CLI or any
// language) and its local `batond`, one JSON text per ZeroMQ frame. Grammar, every op with
// examples, error codes and watch semantics: docs/client-protocol.md.
// Pure: JSON text <-> structs and nothing else (no sockets, no clocks). Every parse error is
// kInvalidArgument and names the field or path: `plan.tasks[3].duration_ms: expected an integer`.
// JSON lives here, never in crdt/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"

namespace baton::client {

inline constexpr int kProtocolVersion = 1;

// ---- Limits (docs/client-protocol.md#limits) --------------------------------------------------
// A request over any of them gets an invalid_argument reply naming the field and the limit, and
// changes nothing. Text lengths are in bytes of UTF-8.

// Largest request text the daemon parses; larger ones get an invalid_argument reply.
inline constexpr size_t kMaxRequestBytes = size_t{4} << 20;  // 4 MiB.
// Arrays and objects nested deeper than this are refused before they are parsed.
inline constexpr int kMaxJsonDepth = 32;
// The request id (echoed in every reply and push).
inline constexpr size_t kMaxRequestIdBytes = 128;
// Task ids, team, phase and site names, actor names, watch epochs.
inline constexpr size_t kMaxIdBytes = 128;
// Task titles, plan and site names, endpoints.
inline constexpr size_t kMaxTitleBytes = 512;
// Notes on reports, gates and the runbook.
inline constexpr size_t kMaxNoteBytes = 4096;
// Tasks in one plan, sites and teams on a roster, predecessors of one task.
inline constexpr size_t kMaxPlanTasks = 10000;
inline constexpr size_t kMaxPlanSites = 256;
inline constexpr size_t kMaxPlanTeams = 256;
inline constexpr size_t kMaxPredecessors = 256;
// Entries of one plan.amend (task_add + task_change + task_remove): each appends one event.
inline constexpr size_t kMaxAmendEntries = 1000;
// Times, durations and lags: the domain of crdt/event.h (kMinTimeMs, kMaxTimeMs,
// kMaxDurationMs), refused outside it.
using crdt::kMaxDurationMs;
using crdt::kMaxTimeMs;
using crdt::kMinTimeMs;

// Every op name, in the order docs/client-protocol.md lists them.
const std::vector<std::string>& KnownOps();

// ---- Envelopes ------------------------------------------------------------------------------

// A syntactically valid request: `v` is 1, `id` a non-empty string, `op` a known op and every
// other member a known argument of that op (values are checked by the typed parsers below).
struct Request {
  std::string id;
  std::string op;
  nlohmann::json args = nlohmann::json::object();  // The request object minus v, id, op.
};

// kInvalidArgument "WHAT is N bytes, over the limit of ..." if `bytes` > kMaxRequestBytes.
Status CheckRequestSize(size_t bytes, std::string_view what);
// Parses one request frame. Errors: oversize, not JSON, not an object, missing or wrong v / id /
// op, unknown argument names.
Result<Request> ParseRequest(std::string_view text);
// The request's id if `text` is a JSON object with a string id, for error replies to requests
// that ParseRequest refused; "" otherwise.
std::string PeekRequestId(std::string_view text);
// `{"v":1,"id":id,"op":op, ...args}`; `args` must be an object (or null for none).
std::string MakeRequest(const std::string& id, const std::string& op, const nlohmann::json& args);

// `{"v":1,"id":id,"ok":true,"result":result}`.
std::string MakeOk(const std::string& id, const nlohmann::json& result);
// `{"v":1,"id":id,"ok":false,"error":{"code":...,"message":...}}`; id "" is sent as null (the
// request's id could not be read). `status` must not be OK.
std::string MakeError(const std::string& id, const Status& status);
// A watch push: `{"v":1,"id":watch_id,"stream":"event","cursor":cursor,"event":event}`.
std::string MakeEventPush(const std::string& watch_id, uint64_t cursor,
                          const nlohmann::json& event);
// JSON as every message is written: compact, invalid UTF-8 replaced.
std::string Dump(const nlohmann::json& j);
// The same push around an event already serialised (one JSON object, as Dump writes it): the
// daemon serialises each event once for all its watchers.
std::string MakeEventPushText(const std::string& watch_id, uint64_t cursor,
                              std::string_view event_json);
// `{"v":1,"id":watch_id,"stream":"heartbeat","cursor":cursor}`.
std::string MakeHeartbeat(const std::string& watch_id, uint64_t cursor);

// Wire names of status codes: "invalid_argument", "not_found", "rejected", "unavailable",
// "corruption", "io_error" ("ok" for kOk).
const char* ErrorCodeName(StatusCode code);
// kCorruption for a name that is not one of them (a malformed reply).
Result<StatusCode> ErrorCodeFromName(std::string_view name);

// What a client reads from the daemon: a reply to one of its requests or a watch push.
struct ServerMessage {
  std::string id;  // Request id ("" if the daemon could not read it).
  // Reply: stream is empty; `status` is the error (OK when ok) and `result` the result.
  // Push: stream is "event" or "heartbeat"; `cursor` is set, `event` holds the event.
  std::string stream;
  Status status;
  nlohmann::json result;
  uint64_t cursor = 0;
  nlohmann::json event;
  bool is_push() const { return !stream.empty(); }
};
// kCorruption if `text` is not a well-formed daemon message.
Result<ServerMessage> ParseServerMessage(std::string_view text);

// ---- Typed arguments of the ops -------------------------------------------------------------
// Each parser takes a Request of its op (BATON_CHECKed) and validates the values.
// Times (`at`, windows, planned starts) are ISO 8601 with an offset ("2024-05-18T02:10:00Z",
// "2024-05-18T04:10+02:00") or integer epoch milliseconds; they come out as epoch ms.

// report {task, kind: start|done|fail|skip|reset, note?, at?, actor?, force?, reason?}
struct ReportArgs {
  std::string task_id;
  crdt::ReportKind kind = crdt::ReportKind::kStarted;
  std::string note;
  int64_t effective_ms = crdt::kNoTime;  // kNoTime: no `at` given.
  std::string actor;  // Display name the reporter gives; empty if none (the OS user is kept).
  // Report even what contradicts the plan as this site knows it (predecessors not done, ...),
  // for `reason`, which the event records
  // (docs/client-protocol.md#reports-checked-against-the-plan).
  bool force = false;
  std::string reason;  // Required with force, refused without.
};
Result<ReportArgs> ParseReportArgs(const Request& request);

// note {task?, text}
struct NoteArgs {
  std::string task_id;  // Empty: a note on the runbook.
  std::string text;
  std::string actor;
};
Result<NoteArgs> ParseNoteArgs(const Request& request);

// gate {task, decision: go|no-go, note?, at?, actor?, force?, reason?}
struct GateArgs {
  std::string task_id;
  bool go = false;
  std::string note;
  int64_t effective_ms = crdt::kNoTime;
  std::string actor;
  bool force = false;  // As for ReportArgs.
  std::string reason;
};
Result<GateArgs> ParseGateArgs(const Request& request);

// undo {event, reason, actor?}: a correction of a report or gate decision still in force.
struct UndoArgs {
  crdt::EventId event;
  std::string reason;  // Required: the correction says why.
  std::string actor;
};
Result<UndoArgs> ParseUndoArgs(const Request& request);
// The candidates a mistyped `word` probably meant, nearest first, at most `max`: the same but for
// case or leading zeros in numbers (T-42, t-042 for T-042), within an edit distance of 1 (2 for
// words of 6 or more), or starting with it (3 characters or more).
std::vector<std::string> Suggestions(std::string_view word,
                                     const std::vector<std::string>& candidates, size_t max = 3);
// " (did you mean T-042?)", " (did you mean start or status?)", or "" without suggestions.
std::string DidYouMean(const std::vector<std::string>& suggestions);

// "hq/57": an origin, a slash and a seq from 1; kInvalidArgument naming `field` otherwise.
Result<crdt::EventId> ParseEventIdText(std::string_view text, std::string_view field);

// plan.import {plan}
struct PlanImportArgs {
  crdt::Plan plan;
};
Result<PlanImportArgs> ParsePlanImportArgs(const Request& request);

// plan.amend {name?, window_start?, window_end?, task_add?: [TaskSpec], task_change?: [{task,
// ...patch}], task_remove?: [task id]}; at least one of them.
struct TaskChange {
  std::string task_id;
  crdt::TaskPatch patch;
};
struct PlanAmendArgs {
  std::optional<std::string> name;
  std::optional<int64_t> window_start_ms, window_end_ms;
  std::vector<crdt::TaskSpec> task_add;
  std::vector<TaskChange> task_change;
  std::vector<std::string> task_remove;
};
Result<PlanAmendArgs> ParsePlanAmendArgs(const Request& request);

// True for a roster id: 1 to 64 letters, digits, '-', '_' or '.' (as in batond.conf).
bool ValidSiteId(std::string_view id);

// site.add {site, name?, key, role?: manager|site|observer (default site), endpoint?}: enrols a
// site on the roster. `key` is the site's Ed25519 public key as 64 hex digits (`batond init`
// prints it); `endpoint` a peer endpoint "tcp://HOST:PORT".
struct SiteAddArgs {
  crdt::SiteInfo site;  // public_key raw (32 bytes); name and endpoint empty if not given.
};
Result<SiteAddArgs> ParseSiteAddArgs(const Request& request);

// site.edit {site, name?, role?, endpoint?, teams?}: an enrolled site changed in place (its key
// stays; to change the key, remove and add it). Unset members are unchanged; teams [] clears.
struct SiteEditArgs {
  crdt::SiteId site;
  std::optional<std::string> name, endpoint;
  std::optional<crdt::SiteRole> role;
  std::optional<std::vector<std::string>> teams;
};
Result<SiteEditArgs> ParseSiteEditArgs(const Request& request);

// site.remove {site}. (site.list takes no arguments.)
struct SiteRemoveArgs {
  crdt::SiteId site;
};
Result<SiteRemoveArgs> ParseSiteRemoveArgs(const Request& request);

// Wire word of a role: "manager", "site", "observer".
const char* SiteRoleName(crdt::SiteRole role);
const char* DependencyTypeName(crdt::DependencyType type);  // "fs", "ss", "ff", "sf".

// task {task}
struct TaskArgs {
  std::string task_id;
};
Result<TaskArgs> ParseTaskArgs(const Request& request);

// list {team?, site?, status?, late?}; mine {team?, site?} uses the same struct.
struct ListArgs {
  std::optional<std::string> team, site, phase;
  std::optional<std::string> status;  // pending|ready|running|done|failed|skipped|blocked
  bool late_only = false;
};
Result<ListArgs> ParseListArgs(const Request& request);  // list or mine.

// watch {cursor?, epoch?}: events with an arrival cursor greater than `cursor` (0: from the start).
struct WatchArgs {
  uint64_t cursor = 0;
  // The arrival numbering the cursor belongs to (16 hex digits, from an earlier watch reply);
  // absent: the cursor is taken as is.
  std::optional<std::string> epoch;
};
Result<WatchArgs> ParseWatchArgs(const Request& request);

// status {digest?}
struct StatusArgs {
  bool digest = false;  // Also the digest of the converged state (docs/client-protocol.md).
};
Result<StatusArgs> ParseStatusArgs(const Request& request);

// export {format?: "json", after?}: one page of the log, the events with an arrival cursor
// greater than `after` (0: from the first), at most kExportPageEvents of them or about
// kExportPageBytes of JSON (at least one event). The reply says the page's last cursor ("next")
// and whether more follow ("more"); Client::Export gathers every page.
inline constexpr size_t kExportPageEvents = 1000;
inline constexpr size_t kExportPageBytes = size_t{1} << 20;
struct ExportArgs {
  std::string format = "json";
  uint64_t after = 0;
};
Result<ExportArgs> ParseExportArgs(const Request& request);

// ---- Plan and event JSON --------------------------------------------------------------------
// Field names follow crdt/event.h. Times are epoch ms; kNoTime is an absent field. Raw keys are
// lowercase hex. Enums are words: kind task|milestone|gate, role manager|site|observer,
// dependency type fs|ss|ff|sf, report kind start|done|fail|skip|reset.

nlohmann::json ToJson(const crdt::Dependency& dependency);
nlohmann::json ToJson(const crdt::TaskSpec& spec);
nlohmann::json ToJson(const crdt::TaskPatch& patch);
nlohmann::json ToJson(const crdt::Plan& plan);
// {"id":"hq/12","origin","seq","runbook_id","hlc":{"wall_ms","logical"},"prev_hash","actor",
//  "kind":"task_reported","body":{...}}
nlohmann::json ToJson(const crdt::Event& event);

// `path` names the value in error messages ("plan", "task_add[2]").
Result<crdt::Dependency> DependencyFromJson(const nlohmann::json& json, const std::string& path);
Result<crdt::TaskSpec> TaskSpecFromJson(const nlohmann::json& json, const std::string& path);
Result<crdt::Plan> PlanFromJson(const nlohmann::json& json, const std::string& path = "plan");

// "start" ... "reset".
const char* ReportKindName(crdt::ReportKind kind);
// ISO 8601 with a Z or +hh:mm offset -> epoch ms; kInvalidArgument otherwise.
Result<int64_t> ParseIsoTime(std::string_view text);
// Epoch ms -> "2024-05-18T02:10:00.000Z".
std::string FormatIsoTime(int64_t epoch_ms);

}  // namespace baton::client
