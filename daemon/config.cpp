// See daemon/config.h and docs/operations.md#config.
#include "daemon/config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include "daemon/identity/keys.h"

namespace baton::daemon {
namespace {

using identity::FromHex;
using identity::ToHex;

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

bool ValidSiteId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

const char* RoleName(crdt::SiteRole role) {
  switch (role) {
    case crdt::SiteRole::kManager:
      return "manager";
    case crdt::SiteRole::kSite:
      return "site";
    case crdt::SiteRole::kObserver:
      return "observer";
  }
  return "site";
}

}  // namespace

std::string Config::ClientEndpoint() const {
  if (!client_endpoint.empty()) return client_endpoint;
  return "ipc://" + (data_dir / "batond.sock").string();
}

Result<Config> ParseConfig(std::string_view text, const std::string& source,
                           const std::filesystem::path& data_dir) {
  Config c;
  c.data_dir = data_dir;
  std::istringstream in{std::string(text)};
  std::string raw;
  int line_no = 0;
  std::map<std::string, int> first_line;  // Key -> the line that gave it.
  while (std::getline(in, raw)) {
    ++line_no;
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = source + ":" + std::to_string(line_no);
    size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(where + ": expected `key = value`, got \"" + Excerpt(line) +
                                     "\"");
    }
    std::string key = Trim(std::string_view(line).substr(0, eq));
    std::string value = Trim(std::string_view(line).substr(eq + 1));
    if (line.size() > kMaxConfigLineBytes) {
      return Status::InvalidArgument(where + ": the line is " + std::to_string(line.size()) +
                                     " bytes, over the limit of " +
                                     std::to_string(kMaxConfigLineBytes));
    }
    const auto control = std::find_if(line.begin(), line.end(), [](char ch) {
      return static_cast<unsigned char>(ch) < 0x20 && ch != '\t';
    });
    if (control != line.end()) {
      return Status::InvalidArgument(where + ": a control character (byte " +
                                     std::to_string(static_cast<unsigned char>(*control)) +
                                     ") in the line");
    }
    // One value per key, except the keys that list things: a second `site` or `trust` must not
    // silently win over the first.
    if (key != "client_key" && key != "peer") {
      auto [first, fresh] = first_line.emplace(key, line_no);
      if (!fresh) {
        return Status::InvalidArgument(where + ": key \"" + Excerpt(key) +
                                       "\" is given again (first at line " +
                                       std::to_string(first->second) + "); keep one of them");
      }
    }
    auto parse_int = [&](int64_t* out, int64_t max) -> Status {
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), *out);
      if (ec != std::errc() || p != value.data() + value.size() || *out < 0 || *out > max) {
        return Status::InvalidArgument(where + ": key \"" + key + "\": \"" + Excerpt(value) +
                                       "\" is not an integer from 0 to " + std::to_string(max));
      }
      return Status::Ok();
    };
    if (key == "site") {
      if (!ValidSiteId(value)) {
        return Status::InvalidArgument(where + ": key \"site\": \"" + Excerpt(value) +
                                       "\" is not a site id (letters, digits, - _ . ; 1-64 chars)");
      }
      c.site = value;
    } else if (key == "site_name") {
      if (value.size() > kMaxSiteNameBytes) {
        return Status::InvalidArgument(where + ": key \"site_name\" is " +
                                       std::to_string(value.size()) + " bytes, over the limit of " +
                                       std::to_string(kMaxSiteNameBytes));
      }
      c.site_name = value;
    } else if (key == "role") {
      if (value == "manager") {
        c.role = crdt::SiteRole::kManager;
      } else if (value == "site") {
        c.role = crdt::SiteRole::kSite;
      } else if (value == "observer") {
        c.role = crdt::SiteRole::kObserver;
      } else {
        return Status::InvalidArgument(where + ": key \"role\": \"" + Excerpt(value) +
                                       "\" is not one of manager, site, observer");
      }
    } else if (key == "client_endpoint") {
      c.client_endpoint = value;
    } else if (key == "client_tcp") {
      c.client_tcp = value;
    } else if (key == "client_key") {
      if (value.size() != 40) {
        return Status::InvalidArgument(where +
                                       ": key \"client_key\": expected a 40-character Z85 "
                                       "CURVE public key, got " +
                                       std::to_string(value.size()) + " characters");
      }
      if (c.client_keys.size() == kMaxConfigListEntries) {
        return Status::InvalidArgument(where + ": more than " +
                                       std::to_string(kMaxConfigListEntries) + " client_key lines");
      }
      c.client_keys.push_back(value);
    } else if (key == "max_clock_skew_ms") {
      BATON_TRY(parse_int(&c.max_clock_skew_ms, kMaxConfigMs));
    } else if (key == "snapshot_every") {
      int64_t v = 0;
      BATON_TRY(parse_int(&v, kMaxSnapshotEvery));
      if (v == 0) return Status::InvalidArgument(where + ": key \"snapshot_every\" must be > 0");
      c.snapshot_every = static_cast<uint64_t>(v);
    } else if (key == "trust") {
      if (!ParseTrustAnchor(value, &c.trust_site, &c.trust_key)) {
        return Status::InvalidArgument(where +
                                       ": key \"trust\": expected SITE:KEY with the "
                                       "manager site's id and its 64-hex-digit public key "
                                       "(`batond init` prints it), got \"" +
                                       Excerpt(value) + "\"");
      }
    } else if (key == "rejoin_grace_ms") {
      BATON_TRY(parse_int(&c.rejoin_grace_ms, kMaxConfigMs));
    } else if (key == "fault_injection") {
      c.fault_injection = value;
    } else if (key == "peer_listen") {
      if (value.rfind("tcp://", 0) != 0) {
        return Status::InvalidArgument(where + ": key \"peer_listen\": \"" + Excerpt(value) +
                                       "\" is not a tcp:// endpoint");
      }
      c.peer_listen = value;
    } else if (key == "peer") {
      std::istringstream words(value);
      Config::Peer peer;
      std::string key_hex, extra;
      words >> peer.site >> peer.endpoint >> key_hex >> extra;
      auto key_bytes = FromHex(key_hex);
      if (!ValidSiteId(peer.site) || peer.endpoint.rfind("tcp://", 0) != 0 || !extra.empty() ||
          !key_bytes.ok() || (!key_hex.empty() && key_bytes->size() != 32)) {
        return Status::InvalidArgument(where +
                                       ": key \"peer\": expected `peer = SITE "
                                       "tcp://HOST:PORT [KEYHEX]`, got \"" +
                                       Excerpt(value) + "\"");
      }
      peer.key = std::move(key_bytes).value();
      if (peer.site == c.site) {
        return Status::InvalidArgument(where + ": key \"peer\": a site cannot peer with itself");
      }
      for (const auto& p : c.peers) {
        if (p.site == peer.site) {
          return Status::InvalidArgument(where + ": key \"peer\": site \"" + peer.site +
                                         "\" is listed twice");
        }
      }
      if (c.peers.size() == kMaxConfigListEntries) {
        return Status::InvalidArgument(where + ": more than " +
                                       std::to_string(kMaxConfigListEntries) + " peer lines");
      }
      c.peers.push_back(std::move(peer));
    } else {
      return Status::InvalidArgument(where + ": unknown key \"" + Excerpt(key) + "\"");
    }
  }
  if (c.site.empty()) return Status::InvalidArgument(source + ": missing key \"site\"");
  if (c.site_name.empty()) c.site_name = c.site;
  return c;
}

bool ParseTrustAnchor(const std::string& text, crdt::SiteId* site, std::string* raw_key) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos || !ValidSiteId(text.substr(0, colon))) return false;
  auto key = FromHex(text.substr(colon + 1));
  if (!key.ok() || key->size() != 32) return false;
  *site = text.substr(0, colon);
  *raw_key = std::move(key).value();
  return true;
}

Result<Config> LoadConfig(const std::filesystem::path& data_dir) {
  const auto path = data_dir / "batond.conf";
  std::error_code ec;
  const auto kind = std::filesystem::status(path, ec).type();
  if (kind == std::filesystem::file_type::not_found) {
    return Status::NotFound(path.string() + ": not found (is " + data_dir.string() +
                            " a batond data directory? create one with `batond init`)");
  }
  if (ec) return Status::IOError(path.string() + ": cannot read: " + ec.message());
  if (kind != std::filesystem::file_type::regular) {
    return Status::IOError(path.string() + ": cannot read: not a regular file");
  }
  BATON_ASSIGN_OR_RETURN(std::string text, identity::ReadFileUpTo(path, kMaxConfigBytes));
  return ParseConfig(text, path.string(), data_dir);
}

Status SaveConfig(const Config& c) {
  std::ostringstream out;
  out << "# batond configuration; reference: docs/operations.md#config\n"
      << "site = " << c.site << "\n"
      << "site_name = " << c.site_name << "\n"
      << "role = " << RoleName(c.role) << "\n";
  if (!c.client_endpoint.empty()) out << "client_endpoint = " << c.client_endpoint << "\n";
  if (!c.client_tcp.empty()) out << "client_tcp = " << c.client_tcp << "\n";
  for (const auto& k : c.client_keys) out << "client_key = " << k << "\n";
  if (!c.trust_site.empty()) out << "trust = " << c.trust_site << ":" << ToHex(c.trust_key) << "\n";
  if (!c.peer_listen.empty()) out << "peer_listen = " << c.peer_listen << "\n";
  for (const auto& p : c.peers) {
    out << "peer = " << p.site << " " << p.endpoint;
    if (!p.key.empty()) out << " " << ToHex(p.key);
    out << "\n";
  }
  out << "rejoin_grace_ms = " << c.rejoin_grace_ms << "\n";
  if (!c.fault_injection.empty()) out << "fault_injection = " << c.fault_injection << "\n";
  out << "max_clock_skew_ms = " << c.max_clock_skew_ms << "\n"
      << "snapshot_every = " << c.snapshot_every << "\n";
  const auto path = c.ConfigPath();
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::IOError(tmp + ": cannot write");
    f << out.str();
    f.flush();
    if (!f) return Status::IOError(tmp + ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IOError(path.string() + ": rename failed: " + ec.message());
  return Status::Ok();
}

}  // namespace baton::daemon
