package io.fastpath.stack.shard;

/**
 * The {@link FlowOwner} of a port that spreads flows with RSS: the shard is the redirection table's entry for the
 * Toeplitz hash of the segment as it is received (source = the peer, destination = us), exactly as the NIC
 * computes it. With the port's own key and table, every segment arrives on its owner's queue and nothing is
 * forwarded; with a PMD that spreads flows some other way (net_tap, net_af_packet, rings) the function is still
 * one agreed owner per flow, and segments that arrive elsewhere are forwarded to it.
 *
 * <p>Thread: immutable; any thread. Allocates nothing per call.
 */
public final class RssFlowOwner implements FlowOwner {
    /** Entries in the default redirection table (most NICs have 128 or more). */
    public static final int DEFAULT_RETA_SIZE = 128;

    private final Toeplitz toeplitz;
    private final int[] reta;
    private final int shards;

    /**
     * @param key the port's RSS key, or null for {@link Toeplitz#microsoftKey()}
     * @param reta the port's redirection table (entry = queue), or null for {@link #DEFAULT_RETA_SIZE} entries
     *     {@code i % shards}; entries at or past {@code shards} wrap
     */
    public RssFlowOwner(int shards, byte[] key, int[] reta) {
        if (shards < 1) {
            throw new IllegalArgumentException("shards must be >= 1: " + shards);
        }
        this.shards = shards;
        this.toeplitz = key == null || key.length < 16 ? Toeplitz.microsoft() : new Toeplitz(key);
        int[] table = reta != null && reta.length > 0 ? reta.clone() : defaultTable(shards);
        for (int i = 0; i < table.length; i++) {
            table[i] = Integer.remainderUnsigned(table[i], shards);
        }
        this.reta = table;
    }

    /** The default: Microsoft's key, entry i to queue i % shards. */
    public RssFlowOwner(int shards) {
        this(shards, null, null);
    }

    private static int[] defaultTable(int shards) {
        int[] table = new int[DEFAULT_RETA_SIZE];
        for (int i = 0; i < table.length; i++) {
            table[i] = i % shards;
        }
        return table;
    }

    @Override
    public int shardOf(int localIp, int localPort, int remoteIp, int remotePort) {
        int hash = toeplitz.hashIpv4Tcp(remoteIp, localIp, remotePort, localPort);
        return reta[Integer.remainderUnsigned(hash, reta.length)];
    }

    public int shards() {
        return shards;
    }

    public Toeplitz toeplitz() {
        return toeplitz;
    }
}
