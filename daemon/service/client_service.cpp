// See daemon/service/client_service.h and docs/client-protocol.md (result shapes).
#include "daemon/service/client_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include "crdt/event_codec.h"
#include "crdt/task_state.h"
#include "daemon/identity/keys.h"
#include "daemon/service/plan_checks.h"

namespace baton::daemon {
namespace {

using nlohmann::json;

// How far ahead of this site's clock an effective time ("at") may be: a minute-precision
// `--at` typed a little early, or a client clock slightly ahead.
constexpr int64_t kFutureSlackMs = 2 * 60 * 1000;

// An effective time must not be in the future: nothing has happened yet at that time.
Status CheckNotFuture(const char* op, int64_t at_ms, int64_t now_ms) {
  if (at_ms == crdt::kNoTime || at_ms <= now_ms + kFutureSlackMs) return Status::Ok();
  return Status::InvalidArgument(std::string(op) + ": \"at\" " + client::FormatIsoTime(at_ms) +
                                 " is in the future (this site's clock says " +
                                 client::FormatIsoTime(now_ms) + ")");
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : sep) + item;
  return out;
}

// A roster entry as site.list and export show it (the key in hex).
json SiteJson(const crdt::SiteInfo& s) {
  return json{{"id", s.id},
              {"name", s.name},
              {"role", client::SiteRoleName(s.role)},
              {"key", identity::ToHex(s.public_key)},
              {"endpoint", s.endpoint},
              {"teams", s.teams}};
}

}  // namespace

namespace {

// kInvalidArgument unless every task's deciders are those of a gate and each names a site of
// the roster or a team of the plan (a task's or a site's).
Status CheckDeciders(const crdt::Plan& plan) {
  std::set<std::string_view> known;
  for (const auto& s : plan.sites) {
    known.insert(s.id);
    known.insert(s.teams.begin(), s.teams.end());
  }
  for (const auto& t : plan.tasks) {
    if (!t.team.empty()) known.insert(t.team);
  }
  for (const auto& t : plan.tasks) {
    if (t.deciders.empty()) continue;
    if (t.kind != crdt::TaskKind::kGate) {
      return Status::InvalidArgument("task \"" + t.id +
                                     "\": deciders are for gates only (its kind is not gate)");
    }
    for (const auto& d : t.deciders) {
      if (!known.count(d)) {
        return Status::InvalidArgument("gate \"" + t.id + "\": decider \"" + d +
                                       "\" is neither a site of the roster nor a team of the plan");
      }
    }
  }
  return Status::Ok();
}

// kInvalidArgument naming the problem (a task named that is not in the plan, a dependency
// cycle, a repeated id) if `plan` cannot be scheduled as written; every query would fail on or
// silently ignore such a plan, so it is refused before it is written.
Status CheckSchedulable(const crdt::Plan& plan, int64_t now_ms) {
  std::set<std::string_view> ids;
  for (const auto& t : plan.tasks) ids.insert(t.id);
  for (const auto& t : plan.tasks) {
    for (const auto& dep : t.predecessors) {
      if (!ids.count(dep.task_id)) {
        return Status::InvalidArgument("task \"" + t.id + "\": predecessor \"" + dep.task_id +
                                       "\" is not in the plan");
      }
      if (dep.task_id == t.id) {
        return Status::InvalidArgument("task \"" + t.id + "\" names itself as a predecessor");
      }
    }
    if (!t.backout_task.empty() && !ids.count(t.backout_task)) {
      return Status::InvalidArgument("task \"" + t.id + "\": back-out task \"" + t.backout_task +
                                     "\" is not in the plan");
    }
  }
  BATON_TRY(CheckDeciders(plan));
  crdt::ScheduleInput in;
  in.tasks = plan.tasks;
  in.window_start_ms = plan.window_start_ms;
  in.window_end_ms = plan.window_end_ms;
  in.now_ms = now_ms;
  auto s = crdt::ComputeSchedule(in);
  if (!s.ok())
    return Status::InvalidArgument("the plan cannot be scheduled: " + s.status().message());
  return Status::Ok();
}

}  // namespace

ClientService::Outcome ClientService::Handle(std::string_view text, const std::string& os_user) {
  // Parsers and handlers report problems as Status values; an exception here is a bug, and it
  // costs the one request, never the daemon.
  try {
    return HandleRequest(text, os_user);
  } catch (const std::exception& e) {
    const std::string id = client::PeekRequestId(text);
    spdlog::error("request {} from {} failed: {}", id.empty() ? "(no id)" : id, os_user, e.what());
    Outcome out;
    out.request_id = id;
    out.reply = client::MakeError(
        id, Status::InvalidArgument(std::string("the request could not be handled: ") + e.what()));
    return out;
  }
}

ClientService::Outcome ClientService::HandleRequest(std::string_view text,
                                                    const std::string& os_user) {
  Outcome out;
  auto req = client::ParseRequest(text);
  if (!req.ok()) {
    out.reply = client::MakeError(client::PeekRequestId(text), req.status());
    return out;
  }
  out.request_id = req->id;
  if (req->op == "watch") {
    auto args = client::ParseWatchArgs(*req);
    if (!args.ok()) {
      out.reply = client::MakeError(req->id, args.status());
      return out;
    }
    // A cursor of another numbering (the index was rebuilt by `batond repair` since) means
    // nothing here: start over from the first event, and say so.
    const std::string& epoch = ledger_->store().arrival_epoch();
    const bool renumbered = args->epoch && *args->epoch != epoch;
    // A cursor past the last arrival of this numbering would silently skip the events that
    // arrive until the count reaches it.
    if (!renumbered && args->cursor > ledger_->last_arrival()) {
      out.reply = client::MakeError(
          req->id,
          Status::InvalidArgument("field \"cursor\": " + std::to_string(args->cursor) +
                                  " is past the last arrival at site " + ledger_->config().site +
                                  " (" + std::to_string(ledger_->last_arrival()) +
                                  "); give a cursor from an earlier watch, or 0 for every event"));
      return out;
    }
    out.watch = true;
    out.cursor = renumbered ? 0 : args->cursor;
    json result{{"cursor", out.cursor},
                {"last", ledger_->last_arrival()},
                {"heartbeat_ms", kWatchHeartbeatMs},
                {"epoch", epoch},
                {"renumbered", renumbered}};
    const auto dropped = std::find_if(dropped_watches_.begin(), dropped_watches_.end(),
                                      [&](const auto& entry) { return entry.first == os_user; });
    if (dropped != dropped_watches_.end()) {
      result["dropped"] = dropped->second;
      dropped_watches_.erase(dropped);
    }
    out.reply = client::MakeOk(req->id, result);
    return out;
  }
  if (req->op == "unwatch") {
    out.unwatch = true;
    out.reply = client::MakeOk(req->id, json::object());
    return out;
  }
  auto result = Dispatch(*req, os_user, &out.mutated);
  out.reply =
      result.ok() ? client::MakeOk(req->id, *result) : client::MakeError(req->id, result.status());
  return out;
}

Result<json> ClientService::Dispatch(const client::Request& req, const std::string& os_user,
                                     bool* mutated) {
  const std::string& op = req.op;
  if (op == "ping") {
    return json{{"site", ledger_->config().site},
                {"runbook", ledger_->runbook_id()},
                {"cursor", ledger_->last_arrival()},
                {"now", ledger_->Now()}};
  }
  if (op == "plan.import" || op == "plan.amend" || op == "site.add" || op == "site.edit" ||
      op == "site.remove" || op == "report" || op == "note" || op == "gate" || op == "undo") {
    if (!writes_held_.empty()) return Status::Unavailable(writes_held_);
    Result<json> r = Status::InvalidArgument("unreachable");
    if (op == "plan.import") r = PlanImport(req, Actor(os_user, ""));
    if (op == "plan.amend") r = PlanAmend(req, Actor(os_user, ""));
    if (op == "site.add") r = SiteAdd(req, Actor(os_user, ""));
    if (op == "site.edit") r = SiteEdit(req, Actor(os_user, ""));
    if (op == "site.remove") r = SiteRemove(req, Actor(os_user, ""));
    if (op == "report") r = Report(req, os_user);
    if (op == "note") r = Note(req, os_user);
    if (op == "gate") r = Gate(req, os_user);
    if (op == "undo") r = Undo(req, os_user);
    *mutated = r.ok();
    return r;
  }
  if (op == "site.list") return SiteList();
  if (op == "sites") {
    if (links_) return links_();
    return json{{"site", ledger_->config().site}, {"links", json::array()}};
  }
  if (op == "status") {
    BATON_ASSIGN_OR_RETURN(client::StatusArgs args, client::ParseStatusArgs(req));
    return StatusSummary(args.digest);
  }
  if (op == "task") return TaskDetail(req);
  if (op == "list" || op == "ready" || op == "late" || op == "blocked" || op == "mine") {
    return List(req, op);
  }
  if (op == "critical") return Critical();
  if (op == "forecast") return Forecast();
  if (op == "export") return Export(req);
  return Status::InvalidArgument("unknown op \"" + op + "\"");
}

std::string ClientService::Actor(const std::string& os_user, const std::string& given) const {
  std::string who =
      (os_user.empty() ? std::string("unknown") : os_user) + "@" + ledger_->config().site;
  if (given.empty() || given == os_user) return who;
  return given + " (" + who + ")";
}

Status ClientService::RequirePlan() const {
  if (ledger_->runbook_id().empty()) {
    return Status::NotFound("no plan has been imported at site " + ledger_->config().site +
                            " (import one with `baton plan import FILE`)");
  }
  return Status::Ok();
}

Status ClientService::MayAmendPlan() const {
  const std::string& site = ledger_->config().site;
  const auto* me = ledger_->projection().RosterEntry(site);
  if (me == nullptr || me->role != crdt::SiteRole::kManager) {
    return Status::Rejected("site " + site +
                            (me == nullptr ? " is not on the plan's roster"
                                           : " is not a manager in the plan's roster") +
                            " and may not amend the plan or the roster; ask a manager");
  }
  return Status::Ok();
}

Status ClientService::MayStartRoster() const {
  const Config& cfg = ledger_->config();
  if (cfg.trust_site.empty()) {
    return Status::Rejected("site " + cfg.site + " has no trust anchor (key \"trust\" in " +
                            cfg.ConfigPath().string() + "): at the manager site add `trust = " +
                            cfg.site + ":" + identity::ToHex(ledger_->public_key()) +
                            "` (its own id and key), elsewhere the manager site's id and key");
  }
  if (cfg.trust_site != cfg.site) {
    return Status::Rejected(
        "site " + cfg.site +
        " does not import the plan: the runbook comes from the manager site \"" + cfg.trust_site +
        "\" over replication (peers in batond.conf); to amend it, ask a manager");
  }
  if (cfg.trust_key != ledger_->public_key()) {
    // The plan would be flagged at every site, this one included: refuse it here.
    return Status::Rejected("the trust anchor in " + cfg.ConfigPath().string() + " names site " +
                            cfg.site + " with the key " + identity::ToHex(cfg.trust_key) +
                            ", but this site's key (identity/site.pub) is " +
                            identity::ToHex(ledger_->public_key()));
  }
  return Status::Ok();
}

Status ClientService::RequireRoster() const {
  BATON_TRY(RequirePlan());
  if (ledger_->projection().roster().empty()) {
    const std::string& anchor = ledger_->config().trust_site;
    return Status::NotFound("no plan is in force at site " + ledger_->config().site +
                            " yet: the roster comes with the manager site's plan (`baton plan "
                            "import FILE` at " +
                            (anchor.empty() ? "the manager site" : "\"" + anchor + "\"") + ")");
  }
  return Status::Ok();
}

std::vector<crdt::EventId> ClientService::HeaderLiveIds() const {
  const auto& proj = ledger_->projection();
  std::vector<crdt::EventId> ids;
  for (const auto& live :
       {proj.name().LiveIds(), proj.timezone().LiveIds(), proj.window_start().LiveIds(),
        proj.window_end().LiveIds(), proj.roster().LiveIds(), proj.teams().LiveIds()}) {
    ids.insert(ids.end(), live.begin(), live.end());
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

Result<crdt::EventId> ClientService::StageRoster(std::vector<crdt::SiteInfo> sites,
                                                 const std::string& actor,
                                                 std::vector<crdt::Fence> fences) {
  const auto& proj = ledger_->projection();
  crdt::PlanDefined def;
  crdt::Plan& plan = def.plan;
  plan.runbook_id = ledger_->runbook_id();
  // The header as shown (the winners): a PlanDefined sets every header field, so the others are
  // written unchanged. The task list stays empty: no task is listed, so none is touched.
  if (const auto* w = proj.name().Winner()) plan.name = w->value;
  if (const auto* w = proj.timezone().Winner()) plan.timezone = w->value;
  if (const auto* w = proj.window_start().Winner()) plan.window_start_ms = w->value;
  if (const auto* w = proj.window_end().Winner()) plan.window_end_ms = w->value;
  if (const auto* w = proj.teams().Winner()) plan.teams = w->value;
  std::sort(sites.begin(), sites.end(),
            [](const crdt::SiteInfo& a, const crdt::SiteInfo& b) { return a.id < b.id; });
  plan.sites = std::move(sites);
  def.supersedes = HeaderLiveIds();
  def.fences = std::move(fences);
  return ledger_->Stage(Draft{actor, std::move(def)});
}

// The rule every replica applies (crdt/task_state.h, MayReport and MayDecide), against the
// roster and plan as this site holds them now.
Status ClientService::MayReportOn(const crdt::TaskSpec& task, bool decide) const {
  const auto& site = ledger_->config().site;
  const auto* me = ledger_->projection().RosterEntry(site);
  if (me == nullptr) {
    return Status::Rejected("site " + site + " is not in the plan's roster");
  }
  if (me->role == crdt::SiteRole::kManager) return Status::Ok();
  if (me->role == crdt::SiteRole::kObserver) {
    return Status::Rejected("site " + site + " is read-only (an observer on the roster)");
  }
  const auto has = [](const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  if (decide && !task.deciders.empty()) {
    if (has(task.deciders, site) ||
        std::any_of(me->teams.begin(), me->teams.end(),
                    [&](const std::string& t) { return has(task.deciders, t); })) {
      return Status::Ok();
    }
    return Status::Rejected("site " + site + " may not decide gate " + task.id +
                            " (its deciders are " + Join(task.deciders, ", ") +
                            ", besides the managers)");
  }
  if (task.site == site || (!task.team.empty() && has(me->teams, task.team))) return Status::Ok();
  return Status::Rejected("site " + site + " may not report on " + task.id +
                          " (it belongs to site " + task.site +
                          (task.team.empty() ? "" : ", team " + task.team) + ")");
}

Result<const crdt::TaskState*> ClientService::ReportableTask(const std::string& id,
                                                             const char* noun) const {
  const crdt::TaskState* task = ledger_->projection().Task(id);
  if (task == nullptr || !task->exists() || task->removed()) {
    return Board::NotInPlan(ledger_->projection(), noun, id);
  }
  BATON_TRY(MayReportOn(task->spec(), std::string_view(noun) == "gate"));
  return task;
}

Result<json> ClientService::PlanImport(const client::Request& req, const std::string& actor) {
  BATON_ASSIGN_OR_RETURN(client::PlanImportArgs args, client::ParsePlanImportArgs(req));
  crdt::Plan& plan = args.plan;
  const auto& cfg = ledger_->config();
  const std::string bound = ledger_->runbook_id();
  if (!bound.empty() && bound != plan.runbook_id) {
    return Status::InvalidArgument("this site holds runbook \"" + bound +
                                   "\"; the plan is for runbook \"" + plan.runbook_id + "\"");
  }
  const auto& proj = ledger_->projection();
  // Who may import: the trust anchor site while no roster is in force (a flagged plan from
  // elsewhere may already have bound the store), then the roster's managers. Either way this
  // site is a manager of the plan it imports, so completing its own entry as one below changes
  // nobody's authority.
  BATON_TRY(proj.roster().empty() ? MayStartRoster() : MayAmendPlan());
  // The roster: keep what the plan says, complete this site's own entry (key and role).
  bool found = false;
  for (auto& s : plan.sites) {
    if (s.id != cfg.site) continue;
    found = true;
    s.public_key = ledger_->public_key();
    s.role = crdt::SiteRole::kManager;
    if (s.name.empty() || s.name == s.id) s.name = cfg.site_name;
  }
  if (!found) {
    plan.sites.push_back(crdt::SiteInfo{
        cfg.site, cfg.site_name, ledger_->public_key(), crdt::SiteRole::kManager, "", {}});
  }
  // Keep the roster keys, roles and endpoints already known for other sites (a plan file lists
  // sites without keys), and the enrolled sites it does not list: the roster is changed with
  // site.add / site.remove, not by re-importing a task list.
  if (const auto* w = proj.roster().Winner()) {
    for (auto& s : plan.sites) {
      for (const auto& old : w->value) {
        if (old.id == s.id && s.id != cfg.site && s.public_key.empty()) {
          s.public_key = old.public_key;
          s.role = old.role;
          if (s.endpoint.empty()) s.endpoint = old.endpoint;
          if (s.teams.empty()) s.teams = old.teams;
          if (s.name.empty() || s.name == s.id) s.name = old.name;
        }
      }
    }
    for (const auto& old : w->value) {
      const bool listed = std::any_of(plan.sites.begin(), plan.sites.end(),
                                      [&](const crdt::SiteInfo& s) { return s.id == old.id; });
      if (!listed) plan.sites.push_back(old);
    }
  }
  {
    // Tasks already here and not listed stay in the plan: check the union is schedulable.
    crdt::Plan after = plan;
    std::set<std::string> listed;
    for (const auto& t : plan.tasks) listed.insert(t.id);
    for (const auto& t : proj.CurrentPlan().tasks) {
      if (!listed.count(t.id)) after.tasks.push_back(t);
    }
    BATON_TRY(CheckSchedulable(after, ledger_->Now()));
  }
  std::sort(plan.sites.begin(), plan.sites.end(),
            [](const crdt::SiteInfo& a, const crdt::SiteInfo& b) { return a.id < b.id; });
  crdt::PlanDefined def;
  def.supersedes = HeaderLiveIds();
  size_t tasks = plan.tasks.size();
  def.plan = std::move(plan);
  BATON_ASSIGN_OR_RETURN(crdt::EventId id, ledger_->Stage(Draft{actor, std::move(def)}));
  return json{{"event", id.ToString()}, {"tasks", tasks}, {"runbook", ledger_->runbook_id()}};
}

Result<json> ClientService::PlanAmend(const client::Request& req, const std::string& actor) {
  BATON_TRY(RequirePlan());
  BATON_TRY(MayAmendPlan());
  BATON_ASSIGN_OR_RETURN(client::PlanAmendArgs args, client::ParsePlanAmendArgs(req));
  const auto& proj = ledger_->projection();
  // Validate everything before staging anything: a bad amendment changes nothing.
  std::set<std::string> known;
  for (const auto& id : proj.TaskIds()) known.insert(id);
  for (const auto& t : args.task_add) {
    if (known.count(t.id))
      return Status::InvalidArgument("task_add: \"" + t.id + "\" already exists");
    known.insert(t.id);
  }
  for (const auto& c : args.task_change) {
    if (!known.count(c.task_id)) {
      return Status::NotFound("task_change: task \"" + c.task_id + "\" is not in the plan");
    }
  }
  for (const auto& r : args.task_remove) {
    if (!known.count(r))
      return Status::NotFound("task_remove: task \"" + r + "\" is not in the plan");
  }
  {
    // The amended plan must still be schedulable (no dependency cycle through old and new
    // tasks): check it whole before anything is written.
    crdt::Plan after = proj.CurrentPlan();
    for (const auto& t : args.task_add) after.tasks.push_back(t);
    for (auto& t : after.tasks) {
      for (const auto& c : args.task_change) {
        if (c.task_id != t.id) continue;
        if (c.patch.duration_ms) t.duration_ms = *c.patch.duration_ms;
        if (c.patch.predecessors) t.predecessors = *c.patch.predecessors;
        if (c.patch.backout_task) t.backout_task = *c.patch.backout_task;
        if (c.patch.deciders) t.deciders = *c.patch.deciders;
      }
    }
    std::erase_if(after.tasks, [&](const crdt::TaskSpec& t) {
      return std::find(args.task_remove.begin(), args.task_remove.end(), t.id) !=
             args.task_remove.end();
    });
    BATON_TRY(CheckSchedulable(after, ledger_->Now()));
  }
  json events = json::array();
  if (args.name || args.window_start_ms || args.window_end_ms) {
    crdt::PlanAmended a;
    a.name = args.name;
    a.window_start_ms = args.window_start_ms;
    a.window_end_ms = args.window_end_ms;
    a.supersedes = proj.window_end().LiveIds();
    BATON_ASSIGN_OR_RETURN(crdt::EventId id, ledger_->Stage(Draft{actor, std::move(a)}));
    events.push_back(id.ToString());
  }
  for (auto& t : args.task_add) {
    BATON_ASSIGN_OR_RETURN(crdt::EventId id, ledger_->Stage(Draft{actor, crdt::TaskAdded{t}}));
    events.push_back(id.ToString());
  }
  for (auto& c : args.task_change) {
    crdt::TaskChanged ch;
    ch.task_id = c.task_id;
    ch.patch = c.patch;
    // Supersede the edits of this task the author can see.
    if (const auto* t = proj.Task(c.task_id)) ch.supersedes = t->LiveEditIds();
    BATON_ASSIGN_OR_RETURN(crdt::EventId id, ledger_->Stage(Draft{actor, std::move(ch)}));
    events.push_back(id.ToString());
  }
  for (auto& r : args.task_remove) {
    BATON_ASSIGN_OR_RETURN(crdt::EventId id, ledger_->Stage(Draft{actor, crdt::TaskRemoved{r}}));
    events.push_back(id.ToString());
  }
  if (events.empty()) return Status::InvalidArgument("plan.amend: nothing to change");
  return json{{"events", events}};
}

Result<json> ClientService::SiteAdd(const client::Request& req, const std::string& actor) {
  BATON_TRY(RequireRoster());
  BATON_TRY(MayAmendPlan());
  BATON_ASSIGN_OR_RETURN(client::SiteAddArgs args, client::ParseSiteAddArgs(req));
  crdt::SiteInfo& site = args.site;
  std::vector<crdt::SiteInfo> roster = ledger_->projection().roster().Winner()->value;
  crdt::SiteInfo* listed = nullptr;
  for (auto& s : roster) {
    if (s.id == site.id) listed = &s;
    if (s.id != site.id && s.public_key == site.public_key) {
      return Status::Rejected("site.add: this key is already the key of site \"" + s.id +
                              "\" (each site has its own `batond init` identity)");
    }
  }
  if (listed != nullptr && !listed->public_key.empty()) {
    return Status::Rejected(
        "site.add: site \"" + site.id + "\" is already on the roster (" +
        client::SiteRoleName(listed->role) + ", key " +
        identity::ToHex(listed->public_key).substr(0, 16) +
        "...); to change its role, teams, name or endpoint use `baton site edit " + site.id +
        "`; to change its key, remove it (`baton site remove " + site.id + "`), then add it again");
  }
  const bool enrolled = listed != nullptr;
  if (enrolled) {
    // Listed by the plan file (a task's site) but not enrolled yet: enrol it in place.
    if (site.name.empty()) site.name = listed->name;
    if (site.endpoint.empty()) site.endpoint = listed->endpoint;
  }
  if (site.name.empty()) site.name = site.id;
  if (enrolled) {
    *listed = site;
  } else {
    roster.push_back(site);
  }
  BATON_ASSIGN_OR_RETURN(crdt::EventId id, StageRoster(std::move(roster), actor));
  return json{{"event", id.ToString()},
              {"site", site.id},
              {"role", client::SiteRoleName(site.role)},
              {"teams", site.teams},
              {"enrolled", enrolled}};
}

Result<json> ClientService::SiteEdit(const client::Request& req, const std::string& actor) {
  BATON_TRY(RequireRoster());
  BATON_TRY(MayAmendPlan());
  BATON_ASSIGN_OR_RETURN(client::SiteEditArgs args, client::ParseSiteEditArgs(req));
  std::vector<crdt::SiteInfo> roster = ledger_->projection().roster().Winner()->value;
  const auto it = std::find_if(roster.begin(), roster.end(),
                               [&](const crdt::SiteInfo& s) { return s.id == args.site; });
  if (it == roster.end() || it->public_key.empty()) {
    return Status::NotFound("site.edit: site \"" + args.site + "\" is not " +
                            (it == roster.end() ? "on the roster" : "enrolled yet") +
                            " (enrol it with `baton site add " + args.site + " --key HEX`)");
  }
  crdt::SiteInfo& site = *it;
  const crdt::SiteInfo before = site;
  if (args.name) site.name = args.name->empty() ? site.id : *args.name;
  if (args.endpoint) site.endpoint = *args.endpoint;
  if (args.teams) site.teams = *args.teams;
  if (args.role) site.role = *args.role;
  if (site == before) {
    return Status::InvalidArgument("site.edit: site \"" + args.site +
                                   "\" already has that name, role, endpoint and teams");
  }
  if (site.role != crdt::SiteRole::kManager && before.role == crdt::SiteRole::kManager) {
    if (site.id == ledger_->config().trust_site) {
      return Status::Rejected("site.edit: site \"" + site.id +
                              "\" is the trust anchor: it stays a manager");
    }
    if (std::none_of(roster.begin(), roster.end(),
                     [](const crdt::SiteInfo& s) { return s.role == crdt::SiteRole::kManager; })) {
      return Status::Rejected("site.edit: site \"" + site.id +
                              "\" is the last manager on the roster: add another manager first");
    }
  }
  // In place, without a fence: the site's events keep counting as they did, judged as of each
  // by the roster then in force (the edit is one more roster change).
  json result{{"site", site.id},
              {"name", site.name},
              {"role", client::SiteRoleName(site.role)},
              {"endpoint", site.endpoint},
              {"teams", site.teams}};
  BATON_ASSIGN_OR_RETURN(crdt::EventId id, StageRoster(std::move(roster), actor));
  result["event"] = id.ToString();
  return result;
}

Result<json> ClientService::SiteRemove(const client::Request& req, const std::string& actor) {
  BATON_TRY(RequireRoster());
  BATON_TRY(MayAmendPlan());
  BATON_ASSIGN_OR_RETURN(client::SiteRemoveArgs args, client::ParseSiteRemoveArgs(req));
  const auto& proj = ledger_->projection();
  std::vector<crdt::SiteInfo> roster = proj.roster().Winner()->value;
  const auto is_removed = [&](const crdt::SiteInfo& s) { return s.id == args.site; };
  if (std::none_of(roster.begin(), roster.end(), is_removed)) {
    return Status::NotFound("site.remove: site \"" + args.site +
                            "\" is not on the roster (see `baton site ls`)");
  }
  if (args.site == ledger_->config().trust_site) {
    return Status::Rejected("site.remove: site \"" + args.site +
                            "\" is the trust anchor (every site's batond.conf names it as "
                            "`trust`): it stays on the roster");
  }
  std::erase_if(roster, is_removed);
  if (std::none_of(roster.begin(), roster.end(),
                   [](const crdt::SiteInfo& s) { return s.role == crdt::SiteRole::kManager; })) {
    return Status::Rejected("site.remove: site \"" + args.site +
                            "\" is the last manager on the roster: add another manager first "
                            "(`baton site add ID --key HEX --role manager`)");
  }
  // Its tasks stay in the plan; only a manager may report on them now. Say how many.
  size_t assigned = 0;
  for (const auto& task_id : proj.TaskIds()) {
    if (proj.Task(task_id)->spec().site == args.site) ++assigned;
  }
  // Its chain is fenced at what this site holds of it: what it makes later does not count,
  // whatever clock it stamps (docs/replication.md#removing-a-site).
  const uint64_t fence = proj.version_vector().Seen(args.site);
  BATON_ASSIGN_OR_RETURN(crdt::EventId id,
                         StageRoster(std::move(roster), actor, {crdt::Fence{args.site, fence}}));
  return json{{"event", id.ToString()},
              {"site", args.site},
              {"assigned_tasks", assigned},
              {"fenced_at", fence}};
}

Result<json> ClientService::SiteList() const {
  const Config& cfg = ledger_->config();
  const auto& proj = ledger_->projection();
  json sites = json::array();
  if (const auto* w = proj.roster().Winner()) {
    for (const auto& s : w->value) {
      json site = SiteJson(s);
      site["anchor"] = s.id == cfg.trust_site;
      site["self"] = s.id == cfg.site;
      sites.push_back(std::move(site));
    }
  }
  json trust = nullptr;
  if (!cfg.trust_site.empty()) {
    trust = {{"site", cfg.trust_site}, {"key", identity::ToHex(cfg.trust_key)}};
  }
  return json{{"site", cfg.site},
              {"trust", trust},
              {"sites", sites},
              {"conflict", proj.roster().InConflict()}};
}

namespace {

BackoutMode ModeOf(const crdt::Schedule& s) {
  BackoutMode mode;
  mode.backing_out = s.backing_out;
  if (!s.backing_out) return mode;
  mode.since_ms = s.backout_start_ms;
  mode.trigger = s.backout_trigger;
  const crdt::TaskSchedule* trigger = s.Find(s.backout_trigger);
  mode.trigger_is_gate = trigger != nullptr && !trigger->backout;
  for (const crdt::TaskSchedule& t : s.tasks) {
    if (t.backout && !t.needed) mode.unneeded.insert(t.id);
  }
  return mode;
}

// The note of a forced report: the reason first, so that the event says why it went against
// the plan.
std::string ForcedNote(bool force, const std::string& reason, const std::string& note) {
  if (!force) return note;
  return "forced: " + reason + (note.empty() ? "" : "; " + note);
}

// A forced reply says what it went past (null if nothing was contradicted).
void MarkForced(json& reply, bool force, const std::string& against) {
  if (force) reply["forced"] = against.empty() ? json(nullptr) : json(against);
}

}  // namespace

Result<json> ClientService::Report(const client::Request& req, const std::string& os_user) {
  BATON_TRY(RequirePlan());
  BATON_ASSIGN_OR_RETURN(client::ReportArgs args, client::ParseReportArgs(req));
  // A gate is decided, not reported; a reset withdraws its decision, as its deciders may.
  const crdt::TaskState* probe = ledger_->projection().Task(args.task_id);
  const bool gate = probe != nullptr && probe->exists() && !probe->removed() &&
                    probe->spec().kind == crdt::TaskKind::kGate;
  if (gate && args.kind != crdt::ReportKind::kReset) {
    return Status::InvalidArgument(
        "task \"" + args.task_id + "\" is a go/no-go gate: decide it with `baton gate " +
        args.task_id + " go` (or no-go); `baton reset " + args.task_id + "` withdraws a decision");
  }
  BATON_ASSIGN_OR_RETURN(const crdt::TaskState* task,
                         ReportableTask(args.task_id, gate ? "gate" : "task"));
  if (gate && task->GateWinner() == nullptr) {
    // A decision made elsewhere and not yet here would not be withdrawn either.
    return Status::InvalidArgument("gate \"" + args.task_id +
                                   "\" has no decision to withdraw (at this site)");
  }
  BATON_TRY(CheckNotFuture("report", args.effective_ms, ledger_->Now()));
  // A finish before the start it ends would give a negative actual duration.
  const bool finishes = args.kind == crdt::ReportKind::kDone ||
                        args.kind == crdt::ReportKind::kFailed ||
                        args.kind == crdt::ReportKind::kSkipped;
  if (finishes && args.effective_ms != crdt::kNoTime &&
      task->status() == crdt::TaskStatus::kRunning && task->actual_start_ms() != crdt::kNoTime &&
      args.effective_ms < task->actual_start_ms()) {
    return Status::InvalidArgument("report: \"at\" " + client::FormatIsoTime(args.effective_ms) +
                                   " is before task \"" + args.task_id + "\" started (" +
                                   client::FormatIsoTime(task->actual_start_ms()) + ")");
  }
  // The schedule (a whole-plan pass) only while backing out, which a scan tells.
  BackoutMode mode;
  if (Board::BackingOut(ledger_->projection())) {
    BATON_ASSIGN_OR_RETURN(crdt::Schedule schedule, CurrentSchedule(ledger_->Now()));
    mode = ModeOf(schedule);
  }
  const std::string against = ReportContradiction(
      ledger_->projection(), *task, args.kind,
      args.effective_ms != crdt::kNoTime ? args.effective_ms : ledger_->Now(), mode);
  if (!against.empty() && !args.force) {
    return Status::Rejected(
        against + "; use --force --reason TEXT to " +
        (args.kind == crdt::ReportKind::kStarted ? "start it" : "report it done") + " anyway");
  }
  crdt::TaskReported r;
  r.task_id = args.task_id;
  r.kind = args.kind;
  r.effective_ms = args.effective_ms;
  r.note = ForcedNote(args.force, args.reason, args.note);
  r.supersedes = task->LiveReportIds();
  const crdt::GateDecision* decided = gate ? task->GateWinner() : nullptr;
  json withdrawn;
  if (decided != nullptr) {
    withdrawn = {{"event", decided->id.ToString()}, {"go", decided->go}};
    for (const crdt::EventId& g : task->LiveGateIds()) r.supersedes.push_back(g);
    std::sort(r.supersedes.begin(), r.supersedes.end());
  }
  BATON_ASSIGN_OR_RETURN(crdt::EventId id,
                         ledger_->Stage(Draft{Actor(os_user, args.actor), std::move(r)}));
  const crdt::TaskState* after = ledger_->projection().Task(args.task_id);
  json reply{{"event", id.ToString()},
             {"task", args.task_id},
             // The task's own status; readiness (a whole-plan pass) is left to queries.
             {"status", after != nullptr ? crdt::TaskStatusName(after->status()) : "pending"},
             {"conflict", after != nullptr && after->StatusConflict()}};
  if (gate) reply["withdrawn"] = withdrawn;  // The decision the reset withdrew.
  MarkForced(reply, args.force, against);
  return reply;
}

Result<json> ClientService::Note(const client::Request& req, const std::string& os_user) {
  BATON_TRY(RequirePlan());
  BATON_ASSIGN_OR_RETURN(client::NoteArgs args, client::ParseNoteArgs(req));
  if (!args.task_id.empty()) {
    const crdt::TaskState* task = ledger_->projection().Task(args.task_id);
    if (task == nullptr || !task->exists()) {
      return Board::NotInPlan(ledger_->projection(), "task", args.task_id);
    }
  } else if (const crdt::TaskState* t = ledger_->projection().Task(args.text);
             t != nullptr && t->exists() && !t->removed()) {
    // `baton note T-045` without the text: not a note on the runbook that reads "T-045".
    return Status::InvalidArgument("the note's text \"" + args.text +
                                   "\" is a task id: give the text after it (`baton note " +
                                   args.text + " TEXT`)");
  }
  crdt::NoteAdded n{args.task_id, args.text};
  BATON_ASSIGN_OR_RETURN(crdt::EventId id,
                         ledger_->Stage(Draft{Actor(os_user, args.actor), std::move(n)}));
  return json{{"event", id.ToString()}};
}

Result<json> ClientService::Gate(const client::Request& req, const std::string& os_user) {
  BATON_TRY(RequirePlan());
  BATON_ASSIGN_OR_RETURN(client::GateArgs args, client::ParseGateArgs(req));
  BATON_ASSIGN_OR_RETURN(const crdt::TaskState* task, ReportableTask(args.task_id, "gate"));
  if (task->spec().kind != crdt::TaskKind::kGate) {
    std::vector<std::string> gates;
    ledger_->projection().ForEachTask([&](const crdt::TaskState& t) {
      if (t.spec().kind == crdt::TaskKind::kGate && !t.spec().is_backout) gates.push_back(t.id());
    });
    std::sort(gates.begin(), gates.end());
    return Status::InvalidArgument(
        "task \"" + args.task_id + "\" is not a go/no-go gate (" +
        (gates.empty() ? "the plan has none" : "the plan's: " + Join(gates, ", ")) + ")");
  }
  BATON_TRY(CheckNotFuture("gate", args.effective_ms, ledger_->Now()));
  const std::string against =
      GateContradiction(ledger_->projection(), *task,
                        args.effective_ms != crdt::kNoTime ? args.effective_ms : ledger_->Now());
  if (!against.empty() && !args.force) {
    return Status::Rejected(against + "; use --force --reason TEXT to decide the gate anyway");
  }
  crdt::GateDecided g;
  g.task_id = args.task_id;
  g.go = args.go;
  g.effective_ms = args.effective_ms;
  g.note = ForcedNote(args.force, args.reason, args.note);
  g.supersedes = task->LiveGateIds();
  BATON_ASSIGN_OR_RETURN(crdt::EventId id,
                         ledger_->Stage(Draft{Actor(os_user, args.actor), std::move(g)}));
  json reply{{"event", id.ToString()}, {"gate", args.task_id}, {"go", args.go}};
  MarkForced(reply, args.force, against);
  return reply;
}

Result<json> ClientService::Undo(const client::Request& req, const std::string& os_user) {
  BATON_TRY(RequirePlan());
  BATON_ASSIGN_OR_RETURN(client::UndoArgs args, client::ParseUndoArgs(req));
  const std::string name = args.event.ToString();
  auto found = ledger_->EventById(args.event);
  if (!found.ok())
    return Status::NotFound("event " + name + " is not at site " + ledger_->config().site);
  const crdt::Event& e = *found;
  const auto* report = std::get_if<crdt::TaskReported>(&e.body);
  const auto* decision = std::get_if<crdt::GateDecided>(&e.body);
  if (report == nullptr && decision == nullptr) {
    return Status::InvalidArgument("event " + name + " is a " + crdt::BodyKindName(e.body) +
                                   ": only reports and gate decisions are undone (the plan is "
                                   "corrected with `baton plan amend`)");
  }
  const std::string& task_id = report != nullptr ? report->task_id : decision->task_id;
  BATON_ASSIGN_OR_RETURN(const crdt::TaskState* task,
                         ReportableTask(task_id, decision != nullptr ? "gate" : "task"));
  // Only what is in force: a superseded event's effect is gone already.
  const std::vector<crdt::EventId> live =
      decision != nullptr ? task->LiveGateIds() : task->LiveReportIds();
  if (std::find(live.begin(), live.end(), args.event) == live.end()) {
    std::vector<std::string> in_force;
    for (const auto& id : live) in_force.push_back(id.ToString());
    const std::string now = Join(in_force, ", ");
    return Status::InvalidArgument("event " + name + " is no longer in force on " + task_id +
                                   (now.empty() ? std::string() : " (" + now + " is)") +
                                   "; undo what is, or report anew");
  }
  // What it replaced: the latest of the events of its register that it superseded.
  const auto& superseded = report != nullptr ? report->supersedes : decision->supersedes;
  std::optional<crdt::Event> previous;
  for (const crdt::EventId& id : superseded) {
    auto p = ledger_->EventById(id);
    if (!p.ok()) continue;
    const bool same = decision != nullptr ? std::holds_alternative<crdt::GateDecided>(p->body)
                                          : std::holds_alternative<crdt::TaskReported>(p->body);
    const auto key = [](const crdt::Event& x) {
      return std::tie(x.hlc.wall_ms, x.hlc.logical, x.origin, x.seq);
    };
    if (same && (!previous || key(*p) > key(*previous))) previous = std::move(*p);
  }
  const std::string note = "undo of " + name + ": " + args.reason;
  const std::string actor = Actor(os_user, args.actor);
  const auto time_of = [](const crdt::Event& x, int64_t effective) {
    return effective != crdt::kNoTime ? effective : x.hlc.wall_ms;
  };
  json reply{{"undone", name}, {"task", task_id}};
  crdt::EventId id;
  if (decision != nullptr && previous) {
    const auto& p = std::get<crdt::GateDecided>(previous->body);
    crdt::GateDecided g{task_id, p.go, time_of(*previous, p.effective_ms), note,
                        task->LiveGateIds()};
    BATON_ASSIGN_OR_RETURN(id, ledger_->Stage(Draft{actor, std::move(g)}));
    reply["restored"] = previous->id().ToString();
  } else {
    crdt::TaskReported r;
    r.task_id = task_id;
    r.kind = crdt::ReportKind::kReset;
    r.note = note;
    r.supersedes = task->LiveReportIds();
    if (decision != nullptr) {  // The first decision: the gate is undecided again.
      for (const crdt::EventId& g : task->LiveGateIds()) r.supersedes.push_back(g);
      std::sort(r.supersedes.begin(), r.supersedes.end());
      reply["restored"] = nullptr;
    } else if (previous) {  // The report it replaced, at its time.
      const auto& p = std::get<crdt::TaskReported>(previous->body);
      r.kind = p.kind;
      r.effective_ms = time_of(*previous, p.effective_ms);
      reply["restored"] = previous->id().ToString();
    } else {
      reply["restored"] = nullptr;  // The first report: back to pending.
    }
    BATON_ASSIGN_OR_RETURN(id, ledger_->Stage(Draft{actor, std::move(r)}));
  }
  reply["event"] = id.ToString();
  const crdt::TaskState* after = ledger_->projection().Task(task_id);
  if (decision != nullptr) {
    const crdt::GateDecision* g = after != nullptr ? after->GateWinner() : nullptr;
    reply["gate"] = g == nullptr ? json(nullptr) : json(g->go ? "go" : "no-go");
  }
  reply["status"] = after != nullptr ? crdt::TaskStatusName(after->status()) : "pending";
  return reply;
}

Board ClientService::BoardAt(int64_t now_ms) {
  Board board(ledger_->projection(), now_ms, ledger_->config().site, ledger_->runbook_id(),
              [this](const crdt::EventId& id) { return ledger_->EventById(id); });
  return board;
}

Result<crdt::Schedule> ClientService::CurrentSchedule(int64_t now_ms) {
  const Ledger::StateVersion version = ledger_->state_version();
  const int64_t second = now_ms / 1000;
  if (cached_ && cached_version_ == version && cached_second_ == second) return *cached_;
  BATON_ASSIGN_OR_RETURN(crdt::Schedule s, BoardAt(now_ms).Schedule());
  cached_ = s;
  cached_version_ = version;
  cached_second_ = second;
  return s;
}

// The live board now, with the schedule cached across requests.
Result<Board> ClientService::LiveBoard() {
  const int64_t now = ledger_->Now();
  Board board = BoardAt(now);
  BATON_ASSIGN_OR_RETURN(crdt::Schedule s, CurrentSchedule(now));
  board.UseSchedule(std::move(s));
  return board;
}

Result<json> ClientService::StatusSummary(bool with_digest) {
  BATON_ASSIGN_OR_RETURN(Board board, LiveBoard());
  BATON_ASSIGN_OR_RETURN(json result, board.Summary());
  // What only the running daemon knows; the rest is the board (daemon/service/board.h).
  result["cursor"] = ledger_->last_arrival();
  // On request only: the digest hashes the whole canonical state, a full pass per new event.
  if (with_digest) result["digest"] = ledger_->StateDigest();
  if (clients_) result["clients"] = clients_();
  if (ledger_->runbook_id().empty()) return result;
  // Replication at a glance; `sites` has the detail per link.
  uint64_t rejected = 0;
  for (const auto& [origin, n] : ledger_->rejected_by_origin()) rejected += n;
  json replication{{"forks", ledger_->fork_count()}, {"rejected", rejected}};
  if (links_) {
    const json links = links_();
    int live = 0, total_links = 0;
    json down = json::array();
    for (const auto& l : links["links"]) {
      ++total_links;
      if (l["state"] == "live" || l["state"] == "syncing") {
        ++live;
      } else {
        down.push_back(l["site"]);
      }
    }
    replication["links"] = total_links;
    replication["links_up"] = live;
    replication["down"] = down;
  }
  result["replication"] = replication;
  result["rejoining"] = !writes_held_.empty();
  const Ledger::Scrub& scrub = ledger_->scrub();
  result["integrity"] = {{"checked", scrub.cursor},
                         {"passes", scrub.passes},
                         {"last_pass_events", scrub.last_pass_events},
                         {"last_pass_ms", scrub.last_pass_ms},
                         {"damage", scrub.damage.ok() ? "" : scrub.damage.message()}};
  // This site's timestamps ran ahead of its clock (accepted with `batond run --clock-ran-ahead`).
  result["clock_ahead_ms"] = ledger_->clock_ahead_ms();
  return result;
}

Result<json> ClientService::TaskDetail(const client::Request& req) {
  BATON_TRY(RequirePlan());
  BATON_ASSIGN_OR_RETURN(client::TaskArgs args, client::ParseTaskArgs(req));
  BATON_ASSIGN_OR_RETURN(Board board, LiveBoard());
  return board.Task(args.task_id);
}

Result<json> ClientService::List(const client::Request& req, const std::string& filter) {
  BATON_TRY(RequirePlan());
  client::ListArgs args;
  if (filter == "list" || filter == "mine") {
    BATON_ASSIGN_OR_RETURN(args, client::ParseListArgs(req));
  }
  BATON_ASSIGN_OR_RETURN(Board board, LiveBoard());
  return board.List(std::move(args), filter);
}

Result<json> ClientService::Critical() {
  BATON_TRY(RequirePlan());
  BATON_ASSIGN_OR_RETURN(Board board, LiveBoard());
  return board.Critical();
}

Result<json> ClientService::Forecast() {
  BATON_TRY(RequirePlan());
  BATON_ASSIGN_OR_RETURN(Board board, LiveBoard());
  return board.Forecast();
}

void ClientService::NoteDroppedWatch(const std::string& os_user, std::string reason) {
  std::erase_if(dropped_watches_, [&](const auto& entry) { return entry.first == os_user; });
  dropped_watches_.emplace_back(os_user, std::move(reason));
  if (dropped_watches_.size() > 64) dropped_watches_.pop_front();
}

Result<json> ClientService::Export(const client::Request& req) {
  BATON_ASSIGN_OR_RETURN(client::ExportArgs args, client::ParseExportArgs(req));
  const uint64_t last = ledger_->last_arrival();
  if (args.after > last) {
    return Status::InvalidArgument("field \"after\": " + std::to_string(args.after) +
                                   " is past the last arrival at site " + ledger_->config().site +
                                   " (" + std::to_string(last) + ")");
  }
  // One page: the client asks for the next one with "after": next. A client that has gone
  // costs at most the page it asked for.
  json events = json::array();
  uint64_t cursor = args.after;
  size_t bytes = 0;
  std::vector<Ledger::ServedEvent> served;
  BATON_TRY(ledger_->ReadServed(cursor, client::kExportPageEvents, &served,
                                client::kExportPageBytes / 3));
  for (const auto& e : served) {
    // At least one event per page, however large.
    if (!events.empty() && bytes + 3 * e.envelope.size() > client::kExportPageBytes) break;
    json j = EventJson(e.event, e.arrival);
    j["envelope_hex"] = identity::ToHex(e.envelope);
    j["hash"] = identity::HashHex(e.hash);
    j["arrived_ms"] = e.arrived_ms;
    bytes += 3 * e.envelope.size();
    events.push_back(std::move(j));
    cursor = e.arrival;
  }
  const bool more = cursor < last;
  json out{{"site", ledger_->config().site},
           {"runbook", ledger_->runbook_id()},
           {"events", std::move(events)},
           {"next", cursor},
           {"last", last},
           {"more", more}};
  // What a bundle needs besides the events, as the whole export ends: on the last page.
  if (!more) {
    out["digest"] = ledger_->StateDigest();
    BATON_ASSIGN_OR_RETURN(json roster, SiteList());
    out["trust"] = roster["trust"];
    // Removed sites too, for their keys: they verify what those sites signed.
    for (const crdt::SiteInfo& s : ledger_->projection().FormerSites()) {
      json site = SiteJson(s);
      site["removed"] = true;
      roster["sites"].push_back(std::move(site));
    }
    out["roster"] = roster["sites"];
    std::vector<store::StoredEvent> forks;
    BATON_TRY(ledger_->store().ScanForks(&forks));
    json kept = json::array();
    for (const store::StoredEvent& fork : forks) {
      kept.push_back(
          {{"event", fork.id.ToString()}, {"envelope_hex", identity::ToHex(fork.envelope)}});
    }
    out["forks"] = std::move(kept);
  }
  return out;
}

json ClientService::EventJson(const crdt::Event& e, uint64_t arrival) const {
  json j = client::ToJson(e);
  j["arrival"] = arrival;
  return j;
}

}  // namespace baton::daemon
