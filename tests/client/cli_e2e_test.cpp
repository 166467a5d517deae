// The `baton` CLI end to end: the real binary against a real batond (tests/support/site.h).
// Import of the example plan, a bad plan that is refused whole, reports and queries with their
// exit codes, the live board, and the daemon being absent.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/site.h"
#include "tests/support/temp_dir.h"

namespace baton {
namespace {

using nlohmann::json;
using testing::CommandResult;
using testing::RunCommand;
using testing::Site;

CommandResult Baton(const Site& site, std::vector<std::string> args) {
  std::vector<std::string> argv{testing::BatonPath(), "--data", site.data()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, 30000, {"NO_COLOR=1"});
}

std::vector<std::string> ImportExample() {
  return {"plan",
          "import",
          BATON_SOURCE_DIR "/examples/cutover-plan.csv",
          "--tz",
          "Europe/Berlin",
          "--window-start",
          "2026-03-27 20:00",
          "--window-end",
          "2026-03-30 06:00"};
}

// A loopback port that was free a moment ago.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string TrimmedFile(const std::string& path) {
  std::string text = ReadFile(path);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The words of the `baton site add ...` line that `batond init` printed in `out`, or {}.
std::vector<std::string> EnrolCommand(const std::string& out) {
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t at = line.find("baton site add ");
    if (at == std::string::npos) continue;
    std::istringstream words(line.substr(at));
    std::vector<std::string> argv;
    for (std::string w; words >> w;) argv.push_back(w);
    return argv;
  }
  return {};
}

// What a site add must leave alone: each task's id, title, site, team, duration and status.
std::string TaskFacts(const Site& site) {
  auto listed = Baton(site, {"ls", "--json"});
  BOOST_REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  std::string facts;
  const json tasks = json::parse(listed.out)["tasks"];
  for (const auto& row : tasks) {
    facts += row["id"].dump() + row["title"].dump() + row["site"].dump() + row["team"].dump() +
             row["duration_ms"].dump() + row["status"].dump() + "\n";
  }
  return facts;
}

// Imports `csv` (written to a file in `dir`) at `site`, with the window start and `extra`.
void ImportCsv(const Site& site, const testing::TempDir& dir, const std::string& csv,
               std::vector<std::string> extra = {}) {
  const std::string path = (dir / "plan.csv").string();
  std::ofstream(path) << csv;
  std::vector<std::string> args{"plan", "import", path, "--window-start", "2026-03-27 20:00"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto imported = Baton(site, args);
  BOOST_REQUIRE_MESSAGE(imported.exit_code == 0, imported.err);
}

// The ids `baton ready` lists.
std::vector<std::string> ReadyIds(const Site& site) {
  auto r = Baton(site, {"ready", "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::vector<std::string> ids;
  const json rows = json::parse(r.out)["tasks"];
  for (const auto& t : rows) ids.push_back(t["id"].get<std::string>());
  return ids;
}

json StatusJson(const Site& site) {
  auto st = Baton(site, {"status", "--json"});
  BOOST_REQUIRE_MESSAGE(st.exit_code == 0, st.err);
  return json::parse(st.out);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_end_to_end)

BOOST_AUTO_TEST_CASE(a_site_trusting_another_manager_does_not_import_the_plan) {
  Site hq("hq");
  const std::string hq_key = TrimmedFile(hq.data() + "/identity/site.pub");
  Site v1("v1", {"--role", "site", "--trust", "hq:" + hq_key});
  BOOST_TEST(ReadFile(v1.data() + "/batond.conf").find("trust = hq:" + hq_key) !=
             std::string::npos);
  v1.Start();
  auto refused = Baton(v1, ImportExample());
  BOOST_TEST(refused.exit_code == 3, refused.err);
  BOOST_TEST(refused.err.find("site v1 does not import the plan: the runbook comes from the "
                              "manager site \"hq\" over replication (peers in batond.conf); to "
                              "amend it, ask a manager") != std::string::npos,
             refused.err);
  auto status = Baton(v1, {"status", "--json"});
  BOOST_REQUIRE_MESSAGE(status.exit_code == 0, status.err);
  BOOST_TEST(json::parse(status.out)["events"].get<int>() == 0);  // Nothing was recorded.
  auto roster = Baton(v1, {"site", "ls"});
  BOOST_REQUIRE_MESSAGE(roster.exit_code == 0, roster.err);
  BOOST_TEST(roster.out.find("Trust anchor  hq") != std::string::npos, roster.out);
  BOOST_TEST(roster.out.find("No roster yet at site v1") != std::string::npos, roster.out);
  auto add = Baton(v1, {"site", "add", "v2", "--key", hq_key});
  BOOST_TEST(add.exit_code == 3, add.err);  // No roster in force here yet.
  // Without --trust, a site (not a manager) is not created at all.
  testing::TempDir dir("baton-trust");
  auto untrusting = RunCommand({testing::BatondPath(), "init", "--site", "v3", "--role", "site",
                                "--data", dir.str() + "/v3"});
  BOOST_TEST(untrusting.exit_code == 1);
  BOOST_TEST(untrusting.err.find("needs --trust SITE:KEY") != std::string::npos, untrusting.err);
  BOOST_TEST(!std::filesystem::exists(dir.str() + "/v3"));
}

BOOST_AUTO_TEST_CASE(the_manager_enrols_lists_and_removes_a_site) {
  Site hq("hq");
  const std::string hq_key = TrimmedFile(hq.data() + "/identity/site.pub");
  BOOST_TEST(ReadFile(hq.data() + "/batond.conf").find("trust = hq:" + hq_key) !=
             std::string::npos);
  hq.Start();
  BOOST_REQUIRE(Baton(hq, ImportExample()).exit_code == 0);
  BOOST_REQUIRE(Baton(hq, {"start", "T-001"}).exit_code == 0);
  const std::string facts = TaskFacts(hq);

  // The new site's init prints the line the manager runs; the manager runs it as printed.
  testing::TempDir dir("baton-enrol");
  auto init = RunCommand({testing::BatondPath(), "init", "--site", "v2", "--role", "site",
                          "--trust", "hq:" + hq_key, "--peer-listen", "tcp://127.0.0.1:7199",
                          "--peer", "hq=tcp://127.0.0.1:7101", "--data", dir.str() + "/v2"});
  BOOST_REQUIRE_MESSAGE(init.exit_code == 0, init.err);
  const std::string v2_key = TrimmedFile(dir.str() + "/v2/identity/site.pub");
  BOOST_TEST(init.out.find("public key   " + v2_key) != std::string::npos, init.out);
  BOOST_TEST(ReadFile(dir.str() + "/v2/batond.conf").find("peer = hq tcp://127.0.0.1:7101") !=
             std::string::npos);
  std::vector<std::string> enrol = EnrolCommand(init.out);
  BOOST_REQUIRE_MESSAGE(enrol.size() > 3, init.out);
  BOOST_TEST((enrol == std::vector<std::string>{"baton", "site", "add", "v2", "--key", v2_key,
                                                "--endpoint", "tcp://127.0.0.1:7199"}));
  auto added = Baton(hq, std::vector<std::string>(enrol.begin() + 1, enrol.end()));
  BOOST_REQUIRE_MESSAGE(added.exit_code == 0, added.err);
  BOOST_TEST(added.out.find("site v2 added as site (event hq/3)") != std::string::npos, added.out);

  auto listed = Baton(hq, {"site", "ls", "--json"});
  BOOST_REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  const json roster = json::parse(listed.out);
  std::map<std::string, json> by_id;
  for (const auto& s : roster["sites"]) by_id[s["id"].get<std::string>()] = s;
  BOOST_REQUIRE(by_id.count("v2") == 1u);
  BOOST_TEST(by_id["v2"]["key"].get<std::string>() == v2_key);
  BOOST_TEST(by_id["v2"]["endpoint"].get<std::string>() == "tcp://127.0.0.1:7199");
  BOOST_TEST(by_id["v2"]["role"].get<std::string>() == "site");
  BOOST_TEST(by_id["hq"]["role"].get<std::string>() == "manager");
  BOOST_TEST(by_id["hq"]["key"].get<std::string>() == hq_key);
  BOOST_TEST(by_id["hq"]["anchor"].get<bool>());
  BOOST_TEST(by_id["dc-east"]["key"].get<std::string>().empty());  // Listed by the plan only.
  auto text = Baton(hq, {"site", "ls"});
  BOOST_TEST(text.out.find(v2_key.substr(0, 16) + "…") != std::string::npos, text.out);

  // The roster changed; the tasks did not (no new listing in a task's history either).
  BOOST_TEST(TaskFacts(hq) == facts);
  auto shown = Baton(hq, {"show", "T-002", "--json"});
  BOOST_REQUIRE(shown.exit_code == 0);
  BOOST_TEST(json::parse(shown.out)["history"].size() == 1u, shown.out);

  // A site the plan lists without a key is enrolled in place; an enrolled one is refused.
  auto dc = RunCommand({testing::BatondPath(), "init", "--site", "dc-east", "--role", "site",
                        "--trust", "hq:" + hq_key, "--data", dir.str() + "/dc-east"});
  BOOST_REQUIRE_MESSAGE(dc.exit_code == 0, dc.err);
  std::vector<std::string> dc_enrol = EnrolCommand(dc.out);
  BOOST_REQUIRE(dc_enrol.size() == 6u);
  // With the DBA team: dc-east reports on the team's tasks wherever they run.
  dc_enrol.insert(dc_enrol.end(), {"--team", "dba", "--team", "sysadmin"});
  auto enrolled = Baton(hq, std::vector<std::string>(dc_enrol.begin() + 1, dc_enrol.end()));
  BOOST_TEST(enrolled.exit_code == 0, enrolled.err);
  BOOST_TEST(enrolled.out.find("site dc-east enrolled as site") != std::string::npos, enrolled.out);
  const json with_teams = json::parse(Baton(hq, {"site", "ls", "--json"}).out);
  for (const auto& s : with_teams["sites"]) {
    BOOST_TEST(
        s["teams"] == (s["id"] == "dc-east" ? json::array({"dba", "sysadmin"}) : json::array()),
        s.dump());
  }
  BOOST_TEST(Baton(hq, {"site", "ls"}).out.find("dba, sysadmin") != std::string::npos);
  auto again = Baton(hq, std::vector<std::string>(enrol.begin() + 1, enrol.end()));
  BOOST_TEST(again.exit_code == 3);
  BOOST_TEST(again.err.find("already on the roster") != std::string::npos, again.err);
  BOOST_TEST(again.err.find("use `baton site edit v2`") != std::string::npos, again.err);

  // Edited in place: teams replaced, then cleared; the role; its key stays.
  const auto site_json = [&](const std::string& id) {
    const json all = json::parse(Baton(hq, {"site", "ls", "--json"}).out);
    for (const auto& s : all["sites"]) {
      if (s["id"] == id) return s;
    }
    return json();
  };
  auto edited = Baton(hq, {"site", "edit", "dc-east", "--team", "storage", "--name", "DC East"});
  BOOST_REQUIRE_MESSAGE(edited.exit_code == 0, edited.err);
  BOOST_TEST(
      edited.out.find("site dc-east now site, teams storage (event hq/") != std::string::npos,
      edited.out);
  json dc_now = site_json("dc-east");
  BOOST_TEST(dc_now["teams"] == json::array({"storage"}), dc_now.dump());
  BOOST_TEST(dc_now["name"] == "DC East");
  BOOST_TEST(dc_now["key"] == TrimmedFile(dir.str() + "/dc-east/identity/site.pub"));
  BOOST_REQUIRE(
      Baton(hq, {"site", "edit", "dc-east", "--no-teams", "--role", "observer"}).exit_code == 0);
  dc_now = site_json("dc-east");
  BOOST_TEST(dc_now["teams"] == json::array(), dc_now.dump());
  BOOST_TEST(dc_now["role"] == "observer");
  const int events_now = json::parse(Baton(hq, {"status", "--json"}).out)["events"];
  auto same = Baton(hq, {"site", "edit", "dc-east", "--role", "observer"});
  BOOST_TEST(same.exit_code == 1);
  BOOST_TEST(same.err.find("already has that name, role, endpoint and teams") != std::string::npos,
             same.err);
  auto demote_anchor = Baton(hq, {"site", "edit", "hq", "--role", "site"});
  BOOST_TEST(demote_anchor.exit_code == 3);
  BOOST_TEST(demote_anchor.err.find("is the trust anchor: it stays a manager") != std::string::npos,
             demote_anchor.err);
  auto nothing = Baton(hq, {"site", "edit", "dc-east"});
  BOOST_TEST(nothing.exit_code == 1);
  BOOST_TEST(nothing.err.find("nothing to change") != std::string::npos, nothing.err);
  auto stranger = Baton(hq, {"site", "edit", "nowhere", "--role", "site"});
  BOOST_TEST(stranger.exit_code == 3);
  BOOST_TEST(stranger.err.find("is not on the roster") != std::string::npos, stranger.err);
  auto bad_endpoint = Baton(hq, {"site", "edit", "dc-east", "--endpoint", "udp://x"});
  BOOST_TEST(bad_endpoint.exit_code == 1);
  BOOST_TEST(bad_endpoint.err.find("is not a peer endpoint") != std::string::npos,
             bad_endpoint.err);
  BOOST_TEST(json::parse(Baton(hq, {"status", "--json"}).out)["events"] == events_now);
  auto bad_key = Baton(hq, {"site", "add", "v3", "--key", "abcd"});
  BOOST_TEST(bad_key.exit_code == 1);
  BOOST_TEST(bad_key.err.find("field \"key\": expected the site's Ed25519 public key as 64 hex "
                              "digits") != std::string::npos,
             bad_key.err);
  auto bad_id = Baton(hq, {"site", "add", "v/3", "--key", v2_key});
  BOOST_TEST(bad_id.exit_code == 1);
  BOOST_TEST(bad_id.err.find("field \"site\"") != std::string::npos, bad_id.err);

  auto anchor = Baton(hq, {"site", "remove", "hq"});
  BOOST_TEST(anchor.exit_code == 3);
  BOOST_TEST(anchor.err.find("trust anchor") != std::string::npos, anchor.err);
  auto removed = Baton(hq, {"site", "remove", "v2"});
  BOOST_REQUIRE_MESSAGE(removed.exit_code == 0, removed.err);
  BOOST_TEST(removed.out.find("site v2 removed from the roster (event hq/") != std::string::npos,
             removed.out);
  auto after = Baton(hq, {"site", "ls", "--json"});
  BOOST_REQUIRE(after.exit_code == 0);
  const json left = json::parse(after.out)["sites"];
  for (const auto& s : left) {
    BOOST_TEST(s["id"].get<std::string>() != "v2");
  }
  auto gone = Baton(hq, {"site", "rm", "v2"});
  BOOST_TEST(gone.exit_code == 3);
  BOOST_TEST(gone.err.find("is not on the roster") != std::string::npos, gone.err);
  auto dc_removed = Baton(hq, {"site", "remove", "dc-east"});
  BOOST_REQUIRE(dc_removed.exit_code == 0);
  BOOST_TEST(dc_removed.err.find("task(s) are still assigned to dc-east") != std::string::npos,
             dc_removed.err);
  BOOST_TEST(TaskFacts(hq) == facts);
}

BOOST_AUTO_TEST_CASE(remote_clients_use_tcp_with_curve_and_unknown_keys_are_refused) {
  Site hq("hq");
  Site other("other");
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(FreePort());
  testing::TempDir dir("baton-curve");
  const std::string alice = (dir / "alice.curve").string();
  auto allowed = RunCommand({testing::BatondPath(), "allow-client", "--data", hq.data(), "--out",
                             alice, "--listen", endpoint});
  BOOST_REQUIRE_MESSAGE(allowed.exit_code == 0, allowed.err);
  hq.Start();
  auto remote = RunCommand(
      {testing::BatonPath(), "--endpoint", endpoint, "--curve-file", alice, "status", "--json"});
  BOOST_REQUIRE_MESSAGE(remote.exit_code == 0, remote.err + "\n" + hq.Log());
  BOOST_TEST(json::parse(remote.out)["runbook"]["site"].get<std::string>() == "hq");

  // Mallory has a well-formed key pair and hq's public key, but hq never admitted her key.
  const std::string mallory = (dir / "mallory.curve").string();
  auto other_allowed = RunCommand({testing::BatondPath(), "allow-client", "--data", other.data(),
                                   "--out", mallory, "--listen", "tcp://127.0.0.1:1"});
  BOOST_REQUIRE(other_allowed.exit_code == 0);
  std::string forged = ReadFile(mallory);
  const std::string hq_key = ReadFile(hq.data() + "/identity/curve.pub").substr(0, 40);
  const size_t at = forged.find("server_key = ");
  BOOST_REQUIRE(at != std::string::npos);
  forged.replace(at + 13, 40, hq_key);
  const std::string forged_path = (dir / "forged.curve").string();
  std::ofstream(forged_path) << forged;
  auto refused = RunCommand({testing::BatonPath(), "--endpoint", endpoint, "--curve-file",
                             forged_path, "--timeout", "1500", "status"});
  BOOST_TEST(refused.exit_code == 2, refused.out + refused.err);
  auto no_credentials = RunCommand({testing::BatonPath(), "--endpoint", endpoint, "status"});
  BOOST_TEST(no_credentials.exit_code == 1);
  BOOST_TEST(no_credentials.err.find("--curve-file") != std::string::npos, no_credentials.err);

  // A credentials file that is not one is refused without reading it all or echoing it.
  const std::string huge = (dir / "huge.curve").string();
  std::ofstream(huge) << "public_key = " << std::string(size_t{1} << 20, 'k') << "\n";
  auto too_large =
      RunCommand({testing::BatonPath(), "--endpoint", endpoint, "--curve-file", huge, "status"});
  BOOST_TEST(too_large.exit_code == 1);
  BOOST_TEST(too_large.err.find("is 1048590 bytes, over the limit of 4096") != std::string::npos,
             too_large.err);
  const std::string odd = (dir / "odd.curve").string();
  std::ofstream(odd) << std::string(3000, 'x') << " = 1\n";
  auto unknown =
      RunCommand({testing::BatonPath(), "--endpoint", endpoint, "--curve-file", odd, "status"});
  BOOST_TEST(unknown.exit_code == 1);
  BOOST_TEST(unknown.err.find("odd.curve:1: unknown key \"xxx") != std::string::npos, unknown.err);
  BOOST_TEST(unknown.err.size() < 400u, unknown.err.size());
}

BOOST_AUTO_TEST_CASE(import_report_and_query_the_example_plan) {
  Site site("hq");
  site.Start();
  auto imported = Baton(site, ImportExample());
  BOOST_REQUIRE_MESSAGE(imported.exit_code == 0, imported.err);
  BOOST_TEST(imported.out.find("165 tasks") != std::string::npos, imported.out);

  auto done = Baton(site, {"done", "T-001", "--at", "2026-03-27T19:00:00Z"});
  BOOST_REQUIRE_MESSAGE(done.exit_code == 0, done.err);
  BOOST_TEST(done.out.find("T-001 done") != std::string::npos, done.out);
  auto started = Baton(site, {"start", "T-002", "--at", "2026-03-27T19:05:00Z", "--as", "Ana"});
  BOOST_REQUIRE_MESSAGE(started.exit_code == 0, started.err);

  auto status = Baton(site, {"status", "--json"});
  BOOST_REQUIRE_MESSAGE(status.exit_code == 0, status.err);
  json s = json::parse(status.out);
  BOOST_TEST(s["counts"]["done"].get<int>() == 1);
  BOOST_TEST(s["counts"]["running"].get<int>() == 1);

  auto show = Baton(site, {"show", "T-002", "--json"});
  BOOST_REQUIRE_MESSAGE(show.exit_code == 0, show.err);
  json t = json::parse(show.out);
  BOOST_TEST(t["actual_start"].get<int64_t>() == 1774638300000);  // The --at time.
  const std::string actor = t["history"].back()["actor"].get<std::string>();
  BOOST_TEST(actor.find("Ana") != std::string::npos, actor);

  for (const char* query : {"ready", "late", "blocked", "critical", "forecast", "mine"}) {
    auto q = Baton(site, {query});
    BOOST_TEST(q.exit_code == 0, query << ": " << q.err);
  }
  auto board = Baton(site, {"watch", "--once", "--no-color"});
  BOOST_REQUIRE_MESSAGE(board.exit_code == 0, board.err);
  BOOST_TEST(board.out.find("Forecast") != std::string::npos, board.out);
  BOOST_TEST(board.out.find("\x1b[") == std::string::npos);  // No colour when asked.
}

BOOST_AUTO_TEST_CASE(a_bad_plan_is_refused_whole_with_every_error_located) {
  Site site("hq");
  site.Start();
  testing::TempDir dir("baton-csv");
  const std::string path = (dir / "bad.csv").string();
  {
    std::ofstream f(path);
    f << "ID,Title,Duration,Predecessors\n"
      << "T-1,First,30m,\n"
      << "T-1,Duplicate,30m,\n"
      << "T-2,Bad duration,2h30x,T-1\n"
      << "T-3,Unknown predecessor,10m,T-99\n";
  }
  auto r = Baton(site, {"plan", "import", path, "--window-start", "2026-03-27 20:00"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("bad.csv:3:") != std::string::npos, r.err);   // Duplicate id.
  BOOST_TEST(r.err.find("bad.csv:4:3") != std::string::npos, r.err);  // Duration cell.
  BOOST_TEST(r.err.find("T-99") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("nothing was imported") != std::string::npos, r.err);
  auto status = Baton(site, {"status", "--json"});
  BOOST_REQUIRE(status.exit_code == 0);
  BOOST_TEST(json::parse(status.out)["events"].get<int>() == 0);
}

BOOST_AUTO_TEST_CASE(a_gate_names_its_deciders_in_the_plan_file) {
  Site site("hq");
  site.Start();
  testing::TempDir dir("baton-csv");
  const auto write = [&](const std::string& name, const std::string& rows) {
    const std::string path = (dir / name).string();
    std::ofstream(path) << "ID,Title,Team,Site,Duration,Predecessors,Type,Decided By\n" << rows;
    return path;
  };
  const std::string start = "2026-03-27 20:00";
  // Deciders on a task that is not a gate: located, nothing imported.
  auto not_gate =
      Baton(site, {"plan", "import", write("not-gate.csv", "T-1,Backup,dba,hq,30m,,,risk\n"),
                   "--window-start", start});
  BOOST_TEST(not_gate.exit_code == 1);
  BOOST_TEST(not_gate.err.find("not-gate.csv:2:8: field \"deciders\"") != std::string::npos,
             not_gate.err);
  // A decider that is neither a site nor a team of the plan: refused by the daemon.
  auto unknown = Baton(site, {"plan", "import",
                              write("unknown.csv",
                                    "T-1,Backup,dba,hq,30m,,,\n"
                                    "G-1,Go/no-go,mgmt,hq,15m,T-1,gate,riks\n"),
                              "--window-start", start});
  BOOST_TEST(unknown.exit_code == 1);
  BOOST_TEST(unknown.err.find("gate \"G-1\": decider \"riks\" is neither a site of the roster "
                              "nor a team of the plan") != std::string::npos,
             unknown.err);
  BOOST_TEST(json::parse(Baton(site, {"status", "--json"}).out)["events"].get<int>() == 0);

  auto good = Baton(site, {"plan", "import",
                           write("good.csv",
                                 "T-1,Backup,dba,hq,30m,,,\n"
                                 "G-1,Go/no-go,mgmt,hq,15m,T-1,gate,dba; vendor-de\n"
                                 "T-2,Deploy,vendor-de,vendor-de,1h,G-1,,\n"),
                           "--window-start", start});
  BOOST_REQUIRE_MESSAGE(good.exit_code == 0, good.err);
  auto shown = Baton(site, {"show", "G-1"});
  BOOST_TEST(shown.out.find("decided by: dba, vendor-de (or a manager)") != std::string::npos,
             shown.out);
  const json spec = json::parse(Baton(site, {"show", "G-1", "--json"}).out)["spec"];
  BOOST_TEST(spec["deciders"] == json::array({"dba", "vendor-de"}), spec.dump());

  // The deciders changed by an amendment, checked like an import's; nothing written when bad.
  const int events_before = json::parse(Baton(site, {"status", "--json"}).out)["events"];
  auto bad = Baton(site, {"plan", "amend", "--deciders", "G-1=dba,riks"});
  BOOST_TEST(bad.exit_code == 1);
  BOOST_TEST(bad.err.find("decider \"riks\" is neither a site of the roster nor a team") !=
                 std::string::npos,
             bad.err);
  auto on_task = Baton(site, {"plan", "amend", "--deciders", "T-2=dba"});
  BOOST_TEST(on_task.exit_code == 1);
  BOOST_TEST(on_task.err.find("deciders are for gates only") != std::string::npos, on_task.err);
  BOOST_TEST(json::parse(Baton(site, {"status", "--json"}).out)["events"] == events_before);
  auto amended =
      Baton(site, {"plan", "amend", "--deciders", "G-1=vendor-de", "--duration", "G-1=20m"});
  BOOST_REQUIRE_MESSAGE(amended.exit_code == 0, amended.err);
  const json after = json::parse(Baton(site, {"show", "G-1", "--json"}).out);
  BOOST_TEST(after["spec"]["deciders"] == json::array({"vendor-de"}), after.dump());
  BOOST_TEST(after["duration_ms"].get<int64_t>() == 20 * 60000);
  auto cleared = Baton(site, {"plan", "amend", "--deciders", "G-1="});
  BOOST_REQUIRE_MESSAGE(cleared.exit_code == 0, cleared.err);
  BOOST_TEST(Baton(site, {"show", "G-1"}).out.find("decided by:") == std::string::npos);
  auto malformed = Baton(site, {"plan", "amend", "--deciders", "G-1"});
  BOOST_TEST(malformed.exit_code == 1);
  BOOST_TEST(malformed.err.find("expected GATE=WHO,WHO") != std::string::npos, malformed.err);
  // hq is a manager: it decides any gate.
  auto go = Baton(site, {"done", "T-1"});
  BOOST_TEST(go.exit_code == 0, go.err);
  auto decided = Baton(site, {"gate", "G-1", "go"});
  BOOST_TEST(decided.exit_code == 0, decided.err);
}

BOOST_AUTO_TEST_CASE(plan_amend_adds_tasks_that_depend_on_existing_ones) {
  Site site("hq");
  site.Start();
  BOOST_REQUIRE(Baton(site, ImportExample()).exit_code == 0);
  testing::TempDir dir("baton-amend");
  const std::string extra = (dir / "extra.csv").string();
  std::ofstream(extra) << "ID,Title,Team,Site,Duration,Predecessors\n"
                       << "T-900,Extra smoke test of the teller UI,qa,hq,25m,T-024\n";
  auto added = Baton(site, {"plan", "amend", "--add-csv", extra});
  BOOST_REQUIRE_MESSAGE(added.exit_code == 0, added.err);
  auto show = Baton(site, {"show", "T-900", "--json"});
  BOOST_REQUIRE_MESSAGE(show.exit_code == 0, show.err);
  BOOST_TEST(json::parse(show.out)["duration_ms"].get<int64_t>() == 25 * 60000);

  const std::string dup = (dir / "dup.csv").string();
  std::ofstream(dup) << "ID,Title,Duration,Predecessors\n"
                     << "T-001,Clashes with an existing id,10m,\n"
                     << "T-901,Depends on nothing known,10m,T-999\n";
  auto refused = Baton(site, {"plan", "amend", "--add-csv", dup});
  BOOST_TEST(refused.exit_code == 1);
  BOOST_TEST(refused.err.find("dup.csv:2:") != std::string::npos, refused.err);
  BOOST_TEST(refused.err.find("T-999") != std::string::npos, refused.err);
  auto missing = Baton(site, {"show", "T-901"});
  BOOST_TEST(missing.exit_code == 3);
}

BOOST_AUTO_TEST_CASE(refusals_and_absences_have_their_own_exit_codes) {
  Site site("hq");
  site.Start();
  BOOST_REQUIRE(Baton(site, ImportExample()).exit_code == 0);
  auto unknown = Baton(site, {"done", "T-999"});
  BOOST_TEST(unknown.exit_code == 3);
  BOOST_TEST(unknown.err.find("T-999") != std::string::npos, unknown.err);
  auto not_gate = Baton(site, {"gate", "T-002", "go"});
  BOOST_TEST(not_gate.exit_code == 1, not_gate.err);
  BOOST_TEST(not_gate.err.find("task \"T-002\" is not a go/no-go gate (the plan's: T-041, T-070, "
                               "T-125)") != std::string::npos,
             not_gate.err);
  auto bad_at = Baton(site, {"done", "T-001", "--at", "yesterday-ish"});
  BOOST_TEST(bad_at.exit_code == 1, bad_at.err);
  BOOST_TEST(bad_at.err.find("--at") != std::string::npos, bad_at.err);
  // Effective times that cannot be true are refused, and nothing is recorded.
  BOOST_REQUIRE(Baton(site, {"start", "T-001", "--at", "2026-03-27T19:05:00Z"}).exit_code == 0);
  auto before_start = Baton(site, {"done", "T-001", "--at", "2026-03-27T19:00:00Z"});
  BOOST_TEST(before_start.exit_code == 1, before_start.err);
  BOOST_TEST(before_start.err.find("before task \"T-001\" started (2026-03-27T19:05:00.000Z)") !=
                 std::string::npos,
             before_start.err);
  auto future = Baton(site, {"done", "T-001", "--at", "2099-01-01T00:00:00Z"});
  BOOST_TEST(future.exit_code == 1, future.err);
  BOOST_TEST(future.err.find("2099-01-01T00:00:00.000Z is in the future") != std::string::npos,
             future.err);
  auto shown = Baton(site, {"show", "T-001", "--json"});
  BOOST_REQUIRE_MESSAGE(shown.exit_code == 0, shown.err);
  BOOST_TEST(json::parse(shown.out)["status"].get<std::string>() == "running", shown.out);
  BOOST_TEST(json::parse(shown.out)["history"].size() == 2u, shown.out);  // Listing + start.

  site.Stop();
  // No daemon: said at once, not after the 5 s timeout.
  const auto t0 = std::chrono::steady_clock::now();
  auto absent = Baton(site, {"status"});
  const auto waited = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(absent.exit_code == 2);
  BOOST_TEST(absent.err.find("no batond is running at ipc://") != std::string::npos, absent.err);
  BOOST_TEST(absent.err.find("start it with `batond run --data ") != std::string::npos, absent.err);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() < 2000);
}

BOOST_AUTO_TEST_CASE(typos_get_help) {
  Site site("hq");
  site.Start();
  BOOST_REQUIRE(Baton(site, ImportExample()).exit_code == 0);
  // Task ids: a near miss names the task meant.
  auto shown = Baton(site, {"show", "T-42"});
  BOOST_TEST(shown.exit_code == 3);
  BOOST_TEST(
      shown.err.find("task \"T-42\" is not in the plan (did you mean T-042?)") != std::string::npos,
      shown.err);
  auto report = Baton(site, {"start", "t-0001"});
  BOOST_TEST(report.err.find("(did you mean T-001?)") != std::string::npos, report.err);
  // Commands.
  auto command = Baton(site, {"statsu"});
  BOOST_TEST(command.exit_code == 1);
  BOOST_TEST(
      command.err.find("unknown command \"statsu\" (did you mean status?)") != std::string::npos,
      command.err);
  // Teams and sites: any case; an unknown one lists those of the plan.
  auto dba = Baton(site, {"ls", "--team", "DBA", "--json"});
  BOOST_REQUIRE_MESSAGE(dba.exit_code == 0, dba.err);
  const json rows = json::parse(dba.out)["tasks"];
  BOOST_TEST(rows.size() > 5u);
  for (const auto& r : rows) BOOST_TEST(r["team"].get<std::string>() == "dba");
  auto team = Baton(site, {"ls", "--team", "dbaa"});
  BOOST_TEST(team.exit_code == 1);
  BOOST_TEST(team.err.find("no team \"dbaa\" in the plan (did you mean dba?); its teams: app, "
                           "dba, mgmt,") != std::string::npos,
             team.err);
  auto where = Baton(site, {"mine", "--site", "dc-west"});
  BOOST_TEST(where.exit_code == 1);
  BOOST_TEST(where.err.find("no site \"dc-west\" in the plan (did you mean dc-east?)") !=
                 std::string::npos,
             where.err);
  // A note without its text is not a note on the runbook that reads "T-045".
  const auto events = [&] {
    auto st = Baton(site, {"status", "--json"});
    return json::parse(st.out)["events"].get<int>();
  };
  const int before = events();
  auto note = Baton(site, {"note", "T-045"});
  BOOST_TEST(note.exit_code == 1);
  BOOST_TEST(note.err.find("the note's text \"T-045\" is a task id: give the text after it") !=
                 std::string::npos,
             note.err);
  BOOST_TEST(events() == before);
  // --json: errors are JSON too, with the same exit code.
  auto as_json = Baton(site, {"show", "T-42", "--json"});
  BOOST_TEST(as_json.exit_code == 3);
  const json error = json::parse(as_json.out)["error"];
  BOOST_TEST(error["code"].get<std::string>() == "not_found");
  BOOST_TEST(error["message"].get<std::string>().find("did you mean T-042?") != std::string::npos);
  // Relative times.
  auto st = Baton(site, {"status", "--json"});
  const int64_t now = json::parse(st.out)["forecast"]["now"].get<int64_t>();
  BOOST_REQUIRE(Baton(site, {"start", "T-001", "--at", "-10m"}).exit_code == 0);
  auto t1 = Baton(site, {"show", "T-001", "--json"});
  const int64_t started = json::parse(t1.out)["actual_start"].get<int64_t>();
  BOOST_TEST(started <= now - 10 * 60000 + 5000);
  BOOST_TEST(started >= now - 10 * 60000 - 60000);
  // Every command's help names the options every command takes.
  auto help = Baton(site, {"start", "--help"});
  BOOST_TEST(help.out.find("Every command also takes: --data DIR") != std::string::npos, help.out);
}

BOOST_AUTO_TEST_CASE(reports_that_contradict_the_plan_are_refused_unless_forced) {
  Site site("hq");
  site.Start();
  testing::TempDir dir("baton-order");
  const std::string path = (dir / "plan.csv").string();
  std::ofstream(path) << "ID,Task Name,Duration,Predecessors,Type,Not Before\n"
                      << "T-1,Freeze,30m,,,\n"
                      << "T-2,Backup,30m,,,\n"
                      << "T-3,Migrate,30m,\"T-1,T-2\",,\n"
                      << "G-1,Go/no-go,0,T-3,gate,\n"
                      << "T-4,Open the doors,10m,,,2099-01-01 00:00\n";
  auto imported = Baton(site, {"plan", "import", path, "--window-start", "2026-03-27 20:00"});
  BOOST_REQUIRE_MESSAGE(imported.exit_code == 0, imported.err);
  const auto events = [&] {
    auto st = Baton(site, {"status", "--json"});
    BOOST_REQUIRE_MESSAGE(st.exit_code == 0, st.err);
    return json::parse(st.out)["events"].get<int>();
  };
  const int before = events();

  // Each refusal names what is wrong and the way out, and records nothing.
  auto early = Baton(site, {"start", "T-3"});
  BOOST_TEST(early.exit_code == 3, early.err);  // Rejected.
  BOOST_TEST(early.err.find("baton start T-3: T-1 and T-2 are not done yet; use --force --reason "
                            "TEXT to start it anyway") != std::string::npos,
             early.err);
  auto early_done = Baton(site, {"done", "T-3"});
  BOOST_TEST(early_done.exit_code == 3, early_done.err);  // Rejected.
  BOOST_TEST(early_done.err.find("T-1 and T-2 are not done yet") != std::string::npos,
             early_done.err);
  auto early_gate = Baton(site, {"gate", "G-1", "go"});
  BOOST_TEST(early_gate.exit_code == 3, early_gate.err);  // Rejected.
  BOOST_TEST(early_gate.err.find("baton gate G-1: T-3 is not done yet") != std::string::npos,
             early_gate.err);
  auto locked = Baton(site, {"start", "T-4"});
  BOOST_TEST(locked.exit_code == 3, locked.err);  // Rejected.
  BOOST_TEST(
      locked.err.find("T-4 is time-locked until 2099-01-01T00:00:00.000Z") != std::string::npos,
      locked.err);
  BOOST_TEST(events() == before);

  // In order, nothing is refused; then a second done, or a start of a done task, is.
  BOOST_REQUIRE(Baton(site, {"done", "T-1"}).exit_code == 0);
  auto again = Baton(site, {"done", "T-1"});
  BOOST_TEST(again.exit_code == 3, again.err);  // Rejected.
  BOOST_TEST(again.err.find("T-1 is already done (since ") != std::string::npos, again.err);
  auto reopen = Baton(site, {"start", "T-1"});
  BOOST_TEST(reopen.exit_code == 3, reopen.err);  // Rejected.
  BOOST_TEST(reopen.err.find("starting it again would reopen it") != std::string::npos, reopen.err);
  auto half = Baton(site, {"start", "T-3"});
  BOOST_TEST(half.exit_code == 3, half.err);  // Rejected.
  BOOST_TEST(half.err.find("T-2 is not done yet") != std::string::npos, half.err);

  // --force needs a reason, records it in the event, and the board flags the fact.
  auto no_reason = Baton(site, {"start", "T-3", "--force"});
  BOOST_TEST(no_reason.exit_code != 0);
  BOOST_TEST(no_reason.err.find("--reason") != std::string::npos, no_reason.err);
  auto forced = Baton(site, {"start", "T-3", "--force", "--reason", "backup verified by phone"});
  BOOST_REQUIRE_MESSAGE(forced.exit_code == 0, forced.err);
  BOOST_TEST(forced.out.find("forced past: T-2 is not done yet") != std::string::npos, forced.out);
  auto shown = Baton(site, {"show", "T-3", "--json"});
  BOOST_REQUIRE_MESSAGE(shown.exit_code == 0, shown.err);
  const json task = json::parse(shown.out);
  BOOST_TEST(task["live_reports"][0]["note"].get<std::string>() ==
             "forced: backup verified by phone");
  BOOST_REQUIRE(task["anomalies"].size() == 1u);
  BOOST_TEST(task["anomalies"][0]["kind"].get<std::string>() == "started_before_predecessor");
  BOOST_TEST(task["anomalies"][0]["predecessor"].get<std::string>() == "T-2");
  BOOST_TEST(task["anomalies"][0]["other_at"].is_null());
  auto board = Baton(site, {"status"});
  BOOST_REQUIRE_MESSAGE(board.exit_code == 0, board.err);
  BOOST_TEST(board.out.find("Anomalies 1") != std::string::npos, board.out);
  BOOST_TEST(board.out.find("T-3 started") != std::string::npos, board.out);
  BOOST_TEST(board.out.find("before T-2 was done (not done yet)") != std::string::npos, board.out);

  // Once T-2 is done the fact stays an anomaly, now with the time T-2 was done.
  BOOST_REQUIRE(Baton(site, {"done", "T-2"}).exit_code == 0);
  auto st = Baton(site, {"status", "--json"});
  BOOST_REQUIRE(st.exit_code == 0);
  const json anomalies = json::parse(st.out)["anomalies"];
  BOOST_REQUIRE(anomalies.size() == 1u);
  BOOST_TEST(anomalies[0]["other_at"].is_number());
  // A gate whose predecessors are done is decided without --force.
  BOOST_REQUIRE(Baton(site, {"done", "T-3"}).exit_code == 0);
  auto gate = Baton(site, {"gate", "G-1", "go"});
  BOOST_TEST(gate.exit_code == 0, gate.err);
}

// What is not a usable CSV is refused before anything reaches the daemon: a header with no
// rows (which would import nothing and move the window), bytes that are not UTF-8 (unless the
// encoding is given), a binary file; planned starts without --window-start are kept.
BOOST_AUTO_TEST_CASE(a_plan_file_is_read_as_text_or_refused_before_anything_is_imported) {
  Site site("hq");
  site.Start();
  testing::TempDir dir("baton-bytes");
  const auto file = [&](const std::string& name, const std::string& bytes) {
    const std::string path = (dir / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  };
  const auto import = [&](const std::vector<std::string>& args) {
    std::vector<std::string> all{"plan", "import"};
    all.insert(all.end(), args.begin(), args.end());
    return Baton(site, all);
  };
  auto header_only = import({file("empty.csv", "ID,Title,Duration\n")});
  BOOST_TEST(header_only.exit_code == 1);
  BOOST_TEST(header_only.err.find("empty.csv:2: no task rows") != std::string::npos,
             header_only.err);
  auto latin1 = import({file("latin1.csv", "ID,Title,Duration\nT-1,Caf\xE9,30m\n")});
  BOOST_TEST(latin1.exit_code == 1);
  BOOST_TEST(latin1.err.find("latin1.csv:2:8: invalid UTF-8 (byte 0xE9)") != std::string::npos,
             latin1.err);
  auto binary = import({file("plan.xlsx.csv", std::string("PK\x03\x04\x00\x00", 6))});
  BOOST_TEST(binary.exit_code == 1);
  BOOST_TEST(binary.err.find("this is not a text file") != std::string::npos, binary.err);
  BOOST_TEST(json::parse(Baton(site, {"status", "--json"}).out)["events"].get<int>() == 0);

  auto converted = import({file("latin1.csv",
                                "ID,Title,Duration,Planned Start\n"
                                "T-1,Caf\xE9,30m,2026-03-28 02:00\n"),
                           "--encoding", "windows-1252", "--tz", "Europe/Berlin"});
  BOOST_REQUIRE_MESSAGE(converted.exit_code == 0, converted.err);
  BOOST_TEST(converted.err.find("no --window-start given: the window starts at the earliest "
                                "planned start") != std::string::npos,
             converted.err);
  const json shown = json::parse(Baton(site, {"show", "T-1", "--json"}).out);
  BOOST_TEST(shown["title"] == "Caf\xC3\xA9", shown.dump());
  BOOST_TEST(shown["planned_start"].get<int64_t>() == 1774659600000);  // 02:00 CET = 01:00Z.
}

// The board says whom to chase: due tasks not started and tasks running over, least float
// first, with the site to call; the near-critical chain; late tasks furthest behind first.
BOOST_AUTO_TEST_CASE(the_board_says_whom_to_chase) {
  Site site("hq");
  site.Start();
  testing::TempDir dir("baton-chase");
  // The window started in March: every task is due. D runs beside E with 15 minutes of float.
  ImportCsv(site, dir,
            "ID,Title,Team,Site,Duration,Predecessors,Phase\n"
            "A,Stop the apps,ops,hq,30m,,prepare\n"
            "C,Drain the queues,ops,hq,10m,,prepare\n"
            "D,Copy the configs,dba,hq,45m,A,migrate\n"
            "E,Migrate the data,dba,hq,60m,A,migrate\n"
            "F,Open the gates,ops,hq,10m,\"D,E\",open\n"
            "BO-1,Undo the copy,dba,hq,20m,,back-out\n");  // Not run going forward.
  BOOST_REQUIRE(Baton(site, {"start", "C", "--at", "-1h"}).exit_code == 0);  // 50m over.
  const json st = StatusJson(site);
  const json chase = st["chase"];
  BOOST_TEST_REQUIRE(chase.size() == 2u, st.dump(1));
  BOOST_TEST(chase[0]["id"] == "A");  // Critical, no float: first.
  BOOST_TEST(chase[0]["why"] == "ready, not started");
  BOOST_TEST(chase[1]["id"] == "C");
  BOOST_TEST(chase[1]["why"] == "running over");
  BOOST_TEST(chase[0]["float_ms"].get<int64_t>() <= chase[1]["float_ms"].get<int64_t>());
  // The site to call, by its roster name.
  std::string hq_name;
  const json sites = json::parse(Baton(site, {"site", "ls", "--json"}).out)["sites"];
  for (const auto& s : sites) {
    if (s["id"] == "hq") hq_name = s["name"];
  }
  BOOST_TEST(!hq_name.empty());
  BOOST_TEST(chase[0]["site_name"] == hq_name);
  BOOST_TEST(chase[0]["team"] == "ops");
  const json near = st["near_critical"];
  BOOST_TEST_REQUIRE(near.size() == 1u, st.dump(1));
  BOOST_TEST(near[0]["id"] == "D");
  BOOST_TEST(near[0]["float_ms"].get<int64_t>() == 15 * 60000);
  // Late: furthest behind first.
  const json late = st["late"];
  BOOST_TEST_REQUIRE(late.size() == 5u, st.dump(1));
  BOOST_TEST(late[0]["id"] == "A");
  BOOST_TEST(late[4]["id"] == "C");
  const auto behind = [](const json& r) {
    return std::max(r["late_by_ms"].get<int64_t>(), r["over_by_ms"].get<int64_t>());
  };
  for (size_t i = 1; i < late.size(); ++i) BOOST_TEST(behind(late[i - 1]) >= behind(late[i]));

  const auto board = Baton(site, {"status"});
  BOOST_TEST(board.out.find("Chase now (2)") != std::string::npos, board.out);
  BOOST_TEST(board.out.find("Near-critical (float <= 30m): D 15m") != std::string::npos, board.out);
  // The lists narrowed to a team or a phase (any case); the header stays the runbook's.
  const auto watched = Baton(site, {"watch", "--once", "--team", "DBA"});
  BOOST_REQUIRE_MESSAGE(watched.exit_code == 0, watched.err);
  BOOST_TEST(watched.out.find("Lists below: only team DBA") != std::string::npos, watched.out);
  BOOST_TEST(watched.out.find("Migrate the data") != std::string::npos, watched.out);
  BOOST_TEST(watched.out.find("Stop the apps") == std::string::npos, watched.out);
  BOOST_TEST(watched.out.find("Chase now") == std::string::npos, watched.out);  // A, C: ops.
  BOOST_TEST(watched.out.find("0/5 done or skipped") != std::string::npos, watched.out);
  const auto by_phase = Baton(site, {"ls", "--phase", "MIGRATE", "--json"});
  BOOST_REQUIRE_MESSAGE(by_phase.exit_code == 0, by_phase.err);
  std::vector<std::string> migrate;
  const json phase_rows = json::parse(by_phase.out)["tasks"];
  for (const auto& t : phase_rows) migrate.push_back(t["id"]);
  BOOST_TEST((migrate == std::vector<std::string>{"D", "E"}));
  const auto no_team = Baton(site, {"watch", "--once", "--team", "dbas"});
  BOOST_TEST(no_team.exit_code == 1);
  BOOST_TEST(
      no_team.err.find("no team \"dbas\" in the plan (did you mean dba?)") != std::string::npos,
      no_team.err);
  const auto no_phase = Baton(site, {"ls", "--phase", "cutover"});
  BOOST_TEST(no_phase.exit_code == 1);
  BOOST_TEST(no_phase.err.find("its phases: back-out, migrate, open, prepare") != std::string::npos,
             no_phase.err);

  // Started and done: nothing left to chase on A, and C is done.
  BOOST_REQUIRE(Baton(site, {"start", "A"}).exit_code == 0);
  BOOST_REQUIRE(Baton(site, {"done", "C"}).exit_code == 0);
  BOOST_TEST(StatusJson(site)["chase"].empty(), StatusJson(site).dump(1));
}

BOOST_AUTO_TEST_CASE(a_no_go_switches_the_runbook_to_backing_out) {
  Site site("hq");
  site.Start();
  testing::TempDir dir("baton-backout");
  ImportCsv(site, dir,
            "ID,Phase,Task Name,Duration,Predecessors,Type,Back-out Task\n"
            "T-1,freeze,Freeze,30m,,,BO-2\n"
            "T-2,migrate,Migrate,1h,T-1,,BO-1\n"
            "T-3,migrate,Convert archives,1h,T-1,,BO-3\n"
            "G-1,go-live,Go/no-go,0,\"T-2,T-3\",gate,\n"
            "T-4,go-live,Open the doors,30m,G-1,,\n"
            "BO-3,back-out,Drop converted archives,20m,,,\n"
            "BO-1,back-out,Undo the migration,40m,BO-3,,\n"
            "BO-2,back-out,Lift the freeze,20m,BO-1,,\n"
            "BO-9,back-out,Back-out complete,0,BO-2,milestone,\n",
            {"--window-end", "2026-03-28 08:00", "--rebase", "now"});
  const auto status = [&] { return StatusJson(site); };
  const auto ready = [&] { return ReadyIds(site); };
  using Ids = std::vector<std::string>;

  // Going forward: the board says by when a no-go still backs out inside the window, and a
  // back-out task is refused (it would begin the back-out).
  json st = status();
  BOOST_TEST(st["mode"].get<std::string>() == "forward");
  BOOST_TEST(st["forecast"]["latest_nogo"].is_number());
  auto board = Baton(site, {"status"});
  BOOST_TEST(board.out.find("No-go     by ") != std::string::npos, board.out);
  BOOST_TEST(board.out.find("at the latest, to back out in the window") != std::string::npos);
  auto early = Baton(site, {"start", "BO-1"});
  BOOST_TEST(early.exit_code == 3, early.err);  // Rejected.
  BOOST_TEST(early.err.find("BO-1 is a back-out task and the runbook is not backing out") !=
                 std::string::npos,
             early.err);
  for (const char* id : {"T-1", "T-2"}) {
    BOOST_REQUIRE(Baton(site, {"start", id}).exit_code == 0);
    BOOST_REQUIRE(Baton(site, {"done", id}).exit_code == 0);
  }
  BOOST_REQUIRE(Baton(site, {"fail", "T-3", "--note", "archive conversion aborted"}).exit_code ==
                0);
  // T-3 failed: G-1 and T-4 are blocked, yet a no-go at G-1 still undoes T-3's half-done work.
  auto forecast = Baton(site, {"forecast", "--json"});
  BOOST_REQUIRE_MESSAGE(forecast.exit_code == 0, forecast.err);
  const json at_gate = json::parse(forecast.out)["backout_at_gates"][0];
  BOOST_TEST(at_gate["steps"].size() == 4u, at_gate.dump());

  // The no-go: back-out tasks become ready in their own order, forward tasks stop.
  auto nogo = Baton(site, {"gate", "G-1", "no-go", "--force", "--reason", "archives broken"});
  BOOST_REQUIRE_MESSAGE(nogo.exit_code == 0, nogo.err);
  st = status();
  BOOST_TEST(st["mode"].get<std::string>() == "backing_out");
  BOOST_TEST(st["backout"]["trigger"].get<std::string>() == "G-1");
  BOOST_TEST(st["backout"]["by"].get<std::string>() == "no_go");
  BOOST_TEST(st["backout"]["steps"].get<int>() == 4);
  BOOST_TEST(st["backout"]["finished"].get<int>() == 0);
  BOOST_TEST(st["forecast"]["mode"].get<std::string>() == "backing_out");
  BOOST_TEST((ready() == Ids{"BO-3"}));
  board = Baton(site, {"status"});
  BOOST_TEST(board.out.rfind("BACKING OUT since ", 0) == 0, board.out);  // The first line.
  BOOST_TEST(board.out.find("(no-go at gate G-1)") != std::string::npos, board.out);
  BOOST_TEST(board.out.find("Back-out  ") != std::string::npos, board.out);
  BOOST_TEST(board.out.find("0/4 back-out steps done") != std::string::npos, board.out);
  BOOST_TEST(board.out.find("back-out finish ") != std::string::npos, board.out);
  auto retry = Baton(site, {"start", "T-3"});
  BOOST_TEST(retry.exit_code == 3, retry.err);  // Rejected.
  BOOST_TEST(retry.err.find("the runbook is backing out") != std::string::npos, retry.err);
  BOOST_TEST(retry.err.find("forward tasks no longer start") != std::string::npos, retry.err);

  // The forecast is the back-out's: 20m + 40m + 20m from now, on its critical path.
  forecast = Baton(site, {"forecast", "--json"});
  BOOST_REQUIRE(forecast.exit_code == 0);
  const json f = json::parse(forecast.out);
  BOOST_TEST((f["critical_path"].get<Ids>() == Ids{"BO-3", "BO-1", "BO-2", "BO-9"}));
  const int64_t now = f["now"].get<int64_t>();
  BOOST_TEST(f["forecast_finish"].get<int64_t>() - now >= 80 * 60000);
  BOOST_TEST(f["forecast_finish"].get<int64_t>() - now < 81 * 60000);
  BOOST_TEST(f["backout_now"]["steps"].size() == 4u);
  BOOST_TEST(!f.contains("backout_at_gates"));

  for (const char* id : {"BO-3", "BO-1"}) {
    auto started = Baton(site, {"start", id});
    BOOST_REQUIRE_MESSAGE(started.exit_code == 0, started.err);
    BOOST_REQUIRE(Baton(site, {"done", id}).exit_code == 0);
  }
  BOOST_TEST((ready() == Ids{"BO-2"}));
  st = status();
  BOOST_TEST(st["backout"]["finished"].get<int>() == 2);
  BOOST_TEST(st["counts"]["ready"].get<int>() == 1);
}

BOOST_AUTO_TEST_CASE(a_reset_withdraws_a_gate_decision) {
  Site site("hq");
  site.Start();
  testing::TempDir dir("baton-withdraw");
  ImportCsv(site, dir,
            "ID,Task Name,Duration,Predecessors,Type\n"
            "T-1,Freeze,30m,,\n"
            "G-1,Go/no-go,0,T-1,gate\n"
            "T-2,Migrate,1h,G-1,\n");
  const auto ready = [&] { return ReadyIds(site); };
  using Ids = std::vector<std::string>;
  BOOST_REQUIRE(Baton(site, {"done", "T-1"}).exit_code == 0);
  // A gate is decided, not started or done.
  auto started = Baton(site, {"start", "G-1"});
  BOOST_TEST(started.exit_code == 1, started.err);  // Invalid argument.
  BOOST_TEST(
      started.err.find("task \"G-1\" is a go/no-go gate: decide it with `baton gate G-1 go`") !=
          std::string::npos,
      started.err);
  auto undecided = Baton(site, {"reset", "G-1"});
  BOOST_TEST(undecided.exit_code == 1, undecided.err);  // Invalid argument.
  BOOST_TEST(undecided.err.find("gate \"G-1\" has no decision to withdraw (at this site)") !=
                 std::string::npos,
             undecided.err);
  auto go = Baton(site, {"gate", "G-1", "go"});
  BOOST_REQUIRE_MESSAGE(go.exit_code == 0, go.err);
  BOOST_TEST((ready() == Ids{"T-2"}));

  // The reset withdraws the go: the gate is undecided again and T-2 waits for it.
  auto reset = Baton(site, {"reset", "G-1"});
  BOOST_REQUIRE_MESSAGE(reset.exit_code == 0, reset.err);
  BOOST_TEST(reset.out.find("its go (hq/") != std::string::npos, reset.out);
  BOOST_TEST(reset.out.find(") is withdrawn: the gate is undecided") != std::string::npos,
             reset.out);
  BOOST_TEST((ready() == Ids{"G-1"}));
  auto shown = Baton(site, {"show", "G-1", "--json"});
  BOOST_REQUIRE(shown.exit_code == 0);
  BOOST_TEST(!json::parse(shown.out).contains("gate"), shown.out);

  // A new decision stands alone, without a conflict.
  BOOST_REQUIRE(Baton(site, {"gate", "G-1", "no-go"}).exit_code == 0);
  shown = Baton(site, {"show", "G-1", "--json"});
  BOOST_REQUIRE(shown.exit_code == 0);
  const json g = json::parse(shown.out)["gate"];
  BOOST_TEST(!g["go"].get<bool>());
  BOOST_TEST(!g["conflict"].get<bool>());
  BOOST_TEST(StatusJson(site)["mode"].get<std::string>() == "backing_out");
  BOOST_REQUIRE(Baton(site, {"reset", "G-1"}).exit_code == 0);  // The no-go withdrawn too.
  BOOST_TEST(StatusJson(site)["mode"].get<std::string>() == "forward");
}

BOOST_AUTO_TEST_CASE(undo_corrects_a_report_or_a_decision_with_a_new_event) {
  Site site("hq");
  site.Start();
  testing::TempDir dir("baton-undo");
  ImportCsv(site, dir,
            "ID,Task Name,Duration,Predecessors,Type\n"
            "T-1,Freeze,30m,,\n"
            "G-1,Go/no-go,0,T-1,gate\n"
            "G-2,Go/no-go 2,0,T-1,gate\n");
  const auto event_of = [&](std::vector<std::string> args) {
    args.push_back("--json");
    auto r = Baton(site, args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return json::parse(r.out)["event"].get<std::string>();
  };
  const auto task = [&](const std::string& id) {
    auto r = Baton(site, {"show", id, "--json"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return json::parse(r.out);
  };
  event_of({"start", "T-1", "--at", "2026-03-27 20:05"});
  const int64_t started = task("T-1")["actual_start"].get<int64_t>();
  const std::string done = event_of({"done", "T-1"});

  // The done undone: T-1 runs again, since its start.
  auto undone = Baton(site, {"undo", done, "--reason", "done was meant for T-2"});
  BOOST_REQUIRE_MESSAGE(undone.exit_code == 0, undone.err);
  BOOST_TEST(undone.out.find(done + " undone (event hq/") != std::string::npos, undone.out);
  BOOST_TEST(undone.out.find("T-1 is running, as hq/") != std::string::npos, undone.out);
  json t1 = task("T-1");
  BOOST_TEST(t1["status"].get<std::string>() == "running");
  BOOST_TEST(t1["actual_start"].get<int64_t>() == started);
  BOOST_TEST(t1["live_reports"][0]["note"].get<std::string>() ==
             "undo of " + done + ": done was meant for T-2");

  // What is no longer in force, what is not a report, what is not here: refused, nothing written.
  auto again = Baton(site, {"undo", done, "--reason", "twice"});
  BOOST_TEST(again.exit_code == 1, again.err);  // Invalid argument.
  BOOST_TEST(again.err.find("event " + done + " is no longer in force on T-1") != std::string::npos,
             again.err);
  auto plan = Baton(site, {"undo", "hq/1", "--reason", "wrong plan"});
  BOOST_TEST(plan.exit_code == 1, plan.err);
  BOOST_TEST(plan.err.find("event hq/1 is a plan_defined: only reports and gate decisions") !=
                 std::string::npos,
             plan.err);
  auto absent = Baton(site, {"undo", "hq/999", "--reason", "typo"});
  BOOST_TEST(absent.exit_code != 0);
  BOOST_TEST(absent.err.find("event hq/999 is not at site hq") != std::string::npos, absent.err);
  auto garbled = Baton(site, {"undo", "T-1", "--reason", "typo"});
  BOOST_TEST(garbled.exit_code == 1, garbled.err);
  BOOST_TEST(garbled.err.find("\"T-1\" is not an event id") != std::string::npos, garbled.err);
  auto no_reason = Baton(site, {"undo", done});
  BOOST_TEST(no_reason.exit_code != 0);
  BOOST_TEST(no_reason.err.find("--reason") != std::string::npos, no_reason.err);
  BOOST_TEST(task("T-1")["history"].size() == t1["history"].size());

  // A decision undone restores the one it replaced; a gate's first one undone leaves it
  // undecided.
  BOOST_REQUIRE(Baton(site, {"done", "T-1"}).exit_code == 0);
  const std::string go = event_of({"gate", "G-1", "go"});
  const std::string nogo = event_of({"gate", "G-1", "no-go"});
  auto back = Baton(site, {"undo", nogo, "--reason", "wrong gate"});
  BOOST_REQUIRE_MESSAGE(back.exit_code == 0, back.err);
  BOOST_TEST(back.out.find("gate G-1 is go again, as " + go + " had it") != std::string::npos,
             back.out);
  json g1 = task("G-1");
  BOOST_TEST(g1["gate"]["go"].get<bool>());
  const std::string restored = g1["gate"]["event"].get<std::string>();
  auto first = Baton(site, {"undo", restored, "--reason", "not decided yet"});
  BOOST_REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  // The restoring go replaced the no-go: undoing it brings the no-go back, as a register does.
  BOOST_TEST(first.out.find("gate G-1 is no-go again") != std::string::npos, first.out);
  const std::string only = event_of({"gate", "G-2", "go"});
  auto undecided = Baton(site, {"undo", only, "--reason", "decided too early"});
  BOOST_REQUIRE_MESSAGE(undecided.exit_code == 0, undecided.err);
  BOOST_TEST(undecided.out.find("gate G-2 is undecided") != std::string::npos, undecided.out);
  BOOST_TEST(!task("G-2").contains("gate"));
}

BOOST_AUTO_TEST_CASE(watch_board_follows_the_daemon_across_a_restart) {
  Site site("hq");
  site.Start();
  BOOST_REQUIRE(Baton(site, ImportExample()).exit_code == 0);
  testing::TempDir dir("baton-watch");
  const std::string log = (dir / "watch.log").string();
  testing::ChildProcess watch;
  BOOST_REQUIRE(watch.Start({"/usr/bin/env", "NO_COLOR=1", testing::BatonPath(), "--data",
                             site.data(), "watch", "--no-clear", "--no-color"},
                            log));
  auto wait_for = [&](const std::string& needle) {
    for (int i = 0; i < 300; ++i) {  // At most 30 s.
      if (ReadFile(log).find(needle) != std::string::npos) return true;
      usleep(100 * 1000);
    }
    return false;
  };
  BOOST_REQUIRE(Baton(site, {"start", "T-001"}).exit_code == 0);
  BOOST_REQUIRE_MESSAGE(wait_for("hq/2"), ReadFile(log));
  BOOST_REQUIRE(site.Stop() == 0);
  site.Start();
  BOOST_REQUIRE(Baton(site, {"done", "T-001"}).exit_code == 0);
  // The board reconnects and shows the event recorded after the restart.
  BOOST_TEST(wait_for("hq/3"), ReadFile(log));
  watch.Stop();
}

BOOST_AUTO_TEST_CASE(every_command_has_help_with_an_example) {
  for (const std::vector<std::string>& cmd :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"plan", "import", "--help"},
                                             {"done", "--help"},
                                             {"status", "--help"},
                                             {"site", "add", "--help"},
                                             {"site", "ls", "--help"},
                                             {"watch", "--help"}}) {
    std::vector<std::string> argv{testing::BatonPath()};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    auto r = RunCommand(argv);
    BOOST_TEST(r.exit_code == 0, cmd.front());
    BOOST_TEST(r.out.find("xample") != std::string::npos, cmd.front() << ": " << r.out);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace baton
