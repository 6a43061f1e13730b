package io.fastpath.perf;

import static io.fastpath.wsk.Wsk.AF_INET;
import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SOCK_STREAM;
import static io.fastpath.wsk.Wsk.TCP_FASTOPEN;
import static io.fastpath.wsk.Wsk.TCP_NODELAY;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_WAITALL;
import static io.fastpath.wsk.Wsk.WskSetOption;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.wsk.Irp;
import io.fastpath.wsk.SocketAddressV4;
import io.fastpath.wsk.WskBuf;
import io.fastpath.wsk.WskProvider;
import io.fastpath.wsk.WskSocket;
import java.nio.ByteBuffer;

/**
 * Connection cycles through api-wsk, one at a time, for bench's {@code fastopen} scenario: WskSocket, bind,
 * then either TCP_FASTOPEN and WskConnectEx with the {@code size}-byte request (RFC 7413: the first SYN
 * fetches the cookie, later ones carry the request) or WskConnect and, on its completion, WskSend; then
 * WskReceive (WAITALL) of the echo, WskDisconnect, a WskReceive for the server's end, WskCloseSocket, and the
 * next cycle in the duty cycle after the close completed. Each cycle's time from the connect call to the
 * receive's completion goes into the {@link RttRecorder}.
 *
 * <p>Thread: the client stack's poll thread, which also runs the provider's dispatch ({@link #doWork}); the
 * provider must be registered on it. The IRPs and buffers are reused, and the provider reuses its socket
 * objects (a closed socket serves the next WskSocket call): a cycle allocates nothing in steady state.
 */
final class WskConnectCycles {
    private final WskProvider wsk;
    private final SocketAddressV4 remote;
    private final RttRecorder recorder;
    private final boolean fastOpen;
    private final int size;
    private final ByteBuffer out;
    private final ByteBuffer in;
    private final WskBuf outBuf = new WskBuf();
    private final WskBuf inBuf = new WskBuf();
    private final Irp call = new Irp();
    private final Irp connect = new Irp();
    private final Irp send = new Irp();
    private final Irp receive = new Irp();
    private final Irp end = new Irp();
    private final Irp disconnect = new Irp();
    private final Irp close = new Irp();
    private WskSocket socket;
    private long startedNs;
    private boolean wantNext;
    private volatile boolean stopped;
    private volatile boolean idle;
    private volatile long cycles;

    WskConnectCycles(WskProvider wsk, SocketAddressV4 remote, RttRecorder recorder, boolean fastOpen, int size) {
        this.wsk = wsk;
        this.remote = remote;
        this.recorder = recorder;
        this.fastOpen = fastOpen;
        this.size = size;
        this.out = ByteBuffer.allocateDirect(size);
        this.in = ByteBuffer.allocateDirect(size);
        for (int i = 0; i < size; i++) {
            out.put(i, (byte) i);
        }
        connect.setCompletionRoutine((irp, ctx) -> onConnected(), null);
        send.setCompletionRoutine((irp, ctx) -> check(send, "WskSend"), null);
        receive.setCompletionRoutine((irp, ctx) -> onResponse(), null);
        end.setCompletionRoutine((irp, ctx) -> maybeClose(), null);
        disconnect.setCompletionRoutine((irp, ctx) -> maybeClose(), null);
        close.setCompletionRoutine((irp, ctx) -> onClosed(), null);
    }

    /** Starts the next cycle (poll thread). */
    void next() {
        if (stopped) {
            idle = true;
            return;
        }
        if (wsk.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, null, null, call.reuse())
            != NtStatus.STATUS_SUCCESS) {
            fail("WskSocket: " + call.ioStatus().status().name());
            return;
        }
        socket = (WskSocket) call.ioStatus().informationObject();
        expect(socket.bind(SocketAddressV4.ANY, call.reuse()), "bind");
        expect(socket.controlSocket(WskSetOption, TCP_NODELAY, IPPROTO_TCP, 1, call.reuse()), "TCP_NODELAY");
        startedNs = System.nanoTime();
        if (fastOpen) {
            expect(socket.controlSocket(WskSetOption, TCP_FASTOPEN, IPPROTO_TCP, 1, call.reuse()), "TCP_FASTOPEN");
            startedNs = System.nanoTime();
            socket.connectEx(remote, outBuf.set(out, 0, size), 0, connect.reuse());
        } else {
            socket.connect(remote, connect.reuse());
        }
    }

    private void expect(NtStatus status, String what) {
        if (status != NtStatus.STATUS_SUCCESS) {
            fail(what + ": " + status.name());
        }
    }

    private void check(Irp irp, String what) {
        if (irp.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
            fail(what + ": " + irp.ioStatus().status().name());
        }
    }

    private void onConnected() {
        check(connect, fastOpen ? "WskConnectEx" : "WskConnect");
        if (idle) {
            return;
        }
        if (!fastOpen) {
            socket.send(outBuf.set(out, 0, size), 0, send.reuse());
        }
        socket.receive(inBuf.set(in, 0, size), WSK_FLAG_WAITALL, receive.reuse());
    }

    private void onResponse() {
        check(receive, "WskReceive");
        if (idle) {
            return;
        }
        if (receive.ioStatus().information() != size) {
            fail("WskReceive: " + receive.ioStatus().information() + " of " + size + " bytes");
            return;
        }
        long now = System.nanoTime();
        recorder.record(now - startedNs, now);
        socket.disconnect(null, 0, disconnect.reuse());
        socket.receive(inBuf.set(in, 0, size), 0, end.reuse()); // the server's end: 0 bytes
    }

    /** WskCloseSocket once our FIN is acknowledged and the server's end (0 bytes) was read. */
    private void maybeClose() {
        if (idle || !disconnect.completed() || !end.completed() || close.inProgress()) {
            return;
        }
        check(disconnect, "WskDisconnect");
        check(end, "WskReceive (end)");
        if (!idle && end.ioStatus().information() != 0) {
            fail("more data after the response: " + end.ioStatus().information() + " bytes");
        }
        socket.closeSocket(close.reuse());
    }

    private void onClosed() {
        check(close, "WskCloseSocket");
        socket = null;
        cycles++;
        wantNext = true;
    }

    private void fail(String why) {
        recorder.fail(why);
        idle = true;
    }

    /** The client poll thread's duty cycle: the stack, the provider, and the next cycle when one ended. */
    int doWork(Stack stack) {
        int work = stack.doWork() + wsk.dispatch();
        if (wantNext) {
            wantNext = false;
            next();
            work++;
        }
        return work;
    }

    void stop() {
        stopped = true;
    }

    boolean idle() {
        return idle;
    }

    long cycles() {
        return cycles;
    }
}
