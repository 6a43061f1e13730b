package io.fastpath.stack.tcp;

/**
 * Per-connection socket options, packed into a {@code long} so that they cross {@link TcpService}'s rings and
 * reach {@link TcpLayer#connect} and {@link TcpLayer#listen} without allocation. 0 means "the stack's
 * defaults" for every option.
 *
 * <ul>
 *   <li>timestamps (TCP_TIMESTAMPS): default (the config), on or off; decided by the SYN, so only at connect
 *       or listen time;</li>
 *   <li>receive buffer (SO_RCVBUF): bytes, at most the config's receive buffer (which sized the window scale
 *       and the receive queue), at least 4 KiB;</li>
 *   <li>maximum retransmission time (TCP_MAXRT): milliseconds from the first retransmission timeout of a
 *       segment (or the SYN) until the connection gives up with STATUS_IO_TIMEOUT, whatever the retry count;</li>
 *   <li>reuse address (SO_REUSEADDR): connect from a local port other connections use, as long as the
 *       4-tuple is new; listen on a port that connections (of an earlier listener) still use;</li>
 *   <li>conditional accept (listeners only, {@link #withConditionalAccept}): a SYN is not answered until the
 *       application decides ({@link TcpListenHandler#onConnectRequest}, then {@link TcpLayer#acceptRequest} or
 *       {@link TcpLayer#rejectRequest}); a rejected peer gets a RST for its SYN (connection refused).</li>
 * </ul>
 */
public final class TcpSocketOptions {
    public static final long DEFAULTS = 0;
    public static final int MIN_RECEIVE_BUFFER = 4096;

    private static final int TS_DEFAULT = 0;
    private static final int TS_ON = 1;
    private static final int TS_OFF = 2;
    private static final long RECEIVE_MASK = (1L << 28) - 1;
    private static final int RECEIVE_SHIFT = 4;
    private static final long CONDITIONAL = 8;

    private TcpSocketOptions() {
    }

    /**
     * @param timestamps null = the config's choice
     * @param receiveBufferBytes 0 = the config's receive buffer
     * @param maxRetransmitMillis 0 = only the retry counts limit retransmission
     * @param reuseAddress connect from a port other connections use
     */
    public static long of(Boolean timestamps, int receiveBufferBytes, long maxRetransmitMillis, boolean reuseAddress) {
        if (receiveBufferBytes < 0 || receiveBufferBytes > RECEIVE_MASK) {
            throw new IllegalArgumentException("receive buffer " + receiveBufferBytes);
        }
        if (maxRetransmitMillis < 0 || maxRetransmitMillis > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("maximum retransmission time " + maxRetransmitMillis + " ms");
        }
        long ts = timestamps == null ? TS_DEFAULT : timestamps ? TS_ON : TS_OFF;
        return ts | (reuseAddress ? 4L : 0L) | ((long) receiveBufferBytes << RECEIVE_SHIFT) | (maxRetransmitMillis << 32);
    }

    /** The same options with conditional accept (listeners): SYNs wait for the application's decision. */
    public static long withConditionalAccept(long options) {
        return options | CONDITIONAL;
    }

    static boolean conditionalAccept(long options) {
        return (options & CONDITIONAL) != 0;
    }

    static boolean timestamps(long options, boolean fallback) {
        int ts = (int) (options & 3);
        return ts == TS_DEFAULT ? fallback : ts == TS_ON;
    }

    static boolean reuseAddress(long options) {
        return (options & 4) != 0;
    }

    /** The receive buffer for a connection: the option within [4 KiB, the config's], or the config's. */
    static int receiveBuffer(long options, int configured) {
        int bytes = (int) ((options >>> RECEIVE_SHIFT) & RECEIVE_MASK);
        return bytes == 0 ? configured : Math.min(configured, Math.max(MIN_RECEIVE_BUFFER, bytes));
    }

    static long maxRetransmitNs(long options) {
        return (options >>> 32) * 1_000_000L;
    }
}
