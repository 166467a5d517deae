// batond: the per-site daemon. `batond init` creates a data directory (identity, config, event
// log); `batond run` serves it in the foreground until SIGTERM/SIGINT. Exit codes are listed in
// docs/operations.md#exit-codes and in `batond --help`.
#include <fcntl.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "client/curve_file.h"
#include "client/protocol.h"
#include "daemon/config.h"
#include "daemon/curve_keys.h"
#include "daemon/daemon.h"
#include "daemon/identity/keys.h"
#include "daemon/ledger.h"
#include "daemon/store/event_store.h"

namespace {

enum ExitCode {
  kExitOk = 0,
  kExitUsage = 1,     // Bad command line or config file.
  kExitDataDir = 2,   // The data directory cannot be created or opened (missing, foreign, corrupt).
  kExitRuntime = 3,   // A failure while serving (e.g. the disk refused a commit).
  kExitInternal = 4,  // An unexpected exception: a bug.
};

std::atomic<bool> g_stop{false};

extern "C" void OnSignal(int) { g_stop.store(true); }

int ExitFor(const baton::Status& s) {
  switch (s.code()) {
    case baton::StatusCode::kInvalidArgument:
      return kExitUsage;
    case baton::StatusCode::kNotFound:
    case baton::StatusCode::kCorruption:
    case baton::StatusCode::kRejected:  // A data directory of another site, or too new.
    case baton::StatusCode::kIOError:   // Unreadable (permissions, a directory for a file).
      return kExitDataDir;
    default:
      return kExitRuntime;
  }
}

// What `batond init` was given (docs/operations.md#init-and-the-trust-anchor).
struct InitOptions {
  std::string data, site, name, role = "manager";
  std::string trust;               // SITE:KEYHEX of the manager site; empty: anchor on itself.
  std::string peer_listen;         // tcp://ADDR:PORT.
  std::vector<std::string> peers;  // SITE=tcp://HOST:PORT or "SITE tcp://HOST:PORT".
};

int InitUsage(const std::string& message) {
  std::cerr << "batond init: " << message << "\n";
  return kExitUsage;
}

bool IsTcpEndpoint(const std::string& endpoint) {
  const size_t colon = endpoint.rfind(':');
  return endpoint.rfind("tcp://", 0) == 0 && colon > 6 && colon + 1 < endpoint.size() &&
         endpoint.find_first_not_of("0123456789", colon + 1) == std::string::npos;
}

// `"text"`, for a command line people paste: quotes and backslashes escaped.
std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// The config text of `o`; the flags are checked here so that errors name them (ParseConfig
// checks the result again, as it would the file).
baton::Result<std::string> InitConfigText(const InitOptions& o) {
  using baton::Status;
  std::string text = "site = " + o.site + "\n";
  if (!o.name.empty()) text += "site_name = " + o.name + "\n";
  text += "role = " + o.role + "\n";
  if (!o.trust.empty()) {
    const size_t colon = o.trust.find(':');
    const std::string site = o.trust.substr(0, colon);
    auto key =
        baton::identity::FromHex(colon == std::string::npos ? "" : o.trust.substr(colon + 1));
    if (colon == std::string::npos || !baton::client::ValidSiteId(site) || !key.ok() ||
        key->size() != baton::identity::kPublicKeySize) {
      return Status::InvalidArgument(
          "--trust \"" + o.trust.substr(0, 100) +
          "\": expected SITE:KEY, the manager site's id and its public key in 64 hex digits, as "
          "`batond init` printed them at that site (--trust hq:3b6a27bc...)");
    }
    if (site == o.site) {
      return Status::InvalidArgument("--trust names this site (" + o.site +
                                     "): a manager site is its own trust anchor when --trust is "
                                     "left out");
    }
    text += "trust = " + o.trust + "\n";
  } else if (o.role != "manager") {
    return Status::InvalidArgument(
        "a site with role " + o.role +
        " needs --trust SITE:KEY, the manager site's id and public key, as `batond init` "
        "printed them there: batond init --site " +
        o.site + " --role " + o.role + " --trust hq:3b6a27bc... --data " + o.data);
  }
  if (!o.peer_listen.empty()) {
    if (!IsTcpEndpoint(o.peer_listen)) {
      return Status::InvalidArgument("--peer-listen \"" + o.peer_listen +
                                     "\": expected tcp://ADDRESS:PORT, e.g. tcp://0.0.0.0:7101");
    }
    text += "peer_listen = " + o.peer_listen + "\n";
  }
  std::vector<std::string> seen;
  for (const std::string& peer : o.peers) {
    // SITE=ENDPOINT, or SITE ENDPOINT as in the config line.
    const size_t split = peer.find_first_of("= \t");
    const std::string site = peer.substr(0, split);
    const std::string endpoint =
        split == std::string::npos ? "" : peer.substr(peer.find_first_not_of("= \t", split));
    if (!baton::client::ValidSiteId(site) || !IsTcpEndpoint(endpoint)) {
      return Status::InvalidArgument("--peer \"" + peer.substr(0, 100) +
                                     "\": expected SITE=tcp://HOST:PORT, e.g. "
                                     "--peer hq=tcp://hq.example.org:7101");
    }
    if (site == o.site) return Status::InvalidArgument("--peer " + site + ": that is this site");
    if (std::find(seen.begin(), seen.end(), site) != seen.end()) {
      return Status::InvalidArgument("--peer " + site + ": given twice");
    }
    seen.push_back(site);
    text += "peer = " + site + " " + endpoint + "\n";
  }
  return text;
}

int Init(const InitOptions& o) {
  auto text = InitConfigText(o);
  if (!text.ok()) return InitUsage(text.status().message());
  auto config = baton::daemon::ParseConfig(*text, "command line", o.data);
  if (!config.ok()) return InitUsage(config.status().message());
  baton::Status s = baton::daemon::Ledger::Create(*config);
  if (!s.ok()) {
    std::cerr << "batond init: " << s.message() << "\n";
    return kExitDataDir;
  }
  auto keys = baton::identity::ReadKeyFiles(config->KeyDir());
  if (!keys.ok()) {
    std::cerr << "batond init: " << keys.status().message() << "\n";
    return kExitDataDir;
  }
  const std::string key_hex = baton::identity::ToHex(keys->public_key);
  const bool own_anchor = config->trust_site.empty();
  if (own_anchor) {
    // A manager initialised without --trust is the trust anchor: its own id and key. The key
    // exists only once Ledger::Create made it, so the config is written a second time.
    config->trust_site = config->site;
    config->trust_key = keys->public_key;
    baton::Status saved = baton::daemon::SaveConfig(*config);
    if (!saved.ok()) {
      std::cerr << "batond init: " << saved.message()
                << "\nbatond init: add the line `trust = " << config->site << ":" << key_hex
                << "` to " << config->ConfigPath().string() << "\n";
      return kExitDataDir;
    }
  }
  const std::string anchor = config->trust_site + ":" + baton::identity::ToHex(config->trust_key);
  std::cout << "initialised site \"" << config->site << "\" (role " << o.role << ") in " << o.data
            << "\npublic key   " << key_hex << "\ntrust anchor "
            << (own_anchor ? "this site (a manager without --trust anchors on itself)"
                           : config->trust_site + " (only its plan defines the runbook here)")
            << "\n";
  if (!own_anchor) {
    std::string enrol = "baton site add " + config->site + " --key " + key_hex;
    if (!o.name.empty()) enrol += " --name " + Quoted(o.name);
    if (o.role != "site") enrol += " --role " + o.role;
    if (!config->peer_listen.empty()) enrol += " --endpoint " + config->peer_listen;
    std::cout << "\nenrol this site: at the manager site (" << config->trust_site << "), run\n  "
              << enrol << "\n";
    if (config->peer_listen.find("://0.0.0.0:") != std::string::npos ||
        config->peer_listen.find("://*:") != std::string::npos) {
      std::cout << "  (with an address of this host that the other sites reach instead of "
                   "the listen address)\n";
    }
  }
  if (o.role == "manager") {
    std::cout << "\nother sites are initialised with this trust anchor:\n  batond init --site ID "
                 "--role site --trust "
              << anchor << " --data DIR\n";
  }
  std::cout << "\nnext: batond run --data " << o.data << "\n";
  return kExitOk;
}

// Creates a remote client's credentials file and admits its key (docs/operations.md).
int AllowClient(const std::string& data, const std::string& out, const std::string& listen) {
  auto config = baton::daemon::LoadConfig(data);
  if (!config.ok()) {
    std::cerr << "batond allow-client: " << config.status().message() << "\n";
    return ExitFor(config.status());
  }
  auto server = baton::daemon::ReadCurveKeys(config->KeyDir());
  if (!server.ok()) {
    std::cerr << "batond allow-client: " << server.status().message() << "\n";
    return kExitDataDir;
  }
  if (!listen.empty()) config->client_tcp = listen;
  if (config->client_tcp.empty()) {
    std::cerr << "batond allow-client: no tcp endpoint yet; pass --listen tcp://ADDRESS:PORT\n";
    return kExitUsage;
  }
  const baton::daemon::CurveKeyPair client_keys = baton::daemon::GenerateCurveKeyPair();
  baton::client::CurveCredentials file{server->public_z85, client_keys.public_z85,
                                       client_keys.secret_z85};
  const std::string text = baton::client::FormatCurveCredentials(file);
  int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    std::cerr << "batond allow-client: " << out << ": cannot create (does it exist already?)\n";
    if (fd >= 0) close(fd);
    return kExitUsage;
  }
  close(fd);
  config->client_keys.push_back(file.public_z85);
  baton::Status saved = baton::daemon::SaveConfig(*config);
  if (!saved.ok()) {
    std::cerr << "batond allow-client: " << saved.message() << "\n";
    return kExitDataDir;
  }
  std::cout << "wrote " << out << " (give it to the remote user; mode 0600)\n"
            << "admitted client key " << file.public_z85 << " on " << config->client_tcp
            << "\nrestart batond to apply; the client connects with:\n"
            << "  baton --endpoint " << config->client_tcp << " --curve-file " << out
            << " status\n";
  return kExitOk;
}

int Run(const std::string& data, bool clock_ran_ahead) {
  // The daemon's log: stderr (the journal under systemd), with time and level on every line.
  auto log = spdlog::stderr_logger_mt("batond");
  log->set_pattern("%Y-%m-%d %H:%M:%S.%e %l batond: %v");
  spdlog::set_default_logger(log);
  auto config = baton::daemon::LoadConfig(data);
  if (!config.ok()) {
    std::cerr << "batond run: " << config.status().message() << "\n";
    return ExitFor(config.status());
  }
  config->accept_clock_ahead = clock_ran_ahead;
  auto daemon = baton::daemon::Daemon::Open(*config);
  if (!daemon.ok()) {
    std::cerr << "batond run: " << daemon.status().ToString() << "\n";
    return daemon.status().code() == baton::StatusCode::kInvalidArgument ? kExitUsage
                                                                         : kExitDataDir;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  const auto& ledger = (*daemon)->ledger();
  std::cerr << "batond: site \"" << config->site << "\" serving " << config->ClientEndpoint()
            << " (runbook \"" << ledger.runbook_id() << "\", " << ledger.last_arrival()
            << " events)" << std::endl;
  if (!(*daemon)->endpoint().tcp_endpoint().empty()) {
    std::cerr << "batond: remote clients (CURVE) on " << (*daemon)->endpoint().tcp_endpoint()
              << std::endl;
  }
  baton::Status s = (*daemon)->Run(g_stop);
  if (!s.ok()) {
    std::cerr << "batond: " << s.ToString() << "\n";
    return kExitRuntime;
  }
  std::cerr << "batond: stopped cleanly" << std::endl;
  return kExitOk;
}

int Repair(const std::string& data) {
  auto config = baton::daemon::LoadConfig(data);
  if (!config.ok()) {
    std::cerr << "batond repair: " << config.status().message() << "\n";
    return ExitFor(config.status());
  }
  auto rebuilt = baton::daemon::Ledger::Repair(*config);
  if (!rebuilt.ok()) {
    std::cerr << "batond repair: " << rebuilt.status().ToString() << "\n";
    if (rebuilt.status().code() == baton::StatusCode::kIOError) {
      std::cerr << "batond repair: if batond is still running on " << data
                << ", stop it first (it holds the store's lock).\n";
    }
    return kExitDataDir;
  }
  std::cout << "rebuilt the index of " << config->StorePath().string() << " from its "
            << rebuilt->total << " events:";
  for (const auto& [origin, count] : rebuilt->events) std::cout << " " << origin << " " << count;
  std::cout << "\narrival counter: was " << rebuilt->old_arrival << ", now " << rebuilt->total
            << "\n";
  if (rebuilt->renumbered) {
    std::cout << "arrival index rebuilt (it did not cover every event once), origin after origin: "
                 "new cursor numbering (a resuming `baton watch` starts over)\n";
  } else {
    std::cout << "arrival index kept: it covers every event once (cursors unchanged)\n";
  }
  if (rebuilt->dropped_snapshot) {
    std::cout << "dropped the projection snapshot: the next start folds the whole log\n";
  }
  std::cout << "events and fork evidence are untouched; start batond again with: batond run "
               "--data "
            << data << "\n";
  return kExitOk;
}

// Sets the log aside and marks the directory for a rebuild from the peers
// (docs/operations.md#rebuilding-a-site).
int Rebuild(const std::string& data) {
  auto config = baton::daemon::LoadConfig(data);
  if (!config.ok()) {
    std::cerr << "batond rebuild: " << config.status().message() << "\n";
    return ExitFor(config.status());
  }
  auto aside = baton::daemon::Ledger::SetAsideForRebuild(*config);
  if (!aside.ok()) {
    std::cerr << "batond rebuild: " << aside.status().message() << "\n";
    return aside.status().code() == baton::StatusCode::kInvalidArgument ? kExitUsage : kExitDataDir;
  }
  if (aside->empty()) {
    std::cout << "no event log was there; created an empty one\n";
  } else {
    std::cout << "moved the old event log aside to " << aside->string()
              << "\n(kept as it was; delete it once the site is rebuilt and its evidence is no "
                 "longer needed)\n";
  }
  std::cout << "site \"" << config->site << "\" will take its log back from its peers (";
  for (size_t i = 0; i < config->peers.size(); ++i) {
    std::cout << (i ? ", " : "") << config->peers[i].site;
  }
  std::cout << "), its own events too; it accepts reports once every peer has answered.\n"
               "next: batond run --data "
            << data << "\n";
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{
        "batond: the baton site daemon. It keeps this site's signed event log and serves "
        "the `baton` CLI.\n\nExample:\n  batond init --site hq --data /var/lib/baton/hq\n"
        "  batond run --data /var/lib/baton/hq\n\nExit codes: 0 ok, 1 bad usage or "
        "config, 2 data directory missing/foreign/corrupt, 3 runtime failure, 4 bug.\n"
        "If `run` refuses a directory as inconsistent: batond repair --data DIR."};
    app.require_subcommand(1);
    std::string data;
    InitOptions init_opts;
    auto* init = app.add_subcommand("init", "Create a data directory: identity key, config, log");
    init->add_option("--data", init_opts.data, "Data directory to create")->required();
    init->add_option("--site", init_opts.site, "This site's id in the roster, e.g. hq or vendor-de")
        ->required();
    init->add_option("--name", init_opts.name, "Human-readable site name");
    init->add_option("--role", init_opts.role, "manager, site or observer")
        ->check(CLI::IsMember({"manager", "site", "observer"}))
        ->default_val("manager");
    init->add_option("--trust", init_opts.trust,
                     "The manager site's id and Ed25519 public key, as `batond init` printed them "
                     "there (sets trust). Required for role site or observer; a manager without "
                     "it is its own trust anchor")
        ->type_name("SITE:KEYHEX");
    init->add_option("--peer-listen", init_opts.peer_listen,
                     "Where this site accepts peer sites, e.g. tcp://0.0.0.0:7101 (sets "
                     "peer_listen)")
        ->type_name("tcp://ADDR:PORT");
    init->add_option("--peer", init_opts.peers,
                     "A site this one connects to, SITE=tcp://HOST:PORT (repeatable; sets peer)")
        ->type_name("SITE=URL");
    init->footer(
        "Examples:\n"
        "  batond init --site hq --name \"Frankfurt HQ\" --peer-listen tcp://0.0.0.0:7101 "
        "--data ./data/hq\n"
        "  batond init --site vendor-de --role site --trust hq:3b6a27bc...(64 hex digits) \\\n"
        "      --peer hq=tcp://hq.example.org:7101 --data ./data/vendor-de\n"
        "init prints the site's public key, and for a site the `baton site add` line the manager "
        "runs to enrol it.");
    auto* run = app.add_subcommand("run", "Serve a data directory in the foreground");
    run->add_option("--data", data, "Data directory made by `batond init`")->required();
    bool clock_ran_ahead = false;
    run->add_flag("--clock-ran-ahead", clock_ran_ahead,
                  "Start although this site's newest event is stamped ahead of the clock (it "
                  "ran ahead once and is right now): timestamps keep rising, reports carry the "
                  "clock's time (docs/operations.md#a-clock-that-ran-ahead)");
    run->footer(
        "Example: batond run --data ./data/hq   (stop with Ctrl-C or SIGTERM)\n"
        "Refuses to start (exit 2) while the clock is outside the years 2000 to 2099, or behind\n"
        "this site's newest timestamp by more than max_clock_skew_ms.");
    std::string out, listen;
    auto* allow = app.add_subcommand(
        "allow-client", "Create credentials for a remote client (tcp + CURVE) and admit its key");
    allow->add_option("--data", data, "Data directory")->required();
    allow->add_option("--out", out, "Credentials file to create (mode 0600)")->required();
    allow->add_option("--listen", listen,
                      "tcp endpoint for remote clients, e.g. tcp://0.0.0.0:7300 (sets client_tcp)");
    allow->footer(
        "Example: batond allow-client --data ./data/hq --out alice.curve "
        "--listen tcp://0.0.0.0:7300");
    auto* repair = app.add_subcommand(
        "repair",
        "Rebuild what the log derives from its events (chain heads, arrival index), when "
        "`batond run` refuses the directory as inconsistent. Stop batond first.");
    repair->add_option("--data", data, "Data directory")->required();
    repair->footer(
        "Example: batond repair --data ./data/hq\n"
        "Events and fork evidence are never changed. If the events themselves are damaged\n"
        "(a missing seq, a broken hash link), repair names the first bad one and changes\n"
        "nothing: restore the directory from a backup.");
    auto* rebuild = app.add_subcommand(
        "rebuild",
        "Rebuild this site's event log from its peers, when the log is lost or damaged beyond "
        "repair. Stop batond first.");
    rebuild->add_option("--data", data, "Data directory (its identity/ and batond.conf)")
        ->required();
    rebuild->footer(
        "Example: batond rebuild --data ./data/vendor-de && batond run --data ./data/vendor-de\n"
        "The old log is moved aside (never deleted). The next `batond run` takes every event\n"
        "back from the `peer` sites, this site's own too, and refuses reports until every\n"
        "peer has answered, so that it never issues a seq twice. Needs the site's identity\n"
        "(identity/site.key): if that is lost too, initialise a new site id and enrol it.");
    CLI11_PARSE(app, argc, argv);
    if (init->parsed()) return Init(init_opts);
    if (allow->parsed()) return AllowClient(data, out, listen);
    if (repair->parsed()) return Repair(data);
    if (rebuild->parsed()) return Rebuild(data);
    return Run(data, clock_ran_ahead);
  } catch (const std::exception& e) {
    std::cerr << "batond: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
}
