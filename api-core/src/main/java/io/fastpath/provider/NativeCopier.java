package io.fastpath.provider;

import org.agrona.concurrent.UnsafeBuffer;

/** Copies native memory (received mbuf data to the caller's buffers). One per dispatch thread: not thread-safe. */
public final class NativeCopier {
    private final UnsafeBuffer source = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer target = new UnsafeBuffer(0, 0);

    /** Copies {@code length} bytes from address {@code from} to address {@code to}. */
    public void copy(long from, long to, int length) {
        source.wrap(from, length);
        target.wrap(to, length);
        target.putBytes(0, source, 0, length);
    }
}
