#define BOOST_TEST_MODULE clock_e2e_test
#include <boost/test/unit_test.hpp>
