#include "tools/audit/verify.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "client/bundle.h"
#include "client/protocol.h"
#include "crdt/event_codec.h"
#include "crdt/projection.h"
#include "daemon/identity/chain.h"
#include "daemon/identity/keys.h"
#include "daemon/store/event_store.h"
#include "tools/audit/log.h"

namespace baton::audit {
namespace {

// One stored entry and what it decoded to (`ok`: both the envelope and the payload did; the
// views point into `stored.envelope`).
struct Entry {
  store::StoredEvent stored;
  crdt::EnvelopeView view;
  crdt::Event event;
  crdt::Hash hash{};  // Of the payload.
  bool ok = false;
};

// One entry of the arrival index.
using Arrival = std::pair<uint64_t, crdt::EventId>;

// Fork evidence of one origin, decoded once.
struct ForkEvidence {
  crdt::SignedEvent signed_event;
  crdt::Event event;
  crdt::Hash hash{};
};

class Verifier {
 public:
  // `bundle`: entries come from a bundle's records, where one that cannot be read is one whose
  // envelope does not decode.
  Verifier(VerifyReport* report, bool bundle) : r_(*report), bundle_(bundle) {}

  void Problem(std::string kind, crdt::EventId id, std::string message) {
    r_.problems.push_back(audit::Problem{std::move(kind), std::move(id), std::move(message)});
  }

  // Before the events are read: how many parts they come in.
  void Parts(size_t n) { parts_.resize(n); }

  // One entry of the events family, kept for Decode. Parts may be read concurrently: each
  // touches only its own.
  void Take(size_t p, const crdt::EventId& key, Result<store::StoredEvent> stored) {
    ReadPart& part = parts_[p];
    if (!stored.ok()) {
      part.problems.push_back(audit::Problem{bundle_ ? "undecodable" : "unreadable_entry", key,
                                             stored.status().message()});
      if (key.seq > 0) part.unreadable.insert(key);
      return;
    }
    ++part.events;
    // Entries come in runs of one origin. Only the stored bytes are kept here: an Entry is
    // built once, in place, by Decode.
    if (part.run == nullptr || part.run->back().id.origin != stored->id.origin) {
      part.run = &part.stored[stored->id.origin];
    }
    part.run->push_back(std::move(stored).value());
  }

  // Every entry decoded, hashed and checked against the key it is stored under, on every core:
  // the log is read once and each event decoded and hashed once. Problems in (origin, seq) order.
  void Decode() {
    struct Chunk {
      std::vector<Entry>* entries;
      size_t begin, end;
      std::vector<audit::Problem> problems;
    };
    constexpr size_t kChunk = 4096;
    // The parts in order: runs of whole origins, so an origin is in one part (the same origin
    // in two would only be appended).
    StoredByOrigin read_all;
    for (ReadPart& part : parts_) {
      for (audit::Problem& p : part.problems) r_.problems.push_back(std::move(p));
      undecodable_.merge(part.unreadable);
      r_.events += part.events;
      AppendByOrigin(part.stored, read_all);
    }
    parts_.clear();
    std::vector<Chunk> chunks;
    std::vector<std::vector<store::StoredEvent>*> read;
    for (auto& [origin, stored] : read_all) {
      std::vector<Entry>& entries = by_origin_[origin];
      entries.resize(stored.size());
      for (size_t b = 0; b < entries.size(); b += kChunk) {
        chunks.push_back(Chunk{&entries, b, std::min(entries.size(), b + kChunk), {}});
        read.push_back(&stored);
      }
    }
    ParallelFor(chunks.size(), [&](size_t c) {
      Chunk& chunk = chunks[c];
      for (size_t i = chunk.begin; i < chunk.end; ++i) {
        Entry& entry = (*chunk.entries)[i];
        entry.stored = std::move((*read[c])[i]);
        DecodeEntry(entry, chunk.problems);
      }
    });
    for (Chunk& chunk : chunks) {
      for (audit::Problem& p : chunk.problems) r_.problems.push_back(std::move(p));
      for (size_t i = chunk.begin; i < chunk.end; ++i) {
        const Entry& entry = (*chunk.entries)[i];
        if (!entry.ok) undecodable_.insert(entry.stored.id);
      }
    }
  }

  void TakeFork(const store::StoredEvent& fork) {
    ++r_.forks;
    auto envelope = crdt::DecodeEnvelope(fork.envelope);
    if (!envelope.ok()) {
      Problem("undecodable", fork.id,
              "fork evidence for " + fork.id.ToString() + ": " + envelope.status().message());
      return;
    }
    auto event = crdt::DecodeEvent(envelope->payload);
    if (!event.ok()) {
      Problem("undecodable", fork.id,
              "fork evidence for " + fork.id.ToString() +
                  ": its payload does not decode: " + event.status().message());
      return;
    }
    const crdt::Hash hash = identity::HashPayload(envelope->payload);
    forks_[fork.id.origin].push_back(
        ForkEvidence{std::move(envelope).value(), std::move(event).value(), hash});
  }

  // The roster from the events, as every site folds them.
  crdt::Projection Fold(const crdt::SiteId& trust_site, const std::string& trust_key) const {
    Chains chains;
    for (const auto& [origin, entries] : by_origin_) {
      auto& chain = chains[origin];
      chain.reserve(entries.size());
      for (const Entry& entry : entries) {
        if (entry.ok) chain.push_back(&entry.event);
      }
    }
    return FoldChains(chains, trust_site, trust_key);
  }

  // Every origin's chain: the chain audit with its key, the clock along it, and a summary. The
  // origins on every core.
  void CheckChains(const crdt::Projection& projection, const crdt::SiteId& trust_site,
                   const std::string& trust_key) {
    std::vector<ChainJob> jobs;
    for (const auto& [origin, entries] : by_origin_) {
      const auto ok = [](const Entry& e) { return e.ok; };
      if (std::none_of(entries.begin(), entries.end(), ok)) continue;  // Named as undecodable.
      // A removed site's key too: the key it signed with.
      std::string key = origin == trust_site ? trust_key : projection.SignerKey(origin);
      const auto forks = forks_.find(origin);
      jobs.push_back(ChainJob{&origin,
                              &entries,
                              forks == forks_.end() ? nullptr : &forks->second,
                              &r_.origins[origin],
                              std::move(key),
                              {}});
    }
    ParallelFor(jobs.size(), [&jobs](size_t j) { CheckChain(jobs[j]); });
    for (ChainJob& job : jobs) {
      for (audit::Problem& p : job.problems) r_.problems.push_back(std::move(p));
    }
    // Fork evidence for an origin with no stored event at all.
    for (const auto& [origin, forks] : forks_) {
      if (r_.origins.count(origin) == 0 && !forks.empty()) {
        Problem("fork", crdt::EventId{origin, 0},
                "fork evidence for " + origin + ", which has no stored event");
      }
    }
  }

  // Per origin, the last event held and its hash.
  std::map<crdt::SiteId, bundle::Head> Heads() const {
    std::map<crdt::SiteId, bundle::Head> heads;
    for (const auto& [origin, entries] : by_origin_) {
      const auto last =
          std::find_if(entries.rbegin(), entries.rend(), [](const Entry& e) { return e.ok; });
      if (last != entries.rend()) {
        heads[origin] = bundle::Head{last->stored.id.seq, last->stored.hash};
      }
    }
    return heads;
  }

  // The arrival index: each stored event exactly once, numbered 1..n without gaps. Safe to run
  // beside Fold (it reads the entries, writes only `out`).
  void CheckArrivals(const std::vector<Arrival>& arrivals, std::vector<audit::Problem>* out) const {
    const auto problem = [out](const char* kind, crdt::EventId id, std::string message) {
      out->push_back(audit::Problem{kind, std::move(id), std::move(message)});
    };
    // Per origin, the arrival that listed each of its entries (0: none yet), by entry index;
    // the arrivals of ids with no entry (unreadable, or not stored at all) by id.
    std::map<crdt::SiteId, std::vector<uint64_t>> listed;
    for (const auto& [origin, entries] : by_origin_) listed[origin].assign(entries.size(), 0);
    std::map<crdt::EventId, uint64_t> elsewhere;
    // Arrivals come in runs of one origin: its entries looked up once per run.
    const crdt::SiteId* origin = nullptr;
    const std::vector<Entry>* entries = nullptr;
    std::vector<uint64_t>* slots = nullptr;
    uint64_t expected = 1;
    bool numbering_reported = false;
    for (const auto& [counter, id] : arrivals) {
      if (counter != expected && !numbering_reported) {
        numbering_reported = true;
        problem("arrival_numbering", id,
                "the arrival index jumps from " + std::to_string(expected - 1) + " to " +
                    std::to_string(counter) + " at " + id.ToString());
      }
      expected = counter + 1;
      if (origin == nullptr || *origin != id.origin) {
        auto it = by_origin_.find(id.origin);
        origin = it == by_origin_.end() ? nullptr : &it->first;
        entries = it == by_origin_.end() ? nullptr : &it->second;
        slots = it == by_origin_.end() ? nullptr : &listed[id.origin];
      }
      const size_t at = entries == nullptr ? 0 : IndexOf(*entries, id.seq);
      const bool held = entries != nullptr && at < entries->size();
      uint64_t& slot = held ? (*slots)[at] : elsewhere[id];
      if (slot != 0) {
        problem("arrival_repeated", id,
                "arrivals " + std::to_string(slot) + " and " + std::to_string(counter) +
                    " both list " + id.ToString());
        continue;
      }
      slot = counter;
      if (!held && undecodable_.count(id) == 0) {
        problem("arrival_dangling", id,
                "arrival " + std::to_string(counter) + " lists " + id.ToString() +
                    ", which is not stored");
      }
    }
    for (const auto& [name, held] : by_origin_) {
      const std::vector<uint64_t>& by_entry = listed.at(name);
      for (size_t i = 0, first = 0; i < held.size(); ++i) {
        // Two entries of one id (a bundle's fork): the arrival lists the first.
        if (i == 0 || held[i].stored.id.seq != held[i - 1].stored.id.seq) first = i;
        if (held[i].ok && by_entry[first] == 0) {
          problem("arrival_missing", held[i].stored.id,
                  "event " + held[i].stored.id.ToString() +
                      " is stored but not in the arrival index (export and watch skip it)");
        }
      }
    }
  }

 private:
  // One origin's chain to check, with what the check writes.
  struct ChainJob {
    const crdt::SiteId* origin;
    const std::vector<Entry>* entries;       // At least one decoded.
    const std::vector<ForkEvidence>* forks;  // Or null.
    OriginSummary* summary;
    std::string key;  // Raw; another size when the origin's key is unknown.
    std::vector<audit::Problem> problems;
  };

  // Thread-safe: touches only `job`'s summary and problems.
  static void CheckChain(ChainJob& job) {
    const crdt::SiteId& origin = *job.origin;
    OriginSummary& summary = *job.summary;
    const auto problem = [&job](const char* kind, crdt::EventId id, std::string message) {
      job.problems.push_back(audit::Problem{kind, std::move(id), std::move(message)});
    };
    const auto first =
        std::find_if(job.entries->begin(), job.entries->end(), [](const Entry& e) { return e.ok; });
    summary.key_known = job.key.size() == identity::kPublicKeySize;
    summary.events = static_cast<uint64_t>(
        std::count_if(first, job.entries->end(), [](const Entry& e) { return e.ok; }));
    if (!summary.key_known) {
      problem("unknown_origin", first->stored.id,
              "origin " + origin + " is neither the trust anchor nor named by any roster: its " +
                  std::to_string(summary.events) + " events cannot be verified");
    }
    static const std::vector<ForkEvidence> kNoForks;
    const std::vector<ForkEvidence>& forks = job.forks != nullptr ? *job.forks : kNoForks;
    std::vector<identity::ChainLink> chain;
    chain.reserve(job.entries->size() + forks.size());
    const crdt::Event* previous = nullptr;
    size_t next_fork = 0;
    const auto add_fork = [&] {
      const ForkEvidence& f = forks[next_fork++];
      chain.push_back(
          identity::ChainLink{&f.event, f.hash, f.signed_event.payload, f.signed_event.signature});
    };
    for (auto it = first; it != job.entries->end(); ++it) {
      const Entry& entry = *it;
      if (!entry.ok) continue;
      if (!entry.view.signature.empty()) ++summary.signatures;
      chain.push_back(
          identity::ChainLink{&entry.event, entry.hash, entry.view.payload, entry.view.signature});
      // Fork evidence goes right after the stored event of its seq (the audit names both).
      while (next_fork < forks.size() && forks[next_fork].event.seq <= entry.stored.id.seq) {
        add_fork();
      }
      if (previous != nullptr && previous->seq + 1 == entry.event.seq &&
          !(previous->hlc < entry.event.hlc)) {
        problem("hlc_not_rising", entry.event.id(),
                "event " + entry.event.id().ToString() + " is stamped " +
                    entry.event.hlc.ToString() + ", not after " + previous->id().ToString() +
                    "'s " + previous->hlc.ToString());
      }
      previous = &entry.event;
    }
    while (next_fork < forks.size()) add_fork();
    if (!summary.key_known) return;
    const identity::ChainReport report = identity::AuditLinks(origin, chain, job.key);
    summary.verified_through = report.verified_through;
    for (const identity::ChainProblem& p : report.problems) {
      problem(identity::ChainProblemKindName(p.kind), p.id, p.message);
    }
  }

  // Thread-safe: touches only `entry` and `problems`.
  void DecodeEntry(Entry& entry, std::vector<audit::Problem>& problems) const {
    const auto problem = [&](const char* kind, std::string message) {
      problems.push_back(audit::Problem{kind, entry.stored.id, std::move(message)});
    };
    auto envelope = crdt::DecodeEnvelopeView(entry.stored.envelope);
    if (!envelope.ok()) {
      // Left out of the chain, which then shows a gap (or a truncation) here.
      problem("undecodable", "event " + entry.stored.id.ToString() +
                                 ": its envelope does not decode: " + envelope.status().message());
      return;
    }
    entry.view = *envelope;
    auto event = crdt::DecodeEvent(entry.view.payload);
    if (!event.ok()) {
      problem("undecodable", "event " + entry.stored.id.ToString() +
                                 ": its payload does not decode: " + event.status().message());
      return;
    }
    entry.event = std::move(event).value();
    entry.hash = identity::HashPayload(entry.view.payload);
    entry.ok = true;
    const crdt::Event& e = entry.event;
    if (e.id() != entry.stored.id) {
      problem("misfiled", "the entry stored as " + entry.stored.id.ToString() +
                              " holds the event " + e.id().ToString());
    }
    if (entry.hash != entry.stored.hash) {
      problem("stored_hash", "event " + entry.stored.id.ToString() +
                                 ": the hash stored beside it is not the hash of its payload");
    }
    if (e.prev_hash != entry.stored.prev_hash) {
      problem("stored_hash", "event " + entry.stored.id.ToString() +
                                 ": the prev_hash stored beside it is not the one its payload "
                                 "carries");
    }
    if (e.runbook_id != r_.runbook_id) {
      problem("other_runbook", "event " + entry.stored.id.ToString() + " belongs to runbook \"" +
                                   e.runbook_id + "\", not \"" + r_.runbook_id + "\"");
    }
  }

  // The index of the entry stored as `seq` in `entries` (in seq order, the store's), or
  // entries.size(). Usually entry seq - 1; else a binary search.
  static size_t IndexOf(const std::vector<Entry>& entries, uint64_t seq) {
    if (seq >= 1 && seq <= entries.size() && entries[seq - 1].stored.id.seq == seq) return seq - 1;
    auto at = std::lower_bound(entries.begin(), entries.end(), seq,
                               [](const Entry& e, uint64_t s) { return e.stored.id.seq < s; });
    if (at == entries.end() || at->stored.id.seq != seq) return entries.size();
    return static_cast<size_t>(at - entries.begin());
  }

  VerifyReport& r_;
  const bool bundle_;
  // What one part of the events read: until Decode.
  struct ReadPart {
    StoredByOrigin stored;
    std::vector<store::StoredEvent>* run = nullptr;  // The origin being read.
    std::vector<audit::Problem> problems;
    std::set<crdt::EventId> unreadable;
    uint64_t events = 0;
  };
  std::vector<ReadPart> parts_;
  std::map<crdt::SiteId, std::vector<Entry>> by_origin_;  // In seq order (the store's).
  std::map<crdt::SiteId, std::vector<ForkEvidence>> forks_;
  std::set<crdt::EventId> undecodable_;  // Stored (unreadable or undecodable), not in a chain.
};

std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

// A bundle's own checks: the file whole (framing, checksum), its manifest true to its records
// and to the state they fold to, its roster the one the events define.
void CheckBundle(const bundle::Contents& b, const std::map<crdt::SiteId, bundle::Head>& heads,
                 const crdt::Projection& projection, VerifyReport* r) {
  const auto problem = [&](const char* kind, const std::string& origin, std::string message) {
    r->problems.push_back(audit::Problem{kind, crdt::EventId{origin, 0}, std::move(message)});
  };
  for (const std::string& p : b.problems) problem("bundle_damaged", "", "bundle: " + p);
  if (b.has_manifest) {
    const bundle::Manifest& m = b.manifest;
    if (m.events != b.events.size()) {
      problem("bundle_manifest", "",
              "the manifest counts " + std::to_string(m.events) + " events, the bundle holds " +
                  std::to_string(b.events.size()));
    }
    if (m.forks != b.forks.size()) {
      problem("bundle_manifest", "",
              "the manifest counts " + std::to_string(m.forks) + " forks, the bundle holds " +
                  std::to_string(b.forks.size()));
    }
    uint64_t last = 0;
    for (const bundle::Event& e : b.events) last = std::max(last, e.arrival);
    if (m.last_arrival != last) {
      problem("bundle_manifest", "",
              "the manifest's last arrival is " + std::to_string(m.last_arrival) +
                  ", the bundle's last event arrived as " + std::to_string(last));
    }
    for (const auto& [origin, head] : m.heads) {
      auto held = heads.find(origin);
      if (held == heads.end()) {
        problem("bundle_manifest", origin,
                "the manifest names " + origin + "'s head as seq " + std::to_string(head.seq) +
                    "; the bundle holds no event of " + origin);
      } else if (held->second.seq != head.seq) {
        problem("bundle_manifest", origin,
                "the manifest names " + origin + "'s head as seq " + std::to_string(head.seq) +
                    "; the bundle holds " + origin + " up to seq " +
                    std::to_string(held->second.seq));
      } else if (held->second.hash != head.hash) {
        problem("bundle_manifest", origin,
                "the manifest's hash for " + origin + "/" + std::to_string(head.seq) +
                    " is not the hash of the event the bundle holds");
      }
    }
    for (const auto& [origin, head] : heads) {
      if (m.heads.count(origin) == 0) {
        problem("bundle_manifest", origin,
                "the bundle holds events of " + origin + " that its manifest does not name");
      }
    }
    if (!m.state_digest.empty() && m.state_digest != r->state_digest) {
      problem("bundle_manifest", "",
              "these events fold to the state " + r->state_digest.substr(0, 16) +
                  "..., not the state " + m.state_digest.substr(0, 16) +
                  "... that the exporting site reported");
    }
  }
  // The manifest's roster (keys an independent verifier may use) must be the events' roster.
  if (!b.has_manifest) return;
  // Format 1 manifests list neither teams nor removed sites.
  const bool v1 = b.header.version < 2;
  std::map<crdt::SiteId, bundle::RosterSite> folded, listed;
  for (bundle::RosterSite s : RosterOf(projection)) {
    if (v1 && s.removed) continue;
    if (v1) s.teams.clear();
    folded[s.id] = std::move(s);
  }
  for (const bundle::RosterSite& s : b.manifest.roster) listed[s.id] = s;
  for (const auto& [id, entry] : listed) {
    auto it = folded.find(id);
    if (it == folded.end()) {
      problem("bundle_roster", id,
              "the bundle's manifest lists site " + id + ", which the events do not enrol");
    } else if (it->second != entry) {
      problem("bundle_roster", id,
              "the bundle's manifest gives site " + id +
                  " another key, role, name, endpoint, teams or removal than the events do");
    }
  }
  for (const auto& [id, entry] : folded) {
    if (listed.count(id) == 0) {
      problem("bundle_roster", id,
              "the events enrol site " + id + ", which the bundle's manifest does not list");
    }
  }
}

}  // namespace

Result<VerifyReport> Verify(const VerifyOptions& options) {
  BATON_ASSIGN_OR_RETURN(std::unique_ptr<Evidence> evidence,
                         Evidence::Open(options.data_dir, options.trust));
  return VerifyEvidence(*evidence, options.progress);
}

Result<VerifyReport> VerifyEvidence(const Evidence& opened,
                                    const std::function<void(const char*, uint64_t)>& on_progress) {
  const Evidence* evidence = &opened;
  const crdt::SiteId& trust_site = evidence->trust_site();
  const std::string& trust_key = evidence->trust_key();
  VerifyReport report;
  report.store = evidence->path();
  report.bundle = evidence->is_bundle();
  report.trust_site = trust_site;
  report.trust_source = evidence->trust_source();
  report.site = evidence->site();
  report.runbook_id = evidence->runbook_id();

  const auto progress = [&](const char* step, uint64_t done) {
    if (on_progress) on_progress(step, done);
  };
  Verifier verifier(&report, evidence->is_bundle());
  // Two cores' worth: the arrival index is read beside the events, and checked beside the fold.
  std::vector<Arrival> arrivals;
  Status arrivals_read;
  std::thread arrival_reader([&] {
    arrivals_read =
        evidence->ForEachArrival([&arrivals](uint64_t counter, const crdt::EventId& id, int64_t) {
          arrivals.emplace_back(counter, id);
          return Status::Ok();
        });
  });
  progress("reading", 0);
  const Status events_read = evidence->ForEachEventInParts(
      [&verifier](size_t n) { verifier.Parts(n); },
      [&verifier](size_t part, const crdt::EventId& key, Result<store::StoredEvent> entry) {
        verifier.Take(part, key, std::move(entry));
        return Status::Ok();
      });
  arrival_reader.join();
  BATON_TRY(events_read);
  BATON_TRY(arrivals_read);
  report.arrivals = arrivals.size();
  progress("decoding", report.events);
  verifier.Decode();
  progress("folding", report.events);
  std::vector<store::StoredEvent> forks;
  BATON_TRY(evidence->Forks(&forks));
  for (const store::StoredEvent& fork : forks) verifier.TakeFork(fork);
  std::vector<Problem> arrival_problems;
  std::thread arrival_checker([&] { verifier.CheckArrivals(arrivals, &arrival_problems); });
  const crdt::Projection projection = verifier.Fold(trust_site, trust_key);
  report.state_digest = DigestOf(projection);
  arrival_checker.join();
  progress("checking chains", report.events);
  verifier.CheckChains(projection, trust_site, trust_key);
  for (Problem& p : arrival_problems) report.problems.push_back(std::move(p));
  if (const bundle::Contents* b = evidence->bundle()) {
    CheckBundle(*b, verifier.Heads(), projection, &report);
  }
  report.flagged = projection.flags();
  std::stable_sort(report.problems.begin(), report.problems.end(),
                   [](const Problem& a, const Problem& b) {
                     const auto rank = [](const Problem& p) {
                       if (p.kind.rfind("bundle_", 0) == 0) return 2;
                       return p.kind.rfind("arrival_", 0) == 0 ? 1 : 0;
                     };
                     if (rank(a) != rank(b)) return rank(a) < rank(b);
                     return a.event.origin < b.event.origin;
                   });
  return report;
}

std::string FormatReport(const VerifyReport& r) {
  std::ostringstream out;
  out << (r.bundle ? "bundle:   " : "log:      ") << r.store.string()
      << (r.bundle ? " (exported by site " : " (written by site ") << r.site << ", runbook "
      << (r.runbook_id.empty() ? "(none yet)" : r.runbook_id) << ")\n";
  out << "trust:    " << r.trust_site << " (from " << r.trust_source << ")\n";
  out << "events:   " << Thousands(r.events) << " from " << r.origins.size() << " origin"
      << (r.origins.size() == 1 ? "" : "s") << ", " << Thousands(r.arrivals) << " arrivals, "
      << r.forks << " fork" << (r.forks == 1 ? "" : "s") << " kept as evidence\n";
  for (const auto& [origin, o] : r.origins) {
    out << "  " << origin << ": " << Thousands(o.events) << " events, ";
    if (!o.key_known) {
      out << "no key to verify them\n";
    } else if (o.verified_through == o.events) {
      out << "all verified (" << Thousands(o.signatures) << " signatures)\n";
    } else {
      out << "verified 1.." << o.verified_through << " only\n";
    }
  }
  if (!r.flagged.empty()) {
    out << "kept, not counted (" << r.flagged.size() << "):\n";
    for (const crdt::Flag& f : r.flagged)
      out << "  " << f.id.ToString() << ": " << f.reason << "\n";
  }
  out << "state:    " << r.state_digest << "\n";
  if (r.intact()) {
    out << "result:   INTACT: every chain complete from seq 1, linked, signed and in order\n";
  } else {
    out << "result:   " << r.problems.size() << " PROBLEM" << (r.problems.size() == 1 ? "" : "S")
        << "\n";
    for (const Problem& p : r.problems) out << "  " << p.kind << ": " << p.message << "\n";
  }
  return out.str();
}

std::string ReportJson(const VerifyReport& r) {
  nlohmann::json origins = nlohmann::json::array();
  for (const auto& [origin, o] : r.origins) {
    origins.push_back({{"origin", origin},
                       {"events", o.events},
                       {"verified_through", o.verified_through},
                       {"signatures", o.signatures},
                       {"key_known", o.key_known}});
  }
  nlohmann::json problems = nlohmann::json::array();
  for (const Problem& p : r.problems) {
    problems.push_back({{"kind", p.kind},
                        {"event", p.event.seq == 0 ? p.event.origin : p.event.ToString()},
                        {"message", p.message}});
  }
  nlohmann::json flagged = nlohmann::json::array();
  for (const crdt::Flag& f : r.flagged) {
    flagged.push_back({{"event", f.id.ToString()}, {"reason", f.reason}});
  }
  const nlohmann::json out = {
      {"intact", r.intact()},    {"store", r.store.string()},     {"site", r.site},
      {"runbook", r.runbook_id}, {"trust_site", r.trust_site},    {"trust_source", r.trust_source},
      {"events", r.events},      {"arrivals", r.arrivals},        {"forks", r.forks},
      {"origins", origins},      {"problems", problems},          {"flagged", flagged},
      {"bundle", r.bundle},      {"state_digest", r.state_digest}};
  return out.dump(2) + "\n";
}

}  // namespace baton::audit
