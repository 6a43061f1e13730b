package io.fastpath.stack.ip;

/**
 * Packet memory as the layers above IP see it: buffers named by opaque {@code long} handles (DPDK mbufs in the
 * stack, plain native memory in device-free tests). A handle is never 0. Poll thread only.
 *
 * <p>Ownership: whoever holds a handle frees it exactly once; {@link #retain} adds an owner (reference count
 * + 1), so that two views can share one buffer.
 */
public interface PacketMemory {
    /** A fresh, empty buffer, or 0 when none is left. */
    long allocate();

    /** Drops one reference; the buffer goes back to its pool when none is left. */
    void free(long buffer);

    /** The address of the buffer's first data byte (native memory, valid while the buffer is held). */
    long dataAddress(long buffer);

    /** One more reference: the buffer is now shared by one more owner, each of which frees it once. */
    void retain(long buffer);

    /** Takes back a {@link #retain} that was not handed on: the buffer stays with its other owner. */
    void unretain(long buffer);
}
