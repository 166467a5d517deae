// baton-audit replay: the board as it stood at a past moment, from a site's log or bundle, with
// the queries of the live CLI (status, ls, ready, late, blocked, show, critical, forecast) and
// the same result shapes (daemon/service/board.h computes both).
//   By the events' clocks (default): every event recorded at or before the moment (hybrid
//   logical clock), wherever it was recorded: the weekend as a whole stood then.
//   As site S saw it (--site S, S's own log or bundle): the events that had arrived at S by then
//   (its arrival times), which is what S's board showed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"
#include "tools/audit/log.h"

namespace baton::audit {

// A log read for replay: every decodable event, per origin in seq order (what verify checks is
// not checked here).
struct LoadedLog {
  std::unique_ptr<Evidence> evidence;
  std::map<crdt::SiteId, std::vector<crdt::Event>> by_origin;
  uint64_t events = 0;
  int64_t last_ms = 0;           // The latest event's recording time.
  std::string timezone = "UTC";  // The runbook's, as the whole log leaves it.
};
Result<LoadedLog> LoadLog(const std::filesystem::path& path, const std::string& trust);
// The same on evidence already opened (`log.evidence` set; the rest is filled in).
Status LoadEvents(LoadedLog& log);

struct ReplayOptions {
  std::filesystem::path data;  // A data directory or a bundle.
  std::string trust;           // As for Evidence::Open.
  // The moment: epoch ms, ISO 8601 with an offset, or a local time in the runbook's zone
  // ("2026-03-28 02:10", "02:10": the latest such time not after the log's last event). Empty:
  // the end of the log (its latest event).
  std::string as_of;
  std::string site;   // Empty: by the events' clocks.
  std::string query;  // status, ls, ready, late, blocked, show, critical, forecast.
  std::string task;   // For show.
};

struct Replayed {
  int64_t as_of_ms = 0;
  uint64_t events = 0;  // Folded (the board's events).
  uint64_t of = 0;      // In the log.
  std::string timezone;
  // The query's result as the live daemon gives it, plus "replay": {as_of, as_of_utc, by,
  // site, events, of}.
  nlohmann::json result;
};

// kInvalidArgument for a bad moment, query or --site (naming it), kNotFound for a task not in
// the plan then; the evidence's own errors as Evidence::Open gives them.
Result<Replayed> Replay(const ReplayOptions& options);
// The same on a log already loaded (options.data and trust unused), for several queries at one
// moment: one result per query ("show" needs `tasks[i]`), in `results`.
struct ReplayedMany {
  Replayed at;  // as_of_ms, events, of, timezone; `result` unused.
  std::vector<nlohmann::json> results;
};
Result<ReplayedMany> ReplayLoaded(const LoadedLog& log, const ReplayOptions& options,
                                  const std::vector<std::string>& queries);

// The result for a person, as `baton QUERY` shows it, under one line saying what was replayed.
std::string FormatReplay(const ReplayOptions& options, const Replayed& replayed);

}  // namespace baton::audit
