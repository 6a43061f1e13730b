package io.fastpath.stack.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Ipv4AddressTest {
    @Test
    void parsesDottedQuadWithFirstOctetHighest() {
        assertEquals(0x0A00_0001, Ipv4Address.parse("10.0.0.1"));
        assertEquals(0xC0A8_01FE, Ipv4Address.parse("192.168.1.254"));
        assertEquals(Ipv4Address.ANY, Ipv4Address.parse("0.0.0.0"));
        assertEquals(Ipv4Address.BROADCAST, Ipv4Address.parse("255.255.255.255"));
    }

    @Test
    void formatsDottedQuadReadingOctetsUnsigned() {
        assertEquals("10.0.0.1", Ipv4Address.format(0x0A00_0001));
        assertEquals("255.255.255.255", Ipv4Address.format(-1));
        assertEquals("192.168.1.254", Ipv4Address.format(0xC0A8_01FE));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "10", "10.0.0", "10.0.0.1.2", "10.0.0.256", "10..0.1", "10.0.0.", ".10.0.0.1",
        "010.0.0.1", "10.0.0.01", "1000.0.0.1", "a.b.c.d", "10.0.0.1 ", " 10.0.0.1", "10.0.0.-1", "10,0,0,1",
        "99999999999.0.0.1"})
    void rejectsAnythingButAStrictDottedQuadWithAClearMessage(String text) {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ipv4Address.parse(text));
        assertTrue(e.getMessage().startsWith("not an IPv4 dotted quad ("), e.getMessage());
        assertTrue(e.getMessage().contains("\"" + text + "\""), e.getMessage());
    }

    @Test
    void rejectsNull() {
        assertThrows(IllegalArgumentException.class, () -> Ipv4Address.parse(null));
    }

    @Test
    void prefixLengthGivesNetmask_rfc4632_s3_1() {
        assertEquals(0, Ipv4Address.netmask(0));
        assertEquals(0x8000_0000, Ipv4Address.netmask(1));
        assertEquals(0xFFFF_FF00, Ipv4Address.netmask(24));
        assertEquals(0xFFFF_FFFE, Ipv4Address.netmask(31));
        assertEquals(0xFFFF_FFFF, Ipv4Address.netmask(32));
        assertThrows(IllegalArgumentException.class, () -> Ipv4Address.netmask(-1));
        assertThrows(IllegalArgumentException.class, () -> Ipv4Address.netmask(33));
    }

    @Test
    void sameSubnetComparesOnlyThePrefix() {
        final int a = Ipv4Address.parse("10.0.0.1");
        assertTrue(Ipv4Address.sameSubnet(a, Ipv4Address.parse("10.0.0.254"), 24));
        assertFalse(Ipv4Address.sameSubnet(a, Ipv4Address.parse("10.0.1.1"), 24));
        assertTrue(Ipv4Address.sameSubnet(a, Ipv4Address.parse("10.0.1.1"), 16));
        assertTrue(Ipv4Address.sameSubnet(a, Ipv4Address.parse("192.168.0.1"), 0));
        assertFalse(Ipv4Address.sameSubnet(a, Ipv4Address.parse("10.0.0.2"), 32));
    }

    @Test
    void multicastIsClassD_rfc1112_s4() {
        assertTrue(Ipv4Address.isMulticast(Ipv4Address.parse("224.0.0.1")));
        assertTrue(Ipv4Address.isMulticast(Ipv4Address.parse("239.255.255.255")));
        assertFalse(Ipv4Address.isMulticast(Ipv4Address.parse("240.0.0.1")));
        assertFalse(Ipv4Address.isMulticast(Ipv4Address.parse("223.255.255.255")));
    }

    @Property
    void formatThenParseIsIdentity(@ForAll int address) {
        assertEquals(address, Ipv4Address.parse(Ipv4Address.format(address)));
    }
}
