#define BOOST_TEST_MODULE store_test
#include <boost/test/unit_test.hpp>
