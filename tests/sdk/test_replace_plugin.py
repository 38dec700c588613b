"""Replacing a loaded plugin's .so and reloading (SIGHUP), without a restart.

which-build-one.so and which-build-two.so are one plugin ("which-build") built twice; each answers every read
with "<build> instance <n>", n counting the instances its loaded copy of the file has created. The tests copy one
into a temporary plugin directory, serve it, replace it and reload:

  - `install` over it (a new inode): new connections get build two, an open connection keeps build one until
    it closes, then build one's file leaves ringd's memory (/proc/PID/maps); the log names both builds;
  - an unchanged file is not loaded again (the reload's new instance is instance 2 of the same copy);
  - `cp` over it (same inode, rewritten in place): build two is loaded from a private copy (instance 1),
    not handed back by the dynamic linker as the object it already has; ringd warns, and calls nothing more in
    build one, whose code changed under it (its destroy, or dlclose running its destructors, would crash).
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import ringd_harness as h

ONE = h.test_plugin("which-build-one")
TWO = h.test_plugin("which-build-two")


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True, check=True).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", out).group(1)


def mapped_inodes(pid):
    """Inodes of the files mapped into process `pid`."""
    inodes = set()
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[4] != "0":
                inodes.add(int(fields[4]))
    return inodes


def ask(sock):
    """One read's answer: "<build> instance <n>"."""
    sock.sendall(b"?")
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = sock.recv(64)
        if not chunk:
            raise AssertionError(f"connection closed after {answer!r}")
        answer += chunk
    return answer.decode().strip()


class ReplacePlugin(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ringd-replace-")
        self.so = os.path.join(self.tmp.name, "which-build.so")
        subprocess.run(["install", "-m", "0644", ONE, self.so], check=True)
        self.port = h.free_port()
        self.ringd = self.start_ringd()

    def start_ringd(self, env=None):
        # A short shutdown_timeout: the cp test stops ringd with a connection open.
        return h.Ringd(listeners=[h.listener("which", h.tcp(self.port), self.so)], config={"shutdown_timeout": "500ms"},
                       env=env)

    def tearDown(self):
        self.ringd.cleanup()
        self.tmp.cleanup()

    def test_install_over_it_serves_new_connections_with_the_new_build(self):
        with self.ringd as d:
            old_inode = os.stat(self.so).st_ino
            self.assertIn(f"loaded plugin which-build 1.0.0 (ABI 1.1) from {self.so}: build-id {build_id(ONE)}, "
                          f"inode {old_inode}, mtime ", d.log())
            old = h.connect(self.port)
            self.assertEqual(ask(old), "one instance 1")

            subprocess.run(["install", "-m", "0644", TWO, self.so], check=True)
            new_inode = os.stat(self.so).st_ino
            self.assertNotEqual(new_inode, old_inode)
            out = d.reload()
            self.assertIn(f"loaded plugin which-build 1.0.0 (ABI 1.1) from {self.so}: build-id {build_id(TWO)}, "
                          f"inode {new_inode}, ", out)
            self.assertRegex(out, rf"reload: which switches builds: new connections get plugin which-build 1\.0\.0 "
                                  rf"\(build-id {build_id(TWO)}, inode {new_inode}, mtime [^)]+\), open ones finish on "
                                  rf"plugin which-build 1\.0\.0 \(build-id {build_id(ONE)}, inode {old_inode}, ")

            with h.connect(self.port) as new:
                self.assertEqual(ask(new), "two instance 1")
                self.assertEqual(ask(old), "one instance 1")  # the open connection stays on the old build
                self.assertIn(old_inode, mapped_inodes(d.pid))
                self.assertIn(new_inode, mapped_inodes(d.pid))

                old.close()
                h.wait_until(lambda: old_inode not in mapped_inodes(d.pid), timeout=10,
                             what="the old build to leave ringd's memory")
                h.wait_until(lambda: f"unloaded plugin which-build ({self.so}, build-id {build_id(ONE)}" in d.log(),
                             timeout=5, what="the unload line")
                self.assertIn(new_inode, mapped_inodes(d.pid))
                self.assertEqual(ask(new), "two instance 1")
            d.assert_exits_cleanly()

    def test_an_unchanged_file_is_not_loaded_again(self):
        with self.ringd as d:
            with h.connect(self.port) as s:
                self.assertEqual(ask(s), "one instance 1")
            out = d.reload()
            self.assertNotIn("loaded plugin", out)
            self.assertNotIn("switches builds", out)
            with h.connect(self.port) as s:
                self.assertEqual(ask(s), "one instance 2")
            d.assert_exits_cleanly()

    def test_cp_over_it_loads_a_private_copy_and_warns(self):
        # Build one's instance is never destroyed (its code changed under it): not a leak to report.
        self.ringd = self.start_ringd(env={"ASAN_OPTIONS": "detect_leaks=0"})
        with self.ringd as d:
            # Open on build one through the cp, the reload and the stop. It is never read from again, and
            # which-build has no on_close: nothing calls into build one's rewritten code.
            idle = h.connect(self.port)
            self.assertEqual(ask(idle), "one instance 1")
            before = os.stat(self.so)
            shutil.copyfile(TWO, self.so)  # opens the existing file with O_TRUNC: same inode, new bytes
            after = os.stat(self.so)
            self.assertEqual(after.st_ino, before.st_ino)
            if after.st_mtime_ns == before.st_mtime_ns and after.st_size == before.st_size:
                os.utime(self.so, ns=(after.st_atime_ns, after.st_mtime_ns + 1_000_000))  # coarse timestamps
            out = d.reload()
            self.assertIn(f"plugin file {self.so} was rewritten in place (cp onto it) under the build loaded from it "
                          f"(build-id {build_id(ONE)}, inode {before.st_ino}, ", out)
            self.assertIn(f"loaded plugin which-build 1.0.0 (ABI 1.1) from {self.so}: build-id {build_id(TWO)}, "
                          f"inode {before.st_ino}, ", out)
            self.assertIn(", private copy, mapped as /proc/", out)
            with h.connect(self.port) as s:
                self.assertEqual(ask(s), "two instance 1")  # a fresh object: the old one would say instance 2

            # The stop closes the idle connection, the last user of build one: its destroy() is skipped, it is
            # not unloaded, and ringd ends without the exit-time destructors that would run its rewritten code.
            d.assert_exits_cleanly()
            log = d.log()
            self.assertIn("listener which: not calling destroy() of plugin " + self.so, log)
            self.assertIn("stays in memory after its last instance: its file was rewritten in place", log)
            self.assertNotIn(f"unloaded plugin which-build ({self.so}, build-id {build_id(ONE)}", log)
            self.assertIn(f"unloaded plugin which-build ({self.so}, build-id {build_id(TWO)}", log)
            self.assertIn("stopped", log.splitlines()[-1])
            idle.close()


if __name__ == "__main__":
    h.main()
