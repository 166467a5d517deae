// The cost of the projection: folding decoded events (events/s), rebuilding it from a real
// signed log at start-up as batond does (with and without a snapshot), the state digest, and the
// resident memory of a projection with 10,000 tasks and 1,000,000 events (measured in a fresh
// child process, `--only memory`). The workload: one plan of N tasks at four sites, then status
// reports (start/done/reset cycles superseding what their author saw, a few concurrent ones and
// failures) and notes, each origin's events in seq order. The rebuild part also times
// `baton-audit verify` on the log it wrote. Figures as text, or --json lines.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "crdt/event.h"
#include "crdt/event_codec.h"
#include "crdt/projection.h"
#include "daemon/config.h"
#include "daemon/identity/chain.h"
#include "daemon/identity/keys.h"
#include "daemon/ledger.h"
#include "daemon/store/event_store.h"
#include "tests/support/temp_dir.h"
#include "tools/audit/replay.h"
#include "tools/audit/report.h"
#include "tools/audit/verify.h"

extern char** environ;

namespace baton::bench {
namespace {

constexpr const char* kRunbook = "rb-bench";
constexpr size_t kSiteCount = 4;
const char* const kSites[kSiteCount] = {"hq", "site-1", "site-2", "site-3"};
const char* const kActors[kSiteCount] = {"dm@hq", "dba@site-1", "ops@site-2", "vendor@site-3"};
const char* const kPhases[] = {"freeze", "backup", "deploy", "verify", "open"};
const char* const kTeams[] = {"dba", "sysadmin", "network", "vendor"};

struct Options {
  bool json = false;
  int tasks = 10'000;
  int64_t events = 1'000'000;  // After the plan.
  std::string only;            // fold, digest, rebuild, audit, memory; empty: all.
  bool simple = false;         // Reports only, by hq, tasks in turn: the cheapest fold.
  std::filesystem::path dir;   // Parent of the temporary data directory; empty: $TMPDIR or /tmp.
  // The log in KEEP/hq, kept afterwards; one already there is used as it is (written by a run
  // with the same --events and --tasks), which times the auditor again without writing anew.
  std::filesystem::path keep;
};

// Throws: main reports it after unwinding has removed the temporary directory.
[[noreturn]] void Fail(const std::string& what, const Status& s) {
  throw std::runtime_error(what + ": " + s.ToString());
}

// VmRSS of this process in KiB, from /proc/self/status; 0 if unreadable.
long RssKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// Generates the benchmark's runbook events one at a time, so that memory can be measured
// without the event list itself. Deterministic for a given task count.
class Workload {
 public:
  // `site_keys`: the roster's public keys, one per kSites entry.
  // `simple`: only reports, all by hq, on the tasks in turn, each superseding the previous one.
  Workload(int tasks, std::vector<std::string> site_keys, bool simple)
      : tasks_(tasks), simple_(simple), site_keys_(std::move(site_keys)), rng_(42) {
    live_.resize(static_cast<size_t>(tasks));
    before_last_.resize(static_cast<size_t>(tasks));
    phase_.resize(static_cast<size_t>(tasks), 0);
  }

  // The first event: hq defines the plan. About two finish-to-start predecessors per task.
  crdt::Event Plan() {
    crdt::PlanDefined def;
    crdt::Plan& plan = def.plan;
    plan.runbook_id = kRunbook;
    plan.name = "Core banking cut-over";
    plan.timezone = "Europe/Berlin";
    plan.window_start_ms = kStartMs;
    plan.window_end_ms = kStartMs + 58LL * 3600 * 1000;
    for (size_t s = 0; s < kSiteCount; ++s) {
      plan.sites.push_back(crdt::SiteInfo{kSites[s],
                                          std::string("Site ") + kSites[s],
                                          site_keys_[s],
                                          s == 0 ? crdt::SiteRole::kManager : crdt::SiteRole::kSite,
                                          "",
                                          {}});
    }
    for (const char* team : kTeams) plan.teams.emplace_back(team);
    for (int i = 0; i < tasks_; ++i) {
      crdt::TaskSpec t;
      t.id = TaskId(i);
      t.title = "Step " + std::to_string(i) + " of the cut-over";
      t.phase = kPhases[static_cast<size_t>(i) * 5 / static_cast<size_t>(tasks_)];
      t.team = kTeams[static_cast<size_t>(i) % 4];
      t.site = kSites[static_cast<size_t>(i) % kSiteCount];
      t.duration_ms = (5 + static_cast<int64_t>(rng_() % 115)) * 60'000;
      if (i > 0) t.predecessors.push_back(FinishToStart(TaskId(i - 1)));
      if (i > 10) {
        t.predecessors.push_back(FinishToStart(TaskId(static_cast<int>(rng_() % 10) + i - 11)));
      }
      plan.tasks.push_back(std::move(t));
    }
    return Make(0, std::move(def));
  }

  // The next report (about 90%) or note: on a random task, by the task's site (or hq), naming
  // the live reports its author saw. About 1% of reports are concurrent (they miss the latest
  // report, so the task shows a conflict until the next one), 2% of "done" are failures.
  crdt::Event Next() {
    if (simple_) return NextSimple();
    const auto task = static_cast<size_t>(rng_() % static_cast<uint64_t>(tasks_));
    const size_t site = rng_() % 20 == 0 ? 0 : task % kSiteCount;
    if (rng_() % 10 == 0) {
      return Make(site, crdt::NoteAdded{TaskId(static_cast<int>(task)),
                                        "checked with the bridge, logs attached"});
    }
    crdt::TaskReported r;
    r.task_id = TaskId(static_cast<int>(task));
    r.kind = NextKind(task);
    if (r.kind == crdt::ReportKind::kDone && rng_() % 50 == 0) {
      r.kind = crdt::ReportKind::kFailed;
      r.note = "timed out waiting for the replica";
    }
    if (rng_() % 10 == 0) r.effective_ms = wall_ms_ - 60'000;
    const bool concurrent = !before_last_[task].empty() && rng_() % 100 == 0;
    r.supersedes = concurrent ? before_last_[task] : live_[task];
    crdt::Event e = Make(site, std::move(r));
    if (concurrent) {
      live_[task].push_back(e.id());  // Both stay live: the next report resolves them.
    } else {
      before_last_[task] = std::move(live_[task]);
      live_[task] = {e.id()};
    }
    return e;
  }

 private:
  static constexpr int64_t kStartMs = 1'774'641'600'000;  // 2026-03-27T20:00:00Z

  crdt::Event NextSimple() {
    const auto task = static_cast<size_t>(next_task_++ % static_cast<uint64_t>(tasks_));
    crdt::TaskReported r;
    r.task_id = TaskId(static_cast<int>(task));
    r.kind = NextKind(task);
    r.supersedes = live_[task];
    crdt::Event e = Make(0, std::move(r));
    live_[task] = {e.id()};
    return e;
  }

  // The task's next report in its start, done, reset cycle.
  crdt::ReportKind NextKind(size_t task) {
    const uint8_t step = phase_[task];
    phase_[task] = static_cast<uint8_t>((step + 1) % 3);
    return step == 0   ? crdt::ReportKind::kStarted
           : step == 2 ? crdt::ReportKind::kReset
                       : crdt::ReportKind::kDone;
  }

  static std::string TaskId(int i) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "T-%05d", i);
    return buf;
  }

  static crdt::Dependency FinishToStart(std::string task_id) {
    crdt::Dependency d;
    d.task_id = std::move(task_id);
    return d;
  }

  crdt::Event Make(size_t site, crdt::Body body) {
    crdt::Event e;
    e.runbook_id = kRunbook;
    e.origin = kSites[site];
    e.seq = ++seq_[site];
    wall_ms_ += 1 + static_cast<int64_t>(rng_() % 100);
    e.hlc = crdt::Hlc{wall_ms_, 0};
    e.actor = kActors[site];
    e.body = std::move(body);
    return e;
  }

  int tasks_;
  bool simple_;
  uint64_t next_task_ = 0;
  std::vector<std::string> site_keys_;
  std::mt19937_64 rng_;
  uint64_t seq_[kSiteCount] = {};
  int64_t wall_ms_ = kStartMs;
  std::vector<std::vector<crdt::EventId>> live_;         // Live reports per task.
  std::vector<std::vector<crdt::EventId>> before_last_;  // Live set before the last report.
  std::vector<uint8_t> phase_;                           // Next kind in the cycle.
};

std::vector<std::string> FakeKeys() {
  std::vector<std::string> keys;
  for (size_t s = 0; s < kSiteCount; ++s) keys.emplace_back(32, static_cast<char>('a' + s));
  return keys;
}

void Apply(crdt::Projection& p, const crdt::Event& e) {
  Status s = p.Apply(e);
  if (!s.ok()) Fail("applying " + e.id().ToString(), s);
}

// Folds the workload in chunks of pre-generated events, timing only Projection::Apply.
struct FoldResult {
  crdt::Projection projection;
  std::unique_ptr<Workload> workload;
};

FoldResult RunFold(const Options& o, const Reporter& r, bool report) {
  FoldResult out;
  out.workload = std::make_unique<Workload>(o.tasks, FakeKeys(), o.simple);
  crdt::Event plan = out.workload->Plan();
  auto start = SteadyClock::now();
  Apply(out.projection, plan);
  const double plan_s = SecondsSince(start);

  constexpr int64_t kChunk = 1 << 16;
  std::vector<crdt::Event> chunk;
  double apply_s = 0;
  for (int64_t done = 0; done < o.events;) {
    chunk.clear();
    const int64_t n = std::min(kChunk, o.events - done);
    for (int64_t i = 0; i < n; ++i) chunk.push_back(out.workload->Next());
    start = SteadyClock::now();
    for (const crdt::Event& e : chunk) Apply(out.projection, e);
    apply_s += SecondsSince(start);
    done += n;
  }
  if (report) {
    r.Report("fold_plan_ms", plan_s * 1e3, "ms", "",
             "apply the PlanDefined of " + std::to_string(o.tasks) + " tasks");
    r.Report("fold_events_per_s", static_cast<double>(o.events) / apply_s, "events/s", ">= 2000000",
             std::to_string(o.events) + " decoded events, Apply only");
  }
  return out;
}

// The digest as batond takes it (Ledger::StateDigest): canonical bytes hashed as written.
std::string StreamedDigest(const crdt::Projection& p) {
  identity::StateDigestStream out;
  p.WriteCanonical(out);
  return out.Finish();
}

void RunDigest(const Options& o, const Reporter& r, FoldResult& fold) {
  // Cold: the first digest after the fold derives every task view and the canonical bytes.
  auto start = SteadyClock::now();
  std::string digest = StreamedDigest(fold.projection);
  const double cold_s = SecondsSince(start);
  const std::string bytes = fold.projection.CanonicalBytes();
  BATON_CHECK(identity::StateDigest(bytes) == digest);
  // Warm: the daemon's case, one more event then the digest again.
  std::vector<double> warm;
  for (int i = 0; i < 9; ++i) {
    Apply(fold.projection, fold.workload->Next());
    start = SteadyClock::now();
    digest = StreamedDigest(fold.projection);
    warm.push_back(SecondsSince(start));
  }
  r.Report("digest_cold_ms", cold_s * 1e3, "ms", "",
           "first digest (canonical bytes streamed into BLAKE2b) after folding " +
               std::to_string(o.events) + " events");
  r.Report("digest_after_one_event_ms", Median(warm) * 1e3, "ms", "", "median of 9");
  r.Report("canonical_bytes_mib", static_cast<double>(bytes.size()) / (1 << 20), "MiB");
}

void TimeRebuild(const Reporter& r, const daemon::Config& config, uint64_t total, uint64_t tail,
                 uint64_t snapshot_at, const std::string& snapshot);
void TimeAudit(const Options& o, const Reporter& r, const daemon::Config& config, uint64_t total,
               const identity::KeyPair& hq_keys);

// Writes the workload as signed events into a real data directory, then times Ledger::Open and
// the auditor on it.
void RunRebuild(const Options& o, const Reporter& r) {
  std::optional<testing::TempDir> temp;
  if (o.keep.empty()) temp.emplace("fold-bench", o.dir);
  const std::filesystem::path root = o.keep.empty() ? temp->path() : o.keep;

  daemon::Config config;
  config.data_dir = root / "hq";
  config.site = "hq";
  const bool reuse = !o.keep.empty() && std::filesystem::exists(config.StorePath());
  if (!reuse) {
    if (Status s = daemon::Ledger::Create(config); !s.ok()) Fail("Ledger::Create", s);
  }
  auto hq_keys = identity::ReadKeyFiles(config.KeyDir());
  if (!hq_keys.ok()) Fail("reading the hq keys", hq_keys.status());

  std::vector<identity::KeyPair> keys = {*hq_keys};
  for (size_t s = 1; s < kSiteCount; ++s) keys.push_back(identity::GenerateKeyPair());
  std::vector<std::string> public_keys;
  for (const auto& k : keys) public_keys.push_back(k.public_key);
  std::vector<identity::ChainWriter> writers;
  for (size_t s = 0; s < kSiteCount; ++s) {
    writers.emplace_back(keys[s], kRunbook, kSites[s], 0, crdt::Hash{});
  }

  // The snapshot batond would have written last: on average half a snapshot interval back.
  const uint64_t total = static_cast<uint64_t>(o.events) + 1;
  const uint64_t tail = std::min<uint64_t>(config.snapshot_every / 2, total / 2);
  const uint64_t snapshot_at = total - tail;
  crdt::Projection snap_projection;
  std::string snapshot;
  uint64_t arrival = 0;
  if (!reuse) {
    store::StoreOptions so;
    so.path = config.StorePath();
    so.site = "hq";
    so.runbook_id = kRunbook;
    auto store = store::EventStore::Open(so);
    if (!store.ok()) Fail("opening the store", store.status());
    Workload workload(o.tasks, public_keys, o.simple);
    const auto write_start = SteadyClock::now();
    constexpr size_t kBatch = 10'000;
    std::vector<crdt::Event> generated;
    bool first = true;
    while (arrival < total) {
      generated.clear();
      if (first) {
        generated.push_back(workload.Plan());  // Alone, as `plan.import` would commit it.
        first = false;
      } else {
        while (generated.size() < kBatch && arrival + generated.size() < total) {
          generated.push_back(workload.Next());
        }
      }
      // Each origin's part of the batch goes through its chain writer (seq, prev_hash, sign).
      std::vector<std::vector<crdt::Event>> drafts(kSiteCount);
      std::vector<size_t> origin_of;
      for (const crdt::Event& e : generated) {
        size_t s = 0;
        while (kSites[s] != e.origin) ++s;
        origin_of.push_back(s);
        drafts[s].push_back(e);
      }
      std::vector<std::vector<identity::VerifiedEvent>> built(kSiteCount);
      for (size_t s = 0; s < kSiteCount; ++s) built[s] = writers[s].Build(std::move(drafts[s]));
      std::vector<size_t> next(kSiteCount, 0);
      std::vector<store::StoredEvent> batch;
      batch.reserve(generated.size());
      for (size_t i = 0; i < generated.size(); ++i) {
        identity::VerifiedEvent& v = built[origin_of[i]][next[origin_of[i]]++];
        BATON_CHECK(v.event.id() == generated[i].id());
        if (arrival + i + 1 <= snapshot_at) Apply(snap_projection, v.event);
        batch.push_back(
            store::StoredEvent{v.event.id(), v.event.prev_hash, v.hash, std::move(v.envelope), 0});
      }
      if (Status s = (*store)->Append(std::move(batch)); !s.ok()) Fail("appending", s);
      arrival += generated.size();
      if (snapshot.empty() && arrival >= snapshot_at) {
        snapshot = snap_projection.SerializeSnapshot();
        snap_projection = crdt::Projection();
      }
    }
    r.Report("log_write_events_per_s", static_cast<double>(total) / SecondsSince(write_start),
             "events/s", "", "setup: encode, hash, sign the batch's last, synced batches of 10k");
  }

  if (reuse && o.only != "audit") {
    Fail("--keep " + o.keep.string(), Status::InvalidArgument("a kept log times --only audit"));
  }
  if (o.only != "audit") TimeRebuild(r, config, total, tail, snapshot_at, snapshot);
  TimeAudit(o, r, config, total, *hq_keys);
}

// Where a rebuild's time goes, then Ledger::Open without and with a snapshot.
void TimeRebuild(const Reporter& r, const daemon::Config& config, uint64_t total, uint64_t tail,
                 uint64_t snapshot_at, const std::string& snapshot) {
  auto open = [&](const char* what, std::string* digest) {
    const auto start = SteadyClock::now();
    auto ledger = daemon::Ledger::Open(config, daemon::SystemWallClock);
    const double s = SecondsSince(start);
    if (!ledger.ok()) Fail(what, ledger.status());
    BATON_CHECK((*ledger)->projection().event_count() == total);
    *digest = (*ledger)->StateDigest();
    return s;
  };
  // Where a rebuild's time goes: reading the arrivals, then decoding envelope + payload.
  {
    store::StoreOptions so;
    so.path = config.StorePath();
    so.site = "hq";
    so.read_only = true;
    auto store = store::EventStore::Open(so);
    if (!store.ok()) Fail("opening the store read-only", store.status());
    double scan_s = 0, decode_s = 0;
    uint64_t cursor = 0, seen = 0;
    std::vector<store::Arrival> raw;
    while (true) {
      auto start = SteadyClock::now();
      if (Status s = (*store)->ScanArrivals(cursor, 4096, &raw); !s.ok()) Fail("scanning", s);
      scan_s += SecondsSince(start);
      if (raw.empty()) break;
      start = SteadyClock::now();
      for (const auto& [at, arrived_ms, stored] : raw) {
        auto envelope = crdt::DecodeEnvelope(stored.envelope);
        if (!envelope.ok()) Fail("decoding an envelope", envelope.status());
        auto event = crdt::DecodeEvent(envelope->payload);
        if (!event.ok()) Fail("decoding an event", event.status());
        cursor = at;
      }
      decode_s += SecondsSince(start);
      seen += raw.size();
    }
    BATON_CHECK(seen == total);
    // The alternative a rebuild could use: each origin's events in seq order (any interleaving
    // of origins folds to the same state), a plain iteration of the events column family.
    const auto start = SteadyClock::now();
    std::vector<store::StoredEvent> by_origin;
    seen = 0;
    for (const auto& [origin, head] : (*store)->Heads()) {
      for (uint64_t from = 1; from <= head.seq; from += by_origin.size()) {
        if (Status s = (*store)->ScanOrigin(origin, from, 4096, &by_origin); !s.ok()) {
          Fail("scanning " + origin, s);
        }
        if (by_origin.empty()) break;
        seen += by_origin.size();
      }
    }
    const double origin_scan_s = SecondsSince(start);
    BATON_CHECK(seen == total);
    r.Report("rebuild_part_scan_s", scan_s, "s", "", "EventStore::ScanArrivals, 4096 a call");
    r.Report("rebuild_part_scan_by_origin_s", origin_scan_s, "s", "",
             "EventStore::ScanOrigin per origin, 4096 a call (for comparison)");
    r.Report("rebuild_part_decode_s", decode_s, "s", "", "DecodeEnvelope + DecodeEvent");
  }

  std::vector<double> full, with_snapshot;
  std::string digest_full, digest_snap;
  for (int i = 0; i < 3; ++i) full.push_back(open("Ledger::Open without a snapshot", &digest_full));

  {
    store::StoreOptions so;
    so.path = config.StorePath();
    so.site = "hq";
    auto store = store::EventStore::Open(so);
    if (!store.ok()) Fail("reopening the store", store.status());
    if (Status s = (*store)->PutSnapshot(snapshot, snapshot_at); !s.ok()) Fail("PutSnapshot", s);
  }
  for (int i = 0; i < 3; ++i) {
    with_snapshot.push_back(open("Ledger::Open with a snapshot", &digest_snap));
  }
  BATON_CHECK(digest_full == digest_snap);  // A snapshot plus the tail equals the full fold.

  const double median_full = Median(full);
  r.Report("rebuild_s", median_full, "s", "<= 2",
           "Ledger::Open, no snapshot: scan, decode, fold " + std::to_string(total) +
               " events; median of 3");
  r.Report("rebuild_events_per_s", static_cast<double>(total) / median_full, "events/s");
  r.Report("rebuild_with_snapshot_s", Median(with_snapshot), "s", "",
           "snapshot as of " + std::to_string(snapshot_at) + " + " + std::to_string(tail) +
               " later events; median of 3");
  r.Report("snapshot_mib", static_cast<double>(snapshot.size()) / (1 << 20), "MiB");
}

// baton-audit verify, replay and report on the log.
void TimeAudit(const Options& o, const Reporter& r, const daemon::Config& config, uint64_t total,
               const identity::KeyPair& hq_keys) {
  // The auditor on the same directory: every entry decoded and checked, every chain audited
  // (every signature verified), the arrival index checked (baton-audit verify).
  std::vector<double> verify_s;
  for (int i = 0; i < 3; ++i) {
    const auto start = SteadyClock::now();
    audit::VerifyOptions options;
    options.data_dir = config.data_dir;
    options.trust = "hq:" + identity::ToHex(hq_keys.public_key);
    auto report = audit::Verify(options);
    verify_s.push_back(SecondsSince(start));
    if (!report.ok()) Fail("baton-audit verify", report.status());
    if (!report->intact() || report->events != total) {
      throw std::runtime_error("baton-audit verify found problems:\n" +
                               audit::FormatReport(*report));
    }
  }
  r.Report("audit_verify_s", Median(verify_s), "s", "<= 2 for 1M",
           "baton-audit verify of " + std::to_string(total) + " events; median of 3");
  r.Report("audit_verify_events_per_s", static_cast<double>(total) / Median(verify_s), "events/s");

  // baton-audit replay --as-of (the middle of the log, by the events' clocks): read, fold the
  // events up to then, answer `status`; and `report` as of the end (fold, verify, HTML).
  std::vector<double> replay_s, report_s;
  size_t html_bytes = 0;
  for (int i = 0; i < 3; ++i) {
    audit::ReplayOptions options;
    options.data = config.data_dir;
    options.trust = "hq:" + identity::ToHex(hq_keys.public_key);
    options.query = "status";
    auto start = SteadyClock::now();
    auto log = audit::LoadLog(options.data, options.trust);
    if (!log.ok()) Fail("loading the log for replay", log.status());
    options.as_of = std::to_string(log->last_ms - 1);
    auto replayed = audit::ReplayLoaded(*log, options, {"status"});
    replay_s.push_back(SecondsSince(start));
    if (!replayed.ok()) Fail("baton-audit replay", replayed.status());
    start = SteadyClock::now();
    audit::ReportOptions report_options;
    report_options.data = config.data_dir;
    report_options.trust = options.trust;
    auto report = audit::BuildReport(report_options);
    if (!report.ok()) Fail("baton-audit report", report.status());
    html_bytes = audit::ReportHtml(*report).size();
    report_s.push_back(SecondsSince(start));
  }
  r.Report("audit_replay_s", Median(replay_s), "s", "<= 1 for 1M",
           "baton-audit replay --as-of (status) of " + std::to_string(total) +
               " events, loading included; median of 3");
  r.Report("audit_report_s", Median(report_s), "s", "<= 3 for a 10,000-task plan",
           "baton-audit report of " + std::to_string(total) + " events, " +
               std::to_string(o.tasks) + " tasks (verify included); median of 3");
  r.Report("audit_report_html_mib", static_cast<double>(html_bytes) / (1 << 20), "MiB");
}

// Resident memory growth while folding the workload, streaming (the events are not kept).
void RunMemory(const Options& o, const Reporter& r) {
  Workload workload(o.tasks, FakeKeys(), o.simple);
  crdt::Projection projection;
  const long before = RssKib();
  Apply(projection, workload.Plan());
  for (int64_t i = 0; i < o.events; ++i) Apply(projection, workload.Next());
  const long after_fold = RssKib();
  // The daemon also derives the views (status, digest): count their caches too.
  std::string digest = StreamedDigest(projection);
  const long after_views = RssKib();
  r.Report("memory_fold_rss_mib", static_cast<double>(after_fold - before) / 1024, "MiB", "<= 64",
           std::to_string(o.tasks) + " tasks, " + std::to_string(o.events) +
               " events, VmRSS growth after Apply");
  r.Report("memory_with_views_rss_mib", static_cast<double>(after_views - before) / 1024, "MiB", "",
           "after deriving every view and the state digest (" + digest.substr(0, 8) + ")");
}

// Runs `--only memory` in a fresh process so that nothing else this run allocated counts.
void SpawnMemory(const Options& o, char* self) {
  std::vector<std::string> args = {self,
                                   "--only",
                                   "memory",
                                   "--tasks",
                                   std::to_string(o.tasks),
                                   "--events",
                                   std::to_string(o.events)};
  if (o.json) args.emplace_back("--json");
  if (o.simple) args.emplace_back("--simple");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  pid_t pid = -1;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) {
    Fail("spawning the memory measurement", Status::IOError("posix_spawn failed"));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Fail("the memory measurement", Status::IOError("child failed"));
  }
}

int Main(int argc, char** argv) {
  Options o;
  auto usage = [] {
    std::fprintf(stderr,
                 "usage: fold_bench [--json] [--quick] [--tasks N] [--events N] "
                 "[--simple] [--only fold|digest|rebuild|audit|memory] [--dir DIR] "
                 "[--keep DIR]\n");
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json") {
      o.json = true;
    } else if (arg == "--quick") {
      o.tasks = 1'000;
      o.events = 50'000;
    } else if (arg == "--tasks" && has_value) {
      o.tasks = std::atoi(argv[++i]);
    } else if (arg == "--events" && has_value) {
      o.events = std::atoll(argv[++i]);
    } else if (arg == "--simple") {
      o.simple = true;
    } else if (arg == "--only" && has_value) {
      o.only = argv[++i];
    } else if (arg == "--dir" && has_value) {
      o.dir = argv[++i];
    } else if (arg == "--keep" && has_value) {
      o.keep = argv[++i];
    } else {
      return usage();
    }
  }
  if (o.tasks < 1 || o.events < 1) return usage();
  if (!o.only.empty() && o.only != "fold" && o.only != "digest" && o.only != "rebuild" &&
      o.only != "audit" && o.only != "memory") {
    return usage();
  }
  Reporter r(o.json);
  auto wants = [&](const char* name) { return o.only.empty() || o.only == name; };
  if (wants("fold") || wants("digest")) {
    FoldResult fold = RunFold(o, r, wants("fold"));
    if (wants("digest")) RunDigest(o, r, fold);
  }
  if (wants("rebuild") || o.only == "audit") RunRebuild(o, r);
  if (o.only == "memory") RunMemory(o, r);
  if (o.only.empty()) SpawnMemory(o, argv[0]);
  return 0;
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) {
  return baton::bench::RunBench("fold_bench", baton::bench::Main, argc, argv);
}
