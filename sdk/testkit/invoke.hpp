// KitState's boundary into plugin code, shared by the kit's source files: every callback runs under the
// CallContext of its simulated thread, and an exception the plugin lets escape is handled as ringd handles it
// (plugin.h: a connection callback that throws has its connection aborted; anything else is logged).
#pragma once

#include "kit_state.hpp"

namespace ringd::testkit::detail {

template <class F> void KitState::invoke_conn(Conn& c, const char* callback, F&& call)
{
    {
        ContextScope scope({this, c.worker, nullptr});
        try {
            call();
        } catch (...) {
            plugin_failed(*c.inst, callback, std::current_exception(), "connection aborted");
            mark_aborting(c, RINGD_CLOSE_ERROR);
        }
    }
    if (c.reserved) {
        misuse(std::string(callback) + " returned between send_reserve() and send_commit(): the reservation is lost");
        c.reserved = false;
    }
    touch(c);
}

template <class F>
bool KitState::invoke_on(Instance& inst, uint32_t worker, const char* callback, const char* consequence, F&& call)
{
    ContextScope scope({this, worker, nullptr});
    try {
        call();
        return true;
    } catch (...) {
        plugin_failed(inst, callback, std::current_exception(), consequence);
        return false;
    }
}

} // namespace ringd::testkit::detail
