#define BOOST_TEST_MODULE hostile_client_test
#include <boost/test/unit_test.hpp>
