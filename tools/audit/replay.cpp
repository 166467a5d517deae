#include "tools/audit/replay.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "client/cli/render.h"
#include "client/cli/views.h"
#include "client/protocol.h"
#include "daemon/ledger.h"
#include "daemon/service/board.h"
#include "tools/audit/log.h"

namespace baton::audit {
namespace {

using nlohmann::json;

const std::set<std::string>& Queries() {
  static const std::set<std::string> queries = {"status",  "ls",   "ready",    "late",
                                                "blocked", "show", "critical", "forecast"};
  return queries;
}

bool AllDigits(const std::string& text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

Result<LoadedLog> LoadLog(const std::filesystem::path& path, const std::string& trust) {
  LoadedLog log;
  BATON_ASSIGN_OR_RETURN(log.evidence, Evidence::Open(path, trust));
  BATON_TRY(LoadEvents(log));
  return log;
}

Status LoadEvents(LoadedLog& log) {
  const Evidence& evidence = *log.evidence;
  BATON_ASSIGN_OR_RETURN(DecodedEvents decoded, DecodeEvents(ReadInParts(evidence)));
  log.by_origin = std::move(decoded.by_origin);
  log.events = decoded.events;
  for (const auto& [origin, events] : log.by_origin) {
    for (const crdt::Event& e : events) log.last_ms = std::max(log.last_ms, e.hlc.wall_ms);
  }
  return Status::Ok();
}

Result<Replayed> Replay(const ReplayOptions& options) {
  if (Queries().count(options.query) == 0) {
    return Status::InvalidArgument("replay: unknown query \"" + options.query.substr(0, 40) +
                                   "\" (status, ls, ready, late, blocked, show, critical, "
                                   "forecast)");
  }
  BATON_ASSIGN_OR_RETURN(LoadedLog log, LoadLog(options.data, options.trust));
  BATON_ASSIGN_OR_RETURN(ReplayedMany many, ReplayLoaded(log, options, {options.query}));
  Replayed out = std::move(many.at);
  out.result = std::move(many.results.front());
  return out;
}

Result<ReplayedMany> ReplayLoaded(const LoadedLog& log, const ReplayOptions& options,
                                  const std::vector<std::string>& queries) {
  for (const std::string& query : queries) {
    if (Queries().count(query) == 0) {
      return Status::InvalidArgument("replay: unknown query \"" + query.substr(0, 40) + "\"");
    }
    if (query == "show" && options.task.empty()) {
      return Status::InvalidArgument("replay show: name the task (replay ... show T-042)");
    }
  }
  const Evidence& evidence = *log.evidence;
  if (!options.site.empty() && options.site != evidence.site()) {
    return Status::InvalidArgument("--site " + options.site + ": what had arrived at " +
                                   options.site + " is in its own log or bundle; " +
                                   evidence.path().string() + " is site " + evidence.site() +
                                   "'s (give " + options.site +
                                   "'s, or leave --site out to replay by the events' clocks)");
  }
  ReplayedMany many;
  Replayed& out = many.at;
  out.of = log.events;
  out.timezone = "UTC";
  if (options.as_of.empty()) {
    out.as_of_ms = log.last_ms;
  } else if (AllDigits(options.as_of) && options.as_of.size() >= 10) {
    out.as_of_ms = std::stoll(options.as_of);
  } else if (auto iso = client::ParseIsoTime(options.as_of); iso.ok()) {
    out.as_of_ms = *iso;
  } else {
    // A local time: in the runbook's zone as the whole log leaves it (one more fold).
    Chains all;
    for (const auto& [origin, events] : log.by_origin) {
      for (const crdt::Event& e : events) all[origin].push_back(&e);
    }
    const crdt::Projection whole = FoldChains(all, evidence.trust_site(), evidence.trust_key());
    if (!whole.runbook_id().empty() && !whole.CurrentPlan().timezone.empty()) {
      out.timezone = whole.CurrentPlan().timezone;
    }
    BATON_ASSIGN_OR_RETURN(out.as_of_ms, client::cli::ParseAtTime(options.as_of, out.timezone,
                                                                  log.last_ms, "--as-of"));
  }

  // The events of the board: per origin, a prefix of its chain.
  std::map<crdt::SiteId, uint64_t> through;  // Per origin: the last seq folded.
  uint64_t cursor = 0;
  if (options.site.empty()) {
    for (const auto& [origin, events] : log.by_origin) {
      uint64_t n = 0;
      while (n < events.size() && events[n].hlc.wall_ms <= out.as_of_ms) ++n;
      through[origin] = n;
    }
  } else {
    // Arrivals 1..k, k the last arrival stamped at or before the moment: everything listed
    // before it had arrived before it (the arrival order is the site's commit order).
    std::vector<std::pair<uint64_t, crdt::EventId>> arrivals;
    uint64_t unstamped = 0;
    BATON_TRY(evidence.ForEachArrival([&](uint64_t counter, const crdt::EventId& id, int64_t at) {
      arrivals.emplace_back(counter, id);
      if (at == 0) ++unstamped;
      if (at != 0 && at <= out.as_of_ms) cursor = std::max(cursor, counter);
      return Status::Ok();
    }));
    if (unstamped > 0) {
      return Status::InvalidArgument(
          "--site " + options.site + ": " + std::to_string(unstamped) +
          " events of this log have no arrival time (stored before baton kept them, or after "
          "a repair): replay it by the events' clocks instead (leave --site out)");
    }
    for (const auto& [counter, id] : arrivals) {
      if (counter > cursor) continue;
      uint64_t& n = through[id.origin];
      n = std::max(n, id.seq);
    }
  }
  Chains chains;
  for (const auto& [origin, events] : log.by_origin) {
    const auto it = through.find(origin);
    const uint64_t n = it == through.end() ? 0 : it->second;
    for (const crdt::Event& e : events) {
      if (e.seq > n) break;
      chains[origin].push_back(&e);
      ++out.events;
    }
  }
  const crdt::Projection projection =
      FoldChains(chains, evidence.trust_site(), evidence.trust_key());
  if (!projection.runbook_id().empty() && !projection.CurrentPlan().timezone.empty()) {
    out.timezone = projection.CurrentPlan().timezone;  // For the view: the zone of the moment.
  }
  daemon::Board board(
      projection, out.as_of_ms, options.site.empty() ? evidence.site() : options.site,
      projection.runbook_id(), [&chains](const crdt::EventId& id) -> Result<crdt::Event> {
        // The events folded, each origin's in seq order.
        const auto chain = chains.find(id.origin);
        const crdt::Event* at = nullptr;
        if (chain != chains.end()) {
          const auto& events = chain->second;
          const auto found =
              std::lower_bound(events.begin(), events.end(), id.seq,
                               [](const crdt::Event* e, uint64_t seq) { return e->seq < seq; });
          if (found != events.end() && (*found)->seq == id.seq) at = *found;
        }
        if (at == nullptr) return Status::NotFound(id.ToString() + " is not in the log");
        return *at;
      });
  const json replay = {{"as_of", out.as_of_ms},
                       {"as_of_utc", client::FormatIsoTime(out.as_of_ms)},
                       {"by", options.site.empty() ? "event clocks" : "arrival"},
                       {"site", options.site.empty() ? json(nullptr) : json(options.site)},
                       {"events", out.events},
                       {"of", out.of}};
  for (const std::string& q : queries) {
    json result;
    if (q == "status") {
      BATON_ASSIGN_OR_RETURN(result, board.Summary());
      if (!options.site.empty()) result["cursor"] = cursor;
    } else if (q == "show") {
      BATON_ASSIGN_OR_RETURN(result, board.Task(options.task));
    } else if (q == "critical") {
      BATON_ASSIGN_OR_RETURN(result, board.Critical());
    } else if (q == "forecast") {
      BATON_ASSIGN_OR_RETURN(result, board.Forecast());
    } else {
      BATON_ASSIGN_OR_RETURN(result, board.List({}, q == "ls" ? "list" : q));
    }
    result["replay"] = replay;
    many.results.push_back(std::move(result));
  }
  return many;
}

std::string FormatReplay(const ReplayOptions& options, const Replayed& r) {
  client::cli::ViewOptions view;
  view.tz = r.timezone;
  view.now_ms = r.as_of_ms;
  view.width = client::cli::TerminalWidth();
  std::string head =
      "Replayed as of " +
      client::cli::FormatTime(r.as_of_ms, view.tz, client::cli::TimeStyle::kFull) + " (" +
      client::FormatIsoTime(r.as_of_ms) + "), " +
      (options.site.empty() ? "by the events' clocks" : "as site " + options.site + " saw it") +
      ": " + std::to_string(r.events) + " of " + std::to_string(r.of) + " events\n\n";
  const std::string& q = options.query;
  if (q == "status") return head + client::cli::RenderStatus(r.result, view);
  if (q == "show") return head + client::cli::RenderTaskDetail(r.result, view);
  if (q == "forecast") return head + client::cli::RenderForecast(r.result, view);
  const json tasks = r.result.value("tasks", json::array());
  if (q == "critical") {
    return head + "Critical path: " +
           client::cli::ForecastLine(r.result.value("forecast", json::object()), view) + "\n" +
           client::cli::RenderTaskTable(tasks, view);
  }
  return head + client::cli::RenderTaskTable(tasks, view);
}

}  // namespace baton::audit
