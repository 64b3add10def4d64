// LoopsHttp PORTFILE - one java.net.http.HttpClient GET, for t_retry_loops.sh
// (issue 12). The JVM starts slower than a late server waits, so this writes
// PORTFILE.ready once it is up and then waits (at most 30 s) for PORTFILE to
// hold the port; then GET http://127.0.0.1:PORT/status/200 and prints
// "ok ms=N status=S" or "fail ms=N EXCEPTION"; exit status 0 or 1.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;

public class LoopsHttp {
    public static void main(String[] args) throws Exception {
        Path portFile = Paths.get(args[0]);
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
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
