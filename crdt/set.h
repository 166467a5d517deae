// GSet<T>: a grow-only set. Add is idempotent and commutative; Merge is union. Iteration is in
// T's order, so every replica holding the same elements iterates them identically.
#pragma once

#include <cereal/types/set.hpp>
#include <set>
#include <utility>

namespace baton::crdt {

template <class T>
class GSet {
 public:
  using const_iterator = typename std::set<T>::const_iterator;

  // True if `value` was new.
  bool Add(T value) { return items_.insert(std::move(value)).second; }
  bool Contains(const T& value) const { return items_.count(value) != 0; }
  void Merge(const GSet& other) { items_.insert(other.items_.begin(), other.items_.end()); }

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  const std::set<T>& items() const { return items_; }

  friend bool operator==(const GSet&, const GSet&) = default;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(items_);
  }

 private:
  std::set<T> items_;
};

}  // namespace baton::crdt
