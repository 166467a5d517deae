// Boost.Test main of the multi-site tests (real batond processes replicating on loopback).
#define BOOST_TEST_MODULE multisite
#include <boost/test/unit_test.hpp>
