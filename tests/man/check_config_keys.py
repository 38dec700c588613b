"""ringd.yaml(5) documents exactly the keys ringd accepts: no drift from docs/configuration.md or the parser.

Three sources, each read as a set of (mapping, key) pairs, where the mapping is one of
  top      the top level of ringd.yaml        log     the `log:` mapping
  listener one entry of `listeners:`          limits  the top-level and per-listener `limits:`
  admin    the `admin:` mapping           connection_rate_per_source  its mapping inside `limits:`
and a dotted key (`log.level`) stands for both (top, log) and (log, level):

  man page  daemon/config/ringd.yaml.5: the `.It Ic KEY` items of the sections TOP-LEVEL KEYS, LISTENERS,
            LIMITS and ADMIN LISTENER;
  docs      docs/configuration.md: the backticked keys in the first column of the tables under the headings
            "Top level", "Listeners", "Limits..." and any heading that mentions "admin";
  parser    daemon/config/*.cpp: the `constexpr std::array<std::string_view, N> NAME_keys{...}` lists that
            read_mapping() checks keys against (a list this script does not know fails the test, so a new
            mapping cannot go unchecked).

Every key in the docs or the parser must be in the man page, and every key of the man page in both, except
the keys in PENDING while they are missing from the docs or the parser. Scope: ringd's own keys. A plugin's
`config:` keys belong to the plugin (each shipped plugin documents them in its README; docs/configuration.md
does not list them), so they are not checked here.
"""

import argparse
import glob
import os
import re
import sys

# Keys the man page may document before the docs and the parser have them (none now): while a key is pending it
# may be missing from the docs or the parser. Once it is in both, this test fails until it is removed here.
PENDING: set[tuple[str, str]] = set()

MAN_SECTIONS = {"TOP-LEVEL KEYS": "top", "LISTENERS": "listener", "LIMITS": "limits", "ADMIN LISTENER": "admin"}
PARSER_LISTS = {"top_level_keys": "top", "log_keys": "log", "listener_keys": "listener", "limits_keys": "limits",
                "admin_keys": "admin", "connection_rate_keys": "connection_rate_per_source"}
# Lists that name some keys of a mapping for another purpose: each must be a subset of that mapping's keys.
PARSER_SUBSETS = {"include_file_keys": "top", "required_listener_keys": "listener"}


def add_key(keys, scope, key):
    """(scope, key), and for a dotted key its parent in scope and the child in the parent's own mapping."""
    if "." in key:
        parent, child = key.split(".", 1)
        keys.add((scope, parent))
        add_key(keys, parent, child)
    else:
        keys.add((scope, key))


def man_keys(path):
    keys, scope = set(), None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(".Sh "):
                scope = MAN_SECTIONS.get(line[4:].strip().strip('"'))
            m = re.match(r"\.It Ic ([A-Za-z_][A-Za-z0-9_.]*)", line)
            if m and scope:
                add_key(keys, scope, m.group(1))
    return keys


def docs_scope(heading):
    heading = heading.lower()
    if "admin" in heading:
        return "admin"
    for prefix, scope in (("top level", "top"), ("listeners", "listener"), ("limits", "limits")):
        if heading.startswith(prefix):
            return scope
    return None


def docs_keys(path):
    keys, scope = set(), None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                scope = docs_scope(line[3:].strip())
                continue
            if not scope or not line.startswith("|"):
                continue
            first = line.split("|")[1].strip()
            # Key rows start with the key(s): "`allow` / `deny`", "`max_connections` (per listener, ...)". Rows
            # about a plugin's limits ("remote-cmd: ...") and the header row do not.
            if not first.startswith("`"):
                continue
            for key in re.findall(r"`([A-Za-z_][A-Za-z0-9_.]*)`", first.split("(")[0]):
                add_key(keys, scope, key)
    return keys


def parser_keys(config_dir):
    keys, problems, lists = set(), [], {}
    for path in sorted(glob.glob(os.path.join(config_dir, "*.cpp"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for name, body in re.findall(r"std::array<std::string_view,\s*\d+>\s+(\w+_keys)\s*\{(.*?)\}", text, re.S):
            lists[name] = (os.path.basename(path), re.findall(r'"([^"]*)"', body))
    for name, (file, entries) in lists.items():
        if name in PARSER_LISTS:
            for key in entries:
                add_key(keys, PARSER_LISTS[name], key)
        elif name not in PARSER_SUBSETS:
            problems.append(f"daemon/config/{file}: key list {name} is not known to {os.path.basename(__file__)}: "
                            "add it to PARSER_LISTS (the mapping it checks) or PARSER_SUBSETS")
    for name, scope in PARSER_SUBSETS.items():
        if name in lists:
            extra = {(scope, k) for k in lists[name][1]} - keys
            problems += [f"{name} has {k} that the {scope} list lacks" for _, k in sorted(extra)]
    if not lists:
        problems.append(f"no NAME_keys lists found in {config_dir}/*.cpp")
    return keys, problems


def show(keys):
    return ", ".join(f"{scope}:{key}" for scope, key in sorted(keys))


def compare(man, other, what):
    problems = [f"{scope}:{key} is in {what} but not in ringd.yaml(5)" for scope, key in sorted(other - man)]
    problems += [f"{scope}:{key} is in ringd.yaml(5) but not in {what}" for scope, key in sorted(man - other)
                 if (scope, key) not in PENDING]
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", default=os.environ.get("RINGD_SOURCE_DIR", "."))
    parser.add_argument("--man", help="default: daemon/config/ringd.yaml.5 in the source dir")
    parser.add_argument("--docs", help="default: docs/configuration.md in the source dir")
    args = parser.parse_args()
    src = args.source_dir
    man = man_keys(args.man or os.path.join(src, "daemon", "config", "ringd.yaml.5"))
    docs = docs_keys(args.docs or os.path.join(src, "docs", "configuration.md"))
    parsed, problems = parser_keys(os.path.join(src, "daemon", "config"))
    print(f"ringd.yaml(5):         {show(man)}\ndocs/configuration.md: {show(docs)}\ndaemon/config:         {show(parsed)}")
    for source, what in ((man, "ringd.yaml(5)"), (docs, "docs/configuration.md"), (parsed, "daemon/config")):
        if len(source) < 10:
            problems.append(f"only {len(source)} keys found in {what}: has its layout changed?")
    problems += compare(man, docs, "docs/configuration.md") + compare(man, parsed, "daemon/config")
    for scope, key in sorted(PENDING):
        if (scope, key) in docs and (scope, key) in parsed:
            problems.append(f"{scope}:{key} is in the docs and the parser now: remove it from PENDING")
        elif (scope, key) not in man:
            problems.append(f"{scope}:{key} is PENDING but not in ringd.yaml(5)")
    pending_now = sorted(k for k in PENDING if k not in docs or k not in parsed)
    if pending_now:
        print(f"pending (documented in ringd.yaml(5), not yet in the docs and parser): {show(pending_now)}")
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
