#include "tests/support/doctor.h"

#include <rocksdb/db.h>

#include <boost/test/unit_test.hpp>
#include <memory>

namespace baton::testing {

void Doctor(const std::filesystem::path& path, const std::string& family,
            const std::vector<std::pair<std::string, std::string>>& puts,
            const std::vector<std::string>& deletes, bool clear) {
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
  if (clear) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[target]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      BOOST_TEST_REQUIRE(db->Delete(rocksdb::WriteOptions(), handles[target], it->key()).ok());
    }
  }
  for (const std::string& key : deletes) {
    BOOST_TEST_REQUIRE(db->Delete(rocksdb::WriteOptions(), handles[target], key).ok());
  }
  for (const auto& [key, value] : puts) {
    BOOST_TEST_REQUIRE(db->Put(rocksdb::WriteOptions(), handles[target], key, value).ok());
  }
  for (auto* handle : handles) BOOST_TEST_REQUIRE(db->DestroyColumnFamilyHandle(handle).ok());
  delete db;
}

}  // namespace baton::testing
