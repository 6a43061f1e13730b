package io.fastpath.perf;

import io.fastpath.dpdk.Eal;
import io.fastpath.dpdk.EthDevPort;
import io.fastpath.dpdk.Mbuf;
import io.fastpath.dpdk.MbufArray;
import io.fastpath.dpdk.PktmbufPool;
import io.fastpath.dpdk.RingPair;
import io.fastpath.stack.Stack;
import io.fastpath.stack.app.EchoServer;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.tcp.TcpConnection;
import io.fastpath.stack.tcp.TcpHandler;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A deterministic reproduction of what the TCP harness saw on the lossless ring pair: in a 64-byte
 * ping-pong, a pure ACK that carries no SACK information reaches the client while one new message is in
 * flight, and the client fast-retransmits that message although nothing was lost.
 *
 * <p>Two stacks over a ring pair in invoker mode (one thread, each step explicit):
 * <ol>
 *   <li>the client sends P1; the harness takes it off the ring, keeps a copy, and lets it go on;
 *   <li>the server echoes E1; then the copy of P1 arrives (a duplicate, as after any spurious
 *       retransmission) and the server answers it with a pure ACK A1 (ack = end of P1, no SACK block);
 *   <li>the client gets E1 alone and sends P2 from {@code onReceive}: one segment outstanding;
 *   <li>the client gets A1: {@code TcpLayer} counts it as a duplicate ACK, and early retransmit with one
 *       segment outstanding has a threshold of 1 ({@code Math.max(1, outstanding - 1)}), so the client enters
 *       recovery and retransmits P2. The server then drops that retransmission as a duplicate and ACKs it:
 *       the next pure ACK, which can start the same again for P3.
 * </ol>
 * RFC 5827 uses early retransmit only when at least two segments are outstanding, and with SACK in use
 * RFC 6675 §2 counts an ACK as a duplicate only if it carries SACK information for new data.
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
 * -cp perf/target/benchmarks.jar io.fastpath.perf.SpuriousRetransmitRepro}; it prints each step and exits 1
 * if the spurious fast retransmit happened (the bug), 0 if not, 2 if the reproduction itself failed.
 */
public final class SpuriousRetransmitRepro {
    private SpuriousRetransmitRepro() {
    }

    public static void main(String[] args) {
        try {
            System.exit(reproduce() ? 1 : 0);
        } catch (Throwable t) {
            t.printStackTrace();
            System.exit(2);
        }
    }

    /** Returns whether the client retransmitted although nothing was lost. */
    private static boolean reproduce() throws IOException {
        Eal.shared();
        Eal.shared().registerThread();
        PktmbufPool pool = PktmbufPool.create("sprx_pool", 4095, 0, PktmbufPool.DEFAULT_DATA_ROOM);
        RingPair pair = RingPair.create("sprx", TcpHarness.RING_SIZE, pool, pool, EthDevPort.Config.defaults());
        Stack client = TcpHarness.newStack(pair.a(), "sprx-c", TcpHarness.CLIENT_IP, TcpHarness.tcpConfig());
        Stack server = TcpHarness.newStack(pair.b(), "sprx-s", TcpHarness.SERVER_IP, TcpHarness.tcpConfig());
        UnsafeBuffer message = new UnsafeBuffer(ByteBuffer.allocateDirect(64));
        MbufArray frames = new MbufArray(32);
        MbufArray copy = new MbufArray(1);
        Client handler = new Client(message);
        boolean bug;
        try {
            new EchoServer().listen(server.tcp(), TcpHarness.ECHO_PORT);
            client.tcp().connect(0, 0, TcpHarness.SERVER_IP, TcpHarness.ECHO_PORT, handler);
            for (int i = 0; i < 50 && handler.echoes == 0; i++) {
                if (handler.connection != null && handler.connection.sendQueued() == 0 && i > 5) {
                    handler.connection.send(message, 0, 64); // one ordinary round trip first
                }
                client.doWork();
                server.doWork();
            }
            for (int i = 0; i < 10; i++) {
                client.doWork();
                server.doWork();
            }
            TcpConnection c = handler.connection;
            System.out.println("connected; one round trip done (echoes " + handler.echoes + "), nothing in flight ("
                + c.sendQueued() + " bytes queued)");

            c.send(message, 0, 64);
            client.doWork();
            require(pair.b().receive(frames, 32) == 1, "P1 on the ring");
            long p1 = frames.get(0);
            require(pool.allocBulk(copy, 0, 1), "an mbuf for the copy");
            int length = Mbuf.dataLen(p1);
            new UnsafeBuffer(Mbuf.dataAddress(copy.get(0)), length)
                .putBytes(0, new UnsafeBuffer(Mbuf.dataAddress(p1), length), 0, length);
            Mbuf.setLength(copy.get(0), length);
            require(pair.a().transmit(frames, 0, 1) == 1, "P1 back on the ring");
            System.out.println("1. client sent P1 (64 bytes); a copy is kept");

            server.doWork();
            require(pair.a().transmit(copy, 0, 1) == 1, "the copy on the ring");
            server.doWork();
            require(pair.a().receive(frames, 32) == 2, "E1 and A1 towards the client");
            System.out.println("2. server echoed E1, then got the duplicate of P1 and answered it with a pure ACK A1");

            long retransmits = client.counters().tcpRetransmits.get();
            long fast = client.counters().tcpFastRetransmits.get();
            require(pair.b().transmit(frames, 0, 1) == 1, "E1 alone");
            handler.sendOnEcho = true;
            client.doWork();
            handler.sendOnEcho = false;
            System.out.println("3. client got E1 and sent P2 at once: " + c.sendQueued() + " bytes in flight");

            require(pair.b().transmit(frames, 1, 1) == 1, "A1");
            client.doWork();
            long retransmitted = client.counters().tcpRetransmits.get() - retransmits;
            long recoveries = client.counters().tcpFastRetransmits.get() - fast;
            System.out.println("4. client got A1: segments retransmitted +" + retransmitted + ", fast retransmits "
                + "(recovery entered) +" + recoveries);
            for (int i = 0; i < 10; i++) {
                server.doWork();
                client.doWork();
            }
            System.out.println("   server drops of duplicates ('segment outside the receive window'): "
                + server.counters().drop(DropReason.TCP_OUT_OF_WINDOW).get() + " (P1's copy"
                + (retransmitted > 0 ? ", P2's retransmission)" : ")"));
            bug = retransmitted > 0;
            System.out.println(bug ? "SPURIOUS FAST RETRANSMIT: one pure ACK without SACK information, one segment"
                + " outstanding, nothing lost" : "no spurious retransmission");
        } finally {
            client.onClose();
            server.onClose();
            TcpHarness.closeStack(client);
            TcpHarness.closeStack(server);
            RingRig.drain(pair.a());
            RingRig.drain(pair.b());
            pair.close();
            pool.close();
        }
        return bug;
    }

    private static void require(boolean condition, String what) {
        if (!condition) {
            throw new IllegalStateException("reproduction set-up failed: " + what);
        }
    }

    /** Counts echoes; sends the next message from {@code onReceive} only when told to. */
    private static final class Client implements TcpHandler {
        private final UnsafeBuffer message;
        TcpConnection connection;
        int echoes;
        boolean sendOnEcho;

        Client(UnsafeBuffer message) {
            this.message = message;
        }

        @Override
        public void onConnectComplete(TcpConnection c, int status) {
            connection = c;
            c.noDelay(true);
        }

        @Override
        public int onReceive(TcpConnection c, long address, int length) {
            echoes++;
            if (sendOnEcho) {
                c.send(message, 0, 64);
            }
            return length;
        }
    }
}
