package io.fastpath.stack.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MacAddressTest {
    @Test
    void parsesColonAndDashFormsWithFirstOctetHighest() {
        assertEquals(0x5254_0012_3456L, MacAddress.parse("52:54:00:12:34:56"));
        assertEquals(0x5254_0012_3456L, MacAddress.parse("52-54-00-12-34-56"));
        assertEquals(0xAABB_CCDD_EEFFL, MacAddress.parse("AA:bb:Cc:dd:ee:FF"));
        assertEquals(MacAddress.BROADCAST, MacAddress.parse("ff:ff:ff:ff:ff:ff"));
    }

    @Test
    void formatsLowerCaseColonSeparated() {
        assertEquals("52:54:00:12:34:56", MacAddress.format(0x5254_0012_3456L));
        assertEquals("00:00:00:00:00:00", MacAddress.format(MacAddress.ZERO));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "52:54:00:12:34", "52:54:00:12:34:567", "52:54:00:12:34:5g", "52.54.00.12.34.56",
        "52:54-00:12:34:56", "5254:0012:3456:", " 52:54:00:12:34:5"})
    void rejectsMalformedTextWithAMessageNamingIt(String text) {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MacAddress.parse(text));
        assertTrue(e.getMessage().contains(text), e.getMessage());
    }

    @Test
    void rejectsNull() {
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse(null));
    }

    @Test
    void getAndPutUseSixOctetsInNetworkOrderAtTheIndex() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[9]);
        MacAddress.put(buffer, 2, 0x5254_0012_3456L);
        assertEquals("0000525400123456" + "00", Packets.hex(buffer));
        assertEquals(0x5254_0012_3456L, MacAddress.get(buffer, 2));
    }

    @Test
    void groupBitIsTheLowBitOfTheFirstOctet_ieee802() {
        assertTrue(MacAddress.isMulticast(MacAddress.parse("01:00:5e:00:00:01")));
        assertTrue(MacAddress.isMulticast(MacAddress.BROADCAST));
        assertFalse(MacAddress.isMulticast(MacAddress.parse("52:54:00:12:34:56")));
        assertFalse(MacAddress.isMulticast(MacAddress.parse("fe:ff:ff:ff:ff:ff")));
        assertTrue(MacAddress.isBroadcast(MacAddress.BROADCAST));
        assertFalse(MacAddress.isBroadcast(MacAddress.parse("ff:ff:ff:ff:ff:fe")));
    }

    @Property
    void formatThenParseIsIdentity(@ForAll @LongRange(min = 0, max = 0xFFFF_FFFF_FFFFL) long mac) {
        assertEquals(mac, MacAddress.parse(MacAddress.format(mac)));
    }
}
