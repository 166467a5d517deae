// Fault injection for tests: sits between the peer sessions and the sockets (above CURVE, which
// cannot be reordered from outside) and drops, duplicates, delays and reorders outgoing peer
// messages, driven by a seed, and cuts links named in a control file. Off unless the config has
// `fault_injection` AND batond's environment has BATON_ALLOW_FAULT_INJECTION=1 (a
// normal run refuses the key).
// Spec (config value): space-separated `seed=N drop=P dup=P delay_ms=N`, e.g.
// `seed=7 drop=0.05 dup=0.05 delay_ms=200` (P in [0, 1]); every message is delayed by a uniform
// 0..delay_ms, which reorders them. Control file DATA/faults (read again when its stamp or size
// changes, and at least every 200 ms): one `cut SITE` line per peer whose link is down in both
// directions (sends dropped here, received frames dropped on arrival). Docs:
// docs/replication.md#fault-injection. Not thread-safe: the loop thread's.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"

namespace baton::daemon::replication {

struct FaultSpec {
  uint64_t seed = 1;
  double drop = 0;
  double duplicate = 0;
  int64_t delay_ms = 0;
};

// kInvalidArgument naming the bad item.
Result<FaultSpec> ParseFaultSpec(const std::string& text);

class FaultLayer {
 public:
  FaultLayer(FaultSpec spec, std::filesystem::path control_file);

  // A message to `site` on the link named `link` (opaque to this class): returns the copies to
  // send now (0, 1 or 2); delayed copies come out of Due() later.
  std::vector<std::string> Outgoing(const crdt::SiteId& site, const std::string& link,
                                    std::string bytes, int64_t now_ms);
  struct Delayed {
    crdt::SiteId site;
    std::string link;
    std::string bytes;
  };
  // Messages whose delay is over, in due order (those to a link cut meanwhile are dropped).
  std::vector<Delayed> Due(int64_t now_ms);
  // False while the link to `site` is cut: drop what arrives from it.
  bool Passes(const crdt::SiteId& site);

 private:
  void ReadControl();

  FaultSpec spec_;
  std::filesystem::path control_file_;
  std::mt19937_64 rng_;
  std::multimap<int64_t, Delayed> delayed_;  // By due time.
  std::set<crdt::SiteId> cut_;
  int64_t control_stamp_ = -2;  // Modification time of the control file read; -1: none.
  std::uintmax_t control_size_ = 0;
  std::chrono::steady_clock::time_point control_read_at_;
};

}  // namespace baton::daemon::replication
