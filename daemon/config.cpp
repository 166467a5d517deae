// See daemon/config.h and docs/operations.md#config.
#include "daemon/config.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <system_error>

namespace baton::daemon {
namespace {

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
  while (std::getline(in, raw)) {
    ++line_no;
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = source + ":" + std::to_string(line_no);
    size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(where + ": expected `key = value`, got \"" + line + "\"");
    }
    std::string key = Trim(std::string_view(line).substr(0, eq));
    std::string value = Trim(std::string_view(line).substr(eq + 1));
    auto parse_int = [&](int64_t* out) -> Status {
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), *out);
      if (ec != std::errc() || p != value.data() + value.size() || *out < 0) {
        return Status::InvalidArgument(where + ": key \"" + key + "\": \"" + value +
                                       "\" is not a non-negative integer");
      }
      return Status::Ok();
    };
    if (key == "site") {
      if (!ValidSiteId(value)) {
        return Status::InvalidArgument(where + ": key \"site\": \"" + value +
                                       "\" is not a site id (letters, digits, - _ . ; 1-64 chars)");
      }
      c.site = value;
    } else if (key == "site_name") {
      c.site_name = value;
    } else if (key == "role") {
      if (value == "manager") {
        c.role = crdt::SiteRole::kManager;
      } else if (value == "site") {
        c.role = crdt::SiteRole::kSite;
      } else if (value == "observer") {
        c.role = crdt::SiteRole::kObserver;
      } else {
        return Status::InvalidArgument(where + ": key \"role\": \"" + value +
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
      c.client_keys.push_back(value);
    } else if (key == "max_clock_skew_ms") {
      BATON_TRY(parse_int(&c.max_clock_skew_ms));
    } else if (key == "snapshot_every") {
      int64_t v = 0;
      BATON_TRY(parse_int(&v));
      if (v == 0) return Status::InvalidArgument(where + ": key \"snapshot_every\" must be > 0");
      c.snapshot_every = static_cast<uint64_t>(v);
    } else {
      return Status::InvalidArgument(where + ": unknown key \"" + key + "\"");
    }
  }
  if (c.site.empty()) return Status::InvalidArgument(source + ": missing key \"site\"");
  if (c.site_name.empty()) c.site_name = c.site;
  return c;
}

Result<Config> LoadConfig(const std::filesystem::path& data_dir) {
  const auto path = data_dir / "batond.conf";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound(path.string() + ": cannot read (is " + data_dir.string() +
                            " a batond data directory? create one with `batond init`)");
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseConfig(buf.str(), path.string(), data_dir);
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
