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

// Limits of batond.conf (docs/operations.md#config): the file, a line, a site name, the lines of
// a listing key (`peer`, `client_key`), times in ms (366 days) and snapshot_every.
inline constexpr size_t kMaxConfigBytes = size_t{1} << 20;
inline constexpr size_t kMaxConfigLineBytes = 4096;
inline constexpr size_t kMaxSiteNameBytes = 128;
inline constexpr size_t kMaxConfigListEntries = 256;
inline constexpr int64_t kMaxConfigMs = crdt::kMaxDurationMs;
inline constexpr int64_t kMaxSnapshotEvery = 1000000000;

struct Config {
  std::filesystem::path data_dir;  // Where the config, keys, event log and ipc socket live.
  crdt::SiteId site;               // This site's roster id ("hq", "vendor-de").
  std::string site_name;           // Human name ("Frankfurt HQ"); defaults to `site`.
  // Role given at `batond init` (manager, site, observer); what a site may do is decided by the
  // roster. A manager initialised without `trust` is written as its own trust anchor.
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
  // Set by `batond run --clock-ran-ahead`, never read from or written to batond.conf: the
  // operator says that this machine's clock is right now, although this site's newest event is
  // stamped further ahead than max_clock_skew_ms (docs/operations.md#a-clock-that-ran-ahead).
  bool accept_clock_ahead = false;
  // Write a projection snapshot every this many events, so restarts need not fold the whole log.
  uint64_t snapshot_every = 10000;

  // The trust anchor: the manager site whose plan defines the runbook and its roster
  // (`trust = SITE:HEX`, the site id and its Ed25519 public key in hex). `batond init` writes it:
  // a manager site initialised without --trust anchors on itself. Only a plan from this site
  // starts the roster; later plan and roster events count only from managers on the roster.
  crdt::SiteId trust_site;
  std::string trust_key;  // Raw Ed25519 public key (32 bytes); empty with trust_site.

  // Replication (docs/replication.md). tcp endpoint the peer ROUTER binds, always with CURVE
  // ("tcp://0.0.0.0:7101"); empty: this site accepts no peer connections (it may still connect).
  std::string peer_listen;
  struct Peer {
    crdt::SiteId site;     // The peer's roster id; its key comes from the trust anchor or roster.
    std::string endpoint;  // "tcp://hq.example.org:7101".
    // The peer's Ed25519 public key (raw), when given on the line: needed to dial a site other
    // than the trust anchor before this site has the roster (a chain of vendors). Once the
    // roster lists the site, its key must match.
    std::string key;
    friend bool operator==(const Peer&, const Peer&) = default;
  };
  std::vector<Peer> peers;  // One `peer = SITE ENDPOINT [KEYHEX]` line each: links we open.
  // A site that dials peers refuses reports after a start until they confirm its own chain's
  // head, or this long (docs/replication.md#rejoining).
  int64_t rejoin_grace_ms = 5000;
  // Tests only: faults injected into the peer transport (daemon/replication/fault_layer.h).
  // batond refuses to run with it unless BATON_ALLOW_FAULT_INJECTION=1 is in its environment.
  std::string fault_injection;

  std::filesystem::path ConfigPath() const { return data_dir / "batond.conf"; }
  std::filesystem::path StorePath() const { return data_dir / "events"; }
  std::filesystem::path KeyDir() const { return data_dir / "identity"; }
  // Present while the log is being rebuilt from the peers (`batond rebuild`).
  std::filesystem::path RebuildMarkerPath() const { return data_dir / "rebuilding"; }
  std::string ClientEndpoint() const;  // client_endpoint or the ipc default.
};

// A trust anchor written SITE:HEX (a valid site id, a 64-hex-digit Ed25519 public key): the
// `trust` line of batond.conf and `baton-audit --trust`. False if malformed.
bool ParseTrustAnchor(const std::string& text, crdt::SiteId* site, std::string* raw_key);

// Reads DATA/batond.conf. Errors name file:line and the key.
Result<Config> LoadConfig(const std::filesystem::path& data_dir);
// Writes `config` to its ConfigPath() atomically (temp file + rename).
Status SaveConfig(const Config& config);
// Parses config text; `source` names it in errors. Exposed for tests.
Result<Config> ParseConfig(std::string_view text, const std::string& source,
                           const std::filesystem::path& data_dir);

}  // namespace baton::daemon
