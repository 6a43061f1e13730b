package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.NativePackets;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import io.fastpath.stack.wire.WireError;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One TCP endpoint and nothing else, in smoltcp's manner: a {@link TcpLayer} whose IP layer is
 * {@link NativePackets} (plain native memory: no EAL, no mempool, no port), with this rig as its sink. The test
 * plays the peer: {@link #send} feeds the endpoint a {@link Segment}, {@link #recv} asserts the exact segments it
 * emitted since, {@link #recvNothing} that it emitted none, and {@link #step} moves the clock (and the timers)
 * on. No port, no threads, no wall clock: a test runs in a millisecond and repeats exactly.
 *
 * <p>Our side is {@link #LOCAL_IP}; the peer {@link #REMOTE_IP}:{@link #REMOTE_PORT} with initial sequence
 * number {@link #remoteIss} (settable before the handshake, e.g. near 2^32). Our ISS is whatever the stack
 * chose (RFC 6528), read from our SYN into {@link #local}. {@link #sendTempl()} and {@link #recvTempl()} are the
 * ACK each side sends in ESTABLISHED with nothing outstanding (smoltcp's SEND_TEMPL and RECV_TEMPL).
 *
 * <p>Segments travel without IPv4 or Ethernet headers: the test's segments are written straight into
 * {@link NativePackets} buffers and handed to {@code TcpLayer.input}; what the endpoint transmits reaches
 * {@link #onSegment} with its addresses, is parsed (checksum checked) and freed. Every access to packet memory
 * is in the small methods under "frames" at the end. Test thread only.
 */
final class TcpEndpointRig implements AutoCloseable {
    static final int LOCAL_IP = Ipv4Address.parse("10.88.0.1");
    static final int REMOTE_IP = Ipv4Address.parse("10.88.0.2");
    static final int LISTEN_PORT = 80;
    static final int REMOTE_PORT = 49_999;
    /** The peer's MSS, window and (for the templates) default ISN. */
    static final int REMOTE_MSS = 1460;
    static final int REMOTE_WINDOW = 65_535;
    static final int DEFAULT_REMOTE_ISS = 10_000;
    static final long START_NS = 1_000_000_000L;
    static final long MS = 1_000_000L;

    /**
     * The rig's default: no timestamps, SACK or window scale (so segments are plain and windows unscaled),
     * 8 KiB receive buffer, 8 connection slots, a small TIME-WAIT table.
     */
    static TcpConfig plainConfig() {
        return TcpConfig.defaults().withOptions(false, false, false).withBuffers(64 * 1024, 8 * 1024)
            .withMaxConnections(8).withTimeWaitCapacity(16);
    }

    /** What the application saw. */
    static final class App implements TcpHandler, TcpListenHandler {
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final ByteArrayOutputStream urgent = new ByteArrayOutputStream();
        final List<String> events = new ArrayList<>();
        final List<TcpConnection> requests = new ArrayList<>();
        TcpConnection connection;
        int connectStatus = -1;
        int closedStatus = -1;
        boolean peerClosed;
        boolean finAcked;
        /** While false onReceive takes nothing and the data stays queued (the window closes). */
        boolean reading = true;
        /** While false onAccept refuses the connection. */
        boolean accepting = true;
        /** While true onAccept aborts the connection, then returns this handler all the same. */
        boolean abortInAccept;

        @Override
        public TcpHandler onAccept(TcpConnection c) {
            events.add("accept");
            if (!accepting) {
                return null;
            }
            if (abortInAccept) {
                c.abort();
            }
            connection = c;
            return this;
        }

        @Override
        public void onConnectRequest(TcpConnection c, long synDataAddress, int synDataLength) {
            events.add("request");
            requests.add(c);
        }

        @Override
        public void onConnectComplete(TcpConnection c, int status) {
            events.add("connect " + NtStatus.name(status));
            connectStatus = status;
            if (status == NtStatus.STATUS_SUCCESS) {
                connection = c;
            }
        }

        @Override
        public int onReceive(TcpConnection c, long address, int length) {
            if (!reading) {
                return 0;
            }
            byte[] bytes = new byte[length];
            new UnsafeBuffer(address, length).getBytes(0, bytes);
            received.writeBytes(bytes);
            return length;
        }

        @Override
        public void onUrgentData(TcpConnection c, long address, int length) {
            byte[] bytes = new byte[length];
            new UnsafeBuffer(address, length).getBytes(0, bytes);
            urgent.writeBytes(bytes);
        }

        @Override
        public void onFinAcked(TcpConnection c) {
            events.add("finAcked");
            finAcked = true;
        }

        @Override
        public void onPeerClosed(TcpConnection c) {
            events.add("peerClosed");
            peerClosed = true;
        }

        @Override
        public void onClosed(TcpConnection c, int status) {
            events.add("closed " + NtStatus.name(status));
            closedStatus = status;
        }

        String text() {
            return received.toString(StandardCharsets.ISO_8859_1);
        }
    }

    private final Path countersFile;
    private final StackCounters counters;
    private final TcpSegment tcp = new TcpSegment();
    private final TcpOptions options = new TcpOptions();
    final ArrayDeque<Segment> emitted = new ArrayDeque<>(); // package-private: a test may look at all of it
    private final UnsafeBuffer data = new UnsafeBuffer(ByteBuffer.allocateDirect(1 << 20));
    final NativePackets packets;
    final TcpLayer layer;
    final App app = new App();
    long now = START_NS;
    /** Our ISS (learned from our SYN or SYN-ACK) and the peer's. */
    int local;
    int remoteIss = DEFAULT_REMOTE_ISS;
    /** Our port on this connection, and the window we advertise (learned from the handshake). */
    int localPort = LISTEN_PORT;
    int ourWindow;
    /** The destination address of the last frame we sent (for resets to other peers). */
    int lastDestination;

    TcpEndpointRig(TcpConfig config) {
        this(config, START_NS);
    }

    /** A rig whose clock starts at {@code startNs} (to put a deadline exactly at 0, say). */
    TcpEndpointRig(TcpConfig config, long startNs) {
        this(config, startNs, new FastOpenKeys());
    }

    /** A rig whose layer shares Fast Open keys with others (shards of one host). */
    TcpEndpointRig(TcpConfig config, long startNs, FastOpenKeys fastOpenKeys) {
        now = startNs;
        try {
            // On tmpfs where there is one: closing the counters forces the mapping to its file.
            Path shm = Path.of("/dev/shm");
            countersFile = Files.isDirectory(shm) && Files.isWritable(shm)
                ? Files.createTempFile(shm, "tcprig", ".counters") : Files.createTempFile("tcprig", ".counters");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        counters = new StackCounters(countersFile, "rig");
        packets = new NativePackets(FRAMES, LOCAL_IP, 1500, counters, this::onSegment);
        layer = new TcpLayer(config, packets, new IsnGenerator(), now, new LocalPorts(),
            io.fastpath.stack.shard.FlowOwner.SINGLE, 0, fastOpenKeys);
    }

    // ================================================================================== opening the rig

    /** A listener on {@link #LISTEN_PORT}: the test sends the SYN. */
    static TcpEndpointRig listening(TcpConfig config) {
        return listening(config, 0);
    }

    static TcpEndpointRig listening(TcpConfig config, long socketOptions) {
        return listening(config, socketOptions, new FastOpenKeys());
    }

    /** A listener whose Fast Open cookies are made with {@code fastOpenKeys} (one shard of a host). */
    static TcpEndpointRig listening(TcpConfig config, long socketOptions, FastOpenKeys fastOpenKeys) {
        TcpEndpointRig r = new TcpEndpointRig(config, START_NS, fastOpenKeys);
        int status = r.layer.listen(0, LISTEN_PORT, r.app, socketOptions);
        assertEquals(NtStatus.STATUS_SUCCESS, status, "listen");
        return r;
    }

    /** An active open: our SYN waits in {@link #recv}; {@link #local} and {@link #localPort} are known. */
    static TcpEndpointRig connecting(TcpConfig config) {
        return connecting(config, START_NS);
    }

    static TcpEndpointRig connecting(TcpConfig config, long startNs) {
        TcpEndpointRig r = new TcpEndpointRig(config, startNs);
        r.connect(null, false);
        return r;
    }

    /**
     * Another active open to the peer (from a new ephemeral port), with {@code data} to send once connected or,
     * with {@code fastOpen}, in the SYN (RFC 7413). Its SYN waits in {@link #recv}; {@link #local},
     * {@link #localPort} and {@link #ourWindow} now describe it.
     */
    void connect(String data, boolean fastOpen) {
        startConnect(data, fastOpen);
        learnSyn();
    }

    /** The application's connect and the duty cycle's flush, without looking at what went out. */
    void startConnect(String data, boolean fastOpen) {
        int length = 0;
        if (data != null) {
            byte[] bytes = data.getBytes(StandardCharsets.ISO_8859_1);
            this.data.putBytes(0, bytes);
            length = bytes.length;
        }
        int status = layer.connect(0, 0, REMOTE_IP, REMOTE_PORT, app, data == null ? null : this.data, 0, length,
            fastOpen);
        assertEquals(NtStatus.STATUS_PENDING, status, "connect");
        layer.flush(now);
    }

    /** Our SYN was the last segment emitted (it stays for {@link #recv}): learns {@link #local} and the window. */
    void learnSyn() {
        Segment syn = emitted.peekLast();
        if (syn == null || !syn.has(TcpSegment.SYN)) {
            throw new AssertionError("no SYN: " + emitted);
        }
        local = syn.seq();
        ourWindow = syn.window();
    }

    /** ESTABLISHED by our connect: SYN, SYN-ACK (MSS {@link #REMOTE_MSS}), ACK, all consumed. */
    static TcpEndpointRig established(TcpConfig config) {
        return established(config, START_NS);
    }

    /** As {@link #established(TcpConfig)}, the clock starting at {@code startNs}. */
    static TcpEndpointRig established(TcpConfig config, long startNs) {
        TcpEndpointRig r = connecting(config, startNs);
        r.recv(r.ourSyn());
        r.send(r.theirSynAck());
        r.recv(r.recvTempl());
        return r;
    }

    static TcpEndpointRig established() {
        return established(plainConfig());
    }

    /** ESTABLISHED by the peer's connect to our listener: SYN, SYN-ACK, ACK, all consumed; accepted. */
    static TcpEndpointRig accepted(TcpConfig config) {
        TcpEndpointRig r = listening(config);
        r.send(r.theirSyn());
        r.learnSynAck();
        r.send(r.sendTempl());
        r.recvNothing();
        if (r.app.connection == null || r.app.connection.state() != TcpState.ESTABLISHED) {
            throw new AssertionError("not accepted: " + r.app.events);
        }
        return r;
    }

    static TcpEndpointRig accepted() {
        return accepted(plainConfig());
    }

    /** Reads our SYN-ACK to the peer's SYN (consumes it), learning our ISS and window. */
    Segment learnSynAck() {
        Segment synAck = recvOne();
        if (!synAck.has(TcpSegment.SYN | TcpSegment.ACK)) {
            throw new AssertionError("expected a SYN-ACK, got " + synAck);
        }
        local = synAck.seq();
        ourWindow = synAck.window();
        return synAck;
    }

    // ======================================================================================== templates

    /** The peer's ACK in ESTABLISHED with nothing outstanding either way. */
    Segment sendTempl() {
        return Segment.of(TcpSegment.ACK).seq(remoteIss + 1).ack(local + 1).window(REMOTE_WINDOW);
    }

    /** Our ACK in ESTABLISHED with nothing outstanding either way. */
    Segment recvTempl() {
        return Segment.of(TcpSegment.ACK).seq(local + 1).ack(remoteIss + 1).window(ourWindow);
    }

    /** The peer's SYN as a Linux-like client sends it under {@link #plainConfig()}: MSS only. */
    Segment theirSyn() {
        return Segment.of(TcpSegment.SYN).seq(remoteIss).window(REMOTE_WINDOW).mss(REMOTE_MSS);
    }

    /** The peer's SYN-ACK to our SYN. */
    Segment theirSynAck() {
        return theirSyn().plus(TcpSegment.ACK).ack(local + 1);
    }

    /** Our SYN under {@link #plainConfig()}: MSS from the 1500-byte MTU, nothing else. */
    Segment ourSyn() {
        return Segment.of(TcpSegment.SYN).seq(local).window(ourWindow).mss(1460);
    }

    /** Our SYN-ACK under {@link #plainConfig()}. */
    Segment ourSynAck() {
        return ourSyn().plus(TcpSegment.ACK).ack(remoteIss + 1);
    }

    // ====================================================================================== the helpers

    /** The peer sends {@code s}; the endpoint processes it and sends what it has to (one duty cycle). */
    void send(Segment s) {
        sendTo(s, LOCAL_IP, localPort, REMOTE_IP, REMOTE_PORT);
    }

    /** The same from another address and port (a stray peer, a spoofed source). */
    void sendTo(Segment s, int dst, int dstPort, int src, int srcPort) {
        int optionsLength = s.optionsLength();
        int tcpLength = TcpSegment.MIN_HEADER_LENGTH + optionsLength + s.payload().length;
        long m = allocateFrame(tcpLength);
        UnsafeBuffer frame = frame(m, tcpLength);
        frame.setMemory(0, tcpLength, (byte) 0);
        tcp.wrap(frame, 0, tcpLength)
            .writeHeader(srcPort, dstPort, s.seq(), s.ack(), s.flags(), s.window(), optionsLength);
        tcp.urgentPointer(s.urgent());
        int optionsOffset = TcpSegment.MIN_HEADER_LENGTH;
        int at = optionsOffset;
        if (s.mss() >= 0) {
            at = TcpOptions.writeMss(frame, at, s.mss());
        }
        if (s.windowScale() >= 0) {
            at = TcpOptions.writeNop(frame, at);
            at = TcpOptions.writeWindowScale(frame, at, s.windowScale());
        }
        if (s.sackPermitted()) {
            at = TcpOptions.writeNop(frame, at);
            at = TcpOptions.writeNop(frame, at);
            at = TcpOptions.writeSackPermitted(frame, at);
        }
        if (s.timestamps()) {
            at = TcpOptions.writeNop(frame, at);
            at = TcpOptions.writeNop(frame, at);
            at = TcpOptions.writeTimestamps(frame, at, s.tsVal(), s.tsEcr());
        }
        int blocks = s.sack().length / 2;
        if (blocks > 0) {
            int[] left = new int[blocks];
            int[] right = new int[blocks];
            for (int b = 0; b < blocks; b++) {
                left[b] = s.sack()[2 * b];
                right[b] = s.sack()[2 * b + 1];
            }
            at = TcpOptions.writeNop(frame, at);
            at = TcpOptions.writeNop(frame, at);
            at = TcpOptions.writeSackBlocks(frame, at, left, right, blocks);
        }
        if (s.fastOpenCookie() != null) {
            at = TcpOptions.writeFastOpen(frame, at, s.fastOpenCookie(), s.fastOpenCookie().length);
        }
        TcpOptions.writePadding(frame, optionsOffset, at);
        frame.putBytes(optionsOffset + optionsLength, s.payload());
        tcp.fillChecksum(src, dst);
        layer.input(m, segmentAddress(m), tcpLength, src, dst, false, now);
        layer.flush(now);
    }

    /** Asserts that the endpoint emitted exactly {@code expected} since the last look, in order. */
    void recv(Segment... expected) {
        List<Segment> got = new ArrayList<>(emitted);
        emitted.clear();
        assertEquals(Arrays.asList(expected), got, "segments emitted");
    }

    /** Asserts that the endpoint emitted nothing since the last look. */
    void recvNothing() {
        recv();
    }

    /** The one segment emitted since the last look (for fields a test checks one by one, e.g. TSval). */
    Segment recvOne() {
        if (emitted.size() != 1) {
            List<Segment> got = new ArrayList<>(emitted);
            emitted.clear();
            throw new AssertionError("expected one segment, got " + got);
        }
        return emitted.removeFirst();
    }

    /** Everything emitted since the last look, consumed. */
    List<Segment> recvAll() {
        List<Segment> got = new ArrayList<>(emitted);
        emitted.clear();
        return got;
    }

    /** Moves the clock on by {@code ns}, a millisecond (the timer wheel's tick) at a time, running timers. */
    void step(long ns) {
        long end = now + ns;
        while (now < end) {
            now = Math.min(end, now + MS);
            while (layer.poll(now) > 0) {
                // everything due
            }
            layer.flush(now);
        }
    }

    /**
     * Steps the clock a millisecond at a time until the endpoint emits something, at most {@code limitMs}; returns
     * the milliseconds that took. Timers run on a wheel of 2^20 ns ticks, so a deadline fires up to about two
     * milliseconds after it is due: tests assert a range, as in {@code assertTimer(200, r.waitMs(1000))}.
     */
    int waitMs(int limitMs) {
        return waitMs(limitMs, 1);
    }

    /** As {@link #waitMs(int)}, {@code stepMs} at a time (for minutes of simulated time). */
    int waitMs(int limitMs, int stepMs) {
        for (int ms = stepMs; ms <= limitMs; ms += stepMs) {
            step(stepMs * MS);
            if (!emitted.isEmpty()) {
                return ms;
            }
        }
        throw new AssertionError("nothing emitted in " + limitMs + " ms");
    }

    /** A timer that fired after {@code elapsedMs} was due at {@code dueMs} (within the wheel's tick slack). */
    static void assertTimer(int dueMs, int elapsedMs) {
        if (elapsedMs < dueMs || elapsedMs > dueMs + 3) {
            throw new AssertionError("timer due at " + dueMs + " ms fired at " + elapsedMs + " ms");
        }
    }

    /** The application writes {@code text}; the endpoint sends what its windows allow. */
    void write(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.ISO_8859_1);
        data.putBytes(0, bytes);
        int n = connection().send(data, 0, bytes.length);
        assertEquals(bytes.length, n, "send buffer took");
        layer.flush(now);
    }

    /** The application closes its side (FIN after queued data). */
    void shutdown() {
        connection().shutdown();
        layer.flush(now);
    }

    /** The application aborts (RST). */
    void abort() {
        connection().abort();
        layer.flush(now);
    }

    TcpConnection connection() {
        if (app.connection == null) {
            throw new AssertionError("no connection: " + app.events);
        }
        return app.connection;
    }

    int state() {
        return connection().state();
    }

    /** The state of the one connection in the table (a half-open one no application has seen yet), or CLOSED. */
    int tableState() {
        TcpConnection found = null;
        for (int i = 0; i < layer.config().maxConnections(); i++) {
            TcpConnection c = layer.connectionAt(i);
            if (c != null) {
                if (found != null) {
                    throw new AssertionError("more than one connection: " + found + ", " + c);
                }
                found = c;
            }
        }
        return found == null ? TcpState.CLOSED : found.state();
    }

    static byte[] bytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) ('a' + i % 26);
        }
        return b;
    }

    // ============================================================================== what the endpoint sends

    /** {@link NativePackets}' sink: every segment the endpoint transmits is parsed, recorded and freed. */
    private void onSegment(long m, int source, int destination, int segmentLength) {
        if (source != LOCAL_IP) {
            throw new AssertionError("sent from " + Ipv4Address.format(source));
        }
        lastDestination = destination;
        emitted.addLast(parse(sentFrame(m, segmentLength), destination));
        freeFrame(m);
    }

    StackCounters counters() {
        return counters;
    }

    /** Aborts whatever is left, and checks that every frame came back. */
    @Override
    public void close() {
        for (int i = 0; i < layer.config().maxConnections(); i++) {
            TcpConnection c = layer.connectionAt(i);
            if (c != null && c.state() != TcpState.CLOSED) {
                c.abort();
            }
        }
        layer.stopListening(LISTEN_PORT);
        layer.flush(now);
        emitted.clear();
        int inUse = framesInUse();
        packets.close();
        counters.close();
        try {
            Files.deleteIfExists(countersFile);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertEquals(0, inUse, "every frame returned");
    }

    /** Parses a frame the endpoint sent back into a {@link Segment}, checking its checksum. */
    private Segment parse(UnsafeBuffer frame, int destination) {
        tcp.wrap(frame, 0, frame.capacity());
        if (tcp.check(LOCAL_IP, destination, true) != WireError.OK) {
            throw new AssertionError("bad segment from the endpoint: " + tcp.check(LOCAL_IP, destination, true));
        }
        if (options.parse(tcp) != WireError.OK) {
            throw new AssertionError("bad options from the endpoint");
        }
        if (tcp.hasFlags(TcpSegment.SYN)) {
            localPort = tcp.sourcePort();
        }
        byte[] payload = new byte[tcp.payloadLength()];
        frame.getBytes(tcp.payloadOffset(), payload);
        Segment s = Segment.of(tcp.flags()).seq(tcp.sequenceNumber()).ack(tcp.acknowledgmentNumber())
            .window(tcp.window()).urgent(tcp.urgentPointer()).payload(payload);
        if (options.hasMss()) {
            s = s.mss(options.mss());
        }
        if (options.hasWindowScale()) {
            s = s.windowScale(options.windowScale());
        }
        if (options.sackPermitted()) {
            s = s.sackPermitted(true);
        }
        if (options.hasTimestamps()) {
            s = s.timestamps(options.tsVal(), options.tsEcr());
        }
        if (options.sackBlockCount() > 0) {
            int[] edges = new int[2 * options.sackBlockCount()];
            for (int b = 0; b < options.sackBlockCount(); b++) {
                edges[2 * b] = options.sackLeft(b);
                edges[2 * b + 1] = options.sackRight(b);
            }
            s = s.sack(edges);
        }
        if (options.hasFastOpen()) {
            byte[] cookie = new byte[options.fastOpenCookieLength()];
            frame.getBytes(options.fastOpenCookieOffset(), cookie);
            s = s.fastOpen(cookie);
        }
        return s;
    }

    // ============================================================ frames (the only packet memory access)

    /** Buffers in the rig's packet memory: far more than any test holds (receive queues, out-of-order data). */
    private static final int FRAMES = 2047;

    /** A fresh buffer for a segment of {@code length} bytes. */
    private long allocateFrame(int length) {
        return packets.allocateSegment(length);
    }

    /** Where the segment starts in buffer {@code m}. */
    private long segmentAddress(long m) {
        return packets.segmentAddress(m);
    }

    private void freeFrame(long m) {
        packets.free(m);
    }

    /** The segment area of buffer {@code m}, {@code length} bytes, as a buffer to write. */
    private UnsafeBuffer frame(long m, int length) {
        return new UnsafeBuffer(packets.segmentAddress(m), length);
    }

    /** A segment the endpoint sent, as a buffer to read. */
    private UnsafeBuffer sentFrame(long m, int length) {
        return new UnsafeBuffer(packets.segmentAddress(m), length);
    }

    private int framesInUse() {
        return packets.inUse();
    }
}
