package io.fastpath.wsk;

import static io.fastpath.wsk.WskTestSockets.connect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import io.fastpath.wsk.WskTestSockets.Connected;
import java.lang.management.ManagementFactory;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The mechanics under every call: nesting of inline completions, and no allocation in steady state. */
class WskDispatchTest {
    @TempDir
    Path dir;

    /**
     * A routine that starts the next receive, which completes inline, which starts the next... (64 KiB
     * queued, read 16 bytes at a time: 4096 completions). Inline completions nest at most 16 deep; the rest
     * run from dispatch(), and every byte arrives in order.
     */
    @Test
    void inlineCompletionsNestOnlySoDeepAndTheRestRunFromDispatch() {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            final int total = 64 * 1024;
            ByteBuffer data = ByteBuffer.allocateDirect(total);
            for (int i = 0; i < total; i++) {
                data.put(i, WskTestSockets.pattern(i));
            }
            Call send = new Call();
            p.server().send(new WskBuf().set(data, 0, total), 0, send.irp());
            rig.await(send, 5, "send");
            rig.runUntil(() -> queued(p.client()) == total, 5, "all queued at the client");
            ByteBuffer small = ByteBuffer.allocateDirect(16);
            WskBuf buf = new WskBuf().set(small, 0, 16);
            int[] depth = {0};
            int[] maxDepth = {0};
            long[] received = {0};
            long[] mismatches = {0};
            Irp irp = new Irp();
            irp.setCompletionRoutine((i, c) -> {
                int n = (int) i.ioStatus().information();
                for (int k = 0; k < n; k++) {
                    if (small.get(k) != WskTestSockets.pattern(received[0] + k)) {
                        mismatches[0]++;
                    }
                }
                received[0] += n;
                if (received[0] < total) {
                    depth[0]++;
                    maxDepth[0] = Math.max(maxDepth[0], depth[0]);
                    p.client().receive(buf, 0, i.reuse());
                    depth[0]--;
                }
            }, null);
            assertEquals(NtStatus.STATUS_SUCCESS, p.client().receive(buf, 0, irp));
            rig.runUntil(() -> received[0] == total, 5, "read back");
            assertEquals(0, mismatches[0]);
            assertTrue(maxDepth[0] <= 16, "nesting depth " + maxDepth[0]);
        }
    }

    /**
     * A buffer the caller names only through its WskBuf (no reference of its own kept) stays alive until the
     * IRP completes: the IRP holds the WskBuf's ByteBuffer. Before, the call kept only its address, and a GC
     * freed the memory of sends still waiting behind a full send buffer while the stack had yet to copy them
     * (their first bytes then came back as the freed malloc chunks' list pointers). The GC is forced here.
     */
    @Test
    void aBufferNamedOnlyByItsWskBufStaysAliveUntilTheIrpCompletes() throws InterruptedException {
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            // More than the send buffer and B's window together, B not reading yet: the sends after it wait.
            final int fill = 4 << 20;
            final int pieces = 16;
            final int piece = 8 << 10;
            final long total = fill + (long) pieces * piece;
            ByteBuffer filler = patterned(0, fill);
            Call first = new Call();
            assertEquals(NtStatus.STATUS_PENDING, p.client().send(new WskBuf().set(filler, 0, fill), 0, first.irp()));
            Call[] sends = new Call[pieces];
            for (int k = 0; k < pieces; k++) {
                sends[k] = new Call();
                assertEquals(NtStatus.STATUS_PENDING,
                    p.client().send(onlyItsWskBuf(fill + (long) k * piece, piece), 0, sends[k].irp()));
            }
            rig.runFor(50);
            assertTrue(!sends[pieces - 1].done(), "the last send still waits for room");
            System.gc();
            Thread.sleep(200); // the Cleaner frees collected buffers' memory on its own thread
            ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
            WskBuf inBuf = new WskBuf().set(in, 0, in.capacity());
            long received = 0;
            long firstWrong = -1;
            int wrong = 0;
            Call receive = new Call();
            while (received < total) {
                p.server().receive(inBuf, 0, receive.irp());
                rig.await(receive, 10, "receive at " + received);
                receive.assertCompleted(NtStatus.STATUS_SUCCESS);
                int n = (int) receive.information();
                assertTrue(n > 0, "the stream ended early at " + received);
                for (int k = 0; k < n; k++) {
                    if (in.get(k) != WskTestSockets.pattern(received + k)) {
                        wrong++;
                        firstWrong = firstWrong < 0 ? received + k : firstWrong;
                    }
                }
                received += n;
            }
            rig.runUntil(() -> first.done() && sends[pieces - 1].done(), 5, "sends complete");
            for (Call c : sends) {
                c.assertCompleted(NtStatus.STATUS_SUCCESS);
            }
            assertEquals(0, wrong, "bytes wrong, the first at stream offset " + firstWrong);
            Reference.reachabilityFence(filler);
        }
    }

    /** A WskBuf over a new direct buffer holding the stream's bytes from {@code start}; nothing else refers to it. */
    private static WskBuf onlyItsWskBuf(long start, int length) {
        return new WskBuf().set(patterned(start, length), 0, length);
    }

    private static ByteBuffer patterned(long start, int length) {
        ByteBuffer b = ByteBuffer.allocateDirect(length);
        for (int i = 0; i < length; i++) {
            b.put(i, WskTestSockets.pattern(start + i));
        }
        return b;
    }

    /**
     * Once sockets and IRPs exist and have warmed up, send → receive → send round trips (64 KiB each way,
     * through the client's and the server's WSK providers, both dispatched on this thread) allocate nothing on
     * it: IRPs are the caller's, queues intrusive, maps primitive-keyed.
     */
    @Test
    void steadyStateSendAndReceiveAllocateNothingOnTheDispatchThread() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (RingRig rig = new RingRig(dir)) {
            Connected p = connect(rig, 7, null, null);
            Echo echo = new Echo(p);
            // Warm up: JIT and lazy linkage, and the one-off growth of descriptor rings and pools (a few hundred
            // bytes in the first couple of hundred round trips).
            echo.run(rig, 300);
            // A window of 500 round trips that allocates nothing proves the steady state. Something one-off can
            // still land in the first window (measured: 272 bytes, once, in some runs; a late JIT recompilation
            // or a lazily grown array); allow up to five windows and require the last to be clean. Per-call or
            // per-packet allocation would show in every window (500 round trips x even 8 bytes).
            List<Long> windows = new ArrayList<>();
            for (int w = 0; w < 5 && (windows.isEmpty() || windows.get(windows.size() - 1) != 0); w++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                echo.run(rig, 500);
                windows.add(threads.getCurrentThreadAllocatedBytes() - before);
            }
            System.out.printf("windows of 500 round trips of 64 KiB, bytes allocated on the dispatch thread: %s%n",
                windows);
            assertEquals(0, windows.get(windows.size() - 1), "no allocation per call or per packet: " + windows);
        }
    }

    /** Client sends 64 KiB, server echoes it back with one receive/send IRP pair, client reads it. Reused IRPs. */
    private static final class Echo {
        static final int SIZE = 64 * 1024;
        final Connected p;
        final ByteBuffer out = ByteBuffer.allocateDirect(SIZE);
        final ByteBuffer in = ByteBuffer.allocateDirect(SIZE);
        final ByteBuffer serverMemory = ByteBuffer.allocateDirect(SIZE);
        final WskBuf outBuf = new WskBuf();
        final WskBuf inBuf = new WskBuf();
        final WskBuf serverBuf = new WskBuf();
        final Irp clientSend = new Irp();
        final Irp clientReceive = new Irp();
        final Irp serverReceive = new Irp();
        final Irp serverSend = new Irp();
        long got;
        int rounds;
        int target;
        boolean failed;

        Echo(Connected p) {
            this.p = p;
            clientSend.setCompletionRoutine((i, c) -> {
                check(i);
            }, null);
            clientReceive.setCompletionRoutine((i, c) -> {
                if (!check(i)) {
                    return;
                }
                got += i.ioStatus().information();
                if (got == SIZE) {
                    got = 0;
                    rounds++;
                    if (rounds < target) {
                        sendRound();
                    }
                }
                if (rounds < target) {
                    p.client().receive(inBuf.set(in, 0, SIZE), 0, i.reuse());
                }
            }, null);
            serverReceive.setCompletionRoutine((i, c) -> {
                if (check(i)) {
                    p.server().send(serverBuf.set(serverMemory, 0, (int) i.ioStatus().information()), 0,
                        serverSend.reuse());
                }
            }, null);
            serverSend.setCompletionRoutine((i, c) -> {
                if (check(i)) {
                    p.server().receive(serverBuf.set(serverMemory, 0, SIZE), 0, serverReceive.reuse());
                }
            }, null);
        }

        private boolean check(Irp i) {
            if (i.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
                failed = true;
                return false;
            }
            return true;
        }

        void sendRound() {
            p.client().send(outBuf.set(out, 0, SIZE), 0, clientSend.reuse());
        }

        void run(RingRig rig, int n) {
            rounds = 0;
            target = n;
            if (!serverReceive.inProgress() && !serverSend.inProgress()) {
                p.server().receive(serverBuf.set(serverMemory, 0, SIZE), 0, serverReceive.reuse());
            }
            p.client().receive(inBuf.set(in, 0, SIZE), 0, clientReceive.reuse());
            sendRound();
            // No deadline for the whole run, which a loaded machine (the test thread and both poll threads may
            // share one CPU with others) stretches to minutes: it fails only when no round trip completes for 20 s.
            // Idle rounds yield the CPU to the poll threads, as RingRig.runUntil does.
            int progress = rounds;
            long stalledAt = System.nanoTime() + 20_000_000_000L;
            while (rounds < target && !failed) {
                if (rounds != progress) {
                    progress = rounds;
                    stalledAt = System.nanoTime() + 20_000_000_000L;
                } else if (System.nanoTime() - stalledAt > 0) {
                    break;
                }
                if (rig.dispatch() == 0) {
                    Thread.yield();
                }
            }
            if (rounds != target) {
                throw new AssertionError("rounds done " + rounds + " of " + target + ", no progress for 20 s, failed "
                    + failed);
            }
        }
    }

    private static long queued(WskSocket s) {
        Call q = new Call();
        s.controlSocket(Wsk.WskIoctl, Wsk.SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, q.irp());
        return q.information();
    }
}
