#include "client/bundle.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

#include "daemon/identity/keys.h"

namespace baton::bundle {
namespace {

using nlohmann::json;

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint64_t GetBigEndian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string HashToHex(const crdt::Hash& hash) { return identity::HashHex(hash); }

// The bundle's hex is lower-case only: one spelling per value, so that no byte of a manifest
// (which its own checksum cannot cover) can change without changing what it says.
bool LowerHex(const std::string& hex) {
  return hex.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool HexToHash(const std::string& hex, crdt::Hash* hash) {
  if (!LowerHex(hex)) return false;
  auto raw = identity::FromHex(hex);
  if (!raw.ok() || raw->size() != hash->size()) return false;
  std::memcpy(hash->data(), raw->data(), hash->size());
  return true;
}

// The header and manifest are small objects; anything nested deeper than this is not one, and
// is dropped while parsing (it then fails the field checks) instead of being built.
constexpr int kMaxDepth = 8;

json ParseShallow(const std::string& body) {
  const json::parser_callback_t shallow = [](int depth, json::parse_event_t, json&) {
    return depth <= kMaxDepth;
  };
  return json::parse(body, shallow, /*allow_exceptions=*/false);
}

Status Bad(const std::filesystem::path& path, const std::string& what) {
  return Status::InvalidArgument(path.string() + ": " + what);
}

// Reads a string field; kInvalidArgument naming it when absent or not a string.
Status GetString(const json& j, const char* field, const std::string& where, std::string* out) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_string()) {
    return Status::InvalidArgument(where + ": field \"" + field + "\" missing or not a string");
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

Status GetKey(const json& j, const char* field, const std::string& where, std::string* out) {
  std::string hex;
  BATON_TRY(GetString(j, field, where, &hex));
  auto raw =
      LowerHex(hex) ? identity::FromHex(hex) : Result<std::string>(Status::InvalidArgument(""));
  if (!raw.ok() || raw->size() != 32) {
    return Status::InvalidArgument(where + ": field \"" + field +
                                   "\" is not a public key in 64 lower-case hex digits");
  }
  *out = std::move(raw).value();
  return Status::Ok();
}

Result<Header> ParseHeader(const std::string& body, const std::string& where) {
  const json j = ParseShallow(body);
  if (!j.is_object()) return Status::InvalidArgument(where + ": the header is not a JSON object");
  Header h;
  std::string format;
  BATON_TRY(GetString(j, "format", where, &format));
  if (format != "baton-bundle") {
    return Status::InvalidArgument(where + ": format \"" + format.substr(0, 40) +
                                   "\" is not \"baton-bundle\"");
  }
  const auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() ||
      version->get<int>() < kOldestFormatVersion || version->get<int>() > kFormatVersion) {
    return Status::InvalidArgument(
        where + ": bundle format version " + (version == j.end() ? "missing" : version->dump()) +
        "; this baton-audit reads versions " + std::to_string(kOldestFormatVersion) + " to " +
        std::to_string(kFormatVersion));
  }
  h.version = version->get<int>();
  BATON_TRY(GetString(j, "site", where, &h.site));
  BATON_TRY(GetString(j, "runbook", where, &h.runbook_id));
  BATON_TRY(GetString(j, "exported_by", where, &h.exported_by));
  const auto exported = j.find("exported_ms");
  if (exported == j.end() || !exported->is_number_integer()) {
    return Status::InvalidArgument(where + ": field \"exported_ms\" missing or not an integer");
  }
  h.exported_ms = exported->get<int64_t>();
  const auto trust = j.find("trust");
  if (trust != j.end() && !trust->is_null()) {
    if (!trust->is_object()) return Status::InvalidArgument(where + ": \"trust\" is not an object");
    BATON_TRY(GetString(*trust, "site", where + ": trust", &h.trust_site));
    BATON_TRY(GetKey(*trust, "key", where + ": trust", &h.trust_key));
  }
  return h;
}

// Whether `j` has no field but `allowed`; else names the first other one in *problem.
bool OnlyFields(const json& j, std::initializer_list<const char*> allowed, const std::string& what,
                std::string* problem) {
  if (!j.is_object()) return true;
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* name : allowed) known = known || key == name;
    if (!known) {
      *problem = what + " has an unknown field \"" + key.substr(0, 60) + "\"";
      return false;
    }
  }
  return true;
}

// The manifest's fields; a problem (not an error: the events may still be verified) if malformed.
bool ParseManifest(const std::string& body, int version, Manifest* m, std::string* problem) {
  const json j = ParseShallow(body);
  const auto count = [&](const char* field, uint64_t* out) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_number_unsigned()) {
      *problem = std::string("the manifest's \"") + field + "\" is missing or not a count";
      return false;
    }
    *out = it->get<uint64_t>();
    return true;
  };
  if (!j.is_object()) {
    *problem = "the manifest is not a JSON object";
    return false;
  }
  // Exactly these fields: the checksum cannot cover the manifest, so nothing in it may be
  // ignored.
  if (!OnlyFields(
          j, {"events", "forks", "last_arrival", "heads", "roster", "state_digest", "checksum"},
          "the manifest", problem)) {
    return false;
  }
  if (!count("events", &m->events) || !count("forks", &m->forks) ||
      !count("last_arrival", &m->last_arrival)) {
    return false;
  }
  const auto checksum = j.find("checksum");
  if (checksum == j.end() || !checksum->is_string()) {
    *problem = "the manifest has no checksum";
    return false;
  }
  m->checksum = checksum->get<std::string>();
  const auto digest = j.find("state_digest");
  if (digest == j.end() || !digest->is_string()) {
    *problem = "the manifest has no state_digest";
    return false;
  }
  m->state_digest = digest->get<std::string>();
  const auto roster = j.find("roster");
  if (roster == j.end() || !roster->is_array()) {
    *problem = "the manifest's \"roster\" is missing or not an array";
    return false;
  }
  for (const json& s : *roster) {
    RosterSite site;
    const std::string at = "the manifest's roster entry " + std::to_string(m->roster.size() + 1);
    Status read = s.is_object() ? Status::Ok() : Status::InvalidArgument(at + " is not an object");
    const bool v2 = version >= 2;
    if (read.ok() &&
        !(v2 ? OnlyFields(s, {"id", "name", "role", "key", "endpoint", "teams", "removed"}, at,
                          problem)
             : OnlyFields(s, {"id", "name", "role", "key", "endpoint"}, at, problem))) {
      return false;
    }
    if (read.ok()) read = GetString(s, "id", at, &site.id);
    if (read.ok()) read = GetString(s, "name", at, &site.name);
    if (read.ok()) read = GetString(s, "role", at, &site.role);
    if (read.ok()) read = GetKey(s, "key", at, &site.public_key);
    if (read.ok()) read = GetString(s, "endpoint", at, &site.endpoint);
    if (read.ok() && v2) {
      const auto teams = s.find("teams");
      const auto removed = s.find("removed");
      if (teams == s.end() || !teams->is_array() ||
          !std::all_of(teams->begin(), teams->end(), [](const json& t) { return t.is_string(); })) {
        read = Status::InvalidArgument(at + ": field \"teams\" missing or not an array of strings");
      } else if (removed == s.end() || !removed->is_boolean()) {
        read = Status::InvalidArgument(at + ": field \"removed\" missing or not true/false");
      } else {
        site.teams = teams->get<std::vector<std::string>>();
        site.removed = removed->get<bool>();
      }
    }
    if (!read.ok()) {
      *problem = read.message();
      return false;
    }
    m->roster.push_back(std::move(site));
  }
  const auto heads = j.find("heads");
  if (heads == j.end() || !heads->is_object()) {
    *problem = "the manifest's \"heads\" is missing or not an object";
    return false;
  }
  for (const auto& [origin, head] : heads->items()) {
    Head h;
    if (!OnlyFields(head, {"seq", "hash"},
                    "the manifest's head for \"" + origin.substr(0, 60) + "\"", problem)) {
      return false;
    }
    if (!head.is_object() || !head.contains("seq") || !head["seq"].is_number_unsigned() ||
        !head.contains("hash") || !head["hash"].is_string() ||
        !HexToHash(head["hash"].get<std::string>(), &h.hash)) {
      *problem = "the manifest's head for \"" + origin.substr(0, 60) + "\" is malformed";
      return false;
    }
    h.seq = head["seq"].get<uint64_t>();
    m->heads[origin] = h;
  }
  return true;
}

}  // namespace

// Feeds the bytes written to the checksum.
class Writer::Hasher {
 public:
  void Add(const std::string& bytes) {
    stream_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::string Finish() { return stream_.Finish(); }

 private:
  identity::StateDigestStream stream_;
};

std::string HeaderJson(const Header& h) {
  json trust = nullptr;
  if (!h.trust_site.empty()) {
    trust = {{"site", h.trust_site}, {"key", identity::ToHex(h.trust_key)}};
  }
  return json{{"format", "baton-bundle"},
              {"version", h.version},
              {"site", h.site},
              {"runbook", h.runbook_id},
              {"exported_ms", h.exported_ms},
              {"exported_by", h.exported_by},
              {"trust", trust}}
      .dump();
}

std::string ManifestJson(const Manifest& m) {
  json roster = json::array();
  for (const RosterSite& s : m.roster) {
    roster.push_back({{"id", s.id},
                      {"name", s.name},
                      {"role", s.role},
                      {"key", identity::ToHex(s.public_key)},
                      {"endpoint", s.endpoint},
                      {"teams", s.teams},
                      {"removed", s.removed}});
  }
  json heads = json::object();
  for (const auto& [origin, head] : m.heads) {
    heads[origin] = {{"seq", head.seq}, {"hash", HashToHex(head.hash)}};
  }
  return json{{"events", m.events},    {"forks", m.forks}, {"last_arrival", m.last_arrival},
              {"heads", heads},        {"roster", roster}, {"state_digest", m.state_digest},
              {"checksum", m.checksum}}
      .dump();
}

Result<std::unique_ptr<Writer>> Writer::Create(const std::filesystem::path& path,
                                               const Header& header) {
  std::unique_ptr<Writer> w(new Writer());
  w->path_ = path;
  w->partial_ = path.string() + ".partial";
  w->out_.open(w->partial_, std::ios::binary | std::ios::trunc);
  if (!w->out_) {
    return Status::IOError("cannot create " + w->partial_.string() + ": " + std::strerror(errno));
  }
  w->hasher_ = std::make_unique<Hasher>();
  const std::string magic(kMagic, kMagicSize);
  w->out_.write(magic.data(), static_cast<std::streamsize>(magic.size()));
  w->hasher_->Add(magic);
  BATON_TRY(w->Record('H', HeaderJson(header)));
  return w;
}

Writer::~Writer() {
  if (finished_) return;
  out_.close();
  std::error_code ec;
  std::filesystem::remove(partial_, ec);
}

Status Writer::Record(char kind, const std::string& body) {
  if (body.size() > kMaxRecordBytes) {
    return Status::InvalidArgument("a bundle record of " + std::to_string(body.size()) +
                                   " bytes is over the format's limit of " +
                                   std::to_string(kMaxRecordBytes));
  }
  std::string frame(1, kind);
  PutBigEndian(&frame, body.size(), 4);
  out_.write(frame.data(), static_cast<std::streamsize>(frame.size()));
  out_.write(body.data(), static_cast<std::streamsize>(body.size()));
  hasher_->Add(frame);
  hasher_->Add(body);
  if (!out_) return Status::IOError("writing " + partial_.string() + " failed");
  return Status::Ok();
}

Status Writer::AddEvent(const Event& event, const crdt::EventId& id, const crdt::Hash& hash) {
  std::string body;
  body.reserve(16 + event.envelope.size());
  PutBigEndian(&body, event.arrival, 8);
  PutBigEndian(&body, static_cast<uint64_t>(event.arrived_ms), 8);
  body += event.envelope;
  BATON_TRY(Record('E', body));
  ++manifest_.events;
  Head& head = manifest_.heads[id.origin];
  if (id.seq >= head.seq) head = Head{id.seq, hash};
  return Status::Ok();
}

Status Writer::AddFork(const std::string& envelope) {
  BATON_TRY(Record('F', envelope));
  ++manifest_.forks;
  return Status::Ok();
}

Status Writer::Finish(uint64_t last_arrival, const std::string& state_digest,
                      std::vector<RosterSite> roster) {
  manifest_.last_arrival = last_arrival;
  manifest_.roster = std::move(roster);
  manifest_.state_digest = state_digest;
  manifest_.checksum = hasher_->Finish();
  const std::string body = ManifestJson(manifest_);
  std::string frame(1, 'M');
  PutBigEndian(&frame, body.size(), 4);
  out_.write(frame.data(), static_cast<std::streamsize>(frame.size()));
  out_.write(body.data(), static_cast<std::streamsize>(body.size()));
  out_.flush();
  if (!out_) return Status::IOError("writing " + partial_.string() + " failed");
  out_.close();
  // Durable before it is named: a bundle that exists is whole.
  if (FILE* f = std::fopen(partial_.c_str(), "rb")) {
    const int synced = ::fsync(::fileno(f));
    std::fclose(f);
    if (synced != 0) return Status::IOError("syncing " + partial_.string() + " failed");
  }
  std::error_code ec;
  std::filesystem::rename(partial_, path_, ec);
  if (ec) {
    return Status::IOError("cannot rename " + partial_.string() + " to " + path_.string() + ": " +
                           ec.message());
  }
  finished_ = true;
  return Status::Ok();
}

Result<std::string> DecodeHex(std::string_view hex) { return identity::FromHex(hex); }

bool LooksLikeBundle(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[kMagicSize] = {};
  in.read(magic, kMagicSize);
  return in.gcount() == static_cast<std::streamsize>(kMagicSize) &&
         std::memcmp(magic, kMagic, kMagicSize) == 0;
}

Result<Contents> Read(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound(path.string() + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot open " + path.string() + ": " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IOError("reading " + path.string() + " failed");
  if (bytes.size() < kMagicSize || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    return Bad(path, "not a baton bundle (it does not start with \"BATONBDL\")");
  }
  Contents c;
  size_t at = kMagicSize;
  size_t manifest_at = bytes.size();
  bool header_read = false;
  while (at < bytes.size()) {
    const std::string where = "byte " + std::to_string(at);
    if (bytes.size() - at < 5) {
      c.problems.push_back("the file ends inside a record frame at " + where +
                           " (cut short or damaged)");
      break;
    }
    const char kind = bytes[at];
    const uint64_t length = GetBigEndian(bytes.data() + at + 1, 4);
    if (length > kMaxRecordBytes || length > bytes.size() - at - 5) {
      c.problems.push_back("the record at " + where + " claims " + std::to_string(length) +
                           " bytes, more than the file holds after it (cut short or damaged)");
      break;
    }
    const std::string body = bytes.substr(at + 5, length);
    if (!header_read) {
      if (kind != 'H') return Bad(path, "the first record is not the header");
      auto header = ParseHeader(body, path.string());
      if (!header.ok()) return header.status();
      c.header = std::move(header).value();
      header_read = true;
    } else if (c.has_manifest) {
      c.problems.push_back("a record follows the manifest at " + where +
                           " (something was appended to the bundle)");
      break;
    } else if (kind == 'E') {
      if (body.size() < 16) {
        c.problems.push_back("the event record at " + where + " is too short to hold one");
      } else {
        c.events.push_back(Event{GetBigEndian(body.data(), 8),
                                 static_cast<int64_t>(GetBigEndian(body.data() + 8, 8)),
                                 body.substr(16)});
      }
    } else if (kind == 'F') {
      c.forks.push_back(body);
    } else if (kind == 'M') {
      c.has_manifest = true;
      manifest_at = at;
      std::string problem;
      if (!ParseManifest(body, c.header.version, &c.manifest, &problem)) {
        c.problems.push_back(problem);
      }
    } else if (kind == 'H') {
      c.problems.push_back("a second header at " + where);
    } else {
      c.problems.push_back("a record of unknown kind 0x" + identity::ToHex(std::string(1, kind)) +
                           " at " + where);
    }
    at += 5 + length;
  }
  if (!header_read) return Bad(path, "the file holds no header (cut short after the magic)");
  identity::StateDigestStream digest;
  digest.write(bytes.data(), static_cast<std::streamsize>(manifest_at));
  c.computed_checksum = digest.Finish();
  if (!c.has_manifest) {
    c.problems.push_back("the bundle has no manifest: it was cut short after " +
                         std::to_string(c.events.size()) + " events");
  } else if (!c.manifest.checksum.empty() && c.manifest.checksum != c.computed_checksum) {
    c.problems.push_back(
        "the checksum in the manifest is not the checksum of the bytes before it: "
        "the bundle was altered or damaged after it was written");
  }
  return c;
}

}  // namespace baton::bundle
