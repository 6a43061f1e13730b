package io.fastpath.ndk;

import io.fastpath.provider.DescriptorQueue;
import io.fastpath.provider.Endpoint;
import io.fastpath.provider.NtStatus;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * An NDK connection's received byte stream: the MPA request or reply (RFC 6581 / RFC 5044 §7), then FPDUs
 * (header, ULPDU into the QP's posted receive, pad, CRC32c) parsed in place out of the endpoint's descriptors,
 * each returned to the stack as soon as its bytes are consumed. A message waits (and the TCP window closes)
 * until a receive is posted. Dispatch thread.
 */
final class NdkStream {
    // FPDU receive phases
    private static final int RX_HEADER = 0;
    private static final int RX_WAIT_RECEIVE = 1;
    private static final int RX_BODY = 2;
    private static final int RX_TRAILER = 3;

    private final NdkConnector c;
    private final NdkAdapter adapter;
    private final Endpoint<?, NdkConnector> ep;
    private final DescriptorQueue rx;
    private final UnsafeBuffer srcView = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer dstView = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer handshake = new UnsafeBuffer(new byte[MpaFrame.MAX_FRAME_LENGTH]);
    private int handshakeLength;
    private final MpaFrame frame = new MpaFrame();
    private int rxPhase = RX_HEADER;
    private int rxHeaderBytes;
    private int rxHeader;
    private int rxUlpdu;
    private int rxDone;
    private int rxSkip;
    private boolean pumping;
    private final java.util.zip.CRC32C rxCrc = new java.util.zip.CRC32C();
    /** Received bytes pass through here on their way to rxCrc (mbuf memory has no ByteBuffer view). */
    private final byte[] crcScratch = new byte[512];
    /** Bytes copied or skipped now belong to the FPDU's CRC (ULPDU and pad). */
    private boolean rxCrcActive;
    private int rxCrcField;
    private boolean pumpAgain;
    private boolean pumpScheduled;
    private final Runnable scheduledPump = this::runScheduledPump;

    NdkStream(NdkConnector connector, NdkAdapter adapter, Endpoint<?, NdkConnector> ep) {
        this.c = connector;
        this.adapter = adapter;
        this.ep = ep;
        this.rx = ep.received();
    }

    /**
     * Parses what arrived at the next {@code dispatch()} round, so that completions never run inside the call
     * that made parsing possible (a posted receive, an accept).
     */
    void schedulePump() {
        if (!pumpScheduled) {
            pumpScheduled = true;
            adapter.later(scheduledPump);
        }
    }

    private void runScheduledPump() {
        pumpScheduled = false;
        pump();
    }

    /** Parses what arrived, as far as the state allows (re-entrant calls fold into the running one). */
    void pump() {
        if (pumping) {
            pumpAgain = true;
            return;
        }
        pumping = true;
        try {
            do {
                pumpAgain = false;
                step();
            } while (pumpAgain);
        } finally {
            pumping = false;
        }
        if (c.state == NdkConnector.ESTABLISHED && ep.peerReleased() && rx.count() == 0 && rxPhase == RX_HEADER) {
            c.fireDisconnectEvent();
        }
    }

    private void step() {
        while (rx.count() > 0) {
            switch (c.state) {
                case NdkConnector.AWAIT_REQUEST -> {
                    if (!readHandshake(true)) {
                        return;
                    }
                }
                case NdkConnector.AWAIT_REPLY -> {
                    if (!readHandshake(false)) {
                        return;
                    }
                }
                case NdkConnector.ACCEPTING, NdkConnector.ESTABLISHED, NdkConnector.DISCONNECTING -> {
                    if (!readFpdu()) {
                        return;
                    }
                }
                default -> {
                    if (c.state == NdkConnector.DEAD || c.state == NdkConnector.CLOSED) {
                        releaseAll();
                    }
                    return; // CONNECTED / COMPLETING: the responder does not send before our RTR
                }
            }
        }
    }

    /** Reads one MPA request or reply; returns false when it needs more bytes or the state changed. */
    private boolean readHandshake(boolean request) {
        int need = handshakeLength < MpaFrame.HEADER_LENGTH ? MpaFrame.HEADER_LENGTH - handshakeLength
            : MpaFrame.HEADER_LENGTH + (handshake.getShort(MpaFrame.PD_LENGTH_OFFSET, java.nio.ByteOrder.BIG_ENDIAN)
            & 0xFFFF) - handshakeLength;
        handshakeLength += copyOut(handshake, handshakeLength, need);
        // The adapter's MaxCallerData / MaxCalleeData bound what it accepts as well as what it sends.
        int r = frame.parse(handshake, 0, handshakeLength, request,
            request ? adapter.info().maxCallerData() : adapter.info().maxCalleeData());
        if (r == 0) {
            return rx.count() > 0;
        }
        if (r < 0) {
            adapter.countMalformed(r);
            if (request) {
                if (r != MpaFrame.ERR_BAD_KEY && r != MpaFrame.ERR_PD_LENGTH && handshakeLength >= MpaFrame.HEADER_LENGTH) {
                    // An MPA request we cannot serve (markers, revision, RTR model, private data above
                    // MaxCallerData): say so with a reject.
                    int length = MpaFrame.emit(c.control, 0, false, true, 0, 0, null, 0, 0);
                    if (adapter.tcp.send(ep.handle(), NdkConnector.REQUEST_REPLY, c.control.addressOffset(), length)) {
                        adapter.shutdown(ep.handle());
                    } else {
                        adapter.abort(ep.handle()); // no room for the reply: a reset says no as well
                    }
                } else {
                    adapter.abort(ep.handle());
                }
                c.state = NdkConnector.DEAD;
                adapter.disarm(c);
            } else {
                adapter.abort(ep.handle());
                c.fail(NtStatus.STATUS_CONNECTION_ABORTED.code());
            }
            releaseAll();
            return false;
        }
        c.peerIrd = frame.ird();
        c.peerOrd = frame.ord();
        c.peerPrivateDataLength = frame.privateDataLength();
        handshake.getBytes(frame.privateDataOffset(), c.peerPrivateData, 0, c.peerPrivateDataLength);
        c.peerKnown = true;
        handshakeLength = 0;
        // RFC 5044 §7.1: "if the C flag is set in either the MPA Request or Reply, CRC MUST be used". The
        // responder's reply carries C when either side asked (accept()).
        c.crc = adapter.info().crcWanted() || frame.crc();
        if (request) {
            c.state = NdkConnector.REQUEST_RECEIVED;
            adapter.disarm(c);
            c.listener.offer(c);
            return false;
        }
        if (frame.rejected()) {
            adapter.shutdown(ep.handle());
            c.fail(NtStatus.STATUS_CONNECTION_REFUSED.code());
            return false;
        }
        c.state = NdkConnector.CONNECTED;
        c.finish(NtStatus.STATUS_SUCCESS.code());
        return false;
    }

    /** Reads FPDUs; returns false when it needs bytes or a posted receive, or the state changed. */
    private boolean readFpdu() {
        switch (rxPhase) {
            case RX_HEADER -> {
                while (rxHeaderBytes < MpaFrame.FPDU_HEADER_LENGTH) {
                    int b = readByte();
                    if (b < 0) {
                        return false;
                    }
                    rxHeader = (rxHeader << 8) | b;
                    rxHeaderBytes++;
                }
                rxUlpdu = rxHeader & 0xFFFF;
                rxHeader = 0;
                rxHeaderBytes = 0;
                rxDone = 0;
                rxSkip = MpaFrame.fpduLength(rxUlpdu) - MpaFrame.FPDU_HEADER_LENGTH - rxUlpdu;
                if (c.crc) {
                    rxCrc.reset();
                    rxCrc.update(rxUlpdu >>> 8);
                    rxCrc.update(rxUlpdu);
                    rxCrcActive = true;
                }
                if (c.state == NdkConnector.ACCEPTING) {
                    if (rxUlpdu != 0) {
                        // the initiator's first message must be the zero-length RTR (RFC 6581 §4)
                        adapter.countMalformed(MpaFrame.ERR_RTR_MODEL);
                        adapter.abort(ep.handle());
                        c.fail(NtStatus.STATUS_CONNECTION_ABORTED.code());
                        return false;
                    }
                    rxPhase = RX_TRAILER;
                } else {
                    rxPhase = RX_WAIT_RECEIVE;
                }
                return true;
            }
            case RX_WAIT_RECEIVE -> {
                if (c.qp == null || !c.qp.receivePosted()) {
                    return false; // held until a receive is posted: the TCP window closes meanwhile
                }
                rxPhase = RX_BODY;
                return true;
            }
            case RX_BODY -> {
                int capacity = c.qp.receiveCapacity();
                if (rxDone < capacity) {
                    int want = Math.min(rxUlpdu, capacity) - rxDone;
                    if (want > 0) {
                        dstView.wrap(c.qp.receiveAddress(), capacity);
                        int n = copyOut(dstView, rxDone, want);
                        rxDone += n;
                        if (n < want) {
                            return false;
                        }
                    }
                }
                if (rxDone < rxUlpdu) {
                    int n = skip(rxUlpdu - rxDone);
                    rxDone += n;
                    if (rxDone < rxUlpdu) {
                        return false;
                    }
                }
                rxPhase = RX_TRAILER;
                return true;
            }
            default -> { // RX_TRAILER: pad (part of the CRC'd bytes), then the CRC field
                if (rxSkip > MpaFrame.FPDU_CRC_LENGTH) {
                    rxSkip -= skip(rxSkip - MpaFrame.FPDU_CRC_LENGTH);
                    if (rxSkip > MpaFrame.FPDU_CRC_LENGTH) {
                        return false;
                    }
                }
                rxCrcActive = false;
                while (rxSkip > 0) {
                    int b = readByte();
                    if (b < 0) {
                        return false;
                    }
                    // RFC 5044 §4.1 via RFC 3720 §B.4: the CRC32c's least significant byte comes first
                    rxCrcField |= b << (8 * (MpaFrame.FPDU_CRC_LENGTH - rxSkip));
                    rxSkip--;
                }
                int field = rxCrcField;
                rxCrcField = 0;
                rxPhase = RX_HEADER;
                if (c.crc && field != (int) rxCrc.getValue()) {
                    crcMismatch(); // not checked when CRC is off: the field "MUST NOT be checked" (RFC 5044 §4.1)
                    return false;
                }
                if (c.state == NdkConnector.ACCEPTING) {
                    c.state = NdkConnector.ESTABLISHED;
                    c.finish(NtStatus.STATUS_SUCCESS.code());
                } else {
                    int capacity = c.qp.receiveCapacity();
                    c.qp.completeReceive(rxUlpdu > capacity ? NtStatus.STATUS_BUFFER_OVERFLOW.code() : NtStatus.STATUS_SUCCESS.code(),
                        Math.min(rxUlpdu, capacity));
                }
                return true;
            }
        }
    }

    /**
     * An FPDU's CRC did not match: the connection is reset and ends here. The receive holding the damaged
     * message completes with STATUS_DATA_ERROR, the other posted receives with STATUS_CANCELLED; the connector
     * is dead (STATUS_CONNECTION_ABORTED) and the disconnect event fires. Counted ({@link NdkAdapter#crcErrors}).
     */
    private void crcMismatch() {
        adapter.countCrcError();
        adapter.abort(ep.handle());
        releaseAll();
        if (c.state == NdkConnector.ACCEPTING) { // the initiator's RTR
            c.fail(NtStatus.STATUS_CONNECTION_ABORTED.code());
            return;
        }
        boolean disconnecting = c.state == NdkConnector.DISCONNECTING;
        NdkQp bound = c.qp;
        c.state = NdkConnector.DEAD;
        c.deathStatus = NtStatus.STATUS_CONNECTION_ABORTED.code();
        c.unbindQp();
        if (bound != null) {
            if (bound.receivePosted()) {
                bound.completeReceive(NtStatus.STATUS_DATA_ERROR.code(), 0);
            }
            bound.flushReceives();
        }
        if (disconnecting) {
            c.finish(NtStatus.STATUS_CONNECTION_ABORTED.code());
        } else {
            c.fireDisconnectEvent();
        }
    }

    /** Feeds {@code k} rx bytes at the current position to the FPDU's CRC while it is being summed. */
    private void crcReceived(int k) {
        if (rxCrcActive) {
            MpaFrame.update(rxCrc, srcView, rx.headOffset(), k, crcScratch);
        }
    }

    private int readByte() {
        if (rx.count() == 0) {
            return -1;
        }
        srcView.wrap(rx.address(0), rx.length(0));
        int b = srcView.getByte(rx.headOffset()) & 0xFF;
        advance(1);
        return b;
    }

    /** Copies up to {@code n} bytes to {@code dst} at {@code offset}; returns how many. */
    private int copyOut(MutableDirectBuffer dst, int offset, int n) {
        int done = 0;
        while (done < n && rx.count() > 0) {
            int k = Math.min(n - done, rx.headRemaining());
            srcView.wrap(rx.address(0), rx.length(0));
            dst.putBytes(offset + done, srcView, rx.headOffset(), k);
            crcReceived(k);
            done += k;
            advance(k);
        }
        return done;
    }

    private int skip(int n) {
        int done = 0;
        while (done < n && rx.count() > 0) {
            int k = Math.min(n - done, rx.headRemaining());
            srcView.wrap(rx.address(0), rx.length(0));
            crcReceived(k);
            done += k;
            advance(k);
        }
        return done;
    }

    private void advance(int k) {
        ep.consume(k);
    }

    void releaseAll() {
        ep.releaseAll();
    }
}
