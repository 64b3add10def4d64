// RetryConnect PORTFILE [http] - a plain java.net.Socket client for
// t_retry_late.sh, or (with "http") one java.net.http.HttpClient GET for
// t_retry_loops.sh.
// The JVM takes longer to start than the late server waits, so the test
// starts the server only once this program is up: it writes PORTFILE.ready,
// then waits (at most 30 s) for PORTFILE to hold the port. Then:
//   socket: connects to 127.0.0.1:PORT, sends "ping" and prints
//           "ok echo=TEXT" or "fail EXCEPTION";
//   http:   GET http://127.0.0.1:PORT/status/200, prints "ok ms=N status=S"
//           or "fail ms=N EXCEPTION".
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;

public class RetryConnect {
    public static void main(String[] args) throws Exception {
        boolean http = args.length > 1 && args[1].equals("http");
        HttpClient client = http ? HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build() : null;
        Path portFile = Paths.get(args[0]);
        Files.write(Paths.get(args[0] + ".ready"), new byte[0]);
        int port = -1;
        for (int i = 0; i < 3000 && port < 0; i++) {
            if (Files.exists(portFile))
                port = Integer.parseInt(new String(Files.readAllBytes(portFile), StandardCharsets.US_ASCII).trim());
            else
                Thread.sleep(10);
        }
        if (port < 0) {
            System.out.println("fail no port");
            System.exit(2);
        }
        if (http)
            httpGet(client, port);
        else
            socketPing(port);
    }

    static void socketPing(int port) {
        long t0 = System.nanoTime();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port));
            long ms = (System.nanoTime() - t0) / 1000000;
            OutputStream out = s.getOutputStream();
            out.write("ping".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            s.setSoTimeout(5000);
            byte[] buf = new byte[16];
            InputStream in = s.getInputStream();
            int n = in.read(buf);
            System.out.println("ok echo=" + new String(buf, 0, Math.max(n, 0), StandardCharsets.US_ASCII));
            System.err.println("# java connect took " + ms + " ms");
        } catch (java.io.IOException e) {
            System.out.println("fail " + e.getClass().getSimpleName() + ": " + e.getMessage());
            System.exit(1);
        }
    }

    static void httpGet(HttpClient client, int port) throws InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/status/200"))
            .timeout(Duration.ofSeconds(20)).build();
        long t0 = System.nanoTime();
        try {
            HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());
            System.out.println("ok ms=" + (System.nanoTime() - t0) / 1000000 + " status=" + r.statusCode());
        } catch (java.io.IOException e) {
            System.out.println("fail ms=" + (System.nanoTime() - t0) / 1000000 + " " + e.getClass().getSimpleName());
            System.exit(1);
        }
    }
}
