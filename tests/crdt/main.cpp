#define BOOST_TEST_MODULE crdt_test
#include <boost/test/unit_test.hpp>
