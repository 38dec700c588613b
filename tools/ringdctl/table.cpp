// Rendering ringdctl's tables; see table.hpp.
#include "table.hpp"

#include <algorithm>
#include <stdexcept>

namespace ringd::ctl {
namespace {

// Characters in UTF-8 text: every byte but the continuation bytes (10xxxxxx) starts one.
std::size_t display_width(const std::string& text)
{
    return static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

} // namespace

void Table::add_row(std::vector<std::string> cells)
{
    if (cells.size() > columns_.size()) throw std::invalid_argument("table row has more cells than columns");
    cells.resize(columns_.size());
    rows_.push_back(std::move(cells));
}

std::string Table::render() const
{
    std::vector<std::size_t> widths;
    for (const Column& column : columns_)
        widths.push_back(display_width(column.title));
    for (const auto& row : rows_) {
        for (std::size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], display_width(row[i]));
    }
    std::string out;
    const auto render_row = [&](const std::vector<std::string>& cells) {
        std::string line;
        for (std::size_t i = 0; i < cells.size(); ++i) {
            const std::string padding(widths[i] - display_width(cells[i]), ' ');
            if (i > 0) line += "  ";
            line += columns_[i].align == Align::right ? padding + cells[i] : cells[i] + padding;
        }
        line.erase(line.find_last_not_of(' ') + 1);
        out += line + '\n';
    };
    std::vector<std::string> titles;
    for (const Column& column : columns_)
        titles.push_back(column.title);
    render_row(titles);
    for (const auto& row : rows_)
        render_row(row);
    return out;
}

} // namespace ringd::ctl
