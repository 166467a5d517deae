// Several real `batond` processes replicating over CURVE tcp on loopback. Each test builds a
// topology, drives reports through the client library at several sites, cuts links with the
// fault layer's control file (DATA/faults), and waits (with a deadline, never a bare sleep) for
// what a set checker checks: every acknowledged event present at every site, nothing present
// that nobody wrote, equal state digests.
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/support/args.h"
#include "tests/support/process.h"
#include "tests/support/site.h"
#include "tests/support/weekend.h"

namespace baton {
namespace {

using nlohmann::json;
using testing::AppendLine;
using testing::EventIdOf;
using testing::PlanFor;
using testing::Site;
using testing::Weekend;

struct FaultsAllowed {
  FaultsAllowed() { setenv("BATON_ALLOW_FAULT_INJECTION", "1", 1); }
};
BOOST_TEST_GLOBAL_FIXTURE(FaultsAllowed);

BOOST_AUTO_TEST_SUITE(multisite)

BOOST_AUTO_TEST_CASE(two_sites_live_offline_and_heal) {
  Weekend w({"hq", "v1"});
  w.Link(1, 0);  // v1 dials hq.
  w.StartAll();
  std::set<std::string> acked;
  json imported = w.Call(0, "plan.import", json{{"plan", PlanFor(w)}});
  acked.insert(EventIdOf(imported));
  // The plan reaches v1 over the link: its runbook is bound and it may report on its task.
  w.WaitUntil([&] { return w.Status(1)["runbook"]["id"] == "rb-multi"; }, "the plan at v1");
  json r = w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "start"}});
  acked.insert(EventIdOf(r));
  w.WaitUntil(
      [&] {
        return w.Call(0, "task", json{{"task", "T-v1"}})["status"].get<std::string>() == "running";
      },
      "v1's start at hq");
  w.WaitConverged("live");

  // Cut the link both ways; both sides keep working.
  w.Cut(0, {"v1"});
  w.Cut(1, {"hq"});
  acked.insert(EventIdOf(w.Call(0, "report", json{{"task", "T-hq"}, {"kind", "start"}})));
  acked.insert(EventIdOf(w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "done"}})));
  acked.insert(EventIdOf(w.Call(1, "note", json{{"task", "T-v1"}, {"text", "offline note"}})));
  BOOST_CHECK(!w.Converged());
  w.Cut(0, {});
  w.Cut(1, {});
  w.WaitConverged("after heal");
  BOOST_CHECK_EQUAL(w.Call(0, "task", json{{"task", "T-v1"}})["status"].get<std::string>(), "done");
  w.CheckSet(acked);
}

BOOST_AUTO_TEST_CASE(chain_of_five_converges_and_routes_around_a_cut) {
  Weekend w({"hq", "v1", "v2", "v3", "v4"});
  // A chain hq - v1 - v2 - v3 - v4, plus v4 - v2, so that v4 still reaches hq through v2 when
  // v3 is cut off.
  w.Link(1, 0);
  w.Link(2, 1);
  w.Link(3, 2);
  w.Link(4, 3);
  w.Link(4, 2);
  w.StartAll();
  std::set<std::string> acked;
  acked.insert(EventIdOf(w.Call(0, "plan.import", json{{"plan", PlanFor(w)}})));
  // v4 may have it through v2 before v3 has it: wait for every site.
  w.WaitUntil(
      [&] {
        for (size_t i = 1; i < w.size(); ++i) {
          if (w.Status(i)["runbook"]["id"] != "rb-multi") return false;
        }
        return true;
      },
      "the plan at every site, up to four hops away");
  for (size_t i = 1; i < w.size(); ++i) {
    acked.insert(
        EventIdOf(w.Call(i, "report", json{{"task", "T-" + w.at(i).id()}, {"kind", "start"}})));
  }
  w.WaitConverged("chain");
  // v3 is cut off from everyone; v4 still converges with hq through v2.
  w.Cut(3, {"v2", "v4"});
  w.Cut(2, {"v3"});
  w.Cut(4, {"v3"});
  acked.insert(EventIdOf(w.Call(4, "report", json{{"task", "T-v4"}, {"kind", "done"}})));
  acked.insert(EventIdOf(w.Call(0, "note", json{{"task", ""}, {"text", "hq to all"}})));
  w.WaitUntil(
      [&] {
        return w.Call(0, "task", json{{"task", "T-v4"}})["status"].get<std::string>() == "done" &&
               w.Call(4, "status")["events"] == w.Call(0, "status")["events"];
      },
      "v4's report at hq through v2 while v3 is cut off");
  acked.insert(EventIdOf(w.Call(3, "report", json{{"task", "T-v3"}, {"kind", "done"}})));
  for (size_t i : {2, 3, 4}) w.Cut(i, {});
  w.WaitConverged("after v3 returns");
  w.CheckSet(acked);
}

BOOST_AUTO_TEST_CASE(concurrent_contradictory_reports_conflict_everywhere_until_resolved) {
  Weekend w({"hq", "v1", "v2"});
  w.Link(1, 0);
  w.Link(2, 0);
  w.StartAll();
  w.Call(0, "plan.import", json{{"plan", PlanFor(w)}});
  w.WaitUntil([&] { return w.Status(1)["runbook"]["id"] == "rb-multi"; }, "the plan at v1");
  w.WaitConverged("plan everywhere");
  // hq (a manager) and v1 (the task's site) report on T-v1 while partitioned.
  w.Cut(0, {"v1"});
  w.Cut(1, {"hq"});
  w.Call(0, "report", json{{"task", "T-v1"}, {"kind", "done"}});
  w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "fail"}, {"note", "disk full"}});
  w.Cut(0, {});
  w.Cut(1, {});
  w.WaitConverged("after heal");
  for (size_t i = 0; i < w.size(); ++i) {
    json t = w.Call(i, "task", json{{"task", "T-v1"}});
    BOOST_CHECK_MESSAGE(t["conflict"] == true, w.at(i).id() + ": " + t.dump());
  }
  // A report made after seeing both supersedes them: resolved at every site.
  w.Call(0, "report", json{{"task", "T-v1"}, {"kind", "done"}, {"note", "checked: it is done"}});
  w.WaitConverged("after the resolution");
  for (size_t i = 0; i < w.size(); ++i) {
    json t = w.Call(i, "task", json{{"task", "T-v1"}});
    BOOST_CHECK_MESSAGE(t["conflict"] == false, w.at(i).id() + ": " + t.dump());
    BOOST_CHECK_EQUAL(t["status"].get<std::string>(), "done");
  }
}

BOOST_AUTO_TEST_CASE(kill9_mid_sync_loses_nothing_acknowledged) {
  Weekend w({"hq", "v1"});
  w.Link(1, 0);
  w.StartAll();
  std::set<std::string> acked;
  acked.insert(EventIdOf(w.Call(0, "plan.import", json{{"plan", PlanFor(w)}})));
  w.WaitUntil([&] { return w.Status(1)["runbook"]["id"] == "rb-multi"; }, "the plan at v1");
  w.Cut(0, {"v1"});
  for (int i = 0; i < 300; ++i) {
    acked.insert(EventIdOf(
        w.Call(0, "note", json{{"task", "T-hq"}, {"text", "note " + std::to_string(i)}})));
  }
  w.Cut(0, {});
  // Kill v1 while it catches up, then restart it.
  w.WaitUntil([&] { return w.Status(1)["events"].get<uint64_t>() > 1; }, "catch-up to begin");
  w.at(1).Kill9();
  w.at(1).Start();
  acked.insert(EventIdOf(w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "start"}})));
  w.WaitConverged("after the restart");
  w.CheckSet(acked);
}

BOOST_AUTO_TEST_CASE(an_unknown_peer_is_refused_and_counted) {
  Weekend w({"hq", "v1"});
  w.Link(1, 0);
  // A site that is not on the roster dials hq with its own key.
  Site stranger("x9", {"--role", "site", "--trust", "hq:" + w.Key(0)});
  AppendLine(stranger.data() + "/batond.conf",
             "peer = hq " + w.Roster()[0]["endpoint"].get<std::string>());
  w.StartAll();
  stranger.Start();
  w.Call(0, "plan.import", json{{"plan", PlanFor(w)}});
  w.WaitConverged("hq and v1");
  w.WaitUntil([&] { return w.Call(0, "sites")["refused_connections"].get<uint64_t>() > 0; },
              "hq to refuse the stranger");
  auto s = stranger.Connect().Call("status");
  BOOST_REQUIRE(s.ok());
  BOOST_CHECK_EQUAL((*s)["events"].get<uint64_t>(), 0u);  // Nothing reached it.
  json links = w.Call(0, "sites");
  BOOST_CHECK_MESSAGE(links.dump().find("x9") == std::string::npos, links.dump());
  // The enrolled peer is there and in step.
  BOOST_REQUIRE_EQUAL(links["links"].size(), 1u);
  BOOST_CHECK_EQUAL(links["links"][0]["site"].get<std::string>(), "v1");
  BOOST_CHECK_EQUAL(links["links"][0]["they_lack"].get<uint64_t>(), 0u);
  // The plan crossed the link: counted in events and in frame bytes at both ends (HELLO and HAVE
  // go both ways).
  BOOST_CHECK_GE(links["links"][0]["events_sent"].get<uint64_t>(), 1u);
  BOOST_CHECK_GT(links["links"][0]["bytes_sent"].get<uint64_t>(), 0u);
  BOOST_CHECK_GT(links["links"][0]["bytes_received"].get<uint64_t>(), 0u);
  const json v1 = w.Call(1, "sites");
  BOOST_REQUIRE_EQUAL(v1["links"].size(), 1u);
  BOOST_CHECK_GE(v1["links"][0]["events_received"].get<uint64_t>(), 1u);
  BOOST_CHECK_GT(v1["links"][0]["bytes_received"].get<uint64_t>(), 0u);
  BOOST_CHECK_GT(v1["links"][0]["bytes_sent"].get<uint64_t>(), 0u);
}

// The roster gives v1 the DBA team, whose task runs at hq; the go/no-go gate at v1 is decided by
// v2 (or a manager). Each site refuses locally what every replica would flag, and what it accepts
// counts everywhere (the plan and roster are in event format 2).
BOOST_AUTO_TEST_CASE(teams_and_gate_deciders_authorize_alike_at_every_site) {
  Weekend w({"hq", "v1", "v2"});
  w.Link(1, 0);
  w.Link(2, 0);
  w.StartAll();
  json plan = PlanFor(w);
  plan["sites"][1]["teams"] = json::array({"dba"});
  plan["teams"] = json::array({"dba", "ops"});
  plan["tasks"].push_back({{"id", "DB-1"},
                           {"title", "Back up the core database"},
                           {"team", "dba"},
                           {"site", "hq"},
                           {"duration_ms", 3600000}});
  plan["tasks"].push_back({{"id", "G-1"},
                           {"title", "Go/no-go for v1's deployment"},
                           {"team", "ops"},
                           {"site", "v1"},
                           {"kind", "gate"},
                           {"deciders", json::array({"v2"})}});
  std::set<std::string> acked;
  acked.insert(EventIdOf(w.Call(0, "plan.import", json{{"plan", plan}})));
  for (size_t i : {1, 2}) {
    w.WaitUntil([&] { return w.Status(i)["runbook"]["id"] == "rb-multi"; }, "the plan");
  }
  const auto refusal = [&](size_t i, const std::string& op, const json& args) {
    Result<json> r = w.TryCall(i, op, args);
    BOOST_REQUIRE_MESSAGE(!r.ok(), op + " was accepted at " + w.at(i).id());
    BOOST_CHECK(r.status().code() == StatusCode::kRejected);
    return r.status().message();
  };
  // The DBA team's site reports on DB-1; another site may not.
  acked.insert(EventIdOf(w.Call(1, "report", json{{"task", "DB-1"}, {"kind", "start"}})));
  const std::string not_theirs = refusal(2, "report", json{{"task", "DB-1"}, {"kind", "start"}});
  BOOST_CHECK_MESSAGE(not_theirs.find("site v2 may not report on DB-1 (it belongs to site hq, "
                                      "team dba)") != std::string::npos,
                      not_theirs);
  // The gate's own site may not decide it: it names v2.
  const std::string not_decider = refusal(1, "gate", json{{"task", "G-1"}, {"decision", "go"}});
  BOOST_CHECK_MESSAGE(
      not_decider.find("may not decide gate G-1 (its deciders are v2") != std::string::npos,
      not_decider);
  acked.insert(EventIdOf(w.Call(2, "gate", json{{"task", "G-1"}, {"decision", "go"}})));
  w.WaitConverged("after the reports");
  for (size_t i = 0; i < w.size(); ++i) {
    BOOST_CHECK_EQUAL(w.Call(i, "task", json{{"task", "DB-1"}})["status"].get<std::string>(),
                      "running");
    const json gate = w.Call(i, "task", json{{"task", "G-1"}});
    BOOST_CHECK_MESSAGE(gate["gate"].is_object() && gate["gate"]["go"] == true, gate.dump());
    BOOST_CHECK_EQUAL(w.Status(i)["flags"].get<uint64_t>(), 0u);
  }
  json roster = w.Call(2, "site.list");
  BOOST_CHECK_EQUAL(roster["sites"][1]["teams"], json::array({"dba"}));
  w.CheckSet(acked);
}

BOOST_AUTO_TEST_CASE(a_site_restored_from_an_older_copy_relearns_its_head_and_never_forks) {
  Weekend w({"hq", "v1"});
  w.Link(1, 0);
  w.StartAll();
  std::set<std::string> acked;
  acked.insert(EventIdOf(w.Call(0, "plan.import", json{{"plan", PlanFor(w)}})));
  w.WaitUntil([&] { return w.Status(1)["runbook"]["id"] == "rb-multi"; }, "the plan at v1");
  acked.insert(EventIdOf(w.Call(1, "report", {{"task", "T-v1"}, {"kind", "start"}})));
  w.WaitConverged("before the backup");
  BOOST_REQUIRE_EQUAL(w.at(1).Stop(), 0);
  const std::string backup = w.at(1).data() + ".old";
  auto cp = testing::RunCommand({"/bin/cp", "-a", w.at(1).data(), backup});
  BOOST_REQUIRE_MESSAGE(cp.exit_code == 0, cp.err);
  w.at(1).Start();
  acked.insert(EventIdOf(w.Call(1, "report", {{"task", "T-v1"}, {"kind", "done"}})));
  acked.insert(EventIdOf(w.Call(1, "note", {{"task", "T-v1"}, {"text", "after"}})));
  w.WaitConverged("before the restore");
  BOOST_REQUIRE_EQUAL(w.at(1).Stop(), 0);
  // Restore the old copy: it lacks v1's last two events, which hq holds.
  std::filesystem::remove_all(w.at(1).data());
  std::filesystem::rename(backup, w.at(1).data());
  w.at(1).Start();
  // The first report after the restore must come after v1/3, not reuse its seq.
  json next = w.Call(1, "note", {{"task", "T-v1"}, {"text", "after the restore"}});
  acked.insert(EventIdOf(next));
  BOOST_CHECK_EQUAL(EventIdOf(next), "v1/4");
  w.WaitConverged("after the restore");
  w.CheckSet(acked);
  for (size_t i = 0; i < w.size(); ++i) {
    BOOST_CHECK_EQUAL(w.Call(i, "sites")["forks"].get<uint64_t>(), 0u);
  }
  BOOST_CHECK(w.at(1).Log().find("our log had lost") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_catch_up_of_more_than_one_batch_of_bytes_needs_no_retry) {
  Weekend w({"hq", "v1"});
  w.Link(1, 0);
  w.StartAll();
  std::set<std::string> acked;
  acked.insert(EventIdOf(w.Call(0, "plan.import", json{{"plan", PlanFor(w)}})));
  w.WaitConverged("the plan at v1");
  BOOST_REQUIRE_EQUAL(w.at(1).Stop(), 0);
  // 4.4 MiB of notes, each as long as a note may be: v1 lacks more than one batch's worth of
  // bytes (4 MiB) in fewer events than a batch may hold (2,048).
  const std::vector<json> notes(1100, json{{"task", "T-hq"}, {"text", std::string(4096, 'n')}});
  for (const json& r : w.CallPipelined(0, "note", notes)) acked.insert(EventIdOf(r));
  // And a request too large for any event is refused where it is made.
  auto c = w.at(0).Connect();
  auto huge = c.Call("note", {{"task", "T-hq"}, {"text", std::string(5u << 20, 'h')}});
  BOOST_CHECK(huge.status().code() == StatusCode::kInvalidArgument);
  BOOST_CHECK_MESSAGE(huge.status().message().find("over the limit") != std::string::npos,
                      huge.status().ToString());
  // hq sent v1 what it could until its credit ran out and retried once: wait until it has
  // given the link up, then count from there.
  uint64_t resends = 0;
  w.WaitUntil(
      [&] {
        const json links = w.Call(0, "sites")["links"];
        if (links.size() != 1 || links[0]["state"] != "connecting") return false;
        resends = links[0]["resends"].get<uint64_t>();
        return true;
      },
      "hq to give up its link to the stopped v1");
  w.at(1).Start();
  // Watched through `sites` (cheap), not the digest: hashing megabytes of state on every poll
  // would slow both loops down.
  w.WaitUntil(
      [&] {
        const json links = w.Call(1, "sites")["links"];
        return links.size() == 1 && links[0]["we_lack"] == 0 && links[0]["state"] == "live";
      },
      "v1 caught up");
  // Each batch cut at its byte limit went on at the next credit, not after the 3 s retry.
  const json sites = w.Call(0, "sites");
  BOOST_REQUIRE_EQUAL(sites["links"].size(), 1u);
  BOOST_CHECK_MESSAGE(sites["links"][0]["resends"] == resends, sites.dump() + "\n" + w.Logs());
  w.WaitConverged("after the catch-up");
  w.CheckSet(acked);
  // The logs say what happened to the link: down at hq, then the catch-up on both ends.
  const std::string hq_log = w.at(0).Log(), v1_log = w.at(1).Log();
  BOOST_CHECK_MESSAGE(
      hq_log.find("peer v1: silent for over 5000 ms: link down") != std::string::npos, hq_log);
  BOOST_CHECK_MESSAGE(hq_log.find("peer v1: caught up in ") != std::string::npos &&
                          hq_log.find(": sent 1100 events, received 0") != std::string::npos,
                      hq_log);
  BOOST_CHECK_MESSAGE(v1_log.find("peer hq: caught up in ") != std::string::npos, v1_log);
}

BOOST_AUTO_TEST_CASE(a_site_whose_log_is_lost_is_rebuilt_from_its_peers) {
  Weekend w({"hq", "v1"});
  w.Link(1, 0);
  testing::SetConfigKey(w.at(1).data() + "/batond.conf", "rejoin_grace_ms", "200");
  w.StartAll();
  std::set<std::string> acked;
  acked.insert(EventIdOf(w.Call(0, "plan.import", json{{"plan", PlanFor(w)}})));
  w.WaitUntil([&] { return w.Status(1)["runbook"]["id"] == "rb-multi"; }, "the plan at v1");
  acked.insert(EventIdOf(w.Call(1, "report", {{"task", "T-v1"}, {"kind", "start"}})));
  acked.insert(EventIdOf(w.Call(1, "note", {{"task", "T-v1"}, {"text", "one"}})));
  acked.insert(EventIdOf(w.Call(1, "note", {{"task", "T-v1"}, {"text", "two"}})));
  w.WaitConverged("before the loss");
  auto rebuild = [&] {
    return testing::RunCommand({testing::BatondPath(), "rebuild", "--data", w.at(1).data()});
  };
  // Not while batond runs on the directory.
  auto busy = rebuild();
  BOOST_CHECK_NE(busy.exit_code, 0);
  BOOST_CHECK_MESSAGE(busy.err.find("stop batond") != std::string::npos, busy.err);
  BOOST_REQUIRE_EQUAL(w.at(1).Stop(), 0);
  BOOST_REQUIRE_EQUAL(w.at(0).Stop(), 0);
  // The log is lost; the identity and config survive (restored from a backup).
  std::filesystem::remove_all(w.at(1).data() + "/events");
  auto r = rebuild();
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_CHECK_MESSAGE(r.out.find("take its log back from its peers (hq)") != std::string::npos,
                      r.out);
  w.at(1).Start();
  // With hq down, reports wait past the rejoin grace: the rebuilt log may lack any of v1's seqs.
  const auto started = std::chrono::steady_clock::now();
  w.WaitUntil([&] { return std::chrono::steady_clock::now() - started > std::chrono::seconds(1); },
              "five rejoin graces");
  client::Client c = w.at(1).Connect();
  auto refused = c.Call("note", {{"task", "T-v1"}, {"text", "too early"}});
  BOOST_CHECK(refused.status().code() == StatusCode::kUnavailable);
  BOOST_CHECK_MESSAGE(refused.status().message().find("batond rebuild") != std::string::npos,
                      refused.status().ToString());
  w.at(0).Start();
  // Its next event continues its chain after the three it took back: no seq issued twice.
  json next = w.Call(1, "note", {{"task", "T-v1"}, {"text", "after the rebuild"}});
  acked.insert(EventIdOf(next));
  BOOST_CHECK_EQUAL(EventIdOf(next), "v1/4");
  w.WaitConverged("after the rebuild");
  w.CheckSet(acked);
  for (size_t i = 0; i < w.size(); ++i) {
    BOOST_CHECK_EQUAL(w.Call(i, "sites")["forks"].get<uint64_t>(), 0u);
  }
  BOOST_CHECK(!std::filesystem::exists(w.at(1).data() + "/rebuilding"));
  BOOST_CHECK(w.at(1).Log().find("rebuilt from peers") != std::string::npos);
  // A second rebuild keeps the first set-aside log: nothing is deleted.
  BOOST_REQUIRE_EQUAL(w.at(1).Stop(), 0);
  BOOST_REQUIRE_EQUAL(rebuild().exit_code, 0);
  size_t set_aside = 0;
  for (const auto& entry : std::filesystem::directory_iterator(w.at(1).data())) {
    if (entry.path().filename().string().find(".set-aside") != std::string::npos) ++set_aside;
  }
  BOOST_CHECK_EQUAL(set_aside, 1u);  // The first had no log to move: it was removed above.
}

// Randomised fault schedules: three sites in a triangle with the fault layer dropping,
// duplicating and delaying messages, while a seeded schedule reports at random sites, cuts and
// heals links, kill -9s and restarts sites and pauses them with SIGSTOP/SIGCONT. Afterwards:
// every acknowledged event everywhere, nothing else, equal digests. The seed is in every
// failure message; rerun one with `multisite_test --run_test=multisite/random_fault_schedules
// -- --seed N`. CI runs 20 schedules; the soak label 500 (`-- --schedules 500`).
void RunSchedule(uint64_t seed) {
  BOOST_TEST_MESSAGE("fault schedule seed " << seed);
  std::mt19937_64 rng(seed);
  Weekend w({"hq", "v1", "v2"}, "seed=" + std::to_string(seed) + " drop=0.1 dup=0.1 delay_ms=50");
  w.Link(1, 0);
  w.Link(2, 0);
  w.Link(2, 1);
  w.StartAll();
  std::set<std::string> acked;
  acked.insert(EventIdOf(w.Call(0, "plan.import", json{{"plan", PlanFor(w)}})));
  w.WaitUntil(
      [&] {
        return w.Status(1)["runbook"]["id"] == "rb-multi" &&
               w.Status(2)["runbook"]["id"] == "rb-multi";
      },
      "the plan everywhere (seed " + std::to_string(seed) + ")");
  std::vector<bool> paused(w.size(), false);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  for (int step = 0; step < 24; ++step) {
    const size_t site = pick(w.size());
    const int what = static_cast<int>(rng() % 10);
    if (what < 6) {
      if (paused[site]) continue;
      auto r = w.TryCall(
          site, "note",
          json{{"task", "T-" + w.at(site).id()},
               {"text", "seed " + std::to_string(seed) + " step " + std::to_string(step)}});
      BOOST_REQUIRE_MESSAGE(r.ok(), "seed " + std::to_string(seed) + ": " + r.status().ToString());
      acked.insert(EventIdOf(*r));
    } else if (what == 6) {
      const size_t other = (site + 1 + pick(w.size() - 1)) % w.size();
      w.Cut(site, {w.at(other).id()});
    } else if (what == 7) {
      w.Cut(site, {});
    } else if (what == 8) {
      if (paused[site]) {
        kill(w.at(site).pid(), SIGCONT);
        paused[site] = false;
      }
      w.at(site).Kill9();
      w.at(site).Start();
    } else {
      kill(w.at(site).pid(), paused[site] ? SIGCONT : SIGSTOP);
      paused[site] = !paused[site];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 150));  // Pace, not a wait.
  }
  for (size_t i = 0; i < w.size(); ++i) {
    if (paused[i]) kill(w.at(i).pid(), SIGCONT);
    w.Cut(i, {});
  }
  w.WaitConverged("after fault schedule seed " + std::to_string(seed), 60);
  w.CheckSet(acked);
}

BOOST_AUTO_TEST_CASE(random_fault_schedules) {
  const int only = testing::IntArg("--seed", nullptr, -1);
  if (only >= 0) {
    RunSchedule(static_cast<uint64_t>(only));
    return;
  }
  const int n = testing::IntArg("--schedules", nullptr, 20);
  for (int i = 0; i < n; ++i) RunSchedule(1000 + static_cast<uint64_t>(i));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton
