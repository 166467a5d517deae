// Scale arguments of long tests: `test -- --cuts 10000` (after Boost.Test's own `--`), or an
// environment variable. CI runs each test at its default; the soak label passes larger values.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <cstring>

namespace baton::testing {

// The value after `name` on the command line, else `env_name` from the environment (when not
// null), else `fallback`.
inline int IntArg(const char* name, const char* env_name, int fallback) {
  auto& suite = boost::unit_test::framework::master_test_suite();
  for (int i = 1; i + 1 < suite.argc; ++i) {
    if (std::strcmp(suite.argv[i], name) == 0) return std::atoi(suite.argv[i + 1]);
  }
  if (const char* env = env_name != nullptr ? std::getenv(env_name) : nullptr) {
    return std::atoi(env);
  }
  return fallback;
}

}  // namespace baton::testing
