// baton-audit verify on real logs: two real batond sites replicating (verified while they run,
// and left unchanged by it), then one site's stopped log altered on copies in every way the
// auditor must name (flipped bytes, deletions, insertions, reorders, a forged signature, a fork,
// events spliced from another runbook, a damaged arrival index) and hundreds of random bit flips:
// each detected and named; no false alarm on the clean logs. Mutations: 150, or
// `-- --mutations N` (the soak label runs 3,000).
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "client/bundle.h"
#include "crdt/event_codec.h"
#include "daemon/identity/keys.h"
#include "daemon/store/event_store.h"
#include "daemon/store/keys.h"
#include "tests/support/args.h"
#include "tests/support/doctor.h"
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

// A stored event value is a format byte, prev_hash and hash, then the envelope: version byte,
// u64le payload size, payload, signature size byte, signature (docs/event-format.md). The cases
// below cut into it from its end: the signature is its last 64 bytes.

testing::CommandResult Audit(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BATON_AUDIT_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv, 60000);
}

json VerifyJson(const std::string& data, int expected_exit) {
  const auto r = Audit({"verify", "--data", data, "--json"});
  BOOST_TEST_REQUIRE(r.exit_code == expected_exit, "exit " << r.exit_code << "\n"
                                                           << r.out << r.err);
  return json::parse(r.out);
}

// Every file under `dir` with its bytes: to show that verify wrote nothing.
std::map<std::string, std::string> Contents(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    if (f.is_regular_file()) files[f.path().string()] = testing::ReadFile(f.path().string());
  }
  return files;
}

BOOST_AUTO_TEST_CASE(verify_passes_clean_logs_while_batond_runs_and_writes_nothing) {
  Weekend w({"hq", "v1"}, "");
  w.Link(1, 0);
  w.StartAll();
  w.ImportPlan(testing::PlanFor(w));
  w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "start"}});
  w.Call(0, "report", json{{"task", "T-hq"}, {"kind", "start"}});
  for (int i = 0; i < 5; ++i) {
    w.Call(i % 2, "note",
           json{{"task", i % 2 ? "T-v1" : "T-hq"}, {"text", "n" + std::to_string(i)}});
  }
  w.Call(1, "report", json{{"task", "T-v1"}, {"kind", "done"}});
  w.Call(1, "note",
         json{{"task", "T-v1"}, {"text", "by a formula"}, {"actor", "=HYPERLINK(\"http://x\")"}});
  w.Call(0, "note", json{{"task", "T-hq"}, {"text", "two, \"quoted\"\nlines"}});
  w.WaitConverged("before verify");

  // The timeline: the same events in the same order at both sites, in causal order.
  const auto timeline_of = [&](size_t i) {
    const auto r = Audit({"timeline", "--data", w.at(i).data(), "--format", "json"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
    return json::parse(r.out);
  };
  const json hq_timeline = timeline_of(0);
  BOOST_TEST(hq_timeline["events"] == timeline_of(1)["events"]);
  BOOST_TEST(hq_timeline["events"].size() == w.Status(0)["events"].get<size_t>());
  bool done_seen = false;
  int64_t previous_ms = 0;
  for (const json& row : hq_timeline["events"]) {
    BOOST_TEST(row["recorded_ms"].get<int64_t>() >= previous_ms, row.dump());
    previous_ms = row["recorded_ms"].get<int64_t>();
    BOOST_TEST(row["counted"].get<bool>(), row.dump());
    if (row["site"] == "v1" && row["kind"] == "task_reported" && row["change"] == "done") {
      done_seen = row["task"] == "T-v1" && !row["actor"].get<std::string>().empty();
    }
  }
  BOOST_TEST(done_seen, hq_timeline.dump(1));
  BOOST_TEST(hq_timeline["events"][0]["kind"] == "plan_defined");
  const auto csv = Audit({"timeline", "--data", w.at(0).data()});
  BOOST_TEST_REQUIRE(csv.exit_code == 0, csv.err);
  BOOST_TEST(csv.out.rfind("recorded_utc,effective_utc,site,event,actor,kind,task,change,", 0) ==
             0);
  // A cell a spreadsheet would run as a formula is defused; quotes and newlines are quoted.
  BOOST_TEST(csv.out.find(",\"'=HYPERLINK(\"\"http://x\"\") (") != std::string::npos, csv.out);
  BOOST_TEST(csv.out.find(",\"note: two, \"\"quoted\"\"\nlines\",") != std::string::npos, csv.out);

  // While both daemons run: intact at both sites, every event of both origins verified.
  for (size_t i = 0; i < 2; ++i) {
    BOOST_TEST_CONTEXT("site " << w.at(i).id()) {
      const json report = VerifyJson(w.at(i).data(), 0);
      BOOST_TEST(report["intact"].get<bool>());
      BOOST_TEST(report["problems"].empty(), report["problems"].dump());
      BOOST_TEST(report["events"].get<uint64_t>() == w.Status(i)["events"].get<uint64_t>());
      BOOST_TEST(report["arrivals"].get<uint64_t>() == report["events"].get<uint64_t>());
      BOOST_TEST(report["trust_site"] == "hq");
      BOOST_TEST_REQUIRE(report["origins"].size() == 2u);
      for (const json& o : report["origins"]) {
        BOOST_TEST(o["verified_through"] == o["events"], o.dump());
        BOOST_TEST(o["events"].get<uint64_t>() > 0u);
      }
      const auto text = Audit({"verify", "--data", w.at(i).data()});
      BOOST_TEST(text.exit_code == 0, text.out << text.err);
      BOOST_TEST(text.out.find("INTACT") != std::string::npos, text.out);
      BOOST_TEST(text.err.empty(), "stderr is not a terminal: no progress expected: " << text.err);
    }
  }
  // Verify reads events a running daemon has just written, not a stale view.
  w.Call(0, "note", json{{"task", "T-hq"}, {"text", "after the first verify"}});
  BOOST_TEST(VerifyJson(w.at(0).data(), 0)["events"].get<uint64_t>() ==
             w.Status(0)["events"].get<uint64_t>());

  // A site removed from the roster: its events still verify, with the key it had; the removal
  // fences its chain at what hq held of it.
  uint64_t v1_head = 0;
  const json before_removal = VerifyJson(w.at(0).data(), 0);
  for (const json& o : before_removal["origins"]) {
    if (o["origin"] == "v1") v1_head = o["events"].get<uint64_t>();
  }
  BOOST_TEST_REQUIRE(v1_head > 0u);
  const json removed = w.Call(0, "site.remove", json{{"site", "v1"}});
  BOOST_TEST(removed["fenced_at"].get<uint64_t>() == v1_head);
  const json after_removal = VerifyJson(w.at(0).data(), 0);
  BOOST_TEST(after_removal["problems"].empty(), after_removal["problems"].dump());
  for (const json& o : after_removal["origins"]) {
    BOOST_TEST(o["verified_through"] == o["events"], o.dump());
  }
  // Its bundles (through the daemon, and offline) list it as removed, with its key and teams.
  testing::TempDir bundles("bundles");
  const std::string exported = bundles.str() + "/hq.bundle";
  const std::string offline = bundles.str() + "/hq-offline.bundle";
  const auto by_daemon = testing::RunCommand(
      {testing::BatonPath(), "--data", w.at(0).data(), "export", "--bundle", exported}, 60000);
  BOOST_TEST_REQUIRE(by_daemon.exit_code == 0, by_daemon.out << by_daemon.err);
  const auto made = Audit({"bundle", "--data", w.at(0).data(), offline});
  BOOST_TEST_REQUIRE(made.exit_code == 0, made.out << made.err);
  for (const std::string& file : {exported, offline}) {
    BOOST_TEST_CONTEXT(file) {
      const json report = VerifyJson(file, 0);
      BOOST_TEST(report["problems"].empty(), report["problems"].dump());
      auto contents = bundle::Read(file);
      BOOST_TEST_REQUIRE(contents.ok(), contents.status().ToString());
      BOOST_TEST(contents->header.version == bundle::kFormatVersion);
      std::map<std::string, bool> listed;
      for (const bundle::RosterSite& site : contents->manifest.roster) {
        listed[site.id] = site.removed;
        if (site.id == "v1") BOOST_TEST(identity::ToHex(site.public_key) == w.Key(1));
      }
      BOOST_TEST((listed == std::map<std::string, bool>{{"hq", false}, {"v1", true}}));
    }
  }

  // Stopped: verify leaves every file of the data directory as it was.
  for (size_t i = 0; i < 2; ++i) BOOST_TEST(w.at(i).Stop() == 0);
  const auto before = Contents(w.at(1).data());
  VerifyJson(w.at(1).data(), 0);
  BOOST_TEST((Contents(w.at(1).data()) == before), "baton-audit verify changed the directory");

  // The trust anchor given by the auditor, not the site's config: the wrong key fails.
  const auto right = Audit({"verify", "--data", w.at(1).data(), "--trust", "hq:" + w.Key(0)});
  BOOST_TEST(right.exit_code == 0, right.out << right.err);
  const auto wrong = Audit({"verify", "--data", w.at(1).data(), "--trust", "hq:" + w.Key(1)});
  BOOST_TEST(wrong.exit_code == 1, wrong.out << wrong.err);
  BOOST_TEST(wrong.out.find("bad_signature") != std::string::npos, wrong.out);
}

BOOST_AUTO_TEST_CASE(verify_refuses_what_is_not_a_log_with_exit_2) {
  testing::TempDir dir("audit-empty");
  const auto missing = Audit({"verify", "--data", dir.str() + "/nothing"});
  BOOST_TEST(missing.exit_code == 2, missing.out << missing.err);
  BOOST_TEST(missing.err.find("batond.conf") != std::string::npos, missing.err);
  const auto bad_trust = Audit({"verify", "--data", dir.str(), "--trust", "hq:zz"});
  BOOST_TEST(bad_trust.exit_code == 2, bad_trust.out << bad_trust.err);
  BOOST_TEST(bad_trust.err.find("--trust") != std::string::npos, bad_trust.err);
  const auto help = Audit({"verify", "--help"});
  BOOST_TEST(help.exit_code == 0);
  BOOST_TEST(help.out.find("--trust") != std::string::npos, help.out);
}

// A stopped one-site log to damage: a plan and `events` reports and notes, one signed batch each.
struct Evidence {
  Site site{"hq"};
  std::filesystem::path store;
  std::vector<std::pair<std::string, std::string>> events;  // Raw (key, value), in seq order.
  uint64_t head = 0;

  explicit Evidence(const std::string& runbook, int events_wanted) {
    site.Start();
    auto c = site.Connect();
    BOOST_TEST_REQUIRE(c.Call("plan.import", json{{"plan", testing::TwoTaskPlan(runbook)}}).ok());
    for (int i = 1; i < events_wanted; ++i) {
      auto r = i % 3 == 0
                   ? c.Call("report", json{{"task", "T-1"}, {"kind", i % 2 ? "start" : "reset"}})
                   : c.Call("note", json{{"task", "T-2"}, {"text", "note " + std::to_string(i)}});
      BOOST_TEST_REQUIRE(r.ok(), r.status().ToString());
    }
    BOOST_TEST_REQUIRE(site.Stop() == 0);
    store = std::filesystem::path(site.data()) / "events";
    events = testing::DoctorRead(store, "events");
    head = events.size();
    BOOST_TEST_REQUIRE(head == static_cast<uint64_t>(events_wanted));
  }
  std::string Key(uint64_t seq) const { return store::EventKey("hq", seq); }
  const std::string& Value(uint64_t seq) const { return events.at(seq - 1).second; }
};

// A copy of the evidence's data directory, removed at the end.
struct Mutant {
  testing::TempDir dir{"audit-mutant"};
  std::filesystem::path data;
  std::filesystem::path store;
  explicit Mutant(const Evidence& e) {
    data = dir.path() / "hq";
    store = data / "events";
    std::filesystem::create_directories(data);
    std::filesystem::copy(e.store, store, std::filesystem::copy_options::recursive);
    std::filesystem::copy(std::filesystem::path(e.site.data()) / "batond.conf", data);
  }
};

// The report must be "problems found" and name `kind` at `event` (or in its message).
void ExpectNamed(const audit::VerifyReport& report, const std::string& kind,
                 const std::string& event, const std::string& what) {
  BOOST_TEST_CONTEXT(what) {
    BOOST_TEST(!report.intact());
    bool found = false;
    for (const auto& p : report.problems) {
      if (p.kind == kind &&
          (p.event.ToString() == event || p.message.find(event) != std::string::npos)) {
        found = true;
      }
    }
    BOOST_TEST(found, "no " << kind << " naming " << event << " in:\n"
                            << audit::FormatReport(report));
  }
}

audit::VerifyReport MustVerify(const std::filesystem::path& data) {
  audit::VerifyOptions options;
  options.data_dir = data;
  auto report = audit::Verify(options);
  BOOST_TEST_REQUIRE(report.ok(), report.status().ToString());
  return *report;
}

BOOST_AUTO_TEST_CASE(verify_names_each_kind_of_tampering) {
  Evidence e("rb-audit", 24);
  BOOST_TEST_REQUIRE(MustVerify(e.site.data()).intact(),
                     audit::FormatReport(MustVerify(e.site.data())));
  const uint64_t n = e.head;

  {  // A byte of a note's payload changed in place.
    Mutant m(e);
    std::string value = e.Value(5);
    value[value.size() - 70] ^= 0x20;
    testing::Doctor(m.store, "events", {{e.Key(5), value}});
    ExpectNamed(MustVerify(m.data), "stored_hash", "hq/5", "payload edited");
  }
  {  // A middle event deleted.
    Mutant m(e);
    testing::Doctor(m.store, "events", {}, {e.Key(7)});
    const auto report = MustVerify(m.data);
    ExpectNamed(report, "gap", "hq/7", "middle event deleted");
    ExpectNamed(report, "arrival_dangling", "hq/7", "middle event deleted");
  }
  {  // The last events cut off.
    Mutant m(e);
    testing::Doctor(m.store, "events", {}, {e.Key(n), e.Key(n - 1)});
    ExpectNamed(MustVerify(m.data), "arrival_dangling", "hq/" + std::to_string(n), "truncated");
  }
  {  // An event inserted after the head: a copy of another one.
    Mutant m(e);
    testing::Doctor(m.store, "events", {{e.Key(n + 1), e.Value(3)}});
    const auto report = MustVerify(m.data);
    ExpectNamed(report, "misfiled", "hq/" + std::to_string(n + 1), "inserted");
    ExpectNamed(report, "arrival_missing", "hq/" + std::to_string(n + 1), "inserted");
  }
  {  // Two events swapped.
    Mutant m(e);
    testing::Doctor(m.store, "events", {{e.Key(4), e.Value(6)}, {e.Key(6), e.Value(4)}});
    const auto report = MustVerify(m.data);
    ExpectNamed(report, "misfiled", "hq/4", "reordered");
    ExpectNamed(report, "misfiled", "hq/6", "reordered");
  }
  {  // A signature replaced by another event's.
    Mutant m(e);
    const std::string& donor = e.Value(9);
    std::string value = e.Value(8);
    BOOST_TEST_REQUIRE(static_cast<unsigned char>(value[value.size() - 65]) == 64u,
                       "hq/8 is not signed");
    value.replace(value.size() - 64, 64, donor.substr(donor.size() - 64));
    testing::Doctor(m.store, "events", {{e.Key(8), value}});
    ExpectNamed(MustVerify(m.data), "bad_signature", "hq/8", "signature forged");
  }
  {  // A second, different event for hq/10 kept as fork evidence.
    Mutant m(e);
    {
      store::StoreOptions options;
      options.path = m.store;
      auto store = store::EventStore::Open(options);
      BOOST_TEST_REQUIRE(store.ok(), store.status().ToString());
      auto stored = (*store)->Get(crdt::EventId{"hq", 10});
      BOOST_TEST_REQUIRE((stored.ok() && stored->has_value()));
      store::StoredEvent other = **stored;
      auto envelope = crdt::DecodeEnvelope(other.envelope);
      BOOST_TEST_REQUIRE(envelope.ok());
      envelope->payload[envelope->payload.size() - 2] ^= 0x01;
      other.envelope = crdt::EncodeEnvelope(*envelope);
      other.hash = identity::HashPayload(envelope->payload);
      BOOST_TEST_REQUIRE((*store)->RecordFork(other).ok());
    }
    const auto report = MustVerify(m.data);
    BOOST_TEST(report.forks == 1u);
    ExpectNamed(report, "fork", "hq/10", "fork");
  }
  {  // Events of another runbook's log spliced in after the head.
    Evidence other("rb-other", 3);
    Mutant m(e);
    testing::Doctor(m.store, "events",
                    {{e.Key(n + 1), other.Value(2)}, {e.Key(n + 2), other.Value(3)}});
    ExpectNamed(MustVerify(m.data), "other_runbook", "hq/" + std::to_string(n + 1), "spliced");
  }
  {  // The arrival index: an entry deleted, an entry repeated.
    const auto arrivals = testing::DoctorRead(e.store, "arrivals");
    BOOST_TEST_REQUIRE(arrivals.size() >= 3u);
    Mutant deleted(e);
    testing::Doctor(deleted.store, "arrivals", {}, {arrivals[2].first});
    const auto report = MustVerify(deleted.data);
    BOOST_TEST(!report.intact());
    bool missing = false;
    for (const auto& p : report.problems) missing = missing || p.kind == "arrival_missing";
    BOOST_TEST(missing, audit::FormatReport(report));
    Mutant repeated(e);
    testing::Doctor(repeated.store, "arrivals", {{store::ArrivalKey(n + 1), arrivals[1].second}});
    const auto again = MustVerify(repeated.data);
    bool listed_twice = false;
    for (const auto& p : again.problems)
      listed_twice = listed_twice || p.kind == "arrival_repeated";
    BOOST_TEST(listed_twice, audit::FormatReport(again));
  }
  {  // The exit status and the report a person reads.
    Mutant m(e);
    testing::Doctor(m.store, "events", {}, {e.Key(7)});
    const auto r = Audit({"verify", "--data", m.data.string()});
    BOOST_TEST(r.exit_code == 1, r.out << r.err);
    BOOST_TEST(r.out.find("gap") != std::string::npos, r.out);
    BOOST_TEST(r.out.find("hq/7") != std::string::npos, r.out);
  }
}

BOOST_AUTO_TEST_CASE(every_random_bit_flip_in_a_stored_event_is_detected_and_named) {
  const int mutations = testing::IntArg("--mutations", nullptr, 150);
  Evidence e("rb-flips", 12);
  std::mt19937 rng(20261202);
  int undetected = 0;
  std::map<std::string, int> by_kind;
  for (int i = 0; i < mutations; ++i) {
    const uint64_t seq = 1 + rng() % e.head;
    std::string value = e.Value(seq);
    const size_t at = rng() % value.size();
    value[at] = static_cast<char>(value[at] ^ (1 << (rng() % 8)));
    Mutant m(e);
    testing::Doctor(m.store, "events", {{e.Key(seq), value}});
    const auto report = MustVerify(m.data);
    const std::string id = "hq/" + std::to_string(seq);
    bool named = false;
    for (const auto& p : report.problems) {
      if (p.event.ToString() == id || p.message.find(id + ":") != std::string::npos ||
          p.message.find(id + " ") != std::string::npos) {
        named = true;
        if (by_kind[p.kind]++ == 0) BOOST_TEST_MESSAGE("first " << p.kind << ": " << p.message);
      }
    }
    for (const auto& p : report.problems) {
      // An undecodable event is stored: the arrival index listing it is not dangling.
      BOOST_TEST(!(p.kind == "arrival_dangling" && p.event.ToString() == id), p.message);
    }
    if (!named) {
      ++undetected;
      BOOST_TEST(named, "bit flip at byte " << at << " of " << id << " (value of " << value.size()
                                            << " bytes) not named:\n"
                                            << audit::FormatReport(report));
    }
  }
  std::string kinds;
  for (const auto& [kind, count] : by_kind) kinds += " " + kind + " " + std::to_string(count);
  BOOST_TEST_MESSAGE(mutations << " bit flips, " << undetected << " not named; named as:" << kinds);
}

}  // namespace
}  // namespace baton
