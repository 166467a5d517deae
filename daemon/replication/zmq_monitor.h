// libzmq socket monitors, opened and closed so that they never block libzmq's I/O thread.
// libzmq sends each monitor event with a blocking send from that thread: an event that finds
// our end of the monitor closed (a handshake completing on a socket being closed) or full
// blocks the thread, and with it every socket of the context, peers and clients alike, for good.
// So our end has no queue limit, and libzmq's side is stopped before our end closes.
#pragma once

#include <memory>
#include <string>
#include <zmq.hpp>

namespace baton::daemon::replication {

// Starts monitoring `socket` for `events` on `endpoint` (an inproc:// name of its own) and opens
// our end; null if libzmq refuses.
std::unique_ptr<zmq::socket_t> OpenMonitor(zmq::context_t& context, zmq::socket_t& socket,
                                           const std::string& endpoint, int events);

// Stops libzmq's monitor of `socket` (no event is sent after this returns), then closes our end.
// `socket` stays open. Either may be null.
void CloseMonitor(zmq::socket_t* socket, std::unique_ptr<zmq::socket_t>& monitor);

// CloseMonitor, then closes `socket`.
void CloseMonitored(std::unique_ptr<zmq::socket_t>& socket,
                    std::unique_ptr<zmq::socket_t>& monitor);

}  // namespace baton::daemon::replication
