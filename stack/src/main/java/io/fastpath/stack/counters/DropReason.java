package io.fastpath.stack.counters;

/** Why the stack dropped a received frame. Each reason has its own counter. */
public enum DropReason {
    ETHERNET_TRUNCATED("ethernet: truncated frame"),
    NOT_FOR_US("ethernet: destination MAC is not ours"),
    MULTI_SEGMENT("ethernet: multi-segment frame (not supported yet)"),
    UNSUPPORTED_ETHERTYPE("ethernet: unsupported ethertype"),
    ARP_MALFORMED("arp: truncated or not Ethernet/IPv4"),
    ARP_NOT_FOR_US("arp: target is not our address"),
    IP_TRUNCATED("ipv4: truncated header"),
    IP_BAD_VERSION("ipv4: version is not 4"),
    IP_BAD_HEADER_LENGTH("ipv4: bad header length"),
    IP_BAD_TOTAL_LENGTH("ipv4: bad total length"),
    IP_BAD_CHECKSUM("ipv4: bad header checksum"),
    IP_FRAGMENT_MALFORMED("ipv4 reassembly: malformed fragment (empty, not a multiple of 8, past 65,535 or the datagram's end), datagram dropped"),
    IP_FRAGMENT_DUPLICATE("ipv4 reassembly: duplicate fragment (within one held)"),
    IP_FRAGMENT_OVERLAP("ipv4 reassembly: overlapping fragments, datagram dropped (RFC 5722, RFC 8900)"),
    IP_FRAGMENT_TIMEOUT("ipv4 reassembly: time-out, incomplete datagram dropped"),
    IP_FRAGMENT_EVICTED("ipv4 reassembly: oldest incomplete datagram evicted (table or memory limit)"),
    IP_FRAGMENT_TOO_BIG("ipv4 reassembly: datagram too big for one mbuf, or too many fragments"),
    IP_FRAGMENT_NO_BUFFER("ipv4 reassembly: no mbuf for the whole datagram"),
    IP_NOT_FOR_US("ipv4: destination is not our address"),
    IP_BAD_SOURCE("ipv4: source is broadcast, multicast or ours"),
    IP_UNSUPPORTED_PROTOCOL("ipv4: protocol not handled"),
    ICMP_MALFORMED("icmp: truncated"),
    ICMP_BAD_CHECKSUM("icmp: bad checksum"),
    ICMP_UNHANDLED("icmp: type not handled"),
    ICMP_ECHO_TOO_BIG("icmp: echo request whose reply would exceed the MTU (we never fragment)"),
    TCP_MALFORMED("tcp: truncated header or bad options"),
    TCP_BAD_CHECKSUM("tcp: bad checksum"),
    TCP_NO_CONNECTION("tcp: no connection or listener (reset sent)"),
    TCP_OUT_OF_WINDOW("tcp: segment outside the receive window"),
    TCP_RECEIVE_QUEUE_FULL("tcp: receive or out-of-order queue full"),
    TCP_MEMORY_LIMIT("tcp: receive memory limit (connection or stack) reached, segment refused"),
    TCP_BACKLOG_FULL("tcp: listen backlog full"),
    TCP_NO_RESOURCES("tcp: connection table or mbufs exhausted"),
    TCP_EVENT_LOST("tcp: application event ring full (event lost)"),
    RAW_RING_FULL("raw delivery: application ring full"),
    TX_RING_FULL("tx: port queue full"),
    TX_NO_MBUF("tx: mbuf pool exhausted (any allocation; a TCP segment or reassembly also counts under its own reason)"),
    ARP_QUEUE_FULL("tx: too many frames waiting for ARP"),
    ARP_UNRESOLVED("tx: neighbour did not answer ARP"),
    RELEASE_REFUSED("app: release of a buffer it does not hold (unknown, already released, other connection)"),
    REQUEST_REFUSED("app: request about another client's connection or listener"),
    TCP_URGENT_LOST("tcp: urgent data dropped (its connection's last urgent byte unread, or the event ring full)"),
    SHARD_RING_FULL("shards: the owner shard's inbound ring is full (segment not forwarded)"),
    SHARD_UNKNOWN("shards: the flow owner function named no shard of this port (segment not forwarded)");

    private final String label;

    DropReason(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }
}
