package io.fastpath.stack.tcp;

import io.fastpath.stack.wire.TcpOptions;
import org.agrona.DirectBuffer;

/**
 * The client's Fast Open cookies (RFC 7413 §4.1.3: "the client caches the cookie ... per server IP address"),
 * bounded and allocation-free: a fixed table of {@code capacity} servers in 4-way sets indexed by a hash of
 * the address; a new server takes a free way of its set or the way that was used least recently. So neither
 * many servers nor a server that hands out a new cookie on every SYN-ACK can grow memory or make garbage; a
 * server whose cookie was evicted simply gets a cookie request again (one round trip without SYN data).
 *
 * <p>Thread: the poll thread.
 */
final class FastOpenCookieCache {
    static final int DEFAULT_CAPACITY = 1024;
    private static final int WAYS = 4;
    private static final int MAX = TcpOptions.FAST_OPEN_MAX_COOKIE;

    private final int[] servers;      // 0: free (0.0.0.0 is never a server)
    private final byte[] lengths;
    private final long[] used;        // the tick of the last put or get
    private final byte[] cookies;     // MAX bytes per entry
    private final int setMask;
    private long tick;
    private int size;

    FastOpenCookieCache(int capacity) {
        if (capacity < WAYS || Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("capacity must be a power of two >= " + WAYS + ": " + capacity);
        }
        servers = new int[capacity];
        lengths = new byte[capacity];
        used = new long[capacity];
        cookies = new byte[capacity * MAX];
        setMask = capacity / WAYS - 1;
    }

    private int find(int server) {
        int base = set(server);
        for (int i = base; i < base + WAYS; i++) {
            if (servers[i] == server) {
                return i;
            }
        }
        return -1;
    }

    private int set(int server) {
        int h = server * 0x9E3779B9;
        return ((h ^ (h >>> 16)) & setMask) * WAYS;
    }

    /** Whether a cookie is cached for this server. */
    boolean contains(int server) {
        return server != 0 && find(server) >= 0;
    }

    /**
     * The cached cookie's length for this server, with its bytes copied into {@code into} (at least
     * {@link TcpOptions#FAST_OPEN_MAX_COOKIE} long), or -1 when none is cached.
     */
    int copy(int server, byte[] into) {
        int i = server == 0 ? -1 : find(server);
        if (i < 0) {
            return -1;
        }
        used[i] = ++tick;
        int length = lengths[i];
        System.arraycopy(cookies, i * MAX, into, 0, length);
        return length;
    }

    /** The cached cookie's length for this server, or -1. */
    int length(int server) {
        int i = server == 0 ? -1 : find(server);
        return i < 0 ? -1 : lengths[i];
    }

    /** Caches {@code length} bytes at {@code offset} of {@code buffer} as this server's cookie (4..16 bytes). */
    void put(int server, DirectBuffer buffer, int offset, int length) {
        if (server == 0 || length <= 0 || length > MAX) {
            return;
        }
        int i = find(server);
        if (i < 0) {
            int base = set(server);
            i = base;
            for (int w = base; w < base + WAYS; w++) {
                if (servers[w] == 0) {
                    i = w;
                    break;
                }
                if (used[w] < used[i]) {
                    i = w;
                }
            }
            if (servers[i] == 0) {
                size++;
            }
            servers[i] = server;
        }
        lengths[i] = (byte) length;
        used[i] = ++tick;
        buffer.getBytes(offset, cookies, i * MAX, length);
    }

    /** Servers with a cookie now (at most the capacity). */
    int size() {
        return size;
    }

    int capacity() {
        return servers.length;
    }
}
