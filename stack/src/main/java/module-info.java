/**
 * The userspace TCP/IPv4 stack. Exported: the stack and its runner, TCP's public face (TcpService and its
 * clients, TcpLayer for handlers on the poll thread), the wire formats applications name (addresses, frames),
 * counters, the ARP table, the IP output boundary TCP is tested through (ip), capture and fault-injection devices
 * and the sample applications. Internal: the request/event flyweights of TcpService's rings (tcp.protocol).
 */
module io.fastpath.stack {
    requires transitive io.fastpath.dpdk;
    requires transitive org.agrona; // Stack is an Agrona Agent; counters, clocks and idle strategies are Agrona's

    exports io.fastpath.stack;
    exports io.fastpath.stack.app;
    exports io.fastpath.stack.arp;
    exports io.fastpath.stack.counters;
    exports io.fastpath.stack.device;
    exports io.fastpath.stack.ip;
    exports io.fastpath.stack.shard;
    exports io.fastpath.stack.tcp;
    exports io.fastpath.stack.wire;
}
