#define BOOST_TEST_MODULE config_test
#include <boost/test/unit_test.hpp>
