package io.fastpath.ndk;

import java.util.concurrent.TimeUnit;

/**
 * What NdkQueryAdapterInfo reports (the NDK_ADAPTER_INFO fields fastpath has), plus the adapter's timeouts and
 * resource limits. Immutable; {@code with*} return a copy.
 *
 * @param maxInboundReadLimit   MaxInboundReadLimit: the most IRD a connection may negotiate; a ULONG, read
 *                              unsigned, ≤ 16383 (the 14-bit IRD field of RFC 6581)
 * @param maxOutboundReadLimit  MaxOutboundReadLimit: likewise for ORD
 * @param maxCallerData         MaxCallerData: private data an NdkConnect may carry (≤ 508); a received MPA
 *                              request carrying more is refused (reject reply)
 * @param maxCalleeData         MaxCalleeData: private data an NdkAccept/NdkReject may carry (≤ 508); a
 *                              received MPA reply carrying more fails the connect (CONNECTION_ABORTED)
 * @param maxTransferLength     MaxTransferLength: the longest QP message (≤ 65535, the FPDU length field)
 * @param maxReceiveQueueDepth  MaxReceiveQueueDepth: receives a QP may have posted
 * @param maxInitiatorQueueDepth MaxInitiatorQueueDepth: sends a QP may have outstanding (≤ 15)
 * @param maxListeners          listeners per adapter (more: STATUS_INSUFFICIENT_RESOURCES)
 * @param connectBacklog        connect requests a listener holds undecided (not accepted or rejected, or
 *                              queued while events are paused); more are refused with a TCP reset
 * @param connectTimeoutNs      an NdkConnect not answered (MPA reply) by then fails with STATUS_IO_TIMEOUT;
 *                              a request not received by then on an accepted TCP connection is dropped
 * @param completeConnectTimeoutNs an NdkAccept whose initiator does not NdkCompleteConnect by then fails with
 *                              STATUS_IO_TIMEOUT
 * @param crcWanted             ask for MPA CRC (the C flag in our MPA request and reply, RFC 5044 §7.1); CRC
 *                              is used on a connection when either side asks for it (a peer's C flag is
 *                              always honoured). Default off
 */
public record NdkAdapterInfo(int maxInboundReadLimit, int maxOutboundReadLimit, int maxCallerData,
                             int maxCalleeData, int maxTransferLength, int maxReceiveQueueDepth,
                             int maxInitiatorQueueDepth, int maxListeners, int connectBacklog, long connectTimeoutNs,
                             long completeConnectTimeoutNs, boolean crcWanted) {
    /** Without {@code crcWanted} (off). */
    public NdkAdapterInfo(int maxInboundReadLimit, int maxOutboundReadLimit, int maxCallerData, int maxCalleeData,
                          int maxTransferLength, int maxReceiveQueueDepth, int maxInitiatorQueueDepth,
                          int maxListeners, int connectBacklog, long connectTimeoutNs, long completeConnectTimeoutNs) {
        this(maxInboundReadLimit, maxOutboundReadLimit, maxCallerData, maxCalleeData, maxTransferLength,
            maxReceiveQueueDepth, maxInitiatorQueueDepth, maxListeners, connectBacklog, connectTimeoutNs,
            completeConnectTimeoutNs, false);
    }

    public NdkAdapterInfo {
        // ULONGs: compared unsigned, so 0xFFFFFFFF reads as 4294967295 (too many for the 14-bit wire field)
        checkReadLimit(maxInboundReadLimit, "maxInboundReadLimit");
        checkReadLimit(maxOutboundReadLimit, "maxOutboundReadLimit");
        check(maxCallerData >= 0 && maxCallerData <= MpaFrame.MAX_CONSUMER_PRIVATE_DATA, "maxCallerData");
        check(maxCalleeData >= 0 && maxCalleeData <= MpaFrame.MAX_CONSUMER_PRIVATE_DATA, "maxCalleeData");
        check(maxTransferLength > 0 && maxTransferLength <= MpaFrame.MAX_ULPDU, "maxTransferLength");
        check(maxReceiveQueueDepth > 0, "maxReceiveQueueDepth");
        check(maxInitiatorQueueDepth > 0 && maxInitiatorQueueDepth <= 15, "maxInitiatorQueueDepth");
        check(maxListeners > 0 && connectBacklog > 0 && connectTimeoutNs > 0 && completeConnectTimeoutNs > 0,
            "limits and timeouts");
    }

    private static void checkReadLimit(int limit, String what) {
        if (Integer.compareUnsigned(limit, MpaFrame.IRD_ORD_MASK) > 0) {
            throw new IllegalArgumentException(what + " " + Integer.toUnsignedString(limit) + " above "
                + MpaFrame.IRD_ORD_MASK + " (RFC 6581's 14-bit IRD/ORD)");
        }
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalArgumentException(what + " out of range");
        }
    }

    /** IRD/ORD 16, private data 508 both ways, 64 KiB − 1 messages, 10 s timeouts. */
    public static NdkAdapterInfo defaults() {
        return new NdkAdapterInfo(16, 16, MpaFrame.MAX_CONSUMER_PRIVATE_DATA, MpaFrame.MAX_CONSUMER_PRIVATE_DATA,
            MpaFrame.MAX_ULPDU, 64, 8, 1024, 16, TimeUnit.SECONDS.toNanos(10), TimeUnit.SECONDS.toNanos(10));
    }

    public NdkAdapterInfo withReadLimits(int inbound, int outbound) {
        return new NdkAdapterInfo(inbound, outbound, maxCallerData, maxCalleeData, maxTransferLength,
            maxReceiveQueueDepth, maxInitiatorQueueDepth, maxListeners, connectBacklog, connectTimeoutNs,
            completeConnectTimeoutNs, crcWanted);
    }

    public NdkAdapterInfo withPrivateData(int caller, int callee) {
        return new NdkAdapterInfo(maxInboundReadLimit, maxOutboundReadLimit, caller, callee, maxTransferLength,
            maxReceiveQueueDepth, maxInitiatorQueueDepth, maxListeners, connectBacklog, connectTimeoutNs,
            completeConnectTimeoutNs, crcWanted);
    }

    public NdkAdapterInfo withMaxTransferLength(int bytes) {
        return new NdkAdapterInfo(maxInboundReadLimit, maxOutboundReadLimit, maxCallerData, maxCalleeData, bytes,
            maxReceiveQueueDepth, maxInitiatorQueueDepth, maxListeners, connectBacklog, connectTimeoutNs,
            completeConnectTimeoutNs, crcWanted);
    }

    public NdkAdapterInfo withListeners(int max, int backlog) {
        return new NdkAdapterInfo(maxInboundReadLimit, maxOutboundReadLimit, maxCallerData, maxCalleeData,
            maxTransferLength, maxReceiveQueueDepth, maxInitiatorQueueDepth, max, backlog, connectTimeoutNs,
            completeConnectTimeoutNs, crcWanted);
    }

    public NdkAdapterInfo withTimeouts(long connectNs, long completeConnectNs) {
        return new NdkAdapterInfo(maxInboundReadLimit, maxOutboundReadLimit, maxCallerData, maxCalleeData,
            maxTransferLength, maxReceiveQueueDepth, maxInitiatorQueueDepth, maxListeners, connectBacklog, connectNs,
            completeConnectNs, crcWanted);
    }

    /** Asks for MPA CRC on every connection ({@code crcWanted}). */
    public NdkAdapterInfo withCrc(boolean wanted) {
        return new NdkAdapterInfo(maxInboundReadLimit, maxOutboundReadLimit, maxCallerData, maxCalleeData,
            maxTransferLength, maxReceiveQueueDepth, maxInitiatorQueueDepth, maxListeners, connectBacklog,
            connectTimeoutNs, completeConnectTimeoutNs, wanted);
    }
}
