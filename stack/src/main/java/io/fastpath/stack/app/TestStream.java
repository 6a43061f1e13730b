package io.fastpath.stack.app;

/**
 * The deterministic pseudo-random byte stream the send client writes and verifies: byte {@code i} of
 * stream {@code seed} is a hash of both, so any position can be checked without keeping the data.
 */
public final class TestStream {
    private TestStream() {
    }

    public static byte at(long seed, long position) {
        long z = (position >>> 3) * 0x9E3779B97F4A7C15L + seed;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (byte) (z >>> ((position & 7) << 3));
    }
}
