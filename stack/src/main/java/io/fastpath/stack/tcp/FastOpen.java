package io.fastpath.stack.tcp;

import io.fastpath.stack.wire.TcpOptions;
import io.fastpath.stack.wire.TcpSegment;

/**
 * TCP Fast Open cookies (RFC 7413): the server's cookie keys (current and previous, §4.1.2) and the client's
 * cookie cache, one per server address. Poll thread.
 */
final class FastOpen {
    private final TcpLayer layer;
    private final TcpSegment seg;
    private final TcpOptions options;
    /** The server's cookie keys (current and previous, RFC 7413 §4.1.2), shared with the host's other shards. */
    final FastOpenKeys keys;
    /** The keys {@link #cookieKey} and {@link #previousCookieKey} were made from (poll thread's own SipHash state). */
    private FastOpenKeys.Keys keysSeen;
    private IsnGenerator cookieKey;
    private IsnGenerator previousCookieKey;
    final FastOpenCookieCache cookieCache = new FastOpenCookieCache(FastOpenCookieCache.DEFAULT_CAPACITY);
    final byte[] cookieScratch = new byte[8];
    /** The cached cookie a SYN being built carries (copied out of the cache; poll thread only). */
    final byte[] clientCookie = new byte[TcpOptions.FAST_OPEN_MAX_COOKIE];

    FastOpen(TcpLayer layer, FastOpenKeys keys) {
        this.layer = layer;
        this.seg = layer.seg;
        this.options = layer.options;
        this.keys = keys;
        refreshKeys();
    }

    /** Follows a rotation made on any thread (one volatile read; new SipHash instances only when it changed). */
    private void refreshKeys() {
        FastOpenKeys.Keys k = keys.keys();
        if (k != keysSeen) {
            keysSeen = k;
            cookieKey = new IsnGenerator(k.k0(), k.k1());
            previousCookieKey = new IsnGenerator(k.previousK0(), k.previousK1());
        }
    }

    /** The cookie this server issues now to a client address. */
    byte[] cookieFor(int clientIp) {
        refreshKeys();
        return cookieFor(cookieKey, clientIp);
    }

    /** The server's cookie for a client address (RFC 7413 §4.1.2): a MAC of the address, 8 bytes. */
    private byte[] cookieFor(IsnGenerator key, int clientIp) {
        long mac = key.sipHash24(clientIp & 0xFFFF_FFFFL, 0x46504F50454EL);
        for (int i = 0; i < 8; i++) {
            cookieScratch[i] = (byte) (mac >>> (56 - 8 * i));
        }
        return cookieScratch;
    }

    boolean validCookie(int clientIp) {
        if (options.fastOpenCookieLength() != 8) {
            return false;
        }
        refreshKeys();
        return cookieMatches(cookieKey, clientIp) || cookieMatches(previousCookieKey, clientIp);
    }

    boolean cookieMatches(IsnGenerator key, int clientIp) {
        byte[] expected = cookieFor(key, clientIp);
        int at = options.fastOpenCookieOffset();
        for (int i = 0; i < 8; i++) {
            if (seg.buffer().getByte(at + i) != expected[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * Replaces the Fast Open secret key (of every shard sharing it); cookies made with the previous key stay valid
     * until the next rotation (RFC 7413 §4.1.2: "rotate the secret key periodically").
     */
    void rotateFastOpenKey() {
        keys.rotate();
    }

    /** Bytes of the Fast Open option in this connection's SYN or SYN-ACK (with two NOPs), or 0. */
    int fastOpenOptionLength(TcpConnection c) {
        if (c.active) {
            if (!c.fastOpen || c.state != TcpState.SYN_SENT) {
                return 0;
            }
            int cookie = synCarriesData(c) ? cookieCache.length(c.remoteIp) : -1;
            return 4 + Math.max(cookie, 0);
        }
        return c.sendCookie ? 12 : 0;
    }

    /** Whether the client's SYN being sent carries data (and the cookie): the first SYN only, not a retransmission. */
    boolean synCarriesData(TcpConnection c) {
        return c.synData > 0 && c.retries == 0;
    }
}
