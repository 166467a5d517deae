// Credentials of a remote client that reaches batond over tcp with CURVE: the daemon's public
// key and the client's own key pair, all Z85. `batond allow-client` writes the file (mode 0600);
// `baton --curve-file FILE` reads it. Text form: `key = value` lines server_key, public_key,
// secret_key; `#` comments. Pure: no I/O here.
#pragma once

#include <string>
#include <string_view>

#include "crdt/status.h"

namespace baton::client {

struct CurveCredentials {
  std::string server_public_z85;
  std::string public_z85;
  std::string secret_z85;
};

std::string FormatCurveCredentials(const CurveCredentials& credentials);
// `source` names the file in errors ("alice.curve:3: ...").
Result<CurveCredentials> ParseCurveCredentials(std::string_view text, const std::string& source);

}  // namespace baton::client
