// libFuzzer target: a run book as a spreadsheet exports it, through the CSV importer.
// Property: whatever it accepts is a plan the client protocol accepts and round-trips (the
// importer never produces a value the daemon would refuse).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "client/protocol.h"
#include "tools/import/plan_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace baton;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tools::ImportOptions options;
  options.runbook_id = "rb-fuzz";
  options.timezone = "Europe/Berlin";
  options.window_start = "2026-03-27 22:00";
  options.window_end = "+58h";
  options.source_name = "fuzz.csv";
  options.day_first = (size & 1) == 0;
  std::vector<tools::ImportError> errors;
  auto imported = tools::ImportPlanCsv(text, options, &errors);
  if (!imported.ok()) return 0;
  const auto json = client::ToJson(imported->plan);
  auto back = client::PlanFromJson(json);
  if (!back.ok() || !(*back == imported->plan)) {
    std::fprintf(stderr, "fuzz_csv: an imported plan does not round-trip: %s\n",
                 back.ok() ? "different plan" : back.status().ToString().c_str());
    std::abort();
  }
  return 0;
}
