// A RocksDB FileSystem that writes WAL files ("*.log") over space already written with zeros and
// made durable, so that a synced append changes no file metadata: fdatasync then only writes the
// new data, without a journal commit for the file size or for newly allocated blocks.
// Invariants: bytes are written at the same offsets as a plain append; a crash leaves the WAL's
// records followed by zeros, which RocksDB's log reader skips as padding (never as a record);
// Close trims the file to the written length. Every other file goes to the wrapped FileSystem.
#pragma once

#include <rocksdb/file_system.h>

#include <cstddef>
#include <memory>

namespace baton::store {

// Space written ahead of the WAL's end each time it is reached; one fsync per extension.
inline constexpr size_t kWalExtendBytes = 4u << 20;

std::shared_ptr<rocksdb::FileSystem> NewPrewrittenWalFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base);

}  // namespace baton::store
