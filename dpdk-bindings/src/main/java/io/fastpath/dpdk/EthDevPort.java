package io.fastpath.dpdk;

import static io.fastpath.dpdk.Layouts.*;
import static io.fastpath.dpdk.Native.ALL;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * A DPDK ethdev port with one or more rx/tx queue pairs ({@link Config#queues}), configured, started and ready
 * for bursts. The port itself is queue 0; {@link #queue(int)} gives each queue pair its own {@link Port} view, so
 * one stack shard per queue polls its own pair. With several queues the port spreads received flows over them
 * with RSS where the PMD offers it ({@code RTE_ETH_MQ_RX_RSS}, IPv4/TCP hash, the PMD's own key, read back with
 * {@link #rssKey()} and {@link #redirectionTable()}); virtual PMDs spread them their own way (net_tap: the
 * kernel's flow steering; net_af_packet: the kernel's fanout hash; a ring pair: the queue it was sent on).
 *
 * <p>Open one from a DPDK vdev string exactly as {@code --vdev} takes it ({@link #openVdev}: net_tap,
 * net_af_packet, or any other virtual PMD), or from an already-created port id ({@link #openPortId}: a ring
 * pair, a real NIC). Closing stops and closes the port and, for a vdev this class created, removes the
 * device, so ports can be opened and closed any number of times in one JVM.
 *
 * <p>Fast path: {@code rte_eth_rx_burst}/{@code rte_eth_tx_burst} are static inline in DPDK. They read the
 * PMD's burst function and queue pointer from {@code rte_eth_fp_ops[port]} and call it; this class does the
 * same from Java, reading the pointers once after start (docs/dpdk-bindings.md has the measurement).
 * RX/TX callbacks ({@code rte_eth_add_rx_callback}) are not supported.
 *
 * <p>Thread: {@link #receive}/{@link #transmit} from one poll thread; set-up, stats and close from any one
 * thread while the poll thread is not bursting.
 */
public final class EthDevPort implements Port {
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;

    private static final MethodHandle VDEV_INIT = Native.downcall("rte_vdev_init",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    private static final MethodHandle VDEV_UNINIT = Native.downcall("rte_vdev_uninit",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle GET_PORT_BY_NAME = Native.downcall("rte_eth_dev_get_port_by_name",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    private static final MethodHandle GET_NAME_BY_PORT = Native.downcall("rte_eth_dev_get_name_by_port",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.ADDRESS));
    private static final MethodHandle INFO_GET = Native.downcall("rte_eth_dev_info_get",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.ADDRESS));
    private static final MethodHandle CONFIGURE = Native.downcall("rte_eth_dev_configure",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.JAVA_SHORT,
            ValueLayout.JAVA_SHORT, ValueLayout.ADDRESS));
    private static final MethodHandle RX_QUEUE_SETUP = Native.downcall("rte_eth_rx_queue_setup",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.JAVA_SHORT,
            ValueLayout.JAVA_SHORT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    private static final MethodHandle TX_QUEUE_SETUP = Native.downcall("rte_eth_tx_queue_setup",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.JAVA_SHORT,
            ValueLayout.JAVA_SHORT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle START = Native.downcall("rte_eth_dev_start",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT));
    private static final MethodHandle STOP = Native.downcall("rte_eth_dev_stop",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT));
    private static final MethodHandle CLOSE = Native.downcall("rte_eth_dev_close",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT));
    private static final MethodHandle MACADDR_GET = Native.downcall("rte_eth_macaddr_get",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.ADDRESS));
    private static final MethodHandle MACADDR_SET = Native.downcall("rte_eth_dev_default_mac_addr_set",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.ADDRESS));
    private static final MethodHandle GET_MTU = Native.downcall("rte_eth_dev_get_mtu",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.ADDRESS));
    private static final MethodHandle SET_MTU = Native.downcall("rte_eth_dev_set_mtu",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.JAVA_SHORT));
    private static final MethodHandle PROMISCUOUS_ENABLE = Native.downcall("rte_eth_promiscuous_enable",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT));
    private static final MethodHandle LINK_GET_NOWAIT = Native.downcall("rte_eth_link_get_nowait",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.ADDRESS));
    private static final MethodHandle RSS_HASH_CONF_GET = Native.downcall("rte_eth_dev_rss_hash_conf_get",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.ADDRESS));
    private static final MethodHandle RSS_RETA_QUERY = Native.downcall("rte_eth_dev_rss_reta_query",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.ADDRESS,
            ValueLayout.JAVA_SHORT));
    private static final MethodHandle STATS_GET = Native.downcall("rte_eth_stats_get",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_SHORT, ValueLayout.ADDRESS));
    /** {@code uint16_t (*eth_rx_burst_t)(void *rxq, struct rte_mbuf **rx_pkts, uint16_t nb_pkts)}, tx alike. */
    private static final MethodHandle BURST = Native.pointerCall(
        FunctionDescriptor.of(ValueLayout.JAVA_SHORT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_SHORT),
        Linker.Option.critical(false));
    private static final long FP_OPS = Native.symbol("rte_eth_fp_ops").address();

    private final String name;
    private final int portId;
    private final boolean ownsDevice;
    private final PktmbufPool pool;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment scratch = arena.allocate(DEV_INFO_SIZE + ETH_STATS_SIZE + ETH_CONF_SIZE, 64);
    private long rxOffloadCapa;
    private long txOffloadCapa;
    /** A virtual link's declared checksum offload ({@link #declareLinkChecksumOffload}): receive marks frames. */
    private boolean linkChecksums;
    private final String driverName;
    private final int maxRxQueues;
    private final int maxTxQueues;
    private final int retaSize;
    private final int hashKeySize;
    private final long flowTypeRssOffloads;
    private int queues = 1;
    private long rssHashFunctions;
    private byte[] rssKey;
    private int[] reta;
    private long[] rxQueues = new long[1];
    private long[] txQueues = new long[1];
    private Port[] queueViews = new Port[] {this};
    private long txOffloads;
    private int descriptorMbufs;
    private MemorySegment rxBurst = MemorySegment.NULL;
    private MemorySegment txBurst = MemorySegment.NULL;
    private long rxQueue;
    private long txQueue;
    private boolean started;
    private boolean closed;

    /**
     * Port set-up knobs; the defaults suit virtual ports. {@code rxDescriptors}/{@code txDescriptors} are per
     * queue; {@code queues} is the number of rx/tx queue pairs (1 to the PMD's maximum).
     */
    public record Config(int rxDescriptors, int txDescriptors, boolean promiscuous, long macAddress, int mtu,
                         boolean checksumOffload, int queues) {
        public Config {
            if (queues < 1 || queues > 1024) {
                throw new IllegalArgumentException("queues must be 1..1024: " + queues);
            }
        }

        /** As before queues existed: one queue pair. */
        public Config(int rxDescriptors, int txDescriptors, boolean promiscuous, long macAddress, int mtu,
                      boolean checksumOffload) {
            this(rxDescriptors, txDescriptors, promiscuous, macAddress, mtu, checksumOffload, 1);
        }

        /** 1024 descriptors each way, promiscuous, the PMD's own MAC and MTU, checksum offload where offered. */
        public static Config defaults() {
            return new Config(1024, 1024, true, 0L, 0, true, 1);
        }

        /** A copy that sets this MAC on the port after start (0 keeps the PMD's). */
        public Config withMac(long mac) {
            return new Config(rxDescriptors, txDescriptors, promiscuous, mac, mtu, checksumOffload, queues);
        }

        /** A copy that sets this MTU before start (0 keeps the PMD's). */
        public Config withMtu(int newMtu) {
            return new Config(rxDescriptors, txDescriptors, promiscuous, macAddress, newMtu, checksumOffload,
                queues);
        }

        /** A copy with IPv4/TCP checksum offload on (where the port offers it) or off. */
        public Config withChecksumOffload(boolean on) {
            return new Config(rxDescriptors, txDescriptors, promiscuous, macAddress, mtu, on, queues);
        }

        /** A copy with {@code n} rx/tx queue pairs. */
        public Config withQueues(int n) {
            return new Config(rxDescriptors, txDescriptors, promiscuous, macAddress, mtu, checksumOffload, n);
        }
    }

    private EthDevPort(String name, int portId, boolean ownsDevice, PktmbufPool pool, Config config) {
        this.name = name;
        this.portId = portId;
        this.ownsDevice = ownsDevice;
        this.pool = pool;
        MemorySegment info = scratch.asSlice(0, DEV_INFO_SIZE);
        info.fill((byte) 0);
        check("rte_eth_dev_info_get", call2(INFO_GET, info));
        this.driverName = Native.cString(info.get(ValueLayout.ADDRESS, DEV_INFO_DRIVER_NAME));
        this.rxOffloadCapa = info.get(LONG, DEV_INFO_RX_OFFLOAD_CAPA);
        this.txOffloadCapa = info.get(LONG, DEV_INFO_TX_OFFLOAD_CAPA);
        this.maxRxQueues = Short.toUnsignedInt(info.get(SHORT, DEV_INFO_MAX_RX_QUEUES));
        this.maxTxQueues = Short.toUnsignedInt(info.get(SHORT, DEV_INFO_MAX_TX_QUEUES));
        this.retaSize = Short.toUnsignedInt(info.get(SHORT, DEV_INFO_RETA_SIZE));
        this.hashKeySize = Byte.toUnsignedInt(info.get(ValueLayout.JAVA_BYTE, DEV_INFO_HASH_KEY_SIZE));
        this.flowTypeRssOffloads = info.get(LONG, DEV_INFO_FLOW_TYPE_RSS_OFFLOADS);
        start(config);
    }

    /**
     * The vdev string with {@code queues} queue pairs where the PMD takes the count as an argument:
     * net_af_packet's {@code qpairs=N} is added unless given (net_tap, net_ring and NICs take it from the port
     * configuration, so their strings come back unchanged, as does any string for one queue).
     */
    public static String vdevWithQueues(String vdev, int queues) {
        if (queues > 1 && vdev.startsWith("net_af_packet") && !vdev.contains("qpairs=")) {
            return vdev + ",qpairs=" + queues;
        }
        return vdev;
    }

    /**
     * Creates the device named by a vdev string ({@code net_tap0,iface=fp0}: the name, then its arguments,
     * exactly as EAL's {@code --vdev} takes it) and starts it as a port.
     *
     * @throws DpdkException with DPDK's reason when the device cannot be created or started (the device is
     *     removed again)
     */
    public static EthDevPort openVdev(String vdev, PktmbufPool pool, Config config) {
        Eal.shared();
        int comma = vdev.indexOf(',');
        String devName = comma < 0 ? vdev : vdev.substring(0, comma);
        String devArgs = comma < 0 ? "" : vdev.substring(comma + 1);
        if (devName.isBlank()) {
            throw new IllegalArgumentException("vdev string has no device name: '" + vdev + "'");
        }
        int portId;
        try (Arena a = Arena.ofConfined()) {
            int rc = (int) VDEV_INIT.invokeExact(a.allocateFrom(devName), a.allocateFrom(devArgs));
            if (rc != 0) {
                throw new DpdkException("rte_vdev_init " + vdev, rc);
            }
            MemorySegment id = a.allocate(ValueLayout.JAVA_SHORT);
            rc = (int) GET_PORT_BY_NAME.invokeExact(a.allocateFrom(devName), id);
            if (rc != 0) {
                uninit(devName);
                throw new DpdkException("rte_eth_dev_get_port_by_name " + devName, rc);
            }
            portId = Short.toUnsignedInt(id.get(ValueLayout.JAVA_SHORT, 0));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        try {
            return new EthDevPort(devName, portId, true, pool, config);
        } catch (RuntimeException e) {
            closePort(portId);
            uninit(devName);
            throw e;
        }
    }

    /**
     * Starts the port EAL probed under this device name: a PCI device allowed with {@code Eal.Args.pci}
     * ({@code 0000:03:00.0}; {@code 03:00.0} and device arguments after a comma are accepted as {@code -a} takes
     * them), or a device of EAL's {@code --vdev}.
     *
     * @throws DpdkException (ENODEV) when EAL has no such port, e.g. the PCI device is not bound to vfio-pci
     */
    public static EthDevPort openDevice(String device, PktmbufPool pool, Config config) {
        Eal.shared();
        String name = deviceName(device);
        int portId;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment id = a.allocate(ValueLayout.JAVA_SHORT);
            int rc = (int) GET_PORT_BY_NAME.invokeExact(a.allocateFrom(name), id);
            if (rc != 0) {
                throw new DpdkException("rte_eth_dev_get_port_by_name " + name + " (EAL probed no such port: is the "
                    + "device allowed (--pci), bound to vfio-pci, and has it a PMD?)", rc);
            }
            portId = Short.toUnsignedInt(id.get(ValueLayout.JAVA_SHORT, 0));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        return openPortId(portId, pool, config);
    }

    /** The ethdev name of a device as {@code -a} takes it: arguments dropped, a PCI domain added if missing. */
    static String deviceName(String device) {
        int comma = device.indexOf(',');
        String name = (comma < 0 ? device : device.substring(0, comma)).trim().toLowerCase(java.util.Locale.ROOT);
        if (name.matches("[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]")) {
            name = "0000:" + name;
        }
        return name;
    }

    /** Starts a port that already exists (created by a ring pair, EAL's {@code --vdev} or a PCI probe). */
    public static EthDevPort openPortId(int portId, PktmbufPool pool, Config config) {
        Eal.shared();
        String devName;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(64);
            int rc = (int) GET_NAME_BY_PORT.invokeExact((short) portId, buf);
            if (rc != 0) {
                throw new DpdkException("rte_eth_dev_get_name_by_port " + portId, rc);
            }
            devName = buf.getString(0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        try {
            return new EthDevPort(devName, portId, false, pool, config);
        } catch (RuntimeException e) {
            closePort(portId);
            throw e;
        }
    }

    private void start(Config config) {
        int n = config.queues();
        if (n > maxRxQueues || n > maxTxQueues) {
            throw new DpdkException("port " + name + " (" + driverName + ") has at most " + maxRxQueues + " rx and "
                + maxTxQueues + " tx queues, asked for " + n, -22);
        }
        queues = n;
        descriptorMbufs = config.rxDescriptors() + config.txDescriptors();
        MemorySegment conf = scratch.asSlice(DEV_INFO_SIZE + ETH_STATS_SIZE, ETH_CONF_SIZE);
        conf.fill((byte) 0);
        long hashFunctions = (ETH_RSS_IPV4 | ETH_RSS_NONFRAG_IPV4_TCP) & flowTypeRssOffloads;
        if (n > 1 && hashFunctions != 0) {
            // RSS over IPv4/TCP with the PMD's default key (rss_key NULL): read back after start.
            conf.set(INT, ETH_CONF_RXMODE + RXMODE_MQ_MODE, (int) ETH_MQ_RX_RSS);
            conf.set(LONG, ETH_CONF_RSS_CONF + RSS_CONF_HF, hashFunctions);
            rssHashFunctions = hashFunctions;
        }
        if (config.mtu() > 0) {
            conf.set(INT, ETH_CONF_RXMODE + RXMODE_MTU, config.mtu());
        }
        long checksums = TX_OFFLOAD_IPV4_CKSUM | TX_OFFLOAD_TCP_CKSUM;
        if (config.checksumOffload() && (txOffloadCapa & checksums) == checksums) {
            conf.set(LONG, ETH_CONF_TXMODE + TXMODE_OFFLOADS, checksums);
            txOffloads = checksums;
        }
        long rxChecksums = RX_OFFLOAD_IPV4_CKSUM | RX_OFFLOAD_TCP_CKSUM;
        if (config.checksumOffload() && (rxOffloadCapa & rxChecksums) == rxChecksums) {
            conf.set(LONG, ETH_CONF_RXMODE + RXMODE_OFFLOADS, rxChecksums);
        }
        try {
            check("rte_eth_dev_configure", (int) CONFIGURE.invokeExact((short) portId, (short) n, (short) n, conf));
            for (int q = 0; q < n; q++) {
                check("rte_eth_rx_queue_setup " + q, (int) RX_QUEUE_SETUP.invokeExact((short) portId, (short) q,
                    (short) config.rxDescriptors(), -1, MemorySegment.NULL, pool.address()));
                check("rte_eth_tx_queue_setup " + q, (int) TX_QUEUE_SETUP.invokeExact((short) portId, (short) q,
                    (short) config.txDescriptors(), -1, MemorySegment.NULL));
            }
            check("rte_eth_dev_start", (int) START.invokeExact((short) portId));
            started = true;
            if (config.promiscuous()) {
                // Not every PMD can (the ring PMD has no notion of it): a failure here is not fatal.
                int ignored = (int) PROMISCUOUS_ENABLE.invokeExact((short) portId);
            }
            if (config.macAddress() != 0) {
                MemorySegment mac = scratch.asSlice(0, 8);
                putMac(mac, config.macAddress());
                check("rte_eth_dev_default_mac_addr_set", (int) MACADDR_SET.invokeExact((short) portId, mac));
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        readFastPathOps();
        if (rssHashFunctions != 0) {
            readRssConfiguration();
        }
        queueViews = new Port[n];
        queueViews[0] = this;
        for (int q = 1; q < n; q++) {
            queueViews[q] = new QueuePort(this, q);
        }
    }

    /** Reads back the key and redirection table the PMD hashes with, where it tells (not every PMD does). */
    private void readRssConfiguration() {
        try (Arena a = Arena.ofConfined()) {
            int keyLength = hashKeySize > 0 ? hashKeySize : 40;
            MemorySegment key = a.allocate(Math.max(keyLength, 64));
            MemorySegment rss = a.allocate(RSS_CONF_SIZE, 8);
            rss.set(ValueLayout.ADDRESS, RSS_CONF_KEY, key);
            rss.set(ValueLayout.JAVA_BYTE, RSS_CONF_KEY_LEN, (byte) keyLength);
            int rc = (int) RSS_HASH_CONF_GET.invokeExact((short) portId, rss);
            if (rc == 0) {
                int length = Byte.toUnsignedInt(rss.get(ValueLayout.JAVA_BYTE, RSS_CONF_KEY_LEN));
                rssKey = key.asSlice(0, length == 0 ? keyLength : length).toArray(ValueLayout.JAVA_BYTE);
            }
            if (retaSize > 0 && retaSize % 64 == 0) {
                int groups = retaSize / 64;
                MemorySegment table = a.allocate(RETA_ENTRY64_SIZE * groups, 8);
                for (int g = 0; g < groups; g++) {
                    table.set(LONG, g * RETA_ENTRY64_SIZE + RETA_ENTRY64_MASK, -1L);
                }
                rc = (int) RSS_RETA_QUERY.invokeExact((short) portId, table, (short) retaSize);
                if (rc == 0) {
                    int[] entries = new int[retaSize];
                    for (int i = 0; i < retaSize; i++) {
                        entries[i] = Short.toUnsignedInt(table.get(SHORT,
                            (i / 64) * RETA_ENTRY64_SIZE + RETA_ENTRY64_RETA + (i % 64) * 2L));
                    }
                    reta = entries;
                }
            }
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Reads the burst functions and queue pointers from {@code rte_eth_fp_ops[port]}: valid until stop. */
    private void readFastPathOps() {
        long ops = FP_OPS + portId * FP_OPS_SIZE;
        rxBurst = MemorySegment.ofAddress(ALL.get(LONG, ops + FP_OPS_RX_PKT_BURST));
        txBurst = MemorySegment.ofAddress(ALL.get(LONG, ops + FP_OPS_TX_PKT_BURST));
        long rxqData = ALL.get(LONG, ops + FP_OPS_RXQ + QDATA_DATA);
        long txqData = ALL.get(LONG, ops + FP_OPS_TXQ + QDATA_DATA);
        rxQueues = new long[queues];
        txQueues = new long[queues];
        for (int q = 0; q < queues; q++) {
            rxQueues[q] = ALL.get(LONG, rxqData + q * 8L);
            txQueues[q] = ALL.get(LONG, txqData + q * 8L);
            if (rxQueues[q] == 0 || txQueues[q] == 0) {
                throw new IllegalStateException("port " + name + " started but rte_eth_fp_ops has no queue " + q);
            }
        }
        rxQueue = rxQueues[0];
        txQueue = txQueues[0];
        if (rxBurst.address() == 0 || txBurst.address() == 0) {
            throw new IllegalStateException("port " + name + " started but rte_eth_fp_ops has no burst function");
        }
    }

    /**
     * Declares IPv4 and TCP checksum offload as a property of the virtual link this port is on (a ring pair
     * whose frames never leave memory, so nothing can corrupt them on the way): the port advertises the
     * {@code RTE_ETH_TX/RX_OFFLOAD_*_CKSUM} capabilities, enables the transmit ones when {@code enable} (as
     * {@link Config#checksumOffload()} does for a NIC), and plays the receiving NIC's part: a frame that asked
     * for a checksum on transmit ({@code RTE_MBUF_F_TX_IP_CKSUM}, {@code RTE_MBUF_F_TX_L4_MASK}) arrives marked
     * {@code RTE_MBUF_F_RX_IP_CKSUM_GOOD} / {@code RTE_MBUF_F_RX_L4_CKSUM_GOOD}, its fields never computed;
     * any other frame arrives with no checksum flag (unknown: the receiver verifies it in software). Set-up only.
     */
    void declareLinkChecksumOffload(boolean enable) {
        txOffloadCapa |= TX_OFFLOAD_IPV4_CKSUM | TX_OFFLOAD_TCP_CKSUM;
        rxOffloadCapa |= RX_OFFLOAD_IPV4_CKSUM | RX_OFFLOAD_TCP_CKSUM;
        if (enable) {
            txOffloads |= TX_OFFLOAD_IPV4_CKSUM | TX_OFFLOAD_TCP_CKSUM;
        }
        linkChecksums = true;
    }

    /** The receive side of {@link #declareLinkChecksumOffload}: transmit checksum requests become RX flags. */
    private static void markLinkChecksums(MbufArray pkts, int n) {
        for (int i = 0; i < n; i++) {
            long m = pkts.get(i);
            long flags = ALL.get(LONG, m + MBUF_OL_FLAGS);
            long rx = flags & (MBUF_F_EXTERNAL | Layouts.MBUF_F_INDIRECT); // how the mbuf is freed stays
            if ((flags & MBUF_F_TX_IP_CKSUM) != 0) {
                rx |= MBUF_F_RX_IP_CKSUM_GOOD;
            }
            if ((flags & MBUF_F_TX_L4_MASK) != 0) {
                rx |= MBUF_F_RX_L4_CKSUM_GOOD;
            }
            ALL.set(LONG, m + MBUF_OL_FLAGS, rx);
        }
    }

    /** How many rx/tx queue pairs the port has. */
    public int queues() {
        return queues;
    }

    /**
     * Queue pair {@code q} as a port of its own (queue 0 is this port): bursts go to that queue; everything else
     * (MAC, MTU, stats, the pool) is the port's. Closing a view does nothing: close the port.
     */
    public Port queue(int q) {
        return queueViews[q];
    }

    /**
     * The RSS hash functions enabled ({@code RTE_ETH_RSS_*}), 0 when the port spreads flows without RSS (one
     * queue, or a PMD that offers none: net_tap, net_af_packet, rings).
     */
    public long rssHashFunctions() {
        return rssHashFunctions;
    }

    /** The RSS key the PMD hashes with (a copy), or null when it does not say or RSS is off. */
    public byte[] rssKey() {
        return rssKey == null ? null : rssKey.clone();
    }

    /** The RSS redirection table (hash's low bits to queue; a copy), or null when the PMD does not say. */
    public int[] redirectionTable() {
        return reta == null ? null : reta.clone();
    }

    /** One queue pair of an {@link EthDevPort}: bursts on its own queue, the rest from the port. */
    private static final class QueuePort implements Port {
        private final EthDevPort port;
        private final int queue;
        private final long rxq;
        private final long txq;

        QueuePort(EthDevPort port, int queue) {
            this.port = port;
            this.queue = queue;
            this.rxq = port.rxQueues[queue];
            this.txq = port.txQueues[queue];
        }

        @Override
        public int receive(MbufArray pkts, int max) {
            int n;
            try {
                n = Short.toUnsignedInt((short) BURST.invokeExact(port.rxBurst, rxq, pkts.address(), (short) max));
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (port.linkChecksums) {
                markLinkChecksums(pkts, n);
            }
            return n;
        }

        @Override
        public int transmit(MbufArray pkts, int from, int count) {
            try {
                return Short.toUnsignedInt((short) BURST.invokeExact(port.txBurst, txq,
                    pkts.address() + (long) from * Long.BYTES, (short) count));
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
        }

        @Override
        public String name() {
            return port.name;
        }

        @Override
        public int portId() {
            return port.portId;
        }

        @Override
        public long macAddress() {
            return port.macAddress();
        }

        @Override
        public int mtu() {
            return port.mtu();
        }

        @Override
        public long txOffloadCapabilities() {
            return port.txOffloadCapa;
        }

        @Override
        public long rxOffloadCapabilities() {
            return port.rxOffloadCapa;
        }

        @Override
        public long txOffloads() {
            return port.txOffloads;
        }

        @Override
        public int descriptorMbufs() {
            return port.descriptorMbufs;
        }

        @Override
        public PktmbufPool pool() {
            return port.pool;
        }

        @Override
        public PortStats stats(PortStats into) {
            return port.stats(into);
        }

        @Override
        public boolean linkUp() {
            return port.linkUp();
        }

        /** The port's owner closes the port; a queue's view has nothing of its own to close. */
        @Override
        public void close() {
        }

        @Override
        public String toString() {
            return port + " queue " + queue;
        }
    }

    @Override
    public int receive(MbufArray pkts, int max) {
        int n;
        try {
            n = Short.toUnsignedInt((short) BURST.invokeExact(rxBurst, rxQueue, pkts.address(), (short) max));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (linkChecksums) {
            markLinkChecksums(pkts, n);
        }
        return n;
    }

    @Override
    public int transmit(MbufArray pkts, int from, int count) {
        try {
            return Short.toUnsignedInt((short) BURST.invokeExact(txBurst, txQueue,
                pkts.address() + (long) from * Long.BYTES, (short) count));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int portId() {
        return portId;
    }

    /** The PMD's driver name (e.g. {@code net_tap}). */
    public String driverName() {
        return driverName;
    }

    @Override
    public long macAddress() {
        MemorySegment mac = scratch.asSlice(0, 8);
        check("rte_eth_macaddr_get", call2(MACADDR_GET, mac));
        long value = 0;
        for (int i = 0; i < 6; i++) {
            value = (value << 8) | (mac.get(ValueLayout.JAVA_BYTE, i) & 0xFF);
        }
        return value;
    }

    private static void putMac(MemorySegment into, long mac) {
        for (int i = 0; i < 6; i++) {
            into.set(ValueLayout.JAVA_BYTE, i, (byte) (mac >>> (40 - 8 * i)));
        }
    }

    @Override
    public int mtu() {
        MemorySegment mtu = scratch.asSlice(0, 2);
        check("rte_eth_dev_get_mtu", call2(GET_MTU, mtu));
        return Short.toUnsignedInt(mtu.get(SHORT, 0));
    }

    /** Changes the MTU (the PMD may refuse: DpdkException). */
    public void mtu(int mtu) {
        try {
            check("rte_eth_dev_set_mtu", (int) SET_MTU.invokeExact((short) portId, (short) mtu));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    @Override
    public long txOffloadCapabilities() {
        return txOffloadCapa;
    }

    @Override
    public long rxOffloadCapabilities() {
        return rxOffloadCapa;
    }

    @Override
    public long txOffloads() {
        return txOffloads;
    }

    @Override
    public int descriptorMbufs() {
        return descriptorMbufs;
    }

    @Override
    public PktmbufPool pool() {
        return pool;
    }

    @Override
    public PortStats stats(PortStats into) {
        MemorySegment s = scratch.asSlice(DEV_INFO_SIZE, ETH_STATS_SIZE);
        check("rte_eth_stats_get", call2(STATS_GET, s));
        into.ipackets = s.get(LONG, STATS_IPACKETS);
        into.opackets = s.get(LONG, STATS_OPACKETS);
        into.ibytes = s.get(LONG, STATS_IBYTES);
        into.obytes = s.get(LONG, STATS_OBYTES);
        into.imissed = s.get(LONG, STATS_IMISSED);
        into.ierrors = s.get(LONG, STATS_IERRORS);
        into.oerrors = s.get(LONG, STATS_OERRORS);
        into.rxNombuf = s.get(LONG, STATS_RX_NOMBUF);
        return into;
    }

    @Override
    public boolean linkUp() {
        MemorySegment link = scratch.asSlice(0, ETH_LINK_SIZE);
        link.fill((byte) 0);
        check("rte_eth_link_get_nowait", call2(LINK_GET_NOWAIT, link));
        // struct rte_eth_link: uint32_t speed; uint16_t duplex:1, autoneg:1, status:1
        return (link.get(SHORT, 4) & 0b100) != 0;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        rxBurst = MemorySegment.NULL;
        txBurst = MemorySegment.NULL;
        if (started) {
            try {
                int ignored = (int) STOP.invokeExact((short) portId);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
        }
        closePort(portId);
        if (ownsDevice) {
            uninit(name);
        }
        arena.close();
    }

    private static void closePort(int portId) {
        try {
            int ignored = (int) CLOSE.invokeExact((short) portId);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private static void uninit(String devName) {
        try (Arena a = Arena.ofConfined()) {
            int ignored = (int) VDEV_UNINIT.invokeExact(a.allocateFrom(devName));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private int call2(MethodHandle handle, MemorySegment arg) {
        try {
            return (int) handle.invokeExact((short) portId, arg);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private void check(String what, int rc) {
        if (rc < 0) {
            throw new DpdkException(what + " (port " + name + ")", rc);
        }
    }

    @Override
    public String toString() {
        return name + " (port " + portId + ", " + driverName + ")";
    }
}
