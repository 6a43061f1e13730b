package io.fastpath.dpdk;

/**
 * Offsets and sizes of the DPDK 22.11 structures the bindings read and write, taken from the installed
 * headers. {@code LayoutProbeTest} compiles {@code layout-probe.c} against those headers with gcc and checks
 * every constant here, so a DPDK upgrade that moves a field fails a test instead of corrupting memory.
 */
public final class Layouts {
    private Layouts() {
    }

    public static final long MBUF_BUF_ADDR = 0L;
    public static final long MBUF_DATA_OFF = 16L;
    public static final long MBUF_REFCNT = 18L;
    public static final long MBUF_NB_SEGS = 20L;
    public static final long MBUF_PORT = 22L;
    public static final long MBUF_OL_FLAGS = 24L;
    public static final long MBUF_PACKET_TYPE = 32L;
    public static final long MBUF_PKT_LEN = 36L;
    public static final long MBUF_DATA_LEN = 40L;
    public static final long MBUF_VLAN_TCI = 42L;
    public static final long MBUF_VLAN_TCI_OUTER = 52L;
    public static final long MBUF_BUF_LEN = 54L;
    public static final long MBUF_POOL = 56L;
    public static final long MBUF_NEXT = 64L;
    public static final long MBUF_TX_OFFLOAD = 72L;
    public static final long MBUF_PRIV_SIZE = 88L;
    public static final long MBUF_SIZE = 128L;
    public static final long PKTMBUF_HEADROOM = 128L;
    public static final long MBUF_F_EXTERNAL = 2305843009213693952L;
    public static final long MBUF_F_INDIRECT = 4611686018427387904L;
    public static final long MEMPOOL_NAME = 0L;
    public static final long MEMPOOL_POOL_DATA = 32L;
    public static final long MEMPOOL_OPS_INDEX = 88L;
    public static final long MEMPOOL_SIZE = 64L;
    public static final long MEMPOOL_CACHE_SIZE = 68L;
    public static final long MEMPOOL_ELT_SIZE = 72L;
    public static final long MEMPOOL_HEADER_SIZE = 76L;
    public static final long MEMPOOL_OPS_TABLE_NUM_OPS = 4L;
    public static final long MEMPOOL_OPS_TABLE_OPS = 64L;
    public static final long MEMPOOL_OPS_SIZE = 128L;
    public static final long MEMPOOL_OPS_DEQUEUE = 56L;
    public static final long MEMPOOL_OPS_ENQUEUE = 48L;
    public static final long MEMPOOL_LOCAL_CACHE = 96L;
    public static final long MEMPOOL_CACHE_SIZE_FIELD = 0L;
    public static final long MEMPOOL_CACHE_LEN = 8L;
    public static final long MEMPOOL_CACHE_OBJS = 64L;
    public static final long MEMPOOL_CACHE_STRUCT_SIZE = 8256L;
    public static final long MAX_LCORE = 128L;
    public static final long MBUF_F_RX_IP_CKSUM_GOOD = 128L;
    public static final long MBUF_F_RX_L4_CKSUM_GOOD = 256L;
    public static final long MBUF_F_TX_IP_CKSUM = 18014398509481984L;
    public static final long MBUF_F_TX_L4_MASK = 13510798882111488L;
    public static final long FP_OPS_SIZE = 128L;
    public static final long FP_OPS_RX_PKT_BURST = 0L;
    public static final long FP_OPS_RXQ = 24L;
    public static final long FP_OPS_TX_PKT_BURST = 64L;
    public static final long FP_OPS_TX_PKT_PREPARE = 72L;
    public static final long FP_OPS_TXQ = 88L;
    public static final long QDATA_DATA = 0L;
    public static final long QDATA_CLBK = 8L;
    public static final long MAX_ETHPORTS = 32L;
    public static final long MAX_QUEUES_PER_PORT = 1024L;
    public static final long ETH_CONF_SIZE = 2272L;
    public static final long ETH_CONF_RXMODE = 8L;
    public static final long ETH_CONF_TXMODE = 64L;
    public static final long RXMODE_MTU = 4L;
    public static final long RXMODE_OFFLOADS = 16L;
    public static final long TXMODE_OFFLOADS = 8L;
    public static final long RXMODE_MQ_MODE = 0L;
    public static final long ETH_CONF_RSS_CONF = 128L;
    public static final long RSS_CONF_SIZE = 24L;
    public static final long RSS_CONF_KEY = 0L;
    public static final long RSS_CONF_KEY_LEN = 8L;
    public static final long RSS_CONF_HF = 16L;
    public static final long DEV_INFO_RETA_SIZE = 104L;
    public static final long DEV_INFO_HASH_KEY_SIZE = 106L;
    public static final long DEV_INFO_FLOW_TYPE_RSS_OFFLOADS = 112L;
    public static final long RETA_ENTRY64_SIZE = 136L;
    public static final long RETA_ENTRY64_MASK = 0L;
    public static final long RETA_ENTRY64_RETA = 8L;
    public static final long ETH_MQ_RX_RSS = 1L;
    public static final long ETH_RSS_IPV4 = 4L;
    public static final long ETH_RSS_NONFRAG_IPV4_TCP = 16L;
    public static final long DEV_INFO_SIZE = 376L;
    public static final long DEV_INFO_DRIVER_NAME = 8L;
    public static final long DEV_INFO_IF_INDEX = 16L;
    public static final long DEV_INFO_MIN_MTU = 20L;
    public static final long DEV_INFO_MAX_MTU = 22L;
    public static final long DEV_INFO_MAX_RX_QUEUES = 44L;
    public static final long DEV_INFO_MAX_TX_QUEUES = 46L;
    public static final long DEV_INFO_RX_OFFLOAD_CAPA = 72L;
    public static final long DEV_INFO_TX_OFFLOAD_CAPA = 80L;
    public static final long ETH_STATS_SIZE = 704L;
    public static final long STATS_IPACKETS = 0L;
    public static final long STATS_OPACKETS = 8L;
    public static final long STATS_IBYTES = 16L;
    public static final long STATS_OBYTES = 24L;
    public static final long STATS_IMISSED = 32L;
    public static final long STATS_IERRORS = 40L;
    public static final long STATS_OERRORS = 48L;
    public static final long STATS_RX_NOMBUF = 56L;
    public static final long ETH_LINK_SIZE = 8L;
    public static final long TX_OFFLOAD_IPV4_CKSUM = 2L;
    public static final long TX_OFFLOAD_TCP_CKSUM = 8L;
    public static final long TX_OFFLOAD_MULTI_SEGS = 32768L;
    public static final long RX_OFFLOAD_IPV4_CKSUM = 2L;
    public static final long RX_OFFLOAD_TCP_CKSUM = 8L;
}
