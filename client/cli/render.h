// Formatting primitives of the `baton` CLI: durations ("2h 05m"), instants in the runbook's IANA
// time zone with its abbreviation, the `--at` time parser, aligned tables that fit the terminal,
// ANSI colour (only when asked for) and a progress bar.
// Pure except TerminalWidth() and ColorWanted(), which read the environment and stdout.
// Widths count UTF-8 code points, not bytes; wide (CJK) characters are not special-cased.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/status.h"

namespace baton::client::cli {

// ---- Durations and times --------------------------------------------------------------------

// "2h 05m", "45m", "1d 02h 05m", "30s" (under a minute), "0m"; negative values get a "-".
std::string FormatDuration(int64_t ms);

// An instant (epoch ms) in zone `tz` (IANA), e.g. "Sat 02:10 CET" (kClock), "Sat 2026-03-28
// 02:10 CET" (kFull) or "02:10" (kShort). "-" for kNoTime; the UTC form if `tz` is unknown.
enum class TimeStyle { kShort, kClock, kFull };
std::string FormatTime(int64_t utc_ms, const std::string& tz, TimeStyle style = TimeStyle::kClock);

// The value of `--at`, as epoch ms. Accepted:
//   "02:10" / "2:10"          today in `tz`, or the most recent such time not after `now_ms`;
//   "2026-03-28 02:10[:ss]"   local time in `tz` (also with a 'T' between date and time);
//   "2026-03-28T02:10:00Z", "...+01:00"   ISO 8601 with an offset;
//   "-10m", "-1h 30m", "2h ago"   that long before `now_ms` (units d, h, m, s).
// kInvalidArgument names the text: a local time that does not exist in `tz` (clocks jump) or
// happens twice (clocks go back; then an offset is needed), or an unknown zone. `option` names
// the option in messages.
Result<int64_t> ParseAtTime(std::string_view text, const std::string& tz, int64_t now_ms,
                            std::string_view option = "--at");

// ---- Colour ---------------------------------------------------------------------------------

enum class Color { kNone, kBold, kDim, kRed, kGreen, kYellow, kBlue, kCyan, kInverse };

// Paints text with ANSI codes when enabled; otherwise returns it unchanged.
struct Style {
  bool color = false;
  std::string Paint(std::string_view text, Color c) const;
};

// True when stdout is a terminal, NO_COLOR is unset or empty and `no_color_flag` is false.
bool ColorWanted(bool no_color_flag);
// $COLUMNS if a positive number, else the terminal's width (ioctl on stdout), else 0 (unlimited).
int TerminalWidth();
// Rows of the terminal on stdout ($LINES, else the tty's size); 0 when unknown or not a tty.
int TerminalHeight();

// The colour that a task status is shown in ("running" yellow, "failed" red, ...).
Color StatusColor(std::string_view status);

// ---- Text measures --------------------------------------------------------------------------

// Code points in `text` (ANSI escape sequences count zero).
size_t DisplayWidth(std::string_view text);
// `text` cut to at most `width` columns, ending in "…" when cut; whole code points only.
std::string Truncate(std::string_view text, size_t width);

// "[#########-----------] 45%" with a bar of `bar_width` cells; total 0 shows an empty bar.
std::string ProgressBar(int done, int total, int bar_width);

// ---- Tables ---------------------------------------------------------------------------------

// Columns separated by two spaces, headers first, each column as wide as its widest cell. If
// the table is wider than `max_width` (> 0), the flexible column (the first one marked, e.g. a
// title) is shrunk down to `min_flex` and its cells truncated; other columns are never cut.
class Table {
 public:
  struct Column {
    std::string header;
    bool right = false;     // Right-aligned (numbers, durations).
    bool flexible = false;  // May be truncated to fit.
  };
  struct Cell {
    std::string text;
    Color color = Color::kNone;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  // Missing cells are blank; extra ones are dropped.
  void AddRow(std::vector<Cell> cells);
  size_t rows() const { return rows_.size(); }

  // Lines end with '\n'; no trailing spaces. Headers are bold when `style.color`.
  std::string Render(int max_width, const Style& style, size_t min_flex = 12) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<Cell>> rows_;
};

}  // namespace baton::client::cli
