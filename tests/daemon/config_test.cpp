// batond.conf: what the parser refuses, and how a config that cannot be read is named.
#include "daemon/config.h"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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

// Every refusal of a hostile or mistaken config names the line and never echoes more than 60
// characters of what it was given.
BOOST_AUTO_TEST_CASE(hostile_lines_are_refused_by_line_without_echoing_them) {
  const std::string big(100000, 'x');
  struct Case {
    std::string text;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"site = hq\n" + big + "\n", "batond.conf:2: expected `key = value`, got \"xxxx"},
      {"site = hq\n" + big + " = 1\n",
       "batond.conf:2: the line is 100004 bytes, over the limit of 4096"},
      {"site = hq\nsite_name = " + std::string(129, 'n') + "\n",
       "batond.conf:2: key \"site_name\" is 129 bytes, over the limit of 128"},
      {"site = hq\nsite_name = a\x01"
       "b\n",
       "batond.conf:2: a control character (byte 1) in the line"},
      {"site = hq\nrejoin_grace_ms = 9223372036854775807\n",
       "batond.conf:2: key \"rejoin_grace_ms\": \"9223372036854775807\" is not an integer from 0 "
       "to 31622400000"},
      {"site = hq\nmax_clock_skew_ms = 31622400001\n", "is not an integer from 0 to 31622400000"},
      {"site = hq\nsnapshot_every = 1000000001\n", "is not an integer from 0 to 1000000000"},
      {"site = hq\nrole = " + std::string(3000, 'r') + "\n", "key \"role\": \"rrrr"},
      {"site = hq\npeer = " + std::string(3000, 'p') + "\n", "key \"peer\": expected"},
      {"site = hq\n" + std::string(3000, 'k') + " = 1\n", "batond.conf:2: unknown key \"kkkk"},
  };
  for (const auto& c : cases) {
    const auto r = ParseConfig(c.text, "batond.conf", "/tmp/x");
    BOOST_TEST_CONTEXT(c.expect) {
      BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument), Error(r).substr(0, 200));
      BOOST_TEST(Error(r).find(c.expect) != std::string::npos, Error(r).substr(0, 200));
      BOOST_TEST(Error(r).size() < 300u, Error(r).substr(0, 200));
    }
  }
  std::string peers = "site = hq\n";
  for (int i = 0; i <= 256; ++i) peers += "peer = s" + std::to_string(i) + " tcp://h:1\n";
  BOOST_TEST(Error(ParseConfig(peers, "batond.conf", "/tmp/x")) ==
             "InvalidArgument: batond.conf:258: more than 256 peer lines");
}

BOOST_AUTO_TEST_CASE(a_config_file_too_large_is_refused_unread) {
  testing::TempDir dir("config");
  {
    std::ofstream f(dir.path() / "batond.conf");
    f << "site = hq\n" << std::string((size_t{1} << 20) + 10, '#') << "\n";
  }
  const auto r = LoadConfig(dir.path());
  BOOST_TEST((r.status().code() == StatusCode::kInvalidArgument), Error(r));
  BOOST_TEST(Error(r).find("batond.conf\" is 1048597 bytes, over the limit of 1048576: is it the "
                           "right file?") != std::string::npos,
             Error(r));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::daemon
