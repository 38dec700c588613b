// The last word of a crashing ringd: which plugin, which callback.
//
// Plugins run in ringd's process, so a plugin that crashes (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL) takes the
// daemon down. The handler installed here writes one line to stderr first, naming the plugin .so, the
// callback and the listener of the call that was running on the crashing thread (from its PluginCallRecord,
// see plugin_call.hpp), or saying that no plugin call was running. Then it restores the default action and
// re-raises, so the process dies of that very signal: the exit status tells the service manager what
// happened, and systemd's Restart=on-failure starts ringd again.
//
// The handler is async-signal-safe: no allocation, no stdio, no locks; it formats into a stack buffer and
// write(2)s once. Under systemd stderr is a journal stream (StandardError= defaults to the journal), where a
// "<2>" prefix gives the line priority crit; sd_journal_send would not be safe here.
//
// Not installed in sanitizer builds: ASan's own SEGV handler prints a full report, which says more.
#pragma once

#include <cstddef>

namespace ringd::plugin_host {

// Installs the handlers for the whole process. `journal_stream`: stderr is systemd's journal stream (adds
// the priority prefix). Call once, early in main(), before any thread starts.
void install_fatal_signal_reporter(bool journal_stream);

// An alternate signal stack for the calling thread while this object lives, so that a stack overflow (the
// fault is on the exhausted stack) still gets its line. Every thread that calls plugins makes one.
class AltSignalStack {
public:
    AltSignalStack();
    ~AltSignalStack();
    AltSignalStack(const AltSignalStack&) = delete;
    AltSignalStack& operator=(const AltSignalStack&) = delete;

private:
    void* memory_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace ringd::plugin_host
