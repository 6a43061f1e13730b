package io.fastpath.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NtStatusTest {
    /** ntstatus.h: name → value, as the header defines them (independent of the class under test). */
    private static final Map<String, Integer> NTSTATUS_H = Map.ofEntries(
        Map.entry("STATUS_SUCCESS", 0x00000000),
        Map.entry("STATUS_PENDING", 0x00000103),
        Map.entry("STATUS_RECEIVE_EXPEDITED", 0x40000010),
        Map.entry("STATUS_RECEIVE_PARTIAL_EXPEDITED", 0x40000011),
        Map.entry("STATUS_BUFFER_OVERFLOW", 0x80000005),
        Map.entry("STATUS_INVALID_PARAMETER", 0xC000000D),
        Map.entry("STATUS_INVALID_DEVICE_REQUEST", 0xC0000010),
        Map.entry("STATUS_MORE_PROCESSING_REQUIRED", 0xC0000016),
        Map.entry("STATUS_ACCESS_DENIED", 0xC0000022),
        Map.entry("STATUS_BUFFER_TOO_SMALL", 0xC0000023),
        Map.entry("STATUS_DATA_ERROR", 0xC000003E),
        Map.entry("STATUS_DATA_OVERRUN", 0xC000003C),
        Map.entry("STATUS_SHARING_VIOLATION", 0xC0000043),
        Map.entry("STATUS_INSUFFICIENT_RESOURCES", 0xC000009A),
        Map.entry("STATUS_DEVICE_NOT_READY", 0xC00000A3),
        Map.entry("STATUS_IO_TIMEOUT", 0xC00000B5),
        Map.entry("STATUS_FILE_FORCED_CLOSED", 0xC00000B6),
        Map.entry("STATUS_NOT_SUPPORTED", 0xC00000BB),
        Map.entry("STATUS_REQUEST_NOT_ACCEPTED", 0xC00000D0),
        Map.entry("STATUS_CANCELLED", 0xC0000120),
        Map.entry("STATUS_INVALID_CONNECTION", 0xC0000140),
        Map.entry("STATUS_INVALID_ADDRESS", 0xC0000141),
        Map.entry("STATUS_INVALID_DEVICE_STATE", 0xC0000184),
        Map.entry("STATUS_INVALID_BUFFER_SIZE", 0xC0000206),
        Map.entry("STATUS_TOO_MANY_ADDRESSES", 0xC0000209),
        Map.entry("STATUS_ADDRESS_ALREADY_EXISTS", 0xC000020A),
        Map.entry("STATUS_ADDRESS_CLOSED", 0xC000020B),
        Map.entry("STATUS_CONNECTION_DISCONNECTED", 0xC000020C),
        Map.entry("STATUS_CONNECTION_RESET", 0xC000020D),
        Map.entry("STATUS_DATA_NOT_ACCEPTED", 0xC000021B),
        Map.entry("STATUS_CONNECTION_REFUSED", 0xC0000236),
        Map.entry("STATUS_GRACEFUL_DISCONNECT", 0xC0000237),
        Map.entry("STATUS_CONNECTION_INVALID", 0xC000023A),
        Map.entry("STATUS_NETWORK_UNREACHABLE", 0xC000023C),
        Map.entry("STATUS_HOST_UNREACHABLE", 0xC000023D),
        Map.entry("STATUS_CONNECTION_ABORTED", 0xC0000241));

    private static Map<String, NtStatus> constants() throws IllegalAccessException {
        Map<String, NtStatus> all = new HashMap<>();
        for (Field f : NtStatus.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == NtStatus.class) {
                all.put(f.getName(), (NtStatus) f.get(null));
            }
        }
        return all;
    }

    @Test
    void everyConstantHasTheValueAndNameOfNtstatusH() throws IllegalAccessException {
        Map<String, NtStatus> all = constants();
        for (Map.Entry<String, NtStatus> e : all.entrySet()) {
            if (e.getKey().equals("STATUS_REQUEST_TIMED_OUT")) {
                continue; // the TDI documents' alias, checked below
            }
            Integer value = NTSTATUS_H.get(e.getKey());
            assertTrue(value != null, e.getKey() + " is not in the ntstatus.h table of this test");
            assertEquals((int) value, e.getValue().code(), e.getKey());
            assertEquals(e.getKey(), e.getValue().name(), "the name is the field's name");
            assertFalse(e.getValue().message().isEmpty(), e.getKey() + " has its message text");
        }
        assertEquals(NTSTATUS_H.keySet(), new java.util.TreeSet<>(all.keySet()).stream()
            .filter(n -> !n.equals("STATUS_REQUEST_TIMED_OUT")).collect(java.util.stream.Collectors.toSet()));
    }

    @Test
    void messagesAreTheHeadersText_msErref_2_3_1() {
        assertEquals("The I/O request was canceled.", NtStatus.STATUS_CANCELLED.message());
        assertEquals("The transport-connection attempt was refused by the remote system.",
            NtStatus.STATUS_CONNECTION_REFUSED.message());
        assertEquals("{Data Not Accepted} The TDI client could not handle the data received during an indication.",
            NtStatus.STATUS_DATA_NOT_ACCEPTED.message());
    }

    @Test
    void theValuesTheStackDefinesComeFromTheStack() {
        assertEquals(io.fastpath.stack.NtStatus.STATUS_CONNECTION_REFUSED, NtStatus.STATUS_CONNECTION_REFUSED.code());
        assertEquals(io.fastpath.stack.NtStatus.STATUS_PENDING, NtStatus.STATUS_PENDING.code());
        assertEquals(io.fastpath.stack.NtStatus.name(io.fastpath.stack.NtStatus.STATUS_IO_TIMEOUT),
            NtStatus.STATUS_IO_TIMEOUT.name());
    }

    @Test
    void ofReturnsTheInternedInstanceForEveryKnownValue() throws IllegalAccessException {
        for (NtStatus s : constants().values()) {
            assertSame(s, NtStatus.of(s.code()));
            assertSame(s, NtStatus.known(s.code()));
            assertEquals(s.name(), NtStatus.name(s.code()));
        }
        assertSame(NtStatus.STATUS_IO_TIMEOUT, NtStatus.STATUS_REQUEST_TIMED_OUT, "tdistat.h: TDI_TIMED_OUT");
    }

    @Test
    void ofAnUnknownValueIsNamedByItsHexValue() {
        assertNull(NtStatus.known(0xC0001234));
        NtStatus unknown = NtStatus.of(0xC0001234);
        assertEquals("0xC0001234", unknown.name());
        assertEquals("0xC0001234", NtStatus.name(0xC0001234));
        assertNotSame(unknown, NtStatus.of(0xC0001234));
        assertEquals(unknown, NtStatus.of(0xC0001234));
        assertTrue(unknown.isError());
    }

    @Test
    void ntSuccessIsSeveritySuccessOrInformational_ntdef_h() {
        assertTrue(NtStatus.STATUS_SUCCESS.isSuccess());
        assertTrue(NtStatus.STATUS_PENDING.isSuccess(), "STATUS_PENDING is a success code");
        assertTrue(NtStatus.STATUS_RECEIVE_EXPEDITED.isSuccess(), "informational");
        assertFalse(NtStatus.STATUS_BUFFER_OVERFLOW.isSuccess(), "a warning is not NT_SUCCESS");
        assertFalse(NtStatus.STATUS_BUFFER_OVERFLOW.isError(), "nor NT_ERROR");
        assertFalse(NtStatus.STATUS_CANCELLED.isSuccess());
        assertTrue(NtStatus.STATUS_CANCELLED.isError());
        assertEquals(0, NtStatus.STATUS_SUCCESS.severity());
        assertEquals(1, NtStatus.STATUS_RECEIVE_EXPEDITED.severity());
        assertEquals(2, NtStatus.STATUS_BUFFER_OVERFLOW.severity());
        assertEquals(3, NtStatus.STATUS_CONNECTION_RESET.severity());
    }
}
