#define BOOST_TEST_MODULE client_test
#include <boost/test/unit_test.hpp>
