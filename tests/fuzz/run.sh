#!/bin/bash
# run.sh - builds each libFuzzer harness into ${BUILD:-build}/fuzz/ and runs it
# for FUZZ_SECONDS (default 20) from its seed corpus. New inputs go to a work
# corpus under the build directory, never into tests/fuzz/corpus/. Prints the
# executions of each harness and a closing line "fuzz: N passed, N failed";
# exits non-zero when a harness fails to build or finds a crash.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SECONDS_EACH=${FUZZ_SECONDS:-20}
CLANG=${CLANG:-clang}
OUT=$BUILD/fuzz
FLAGS="-std=gnu11 -D_GNU_SOURCE -g -O1 -Iinclude -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
FRAME="src/core/http_field.c src/core/http_body.c"

# harness name and the core sources it needs
HARNESSES=(
    "http_req:src/core/http_req.c src/core/uuid.c $FRAME"
    "http_resp:src/core/http_resp.c $FRAME"
    "config:src/core/config_*.c src/core/ini_lines.c src/core/hash.c src/core/match.c src/core/match_addr.c -linih"
)

mkdir -p "$OUT"
pass=0; fail=0
for h in "${HARNESSES[@]}"; do
    name=${h%%:*}; srcs=${h#*:}
    bin=$OUT/fuzz_$name log=$OUT/fuzz_$name.log work=$OUT/corpus/$name
    # shellcheck disable=SC2086
    if ! $CLANG $FLAGS -o "$bin" "tests/fuzz/fuzz_$name.c" $srcs 2>"$log"; then
        cat "$log"; echo "FAIL fuzz_$name (build)"; fail=$((fail + 1)); continue
    fi
    mkdir -p "$work"
    maxlen=4096; [ "$name" = config ] && maxlen=8192   # conf/breakwater.ini is 6.4 KB
    "$bin" -max_total_time="$SECONDS_EACH" -max_len=$maxlen -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$OUT/crash-$name-" \
        "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        echo "ok   fuzz_$name: ${runs:-?} executions in ${SECONDS_EACH} s"
        pass=$((pass + 1))
    else
        tail -n 40 "$log"
        echo "FAIL fuzz_$name (exit $rc after ${runs:-?} executions; artifacts in $OUT)"
        fail=$((fail + 1))
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
