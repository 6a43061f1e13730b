/* Prints the offsets and sizes fastpath's FFM bindings rely on, as name=value lines, from the installed
 * DPDK headers. LayoutProbeTest compiles it with gcc and compares every line with io.fastpath.dpdk.Layouts. */
#include <stdio.h>
#include <stddef.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ethdev.h>

#define OFF(t, f, name) printf("%s=%zu\n", name, offsetof(t, f))
#define SZ(t, name) printf("%s=%zu\n", name, sizeof(t))

int main(void) {
    OFF(struct rte_mbuf, buf_addr, "MBUF_BUF_ADDR");
    OFF(struct rte_mbuf, data_off, "MBUF_DATA_OFF");
    OFF(struct rte_mbuf, refcnt, "MBUF_REFCNT");
    OFF(struct rte_mbuf, nb_segs, "MBUF_NB_SEGS");
    OFF(struct rte_mbuf, port, "MBUF_PORT");
    OFF(struct rte_mbuf, ol_flags, "MBUF_OL_FLAGS");
    OFF(struct rte_mbuf, packet_type, "MBUF_PACKET_TYPE");
    OFF(struct rte_mbuf, pkt_len, "MBUF_PKT_LEN");
    OFF(struct rte_mbuf, data_len, "MBUF_DATA_LEN");
    OFF(struct rte_mbuf, vlan_tci, "MBUF_VLAN_TCI");
    OFF(struct rte_mbuf, vlan_tci_outer, "MBUF_VLAN_TCI_OUTER");
    OFF(struct rte_mbuf, buf_len, "MBUF_BUF_LEN");
    OFF(struct rte_mbuf, pool, "MBUF_POOL");
    OFF(struct rte_mbuf, next, "MBUF_NEXT");
    OFF(struct rte_mbuf, tx_offload, "MBUF_TX_OFFLOAD");
    OFF(struct rte_mbuf, priv_size, "MBUF_PRIV_SIZE");
    SZ(struct rte_mbuf, "MBUF_SIZE");
    printf("PKTMBUF_HEADROOM=%d\n", RTE_PKTMBUF_HEADROOM);
    printf("MBUF_F_EXTERNAL=%llu\n", (unsigned long long) RTE_MBUF_F_EXTERNAL);
    printf("MBUF_F_INDIRECT=%llu\n", (unsigned long long) RTE_MBUF_F_INDIRECT);

    OFF(struct rte_mempool, name, "MEMPOOL_NAME");
    OFF(struct rte_mempool, pool_data, "MEMPOOL_POOL_DATA");
    OFF(struct rte_mempool, ops_index, "MEMPOOL_OPS_INDEX");
    OFF(struct rte_mempool, size, "MEMPOOL_SIZE");
    OFF(struct rte_mempool, cache_size, "MEMPOOL_CACHE_SIZE");
    OFF(struct rte_mempool, elt_size, "MEMPOOL_ELT_SIZE");
    OFF(struct rte_mempool, header_size, "MEMPOOL_HEADER_SIZE");
    OFF(struct rte_mempool_ops_table, num_ops, "MEMPOOL_OPS_TABLE_NUM_OPS");
    OFF(struct rte_mempool_ops_table, ops, "MEMPOOL_OPS_TABLE_OPS");
    SZ(struct rte_mempool_ops, "MEMPOOL_OPS_SIZE");
    OFF(struct rte_mempool, local_cache, "MEMPOOL_LOCAL_CACHE");
    OFF(struct rte_mempool_cache, size, "MEMPOOL_CACHE_SIZE_FIELD");
    OFF(struct rte_mempool_cache, len, "MEMPOOL_CACHE_LEN");
    OFF(struct rte_mempool_cache, objs, "MEMPOOL_CACHE_OBJS");
    SZ(struct rte_mempool_cache, "MEMPOOL_CACHE_STRUCT_SIZE");
    printf("MAX_LCORE=%d\n", RTE_MAX_LCORE);
    printf("MBUF_F_RX_IP_CKSUM_GOOD=%llu\n", (unsigned long long) RTE_MBUF_F_RX_IP_CKSUM_GOOD);
    printf("MBUF_F_RX_L4_CKSUM_GOOD=%llu\n", (unsigned long long) RTE_MBUF_F_RX_L4_CKSUM_GOOD);
    printf("MBUF_F_TX_IP_CKSUM=%llu\n", (unsigned long long) RTE_MBUF_F_TX_IP_CKSUM);
    printf("MBUF_F_TX_L4_MASK=%llu\n", (unsigned long long) RTE_MBUF_F_TX_L4_MASK);
    OFF(struct rte_mempool_ops, dequeue, "MEMPOOL_OPS_DEQUEUE");
    OFF(struct rte_mempool_ops, enqueue, "MEMPOOL_OPS_ENQUEUE");

    SZ(struct rte_eth_fp_ops, "FP_OPS_SIZE");
    OFF(struct rte_eth_fp_ops, rx_pkt_burst, "FP_OPS_RX_PKT_BURST");
    OFF(struct rte_eth_fp_ops, rxq, "FP_OPS_RXQ");
    OFF(struct rte_eth_fp_ops, tx_pkt_burst, "FP_OPS_TX_PKT_BURST");
    OFF(struct rte_eth_fp_ops, tx_pkt_prepare, "FP_OPS_TX_PKT_PREPARE");
    OFF(struct rte_eth_fp_ops, txq, "FP_OPS_TXQ");
    OFF(struct rte_ethdev_qdata, data, "QDATA_DATA");
    OFF(struct rte_ethdev_qdata, clbk, "QDATA_CLBK");
    printf("MAX_ETHPORTS=%d\n", RTE_MAX_ETHPORTS);
    printf("MAX_QUEUES_PER_PORT=%d\n", RTE_MAX_QUEUES_PER_PORT);

    SZ(struct rte_eth_conf, "ETH_CONF_SIZE");
    OFF(struct rte_eth_conf, rxmode, "ETH_CONF_RXMODE");
    OFF(struct rte_eth_conf, txmode, "ETH_CONF_TXMODE");
    OFF(struct rte_eth_rxmode, mtu, "RXMODE_MTU");
    OFF(struct rte_eth_rxmode, offloads, "RXMODE_OFFLOADS");
    OFF(struct rte_eth_txmode, offloads, "TXMODE_OFFLOADS");
    OFF(struct rte_eth_rxmode, mq_mode, "RXMODE_MQ_MODE");
    OFF(struct rte_eth_conf, rx_adv_conf.rss_conf, "ETH_CONF_RSS_CONF");
    SZ(struct rte_eth_rss_conf, "RSS_CONF_SIZE");
    OFF(struct rte_eth_rss_conf, rss_key, "RSS_CONF_KEY");
    OFF(struct rte_eth_rss_conf, rss_key_len, "RSS_CONF_KEY_LEN");
    OFF(struct rte_eth_rss_conf, rss_hf, "RSS_CONF_HF");
    OFF(struct rte_eth_dev_info, reta_size, "DEV_INFO_RETA_SIZE");
    OFF(struct rte_eth_dev_info, hash_key_size, "DEV_INFO_HASH_KEY_SIZE");
    OFF(struct rte_eth_dev_info, flow_type_rss_offloads, "DEV_INFO_FLOW_TYPE_RSS_OFFLOADS");
    SZ(struct rte_eth_rss_reta_entry64, "RETA_ENTRY64_SIZE");
    OFF(struct rte_eth_rss_reta_entry64, mask, "RETA_ENTRY64_MASK");
    OFF(struct rte_eth_rss_reta_entry64, reta, "RETA_ENTRY64_RETA");
    printf("ETH_MQ_RX_RSS=%d\n", (int) RTE_ETH_MQ_RX_RSS);
    printf("ETH_RSS_IPV4=%llu\n", (unsigned long long) RTE_ETH_RSS_IPV4);
    printf("ETH_RSS_NONFRAG_IPV4_TCP=%llu\n", (unsigned long long) RTE_ETH_RSS_NONFRAG_IPV4_TCP);
    SZ(struct rte_eth_dev_info, "DEV_INFO_SIZE");
    OFF(struct rte_eth_dev_info, driver_name, "DEV_INFO_DRIVER_NAME");
    OFF(struct rte_eth_dev_info, if_index, "DEV_INFO_IF_INDEX");
    OFF(struct rte_eth_dev_info, min_mtu, "DEV_INFO_MIN_MTU");
    OFF(struct rte_eth_dev_info, max_mtu, "DEV_INFO_MAX_MTU");
    OFF(struct rte_eth_dev_info, max_rx_queues, "DEV_INFO_MAX_RX_QUEUES");
    OFF(struct rte_eth_dev_info, max_tx_queues, "DEV_INFO_MAX_TX_QUEUES");
    OFF(struct rte_eth_dev_info, rx_offload_capa, "DEV_INFO_RX_OFFLOAD_CAPA");
    OFF(struct rte_eth_dev_info, tx_offload_capa, "DEV_INFO_TX_OFFLOAD_CAPA");
    SZ(struct rte_eth_stats, "ETH_STATS_SIZE");
    OFF(struct rte_eth_stats, ipackets, "STATS_IPACKETS");
    OFF(struct rte_eth_stats, opackets, "STATS_OPACKETS");
    OFF(struct rte_eth_stats, ibytes, "STATS_IBYTES");
    OFF(struct rte_eth_stats, obytes, "STATS_OBYTES");
    OFF(struct rte_eth_stats, imissed, "STATS_IMISSED");
    OFF(struct rte_eth_stats, ierrors, "STATS_IERRORS");
    OFF(struct rte_eth_stats, oerrors, "STATS_OERRORS");
    OFF(struct rte_eth_stats, rx_nombuf, "STATS_RX_NOMBUF");
    SZ(struct rte_eth_link, "ETH_LINK_SIZE");
    printf("TX_OFFLOAD_IPV4_CKSUM=%llu\n", (unsigned long long) RTE_ETH_TX_OFFLOAD_IPV4_CKSUM);
    printf("TX_OFFLOAD_TCP_CKSUM=%llu\n", (unsigned long long) RTE_ETH_TX_OFFLOAD_TCP_CKSUM);
    printf("TX_OFFLOAD_MULTI_SEGS=%llu\n", (unsigned long long) RTE_ETH_TX_OFFLOAD_MULTI_SEGS);
    printf("RX_OFFLOAD_IPV4_CKSUM=%llu\n", (unsigned long long) RTE_ETH_RX_OFFLOAD_IPV4_CKSUM);
    printf("RX_OFFLOAD_TCP_CKSUM=%llu\n", (unsigned long long) RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
    return 0;
}
