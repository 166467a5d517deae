// Client request -> durable acknowledgement latency against a real `batond` over ipc: sequential
// `report` calls (p50/p99), the same from several concurrent clients (throughput and latency),
// and the whole `baton done T-x` command (spawn of the real CLI, connect, report, print, exit).
// batond is started on a temporary data directory (`batond init` + `batond run` as children) and
// stopped at the end; every wait is bounded. Figures as text, or --json lines. Build Release.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bench/bench_util.h"
#include "client/client.h"
#include "client/protocol.h"
#include "tests/support/proc_status.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace baton::bench {
namespace {

using nlohmann::json;

struct Options {
  bool json = false;
  int reports = 2000;   // Sequential report calls.
  int clients = 4;      // Concurrent clients; `reports` calls between them.
  int cli_runs = 50;    // `baton done` commands.
  int extra_tasks = 0;  // More tasks in the plan (nobody reports on them): a bigger projection.
  std::filesystem::path dir;  // Parent of the temporary directory; empty: $TMPDIR or /tmp.
};

// Throws: main reports it after the daemon and the directory are cleaned up by unwinding.
[[noreturn]] void Fail(const std::string& what) { throw std::runtime_error(what); }

// Waits at most `timeout_ms` for `pid` to exit; its exit code, or -1 (signal or timeout, after
// which it is killed and reaped).
int WaitExit(pid_t pid, int timeout_ms) {
  auto code = [](int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; };
  int status = 0;
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) kill(pid, SIGKILL);
    close(fd);
  } else {
    // No pidfd (kernel before 5.3): poll waitpid with short sleeps.
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      const pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) return code(status);
      if (w < 0) return -1;
      if (SteadyClock::now() > deadline) {
        kill(pid, SIGKILL);
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  if (waitpid(pid, &status, 0) != pid) return -1;
  return code(status);
}

// Starts `args` with stdout and stderr appended to `log`; the pid, or -1.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The temporary data directory and the batond serving it; stops and removes both.
class Daemon {
 public:
  explicit Daemon(const std::filesystem::path& parent)
      : root_("client-bench", parent),
        data_((root_.path() / "hq").string()),
        log_((root_.path() / "batond.log").string()) {}
  ~Daemon() { Stop(); }  // Then root_ removes the directory.

  void Start() {
    pid_t init = Spawn({BATOND_PATH, "init", "--site", "hq", "--data", data_}, log_);
    if (init < 0 || WaitExit(init, 30'000) != 0) Fail("batond init failed:\n" + ReadFile(log_));
    pid_ = Spawn({BATOND_PATH, "run", "--data", data_}, log_);
    if (pid_ < 0) Fail("cannot start " BATOND_PATH);
    const auto deadline = SteadyClock::now() + std::chrono::seconds(15);
    while (SteadyClock::now() < deadline) {
      client::ClientOptions o;
      o.timeout_ms = 500;
      auto c = client::Client::Connect(endpoint(), o);
      if (c.ok() && c->Call("ping").ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Fail("batond did not answer a ping within 15 s:\n" + ReadFile(log_));
  }

  // SIGTERM, at most 10 s for a clean exit, then SIGKILL.
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    const int code = WaitExit(pid_, 10'000);
    if (code != 0) std::fprintf(stderr, "client_bench: batond exited with %d\n", code);
    pid_ = -1;
  }

  client::Client Connect() const {
    auto c = client::Client::Connect(endpoint());
    if (!c.ok()) Fail("connect: " + c.status().ToString());
    return std::move(c).value();
  }

  std::string endpoint() const { return "ipc://" + data_ + "/batond.sock"; }
  pid_t pid() const { return pid_; }
  const std::string& data() const { return data_; }
  const std::string& log() const { return log_; }

 private:
  testing::TempDir root_;
  std::string data_;
  std::string log_;
  pid_t pid_ = -1;
};

std::string TaskId(int i) { return "T-" + std::to_string(i); }

// `tasks` independent tasks at hq, so every report is valid whatever the order.
json Plan(int tasks) {
  const int64_t start = 1774641600000;  // 2026-03-27T20:00:00Z
  const int64_t hour = 3600 * 1000;
  json list = json::array();
  for (int i = 1; i <= tasks; ++i) {
    list.push_back({{"id", TaskId(i)},
                    {"title", "Step " + std::to_string(i)},
                    {"phase", "deploy"},
                    {"team", "ops"},
                    {"site", "hq"},
                    {"kind", "task"},
                    {"duration_ms", hour},
                    {"predecessors", json::array()},
                    {"backout_task", ""},
                    {"is_backout", false}});
  }
  return json{{"runbook_id", "rb-bench"},           {"name", "Bench weekend"},
              {"timezone", "Europe/Berlin"},        {"window_start_ms", start},
              {"window_end_ms", start + 48 * hour}, {"sites", json::array()},
              {"teams", json::array({"ops"})},      {"tasks", list}};
}

// `count` reports on tasks first_task .. first_task + 3, cycling start/done/reset on each;
// appends each call's latency (ms) to *latencies.
void Reports(client::Client& c, int first_task, int count, std::vector<double>* latencies) {
  static const char* const kCycle[] = {"start", "done", "reset"};
  for (int i = 0; i < count; ++i) {
    json args{{"task", TaskId(first_task + i % 4)}, {"kind", kCycle[(i / 4) % 3]}};
    const auto start = SteadyClock::now();
    auto r = c.Call("report", args);
    latencies->push_back(SecondsSince(start) * 1e3);
    if (!r.ok()) Fail("report " + args.dump() + ": " + r.status().ToString());
  }
}

using testing::ResidentMib;

void ReportLatencies(const Reporter& r, const std::string& prefix, const std::vector<double>& ms,
                     const std::string& p50_target, const std::string& p99_target,
                     const std::string& detail) {
  r.Report(prefix + "_p50_ms", Percentile(ms, 50), "ms", p50_target, detail);
  r.Report(prefix + "_p99_ms", Percentile(ms, 99), "ms", p99_target);
  r.Report(prefix + "_max_ms", Percentile(ms, 100), "ms");
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json") {
      o.json = true;
    } else if (arg == "--quick") {
      o.reports = 200;
      o.cli_runs = 10;
    } else if (arg == "--reports" && has_value) {
      o.reports = std::atoi(argv[++i]);
    } else if (arg == "--clients" && has_value) {
      o.clients = std::atoi(argv[++i]);
    } else if (arg == "--cli-runs" && has_value) {
      o.cli_runs = std::atoi(argv[++i]);
    } else if (arg == "--tasks" && has_value) {
      o.extra_tasks = std::atoi(argv[++i]);
    } else if (arg == "--dir" && has_value) {
      o.dir = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: client_bench [--json] [--quick] [--reports N] [--clients N] "
                   "[--cli-runs N] [--tasks EXTRA] [--dir DIR]\n");
      return 2;
    }
  }
  if (o.reports < 1 || o.clients < 1 || o.clients > 64 || o.cli_runs < 1 || o.cli_runs > 1000 ||
      o.extra_tasks < 0 || o.extra_tasks > 100'000) {
    Fail("--reports, --clients (1..64), --cli-runs (1..1000) or --tasks (0..100000) out of range");
  }
  Reporter r(o.json);
  Daemon d(o.dir);
  d.Start();
  // Tasks: 1..4 sequential, then a block of 4 per concurrent client, then one per CLI run.
  const int concurrent_first = 5;
  const int cli_first = concurrent_first + 4 * o.clients;
  const int plan_tasks = cli_first + o.cli_runs - 1 + o.extra_tasks;
  r.Note("plan of " + std::to_string(plan_tasks) + " tasks");
  {
    client::Client c = d.Connect();
    auto imported = c.Call("plan.import", json{{"plan", Plan(plan_tasks)}});
    if (!imported.ok()) Fail("plan.import: " + imported.status().ToString());

    std::vector<double> ping;
    for (int i = 0; i < 200; ++i) {
      const auto start = SteadyClock::now();
      if (!c.Call("ping").ok()) Fail("ping failed");
      ping.push_back(SecondsSince(start) * 1e3);
    }
    r.Report("ping_p50_ms", Percentile(ping, 50), "ms", "", "round trip, no write; 200 calls");

    std::vector<double> warmup, seq;
    Reports(c, 1, 30, &warmup);
    const auto start = SteadyClock::now();
    Reports(c, 1, o.reports, &seq);
    const double seconds = SecondsSince(start);
    ReportLatencies(r, "report_seq", seq, "<= 1", "<= 5",
                    std::to_string(o.reports) + " sequential reports, acked after fsync");
    r.Report("report_seq_per_s", o.reports / seconds, "reports/s");
  }

  {
    std::vector<std::vector<double>> per_client(static_cast<size_t>(o.clients));
    std::vector<client::Client> clients;
    std::vector<std::string> errors(static_cast<size_t>(o.clients));
    for (int t = 0; t < o.clients; ++t) clients.push_back(d.Connect());
    const int each = (o.reports + o.clients - 1) / o.clients;
    std::vector<std::thread> threads;
    const auto start = SteadyClock::now();
    for (int t = 0; t < o.clients; ++t) {
      threads.emplace_back([&, t] {
        try {
          Reports(clients[static_cast<size_t>(t)], concurrent_first + 4 * t, each,
                  &per_client[static_cast<size_t>(t)]);
        } catch (const std::exception& e) {
          errors[static_cast<size_t>(t)] = e.what();
        }
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& e : errors) {
      if (!e.empty()) Fail(e);
    }
    const double seconds = SecondsSince(start);
    std::vector<double> all;
    for (const auto& v : per_client) all.insert(all.end(), v.begin(), v.end());
    const std::string prefix = "report_" + std::to_string(o.clients) + "c";
    r.Report(prefix + "_per_s", static_cast<double>(all.size()) / seconds, "reports/s", "",
             std::to_string(o.clients) + " clients x " + std::to_string(each) + " reports");
    ReportLatencies(r, prefix, all, "", "", "");
  }

  {
    std::vector<double> cli;
    const std::string cli_log = d.log() + ".cli";
    for (int i = 0; i < o.cli_runs; ++i) {
      const auto start = SteadyClock::now();
      pid_t pid = Spawn(
          {BATON_PATH, "--data", d.data(), "--no-color", "done", TaskId(cli_first + i)}, cli_log);
      if (pid < 0) Fail("cannot start " BATON_PATH);
      const int code = WaitExit(pid, 10'000);
      cli.push_back(SecondsSince(start) * 1e3);
      if (code != 0)
        Fail("baton done exited with " + std::to_string(code) + ":\n" + ReadFile(cli_log));
    }
    r.Report("cli_done_median_ms", Median(cli), "ms", "<= 30",
             "`baton done T-x`, spawn to exit; " + std::to_string(o.cli_runs) + " runs");
    r.Report("cli_done_max_ms", Percentile(cli, 100), "ms");
  }

  {
    // A hostile crowd: 200 connections that sent garbage and never read, and 50 watches from
    // the first event that never read a push, all open while one client reports.
    zmq::context_t context;
    std::vector<zmq::socket_t> crowd;
    std::mt19937 rng(1);
    for (int i = 0; i < 250; ++i) {
      zmq::socket_t s(context, zmq::socket_type::dealer);
      s.set(zmq::sockopt::linger, 0);
      s.set(zmq::sockopt::rcvhwm, 8);
      s.connect(d.endpoint());
      if (i < 200) {
        std::string garbage(1 + rng() % 2048, '\0');
        for (auto& ch : garbage) ch = static_cast<char>(rng());
        s.send(zmq::buffer(garbage));
        s.send(zmq::buffer(std::string(R"({"v":1,"id":"x","op":"status","digest":"yes"})")));
      } else {
        s.send(zmq::buffer(client::MakeRequest("w", "watch", {{"cursor", 0}})));
      }
      crowd.push_back(std::move(s));
    }
    client::Client c = d.Connect();
    std::vector<double> warmup, seq;
    Reports(c, 1, 100, &warmup);  // Meanwhile the stalled watchers' queues fill up.
    const int count = std::max(100, o.reports / 2);
    Reports(c, 1, count, &seq);
    ReportLatencies(r, "report_crowd", seq, "", "<= 5",
                    std::to_string(count) +
                        " sequential reports beside 200 garbage connections and 50 watchers "
                        "that do not read");
    r.Report("crowd_batond_rss_mib", ResidentMib(d.pid()), "MiB", "<= 150",
             "batond resident memory with the crowd connected");
  }
  d.Stop();
  return 0;
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) {
  return baton::bench::RunBench("client_bench", baton::bench::Main, argc, argv);
}
