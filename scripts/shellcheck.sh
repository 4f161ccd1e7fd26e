#!/usr/bin/env bash
# Every shell script of the repository (the container scripts in src/*/scripts/ and these
# tools) through shellcheck, following sourced files (-x). Any finding fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "shellcheck is missing: run scripts/setup-mariadb.sh (Debian) or install shellcheck" >&2
  exit 1
fi
mapfile -t files < <(git ls-files '*.sh' 2>/dev/null || find . -name '*.sh' -not -path './node_modules/*')
shellcheck -x "${files[@]}"
echo "shellcheck: ok (${#files[@]} files)"
