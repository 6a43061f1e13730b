package io.fastpath.stack.tcp;

/**
 * SYN cookies (RFC 4987 §3.6), encoded as Linux encodes them (net/ipv4/syncookies.c): the server's ISN carries
 * what it needs to rebuild the connection from the ACK that completes the handshake, so a SYN costs no state.
 *
 * <pre>
 *   ISN = H0(saddr, daddr, sport, dport) + peer ISN + (count &lt;&lt; 24) + ((H1(4-tuple, count) + mssIndex) mod 2^24)
 * </pre>
 *
 * H0 and H1 are SipHash-2-4 under two random 128-bit keys; {@code count} ticks every {@link #PERIOD_NS} and a
 * cookie is accepted for the current and the previous count ({@link #MAX_AGE}, Linux's MAX_SYNCOOKIE_AGE).
 * The MSS is one of four values ({@link #MSS_TABLE}, Linux's msstab). When the SYN had timestamps, the low six
 * bits of our TSval carry the peer's window scale (15: none), SACK-permitted and ECN
 * ({@code cookie_init_timestamp}); the peer echoes them in TSecr. Without timestamps the cookie SYN-ACK carries
 * the MSS option only, so neither side scales windows or uses SACK.
 *
 * <p>Thread: the poll thread (SipHash state is reused).
 */
final class SynCookie {
    /** The counter's period. Linux uses 60 s (TCP_SYNCOOKIE_PERIOD); 64 s here. */
    static final long PERIOD_NS = 64_000_000_000L;
    /** Counts accepted: the current one and the one before (a cookie lives 64 to 128 s). */
    static final int MAX_AGE = 2;
    static final int COOKIE_BITS = 24;
    static final int COOKIE_MASK = (1 << COOKIE_BITS) - 1;
    /** MSS values a cookie can name (Linux's msstab): the largest not above the peer's is chosen. */
    static final int[] MSS_TABLE = {536, 1300, 1440, 1460};
    static final int TS_BITS = 6;
    static final int TS_WSCALE_MASK = 0xF;
    static final int TS_SACK = 1 << 4;
    static final int TS_ECN = 1 << 5;

    private final IsnGenerator key0;
    private final IsnGenerator key1;

    SynCookie(IsnGenerator key0, IsnGenerator key1) {
        this.key0 = key0;
        this.key1 = key1;
    }

    /** Index in {@link #MSS_TABLE} of the largest MSS not above the peer's (0 when it is below 1300). */
    static int mssIndex(int peerMss) {
        int i = MSS_TABLE.length - 1;
        while (i > 0 && peerMss < MSS_TABLE[i]) {
            i--;
        }
        return i;
    }

    static int count(long nowNs) {
        return (int) Math.floorDiv(nowNs, PERIOD_NS);
    }

    /** Our ISN for a SYN from {@code saddr:sport} to {@code daddr:dport} with sequence number {@code peerSeq}. */
    int encode(int saddr, int daddr, int sport, int dport, int peerSeq, int mssIndex, long nowNs) {
        int count = count(nowNs);
        return hash(key0, saddr, daddr, sport, dport, 0) + peerSeq + (count << COOKIE_BITS)
            + ((hash(key1, saddr, daddr, sport, dport, count) + mssIndex) & COOKIE_MASK);
    }

    /**
     * Checks the cookie an ACK returns ({@code cookie} = SEG.ACK - 1, {@code peerSeq} = SEG.SEQ - 1). Returns
     * the MSS index it carries, or -1 when it is forged, stale (older than {@link #MAX_AGE} counts) or damaged.
     */
    int check(int cookie, int saddr, int daddr, int sport, int dport, int peerSeq, long nowNs) {
        int count = count(nowNs);
        int rest = cookie - (hash(key0, saddr, daddr, sport, dport, 0) + peerSeq);
        int diff = (count - (rest >>> COOKIE_BITS)) & (0xFFFF_FFFF >>> COOKIE_BITS);
        if (diff >= MAX_AGE) {
            return -1;
        }
        int data = (rest - hash(key1, saddr, daddr, sport, dport, count - diff)) & COOKIE_MASK;
        return data < MSS_TABLE.length ? data : -1;
    }

    /**
     * The TSval of a cookie SYN-ACK (Linux's {@code cookie_init_timestamp}): {@code tsNow} with its low six
     * bits replaced by the options, made no larger than {@code tsNow} so our clock never runs backwards.
     *
     * @param peerWindowScale the peer's shift, or -1 when it sent no window scale option
     */
    static int timestamp(int tsNow, int peerWindowScale, boolean sack) {
        int options = peerWindowScale >= 0 ? peerWindowScale & TS_WSCALE_MASK : TS_WSCALE_MASK;
        if (sack) {
            options |= TS_SACK;
        }
        int ts = (tsNow & ~((1 << TS_BITS) - 1)) | options;
        if (options > (tsNow & ((1 << TS_BITS) - 1))) {
            ts -= 1 << TS_BITS;
        }
        return ts;
    }

    /** The peer's window scale echoed in TSecr, or -1 for none. */
    static int windowScale(int tsEcr) {
        int ws = tsEcr & TS_WSCALE_MASK;
        return ws == TS_WSCALE_MASK ? -1 : ws;
    }

    static boolean sack(int tsEcr) {
        return (tsEcr & TS_SACK) != 0;
    }

    private static int hash(IsnGenerator key, int saddr, int daddr, int sport, int dport, int count) {
        long addresses = ((long) saddr << 32) | (daddr & 0xFFFF_FFFFL);
        long portsAndCount = ((long) (((sport & 0xFFFF) << 16) | (dport & 0xFFFF)) << 32) | (count & 0xFFFF_FFFFL);
        return (int) key.sipHash24(addresses, portsAndCount);
    }
}
