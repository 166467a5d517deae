// An evidence bundle: one file that holds a site's whole log for the auditor, written by
// `baton export --bundle` (through the daemon) and `baton-audit bundle` (offline). It carries the
// trust anchor, every event in its stored bytes (never re-encoded) with its arrival counter and
// arrival time at the exporting site, the fork evidence the site kept, and a manifest with the
// roster and public keys, counts, chain heads, the state digest and a BLAKE2b-256 checksum of
// every byte before it. Written front to back in one pass: what is known only at the end (the
// roster as the last event left it) is in the manifest.
// The format is in docs/audit.md#bundle-format:
//
//   "BATONBDL" (8 bytes), then records: kind (1 byte) | length (u32 big-endian) | body
//   'H' header   JSON (first record)
//   'E' event    arrival counter (u64 BE) | arrival time ms (i64 BE) | envelope bytes
//   'F' fork     envelope bytes
//   'M' manifest JSON (last record; nothing may follow it)
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/event.h"
#include "crdt/status.h"

namespace baton::bundle {

inline constexpr char kMagic[] = "BATONBDL";  // 8 bytes, no terminator in the file.
inline constexpr size_t kMagicSize = 8;
inline constexpr int kFormatVersion = 2;  // 2: roster entries carry teams and removed.
inline constexpr int kOldestFormatVersion = 1;
// A record's body is at most this long (an event envelope is far smaller; a header with a large
// roster or a manifest with many origins fits easily).
inline constexpr uint32_t kMaxRecordBytes = 64u << 20;

struct RosterSite {
  crdt::SiteId id;
  std::string name;
  std::string role;        // "manager", "site" or "read-only".
  std::string public_key;  // Raw Ed25519 key (32 bytes).
  std::string endpoint;
  std::vector<std::string> teams;  // Teams the roster gives the site (format 2).
  // No longer on the roster: listed for its key, which verifies what it signed (format 2).
  bool removed = false;
  friend bool operator==(const RosterSite&, const RosterSite&) = default;
};

struct Header {
  int version = kFormatVersion;
  crdt::SiteId site;  // The exporting site.
  std::string runbook_id;
  int64_t exported_ms = 0;  // When the bundle was written (the exporter's wall clock).
  std::string exported_by;  // "baton export" or "baton-audit bundle".
  crdt::SiteId trust_site;  // The trust anchor the exporting site used.
  std::string trust_key;    // Raw Ed25519 key.
};

struct Head {
  uint64_t seq = 0;
  crdt::Hash hash{};  // BLAKE2b-256 of that event's payload.
  friend bool operator==(const Head&, const Head&) = default;
};

struct Manifest {
  uint64_t events = 0;
  uint64_t forks = 0;
  uint64_t last_arrival = 0;           // The exporting site's last arrival counter.
  std::map<crdt::SiteId, Head> heads;  // Per origin: the last event in the bundle.
  std::vector<RosterSite> roster;      // As the exporting site folded it, after every event.
  std::string state_digest;            // The exporting site's state digest (hex), if known.
  std::string checksum;                // BLAKE2b-256 (hex) of every byte before this record.
};

struct Event {
  uint64_t arrival = 0;
  int64_t arrived_ms = 0;  // 0: the site did not record it.
  std::string envelope;    // The stored bytes.
};

// Writes a bundle to `path`: to `path`.partial first, renamed into place by Finish, so that no
// reader sees half a bundle. The writer tracks counts and the checksum; the caller gives each
// event's id and hash for the manifest's heads.
class Writer {
 public:
  static Result<std::unique_ptr<Writer>> Create(const std::filesystem::path& path,
                                                const Header& header);
  ~Writer();  // Removes the partial file unless Finish succeeded.
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  Status AddEvent(const Event& event, const crdt::EventId& id, const crdt::Hash& hash);
  Status AddFork(const std::string& envelope);
  // Writes the manifest (its counts, heads and checksum from what was added; the rest from the
  // caller), syncs and renames the file into place.
  Status Finish(uint64_t last_arrival, const std::string& state_digest,
                std::vector<RosterSite> roster);

  uint64_t events() const { return manifest_.events; }

 private:
  Writer() = default;
  Status Record(char kind, const std::string& body);

  class Hasher;
  std::filesystem::path path_, partial_;
  std::ofstream out_;
  std::unique_ptr<Hasher> hasher_;
  Manifest manifest_;
  bool finished_ = false;
};

// A bundle read back: every record, framing and checksum checked. `problems` names what is wrong
// with the file as a container (a missing manifest, a checksum that does not match, a record
// after the manifest); the events are as found, for the auditor to verify.
struct Contents {
  Header header;
  std::vector<Event> events;  // In file order (the exporting site's arrival order).
  std::vector<std::string> forks;
  bool has_manifest = false;
  Manifest manifest;
  std::string computed_checksum;  // Of the bytes before the manifest (or all, if none).
  std::vector<std::string> problems;
};

// kNotFound: no such file; kInvalidArgument: not a bundle (magic, version, a header that does not
// parse), naming the file and byte offset. A file cut short or damaged after the header reads
// with what it holds and a problem naming the offset.
Result<Contents> Read(const std::filesystem::path& path);

// Whether the file starts with the bundle magic (false for a directory or another file).
bool LooksLikeBundle(const std::filesystem::path& path);

std::string HeaderJson(const Header& header);
// Hex (either case) to bytes; kInvalidArgument if it is not hex.
Result<std::string> DecodeHex(std::string_view hex);
std::string ManifestJson(const Manifest& manifest);

}  // namespace baton::bundle
