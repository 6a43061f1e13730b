package io.fastpath.stack.wire;

import static io.fastpath.stack.wire.Packets.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class ChecksumTest {
    @Test
    void numericalExampleSumsToDdf2_rfc1071_s3() {
        final UnsafeBuffer buffer = buffer("0001f203f4f5f6f7");
        assertEquals(0xddf2, Checksum.partialSum(buffer, 0, 8, 0));
        assertEquals(0x220d, Checksum.checksum(buffer, 0, 8));
    }

    @Test
    void oddLengthPadsTheLastOctetWithZero_rfc1071_s1() {
        // 0x0001 + 0xf203 + 0xf400 (the lone 0xf4 as the high octet).
        final UnsafeBuffer buffer = buffer("0001f203f4");
        assertEquals(Checksum.partialSum(buffer("0001f203f400"), 0, 6, 0), Checksum.partialSum(buffer, 0, 5, 0));
        assertEquals(0x0001 + 0xf203 + 0xf400 - 0xFFFF, Checksum.partialSum(buffer, 0, 5, 0));
    }

    @Test
    void emptyRangeSumsToZeroAndChecksumsToFfff_rfc1071() {
        assertEquals(0, Checksum.partialSum(buffer(""), 0, 0, 0));
        assertEquals(0xFFFF, Checksum.checksum(buffer(""), 0, 0));
    }

    @Test
    void rangeHoldingItsOwnCorrectChecksumSumsToZero_rfc1071_s1() {
        final UnsafeBuffer frame = buffer(PING_FRAME);
        assertEquals(0, Checksum.checksum(frame, EthernetFrame.HEADER_LENGTH, 20));
        assertEquals(0, Checksum.checksum(frame, EthernetFrame.HEADER_LENGTH + 20, 64));
    }

    @Test
    void partialSumsOfEvenRangesCompose_rfc1071_s2() {
        final UnsafeBuffer frame = buffer(PING_FRAME);
        final int whole = Checksum.partialSum(frame, 14, 84, 0);
        final int first = Checksum.partialSum(frame, 14, 30, 0);
        assertEquals(whole, Checksum.partialSum(frame, 44, 54, first));
    }

    @Test
    void pseudoHeaderSumAddsAddressHalvesProtocolAndLength_rfc9293_s3_1() {
        final int expected = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 40;
        assertEquals(expected, Checksum.pseudoHeaderSum(HOST_A_IP, HOST_B_IP, 6, 40));
    }

    @Test
    void synChecksumVerifiesOverPseudoHeaderAndSegment_rfc9293_s3_1() {
        final UnsafeBuffer frame = buffer(SYN_FRAME);
        final int pseudo = Checksum.pseudoHeaderSum(HOST_A_IP, HOST_B_IP, Ipv4Packet.PROTOCOL_TCP, 40);
        assertEquals(0, Checksum.finish(Checksum.partialSum(frame, 34, 40, pseudo)));
    }

    @Test
    void incrementalUpdateGivesPlusZeroWhereEqn2GaveMinusZero_rfc1624_s4() {
        // RFC 1624 §4: the other octets sum to 0xCD7A, m = 0x5555 becomes m' = 0x3285.
        final int hc = 0xDD2F;
        assertEquals(hc, Checksum.finish(0xCD7A + 0x5555)); // 0x122CF folds to 0x22D0
        assertEquals(0x0000, Checksum.update(hc, 0x5555, 0x3285));
    }

    @Test
    void ttlDecrementUpdatesIpChecksumLikeFullRecomputation_rfc1624_s3() {
        final UnsafeBuffer frame = buffer(PING_FRAME);
        final Ipv4Packet ip = new Ipv4Packet().wrap(frame, 14, 84);
        final int oldWord = frame.getShort(14 + Ipv4Packet.TTL_OFFSET, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
        ip.ttl(ip.ttl() - 1);
        final int newWord = oldWord - 0x0100;
        assertEquals(ip.computeHeaderChecksum(), Checksum.update(ip.headerChecksum(), oldWord, newWord));
    }

    @Test
    void addressRewriteUpdatesChecksumLikeFullRecomputation_rfc1624_s3() {
        final UnsafeBuffer frame = buffer(PING_FRAME);
        final Ipv4Packet ip = new Ipv4Packet().wrap(frame, 14, 84);
        final int oldChecksum = ip.headerChecksum();
        final int newSource = 0xC0A8_0A63;
        final int oldSource = ip.source();
        ip.source(newSource);
        assertEquals(ip.computeHeaderChecksum(), Checksum.update32(oldChecksum, oldSource, newSource));
    }

    @Test
    void finishComplementsTheFoldedSum_rfc1071() {
        assertEquals(0xFFFF, Checksum.finish(0));
        assertEquals(0x0000, Checksum.finish(0xFFFF));
        assertEquals(0x0000, Checksum.finish(0x1FFFE)); // carries fold back in: 0xFFFF
    }
}
