// Failover.java - N GETs of URL with HttpURLConnection, one line each:
// "ok CODE" or "fail EXCEPTION". The JDK connects to the first address the
// name resolves to only (sun.net.NetworkClient), so a dead first address
// fails every call without breakwater's failover.
import java.net.HttpURLConnection;
import java.net.URL;

public class Failover {
    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[1]);
        for (int i = 0; i < n; i++) {
            try {
                HttpURLConnection c = (HttpURLConnection) new URL(args[0]).openConnection();
                c.setConnectTimeout(3000);
                c.setReadTimeout(3000);
                int code = c.getResponseCode();
                c.getInputStream().readAllBytes();
                c.disconnect();
                System.out.println("ok " + code);
            } catch (Exception e) {
                System.out.println("fail " + e.getClass().getSimpleName());
            }
        }
    }
}
