"""Builds the .deb with CPack and checks what it contains (fixture ringd_deb for test_systemd.py).

A .deb must come from a tree configured with CMAKE_INSTALL_PREFIX=/usr (see packaging/RingdCPack.cmake). If
this build tree is, it is packaged directly; otherwise a sibling tree <build>/package-build is configured for
/usr (without tests) and built incrementally. The package lands in RINGD_DEB_DIR.

Checks: control fields (shlibs-derived Depends), conffiles, maintainer scripts, the file list (binaries,
plugins in the multiarch dir, /etc/ringd, units in /usr/lib/systemd/system, SDK headers + CMake package +
relocatable pkg-config file + linker version script, docs), nothing outside the expected roots, the packaged
unit's paths and its sandbox rating.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

SKIP = 77
SOURCE_DIR = os.environ["RINGD_SOURCE_DIR"]
BINARY_DIR = os.environ["RINGD_BINARY_DIR"]
DEB_DIR = os.environ.get("RINGD_DEB_DIR", os.path.join(BINARY_DIR, "test-packages"))
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")
CPACK = os.environ.get("CPACK_COMMAND", "cpack")
BUILD_TYPE = os.environ.get("RINGD_BUILD_TYPE", "RelWithDebInfo")
SHIPPED_PLUGINS = ("echo-upper", "remote-cmd", "time-of-day", "udp-echo")
MAX_EXPOSURE = 2.0

DEB = None  # path of the package built by main()


def cache_value(build_dir, key):
    with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(rf"{re.escape(key)}:[A-Z]+=(.*)$", line.rstrip("\n"))
            if m:
                return m.group(1)
    return None


def run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def packaging_tree():
    """A build tree configured for /usr: this one, or <build>/package-build (configured once, then reused)."""
    if cache_value(BINARY_DIR, "CMAKE_INSTALL_PREFIX") == "/usr":
        return BINARY_DIR
    tree = os.path.join(BINARY_DIR, "package-build")
    if not os.path.exists(os.path.join(tree, "CMakeCache.txt")):
        run([CMAKE, "-S", SOURCE_DIR, "-B", tree, "-DCMAKE_INSTALL_PREFIX=/usr", f"-DCMAKE_BUILD_TYPE={BUILD_TYPE}",
             "-DRINGD_BUILD_TESTS=OFF", "-DRINGD_SANITIZE=OFF"], stdout=subprocess.DEVNULL)
    started = time.monotonic()
    run([CMAKE, "--build", tree, "-j2"], stdout=subprocess.DEVNULL)
    print(f"package tree built in {time.monotonic() - started:.0f}s", flush=True)
    return tree


def build_deb():
    tree = packaging_tree()
    os.makedirs(DEB_DIR, exist_ok=True)
    for old in glob.glob(os.path.join(DEB_DIR, "ringd_*.deb")):
        os.unlink(old)
    run([CPACK, "--config", os.path.join(tree, "CPackConfig.cmake"), "-G", "DEB", "-B", DEB_DIR],
        stdout=subprocess.DEVNULL)
    shutil.rmtree(os.path.join(DEB_DIR, "_CPack_Packages"), ignore_errors=True)
    debs = glob.glob(os.path.join(DEB_DIR, "ringd_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def deb_field(name):
    return subprocess.run(["dpkg-deb", "-f", DEB, name], check=True, capture_output=True, text=True).stdout.strip()


def deb_files():
    out = subprocess.run(["dpkg-deb", "-c", DEB], check=True, capture_output=True, text=True).stdout
    # "drwxr-xr-x root/root 0 2026-11-21 18:00 ./usr/sbin/" -> "/usr/sbin/"
    return [line.split(None, 5)[5].split(" -> ")[0][1:] for line in out.splitlines()]


class DebPackage(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.files = deb_files()
        cls.multiarch = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], check=True,
                                       capture_output=True, text=True).stdout.strip()
        cls.control = tempfile.TemporaryDirectory(prefix="ringd-deb-control-")
        subprocess.run(["dpkg-deb", "-e", DEB, cls.control.name], check=True)
        cls.data = tempfile.TemporaryDirectory(prefix="ringd-deb-data-")
        subprocess.run(["dpkg-deb", "-x", DEB, cls.data.name], check=True)

    @classmethod
    def tearDownClass(cls):
        cls.control.cleanup()
        cls.data.cleanup()

    def test_control_fields(self):
        self.assertEqual(deb_field("Package"), "ringd")
        self.assertTrue(deb_field("Version").endswith("-1"))
        depends = deb_field("Depends")
        print(f"Depends: {depends}")
        # libspdlog1.10 provides the virtual package libspdlog1.10-fmt9 that dpkg-shlibdeps names.
        for lib in ("liburing2", "libyaml-cpp0.7", r"libspdlog1\.10(-fmt9)?", "libfmt9", "libsystemd0", r"libstdc\+\+6",
                    "libc6"):
            self.assertRegex(depends, rf"(^|, ){lib}( \(|,|$)", f"{lib} missing from Depends")
        self.assertIn("systemd", deb_field("Recommends"))

    def test_conffiles_and_scripts(self):
        with open(os.path.join(self.control.name, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/ringd/ringd.yaml"])
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.control.name, script)
            self.assertTrue(os.access(path, os.X_OK), f"{script} not executable")
            subprocess.run(["sh", "-n", path], check=True)
            with open(path) as f:
                text = f.read()
            self.assertIn("ringd.service", text)
            # Every systemctl use is guarded: installing into a chroot or image without systemd must work.
            self.assertIn("/run/systemd/system", text)

    def test_file_list(self):
        ma = self.multiarch
        expected = [
            "/usr/sbin/ringd", "/usr/bin/ringd-cmd", "/usr/bin/ringdctl",
            "/usr/share/man/man8/ringd.8", "/usr/share/man/man5/ringd.yaml.5", "/usr/share/man/man8/ringdctl.8",
            "/usr/share/man/man1/ringd-cmd.1", "/usr/share/man/man3/ringd-plugin.3",
            *[f"/usr/lib/{ma}/ringd/plugins/{p}.so" for p in SHIPPED_PLUGINS],
            "/etc/ringd/ringd.yaml", "/etc/ringd/conf.d/",
            "/usr/lib/systemd/system/ringd.service", "/usr/lib/systemd/system/ringd.socket",
            "/usr/include/ringd/plugin.h", "/usr/include/ringd/plugin.hpp",
            "/usr/include/ringd/testkit.hpp", f"/usr/lib/{ma}/libringd_testkit.a",
            f"/usr/lib/{ma}/cmake/ringd-sdk/ringd-sdkConfig.cmake",
            f"/usr/lib/{ma}/cmake/ringd-sdk/ringd-sdkConfigVersion.cmake",
            f"/usr/lib/{ma}/pkgconfig/ringd-sdk.pc", "/usr/share/ringd-sdk/plugin-exports.map",
            "/usr/share/doc/ringd/copyright", "/usr/share/doc/ringd/README.systemd.md",
            "/usr/share/doc/ringd/examples/hello/hello.cpp",
            "/usr/share/doc/ringd/examples/chat/chat.cpp",
        ]
        for path in expected:
            self.assertIn(path, self.files)
        allowed_roots = ("/etc/ringd/", "/usr/sbin/", "/usr/bin/", f"/usr/lib/{ma}/", "/usr/lib/systemd/system/",
                         "/usr/include/ringd/", "/usr/share/ringd-sdk/", "/usr/share/doc/ringd/", "/usr/share/man/")
        stray = [p for p in self.files if not p.endswith("/") and not p.startswith(allowed_roots)]
        self.assertEqual(stray, [], "files outside the expected directories (test-only or /usr/local files?)")
        # The SDK's plugin test kit and the examples' tests are for plugin authors: shipped on purpose, unlike
        # ringd's own tests.
        for_plugin_authors = ("/usr/include/ringd/testkit.hpp", f"/usr/lib/{ma}/libringd_testkit.a",
                              "/usr/share/doc/ringd/examples/hello/hello_test.cpp",
                              "/usr/share/doc/ringd/examples/chat/chat_test.cpp")
        self.assertFalse([p for p in self.files
                          if "test" in os.path.basename(p.rstrip("/")) and p not in for_plugin_authors],
                         "test-only files in the package")

    def test_packaged_unit(self):
        unit = os.path.join(self.data.name, "usr/lib/systemd/system/ringd.service")
        with open(unit) as f:
            text = f.read()
        self.assertIn("ExecStart=/usr/sbin/ringd -c /etc/ringd/ringd.yaml\n", text)
        self.assertIn("ExecReload=/usr/sbin/ringd --check-config -c /etc/ringd/ringd.yaml\n", text)
        r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit],
                           capture_output=True, text=True)
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        print(f"systemd-analyze security: exposure {m.group(1)}")
        self.assertLessEqual(float(m.group(1)), MAX_EXPOSURE, r.stdout)

    def test_pkg_config_file(self):
        # Relocatable (prefix from ${pcfiledir}): read from the unpacked package, it names the unpacked files.
        pc_dir = os.path.join(self.data.name, f"usr/lib/{self.multiarch}/pkgconfig")
        with open(os.path.join(pc_dir, "ringd-sdk.pc")) as f:
            self.assertIn("prefix=${pcfiledir}/../../..\n", f.read())
        env = dict(os.environ, PKG_CONFIG_PATH=pc_dir, PKG_CONFIG_LIBDIR=pc_dir)
        env.pop("PKG_CONFIG_SYSROOT_DIR", None)

        def variable(name):
            out = subprocess.run(["pkg-config", f"--variable={name}", "ringd-sdk"], env=env, capture_output=True,
                                 text=True, check=True).stdout.strip()
            return os.path.relpath(os.path.realpath(out), os.path.realpath(self.data.name))
        self.assertEqual(variable("plugindir"), f"usr/lib/{self.multiarch}/ringd/plugins")
        self.assertEqual(variable("includedir"), "usr/include")
        self.assertEqual(variable("exports_map"), "usr/share/ringd-sdk/plugin-exports.map")


def main():
    global DEB
    if os.environ.get("RINGD_SANITIZE", "0") in ("1", "ON", "TRUE", "true"):
        print("SKIP: packages are made from the normal build, not the sanitizer build")
        return SKIP
    started = time.monotonic()
    DEB = build_deb()
    print(f"built {DEB} in {time.monotonic() - started:.0f}s", flush=True)
    result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
