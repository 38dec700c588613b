// A plain-text table for ringdctl's output: a header row, columns two spaces apart, numbers right-aligned, no
// trailing blanks. Widths count characters, not bytes, so a UTF-8 path does not shift its row.
#pragma once

#include <string>
#include <vector>

namespace ringd::ctl {

class Table {
public:
    enum class Align { left, right };
    struct Column {
        std::string title;
        Align align = Align::left;
    };

    explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

    // One row; missing cells are blank, extra cells are an error (std::invalid_argument).
    void add_row(std::vector<std::string> cells);
    [[nodiscard]] std::string render() const;

private:
    std::vector<Column> columns_;
    std::vector<std::vector<std::string>> rows_;
};

} // namespace ringd::ctl
