// Damages a closed event store on purpose, bypassing EventStore, for the tests of what baton does
// with a store it finds inconsistent (the open-time checks, `batond repair`).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace baton::testing {

// Changes one column family of the RocksDB database at `path`: deletes every key if `clear`,
// then the `deletes`, then writes the `puts`. Fails the test if the database does not open.
void Doctor(const std::filesystem::path& path, const std::string& family,
            const std::vector<std::pair<std::string, std::string>>& puts,
            const std::vector<std::string>& deletes = {}, bool clear = false);

// Every key and value of one column family of the (closed) database at `path`, in key order.
std::vector<std::pair<std::string, std::string>> DoctorRead(const std::filesystem::path& path,
                                                            const std::string& family);

// Flushes every column family of the (closed) database at `path` into table files, so that a
// test finds its events in SSTs, not only in the WAL.
void DoctorFlush(const std::filesystem::path& path);

}  // namespace baton::testing
