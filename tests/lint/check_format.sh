#!/usr/bin/env bash
# Every C/C++ file git tracks matches the repository's .clang-format. Skips (77) without clang-format or git.
set -u
cd "$1" || exit 2
command -v clang-format >/dev/null && git rev-parse --git-dir >/dev/null 2>&1 || { echo "skipped: no clang-format or not a git checkout"; exit 77; }
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then echo "not formatted: $f (run: make format)"; bad=1; fi
done < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')
exit $bad
