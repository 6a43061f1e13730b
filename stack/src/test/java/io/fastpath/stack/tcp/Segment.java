package io.fastpath.stack.tcp;

import io.fastpath.stack.wire.TcpSegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One TCP segment as a test writes it and reads it back (smoltcp's {@code TcpRepr}): header fields, the options
 * fastpath knows and the payload. {@link TcpEndpointRig} builds a frame from it to feed the stack, and parses
 * every frame the stack emits back into one, so that a test compares whole segments with {@code equals}.
 * Immutable; each {@code with}-style method returns a copy. Absent options: {@code mss} and {@code windowScale}
 * -1, {@code timestamps} false, {@code sack} empty, {@code fastOpenCookie} null (an empty array is a cookie
 * request).
 */
record Segment(int flags, int seq, int ack, int window, int urgent, int mss, int windowScale, boolean sackPermitted,
               int[] sack, boolean timestamps, int tsVal, int tsEcr, byte[] fastOpenCookie, byte[] payload) {
    private static final int[] NO_SACK = new int[0];
    private static final byte[] NO_DATA = new byte[0];

    /** A segment with {@code flags} and nothing else. */
    static Segment of(int flags) {
        return new Segment(flags, 0, 0, 0, 0, -1, -1, false, NO_SACK, false, 0, 0, null, NO_DATA);
    }

    Segment flags(int value) {
        return new Segment(value, seq, ack, window, urgent, mss, windowScale, sackPermitted, sack, timestamps, tsVal,
            tsEcr, fastOpenCookie, payload);
    }

    /** These flags added. */
    Segment plus(int value) {
        return flags(flags | value);
    }

    /** These flags removed. */
    Segment minus(int value) {
        return flags(flags & ~value);
    }

    Segment seq(int value) {
        return new Segment(flags, value, ack, window, urgent, mss, windowScale, sackPermitted, sack, timestamps, tsVal,
            tsEcr, fastOpenCookie, payload);
    }

    Segment ack(int value) {
        return new Segment(flags, seq, value, window, urgent, mss, windowScale, sackPermitted, sack, timestamps, tsVal,
            tsEcr, fastOpenCookie, payload);
    }

    Segment window(int value) {
        return new Segment(flags, seq, ack, value, urgent, mss, windowScale, sackPermitted, sack, timestamps, tsVal,
            tsEcr, fastOpenCookie, payload);
    }

    Segment urgent(int value) {
        return new Segment(flags, seq, ack, window, value, mss, windowScale, sackPermitted, sack, timestamps, tsVal,
            tsEcr, fastOpenCookie, payload);
    }

    Segment mss(int value) {
        return new Segment(flags, seq, ack, window, urgent, value, windowScale, sackPermitted, sack, timestamps, tsVal,
            tsEcr, fastOpenCookie, payload);
    }

    Segment windowScale(int value) {
        return new Segment(flags, seq, ack, window, urgent, mss, value, sackPermitted, sack, timestamps, tsVal, tsEcr,
            fastOpenCookie, payload);
    }

    Segment sackPermitted(boolean value) {
        return new Segment(flags, seq, ack, window, urgent, mss, windowScale, value, sack, timestamps, tsVal, tsEcr,
            fastOpenCookie, payload);
    }

    /** SACK blocks as absolute [left, right) pairs, first block first. */
    Segment sack(int... edges) {
        if ((edges.length & 1) != 0) {
            throw new IllegalArgumentException("SACK edges come in pairs");
        }
        return new Segment(flags, seq, ack, window, urgent, mss, windowScale, sackPermitted, edges.clone(), timestamps,
            tsVal, tsEcr, fastOpenCookie, payload);
    }

    Segment timestamps(int value, int echo) {
        return new Segment(flags, seq, ack, window, urgent, mss, windowScale, sackPermitted, sack, true, value, echo,
            fastOpenCookie, payload);
    }

    Segment noTimestamps() {
        return new Segment(flags, seq, ack, window, urgent, mss, windowScale, sackPermitted, sack, false, 0, 0,
            fastOpenCookie, payload);
    }

    /** A Fast Open option: a request ({@code cookie} empty) or a cookie; null for none. */
    Segment fastOpen(byte[] cookie) {
        return new Segment(flags, seq, ack, window, urgent, mss, windowScale, sackPermitted, sack, timestamps, tsVal,
            tsEcr, cookie == null ? null : cookie.clone(), payload);
    }

    Segment payload(byte[] value) {
        return new Segment(flags, seq, ack, window, urgent, mss, windowScale, sackPermitted, sack, timestamps, tsVal,
            tsEcr, fastOpenCookie, value.clone());
    }

    Segment payload(String text) {
        return payload(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    /** The options of a SYN stripped (MSS, window scale, SACK-permitted, timestamps, Fast Open). */
    Segment noSynOptions() {
        return new Segment(flags, seq, ack, window, urgent, -1, -1, false, sack, false, 0, 0, null, payload);
    }

    boolean has(int mask) {
        return (flags & mask) == mask;
    }

    /** SEG.LEN (RFC 9293 §3.4): payload plus one for SYN and one for FIN. */
    int length() {
        return payload.length + (has(TcpSegment.SYN) ? 1 : 0) + (has(TcpSegment.FIN) ? 1 : 0);
    }

    /** Octets of TCP options this segment needs, padded to four. */
    int optionsLength() {
        int n = 0;
        n += mss >= 0 ? 4 : 0;
        n += windowScale >= 0 ? 4 : 0;
        n += sackPermitted ? 4 : 0;
        n += timestamps ? 12 : 0;
        n += sack.length > 0 ? 4 + 4 * sack.length : 0;
        n += fastOpenCookie != null ? 2 + fastOpenCookie.length : 0;
        return (n + 3) & ~3;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Segment s && flags == s.flags && seq == s.seq && ack == s.ack && window == s.window
            && urgent == s.urgent && mss == s.mss && windowScale == s.windowScale && sackPermitted == s.sackPermitted
            && Arrays.equals(sack, s.sack) && timestamps == s.timestamps && tsVal == s.tsVal && tsEcr == s.tsEcr
            && Arrays.equals(fastOpenCookie, s.fastOpenCookie) && Arrays.equals(payload, s.payload);
    }

    @Override
    public int hashCode() {
        return Integer.hashCode(seq) * 31 + Integer.hashCode(ack) * 7 + flags;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("[");
        String[] names = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
        String sep = "";
        for (int bit = 0; bit < names.length; bit++) {
            if ((flags & (1 << bit)) != 0) {
                b.append(sep).append(names[bit]);
                sep = "|";
            }
        }
        b.append(" seq=").append(Integer.toUnsignedString(seq)).append(" ack=").append(Integer.toUnsignedString(ack))
            .append(" win=").append(window);
        if (urgent != 0) {
            b.append(" urg=").append(urgent);
        }
        if (mss >= 0) {
            b.append(" mss=").append(mss);
        }
        if (windowScale >= 0) {
            b.append(" ws=").append(windowScale);
        }
        if (sackPermitted) {
            b.append(" sackOK");
        }
        if (timestamps) {
            b.append(" ts=").append(Integer.toUnsignedString(tsVal)).append('/')
                .append(Integer.toUnsignedString(tsEcr));
        }
        for (int i = 0; i < sack.length; i += 2) {
            b.append(" sack=").append(Integer.toUnsignedString(sack[i])).append('-')
                .append(Integer.toUnsignedString(sack[i + 1]));
        }
        if (fastOpenCookie != null) {
            b.append(" tfo=").append(fastOpenCookie.length).append('B');
        }
        if (payload.length > 0) {
            b.append(" len=").append(payload.length);
            if (payload.length <= 16) {
                b.append(" \"").append(new String(payload, StandardCharsets.ISO_8859_1)).append('"');
            }
        }
        return b.append(']').toString();
    }
}
