package io.fastpath.provider;

import io.fastpath.stack.tcp.TcpClient;
import java.util.Map;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * One stack connection under a provider, the part that is the same whether the application sees a WSK socket, a
 * TDI connection endpoint or an NDK connector: the entry in the provider's handle map, the received descriptors
 * (lent, held, returned: {@link DescriptorQueue}), the send pump ({@link SendPump}) and the disconnect sequence
 * (FIN after the queued sends, abort, the stack's close). Each API keeps its Windows shape on top and says what
 * its IRPs mean; this class says what the connection does.
 *
 * <pre>
 *   attach(handle) ── onReceive / copyTo / consume / releaseAll ── sends: add → pumpSends → completeOldest
 *        │                                                          │
 *        └─ shutdown (FIN now) | shutdownAfterSends (FIN once the sends are in) | abort (RST)
 *                 onPeerClosed (peer's FIN) · onStackClosed(status) (the stack is done) → unmap
 * </pre>
 *
 * <p>Thread: the provider's dispatch thread. Buffers: the received descriptors are the stack's mbufs, held here
 * until consumed, released, or taken off the queue by the API that lends or hands them over (it then returns
 * them itself, through the same {@link DescriptorReleaser}); send buffers are the caller's until their IRP
 * completes.
 *
 * @param <I> the API's IRP type
 * @param <O> the API's connection object (what the handle map holds)
 */
public final class Endpoint<I extends Irp<I>, O> {
    /** What the endpoint asks of the stack besides sends: TcpServiceClient's controls, which cannot be lost. */
    public interface Controls {
        void shutdown(long handle);

        void abort(long handle);
    }

    private final Controls tcp;
    private final DescriptorReleaser releaser;
    private final NativeCopier copier;
    /** The provider's handle map; an Agrona map (the providers' own) is used without boxing. */
    private final Map<Long, ? super O> byHandle;
    private final Long2ObjectHashMap<? super O> primitive;
    private final O owner;
    private final DescriptorQueue received;
    private final SendPump<I> sends;

    // The disconnect sequence of the current connection: a set of the bits below, none when it starts.
    /** Our FIN is asked for (it may still wait behind the queued sends: {@link #FIN_PENDING}). */
    private static final int LOCAL_RELEASED = 1;
    private static final int FIN_PENDING = 2;
    private static final int PEER_RELEASED = 4;
    private static final int STACK_CLOSED = 8;
    private static final int ABORT_ISSUED = 16;

    private long handle;
    private int sequence;

    /** An endpoint over a provider's {@link TcpClient}. */
    public Endpoint(TcpClient tcp, DescriptorReleaser releaser, NativeCopier copier,
                    Map<Long, ? super O> byHandle, O owner, int receiveCapacity, int maxSendsInStack,
                    SendPump.Submitter<I> submitter) {
        this(new Controls() {
            @Override
            public void shutdown(long handle) {
                tcp.shutdown(handle);
            }

            @Override
            public void abort(long handle) {
                tcp.abort(handle);
            }
        }, releaser, copier, byHandle, owner, receiveCapacity, maxSendsInStack, submitter);
    }

    /**
     * @param controls the stack's controls for the connection (a TcpServiceClient's, or a test's)
     * @param receiveCapacity the descriptor queue's first capacity (it grows when needed)
     * @param maxSendsInStack sends handed to the stack at once; 0 with a null {@code submitter}: no send pump
     */
    public Endpoint(Controls controls, DescriptorReleaser releaser, NativeCopier copier,
                    Map<Long, ? super O> byHandle, O owner, int receiveCapacity, int maxSendsInStack,
                    SendPump.Submitter<I> submitter) {
        this.tcp = controls;
        this.releaser = releaser;
        this.copier = copier;
        this.byHandle = byHandle;
        this.primitive = byHandle instanceof Long2ObjectHashMap<?> m ? cast(m) : null;
        this.owner = owner;
        this.received = new DescriptorQueue(receiveCapacity);
        this.sends = submitter == null ? null : new SendPump<>(maxSendsInStack, submitter);
    }

    @SuppressWarnings("unchecked")
    private static <O> Long2ObjectHashMap<? super O> cast(Long2ObjectHashMap<?> map) {
        return (Long2ObjectHashMap<? super O>) map;
    }

    // ---------------------------------------------------------------- the handle

    /** The stack's connection handle (generation | slot), 0 when there is none. */
    public long handle() {
        return handle;
    }

    public boolean hasHandle() {
        return handle != 0;
    }

    /** A connection (or a held request) is this endpoint's now: mapped, and its disconnect state fresh. */
    public void attach(long h) {
        handle = h;
        sequence = 0;
        if (primitive != null) {
            primitive.put(h, owner);
        } else {
            byHandle.put(h, owner);
        }
    }

    /** Takes the handle out of the provider's map if it still maps to this endpoint (events for it are dropped). */
    public void unmap() {
        if (handle == 0) {
            return;
        }
        if (primitive != null) {
            if (primitive.get(handle) == owner) {
                primitive.remove(handle);
            }
        } else if (byHandle.get(handle) == owner) {
            byHandle.remove(handle);
        }
    }

    /** Forgets the handle (after {@link #unmap}, before the endpoint carries another connection). */
    public void clearHandle() {
        handle = 0;
    }

    /**
     * Readies the endpoint for another connection when its owner is reused (a pooled socket): no handle and a
     * fresh disconnect sequence. False, changing nothing, while it still holds a received descriptor or a send:
     * then it must not be reused yet. Call after {@link #unmap}.
     */
    public boolean resetForReuse() {
        if (!received.isEmpty() || sends != null && !sends.isEmpty()) {
            return false;
        }
        handle = 0;
        sequence = 0;
        return true;
    }

    // ---------------------------------------------------------------- received data

    /** The received descriptors (to lend or hand over; see {@link DescriptorQueue}). */
    public DescriptorQueue received() {
        return received;
    }

    /** A descriptor the event ring handed over: straight into the queue, this endpoint owns it now. */
    public void onReceive(long mbuf, long address, int length) {
        received.add(mbuf, address, length);
    }

    /** Returns a descriptor the endpoint will not keep (it came after the close) to the stack at once. */
    public void refuse(long mbuf, long address, int length) {
        if (Verifier.ENABLED) {
            Verifier.poison(address, length);
        }
        releaser.release(handle, mbuf, length);
    }

    /** Copies up to {@code max} received bytes to {@code target}, consuming them unless {@code peek}. */
    public int copyTo(long target, int max, boolean peek) {
        return received.copyTo(copier, target, max, peek, handle, releaser);
    }

    /** Consumes {@code n} received bytes (an event callback took them), returning used-up descriptors. */
    public void consume(long n) {
        received.consume(handle, (int) Math.min(n, Integer.MAX_VALUE), releaser);
    }

    /** Returns every received descriptor to the stack. */
    public void releaseAll() {
        received.releaseAll(handle, releaser);
    }

    /** Returns one descriptor this endpoint lent or handed out and got back (a chain link the client released). */
    public void returnDescriptor(long mbuf, int length) {
        releaser.release(handle, mbuf, length);
    }

    public long receivedBytes() {
        return received.bytes();
    }

    // ---------------------------------------------------------------- sends

    /** The send pump (null when the API sends some other way). */
    public SendPump<I> sends() {
        return sends;
    }

    /** Hands queued sends to the stack; then our FIN if {@link #shutdownAfterSends} asked for it and they are in. */
    public void pumpSends() {
        sends.pump();
        if ((sequence & FIN_PENDING) != 0 && sends.waitingEmpty()) {
            shutdown();
        }
    }

    // ---------------------------------------------------------------- disconnect sequence

    /** Our FIN now, behind what the stack has taken (a control: it cannot be lost to a full ring). */
    public void shutdown() {
        sequence = (sequence | LOCAL_RELEASED) & ~FIN_PENDING;
        tcp.shutdown(handle);
    }

    /** Our FIN once every queued send is in the stack ({@link #pumpSends}); no send may follow. */
    public void shutdownAfterSends() {
        sequence |= LOCAL_RELEASED | FIN_PENDING;
    }

    /** RST (a control: it cannot be lost to a full ring); the stack's close follows. */
    public void abort() {
        sequence |= ABORT_ISSUED;
        tcp.abort(handle);
    }

    public void onPeerClosed() {
        sequence |= PEER_RELEASED;
    }

    /** The stack is done with the connection: closed both ways in good order ({@code success}), or not. */
    public void onStackClosed(boolean success) {
        sequence |= success ? STACK_CLOSED | PEER_RELEASED : STACK_CLOSED;
    }

    /** Our FIN is asked for (or sent). */
    public boolean localReleased() {
        return (sequence & LOCAL_RELEASED) != 0;
    }

    public boolean peerReleased() {
        return (sequence & PEER_RELEASED) != 0;
    }

    public boolean stackClosed() {
        return (sequence & STACK_CLOSED) != 0;
    }

    public boolean abortIssued() {
        return (sequence & ABORT_ISSUED) != 0;
    }

    /** Nothing more can go to the stack on this connection: it is closed, aborted, or there is none. */
    public boolean sendsBlocked() {
        return handle == 0 || (sequence & (STACK_CLOSED | ABORT_ISSUED)) != 0;
    }

    /**
     * A close must reset the connection: there is one, the stack has not closed it, it is not aborted already,
     * and it is not closed both ways (our FIN sent, the peer's received).
     */
    public boolean abortAtClose() {
        return handle != 0 && (sequence & (STACK_CLOSED | ABORT_ISSUED)) == 0
            && (sequence & (LOCAL_RELEASED | FIN_PENDING | PEER_RELEASED)) != (LOCAL_RELEASED | PEER_RELEASED);
    }

    /** The close can finish: no send in the stack, and an abort, if one went out, answered by the stack. */
    public boolean quiescent() {
        return (sends == null || sends.inStack() == 0)
            && ((sequence & ABORT_ISSUED) == 0 || (sequence & STACK_CLOSED) != 0 || handle == 0);
    }
}
