#!/bin/bash
# Runtimes that close sockets on paths other than close() give bulkhead slots
# back (max_connections = 4, bw_faultd echo):
# - node (libuv closes with syscall(SYS_close); it has an epoll instance, so
#   its connects are native and a rejection comes back as an error event):
#   4 connections, echoed and destroyed, then 4 again all succeed; a fifth
#   while those are open fails with ECONNREFUSED;
# - java (the JVM closes a socket another thread is blocked reading by
#   dup2-ing a dead socket over it): java.net.Socket and SocketChannel, 4
#   connected, each closed while a thread is blocked reading, 4 again all
#   succeed, a fifth fails; strace confirms the dup2 path was taken.
# Between the batches, while node or java waits, another process sharing the
# state must get all 4 slots: that check sees node's leaked slots when
# SYS_close is not followed (the second batch alone would not: socket()
# handing out the same numbers again drops stale records). The JVM closes
# every descriptor it dup2()ed over soon after, so for java the dup2 release
# itself is checked by t_bulkhead_close (bulkhead_client's dup2/dup3).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/clients/bulkhead_lib.sh"
command -v node >/dev/null || fail "node missing (tests/deps.sh test installs it)"
command -v javac >/dev/null || fail "javac missing (tests/deps.sh test installs it)"

start_server PORT "$SUPPORT/bw_faultd" --max-seconds 200 echo
N=4

cat >"$T/bulkhead.js" <<'JS'
// Opens n connections (each echoes one line), destroys them, prints "closed"
// and waits for the file GO, opens n again, then one more while those are
// open; prints what each batch got.
const net = require('net'), fs = require('fs');
const [port, n, go] = [+process.argv[2], +process.argv[3], process.argv[4]];
const timer = setTimeout(() => { console.log('timeout'); process.exit(1); }, 30000);
function open() {
  return new Promise((done) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('connect', () => s.write('ping\n'));
    s.once('data', () => done({ s, r: 'ok' }));
    s.on('error', (e) => done({ s, r: e.code }));
  });
}
function closeAll(list) {
  return Promise.all(list.map(({ s }) => new Promise((done) => {
    if (s.destroyed) return done();
    s.once('close', done); s.destroy();
  })));
}
function summary(name, list) {
  const c = {};
  for (const { r } of list) c[r] = (c[r] || 0) + 1;
  console.log(name + ' ' + Object.keys(c).sort().map((k) => k + '=' + c[k]).join(' '));
}
(async () => {
  const seq = async (k) => { const l = []; for (let i = 0; i < k; i++) l.push(await open()); return l; };
  const a = await seq(n); summary('batch1', a); await closeAll(a);
  console.log('closed');
  // Polled with stat: no descriptor is created while the other process looks.
  await new Promise((done) => { const t = setInterval(() => { if (fs.existsSync(go)) { clearInterval(t); done(); } }, 20); });
  const b = await seq(n); summary('batch2', b);
  const x = await seq(1); summary('extra', x);
  await closeAll(b.concat(x));
  clearTimeout(timer);
})();
JS
# between_batches NAME CFG PID: once NAME's output says "closed", another
# process sharing the state gets all N slots; then NAME may go on.
between_batches() {
    local name=$1 cfg=$2 pid=$3 i
    for ((i = 0; i < 600; i++)); do
        grep -q '^closed$' "$T/$name.out" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    grep -q '^closed$' "$T/$name.out" || { cat "$T/$name.err" >&2; fail "$name never closed its first batch"; }
    bh "$cfg" "$PORT" conn conn conn conn conn close 0 close 1 close 2 close 3
    assert_eq "$name: another process after the first batch closed" \
        "$(want "s0 ok" "s1 ok" "s2 ok" "s3 ok" "s4 ECONNREFUSED")" "$(out)"
    touch "$T/go.$name"
}

bh_config "$T/node.ini" "$PORT" "max_connections = $N"
BREAKWATER_CONFIG=$T/node.ini LD_PRELOAD="$BW_PRELOAD" timeout 60 node "$T/bulkhead.js" "$PORT" $N \
    "$T/go.node" >"$T/node.out" 2>"$T/node.err" &
pid=$!
BW_PIDS+=($pid)
between_batches node "$T/node.ini" $pid
wait $pid || fail "node failed: $(head -n 5 "$T/node.err")"
grep -q '^breakwater\[' "$T/node.err" && fail "breakwater logged: $(head -n 2 "$T/node.err")"
assert_eq "node" "$(want "batch1 ok=$N" "closed" "batch2 ok=$N" "extra ECONNREFUSED=1")" "$(cat "$T/node.out")"
note "node: slots given back through syscall(SYS_close)"

cat >"$T/BhJava.java" <<'JAVA'
// Connects n sockets (java.net.Socket or SocketChannel), closes each while a
// thread is blocked reading it, prints "closed" and waits for the file GO
// (the first round only), connects n again, then one more while those are
// open; prints what each batch got.
import java.io.*;
import java.net.*;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.*;

public class BhJava {
    static InetSocketAddress addr;

    static Closeable open(boolean channel) throws IOException {
        if (channel) return SocketChannel.open(addr);
        Socket s = new Socket();
        s.connect(addr);
        return s;
    }
    static void blockRead(Closeable c) {
        try {
            if (c instanceof Socket) ((Socket) c).getInputStream().read();
            else ((SocketChannel) c).read(ByteBuffer.allocate(16));
        } catch (IOException e) { /* closed under us: expected */ }
    }
    static String batch(boolean channel, int n, List<Closeable> keep) {
        int ok = 0; String err = "";
        for (int i = 0; i < n; i++) {
            try { keep.add(open(channel)); ok++; }
            catch (IOException e) { err = " " + e.getClass().getSimpleName(); }
        }
        return "ok=" + ok + err;
    }
    public static void main(String[] a) throws Exception {
        addr = new InetSocketAddress("127.0.0.1", Integer.parseInt(a[0]));
        int n = Integer.parseInt(a[1]);
        File go = new File(a[2]);
        for (boolean channel : new boolean[] {false, true}) {
            String kind = channel ? "channel" : "socket";
            List<Closeable> first = new ArrayList<>();
            System.out.println(kind + " batch1 " + batch(channel, n, first));
            List<Thread> readers = new ArrayList<>();
            for (Closeable c : first) {
                Thread t = new Thread(() -> blockRead(c));
                t.start();
                readers.add(t);
            }
            Thread.sleep(300);   // let the readers block in read()
            for (Closeable c : first) c.close();
            for (Thread t : readers) t.join(10000);
            if (!channel) {
                System.out.println("closed");
                System.out.flush();
                for (int i = 0; i < 3000 && !go.exists(); i++) Thread.sleep(10);
            }
            List<Closeable> second = new ArrayList<>();
            System.out.println(kind + " batch2 " + batch(channel, n, second));
            System.out.println(kind + " extra " + batch(channel, 1, second));
            for (Closeable c : second) c.close();
        }
    }
}
JAVA
(cd "$T" && javac BhJava.java) || fail "javac failed"
bh_config "$T/java.ini" "$PORT" "max_connections = $N"
BREAKWATER_CONFIG=$T/java.ini LD_PRELOAD="$BW_PRELOAD" timeout 60 java -cp "$T" BhJava "$PORT" $N \
    "$T/go.java" >"$T/java.out" 2>"$T/java.err" &
pid=$!
BW_PIDS+=($pid)
between_batches java "$T/java.ini" $pid
wait $pid || fail "java failed: $(head -n 5 "$T/java.err")"
grep -q '^breakwater\[' "$T/java.err" && fail "breakwater logged: $(head -n 2 "$T/java.err")"
assert_eq "java" "$(want "socket batch1 ok=$N" "closed" "socket batch2 ok=$N" "socket extra ok=0 ConnectException" \
    "channel batch1 ok=$N" "channel batch2 ok=$N" "channel extra ok=0 ConnectException")" "$(cat "$T/java.out")"
if command -v strace >/dev/null; then
    # The same run under strace: were the sockets really closed by dup2?
    bh_config "$T/java2.ini" "$PORT" "max_connections = $N"
    BREAKWATER_CONFIG=$T/java2.ini LD_PRELOAD="$BW_PRELOAD" timeout 60 strace -f -qq -e trace=dup2,dup3 \
        -o "$T/java.strace" java -cp "$T" BhJava "$PORT" $N "$T/go.java" >"$T/java2.out" 2>/dev/null
    assert_eq "java under strace" "$(cat "$T/java.out")" "$(cat "$T/java2.out")"
    d=$(grep -cE '^[0-9]+ +dup[23]\(' "$T/java.strace")
    note "java: $d dup2/dup3 calls seen by strace (expected at least $((2 * N)))"
    [ "$d" -ge $((2 * N)) ] || fail "the JVM closed too few sockets through dup2 ($d calls): the test did not test that path"
fi
note "java: slots given back through the JVM's dup2 close"
