"""The installed SDK is enough to build a plugin, and an install goes where it is told.

InstalledSdk: install this build into a DESTDIR, build sdk/examples/hello against the *installed* files only
(once with find_package(ringd-sdk), once with its pkg-config Makefile), check that each .so exports nothing
but ringd_plugin_entry_v1 (the SDK's linker version script) and really leaves memory on dlclose, that
`cmake --install` of a plugin writes a new file (a new inode, so a running ringd can pick it up on reload),
load both into the installed ringd from YAML, and talk to them. The CMake build also links the example's unit
test against the installed plugin test kit (ringd::testkit) and runs it. sdk/examples/chat is built the
same way, its Catch2 unit test (against the installed kit) run, and the installed ringd serves it. Last, the
install's ringdctl runs and its man pages are in place.

PrefixInstall: `cmake --install build --prefix X` keeps every file inside X (configuration in X/etc/ringd),
only the prefix /usr puts it in /etc/ringd; the pkg-config file is relocatable (${pcfiledir}): moved to
another directory, it points into that directory, and a plugin builds with it. The installs are staged under a
DESTDIR first, so a broken rule could never write into the real /etc.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.environ["RINGD_SOURCE_DIR"]
BINARY_DIR = os.environ["RINGD_BINARY_DIR"]
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")
EXAMPLE = os.path.join(SOURCE_DIR, "sdk", "examples", "hello")
CHAT_EXAMPLE = os.path.join(SOURCE_DIR, "sdk", "examples", "chat")


def cache_value(key):
    with open(os.path.join(BINARY_DIR, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(rf"{re.escape(key)}:[A-Z]+=(.*)$", line.rstrip("\n"))
            if m:
                return m.group(1)
    raise KeyError(key)


def run(cmd, env=None, cwd=None):
    print("+ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def find_one(root, name):
    hits = [os.path.join(d, name) for d, _, files in os.walk(root) if name in files]
    assert len(hits) == 1, f"expected one {name} under {root}, found {hits}"
    return hits[0]


def files_under(root):
    """Every file and directory below root, as paths relative to it."""
    out = []
    for d, dirs, files in os.walk(root):
        out += [os.path.relpath(os.path.join(d, n), root) for n in dirs + files]
    return out


# Stage once for all tests: the harness reads RINGD_BIN at import, so it must point at the staged binary first.
TMP = tempfile.TemporaryDirectory(prefix="ringd-sdk-install-")
STAGE = os.path.join(TMP.name, "stage")
PREFIX = cache_value("CMAKE_INSTALL_PREFIX")
# A sanitizer build installs a sanitized test kit (libringd_testkit.a), which links only into a sanitized
# program: the example's own builds then get the same flags (sanitizer_flags()).
SANITIZED = cache_value("RINGD_SANITIZE") == "ON"
SANITIZE = "-fsanitize=address,undefined -fno-omit-frame-pointer"
STAGED_PREFIX = STAGE + PREFIX
run([CMAKE, "--install", BINARY_DIR], env=dict(os.environ, DESTDIR=STAGE))
os.environ["RINGD_BIN"] = find_one(STAGED_PREFIX, "ringd")
os.environ["RINGD_PLUGIN_DIR"] = os.path.dirname(find_one(STAGED_PREFIX, "echo-upper.so"))

import ringd_harness as h  # noqa: E402


def clean_env():
    """No trace of the source or build tree: only the staged install can provide ringd/plugin.hpp."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CPATH", "CPLUS_INCLUDE_PATH", "C_INCLUDE_PATH", "PKG_CONFIG_PATH", "CMAKE_PREFIX_PATH",
                        "PKG_CONFIG_SYSROOT_DIR", "PKG_CONFIG_LIBDIR")}
    return env


def pkg_config_env(pc_dir):
    # -O0: std::to_string's tables (hello's "line longer than ..." reply) then stay out of line as weak and
    # STB_GNU_UNIQUE symbols of default visibility, which only the SDK's version script keeps from being exported.
    return dict(clean_env(), PKG_CONFIG_PATH=pc_dir, PKG_CONFIG_LIBDIR=pc_dir, CXXFLAGS="-O0 -g -Wall -Wextra")


def sanitizer_flags():
    """CMake cache settings that build the example like this build (none outside a sanitizer build)."""
    if not SANITIZED:
        return []
    return [f"-DCMAKE_CXX_FLAGS={SANITIZE}", f"-DCMAKE_EXE_LINKER_FLAGS={SANITIZE}",
            f"-DCMAKE_MODULE_LINKER_FLAGS={SANITIZE}", f"-DCMAKE_SHARED_LINKER_FLAGS={SANITIZE}"]


def exported_symbols(so):
    """Every defined symbol of the dynamic symbol table, whatever its kind (T, W, V, u, B, D, ...)."""
    out = run(["nm", "-D", "--defined-only", so]).stdout
    return sorted(f"{line.split()[-2]} {line.split()[-1]}" for line in out.splitlines() if line.strip())


# Loads the .so given as argv[1] the way ringd does (RTLD_NOW | RTLD_LOCAL), dlcloses it, and prints whether it
# is still mapped. In a child process, so that this test's own process stays clean.
UNLOAD_PROBE = r"""
import ctypes, os, sys
path = os.path.realpath(sys.argv[1])
lib = ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL)
assert lib.ringd_plugin_entry_v1
handle = lib._handle
del lib
libdl = ctypes.CDLL(None)
libdl.dlclose.argtypes = [ctypes.c_void_p]
assert libdl.dlclose(handle) == 0
with open("/proc/self/maps") as f:
    print("mapped" if path in f.read() else "unloaded")
"""


def unloads_after_dlclose(so):
    return run([sys.executable, "-c", UNLOAD_PROBE, so]).stdout.strip() == "unloaded"


class InstalledSdk(unittest.TestCase):
    def test_1_cmake_find_package(self):
        build = os.path.join(TMP.name, "cmake-build")
        configure_against_stage(self, EXAMPLE, build)
        run([CMAKE, "--build", build], env=clean_env())
        # hello_test: hello.so in the installed test kit, no daemon involved.
        out = run([os.path.join(build, "hello_test")], env=clean_env()).stdout
        self.assertIn("4 passed, 0 failed", out)
        so = os.path.join(build, "hello.so")
        self.assertTrue(os.path.exists(so), "ringd_sdk_add_plugin must build hello.so (no lib prefix)")
        self.assertEqual(exported_symbols(so), ["T ringd_plugin_entry_v1"])
        # A sanitized .so cannot be loaded into a plain python (the ASan runtime must come first).
        if not SANITIZED:
            self.assertTrue(unloads_after_dlclose(so), "hello.so stays mapped after dlclose")
        # cmake --install puts it into the staged ringd's plugin directory, as a new file each time (a rewrite
        # in place would change the code under a running ringd).
        installed = os.path.join(os.environ["RINGD_PLUGIN_DIR"], "hello.so")
        run([CMAKE, "--install", build], env=clean_env())
        with open(installed, "rb") as loaded:  # held open, as ringd holds a loaded build (so its inode stays taken)
            run([CMAKE, "--install", build], env=clean_env())
            self.assertNotEqual(os.stat(installed).st_ino, os.fstat(loaded.fileno()).st_ino,
                                "cmake --install rewrote hello.so in place")
        os.unlink(installed)
        InstalledSdk.cmake_so = so

    def test_2_pkg_config_makefile(self):
        src = os.path.join(TMP.name, "make-build")
        shutil.copytree(EXAMPLE, src)
        pc_dir = os.path.dirname(find_one(STAGED_PREFIX, "ringd-sdk.pc"))
        # No sysroot: the .pc file finds the staged tree from its own directory.
        env = pkg_config_env(pc_dir)
        cflags = run(["pkg-config", "--cflags", "ringd-sdk"], env=env).stdout.strip()
        plugindir = run(["pkg-config", "--variable=plugindir", "ringd-sdk"], env=env).stdout.strip()
        print(f"pkg-config: cflags {cflags!r}, plugindir {plugindir!r}")
        self.assertEqual(os.path.realpath(plugindir), os.path.realpath(os.environ["RINGD_PLUGIN_DIR"]))
        self.assertEqual(os.path.realpath(cflags.removeprefix("-I")),
                         os.path.realpath(os.path.join(STAGED_PREFIX, "include")))
        run(["make", "-C", src], env=env)
        so = os.path.join(src, "hello.so")
        self.assertEqual(exported_symbols(so), ["T ringd_plugin_entry_v1"])
        self.assertTrue(unloads_after_dlclose(so), "hello.so stays mapped after dlclose")
        InstalledSdk.make_so = so

    def test_3_ringd_loads_and_serves_both(self):
        ports = h.free_ports(2)
        listeners = [h.listener("hello-cmake", h.tcp(ports[0]), InstalledSdk.cmake_so),
                     h.listener("hello-make", h.tcp(ports[1]), InstalledSdk.make_so)]
        with h.Ringd(listeners=listeners) as d:
            for port in ports:
                with h.connect(port) as s:
                    s.sendall(b"world\nsplit ")
                    s.sendall(b"line\n")
                    self.assertEqual(h.recv_exactly(s, len(b"hello, world\nhello, split line\n")),
                                     b"hello, world\nhello, split line\n")
            self.assertIn("hello", d.log())

    def test_4_plugin_rejects_config(self):
        r = h.run_ringd(["--check-config", "-c", write_config(InstalledSdk.cmake_so)])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("hello takes no configuration", r.stdout + r.stderr)

    def test_5_ringdctl_and_man_pages(self):
        """The install has the admin client and every man page (the .deb has them too: test_package.py)."""
        bindir = os.path.join(STAGED_PREFIX, cache_value("CMAKE_INSTALL_BINDIR"))
        self.assertTrue(run([os.path.join(bindir, "ringdctl"), "--version"]).stdout.startswith("ringdctl "))
        # GNUInstallDirs leaves CMAKE_INSTALL_MANDIR empty in the cache (it derives share/man), so look for them.
        for page in ("ringd-cmd.1", "ringd-plugin.3", "ringd.yaml.5", "ringd.8", "ringdctl.8"):
            path = find_one(STAGED_PREFIX, page)
            self.assertTrue(path.endswith(f"/share/man/man{page[-1]}/{page}"), path)


    def test_6_chat_example(self):
        build = os.path.join(TMP.name, "chat-build")
        configure_against_stage(self, CHAT_EXAMPLE, build)
        run([CMAKE, "--build", build], env=clean_env())
        so = os.path.join(build, "chat.so")
        self.assertEqual(exported_symbols(so), ["T ringd_plugin_entry_v1"])
        # chat_test: chat.so in the installed test kit, with Catch2.
        self.assertTrue(os.path.exists(os.path.join(build, "chat_test")), "chat_test was not built")
        out = run(["ctest", "--test-dir", build, "--output-on-failure"], env=clean_env()).stdout
        self.assertIn("100% tests passed", out)
        # The installed ringd serves it: a line from one client reaches the other, not the sender.
        port = h.free_port()
        with h.Ringd(listeners=[h.listener("chat", h.tcp(port), so)]):
            with h.connect(port) as a, h.connect(port) as b:
                welcome_a = read_line(a)
                self.assertTrue(welcome_a.startswith("* welcome #"), welcome_a)
                self.assertTrue(read_line(b).startswith("* welcome #"))
                a.sendall(b"hi from a\n")
                self.assertRegex(read_chat_line(b), r"^#\d+: hi from a$")
                b.sendall(b"hi from b\n")
                self.assertRegex(read_chat_line(a), r"^#\d+: hi from b$")  # not a's own line


class PrefixInstall(unittest.TestCase):
    def test_another_prefix_keeps_everything_inside_it(self):
        prefix = os.path.join(TMP.name, "x")
        stage = os.path.join(TMP.name, "prefix-stage")
        run([CMAKE, "--install", BINARY_DIR, "--prefix", prefix], env=dict(os.environ, DESTDIR=stage))
        inside = prefix.lstrip("/") + "/"
        outside = [p for p in files_under(stage) if not (p + "/").startswith(inside) and not inside.startswith(p + "/")]
        self.assertEqual(outside, [], f"installed outside the prefix {prefix}")
        staged = stage + prefix
        self.assertTrue(os.path.isfile(os.path.join(staged, "etc/ringd/ringd.yaml")))
        self.assertTrue(os.path.isdir(os.path.join(staged, "etc/ringd/conf.d")))

        # Now that nothing leaves the prefix, the tree can sit where it was meant to (and pkg-config, which
        # found it staged, must find it there too).
        os.rename(staged, prefix)
        pc_dir = os.path.dirname(find_one(prefix, "ringd-sdk.pc"))
        env = pkg_config_env(pc_dir)
        cflags = run(["pkg-config", "--cflags", "ringd-sdk"], env=env).stdout.strip()
        self.assertTrue(cflags.startswith("-I"), cflags)
        self.assertEqual(os.path.realpath(cflags.removeprefix("-I")), os.path.realpath(os.path.join(prefix, "include")))
        exports_map = run(["pkg-config", "--variable=exports_map", "ringd-sdk"], env=env).stdout.strip()
        self.assertTrue(os.path.realpath(exports_map).startswith(os.path.realpath(prefix) + "/"), exports_map)
        src = os.path.join(TMP.name, "prefix-make-build")
        shutil.copytree(EXAMPLE, src)
        run(["make", "-C", src], env=env)
        self.assertEqual(exported_symbols(os.path.join(src, "hello.so")), ["T ringd_plugin_entry_v1"])

    def test_prefix_usr_puts_the_configuration_in_etc(self):
        stage = os.path.join(TMP.name, "usr-stage")
        run([CMAKE, "--install", BINARY_DIR, "--prefix", "/usr"], env=dict(os.environ, DESTDIR=stage))
        self.assertTrue(os.path.isfile(os.path.join(stage, "etc/ringd/ringd.yaml")))
        self.assertTrue(os.path.isdir(os.path.join(stage, "etc/ringd/conf.d")))
        self.assertFalse(os.path.exists(os.path.join(stage, "usr/etc")))


def configure_against_stage(testcase, source, build):
    # Debug (-O0): see pkg_config_env.
    run([CMAKE, "-S", source, "-B", build, f"-DCMAKE_PREFIX_PATH={STAGED_PREFIX}", "-DCMAKE_BUILD_TYPE=Debug",
         "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF", "-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF",
         *sanitizer_flags()], env=clean_env())
    sdk_dir = cache_value_of(build, "ringd-sdk_DIR")
    testcase.assertTrue(sdk_dir.startswith(STAGE), f"found the SDK outside the staged install: {sdk_dir}")


def read_line(sock, timeout=10.0):
    """One line (without its newline), read byte by byte so nothing after it is consumed."""
    sock.settimeout(timeout)
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            raise AssertionError(f"connection closed after {line!r}")
        line += byte
    return line[:-1].decode()


def read_chat_line(sock):
    """The next line another client said, past notices ("* #<id> joined")."""
    while True:
        line = read_line(sock)
        if not line.startswith("* "):
            return line


def write_config(so):
    path = os.path.join(TMP.name, "bad.yaml")
    with open(path, "w") as f:
        f.write(f"listeners:\n  - name: hello\n    listen: tcp://127.0.0.1:{h.free_port()}\n    plugin: {so}\n"
                f"    config:\n      greeting: hi\n")
    return path


def cache_value_of(build, key):
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split("=", 1)[1].strip()
    raise KeyError(key)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        TMP.cleanup()
