package io.fastpath.stack.tcp;

import java.security.SecureRandom;

/**
 * Initial sequence numbers per RFC 6528: {@code ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey)}, where M is a timer ticking every 4 µs and F is SipHash-2-4 (a keyed PRF) under a 128-bit key
 * chosen at random when the stack starts. Connections to different peers get unrelated ISNs; a reused 4-tuple
 * gets a larger one as time passes (which TIME_WAIT reuse relies on).
 */
public final class IsnGenerator {
    private final long k0;
    private final long k1;
    /** SipHash state, reused: the generator belongs to the poll thread. */
    private final long[] v = new long[4];

    public IsnGenerator() {
        SecureRandom random = new SecureRandom();
        this.k0 = random.nextLong();
        this.k1 = random.nextLong();
    }

    /** For tests: a fixed key. */
    public IsnGenerator(long k0, long k1) {
        this.k0 = k0;
        this.k1 = k1;
    }

    public int isn(int localIp, int localPort, int remoteIp, int remotePort, long nowNs) {
        long m = nowNs / 4_000; // RFC 6528 §3: a 4-microsecond timer
        long tuple0 = ((long) localIp << 32) | (remoteIp & 0xFFFF_FFFFL);
        long tuple1 = ((long) (localPort & 0xFFFF) << 16) | (remotePort & 0xFFFF);
        return (int) (m + sipHash24(tuple0, tuple1));
    }

    /** SipHash-2-4 of two 64-bit words (16-byte message). */
    long sipHash24(long m0, long m1) {
        long v0 = k0 ^ 0x736f6d6570736575L;
        long v1 = k1 ^ 0x646f72616e646f6dL;
        long v2 = k0 ^ 0x6c7967656e657261L;
        long v3 = k1 ^ 0x7465646279746573L;
        v[0] = v0;
        v[1] = v1;
        v[2] = v2;
        v[3] = v3;
        compress(v, m0);
        compress(v, m1);
        compress(v, 16L << 56); // final block: message length 16, no tail bytes
        v[2] ^= 0xFF;
        for (int i = 0; i < 4; i++) {
            round(v);
        }
        return v[0] ^ v[1] ^ v[2] ^ v[3];
    }

    private static void compress(long[] v, long m) {
        v[3] ^= m;
        round(v);
        round(v);
        v[0] ^= m;
    }

    private static void round(long[] v) {
        v[0] += v[1];
        v[1] = Long.rotateLeft(v[1], 13);
        v[1] ^= v[0];
        v[0] = Long.rotateLeft(v[0], 32);
        v[2] += v[3];
        v[3] = Long.rotateLeft(v[3], 16);
        v[3] ^= v[2];
        v[0] += v[3];
        v[3] = Long.rotateLeft(v[3], 21);
        v[3] ^= v[0];
        v[2] += v[1];
        v[1] = Long.rotateLeft(v[1], 17);
        v[1] ^= v[2];
        v[2] = Long.rotateLeft(v[2], 32);
    }
}
