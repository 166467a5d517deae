// See daemon/replication/zmq_monitor.h.
#include "daemon/replication/zmq_monitor.h"

namespace baton::daemon::replication {

std::unique_ptr<zmq::socket_t> OpenMonitor(zmq::context_t& context, zmq::socket_t& socket,
                                           const std::string& endpoint, int events) {
  if (zmq_socket_monitor(socket.handle(), endpoint.c_str(), events) != 0) return nullptr;
  auto m = std::make_unique<zmq::socket_t>(context, zmq::socket_type::pair);
  m->set(zmq::sockopt::linger, 0);
  m->set(zmq::sockopt::rcvhwm, 0);  // No limit: a full queue blocks the I/O thread too.
  m->connect(endpoint);
  return m;
}

void CloseMonitor(zmq::socket_t* socket, std::unique_ptr<zmq::socket_t>& monitor) {
  if (socket != nullptr && monitor) zmq_socket_monitor(socket->handle(), nullptr, 0);
  monitor.reset();
}

void CloseMonitored(std::unique_ptr<zmq::socket_t>& socket,
                    std::unique_ptr<zmq::socket_t>& monitor) {
  CloseMonitor(socket.get(), monitor);
  socket.reset();
}

}  // namespace baton::daemon::replication
