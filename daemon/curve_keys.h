// CURVE (ZeroMQ transport encryption) keys for remote clients over tcp. These are transport
// keys, separate from the site's Ed25519 identity that signs events. Files, in DATA/identity/:
// `curve.pub` and `curve.key` (Z85 text, the secret mode 0600). A remote client gets a
// credentials file (client/curve_file.h, mode 0600) holding the daemon's public key and its own
// key pair, and its public key is added to batond.conf as `client_key`.
#pragma once

#include <filesystem>
#include <string>

#include "crdt/status.h"

namespace baton::daemon {

struct CurveKeyPair {
  std::string public_z85;  // 40 characters.
  std::string secret_z85;  // 40 characters.
};

CurveKeyPair GenerateCurveKeyPair();
// Writes dir/curve.pub and dir/curve.key; refuses to replace existing files.
Status WriteCurveKeys(const std::filesystem::path& dir, const CurveKeyPair& keys);
Result<CurveKeyPair> ReadCurveKeys(const std::filesystem::path& dir);

}  // namespace baton::daemon
