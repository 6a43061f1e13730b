package io.fastpath.stack.tcp;

/**
 * A connection's deadlines, one per kind, each set or unset (a set deadline may be any time, 0 included). The
 * connection's single wheel timer runs at the {@link #earliest} of them ({@link TcpTimers}). RFC 8985's
 * reorder timer lives in {@link Recovery} and joins them there. Poll thread; no allocation after construction.
 */
final class Deadlines {
    /** RFC 6298 retransmission timer; also the persist timer (RFC 9293 §3.8.6.1) and a held SYN's limit. */
    static final int RETRANSMIT = 0;
    /** RFC 8985 §7 tail loss probe. */
    static final int TAIL_LOSS_PROBE = 1;
    /** RFC 1122 §4.2.3.2 delayed ACK. */
    static final int DELAYED_ACK = 2;
    /** RFC 1122 §4.2.3.6 keepalive. */
    static final int KEEPALIVE = 3;
    /** RFC 9293 §3.10.8: 2 MSL in TIME-WAIT. */
    static final int TIME_WAIT = 4;
    static final int KINDS = 5;
    private static final String[] NAMES = {"retransmit", "tlp", "delack", "keepalive", "time-wait"};

    private final long[] at = new long[KINDS];
    private int set;

    void set(int kind, long deadline) {
        at[kind] = deadline;
        set |= 1 << kind;
    }

    void clear(int kind) {
        set &= ~(1 << kind);
    }

    void clearAll() {
        set = 0;
    }

    boolean isSet(int kind) {
        return (set & (1 << kind)) != 0;
    }

    /** The deadline of {@code kind}; only meaningful when {@link #isSet}. */
    long get(int kind) {
        return at[kind];
    }

    /** Whether {@code kind} is set and has come at {@code now}. */
    boolean due(int kind, long now) {
        return isSet(kind) && now - at[kind] >= 0;
    }

    boolean anySet() {
        return set != 0;
    }

    /** The earliest set deadline; only meaningful when {@link #anySet}. */
    long earliest() {
        long next = 0;
        boolean found = false;
        for (int kind = 0; kind < KINDS; kind++) {
            if (isSet(kind) && (!found || at[kind] - next < 0)) {
                next = at[kind];
                found = true;
            }
        }
        return next;
    }

    /** For diagnostics (allocates). */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("{");
        for (int kind = 0; kind < KINDS; kind++) {
            if (isSet(kind)) {
                sb.append(sb.length() > 1 ? " " : "").append(NAMES[kind]).append('=').append(at[kind]);
            }
        }
        return sb.append('}').toString();
    }
}
