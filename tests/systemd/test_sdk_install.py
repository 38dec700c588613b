"""The installed SDK is enough to build a plugin: install this build into a DESTDIR, build sdk/examples/hello
against the *installed* files only (once with find_package(ringd-sdk), once with its pkg-config Makefile),
load both .so files into the installed ringd from YAML, and talk to them. The CMake build also links the
example's unit test against the installed plugin test kit (ringd::testkit) and runs it. Last, the install's
ringdctl runs and its man pages are in place.
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


# Stage once for all tests: the harness reads RINGD_BIN at import, so it must point at the staged binary first.
TMP = tempfile.TemporaryDirectory(prefix="ringd-sdk-install-")
STAGE = os.path.join(TMP.name, "stage")
PREFIX = cache_value("CMAKE_INSTALL_PREFIX")
STAGED_PREFIX = STAGE + PREFIX
run([CMAKE, "--install", BINARY_DIR], env=dict(os.environ, DESTDIR=STAGE))
os.environ["RINGD_BIN"] = find_one(STAGED_PREFIX, "ringd")
os.environ["RINGD_PLUGIN_DIR"] = os.path.dirname(find_one(STAGED_PREFIX, "echo-upper.so"))

import ringd_harness as h  # noqa: E402


def clean_env():
    """No trace of the source or build tree: only the staged install can provide ringd/plugin.hpp."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CPATH", "CPLUS_INCLUDE_PATH", "C_INCLUDE_PATH", "PKG_CONFIG_PATH", "CMAKE_PREFIX_PATH")}
    return env


class InstalledSdk(unittest.TestCase):
    def test_1_cmake_find_package(self):
        build = os.path.join(TMP.name, "cmake-build")
        run([CMAKE, "-S", EXAMPLE, "-B", build, f"-DCMAKE_PREFIX_PATH={STAGED_PREFIX}",
             "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF", "-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF"], env=clean_env())
        sdk_dir = cache_value_of(build, "ringd-sdk_DIR")
        self.assertTrue(sdk_dir.startswith(STAGE), f"found the SDK outside the staged install: {sdk_dir}")
        run([CMAKE, "--build", build], env=clean_env())
        # hello_test: hello.so in the installed test kit, no daemon involved.
        out = run([os.path.join(build, "hello_test")], env=clean_env()).stdout
        self.assertIn("4 passed, 0 failed", out)
        so = os.path.join(build, "hello.so")
        self.assertTrue(os.path.exists(so), "ringd_sdk_add_plugin must build hello.so (no lib prefix)")
        self.assertEqual(exported_functions(so), ["ringd_plugin_entry_v1"])
        # cmake --install puts it into the staged ringd's plugin directory.
        run([CMAKE, "--install", build], env=clean_env())
        self.assertTrue(os.path.exists(os.path.join(os.environ["RINGD_PLUGIN_DIR"], "hello.so")))
        os.unlink(os.path.join(os.environ["RINGD_PLUGIN_DIR"], "hello.so"))
        InstalledSdk.cmake_so = so

    def test_2_pkg_config_makefile(self):
        src = os.path.join(TMP.name, "make-build")
        shutil.copytree(EXAMPLE, src)
        pc_dir = os.path.dirname(find_one(STAGED_PREFIX, "ringd-sdk.pc"))
        # PKG_CONFIG_SYSROOT_DIR maps the .pc file's /usr/... paths into the staged tree.
        env = dict(clean_env(), PKG_CONFIG_PATH=pc_dir, PKG_CONFIG_SYSROOT_DIR=STAGE, PKG_CONFIG_LIBDIR=pc_dir)
        cflags = run(["pkg-config", "--cflags", "ringd-sdk"], env=env).stdout.strip()
        plugindir = run(["pkg-config", "--variable=plugindir", "ringd-sdk"], env=env).stdout.strip()
        print(f"pkg-config: cflags {cflags!r}, plugindir {plugindir!r}")
        self.assertTrue(plugindir.endswith("/ringd/plugins"))
        run(["make", "-C", src], env=env)
        so = os.path.join(src, "hello.so")
        self.assertEqual(exported_functions(so), ["ringd_plugin_entry_v1"])
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


def exported_functions(so):
    """Strong functions in the dynamic symbol table: only the entry point, thanks to hidden visibility. (Weak
    instantiations of std:: templates stay visible, as libstdc++ declares namespace std with default visibility.)"""
    out = run(["nm", "-D", "--defined-only", so]).stdout
    return sorted(line.split()[-1] for line in out.splitlines() if line.split()[-2:-1] == ["T"])


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        TMP.cleanup()
