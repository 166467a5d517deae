// Figures of a running process from /proc/PID/status, for tests and benchmarks that bound or
// report a daemon's memory.
#pragma once

#include <sys/types.h>

#include <string>

namespace baton::testing {

// A memory field of /proc/PID/status ("VmRSS": resident now, "VmHWM": its peak) in MiB; 0 if
// the process or the field is not there.
double ResidentMib(pid_t pid, const std::string& field = "VmRSS");

}  // namespace baton::testing
