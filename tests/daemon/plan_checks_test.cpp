// Reports checked against the plan (daemon/service/plan_checks.h) on projections folded from
// events of several sites: what a report would put out of order, and the anomalies a site
// learns later from others, the same in whatever order the events arrive.
#include "daemon/service/plan_checks.h"

#include <boost/test/unit_test.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace baton::daemon {
namespace {

using crdt::DependencyType;
using crdt::ReportKind;

constexpr int64_t kT0 = 1'774'641'600'000;  // 2026-03-27T20:00:00Z
constexpr int64_t kMinute = 60'000;

class Log {
 public:
  crdt::Event Make(const crdt::SiteId& origin, int64_t minute, crdt::Body body) {
    crdt::Event e;
    e.runbook_id = "rb-1";
    e.origin = origin;
    e.seq = ++seqs_[origin];
    e.hlc = crdt::Hlc{kT0 + minute * kMinute, 0};
    e.actor = "ana@" + origin;
    e.body = std::move(body);
    return e;
  }

 private:
  std::map<crdt::SiteId, uint64_t> seqs_;
};

crdt::TaskSpec Spec(const std::string& id, const crdt::SiteId& site,
                    std::vector<crdt::Dependency> preds = {}) {
  crdt::TaskSpec t;
  t.id = id;
  t.title = "Task " + id;
  t.site = site;
  t.duration_ms = 30 * kMinute;
  t.predecessors = std::move(preds);
  return t;
}

crdt::Dependency Fs(const std::string& id) { return {id, DependencyType::kFinishToStart, 0}; }

crdt::PlanDefined Plan() {
  crdt::PlanDefined d;
  d.plan.runbook_id = "rb-1";
  d.plan.name = "Cut-over";
  d.plan.timezone = "UTC";
  d.plan.window_start_ms = kT0;
  d.plan.window_end_ms = kT0 + 600 * kMinute;
  d.plan.sites = {crdt::SiteInfo{"hq", "HQ", "", crdt::SiteRole::kManager, "", {}},
                  crdt::SiteInfo{"vendor", "Vendor", "", crdt::SiteRole::kSite, "", {}}};
  crdt::TaskSpec gate = Spec("G-1", "hq", {Fs("T-2")});
  gate.kind = crdt::TaskKind::kGate;
  crdt::TaskSpec locked = Spec("T-4", "vendor");
  locked.not_before_ms = kT0 + 120 * kMinute;
  d.plan.tasks = {Spec("T-1", "hq"), Spec("T-2", "vendor", {Fs("T-1")}),
                  Spec("T-3", "vendor", {{"T-1", DependencyType::kStartToStart, 0}}), gate, locked};
  return d;
}

crdt::TaskReported Rep(const std::string& task, ReportKind kind, int64_t effective_ms) {
  crdt::TaskReported r;
  r.task_id = task;
  r.kind = kind;
  r.effective_ms = effective_ms;
  return r;
}

crdt::Projection Fold(const std::vector<crdt::Event>& events) {
  crdt::Projection p;
  for (const auto& e : events) {
    Status s = p.Apply(e);
    BOOST_TEST_REQUIRE(s.ok(), s.ToString());
  }
  return p;
}

std::vector<std::string> Kinds(const crdt::Projection& p) {
  std::vector<std::string> out;
  for (const Anomaly& a : Anomalies(p, p.CurrentPlan().tasks)) {
    out.push_back(a.task_id + " " + a.kind + (a.other.empty() ? "" : " " + a.other));
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plan_checks)

BOOST_AUTO_TEST_CASE(unmet_predecessors_name_what_is_not_done_or_not_started) {
  Log log;
  const crdt::Projection p = Fold({log.Make("hq", 0, Plan())});
  const crdt::TaskSpec spec = p.Task("T-2")->spec();
  auto unmet = UnmetPredecessors(p, spec, Step::kStart, kT0);
  BOOST_REQUIRE(unmet.size() == 1u);
  BOOST_TEST(unmet[0].task_id == "T-1");
  BOOST_TEST(DescribeUnmet(unmet) == "T-1 is not done yet");
  BOOST_TEST(UnmetPredecessors(p, spec, Step::kFinish, kT0).empty());  // FS: the start only.
  auto ss = UnmetPredecessors(p, p.Task("T-3")->spec(), Step::kStart, kT0);
  BOOST_TEST(DescribeUnmet(ss) == "T-1 has not started yet");
  std::vector<Unmet> many;
  for (const char* id : {"A", "B", "C", "D", "E"}) many.push_back(Unmet{id});
  BOOST_TEST(DescribeUnmet(many) == "A, B, C and 2 more are not done yet");
  many.resize(4);
  BOOST_TEST(DescribeUnmet(many) == "A, B, C and D are not done yet");
}

BOOST_AUTO_TEST_CASE(a_report_learned_later_from_another_site_is_an_anomaly_in_any_order) {
  Log log;
  const auto plan = log.Make("hq", 0, Plan());
  // The vendor, offline, starts T-2 at minute 10 and T-4 before its time lock; HQ finishes T-1
  // at minute 20 and decides the gate at minute 25 while T-2 runs.
  const auto t2 = log.Make("vendor", 10, Rep("T-2", ReportKind::kStarted, crdt::kNoTime));
  const auto t4 = log.Make("vendor", 11, Rep("T-4", ReportKind::kStarted, crdt::kNoTime));
  const auto t1_start = log.Make("hq", 12, Rep("T-1", ReportKind::kStarted, crdt::kNoTime));
  crdt::TaskReported done = Rep("T-1", ReportKind::kDone, crdt::kNoTime);
  done.supersedes = {t1_start.id()};
  const auto t1_done = log.Make("hq", 20, done);
  crdt::GateDecided go;
  go.task_id = "G-1";
  go.go = true;
  const auto gate = log.Make("hq", 25, go);
  // In the current plan's order (by id).
  const std::vector<std::string> expected = {"G-1 decided_before_predecessor T-2",
                                             "T-2 started_before_predecessor T-1",
                                             "T-4 started_before_time_lock"};
  const auto vendor_first = Fold({plan, t2, t4, t1_start, t1_done, gate});
  const auto hq_first = Fold({plan, t1_start, t1_done, gate, t2, t4});
  BOOST_TEST(Kinds(vendor_first) == expected, boost::test_tools::per_element());
  BOOST_TEST(Kinds(hq_first) == expected, boost::test_tools::per_element());
  // The predecessor was done after all: when, so the board can say how far out of order.
  const auto anomalies = Anomalies(hq_first, hq_first.CurrentPlan().tasks);
  BOOST_REQUIRE(anomalies.size() == 3u);
  BOOST_TEST(anomalies[0].other_ms == crdt::kNoTime);  // T-2 is still running.
  BOOST_TEST(anomalies[1].at_ms == kT0 + 10 * kMinute);
  BOOST_TEST(anomalies[1].other_ms == kT0 + 20 * kMinute);
  BOOST_TEST(anomalies[2].other_ms == kT0 + 120 * kMinute);
  // In order, nothing is flagged: T-3 (start-to-start) after T-1's start.
  Log fresh;
  const auto plan2 = fresh.Make("hq", 0, Plan());
  const auto start2 = fresh.Make("hq", 12, Rep("T-1", ReportKind::kStarted, crdt::kNoTime));
  const auto t3 = fresh.Make("vendor", 13, Rep("T-3", ReportKind::kStarted, crdt::kNoTime));
  const auto in_order = Fold({plan2, start2, t3});
  BOOST_TEST(Kinds(in_order).empty());
}

BOOST_AUTO_TEST_CASE(a_done_before_its_own_start_is_an_anomaly) {
  Log log;
  const auto plan = log.Make("hq", 0, Plan());
  const auto start = log.Make("hq", 30, Rep("T-1", ReportKind::kStarted, crdt::kNoTime));
  crdt::TaskReported done = Rep("T-1", ReportKind::kDone, kT0 + 5 * kMinute);
  done.supersedes = {start.id()};
  const auto finish = log.Make("hq", 31, done);
  BOOST_TEST(
      Kinds(Fold({plan, start, finish})) == std::vector<std::string>{"T-1 finished_before_start"},
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace baton::daemon
