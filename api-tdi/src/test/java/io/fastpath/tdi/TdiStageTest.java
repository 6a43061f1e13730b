package io.fastpath.tdi;

import static io.fastpath.tdi.TdiRig.endpoint;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.IoResult;
import io.fastpath.provider.NtStatus;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link io.fastpath.provider.Irp#asStage()} over TDI: a TDI_CONNECT issued and waited for on a virtual thread
 * (the request queues to the dispatch thread), and the AcceptIrp a ClientEventConnect handler returns with
 * STATUS_MORE_PROCESSING_REQUIRED: the transport completes it, its routine runs, then its stage completes.
 */
class TdiStageTest {
    private static final int PORT = 5301;

    @TempDir
    Path dir;

    @Test
    void aConnectFromAVirtualThreadAndAnAcceptIrpFromAHandler() throws InterruptedException {
        try (TdiRig rig = new TdiRig(dir)) {
            TdiAddress addressB = rig.tdiB.openAddress(0, PORT);
            TdiAddress addressA = rig.tdiA.openAddress(0, 0);
            TdiConnection b = endpoint(rig.tdiB, addressB, null);
            TdiConnection a = endpoint(rig.tdiA, addressA, null);
            List<String> order = new CopyOnWriteArrayList<>();
            Irp accept = new Irp();
            CompletableFuture<IoResult> acceptDone = new CompletableFuture<>();
            Req connectEvent = new Req();
            TdiBuild.setConnectEventHandler(connectEvent.irp, addressB, connectEvent.routine, null,
                (ctx, ip, port, dataLength, data, optLength, opts, out) -> {
                    TdiBuild.accept(accept, b, (i, c) -> order.add("accept routine"), null, null, null);
                    accept.asStage().thenAccept(r -> order.add("accept stage " + r.status().name()))
                        .thenRun(() -> acceptDone.complete(null));
                    out.acceptIrp(accept).connectionContext("b");
                    return NtStatus.STATUS_MORE_PROCESSING_REQUIRED;
                }, null);
            connectEvent.call(rig.tdiB);
            rig.runUntil(connectEvent::done, 5, "listening");

            Irp connect = new Irp();
            IoResult[] connected = {null};
            Thread caller = Thread.ofVirtual().start(() -> {
                TdiBuild.connect(connect, a, null, null, Tdi.TIMEOUT_DEFAULT,
                    new TdiConnectionInformation(TdiRig.B_IP, PORT), null);
                assertEquals(NtStatus.STATUS_PENDING, rig.tdiA.callDriver(connect), "queued from this thread");
                connected[0] = connect.asStage().toCompletableFuture().join();
            });
            rig.runUntil(() -> !caller.isAlive() && acceptDone.isDone(), 10, "connect + accept");
            caller.join();
            assertSame(NtStatus.STATUS_SUCCESS, connected[0].status(), String.valueOf(connected[0]));
            assertTrue(connected[0].isSuccess());
            assertSame(NtStatus.STATUS_SUCCESS, accept.asStage().toCompletableFuture().join().status());
            assertEquals(List.of("accept routine", "accept stage STATUS_SUCCESS"), order,
                "the routine runs first, then the stage");
        }
    }
}
