// Leftovers: what a command leaves running after it exits, found and killed.
//
// Every command is a child subreaper (PR_SET_CHILD_SUBREAPER, set between fork and exec): while it runs, a
// descendant whose parent dies is reparented to it, not to init, so even one that called setsid() or
// double-forked stays in its subtree. When the command exits, the kernel hands its remaining children to the
// nearest subreaper above it: ringd, which makes itself one (become_subreaper) before its first command. The
// kernel gives such orphans to the process's first live thread, the main thread, while commands themselves
// are children of the launcher threads that forked them. So the main thread's children are, exactly, what
// ended commands left behind: kill_leftovers() SIGKILLs them and reaps what has died. Killing a leftover
// hands its own children to ringd in turn, so callers repeat it until leftovers_remain() is false.
//
// Why not the alternatives: with ringd alone as subreaper, a running command's orphans would come to ringd too,
// and could not be told from an ended command's (so a command ending would kill another's helpers). A cgroup per
// command needs a delegated cgroup (systemd Delegate=yes) and clone3 instead of fork, and is not there outside
// systemd; tracking descendants through /proc races with fork. Cost: one prctl per command, and one read of
// /proc/self/task/<pid>/children (a few microseconds) each time a command exits.
#pragma once

#include <cstddef>

namespace ringd::engine {

// Makes ringd a child subreaper (process-wide; idempotent). Returns false (errno set) if the kernel refuses.
[[nodiscard]] bool become_subreaper();

// SIGKILLs every child of ringd's main thread and reaps those that have died; returns how many were found.
// Each is signalled through a pidfd opened while it was still listed, so a pid reused meanwhile is never hit.
std::size_t kill_leftovers();

} // namespace ringd::engine
