#include "daemon/store/wal_check.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace baton::store {
namespace {

constexpr size_t kBlockSize = 32768;
constexpr size_t kHeaderSize = 7;             // crc (4), length (2), type (1).
constexpr size_t kRecyclableHeaderSize = 11;  // ... and the log number (4).
constexpr uint8_t kFirstRecyclableType = 5;
constexpr uint8_t kLastRecyclableType = 8;
constexpr uint8_t kMaxRecordType = 10;
constexpr uint32_t kMaskDelta = 0xa282ead8u;

const std::array<uint32_t, 256>& Table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

uint32_t Fixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 | uint32_t{u[3]} << 24;
}

// Whether a record starts at `at` (with at least kHeaderSize bytes left in its block of `size`
// bytes) whose checksum holds; its size in *length.
bool IntactRecord(const char* block, size_t size, size_t at, size_t* length) {
  const char* h = block + at;
  const auto type = static_cast<uint8_t>(h[6]);
  if (type == 0 || type > kMaxRecordType) return false;
  const size_t header = type >= kFirstRecyclableType && type <= kLastRecyclableType
                            ? kRecyclableHeaderSize
                            : kHeaderSize;
  const size_t payload =
      static_cast<unsigned char>(h[4]) | static_cast<size_t>(static_cast<unsigned char>(h[5])) << 8;
  if (at + header + payload > size) return false;
  const uint32_t masked = Fixed32(h);
  const uint32_t stored = ((masked - kMaskDelta) >> 17) | ((masked - kMaskDelta) << 15);
  // The checksum covers the type byte, the log number of a recyclable record, and the payload.
  if (Crc32c(h + 6, header - 6 + payload) != stored) return false;
  *length = header + payload;
  return true;
}

Status CheckWalFile(const std::filesystem::path& path) {
  // The size as of now: a file that a running batond appends to (the auditor reads while it
  // runs) is read up to here, in whole blocks, its last record possibly still being written.
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in) return Status::IOError("cannot read " + path.string());
  std::vector<char> block(kBlockSize);
  uint64_t block_start = 0;
  uint64_t damage = UINT64_MAX;  // Offset of the first damaged or zeroed record, if any.
  while (block_start < file_size) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(kBlockSize, file_size - block_start));
    in.read(block.data(), static_cast<std::streamsize>(want));
    const size_t size = static_cast<size_t>(in.gcount());
    if (size != want) return Status::IOError("reading " + path.string());
    // Records start at the front of every block; fewer than kHeaderSize bytes at the end of a
    // block are padding.
    for (size_t at = 0; at + kHeaderSize <= size;) {
      size_t length = 0;
      if (!IntactRecord(block.data(), size, at, &length)) {
        // Past damage, look for an intact record at every later byte of the block (a record
        // whose checksum holds by chance is a 1 in 2^32 event); the next block starts afresh.
        if (damage == UINT64_MAX) damage = block_start + at;
        ++at;
        continue;
      }
      if (damage != UINT64_MAX) {
        return Status::Corruption(
            "write-ahead log " + path.string() + " is damaged at byte " + std::to_string(damage) +
            " and intact again at byte " + std::to_string(block_start + at) +
            ": recovery would stop at the damage, and events acknowledged after the damage may "
            "be lost, so the log is not served; restore the data directory from a backup or "
            "rebuild this site from its peers (`batond rebuild`, "
            "docs/operations.md#rebuilding-a-site)");
      }
      at += length;
    }
    block_start += size;
  }
  return Status::Ok();
}

}  // namespace

uint32_t Crc32c(const char* data, size_t size, uint32_t crc) {
  const auto& table = Table();
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) {
    crc = table[(crc ^ static_cast<unsigned char>(data[i])) & 0xff] ^ (crc >> 8);
  }
  return ~crc;
}

Status CheckWalFiles(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= 4 || name.substr(name.size() - 4) != ".log") continue;
    if (!entry.is_regular_file(ec)) continue;
    if (Status s = CheckWalFile(entry.path()); !s.ok()) return s;
  }
  if (ec) return Status::IOError("listing " + dir.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace baton::store
