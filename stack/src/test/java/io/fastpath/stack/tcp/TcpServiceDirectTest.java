package io.fastpath.stack.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.stack.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.wire.Ipv4Address;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.BufferUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Direct requests (docs/architecture.md, "Direct requests"): a client request made on the stack's bound poll
 * thread between two duty cycles is carried out by a direct call, not a record on the request ring; it never
 * overtakes a request of the client already on the ring, never runs inside the stack's duty cycle (TCP input),
 * and a request from any other thread still takes the ring. Two stacks over a ring pair in invoker mode, both
 * bound to the test thread, as the API benchmarks run them.
 */
class TcpServiceDirectTest {
    private static final int A_IP = Ipv4Address.parse("10.15.0.1");
    private static final int B_IP = Ipv4Address.parse("10.15.0.2");
    private static final int PORT = 7;
    private static final int RAW_PORT = 9;

    @TempDir
    Path dir;
    private TcpServiceRig rig;
    private Stack peer;
    private Stack server;
    private final List<ByteBuffer> keep = new ArrayList<>();

    @BeforeEach
    void up() {
        rig = new TcpServiceRig(dir, "tsdi", A_IP, B_IP, 0);
        peer = rig.peer;
        server = rig.server;
        peer.bindPollThread();
        server.bindPollThread();
    }

    @AfterEach
    void down() {
        rig.close();
    }

    private RecordingClient serverSide;
    private RecordingClient peerSide;

    /** A connection between a client on each stack, made with direct requests. */
    private void connect() {
        serverSide = new RecordingClient(server.tcpService().newClient());
        peerSide = new RecordingClient(peer.tcpService().newClient());
        rig.polled.add(serverSide);
        rig.polled.add(peerSide);
        long before = serverSide.client.requestPosition();
        assertTrue(serverSide.client.listen(PORT));
        assertEquals(before, serverSide.client.requestPosition(), "the listen was a direct call, not a record");
        serverSide.run();
        assertEquals(NtStatus.STATUS_SUCCESS, serverSide.listenStatus, "carried out already: its outcome is posted");
        assertTrue(peerSide.client.connect(1, B_IP, PORT, 0));
        rig.pumpUntil(() -> serverSide.handle != 0 && peerSide.handle != 0, "connected");
    }

    /** Sends one ASCII character from {@code side} (from whichever thread calls). */
    private boolean send(RecordingClient side, char ch, long requestId) {
        ByteBuffer b = ByteBuffer.allocateDirect(1).put(0, (byte) ch);
        synchronized (keep) {
            keep.add(b); // valid until the test ends
        }
        return side.client.send(side.handle, requestId, BufferUtil.address(b), 1);
    }

    private void sendFromAnotherThread(RecordingClient side, char ch, long requestId) throws InterruptedException {
        boolean[] ok = new boolean[1];
        Thread t = new Thread(() -> ok[0] = send(side, ch, requestId), "foreign");
        t.start();
        t.join();
        assertTrue(ok[0]);
    }

    @Test
    void aDirectRequestNeverOvertakesOneOfTheSameClientOnTheRing() throws InterruptedException {
        connect();
        TcpServiceClient c = serverSide.client;
        long p0 = c.requestPosition();
        assertTrue(send(serverSide, 'a', 1));
        assertEquals(p0, c.requestPosition(), "the bound thread between duty cycles: a direct call");
        sendFromAnotherThread(serverSide, 'b', 2);
        long p1 = c.requestPosition();
        assertTrue(p1 > p0, "another thread's request is a record on the ring");
        assertTrue(send(serverSide, 'c', 3));
        long p2 = c.requestPosition();
        assertTrue(p2 > p1, "the ring holds a request of this client: this one queues behind it");
        assertFalse(c.requestsTaken(p2));
        rig.pumpUntil(() -> serverSide.completed.size() == 3, "three sends complete");
        assertEquals(List.of(1L, 2L, 3L), serverSide.completed, "completions in request order");
        assertTrue(c.requestsTaken(p2));
        assertTrue(send(serverSide, 'd', 4));
        assertEquals(p2, c.requestPosition(), "the ring is empty again: direct");
        rig.pumpUntil(() -> peerSide.received.size() == 4, "four bytes at the peer");
        assertEquals("abcd", peerSide.text(), "bytes in request order");
        assertEquals(0, server.counters().drop(DropReason.REQUEST_REFUSED).get());
    }

    @Test
    void aRequestMadeInsideTheDutyCycleGoesThroughTheRing() {
        connect();
        TcpServiceClient c = serverSide.client;
        ByteBuffer x = ByteBuffer.allocateDirect(1).put(0, (byte) 'x');
        AtomicLong before = new AtomicLong(-1);
        AtomicLong after = new AtomicLong(-1);
        // A raw TCP handler on the server stack runs inside its duty cycle's input, on the bound thread: a client
        // request it makes must not re-enter TCP from there.
        server.tcp().listen(0, RAW_PORT, connection -> new TcpHandler() {
            @Override
            public int onReceive(TcpConnection conn, long address, int length) {
                before.set(c.requestPosition());
                assertTrue(c.send(serverSide.handle, 7, BufferUtil.address(x), 1));
                after.set(c.requestPosition());
                return length;
            }
        });
        RecordingClient raw = new RecordingClient(peer.tcpService().newClient());
        rig.polled.add(raw);
        assertTrue(raw.client.connect(2, B_IP, RAW_PORT, 0));
        rig.pumpUntil(() -> raw.handle != 0, "raw connection");
        assertTrue(send(raw, 'r', 9));
        rig.pumpUntil(() -> after.get() >= 0, "the raw handler ran");
        assertTrue(after.get() > before.get(), "inside the duty cycle: a record on the ring, not a direct call");
        rig.pumpUntil(() -> peerSide.received.size() == 1, "the send made inside the cycle arrives");
        assertEquals("x", peerSide.text());
        assertEquals(List.of(7L), serverSide.completed);
    }

    @Test
    void requestsFromAnotherThreadOrOnAnUnboundStackTakeTheRing() throws InterruptedException {
        connect();
        TcpServiceClient c = serverSide.client;
        assertEquals(Thread.currentThread(), server.tcpService().pollThread());
        long p0 = c.requestPosition();
        sendFromAnotherThread(serverSide, 'f', 1);
        assertTrue(c.requestPosition() > p0, "a foreign thread's send is a record");
        rig.pumpUntil(() -> peerSide.received.size() == 1, "the foreign send arrives");
        // A duty cycle run by another thread unbinds the stack: the test thread's requests take the ring again.
        Thread t = Thread.ofVirtual().start(server::doWork); // virtual: no mempool cache of its own
        t.join();
        assertEquals(null, server.tcpService().pollThread());
        long p1 = c.requestPosition();
        assertTrue(send(serverSide, 'g', 2));
        assertTrue(c.requestPosition() > p1, "unbound: a record");
        rig.pumpUntil(() -> peerSide.received.size() == 2, "the second send arrives");
        assertEquals("fg", peerSide.text());
    }

    @Test
    void aDirectSendLeavesAtOnceAndAHeldRoundsSendsLeaveInOneBurstAtItsEnd() {
        connect();
        assertTrue(serverSide.client.noDelay(serverSide.handle, true)); // each burst's bytes leave together
        rig.pumpFor(20); // handshake ACKs settled
        TcpService service = server.tcpService();
        long frames = server.counters().txFrames.get();
        long outputs = service.directOutputs();
        assertTrue(send(serverSide, 'a', 1));
        assertEquals(frames + 1, server.counters().txFrames.get(), "the segment left before any duty cycle");
        assertEquals(outputs + 1, service.directOutputs());
        peer.doWork(); // the peer's duty cycle alone receives it: no server duty cycle in between
        peerSide.run();
        assertEquals("a", peerSide.text());
        // A provider's round holds the output: three sends, nothing leaves until the round ends, then one segment.
        boolean held = service.holdOutput();
        assertTrue(held, "the bound thread holds");
        assertTrue(send(serverSide, 'b', 2));
        assertTrue(send(serverSide, 'c', 3));
        assertTrue(send(serverSide, 'd', 4));
        assertEquals(frames + 1, server.counters().txFrames.get(), "held: nothing left yet");
        service.releaseOutput(held);
        assertEquals(outputs + 2, service.directOutputs(), "one output for the round");
        assertEquals(frames + 2, server.counters().txFrames.get(), "the three sends in one segment");
        peer.doWork();
        peerSide.run();
        assertEquals("abcd", peerSide.text());
        // Another thread neither holds nor outputs.
        boolean[] foreignHeld = {true};
        Thread t = new Thread(() -> foreignHeld[0] = service.holdOutput(), "foreign");
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        assertFalse(foreignHeld[0]);
        rig.pumpUntil(() -> serverSide.completed.size() == 4, "four completions");
        assertEquals(List.of(1L, 2L, 3L, 4L), serverSide.completed);
    }

    @Test
    void aDirectReleaseIsHonouredAtOnceAndTheReleaseCreditStaysExact() throws InterruptedException {
        connect();
        peerSide.release = false;
        for (int k = 0; k < 4; k++) {
            assertTrue(send(serverSide, (char) ('0' + k), k));
            int want = k + 1;
            rig.pumpUntil(() -> peerSide.received.size() == want, "byte " + want);
        }
        assertEquals(4, peerSide.held.size());
        TcpService service = peer.tcpService();
        assertEquals(4, service.heldDescriptors());
        // Two released on the bound thread between cycles: honoured before any duty cycle runs.
        for (int k = 0; k < 2; k++) {
            long[] d = peerSide.held.remove(0);
            assertTrue(peerSide.client.release(d[0], d[1], (int) d[2]));
        }
        assertEquals(2, service.heldDescriptors(), "direct releases honoured at once");
        // A second release of an already released descriptor is refused and counted, never a double free.
        // Two from another thread: through the release ring, with the credit the handovers granted.
        long[][] rest = peerSide.held.toArray(new long[0][]);
        peerSide.held.clear();
        assertEquals(2, releaseFromAnotherThread(rest), "both admitted");
        assertEquals(2, service.heldDescriptors(), "queued, not yet taken");
        rig.pumpUntil(() -> service.heldDescriptors() == 0, "ring releases honoured");
        assertEquals(0, peer.counters().drop(DropReason.RELEASE_REFUSED).get(), "every release honoured");
        // More data, released from the foreign thread only: the credit kept back for the direct releases is owed,
        // not lost, so each new handover's release is still admitted.
        for (int k = 0; k < 3; k++) {
            assertTrue(send(serverSide, (char) ('a' + k), 10 + k));
            int want = 5 + k;
            rig.pumpUntil(() -> peerSide.received.size() == want, "byte " + want);
        }
        long[][] more = peerSide.held.toArray(new long[0][]);
        peerSide.held.clear();
        assertEquals(3, releaseFromAnotherThread(more), "a release of each held descriptor is admitted");
        rig.pumpUntil(() -> service.heldDescriptors() == 0, "all honoured");
        assertEquals(0, peer.counters().drop(DropReason.RELEASE_REFUSED).get());
        assertEquals("0123abc", peerSide.text());
        // Nothing held now: a release from another thread finds no credit and is refused at once. (Had the direct
        // releases' credit stayed given out, it would be admitted.)
        assertEquals(0, releaseFromAnotherThread(new long[][] {more[0]}), "no credit left over");
    }

    @Test
    void aReleaseWithNothingWaitingBehindItRunsNoOutput() {
        connect();
        peerSide.release = false;
        assertTrue(send(serverSide, 'x', 1));
        rig.pumpUntil(() -> peerSide.received.size() == 1, "the byte");
        rig.pumpFor(20); // its ACK and the completion settled
        TcpService service = peer.tcpService();
        long outputs = service.directOutputs();
        long frames = peer.counters().txFrames.get();
        long[] d = peerSide.held.remove(0);
        assertTrue(peerSide.client.release(d[0], d[1], (int) d[2]));
        assertEquals(0, service.heldDescriptors(), "honoured at once");
        // One byte back opens no window worth announcing and nothing waits behind it: no output pass for nothing
        // (each was a clock read and a pass over the connection between duty cycles, twice per API round trip).
        assertEquals(outputs, service.directOutputs(), "no output between cycles");
        assertEquals(frames, peer.counters().txFrames.get(), "nothing sent");
        // The connection still works both ways after it.
        peerSide.release = true;
        assertTrue(send(serverSide, 'y', 2));
        rig.pumpUntil(() -> peerSide.received.size() == 2, "the next byte");
        assertEquals("xy", peerSide.text());
    }

    /** Releases descriptors from a new thread; returns how many were admitted. */
    private int releaseFromAnotherThread(long[][] descriptors) throws InterruptedException {
        int[] admitted = new int[1];
        Thread t = new Thread(() -> {
            for (long[] d : descriptors) {
                if (peerSide.client.release(d[0], d[1], (int) d[2])) {
                    admitted[0]++;
                }
            }
        }, "foreign-release");
        t.start();
        t.join();
        return admitted[0];
    }
}
