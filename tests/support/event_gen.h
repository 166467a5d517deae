// Random but realistic runbook event sets for property tests and benches. A few simulated sites
// (one manager "hq", sites "site-1".., optionally an observer "obs") act on their own partial
// view (a Projection fed with what they have synced so far), so reports supersede what their
// author saw, concurrent reports and edits happen, and some events break authorization.
// Deterministic for a given seed and options (on one standard library). Events are unsigned
// (prev_hash zero): this feeds the pure core, not the identity layer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crdt/event.h"

namespace baton::testing {

struct GenOptions {
  int site_count = 3;                    // "hq" (manager) plus site_count - 1 sites "site-1", ...
  bool with_observer = true;             // Adds "obs" (kObserver); its rare events are flagged.
  int task_count = 6;                    // Tasks in the initial plan (more may be added later).
  int event_count = 60;                  // Events after the initial PlanDefined.
  double sync_probability = 0.4;         // Per step: the acting site first pulls others' logs.
  double rogue_probability = 0.05;       // An event its origin is not allowed to make.
  double concurrent_probability = 0.15;  // A report or edit that ignores what it saw.
  std::string runbook_id = "rb-test";
  int64_t start_ms = 1'700'000'000'000;  // Wall clock of the first event.
};

// All generated events, each origin's events in seq order (origins interleaved as generated).
std::vector<crdt::Event> GenerateEvents(uint64_t seed, const GenOptions& options = {});

// Only the simple status reports of the fold benchmark: `task_count` tasks planned by "hq" (all
// at site "hq"), then `reports` reports cycling started/done/reset per task, each superseding
// the previous report on its task. Fast: no simulation.
std::vector<crdt::Event> GenerateSimpleReports(int task_count, int reports,
                                               const std::string& runbook_id = "rb-bench");

// A random interleaving that keeps every origin's events in their original relative order.
std::vector<crdt::Event> ShuffleRespectingOrigins(const std::vector<crdt::Event>& events,
                                                  uint64_t seed);

// Adds copies of about `rate` of the events, each somewhere after its original.
std::vector<crdt::Event> WithDuplicates(const std::vector<crdt::Event>& events, uint64_t seed,
                                        double rate);

}  // namespace baton::testing
