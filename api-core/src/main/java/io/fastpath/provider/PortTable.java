package io.fastpath.provider;

/**
 * The local TCP ports a provider's objects hold (sockets, address objects, listeners, connectors), with a use
 * count each, the SO_EXCLUSIVEADDRUSE mark, and the allocation of ephemeral ports: the IANA dynamic range
 * 49152-65535 (RFC 6335 §6), the range Windows uses by default, handed out round-robin so a port just freed is
 * not reused at once. Dispatch thread only.
 */
public final class PortTable {
    public static final int EPHEMERAL_FIRST = 49152;
    public static final int EPHEMERAL_LAST = 65535;
    /** How many ephemeral ports there are (the most tries a search for a free one takes). */
    public static final int EPHEMERAL_COUNT = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;

    private final int[] use = new int[65536];
    private final boolean[] exclusive = new boolean[65536];
    private int nextEphemeral = EPHEMERAL_FIRST;

    /** A port of the ephemeral range no object holds, or 0 when all are held. Does not take it. */
    public int allocate() {
        for (int tries = 0; tries < EPHEMERAL_COUNT; tries++) {
            int port = nextEphemeral;
            nextEphemeral = port == EPHEMERAL_LAST ? EPHEMERAL_FIRST : port + 1;
            if (use[port] == 0) {
                return port;
            }
        }
        return 0;
    }

    /**
     * The port a bind to {@code requested} gets, not yet taken ({@link #use}): {@code requested} itself when no
     * object holds it, a free ephemeral port for 0. A failure is returned as its NTSTATUS, an error code and so
     * negative: STATUS_SHARING_VIOLATION (the port is held), STATUS_TOO_MANY_ADDRESSES (no ephemeral port free).
     */
    public int choose(int requested) {
        if (requested == 0) {
            int p = allocate();
            return p != 0 ? p : NtStatus.STATUS_TOO_MANY_ADDRESSES.code();
        }
        return inUse(requested) ? NtStatus.STATUS_SHARING_VIOLATION.code() : requested;
    }

    public boolean inUse(int port) {
        return use[port] > 0;
    }

    /** An object holds the port with SO_EXCLUSIVEADDRUSE. */
    public boolean exclusive(int port) {
        return exclusive[port];
    }

    public void use(int port) {
        use[port]++;
    }

    public void use(int port, boolean exclusiveUse) {
        use[port]++;
        exclusive[port] |= exclusiveUse;
    }

    /** One holder lets go of the port; the exclusive mark goes with the last. */
    public void free(int port) {
        if (use[port] > 0) {
            use[port]--;
        }
        if (use[port] == 0) {
            exclusive[port] = false;
        }
    }
}
