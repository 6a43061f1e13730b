package io.fastpath.cli;

import static io.fastpath.wsk.Wsk.AF_INET;
import static io.fastpath.wsk.Wsk.IPPROTO_TCP;
import static io.fastpath.wsk.Wsk.SOCK_STREAM;
import static io.fastpath.wsk.Wsk.SOL_SOCKET;
import static io.fastpath.wsk.Wsk.SO_WSK_EVENT_CALLBACK;
import static io.fastpath.wsk.Wsk.WSK_EVENT_ACCEPT;
import static io.fastpath.wsk.Wsk.WSK_EVENT_DISCONNECT;
import static io.fastpath.wsk.Wsk.WSK_EVENT_RECEIVE;
import static io.fastpath.wsk.Wsk.WSK_FLAG_ABORTIVE;
import static io.fastpath.wsk.Wsk.WSK_FLAG_LISTEN_SOCKET;
import static io.fastpath.wsk.Wsk.WskSetOption;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.MacAddress;
import io.fastpath.wsk.Irp;
import io.fastpath.wsk.SocketAddressV4;
import io.fastpath.wsk.WskBuf;
import io.fastpath.wsk.WskClientConnectionDispatch;
import io.fastpath.wsk.WskClientListenDispatch;
import io.fastpath.wsk.WskDataIndication;
import io.fastpath.wsk.WskProvider;
import io.fastpath.wsk.WskSocket;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import io.fastpath.provider.SizeT;
import org.agrona.concurrent.IdleStrategy;

/**
 * {@code fastpath echo --api wsk}: the echo server through api-wsk with zero-copy receive events. Each
 * indicated chain is kept (STATUS_PENDING), every link is sent back with WskSend straight from the mbuf it
 * arrived in, and the chain is returned with WskRelease once its last send completed. When a chain has more
 * links than the connection has send IRPs free, the event declines it (STATUS_DATA_NOT_ACCEPTED) and, once the
 * sends in flight are done, a WskReceive copies the data out instead; a zero-length WskReceive then turns the
 * events back on. The peer's graceful close is answered with WskDisconnect once everything was echoed, then
 * WskCloseSocket.
 *
 * <p>Threads: the stack runs on its own poll thread; this (main) thread is the WSK dispatch thread.
 */
final class WskEcho {
    private WskEcho() {
    }

    static int run(List<String> args) {
        Flags flags = TcpCommands.flags(args, "--listen", "--connections", "--api", "--send-irps");
        int sendIrps = flags.intValue("--send-irps", 512);
        if (sendIrps < 1 || sendIrps > 65536) {
            throw new UsageException("--send-irps is 1..65536, got " + sendIrps);
        }
        int listenPort = TcpCommands.tcpPort("--listen", flags.required("--listen"));
        int connections = TcpCommands.connections(flags, 64);
        PortOptions options = new PortOptions(flags, TcpCommands.tcpConfig(connections), PortOptions.TCP_POOL);
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stop.countDown();
            try {
                stopped.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            System.out.flush();
            Runtime.getRuntime().halt(0);
        });
        WskProvider wsk = null;
        try {
            Stack stack = options.start();
            io.fastpath.stack.shard.StackShards shards = options.shards();
            wsk = shards != null ? WskProvider.register(shards) : WskProvider.register(stack);
            Server server = new Server(sendIrps);
            NtStatus status = listen(wsk, server, listenPort);
            if (status != NtStatus.STATUS_SUCCESS) {
                System.out.println("listen on port " + listenPort + ": " + status);
                System.out.println(status);
                return 1;
            }
            Runtime.getRuntime().addShutdownHook(hook);
            System.out.println("fastpath echo (api wsk, zero-copy receive events) on "
                + Ipv4Address.format(stack.address()) + ":" + listenPort + " (" + Ipv4Address.format(stack.address())
                + "/" + stack.config().prefixLength() + " mac " + MacAddress.format(stack.mac()) + " on "
                + stack.port().name() + ", buffers " + (TcpCommands.bufferBytes(connections) >> 10)
                + " KiB; counters: " + stack.counters().file() + options.ealSummary() + ")");
            System.out.println("ready");
            System.out.flush();
            IdleStrategy idle = options.idleStrategy();
            while (stop.getCount() > 0) {
                idle.idle(wsk.dispatch());
            }
            wsk.close();
            wsk = null;
            options.close();
            System.out.println("echo: " + server.accepted + " connections accepted, " + server.closed + " closed ("
                + server.abnormal + " not cleanly), " + (server.accepted - server.closed) + " still open, "
                + server.bytesEchoed + " bytes echoed (" + server.zeroCopyBytes + " zero-copy from receive events, "
                + (server.bytesEchoed - server.zeroCopyBytes) + " copied by WskReceive)");
            System.out.println("counters:");
            TcpCommands.printCounters(shards, stack);
            System.out.flush();
            return 0;
        } finally {
            if (wsk != null) {
                wsk.close();
            }
            options.close();
            stopped.countDown();
        }
    }

    /**
     * Creates the listening socket with accept, receive and disconnect events on {@code server} and binds it to
     * {@code port}, dispatching on this thread (the provider's dispatch thread) until it listens.
     */
    static NtStatus listen(WskProvider wsk, Server server, int port) {
        Irp create = new Irp();
        NtStatus status = wsk.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, null, server, create);
        if (status != NtStatus.STATUS_SUCCESS) {
            return status;
        }
        WskSocket listener = (WskSocket) create.ioStatus().informationObject();
        listener.controlSocket(WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
            WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, null);
        Irp bind = new Irp();
        listener.bind(new SocketAddressV4(0, port), bind);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!bind.completed() && System.nanoTime() < deadline) {
            wsk.dispatch();
        }
        return bind.completed() ? bind.ioStatus().status() : NtStatus.STATUS_IO_TIMEOUT;
    }

    /** The listen socket's events, and the default events of the sockets it accepts. */
    static final class Server implements WskClientListenDispatch, WskClientConnectionDispatch {
        final int sendIrps;
        long accepted;
        long closed;
        long abnormal;
        long bytesEchoed;
        long zeroCopyBytes;

        Server(int sendIrps) {
            this.sendIrps = sendIrps;
        }

        @Override
        public NtStatus wskAcceptEvent(Object socketContext, int flags, SocketAddressV4 localAddress,
                                  SocketAddressV4 remoteAddress, WskSocket acceptSocket) {
            accepted++;
            acceptSocket.setContext(new Connection(this, acceptSocket, sendIrps));
            return NtStatus.STATUS_SUCCESS;
        }

        @Override
        public NtStatus wskReceiveEvent(Object socketContext, int flags, WskDataIndication dataIndication,
                                   long bytesIndicated, SizeT bytesAccepted) {
            return ((Connection) socketContext).onIndication(dataIndication, bytesIndicated);
        }

        @Override
        public NtStatus wskDisconnectEvent(Object socketContext, int flags) {
            ((Connection) socketContext).onDisconnect(flags);
            return NtStatus.STATUS_SUCCESS;
        }
    }

    /** One echoed connection: a pool of send IRPs and the chains they echo, in order. */
    private static final class Connection {
        private final int irps;
        private static final int COPY_BYTES = 64 << 10;

        private final Server server;
        private final WskSocket socket;
        /** A send IRP and the chain (slot in chainHead) whose link it echoes. */
        private static final class SendSlot {
            final Irp irp = new Irp();
            int chain;
        }

        private final SendSlot[] free;
        private int freeCount;
        private final WskBuf buf = new WskBuf();
        // chains in flight: head link and sends still outstanding, FIFO (sends complete in order)
        private final WskDataIndication[] chainHead;
        private final int[] chainSends;
        private int chainFirst;
        private int chainCount;
        private int sendsInFlight;
        // the copy path, for chains longer than the IRPs free
        private final ByteBuffer copy = ByteBuffer.allocateDirect(COPY_BYTES);
        private final Irp receive = new Irp();
        /** The zero-length WskReceive that turns receive events back on (its completion means nothing else). */
        private final Irp rearm = new Irp();
        private final Irp copySend = new Irp();
        /** The chain being indicated: its sends may complete inside the callback (inline failures). */
        private int indicatingAt = -1;
        private boolean declined;
        private boolean peerClosed;
        private boolean finishing;
        private boolean failed;
        private final Irp disconnect = new Irp();
        private final Irp close = new Irp();

        Connection(Server server, WskSocket socket, int irps) {
            this.server = server;
            this.socket = socket;
            this.irps = irps;
            this.free = new SendSlot[irps];
            this.chainHead = new WskDataIndication[irps];
            this.chainSends = new int[irps];
            for (int i = 0; i < irps; i++) {
                SendSlot slot = new SendSlot();
                slot.irp.setCompletionRoutine((done, ctx) -> onSent((SendSlot) ctx), slot);
                free[freeCount++] = slot;
            }
            receive.setCompletionRoutine((done, ctx) -> onCopied(), null);
            rearm.setCompletionRoutine((done, ctx) -> maybeFinish(), null);
            copySend.setCompletionRoutine((done, ctx) -> onCopySent(), null);
            disconnect.setCompletionRoutine((done, ctx) -> closeNow(), null);
            close.setCompletionRoutine((done, ctx) -> server.closed++, null);
        }

        NtStatus onIndication(WskDataIndication chain, long bytes) {
            if (chain == null) {
                onDisconnect(WSK_FLAG_ABORTIVE); // the connection died (disconnect events are on: not expected)
                return NtStatus.STATUS_SUCCESS;
            }
            int links = 0;
            for (WskDataIndication d = chain; d != null; d = d.next()) {
                links++;
            }
            if (declined || links > freeCount || chainCount == irps) {
                declined = true; // the data stays queued; the copy path takes it once the sends are done
                maybeCopy();
                return NtStatus.STATUS_DATA_NOT_ACCEPTED;
            }
            int at = (chainFirst + chainCount++) % irps;
            chainHead[at] = chain;
            chainSends[at] = links;
            indicatingAt = at;
            for (WskDataIndication d = chain; d != null; d = d.next()) {
                WskBuf b = d.buffer();
                sendsInFlight++;
                server.zeroCopyBytes += b.length();
                SendSlot slot = free[--freeCount];
                slot.chain = at;
                socket.send(buf.set(b.address(), b.offset(), b.length()), 0, slot.irp.reuse());
            }
            indicatingAt = -1;
            if (chainSends[at] == 0) {
                // Every send completed inside this callback (they failed inline): the chain is not ours to
                // release yet (WskRelease takes kept chains only); take it as consumed instead.
                chainHead[at] = null;
                popReleased();
                maybeFinish();
                return NtStatus.STATUS_SUCCESS;
            }
            return NtStatus.STATUS_PENDING;
        }

        private void onSent(SendSlot slot) {
            free[freeCount++] = slot;
            sendsInFlight--;
            account(slot.irp);
            int at = slot.chain;
            if (--chainSends[at] == 0 && at != indicatingAt) { // (inside its receive event onIndication finishes it)
                if (socket.release(chainHead[at]) != NtStatus.STATUS_SUCCESS) {
                    failed = true;
                }
                chainHead[at] = null;
                popReleased();
            }
            maybeCopy();
            maybeFinish();
        }

        /** Frees the ring positions of chains already given back, oldest first. */
        private void popReleased() {
            while (chainCount > 0 && chainHead[chainFirst] == null) {
                chainFirst = (chainFirst + 1) % irps;
                chainCount--;
            }
        }

        private void account(Irp irp) {
            NtStatus status = irp.ioStatus().status();
            if (status == NtStatus.STATUS_SUCCESS) {
                server.bytesEchoed += irp.ioStatus().information();
            } else {
                failed = true;
            }
        }

        /** Once nothing is in flight, a declined chain is read with a WskReceive (one copy). */
        private void maybeCopy() {
            if (declined && sendsInFlight == 0 && !receive.inProgress() && !copySend.inProgress() && !finishing) {
                socket.receive(buf.set(copy, 0, COPY_BYTES), 0, receive.reuse());
            }
        }

        private void onCopied() {
            NtStatus status = receive.ioStatus().status();
            long n = receive.ioStatus().information();
            if (status != NtStatus.STATUS_SUCCESS) {
                failed = true;
                declined = false;
                maybeFinish();
                return;
            }
            if (n == 0) {
                declined = false; // the peer closed and every byte was read
                peerClosed = true;
                maybeFinish();
                return;
            }
            socket.send(buf.set(copy, 0, (int) n), 0, copySend.reuse());
        }

        private void onCopySent() {
            account(copySend);
            if (copySend.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
                declined = false;
                maybeFinish();
                return;
            }
            // A zero-length WskReceive turns receive events back on; the next data comes zero-copy again.
            declined = false;
            socket.receive(buf.set(copy, 0, 0), 0, rearm.reuse());
        }

        void onDisconnect(int flags) {
            if ((flags & WSK_FLAG_ABORTIVE) != 0) {
                failed = true;
                closeNow();
                return;
            }
            peerClosed = true;
            maybeFinish();
        }

        /** The peer closed and everything it sent was echoed: disconnect gracefully, then close. */
        private void maybeFinish() {
            if (finishing || sendsInFlight > 0 || declined || receive.inProgress() || copySend.inProgress()
                || rearm.inProgress()) {
                return;
            }
            if (failed) {
                closeNow();
            } else if (peerClosed) {
                finishing = true;
                socket.disconnect(null, 0, disconnect.reuse());
            }
        }

        private void closeNow() {
            if (close.inProgress() || close.completed()) {
                return;
            }
            finishing = true;
            if (failed || disconnect.completed() && disconnect.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
                server.abnormal++;
            }
            socket.closeSocket(close);
        }
    }
}
