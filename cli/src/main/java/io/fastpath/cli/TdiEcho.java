package io.fastpath.cli;

import io.fastpath.provider.NtStatus;
import io.fastpath.stack.Stack;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.wire.MacAddress;
import io.fastpath.tdi.Irp;
import io.fastpath.tdi.Tdi;
import io.fastpath.tdi.TdiAddress;
import io.fastpath.tdi.TdiBuild;
import io.fastpath.tdi.TdiConnection;
import io.fastpath.tdi.TdiEventReturn;
import io.fastpath.tdi.TdiEvents;
import io.fastpath.tdi.TdiException;
import io.fastpath.tdi.TdiProvider;
import io.fastpath.tdi.Tsdu;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.agrona.BufferUtil;
import org.agrona.concurrent.IdleStrategy;

/**
 * {@code fastpath echo --api tdi [--pending]}: the echo server through api-tdi with chained receives.
 * ClientEventConnect accepts every offer onto an idle endpoint (AcceptIrp + connection context). Normal data
 * arrives through ClientEventChainedReceive and goes back with TDI_SEND; expedited (urgent) data arrives through
 * ClientEventChainedReceiveExpedited and goes back with TDI_SEND_EXPEDITED. By default the handler copies the
 * TSDU into the connection's staging ring, sends from there and returns STATUS_SUCCESS (the mbufs go back at
 * once); when the ring is full it returns STATUS_DATA_NOT_ACCEPTED and drains the rest with TDI_RECEIVEs as room
 * frees up. With {@code --pending} the handler returns STATUS_PENDING, sends straight out of the received mbufs
 * and gives the chain back with TdiReturnChainedReceives once the last send completed (zero copy on receive).
 * The peer's release (ClientEventDisconnect RELEASE) is answered with TDI_DISCONNECT RELEASE with a real time-out
 * ({@code --release-timeout}, default 30 s): the echoes still queued go out first, however slowly the peer reads
 * them, before our FIN. (A NULL time-out is the transport's default, under a second, after which the release
 * fails and the connection is reset: a slow reader would lose the end of its echo.)
 *
 * <p>Threads: the stack runs on its own poll thread; this (main) thread is the TDI dispatch thread.
 */
final class TdiEcho {
    private TdiEcho() {
    }

    static int run(List<String> args) {
        Set<String> withValue = new HashSet<>(PortOptions.WITH_VALUE);
        withValue.addAll(List.of("--listen", "--connections", "--api", "--staging", "--release-timeout"));
        Set<String> switches = new HashSet<>(PortOptions.SWITCHES);
        switches.add("--pending");
        Flags flags = new Flags(args, withValue, switches);
        int listenPort = TcpCommands.tcpPort("--listen", flags.required("--listen"));
        int connections = TcpCommands.connections(flags, 64);
        boolean pending = flags.has("--pending");
        int staging = flags.intValue("--staging", 256 << 10);
        if (staging < 1024) {
            throw new UsageException("--staging needs at least 1024 bytes, got " + staging);
        }
        int releaseSeconds = flags.intValue("--release-timeout", 30);
        if (releaseSeconds < 1) {
            throw new UsageException("--release-timeout needs at least 1 second, got " + releaseSeconds);
        }
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
        TdiProvider tdi = null;
        try {
            Stack stack = options.start();
            io.fastpath.stack.shard.StackShards shards = options.shards();
            tdi = shards != null ? TdiProvider.open(shards) : TdiProvider.open(stack);
            Server server;
            try {
                server = new Server(tdi, tdi.openAddress(0, listenPort), pending, staging,
                    Tdi.relativeTimeout(TimeUnit.SECONDS.toMillis(releaseSeconds)));
            } catch (TdiException e) {
                System.out.println("listen on port " + listenPort + ": " + e.status());
                System.out.println(e.status());
                return 1;
            }
            NtStatus status = server.start();
            if (status != NtStatus.STATUS_SUCCESS) {
                System.out.println("listen on port " + listenPort + ": " + status);
                System.out.println(status);
                return 1;
            }
            Runtime.getRuntime().addShutdownHook(hook);
            System.out.println("fastpath echo (api tdi, chained receives" + (pending ? " kept PENDING, zero copy"
                : " copied, SUCCESS") + ") on " + Ipv4Address.format(stack.address()) + ":" + listenPort + " ("
                + Ipv4Address.format(stack.address()) + "/" + stack.config().prefixLength() + " mac "
                + MacAddress.format(stack.mac()) + " on " + stack.port().name() + ", buffers "
                + (TcpCommands.bufferBytes(connections) >> 10) + " KiB; counters: " + stack.counters().file()
                + options.ealSummary() + ")");
            System.out.println("ready");
            System.out.flush();
            IdleStrategy idle = options.idleStrategy();
            while (stop.getCount() > 0) {
                idle.idle(tdi.dispatch());
            }
            int held = tdi.heldChainedReceives();
            tdi.close();
            tdi = null;
            options.close();
            System.out.println("echo: " + server.accepted + " connections accepted, " + server.closed + " closed ("
                + server.abnormal + " not cleanly), " + (server.accepted - server.closed) + " still open, "
                + server.bytesEchoed + " bytes echoed (" + server.expeditedEchoed + " expedited; "
                + server.keptChains + " chains kept PENDING, " + held + " still kept at the end; " + server.declined
                + " declined with DATA_NOT_ACCEPTED, " + server.drained + " bytes then taken by TDI_RECEIVE)");
            System.out.println("counters:");
            TcpCommands.printCounters(shards, stack);
            System.out.flush();
            return 0;
        } finally {
            if (tdi != null) {
                tdi.close();
            }
            options.close();
            stopped.countDown();
        }
    }

    /** The address object's handlers and the idle endpoints offers are accepted onto. */
    static final class Server implements TdiEvents.ClientEventConnect, TdiEvents.ClientEventChainedReceive,
        TdiEvents.ClientEventDisconnect {
        private final TdiProvider tdi;
        private final TdiAddress address;
        private final boolean pending;
        private final int stagingBytes;
        /** TDI_DISCONNECT RELEASE's time-out (negative 100 ns units): room for a slow reader to drain. */
        private final long releaseTimeout;
        private final ArrayDeque<TdiConnection> idle = new ArrayDeque<>();
        private final TdiEvents.ClientEventChainedReceive expedited = (ctx, cc, flags, length, offset, tsdu) ->
            ((Session) cc).onTsdu(tsdu, offset, length, Tdi.TDI_SEND_EXPEDITED);
        long accepted;
        long closed;
        long abnormal;
        long bytesEchoed;
        long expeditedEchoed;
        long keptChains;
        long declined;
        long drained;

        Server(TdiProvider tdi, TdiAddress address, boolean pending, int stagingBytes, long releaseTimeout) {
            this.tdi = tdi;
            this.address = address;
            this.pending = pending;
            this.stagingBytes = stagingBytes;
            this.releaseTimeout = releaseTimeout;
        }

        /** Sets the handlers; the connect handler's IRP completes once the stack listens. */
        NtStatus start() {
            Irp[] setup = {
                TdiBuild.setChainedReceiveEventHandler(new Irp(), address, null, null, this, this),
                TdiBuild.setChainedReceiveExpeditedEventHandler(new Irp(), address, null, null, expedited, this),
                TdiBuild.setDisconnectEventHandler(new Irp(), address, null, null, this, this),
                TdiBuild.setConnectEventHandler(new Irp(), address, null, null, this, this)}; // last: it listens
            for (Irp irp : setup) {
                tdi.callDriver(irp);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!irp.completed() && System.nanoTime() < deadline) {
                    tdi.dispatch();
                }
                NtStatus status = irp.completed() ? irp.ioStatus().status() : NtStatus.STATUS_REQUEST_TIMED_OUT;
                if (status != NtStatus.STATUS_SUCCESS) {
                    return status;
                }
            }
            return NtStatus.STATUS_SUCCESS;
        }

        @Override
        public NtStatus clientEventConnect(Object tdiEventContext, int remoteIp, int remotePort, int userDataLength,
                                      long userData, int optionsLength, long options,
                                      TdiEventReturn out) {
            TdiConnection endpoint = idle.poll();
            Session s;
            if (endpoint == null) {
                s = new Session(this);
                endpoint = tdi.openConnection(s);
                Irp associate = new Irp();
                tdi.callDriver(TdiBuild.associateAddress(associate, endpoint, null, null, address));
                if (associate.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
                    return NtStatus.STATUS_INSUFFICIENT_RESOURCES;
                }
                s.endpoint = endpoint;
            } else {
                s = (Session) endpoint.context();
            }
            s.reset();
            accepted++;
            out.acceptIrp(TdiBuild.accept(s.accept, endpoint, null, null, null, null)).connectionContext(s);
            return NtStatus.STATUS_MORE_PROCESSING_REQUIRED;
        }

        @Override
        public NtStatus clientEventChainedReceive(Object tdiEventContext, Object connectionContext, int receiveFlags,
                                             int receiveLength, int startingOffset, Tsdu tsdu) {
            return ((Session) connectionContext).onTsdu(tsdu, startingOffset, receiveLength, 0);
        }

        @Override
        public NtStatus clientEventDisconnect(Object tdiEventContext, Object connectionContext, int disconnectFlags) {
            Session s = (Session) connectionContext;
            if ((disconnectFlags & Tdi.TDI_DISCONNECT_RELEASE) != 0) {
                tdi.callDriver(TdiBuild.disconnect(s.release, s.endpoint, s::onReleased, null, releaseTimeout,
                    Tdi.TDI_DISCONNECT_RELEASE, null, null));
            } else {
                abnormal++;
                closed++;
                idle.add(s.endpoint);
            }
            return NtStatus.STATUS_SUCCESS;
        }
    }

    /** One echoed connection: send IRPs, the staging ring (copy mode) and the chains kept (pending mode). */
    static final class Session {
        private final int capacity;
        private final Server server;
        TdiConnection endpoint;
        final Irp accept = new Irp();
        final Irp release = new Irp();
        private final Irp receive = new Irp();
        private final ArrayDeque<Send> free = new ArrayDeque<>();
        private final ByteBuffer staging;
        private final long stagingAddress;
        private long head; // bytes of the staging ring sent and completed
        private long tail; // bytes copied in
        private boolean starved;
        private boolean receiving;

        Session(Server server) {
            this.server = server;
            this.capacity = server.stagingBytes;
            this.staging = ByteBuffer.allocateDirect(capacity);
            this.stagingAddress = BufferUtil.address(staging);
        }

        void reset() {
            head = 0;
            tail = 0;
            starved = false;
            receiving = false;
        }

        /** A send in flight, and the chain it echoes from (pending mode) or the staging bytes it frees. */
        private final class Send {
            final Irp irp = new Irp();
            Chain chain;
            int staged;
            boolean expedited;

            void complete(Irp done, Object context) {
                if (done.ioStatus().status() == NtStatus.STATUS_SUCCESS) {
                    server.bytesEchoed += done.ioStatus().information();
                    if (expedited) {
                        server.expeditedEchoed += done.ioStatus().information();
                    }
                }
                Chain c = chain;
                chain = null;
                head += staged;
                staged = 0;
                free.add(this);
                if (c != null && --c.outstanding == 0) {
                    server.tdi.returnChainedReceives(c.tsdu, 1);
                }
                if (starved && !receiving && endpoint.connected()) {
                    drain();
                }
            }
        }

        private static final class Chain {
            final Tsdu[] tsdu = new Tsdu[1];
            int outstanding;
        }

        private Send send() {
            Send s = free.poll();
            return s != null ? s : new Send();
        }

        NtStatus onTsdu(Tsdu tsdu, int offset, int length, int sendFlags) {
            if (server.pending) {
                Chain chain = new Chain();
                chain.tsdu[0] = tsdu;
                int skip = offset;
                for (int i = 0; i < tsdu.segmentCount(); i++) {
                    int n = tsdu.segmentLength(i) - skip;
                    long at = tsdu.segmentAddress(i) + skip;
                    skip = Math.max(0, skip - tsdu.segmentLength(i));
                    if (n > 0) {
                        chain.outstanding++;
                        sendFrom(at, n, sendFlags, chain, 0);
                    }
                }
                server.keptChains++;
                return NtStatus.STATUS_PENDING;
            }
            if (starved || length > capacity - (tail - head)) {
                // Declined: the data stays with the transport and is drained by TDI_RECEIVEs into the staging
                // ring as room frees up (one posted now; the rest from send completions).
                starved = true;
                server.declined++;
                if (!receiving) {
                    drain();
                }
                return NtStatus.STATUS_DATA_NOT_ACCEPTED;
            }
            byte[] copy = tsdu.toByteArray();
            stage(copy, sendFlags);
            return NtStatus.STATUS_SUCCESS;
        }

        private void stage(byte[] bytes, int sendFlags) {
            int done = 0;
            while (done < bytes.length) {
                int at = (int) (tail % capacity);
                int n = Math.min(bytes.length - done, capacity - at);
                staging.put(at, bytes, done, n);
                tail += n;
                sendFrom(stagingAddress + at, n, sendFlags, null, n);
                done += n;
            }
        }

        private void sendFrom(long at, int n, int sendFlags, Chain chain, int staged) {
            Send s = send();
            s.chain = chain;
            s.staged = staged;
            s.expedited = sendFlags != 0;
            TdiBuild.send(s.irp, endpoint, s::complete, null, at, sendFlags, n);
            server.tdi.callDriver(s.irp);
        }

        /** Copy mode, after STATUS_DATA_NOT_ACCEPTED: a TDI_RECEIVE into the free part of the staging ring. */
        private void drain() {
            long room = capacity - (tail - head);
            int at = (int) (tail % capacity);
            int n = (int) Math.min(room, capacity - at);
            if (n == 0) {
                return;
            }
            receiving = true;
            TdiBuild.receive(receive, endpoint, (irp, ctx) -> {
                receiving = false;
                int got = (int) irp.ioStatus().information();
                if (irp.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
                    starved = false;
                    return;
                }
                tail += got;
                server.drained += got;
                starved = got == n; // less than asked: the queued data is gone, indications resume
                sendFrom(stagingAddress + at, got, 0, null, got);
            }, null, stagingAddress + at, Tdi.TDI_RECEIVE_NORMAL, n);
            server.tdi.callDriver(receive);
        }

        void onReleased(Irp irp, Object context) {
            if (irp.ioStatus().status() == NtStatus.STATUS_SUCCESS) {
                server.closed++;
            } else {
                server.abnormal++;
                server.closed++;
            }
            server.idle.add(endpoint);
        }
    }
}
