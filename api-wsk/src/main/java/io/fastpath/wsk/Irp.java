package io.fastpath.wsk;

/**
 * An I/O request packet for a WSK call: caller-owned, allocated once and reused for call after call
 * (IoReuseIrp), so the request path allocates nothing. A WSK call takes an IRP, returns STATUS_SUCCESS,
 * STATUS_PENDING or a failure, and completes the IRP with that same status in every case; the
 * {@link IrpCompletionRoutine} runs exactly once per call.
 *
 * <p>The life cycle, status block, routines and {@link #cancel()} (IoCancelIrp) are the shared
 * {@link io.fastpath.provider.Irp}'s; this class adds the WSK call's parameters. Handing an IRP still in
 * progress to another call, or one completed and not {@link #reuse() reused}, throws
 * {@link IllegalStateException}.
 *
 * <p>IoCancelIrp: accepts, receives and sends that have not reached the stack yet complete with
 * STATUS_CANCELLED (a receive keeps the bytes it already has in Information); so do connects (WskConnect,
 * WskConnectEx, WskSocketConnect: the attempt is reset when the stack answers, see WskSocket); requests the
 * stack is already carrying out (data in the send buffer, disconnect) run to their end.
 *
 * <p>Threads: the provider fills the status and runs the routine on its dispatch thread; {@link #completed()},
 * {@link #pending()} and {@link #cancel()} may be called from any thread.
 */
public final class Irp extends io.fastpath.provider.Irp<Irp> {
    // ---- the request's parameters (the IO_STACK_LOCATION), written by the call, read on the dispatch thread
    int op;
    WskSocket socket;
    WskProvider provider;
    // (the buffer and the flags are the shared Irp's: bufferAddress(), bufferLength(), flags())
    boolean hasBuffer;
    /**
     * The buffer's owner ({@link WskBuf#owner()}: a direct ByteBuffer, a MemorySegment; null for a raw address),
     * held until the IRP completes so that a GC cannot free the memory while the stack still copies from or to it.
     */
    Object bufferOwner;
    SocketAddressV4 address;
    SocketAddressV4 address2;
    /** WskAccept's LocalAddress / RemoteAddress out-parameters (optional). */
    SocketAddressV4Out localOut;
    SocketAddressV4Out remoteOut;
    Object requestContext;
    WskClientDispatch requestDispatch;
    int family;
    int type;
    int protocol;
    int controlCode;
    int level;
    long value;
    // ---- progress while pending
    long progress;
    boolean submitted;

    /** Claims the IRP for call {@code operation} of provider {@code p}. */
    void begin(int operation, WskProvider p) {
        begin(p.cancels);
        op = operation;
        provider = p;
    }

    /** The call's buffer (a WskBuf's bytes) and the object that owns its memory (or null). */
    void buffer(long address, int length, Object owner) {
        hasBuffer = true;
        bufferOwner = owner;
        setBuffer(address, length);
    }

    /** The call's flags. */
    void flags(int requestFlags) {
        setFlags(requestFlags);
    }

    @Override
    protected void onBegin() {
        clearBuffer();
        clearParameters();
    }

    @Override
    protected void onComplete() {
        socket = null;
        bufferOwner = null; // the provider and the stack are done with the memory
    }

    @Override
    protected void clearParameters() {
        op = 0;
        socket = null;
        hasBuffer = false;
        bufferOwner = null;
        address = null;
        address2 = null;
        localOut = null;
        remoteOut = null;
        requestContext = null;
        requestDispatch = null;
        family = 0;
        type = 0;
        protocol = 0;
        controlCode = 0;
        level = 0;
        value = 0;
        progress = 0;
        submitted = false;
    }
}
