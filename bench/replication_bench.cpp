// Replication between real `batond` processes over CURVE tcp on loopback: how fast a report
// reaches a directly connected peer and one four hops away (send to watch push), how many
// events/s a fresh site takes in from a peer holding a large log (verified, durably stored), and
// partition heals on a 1,000-task plan (time to equal state everywhere, bytes sent against the
// encoded size of what each site lacked, resident memory of every daemon). The large log and the
// offline reports are written in-process with the daemon's own Ledger while the daemons are
// stopped, so they are signed and chained exactly as batond writes them. With node and
// bench/peers/heal.mjs, the same heals with Yjs and Automerge. Figures as text, or --json lines.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "client/client.h"
#include "crdt/event.h"
#include "daemon/config.h"
#include "daemon/ledger.h"
#include "daemon/store/event_store.h"
#include "tests/support/proc_status.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace baton::bench {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kHealTasks = 1000;  // The issue's plan size for every workload here.

// One partition-heal workload: `sites` sites in a star around hq, `updates` offline events each.
struct HealCase {
  size_t sites;
  uint64_t updates;
  double target_ms;  // 0: no target (the --quick sizes).
};

struct Options {
  bool json = false;
  std::string only;  // direct, chain, sustained, heal, peers; empty: all.
  int direct_samples = 3000;
  double direct_rate = 300;  // Probes per second.
  int chain_samples = 2000;
  double chain_rate = 200;
  uint64_t events = 300'000;  // In the source log of the sustained run.
  std::vector<HealCase> heals = {{2, 10'000, 50}, {8, 2'000, 300}, {8, 10'000, 3000}};
  int peer_runs = 3;
  fs::path dir;  // Parent of the temporary directories; empty: $TMPDIR or /tmp (TempDir).
};

// Throws: main reports it after unwinding has stopped the daemons and removed the directories.
[[noreturn]] void Fail(const std::string& what) { throw std::runtime_error(what); }

using testing::ResidentMib;  // "VmHWM" (peak) or "VmRSS" (now), MiB.

// Identity of the file at `path` (inode and change time, ns), 0 if absent: a daemon that has
// bound its client socket anew has a new one (an inode number alone may be reused at once).
struct FileStamp {
  uint64_t inode = 0;
  int64_t ctime_ns = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};
FileStamp StampOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {};
  return {static_cast<uint64_t>(st.st_ino),
          static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
}

std::string Tail(const std::string& text, size_t max = 3000) {
  return text.size() <= max ? text : "..." + text.substr(text.size() - max);
}

// A weekend of real sites for the bench, in the manner of tests/support/weekend.h (which reports
// through Boost.Test): `batond init` per site ("hq", the manager and trust anchor, then "s1",
// "s2", ... trusting it), a free loopback peer port each, peer lines, start and stop, calls.
// Every wait has a deadline. The destructor kills what still runs; the directory goes with it.
class LoopbackWeekend {
 public:
  LoopbackWeekend(const fs::path& parent, size_t count) : root_("replication-bench", parent) {
    for (size_t i = 0; i < count; ++i) {
      auto s = std::make_unique<SiteProcess>();
      s->id = i == 0 ? "hq" : "s" + std::to_string(i);
      s->data = (root_.path() / s->id).string();
      s->log = (root_.path() / (s->id + ".log")).string();
      s->port = testing::FreePort();
      if (s->port == 0) Fail("no free loopback port");
      std::vector<std::string> init{BATOND_PATH, "init", "--site", s->id, "--data", s->data};
      if (i > 0) {
        for (const char* a : {"--role", "site", "--trust"}) init.emplace_back(a);
        init.push_back("hq:" + sites_[0]->key);
      }
      auto r = testing::RunCommand(init, 30'000);
      if (r.exit_code != 0) Fail("batond init --site " + s->id + " failed: " + r.err);
      s->key = testing::ReadFile(s->data + "/identity/site.pub");
      while (!s->key.empty() && (s->key.back() == '\n' || s->key.back() == ' ')) s->key.pop_back();
      testing::AppendLine(s->data + "/batond.conf",
                          "peer_listen = tcp://127.0.0.1:" + std::to_string(s->port));
      sites_.push_back(std::move(s));
    }
  }
  ~LoopbackWeekend() {
    for (auto& s : sites_) s->process.Kill9();
  }

  size_t size() const { return sites_.size(); }
  const std::string& id(size_t i) const { return sites_[i]->id; }
  const std::string& data(size_t i) const { return sites_[i]->data; }
  pid_t pid(size_t i) const { return sites_[i]->process.pid(); }
  const std::string& log(size_t i) const { return sites_[i]->log; }

  // Site `from` dials site `to` (its key on the line, so a chain needs no roster first).
  void Link(size_t from, size_t to) {
    testing::AppendLine(sites_[from]->data + "/batond.conf",
                        "peer = " + id(to) + " tcp://127.0.0.1:" +
                            std::to_string(sites_[to]->port) + " " + sites_[to]->key);
  }

  // Starts `batond run` without waiting for it.
  void Spawn(size_t i) {
    SiteProcess& s = *sites_[i];
    s.socket_stamp = StampOf(Socket(i));
    if (!s.process.Start({BATOND_PATH, "run", "--data", s.data}, s.log))
      Fail("cannot start batond");
  }
  // Waits (at most `seconds`) until site i has bound its client socket anew and answers a ping.
  void WaitUp(size_t i, int seconds = 60) {
    SiteProcess& s = *sites_[i];
    const auto deadline = SteadyClock::now() + std::chrono::seconds(seconds);
    while (SteadyClock::now() < deadline) {
      const FileStamp stamp = StampOf(Socket(i));
      if (stamp.inode != 0 && !(stamp == s.socket_stamp) && TryCall(i, "ping").ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    Fail(id(i) + " did not answer a ping within " + std::to_string(seconds) + " s; log:\n" +
         Tail(testing::ReadFile(s.log)));
  }
  void Start(size_t i) {
    Spawn(i);
    WaitUp(i);
  }
  void StartAll() {
    for (size_t i = 0; i < size(); ++i) Spawn(i);
    for (size_t i = 0; i < size(); ++i) WaitUp(i);
  }
  // SIGTERM, at most 30 s for a clean exit (the final flush of a large log).
  void Stop(size_t i) {
    sites_[i]->client.reset();
    const int code = sites_[i]->process.Stop(30'000);
    if (code != 0) Fail(id(i) + ": batond exited with " + std::to_string(code));
  }
  void StopAll() {
    for (size_t i = 0; i < size(); ++i) Stop(i);
  }

  Result<json> TryCall(size_t i, const std::string& op, const json& args = nullptr) {
    SiteProcess& s = *sites_[i];
    if (!s.client) {
      client::ClientOptions o;
      o.timeout_ms = 60'000;
      auto c = client::Client::Connect(Endpoint(i), o);
      if (!c.ok()) return c.status();
      s.client.emplace(std::move(c).value());
    }
    auto r = s.client->Call(op, args);
    if (!r.ok()) s.client.reset();  // A timed-out call resets the socket: start afresh.
    return r;
  }
  json Call(size_t i, const std::string& op, const json& args = nullptr) {
    auto r = TryCall(i, op, args);
    if (!r.ok()) {
      Fail(id(i) + " " + op + ": " + r.status().ToString() + "\nlog:\n" +
           Tail(testing::ReadFile(sites_[i]->log)));
    }
    return *r;
  }
  // A client of its own, for another thread.
  client::Client Connect(size_t i, int timeout_ms = 10'000) const {
    client::ClientOptions o;
    o.timeout_ms = timeout_ms;
    auto c = client::Client::Connect(Endpoint(i), o);
    if (!c.ok()) Fail("connect to " + id(i) + ": " + c.status().ToString());
    return std::move(c).value();
  }
  // Events held by site i (its arrival cursor: one arrival per event).
  uint64_t Events(size_t i) { return Call(i, "ping")["cursor"].get<uint64_t>(); }

  // Waits until every site holds the same events and digest; fails after `seconds`.
  void WaitConverged(const std::string& what, int seconds = 60) {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(seconds);
    while (SteadyClock::now() < deadline) {
      std::set<std::string> digests;
      std::set<uint64_t> counts;
      for (size_t i = 0; i < size(); ++i) {
        json s = Call(i, "status", json{{"digest", true}});
        digests.insert(s["digest"].get<std::string>());
        counts.insert(s["events"].get<uint64_t>());
      }
      if (digests.size() == 1 && counts.size() == 1) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Fail("no equal digests within " + std::to_string(seconds) + " s (" + what + ")");
  }

  // Task ids of a plan of `tasks`: task k runs at site k % size().
  std::string TaskId(int k) const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "T-%04d", k);
    return buf;
  }
  std::vector<std::string> TasksOf(size_t i, int tasks) const {
    std::vector<std::string> out;
    for (int k = 0; k < tasks; ++k) {
      if (static_cast<size_t>(k) % size() == i) out.push_back(TaskId(k));
    }
    return out;
  }
  // A plan of `tasks` independent tasks spread over the sites, with the whole roster.
  json Plan(int tasks) const {
    const int64_t start = 1774641600000;  // 2026-03-27T20:00:00Z
    const int64_t hour = 3600 * 1000;
    json sites = json::array();
    for (size_t i = 0; i < size(); ++i) {
      sites.push_back({{"id", id(i)},
                       {"name", id(i)},
                       {"public_key", sites_[i]->key},
                       {"role", i == 0 ? "manager" : "site"},
                       {"endpoint", "tcp://127.0.0.1:" + std::to_string(sites_[i]->port)}});
    }
    json list = json::array();
    for (int k = 0; k < tasks; ++k) {
      list.push_back({{"id", TaskId(k)},
                      {"title", "Step " + std::to_string(k)},
                      {"phase", "deploy"},
                      {"team", "ops"},
                      {"site", id(static_cast<size_t>(k) % size())},
                      {"kind", "task"},
                      {"duration_ms", hour},
                      {"predecessors", json::array()}});
    }
    return json{{"runbook_id", "rb-bench"},           {"name", "Replication bench"},
                {"timezone", "Europe/Berlin"},        {"window_start_ms", start},
                {"window_end_ms", start + 48 * hour}, {"sites", sites},
                {"teams", json::array({"ops"})},      {"tasks", list}};
  }
  // Imports a plan at hq and waits until every site holds it.
  void ImportPlan(int tasks) {
    Call(0, "plan.import", json{{"plan", Plan(tasks)}});
    WaitConverged("the plan everywhere");
  }

 private:
  struct SiteProcess {
    std::string id, data, log, key;
    int port = 0;
    FileStamp socket_stamp;  // Of the client socket file before the last Spawn.
    testing::ChildProcess process;
    std::optional<client::Client> client;  // For Call, from the bench's main thread.
  };
  std::string Socket(size_t i) const { return sites_[i]->data + "/batond.sock"; }
  std::string Endpoint(size_t i) const { return "ipc://" + Socket(i); }

  testing::TempDir root_;  // Declared first: removed after the processes are gone.
  std::vector<std::unique_ptr<SiteProcess>> sites_;
};

// What AppendOffline wrote.
struct Offline {
  uint64_t events = 0;
  uint64_t bytes = 0;  // Encoded size: the envelopes as stored and sent.
};

// Appends `count` events of the site whose stopped data directory is `data`, with the daemon's
// own Ledger (signed, chained, folded and stored as batond does), `per_commit` events per synced
// commit. Status reports cycle start, done, reset over `tasks` (the site's own), each superseding
// the reports the site saw; every fifth event is a note.
Offline AppendOffline(const std::string& data, const std::vector<std::string>& tasks,
                      uint64_t count, size_t per_commit) {
  auto config = daemon::LoadConfig(data);
  if (!config.ok()) Fail("config of " + data + ": " + config.status().ToString());
  auto ledger = daemon::Ledger::Open(*config, daemon::SystemWallClock);
  if (!ledger.ok()) Fail("opening " + data + ": " + ledger.status().ToString());
  const crdt::SiteId site = config->site;
  const uint64_t first = (*ledger)->projection().version_vector().Seen(site) + 1;
  static const crdt::ReportKind kCycle[] = {crdt::ReportKind::kStarted, crdt::ReportKind::kDone,
                                            crdt::ReportKind::kReset};
  std::vector<uint8_t> step(tasks.size(), 0);
  for (uint64_t i = 0; i < count; ++i) {
    const size_t t = static_cast<size_t>(i % tasks.size());
    daemon::Draft draft;
    draft.actor = "bench@" + site;
    if (i % 5 == 4) {
      draft.body = crdt::NoteAdded{tasks[t], "offline note " + std::to_string(i)};
    } else {
      crdt::TaskReported r;
      r.task_id = tasks[t];
      r.kind = kCycle[step[t]];
      step[t] = static_cast<uint8_t>((step[t] + 1) % 3);
      if (const crdt::TaskState* task = (*ledger)->projection().Task(tasks[t])) {
        r.supersedes = task->LiveReportIds();
      }
      draft.body = std::move(r);
    }
    auto id = (*ledger)->Stage(std::move(draft));
    if (!id.ok()) Fail("staging at " + site + ": " + id.status().ToString());
    if ((*ledger)->staged() >= per_commit || i + 1 == count) {
      if (Status s = (*ledger)->Commit(); !s.ok()) Fail("commit at " + site + ": " + s.ToString());
    }
  }
  Offline out;
  std::vector<store::StoredEvent> chunk;
  for (uint64_t next = first; next < first + count; next += chunk.size()) {
    Status s = (*ledger)->store().ScanOrigin(site, next, 4096, &chunk);
    if (!s.ok() || chunk.empty()) Fail("reading back " + site + "'s events");
    for (const auto& e : chunk) out.bytes += e.envelope.size();
  }
  out.events = count;
  return out;
}

// Notes sent at site `sender`, paced at `rate` per second, and watched at site `watcher`: for
// each, milliseconds from just before the send, and from the durable ack, to the watch push.
void MeasurePropagation(LoopbackWeekend& w, size_t sender, size_t watcher, int samples, double rate,
                        std::vector<double>* from_send, std::vector<double>* from_ack) {
  client::Client watch = w.Connect(watcher);
  if (Status s = watch.StartWatch(w.Events(watcher)); !s.ok()) Fail("watch: " + s.ToString());
  std::map<std::string, SteadyClock::time_point> pushed;  // Watcher thread until joined.
  std::string watch_error;
  std::atomic<bool> stop{false};
  const auto deadline =
      SteadyClock::now() + std::chrono::seconds(60 + static_cast<int>(samples / rate));
  std::thread watcher_thread([&] {
    while (pushed.size() < static_cast<size_t>(samples) && !stop.load() &&
           SteadyClock::now() < deadline) {
      auto push = watch.NextPush(200);
      const auto at = SteadyClock::now();
      if (!push.ok()) {
        watch_error = push.status().ToString();
        return;
      }
      if (!*push || (**push)["stream"] != "event") continue;
      pushed.emplace((**push)["event"]["id"].get<std::string>(), at);
    }
  });
  struct Sent {
    std::string id;
    SteadyClock::time_point sent, acked;
  };
  std::vector<Sent> sent;
  std::string send_error;
  {
    client::Client c = w.Connect(sender);
    const auto interval = std::chrono::duration<double>(1.0 / rate);
    const auto start = SteadyClock::now();
    for (int i = 0; i < samples; ++i) {
      std::this_thread::sleep_until(  // Pacing, not a wait for a condition.
          start + std::chrono::duration_cast<SteadyClock::duration>(interval * i));
      const auto t0 = SteadyClock::now();
      auto r = c.Call("note", json{{"task", ""}, {"text", "probe " + std::to_string(i)}});
      const auto t1 = SteadyClock::now();
      if (!r.ok()) {
        send_error = r.status().ToString();
        break;
      }
      sent.push_back(Sent{(*r)["event"].get<std::string>(), t0, t1});
    }
  }
  if (!send_error.empty()) stop = true;
  watcher_thread.join();
  if (!send_error.empty()) Fail("note at " + w.id(sender) + ": " + send_error);
  if (!watch_error.empty()) Fail("watch at " + w.id(watcher) + ": " + watch_error);
  for (const Sent& s : sent) {
    auto it = pushed.find(s.id);
    if (it == pushed.end()) {
      Fail(std::to_string(sent.size() - pushed.size()) + " of " + std::to_string(sent.size()) +
           " probes never reached " + w.id(watcher) + " (first: " + s.id + ")");
    }
    from_send->push_back(std::chrono::duration<double, std::milli>(it->second - s.sent).count());
    from_ack->push_back(std::chrono::duration<double, std::milli>(it->second - s.acked).count());
  }
}

void ReportPropagation(const Reporter& r, const std::string& prefix,
                       const std::vector<double>& send, const std::vector<double>& ack,
                       const std::string& p50_target, const std::string& p99_target,
                       const std::string& detail) {
  r.Report(prefix + "_p50_ms", Percentile(send, 50), "ms", p50_target, detail);
  r.Report(prefix + "_p99_ms", Percentile(send, 99), "ms", p99_target);
  r.Report(prefix + "_max_ms", Percentile(send, 100), "ms");
  r.Report(prefix + "_from_ack_p50_ms", Percentile(ack, 50), "ms", "", "from the durable ack");
  r.Report(prefix + "_from_ack_p99_ms", Percentile(ack, 99), "ms");
}

// A chain hq - s1 - ... - s`hops` (each dials the one before; one hop: s1 dials hq): notes at
// hq, watched at the far end. Figures are named `prefix`_p50_ms and so on.
void RunPropagation(const Reporter& r, const fs::path& dir, size_t hops, int samples, double rate,
                    const std::string& prefix, const std::string& p50_target,
                    const std::string& p99_target) {
  LoopbackWeekend w(dir, hops + 1);
  for (size_t i = 1; i < w.size(); ++i) w.Link(i, i - 1);
  w.StartAll();
  w.ImportPlan(10);
  std::vector<double> send, ack;
  MeasurePropagation(w, 0, hops, samples, rate, &send, &ack);
  ReportPropagation(r, prefix, send, ack, p50_target, p99_target,
                    std::to_string(send.size()) + " notes at hq, " +
                        std::to_string(static_cast<int>(rate)) + "/s, send to push at " +
                        w.id(hops));
  w.StopAll();
}

// A source (hq) whose log already holds `events`, and a fresh sink that dials it: events/s from
// the sink's spawn until it holds them all (each verified and stored in a synced batch).
void RunSustained(const Options& o, const Reporter& r) {
  LoopbackWeekend w(o.dir, 2);
  w.Link(1, 0);
  w.Start(0);
  w.Call(0, "plan.import", json{{"plan", w.Plan(kHealTasks)}});
  w.Stop(0);
  auto start = SteadyClock::now();
  AppendOffline(w.data(0), w.TasksOf(0, kHealTasks), o.events, 1000);
  r.Report("source_build_events_per_s", static_cast<double>(o.events) / SecondsSince(start),
           "events/s", "", "setup: Ledger Stage + Commit of 1,000, in-process");
  w.Start(0);
  const uint64_t source_events = w.Events(0);
  start = SteadyClock::now();
  w.Spawn(1);
  w.WaitUp(1);
  const double up_s = SecondsSince(start);
  const auto deadline = start + std::chrono::seconds(120 + static_cast<int>(source_events / 1000));
  // Meanwhile a user at the sink reports, 50 a second: how long each waits for its durable ack
  // while the loop also verifies and stores the catch-up (from the first report the sink takes;
  // before the plan arrives, or during the start-up hold, reports are refused).
  std::atomic<bool> caught_up{false};
  std::vector<double> ack_ms;
  std::atomic<uint64_t> own_reports{0};
  std::thread reporter([&] {
    client::Client c = w.Connect(1, 60'000);
    const std::vector<std::string> tasks = w.TasksOf(1, kHealTasks);
    auto next = SteadyClock::now();
    while (!caught_up.load() && SteadyClock::now() < deadline) {
      const auto sent = SteadyClock::now();
      auto reply = c.Call(
          "note", json{{"task", tasks[own_reports.load() % tasks.size()]}, {"text", "probe"}});
      if (reply.ok()) {
        ack_ms.push_back(SecondsSince(sent) * 1e3);
        ++own_reports;
      }
      next += std::chrono::milliseconds(20);
      std::this_thread::sleep_until(next);
    }
  });
  uint64_t held = 0;
  while ((held = w.Events(1)) < source_events + own_reports && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double seconds = SecondsSince(start);
  caught_up = true;
  reporter.join();
  const uint64_t total = source_events + own_reports;
  if (held < source_events) {
    Fail("the sink holds " + std::to_string(held) + " of " + std::to_string(source_events) +
         " events");
  }
  // The last probes may still be on their way to the source: wait for equal counts.
  while (w.Events(0) != w.Events(1) && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (w.Events(0) != w.Events(1) || w.Events(1) != total) {
    Fail("source and sink hold different counts after the catch-up");
  }
  const std::string source_digest = w.Call(0, "status", json{{"digest", true}})["digest"];
  const std::string sink_digest = w.Call(1, "status", json{{"digest", true}})["digest"];
  if (source_digest != sink_digest) Fail("sink and source hold the same events, other digests");
  r.Report("sustained_events_per_s", static_cast<double>(source_events) / seconds, "events/s",
           ">= 150000",
           std::to_string(source_events) + " events into a fresh sink, from its spawn (start-up " +
               std::to_string(static_cast<int>(up_s * 1e3)) + " ms) to holding them all");
  if (!ack_ms.empty()) {
    const std::string n = std::to_string(ack_ms.size()) + " reports at the sink, 50/s";
    r.Report("sustained_client_ack_p50_ms", Percentile(ack_ms, 50), "ms", "",
             "durable ack of a report at the sink while it catches up; " + n);
    r.Report("sustained_client_ack_p99_ms", Percentile(ack_ms, 99), "ms");
    r.Report("sustained_client_ack_max_ms", Percentile(ack_ms, 100), "ms");
  }
  r.Report("sustained_sink_hwm_mib", ResidentMib(w.pid(1), "VmHWM"), "MiB");
  w.StopAll();
}

struct HealResult {
  double ms = 0;           // From spawning the dialling sites to equal state everywhere.
  double startup_ms = 0;   // Of which: until every dialling site answered a ping.
  double links_up_ms = 0;  // Until hq had answered every dialling site's Hello; -1: unknown.
  uint64_t bytes_sent = 0;
  uint64_t lacked_bytes = 0;
  uint64_t resends = 0;  // Times a link's send position fell back to the peer's vector.
  double max_hwm_mib = 0, max_rss_mib = 0;
};

// Seconds from `start` until every site holds `expected` events. One thread per site asks its
// own site (a ping at most every 2 ms), so a site busy ingesting delays only its own answer.
// Fails at `deadline`.
double WaitAllHold(LoopbackWeekend& w, uint64_t expected, SteadyClock::time_point start,
                   SteadyClock::time_point deadline) {
  std::vector<double> held(w.size(), -1);
  std::vector<std::string> errors(w.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < w.size(); ++i) {
    threads.emplace_back([&, i] {
      // A daemon busy ingesting may take seconds to answer (see bench/README.md).
      client::Client c = w.Connect(i, 60'000);
      while (SteadyClock::now() < deadline) {
        auto ping = c.Call("ping");
        if (!ping.ok()) {
          errors[i] = w.id(i) + " ping: " + ping.status().ToString();
          return;
        }
        if ((*ping)["cursor"].get<uint64_t>() == expected) {
          held[i] = SecondsSince(start);
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  for (auto& t : threads) t.join();
  double last = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (!errors[i].empty()) Fail(errors[i]);
    if (held[i] < 0) Fail(w.id(i) + " lacks events at the deadline");
    last = std::max(last, held[i]);
  }
  return last;
}

// Wall time (ms since the epoch) of the first line of batond's log at `path` that contains
// `needle` since the daemon last started (its last "serving" line), from its timestamp
// ("%Y-%m-%d %H:%M:%S.%e", local time: daemon/main.cpp); -1 if none.
int64_t FirstLogTimeMs(const std::string& path, const std::string& needle) {
  std::istringstream in(testing::ReadFile(path));
  std::string line, found;
  while (std::getline(in, line)) {
    if (line.find(" serving ipc://") != std::string::npos) found.clear();
    if (found.empty() && line.find(needle) != std::string::npos) found = line;
  }
  std::tm tm{};
  int ms = 0;
  if (found.size() < 23 || strptime(found.c_str(), "%Y-%m-%d %H:%M:%S", &tm) == nullptr ||
      std::sscanf(found.c_str() + 20, "%3d", &ms) != 1) {
    return -1;
  }
  tm.tm_isdst = -1;
  return static_cast<int64_t>(mktime(&tm)) * 1000 + ms;
}

// A star around hq on a 1,000-task plan: the plan everywhere, every daemon stopped, `updates`
// offline events written at each site (one per synced commit, as single reports are), then hq
// started (it dials nobody) and the other sites, which dial it at once: the heal runs from their
// spawn until every site holds every event.
HealResult RunHeal(const Options& o, const HealCase& h) {
  LoopbackWeekend w(o.dir, h.sites);
  for (size_t i = 1; i < w.size(); ++i) w.Link(i, 0);
  w.StartAll();
  w.ImportPlan(kHealTasks);
  const uint64_t base = w.Events(0);
  w.StopAll();

  std::vector<Offline> offline(w.size());
  std::vector<std::string> errors(w.size());
  {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < w.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          offline[i] = AppendOffline(w.data(i), w.TasksOf(i, kHealTasks), h.updates, 1);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  for (const auto& e : errors) {
    if (!e.empty()) Fail(e);
  }
  HealResult out;
  uint64_t expected = base, all_bytes = 0;
  for (const Offline& off : offline) {
    expected += off.events;
    all_bytes += off.bytes;
  }
  for (const Offline& off : offline) out.lacked_bytes += all_bytes - off.bytes;

  w.Start(0);
  const auto start = SteadyClock::now();
  const int64_t wall_start = daemon::SystemWallClock();
  for (size_t i = 1; i < w.size(); ++i) w.Spawn(i);
  for (size_t i = 1; i < w.size(); ++i) w.WaitUp(i);
  out.startup_ms = SecondsSince(start) * 1e3;
  const auto deadline = start + std::chrono::seconds(60 + static_cast<int>(expected / 1000));
  out.ms = WaitAllHold(w, expected, start, deadline) * 1e3;
  // When each dialling site heard hq's first answer: the log says so, to the millisecond.
  for (size_t i = 1; i < w.size(); ++i) {
    const int64_t at = FirstLogTimeMs(w.log(i), "peer hq: hello, it holds");
    out.links_up_ms = at < 0 ? -1 : std::max(out.links_up_ms, static_cast<double>(at - wall_start));
  }
  // Equal counts of the same union are equal sets; the digests must agree.
  std::set<std::string> digests;
  for (size_t i = 0; i < w.size(); ++i) {
    digests.insert(w.Call(i, "status", json{{"digest", true}})["digest"].get<std::string>());
  }
  if (digests.size() != 1) Fail("every site holds every event, but the digests differ");
  for (size_t i = 0; i < w.size(); ++i) {
    const json sites = w.Call(i, "sites");
    for (const auto& link : sites["links"]) {
      out.bytes_sent += link["bytes_sent"].get<uint64_t>();
      out.resends += link["resends"].get<uint64_t>();
    }
    out.max_hwm_mib = std::max(out.max_hwm_mib, ResidentMib(w.pid(i), "VmHWM"));
    out.max_rss_mib = std::max(out.max_rss_mib, ResidentMib(w.pid(i), "VmRSS"));
  }
  w.StopAll();
  return out;
}

std::string HealName(const HealCase& h) {
  return std::to_string(h.sites) + "x" + std::to_string(h.updates);
}

void ReportHeal(const Reporter& r, const HealCase& h, const HealResult& res) {
  const std::string name = "heal_" + HealName(h);
  const std::string target =
      h.target_ms > 0 ? "<= " + std::to_string(static_cast<int>(h.target_ms)) : "";
  r.Report(name + "_ms", res.ms, "ms", target,
           std::to_string(h.sites) + " sites x " + std::to_string(h.updates) +
               " offline events, 1,000 tasks; from the spawn of the dialling sites");
  r.Report(name + "_startup_ms", res.startup_ms, "ms", "", "of which: until they answer a ping");
  if (res.links_up_ms >= 0) {
    r.Report(name + "_links_up_ms", res.links_up_ms, "ms", "",
             "until hq answered every Hello (from the logs)");
    r.Report(name + "_after_links_ms", res.ms - res.links_up_ms, "ms", "",
             "from the last link up to equal state");
  }
  r.Report(name + "_bytes_ratio",
           res.lacked_bytes == 0
               ? 0
               : static_cast<double>(res.bytes_sent) / static_cast<double>(res.lacked_bytes),
           "x", "<= 1.2",
           std::to_string(res.bytes_sent) + " bytes sent / " + std::to_string(res.lacked_bytes) +
               " lacked");
  r.Report(name + "_resends", static_cast<double>(res.resends), "resends", "",
           "send positions reset to the peer's vector, all links");
  if (h.sites >= 8) {
    r.Report(name + "_max_hwm_mib", res.max_hwm_mib, "MiB", "<= 100",
             "peak resident, worst daemon");
    r.Report(name + "_max_rss_mib", res.max_rss_mib, "MiB", "", "resident after the heal");
  }
}

// An executable named `name` on PATH, or "".
std::string OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// The same heal workloads with Yjs and Automerge (bench/peers/heal.mjs, merged separately),
// beside baton's figures where this run has them.
void RunPeers(const Options& o, const Reporter& r, const std::map<std::string, HealResult>& ours) {
  const fs::path peers = fs::path(BATON_SOURCE_DIR) / "bench" / "peers";
  const std::string node = OnPath("node");
  if (node.empty()) {
    r.Note("peers: skipped (node not on PATH)");
    return;
  }
  if (!fs::exists(peers / "heal.mjs")) {
    r.Note("peers: skipped (bench/peers/heal.mjs not found)");
    return;
  }
  if (!fs::exists(peers / "node_modules")) {
    r.Note("peers: skipped (run `npm ci` in bench/peers first)");
    return;
  }
  for (const HealCase& h : o.heals) {
    for (const char* lib : {"yjs", "automerge"}) {
      auto run = testing::RunCommand(
          {node, (peers / "heal.mjs").string(), "--lib", lib, "--sites", std::to_string(h.sites),
           "--updates", std::to_string(h.updates), "--tasks", std::to_string(kHealTasks), "--runs",
           std::to_string(o.peer_runs)},
          30 * 60 * 1000);
      std::string line = run.out;
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      line = line.substr(
          line.find_last_of('\n') == std::string::npos ? 0 : line.find_last_of('\n') + 1);
      const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (run.exit_code != 0 || !j.is_object() || !j.contains("heal_ms") || !j.contains("bytes")) {
        r.Note(std::string("peers: ") + lib + " " + HealName(h) + " failed (exit " +
               std::to_string(run.exit_code) + "): " + Tail(run.err + run.out, 500));
        continue;
      }
      const std::string name = std::string("peer_") + lib + "_" + HealName(h);
      const double heal_ms = j["heal_ms"].get<double>();
      const double bytes = j["bytes"].get<double>();
      const std::string version = j.value("version", std::string());
      r.Report(name + "_heal_ms", heal_ms, "ms", "", lib + std::string(" ") + version);
      r.Report(name + "_bytes", bytes, "bytes");
      auto it = ours.find(HealName(h));
      if (it == ours.end()) continue;
      if (heal_ms > 0)
        r.Report(name + "_baton_time_ratio", it->second.ms / heal_ms, "x", "",
                 "baton heal_ms / " + std::string(lib));
      if (bytes > 0) {
        r.Report(name + "_baton_bytes_ratio", static_cast<double>(it->second.bytes_sent) / bytes,
                 "x", "", "baton bytes / " + std::string(lib));
      }
    }
  }
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json") {
      o.json = true;
    } else if (arg == "--quick") {
      o.direct_samples = 200;
      o.chain_samples = 200;
      o.events = 20'000;
      o.heals = {{2, 1'000, 0}, {8, 200, 0}, {8, 1'000, 0}};
      o.peer_runs = 1;
    } else if (arg == "--only" && has_value) {
      o.only = argv[++i];
    } else if (arg == "--samples" && has_value) {
      o.direct_samples = o.chain_samples = std::atoi(argv[++i]);
    } else if (arg == "--events" && has_value) {
      o.events = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--dir" && has_value) {
      o.dir = argv[++i];
    } else if (arg == "--heal" && has_value) {
      // One workload, SITESxUPDATES: its target stays the issue's where the size is one of them.
      size_t sites = 0;
      unsigned long long updates = 0;
      if (std::sscanf(argv[++i], "%zux%llu", &sites, &updates) != 2 || sites < 2 || sites > 16 ||
          updates < 1 || updates > 100'000) {
        Fail("--heal SITESxUPDATES: sites 2..16, updates 1..100000 (e.g. 2x10000)");
      }
      double target = 0;
      for (const HealCase& h : Options{}.heals) {
        if (h.sites == sites && h.updates == updates) target = h.target_ms;
      }
      o.heals = {{sites, updates, target}};
    } else {
      std::fprintf(stderr,
                   "usage: replication_bench [--json] [--quick] "
                   "[--only direct|chain|sustained|heal|peers] [--samples N] [--events N] "
                   "[--heal SITESxUPDATES] [--dir DIR]\n");
      return 2;
    }
  }
  static const std::set<std::string> kParts = {"", "direct", "chain", "sustained", "heal", "peers"};
  if (kParts.count(o.only) == 0) Fail("--only " + o.only + ": not a part of this bench");
  if (o.direct_samples < 1 || o.direct_samples > 100'000 || o.events < 1 || o.events > 10'000'000) {
    Fail("--samples (1..100000) or --events (1..10000000) out of range");
  }
  const auto wants = [&](const char* part) { return o.only.empty() || o.only == part; };
  Reporter r(o.json);
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3) {
    char text[64];
    std::snprintf(text, sizeof text, "load average %.2f %.2f %.2f", load[0], load[1], load[2]);
    r.Note(text);
  }
  if (wants("direct")) {
    RunPropagation(r, o.dir, 1, o.direct_samples, o.direct_rate, "direct", "<= 2", "<= 10");
  }
  if (wants("chain")) {
    RunPropagation(r, o.dir, 4, o.chain_samples, o.chain_rate, "chain4", "<= 10", "");
  }
  if (wants("sustained")) RunSustained(o, r);
  std::map<std::string, HealResult> heals;
  if (wants("heal")) {
    for (const HealCase& h : o.heals) {
      heals[HealName(h)] = RunHeal(o, h);
      ReportHeal(r, h, heals[HealName(h)]);
    }
  }
  if (wants("peers")) RunPeers(o, r, heals);
  return 0;
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) {
  return baton::bench::RunBench("replication_bench", baton::bench::Main, argc, argv);
}
