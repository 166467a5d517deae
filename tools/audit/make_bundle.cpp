#include "tools/audit/make_bundle.h"

#include <chrono>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "client/bundle.h"
#include "daemon/ledger.h"
#include "tools/audit/log.h"

namespace baton::audit {
namespace {

// The hash the manifest's heads name: its payload's, or the stored one if it does not decode.
crdt::Hash HeadHash(const store::StoredEvent& stored) {
  auto decoded = daemon::DecodePayload(stored.envelope);
  return decoded.ok() ? decoded->payload_hash : stored.hash;
}

}  // namespace

Result<BundleSummary> MakeBundle(const std::filesystem::path& data_dir, const std::string& trust,
                                 const std::filesystem::path& out,
                                 const std::function<void(uint64_t done)>& progress) {
  BATON_ASSIGN_OR_RETURN(OpenedLog log, OpenLog(data_dir, trust));
  const store::EventStore& store = *log.store;
  // The roster and state digest the events fold to, for the header and manifest.
  BATON_ASSIGN_OR_RETURN(DecodedEvents decoded, DecodeEvents(ReadInOnePart(store)));
  Chains chains;
  for (const auto& [origin, events] : decoded.by_origin) {
    for (const crdt::Event& e : events) chains[origin].push_back(&e);
  }
  const crdt::Projection projection = FoldChains(chains, log.trust_site, log.trust_key);
  const std::string state_digest = DigestOf(projection);

  bundle::Header header;
  header.site = store.site();
  header.runbook_id = store.runbook_id();
  header.exported_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  header.exported_by = "baton-audit bundle";
  header.trust_site = log.trust_site;
  header.trust_key = log.trust_key;
  BATON_ASSIGN_OR_RETURN(std::unique_ptr<bundle::Writer> writer,
                         bundle::Writer::Create(out, header));
  BundleSummary summary;
  uint64_t last_arrival = 0;
  std::set<crdt::EventId> listed;
  BATON_TRY(store.ForEachArrival([&](uint64_t counter, const crdt::EventId& id, int64_t at) {
    last_arrival = counter;
    listed.insert(id);
    auto stored = store.Get(id);
    if (!stored.ok() || !stored->has_value()) {
      ++summary.skipped;
      return Status::Ok();
    }
    Status added =
        writer->AddEvent(bundle::Event{counter, at, (*stored)->envelope}, id, HeadHash(**stored));
    if (!added.ok()) return added;
    ++summary.events;
    if (progress && summary.events % 65536 == 0) progress(summary.events);
    return Status::Ok();
  }));
  // Events stored but missing from the arrival index go in with arrival 0 ("not listed"), so
  // that verify on the bundle names them as verify on the directory does.
  BATON_TRY(store.ForEachEvent([&](const crdt::EventId& key, Result<store::StoredEvent> stored) {
    if (!stored.ok() || listed.count(key) > 0) return Status::Ok();
    Status added = writer->AddEvent(bundle::Event{0, 0, stored->envelope}, key, HeadHash(*stored));
    if (!added.ok()) return added;
    ++summary.events;
    ++summary.unlisted;
    return Status::Ok();
  }));
  std::vector<store::StoredEvent> forks;
  BATON_TRY(store.ScanForks(&forks));
  for (const store::StoredEvent& fork : forks) {
    BATON_TRY(writer->AddFork(fork.envelope));
    ++summary.forks;
  }
  BATON_TRY(writer->Finish(last_arrival, state_digest, RosterOf(projection)));
  return summary;
}

}  // namespace baton::audit
