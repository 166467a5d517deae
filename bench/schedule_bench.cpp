// Schedule intelligence on a large random plan (default 10,000 tasks, ~2 predecessors each, 30%
// done, a few running): full recomputation from the inputs, a clock move (SetNow: every pass,
// graph reused) and per-event updates while the plan is executed in order. Prints medians (and
// p99/max for updates); with --json one {"name", "value", "unit"} object per line.
// Build with the release preset for figures: bench/README.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "crdt/schedule.h"

namespace {

using baton::crdt::Dependency;
using baton::crdt::DependencyType;
using baton::crdt::Progress;
using baton::crdt::ScheduleInput;
using baton::crdt::Scheduler;
using baton::crdt::TaskProgress;
using baton::crdt::TaskSpec;

constexpr int64_t kMin = 60'000;
constexpr int64_t kStart = 1'774'735'200'000;  // 2026-03-28T22:00:00Z.

struct Options {
  bool json = false;
  int tasks = 10'000;
  int reps = 31;
  int events = 2'000;
};

void Print(const Options& o, const std::string& name, double value, const char* unit,
           const std::string& detail) {
  if (o.json) {
    std::printf("{\"name\": \"%s\", \"value\": %.3f, \"unit\": \"%s\"}\n", name.c_str(), value,
                unit);
  } else {
    std::printf("%-36s %10.3f %s  (%s)\n", name.c_str(), value, unit, detail.c_str());
  }
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[k];
}

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// This thread's CPU time: immune to preemption on a busy machine (wall time is not).
double CpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Random DAG in plan order: each task depends on 0..4 earlier tasks (mean 2), mostly recent ones
// so the graph is deep (long chains) as well as wide; 10% carry a lag, some are SS/FF.
ScheduleInput RandomPlan(int n, size_t* edges) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> duration(1, 120);
  std::uniform_int_distribution<int> npreds(0, 4);
  std::uniform_int_distribution<int> kind(0, 19);
  std::uniform_int_distribution<int64_t> lag(-15, 30);
  ScheduleInput in;
  in.window_start_ms = kStart;
  in.window_end_ms = kStart + 48 * 60 * kMin;
  in.now_ms = kStart;
  *edges = 0;
  for (int i = 0; i < n; ++i) {
    TaskSpec t;
    t.id = "T-" + std::to_string(i);
    t.duration_ms = duration(rng) * kMin;
    if (i > 0) {
      std::uniform_int_distribution<int> near(std::max(0, i - 50), i - 1);
      std::uniform_int_distribution<int> any(0, i - 1);
      for (int k = npreds(rng); k > 0; --k) {
        Dependency d{"T-" + std::to_string(kind(rng) < 15 ? near(rng) : any(rng)),
                     DependencyType::kFinishToStart, 0};
        int c = kind(rng);
        if (c == 0) d.type = DependencyType::kStartToStart;
        if (c == 1) d.type = DependencyType::kFinishToFinish;
        if (c >= 18) d.lag_ms = lag(rng) * kMin;
        t.predecessors.push_back(d);
        ++*edges;
      }
    }
    in.tasks.push_back(std::move(t));
  }
  // The first 30% done, the next 20 running.
  int64_t now = kStart;
  const int done = n * 3 / 10;
  for (int i = 0; i < done; ++i) {
    in.progress[in.tasks[static_cast<size_t>(i)].id] =
        TaskProgress{Progress::kDone, now, now + kMin};
    now += kMin / 4;
  }
  for (int i = done; i < std::min(n, done + 20); ++i) {
    in.progress[in.tasks[static_cast<size_t>(i)].id] = TaskProgress{Progress::kRunning, now, 0};
    in.progress[in.tasks[static_cast<size_t>(i)].id].actual_finish_ms = baton::crdt::kNoTime;
  }
  in.now_ms = now;
  return in;
}

int Run(const Options& o) {
  size_t edges = 0;
  ScheduleInput in = RandomPlan(o.tasks, &edges);
  const std::string size = std::to_string(o.tasks) + " tasks, " + std::to_string(edges) + " deps";

  std::vector<double> full;
  std::vector<double> full_cpu;
  for (int r = 0; r < o.reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = CpuMs();
    baton::Result<baton::crdt::Schedule> s = baton::crdt::ComputeSchedule(in);
    full_cpu.push_back(CpuMs() - c0);
    full.push_back(MsSince(t0));
    if (!s.ok()) {
      std::fprintf(stderr, "schedule_bench: %s\n", s.status().ToString().c_str());
      return 1;
    }
  }
  Print(o, "schedule_full_recompute_" + std::to_string(o.tasks), Percentile(full, 0.5), "ms",
        "median of " + std::to_string(o.reps) + ", ComputeSchedule from inputs, " + size);
  Print(o, "schedule_full_recompute_cpu_" + std::to_string(o.tasks), Percentile(full_cpu, 0.5),
        "ms", "thread CPU time, median");

  baton::Result<Scheduler> created = Scheduler::Create(in);
  if (!created.ok()) return 1;
  Scheduler& scheduler = created.value();
  std::vector<double> clock;
  for (int r = 0; r < o.reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    scheduler.SetNow(in.now_ms + r * kMin);
    clock.push_back(MsSince(t0));
  }
  Print(o, "schedule_set_now_" + std::to_string(o.tasks), Percentile(clock, 0.5), "ms",
        "median of " + std::to_string(o.reps) + ", every pass on the built graph");

  // Execute the plan in order from the running frontier: start, then finish, each one event.
  std::vector<double> update;
  std::vector<double> update_cpu;
  int64_t now = in.now_ms + o.reps * kMin;
  const size_t first = static_cast<size_t>(o.tasks * 3 / 10);
  for (size_t k = 0; update.size() < static_cast<size_t>(o.events); ++k) {
    const size_t i = first + k / 2;
    if (i >= in.tasks.size()) break;
    TaskProgress p = k % 2 == 0 ? TaskProgress{Progress::kRunning, now, baton::crdt::kNoTime}
                                : TaskProgress{Progress::kDone, now - kMin, now};
    auto t0 = std::chrono::steady_clock::now();
    double c0 = CpuMs();
    baton::Status s = scheduler.Update(in.tasks[i].id, p);
    update_cpu.push_back(CpuMs() - c0);
    update.push_back(MsSince(t0));
    if (!s.ok()) return 1;
  }
  const std::string events = std::to_string(update.size()) + " start/done events";
  Print(o, "schedule_update_median_" + std::to_string(o.tasks), Percentile(update, 0.5), "ms",
        "median of " + events);
  Print(o, "schedule_update_p99_" + std::to_string(o.tasks), Percentile(update, 0.99), "ms",
        "p99 of " + events);
  Print(o, "schedule_update_max_" + std::to_string(o.tasks), Percentile(update, 1.0), "ms",
        "max of " + events);
  Print(o, "schedule_update_cpu_p99_" + std::to_string(o.tasks), Percentile(update_cpu, 0.99), "ms",
        "thread CPU time, p99 of " + events);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json") {
      o.json = true;
    } else if (arg == "--quick") {
      o.reps = 5;
      o.events = 200;
    } else if (arg == "--tasks" && i + 1 < argc) {
      o.tasks = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: schedule_bench [--json] [--quick] [--tasks N]\n");
      return 2;
    }
  }
  return Run(o);
}
