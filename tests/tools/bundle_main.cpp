#define BOOST_TEST_MODULE bundle_test
#include <boost/test/unit_test.hpp>
