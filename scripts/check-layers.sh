#!/usr/bin/env bash
# The runtime is built in layers (docs/ARCHITECTURE.md, "The layers"):
#
#   core < sync < observe < leak < net < http
#
# A file may include headers of its own layer and of the layers below it.
# The only headers of a higher layer it may include are that layer's
# hooks.h, the small documented surface through which a lower layer tells
# an upper one something (a channel lost its last reference, a task exits).
# Every internal include names its folder ("core/sched.h"), so the layer of
# each arrow is visible in the line itself.
#
# Usage: scripts/check-layers.sh [SRC_DIR]   (default: src next to this script)
# Prints each violation as file:line and exits 1 when there is any.
set -euo pipefail
src=${1:-"$(dirname "${BASH_SOURCE[0]}")/../src"}
layers=(core sync observe leak net http)

rank() {
  local i
  for i in "${!layers[@]}"; do
    [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }
  done
  echo -1
}

bad=0
shopt -s nullglob
for dir in "$src"/*/; do
  layer=$(basename "$dir")
  lr=$(rank "$layer")
  if [ "$lr" -lt 0 ]; then
    echo "$dir: a folder that is not a layer (known: ${layers[*]})"
    bad=1
    continue
  fi
  for f in "$dir"*.c "$dir"*.h; do
    while IFS=: read -r line inc; do
      target=$(sed -E 's/^#include "([^"]*)".*/\1/' <<<"$inc")
      [ "$target" = "tether.h" ] && continue
      case "$target" in
      */*) ;;
      *)
        echo "$f:$line: include \"$target\" without its layer folder (write \"$layer/$target\")"
        bad=1
        continue
        ;;
      esac
      tl=${target%%/*}
      tr=$(rank "$tl")
      if [ "$tr" -lt 0 ]; then
        echo "$f:$line: include \"$target\" from no known layer"
        bad=1
      elif [ "$tr" -gt "$lr" ] && [ "${target#*/}" != "hooks.h" ]; then
        echo "$f:$line: $layer/ includes \"$target\", a header of the higher layer $tl/ (only $tl/hooks.h may be included from below)"
        bad=1
      fi
    done < <(grep -n '^#include "' "$f" || true)
  done
done
if [ "$bad" -ne 0 ]; then
  echo "check-layers: upward includes found (see docs/ARCHITECTURE.md, \"The layers\")" >&2
  exit 1
fi
echo "check-layers: every include points to its own layer, a lower one, or a hooks.h"
