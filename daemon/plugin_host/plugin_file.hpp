// The file a plugin is loaded from, opened once: the inode the host checks (device, inode, size, mtime) is the
// inode it hands to the dynamic linker, through the name /proc/<pid>/fd/N of the open descriptor, and the
// descriptor stays open while the library is loaded. So a reload sees a replaced .so as the different file it
// is, and no check-then-open race can load another file than the one looked at. The real path is kept for
// every message: the /proc name means nothing to a reader.
#pragma once

#include "util/unique_fd.hpp"

#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <sys/types.h>

namespace ringd::plugin_host {

// Loading failed: missing file, dlopen error, missing entry symbol, ABI mismatch. what() names the file.
class PluginLoadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Which file, and which version of it: a file replaced by install(1), mv or a linker is a new inode; one
// rewritten in place (cp onto it) keeps its inode but not its size or mtime.
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec mtime{};

    [[nodiscard]] bool same_inode(const FileIdentity& other) const
    {
        return device == other.device && inode == other.inode;
    }
    [[nodiscard]] bool same_version(const FileIdentity& other) const
    {
        return same_inode(other) && size == other.size && mtime.tv_sec == other.mtime.tv_sec &&
               mtime.tv_nsec == other.mtime.tv_nsec;
    }
};

// mtime as UTC ISO 8601 with nanoseconds: "2026-11-21T10:04:05.123456789Z".
[[nodiscard]] std::string format_mtime(const timespec& mtime);

class PluginFile {
public:
    // Opens `path`, which must be a regular file. Throws PluginLoadError ("cannot load plugin PATH: why").
    [[nodiscard]] static PluginFile open(const std::filesystem::path& path);

    // A copy of the file's current bytes in an anonymous memory file (memfd), with an inode of its own: what
    // gets loaded when the dynamic linker already holds this file's inode. Same path() for messages;
    // identity() stays the original file's. Throws PluginLoadError.
    [[nodiscard]] PluginFile copy_to_memory() const;

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] const FileIdentity& identity() const { return identity_; }
    [[nodiscard]] bool is_memory_copy() const { return memory_copy_; }
    // The name the dynamic linker is given: "/proc/<pid>/fd/N", unique while this descriptor is open.
    [[nodiscard]] std::string proc_name() const;
    // Moves the file to a new descriptor number, for a retry under a fresh /proc name. Returns the old
    // descriptor: keep it open until the retry is over, so that the new number differs. Throws PluginLoadError.
    [[nodiscard]] UniqueFd renumber();
    [[nodiscard]] int fd() const { return fd_.get(); }
    // Gives up the descriptor (for a library that can never be unloaded: see LoadedObject::unload()).
    [[nodiscard]] int release_fd() { return fd_.release(); }

private:
    PluginFile(std::filesystem::path path, UniqueFd fd, const FileIdentity& identity, bool memory_copy)
        : path_(std::move(path)), fd_(std::move(fd)), identity_(identity), memory_copy_(memory_copy)
    {
    }
    std::filesystem::path path_;
    UniqueFd fd_;
    FileIdentity identity_;
    bool memory_copy_ = false;
};

} // namespace ringd::plugin_host
