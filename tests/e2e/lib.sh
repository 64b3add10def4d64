# lib.sh - sourced by every end-to-end test. Tests talk only to 127.0.0.1/[::1],
# and every wait here is bounded.
set -u
: "${BUILD:?BUILD must point at the build directory}"
BW_LIB="$BUILD/libbreakwater.so"
# BW_PRELOAD_PREFIX (tests/sanitize.sh): libraries that must be preloaded before
# the shim, e.g. libasan.so for a sanitizer build of it; shim and run_modes add them.
BW_PRELOAD_PREFIX=${BW_PRELOAD_PREFIX:-}
BW_PRELOAD="${BW_PRELOAD_PREFIX:+$BW_PRELOAD_PREFIX:}$BW_LIB"
BW_CLI="$BUILD/breakwater"
SUPPORT="$BUILD/tests/support"
T=$(mktemp -d /tmp/bw-e2e.XXXXXX)
chmod 700 "$T"
BW_PIDS=()
export BREAKWATER_LOG=${BREAKWATER_LOG:-warn}
# The system python (one process; a pyenv shim in PATH would be a bash script
# that execs several times, each exec logging its own lines).
PYTHON3=python3
[ -x /usr/bin/python3 ] && PYTHON3=/usr/bin/python3

bw_cleanup() {
    local p
    for p in "${BW_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${BW_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap bw_cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; }

# free_port: prints a TCP port nobody listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT [SECONDS]: waits until 127.0.0.1:PORT accepts, at most SECONDS (10).
wait_port() {
    local i lim=$(( ${2:-10} * 20 ))
    for ((i = 0; i < lim; i++)); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    fail "nothing listens on port $1"
}

# bg CMD...: starts a background process that is killed when the test ends.
bg() { "$@" & BW_PIDS+=($!); }

# shim CMD...: runs CMD with the library preloaded.
shim() { LD_PRELOAD="$BW_PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}" "$@"; }

# write_config FILE <<EOF ... : a config file with safe permissions.
write_config() { cat >"$1"; chmod 600 "$1"; }

# start_server VAR CMD... : starts a support server (bw_faultd, bw_httpd, or
# anything whose first stdout line is "port N") in the background, waits at most
# 10 s for that line, and stores N in the variable VAR.
start_server() {
    local _var=$1 _out _i _p=""; shift
    _out=$(mktemp "$T/server.XXXXXX")
    bg "$@" >"$_out"
    for ((_i = 0; _i < 200; _i++)); do
        _p=$(sed -n '1s/^port \([0-9][0-9]*\)$/\1/p' "$_out")
        [ -n "$_p" ] && break
        sleep 0.05
    done
    [ -n "$_p" ] || fail "no 'port N' line from: $*"
    printf -v "$_var" '%s' "$_p"
}

# require_shim: fails unless the library and the tool are built and the library
# really gets loaded into a preloaded process.
require_shim() {
    [ -f "$BW_LIB" ] || fail "$BW_LIB not built"
    [ -x "$BW_CLI" ] || fail "$BW_CLI not built"
    shim grep -q libbreakwater /proc/self/maps 2>/dev/null ||
        fail "libbreakwater.so is not loaded under LD_PRELOAD"
}

# run_modes LABEL CMD... : runs CMD five ways, each under `timeout ${BW_RUN_TIMEOUT:-120}`: without
# the shim; under the shim with the built-in defaults (BREAKWATER_CONFIG unset);
# under the shim with the config file $BW_CFG; `breakwater run --`; and
# `breakwater run -c $BW_CFG --`. Every run's stdout and exit status must equal
# the plain run's, and no run's stderr may carry a "breakwater[" line (but for
# lines matching the extended regex $BW_LOG_OK, when set). The
# outputs stay in $T/LABEL.MODE.out and .err.
run_modes() {
    local label=$1 m rc o; shift
    # `breakwater run` puts the shim before what LD_PRELOAD holds: the prefix
    # then comes second, which is still ahead of libc.
    local cli_pre=(-u LD_PRELOAD)
    [ -n "$BW_PRELOAD_PREFIX" ] && cli_pre=(LD_PRELOAD="$BW_PRELOAD_PREFIX")
    require_shim
    [ -n "${BW_CFG:-}" ] && [ -f "$BW_CFG" ] || fail "run_modes: set BW_CFG to a config file"
    [ -e /etc/breakwater.ini ] && note "/etc/breakwater.ini exists: the 'default' runs use it"
    for m in plain default config cli cli_c; do
        o="$T/$label.$m"
        case $m in
        plain)   env -u LD_PRELOAD -u BREAKWATER_CONFIG timeout "${BW_RUN_TIMEOUT:-120}" "$@" ;;
        default) env -u BREAKWATER_CONFIG LD_PRELOAD="$BW_PRELOAD" timeout "${BW_RUN_TIMEOUT:-120}" "$@" ;;
        config)  env BREAKWATER_CONFIG="$BW_CFG" LD_PRELOAD="$BW_PRELOAD" timeout "${BW_RUN_TIMEOUT:-120}" "$@" ;;
        cli)     env -u BREAKWATER_CONFIG "${cli_pre[@]}" timeout "${BW_RUN_TIMEOUT:-120}" "$BW_CLI" run -- "$@" ;;
        cli_c)   env -u BREAKWATER_CONFIG "${cli_pre[@]}" timeout "${BW_RUN_TIMEOUT:-120}" "$BW_CLI" run -c "$BW_CFG" -- "$@" ;;
        esac >"$o.out" 2>"$o.err"
        rc=$?
        echo "exit status $rc" >>"$o.out"
        if [ $m = plain ]; then
            [ $rc -eq 0 ] || { cat "$o.err" >&2; fail "$label: fails even without the shim (exit $rc)"; }
        elif ! cmp -s "$T/$label.plain.out" "$o.out"; then
            diff "$T/$label.plain.out" "$o.out" | head -n 20 >&2
            sed -n 1,20p "$o.err" >&2
            fail "$label: output under '$m' differs from the plain run"
        fi
        if grep '^breakwater\[' "$o.err" | grep -Evq "${BW_LOG_OK:-^$}"; then
            grep '^breakwater\[' "$o.err" | head -n 5 >&2
            fail "$label: breakwater logged under '$m'"
        fi
    done
    note "$label: identical in 5 modes: $(head -c 120 "$T/$label.plain.out" | tr '\n' ' ')"
}

# dest_config FILE PORT [EXTRA_LINE...] : writes a config whose one destination
# section matches 127.0.0.1 and ::1 on PORT, plus any extra key lines.
dest_config() {
    local f=$1 p=$2; shift 2
    {
        echo "[destination testsrv]"
        echo "host = 127.0.0.1, ::1"
        echo "port = $p"
        local l
        for l in "$@"; do echo "$l"; done
    } | write_config "$f"
}
