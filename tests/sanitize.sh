#!/bin/bash
# sanitize.sh - the same suites against sanitizer builds, each in its own tree
# (never the normal one): $BUILD/asan (ASan+UBSan) and $BUILD/tsan (TSan), or
# ASAN_BUILD / TSAN_BUILD; BUILD defaults to build/. Runs:
#   1. every unit-test program built with -fsanitize=address,undefined;
#   2. a representative set of end-to-end tests against build/asan/libbreakwater.so;
#   3. test_hostcache and test_budget (their threaded tests) and the
#      multi-threaded end-to-end tests (t_fork_threads, a short t_soak)
#      against build/tsan.
# Prints one line per program or test and "sanitizers: N passed, N failed".
#
# What works for preloading a sanitizer build into programs built without one:
# - The runtime must come before libc in the lookup order, or the program's
#   malloc and friends bypass it: LD_PRELOAD="$(gcc -print-file-name=libasan.so):
#   .../libbreakwater.so" (libtsan.so likewise). tests/e2e/lib.sh's shim and
#   run_modes prepend BW_PRELOAD_PREFIX for this; `breakwater run` puts the
#   shim first and the runtime second, still ahead of libc, hence
#   verify_asan_link_order=0.
# - ASan: detect_leaks=0, since LeakSanitizer would report the leaks of
#   python3, node, nginx... (valgrind.sh checks the shim's own leaks).
# - curl, psql (and so t_transparency_curl_wget, t_bad_input,
#   t_idempotency_clients, t_compat_psql) hang at start-up in setlocale under
#   libasan alone, without the shim (glibc 2.36 / GCC 12 and clang 14
#   runtimes alike): not run here. Nor are t_transparency_java (the JVM's own
#   signal handling and memory reservations fight ASan's) and t_install (it
#   rebuilds $BUILD without the sanitizer flags).
# - t_proc_threads (thread cancellation) is run under TSan only: under ASan
#   a cancellation that unwinds instrumented frames trips the runtime's own
#   CHECK in __asan_handle_no_return (GetStackFrameAccessByAddr), a report
#   about ASan's stack bookkeeping, not about the program.
# - TSan: die_after_fork=0, since a program may start threads after a
#   multi-threaded fork, which TSan allows with that flag. Its suppressions
#   (tests/tsan.supp) cover the shim's wait hooks, which run inside TSan's
#   own blocking-call interceptors, where TSan does not see locks taken.
# - Both runtimes install SIGSEGV, SIGBUS and SIGFPE handlers without
#   SA_RESTART, through the shim's sigaction hook: the shim leaves fault
#   signals out of its restart rule (src/preload/signals.c), or every
#   SA_RESTART interruption of a bounded connect would reach the program as
#   EINTR (t_proc_threads' sigloop: a breaker failure each, an opened
#   breaker when five came in a row).
# - Every sanitizer writes its reports to files (log_path) checked after each
#   step, so a report fails the step even when the test does not look at
#   stderr or the process exits 0.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
ASAN_BUILD=${ASAN_BUILD:-${BUILD:-$ROOT/build}/asan}
TSAN_BUILD=${TSAN_BUILD:-${BUILD:-$ROOT/build}/tsan}
ASAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
TSAN_FLAGS="-fsanitize=thread"
ASAN_E2E="t_transparency_python t_transparency_echo t_transparency_node t_config_runtime
          t_ctor t_fork_threads t_idempotency_prop t_compat_python_httpclient
          t_compat_python_asyncio t_compat_nginx t_compat_redis t_tls_idempotency_prop
          t_config_reload_memory t_state_storage t_proc_children t_proc_stress t_proc_reentry
          t_proc_holders"
TSAN_E2E="t_fork_threads t_proc_children t_proc_stress t_proc_reentry t_proc_holders
          t_proc_threads t_soak t_config_reload_memory"
# TSan's suppressions (tests/tsan.supp) say why each is TSan's own.
TSAN_SUPP="$ROOT/tests/tsan.supp"
LOGS=$(mktemp -d /tmp/bw-sanitize.XXXXXX)
trap 'rm -rf "$LOGS"' EXIT
pass=0; fail=0

ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# reports STEP: fails STEP when a sanitizer left a report in $LOGS/rep.*.
reports() {
    local f found=0
    for f in "$LOGS"/rep.*; do
        [ -e "$f" ] || continue
        found=1; head -n 60 "$f" | sed 's/^/     | /'; rm -f "$f"
    done
    return $found
}

# build DIR FLAGS: the library, the CLI, every unit test and support server.
build() {
    local units supports
    # make does not see flag changes: a tree built with other flags starts over.
    [ "$(cat "$1/.sanitize-flags" 2>/dev/null)" = "$2" ] || rm -rf "$1"
    mkdir -p "$1" && echo "$2" >"$1/.sanitize-flags"
    units=$(ls tests/unit/test_*.c | sed "s|tests/unit/\(.*\)\.c|$1/tests/unit/\1|")
    supports=$(ls tests/support/*.c | sed "s|tests/support/\(.*\)\.c|$1/tests/support/\1|")
    # shellcheck disable=SC2086
    make -s -j2 BUILD="$1" EXTRA_CFLAGS="$2" all $units $supports >"$LOGS/build" 2>&1 ||
        { tail -n 30 "$LOGS/build"; return 1; }
}

# unit BIN: one unit-test program; exit status and sanitizer reports decide.
unit() {
    local out rc
    out=$("$1" 2>&1); rc=$?
    if [ $rc -eq 0 ] && reports && ! grep -q 'runtime error:\|Sanitizer' <<<"$out"; then
        ok "$(basename "$1") ($(tail -n 1 <<<"$out" | sed 's/.*: //'))"
    else
        tail -n 40 <<<"$out" | sed 's/^/     | /'; bad "$(basename "$1") (exit $rc)"
    fi
}

# e2e TAG TEST: one end-to-end test, bounded like tests/e2e/run.sh does.
e2e() {
    local start secs rc
    start=$EPOCHREALTIME
    timeout -k 5 180 bash "tests/e2e/$2.sh" >"$LOGS/e2e.out" 2>&1; rc=$?
    secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
    if [ $rc -eq 0 ] && reports; then
        ok "$1 $2 (${secs}s)"
    else
        tail -n 30 "$LOGS/e2e.out" | sed 's/^/     | /'; bad "$1 $2 (exit $rc, ${secs}s)"
    fi
}

# ---- ASan + UBSan ----
if build "$ASAN_BUILD" "$ASAN_FLAGS"; then
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$LOGS/rep.ubsan"
    for t in "$ASAN_BUILD"/tests/unit/test_*; do
        [ -x "$t" ] || continue
        ASAN_OPTIONS="detect_leaks=1:log_path=$LOGS/rep.asan" unit "$t"
    done
    (
        export BUILD=$ASAN_BUILD BW_PRELOAD_PREFIX
        BW_PRELOAD_PREFIX=$(gcc -print-file-name=libasan.so)
        export ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:log_path=$LOGS/rep.asan"
        for t in $ASAN_E2E; do
            [ -f "tests/e2e/$t.sh" ] && e2e asan "$t"
        done
        echo "$pass $fail" >"$LOGS/count"
    )
    read -r pass fail <"$LOGS/count"
    unset UBSAN_OPTIONS
else
    bad "ASan+UBSan build in $ASAN_BUILD"
fi

# ---- TSan ----
if build "$TSAN_BUILD" "$TSAN_FLAGS"; then
    for u in test_hostcache test_budget; do   # their threaded tests
        TSAN_OPTIONS="halt_on_error=1:log_path=$LOGS/rep.tsan" unit "$TSAN_BUILD/tests/unit/$u"
    done
    (
        export BUILD=$TSAN_BUILD BW_PRELOAD_PREFIX SOAK_SECONDS=${SOAK_SECONDS:-8}
        BW_PRELOAD_PREFIX=$(gcc -print-file-name=libtsan.so)
        export TSAN_OPTIONS="die_after_fork=0:suppressions=$TSAN_SUPP:log_path=$LOGS/rep.tsan"
        for t in $TSAN_E2E; do
            [ -f "tests/e2e/$t.sh" ] && e2e tsan "$t"
        done
        echo "$pass $fail" >"$LOGS/count"
    )
    read -r pass fail <"$LOGS/count"
else
    bad "TSan build in $TSAN_BUILD"
fi

echo "sanitizers: $pass passed, $fail failed"
[ $fail -eq 0 ]
