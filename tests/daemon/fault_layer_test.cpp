// The fault layer's spec and control file: a bad spec named, cuts that take effect on the next
// message, and a rewrite the file system's coarse clock cannot hide (a heal written in the same
// tick as the cut it lifts is still seen).
#include "daemon/replication/fault_layer.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/support/temp_dir.h"

namespace baton::daemon::replication {
namespace {

void Write(const std::filesystem::path& file, const std::string& text,
           std::filesystem::file_time_type stamp) {
  std::ofstream(file, std::ios::trunc) << text;
  std::filesystem::last_write_time(file, stamp);
}

BOOST_AUTO_TEST_SUITE(fault_layer)

BOOST_AUTO_TEST_CASE(spec_items_and_refusals) {
  auto spec = ParseFaultSpec("seed=7 drop=0.25 dup=0.5 delay_ms=200");
  BOOST_REQUIRE(spec.ok());
  BOOST_CHECK_EQUAL(spec->seed, 7u);
  BOOST_CHECK_EQUAL(spec->drop, 0.25);
  BOOST_CHECK_EQUAL(spec->duplicate, 0.5);
  BOOST_CHECK_EQUAL(spec->delay_ms, 200);
  auto bad = ParseFaultSpec("seed=7 drop=2");
  BOOST_REQUIRE(!bad.ok());
  BOOST_CHECK_NE(bad.status().message().find("drop"), std::string::npos);
  BOOST_CHECK(!ParseFaultSpec("loss=0.1").ok());
}

BOOST_AUTO_TEST_CASE(a_heal_in_the_same_tick_as_its_cut_is_seen) {
  testing::TempDir dir;
  const auto control = dir.path() / "faults";
  FaultLayer faults(FaultSpec{}, control);
  BOOST_CHECK(faults.Passes("v1"));
  const auto tick = std::filesystem::file_time_type::clock::now();
  Write(control, "cut v1\n", tick);
  BOOST_CHECK(!faults.Passes("v1"));
  BOOST_CHECK(faults.Outgoing("v1", "v1>", "bytes", 0).empty());
  Write(control, "", tick);  // The heal, stamped like the cut: its size tells.
  BOOST_CHECK(faults.Passes("v1"));
  BOOST_CHECK_EQUAL(faults.Outgoing("v1", "v1>", "bytes", 0).size(), 1u);
  Write(control, "cut v2\n", tick);  // Same stamp, same size as "cut v1": seen on a later read.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (faults.Passes("v2") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_CHECK(!faults.Passes("v2"));
  BOOST_CHECK(faults.Passes("v1"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::daemon::replication
