// One test site: a temp data directory made by `batond init`, and the `batond run` process
// serving it, with the client library connected over ipc. Start/Stop/Kill9 can be repeated.
#pragma once

#include <string>
#include <vector>

#include "client/client.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace baton::testing {

class Site {
 public:
  // Runs `batond init --site id` in a fresh temp dir; fails the test if it does not succeed.
  explicit Site(const std::string& id);
  // The same with more `batond init` arguments, e.g. {"--role", "site", "--trust", "hq:KEY"}.
  Site(const std::string& id, const std::vector<std::string>& init_args);
  ~Site();

  // Starts `batond run` and waits (at most 15 s) until it answers a ping.
  void Start();
  // The same with more `batond run` arguments and environment entries ("NAME=value").
  void Start(const std::vector<std::string>& run_args, const std::vector<std::string>& env);
  int Stop();  // SIGTERM; returns batond's exit code.
  void Kill9();
  // A connected client (the daemon must be running).
  client::Client Connect();

  const std::string& data() const { return data_; }
  pid_t pid() const { return process_.pid(); }  // -1 when not running.
  const std::string& id() const { return id_; }
  std::string endpoint() const { return "ipc://" + data_ + "/batond.sock"; }
  std::string log_path() const { return dir_.str() + "/batond.log"; }
  // The whole batond log, for failure messages.
  std::string Log() const;

 private:
  std::string id_;
  TempDir dir_;
  std::string data_;
  ChildProcess process_;
};

// A plan of two independent one-hour tasks T-1 and T-2 of team ops at site hq, in a six-hour
// window from 2026-03-27T20:00Z: enough for a test that needs reports, not a schedule.
nlohmann::json TwoTaskPlan(const std::string& runbook_id);

}  // namespace baton::testing
