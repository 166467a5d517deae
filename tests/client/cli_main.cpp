// The cli_test executable: pure formatting and parsing of the `baton` CLI (client/cli/).
#define BOOST_TEST_MODULE cli_test
#include <boost/test/unit_test.hpp>
