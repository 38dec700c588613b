"""remote-cmd authorisation: shell-injection probes never run anything but the allowed command (and never
create files), commands off the allow list are refused in every spelling, an empty list refuses everything,
and shell mode (opt-in) really is a shell and is announced in the log."""

import os
import tempfile
import unittest
import uuid

from ringd_harness import Ringd, connect, free_ports, main, tcp
from rc_client import (SHIPPED_ALLOW, framed_request, json_header_request, read_json_header_reply,
                       remote_cmd_listener)

PROBES = ["ls; id", "ls $(id)", "`id`", "ls | id", "ls && id", "ls\nid", "ls `id`", "ls || id", "ls & id",
          "$(id)", "ls;id", "ls\n\nid", "ls\r\nid"]


def uid_marker(data):
    """What `id` prints: its output must never appear."""
    return b"uid=" in data


class Security(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.jh, cls.fr, cls.empty, cls.shell = free_ports(4)
        cls.ringd = Ringd(listeners=[
            remote_cmd_listener("jh", tcp(cls.jh), protocol="json-header", allow=SHIPPED_ALLOW),
            remote_cmd_listener("fr", tcp(cls.fr), protocol="framed", allow=SHIPPED_ALLOW),
            remote_cmd_listener("empty", tcp(cls.empty), protocol="json-header"),
            remote_cmd_listener("shell", tcp(cls.shell), protocol="json-header", shell=True, allow=["*"]),
        ]).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.cleanup()

    def test_injection_probes_json_header(self):
        with connect(self.jh) as s:
            for probe in PROBES:
                with self.subTest(probe=probe):
                    s.sendall(probe.encode())
                    # A newline ends a json-header request: each line of a probe is answered on its own.
                    for _ in range(probe.count("\n") + 1):
                        header, out, err = read_json_header_reply(s)
                        self.assertFalse(uid_marker(out) or uid_marker(err), (probe, out, err))

    def test_injection_probes_framed_cmd_and_argv(self):
        with connect(self.fr) as s:
            for probe in PROBES:
                with self.subTest(probe=probe):
                    header, out, err = framed_request(s, {"cmd": probe})
                    self.assertFalse(uid_marker(out) or uid_marker(err), (probe, out, err))
                    header, out, err = framed_request(s, {"argv": ["echo", probe]})
                    self.assertEqual(out, (probe + "\n").encode())

    def test_redirection_creates_no_file(self):
        target = os.path.join(tempfile.gettempdir(), "ringd-probe-" + uuid.uuid4().hex)
        with connect(self.jh) as s:
            for probe in [f"ls > {target}", f"ls >{target}", f"echo x >> {target}", f"echo x; echo y > {target}",
                          f"ls 1>{target} 2>&1", f"echo $(touch {target})", f"echo `touch {target}`"]:
                with self.subTest(probe=probe):
                    json_header_request(s, probe)
                    self.assertFalse(os.path.exists(target), probe)

    def test_unlisted_commands_are_refused(self):
        with connect(self.jh) as s:
            for line, name in [("id", "id"), ("/usr/bin/id", "/usr/bin/id"), ("sh -c id", "sh"),
                               ("../../usr/bin/id", "../../usr/bin/id"), ("/bin/ls", "/bin/ls"),
                               ("./ls", "./ls"), ("LS", "LS"), ("'ls '", "ls "), ("env ls", "env")]:
                with self.subTest(line=line):
                    header, out, err = json_header_request(s, line)
                    self.assertEqual(header["exit_code"], 126)
                    self.assertEqual(err, f"ringd: command not allowed: {name}\n".encode())
                    self.assertEqual(out, b"")

    def test_empty_allow_list_refuses_everything(self):
        with connect(self.empty) as s:
            for line in ["ls", "echo hi", "date"]:
                header, out, err = json_header_request(s, line)
                self.assertEqual(header["exit_code"], 126)
                self.assertEqual(out, b"")

    def test_commands_get_a_clean_environment(self):
        with connect(self.shell) as s:
            _, out, _ = json_header_request(s, "env | sort")
            names = sorted(line.split(b"=", 1)[0] for line in out.splitlines())
            # /bin/sh may add PWD, SHLVL, _ and OLDPWD itself; nothing of ringd's environment leaks in.
            self.assertTrue(set(names) <= {b"PATH", b"LANG", b"PWD", b"SHLVL", b"_", b"OLDPWD"}, names)
            self.assertNotIn(b"NOTIFY_SOCKET", out)

    def test_shell_mode_is_a_shell_and_is_announced(self):
        with connect(self.shell) as s:
            header, out, _ = json_header_request(s, "echo abc | tr a-c x-z; pwd")
            self.assertEqual(out, b"xyz\n/\n")
            _, out, _ = json_header_request(s, "cat < /dev/null; echo $((6*7))")
            self.assertEqual(out, b"42\n")
        self.assertIn("ARBITRARY shell", self.ringd.log())

    def test_stdin_is_dev_null(self):
        with connect(self.shell) as s:
            _, out, _ = json_header_request(s, "cat; echo done")
            self.assertEqual(out, b"done\n")


if __name__ == "__main__":
    main()
