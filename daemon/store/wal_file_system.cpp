// WAL files written over durable zero-filled space; see wal_file_system.h. A failed write or
// sync is returned to RocksDB as an IOError, which stops the database's writes (as for any WAL).
#include "daemon/store/wal_file_system.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace baton::store {
namespace {

rocksdb::IOStatus ErrnoStatus(const std::string& what, const std::string& fname, int error) {
  return rocksdb::IOStatus::IOError(what + " " + fname + ": " + std::strerror(error));
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Writes all of [data, data + size) at `offset`; false with errno set on failure.
bool WriteFully(int fd, const char* data, size_t size, off_t offset) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<off_t>(n);
  }
  return true;
}

class PrewrittenWalFile : public rocksdb::FSWritableFile {
 public:
  PrewrittenWalFile(std::string fname, int fd) : fname_(std::move(fname)), fd_(fd) {}
  ~PrewrittenWalFile() override {
    if (fd_ >= 0) Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  }

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& /*options*/,
                           rocksdb::IODebugContext* /*dbg*/) override {
    const uint64_t end = size_ + data.size();
    while (end > prewritten_) {
      rocksdb::IOStatus s = Extend();
      if (!s.ok()) return s;
    }
    if (!WriteFully(fd_, data.data(), data.size(), static_cast<off_t>(size_))) {
      return ErrnoStatus("writing", fname_, errno);
    }
    size_ = end;
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& /*info*/,
                           rocksdb::IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }

  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& /*options*/,
                             rocksdb::IODebugContext* /*dbg*/) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return ErrnoStatus("truncating", fname_, errno);
    }
    size_ = size;
    prewritten_ = size;
    return rocksdb::IOStatus::OK();
  }

  // Trims the zero tail; harmless if it stays (a crash leaves it too).
  rocksdb::IOStatus Close(const rocksdb::IOOptions& /*options*/,
                          rocksdb::IODebugContext* /*dbg*/) override {
    if (fd_ < 0) return rocksdb::IOStatus::OK();
    rocksdb::IOStatus s;
    if (prewritten_ > size_ && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      s = ErrnoStatus("truncating", fname_, errno);
    }
    if (::close(fd_) != 0 && s.ok()) s = ErrnoStatus("closing", fname_, errno);
    fd_ = -1;
    return s;
  }

  rocksdb::IOStatus Flush(const rocksdb::IOOptions& /*options*/,
                          rocksdb::IODebugContext* /*dbg*/) override {
    return rocksdb::IOStatus::OK();  // Append writes straight to the file.
  }
  // The written range lies inside space whose size and allocation are already durable.
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& /*options*/,
                         rocksdb::IODebugContext* /*dbg*/) override {
    if (::fdatasync(fd_) != 0) return ErrnoStatus("syncing", fname_, errno);
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& /*options*/,
                          rocksdb::IODebugContext* /*dbg*/) override {
    if (::fsync(fd_) != 0) return ErrnoStatus("syncing", fname_, errno);
    return rocksdb::IOStatus::OK();
  }
  bool IsSyncThreadSafe() const override { return true; }

  uint64_t GetFileSize(const rocksdb::IOOptions& /*options*/,
                       rocksdb::IODebugContext* /*dbg*/) override {
    return size_;
  }
  // Space comes from Extend, never from fallocate: unwritten extents would need a metadata
  // update on each first write, which is what this file avoids.
  void PrepareWrite(size_t /*offset*/, size_t /*len*/, const rocksdb::IOOptions& /*options*/,
                    rocksdb::IODebugContext* /*dbg*/) override {}
  rocksdb::IOStatus Allocate(uint64_t /*offset*/, uint64_t /*len*/,
                             const rocksdb::IOOptions& /*options*/,
                             rocksdb::IODebugContext* /*dbg*/) override {
    return rocksdb::IOStatus::OK();
  }

 private:
  // Writes kWalExtendBytes of zeros past the prewritten end and makes them and the new size
  // durable before any record is written there.
  rocksdb::IOStatus Extend() {
    static const std::vector<char> zeros(kWalExtendBytes, 0);
    if (!WriteFully(fd_, zeros.data(), zeros.size(), static_cast<off_t>(prewritten_))) {
      return ErrnoStatus("extending", fname_, errno);
    }
    if (::fsync(fd_) != 0) return ErrnoStatus("syncing", fname_, errno);
    prewritten_ += zeros.size();
    return rocksdb::IOStatus::OK();
  }

  const std::string fname_;
  int fd_;
  uint64_t size_ = 0;        // Bytes of records written.
  uint64_t prewritten_ = 0;  // Durable file length (zeros past size_).
};

class PrewrittenWalFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit PrewrittenWalFileSystem(std::shared_ptr<rocksdb::FileSystem> base)
      : rocksdb::FileSystemWrapper(std::move(base)) {}

  const char* Name() const override { return "baton.PrewrittenWalFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& fname,
                                    const rocksdb::FileOptions& file_opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    if (!EndsWith(fname, ".log") || file_opts.use_direct_writes || file_opts.use_mmap_writes) {
      return target()->NewWritableFile(fname, file_opts, result, dbg);
    }
    const int fd = ::open(fname.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("creating", fname, errno);
    *result = std::make_unique<PrewrittenWalFile>(fname, fd);
    return rocksdb::IOStatus::OK();
  }
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> NewPrewrittenWalFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base) {
  return std::make_shared<PrewrittenWalFileSystem>(std::move(base));
}

}  // namespace baton::store
