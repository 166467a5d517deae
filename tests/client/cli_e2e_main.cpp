#define BOOST_TEST_MODULE cli_e2e_test
#include <boost/test/unit_test.hpp>
