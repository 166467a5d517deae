// Which events a site holds: for each origin, the highest contiguous seq (events arrive in
// per-origin order, so one number per origin says it all). Merge is commutative, associative
// and idempotent. No entry is ever 0: an origin not seen is absent. No I/O.
#pragma once

#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"

namespace baton::crdt {

// The events first..last (inclusive) of one origin.
struct SeqRange {
  SiteId origin;
  uint64_t first = 0;
  uint64_t last = 0;

  uint64_t size() const { return last - first + 1; }
  friend bool operator==(const SeqRange&, const SeqRange&) = default;
};

class VersionVector {
 public:
  enum class Order { kEqual, kBefore, kAfter, kConcurrent };

  uint64_t Seen(const SiteId& origin) const;  // 0 if nothing from `origin` yet.
  // Records `id`. A seq already seen is a no-op (Ok); seq == Seen + 1 advances; anything
  // beyond is kInvalidArgument (it would leave a gap), as is seq 0.
  Status Advance(const EventId& id);
  bool Contains(const EventId& id) const { return id.seq != 0 && id.seq <= Seen(id.origin); }
  void Merge(const VersionVector& other);  // Pointwise max.
  // What `other` lacks that we hold, one range per origin, sorted by origin: what to send a
  // peer after its HELLO.
  std::vector<SeqRange> MissingFrom(const VersionVector& other) const;
  // kBefore: we hold a strict subset of `other`; kConcurrent: each holds something the other lacks.
  Order Compare(const VersionVector& other) const;
  // For loading persisted state: sets the entry as is (0 erases it), without gap checks.
  void Set(const SiteId& origin, uint64_t seq);

  const std::map<SiteId, uint64_t>& entries() const { return seen_; }
  uint64_t Total() const;  // Number of events held (sum of entries).
  bool empty() const { return seen_.empty(); }
  std::string ToString() const;  // "{hq:12, vendor-de:3}"

  friend bool operator==(const VersionVector&, const VersionVector&) = default;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(seen_);
  }

 private:
  std::map<SiteId, uint64_t> seen_;
};

const char* VersionOrderName(VersionVector::Order order);  // "equal", "before", ...

}  // namespace baton::crdt
