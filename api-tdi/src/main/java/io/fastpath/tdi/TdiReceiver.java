package io.fastpath.tdi;

import io.fastpath.provider.DescriptorQueue;
import io.fastpath.provider.Endpoint;
import io.fastpath.provider.IrpQueue;
import io.fastpath.provider.NtStatus;
import io.fastpath.provider.Verifier;
import java.nio.ByteBuffer;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A TDI connection endpoint's receive side: TDI_RECEIVE IRPs (normal, expedited, peek), then the address
 * object's ClientEventChainedReceive (a read-only TSDU chain over the endpoint's descriptors) or
 * ClientEventReceive (the head descriptor's bytes in place), the expedited variants for urgent bytes, and the
 * release indication once the peer's FIN and every byte before it were taken; and the other indications to the
 * address object's handlers (ClientEventDisconnect, ClientEventSendPossible).
 *
 * <p>Thread: the provider's dispatch thread. Normal data stays in the endpoint's mbufs (zero copy); expedited
 * bytes are kept in a small native buffer of its own.
 */
final class TdiReceiver {
    private static final int EXPEDITED_BYTES = 64;

    private final TdiConnection c;
    private final TdiProvider provider;
    private final Endpoint<Irp, TdiConnection> ep;
    private final DescriptorQueue data;
    private final IrpQueue<Irp> receives = new IrpQueue<>();
    private final IrpQueue<Irp> expeditedReceives = new IrpQueue<>();
    private boolean blocked;
    private final UnsafeBuffer expedited;
    private final long expeditedAddress;
    int expeditedLength;
    private boolean expeditedBlocked;
    /** Expedited bytes dropped because {@link #EXPEDITED_BYTES} were already waiting (ReceiveErrors). */
    long expeditedBytesDropped;
    /** ClientEventError(STATUS_DATA_OVERRUN) went out for the current overrun; set again once a byte fits. */
    private boolean overrunReported;
    private boolean delivering;
    long receivedTsdus;

    TdiReceiver(TdiConnection connection, Endpoint<Irp, TdiConnection> ep) {
        this.c = connection;
        this.provider = connection.provider;
        this.ep = ep;
        this.data = ep.received();
        ByteBuffer b = ByteBuffer.allocateDirect(EXPEDITED_BYTES);
        this.expedited = new UnsafeBuffer(b);
        this.expeditedAddress = BufferUtil.address(b);
    }

    /** A new connection on the endpoint: nothing blocked, no expedited bytes, fresh per-connection counts. */
    void reset() {
        blocked = false;
        expeditedBlocked = false;
        expeditedLength = 0;
        expeditedBytesDropped = 0; // TDI_CONNECTION_INFO.ReceiveErrors and the overrun report are per connection
        overrunReported = false;
    }

    /** The connection ended: pending receives complete ({@code status}, or TDI_GRACEFUL_DISC for an orderly end). */
    void detach(int status) {
        expeditedLength = 0;
        int receiveStatus = status == NtStatus.STATUS_SUCCESS.code()
            ? NtStatus.STATUS_GRACEFUL_DISCONNECT.code() : status;
        Irp r;
        while ((r = receives.poll()) != null) {
            complete(r, receiveStatus, 0);
        }
        while ((r = expeditedReceives.poll()) != null) {
            complete(r, receiveStatus, 0);
        }
    }

    /** IoCancelIrp of a pending TDI_RECEIVE; false when it is not one. */
    boolean cancel(Irp irp) {
        if (receives.remove(irp) || expeditedReceives.remove(irp)) {
            complete(irp, NtStatus.STATUS_CANCELLED.code(), 0);
            return true;
        }
        return false;
    }

    private int complete(Irp irp, int status, long information) {
        return provider.complete(irp, status, information, null);
    }

    private static int pending(Irp irp) {
        irp.markPending();
        return NtStatus.STATUS_PENDING.code();
    }

    int receive(Irp irp) {
        boolean expeditedOnly = (irp.flags() & Tdi.TDI_RECEIVE_EXPEDITED) != 0
            && (irp.flags() & Tdi.TDI_RECEIVE_NORMAL) == 0;
        if (c.state != TdiConnection.CONNECTED) {
            return complete(irp, NtStatus.STATUS_INVALID_CONNECTION.code(), 0);
        }
        if (irp.bufferLength() < 0 || irp.bufferLength() > 0 && irp.bufferAddress() == 0) {
            return complete(irp, NtStatus.STATUS_INVALID_PARAMETER.code(), 0);
        }
        boolean peek = (irp.flags() & Tdi.TDI_RECEIVE_PEEK) != 0;
        irp.incarnation = c.incarnation;
        if (expeditedOnly) {
            if (expeditedReceives.isEmpty() && expeditedLength > 0) {
                return completeExpedited(irp, peek);
            }
            if (expeditedLength == 0 && ep.peerReleased() && c.disconnectIndicated) {
                return complete(irp, NtStatus.STATUS_GRACEFUL_DISCONNECT.code(), 0);
            }
            expeditedReceives.add(irp);
            return pending(irp);
        }
        if (acceptsBoth(irp) && expeditedLength > 0 && expeditedReceives.isEmpty() && receives.isEmpty()) {
            return completeExpedited(irp, peek); // expedited data goes before normal data
        }
        if (receives.isEmpty() && data.bytes() > 0) {
            return completeNormal(irp, peek);
        }
        if (receives.isEmpty() && ep.peerReleased() && c.disconnectIndicated) {
            return complete(irp, NtStatus.STATUS_GRACEFUL_DISCONNECT.code(), 0);
        }
        receives.add(irp);
        return pending(irp);
    }

    private int completeNormal(Irp irp, boolean peek) {
        long before = data.bytes();
        int n = ep.copyTo(irp.bufferAddress(), irp.bufferLength(), peek);
        receivedTsdus++;
        provider.receivesDone++;
        provider.bytesReceived += peek ? 0 : n;
        if (data.bytes() == 0) {
            blocked = false;
            provider.schedule(c); // a FIN behind the data, or a closed connection to finish
        }
        int status = peek && before > n ? NtStatus.STATUS_BUFFER_OVERFLOW.code() : NtStatus.STATUS_SUCCESS.code();
        return complete(irp, status, n);
    }

    /** Flags 0, or NORMAL and EXPEDITED both: either kind of data will do (the TDI_RECEIVE document). */
    private static boolean acceptsBoth(Irp irp) {
        int kinds = irp.flags() & (Tdi.TDI_RECEIVE_NORMAL | Tdi.TDI_RECEIVE_EXPEDITED);
        return kinds == 0 || kinds == (Tdi.TDI_RECEIVE_NORMAL | Tdi.TDI_RECEIVE_EXPEDITED);
    }

    private int completeExpedited(Irp irp, boolean peek) {
        int n = Math.min(expeditedLength, irp.bufferLength());
        provider.copy(expeditedAddress, irp.bufferAddress(), n);
        int status = n < expeditedLength ? NtStatus.STATUS_RECEIVE_PARTIAL_EXPEDITED.code()
            : NtStatus.STATUS_RECEIVE_EXPEDITED.code();
        if (!peek) {
            takeExpedited(n);
        }
        return complete(irp, status, n);
    }

    private void takeExpedited(int n) {
        expedited.putBytes(0, expedited, n, expeditedLength - n);
        expeditedLength -= n;
        if (expeditedLength == 0) {
            expeditedBlocked = false;
        }
    }

    void onReceive(long mbuf, long at, int length) {
        ep.onReceive(mbuf, at, length); // straight from the event ring into the endpoint's queue
        if (c.state == TdiConnection.CONNECTED) {
            deliver();
        }
    }

    /**
     * Urgent bytes from the stack (one per urgent pointer). Up to {@link #EXPEDITED_BYTES} wait for the client;
     * past that (the client refuses or does not read them) the newer bytes are dropped, never silently: they
     * count in TDI_CONNECTION_INFO.ReceiveErrors and ClientEventError(STATUS_DATA_OVERRUN) tells the client
     * once per overrun.
     */
    void onUrgentData(DirectBuffer buffer, int offset, int length) {
        int n = Math.min(length, EXPEDITED_BYTES - expeditedLength);
        expedited.putBytes(expeditedLength, buffer, offset, n);
        expeditedLength += n;
        if (n < length) {
            expeditedBytesDropped += length - n;
            if (!overrunReported) {
                overrunReported = true;
                provider.raiseError(c.address, NtStatus.STATUS_DATA_OVERRUN.code());
            }
        } else {
            overrunReported = false;
        }
        if (c.state == TdiConnection.CONNECTED) {
            deliver();
        }
    }

    void deliver() {
        if (delivering) {
            provider.schedule(c);
            return;
        }
        delivering = true;
        try {
            int inc = c.incarnation;
            deliverExpedited(inc);
            deliverNormal(inc);
            if (inc != c.incarnation || c.state != TdiConnection.CONNECTED) {
                return;
            }
            if (data.bytes() == 0) {
                blocked = false;
                if (ep.peerReleased() && !c.disconnectIndicated) {
                    indicateRelease();
                }
                if (inc == c.incarnation && ep.stackClosed() && c.state == TdiConnection.CONNECTED) {
                    c.finish();
                }
            }
        } finally {
            delivering = false;
        }
    }

    private void deliverNormal(int inc) {
        while (c.state == TdiConnection.CONNECTED && inc == c.incarnation && data.bytes() > 0) {
            Irp r = receives.poll();
            if (r != null) {
                completeNormal(r, (r.flags() & Tdi.TDI_RECEIVE_PEEK) != 0);
                continue;
            }
            TdiAddress a = c.address;
            if (blocked || a == null) {
                return;
            }
            // Under memory pressure (the stack's TCP memory at three quarters of its budget) a client that has a
            // ClientEventReceive handler gets the data through it (it copies; the mbufs go back at once) instead of
            // as a chain it may keep: as a Windows transport indicates through ClientEventReceive when NDIS says
            // NDIS_STATUS_RESOURCES. A client with a chained handler only still gets chains.
            if (a.chainedHandler != null && (a.receiveHandler == null || !provider.tcp.memoryPressure())) {
                indicateChained(a, inc);
            } else if (a.receiveHandler != null) {
                indicateReceive(a, inc);
            } else {
                return;
            }
        }
    }

    private void indicateChained(TdiAddress a, int inc) {
        Tsdu t = provider.chains.acquire();
        t.handle = ep.handle();
        t.connection = c;
        int n = data.count();
        for (int i = 0; i < n; i++) {
            t.add(data.mbuf(i), data.address(i), data.length(i));
        }
        t.startingOffset = data.headOffset();
        int length = (int) data.bytes();
        while (data.count() > 0) {
            data.dropHead(); // the TSDU holds them now
        }
        t.state(Tsdu.INDICATED);
        int status;
        long start = Verifier.ENABLED ? Verifier.handlerStart() : 0;
        try {
            status = a.chainedHandler.clientEventChainedReceive(a.chainedContext, c.context,
                Tdi.TDI_RECEIVE_NORMAL | Tdi.TDI_RECEIVE_ENTIRE_MESSAGE | Tdi.TDI_RECEIVE_AT_DISPATCH_LEVEL,
                length, t.startingOffset, t).code();
        } catch (Throwable e) {
            provider.onError(e);
            status = NtStatus.STATUS_DATA_NOT_ACCEPTED.code();
        }
        if (Verifier.ENABLED) {
            Verifier.handlerDone(start, a.chainedHandler, "ClientEventChainedReceive");
        }
        if (status == NtStatus.STATUS_PENDING.code()) {
            provider.chains.hold(t);
            countReceived(length);
        } else if (status == NtStatus.STATUS_SUCCESS.code()) {
            provider.chains.release(t);
            countReceived(length);
        } else if (inc == c.incarnation && c.state == TdiConnection.CONNECTED) {
            // STATUS_DATA_NOT_ACCEPTED: back in the queue (nothing arrived meanwhile) for a TDI_RECEIVE
            for (int i = 0; i < t.count; i++) {
                data.add(t.mbuf[i], t.address[i], t.length[i]);
            }
            data.consumeHead(t.startingOffset);
            blocked = true;
            provider.chains.free(t);
        } else {
            provider.chains.release(t);
        }
    }

    private void countReceived(int length) {
        receivedTsdus++;
        provider.receivesDone++;
        provider.bytesReceived += length;
    }

    private void indicateReceive(TdiAddress a, int inc) {
        int indicated = data.headRemaining();
        int available = (int) Math.min(data.bytes(), Integer.MAX_VALUE);
        TdiEventReturn out = provider.eventReturn;
        out.reset();
        int flags = Tdi.TDI_RECEIVE_NORMAL | Tdi.TDI_RECEIVE_AT_DISPATCH_LEVEL
            | (indicated == available ? Tdi.TDI_RECEIVE_ENTIRE_MESSAGE : 0);
        int status;
        long start = Verifier.ENABLED ? Verifier.handlerStart() : 0;
        try {
            status = a.receiveHandler.clientEventReceive(a.receiveContext, c.context, flags, indicated, available,
                data.headAddress(), out).code();
        } catch (Throwable e) {
            provider.onError(e);
            status = NtStatus.STATUS_DATA_NOT_ACCEPTED.code();
        }
        if (Verifier.ENABLED) {
            Verifier.handlerDone(start, a.receiveHandler, "ClientEventReceive");
        }
        Irp irp = out.irp();
        if (inc != c.incarnation || c.state != TdiConnection.CONNECTED) {
            // The handler ended the connection (ABORT) or it died meanwhile: an IRP it handed back is not dropped.
            if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
                provider.failHandedBack(irp, NtStatus.STATUS_CANCELLED.code());
            }
            return;
        }
        int taken = Math.max(0, Math.min(out.bytesTaken(), indicated));
        if (status == NtStatus.STATUS_SUCCESS.code() || status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
            ep.consume(taken);
            if (taken > 0) {
                countReceived(taken);
            }
        }
        if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code() && acceptableReceive(irp, false)) {
            irp.begin(provider);
            irp.markPending();
            irp.incarnation = c.incarnation;
            receives.addFirst(irp); // filled from the rest at once
        } else if (status != NtStatus.STATUS_SUCCESS.code() || taken < indicated) {
            blocked = true; // until TDI_RECEIVEs take what is left
            if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
                provider.failHandedBack(irp, NtStatus.STATUS_INVALID_CONNECTION.code());
                provider.raiseError(a, NtStatus.STATUS_INVALID_PARAMETER.code());
            }
        }
    }

    private boolean acceptableReceive(Irp irp, boolean expeditedOnly) {
        if (irp == null || irp.minorFunction != Tdi.TDI_RECEIVE || irp.fileObject != c || !irp.ready()) {
            return false;
        }
        boolean exp = (irp.flags() & Tdi.TDI_RECEIVE_EXPEDITED) != 0 && (irp.flags() & Tdi.TDI_RECEIVE_NORMAL) == 0;
        return exp == expeditedOnly && irp.bufferLength() >= 0;
    }

    private void deliverExpedited(int inc) {
        while (c.state == TdiConnection.CONNECTED && inc == c.incarnation && expeditedLength > 0) {
            Irp r = expeditedReceives.poll();
            if (r == null && receives.peek() != null && acceptsBoth(receives.peek())) {
                r = receives.poll(); // a receive for either kind takes expedited data first
            }
            if (r != null) {
                completeExpedited(r, (r.flags() & Tdi.TDI_RECEIVE_PEEK) != 0);
                continue;
            }
            TdiAddress a = c.address;
            if (expeditedBlocked || a == null) {
                return;
            }
            int flags = Tdi.TDI_RECEIVE_EXPEDITED | Tdi.TDI_RECEIVE_ENTIRE_MESSAGE | Tdi.TDI_RECEIVE_AT_DISPATCH_LEVEL;
            if (a.chainedExpeditedHandler != null) {
                Tsdu t = provider.chains.acquire();
                t.handle = ep.handle();
                t.connection = c;
                t.expedited = true;
                int n = expeditedLength;
                provider.copy(expeditedAddress, t.expeditedAddress, n);
                t.add(0, t.expeditedAddress, n);
                expeditedLength = 0;
                t.state(Tsdu.INDICATED);
                int status;
                try {
                    status = a.chainedExpeditedHandler.clientEventChainedReceive(a.chainedExpeditedContext, c.context,
                        flags, n, 0, t).code();
                } catch (Throwable e) {
                    provider.onError(e);
                    status = NtStatus.STATUS_DATA_NOT_ACCEPTED.code();
                }
                if (status == NtStatus.STATUS_PENDING.code()) {
                    provider.chains.hold(t);
                } else if (status == NtStatus.STATUS_SUCCESS.code() || inc != c.incarnation) {
                    provider.chains.free(t);
                } else {
                    provider.copy(t.expeditedAddress, expeditedAddress, n);
                    expeditedLength = n;
                    expeditedBlocked = true;
                    provider.chains.free(t);
                }
            } else if (a.receiveExpeditedHandler != null) {
                TdiEventReturn out = provider.eventReturn;
                out.reset();
                int n = expeditedLength;
                int status;
                try {
                    status = a.receiveExpeditedHandler.clientEventReceive(a.receiveExpeditedContext, c.context, flags,
                        n, n, expeditedAddress, out).code();
                } catch (Throwable e) {
                    provider.onError(e);
                    status = NtStatus.STATUS_DATA_NOT_ACCEPTED.code();
                }
                Irp irp = out.irp();
                if (inc != c.incarnation || c.state != TdiConnection.CONNECTED) {
                    if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
                        provider.failHandedBack(irp, NtStatus.STATUS_CANCELLED.code());
                    }
                    return;
                }
                int taken = Math.max(0, Math.min(out.bytesTaken(), n));
                if (status == NtStatus.STATUS_SUCCESS.code() || status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
                    takeExpedited(taken);
                }
                if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code() && acceptableReceive(irp, true)) {
                    irp.begin(provider);
                    irp.markPending();
                    irp.incarnation = c.incarnation;
                    expeditedReceives.addFirst(irp);
                } else if (status != NtStatus.STATUS_SUCCESS.code() || taken < n) {
                    if (status == NtStatus.STATUS_MORE_PROCESSING_REQUIRED.code()) {
                        provider.failHandedBack(irp, NtStatus.STATUS_INVALID_CONNECTION.code());
                        provider.raiseError(a, NtStatus.STATUS_INVALID_PARAMETER.code());
                    }
                    expeditedBlocked = expeditedLength > 0;
                    if (!expeditedBlocked) {
                        return;
                    }
                }
            } else {
                return;
            }
        }
    }

    void indicateRelease() {
        if (c.acceptAwaitsConnectData()) {
            return; // the accept completes first: indicated once the stack took its connect data (deliver again)
        }
        // An accept IRP from ClientEventConnect still deferred to the round's end completes S first (as before an
        // abortive disconnect); its routine may end or reuse the endpoint, and then there is nothing to indicate.
        // The peer's FIN came before anything the routine does: a release it asks for does not hide the indication.
        boolean releasedBefore = ep.localReleased();
        int inc = c.incarnation;
        c.completeDeferredAccept();
        if (inc != c.incarnation || c.state != TdiConnection.CONNECTED || c.disconnectIndicated) {
            return;
        }
        c.disconnectIndicated = true;
        for (Irp r; (r = receives.poll()) != null; ) {
            complete(r, NtStatus.STATUS_GRACEFUL_DISCONNECT.code(), 0);
        }
        if (expeditedLength == 0) {
            for (Irp r; (r = expeditedReceives.poll()) != null; ) {
                complete(r, NtStatus.STATUS_GRACEFUL_DISCONNECT.code(), 0); // nothing more comes after the peer's FIN
            }
        }
        if (!releasedBefore) {
            provider.remoteDisconnects++;
            indicateDisconnect(Tdi.TDI_DISCONNECT_RELEASE);
        }
    }

    /** ClientEventDisconnect, when the address object has a handler. */
    void indicateDisconnect(int flags) {
        TdiAddress a = c.address;
        if (a != null && a.disconnectHandler != null) {
            try {
                a.disconnectHandler.clientEventDisconnect(a.disconnectContext, c.context, flags);
            } catch (Throwable t) {
                provider.onError(t);
            }
        }
    }

    /** ClientEventSendPossible after a TDI_SEND_NON_BLOCKING was refused, when the address object has a handler. */
    void indicateSendPossible() {
        TdiAddress a = c.address;
        if (a != null && a.sendPossibleHandler != null) {
            try {
                a.sendPossibleHandler.clientEventSendPossible(a.sendPossibleContext, c.context,
                    provider.sendBufferBytes);
            } catch (Throwable t) {
                provider.onError(t);
            }
        }
    }
}
