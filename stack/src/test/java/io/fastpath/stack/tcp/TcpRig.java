package io.fastpath.stack.tcp;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.ip.NativePackets;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One {@link TcpLayer} with no device under it: its IP layer is {@link NativePackets} (plain native memory, no
 * EAL). The rig keeps every segment the layer sends and feeds it segments the test crafts (ACKs with SACK
 * blocks), on a clock the test steps. The peer is imaginary; nothing runs unless the test says so, so every ACK
 * sequence is exact and repeatable (smoltcp's socket tests are the model). Sequence numbers in the helpers are
 * relative to our first data byte. Test thread only.
 */
final class TcpRig implements AutoCloseable {
    static final int LOCAL = Ipv4Address.parse("10.77.0.1");
    static final int PEER = Ipv4Address.parse("10.77.0.2");
    static final int PEER_PORT = 80;
    static final int PEER_MSS = 1000;

    /** A segment the stack sent, with its sequence number relative to the first data byte. */
    record Sent(int seq, int len, int flags, long atNs) {
        boolean has(int mask) {
            return (flags & mask) == mask;
        }
    }

    final NativePackets packets;
    private final StackCounters counters;
    private final TcpSegment tcp = new TcpSegment();
    final TcpLayer layer;
    final List<Sent> sent = new ArrayList<>();
    long now = 1_000_000_000L;
    TcpConnection c;
    private int iss;
    private int peerIsn = 7_000_000;
    private int localPort;
    private int inUseAtClose = -1;
    private final UnsafeBuffer data = new UnsafeBuffer(ByteBuffer.allocateDirect(1 << 20));

    TcpRig(Path dir, TcpConfig config) {
        this.counters = new StackCounters(dir.resolve("rig.counters"), "rig");
        this.packets = new NativePackets(1023, LOCAL, 1500, counters, this::onSegment);
        this.layer = new TcpLayer(config, packets, now);
    }

    /** Opens a connection (SACK permitted, no timestamps, MSS {@link #PEER_MSS}) with a 100 µs handshake. */
    TcpRig connect() {
        TcpHandler handler = new TcpHandler() {
            @Override
            public void onConnectComplete(TcpConnection connection, int status) {
                if (status == NtStatus.STATUS_SUCCESS) {
                    c = connection;
                }
            }

            @Override
            public int onReceive(TcpConnection connection, long address, int length) {
                return length;
            }
        };
        int status = layer.connect(0, 0, PEER, PEER_PORT, handler);
        if (status != NtStatus.STATUS_PENDING) {
            throw new AssertionError("connect: " + NtStatus.name(status));
        }
        layer.flush(now);
        Sent syn = sent.getFirst();
        if (!syn.has(TcpSegment.SYN)) {
            throw new AssertionError("no SYN: " + sent);
        }
        step(100_000);
        segment(peerIsn, iss + 1, TcpSegment.SYN | TcpSegment.ACK, 65535, true, new int[0]);
        if (c == null) {
            throw new AssertionError("not connected: " + sent);
        }
        sent.clear();
        return this;
    }

    /** The application writes {@code bytes}; the stack sends what its windows allow. */
    void write(int bytes) {
        int n = c.send(data, 0, bytes);
        if (n != bytes) {
            throw new AssertionError("send buffer took " + n + " of " + bytes);
        }
        layer.flush(now);
    }

    /** Advances the clock and runs the timers (the wheel turns a tick, about 1 ms, per poll: step in 250 µs). */
    void step(long ns) {
        long end = now + ns;
        while (now < end) {
            now = Math.min(end, now + 250_000);
            while (layer.poll(now) > 0) {
                // expire everything due
            }
            layer.flush(now);
        }
    }

    /** The absolute sequence number of relative {@code seq}. */
    int abs(int seq) {
        return iss + 1 + seq;
    }

    /**
     * An ACK from the peer: cumulative {@code ack} (relative) and SACK blocks as pairs of relative
     * [left, right), the first of which may be a D-SACK.
     */
    void ack(int ack, int... sack) {
        segment(peerIsn + 1, iss + 1 + ack, TcpSegment.ACK, 65535, false, sack);
    }

    private void segment(int seq, int ack, int flags, int window, boolean syn, int[] sack) {
        int blocks = sack.length / 2;
        int optionsLength = syn ? 8 : blocks > 0 ? 4 + 8 * blocks : 0;
        int tcpLength = TcpSegment.MIN_HEADER_LENGTH + optionsLength;
        long m = packets.allocateSegment(tcpLength);
        UnsafeBuffer frame = packets.segment(m, tcpLength);
        frame.setMemory(0, tcpLength, (byte) 0);
        tcp.wrap(frame, 0, tcpLength).writeHeader(PEER_PORT, localPort, seq, ack, flags, window, optionsLength);
        int at = TcpSegment.MIN_HEADER_LENGTH;
        if (syn) {
            at = TcpOptions.writeMss(frame, at, PEER_MSS);
            at = TcpOptions.writeNop(frame, at);
            at = TcpOptions.writeNop(frame, at);
            TcpOptions.writeSackPermitted(frame, at);
        } else if (blocks > 0) {
            int[] left = new int[blocks];
            int[] right = new int[blocks];
            for (int b = 0; b < blocks; b++) {
                left[b] = iss + 1 + sack[2 * b];
                right[b] = iss + 1 + sack[2 * b + 1];
            }
            at = TcpOptions.writeNop(frame, at);
            at = TcpOptions.writeNop(frame, at);
            TcpOptions.writeSackBlocks(frame, at, left, right, blocks);
        }
        tcp.fillChecksum(PEER, LOCAL);
        layer.input(m, packets.segmentAddress(m), tcpLength, PEER, LOCAL, false, now);
        layer.flush(now);
    }

    /** Segments with data sent since the last {@link #clear}, as relative sequence numbers. */
    List<Sent> data() {
        return sent.stream().filter(s -> s.len() > 0).toList();
    }

    /** How many times the segment starting at {@code seq} went out. */
    long timesSent(int seq) {
        return sent.stream().filter(s -> s.len() > 0 && s.seq() == seq).count();
    }

    void clear() {
        sent.clear();
    }

    Recovery recovery() {
        return c.recovery;
    }

    StackCounters counters() {
        return counters;
    }

    /** Buffers not returned to {@link #packets} (after {@link #close}: as it closed; 0 if nothing leaked). */
    int buffersInUse() {
        return inUseAtClose >= 0 ? inUseAtClose : packets.inUse();
    }

    /** Every segment the layer transmits: recorded (relative sequence numbers), then freed. */
    private void onSegment(long m, int source, int destination, int segmentLength) {
        tcp.wrap(packets.segment(m, segmentLength), 0, segmentLength);
        if (tcp.hasFlags(TcpSegment.SYN)) {
            iss = tcp.sequenceNumber();
            localPort = tcp.sourcePort();
        }
        sent.add(new Sent(tcp.sequenceNumber() - iss - 1, tcp.payloadLength(), tcp.flags(), now));
        packets.free(m);
    }

    @Override
    public void close() {
        if (c != null && c.state() != TcpState.CLOSED) {
            c.abort();
            layer.flush(now);
        }
        inUseAtClose = packets.inUse();
        packets.close();
        counters.close();
    }
}
