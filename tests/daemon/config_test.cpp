// batond.conf: what the parser refuses, and how a config that cannot be read is named.
#include "daemon/config.h"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"

namespace baton::daemon {
namespace {

std::string Error(const Result<Config>& r) { return r.ok() ? "(ok)" : r.status().ToString(); }

BOOST_AUTO_TEST_SUITE(ConfigTest)

BOOST_AUTO_TEST_CASE(a_key_given_twice_is_refused_with_both_lines) {
  const auto r = ParseConfig("site = hq\nrole = manager\n# a comment\nsite = vendor\n",
                             "batond.conf", "/tmp/x");
  BOOST_TEST(Error(r) ==
             "InvalidArgument: batond.conf:4: key \"site\" is given again (first at line 1); "
             "keep one of them");
}

BOOST_AUTO_TEST_CASE(the_keys_that_list_things_may_repeat) {
  const std::string key_a(40, 'a'), key_b(40, 'b');
  const auto r = ParseConfig("site = hq\nclient_key = " + key_a + "\nclient_key = " + key_b + "\n",
                             "batond.conf", "/tmp/x");
  BOOST_TEST_REQUIRE(r.ok(), Error(r));
  BOOST_TEST(r->client_keys.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_missing_config_names_the_data_directory_and_init) {
  testing::TempDir dir("config");
  const auto r = LoadConfig(dir.path());
  BOOST_TEST((r.status().code() == StatusCode::kNotFound), Error(r));
  BOOST_TEST(Error(r).find("not found (is " + dir.path().string() +
                           " a batond data directory? create one with `batond init`)") !=
                 std::string::npos,
             Error(r));
}

BOOST_AUTO_TEST_CASE(an_unreadable_config_says_why_instead_of_asking_for_init) {
  testing::TempDir dir("config");
  std::filesystem::create_directory(dir.path() / "batond.conf");
  const auto r = LoadConfig(dir.path());
  BOOST_TEST((r.status().code() == StatusCode::kIOError), Error(r));
  BOOST_TEST(Error(r).find("batond.conf: cannot read: not a regular file") != std::string::npos,
             Error(r));
  BOOST_TEST(Error(r).find("batond init") == std::string::npos, Error(r));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::daemon
