#!/bin/bash
# run.sh [PATTERN] - the benchmarks behind `make bench`. Runs every
# tests/bench/bench_*.sh (with bash) and every tests/bench/bench_*.c (compiled
# here, then run; such a program re-runs itself with or without the shim as it
# needs), or those whose name holds PATTERN, each with BUILD set and under a
# time limit (BW_BENCH_TIMEOUT, 600 s). A benchmark prints rows
# "name | value | baseline | ratio" and may print "# " notes (targets met or
# missed); run.sh gathers every row into one table, followed by the notes.
# Targets are reported, never asserted; the exit status is 1 when a
# benchmark could not run, or (without PATTERN) when a row of RESULTS.md's
# table is missing from the run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${BUILD:=$(cd "$here/../.." && pwd)/build}"
export BUILD
[ -f "$BUILD/libbreakwater.so" ] || { echo "bench: $BUILD/libbreakwater.so not built (make)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/bw-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rows="$tmp/rows" notes="$tmp/notes" failed=""
: >"$rows"; : >"$notes"
for b in "$here"/bench_*.sh "$here"/bench_*.c; do
    [ -e "$b" ] || continue
    name=$(basename "$b"); name=${name%.*}
    [ $# -gt 0 ] && [[ $name != *$1* ]] && continue
    cmd=(bash "$b")
    if [[ $b == *.c ]]; then
        cc -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O2 -o "$tmp/$name" "$b" ||
            { failed="$failed $name"; continue; }
        cmd=("$tmp/$name")
    fi
    echo "# running $name" >&2
    start=$EPOCHREALTIME
    timeout -k 5 "${BW_BENCH_TIMEOUT:-600}" "${cmd[@]}" >"$tmp/$name.out"
    rc=$?
    grep -E '^[^#|][^|]* \| [^|]+ \| [^|]+ \| [^|]+$' "$tmp/$name.out" >>"$rows"
    grep '^# ' "$tmp/$name.out" >>"$notes"
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    if [ $rc -eq 0 ] && ! grep -qE '^[^#|][^|]* \| ' "$tmp/$name.out"; then
        failed="$failed $name"
        echo "# $name printed no row" >>"$notes"
    elif [ $rc -ne 0 ]; then
        failed="$failed $name"
        echo "# $name failed (exit $rc, ${secs}s)" >>"$notes"
    else
        echo "# $name took ${secs}s" >>"$notes"
    fi
done
# Aligned when util-linux's column can keep the separator, as is otherwise.
align=(cat)
column -t -s '|' -o '|' </dev/null >/dev/null 2>&1 && align=(column -t -s '|' -o '|')
{ echo "name | value | baseline | ratio"; cat "$rows"; } | "${align[@]}"
cat "$notes"
# A full run must produce every row of the published table (RESULTS.md).
if [ $# -eq 0 ] && [ -f "$here/RESULTS.md" ]; then
    missing=$(sed -n '/^name  *|/,/^```/p' "$here/RESULTS.md" | sed '1d;$d' | cut -d'|' -f1 |
              tr -d ' ' | while read -r n; do
                  [ -n "$n" ] && ! cut -d'|' -f1 "$rows" | tr -d ' ' | grep -qx "$n" && echo "$n"
              done | tr '\n' ' ')
    [ -z "$missing" ] || { echo "bench: rows of RESULTS.md missing from this run: $missing" >&2; failed="$failed rows"; }
fi
[ -z "$failed" ] || { echo "bench: failed:$failed" >&2; exit 1; }
