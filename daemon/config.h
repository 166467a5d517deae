// batond's configuration: DATA/batond.conf, written by `batond init`, read by `batond run`.
// Format: `key = value` lines, `#` comments, blank lines ignored; unknown keys are errors
// (a typo must not silently fall back to a default). Reference: docs/operations.md#config.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"

namespace baton::daemon {

struct Config {
  std::filesystem::path data_dir;  // Where the config, keys, event log and ipc socket live.
  crdt::SiteId site;               // This site's roster id ("hq", "vendor-de").
  std::string site_name;           // Human name ("Frankfurt HQ"); defaults to `site`.
  // Role this site takes in a plan it imports: manager (may amend the plan, report on any task)
  // or site (reports on its own tasks). The importing site is always made a manager.
  crdt::SiteRole role = crdt::SiteRole::kManager;
  // Client endpoint; default ipc://DATA/batond.sock. File permissions on DATA (0700) decide who
  // may connect, and the daemon records the OS user of each ipc peer as the actor.
  std::string client_endpoint;
  // Optional tcp endpoint for remote clients, always with CURVE ("tcp://0.0.0.0:7300").
  std::string client_tcp;
  // Z85 public keys of remote clients admitted on client_tcp (one per `client_key` line).
  std::vector<std::string> client_keys;
  // A remote clock more than this far ahead is quarantined, not merged (DESIGN.md, hlc).
  int64_t max_clock_skew_ms = 5 * 60 * 1000;
  // Write a projection snapshot every this many events, so restarts need not fold the whole log.
  uint64_t snapshot_every = 10000;

  std::filesystem::path ConfigPath() const { return data_dir / "batond.conf"; }
  std::filesystem::path StorePath() const { return data_dir / "events"; }
  std::filesystem::path KeyDir() const { return data_dir / "identity"; }
  std::string ClientEndpoint() const;  // client_endpoint or the ipc default.
};

// Reads DATA/batond.conf. Errors name file:line and the key.
Result<Config> LoadConfig(const std::filesystem::path& data_dir);
// Writes `config` to its ConfigPath() atomically (temp file + rename).
Status SaveConfig(const Config& config);
// Parses config text; `source` names it in errors. Exposed for tests.
Result<Config> ParseConfig(std::string_view text, const std::string& source,
                           const std::filesystem::path& data_dir);

}  // namespace baton::daemon
