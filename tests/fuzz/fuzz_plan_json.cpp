// libFuzzer target: the plan JSON of `plan.import`, through the request parser and the plan
// reader. Property: a plan it accepts writes back to JSON that reads as the same plan.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "client/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace baton;
  const std::string text = R"({"v":1,"id":"1","op":"plan.import","plan":)" +
                           std::string(reinterpret_cast<const char*>(data), size) + "}";
  auto request = client::ParseRequest(text);
  if (!request.ok()) return 0;
  auto args = client::ParsePlanImportArgs(*request);
  if (!args.ok()) return 0;
  auto back = client::PlanFromJson(client::ToJson(args->plan));
  if (!back.ok() || !(*back == args->plan)) {
    std::fprintf(stderr, "fuzz_plan_json: an accepted plan does not round-trip: %s\n",
                 back.ok() ? "different plan" : back.status().ToString().c_str());
    std::abort();
  }
  return 0;
}
