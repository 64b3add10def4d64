#!/bin/bash
# A small HttpURLConnection client (compiled here with javac) GETs a 4 MiB body
# and POSTs 300 KB (fixed-length and chunked streaming), without and with the
# shim: same checksums. The JVM closes sockets by dup2-ing over them.
. "$(dirname "$0")/lib.sh"
command -v javac >/dev/null || fail "javac missing (tests/deps.sh test installs it)"
start_server PORT "$SUPPORT/bw_httpd" -6 -r "$T/record" --max-seconds 200
BW_CFG=$T/bw.ini; dest_config "$BW_CFG" "$PORT"
cat >"$T/BwClient.java" <<'JAVA'
// GET /bytes/N and two POSTs through HttpURLConnection; prints status + sha256.
import java.io.*;
import java.net.*;
import java.security.MessageDigest;

public class BwClient {
    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x));
        return s.toString();
    }
    static String drain(HttpURLConnection c) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        long n = 0;
        try (InputStream in = c.getInputStream()) {
            byte[] buf = new byte[65536];
            for (int r; (r = in.read(buf)) > 0; n += r) md.update(buf, 0, r);
        }
        return c.getResponseCode() + " " + n + " " + hex(md.digest());
    }
    public static void main(String[] a) throws Exception {
        String base = a[0];
        HttpURLConnection g = (HttpURLConnection) new URL(base + "/bytes/4194304").openConnection();
        g.setConnectTimeout(30000); g.setReadTimeout(60000);
        System.out.println("GET " + drain(g));
        byte[] body = new byte[300000];
        for (int i = 0; i < body.length; i++) body[i] = (byte) (i * 31 + 7);
        for (int chunked = 0; chunked < 2; chunked++) {
            HttpURLConnection p = (HttpURLConnection) new URL(base + "/post").openConnection();
            p.setDoOutput(true); p.setRequestMethod("POST");
            if (chunked == 1) p.setChunkedStreamingMode(8192); else p.setFixedLengthStreamingMode(body.length);
            try (OutputStream o = p.getOutputStream()) { o.write(body); }
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
                System.out.println("POST " + p.getResponseCode() + " " + r.readLine());
            }
        }
    }
}
JAVA
(cd "$T" && javac BwClient.java) || fail "javac failed"
run_modes java4 java -cp "$T" BwClient "http://127.0.0.1:$PORT"
run_modes java6 java -Djava.net.preferIPv6Addresses=true -cp "$T" BwClient "http://[::1]:$PORT"
want=$("$SUPPORT/bw_httpd" --gen 4194304 | sha256sum | cut -d' ' -f1)
assert_eq "java GET" "GET 200 4194304 $want" "$(head -n 1 "$T/java4.plain.out")"
[ "$(grep -c '"length":300000' "$T/java4.plain.out")" = 2 ] || fail "java POST bodies not intact"
note "java: 4 MiB GET and two 300 KB POSTs intact"
