#!/usr/bin/env bash
# The HTML report in headless Chromium: html/html_test.mjs loads a snapshot
# report and a diff report made from the fuzz seeds' dumps and checks the
# groups, the search box, the wait filter and the growth charts; the
# screenshots are left in WORKDIR. Installs Chromium, Node.js and npm
# (scripts/deps.sh browser) and playwright-core from npm into WORKDIR.
#
#   check_html.sh TETHER_LEAKS WORKDIR
set -euo pipefail
bin=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
seeds=$here/../fuzz/seeds
bash "$here/../../../scripts/deps.sh" browser
mkdir -p "$work"
cp "$here/html/package.json" "$here/html/package-lock.json" "$here/html/html_test.mjs" "$work/"
if [ ! -d "$work/node_modules/playwright-core" ]; then
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi

# A snapshot with a proven leak, suspects and waits of minutes, and a diff
# with a grown site and a new one.
"$bin" -f html -o "$work/snapshot.html" "$seeds/sigquit.txt"
"$bin" -f json -o "$work/snapshot.json" "$seeds/sigquit.txt"
{
  cat "$seeds/sigquit.txt"
  printf '\ngoroutine 30 [chan send (leaked), 14 minutes]:\nmain.leak.func1()\n\t/src/app.go:30 +0x2d\ncreated by main.leak\n\t/src/app.go:29 +0x5a\n'
  printf '\ngoroutine 31 [select]:\nmain.poll()\n\t/src/app.go:50 +0x2d\ncreated by main.start\n\t/src/app.go:49 +0x5a\n'
} >"$work/grown.txt"
"$bin" diff -f html -o "$work/diff.html" "$seeds/sigquit.txt" "$work/grown.txt"
"$bin" diff -f json -o "$work/diff.json" "$seeds/sigquit.txt" "$work/grown.txt"
cd "$work" && node html_test.mjs snapshot.html snapshot.json diff.html diff.json "$work"
