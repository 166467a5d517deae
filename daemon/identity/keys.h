// A site's Ed25519 identity (site.pub / site.key in the data directory), hashing and signing of
// event payloads, and hex. libsodium, initialised once on first use from any thread.
// Hash = BLAKE2b-256 (crypto_generichash), signature = Ed25519 detached (crypto_sign):
// docs/event-format.md#hash-and-signature. The CurveZMQ transport keys are separate.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "crdt/event.h"
#include "crdt/status.h"

namespace baton::identity {

inline constexpr size_t kPublicKeySize = 32;
inline constexpr size_t kSecretKeySize = 64;  // libsodium layout: seed (32) then public key (32).
inline constexpr size_t kSignatureSize = 64;

inline constexpr const char* kPublicKeyFile = "site.pub";
inline constexpr const char* kSecretKeyFile = "site.key";

struct KeyPair {
  std::string public_key;  // Raw, kPublicKeySize bytes.
  std::string secret_key;  // Raw, kSecretKeySize bytes.
};

KeyPair GenerateKeyPair();

// Writes `dir`/site.pub (hex, mode 0644 minus umask) and `dir`/site.key (hex, mode 0600), each
// created under a temporary name, synced, then linked into place, so a reader never sees a
// partial key. Creates `dir` if missing. kInvalidArgument if either file already exists (a site
// identity is never overwritten); kIOError on a file system failure.
Status WriteKeyFiles(const std::filesystem::path& dir, const KeyPair& keys);

// Reads the pair written by WriteKeyFiles. kNotFound if a file is missing; kRejected if site.key
// is accessible by group or others; kCorruption if a file is not hex of the right size or the two
// files do not belong together.
Result<KeyPair> ReadKeyFiles(const std::filesystem::path& dir);

// The whole of a small file (a key, a config): kNotFound if it is missing, kIOError if it cannot
// be read, kInvalidArgument naming its size if it is larger than `max_bytes` (nothing more of
// it is read).
Result<std::string> ReadFileUpTo(const std::filesystem::path& path, size_t max_bytes);
// The largest key file any of baton's readers takes.
inline constexpr size_t kMaxKeyFileBytes = 4096;

// kRejected if a secret key file of mode `mode` may be read by group or others, naming it as
// `shown` and saying how to fix it; Ok otherwise. For every secret key file batond reads.
Status RefuseReadableByOthers(mode_t mode, const std::string& shown);

// BLAKE2b-256 of an event's payload bytes: the event's hash and its successor's prev_hash.
crdt::Hash HashPayload(std::string_view payload);

// Ed25519 detached signature (kSignatureSize bytes). BATON_CHECKs the key size.
std::string Sign(std::string_view payload, const std::string& secret_key);

// True only if `signature` is a valid signature of `payload` by `public_key`; false for any
// wrong size.
bool Verify(std::string_view payload, std::string_view signature, std::string_view public_key);

// The X25519 (CurveZMQ) key pair that belongs to an Ed25519 identity (libsodium's birational
// map), so the peer transport authenticates exactly the keys the roster holds: a roster entry
// needs no second key. kInvalidArgument for a key of the wrong size or not on the curve.
Result<std::string> TransportPublicKey(std::string_view ed25519_public_key);  // 32 raw bytes.
Result<std::string> TransportSecretKey(std::string_view ed25519_secret_key);  // 32 raw bytes.

// Lowercase hex.
std::string ToHex(std::string_view bytes);
// Accepts upper or lower case. kInvalidArgument naming the first bad character or an odd length.
Result<std::string> FromHex(std::string_view hex);

std::string HashHex(const crdt::Hash& hash);

// Hex BLAKE2b-256 of a canonical projection: equal event sets, equal digests.
std::string StateDigest(std::string_view canonical_bytes);

// An output stream that hashes what is written to it, so that a projection's canonical bytes
// (Projection::WriteCanonical) are digested as they are produced instead of held whole.
// Finish() returns what StateDigest would return for the same bytes.
class StateDigestStream : public std::ostream {
 public:
  StateDigestStream();
  ~StateDigestStream() override;
  StateDigestStream(const StateDigestStream&) = delete;
  StateDigestStream& operator=(const StateDigestStream&) = delete;

  std::string Finish();  // Once; writing afterwards is an error.

 private:
  class Buffer;
  std::unique_ptr<Buffer> buffer_;
};

}  // namespace baton::identity
