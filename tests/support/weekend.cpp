// See tests/support/weekend.h.
#include "tests/support/weekend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

namespace baton::testing {

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void AppendLine(const std::string& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  out << line << "\n";
}

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

std::string EventIdOf(const json& reply) { return reply["event"].get<std::string>(); }

}  // namespace baton::testing
