// See client/cli/render.h. date::'s exceptions (unknown zone, bad local time) stop here.
#include "client/cli/render.h"

#include <date/date.h>
#include <date/tz.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>

#include "client/protocol.h"
#include "crdt/event.h"

namespace baton::client::cli {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

int64_t Abs(int64_t v) { return v < 0 ? -v : v; }

std::string Two(int64_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02lld", static_cast<long long>(v));
  return buf;
}

const date::time_zone* FindZone(const std::string& tz) {
  try {
    return date::locate_zone(tz.empty() ? "UTC" : tz);
  } catch (const std::exception&) {
    return nullptr;
  }
}

// Reads exactly `n` digits at `pos` (advancing it); nullopt otherwise.
std::optional<int> Digits(std::string_view s, size_t& pos, size_t min_n, size_t max_n) {
  size_t n = 0;
  int value = 0;
  while (pos + n < s.size() && n < max_n && std::isdigit(static_cast<unsigned char>(s[pos + n]))) {
    value = value * 10 + (s[pos + n] - '0');
    ++n;
  }
  if (n < min_n) return std::nullopt;
  pos += n;
  return value;
}

// "HH:MM[:SS]" from `pos` to the end -> seconds of the day; nullopt if not that shape.
std::optional<int> TimeOfDay(std::string_view s, size_t pos) {
  auto h = Digits(s, pos, 1, 2);
  if (!h || pos >= s.size() || s[pos] != ':') return std::nullopt;
  ++pos;
  auto m = Digits(s, pos, 2, 2);
  if (!m) return std::nullopt;
  int sec = 0;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    auto sv = Digits(s, pos, 2, 2);
    if (!sv) return std::nullopt;
    sec = *sv;
  }
  if (pos != s.size() || *h > 23 || *m > 59 || sec > 59) return std::nullopt;
  return *h * 3600 + *m * 60 + sec;
}

struct LocalDate {
  int y = 0;
  int m = 0;
  int d = 0;
};

// "YYYY-MM-DD" followed by ' ' or 'T'; advances pos past the separator.
std::optional<LocalDate> DatePart(std::string_view s, size_t& pos) {
  auto y = Digits(s, pos, 4, 4);
  if (!y || pos >= s.size() || s[pos] != '-') return std::nullopt;
  ++pos;
  auto m = Digits(s, pos, 2, 2);
  if (!m || pos >= s.size() || s[pos] != '-') return std::nullopt;
  ++pos;
  auto d = Digits(s, pos, 2, 2);
  if (!d || pos >= s.size() || (s[pos] != ' ' && s[pos] != 'T')) return std::nullopt;
  ++pos;
  return LocalDate{*y, *m, *d};
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string LocalText(date::local_seconds t) { return date::format("%Y-%m-%d %H:%M", t); }

// The UTC instants (ms) that local time `t` in `zone` stands for: one, or two when clocks go
// back. kInvalidArgument when it does not exist (clocks jump forward).
Result<std::vector<int64_t>> Resolve(const date::time_zone* zone, date::local_seconds t,
                                     const std::string& what) {
  const date::local_info info = zone->get_info(t);
  auto utc = [&](const date::sys_info& i) {
    return std::chrono::duration_cast<milliseconds>((t - i.offset).time_since_epoch()).count();
  };
  switch (info.result) {
    case date::local_info::unique:
      return std::vector<int64_t>{utc(info.first)};
    case date::local_info::ambiguous:
      return std::vector<int64_t>{utc(info.first), utc(info.second)};
    case date::local_info::nonexistent:
      break;
  }
  return Status::InvalidArgument(what + ": " + LocalText(t) + " does not exist in " + zone->name() +
                                 " (clocks jump forward for daylight saving time)");
}

}  // namespace

// ---- Durations and times --------------------------------------------------------------------

std::string FormatDuration(int64_t ms) {
  const std::string sign = ms < 0 ? "-" : "";
  const int64_t a = Abs(ms);
  if (a > 0 && a < 60'000) return sign + std::to_string(a / 1000) + "s";
  const int64_t minutes = a / 60'000;
  const int64_t hours = minutes / 60;
  const int64_t days = hours / 24;
  if (days > 0) {
    return sign + std::to_string(days) + "d " + Two(hours % 24) + "h " + Two(minutes % 60) + "m";
  }
  if (hours > 0) return sign + std::to_string(hours) + "h " + Two(minutes % 60) + "m";
  return sign + std::to_string(minutes) + "m";
}

std::string FormatTime(int64_t utc_ms, const std::string& tz, TimeStyle style) {
  if (utc_ms == crdt::kNoTime) return "-";
  const char* pattern = "%a %H:%M %Z";
  if (style == TimeStyle::kShort) pattern = "%H:%M";
  if (style == TimeStyle::kFull) pattern = "%a %Y-%m-%d %H:%M %Z";
  const date::sys_time<std::chrono::minutes> t =
      date::floor<std::chrono::minutes>(date::sys_time<milliseconds>{milliseconds{utc_ms}});
  const date::time_zone* zone = FindZone(tz);
  if (zone == nullptr)
    return date::format(style == TimeStyle::kShort ? "%H:%M" : "%F %H:%M UTC", t);
  return date::format(pattern, date::make_zoned(zone, t));
}

namespace {

// "10m", "1h 30m", "1h30m", "90s", "2d": a sum of whole numbers with units; nullopt otherwise.
std::optional<int64_t> RelativeSpan(std::string_view text) {
  int64_t total = 0;
  bool any = false;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    int64_t n = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 6) {
      n = n * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || i >= text.size()) return std::nullopt;
    int64_t unit = 0;
    switch (text[i]) {
      case 'd':
        unit = 86'400'000;
        break;
      case 'h':
        unit = 3'600'000;
        break;
      case 'm':
        unit = 60'000;
        break;
      case 's':
        unit = 1'000;
        break;
      default:
        return std::nullopt;
    }
    ++i;
    total += n * unit;
    any = true;
  }
  if (!any) return std::nullopt;
  return total;
}

}  // namespace

Result<int64_t> ParseAtTime(std::string_view raw, const std::string& tz, int64_t now_ms,
                            std::string_view option) {
  const std::string what = std::string(option) + " " + Quote(raw);
  std::string_view text = raw;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  // "-10m", "-1h 30m", "10m ago": that long before now.
  const bool ago = text.size() > 4 && text.substr(text.size() - 4) == " ago";
  if ((!text.empty() && text.front() == '-') || ago) {
    std::string_view span = ago ? text.substr(0, text.size() - 4) : text.substr(1);
    auto ms = RelativeSpan(span);
    if (!ms) {
      return Status::InvalidArgument(what +
                                     ": expected a span before now such as -10m, -1h 30m or "
                                     "\"2h ago\" (units d, h, m, s)");
    }
    return now_ms - *ms;
  }
  const date::time_zone* zone = FindZone(tz);
  if (zone == nullptr) {
    return Status::InvalidArgument(what + ": time zone " + Quote(tz) +
                                   " is not in the IANA database");
  }
  // "02:10": today, or the most recent such time that is not in the future.
  if (auto tod = TimeOfDay(text, 0)) {
    const auto now = date::sys_time<milliseconds>{milliseconds{now_ms}};
    const date::local_days today =
        date::floor<date::days>(date::make_zoned(zone, now).get_local_time());
    for (int back = 0; back <= 1; ++back) {
      const date::local_seconds t = today - date::days{back} + seconds{*tod};
      BATON_ASSIGN_OR_RETURN(std::vector<int64_t> candidates, Resolve(zone, t, what));
      std::optional<int64_t> best;
      for (int64_t c : candidates) {
        if (c <= now_ms && (!best || c > *best)) best = c;
      }
      if (best) return *best;
    }
    return Status::InvalidArgument(what + ": no such time in the last day");
  }
  // "2026-03-28 02:10": local time in the runbook's zone.
  size_t pos = 0;
  if (auto d = DatePart(text, pos)) {
    if (auto tod = TimeOfDay(text, pos)) {
      const date::year_month_day ymd{date::year{d->y}, date::month{static_cast<unsigned>(d->m)},
                                     date::day{static_cast<unsigned>(d->d)}};
      if (!ymd.ok()) return Status::InvalidArgument(what + ": no such date");
      const date::local_seconds t = date::local_days{ymd} + seconds{*tod};
      BATON_ASSIGN_OR_RETURN(std::vector<int64_t> candidates, Resolve(zone, t, what));
      if (candidates.size() > 1) {
        return Status::InvalidArgument(what + ": " + LocalText(t) + " happens twice in " +
                                       zone->name() + " (clocks go back); give an offset, e.g. " +
                                       date::format("%Y-%m-%dT%H:%M", t) + "+01:00");
      }
      return candidates.front();
    }
  }
  auto iso = ParseIsoTime(text);
  if (iso.ok()) return *iso;
  return Status::InvalidArgument(what + ": expected 02:10, 2026-03-28 02:10 (in " + zone->name() +
                                 ") or ISO 8601 with an offset (2026-03-28T01:10:00Z)");
}

// ---- Colour ---------------------------------------------------------------------------------

std::string Style::Paint(std::string_view text, Color c) const {
  if (!color || c == Color::kNone || text.empty()) return std::string(text);
  const char* code = "";
  switch (c) {
    case Color::kNone:
      return std::string(text);
    case Color::kBold:
      code = "1";
      break;
    case Color::kDim:
      code = "2";
      break;
    case Color::kRed:
      code = "31";
      break;
    case Color::kGreen:
      code = "32";
      break;
    case Color::kYellow:
      code = "33";
      break;
    case Color::kBlue:
      code = "34";
      break;
    case Color::kCyan:
      code = "36";
      break;
    case Color::kInverse:
      code = "7";
      break;
  }
  return std::string("\x1b[") + code + "m" + std::string(text) + "\x1b[0m";
}

bool ColorWanted(bool no_color_flag) {
  if (no_color_flag) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  return isatty(STDOUT_FILENO) == 1;
}

namespace {

// $`variable` if a positive number, else the tty's size along `dimension` (a winsize member),
// else 0.
int TerminalSize(const char* variable, unsigned short winsize::*dimension) {
  if (const char* value = std::getenv(variable)) {
    const int n = std::atoi(value);
    if (n > 0) return n;
  }
  winsize ws{};
  if (isatty(STDOUT_FILENO) == 1 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
    return ws.*dimension;
  return 0;
}

}  // namespace

int TerminalWidth() { return TerminalSize("COLUMNS", &winsize::ws_col); }
int TerminalHeight() { return TerminalSize("LINES", &winsize::ws_row); }

Color StatusColor(std::string_view status) {
  if (status == "running") return Color::kYellow;
  if (status == "done") return Color::kGreen;
  if (status == "failed" || status == "blocked") return Color::kRed;
  if (status == "ready") return Color::kCyan;
  if (status == "skipped") return Color::kDim;
  return Color::kNone;
}

// ---- Text measures --------------------------------------------------------------------------

size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0x1b && i + 1 < text.size() && text[i + 1] == '[') {
      i += 2;
      while (i < text.size() && !std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++width;  // Not a UTF-8 continuation byte.
  }
  return width;
}

std::string Truncate(std::string_view text, size_t width) {
  if (DisplayWidth(text) <= width) return std::string(text);
  if (width == 0) return "";
  // Keep width - 1 visible code points (and any escape sequences among them), then "…".
  size_t kept = 0;
  size_t end = 0;
  bool escaped = false;
  while (end < text.size()) {
    if (text[end] == '\x1b' && end + 1 < text.size() && text[end + 1] == '[') {
      size_t next = end + 2;
      while (next < text.size() && !std::isalpha(static_cast<unsigned char>(text[next]))) ++next;
      end = std::min(next + 1, text.size());
      escaped = true;
      continue;
    }
    if (kept + 1 > width - 1) break;
    size_t next = end + 1;
    while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
    ++kept;
    end = next;
  }
  return std::string(text.substr(0, end)) + (escaped ? "\x1b[0m" : "") + "\xe2\x80\xa6";
}

std::string ProgressBar(int done, int total, int bar_width) {
  bar_width = std::max(bar_width, 1);
  const int clamped = std::clamp(done, 0, std::max(total, 0));
  const int filled = total > 0 ? static_cast<int>(int64_t{clamped} * bar_width / total) : 0;
  const int percent = total > 0 ? static_cast<int>(int64_t{clamped} * 100 / total) : 0;
  return "[" + std::string(static_cast<size_t>(filled), '#') +
         std::string(static_cast<size_t>(bar_width - filled), '-') + "] " +
         std::to_string(percent) + "%";
}

// ---- Tables ---------------------------------------------------------------------------------

void Table::AddRow(std::vector<Cell> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render(int max_width, const Style& style, size_t min_flex) const {
  const size_t n = columns_.size();
  if (n == 0) return "";
  std::vector<size_t> widths(n, 0);
  for (size_t c = 0; c < n; ++c) {
    widths[c] = DisplayWidth(columns_[c].header);
    for (const auto& row : rows_) widths[c] = std::max(widths[c], DisplayWidth(row[c].text));
  }
  size_t total = 2 * (n - 1);
  for (size_t w : widths) total += w;
  if (max_width > 0 && total > static_cast<size_t>(max_width)) {
    // Flexible columns give way in order, each down to its floor, until the table fits.
    for (size_t c = 0; c < n && total > static_cast<size_t>(max_width); ++c) {
      if (!columns_[c].flexible) continue;
      const size_t excess = total - static_cast<size_t>(max_width);
      const size_t floor =
          std::min(widths[c], std::max(min_flex, DisplayWidth(columns_[c].header)));
      const size_t narrowed = std::max(floor, widths[c] > excess ? widths[c] - excess : 0);
      total -= widths[c] - narrowed;
      widths[c] = narrowed;
    }
  }
  auto line = [&](const std::vector<Cell>& cells, bool header) {
    std::string out;
    for (size_t c = 0; c < n; ++c) {
      std::string text = Truncate(cells[c].text, widths[c]);
      const size_t pad = widths[c] - DisplayWidth(text);
      const bool last = c + 1 == n;
      const Color color = header ? Color::kBold : cells[c].color;
      if (columns_[c].right) {
        out += std::string(pad, ' ') + style.Paint(text, color);
      } else {
        out += style.Paint(text, color);
        if (!last) out += std::string(pad, ' ');
      }
      if (!last) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::vector<Cell> header;
  for (const auto& col : columns_) header.push_back(Cell{col.header, Color::kNone});
  std::string out = line(header, true);
  for (const auto& row : rows_) out += line(row, false);
  return out;
}

}  // namespace baton::client::cli
