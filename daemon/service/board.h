// The board: what `status`, `list` (and ready, late, blocked, mine), `task`, `critical` and
// `forecast` answer (docs/client-protocol.md), computed from a projection at a moment. The live
// daemon reads it from its projection now (ClientService); baton-audit replay reads it from the
// projection the log folds to as of a past moment, so that a replayed board is the board a site
// showed then, field for field.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "client/protocol.h"
#include "crdt/event.h"
#include "crdt/projection.h"
#include "crdt/schedule.h"
#include "crdt/status.h"
#include "daemon/service/plan_checks.h"

namespace baton::daemon {

class Board {
 public:
  // An event by id, for task histories (the body of each change); may be empty (histories then
  // carry no bodies).
  using EventLookup = std::function<Result<crdt::Event>(const crdt::EventId&)>;

  // `site`: the site the board is read at (`mine` defaults to it, errors name it); `runbook_id`:
  // the log's runbook, empty before a plan. The projection must outlive the board.
  Board(const crdt::Projection& projection, int64_t now_ms, crdt::SiteId site,
        std::string runbook_id, EventLookup lookup = nullptr);

  // Uses `schedule`, computed for this projection at most a second earlier (a cache), instead of
  // computing it again: the board is then as of the schedule's moment, every part of it.
  void UseSchedule(crdt::Schedule schedule) {
    now_ms_ = schedule.now_ms;
    schedule_ = std::move(schedule);
  }
  // The schedule of the projection at now_ms (computed once).
  Result<crdt::Schedule> Schedule();
  crdt::ScheduleInput MakeScheduleInput() const;
  // Whether the schedule of `projection` would be backing out (crdt::BeginsBackout), without
  // computing it: one pass over the tasks.
  static bool BackingOut(const crdt::Projection& projection);
  // kNotFound "NOUN \"T-0042\" is not in the plan (did you mean T-042?)": the tasks of the
  // plan a typo probably meant.
  static Status NotInPlan(const crdt::Projection& projection, const std::string& noun,
                          const std::string& id);

  // kNotFound "no plan has been imported at site X (...)" before a plan.
  Status RequirePlan() const;
  // `status`, without what only a running daemon knows (cursor, digest, replication, integrity,
  // rejoining, clock_ahead_ms): runbook, events, counts, total, finished, conflicts, flags,
  // forecast, running, late, ready.
  Result<nlohmann::json> Summary();
  Result<nlohmann::json> Task(const std::string& task_id);
  // `filter`: "list", "ready", "late", "blocked" or "mine".
  Result<nlohmann::json> List(client::ListArgs args, const std::string& filter);
  Result<nlohmann::json> Critical();
  Result<nlohmann::json> Forecast();

  nlohmann::json TaskRow(const crdt::TaskSpec& spec, const crdt::TaskSchedule* sched) const;
  nlohmann::json ForecastJson(const crdt::Schedule& s) const;
  // docs/client-protocol.md#anomalies.
  static nlohmann::json AnomaliesJson(const std::vector<Anomaly>& anomalies);

 private:
  const crdt::Projection& proj_;
  int64_t now_ms_;
  crdt::SiteId site_;
  std::string runbook_id_;
  EventLookup lookup_;
  std::optional<crdt::Schedule> schedule_;
};

}  // namespace baton::daemon
