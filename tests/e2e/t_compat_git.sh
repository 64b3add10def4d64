#!/bin/bash
# git over git:// against `git daemon`: with nothing listening `git ls-remote`
# fails without the shim; under it (start-up line from git itself) the daemon
# is started only after git's first connect, which is retried until the
# daemon answers (retries counted in the shared state); a
# clone under the shim then matches the repository.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/compat_lib.sh"
command -v git >/dev/null || fail "git missing (tests/deps.sh test installs it)"
require_shim
compat_config
export GIT_CONFIG_NOSYSTEM=1 HOME=$T
git init -q -b main "$T/src" && git -C "$T/src" -c user.name=t -c user.email=t@t commit -q --allow-empty -m one ||
    fail "cannot make a repository"
git clone -q --bare "$T/src" "$T/repos/r.git" || fail "cannot make the bare repository"
head=$(git -C "$T/src" rev-parse HEAD)
P=$(free_port)
plain git ls-remote "git://127.0.0.1:$P/r.git" >"$T/plain.out" 2>"$T/plain.err" && fail "git connected with nothing listening"
serve_after_connect "$P" git daemon --reuseaddr --listen=127.0.0.1 --port="$P" --base-path="$T/repos" \
    --export-all "$T/repos"
out=$(under git ls-remote "git://127.0.0.1:$P/r.git" 2>"$T/git.err") || { cat "$T/git.err" >&2; fail "git ls-remote under the shim failed"; }
grep -q "^$head	HEAD" <<<"$out" || fail "ls-remote: $out"
pid=$(started_in git)
retried_from "$pid" "$P"
n=$(assert_retried "$P")
under git clone -q "git://127.0.0.1:$P/r.git" "$T/clone" || fail "git clone under the shim failed"
assert_eq "cloned HEAD" "$head" "$(git -C "$T/clone" rev-parse HEAD)"
note "git (pid $pid): refused without the shim; ls-remote retried ($n) into a daemon started after its first connect; clone intact"
