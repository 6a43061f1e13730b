package io.fastpath.netty;

/**
 * The closed channels of one event loop whose connection waits in FIN-WAIT-2 for the peer's FIN (orphans, as
 * Linux calls a closed socket there), oldest first: with one time-out for all, deadlines come in the order the
 * channels were added. Linked through the channels' {@link Node}s (no allocation per add), and a channel leaves the
 * list in O(1) when its connection closes. Event loop thread only.
 */
final class Orphans {
    /** A channel's place on the list. */
    static final class Node {
        final FastpathSocketChannel channel;
        /** The peer acknowledged the channel's FIN (FIN-WAIT-2 or later). */
        boolean finAcknowledged;
        long sinceNs;
        boolean listed;
        Node older;
        Node newer;

        Node(FastpathSocketChannel channel) {
            this.channel = channel;
        }
    }

    private Node oldest;
    private Node newest;

    boolean isEmpty() {
        return oldest == null;
    }

    /** Adds the channel as orphaned at {@code nowNs}; nothing if it is listed already. */
    void add(Node n, long nowNs) {
        if (n.listed) {
            return;
        }
        n.listed = true;
        n.sinceNs = nowNs;
        n.newer = null;
        n.older = newest;
        if (newest != null) {
            newest.newer = n;
        } else {
            oldest = n;
        }
        newest = n;
    }

    /** Takes the channel off the list, if it is on it. */
    void remove(Node n) {
        if (!n.listed) {
            return;
        }
        n.listed = false;
        if (n.older != null) {
            n.older.newer = n.newer;
        } else {
            oldest = n.newer;
        }
        if (n.newer != null) {
            n.newer.older = n.older;
        } else {
            newest = n.older;
        }
        n.older = null;
        n.newer = null;
    }

    /** Takes off and returns the oldest channel orphaned {@code timeoutNs} or more before {@code nowNs}, or null. */
    FastpathSocketChannel pollExpired(long nowNs, long timeoutNs) {
        Node n = oldest;
        if (n == null || nowNs - n.sinceNs < timeoutNs) {
            return null;
        }
        remove(n);
        return n.channel;
    }

    void clear() {
        while (oldest != null) {
            remove(oldest);
        }
    }
}
