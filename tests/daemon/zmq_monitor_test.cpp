// Socket monitors that never block libzmq's I/O thread: a handshake reported after our end of a
// monitor is closed must not stop the context's other sockets. Real sockets on loopback. With
// our end merely closed (libzmq's side not stopped first), both deliveries below fail: the I/O
// thread is stuck in the monitor event's send, for every socket of the context.
#include "daemon/replication/zmq_monitor.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <zmq.hpp>

namespace baton::daemon::replication {
namespace {

// A message from a DEALER reaches a ROUTER within `ms` (one frame after the routing id).
bool Delivered(zmq::socket_t& dealer, zmq::socket_t& router, int ms) {
  if (!dealer.send(zmq::str_buffer("hello"), zmq::send_flags::dontwait)) return false;
  zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::milliseconds(ms)) <= 0) return false;
  zmq::message_t id, body;
  return router.recv(id) && router.recv(body) && body.to_string() == "hello";
}

BOOST_AUTO_TEST_SUITE(zmq_monitor)

BOOST_AUTO_TEST_CASE(a_handshake_after_the_monitor_is_closed_blocks_nothing) {
  // Left open at the end on purpose (and reachable, for the leak checker): if the I/O thread
  // were blocked, terminating the context would hang the test instead of failing it.
  static zmq::context_t* const context = new zmq::context_t(1);
  zmq::socket_t router(*context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.bind("tcp://127.0.0.1:*");
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);

  // Monitored for handshakes, then the monitor closed before the socket ever connects: the
  // handshake comes after, as it does for a socket whose peer answers late.
  zmq::socket_t dealer(*context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  auto monitor =
      OpenMonitor(*context, dealer, "inproc://monitor-test-1", ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
  BOOST_REQUIRE(monitor);
  CloseMonitor(&dealer, monitor);
  BOOST_CHECK(!monitor);
  dealer.connect(endpoint);
  BOOST_CHECK(Delivered(dealer, router, 5000));

  // Another socket of the same context still connects and talks: the I/O thread is free.
  zmq::socket_t other(*context, zmq::socket_type::dealer);
  other.set(zmq::sockopt::linger, 0);
  other.connect(endpoint);
  BOOST_CHECK(Delivered(other, router, 5000));
}

BOOST_AUTO_TEST_CASE(an_open_monitor_reports_the_handshake_and_closes_with_its_socket) {
  zmq::context_t context(1);
  zmq::socket_t router(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.bind("tcp://127.0.0.1:*");
  auto dealer = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
  dealer->set(zmq::sockopt::linger, 0);
  auto monitor =
      OpenMonitor(context, *dealer, "inproc://monitor-test-2", ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
  BOOST_REQUIRE(monitor);
  dealer->connect(router.get(zmq::sockopt::last_endpoint));
  zmq::pollitem_t item{monitor->handle(), 0, ZMQ_POLLIN, 0};
  BOOST_REQUIRE(zmq::poll(&item, 1, std::chrono::milliseconds(5000)) > 0);
  zmq::message_t event;
  BOOST_REQUIRE(monitor->recv(event));
  uint16_t id = 0;
  std::memcpy(&id, event.data(), sizeof id);
  BOOST_CHECK_EQUAL(id, ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
  CloseMonitored(dealer, monitor);
  BOOST_CHECK(!dealer);
  BOOST_CHECK(!monitor);
  // Not a monitor endpoint: refused, nothing opened.
  zmq::socket_t plain(context, zmq::socket_type::dealer);
  BOOST_CHECK(!OpenMonitor(context, plain, "tcp://127.0.0.1:1", ZMQ_EVENT_ALL));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::daemon::replication
