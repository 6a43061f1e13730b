package io.fastpath.stack.tcp;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The stack's one table of local TCP ports held outside a connection: the ports the providers' objects hold
 * (sockets, address objects, listeners, connectors, shared endpoints) and the ephemeral ports TCP chose itself
 * (RFC 6056, {@link ConnectionTable}). A port here is not picked again by either until let go, so providers
 * sharing a stack, and the stack's own ephemeral selection, never hand out one port twice.
 *
 * <p>Thread-safe without locks: providers call it on their dispatch threads, TCP on the poll thread. Each port
 * is one int word, changed by compare-and-set: bits 0-29 count its holders, bit 30 is the SO_EXCLUSIVEADDRUSE
 * mark, cleared with the last holder. Ephemeral ports for providers come round-robin from the IANA dynamic range
 * 49152-65535 (RFC 6335 §6, the range Windows uses by default), so a port just freed is not reused at once.
 */
public final class LocalPorts {
    public static final int EPHEMERAL_FIRST = TcpLayer.EPHEMERAL_FIRST;
    public static final int EPHEMERAL_LAST = TcpLayer.EPHEMERAL_LAST;
    /** How many ephemeral ports there are (a power of two: the round-robin cursor wraps with a mask). */
    public static final int EPHEMERAL_COUNT = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;

    /** {@link #take(int, boolean, boolean)}: the caller now holds the port. */
    public static final int TAKEN = 0;
    /** {@link #take(int, boolean, boolean)}: others hold the port and do not share it with this caller. */
    public static final int HELD = 1;
    /** {@link #take(int, boolean, boolean)}: others hold the port with SO_EXCLUSIVEADDRUSE. */
    public static final int HELD_EXCLUSIVE = 2;

    private static final int EXCLUSIVE = 1 << 30;
    private static final int COUNT = EXCLUSIVE - 1;

    private final AtomicIntegerArray words = new AtomicIntegerArray(65536);
    private final AtomicInteger cursor = new AtomicInteger();

    /**
     * Takes a port of the ephemeral range no one holds, round-robin, and returns it; 0 when all are held. The
     * caller holds it (one use) until {@link #free}.
     */
    public int allocate(boolean exclusive) {
        int first = exclusive ? 1 | EXCLUSIVE : 1;
        for (int tries = 0; tries < EPHEMERAL_COUNT; tries++) {
            int port = EPHEMERAL_FIRST + (cursor.getAndIncrement() & (EPHEMERAL_COUNT - 1));
            if (words.get(port) == 0 && words.compareAndSet(port, 0, first)) {
                return port;
            }
        }
        return 0;
    }

    /** Takes {@code port} if no one holds it (TCP's RFC 6056 search, which picks the port itself). */
    public boolean tryTake(int port) {
        return words.get(port) == 0 && words.compareAndSet(port, 0, 1);
    }

    /**
     * Takes {@code port} for a bind: at once if no one holds it; alongside its holders if the caller asks to
     * {@code share} (SO_REUSEADDR) and neither it nor they ask for exclusive use. Returns {@link #TAKEN},
     * {@link #HELD} or {@link #HELD_EXCLUSIVE}.
     */
    public int take(int port, boolean share, boolean exclusive) {
        for (;;) {
            int w = words.get(port);
            if (w != 0) {
                if ((w & EXCLUSIVE) != 0) {
                    return HELD_EXCLUSIVE;
                }
                if (!share || exclusive) {
                    return HELD;
                }
            }
            int next = (w & COUNT) + 1 | (w & EXCLUSIVE) | (exclusive ? EXCLUSIVE : 0);
            if (words.compareAndSet(port, w, next)) {
                return TAKEN;
            }
        }
    }

    /** One more holder of {@code port}, whoever holds it already; marks it exclusive if asked. */
    public void use(int port, boolean exclusive) {
        for (;;) {
            int w = words.get(port);
            int next = (w & COUNT) + 1 | (w & EXCLUSIVE) | (exclusive ? EXCLUSIVE : 0);
            if (words.compareAndSet(port, w, next)) {
                return;
            }
        }
    }

    /** One holder lets go of the port; the exclusive mark goes with the last. A free port stays free. */
    public void free(int port) {
        for (;;) {
            int w = words.get(port);
            int count = w & COUNT;
            if (count == 0) {
                return;
            }
            int next = count == 1 ? 0 : (count - 1) | (w & EXCLUSIVE);
            if (words.compareAndSet(port, w, next)) {
                return;
            }
        }
    }

    public boolean inUse(int port) {
        return (words.get(port) & COUNT) != 0;
    }

    /** Someone holds the port with SO_EXCLUSIVEADDRUSE. */
    public boolean exclusive(int port) {
        return (words.get(port) & EXCLUSIVE) != 0;
    }

    /** How many hold the port. */
    public int holders(int port) {
        return words.get(port) & COUNT;
    }
}
