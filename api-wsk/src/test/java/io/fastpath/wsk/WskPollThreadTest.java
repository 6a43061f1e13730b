package io.fastpath.wsk;

import static io.fastpath.wsk.Wsk.SOL_SOCKET;
import static io.fastpath.wsk.Wsk.SO_WSK_EVENT_CALLBACK;
import static io.fastpath.wsk.Wsk.WSK_EVENT_ACCEPT;
import static io.fastpath.wsk.Wsk.WSK_EVENT_DISCONNECT;
import static io.fastpath.wsk.Wsk.WSK_EVENT_RECEIVE;
import static io.fastpath.wsk.Wsk.WSK_FLAG_AT_DISPATCH_LEVEL;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_LISTEN_SOCKET;
import static io.fastpath.wsk.Wsk.WskSetOption;
import static io.fastpath.wsk.WskTestSockets.bind;
import static io.fastpath.wsk.WskTestSockets.send;
import static io.fastpath.wsk.WskTestSockets.socket;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.tcp.TcpConfig;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import io.fastpath.provider.SizeT;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A provider dispatched on its stack's own poll thread ({@code StackRunner.start(stack, idle,
 * provider.pollThreadAgent())}): events run on that thread with WSK_FLAG_AT_DISPATCH_LEVEL, calls from the
 * test thread return STATUS_PENDING and complete there, and closing detaches it cleanly.
 */
class WskPollThreadTest {
    private static final NtStatus S = NtStatus.STATUS_SUCCESS;

    @TempDir
    Path dir;

    @Test
    void eventsRunOnThePollThreadAtDispatchLevelAndCallsFromElsewhereQueue() {
        try (RingRig rig = new RingRig(dir, TcpConfig.defaults().withTimeWait(TimeUnit.MILLISECONDS.toNanos(50)),
            true)) {
            int[] acceptFlags = {-1};
            int[] receiveFlags = {-1};
            int[] disconnectFlags = {-1};
            Thread[] eventThread = {null};
            StringBuilder got = new StringBuilder();
            WskClientStreamDispatch server = new WskClientStreamDispatch() {
                @Override
                public NtStatus wskAcceptEvent(Object socketContext, int flags, SocketAddressV4 localAddress,
                                          SocketAddressV4 remoteAddress, WskSocket acceptSocket) {
                    acceptFlags[0] = flags;
                    return S;
                }

                @Override
                public NtStatus wskReceiveEvent(Object socketContext, int flags, WskDataIndication chain,
                                           long bytesIndicated, SizeT bytesAccepted) {
                    receiveFlags[0] = flags;
                    eventThread[0] = Thread.currentThread();
                    for (WskDataIndication d = chain; d != null; d = d.next()) {
                        UnsafeBuffer view = new UnsafeBuffer(d.buffer().address() + d.buffer().offset(),
                            d.buffer().length());
                        got.append(view.getStringWithoutLengthAscii(0, view.capacity()));
                    }
                    return S;
                }

                @Override
                public NtStatus wskDisconnectEvent(Object socketContext, int flags) {
                    disconnectFlags[0] = flags;
                    return S;
                }
            };
            // Calls from this thread: B's provider now lives on B's poll thread, so they queue.
            Call create = new Call();
            assertEquals(NtStatus.STATUS_PENDING, rig.wskB.socket(Wsk.AF_INET, Wsk.SOCK_STREAM, Wsk.IPPROTO_TCP,
                WSK_FLAG_LISTEN_SOCKET, null, server, create.irp()));
            rig.await(create, 5, "socket on the poll thread");
            create.assertCompleted(S);
            assertSame(rig.runnerB.thread(), create.completedOn, "completed on B's poll thread");
            WskSocket listener = create.socket();
            Call c = new Call();
            assertEquals(NtStatus.STATUS_PENDING, listener.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK,
                SOL_SOCKET, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, c.irp()));
            rig.await(c, 5, "events");
            c.assertCompleted(S);
            Call listen = new Call();
            listener.bind(new SocketAddressV4(0, 7), listen.irp());
            rig.await(listen, 5, "listen");
            listen.assertCompleted(S);
            WskSocket client = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, null);
            bind(client, SocketAddressV4.ANY);
            Call connect = new Call();
            client.connect(new SocketAddressV4(RingRig.B_IP, 7), connect.irp());
            rig.await(connect, 5, "connect");
            connect.assertCompleted(S);
            send(rig, client, "at dispatch level");
            rig.runUntil(() -> got.length() == 17, 5, "receive event");
            Call disconnect = new Call();
            client.disconnect(null, 0, disconnect.irp());
            rig.runUntil(() -> disconnectFlags[0] != -1, 5, "disconnect event");
            assertEquals("at dispatch level", got.toString());
            assertSame(rig.runnerB.thread(), eventThread[0], "events run on the poll thread");
            assertNotEquals(0, acceptFlags[0] & WSK_FLAG_AT_DISPATCH_LEVEL);
            assertNotEquals(0, receiveFlags[0] & WSK_FLAG_AT_DISPATCH_LEVEL);
            assertEquals(WSK_FLAG_AT_DISPATCH_LEVEL, disconnectFlags[0], "graceful, at dispatch level");
            assertTrue(!rig.wskB.onDispatchThread(), "this thread is not B's dispatch thread");
        }
    }
}
