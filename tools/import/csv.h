// CSV as spreadsheets export it: UTF-8 with or without BOM, CRLF or LF, quoted cells holding
// delimiters, quotes ("") and newlines. Every cell remembers the physical line it starts on, so
// line numbers stay right after a multi-line cell. The delimiter (comma, semicolon or tab) is
// taken from the first line. No type conversion and no header handling: see plan_import.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace baton::tools {

struct CsvCell {
  std::string text;  // Unquoted; a CRLF inside a quoted cell becomes "\n".
  int line = 0;      // 1-based physical line where the cell starts.
};

struct CsvRow {
  int line = 0;  // 1-based physical line where the record starts.
  std::vector<CsvCell> cells;
};

struct CsvTable {
  char delimiter = ',';
  std::vector<CsvRow> rows;  // Every record, blank ones included.
  // Set when the input ends inside a quoted cell: where that cell starts (1-based), else 0.
  int unclosed_quote_line = 0;
  int unclosed_quote_column = 0;
};

// Never fails: malformed quoting is read leniently, except a quote left open at the end of the
// input, which is reported through `unclosed_quote_line`.
CsvTable ParseCsv(std::string_view text);

}  // namespace baton::tools
