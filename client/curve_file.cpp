// See client/curve_file.h.
#include "client/curve_file.h"

#include <sstream>

namespace baton::client {

std::string FormatCurveCredentials(const CurveCredentials& f) {
  return "# baton remote client credentials: keep private (mode 0600)\n"
         "server_key = " +
         f.server_public_z85 + "\n" + "public_key = " + f.public_z85 + "\n" +
         "secret_key = " + f.secret_z85 + "\n";
}

Result<CurveCredentials> ParseCurveCredentials(std::string_view text, const std::string& source) {
  CurveCredentials f;
  std::istringstream in{std::string(text)};
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(source + ":" + std::to_string(n) + ": expected key = value");
    }
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t\r"));
      s.erase(s.find_last_not_of(" \t\r") + 1);
      return s;
    };
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    std::string* slot = key == "server_key"   ? &f.server_public_z85
                        : key == "public_key" ? &f.public_z85
                        : key == "secret_key" ? &f.secret_z85
                                              : nullptr;
    if (slot == nullptr) {
      return Status::InvalidArgument(source + ":" + std::to_string(n) + ": unknown key \"" +
                                     Excerpt(key) + "\"");
    }
    if (value.size() != 40) {
      return Status::InvalidArgument(source + ":" + std::to_string(n) + ": \"" + key +
                                     "\" must be a 40-character Z85 key");
    }
    *slot = value;
  }
  if (f.server_public_z85.empty() || f.public_z85.empty() || f.secret_z85.empty()) {
    return Status::InvalidArgument(source + ": needs server_key, public_key and secret_key");
  }
  return f;
}

}  // namespace baton::client
