#include "tools/audit/timeline.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>
#include <utility>
#include <variant>

#include "client/protocol.h"
#include "crdt/event_codec.h"
#include "crdt/task_state.h"
#include "tools/audit/log.h"

namespace baton::audit {
namespace {

std::string Fields(const std::vector<std::pair<const char*, bool>>& fields) {
  std::string out;
  for (const auto& [name, present] : fields) {
    if (!present) continue;
    out += (out.empty() ? "" : ", ") + std::string(name);
  }
  return out;
}

std::string WithNote(std::string what, const std::string& note) {
  return note.empty() ? what : what + ": " + note;
}

// The task an event is about, and what it changes, in words.
std::pair<std::string, std::string> Describe(const crdt::Body& body) {
  return std::visit(
      [](const auto& b) -> std::pair<std::string, std::string> {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, crdt::PlanDefined>) {
          return {"", "plan \"" + b.plan.name +
                          "\" defined: " + std::to_string(b.plan.tasks.size()) + " tasks, " +
                          std::to_string(b.plan.sites.size()) + " sites"};
        } else if constexpr (std::is_same_v<T, crdt::PlanAmended>) {
          return {"", "plan amended: " + Fields({{"name", b.name.has_value()},
                                                 {"window start", b.window_start_ms.has_value()},
                                                 {"window end", b.window_end_ms.has_value()}})};
        } else if constexpr (std::is_same_v<T, crdt::TaskAdded>) {
          return {b.spec.id, "task added: " + b.spec.title};
        } else if constexpr (std::is_same_v<T, crdt::TaskChanged>) {
          const crdt::TaskPatch& p = b.patch;
          return {b.task_id,
                  "changed: " + Fields({{"title", p.title.has_value()},
                                        {"phase", p.phase.has_value()},
                                        {"team", p.team.has_value()},
                                        {"site", p.site.has_value()},
                                        {"planned start", p.planned_start_ms.has_value()},
                                        {"not before", p.not_before_ms.has_value()},
                                        {"duration", p.duration_ms.has_value()},
                                        {"predecessors", p.predecessors.has_value()},
                                        {"back-out task", p.backout_task.has_value()}})};
        } else if constexpr (std::is_same_v<T, crdt::TaskRemoved>) {
          return {b.task_id, "task removed"};
        } else if constexpr (std::is_same_v<T, crdt::TaskReported>) {
          return {b.task_id, WithNote(crdt::ReportKindName(b.kind), b.note)};
        } else if constexpr (std::is_same_v<T, crdt::NoteAdded>) {
          return {b.task_id, "note: " + b.text};
        } else {
          static_assert(std::is_same_v<T, crdt::GateDecided>);
          return {b.task_id, WithNote(b.go ? "go" : "no-go", b.note)};
        }
      },
      body);
}

int64_t EffectiveMs(const crdt::Event& e) {
  int64_t at = crdt::kNoTime;
  if (const auto* r = std::get_if<crdt::TaskReported>(&e.body)) at = r->effective_ms;
  if (const auto* g = std::get_if<crdt::GateDecided>(&e.body)) at = g->effective_ms;
  return at == crdt::kNoTime ? e.hlc.wall_ms : at;
}

}  // namespace

std::string CsvCell(const std::string& text, bool is_text) {
  std::string cell = text;
  if (is_text && !cell.empty() && std::string("=+-@\t\r").find(cell[0]) != std::string::npos) {
    cell = "'" + cell;
  }
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

Result<Timeline> BuildTimeline(const std::filesystem::path& data_dir, const std::string& trust) {
  BATON_ASSIGN_OR_RETURN(std::unique_ptr<Evidence> log, Evidence::Open(data_dir, trust));
  Timeline timeline;
  timeline.site = log->site();
  timeline.runbook_id = log->runbook_id();
  const Evidence& evidence = *log;
  BATON_ASSIGN_OR_RETURN(DecodedEvents decoded, DecodeEvents(ReadInParts(evidence)));
  timeline.undecodable = decoded.undecodable;
  const auto& by_origin = decoded.by_origin;
  Chains chains;
  for (const auto& [origin, events] : by_origin) {
    for (const crdt::Event& e : events) chains[origin].push_back(&e);
  }
  const crdt::Projection projection = FoldChains(chains, log->trust_site(), log->trust_key());
  std::map<crdt::EventId, std::string> flags;
  for (const crdt::Flag& f : projection.flags()) flags[f.id] = f.reason;
  for (const auto& [origin, events] : by_origin) {
    for (const crdt::Event& e : events) {
      TimelineRow row;
      row.id = e.id();
      row.hlc = e.hlc;
      row.effective_ms = EffectiveMs(e);
      row.actor = e.actor;
      row.kind = crdt::BodyKindName(e.body);
      std::tie(row.task, row.change) = Describe(e.body);
      if (auto flag = flags.find(row.id); flag != flags.end()) {
        row.counted = false;
        row.flag = flag->second;
      }
      timeline.rows.push_back(std::move(row));
    }
  }
  // Causal order: an event's hlc is above that of every event its origin had seen.
  std::sort(timeline.rows.begin(), timeline.rows.end(),
            [](const TimelineRow& a, const TimelineRow& b) {
              return std::tie(a.hlc, a.id) < std::tie(b.hlc, b.id);
            });
  return timeline;
}

std::string TimelineCsv(const Timeline& timeline) {
  std::ostringstream out;
  out << "recorded_utc,effective_utc,site,event,actor,kind,task,change,counted,not_counted_"
         "because\r\n";
  for (const TimelineRow& r : timeline.rows) {
    out << client::FormatIsoTime(r.hlc.wall_ms) << "," << client::FormatIsoTime(r.effective_ms)
        << "," << CsvCell(r.id.origin, true) << "," << CsvCell(r.id.ToString(), true) << ","
        << CsvCell(r.actor, true) << "," << r.kind << "," << CsvCell(r.task, true) << ","
        << CsvCell(r.change, true) << "," << (r.counted ? "yes" : "no") << ","
        << CsvCell(r.flag, true) << "\r\n";
  }
  return out.str();
}

std::string TimelineJson(const Timeline& timeline) {
  nlohmann::json rows = nlohmann::json::array();
  for (const TimelineRow& r : timeline.rows) {
    nlohmann::json row = {{"event", r.id.ToString()},
                          {"site", r.id.origin},
                          {"seq", r.id.seq},
                          {"recorded", client::FormatIsoTime(r.hlc.wall_ms)},
                          {"recorded_ms", r.hlc.wall_ms},
                          {"hlc", r.hlc.ToString()},
                          {"effective", client::FormatIsoTime(r.effective_ms)},
                          {"effective_ms", r.effective_ms},
                          {"actor", r.actor},
                          {"kind", r.kind},
                          {"task", r.task},
                          {"change", r.change},
                          {"counted", r.counted}};
    if (!r.counted) row["not_counted_because"] = r.flag;
    rows.push_back(std::move(row));
  }
  const nlohmann::json out = {{"site", timeline.site},
                              {"runbook", timeline.runbook_id},
                              {"undecodable", timeline.undecodable},
                              {"events", std::move(rows)}};
  return out.dump(2) + "\n";
}

}  // namespace baton::audit
