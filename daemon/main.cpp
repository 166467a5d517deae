// batond: the per-site daemon. `batond init` creates a data directory (identity, config, event
// log); `batond run` serves it in the foreground until SIGTERM/SIGINT. Exit codes are listed in
// docs/operations.md#exit-codes and in `batond --help`.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "client/curve_file.h"
#include "daemon/config.h"
#include "daemon/curve_keys.h"
#include "daemon/daemon.h"
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
      return kExitDataDir;
    default:
      return kExitRuntime;
  }
}

int Init(const std::string& data, const std::string& site, const std::string& name,
         const std::string& role) {
  std::string text = "site = " + site + "\n";
  if (!name.empty()) text += "site_name = " + name + "\n";
  text += "role = " + role + "\n";
  auto config = baton::daemon::ParseConfig(text, "command line", data);
  if (!config.ok()) {
    std::cerr << "batond init: " << config.status().message() << "\n";
    return kExitUsage;
  }
  baton::Status s = baton::daemon::Ledger::Create(*config);
  if (!s.ok()) {
    std::cerr << "batond init: " << s.message() << "\n";
    return kExitDataDir;
  }
  std::cout << "initialised site \"" << config->site << "\" in " << data << "\n"
            << "next: batond run --data " << data << "\n";
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

int Run(const std::string& data) {
  auto config = baton::daemon::LoadConfig(data);
  if (!config.ok()) {
    std::cerr << "batond run: " << config.status().message() << "\n";
    return ExitFor(config.status());
  }
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
  baton::store::StoreOptions so;
  so.path = config->StorePath();
  so.site = config->site;
  auto rebuilt = baton::store::EventStore::RebuildIndex(so);
  if (!rebuilt.ok()) {
    std::cerr << "batond repair: " << rebuilt.status().ToString() << "\n";
    if (rebuilt.status().code() == baton::StatusCode::kIOError) {
      std::cerr << "batond repair: if batond is still running on " << data
                << ", stop it first (it holds the store's lock).\n";
    }
    return kExitDataDir;
  }
  std::cout << "rebuilt the index of " << so.path.string() << " from its " << rebuilt->total
            << " events:";
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
    std::string data, site, name, role = "manager";
    auto* init = app.add_subcommand("init", "Create a data directory: identity key, config, log");
    init->add_option("--data", data, "Data directory to create")->required();
    init->add_option("--site", site, "This site's id in the roster, e.g. hq or vendor-de")
        ->required();
    init->add_option("--name", name, "Human-readable site name");
    init->add_option("--role", role, "manager, site or observer")
        ->check(CLI::IsMember({"manager", "site", "observer"}));
    init->footer("Example: batond init --site hq --data ./data/hq");
    auto* run = app.add_subcommand("run", "Serve a data directory in the foreground");
    run->add_option("--data", data, "Data directory made by `batond init`")->required();
    run->footer("Example: batond run --data ./data/hq   (stop with Ctrl-C or SIGTERM)");
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
    CLI11_PARSE(app, argc, argv);
    if (init->parsed()) return Init(data, site, name, role);
    if (allow->parsed()) return AllowClient(data, out, listen);
    if (repair->parsed()) return Repair(data);
    return Run(data);
  } catch (const std::exception& e) {
    std::cerr << "batond: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
}
