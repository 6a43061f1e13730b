package io.fastpath.stack.tcp;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One TCP connection: the transmission control block (RFC 9293 §3.3.1) and the handle the application
 * holds. Objects are pooled by {@link TcpLayer} and reused after {@link TcpHandler#onClosed}.
 *
 * <p>Thread: the poll thread only (call these from handler callbacks, or in invoker mode).
 */
public final class TcpConnection {
    final TcpLayer layer;
    final int index;

    // Identity.
    int state = TcpState.CLOSED;
    long key;
    int localIp;
    int localPort;
    int remoteIp;
    int remotePort;
    TcpHandler handler;
    Listeners.Listener listener;
    /** The listener's half-open queue (SYN-RECEIVED, oldest first). */
    TcpConnection halfOpenPrev;
    TcpConnection halfOpenNext;
    boolean active;
    Object attachment;

    // Send sequence space (RFC 9293 §3.3.1).
    int iss;
    int sndUna;
    int sndNxt;
    int sndMax;
    int sndWnd;
    int sndWl1;
    int sndWl2;
    int maxSndWnd;
    int sndScale;
    // Receive sequence space.
    int irs;
    int rcvNxt;
    int rcvScale;
    int rcvAdvertisedEdge;
    // Options.
    int peerMss = 536;
    int mss;
    boolean tsOk;
    boolean sackOk;
    int tsRecent;
    int tsOffset;
    // RTT estimation and retransmission (RFC 6298).
    long srttNs;
    long rttvarNs;
    long rtoNs;
    long rttStartNs;
    boolean rttTiming;
    int retries;
    // Congestion control (RFC 5681, RFC 6582, RFC 6675).
    int cwnd;
    int ssthresh;
    CongestionControl cc;
    // Congestion window validation (RFC 7661): cwnd grows only while the sender actually uses it.
    boolean cwndLimited;
    // Persist timer: zero-window probes sent since the peer last answered, and when it last did.
    int probesOut;
    /** Persist probes since the window was last open (bounds persist once the application has closed). */
    int persistProbes;
    /** Path MTU learnt from ICMP (RFC 1191), or 0: the port's MTU. */
    int pathMtu;
    long lastAckNs;
    /** When this connection last answered an unacceptable segment or sent a challenge ACK (RFC 5961 §7). */
    long lastOutOfWindowAckNs;
    int flightHigh;
    int cwndUsageSeq;
    // CUBIC state (RFC 9438), in segments and nanoseconds.
    double ccWmax;
    long ccEpochNs;
    double ccK;
    double ccOrigin;
    double ccRenoCwnd;
    int dupAcks;
    boolean inRecovery;
    /** RFC 6675 RecoveryPoint (RFC 6582 "recover"). */
    int recover;
    /** Loss detection and recovery with the scoreboard (RFC 6675, RFC 8985, RFC 6937); made with sendBuffer. */
    Recovery recovery;
    /** Our FIN was deemed lost (an RTO): output() sends it again after the lost data. */
    boolean finLost;
    /** D-SACK to report (RFC 2883): a duplicate segment arrived; [dsackLeft, dsackRight). */
    boolean dsackPending;
    int dsackLeft;
    int dsackRight;
    // Delayed ACK.
    int segmentsUnacked;
    /** The duty cycle ({@code TcpLayer.cycle}) in which ReceivePath last sent an ACK mid-burst; 0 if never. */
    long earlyAckCycle;
    boolean ackNow;
    // Close.
    boolean finQueued;
    int finSeq;
    boolean finSent;
    boolean peerFinPending;
    boolean peerClosedUndelivered;
    int peerFinSeq;
    boolean connectPending;
    boolean nodelay;
    // Cross-thread use (TcpService): receive handover and bytes the application holds.
    int generation = 1;
    long closedHandle;
    long requestTag;
    /** Per-connection options (TcpSocketOptions): receive buffer, timestamps wanted, max retransmission time. */
    int receiveLimit;
    /**
     * {@link ReceivePath#connectionLimit}'s last answer and the receive limit and truesize it was computed
     * from (a division it would otherwise do for every segment and window): recomputed when either changes.
     */
    int memLimitCached;
    int memLimitReceiveLimit;
    int memLimitTruesize;
    boolean timestampsWanted;
    long maxRetransmitNs;
    long retransmitSinceNs;
    /** A SYN held for the application's decision (conditional accept): no SYN-ACK sent yet. */
    boolean deferred;
    /** Was held for a decision: its end is reported (onClosed) even between acceptRequest and the peer's ACK. */
    boolean held;
    /** Bytes of Fast Open data the SYN carried when this passive connection was accepted (0: none). */
    int synDataLength;
    HandoverReceiver handover;
    int heldBytes;
    /** Mbufs the application holds through the handover (charged to this connection's memory). */
    int heldMbufs;
    // Urgent data (RFC 9293 §3.8.5, RFC 6093).
    int sndUp;
    boolean urgentToSend;
    int rcvUp;
    boolean urgentToReceive;
    // Fast Open (RFC 7413).
    boolean fastOpen;
    int synData;
    boolean sendCookie;
    Listeners.Listener fastOpenListener;
    /**
     * A passive connection whose SYN data was accepted (RFC 7413 §4.2.2): it may send data in SYN-RECEIVED,
     * within the peer's window and the initial window (congestion control and the scoreboard start at the SYN).
     */
    boolean earlyData;
    /** A SYN-ACK of this connection reached the port (early data never goes out ahead of it). */
    boolean synAckSent;
    /**
     * Our last SYN (active open) did not reach the port (tx ring full, no buffer): it goes next duty cycle (the
     * first with its Fast Open data) instead of waiting for the retransmission timer. Its data is not sent yet.
     */
    boolean synUnsent;
    // Keepalive (RFC 1122 §4.2.3.6).
    boolean keepAlive;
    long keepIdleNs;
    long keepIntervalNs;
    int keepCount;
    int keepProbes;
    // Buffers.
    SendBuffer sendBuffer;
    ReceiveQueue receiveQueue;
    // Timers: every deadline (Deadlines' kinds), and the one wheel timer at the earliest of them.
    final Deadlines deadlines = new Deadlines();
    long timerId = -1;
    long timerDeadline;
    boolean dirty;
    boolean txBlocked;
    boolean deliverPending;
    final UnsafeBuffer nativeSource = new UnsafeBuffer(0, 0);

    TcpConnection(TcpLayer layer, int index) {
        this.layer = layer;
        this.index = index;
    }

    /**
     * Queues bytes for sending; returns how many fitted in the send buffer (0..length). The stack segments
     * and sends them at the end of the duty cycle (or at once when the window allows).
     */
    public int send(DirectBuffer source, int offset, int length) {
        return layer.send(this, source, offset, length);
    }

    /** Queues bytes from native memory (a received mbuf, for an echo); returns how many fitted. */
    public int send(long address, int length) {
        if (length <= 0) {
            return 0;
        }
        nativeSource.wrap(address, length);
        return layer.send(this, nativeSource, 0, length);
    }

    /**
     * Queues bytes as urgent data (Linux's {@code send(MSG_OOB)}): the urgent pointer marks the last of them,
     * and the peer receives that byte out of band. Returns how many bytes fitted.
     */
    public int sendUrgent(DirectBuffer source, int offset, int length) {
        int n = layer.send(this, source, offset, length);
        if (n > 0) {
            sndUp = sendBuffer.tail();
            urgentToSend = true;
        }
        return n;
    }

    /** Graceful close of our direction: FIN after the queued data (half-close; receiving goes on). */
    public void shutdown() {
        layer.shutdown(this);
    }

    /** Abortive close: RST, everything queued dropped; onClosed(STATUS_CONNECTION_ABORTED) follows. */
    public void abort() {
        layer.abort(this);
    }

    /** Offers queued received data to the handler again (after it returned less than it was offered). */
    public void resumeReceive() {
        layer.resumeReceive(this);
    }

    /**
     * TCP keepalive (RFC 1122 §4.2.3.6; SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT): after
     * {@code idleNs} without a segment from the peer, probe every {@code intervalNs}; after {@code count}
     * unanswered probes the connection closes with STATUS_IO_TIMEOUT.
     */
    public void keepAlive(boolean enable, long idleNs, long intervalNs, int count) {
        layer.keepAlive(this, enable, idleNs, intervalNs, count);
    }

    /** Disables Nagle's algorithm (RFC 1122 §4.2.3.4): small segments go out at once. */
    public void noDelay(boolean value) {
        this.nodelay = value;
    }

    public int state() {
        return state;
    }

    public int localIp() {
        return localIp;
    }

    public int localPort() {
        return localPort;
    }

    public int remoteIp() {
        return remoteIp;
    }

    public int remotePort() {
        return remotePort;
    }

    /** Free bytes in the send buffer. */
    public int sendSpace() {
        return sendBuffer == null ? 0 : sendBuffer.free();
    }

    /** Bytes sent or queued and not yet acknowledged. */
    public int sendQueued() {
        return sendBuffer == null ? 0 : sendBuffer.length();
    }

    /** Received bytes waiting for the application. */
    public int receiveQueued() {
        return receiveQueue == null ? 0 : receiveQueue.bytes();
    }

    /** Maximum segment size in use (payload bytes per segment). */
    public int synDataLength() {
        return synDataLength;
    }

    public int mss() {
        return mss;
    }

    public long smoothedRttNs() {
        return srttNs;
    }

    public int congestionWindow() {
        return cwnd;
    }

    /** This connection's handle for {@link TcpService}: slot and generation. */
    public long handle() {
        return ((long) generation << 32) | index;
    }

    /** The handle events about this connection carry (still valid in the onClosed after it was released). */
    long eventHandle() {
        return state == TcpState.CLOSED ? closedHandle : handle();
    }

    /** Whatever the application wants to keep with the connection. */
    public Object attachment() {
        return attachment;
    }

    public void attachment(Object value) {
        this.attachment = value;
    }

    public TcpHandler handler() {
        return handler;
    }

    /** Replaces the handler (e.g. after accept). */
    public void handler(TcpHandler value) {
        this.handler = value;
    }

    /** Internal state, for diagnostics (allocates). */
    public String describe() {
        return toString() + " una=" + (sndUna - iss) + " nxt=" + (sndNxt - iss) + " max=" + (sndMax - iss)
            + " tail=" + (sendBuffer.tail() - iss) + " wnd=" + sndWnd + " cwnd=" + cwnd + " ssthresh=" + ssthresh
            + " recovery=" + inRecovery + " pipe=" + (recovery == null ? 0 : recovery.board.pipe()) + " sacked="
            + (recovery == null ? 0 : recovery.board.sackedSegments()) + " rcvNxt="
            + (rcvNxt - irs) + " rq=" + receiveQueue.bytes() + " ooo=" + receiveQueue.outOfOrderCount()
            + " rto=" + rtoNs / 1_000_000 + "ms retries=" + retries + " deadlines=" + deadlines + " timer="
            + timerId + "@" + timerDeadline + " finQ=" + finQueued + " finSent=" + finSent + " dirty=" + dirty;
    }

    @Override
    public String toString() {
        return "tcp " + io.fastpath.stack.wire.Ipv4Address.format(localIp) + ":" + localPort + " -> "
            + io.fastpath.stack.wire.Ipv4Address.format(remoteIp) + ":" + remotePort + " " + TcpState.name(state);
    }
}
