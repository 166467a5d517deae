// JSON text <-> protocol structs. nlohmann::json exceptions stop in this file: every entry point
// is exception-free and reports problems as Status values naming the field or path.
#include "client/protocol.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <map>
#include <type_traits>
#include <utility>
#include <variant>

namespace baton::client {
namespace {

using json = nlohmann::json;

// ---- Paths and errors -----------------------------------------------------------------------

// Top-level request arguments read `field "kind"`; nested values read as a path.
std::string Where(const std::string& path) {
  if (path.find_first_of(".[") == std::string::npos) return "field \"" + path + "\"";
  return path;
}

Status Bad(const std::string& path, const std::string& what) {
  return Status::InvalidArgument(Where(path) + ": " + what);
}

std::string Child(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// A short rendering of a bad value for messages: strings quoted, long values cut.
std::string Show(const json& value) {
  return Excerpt(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

// ---- Typed reads of one JSON object ---------------------------------------------------------

// Reads members of the object at `path`. Absent and null members are "not given".
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path) : object_(object), path_(std::move(path)) {}

  const json& object() const { return object_; }
  const std::string& path() const { return path_; }
  std::string PathOf(std::string_view key) const { return Child(path_, key); }

  // Null if absent or null.
  const json* Get(std::string_view key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  bool Has(std::string_view key) const { return Get(key) != nullptr; }

  Status OnlyKeys(std::initializer_list<std::string_view> keys) const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) {
        std::string known;
        for (std::string_view k : keys) {
          if (!known.empty()) known += ", ";
          known += k;
        }
        return Bad(PathOf(it.key()), "is not a known member (expected " + known + ")");
      }
    }
    return Status::Ok();
  }

  // Strings are at most `max` bytes: the id limit unless the field is a title or a note.
  Result<std::string> String(std::string_view key, size_t max = kMaxIdBytes) const {
    const json* v = Get(key);
    if (v == nullptr) return Bad(PathOf(key), "is missing");
    return AsString(*v, PathOf(key), max);
  }
  Result<std::string> NonEmptyString(std::string_view key, size_t max = kMaxIdBytes) const {
    BATON_ASSIGN_OR_RETURN(std::string s, String(key, max));
    if (s.empty()) return Bad(PathOf(key), "must not be empty");
    return s;
  }
  // "" when not given.
  Result<std::string> OptString(std::string_view key, size_t max = kMaxIdBytes) const {
    const json* v = Get(key);
    if (v == nullptr) return std::string();
    return AsString(*v, PathOf(key), max);
  }
  Result<std::optional<std::string>> MaybeString(std::string_view key,
                                                 size_t max = kMaxIdBytes) const {
    const json* v = Get(key);
    if (v == nullptr) return std::optional<std::string>();
    BATON_ASSIGN_OR_RETURN(std::string s, AsString(*v, PathOf(key), max));
    return std::optional<std::string>(std::move(s));
  }
  // An integer in [min, max]; `fallback` when not given.
  Result<int64_t> Int(std::string_view key, int64_t fallback, int64_t min, int64_t max) const {
    const json* v = Get(key);
    if (v == nullptr) return fallback;
    return AsInt(*v, PathOf(key), min, max);
  }
  // A time: integer epoch ms or an ISO 8601 string; `fallback` when not given.
  Result<int64_t> Time(std::string_view key, int64_t fallback) const {
    const json* v = Get(key);
    if (v == nullptr) return fallback;
    return AsTime(*v, PathOf(key));
  }
  Result<bool> Bool(std::string_view key, bool fallback) const {
    const json* v = Get(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) return Bad(PathOf(key), "expected true or false, got " + Show(*v));
    return v->get<bool>();
  }

  static Result<std::string> AsString(const json& v, const std::string& path,
                                      size_t max = kMaxIdBytes) {
    if (!v.is_string()) return Bad(path, "expected a string, got " + Show(v));
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() > max) {
      return Bad(path, "is " + std::to_string(s.size()) + " bytes, over the limit of " +
                           std::to_string(max));
    }
    return s;
  }
  static Result<int64_t> AsInt(const json& v, const std::string& path, int64_t min, int64_t max) {
    int64_t value = 0;
    if (v.is_number_unsigned()) {
      const auto u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(max)) return OutOfRange(v, path, min, max);
      value = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
      value = v.get<int64_t>();
    } else {
      return Bad(path, "expected an integer, got " + Show(v));
    }
    if (value < min || value > max) return OutOfRange(v, path, min, max);
    return value;
  }
  static Result<int64_t> AsDuration(const json& v, const std::string& path) {
    return AsInt(v, path, 0, kMaxDurationMs);
  }
  // Integer epoch ms or an ISO 8601 string, between kMinTimeMs and kMaxTimeMs.
  static Result<int64_t> AsTime(const json& v, const std::string& path) {
    int64_t ms = 0;
    if (v.is_string()) {
      auto t = ParseIsoTime(v.get_ref<const std::string&>());
      if (!t.ok()) return Bad(path, t.status().message());
      ms = *t;
    } else if (v.is_number_integer()) {
      BATON_ASSIGN_OR_RETURN(ms, AsInt(v, path, std::numeric_limits<int64_t>::min() + 1,
                                       std::numeric_limits<int64_t>::max()));
    } else {
      return Bad(path, "expected an ISO 8601 time or epoch milliseconds, got " + Show(v));
    }
    if (ms < kMinTimeMs || ms >= kMaxTimeMs) {
      return Bad(path, "time " + Show(v) +
                           " is outside the years 2000 to 2099 (epoch ms 946684800000 to "
                           "4102444799999)");
    }
    return ms;
  }

 private:
  static Status OutOfRange(const json& v, const std::string& path, int64_t min, int64_t max) {
    return Bad(path, Show(v) + " is out of range (" + std::to_string(min) + " to " +
                         std::to_string(max) + ")");
  }

 public:
 private:
  const json& object_;
  std::string path_;
};

Status ExpectObject(const json& v, const std::string& path) {
  if (!v.is_object()) return Bad(path, "expected an object, got " + Show(v));
  return Status::Ok();
}

// ---- Enum words -----------------------------------------------------------------------------

template <typename E>
struct Word {
  const char* name;
  E value;
};

template <typename E, size_t N>
Result<E> FromWord(const json& v, const std::string& path, const Word<E> (&words)[N]) {
  std::string all;
  for (const auto& w : words) {
    if (!all.empty()) all += ", ";
    all += w.name;
  }
  if (!v.is_string()) return Bad(path, "expected one of " + all + ", got " + Show(v));
  const std::string s = v.get<std::string>();
  for (const auto& w : words) {
    if (s == w.name) return w.value;
  }
  return Bad(path, Show(v) + " is not one of " + all);
}

template <typename E, size_t N>
const char* ToWord(E value, const Word<E> (&words)[N]) {
  for (const auto& w : words) {
    if (w.value == value) return w.name;
  }
  return "unknown";
}

constexpr Word<crdt::ReportKind> kReportKinds[] = {
    {"start", crdt::ReportKind::kStarted}, {"done", crdt::ReportKind::kDone},
    {"fail", crdt::ReportKind::kFailed},   {"skip", crdt::ReportKind::kSkipped},
    {"reset", crdt::ReportKind::kReset},
};
constexpr Word<crdt::TaskKind> kTaskKinds[] = {
    {"task", crdt::TaskKind::kTask},
    {"milestone", crdt::TaskKind::kMilestone},
    {"gate", crdt::TaskKind::kGate},
};
constexpr Word<crdt::SiteRole> kSiteRoles[] = {
    {"manager", crdt::SiteRole::kManager},
    {"site", crdt::SiteRole::kSite},
    {"observer", crdt::SiteRole::kObserver},
};
constexpr Word<crdt::DependencyType> kDependencyTypes[] = {
    {"fs", crdt::DependencyType::kFinishToStart},
    {"ss", crdt::DependencyType::kStartToStart},
    {"ff", crdt::DependencyType::kFinishToFinish},
    {"sf", crdt::DependencyType::kStartToFinish},
};
constexpr Word<bool> kDecisions[] = {{"go", true}, {"no-go", false}};
constexpr Word<int> kTaskStatuses[] = {
    {"pending", 0}, {"ready", 1},   {"running", 2}, {"done", 3},
    {"failed", 4},  {"skipped", 5}, {"blocked", 6},
};

constexpr Word<StatusCode> kErrorCodes[] = {
    {"ok", StatusCode::kOk},
    {"invalid_argument", StatusCode::kInvalidArgument},
    {"not_found", StatusCode::kNotFound},
    {"rejected", StatusCode::kRejected},
    {"unavailable", StatusCode::kUnavailable},
    {"corruption", StatusCode::kCorruption},
    {"io_error", StatusCode::kIOError},
};

// ---- Ops and their argument names -----------------------------------------------------------

// The shape of a top-level argument. ParseRequest checks every given argument against its
// shape, so no op reads an argument of the wrong type or size; the typed parsers below then
// check meaning (enum words, ids, nested plans).
enum class Shape {
  kId,      // A string of at most kMaxIdBytes (task and site ids, names, enum words).
  kTitle,   // A string of at most kMaxTitleBytes.
  kNote,    // A string of at most kMaxNoteBytes.
  kBool,    // true or false.
  kTime,    // Epoch ms or ISO 8601, in [kMinTimeMs, kMaxTimeMs).
  kCursor,  // A non-negative integer.
  kObject,  // Checked in depth by its op's parser.
  kArray,   // Likewise.
};

struct ArgSpec {
  std::string_view name;
  Shape shape;
};

struct OpSpec {
  const char* op;
  std::vector<ArgSpec> args;
};

const std::vector<OpSpec>& OpSpecs() {
  using S = Shape;
  static const std::vector<OpSpec> specs = {
      {"ping", {}},
      {"plan.import", {{"plan", S::kObject}}},
      {"plan.amend",
       {{"name", S::kTitle},
        {"window_start_ms", S::kTime},
        {"window_end_ms", S::kTime},
        {"task_add", S::kArray},
        {"task_change", S::kArray},
        {"task_remove", S::kArray}}},
      {"site.add",
       {{"site", S::kId},
        {"name", S::kTitle},
        {"key", S::kId},
        {"role", S::kId},
        {"endpoint", S::kTitle},
        {"teams", S::kArray}}},
      {"site.edit",
       {{"site", S::kId},
        {"name", S::kTitle},
        {"role", S::kId},
        {"endpoint", S::kTitle},
        {"teams", S::kArray}}},
      {"site.remove", {{"site", S::kId}}},
      {"site.list", {}},
      {"report",
       {{"task", S::kId},
        {"kind", S::kId},
        {"note", S::kNote},
        {"at", S::kTime},
        {"actor", S::kId},
        {"force", S::kBool},
        {"reason", S::kNote}}},
      {"note", {{"task", S::kId}, {"text", S::kNote}, {"actor", S::kId}}},
      {"gate",
       {{"task", S::kId},
        {"decision", S::kId},
        {"note", S::kNote},
        {"at", S::kTime},
        {"actor", S::kId},
        {"force", S::kBool},
        {"reason", S::kNote}}},
      {"undo", {{"event", S::kId}, {"reason", S::kNote}, {"actor", S::kId}}},
      {"status", {{"digest", S::kBool}}},
      {"task", {{"task", S::kId}}},
      {"list",
       {{"team", S::kId},
        {"site", S::kId},
        {"phase", S::kTitle},
        {"status", S::kId},
        {"late", S::kBool}}},
      {"ready", {}},
      {"mine", {{"team", S::kId}, {"site", S::kId}}},
      {"late", {}},
      {"blocked", {}},
      {"critical", {}},
      {"forecast", {}},
      {"watch", {{"cursor", S::kCursor}, {"epoch", S::kId}}},
      {"unwatch", {}},
      {"export", {{"format", S::kId}, {"after", S::kCursor}}},
      {"sites", {}},
  };
  return specs;
}

// kInvalidArgument unless `value` (not null) has the argument's shape.
Status CheckShape(const ArgSpec& arg, const json& value) {
  const std::string path(arg.name);
  switch (arg.shape) {
    case Shape::kId:
      return ObjectReader::AsString(value, path, kMaxIdBytes).status();
    case Shape::kTitle:
      return ObjectReader::AsString(value, path, kMaxTitleBytes).status();
    case Shape::kNote:
      return ObjectReader::AsString(value, path, kMaxNoteBytes).status();
    case Shape::kBool:
      if (value.is_boolean()) return Status::Ok();
      return Bad(path, "expected true or false, got " + Show(value));
    case Shape::kTime:
      return ObjectReader::AsTime(value, path).status();
    case Shape::kCursor:
      if (value.is_number_unsigned()) return Status::Ok();
      return Bad(path, "expected a non-negative integer, got " + Show(value));
    case Shape::kObject:
      return ExpectObject(value, path);
    case Shape::kArray:
      if (value.is_array()) return Status::Ok();
      return Bad(path, "expected an array, got " + Show(value));
  }
  return Bad(path, "has no declared shape");
}

// kInvalidArgument if arrays and objects in `text` nest deeper than kMaxJsonDepth. A scan of
// the bytes, before any parse: a deep value never reaches the parser or a recursive dump.
Status CheckNesting(std::string_view text, StatusCode code) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return Status(code, "JSON nests arrays and objects deeper than " +
                                std::to_string(kMaxJsonDepth) + " levels (at byte " +
                                std::to_string(i) + ")");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return Status::Ok();
}

const OpSpec* FindOp(std::string_view op) {
  for (const auto& spec : OpSpecs()) {
    if (op == spec.op) return &spec;
  }
  return nullptr;
}

// Parses text as JSON without throwing; the error (as `code`) names the byte offset.
Result<json> ParseJsonText(std::string_view text, StatusCode code) {
  BATON_TRY(CheckNesting(text, code));
  json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    // Re-parse with exceptions only to get the position for the message. A number too large
    // for a double is an out_of_range error, not a parse_error: catch every json exception.
    try {
      parsed = json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
      return Status(code, std::string("not valid JSON: ") + e.what());
    }
    return Status(code, "not valid JSON");
  }
  return parsed;
}

void CheckOp(const Request& request, std::initializer_list<std::string_view> ops) {
  BATON_CHECK(std::find(ops.begin(), ops.end(), request.op) != ops.end());
}

// ---- Hex ------------------------------------------------------------------------------------

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

Result<std::string> FromHex(const std::string& hex, const std::string& path) {
  if (hex.size() % 2 != 0) return Bad(path, "hex string has an odd length");
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned value = 0;
    const auto [ptr, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
    if (ec != std::errc() || ptr != hex.data() + i + 2) {
      return Bad(path, "\"" + hex.substr(i, 2) + "\" is not hex");
    }
    out += static_cast<char>(value);
  }
  return out;
}

// ---- JSON of crdt types ---------------------------------------------------------------------

void PutTime(json& j, const char* key, int64_t ms) {
  if (ms != crdt::kNoTime) j[key] = ms;
}

json IdsToJson(const std::vector<crdt::EventId>& ids) {
  json out = json::array();
  for (const auto& id : ids) out.push_back(id.ToString());
  return out;
}

// kInvalidArgument unless `v` is an array of at most `max` entries.
Status ExpectArray(const json& v, const std::string& path, size_t max) {
  if (!v.is_array()) return Bad(path, "expected an array, got " + Show(v));
  if (v.size() > max) {
    return Bad(path, "has " + std::to_string(v.size()) + " entries, over the limit of " +
                         std::to_string(max));
  }
  return Status::Ok();
}

// A list of non-empty names (teams, deciders), at most `max`.
Result<std::vector<std::string>> NamesFromJson(const json& v, const std::string& path, size_t max) {
  BATON_TRY(ExpectArray(v, path, max));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    BATON_ASSIGN_OR_RETURN(std::string name, ObjectReader::AsString(v[i], Index(path, i)));
    if (name.empty()) return Bad(Index(path, i), "is empty");
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      return Bad(Index(path, i), Show(json(name)) + " is listed twice");
    }
    out.push_back(std::move(name));
  }
  return out;
}

Result<std::vector<crdt::Dependency>> DependenciesFromJson(const json& v, const std::string& path) {
  BATON_TRY(ExpectArray(v, path, kMaxPredecessors));
  std::vector<crdt::Dependency> out;
  for (size_t i = 0; i < v.size(); ++i) {
    BATON_ASSIGN_OR_RETURN(auto dep, DependencyFromJson(v[i], Index(path, i)));
    out.push_back(std::move(dep));
  }
  return out;
}

// The patch members of a task_change entry (all but "task").
Result<crdt::TaskPatch> TaskPatchFromJson(const ObjectReader& r) {
  crdt::TaskPatch patch;
  BATON_ASSIGN_OR_RETURN(patch.title, r.MaybeString("title", kMaxTitleBytes));
  BATON_ASSIGN_OR_RETURN(patch.phase, r.MaybeString("phase"));
  BATON_ASSIGN_OR_RETURN(patch.team, r.MaybeString("team"));
  BATON_ASSIGN_OR_RETURN(patch.site, r.MaybeString("site"));
  BATON_ASSIGN_OR_RETURN(patch.backout_task, r.MaybeString("backout_task"));
  // Time fields: absent leaves them, null clears them (kNoTime).
  for (auto [key, field] : {std::pair{"planned_start_ms", &patch.planned_start_ms},
                            std::pair{"not_before_ms", &patch.not_before_ms}}) {
    const auto it = r.object().find(key);
    if (it == r.object().end()) continue;
    if (it->is_null()) {
      *field = crdt::kNoTime;
      continue;
    }
    BATON_ASSIGN_OR_RETURN(*field, ObjectReader::AsTime(*it, r.PathOf(key)));
  }
  if (const json* d = r.Get("duration_ms")) {
    BATON_ASSIGN_OR_RETURN(patch.duration_ms,
                           ObjectReader::AsDuration(*d, r.PathOf("duration_ms")));
  }
  if (const json* p = r.Get("predecessors")) {
    BATON_ASSIGN_OR_RETURN(patch.predecessors, DependenciesFromJson(*p, r.PathOf("predecessors")));
  }
  if (const json* d = r.Get("deciders")) {  // [] clears them: the gate's site and team decide.
    BATON_ASSIGN_OR_RETURN(patch.deciders, NamesFromJson(*d, r.PathOf("deciders"), kMaxPlanSites));
  }
  return patch;
}

}  // namespace

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---- Public: misc ---------------------------------------------------------------------------

const std::vector<std::string>& KnownOps() {
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> out;
    for (const auto& spec : OpSpecs()) out.emplace_back(spec.op);
    return out;
  }();
  return ops;
}

const char* ErrorCodeName(StatusCode code) { return ToWord(code, kErrorCodes); }

Result<StatusCode> ErrorCodeFromName(std::string_view name) {
  for (const auto& w : kErrorCodes) {
    if (name == w.name) return w.value;
  }
  return Status::Corruption("unknown error code \"" + std::string(name) + "\"");
}

const char* ReportKindName(crdt::ReportKind kind) { return ToWord(kind, kReportKinds); }

// ---- Public: times --------------------------------------------------------------------------

Result<int64_t> ParseIsoTime(std::string_view text) {
  const std::string shown = "\"" + Excerpt(text) + "\"";
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(shown + " is not an ISO 8601 time (" + why + ")");
  };
  size_t pos = 0;
  // Reads exactly `n` digits.
  const auto digits = [&](size_t n, int& out) {
    if (pos + n > text.size()) return false;
    int value = 0;
    for (size_t i = 0; i < n; ++i) {
      const char c = text[pos + i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    out = value;
    pos += n;
    return true;
  };
  const auto expect = [&](char c) {
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(4, year) || !expect('-') || !digits(2, month) || !expect('-') || !digits(2, day)) {
    return bad("expected YYYY-MM-DDThh:mm[:ss[.fff]] and Z or an offset like +02:00");
  }
  if (!(expect('T') || expect('t') || expect(' '))) return bad("expected T after the date");
  if (!digits(2, hour) || !expect(':') || !digits(2, minute)) return bad("expected hh:mm");
  int64_t millis = 0;
  if (expect(':')) {
    if (!digits(2, second)) return bad("expected seconds after hh:mm:");
    if (expect('.') || expect(',')) {
      int scale = 100;
      size_t n = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        millis += (text[pos] - '0') * scale;
        scale /= 10;
        ++pos;
        ++n;
      }
      if (n == 0) return bad("expected digits after the decimal point");
    }
  }
  int64_t offset_minutes = 0;
  if (expect('Z') || expect('z')) {
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!digits(2, oh)) return bad("expected an offset like +02:00");
    if (expect(':')) {
      if (!digits(2, om)) return bad("expected an offset like +02:00");
    } else if (pos < text.size()) {
      if (!digits(2, om)) return bad("expected an offset like +02:00");
    }
    if (oh > 23 || om > 59) return bad("offset out of range");
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return bad("no UTC offset: add Z or an offset like +02:00");
  }
  if (pos != text.size()) return bad("unexpected text after the time");
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year(year),
                           std::chrono::month(static_cast<unsigned>(month)),
                           std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return bad("no such date");
  if (hour > 23 || minute > 59 || second > 60) return bad("no such time of day");
  const int64_t days = sys_days(ymd).time_since_epoch().count();
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

std::string FormatIsoTime(int64_t epoch_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds(epoch_ms)};
  const auto day_point = floor<days>(t);
  const year_month_day ymd{day_point};
  const hh_mm_ss<milliseconds> hms{t - day_point};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

// ---- Public: envelopes ----------------------------------------------------------------------

Status CheckRequestSize(size_t bytes, std::string_view what) {
  if (bytes <= kMaxRequestBytes) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + " is " + std::to_string(bytes) +
                                 " bytes, over the limit of " + std::to_string(kMaxRequestBytes) +
                                 " bytes (" + std::to_string(kMaxRequestBytes >> 20) + " MiB)");
}

Result<Request> ParseRequest(std::string_view text) {
  BATON_TRY(CheckRequestSize(text.size(), "request"));
  BATON_ASSIGN_OR_RETURN(json parsed, ParseJsonText(text, StatusCode::kInvalidArgument));
  if (!parsed.is_object()) {
    return Status::InvalidArgument("request: expected a JSON object, got " + Show(parsed));
  }
  ObjectReader r(parsed, "");
  const json* v = r.Get("v");
  if (v == nullptr) return Bad("v", "is missing (expected 1)");
  if (!v->is_number_integer() || v->get<int64_t>() != kProtocolVersion) {
    return Bad("v", "protocol version " + Show(*v) + " is not supported (expected 1)");
  }
  Request request;
  BATON_ASSIGN_OR_RETURN(request.id, r.NonEmptyString("id", kMaxRequestIdBytes));
  BATON_ASSIGN_OR_RETURN(request.op, r.NonEmptyString("op"));
  const OpSpec* spec = FindOp(request.op);
  if (spec == nullptr) {
    std::string all;
    for (const auto& s : OpSpecs()) {
      if (!all.empty()) all += ", ";
      all += s.op;
    }
    return Bad("op", Show(parsed["op"]) + " is not one of " + all);
  }
  for (auto it = parsed.begin(); it != parsed.end(); ++it) {
    const std::string& key = it.key();
    if (key == "v" || key == "id" || key == "op") continue;
    const auto arg = std::find_if(spec->args.begin(), spec->args.end(),
                                  [&](const ArgSpec& a) { return a.name == key; });
    if (arg == spec->args.end()) {
      std::string known;
      for (const ArgSpec& a : spec->args) {
        if (!known.empty()) known += ", ";
        known += a.name;
      }
      return Bad(Excerpt(key),
                 "is not an argument of " + request.op +
                     (known.empty() ? " (it takes none)" : " (expected " + known + ")"));
    }
    if (!it.value().is_null()) BATON_TRY(CheckShape(*arg, it.value()));
    request.args[key] = std::move(it.value());
  }
  return request;
}

std::string PeekRequestId(std::string_view text) {
  if (text.size() > kMaxRequestBytes || !CheckNesting(text, StatusCode::kInvalidArgument).ok()) {
    return "";
  }
  json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return "";
  auto it = parsed.find("id");
  if (it == parsed.end() || !it->is_string() || it->get_ref<const std::string&>().empty() ||
      it->get_ref<const std::string&>().size() > kMaxRequestIdBytes) {
    return "";
  }
  return it->get<std::string>();
}

std::string MakeRequest(const std::string& id, const std::string& op, const json& args) {
  json out = json::object();
  out["v"] = kProtocolVersion;
  out["id"] = id;
  out["op"] = op;
  if (args.is_object()) {
    for (auto it = args.begin(); it != args.end(); ++it) {
      if (it.key() != "v" && it.key() != "id" && it.key() != "op") out[it.key()] = it.value();
    }
  }
  return Dump(out);
}

std::string MakeOk(const std::string& id, const json& result) {
  json out = json::object();
  out["v"] = kProtocolVersion;
  out["id"] = id;
  out["ok"] = true;
  out["result"] = result.is_null() ? json::object() : result;
  return Dump(out);
}

std::string MakeError(const std::string& id, const Status& status) {
  BATON_CHECK(!status.ok());
  json out = json::object();
  out["v"] = kProtocolVersion;
  out["id"] = id.empty() ? json(nullptr) : json(id);
  out["ok"] = false;
  out["error"] = {{"code", ErrorCodeName(status.code())}, {"message", status.message()}};
  return Dump(out);
}

std::string MakeEventPush(const std::string& watch_id, uint64_t cursor, const json& event) {
  json out = json::object();
  out["v"] = kProtocolVersion;
  out["id"] = watch_id;
  out["stream"] = "event";
  out["cursor"] = cursor;
  out["event"] = event;
  return Dump(out);
}

std::string MakeEventPushText(const std::string& watch_id, uint64_t cursor,
                              std::string_view event_json) {
  // Keys in the order Dump writes them (sorted), so both forms are byte for byte alike.
  std::string out = R"({"cursor":)" + std::to_string(cursor) + R"(,"event":)";
  out.append(event_json);
  out += R"(,"id":)" + Dump(json(watch_id)) + R"(,"stream":"event","v":)" +
         std::to_string(kProtocolVersion) + "}";
  return out;
}

std::string MakeHeartbeat(const std::string& watch_id, uint64_t cursor) {
  json out = json::object();
  out["v"] = kProtocolVersion;
  out["id"] = watch_id;
  out["stream"] = "heartbeat";
  out["cursor"] = cursor;
  return Dump(out);
}

Result<ServerMessage> ParseServerMessage(std::string_view text) {
  BATON_ASSIGN_OR_RETURN(json parsed, ParseJsonText(text, StatusCode::kCorruption));
  const auto bad = [](const std::string& why) {
    return Status::Corruption("malformed message from batond: " + why);
  };
  if (!parsed.is_object()) return bad("not a JSON object");
  if (parsed.value("v", 0) != kProtocolVersion) return bad("\"v\" is not 1");
  ServerMessage msg;
  const auto id = parsed.find("id");
  if (id != parsed.end() && id->is_string()) msg.id = id->get<std::string>();
  if (const auto stream = parsed.find("stream"); stream != parsed.end()) {
    if (!stream->is_string() || stream->get<std::string>().empty()) return bad("bad \"stream\"");
    msg.stream = stream->get<std::string>();
    const auto cursor = parsed.find("cursor");
    // Non-negative integers parse as unsigned.
    if (cursor == parsed.end() || !cursor->is_number_unsigned()) {
      return bad("push without an unsigned \"cursor\"");
    }
    msg.cursor = cursor->get<uint64_t>();
    if (const auto event = parsed.find("event"); event != parsed.end()) msg.event = *event;
    return msg;
  }
  const auto ok = parsed.find("ok");
  if (ok == parsed.end() || !ok->is_boolean()) return bad("reply without a boolean \"ok\"");
  if (ok->get<bool>()) {
    const auto result = parsed.find("result");
    msg.result = result == parsed.end() ? json::object() : *result;
    return msg;
  }
  const auto error = parsed.find("error");
  if (error == parsed.end() || !error->is_object()) return bad("error reply without \"error\"");
  const std::string code = error->value("code", "");
  const std::string message = error->value("message", "");
  BATON_ASSIGN_OR_RETURN(StatusCode status_code, ErrorCodeFromName(code));
  if (status_code == StatusCode::kOk) return bad("error reply with code \"ok\"");
  msg.status = Status(status_code, message);
  return msg;
}

// ---- Public: typed arguments ----------------------------------------------------------------

namespace {

// `force` and its `reason`, of a report or a gate decision.
Status ReadForce(const ObjectReader& r, bool* force, std::string* reason) {
  BATON_ASSIGN_OR_RETURN(*force, r.Bool("force", false));
  BATON_ASSIGN_OR_RETURN(*reason, r.OptString("reason", kMaxNoteBytes));
  if (*force && reason->empty()) {
    return Bad("reason", "is required with force: say why it goes against the plan");
  }
  if (!*force && !reason->empty()) return Bad("reason", "is given only with force");
  return Status::Ok();
}

}  // namespace

Result<ReportArgs> ParseReportArgs(const Request& request) {
  CheckOp(request, {"report"});
  ObjectReader r(request.args, "");
  ReportArgs out;
  BATON_ASSIGN_OR_RETURN(out.task_id, r.NonEmptyString("task"));
  const json* kind = r.Get("kind");
  if (kind == nullptr)
    return Bad("kind", "is missing (expected one of start, done, fail, skip, reset)");
  BATON_ASSIGN_OR_RETURN(out.kind, FromWord(*kind, "kind", kReportKinds));
  BATON_ASSIGN_OR_RETURN(out.note, r.OptString("note", kMaxNoteBytes));
  BATON_ASSIGN_OR_RETURN(out.effective_ms, r.Time("at", crdt::kNoTime));
  BATON_ASSIGN_OR_RETURN(out.actor, r.OptString("actor"));
  BATON_TRY(ReadForce(r, &out.force, &out.reason));
  return out;
}

Result<NoteArgs> ParseNoteArgs(const Request& request) {
  CheckOp(request, {"note"});
  ObjectReader r(request.args, "");
  NoteArgs out;
  BATON_ASSIGN_OR_RETURN(out.task_id, r.OptString("task"));
  BATON_ASSIGN_OR_RETURN(out.text, r.NonEmptyString("text", kMaxNoteBytes));
  BATON_ASSIGN_OR_RETURN(out.actor, r.OptString("actor"));
  return out;
}

Result<GateArgs> ParseGateArgs(const Request& request) {
  CheckOp(request, {"gate"});
  ObjectReader r(request.args, "");
  GateArgs out;
  BATON_ASSIGN_OR_RETURN(out.task_id, r.NonEmptyString("task"));
  const json* decision = r.Get("decision");
  if (decision == nullptr) return Bad("decision", "is missing (expected one of go, no-go)");
  BATON_ASSIGN_OR_RETURN(out.go, FromWord(*decision, "decision", kDecisions));
  BATON_ASSIGN_OR_RETURN(out.note, r.OptString("note", kMaxNoteBytes));
  BATON_ASSIGN_OR_RETURN(out.effective_ms, r.Time("at", crdt::kNoTime));
  BATON_ASSIGN_OR_RETURN(out.actor, r.OptString("actor"));
  BATON_TRY(ReadForce(r, &out.force, &out.reason));
  return out;
}

namespace {

// Insertions, deletions, substitutions and transpositions of neighbours.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// Lower case, leading zeros of every number dropped: "T-042" and "t-42" read alike.
std::string Folded(std::string_view word) {
  const auto digit = [&](size_t i) { return i < word.size() && word[i] >= '0' && word[i] <= '9'; };
  std::string out;
  bool leading = true;  // In a number, before its first digit other than 0.
  for (size_t i = 0; i < word.size(); ++i) {
    const char c = word[i];
    if (!digit(i)) {
      leading = true;
    } else if (c == '0' && leading && digit(i + 1)) {
      continue;  // A leading zero; a number that is all zeros keeps its last.
    } else {
      leading = false;
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::vector<std::string> Suggestions(std::string_view word,
                                     const std::vector<std::string>& candidates, size_t max) {
  const std::string folded = Folded(word);
  const size_t reach = word.size() >= 6 ? 2 : 1;
  std::vector<std::pair<size_t, std::string>> ranked;
  for (const std::string& c : candidates) {
    if (c == word) return {};  // Not a typo.
    const std::string fc = Folded(c);
    size_t rank = 0;
    if (fc == folded) {
      rank = 0;
    } else if (const size_t d = EditDistance(folded, fc); d <= reach) {
      rank = d;
    } else if (word.size() >= 3 && fc.rfind(folded, 0) == 0) {
      rank = reach + 1;
    } else {
      continue;
    }
    ranked.emplace_back(rank, c);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> out;
  for (const auto& [rank, c] : ranked) {
    // The same word but for case or zeros leaves no doubt: the near misses are not offered.
    if (out.size() == max || (rank > 0 && ranked.front().first == 0)) break;
    out.push_back(c);
  }
  return out;
}

std::string DidYouMean(const std::vector<std::string>& suggestions) {
  if (suggestions.empty()) return "";
  std::string out = " (did you mean ";
  for (size_t k = 0; k < suggestions.size(); ++k) out += (k == 0 ? "" : " or ") + suggestions[k];
  return out + "?)";
}

Result<crdt::EventId> ParseEventIdText(std::string_view text, std::string_view field) {
  const size_t slash = text.rfind('/');
  const std::string_view seq = slash == std::string_view::npos ? "" : text.substr(slash + 1);
  uint64_t n = 0;
  bool digits = !seq.empty() && seq.size() <= 19 && seq.front() != '0';
  for (char c : seq) {
    if (c < '0' || c > '9') {
      digits = false;
      break;
    }
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (slash == 0 || !digits) {
    return Status::InvalidArgument("field \"" + std::string(field) + "\": \"" + std::string(text) +
                                   "\" is not an event id (SITE/SEQ, e.g. hq/57, as `baton show "
                                   "TASK` lists them)");
  }
  return crdt::EventId{std::string(text.substr(0, slash)), n};
}

Result<UndoArgs> ParseUndoArgs(const Request& request) {
  CheckOp(request, {"undo"});
  ObjectReader r(request.args, "");
  UndoArgs out;
  BATON_ASSIGN_OR_RETURN(std::string event, r.NonEmptyString("event"));
  BATON_ASSIGN_OR_RETURN(out.event, ParseEventIdText(event, "event"));
  BATON_ASSIGN_OR_RETURN(out.reason, r.OptString("reason", kMaxNoteBytes));
  if (out.reason.empty()) return Bad("reason", "is required: say why the event is undone");
  BATON_ASSIGN_OR_RETURN(out.actor, r.OptString("actor"));
  return out;
}

Result<PlanImportArgs> ParsePlanImportArgs(const Request& request) {
  CheckOp(request, {"plan.import"});
  ObjectReader r(request.args, "");
  const json* plan = r.Get("plan");
  if (plan == nullptr) return Bad("plan", "is missing");
  BATON_ASSIGN_OR_RETURN(crdt::Plan parsed, PlanFromJson(*plan, "plan"));
  return PlanImportArgs{std::move(parsed)};
}

Result<PlanAmendArgs> ParsePlanAmendArgs(const Request& request) {
  CheckOp(request, {"plan.amend"});
  ObjectReader r(request.args, "");
  PlanAmendArgs out;
  BATON_ASSIGN_OR_RETURN(out.name, r.MaybeString("name", kMaxTitleBytes));
  if (r.Has("window_start_ms")) {
    BATON_ASSIGN_OR_RETURN(out.window_start_ms, r.Time("window_start_ms", crdt::kNoTime));
  }
  if (r.Has("window_end_ms")) {
    BATON_ASSIGN_OR_RETURN(out.window_end_ms, r.Time("window_end_ms", crdt::kNoTime));
  }
  // Each entry appends one event: bound them together, and refuse an entry given twice.
  size_t entries = 0;
  for (const char* key : {"task_add", "task_change", "task_remove"}) {
    if (const json* list = r.Get(key); list != nullptr && list->is_array()) entries += list->size();
  }
  if (entries > kMaxAmendEntries) {
    return Status::InvalidArgument(
        "plan.amend: " + std::to_string(entries) +
        " entries in task_add, task_change and task_remove, over the limit of " +
        std::to_string(kMaxAmendEntries) + " per request (send several amendments)");
  }
  std::map<std::string, std::string> seen;  // Task id -> the entry that names it.
  const auto once = [&](const std::string& id, const std::string& path) -> Status {
    auto [it, inserted] = seen.emplace(id, path);
    if (inserted) return Status::Ok();
    return Bad(path, "task " + Show(json(id)) + " is also named by " + it->second +
                         " (one entry per task in an amendment)");
  };
  if (const json* add = r.Get("task_add")) {
    if (!add->is_array()) return Bad("task_add", "expected an array of tasks, got " + Show(*add));
    for (size_t i = 0; i < add->size(); ++i) {
      BATON_ASSIGN_OR_RETURN(auto spec, TaskSpecFromJson((*add)[i], Index("task_add", i)));
      BATON_TRY(once(spec.id, Index("task_add", i)));
      out.task_add.push_back(std::move(spec));
    }
  }
  if (const json* change = r.Get("task_change")) {
    if (!change->is_array()) {
      return Bad("task_change", "expected an array of changes, got " + Show(*change));
    }
    for (size_t i = 0; i < change->size(); ++i) {
      const std::string path = Index("task_change", i);
      const json& entry = (*change)[i];
      BATON_TRY(ExpectObject(entry, path));
      ObjectReader e(entry, path);
      BATON_TRY(
          e.OnlyKeys({"task", "title", "phase", "team", "site", "planned_start_ms", "not_before_ms",
                      "duration_ms", "predecessors", "backout_task", "deciders"}));
      TaskChange tc;
      BATON_ASSIGN_OR_RETURN(tc.task_id, e.NonEmptyString("task"));
      BATON_ASSIGN_OR_RETURN(tc.patch, TaskPatchFromJson(e));
      if (entry.size() < 2) return Bad(path, "changes nothing (give at least one field)");
      BATON_TRY(once(tc.task_id, path));
      out.task_change.push_back(std::move(tc));
    }
  }
  if (const json* remove = r.Get("task_remove")) {
    if (!remove->is_array()) {
      return Bad("task_remove", "expected an array of task ids, got " + Show(*remove));
    }
    for (size_t i = 0; i < remove->size(); ++i) {
      BATON_ASSIGN_OR_RETURN(auto id,
                             ObjectReader::AsString((*remove)[i], Index("task_remove", i)));
      if (id.empty()) return Bad(Index("task_remove", i), "task id must not be empty");
      BATON_TRY(once(id, Index("task_remove", i)));
      out.task_remove.push_back(std::move(id));
    }
  }
  if (!out.name && !out.window_start_ms && !out.window_end_ms && out.task_add.empty() &&
      out.task_change.empty() && out.task_remove.empty()) {
    return Status::InvalidArgument(
        "plan.amend changes nothing: give name, window_start_ms, window_end_ms, task_add, "
        "task_change or task_remove");
  }
  return out;
}

bool ValidSiteId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

namespace {

Result<crdt::SiteId> SiteIdOf(const ObjectReader& r) {
  BATON_ASSIGN_OR_RETURN(std::string id, r.String("site"));
  if (!ValidSiteId(id)) {
    return Bad("site", Show(json(id)) + " is not a site id (letters, digits, - _ . ; 1-64 chars)");
  }
  return id;
}

// The optional "endpoint" member: empty, or a peer endpoint tcp://HOST:PORT.
Result<std::string> PeerEndpointOf(const ObjectReader& r) {
  BATON_ASSIGN_OR_RETURN(std::string endpoint, r.OptString("endpoint", kMaxTitleBytes));
  if (endpoint.empty()) return endpoint;
  const size_t colon = endpoint.rfind(':');
  const bool tcp = endpoint.rfind("tcp://", 0) == 0 && colon > 6 && colon + 1 < endpoint.size() &&
                   std::all_of(endpoint.begin() + static_cast<long>(colon) + 1, endpoint.end(),
                               [](char c) { return c >= '0' && c <= '9'; });
  if (!tcp)
    return Bad("endpoint", Show(json(endpoint)) + " is not a peer endpoint tcp://HOST:PORT");
  return endpoint;
}

}  // namespace

Result<SiteAddArgs> ParseSiteAddArgs(const Request& request) {
  CheckOp(request, {"site.add"});
  ObjectReader r(request.args, "");
  SiteAddArgs out;
  crdt::SiteInfo& site = out.site;
  BATON_ASSIGN_OR_RETURN(site.id, SiteIdOf(r));
  BATON_ASSIGN_OR_RETURN(site.name, r.OptString("name", kMaxTitleBytes));
  BATON_ASSIGN_OR_RETURN(std::string key, r.String("key"));
  if (key.size() != 64) {
    return Bad("key",
               "expected the site's Ed25519 public key as 64 hex digits (`batond init` "
               "prints it), got " +
                   std::to_string(key.size()) + " characters");
  }
  BATON_ASSIGN_OR_RETURN(site.public_key, FromHex(key, "key"));
  site.role = crdt::SiteRole::kSite;
  if (const json* role = r.Get("role")) {
    BATON_ASSIGN_OR_RETURN(site.role, FromWord(*role, "role", kSiteRoles));
  }
  BATON_ASSIGN_OR_RETURN(site.endpoint, PeerEndpointOf(r));
  if (const json* teams = r.Get("teams")) {
    BATON_ASSIGN_OR_RETURN(site.teams, NamesFromJson(*teams, "teams", kMaxPlanTeams));
  }
  return out;
}

Result<SiteEditArgs> ParseSiteEditArgs(const Request& request) {
  CheckOp(request, {"site.edit"});
  ObjectReader r(request.args, "");
  SiteEditArgs out;
  BATON_ASSIGN_OR_RETURN(out.site, SiteIdOf(r));
  if (r.Get("name") != nullptr) {
    BATON_ASSIGN_OR_RETURN(out.name, r.OptString("name", kMaxTitleBytes));
  }
  if (const json* role = r.Get("role")) {
    BATON_ASSIGN_OR_RETURN(out.role, FromWord(*role, "role", kSiteRoles));
  }
  if (r.Get("endpoint") != nullptr) {
    BATON_ASSIGN_OR_RETURN(out.endpoint, PeerEndpointOf(r));
  }
  if (const json* teams = r.Get("teams")) {
    BATON_ASSIGN_OR_RETURN(out.teams, NamesFromJson(*teams, "teams", kMaxPlanTeams));
  }
  if (!out.name && !out.role && !out.endpoint && !out.teams) {
    return Status::InvalidArgument(
        "site.edit: nothing to change (give name, role, endpoint or teams)");
  }
  return out;
}

Result<SiteRemoveArgs> ParseSiteRemoveArgs(const Request& request) {
  CheckOp(request, {"site.remove"});
  ObjectReader r(request.args, "");
  SiteRemoveArgs out;
  BATON_ASSIGN_OR_RETURN(out.site, SiteIdOf(r));
  return out;
}

const char* SiteRoleName(crdt::SiteRole role) { return ToWord(role, kSiteRoles); }
const char* DependencyTypeName(crdt::DependencyType type) { return ToWord(type, kDependencyTypes); }

Result<TaskArgs> ParseTaskArgs(const Request& request) {
  CheckOp(request, {"task"});
  ObjectReader r(request.args, "");
  TaskArgs out;
  BATON_ASSIGN_OR_RETURN(out.task_id, r.NonEmptyString("task"));
  return out;
}

Result<ListArgs> ParseListArgs(const Request& request) {
  CheckOp(request, {"list", "mine"});
  ObjectReader r(request.args, "");
  ListArgs out;
  BATON_ASSIGN_OR_RETURN(out.team, r.MaybeString("team"));
  BATON_ASSIGN_OR_RETURN(out.site, r.MaybeString("site"));
  if (request.op == "list") {
    BATON_ASSIGN_OR_RETURN(out.phase, r.MaybeString("phase", kMaxTitleBytes));
  }
  if (const json* status = r.Get("status")) {
    BATON_ASSIGN_OR_RETURN(int ignored, FromWord(*status, "status", kTaskStatuses));
    static_cast<void>(ignored);
    out.status = status->get<std::string>();
  }
  BATON_ASSIGN_OR_RETURN(out.late_only, r.Bool("late", false));
  return out;
}

Result<WatchArgs> ParseWatchArgs(const Request& request) {
  CheckOp(request, {"watch"});
  WatchArgs out;
  if (const auto it = request.args.find("cursor"); it != request.args.end() && !it->is_null()) {
    if (!it->is_number_unsigned()) {
      return Bad("cursor", "expected a non-negative integer, got " + Show(*it));
    }
    out.cursor = it->get<uint64_t>();
  }
  if (const auto it = request.args.find("epoch"); it != request.args.end() && !it->is_null()) {
    if (!it->is_string()) return Bad("epoch", "expected a string, got " + Show(*it));
    const auto& epoch = it->get_ref<const std::string&>();
    const bool hex16 = epoch.size() == 16 && std::all_of(epoch.begin(), epoch.end(), [](char c) {
                         return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                       });
    if (!hex16) {
      return Bad("epoch", Show(*it) +
                              " is not an arrival epoch (16 hex digits, from an earlier watch "
                              "reply's \"epoch\")");
    }
    out.epoch = epoch;
  }
  return out;
}

Result<StatusArgs> ParseStatusArgs(const Request& request) {
  CheckOp(request, {"status"});
  ObjectReader r(request.args, "");
  StatusArgs out;
  BATON_ASSIGN_OR_RETURN(out.digest, r.Bool("digest", false));
  return out;
}

Result<ExportArgs> ParseExportArgs(const Request& request) {
  CheckOp(request, {"export"});
  ObjectReader r(request.args, "");
  ExportArgs out;
  if (const json* format = r.Get("format")) {
    if (!format->is_string() || format->get<std::string>() != "json") {
      return Bad("format", Show(*format) + " is not one of json");
    }
  }
  if (const json* after = r.Get("after")) {
    if (!after->is_number_unsigned()) {
      return Bad("after", "expected a non-negative integer, got " + Show(*after));
    }
    out.after = after->get<uint64_t>();
  }
  return out;
}

// ---- Public: plan and event JSON ------------------------------------------------------------

json ToJson(const crdt::Dependency& dependency) {
  return {{"task", dependency.task_id},
          {"type", ToWord(dependency.type, kDependencyTypes)},
          {"lag_ms", dependency.lag_ms}};
}

json ToJson(const crdt::TaskSpec& spec) {
  json out = json::object();
  out["id"] = spec.id;
  out["title"] = spec.title;
  out["phase"] = spec.phase;
  out["team"] = spec.team;
  out["site"] = spec.site;
  out["kind"] = ToWord(spec.kind, kTaskKinds);
  PutTime(out, "planned_start_ms", spec.planned_start_ms);
  PutTime(out, "not_before_ms", spec.not_before_ms);
  out["duration_ms"] = spec.duration_ms;
  out["predecessors"] = json::array();
  for (const auto& dep : spec.predecessors) out["predecessors"].push_back(ToJson(dep));
  out["backout_task"] = spec.backout_task;
  out["is_backout"] = spec.is_backout;
  out["deciders"] = spec.deciders;
  return out;
}

json ToJson(const crdt::TaskPatch& patch) {
  json out = json::object();
  if (patch.title) out["title"] = *patch.title;
  if (patch.phase) out["phase"] = *patch.phase;
  if (patch.team) out["team"] = *patch.team;
  if (patch.site) out["site"] = *patch.site;
  // Set-to-kNoTime (cleared) is null, as in task_change requests.
  if (patch.planned_start_ms) {
    out["planned_start_ms"] =
        *patch.planned_start_ms == crdt::kNoTime ? json(nullptr) : json(*patch.planned_start_ms);
  }
  if (patch.not_before_ms) {
    out["not_before_ms"] =
        *patch.not_before_ms == crdt::kNoTime ? json(nullptr) : json(*patch.not_before_ms);
  }
  if (patch.duration_ms) out["duration_ms"] = *patch.duration_ms;
  if (patch.predecessors) {
    out["predecessors"] = json::array();
    for (const auto& dep : *patch.predecessors) out["predecessors"].push_back(ToJson(dep));
  }
  if (patch.backout_task) out["backout_task"] = *patch.backout_task;
  if (patch.deciders) out["deciders"] = *patch.deciders;
  return out;
}

json ToJson(const crdt::Plan& plan) {
  json out = json::object();
  out["runbook_id"] = plan.runbook_id;
  out["name"] = plan.name;
  out["timezone"] = plan.timezone;
  PutTime(out, "window_start_ms", plan.window_start_ms);
  PutTime(out, "window_end_ms", plan.window_end_ms);
  out["sites"] = json::array();
  for (const auto& site : plan.sites) {
    out["sites"].push_back({{"id", site.id},
                            {"name", site.name},
                            {"public_key", ToHex(site.public_key)},
                            {"role", ToWord(site.role, kSiteRoles)},
                            {"endpoint", site.endpoint},
                            {"teams", site.teams}});
  }
  out["teams"] = plan.teams;
  out["tasks"] = json::array();
  for (const auto& task : plan.tasks) out["tasks"].push_back(ToJson(task));
  return out;
}

json ToJson(const crdt::Event& event) {
  json body = std::visit(
      [](const auto& b) -> json {
        using T = std::decay_t<decltype(b)>;
        json j = json::object();
        if constexpr (std::is_same_v<T, crdt::PlanDefined>) {
          j["plan"] = ToJson(b.plan);
          j["supersedes"] = IdsToJson(b.supersedes);
        } else if constexpr (std::is_same_v<T, crdt::PlanAmended>) {
          if (b.name) j["name"] = *b.name;
          if (b.window_start_ms) j["window_start_ms"] = *b.window_start_ms;
          if (b.window_end_ms) j["window_end_ms"] = *b.window_end_ms;
          j["supersedes"] = IdsToJson(b.supersedes);
        } else if constexpr (std::is_same_v<T, crdt::TaskAdded>) {
          j["spec"] = ToJson(b.spec);
        } else if constexpr (std::is_same_v<T, crdt::TaskChanged>) {
          j["task"] = b.task_id;
          j["patch"] = ToJson(b.patch);
          j["supersedes"] = IdsToJson(b.supersedes);
        } else if constexpr (std::is_same_v<T, crdt::TaskRemoved>) {
          j["task"] = b.task_id;
        } else if constexpr (std::is_same_v<T, crdt::TaskReported>) {
          j["task"] = b.task_id;
          j["report"] = ReportKindName(b.kind);
          PutTime(j, "effective_ms", b.effective_ms);
          j["note"] = b.note;
          j["supersedes"] = IdsToJson(b.supersedes);
        } else if constexpr (std::is_same_v<T, crdt::NoteAdded>) {
          j["task"] = b.task_id;
          j["text"] = b.text;
        } else if constexpr (std::is_same_v<T, crdt::GateDecided>) {
          j["task"] = b.task_id;
          j["decision"] = b.go ? "go" : "no-go";
          PutTime(j, "effective_ms", b.effective_ms);
          j["note"] = b.note;
          j["supersedes"] = IdsToJson(b.supersedes);
        }
        return j;
      },
      event.body);
  json out = json::object();
  out["id"] = event.id().ToString();
  out["origin"] = event.origin;
  out["seq"] = event.seq;
  out["runbook_id"] = event.runbook_id;
  out["hlc"] = {{"wall_ms", event.hlc.wall_ms}, {"logical", event.hlc.logical}};
  out["prev_hash"] = ToHex(std::string_view(reinterpret_cast<const char*>(event.prev_hash.data()),
                                            event.prev_hash.size()));
  out["actor"] = event.actor;
  out["kind"] = crdt::BodyKindName(event.body);
  out["body"] = std::move(body);
  return out;
}

Result<crdt::Dependency> DependencyFromJson(const json& v, const std::string& path) {
  crdt::Dependency dep;
  if (v.is_string()) {  // Shorthand: "T-001" is finish-to-start, no lag.
    BATON_ASSIGN_OR_RETURN(dep.task_id, ObjectReader::AsString(v, path));
    if (dep.task_id.empty()) return Bad(path, "task id must not be empty");
    return dep;
  }
  if (!v.is_object())
    return Bad(path, "expected a task id or {task, type, lag_ms}, got " + Show(v));
  ObjectReader r(v, path);
  BATON_TRY(r.OnlyKeys({"task", "type", "lag_ms"}));
  BATON_ASSIGN_OR_RETURN(dep.task_id, r.NonEmptyString("task"));
  if (const json* type = r.Get("type")) {
    BATON_ASSIGN_OR_RETURN(dep.type, FromWord(*type, r.PathOf("type"), kDependencyTypes));
  }
  BATON_ASSIGN_OR_RETURN(dep.lag_ms, r.Int("lag_ms", 0, -kMaxDurationMs, kMaxDurationMs));
  return dep;
}

Result<crdt::TaskSpec> TaskSpecFromJson(const json& v, const std::string& path) {
  BATON_TRY(ExpectObject(v, path));
  ObjectReader r(v, path);
  BATON_TRY(r.OnlyKeys({"id", "title", "phase", "team", "site", "kind", "planned_start_ms",
                        "not_before_ms", "duration_ms", "predecessors", "backout_task",
                        "is_backout", "deciders"}));
  crdt::TaskSpec spec;
  BATON_ASSIGN_OR_RETURN(spec.id, r.NonEmptyString("id"));
  BATON_ASSIGN_OR_RETURN(spec.title, r.OptString("title", kMaxTitleBytes));
  BATON_ASSIGN_OR_RETURN(spec.phase, r.OptString("phase"));
  BATON_ASSIGN_OR_RETURN(spec.team, r.OptString("team"));
  BATON_ASSIGN_OR_RETURN(spec.site, r.OptString("site"));
  if (const json* kind = r.Get("kind")) {
    BATON_ASSIGN_OR_RETURN(spec.kind, FromWord(*kind, r.PathOf("kind"), kTaskKinds));
  }
  BATON_ASSIGN_OR_RETURN(spec.planned_start_ms, r.Time("planned_start_ms", crdt::kNoTime));
  BATON_ASSIGN_OR_RETURN(spec.not_before_ms, r.Time("not_before_ms", crdt::kNoTime));
  BATON_ASSIGN_OR_RETURN(spec.duration_ms, r.Int("duration_ms", 0, 0, kMaxDurationMs));
  if (const json* p = r.Get("predecessors")) {
    BATON_ASSIGN_OR_RETURN(spec.predecessors, DependenciesFromJson(*p, r.PathOf("predecessors")));
  }
  BATON_ASSIGN_OR_RETURN(spec.backout_task, r.OptString("backout_task"));
  BATON_ASSIGN_OR_RETURN(spec.is_backout, r.Bool("is_backout", false));
  if (const json* d = r.Get("deciders")) {
    BATON_ASSIGN_OR_RETURN(spec.deciders, NamesFromJson(*d, r.PathOf("deciders"), kMaxPlanSites));
  }
  return spec;
}

Result<crdt::Plan> PlanFromJson(const json& v, const std::string& path) {
  BATON_TRY(ExpectObject(v, path));
  ObjectReader r(v, path);
  BATON_TRY(r.OnlyKeys({"runbook_id", "name", "timezone", "window_start_ms", "window_end_ms",
                        "sites", "teams", "tasks"}));
  crdt::Plan plan;
  BATON_ASSIGN_OR_RETURN(plan.runbook_id, r.NonEmptyString("runbook_id"));
  BATON_ASSIGN_OR_RETURN(plan.name, r.OptString("name", kMaxTitleBytes));
  BATON_ASSIGN_OR_RETURN(plan.timezone, r.OptString("timezone"));
  BATON_ASSIGN_OR_RETURN(plan.window_start_ms, r.Time("window_start_ms", crdt::kNoTime));
  BATON_ASSIGN_OR_RETURN(plan.window_end_ms, r.Time("window_end_ms", crdt::kNoTime));
  if (plan.window_start_ms != crdt::kNoTime && plan.window_end_ms != crdt::kNoTime &&
      plan.window_end_ms < plan.window_start_ms) {
    return Bad(r.PathOf("window_end_ms"), "is before window_start_ms");
  }
  if (const json* sites = r.Get("sites")) {
    const std::string sites_path = r.PathOf("sites");
    BATON_TRY(ExpectArray(*sites, sites_path, kMaxPlanSites));
    for (size_t i = 0; i < sites->size(); ++i) {
      const std::string site_path = Index(sites_path, i);
      BATON_TRY(ExpectObject((*sites)[i], site_path));
      ObjectReader s((*sites)[i], site_path);
      BATON_TRY(s.OnlyKeys({"id", "name", "public_key", "role", "endpoint", "teams"}));
      crdt::SiteInfo site;
      BATON_ASSIGN_OR_RETURN(site.id, s.NonEmptyString("id"));
      BATON_ASSIGN_OR_RETURN(site.name, s.OptString("name", kMaxTitleBytes));
      BATON_ASSIGN_OR_RETURN(std::string key_hex, s.OptString("public_key"));
      BATON_ASSIGN_OR_RETURN(site.public_key, FromHex(key_hex, s.PathOf("public_key")));
      if (!site.public_key.empty() && site.public_key.size() != 32) {
        return Bad(s.PathOf("public_key"), "expected 64 hex digits (32 bytes)");
      }
      if (const json* role = s.Get("role")) {
        BATON_ASSIGN_OR_RETURN(site.role, FromWord(*role, s.PathOf("role"), kSiteRoles));
      }
      BATON_ASSIGN_OR_RETURN(site.endpoint, s.OptString("endpoint", kMaxTitleBytes));
      if (const json* teams = s.Get("teams")) {
        BATON_ASSIGN_OR_RETURN(site.teams, NamesFromJson(*teams, s.PathOf("teams"), kMaxPlanTeams));
      }
      plan.sites.push_back(std::move(site));
    }
  }
  if (const json* teams = r.Get("teams")) {
    const std::string teams_path = r.PathOf("teams");
    BATON_TRY(ExpectArray(*teams, teams_path, kMaxPlanTeams));
    for (size_t i = 0; i < teams->size(); ++i) {
      BATON_ASSIGN_OR_RETURN(auto team, ObjectReader::AsString((*teams)[i], Index(teams_path, i)));
      plan.teams.push_back(std::move(team));
    }
  }
  if (const json* tasks = r.Get("tasks")) {
    const std::string tasks_path = r.PathOf("tasks");
    BATON_TRY(ExpectArray(*tasks, tasks_path, kMaxPlanTasks));
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < tasks->size(); ++i) {
      BATON_ASSIGN_OR_RETURN(auto spec, TaskSpecFromJson((*tasks)[i], Index(tasks_path, i)));
      if (auto [it, inserted] = seen.emplace(spec.id, i); !inserted) {
        return Bad(Index(tasks_path, i) + ".id",
                   Show(json(spec.id)) + " is also the id of " + Index(tasks_path, it->second));
      }
      plan.tasks.push_back(std::move(spec));
    }
  }
  return plan;
}

}  // namespace baton::client
