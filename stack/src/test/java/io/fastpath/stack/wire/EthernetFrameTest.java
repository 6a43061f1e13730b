package io.fastpath.stack.wire;

import static io.fastpath.stack.wire.Packets.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

class EthernetFrameTest {
    private final EthernetFrame frame = new EthernetFrame();

    @Test
    void deconstructsBroadcastArpFrame_ieee802_3() {
        final UnsafeBuffer buffer = buffer(ARP_REQUEST_FRAME);
        frame.wrap(buffer, 0, buffer.capacity());
        assertEquals(WireError.OK, frame.check());
        assertEquals(MacAddress.BROADCAST, frame.destination());
        assertEquals(HOST_A_MAC, frame.source());
        assertEquals(EthernetFrame.ETHERTYPE_ARP, frame.etherType());
        assertEquals(14, frame.payloadOffset());
        assertEquals(28, frame.payloadLength());
    }

    @Test
    void deconstructsAtANonZeroOffset() {
        final UnsafeBuffer buffer = shifted(PING_FRAME, 7);
        frame.wrap(buffer, 7, buffer.capacity() - 7);
        assertEquals(WireError.OK, frame.check());
        assertEquals(HOST_B_MAC, frame.destination());
        assertEquals(HOST_A_MAC, frame.source());
        assertEquals(EthernetFrame.ETHERTYPE_IPV4, frame.etherType());
        assertEquals(7 + 14, frame.payloadOffset());
        assertEquals(84, frame.payloadLength());
    }

    @Test
    void constructsTheSameHeaderWithSetters() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[14]);
        frame.wrap(buffer, 0, 14).destination(HOST_B_MAC).source(HOST_A_MAC).etherType(EthernetFrame.ETHERTYPE_IPV4);
        assertEquals(PING_FRAME.substring(0, 28), hex(buffer));
        final UnsafeBuffer again = new UnsafeBuffer(new byte[14]);
        frame.wrap(again, 0, 14).writeHeader(MacAddress.BROADCAST, HOST_A_MAC, EthernetFrame.ETHERTYPE_ARP);
        assertEquals(ARP_REQUEST_FRAME.substring(0, 28), hex(again));
    }

    @Test
    void frameShorterThanHeaderIsTruncated() {
        final UnsafeBuffer buffer = buffer(ARP_REQUEST_FRAME.substring(0, 26));
        assertEquals(WireError.TRUNCATED, frame.wrap(buffer, 0, 13).check());
        assertEquals(WireError.TRUNCATED, frame.wrap(buffer, 0, 0).check());
        assertEquals(WireError.OK, frame.wrap(buffer(ARP_REQUEST_FRAME.substring(0, 28)), 0, 14).check());
    }

    @Test
    void toStringNamesTheFields() {
        final UnsafeBuffer buffer = buffer(ARP_REQUEST_FRAME);
        assertEquals("EthernetFrame{dst=ff:ff:ff:ff:ff:ff, src=52:54:00:12:34:56, type=0x806, length=42}",
            frame.wrap(buffer, 0, 42).toString());
    }

    /** writeHeader's two overlapping 8-byte stores leave the bytes the three field writers leave, and nothing else. */
    @Test
    void writeHeaderWritesWhatTheFieldWritersWrite() {
        java.util.Random random = new java.util.Random(1309);
        UnsafeBuffer a = new UnsafeBuffer(new byte[40]);
        UnsafeBuffer b = new UnsafeBuffer(new byte[40]);
        EthernetFrame fa = new EthernetFrame();
        EthernetFrame fb = new EthernetFrame();
        for (int round = 0; round < 100_000; round++) {
            byte[] junk = new byte[40];
            random.nextBytes(junk);
            a.putBytes(0, junk);
            b.putBytes(0, junk);
            int offset = random.nextInt(26);
            long destination = random.nextLong(); // the writers take the low 48 bits
            long source = random.nextLong();
            int type = random.nextInt();
            fa.wrap(a, offset, 14);
            fb.wrap(b, offset, 14);
            fa.destination(destination).source(source).etherType(type);
            fb.writeHeader(destination, source, type);
            assertEquals(java.util.HexFormat.of().formatHex(a.byteArray()),
                java.util.HexFormat.of().formatHex(b.byteArray()), "round " + round);
        }
    }
}
