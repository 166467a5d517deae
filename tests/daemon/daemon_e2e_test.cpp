// End to end at one site: a real `batond` process on a temp data directory, driven through the
// client library over ipc. Covers import, reports, queries, bad input that changes nothing,
// kill -9 after an acknowledged report, and a watch that survives a daemon restart.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <thread>
#include <tuple>

#include "client/client.h"
#include "client/protocol.h"
#include "daemon/store/keys.h"
#include "tests/support/doctor.h"
#include "tests/support/process.h"
#include "tests/support/site.h"
#include "tests/support/temp_dir.h"

namespace baton {
namespace {

using nlohmann::json;
using testing::Site;

json SmallPlan() {
  // T-1 -> T-2 -> G-1 (gate) -> T-3, and B-2 backs out T-2. Window of 6 hours from a fixed start.
  const int64_t start = 1774641600000;  // 2026-03-27T20:00:00Z
  const int64_t h = 3600 * 1000;
  json tasks = json::array();
  auto task = [&](std::string id, std::string title, int64_t dur_h, std::vector<std::string> preds,
                  std::string kind = "task", std::string backout = "", bool is_backout = false) {
    json p = json::array();
    for (auto& x : preds) p.push_back({{"task", x}, {"type", "fs"}, {"lag_ms", 0}});
    tasks.push_back({{"id", id},
                     {"title", title},
                     {"phase", "deploy"},
                     {"team", "ops"},
                     {"site", "hq"},
                     {"kind", kind},
                     {"duration_ms", dur_h * h},
                     {"predecessors", p},
                     {"backout_task", backout},
                     {"is_backout", is_backout}});
  };
  task("T-1", "Freeze changes", 1, {});
  task("T-2", "Deploy release", 2, {"T-1"}, "task", "B-2");
  task("G-1", "Go/no-go", 0, {"T-2"}, "gate");
  task("T-3", "Open to users", 1, {"G-1"});
  task("B-2", "Roll back release", 1, {}, "task", "", true);
  return json{{"runbook_id", "rb-test"},        {"name", "Test weekend"},
              {"timezone", "Europe/Berlin"},    {"window_start_ms", start},
              {"window_end_ms", start + 6 * h}, {"sites", json::array()},
              {"teams", json::array({"ops"})},  {"tasks", tasks}};
}

std::string CurrentUser() {
  passwd* pw = getpwuid(getuid());
  return pw != nullptr ? pw->pw_name : "uid:" + std::to_string(getuid());
}

// Appends the cursors of the events pushed to `watcher` until `cursors` holds `want` (at most
// 20 s), reconnecting while the daemon restarts. A renumbered resume (watch "epoch") starts the
// list over, as the events come again from the first.
// `status` once the background scrub has ended a pass or found damage (at most 20 s).
json ScrubbedStatus(client::Client& c) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    auto status = c.Call("status");
    BOOST_TEST_REQUIRE(status.ok(), status.status().ToString());
    const json& integrity = (*status)["integrity"];
    if (integrity["passes"].get<int>() > 0 || integrity["damage"] != "" ||
        std::chrono::steady_clock::now() > deadline) {
      return *status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void DrainCursors(client::Client& watcher, size_t want, std::vector<uint64_t>* cursors) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (cursors->size() < want && std::chrono::steady_clock::now() < deadline) {
    auto push = watcher.NextPush(500);
    if (!push.ok()) {
      watcher.Reconnect().Ignore();  // The daemon may be restarting; retry until the deadline.
      continue;
    }
    if (watcher.TakeRenumbered()) cursors->clear();
    if (push->has_value() && (**push).value("stream", "") == "event") {
      cursors->push_back((**push)["cursor"].get<uint64_t>());
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(single_site)

BOOST_AUTO_TEST_CASE(init_creates_a_private_data_directory_and_identity) {
  Site site("hq");
  struct stat st {};
  BOOST_REQUIRE(stat(site.data().c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0700u);
  bool found_key = false;
  for (const auto& f : std::filesystem::directory_iterator(site.data() + "/identity")) {
    if (f.path().filename() == "site.key") {
      BOOST_REQUIRE(stat(f.path().c_str(), &st) == 0);
      BOOST_TEST((st.st_mode & 0777) == 0600u);
      found_key = true;
    }
  }
  BOOST_TEST(found_key);
  // A second init on the same directory is refused and leaves it intact.
  auto again =
      testing::RunCommand({testing::BatondPath(), "init", "--site", "hq", "--data", site.data()});
  BOOST_TEST(again.exit_code == 2);
  BOOST_TEST(again.err.find("already") != std::string::npos, again.err);
}

BOOST_AUTO_TEST_CASE(a_data_directory_of_another_site_is_refused_with_exit_code_2) {
  Site site("hq");
  site.Start();
  BOOST_REQUIRE(site.Stop() == 0);
  // The operator points the config at another site id: the store still belongs to hq.
  const std::string conf = site.data() + "/batond.conf";
  std::string text;
  {
    std::ifstream in(conf);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t at = text.find("site = hq");
  BOOST_REQUIRE(at != std::string::npos);
  text.replace(at, 9, "site = vendor-de");
  std::ofstream(conf) << text;
  auto run = testing::RunCommand({testing::BatondPath(), "run", "--data", site.data()}, 15000);
  BOOST_TEST(run.exit_code == 2, run.err);
  BOOST_TEST(run.err.find("belongs to site 'hq', not 'vendor-de'") != std::string::npos, run.err);
}

// Whatever is wrong with a data directory, `batond run` exits 2 (docs/operations.md#exit-codes)
// and names the file and the problem.
BOOST_AUTO_TEST_CASE(a_damaged_data_directory_exits_2_naming_the_problem) {
  const auto expect = [](const std::string& what,
                         const std::function<void(const std::string&)>& damage,
                         const std::string& named, const std::vector<std::string>& as = {}) {
    Site site("hq");
    damage(site.data());
    std::vector<std::string> argv = as;
    for (const std::string& a :
         {testing::BatondPath(), std::string("run"), std::string("--data"), site.data()}) {
      argv.push_back(a);
    }
    auto run = testing::RunCommand(argv, 15000);
    BOOST_TEST(run.exit_code == 2, what << ": " << run.err);
    BOOST_TEST(run.err.find(named) != std::string::npos, what << ": " << run.err);
  };
  namespace fs = std::filesystem;
  expect(
      "config is a directory",
      [](const std::string& d) {
        fs::remove(d + "/batond.conf");
        fs::create_directory(d + "/batond.conf");
      },
      "batond.conf: cannot read: not a regular file");
  expect(
      "secret key missing", [](const std::string& d) { fs::remove(d + "/identity/site.key"); },
      "site.key\" is missing");
  expect(
      "secret key not hex",
      [](const std::string& d) { std::ofstream(d + "/identity/site.key") << "zz\n"; },
      "not a hex digit");
  expect(
      "CURRENT lost", [](const std::string& d) { fs::remove(d + "/events/CURRENT"); },
      "is damaged: it holds files but no CURRENT");
  expect(
      "MANIFEST overwritten",
      [](const std::string& d) {
        for (const auto& f : fs::directory_iterator(d + "/events")) {
          if (f.path().filename().string().rfind("MANIFEST-", 0) == 0)
            std::ofstream(f.path()) << "x";
        }
      },
      "is damaged");
  // Not readable by the user batond runs as (root reads everything: run it as nobody).
  if (fs::exists("/usr/bin/setpriv")) {
    expect("not readable", [](const std::string& d) { fs::permissions(d, fs::perms::owner_all); },
           "Permission denied",
           {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  }
}

BOOST_AUTO_TEST_CASE(a_curve_secret_readable_by_others_is_refused) {
  Site site("hq");
  testing::TempDir out("e2e-creds");
  const std::string key = site.data() + "/identity/curve.key";
  const std::string listen = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  auto allow =
      testing::RunCommand({testing::BatondPath(), "allow-client", "--data", site.data(), "--out",
                           (out.path() / "remote.curve").string(), "--listen", listen});
  BOOST_REQUIRE_MESSAGE(allow.exit_code == 0, allow.err);
  BOOST_REQUIRE(chmod(key.c_str(), 0644) == 0);
  auto run = testing::RunCommand({testing::BatondPath(), "run", "--data", site.data()}, 15000);
  BOOST_TEST(run.exit_code == 2, run.err);
  BOOST_TEST(
      run.err.find("curve.key is accessible by group or others (mode 0644): run chmod 600") !=
          std::string::npos,
      run.err);
  // Private again, the same directory serves its tcp clients.
  BOOST_REQUIRE(chmod(key.c_str(), 0600) == 0);
  site.Start();
  BOOST_TEST(site.Stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_data_directory_writable_by_others_is_warned_about) {
  Site site("hq");
  BOOST_REQUIRE(chmod(site.data().c_str(), 0777) == 0);
  site.Start();
  BOOST_TEST(site.Stop() == 0);
  BOOST_TEST(site.Log().find("is writable by group or others (mode 0777)") != std::string::npos,
             site.Log());
  BOOST_TEST(site.Log().find("run chmod 700 " + site.data()) != std::string::npos, site.Log());
}

BOOST_AUTO_TEST_CASE(another_identity_in_the_data_directory_is_refused) {
  Site site("hq");
  site.Start();  // The first run records the identity it runs with.
  BOOST_REQUIRE(site.Stop() == 0);
  // Someone puts another valid identity in its place.
  Site other("hq");
  for (const char* file : {"site.key", "site.pub"}) {
    std::filesystem::copy_file(other.data() + "/identity/" + file,
                               site.data() + "/identity/" + file,
                               std::filesystem::copy_options::overwrite_existing);
  }
  auto run = testing::RunCommand({testing::BatondPath(), "run", "--data", site.data()}, 15000);
  BOOST_TEST(run.exit_code == 2, run.err);
  BOOST_TEST(
      run.err.find("the identity this data directory was first run with") != std::string::npos,
      run.err);
}

BOOST_AUTO_TEST_CASE(import_report_and_query) {
  Site site("hq");
  site.Start();
  auto c = site.Connect();
  auto imported = c.Call("plan.import", json{{"plan", SmallPlan()}});
  BOOST_REQUIRE_MESSAGE(imported.ok(), imported.status().ToString());
  BOOST_TEST((*imported)["tasks"].get<int>() == 5);

  auto ready = c.Call("ready");
  BOOST_REQUIRE(ready.ok());
  BOOST_REQUIRE((*ready)["tasks"].size() == 1u);
  BOOST_TEST((*ready)["tasks"][0]["id"].get<std::string>() == "T-1");

  auto started = c.Call("report", json{{"task", "T-1"}, {"kind", "start"}});
  BOOST_REQUIRE_MESSAGE(started.ok(), started.status().ToString());
  BOOST_TEST((*started)["event"].get<std::string>() == "hq/2");
  BOOST_TEST((*started)["status"].get<std::string>() == "running");
  auto done = c.Call("report", json{{"task", "T-1"}, {"kind", "done"}, {"note", "all frozen"}});
  BOOST_REQUIRE(done.ok());

  auto status = c.Call("status", json{{"digest", true}});
  BOOST_REQUIRE(status.ok());
  BOOST_TEST((*status)["counts"]["done"].get<int>() == 1);
  BOOST_TEST((*status)["counts"]["ready"].get<int>() == 1);  // T-2
  BOOST_TEST((*status)["total"].get<int>() == 4);            // B-2 is back-out only.
  BOOST_TEST((*status)["events"].get<int>() == 3);

  auto task = c.Call("task", json{{"task", "T-1"}});
  BOOST_REQUIRE(task.ok());
  BOOST_TEST((*task)["status"].get<std::string>() == "done");
  BOOST_REQUIRE((*task)["history"].size() >= 2u);
  // The daemon records the OS user of the ipc peer as the actor.
  const std::string actor = (*task)["history"][1]["actor"].get<std::string>();
  BOOST_TEST(actor.find(CurrentUser()) != std::string::npos, actor);

  auto critical = c.Call("critical");
  BOOST_REQUIRE(critical.ok());
  BOOST_TEST((*critical)["tasks"].size() >= 1u);
  auto forecast = c.Call("forecast");
  BOOST_REQUIRE_MESSAGE(forecast.ok(), forecast.status().ToString());
  BOOST_TEST(forecast->contains("backout_now"));
}

BOOST_AUTO_TEST_CASE(bad_requests_are_named_and_change_nothing) {
  Site site("hq");
  site.Start();
  auto c = site.Connect();
  // Before any plan: a report is refused.
  auto early = c.Call("report", json{{"task", "T-1"}, {"kind", "start"}});
  BOOST_REQUIRE(!early.ok());
  BOOST_TEST(early.status().message().find("no plan") != std::string::npos);

  BOOST_REQUIRE(c.Call("plan.import", json{{"plan", SmallPlan()}}).ok());
  auto before = c.Call("status", json{{"digest", true}});
  BOOST_REQUIRE(before.ok());

  auto unknown = c.Call("report", json{{"task", "T-999"}, {"kind", "done"}});
  BOOST_REQUIRE(!unknown.ok());
  BOOST_TEST((unknown.status().code() == StatusCode::kNotFound));
  BOOST_TEST(unknown.status().message().find("T-999") != std::string::npos);

  auto bad_kind = c.Call("report", json{{"task", "T-1"}, {"kind", "finished"}});
  BOOST_REQUIRE(!bad_kind.ok());
  BOOST_TEST(bad_kind.status().message().find("kind") != std::string::npos);

  auto not_gate = c.Call("gate", json{{"task", "T-1"}, {"decision", "go"}});
  BOOST_REQUIRE(!not_gate.ok());

  json other = SmallPlan();
  other["runbook_id"] = "rb-other";
  auto foreign = c.Call("plan.import", json{{"plan", other}});
  BOOST_REQUIRE(!foreign.ok());
  BOOST_TEST(foreign.status().message().find("rb-test") != std::string::npos);

  auto unknown_op = c.Call("launch-missiles");
  BOOST_REQUIRE(!unknown_op.ok());

  auto after = c.Call("status", json{{"digest", true}});
  BOOST_REQUIRE(after.ok());
  BOOST_TEST((*after)["events"] == (*before)["events"]);
  BOOST_TEST((*after)["digest"] == (*before)["digest"]);
}

BOOST_AUTO_TEST_CASE(a_site_add_is_a_plan_definition_of_the_roster_alone) {
  Site site("hq");
  site.Start();
  auto c = site.Connect();
  BOOST_REQUIRE(c.Call("plan.import", json{{"plan", SmallPlan()}}).ok());
  BOOST_REQUIRE(c.Call("report", json{{"task", "T-1"}, {"kind", "start"}}).ok());
  auto before = c.Call("task", json{{"task", "T-1"}});
  BOOST_REQUIRE(before.ok());
  const std::string key(64, 'b');
  auto added = c.Call("site.add", json{{"site", "v1"}, {"name", "Vendor 1"}, {"key", key}});
  BOOST_REQUIRE_MESSAGE(added.ok(), added.status().ToString());
  BOOST_TEST((*added)["event"].get<std::string>() == "hq/3");
  auto exported = c.Export();
  BOOST_REQUIRE(exported.ok());
  const json& event = (*exported)["events"][2];
  BOOST_TEST(event["kind"].get<std::string>() == "plan_defined");
  const json& body = event["body"];
  BOOST_TEST(body["plan"]["tasks"].empty());  // No task listed: none is touched.
  BOOST_TEST(body["plan"]["name"] == SmallPlan()["name"]);
  BOOST_TEST(body["plan"]["window_end_ms"] == SmallPlan()["window_end_ms"]);
  BOOST_TEST(body["supersedes"] == json::array({"hq/1"}));
  BOOST_REQUIRE(body["plan"]["sites"].size() == 2u);
  BOOST_TEST(body["plan"]["sites"][1]["public_key"].get<std::string>() == key);
  auto after = c.Call("task", json{{"task", "T-1"}});
  BOOST_REQUIRE(after.ok());
  BOOST_TEST((*after)["spec"] == (*before)["spec"]);
  BOOST_TEST((*after)["history"] == (*before)["history"]);
  BOOST_TEST((*after)["status"] == (*before)["status"]);
  auto status = c.Call("status");
  BOOST_REQUIRE(status.ok());
  BOOST_TEST((*status)["flags"].get<int>() == 0);
  BOOST_TEST((*status)["total"].get<int>() == 4);
}

BOOST_AUTO_TEST_CASE(plans_with_dependency_cycles_are_refused_on_import_and_amend) {
  Site site("hq");
  site.Start();
  auto c = site.Connect();
  json cyclic = SmallPlan();
  cyclic["tasks"][0]["predecessors"] = json::array({{{"task", "T-3"}, {"type", "fs"}}});
  auto refused = c.Call("plan.import", json{{"plan", cyclic}});
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.status().message().find("cycle") != std::string::npos,
             refused.status().message());

  BOOST_REQUIRE(c.Call("plan.import", json{{"plan", SmallPlan()}}).ok());
  const json before = *c.Call("status", json{{"digest", true}});
  // T-1 after T-3 closes a loop T-1 -> T-2 -> G-1 -> T-3 -> T-1 through existing tasks.
  json change = {{"task", "T-1"},
                 {"predecessors", json::array({{{"task", "T-3"}, {"type", "fs"}}})}};
  auto amended = c.Call("plan.amend", json{{"task_change", json::array({change})}});
  BOOST_REQUIRE(!amended.ok());
  BOOST_TEST(amended.status().message().find("cycle") != std::string::npos,
             amended.status().message());
  BOOST_TEST((*c.Call("status", json{{"digest", true}}))["events"] == before["events"]);

  // A valid amendment: a new task after T-3, and a longer T-2.
  json add = SmallPlan()["tasks"][3];
  add["id"] = "T-4";
  add["predecessors"] = json::array({{{"task", "T-3"}, {"type", "fs"}}});
  auto ok =
      c.Call("plan.amend",
             json{{"task_add", json::array({add})},
                  {"task_change", json::array({{{"task", "T-2"}, {"duration_ms", 10800000}}})}});
  BOOST_REQUIRE_MESSAGE(ok.ok(), ok.status().ToString());
  auto t4 = c.Call("task", json{{"task", "T-4"}});
  BOOST_REQUIRE(t4.ok());
  auto t2 = c.Call("task", json{{"task", "T-2"}});
  BOOST_TEST((*t2)["duration_ms"].get<int64_t>() == 10800000);
}

BOOST_AUTO_TEST_CASE(acknowledged_report_survives_kill_9) {
  Site site("hq");
  site.Start();
  std::string digest;
  {
    auto c = site.Connect();
    BOOST_REQUIRE(c.Call("plan.import", json{{"plan", SmallPlan()}}).ok());
    auto r = c.Call("report", json{{"task", "T-1"}, {"kind", "start"}});
    BOOST_REQUIRE(r.ok());
    auto r2 = c.Call("report", json{{"task", "T-1"}, {"kind", "done"}});
    BOOST_REQUIRE(r2.ok());
    digest = (*c.Call("status", json{{"digest", true}}))["digest"].get<std::string>();
  }
  site.Kill9();
  site.Start();
  auto c = site.Connect();
  auto task = c.Call("task", json{{"task", "T-1"}});
  BOOST_REQUIRE(task.ok());
  BOOST_TEST((*task)["status"].get<std::string>() == "done");
  auto status = c.Call("status", json{{"digest", true}});
  BOOST_TEST((*status)["events"].get<int>() == 3);
  BOOST_TEST((*status)["digest"].get<std::string>() == digest);
  // The chain continues after the restart.
  auto more = c.Call("report", json{{"task", "T-2"}, {"kind", "start"}});
  BOOST_REQUIRE_MESSAGE(more.ok(), more.status().ToString());
  BOOST_TEST((*more)["event"].get<std::string>() == "hq/4");
}

// A log altered while batond was stopped is never served: export and watch check each event
// against what was stored (hash, id, chain link, arrival numbering) and name what is wrong.
BOOST_AUTO_TEST_CASE(an_altered_log_is_not_served_by_export_or_watch) {
  const auto fresh_site = [](Site& site) {
    site.Start();
    auto c = site.Connect();
    BOOST_REQUIRE(c.Call("plan.import", json{{"plan", SmallPlan()}}).ok());
    for (const char* text : {"first note", "untampered", "third note"}) {
      BOOST_REQUIRE(c.Call("note", json{{"task", "T-1"}, {"text", text}}).ok());
    }
    BOOST_REQUIRE(c.Export().ok());
    // After a restart, the background scrub goes over the intact log and finds nothing.
    BOOST_REQUIRE_EQUAL(site.Stop(), 0);
    site.Start();
    c = site.Connect();
    const json integrity = ScrubbedStatus(c)["integrity"];
    BOOST_TEST(integrity["damage"] == "");
    BOOST_TEST(integrity["last_pass_events"].get<int>() == 4);
    BOOST_REQUIRE_EQUAL(site.Stop(), 0);
  };
  const auto expect_refused = [](Site& site, const std::string& what) {
    site.Start();
    auto c = site.Connect();
    // Found by the scrub with no one reading the events, shown on the board.
    const std::string damage = ScrubbedStatus(c)["integrity"]["damage"];
    BOOST_TEST(damage.find(what) != std::string::npos, damage);
    auto board = testing::RunCommand({testing::BatonPath(), "--data", site.data(), "status"});
    BOOST_TEST(board.out.find("Integrity the log is damaged: ") != std::string::npos, board.out);
    auto exported = c.Export();
    BOOST_TEST_REQUIRE(!exported.ok(), "an altered log was exported");
    BOOST_TEST((exported.status().code() == StatusCode::kCorruption));
    BOOST_TEST(exported.status().message().find(what) != std::string::npos,
               exported.status().message());
    auto watcher = site.Connect();
    BOOST_REQUIRE(watcher.StartWatch(0).ok());
    Status ended;
    for (int i = 0; i < 20 && ended.ok(); ++i) {
      auto push = watcher.NextPush(500);
      if (!push.ok()) ended = push.status();
    }
    BOOST_TEST((ended.code() == StatusCode::kCorruption), ended.ToString());
    BOOST_TEST(ended.message().find(what) != std::string::npos, ended.message());
    // The live board says so and stops, instead of reconnecting for ever.
    board = testing::RunCommand(
        {testing::BatonPath(), "--data", site.data(), "--no-color", "watch", "--no-clear"}, 20000);
    BOOST_TEST(board.exit_code != 0);
    BOOST_TEST(board.err.find(what) != std::string::npos, board.err);
  };
  {
    // One note's text edited in place: the payload no longer has its stored hash.
    Site site("hq");
    fresh_site(site);
    const auto events = std::filesystem::path(site.data()) / "events";
    std::vector<std::pair<std::string, std::string>> edited;
    for (auto [key, value] : testing::DoctorRead(events, store::kEventsFamily)) {
      const size_t at = value.find("untampered");
      if (at == std::string::npos) continue;
      value.replace(at, 10, "tampered!!");
      edited.emplace_back(key, value);
    }
    BOOST_REQUIRE_EQUAL(edited.size(), 1u);
    testing::Doctor(events, store::kEventsFamily, edited);
    expect_refused(site,
                   "(hq/3) in " + events.string() + ": the payload's hash is not the stored hash");
  }
  {
    // An arrival entry deleted: the event would silently vanish from the export.
    Site site("hq");
    fresh_site(site);
    const auto events = std::filesystem::path(site.data()) / "events";
    testing::Doctor(events, store::kArrivalsFamily, {}, {store::ArrivalKey(2)});
    expect_refused(site, "the arrival index jumps from 1 to 3 (an entry is missing)");
  }
  {
    // One event's stored value replaced by another's: a duplicate and a hole.
    Site site("hq");
    fresh_site(site);
    const auto events = std::filesystem::path(site.data()) / "events";
    const auto stored = testing::DoctorRead(events, store::kEventsFamily);
    std::string key2, value3;
    for (const auto& [key, value] : stored) {
      if (key == store::EventKey("hq", 2)) key2 = key;
      if (key == store::EventKey("hq", 3)) value3 = value;
    }
    BOOST_REQUIRE(!key2.empty() && !value3.empty());
    testing::Doctor(events, store::kEventsFamily, {{key2, value3}});
    // Here batond does not even start: folding the log finds the hole.
    auto run = testing::RunCommand({testing::BatondPath(), "run", "--data", site.data()});
    BOOST_TEST(run.exit_code != 0);
    BOOST_TEST(run.err.find("at hq/2: event hq/3") != std::string::npos, run.err);
  }
}

BOOST_AUTO_TEST_CASE(restart_from_a_snapshot_gives_the_same_state_as_a_full_fold) {
  Site site("hq");
  // Snapshots at events 3 and 6; event 7 comes from the log.
  testing::SetConfigKey(site.data() + "/batond.conf", "snapshot_every", "3");
  site.Start();
  std::string digest;
  {
    auto c = site.Connect();
    BOOST_REQUIRE(c.Call("plan.import", json{{"plan", SmallPlan()}}).ok());
    for (const char* task : {"T-1", "T-2"}) {  // In the plan's order: T-2 follows T-1.
      BOOST_REQUIRE(c.Call("report", json{{"task", task}, {"kind", "start"}}).ok());
      BOOST_REQUIRE(c.Call("report", json{{"task", task}, {"kind", "done"}}).ok());
    }
    BOOST_REQUIRE(c.Call("note", json{{"task", "T-3"}, {"text", "after the snapshot"}}).ok());
    BOOST_REQUIRE(c.Call("gate", json{{"task", "G-1"}, {"decision", "go"}}).ok());
    digest = (*c.Call("status", json{{"digest", true}}))["digest"].get<std::string>();
  }
  BOOST_TEST(site.Stop() == 0);
  site.Start();
  auto c = site.Connect();
  auto status = c.Call("status", json{{"digest", true}});
  BOOST_REQUIRE(status.ok());
  BOOST_TEST((*status)["digest"].get<std::string>() == digest);
  BOOST_TEST((*status)["events"].get<int>() == 7);
  auto t3 = c.Call("task", json{{"task", "T-3"}});
  BOOST_REQUIRE(t3.ok());
  BOOST_TEST((*t3)["notes"].size() == 1u);
}

BOOST_AUTO_TEST_CASE(repair_rebuilds_the_index_and_keeps_the_state) {
  Site site("hq");
  site.Start();
  std::string digest;
  {
    auto c = site.Connect();
    BOOST_REQUIRE(c.Call("plan.import", json{{"plan", SmallPlan()}}).ok());
    BOOST_REQUIRE(c.Call("report", json{{"task", "T-1"}, {"kind", "start"}}).ok());
    BOOST_REQUIRE(c.Call("report", json{{"task", "T-1"}, {"kind", "done"}}).ok());
    digest = (*c.Call("status", json{{"digest", true}}))["digest"].get<std::string>();
  }
  // While batond holds the directory, repair refuses and says why.
  auto busy = testing::RunCommand({testing::BatondPath(), "repair", "--data", site.data()});
  BOOST_TEST(busy.exit_code == 2, busy.err);
  BOOST_TEST(busy.err.find("stop it first") != std::string::npos, busy.err);
  BOOST_TEST(site.Stop() == 0);

  auto repaired = testing::RunCommand({testing::BatondPath(), "repair", "--data", site.data()});
  BOOST_TEST(repaired.exit_code == 0, repaired.err);
  BOOST_TEST(repaired.out.find("from its 3 events: hq 3") != std::string::npos, repaired.out);
  BOOST_TEST(repaired.out.find("was 3, now 3") != std::string::npos, repaired.out);
  BOOST_TEST(repaired.out.find("arrival index kept") != std::string::npos, repaired.out);
  site.Start();
  auto c = site.Connect();
  auto status = c.Call("status", json{{"digest", true}});
  BOOST_REQUIRE(status.ok());
  BOOST_TEST((*status)["digest"].get<std::string>() == digest);
  BOOST_REQUIRE(c.Call("report", json{{"task", "T-2"}, {"kind", "start"}}).ok());
}

// `batond repair` takes every hash from the payloads: a damaged chain head is rebuilt from them
// (and the next event links to the real hash), a damaged stored hash is refused, not adopted.
BOOST_AUTO_TEST_CASE(repair_recomputes_hashes_from_the_payloads) {
  Site site("hq");
  site.Start();
  {
    auto c = site.Connect();
    BOOST_REQUIRE(c.Call("plan.import", json{{"plan", SmallPlan()}}).ok());
    BOOST_REQUIRE(c.Call("report", json{{"task", "T-1"}, {"kind", "start"}}).ok());
  }
  BOOST_REQUIRE_EQUAL(site.Stop(), 0);
  const auto events = std::filesystem::path(site.data()) / "events";
  constexpr size_t kHashAt = 1 + 32;  // Event values: format, prev_hash, hash, envelope.
  const auto flip_byte = [](std::string value, size_t at) {
    value[at] = static_cast<char>(value[at] ^ 0x01);
    return value;
  };

  // One byte of the chain head in meta: run refuses, repair rebuilds it from the payloads.
  for (const auto& [key, value] : testing::DoctorRead(events, store::kMetaFamily)) {
    if (key == store::HeadKey("hq")) {
      testing::Doctor(events, store::kMetaFamily, {{key, flip_byte(value, value.size() - 1)}});
    }
  }
  BOOST_TEST(testing::RunCommand({testing::BatondPath(), "run", "--data", site.data()}).exit_code ==
             2);
  auto repaired = testing::RunCommand({testing::BatondPath(), "repair", "--data", site.data()});
  BOOST_TEST_REQUIRE(repaired.exit_code == 0, repaired.err);
  site.Start();
  {
    auto c = site.Connect();
    BOOST_REQUIRE(c.Call("report", json{{"task", "T-1"}, {"kind", "done"}}).ok());
    auto exported = c.Export();  // Served only if hq/3 links to hq/2's real hash.
    BOOST_TEST_REQUIRE(exported.ok(), exported.status().ToString());
  }
  BOOST_REQUIRE_EQUAL(site.Stop(), 0);

  // One byte of the last event's stored hash: the payload says otherwise, so repair refuses
  // (before, it adopted the bad hash and the next event was signed with a wrong prev_hash).
  std::string key3, value3;
  for (const auto& [key, value] : testing::DoctorRead(events, store::kEventsFamily)) {
    if (key == store::EventKey("hq", 3)) std::tie(key3, value3) = std::tie(key, value);
  }
  BOOST_REQUIRE(!key3.empty());
  testing::Doctor(events, store::kEventsFamily, {{key3, flip_byte(value3, kHashAt + 5)}});
  auto refused = testing::RunCommand({testing::BatondPath(), "repair", "--data", site.data()});
  BOOST_TEST(refused.exit_code == 2, refused.out + refused.err);
  BOOST_TEST(refused.err.find("event hq/3: its stored hash is not the hash of its payload") !=
                 std::string::npos,
             refused.err);
  // Nothing was written: with the value put back, the directory serves as before.
  testing::Doctor(events, store::kEventsFamily, {{key3, value3}});
  site.Start();
  auto c = site.Connect();
  BOOST_TEST((*c.Call("status"))["events"].get<int>() == 3);
  BOOST_TEST(c.Export().ok());
}

BOOST_AUTO_TEST_CASE(a_watch_resumed_after_a_renumbering_repair_starts_over) {
  Site site("hq");
  site.Start();
  auto reporter = site.Connect();
  BOOST_REQUIRE(reporter.Call("plan.import", json{{"plan", SmallPlan()}}).ok());
  BOOST_REQUIRE(reporter.Call("report", json{{"task", "T-1"}, {"kind", "start"}}).ok());
  auto watcher = site.Connect();
  BOOST_REQUIRE(watcher.StartWatch(0).ok());
  std::vector<uint64_t> cursors;
  auto drain = [&](size_t want) { DrainCursors(watcher, want, &cursors); };
  drain(2);
  BOOST_REQUIRE_EQUAL(cursors.size(), 2u);
  BOOST_TEST(!watcher.TakeRenumbered());

  // The arrival index is lost; repair rebuilds it, and with it a new numbering.
  BOOST_TEST(site.Stop() == 0);
  testing::Doctor(std::filesystem::path(site.data()) / "events", store::kArrivalsFamily, {}, {},
                  /*clear=*/true);
  auto repaired = testing::RunCommand({testing::BatondPath(), "repair", "--data", site.data()});
  BOOST_REQUIRE_MESSAGE(repaired.exit_code == 0, repaired.err);
  BOOST_TEST(repaired.out.find("arrival index rebuilt") != std::string::npos, repaired.out);
  site.Start();
  auto reporter2 = site.Connect();
  BOOST_REQUIRE(reporter2.Call("report", json{{"task", "T-1"}, {"kind", "done"}}).ok());
  // The watcher resumes with its old cursor and numbering: it is told, and gets every event of
  // the new numbering from the first, once.
  drain(3);
  BOOST_REQUIRE_EQUAL(cursors.size(), 3u);
  for (size_t i = 0; i < cursors.size(); ++i) BOOST_TEST(cursors[i] == i + 1);
}

BOOST_AUTO_TEST_CASE(watch_resumes_after_a_daemon_restart_without_gaps_or_duplicates) {
  Site site("hq");
  site.Start();
  auto reporter = site.Connect();
  BOOST_REQUIRE(reporter.Call("plan.import", json{{"plan", SmallPlan()}}).ok());
  auto watcher = site.Connect();
  BOOST_REQUIRE(watcher.StartWatch(0).ok());

  std::vector<uint64_t> cursors;
  auto drain = [&](size_t want) { DrainCursors(watcher, want, &cursors); };
  drain(1);
  BOOST_REQUIRE(reporter.Call("report", json{{"task", "T-1"}, {"kind", "start"}}).ok());
  drain(2);
  BOOST_REQUIRE_EQUAL(cursors.size(), 2u);

  BOOST_TEST(site.Stop() == 0);  // SIGTERM: a clean stop.
  site.Start();
  auto reporter2 = site.Connect();
  BOOST_REQUIRE(reporter2.Call("report", json{{"task", "T-1"}, {"kind", "done"}}).ok());
  BOOST_REQUIRE(
      reporter2.Call("note", json{{"task", "T-2"}, {"text", "vendor on the bridge"}}).ok());
  drain(4);
  BOOST_REQUIRE_EQUAL(cursors.size(), 4u);
  for (size_t i = 0; i < cursors.size(); ++i) BOOST_TEST(cursors[i] == i + 1);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace baton
