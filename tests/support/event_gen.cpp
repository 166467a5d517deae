// The simulation behind GenerateEvents: each step, one site may sync others' logs into its
// view, then emits one event chosen by its role, from what its view shows.
#include "tests/support/event_gen.h"

#include <algorithm>
#include <map>
#include <random>
#include <utility>

#include "crdt/hlc.h"
#include "crdt/projection.h"

namespace baton::testing {

using crdt::Event;
using crdt::EventId;

namespace {

struct SimSite {
  crdt::SiteId id;
  crdt::SiteRole role = crdt::SiteRole::kSite;
  crdt::HybridClock clock;
  int64_t skew_ms = 0;  // This site's wall clock error.
  uint64_t seq = 0;
  crdt::Projection view;
};

class Simulation {
 public:
  Simulation(uint64_t seed, const GenOptions& options) : rng_(seed), opt_(options) {
    now_ = opt_.start_ms;
    AddSite("hq", crdt::SiteRole::kManager);
    for (int i = 1; i < std::max(1, opt_.site_count); ++i) {
      AddSite("site-" + std::to_string(i), crdt::SiteRole::kSite);
    }
    if (opt_.with_observer) AddSite("obs", crdt::SiteRole::kObserver);
  }

  std::vector<Event> Run() {
    DefinePlan(sites_[0]);
    for (int step = 0; step < opt_.event_count; ++step) {
      now_ += Int(1, 90'000);
      SimSite& s = sites_[Index(sites_.size())];
      if (Chance(opt_.sync_probability)) SyncAll(s);
      Act(s);
    }
    return std::move(all_);
  }

 private:
  // ---- randomness ----
  int64_t Int(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  size_t Index(size_t n) { return static_cast<size_t>(Int(0, static_cast<int64_t>(n) - 1)); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <class T>
  const T& Pick(const std::vector<T>& v) {
    return v[Index(v.size())];
  }

  void AddSite(const std::string& id, crdt::SiteRole role) {
    SimSite s;
    s.id = id;
    s.role = role;
    s.skew_ms = Int(-2000, 2000);
    sites_.push_back(std::move(s));
  }

  void Emit(SimSite& s, crdt::Body body) {
    Event e;
    e.runbook_id = opt_.runbook_id;
    e.origin = s.id;
    e.seq = ++s.seq;
    e.hlc = s.clock.Now(now_ + s.skew_ms);
    e.actor = "user@" + s.id;
    e.body = std::move(body);
    s.view.Apply(e).Ignore();  // Own events are always next in line.
    logs_[s.id].push_back(e);
    all_.push_back(std::move(e));
  }

  void SyncAll(SimSite& s) {
    for (const auto& [origin, log] : logs_) {
      if (origin == s.id) continue;
      uint64_t seen = s.view.version_vector().Seen(origin);
      // Sometimes only part of the backlog arrives (a flaky link).
      uint64_t until = log.size();
      if (seen < until && Chance(0.3))
        until = seen + static_cast<uint64_t>(Int(0, static_cast<int64_t>(until - seen)));
      for (uint64_t q = seen; q < until; ++q) {
        s.clock.Receive(log[q].hlc, now_ + s.skew_ms);
        s.view.Apply(log[q]).Ignore();  // In order by construction.
      }
    }
  }

  // Task ids the site's view knows (a few random tries over every id ever planned, so that a
  // step derives only the tasks it looks at).
  std::vector<std::string> KnownTasks(const SimSite& s, int tries) {
    std::vector<std::string> out;
    for (int i = 0; i < tries && !task_ids_.empty(); ++i) {
      const std::string& id = Pick(task_ids_);
      const crdt::TaskState* t = s.view.Task(id);
      if (t != nullptr && t->exists() && !t->removed()) out.push_back(id);
    }
    return out;
  }

  void DefinePlan(SimSite& hq) {
    crdt::PlanDefined d;
    crdt::Plan& p = d.plan;
    p.runbook_id = opt_.runbook_id;
    p.name = "Release weekend";
    p.timezone = "Europe/Berlin";
    p.window_start_ms = opt_.start_ms;
    p.window_end_ms = opt_.start_ms + 48 * 3600 * 1000LL;
    for (const SimSite& s : sites_) {
      p.sites.push_back(crdt::SiteInfo{s.id, "Site " + s.id, std::string(32, 'k'), s.role, "", {}});
    }
    p.teams = {"dba", "ops", "vendor"};
    for (int i = 1; i <= opt_.task_count; ++i) {
      p.tasks.push_back(NewSpec("T-" + std::to_string(i), p.tasks));
      task_ids_.push_back(p.tasks.back().id);
    }
    next_task_ = opt_.task_count + 1;
    Emit(hq, d);
  }

  crdt::TaskSpec NewSpec(const std::string& id, const std::vector<crdt::TaskSpec>& earlier) {
    crdt::TaskSpec t;
    t.id = id;
    t.title = "Task " + id;
    t.phase = Pick(std::vector<std::string>{"freeze", "backup", "deploy"});
    t.team = Pick(std::vector<std::string>{"dba", "ops", "vendor"});
    t.site = sites_[Index(static_cast<size_t>(std::max(1, opt_.site_count)))].id;
    t.kind = Chance(0.15) ? crdt::TaskKind::kGate : crdt::TaskKind::kTask;
    t.duration_ms = Int(1, 120) * 60'000;
    if (!earlier.empty() && Chance(0.6)) {
      t.predecessors.push_back(crdt::Dependency{
          Pick(earlier).id,
          Chance(0.8) ? crdt::DependencyType::kFinishToStart : crdt::DependencyType::kStartToStart,
          0});
    }
    return t;
  }

  void Act(SimSite& s) {
    bool rogue = Chance(opt_.rogue_probability) || s.role == crdt::SiteRole::kObserver;
    std::vector<std::string> tasks = KnownTasks(s, 4);
    if (tasks.empty()) {
      Emit(s, crdt::NoteAdded{"", "waiting for the plan"});
      return;
    }
    int roll = static_cast<int>(Int(0, 99));
    bool manager = s.role == crdt::SiteRole::kManager;
    if (!manager && !rogue) {
      std::vector<std::string> mine;
      for (const auto& id : KnownTasks(s, 8)) {
        if (s.view.Task(id)->spec().site == s.id) mine.push_back(id);
      }
      if (mine.empty() || roll < 8) {
        Emit(s, crdt::NoteAdded{mine.empty() ? "" : Pick(mine), "note from " + s.id});
      } else if (roll < 14) {
        Gate(s, Pick(mine));
      } else {
        Report(s, Pick(mine));
      }
      return;
    }
    const std::string& task = Pick(tasks);
    if (roll < 40) {
      Report(s, task);
    } else if (roll < 55) {
      Change(s, task);
    } else if (roll < 60) {
      crdt::TaskAdded add{NewSpec("T-" + std::to_string(next_task_++), {})};
      task_ids_.push_back(add.spec.id);
      Emit(s, add);
    } else if (roll < 63) {
      Emit(s, crdt::TaskRemoved{task});
    } else if (roll < 73) {
      Emit(s, crdt::NoteAdded{Chance(0.5) ? "" : task, "note from " + s.id});
    } else if (roll < 78) {
      Gate(s, task);
    } else if (roll < 84) {
      crdt::PlanAmended a;
      if (Chance(0.5)) a.name = "Release weekend v" + std::to_string(Int(2, 9));
      if (Chance(0.5)) a.window_end_ms = opt_.start_ms + Int(40, 60) * 3600 * 1000LL;
      if (!Chance(opt_.concurrent_probability)) {
        a.supersedes = s.view.name().LiveIds();
        auto more = s.view.window_end().LiveIds();
        a.supersedes.insert(a.supersedes.end(), more.begin(), more.end());
      }
      Emit(s, a);
    } else {
      Report(s, task);
    }
  }

  void Report(SimSite& s, const std::string& task) {
    const crdt::TaskState* t = s.view.Task(task);
    crdt::TaskReported r;
    r.task_id = task;
    switch (t->status()) {
      case crdt::TaskStatus::kPending:
        r.kind = Chance(0.9) ? crdt::ReportKind::kStarted : crdt::ReportKind::kSkipped;
        break;
      case crdt::TaskStatus::kRunning:
        r.kind = Chance(0.75) ? crdt::ReportKind::kDone : crdt::ReportKind::kFailed;
        break;
      case crdt::TaskStatus::kFailed:
        r.kind = Chance(0.7) ? crdt::ReportKind::kReset : crdt::ReportKind::kSkipped;
        break;
      default:
        r.kind = Chance(0.5) ? crdt::ReportKind::kReset : crdt::ReportKind::kDone;
        break;
    }
    if (r.kind == crdt::ReportKind::kFailed)
      r.note = "failed: exit code " + std::to_string(Int(1, 9));
    if (Chance(0.3)) r.effective_ms = now_ - Int(0, 600'000);
    if (!Chance(opt_.concurrent_probability)) r.supersedes = t->LiveReportIds();
    Emit(s, r);
  }

  void Gate(SimSite& s, const std::string& task) {
    crdt::GateDecided g;
    g.task_id = task;
    g.go = Chance(0.7);
    g.note = g.go ? "go" : "no-go: rollback";
    if (!Chance(opt_.concurrent_probability)) g.supersedes = s.view.Task(task)->LiveGateIds();
    Emit(s, g);
  }

  void Change(SimSite& s, const std::string& task) {
    crdt::TaskChanged c;
    c.task_id = task;
    switch (Int(0, 3)) {
      case 0:
        c.patch.title = "Task " + task + " (rev " + std::to_string(Int(1, 99)) + ")";
        break;
      case 1:
        c.patch.duration_ms = Int(1, 180) * 60'000;
        break;
      case 2:
        c.patch.site = sites_[Index(static_cast<size_t>(std::max(1, opt_.site_count)))].id;
        break;
      default:
        c.patch.predecessors = std::vector<crdt::Dependency>{};
        break;
    }
    if (!Chance(opt_.concurrent_probability)) c.supersedes = s.view.Task(task)->LiveEditIds();
    Emit(s, c);
  }

  std::mt19937_64 rng_;
  GenOptions opt_;
  int64_t now_ = 0;
  int next_task_ = 1;
  std::vector<SimSite> sites_;
  std::vector<std::string> task_ids_;  // Every task id ever planned or added.
  std::map<crdt::SiteId, std::vector<Event>> logs_;
  std::vector<Event> all_;
};

}  // namespace

std::vector<Event> GenerateEvents(uint64_t seed, const GenOptions& options) {
  return Simulation(seed, options).Run();
}

std::vector<Event> GenerateSimpleReports(int task_count, int reports,
                                         const std::string& runbook_id) {
  std::vector<Event> out;
  out.reserve(static_cast<size_t>(reports) + 1);
  uint64_t seq = 0;
  int64_t wall = 1'700'000'000'000;
  auto make = [&](crdt::Body body) {
    Event e;
    e.runbook_id = runbook_id;
    e.origin = "hq";
    e.seq = ++seq;
    e.hlc = crdt::Hlc{wall++, 0};
    e.actor = "bench@hq";
    e.body = std::move(body);
    out.push_back(std::move(e));
  };
  crdt::PlanDefined d;
  d.plan.runbook_id = runbook_id;
  d.plan.name = "bench";
  d.plan.sites.push_back(
      crdt::SiteInfo{"hq", "HQ", std::string(32, 'k'), crdt::SiteRole::kManager, "", {}});
  for (int i = 0; i < task_count; ++i) {
    crdt::TaskSpec t;
    t.id = "T-" + std::to_string(i);
    t.title = t.id;
    t.site = "hq";
    t.duration_ms = 60'000;
    d.plan.tasks.push_back(std::move(t));
  }
  make(std::move(d));
  std::vector<uint64_t> last(static_cast<size_t>(task_count), 0);
  static constexpr crdt::ReportKind kCycle[] = {crdt::ReportKind::kStarted, crdt::ReportKind::kDone,
                                                crdt::ReportKind::kReset};
  for (int i = 0; i < reports; ++i) {
    auto task = static_cast<size_t>(i % task_count);
    crdt::TaskReported r;
    r.task_id = "T-" + std::to_string(task);
    r.kind = kCycle[static_cast<size_t>(i / task_count) % 3];
    if (last[task] != 0) r.supersedes.push_back(EventId{"hq", last[task]});
    last[task] = seq + 1;
    make(std::move(r));
  }
  return out;
}

std::vector<Event> ShuffleRespectingOrigins(const std::vector<Event>& events, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::map<crdt::SiteId, std::vector<const Event*>> queues;
  for (const Event& e : events) queues[e.origin].push_back(&e);
  std::vector<std::pair<std::vector<const Event*>*, size_t>> heads;  // queue, next index
  for (auto& [origin, q] : queues) heads.emplace_back(&q, 0);
  std::vector<Event> out;
  out.reserve(events.size());
  size_t remaining = events.size();
  while (remaining > 0) {
    // Pick an origin weighted by what it has left: every interleaving is possible.
    size_t ticket = std::uniform_int_distribution<size_t>(0, remaining - 1)(rng);
    for (auto& [q, next] : heads) {
      size_t left = q->size() - next;
      if (ticket < left) {
        out.push_back(*(*q)[next++]);
        break;
      }
      ticket -= left;
    }
    --remaining;
  }
  return out;
}

std::vector<Event> WithDuplicates(const std::vector<Event>& events, uint64_t seed, double rate) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> coin(0, 1);
  // Each copy goes after its original: insertion points are drawn among later positions.
  std::vector<std::vector<Event>> after(events.size() + 1);
  for (size_t i = 0; i < events.size(); ++i) {
    if (coin(rng) >= rate) continue;
    size_t slot = std::uniform_int_distribution<size_t>(i + 1, events.size())(rng);
    after[slot].push_back(events[i]);
  }
  std::vector<Event> out;
  for (size_t i = 0; i <= events.size(); ++i) {
    for (Event& e : after[i]) out.push_back(std::move(e));
    if (i < events.size()) out.push_back(events[i]);
  }
  return out;
}

}  // namespace baton::testing
