// See tests/support/weekend.h.
#include "tests/support/weekend.h"

namespace baton::testing {

// A plan with one task per site (T-<site>) and one task every site may see but only `hq` runs.
json PlanFor(Weekend& w) {
  const int64_t start = 1774641600000;  // 2026-03-27T20:00:00Z
  const int64_t h = 3600 * 1000;
  json tasks = json::array();
  for (size_t i = 0; i < w.size(); ++i) {
    const std::string id = w.at(i).id();
    tasks.push_back({{"id", "T-" + id},
                     {"title", "Work at " + id},
                     {"phase", "deploy"},
                     {"team", "ops"},
                     {"site", id},
                     {"kind", "task"},
                     {"duration_ms", h},
                     {"predecessors", json::array()}});
  }
  return json{{"runbook_id", "rb-multi"},        {"name", "Multi-site weekend"},
              {"timezone", "Europe/Berlin"},     {"window_start_ms", start},
              {"window_end_ms", start + 12 * h}, {"sites", w.Roster()},
              {"teams", json::array({"ops"})},   {"tasks", tasks}};
}

std::string EventIdOf(const json& reply) { return reply["event"].get<std::string>(); }

}  // namespace baton::testing
