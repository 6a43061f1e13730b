package io.fastpath.ndk;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * MPA connection-setup frames (RFC 5044 §7.1) with the enhanced connection setup of RFC 6581, and the FPDU
 * framing (RFC 5044 §4) of messages after it. A parsed representation ({@link #parse}) and emitters.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                                                               |
 * +         Key (16 bytes: "MPA ID Req Frame" or                  +
 * |                         "MPA ID Rep Frame")                   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |M|C|R|E| Res   |     Rev       |          PD_Length            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |A|B|        IRD                |C|D|        ORD                | RFC 6581 §3: first 4 bytes of
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ private data when E (0x10) is set
 * ~                consumer private data (PD_Length - 4)          ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 *
 * M = markers, C = CRC, R = reject (replies only), E = enhanced connection setup (RFC 6581), Rev = 2. A = the
 * peer-to-peer (RTR) model, B = the initiator's ready-to-receive message is a zero-length send, C/D = zero-length
 * RDMA write/read RTR. fastpath does not implement markers: it sends M = 0 and refuses a peer that requires
 * them. CRC (C) is sent when the adapter asks for it ({@link NdkAdapterInfo#crcWanted}, RFC 5044 §7.1); a
 * peer's C flag is honoured: "if the C flag is set in either the MPA Request or Reply, CRC MUST be used".
 * The reserved bits (Res) are sent as zero and ignored on receive. PD_Length is at most 512 (RFC 5044 §7.1),
 * so consumer private data is at most 508 bytes.
 *
 * <p>FPDU (after the handshake): {@code ULPDU_Length (16 bits) | ULPDU | pad to a multiple of 4 | CRC (32
 * bits)}: the CRC32c (RFC 5044 §4.1, computed as for iSCSI, RFC 3720 §12.1 / §B.4) of ULPDU_Length, ULPDU and pad when CRC
 * is in use, zero (and not checked on receive) otherwise. Byte order of the CRC field: the least significant
 * byte of the CRC32c value ({@link CRC32C#getValue()}) goes first on the wire, as iSCSI's digest does
 * (RFC 3720 §B.4: the CRC32c of 32 zero bytes, 0x8A9136AA, is sent as aa 36 91 8a); tshark's iwarp_mpa
 * dissector agrees ("Good CRC32"). fastpath's ULPDU is the consumer's message itself (no DDP/RDMAP headers).
 *
 * <p>Untrusted input is checked once by {@link #parse}; it never throws on malformed bytes, it returns an
 * error code ({@link #describe}). Not thread-safe: one instance per connection. The constants are public (the
 * limits they state are the API's); parse and the emitters, over Agrona buffers, are this package's own.
 */
public final class MpaFrame {
    public static final byte[] KEY_REQUEST = "MPA ID Req Frame".getBytes(StandardCharsets.US_ASCII);
    public static final byte[] KEY_REPLY = "MPA ID Rep Frame".getBytes(StandardCharsets.US_ASCII);

    public static final int KEY_OFFSET = 0;
    public static final int KEY_LENGTH = 16;
    public static final int FLAGS_OFFSET = 16;
    public static final int REVISION_OFFSET = 17;
    public static final int PD_LENGTH_OFFSET = 18;
    public static final int HEADER_LENGTH = 20;
    public static final int IRD_OFFSET = 20;
    public static final int ORD_OFFSET = 22;

    public static final int FLAG_MARKERS = 0x80;
    public static final int FLAG_CRC = 0x40;
    public static final int FLAG_REJECT = 0x20;
    public static final int FLAG_ENHANCED = 0x10;
    public static final int FLAGS_RESERVED = 0x0F;
    public static final int REVISION = 2;

    /** RFC 5044 §7.1: "PD_Length ... MUST NOT exceed 512". */
    public static final int MAX_PD_LENGTH = 512;
    /** The IRD and ORD words (RFC 6581 §3) at the start of the private data. */
    public static final int IRD_ORD_LENGTH = 4;
    /** The most consumer private data a frame can carry. */
    public static final int MAX_CONSUMER_PRIVATE_DATA = MAX_PD_LENGTH - IRD_ORD_LENGTH;
    public static final int MAX_FRAME_LENGTH = HEADER_LENGTH + MAX_PD_LENGTH;

    public static final int IRD_ORD_MASK = 0x3FFF;
    /** IRD word, A: the peer-to-peer model (the initiator sends an RTR message first). */
    public static final int IRD_PEER_TO_PEER = 0x8000;
    /** IRD word, B: the RTR message is a zero-length send. */
    public static final int IRD_ZERO_LENGTH_SEND = 0x4000;
    /** ORD word, C: the RTR message is a zero-length RDMA write. */
    public static final int ORD_ZERO_LENGTH_WRITE = 0x8000;
    /** ORD word, D: the RTR message is a zero-length RDMA read. */
    public static final int ORD_ZERO_LENGTH_READ = 0x4000;

    public static final int FPDU_HEADER_LENGTH = 2;
    public static final int FPDU_CRC_LENGTH = 4;
    /** The largest ULPDU the 16-bit length field can describe. */
    public static final int MAX_ULPDU = 0xFFFF;

    // parse() outcomes below zero
    public static final int ERR_BAD_KEY = -1;
    /** No longer returned: reserved flag bits are ignored on receive (RFC 5044 §7.1). Kept for its value. */
    public static final int ERR_RESERVED_BITS = -2;
    public static final int ERR_REVISION = -3;
    public static final int ERR_NOT_ENHANCED = -4;
    public static final int ERR_MARKERS_REQUIRED = -5;
    /** No longer returned: a peer's C flag is honoured (CRC is used). Kept for its value. */
    public static final int ERR_CRC_REQUIRED = -6;
    public static final int ERR_REJECT_IN_REQUEST = -7;
    public static final int ERR_PD_LENGTH = -8;
    public static final int ERR_NO_IRD_ORD = -9;
    public static final int ERR_PRIVATE_DATA_TOO_LONG = -10;
    public static final int ERR_RTR_MODEL = -11;

    // parsed representation (valid after parse() returned > 0)
    private boolean request;
    private int flags;
    private int revision;
    private int pdLength;
    private int ird;
    private int ord;
    private int irdControl;
    private int ordControl;
    private int privateDataOffset;

    /** Explains a {@link #parse} error code. */
    public static String describe(int error) {
        return switch (error) {
            case ERR_BAD_KEY -> "not an MPA frame: the 16-byte key does not match (RFC 5044 §7.1)";
            case ERR_RESERVED_BITS -> "reserved flag bits set (RFC 5044 §7.1)";
            case ERR_REVISION -> "MPA revision is not 2 (RFC 6581 §4)";
            case ERR_NOT_ENHANCED -> "enhanced connection setup flag missing (RFC 6581 §4)";
            case ERR_MARKERS_REQUIRED -> "peer requires markers, which fastpath does not implement";
            case ERR_CRC_REQUIRED -> "peer requires CRC (no longer refused)";
            case ERR_REJECT_IN_REQUEST -> "reject flag set in a request";
            case ERR_PD_LENGTH -> "PD_Length above 512 (RFC 5044 §7.1)";
            case ERR_NO_IRD_ORD -> "private data shorter than the IRD/ORD words (RFC 6581 §3)";
            case ERR_PRIVATE_DATA_TOO_LONG -> "private data longer than this adapter accepts";
            case ERR_RTR_MODEL -> "no ready-to-receive model fastpath supports (zero-length send)";
            default -> "error " + error;
        };
    }

    /**
     * Parses a request ({@code expectRequest}) or reply from {@code available} bytes at {@code offset}.
     *
     * @return the frame's length when complete and valid; 0 when more bytes are needed; a negative
     *     {@code ERR_*} code when the bytes can never become a valid frame
     */
    int parse(DirectBuffer b, int offset, int available, boolean expectRequest, int maxConsumerPrivateData) {
        byte[] key = expectRequest ? KEY_REQUEST : KEY_REPLY;
        int keyBytes = Math.min(available, KEY_LENGTH);
        for (int i = 0; i < keyBytes; i++) {
            if (b.getByte(offset + i) != key[i]) {
                return ERR_BAD_KEY;
            }
        }
        if (available < HEADER_LENGTH) {
            return 0;
        }
        int f = b.getByte(offset + FLAGS_OFFSET) & 0xFF;
        int rev = b.getByte(offset + REVISION_OFFSET) & 0xFF;
        int pd = b.getShort(offset + PD_LENGTH_OFFSET, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
        f &= ~FLAGS_RESERVED; // RFC 5044 §7.1: reserved bits are sent as zero and ignored on receive
        if (rev != REVISION) {
            return ERR_REVISION;
        }
        if ((f & FLAG_ENHANCED) == 0) {
            return ERR_NOT_ENHANCED;
        }
        if ((f & FLAG_MARKERS) != 0) {
            return ERR_MARKERS_REQUIRED;
        }
        if (expectRequest && (f & FLAG_REJECT) != 0) {
            return ERR_REJECT_IN_REQUEST;
        }
        if (pd > MAX_PD_LENGTH) {
            return ERR_PD_LENGTH;
        }
        if (pd < IRD_ORD_LENGTH) {
            return ERR_NO_IRD_ORD;
        }
        if (pd - IRD_ORD_LENGTH > maxConsumerPrivateData) {
            return ERR_PRIVATE_DATA_TOO_LONG;
        }
        if (available < HEADER_LENGTH + pd) {
            return 0;
        }
        int irdWord = b.getShort(offset + IRD_OFFSET, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
        int ordWord = b.getShort(offset + ORD_OFFSET, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
        boolean rejected = (f & FLAG_REJECT) != 0;
        // The RTR model must be peer-to-peer with a zero-length send (the only one fastpath speaks); a reject
        // reply need not carry it.
        if (!rejected && ((irdWord & IRD_PEER_TO_PEER) == 0 || (irdWord & IRD_ZERO_LENGTH_SEND) == 0)) {
            return ERR_RTR_MODEL;
        }
        this.request = expectRequest;
        this.flags = f;
        this.revision = rev;
        this.pdLength = pd;
        this.ird = irdWord & IRD_ORD_MASK;
        this.ord = ordWord & IRD_ORD_MASK;
        this.irdControl = irdWord & ~IRD_ORD_MASK;
        this.ordControl = ordWord & ~IRD_ORD_MASK;
        this.privateDataOffset = offset + HEADER_LENGTH + IRD_ORD_LENGTH;
        return HEADER_LENGTH + pd;
    }

    /** {@link #emit(MutableDirectBuffer, int, boolean, boolean, boolean, int, int, MemorySegment, int, int)} with C = 0. */
    static int emit(MutableDirectBuffer b, int offset, boolean request, boolean reject, int ird, int ord,
                    MemorySegment privateData, int pdOffset, int pdLength) {
        return emit(b, offset, request, reject, false, ird, ord, privateData, pdOffset, pdLength);
    }

    /**
     * Writes a request or reply (enhanced, revision 2, M = 0, C = {@code crc}) with the IRD/ORD words and the consumer's
     * private data; the RTR model offered/accepted is peer-to-peer with a zero-length send.
     *
     * @return the frame's length
     */
    static int emit(MutableDirectBuffer b, int offset, boolean request, boolean reject, boolean crc, int ird,
                    int ord, MemorySegment privateData, int pdOffset, int pdLength) {
        if (pdLength < 0 || pdLength > MAX_CONSUMER_PRIVATE_DATA) {
            throw new IllegalArgumentException("private data length " + pdLength);
        }
        if (Integer.compareUnsigned(ird, IRD_ORD_MASK) > 0 || Integer.compareUnsigned(ord, IRD_ORD_MASK) > 0) {
            // callers cap the ULONG read limits first (NdkConnector.clamp); the wire field has 14 bits
            throw new IllegalArgumentException("IRD/ORD out of range: " + Integer.toUnsignedString(ird) + "/"
                + Integer.toUnsignedString(ord));
        }
        b.putBytes(offset + KEY_OFFSET, request ? KEY_REQUEST : KEY_REPLY);
        b.putByte(offset + FLAGS_OFFSET, (byte) (FLAG_ENHANCED | (reject ? FLAG_REJECT : 0) | (crc ? FLAG_CRC : 0)));
        b.putByte(offset + REVISION_OFFSET, (byte) REVISION);
        b.putShort(offset + PD_LENGTH_OFFSET, (short) (IRD_ORD_LENGTH + pdLength), java.nio.ByteOrder.BIG_ENDIAN);
        b.putShort(offset + IRD_OFFSET, (short) (IRD_PEER_TO_PEER | IRD_ZERO_LENGTH_SEND | ird),
            java.nio.ByteOrder.BIG_ENDIAN);
        b.putShort(offset + ORD_OFFSET, (short) ord, java.nio.ByteOrder.BIG_ENDIAN);
        if (pdLength > 0) {
            int at = offset + HEADER_LENGTH + IRD_ORD_LENGTH;
            for (int i = 0; i < pdLength; i++) { // at most 508 bytes, on connection set-up
                b.putByte(at + i, privateData.get(ValueLayout.JAVA_BYTE, pdOffset + i));
            }
        }
        return HEADER_LENGTH + IRD_ORD_LENGTH + pdLength;
    }

    /** The length on the wire of an FPDU carrying {@code ulpduLength} bytes (header, pad, CRC). */
    public static int fpduLength(int ulpduLength) {
        return ((FPDU_HEADER_LENGTH + ulpduLength + 3) & ~3) + FPDU_CRC_LENGTH;
    }

    /**
     * Writes an FPDU around a ULPDU already copied to {@code offset + 2}: the length, zero pad, zero CRC.
     *
     * @return the FPDU's length
     */
    static int emitFpdu(MutableDirectBuffer b, int offset, int ulpduLength) {
        return emitFpdu(b, offset, ulpduLength, null);
    }

    /**
     * Writes an FPDU around a ULPDU already copied to {@code offset + 2}: the length, zero pad, and the CRC
     * field: the FPDU's CRC32c computed with {@code crc} (reset first), or zero when {@code crc} is null (CRC
     * not in use). Allocation-free.
     *
     * @return the FPDU's length
     */
    static int emitFpdu(MutableDirectBuffer b, int offset, int ulpduLength, CRC32C crc) {
        if (ulpduLength < 0 || ulpduLength > MAX_ULPDU) {
            throw new IllegalArgumentException("ULPDU length " + ulpduLength);
        }
        b.putShort(offset, (short) ulpduLength, java.nio.ByteOrder.BIG_ENDIAN);
        int total = fpduLength(ulpduLength);
        b.setMemory(offset + FPDU_HEADER_LENGTH + ulpduLength, total - FPDU_HEADER_LENGTH - ulpduLength, (byte) 0);
        if (crc != null) {
            crc.reset();
            update(crc, b, offset, total - FPDU_CRC_LENGTH, null);
            putCrc(b, offset + total - FPDU_CRC_LENGTH, (int) crc.getValue());
        }
        return total;
    }

    /**
     * Writes a CRC field: RFC 5044 §4.1 (CRC32c as in iSCSI, RFC 3720 §12.1 / §B.4), least significant byte
     * of the CRC32c value first.
     */
    static void putCrc(MutableDirectBuffer b, int index, int crcValue) {
        b.putInt(index, crcValue, java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    /** Reads a CRC field (see {@link #putCrc}). */
    static int getCrc(DirectBuffer b, int index) {
        return b.getInt(index, java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Feeds {@code length} bytes of {@code b} at {@code index} to {@code crc} without allocating: straight from
     * the backing array or direct ByteBuffer when there is one, else through {@code scratch} (any length > 0;
     * null: byte by byte).
     */
    static void update(CRC32C crc, DirectBuffer b, int index, int length, byte[] scratch) {
        if (length <= 0) {
            return;
        }
        byte[] array = b.byteArray();
        if (array != null) {
            crc.update(array, b.wrapAdjustment() + index, length);
            return;
        }
        ByteBuffer bb = b.byteBuffer();
        if (bb != null && bb.isDirect()) {
            int from = b.wrapAdjustment() + index;
            bb.limit(bb.capacity()).position(from);
            bb.limit(from + length);
            crc.update(bb); // direct: reads the native memory in place
            return;
        }
        if (scratch == null) {
            for (int i = 0; i < length; i++) {
                crc.update(b.getByte(index + i));
            }
            return;
        }
        int done = 0;
        while (done < length) {
            int k = Math.min(scratch.length, length - done);
            b.getBytes(index + done, scratch, 0, k);
            crc.update(scratch, 0, k);
            done += k;
        }
    }

    public boolean request() {
        return request;
    }

    public int flags() {
        return flags;
    }

    /** The C flag: the sender asks for CRC (either side's C flag makes both use it, RFC 5044 §7.1). */
    public boolean crc() {
        return (flags & FLAG_CRC) != 0;
    }

    public boolean rejected() {
        return (flags & FLAG_REJECT) != 0;
    }

    public int revision() {
        return revision;
    }

    public int pdLength() {
        return pdLength;
    }

    /** The IRD value (low 14 bits of the IRD word). */
    public int ird() {
        return ird;
    }

    /** The ORD value (low 14 bits of the ORD word). */
    public int ord() {
        return ord;
    }

    /** The IRD word's control bits (A, B). */
    public int irdControl() {
        return irdControl;
    }

    /** The ORD word's control bits (C, D). */
    public int ordControl() {
        return ordControl;
    }

    /** Where the consumer's private data starts in the parsed buffer. */
    public int privateDataOffset() {
        return privateDataOffset;
    }

    public int privateDataLength() {
        return pdLength - IRD_ORD_LENGTH;
    }
}
