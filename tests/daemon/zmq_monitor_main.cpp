#define BOOST_TEST_MODULE zmq_monitor_test
#include <boost/test/unit_test.hpp>
