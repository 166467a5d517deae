// A fresh directory (under `parent`, or $TMPDIR, or /tmp) that is removed with everything in it
// on destruction, unless BATON_KEEP_TEST_DIRS is set (to look at a failed run's data afterwards).
// Used by tests and benchmarks.
#pragma once

#include <filesystem>
#include <string>

namespace baton::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "baton-test",
                   const std::filesystem::path& parent = {});
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  std::filesystem::path operator/(const std::string& child) const { return path_ / child; }

 private:
  std::filesystem::path path_;
};

}  // namespace baton::testing
