# common.sh - what the shell benchmarks share (sourced; not a benchmark), with the same
# rules as bench_common.h: a benchmark proves that the shim tracked its
# connections before it reports, and a figure not above its noise is
# "within noise", never "met".

# bs_tracked LIB CONFIG DEST CMD [ARG...] - how many connects CMD made under
# CONFIG that the shim tracked as destination DEST (its debug log says
# "connect ADDR -> DEST" for each). CMD's own output is discarded.
bs_tracked() {
    local lib=$1 cfg=$2 dest=$3
    shift 3
    env -u BREAKWATER_DISABLE BREAKWATER_LOG=debug LD_PRELOAD="$lib" BREAKWATER_CONFIG="$cfg" \
        timeout 120 "$@" 2>&1 >/dev/null | grep -c -- " -> $dest\$"
}

# bs_verdict ADDED NOISE OK - the verdict on an added cost: "within noise"
# when ADDED <= NOISE (zero and negative figures included), else "met" when
# OK is 1 and "missed" when it is 0.
bs_verdict() {
    awk -v a="$1" -v n="$2" -v ok="$3" 'BEGIN { print (a + 0 <= n + 0 ? "within noise" : ok + 0 ? "met" : "missed") }'
}

# bs_spread - the relative spread of the numbers on standard input, larger
# is better: (best - second best) / best, the noise a best-of-n figure carries.
bs_spread() {
    sort -gr | awk 'NR == 1 { b = $1 } NR == 2 { s = $1 } END { print (NR > 1 && b > 0 ? (b - s) / b : 0) }'
}
