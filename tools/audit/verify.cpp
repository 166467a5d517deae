#include "tools/audit/verify.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

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
  explicit Verifier(VerifyReport* report) : r_(*report) {}

  void Problem(std::string kind, crdt::EventId id, std::string message) {
    r_.problems.push_back(audit::Problem{std::move(kind), std::move(id), std::move(message)});
  }

  // One entry of the events family: decoded and checked against the key it is stored under.
  void Take(const crdt::EventId& key, Result<store::StoredEvent> stored) {
    if (!stored.ok()) {
      Problem("unreadable_entry", key, stored.status().message());
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
      } else if (const crdt::SiteInfo* site = projection.RosterEntry(origin)) {
        key = site->public_key;
      }
      summary.key_known = key.size() == identity::kPublicKeySize;
      if (!summary.key_known) {
        Problem("unknown_origin", crdt::EventId{origin, entries.front().stored.id.seq},
                "origin " + origin + " is neither the trust anchor nor on the roster: its " +
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

  // The arrival index: each stored event exactly once, numbered 1..n without gaps.
  Status CheckArrivals(const store::EventStore& store) {
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
  std::map<crdt::SiteId, std::vector<Entry>> by_origin_;  // In seq order (the store's).
  std::map<crdt::SiteId, std::vector<crdt::SignedEvent>> forks_;
  std::set<crdt::EventId> undecodable_;  // Stored (unreadable or undecodable), not in a chain.
};

std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

}  // namespace

Result<VerifyReport> Verify(const VerifyOptions& options) {
  BATON_ASSIGN_OR_RETURN(OpenedLog log, OpenLog(options.data_dir, options.trust));
  const store::EventStore* store = log.store.get();
  const crdt::SiteId& trust_site = log.trust_site;
  const std::string& trust_key = log.trust_key;
  VerifyReport report;
  report.store = log.store_path;
  report.trust_site = trust_site;
  report.trust_source = log.trust_source;
  report.site = store->site();
  report.runbook_id = store->runbook_id();

  const auto progress = [&](const char* step, uint64_t done) {
    if (options.progress) options.progress(step, done);
  };
  Verifier verifier(&report);
  BATON_TRY(store->ForEachEvent([&](const crdt::EventId& key, Result<store::StoredEvent> entry) {
    verifier.Take(key, std::move(entry));
    if (report.events % 65536 == 0) progress("reading", report.events);
    return Status::Ok();
  }));
  progress("folding", report.events);
  std::vector<store::StoredEvent> forks;
  BATON_TRY(store->ScanForks(&forks));
  for (const store::StoredEvent& fork : forks) verifier.TakeFork(fork);
  const crdt::Projection projection = verifier.Fold(trust_site, trust_key);
  progress("checking chains", report.events);
  verifier.CheckChains(projection, trust_site, trust_key);
  progress("checking arrivals", report.events);
  BATON_TRY(verifier.CheckArrivals(*store));
  report.flagged = projection.flags();
  std::stable_sort(report.problems.begin(), report.problems.end(),
                   [](const Problem& a, const Problem& b) {
                     const bool a_arrival = a.kind.rfind("arrival_", 0) == 0;
                     const bool b_arrival = b.kind.rfind("arrival_", 0) == 0;
                     if (a_arrival != b_arrival) return b_arrival;
                     return a.event.origin < b.event.origin;
                   });
  return report;
}

std::string FormatReport(const VerifyReport& r) {
  std::ostringstream out;
  out << "log:      " << r.store.string() << " (written by site " << r.site << ", runbook "
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
      {"intact", r.intact()},    {"store", r.store.string()},  {"site", r.site},
      {"runbook", r.runbook_id}, {"trust_site", r.trust_site}, {"trust_source", r.trust_source},
      {"events", r.events},      {"arrivals", r.arrivals},     {"forks", r.forks},
      {"origins", origins},      {"problems", problems},       {"flagged", flagged}};
  return out.dump(2) + "\n";
}

}  // namespace baton::audit
