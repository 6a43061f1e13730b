package io.fastpath.cli;

import static io.fastpath.wsk.Wsk.AF_INET;
import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SOCK_STREAM;
import static io.fastpath.wsk.Wsk.TCP_FASTOPEN;
import static io.fastpath.wsk.Wsk.WSK_FLAG_ABORTIVE;
import static io.fastpath.wsk.Wsk.WSK_FLAG_CONNECTION_SOCKET;
import static io.fastpath.wsk.Wsk.WskSetOption;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.MacAddress;
import io.fastpath.wsk.Irp;
import io.fastpath.wsk.SocketAddressV4;
import io.fastpath.wsk.WskBuf;
import io.fastpath.wsk.WskProvider;
import io.fastpath.wsk.WskSocket;
import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * {@code fastpath send --api wsk [--tfo]}: connections one after the other, each opened with WskConnectEx
 * carrying the first (up to 65,535) bytes, the rest sent with WskSend, everything read back with WskReceive
 * and checked, then WskDisconnect and WskCloseSocket. With {@code --tfo} every socket sets TCP_FASTOPEN: the
 * first connection fetches the server's cookie, later ones carry their data in the SYN (RFC 7413); the report
 * says how many did, from the stack's counters.
 *
 * <p>Threads: the stack runs on its own poll thread; this (main) thread is the WSK dispatch thread.
 */
final class WskSend {
    private static final int CONNECT_EX_MAX = 65_535;
    private static final int CHUNK = 64 << 10;
    private static final int PATTERN = 1 << 20;

    private WskSend() {
    }

    static int run(int remoteIp, int remotePort, long bytes, int connections, int timeoutSeconds,
                   Flags flags) {
        boolean tfo = flags.has("--tfo");
        try (PortOptions options = new PortOptions(flags, TcpCommands.tcpConfig(connections), PortOptions.TCP_POOL)) {
            Stack stack = options.start();
            try (WskProvider wsk = WskProvider.register(stack)) {
                System.out.println("fastpath " + Ipv4Address.format(stack.address()) + "/"
                    + stack.config().prefixLength() + " mac " + MacAddress.format(stack.mac()) + " on "
                    + stack.port().name() + ": " + connections + " connection(s) x " + bytes + " bytes to "
                    + Ipv4Address.format(remoteIp) + ":" + remotePort + " through api-wsk (WskConnectEx"
                    + (tfo ? ", TCP Fast Open" : "") + "), one after the other ("
                    + options.ealSummary().substring(2) + ")");
                System.out.flush();
                Run run = new Run(wsk, stack.counters(), new SocketAddressV4(remoteIp, remotePort), bytes, tfo);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
                IdleStrategy idle = options.idleStrategy();
                long startNs = System.nanoTime();
                NtStatus status = NtStatus.STATUS_SUCCESS;
                int done = 0;
                long synData = 0;
                long synAccepted = 0;
                long echoed = 0;
                for (int i = 0; i < connections && status == NtStatus.STATUS_SUCCESS; i++) {
                    long sentBefore = stack.counters().tcpFastOpenSynDataSent.get();
                    long fallbacksBefore = stack.counters().tcpFastOpenFallbacks.get();
                    run.start(i);
                    while (!run.finished) {
                        int work = wsk.dispatch();
                        if (System.nanoTime() - deadline > 0) {
                            run.fail(NtStatus.STATUS_IO_TIMEOUT);
                            break;
                        }
                        idle.idle(work);
                    }
                    status = run.status;
                    echoed += run.received;
                    if (status == NtStatus.STATUS_SUCCESS) {
                        done++;
                        long sent = stack.counters().tcpFastOpenSynDataSent.get() - sentBefore;
                        long fallbacks = stack.counters().tcpFastOpenFallbacks.get() - fallbacksBefore;
                        synData += sent > 0 ? 1 : 0;
                        synAccepted += sent > 0 && fallbacks == 0 ? 1 : 0;
                    } else {
                        System.out.println("connection " + (i + 1) + ": " + status + " after "
                            + run.sent + " bytes sent, " + run.received + " received (" + run.where + ")");
                    }
                }
                double seconds = Math.max(1, System.nanoTime() - startNs) / 1e9;
                if (echoed > 0) {
                    System.out.printf(Locale.ROOT,
                        "%d bytes echoed on %d connection(s) in %.3f s: %.1f MiB/s, %.3f Gbit/s%n", echoed, done,
                        seconds, echoed / seconds / (1 << 20), echoed * 8 / seconds / 1e9);
                }
                if (tfo) {
                    System.out.println("fast open: " + synData + " of " + done + " connection(s) carried data in their"
                        + " SYN (" + synAccepted + " acknowledged in the SYN-ACK, " + (synData - synAccepted)
                        + " sent again after the handshake)");
                }
                if (status == NtStatus.STATUS_SUCCESS) {
                    System.out.println("verified " + echoed + " bytes");
                    return 0;
                }
                System.out.println("counters:");
                StackCounters.format(stack.counters().reader(), false).forEach(System.out::println);
                System.out.println(status);
                return 1;
            }
        }
    }

    /** One connection at a time, driven by IRP completions on the dispatch thread. */
    private static final class Run {
        private final WskProvider wsk;
        private final SocketAddressV4 remote;
        private final long bytes;
        private final boolean tfo;
        private final ByteBuffer pattern = ByteBuffer.allocateDirect(PATTERN);
        private final UnsafeBuffer expected = new UnsafeBuffer(pattern);
        private final ByteBuffer in = ByteBuffer.allocateDirect(CHUNK);
        private final UnsafeBuffer inView = new UnsafeBuffer(in);
        private final WskBuf outBuf = new WskBuf();
        private final WskBuf inBuf = new WskBuf();
        private final Irp create = new Irp();
        private final Irp call = new Irp();
        private final Irp connect = new Irp();
        private final Irp send = new Irp();
        private final Irp receive = new Irp();
        private final Irp disconnect = new Irp();
        private final Irp close = new Irp();
        private WskSocket socket;
        long sent;
        long received;
        boolean finished;
        boolean sawEnd;
        NtStatus status;
        String where;

        Run(WskProvider wsk, StackCounters counters, SocketAddressV4 remote, long bytes, boolean tfo) {
            this.wsk = wsk;
            this.remote = remote;
            this.bytes = bytes;
            this.tfo = tfo;
            connect.setCompletionRoutine((irp, ctx) -> onConnected(), null);
            send.setCompletionRoutine((irp, ctx) -> onSent(), null);
            receive.setCompletionRoutine((irp, ctx) -> onReceived(), null);
            disconnect.setCompletionRoutine((irp, ctx) -> onDisconnected(), null);
            close.setCompletionRoutine((irp, ctx) -> finished = true, null);
        }

        void start(int index) {
            SplittableRandom random = new SplittableRandom(index + 1);
            for (int i = 0; i < PATTERN; i += 8) {
                expected.putLong(i, random.nextLong());
            }
            sent = 0;
            received = 0;
            finished = false;
            sawEnd = false;
            status = NtStatus.STATUS_SUCCESS;
            where = "socket";
            NtStatus rc = wsk.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, null, null,
                create.reuse());
            if (rc != NtStatus.STATUS_SUCCESS) {
                done(rc);
                return;
            }
            socket = (WskSocket) create.ioStatus().informationObject();
            where = "bind";
            rc = socket.bind(SocketAddressV4.ANY, call.reuse());
            if (rc == NtStatus.STATUS_SUCCESS && tfo) {
                where = "TCP_FASTOPEN";
                rc = socket.controlSocket(WskSetOption, TCP_FASTOPEN, IPPROTO_TCP, 1, call.reuse());
            }
            if (rc != NtStatus.STATUS_SUCCESS) {
                fail(rc);
                return;
            }
            where = "WskConnectEx";
            int first = (int) Math.min(bytes, CONNECT_EX_MAX);
            socket.connectEx(remote, outBuf.set(pattern, 0, first), 0, connect.reuse());
        }

        private void onConnected() {
            NtStatus rc = connect.ioStatus().status();
            if (rc != NtStatus.STATUS_SUCCESS) {
                fail(rc);
                return;
            }
            sent = connect.ioStatus().information();
            where = "WskReceive";
            socket.receive(inBuf.set(in, 0, CHUNK), 0, receive.reuse());
            sendMore();
        }

        private void sendMore() {
            if (sent >= bytes || send.inProgress() || finished) {
                return;
            }
            int at = (int) (sent % PATTERN);
            int n = (int) Math.min(Math.min(bytes - sent, CHUNK), PATTERN - at);
            socket.send(outBuf.set(pattern, at, n), 0, send.reuse());
        }

        private void onSent() {
            NtStatus rc = send.ioStatus().status();
            if (rc != NtStatus.STATUS_SUCCESS) {
                where = "WskSend";
                fail(rc);
                return;
            }
            sent += send.ioStatus().information();
            sendMore();
        }

        private void onReceived() {
            NtStatus rc = receive.ioStatus().status();
            if (rc != NtStatus.STATUS_SUCCESS) {
                fail(rc);
                return;
            }
            int n = (int) receive.ioStatus().information();
            if (n == 0) {
                if (received == bytes) {
                    sawEnd = true; // the server's end after everything came back
                    maybeDone();
                    return;
                }
                where = "WskReceive: the server closed early";
                fail(NtStatus.STATUS_CONNECTION_RESET);
                return;
            }
            for (int i = 0; i < n; i++) {
                if (inView.getByte(i) != expected.getByte((int) ((received + i) % PATTERN))) {
                    where = "byte " + (received + i) + " differs";
                    fail(NtStatus.STATUS_DATA_ERROR);
                    return;
                }
            }
            received += n;
            if (received == bytes) {
                where = "WskDisconnect";
                socket.disconnect(null, 0, disconnect.reuse());
                // Then wait for the server's own end (0 bytes) before closing: closing earlier would reset.
                socket.receive(inBuf.set(in, 0, CHUNK), 0, receive.reuse());
                return;
            }
            socket.receive(inBuf.set(in, 0, (int) Math.min(CHUNK, bytes - received)), 0, receive.reuse());
        }

        private void onDisconnected() {
            NtStatus rc = disconnect.ioStatus().status();
            if (rc != NtStatus.STATUS_SUCCESS) {
                fail(rc);
                return;
            }
            maybeDone();
        }

        /** WskCloseSocket once both directions ended: our FIN acknowledged and the server's 0-byte end read. */
        private void maybeDone() {
            if (sawEnd && disconnect.completed() && disconnect.ioStatus().status() == NtStatus.STATUS_SUCCESS) {
                where = "WskCloseSocket";
                done(NtStatus.STATUS_SUCCESS);
            }
        }

        /** Ends the connection with a failure: abortive close. */
        void fail(NtStatus rc) {
            if (status == NtStatus.STATUS_SUCCESS) {
                status = rc;
            }
            if (socket != null && !close.inProgress()) {
                socket.disconnect(null, WSK_FLAG_ABORTIVE, call.inProgress() ? new Irp() : call.reuse());
            }
            done(rc);
        }

        private void done(NtStatus rc) {
            if (status == NtStatus.STATUS_SUCCESS) {
                status = rc;
            }
            if (socket == null) {
                finished = true;
                return;
            }
            if (!close.inProgress() && !finished) {
                WskSocket s = socket;
                socket = null;
                s.closeSocket(close.reuse());
            }
        }
    }
}
