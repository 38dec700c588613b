"""ringd-cmd against the real daemon: output and exit status pass through, both protocols, arguments arrive
exactly, refusals and timeouts map to 126/127/124, tokens, unix sockets, --json and --help."""

import json
import os
import subprocess
import unittest
import uuid

from ringd_harness import Ringd, free_ports, main, tcp
from rc_client import RINGD_CMD_BIN, SHIPPED_ALLOW, remote_cmd_listener

TOKEN = "s3cret-for-ringd-cmd"


class Client(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.jh, cls.fr = free_ports(2)
        cls.unix_name = "ringd-cmd-test-" + uuid.uuid4().hex
        cls.token_dir = os.path.join("/tmp", "ringd-cmd-test-" + uuid.uuid4().hex)
        os.mkdir(cls.token_dir, 0o700)
        cls.token_file = os.path.join(cls.token_dir, "token")
        fd = os.open(cls.token_file, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (TOKEN + "\n").encode())
        os.close(fd)
        allow = SHIPPED_ALLOW + ["sh", "sleep", "ringd-no-such-command"]
        cls.ringd = Ringd(listeners=[
            remote_cmd_listener("jh", tcp(cls.jh), protocol="json-header", allow=allow),
            remote_cmd_listener("fr", tcp(cls.fr), protocol="framed", allow=allow, timeout="1s",
                                token_file=cls.token_file),
            remote_cmd_listener("ux", "unix:@" + cls.unix_name, protocol="framed", allow=allow),
        ]).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.cleanup()
        os.unlink(cls.token_file)
        os.rmdir(cls.token_dir)

    def run_cmd(self, *args, env=None):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("RINGD_CMD_")}
        full_env.update(env or {})
        return subprocess.run([RINGD_CMD_BIN, *args], capture_output=True, timeout=30, env=full_env)

    def jh_args(self):
        return ["--connect", f"tcp://127.0.0.1:{self.jh}"]

    def fr_args(self):
        return ["--connect", f"tcp://127.0.0.1:{self.fr}", "--protocol", "framed", "--token-file", self.token_file]

    def test_json_header_output_and_status(self):
        r = self.run_cmd(*self.jh_args(), "--", "sh", "-c", "echo out; echo err >&2; exit 5")
        self.assertEqual((r.stdout, r.stderr, r.returncode), (b"out\n", b"err\n", 5))

    def test_arguments_arrive_exactly(self):
        tricky = ["a  b", "", "it's", "$(id)", "`id`", ";", "|", "\\", "\"q\"", "tab\there", "new\nline", "*"]
        for base in (self.jh_args(), self.fr_args()):
            with self.subTest(protocol=base[-1]):
                r = self.run_cmd(*base, "--", "sh", "-c", 'for a in "$@"; do printf "[%s]" "$a"; done', "sh",
                                 *tricky)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.decode(), "".join(f"[{a}]" for a in tricky))

    def test_refused_not_found_and_timeout(self):
        r = self.run_cmd(*self.jh_args(), "--", "rm", "-rf", "/x")
        self.assertEqual(r.returncode, 126)
        self.assertIn(b"command not allowed: rm", r.stderr)
        r = self.run_cmd(*self.fr_args(), "--", "rm", "-rf", "/x")
        self.assertEqual(r.returncode, 126)
        self.assertIn(b"command not allowed: rm", r.stderr)
        r = self.run_cmd(*self.fr_args(), "--", "ringd-no-such-command")
        self.assertEqual(r.returncode, 127)
        r = self.run_cmd(*self.fr_args(), "--", "sleep", "10")
        self.assertEqual(r.returncode, 124)
        r = self.run_cmd(*self.fr_args(), "--timeout", "200ms", "--", "sleep", "10")
        self.assertEqual(r.returncode, 124)

    def test_signal_status(self):
        r = self.run_cmd(*self.fr_args(), "--", "sh", "-c", "kill -KILL $$")
        self.assertEqual(r.returncode, 137)

    def test_token_required(self):
        r = self.run_cmd("--connect", f"tcp://127.0.0.1:{self.fr}", "--protocol", "framed", "--", "echo", "x")
        self.assertEqual(r.returncode, 126)
        self.assertIn(b"requires a token", r.stderr)

    def test_environment_defaults(self):
        r = self.run_cmd("echo", "hi", env={"RINGD_CMD_CONNECT": f"tcp://127.0.0.1:{self.fr}",
                                            "RINGD_CMD_PROTOCOL": "framed", "RINGD_CMD_TOKEN_FILE": self.token_file})
        self.assertEqual((r.stdout, r.returncode), (b"hi\n", 0))

    def test_unix_socket_and_line_mode(self):
        r = self.run_cmd("--connect", "unix:@" + self.unix_name, "--protocol", "framed", "--line", "--",
                         "echo", "'a  b'", "c")
        self.assertEqual((r.stdout, r.returncode), (b"a  b c\n", 0), r.stderr)

    def test_json_flag_prints_the_header_first(self):
        r = self.run_cmd(*self.jh_args(), "--json", "--", "echo", "hi")
        first, rest = r.stdout.split(b"\n", 1)
        header = json.loads(first)
        self.assertEqual(header["stdout_size"], 3)
        self.assertEqual(rest, b"hi\n")

    def test_usage_errors(self):
        self.assertEqual(self.run_cmd().returncode, 125)
        self.assertEqual(self.run_cmd("--bogus", "ls").returncode, 125)
        self.assertEqual(self.run_cmd("--protocol", "size-prefixed", "--", "ls").returncode, 125)
        r = self.run_cmd("--connect", "tcp://127.0.0.1:1", "--", "ls")
        self.assertEqual(r.returncode, 125)
        self.assertIn(b"cannot connect", r.stderr)

    def test_help_is_a_manual(self):
        r = self.run_cmd("--help")
        self.assertEqual(r.returncode, 0)
        for section in (b"NAME", b"SYNOPSIS", b"DESCRIPTION", b"OPTIONS", b"EXIT STATUS", b"EXAMPLES"):
            self.assertIn(section, r.stdout)


if __name__ == "__main__":
    main()
