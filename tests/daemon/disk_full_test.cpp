// A real batond whose data directory is on a small tmpfs, in a mount namespace of this test's
// own (root only; skipped with a message otherwise). The disk fills up: reports are refused with
// a clear error and nothing recorded, queries go on, the daemon stays up; space comes back:
// reports are recorded again without a restart, the chain going on from its last stored seq; a
// SIGTERM while full stops it cleanly; after all that the log is whole
// (docs/operations.md#a-full-disk).
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/support/args.h"
#include "tests/support/process.h"
#include "tests/support/site.h"

namespace baton {
namespace {

using nlohmann::json;
using testing::Site;

// RocksDB resumes from a full disk once its write buffer's worth (64 MiB) is free again.
constexpr const char* kDiskSize = "size=96m";

// Puts `dir` (its contents kept) on a tmpfs of its own, in a mount namespace of this process
// (inherited by the batond it starts). False, with the reason, where that is not permitted.
bool OnSmallDisk(const std::string& dir, std::string* why) {
  if (::unshare(CLONE_NEWNS) != 0) {
    *why = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    return false;
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    *why = std::string("making / private: ") + std::strerror(errno);
    return false;
  }
  const std::string aside = dir + ".aside";
  std::filesystem::rename(dir, aside);
  std::filesystem::create_directory(dir);
  const std::string options = std::string(kDiskSize) + ",mode=0700";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    *why = std::string("mounting a tmpfs: ") + std::strerror(errno);
    return false;
  }
  std::filesystem::copy(aside, dir, std::filesystem::copy_options::recursive);
  std::filesystem::remove_all(aside);
  return true;
}

// Writes `path` until the disk is full; returns the bytes written.
size_t FillDisk(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  BOOST_TEST_REQUIRE(fd >= 0, path << ": " << std::strerror(errno));
  const std::vector<char> chunk(1 << 16, 'x');
  size_t written = 0;
  for (;;) {
    const ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  return written;
}

// Asks `op` until it succeeds or `seconds` pass; the last answer.
Result<json> UntilOk(client::Client& c, const std::string& op, const json& args, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (;;) {
    auto r = c.Call(op, args);
    if (r.ok() || std::chrono::steady_clock::now() > deadline) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

BOOST_AUTO_TEST_CASE(a_full_disk_refuses_writes_keeps_serving_and_resumes_by_itself) {
  Site site("hq");
  std::string why;
  if (!OnSmallDisk(site.data(), &why)) {
    BOOST_TEST_MESSAGE("SKIPPED: needs root for a tmpfs in a mount namespace (" << why << ")");
    return;
  }
  const std::string filler = site.data() + "/filler";
  site.Start();
  auto c = site.Connect();
  BOOST_TEST_REQUIRE(c.Call("plan.import", json{{"plan", testing::TwoTaskPlan("rb-disk")}}).ok());
  BOOST_TEST_REQUIRE(c.Call("report", json{{"task", "T-1"}, {"kind", "start"}}).ok());

  BOOST_TEST(FillDisk(filler) > 0u);
  const std::string note(4000, 'n');  // With its event, more than a page of the WAL.
  for (int i = 0; i < 3; ++i) {
    auto refused = c.Call("note", json{{"task", "T-1"}, {"text", note}});
    BOOST_TEST_REQUIRE(!refused.ok(), "a note was acknowledged on a full disk");
    BOOST_TEST((refused.status().code() == StatusCode::kIOError), refused.status().ToString());
    BOOST_TEST(refused.status().message().find("nothing was recorded") != std::string::npos,
               refused.status().ToString());
    if (i == 0) {
      BOOST_TEST(refused.status().message().find("is full") != std::string::npos,
                 refused.status().ToString());
    }
  }
  // Still up: queries answer from what is stored, and nothing of the refused notes shows.
  auto status = c.Call("status");
  BOOST_TEST_REQUIRE(status.ok(), status.status().ToString());
  BOOST_TEST((*status)["events"].get<int>() == 2);
  auto task = c.Call("task", json{{"task", "T-1"}});
  BOOST_TEST_REQUIRE(task.ok());
  BOOST_TEST((*task)["notes"].empty());
  BOOST_TEST(site.Log().find("Assertion") == std::string::npos, site.Log());

  // Space comes back: the next report is recorded without a restart, at the next seq.
  std::filesystem::remove(filler);
  auto done = UntilOk(c, "report", json{{"task", "T-1"}, {"kind", "done"}}, 30);
  BOOST_TEST_REQUIRE(done.ok(), done.status().ToString() << "\n" << site.Log());
  BOOST_TEST((*done)["event"].get<std::string>() == "hq/3");

  // More fill-and-free cycles: CI runs the one above; the soak label 50 (`-- --cycles 50`).
  const int cycles = std::max(1, testing::IntArg("--cycles", nullptr, 1));
  int events = 3;
  for (int cycle = 1; cycle < cycles; ++cycle) {
    BOOST_TEST_CONTEXT("fill-and-free cycle " << cycle + 1 << " of " << cycles) {
      BOOST_TEST_REQUIRE(FillDisk(filler) > 0u);
      auto refused = c.Call("note", json{{"task", "T-1"}, {"text", note}});
      BOOST_TEST_REQUIRE(!refused.ok(), "a note was acknowledged on a full disk");
      BOOST_TEST((refused.status().code() == StatusCode::kIOError), refused.status().ToString());
      std::filesystem::remove(filler);
      auto noted = UntilOk(c, "note", json{{"task", "T-1"}, {"text", "cycle"}}, 30);
      BOOST_TEST_REQUIRE(noted.ok(), noted.status().ToString() << "\n" << site.Log());
      ++events;
      BOOST_TEST((*noted)["event"].get<std::string>() == "hq/" + std::to_string(events));
    }
  }
  const std::string digest = (*c.Call("status", json{{"digest", true}}))["digest"];

  // Full again, and the operator stops batond: a clean stop, not an abort.
  BOOST_TEST(FillDisk(filler) > 0u);
  BOOST_TEST(!c.Call("note", json{{"task", "T-2"}, {"text", note}}).ok());
  BOOST_TEST(site.Stop() == 0, site.Log());

  // The log holds exactly what was acknowledged, its chain intact.
  std::filesystem::remove(filler);
  site.Start();
  auto again = site.Connect();
  auto reopened = again.Call("status", json{{"digest", true}});
  BOOST_TEST_REQUIRE(reopened.ok(), reopened.status().ToString());
  BOOST_TEST((*reopened)["events"].get<int>() == events);
  BOOST_TEST((*reopened)["digest"].get<std::string>() == digest);
  auto next = again.Call("report", json{{"task", "T-2"}, {"kind", "start"}});
  BOOST_TEST_REQUIRE(next.ok(), next.status().ToString());
  BOOST_TEST((*next)["event"].get<std::string>() == "hq/" + std::to_string(events + 1));
  BOOST_TEST(site.Stop() == 0);
}

}  // namespace
}  // namespace baton
