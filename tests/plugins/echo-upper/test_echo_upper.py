"""Integration tests for echo-upper's config, against the real ringd's --check-config.

ringd hands a plugin its `config:` mapping re-emitted as YAML, so text that is not YAML never reaches it, but a
mapping whose key is a list does: echo-upper must report that at the config's position in its own words.
"""

import unittest

from ringd_harness import check_config_text, free_port, main


class EchoUpperConfig(unittest.TestCase):
    def listener_with_config(self, config_lines):
        return ("workers: 1\n"
                "listeners:\n"
                f"  - name: echo\n    listen: tcp://127.0.0.1:{free_port()}\n    plugin: echo-upper\n"
                "    config:\n" + "".join(f"      {line}\n" for line in config_lines))

    def test_a_list_as_option_name_is_a_config_error(self):
        rc, out = check_config_text(self.listener_with_config(["[transform, mode]: upper"]))
        self.assertNotEqual(rc, 0, out)
        self.assertIn("plugin echo-upper rejected its config: expected option names to be strings", out)
        self.assertNotIn("bad conversion", out)
        self.assertRegex(out, r"ringd\.yaml:7:\d+: ")  # the config mapping, line 7

    def test_unknown_key_and_bad_value_point_at_the_key(self):
        rc, out = check_config_text(self.listener_with_config(["transform: [upper]"]))
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"(?m)ringd\.yaml:7:\d+: .*transform: expected upper or none$")
        rc, out = check_config_text(self.listener_with_config(["colour: blue"]))
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"ringd\.yaml:7:\d+: .*colour: unknown key \(known: transform\)")

    def test_good_config_checks_clean(self):
        rc, out = check_config_text(self.listener_with_config(["transform: none"]))
        self.assertEqual(rc, 0, out)
        self.assertIn("configuration OK", out)


if __name__ == "__main__":
    main()
