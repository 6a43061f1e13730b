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
 * A DPDK ethdev port with one rx and one tx queue, configured, started and ready for bursts.
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
    private final long rxOffloadCapa;
    private final long txOffloadCapa;
    private final String driverName;
    private long txOffloads;
    private int descriptorMbufs;
    private MemorySegment rxBurst = MemorySegment.NULL;
    private MemorySegment txBurst = MemorySegment.NULL;
    private long rxQueue;
    private long txQueue;
    private boolean started;
    private boolean closed;

    /** Port set-up knobs; the defaults suit virtual ports. */
    public record Config(int rxDescriptors, int txDescriptors, boolean promiscuous, long macAddress, int mtu,
                         boolean checksumOffload) {
        /** 1024 descriptors each way, promiscuous, the PMD's own MAC and MTU, checksum offload where offered. */
        public static Config defaults() {
            return new Config(1024, 1024, true, 0L, 0, true);
        }

        /** A copy that sets this MAC on the port after start (0 keeps the PMD's). */
        public Config withMac(long mac) {
            return new Config(rxDescriptors, txDescriptors, promiscuous, mac, mtu, checksumOffload);
        }

        /** A copy that sets this MTU before start (0 keeps the PMD's). */
        public Config withMtu(int newMtu) {
            return new Config(rxDescriptors, txDescriptors, promiscuous, macAddress, newMtu, checksumOffload);
        }

        /** A copy with IPv4/TCP checksum offload on (where the port offers it) or off. */
        public Config withChecksumOffload(boolean on) {
            return new Config(rxDescriptors, txDescriptors, promiscuous, macAddress, mtu, on);
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
        start(config);
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
        descriptorMbufs = config.rxDescriptors() + config.txDescriptors();
        MemorySegment conf = scratch.asSlice(DEV_INFO_SIZE + ETH_STATS_SIZE, ETH_CONF_SIZE);
        conf.fill((byte) 0);
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
            check("rte_eth_dev_configure", (int) CONFIGURE.invokeExact((short) portId, (short) 1, (short) 1, conf));
            check("rte_eth_rx_queue_setup", (int) RX_QUEUE_SETUP.invokeExact((short) portId, (short) 0,
                (short) config.rxDescriptors(), -1, MemorySegment.NULL, pool.address()));
            check("rte_eth_tx_queue_setup", (int) TX_QUEUE_SETUP.invokeExact((short) portId, (short) 0,
                (short) config.txDescriptors(), -1, MemorySegment.NULL));
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
    }

    /** Reads the burst functions and queue pointers from {@code rte_eth_fp_ops[port]}: valid until stop. */
    private void readFastPathOps() {
        long ops = FP_OPS + portId * FP_OPS_SIZE;
        rxBurst = MemorySegment.ofAddress(ALL.get(LONG, ops + FP_OPS_RX_PKT_BURST));
        txBurst = MemorySegment.ofAddress(ALL.get(LONG, ops + FP_OPS_TX_PKT_BURST));
        long rxqData = ALL.get(LONG, ops + FP_OPS_RXQ + QDATA_DATA);
        long txqData = ALL.get(LONG, ops + FP_OPS_TXQ + QDATA_DATA);
        rxQueue = ALL.get(LONG, rxqData);
        txQueue = ALL.get(LONG, txqData);
        if (rxBurst.address() == 0 || txBurst.address() == 0 || rxQueue == 0 || txQueue == 0) {
            throw new IllegalStateException("port " + name + " started but rte_eth_fp_ops has no burst function");
        }
    }

    @Override
    public int receive(MbufArray pkts, int max) {
        try {
            return Short.toUnsignedInt((short) BURST.invokeExact(rxBurst, rxQueue, pkts.address(), (short) max));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
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
