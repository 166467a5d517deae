// Ledger: the store, the chain writer, the clock and the projection together, on a real data
// directory. What start-up does with what it finds: snapshots that do not fit the log, a wall
// clock that went back, another origin's timestamp beyond the skew bound.
#include "daemon/ledger.h"

#include <poll.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "crdt/event.h"
#include "crdt/event_codec.h"
#include "daemon/config.h"
#include "daemon/identity/chain.h"
#include "daemon/identity/keys.h"
#include "daemon/store/event_store.h"
#include "tests/support/args.h"
#include "tests/support/doctor.h"
#include "tests/support/temp_dir.h"

namespace baton::daemon {
namespace {

constexpr int64_t kT0 = 1'774'641'600'000;  // 2026-03-27T20:00:00Z
constexpr int64_t kHour = 3'600'000;

Config SiteConfig(const testing::TempDir& dir, const std::string& site = "hq") {
  Config c;
  c.data_dir = dir.path() / site;
  c.site = site;
  return c;
}

crdt::PlanDefined Plan() {
  crdt::PlanDefined d;
  d.plan.runbook_id = "rb-1";
  d.plan.name = "Cut-over";
  d.plan.timezone = "UTC";
  d.plan.window_start_ms = kT0;
  d.plan.window_end_ms = kT0 + 10 * kHour;
  d.plan.sites = {crdt::SiteInfo{"hq", "HQ", "", crdt::SiteRole::kManager, "", {}}};
  for (const char* id : {"T-1", "T-2", "T-3"}) {
    crdt::TaskSpec t;
    t.id = id;
    t.title = std::string("Task ") + id;
    t.site = "hq";
    t.duration_ms = kHour / 2;
    d.plan.tasks.push_back(t);
  }
  return d;
}

crdt::TaskReported Report(const std::string& task, crdt::ReportKind kind) {
  crdt::TaskReported r;
  r.task_id = task;
  r.kind = kind;
  return r;
}

std::unique_ptr<Ledger> MustOpen(const Config& c, int64_t now_ms) {
  auto ledger = Ledger::Open(c, [now_ms] { return now_ms; });
  BOOST_TEST_REQUIRE(ledger.ok(), ledger.status().ToString());
  return std::move(ledger).value();
}

// A site with the plan and `reports` status reports, closed again. Returns its digest.
std::string Populate(const Config& c, int reports) {
  BOOST_TEST_REQUIRE(Ledger::Create(c).ok());
  auto ledger = MustOpen(c, kT0);
  BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", Plan()}).ok());
  const crdt::ReportKind cycle[] = {crdt::ReportKind::kStarted, crdt::ReportKind::kDone,
                                    crdt::ReportKind::kReset};
  for (int i = 0; i < reports; ++i) {
    auto id = ledger->Append(Draft{"dm", Report("T-1", cycle[i % 3])});
    BOOST_TEST_REQUIRE(id.ok(), id.status().ToString());
  }
  return ledger->StateDigest();
}

void PutSnapshot(const Config& c, const std::string& bytes, uint64_t arrival) {
  store::StoreOptions so;
  so.path = c.StorePath();
  so.site = c.site;
  auto store = store::EventStore::Open(so);
  BOOST_TEST_REQUIRE(store.ok(), store.status().ToString());
  BOOST_TEST_REQUIRE((*store)->PutSnapshot(bytes, arrival).ok());
}

// Stores signed reports of another origin (as replication would), one per timestamp.
void AppendForeign(const Config& c, const std::string& origin, const std::vector<int64_t>& at) {
  store::StoreOptions so;
  so.path = c.StorePath();
  so.site = c.site;
  auto store = store::EventStore::Open(so);
  BOOST_TEST_REQUIRE(store.ok(), store.status().ToString());
  identity::ChainWriter writer(identity::GenerateKeyPair(), "rb-1", origin, 0, crdt::Hash{});
  std::vector<crdt::Event> drafts;
  for (int64_t wall_ms : at) {
    crdt::Event e;
    e.hlc = crdt::Hlc{wall_ms, 0};
    e.actor = "eve@" + origin;
    e.body = Report("T-3", crdt::ReportKind::kStarted);
    drafts.push_back(std::move(e));
  }
  std::vector<store::StoredEvent> batch;
  for (auto& built : writer.Build(std::move(drafts))) {
    batch.push_back(store::StoredEvent{built.event.id(), built.event.prev_hash, built.hash,
                                       std::move(built.envelope), 0});
  }
  BOOST_TEST_REQUIRE((*store)->Append(std::move(batch)).ok());
}

BOOST_AUTO_TEST_SUITE(LedgerTest)

BOOST_AUTO_TEST_CASE(an_undecodable_snapshot_is_replaced_by_a_fold_of_the_log) {
  testing::TempDir dir("ledger");
  const Config c = SiteConfig(dir);
  const std::string digest = Populate(c, 5);
  PutSnapshot(c, "not a snapshot", 6);
  auto ledger = MustOpen(c, kT0);
  BOOST_TEST(ledger->projection().event_count() == 6u);
  BOOST_TEST(ledger->StateDigest() == digest);
}

BOOST_AUTO_TEST_CASE(a_snapshot_ahead_of_the_log_is_not_trusted) {
  // A snapshot of 9 events (from another directory of the same site id) over a log of 4: its
  // version vector names events this log does not hold.
  testing::TempDir dir("ledger");
  const Config big = SiteConfig(dir);
  Populate(big, 8);
  std::string ahead = MustOpen(big, kT0)->projection().SerializeSnapshot();
  testing::TempDir dir2("ledger");
  const Config small = SiteConfig(dir2);
  const std::string digest = Populate(small, 3);
  PutSnapshot(small, ahead, 4);  // The arrival fits; the version vector does not.
  {
    auto ledger = MustOpen(small, kT0);
    BOOST_TEST(ledger->projection().event_count() == 4u);
    BOOST_TEST(ledger->StateDigest() == digest);
  }
  // A snapshot of this very log, but claiming an arrival the log never reached.
  std::string own = MustOpen(small, kT0)->projection().SerializeSnapshot();
  PutSnapshot(small, own, 99);
  auto ledger = MustOpen(small, kT0);
  BOOST_TEST(ledger->projection().event_count() == 4u);
  BOOST_TEST(ledger->StateDigest() == digest);
  // Appending still works, lands at arrival 5, and a restart holds all five.
  BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", Report("T-2", crdt::ReportKind::kStarted)}).ok());
  BOOST_TEST(ledger->last_arrival() == 5u);
  const std::string after = ledger->StateDigest();
  ledger.reset();
  auto reopened = MustOpen(small, kT0);
  BOOST_TEST(reopened->projection().event_count() == 5u);
  BOOST_TEST(reopened->StateDigest() == after);
}

BOOST_AUTO_TEST_CASE(a_snapshot_of_other_events_than_its_arrivals_is_not_trusted) {
  // Log: hq/1 hq/2 vendor/1 vendor/2 hq/3. A snapshot of hq/1-3 + vendor/1 claiming arrival 4
  // has the right count and stays within the heads, but is not the first four arrivals:
  // replaying after it would never apply vendor/2.
  testing::TempDir dir("ledger");
  const Config c = SiteConfig(dir);
  Populate(c, 1);
  AppendForeign(c, "vendor", {kT0, kT0});
  std::string digest;
  crdt::Projection wrong;
  {
    auto ledger = MustOpen(c, kT0);
    BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", Report("T-2", crdt::ReportKind::kStarted)}).ok());
    digest = ledger->StateDigest();
    for (const crdt::EventId& id : {crdt::EventId{"hq", 1}, crdt::EventId{"hq", 2},
                                    crdt::EventId{"hq", 3}, crdt::EventId{"vendor", 1}}) {
      auto e = ledger->EventById(id);
      BOOST_TEST_REQUIRE(e.ok(), e.status().ToString());
      BOOST_TEST_REQUIRE(wrong.Apply(*e).ok());
    }
  }
  PutSnapshot(c, wrong.SerializeSnapshot(), 4);
  auto ledger = MustOpen(c, kT0);
  BOOST_TEST(ledger->projection().event_count() == 5u);
  BOOST_TEST(ledger->projection().version_vector().Seen("vendor") == 2u);
  BOOST_TEST(ledger->StateDigest() == digest);
}

BOOST_AUTO_TEST_CASE(the_clock_stays_monotonic_when_the_wall_clock_goes_back) {
  testing::TempDir dir("ledger");
  const Config c = SiteConfig(dir);
  Populate(c, 2);
  crdt::Hlc before;
  {
    auto ledger = MustOpen(c, kT0 + kHour);
    auto id = ledger->Append(Draft{"dm", Report("T-2", crdt::ReportKind::kStarted)});
    BOOST_TEST_REQUIRE(id.ok());
    before = ledger->projection().Task("T-2")->LiveReports().front().hlc;
    BOOST_TEST(before.wall_ms == kT0 + kHour);
  }
  // The wall clock is two minutes behind now (within max_clock_skew_ms; beyond it the operator
  // must say the clock is right: the next case).
  auto ledger = MustOpen(c, kT0 + kHour - 2 * 60 * 1000);
  BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", Report("T-2", crdt::ReportKind::kDone)}).ok());
  const crdt::Hlc after = ledger->projection().Task("T-2")->LiveReports().front().hlc;
  BOOST_TEST((before < after));
}

BOOST_AUTO_TEST_CASE(a_stored_timestamp_beyond_the_skew_bound_does_not_drag_the_clock) {
  testing::TempDir dir("ledger");
  const Config c = SiteConfig(dir);
  Populate(c, 1);
  // Another origin's signed event, stamped a day ahead of this site's clock, in the log.
  AppendForeign(c, "vendor", {kT0 + 24 * kHour});
  auto ledger = MustOpen(c, kT0 + kHour);
  BOOST_TEST(ledger->projection().event_count() == 3u);
  BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", Report("T-2", crdt::ReportKind::kStarted)}).ok());
  const crdt::Hlc stamped = ledger->projection().Task("T-2")->LiveReports().front().hlc;
  BOOST_TEST(stamped.wall_ms == kT0 + kHour);  // Its own wall clock, not the day-ahead one.
}

constexpr int64_t k1960 = -315'619'200'000;    // 1960-01-01T00:00:00Z
constexpr int64_t k2300 = 10'413'792'000'000;  // 2300-01-01T00:00:00Z
constexpr int64_t kTenYears = 3650 * 24 * kHour;

BOOST_AUTO_TEST_CASE(a_clock_outside_the_years_2000_to_2099_stamps_nothing) {
  testing::TempDir dir("ledger");
  const Config c = SiteConfig(dir);
  Populate(c, 1);
  for (const int64_t bad : {k1960, k2300, crdt::kMinTimeMs - 1, crdt::kMaxTimeMs}) {
    auto refused = Ledger::Open(c, [bad] { return bad; });
    BOOST_TEST_REQUIRE(!refused.ok());
    BOOST_TEST((refused.status().code() == StatusCode::kUnavailable));
    BOOST_TEST(refused.status().message().find("baton records times from 2000 to 2099") !=
                   std::string::npos,
               refused.status().ToString());
  }
  int64_t now = kT0 + kHour;
  auto opened = Ledger::Open(c, [&now] { return now; });
  BOOST_TEST_REQUIRE(opened.ok(), opened.status().ToString());
  auto& ledger = **opened;
  now = k2300;  // The clock jumps while the site runs.
  auto refused = ledger.Append(Draft{"dm", Report("T-2", crdt::ReportKind::kStarted)});
  BOOST_TEST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.status().message().find(
                 "nothing was recorded: this machine's clock says 2300-01-01T00:00:00.000Z") !=
                 std::string::npos,
             refused.status().ToString());
  BOOST_TEST(ledger.staged() == 0u);
  BOOST_TEST(ledger.projection().event_count() == 2u);
  now = kT0 + 2 * kHour;
  auto accepted = ledger.Append(Draft{"dm", Report("T-2", crdt::ReportKind::kStarted)});
  BOOST_TEST_REQUIRE(accepted.ok(), accepted.status().ToString());
  BOOST_TEST(accepted->seq == 3u);  // No seq was used by the refused report.
}

BOOST_AUTO_TEST_CASE(a_site_whose_clock_ran_ahead_opens_only_when_told_and_reports_clock_time) {
  testing::TempDir dir("ledger");
  Config c = SiteConfig(dir);
  BOOST_TEST_REQUIRE(Ledger::Create(c).ok());
  crdt::Hlc ahead;
  {
    auto ledger = MustOpen(c, kT0 + kTenYears);
    BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", Plan()}).ok());
    BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", Report("T-1", crdt::ReportKind::kStarted)}).ok());
    ahead = ledger->projection().Task("T-1")->LiveReports().front().hlc;
  }
  // Within the skew bound it is an ordinary restart; beyond it, the operator must say so.
  BOOST_TEST(Ledger::Open(c, [&] { return ahead.wall_ms - c.max_clock_skew_ms; }).ok());
  auto refused = Ledger::Open(c, [] { return kT0; });
  BOOST_TEST_REQUIRE(!refused.ok());
  BOOST_TEST((refused.status().code() == StatusCode::kRejected));
  BOOST_TEST(refused.status().message().find("(hq/2) is stamped 2036-03-24") != std::string::npos,
             refused.status().ToString());
  BOOST_TEST(refused.status().message().find("3650 days 0 h ahead of this machine's clock") !=
                 std::string::npos,
             refused.status().ToString());

  c.accept_clock_ahead = true;
  auto ledger = MustOpen(c, kT0);
  BOOST_TEST(ledger->clock_ahead_ms() == ahead.wall_ms - kT0);
  BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", Report("T-2", crdt::ReportKind::kStarted)}).ok());
  const auto report = ledger->projection().Task("T-2")->LiveReports().front();
  BOOST_TEST((ahead < report.hlc));     // Still in timestamp order along the chain,
  BOOST_TEST(report.time_ms() == kT0);  // but reported at the clock's time.
  crdt::TaskReported at = Report("T-3", crdt::ReportKind::kStarted);
  at.effective_ms = kT0 - kHour;  // A time the reporter gave is kept.
  BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", at}).ok());
  BOOST_TEST(ledger->projection().Task("T-3")->LiveReports().front().time_ms() == kT0 - kHour);
}

// What a damaged file makes of the log: the ledger refuses to open it, or the check of every
// event as served finds the damage, or every event is served exactly as it was stored. Never
// other events, and never fewer.
enum class Outcome { kRefused, kDetected, kIntact, kServedWrong };

Outcome OpenAndServe(const Config& c, const std::vector<std::string>& originals, std::string* why) {
  auto opened = Ledger::Open(c, [] { return kT0 + 2 * kHour; });
  if (!opened.ok()) {
    *why = opened.status().ToString();
    return Outcome::kRefused;
  }
  std::vector<std::string> served;
  std::vector<Ledger::ServedEvent> batch;
  for (uint64_t cursor = 0;;) {
    Status read = (*opened)->ReadServed(cursor, 64, &batch);
    if (!read.ok()) {
      *why = read.ToString();
      return Outcome::kDetected;
    }
    if (batch.empty()) break;
    for (auto& e : batch) served.push_back(std::move(e.envelope));
    cursor = batch.back().arrival;
  }
  if (served == originals) return Outcome::kIntact;
  *why = std::to_string(served.size()) + " events served of " + std::to_string(originals.size());
  return Outcome::kServedWrong;
}

BOOST_AUTO_TEST_CASE(a_damaged_file_of_the_log_is_refused_or_detected_never_served_wrong) {
  testing::TempDir dir("ledger");
  const Config c = SiteConfig(dir);
  Populate(c, 40);
  testing::DoctorFlush(c.StorePath());  // The first ones in table files.
  // Two images of the log: as a crash leaves it (copied while the ledger is open: the last
  // events only in the WAL) and as a clean stop leaves it (everything in table files).
  testing::TempDir images("ledger-images");
  Config crashed = c;
  crashed.data_dir = images.path() / "crashed";
  std::vector<std::string> originals;
  {
    auto ledger = MustOpen(c, kT0 + kHour);
    for (int i = 0; i < 20; ++i) {
      BOOST_TEST_REQUIRE(
          ledger->Append(Draft{"dm", Report("T-3", crdt::ReportKind::kStarted)}).ok());
    }
    std::vector<Ledger::ServedEvent> all;
    BOOST_TEST_REQUIRE(ledger->ReadServed(0, 1000, &all).ok());
    for (auto& e : all) originals.push_back(e.envelope);
    std::filesystem::copy(c.data_dir, crashed.data_dir, std::filesystem::copy_options::recursive);
    std::filesystem::remove(crashed.StorePath() / "LOCK");
  }
  BOOST_TEST_REQUIRE(originals.size() == 61u);
  std::string why;  // (Opening an image changes it: only copies are opened below.)

  // The files by kind: what RocksDB keeps in a data directory.
  const auto kind_of = [](const std::string& name) -> std::string {
    if (name.size() > 4 && name.substr(name.size() - 4) == ".log") return "wal";
    if (name.size() > 4 && name.substr(name.size() - 4) == ".sst") return "table";
    if (name.rfind("MANIFEST-", 0) == 0) return "manifest";
    if (name == "CURRENT") return "current";
    return "";
  };
  const auto files_of = [&](const Config& image) {
    std::map<std::string, std::vector<std::string>> files;
    for (const auto& f : std::filesystem::directory_iterator(image.StorePath())) {
      const std::string kind = kind_of(f.path().filename().string());
      if (!kind.empty() && f.file_size() > 0) files[kind].push_back(f.path().filename().string());
    }
    return files;
  };
  const auto clean_files = files_of(c);
  const auto crashed_files = files_of(crashed);
  for (const char* kind : {"table", "manifest", "current"}) {
    BOOST_TEST_REQUIRE(clean_files.count(kind) == 1u, "no " << kind << " file to damage");
  }
  BOOST_TEST_REQUIRE(crashed_files.count("wal") == 1u, "no WAL with events after a crash");

  std::mt19937 rng(20261201);
  std::map<std::string, std::map<Outcome, int>> outcomes;
  // CI: one round (160 mutations); the soak label 20 (`-- --mutation-rounds 20`).
  const int rounds = std::max(1, testing::IntArg("--mutation-rounds", nullptr, 1));
  // Per image and kind: bit flips, zeroed blocks, truncations. Not a WAL cut short after a
  // crash: that is what the crash itself may leave (docs/reliability.md#damaged-files).
  struct Target {
    const Config* image;
    const std::map<std::string, std::vector<std::string>>* files;
    std::string kind;
    int mutations;  // Kinds 0 (flip), 1 (zeros), 2 (truncate) in turn, or 0 and 1 only.
    bool truncate;
  };
  const Target targets[] = {{&c, &clean_files, "table", 45, true},
                            {&c, &clean_files, "manifest", 30, true},
                            {&c, &clean_files, "current", 15, true},
                            {&crashed, &crashed_files, "wal", 40, false},
                            {&crashed, &crashed_files, "table", 30, true}};
  for (const Target& t : targets) {
    const auto& names = t.files->at(t.kind);
    for (int m = 0; m < t.mutations * rounds; ++m) {
      const std::string name = names[rng() % names.size()];
      testing::TempDir copy("ledger-mutant");
      Config mutant = *t.image;
      mutant.data_dir = copy.path() / "hq";
      std::filesystem::copy(t.image->data_dir, mutant.data_dir,
                            std::filesystem::copy_options::recursive);
      const auto path = mutant.StorePath() / name;
      std::string bytes;
      {
        std::ifstream in(path, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
      }
      // Damage to the last record of a WAL is what a write torn by a crash leaves, and RocksDB
      // recovers up to it (docs/reliability.md#damaged-files): the WAL's last KiB (its last
      // record or two here) is left alone.
      const size_t span =
          t.kind == "wal" && bytes.size() > 2048 ? bytes.size() - 1024 : bytes.size();
      const size_t at = rng() % span;
      std::string how;
      switch (m % (t.truncate ? 3 : 2)) {
        case 0:
          bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
          how = "bit flipped at " + std::to_string(at);
          break;
        case 1:
          for (size_t i = at; i < std::min(span, at + 512); ++i) bytes[i] = 0;
          how = "512 bytes zeroed at " + std::to_string(at);
          break;
        default:
          bytes.resize(at);
          how = "truncated to " + std::to_string(at);
      }
      std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
      const Outcome outcome = OpenAndServe(mutant, originals, &why);
      ++outcomes[(t.image == &c ? "clean " : "crashed ") + t.kind][outcome];
      BOOST_TEST((outcome != Outcome::kServedWrong),
                 t.kind << " file " << name << ", " << how << ": " << why);
    }
  }
  for (auto& [kind, counts] : outcomes) {
    BOOST_TEST_MESSAGE("damaged " << kind << ": refused " << counts[Outcome::kRefused]
                                  << ", detected " << counts[Outcome::kDetected] << ", intact "
                                  << counts[Outcome::kIntact]);
  }
}

// Signatures of this site's chain as stored: one entry per seq, true where the event is signed.
std::vector<bool> SignedSeqs(const Ledger& ledger) {
  std::vector<bool> out;
  const uint64_t head = ledger.projection().version_vector().Seen("hq");
  for (uint64_t seq = 1; seq <= head; ++seq) {
    auto stored = ledger.store().Get(crdt::EventId{"hq", seq});
    BOOST_TEST_REQUIRE(stored.ok());
    BOOST_TEST_REQUIRE(stored->has_value());
    auto envelope = crdt::DecodeEnvelope((*stored)->envelope);
    BOOST_TEST_REQUIRE(envelope.ok());
    out.push_back(!envelope->signature.empty());
  }
  return out;
}

BOOST_AUTO_TEST_CASE(a_committed_batch_is_signed_once_at_its_end) {
  testing::TempDir dir("ledger");
  const Config c = SiteConfig(dir);
  BOOST_TEST_REQUIRE(Ledger::Create(c).ok());
  auto ledger = MustOpen(c, kT0);
  BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", Plan()}).ok());  // seq 1, a batch of one.
  for (int i = 0; i < 4; ++i) {
    BOOST_TEST_REQUIRE(ledger->Stage(Draft{"dm", Report("T-1", crdt::ReportKind::kStarted)}).ok());
  }
  BOOST_TEST_REQUIRE(ledger->Commit().ok());  // seqs 2..5: only 5 is signed.
  std::vector<bool> expected = {true, false, false, false, true};
  BOOST_TEST(SignedSeqs(*ledger) == expected, boost::test_tools::per_element());

  // A batch longer than kSignEvery is signed at least every kSignEvery events.
  const size_t n = identity::kSignEvery + 3;
  for (size_t i = 0; i < n; ++i) {
    BOOST_TEST_REQUIRE(ledger->Stage(Draft{"dm", Report("T-2", crdt::ReportKind::kStarted)}).ok());
  }
  BOOST_TEST_REQUIRE(ledger->Commit().ok());
  for (size_t i = 0; i < n; ++i) expected.push_back(i + 1 == identity::kSignEvery || i + 1 == n);
  BOOST_TEST(SignedSeqs(*ledger) == expected, boost::test_tools::per_element());

  // The stored chain verifies: every event is covered by a signature.
  std::vector<crdt::SignedEvent> chain;
  for (uint64_t seq = 1; seq <= expected.size(); ++seq) {
    auto stored = ledger->store().Get(crdt::EventId{"hq", seq});
    BOOST_TEST_REQUIRE(stored.ok());
    chain.push_back(crdt::DecodeEnvelope((*stored)->envelope).value());
  }
  const identity::ChainReport report = identity::AuditChain("hq", chain, ledger->public_key());
  BOOST_TEST(report.ok());
  BOOST_TEST(report.verified_through == expected.size());
}

// True once `fd` is readable, false after `deadline_ms` without.
bool Readable(int fd, int deadline_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, deadline_ms) == 1 && (p.revents & POLLIN) != 0;
}

BOOST_AUTO_TEST_CASE(events_staged_while_a_group_is_written_go_in_the_next_group) {
  testing::TempDir dir("ledger");
  const Config c = SiteConfig(dir);
  BOOST_TEST_REQUIRE(Ledger::Create(c).ok());
  auto ledger = MustOpen(c, kT0);
  BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", Plan()}).ok());
  const uint64_t stored = ledger->durable_ticket();
  BOOST_TEST(ledger->open_ticket() == stored);  // Nothing pending: a reply may leave now.
  BOOST_TEST(!ledger->Submit());

  auto first = ledger->Stage(Draft{"dm", Report("T-1", crdt::ReportKind::kStarted)});
  BOOST_TEST_REQUIRE(first.ok());
  const uint64_t first_ticket = ledger->open_ticket();
  BOOST_TEST(first_ticket > stored);
  BOOST_TEST_REQUIRE(ledger->Submit());  // Returns at once; the commit thread writes it.
  BOOST_TEST(ledger->committing());
  BOOST_TEST(ledger->open_ticket() == first_ticket);  // What is folded now is that group.

  // Staged on top of the group in flight, and held for the next one.
  auto second = ledger->Stage(Draft{"dm", Report("T-2", crdt::ReportKind::kStarted)});
  BOOST_TEST_REQUIRE(second.ok());
  BOOST_TEST(second->seq == first->seq + 1);
  const uint64_t second_ticket = ledger->open_ticket();
  BOOST_TEST(second_ticket > first_ticket);
  BOOST_TEST(!ledger->Submit());  // One group at a time.
  BOOST_TEST(ledger->projection().event_count() == 3u);
  BOOST_TEST(ledger->durable_vector().Seen("hq") <= first->seq);

  BOOST_TEST_REQUIRE(Readable(ledger->commit_fd(), 10000));
  Ledger::Reaped reaped = ledger->Reap();
  BOOST_TEST(reaped.finished);
  BOOST_TEST(reaped.failure.ok(), reaped.failure.ToString());
  BOOST_TEST(ledger->durable_ticket() == first_ticket);
  BOOST_TEST(ledger->durable_vector().Seen("hq") == first->seq);
  BOOST_TEST(ledger->open_ticket() == second_ticket);
  BOOST_TEST(!ledger->Reap().finished);  // Nothing more in flight.

  BOOST_TEST_REQUIRE(ledger->Submit());
  BOOST_TEST_REQUIRE(Readable(ledger->commit_fd(), 10000));
  BOOST_TEST(ledger->Reap().failure.ok());
  BOOST_TEST(ledger->durable_ticket() == second_ticket);
  BOOST_TEST(ledger->durable_vector().Seen("hq") == second->seq);
  BOOST_TEST(!Readable(ledger->commit_fd(), 0));  // Reap took the wake-up.

  // Each group was signed at its end, and both are in the log after a restart.
  const std::vector<bool> expected = {true, true, true};
  BOOST_TEST(SignedSeqs(*ledger) == expected, boost::test_tools::per_element());
  const std::string digest = ledger->StateDigest();
  ledger.reset();
  ledger = MustOpen(c, kT0);
  BOOST_TEST(ledger->projection().event_count() == 3u);
  BOOST_TEST(ledger->StateDigest() == digest);
}

// The stored envelopes of `origin`'s chain from `from` through `to`.
std::vector<std::string> Envelopes(const Ledger& ledger, const std::string& origin, uint64_t from,
                                   uint64_t to) {
  std::vector<std::string> out;
  for (uint64_t seq = from; seq <= to; ++seq) {
    auto stored = ledger.store().Get(crdt::EventId{origin, seq});
    BOOST_TEST_REQUIRE((stored.ok() && stored->has_value()), origin << "/" << seq);
    out.push_back((*stored)->envelope);
  }
  return out;
}

// An event's arrival time is when this site took it (boards showed it from then), not when its
// group reached the disk: a board answered while the group was being written shows it at a
// time no later than its arrival, which is what `baton-audit replay --site` needs.
BOOST_AUTO_TEST_CASE(an_event_arrives_when_it_is_taken_not_when_it_is_written) {
  testing::TempDir dir("ledger");
  int64_t now = kT0;
  const Config hq_config = SiteConfig(dir, "hq");
  BOOST_TEST_REQUIRE(Ledger::Create(hq_config).ok());
  auto hq = Ledger::Open(hq_config, [&now] { return now; }).value();
  BOOST_TEST_REQUIRE(hq->Append(Draft{"dm", Plan()}).ok());  // Arrival 1, at kT0.
  now = kT0 + 1000;
  BOOST_TEST_REQUIRE(hq->Stage(Draft{"dm", Report("T-1", crdt::ReportKind::kStarted)}).ok());
  now = kT0 + 2000;
  BOOST_TEST_REQUIRE(hq->Stage(Draft{"dm", Report("T-2", crdt::ReportKind::kStarted)}).ok());
  now = kT0 + 9000;  // The group is written later.
  BOOST_TEST_REQUIRE(hq->Commit().ok());

  // Received events: at the time of the Ingest, not of the commit.
  Config v1_config = SiteConfig(dir, "v1");
  v1_config.trust_site = "hq";
  v1_config.trust_key = hq->public_key();
  BOOST_TEST_REQUIRE(Ledger::Create(v1_config).ok());
  auto v1 = Ledger::Open(v1_config, [&now] { return now; }).value();
  now = kT0 + 20000;
  auto got = v1->Ingest(Envelopes(*hq, "hq", 1, 3));
  BOOST_TEST_REQUIRE((got.ok() && got->stored == 3u));
  now = kT0 + 30000;
  BOOST_TEST_REQUIRE(v1->Commit().ok());

  for (const auto& [ledger, expected] :
       {std::pair{hq.get(), std::vector<int64_t>{kT0, kT0 + 1000, kT0 + 2000}},
        std::pair{v1.get(), std::vector<int64_t>{kT0 + 20000, kT0 + 20000, kT0 + 20000}}}) {
    std::vector<store::Arrival> arrivals;
    BOOST_TEST_REQUIRE(ledger->store().ScanArrivals(0, 10, &arrivals).ok());
    std::vector<int64_t> at;
    for (const auto& a : arrivals) at.push_back(a.arrived_ms);
    BOOST_TEST(at == expected, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(a_site_whose_identity_is_not_the_rosters_is_refused) {
  testing::TempDir dir("ledger");
  const Config c = SiteConfig(dir);
  BOOST_TEST_REQUIRE(Ledger::Create(c).ok());
  {
    auto ledger = MustOpen(c, kT0);
    // A plan whose roster holds another key for hq than the one in hq's identity files.
    crdt::PlanDefined plan = Plan();
    plan.plan.sites[0].public_key = identity::GenerateKeyPair().public_key;
    BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", plan}).ok());
  }
  auto reopened = Ledger::Open(c, [] { return kT0; });
  BOOST_TEST_REQUIRE(!reopened.ok());
  BOOST_TEST((reopened.status().code() == StatusCode::kRejected), reopened.status().ToString());
  BOOST_TEST(reopened.status().message().find("but the roster holds") != std::string::npos,
             reopened.status().ToString());
}

// v2 learns of v1's removal before v1's last reports reach it (relayed late): they are verified
// with the key v1 had, stored, and judged by the removal's fence, instead of waiting forever
// for a key the roster in force no longer holds.
BOOST_AUTO_TEST_CASE(a_removed_sites_events_verify_with_the_key_it_had) {
  testing::TempDir dir("ledger");
  int64_t now = kT0;
  const auto clock = [&now] { return now; };
  Config hq_config = SiteConfig(dir, "hq");
  BOOST_TEST_REQUIRE(Ledger::Create(hq_config).ok());
  auto hq = Ledger::Open(hq_config, clock).value();
  std::map<std::string, std::unique_ptr<Ledger>> sites;
  for (const char* id : {"v1", "v2"}) {
    Config c = SiteConfig(dir, id);
    c.trust_site = "hq";
    c.trust_key = hq->public_key();
    BOOST_TEST_REQUIRE(Ledger::Create(c).ok());
    auto opened = Ledger::Open(c, clock);
    BOOST_TEST_REQUIRE(opened.ok(), opened.status().ToString());
    sites[id] = std::move(opened).value();
  }
  Ledger& v1 = *sites["v1"];
  Ledger& v2 = *sites["v2"];
  crdt::PlanDefined plan = Plan();
  plan.plan.sites = {crdt::SiteInfo{"hq", "HQ", hq->public_key(), crdt::SiteRole::kManager, "", {}},
                     crdt::SiteInfo{"v1", "V1", v1.public_key(), crdt::SiteRole::kSite, "", {}},
                     crdt::SiteInfo{"v2", "V2", v2.public_key(), crdt::SiteRole::kSite, "", {}}};
  plan.plan.tasks[2].site = "v1";  // T-3
  BOOST_TEST_REQUIRE(hq->Append(Draft{"dm", plan}).ok());
  for (Ledger* l : {&v1, &v2}) {
    auto r = l->Ingest(Envelopes(*hq, "hq", 1, 1));
    BOOST_TEST_REQUIRE((r.ok() && r->stored == 1u));
    BOOST_TEST_REQUIRE(l->Commit().ok());
  }

  now = kT0 + 60'000;
  BOOST_TEST_REQUIRE(v1.Append(Draft{"ops", Report("T-3", crdt::ReportKind::kStarted)}).ok());
  auto got = hq->Ingest(Envelopes(v1, "v1", 1, 1));
  BOOST_TEST_REQUIRE((got.ok() && got->stored == 1u));
  BOOST_TEST_REQUIRE(hq->Commit().ok());
  // v1's second report: made before it hears of its removal, past what hq holds of it.
  now = kT0 + 120'000;
  BOOST_TEST_REQUIRE(v1.Append(Draft{"ops", Report("T-3", crdt::ReportKind::kDone)}).ok());

  // hq removes v1, fenced at v1/1 (what `baton site remove` writes).
  now = kT0 + 600'000;
  crdt::PlanDefined removal;
  removal.plan = hq->projection().CurrentPlan();
  removal.plan.tasks.clear();
  removal.plan.sites.erase(removal.plan.sites.begin() + 1);
  removal.supersedes = hq->projection().roster().LiveIds();
  removal.fences = {crdt::Fence{"v1", 1}};
  BOOST_TEST_REQUIRE(hq->Append(Draft{"dm", removal}).ok());

  // v2 hears hq first, then v1's chain (through another peer, later).
  auto heard = v2.Ingest(Envelopes(*hq, "hq", 2, 2));
  BOOST_TEST_REQUIRE((heard.ok() && heard->stored == 1u));
  BOOST_TEST_REQUIRE(v2.Commit().ok());
  BOOST_TEST(v2.projection().RosterEntry("v1") == nullptr);
  BOOST_TEST(!v2.KeyOf("v1").has_value());                // The transport no longer admits v1...
  BOOST_TEST((v2.SignerKeyOf("v1") == v1.public_key()));  // ...its signatures still verify.
  auto relayed = v2.Ingest(Envelopes(v1, "v1", 1, 2));
  BOOST_TEST_REQUIRE(relayed.ok(), relayed.status().ToString());
  BOOST_TEST(relayed->stored == 2u);
  BOOST_TEST(relayed->waiting == 0u);
  BOOST_TEST(relayed->rejected == 0u);
  BOOST_TEST_REQUIRE(v2.Commit().ok());
  BOOST_TEST(v2.durable_vector().Seen("v1") == 2u);

  // Judged as of the events and the fence: the start counts, the done does not.
  const crdt::TaskState* t3 = v2.projection().Task("T-3");
  BOOST_TEST((t3->status() == crdt::TaskStatus::kRunning));
  const auto flags = v2.projection().flags();
  BOOST_TEST_REQUIRE(flags.size() == 1u);
  BOOST_TEST(flags[0].id.ToString() == "v1/2");
  // hq, given the same events, agrees.
  auto late = hq->Ingest(Envelopes(v1, "v1", 2, 2));
  BOOST_TEST_REQUIRE((late.ok() && late->stored == 1u));
  BOOST_TEST_REQUIRE(hq->Commit().ok());
  BOOST_TEST(hq->StateDigest() == v2.StateDigest());
}

BOOST_AUTO_TEST_CASE(snapshots_are_spaced_by_a_share_of_the_log) {
  testing::TempDir dir("ledger");
  Config c = SiteConfig(dir);
  c.snapshot_every = 10;
  BOOST_TEST_REQUIRE(Ledger::Create(c).ok());
  std::vector<uint64_t> taken;  // The arrival each snapshot was taken as of.
  {
    auto ledger = MustOpen(c, kT0);
    BOOST_TEST_REQUIRE(ledger->Append(Draft{"dm", Plan()}).ok());
    for (int i = 0; i < 200; ++i) {
      BOOST_TEST_REQUIRE(
          ledger->Append(Draft{"dm", Report("T-1", crdt::ReportKind::kStarted)}).ok());
      auto snapshot = ledger->store().GetSnapshot();
      BOOST_TEST_REQUIRE(snapshot.ok());
      if (*snapshot && (taken.empty() || taken.back() != (*snapshot)->second)) {
        taken.push_back((*snapshot)->second);
      }
    }
  }
  // Every 10 at first, then half the log apart: 10, 20, 40, 80, 160 (every 10 would be 20
  // snapshots, each costing the whole state).
  BOOST_TEST_REQUIRE(taken.size() >= 2u);
  BOOST_TEST(taken.front() == 10u);
  BOOST_TEST(taken.size() <= 10u);
  for (size_t i = 1; i < taken.size(); ++i) {
    BOOST_TEST(taken[i] - taken[i - 1] >= std::max<uint64_t>(10, taken[i] / kSnapshotShare));
  }
  BOOST_TEST(201 - taken.back() <= 201 / kSnapshotShare);  // A start folds at most half.
  // And the start from that snapshot gives the state of the whole log.
  auto reopened = MustOpen(c, kT0);
  BOOST_TEST(reopened->projection().event_count() == 201u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace baton::daemon
