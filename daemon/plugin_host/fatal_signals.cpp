// The fatal-signal reporter; see fatal_signals.hpp. Everything reachable from on_fatal_signal must be
// async-signal-safe: no allocation, no stdio, no locks.
#include "plugin_host/fatal_signals.hpp"

#include "plugin_host/plugin_call.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

// ASan installs its own handlers and alternate stacks, and its report says more than ours: leave them alone.
#if defined(__SANITIZE_ADDRESS__)
#define RINGD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RINGD_ASAN 1
#endif
#endif

namespace ringd::plugin_host {

namespace {

constexpr int fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};

// Set once by install_fatal_signal_reporter before any thread starts; only read afterwards (a signal
// handler has no other way to get it).
std::atomic<bool> journal_prefix{false};

// Fixed-size line being built on the handler's stack; silently truncates.
class Line {
public:
    void add(const char* s) noexcept
    {
        while (s != nullptr && *s != '\0' && len_ < sizeof buf_)
            buf_[len_++] = *s++;
    }
    void add_hex(uintptr_t v) noexcept
    {
        char digits[2 * sizeof v];
        std::size_t n = 0;
        do {
            digits[n++] = "0123456789abcdef"[v & 0xf];
            v >>= 4;
        } while (v != 0);
        add("0x");
        while (n > 0 && len_ < sizeof buf_)
            buf_[len_++] = digits[--n];
    }
    void add_dec(uint64_t v) noexcept
    {
        char digits[20];
        std::size_t n = 0;
        do {
            digits[n++] = char('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n > 0 && len_ < sizeof buf_)
            buf_[len_++] = digits[--n];
    }
    void write_to(int fd) noexcept
    {
        if (len_ == sizeof buf_) buf_[len_ - 1] = '\n';
        std::size_t done = 0;
        while (done < len_) {
            const ssize_t n = ::write(fd, buf_ + done, len_ - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;
            done += std::size_t(n);
        }
    }

private:
    char buf_[1024];
    std::size_t len_ = 0;
};

const char* signal_name(int sig) noexcept
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    case SIGABRT:
        return "SIGABRT";
    case SIGFPE:
        return "SIGFPE";
    case SIGILL:
        return "SIGILL";
    }
    return "signal";
}

[[maybe_unused]] void on_fatal_signal(int sig, siginfo_t* info, void*) // unused under RINGD_SANITIZE
{
    const int saved_errno = errno;
    Line line;
    if (journal_prefix.load(std::memory_order_relaxed)) line.add("<2>");
    line.add("ringd: fatal ");
    line.add(signal_name(sig));
    if (info != nullptr && info->si_code > 0 && sig != SIGABRT) { // raised by the kernel: a fault
        line.add(" (fault address ");
        line.add_hex(reinterpret_cast<uintptr_t>(info->si_addr));
        line.add(")");
    } else if (info != nullptr && info->si_code <= 0 && sig != SIGABRT) {
        line.add(" (sent by pid ");
        line.add_dec(uint64_t(info->si_pid));
        line.add(")");
    }
    // Same thread: no other writer can change the record while we read it, and running() is lock-free.
    if (const auto running = this_thread_record().running()) {
        line.add(" in plugin ");
        line.add(running->target->plugin_name);
        line.add(" (");
        line.add(running->target->plugin_path);
        line.add("), callback ");
        line.add(to_string(running->callback));
        line.add(", listener ");
        line.add(running->target->listener);
    } else {
        line.add(" outside any plugin call");
    }
    line.add("; ringd stops now (a service manager restarts it)\n");
    line.write_to(STDERR_FILENO);
    errno = saved_errno;
    // SA_RESETHAND restored the default action already. The signal is blocked until this handler returns, so
    // it is delivered then, with the default action: the process dies of it (a fault would also recur).
    ::raise(sig);
}

} // namespace

void install_fatal_signal_reporter(bool journal_stream)
{
#if defined(RINGD_ASAN)
    (void)journal_stream;
#else
    journal_prefix.store(journal_stream, std::memory_order_relaxed);
    struct sigaction sa {};
    sa.sa_sigaction = &on_fatal_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (int sig : fatal_signals)
        ::sigaction(sig, &sa, nullptr);
#endif
}

AltSignalStack::AltSignalStack()
{
#if !defined(RINGD_ASAN) // ASan gives every thread an alternate stack of its own
    // Room for the handler's frame and buffer with a wide margin; the kernel's minimum varies by CPU.
    size_ = std::size_t(64) * 1024;
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) return; // no report for a stack overflow then; everything else still works
    stack_t ss{};
    ss.ss_sp = p;
    ss.ss_size = size_;
    if (::sigaltstack(&ss, nullptr) != 0) {
        ::munmap(p, size_);
        return;
    }
    memory_ = p;
#endif
}

AltSignalStack::~AltSignalStack()
{
    if (memory_ == nullptr) return;
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    ::sigaltstack(&ss, nullptr);
    ::munmap(memory_, size_);
}

} // namespace ringd::plugin_host
