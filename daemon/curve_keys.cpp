// See daemon/curve_keys.h.
#include "daemon/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>

#include "daemon/identity/keys.h"

namespace baton::daemon {
namespace {

Status WriteNew(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::IOError(path.string() + ": cannot create (it may already exist)");
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = fsync(fd) == 0 && ok;
  close(fd);
  if (!ok) return Status::IOError(path.string() + ": write failed");
  return Status::Ok();
}

Result<std::string> ReadKey(const std::filesystem::path& path) {
  BATON_ASSIGN_OR_RETURN(std::string text,
                         identity::ReadFileUpTo(path, identity::kMaxKeyFileBytes));
  const size_t begin = text.find_first_not_of(" \t\r\n");
  const size_t end = text.find_last_not_of(" \t\r\n");
  const std::string key = begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
  if (key.size() != 40) {
    return Status::Corruption(path.string() + ": expected a 40-character Z85 key, got " +
                              std::to_string(key.size()) + " characters");
  }
  return key;
}

}  // namespace

CurveKeyPair GenerateCurveKeyPair() {
  char pub[41] = {0};
  char sec[41] = {0};
  BATON_CHECK(zmq_curve_keypair(pub, sec) == 0);
  return CurveKeyPair{pub, sec};
}

Status WriteCurveKeys(const std::filesystem::path& dir, const CurveKeyPair& keys) {
  BATON_TRY(WriteNew(dir / "curve.pub", keys.public_z85 + "\n", 0644));
  return WriteNew(dir / "curve.key", keys.secret_z85 + "\n", 0600);
}

Result<CurveKeyPair> ReadCurveKeys(const std::filesystem::path& dir) {
  // The secret is as private as the site's signing key: refuse it readable by anyone else.
  const auto secret = dir / "curve.key";
  struct stat st {};
  if (::stat(secret.c_str(), &st) == 0) {
    BATON_TRY(identity::RefuseReadableByOthers(st.st_mode, secret.string()));
  }
  CurveKeyPair keys;
  BATON_ASSIGN_OR_RETURN(keys.public_z85, ReadKey(dir / "curve.pub"));
  BATON_ASSIGN_OR_RETURN(keys.secret_z85, ReadKey(dir / "curve.key"));
  return keys;
}

}  // namespace baton::daemon
