// Site keys, hashing and signing over libsodium. Key files are written with O_EXCL under a
// temporary name, fsynced, then hard-linked into place (link(2) never replaces a file), so an
// existing identity is never overwritten and a crash leaves no half-written key.
#include "daemon/identity/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <system_error>

namespace baton::identity {
namespace {

void InitSodium() {
  static std::once_flag once;
  std::call_once(once, [] { BATON_CHECK(sodium_init() >= 0); });
}

std::string ErrnoText(int err) { return std::generic_category().message(err); }

// Built by appending: g++ 12 -O3 reports a false -Wrestrict on `"\"" + std::string&&`.
std::string Quoted(const std::filesystem::path& p) {
  std::string out;
  out.reserve(p.native().size() + 2);
  out += '"';
  out += p.native();
  out += '"';
  return out;
}

// Creates `path` with `contents` and `mode`, atomically and without replacing anything.
Status WriteNewFile(const std::filesystem::path& path, const std::string& contents, mode_t mode) {
  const std::filesystem::path tmp =
      path.string() + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::IOError("cannot create " + Quoted(tmp) + ": " + ErrnoText(errno));
  Status s;
  // Exactly `mode` for the secret key, whatever the umask; the public key keeps the umask.
  if (mode == 0600 && ::fchmod(fd, mode) != 0) {
    s = Status::IOError("cannot chmod " + Quoted(tmp) + ": " + ErrnoText(errno));
  }
  size_t written = 0;
  while (s.ok() && written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = Status::IOError("cannot write " + Quoted(tmp) + ": " + ErrnoText(errno));
    } else {
      written += static_cast<size_t>(n);
    }
  }
  if (s.ok() && ::fsync(fd) != 0) {
    s = Status::IOError("cannot sync " + Quoted(tmp) + ": " + ErrnoText(errno));
  }
  ::close(fd);
  if (s.ok() && ::link(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    s = err == EEXIST ? Status::InvalidArgument(Quoted(path) +
                                                " already exists: refusing to overwrite a site "
                                                "identity")
                      : Status::IOError("cannot link " + Quoted(path) + ": " + ErrnoText(err));
  }
  ::unlink(tmp.c_str());
  return s;
}

Status SyncDir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + Quoted(dir) + ": " + ErrnoText(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IOError("cannot sync " + Quoted(dir) + ": " + ErrnoText(err));
  return Status::Ok();
}

// Reads a hex key file of `size` raw bytes.
Result<std::string> ReadHexKey(const std::filesystem::path& path, size_t size) {
  BATON_ASSIGN_OR_RETURN(std::string hex, ReadFileUpTo(path, kMaxKeyFileBytes));
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) {
    hex.pop_back();
  }
  auto raw = FromHex(hex);
  if (!raw.ok()) return Status::Corruption(Quoted(path) + ": " + raw.status().message());
  if (raw->size() != size) {
    return Status::Corruption(Quoted(path) + ": " + std::to_string(raw->size()) +
                              " bytes, expected " + std::to_string(size));
  }
  return raw;
}

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

Result<std::string> ReadFileUpTo(const std::filesystem::path& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return Status::NotFound(Quoted(path) + " is missing");
    return Status::IOError("cannot read " + Quoted(path) + ": " + ErrnoText(err));
  }
  // In chunks: a small file costs a small buffer, a large one no more than the limit.
  std::string text;
  char chunk[16384];
  while (in && text.size() <= max_bytes) {
    in.read(chunk, sizeof chunk);
    text.append(chunk, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Status::IOError("cannot read " + Quoted(path) + ": " + ErrnoText(errno));
  if (text.size() > max_bytes) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    return Status::InvalidArgument(
        Quoted(path) + " is " + (ec ? "over " + std::to_string(max_bytes) : std::to_string(size)) +
        " bytes, over the limit of " + std::to_string(max_bytes) + ": is it the right file?");
  }
  return text;
}

KeyPair GenerateKeyPair() {
  InitSodium();
  KeyPair keys;
  keys.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  keys.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(keys.public_key.data()),
                      reinterpret_cast<unsigned char*>(keys.secret_key.data()));
  return keys;
}

Status WriteKeyFiles(const std::filesystem::path& dir, const KeyPair& keys) {
  BATON_CHECK(keys.public_key.size() == kPublicKeySize);
  BATON_CHECK(keys.secret_key.size() == kSecretKeySize);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + Quoted(dir) + ": " + ec.message());
  const auto pub = dir / kPublicKeyFile;
  const auto key = dir / kSecretKeyFile;
  for (const auto& p : {pub, key}) {
    if (std::filesystem::exists(std::filesystem::symlink_status(p, ec))) {
      return Status::InvalidArgument(Quoted(p) +
                                     " already exists: refusing to overwrite a site identity");
    }
  }
  BATON_TRY(WriteNewFile(key, ToHex(keys.secret_key) + "\n", 0600));
  if (Status s = WriteNewFile(pub, ToHex(keys.public_key) + "\n", 0644); !s.ok()) {
    // Ours, just created: do not leave half an identity behind.
    ::unlink(key.c_str());
    return s;
  }
  return SyncDir(dir);
}

Status RefuseReadableByOthers(mode_t mode, const std::string& shown) {
  if ((mode & 077) == 0) return Status::Ok();
  return Status::Rejected(shown + " is accessible by group or others (mode " + Octal(mode) +
                          "): run chmod 600 " + shown);
}

Result<KeyPair> ReadKeyFiles(const std::filesystem::path& dir) {
  InitSodium();
  const auto pub = dir / kPublicKeyFile;
  const auto key = dir / kSecretKeyFile;
  struct stat st {};
  if (::stat(key.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(Quoted(key) + " is missing");
    return Status::IOError("cannot stat " + Quoted(key) + ": " + ErrnoText(errno));
  }
  BATON_TRY(RefuseReadableByOthers(st.st_mode, Quoted(key)));
  KeyPair keys;
  BATON_ASSIGN_OR_RETURN(keys.secret_key, ReadHexKey(key, kSecretKeySize));
  BATON_ASSIGN_OR_RETURN(keys.public_key, ReadHexKey(pub, kPublicKeySize));
  std::string derived(kPublicKeySize, '\0');
  crypto_sign_ed25519_sk_to_pk(reinterpret_cast<unsigned char*>(derived.data()),
                               reinterpret_cast<const unsigned char*>(keys.secret_key.data()));
  if (derived != keys.public_key) {
    return Status::Corruption(Quoted(pub) + " does not belong to " + Quoted(key));
  }
  return keys;
}

crdt::Hash HashPayload(std::string_view payload) {
  InitSodium();
  crdt::Hash out{};
  static_assert(sizeof(out) == crypto_generichash_BYTES);
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(payload.data()),
                     payload.size(), nullptr, 0);
  return out;
}

std::string Sign(std::string_view payload, const std::string& secret_key) {
  InitSodium();
  BATON_CHECK(secret_key.size() == crypto_sign_SECRETKEYBYTES);
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
                       reinterpret_cast<const unsigned char*>(secret_key.data()));
  return sig;
}

bool Verify(std::string_view payload, std::string_view signature, std::string_view public_key) {
  InitSodium();
  if (signature.size() != crypto_sign_BYTES) return false;
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES) return false;
  return crypto_sign_verify_detached(
             reinterpret_cast<const unsigned char*>(signature.data()),
             reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
             reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

Result<std::string> TransportPublicKey(std::string_view ed25519_public_key) {
  InitSodium();
  if (ed25519_public_key.size() != kPublicKeySize) {
    return Status::InvalidArgument("an Ed25519 public key has 32 bytes, not " +
                                   std::to_string(ed25519_public_key.size()));
  }
  std::string out(crypto_scalarmult_curve25519_BYTES, '\0');
  if (crypto_sign_ed25519_pk_to_curve25519(
          reinterpret_cast<unsigned char*>(out.data()),
          reinterpret_cast<const unsigned char*>(ed25519_public_key.data())) != 0) {
    return Status::InvalidArgument("the public key is not a valid Ed25519 point");
  }
  return out;
}

Result<std::string> TransportSecretKey(std::string_view ed25519_secret_key) {
  InitSodium();
  if (ed25519_secret_key.size() != kSecretKeySize) {
    return Status::InvalidArgument("an Ed25519 secret key has 64 bytes, not " +
                                   std::to_string(ed25519_secret_key.size()));
  }
  std::string out(crypto_scalarmult_curve25519_BYTES, '\0');
  if (crypto_sign_ed25519_sk_to_curve25519(
          reinterpret_cast<unsigned char*>(out.data()),
          reinterpret_cast<const unsigned char*>(ed25519_secret_key.data())) != 0) {
    return Status::InvalidArgument("cannot derive the transport key from the secret key");
  }
  return out;
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

Result<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return Status::InvalidArgument("hex of odd length " + std::to_string(hex.size()));
  }
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      const size_t at = hi < 0 ? i : i + 1;
      return Status::InvalidArgument("not a hex digit at position " + std::to_string(at) + ": '" +
                                     std::string(1, hex[at]) + "'");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string HashHex(const crdt::Hash& hash) {
  return ToHex(std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

std::string StateDigest(std::string_view canonical_bytes) {
  return HashHex(HashPayload(canonical_bytes));
}

// Buffers writes and feeds them to BLAKE2b a block at a time.
class StateDigestStream::Buffer : public std::streambuf {
 public:
  Buffer() {
    InitSodium();
    crypto_generichash_init(&state_, nullptr, 0, crypto_generichash_BYTES);
    setp(block_, block_ + sizeof(block_));
  }

  std::string Finish() {
    BATON_CHECK(!finished_);
    Drain();
    finished_ = true;
    crdt::Hash out{};
    crypto_generichash_final(&state_, out.data(), out.size());
    return HashHex(out);
  }

 protected:
  int_type overflow(int_type c) override {
    if (finished_) return traits_type::eof();
    Drain();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override {
    Drain();
    return 0;
  }

 private:
  void Drain() {
    const auto n = static_cast<size_t>(pptr() - pbase());
    if (n > 0) crypto_generichash_update(&state_, reinterpret_cast<unsigned char*>(pbase()), n);
    setp(block_, block_ + sizeof(block_));
  }

  crypto_generichash_state state_;
  char block_[1 << 16];
  bool finished_ = false;
};

StateDigestStream::StateDigestStream() : std::ostream(nullptr), buffer_(new Buffer()) {
  rdbuf(buffer_.get());
}

StateDigestStream::~StateDigestStream() = default;

std::string StateDigestStream::Finish() {
  flush();
  return buffer_->Finish();
}

}  // namespace baton::identity
