// Evidence bundles on real logs: two real batond sites replicating export bundles through their
// daemons (`baton export --bundle`) and offline (`baton-audit bundle`), while they run; every
// bundle verifies intact, to the same state at both sites and to what verify says of the data
// directory. Then one bundle altered in every way the auditor must name (flipped bytes, cut
// short, appended to, events deleted, repeated, reordered, forged, forked, spliced from another
// runbook, an old bundle's events replayed into a new one, a lying manifest) and random bit
// flips anywhere in the file: each detected, and named. Mutations: 100, or `-- --mutations N`.
#include "client/bundle.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "client/protocol.h"
#include "crdt/event_codec.h"
#include "daemon/identity/keys.h"
#include "tests/support/args.h"
#include "tests/support/process.h"
#include "tests/support/site.h"
#include "tests/support/temp_dir.h"
#include "tests/support/weekend.h"
#include "tools/audit/verify.h"

namespace baton {
namespace {

using nlohmann::json;
using testing::Site;
using testing::Weekend;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

testing::CommandResult Run(const std::string& program, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv, 60000);
}

testing::CommandResult Audit(const std::vector<std::string>& args) {
  return Run(BATON_AUDIT_PATH, args);
}

json VerifyJson(const std::string& path, int expected_exit, const std::string& trust = "") {
  std::vector<std::string> args = {"verify", "--data", path, "--json"};
  if (!trust.empty()) args.insert(args.end(), {"--trust", trust});
  const auto r = Audit(args);
  BOOST_TEST_REQUIRE(r.exit_code == expected_exit, path << ": exit " << r.exit_code << "\n"
                                                        << r.out << r.err);
  return json::parse(r.out);
}

// What two verifications of one weekend's evidence must agree on, wherever it was exported.
json Verdict(json report) {
  for (const char* local : {"store", "site", "arrivals", "trust_source", "bundle"}) {
    report.erase(local);
  }
  return report;
}

void ExportBundle(const Site& site, const std::string& file) {
  const auto r = Run(testing::BatonPath(), {"--data", site.data(), "export", "--bundle", file});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(r.err.find("events to the bundle") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(bundles_of_two_converged_sites_verify_alike_and_as_their_directories) {
  const int64_t started_ms = NowMs();
  Weekend w({"hq", "v1"}, "");
  w.Link(1, 0);
  w.StartAll();
  w.ImportPlan(testing::PlanFor(w));
  w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "start"}});
  w.Call(0, "report", json{{"task", "T-hq"}, {"kind", "start"}});
  for (int i = 0; i < 6; ++i) {
    w.Call(i % 2, "note",
           json{{"task", i % 2 ? "T-v1" : "T-hq"}, {"text", "n" + std::to_string(i)}});
  }
  w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "done"}});
  w.WaitConverged("before the bundles");
  const std::string digest = w.Status(0)["digest"];
  const uint64_t events = w.Status(0)["events"];

  testing::TempDir dir("bundles");
  const std::string hq_bundle = dir.str() + "/hq.bundle";
  const std::string v1_bundle = dir.str() + "/v1.bundle";
  const std::string offline = dir.str() + "/hq-offline.bundle";
  // Through the daemons, and offline from hq's directory while hq runs.
  ExportBundle(w.at(0), hq_bundle);
  ExportBundle(w.at(1), v1_bundle);
  const auto made = Audit({"bundle", "--data", w.at(0).data(), offline});
  BOOST_TEST_REQUIRE(made.exit_code == 0, made.out << made.err);
  BOOST_TEST(!std::filesystem::exists(hq_bundle + ".partial"));

  const json hq_dir = VerifyJson(w.at(0).data(), 0);
  const json hq = VerifyJson(hq_bundle, 0);
  const json v1 = VerifyJson(v1_bundle, 0);
  const json hq_offline = VerifyJson(offline, 0);
  for (const json* report : {&hq, &v1, &hq_offline}) {
    BOOST_TEST((*report)["intact"].get<bool>(), report->dump(1));
    BOOST_TEST((*report)["bundle"].get<bool>());
    BOOST_TEST((*report)["events"].get<uint64_t>() == events);
    BOOST_TEST((*report)["state_digest"] == digest, report->dump(1));
  }
  BOOST_TEST(v1["site"] == "v1");
  BOOST_TEST(hq["site"] == "hq");
  BOOST_TEST(v1["trust_source"].get<std::string>().find("bundle") != std::string::npos);
  // The same verdict from either site's bundle, from either way of making one, and from the
  // directory itself.
  BOOST_TEST(Verdict(hq) == Verdict(v1), Verdict(hq).dump(1) << "\n" << Verdict(v1).dump(1));
  BOOST_TEST(Verdict(hq) == Verdict(hq_offline));
  BOOST_TEST(Verdict(hq) == Verdict(hq_dir));
  BOOST_TEST(hq_dir["state_digest"] == digest);

  // The bundle's contents: every event with the time it arrived at the exporting site, the
  // roster with both keys, the trust anchor; the text report says which bundle it read.
  const auto contents = bundle::Read(v1_bundle);
  BOOST_TEST_REQUIRE(contents.ok(), contents.status().ToString());
  BOOST_TEST(contents->problems.empty());
  BOOST_TEST(contents->header.site == "v1");
  BOOST_TEST(contents->header.trust_site == "hq");
  BOOST_TEST(contents->header.exported_by == "baton export");
  BOOST_TEST_REQUIRE(contents->events.size() == events);
  int64_t previous = 0;
  for (size_t i = 0; i < contents->events.size(); ++i) {
    const bundle::Event& e = contents->events[i];
    BOOST_TEST(e.arrival == i + 1);
    BOOST_TEST(e.arrived_ms >= started_ms - 1000);
    BOOST_TEST(e.arrived_ms <= NowMs());
    BOOST_TEST(e.arrived_ms >= previous - 1000);  // The wall clock; a step back is tolerated.
    previous = e.arrived_ms;
  }
  std::set<std::string> keys;
  for (const bundle::RosterSite& s : contents->manifest.roster) {
    keys.insert(s.id + ":" + identity::ToHex(s.public_key));
  }
  BOOST_TEST((keys == std::set<std::string>{"hq:" + w.Key(0), "v1:" + w.Key(1)}));
  const auto text = Audit({"verify", "--data", v1_bundle});
  BOOST_TEST(text.exit_code == 0, text.out << text.err);
  BOOST_TEST(text.out.find("bundle:   " + v1_bundle + " (exported by site v1") != std::string::npos,
             text.out);

  // The timeline reads a bundle as it reads the directory.
  const auto timeline = [&](const std::string& path) {
    const auto r = Audit({"timeline", "--data", path, "--format", "json"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
    return json::parse(r.out)["events"];
  };
  BOOST_TEST(timeline(v1_bundle) == timeline(w.at(0).data()));

  // The auditor's own trust anchor: the right key passes, another fails every chain.
  VerifyJson(v1_bundle, 0, "hq:" + w.Key(0));
  const json wrong = VerifyJson(v1_bundle, 1, "hq:" + w.Key(1));
  BOOST_TEST(wrong.dump().find("bad_signature") != std::string::npos, wrong.dump(1));

  // Usage errors: not a bundle, no such file.
  std::ofstream(dir.str() + "/not-a-bundle") << "hello";
  const auto bad = Audit({"verify", "--data", dir.str() + "/not-a-bundle"});
  BOOST_TEST(bad.exit_code == 2, bad.out << bad.err);
  const auto out_exists = Run(testing::BatonPath(), {"--data", w.at(0).data(), "export", "--bundle",
                                                     dir.str() + "/x", "--out", "y"});
  BOOST_TEST(out_exists.exit_code != 0, "--bundle and --out together: " << out_exists.out);
}

// ---- Replay ------------------------------------------------------------------------------------

// A live result without what only a running daemon knows (docs/audit.md#replay).
json BoardOnly(json live) {
  for (const char* field :
       {"digest", "replication", "rejoining", "integrity", "clock_ahead_ms", "clients"}) {
    live.erase(field);
  }
  return live;
}

// The moment a live result is as of (the schedule's now).
int64_t MomentOf(const std::string& query, const json& live) {
  if (query == "status" || query == "critical") return live["forecast"]["now"].get<int64_t>();
  return live["now"].get<int64_t>();
}

json ReplayJson(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"replay"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--json");
  const auto r = Audit(argv);
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
  json result = json::parse(r.out);
  BOOST_TEST_REQUIRE(result.contains("replay"), r.out);
  return result;
}

BOOST_AUTO_TEST_CASE(replayed_boards_are_the_live_boards_of_those_moments) {
  Weekend w({"hq", "v1"}, "");
  w.Link(1, 0);
  w.StartAll();
  json plan = testing::PlanFor(w);
  plan["tasks"].push_back({{"id", "T-final"},
                           {"title", "Hand over"},
                           {"phase", "close"},
                           {"team", "ops"},
                           {"site", "hq"},
                           {"kind", "task"},
                           {"duration_ms", 1800000},
                           {"predecessors", json::array({"T-hq", "T-v1"})}});
  w.Call(0, "plan.import", json{{"plan", plan}});
  struct Moment {
    size_t site;
    std::string query;
    json live;
  };
  std::vector<Moment> moments;
  // Every query at both sites once the weekend is quiet; then no event may be stamped with a
  // moment already recorded (the clock must pass it first).
  const auto record = [&](const std::string& what) {
    w.WaitConverged(what);
    int64_t latest = 0;
    for (size_t i = 0; i < 2; ++i) {
      for (const char* query : {"status", "list", "critical", "forecast"}) {
        Moment m{i, query, w.Call(i, query)};
        latest = std::max(latest, MomentOf(m.query, m.live));
        moments.push_back(std::move(m));
      }
    }
    w.WaitUntil([&] { return NowMs() > latest + 1; }, "the clock past the recorded boards");
  };
  record("the plan everywhere");
  w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "start"}});
  w.Call(0, "note", json{{"task", "T-hq"}, {"text", "waiting for the DBA"}});
  record("v1 started");
  w.Call(0, "report", json{{"task", "T-hq"}, {"kind", "start"}});
  w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "done"}});
  record("v1 done");
  // v1 down while hq works on: v1's board then lacked hq's new events, which v1 holds now.
  const uint64_t v1_before = w.Call(1, "status")["events"];
  BOOST_TEST_REQUIRE(w.at(1).Stop() == 0);
  w.Call(0, "note", json{{"task", "T-hq"}, {"text", "v1 is down, going on"}});
  const json hq_during = w.Call(0, "status");
  const int64_t during = MomentOf("status", hq_during);
  w.WaitUntil([&] { return NowMs() > during + 1; }, "the clock past the recorded board");
  moments.push_back(Moment{0, "status", hq_during});
  w.at(1).Start();
  w.Call(0, "report", json{{"task", "T-hq"}, {"kind", "fail"}, {"note", "disk full"}});
  w.Call(0, "report", json{{"task", "T-hq"}, {"kind", "reset"}});
  w.Call(0, "report", json{{"task", "T-hq"}, {"kind", "done"}});
  w.Call(0, "report", json{{"task", "T-final"}, {"kind", "start"}});
  record("hq done, the hand-over started");
  const json shown_live = w.Call(1, "task", json{{"task", "T-hq"}});

  testing::TempDir dir("replay");
  const std::vector<std::string> bundles = {dir.str() + "/hq.bundle", dir.str() + "/v1.bundle"};
  ExportBundle(w.at(0), bundles[0]);
  ExportBundle(w.at(1), bundles[1]);

  // As each site saw it, at each recorded moment: its board, field for field.
  for (const Moment& m : moments) {
    const std::string site = w.at(m.site).id();
    const int64_t at = MomentOf(m.query, m.live);
    BOOST_TEST_CONTEXT(site << " " << m.query << " as of " << at) {
      json replayed = ReplayJson({"--data", bundles[m.site], "--as-of", std::to_string(at),
                                  "--site", site, m.query == "list" ? "ls" : m.query});
      BOOST_TEST(replayed["replay"]["as_of"] == at);
      replayed.erase("replay");
      const json live = BoardOnly(m.live);
      BOOST_TEST(replayed == live, "replayed:\n"
                                       << replayed.dump(1) << "\nlive:\n"
                                       << live.dump(1));
    }
  }
  // At that moment v1 had not got hq's note; by the events' clocks it had been made.
  {
    const std::string at = std::to_string(during);
    const json seen = ReplayJson({"--data", bundles[1], "--as-of", at, "--site", "v1", "status"});
    BOOST_TEST(seen["events"].get<uint64_t>() == v1_before);
    const json made = ReplayJson({"--data", bundles[1], "--as-of", at, "status"});
    BOOST_TEST(made["events"] == hq_during["events"]);
    BOOST_TEST(made["events"].get<uint64_t>() == v1_before + 1);
  }
  // From the data directory as from the bundle; `show` as the live one (its history, reports
  // and notes; its times are those of the moment).
  const int64_t last = MomentOf(moments.back().query, moments.back().live);
  json show = ReplayJson(
      {"--data", w.at(1).data(), "--as-of", std::to_string(last), "--site", "v1", "show", "T-hq"});
  for (const char* field : {"history", "live_reports", "notes", "status", "actual_start"}) {
    BOOST_TEST(show[field] == shown_live[field], field);
  }
  // By the events' clocks, both sites' bundles give one board at every moment.
  for (const Moment& m : moments) {
    if (m.site != 0 || m.query != "status") continue;
    const std::string at = std::to_string(MomentOf(m.query, m.live));
    json hq = ReplayJson({"--data", bundles[0], "--as-of", at, "status"});
    json v1 = ReplayJson({"--data", bundles[1], "--as-of", at, "status"});
    BOOST_TEST(hq["replay"]["by"] == "event clocks");
    BOOST_TEST(v1["runbook"]["site"] == "v1");  // Where it was read; the rest is the weekend's.
    for (json* board : {&hq, &v1}) {
      board->erase("replay");
      (*board)["runbook"].erase("site");
    }
    BOOST_TEST(hq == v1, hq.dump(1) << "\n" << v1.dump(1));
  }
  // A person's view names what was replayed; wrong use is refused with exit 2, named.
  const auto text = Audit(
      {"replay", "--data", bundles[1], "--as-of", std::to_string(last), "--site", "v1", "status"});
  BOOST_TEST(text.exit_code == 0, text.err);
  BOOST_TEST(text.out.find("as site v1 saw it") != std::string::npos, text.out);
  BOOST_TEST(text.out.find("Multi-site weekend") != std::string::npos, text.out);
  const auto other =
      Audit({"replay", "--data", bundles[0], "--as-of", "02:10", "--site", "v1", "status"});
  BOOST_TEST(other.exit_code == 2, other.out << other.err);
  BOOST_TEST(other.err.find("site hq's") != std::string::npos, other.err);
  const auto bad_time = Audit({"replay", "--data", bundles[0], "--as-of", "yesterday", "status"});
  BOOST_TEST(bad_time.exit_code == 2, bad_time.out << bad_time.err);
  BOOST_TEST(bad_time.err.find("--as-of") != std::string::npos, bad_time.err);
  const auto no_task =
      Audit({"replay", "--data", bundles[0], "--as-of", std::to_string(last), "show", "T-404"});
  BOOST_TEST(no_task.exit_code == 2, no_task.out << no_task.err);
  BOOST_TEST(no_task.err.find("T-404") != std::string::npos, no_task.err);
}

// ---- Report ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_report_holds_every_task_with_its_planned_and_actual_times) {
  Weekend w({"hq", "v1"}, "");
  w.Link(1, 0);
  w.StartAll();
  json plan = testing::PlanFor(w);
  const auto task = [](const std::string& id, const std::string& phase, const std::string& site,
                       const std::string& kind, json predecessors) {
    return json{{"id", id},
                {"title", "Step " + id + " <&>"},
                {"phase", phase},
                {"team", site == "hq" ? "dba" : "vendor"},
                {"site", site},
                {"kind", kind},
                {"duration_ms", 1800000},
                {"predecessors", std::move(predecessors)}};
  };
  plan["tasks"].push_back(task("G-1", "decide", "hq", "gate", json::array({"T-hq", "T-v1"})));
  plan["tasks"].push_back(task("T-final", "close", "hq", "task", json::array({"G-1"})));
  json backout = task("BO-1", "back-out", "hq", "task", json::array());
  backout["is_backout"] = true;
  plan["tasks"].push_back(backout);
  w.ImportPlan(plan);
  const int64_t start = 1774641600000;  // The plan's window start (testing::PlanFor).
  const auto iso = [](int64_t ms) { return client::FormatIsoTime(ms); };
  w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "start"}, {"at", iso(start + 600000)}});
  w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "done"}, {"at", iso(start + 6000000)}});
  w.Call(0, "report", json{{"task", "T-hq"}, {"kind", "start"}, {"at", iso(start)}});
  w.Call(0, "report", json{{"task", "T-hq"}, {"kind", "done"}, {"at", iso(start + 3600000)}});
  w.Call(0, "gate", json{{"task", "G-1"}, {"decision", "go"}, {"at", iso(start + 6100000)}});
  w.Call(0, "note", json{{"task", "T-final"}, {"text", "hand-over booked"}});
  w.WaitConverged("before the report");

  testing::TempDir dir("report");
  const std::string bundle = dir.str() + "/v1.bundle";
  ExportBundle(w.at(1), bundle);
  const std::string html = dir.str() + "/weekend.html";
  const std::string csv = dir.str() + "/weekend.csv";
  const std::string xlsx = dir.str() + "/weekend.xlsx";
  const auto made =
      Audit({"report", "--data", bundle, "--out", html, "--csv", csv, "--xlsx", xlsx});
  BOOST_TEST_REQUIRE(made.exit_code == 0, made.out << made.err);
  const std::string page = testing::ReadFile(html);
  // Self-contained: no script, no external reference.
  BOOST_TEST(page.rfind("<!DOCTYPE html>", 0) == 0);
  for (const char* banned : {"<script", "http://", "https://", "src=", "<link"}) {
    const std::string text = page;
    const size_t svg_ns = text.find("http://www.w3.org/2000/svg");
    std::string without_ns = text;
    if (svg_ns != std::string::npos) without_ns.erase(svg_ns, 26);
    BOOST_TEST(without_ns.find(banned) == std::string::npos, banned);
  }
  BOOST_TEST(page.find("class=\"intact\"") != std::string::npos);
  // Every task in the chart and the table; its title escaped.
  for (const char* id : {"T-hq", "T-v1", "G-1", "T-final", "BO-1"}) {
    BOOST_TEST(
        page.find("<g class=\"task\" data-task=\"" + std::string(id) + "\"") != std::string::npos,
        id);
    BOOST_TEST(page.find("<tr data-task=\"" + std::string(id) + "\"") != std::string::npos, id);
  }
  BOOST_TEST(page.find("Step G-1 &lt;&amp;&gt;") != std::string::npos);
  BOOST_TEST(page.find("(gate: go)") != std::string::npos);
  BOOST_TEST(page.find("BO-1 (back-out)") != std::string::npos);
  BOOST_TEST(page.find("class=\"backout\"") != std::string::npos);
  BOOST_TEST(page.find("outage window") != std::string::npos);
  // The figures: T-v1 started 10 min after its planned start and took 90 min of its 60.
  const std::string figures = testing::ReadFile(csv);
  BOOST_TEST(figures.rfind("task,title,phase,team,site,kind,", 0) == 0);
  BOOST_TEST(figures.find("T-v1,Work at v1,deploy,ops,v1,task,no,") != std::string::npos, figures);
  BOOST_TEST(figures.find(iso(start + 600000) + "," + iso(start + 6000000) +
                          ",60.0,90.0,10.0,"
                          "30.0,40.0") != std::string::npos,
             figures);
  BOOST_TEST(figures.find("T-hq,Work at hq,deploy,ops,hq,task,no,") != std::string::npos);
  // The page is valid XML where it must be: the SVG parses, every bar where its times say.
  const std::string check = dir.str() + "/check.py";
  std::ofstream(check) << R"PY(
import re, sys, xml.etree.ElementTree as ET
page = open(sys.argv[1], encoding="utf-8").read()
svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
root = ET.fromstring(svg)
ns = "{http://www.w3.org/2000/svg}"
tasks = {g.get("data-task"): g for g in root.iter(ns + "g") if g.get("class") == "task"}
print("tasks", len(tasks))
planned = {k: float(g.find(ns + "rect[@class='planned']").get("x")) for k, g in tasks.items()
           if g.find(ns + "rect[@class='planned']") is not None}
actual = {k: float(g.find(ns + "rect[@class='actual']").get("x")) for k, g in tasks.items()
          if g.find(ns + "rect[@class='actual']") is not None}
assert sorted(tasks) == ["BO-1", "G-1", "T-final", "T-hq", "T-v1"], sorted(tasks)
assert sorted(actual) == ["G-1", "T-hq", "T-v1"] or sorted(actual) == ["T-hq", "T-v1"], actual
assert abs(actual["T-hq"] - planned["T-hq"]) < 0.5, (actual, planned)
assert actual["T-v1"] > planned["T-v1"] + 1, (actual, planned)
assert root.find(ns + "rect[@class='window']") is not None
assert root.find(".//" + ns + "path[@class='gate']") is not None
assert tasks["BO-1"].find(ns + "text[@class='backout']") is not None
print("ok")
)PY";
  const auto parsed = Run("/usr/bin/python3", {check, html});
  BOOST_TEST(parsed.exit_code == 0, parsed.out << parsed.err);
  BOOST_TEST(parsed.out.find("ok") != std::string::npos, parsed.out);

  // The workbook: three sheets; T-v1's row with its times as spreadsheet date-times (UTC) and
  // its figures in minutes.
  const std::string workbook = dir.str() + "/workbook.py";
  std::ofstream(workbook) << R"PY(
import re, sys, zipfile
book = zipfile.ZipFile(sys.argv[1])
names = book.namelist()
wb = book.read("xl/workbook.xml").decode()
assert re.findall(r'<sheet name="([^"]+)"', wb) == ["Tasks", "Teams", "Sites"], wb
shared = re.findall(r"<t[^>]*>([^<]*)</t>", book.read("xl/sharedStrings.xml").decode())
sheet = book.read("xl/worksheets/sheet1.xml").decode()
rows = {}
for row in re.findall(r"<row [^>]*>(.*?)</row>", sheet):
    cells = []
    for kind, value in re.findall(r'<c r="[A-Z]+\d+"(?: s="\d+")?( t="s")?[^>]*><v>([^<]*)</v></c>', row):
        cells.append(shared[int(value)] if kind else float(value))
    if cells and isinstance(cells[0], str):
        rows[cells[0]] = cells
assert set(rows) >= {"Task", "T-hq", "T-v1", "G-1", "T-final", "BO-1"}, sorted(rows)
v1 = rows["T-v1"]
start = 1774641600000 / 86400000 + 25569
assert abs(v1[9] - start) < 1e-6 and abs(v1[11] - (start + 600000 / 86400000)) < 1e-6, v1
assert v1[13:18] == [60.0, 90.0, 10.0, 30.0, 40.0], v1[13:18]
print("ok")
)PY";
  const auto book = Run("/usr/bin/python3", {workbook, xlsx});
  BOOST_TEST(book.exit_code == 0, book.out << book.err);
  BOOST_TEST(book.out.find("ok") != std::string::npos, book.out);

  // Opened in a real browser (Debian's chromium, which the test command installs): a screenshot
  // kept as an artifact; no script error; not blank.
  if (!std::filesystem::exists("/usr/bin/chromium")) {
    BOOST_TEST_MESSAGE("SKIPPED: /usr/bin/chromium is not installed (scripts/test.sh installs it)");
    return;
  }
  std::filesystem::create_directories(BATON_ARTIFACT_DIR);
  const std::string shot = std::string(BATON_ARTIFACT_DIR) + "/report.png";
  std::filesystem::remove(shot);
  const auto browser = testing::RunCommand(
      {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
       "--enable-logging=stderr", "--v=0", "--user-data-dir=" + dir.str() + "/chromium",
       "--screenshot=" + shot, "--window-size=1440,1200", "file://" + html},
      120000);
  BOOST_TEST_REQUIRE(browser.exit_code == 0, browser.out << browser.err);
  for (const char* error : {"Uncaught", "CONSOLE", "SyntaxError", "Refused to"}) {
    BOOST_TEST(browser.err.find(error) == std::string::npos, error << " in:\n" << browser.err);
  }
  BOOST_TEST_REQUIRE(std::filesystem::exists(shot));
  const std::string pixels = dir.str() + "/pixels.py";
  std::ofstream(pixels) << R"PY(
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, width, height, depth, ctype = 8, b"", 0, 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw, stride, prev, rows = zlib.decompress(idat), width * bpp, bytearray(width * bpp), []
for y in range(height):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line))
    prev = line
colours = {row[i:i + 3] for row in rows[::7] for i in range(0, stride, bpp * 5)}
inked = sum(1 for row in rows for i in range(0, stride, bpp * 9) if row[i:i + 3] != b"\xff\xff\xff")
print(width, height, len(colours), "colours", inked, "inked")
assert width == 1440 and len(colours) >= 8 and inked > 2000, "the page rendered blank"
)PY";
  const auto seen = Run("/usr/bin/python3", {pixels, shot});
  BOOST_TEST(seen.exit_code == 0, seen.out << seen.err);
  BOOST_TEST_MESSAGE("report screenshot: " << shot << ": " << seen.out);
}

// ---- Tampering ---------------------------------------------------------------------------------

std::string Frame(char kind, const std::string& body) {
  std::string out(1, kind);
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(body.size() >> shift));
  return out + body;
}

std::string EventBody(const bundle::Event& e) {
  std::string body;
  for (int shift = 56; shift >= 0; shift -= 8)
    body.push_back(static_cast<char>(e.arrival >> shift));
  const auto at = static_cast<uint64_t>(e.arrived_ms);
  for (int shift = 56; shift >= 0; shift -= 8) body.push_back(static_cast<char>(at >> shift));
  return body + e.envelope;
}

// A bundle file from `c` as a forger would write it: a checksum that matches, and a manifest
// whose counts and heads are those of the records unless `lie` changes them afterwards.
std::string Forge(const bundle::Contents& c,
                  const std::function<void(bundle::Manifest*)>& lie = nullptr) {
  std::string bytes(bundle::kMagic, bundle::kMagicSize);
  bytes += Frame('H', bundle::HeaderJson(c.header));
  bundle::Manifest m = c.manifest;
  m.events = c.events.size();
  m.forks = c.forks.size();
  m.heads.clear();
  m.last_arrival = 0;
  for (const bundle::Event& e : c.events) {
    bytes += Frame('E', EventBody(e));
    m.last_arrival = std::max(m.last_arrival, e.arrival);
    auto envelope = crdt::DecodeEnvelope(e.envelope);
    if (!envelope.ok()) continue;
    auto event = crdt::DecodeEvent(envelope->payload);
    if (!event.ok()) continue;
    bundle::Head& head = m.heads[event->origin];
    if (event->seq >= head.seq) head = {event->seq, identity::HashPayload(envelope->payload)};
  }
  for (const std::string& f : c.forks) bytes += Frame('F', f);
  if (lie) lie(&m);
  identity::StateDigestStream checksum;
  checksum.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  m.checksum = checksum.Finish();
  return bytes + Frame('M', bundle::ManifestJson(m));
}

// A one-site weekend's bundle to alter: a plan, reports and notes, each its own signed batch.
struct Evidence {
  testing::TempDir dir{"bundle-evidence"};
  std::string path;
  std::string bytes;
  bundle::Contents contents;

  Evidence(const std::string& runbook, int events_wanted) {
    Site site("hq");
    site.Start();
    auto c = site.Connect();
    BOOST_TEST_REQUIRE(c.Call("plan.import", json{{"plan", testing::TwoTaskPlan(runbook)}}).ok());
    for (int i = 1; i < events_wanted; ++i) {
      auto r = i % 3 == 0
                   ? c.Call("report", json{{"task", "T-1"}, {"kind", i % 2 ? "start" : "reset"}})
                   : c.Call("note", json{{"task", "T-2"}, {"text", "note " + std::to_string(i)}});
      BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
    }
    path = dir.str() + "/hq.bundle";
    ExportBundle(site, path);
    BOOST_TEST_REQUIRE(site.Stop() == 0);
    bytes = testing::ReadFile(path);
    auto read = bundle::Read(path);
    BOOST_TEST_REQUIRE(read.ok(), read.status().ToString());
    contents = std::move(read).value();
    BOOST_TEST_REQUIRE(contents.events.size() == static_cast<size_t>(events_wanted));
  }
};

// Writes `bytes` as a bundle beside the evidence and verifies it (in process).
Result<audit::VerifyReport> VerifyBytes(const Evidence& e, const std::string& bytes) {
  const std::string path = e.dir.str() + "/mutant.bundle";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  audit::VerifyOptions options;
  options.data_dir = path;
  return audit::Verify(options);
}

void ExpectNamed(const Evidence& e, const std::string& bytes, const std::string& kind,
                 const std::string& event, const std::string& what) {
  BOOST_TEST_CONTEXT(what) {
    auto report = VerifyBytes(e, bytes);
    BOOST_TEST_REQUIRE(report.ok(), report.status().ToString());
    BOOST_TEST(!report->intact());
    bool found = false;
    for (const auto& p : report->problems) {
      if (p.kind == kind && (event.empty() || p.event.ToString() == event ||
                             p.message.find(event) != std::string::npos)) {
        found = true;
      }
    }
    BOOST_TEST(found, "no " << kind << " naming " << event << " in:\n"
                            << audit::FormatReport(*report));
  }
}

// The record of event `seq` (hq's events arrive in seq order at a one-site weekend).
size_t IndexOf(const bundle::Contents& c, uint64_t seq) {
  for (size_t i = 0; i < c.events.size(); ++i) {
    auto envelope = crdt::DecodeEnvelope(c.events[i].envelope);
    if (envelope.ok()) {
      auto event = crdt::DecodeEvent(envelope->payload);
      if (event.ok() && event->seq == seq) return i;
    }
  }
  BOOST_FAIL("no event hq/" << seq << " in the bundle");
  return 0;
}

BOOST_AUTO_TEST_CASE(every_kind_of_bundle_tampering_is_named) {
  Evidence e("rb-bundle", 24);
  {
    auto clean = VerifyBytes(e, e.bytes);
    BOOST_TEST_REQUIRE(clean.ok(), clean.status().ToString());
    BOOST_TEST_REQUIRE(clean->intact(), audit::FormatReport(*clean));
    auto forged_clean = VerifyBytes(e, Forge(e.contents));
    BOOST_TEST_REQUIRE(forged_clean.ok());
    BOOST_TEST_REQUIRE(forged_clean->intact(), "the forging helper itself breaks the bundle:\n"
                                                   << audit::FormatReport(*forged_clean));
  }
  const size_t n = e.contents.events.size();
  // Damage the checksum sees: bytes changed, the file cut short, bytes appended.
  {
    std::string bytes = e.bytes;
    bytes[e.bytes.find("note 7") + 5] ^= 0x01;
    ExpectNamed(e, bytes, "bundle_damaged", "checksum", "a note's text changed in place");
    ExpectNamed(e, bytes, "bad_signature", "", "a note's text changed in place");
  }
  ExpectNamed(e, e.bytes.substr(0, e.bytes.size() - 40), "bundle_damaged", "no manifest",
              "cut short");
  ExpectNamed(e, e.bytes + Frame('E', EventBody(e.contents.events[3])), "bundle_damaged",
              "follows the manifest", "a record appended after the manifest");
  {  // A manifest nested 100,000 deep: named, not a crash.
    const size_t manifest = 5 + bundle::ManifestJson(e.contents.manifest).size();
    BOOST_TEST_REQUIRE(e.bytes[e.bytes.size() - manifest] == 'M');
    std::string bytes = e.bytes.substr(0, e.bytes.size() - manifest);
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    bytes += Frame('M', deep);
    ExpectNamed(e, bytes, "bundle_damaged", "manifest", "a manifest nested 100,000 deep");
  }
  // A forger who rewrites the manifest and checksum to match.
  {
    bundle::Contents c = e.contents;
    c.events.erase(c.events.begin() + static_cast<long>(IndexOf(c, 7)));
    ExpectNamed(e, Forge(c), "gap", "hq/7", "a middle event deleted");
  }
  {
    bundle::Contents c = e.contents;
    std::swap(c.events[4], c.events[9]);
    ExpectNamed(e, Forge(c), "arrival_numbering", "", "two records swapped");
  }
  {
    bundle::Contents c = e.contents;
    c.events.insert(c.events.begin() + 6, c.events[5]);
    ExpectNamed(e, Forge(c), "arrival_repeated", "hq/6", "a record repeated");
  }
  {
    bundle::Contents c = e.contents;
    const size_t at = IndexOf(c, 8);
    std::string& envelope = c.events[at].envelope;
    const std::string& donor = c.events[IndexOf(c, 9)].envelope;
    envelope.replace(envelope.size() - 64, 64, donor.substr(donor.size() - 64));
    ExpectNamed(e, Forge(c), "bad_signature", "hq/8", "a signature replaced by another's");
  }
  {
    bundle::Contents c = e.contents;
    const size_t at = IndexOf(c, 10);
    auto envelope = crdt::DecodeEnvelope(c.events[at].envelope);
    BOOST_TEST_REQUIRE(envelope.ok());
    envelope->payload[envelope->payload.size() - 2] ^= 0x01;
    c.forks.push_back(crdt::EncodeEnvelope(*envelope));
    ExpectNamed(e, Forge(c), "fork", "hq/10", "a second hq/10 as fork evidence");
    // The same other hq/10 in place of the original: a signature that does not cover it.
    c.forks.clear();
    c.events[at].envelope = crdt::EncodeEnvelope(*envelope);
    ExpectNamed(e, Forge(c), "bad_signature", "hq/10", "hq/10 replaced by another");
  }
  {
    Evidence other("rb-other", 3);
    bundle::Contents c = e.contents;
    bundle::Event spliced = other.contents.events[2];
    spliced.arrival = n + 1;
    c.events.push_back(spliced);
    ExpectNamed(e, Forge(c), "other_runbook", "hq/3", "an event of another runbook spliced in");
  }
  {
    // An old bundle's events replayed into a new one: a bundle of the first 12 events, then its
    // events appended again to the whole weekend's, numbered on.
    bundle::Contents c = e.contents;
    for (size_t i = 0; i < 12; ++i) {
      bundle::Event replayed = e.contents.events[i];
      replayed.arrival = n + 1 + i;
      c.events.push_back(replayed);
    }
    ExpectNamed(e, Forge(c), "arrival_repeated", "hq/1", "an old bundle's events replayed");
  }
  // A manifest that lies about what the records hold.
  ExpectNamed(e, Forge(e.contents, [&](bundle::Manifest* m) { m->heads["hq"].seq = n + 2; }),
              "bundle_manifest", "hq", "the manifest claims events that are not there");
  ExpectNamed(e, Forge(e.contents, [](bundle::Manifest* m) { m->state_digest[3] ^= 0x01; }),
              "bundle_manifest", "state", "the manifest's state digest changed");
  ExpectNamed(e, Forge(e.contents, [](bundle::Manifest* m) { m->events += 1; }), "bundle_manifest",
              "counts", "the manifest's count changed");
  ExpectNamed(e,
              Forge(e.contents,
                    [](bundle::Manifest* m) {
                      BOOST_TEST_REQUIRE(!m->roster.empty());
                      m->roster[0].public_key[0] ^= 0x01;
                    }),
              "bundle_roster", "hq", "a roster key changed");
}

BOOST_AUTO_TEST_CASE(every_random_bit_flip_in_a_bundle_is_detected) {
  const int mutations = testing::IntArg("--mutations", "BATON_BUNDLE_MUTATIONS", 100);
  Evidence e("rb-flips", 12);
  std::mt19937_64 rng(20261202);
  int detected = 0, unreadable = 0;
  for (int i = 0; i < mutations; ++i) {
    std::string bytes = e.bytes;
    const size_t at = rng() % bytes.size();
    bytes[at] = static_cast<char>(bytes[at] ^ (1u << (rng() % 8)));
    auto report = VerifyBytes(e, bytes);
    if (!report.ok()) {
      ++unreadable;  // Exit 2: the magic or header no longer reads, named with the file.
      BOOST_TEST(report.status().message().find("mutant.bundle") != std::string::npos,
                 report.status().ToString());
      continue;
    }
    BOOST_TEST(!report->intact(),
               "bit flip at byte " << at << " of " << bytes.size() << " went unnoticed");
    if (!report->intact()) ++detected;
  }
  BOOST_TEST_MESSAGE(mutations << " bit flips: " << detected << " named as problems, " << unreadable
                               << " refused as unreadable, " << mutations - detected - unreadable
                               << " unnoticed");
  BOOST_TEST(detected + unreadable == mutations);
}

}  // namespace
}  // namespace baton
