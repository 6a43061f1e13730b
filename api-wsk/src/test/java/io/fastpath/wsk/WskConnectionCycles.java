package io.fastpath.wsk;

import static io.fastpath.wsk.Wsk.AF_INET;
import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SOCK_STREAM;
import static io.fastpath.wsk.Wsk.TCP_NODELAY;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;
import static io.fastpath.wsk.Wsk.WSK_FLAG_WAITALL;
import static io.fastpath.wsk.Wsk.WskSetOption;

import io.fastpath.provider.NtStatus;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * Connection cycles through both WSK providers of a {@link RingRig}, one at a time, driven from the test thread
 * (both providers' dispatch thread): the client (A) makes a socket, binds it to 0.0.0.0:0, sets TCP_NODELAY,
 * connects, sends {@link #SIZE} bytes, reads their echo (WAITALL), disconnects, reads the server's end and
 * closes; the server (B) is an EchoServer on B's stack (listener null), or takes the connection with a WskAccept (with LocalAddress / RemoteAddress
 * out-parameters), reads the request, echoes it, reads the client's end, disconnects and closes. Every IRP,
 * buffer and address is made once here, so what a cycle allocates is what the providers allocate. Each cycle's
 * bytes differ (the cycle number), so data left over from an earlier connection would show as a mismatch.
 */
final class WskConnectionCycles {
    static final int SIZE = 64;

    private final RingRig rig;
    private final SocketAddressV4 remote;
    private final WskSocket listener;
    private final ByteBuffer out = ByteBuffer.allocateDirect(SIZE);
    private final ByteBuffer in = ByteBuffer.allocateDirect(SIZE);
    private final ByteBuffer serverMemory = ByteBuffer.allocateDirect(SIZE);
    private final WskBuf outBuf = new WskBuf();
    private final WskBuf inBuf = new WskBuf();
    private final WskBuf serverBuf = new WskBuf();
    private final SocketAddressV4Out acceptedLocal = new SocketAddressV4Out();
    private final SocketAddressV4Out acceptedRemote = new SocketAddressV4Out();
    // client
    private final Irp call = new Irp();
    private final Irp connect = new Irp();
    private final Irp send = new Irp();
    private final Irp receive = new Irp();
    private final Irp end = new Irp();
    private final Irp disconnect = new Irp();
    private final Irp close = new Irp();
    // server
    private final Irp accept = new Irp();
    private final Irp serverReceive = new Irp();
    private final Irp serverSend = new Irp();
    private final Irp serverEnd = new Irp();
    private final Irp serverDisconnect = new Irp();
    private final Irp serverClose = new Irp();

    WskSocket client;
    WskSocket server;
    private boolean clientDone;
    private boolean serverDone;
    long cycles;
    /** The first failure, or null. */
    String failure;
    /** The socket objects of the last cycle (to see them come back). */
    WskSocket lastClient;
    WskSocket lastServer;
    /** The socket objects of the cycle before the last. */
    WskSocket lastClientBefore;
    WskSocket lastServerBefore;
    int lastAcceptedLocalIp;
    int lastAcceptedLocalPort;
    int lastAcceptedRemotePort;
    /** The slowest cycle so far, in ns (a time-out then tells slow progress from one stuck cycle). */
    long slowestCycleNs;

    WskConnectionCycles(RingRig rig, WskSocket listener, int port) {
        this.rig = rig;
        this.listener = listener;
        this.remote = new SocketAddressV4(RingRig.B_IP, port);
        connect.setCompletionRoutine((irp, ctx) -> onConnected(), null);
        send.setCompletionRoutine((irp, ctx) -> check(send, "WskSend"), null);
        receive.setCompletionRoutine((irp, ctx) -> onResponse(), null);
        end.setCompletionRoutine((irp, ctx) -> maybeClose(), null);
        disconnect.setCompletionRoutine((irp, ctx) -> maybeClose(), null);
        close.setCompletionRoutine((irp, ctx) -> onClientClosed(), null);
        accept.setCompletionRoutine((irp, ctx) -> onAccepted(), null);
        serverReceive.setCompletionRoutine((irp, ctx) -> onRequest(), null);
        serverSend.setCompletionRoutine((irp, ctx) -> check(serverSend, "server WskSend"), null);
        serverEnd.setCompletionRoutine((irp, ctx) -> onServerEnd(), null);
        serverDisconnect.setCompletionRoutine((irp, ctx) -> onServerDisconnected(), null);
        serverClose.setCompletionRoutine((irp, ctx) -> onServerClosed(), null);
    }

    /** Runs {@code n} more cycles, failing after {@code seconds}; allocates nothing itself. */
    void run(int n, long seconds) {
        long target = cycles + n;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        long first = cycles;
        while (cycles < target && failure == null) {
            long began = System.nanoTime();
            start();
            while (!(clientDone && serverDone) && failure == null) {
                if (rig.dispatch() == 0) {
                    long now = System.nanoTime();
                    if (now > deadline) {
                        throw new AssertionError("cycle " + cycles + " not done in " + seconds + " s ("
                            + (cycles - first) + " of " + n + " done, this one for "
                            + (now - began) / 1_000_000 + " ms, the slowest before it "
                            + slowestCycleNs / 1_000_000 + " ms): client "
                            + (client == null ? null : client.describe())
                            + ", server " + server + "; IRPs " + irps() + "; events lost " + rig.eventsLost() + "; errors " + rig.errors + "\nA: " + rig.a.tcp().describe() + "\nB: " + rig.b.tcp().describe());
                    }
                    // The stacks' poll threads may share this CPU (tests run on one): a pure spin starves them
                    // (measured on one loaded CPU: every cycle 10-460 ms, against 85% under 1 ms with the yield);
                    // it misses no event, it only leaves the poll threads no time to post them.
                    Thread.yield();
                }
            }
            long took = System.nanoTime() - began;
            if (took > slowestCycleNs) {
                slowestCycleNs = took;
            }
            cycles++;
        }
        rig.assertNoErrors();
        if (failure != null) {
            throw new AssertionError("cycle " + cycles + ": " + failure);
        }
    }

    private String irps() {
        StringBuilder b = new StringBuilder();
        Irp[] all = {connect, send, receive, end, disconnect, close, accept, serverReceive, serverSend, serverEnd,
            serverDisconnect, serverClose};
        String[] names = {"connect", "send", "receive", "end", "disconnect", "close", "accept", "serverReceive",
            "serverSend", "serverEnd", "serverDisconnect", "serverClose"};
        for (int i = 0; i < all.length; i++) {
            b.append(names[i]).append('=').append(all[i].inProgress() ? "pending" : all[i].completed()
                ? all[i].ioStatus().status().name() + "/" + all[i].ioStatus().information() : "idle").append(' ');
        }
        return b.toString();
    }

    private void start() {
        clientDone = false;
        serverDone = false;
        long stamp = cycles;
        for (int i = 0; i < SIZE; i++) {
            out.put(i, (byte) (stamp + i));
        }
        if (listener != null) {
            expect(listener.accept(0, null, null, acceptedLocal, acceptedRemote, accept.reuse()),
                NtStatus.STATUS_PENDING, "WskAccept");
        } else {
            serverDone = true; // B's stack echoes by itself (an EchoServer on its poll thread)
        }
        expect(rig.wskA.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, null, null, call.reuse()),
            NtStatus.STATUS_SUCCESS, "WskSocket");
        client = (WskSocket) call.ioStatus().informationObject();
        expect(client.bind(SocketAddressV4.ANY, call.reuse()), NtStatus.STATUS_SUCCESS, "bind");
        expect(client.controlSocket(WskSetOption, TCP_NODELAY, IPPROTO_TCP, 1, call.reuse()), NtStatus.STATUS_SUCCESS,
            "TCP_NODELAY");
        expect(client.connect(remote, connect.reuse()), NtStatus.STATUS_PENDING, "WskConnect");
    }

    private void expect(NtStatus status, NtStatus wanted, String what) {
        if (status != wanted && failure == null) {
            failure = what + ": " + status.name();
        }
    }

    private void check(Irp irp, String what) {
        if (irp.ioStatus().status() != NtStatus.STATUS_SUCCESS && failure == null) {
            failure = what + ": " + irp.ioStatus().status().name();
        }
    }

    private void onConnected() {
        check(connect, "WskConnect");
        if (failure != null) {
            return;
        }
        client.send(outBuf.set(out, 0, SIZE), 0, send.reuse());
        client.receive(inBuf.set(in, 0, SIZE), WSK_FLAG_WAITALL, receive.reuse());
    }

    private void onResponse() {
        check(receive, "WskReceive");
        if (failure != null) {
            return;
        }
        if (receive.ioStatus().information() != SIZE || in.mismatch(out) != -1) {
            failure = "echo: " + receive.ioStatus().information() + " bytes, first difference at " + in.mismatch(out);
            return;
        }
        client.disconnect(null, 0, disconnect.reuse());
        client.receive(inBuf.set(in, 0, SIZE), 0, end.reuse());
    }

    private void maybeClose() {
        if (failure != null || !disconnect.completed() || !end.completed() || close.inProgress()) {
            return;
        }
        check(disconnect, "WskDisconnect");
        check(end, "WskReceive (end)");
        if (end.ioStatus().information() != 0 && failure == null) {
            failure = "client: more data after the response: " + end.ioStatus().information() + " bytes";
        }
        client.closeSocket(close.reuse());
    }

    private void onClientClosed() {
        check(close, "WskCloseSocket");
        lastClientBefore = lastClient;
        lastClient = client;
        client = null;
        clientDone = true;
    }

    private void onAccepted() {
        check(accept, "WskAccept");
        if (failure != null) {
            return;
        }
        server = (WskSocket) accept.ioStatus().informationObject();
        lastAcceptedLocalIp = acceptedLocal.ip();
        lastAcceptedLocalPort = acceptedLocal.port();
        lastAcceptedRemotePort = acceptedRemote.port();
        server.receive(serverBuf.set(serverMemory, 0, SIZE), WSK_FLAG_WAITALL, serverReceive.reuse());
    }

    private void onRequest() {
        check(serverReceive, "server WskReceive");
        if (failure != null) {
            return;
        }
        if (serverReceive.ioStatus().information() != SIZE) {
            failure = "server: request of " + serverReceive.ioStatus().information() + " bytes";
            return;
        }
        server.send(serverBuf.set(serverMemory, 0, SIZE), 0, serverSend.reuse());
        server.receive(serverBuf.set(serverMemory, 0, SIZE), 0, serverEnd.reuse());
    }

    private void onServerEnd() {
        check(serverEnd, "server WskReceive (end)");
        if (failure != null) {
            return;
        }
        if (serverEnd.ioStatus().information() != 0) {
            failure = "server: more data after the request: " + serverEnd.ioStatus().information() + " bytes";
            return;
        }
        server.disconnect(null, 0, serverDisconnect.reuse());
    }

    private void onServerDisconnected() {
        check(serverDisconnect, "server WskDisconnect");
        if (failure != null) {
            return;
        }
        server.closeSocket(serverClose.reuse());
    }

    private void onServerClosed() {
        check(serverClose, "server WskCloseSocket");
        lastServerBefore = lastServer;
        lastServer = server;
        server = null;
        serverDone = true;
    }
}
