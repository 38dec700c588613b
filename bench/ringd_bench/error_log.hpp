// ErrorLog: describes the first few errors of a run on stderr and counts the rest silently, so a broken
// server yields a readable diagnosis instead of a flood.
#pragma once

#include <iostream>
#include <string>

namespace ringd_bench {

class ErrorLog {
public:
    static constexpr unsigned kShown = 5;

    void note(const std::string& what)
    {
        if (shown_ < kShown)
            std::cerr << "ringd-bench: error: " << what << "\n";
        else if (shown_ == kShown)
            std::cerr << "ringd-bench: (further errors are only counted)\n";
        ++shown_;
    }

private:
    unsigned shown_ = 0;
};

} // namespace ringd_bench
