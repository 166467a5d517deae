// The evidence the auditor reads: a site's data directory (its event store opened as a RocksDB
// secondary in a temporary directory of its own, so that it is read while batond may run on it
// and never written) or a bundle file (docs/audit.md#bundle-format), with the trust anchor
// resolved (--trust, else the config or the bundle's header).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/bundle.h"
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

// A data directory or a bundle, read the same way.
class Evidence {
 public:
  // A bundle file if `path` starts with the bundle magic, else a data directory (OpenLog).
  // `trust` as for OpenLog; for a bundle, empty takes the anchor its header names.
  static Result<std::unique_ptr<Evidence>> Open(const std::filesystem::path& path,
                                                const std::string& trust);

  const std::filesystem::path& path() const { return path_; }  // What was read.
  bool is_bundle() const { return bundle_.has_value(); }
  const crdt::SiteId& site() const { return site_; }
  const std::string& runbook_id() const { return runbook_id_; }
  const crdt::SiteId& trust_site() const { return trust_site_; }
  const std::string& trust_key() const { return trust_key_; }
  const std::string& trust_source() const { return trust_source_; }
  // The bundle as read (header, manifest, container problems); null for a data directory.
  const bundle::Contents* bundle() const { return bundle_ ? &*bundle_ : nullptr; }

  // Every event in (origin, seq) order with the id it is filed under: for a store its key, for a
  // bundle the id its envelope names. An entry that cannot be read is passed as kCorruption
  // (for a bundle: with an empty origin and the record's arrival as seq).
  Status ForEachEvent(const store::EventStore::EventVisitor& visit) const;
  // The same, read on several threads at once: `parts(n)` is told the number of parts first,
  // then each part's entries come to `visit(part, key, entry)` in order, parts concurrently.
  // Parts are runs of whole origins, numbered in (origin, seq) order. The first error a visit or
  // a read returns, by part.
  using PartVisitor =
      std::function<Status(size_t part, const crdt::EventId& key, Result<store::StoredEvent>)>;
  Status ForEachEventInParts(const std::function<void(size_t parts)>& parts,
                             const PartVisitor& visit) const;
  // The arrival index (a store's) or the bundle's arrival counters and times, in order.
  Status ForEachArrival(const store::EventStore::ArrivalVisitor& visit) const;
  Status Forks(std::vector<store::StoredEvent>* out) const;

 private:
  Evidence() = default;
  std::filesystem::path path_;
  crdt::SiteId site_;
  std::string runbook_id_;
  crdt::SiteId trust_site_;
  std::string trust_key_;
  std::string trust_source_;
  OpenedLog log_;                           // A data directory.
  std::optional<bundle::Contents> bundle_;  // A bundle.
  // A bundle's events decoded to the store's shape, in (origin, seq) order; undecodable records
  // as their status, keyed by arrival.
  std::vector<store::StoredEvent> sorted_;
  std::vector<std::pair<uint64_t, Status>> unreadable_;
  struct BundleArrival {
    uint64_t counter;
    crdt::EventId id;
    int64_t arrived_ms;
  };
  std::vector<BundleArrival> arrivals_;  // Decodable records, in file order.
};

// Runs `work(i)` for every i in [0, n), on as many threads as there are cores (at most 8), each
// taking the next i. `work` must be safe to run concurrently for different i.
void ParallelFor(size_t n, const std::function<void(size_t)>& work);

// Every event that decodes and is filed under its own id, per origin in seq order: the log read
// once, the events decoded on every core. `read`: Evidence::ForEachEventInParts, or a store's
// ForEachEvent as one part (ReadInOnePart).
struct DecodedEvents {
  std::map<crdt::SiteId, std::vector<crdt::Event>> by_origin;
  uint64_t events = 0;       // Decoded.
  uint64_t undecodable = 0;  // Entries unreadable, undecodable or filed under another id.
};
// Moves each origin's entries in `from` to the end of that origin's in `into`: parts read on
// several threads, put together in order.
using StoredByOrigin = std::map<crdt::SiteId, std::vector<store::StoredEvent>>;
void AppendByOrigin(StoredByOrigin& from, StoredByOrigin& into);
using PartReader = std::function<Status(const std::function<void(size_t parts)>& parts,
                                        const Evidence::PartVisitor& visit)>;
Result<DecodedEvents> DecodeEvents(const PartReader& read);
PartReader ReadInParts(const Evidence& evidence);
PartReader ReadInOnePart(const store::EventStore& store);

// Each origin's events from seq 1, as long as they are contiguous, folded with the trust anchor
// in causal order (by hybrid logical clock, each origin's order kept): the state, roster and
// flags every site computes from this log. `chains`: per origin, its events in seq order.
using Chains = std::map<crdt::SiteId, std::vector<const crdt::Event*>>;
// The state digest of a projection (as `baton status --digest` prints it) and its roster as a
// bundle lists it.
std::string DigestOf(const crdt::Projection& projection);
std::vector<bundle::RosterSite> RosterOf(const crdt::Projection& projection);
crdt::Projection FoldChains(const Chains& chains, const crdt::SiteId& trust_site,
                            const std::string& trust_key);

}  // namespace baton::audit
