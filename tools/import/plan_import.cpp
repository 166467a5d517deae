// CSV run book -> crdt::Plan; see plan_import.h. Three passes: map the header, read every row
// (collecting cell errors), then validate the whole (duplicates, unknown references, cycles).
// Nothing is returned unless all three are clean.
#include "tools/import/plan_import.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <exception>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "client/protocol.h"
#include "daemon/identity/keys.h"
#include "tools/import/csv.h"

namespace baton::tools {
namespace {

using crdt::kNoTime;
using std::chrono::milliseconds;

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr const char* kDurationHint = "(try 45, 45m, 2h 30m, 1:30)";
constexpr const char* kTimeHint =
    "(try 2026-03-28 22:00, 2026-03-28T22:00Z, 28/03/2026 22:00, 22:00, +2h30m)";

// ---- Text helpers ----------------------------------------------------------------------------

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Header and keyword matching: lower-case letters and digits only ("Task ID" == "task-id").
// Text with no letters or digits ("#") is kept as written.
std::string Normalize(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out.empty() ? std::string(Trim(s)) : out;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A small cursor over a cell for the hand-written grammars below.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  bool Done() const { return pos_ >= s_.size(); }
  char Peek() const { return Done() ? '\0' : s_[pos_]; }
  void SkipSpaces() {
    while (!Done() && IsSpace(s_[pos_])) ++pos_;
  }
  bool Take(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  // Exactly `min`..`max` digits.
  std::optional<int> Number(size_t min, size_t max) {
    size_t n = 0;
    int value = 0;
    while (n < max && !Done() && IsDigit(s_[pos_])) {
      value = value * 10 + (s_[pos_] - '0');
      ++pos_;
      ++n;
    }
    if (n < min) return std::nullopt;
    return value;
  }
  std::string Letters() {
    std::string out;
    while (!Done() && (IsAlpha(s_[pos_]) || s_[pos_] == '.')) out += s_[pos_++];
    return out;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// ---- Durations -------------------------------------------------------------------------------

std::optional<int64_t> UnitMs(const std::string& unit) {
  static const std::map<std::string, int64_t> kUnits = {
      {"d", 24 * kHourMs},    {"day", 24 * kHourMs}, {"days", 24 * kHourMs}, {"h", kHourMs},
      {"hr", kHourMs},        {"hrs", kHourMs},      {"hour", kHourMs},      {"hours", kHourMs},
      {"m", kMinuteMs},       {"min", kMinuteMs},    {"mins", kMinuteMs},    {"minute", kMinuteMs},
      {"minutes", kMinuteMs}, {"s", 1000},           {"sec", 1000},          {"secs", 1000},
      {"second", 1000},       {"seconds", 1000},
  };
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  return it->second;
}

// Non-negative durations; see ParseDurationMs in the header for the accepted forms.
std::optional<int64_t> ParseDuration(std::string_view text) {
  const std::string s = Lower(Trim(text));
  if (s.empty()) return std::nullopt;
  if (s.find(':') != std::string::npos) {  // h:mm or h:mm:ss
    Scanner sc(s);
    auto h = sc.Number(1, 6);
    if (!h || !sc.Take(':')) return std::nullopt;
    auto m = sc.Number(2, 2);
    if (!m || *m > 59) return std::nullopt;
    int sec = 0;
    if (sc.Take(':')) {
      auto x = sc.Number(2, 2);
      if (!x || *x > 59) return std::nullopt;
      sec = *x;
    }
    if (!sc.Done()) return std::nullopt;
    return *h * kHourMs + *m * kMinuteMs + sec * 1000LL;
  }
  // Components "<number>[ ]<unit>", e.g. "2h 30m", "1.5h", "90 min"; a bare number is minutes,
  // and a bare number after hours is minutes too ("1h30").
  size_t i = 0;
  double total = 0;
  int components = 0;
  int64_t last_unit = 0;
  while (i < s.size()) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    if (i >= s.size()) break;
    size_t start = i;
    bool dot = false;
    while (i < s.size() && (IsDigit(s[i]) || (s[i] == '.' && !dot))) {
      if (s[i] == '.') dot = true;
      ++i;
    }
    const std::string number = s.substr(start, i - start);
    if (number.empty() || number == ".") return std::nullopt;
    while (i < s.size() && IsSpace(s[i])) ++i;
    start = i;
    while (i < s.size() && IsAlpha(s[i])) ++i;
    const std::string unit = s.substr(start, i - start);
    int64_t unit_ms = 0;
    if (unit.empty()) {
      if (components == 0 && i >= s.size()) {
        unit_ms = kMinuteMs;
      } else if (last_unit == kHourMs && i >= s.size()) {
        unit_ms = kMinuteMs;
      } else {
        return std::nullopt;
      }
    } else {
      auto u = UnitMs(unit);
      if (!u) return std::nullopt;
      unit_ms = *u;
    }
    const double value = std::strtod(number.c_str(), nullptr);
    if (!(value < 1e7)) return std::nullopt;
    total += value * static_cast<double>(unit_ms);
    last_unit = unit_ms;
    ++components;
  }
  if (components == 0) return std::nullopt;
  return static_cast<int64_t>(std::llround(total));
}

// ---- Times -----------------------------------------------------------------------------------

// A time as written, before it is resolved against the zone and the window.
struct TimeSpec {
  enum class Kind { kUtc, kLocal, kOffset, kTimeOfDay };
  Kind kind = Kind::kLocal;
  int64_t ms = 0;  // UTC ms / local ms since the local epoch / offset / ms since local midnight.
};

// "HH:MM[:SS][ AM|PM]" at the scanner; false with `why` set on a bad value.
bool ParseClock(Scanner& sc, int64_t* ms_of_day, std::string* why) {
  auto h = sc.Number(1, 2);
  if (!h || !sc.Take(':')) return false;
  auto m = sc.Number(2, 2);
  if (!m) return false;
  int sec = 0;
  if (sc.Take(':')) {
    auto x = sc.Number(2, 2);
    if (!x) return false;
    sec = *x;
    if (sc.Take('.')) sc.Number(1, 9);  // Fractions of a second are dropped.
  }
  int hour = *h;
  Scanner probe = sc;
  probe.SkipSpaces();
  const std::string ampm = Normalize(probe.Letters());
  if (ampm == "am" || ampm == "pm") {
    sc = probe;
    if (hour < 1 || hour > 12) {
      *why = "hour " + std::to_string(hour) + " does not exist on a 12-hour clock";
      return false;
    }
    hour = hour % 12 + (ampm == "pm" ? 12 : 0);
  }
  if (hour > 23 || *m > 59 || sec > 59) {
    *why = hour > 23 ? "there is no hour " + std::to_string(hour)
           : *m > 59 ? "there is no minute " + std::to_string(*m)
                     : "there is no second " + std::to_string(sec);
    return false;
  }
  *ms_of_day = hour * kHourMs + *m * kMinuteMs + sec * 1000LL;
  return true;
}

// Days since 1970-01-01 of a calendar date; false with `why` if the date does not exist.
bool DaysFromCivil(int y, int m, int d, int64_t* days, std::string* why) {
  if (m < 1 || m > 12) {
    *why = "there is no month " + std::to_string(m);
    return false;
  }
  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(m)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) {
    *why = "there is no day " + std::to_string(d) + " in " + std::to_string(y) + "-" +
           (m < 10 ? "0" : "") + std::to_string(m);
    return false;
  }
  *days = date::sys_days{ymd}.time_since_epoch().count();
  return true;
}

// Parses every accepted time form. `why` explains a value that has the shape of a date but
// does not exist; otherwise the caller's generic hint is used.
std::optional<TimeSpec> ParseTime(std::string_view text, bool day_first, std::string* why) {
  const std::string_view s = Trim(text);
  if (s.empty()) return std::nullopt;
  // Offsets from the window start: "+0", "+2h30m", "T+90m".
  std::string_view rest = s;
  if (rest.size() >= 2 && (rest[0] == 'T' || rest[0] == 't') && rest[1] == '+') {
    rest.remove_prefix(1);
  }
  if (rest[0] == '+') {
    auto d = ParseDuration(rest.substr(1));
    if (!d) return std::nullopt;
    return TimeSpec{TimeSpec::Kind::kOffset, *d};
  }
  Scanner sc(s);
  auto first = sc.Number(1, 4);
  if (!first) return std::nullopt;
  int64_t days = 0;
  const char sep = sc.Peek();
  if (sep == ':') {  // A bare time of day.
    Scanner clock(s);
    int64_t ms = 0;
    if (!ParseClock(clock, &ms, why)) return std::nullopt;
    clock.SkipSpaces();
    if (!clock.Done()) return std::nullopt;
    return TimeSpec{TimeSpec::Kind::kTimeOfDay, ms};
  }
  if (sep == '-' && s.size() >= 10 && IsDigit(s[3])) {  // ISO 8601 date: 2026-03-28
    sc.Take('-');
    auto m = sc.Number(2, 2);
    if (!m || !sc.Take('-')) return std::nullopt;
    auto d = sc.Number(2, 2);
    if (!d) return std::nullopt;
    if (!DaysFromCivil(*first, *m, *d, &days, why)) return std::nullopt;
  } else if (sep == '/' || sep == '.') {  // 28/03/2026 (day first) or 03/28/2026.
    sc.Take(sep);
    auto second = sc.Number(1, 2);
    if (!second || !sc.Take(sep)) return std::nullopt;
    auto y = sc.Number(4, 4);
    if (!y) return std::nullopt;
    const int d = day_first ? *first : *second;
    const int m = day_first ? *second : *first;
    if (!DaysFromCivil(*y, m, d, &days, why)) {
      *why += day_first ? " (read as DD/MM/YYYY; for MM/DD/YYYY use --month-first)"
                        : " (read as MM/DD/YYYY; for DD/MM/YYYY use --day-first)";
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  int64_t ms_of_day = 0;
  if (!sc.Done()) {
    if (!sc.Take('T')) {
      if (!IsSpace(sc.Peek())) return std::nullopt;
      sc.SkipSpaces();
    }
    if (!sc.Done() && !ParseClock(sc, &ms_of_day, why)) return std::nullopt;
  }
  const int64_t local_ms = days * 24 * kHourMs + ms_of_day;
  sc.SkipSpaces();
  if (sc.Done()) return TimeSpec{TimeSpec::Kind::kLocal, local_ms};
  if (sc.Take('Z') || sc.Take('z')) {
    if (!sc.Done()) return std::nullopt;
    return TimeSpec{TimeSpec::Kind::kUtc, local_ms};
  }
  const char sign = sc.Peek();
  if (sign != '+' && sign != '-') return std::nullopt;
  sc.Take(sign);
  auto oh = sc.Number(2, 2);
  if (!oh) return std::nullopt;
  int om = 0;
  if (!sc.Done()) {
    sc.Take(':');
    auto x = sc.Number(2, 2);
    if (!x) return std::nullopt;
    om = *x;
  }
  if (!sc.Done() || *oh > 14 || om > 59) return std::nullopt;
  const int64_t offset = (*oh * kHourMs + om * kMinuteMs) * (sign == '+' ? 1 : -1);
  return TimeSpec{TimeSpec::Kind::kUtc, local_ms - offset};
}

std::string FormatLocalMs(int64_t local_ms) {
  const date::local_time<milliseconds> t{milliseconds{local_ms}};
  return date::format("%Y-%m-%d %H:%M", date::floor<std::chrono::minutes>(t));
}

// ---- Columns ---------------------------------------------------------------------------------

enum class Field {
  kId,
  kTitle,
  kPhase,
  kTeam,
  kSite,
  kStart,
  kDuration,
  kPredecessors,
  kKind,
  kNotBefore,
  kBackout,
  kIsBackout,
  kDeciders,
  kEnd,
};
constexpr size_t kFieldCount = 14;

struct FieldDef {
  Field field;
  const char* name;
  std::vector<const char*> headers;  // As documented; matched after Normalize().
  bool required;
};

const std::vector<FieldDef>& FieldDefs() {
  static const std::vector<FieldDef> kDefs = {
      {Field::kId, "id", {"id", "task id", "task", "#", "ref"}, true},
      {Field::kTitle, "title", {"title", "name", "task name", "description", "activity"}, true},
      {Field::kPhase, "phase", {"phase", "stream", "stage"}, false},
      {Field::kTeam, "team", {"team", "owner", "owner team", "responsible"}, false},
      {Field::kSite, "site", {"site", "location"}, false},
      {Field::kStart, "start", {"start", "planned start", "start time"}, false},
      {Field::kDuration,
       "duration",
       {"duration", "dur", "est", "estimate", "planned duration"},
       true},
      {Field::kPredecessors,
       "predecessors",
       {"predecessors", "depends on", "dependencies", "after"},
       false},
      {Field::kKind, "kind", {"kind", "type"}, false},
      {Field::kNotBefore, "not_before", {"not before", "time lock", "no earlier than"}, false},
      {Field::kBackout, "backout", {"backout", "back-out", "rollback", "back-out task"}, false},
      {Field::kIsBackout, "is_backout", {"backout only", "is backout"}, false},
      {Field::kDeciders,
       "deciders",
       {"deciders", "decided by", "decision by", "go/no-go by", "approvers"},
       false},
      // Instead of a duration (derived from the start), or beside it (then both must agree).
      {Field::kEnd, "end", {"end", "planned end", "end time", "finish", "planned finish"}, false},
  };
  return kDefs;
}

// Headers that are understood but carry nothing the plan keeps: no "not used" warning.
bool IsKnownIgnoredHeader(const std::string& normalized) {
  static const std::set<std::string> kIgnored = {"notes",   "note",    "comments",
                                                 "comment", "remarks", "remark"};
  return kIgnored.count(normalized) > 0;
}

std::string AcceptedHeaders(const FieldDef& def) {
  std::string out;
  for (const char* h : def.headers) out += (out.empty() ? "" : ", ") + std::string(h);
  return out;
}

// ---- The importer ----------------------------------------------------------------------------

struct CellRef {
  std::string_view text;  // Trimmed.
  int line = 0;
  int column = 0;  // 0: the column is absent from the file.
};

// Where each part of a task came from, for validation messages.
struct TaskOrigin {
  int line = 0;
  CellRef id, predecessors, backout;
  std::vector<std::string> predecessor_texts;  // Item as written, parallel to predecessors.
};

class Importer {
 public:
  Importer(std::string_view csv_text, const ImportOptions& options)
      : csv_text_(csv_text), options_(options) {
    source_ = options.source_name.empty() ? "<input>" : options.source_name;
  }

  Result<ImportResult> Run(std::vector<ImportError>* errors_out) {
    Import();
    if (errors_.empty()) {
      ImportResult result;
      result.plan = std::move(plan_);
      result.warnings = std::move(warnings_);
      return result;
    }
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
      return std::make_pair(a.line, a.column) < std::make_pair(b.line, b.column);
    });
    std::string message = std::to_string(errors_.size()) +
                          (errors_.size() == 1 ? " error in " : " errors in ") + source_;
    for (const auto& e : errors_) message += "\n" + e.ToString();
    if (errors_out != nullptr) *errors_out = std::move(errors_);
    return Status::InvalidArgument(std::move(message));
  }

 private:
  void Error(int line, int column, std::string field, std::string_view value, std::string message) {
    errors_.push_back(ImportError{line, column, std::move(field), std::string(value),
                                  std::move(message), source_});
  }
  void Error(const CellRef& cell, const char* field, std::string message) {
    Error(cell.line, cell.column, field, cell.text, std::move(message));
  }
  void Warn(int line, int column, const std::string& message) {
    std::string where = source_;
    if (line > 0) where += ":" + std::to_string(line);
    if (line > 0 && column > 0) where += ":" + std::to_string(column);
    warnings_.push_back(where + ": " + message);
  }

  // The characters U+0080..U+009F of Windows-1252 (0 where it leaves a byte undefined).
  static constexpr char32_t kCp1252[32] = {
      0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

  static void AppendUtf8(char32_t c, std::string* out) {
    if (c < 0x80) {
      out->push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (c >> 6)));
      out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xE0 | (c >> 12)));
      out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }

  // Length of the valid UTF-8 sequence at `t[i]` (shortest form, no surrogates), 0 if invalid.
  static size_t Utf8Length(std::string_view t, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(t[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    size_t n = c >= 0xC2 && c <= 0xDF   ? 2
               : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (n == 0 || i + n > t.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
      if ((b(i + k) & 0xC0) != 0x80) return 0;
    }
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // Overlong.
    if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // Surrogate.
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;   // Overlong.
    if (c == 0xF4 && b(i + 1) >= 0x90) return 0;  // Past U+10FFFF.
    return n;
  }

  // The bytes as text, before any of them is shown: a binary file is refused at its first
  // control byte; the text is UTF-8 (a byte-order mark dropped) or, with encoding
  // windows-1252, converted from it. Invalid UTF-8 is refused at line:column (characters),
  // never replaced. False, with the errors recorded, if the file is not usable text.
  bool PrepareText() {
    std::string_view t = csv_text_;
    if (t.substr(0, 3) == "\xEF\xBB\xBF") t.remove_prefix(3);
    std::string enc;
    for (char c : options_.encoding) {
      if (c != '-' && c != '_')
        enc.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    const bool cp1252 =
        enc == "windows1252" || enc == "cp1252" || enc == "latin1" || enc == "iso88591";
    if (!cp1252 && enc != "utf8") {
      Error(0, 0, "encoding", options_.encoding,
            "is not an encoding baton reads (utf-8, or windows-1252 for Excel's CSV on Windows)");
      return false;
    }
    int line = 1, column = 1, invalid = 0;
    for (size_t i = 0; i < t.size();) {
      const auto c = static_cast<unsigned char>(t[i]);
      if (c == '\n') {
        ++line;
        column = 1;
        ++i;
        continue;
      }
      if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7F) {
        Error(line, column, "", "",
              "this is not a text file (a control byte 0x" + Hex2(c) +
                  " here): give the run "
                  "book as CSV (in the spreadsheet: Save As, CSV UTF-8)");
        return false;
      }
      const size_t n = cp1252 ? 1 : Utf8Length(t, i);
      if (n == 0) {
        if (++invalid <= 3) {
          Error(line, column, "", "",
                "invalid UTF-8 (byte 0x" + Hex2(c) +
                    "): the file is not UTF-8; if the spreadsheet saved it as Windows-1252 or "
                    "Latin-1 (Excel's plain \"CSV\"), give --encoding windows-1252");
        }
        // One error per bad sequence: its continuation bytes go with it.
        ++i;
        while (i < t.size() && (static_cast<unsigned char>(t[i]) & 0xC0) == 0x80) ++i;
      } else {
        i += n;
      }
      ++column;
    }
    if (invalid > 0) return false;
    if (cp1252) {
      converted_.reserve(t.size() + t.size() / 8);
      for (char ch : t) {
        const auto c = static_cast<unsigned char>(ch);
        const char32_t code = c >= 0x80 && c <= 0x9F ? kCp1252[c - 0x80] : c;
        AppendUtf8(code == 0 ? 0xFFFD : code, &converted_);
      }
      csv_text_ = converted_;
    } else {
      csv_text_ = t;
    }
    return true;
  }

  static std::string Hex2(unsigned char c) {
    static const char kDigits[] = "0123456789ABCDEF";
    return {kDigits[c >> 4], kDigits[c & 15]};
  }

  void Import() {
    LoadZone();
    ResolveWindow();
    if (!PrepareText()) return;
    CsvTable table = ParseCsv(csv_text_);
    if (table.unclosed_quote_line > 0) {
      Error(table.unclosed_quote_line, table.unclosed_quote_column, "", "",
            "quoted cell is never closed (a \" is missing)");
      return;
    }
    size_t header_index = 0;
    while (header_index < table.rows.size() && IsBlank(table.rows[header_index])) ++header_index;
    if (header_index == table.rows.size()) {
      Error(1, 0, "", "", "no header row: the file is empty");
      return;
    }
    if (!MapHeader(table.rows[header_index])) return;
    header_width_ = table.rows[header_index].cells.size();
    all_ids_ = options_.existing_ids;
    for (size_t r = header_index + 1; r < table.rows.size(); ++r) {
      all_ids_.insert(std::string(Cell(table.rows[r], Field::kId).text));
    }
    for (size_t r = header_index + 1; r < table.rows.size(); ++r) {
      if (IsBlank(table.rows[r])) continue;
      if (tasks_.size() == client::kMaxPlanTasks) {
        Error(table.rows[r].line, 0, "", "",
              "more than " + std::to_string(client::kMaxPlanTasks) +
                  " tasks, the most one plan may hold");
        return;
      }
      ReadRow(table.rows[r]);
    }
    if (tasks_.empty() && errors_.empty()) {
      Error(table.rows[header_index].line + 1, 0, "", "",
            "no task rows: the file has its header (line " +
                std::to_string(table.rows[header_index].line) +
                ") and nothing under it; nothing is imported");
      return;
    }
    WindowFromPlannedStarts();
    Validate();
    BuildPlan();
  }

  // No window start given, but the file plans tasks at dates and times: the window starts at
  // the earliest of them (said as a warning), so that those times are kept as planned instead
  // of following the clock.
  void WindowFromPlannedStarts() {
    if (window_start_ms_ != kNoTime || !Trim(options_.window_start).empty()) return;
    size_t first = tasks_.size();
    for (size_t i = 0; i < tasks_.size(); ++i) {
      if (tasks_[i].planned_start_ms == kNoTime) continue;
      if (first == tasks_.size() || tasks_[i].planned_start_ms < tasks_[first].planned_start_ms) {
        first = i;
      }
    }
    if (first == tasks_.size()) return;
    window_start_ms_ = tasks_[first].planned_start_ms;
    Warn(origins_[first].line, 0,
         "no --window-start given: the window starts at the earliest planned start, " +
             FormatLocalTime(window_start_ms_,
                             options_.timezone.empty() ? "UTC" : options_.timezone) +
             " (task " + tasks_[first].id + ")");
    if (window_end_ms_ != kNoTime && window_end_ms_ <= window_start_ms_) {
      Error(0, 0, "window_end", options_.window_end,
            "is not after the earliest planned start, where the window starts (give "
            "--window-start)");
    }
  }

  static bool IsBlank(const CsvRow& row) {
    return std::all_of(row.cells.begin(), row.cells.end(),
                       [](const CsvCell& c) { return Trim(c.text).empty(); });
  }

  void LoadZone() {
    const std::string tz = options_.timezone.empty() ? "UTC" : options_.timezone;
    try {
      zone_ = date::locate_zone(tz);
    } catch (const std::exception& e) {
      Error(0, 0, "timezone", tz, std::string("is not a known IANA time zone (") + e.what() + ")");
    }
  }

  // Local, UTC or (window end only) offset forms; sets `*out` or records an error.
  void ResolveWindow() {
    auto one = [&](const std::string& text, const char* field, bool allow_offset) {
      if (Trim(text).empty()) return kNoTime;
      std::string why;
      auto spec = ParseTime(text, options_.day_first, &why);
      const CellRef ref{text, 0, 0};
      if (!spec) {
        Error(ref, field,
              why.empty() ? std::string("is not a date and time ") + kTimeHint
                          : "is not a valid date or time: " + why);
        return kNoTime;
      }
      if (spec->kind == TimeSpec::Kind::kOffset && allow_offset && window_start_ms_ != kNoTime) {
        return window_start_ms_ + spec->ms;
      }
      if (spec->kind == TimeSpec::Kind::kOffset || spec->kind == TimeSpec::Kind::kTimeOfDay) {
        Error(ref, field, "must be a date and time, e.g. 2026-03-27 20:00");
        return kNoTime;
      }
      return ToUtc(*spec, ref, field);
    };
    window_start_ms_ = InDomain(one(options_.window_start, "window_start", false),
                                CellRef{options_.window_start, 0, 0}, "window_start");
    window_end_ms_ = InDomain(one(options_.window_end, "window_end", true),
                              CellRef{options_.window_end, 0, 0}, "window_end");
    if (window_start_ms_ != kNoTime && window_end_ms_ != kNoTime &&
        window_end_ms_ <= window_start_ms_) {
      Error(0, 0, "window_end", options_.window_end, "is not after the window start");
    }
  }

  // Absolute or local spec -> UTC ms; kNoTime after recording an error.
  int64_t ToUtc(const TimeSpec& spec, const CellRef& cell, const char* field) {
    if (spec.kind == TimeSpec::Kind::kUtc) return spec.ms;
    // A column whose header names its zone ("Planned Start (UTC)") is read in that zone.
    const date::time_zone* zone = ZoneOfField(field);
    if (zone == nullptr) return kNoTime;  // The time zone error is already reported.
    const date::local_time<milliseconds> local{milliseconds{spec.ms}};
    const date::local_info info = zone->get_info(date::floor<std::chrono::seconds>(local));
    switch (info.result) {
      case date::local_info::unique:
        return (local - info.first.offset).time_since_epoch().count();
      case date::local_info::nonexistent: {
        const auto change = info.second.begin;
        const int64_t change_ms =
            std::chrono::duration_cast<milliseconds>(change.time_since_epoch()).count();
        const int64_t before_ms =
            change_ms + std::chrono::duration_cast<milliseconds>(info.first.offset).count();
        const int64_t after_ms =
            change_ms + std::chrono::duration_cast<milliseconds>(info.second.offset).count();
        Error(cell, field,
              "does not exist in " + zone->name() + ": clocks jump from " +
                  FormatLocalMs(before_ms) + " to " + FormatLocalMs(after_ms).substr(11) +
                  " (daylight saving time)");
        return kNoTime;
      }
      case date::local_info::ambiguous: {
        Warn(cell.line, cell.column,
             "field \"" + std::string(field) + "\": " + Quote(cell.text) + " happens twice in " +
                 zone->name() + " (clocks go back); taking the earlier (" + info.first.abbrev +
                 ")");
        return (local - info.first.offset).time_since_epoch().count();
      }
    }
    return kNoTime;
  }

  bool MapHeader(const CsvRow& header) {
    header_line_ = header.line;
    column_of_.fill(-1);
    std::vector<bool> claimed(header.cells.size(), false);
    zone_of_.fill(nullptr);
    unit_ms_.fill(0);
    auto find_header = [&](const std::string& wanted) -> int {
      for (size_t i = 0; i < header.cells.size(); ++i) {
        if (Normalize(header.cells[i].text) == wanted) return static_cast<int>(i);
      }
      for (size_t i = 0; i < header.cells.size(); ++i) {  // The name without its unit.
        if (Normalize(SplitUnit(header.cells[i].text).first) == wanted) return static_cast<int>(i);
      }
      return -1;
    };
    std::string seen;
    for (const auto& c : header.cells) {
      if (!Trim(c.text).empty()) seen += (seen.empty() ? "" : ", ") + Quote(Trim(c.text));
    }
    bool ok = true;
    for (const auto& [field_name, header_name] : options_.columns) {
      const FieldDef* def = nullptr;
      for (const auto& d : FieldDefs()) {
        if (Normalize(d.name) == Normalize(field_name)) def = &d;
      }
      if (def == nullptr) {
        Error(0, 0, field_name, "",
              "is not a field (fields: id, title, phase, team, site, start, "
              "duration, predecessors, kind, not_before, backout, "
              "is_backout, deciders, end)");
        ok = false;
        continue;
      }
      int col = find_header(Normalize(header_name));
      if (col < 0) col = ColumnByLetterOrPosition(header_name);  // A header wins over a letter.
      if (col < 0) {
        Error(header_line_, 0, def->name, header_name,
              "is not a header of this file, nor a column letter (K) or position (#11) "
              "(headers seen: " +
                  seen + ")");
        ok = false;
        continue;
      }
      column_of_[static_cast<size_t>(def->field)] = col;
      if (static_cast<size_t>(col) < header.cells.size()) {
        claimed[static_cast<size_t>(col)] = true;
        ReadUnit(*def, header.cells[static_cast<size_t>(col)], col, &ok);
      }
    }
    for (size_t i = 0; i < header.cells.size(); ++i) {
      if (claimed[i]) continue;
      const std::string name = Normalize(header.cells[i].text);
      if (name.empty()) continue;
      const std::string bare = Normalize(SplitUnit(header.cells[i].text).first);
      bool matched = false;
      for (const auto& def : FieldDefs()) {
        const bool hit = std::any_of(def.headers.begin(), def.headers.end(), [&](const char* h) {
          return Normalize(h) == name || Normalize(h) == bare;
        });
        if (hit) {
          matched = true;
          int& col = column_of_[static_cast<size_t>(def.field)];
          if (col >= 0) {
            Warn(header_line_, static_cast<int>(i) + 1,
                 "column " + Quote(Trim(header.cells[i].text)) + " ignored: column " +
                     std::to_string(col + 1) + " already gives the " + def.name);
          } else {
            col = static_cast<int>(i);
            ReadUnit(def, header.cells[i], col, &ok);
          }
        }
      }
      if (!matched && !IsKnownIgnoredHeader(name)) {
        Warn(header_line_, static_cast<int>(i) + 1,
             "column " + Quote(Trim(header.cells[i].text)) + " is not used");
      }
    }
    for (const auto& def : FieldDefs()) {
      // An end column gives the durations (from the starts).
      if (def.field == Field::kDuration && column_of_[static_cast<size_t>(Field::kEnd)] >= 0) {
        continue;
      }
      if (def.required && column_of_[static_cast<size_t>(def.field)] < 0 &&
          (ok || options_.columns.count(def.name) == 0)) {
        Error(header_line_, 0, def.name, "",
              "no column found (looked for " + AcceptedHeaders(def) +
                  "; headers seen: " + (seen.empty() ? "none" : seen) + ")");
        ok = false;
      }
    }
    return ok;
  }

  // The zone a time column is read in: the one its header names, else the plan's.
  const date::time_zone* ZoneOfField(const char* field) const {
    for (const auto& def : FieldDefs()) {
      if (def.name == std::string_view(field)) {
        const date::time_zone* z = zone_of_[static_cast<size_t>(def.field)];
        return z != nullptr ? z : zone_;
      }
    }
    return zone_;
  }

  // What a matched header's bracketed unit says: the zone of a time column, the unit of a
  // duration column's bare numbers. A zone that is not one is an error (every time in the
  // column would be wrong); a unit on another column is left alone.
  void ReadUnit(const FieldDef& def, const CsvCell& header, int col, bool* ok) {
    const std::string_view unit = SplitUnit(header.text).second;
    if (unit.empty()) return;
    const auto index = static_cast<size_t>(def.field);
    if (def.field == Field::kStart || def.field == Field::kNotBefore) {
      zone_of_[index] = ZoneOfUnit(unit);
      // Short letters or a slash look like a zone: a wrong one would shift every time.
      const bool zone_like = unit.find('/') != std::string_view::npos ||
                             unit.find('+') != std::string_view::npos ||
                             (Normalize(unit).size() <= 5);
      if (zone_of_[index] == nullptr && zone_like) {
        Error(header_line_, col + 1, def.name, std::string(Trim(header.text)),
              "names the zone " + Quote(unit) +
                  ", which baton does not know (give UTC, UTC+2, an IANA name such as "
                  "Europe/Berlin, or CET, IST, ET, PT)");
        *ok = false;
      } else if (zone_of_[index] == nullptr) {
        Warn(header_line_, col + 1,
             "column " + Quote(Trim(header.text)) + ": " + Quote(unit) +
                 " is not a time zone; its times are read in the plan's zone");
      }
    } else if (def.field == Field::kDuration) {
      unit_ms_[index] = DurationUnitMs(unit);
      if (unit_ms_[index] == 0 && Normalize(unit).size() <= 7) {
        Error(header_line_, col + 1, def.name, std::string(Trim(header.text)),
              "names the unit " + Quote(unit) + ", which is not min, h or d");
        *ok = false;
      } else if (unit_ms_[index] == 0) {
        Warn(header_line_, col + 1,
             "column " + Quote(Trim(header.text)) + ": " + Quote(unit) +
                 " is not a unit; bare numbers are minutes");
      }
    }
  }

  // A header's unit or zone in brackets at its end: "Duration (min)" -> {"Duration", "min"}.
  static std::pair<std::string_view, std::string_view> SplitUnit(std::string_view header) {
    header = Trim(header);
    if (header.size() < 3) return {header, {}};
    const char close = header.back();
    const char open = close == ')' ? '(' : close == ']' ? '[' : '\0';
    const size_t at = open == '\0' ? std::string_view::npos : header.rfind(open);
    if (at == std::string_view::npos || at == 0) return {header, {}};
    return {Trim(header.substr(0, at)), Trim(header.substr(at + 1, header.size() - at - 2))};
  }

  // The zone a header's unit names: UTC, an IANA name, or a common abbreviation (read as the
  // zone that uses it, daylight saving included); nullptr if none.
  static const date::time_zone* ZoneOfUnit(std::string_view unit) {
    static const std::pair<const char*, const char*> kAbbreviations[] = {
        {"utc", "UTC"},
        {"gmt", "UTC"},
        {"z", "UTC"},
        {"cet", "Europe/Berlin"},
        {"cest", "Europe/Berlin"},
        {"mez", "Europe/Berlin"},
        {"mesz", "Europe/Berlin"},
        {"wet", "Europe/Lisbon"},
        {"bst", "Europe/London"},
        {"uk", "Europe/London"},
        {"eet", "Europe/Athens"},
        {"ist", "Asia/Kolkata"},
        {"et", "America/New_York"},
        {"est", "America/New_York"},
        {"edt", "America/New_York"},
        {"pt", "America/Los_Angeles"},
        {"pst", "America/Los_Angeles"},
        {"pdt", "America/Los_Angeles"}};
    const std::string lower = Lower(unit);
    std::string name;
    for (const auto& [abbrev, zone] : kAbbreviations) {
      if (lower == abbrev) name = zone;
    }
    if (name.empty() && unit.find('/') != std::string_view::npos) name = std::string(unit);
    // "UTC+2", "GMT-5": whole hours, as the Etc zones (whose signs are inverted) hold them.
    if (name.empty() && lower.size() >= 5 && lower.size() <= 6 &&
        (lower.rfind("utc", 0) == 0 || lower.rfind("gmt", 0) == 0) &&
        (lower[3] == '+' || lower[3] == '-') &&
        std::all_of(lower.begin() + 4, lower.end(),
                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
      const int hours = std::stoi(lower.substr(4));
      if (hours > 14) return nullptr;
      name = hours == 0
                 ? "UTC"
                 : std::string("Etc/GMT") + (lower[3] == '+' ? "-" : "+") + std::to_string(hours);
    }
    if (name.empty()) return nullptr;
    try {
      return date::locate_zone(name);
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  // The unit a duration column's bare numbers are in, as ms per unit; 0 if not a duration unit.
  static int64_t DurationUnitMs(std::string_view unit) {
    const std::string u = Normalize(unit);
    if (u == "min" || u == "mins" || u == "minute" || u == "minutes" || u == "m") return 60'000;
    if (u == "h" || u == "hr" || u == "hrs" || u == "hour" || u == "hours") return 3'600'000;
    if (u == "d" || u == "day" || u == "days") return 86'400'000;
    return 0;
  }

  // A spreadsheet column named by its letter ("K", "AB") or its position ("#11", "11"); -1 if
  // `name` is neither.
  static std::string ColumnLetter(size_t index) {
    std::string letters;
    for (size_t n = index + 1; n > 0; n = (n - 1) / 26) {
      letters.insert(letters.begin(), static_cast<char>('A' + (n - 1) % 26));
    }
    return letters;
  }

  static int ColumnByLetterOrPosition(std::string_view name) {
    name = Trim(name);
    if (!name.empty() && name.size() <= 3 && std::all_of(name.begin(), name.end(), [](char c) {
          return std::isalpha(static_cast<unsigned char>(c)) != 0;
        })) {
      int col = 0;
      for (char c : name) col = col * 26 + (std::toupper(static_cast<unsigned char>(c)) - 'A' + 1);
      return col - 1;
    }
    if (!name.empty() && name.front() == '#') name.remove_prefix(1);
    if (name.empty() || name.size() > 4 || !std::all_of(name.begin(), name.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) != 0;
        })) {
      return -1;
    }
    const int position = std::stoi(std::string(name));
    return position >= 1 ? position - 1 : -1;
  }

  CellRef Cell(const CsvRow& row, Field field) const {
    const int col = column_of_[static_cast<size_t>(field)];
    if (col < 0) return CellRef{{}, row.line, 0};
    const auto index = static_cast<size_t>(col);
    if (index >= row.cells.size()) return CellRef{{}, row.line, col + 1};  // Short row.
    return CellRef{Trim(row.cells[index].text), row.cells[index].line, col + 1};
  }

  // A time the protocol accepts (crdt/event.h: the years 2000 to 2099), or kNoTime and an error.
  int64_t InDomain(int64_t ms, const CellRef& cell, const char* field) {
    if (ms == kNoTime || (ms >= crdt::kMinTimeMs && ms < crdt::kMaxTimeMs)) return ms;
    Error(cell, field, "is outside the years 2000 to 2099");
    return kNoTime;
  }

  // Text the protocol accepts (client/protocol.h#limits): at most `max` bytes.
  void LimitText(const CellRef& cell, const char* field, size_t max) {
    if (cell.text.size() <= max) return;
    Error(cell.line, cell.column, field, "",
          "is " + std::to_string(cell.text.size()) + " bytes, over the limit of " +
              std::to_string(max));
  }

  int64_t ReadTime(const CellRef& cell, const char* field) {
    return InDomain(ReadTimeAnyYear(cell, field), cell, field);
  }

  int64_t ReadTimeAnyYear(const CellRef& cell, const char* field) {
    if (cell.text.empty()) return kNoTime;
    std::string why;
    auto spec = ParseTime(cell.text, options_.day_first, &why);
    if (!spec) {
      Error(cell, field,
            why.empty() ? std::string("is not a date, time or offset ") + kTimeHint
                        : "is not a valid date or time: " + why);
      return kNoTime;
    }
    if (spec->kind == TimeSpec::Kind::kOffset || spec->kind == TimeSpec::Kind::kTimeOfDay) {
      if (window_start_ms_ == kNoTime) {
        // A window start that did not parse is reported once, not on every relative cell.
        if (Trim(options_.window_start).empty()) {
          Error(cell, field,
                "is relative to the window start, but no window start was given "
                "(--window-start)");
        }
        return kNoTime;
      }
      if (spec->kind == TimeSpec::Kind::kOffset) return window_start_ms_ + spec->ms;
      return NextTimeOfDay(spec->ms, cell, field);
    }
    return ToUtc(*spec, cell, field);
  }

  // The first local `ms_of_day` at or after the window start.
  int64_t NextTimeOfDay(int64_t ms_of_day, const CellRef& cell, const char* field) {
    if (zone_ == nullptr) return kNoTime;
    const auto start =
        date::make_zoned(zone_, date::sys_time<milliseconds>{milliseconds{window_start_ms_}});
    const auto local = start.get_local_time();
    const auto midnight = date::floor<date::days>(local);
    for (int day = 0; day < 2; ++day) {
      const auto candidate = midnight + date::days{day} + milliseconds{ms_of_day};
      if (candidate < local) continue;
      return ToUtc(TimeSpec{TimeSpec::Kind::kLocal, candidate.time_since_epoch().count()}, cell,
                   field);
    }
    return kNoTime;
  }

  // A duration cell: a bare number is in the column's unit ("Duration (h)": 1.5 is 90 minutes),
  // anything else as ParseDuration reads it.
  std::optional<int64_t> DurationInUnit(std::string_view text) const {
    const int64_t unit = unit_ms_[static_cast<size_t>(Field::kDuration)];
    const std::string_view t = Trim(text);
    if (unit != 0 && !t.empty() && std::all_of(t.begin(), t.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.' || c == ',';
        })) {
      std::string number(t);
      std::replace(number.begin(), number.end(), ',', '.');
      char* end = nullptr;
      const double value = std::strtod(number.c_str(), &end);
      if (end == number.c_str() + number.size() && value >= 0 && value < 1e7) {
        return static_cast<int64_t>(value * static_cast<double>(unit) + 0.5);
      }
      return std::nullopt;
    }
    return ParseDuration(text);
  }

  // An end column: the duration is end - start; with a duration too, both must agree.
  void ReadEnd(const CellRef& end, const CellRef& duration, const CellRef& start, bool kind_given,
               crdt::TaskSpec* task) {
    if (end.text.empty()) return;
    const int64_t end_ms = ReadTime(end, "end");
    if (end_ms == kNoTime) return;  // Reported.
    if (task->planned_start_ms == kNoTime) {
      if (start.text.empty()) {
        Error(end, "end", "needs a start in the same row to give the duration");
      }
      return;
    }
    const int64_t derived = end_ms - task->planned_start_ms;
    if (derived < 0) {
      Error(end, "end", "is before the task's start (" + std::string(start.text) + ")");
      return;
    }
    if (duration.text.empty()) {
      task->duration_ms = derived;
      if (derived == 0 && !kind_given) task->kind = crdt::TaskKind::kMilestone;
      if (derived > crdt::kMaxDurationMs)
        Error(end, "end", "is more than 366 days after the start");
    } else if (task->duration_ms != derived) {
      Error(end, "end",
            "disagrees with the duration (" + std::string(duration.text) + "): start + duration " +
                "is " +
                FormatLocalTime(task->planned_start_ms + task->duration_ms,
                                options_.timezone.empty() ? "UTC" : options_.timezone) +
                " (give one of them, or make them agree)");
    }
  }

  void ReadRow(const CsvRow& row) {
    if (row.cells.size() > header_width_) {
      size_t extra = 0;
      for (size_t i = header_width_; i < row.cells.size(); ++i) {
        const bool mapped = std::find(column_of_.begin(), column_of_.end(), static_cast<int>(i)) !=
                            column_of_.end();
        if (!mapped && !Trim(row.cells[i].text).empty()) ++extra;
      }
      if (extra > 0) {
        Warn(row.line, static_cast<int>(header_width_) + 1,
             std::to_string(extra) + " cell" + (extra == 1 ? "" : "s") +
                 " beyond the last header ignored (a column without a header? map it by its "
                 "letter: --column FIELD=" +
                 ColumnLetter(header_width_) + ")");
      }
    }
    crdt::TaskSpec task;
    TaskOrigin origin;
    origin.line = row.line;
    origin.id = Cell(row, Field::kId);
    task.id = std::string(origin.id.text);
    if (task.id.empty()) Error(origin.id, "id", "is empty (every task needs an id)");
    LimitText(origin.id, "id", client::kMaxIdBytes);
    const CellRef title = Cell(row, Field::kTitle);
    task.title = std::string(title.text);
    if (task.title.empty()) Error(title, "title", "is empty (every task needs a title)");
    LimitText(title, "title", client::kMaxTitleBytes);
    for (auto [field, name, out] : {std::tuple{Field::kPhase, "phase", &task.phase},
                                    std::tuple{Field::kTeam, "team", &task.team},
                                    std::tuple{Field::kSite, "site", &task.site}}) {
      const CellRef cell = Cell(row, field);
      *out = std::string(cell.text);
      LimitText(cell, name, client::kMaxIdBytes);
    }

    const CellRef kind = Cell(row, Field::kKind);
    bool kind_given = !kind.text.empty();
    const std::string k = Normalize(kind.text);
    if (!kind_given || k == "task" || k == "activity" || k == "step") {
      task.kind = crdt::TaskKind::kTask;
    } else if (k == "milestone" || k == "ms") {
      task.kind = crdt::TaskKind::kMilestone;
    } else if (k == "gate" || k == "gonogo" || k == "gonogogate" || k == "decision") {
      task.kind = crdt::TaskKind::kGate;
    } else {
      Error(kind, "kind", "is not a kind (task, milestone, gate or go/no-go)");
      kind_given = false;
    }

    const CellRef duration = Cell(row, Field::kDuration);
    const CellRef end = Cell(row, Field::kEnd);
    if (duration.text.empty() && !end.text.empty()) {
      // Filled in from the end below, once the start is read.
    } else if (duration.text.empty()) {
      if (task.kind == crdt::TaskKind::kTask) {
        Error(duration, "duration", "is empty (use 0 for a milestone)");
      }
    } else if (auto d = DurationInUnit(duration.text)) {
      task.duration_ms = *d;
      if (*d == 0 && !kind_given) task.kind = crdt::TaskKind::kMilestone;
      if (*d > crdt::kMaxDurationMs) Error(duration, "duration", "is longer than 366 days");
    } else {
      Error(duration, "duration", std::string("is not a duration ") + kDurationHint);
    }

    task.planned_start_ms = ReadTime(Cell(row, Field::kStart), "start");
    task.not_before_ms = ReadTime(Cell(row, Field::kNotBefore), "not_before");
    ReadEnd(end, duration, Cell(row, Field::kStart), kind_given, &task);

    origin.predecessors = Cell(row, Field::kPredecessors);
    ReadPredecessors(origin.predecessors, &task, &origin);

    origin.backout = Cell(row, Field::kBackout);
    task.backout_task = std::string(origin.backout.text);
    LimitText(origin.backout, "backout", client::kMaxIdBytes);
    if (task.predecessors.size() > client::kMaxPredecessors) {
      Error(origin.predecessors, "predecessors",
            "names " + std::to_string(task.predecessors.size()) + " tasks, over the limit of " +
                std::to_string(client::kMaxPredecessors));
    }

    const CellRef is_backout = Cell(row, Field::kIsBackout);
    const std::string b = Normalize(is_backout.text);
    if (b.empty() || b == "no" || b == "n" || b == "false" || b == "0" || b == "-") {
      task.is_backout = false;
    } else if (b == "yes" || b == "y" || b == "true" || b == "1" || b == "x") {
      task.is_backout = true;
    } else {
      Error(is_backout, "is_backout", "is not yes or no");
    }
    const std::string phase = Normalize(task.phase);
    if (phase == "backout" || phase == "rollback") task.is_backout = true;

    // Site ids or team names, separated by commas or semicolons.
    const CellRef deciders = Cell(row, Field::kDeciders);
    for (std::string& name : SplitNames(deciders.text)) {
      if (std::find(task.deciders.begin(), task.deciders.end(), name) != task.deciders.end()) {
        Error(deciders, "deciders", "names \"" + name + "\" twice");
      }
      task.deciders.push_back(std::move(name));
    }
    LimitText(deciders, "deciders", client::kMaxTitleBytes);
    if (!task.deciders.empty() && task.kind != crdt::TaskKind::kGate) {
      Error(deciders, "deciders", "names deciders, but only a gate is decided (kind is not gate)");
    }

    tasks_.push_back(std::move(task));
    origins_.push_back(std::move(origin));
  }

  // Link type and lag after an id: "FS", "SS+10m", "FF-15", "+30m" (FS). Empty is FS+0.
  static bool ParseLink(std::string_view text, crdt::Dependency* dep) {
    std::string s = Lower(Trim(text));
    if (!s.empty() && s[0] == ':') s.erase(0, 1);
    if (s.size() >= 2 && IsAlpha(s[0])) {
      const std::string code = s.substr(0, 2);
      if (code == "fs") {
        dep->type = crdt::DependencyType::kFinishToStart;
      } else if (code == "ss") {
        dep->type = crdt::DependencyType::kStartToStart;
      } else if (code == "ff") {
        dep->type = crdt::DependencyType::kFinishToFinish;
      } else if (code == "sf") {
        dep->type = crdt::DependencyType::kStartToFinish;
      } else {
        return false;
      }
      s.erase(0, 2);
    }
    s = std::string(Trim(s));
    if (s.empty()) return true;
    if (s[0] != '+' && s[0] != '-') return false;
    auto lag = ParseDuration(std::string_view(s).substr(1));
    if (!lag || *lag > crdt::kMaxDurationMs) return false;
    dep->lag_ms = s[0] == '-' ? -*lag : *lag;
    return true;
  }

  // What a token that follows an id may add to it: a link type ("SS", ":FF-15") and a lag
  // ("+30m"), each at most once.
  struct LinkPart {
    bool has_type = false;
    bool has_lag = false;
  };
  static std::optional<LinkPart> LinkOnly(std::string_view token, crdt::Dependency* dep) {
    const std::string s = Lower(token);
    const size_t skip = (!s.empty() && s[0] == ':') ? 1 : 0;
    if (s.size() <= skip) return std::nullopt;
    const std::string code = s.substr(skip, 2);
    const bool typed = code == "fs" || code == "ss" || code == "ff" || code == "sf";
    if (!typed && s[skip] != '+' && s[skip] != '-') return std::nullopt;
    if (!ParseLink(token, dep)) return std::nullopt;
    return LinkPart{typed, s.size() > skip + (typed ? 2 : 0)};
  }

  void ReadPredecessors(const CellRef& cell, crdt::TaskSpec* task, TaskOrigin* origin) {
    std::vector<std::string> tokens;
    std::string current;
    for (char c : cell.text) {
      if (c == ',' || c == ';' || IsSpace(c)) {
        if (!current.empty()) tokens.push_back(std::move(current));
        current.clear();
      } else {
        current += c;
      }
    }
    if (!current.empty()) tokens.push_back(std::move(current));
    // What the previous id already has; none before the first. (A plain struct and flag, not an
    // optional: g++ 12 -O3 reports a false -Wmaybe-uninitialized on the optional.)
    bool have_last = false;
    LinkPart last;
    for (const std::string& token : tokens) {
      crdt::Dependency dep;
      if (have_last) {
        auto part = LinkOnly(token, &dep);
        if (part && !(part->has_type && (last.has_type || last.has_lag)) &&
            !(part->has_lag && last.has_lag)) {
          auto& prev = task->predecessors.back();
          if (part->has_type) prev.type = dep.type;
          if (part->has_lag) prev.lag_ms = dep.lag_ms;
          origin->predecessor_texts.back() += " " + token;
          last.has_type |= part->has_type;
          last.has_lag |= part->has_lag;
          continue;
        }
      }
      if (!SplitPredecessor(token, &dep)) {
        Error(cell.line, cell.column, "predecessors", token,
              "is not a predecessor (try T-012, T-012 FS+30m, T-012SS, T-012:FF-15)");
        have_last = false;
        continue;
      }
      const bool split = dep.task_id != token;
      last = LinkPart{split, split && dep.lag_ms != 0};
      have_last = true;
      task->predecessors.push_back(std::move(dep));
      origin->predecessor_texts.push_back(token);
    }
  }

  // "T-012", "T-012SS", "T-012:SS+10m", "T-012FS+30m"; a whole token that is a known id wins.
  bool SplitPredecessor(const std::string& token, crdt::Dependency* dep) const {
    *dep = crdt::Dependency{token, crdt::DependencyType::kFinishToStart, 0};
    if (all_ids_.count(token) > 0) return true;
    const size_t colon = token.rfind(':');
    if (colon != std::string::npos) {
      dep->task_id = token.substr(0, colon);
      return !dep->task_id.empty() && ParseLink(token.substr(colon), dep);
    }
    // A suffix link: prefer a split whose id part is known, else the first split that parses.
    std::optional<crdt::Dependency> fallback;
    for (size_t p = 1; p < token.size(); ++p) {
      crdt::Dependency candidate{token.substr(0, p), crdt::DependencyType::kFinishToStart, 0};
      const std::string suffix = Lower(token.substr(p));
      const std::string code = suffix.substr(0, 2);
      const bool typed = code == "fs" || code == "ss" || code == "ff" || code == "sf";
      const bool known = all_ids_.count(candidate.task_id) > 0;
      if (!typed && !(known && (suffix[0] == '+' || suffix[0] == '-'))) continue;
      if (!ParseLink(suffix, &candidate)) continue;
      if (known) {
        *dep = candidate;
        return true;
      }
      if (typed && !fallback) fallback = candidate;
    }
    if (fallback) *dep = *fallback;
    return true;  // Unknown ids are reported by Validate().
  }

  void Validate() {
    std::unordered_map<std::string, size_t> index;  // id -> first task with it
    for (size_t i = 0; i < tasks_.size(); ++i) {
      const auto& id = tasks_[i].id;
      if (id.empty()) continue;
      if (options_.existing_ids.count(id) > 0) {
        Error(origins_[i].id, "id", "is already a task in the plan");
        continue;
      }
      auto [it, inserted] = index.emplace(id, i);
      if (!inserted) {
        Error(origins_[i].id, "id",
              "is a duplicate (first on line " + std::to_string(origins_[it->second].line) + ")");
      }
    }
    std::vector<std::vector<size_t>> successors(tasks_.size());
    for (size_t i = 0; i < tasks_.size(); ++i) {
      const auto& task = tasks_[i];
      const auto& origin = origins_[i];
      for (size_t k = 0; k < task.predecessors.size(); ++k) {
        auto it = index.find(task.predecessors[k].task_id);
        if (it == index.end() && options_.existing_ids.count(task.predecessors[k].task_id) > 0) {
          continue;  // A task already in the plan.
        }
        if (it == index.end()) {
          Error(origin.predecessors.line, origin.predecessors.column, "predecessors",
                origin.predecessor_texts[k],
                origin.predecessor_texts[k] == task.predecessors[k].task_id
                    ? "is not a task in this plan"
                    : "names " + Quote(task.predecessors[k].task_id) +
                          ", which is not a task in this plan");
          continue;
        }
        successors[it->second].push_back(i);
      }
      if (!task.backout_task.empty()) {
        auto it = index.find(task.backout_task);
        if (it == index.end() && options_.existing_ids.count(task.backout_task) > 0) {
          // A back-out task already in the plan.
        } else if (it == index.end()) {
          Error(origin.backout, "backout", "is not a task in this plan");
        } else if (it->second == i) {
          Error(origin.backout, "backout", "is the task itself");
        } else {
          tasks_[it->second].is_backout = true;  // Named as a back-out: on the back-out path.
        }
      }
      if (task.planned_start_ms != kNoTime && window_start_ms_ != kNoTime &&
          (task.planned_start_ms < window_start_ms_ ||
           (window_end_ms_ != kNoTime && task.planned_start_ms >= window_end_ms_))) {
        Warn(origin.line, 0, "task " + task.id + " starts outside the outage window");
      }
    }
    ReportCycles(successors);
  }

  // One error per strongly connected component that contains a cycle (Tarjan, iterative).
  void ReportCycles(const std::vector<std::vector<size_t>>& successors) {
    const size_t n = successors.size();
    constexpr size_t kUnset = static_cast<size_t>(-1);
    std::vector<size_t> order(n, kUnset), low(n, 0), component(n, kUnset);
    std::vector<bool> on_stack(n, false);
    std::vector<size_t> stack;
    std::vector<std::pair<size_t, size_t>> frames;  // (node, next edge)
    size_t counter = 0, components = 0;
    for (size_t root = 0; root < n; ++root) {
      if (order[root] != kUnset) continue;
      frames.push_back({root, 0});
      while (!frames.empty()) {
        auto& [v, edge] = frames.back();
        if (edge == 0 && order[v] == kUnset) {
          order[v] = low[v] = counter++;
          stack.push_back(v);
          on_stack[v] = true;
        }
        if (edge < successors[v].size()) {
          const size_t w = successors[v][edge++];
          if (order[w] == kUnset) {
            frames.push_back({w, 0});
          } else if (on_stack[w]) {
            low[v] = std::min(low[v], order[w]);
          }
          continue;
        }
        const size_t done = v;
        frames.pop_back();
        if (!frames.empty())
          low[frames.back().first] = std::min(low[frames.back().first], low[done]);
        if (low[done] == order[done]) {
          size_t w = kUnset;
          do {
            w = stack.back();
            stack.pop_back();
            on_stack[w] = false;
            component[w] = components;
          } while (w != done);
          ++components;
        }
      }
    }
    // A component is cyclic if it has two tasks or a task that depends on itself.
    std::vector<size_t> size(components, 0);
    for (size_t v = 0; v < n; ++v) ++size[component[v]];
    std::vector<bool> cyclic(components, false);
    for (size_t v = 0; v < n; ++v) {
      cyclic[component[v]] = cyclic[component[v]] || size[component[v]] > 1 ||
                             std::count(successors[v].begin(), successors[v].end(), v) > 0;
    }
    std::vector<bool> reported(components, false);
    for (size_t start = 0; start < n; ++start) {  // File order: the first task names the cycle.
      const size_t c = component[start];
      if (reported[c] || !cyclic[c]) continue;
      // Shortest path back to `start` inside the component (BFS over successors).
      std::vector<size_t> parent(n, kUnset);
      std::vector<size_t> queue = {start};
      size_t closing = kUnset;
      for (size_t qi = 0; qi < queue.size() && closing == kUnset; ++qi) {
        for (size_t w : successors[queue[qi]]) {
          if (component[w] != c) continue;
          if (w == start) {
            closing = queue[qi];
            break;
          }
          if (parent[w] == kUnset) {
            parent[w] = queue[qi];
            queue.push_back(w);
          }
        }
      }
      if (closing == kUnset) continue;  // Not on a cycle.
      reported[c] = true;
      std::vector<size_t> path;
      for (size_t v = closing; v != start; v = parent[v]) path.push_back(v);
      std::string text = tasks_[start].id;
      for (auto it = path.rbegin(); it != path.rend(); ++it) text += " -> " + tasks_[*it].id;
      text += " -> " + tasks_[start].id;
      Error(origins_[start].predecessors.line, origins_[start].predecessors.column, "predecessors",
            "", "dependency cycle: " + text);
    }
  }

  void BuildPlan() {
    if (!errors_.empty()) return;
    plan_.runbook_id = options_.runbook_id;
    plan_.name = options_.name;
    plan_.timezone = options_.timezone.empty() ? "UTC" : options_.timezone;
    plan_.window_start_ms = window_start_ms_;
    plan_.window_end_ms = window_end_ms_;
    std::set<std::string> teams, sites;
    for (const auto& t : tasks_) {
      if (!t.team.empty()) teams.insert(t.team);
      if (!t.site.empty()) sites.insert(t.site);
    }
    if (teams.size() > client::kMaxPlanTeams || sites.size() > client::kMaxPlanSites) {
      Error(0, 0, teams.size() > client::kMaxPlanTeams ? "team" : "site", "",
            "the plan names " + std::to_string(teams.size()) + " teams and " +
                std::to_string(sites.size()) + " sites, over the limit of " +
                std::to_string(client::kMaxPlanTeams) + " each");
      return;
    }
    plan_.teams.assign(teams.begin(), teams.end());
    for (const auto& s : sites) {
      crdt::SiteInfo info;
      info.id = s;
      info.name = s;
      info.role = crdt::SiteRole::kSite;
      plan_.sites.push_back(std::move(info));
    }
    plan_.tasks = std::move(tasks_);
  }

  std::string_view csv_text_;
  std::string converted_;  // The text converted to UTF-8, when it came in another encoding.
  const ImportOptions& options_;
  std::string source_;
  const date::time_zone* zone_ = nullptr;
  int64_t window_start_ms_ = kNoTime;
  int64_t window_end_ms_ = kNoTime;
  int header_line_ = 1;
  size_t header_width_ = 0;
  std::array<int, kFieldCount> column_of_{};  // Field -> 0-based column, -1 if absent.
  // Field -> the zone its header names (time columns), the ms per unit of its bare numbers
  // (duration); nullptr / 0 when the header names none.
  std::array<const date::time_zone*, kFieldCount> zone_of_{};
  std::array<int64_t, kFieldCount> unit_ms_{};
  std::set<std::string> all_ids_;  // Every id cell, for splitting "T-012SS".
  std::vector<crdt::TaskSpec> tasks_;
  std::vector<TaskOrigin> origins_;
  std::vector<ImportError> errors_;
  std::vector<std::string> warnings_;
  crdt::Plan plan_;
};

}  // namespace

std::string ImportError::ToString() const {
  std::string out = source.empty() ? "<input>" : source;
  if (line > 0) out += ":" + std::to_string(line);
  if (line > 0 && column > 0) out += ":" + std::to_string(column);
  out += ": ";
  if (!field.empty()) out += "field " + Quote(field) + ": ";
  if (!value.empty()) out += Quote(value) + " ";
  return out + message;
}

Result<ImportResult> ImportPlanCsv(std::string_view csv_text, const ImportOptions& options,
                                   std::vector<ImportError>* errors) {
  if (errors != nullptr) errors->clear();
  try {
    return Importer(csv_text, options).Run(errors);
  } catch (const std::exception& e) {
    // The zone database is read lazily by the date library and reports problems by throwing.
    return Status::InvalidArgument(options.source_name + ": " + e.what());
  }
}

Result<ImportResult> ImportPlanFile(const std::filesystem::path& path, ImportOptions options,
                                    std::vector<ImportError>* errors) {
  if (options.source_name.empty()) options.source_name = path.string();
  auto text = identity::ReadFileUpTo(path, kMaxPlanFileBytes);
  if (!text.ok()) {
    const bool large = text.status().code() == StatusCode::kInvalidArgument;
    const std::string why = large ? "is over the limit of " + std::to_string(kMaxPlanFileBytes) +
                                        " bytes for a plan file"
                                  : "cannot be read";
    if (errors != nullptr) *errors = {ImportError{0, 0, "", "", why, options.source_name}};
    return Status(large ? StatusCode::kInvalidArgument : StatusCode::kIOError,
                  options.source_name + ": " + why);
  }
  return ImportPlanCsv(*text, options, errors);
}

std::vector<std::string> SplitNames(std::string_view text) {
  std::vector<std::string> names;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t cut = rest.find_first_of(",;");
    std::string name(Trim(rest.substr(0, cut)));
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
    if (!name.empty()) names.push_back(std::move(name));
  }
  return names;
}

Result<int64_t> ParseDurationMs(std::string_view text) {
  if (auto d = ParseDuration(text)) return *d;
  return Status::InvalidArgument(Quote(text) + " is not a duration " + kDurationHint);
}

std::string FormatLocalTime(int64_t utc_ms, const std::string& timezone) {
  if (utc_ms == crdt::kNoTime) return "?";
  try {
    const auto t = date::make_zoned(
        timezone,
        date::floor<std::chrono::minutes>(date::sys_time<milliseconds>{milliseconds{utc_ms}}));
    return date::format("%a %Y-%m-%d %H:%M %Z", t);
  } catch (const std::exception&) {
    return "?";
  }
}

Status RebasePlan(crdt::Plan* plan, int64_t new_window_start_ms) {
  if (plan->window_start_ms == crdt::kNoTime) {
    return Status::InvalidArgument("cannot rebase a plan without a window start");
  }
  const int64_t delta = new_window_start_ms - plan->window_start_ms;
  auto shift = [delta](int64_t& t) {
    if (t != crdt::kNoTime) t += delta;
  };
  shift(plan->window_start_ms);
  shift(plan->window_end_ms);
  for (auto& t : plan->tasks) {
    shift(t.planned_start_ms);
    shift(t.not_before_ms);
  }
  return Status::Ok();
}

}  // namespace baton::tools
