#!/bin/bash
# ssh (OpenSSH client) to a local sshd (key authentication, a private host
# key and config): with nothing listening ssh fails without the shim
# (connection refused); under it (start-up line from ssh itself) sshd is
# started only after ssh's first connect, which is retried until sshd accepts
# (retries counted in the shared state); the remote command's output arrives.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/compat_lib.sh"
SSHD=/usr/sbin/sshd
[ -x $SSHD ] && command -v ssh >/dev/null || fail "ssh/sshd missing (tests/deps.sh test installs openssh-server)"
[ "$(id -u)" = 0 ] || fail "needs root (sshd)"
require_shim
compat_config
mkdir -p /run/sshd && chmod 755 /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key" || fail "ssh-keygen (host) failed"
ssh-keygen -q -t ed25519 -N '' -f "$T/id" || fail "ssh-keygen (user) failed"
cp "$T/id.pub" "$T/authorized_keys"
P=$(free_port)
cat >"$T/sshd_config" <<CFG
Port $P
ListenAddress 127.0.0.1
HostKey $T/host_key
AuthorizedKeysFile $T/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile $T/sshd.pid
CFG
$SSHD -t -f "$T/sshd_config" || fail "sshd rejects its test config"
SSH=(ssh -F /dev/null -i "$T/id" -o BatchMode=yes -o StrictHostKeyChecking=no
     -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p "$P" root@127.0.0.1)
plain "${SSH[@]}" echo hello-ssh >"$T/plain.out" 2>"$T/plain.err" && fail "ssh connected with nothing listening"
grep -q 'refused' "$T/plain.err" || fail "ssh without the shim: $(cat "$T/plain.err")"
serve_after_connect "$P" $SSHD -D -f "$T/sshd_config" -E "$T/sshd.log"
out=$(under "${SSH[@]}" echo hello-ssh 2>"$T/ssh.err") || { cat "$T/ssh.err" "$T/sshd.log" >&2; fail "ssh under the shim failed"; }
assert_eq "remote command through ssh, sshd 700 ms late" hello-ssh "$out"
pid=$(started_in ssh)
retried_from "$pid" "$P"
n=$(assert_retried "$P")
note "ssh (pid $pid): refused without the shim; retried ($n) into sshd started after its first connect"
