// RetryConnect PORTFILE - a plain java.net.Socket client for t_retry_late.sh.
// The JVM takes longer to start than the late server waits, so the test
// starts the server only once this program is up: it writes PORTFILE.ready,
// then waits (at most 30 s) for PORTFILE to hold the port, connects to
// 127.0.0.1:PORT, sends "ping" and prints "ok echo=TEXT" or "fail EXCEPTION".
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

public class RetryConnect {
    public static void main(String[] args) throws Exception {
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
}
