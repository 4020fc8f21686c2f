#!/usr/bin/env bash
# Seeds fuzz/corpus/capture_decode/ from the shared sample captures (kept out of the repo).
# Each capture under 200 KB becomes two inputs: leading byte 0x00 (fed whole) and 0x0d
# (13-byte chunks, so every header and record straddles a chunk boundary).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${1:-$here/../../shared/pcaps}"
out="$here/corpus/capture_decode"
mkdir -p "$out"
n=0
for f in "$src"/*; do
  [[ -f "$f" && "$f" != *.md ]] || continue
  (( $(stat -c %s "$f") < 200 * 1024 )) || continue
  name="$(basename "$f")"
  { printf '\x00'; cat "$f"; } > "$out/whole-$name"
  { printf '\x0d'; cat "$f"; } > "$out/chunk13-$name"
  n=$((n + 2))
done
echo "seeded $n inputs into $out"
