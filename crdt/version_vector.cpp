// VersionVector: per-origin high-water marks. Invariant: no zero entries, so equal holdings
// compare equal with the defaulted operator==.
#include "crdt/version_vector.h"

namespace baton::crdt {

uint64_t VersionVector::Seen(const SiteId& origin) const {
  auto it = seen_.find(origin);
  return it == seen_.end() ? 0 : it->second;
}

Status VersionVector::Advance(const EventId& id) {
  if (id.seq == 0) return Status::InvalidArgument("event " + id.ToString() + ": seq 0 is invalid");
  uint64_t& seen = seen_[id.origin];
  if (id.seq <= seen) return Status::Ok();
  if (id.seq != seen + 1) {
    uint64_t have = seen;
    if (have == 0) seen_.erase(id.origin);
    return Status::InvalidArgument("event " + id.ToString() + ": gap after seq " +
                                   std::to_string(have) + " of origin \"" + id.origin + "\"");
  }
  seen = id.seq;
  return Status::Ok();
}

void VersionVector::Merge(const VersionVector& other) {
  for (const auto& [origin, seq] : other.seen_) {
    uint64_t& mine = seen_[origin];
    if (seq > mine) mine = seq;
  }
}

std::vector<SeqRange> VersionVector::MissingFrom(const VersionVector& other) const {
  std::vector<SeqRange> out;
  for (const auto& [origin, seq] : seen_) {
    uint64_t theirs = other.Seen(origin);
    if (seq > theirs) out.push_back(SeqRange{origin, theirs + 1, seq});
  }
  return out;
}

VersionVector::Order VersionVector::Compare(const VersionVector& other) const {
  bool we_have_more = false;
  bool they_have_more = false;
  auto a = seen_.begin();
  auto b = other.seen_.begin();
  while (a != seen_.end() || b != other.seen_.end()) {
    if (b == other.seen_.end() || (a != seen_.end() && a->first < b->first)) {
      we_have_more = true;
      ++a;
    } else if (a == seen_.end() || b->first < a->first) {
      they_have_more = true;
      ++b;
    } else {
      if (a->second > b->second) we_have_more = true;
      if (b->second > a->second) they_have_more = true;
      ++a;
      ++b;
    }
  }
  if (we_have_more && they_have_more) return Order::kConcurrent;
  if (we_have_more) return Order::kAfter;
  if (they_have_more) return Order::kBefore;
  return Order::kEqual;
}

void VersionVector::Set(const SiteId& origin, uint64_t seq) {
  if (seq == 0) {
    seen_.erase(origin);
  } else {
    seen_[origin] = seq;
  }
}

uint64_t VersionVector::Total() const {
  uint64_t total = 0;
  for (const auto& entry : seen_) total += entry.second;
  return total;
}

std::string VersionVector::ToString() const {
  std::string out = "{";
  for (const auto& [origin, seq] : seen_) {
    if (out.size() > 1) out += ", ";
    out += origin + ":" + std::to_string(seq);
  }
  return out + "}";
}

const char* VersionOrderName(VersionVector::Order order) {
  switch (order) {
    case VersionVector::Order::kEqual:
      return "equal";
    case VersionVector::Order::kBefore:
      return "before";
    case VersionVector::Order::kAfter:
      return "after";
    case VersionVector::Order::kConcurrent:
      return "concurrent";
  }
  return "unknown";
}

}  // namespace baton::crdt
