// A weekend of several real sites on loopback for multi-site tests: `batond init` for each (the
// first is the manager and trust anchor, the others trust its key), a free peer port per site,
// peer lines, the fault layer's link cuts, client calls, and the checks every multi-site test
// makes: equal digests everywhere and every acknowledged event at every site.
#pragma once

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/support/site.h"

namespace baton::testing {

using nlohmann::json;

// One weekend's sites. The first is the manager (the trust anchor); the others are initialised
// with --role site --trust hq:KEY. Every site listens for peers on a free loopback port.
class Weekend {
 public:
  explicit Weekend(const std::vector<std::string>& ids, const std::string& faults = "seed=1") {
    for (size_t i = 0; i < ids.size(); ++i) {
      std::vector<std::string> args;
      if (i > 0) args = {"--role", "site", "--trust", ids[0] + ":" + Key(0)};
      sites_.push_back(std::make_unique<Site>(ids[i], args));
      ports_.push_back(FreePort());
      BOOST_REQUIRE_MESSAGE(ports_.back() > 0, "no free loopback port");
      Conf(i, "peer_listen = tcp://127.0.0.1:" + std::to_string(ports_[i]));
      if (!faults.empty()) Conf(i, "fault_injection = " + faults);
    }
  }

  Site& at(size_t i) { return *sites_[i]; }
  size_t size() const { return sites_.size(); }
  std::string Key(size_t i) const {
    std::string hex = ReadFile(sites_[i]->data() + "/identity/site.pub");
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
    return hex;
  }
  void Conf(size_t i, const std::string& line) {
    AppendLine(sites_[i]->data() + "/batond.conf", line);
  }
  // Site `from` dials site `to`.
  // Its key is on the line: `from` may have to dial before it has the roster.
  void Link(size_t from, size_t to) {
    Conf(from, "peer = " + sites_[to]->id() + " tcp://127.0.0.1:" + std::to_string(ports_[to]) +
                   " " + Key(to));
  }
  void StartAll() {
    for (auto& s : sites_) s->Start();
  }
  // Cuts (or heals, with an empty list) the links of site i to the named sites.
  void Cut(size_t i, const std::vector<std::string>& peers) {
    std::ofstream out(sites_[i]->data() + "/faults", std::ios::trunc);
    for (const auto& p : peers) out << "cut " << p << "\n";
  }

  json Call(size_t i, const std::string& op, const json& args = nullptr) {
    auto r = TryCall(i, op, args);
    BOOST_REQUIRE_MESSAGE(r.ok(), sites_[i]->id() + " " + op + ": " + r.status().ToString() +
                                      "\nlog:\n" + sites_[i]->Log());
    return *r;
  }
  // One call; a report refused while the site rejoins its peers after a start (at most the
  // rejoin grace) is retried.
  Result<json> TryCall(size_t i, const std::string& op, const json& args = nullptr) {
    client::ClientOptions o;
    o.timeout_ms = 10000;
    auto c = client::Client::Connect(sites_[i]->endpoint(), o);
    if (!c.ok()) return c.status();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (true) {
      auto r = c->Call(op, args);
      if (r.ok() || r.status().code() != StatusCode::kUnavailable ||
          r.status().message().find("rejoining") == std::string::npos ||
          std::chrono::steady_clock::now() > deadline) {
        return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  json Status(size_t i) { return Call(i, "status", json{{"digest", true}}); }
  // Site i's whole log (every export page): {"site","runbook","digest","events":[...]}.
  json Export(size_t i) {
    client::ClientOptions o;
    o.timeout_ms = 10000;
    auto c = client::Client::Connect(sites_[i]->endpoint(), o);
    BOOST_REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    auto r = c->Export();
    BOOST_REQUIRE_MESSAGE(r.ok(), sites_[i]->id() + " export: " + r.status().ToString());
    return *r;
  }
  // `requests` of one op sent at once on one connection (the daemon commits them in batches),
  // then every reply read; fails the test on an error or after 60 s. The results, in order.
  std::vector<json> CallPipelined(size_t i, const std::string& op,
                                  const std::vector<json>& requests);

  // The roster as a plan's "sites": every site with its key and peer endpoint.
  json Roster() const {
    json sites = json::array();
    for (size_t i = 0; i < sites_.size(); ++i) {
      sites.push_back({{"id", sites_[i]->id()},
                       {"name", sites_[i]->id()},
                       {"public_key", Key(i)},
                       {"role", i == 0 ? "manager" : "site"},
                       {"endpoint", "tcp://127.0.0.1:" + std::to_string(ports_[i])}});
    }
    return sites;
  }

  std::string Logs() const {
    std::string all;
    for (const auto& s : sites_) all += "==== " + s->id() + "\n" + s->Log();
    return all;
  }

  // Waits until `done` holds, at most `seconds`; fails with `what` and every log otherwise.
  void WaitUntil(const std::function<bool()>& done, const std::string& what, int seconds = 30) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    BOOST_FAIL("timed out after " + std::to_string(seconds) + " s waiting for " + what + "\n" +
               Logs());
  }

  // Every site holds the same events and the same state.
  bool Converged() {
    std::set<std::string> digests;
    std::set<uint64_t> counts;
    for (size_t i = 0; i < sites_.size(); ++i) {
      auto s = TryCall(i, "status", json{{"digest", true}});
      if (!s.ok()) return false;
      digests.insert((*s)["digest"].get<std::string>());
      counts.insert((*s)["events"].get<uint64_t>());
    }
    return digests.size() == 1 && counts.size() == 1;
  }
  // Imports `plan` at site 0 (the manager) and waits until every other site holds it.
  void ImportPlan(const json& plan) {
    Call(0, "plan.import", json{{"plan", plan}});
    const std::string runbook = plan["runbook_id"];
    for (size_t i = 1; i < sites_.size(); ++i) {
      WaitUntil([&] { return Status(i)["runbook"]["id"] == runbook; },
                "the plan at " + sites_[i]->id());
    }
  }
  void WaitConverged(const std::string& what, int seconds = 30) {
    WaitUntil([&] { return Converged(); }, "equal digests at every site (" + what + ")", seconds);
  }

  // Every acknowledged event (origin/seq) is in the log of every site, and nothing else is.
  void CheckSet(const std::set<std::string>& acknowledged) {
    for (size_t i = 0; i < sites_.size(); ++i) {
      json ex = Export(i);
      std::set<std::string> held;
      for (const auto& e : ex["events"]) held.insert(e["id"].get<std::string>());
      for (const auto& id : acknowledged) {
        BOOST_CHECK_MESSAGE(held.count(id) == 1, sites_[i]->id() + " lacks acknowledged " + id);
      }
      BOOST_CHECK_MESSAGE(held.size() == acknowledged.size(),
                          sites_[i]->id() + " holds " + std::to_string(held.size()) + " events, " +
                              std::to_string(acknowledged.size()) + " were acknowledged");
    }
  }

 private:
  std::vector<std::unique_ptr<Site>> sites_;
  std::vector<int> ports_;
};

// A plan with one task per site (T-<site>, on that site), the weekend's roster with every key.
json PlanFor(Weekend& w);
// "hq/3" from a mutating reply.
std::string EventIdOf(const json& reply);

}  // namespace baton::testing
