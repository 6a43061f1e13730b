package io.fastpath.examples.tdi;

import io.fastpath.provider.NtStatus;
import io.fastpath.tdi.IoCompletionRoutine;
import io.fastpath.tdi.Irp;
import io.fastpath.tdi.Tdi;
import io.fastpath.tdi.TdiAddress;
import io.fastpath.tdi.TdiBuild;
import io.fastpath.tdi.TdiConnection;
import io.fastpath.tdi.TdiEventReturn;
import io.fastpath.tdi.TdiEvents;
import io.fastpath.tdi.TdiProvider;
import io.fastpath.tdi.Tsdu;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TDI echo server in the classic event-driven shape: one address object with ClientEventConnect,
 * ClientEventChainedReceive(Expedited) and ClientEventDisconnect; each offer is accepted with an AcceptIrp onto an
 * idle connection endpoint (opened on demand, reused after each disconnect). A chained receive is kept
 * (STATUS_PENDING) and every segment of it is sent straight back from the mbuf it arrived in; the chain goes back
 * with TdiReturnChainedReceives when its last send completed: no payload byte is copied on the way in. Expedited
 * data goes back with TDI_SEND_EXPEDITED. The peer's release is answered with TDI_DISCONNECT(RELEASE).
 *
 * <p>Thread: everything runs on the provider's dispatch thread; the counters may be read from any thread.
 */
public final class TdiEchoServer implements TdiEvents.ClientEventConnect, TdiEvents.ClientEventChainedReceive,
    TdiEvents.ClientEventDisconnect {
    private final TdiProvider tdi;
    private TdiAddress address;
    private final Irp[] setup = new Irp[4];
    private final ArrayDeque<Session> idle = new ArrayDeque<>();
    private final TdiEvents.ClientEventChainedReceive expedited = (ctx, cc, flags, length, offset, tsdu) ->
        ((Session) cc).echo(tsdu, offset, Tdi.TDI_SEND_EXPEDITED);
    public final AtomicLong accepted = new AtomicLong();
    public final AtomicLong closed = new AtomicLong();
    public final AtomicLong aborted = new AtomicLong();
    public final AtomicLong echoed = new AtomicLong();
    public final AtomicLong failures = new AtomicLong();

    public TdiEchoServer(TdiProvider tdi) {
        this.tdi = tdi;
    }

    /** Opens the address object on {@code port} and sets the handlers (dispatch thread). */
    public void start(int port) {
        address = tdi.openAddress(0, port);
        setup[0] = TdiBuild.setChainedReceiveEventHandler(new Irp(), address, null, null, this, this);
        setup[1] = TdiBuild.setChainedReceiveExpeditedEventHandler(new Irp(), address, null, null, expedited, this);
        setup[2] = TdiBuild.setDisconnectEventHandler(new Irp(), address, null, null, this, this);
        setup[3] = TdiBuild.setConnectEventHandler(new Irp(), address, null, null, this, this); // last: it listens
        for (Irp irp : setup) {
            tdi.callDriver(irp);
        }
    }

    /** True once every handler is set (the connect handler's IRP completes once the stack listens). */
    public boolean listening() {
        for (Irp i : setup) {
            if (i == null || !i.completed() || i.ioStatus().status() != NtStatus.STATUS_SUCCESS) {
                return false;
            }
        }
        return true;
    }

    public TdiAddress address() {
        return address;
    }

    @Override
    public NtStatus clientEventConnect(Object tdiEventContext, int remoteIp, int remotePort, int userDataLength,
                                  long userData, int optionsLength, long options, TdiEventReturn out) {
        Session s = idle.poll();
        if (s == null) {
            s = new Session();
            s.endpoint = tdi.openConnection(s);
            Irp associate = new Irp();
            if (tdi.callDriver(TdiBuild.associateAddress(associate, s.endpoint, null, null, address))
                != NtStatus.STATUS_SUCCESS) {
                return NtStatus.STATUS_INSUFFICIENT_RESOURCES; // refused: RST for its SYN, the connect fails
            }
        }
        accepted.incrementAndGet();
        out.acceptIrp(TdiBuild.accept(s.accept, s.endpoint, null, null, null, null)).connectionContext(s);
        return NtStatus.STATUS_MORE_PROCESSING_REQUIRED;
    }

    @Override
    public NtStatus clientEventChainedReceive(Object tdiEventContext, Object connectionContext, int receiveFlags,
                                         int receiveLength, int startingOffset, Tsdu tsdu) {
        return ((Session) connectionContext).echo(tsdu, startingOffset, 0);
    }

    @Override
    public NtStatus clientEventDisconnect(Object tdiEventContext, Object connectionContext, int disconnectFlags) {
        Session s = (Session) connectionContext;
        if ((disconnectFlags & Tdi.TDI_DISCONNECT_RELEASE) != 0) {
            tdi.callDriver(TdiBuild.disconnect(s.release, s.endpoint, s.released, null, Tdi.TIMEOUT_DEFAULT,
                Tdi.TDI_DISCONNECT_RELEASE, null, null));
        } else {
            aborted.incrementAndGet();
            idle.add(s);
        }
        return NtStatus.STATUS_SUCCESS;
    }

    /** One connection endpoint and its reusable IRPs. */
    private final class Session {
        TdiConnection endpoint;
        final Irp accept = new Irp();
        final Irp release = new Irp();
        final ArrayDeque<Send> free = new ArrayDeque<>();
        final IoCompletionRoutine released = (irp, context) -> {
            if (irp.ioStatus().status() == NtStatus.STATUS_SUCCESS) {
                closed.incrementAndGet();
            } else {
                aborted.incrementAndGet();
            }
            idle.add(this);
        };

        NtStatus echo(Tsdu tsdu, int offset, int sendFlags) {
            Chain chain = new Chain(tsdu);
            int skip = offset;
            for (int i = 0; i < tsdu.segmentCount(); i++) {
                int n = tsdu.segmentLength(i) - skip;
                long at = tsdu.segmentAddress(i) + skip;
                skip = Math.max(0, skip - tsdu.segmentLength(i));
                if (n > 0) {
                    Send s = free.isEmpty() ? new Send() : free.poll();
                    s.chain = chain;
                    chain.outstanding++;
                    tdi.callDriver(TdiBuild.send(s.irp, endpoint, s.done, null, at, sendFlags, n));
                }
            }
            return NtStatus.STATUS_PENDING; // kept until the echo is sent
        }

        private final class Send {
            final Irp irp = new Irp();
            Chain chain;
            final IoCompletionRoutine done = (irp, context) -> {
                if (irp.ioStatus().status() == NtStatus.STATUS_SUCCESS) {
                    echoed.addAndGet(irp.ioStatus().information());
                } else {
                    failures.incrementAndGet();
                }
                Chain c = chain;
                chain = null;
                free.add(this);
                if (--c.outstanding == 0) {
                    tdi.returnChainedReceives(c.tsdu, 1);
                }
            };
        }
    }

    private static final class Chain {
        final Tsdu[] tsdu;
        int outstanding;

        Chain(Tsdu t) {
            tsdu = new Tsdu[] {t};
        }
    }
}
