"""Checks every man page the build installs (the pages given as arguments: ringd_install_man_page records them).

For each page:
  - `man --warnings -l PAGE` formats it with groff's warnings on: any warning (an undefined macro, an unclosed
    list, a bad escape) fails, and so does a non-zero exit;
  - `lexgrog PAGE` parses its NAME section (what mandb and whatis/apropos index): it must give "NAME - what"
    with NAME the page's file name;
  - its .Dt title and section match the file name (ringd.yaml.5 is RINGD.YAML 5);
  - every .Xr reference to a ringd page names a page the build installs, in the right section.

Skips (exit 77) when man or lexgrog is missing: `make test` installs man-db and groff-base (Makefile DEB_PACKAGES).
"""

import os
import re
import shutil
import subprocess
import sys

SKIP = 77


def page_name_and_section(path):
    base = os.path.basename(path)
    name, section = base.rsplit(".", 1)
    return name, section


def check_groff_warnings(path):
    env = dict(os.environ, MANWIDTH="80", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", path], capture_output=True, text=True, env=env)
    problems = []
    if r.returncode != 0:
        problems.append(f"man exited {r.returncode}")
    if r.stderr.strip():
        problems.append("groff warnings:\n" + r.stderr.rstrip())
    if len(r.stdout.splitlines()) < 10:
        problems.append(f"formatted to only {len(r.stdout.splitlines())} lines")
    return problems


def check_name_section(path):
    name, _ = page_name_and_section(path)
    r = subprocess.run(["lexgrog", path], capture_output=True, text=True)
    if r.returncode != 0:
        return [f"lexgrog found no NAME section (exit {r.returncode}): {r.stdout.strip()} {r.stderr.strip()}"]
    m = re.fullmatch(r'.*: "(\S+) - (.+)"', r.stdout.strip())
    if not m:
        return [f"lexgrog output not 'NAME - description': {r.stdout.strip()}"]
    if m.group(1) != name:
        return [f"NAME section names {m.group(1)}, the file is {name}"]
    return []


def check_title(path, text):
    name, section = page_name_and_section(path)
    m = re.search(r"^\.Dt\s+(\S+)\s+(\S+)", text, re.M) or re.search(r"^\.TH\s+\"?([^\s\"]+)\"?\s+(\S+)", text, re.M)
    if not m:
        return ["no .Dt (mdoc) or .TH (man) title line"]
    if m.group(1) != name.upper() or m.group(2) != section:
        return [f"title says {m.group(1)}({m.group(2)}), the file is {name}({section})"]
    return []


def check_references(text, installed):
    problems = []
    for name, section in sorted(set(re.findall(r"^\.Xr\s+(\S+)\s+(\d)", text, re.M))):
        if name.startswith("ringd") and (name, section) not in installed:
            problems.append(f".Xr {name} {section}: no such page is installed")
    return problems


def main(pages):
    missing = [tool for tool in ("man", "lexgrog") if shutil.which(tool) is None]
    if missing:
        print(f"SKIP: {' and '.join(missing)} not installed (Debian: man-db, groff-base)")
        return SKIP
    if not pages:
        print("no man pages given")
        return 1
    installed = {page_name_and_section(p) for p in pages}
    failed = False
    for path in pages:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        problems = (check_groff_warnings(path) + check_name_section(path) + check_title(path, text) +
                    check_references(text, installed))
        print(f"{'FAIL' if problems else 'ok  '} {path}")
        for p in problems:
            print("     " + p.replace("\n", "\n     "))
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
