package io.fastpath.cli;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.app.StreamClient;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import io.fastpath.stack.tcp.TcpLayer;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.MacAddress;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.agrona.concurrent.IdleStrategy;

/**
 * {@code fastpath echo} and {@code fastpath send}: TCP over the stack, driven in invoker mode. TcpLayer and
 * TcpConnection belong to the poll thread, so these commands run no StackRunner: the main thread is the poll
 * thread ({@code stack.doWork()} in a loop with the {@code --idle} strategy), and every TCP call is made
 * between duty cycles or from handler callbacks, which run inside {@code doWork()}.
 */
final class TcpCommands {
    /** Most connections {@code --connections} takes (the TCP layer's default table size). */
    static final int MAX_CONNECTIONS = 1024;
    /** What all connections' receive buffers together may hold, in bytes: about 11,600 full-sized mbufs. */
    static final long BUFFER_BUDGET = 16L << 20;
    static final int MIN_BUFFER = 16 << 10;
    static final int MAX_BUFFER = 256 << 10;
    /** Most handshakes {@code send} has under way at once. */
    static final int MAX_CONNECTING = 64;
    /** Most lines of per-connection detail a failed {@code send} prints. */
    private static final int MAX_LINES = 20;
    private static final Pattern SIZE = Pattern.compile("(\\d+)([kKmMgG]?)");

    private TcpCommands() {
    }

    /**
     * Send and receive buffer size for {@code connections} concurrent connections: 16 MiB shared out, clamped
     * to 16..256 KiB, a power of two; so that connections x buffer / 1448 stays well inside the
     * {@link PortOptions#TCP_POOL} mbufs (received data waits in its mbufs until the application takes it).
     */
    static int bufferBytes(int connections) {
        long share = BUFFER_BUDGET / Math.max(1, connections);
        return Integer.highestOneBit((int) Math.max(MIN_BUFFER, Math.min(MAX_BUFFER, share)));
    }

    static TcpConfig tcpConfig(int connections) {
        int buffer = bufferBytes(connections);
        return TcpConfig.defaults().withBuffers(buffer, buffer).withTimeWait(TimeUnit.SECONDS.toNanos(1));
    }

    /** Most connections {@code --max-connections} takes. */
    static final int MAX_TABLE = 1 << 20;
    /** What all connections' send rings together may take by default with {@code --max-connections}. */
    static final long TABLE_BUFFER_BUDGET = 256L << 20;

    /**
     * The TCP config of {@code echo}: without {@code --max-connections}, {@link #tcpConfig} for {@code connections};
     * with it, a table of that many slots whose buffers are 256 MiB shared out (4..256 KiB; {@code --buffer}
     * overrides), four out-of-order segments a connection when the buffers are small, {@code --backlog} half-open
     * connections (default 128, or a 16th of the table, whichever is larger) and {@code --preallocate}: every
     * slot's buffers made at start-up. docs/operations.md, "Many connections", has what each slot costs.
     */
    static TcpConfig tableConfig(Flags flags, int connections) {
        if (!flags.has("--max-connections") && !flags.has("--backlog") && !flags.has("--buffer")
            && !flags.has("--preallocate")) {
            return tcpConfig(connections);
        }
        int table = boundedInt(flags, "--max-connections", Math.max(connections, MAX_CONNECTIONS), 1, MAX_TABLE);
        int buffer;
        if (flags.has("--buffer")) {
            long b = parseBytes(flags.get("--buffer"));
            if (b < 1 || b > MAX_BUFFER) {
                throw new UsageException("--buffer must be 1.." + MAX_BUFFER + " bytes, got " + b);
            }
            buffer = (int) b;
        } else {
            buffer = table <= MAX_CONNECTIONS ? bufferBytes(connections)
                : Integer.highestOneBit((int) Math.max(4096, Math.min(MAX_BUFFER, TABLE_BUFFER_BUDGET / table)));
        }
        int backlog = boundedInt(flags, "--backlog", Math.max(128, table / 16), 1, MAX_TABLE);
        TcpConfig tcp = TcpConfig.defaults().withMaxConnections(table).withBuffers(buffer, buffer)
            .withTimeWait(TimeUnit.SECONDS.toNanos(1)).withListenBacklog(backlog)
            .withTimeWaitCapacity(Math.max(TcpConfig.DEFAULT_TIME_WAIT_CAPACITY, table))
            .withPreallocation(flags.has("--preallocate"));
        return buffer <= 16 << 10 ? tcp.withOutOfOrderSegments(4) : tcp;
    }

    static int boundedInt(Flags flags, String name, int fallback, int min, int max) {
        int v = flags.intValue(name, fallback);
        if (v < min || v > max) {
            throw new UsageException(name + " must be " + min + ".." + max + ", got " + v);
        }
        return v;
    }

    /** {@code N}, {@code NK}, {@code NM}, {@code NG} (KiB, MiB, GiB). */
    static long parseBytes(String text) {
        Matcher m = SIZE.matcher(text.trim());
        if (!m.matches()) {
            throw new UsageException("--bytes takes a number with an optional K, M or G, got '" + text + "'");
        }
        int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "K" -> 10;
            case "M" -> 20;
            case "G" -> 30;
            default -> 0;
        };
        try {
            long n = Long.parseLong(m.group(1));
            if (n > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new UsageException("--bytes too large: '" + text + "'");
        }
    }

    static int connections(Flags flags, int fallback) {
        int c = flags.intValue("--connections", fallback);
        if (c < 1 || c > MAX_CONNECTIONS) {
            throw new UsageException("--connections must be 1.." + MAX_CONNECTIONS + ", got " + c);
        }
        return c;
    }

    static int tcpPort(String flag, String text) {
        try {
            int port = Integer.parseInt(text);
            if (port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new UsageException(flag + " needs a TCP port 1..65535, got '" + text + "'");
    }

    static Flags flags(List<String> args, String... extra) {
        Set<String> withValue = new HashSet<>(PortOptions.WITH_VALUE);
        withValue.addAll(List.of(extra));
        return new Flags(args, withValue, PortOptions.SWITCHES);
    }

    /** The value of {@code --api} (default "tcp": the stack's TcpLayer directly). */
    static String apiOf(List<String> args) {
        int at = args.indexOf("--api");
        if (at < 0) {
            return "tcp";
        }
        if (at + 1 >= args.size()) {
            throw new UsageException("--api needs a value: tcp, wsk or tdi");
        }
        return args.get(at + 1);
    }

    // =========================================================================================== echo

    /**
     * The counters of every shard ({@code shards}, from {@code --queues N > 1}, taken before the port was closed)
     * or of the one stack. Call after the port is closed: the figures are final then.
     */
    static void printCounters(io.fastpath.stack.shard.StackShards shards, Stack stack) {
        if (shards == null) {
            StackCounters.format(stack.counters().reader(), false).forEach(System.out::println);
            return;
        }
        for (int q = 0; q < shards.shards(); q++) {
            StackCounters.format(shards.shard(q).counters().reader(), false).forEach(System.out::println);
        }
    }

    /** {@code send --api wsk} runs on one queue for now (its Fast Open figures are one stack's counters). */
    static void onlyOneQueue(List<String> args, String api) {
        int at = args.indexOf("--queues");
        if (at >= 0 && at + 1 < args.size() && !args.get(at + 1).equals("1")) {
            throw new UsageException("--queues > 1 with send --api " + api + ": not yet (use --api tcp)");
        }
    }

    static int echo(List<String> args) {
        String api = apiOf(args);
        switch (api) {
            case "tcp" -> {
            }
            case "wsk" -> {
                return WskEcho.run(args);
            }
            case "tdi" -> {
                return TdiEcho.run(args);
            }
            default -> throw new UsageException("--api is tcp, wsk or tdi, got '" + api + "'");
        }
        Set<String> withValue = new HashSet<>(PortOptions.WITH_VALUE);
        withValue.addAll(List.of("--listen", "--connections", "--api", "--max-connections", "--backlog", "--buffer",
            "--pool"));
        Set<String> switches = new HashSet<>(PortOptions.SWITCHES);
        switches.add("--preallocate");
        Flags flags = new Flags(args, withValue, switches);
        int listenPort = tcpPort("--listen", flags.required("--listen"));
        int connections = connections(flags, 64);
        TcpConfig tcp = tableConfig(flags, connections);
        int buffer = tcp.sendBufferBytes();
        PortOptions options = new PortOptions(flags, tcp, boundedInt(flags, "--pool", PortOptions.TCP_POOL, 1023,
            4 << 20));
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stop.countDown();
            try {
                stopped.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            // SIGINT/SIGTERM is the normal end of `echo`: exit 0 once the counters are out.
            System.out.flush();
            Runtime.getRuntime().halt(0);
        });
        try {
            Stack stack = options.open();
            if (options.shards() != null) {
                return echoShards(options, stack, listenPort, connections, stop, hook);
            }
            stack.onStart();
            EchoServer server = new EchoServer();
            int rc = server.listen(stack.tcp(), listenPort);
            if (rc != NtStatus.STATUS_SUCCESS) {
                System.out.println("listen on port " + listenPort + ": " + NtStatus.name(rc));
                System.out.println(NtStatus.name(rc));
                return 1;
            }
            stack.doWork();
            Runtime.getRuntime().addShutdownHook(hook);
            System.out.println("fastpath echo on " + Ipv4Address.format(stack.address()) + ":" + listenPort + " ("
                + Ipv4Address.format(stack.address()) + "/" + stack.config().prefixLength() + " mac "
                + MacAddress.format(stack.mac()) + " on " + stack.port().name() + ", buffers "
                + (buffer >> 10) + " KiB, table " + tcp.maxConnections() + ", backlog " + tcp.listenBacklog()
                + (tcp.preallocate() ? " (preallocated)" : "") + "; counters: " + stack.counters().file()
                + options.ealSummary()
                + ")");
            System.out.println("ready");
            System.out.flush();
            IdleStrategy idle = options.idleStrategy();
            while (stop.getCount() > 0) {
                idle.idle(stack.doWork());
            }
            int open = stack.tcp().connectionCount();
            options.close();
            System.out.println("echo: " + server.accepted() + " connections accepted, " + server.closed()
                + " closed (" + server.abnormalCloses() + " not cleanly), " + open + " still open, "
                + server.bytesEchoed() + " bytes echoed");
            System.out.println("counters:");
            StackCounters.format(stack.counters().reader(), false).forEach(System.out::println);
            System.out.flush();
            return 0;
        } finally {
            options.close();
            stopped.countDown();
        }
    }

    /**
     * {@code echo --queues N}: one echo server per shard, each on its shard's poll thread (the listen is made
     * before the threads start); at the end, each shard's accepted connections and the summed counters.
     */
    private static int echoShards(PortOptions options, Stack stack, int listenPort, int connections,
                                  CountDownLatch stop, Thread hook) {
        io.fastpath.stack.shard.StackShards shards = options.shards();
        EchoServer[] servers = new EchoServer[shards.shards()];
        for (int q = 0; q < servers.length; q++) {
            servers[q] = new EchoServer();
            int rc = servers[q].listen(shards.shard(q).tcp(), listenPort);
            if (rc != NtStatus.STATUS_SUCCESS) {
                System.out.println("listen on port " + listenPort + " (queue " + q + "): " + NtStatus.name(rc));
                System.out.println(NtStatus.name(rc));
                return 1;
            }
        }
        options.startShards(q -> null);
        Runtime.getRuntime().addShutdownHook(hook);
        System.out.println("fastpath echo on " + Ipv4Address.format(stack.address()) + ":" + listenPort + " ("
            + Ipv4Address.format(stack.address()) + "/" + stack.config().prefixLength() + " mac "
            + MacAddress.format(stack.mac()) + " on " + stack.port().name() + ", " + shards.shards()
            + " queues, one shard each, buffers " + (bufferBytes(connections) >> 10) + " KiB; counters: "
            + stack.counters().file() + " and .queue<q>" + options.ealSummary() + ")");
        System.out.println("ready");
        System.out.flush();
        try {
            stop.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        options.close(); // stops the poll threads: the servers' figures are final after this
        long accepted = 0;
        long bytes = 0;
        for (int q = 0; q < servers.length; q++) {
            accepted += servers[q].accepted();
            bytes += servers[q].bytesEchoed();
            System.out.println("echo: queue " + q + ": " + servers[q].accepted() + " connections accepted, "
                + servers[q].closed() + " closed (" + servers[q].abnormalCloses() + " not cleanly), "
                + servers[q].bytesEchoed() + " bytes echoed");
        }
        long forwarded = 0;
        java.util.List<String> counterLines = new java.util.ArrayList<>();
        for (int q = 0; q < servers.length; q++) {
            forwarded += shards.shard(q).counters().forwardedFrames.get();
            counterLines.addAll(StackCounters.format(shards.shard(q).counters().reader(), false));
        }
        System.out.println("echo: " + accepted + " connections accepted on " + servers.length + " queues, " + bytes
            + " bytes echoed, " + forwarded + " frames forwarded between shards");
        System.out.println("counters:");
        counterLines.forEach(System.out::println);
        System.out.flush();
        return 0;
    }

    // =========================================================================================== send

    static int send(List<String> args) {
        String api = apiOf(args);
        if (!api.equals("tcp") && !api.equals("wsk")) {
            throw new UsageException("send --api is tcp or wsk, got '" + api + "'");
        }
        Set<String> withValue = new HashSet<>(PortOptions.WITH_VALUE);
        withValue.addAll(List.of("--to", "--bytes", "--connections", "--timeout", "--api"));
        Set<String> switches = new HashSet<>(PortOptions.SWITCHES);
        if (api.equals("wsk")) {
            switches.add("--tfo");
        }
        Flags flags = new Flags(args, withValue, switches);
        String to = flags.required("--to");
        int colon = to.lastIndexOf(':');
        if (colon < 0) {
            throw new UsageException("--to takes a.b.c.d:port, got '" + to + "'");
        }
        int remoteIp;
        try {
            remoteIp = Ipv4Address.parse(to.substring(0, colon));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        int remotePort = tcpPort("--to", to.substring(colon + 1));
        long bytes = parseBytes(flags.required("--bytes"));
        int connections = connections(flags, 1);
        int timeoutSeconds = flags.intValue("--timeout", 120);
        if (timeoutSeconds < 1) {
            throw new UsageException("--timeout must be at least 1 second, got " + timeoutSeconds);
        }
        if (api.equals("wsk")) {
            onlyOneQueue(args, api);
            return WskSend.run(remoteIp, remotePort, bytes, connections, timeoutSeconds, flags);
        }
        try (PortOptions options = new PortOptions(flags, tcpConfig(connections), PortOptions.TCP_POOL)) {
            Stack stack = options.open();
            System.out.println("fastpath " + Ipv4Address.format(stack.address()) + "/"
                + stack.config().prefixLength() + " mac " + MacAddress.format(stack.mac()) + " on "
                + stack.port().name() + ": " + connections + " connection(s) x " + bytes + " bytes to "
                + Ipv4Address.format(remoteIp) + ":" + remotePort + " (buffers " + (bufferBytes(connections) >> 10)
                + " KiB" + options.ealSummary() + ")");
            System.out.flush();
            SendRun run = new SendRun(stack, options.shards(), remoteIp, remotePort, bytes, connections);
            run.run(options.idleStrategy(), TimeUnit.SECONDS.toNanos(timeoutSeconds));
            return run.report();
        }
    }

    /**
     * The connections of one {@code send}, driven on the calling (poll) thread. With {@code --queues N} the
     * calling thread drives every shard, and connection i is opened on shard i % N.
     */
    private static final class SendRun {
        private final Stack stack;
        private final io.fastpath.stack.shard.StackShards shards;
        private final TcpLayer tcp;
        private final int remoteIp;
        private final int remotePort;
        private final long bytes;
        private final Flow[] flows;
        private int started;
        private int connecting;
        private int finished;
        private long startNs;
        private long endNs;
        private boolean timedOut;

        SendRun(Stack stack, io.fastpath.stack.shard.StackShards shards, int remoteIp, int remotePort, long bytes,
                int connections) {
            this.stack = stack;
            this.shards = shards;
            this.tcp = stack.tcp();
            this.remoteIp = remoteIp;
            this.remotePort = remotePort;
            this.bytes = bytes;
            this.flows = new Flow[connections];
            for (int i = 0; i < connections; i++) {
                // Seed = index + 1: every connection carries a different stream.
                flows[i] = new Flow(i, new StreamClient(i + 1, bytes));
            }
        }

        void run(IdleStrategy idle, long timeoutNs) {
            stack.onStart();
            doWork();
            startNs = System.nanoTime();
            long deadline = startNs + timeoutNs;
            // One connection first: the stack parks at most 8 frames on a neighbour it is still resolving
            // (ArpTable.PENDING_PER_ENTRY) and fails the connects whose SYN found no room. Once the first is
            // established the next hop is known; the rest open, at most MAX_CONNECTING handshakes at a time
            // so that a listener's backlog (128 on a default fastpath echo) does not drop SYNs, which would
            // cost each connection a 1 s (then 2, 4, ... s) SYN retransmission.
            connect(flows[0]);
            while (true) {
                int work = doWork();
                if (started < flows.length && flows[0].connected) {
                    while (started < flows.length && connecting < MAX_CONNECTING) {
                        connect(flows[started]);
                        work++;
                    }
                }
                // Done when every connection has ended, or the first could not connect (the rest never start).
                if (finished == started && (started == flows.length || !flows[0].connected)) {
                    break;
                }
                if (System.nanoTime() - deadline > 0) {
                    timeOut();
                    break;
                }
                idle.idle(work);
            }
        }

        private int doWork() {
            return shards != null ? shards.doWork() : stack.doWork();
        }

        private TcpLayer tcpOf(int index) {
            return shards != null ? shards.shard(index % shards.shards()).tcp() : tcp;
        }

        private void connect(Flow flow) {
            flow.connect(tcpOf(started), remoteIp, remotePort);
            started++;
        }

        private void timeOut() {
            timedOut = true;
            // The connections still busy (TIME-WAIT is done as far as we are concerned), for diagnosis.
            StringBuilder described = new StringBuilder();
            for (int q = 0; q < (shards != null ? shards.shards() : 1); q++) {
                described.append(tcpOf(q).describe());
            }
            String[] state = described.toString().split("\n");
            System.out.println("timed out; tcp " + state[0]);
            int shown = 0;
            int more = 0;
            for (int i = 1; i < state.length; i++) {
                if (!state[i].contains(" TIME-WAIT ")) {
                    if (shown++ < MAX_LINES) {
                        System.out.println(state[i]);
                    } else {
                        more++;
                    }
                }
            }
            if (more > 0) {
                System.out.println("... and " + more + " more");
            }
            for (Flow flow : flows) {
                if (flow.startedNs != 0 && !flow.finished) {
                    flow.finish(NtStatus.STATUS_IO_TIMEOUT);
                    if (flow.connection != null) {
                        flow.connection.abort();
                    }
                }
            }
            // Send the resets.
            doWork();
        }

        int report() {
            long echoed = 0;
            Flow firstFailure = null;
            int failures = 0;
            for (Flow flow : flows) {
                echoed += flow.client.received();
                if (flow.startedNs != 0 && flow.status != NtStatus.STATUS_SUCCESS) {
                    if (failures++ < MAX_LINES) {
                        System.out.println(flow.describeFailure(bytes));
                    }
                    if (firstFailure == null || flow.endNs - firstFailure.endNs < 0) {
                        firstFailure = flow;
                    }
                }
            }
            if (failures > MAX_LINES) {
                System.out.println("... " + failures + " connections failed in all");
            }
            double seconds = Math.max(1, endNs - startNs) / 1e9;
            if (echoed > 0) {
                System.out.printf(Locale.ROOT, "%d bytes echoed on %d connection(s) in %.3f s: %.1f MiB/s, %.3f Gbit/s%n",
                    echoed, started, seconds, echoed / seconds / (1 << 20), echoed * 8 / seconds / 1e9);
            }
            StackCounters counters = stack.counters();
            if (shards == null) {
                System.out.println("tcp: " + counters.tcpSegmentsSent.get() + " segments sent, "
                    + counters.tcpSegmentsReceived.get() + " received, " + counters.tcpRetransmits.get()
                    + " retransmitted, " + counters.tcpTimeouts.get() + " retransmission timeouts, "
                    + counters.totalDrops() + " frames dropped");
            } else {
                for (int q = 0; q < shards.shards(); q++) {
                    StackCounters c = shards.shard(q).counters();
                    System.out.println("tcp: queue " + q + ": " + c.tcpActiveOpens.get() + " connections opened, "
                        + c.tcpSegmentsSent.get() + " segments sent, " + c.tcpSegmentsReceived.get() + " received, "
                        + c.tcpRetransmits.get() + " retransmitted, " + c.forwardedFrames.get()
                        + " frames forwarded to the other shards, " + c.totalDrops() + " frames dropped");
                }
            }
            if (firstFailure == null && started == flows.length && !timedOut) {
                System.out.println("verified " + echoed + " bytes");
                return 0;
            }
            if (started < flows.length) {
                System.out.println((flows.length - started) + " connection(s) not attempted after connection 1 failed");
            }
            System.out.println("counters:");
            StackCounters.format(counters.reader(), false).forEach(System.out::println);
            System.out.println(NtStatus.name(firstFailure != null ? firstFailure.status : NtStatus.STATUS_IO_TIMEOUT));
            return 1;
        }

        /** One connection: a StreamClient, plus what the report needs (its connection, outcome, end time). */
        private final class Flow implements TcpHandler {
            final int index;
            final StreamClient client;
            TcpConnection connection;
            boolean connected;
            boolean finished;
            int status = NtStatus.STATUS_PENDING;
            long startedNs;
            long endNs;

            Flow(int index, StreamClient client) {
                this.index = index;
                this.client = client;
            }

            void connect(TcpLayer layer, int ip, int port) {
                startedNs = System.nanoTime();
                int rc = layer.connect(0, 0, ip, port, this);
                if (rc == NtStatus.STATUS_PENDING) {
                    connecting++;
                } else {
                    finish(rc);
                }
            }

            void finish(int result) {
                if (finished) {
                    return;
                }
                finished = true;
                status = result;
                endNs = System.nanoTime();
                SendRun.this.endNs = Math.max(SendRun.this.endNs, endNs);
                SendRun.this.finished++;
            }

            @Override
            public void onConnectComplete(TcpConnection c, int result) {
                connecting--;
                if (result == NtStatus.STATUS_SUCCESS) {
                    connected = true;
                    connection = c;
                }
                client.onConnectComplete(c, result);
                if (result != NtStatus.STATUS_SUCCESS) {
                    finish(result);
                }
            }

            @Override
            public int onReceive(TcpConnection c, long address, int length) {
                return client.onReceive(c, address, length);
            }

            @Override
            public void onSendSpace(TcpConnection c, int freeBytes) {
                client.onSendSpace(c, freeBytes);
            }

            @Override
            public void onPeerClosed(TcpConnection c) {
                client.onPeerClosed(c);
            }

            @Override
            public void onClosed(TcpConnection c, int result) {
                connection = null;
                client.onClosed(c, result);
                finish(client.status());
            }

            String describeFailure(long total) {
                String what = "connection " + (index + 1) + ": " + NtStatus.name(status) + " after " + client.sent()
                    + " bytes sent, " + client.received() + " of " + total + " echoed";
                if (client.mismatchAt() >= 0) {
                    what += "; the echo differs from what was sent at byte " + client.mismatchAt();
                } else if (status == NtStatus.STATUS_INVALID_PARAMETER) {
                    what += "; the peer closed before echoing everything";
                }
                return what;
            }
        }
    }
}
