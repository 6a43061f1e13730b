package io.fastpath.cli;

import io.fastpath.dpdk.Eal;
import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.Port;
import io.fastpath.dpdk.RingPair;
import io.fastpath.ndk.MpaFrame;
import io.fastpath.ndk.NdkAdapter;
import io.fastpath.ndk.NdkAdapterInfo;
import io.fastpath.ndk.NdkConnectionData;
import io.fastpath.ndk.NdkConnector;
import io.fastpath.ndk.NdkListener;
import io.fastpath.ndk.NdkQp;
import io.fastpath.ndk.NdkQpHandler;
import io.fastpath.ndk.NdkRequestCompletion;
import io.fastpath.ndk.SockAddrIn;
import io.fastpath.provider.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.StackConfig;
import io.fastpath.stack.device.PcapPort;
import io.fastpath.stack.tcp.TcpConfig;
import io.fastpath.stack.wire.Ipv4Address;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * {@code fastpath ndk-pingpong}: two stacks on a back-to-back DPDK ring pair (or on two given vdevs, e.g. the
 * two ends of a veth pair through net_af_packet); the connector (10.77.0.1) and
 * the listener (10.77.0.2) complete the NDK connection sequence over MPA v2 (NdkConnect with private data and
 * read limits → connect event → NdkAccept → NdkCompleteConnect), print what each side negotiated, ping-pong
 * {@code --messages} messages of {@code --size} bytes (every byte verified both ways), print RTT percentiles,
 * then disconnect. Exit 1 with the NTSTATUS name on any failure; 2 for bad flags.
 */
final class NdkPingPong {
    private static final Set<String> WITH_VALUE = Set.of("--messages", "--size", "--connector-limits",
        "--listener-limits", "--adapter-limits", "--private-data", "--pcap", "--connector-vdev", "--listener-vdev");
    private static final long STEP_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(30);
    private static final int CONNECTOR_IP = Ipv4Address.parse("10.77.0.1");
    private static final int LISTENER_IP = Ipv4Address.parse("10.77.0.2");

    private NdkPingPong() {
    }

    /** A step failed with an NTSTATUS. */
    private static final class Failed extends RuntimeException {
        final NtStatus status;

        Failed(String what, NtStatus status) {
            super(what + ": " + status);
            this.status = status;
        }
    }

    private static int[] limits(Flags flags, String name, int[] fallback) {
        String v = flags.get(name);
        if (v == null) {
            return fallback;
        }
        String[] parts = v.split(",");
        try {
            if (parts.length != 2) {
                throw new NumberFormatException();
            }
            // ULONGs (NDK_FN_CONNECT, NDK_FN_ACCEPT): 0..4294967295, e.g. 4294967295 (~0) for "the adapter's maximum"
            int in = Integer.parseUnsignedInt(parts[0].trim());
            int out = Integer.parseUnsignedInt(parts[1].trim());
            return new int[] {in, out};
        } catch (NumberFormatException e) {
            throw new UsageException(name + " takes IN,OUT (two numbers 0..4294967295), got '" + v + "'");
        }
    }

    static int run(List<String> args) {
        Flags flags = new Flags(args, WITH_VALUE, Set.of());
        int messages = flags.intValue("--messages", 1000);
        int size = flags.intValue("--size", 64);
        int[] connectorLimits = limits(flags, "--connector-limits", new int[] {16, 16});
        int[] listenerLimits = limits(flags, "--listener-limits", new int[] {16, 16});
        int[] adapterLimits = limits(flags, "--adapter-limits", new int[] {16, 16});
        String text = flags.get("--private-data", "fastpath");
        byte[] privateData = text.getBytes(StandardCharsets.UTF_8);
        if (messages < 0) {
            throw new UsageException("--messages must be >= 0");
        }
        if (size < 0 || size > MpaFrame.MAX_ULPDU) {
            throw new UsageException("--size must be 0.." + MpaFrame.MAX_ULPDU);
        }
        if (Integer.compareUnsigned(adapterLimits[0], MpaFrame.IRD_ORD_MASK) > 0
            || Integer.compareUnsigned(adapterLimits[1], MpaFrame.IRD_ORD_MASK) > 0) {
            throw new UsageException("--adapter-limits are at most " + MpaFrame.IRD_ORD_MASK + " (RFC 6581's 14 bits)");
        }
        if (privateData.length > MpaFrame.MAX_CONSUMER_PRIVATE_DATA) {
            throw new UsageException("--private-data is at most " + MpaFrame.MAX_CONSUMER_PRIVATE_DATA + " bytes");
        }
        Path pcap = flags.has("--pcap") ? Path.of(flags.get("--pcap")) : null;
        String connectorVdev = flags.get("--connector-vdev");
        String listenerVdev = flags.get("--listener-vdev");
        if ((connectorVdev == null) != (listenerVdev == null)) {
            throw new UsageException("--connector-vdev and --listener-vdev go together");
        }
        NdkAdapterInfo info = NdkAdapterInfo.defaults().withReadLimits(adapterLimits[0], adapterLimits[1])
            .withMaxTransferLength(Math.max(size, 1));
        try (Rig rig = new Rig(pcap, info, connectorVdev, listenerVdev)) {
            return rig.pingPong(messages, size, connectorLimits, listenerLimits, privateData);
        } catch (Failed f) {
            System.out.println("ndk-pingpong: " + f.getMessage());
            System.out.println(f.status);
            return 1;
        }
    }

    /**
     * Two stacks, two adapters, all driven by this thread (invoker mode: each round runs both stacks' duty
     * cycles and both adapters' dispatch), so a round trip costs what the code costs, with no thread hand-off
     * or wake-up on a small machine.
     */
    private static final class Rig implements AutoCloseable {
        final PktmbufPool pool;
        final RingPair pair;
        final Port connectorDevice;
        final Port listenerDevice;
        final PcapPort capture;
        final Stack connectorStack;
        final Stack listenerStack;
        final NdkAdapter connectorNdk;
        final NdkAdapter listenerNdk;
        final List<Throwable> errors = new ArrayList<>();

        Rig(Path pcap, NdkAdapterInfo info, String connectorVdev, String listenerVdev) {
            Eal.shared();
            String tag = "ndkpp" + ProcessHandle.current().pid();
            pool = PktmbufPool.create(tag, 16383, 256, PktmbufPool.DEFAULT_DATA_ROOM);
            if (connectorVdev == null) {
                pair = RingPair.create(tag, 2048, pool, pool, EthDevPort.Config.defaults());
                connectorDevice = pair.a();
                listenerDevice = pair.b();
            } else {
                pair = null;
                connectorDevice = EthDevPort.openVdev(connectorVdev, pool, EthDevPort.Config.defaults());
                listenerDevice = EthDevPort.openVdev(listenerVdev, pool, EthDevPort.Config.defaults());
            }
            capture = pcap == null ? null : new PcapPort(connectorDevice, pcap);
            Port connectorPort = capture == null ? connectorDevice : capture;
            Path counters;
            try {
                counters = Files.createTempDirectory("fastpath-ndk");
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            TcpConfig tcp = TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50));
            connectorStack = new Stack(connectorPort, StackConfig.builder().name(tag + "c").address(CONNECTOR_IP, 24)
                .tcp(tcp).countersFile(counters.resolve("connector.counters")).build());
            listenerStack = new Stack(listenerDevice, StackConfig.builder().name(tag + "l").address(LISTENER_IP, 24)
                .tcp(tcp).countersFile(counters.resolve("listener.counters")).build());
            Eal.shared().registerThread(); // this thread polls both stacks (mempool caches)
            connectorNdk = NdkAdapter.open(connectorStack, info, errors::add);
            listenerNdk = NdkAdapter.open(listenerStack, info, errors::add);
        }

        void until(BooleanSupplier done, String what) {
            long deadline = System.nanoTime() + STEP_TIMEOUT_NS;
            while (!done.getAsBoolean()) {
                if (!errors.isEmpty()) {
                    throw new IllegalStateException(what + ": a callback failed", errors.get(0));
                }
                if (System.nanoTime() > deadline) {
                    throw new Failed(what + " timed out", NtStatus.STATUS_IO_TIMEOUT);
                }
                connectorStack.doWork();
                listenerStack.doWork();
                connectorNdk.dispatch();
                listenerNdk.dispatch();
            }
        }

        static void expect(String what, NtStatus expected, NtStatus status) {
            if (status != expected) {
                throw new Failed(what, status);
            }
        }

        static String privateData(NdkConnector c, NdkConnectionData data) {
            expect("NdkGetConnectionData (size)", NtStatus.STATUS_SUCCESS, c.getConnectionData(data, null, 0));
            byte[] b = new byte[data.privateDataLength];
            expect("NdkGetConnectionData", NtStatus.STATUS_SUCCESS,
                c.getConnectionData(data, MemorySegment.ofArray(b), b.length));
            return new String(b, StandardCharsets.UTF_8);
        }

        int pingPong(int messages, int size, int[] connectorLimits, int[] listenerLimits, byte[] privateData) {
            int slot = Math.max(size, 1);
            Side connector = new Side(connectorNdk, slot);
            Side listener = new Side(listenerNdk, slot);
            MemorySegment pd = MemorySegment.ofArray(privateData);
            NtStatus[] status = new NtStatus[4];
            NdkConnector[] accepted = new NdkConnector[1];
            NdkListener l = listenerNdk.createListener((ctx, c) -> accepted[0] = c, null);
            NdkRequestCompletion record = (ctx, s) -> status[(Integer) ctx] = s;
            expect("NdkListen", NtStatus.STATUS_PENDING, l.listen(new SockAddrIn(0, 0), record, 0));
            until(() -> status[0] != null, "NdkListen");
            expect("NdkListen", NtStatus.STATUS_SUCCESS, status[0]);
            SockAddrIn address = l.getListenerLocalAddress();

            NdkConnector c = connectorNdk.createConnector();
            expect("NdkConnect", NtStatus.STATUS_PENDING, c.connect(connector.qp, null, address, connectorLimits[0],
                connectorLimits[1], pd, privateData.length, record, 1));
            until(() -> accepted[0] != null || status[1] != null, "connect event");
            if (accepted[0] == null) {
                throw new Failed("NdkConnect", status[1]);
            }
            NdkConnector s = accepted[0];
            expect("NdkAccept", NtStatus.STATUS_PENDING, s.accept(listener.qp, listenerLimits[0], listenerLimits[1], pd,
                privateData.length, ctx -> { }, null, record, 2));
            until(() -> status[1] != null, "NdkConnect");
            expect("NdkConnect", NtStatus.STATUS_SUCCESS, status[1]);
            NdkConnectionData data = new NdkConnectionData();
            String peer = privateData(c, data);
            System.out.println("connector: inbound=" + data.inboundReadLimit + " outbound=" + data.outboundReadLimit
                + " peer-private-data=" + peer);
            expect("NdkCompleteConnect", NtStatus.STATUS_PENDING, c.completeConnect(ctx -> { }, null, record, 3));
            until(() -> status[2] != null && status[3] != null, "NdkAccept");
            expect("NdkCompleteConnect", NtStatus.STATUS_SUCCESS, status[3]);
            expect("NdkAccept", NtStatus.STATUS_SUCCESS, status[2]);
            peer = privateData(s, data);
            System.out.println("listener: inbound=" + data.inboundReadLimit + " outbound=" + data.outboundReadLimit
                + " peer-private-data=" + peer);
            System.out.flush();

            long[] rtt = new long[messages];
            connector.post();
            listener.post();
            long started = System.nanoTime();
            for (int i = 0; i < messages; i++) {
                int seed = i;
                long t0 = System.nanoTime();
                expect("NdkSend", NtStatus.STATUS_SUCCESS, connector.send(size, seed));
                until(() -> listener.receivedStatus != null, "message " + i);
                listener.verify(size, seed, "listener");
                listener.post();
                expect("NdkSend", NtStatus.STATUS_SUCCESS, listener.send(size, seed + 1));
                until(() -> connector.receivedStatus != null, "reply " + i);
                connector.verify(size, seed + 1, "connector");
                rtt[i] = System.nanoTime() - t0;
                connector.post();
            }
            long elapsed = System.nanoTime() - started;
            until(() -> connector.sends == messages && listener.sends == messages, "send completions");
            System.out.println("verified " + messages + " messages of " + size + " bytes each way");
            if (messages > 0) {
                Arrays.sort(rtt);
                System.out.printf("rtt us: min %.1f p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f (%d round trips in %.1f ms)%n",
                    rtt[0] / 1e3, pct(rtt, 50) / 1e3, pct(rtt, 90) / 1e3, pct(rtt, 99) / 1e3, pct(rtt, 99.9) / 1e3,
                    rtt[messages - 1] / 1e3, messages, elapsed / 1e6);
            }
            expect("NdkDisconnect", NtStatus.STATUS_PENDING, c.disconnect(record, 0));
            status[0] = null;
            expect("NdkDisconnect (listener)", NtStatus.STATUS_PENDING, s.disconnect(record, 1));
            status[1] = null;
            until(() -> status[0] != null && status[1] != null, "NdkDisconnect");
            expect("NdkDisconnect", NtStatus.STATUS_SUCCESS, status[0]);
            expect("NdkDisconnect (listener)", NtStatus.STATUS_SUCCESS, status[1]);
            System.out.println("disconnected");
            return 0;
        }

        static long pct(long[] sorted, double p) {
            int i = (int) Math.ceil(p / 100 * sorted.length) - 1;
            return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
        }

        @Override
        public void close() {
            try {
                connectorNdk.close();
                listenerNdk.close();
            } finally {
                connectorStack.onClose();
                listenerStack.onClose();
                connectorStack.close();
                listenerStack.close();
                drain(connectorDevice);
                drain(listenerDevice);
                if (capture != null) {
                    capture.close();
                }
                if (pair != null) {
                    pair.close();
                } else {
                    connectorDevice.close();
                    listenerDevice.close();
                }
                pool.close();
            }
        }

        private static void drain(Port port) {
            MbufArray burst = new MbufArray(32);
            for (int n; (n = port.receive(burst, 32)) > 0; ) {
                burst.freeAll(n);
            }
        }
    }

    /** One side's QP with one receive buffer and one send buffer. */
    private static final class Side implements NdkQpHandler {
        final NdkQp qp;
        final UnsafeBuffer receive;
        final UnsafeBuffer send;
        NtStatus receivedStatus;
        int receivedBytes;
        int sends;

        Side(NdkAdapter adapter, int size) {
            qp = adapter.createQp(this);
            receive = new UnsafeBuffer(ByteBuffer.allocateDirect(size));
            send = new UnsafeBuffer(ByteBuffer.allocateDirect(size));
        }

        void post() {
            receivedStatus = null;
            Rig.expect("NdkReceive", NtStatus.STATUS_SUCCESS, qp.postReceive(receive.addressOffset(), receive.capacity(),
                null));
        }

        NtStatus send(int size, int seed) {
            for (int i = 0; i < size; i++) {
                send.putByte(i, (byte) (seed * 31 + i));
            }
            return qp.send(send.addressOffset(), size, null);
        }

        void verify(int size, int seed, String who) {
            Rig.expect(who + " receive", NtStatus.STATUS_SUCCESS, receivedStatus);
            if (receivedBytes != size) {
                throw new Failed(who + " received " + receivedBytes + " bytes, expected " + size,
                    NtStatus.STATUS_INVALID_PARAMETER);
            }
            for (int i = 0; i < size; i++) {
                if (receive.getByte(i) != (byte) (seed * 31 + i)) {
                    throw new Failed(who + ": byte " + i + " of message " + seed + " differs",
                        NtStatus.STATUS_INVALID_PARAMETER);
                }
            }
        }

        @Override
        public void onSendComplete(Object requestContext, NtStatus status, int bytes) {
            if (status != NtStatus.STATUS_SUCCESS) {
                throw new Failed("send completion", status);
            }
            sends++;
        }

        @Override
        public void onReceiveComplete(Object requestContext, NtStatus status, int bytes) {
            receivedStatus = status;
            receivedBytes = bytes;
        }
    }
}
