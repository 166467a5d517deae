// RFC 4180 reader with the leniencies spreadsheets need; see csv.h.
#include "tools/import/csv.h"

#include <array>
#include <cstddef>

namespace baton::tools {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// The most frequent of , ; TAB outside quotes on the first line; comma on a tie.
char DetectDelimiter(std::string_view text) {
  constexpr std::array<char, 3> kCandidates = {',', ';', '\t'};
  std::array<int, 3> counts = {0, 0, 0};
  bool in_quotes = false;
  for (char c : text) {
    if (c == '"') in_quotes = !in_quotes;
    if (in_quotes) continue;
    if (c == '\n' || c == '\r') break;
    for (size_t i = 0; i < kCandidates.size(); ++i) {
      if (c == kCandidates[i]) ++counts[i];
    }
  }
  size_t best = 0;
  for (size_t i = 1; i < kCandidates.size(); ++i) {
    if (counts[i] > counts[best]) best = i;
  }
  return kCandidates[best];
}

}  // namespace

CsvTable ParseCsv(std::string_view text) {
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());
  CsvTable table;
  table.delimiter = DetectDelimiter(text);
  const char delim = table.delimiter;

  int line = 1;
  CsvRow row{line, {}};
  CsvCell cell{"", line};
  bool cell_quoted = false;  // The current cell opened with a quote.
  bool in_quotes = false;
  auto end_cell = [&] {
    row.cells.push_back(std::move(cell));
    cell = CsvCell{"", line};
    cell_quoted = false;
  };

  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const char c = text[i];
    const bool crlf = c == '\r' && i + 1 < n && text[i + 1] == '\n';
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < n && text[i + 1] == '"') {
          cell.text += '"';
          i += 2;
        } else {
          in_quotes = false;
          ++i;
        }
        continue;
      }
      if (c == '\n' || c == '\r') {
        cell.text += '\n';
        ++line;
        i += crlf ? 2 : 1;
        continue;
      }
      cell.text += c;
      ++i;
      continue;
    }
    if (c == '"' && cell.text.empty() && !cell_quoted) {
      in_quotes = true;
      cell_quoted = true;
      ++i;
      continue;
    }
    if (c == delim) {
      end_cell();
      ++i;
      continue;
    }
    if (c == '\n' || c == '\r') {
      end_cell();
      table.rows.push_back(std::move(row));
      ++line;
      row = CsvRow{line, {}};
      cell.line = line;
      i += crlf ? 2 : 1;
      continue;
    }
    cell.text += c;  // Includes a stray quote inside an unquoted cell, kept as written.
    ++i;
  }
  if (in_quotes) {
    table.unclosed_quote_line = cell.line;
    table.unclosed_quote_column = static_cast<int>(row.cells.size()) + 1;
  }
  // A last record without a final newline.
  if (!row.cells.empty() || !cell.text.empty() || cell_quoted) {
    end_cell();
    table.rows.push_back(std::move(row));
  }
  return table;
}

}  // namespace baton::tools
