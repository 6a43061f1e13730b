package io.fastpath.stack.adversarial;

import io.fastpath.testkit.NetNs;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Linux as the device under test: resources/adversarial/dut_agent.py in the Linux namespace owns the
 * listener and the accepted sockets (a reader thread each) and answers one JSON line per command.
 */
final class LinuxPosixDut implements DeviceUnderTest {
    private final Process process;
    private final BufferedReader out;
    private final OutputStream in;
    private int listenPort;

    LinuxPosixDut(Testbench tb, NetNs ns, Path script) throws IOException {
        process = new ProcessBuilder("ip", "netns", "exec", ns.name(), "/usr/bin/python3", "-u", script.toString())
            .redirectErrorStream(true).start();
        out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        in = process.getOutputStream();
        String ready = out.readLine();
        if (ready == null || !ready.contains("ready")) {
            process.destroyForcibly();
            throw new IllegalStateException("Linux DUT agent: " + ready);
        }
    }

    synchronized Map<String, Object> call(Object... keyValues) {
        Map<String, Object> cmd = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            cmd.put((String) keyValues[i], keyValues[i + 1]);
        }
        try {
            in.write((Json.write(cmd) + "\n").getBytes(StandardCharsets.UTF_8));
            in.flush();
            String line = out.readLine();
            if (line == null) {
                throw new IllegalStateException("Linux DUT agent exited");
            }
            Map<String, Object> reply = Json.readFlat(line);
            if (reply.containsKey("error_reply")) {
                throw new IllegalStateException("Linux DUT agent: " + reply.get("error_reply") + " for " + cmd);
            }
            return reply;
        } catch (IOException e) {
            throw new IllegalStateException("Linux DUT agent gone", e);
        }
    }

    void listen(int port, int receiveBuffer, int fastOpenQueue) {
        listenPort = port;
        call("op", "listen", "port", port, "rcvbuf", receiveBuffer, "fastopen", fastOpenQueue);
    }

    void sysctl(String name, String value) {
        call("op", "sysctl", "name", name, "value", value);
    }

    /** Aborts every connection and closes the listener (between tests). */
    void reset() {
        call("op", "reset");
    }

    @Override
    public Connection accepted(int remotePort) {
        Map<String, Object> r = call("op", "get", "rport", remotePort);
        return Boolean.TRUE.equals(r.get("found")) ? new Remote(remotePort) : null;
    }

    @Override
    public boolean inTimeWait(int remotePort) {
        return ((Long) call("op", "timewait", "port", listenPort, "rport", remotePort).get("n")) > 0;
    }

    @Override
    public int connectionCount() {
        return ((Long) call("op", "count").get("n")).intValue();
    }

    @Override
    public void consume(boolean on) {
        call("op", "consume", "on", on);
    }

    @Override
    public String describe() {
        return (String) call("op", "describe").get("text");
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }

    /** An accepted Linux socket, read through the agent on every call. */
    private final class Remote implements Connection {
        private final int remotePort;

        Remote(int remotePort) {
            this.remotePort = remotePort;
        }

        private Map<String, Object> get() {
            return call("op", "get", "rport", remotePort);
        }

        @Override
        public String text() {
            return new String(HexFormat.of().parseHex((String) get().get("data")), StandardCharsets.ISO_8859_1);
        }

        @Override
        public boolean open() {
            Map<String, Object> r = get();
            return r.get("error") == null && !"CLOSED".equals(r.get("state"));
        }

        @Override
        public boolean reset() {
            return "ECONNRESET".equals(get().get("error"));
        }

        @Override
        public boolean peerClosed() {
            return Boolean.TRUE.equals(get().get("peer_closed"));
        }

        @Override
        public String state() {
            return (String) get().get("state");
        }

        @Override
        public void shutdown() {
            call("op", "shutdown", "rport", remotePort);
        }

        @Override
        public int send(byte[] bytes) {
            return ((Long) call("op", "send", "rport", remotePort, "data", HexFormat.of().formatHex(bytes))
                .get("queued")).intValue();
        }

        @Override
        public int receiveQueued() {
            return ((Long) get().get("inq")).intValue();
        }
    }
}
