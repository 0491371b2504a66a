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

# A watch of a file that a writer keeps replacing (rename: the watch never
# reads half a file) with one more leaked goroutine each time: the HTML
# page after the last snapshot, and the JSON line of the same state.
grow() { # grow N: the seed dump plus N goroutines stuck at app.go:30
  cat "$seeds/sigquit.txt"
  for i in $(seq "$1"); do
    printf '\ngoroutine %d [chan send]:\nmain.leak.func1()\n\t/src/app.go:30 +0x2d\ncreated by main.leak\n\t/src/app.go:29 +0x5a\n' $((1000 + i))
  done
}
grow 0 >"$work/live.txt"
(
  for n in $(seq 1 60); do
    grow "$n" >"$work/live.tmp" && mv "$work/live.tmp" "$work/live.txt"
    sleep 0.1
  done
) &
writer=$!
"$bin" watch -f html -o "$work/watch.html" --every 3s --keep 2 --count 2 "$work/live.txt" || true
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
# The JSON of the page's state, as the page embeds it.
sed -n '/<script type="application\/json" id="data">/,/<\/script>/p' "$work/watch.html" |
  sed '1d;$d' >"$work/watch.json"
cd "$work" && node html_test.mjs snapshot.html snapshot.json diff.html diff.json "$work" \
  watch.html watch.json
