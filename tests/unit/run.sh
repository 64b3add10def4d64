#!/bin/sh
# Runs every unit-test program given and prints one total line.
pass=0; fail=0; bad=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | tail -n 1)
    p=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ] || [ $rc -ne 0 ]; then
        printf '%s\n' "$out" | tail -n 40
        echo "FAIL $t (exit $rc)"
        bad=$((bad + 1))
    else
        echo "ok   $line"
    fi
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
done
[ $bad -gt 0 ] && [ $fail -eq 0 ] && fail=$bad
echo "unit: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ $bad -eq 0 ]
