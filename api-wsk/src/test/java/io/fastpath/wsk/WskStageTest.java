package io.fastpath.wsk;

import static io.fastpath.wsk.Wsk.SOL_SOCKET;
import static io.fastpath.wsk.Wsk.SO_WSK_EVENT_CALLBACK;
import static io.fastpath.wsk.Wsk.WSK_EVENT_ACCEPT;
import static io.fastpath.wsk.Wsk.WskSetOption;
import static io.fastpath.wsk.WskTestSockets.listener;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.IoResult;
import io.fastpath.provider.NtStatus;
import io.fastpath.stack.tcp.TcpConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link io.fastpath.provider.Irp#asStage()} over WSK: callers who block on the stage instead of writing a
 * completion routine, here 1,000 virtual threads at once, each connecting a socket through B's provider (which
 * dispatches on B's poll thread) to a listener on A (dispatched by the test thread) and closing it again.
 */
class WskStageTest {
    private static final int THREADS = 1_000;

    @TempDir
    Path dir;

    @Test
    void thousandVirtualThreadsBlockOnTheirStages() throws InterruptedException {
        try (RingRig rig = new RingRig(dir, TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50)),
            true)) {
            List<WskSocket> accepted = new ArrayList<>();
            WskClientListenDispatch acceptAll = new WskClientListenDispatch() {
                @Override
                public NtStatus wskAcceptEvent(Object socketContext, int flags, SocketAddressV4 localAddress,
                                          SocketAddressV4 remoteAddress, WskSocket acceptSocket) {
                    accepted.add(acceptSocket);
                    return NtStatus.STATUS_SUCCESS;
                }
            };
            WskSocket l = listener(rig, rig.wskA, 7, acceptAll);
            Call events = new Call();
            events.assertInline(l.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, WSK_EVENT_ACCEPT,
                events.irp()), NtStatus.STATUS_SUCCESS);

            AtomicInteger finished = new AtomicInteger();
            Queue<String> failures = new ConcurrentLinkedQueue<>();
            Queue<Thread[]> completedOn = new ConcurrentLinkedQueue<>();
            List<Thread> threads = new ArrayList<>(THREADS);
            for (int t = 0; t < THREADS; t++) {
                threads.add(Thread.ofVirtual().name("caller-" + t).start(() -> {
                    try {
                        Irp irp = new Irp();
                        NtStatus r = rig.wskB.socketConnect(Wsk.SOCK_STREAM, Wsk.IPPROTO_TCP, SocketAddressV4.ANY,
                            new SocketAddressV4(RingRig.A_IP, 7), 0, null, null, irp);
                        assertEquals(NtStatus.STATUS_PENDING, r, "not B's dispatch thread: it queues");
                        Thread caller = Thread.currentThread();
                        IoResult connected = irp.asStage()
                            .whenComplete((x, e) -> completedOn.add(new Thread[] {caller, Thread.currentThread()}))
                            .toCompletableFuture().join();
                        assertSame(NtStatus.STATUS_SUCCESS, connected.status(), connected.toString());
                        WskSocket s = assertInstanceOf(WskSocket.class, connected.informationObject());
                        s.closeSocket(irp.reuse());
                        IoResult closed = irp.asStage().toCompletableFuture().join();
                        assertSame(NtStatus.STATUS_SUCCESS, closed.status(), closed.toString());
                        assertSame(s, connected.informationObject(), "the first result is a copy: reuse kept it");
                    } catch (Throwable e) {
                        failures.add(Thread.currentThread().getName() + ": " + e);
                    } finally {
                        finished.incrementAndGet();
                    }
                }));
            }
            rig.runUntil(() -> finished.get() == THREADS, 60, "all virtual threads done");
            for (Thread t : threads) {
                t.join();
            }
            assertEquals(List.of(), List.copyOf(failures));
            assertEquals(THREADS, completedOn.size());
            // A stage completes on B's dispatch (poll) thread; a caller that attached its action only after that
            // runs it itself (CompletableFuture's rule for a completed stage), never on any other thread.
            int onPollThread = 0;
            for (Thread[] callerAndRunner : completedOn) {
                if (callerAndRunner[1] == rig.runnerB.thread()) {
                    onPollThread++;
                } else {
                    assertSame(callerAndRunner[0], callerAndRunner[1],
                        "a stage's action runs on B's poll thread or, if attached late, on its own caller");
                }
            }
            assertTrue(onPollThread > 0, "stages complete on B's dispatch (poll) thread");
            assertTrue(!accepted.isEmpty(), "A's accept event took connections");
            assertTrue(rig.errors.isEmpty(), rig.errors::toString);
        }
    }
}
