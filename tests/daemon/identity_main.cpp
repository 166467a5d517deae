#define BOOST_TEST_MODULE identity_test
#include <boost/test/unit_test.hpp>
