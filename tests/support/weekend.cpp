// See tests/support/weekend.h.
#include "tests/support/weekend.h"

#include <zmq.hpp>

#include "client/protocol.h"

namespace baton::testing {

// A plan with one task per site (T-<site>) and one task every site may see but only `hq` runs.
json PlanFor(Weekend& w) {
  const int64_t start = 1774641600000;  // 2026-03-27T20:00:00Z
  const int64_t h = 3600 * 1000;
  json tasks = json::array();
  for (size_t i = 0; i < w.size(); ++i) {
    const std::string id = w.at(i).id();
    tasks.push_back({{"id", "T-" + id},
                     {"title", "Work at " + id},
                     {"phase", "deploy"},
                     {"team", "ops"},
                     {"site", id},
                     {"kind", "task"},
                     {"duration_ms", h},
                     {"predecessors", json::array()}});
  }
  return json{{"runbook_id", "rb-multi"},        {"name", "Multi-site weekend"},
              {"timezone", "Europe/Berlin"},     {"window_start_ms", start},
              {"window_end_ms", start + 12 * h}, {"sites", w.Roster()},
              {"teams", json::array({"ops"})},   {"tasks", tasks}};
}

std::vector<json> Weekend::CallPipelined(size_t i, const std::string& op,
                                         const std::vector<json>& requests) {
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(sites_[i]->endpoint());
  for (size_t n = 0; n < requests.size(); ++n) {
    socket.send(zmq::buffer(client::MakeRequest(std::to_string(n), op, requests[n])));
  }
  std::vector<json> results(requests.size());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (size_t got = 0; got < requests.size();) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(200));
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                          sites_[i]->id() + " " + op + ": " + std::to_string(got) + " of " +
                              std::to_string(requests.size()) + " replies within 60 s");
    zmq::message_t frame;
    if (!(item.revents & ZMQ_POLLIN) || !socket.recv(frame, zmq::recv_flags::dontwait)) continue;
    auto msg = client::ParseServerMessage(frame.to_string());
    BOOST_REQUIRE_MESSAGE(msg.ok() && msg->status.ok() && !msg->is_push(),
                          sites_[i]->id() + " " + op + ": " +
                              (msg.ok() ? msg->status.ToString() : msg.status().ToString()));
    results.at(std::stoul(msg->id)) = msg->result;
    ++got;
  }
  return results;
}

std::string EventIdOf(const json& reply) { return reply["event"].get<std::string>(); }

}  // namespace baton::testing
