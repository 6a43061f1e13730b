package io.fastpath.stack;

import io.fastpath.stack.ip.Ipv4Reassembly;
import io.fastpath.stack.wire.Ipv4Address;
import io.fastpath.stack.tcp.TcpConfig;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * What a stack needs to know about itself: address, subnet, gateway, MAC, and its tunables. Immutable; build
 * with {@link #builder()}.
 *
 * <p>{@code shard} and {@code shards}: which of the port's queues this stack serves and how many there are
 * ({@link io.fastpath.stack.shard.StackShards} sets them with {@link #forShard}); a single-queue stack is shard 0
 * of 1. Shard q > 0 of several writes its counters next to the configured file, as
 * {@code <name>.queue<q>.counters}.
 */
public record StackConfig(
    String name,
    int address,
    int prefixLength,
    int gateway,
    long mac,
    int arpCapacity,
    long arpLifetimeNs,
    long arpRetryIntervalNs,
    int arpMaxRequests,
    boolean[] rawProtocols,
    int maxHeldFrames,
    int ringCapacity,
    Path countersFile,
    TcpConfig tcp,
    int tcpMemoryLimitMbufs,
    int tcpMemoryReserveMbufs,
    int shard,
    int shards,
    int reassemblyMaxDatagrams,
    int reassemblyMaxFragments,
    int reassemblyMaxMbufs,
    long reassemblyTimeoutNs) {

    /**
     * Refuses TCP memory settings that would let TCP take more than the pool, and a shard outside 0..shards-1
     * (at most 64 shards: an ICMP echo identifier carries the shard in 6 bits).
     */
    public StackConfig {
        if (tcpMemoryLimitMbufs < 0 || tcpMemoryReserveMbufs < 0) {
            throw new IllegalArgumentException("tcp memory limits must be >= 0");
        }
        if (shards < 1 || shards > 64 || shard < 0 || shard >= shards) {
            throw new IllegalArgumentException("shard " + shard + " of " + shards);
        }
        if (reassemblyMaxDatagrams < 1 || reassemblyMaxDatagrams > 4096 || reassemblyMaxFragments < 1
            || reassemblyMaxFragments > 8192 || reassemblyMaxMbufs < 1 || reassemblyTimeoutNs <= 0) {
            throw new IllegalArgumentException("reassembly: " + reassemblyMaxDatagrams + " datagrams (1..4096), "
                + reassemblyMaxFragments + " fragments each (1..8192), " + reassemblyMaxMbufs + " mbufs, "
                + reassemblyTimeoutNs + " ns");
        }
    }

    /** As before shards existed: shard 0 of 1. */
    public StackConfig(String name, int address, int prefixLength, int gateway, long mac, int arpCapacity,
                       long arpLifetimeNs, long arpRetryIntervalNs, int arpMaxRequests, boolean[] rawProtocols,
                       int maxHeldFrames, int ringCapacity, Path countersFile, TcpConfig tcp,
                       int tcpMemoryLimitMbufs, int tcpMemoryReserveMbufs) {
        this(name, address, prefixLength, gateway, mac, arpCapacity, arpLifetimeNs, arpRetryIntervalNs,
            arpMaxRequests, rawProtocols, maxHeldFrames, ringCapacity, countersFile, tcp, tcpMemoryLimitMbufs,
            tcpMemoryReserveMbufs, 0, 1, Ipv4Reassembly.DEFAULT_MAX_DATAGRAMS, Ipv4Reassembly.DEFAULT_MAX_FRAGMENTS,
            Ipv4Reassembly.DEFAULT_MAX_BUFFERS, Ipv4Reassembly.DEFAULT_TIMEOUT_NS);
    }

    /**
     * This configuration for shard {@code q} of {@code n}: the same host (address, MAC, tunables), its own
     * counters file ({@code <name>.queue<q>.counters} beside the configured one, for q > 0).
     */
    public StackConfig forShard(int q, int n) {
        return new StackConfig(name, address, prefixLength, gateway, mac, arpCapacity, arpLifetimeNs,
            arpRetryIntervalNs, arpMaxRequests, rawProtocols, maxHeldFrames, ringCapacity, shardCountersFile(
                countersFile, q), tcp, tcpMemoryLimitMbufs, tcpMemoryReserveMbufs, q, n, reassemblyMaxDatagrams,
            reassemblyMaxFragments, reassemblyMaxMbufs, reassemblyTimeoutNs);
    }

    /** Shard q's counters file: the configured one for shard 0, {@code <base>.queue<q>.counters} beside it. */
    public static Path shardCountersFile(Path countersFile, int q) {
        if (q == 0) {
            return countersFile;
        }
        String file = countersFile.getFileName().toString();
        String base = file.endsWith(".counters") ? file.substring(0, file.length() - ".counters".length()) : file;
        return countersFile.resolveSibling(base + ".queue" + q + ".counters");
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A locally administered unicast MAC derived from the address: 02:66:70:a.b.c.d's low three bytes. */
    public static long derivedMac(int address) {
        return 0x02_66_70_00_00_00L | (address & 0xFF_FF_FFL);
    }

    /** Fluent builder with defaults for everything but the address. */
    public static final class Builder {
        private String name = "fastpath";
        private int address;
        private int prefixLength = 24;
        private int gateway;
        private long mac;
        private int arpCapacity = 1024;
        private long arpLifetimeNs = TimeUnit.SECONDS.toNanos(60);
        private long arpRetryIntervalNs = TimeUnit.MILLISECONDS.toNanos(1000);
        private int arpMaxRequests = 3;
        private final boolean[] rawProtocols = new boolean[256];
        private int maxHeldFrames = 1024;
        private int ringCapacity = 1 << 16;
        private Path countersFile;
        private TcpConfig tcp = TcpConfig.defaults();
        private int tcpMemoryLimitMbufs;
        private int tcpMemoryReserveMbufs = 1024;
        private int reassemblyMaxDatagrams = Ipv4Reassembly.DEFAULT_MAX_DATAGRAMS;
        private int reassemblyMaxFragments = Ipv4Reassembly.DEFAULT_MAX_FRAGMENTS;
        private int reassemblyMaxMbufs = Ipv4Reassembly.DEFAULT_MAX_BUFFERS;
        private long reassemblyTimeoutNs = Ipv4Reassembly.DEFAULT_TIMEOUT_NS;

        public Builder name(String value) {
            this.name = value;
            return this;
        }

        /** {@code a.b.c.d/len}. */
        public Builder cidr(String cidr) {
            int slash = cidr.indexOf('/');
            if (slash < 0) {
                throw new IllegalArgumentException("expected a.b.c.d/len, got '" + cidr + "'");
            }
            this.address = Ipv4Address.parse(cidr.substring(0, slash));
            try {
                this.prefixLength = Integer.parseInt(cidr.substring(slash + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad prefix length in '" + cidr + "'", e);
            }
            return this;
        }

        public Builder address(int value, int prefix) {
            this.address = value;
            this.prefixLength = prefix;
            return this;
        }

        public Builder gateway(int value) {
            this.gateway = value;
            return this;
        }

        /** The stack's own MAC (0: {@link #derivedMac}). Give the stack its own: net_tap's kernel side has the port's. */
        public Builder mac(long value) {
            this.mac = value;
            return this;
        }

        /**
         * The neighbour cache: {@code capacity} entries (a power of two); an entry is REACHABLE for {@code
         * lifetimeNs} after the neighbour's last ARP, then STALE (still used; re-confirmed on use by up to
         * {@code maxRequests} unicast probes after min(5 s, lifetime)); resolution by broadcast sends up to
         * {@code maxRequests} requests, {@code retryIntervalNs} apart, as do the probes. Defaults: 1,024 (Linux's
         * gc_thresh3; three quarters of it usable, more than a /24 has hosts), 60 s, 1 s, 3 (see
         * {@link io.fastpath.stack.arp.ArpTable}).
         */
        public Builder arp(int capacity, long lifetimeNs, long retryIntervalNs, int maxRequests) {
            this.arpCapacity = capacity;
            this.arpLifetimeNs = lifetimeNs;
            this.arpRetryIntervalNs = retryIntervalNs;
            this.arpMaxRequests = maxRequests;
            return this;
        }

        /** Deliver IPv4 packets of this protocol to the application as descriptors (see Stack#pollFrames). */
        public Builder rawProtocol(int protocol) {
            this.rawProtocols[protocol & 0xFF] = true;
            return this;
        }

        public Builder maxHeldFrames(int value) {
            this.maxHeldFrames = value;
            return this;
        }

        /** Bytes in each cross-thread ring (a power of two). */
        public Builder ringCapacity(int value) {
            this.ringCapacity = value;
            return this;
        }

        /** Where the counters file goes (default: /dev/shm/fastpath/NAME.counters). */
        public Builder countersFile(Path value) {
            this.countersFile = value;
            return this;
        }

        /** TCP tunables (buffers, timers, options). */
        public Builder tcp(TcpConfig value) {
            this.tcp = value;
            return this;
        }

        /**
         * TCP's receive memory: at most {@code limitMbufs} mbufs held over all connections (0: the pool less the
         * reserve), and {@code reserveMbufs} of the pool (at most a quarter of it) never taken by TCP, so the
         * port can go on receiving and the stack answering ARP, ICMP and with ACKs and resets. Defaults: 0, 1024.
         */
        public Builder tcpMemory(int limitMbufs, int reserveMbufs) {
            if (limitMbufs < 0 || reserveMbufs < 0) {
                throw new IllegalArgumentException("tcp memory limits must be >= 0");
            }
            this.tcpMemoryLimitMbufs = limitMbufs;
            this.tcpMemoryReserveMbufs = reserveMbufs;
            return this;
        }

        /**
         * IPv4 reassembly ({@link Ipv4Reassembly}): at most {@code maxDatagrams} datagrams in progress (1..4096),
         * {@code maxFragments} fragments each (1..8192), {@code maxMbufs} fragment mbufs held over all of them
         * (the stack also caps this at an eighth of its share of the pool), and an incomplete datagram dropped
         * {@code timeoutNs} after its first fragment. When a new fragment needs room that is not there, the oldest
         * incomplete datagram is evicted. Defaults: 64, 64, 1024, 30 s (Linux's ipfrag_time).
         */
        public Builder reassembly(int maxDatagrams, int maxFragments, int maxMbufs, long timeoutNs) {
            this.reassemblyMaxDatagrams = maxDatagrams;
            this.reassemblyMaxFragments = maxFragments;
            this.reassemblyMaxMbufs = maxMbufs;
            this.reassemblyTimeoutNs = timeoutNs;
            return this;
        }

        public StackConfig build() {
            if (address == 0) {
                throw new IllegalArgumentException("the stack needs an address (--ip a.b.c.d/len)");
            }
            if (prefixLength < 1 || prefixLength > 30) {
                throw new IllegalArgumentException("prefix length must be 1..30: " + prefixLength);
            }
            Path counters = countersFile != null ? countersFile : Path.of("/dev/shm/fastpath", name + ".counters");
            return new StackConfig(name, address, prefixLength, gateway, mac != 0 ? mac : derivedMac(address),
                arpCapacity, arpLifetimeNs, arpRetryIntervalNs, arpMaxRequests, rawProtocols.clone(), maxHeldFrames,
                ringCapacity, counters, tcp, tcpMemoryLimitMbufs, tcpMemoryReserveMbufs, 0, 1, reassemblyMaxDatagrams,
                reassemblyMaxFragments, reassemblyMaxMbufs, reassemblyTimeoutNs);
        }
    }
}
