#include "tests/support/temp_dir.h"

#include <cstdlib>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace baton::testing {

TempDir::TempDir(const std::string& prefix, const std::filesystem::path& parent) {
  const char* env = std::getenv("TMPDIR");
  const std::string base = !parent.empty() ? parent.string() : (env && *env ? env : "/tmp");
  std::string pattern = base + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + pattern);
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (std::getenv("BATON_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);  // Best effort: a leftover temp dir is harmless.
}

}  // namespace baton::testing
