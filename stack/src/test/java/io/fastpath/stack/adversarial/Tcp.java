package io.fastpath.stack.adversarial;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A segment for the tester agent to craft (packetimpact's {@code testbench.TCP} layer): only the fields
 * set here are sent; a {@link TesterConnection} fills in ports, SEG.SEQ, SEG.ACK and timestamps from its state
 * for the fields left unset. Options go in the order given.
 */
final class Tcp {
    final Map<String, Object> fields = new LinkedHashMap<>();
    private final List<Object> options = new ArrayList<>();
    byte[] payload = new byte[0];

    static Tcp flags(String flags) {
        Tcp t = new Tcp();
        t.fields.put("flags", flags);
        return t;
    }

    Tcp seq(long seq) {
        fields.put("seq", seq & 0xffffffffL);
        return this;
    }

    Tcp ack(long ack) {
        fields.put("ack", ack & 0xffffffffL);
        return this;
    }

    Tcp window(int win) {
        fields.put("win", win);
        return this;
    }

    Tcp ports(int sport, int dport) {
        fields.put("sport", sport);
        fields.put("dport", dport);
        return this;
    }

    Tcp source(String ip) {
        fields.put("src", ip);
        return this;
    }

    Tcp data(byte[] bytes) {
        payload = bytes.clone();
        fields.put("data", HexFormat.of().formatHex(bytes));
        return this;
    }

    Tcp data(String text) {
        return data(text.getBytes(StandardCharsets.US_ASCII));
    }

    Tcp mss(int mss) {
        options.add(List.of("MSS", mss));
        return this;
    }

    Tcp windowScale(int shift) {
        options.add(List.of("WScale", shift));
        return this;
    }

    Tcp sackPermitted() {
        options.add(List.of("SAckOK", ""));
        return this;
    }

    Tcp timestamps(long tsVal, long tsEcr) {
        fields.put("hasTs", true);
        options.add(List.of("Timestamp", List.of(tsVal & 0xffffffffL, tsEcr & 0xffffffffL)));
        return this;
    }

    /** A Fast Open option (RFC 7413 §4.1.1): an empty cookie asks for one. */
    Tcp fastOpenCookie(byte[] cookie) {
        options.add(List.of("TFO", HexFormat.of().formatHex(cookie)));
        return this;
    }

    /** Option bytes exactly as given (legal or not); the data offset covers them unless {@link #dataOffset}. */
    Tcp rawOptions(byte[] bytes) {
        fields.put("rawopts", HexFormat.of().formatHex(bytes));
        return this;
    }

    /** The TCP data offset field, in 32-bit words, whatever the segment really holds. */
    Tcp dataOffset(int words) {
        fields.put("dataofs", words);
        return this;
    }

    /** IPv4 options (RFC 791 §3.1), exactly as given; padded to a multiple of 4 by scapy. */
    Tcp ipOptions(byte[] bytes) {
        fields.put("ipopts", HexFormat.of().formatHex(bytes));
        return this;
    }

    /** Sends the IP datagram as fragments carrying {@code bytes} of payload each (DF cleared). */
    Tcp fragments(int bytes, boolean reversed) {
        fields.put("frag", bytes);
        fields.put("df", false);
        if (reversed) {
            fields.put("fragorder", "reverse");
        }
        return this;
    }

    /** Of the fragments ({@link #fragments}), only the first {@code n} are sent: the datagram never completes. */
    Tcp firstFragmentsOnly(int n) {
        fields.put("fragkeep", n);
        return this;
    }

    /** The IPv4 identification (random if not set). */
    Tcp ipId(int id) {
        fields.put("ipid", id & 0xFFFF);
        return this;
    }

    /**
     * Instead of this segment, an ICMP "fragmentation needed" (type 3 code 4, RFC 1191 §4) from the tester about
     * the DUT's segment with these ports and sequence number: next-hop MTU {@code mtu}.
     */
    static Tcp fragmentationNeeded(String dutIp, String testerIp, int dutPort, int testerPort, long seq, int mtu) {
        Tcp t = flags("");
        t.fields.put("icmp_mtu", mtu);
        t.fields.put("src", testerIp);
        t.fields.put("dst", dutIp);
        t.fields.put("sport", testerPort);
        t.fields.put("dport", dutPort);
        t.fields.put("seq", seq & 0xffffffffL);
        return t;
    }

    Tcp badChecksum() {
        fields.put("badsum", true);
        return this;
    }

    boolean has(String field) {
        return fields.containsKey(field);
    }

    String flagString() {
        return (String) fields.get("flags");
    }

    Map<String, Object> spec() {
        Map<String, Object> m = new LinkedHashMap<>(fields);
        m.remove("hasTs");
        m.put("opts", options);
        return m;
    }

    /** Sequence space this segment occupies. */
    long seqLength() {
        String f = flagString();
        return payload.length + (f.contains("S") ? 1 : 0) + (f.contains("F") ? 1 : 0);
    }
}
