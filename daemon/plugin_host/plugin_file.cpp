// Opening a plugin file, identifying it, and copying it into memory when its inode is taken.
#include "plugin_host/plugin_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ringd::plugin_host {

namespace {

// Linux 6.3 wants a memfd's exec permission stated (it logs a warning otherwise); older kernels refuse the flag
// with EINVAL, and glibc 2.36's headers do not name it yet.
#ifndef MFD_EXEC
constexpr unsigned int MFD_EXEC = 0x0010U;
#endif

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& why)
{
    throw PluginLoadError("cannot load plugin " + path.string() + ": " + why);
}

FileIdentity identity_of(const struct stat& st)
{
    return FileIdentity{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

UniqueFd create_memory_file(const std::filesystem::path& path)
{
    const std::string name = "ringd-plugin:" + path.filename().string();
    UniqueFd fd(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_EXEC));
    if (!fd && errno == EINVAL) fd.reset(::memfd_create(name.c_str(), MFD_CLOEXEC));
    if (!fd) fail(path, std::string("memfd_create for a private copy: ") + std::strerror(errno));
    return fd;
}

// Copies all of `from` (from its start) to `to`. A plugin is a few MB at most: a plain read/write loop.
void copy_contents(int from, int to, const std::filesystem::path& path)
{
    char buffer[64 * 1024];
    for (off_t offset = 0;;) {
        const ssize_t got = ::pread(from, buffer, sizeof buffer, offset);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) fail(path, std::string("reading it for a private copy: ") + std::strerror(errno));
        if (got == 0) return;
        for (ssize_t put = 0; put < got;) {
            const ssize_t n = ::write(to, buffer + put, std::size_t(got - put));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fail(path, std::string("writing a private copy: ") + std::strerror(errno));
            put += n;
        }
        offset += got;
    }
}

} // namespace

std::string format_mtime(const timespec& mtime)
{
    std::tm utc{};
    const time_t seconds = mtime.tv_sec;
    ::gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    return fmt::format("{}.{:09}Z", text, mtime.tv_nsec);
}

PluginFile PluginFile::open(const std::filesystem::path& path)
{
    // O_NONBLOCK: a FIFO at the path must not block the main thread in open(); it is refused just below.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd) fail(path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) fail(path, std::strerror(errno));
    if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
    return PluginFile(path, std::move(fd), identity_of(st), false);
}

PluginFile PluginFile::copy_to_memory() const
{
    UniqueFd copy = create_memory_file(path_);
    copy_contents(fd_.get(), copy.get(), path_);
    return PluginFile(path_, std::move(copy), identity_, true);
}

std::string PluginFile::proc_name() const
{
    // The pid rather than "self": the name is recorded in the link map, and a debugger attached to ringd (or a
    // sanitizer's symbolizer, a child process) opens it in its own process, where "self" is another one.
    return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd_.get());
}

UniqueFd PluginFile::renumber()
{
    UniqueFd moved(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
    if (!moved) fail(path_, std::string("dup: ") + std::strerror(errno));
    std::swap(moved, fd_);
    return moved;
}

} // namespace ringd::plugin_host
