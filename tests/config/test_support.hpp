// Helpers shared by the config tests: a temporary directory that cleans up after itself, file writing, dummy
// plugin files, and running the loader to get its diagnostics.
#pragma once

#include "config/config.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace ringd::config::test {

class TempDir {
public:
    TempDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "ringd-config-test-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

    // Writes `text` to path()/relative, creating directories as needed.
    std::filesystem::path write(const std::filesystem::path& relative, const std::string& text) const
    {
        const std::filesystem::path file = path_ / relative;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << text;
        return file;
    }

    // Empty NAME.so files in path()/relative_dir: enough for check_plugin_files, which only looks for the file.
    std::filesystem::path plugins(const std::filesystem::path& relative_dir,
                                  std::initializer_list<const char*> names) const
    {
        std::filesystem::create_directories(path_ / relative_dir);
        for (const char* name : names)
            write(relative_dir / (std::string(name) + ".so"), "");
        return path_ / relative_dir;
    }

private:
    std::filesystem::path path_;
};

// The diagnostics of a config expected to be invalid; fails the test if it loads.
inline std::vector<Diagnostic> errors_of(const std::string& yaml, const std::filesystem::path& base_dir,
                                         const LoadOptions& options)
{
    try {
        (void)parse_config(yaml, "test.yaml", base_dir, options);
    } catch (const ConfigErrors& e) {
        return e.diagnostics();
    }
    FAIL("expected ConfigErrors for:\n" << yaml);
    return {};
}

// Every diagnostic on its own line, for readable failure messages.
inline std::string dump(const std::vector<Diagnostic>& diagnostics)
{
    std::string text;
    for (const Diagnostic& d : diagnostics)
        text += d.str() + "\n";
    return text;
}

} // namespace ringd::config::test
