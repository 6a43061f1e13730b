package io.fastpath.provider;

import io.fastpath.stack.tcp.LocalPorts;

/**
 * A provider's view of its stack's local port table ({@link LocalPorts}, one per stack): the ports its objects
 * hold (sockets, address objects, listeners, connectors), with a use count each and the SO_EXCLUSIVEADDRUSE mark,
 * and ephemeral ports from the IANA dynamic range 49152-65535 (RFC 6335 §6), round-robin. Every provider on a
 * stack and the stack's own TCP ephemeral selection draw from the one table, so none picks a port another holds.
 * Taking a port is one atomic step ({@link #allocate}, {@link #choose}, {@link #bind}): safe from any provider's
 * dispatch thread while TCP runs on the poll thread.
 */
public final class PortTable {
    public static final int EPHEMERAL_FIRST = LocalPorts.EPHEMERAL_FIRST;
    public static final int EPHEMERAL_LAST = LocalPorts.EPHEMERAL_LAST;
    /** How many ephemeral ports there are (the most tries a search for a free one takes). */
    public static final int EPHEMERAL_COUNT = LocalPorts.EPHEMERAL_COUNT;

    private final LocalPorts shared;

    /** A view of the stack's table ({@code stack.ports()}). */
    public PortTable(LocalPorts shared) {
        this.shared = shared;
    }

    /** A table of its own, shared with no stack (tests). */
    public PortTable() {
        this(new LocalPorts());
    }

    /** Takes a port of the ephemeral range no one holds and returns it, or 0 when all are held. */
    public int allocate() {
        return shared.allocate(false);
    }

    /** As {@link #allocate()}, marking the port SO_EXCLUSIVEADDRUSE if asked. */
    public int allocate(boolean exclusiveUse) {
        return shared.allocate(exclusiveUse);
    }

    /**
     * Takes the port a bind to {@code requested} gets: {@code requested} itself when no one holds it, a free
     * ephemeral port for 0. A failure is returned as its NTSTATUS, an error code and so negative:
     * STATUS_SHARING_VIOLATION (the port is held), STATUS_TOO_MANY_ADDRESSES (no ephemeral port free).
     */
    public int choose(int requested) {
        if (requested == 0) {
            int p = shared.allocate(false);
            return p != 0 ? p : NtStatus.STATUS_TOO_MANY_ADDRESSES.code();
        }
        return shared.take(requested, false, false) == LocalPorts.TAKEN
            ? requested : NtStatus.STATUS_SHARING_VIOLATION.code();
    }

    /**
     * Takes {@code port} for a socket bind: alone, or beside its holders when {@code share} (SO_REUSEADDR) and
     * no one asks for exclusive use. Returns STATUS_SUCCESS, STATUS_SHARING_VIOLATION (held), or
     * STATUS_ACCESS_DENIED (held with SO_EXCLUSIVEADDRUSE and the caller asked to share).
     */
    public int bind(int port, boolean share, boolean exclusiveUse) {
        return switch (shared.take(port, share, exclusiveUse)) {
            case LocalPorts.TAKEN -> NtStatus.STATUS_SUCCESS.code();
            case LocalPorts.HELD_EXCLUSIVE ->
                share ? NtStatus.STATUS_ACCESS_DENIED.code() : NtStatus.STATUS_SHARING_VIOLATION.code();
            default -> NtStatus.STATUS_SHARING_VIOLATION.code();
        };
    }

    public boolean inUse(int port) {
        return shared.inUse(port);
    }

    /** An object holds the port with SO_EXCLUSIVEADDRUSE. */
    public boolean exclusive(int port) {
        return shared.exclusive(port);
    }

    /** One more holder, whoever holds the port already. */
    public void use(int port) {
        shared.use(port, false);
    }

    public void use(int port, boolean exclusiveUse) {
        shared.use(port, exclusiveUse);
    }

    /** One holder lets go of the port; the exclusive mark goes with the last. */
    public void free(int port) {
        shared.free(port);
    }
}
