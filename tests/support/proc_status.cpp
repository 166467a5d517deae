// See tests/support/proc_status.h.
#include "tests/support/proc_status.h"

#include <cstdlib>
#include <fstream>

namespace baton::testing {

double ResidentMib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::strtod(line.c_str() + field.size() + 1, nullptr) / 1024;  // Given in kB.
    }
  }
  return 0;
}

}  // namespace baton::testing
