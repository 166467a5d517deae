#define BOOST_TEST_MODULE ledger_test
#include <boost/test/unit_test.hpp>
