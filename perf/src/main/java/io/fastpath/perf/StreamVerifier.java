package io.fastpath.perf;

import java.nio.ByteBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Checks a received stream against {@link BulkSender#patternAt}, every byte, 32 at a time against a
 * reference twice the pattern's period long (so any offset into the period has 32 bytes after it). One
 * per stream; the position is the stream offset of the next byte expected. Allocates nothing.
 *
 * <p>Thread: the receiving thread.
 */
final class StreamVerifier {
    private static final int PERIOD = 256;
    private static final UnsafeBuffer REFERENCE = new UnsafeBuffer(ByteBuffer.allocateDirect(2 * PERIOD + 8));

    static {
        for (int i = 0; i < REFERENCE.capacity(); i++) {
            REFERENCE.putByte(i, BulkSender.patternAt(i));
        }
    }

    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    private long position;

    /** Checks {@code length} bytes at native {@code address}; returns -1 if all match, else the bad stream offset. */
    long check(long address, int length) {
        view.wrap(address, length);
        return check(view, 0, length);
    }

    /** As {@link #check(long, int)} for {@code length} bytes of {@code buffer} from {@code offset}. */
    long check(UnsafeBuffer buffer, int offset, int length) {
        int i = 0;
        long pos = position;
        // 32 bytes a step, one branch on the four differences folded together (the receiver of a fast stream
        // spends most of its time here: one compare and branch per 8 bytes held fastpath's receiving thread at
        // about 40 Gbit/s, docs/perf/bulk.md); a step that differs is checked again 8 and then 1 byte at a time.
        int r = (int) (pos & (PERIOD - 1));
        while (i + 32 <= length) {
            int at = offset + i;
            long differ = (buffer.getLong(at) ^ REFERENCE.getLong(r))
                | (buffer.getLong(at + 8) ^ REFERENCE.getLong(r + 8))
                | (buffer.getLong(at + 16) ^ REFERENCE.getLong(r + 16))
                | (buffer.getLong(at + 24) ^ REFERENCE.getLong(r + 24));
            if (differ != 0) {
                break;
            }
            i += 32;
            r = (r + 32) & (PERIOD - 1);
        }
        pos += i;
        while (i + 8 <= length) {
            if (buffer.getLong(offset + i) != REFERENCE.getLong((int) (pos % PERIOD))) {
                break;
            }
            i += 8;
            pos += 8;
        }
        for (; i < length; i++, pos++) {
            if (buffer.getByte(offset + i) != BulkSender.patternAt(pos)) {
                position = pos;
                return pos;
            }
        }
        position = pos;
        return -1;
    }

    /** Bytes checked so far. */
    long position() {
        return position;
    }
}
