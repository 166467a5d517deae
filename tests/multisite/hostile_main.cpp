// Boost.Test main of the hostile-peer tests (real batond processes attacked by hostile_peer).
#define BOOST_TEST_MODULE hostile_peer
#include <boost/test/unit_test.hpp>
