// What `baton` shows people: the daemon's query results (JSON, shapes in
// docs/client-protocol.md and daemon/service/client_service.cpp) turned into text. Pure: the
// clock, the terminal width, colour and the runbook's time zone come in as ViewOptions.
// Missing or null members show as "-": a reply from a newer or older daemon still renders.
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>

#include "client/cli/render.h"

namespace baton::client::cli {

struct ViewOptions {
  Style style;
  int width = 0;           // Terminal columns; 0: unlimited.
  std::string tz = "UTC";  // The runbook's IANA zone, for every instant shown.
  int64_t now_ms = 0;      // For elapsed times of running tasks.
};

// Epoch ms of `j[key]`; crdt::kNoTime when absent, null or not an integer.
int64_t TimeOf(const nlohmann::json& j, const char* key);
// The runbook zone of a `status` result ("UTC" if it has none).
std::string ZoneOf(const nlohmann::json& status);

// "on track, 3h 10m margin" / "AT RISK by 45m" / "no window end"; of a forecast object.
std::string Verdict(const nlohmann::json& forecast, const Style& style);
// "finish Sun 23:10 CEST vs window end Mon 06:00 CEST: on track, 6h 50m margin".
std::string ForecastLine(const nlohmann::json& forecast, const ViewOptions& o);

// `baton status`: header, progress, counts, forecast and causes, running and late tasks.
std::string RenderStatus(const nlohmann::json& status, const ViewOptions& o);
// A table of task rows (list, ready, late, blocked, mine, critical).
std::string RenderTaskTable(const nlohmann::json& rows, const ViewOptions& o);
// `baton show T-042`: spec, status, times planned/forecast/actual, live reports, notes, history.
std::string RenderTaskDetail(const nlohmann::json& task, const ViewOptions& o);
// `baton forecast`: finish vs window, causes, critical path, back-out now and at each gate.
std::string RenderForecast(const nlohmann::json& forecast, const ViewOptions& o);
// `baton plan show`: the runbook header (from status) and every task.
std::string RenderPlan(const nlohmann::json& status, const nlohmann::json& rows,
                       const ViewOptions& o);

// `baton site ls`: the trust anchor and the roster (id, name, role, key shortened, endpoint),
// the anchor and this site marked; a note when the roster has concurrent values.
// `baton sites`: per peer link, its state, when it was last heard, what each side lacks.
std::string RenderLinks(const nlohmann::json& sites, const ViewOptions& o);
std::string RenderRoster(const nlohmann::json& list, const ViewOptions& o);

// One line for a pushed event: "Sat 02:10 CET  hq/17  T-042 done  alice@hq  \"note\"".
std::string DescribeEvent(const nlohmann::json& event, const ViewOptions& o);

// One frame of `baton watch`: progress, forecast, running (elapsed vs plan, at o.now_ms), late
// (highlighted), ready tasks and the recent events (newest last). `banner` (e.g.
// "reconnecting...") is shown on top when not empty.
// `frame` cut to `height` lines (0: as is): the top stays (banner, header, forecast), the lines
// that do not fit go, and the last line says how many and how to see them.
std::string FitHeight(const std::string& frame, int height);
std::string RenderBoard(const nlohmann::json& status, const std::deque<std::string>& recent,
                        const std::string& banner, const ViewOptions& o);

}  // namespace baton::client::cli
