#include "tools/audit/log.h"

#include <stdlib.h>

#include <system_error>
#include <utility>

#include "daemon/config.h"

namespace baton::audit {
namespace {

Status ParseTrust(const std::string& text, crdt::SiteId* site, std::string* key) {
  if (daemon::ParseTrustAnchor(text, site, key)) return Status::Ok();
  return Status::InvalidArgument(
      "--trust: expected SITE:KEY, the manager site's id and its 64-hex-digit public key "
      "(`batond init` printed it), got \"" +
      text.substr(0, 120) + "\"");
}

}  // namespace

ScratchDir::ScratchDir() {
  std::error_code ec;
  const auto base = std::filesystem::temp_directory_path(ec);
  std::string pattern = ((ec ? std::filesystem::path("/tmp") : base) / "baton-audit.XXXXXX");
  if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

Result<OpenedLog> OpenLog(const std::filesystem::path& data_dir, const std::string& trust) {
  OpenedLog log;
  log.store_path = data_dir / "events";
  if (!trust.empty()) {
    BATON_TRY(ParseTrust(trust, &log.trust_site, &log.trust_key));
    log.trust_source = "--trust";
  } else {
    auto config = daemon::LoadConfig(data_dir);
    if (!config.ok()) {
      return Status(config.status().code(),
                    config.status().message() +
                        " (give the trust anchor with --trust SITE:KEY to read without it)");
    }
    if (config->trust_site.empty()) {
      return Status::InvalidArgument((data_dir / "batond.conf").string() +
                                     " names no trust anchor: give it with --trust SITE:KEY");
    }
    log.trust_site = config->trust_site;
    log.trust_key = config->trust_key;
    log.trust_source = (data_dir / "batond.conf").string();
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(log.store_path, ec)) {
    return Status::NotFound(log.store_path.string() +
                            " does not exist: give the data directory of a site (the directory "
                            "`batond init` made, holding batond.conf and events/)");
  }
  log.scratch = std::make_unique<ScratchDir>();
  if (log.scratch->path().empty()) return Status::IOError("cannot create a temporary directory");
  store::StoreOptions options;
  options.path = log.store_path;
  options.secondary_path = log.scratch->path();
  BATON_ASSIGN_OR_RETURN(log.store, store::EventStore::Open(options));
  return log;
}

crdt::Projection FoldChains(const Chains& chains, const crdt::SiteId& trust_site,
                            const std::string& trust_key) {
  crdt::Projection projection;
  projection.SetTrustAnchor(trust_site, trust_key);
  for (const auto& [origin, events] : chains) {
    uint64_t expected = 1;
    for (const crdt::Event* event : events) {
      if (event->seq != expected || event->origin != origin) break;
      if (!projection.Apply(*event).ok()) break;
      ++expected;
    }
  }
  return projection;
}

}  // namespace baton::audit
