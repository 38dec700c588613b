// ring-breaker: on open, breaks the io_uring of the worker thread that calls it, so the integration tests can
// check what ringd does when a worker's ring fails for good (it must stop with a failure status, not spin).
//
// It finds the calling thread's ring among the process's io_uring descriptors by asking each to wait for zero
// completions: ringd's rings are single-issuer with deferred task-run, which the kernel refuses (EEXIST) from
// any thread but the owner. It then points that descriptor at /dev/null, so the next io_uring_enter fails with
// EOPNOTSUPP. The mappings keep the ring itself alive, so nothing is unmapped under the worker.
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <linux/io_uring.h>
#include <ringd/plugin.hpp>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

bool is_io_uring(const std::filesystem::path& fd_link)
{
    std::error_code ec;
    return std::filesystem::read_symlink(fd_link, ec).string() == "anon_inode:[io_uring]";
}

// The descriptor of the io_uring owned by the calling thread, or -1 if none (or more than one) answers.
int own_ring_fd()
{
    int found = -1;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        if (!is_io_uring(entry.path())) continue;
        const int fd = std::stoi(entry.path().filename().string());
        if (::syscall(__NR_io_uring_enter, fd, 0, 0, IORING_ENTER_GETEVENTS, nullptr, 0) != 0) continue;
        if (found != -1) return -1;
        found = fd;
    }
    return found;
}

class RingBreaker final : public ringd::Handler {
public:
    using Handler::Handler;

    static std::unique_ptr<RingBreaker> create(const ringd::InstanceArgs& args)
    {
        return std::make_unique<RingBreaker>(args);
    }

    bool on_open(ringd::Connection) override
    {
        const int ring = own_ring_fd();
        if (ring < 0) {
            // Not a single-issuer, deferred task-run ring (an older kernel): the test cannot run as meant.
            log().error("ring-breaker: cannot tell which io_uring belongs to this worker");
            return false;
        }
        const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0 || ::dup3(devnull, ring, O_CLOEXEC) < 0) return false;
        ::close(devnull);
        return true;
    }
};

} // namespace

RINGD_EXPORT_HANDLER(RingBreaker, "ring-breaker", "1.0.0", RINGD_KIND_STREAM)
