// The client service: turns parsed client requests into ledger events and query results.
// Accepts every op of docs/client-protocol.md except the transport-level ones (watch/unwatch are
// answered here but streamed by the daemon loop). Mutating requests are only Staged on the
// ledger: the caller must Commit() before sending any reply of the batch (ack = durable).
// Owned by the loop thread; not thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "client/protocol.h"
#include "crdt/schedule.h"
#include "crdt/status.h"
#include "crdt/task_state.h"
#include "daemon/ledger.h"

namespace baton::daemon {

// How often the daemon sends a heartbeat on an idle watch stream (announced in the watch reply).
inline constexpr int64_t kWatchHeartbeatMs = 2000;

class ClientService {
 public:
  explicit ClientService(Ledger* ledger) : ledger_(ledger) {}

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

  // The schedule for the current state at `now_ms` (cached per event count and second).
  Result<crdt::Schedule> CurrentSchedule(int64_t now_ms);
  // A JSON description of one event, as pushed to watchers and shown in history.
  nlohmann::json EventJson(const crdt::Event& e, uint64_t arrival) const;

 private:
  Result<nlohmann::json> Dispatch(const client::Request& req, const std::string& os_user,
                                  bool* mutated);
  Result<nlohmann::json> PlanImport(const client::Request& req, const std::string& actor);
  Result<nlohmann::json> PlanAmend(const client::Request& req, const std::string& actor);
  Result<nlohmann::json> Report(const client::Request& req, const std::string& os_user);
  Result<nlohmann::json> Note(const client::Request& req, const std::string& os_user);
  Result<nlohmann::json> Gate(const client::Request& req, const std::string& os_user);
  Result<nlohmann::json> StatusSummary(bool with_digest);
  Result<nlohmann::json> TaskDetail(const client::Request& req);
  Result<nlohmann::json> List(const client::Request& req, const std::string& filter);
  Result<nlohmann::json> Critical();
  Result<nlohmann::json> Forecast();
  Result<nlohmann::json> Export();

  std::string Actor(const std::string& os_user, const std::string& given) const;
  Status RequirePlan() const;
  Status MayReportOn(const crdt::TaskSpec& task) const;
  // The task `id` if it is in the plan and this site may report on it; `noun` names it in errors.
  Result<const crdt::TaskState*> ReportableTask(const std::string& id, const char* noun) const;
  Status MayAmendPlan() const;
  crdt::ScheduleInput MakeScheduleInput(int64_t now_ms) const;
  nlohmann::json TaskRow(const crdt::TaskSpec& spec, const crdt::TaskSchedule* sched) const;
  nlohmann::json ForecastJson(const crdt::Schedule& s) const;

  Ledger* ledger_;  // Not owned; outlives the service.
  std::optional<crdt::Schedule> cached_;
  uint64_t cached_events_ = UINT64_MAX;
  int64_t cached_second_ = 0;
};

}  // namespace baton::daemon
