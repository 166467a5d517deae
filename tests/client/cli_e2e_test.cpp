// The `baton` CLI end to end: the real binary against a real batond (tests/support/site.h).
// Import of the example plan, a bad plan that is refused whole, reports and queries with their
// exit codes, the live board, and the daemon being absent.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/site.h"
#include "tests/support/temp_dir.h"

namespace baton {
namespace {

using nlohmann::json;
using testing::CommandResult;
using testing::RunCommand;
using testing::Site;

CommandResult Baton(const Site& site, std::vector<std::string> args) {
  std::vector<std::string> argv{testing::BatonPath(), "--data", site.data()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, 30000, {"NO_COLOR=1"});
}

std::vector<std::string> ImportExample() {
  return {"plan",
          "import",
          BATON_SOURCE_DIR "/examples/cutover-plan.csv",
          "--tz",
          "Europe/Berlin",
          "--window-start",
          "2026-03-27 20:00",
          "--window-end",
          "2026-03-30 06:00"};
}

// A loopback port that was free a moment ago.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_end_to_end)

BOOST_AUTO_TEST_CASE(remote_clients_use_tcp_with_curve_and_unknown_keys_are_refused) {
  Site hq("hq");
  Site other("other");
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(FreePort());
  testing::TempDir dir("baton-curve");
  const std::string alice = (dir / "alice.curve").string();
  auto allowed = RunCommand({testing::BatondPath(), "allow-client", "--data", hq.data(), "--out",
                             alice, "--listen", endpoint});
  BOOST_REQUIRE_MESSAGE(allowed.exit_code == 0, allowed.err);
  hq.Start();
  auto remote = RunCommand(
      {testing::BatonPath(), "--endpoint", endpoint, "--curve-file", alice, "status", "--json"});
  BOOST_REQUIRE_MESSAGE(remote.exit_code == 0, remote.err + "\n" + hq.Log());
  BOOST_TEST(json::parse(remote.out)["runbook"]["site"].get<std::string>() == "hq");

  // Mallory has a well-formed key pair and hq's public key, but hq never admitted her key.
  const std::string mallory = (dir / "mallory.curve").string();
  auto other_allowed = RunCommand({testing::BatondPath(), "allow-client", "--data", other.data(),
                                   "--out", mallory, "--listen", "tcp://127.0.0.1:1"});
  BOOST_REQUIRE(other_allowed.exit_code == 0);
  std::string forged = ReadFile(mallory);
  const std::string hq_key = ReadFile(hq.data() + "/identity/curve.pub").substr(0, 40);
  const size_t at = forged.find("server_key = ");
  BOOST_REQUIRE(at != std::string::npos);
  forged.replace(at + 13, 40, hq_key);
  const std::string forged_path = (dir / "forged.curve").string();
  std::ofstream(forged_path) << forged;
  auto refused = RunCommand({testing::BatonPath(), "--endpoint", endpoint, "--curve-file",
                             forged_path, "--timeout", "1500", "status"});
  BOOST_TEST(refused.exit_code == 2, refused.out + refused.err);
  auto no_credentials = RunCommand({testing::BatonPath(), "--endpoint", endpoint, "status"});
  BOOST_TEST(no_credentials.exit_code == 1);
  BOOST_TEST(no_credentials.err.find("--curve-file") != std::string::npos, no_credentials.err);
}

BOOST_AUTO_TEST_CASE(import_report_and_query_the_example_plan) {
  Site site("hq");
  site.Start();
  auto imported = Baton(site, ImportExample());
  BOOST_REQUIRE_MESSAGE(imported.exit_code == 0, imported.err);
  BOOST_TEST(imported.out.find("165 tasks") != std::string::npos, imported.out);

  auto done = Baton(site, {"done", "T-001"});
  BOOST_REQUIRE_MESSAGE(done.exit_code == 0, done.err);
  BOOST_TEST(done.out.find("T-001 done") != std::string::npos, done.out);
  auto started = Baton(site, {"start", "T-002", "--at", "2026-03-27T19:05:00Z", "--as", "Ana"});
  BOOST_REQUIRE_MESSAGE(started.exit_code == 0, started.err);

  auto status = Baton(site, {"status", "--json"});
  BOOST_REQUIRE_MESSAGE(status.exit_code == 0, status.err);
  json s = json::parse(status.out);
  BOOST_TEST(s["counts"]["done"].get<int>() == 1);
  BOOST_TEST(s["counts"]["running"].get<int>() == 1);

  auto show = Baton(site, {"show", "T-002", "--json"});
  BOOST_REQUIRE_MESSAGE(show.exit_code == 0, show.err);
  json t = json::parse(show.out);
  BOOST_TEST(t["actual_start"].get<int64_t>() == 1774638300000);  // The --at time.
  const std::string actor = t["history"].back()["actor"].get<std::string>();
  BOOST_TEST(actor.find("Ana") != std::string::npos, actor);

  for (const char* query : {"ready", "late", "blocked", "critical", "forecast", "mine"}) {
    auto q = Baton(site, {query});
    BOOST_TEST(q.exit_code == 0, query << ": " << q.err);
  }
  auto board = Baton(site, {"watch", "--once", "--no-color"});
  BOOST_REQUIRE_MESSAGE(board.exit_code == 0, board.err);
  BOOST_TEST(board.out.find("Forecast") != std::string::npos, board.out);
  BOOST_TEST(board.out.find("\x1b[") == std::string::npos);  // No colour when asked.
}

BOOST_AUTO_TEST_CASE(a_bad_plan_is_refused_whole_with_every_error_located) {
  Site site("hq");
  site.Start();
  testing::TempDir dir("baton-csv");
  const std::string path = (dir / "bad.csv").string();
  {
    std::ofstream f(path);
    f << "ID,Title,Duration,Predecessors\n"
      << "T-1,First,30m,\n"
      << "T-1,Duplicate,30m,\n"
      << "T-2,Bad duration,2h30x,T-1\n"
      << "T-3,Unknown predecessor,10m,T-99\n";
  }
  auto r = Baton(site, {"plan", "import", path, "--window-start", "2026-03-27 20:00"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("bad.csv:3:") != std::string::npos, r.err);   // Duplicate id.
  BOOST_TEST(r.err.find("bad.csv:4:3") != std::string::npos, r.err);  // Duration cell.
  BOOST_TEST(r.err.find("T-99") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("nothing was imported") != std::string::npos, r.err);
  auto status = Baton(site, {"status", "--json"});
  BOOST_REQUIRE(status.exit_code == 0);
  BOOST_TEST(json::parse(status.out)["events"].get<int>() == 0);
}

BOOST_AUTO_TEST_CASE(plan_amend_adds_tasks_that_depend_on_existing_ones) {
  Site site("hq");
  site.Start();
  BOOST_REQUIRE(Baton(site, ImportExample()).exit_code == 0);
  testing::TempDir dir("baton-amend");
  const std::string extra = (dir / "extra.csv").string();
  std::ofstream(extra) << "ID,Title,Team,Site,Duration,Predecessors\n"
                       << "T-900,Extra smoke test of the teller UI,qa,hq,25m,T-024\n";
  auto added = Baton(site, {"plan", "amend", "--add-csv", extra});
  BOOST_REQUIRE_MESSAGE(added.exit_code == 0, added.err);
  auto show = Baton(site, {"show", "T-900", "--json"});
  BOOST_REQUIRE_MESSAGE(show.exit_code == 0, show.err);
  BOOST_TEST(json::parse(show.out)["duration_ms"].get<int64_t>() == 25 * 60000);

  const std::string dup = (dir / "dup.csv").string();
  std::ofstream(dup) << "ID,Title,Duration,Predecessors\n"
                     << "T-001,Clashes with an existing id,10m,\n"
                     << "T-901,Depends on nothing known,10m,T-999\n";
  auto refused = Baton(site, {"plan", "amend", "--add-csv", dup});
  BOOST_TEST(refused.exit_code == 1);
  BOOST_TEST(refused.err.find("dup.csv:2:") != std::string::npos, refused.err);
  BOOST_TEST(refused.err.find("T-999") != std::string::npos, refused.err);
  auto missing = Baton(site, {"show", "T-901"});
  BOOST_TEST(missing.exit_code == 3);
}

BOOST_AUTO_TEST_CASE(refusals_and_absences_have_their_own_exit_codes) {
  Site site("hq");
  site.Start();
  BOOST_REQUIRE(Baton(site, ImportExample()).exit_code == 0);
  auto unknown = Baton(site, {"done", "T-999"});
  BOOST_TEST(unknown.exit_code == 3);
  BOOST_TEST(unknown.err.find("T-999") != std::string::npos, unknown.err);
  auto not_gate = Baton(site, {"gate", "T-002", "go"});
  BOOST_TEST(not_gate.exit_code == 1, not_gate.err);
  auto bad_at = Baton(site, {"done", "T-001", "--at", "yesterday-ish"});
  BOOST_TEST(bad_at.exit_code == 1, bad_at.err);
  BOOST_TEST(bad_at.err.find("--at") != std::string::npos, bad_at.err);
  // Effective times that cannot be true are refused, and nothing is recorded.
  BOOST_REQUIRE(Baton(site, {"start", "T-001", "--at", "2026-03-27T19:05:00Z"}).exit_code == 0);
  auto before_start = Baton(site, {"done", "T-001", "--at", "2026-03-27T19:00:00Z"});
  BOOST_TEST(before_start.exit_code == 1, before_start.err);
  BOOST_TEST(before_start.err.find("before task \"T-001\" started (2026-03-27T19:05:00.000Z)") !=
                 std::string::npos,
             before_start.err);
  auto future = Baton(site, {"done", "T-001", "--at", "2099-01-01T00:00:00Z"});
  BOOST_TEST(future.exit_code == 1, future.err);
  BOOST_TEST(future.err.find("2099-01-01T00:00:00.000Z is in the future") != std::string::npos,
             future.err);
  auto shown = Baton(site, {"show", "T-001", "--json"});
  BOOST_REQUIRE_MESSAGE(shown.exit_code == 0, shown.err);
  BOOST_TEST(json::parse(shown.out)["status"].get<std::string>() == "running", shown.out);
  BOOST_TEST(json::parse(shown.out)["history"].size() == 2u, shown.out);  // Listing + start.

  site.Stop();
  auto absent = Baton(site, {"status"});
  BOOST_TEST(absent.exit_code == 2);
  BOOST_TEST(absent.err.find("batond") != std::string::npos, absent.err);
}

BOOST_AUTO_TEST_CASE(watch_board_follows_the_daemon_across_a_restart) {
  Site site("hq");
  site.Start();
  BOOST_REQUIRE(Baton(site, ImportExample()).exit_code == 0);
  testing::TempDir dir("baton-watch");
  const std::string log = (dir / "watch.log").string();
  testing::ChildProcess watch;
  BOOST_REQUIRE(watch.Start({"/usr/bin/env", "NO_COLOR=1", testing::BatonPath(), "--data",
                             site.data(), "watch", "--no-clear", "--no-color"},
                            log));
  auto wait_for = [&](const std::string& needle) {
    for (int i = 0; i < 300; ++i) {  // At most 30 s.
      if (ReadFile(log).find(needle) != std::string::npos) return true;
      usleep(100 * 1000);
    }
    return false;
  };
  BOOST_REQUIRE(Baton(site, {"start", "T-001"}).exit_code == 0);
  BOOST_REQUIRE_MESSAGE(wait_for("hq/2"), ReadFile(log));
  BOOST_REQUIRE(site.Stop() == 0);
  site.Start();
  BOOST_REQUIRE(Baton(site, {"done", "T-001"}).exit_code == 0);
  // The board reconnects and shows the event recorded after the restart.
  BOOST_TEST(wait_for("hq/3"), ReadFile(log));
  watch.Stop();
}

BOOST_AUTO_TEST_CASE(every_command_has_help_with_an_example) {
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"plan", "import", "--help"},
                                             {"done", "--help"},
                                             {"status", "--help"},
                                             {"watch", "--help"}}) {
    std::vector<std::string> argv{testing::BatonPath()};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    auto r = RunCommand(argv);
    BOOST_TEST(r.exit_code == 0, cmd.front());
    BOOST_TEST(r.out.find("xample") != std::string::npos, cmd.front() << ": " << r.out);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace baton
