// queue/sql_port.cpp: the port's parameter and row types.
#include "queue/sql_port.h"

#include <cstdlib>

#include <stdexcept>

namespace crmsync::engine {

std::string SqlArg::ToText() const {
  if (is_null()) return "";
  if (is_int()) return std::to_string(as_int());
  return std::string(as_text());
}

const SqlRows::Cell& SqlRows::At(int row, int col) const {
  if (row < 0 || row >= Rows() || col < 0 || col >= static_cast<int>(rows_[row].size())) {
    throw std::out_of_range("row " + std::to_string(row) + " column " + std::to_string(col) +
                     " is past the statement's result");
  }
  return rows_[row][col];
}

void SqlRows::Append(SqlRows&& more) {
  for (auto& row : more.rows_) rows_.push_back(std::move(row));
}

bool SqlRows::IsNull(int row, int col) const {
  return std::holds_alternative<std::monostate>(At(row, col));
}

int64_t SqlRows::Int(int row, int col) const {
  const Cell& cell = At(row, col);
  if (const auto* n = std::get_if<int64_t>(&cell)) return *n;
  if (const auto* text = std::get_if<std::string>(&cell)) return std::strtoll(text->c_str(), nullptr, 10);
  return 0;
}

std::string SqlRows::Text(int row, int col) const {
  const Cell& cell = At(row, col);
  if (const auto* text = std::get_if<std::string>(&cell)) return *text;
  if (const auto* n = std::get_if<int64_t>(&cell)) return std::to_string(*n);
  return "";
}

std::optional<std::string> SqlRows::OptText(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Text(row, col);
}

}  // namespace crmsync::engine
