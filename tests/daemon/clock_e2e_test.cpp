// A real batond under a wrong wall clock: libfaketime (Debian `faketime`) makes the daemon's
// clock say what each case needs, the steady clock stays real. A clock outside the years 2000 to
// 2099 keeps batond from starting and, while running, from stamping anything; a site whose
// timestamps ran ahead starts again only when the operator says the clock is right now, and its
// reports then carry the clock's time (docs/operations.md#a-clock-that-ran-ahead).
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/support/process.h"
#include "tests/support/site.h"

namespace baton {
namespace {

using nlohmann::json;
using testing::Site;

constexpr const char* kFaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

// The environment that runs batond under libfaketime with `spec` (FAKETIME's syntax) or, when
// `timestamp_file` is given, with the spec read from that file (re-read each second).
std::vector<std::string> FakeClock(const std::string& spec,
                                   const std::string& timestamp_file = "") {
  BOOST_TEST_REQUIRE(std::filesystem::exists(kFaketime),
                     kFaketime << " is missing: install Debian's faketime (scripts/test.sh does)");
  std::vector<std::string> env{std::string("LD_PRELOAD=") + kFaketime,
                               "FAKETIME_DONT_FAKE_MONOTONIC=1", "FAKETIME_DONT_RESET=1"};
  if (timestamp_file.empty()) {
    env.push_back("FAKETIME=" + spec);
  } else {
    env.push_back("FAKETIME_TIMESTAMP_FILE=" + timestamp_file);
    env.push_back("FAKETIME_CACHE_DURATION=1");
  }
  // Under AddressSanitizer, libfaketime loads before its runtime: harmless, so allowed.
  const char* asan = std::getenv("ASAN_OPTIONS");
  env.push_back(std::string("ASAN_OPTIONS=") + (asan != nullptr ? std::string(asan) + ":" : "") +
                "verify_asan_link_order=0");
  return env;
}

int64_t WallNowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// The "at" of the live report `event` of `task`; -1 if there is none.
int64_t ReportTime(client::Client& c, const std::string& task, const std::string& event) {
  auto t = c.Call("task", json{{"task", task}});
  BOOST_TEST_REQUIRE(t.ok(), t.status().ToString());
  for (const auto& r : (*t)["live_reports"]) {
    if (r["event"] == event) return r["at"].get<int64_t>();
  }
  return -1;
}

BOOST_AUTO_TEST_CASE(a_clock_outside_the_years_2000_to_2099_keeps_batond_from_starting) {
  Site site("hq");
  for (const std::string year : {"1960", "2300"}) {
    auto run = testing::RunCommand({testing::BatondPath(), "run", "--data", site.data()}, 15000,
                                   FakeClock("@" + year + "-01-01 00:00:00"));
    BOOST_TEST(run.exit_code == 2, year << ": " << run.err);
    BOOST_TEST(run.err.find("this machine's clock says " + year + "-01-01") != std::string::npos,
               run.err);
    BOOST_TEST(run.err.find("from 2000 to 2099 only; set the clock") != std::string::npos, run.err);
  }
  // Nothing was changed: the directory serves as soon as the clock is right.
  site.Start();
  BOOST_TEST(site.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_clock_that_leaves_the_domain_while_running_stamps_nothing_until_back) {
  Site site("hq");
  const std::string file = site.data() + "/../faketime.spec";
  std::ofstream(file) << "+0d\n";
  site.Start({}, FakeClock("", file));
  auto c = site.Connect();
  BOOST_TEST_REQUIRE(c.Call("plan.import", json{{"plan", testing::TwoTaskPlan("rb-clock")}}).ok());
  BOOST_TEST_REQUIRE(c.Call("report", json{{"task", "T-1"}, {"kind", "start"}}).ok());

  std::ofstream(file) << "@2300-01-01 00:00:00\n";
  // libfaketime re-reads the file within a second: wait (with a query, which records nothing)
  // until the daemon's clock says 2300.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (c.Call("status").ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto refused = c.Call("report", json{{"task", "T-1"}, {"kind", "done"}});
  // (Boost evaluates the message eagerly: build it only from what exists.)
  BOOST_TEST_REQUIRE(!refused.ok(), "a report was stamped at a clock of 2300: "
                                        << (refused.ok() ? refused->dump() : ""));
  BOOST_TEST(refused.status().message().find("nothing was recorded: this machine's clock says "
                                             "2300-01-01") != std::string::npos,
             refused.status().ToString());
  BOOST_TEST((*c.Call("ping")).is_object());  // Still serving.

  std::ofstream(file) << "+0d\n";
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  Result<json> done = Status::Unavailable("not tried");
  do {
    done = c.Call("report", json{{"task", "T-1"}, {"kind", "done"}});
    if (done.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  BOOST_TEST_REQUIRE(done.ok(), done.status().ToString());
  // Refused reports used no seq: the chain goes on from where it was.
  BOOST_TEST((*done)["event"].get<std::string>() == "hq/3");
  BOOST_TEST(site.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_site_whose_clock_ran_ahead_starts_again_only_when_told) {
  Site site("hq");
  site.Start({}, FakeClock("+3650d"));
  {
    auto c = site.Connect();
    BOOST_TEST_REQUIRE(
        c.Call("plan.import", json{{"plan", testing::TwoTaskPlan("rb-clock")}}).ok());
    BOOST_TEST_REQUIRE(c.Call("report", json{{"task", "T-1"}, {"kind", "start"}}).ok());
  }
  BOOST_TEST_REQUIRE(site.Stop() == 0);

  // The clock is right again: the site's newest timestamp is ten years ahead of it.
  auto run = testing::RunCommand({testing::BatondPath(), "run", "--data", site.data()}, 15000);
  BOOST_TEST(run.exit_code == 2, run.err);
  BOOST_TEST(run.err.find("is stamped 2036-") != std::string::npos, run.err);
  BOOST_TEST(run.err.find("days") != std::string::npos, run.err);
  BOOST_TEST(run.err.find("ahead of this machine's clock") != std::string::npos, run.err);
  BOOST_TEST(run.err.find("batond run --clock-ran-ahead") != std::string::npos, run.err);

  // The operator checked the clock and says so.
  site.Start({"--clock-ran-ahead"}, {});
  BOOST_TEST(site.Log().find("accepted with --clock-ran-ahead") != std::string::npos, site.Log());
  auto c = site.Connect();
  const int64_t before = WallNowMs();
  auto done = c.Call("report", json{{"task", "T-1"}, {"kind", "done"}});
  BOOST_TEST_REQUIRE(done.ok(), done.status().ToString());
  const int64_t after = WallNowMs();
  const std::string event = (*done)["event"].get<std::string>();
  BOOST_TEST(event == "hq/3");
  // Reported at the clock's time, not stamped ten years ahead.
  const int64_t at = ReportTime(c, "T-1", event);
  BOOST_TEST(at >= before - 1000);
  BOOST_TEST(at <= after + 1000);
  // And the board says why.
  auto status = c.Call("status");
  BOOST_TEST_REQUIRE(status.ok());
  BOOST_TEST((*status)["clock_ahead_ms"].get<int64_t>() > 3649LL * 86400000);
  auto shown =
      testing::RunCommand({testing::BatonPath(), "--data", site.data(), "--no-color", "status"});
  BOOST_TEST(shown.out.find("this site's timestamps ran 3649d") != std::string::npos,
             shown.out + shown.err);
  BOOST_TEST(site.Stop() == 0);
}

}  // namespace
}  // namespace baton
