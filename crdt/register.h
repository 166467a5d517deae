// MvRegister<T>: a multi-value register with explicit supersedes. Each write names the writes
// its author saw; a write is live while no write names it. Concurrent live writes are a
// conflict, shown as such, with a deterministic winner (highest hlc, then origin, then seq)
// displayed meanwhile. Put is idempotent and commutative, whatever the delivery order: a
// write naming one not yet seen hides it when it arrives. Keeps every write (small registers).
#pragma once

#include <algorithm>
#include <cereal/types/map.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "crdt/event.h"
#include "crdt/hlc.h"

namespace baton::crdt {

// The winner order of writes: hlc, then origin, then seq. True if `a` wins over `b`.
inline bool WinsOver(const Hlc& a_hlc, const EventId& a, const Hlc& b_hlc, const EventId& b) {
  if (a_hlc != b_hlc) return a_hlc > b_hlc;
  if (a.origin != b.origin) return a.origin > b.origin;
  return a.seq > b.seq;
}

template <class T>
class MvRegister {
 public:
  struct Entry {
    EventId id;
    Hlc hlc;
    T value;

    template <class Archive>
    void serialize(Archive& ar) {
      ar(id, hlc, value);
    }
  };

  // Records a write. A second Put of the same id is a no-op (ids are unique event ids).
  void Put(const EventId& id, Hlc hlc, T value, const std::vector<EventId>& supersedes) {
    if (entries_.count(id) != 0) return;
    entries_.emplace(id, Entry{id, hlc, std::move(value)});
    for (const EventId& s : supersedes) {
      if (superseded_.insert(s).second) live_.erase(s);
    }
    if (superseded_.count(id) == 0) live_.insert(id);
  }

  // Writes no other write supersedes, winner first.
  std::vector<Entry> Live() const {
    std::vector<Entry> out;
    out.reserve(live_.size());
    for (const EventId& id : live_) out.push_back(entries_.at(id));
    std::sort(out.begin(), out.end(),
              [](const Entry& a, const Entry& b) { return WinsOver(a.hlc, a.id, b.hlc, b.id); });
    return out;
  }

  // The live write shown while in conflict; nullptr when empty. Valid until the next Put.
  const Entry* Winner() const {
    const Entry* best = nullptr;
    for (const EventId& id : live_) {
      const Entry& e = entries_.at(id);
      if (best == nullptr || WinsOver(e.hlc, e.id, best->hlc, best->id)) best = &e;
    }
    return best;
  }

  bool InConflict() const { return live_.size() > 1; }
  bool empty() const { return live_.empty(); }
  // Ids of the live writes, sorted: what a new write should supersede.
  std::vector<EventId> LiveIds() const { return {live_.begin(), live_.end()}; }
  size_t write_count() const { return entries_.size(); }

  template <class Archive>
  void save(Archive& ar) const {
    ar(entries_, superseded_);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(entries_, superseded_);
    live_.clear();
    for (const auto& [id, entry] : entries_) {
      if (superseded_.count(id) == 0) live_.insert(id);
    }
  }

 private:
  std::map<EventId, Entry> entries_;  // Every write ever Put.
  std::set<EventId> superseded_;      // Every id some write names, seen or not.
  std::set<EventId> live_;            // Keys of entries_ not in superseded_.
};

}  // namespace baton::crdt
