// Running real baton programs from tests: a child `batond run` that can be stopped politely or
// killed with SIGKILL, and one-shot commands (`baton ...`) with captured output and exit code.
// Every wait is bounded; a child still running at destruction is killed. No Boost.Test here:
// benchmarks use it too.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace baton::testing {

struct CommandResult {
  int exit_code = -1;  // -1: did not exit normally (signal or timeout).
  std::string out;
  std::string err;
};

// Runs argv[0] with args, waits at most `timeout_ms`, captures stdout and stderr. `env` entries
// ("NAME=value") are added to the environment.
CommandResult RunCommand(const std::vector<std::string>& argv, int timeout_ms = 30000,
                         const std::vector<std::string>& env = {});

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv with stdout+stderr appended to `log_path`, `env` entries ("NAME=value") added to
  // the environment. Returns false if fork/exec failed.
  bool Start(const std::vector<std::string>& argv, const std::string& log_path,
             const std::vector<std::string>& env = {});
  // SIGTERM, then wait up to `timeout_ms`; returns the exit code (-1 on signal or timeout,
  // after which the child is SIGKILLed).
  int Stop(int timeout_ms = 10000);
  void Kill9();  // SIGKILL and reap.
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that nothing is bound to right now, never the same twice in one
// process; 0 if none could be had. Taken below the kernel's ephemeral range when there is room,
// so that no outgoing connection (another test's, or a daemon's) takes it before it is bound.
int FreePort();
// The whole file ("" if unreadable), and one line appended to it.
std::string ReadFile(const std::string& path);
void AppendLine(const std::string& path, const std::string& line);
// In a batond.conf: replaces the `key = ...` line, or appends one (a key may be given once).
void SetConfigKey(const std::string& path, const std::string& key, const std::string& value);

// Paths of the programs under test, set by CMake.
std::string BatondPath();
std::string BatonPath();

}  // namespace baton::testing
