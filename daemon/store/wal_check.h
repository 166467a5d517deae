// A check of RocksDB's write-ahead log files before the store opens them. RocksDB's recovery
// (kTolerateCorruptedTailRecords) stops at a record that looks cut short, because a crash while a
// record was being written leaves exactly that, acknowledged to no one. But a damaged length
// field or a zeroed stretch in the middle of a WAL looks the same, and recovery then drops, without
// a word, every acknowledged event after it. What tells the two apart: a torn tail has nothing
// intact after it. Format: RocksDB's log_format (32 KiB blocks of records, each a 7-byte header
// of masked CRC32C, length and type; 11 bytes for recyclable records).
#pragma once

#include <filesystem>

#include "crdt/status.h"

namespace baton::store {

// Every *.log file in `dir`: kCorruption naming the file and both offsets if a damaged or
// zeroed record is followed by an intact one; OK otherwise (a damaged tail is what a crash
// leaves). kIOError if a file cannot be read.
Status CheckWalFiles(const std::filesystem::path& dir);

// CRC32C (Castagnoli) as RocksDB and LevelDB use it; exposed for tests.
uint32_t Crc32c(const char* data, size_t size, uint32_t crc = 0);

}  // namespace baton::store
