#!/bin/bash
# run-all.sh UNIT_BIN... - everything `make test` runs, with one closing line.
set -u
total_p=0; total_f=0
tally() {   # tally OUTPUT_FILE: add the "N passed, N failed" of its last such line
    local line p f
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    p=$(sed -n 's/.* \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' <<<"$line")
    f=$(sed -n 's/.* \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' <<<"$line")
    total_p=$((total_p + ${p:-0})); total_f=$((total_f + ${f:-1}))
}
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
sh tests/unit/run.sh "$@" | tee "$out/unit"; tally "$out/unit"
bash tests/e2e/run.sh | tee "$out/e2e"; tally "$out/e2e"
# Every stage runs; a missing one counts as a failure (tally of an empty file).
if [ -f tests/fuzz/run.sh ]; then
    bash tests/fuzz/run.sh | tee "$out/fuzz"; tally "$out/fuzz"
else
    echo "FAIL fuzz stage: tests/fuzz/run.sh missing" | tee "$out/fuzz"; tally "$out/fuzz"
fi
bash tests/sanitize.sh | tee "$out/sanitize"; tally "$out/sanitize"
bash tests/valgrind.sh | tee "$out/valgrind"; tally "$out/valgrind"
echo "all: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
