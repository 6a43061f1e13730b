package io.fastpath.stack;

import io.fastpath.dpdk.Mbuf;
import io.fastpath.stack.arp.ArpTable;
import io.fastpath.stack.counters.DropReason;
import io.fastpath.stack.counters.StackCounters;
import io.fastpath.stack.wire.ArpPacket;
import io.fastpath.stack.wire.EthernetFrame;
import io.fastpath.stack.wire.MacAddress;
import io.fastpath.stack.wire.WireError;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * {@link Stack}'s ARP: received packets (learning, answers built in the received mbuf), requests and probes sent,
 * and the frames parked on a resolution (sent when it completes, discarded when it fails). Poll thread only; it
 * works in the stack's frame views.
 */
final class ArpIo {
    private final Stack stack;
    private final TxBatch out;
    private final StackCounters counters;
    private final ArpTable arp;
    private final long mac;
    private final int address;
    private final int shardCount;
    /** The stack's input views (the received frame), and its view of frames it sends. */
    private final UnsafeBuffer frame;
    private final EthernetFrame ethernet;
    private final UnsafeBuffer txFrame;
    private final ArpPacket arpPacket = new ArpPacket();
    final ArpTable.Actions arpActions = new ArpTable.Actions() {
        @Override
        public void sendRequest(int target) {
            sendArp(ArpPacket.OPERATION_REQUEST, MacAddress.BROADCAST, 0L, target);
        }

        @Override
        public void sendProbe(int target, long hardware) {
            // Linux's unicast probe: Ethernet destination the known MAC, target hardware address zero.
            counters.arpProbesSent.incrementRelease();
            sendArp(ArpPacket.OPERATION_REQUEST, hardware, 0L, target);
        }

        @Override
        public void resolutionFailed(int target, long[] frames, int count) {
            onResolutionFailed(frames, count);
        }
    };

    ArpIo(Stack stack, TxBatch out, StackCounters counters, ArpTable arp, long mac, int address, int shardCount,
        UnsafeBuffer frame, EthernetFrame ethernet, UnsafeBuffer txFrame) {
        this.stack = stack;
        this.out = out;
        this.counters = counters;
        this.arp = arp;
        this.mac = mac;
        this.address = address;
        this.shardCount = shardCount;
        this.frame = frame;
        this.ethernet = ethernet;
        this.txFrame = txFrame;
    }

    /** RFC 826 "Packet Reception", with the merge flag; we answer only for our own address. */
    void arpInput(long m, long nowNs) {
        arpPacket.wrap(frame, ethernet.payloadOffset(), ethernet.payloadLength());
        if (arpPacket.check() != WireError.OK) {
            out.drop(m, DropReason.ARP_MALFORMED);
            return;
        }
        int operation = arpPacket.operation();
        int senderIp = arpPacket.senderProtocolAddress();
        long senderMac = arpPacket.senderHardwareAddress();
        int targetIp = arpPacket.targetProtocolAddress();
        if (operation == ArpPacket.OPERATION_REQUEST) {
            counters.arpRequestsReceived.incrementRelease();
        } else if (operation == ArpPacket.OPERATION_REPLY) {
            counters.arpRepliesReceived.incrementRelease();
        }
        boolean valid = senderIp != 0 && senderIp != address && !MacAddress.isMulticast(senderMac);
        // A reply to our own request or probe confirms the neighbour; anything else only refreshes it (RFC 826).
        int slot = valid ? arp.update(senderIp, senderMac, nowNs, operation == ArpPacket.OPERATION_REPLY
            && targetIp == address) : -1;
        if (slot >= 0 && shardCount > 1) {
            stack.shareNeighbour(senderIp, senderMac);
        }
        if (slot >= 0) {
            // The merge may have completed a resolution (INCOMPLETE to REACHABLE): what waited for it goes now,
            // even when the packet was not for us, or it would stay parked in a REACHABLE entry for good
            // (mbufs leaked, a SYN never sent; found by ReceivePathFuzzTest).
            releaseParked(slot);
        }
        if (targetIp != address) {
            out.drop(m, DropReason.ARP_NOT_FOR_US);
            return;
        }
        if (valid && slot < 0) {
            slot = arp.learn(senderIp, senderMac, nowNs);
            if (slot >= 0 && shardCount > 1) {
                stack.shareNeighbour(senderIp, senderMac);
            }
        }
        if (slot >= 0) {
            releaseParked(slot);
        }
        if (operation == ArpPacket.OPERATION_REQUEST && senderIp != 0 && !MacAddress.isMulticast(senderMac)) {
            // Answer in the same mbuf: swap sender and target, fill our MAC, send back.
            arpPacket.write(ArpPacket.OPERATION_REPLY, mac, address, senderMac, senderIp);
            ethernet.writeHeader(senderMac, mac, EthernetFrame.ETHERTYPE_ARP);
            counters.arpRepliesSent.incrementRelease();
            out.transmit(m);
            return;
        }
        out.free(m);
    }

    /** A neighbour answered: send what waited for it. */
    void releaseParked(int slot) {
        int n = arp.parkedCount(slot);
        if (n == 0) {
            return;
        }
        long neighbour = arp.mac(slot);
        for (int i = 0; i < n; i++) {
            long m = arp.parked(slot, i);
            txFrame.wrap(Mbuf.dataAddress(m), Mbuf.dataLen(m));
            MacAddress.put(txFrame, EthernetFrame.DESTINATION_OFFSET, neighbour);
            out.transmit(m);
        }
        arp.clearParked(slot);
    }

    /**
     * RFC 1122 §2.3.2.2: the frames waiting on a failed resolution are discarded; pings learn why. They were taken
     * off their entry, which is gone: reporting one may start another resolution.
     */
    private void onResolutionFailed(long[] frames, int count) {
        counters.arpResolutionFailures.incrementRelease();
        for (int i = 0; i < count; i++) {
            long m = frames[i];
            stack.reportUnsent(m, NtStatus.STATUS_HOST_UNREACHABLE);
            out.drop(m, DropReason.ARP_UNRESOLVED);
        }
    }

    void sendArp(int operation, long ethernetDestination, long targetMac, int targetIp) {
        long m = out.allocate();
        if (m == 0) {
            return;
        }
        int length = EthernetFrame.HEADER_LENGTH + ArpPacket.LENGTH;
        frame.wrap(Mbuf.dataAddress(m), 60);
        frame.setMemory(length, 60 - length, (byte) 0);
        ethernet.wrap(frame, 0, 60);
        ethernet.writeHeader(ethernetDestination, mac, EthernetFrame.ETHERTYPE_ARP);
        arpPacket.wrap(frame, EthernetFrame.HEADER_LENGTH, ArpPacket.LENGTH);
        arpPacket.write(operation, mac, address, targetMac, targetIp);
        Mbuf.setLength(m, 60);
        if (operation == ArpPacket.OPERATION_REQUEST) {
            counters.arpRequestsSent.incrementRelease();
        } else {
            counters.arpRepliesSent.incrementRelease();
        }
        out.transmit(m);
    }
}
