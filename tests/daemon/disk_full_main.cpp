#define BOOST_TEST_MODULE disk_full_test
#include <boost/test/unit_test.hpp>
