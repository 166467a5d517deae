#include "tools/audit/verify.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
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

// What one stored entry decoded to.
struct Entry {
  store::StoredEvent stored;
  crdt::SignedEvent signed_event;
  crdt::Event event;
};

class Verifier {
 public:
  // `bundle`: entries come from a bundle's records, where one that cannot be read is one whose
  // envelope does not decode.
  Verifier(VerifyReport* report, bool bundle) : r_(*report), bundle_(bundle) {}

  void Problem(std::string kind, crdt::EventId id, std::string message) {
    r_.problems.push_back(audit::Problem{std::move(kind), std::move(id), std::move(message)});
  }

  // One entry of the events family: decoded and checked against the key it is stored under.
  void Take(const crdt::EventId& key, Result<store::StoredEvent> stored) {
    if (!stored.ok()) {
      Problem(bundle_ ? "undecodable" : "unreadable_entry", key, stored.status().message());
      if (key.seq > 0) undecodable_.insert(key);
      return;
    }
    ++r_.events;
    Entry entry{std::move(stored).value(), {}, {}};
    const std::string id = entry.stored.id.ToString();
    auto envelope = crdt::DecodeEnvelope(entry.stored.envelope);
    if (!envelope.ok()) {
      // Left out of the chain, which then shows a gap (or a truncation) here.
      Problem("undecodable", entry.stored.id,
              "event " + id + ": its envelope does not decode: " + envelope.status().message());
      undecodable_.insert(entry.stored.id);
      return;
    }
    entry.signed_event = std::move(envelope).value();
    auto event = crdt::DecodeEvent(entry.signed_event.payload);
    if (!event.ok()) {
      Problem("undecodable", entry.stored.id,
              "event " + id + ": its payload does not decode: " + event.status().message());
      undecodable_.insert(entry.stored.id);
      return;
    }
    entry.event = std::move(event).value();
    {
      const crdt::Event& e = entry.event;
      if (e.id() != entry.stored.id) {
        Problem("misfiled", entry.stored.id,
                "the entry stored as " + id + " holds the event " + e.id().ToString());
      }
      if (identity::HashPayload(entry.signed_event.payload) != entry.stored.hash) {
        Problem("stored_hash", entry.stored.id,
                "event " + id + ": the hash stored beside it is not the hash of its payload");
      }
      if (e.prev_hash != entry.stored.prev_hash) {
        Problem("stored_hash", entry.stored.id,
                "event " + id +
                    ": the prev_hash stored beside it is not the one its payload "
                    "carries");
      }
      if (e.runbook_id != r_.runbook_id) {
        Problem("other_runbook", entry.stored.id,
                "event " + id + " belongs to runbook \"" + e.runbook_id + "\", not \"" +
                    r_.runbook_id + "\"");
      }
    }
    by_origin_[entry.stored.id.origin].push_back(std::move(entry));
  }

  void TakeFork(const store::StoredEvent& fork) {
    ++r_.forks;
    auto envelope = crdt::DecodeEnvelope(fork.envelope);
    if (!envelope.ok()) {
      Problem("undecodable", fork.id,
              "fork evidence for " + fork.id.ToString() + ": " + envelope.status().message());
      return;
    }
    forks_[fork.id.origin].push_back(std::move(envelope).value());
  }

  // The roster from the events, as every site folds them.
  crdt::Projection Fold(const crdt::SiteId& trust_site, const std::string& trust_key) const {
    Chains chains;
    for (const auto& [origin, entries] : by_origin_) {
      auto& chain = chains[origin];
      for (const Entry& entry : entries) chain.push_back(&entry.event);
    }
    return FoldChains(chains, trust_site, trust_key);
  }

  // Every origin's chain: the chain audit with its key, the clock along it, and a summary.
  void CheckChains(const crdt::Projection& projection, const crdt::SiteId& trust_site,
                   const std::string& trust_key) {
    for (auto& [origin, entries] : by_origin_) {
      OriginSummary& summary = r_.origins[origin];
      summary.events = entries.size();
      std::string key;
      if (origin == trust_site) {
        key = trust_key;
      } else {
        key = projection.SignerKey(origin);  // A removed site's too: the key it signed with.
      }
      summary.key_known = key.size() == identity::kPublicKeySize;
      if (!summary.key_known) {
        Problem("unknown_origin", crdt::EventId{origin, entries.front().stored.id.seq},
                "origin " + origin + " is neither the trust anchor nor named by any roster: its " +
                    std::to_string(entries.size()) + " events cannot be verified");
      }
      std::vector<crdt::SignedEvent> chain;
      chain.reserve(entries.size());
      const crdt::Event* previous = nullptr;
      const auto& forks = forks_[origin];
      size_t next_fork = 0;
      for (const Entry& entry : entries) {
        if (!entry.signed_event.signature.empty()) ++summary.signatures;
        chain.push_back(entry.signed_event);
        // Fork evidence goes right after the stored event of its seq (the audit names both).
        while (next_fork < forks.size()) {
          auto fork_event = crdt::DecodeEvent(forks[next_fork].payload);
          if (fork_event.ok() && fork_event->seq > entry.stored.id.seq) break;
          chain.push_back(forks[next_fork++]);
        }
        if (previous != nullptr && previous->seq + 1 == entry.event.seq &&
            !(previous->hlc < entry.event.hlc)) {
          Problem("hlc_not_rising", entry.event.id(),
                  "event " + entry.event.id().ToString() + " is stamped " +
                      entry.event.hlc.ToString() + ", not after " + previous->id().ToString() +
                      "'s " + previous->hlc.ToString());
        }
        previous = &entry.event;
      }
      while (next_fork < forks.size()) chain.push_back(forks[next_fork++]);
      if (summary.key_known) {
        const identity::ChainReport chain_report = identity::AuditChain(origin, chain, key);
        summary.verified_through = chain_report.verified_through;
        for (const identity::ChainProblem& p : chain_report.problems) {
          Problem(identity::ChainProblemKindName(p.kind), p.id, p.message);
        }
      }
    }
    // Fork evidence for an origin with no stored event at all.
    for (const auto& [origin, forks] : forks_) {
      if (by_origin_.count(origin) == 0 && !forks.empty()) {
        Problem("fork", crdt::EventId{origin, 0},
                "fork evidence for " + origin + ", which has no stored event");
      }
    }
  }

  // Per origin, the last event held and its hash.
  std::map<crdt::SiteId, bundle::Head> Heads() const {
    std::map<crdt::SiteId, bundle::Head> heads;
    for (const auto& [origin, entries] : by_origin_) {
      heads[origin] = bundle::Head{entries.back().stored.id.seq, entries.back().stored.hash};
    }
    return heads;
  }

  // The arrival index: each stored event exactly once, numbered 1..n without gaps.
  Status CheckArrivals(const Evidence& store) {
    std::map<crdt::EventId, uint64_t> seen;
    uint64_t expected = 1;
    bool numbering_reported = false;
    BATON_TRY(store.ForEachArrival([&](uint64_t counter, const crdt::EventId& id, int64_t) {
      ++r_.arrivals;
      if (counter != expected && !numbering_reported) {
        numbering_reported = true;
        Problem("arrival_numbering", id,
                "the arrival index jumps from " + std::to_string(expected - 1) + " to " +
                    std::to_string(counter) + " at " + id.ToString());
      }
      expected = counter + 1;
      auto [it, fresh] = seen.emplace(id, counter);
      if (!fresh) {
        Problem("arrival_repeated", id,
                "arrivals " + std::to_string(it->second) + " and " + std::to_string(counter) +
                    " both list " + id.ToString());
      } else if (!Holds(id)) {
        Problem("arrival_dangling", id,
                "arrival " + std::to_string(counter) + " lists " + id.ToString() +
                    ", which is not stored");
      }
      return Status::Ok();
    }));
    for (const auto& [origin, entries] : by_origin_) {
      for (const Entry& entry : entries) {
        if (seen.count(entry.stored.id) == 0) {
          Problem("arrival_missing", entry.stored.id,
                  "event " + entry.stored.id.ToString() +
                      " is stored but not in the arrival index (export and watch skip it)");
        }
      }
    }
    return Status::Ok();
  }

 private:
  // Whether an event is stored under `id` (decodable or not). Entries are in seq order (the
  // store's key order): a binary search.
  bool Holds(const crdt::EventId& id) const {
    if (undecodable_.count(id) > 0) return true;
    auto it = by_origin_.find(id.origin);
    if (it == by_origin_.end()) return false;
    const auto& entries = it->second;
    auto at = std::lower_bound(entries.begin(), entries.end(), id.seq,
                               [](const Entry& e, uint64_t seq) { return e.stored.id.seq < seq; });
    return at != entries.end() && at->stored.id.seq == id.seq;
  }

  VerifyReport& r_;
  const bool bundle_;
  std::map<crdt::SiteId, std::vector<Entry>> by_origin_;  // In seq order (the store's).
  std::map<crdt::SiteId, std::vector<crdt::SignedEvent>> forks_;
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
  BATON_TRY(evidence->ForEachEvent([&](const crdt::EventId& key, Result<store::StoredEvent> entry) {
    verifier.Take(key, std::move(entry));
    if (report.events % 65536 == 0) progress("reading", report.events);
    return Status::Ok();
  }));
  progress("folding", report.events);
  std::vector<store::StoredEvent> forks;
  BATON_TRY(evidence->Forks(&forks));
  for (const store::StoredEvent& fork : forks) verifier.TakeFork(fork);
  const crdt::Projection projection = verifier.Fold(trust_site, trust_key);
  report.state_digest = DigestOf(projection);
  progress("checking chains", report.events);
  verifier.CheckChains(projection, trust_site, trust_key);
  progress("checking arrivals", report.events);
  BATON_TRY(verifier.CheckArrivals(*evidence));
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
