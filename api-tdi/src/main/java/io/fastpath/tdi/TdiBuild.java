package io.fastpath.tdi;

/**
 * The {@code TdiBuildXxx} macros: each sets up a caller-owned {@link Irp} for one TDI request (minor function,
 * file object, completion routine and context, parameters), after which {@link TdiProvider#callDriver}
 * (IoCallDriver) submits it. Building reuses the IRP (IoReuseIrp), so one IRP serves request after request;
 * building one that is still in progress throws {@link IllegalStateException}.
 *
 * <p>MDLs are native memory: {@code address} + {@code length}, valid until the IRP completes. The IRP carries
 * only the address, so whatever owns the memory must stay reachable until then too: a direct ByteBuffer's
 * memory is freed when the buffer is collected, which can happen as soon as its address was taken (keep it in a
 * field, or end its scope with {@link java.lang.ref.Reference#reachabilityFence}). Time-outs are
 * TDI's: a negative count of 100 ns units relative to now ({@link Tdi#relativeTimeout}), or
 * {@link Tdi#TIMEOUT_DEFAULT} for NULL.
 */
public final class TdiBuild {
    private TdiBuild() {
    }

    private static Irp start(Irp irp, int minor, Object fileObject, IoCompletionRoutine routine, Object context) {
        if (irp == null || fileObject == null) {
            throw missing(irp == null);
        }
        irp.reuse();
        irp.minorFunction = minor;
        irp.fileObject = fileObject;
        irp.setCompletionRoutine(routine, context);
        return irp;
    }

    private static NullPointerException missing(boolean irp) {
        return new NullPointerException(irp ? "irp" : "file object");
    }

    /** TdiBuildAssociateAddress: ties the endpoint to an address object. */
    public static Irp associateAddress(Irp irp, TdiConnection connection, IoCompletionRoutine routine, Object context,
                                       TdiAddress address) {
        start(irp, Tdi.TDI_ASSOCIATE_ADDRESS, connection, routine, context).address = address;
        return irp;
    }

    /** TdiBuildDisassociateAddress. */
    public static Irp disassociateAddress(Irp irp, TdiConnection connection, IoCompletionRoutine routine,
                                          Object context) {
        return start(irp, Tdi.TDI_DISASSOCIATE_ADDRESS, connection, routine, context);
    }

    /** TdiBuildConnect: offers a connection to {@code requestInfo}'s remote address. */
    public static Irp connect(Irp irp, TdiConnection connection, IoCompletionRoutine routine, Object context,
                              long timeout, TdiConnectionInformation requestInfo, TdiConnectionInformation returnInfo) {
        start(irp, Tdi.TDI_CONNECT, connection, routine, context);
        irp.timeout = timeout;
        irp.requestInfo = requestInfo;
        irp.returnInfo = returnInfo;
        return irp;
    }

    /** TdiBuildListen: flags 0 (accept at once) or {@link Tdi#TDI_QUERY_ACCEPT}. */
    public static Irp listen(Irp irp, TdiConnection connection, IoCompletionRoutine routine, Object context, int flags,
                             TdiConnectionInformation requestInfo, TdiConnectionInformation returnInfo) {
        start(irp, Tdi.TDI_LISTEN, connection, routine, context);
        irp.flags(flags);
        irp.requestInfo = requestInfo;
        irp.returnInfo = returnInfo;
        return irp;
    }

    /** TdiBuildAccept: after a TDI_QUERY_ACCEPT listen, or as ClientEventConnect's AcceptIrp. */
    public static Irp accept(Irp irp, TdiConnection connection, IoCompletionRoutine routine, Object context,
                             TdiConnectionInformation requestInfo, TdiConnectionInformation returnInfo) {
        start(irp, Tdi.TDI_ACCEPT, connection, routine, context);
        irp.requestInfo = requestInfo;
        irp.returnInfo = returnInfo;
        return irp;
    }

    /** TdiBuildSend: {@code length} bytes at {@code mdl}; flags TDI_SEND_*. */
    public static Irp send(Irp irp, TdiConnection connection, IoCompletionRoutine routine, Object context, long mdl,
                           int sendFlags, int length) {
        start(irp, Tdi.TDI_SEND, connection, routine, context);
        irp.parameters(mdl, length, sendFlags);
        return irp;
    }

    /** TdiBuildReceive: into {@code length} bytes at {@code mdl}; flags TDI_RECEIVE_NORMAL / EXPEDITED / PEEK. */
    public static Irp receive(Irp irp, TdiConnection connection, IoCompletionRoutine routine, Object context, long mdl,
                              int receiveFlags, int length) {
        start(irp, Tdi.TDI_RECEIVE, connection, routine, context);
        irp.parameters(mdl, length, receiveFlags);
        return irp;
    }

    /** TdiBuildDisconnect: flags TDI_DISCONNECT_ABORT or TDI_DISCONNECT_RELEASE; time-out as TDI takes it. */
    public static Irp disconnect(Irp irp, TdiConnection connection, IoCompletionRoutine routine, Object context,
                                 long timeout, int flags, TdiConnectionInformation requestInfo,
                                 TdiConnectionInformation returnInfo) {
        start(irp, Tdi.TDI_DISCONNECT, connection, routine, context);
        irp.timeout = timeout;
        irp.flags(flags);
        irp.requestInfo = requestInfo;
        irp.returnInfo = returnInfo;
        return irp;
    }

    /**
     * TdiBuildSetEventHandler, as Windows has it: {@code handler} null clears the event. The handler must implement
     * the event's interface in {@link TdiEvents}; one that does not (or an unknown {@code eventType}) completes the
     * request with STATUS_INVALID_PARAMETER (TDI_BAD_EVENT_TYPE). The typed forms below
     * ({@link #setConnectEventHandler} ...) make a handler of the wrong type a compile error instead.
     */
    public static Irp setEventHandler(Irp irp, TdiAddress address, IoCompletionRoutine routine, Object context,
                                      int eventType, Object handler, Object eventContext) {
        start(irp, Tdi.TDI_SET_EVENT_HANDLER, address, routine, context);
        irp.eventType = eventType;
        irp.eventHandler = handler;
        irp.eventContext = eventContext;
        return irp;
    }

    // Typed forms of setEventHandler, one per TDI_EVENT_* type: the same request, the handler's type checked by
    // the compiler. Null clears the event.

    /** {@link #setEventHandler} for TDI_EVENT_CONNECT. */
    public static Irp setConnectEventHandler(Irp irp, TdiAddress address, IoCompletionRoutine routine, Object context,
                                             TdiEvents.ClientEventConnect handler, Object eventContext) {
        return setEventHandler(irp, address, routine, context, Tdi.TDI_EVENT_CONNECT, handler, eventContext);
    }

    /** {@link #setEventHandler} for TDI_EVENT_DISCONNECT. */
    public static Irp setDisconnectEventHandler(Irp irp, TdiAddress address, IoCompletionRoutine routine,
                                                Object context, TdiEvents.ClientEventDisconnect handler,
                                                Object eventContext) {
        return setEventHandler(irp, address, routine, context, Tdi.TDI_EVENT_DISCONNECT, handler, eventContext);
    }

    /** {@link #setEventHandler} for TDI_EVENT_ERROR. */
    public static Irp setErrorEventHandler(Irp irp, TdiAddress address, IoCompletionRoutine routine, Object context,
                                           TdiEvents.ClientEventError handler, Object eventContext) {
        return setEventHandler(irp, address, routine, context, Tdi.TDI_EVENT_ERROR, handler, eventContext);
    }

    /** {@link #setEventHandler} for TDI_EVENT_RECEIVE. */
    public static Irp setReceiveEventHandler(Irp irp, TdiAddress address, IoCompletionRoutine routine, Object context,
                                             TdiEvents.ClientEventReceive handler, Object eventContext) {
        return setEventHandler(irp, address, routine, context, Tdi.TDI_EVENT_RECEIVE, handler, eventContext);
    }

    /** {@link #setEventHandler} for TDI_EVENT_RECEIVE_EXPEDITED. */
    public static Irp setReceiveExpeditedEventHandler(Irp irp, TdiAddress address, IoCompletionRoutine routine,
                                                      Object context, TdiEvents.ClientEventReceive handler,
                                                      Object eventContext) {
        return setEventHandler(irp, address, routine, context, Tdi.TDI_EVENT_RECEIVE_EXPEDITED, handler,
            eventContext);
    }

    /** {@link #setEventHandler} for TDI_EVENT_CHAINED_RECEIVE. */
    public static Irp setChainedReceiveEventHandler(Irp irp, TdiAddress address, IoCompletionRoutine routine,
                                                    Object context, TdiEvents.ClientEventChainedReceive handler,
                                                    Object eventContext) {
        return setEventHandler(irp, address, routine, context, Tdi.TDI_EVENT_CHAINED_RECEIVE, handler, eventContext);
    }

    /** {@link #setEventHandler} for TDI_EVENT_CHAINED_RECEIVE_EXPEDITED. */
    public static Irp setChainedReceiveExpeditedEventHandler(Irp irp, TdiAddress address, IoCompletionRoutine routine,
                                                             Object context,
                                                             TdiEvents.ClientEventChainedReceive handler,
                                                             Object eventContext) {
        return setEventHandler(irp, address, routine, context, Tdi.TDI_EVENT_CHAINED_RECEIVE_EXPEDITED, handler,
            eventContext);
    }

    /** {@link #setEventHandler} for TDI_EVENT_SEND_POSSIBLE. */
    public static Irp setSendPossibleEventHandler(Irp irp, TdiAddress address, IoCompletionRoutine routine,
                                                  Object context, TdiEvents.ClientEventSendPossible handler,
                                                  Object eventContext) {
        return setEventHandler(irp, address, routine, context, Tdi.TDI_EVENT_SEND_POSSIBLE, handler, eventContext);
    }

    /** TdiBuildQueryInformation on an address object or a connection endpoint: TDI_QUERY_*. */
    public static Irp queryInformation(Irp irp, Object fileObject, IoCompletionRoutine routine, Object context,
                                       int queryType) {
        start(irp, Tdi.TDI_QUERY_INFORMATION, fileObject, routine, context).queryType = queryType;
        return irp;
    }
}
