package io.fastpath.stack;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpEventHandler;
import io.fastpath.stack.tcp.TcpHandler;
import io.fastpath.stack.tcp.TcpService;
import io.fastpath.stack.tcp.TcpSocketOptions;
import io.fastpath.stack.wire.ArpPacket;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.IcmpPacket;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.Ipv4Packet;
import io.fastpath.stack.wire.TcpSegment;
import io.fastpath.stack.wire.WireError;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;

/**
 * Jazzer fuzz target for the whole receive path (issue 10 deliverable 5): a {@link Stack} on one side of a ring
 * pair, in invoker mode with a stepped clock; the fuzz input is a script for a peer on the other side.
 *
 * <p>Each input gets a fresh stack (so a finding replays alone) that listens on port 80 through
 * {@link TcpService} (zero-copy descriptors the application holds and releases, including bad releases), on
 * port 81 with a direct {@link TcpHandler} (consumes all, part or none), on port 82 with conditional accept,
 * and actively opens a connection to the peer. The script's steps: arbitrary frames (optionally addressed to
 * the stack and given a valid IPv4 header), TCP segments with valid checksums whose sequence and
 * acknowledgement numbers are chosen near what the stack last sent (so segments land in and around the window
 * of real connections), SYNs with fuzzed options, pings and ARP, application actions, and clock steps from
 * microseconds to minutes. The peer answers the stack's ARP requests unless the script says otherwise.
 *
 * <p>Asserted: {@code doWork} never throws; after the application released everything and closed its
 * connections and the clock ran past every timer, no mbuf is in use before the stack closes (nothing leaked
 * into a closed connection or lost track of), and none after it closes.
 */
class ReceivePathFuzzTest {
    private static final int STACK_IP = Ipv4Address.parse("10.13.0.2");
    private static final int PEER_IP = Ipv4Address.parse("10.13.0.1");
    private static final long PEER_MAC = 0x0200_0000_0001L;
    private static final int PEER_PORT = 5000;
    private static final int MAX_FRAME = 1514;
    private static final int MAX_TRACKED = 16;

    private static PktmbufPool pool;
    private static RingPair pair;
    private static Path dir;
    private static ByteBuffer sendData;
    private static int round;

    // Per input.
    private Stack stack;
    private TcpService service;
    private long now;
    private boolean holdDescriptors;
    private boolean peerAnswersArp;
    private int directConsume;
    private final List<Long> handles = new ArrayList<>();
    private final List<long[]> held = new ArrayList<>(); // handle, mbuf, length
    private long[] lastReleased;
    private final List<TcpConnection> direct = new ArrayList<>();
    private final List<Long> requests = new ArrayList<>();
    // Connections the peer knows of, by the stack's sending: stack port, peer port, stack's next, peer's next.
    private final int[] stackPort = new int[MAX_TRACKED];
    private final int[] peerPort = new int[MAX_TRACKED];
    private final int[] stackNext = new int[MAX_TRACKED];
    private final int[] peerNext = new int[MAX_TRACKED];
    private int tracked;

    private final MbufArray one = new MbufArray(1);
    private final MbufArray burst = new MbufArray(32);
    private final UnsafeBuffer frame = new UnsafeBuffer(0, 0);
    private final EthernetFrame ethernet = new EthernetFrame();
    private final ArpPacket arp = new ArpPacket();
    private final Ipv4Packet ip = new Ipv4Packet();
    private final TcpSegment tcp = new TcpSegment();
    private final IcmpPacket icmp = new IcmpPacket();

    private final TcpEventHandler application = new TcpEventHandler() {
        @Override
        public void onConnectComplete(long requestId, long handle, int status) {
            if (status == NtStatus.STATUS_SUCCESS) {
                handles.add(handle);
            }
        }

        @Override
        public void onAccepted(int listenPort, long handle, int remoteIp, int remotePort) {
            handles.add(handle);
        }

        @Override
        public void onConnectRequest(int listenPort, long handle, int remoteIp, int remotePort,
                                     org.agrona.DirectBuffer synData, int offset, int length) {
            requests.add(handle);
        }

        @Override
        public void onReceive(long handle, long mbuf, long address, int length) {
            if (holdDescriptors) {
                held.add(new long[] {handle, mbuf, length});
            } else {
                service.release(handle, mbuf, length);
                lastReleased = new long[] {handle, mbuf, length};
            }
        }

        @Override
        public void onSendComplete(long requestId, long handle, int bytes, int status) {
        }

        @Override
        public void onPeerClosed(long handle) {
        }

        @Override
        public void onClosed(long handle, int status) {
            handles.remove(handle);
        }
    };

    private final TcpHandler directHandler = new TcpHandler() {
        @Override
        public int onReceive(TcpConnection connection, long address, int length) {
            return switch (directConsume) {
                case 0 -> length;
                case 1 -> length / 2;
                default -> 0;
            };
        }

        @Override
        public void onClosed(TcpConnection connection, int status) {
            direct.remove(connection);
        }
    };

    private static synchronized void rig() {
        if (pool == null) {
            pool = PktmbufPool.create("fuzzrx", 4095, 0, PktmbufPool.DEFAULT_DATA_ROOM);
            pair = RingPair.create("fuzzrx", 1024, pool, pool, EthDevPort.Config.defaults());
            try {
                dir = Files.createTempDirectory("fuzzrx");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            sendData = ByteBuffer.allocateDirect(64 * 1024);
        }
    }

    @AfterAll
    static void closeRig() {
        if (pool != null) {
            pair.close();
            pool.close();
            pool = null;
        }
    }

    @FuzzTest
    void receivePath(FuzzedDataProvider data) {
        rig();
        begin(data.consumeBoolean(), data.consumeInt(0, 3));
        try {
            for (int step = 0; step < 64 && data.remainingBytes() > 0; step++) {
                step(data);
                pump(2);
            }
            end();
        } finally {
            if (stack != null) {
                stack.onClose();
                stack.close();
                stack = null;
            }
            drain(pair.a());
            drain(pair.b());
        }
        assertEquals(0, pool.inUseCount(), "every mbuf back in the pool after the stack closed");
    }

    private void begin(boolean fastOpen, int flags) {
        now = TimeUnit.SECONDS.toNanos(1);
        holdDescriptors = (flags & 1) != 0;
        peerAnswersArp = (flags & 2) == 0;
        directConsume = 0;
        handles.clear();
        held.clear();
        direct.clear();
        requests.clear();
        lastReleased = null;
        tracked = 0;
        // Short SYN retries and TIME-WAIT: the clock steps and the final run-down stay a few thousand ticks
        // of the timer wheel, so an input takes milliseconds.
        TcpConfig tcpConfig = TcpConfig.defaults().withMaxConnections(16).withBuffers(16 * 1024, 16 * 1024)
            .withFastOpen(fastOpen, 4).withSynRetries(3, TimeUnit.MILLISECONDS.toNanos(200))
            .withTimeWait(TimeUnit.SECONDS.toNanos(2));
        stack = new Stack(pair.b(), StackConfig.builder().name("fuzz" + (round++ & 1)).address(STACK_IP, 24)
            .ringCapacity(64 * 1024).tcp(tcpConfig).countersFile(dir.resolve("fuzz.counters")).build(), () -> now);
        service = stack.tcpService();
        service.listen(80);
        service.listen(82, TcpSocketOptions.withConditionalAccept(TcpSocketOptions.DEFAULTS));
        stack.tcp().listen(0, 81, c -> {
            direct.add(c);
            return directHandler;
        });
        service.connect(1, PEER_IP, PEER_PORT, 0);
        pump(2);
    }

    private void step(FuzzedDataProvider data) {
        switch (data.consumeInt(0, 7)) {
            case 0 -> rawFrame(data);
            case 1 -> syn(data);
            case 2, 3 -> segment(data);
            case 4 -> now += switch (data.consumeInt(0, 3)) {
                case 0 -> data.consumeLong(0, 1_000_000L);
                case 1 -> data.consumeLong(0, 1_000_000_000L);
                case 2 -> data.consumeLong(0, 2_000_000_000L);
                default -> data.consumeLong(0, 20_000_000_000L);
            };
            case 5 -> applicationStep(data);
            case 6 -> pingOrArp(data);
            default -> {
                // A burst: the same segment many times (duplicates, retransmissions).
                int times = data.consumeInt(1, 40);
                byte[] script = data.consumeBytes(4);
                for (int i = 0; i < times && script.length > 0; i++) {
                    replaySegment(script);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ peer frames

    private void rawFrame(FuzzedDataProvider data) {
        boolean toUs = data.consumeBoolean();
        boolean validIp = data.consumeBoolean();
        byte[] bytes = data.consumeBytes(data.consumeInt(0, MAX_FRAME));
        long m = allocate();
        if (m == 0) {
            return;
        }
        int length = bytes.length;
        frame.wrap(Mbuf.dataAddress(m), Math.max(length, 1));
        frame.putBytes(0, bytes, 0, length);
        if (toUs && length >= EthernetFrame.HEADER_LENGTH) {
            ethernet.wrap(frame, 0, length).writeHeader(stack.mac(), PEER_MAC,
                validIp ? EthernetFrame.ETHERTYPE_IPV4 : ethernet.etherType());
            if (validIp && length >= EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH) {
                ip.wrap(frame, EthernetFrame.HEADER_LENGTH, length - EthernetFrame.HEADER_LENGTH);
                ip.version(4);
                if (ip.ihl() < 5) {
                    ip.ihl(5);
                }
                ip.totalLength(Math.min(ip.totalLength(), length - EthernetFrame.HEADER_LENGTH));
                ip.source(PEER_IP);
                ip.destination(STACK_IP);
                ip.flagsAndFragmentOffset(ip.flagsAndFragmentOffset() & Ipv4Packet.FLAG_DF);
                if (ip.headerLength() <= length - EthernetFrame.HEADER_LENGTH) {
                    ip.fillHeaderChecksum();
                }
            }
        }
        send(m, length);
    }

    private void syn(FuzzedDataProvider data) {
        int port = switch (data.consumeInt(0, 4)) {
            case 0, 1 -> 80;
            case 2 -> 81;
            case 3 -> 82;
            default -> data.consumeInt(0, 0xFFFF);
        };
        int fromPort = 1000 + data.consumeInt(0, 7);
        int isn = data.consumeInt();
        int flags = TcpSegment.SYN | (data.consumeBoolean() ? 0 : data.consumeInt(0, 0xFF));
        byte[] options = data.consumeBytes(data.consumeInt(0, 40));
        byte[] payload = data.consumeBytes(data.consumeInt(0, 64));
        tcpFrame(fromPort, port, isn, data.consumeBoolean() ? 0 : data.consumeInt(), flags,
            data.consumeInt(0, 0xFFFF), 0, options, payload, true);
        track(port, fromPort, 0, isn + 1);
    }

    /** A segment on a known connection (or any ports), with numbers near what the stack expects. */
    private void segment(FuzzedDataProvider data) {
        int k = data.consumeInt(0, tracked);
        int localPort;
        int remotePort;
        int seq;
        int ack;
        if (k < tracked) {
            localPort = stackPort[k];
            remotePort = peerPort[k];
            seq = peerNext[k] + nearby(data);
            ack = stackNext[k] + nearby(data);
        } else {
            localPort = data.consumeInt(0, 0xFFFF);
            remotePort = data.consumeInt(0, 0xFFFF);
            seq = data.consumeInt();
            ack = data.consumeInt();
        }
        int flags = data.consumeInt(0, 0xFF);
        if (data.consumeBoolean()) {
            flags = TcpSegment.ACK | (flags & (TcpSegment.PSH | TcpSegment.FIN | TcpSegment.URG));
        }
        int window = data.consumeBoolean() ? 0xFFFF : data.consumeInt(0, 0xFFFF);
        int urgent = data.consumeInt(0, 0xFFFF);
        byte[] options = data.consumeBoolean() ? new byte[0] : data.consumeBytes(data.consumeInt(0, 40));
        int length = data.consumeInt(0, 1460);
        byte[] payload = data.consumeBoolean() ? new byte[length] : data.consumeBytes(length);
        boolean goodChecksum = data.consumeInt(0, 15) != 0;
        tcpFrame(remotePort, localPort, seq, ack, flags, window, urgent, options, payload, goodChecksum);
        if (k < tracked && data.consumeBoolean()) {
            peerNext[k] = seq + payload.length + ((flags & TcpSegment.FIN) != 0 ? 1 : 0)
                + ((flags & TcpSegment.SYN) != 0 ? 1 : 0);
        }
    }

    private void replaySegment(byte[] script) {
        if (tracked == 0) {
            return;
        }
        int k = (script[0] & 0xFF) % tracked;
        int length = script.length > 1 ? (script[1] & 0xFF) * 4 : 0;
        int flags = script.length > 2 ? script[2] & 0xFF : TcpSegment.ACK;
        int delta = script.length > 3 ? script[3] * 512 : 0;
        tcpFrame(peerPort[k], stackPort[k], peerNext[k] + delta, stackNext[k], flags, 0xFFFF, 0, new byte[0],
            new byte[Math.min(length, 1460)], true);
    }

    private static int nearby(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 3)) {
            case 0 -> 0;
            case 1 -> data.consumeInt(-2000, 2000);
            case 2 -> data.consumeInt(-70_000, 70_000);
            default -> data.consumeInt();
        };
    }

    private void tcpFrame(int sourcePort, int destinationPort, int seq, int ack, int flags, int window, int urgent,
                          byte[] options, byte[] payload, boolean goodChecksum) {
        long m = allocate();
        if (m == 0) {
            return;
        }
        int optionsLength = (options.length + 3) & ~3;
        int tcpLength = TcpSegment.MIN_HEADER_LENGTH + optionsLength + payload.length;
        int length = EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH + tcpLength;
        frame.wrap(Mbuf.dataAddress(m), Math.max(length, 60));
        frame.setMemory(0, Math.max(length, 60), (byte) 0);
        ethernet.wrap(frame, 0, length).writeHeader(stack.mac(), PEER_MAC, EthernetFrame.ETHERTYPE_IPV4);
        ip.wrap(frame, EthernetFrame.HEADER_LENGTH, length - EthernetFrame.HEADER_LENGTH)
            .writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_TCP, PEER_IP, STACK_IP, tcpLength, 7);
        tcp.wrap(frame, ip.payloadOffset(), tcpLength)
            .writeHeader(sourcePort, destinationPort, seq, ack, flags, window, optionsLength);
        tcp.urgentPointer(urgent);
        frame.putBytes(tcp.optionsOffset(), options);
        frame.putBytes(tcp.optionsOffset() + optionsLength, payload);
        tcp.fillChecksum(PEER_IP, STACK_IP);
        if (!goodChecksum) {
            tcp.checksum(tcp.checksum() ^ 0x5A5A);
        }
        send(m, Math.max(length, 60));
    }

    private void pingOrArp(FuzzedDataProvider data) {
        long m = allocate();
        if (m == 0) {
            return;
        }
        if (data.consumeBoolean()) {
            int payload = data.consumeInt(8, 1400);
            int length = EthernetFrame.HEADER_LENGTH + Ipv4Packet.MIN_HEADER_LENGTH + IcmpPacket.HEADER_LENGTH + payload;
            frame.wrap(Mbuf.dataAddress(m), length);
            frame.setMemory(0, length, (byte) 0x11);
            ethernet.wrap(frame, 0, length).writeHeader(stack.mac(), PEER_MAC, EthernetFrame.ETHERTYPE_IPV4);
            ip.wrap(frame, EthernetFrame.HEADER_LENGTH, length - EthernetFrame.HEADER_LENGTH)
                .writeHeader(Ipv4Packet.DEFAULT_TTL, Ipv4Packet.PROTOCOL_ICMP, PEER_IP, STACK_IP,
                    IcmpPacket.HEADER_LENGTH + payload, 9);
            icmp.wrap(frame, ip.payloadOffset(), IcmpPacket.HEADER_LENGTH + payload)
                .type(data.consumeBoolean() ? IcmpPacket.TYPE_ECHO_REQUEST : data.consumeInt(0, 255))
                .code(data.consumeInt(0, 3)).identifier(data.consumeInt(0, 0xFFFF)).sequenceNumber(1);
            icmp.fillChecksum();
            send(m, length);
        } else {
            int length = 60;
            frame.wrap(Mbuf.dataAddress(m), length);
            frame.setMemory(0, length, (byte) 0);
            long senderMac = data.consumeBoolean() ? PEER_MAC : data.consumeLong(0, 0xFFFF_FFFF_FFFFL);
            int senderIp = data.consumeBoolean() ? PEER_IP : data.consumeInt();
            ethernet.wrap(frame, 0, length).writeHeader(data.consumeBoolean() ? stack.mac() : -1L >>> 16,
                PEER_MAC, EthernetFrame.ETHERTYPE_ARP);
            arp.wrap(frame, EthernetFrame.HEADER_LENGTH, ArpPacket.LENGTH).write(data.consumeInt(1, 2), senderMac,
                senderIp, 0, data.consumeBoolean() ? STACK_IP : data.consumeInt());
            send(m, length);
        }
    }

    // ------------------------------------------------------------------------------------------ application

    private void applicationStep(FuzzedDataProvider data) {
        int action = data.consumeInt(0, 11);
        long handle = handles.isEmpty() ? 0 : handles.get(data.consumeInt(0, handles.size() - 1));
        switch (action) {
            case 0 -> {
                if (!held.isEmpty()) {
                    long[] d = held.remove(data.consumeInt(0, held.size() - 1));
                    service.release(d[0], d[1], (int) d[2]);
                    lastReleased = d;
                }
            }
            case 1 -> releaseAll();
            case 2 -> holdDescriptors = !holdDescriptors;
            case 3 -> {
                if (handle != 0) {
                    service.send(handle, 7, BufferUtil.address(sendData), data.consumeInt(0, 64 * 1024));
                }
            }
            case 4 -> {
                if (handle != 0) {
                    service.shutdown(handle);
                }
            }
            case 5 -> {
                if (handle != 0) {
                    service.abort(handle);
                }
            }
            case 6 -> {
                // Releases the application has no right to: each must be refused, never a free.
                if (lastReleased != null) {
                    service.release(lastReleased[0], lastReleased[1], (int) lastReleased[2]);
                }
                if (!held.isEmpty()) {
                    long[] d = held.get(data.consumeInt(0, held.size() - 1));
                    service.release(d[0] + (1L << 32), d[1], data.consumeInt());
                }
            }
            case 7 -> directConsume = data.consumeInt(0, 2);
            case 8 -> {
                if (!direct.isEmpty()) {
                    TcpConnection c = direct.get(data.consumeInt(0, direct.size() - 1));
                    switch (data.consumeInt(0, 3)) {
                        case 0 -> c.shutdown();
                        case 1 -> c.abort();
                        case 2 -> c.resumeReceive();
                        default -> c.send(BufferUtil.address(sendData), data.consumeInt(0, 32 * 1024));
                    }
                }
            }
            case 9 -> {
                if (!requests.isEmpty()) {
                    long request = requests.remove(0);
                    if (data.consumeBoolean()) {
                        service.acceptRequest(request);
                    } else {
                        service.rejectRequest(request);
                    }
                }
            }
            case 10 -> service.connect(2, PEER_IP, PEER_PORT + data.consumeInt(0, 3), 0);
            default -> {
                if (handle != 0) {
                    service.sendUrgent(handle, 8, BufferUtil.address(sendData), data.consumeInt(0, 4096));
                }
            }
        }
    }

    private void releaseAll() {
        for (long[] d : held) {
            service.release(d[0], d[1], (int) d[2]);
            lastReleased = d;
        }
        held.clear();
    }

    /**
     * The application lets go of everything and closes its connections; the clock runs past every timer
     * (SYN-ACK retries, retransmissions, TIME-WAIT, keep-alive); then nothing may be in use.
     */
    private void end() {
        holdDescriptors = false;
        releaseAll();
        for (long h : handles) {
            service.abort(h);
        }
        for (long r : requests) {
            service.rejectRequest(r);
        }
        requests.clear();
        for (TcpConnection c : new ArrayList<>(direct)) {
            c.abort();
        }
        pump(4);
        // 15 s: past SYN and SYN-ACK retries (3 s), TIME-WAIT (2 s) and the conditional-accept limit (10 s).
        for (int i = 0; i < 15; i++) {
            now += TimeUnit.SECONDS.toNanos(1);
            pump(3);
            releaseAll();
            for (long h : handles) {
                service.abort(h);
            }
            for (TcpConnection c : new ArrayList<>(direct)) {
                c.abort();
            }
        }
        pump(4);
        drain(pair.a());
        assertEquals(0, pool.inUseCount(), () -> "every mbuf back in the pool once the connections closed: "
            + stack.tcp().describe() + "\n" + diagnosis());
    }

    /** Where mbufs may be, for a failure message. */
    private String diagnosis() {
        StringBuilder b = new StringBuilder("descriptors held by the application (as the service sees it): ")
            .append(service.heldDescriptors()).append("; frames parked for ARP:");
        ArpTableView.describe(stack, b);
        b.append("; drops:");
        for (io.fastpath.stack.counters.DropReason reason : io.fastpath.stack.counters.DropReason.values()) {
            long n = stack.counters().drop(reason).get();
            if (n > 0) {
                b.append(' ').append(reason).append('=').append(n);
            }
        }
        return b.toString();
    }

    private static final class ArpTableView {
        static void describe(Stack stack, StringBuilder b) {
            io.fastpath.stack.arp.ArpTable arp = stack.arpTable();
            for (int slot = 0; slot < arp.capacity(); slot++) {
                if (arp.state(slot) != io.fastpath.stack.arp.ArpTable.FREE && arp.parkedCount(slot) > 0) {
                    b.append(' ').append(Ipv4Address.format(arp.address(slot))).append('=')
                        .append(arp.parkedCount(slot)).append("(state ").append(arp.state(slot)).append(')');
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ plumbing

    private long allocate() {
        return pool.allocBulk(one, 0, 1) ? one.get(0) : 0;
    }

    private void send(long m, int length) {
        Mbuf.setLength(m, length);
        one.set(0, m);
        if (pair.a().transmit(one, 0, 1) != 1) {
            one.freeAll(1);
        }
    }

    /** Runs the stack, lets the peer read what it sent, and the application poll its events. */
    private void pump(int rounds) {
        for (int r = 0; r < rounds; r++) {
            stack.doWork();
            peerReceive();
            service.pollEvents(application);
        }
    }

    /** The peer learns sequence numbers from the stack's segments and answers ARP requests; frees all. */
    private void peerReceive() {
        for (int n; (n = pair.a().receive(burst, 32)) > 0; ) {
            for (int i = 0; i < n; i++) {
                long m = burst.get(i);
                int length = Mbuf.dataLen(m);
                frame.wrap(Mbuf.dataAddress(m), length);
                if (ethernet.wrap(frame, 0, length).check() != WireError.OK) {
                    continue;
                }
                if (ethernet.etherType() == EthernetFrame.ETHERTYPE_ARP) {
                    arp.wrap(frame, ethernet.payloadOffset(), ethernet.payloadLength());
                    if (peerAnswersArp && arp.check() == WireError.OK && arp.operation() == ArpPacket.OPERATION_REQUEST
                        && arp.targetProtocolAddress() == PEER_IP) {
                        answerArp();
                    }
                } else if (ethernet.etherType() == EthernetFrame.ETHERTYPE_IPV4) {
                    ip.wrap(frame, ethernet.payloadOffset(), ethernet.payloadLength());
                    if (ip.check() == WireError.OK && ip.protocol() == Ipv4Packet.PROTOCOL_TCP) {
                        tcp.wrap(frame, ip.payloadOffset(), ip.payloadLength());
                        if (tcp.check(ip.source(), ip.destination()) == WireError.OK) {
                            learn();
                        }
                    }
                }
            }
            burst.freeAll(n);
        }
    }

    private void learn() {
        int flags = tcp.flags();
        int next = tcp.sequenceNumber() + tcp.payloadLength() + ((flags & TcpSegment.SYN) != 0 ? 1 : 0)
            + ((flags & TcpSegment.FIN) != 0 ? 1 : 0);
        int k = track(tcp.sourcePort(), tcp.destinationPort(), next, 0);
        if (k >= 0) {
            if (next - stackNext[k] > 0 || (flags & TcpSegment.SYN) != 0) {
                stackNext[k] = next;
            }
            if ((flags & TcpSegment.ACK) != 0) {
                peerNext[k] = tcp.acknowledgmentNumber();
            }
        }
    }

    /** The slot for a connection, made if new (while there is room); -1 if the table is full. */
    private int track(int localPort, int remotePort, int stackNextValue, int peerNextValue) {
        for (int k = 0; k < tracked; k++) {
            if (stackPort[k] == localPort && peerPort[k] == remotePort) {
                return k;
            }
        }
        if (tracked == MAX_TRACKED) {
            return -1;
        }
        stackPort[tracked] = localPort;
        peerPort[tracked] = remotePort;
        stackNext[tracked] = stackNextValue;
        peerNext[tracked] = peerNextValue;
        return tracked++;
    }

    private void answerArp() {
        long m = allocate();
        if (m == 0) {
            return;
        }
        UnsafeBuffer f = new UnsafeBuffer(Mbuf.dataAddress(m), 60);
        f.setMemory(0, 60, (byte) 0);
        new EthernetFrame().wrap(f, 0, 60).writeHeader(stack.mac(), PEER_MAC, EthernetFrame.ETHERTYPE_ARP);
        new ArpPacket().wrap(f, EthernetFrame.HEADER_LENGTH, ArpPacket.LENGTH)
            .write(ArpPacket.OPERATION_REPLY, PEER_MAC, PEER_IP, stack.mac(), STACK_IP);
        send(m, 60);
    }

    private static void drain(Port port) {
        MbufArray b = new MbufArray(32);
        for (int n; (n = port.receive(b, 32)) > 0; ) {
            b.freeAll(n);
        }
    }
}
