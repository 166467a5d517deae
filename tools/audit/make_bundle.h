// baton-audit bundle: a site's data directory written as one bundle file (client/bundle.h,
// docs/audit.md#bundles), offline and read-only, also while batond runs on the directory. What
// the log holds is copied as it is, damaged or not: the bundle is evidence, and `verify` on it
// names what `verify` on the directory would.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "crdt/status.h"

namespace baton::audit {

struct BundleSummary {
  uint64_t events = 0;
  uint64_t forks = 0;
  uint64_t skipped = 0;   // Arrival entries naming no readable event (verify names them).
  uint64_t unlisted = 0;  // Events stored but not in the arrival index: in with arrival 0.
};

// `trust` as for OpenLog. `progress` (may be empty) is called now and then with the events done.
Result<BundleSummary> MakeBundle(const std::filesystem::path& data_dir, const std::string& trust,
                                 const std::filesystem::path& out,
                                 const std::function<void(uint64_t done)>& progress);

}  // namespace baton::audit
