#include "tests/support/doctor.h"

#include <rocksdb/db.h>

#include <boost/test/unit_test.hpp>
#include <functional>
#include <memory>

namespace baton::testing {

namespace {

// Opens the database at `path` with every column family and hands `use` the one named `family`.
void WithFamily(const std::filesystem::path& path, const std::string& family,
                const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& use) {
  std::vector<std::string> names;
  BOOST_TEST_REQUIRE(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path.string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  size_t target = names.size();
  for (const std::string& name : names) {
    if (name == family) target = descriptors.size();
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  BOOST_TEST_REQUIRE(target < names.size(), "no column family " << family);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  BOOST_TEST_REQUIRE(
      rocksdb::DB::Open(rocksdb::DBOptions(), path.string(), descriptors, &handles, &db).ok());
  use(db, handles[target]);
  for (auto* handle : handles) BOOST_TEST_REQUIRE(db->DestroyColumnFamilyHandle(handle).ok());
  delete db;
}

}  // namespace

void Doctor(const std::filesystem::path& path, const std::string& family,
            const std::vector<std::pair<std::string, std::string>>& puts,
            const std::vector<std::string>& deletes, bool clear) {
  WithFamily(path, family, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    if (clear) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        BOOST_TEST_REQUIRE(db->Delete(rocksdb::WriteOptions(), cf, it->key()).ok());
      }
    }
    for (const std::string& key : deletes) {
      BOOST_TEST_REQUIRE(db->Delete(rocksdb::WriteOptions(), cf, key).ok());
    }
    for (const auto& [key, value] : puts) {
      BOOST_TEST_REQUIRE(db->Put(rocksdb::WriteOptions(), cf, key, value).ok());
    }
  });
}

std::vector<std::pair<std::string, std::string>> DoctorRead(const std::filesystem::path& path,
                                                            const std::string& family) {
  std::vector<std::pair<std::string, std::string>> out;
  WithFamily(path, family, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.emplace_back(it->key().ToString(), it->value().ToString());
    }
    BOOST_TEST_REQUIRE(it->status().ok());
  });
  return out;
}

void DoctorFlush(const std::filesystem::path& path) {
  std::vector<std::string> names;
  BOOST_TEST_REQUIRE(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path.string(), &names).ok());
  for (const std::string& name : names) {
    WithFamily(path, name, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
      BOOST_TEST_REQUIRE(db->Flush(rocksdb::FlushOptions(), cf).ok());
    });
  }
}

}  // namespace baton::testing
