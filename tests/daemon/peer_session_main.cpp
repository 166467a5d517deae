#define BOOST_TEST_MODULE peer_session_test
#include <boost/test/unit_test.hpp>
