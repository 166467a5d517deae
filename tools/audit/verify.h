// baton-audit verify: checks a site's event log with no daemon and no secret key. Every origin's
// chain must be complete from seq 1, linked by prev_hash, each stored hash the payload's, every
// signature valid and every event covered by one, the HLC rising along the chain, every event of
// the runbook, and the arrival index listing each event exactly once, numbered 1..n. What breaks a
// rule is named: which origin, which seq, what is wrong. Events the log keeps without counting
// them (authorization flags) and fork evidence are listed. Rules: docs/audit.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"
#include "crdt/task_state.h"

namespace baton::audit {

struct VerifyOptions {
  // A site's data directory (batond.conf, events/) or a bundle file (docs/audit.md#bundles).
  std::filesystem::path data_dir;
  // The trust anchor as SITE:HEX; empty: the `trust` line of DATA/batond.conf, or the anchor a
  // bundle's header names.
  std::string trust;
  // Called now and then with the step ("reading", "decoding", "folding", "checking chains",
  // "checking arrivals") and the events done in it; may be empty.
  std::function<void(const char* step, uint64_t done)> progress;
};

// One rule broken. `kind` is one of the names in docs/audit.md#what-verify-checks: "gap",
// "truncated", "fork", "bad_signature", "broken_chain", "reorder", "undecodable", "wrong_origin"
// (from the chain audit), "stored_hash", "misfiled", "other_runbook", "hlc_not_rising",
// "unknown_origin", "unreadable_entry", "arrival_missing", "arrival_repeated",
// "arrival_dangling", "arrival_numbering"; for a bundle also "bundle_damaged" (framing,
// checksum), "bundle_manifest" (counts, heads or state digest not those of its records) and
// "bundle_roster" (the header's roster not the one the events define).
struct Problem {
  std::string kind;
  crdt::EventId event;  // The first event concerned; seq 0 when none.
  std::string message;  // Names the events: "gap: hq/4..hq/6 missing".
};

struct OriginSummary {
  uint64_t events = 0;            // Distinct events stored for the origin.
  uint64_t verified_through = 0;  // 1..N linked from seq 1 and covered by a valid signature.
  uint64_t signatures = 0;        // Signed events (one closes each committed batch).
  bool key_known = false;         // Its public key came from the trust anchor or the roster.
};

struct VerifyReport {
  std::filesystem::path store;  // The directory or bundle read.
  bool bundle = false;          // `store` is a bundle file.
  crdt::SiteId site;            // The site that wrote it.
  std::string runbook_id;
  crdt::SiteId trust_site;
  std::string trust_source;  // "--trust" or the config file it came from.
  uint64_t events = 0;       // Entries in the log (forks not counted).
  uint64_t arrivals = 0;     // Entries in the arrival index.
  uint64_t forks = 0;        // Fork evidence kept.
  std::map<crdt::SiteId, OriginSummary> origins;
  std::vector<Problem> problems;    // By origin, then seq; then the arrival index.
  std::vector<crdt::Flag> flagged;  // Kept but not counted (authorization), by id.
  // The digest of the state the events fold to (as `baton status --digest` prints it): sites
  // that converged have the same one.
  std::string state_digest;

  bool intact() const { return problems.empty(); }
};

// kNotFound / kInvalidArgument / kIOError when the directory cannot be read as a site's log (not
// a data directory, a bad --trust); everything found in a readable log is in the report.
// Read-only: works while batond runs on the directory (a RocksDB secondary in a temporary
// directory of its own), and never writes to it.
Result<VerifyReport> Verify(const VerifyOptions& options);
// The same on evidence already opened (the report verifies the log it has loaded).
class Evidence;
Result<VerifyReport> VerifyEvidence(
    const Evidence& evidence, const std::function<void(const char* step, uint64_t done)>& progress);

// The report for a person, and as JSON (docs/audit.md#output).
std::string FormatReport(const VerifyReport& report);
std::string ReportJson(const VerifyReport& report);

}  // namespace baton::audit
