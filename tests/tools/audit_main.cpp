#define BOOST_TEST_MODULE audit_test
#include <boost/test/unit_test.hpp>
