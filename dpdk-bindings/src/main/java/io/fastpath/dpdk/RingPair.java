package io.fastpath.dpdk;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Two ethdev ports wired back to back in one process through two {@code rte_ring}s
 * ({@code rte_eth_from_rings}): what port A transmits, port B receives, and the other way round. Deterministic
 * and the fastest link there is; no kernel involved. ({@code net_ring}'s ATTACH cannot be used within one
 * process, hence the explicit rings.)
 *
 * <p>With {@code config.queues()} = N the pair has N rings each way: what A sends on its queue q, B receives on
 * its queue q (no hashing: the queue a frame arrives on is the queue it was sent on).
 *
 * <p>The link: by default an Ethernet of the ring PMD's MTU (1,500) whose frames carry checksums computed in
 * software, like a wire without offloads. A {@link Link} can declare it otherwise, as documented properties of
 * this virtual link (the kernel's loopback does the same: MTU 65,536, checksums not computed): a larger MTU
 * (the pools' data room must hold the frame) and checksum offload (frames that ask for their IPv4/TCP
 * checksums on transmit arrive flagged good, fields never computed; see
 * {@link EthDevPort#declareLinkChecksumOffload}).
 *
 * <p>Closing closes both ports, then frees the rings.
 */
public final class RingPair implements AutoCloseable {
    private static final int RING_F_SP_ENQ = 0x0001;
    private static final int RING_F_SC_DEQ = 0x0002;
    private static final MethodHandle RING_CREATE = Native.downcall("rte_ring_create",
        FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT));
    private static final MethodHandle RING_FREE = Native.downcall("rte_ring_free",
        FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    private static final MethodHandle ETH_FROM_RINGS = Native.downcall("rte_eth_from_rings",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT,
            ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private final EthDevPort a;
    private final EthDevPort b;
    private final MemorySegment[] aToB;
    private final MemorySegment[] bToA;

    private RingPair(EthDevPort a, EthDevPort b, MemorySegment[] aToB, MemorySegment[] bToA) {
        this.a = a;
        this.b = b;
        this.aToB = aToB;
        this.bToA = bToA;
    }

    /**
     * Creates ports {@code <name>_a} and {@code <name>_b} joined by two rings of {@code ringSize} slots (a
     * power of two), each port receiving into its own pool.
     */
    public static RingPair create(String name, int ringSize, PktmbufPool poolA, PktmbufPool poolB,
                                  EthDevPort.Config config) {
        return create(name, ringSize, poolA, poolB, config, Link.ETHERNET);
    }

    /**
     * What a ring pair's link declares of itself: an MTU (0: the ring PMD's 1,500) and whether it offloads
     * IPv4/TCP checksums.
     */
    public record Link(int mtu, boolean checksumOffload) {
        /** The default: 1,500 bytes, checksums computed and verified in software. */
        public static final Link ETHERNET = new Link(0, false);
        /** The largest MTU a frame in one mbuf allows: data_len and buf_len are 16-bit, the headroom comes first. */
        public static final int MAX_MTU = 0xFFFF - (int) Layouts.PKTMBUF_HEADROOM - 14;

        public Link {
            if (mtu != 0 && (mtu < 68 || mtu > MAX_MTU)) {
                throw new IllegalArgumentException("link MTU must be 68.." + MAX_MTU + ": " + mtu);
            }
        }

        /** A link of {@code mtu} bytes that offloads checksums: the fast virtual link. */
        public static Link offloading(int mtu) {
            return new Link(mtu, true);
        }

        /** The data room (headroom included) a pool needs for one of this link's frames in one mbuf. */
        public int dataRoom() {
            return mtu == 0 ? PktmbufPool.DEFAULT_DATA_ROOM : mtu + 14 + (int) Layouts.PKTMBUF_HEADROOM;
        }
    }

    /** As {@link #create(String, int, PktmbufPool, PktmbufPool, EthDevPort.Config)}, over the {@code link}. */
    public static RingPair create(String name, int ringSize, PktmbufPool poolA, PktmbufPool poolB,
                                  EthDevPort.Config config, Link link) {
        if (link.mtu() != 0) {
            config = config.withMtu(link.mtu());
            if (poolA.dataRoom() < link.dataRoom() || poolB.dataRoom() < link.dataRoom()) {
                throw new IllegalArgumentException("pools' data room " + poolA.dataRoom() + "/" + poolB.dataRoom()
                    + " cannot hold a " + link.mtu() + "-byte MTU frame: need " + link.dataRoom());
            }
        }
        Eal.shared();
        int n = config.queues();
        MemorySegment[] aToB = new MemorySegment[n];
        MemorySegment[] bToA = new MemorySegment[n];
        try {
            for (int q = 0; q < n; q++) {
                String suffix = q == 0 ? "" : Integer.toString(q);
                aToB[q] = createRing(name + "_ab" + suffix, ringSize);
                bToA[q] = createRing(name + "_ba" + suffix, ringSize);
            }
        } catch (RuntimeException e) {
            freeRings(aToB);
            freeRings(bToA);
            throw e;
        }
        EthDevPort a = null;
        try {
            a = EthDevPort.openPortId(fromRings(name + "_a", bToA, aToB), poolA, config);
            EthDevPort b = EthDevPort.openPortId(fromRings(name + "_b", aToB, bToA), poolB, config);
            if (link.checksumOffload()) {
                a.declareLinkChecksumOffload(config.checksumOffload());
                b.declareLinkChecksumOffload(config.checksumOffload());
            }
            return new RingPair(a, b, aToB, bToA);
        } catch (RuntimeException e) {
            if (a != null) {
                a.close();
            }
            freeRings(aToB);
            freeRings(bToA);
            throw e;
        }
    }

    public EthDevPort a() {
        return a;
    }

    public EthDevPort b() {
        return b;
    }

    private static MemorySegment createRing(String name, int size) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ring = (MemorySegment) RING_CREATE.invokeExact(arena.allocateFrom(name), size, -1,
                RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (ring.address() == 0) {
                throw new DpdkException("rte_ring_create " + name, Native.rteErrno());
            }
            return ring;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private static int fromRings(String name, MemorySegment[] rx, MemorySegment[] tx) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment rxs = arena.allocate(ValueLayout.ADDRESS, rx.length);
            MemorySegment txs = arena.allocate(ValueLayout.ADDRESS, tx.length);
            for (int q = 0; q < rx.length; q++) {
                rxs.setAtIndex(ValueLayout.ADDRESS, q, rx[q]);
                txs.setAtIndex(ValueLayout.ADDRESS, q, tx[q]);
            }
            int port = (int) ETH_FROM_RINGS.invokeExact(arena.allocateFrom(name), rxs, rx.length, txs, tx.length, 0);
            if (port < 0) {
                throw new DpdkException("rte_eth_from_rings " + name, Native.rteErrno());
            }
            return port;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private static void freeRings(MemorySegment[] rings) {
        for (MemorySegment ring : rings) {
            if (ring != null) {
                freeRing(ring);
            }
        }
    }

    private static void freeRing(MemorySegment ring) {
        try {
            RING_FREE.invokeExact(ring);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    @Override
    public void close() {
        try {
            a.close();
            b.close();
        } finally {
            freeRings(aToB);
            freeRings(bToA);
        }
    }
}
