#include "tools/audit/log.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <queue>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>

#include "client/protocol.h"
#include "crdt/event_codec.h"
#include "daemon/config.h"
#include "daemon/identity/keys.h"
#include "daemon/ledger.h"

namespace baton::audit {
namespace {

Status ParseTrust(const std::string& text, crdt::SiteId* site, std::string* key) {
  if (daemon::ParseTrustAnchor(text, site, key)) return Status::Ok();
  return Status::InvalidArgument(
      "--trust: expected SITE:KEY, the manager site's id and its 64-hex-digit public key "
      "(`batond init` printed it), got \"" +
      text.substr(0, 120) + "\"");
}

}  // namespace

ScratchDir::ScratchDir() {
  std::error_code ec;
  const auto base = std::filesystem::temp_directory_path(ec);
  std::string pattern = ((ec ? std::filesystem::path("/tmp") : base) / "baton-audit.XXXXXX");
  if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

Result<OpenedLog> OpenLog(const std::filesystem::path& data_dir, const std::string& trust) {
  OpenedLog log;
  log.store_path = data_dir / "events";
  if (!trust.empty()) {
    BATON_TRY(ParseTrust(trust, &log.trust_site, &log.trust_key));
    log.trust_source = "--trust";
  } else {
    auto config = daemon::LoadConfig(data_dir);
    if (!config.ok()) {
      return Status(config.status().code(),
                    config.status().message() +
                        " (give the trust anchor with --trust SITE:KEY to read without it)");
    }
    if (config->trust_site.empty()) {
      return Status::InvalidArgument((data_dir / "batond.conf").string() +
                                     " names no trust anchor: give it with --trust SITE:KEY");
    }
    log.trust_site = config->trust_site;
    log.trust_key = config->trust_key;
    log.trust_source = (data_dir / "batond.conf").string();
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(log.store_path, ec)) {
    return Status::NotFound(log.store_path.string() +
                            " does not exist: give the data directory of a site (the directory "
                            "`batond init` made, holding batond.conf and events/)");
  }
  log.scratch = std::make_unique<ScratchDir>();
  if (log.scratch->path().empty()) return Status::IOError("cannot create a temporary directory");
  store::StoreOptions options;
  options.path = log.store_path;
  options.secondary_path = log.scratch->path();
  BATON_ASSIGN_OR_RETURN(log.store, store::EventStore::Open(options));
  return log;
}

void ParallelFor(size_t n, const std::function<void(size_t)>& work) {
  const size_t cores = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  const size_t threads = std::min(n, cores);
  std::atomic<size_t> next{0};
  const auto run = [&] {
    for (size_t i = next++; i < n; i = next++) work(i);
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(run);
  run();
  for (std::thread& t : pool) t.join();
}

void AppendByOrigin(StoredByOrigin& from, StoredByOrigin& into) {
  for (auto& [origin, entries] : from) {
    auto& all = into[origin];
    if (all.empty()) {
      all = std::move(entries);
    } else {
      all.insert(all.end(), std::make_move_iterator(entries.begin()),
                 std::make_move_iterator(entries.end()));
    }
  }
  from.clear();
}

PartReader ReadInParts(const Evidence& evidence) {
  return [&evidence](const std::function<void(size_t)>& parts, const Evidence::PartVisitor& visit) {
    return evidence.ForEachEventInParts(parts, visit);
  };
}

PartReader ReadInOnePart(const store::EventStore& store) {
  return [&store](const std::function<void(size_t)>& parts, const Evidence::PartVisitor& visit) {
    parts(1);
    return store.ForEachEvent([&visit](const crdt::EventId& key, Result<store::StoredEvent> e) {
      return visit(0, key, std::move(e));
    });
  };
}

Result<DecodedEvents> DecodeEvents(const PartReader& read) {
  DecodedEvents out;
  // What each part read: its origins' stored entries (entries come in runs of one origin).
  struct Part {
    StoredByOrigin stored;
    std::vector<store::StoredEvent>* run = nullptr;
    uint64_t unreadable = 0;
  };
  std::vector<Part> parts;
  BATON_TRY(read([&parts](size_t n) { parts.resize(n); },
                 [&parts](size_t p, const crdt::EventId&, Result<store::StoredEvent> stored) {
                   Part& part = parts[p];
                   if (!stored.ok()) {
                     ++part.unreadable;
                     return Status::Ok();
                   }
                   if (part.run == nullptr || part.run->back().id.origin != stored->id.origin) {
                     part.run = &part.stored[stored->id.origin];
                   }
                   part.run->push_back(std::move(stored).value());
                   return Status::Ok();
                 }));
  StoredByOrigin raw;
  for (Part& part : parts) {
    out.undecodable += part.unreadable;
    AppendByOrigin(part.stored, raw);
  }
  struct Chunk {
    const std::vector<store::StoredEvent>* stored;
    std::vector<crdt::Event>* events;
    std::vector<char>* ok;
    size_t begin, end;
  };
  constexpr size_t kChunk = 4096;
  std::map<crdt::SiteId, std::vector<char>> ok;
  std::vector<Chunk> chunks;
  for (const auto& [origin, entries] : raw) {
    auto& events = out.by_origin[origin];
    events.resize(entries.size());
    auto& flags = ok[origin];
    flags.assign(entries.size(), 0);
    for (size_t b = 0; b < entries.size(); b += kChunk) {
      chunks.push_back(Chunk{&entries, &events, &flags, b, std::min(entries.size(), b + kChunk)});
    }
  }
  ParallelFor(chunks.size(), [&chunks](size_t c) {
    const Chunk& chunk = chunks[c];
    for (size_t i = chunk.begin; i < chunk.end; ++i) {
      const store::StoredEvent& stored = (*chunk.stored)[i];
      auto envelope = crdt::DecodeEnvelopeView(stored.envelope);
      if (!envelope.ok()) continue;
      auto event = crdt::DecodeEvent(envelope->payload);
      if (!event.ok() || event->id() != stored.id) continue;
      (*chunk.events)[i] = std::move(event).value();
      (*chunk.ok)[i] = 1;
    }
  });
  for (auto& [origin, events] : out.by_origin) {
    const std::vector<char>& flags = ok[origin];
    size_t kept = 0;
    for (size_t i = 0; i < events.size(); ++i) {
      if (!flags[i]) continue;
      if (kept != i) events[kept] = std::move(events[i]);
      ++kept;
    }
    out.undecodable += events.size() - kept;
    out.events += kept;
    events.resize(kept);
  }
  for (auto it = out.by_origin.begin(); it != out.by_origin.end();) {
    it = it->second.empty() ? out.by_origin.erase(it) : std::next(it);
  }
  return out;
}

crdt::Projection FoldChains(const Chains& chains, const crdt::SiteId& trust_site,
                            const std::string& trust_key) {
  crdt::Projection projection;
  projection.SetTrustAnchor(trust_site, trust_key);
  // In causal order, as the sites applied them: always the origin whose next event has the
  // lowest clock (each origin's own order kept), so that a plan event enrolling a site comes
  // before that site's events whatever the sites are called.
  struct Cursor {
    const crdt::SiteId* origin;
    const std::vector<const crdt::Event*>* events;
    size_t next;
  };
  const auto later = [](const Cursor& a, const Cursor& b) {
    const crdt::Event& x = *(*a.events)[a.next];
    const crdt::Event& y = *(*b.events)[b.next];
    return std::tie(y.hlc, y.origin, y.seq) < std::tie(x.hlc, x.origin, x.seq);
  };
  std::priority_queue<Cursor, std::vector<Cursor>, decltype(later)> queue(later);
  for (const auto& [origin, events] : chains) {
    if (!events.empty()) queue.push(Cursor{&origin, &events, 0});
  }
  while (!queue.empty()) {
    Cursor c = queue.top();
    queue.pop();
    const crdt::Event* event = (*c.events)[c.next];
    // Each chain from seq 1 as long as it is contiguous and applies.
    if (event->seq != c.next + 1 || event->origin != *c.origin) continue;
    if (!projection.Apply(*event).ok()) continue;
    if (++c.next < c.events->size()) queue.push(c);
  }
  return projection;
}

}  // namespace baton::audit

namespace baton::audit {

std::string DigestOf(const crdt::Projection& projection) {
  identity::StateDigestStream digest;
  projection.WriteCanonical(digest);
  return digest.Finish();
}

std::vector<bundle::RosterSite> RosterOf(const crdt::Projection& projection) {
  std::vector<bundle::RosterSite> roster;
  const auto add = [&roster](const crdt::SiteInfo& s, bool removed) {
    roster.push_back(bundle::RosterSite{s.id, s.name, client::SiteRoleName(s.role), s.public_key,
                                        s.endpoint, s.teams, removed});
  };
  if (const auto* winner = projection.roster().Winner()) {
    for (const crdt::SiteInfo& s : winner->value) add(s, false);
  }
  for (const crdt::SiteInfo& s : projection.FormerSites()) add(s, true);
  return roster;
}

namespace {

// A decoded envelope in the store's shape: its id, prev_hash, payload hash and bytes.
store::StoredEvent StoredOf(const daemon::StoredPayload& decoded, const std::string& envelope) {
  return store::StoredEvent{decoded.event.id(), decoded.event.prev_hash, decoded.payload_hash,
                            envelope, 0};
}

}  // namespace

Result<std::unique_ptr<Evidence>> Evidence::Open(const std::filesystem::path& path,
                                                 const std::string& trust) {
  std::unique_ptr<Evidence> e(new Evidence());
  e->path_ = path;
  if (!bundle::LooksLikeBundle(path)) {
    BATON_ASSIGN_OR_RETURN(e->log_, OpenLog(path, trust));
    e->path_ = e->log_.store_path;
    e->site_ = e->log_.store->site();
    e->runbook_id_ = e->log_.store->runbook_id();
    e->trust_site_ = e->log_.trust_site;
    e->trust_key_ = e->log_.trust_key;
    e->trust_source_ = e->log_.trust_source;
    return e;
  }
  BATON_ASSIGN_OR_RETURN(bundle::Contents contents, bundle::Read(path));
  e->site_ = contents.header.site;
  e->runbook_id_ = contents.header.runbook_id;
  if (!trust.empty()) {
    BATON_TRY(ParseTrust(trust, &e->trust_site_, &e->trust_key_));
    e->trust_source_ = "--trust";
  } else if (!contents.header.trust_site.empty()) {
    e->trust_site_ = contents.header.trust_site;
    e->trust_key_ = contents.header.trust_key;
    e->trust_source_ = "the bundle's header; give --trust SITE:KEY to check against a key you hold";
  } else {
    return Status::InvalidArgument(path.string() +
                                   " names no trust anchor: give it with --trust SITE:KEY");
  }
  for (const bundle::Event& record : contents.events) {
    auto decoded = daemon::DecodePayload(record.envelope);
    if (!decoded.ok()) {
      e->unreadable_.emplace_back(
          record.arrival,
          Status::Corruption("the bundle's event at arrival " + std::to_string(record.arrival) +
                             " does not decode: " + decoded.status().message()));
      continue;
    }
    store::StoredEvent stored = StoredOf(*decoded, record.envelope);
    e->arrivals_.push_back(BundleArrival{record.arrival, stored.id, record.arrived_ms});
    e->sorted_.push_back(std::move(stored));
  }
  std::stable_sort(
      e->sorted_.begin(), e->sorted_.end(),
      [](const store::StoredEvent& a, const store::StoredEvent& b) { return a.id < b.id; });
  // The same event listed twice is one entry (the arrival check names the repeat); two
  // different events with one id stay, for the chain audit to name the fork.
  e->sorted_.erase(std::unique(e->sorted_.begin(), e->sorted_.end()), e->sorted_.end());
  e->bundle_ = std::move(contents);
  return e;
}

Status Evidence::ForEachEvent(const store::EventStore::EventVisitor& visit) const {
  if (!is_bundle()) return log_.store->ForEachEvent(visit);
  for (const auto& [arrival, status] : unreadable_) {
    BATON_TRY(visit(crdt::EventId{"", arrival}, status));
  }
  for (const store::StoredEvent& stored : sorted_) BATON_TRY(visit(stored.id, stored));
  return Status::Ok();
}

Status Evidence::ForEachEventInParts(const std::function<void(size_t parts)>& parts,
                                     const PartVisitor& visit) const {
  if (is_bundle()) {
    parts(1);
    return ForEachEvent([&visit](const crdt::EventId& key, Result<store::StoredEvent> entry) {
      return visit(0, key, std::move(entry));
    });
  }
  const std::vector<store::EventStore::EventRange> ranges = log_.store->EventRanges();
  parts(ranges.size());
  std::vector<Status> read(ranges.size());
  ParallelFor(ranges.size(), [&](size_t part) {
    read[part] = log_.store->ForEachEventIn(
        ranges[part], [&visit, part](const crdt::EventId& key, Result<store::StoredEvent> entry) {
          return visit(part, key, std::move(entry));
        });
  });
  for (const Status& s : read) BATON_TRY(s);
  return Status::Ok();
}

Status Evidence::ForEachArrival(const store::EventStore::ArrivalVisitor& visit) const {
  if (!is_bundle()) return log_.store->ForEachArrival(visit);
  // Arrival 0: the exporting site held the event without listing it (verify names it).
  for (const BundleArrival& a : arrivals_) {
    if (a.counter != 0) BATON_TRY(visit(a.counter, a.id, a.arrived_ms));
  }
  return Status::Ok();
}

Status Evidence::Forks(std::vector<store::StoredEvent>* out) const {
  if (!is_bundle()) return log_.store->ScanForks(out);
  out->clear();
  for (const std::string& envelope : bundle_->forks) {
    auto decoded = daemon::DecodePayload(envelope);
    if (decoded.ok()) {
      out->push_back(StoredOf(*decoded, envelope));
    } else {
      store::StoredEvent undecodable;  // TakeFork names it.
      undecodable.envelope = envelope;
      out->push_back(std::move(undecodable));
    }
  }
  return Status::Ok();
}

}  // namespace baton::audit
