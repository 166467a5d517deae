#include "tests/support/site.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

namespace baton::testing {

Site::Site(const std::string& id) : Site(id, {}) {}

Site::Site(const std::string& id, const std::vector<std::string>& init_args)
    : id_(id), dir_("baton-site"), data_(dir_.str() + "/" + id) {
  std::vector<std::string> argv{BatondPath(), "init", "--site", id, "--data", data_};
  argv.insert(argv.end(), init_args.begin(), init_args.end());
  auto r = RunCommand(argv);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "batond init failed: " + r.err);
}

Site::~Site() { process_.Kill9(); }

void Site::Start() { Start({}, {}); }

void Site::Start(const std::vector<std::string>& run_args, const std::vector<std::string>& env) {
  std::vector<std::string> argv{BatondPath(), "run", "--data", data_};
  argv.insert(argv.end(), run_args.begin(), run_args.end());
  BOOST_REQUIRE(process_.Start(argv, log_path(), env));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    client::ClientOptions o;
    o.timeout_ms = 500;
    auto c = client::Client::Connect(endpoint(), o);
    if (c.ok() && c->Call("ping").ok()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_FAIL("batond did not answer within 15 s; log:\n" + Log());
}

int Site::Stop() { return process_.Stop(); }

void Site::Kill9() { process_.Kill9(); }

client::Client Site::Connect() {
  auto c = client::Client::Connect(endpoint());
  BOOST_REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  return std::move(c).value();
}

std::string Site::Log() const {
  std::ifstream in(log_path());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json TwoTaskPlan(const std::string& runbook_id) {
  using nlohmann::json;
  const int64_t start = 1774641600000;  // 2026-03-27T20:00:00Z
  const int64_t h = 3600 * 1000;
  json tasks = json::array();
  for (const char* id : {"T-1", "T-2"}) {
    tasks.push_back({{"id", id},
                     {"title", std::string("Task ") + id},
                     {"team", "ops"},
                     {"site", "hq"},
                     {"duration_ms", h},
                     {"predecessors", json::array()}});
  }
  return json{{"runbook_id", runbook_id},
              {"name", "Test weekend " + runbook_id},
              {"timezone", "UTC"},
              {"window_start_ms", start},
              {"window_end_ms", start + 6 * h},
              {"sites", json::array()},
              {"teams", json::array({"ops"})},
              {"tasks", tasks}};
}

}  // namespace baton::testing
