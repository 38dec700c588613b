// plugin_call_failed(): the one boundary every call into a plugin goes through (plugin_host/plugin_call.hpp).
#include "plugin_host/plugin_call.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

using namespace ringd::plugin_host;

TEST_CASE("a call that returns normally has not failed and counts nothing")
{
    std::atomic<uint64_t> failures{0};
    const PluginCallTarget target{"l", "p", "/p.so", &failures};
    int ran = 0;
    CHECK_FALSE(plugin_call_failed(target, PluginCallback::on_data, [&] { ++ran; }));
    CHECK(ran == 1);
    CHECK(failures == 0);
}

TEST_CASE("any exception is caught, counted once and reported as a failure")
{
    std::atomic<uint64_t> failures{0};
    const PluginCallTarget target{"l", "p", "/p.so", &failures};
    CHECK(plugin_call_failed(target, PluginCallback::on_data, [] { throw std::runtime_error("boom"); }));
    CHECK(failures == 1);
    CHECK(plugin_call_failed(target, PluginCallback::on_timer, [] { throw 42; }));
    CHECK(failures == 2);
}

TEST_CASE("a target without a counter (create, destroy) still gets the failure reported")
{
    const PluginCallTarget target{"l", "p", "/p.so"};
    CHECK(plugin_call_failed(target, PluginCallback::create, [] { throw std::logic_error("no"); }));
}

TEST_CASE("every callback has its plugin.h name and a consequence")
{
    CHECK(std::string(to_string(PluginCallback::on_data)) == "on_data");
    CHECK(std::string(to_string(PluginCallback::spawn_done)) == "spawn_done");
    CHECK(std::string(to_string(PluginCallback::on_connect)) == "on_connect");
    CHECK(std::string(consequence(PluginCallback::on_connect)) == "connection aborted");
    for (auto cb : {PluginCallback::create, PluginCallback::destroy, PluginCallback::on_open, PluginCallback::on_data,
                    PluginCallback::on_peer_shutdown, PluginCallback::on_close, PluginCallback::on_datagram,
                    PluginCallback::on_timer, PluginCallback::spawn_done, PluginCallback::on_connect}) {
        CHECK(std::string(to_string(cb)) != "?");
        CHECK(std::string(consequence(cb)) != "?");
    }
}
