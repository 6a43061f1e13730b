package io.fastpath.wsk;

import static io.fastpath.wsk.Wsk.AF_INET;
import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SOCK_STREAM;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_LISTEN_SOCKET;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fastpath.provider.NtStatus;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Small synchronous helpers over the asynchronous calls, for tests driven from the dispatch thread. */
final class WskTestSockets {
    private WskTestSockets() {
    }

    /** WskSocket, completed inline (we are on the dispatch thread). */
    static WskSocket socket(WskProvider p, int category, WskClientDispatch dispatch) {
        Call c = new Call();
        NtStatus r = p.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, category, null, dispatch, c.irp());
        c.assertInline(r, NtStatus.STATUS_SUCCESS);
        return c.socket();
    }

    static void bind(WskSocket s, SocketAddressV4 address) {
        Call c = new Call();
        c.assertInline(s.bind(address, c.irp()), NtStatus.STATUS_SUCCESS);
    }

    /** A listen socket bound to 0.0.0.0:port, listening. */
    static WskSocket listener(RingRig rig, WskProvider p, int port, WskClientListenDispatch dispatch) {
        WskSocket l = socket(p, WSK_FLAG_LISTEN_SOCKET, dispatch);
        Call c = new Call();
        assertEquals(NtStatus.STATUS_PENDING, l.bind(new SocketAddressV4(0, port), c.irp()));
        rig.await(c, 5, "listen");
        c.assertCompleted(NtStatus.STATUS_SUCCESS);
        return l;
    }

    /** A connected pair: client on A, server connection on B (taken with WskAccept), and B's listener. */
    record Connected(WskSocket client, WskSocket server, WskSocket listener) {
    }

    static Connected connect(RingRig rig, int port, WskClientConnectionDispatch clientDispatch,
                             WskClientConnectionDispatch serverDispatch) {
        WskSocket l = listener(rig, rig.wskB, port, null);
        Call accept = new Call();
        assertEquals(NtStatus.STATUS_PENDING, l.accept(0, "server", serverDispatch, accept.irp()));
        WskSocket c = socket(rig.wskA, WSK_FLAG_CONNECTION_SOCKET, clientDispatch);
        bind(c, SocketAddressV4.ANY);
        Call connect = new Call();
        assertEquals(NtStatus.STATUS_PENDING, c.connect(new SocketAddressV4(RingRig.B_IP, port), connect.irp()));
        rig.runUntil(() -> accept.done() && connect.done(), 5, "connect");
        connect.assertCompleted(NtStatus.STATUS_SUCCESS);
        accept.assertCompleted(NtStatus.STATUS_SUCCESS);
        return new Connected(c, accept.socket(), l);
    }

    static ByteBuffer direct(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocateDirect(bytes.length);
        b.put(0, bytes);
        return b;
    }

    /** Sends text and waits for the send to complete with all bytes. */
    static void send(RingRig rig, WskSocket s, String text) {
        ByteBuffer b = direct(text);
        Call c = new Call();
        assertEquals(NtStatus.STATUS_PENDING, s.send(new WskBuf().set(b, 0, b.capacity()), 0, c.irp()));
        rig.await(c, 5, "send");
        c.assertCompleted(NtStatus.STATUS_SUCCESS);
        assertEquals(b.capacity(), c.information());
    }

    /** A receive in progress (or done inline) into its own buffer. */
    static final class Receive {
        final Call call = new Call();
        final ByteBuffer memory;
        final NtStatus returned;

        Receive(WskSocket s, int size, int flags) {
            memory = ByteBuffer.allocateDirect(Math.max(size, 1));
            returned = s.receive(new WskBuf().set(memory, 0, size), flags, call.irp());
        }

        String text() {
            byte[] bytes = new byte[(int) call.information()];
            memory.get(0, bytes);
            return new String(bytes, StandardCharsets.US_ASCII);
        }
    }

    /** The byte at position {@code i} of the tests' deterministic stream. */
    static byte pattern(long i) {
        return (byte) (i * 31 + (i >>> 8) * 7 + (i >>> 16));
    }

    static String name(int status) {
        return NtStatus.name(status);
    }
}
