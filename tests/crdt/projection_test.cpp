// Projection: the fold. Story tests for statuses, conflicts, authorization and snapshots, then
// property tests over generated event sets delivered in random per-origin orders, with
// duplicates, split across replicas and merged later: equal sets give equal CanonicalBytes.
#include "crdt/projection.h"

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <map>
#include <random>

#include "tests/support/event_gen.h"

namespace baton::crdt {
namespace {

namespace data = boost::unit_test::data;
using testing::GenerateEvents;
using testing::GenOptions;
using testing::ShuffleRespectingOrigins;
using testing::WithDuplicates;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kMinute = 60'000;

// Builds events with contiguous per-origin seqs; `minute` is the recording time from kT0.
class Log {
 public:
  Event Make(const SiteId& origin, int64_t minute, Body body) {
    Event e;
    e.runbook_id = "rb-1";
    e.origin = origin;
    e.seq = ++seqs_[origin];
    e.hlc = Hlc{kT0 + minute * kMinute, 0};
    e.actor = "alice@" + origin;
    e.body = std::move(body);
    return e;
  }

 private:
  std::map<SiteId, uint64_t> seqs_;
};

TaskSpec Spec(const std::string& id, const SiteId& site, std::vector<std::string> preds = {}) {
  TaskSpec t;
  t.id = id;
  t.title = "Task " + id;
  t.site = site;
  t.duration_ms = 30 * kMinute;
  for (auto& p : preds) t.predecessors.push_back(Dependency{p, DependencyType::kFinishToStart, 0});
  return t;
}

PlanDefined BasicPlan() {
  PlanDefined d;
  d.plan.runbook_id = "rb-1";
  d.plan.name = "Cut-over";
  d.plan.timezone = "Europe/Berlin";
  d.plan.window_start_ms = kT0;
  d.plan.window_end_ms = kT0 + 600 * kMinute;
  d.plan.sites = {SiteInfo{"hq", "HQ", "", SiteRole::kManager, "", {}},
                  SiteInfo{"site-a", "A", "", SiteRole::kSite, "", {}},
                  SiteInfo{"site-b", "B", "", SiteRole::kSite, "", {}},
                  SiteInfo{"obs", "Auditor", "", SiteRole::kObserver, "", {}}};
  d.plan.teams = {"ops"};
  d.plan.tasks = {Spec("T-1", "site-a"), Spec("T-2", "site-b", {"T-1"}),
                  Spec("T-3", "site-a", {"T-2"}), Spec("T-4", "site-b")};
  return d;
}

TaskReported Rep(const std::string& task, ReportKind kind, std::vector<EventId> sup = {},
                 int64_t effective_ms = kNoTime) {
  TaskReported r;
  r.task_id = task;
  r.kind = kind;
  r.supersedes = std::move(sup);
  r.effective_ms = effective_ms;
  return r;
}

Projection Fold(const std::vector<Event>& events) {
  Projection p;
  for (const Event& e : events) {
    Status s = p.Apply(e);
    BOOST_TEST_REQUIRE(s.ok(), s.ToString());
  }
  return p;
}

// Delivers `events` to `p` in order, except the ones it already holds.
void Deliver(Projection& p, const std::vector<Event>& events) {
  for (const Event& e : events) {
    Status s = p.Apply(e);
    BOOST_TEST(s.ok(), s.ToString());
  }
}

bool Flagged(const Projection& p, const EventId& id) {
  for (const Flag& f : p.flags()) {
    if (f.id == id) return true;
  }
  return false;
}

BOOST_AUTO_TEST_SUITE(ProjectionTest)

BOOST_AUTO_TEST_CASE(a_plan_defines_header_and_tasks) {
  Log log;
  Projection p = Fold({log.Make("hq", 0, BasicPlan())});
  BOOST_TEST(p.event_count() == 1u);
  BOOST_TEST(p.runbook_id() == "rb-1");
  BOOST_TEST((p.TaskIds() == std::vector<std::string>{"T-1", "T-2", "T-3", "T-4"}));
  BOOST_TEST(p.name().Winner()->value == "Cut-over");
  BOOST_TEST(!p.HeaderConflict());
  BOOST_TEST(p.RosterEntry("site-a")->name == "A");
  BOOST_TEST(p.RosterEntry("nowhere") == nullptr);
  Plan plan = p.CurrentPlan();
  BOOST_TEST(plan.tasks.size() == 4u);
  BOOST_TEST((plan.tasks[1] == Spec("T-2", "site-b", {"T-1"})));
  BOOST_TEST(plan.sites.size() == 4u);
  BOOST_TEST(plan.window_end_ms == kT0 + 600 * kMinute);
  BOOST_TEST(p.flags().empty());
  BOOST_TEST((p.EffectiveStatus("T-1") == TaskStatus::kReady));
  BOOST_TEST((p.EffectiveStatus("T-2") == TaskStatus::kPending));
  BOOST_TEST((p.EffectiveStatus("T-4") == TaskStatus::kReady));
  BOOST_TEST((p.EffectiveStatus("nope") == TaskStatus::kPending));
  BOOST_TEST(p.Task("nope") == nullptr);
}

BOOST_AUTO_TEST_CASE(duplicates_are_no_ops_and_gaps_are_refused) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  Event r1 = log.Make("site-a", 1, Rep("T-1", ReportKind::kStarted));
  Event r2 = log.Make("site-a", 2, Rep("T-1", ReportKind::kDone, {r1.id()}));
  Projection p = Fold({plan, r1});
  std::string before = p.CanonicalBytes();
  BOOST_TEST(p.Apply(r1).ok());
  BOOST_TEST(p.CanonicalBytes() == before);
  Event r3 = log.Make("site-a", 3, Rep("T-1", ReportKind::kReset, {r2.id()}));
  Status gap = p.Apply(r3);
  BOOST_TEST((gap.code() == StatusCode::kInvalidArgument));
  BOOST_TEST(gap.message().find("site-a/3") != std::string::npos);
  BOOST_TEST(p.event_count() == 2u);
  BOOST_TEST(p.CanonicalBytes() == before);
  Event other = r2;
  other.runbook_id = "rb-2";
  BOOST_TEST((p.Apply(other).code() == StatusCode::kInvalidArgument));
  BOOST_TEST(p.Apply(r2).ok());
  BOOST_TEST(p.Apply(r3).ok());
  BOOST_TEST(p.version_vector().Seen("site-a") == 3u);
}

BOOST_AUTO_TEST_CASE(reports_drive_status_and_actual_times) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  Event started = log.Make("site-a", 5, Rep("T-1", ReportKind::kStarted));
  Projection p = Fold({plan, started});
  const TaskState* t = p.Task("T-1");
  BOOST_TEST((t->status() == TaskStatus::kRunning));
  BOOST_TEST(t->actual_start_ms() == kT0 + 5 * kMinute);
  BOOST_TEST(t->actual_finish_ms() == kNoTime);
  BOOST_TEST((p.EffectiveStatus("T-2") == TaskStatus::kPending));

  Event done =
      log.Make("site-a", 40, Rep("T-1", ReportKind::kDone, {started.id()}, kT0 + 35 * kMinute));
  BOOST_TEST(p.Apply(done).ok());
  t = p.Task("T-1");
  BOOST_TEST((t->status() == TaskStatus::kDone));
  BOOST_TEST(t->actual_start_ms() == kT0 + 5 * kMinute);
  BOOST_TEST(t->actual_finish_ms() == kT0 + 35 * kMinute);  // The effective time.
  BOOST_TEST(!t->StatusConflict());
  BOOST_TEST((p.EffectiveStatus("T-2") == TaskStatus::kReady));

  Event failed = log.Make("site-b", 41, Rep("T-2", ReportKind::kFailed));
  BOOST_TEST(p.Apply(failed).ok());
  BOOST_TEST((p.EffectiveStatus("T-2") == TaskStatus::kFailed));
  BOOST_TEST((p.EffectiveStatus("T-3") == TaskStatus::kBlocked));
  Event reset = log.Make("site-b", 42, Rep("T-2", ReportKind::kReset, {failed.id()}));
  BOOST_TEST(p.Apply(reset).ok());
  BOOST_TEST((p.EffectiveStatus("T-2") == TaskStatus::kReady));
  BOOST_TEST((p.EffectiveStatus("T-3") == TaskStatus::kPending));
  BOOST_TEST(p.Task("T-2")->actual_finish_ms() == kNoTime);

  std::vector<HistoryEntry> h = p.Task("T-1")->History();
  BOOST_TEST_REQUIRE(h.size() == 3u);
  BOOST_TEST(std::string(h[0].kind) == "plan_defined");
  BOOST_TEST(h[2].id.ToString() == done.id().ToString());
  BOOST_TEST(h[2].actor == "alice@site-a");
}

BOOST_AUTO_TEST_CASE(concurrent_reports_conflict_everywhere_until_one_supersedes_both) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  Event started = log.Make("site-a", 1, Rep("T-1", ReportKind::kStarted));
  Event done_a = log.Make("site-a", 10, Rep("T-1", ReportKind::kDone, {started.id()}));
  Event failed_hq = log.Make("hq", 11, Rep("T-1", ReportKind::kFailed, {started.id()}));
  Projection one = Fold({plan, started, done_a, failed_hq});
  Projection two = Fold({plan, failed_hq, started, done_a});
  for (const Projection* p : {&one, &two}) {
    const TaskState* t = p->Task("T-1");
    BOOST_TEST(t->StatusConflict());
    BOOST_TEST_REQUIRE(t->LiveReports().size() == 2u);
    BOOST_TEST((t->status() == TaskStatus::kFailed));  // Later hlc wins meanwhile.
    BOOST_TEST(t->LiveReports()[1].id.ToString() == "site-a/2");
    BOOST_TEST(t->actual_start_ms() == kT0 + kMinute);
  }
  BOOST_TEST(one.CanonicalBytes() == two.CanonicalBytes());

  Event resolve =
      log.Make("site-a", 12, Rep("T-1", ReportKind::kDone, one.Task("T-1")->LiveReportIds()));
  BOOST_TEST(one.Apply(resolve).ok());
  BOOST_TEST(two.Apply(resolve).ok());
  BOOST_TEST(!one.Task("T-1")->StatusConflict());
  BOOST_TEST((one.Task("T-1")->status() == TaskStatus::kDone));
  BOOST_TEST(one.CanonicalBytes() == two.CanonicalBytes());
}

BOOST_AUTO_TEST_CASE(concurrent_field_edits_conflict_per_field) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  TaskChanged title_a{"T-1", {}, {plan.id()}};
  title_a.patch.title = "Stop the app";
  TaskChanged title_b{"T-1", {}, {plan.id()}};
  title_b.patch.title = "Stop the application";
  title_b.patch.duration_ms = 45 * kMinute;
  PlanDefined second = BasicPlan();
  second.plan.sites.push_back(SiteInfo{"hq2", "HQ 2", "", SiteRole::kManager, "", {}});
  second.plan.tasks.clear();
  second.supersedes = {plan.id()};
  Event grant = log.Make("hq", 1, second);
  Event edit_a = log.Make("hq", 2, title_a);
  Event edit_b = log.Make("hq2", 2, title_b);
  Projection p = Fold({plan, grant, edit_b, edit_a});
  const TaskState* t = p.Task("T-1");
  BOOST_TEST(t->FieldConflict());
  BOOST_TEST((t->ConflictingFields() == std::vector<std::string>{"title"}));
  BOOST_TEST(t->spec().duration_ms == 45 * kMinute);
  BOOST_TEST(t->spec().title == "Stop the application");  // Same hlc: origin "hq2" wins.
  std::vector<EventId> live = t->LiveEditIds();
  BOOST_TEST_REQUIRE(live.size() == 3u);  // The plan (other fields), edit_a, edit_b.
  BOOST_TEST((live == std::vector<EventId>{plan.id(), edit_a.id(), edit_b.id()}));
  TaskChanged fix{"T-1", {}, {edit_a.id(), edit_b.id()}};
  fix.patch.title = "Stop the app server";
  BOOST_TEST(p.Apply(log.Make("hq", 3, fix)).ok());
  BOOST_TEST(!p.Task("T-1")->FieldConflict());
  BOOST_TEST(p.Task("T-1")->Spec().title == "Stop the app server");
}

BOOST_AUTO_TEST_CASE(unauthorized_events_are_kept_flagged_and_not_counted) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  Event wrong_site = log.Make("site-b", 1, Rep("T-1", ReportKind::kStarted));
  TaskChanged edit{"T-1", {}, {}};
  edit.patch.title = "hijacked";
  Event site_edit = log.Make("site-a", 2, edit);
  Event observer_note = log.Make("obs", 3, NoteAdded{"T-1", "looks good"});
  Event stranger_note = log.Make("nobody", 3, NoteAdded{"", "hello"});
  Event site_note = log.Make("site-b", 4, NoteAdded{"T-1", "waiting on A"});
  PlanDefined takeover = BasicPlan();
  takeover.plan.name = "Mine now";
  Event rogue_plan = log.Make("site-a", 5, takeover);
  PlanAmended amend;
  amend.name = "Renamed";
  Event rogue_amend = log.Make("site-b", 6, amend);
  Projection p = Fold({plan, wrong_site, site_edit, observer_note, stranger_note, site_note,
                       rogue_plan, rogue_amend});
  BOOST_TEST(p.event_count() == 8u);
  const TaskState* t = p.Task("T-1");
  BOOST_TEST((t->status() == TaskStatus::kPending));
  BOOST_TEST(t->spec().title == "Task T-1");
  BOOST_TEST(t->Notes().size() == 1u);
  BOOST_TEST(t->Notes().begin()->text == "waiting on A");
  BOOST_TEST(p.name().Winner()->value == "Cut-over");
  BOOST_TEST(p.notes().empty());
  for (const Event* e :
       {&wrong_site, &site_edit, &observer_note, &stranger_note, &rogue_plan, &rogue_amend}) {
    BOOST_TEST(Flagged(p, e->id()), e->id().ToString());
  }
  BOOST_TEST(!Flagged(p, site_note.id()));
  BOOST_TEST(p.flags().size() == 6u);
  for (const HistoryEntry& h : t->History()) {
    BOOST_TEST(h.counted == (h.id == plan.id() || h.id == site_note.id()), h.id.ToString());
  }
}

BOOST_AUTO_TEST_CASE(a_report_arriving_before_the_plan_counts_once_the_plan_arrives) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  Event started = log.Make("site-a", 1, Rep("T-1", ReportKind::kStarted));
  Projection p = Fold({started});
  BOOST_TEST(p.TaskIds().empty());
  BOOST_TEST(Flagged(p, started.id()));
  BOOST_TEST(p.Apply(plan).ok());
  BOOST_TEST(!Flagged(p, started.id()));
  BOOST_TEST((p.Task("T-1")->status() == TaskStatus::kRunning));
  BOOST_TEST(p.CanonicalBytes() == Fold({plan, started}).CanonicalBytes());
}

BOOST_AUTO_TEST_CASE(authority_follows_the_roster_and_site_as_of_each_event) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  Event started = log.Make("site-a", 1, Rep("T-1", ReportKind::kStarted));
  TaskChanged move{"T-1", {}, {plan.id()}};
  move.patch.site = "site-b";
  Event moved = log.Make("hq", 2, move);
  Projection p = Fold({plan, started});
  BOOST_TEST((p.Task("T-1")->status() == TaskStatus::kRunning));
  // T-1 moves to site-b: site-a's report, made before, still counts; the next one does not.
  BOOST_TEST(p.Apply(moved).ok());
  BOOST_TEST((p.Task("T-1")->status() == TaskStatus::kRunning));
  BOOST_TEST(!Flagged(p, started.id()));
  Event done = log.Make("site-a", 3, Rep("T-1", ReportKind::kDone, {started.id()}));
  BOOST_TEST(p.Apply(done).ok());
  BOOST_TEST((p.Task("T-1")->status() == TaskStatus::kRunning));
  BOOST_TEST(Flagged(p, done.id()));
  // A later plan demoting site-a to observer: its notes from before still count, later ones not.
  Event note = log.Make("site-a", 4, NoteAdded{"", "all good"});
  BOOST_TEST(p.Apply(note).ok());
  BOOST_TEST(p.notes().size() == 1u);
  PlanDefined demote = BasicPlan();
  demote.plan.sites[1].role = SiteRole::kObserver;
  demote.supersedes = {plan.id()};
  demote.plan.tasks.clear();
  BOOST_TEST(p.Apply(log.Make("hq", 5, demote)).ok());
  BOOST_TEST(p.notes().size() == 1u);
  BOOST_TEST(!Flagged(p, note.id()));
  Event late_note = log.Make("site-a", 6, NoteAdded{"", "still good"});
  BOOST_TEST(p.Apply(late_note).ok());
  BOOST_TEST(p.notes().size() == 1u);
  BOOST_TEST(Flagged(p, late_note.id()));
}

BOOST_AUTO_TEST_CASE(the_first_plan_defines_the_roster) {
  Log log;
  PlanDefined vendor_plan = BasicPlan();
  vendor_plan.plan.name = "Vendor's";
  Event early = log.Make("site-a", 0, vendor_plan);  // First in hlc order: defines the roster.
  Event later = log.Make("hq", 1, BasicPlan());
  Projection p = Fold({later, early});
  BOOST_TEST(p.Apply(early).ok());
  // site-a's plan came first; hq is a manager in it, so hq's later plan counts too.
  BOOST_TEST(!Flagged(p, early.id()));
  BOOST_TEST(!Flagged(p, later.id()));
  BOOST_TEST(p.HeaderConflict());  // Neither supersedes the other.
  BOOST_TEST(p.name().Winner()->value == "Cut-over");
  // A second plan from site-a, after the roster exists, does not count.
  Event again = log.Make("site-a", 2, vendor_plan);
  BOOST_TEST(p.Apply(again).ok());
  BOOST_TEST(Flagged(p, again.id()));
}

BOOST_AUTO_TEST_CASE(removal_hides_a_task_until_it_is_added_again) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  Event removed = log.Make("hq", 1, TaskRemoved{"T-4"});
  Projection p = Fold({plan, removed});
  BOOST_TEST((p.TaskIds() == std::vector<std::string>{"T-1", "T-2", "T-3"}));
  BOOST_TEST(p.Task("T-4")->removed());
  BOOST_TEST(p.CurrentPlan().tasks.size() == 3u);
  BOOST_TEST(p.Apply(log.Make("hq", 2, TaskAdded{Spec("T-4", "site-a")})).ok());
  BOOST_TEST(!p.Task("T-4")->removed());
  BOOST_TEST(p.Task("T-4")->spec().site == "site-a");
  BOOST_TEST(p.Task("T-4")->FieldConflict());  // The plan's "site-b" is still live.
}

BOOST_AUTO_TEST_CASE(gate_decisions_and_notes) {
  Log log;
  PlanDefined d = BasicPlan();
  TaskSpec gate = Spec("G-1", "hq", {"T-1"});
  gate.kind = TaskKind::kGate;
  d.plan.tasks.push_back(gate);
  Event plan = log.Make("hq", 0, d);
  GateDecided go{"G-1", true, kNoTime, "go", {}};
  Event decided = log.Make("hq", 5, go);
  Event note = log.Make("site-a", 6, NoteAdded{"", "window confirmed"});
  Projection p = Fold({plan, decided, note});
  const TaskState* t = p.Task("G-1");
  BOOST_TEST_REQUIRE(t->GateWinner() != nullptr);
  BOOST_TEST(t->GateWinner()->go);
  BOOST_TEST(!t->GateConflict());
  GateDecided no_go{"G-1", false, kNoTime, "no-go", {}};
  BOOST_TEST(p.Apply(log.Make("site-b", 6, no_go)).ok());  // Not G-1's site: flagged.
  BOOST_TEST(!p.Task("G-1")->GateConflict());
  BOOST_TEST(p.Apply(log.Make("site-a", 7, GateDecided{"G-1", false, kNoTime, "", {}})).ok());
  BOOST_TEST(p.flags().size() == 2u);
  BOOST_TEST(p.notes().size() == 1u);
  BOOST_TEST(p.notes().begin()->actor == "alice@site-a");
}

BOOST_AUTO_TEST_CASE(malformed_events_are_flagged) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  Event nameless = log.Make("hq", 1, Rep("", ReportKind::kDone));
  Projection p = Fold({plan, nameless});
  BOOST_TEST(Flagged(p, nameless.id()));
  BOOST_TEST(p.event_count() == 2u);
}

BOOST_AUTO_TEST_CASE(dependency_cycles_are_never_ready) {
  Log log;
  PlanDefined d = BasicPlan();
  d.plan.tasks = {Spec("A", "site-a", {"B"}), Spec("B", "site-a", {"A"}), Spec("C", "site-a")};
  Projection p = Fold({log.Make("hq", 0, d)});
  BOOST_TEST((p.EffectiveStatus("A") == TaskStatus::kPending));
  BOOST_TEST((p.EffectiveStatus("B") == TaskStatus::kPending));
  BOOST_TEST((p.EffectiveStatus("C") == TaskStatus::kReady));
}

BOOST_AUTO_TEST_CASE(a_failure_blocks_a_cycle_whatever_the_order) {
  Log log;
  PlanDefined d = BasicPlan();
  d.plan.tasks = {Spec("F", "site-a"), Spec("A", "site-a", {"B"}), Spec("B", "site-a", {"A", "F"}),
                  Spec("Z", "site-a", {"A"})};
  Event plan = log.Make("hq", 0, d);
  Event failed = log.Make("site-a", 1, Rep("F", ReportKind::kFailed));
  Projection p = Fold({plan, failed});
  for (const char* id : {"A", "B", "Z"}) {
    BOOST_TEST((p.EffectiveStatus(id) == TaskStatus::kBlocked), id);
  }
}

BOOST_AUTO_TEST_CASE(a_task_listed_twice_in_a_plan_keeps_the_last_listing) {
  Log log;
  PlanDefined d = BasicPlan();
  TaskSpec again = Spec("T-1", "site-b");
  again.title = "Corrected";
  d.plan.tasks.push_back(again);
  Event plan = log.Make("hq", 0, d);
  Projection p = Fold({plan});
  BOOST_TEST(p.Task("T-1")->spec().title == "Corrected");
  BOOST_TEST(!p.Task("T-1")->FieldConflict());
  BOOST_TEST(Flagged(p, plan.id()));
}

BOOST_AUTO_TEST_CASE(a_long_chain_of_predecessors_does_not_recurse) {
  Log log;
  PlanDefined d = BasicPlan();
  d.plan.tasks.clear();
  for (int i = 0; i < 5000; ++i) {
    d.plan.tasks.push_back(Spec("T-" + std::to_string(i), "site-a",
                                i == 0 ? std::vector<std::string>{}
                                       : std::vector<std::string>{"T-" + std::to_string(i - 1)}));
  }
  Projection p = Fold({log.Make("hq", 0, d)});
  BOOST_TEST((p.EffectiveStatus("T-0") == TaskStatus::kReady));
  BOOST_TEST((p.EffectiveStatus("T-4999") == TaskStatus::kPending));
  BOOST_TEST(p.Apply(log.Make("hq", 1, Rep("T-0", ReportKind::kFailed))).ok());
  BOOST_TEST((p.EffectiveStatus("T-4999") == TaskStatus::kBlocked));
}

BOOST_AUTO_TEST_CASE(thousands_of_tasks_added_one_by_one_are_each_found) {
  // The task index grows (and rehashes) many times; every id must stay reachable, also after
  // a snapshot.
  Log log;
  std::vector<Event> events = {log.Make("hq", 0, BasicPlan())};
  for (int i = 0; i < 3000; ++i) {
    events.push_back(log.Make("hq", 1 + i, TaskAdded{Spec("A-" + std::to_string(i), "site-a")}));
  }
  Projection in_order = Fold(events);
  BOOST_TEST(in_order.TaskIds().size() == 3004u);
  for (int i = 0; i < 3000; i += 7) {
    const std::string id = "A-" + std::to_string(i);
    const TaskState* t = in_order.Task(id);
    BOOST_TEST_REQUIRE(t != nullptr, id);
    BOOST_TEST(t->id() == id);
    BOOST_TEST(t->spec().title == "Task " + id);
  }
  BOOST_TEST(in_order.Task("A-3000") == nullptr);
  BOOST_TEST(in_order.Task("") == nullptr);
  BOOST_TEST((in_order.EffectiveStatus("A-3000") == TaskStatus::kPending));
  Result<Projection> restored = Projection::FromSnapshot(in_order.SerializeSnapshot());
  BOOST_TEST_REQUIRE(restored.ok(), restored.status().ToString());
  BOOST_TEST(restored->Task("A-2999") != nullptr);
  BOOST_TEST(restored->Task("A-2999")->spec().title == "Task A-2999");
  BOOST_TEST(restored->CanonicalBytes() == in_order.CanonicalBytes());
}

BOOST_AUTO_TEST_CASE(the_spec_view_follows_each_new_winning_write) {
  // A spec won by one listing is shown from that listing; later listings, edits and adds must
  // each show through, however many specs the task accumulates.
  Log log;
  Event first = log.Make("hq", 0, BasicPlan());
  Projection p = Fold({first});
  BOOST_TEST(p.Task("T-1")->spec().title == "Task T-1");
  PlanDefined second = BasicPlan();
  second.plan.tasks[0].title = "Second listing";
  second.supersedes = {first.id()};
  Event second_event = log.Make("hq", 1, second);
  BOOST_TEST_REQUIRE(p.Apply(second_event).ok());
  BOOST_TEST(p.Task("T-1")->spec().title == "Second listing");
  TaskChanged change;
  change.task_id = "T-1";
  change.patch.duration_ms = 5 * kMinute;
  change.supersedes = p.Task("T-1")->LiveEditIds();
  BOOST_TEST_REQUIRE(p.Apply(log.Make("hq", 2, change)).ok());
  const TaskSpec& patched = p.Task("T-1")->spec();
  BOOST_TEST(patched.title == "Second listing");
  BOOST_TEST(patched.duration_ms == 5 * kMinute);
  BOOST_TEST(patched.site == "site-a");
  for (int i = 0; i < 40; ++i) {  // Each add supersedes nothing: the latest one wins.
    TaskSpec spec = Spec("T-4", "site-b");
    spec.title = "Added " + std::to_string(i);
    BOOST_TEST_REQUIRE(p.Apply(log.Make("hq", 3 + i, TaskAdded{spec})).ok());
    BOOST_TEST(p.Task("T-4")->spec().title == spec.title);
  }
  BOOST_TEST(p.Task("T-4")->FieldConflict());  // Concurrent adds: every field is contested.
  BOOST_TEST(p.Task("T-1")->spec().title == "Second listing");
}

BOOST_AUTO_TEST_CASE(snapshot_round_trip_then_more_events_equals_folding_all) {
  std::vector<Event> events = GenerateEvents(7, GenOptions{});
  size_t half = events.size() / 2;
  Projection first(Fold({events.begin(), events.begin() + static_cast<long>(half)}));
  std::string snap = first.SerializeSnapshot();
  Result<Projection> restored = Projection::FromSnapshot(snap);
  BOOST_TEST_REQUIRE(restored.ok(), restored.status().ToString());
  BOOST_TEST(restored->CanonicalBytes() == first.CanonicalBytes());
  for (size_t i = half; i < events.size(); ++i) BOOST_TEST(restored->Apply(events[i]).ok());
  BOOST_TEST(restored->CanonicalBytes() == Fold(events).CanonicalBytes());
}

BOOST_AUTO_TEST_CASE(canonical_bytes_of_a_fixed_event_set_are_pinned) {
  // Sites compare digests of these bytes: any change to them (field order, encoding, what is
  // derived) must be deliberate, and documented in docs/event-format.md, not a side effect.
  const std::string bytes = Fold(GenerateEvents(20261129, GenOptions{})).CanonicalBytes();
  uint64_t fnv = 14695981039346656037ULL;
  for (char c : bytes) fnv = (fnv ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
  BOOST_TEST(bytes.size() == 5248u);  // 5168 before specs carried deciders (format 2).
  BOOST_TEST(fnv == 16017165292377039356ULL);
}

BOOST_AUTO_TEST_CASE(corrupt_snapshots_are_refused) {
  Projection p = Fold(GenerateEvents(3, GenOptions{}));
  std::string snap = p.SerializeSnapshot();
  auto code = [](std::string_view bytes) {
    return Projection::FromSnapshot(bytes).status().code();
  };
  BOOST_TEST((code("") == StatusCode::kCorruption));
  BOOST_TEST((code(std::string_view(snap).substr(0, snap.size() / 2)) == StatusCode::kCorruption));
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200; ++i) {
    std::string bad = snap;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    BOOST_TEST((code(bad) == StatusCode::kCorruption));
  }
  std::string garbage(64, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  BOOST_TEST((code(garbage) == StatusCode::kCorruption));
}

// ---- The trust anchor ---------------------------------------------------------------------------

const std::string kHqKey(32, 'h');

// BasicPlan with hq's key on the roster, as the anchor site's import writes it.
PlanDefined AnchoredPlan() {
  PlanDefined d = BasicPlan();
  d.plan.sites[0].public_key = kHqKey;
  return d;
}

std::string FlagReason(const Projection& p, const EventId& id) {
  for (const Flag& f : p.flags()) {
    if (f.id == id) return f.reason;
  }
  return "";
}

// A roster change as `baton site add/remove` makes it: the current header, an empty task list,
// superseding the live header values.
PlanDefined RosterChange(const Projection& p, std::vector<SiteInfo> sites) {
  PlanDefined d;
  d.plan = p.CurrentPlan();
  d.plan.tasks.clear();
  d.plan.sites = std::move(sites);
  d.supersedes = p.roster().LiveIds();
  return d;
}

BOOST_AUTO_TEST_CASE(
    with_an_anchor_a_vendor_plan_with_an_earlier_clock_does_not_define_the_roster) {
  Log log;
  PlanDefined takeover = AnchoredPlan();
  takeover.plan.name = "Vendor's weekend";
  takeover.plan.sites[1].role = SiteRole::kManager;  // site-a makes itself a manager...
  takeover.plan.tasks.push_back(Spec("V-1", "site-a"));
  Event early = log.Make("site-a", -60, takeover);  // ...an hour before hq's plan.
  Event plan = log.Make("hq", 0, AnchoredPlan());
  Event edit = log.Make("site-a", 1, TaskRemoved{"T-4"});  // Would count from a manager.
  for (const auto& order : std::vector<std::vector<Event>>{
           {early, plan, edit}, {plan, early, edit}, {early, edit, plan}}) {
    Projection p;
    p.SetTrustAnchor("hq", kHqKey);
    for (const Event& e : order) BOOST_TEST_REQUIRE(p.Apply(e).ok());
    BOOST_TEST(FlagReason(p, early.id()) ==
               "plan_defined from site \"site-a\": the runbook's roster comes from the trusted "
               "manager site \"hq\"");
    BOOST_TEST(!Flagged(p, plan.id()));
    BOOST_TEST(Flagged(p, edit.id()));
    BOOST_TEST(p.name().Winner()->value == "Cut-over");
    BOOST_TEST(!p.HeaderConflict());
    BOOST_TEST((p.RosterEntry("site-a")->role == SiteRole::kSite));
    BOOST_TEST((p.TaskIds() == std::vector<std::string>{"T-1", "T-2", "T-3", "T-4"}));
    BOOST_TEST(p.Task("V-1") != nullptr);  // Kept, but its listing does not count.
    BOOST_TEST(!p.Task("V-1")->exists());
  }
  // Without an anchor the earliest plan still starts the roster (pure tests, offline tools).
  Projection unanchored = Fold({plan, early, edit});
  BOOST_TEST(!Flagged(unanchored, early.id()));
  BOOST_TEST(unanchored.HeaderConflict());  // Both plans count: the takeover is live.
  BOOST_TEST(unanchored.Task("V-1")->exists());
}

BOOST_AUTO_TEST_CASE(the_anchor_may_be_set_before_or_after_the_events_and_changed) {
  Log log;
  PlanDefined takeover = AnchoredPlan();
  takeover.plan.sites[1].role = SiteRole::kManager;
  std::vector<Event> events = {log.Make("site-a", -1, takeover), log.Make("hq", 0, AnchoredPlan()),
                               log.Make("site-a", 1, Rep("T-1", ReportKind::kStarted))};
  Projection before;
  before.SetTrustAnchor("hq", kHqKey);
  Deliver(before, events);
  Projection after = Fold(events);
  const std::string unanchored = after.CanonicalBytes();  // Fills the caches first.
  BOOST_TEST(after.trust_anchor().site.empty());
  after.SetTrustAnchor("hq", kHqKey);
  BOOST_TEST((after.trust_anchor() == TrustAnchor{"hq", kHqKey}));
  BOOST_TEST(after.CanonicalBytes() == before.CanonicalBytes());
  BOOST_TEST(after.CanonicalBytes() != unanchored);
  // The snapshot does not carry the anchor: its owner sets it again.
  Result<Projection> restored = Projection::FromSnapshot(before.SerializeSnapshot());
  BOOST_TEST_REQUIRE(restored.ok(), restored.status().ToString());
  BOOST_TEST(!restored->trust_anchor().set());
  BOOST_TEST(restored->CanonicalBytes() == unanchored);
  restored->SetTrustAnchor("hq", kHqKey);
  BOOST_TEST(restored->CanonicalBytes() == before.CanonicalBytes());
  after.SetTrustAnchor("", "ignored");  // An empty site removes the anchor.
  BOOST_TEST(!after.trust_anchor().set());
  BOOST_TEST(after.CanonicalBytes() == unanchored);
}

BOOST_AUTO_TEST_CASE(the_anchor_plan_counts_only_with_the_anchor_as_a_manager_with_its_key) {
  Log log;
  PlanDefined wrong_key = AnchoredPlan();
  wrong_key.plan.sites[0].public_key = std::string(32, 'x');
  PlanDefined not_manager = AnchoredPlan();
  not_manager.plan.sites[0].role = SiteRole::kSite;
  PlanDefined absent = AnchoredPlan();
  absent.plan.sites.erase(absent.plan.sites.begin());
  Event e1 = log.Make("hq", 0, wrong_key);
  Event e2 = log.Make("hq", 1, not_manager);
  Event e3 = log.Make("hq", 2, absent);
  Projection p;
  p.SetTrustAnchor("hq", kHqKey);
  Deliver(p, {e1, e2, e3});
  BOOST_TEST(FlagReason(p, e1.id()) ==
             "plan_defined from site \"hq\": its roster gives the trusted manager site \"hq\" "
             "another key than the trusted one");
  BOOST_TEST(FlagReason(p, e2.id()) ==
             "plan_defined from site \"hq\": its roster does not list the trusted manager site "
             "\"hq\" as a manager");
  BOOST_TEST(FlagReason(p, e3.id()) ==
             "plan_defined from site \"hq\": its roster does not list the trusted manager site "
             "\"hq\"");
  BOOST_TEST(p.roster().empty());
  BOOST_TEST(p.TaskIds().empty());
  BOOST_TEST(p.RosterEntry("hq") == nullptr);
  // The right plan, even with a later clock, starts the roster; the others stay flagged.
  Event good = log.Make("hq", 3, AnchoredPlan());
  BOOST_TEST_REQUIRE(p.Apply(good).ok());
  BOOST_TEST(!Flagged(p, good.id()));
  BOOST_TEST(p.TaskIds().size() == 4u);
  for (const Event* e : {&e1, &e2, &e3}) BOOST_TEST(Flagged(p, e->id()), e->id().ToString());
}

BOOST_AUTO_TEST_CASE(a_roster_amendment_counts_from_a_manager_and_is_flagged_from_a_site) {
  Log log;
  Event plan = log.Make("hq", 0, AnchoredPlan());
  Event started = log.Make("site-a", 1, Rep("T-1", ReportKind::kStarted));
  Projection p;
  p.SetTrustAnchor("hq", kHqKey);
  Deliver(p, {plan, started});
  const Plan tasks_before = p.CurrentPlan();

  std::vector<SiteInfo> with_v1 = tasks_before.sites;
  with_v1.push_back(SiteInfo{"v1", "Vendor 1", std::string(32, 'v'), SiteRole::kSite, "", {}});
  Event add = log.Make("hq", 2, RosterChange(p, with_v1));
  BOOST_TEST_REQUIRE(p.Apply(add).ok());
  BOOST_TEST(!Flagged(p, add.id()));
  BOOST_TEST_REQUIRE(p.RosterEntry("v1") != nullptr);
  BOOST_TEST(p.RosterEntry("v1")->public_key == std::string(32, 'v'));
  BOOST_TEST(!p.HeaderConflict());
  // Only the roster changed: the tasks, their specs and statuses are as they were.
  Plan tasks_after = p.CurrentPlan();
  BOOST_TEST((tasks_after.tasks == tasks_before.tasks));
  BOOST_TEST(tasks_after.name == tasks_before.name);
  BOOST_TEST((p.Task("T-1")->status() == TaskStatus::kRunning));

  // site-a (a site, not a manager) promotes itself: kept, flagged, not counted.
  std::vector<SiteInfo> promoted = p.CurrentPlan().sites;
  for (SiteInfo& s : promoted) {
    if (s.id == "site-a") s.role = SiteRole::kManager;
  }
  Event coup = log.Make("site-a", 3, RosterChange(p, promoted));
  BOOST_TEST_REQUIRE(p.Apply(coup).ok());
  BOOST_TEST(FlagReason(p, coup.id()) ==
             "plan_defined from site \"site-a\": only a manager of the roster may define the plan");
  BOOST_TEST((p.RosterEntry("site-a")->role == SiteRole::kSite));
  BOOST_TEST(p.RosterEntry("v1") != nullptr);

  // The anchor removes v1 again; in any delivery order the result is the same.
  std::vector<SiteInfo> without_v1 = p.CurrentPlan().sites;
  std::erase_if(without_v1, [](const SiteInfo& s) { return s.id == "v1"; });
  Event remove = log.Make("hq", 4, RosterChange(p, without_v1));
  BOOST_TEST_REQUIRE(p.Apply(remove).ok());
  BOOST_TEST(p.RosterEntry("v1") == nullptr);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Projection other;
    Deliver(other, ShuffleRespectingOrigins({plan, started, add, coup, remove}, seed));
    other.SetTrustAnchor("hq", kHqKey);
    BOOST_TEST(other.CanonicalBytes() == p.CanonicalBytes(), "seed " << seed);
  }
}

// ---- Authorization as of each event's place in (hlc, origin, seq) order -------------------------

// Every order of `events` that keeps each origin's events in seq order (Apply refuses a gap).
std::vector<std::vector<Event>> OriginOrders(const std::vector<Event>& events) {
  std::vector<size_t> index(events.size());
  for (size_t i = 0; i < index.size(); ++i) index[i] = i;
  std::vector<std::vector<Event>> orders;
  do {
    std::map<SiteId, uint64_t> last;
    bool in_seq_order = true;
    for (size_t i : index) {
      uint64_t& seen = last[events[i].origin];
      if (events[i].seq < seen) in_seq_order = false;
      seen = events[i].seq;
    }
    if (!in_seq_order) continue;
    std::vector<Event>& order = orders.emplace_back();
    for (size_t i : index) order.push_back(events[i]);
  } while (std::next_permutation(index.begin(), index.end()));
  return orders;
}

// Folds `events` in every order OriginOrders gives, reading the state midway (filling the caches)
// and, in every third order, continuing from a snapshot taken there. Each must give the bytes of
// the fold in the given order, which is returned.
Projection FoldInEveryOrder(const std::vector<Event>& events) {
  Projection reference = Fold(events);
  const std::string bytes = reference.CanonicalBytes();
  const std::vector<std::vector<Event>> orders = OriginOrders(events);
  BOOST_TEST_REQUIRE(!orders.empty());
  for (size_t k = 0; k < orders.size(); ++k) {
    const std::vector<Event>& order = orders[k];
    const auto half = static_cast<long>(order.size() / 2);
    Projection p;
    Deliver(p, {order.begin(), order.begin() + half});
    p.flags();
    if (k % 3 == 1) {
      Result<Projection> restored = Projection::FromSnapshot(p.SerializeSnapshot());
      BOOST_TEST_REQUIRE(restored.ok(), restored.status().ToString());
      p = std::move(restored).value();
    }
    Deliver(p, {order.begin() + half, order.end()});
    BOOST_TEST(p.CanonicalBytes() == bytes, "order " << k << " of " << orders.size());
  }
  return reference;
}

// A roster change by hq superseding `plan`: BasicPlan's header with `sites`, no tasks.
PlanDefined RosterOf(const Event& plan, std::vector<SiteInfo> sites) {
  PlanDefined d = BasicPlan();
  d.plan.tasks.clear();
  d.plan.sites = std::move(sites);
  d.supersedes = {plan.id()};
  return d;
}

BOOST_AUTO_TEST_CASE(a_report_made_before_a_move_still_counts_after_it_in_every_order) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  Event started = log.Make("site-a", 1, Rep("T-1", ReportKind::kStarted));
  TaskChanged move{"T-1", {}, {plan.id()}};
  move.patch.site = "site-b";
  Event moved = log.Make("hq", 2, move);
  // site-a has seen the move (its clock is past it) and reports anyway: no longer its task.
  Event late = log.Make("site-a", 3, Rep("T-1", ReportKind::kDone, {started.id()}));
  Projection p = FoldInEveryOrder({plan, started, moved, late});
  const TaskState* t = p.Task("T-1");
  BOOST_TEST(t->spec().site == "site-b");
  BOOST_TEST(!Flagged(p, started.id()));
  BOOST_TEST((t->status() == TaskStatus::kRunning));
  BOOST_TEST(t->actual_start_ms() == kT0 + kMinute);
  BOOST_TEST(FlagReason(p, late.id()) ==
             "task_reported on task \"T-1\" from site \"site-a\": neither the task's site as of "
             "the event (\"site-b\") nor a manager");
  BOOST_TEST(p.flags().size() == 1u);
  // The new site carries on from site-a's report.
  Event done = log.Make("site-b", 4, Rep("T-1", ReportKind::kDone, {started.id()}));
  p = FoldInEveryOrder({plan, started, moved, late, done});
  BOOST_TEST((p.Task("T-1")->status() == TaskStatus::kDone));
  BOOST_TEST(p.Task("T-1")->actual_start_ms() == kT0 + kMinute);
  BOOST_TEST(!p.Task("T-1")->StatusConflict());
  for (const HistoryEntry& h : p.Task("T-1")->History()) {
    BOOST_TEST(h.counted == (h.id != late.id()), h.id.ToString());
  }
}

BOOST_AUTO_TEST_CASE(a_move_is_judged_by_hlc_order_also_when_concurrent) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  TaskChanged move{"T-1", {}, {plan.id()}};
  move.patch.site = "site-b";
  // Neither site saw the other's event: the order of their clocks decides.
  Event moved = log.Make("hq", 5, move);
  Event before = log.Make("site-a", 4, Rep("T-1", ReportKind::kStarted));
  Event after = log.Make("site-a", 6, Rep("T-1", ReportKind::kDone, {before.id()}));
  Projection p = FoldInEveryOrder({plan, moved, before, after});
  BOOST_TEST(!Flagged(p, before.id()));
  BOOST_TEST(Flagged(p, after.id()));
  BOOST_TEST((p.Task("T-1")->status() == TaskStatus::kRunning));
  // Same wall time and logical counter: the origin breaks the tie ("hq" < "site-a").
  Event tie = log.Make("site-a", 5, Rep("T-1", ReportKind::kDone, {before.id()}));
  Event tie_b = log.Make("site-b", 5, Rep("T-1", ReportKind::kDone, {before.id()}));
  p = Fold({plan, moved, before, after, tie, tie_b});
  BOOST_TEST(Flagged(p, tie.id()));
  BOOST_TEST(!Flagged(p, tie_b.id()));
}

BOOST_AUTO_TEST_CASE(a_report_made_before_the_site_leaves_the_roster_counts_one_after_does_not) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  Event started = log.Make("site-b", 1, Rep("T-4", ReportKind::kStarted));
  Event note = log.Make("site-b", 2, NoteAdded{"", "T-4 under way"});
  std::vector<SiteInfo> sites = BasicPlan().plan.sites;
  std::erase_if(sites, [](const SiteInfo& s) { return s.id == "site-b"; });
  Event removal = log.Make("hq", 3, RosterOf(plan, sites));
  Event done = log.Make("site-b", 4, Rep("T-4", ReportKind::kDone, {started.id()}));
  Event late_note = log.Make("site-b", 5, NoteAdded{"T-4", "done, logging off"});
  Projection p = FoldInEveryOrder({plan, started, note, removal, done, late_note});
  BOOST_TEST(p.RosterEntry("site-b") == nullptr);
  BOOST_TEST(!Flagged(p, started.id()));
  BOOST_TEST(!Flagged(p, note.id()));
  BOOST_TEST((p.Task("T-4")->status() == TaskStatus::kRunning));
  BOOST_TEST(p.notes().size() == 1u);
  BOOST_TEST(FlagReason(p, done.id()) ==
             "task_reported on task \"T-4\" from site \"site-b\": site is not on the roster as "
             "of the event");
  BOOST_TEST(Flagged(p, late_note.id()));
  BOOST_TEST(p.Task("T-4")->Notes().empty());
  BOOST_TEST(p.flags().size() == 2u);
}

// A removed site keeps its key: it could stamp new events with a clock from before its
// removal. The removal fences its chain at the seq the remover held; what lies past it is judged
// as of the removal at the earliest, in every order.
BOOST_AUTO_TEST_CASE(a_removed_sites_chain_past_its_fence_does_not_count_whatever_its_clock) {
  PlanDefined keyed = BasicPlan();
  const std::string b_key(32, 'b');
  keyed.plan.sites[2].public_key = b_key;
  std::vector<SiteInfo> without_b = keyed.plan.sites;
  std::erase_if(without_b, [](const SiteInfo& s) { return s.id == "site-b"; });
  // The same weekend with the removal fenced at site-b/1 or not.
  for (const bool fenced : {true, false}) {
    BOOST_TEST_CONTEXT("fenced " << fenced) {
      Log log;
      Event plan = log.Make("hq", 0, keyed);
      Event started = log.Make("site-b", 1, Rep("T-4", ReportKind::kStarted));  // site-b/1
      PlanDefined removal_body = RosterOf(plan, without_b);
      if (fenced) removal_body.fences = {Fence{"site-b", started.seq}};
      Event removal = log.Make("hq", 10, removal_body);
      // Made after the removal, stamped as if before it (minute 5 < 10): site-b/2 and /3.
      Event backdated = log.Make("site-b", 5, Rep("T-4", ReportKind::kDone, {started.id()}));
      Event note = log.Make("site-b", 6, NoteAdded{"", "all fine here"});
      Projection p = FoldInEveryOrder({plan, started, removal, backdated, note});
      BOOST_TEST(!Flagged(p, started.id()));
      // Its key stays known for verifying what it signed.
      BOOST_TEST(p.RosterEntry("site-b") == nullptr);
      BOOST_TEST(p.SignerKey("site-b") == b_key);
      if (!fenced) {  // The old clock would make them count: the fence is what voids them.
        BOOST_TEST(!Flagged(p, backdated.id()));
        BOOST_TEST((p.Task("T-4")->status() == TaskStatus::kDone));
        continue;
      }
      BOOST_TEST((p.Task("T-4")->status() == TaskStatus::kRunning));
      BOOST_TEST(FlagReason(p, backdated.id()) ==
                 "task_reported on task \"T-4\" from site \"site-b\": site is not on the roster "
                 "as of the event");
      BOOST_TEST(Flagged(p, note.id()));
      BOOST_TEST(p.notes().empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_site_reports_on_its_teams_tasks_as_the_roster_stood_at_each_event) {
  Log log;
  PlanDefined d = BasicPlan();
  TaskSpec backup = Spec("DB-1", "hq");  // Run by the DBA team, whose people sit at site-a.
  backup.team = "dba";
  d.plan.tasks.push_back(backup);
  d.plan.sites[1].teams = {"dba"};
  Event plan = log.Make("hq", 0, d);
  Event started = log.Make("site-a", 1, Rep("DB-1", ReportKind::kStarted));
  Event stranger = log.Make("site-b", 2, Rep("DB-1", ReportKind::kFailed, {started.id()}));
  std::vector<SiteInfo> sites = d.plan.sites;
  sites[1].teams.clear();  // The team moves away from site-a.
  Event change = log.Make("hq", 3, RosterOf(plan, sites));
  Event done = log.Make("site-a", 4, Rep("DB-1", ReportKind::kDone, {started.id()}));
  Projection p = FoldInEveryOrder({plan, started, stranger, change, done});
  BOOST_TEST(!Flagged(p, started.id()));
  BOOST_TEST((p.Task("DB-1")->status() == TaskStatus::kRunning));
  BOOST_TEST(FlagReason(p, stranger.id()) ==
             "task_reported on task \"DB-1\" from site \"site-b\": neither the task's site as "
             "of the event (\"hq\"), a site of its team (\"dba\") nor a manager");
  BOOST_TEST(Flagged(p, done.id()));
  BOOST_TEST(p.flags().size() == 2u);
  BOOST_TEST(p.RosterEntry("site-a")->teams.empty());
}

BOOST_AUTO_TEST_CASE(a_gate_that_names_deciders_is_decided_by_them_or_a_manager) {
  Log log;
  PlanDefined d = BasicPlan();
  TaskSpec gate = Spec("G-1", "site-a");
  gate.kind = TaskKind::kGate;
  gate.deciders = {"site-b", "risk"};
  d.plan.tasks.push_back(gate);
  TaskSpec open_gate = Spec("G-2", "site-a");  // Names none: its site decides, as before.
  open_gate.kind = TaskKind::kGate;
  d.plan.tasks.push_back(open_gate);
  Event plan = log.Make("hq", 0, d);
  Event by_site = log.Make("site-a", 1, GateDecided{"G-1", true, kNoTime, "", {}});
  Event by_decider = log.Make("site-b", 2, GateDecided{"G-1", true, kNoTime, "", {}});
  Event open_by_site = log.Make("site-a", 3, GateDecided{"G-2", true, kNoTime, "", {}});
  Event open_by_other = log.Make("site-b", 4, GateDecided{"G-2", false, kNoTime, "", {}});
  std::vector<SiteInfo> sites = d.plan.sites;
  sites[1].teams = {"risk"};  // site-a joins the risk team: from now on it decides G-1 too.
  Event change = log.Make("hq", 5, RosterOf(plan, sites));
  Event by_team = log.Make("site-a", 6, GateDecided{"G-1", false, kNoTime, "", {by_decider.id()}});
  Event by_manager = log.Make("hq", 7, GateDecided{"G-1", true, kNoTime, "", {by_team.id()}});
  Projection p = FoldInEveryOrder(
      {plan, by_site, by_decider, open_by_site, open_by_other, change, by_team, by_manager});
  BOOST_TEST(FlagReason(p, by_site.id()) ==
             "gate_decided on task \"G-1\" from site \"site-a\": neither among the gate's "
             "deciders as of the event (\"site-b\", \"risk\") nor a manager");
  BOOST_TEST(!Flagged(p, by_decider.id()));
  BOOST_TEST(!Flagged(p, open_by_site.id()));
  BOOST_TEST(Flagged(p, open_by_other.id()));
  BOOST_TEST(!Flagged(p, by_team.id()));
  BOOST_TEST(!Flagged(p, by_manager.id()));
  BOOST_TEST(p.flags().size() == 2u);
  BOOST_TEST((p.Task("G-1")->LiveGateIds() == std::vector<EventId>{by_manager.id()}));
  BOOST_TEST((p.Task("G-1")->spec().deciders == std::vector<std::string>{"site-b", "risk"}));
}

// A task_changed sets a gate's deciders (format 3): decisions are judged by the deciders as of
// each, and [] gives the gate back to its site and team.
BOOST_AUTO_TEST_CASE(an_amendment_changes_a_gates_deciders_as_of_each_decision) {
  Log log;
  PlanDefined d = BasicPlan();
  TaskSpec gate = Spec("G-1", "site-a");
  gate.kind = TaskKind::kGate;
  d.plan.tasks.push_back(gate);
  Event plan = log.Make("hq", 0, d);
  Event by_b_early = log.Make("site-b", 1, GateDecided{"G-1", true, kNoTime, "", {}});
  TaskPatch to_b;
  to_b.deciders = std::vector<std::string>{"site-b"};
  Event change = log.Make("hq", 2, TaskChanged{"G-1", to_b, {}});
  Event by_a = log.Make("site-a", 3, GateDecided{"G-1", true, kNoTime, "", {}});
  Event by_b = log.Make("site-b", 4, GateDecided{"G-1", false, kNoTime, "", {}});
  TaskPatch back;
  back.deciders = std::vector<std::string>{};
  Event cleared = log.Make("hq", 5, TaskChanged{"G-1", back, {change.id()}});
  Event by_a_again = log.Make("site-a", 6, GateDecided{"G-1", true, kNoTime, "", {by_b.id()}});
  Projection p = FoldInEveryOrder({plan, by_b_early, change, by_a, by_b, cleared, by_a_again});
  BOOST_TEST(Flagged(p, by_b_early.id()));  // Before the change only site-a (its site) decides.
  BOOST_TEST(FlagReason(p, by_a.id()) ==
             "gate_decided on task \"G-1\" from site \"site-a\": neither among the gate's "
             "deciders as of the event (\"site-b\") nor a manager");
  BOOST_TEST(!Flagged(p, by_b.id()));
  BOOST_TEST(!Flagged(p, by_a_again.id()));
  BOOST_TEST(p.flags().size() == 2u);
  BOOST_TEST(p.Task("G-1")->spec().deciders.empty());
  BOOST_TEST((p.Task("G-1")->LiveGateIds() == std::vector<EventId>{by_a_again.id()}));
}

BOOST_AUTO_TEST_CASE(a_reset_withdraws_a_gate_decision_and_a_later_decision_replaces_it) {
  Log log;
  PlanDefined d = BasicPlan();
  TaskSpec gate = Spec("G-1", "site-a");
  gate.kind = TaskKind::kGate;
  gate.deciders = {"site-b"};
  d.plan.tasks.push_back(gate);
  Event plan = log.Make("hq", 0, d);
  Event go = log.Make("site-b", 1, GateDecided{"G-1", true, kNoTime, "", {}});
  // site-a runs the gate but does not decide it: its reset does not withdraw the go.
  Event not_decider = log.Make("site-a", 2, Rep("G-1", ReportKind::kReset, {go.id()}));
  Event withdraw = log.Make("site-b", 3, Rep("G-1", ReportKind::kReset, {go.id()}));
  {
    Projection p = FoldInEveryOrder({plan, go, not_decider});
    BOOST_TEST_REQUIRE(p.Task("G-1")->GateWinner() != nullptr);
    BOOST_TEST(p.Task("G-1")->GateWinner()->go);
  }
  Projection p = FoldInEveryOrder({plan, go, not_decider, withdraw});
  const TaskState* g = p.Task("G-1");
  BOOST_TEST(g->GateWinner() == nullptr);
  BOOST_TEST(!g->GateConflict());
  BOOST_TEST((g->LiveGateIds() == std::vector<EventId>{withdraw.id()}));
  BOOST_TEST(!Flagged(p, withdraw.id()));

  // A decision that knew of the withdrawal replaces it.
  Event nogo = log.Make("hq", 4, GateDecided{"G-1", false, kNoTime, "", {withdraw.id()}});
  p = FoldInEveryOrder({plan, go, not_decider, withdraw, nogo});
  g = p.Task("G-1");
  BOOST_TEST_REQUIRE(g->GateWinner() != nullptr);
  BOOST_TEST(!g->GateWinner()->go);
  BOOST_TEST(!g->GateConflict());
  BOOST_TEST((g->LiveGateIds() == std::vector<EventId>{nogo.id()}));

  // One that did not (made concurrently, superseding the go only) stands beside it: a conflict.
  Event concurrent = log.Make("site-b", 5, GateDecided{"G-1", false, kNoTime, "", {go.id()}});
  p = FoldInEveryOrder({plan, go, withdraw, concurrent});
  g = p.Task("G-1");
  BOOST_TEST_REQUIRE(g->GateWinner() != nullptr);
  BOOST_TEST(!g->GateWinner()->go);
  BOOST_TEST(g->GateConflict());
}

BOOST_AUTO_TEST_CASE(a_site_enrolled_later_counts_only_from_its_enrolment) {
  Log log;
  PlanDefined d = BasicPlan();
  d.plan.tasks.push_back(Spec("V-1", "v1"));  // Planned for a vendor not yet on the roster.
  Event early = log.Make("site-a", -1, Rep("T-1", ReportKind::kStarted));  // Before any roster.
  Event plan = log.Make("hq", 0, d);
  Event started = log.Make("v1", 1, Rep("V-1", ReportKind::kStarted));
  std::vector<SiteInfo> sites = BasicPlan().plan.sites;
  sites.push_back(SiteInfo{"v1", "Vendor 1", "", SiteRole::kSite, "", {}});
  Event enrol = log.Make("hq", 2, RosterOf(plan, sites));
  Event done = log.Make("v1", 3, Rep("V-1", ReportKind::kDone, {started.id()}));
  Projection p = FoldInEveryOrder({early, plan, started, enrol, done});
  BOOST_TEST_REQUIRE(p.RosterEntry("v1") != nullptr);
  BOOST_TEST(FlagReason(p, started.id()) ==
             "task_reported on task \"V-1\" from site \"v1\": site is not on the roster as of "
             "the event");
  BOOST_TEST(Flagged(p, early.id()));
  BOOST_TEST(!Flagged(p, done.id()));
  BOOST_TEST(p.flags().size() == 2u);
  BOOST_TEST((p.Task("T-1")->status() == TaskStatus::kPending));
  const TaskState* t = p.Task("V-1");
  BOOST_TEST((t->status() == TaskStatus::kDone));
  BOOST_TEST(t->actual_start_ms() == kNoTime);  // The start it names did not count.
}

BOOST_AUTO_TEST_CASE(an_observer_never_counts_not_even_on_a_task_of_its_own) {
  Log log;
  PlanDefined d = BasicPlan();
  TaskSpec gate = Spec("G-1", "obs");
  gate.kind = TaskKind::kGate;
  d.plan.tasks.push_back(Spec("O-1", "obs"));
  d.plan.tasks.push_back(gate);
  Event plan = log.Make("hq", 0, d);
  Event started = log.Make("obs", 1, Rep("O-1", ReportKind::kStarted));
  Event decided = log.Make("obs", 2, GateDecided{"G-1", true, kNoTime, "go", {}});
  Event note = log.Make("obs", 3, NoteAdded{"O-1", "watching"});
  // Promoted to a site later: what it did as an observer stays out; what follows counts.
  std::vector<SiteInfo> sites = BasicPlan().plan.sites;
  sites.back().role = SiteRole::kSite;
  Event promote = log.Make("hq", 4, RosterOf(plan, sites));
  Event done = log.Make("obs", 5, Rep("O-1", ReportKind::kDone, {started.id()}));
  Projection p = FoldInEveryOrder({plan, started, decided, note, promote, done});
  BOOST_TEST((p.RosterEntry("obs")->role == SiteRole::kSite));
  BOOST_TEST(FlagReason(p, started.id()) ==
             "task_reported on task \"O-1\" from site \"obs\": an observer may not report");
  BOOST_TEST(FlagReason(p, decided.id()) ==
             "gate_decided on task \"G-1\" from site \"obs\": an observer may not decide a gate");
  BOOST_TEST(FlagReason(p, note.id()) ==
             "note_added on task \"O-1\" from site \"obs\": an observer may not add notes");
  BOOST_TEST(p.Task("G-1")->GateWinner() == nullptr);
  BOOST_TEST(!Flagged(p, done.id()));
  BOOST_TEST((p.Task("O-1")->status() == TaskStatus::kDone));
  BOOST_TEST(p.flags().size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_gate_decision_is_judged_by_the_gate_as_it_stood) {
  Log log;
  PlanDefined d = BasicPlan();
  TaskSpec gate = Spec("G-1", "site-a");
  gate.kind = TaskKind::kGate;
  d.plan.tasks.push_back(gate);
  Event plan = log.Make("hq", 0, d);
  Event go = log.Make("site-a", 1, GateDecided{"G-1", true, kNoTime, "go", {}});
  TaskChanged move{"G-1", {}, {plan.id()}};
  move.patch.site = "hq";
  Event moved = log.Make("hq", 2, move);
  Event no_go = log.Make("site-a", 3, GateDecided{"G-1", false, kNoTime, "no-go", {go.id()}});
  Projection p = FoldInEveryOrder({plan, go, moved, no_go});
  BOOST_TEST_REQUIRE(p.Task("G-1")->GateWinner() != nullptr);
  BOOST_TEST(p.Task("G-1")->GateWinner()->go);
  BOOST_TEST(!Flagged(p, go.id()));
  BOOST_TEST(FlagReason(p, no_go.id()) ==
             "gate_decided on task \"G-1\" from site \"site-a\": neither the task's site as of "
             "the event (\"hq\") nor a manager");
}

BOOST_AUTO_TEST_CASE(plan_edits_and_notes_count_by_the_roster_of_their_time) {
  Log log;
  Event plan = log.Make("hq", 0, BasicPlan());
  std::vector<SiteInfo> sites = BasicPlan().plan.sites;
  sites.push_back(SiteInfo{"hq2", "HQ 2", "", SiteRole::kManager, "", {}});
  Event grant = log.Make("hq", 1, RosterOf(plan, sites));
  TaskChanged edit{"T-2", {}, {plan.id()}};
  edit.patch.title = "Renamed by HQ 2";
  Event edited = log.Make("hq2", 2, edit);
  PlanAmended amend;
  amend.name = "Cut-over (HQ 2)";
  Event amended = log.Make("hq2", 3, amend);
  Event note = log.Make("site-a", 4, NoteAdded{"", "A is ready"});
  sites.pop_back();
  sites[1].role = SiteRole::kObserver;  // hq2 leaves, site-a becomes read-only.
  PlanDefined revoke = RosterOf(plan, sites);
  revoke.supersedes = {grant.id()};
  Event revoked = log.Make("hq", 5, revoke);
  TaskChanged late_edit{"T-2", {}, {edited.id()}};
  late_edit.patch.title = "Too late";
  Event too_late = log.Make("hq2", 6, late_edit);
  Event late_note = log.Make("site-a", 7, NoteAdded{"", "still here"});
  Projection p =
      FoldInEveryOrder({plan, grant, edited, amended, note, revoked, too_late, late_note});
  BOOST_TEST(p.Task("T-2")->spec().title == "Renamed by HQ 2");
  BOOST_TEST(!Flagged(p, amended.id()));
  BOOST_TEST(p.name().Live().size() == 2u);  // The amendment and the roster changes' header.
  BOOST_TEST(p.notes().size() == 1u);
  BOOST_TEST(p.notes().begin()->text == "A is ready");
  BOOST_TEST(FlagReason(p, too_late.id()) ==
             "task_changed on task \"T-2\" from site \"hq2\": site is not on the roster as of "
             "the event");
  BOOST_TEST(FlagReason(p, late_note.id()) ==
             "note_added from site \"site-a\": an observer may not add notes");
  BOOST_TEST(p.flags().size() == 2u);
}

// ---- Properties over generated event sets -------------------------------------------------------

GenOptions OptionsFor(int seed) {
  GenOptions o;
  o.site_count = 2 + seed % 3;
  o.task_count = 3 + seed % 6;
  o.event_count = 20 + (seed * 7) % 45;
  o.with_observer = seed % 4 != 0;
  o.rogue_probability = seed % 5 == 0 ? 0.2 : 0.05;
  return o;
}

BOOST_DATA_TEST_CASE(any_order_with_duplicates_gives_the_same_bytes, data::xrange(0, 400), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    std::vector<Event> events = GenerateEvents(static_cast<uint64_t>(seed), OptionsFor(seed));
    std::string reference = Fold(events).CanonicalBytes();
    for (uint64_t round = 0; round < 3; ++round) {
      uint64_t s = static_cast<uint64_t>(seed) * 31 + round;
      std::vector<Event> order = WithDuplicates(ShuffleRespectingOrigins(events, s), s, 0.2);
      Projection p;
      Deliver(p, order);
      BOOST_TEST(p.event_count() == events.size());
      BOOST_TEST(p.CanonicalBytes() == reference, "round " << round);
    }
  }
}

// Two replicas each get part of the events (a per-origin prefix, in their own order), read
// their state midway (filling caches), then exchange what the other lacks via MissingFrom.
BOOST_DATA_TEST_CASE(split_replicas_converge_after_exchange, data::xrange(0, 300), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed) ^ 0x9e3779b97f4a7c15ULL);
    std::vector<Event> events =
        GenerateEvents(static_cast<uint64_t>(seed) + 10'000, OptionsFor(seed));
    std::map<EventId, const Event*> by_id;
    std::map<SiteId, uint64_t> counts;
    for (const Event& e : events) {
      by_id[e.id()] = &e;
      counts[e.origin] = std::max(counts[e.origin], e.seq);
    }
    auto partial = [&](uint64_t shuffle_seed) {
      std::map<SiteId, uint64_t> cut;
      for (const auto& [origin, n] : counts) cut[origin] = rng() % (n + 1);
      std::vector<Event> part;
      for (const Event& e : ShuffleRespectingOrigins(events, shuffle_seed)) {
        if (e.seq <= cut[e.origin]) part.push_back(e);
      }
      return part;
    };
    Projection a, b;
    Deliver(a, partial(rng()));
    Deliver(b, partial(rng()));
    a.CanonicalBytes();
    b.TaskIds();
    // Snapshot one replica midway: a restored replica must behave the same.
    Result<Projection> restored = Projection::FromSnapshot(b.SerializeSnapshot());
    BOOST_TEST_REQUIRE(restored.ok(), restored.status().ToString());
    b = std::move(restored).value();
    auto send = [&](const Projection& from, Projection& to) {
      std::vector<Event> batch;
      for (const SeqRange& r : from.version_vector().MissingFrom(to.version_vector())) {
        for (uint64_t q = r.first; q <= r.last; ++q)
          batch.push_back(*by_id.at(EventId{r.origin, q}));
      }
      Deliver(to, batch);
    };
    send(a, b);
    send(b, a);
    // Then each gets the rest of the log from "elsewhere", in a random order.
    Deliver(a, ShuffleRespectingOrigins(events, rng()));
    Deliver(b, WithDuplicates(ShuffleRespectingOrigins(events, rng()), rng(), 0.1));
    std::string reference = Fold(events).CanonicalBytes();
    BOOST_TEST(a.CanonicalBytes() == reference);
    BOOST_TEST(b.CanonicalBytes() == reference);
    BOOST_TEST((a.version_vector() == b.version_vector()));
  }
}

// Generated sets (hq, the anchor, defines the plan with key 32 x 'k') plus two plans made while
// no roster was in force: a vendor's with an earlier clock, and one from hq with another key.
// Whenever the anchor is set (before, midway, after, on a restored snapshot) and whatever the
// order, the state is the same and hq's plan alone defines the roster.
BOOST_DATA_TEST_CASE(with_an_anchor_any_order_gives_the_same_bytes, data::xrange(0, 150), seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    const GenOptions options = OptionsFor(seed);
    std::vector<Event> events = GenerateEvents(static_cast<uint64_t>(seed) + 20'000, options);
    const Projection generated = Fold(events);
    std::map<SiteId, uint64_t> seqs;
    PlanDefined first;
    for (const Event& e : events) {
      seqs[e.origin] = std::max(seqs[e.origin], e.seq);
      if (e.seq == 1 && e.origin == "hq") first = std::get<PlanDefined>(e.body);
    }
    auto extra = [&](const SiteId& origin, PlanDefined body) {
      Event e;
      e.runbook_id = options.runbook_id;
      e.origin = origin;
      e.seq = ++seqs[origin];
      e.hlc = Hlc{options.start_ms - 3'600'000, 0};  // Before hq's plan.
      e.actor = "mallory@" + origin;
      e.body = std::move(body);
      return e;
    };
    PlanDefined takeover = first;
    for (SiteInfo& s : takeover.plan.sites) s.role = SiteRole::kManager;
    PlanDefined wrong_key = first;
    wrong_key.plan.sites[0].public_key = std::string(32, 'x');
    const Event vendor = extra("site-1", takeover);
    const Event forged = extra("hq", wrong_key);
    events.push_back(vendor);
    events.push_back(forged);

    Projection reference;
    reference.SetTrustAnchor("hq", std::string(32, 'k'));
    Deliver(reference, events);
    BOOST_TEST(Flagged(reference, vendor.id()));
    BOOST_TEST(Flagged(reference, forged.id()));
    BOOST_TEST((reference.roster().Live().size() == generated.roster().Live().size()));
    BOOST_TEST((reference.roster().Winner()->value == generated.roster().Winner()->value));
    BOOST_TEST((reference.TaskIds() == generated.TaskIds()));
    const std::string bytes = reference.CanonicalBytes();
    for (uint64_t round = 0; round < 3; ++round) {
      uint64_t s = static_cast<uint64_t>(seed) * 37 + round;
      std::vector<Event> order = WithDuplicates(ShuffleRespectingOrigins(events, s), s, 0.2);
      const size_t half = order.size() / 2;
      Projection p;
      if (round == 0) p.SetTrustAnchor("hq", std::string(32, 'k'));
      Deliver(p, {order.begin(), order.begin() + static_cast<long>(half)});
      p.TaskIds();  // Fill caches midway.
      if (round == 1) p.SetTrustAnchor("hq", std::string(32, 'k'));
      if (round == 2) {
        Result<Projection> restored = Projection::FromSnapshot(p.SerializeSnapshot());
        BOOST_TEST_REQUIRE(restored.ok(), restored.status().ToString());
        p = std::move(restored).value();
      }
      Deliver(p, {order.begin() + static_cast<long>(half), order.end()});
      if (round == 2) p.SetTrustAnchor("hq", std::string(32, 'k'));
      BOOST_TEST(p.CanonicalBytes() == bytes, "round " << round);
    }
  }
}

// The rule itself: an event's verdict depends only on the events ordered before it, so the
// events ordered after it (a later move, roster change, anything) never change it. Folding the
// generated set's (hlc, origin, seq) prefixes gives each event of a prefix the verdict it has in
// the whole set. (A site's clock only grows, so a prefix keeps each origin's seqs contiguous.)
BOOST_DATA_TEST_CASE(a_verdict_depends_only_on_the_events_ordered_before_it, data::xrange(0, 150),
                     seed) {
  BOOST_TEST_CONTEXT("seed " << seed) {
    GenOptions options = OptionsFor(seed);
    options.rogue_probability = 0.15;
    std::vector<Event> events = GenerateEvents(static_cast<uint64_t>(seed) + 30'000, options);
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
      return WinsOver(b.hlc, b.id(), a.hlc, a.id());
    });
    const std::vector<Flag> all = Fold(events).flags();
    std::map<EventId, std::vector<std::string>> reasons;
    for (const Flag& f : all) reasons[f.id].push_back(f.reason);
    for (size_t cut : {events.size() / 4, events.size() / 2, events.size() * 3 / 4}) {
      Projection prefix = Fold({events.begin(), events.begin() + static_cast<long>(cut)});
      std::map<EventId, std::vector<std::string>> in_prefix;
      for (const Flag& f : prefix.flags()) in_prefix[f.id].push_back(f.reason);
      for (size_t i = 0; i < cut; ++i) {
        const EventId id = events[i].id();
        BOOST_TEST((in_prefix[id] == reasons[id]), "cut " << cut << ", event " << id.ToString());
      }
    }
  }
}

// The generator exercises what the properties are about.
BOOST_AUTO_TEST_CASE(generated_sets_contain_conflicts_flags_and_removals) {
  int conflicts = 0, flagged = 0, removed = 0, field_conflicts = 0;
  for (int seed = 0; seed < 60; ++seed) {
    Projection p = Fold(GenerateEvents(static_cast<uint64_t>(seed), OptionsFor(seed)));
    flagged += p.flags().empty() ? 0 : 1;
    for (const auto& id : p.TaskIds()) {
      conflicts += p.Task(id)->StatusConflict() ? 1 : 0;
      field_conflicts += p.Task(id)->FieldConflict() ? 1 : 0;
    }
    for (const auto& id : std::vector<std::string>{"T-1", "T-2", "T-3"}) {
      if (p.Task(id) != nullptr && p.Task(id)->removed()) ++removed;
    }
  }
  BOOST_TEST_MESSAGE("conflicts " << conflicts << ", field conflicts " << field_conflicts
                                  << ", flagged runs " << flagged << ", removed " << removed);
  BOOST_TEST(conflicts > 0);
  BOOST_TEST(field_conflicts > 0);
  BOOST_TEST(flagged > 10);
  BOOST_TEST(removed > 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::crdt
