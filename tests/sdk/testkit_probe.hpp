// "probe", the test kit's own test plugin (testkit_probe.cpp), linked into the test. One command per read:
//   echo TEXT | id | worker | big N | owned TEXT | pause | resume | pause_for MS | close | abort | shutdown | timer MS
//   | cancel ID | spawn ARGV... | reserve | throw | addr | send_to ID TEXT | close_id ID [abort] | post ID TAG |
//   post_worker W TAG | broadcast TEXT | connect ADDR:PORT | touch ID | thread ID TEXT | wtimer MS | queued |
//   notify N | register | stale
// Datagrams are echoed with the prefix; "to ADDR:PORT" sends "hi" there, "keep" keeps the handle and "use_kept"
// uses it in a later call (a bug).
// Config (any text): "prefix: P" prefixes echoes and datagram replies ("prefix: refuse" refuses every
// connection), "fail" refuses the config (key "fail"), "throw" throws from create(), "stateless" leaves the
// instance NULL, "metric-checks" tries bad metric registrations in create(). What happens to it is logged ("open ID on
// W", "close ID reason R on W", "task TAG conn ID on W", "worker task TAG on W status S", "handover main|W from VERSION
// inherited P index W", ...).
#pragma once

#include <algorithm>
#include <ringd/testkit.hpp>
#include <string>
#include <vector>

namespace probe {

ringd::testkit::Plugin plugin();    // version "0.1"
ringd::testkit::Plugin plugin_v2(); // the same plugin, version "0.2" (another build, for reloads)
int destroys();                     // destroy() calls with an instance, since the test started
int null_destroys();                // destroy(NULL) calls

// The probe's own log lines, in order (the kit's reports left out).
inline std::vector<std::string> notes(const ringd::testkit::Kit& kit)
{
    std::vector<std::string> lines;
    for (const auto& line : kit.logs()) {
        if (line.listener != "ringd-testkit") lines.push_back(line.message);
    }
    return lines;
}

// The probe's log lines that start with `prefix`, in order.
inline std::vector<std::string> notes(const ringd::testkit::Kit& kit, const std::string& prefix)
{
    std::vector<std::string> lines = notes(kit);
    std::erase_if(lines, [&](const std::string& line) { return !line.starts_with(prefix); });
    return lines;
}

} // namespace probe
