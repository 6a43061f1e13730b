package io.fastpath.ndk;

import io.fastpath.provider.NtStatus;
import static io.fastpath.ndk.NdkConnectionTest.P;
import static io.fastpath.ndk.NdkConnectionTest.S;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.ndk.NdkConnectionTest.Listening;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Messages pipelined both ways (several sends outstanding, several receives posted), of seeded random sizes, so
 * FPDU boundaries fall anywhere in TCP segments and mbufs; with and without loss, reordering and duplication
 * on the link. Every message is checked in order, byte for byte.
 */
class NdkStreamTest {
    private static final int MAX = 9000;
    private static final int DEPTH = 8;

    @TempDir
    Path dir;

    /** One direction's sender and the other side's receiver. */
    private static final class Flow implements NdkQpHandler {
        final NdkQp qp;
        final SplittableRandom sizes;
        final SplittableRandom expected;
        final UnsafeBuffer sendBuf = new UnsafeBuffer(ByteBuffer.allocateDirect(MAX));
        final UnsafeBuffer recvBuf = new UnsafeBuffer(ByteBuffer.allocateDirect(DEPTH * MAX));
        int sent;
        int sendsDone;
        int received;
        int failures;
        String firstFailure;

        Flow(NdkAdapter adapter, long sendSeed, long receiveSeed) {
            qp = adapter.createQp(this);
            sizes = new SplittableRandom(sendSeed);
            expected = new SplittableRandom(receiveSeed);
        }

        void postAll() {
            for (int i = 0; i < DEPTH; i++) {
                assertEquals(S, qp.postReceive(recvBuf.addressOffset() + (long) i * MAX, MAX, i));
            }
        }

        /** Sends while the QP has room. */
        void pump(int total) {
            while (sent < total && sent - sendsDone < DEPTH - 1) {
                int n = sizes.nextInt(MAX + 1);
                for (int i = 0; i < n; i++) {
                    sendBuf.putByte(i, (byte) (sent + i * 13));
                }
                if (n >= 4) {
                    sendBuf.putInt(0, sent);
                }
                NtStatus r = qp.send(sendBuf.addressOffset(), n, null);
                if (r != S) {
                    fail("send " + sent + ": " + r);
                    return;
                }
                sent++;
            }
        }

        void fail(String what) {
            if (failures++ == 0) {
                firstFailure = what;
            }
        }

        @Override
        public void onSendComplete(Object requestContext, NtStatus status, int bytes) {
            if (status != S) {
                fail("send completion " + status);
            }
            sendsDone++;
        }

        @Override
        public void onReceiveComplete(Object requestContext, NtStatus status, int bytes) {
            int slot = (Integer) requestContext;
            int n = expected.nextInt(MAX + 1);
            if (status != S || bytes != n) {
                fail("message " + received + ": " + status + " " + bytes + " bytes, expected " + n);
            } else {
                int at = slot * MAX;
                for (int i = n >= 4 ? 4 : 0; i < n; i++) {
                    if (recvBuf.getByte(at + i) != (byte) (received + i * 13)) {
                        fail("message " + received + " byte " + i);
                        break;
                    }
                }
                if (n >= 4 && recvBuf.getInt(at) != received) {
                    fail("message " + recvBuf.getInt(at) + " arrived as number " + received);
                }
            }
            received++;
            qp.postReceive(recvBuf.addressOffset() + (long) slot * MAX, MAX, slot);
        }
    }

    private void run(NdkRig.Options o, int total) {
        try (NdkRig rig = new NdkRig(dir, o)) {
            Listening l = new Listening(rig, 7500);
            // Each side's sizes come from its own seed; each receiver replays the other side's.
            Flow aQp = new Flow(rig.ndkA, 1, 2);
            Flow bQp = new Flow(rig.ndkB, 2, 1);
            aQp.postAll();
            bQp.postAll();
            NdkConnector c = rig.ndkA.createConnector();
            Call connect = new Call();
            assertEquals(P, connect.start(() -> c.connect(aQp.qp, null, l.address, 1, 1, null, 0, connect, null)));
            rig.runUntil(() -> l.requests.size() == 1, 10, "request");
            Call accept = new Call();
            assertEquals(P, accept.start(() -> l.requests.get(0).accept(bQp.qp, 1, 1, null, 0, null, null, accept,
                null)));
            rig.await(connect, "connect");
            connect.assertCompleted(S);
            Call complete = new Call();
            assertEquals(P, complete.start(() -> c.completeConnect(null, null, complete, null)));
            rig.runUntil(() -> complete.done() && accept.done(), 10, "complete");
            long start = System.nanoTime();
            rig.runUntil(() -> {
                aQp.pump(total);
                bQp.pump(total);
                return aQp.failures + bQp.failures > 0 || (aQp.received == total && bQp.received == total);
            }, 60, "stream");
            assertEquals(null, aQp.firstFailure);
            assertEquals(null, bQp.firstFailure);
            System.out.printf("%d messages each way (random 0-%d bytes, %d in flight) in %.0f ms%s%n", total, MAX,
                DEPTH - 1, (System.nanoTime() - start) / 1e6, rig.faults == null ? ""
                    : ", faults: dropped " + (rig.faults.droppedRx() + rig.faults.droppedTx()) + " reordered "
                    + (rig.faults.reorderedRx() + rig.faults.reorderedTx()));
            assertTrue(rig.faults == null || rig.faults.droppedRx() + rig.faults.droppedTx() > 0, "faults happened");
        }
    }

    @Test
    void pipelinedRandomSizeMessagesArriveInOrderAndIntact_rfc5044_s4() {
        run(new NdkRig.Options(), 3000);
    }

    @Test
    void pipelinedMessagesSurviveLossReorderingAndDuplication() {
        NdkRig.Options o = new NdkRig.Options();
        o.faultsA = 0.01;
        run(o, 800);
    }
}
