package io.fastpath.stack.adversarial;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The scapy tester agent (resources/adversarial/tester_agent.py) as a child process in the tester namespace:
 * commands go to its stdin as JSON lines, its reports come back on a queue that the test thread reads while
 * it drives the device under test ({@link Testbench#await}). One agent per test class.
 */
final class TesterAgent implements AutoCloseable {
    private final Process process;
    private final OutputStream in;
    final LinkedBlockingQueue<Map<String, Object>> events = new LinkedBlockingQueue<>();
    private final List<String> stderr = Collections.synchronizedList(new ArrayList<>());
    private final AtomicLong ids = new AtomicLong();
    final String mac;

    TesterAgent(String namespace, Path dir, String iface, String myIp, String dutIp, String dutMac, String spoofFirst,
                String spoofLast) throws IOException {
        Path script = dir.resolve("tester_agent.py");
        if (!Files.exists(script)) {
            try (InputStream s = TesterAgent.class.getResourceAsStream("/adversarial/tester_agent.py")) {
                Files.write(script, s.readAllBytes());
            }
        }
        process = new ProcessBuilder("ip", "netns", "exec", namespace, "/usr/bin/python3", "-u", script.toString(),
            iface, myIp, dutIp, dutMac, spoofFirst, spoofLast).start();
        in = process.getOutputStream();
        Thread out = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    try {
                        events.add(Json.readFlat(line));
                    } catch (RuntimeException e) {
                        stderr.add("unparsable: " + line);
                    }
                }
            } catch (IOException ignored) {
                // the agent went away
            }
        }, "tester-agent-out");
        out.setDaemon(true);
        out.start();
        Thread err = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(),
                StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    stderr.add(line);
                }
            } catch (IOException ignored) {
                // the agent went away
            }
        }, "tester-agent-err");
        err.setDaemon(true);
        err.start();
        Map<String, Object> ready;
        try {
            ready = events.poll(20, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        if (ready == null || !"ready".equals(ready.get("ev"))) {
            close();
            throw new IllegalStateException("tester agent did not start: " + ready + " " + stderr);
        }
        mac = (String) ready.get("mac");
    }

    /** Sends a command (its id is filled in) and returns the id; the reply is an event with that id. */
    long command(Map<String, Object> command) {
        long id = ids.incrementAndGet();
        Map<String, Object> c = new java.util.LinkedHashMap<>(command);
        c.put("id", id);
        try {
            in.write((Json.write(c) + "\n").getBytes(StandardCharsets.UTF_8));
            in.flush();
        } catch (IOException e) {
            throw new IllegalStateException("tester agent gone: " + stderr, e);
        }
        return id;
    }

    List<String> stderr() {
        synchronized (stderr) {
            return new ArrayList<>(stderr);
        }
    }

    boolean alive() {
        return process.isAlive();
    }

    @Override
    public void close() {
        try {
            in.write("{\"op\":\"quit\"}\n".getBytes(StandardCharsets.UTF_8));
            in.flush();
        } catch (IOException ignored) {
            // already gone
        }
        process.destroy();
        try {
            if (!process.waitFor(2, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
