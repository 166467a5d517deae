// The client service: turns parsed client requests into ledger events and query results.
// Accepts every op of docs/client-protocol.md except the transport-level ones (watch/unwatch are
// answered here but streamed by the daemon loop). Mutating requests are only Staged on the
// ledger: the caller must Commit() before sending any reply of the batch (ack = durable).
// Authorization mirrors the projection's (DESIGN.md "Trust and authorization"), so that what is
// refused here would be flagged everywhere: only the trust anchor site imports the first plan;
// after that, only managers on the roster amend the plan or the roster (site.add/remove).
// Owned by the loop thread; not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "client/protocol.h"
#include "crdt/schedule.h"
#include "crdt/status.h"
#include "crdt/task_state.h"
#include "daemon/ledger.h"
#include "daemon/service/board.h"

namespace baton::daemon {

// How often the daemon sends a heartbeat on an idle watch stream (announced in the watch reply).
inline constexpr int64_t kWatchHeartbeatMs = 2000;

class ClientService {
 public:
  explicit ClientService(Ledger* ledger) : ledger_(ledger) {}

  // The `sites` op's answer (the replicator's links), provided by the daemon; unset: no peers.
  void set_links(std::function<nlohmann::json()> links) { links_ = std::move(links); }
  // `status`'s `clients`: what the daemon holds for its client connections (back-pressure).
  void set_clients(std::function<nlohmann::json()> clients) { clients_ = std::move(clients); }
  // While `reason` is not empty, every op that would append an event is refused with
  // kUnavailable and this reason (a restarted site learning its own head from its peers).
  void set_writes_held(std::string reason) { writes_held_ = std::move(reason); }
  // A watch of `os_user` was ended because its client did not read: the next watch request of
  // that user gets `reason` in its reply ("dropped") once. The most recent 64 users are kept.
  void NoteDroppedWatch(const std::string& os_user, std::string reason);

  struct Outcome {
    std::string reply;     // The JSON reply to send (after Commit if `mutated`).
    bool mutated = false;  // Staged at least one event.
    bool watch = false;    // A watch request: the loop starts a stream at `cursor`.
    bool unwatch = false;
    uint64_t cursor = 0;
    std::string request_id;
  };

  // Handles one request text from `os_user` (as ZeroMQ reported it; "" if unknown).
  Outcome Handle(std::string_view text, const std::string& os_user);

  // The schedule for the current state at `now_ms` (cached per state version and second).
  Result<crdt::Schedule> CurrentSchedule(int64_t now_ms);
  // A JSON description of one event, as pushed to watchers and shown in history.
  nlohmann::json EventJson(const crdt::Event& e, uint64_t arrival) const;

 private:
  Outcome HandleRequest(std::string_view text, const std::string& os_user);
  Result<nlohmann::json> Dispatch(const client::Request& req, const std::string& os_user,
                                  bool* mutated);
  Result<nlohmann::json> PlanImport(const client::Request& req, const std::string& actor);
  Result<nlohmann::json> PlanAmend(const client::Request& req, const std::string& actor);
  Result<nlohmann::json> SiteAdd(const client::Request& req, const std::string& actor);
  Result<nlohmann::json> SiteEdit(const client::Request& req, const std::string& actor);
  Result<nlohmann::json> SiteRemove(const client::Request& req, const std::string& actor);
  Result<nlohmann::json> SiteList() const;
  Result<nlohmann::json> Report(const client::Request& req, const std::string& os_user);
  Result<nlohmann::json> Note(const client::Request& req, const std::string& os_user);
  Result<nlohmann::json> Gate(const client::Request& req, const std::string& os_user);
  // A correction: the task (or gate) back to what the undone event replaced.
  Result<nlohmann::json> Undo(const client::Request& req, const std::string& os_user);
  Result<nlohmann::json> StatusSummary(bool with_digest);
  Result<nlohmann::json> TaskDetail(const client::Request& req);
  Result<nlohmann::json> List(const client::Request& req, const std::string& filter);
  Result<nlohmann::json> Critical();
  Result<nlohmann::json> Forecast();
  Result<nlohmann::json> Export(const client::Request& req);

  std::string Actor(const std::string& os_user, const std::string& given) const;
  Status RequirePlan() const;
  // Whether this site may report on `task` (decide: decide it, a gate).
  Status MayReportOn(const crdt::TaskSpec& task, bool decide) const;
  // The task `id` if it is in the plan and this site may report on it (noun "gate": decide it);
  // `noun` names it in errors.
  Result<const crdt::TaskState*> ReportableTask(const std::string& id, const char* noun) const;
  // Plan changes once a roster is in force: this site must be a manager on it.
  Status MayAmendPlan() const;
  // The first plan, while no roster is in force: only the trust anchor site may import it.
  Status MayStartRoster() const;
  // kNotFound unless a roster is in force (a counted plan): site.add/remove amend it.
  Status RequireRoster() const;
  // Ids of every live header value (name, timezone, window, roster, teams): what a new plan
  // definition supersedes, so that it leaves no concurrent header value behind.
  std::vector<crdt::EventId> HeaderLiveIds() const;
  // Stages a roster change: a PlanDefined with the current header, `sites` (sorted by id) and
  // no tasks, superseding HeaderLiveIds(). The tasks are untouched.
  Result<crdt::EventId> StageRoster(std::vector<crdt::SiteInfo> sites, const std::string& actor,
                                    std::vector<crdt::Fence> fences = {});
  // The board of the ledger's projection at `now_ms`; LiveBoard: now, with the cached schedule.
  Board BoardAt(int64_t now_ms);
  Result<Board> LiveBoard();

  Ledger* ledger_;  // Not owned; outlives the service.
  std::function<nlohmann::json()> links_;
  std::function<nlohmann::json()> clients_;
  std::string writes_held_;
  std::deque<std::pair<std::string, std::string>> dropped_watches_;  // (os user, reason).
  std::optional<crdt::Schedule> cached_;
  Ledger::StateVersion cached_version_;
  int64_t cached_second_ = 0;
};

}  // namespace baton::daemon
