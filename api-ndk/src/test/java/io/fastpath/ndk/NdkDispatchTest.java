package io.fastpath.ndk;

import io.fastpath.provider.NtStatus;
import static io.fastpath.ndk.NdkConnectionTest.P;
import static io.fastpath.ndk.NdkConnectionTest.S;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.ndk.NdkConnectionTest.Listening;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dispatch model: calls only on the dispatch thread, and no allocation on it in steady state. */
class NdkDispatchTest {
    @TempDir
    Path dir;

    /** Echoes every message on B and counts round trips on A, without allocating. */
    private static final class Echo {
        final UnsafeBuffer aBuf = new UnsafeBuffer(ByteBuffer.allocateDirect(16384));
        final UnsafeBuffer bBuf = new UnsafeBuffer(ByteBuffer.allocateDirect(16384));
        final Object context = new Object();
        NdkQp qpA;
        NdkQp qpB;
        int roundTrips;
        int failures;

        final NdkQpHandler a = new NdkQpHandler() {
            @Override
            public void onSendComplete(Object requestContext, NtStatus status, int bytes) {
                if (status != S) {
                    failures++;
                }
            }

            @Override
            public void onReceiveComplete(Object requestContext, NtStatus status, int bytes) {
                if (status != S || bytes != 16384) {
                    failures++;
                }
                roundTrips++;
                qpA.postReceive(aBuf.addressOffset(), 16384, context);
            }
        };

        final NdkQpHandler b = new NdkQpHandler() {
            @Override
            public void onSendComplete(Object requestContext, NtStatus status, int bytes) {
                if (status != S) {
                    failures++;
                }
            }

            @Override
            public void onReceiveComplete(Object requestContext, NtStatus status, int bytes) {
                qpB.send(bBuf.addressOffset(), bytes, context);
                qpB.postReceive(bBuf.addressOffset(), 16384, context);
            }
        };

        void run(NdkRig rig, int n) {
            int target = roundTrips + n;
            while (roundTrips < target) {
                int before = roundTrips;
                if (qpA.send(aBuf.addressOffset(), 16384, context) != S) {
                    failures++;
                }
                while (roundTrips == before && failures == 0) {
                    rig.dispatch();
                }
                assertEquals(0, failures);
            }
        }
    }

    @Test
    void steadyStateMessagesAllocateNothingOnTheDispatchThread() {
        steadyState(false, 7300);
    }

    @Test
    void steadyStateMessagesWithCrcAllocateNothingOnTheDispatchThread_rfc5044_s4_1() {
        steadyState(true, 7301);
    }

    private void steadyState(boolean crc, int port) {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        NdkRig.Options o = new NdkRig.Options();
        o.infoA = NdkAdapterInfo.defaults().withCrc(crc);
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, port);
            Echo echo = new Echo();
            echo.qpA = rig.ndkA.createQp(echo.a);
            echo.qpB = rig.ndkB.createQp(echo.b);
            echo.qpA.postReceive(echo.aBuf.addressOffset(), 16384, echo.context);
            echo.qpB.postReceive(echo.bBuf.addressOffset(), 16384, echo.context);
            NdkConnector c = rig.ndkA.createConnector();
            Call connect = new Call();
            assertEquals(P, connect.start(() -> c.connect(echo.qpA, null, l.address, 1, 1, null, 0, connect, null)));
            rig.runUntil(() -> l.requests.size() == 1, 5, "request");
            Call accept = new Call();
            assertEquals(P, accept.start(() -> l.requests.get(0).accept(echo.qpB, 1, 1, null, 0, null, null, accept,
                null)));
            rig.await(connect, "connect");
            Call complete = new Call();
            assertEquals(P, complete.start(() -> c.completeConnect(null, null, complete, null)));
            rig.runUntil(() -> complete.done() && accept.done(), 5, "complete");
            assertEquals(crc, c.crcInUse());
            assertEquals(crc, l.requests.get(0).crcInUse());
            echo.run(rig, 300); // warm up
            // A clean window of 500 round trips proves the steady state; something one-off (a late JIT
            // recompilation, a lazily grown array) may land in the first: allow up to five, the last must be 0.
            java.util.List<Long> windows = new java.util.ArrayList<>();
            for (int w = 0; w < 5 && (windows.isEmpty() || windows.get(windows.size() - 1) != 0); w++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                echo.run(rig, 500);
                windows.add(threads.getCurrentThreadAllocatedBytes() - before);
            }
            System.out.printf("windows of 500 round trips of 16 KiB messages (CRC %s), bytes allocated on the"
                + " dispatch thread: %s%n", crc ? "on" : "off", windows);
            assertEquals(0, windows.get(windows.size() - 1), "no allocation per message: " + windows);
        }
    }

    @Test
    void synchronousCallsFromAnotherThreadAreRefusedAndExecuteRunsThemOnTheDispatchThread() throws Exception {
        try (NdkRig rig = new NdkRig(dir)) {
            NdkConnector connector = rig.ndkB.createConnector();
            Throwable t = CompletableFuture.supplyAsync(() -> {
                try {
                    connector.getConnectionData(new NdkConnectionData(), null, 0);
                    return null;
                } catch (IllegalStateException e) {
                    return e;
                }
            }).get(5, TimeUnit.SECONDS);
            assertTrue(t instanceof IllegalStateException, String.valueOf(t));
            Thread[] ranOn = new Thread[1];
            CompletableFuture.runAsync(() -> assertTrue(rig.ndkB.execute(() -> ranOn[0] = Thread.currentThread())))
                .get(5, TimeUnit.SECONDS);
            rig.runUntil(() -> ranOn[0] != null, 5, "task");
            assertEquals(Thread.currentThread(), ranOn[0]);
            Call c = new Call();
            rig.ndkB.execute(() -> assertThrows(IllegalStateException.class, rig.ndkB::dispatch));
            rig.runFor(20);
            assertEquals(0, c.completions);
        }
    }

    /**
     * Both adapters on their own dispatcher threads; another thread makes the asynchronous calls and QP posts:
     * each returns PENDING (SUCCESS for posts) and completes exactly once, on the dispatch thread.
     */
    @Test
    void asynchronousCallsFromAnyThreadAreQueuedAndCompleteOnTheDispatchThread() throws Exception {
        try (NdkRig rig = new NdkRig(dir)) {
            rig.ndkA.startDispatcherThread();
            rig.ndkB.startDispatcherThread();
            java.util.concurrent.ConcurrentHashMap<String, Thread> completedOn = new java.util.concurrent.ConcurrentHashMap<>();
            java.util.concurrent.ConcurrentHashMap<String, Integer> statuses = new java.util.concurrent.ConcurrentHashMap<>();
            java.util.concurrent.atomic.AtomicInteger completions = new java.util.concurrent.atomic.AtomicInteger();
            NdkRequestCompletion record = (ctx, status) -> {
                completions.incrementAndGet();
                completedOn.put((String) ctx, Thread.currentThread());
                statuses.merge((String) ctx, status.code(), (x, y) -> -1); // -1 marks a second completion
            };
            java.util.concurrent.LinkedBlockingQueue<NdkConnector> requests = new java.util.concurrent.LinkedBlockingQueue<>();
            NdkListener listener = rig.ndkB.createListener((ctx, c) -> requests.add(c), null);
            assertEquals(P, listener.listen(new SockAddrIn(0, 7301), record, "listen"));
            await(statuses, "listen");
            UnsafeBuffer aRx = new UnsafeBuffer(ByteBuffer.allocateDirect(64));
            UnsafeBuffer bRx = new UnsafeBuffer(ByteBuffer.allocateDirect(64));
            UnsafeBuffer msg = new UnsafeBuffer(ByteBuffer.allocateDirect(64));
            java.util.concurrent.LinkedBlockingQueue<String> qpEvents = new java.util.concurrent.LinkedBlockingQueue<>();
            NdkQpHandler log = new NdkQpHandler() {
                @Override
                public void onSendComplete(Object requestContext, NtStatus status, int bytes) {
                    qpEvents.add("send " + requestContext + " " + status + " " + bytes);
                }

                @Override
                public void onReceiveComplete(Object requestContext, NtStatus status, int bytes) {
                    qpEvents.add("receive " + requestContext + " " + status + " " + bytes);
                }
            };
            NdkQp qpA = rig.ndkA.createQp(log);
            NdkQp qpB = rig.ndkB.createQp(log);
            assertEquals(S, qpA.postReceive(aRx.addressOffset(), 64, "a"));
            assertEquals(S, qpB.postReceive(bRx.addressOffset(), 64, "b"));
            NdkConnector c = rig.ndkA.createConnector();
            MemorySegment pd = MemorySegment.ofArray("from a thread".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            assertEquals(P, c.connect(qpA, null, new SockAddrIn(NdkRig.B_IP, 7301), 3, 3, pd, (int) pd.byteSize(), record,
                "connect"));
            pd.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 'X'); // copied when the call started
            NdkConnector s = requests.poll(10, TimeUnit.SECONDS);
            assertEquals(P, s.accept(qpB, 3, 3, null, 0, null, null, record, "accept"));
            await(statuses, "connect");
            assertEquals(P, c.completeConnect(null, null, record, "complete"));
            await(statuses, "complete");
            await(statuses, "accept");
            msg.putLong(0, 0x1122334455667788L);
            assertEquals(S, qpA.send(msg.addressOffset(), 8, "m1"));
            // A's send completion and B's receive completion come from two dispatcher threads: either order.
            java.util.Set<String> both = new java.util.HashSet<>();
            both.add(qpEvents.poll(10, TimeUnit.SECONDS));
            both.add(qpEvents.poll(10, TimeUnit.SECONDS));
            assertEquals(java.util.Set.of("send m1 STATUS_SUCCESS 8", "receive b STATUS_SUCCESS 8"), both);
            assertEquals(0x1122334455667788L, bRx.getLong(0));
            assertEquals(S, qpA.send(msg.addressOffset(), 100_000, "too big"));
            assertEquals("send too big STATUS_INVALID_BUFFER_SIZE 0", qpEvents.poll(10, TimeUnit.SECONDS));
            assertEquals(P, c.disconnect(record, "disconnect a"));
            assertEquals(P, s.disconnect(record, "disconnect b"));
            await(statuses, "disconnect a");
            await(statuses, "disconnect b");
            Thread.sleep(50);
            for (String k : new String[] {"listen", "connect", "accept", "complete", "disconnect a", "disconnect b"}) {
                assertEquals(0, statuses.get(k), k + " completed once with STATUS_SUCCESS");
                assertTrue(completedOn.get(k).getName().contains("ndk-dispatch")
                    || completedOn.get(k) != Thread.currentThread(), k + " completed on a dispatch thread");
                assertTrue(completedOn.get(k) != Thread.currentThread());
            }
            assertEquals(6, completions.get());
            assertEquals(NtStatus.STATUS_CONNECTION_INVALID, bad(rig, s), "accept after disconnect, via the completion");
            Reference.reachabilityFence(aRx); // posted by address until the disconnect flushed it
        }
    }

    /** A cross-thread call that fails on the dispatch thread still completes once, with the failure. */
    private static NtStatus bad(NdkRig rig, NdkConnector dead) throws Exception {
        CompletableFuture<NtStatus> status = new CompletableFuture<>();
        MemorySegment big = MemorySegment.ofArray(new byte[600]);
        assertEquals(P, dead.accept(rig.ndkB.createQp(new NdkQpHandler() {
            @Override
            public void onSendComplete(Object requestContext, NtStatus s, int bytes) {
            }

            @Override
            public void onReceiveComplete(Object requestContext, NtStatus s, int bytes) {
            }
        }), 1, 1, big, 600, null, null, (ctx, s) -> status.complete(s), null));
        return status.get(10, TimeUnit.SECONDS);
    }

    private static void await(java.util.Map<String, Integer> statuses, String key) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!statuses.containsKey(key)) {
            assertTrue(System.nanoTime() < end, key + " not completed");
            Thread.sleep(1);
        }
        assertEquals("STATUS_SUCCESS", NtStatus.name(statuses.get(key)), key);
    }
}
