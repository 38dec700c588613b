"""ringd without a usable io_uring (seccomp-denied or absent) exits non-zero with a message naming the cause."""
import os
import subprocess
import tempfile
import unittest

from ringd_harness import PLUGIN_DIR, RINGD_BIN, free_port, main

LAUNCHER = os.environ["RINGD_WITHOUT_IO_URING"]


class NoIoUring(unittest.TestCase):
    def run_without(self, errno_name):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = os.path.join(tmp, "ringd.yaml")
            with open(cfg, "w") as f:
                f.write(f'plugin_dir: {PLUGIN_DIR}\nlisteners:\n'
                        f'  - {{name: e, listen: "tcp://127.0.0.1:{free_port()}", plugin: echo-upper}}\n')
            return subprocess.run([LAUNCHER, errno_name, RINGD_BIN, "-c", cfg], capture_output=True, text=True,
                                  timeout=30)

    def test_denied_by_seccomp(self):
        r = self.run_without("EPERM")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("io_uring is not permitted (EPERM)", r.stderr)
        self.assertIn("seccomp", r.stderr)

    def test_kernel_without_io_uring(self):
        r = self.run_without("ENOSYS")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("the kernel lacks it (ENOSYS)", r.stderr)


if __name__ == "__main__":
    main()
