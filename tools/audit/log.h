// A site's log opened for the auditor: the trust anchor resolved (--trust or the config) and the
// event store opened as a RocksDB secondary in a temporary directory of its own, so that it is
// read while batond may run on it and never written.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crdt/event.h"
#include "crdt/projection.h"
#include "crdt/status.h"
#include "daemon/store/event_store.h"

namespace baton::audit {

// A temporary directory, removed with its contents at destruction; empty path if none could be
// made.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct OpenedLog {
  std::filesystem::path store_path;
  crdt::SiteId trust_site;
  std::string trust_key;                     // Raw Ed25519 public key.
  std::string trust_source;                  // "--trust" or the config file it came from.
  std::unique_ptr<ScratchDir> scratch;       // The secondary's own files; outlives `store`.
  std::unique_ptr<store::EventStore> store;  // Read-only.
};

// `trust`: SITE:HEX, or empty for the `trust` line of DATA/batond.conf. kInvalidArgument for a bad
// --trust or a config without a trust anchor, kNotFound when DATA is not a site's data directory.
Result<OpenedLog> OpenLog(const std::filesystem::path& data_dir, const std::string& trust);

// Each origin's events from seq 1, as long as they are contiguous, folded with the trust anchor:
// the state, roster and flags every site computes from this log. `chains`: per origin, its
// events in seq order.
using Chains = std::map<crdt::SiteId, std::vector<const crdt::Event*>>;
crdt::Projection FoldChains(const Chains& chains, const crdt::SiteId& trust_site,
                            const std::string& trust_key);

}  // namespace baton::audit
