package io.fastpath.stack.adversarial;

import java.util.HexFormat;
import java.util.Map;

/**
 * A frame the device under test sent, as the tester agent saw it on the wire: a TCP segment (with its IPv4
 * header fields and parsed options) or an ICMP message. Sequence numbers are unsigned 32-bit values in longs.
 */
record Segment(String kind, String src, String dst, int sport, int dport, long seq, long ack, String flags,
               int window, int length, byte[] data, Integer mss, Integer windowScale, boolean sackPermitted,
               String sack, Long tsVal, Long tsEcr, String fastOpenCookie, int icmpType, int icmpCode,
               boolean dontFragment, double time) {

    static Segment of(Map<String, Object> m) {
        String kind = (String) m.get("ev");
        return new Segment(kind, str(m, "src"), str(m, "dst"), num(m, "sport"), num(m, "dport"), lng(m, "seq"),
            lng(m, "ack"), m.containsKey("flags") ? (String) m.get("flags") : "", num(m, "win"), num(m, "len"),
            HexFormat.of().parseHex(m.containsKey("data") ? (String) m.get("data") : ""),
            m.containsKey("mss") ? num(m, "mss") : null, m.containsKey("ws") ? num(m, "ws") : null,
            Boolean.TRUE.equals(m.get("sackok")), str(m, "sack"),
            m.containsKey("tsval") ? lng(m, "tsval") : null, m.containsKey("tsecr") ? lng(m, "tsecr") : null,
            str(m, "tfo"), num(m, "type"), num(m, "code"), Boolean.TRUE.equals(m.get("df")),
            m.get("t") instanceof Number n ? n.doubleValue() : 0);
    }

    private static String str(Map<String, Object> m, String k) {
        Object v = m.get(k);
        return v == null ? null : v.toString();
    }

    private static int num(Map<String, Object> m, String k) {
        Object v = m.get(k);
        return v == null ? 0 : ((Number) v).intValue();
    }

    private static long lng(Map<String, Object> m, String k) {
        Object v = m.get(k);
        return v == null ? 0 : ((Number) v).longValue();
    }

    boolean isTcp() {
        return "tcp".equals(kind);
    }

    /** Exactly these flags (letters as scapy writes them: F S R P A U E C, any order). */
    boolean flagsAre(String wanted) {
        if (wanted.length() != flags.length()) {
            return false;
        }
        return has(wanted);
    }

    /** At least these flags. */
    boolean has(String wanted) {
        for (int i = 0; i < wanted.length(); i++) {
            if (flags.indexOf(wanted.charAt(i)) < 0) {
                return false;
            }
        }
        return true;
    }

    boolean isRst() {
        return has("R");
    }

    /** A pure ACK: ACK alone (PSH allowed), no data. */
    boolean isBareAck() {
        return has("A") && !has("S") && !has("F") && !has("R") && length == 0;
    }

    /** Sequence space the segment occupies (data, SYN, FIN). */
    long seqLength() {
        return length + (has("S") ? 1 : 0) + (has("F") ? 1 : 0);
    }

    @Override
    public String toString() {
        if (!isTcp()) {
            return kind + " " + src + " -> " + dst + " type " + icmpType + " code " + icmpCode;
        }
        return String.format("%s:%d > %s:%d [%s] seq %d ack %d win %d len %d%s%s%s", src, sport, dst, dport, flags,
            seq, ack, window, length, mss != null ? " mss " + mss : "", tsVal != null ? " ts " + tsVal + "/" + tsEcr : "",
            sack != null ? " sack " + sack : "");
    }
}
