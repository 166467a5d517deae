// Small helpers shared by the benchmarks: a monotonic stopwatch, median and percentiles of
// samples, and the report line. With --json each figure is one object per line,
// {"name": ..., "value": ..., "unit": ...}, so scripts can collect runs; otherwise a readable
// line with the target when there is one. Header-only, no baton dependencies.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace baton::bench {

using SteadyClock = std::chrono::steady_clock;

// A benchmark's main: runs `main`, and reports an exception (the benches throw on failure, after
// unwinding has removed their temporary directories) as "NAME: what" with exit code 1.
inline int RunBench(const char* name, int (*main)(int, char**), int argc, char** argv) {
  try {
    return main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

// Seconds elapsed since `start`.
inline double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Nearest-rank percentile (p in [0, 100]) of `samples`; 0 for none. Sorts a copy.
inline double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(samples.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return samples[std::min(index, samples.size() - 1)];
}

inline double Median(std::vector<double> samples) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  return n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

// Prints figures, as JSON lines or as a table.
class Reporter {
 public:
  explicit Reporter(bool json) : json_(json) {}

  // `target` is a free text such as ">= 2000000" (empty: none); `detail` a short remark.
  void Report(const std::string& name, double value, const std::string& unit,
              const std::string& target = "", const std::string& detail = "") const {
    if (json_) {
      std::printf("{\"name\": \"%s\", \"value\": %.3f, \"unit\": \"%s\"}\n", name.c_str(), value,
                  unit.c_str());
    } else {
      std::printf("%-30s %14.3f %-8s", name.c_str(), value, unit.c_str());
      if (!target.empty()) std::printf("  target %s", target.c_str());
      if (!detail.empty()) std::printf("  (%s)", detail.c_str());
      std::printf("\n");
    }
    std::fflush(stdout);
  }

  // Progress or context, kept off stdout in JSON mode so the output stays parseable.
  void Note(const std::string& text) const {
    std::FILE* out = json_ ? stderr : stdout;
    std::fprintf(out, "%s\n", text.c_str());
    std::fflush(out);
  }

  bool json() const { return json_; }

 private:
  bool json_;
};

}  // namespace baton::bench
