#!/bin/sh
# coverage.sh [spin -D options] - which marked branches (COV) of mome.pml the search reaches.
# Builds a coverage variant in a temporary folder, runs the exhaustive search and lists each COV
# line with how often it ran (0: never reached in this scenario).
set -e
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cp "$here/mome.pml" .
spin -a -DCOVER "$@" mome.pml >/dev/null
${CC:-gcc} -O1 -w -DCOLLAPSE -DMEMLIM=${MEMLIM:-4000} -DVECTORSZ=2048 -DCOVER "$@" -o pan pan.c
./pan -m1000000 -w26 > out.txt 2>&1 || true
grep -E "errors:|states, stored" out.txt
# Each COV line, shown with the line it marks (the next one when COV stands alone).
awk 'NR == FNR { if ($1 == "COV") hits[$2] = $3; next }
     /COV/ && !/define COV|COV_START|-DCOVER|ifdef COVER/ { mark = FNR; text = $0;
         if ($0 ~ /^ *COV *$/) { getline; text = $0 } sub(/^ */, "", text);
         printf "%8d  %4d: %s\n", hits[mark], mark, substr(text, 1, 90) }' out.txt mome.pml
